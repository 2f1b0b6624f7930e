/* LongBench and QMSum (evaluation.md): prompts, generation and scoring, one run file per method. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "metrics.h"

#define MAX_METHODS 16

/* Tasks the official harness feeds raw (few-shot or completion) instead of in the chat template. */
static int raw_task(const char *t) {
    return !strcmp(t, "trec") || !strcmp(t, "triviaqa") || !strcmp(t, "samsum") || !strcmp(t, "lcc") || !strcmp(t, "repobench-p");
}

static int in_list(const char *list, const char *name) {
    if (!list) return 1;
    const size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

/* One loaded sample: the prompt, its answers, and (trec) the class names. */
typedef struct {
    char key[160], group[96];
    const char *prompt;
    const json *answers, *classes;
    int max_new, chat, newline_stop;
} sample;

/* Runs every method over the samples; scores with score_fn. */
typedef double (*score_fn)(const sample *s, const char *pred, char *extra, size_t extra_cap);

static int run_samples(const eval_opts *o, const char *bench, sample *ss, int n, score_fn score) {
    eval_method methods[MAX_METHODS];
    int nm = eval_parse_methods(o->methods, methods, MAX_METHODS);
    if (nm < 0) return 1;
    ei_model *m = ei_model_load(o->model_path);
    if (!m) { eval_err("%s", ei_last_error()); return 1; }
    int rc = 0;
    for (int k = 0; k < nm && !rc; k++) {
        eval_run r;
        if (eval_run_open(&r, o, bench, &methods[k], m, n)) { eval_run_close(&r); rc = 1; break; }
        const int64_t n_ctx = ei_model_get_info(m)->n_ctx_train;
        for (int i = 0; i < n && !rc; i++) {
            if (eval_run_has(&r, ss[i].key)) continue;
            eval_progress(&r, ss[i].key);
            const double t0 = ei_time_s();
            int64_t nt, cut;
            /* FullKV keeps the middle-truncated prompt within the trained context, leaving room to answer */
            int32_t *toks = eval_tokens(&r, ss[i].prompt, ss[i].chat, methods[k].full ? n_ctx - ss[i].max_new : 0, &nt, &cut);
            if (!toks) { rc = 1; break; }
            int gen = 0;
            char *pred = eval_generate(&r, toks, nt, ss[i].max_new, ss[i].newline_stop, &gen);
            free(toks);
            if (!pred) { rc = 1; break; }
            char extra[256] = "";
            const double sc = score(&ss[i], pred, extra, sizeof extra);
            json_out f = {0};
            jo_raw(&f, "\"prompt_tokens\": "), jo_int(&f, nt), jo_raw(&f, ", \"truncated\": "), jo_int(&f, cut);
            jo_raw(&f, ", \"generated_tokens\": "), jo_int(&f, gen), jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0);
            if (*extra) jo_raw(&f, ", "), jo_raw(&f, extra);
            jo_raw(&f, ", \"prediction\": "), jo_str(&f, pred), jo_raw(&f, ", \"answers\": [");
            for (size_t a = 0; ss[i].answers && a < ss[i].answers->len; a++) {
                if (a) jo_raw(&f, ", ");
                jo_str(&f, json_str(&ss[i].answers->items[a]) ? json_str(&ss[i].answers->items[a]) : "");
            }
            jo_raw(&f, "]");
            free(pred);
            if (f.failed || eval_run_add(&r, ss[i].key, ss[i].group, NULL, sc, f.buf)) rc = 1;
            free(f.buf);
        }
        if (!rc) fprintf(stderr, "%s[%s %s] %d/%d done, wrote %s\n", r.tty ? "\r\033[K" : "", bench, r.method.name,
                         r.n_samples, n, r.path);
        eval_run_close(&r);
    }
    ei_model_free(m);
    return rc;
}

/* ------------------------------------------------------------ LongBench */

static double longbench_score(const sample *s, const char *pred, char *extra, size_t extra_cap) {
    (void)extra, (void)extra_cap;
    const char *cls[256];
    int nc = 0;
    for (size_t k = 0; s->classes && k < s->classes->len && nc < 256; k++)
        if (json_str(&s->classes->items[k])) cls[nc++] = json_str(&s->classes->items[k]);
    double best = 0;
    for (size_t a = 0; a < s->answers->len; a++) {
        const char *g = json_str(&s->answers->items[a]);
        double v = g ? metric_score_task(s->group, pred, g, cls, nc) : 0;
        best = v > best ? v : best;
    }
    return best;
}

int eval_longbench(int argc, char **argv) {
    eval_opts o;
    if (eval_parse_opts(argc, argv, &o, "qa")) return 2;
    const char *data = o.data ? o.data : "../shared/data/longbench/longbench_mini_en.jsonl";
    char maxlen_path[4096], err[400];
    const char *slash = strrchr(data, '/');
    snprintf(maxlen_path, sizeof maxlen_path, "%.*sdataset2maxlen.json", slash ? (int)(slash - data + 1) : 0, data);
    json *maxlen = json_parse_file(maxlen_path, err, sizeof err);
    if (!maxlen) { eval_err("%s", err); return 2; }
    FILE *f = fopen(data, "r");
    if (!f) { eval_err("%s: cannot open", data); json_free(maxlen); return 2; }
    json **rows = NULL;
    sample *ss = NULL;
    int n = 0, cap = 0, rc = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while (!rc && (len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        if (len <= 1) continue;
        json *v = json_parse(line, (size_t)len, err, sizeof err);
        const char *task = v ? json_str(json_get(v, "task")) : NULL, *prompt = v ? json_str(json_get(v, "prompt")) : NULL;
        const json *ans = v ? json_get(v, "answers") : NULL, *id = v ? json_get(v, "id") : NULL;
        if (!v) { eval_err("%s:%d: %s", data, lineno, err); rc = 2; break; }
        if (!task || !prompt || !ans || ans->type != JSON_ARRAY || !id) {
            eval_err("%s:%d: expected fields task, id, prompt (strings) and answers (array)", data, lineno);
            json_free(v), rc = 2;
            break;
        }
        const int ml = (int)json_num(json_get(maxlen, task), -1);
        if (!metric_for_task(task) || ml <= 0) {
            eval_err("%s:%d: unknown task '%s' (no metric or no entry in %s)", data, lineno, task, maxlen_path);
            json_free(v), rc = 2;
            break;
        }
        int seen = 0;
        for (int i = 0; i < n; i++) seen += !strcmp(ss[i].group, task);
        if (!in_list(o.tasks, task) || (o.limit && seen >= o.limit)) { json_free(v); continue; }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            json **r2 = realloc(rows, (size_t)cap * sizeof *r2);
            sample *s2 = r2 ? realloc(ss, (size_t)cap * sizeof *s2) : NULL;
            if (r2) rows = r2;
            if (!s2) { eval_err("out of memory"); json_free(v), rc = 2; break; }
            ss = s2;
        }
        rows[n] = v;
        sample *s = &ss[n++];
        memset(s, 0, sizeof *s);
        snprintf(s->group, sizeof s->group, "%s", task);
        if (id->type == JSON_NUMBER) snprintf(s->key, sizeof s->key, "%s/%.0f", task, id->num);
        else snprintf(s->key, sizeof s->key, "%s/%s", task, json_str(id) ? json_str(id) : "?");
        s->prompt = prompt, s->answers = ans, s->classes = json_get(v, "all_classes");
        s->max_new = ml, s->chat = !raw_task(task);
        s->newline_stop = !strcmp(task, "samsum"); /* the official harness also stops samsum at "\n" */
    }
    free(line);
    fclose(f);
    if (!rc && o.tasks) {
        for (const char *p = o.tasks; *p;) {
            size_t l = strcspn(p, ",");
            char t[96];
            snprintf(t, sizeof t, "%.*s", (int)(l < 95 ? l : 95), p);
            if (!metric_for_task(t)) { eval_err("--tasks: unknown task '%s'", t); rc = 2; }
            p += l;
            if (*p) p++;
        }
    }
    if (!rc && n == 0) { eval_err("%s: no samples selected", data); rc = 2; }
    if (!rc) rc = run_samples(&o, "longbench", ss, n, longbench_score);
    for (int i = 0; i < n; i++) json_free(rows[i]);
    free(rows), free(ss);
    json_free(maxlen);
    return rc;
}

/* ------------------------------------------------------------ QMSum */

static double qmsum_score(const sample *s, const char *pred, char *extra, size_t extra_cap) {
    const char *gold = json_str(&s->answers->items[0]);
    const double r1 = metric_rouge_n(pred, gold, 1), r2 = metric_rouge_n(pred, gold, 2), rl = metric_rouge_l(pred, gold);
    /* NaN (out of memory) must not reach the JSON as a bare token */
    snprintf(extra, extra_cap, "\"rouge1\": %.6f, \"rouge2\": %.6f, \"rougeL\": %.6f", isfinite(r1) ? r1 : 0.0,
             isfinite(r2) ? r2 : 0.0, isfinite(rl) ? rl : 0.0);
    return rl;
}

int eval_qmsum(int argc, char **argv) {
    eval_opts o;
    if (eval_parse_opts(argc, argv, &o, "summarize")) return 2;
    const char *dir = o.data ? o.data : "../shared/data/qmsum/val";
    char path[4096], err[400];
    json *meetings[256];
    sample *ss = NULL;
    char **prompts = NULL;
    int nmeet = 0, n = 0, cap = 0, rc = 0;
    /* meetings in name order, so sample keys and --limit are stable */
    struct dirent **names = NULL;
    const int nn = scandir(dir, &names, NULL, alphasort);
    if (nn < 0) { eval_err("%s: cannot list the directory", dir); return 2; }
    for (int di = 0; di < nn && !rc && nmeet < 256; di++) {
        const char *name = names[di]->d_name;
        size_t nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 5, ".json")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        json *v = json_parse_file(path, err, sizeof err);
        if (!v) { eval_err("%s", err); rc = 2; break; }
        meetings[nmeet++] = v;
        const json *tr = json_get(v, "meeting_transcripts");
        if (!tr || tr->type != JSON_ARRAY) { eval_err("%s: expected meeting_transcripts (array)", path); rc = 2; break; }
        json_out t = {0};
        jo_raw(&t, "Read the meeting transcript below, then answer the query about it.\n\nTranscript:\n");
        for (size_t k = 0; k < tr->len; k++) {
            const char *sp = json_str(json_get(&tr->items[k], "speaker")), *ct = json_str(json_get(&tr->items[k], "content"));
            if (sp && ct) jo_raw(&t, sp), jo_raw(&t, ": "), jo_raw(&t, ct), jo_raw(&t, "\n");
        }
        static const char *const lists[2] = {"general_query_list", "specific_query_list"};
        for (int li = 0; li < 2 && !rc; li++) {
            const json *q = json_get(v, lists[li]);
            for (size_t k = 0; q && q->type == JSON_ARRAY && k < q->len; k++) {
                const char *query = json_str(json_get(&q->items[k], "query"));
                const json *ans = json_get(&q->items[k], "answer");
                if (!query || !json_str(ans)) continue;
                if (o.limit && n >= o.limit) break;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    sample *s2 = realloc(ss, (size_t)cap * sizeof *s2);
                    char **p2 = s2 ? realloc(prompts, (size_t)cap * sizeof *p2) : NULL;
                    if (s2) ss = s2;
                    if (!p2) { rc = 2; eval_err("out of memory"); break; }
                    prompts = p2;
                }
                json_out pr = {0};
                jo_raw(&pr, t.buf), jo_raw(&pr, "\nQuery: "), jo_raw(&pr, query), jo_raw(&pr, "\nAnswer:");
                if (pr.failed) { rc = 2; eval_err("out of memory"); break; }
                prompts[n] = pr.buf;
                sample *s = &ss[n++];
                memset(s, 0, sizeof *s);
                snprintf(s->key, sizeof s->key, "%.*s/%c%zu", (int)(nl - 5), name, li ? 's' : 'g', k);
                snprintf(s->group, sizeof s->group, "%s", li ? "specific" : "general");
                s->prompt = prompts[n - 1];
                /* answers: a one-element array view of the answer string */
                s->answers = ans; /* fixed below: scored against the string itself */
                s->max_new = 256, s->chat = 1;
            }
        }
        free(t.buf);
    }
    for (int di = 0; di < nn; di++) free(names[di]);
    free(names);
    /* an answer is a string here: wrap it as an array of one for the shared code */
    json *wrapped = n ? calloc((size_t)n, sizeof *wrapped) : NULL;
    for (int i = 0; i < n && wrapped; i++) {
        wrapped[i].type = JSON_ARRAY, wrapped[i].len = 1, wrapped[i].items = (json *)ss[i].answers;
        ss[i].answers = &wrapped[i];
    }
    if (!rc && n && !wrapped) { eval_err("out of memory"); rc = 2; }
    if (!rc && n == 0) { eval_err("%s: no queries found", dir); rc = 2; }
    if (!rc) rc = run_samples(&o, "qmsum", ss, n, qmsum_score);
    for (int i = 0; i < n; i++) free(prompts[i]);
    for (int i = 0; i < nmeet; i++) json_free(meetings[i]);
    free(wrapped), free(prompts), free(ss);
    return rc;
}

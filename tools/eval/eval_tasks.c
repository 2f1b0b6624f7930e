/* `edgeinf eval longbench` and `edgeinf eval qmsum` (evaluation.md); one run file per method.
 *
 * LongBench: the prompts of longbench_mini_en.jsonl, generated greedily as LongBench's pred.py
 * does and scored by metrics.c. As pred.py: the chat template wraps every task but trec, triviaqa,
 * samsum, lcc and repobench-p; at least one token is generated (min_length = prompt + 1); samsum
 * also stops at the newline token (eos_token_id = [eos, encode("\n")[-1]]); FullKV prompts longer
 * than the trained context minus the task's answer length are cut in the middle. Unlike pred.py,
 * which cuts the tokens, decodes the two halves and tokenizes again before adding the template,
 * the cut here is on the raw prompt's token ids and the template's tokens are kept whole (no
 * re-tokenization at the seam). A model without a chat template gets every prompt raw and the run
 * file says "chat_template": false.
 *
 * QMSum: the transcript as "speaker: content" lines and the query, in this project's own
 * instruction wording, in the chat template; greedy answers scored with ROUGE-1/2/L F. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "metrics.h"
#include "sha256.h"

enum { MAX_CLASSES = 512 }; /* all_classes entries of one LongBench sample (trec has 50) */

/* ------------------------------------------------------------ LongBench */

typedef struct {
    json *row; /* the parsed line: owns everything below */
    const char *task, *prompt;
    const json *id, *answers, *classes;
    char key[160];
    int max_new;
    long line; /* in the JSONL, for messages */
} lb_sample;

/* Tasks the official harness gives raw (few-shot or completion) instead of in the chat template. */
static int raw_task(const char *t) {
    return !strcmp(t, "trec") || !strcmp(t, "triviaqa") || !strcmp(t, "samsum") || !strcmp(t, "lcc") || !strcmp(t, "repobench-p");
}

/* scores: {"tasks": {"<task>": {"n", "score": 100 x mean}}, "average": mean of the task scores} */
static void lb_summary(json_out *o, json *const *samples, int n) {
    jo_raw(o, "{\"tasks\": {");
    double sum_tasks = 0;
    int n_tasks = 0;
    for (int i = 0; i < n; i++) {
        const char *t = json_str(json_get(samples[i], "task"));
        int seen = !t;
        for (int j = 0; j < i && !seen; j++) seen = json_str(json_get(samples[j], "task")) && !strcmp(t, json_str(json_get(samples[j], "task")));
        if (seen) continue;
        double sum = 0;
        int k = 0;
        for (int j = i; j < n; j++) {
            const char *tj = json_str(json_get(samples[j], "task"));
            if (tj && !strcmp(t, tj)) sum += json_num(json_get(samples[j], "score"), 0), k++;
        }
        if (n_tasks++) jo_raw(o, ", ");
        jo_str(o, t), jo_raw(o, ": {\"n\": "), jo_int(o, k), jo_raw(o, ", \"score\": "), jo_num(o, 100 * sum / k), jo_raw(o, "}");
        sum_tasks += 100 * sum / k;
    }
    jo_raw(o, "}, \"average\": ");
    if (n_tasks) jo_num(o, sum_tasks / n_tasks);
    else jo_raw(o, "null");
    jo_raw(o, "}");
}

/* dataset2maxlen.json: every entry a whole number of tokens in [1, 65536]. */
static int check_maxlen(const json *maxlen, const char *path) {
    for (size_t i = 0; i < json_len(maxlen); i++) {
        const double x = json_num(json_at(maxlen, i), NAN);
        if (!(x >= 1 && x <= 65536 && x == floor(x))) {
            eval_err("%s: '%s' = %.17g: expected a whole number of tokens in [1, 65536]", path, json_key_at(maxlen, i), x);
            return -1;
        }
    }
    return 0;
}

static int by_sample_key(const void *a, const void *b) {
    return strcmp((*(const lb_sample *const *)a)->key, (*(const lb_sample *const *)b)->key);
}

/* Reads the JSONL: every line is checked; the lines of the selected tasks (up to --limit each) are kept. */
static int load(const eval_opts *o, const char *data, const json *maxlen, lb_sample **out, int *n_out) {
    FILE *f = fopen(data, "r");
    if (!f) { eval_err("%s: cannot open", data); return -1; }
    lb_sample *ss = NULL;
    int n = 0, cap = 0, rc = 0, n_tasks = 0, task_kept[64];
    char task_names[64][48];
    long lineno = 0;
    char *line = NULL, err[300];
    size_t lcap = 0;
    ssize_t len;
    while (!rc && (len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--; /* positions within the line */
        if (strspn(line, " \t") >= (size_t)len) continue;
        json *v = json_parse(line, (size_t)len, err, sizeof err);
        if (!v) { eval_err("%s:%ld: %s", data, lineno, err); rc = -1; break; }
        lb_sample s = {.row = v};
        s.task = json_text(json_get(v, "task")), s.prompt = json_text(json_get(v, "prompt"));
        s.id = json_get(v, "id"), s.answers = json_get(v, "answers"), s.classes = json_get(v, "all_classes");
        const char *missing = !s.task ? "task (a string without NUL)" : !s.prompt ? "prompt (a string without NUL)"
                            : json_kind(s.id) != JSON_NUMBER && json_kind(s.id) != JSON_STRING ? "id (a number or string)"
                            : json_kind(s.answers) != JSON_ARRAY || !json_len(s.answers) ? "answers (a non-empty array)"
                            : NULL;
        for (size_t k = 0; !missing && k < json_len(s.answers); k++)
            if (!json_text(json_at(s.answers, k))) missing = "answers (strings without NUL)";
        if (!missing && s.classes && (json_kind(s.classes) != JSON_ARRAY || json_len(s.classes) > MAX_CLASSES))
            missing = "all_classes (an array of at most 512 strings)";
        for (size_t k = 0; !missing && k < json_len(s.classes); k++)
            if (!json_text(json_at(s.classes, k))) missing = "all_classes (strings without NUL)";
        if (!missing && json_kind(s.id) == JSON_STRING && !json_text(s.id)) missing = "id (a string without NUL)";
        if (missing) { eval_err("%s:%ld: missing or bad field %s", data, lineno, missing); json_free(v); rc = -1; break; }
        s.max_new = (int)json_num(json_get(maxlen, s.task), -1); /* every entry checked: a whole number in [1, 65536] */
        if (!metric_for_task(s.task) || s.max_new <= 0) {
            eval_err("%s:%ld: unknown task '%s' (no LongBench metric or no dataset2maxlen entry)", data, lineno, s.task);
            json_free(v), rc = -1;
            break;
        }
        if (json_kind(s.id) == JSON_NUMBER) snprintf(s.key, sizeof s.key, "%s/%.17g", s.task, json_num(s.id, 0));
        else if (snprintf(s.key, sizeof s.key, "%s/%s", s.task, json_str(s.id)) >= (int)sizeof s.key) {
            eval_err("%s:%ld: id too long", data, lineno), json_free(v), rc = -1;
            break;
        }
        /* samples kept per task: a few dozen task names at most (each has a metric) */
        int t = 0;
        while (t < n_tasks && strcmp(task_names[t], s.task)) t++;
        if (t == n_tasks) { /* a known task (it has a metric), so its name is short */
            if (n_tasks == 64 || strlen(s.task) >= sizeof task_names[0]) { eval_err("%s: too many tasks", data), json_free(v), rc = -1; break; }
            memcpy(task_names[n_tasks], s.task, strlen(s.task) + 1), task_kept[n_tasks++] = 0;
        }
        if (!eval_in_list(o->tasks, s.task) || (o->limit && task_kept[t] >= o->limit)) { json_free(v); continue; }
        s.line = lineno;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            lb_sample *p = realloc(ss, (size_t)cap * sizeof *p);
            if (!p) { eval_err("out of memory"); json_free(v); rc = -1; break; }
            ss = p;
        }
        ss[n++] = s;
        task_kept[t]++;
    }
    if (!rc && ferror(f)) eval_err("%s: read error", data), rc = -1;
    free(line);
    fclose(f);
    if (!rc && n == 0) eval_err("%s: no samples selected (--tasks %s)", data, o->tasks ? o->tasks : "all"), rc = -1;
    /* a key twice (sorted: a large file is checked in O(n log n)) */
    const lb_sample **by_key = rc ? NULL : malloc((size_t)n * sizeof *by_key);
    if (!rc && !by_key) eval_err("out of memory"), rc = -1;
    for (int i = 0; !rc && i < n; i++) by_key[i] = &ss[i];
    if (!rc) qsort(by_key, (size_t)n, sizeof *by_key, by_sample_key);
    for (int i = 1; !rc && i < n; i++)
        if (!strcmp(by_key[i - 1]->key, by_key[i]->key)) {
            const long a = by_key[i - 1]->line, b = by_key[i]->line;
            eval_err("%s:%ld: sample %s appears twice (also line %ld)", data, a > b ? a : b, by_key[i]->key, a > b ? b : a);
            rc = -1;
        }
    free(by_key);
    *out = ss, *n_out = n;
    return rc;
}

/* The sample's score: the best over its gold answers. NaN only when memory ran out. */
static double score(const lb_sample *s, const char *pred) {
    const char *cls[MAX_CLASSES]; /* checked at load: at most MAX_CLASSES strings */
    int nc = 0;
    for (size_t k = 0; k < json_len(s->classes) && nc < MAX_CLASSES; k++) cls[nc++] = json_str(json_at(s->classes, k));
    double best = 0;
    for (size_t a = 0; a < json_len(s->answers); a++) {
        const double v = metric_score_task(s->task, pred, json_str(json_at(s->answers, a)), cls, nc);
        if (isnan(v)) return v;
        best = v > best ? v : best;
    }
    return best;
}

/* --count-only: the prompt tokens each task would feed this method (after the chat template and,
 * for FullKV, the middle truncation) and the generation caps, to size a run before starting it. */
static int lb_count_method(const eval_opts *o, const eval_method *e, const ei_model *m, const lb_sample *ss, int n) {
    eval_run r;
    if (eval_run_prepare(&r, o, e, m)) { eval_run_close(&r); return -1; }
    printf("longbench prompt tokens, method %s, profile %s%s:\n", e->name, r.profile.name, e->full ? " (middle-truncated to the trained context)" : "");
    printf("  %-22s %7s %12s %12s %12s\n", "task", "samples", "prompt", "truncated", "max new");
    int64_t tot[4] = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc;) {
        int64_t sum[4] = {0};
        const char *task = ss[i].task;
        for (; i < n && !strcmp(ss[i].task, task); i++) {
            int64_t nt = 0, cut = 0;
            int32_t *toks = eval_tokens(&r, ss[i].prompt, !raw_task(task), e->full ? eval_full_budget(&r, ss[i].max_new) : 0, &nt, &cut);
            if (!toks) { rc = -1; break; }
            free(toks);
            sum[0]++, sum[1] += nt, sum[2] += cut, sum[3] += ss[i].max_new;
        }
        printf("  %-22s %7lld %12lld %12lld %12lld\n", task, (long long)sum[0], (long long)sum[1], (long long)sum[2], (long long)sum[3]);
        for (int k = 0; k < 4; k++) tot[k] += sum[k];
    }
    if (!rc) printf("  %-22s %7lld %12lld %12lld %12lld\n", "total", (long long)tot[0], (long long)tot[1], (long long)tot[2], (long long)tot[3]);
    eval_run_close(&r);
    return rc;
}

/* FullKV generates inside its trained context: a generation as long as that context leaves no prompt. */
static int check_full_room(const eval_method *e, const ei_model *m, int max_new, const char *what) {
    const int n_ctx = ei_model_get_info(m)->n_ctx_train;
    if (!e->full || max_new < n_ctx) return 0;
    eval_err("%s: %d new tokens do not leave room for a prompt in full attention's trained context of %d tokens", what, max_new, n_ctx);
    return -1;
}

static int lb_run_method(const eval_opts *o, const eval_method *e, const ei_model *m, lb_sample *ss, int n, const char *options) {
    static const char *const ident[] = {"data_sha256", "maxlen_sha256", NULL};
    for (int i = 0; i < n; i++)
        if (check_full_room(e, m, ss[i].max_new, ss[i].task)) return -1;
    eval_run r;
    int rc = eval_run_open(&r, o, e, m, options, ident, lb_summary);
    for (int i = 0; !rc && i < n; i++) eval_run_expect(&r, ss[i].key);
    int32_t nl = -1, nl_toks[8];
    const int64_t k = ei_tokenize(m, "\n", 1, 0, 0, nl_toks, 8); /* pred.py: tokenizer.encode("\n")[-1] */
    if (k > 0 && k <= 8) nl = nl_toks[k - 1];
    for (int i = 0; !rc && i < n; i++) {
        const lb_sample *s = &ss[i];
        if (eval_run_has(&r, s->key)) continue;
        eval_progress(&r, s->key);
        const double t0 = ei_time_s();
        int64_t nt = 0, cut = 0;
        int32_t *toks = eval_tokens(&r, s->prompt, !raw_task(s->task), e->full ? eval_full_budget(&r, s->max_new) : 0, &nt, &cut);
        int gen = 0;
        char *pred = toks ? eval_generate(&r, toks, nt, s->max_new, !strcmp(s->task, "samsum") ? nl : -1, &gen) : NULL;
        free(toks);
        if (!pred) { rc = -1; break; }
        const double sc = score(s, pred);
        if (isnan(sc)) { eval_err("%s: scoring ran out of memory", s->key); free(pred); rc = -1; break; }
        json_out f = {0};
        jo_raw(&f, "{\"key\": "), jo_str(&f, s->key), jo_raw(&f, ", \"task\": "), jo_str(&f, s->task);
        jo_raw(&f, ", \"id\": "), jo_value(&f, s->id);
        jo_raw(&f, ", \"prompt_tokens\": "), jo_int(&f, nt), jo_raw(&f, ", \"truncated\": "), jo_int(&f, cut);
        jo_raw(&f, ", \"chat\": "), jo_raw(&f, !raw_task(s->task) && r.chat_template ? "true" : "false");
        jo_raw(&f, ", \"generated_tokens\": "), jo_int(&f, gen), jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0);
        jo_raw(&f, ",\n   \"prediction\": "), jo_str(&f, pred), jo_raw(&f, ", \"answers\": "), jo_value(&f, s->answers);
        if (s->classes) jo_raw(&f, ", \"all_classes\": "), jo_value(&f, s->classes);
        jo_raw(&f, ", \"score\": "), jo_num(&f, sc), jo_raw(&f, "}");
        free(pred);
        rc = eval_run_add_out(&r, &f);
    }
    return eval_run_end(&r, rc);
}

int eval_longbench(int argc, char **argv) {
    static const char *const flags[] = {"--data", "--maxlen", "--tasks", "--limit", "--count-only", NULL};
    eval_opts o;
    eval_method methods[EVAL_MAX_METHODS];
    int nm, rc = 2;
    if (eval_parse_opts(argc, argv, &o, "qa", flags) || (nm = eval_parse_methods(o.methods, methods, EVAL_MAX_METHODS)) < 0) {
        eval_opts_free(&o);
        return 2;
    }
    for (const char *p = o.tasks; p && *p;) { /* names checked before any work */
        const size_t l = strcspn(p, ",");
        char t[64];
        snprintf(t, sizeof t, "%.*s", (int)(l < 63 ? l : 63), p);
        if (!metric_for_task(t)) { eval_err("--tasks: unknown task '%s'", t); eval_opts_free(&o); return 2; }
        p += l + (p[l] == ',');
    }
    const char *data = o.data ? o.data : EVAL_DATA_ROOT "/longbench/longbench_mini_en.jsonl";
    char maxlen_path[4096], err[600], data_sha[65], maxlen_sha[65];
    const char *slash = strrchr(data, '/');
    /* dataset2maxlen.json: given, or next to the data */
    if (snprintf(maxlen_path, sizeof maxlen_path, "%s", o.maxlen ? o.maxlen : "") >= (int)sizeof maxlen_path) {
        eval_err("--maxlen: path too long");
        eval_opts_free(&o);
        return 2;
    }
    if (!o.maxlen && snprintf(maxlen_path, sizeof maxlen_path, "%.*sdataset2maxlen.json", slash ? (int)(slash - data + 1) : 0, data) >= (int)sizeof maxlen_path) {
        eval_err("--data: path too long");
        eval_opts_free(&o);
        return 2;
    }
    json *maxlen = json_parse_file(maxlen_path, err, sizeof err);
    lb_sample *ss = NULL;
    int n = 0;
    ei_model *m = NULL;
    if (!maxlen) eval_err("%s", err);
    else if (json_kind(maxlen) != JSON_OBJECT) eval_err("%s: expected an object of task: max new tokens", maxlen_path);
    else if (check_maxlen(maxlen, maxlen_path)) {
    } else if (load(&o, data, maxlen, &ss, &n)) {
    } else if (sha256_file(data, data_sha) || sha256_file(maxlen_path, maxlen_sha)) eval_err("%s: cannot read it to hash it", data);
    else if ((m = eval_load_model(o.model_path)) && o.count_only) {
        rc = 0;
        for (int k = 0; k < nm && !rc; k++) rc = lb_count_method(&o, &methods[k], m, ss, n) ? 1 : 0;
    } else if (m) {
        json_out opt = {0};
        jo_raw(&opt, "{\"data\": "), jo_str(&opt, data), jo_raw(&opt, ", \"data_sha256\": "), jo_str(&opt, data_sha);
        jo_raw(&opt, ", \"maxlen\": "), jo_str(&opt, maxlen_path), jo_raw(&opt, ", \"maxlen_sha256\": "), jo_str(&opt, maxlen_sha);
        jo_raw(&opt, ", \"tasks\": ");
        if (o.tasks) jo_str(&opt, o.tasks);
        else jo_raw(&opt, "null");
        jo_raw(&opt, ", \"limit\": ");
        if (o.limit) jo_int(&opt, o.limit);
        else jo_raw(&opt, "null");
        jo_raw(&opt, ", \"samples\": "), jo_int(&opt, n), jo_raw(&opt, "}");
        rc = opt.failed ? (eval_err("out of memory"), 2) : 0;
        for (int k = 0; k < nm && !rc; k++) rc = lb_run_method(&o, &methods[k], m, ss, n, opt.buf) ? 1 : 0;
        free(opt.buf);
    }
    for (int i = 0; i < n; i++) json_free(ss[i].row);
    free(ss);
    json_free(maxlen);
    ei_model_free(m);
    eval_opts_free(&o);
    return rc;
}

/* ------------------------------------------------------------ QMSum */

typedef struct {
    char key[300];
    int meeting;             /* index into the meetings */
    const char *query, *answer, *type;
} qm_sample;

typedef struct {
    char name[256];
    json *v;
    char *transcript;
} meeting;

static const char *const rouge_keys[3] = {"rouge1", "rouge2", "rougeL"};

/* scores: {"rouge1", "rouge2", "rougeL": 100 x mean F, "n"} */
static void qm_summary(json_out *o, json *const *samples, int n) {
    jo_raw(o, "{");
    for (int k = 0; k < 3; k++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += json_num(json_get(samples[i], rouge_keys[k]), 0);
        jo_str(o, rouge_keys[k]), jo_raw(o, ": ");
        if (n) jo_num(o, 100 * sum / n);
        else jo_raw(o, "null");
        jo_raw(o, ", ");
    }
    jo_raw(o, "\"n\": "), jo_int(o, n), jo_raw(o, "}");
}

static int only_json(const struct dirent *d) {
    const size_t l = strlen(d->d_name);
    return l > 5 && !strcmp(d->d_name + l - 5, ".json");
}

/* One meeting file: the transcript text and its queries appended to *ss (up to --limit in all). */
static int load_meeting(const eval_opts *o, const char *path, meeting *mt, int mi, qm_sample **ss, int *n, int *cap) {
    char err[600];
    if (!(mt->v = json_parse_file(path, err, sizeof err))) { eval_err("%s", err); return -1; }
    const json *tr = json_get(mt->v, "meeting_transcripts");
    if (json_kind(tr) != JSON_ARRAY) { eval_err("%s: missing field meeting_transcripts (an array)", path); return -1; }
    json_out t = {0};
    for (size_t k = 0; k < json_len(tr); k++) {
        const char *sp = json_text(json_get(json_at(tr, k), "speaker")), *ct = json_text(json_get(json_at(tr, k), "content"));
        if (!sp || !ct) { eval_err("%s: meeting_transcripts[%zu]: expected speaker and content strings (without NUL)", path, k); free(t.buf); return -1; }
        jo_raw(&t, sp), jo_raw(&t, ": "), jo_raw(&t, ct), jo_raw(&t, "\n");
    }
    if (t.failed || !t.buf) { free(t.buf); eval_err("%s: %s", path, t.failed ? "out of memory" : "empty transcript"); return -1; }
    mt->transcript = t.buf;
    static const char *const lists[2] = {"general_query_list", "specific_query_list"}, *const types[2] = {"general", "specific"};
    for (int li = 0; li < 2; li++) {
        const json *q = json_get(mt->v, lists[li]);
        if (q && json_kind(q) != JSON_ARRAY) { eval_err("%s: %s is not an array", path, lists[li]); return -1; }
        for (size_t k = 0; k < json_len(q); k++) {
            const char *query = json_text(json_get(json_at(q, k), "query")), *answer = json_text(json_get(json_at(q, k), "answer"));
            if (!query || !answer) { eval_err("%s: %s[%zu]: expected query and answer strings (without NUL)", path, lists[li], k); return -1; }
            if (o->limit && *n >= o->limit) return 0;
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                qm_sample *p = realloc(*ss, (size_t)*cap * sizeof *p);
                if (!p) { eval_err("out of memory"); return -1; }
                *ss = p;
            }
            qm_sample *s = &(*ss)[(*n)++];
            snprintf(s->key, sizeof s->key, "%s/%c%zu", mt->name, li ? 's' : 'g', k);
            s->meeting = mi, s->query = query, s->answer = answer, s->type = types[li];
        }
    }
    return 0;
}

static char *prompt_of(const meeting *mt, const qm_sample *s) {
    json_out p = {0};
    jo_raw(&p, "Read the meeting transcript below, then answer the query about it.\n\nTranscript:\n");
    jo_raw(&p, mt->transcript), jo_raw(&p, "\nQuery: "), jo_raw(&p, s->query), jo_raw(&p, "\nAnswer:");
    if (p.failed) free(p.buf), p.buf = NULL;
    return p.buf;
}

/* A query's prompt tokens (chat template; FullKV cut in the middle). NULL with a message. */
static int32_t *qm_tokens(const eval_run *r, const eval_method *e, const meeting *mt, const qm_sample *s, int max_new, int64_t *nt,
                          int64_t *cut) {
    char *text = prompt_of(mt, s);
    if (!text) { eval_err("out of memory"); return NULL; }
    int32_t *t = eval_tokens(r, text, 1, e->full ? eval_full_budget(r, max_new) : 0, nt, cut);
    free(text);
    return t;
}

static int qm_run_method(const eval_opts *o, const eval_method *e, const ei_model *m, const meeting *mts, const qm_sample *ss, int n,
                      const char *options) {
    static const char *const ident[] = {"data_sha256", NULL};
    if (o->max_new > 0 && check_full_room(e, m, o->max_new, "--max-new")) return -1;
    eval_run r;
    int rc = eval_run_open(&r, o, e, m, options, ident, qm_summary);
    for (int i = 0; !rc && i < n; i++) eval_run_expect(&r, ss[i].key);
    const int max_new = o->max_new > 0 ? o->max_new : r.profile.max_new_tokens;
    /* prompts are built one query ahead: queries of one meeting share the transcript, which the
     * harness then prefills once (eval_next_prompt) */
    int32_t *toks = NULL, *next_toks = NULL;
    int64_t nt = 0, cut = 0, next_nt = 0, next_cut = 0;
    for (int i = 0; !rc && i < n; i++) {
        const qm_sample *s = &ss[i];
        if (eval_run_has(&r, s->key)) continue;
        eval_progress(&r, s->key);
        const double t0 = ei_time_s();
        int next = i + 1;
        while (next < n && eval_run_has(&r, ss[next].key)) next++;
        if (!toks && !(toks = qm_tokens(&r, e, &mts[s->meeting], s, max_new, &nt, &cut))) { rc = -1; break; }
        if (next < n && !(next_toks = qm_tokens(&r, e, &mts[ss[next].meeting], &ss[next], max_new, &next_nt, &next_cut))) { rc = -1; break; }
        eval_next_prompts(&r, next_toks ? 1 : 0, (const int32_t *const[]){next_toks}, &next_nt);
        int gen = 0;
        char *pred = eval_generate(&r, toks, nt, max_new, -1, &gen);
        free(toks);
        toks = NULL;
        if (!pred) { rc = -1; break; }
        const double rg[3] = {metric_rouge_n(pred, s->answer, 1), metric_rouge_n(pred, s->answer, 2), metric_rouge_l(pred, s->answer)};
        json_out f = {0};
        jo_raw(&f, "{\"key\": "), jo_str(&f, s->key), jo_raw(&f, ", \"meeting\": "), jo_str(&f, mts[s->meeting].name);
        jo_raw(&f, ", \"type\": "), jo_str(&f, s->type), jo_raw(&f, ", \"prompt_tokens\": "), jo_int(&f, nt);
        jo_raw(&f, ", \"truncated\": "), jo_int(&f, cut), jo_raw(&f, ", \"prefix_reused\": "), jo_int(&f, r.reused);
        jo_raw(&f, ", \"generated_tokens\": "), jo_int(&f, gen);
        jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0), jo_raw(&f, ",\n   \"query\": "), jo_str(&f, s->query);
        jo_raw(&f, ",\n   \"prediction\": "), jo_str(&f, pred), jo_raw(&f, ",\n   \"answer\": "), jo_str(&f, s->answer);
        for (int k = 0; k < 3; k++) jo_raw(&f, ", \""), jo_raw(&f, rouge_keys[k]), jo_raw(&f, "\": "), jo_num(&f, rg[k]);
        jo_raw(&f, "}");
        free(pred);
        if (isnan(rg[0]) || isnan(rg[1]) || isnan(rg[2]) || f.failed) eval_err("%s: out of memory", s->key), rc = -1;
        else rc = eval_run_add(&r, f.buf);
        free(f.buf);
        toks = next_toks, nt = next_nt, cut = next_cut, next_toks = NULL;
    }
    free(toks), free(next_toks);
    return eval_run_end(&r, rc);
}

int eval_qmsum(int argc, char **argv) {
    static const char *const flags[] = {"--data", "--limit", "--max-new", NULL};
    eval_opts o;
    eval_method methods[EVAL_MAX_METHODS];
    int nm;
    if (eval_parse_opts(argc, argv, &o, "summarize", flags) || (nm = eval_parse_methods(o.methods, methods, EVAL_MAX_METHODS)) < 0) {
        eval_opts_free(&o);
        return 2;
    }
    const char *dir = o.data ? o.data : EVAL_DATA_ROOT "/qmsum/val";
    struct dirent **names = NULL;
    const int nn = scandir(dir, &names, only_json, alphasort); /* name order: keys and --limit are stable */
    meeting *mts = nn > 0 ? calloc((size_t)nn, sizeof *mts) : NULL;
    qm_sample *ss = NULL;
    int n = 0, cap = 0, rc = 2, nmt = 0;
    sha256_ctx h;
    sha256_init(&h);
    ei_model *m = NULL;
    if (nn < 0) eval_err("%s: cannot list the directory", dir);
    else if (nn == 0) eval_err("%s: no .json meeting files", dir);
    else if (!mts) eval_err("out of memory");
    else {
        rc = 0;
        for (int i = 0; i < nn && !rc; i++, nmt++) { /* every file is read and hashed, whatever --limit says */
            char path[4096];
            size_t len = 0;
            snprintf(mts[i].name, sizeof mts[i].name, "%.*s", (int)strlen(names[i]->d_name) - 5, names[i]->d_name);
            if (snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) >= (int)sizeof path) { eval_err("--data: path too long"); rc = 2; break; }
            char *bytes = eval_read_file(path, &len);
            if (!bytes) { eval_err("%s: cannot read", path); rc = 2; break; }
            sha256_update(&h, names[i]->d_name, strlen(names[i]->d_name) + 1), sha256_update(&h, bytes, len);
            free(bytes);
            if (load_meeting(&o, path, &mts[i], i, &ss, &n, &cap)) rc = 2;
        }
        if (!rc && !n) eval_err("%s: no queries found", dir), rc = 2;
    }
    if (!rc && !(m = eval_load_model(o.model_path))) rc = 2;
    if (!rc) {
        char sha[65];
        sha256_hex(&h, sha);
        json_out opt = {0};
        jo_raw(&opt, "{\"data\": "), jo_str(&opt, dir), jo_raw(&opt, ", \"data_sha256\": "), jo_str(&opt, sha);
        jo_raw(&opt, ", \"limit\": ");
        if (o.limit) jo_int(&opt, o.limit);
        else jo_raw(&opt, "null");
        jo_raw(&opt, ", \"max_new\": ");
        if (o.max_new > 0) jo_int(&opt, o.max_new);
        else jo_raw(&opt, "null");
        jo_raw(&opt, ", \"samples\": "), jo_int(&opt, n), jo_raw(&opt, "}");
        if (opt.failed) eval_err("out of memory"), rc = 2;
        for (int k = 0; k < nm && !rc; k++) rc = qm_run_method(&o, &methods[k], m, mts, ss, n, opt.buf) ? 1 : 0;
        free(opt.buf);
    }
    for (int i = 0; i < nmt; i++) json_free(mts[i].v), free(mts[i].transcript);
    for (int i = 0; i < (nn > 0 ? nn : 0); i++) free(names[i]);
    free(names), free(mts), free(ss);
    ei_model_free(m);
    eval_opts_free(&o);
    return rc;
}

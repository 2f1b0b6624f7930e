/* `edgeinf eval report`: every run file (*.json) of a directory -> one Markdown report with tables
 * (LongBench task x method, passkey/needle accuracy by length, perplexity by position band, QMSum
 * ROUGE) and SVG charts. Every number comes from the run files. Both layouts of the scores are read:
 * the harness's {"groups": {"<group>": {"n", "mean"}}} with per-sample fields, and the planned
 * {"tasks"}, {"cells"}, {"<corpus>": [bands]}, {"rouge1", ...}; a missing field prints "—". */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "report.h"
#include "svg.h"

static const char *const lb_tasks[] = {"narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique",
                                       "gov_report", "qmsum", "multi_news", "trec", "triviaqa", "samsum",
                                       "passage_count", "passage_retrieval_en", "lcc", "repobench-p"};
#define N_LB (int)(sizeof lb_tasks / sizeof *lb_tasks)

static int oom(void) {
    fprintf(stderr, "edgeinf: eval report: out of memory\n");
    return 2;
}

/* ------------------------------------------------------------ run files */

static int method_rank(const char *m) {
    if (!strcmp(m, "full")) return 0;
    if (!strcmp(m, "streaming")) return 1;
    if (!strcmp(m, "h2o")) return 2;
    if (!strcmp(m, "snapkv")) return 3;
    if (!strcmp(m, "closed")) return 4;
    if (!strncmp(m, "const", 5)) return 5;
    if (!strncmp(m, "gate:", 5)) return 6;
    return 7;
}

static int bench_rank(const char *b) {
    static const char *const order[] = {"longbench", "passkey", "needle", "ppl", "qmsum"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(b, order[i])) return i;
    return 5;
}

static int by_bench_method(const void *a, const void *b) {
    const rp_run *x = a, *y = b;
    int c = bench_rank(x->bench) - bench_rank(y->bench);
    if (!c) c = strcmp(x->bench, y->bench);
    if (!c) c = method_rank(x->method) - method_rank(y->method);
    if (!c && method_rank(x->method) == 4) { /* constant gates by value */
        const double u = atof(x->method + 5), v = atof(y->method + 5);
        c = (u > v) - (u < v);
    }
    if (!c) c = strcmp(x->method, y->method);
    return c ? c : strcmp(x->file, y->file);
}

/* Samples done and requested (-1 when the file does not say). */
static void progress_of(const rp_run *r, double *done, double *requested) {
    const json *s = json_get(r->v, "samples");
    *done = json_num(json_get(r->v, "done"), s && s->type == JSON_ARRAY ? (double)s->len : -1);
    *requested = json_num(json_get(r->v, "requested"), json_num(json_get(json_get(r->v, "options"), "requested"), -1));
}

void rp_slugify(char *s) {
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) *p = '_';
}

/* Column labels: the method, the file when two runs of a benchmark share a method, and the state. */
static void label_runs(rp_run *rs, int n) {
    for (int i = 0; i < n; i++) {
        int shared = 0;
        for (int j = 0; j < n; j++)
            shared |= j != i && !strcmp(rs[i].bench, rs[j].bench) && !strcmp(rs[i].method, rs[j].method);
        const json *c = json_get(rs[i].v, "complete");
        char state[96] = "";
        if (c && c->type == JSON_BOOL && !c->num) {
            double done, req;
            progress_of(&rs[i], &done, &req);
            if (req >= 0) snprintf(state, sizeof state, " (partial: %.0f of %.0f)", done, req);
            else snprintf(state, sizeof state, " (partial: %.0f of ?)", done);
        }
        snprintf(rs[i].label, sizeof rs[i].label, "%s%s%s%s%s", rs[i].method, shared ? " [" : "", shared ? rs[i].file : "",
                 shared ? "]" : "", state);
        /* file-name form of the method for the charts */
        snprintf(rs[i].slug, sizeof rs[i].slug, "%s%s%s", rs[i].method, shared ? "-" : "", shared ? rs[i].file : "");
        rp_slugify(rs[i].slug);
        /* two methods can map to one slug ("gate:a b", "gate:a_b"): number the later one, or one chart would overwrite the other */
        size_t base = strlen(rs[i].slug);
        if (base > sizeof rs[i].slug - 32) base = sizeof rs[i].slug - 32;
        for (int j = 0, k = 0; j < i; j++)
            if (!strcmp(rs[i].bench, rs[j].bench) && !strcmp(rs[i].slug, rs[j].slug)) {
                snprintf(rs[i].slug + base, sizeof rs[i].slug - base, "-%d-%d", i, k++); /* new each time: ends */
                j = -1; /* compare again from the start */
            }
    }
}

static int load_runs(const char *dir, rp_run **out, int *n_out) {
    struct dirent **names = NULL;
    const int nn = scandir(dir, &names, NULL, alphasort);
    if (nn < 0) {
        fprintf(stderr, "edgeinf: eval report: %s: cannot list the run directory (%s)\n", dir, strerror(errno));
        return 2;
    }
    rp_run *rs = calloc((size_t)(nn ? nn : 1), sizeof *rs);
    int n = 0, rc = rs ? 0 : oom();
    for (int i = 0; i < nn; i++) {
        const char *nm = names[i]->d_name;
        const size_t l = strlen(nm);
        char path[RP_PATH], err[512];
        if (!rc && l > 5 && !strcmp(nm + l - 5, ".json") && snprintf(path, sizeof path, "%s/%s", dir, nm) < (int)sizeof path) {
            json *v = json_parse_file(path, err, sizeof err);
            const char *bench = json_str(json_get(v, "bench")), *method = json_str(json_get(json_get(v, "method"), "name"));
            if (!v) fprintf(stderr, "edgeinf: warning: %s, skipped\n", err);
            else if (!bench || !method || !*bench || !*method)
                fprintf(stderr, "edgeinf: warning: %s: not a run file (no \"bench\" or \"method\".\"name\"), skipped\n", path);
            else {
                rs[n] = (rp_run){.v = v, .bench = bench, .method = method};
                snprintf(rs[n].file, sizeof rs[n].file, "%.*s", (int)(l - 5 < 200 ? l - 5 : 200), nm);
                n++;
                v = NULL;
            }
            json_free(v);
        }
        free(names[i]);
    }
    free(names);
    if (rc) { free(rs); return rc; }
    qsort(rs, (size_t)n, sizeof *rs, by_bench_method);
    label_runs(rs, n);
    *out = rs, *n_out = n;
    return 0;
}

/* ------------------------------------------------------------ Markdown helpers */

/* Text inside a table cell: '|' escaped, line breaks and backticks flattened, and outside code spans
 * '<' written as an entity so that a name like "<1>" is not taken for HTML. */
static void md_span(FILE *o, const char *s, int code) {
    for (; s && *s; s++) {
        if (*s == '|') fputs("\\|", o);
        else if (*s == '\n' || *s == '\r' || *s == '\t') fputc(' ', o);
        else if (*s == '`') fputc('\'', o);
        else if (*s == '<' && !code) fputs("&lt;", o);
        else fputc(*s, o);
    }
}

static void md_text(FILE *o, const char *s) { md_span(o, s, 0); }

void rp_header(FILE *o, const char *first, const rp_run *rs, int n, const char *bench) {
    fprintf(o, "| %s |", first);
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench)) fputc(' ', o), md_text(o, rs[i].label), fputs(" |", o);
    fputs("\n|---|", o);
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench)) fputs("---:|", o);
    fputc('\n', o);
}

static void wall_time(FILE *o, double s) {
    if (!isfinite(s) || s < 0) fputs("—", o);
    else if (s < 120) fprintf(o, "%.1f s", s);
    else if (s < 7200) fprintf(o, "%.1f min", s / 60);
    else fprintf(o, "%.2f h", s / 3600);
}

/* Who made each column: state, wall time, model, profile, threads, command. */
void rp_details(FILE *o, const rp_run *rs, int n, const char *bench) {
    fputs("\n| run | state | wall time | model | sha256 | profile (S / W / L) | threads | command |\n"
          "|---|---|---:|---|---|---|---:|---|\n", o);
    for (int i = 0; i < n; i++) {
        if (strcmp(rs[i].bench, bench)) continue;
        const json *v = rs[i].v, *m = json_get(v, "model"), *p = json_get(v, "profile"), *c = json_get(v, "complete");
        double done, req;
        progress_of(&rs[i], &done, &req);
        fputs("| ", o), md_text(o, rs[i].label), fputs(" | ", o);
        if (c && c->type == JSON_BOOL) fprintf(o, "%s", c->num ? "complete" : "partial");
        else fputs("—", o);
        if (done >= 0) fprintf(o, ", %.0f sample%s", done, done == 1 ? "" : "s");
        fputs(" | ", o), wall_time(o, json_num(json_get(v, "wall_s"), NAN)), fputs(" | ", o);
        md_text(o, json_str(json_get(m, "name")) ? json_str(json_get(m, "name")) : "—");
        const char *sha = json_str(json_get(m, "sha256"));
        fprintf(o, " | %s%.12s%s | ", sha ? "`" : "", sha ? sha : "—", sha ? "`" : "");
        if (p && p->type == JSON_OBJECT) {
            md_text(o, json_str(json_get(p, "name")) ? json_str(json_get(p, "name")) : "?");
            const json *sw[3] = {json_get(p, "sink"), json_get(p, "window"), json_get(p, "chunk")};
            fputs(" (", o);
            for (int k = 0; k < 3; k++) {
                if (sw[k] && sw[k]->type == JSON_NUMBER) fprintf(o, "%s%.0f", k ? " / " : "", sw[k]->num);
                else fprintf(o, "%s?", k ? " / " : "");
            }
            const char *upd = json_str(json_get(p, "update")), *kv = json_str(json_get(p, "kv"));
            fputs(upd ? ", " : "", o), md_text(o, upd), fputs(kv ? ", " : "", o), md_text(o, kv), fputs(")", o);
        } else fputs("—", o);
        const json *t = json_get(v, "threads");
        if (t && t->type == JSON_NUMBER) fprintf(o, " | %.0f | ", t->num);
        else fputs(" | — | ", o);
        const char *cmd = json_str(json_get(v, "command"));
        if (cmd) fputc('`', o), md_span(o, cmd, 1), fputc('`', o);
        else fputs("—", o);
        fputs(" |\n", o);
    }
    fputc('\n', o);
}

/* ------------------------------------------------------------ LongBench and QMSum */

/* A task's score x 100 and sample count; 0 when the run has no such task. */
static int lb_task(const rp_run *r, const char *task, double *score, double *n) {
    const json *sc = json_get(r->v, "scores"), *g = json_get(json_get(sc, "groups"), task);
    if (g) {
        *score = 100 * json_num(json_get(g, "mean"), NAN), *n = json_num(json_get(g, "n"), NAN);
        return 1;
    }
    if ((g = json_get(json_get(sc, "tasks"), task))) {
        *score = json_num(json_get(g, "score"), NAN), *n = json_num(json_get(g, "n"), NAN);
        return 1;
    }
    return 0;
}

static void score_cell(FILE *o, double v, double n, const char *fmt) {
    if (isnan(v)) fputs(" — |", o);
    else if (isnan(n)) fputc(' ', o), fprintf(o, fmt, v), fputs(" |", o);
    else fputc(' ', o), fprintf(o, fmt, v), fprintf(o, " (%.0f) |", n);
}

/* Sample `key`'s score in r (a fraction), NAN when r does not have it. */
static double lb_sample(const rp_run *r, const char *key) {
    const json *ss = json_get(r->v, "samples");
    for (size_t k = 0; k < json_len(ss); k++) {
        const char *kk = json_str(json_get(json_at(ss, k), "key"));
        if (kk && !strcmp(kk, key)) return json_num(json_get(json_at(ss, k), "score"), NAN);
    }
    return NAN;
}

/* Runs that stopped at different points are compared fairly only on the samples they all have:
 * per task the mean over those (x 100), and their average over the tasks that have any. Printed
 * when at least two runs differ in their samples. */
static void longbench_common(FILE *o, const rp_run *rs, int n) {
    int lb[64], m = 0, differ = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, "longbench")) {
            if (m == 64) {
                fprintf(o, "\n(More than 64 LongBench runs: the table on their common samples is left out.)\n");
                return;
            }
            lb[m++] = i;
        }
    if (m < 2) return;
    const json *base = json_get(rs[lb[0]].v, "samples");
    size_t common = 0;
    for (size_t k = 0; k < json_len(base); k++) {
        const char *key = json_str(json_get(json_at(base, k), "key"));
        int all = key != NULL;
        for (int j = 1; j < m && all; j++) all = !isnan(lb_sample(&rs[lb[j]], key));
        common += all;
    }
    for (int j = 0; j < m; j++) differ |= json_len(json_get(rs[lb[j]].v, "samples")) != common;
    if (!differ) return;
    fprintf(o, "### LongBench on the %zu sample%s every run has\n\nScore × 100 per task over the samples all %d runs have "
               "done (their number in brackets): the columns above cover different samples.\n\n", common, common == 1 ? "" : "s", m);
    rp_header(o, "task", rs, n, "longbench");
    double sum[64] = {0};
    int tasks = 0;
    for (int t = 0; t < N_LB; t++) {
        double tot[64] = {0};
        int cnt = 0;
        for (size_t k = 0; k < json_len(base); k++) {
            const json *smp = json_at(base, k);
            const char *key = json_str(json_get(smp, "key")), *task = json_str(json_get(smp, "task"));
            if (!key || !task || strcmp(task, lb_tasks[t])) continue;
            double v[64];
            int all = 1;
            for (int j = 0; j < m && all; j++) all = !isnan(v[j] = lb_sample(&rs[lb[j]], key));
            if (!all) continue;
            for (int j = 0; j < m; j++) tot[j] += v[j];
            cnt++;
        }
        fprintf(o, "| %s |", lb_tasks[t]);
        for (int j = 0; j < m; j++) score_cell(o, cnt ? 100 * tot[j] / cnt : NAN, cnt, "%.1f");
        fputc('\n', o);
        if (cnt) {
            for (int j = 0; j < m; j++) sum[j] += 100 * tot[j] / cnt;
            tasks++;
        }
    }
    fputs("| **Average** |", o);
    for (int j = 0; j < m; j++)
        if (!tasks) fputs(" — |", o);
        else fprintf(o, " **%.1f** (%d of %d tasks) |", sum[j] / tasks, tasks, N_LB);
    fputs("\n\n", o);
}

static void longbench(FILE *o, const rp_run *rs, int n) {
    fputs("## LongBench\n\nScore × 100 per task (samples in brackets); the average is over the tasks a run has.\n\n", o);
    rp_header(o, "task", rs, n, "longbench");
    for (int t = 0; t <= N_LB; t++) {
        fprintf(o, "| %s |", t < N_LB ? lb_tasks[t] : "**Average**");
        for (int i = 0; i < n; i++) {
            if (strcmp(rs[i].bench, "longbench")) continue;
            double s = NAN, k = NAN;
            if (t < N_LB) {
                lb_task(&rs[i], lb_tasks[t], &s, &k);
                score_cell(o, s, k, "%.1f");
                continue;
            }
            double sum = 0;
            int tasks = 0;
            for (int u = 0; u < N_LB; u++)
                if (lb_task(&rs[i], lb_tasks[u], &s, &k) && !isnan(s)) sum += s, tasks++;
            if (!tasks) fputs(" — |", o);
            else if (tasks == N_LB) fprintf(o, " **%.1f** |", sum / tasks);
            else fprintf(o, " **%.1f** (%d of %d tasks) |", sum / tasks, tasks, N_LB);
        }
        fputc('\n', o);
    }
    rp_details(o, rs, n, "longbench");
    longbench_common(o, rs, n);
}

/* ROUGE-k F x 100: the summary's, or the mean over the samples (which hold fractions). */
static void rouge_of(const rp_run *r, const char *k, double *v, double *n) {
    const json *sc = json_get(r->v, "scores"), *s = json_get(r->v, "samples");
    *v = json_num(json_get(sc, k), NAN), *n = json_num(json_get(sc, "n"), NAN);
    if (!isnan(*v) || !s || s->type != JSON_ARRAY) return;
    double sum = 0;
    size_t c = 0;
    for (size_t i = 0; i < s->len; i++) {
        const double x = json_num(json_get(&s->items[i], k), NAN);
        if (!isnan(x)) sum += x, c++;
    }
    if (c) *v = 100 * sum / (double)c, *n = (double)c;
}

static void qmsum(FILE *o, const rp_run *rs, int n) {
    fputs("## QMSum\n\nROUGE F × 100 against the reference answers (queries in brackets).\n\n", o);
    rp_header(o, "metric", rs, n, "qmsum");
    static const char *const keys[3] = {"rouge1", "rouge2", "rougeL"}, *const names[3] = {"ROUGE-1", "ROUGE-2", "ROUGE-L"};
    for (int k = 0; k < 3; k++) {
        fprintf(o, "| %s |", names[k]);
        for (int i = 0; i < n; i++) {
            if (strcmp(rs[i].bench, "qmsum")) continue;
            double v, c;
            rouge_of(&rs[i], keys[k], &v, &c);
            score_cell(o, v, c, "%.2f");
        }
        fputc('\n', o);
    }
    rp_details(o, rs, n, "qmsum");
}

/* ------------------------------------------------------------ main */

static int mkdirs(const char *path) {
    char p[RP_PATH];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* How the Markdown file refers to the plots: relative to its own directory when they are below it. */
static void image_prefix(const char *out_path, const char *plots, char *pre, size_t cap) {
    snprintf(pre, cap, "%s", plots);
    if (!out_path) return;
    char dir[RP_PATH];
    snprintf(dir, sizeof dir, "%s", out_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    char *rd = realpath(dir[0] ? dir : "/", NULL), *rp = realpath(plots, NULL);
    if (rd && rp) {
        const size_t l = strlen(rd);
        if (!strcmp(rd, rp)) snprintf(pre, cap, ".");
        else if (!strncmp(rp, rd, l) && (rp[l] == '/' || l == 1)) snprintf(pre, cap, "%s", rp + (l == 1 ? 1 : l + 1));
        else snprintf(pre, cap, "%s", rp);
    }
    free(rd), free(rp);
}

static void usage(FILE *f) {
    fputs("usage: edgeinf eval report [--runs DIR] [--out FILE.md] [--plots DIR]\n"
          "  --runs DIR    run files written by `edgeinf eval` (default bench/out/eval)\n"
          "  --out FILE    the Markdown report (default: standard output)\n"
          "  --plots DIR   SVG charts (default docs/eval)\n",
          f);
}

int eval_report_main(int argc, char **argv) {
    const char *dir = "bench/out/eval", *out_path = NULL, *plots = "docs/eval";
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--runs") ? &dir : !strcmp(argv[i], "--out") ? &out_path
                         : !strcmp(argv[i], "--plots") ? &plots : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!dst) { fprintf(stderr, "edgeinf: eval report: unknown option '%s' (--runs, --out, --plots)\n", argv[i]); return 2; }
        if (i + 1 >= argc) { fprintf(stderr, "edgeinf: eval report: %s needs a value\n", argv[i]); return 2; }
        *dst = argv[++i];
    }
    rp_run *rs = NULL;
    int n = 0, rc = load_runs(dir, &rs, &n);
    if (rc) return rc;
    if (mkdirs(plots)) {
        fprintf(stderr, "edgeinf: eval report: %s: cannot create the plot directory (%s)\n", plots, strerror(errno));
        rc = 2;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *o = rc ? NULL : open_memstream(&text, &len);
    if (!rc && !o) rc = oom();
    if (o) {
        rp_ctx ctx = {.o = o, .rs = rs, .n = n, .plots = plots};
        image_prefix(out_path, plots, ctx.img, sizeof ctx.img);
        fprintf(o, "# Evaluation report\n\nMade by `edgeinf eval report` from %d run file%s in `%s`; charts in `%s`.\n\n", n,
                n == 1 ? "" : "s", dir, plots);
        int has[5] = {0};
        for (int i = 0; i < n; i++)
            if (bench_rank(rs[i].bench) < 5) has[bench_rank(rs[i].bench)] = 1;
        if (has[0]) longbench(o, rs, n);
        if (has[1] && rp_grid(&ctx, "passkey")) rc = 2;
        if (has[2] && rp_grid(&ctx, "needle")) rc = 2;
        if (has[3] && rp_ppl(&ctx)) rc = 2;
        if (has[4]) qmsum(o, rs, n);
        for (int i = 0; i < n; i++)
            if (bench_rank(rs[i].bench) == 5) fprintf(stderr, "edgeinf: warning: %s.json: unknown bench '%s', not reported\n", rs[i].file, rs[i].bench);
        if (!n) fputs("No run files.\n", o);
        if (fclose(o)) rc = oom();
    }
    if (!rc && text) {
        if (!out_path) rc = fwrite(text, 1, len, stdout) == len ? 0 : 2;
        else {
            char tmp[RP_PATH];
            FILE *f = snprintf(tmp, sizeof tmp, "%s.tmp", out_path) < (int)sizeof tmp ? fopen(tmp, "w") : NULL;
            int ok = f && fwrite(text, 1, len, f) == len;
            ok = f && !fclose(f) && ok;
            if (!ok || rename(tmp, out_path)) {
                fprintf(stderr, "edgeinf: eval report: %s: cannot write (%s)\n", out_path, strerror(errno));
                if (f) remove(tmp);
                rc = 2;
            }
        }
    }
    free(text);
    for (int i = 0; i < n; i++) json_free(rs[i].v);
    free(rs);
    return rc;
}

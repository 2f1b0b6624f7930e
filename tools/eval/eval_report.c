/* `edgeinf eval report`: run files -> Markdown tables (benchmark x method) and SVG heat maps of
 * passkey/needle accuracy. Everything printed comes from the run files. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define MAX_RUNS 64

static const char *const lb_tasks[] = {"narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique",
                                       "gov_report", "qmsum", "multi_news", "trec", "triviaqa", "samsum",
                                       "passage_count", "passage_retrieval_en", "lcc", "repobench-p"};
#define N_LB (int)(sizeof lb_tasks / sizeof *lb_tasks)

typedef struct { json *v; const char *bench, *method; } run_file;

static const json *group_of(const run_file *r, const char *which, const char *g) {
    return json_get(json_get(json_get(r->v, "scores"), which), g);
}

static void header(FILE *o, const char *first, run_file *rs, int n, const char *bench) {
    fprintf(o, "| %s |", first);
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench)) fprintf(o, " %s |", rs[i].method);
    fprintf(o, "\n|---|");
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench)) fprintf(o, "---:|");
    fprintf(o, "\n");
}

static void footer(FILE *o, run_file *rs, int n, const char *bench) {
    fprintf(o, "| wall time (min) |");
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench)) fprintf(o, " %.1f |", json_num(json_get(rs[i].v, "wall_s"), NAN) / 60);
    fprintf(o, "\n| samples done / requested |");
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].bench, bench))
            fprintf(o, " %.0f / %.0f |", json_num(json_get(rs[i].v, "done"), 0), json_num(json_get(rs[i].v, "requested"), 0));
    fprintf(o, "\n\n");
    for (int i = 0; i < n; i++) {
        if (strcmp(rs[i].bench, bench)) continue;
        const json *p = json_get(rs[i].v, "profile");
        const char *sha = json_str(json_get(json_get(rs[i].v, "model"), "sha256"));
        fprintf(o, "- %s: `%s`; profile %s (S %.0f, W %.0f, L %.0f, %s); model sha256 %.12s…; %.0f threads; updated %s\n",
                rs[i].method, json_str(json_get(rs[i].v, "command")) ? json_str(json_get(rs[i].v, "command")) : "?",
                json_str(json_get(p, "name")) ? json_str(json_get(p, "name")) : "?", json_num(json_get(p, "sink"), 0),
                json_num(json_get(p, "window"), 0), json_num(json_get(p, "chunk"), 0),
                json_str(json_get(p, "update")) ? json_str(json_get(p, "update")) : "?", sha ? sha : "?",
                json_num(json_get(rs[i].v, "threads"), 0),
                json_str(json_get(rs[i].v, "updated")) ? json_str(json_get(rs[i].v, "updated")) : "?");
    }
    fprintf(o, "\n");
}

static void cell(FILE *o, const json *g, double scale) {
    if (!g) { fprintf(o, " — |"); return; }
    fprintf(o, " %.1f (%.0f) |", scale * json_num(json_get(g, "mean"), NAN), json_num(json_get(g, "n"), 0));
}

/* Heat map: rows = lengths, columns = depths, colour = accuracy. */
static void heat_map(const char *dir, const run_file *r) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s.svg", dir, r->bench, r->method);
    const json *g = json_get(json_get(r->v, "scores"), "groups");
    if (!g || g->type != JSON_OBJECT) return;
    int lens[32], deps[32], nl = 0, nd = 0;
    for (size_t k = 0; k < g->len; k++) {
        int L, D;
        if (sscanf(g->keys[k], "%d/%d", &L, &D) != 2) continue;
        int seen = 0;
        for (int i = 0; i < nl; i++) seen |= lens[i] == L;
        if (!seen && nl < 32) lens[nl++] = L;
        seen = 0;
        for (int i = 0; i < nd; i++) seen |= deps[i] == D;
        if (!seen && nd < 32) deps[nd++] = D;
    }
    for (int i = 0; i < nl; i++) for (int j = i + 1; j < nl; j++) if (lens[j] < lens[i]) { int t = lens[i]; lens[i] = lens[j]; lens[j] = t; }
    for (int i = 0; i < nd; i++) for (int j = i + 1; j < nd; j++) if (deps[j] < deps[i]) { int t = deps[i]; deps[i] = deps[j]; deps[j] = t; }
    json_out s = {0};
    char b[512];
    const int W = 90 + 70 * nd, H = 70 + 34 * nl;
    snprintf(b, sizeof b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
             "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">", W, H, W, H);
    jo_raw(&s, b);
    snprintf(b, sizeof b, "%s accuracy, %s (rows: tokens, columns: depth %%)", r->bench, r->method);
    jo_raw(&s, b), jo_raw(&s, "</text>\n");
    for (int j = 0; j < nd; j++) {
        snprintf(b, sizeof b, "<text x=\"%d\" y=\"50\" text-anchor=\"middle\">%d%%</text>\n", 90 + 70 * j + 35, deps[j]);
        jo_raw(&s, b);
    }
    for (int i = 0; i < nl; i++) {
        snprintf(b, sizeof b, "<text x=\"80\" y=\"%d\" text-anchor=\"end\">%d</text>\n", 60 + 34 * i + 21, lens[i]);
        jo_raw(&s, b);
        for (int j = 0; j < nd; j++) {
            char key[64];
            snprintf(key, sizeof key, "%d/%d", lens[i], deps[j]);
            const json *c = json_get(g, key);
            const double a = c ? json_num(json_get(c, "mean"), NAN) : NAN;
            const int red = isnan(a) ? 200 : (int)(230 * (1 - a) + 20), green = isnan(a) ? 200 : (int)(200 * a + 30);
            snprintf(b, sizeof b, "<rect x=\"%d\" y=\"%d\" width=\"68\" height=\"32\" fill=\"rgb(%d,%d,%d)\"/>"
                     "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                     90 + 70 * j, 60 + 34 * i, red, green, isnan(a) ? 200 : 60, 90 + 70 * j + 34, 60 + 34 * i + 21,
                     isnan(a) ? "n/a" : "");
            jo_raw(&s, b);
            if (!isnan(a)) {
                snprintf(b, sizeof b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>\n", 90 + 70 * j + 34,
                         60 + 34 * i + 21, 100 * a);
                jo_raw(&s, b);
            }
        }
    }
    jo_raw(&s, "</svg>\n");
    if (jo_write_file_atomic(&s, path)) eval_err("%s: cannot write", path);
    free(s.buf);
}

static int by_name(const void *a, const void *b) {
    const run_file *x = a, *y = b;
    int c = strcmp(x->bench, y->bench);
    return c ? c : strcmp(x->method, y->method);
}

int eval_report(int argc, char **argv) {
    const char *dir = "bench/out/eval", *out_path = NULL, *plots = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--runs")) dir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--out")) out_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--plots")) plots = argv[++i];
        else { eval_err("eval report: unknown option '%s' (--runs DIR --out FILE.md --plots DIR)", argv[i]); return 2; }
    }
    struct dirent **names = NULL;
    const int nn = scandir(dir, &names, NULL, alphasort);
    if (nn < 0) { eval_err("%s: cannot list the run directory", dir); return 2; }
    run_file rs[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < nn; i++) {
        const char *nm = names[i]->d_name;
        const size_t l = strlen(nm);
        char path[4096], err[400];
        if (n < MAX_RUNS && l > 5 && !strcmp(nm + l - 5, ".json")) {
            snprintf(path, sizeof path, "%s/%s", dir, nm);
            json *v = json_parse_file(path, err, sizeof err);
            const char *bench = v ? json_str(json_get(v, "bench")) : NULL, *method = v ? json_str(json_get(json_get(v, "method"), "name")) : NULL;
            if (!bench || !method) { fprintf(stderr, "edgeinf: warning: %s: not a run file, skipped\n", v ? path : err); json_free(v); }
            else rs[n++] = (run_file){v, bench, method};
        }
        free(names[i]);
    }
    free(names);
    qsort(rs, (size_t)n, sizeof *rs, by_name);
    if (plots && mkdir(plots, 0755) && errno != EEXIST) { eval_err("%s: cannot create (%s)", plots, strerror(errno)); return 2; }
    FILE *o = out_path ? fopen(out_path, "w") : stdout;
    if (!o) { eval_err("%s: cannot write", out_path); return 2; }
    int has[5] = {0};
    static const char *const benches[5] = {"longbench", "passkey", "needle", "ppl", "qmsum"};
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 5; b++) has[b] |= !strcmp(rs[i].bench, benches[b]);
    if (has[0]) {
        fprintf(o, "### LongBench (score × 100, samples in brackets)\n\n");
        header(o, "task", rs, n, "longbench");
        for (int t = 0; t <= N_LB; t++) {
            fprintf(o, "| %s |", t < N_LB ? lb_tasks[t] : "**average over tasks run**");
            for (int i = 0; i < n; i++) {
                if (strcmp(rs[i].bench, "longbench")) continue;
                if (t < N_LB) { cell(o, group_of(&rs[i], "groups", lb_tasks[t]), 100); continue; }
                double s = 0;
                int k = 0;
                for (int u = 0; u < N_LB; u++) {
                    const json *g = group_of(&rs[i], "groups", lb_tasks[u]);
                    if (g) s += json_num(json_get(g, "mean"), 0), k++;
                }
                if (k) fprintf(o, " **%.1f** (%d tasks) |", 100 * s / k, k);
                else fprintf(o, " — |");
            }
            fprintf(o, "\n");
        }
        footer(o, rs, n, "longbench");
    }
    for (int b = 1; b <= 2; b++) {
        if (!has[b]) continue;
        fprintf(o, "### %s accuracy by length (%%, samples in brackets)\n\n", benches[b]);
        header(o, "tokens", rs, n, benches[b]);
        /* every length any run of this benchmark has, in increasing order */
        int lens[64], nl = 0;
        for (int i = 0; i < n; i++) {
            const json *g2 = json_get(json_get(rs[i].v, "scores"), "groups2");
            for (size_t k = 0; strcmp(rs[i].bench, benches[b]) == 0 && g2 && g2->type == JSON_OBJECT && k < g2->len; k++) {
                int L = atoi(g2->keys[k]), seen = 0;
                for (int j = 0; j < nl; j++) seen |= lens[j] == L;
                if (!seen && nl < 64) lens[nl++] = L;
            }
        }
        for (int i = 0; i < nl; i++)
            for (int j = i + 1; j < nl; j++)
                if (lens[j] < lens[i]) { int t = lens[i]; lens[i] = lens[j]; lens[j] = t; }
        for (int L = 0; L < nl; L++) {
            char key[32];
            snprintf(key, sizeof key, "%d", lens[L]);
            fprintf(o, "| %s |", key);
            for (int i = 0; i < n; i++)
                if (!strcmp(rs[i].bench, benches[b])) cell(o, group_of(&rs[i], "groups2", key), 100);
            fprintf(o, "\n");
        }
        footer(o, rs, n, benches[b]);
        for (int i = 0; plots && i < n; i++)
            if (!strcmp(rs[i].bench, benches[b])) heat_map(plots, &rs[i]);
        if (plots) fprintf(o, "Heat maps (length × depth): `%s/%s-<method>.svg`.\n\n", plots, benches[b]);
    }
    if (has[3]) {
        fprintf(o, "### Perplexity by position band\n\n");
        header(o, "corpus: positions", rs, n, "ppl");
        static const char *const corpora[2] = {"wikitext", "essays"};
        for (int c = 0; c < 2; c++)
            for (int band = 0; band < 8; band++) {
                char label[96] = "";
                int any = 0;
                for (int i = 0; i < n; i++) {
                    if (strcmp(rs[i].bench, "ppl")) continue;
                    const json *ss = json_get(rs[i].v, "samples");
                    for (size_t k = 0; ss && k < ss->len; k++)
                        if (json_str(json_get(&ss->items[k], "key")) && !strcmp(json_str(json_get(&ss->items[k], "key")), corpora[c])) {
                            const json *bands = json_get(&ss->items[k], "bands");
                            if (bands && (size_t)band < bands->len) {
                                const json *bb = &bands->items[band];
                                const json *to = json_get(bb, "to");
                                const double from = json_num(json_get(bb, "from"), 0);
                                if (to && to->type == JSON_NUMBER)
                                    snprintf(label, sizeof label, "%s: %.0f–%.0f", corpora[c], from, to->num);
                                else
                                    snprintf(label, sizeof label, "%s: %.0f–end", corpora[c], from);
                                any = 1;
                            }
                        }
                }
                if (!any) continue;
                fprintf(o, "| %s |", label);
                for (int i = 0; i < n; i++) {
                    if (strcmp(rs[i].bench, "ppl")) continue;
                    const json *ss = json_get(rs[i].v, "samples"), *bb = NULL;
                    for (size_t k = 0; ss && k < ss->len; k++)
                        if (json_str(json_get(&ss->items[k], "key")) && !strcmp(json_str(json_get(&ss->items[k], "key")), corpora[c])) {
                            const json *bands = json_get(&ss->items[k], "bands");
                            if (bands && (size_t)band < bands->len) bb = &bands->items[band];
                        }
                    if (bb) fprintf(o, " %.2f (%.0f) |", json_num(json_get(bb, "ppl"), NAN), json_num(json_get(bb, "tokens"), 0));
                    else fprintf(o, " — |");
                }
                fprintf(o, "\n");
            }
        footer(o, rs, n, "ppl");
    }
    if (has[4]) {
        fprintf(o, "### QMSum val (ROUGE F × 100)\n\n");
        header(o, "metric", rs, n, "qmsum");
        static const char *const rk[3] = {"rouge1", "rouge2", "rougeL"};
        for (int m = 0; m < 3; m++) {
            fprintf(o, "| %s |", rk[m]);
            for (int i = 0; i < n; i++) {
                if (strcmp(rs[i].bench, "qmsum")) continue;
                const json *ss = json_get(rs[i].v, "samples");
                double s = 0;
                size_t k = 0;
                for (; ss && k < ss->len; k++) s += json_num(json_get(&ss->items[k], rk[m]), 0);
                if (k) fprintf(o, " %.1f (%zu) |", 100 * s / (double)k, k);
                else fprintf(o, " — |");
            }
            fprintf(o, "\n");
        }
        footer(o, rs, n, "qmsum");
    }
    if (!n) fprintf(o, "(no run files in %s)\n", dir);
    if (out_path) fclose(o);
    for (int i = 0; i < n; i++) json_free(rs[i].v);
    return 0;
}

/* Report sections with charts: passkey/needle accuracy by length (a table, a heat map per run and a
 * line chart over runs) and perplexity by position band (a table and a line chart per corpus). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "svg.h"

/* A growing list of distinct numbers. */
typedef struct { double *v; int n, cap; } dlist;

static int dl_find(const dlist *l, double x) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i] == x) return i;
    return -1;
}

static int dl_add(dlist *l, double x) {
    if (dl_find(l, x) >= 0) return 0;
    if (l->n == l->cap) {
        const int cap = l->cap ? 2 * l->cap : 16;
        double *p = realloc(l->v, sizeof *p * (size_t)cap);
        if (!p) return -1;
        l->v = p, l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void dl_sort(dlist *l) {
    if (l->n) qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_double);
}

static void len_label(double x, char *out, size_t cap) {
    if (isinf(x)) snprintf(out, cap, "end");
    else if (x >= 1024 && fmod(x, 1024) == 0) snprintf(out, cap, "%gK", x / 1024);
    else snprintf(out, cap, "%g", x);
}

static int fail_oom(void) {
    fprintf(stderr, "edgeinf: eval report: out of memory\n");
    return -1;
}

/* ------------------------------------------------------------ passkey / needle */

/* Accuracy per (length, depth) cell as a sum of scores and a sample count. */
typedef struct { double L, D, sum, n; } gcell;
typedef struct { gcell *c; int n, cap; } grid;

static int grid_add(grid *g, double L, double D, double acc, double n) {
    if (isnan(L) || isnan(D) || isnan(acc) || !(n > 0)) return 0;
    for (int i = 0; i < g->n; i++)
        if (g->c[i].L == L && g->c[i].D == D) {
            g->c[i].sum += acc * n, g->c[i].n += n;
            return 0;
        }
    if (g->n == g->cap) {
        const int cap = g->cap ? 2 * g->cap : 32;
        gcell *p = realloc(g->c, sizeof *p * (size_t)cap);
        if (!p) return -1;
        g->c = p, g->cap = cap;
    }
    g->c[g->n++] = (gcell){L, D, acc * n, n};
    return 0;
}

/* The cells of a run: scores.groups {"L/D": {n, mean}}, else scores.cells [{length, depth, n, accuracy}],
 * else the samples' length, depth and score. */
static int grid_of(const rp_run *r, grid *g) {
    const json *sc = json_get(r->v, "scores"), *gr = json_get(sc, "groups"), *cells = json_get(sc, "cells");
    for (size_t k = 0; gr && gr->type == JSON_OBJECT && k < gr->len; k++) {
        double L, D;
        int used = 0;
        if (sscanf(gr->keys[k], "%lf/%lf%n", &L, &D, &used) == 2 && !gr->keys[k][used] &&
            grid_add(g, L, D, json_num(json_get(&gr->items[k], "mean"), NAN), json_num(json_get(&gr->items[k], "n"), NAN)))
            return -1;
    }
    const int use_cells = !g->n;
    for (size_t k = 0; use_cells && cells && cells->type == JSON_ARRAY && k < cells->len; k++) {
        const json *c = &cells->items[k];
        if (grid_add(g, json_num(json_get(c, "length"), NAN), json_num(json_get(c, "depth"), NAN),
                     json_num(json_get(c, "accuracy"), NAN), json_num(json_get(c, "n"), NAN)))
            return -1;
    }
    const json *s = json_get(r->v, "samples");
    const int use_samples = !g->n;
    for (size_t k = 0; use_samples && s && s->type == JSON_ARRAY && k < s->len; k++) {
        const json *c = &s->items[k];
        if (grid_add(g, json_num(json_get(c, "length"), NAN), json_num(json_get(c, "depth"), NAN),
                     json_num(json_get(c, "score"), NAN), 1))
            return -1;
    }
    return 0;
}

/* Accuracy over all depths at length L (NaN when the run has none) and its samples. */
static double grid_len(const grid *g, double L, double *n) {
    double s = 0;
    *n = 0;
    for (int i = 0; i < g->n; i++)
        if (g->c[i].L == L) s += g->c[i].sum, *n += g->c[i].n;
    return *n > 0 ? s / *n : NAN;
}

static int heat_map(rp_ctx *c, const char *bench, const rp_run *r, const grid *g) {
    dlist ls = {0}, ds = {0};
    int rc = 0;
    for (int i = 0; i < g->n && !rc; i++) rc = dl_add(&ls, g->c[i].L) || dl_add(&ds, g->c[i].D);
    dl_sort(&ls), dl_sort(&ds);
    char(*names)[24] = rc ? NULL : malloc(sizeof *names * (size_t)(ls.n + ds.n + 1));
    const char **rows = malloc(sizeof *rows * (size_t)(ls.n + ds.n + 1));
    double *val = malloc(sizeof *val * (size_t)(ls.n * ds.n + 1));
    if (!names || !rows || !val) rc = fail_oom();
    for (int i = 0; !rc && i < ls.n; i++) len_label(ls.v[i], names[i], sizeof names[i]), rows[i] = names[i];
    for (int j = 0; !rc && j < ds.n; j++) snprintf(names[ls.n + j], sizeof names[0], "%g%%", ds.v[j]), rows[ls.n + j] = names[ls.n + j];
    for (int i = 0; !rc && i < ls.n * ds.n; i++) val[i] = NAN;
    for (int k = 0; !rc && k < g->n; k++)
        val[dl_find(&ls, g->c[k].L) * ds.n + dl_find(&ds, g->c[k].D)] = g->c[k].sum / g->c[k].n;
    char path[RP_PATH + 400], title[400], err[600];
    snprintf(path, sizeof path, "%s/%s-%s.svg", c->plots, bench, r->slug);
    snprintf(title, sizeof title, "%s accuracy: %s", bench, r->label);
    const svg_heatmap_spec h = {title, "prompt tokens", "depth in the text", rows, rows + ls.n, ls.n, ds.n, val, 1};
    if (!rc && svg_heatmap(path, &h, err, sizeof err)) fprintf(stderr, "edgeinf: eval report: %s\n", err), rc = -1;
    if (!rc) fprintf(c->o, "![%s heat map, %s](%s/%s-%s.svg)\n", bench, r->slug, c->img, bench, r->slug);
    free(names), free(rows), free(val), free(ls.v), free(ds.v);
    return rc;
}

int rp_grid(rp_ctx *c, const char *bench) {
    int nb = 0, rc = 0;
    for (int i = 0; i < c->n; i++) nb += !strcmp(c->rs[i].bench, bench);
    grid *gs = calloc((size_t)nb, sizeof *gs);
    const rp_run **runs = calloc((size_t)nb, sizeof *runs);
    svg_series *ser = calloc((size_t)nb, sizeof *ser);
    dlist ls = {0};
    if (!gs || !runs || !ser) rc = fail_oom();
    for (int i = 0, k = 0; !rc && i < c->n; i++)
        if (!strcmp(c->rs[i].bench, bench)) {
            runs[k] = &c->rs[i];
            if (grid_of(runs[k], &gs[k])) rc = fail_oom();
            for (int j = 0; !rc && j < gs[k].n; j++)
                if (dl_add(&ls, gs[k].c[j].L)) rc = fail_oom();
            k++;
        }
    dl_sort(&ls);
    if (!rc) {
        fprintf(c->o, "## %s\n\nAccuracy (%%) by prompt length in tokens, over all depths (samples in brackets); "
                      "heat maps by length × depth below.\n\n",
                !strcmp(bench, "passkey") ? "Passkey retrieval" : !strcmp(bench, "needle") ? "Needle in a haystack" : bench);
        rp_header(c->o, "tokens", c->rs, c->n, bench);
        for (int L = 0; L < ls.n; L++) {
            char lab[24];
            len_label(ls.v[L], lab, sizeof lab);
            fprintf(c->o, "| %s |", lab);
            for (int k = 0; k < nb; k++) {
                double n;
                const double a = grid_len(&gs[k], ls.v[L], &n);
                if (isnan(a)) fputs(" — |", c->o);
                else fprintf(c->o, " %.1f (%.0f) |", 100 * a, n);
            }
            fputc('\n', c->o);
        }
        if (!ls.n) fputs("| (no results yet) |\n", c->o);
        rp_details(c->o, c->rs, c->n, bench);
    }
    for (int k = 0; !rc && k < nb; k++) rc = heat_map(c, bench, runs[k], &gs[k]);
    /* accuracy against length, one line per run */
    double *ys = rc ? NULL : malloc(sizeof *ys * (size_t)(nb * ls.n + 1));
    if (!rc && !ys) rc = fail_oom();
    for (int k = 0; !rc && k < nb; k++) {
        for (int L = 0; L < ls.n; L++) {
            double n;
            ys[k * ls.n + L] = grid_len(&gs[k], ls.v[L], &n);
        }
        ser[k] = (svg_series){runs[k]->label, ys + k * ls.n};
    }
    if (!rc) {
        char path[RP_PATH + 64], title[96], err[600];
        snprintf(path, sizeof path, "%s/%s-by-length.svg", c->plots, bench);
        snprintf(title, sizeof title, "%s accuracy by prompt length", bench);
        const svg_line_spec spec = {title, "prompt tokens", "accuracy", ls.v, ls.n, 1, ser, nb, 1, 0, 1};
        if (svg_line_chart(path, &spec, err, sizeof err)) fprintf(stderr, "edgeinf: eval report: %s\n", err), rc = -1;
        else fprintf(c->o, "\n![%s accuracy by length](%s/%s-by-length.svg)\n\n", bench, c->img, bench);
    }
    for (int k = 0; gs && k < nb; k++) free(gs[k].c);
    free(gs), free(runs), free(ser), free(ys), free(ls.v);
    return rc;
}

/* ------------------------------------------------------------ perplexity */

/* The bands of one corpus in a run: a sample keyed by the corpus with "bands", or scores.<corpus>. */
static const json *bands_of(const rp_run *r, const char *corpus) {
    const json *s = json_get(r->v, "samples");
    for (size_t k = 0; s && s->type == JSON_ARRAY && k < s->len; k++) {
        const char *key = json_str(json_get(&s->items[k], "key"));
        const json *b = json_get(&s->items[k], "bands");
        if (key && !strcmp(key, corpus) && b && b->type == JSON_ARRAY) return b;
    }
    const json *b = json_get(json_get(r->v, "scores"), corpus);
    return b && b->type == JSON_ARRAY ? b : NULL;
}

static double band_to(const json *b) { return json_num(json_get(b, "to"), INFINITY); } /* null: to the end */

static double band_ppl(const json *b) {
    const double p = json_num(json_get(b, "ppl"), NAN), nll = json_num(json_get(b, "nll_sum"), NAN),
                 t = json_num(json_get(b, "tokens"), NAN);
    return !isnan(p) ? p : t > 0 ? exp(nll / t) : NAN;
}

/* Band of run r that spans [from, to), or NULL. */
static const json *find_band(const json *bands, double from, double to) {
    for (size_t k = 0; bands && k < bands->len; k++)
        if (json_num(json_get(&bands->items[k], "from"), NAN) == from && band_to(&bands->items[k]) == to) return &bands->items[k];
    return NULL;
}

static int ppl_corpus(rp_ctx *c, const char *corpus) {
    dlist from = {0}, ends = {0};
    int rc = 0, nr = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        const json *b = strcmp(c->rs[i].bench, "ppl") ? NULL : bands_of(&c->rs[i], corpus);
        nr += !strcmp(c->rs[i].bench, "ppl");
        for (size_t k = 0; b && k < b->len && !rc; k++) {
            const double f = json_num(json_get(&b->items[k], "from"), NAN);
            if (!isnan(f) && (dl_add(&from, f) || dl_add(&ends, band_to(&b->items[k])))) rc = fail_oom();
        }
    }
    dl_sort(&from), dl_sort(&ends);
    fprintf(c->o, "### %s\n\n", corpus);
    rp_header(c->o, "positions", c->rs, c->n, "ppl");
    /* rows: every (from, to) some run has, in order */
    for (int f = 0; !rc && f < from.n; f++)
        for (int e = 0; e < ends.n; e++) {
            int any = 0;
            for (int i = 0; i < c->n && !any; i++)
                any = !strcmp(c->rs[i].bench, "ppl") && find_band(bands_of(&c->rs[i], corpus), from.v[f], ends.v[e]);
            if (!any) continue;
            char a[24], b[24];
            len_label(from.v[f], a, sizeof a), len_label(ends.v[e], b, sizeof b);
            fprintf(c->o, "| %s–%s |", a, b);
            for (int i = 0; i < c->n; i++) {
                if (strcmp(c->rs[i].bench, "ppl")) continue;
                const json *band = find_band(bands_of(&c->rs[i], corpus), from.v[f], ends.v[e]);
                const double p = band ? band_ppl(band) : NAN, t = json_num(json_get(band, "tokens"), NAN);
                if (isnan(p)) fputs(" — |", c->o);
                else if (isnan(t)) fprintf(c->o, " %.2f |", p);
                else fprintf(c->o, " %.2f (%.0f) |", p, t);
            }
            fputc('\n', c->o);
        }
    /* chart: x = the end of each band (an open last band is drawn at twice its start) */
    dlist xs = {0};
    for (int e = 0; !rc && e < ends.n; e++) {
        double x = ends.v[e];
        if (isinf(x)) x = from.n && from.v[from.n - 1] > 0 ? 2 * from.v[from.n - 1] : 1;
        if (dl_add(&xs, x)) rc = fail_oom();
    }
    dl_sort(&xs);
    svg_series *ser = calloc((size_t)nr + 1, sizeof *ser);
    double *ys = malloc(sizeof *ys * (size_t)(nr * xs.n + 1));
    if (!rc && (!ser || !ys)) rc = fail_oom();
    for (int i = 0, k = 0; !rc && i < c->n; i++) {
        if (strcmp(c->rs[i].bench, "ppl")) continue;
        const json *b = bands_of(&c->rs[i], corpus);
        for (int x = 0; x < xs.n; x++) ys[k * xs.n + x] = NAN;
        for (size_t j = 0; b && j < b->len; j++) {
            double x = band_to(&b->items[j]);
            if (isinf(x)) x = from.n && from.v[from.n - 1] > 0 ? 2 * from.v[from.n - 1] : 1;
            const int at = dl_find(&xs, x);
            if (at >= 0) ys[k * xs.n + at] = band_ppl(&b->items[j]);
        }
        ser[k] = (svg_series){c->rs[i].label, ys + k * xs.n};
        k++;
    }
    char slug[160], path[RP_PATH + 200], title[256], err[600];
    snprintf(slug, sizeof slug, "%s", corpus);
    rp_slugify(slug);
    snprintf(path, sizeof path, "%s/ppl-%s.svg", c->plots, slug);
    snprintf(title, sizeof title, "Perplexity by position: %s", corpus);
    const svg_line_spec spec = {title, "position (end of band, tokens)", "perplexity", xs.v, xs.n, 1, ser, nr, 0, 0, 0};
    if (!rc && svg_line_chart(path, &spec, err, sizeof err)) fprintf(stderr, "edgeinf: eval report: %s\n", err), rc = -1;
    if (!rc) fprintf(c->o, "\n![perplexity by position, %s](%s/ppl-%s.svg)\n\n", corpus, c->img, slug);
    free(ser), free(ys), free(xs.v), free(from.v), free(ends.v);
    return rc;
}

int rp_ppl(rp_ctx *c) {
    fputs("## Perplexity by position\n\nPerplexity of the tokens at each range of positions in one long stream "
          "(tokens in brackets).\n\n",
          c->o);
    /* corpora: the sample keys with bands, and score entries that are band lists, in first-seen order */
    const char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        if (strcmp(c->rs[i].bench, "ppl")) continue;
        const json *s = json_get(c->rs[i].v, "samples"), *sc = json_get(c->rs[i].v, "scores");
        const size_t ns = s && s->type == JSON_ARRAY ? s->len : 0, nsc = sc && sc->type == JSON_OBJECT ? sc->len : 0;
        for (size_t k = 0; k < ns + nsc && !rc; k++) {
            const char *nm = k < ns ? json_str(json_get(&s->items[k], "key")) : sc->keys[k - ns];
            const json *b = k < ns ? json_get(&s->items[k], "bands") : &sc->items[k - ns];
            if (!nm || !b || b->type != JSON_ARRAY) continue;
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= !strcmp(names[j], nm);
            if (seen) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                const char **p = realloc(names, sizeof *p * (size_t)cap);
                if (!p) { rc = fail_oom(); break; }
                names = p;
            }
            names[n++] = nm;
        }
    }
    for (int j = 0; j < n && !rc; j++) rc = ppl_corpus(c, names[j]);
    if (!n) fputs("(no perplexity results yet)\n", c->o);
    if (!rc) rp_details(c->o, c->rs, c->n, "ppl");
    free(names);
    return rc;
}

/* `edgeinf eval passkey|needle|ppl` (evaluation.md): the drivers. Prompts come from synth.c
 * (passkey filler and needles), the perplexity stream from ppl.c; this file runs them per method
 * and keeps the run files. FullKV does not go past its trained context: passkey/needle cells
 * longer than it are skipped (nothing recorded), perplexity stops there. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppl.h"
#include "harness.h"
#include "sha256.h"
#include "synth.h"

#define MAX_GRID 32

static int only_txt(const struct dirent *d) {
    const size_t l = strlen(d->d_name);
    return l > 4 && !strcmp(d->d_name + l - 4, ".txt");
}

/* The essays (*.txt of dir in name order) joined by blank lines; sha of the joined text. */
static char *read_essays(const char *dir, size_t *len, char sha[65]) {
    struct dirent **names = NULL;
    const int nn = scandir(dir, &names, only_txt, alphasort);
    if (nn <= 0) { eval_err("%s: %s", dir, nn < 0 ? "cannot list the directory" : "no .txt files"); free(names); return NULL; }
    json_out o = {0};
    int ok = 1;
    for (int i = 0; i < nn; i++) {
        char path[4096];
        size_t n = 0;
        char *t = ok && snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path ? eval_read_file(path, &n) : NULL;
        if (ok && !t) eval_err("%s/%s: cannot read", dir, names[i]->d_name), ok = 0;
        if (t && strlen(t) != n) eval_err("%s: contains a NUL byte", path), ok = 0;
        if (ok) jo_raw(&o, t), jo_raw(&o, "\n\n");
        free(t), free(names[i]);
    }
    free(names);
    if (ok && o.failed) eval_err("out of memory");
    if (!ok || o.failed) { free(o.buf); return NULL; }
    sha256_ctx c;
    sha256_init(&c), sha256_update(&c, o.buf, o.len), sha256_hex(&c, sha);
    *len = o.len;
    return o.buf;
}

static void list_json(json_out *o, const int64_t *v, int n) {
    jo_raw(o, "[");
    for (int i = 0; i < n; i++) jo_raw(o, i ? ", " : ""), jo_int(o, v[i]);
    jo_raw(o, "]");
}

/* ------------------------------------------------------------ passkey and needle */

/* scores: {"cells": [{length, depth, n, accuracy}], "lengths": [{length, n, accuracy}]}, accuracy in [0, 1] */
static void grid_summary(json_out *o, json *const *samples, int n) {
    for (int pass = 0; pass < 2; pass++) {
        jo_raw(o, pass ? "], \"lengths\": [" : "{\"cells\": [");
        int first = 1;
        for (int i = 0; i < n; i++) {
            const double L = json_num(json_get(samples[i], "length"), -1), D = json_num(json_get(samples[i], "depth"), -1);
            int seen = 0, k = 0;
            double ok = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = json_num(json_get(samples[j], "length"), -1) == L && (pass || json_num(json_get(samples[j], "depth"), -1) == D);
            for (int j = i; j < n && !seen; j++)
                if (json_num(json_get(samples[j], "length"), -1) == L && (pass || json_num(json_get(samples[j], "depth"), -1) == D))
                    ok += json_num(json_get(samples[j], "correct"), 0), k++;
            if (seen) continue;
            jo_raw(o, first ? "" : ", "), first = 0;
            jo_raw(o, "{\"length\": "), jo_num(o, L);
            if (!pass) jo_raw(o, ", \"depth\": "), jo_num(o, D);
            jo_raw(o, ", \"n\": "), jo_int(o, k), jo_raw(o, ", \"accuracy\": "), jo_num(o, ok / k), jo_raw(o, "}");
        }
    }
    jo_raw(o, "]}");
}

/* One passkey/needle cell: its key, and its prompt once built. */
typedef struct {
    int64_t length, depth;
    int k;
    char key[96], answer[64];
    int32_t *toks;
    int64_t nt, cut;
} grid_cell;

/* Builds a cell's prompt tokens (the text from synth.c, the chat template, FullKV's middle cut). */
static int cell_prompt(eval_run *r, const eval_opts *o, const eval_method *e, const ei_model *m, int needle, const char *hay,
                       size_t hay_len, int max_new, grid_cell *c) {
    char err[400];
    char *text = needle ? synth_needle(m, hay, hay_len, c->length, (int)c->depth, o->seed, c->k, c->answer, err, sizeof err)
                        : synth_passkey(m, c->length, (int)c->depth, o->seed, c->k, c->answer, err, sizeof err);
    if (!text) { eval_err("%s %s: %s", o->bench, c->key, err); return -1; }
    c->toks = eval_tokens(r, text, 1, e->full ? eval_full_budget(r, max_new) : 0, &c->nt, &c->cut);
    free(text);
    return c->toks ? 0 : -1;
}

static int grid_method(const eval_opts *o, const eval_method *e, const ei_model *m, int needle, const int64_t *lengths, int nl,
                       const int64_t *depths, int nd, const char *hay, size_t hay_len, const char *options) {
    static const char *const ident[] = {"seed", "essays_sha256", "filler", NULL};
    const int max_new = needle ? 48 : 16;
    eval_run r;
    int rc = eval_run_open(&r, o, e, m, options, ident, grid_summary);
    /* the cells still to run, in grid order; prompts are built EVAL_LOOKAHEAD samples ahead so that
     * the harness can keep the state where prompts part (a needle's haystack prefix is shared) */
    grid_cell *todo = calloc((size_t)nl * nd * (o->keys > 0 ? o->keys : 1), sizeof *todo);
    int n_todo = 0;
    if (!todo && !rc) eval_err("out of memory"), rc = -1;
    for (int i = 0; !rc && i < nl; i++) {
        if (e->full && lengths[i] > r.n_ctx_train) {
            eval_note("%s %s: %lld tokens are beyond the trained context of %d: cells skipped", o->bench, e->name, (long long)lengths[i],
                      r.n_ctx_train);
            continue;
        }
        for (int d = 0; d < nd; d++)
            for (int k = 0; k < o->keys; k++) {
                grid_cell *c = &todo[n_todo];
                *c = (grid_cell){.length = lengths[i], .depth = depths[d], .k = k};
                snprintf(c->key, sizeof c->key, "%lld/%lld/%d", (long long)c->length, (long long)c->depth, k);
                if (needle) snprintf(c->answer, sizeof c->answer, "%s", synth_needle_answer(o->seed, k, c->length, (int)c->depth));
                else synth_passkey_answer(o->seed, k, c->length, (int)c->depth, c->answer);
                if (!eval_run_expect_answer(&r, c->key, c->answer)) n_todo++;
            }
    }
    if (r.stale)
        eval_note("%s: %d stored samples asked for another answer than their prompt now does (an earlier draw): they run again",
                  r.path, r.stale);
    for (int t = 0; !rc && t < n_todo; t++) {
        grid_cell *c = &todo[t];
        eval_progress(&r, c->key);
        const double t0 = ei_time_s();
        const int32_t *ahead[EVAL_LOOKAHEAD];
        int64_t ahead_n[EVAL_LOOKAHEAD];
        int n_ahead = 0;
        if (!c->toks && cell_prompt(&r, o, e, m, needle, hay, hay_len, max_new, c)) { rc = -1; break; }
        for (int j = t + 1; j < n_todo && n_ahead < EVAL_LOOKAHEAD; j++) {
            if (!todo[j].toks && cell_prompt(&r, o, e, m, needle, hay, hay_len, max_new, &todo[j])) { rc = -1; break; }
            ahead[n_ahead] = todo[j].toks, ahead_n[n_ahead++] = todo[j].nt;
        }
        if (rc) break;
        eval_next_prompts(&r, n_ahead, ahead, ahead_n);
        int gen = 0;
        char *pred = eval_generate(&r, c->toks, c->nt, max_new, -1, &gen);
        free(c->toks), c->toks = NULL;
        if (!pred) { rc = -1; break; }
        json_out f = {0};
        jo_raw(&f, "{\"key\": "), jo_str(&f, c->key), jo_raw(&f, ", \"length\": "), jo_int(&f, c->length);
        jo_raw(&f, ", \"depth\": "), jo_int(&f, c->depth), jo_raw(&f, ", \"k\": "), jo_int(&f, c->k);
        jo_raw(&f, ", \"prompt_tokens\": "), jo_int(&f, c->nt), jo_raw(&f, ", \"truncated\": "), jo_int(&f, c->cut);
        jo_raw(&f, ", \"prefix_reused\": "), jo_int(&f, r.reused);
        jo_raw(&f, ", \"generated_tokens\": "), jo_int(&f, gen), jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0);
        jo_raw(&f, ", \"answer\": "), jo_str(&f, c->answer), jo_raw(&f, ", \"prediction\": "), jo_str(&f, pred);
        jo_raw(&f, ", \"correct\": "), jo_int(&f, strstr(pred, c->answer) != NULL), jo_raw(&f, "}");
        free(pred);
        rc = eval_run_add_out(&r, &f);
    }
    for (int t = 0; todo && t < n_todo; t++) free(todo[t].toks);
    free(todo);
    return eval_run_end(&r, rc);
}

int eval_passkey(int argc, char **argv, int needle) {
    static const char *const flags_p[] = {"--lengths", "--depths", "--keys", "--seed", NULL};
    static const char *const flags_n[] = {"--lengths", "--depths", "--keys", "--seed", "--essays", NULL};
    eval_opts o;
    eval_method methods[EVAL_MAX_METHODS];
    int64_t lengths[MAX_GRID], depths[MAX_GRID];
    int nm, nl, nd, rc = 2;
    if (eval_parse_opts(argc, argv, &o, "qa", needle ? flags_n : flags_p) ||
        (nm = eval_parse_methods(o.methods, methods, EVAL_MAX_METHODS)) < 0 ||
        (nl = eval_parse_list("--lengths", o.lengths ? o.lengths : "1K,2K,4K,8K,16K,32K,64K,128K", 16, (int64_t)1 << 24, lengths, MAX_GRID)) < 0 ||
        (nd = eval_parse_list("--depths", o.depths ? o.depths : "0,25,50,75,100", 0, 100, depths, MAX_GRID)) < 0) {
        eval_opts_free(&o);
        return 2;
    }
    const char *essays = o.essays ? o.essays : EVAL_DATA_ROOT "/pg_essays";
    size_t hay_len = 0;
    char sha[65] = "";
    char *hay = needle ? read_essays(essays, &hay_len, sha) : NULL;
    ei_model *m = !needle || hay ? eval_load_model(o.model_path) : NULL;
    if (m) {
        json_out opt = {0};
        jo_raw(&opt, "{\"lengths\": "), list_json(&opt, lengths, nl), jo_raw(&opt, ", \"depths\": "), list_json(&opt, depths, nd);
        jo_raw(&opt, ", \"keys\": "), jo_int(&opt, o.keys), jo_raw(&opt, ", \"seed\": "), jo_int(&opt, (int64_t)o.seed);
        jo_raw(&opt, ", \"max_new\": "), jo_int(&opt, needle ? 48 : 16);
        jo_raw(&opt, ", \"essays\": ");
        if (needle) jo_str(&opt, essays), jo_raw(&opt, ", \"essays_sha256\": "), jo_str(&opt, sha);
        else jo_raw(&opt, "null, \"essays_sha256\": null, \"filler\": \"shared\""); /* one filler stream for all cells */
        jo_raw(&opt, "}");
        rc = opt.failed ? (eval_err("out of memory"), 2) : 0;
        for (int k = 0; k < nm && !rc; k++) rc = grid_method(&o, &methods[k], m, needle, lengths, nl, depths, nd, hay, hay_len, opt.buf) ? 1 : 0;
        free(opt.buf);
    }
    free(hay);
    ei_model_free(m);
    eval_opts_free(&o);
    return rc;
}

/* ------------------------------------------------------------ perplexity by position band */

/* scores: {"<corpus>": [bands]}: each sample's bands */
static void ppl_summary(json_out *o, json *const *samples, int n) {
    jo_raw(o, "{");
    for (int i = 0; i < n; i++) {
        jo_raw(o, i ? ", " : ""), jo_str(o, json_str(json_get(samples[i], "corpus")));
        jo_raw(o, ": "), jo_value(o, json_get(samples[i], "bands"));
    }
    jo_raw(o, "}");
}

typedef struct { const char *name; int32_t *toks; int64_t n; } corpus;

static void ppl_progress(void *user, int64_t done, int64_t total) {
    const eval_run *r = user;
    if (r->tty) fprintf(stderr, "\r\033[K[ppl %s] %lld/%lld tokens", r->method.name, (long long)done, (long long)total);
}

static int ppl_method(const eval_opts *o, const eval_method *e, const ei_model *m, const corpus *cs, int nc, const int64_t *edges, int ne,
                      const char *options) {
    static const char *const ident[] = {"max_tokens", "bands", NULL};
    eval_run r;
    int rc = eval_run_open(&r, o, e, m, options, ident, ppl_summary);
    for (int c = 0; !rc && c < nc; c++) eval_run_expect(&r, cs[c].name);
    for (int c = 0; !rc && c < nc; c++) {
        if (eval_run_has(&r, cs[c].name)) continue;
        int64_t n = cs[c].n < o->max_tokens ? cs[c].n : o->max_tokens;
        const int limited = e->full && n > r.n_ctx_train;
        if (limited) {
            n = r.n_ctx_train;
            eval_note("ppl %s: %s stops at the trained context of %d tokens (FullKV)", e->name, cs[c].name, r.n_ctx_train);
        }
        eval_progress(&r, cs[c].name);
        ppl_band bands[MAX_GRID + 1];
        for (int b = 0; b <= ne; b++) bands[b] = (ppl_band){b ? edges[b - 1] : 0, b < ne ? edges[b] : INT64_MAX, 0, 0.0};
        const double t0 = ei_time_s();
        ei_session_reset(r.s);
        if (ppl_stream(r.s, m, cs[c].toks, n, bands, ne + 1, ppl_progress, &r)) {
            eval_err("ppl %s: %s: %s", e->name, cs[c].name, ppl_error());
            rc = -1;
            break;
        }
        json_out f = {0};
        double nll = 0;
        int64_t cnt = 0;
        jo_raw(&f, "{\"key\": "), jo_str(&f, cs[c].name), jo_raw(&f, ", \"corpus\": "), jo_str(&f, cs[c].name);
        jo_raw(&f, ", \"tokens\": "), jo_int(&f, n), jo_raw(&f, ", \"limited_to_n_ctx\": "), jo_raw(&f, limited ? "true" : "false");
        jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0), jo_raw(&f, ",\n   \"bands\": [");
        for (int b = 0, first = 1; b <= ne; b++) {
            if (!bands[b].tokens) continue;
            jo_raw(&f, first ? "" : ", "), first = 0;
            jo_raw(&f, "{\"from\": "), jo_int(&f, bands[b].from), jo_raw(&f, ", \"to\": ");
            if (b < ne) jo_int(&f, bands[b].to);
            else jo_raw(&f, "null"); /* the last band runs to the end of the stream */
            jo_raw(&f, ", \"tokens\": "), jo_int(&f, bands[b].tokens), jo_raw(&f, ", \"nll_sum\": "), jo_num(&f, bands[b].nll_sum);
            jo_raw(&f, ", \"ppl\": "), jo_num(&f, exp(bands[b].nll_sum / (double)bands[b].tokens)), jo_raw(&f, "}");
            nll += bands[b].nll_sum, cnt += bands[b].tokens;
        }
        jo_raw(&f, "], \"ppl\": ");
        if (cnt) jo_num(&f, exp(nll / (double)cnt));
        else jo_raw(&f, "null");
        jo_raw(&f, "}");
        rc = eval_run_add_out(&r, &f);
    }
    return eval_run_end(&r, rc);
}

/* Tokens of a corpus: BOS when the model wants one, then the text (no template). */
static int32_t *tokenize_all(const ei_model *m, const char *name, const char *text, size_t len, int64_t *n) {
    const int bos = ei_token_add_bos(m);
    const int64_t need = ei_tokenize(m, text, len, bos, 0, NULL, 0);
    int32_t *t = need > 0 ? malloc((size_t)need * sizeof *t) : NULL;
    if (need < 0) eval_err("%s: %s", name, ei_last_error());
    else if (!t) eval_err("%s: %s", name, need ? "out of memory" : "empty");
    else ei_tokenize(m, text, len, bos, 0, t, need);
    *n = need;
    return t;
}

int eval_ppl(int argc, char **argv) {
    static const char *const flags[] = {"--corpus", "--max-tokens", "--bands", "--essays", "--wikitext", NULL};
    eval_opts o;
    eval_method methods[EVAL_MAX_METHODS];
    int64_t edges[MAX_GRID];
    int nm, ne;
    if (eval_parse_opts(argc, argv, &o, "stream", flags) || (nm = eval_parse_methods(o.methods, methods, EVAL_MAX_METHODS)) < 0 ||
        (ne = eval_parse_list("--bands", o.bands ? o.bands : "8K,16K,32K,64K,128K", 1, (int64_t)1 << 30, edges, MAX_GRID)) < 0) {
        eval_opts_free(&o);
        return 2;
    }
    for (int b = 1; b < ne; b++)
        if (edges[b] <= edges[b - 1]) { eval_err("--bands: edges must increase (%lld after %lld)", (long long)edges[b], (long long)edges[b - 1]); eval_opts_free(&o); return 2; }
    const char *which = o.corpus ? o.corpus : "both";
    const int want_w = !strcmp(which, "both") || eval_in_list(which, "wikitext"), want_e = !strcmp(which, "both") || eval_in_list(which, "essays");
    for (const char *p = which; strcmp(which, "both") && *p;) {
        const size_t l = strcspn(p, ",");
        if (!((l == 8 && !strncmp(p, "wikitext", 8)) || (l == 6 && !strncmp(p, "essays", 6)))) {
            eval_err("--corpus: unknown corpus '%.*s' (wikitext, essays, both)", (int)l, p);
            eval_opts_free(&o);
            return 2;
        }
        p += l + (p[l] == ',');
    }
    const char *wiki_path = o.wikitext ? o.wikitext : EVAL_DATA_ROOT "/wikitext-2/wiki.test.raw";
    const char *essays = o.essays ? o.essays : EVAL_DATA_ROOT "/pg_essays";
    corpus cs[2] = {{"wikitext", NULL, 0}, {"essays", NULL, 0}};
    char sha_w[65] = "", sha_e[65] = "";
    int rc = 0;
    ei_model *m = eval_load_model(o.model_path);
    if (!m) rc = 2;
    for (int c = 0; c < 2 && !rc; c++) {
        if (!(c ? want_e : want_w)) continue;
        size_t len = 0;
        char *text = c ? read_essays(essays, &len, sha_e) : eval_read_file(wiki_path, &len);
        if (!c && !text) eval_err("%s: cannot read", wiki_path);
        if (!c && text && sha256_file(wiki_path, sha_w)) eval_err("%s: cannot read", wiki_path), free(text), text = NULL;
        if (!text || !(cs[c].toks = tokenize_all(m, cs[c].name, text, len, &cs[c].n))) rc = 2;
        free(text);
    }
    corpus use[2];
    int nc = 0;
    for (int c = 0; c < 2; c++)
        if (cs[c].toks) use[nc++] = cs[c];
    if (!rc) {
        json_out opt = {0};
        jo_raw(&opt, "{\"corpus\": "), jo_str(&opt, which), jo_raw(&opt, ", \"max_tokens\": "), jo_int(&opt, o.max_tokens);
        jo_raw(&opt, ", \"bands\": "), list_json(&opt, edges, ne);
        jo_raw(&opt, ", \"wikitext\": "), jo_str(&opt, want_w ? wiki_path : ""), jo_raw(&opt, ", \"wikitext_sha256\": "), jo_str(&opt, sha_w);
        jo_raw(&opt, ", \"essays\": "), jo_str(&opt, want_e ? essays : ""), jo_raw(&opt, ", \"essays_sha256\": "), jo_str(&opt, sha_e);
        jo_raw(&opt, "}");
        if (opt.failed) eval_err("out of memory"), rc = 2;
        for (int k = 0; k < nm && !rc; k++) rc = ppl_method(&o, &methods[k], m, use, nc, edges, ne, opt.buf) ? 1 : 0;
        free(opt.buf);
    }
    free(cs[0].toks), free(cs[1].toks);
    ei_model_free(m);
    eval_opts_free(&o);
    return rc;
}

/* Passkey retrieval, needle in a haystack and long-context perplexity (evaluation.md). The filler,
 * needles and questions are this project's own wording. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MAX_METHODS 16
#define MAX_GRID 32

static const char *const filler[] = {
    "The river bends twice before it reaches the old mill at the edge of the village.",
    "Every autumn the farmers bring their grain there, and the miller writes each sack into a ledger.",
    "In the coldest weeks the wheel freezes, and the village waits for the thaw with little complaint.",
    "Children skate on the millpond while their parents mend nets and sharpen tools for the spring.",
    "When the ice breaks, the water runs fast and brown, carrying branches down toward the sea.",
    "The baker opens before dawn, and the smell of bread drifts along the empty street.",
    "Travellers sometimes stop at the inn, trade news from the city, and leave before noon.",
    "Nothing much changes from year to year, and most people there would not want it to.",
};
#define N_FILLER (int)(sizeof filler / sizeof filler[0])

typedef struct { const char *fact, *question, *answer; } needle;
static const needle needles[] = {
    {"The lighthouse keeper on Varrow Island named her grey cat Juniper.",
     "What did the lighthouse keeper on Varrow Island name her cat?", "Juniper"},
    {"The secret ingredient in Aunt Odile's plum cake is cardamom.", "What is the secret ingredient in Aunt Odile's plum cake?",
     "cardamom"},
    {"The night train from Lindmoor to Castel Brun leaves from platform 17.",
     "From which platform does the night train from Lindmoor to Castel Brun leave?", "17"},
    {"The rowing club of Pellworth painted its boathouse turquoise.",
     "What colour did the rowing club of Pellworth paint its boathouse?", "turquoise"},
    {"The astronomer Ilsa Marquand named the comet she found after her grandmother Rosalind.",
     "After whom did the astronomer Ilsa Marquand name her comet?", "Rosalind"},
};
#define N_NEEDLES (int)(sizeof needles / sizeof needles[0])

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t count_tokens(const ei_model *m, const char *s, size_t n) { return ei_tokenize(m, s, n, 0, 0, NULL, 0); }

/* Parses "1024,2K,..." into out (at most cap values). */
static int parse_list(const char *flag, const char *s, int *out, int cap) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (*end == 'K' || *end == 'k') v *= 1024, end++;
        if (end == p || (*end && *end != ',') || v < 0 || v > (1 << 24) || n == cap) {
            eval_err("%s: expected a comma-separated list of at most %d numbers, got '%s'", flag, cap, s);
            return -1;
        }
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* Text of about `target` tokens: filler sentences (passkey) or the haystack cut at a sentence end
 * (needle), with `insert` placed at depth percent, then the question. */
static char *build_prompt(const ei_model *m, const char *hay, size_t hay_len, int64_t target, int depth, const char *insert,
                          const char *question) {
    const int64_t fixed = count_tokens(m, insert, strlen(insert)) + count_tokens(m, question, strlen(question)) + 4;
    int64_t want = target - fixed;
    if (want < 16) want = 16;
    /* body bytes: estimate from the token density of a sample, then correct once by measuring */
    size_t body = 0;
    const size_t sample_len = hay_len < 40000 ? hay_len : 40000;
    const double bytes_per_tok = (double)sample_len / (double)(count_tokens(m, hay, sample_len) + 1);
    for (int pass = 0; pass < 3; pass++) {
        size_t guess = pass == 0 ? (size_t)(want * bytes_per_tok) : body;
        if (pass > 0) {
            int64_t got = count_tokens(m, hay, body);
            if (got < 0) return NULL;
            guess = (size_t)((double)body * (double)want / (double)(got ? got : 1));
        }
        if (guess > hay_len) guess = hay_len;
        /* end at a sentence boundary */
        size_t b = guess;
        while (b > 0 && b < hay_len && !(hay[b - 1] == '.' && (hay[b] == ' ' || hay[b] == '\n'))) b--;
        body = b ? b : guess;
    }
    size_t at = (size_t)((double)body * depth / 100.0);
    while (at > 0 && at < body && !(hay[at - 1] == '.' && (hay[at] == ' ' || hay[at] == '\n'))) at--;
    const size_t n = body + strlen(insert) + strlen(question) + 8;
    char *out = malloc(n);
    if (!out) return NULL;
    snprintf(out, n, "%.*s %s %.*s\n\n%s", (int)at, hay, insert, (int)(body - at), hay + at, question);
    return out;
}

/* The passkey filler, repeated to at least `bytes`. */
static char *make_filler(size_t bytes) {
    size_t cap = bytes + 256, len = 0;
    char *s = malloc(cap);
    for (int i = 0; s && len < bytes; i++) {
        const char *f = filler[i % N_FILLER];
        size_t l = strlen(f);
        if (len + l + 2 > cap) break;
        memcpy(s + len, f, l), len += l;
        s[len++] = (i % 4 == 3) ? '\n' : ' ';
    }
    if (s) s[len] = 0;
    return s;
}

static char *read_essays(size_t *len) {
    static const char *const names[] = {"worked", "love", "hubs", "gap", "apple", "founders", "newideas", "island", "before"};
    json_out o = {0};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n;
        snprintf(path, sizeof path, "../shared/data/pg_essays/%s.txt", names[i]);
        char *t = eval_read_file(path, &n);
        if (!t) { free(o.buf); eval_err("%s: cannot read (needle haystack)", path); return NULL; }
        jo_raw(&o, t), jo_raw(&o, "\n\n");
        free(t);
    }
    if (o.failed) { free(o.buf); return NULL; }
    *len = o.len;
    return o.buf;
}

int eval_passkey(int argc, char **argv, int is_needle) {
    eval_opts o;
    if (eval_parse_opts(argc, argv, &o, "qa")) return 2;
    int lengths[MAX_GRID], depths[MAX_GRID];
    const int nl = parse_list("--lengths", o.lengths ? o.lengths : "1K,2K,4K,8K,16K,32K,64K,128K", lengths, MAX_GRID);
    const int nd = parse_list("--depths", o.depths ? o.depths : "0,25,50,75,100", depths, MAX_GRID);
    if (nl < 0 || nd < 0) return 2;
    for (int i = 0; i < nd; i++)
        if (depths[i] > 100) { eval_err("--depths: %d is not a percentage", depths[i]); return 2; }
    eval_method methods[MAX_METHODS];
    const int nm = eval_parse_methods(o.methods, methods, MAX_METHODS);
    if (nm < 0) return 2;
    int max_len = 0;
    for (int i = 0; i < nl; i++) max_len = lengths[i] > max_len ? lengths[i] : max_len;
    size_t hay_len = 0;
    char *hay = is_needle ? read_essays(&hay_len) : make_filler((size_t)max_len * 6 + 4096);
    if (!hay) return 2;
    if (is_needle) { /* repeat the essays as needed */
        const size_t need = (size_t)max_len * 6 + 4096;
        if (hay_len < need) {
            char *big = malloc(need + 1);
            if (!big) { free(hay); return 2; }
            for (size_t k = 0; k < need; k += hay_len) memcpy(big + k, hay, need - k < hay_len ? need - k : hay_len);
            big[need] = 0;
            free(hay), hay = big, hay_len = need;
        }
    } else hay_len = strlen(hay);
    ei_model *m = ei_model_load(o.model_path);
    if (!m) { eval_err("%s", ei_last_error()); free(hay); return 2; }
    const int n_ctx = ei_model_get_info(m)->n_ctx_train;
    int rc = 0;
    for (int k = 0; k < nm && !rc; k++) {
        int n_cells = 0;
        for (int i = 0; i < nl; i++) n_cells += !(methods[k].full && lengths[i] > n_ctx - 64);
        eval_run r;
        if (eval_run_open(&r, &o, is_needle ? "needle" : "passkey", &methods[k], m, n_cells * nd * o.keys)) {
            eval_run_close(&r);
            rc = 2;
            break;
        }
        for (int i = 0; i < nl && !rc; i++) {
            if (methods[k].full && lengths[i] > n_ctx - 64) {
                fprintf(stderr, "edgeinf: %s: %d tokens do not fit the trained context %d: skipped for full attention\n",
                        r.bench, lengths[i], n_ctx);
                continue;
            }
            for (int d = 0; d < nd && !rc; d++)
                for (int t = 0; t < o.keys && !rc; t++) {
                    char key[160], cell[96], len_s[32], answer[64], insert[256], question[256];
                    snprintf(key, sizeof key, "%d/%d/%d", lengths[i], depths[d], t);
                    if (eval_run_has(&r, key)) continue;
                    eval_progress(&r, key);
                    uint64_t seed = o.seed * 1000003u + (uint64_t)lengths[i] * 131u + (uint64_t)depths[d] * 7u + (uint64_t)t;
                    const uint64_t rnd = splitmix(&seed);
                    if (is_needle) {
                        const needle *nd_ = &needles[rnd % N_NEEDLES];
                        snprintf(insert, sizeof insert, "%s", nd_->fact);
                        snprintf(question, sizeof question, "%s Answer in a few words, using the text above.", nd_->question);
                        snprintf(answer, sizeof answer, "%s", nd_->answer);
                    } else {
                        snprintf(answer, sizeof answer, "%05u", (unsigned)(10000 + rnd % 90000));
                        snprintf(insert, sizeof insert, "Remember this: the pass key is %s. The pass key is %s.", answer, answer);
                        snprintf(question, sizeof question, "What is the pass key mentioned in the text above? Answer with the number only.");
                    }
                    const double t0 = ei_time_s();
                    char *text = build_prompt(m, hay, hay_len, lengths[i], depths[d], insert, question);
                    int64_t nt = 0, cut = 0;
                    int32_t *toks = text ? eval_tokens(&r, text, 1, methods[k].full ? n_ctx - 48 : 0, &nt, &cut) : NULL;
                    int gen = 0;
                    char *pred = toks ? eval_generate(&r, toks, nt, is_needle ? 48 : 16, 0, &gen) : NULL;
                    free(text), free(toks);
                    if (!pred) { rc = 2; break; }
                    const int ok = strstr(pred, answer) != NULL;
                    json_out f = {0};
                    jo_raw(&f, "\"length\": "), jo_int(&f, lengths[i]), jo_raw(&f, ", \"depth\": "), jo_int(&f, depths[d]);
                    jo_raw(&f, ", \"prompt_tokens\": "), jo_int(&f, nt), jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0);
                    jo_raw(&f, ", \"answer\": "), jo_str(&f, answer), jo_raw(&f, ", \"prediction\": "), jo_str(&f, pred);
                    free(pred);
                    snprintf(cell, sizeof cell, "%d/%d", lengths[i], depths[d]);
                    snprintf(len_s, sizeof len_s, "%d", lengths[i]);
                    if (f.failed || eval_run_add(&r, key, cell, len_s, ok, f.buf)) rc = 2;
                    free(f.buf);
                }
        }
        if (!rc) fprintf(stderr, "%s[%s %s] done, wrote %s\n", r.tty ? "\r\033[K" : "", r.bench, r.method.name, r.path);
        eval_run_close(&r);
    }
    ei_model_free(m);
    free(hay);
    return rc;
}

/* ------------------------------------------------------------ perplexity by position band */

int eval_ppl(int argc, char **argv) {
    eval_opts o;
    if (eval_parse_opts(argc, argv, &o, "stream")) return 2;
    int edges[MAX_GRID];
    const int ne = parse_list("--bands", o.bands ? o.bands : "8K,16K,32K,64K,128K", edges, MAX_GRID);
    if (ne < 0) return 2;
    eval_method methods[MAX_METHODS];
    const int nm = eval_parse_methods(o.methods, methods, MAX_METHODS);
    if (nm < 0) return 2;
    const char *corpus = o.corpus ? o.corpus : "wikitext,essays";
    ei_model *m = ei_model_load(o.model_path);
    if (!m) { eval_err("%s", ei_last_error()); return 2; }
    const int V = ei_model_get_info(m)->n_vocab, n_ctx = ei_model_get_info(m)->n_ctx_train;
    int rc = 0;
    for (int k = 0; k < nm && !rc; k++) {
        eval_run r;
        const int n_corpora = 1 + (strchr(corpus, ',') != NULL);
        if (eval_run_open(&r, &o, "ppl", &methods[k], m, n_corpora)) { eval_run_close(&r); rc = 2; break; }
        float *logits = malloc(sizeof(float) * (size_t)V * (size_t)r.profile.chunk);
        for (int c = 0; c < 2 && !rc; c++) {
            const char *name = c == 0 ? "wikitext" : "essays";
            if (!strstr(corpus, name) || eval_run_has(&r, name)) continue;
            eval_progress(&r, name);
            size_t len = 0;
            char *text = c == 0 ? eval_read_file("../shared/data/wikitext-2/wiki.test.raw", &len) : read_essays(&len);
            int64_t nt = 0, cut = 0;
            int32_t *toks = text ? eval_tokens(&r, text, 0, 0, &nt, &cut) : NULL;
            free(text);
            if (!toks || !logits) { eval_err("%s: cannot read or tokenize the corpus", name); free(toks); rc = 2; break; }
            int64_t n = nt < o.max_tokens ? nt : o.max_tokens;
            if (methods[k].full && n > n_ctx) n = n_ctx; /* FullKV only up to its trained context */
            double nll[MAX_GRID + 1] = {0};
            int64_t cnt[MAX_GRID + 1] = {0};
            const double t0 = ei_time_s();
            ei_session_reset(r.s);
            for (int64_t p = 0; p < n && !rc; p += r.profile.chunk) {
                const int64_t step = n - p < r.profile.chunk ? n - p : r.profile.chunk;
                if (ei_session_eval(r.s, toks + p, step, logits, NULL, NULL)) { eval_err("%s", ei_last_error()); rc = 2; break; }
                for (int64_t i = 0; i < step && p + i + 1 < n; i++) {
                    const float *row = logits + (size_t)i * V;
                    double mx = row[0], sum = 0;
                    for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
                    for (int v = 0; v < V; v++) sum += exp((double)row[v] - mx);
                    const int64_t pos = p + i + 1;
                    int b = 0;
                    while (b < ne && pos >= edges[b]) b++;
                    nll[b] += mx + log(sum) - row[toks[pos]];
                    cnt[b]++;
                }
                if (r.tty) fprintf(stderr, "\r\033[K[ppl %s] %s %lld/%lld", r.method.name, name, (long long)(p + step), (long long)n);
            }
            free(toks);
            if (rc) break;
            json_out f = {0};
            double all_nll = 0;
            int64_t all_n = 0;
            jo_raw(&f, "\"tokens\": "), jo_int(&f, n), jo_raw(&f, ", \"seconds\": "), jo_num(&f, ei_time_s() - t0);
            jo_raw(&f, ", \"bands\": [");
            for (int b = 0, first = 1; b <= ne; b++) {
                if (!cnt[b]) continue;
                if (!first) jo_raw(&f, ", ");
                first = 0;
                jo_raw(&f, "{\"from\": "), jo_int(&f, b ? edges[b - 1] : 0), jo_raw(&f, ", \"to\": ");
                if (b < ne) jo_int(&f, edges[b]);
                else jo_raw(&f, "null");
                jo_raw(&f, ", \"tokens\": "), jo_int(&f, cnt[b]), jo_raw(&f, ", \"ppl\": "), jo_num(&f, exp(nll[b] / cnt[b])), jo_raw(&f, "}");
                all_nll += nll[b], all_n += cnt[b];
            }
            jo_raw(&f, "]");
            if (f.failed || eval_run_add(&r, name, name, NULL, all_n ? exp(all_nll / all_n) : NAN, f.buf)) rc = 2;
            free(f.buf);
        }
        free(logits);
        if (!rc) fprintf(stderr, "%s[ppl %s] done, wrote %s\n", r.tty ? "\r\033[K" : "", r.method.name, r.path);
        eval_run_close(&r);
    }
    ei_model_free(m);
    return rc;
}

/* LongBench metrics in C, equal to what the official Python harness computes (evaluation.md):
 * LongBench v1 metrics.py, the PyPI package `rouge` 1.0.1 and rapidfuzz's fuzz.ratio.
 * tests/test_metrics.c checks them against scores the Python code computed
 * (scripts/gen_metric_refs.py, which also generates the character tables of metrics_unicode.h).
 *
 * Text is read as Python's bytes.decode("utf-8", "replace") reads it: valid UTF-8 as code points,
 * each maximal invalid subsequence as one U+FFFD, so untrusted input never fails and scores equal
 * the Python ones on the decoded string. Words are compared by code points. Every function returns
 * NAN if memory runs out. */
#include "metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_unicode.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ decoding and character classes */

typedef struct { uint32_t *c; size_t n; } text;

/* One code point from s[i..n); returns the bytes consumed. The second-byte limits exclude overlong
 * forms, surrogates and code points above U+10FFFF, as CPython's decoder does. */
static size_t utf8_next(const unsigned char *s, size_t n, size_t i, uint32_t *cp) {
    const unsigned b = s[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t c;
    if (b < 0x80) { *cp = b; return 1; }
    if (b >= 0xC2 && b <= 0xDF) len = 2, c = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) len = 3, c = b & 0x0F, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4) len = 4, c = b & 0x07, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    else { *cp = 0xFFFD; return 1; }
    for (size_t k = 1; k < len; k++, lo = 0x80, hi = 0xBF) {
        if (i + k >= n || s[i + k] < lo || s[i + k] > hi) { *cp = 0xFFFD; return k; }
        c = c << 6 | (s[i + k] & 0x3Fu);
    }
    *cp = c;
    return len;
}

static int decode(const char *s, text *t) {
    const size_t n = s ? strlen(s) : 0;
    t->n = 0;
    if (!(t->c = malloc((n + 1) * sizeof *t->c))) return -1;
    for (size_t i = 0; i < n;) i += utf8_next((const unsigned char *)s, n, i, &t->c[t->n++]);
    return 0;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}
#define IN_TABLE(t, c) in_ranges(t, N_OF(t), c)

/* str.isspace(): what str.split() splits on */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
static int ascii_letter(uint32_t c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
/* re's \w and \d on str patterns are Unicode-aware: "٣" is a digit, "é" a word character */
static int py_word(uint32_t c) { return c < 0x80 ? ascii_letter(c) || ascii_digit(c) || c == '_' : IN_TABLE(uc_word, c); }
static int py_digit(uint32_t c) { return c < 0x80 ? ascii_digit(c) : IN_TABLE(uc_digit, c); }
static int py_cased(uint32_t c) { return c < 0x80 ? ascii_letter(c) : IN_TABLE(uc_cased, c); }
static int py_case_ignorable(uint32_t c) {
    return c < 0x80 ? c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' : IN_TABLE(uc_case_ignorable, c);
}

static uint32_t py_lower1(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    size_t lo = 0, hi = N_OF(uc_lower);
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (c < uc_lower[mid].lo) hi = mid;
        else if (c > uc_lower[mid].hi) lo = mid + 1;
        else return (c - uc_lower[mid].lo) % uc_lower[mid].stride ? c : (uint32_t)((int32_t)c + uc_lower[mid].delta);
    }
    return c;
}

/* str.lower() of t into out (room for 2 t->n): U+0130 becomes two code points, and a capital sigma
 * that ends a word (a cased letter before it, none after, skipping case-ignorable ones) becomes ς. */
static size_t py_lower(const text *t, uint32_t *out) {
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        const uint32_t c = t->c[i];
        if (c == 0x130) { out[m++] = 'i', out[m++] = 0x307; continue; }
        if (c != 0x3A3) { out[m++] = py_lower1(c); continue; }
        size_t j = i, k = i + 1;
        while (j > 0 && py_case_ignorable(t->c[j - 1])) j--;
        while (k < t->n && py_case_ignorable(t->c[k])) k++;
        out[m++] = j > 0 && py_cased(t->c[j - 1]) && !(k < t->n && py_cased(t->c[k])) ? 0x3C2 : 0x3C3;
    }
    return m;
}

/* ------------------------------------------------------------ words */

typedef struct { const uint32_t *p; size_t len, pos; } word;
typedef struct { word *w; size_t n, cap; } words;

static int push_word(words *ws, const uint32_t *p, size_t len) {
    if (ws->n == ws->cap) {
        const size_t cap = ws->cap ? 2 * ws->cap : 16;
        word *w = realloc(ws->w, cap * sizeof *w);
        if (!w) return -1;
        ws->w = w, ws->cap = cap;
    }
    ws->w[ws->n] = (word){p, len, ws->n};
    ws->n++;
    return 0;
}

/* str.split(): the runs of non-space code points of c[0..n) */
static int split_space(const uint32_t *c, size_t n, words *out) {
    for (size_t i = 0; i < n;) {
        while (i < n && py_space(c[i])) i++;
        size_t j = i;
        while (j < n && !py_space(c[j])) j++;
        if (j > i && push_word(out, c + i, j - i)) return -1;
        i = j;
    }
    return 0;
}

static int cmp_word(const void *a, const void *b) {
    const word *x = a, *y = b;
    for (size_t i = 0; i < x->len && i < y->len; i++)
        if (x->p[i] != y->p[i]) return x->p[i] < y->p[i] ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

static void sort_words(word *w, size_t n) {
    if (n > 1) qsort(w, n, sizeof *w, cmp_word); /* (w may be NULL when n == 0) */
}

/* ------------------------------------------------------------ qa F1 */

static int ascii_punct(uint32_t c) { return c >= 0x21 && c <= 0x7E && !ascii_letter(c) && !ascii_digit(c); }

/* LongBench's normalize_answer(s).split(): lower; drop string.punctuation (ASCII only); replace
 * the words a, an, the (\b on both sides, Unicode \w) by a space; split on white space. The words
 * point into *buf. */
static int qa_words(const char *s, uint32_t **buf, words *out) {
    text t = {0};
    uint32_t *low = NULL;
    int rc = -1;
    if (decode(s, &t) || !(low = malloc((2 * t.n + 1) * sizeof *low)) || !(*buf = malloc((2 * t.n + 1) * sizeof **buf)))
        goto done;
    size_t m = 0, k = 0;
    for (size_t i = 0, n = py_lower(&t, low); i < n; i++)
        if (!ascii_punct(low[i])) low[m++] = low[i];
    for (size_t i = 0; i < m;) {
        size_t art = 0;
        if (i == 0 || !py_word(low[i - 1])) {
            static const char *const arts[] = {"a", "an", "the"};
            for (size_t a = 0; a < N_OF(arts) && !art; a++) {
                const size_t l = strlen(arts[a]);
                size_t q = 0;
                while (q < l && i + q < m && low[i + q] == (uint32_t)arts[a][q]) q++;
                if (q == l && (i + l == m || !py_word(low[i + l]))) art = l;
            }
        }
        (*buf)[k++] = art ? ' ' : low[i];
        i += art ? art : 1;
    }
    rc = split_space(*buf, k, out);
done:
    free(t.c), free(low);
    return rc;
}

double metric_qa_f1(const char *pred, const char *gold) {
    uint32_t *bp = NULL, *bg = NULL;
    words p = {0}, g = {0};
    double f1 = NAN;
    if (!qa_words(pred, &bp, &p) && !qa_words(gold, &bg, &g)) {
        /* size of the multiset intersection (Counter &): a merge of the sorted lists */
        sort_words(p.w, p.n), sort_words(g.w, g.n);
        size_t i = 0, j = 0, same = 0;
        while (i < p.n && j < g.n) {
            const int c = cmp_word(&p.w[i], &g.w[j]);
            if (c == 0) same++, i++, j++;
            else if (c < 0) i++;
            else j++;
        }
        f1 = 0.0;
        if (same) {
            const double prec = 1.0 * (double)same / (double)p.n, rec = 1.0 * (double)same / (double)g.n;
            f1 = (2 * prec * rec) / (prec + rec);
        }
    }
    free(bp), free(bg), free(p.w), free(g.w);
    return f1;
}

/* ------------------------------------------------------------ ROUGE (package `rouge` 1.0.1) */

/* The package's preprocessing -- case-sensitive, nothing removed: split on '.', keep the pieces
 * that are not empty, " ".join(piece.split()), then .split(" "), so a blank piece is one empty
 * word. end[s] = words up to the end of sentence s; id = the words as numbers shared by both
 * texts (equal ids, equal words). */
typedef struct { text t; words w; size_t *end, ns; uint32_t *id; } rtext;

static int rouge_split(const char *s, rtext *r) {
    if (decode(s, &r->t) || !(r->end = malloc((r->t.n + 1) * sizeof *r->end))) return -1;
    for (size_t a = 0; a <= r->t.n; a++) {
        size_t b = a;
        while (b < r->t.n && r->t.c[b] != '.') b++;
        if (b > a) {
            const size_t before = r->w.n;
            if (split_space(r->t.c + a, b - a, &r->w) || (r->w.n == before && push_word(&r->w, r->t.c + a, 0)))
                return -1;
            r->end[r->ns++] = r->w.n;
        }
        a = b;
    }
    return 0;
}

static void rouge_free(rtext *r) { free(r->t.c), free(r->w.w), free(r->end), free(r->id); }

/* Splits both texts and numbers their words; *vocab = the number of distinct words. */
static int rouge_prepare(const char *pred, const char *gold, rtext *h, rtext *r, size_t *vocab) {
    if (rouge_split(pred, h) || rouge_split(gold, r)) return -1;
    const size_t n = h->w.n + r->w.n;
    word *all = malloc((n + 1) * sizeof *all);
    h->id = malloc((h->w.n + 1) * sizeof *h->id), r->id = malloc((r->w.n + 1) * sizeof *r->id);
    if (!all || !h->id || !r->id) { free(all); return -1; }
    for (size_t i = 0; i < n; i++) all[i] = i < h->w.n ? h->w.w[i] : r->w.w[i - h->w.n], all[i].pos = i;
    sort_words(all, n);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp_word(&all[i - 1], &all[i])) id++;
        if (all[i].pos < h->w.n) h->id[all[i].pos] = id;
        else r->id[all[i].pos - h->w.n] = id;
    }
    *vocab = n ? (size_t)id + 1 : 0;
    free(all);
    return 0;
}

/* The distinct values of a[0..na) (cnt[0]), of b[0..nb) (cnt[1]) and of both (cnt[2]); all < bound. */
static int count_sets(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t bound, size_t cnt[3]) {
    unsigned char *seen = calloc(bound + 1, 1);
    if (!seen) return -1;
    for (size_t i = 0; i < na; i++) seen[a[i]] |= 1;
    for (size_t i = 0; i < nb; i++) seen[b[i]] |= 2;
    cnt[0] = cnt[1] = cnt[2] = 0;
    for (size_t v = 0; v < bound; v++) cnt[0] += seen[v] & 1, cnt[1] += seen[v] >> 1, cnt[2] += seen[v] == 3;
    free(seen);
    return 0;
}

typedef struct { uint64_t key; size_t pos; } keyed;
static int cmp_keyed(const void *a, const void *b) {
    const uint64_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
    return (x > y) - (x < y);
}

/* the package's F: precision and recall are 0 over an empty set, and 1e-8 keeps 0/0 away */
static double f_score(double overlap, double n_eval, double n_ref) {
    const double p = n_eval > 0 ? overlap / n_eval : 0.0, r = n_ref > 0 ? overlap / n_ref : 0.0;
    return 2.0 * ((p * r) / (p + r + 1e-8));
}

/* ROUGE-N over the sets of n-grams of the whole texts (sentences joined). */
double metric_rouge_n(const char *pred, const char *gold, int n) {
    rtext h = {0}, r = {0};
    size_t bound, cnt[3];
    keyed *k = NULL;
    uint32_t *ia = NULL;
    double f = NAN;
    if (rouge_prepare(pred, gold, &h, &r, &bound)) goto done;
    f = 0.0; /* the package raises on a text without sentences: LongBench's 0 */
    if (n < 1 || h.ns == 0 || r.ns == 0) goto done;
    /* ia/ib number the k-grams at each position: for k = 1 the words, then the pairs (number of
     * the (k-1)-gram at i, word i+k-1), so equal numbers are equal n-grams */
    size_t la = h.w.n, lb = r.w.n;
    if (!(ia = malloc((la + lb + 1) * sizeof *ia)) || !(k = malloc((la + lb + 1) * sizeof *k))) { f = NAN; goto done; }
    uint32_t *ib = ia + la;
    memcpy(ia, h.id, la * sizeof *ia), memcpy(ib, r.id, lb * sizeof *ib);
    for (size_t level = 2; level <= (size_t)n; level++) {
        la = la ? la - 1 : 0, lb = lb ? lb - 1 : 0;
        for (size_t i = 0; i < la + lb; i++) {
            const uint32_t prev = i < la ? ia[i] : ib[i - la], next = i < la ? h.id[i + level - 1] : r.id[i - la + level - 1];
            k[i] = (keyed){(uint64_t)prev << 32 | next, i};
        }
        if (la + lb > 1) qsort(k, la + lb, sizeof *k, cmp_keyed);
        uint32_t id = 0;
        for (size_t i = 0; i < la + lb; i++) {
            if (i > 0 && k[i].key != k[i - 1].key) id++;
            if (k[i].pos < la) ia[k[i].pos] = id;
            else ib[k[i].pos - la] = id;
        }
        bound = la + lb;
    }
    if (count_sets(ia, la, ib, lb, bound, cnt)) { f = NAN; goto done; }
    f = f_score((double)cnt[2], (double)cnt[0], (double)cnt[1]);
done:
    free(k), free(ia);
    rouge_free(&h), rouge_free(&r);
    return f;
}

/* The package rebuilds each LCS with a recursive function, one call per step back through the
 * table plus one. Under LongBench's eval.py (9 frames deep at the first call; Python's default
 * limit is 1000 frames) a sentence pair whose traceback takes more than 990 steps raises
 * RecursionError, which LongBench's rouge_score turns into a score of 0: reproduced, so the scores
 * stay the official ones. It bounds the work too: the traceback stays in the last 991 rows and
 * columns of the table, the only part kept. */
#define LCS_MAX_STEPS 990

/* Marks in `taken` the words of the LCS of x (reference) and y (hypothesis) that the package's
 * traceback picks: on a match take it, else go up when T[i-1][j] > T[i][j-1], otherwise left.
 * Returns 1 where the package hits the recursion limit, -1 when out of memory. */
static int lcs_mark(const uint32_t *x, size_t nx, const uint32_t *y, size_t ny, unsigned char *taken) {
    if (nx > LCS_MAX_STEPS && ny > LCS_MAX_STEPS) return 1; /* a step shortens each side by at most 1 */
    const size_t r0 = nx > LCS_MAX_STEPS ? nx - LCS_MAX_STEPS - 1 : 0, c0 = ny > LCS_MAX_STEPS ? ny - LCS_MAX_STEPS - 1 : 0;
    const size_t wc = ny - c0 + 1;
    /* LCS lengths are at most min(nx, ny) <= 990: 16 bits */
    uint16_t *win = calloc((nx - r0 + 1) * wc, sizeof *win), *rows = calloc(2 * (ny + 1), sizeof *rows);
    int rc = -1;
    if (!win || !rows) goto done;
    uint16_t *prev = rows, *cur = rows + ny + 1;
    for (size_t i = 1; i <= nx; i++) {
        for (size_t j = 1; j <= ny; j++)
            cur[j] = x[i - 1] == y[j - 1] ? (uint16_t)(prev[j - 1] + 1) : prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
        if (i >= r0) memcpy(win + (i - r0) * wc, cur + c0, wc * sizeof *win);
        uint16_t *t = prev;
        prev = cur, cur = t;
    }
#define T(i, j) win[((i) - r0) * wc + ((j) - c0)]
    size_t i = nx, j = ny;
    rc = 0;
    for (size_t steps = 0; i > 0 && j > 0 && !rc; steps++) {
        if (steps == LCS_MAX_STEPS) rc = 1;
        else if (x[i - 1] == y[j - 1]) taken[x[i - 1]] = 1, i--, j--;
        else if (T(i - 1, j) > T(i, j - 1)) i--;
        else j--;
    }
#undef T
done:
    free(win), free(rows);
    return rc;
}

/* Summary-level ROUGE-L: the union over reference sentences r and hypothesis sentences c of the
 * words of LCS(r, c), as a set, against the distinct words of each text. */
double metric_rouge_l(const char *pred, const char *gold) {
    rtext h = {0}, r = {0};
    size_t vocab, cnt[3];
    unsigned char *taken = NULL;
    double f = NAN;
    if (rouge_prepare(pred, gold, &h, &r, &vocab) || !(taken = calloc(vocab + 1, 1))) goto done;
    f = 0.0;
    if (h.ns == 0 || r.ns == 0) goto done;
    for (size_t rs = 0, r0 = 0; rs < r.ns; r0 = r.end[rs++])
        for (size_t hs = 0, h0 = 0; hs < h.ns; h0 = h.end[hs++]) {
            const int rc = lcs_mark(r.id + r0, r.end[rs] - r0, h.id + h0, h.end[hs] - h0, taken);
            if (rc) { f = rc < 0 ? NAN : 0.0; goto done; }
        }
    if (count_sets(h.id, h.w.n, r.id, r.w.n, vocab, cnt)) { f = NAN; goto done; }
    size_t llcs = 0;
    for (size_t v = 0; v < vocab; v++) llcs += taken[v];
    f = f_score((double)llcs, (double)cnt[0], (double)cnt[1]);
done:
    free(taken);
    rouge_free(&h), rouge_free(&r);
    return f;
}

/* ------------------------------------------------------------ classification, retrieval, count */

/* Substring tests on the bytes: for valid UTF-8 names this is Python's `in` on the decoded text
 * (an invalid sequence never takes in the first byte of a valid character). */
double metric_classification(const char *pred, const char *gold, const char *const *all_classes, int n_classes) {
    if (!pred || !gold || !all_classes || n_classes <= 0) return 0.0;
    int *m = malloc((size_t)n_classes * sizeof *m), nm = 0;
    if (!m) return NAN;
    for (int c = 0; c < n_classes; c++)
        if (all_classes[c] && strstr(pred, all_classes[c])) m[nm++] = c;
    /* LongBench drops the names that are a strict part of the gold answer with list.remove() while
     * iterating over that list, so the name after a dropped one is never looked at: kept. */
    for (int i = 0; i < nm; i++) {
        const char *t = all_classes[m[i]];
        if (!strstr(gold, t) || !strcmp(t, gold)) continue;
        int k = 0;
        while (strcmp(all_classes[m[k]], t)) k++; /* list.remove: the first equal element */
        memmove(m + k, m + k + 1, (size_t)(nm - k - 1) * sizeof *m), nm--;
    }
    int gold_in = 0;
    for (int i = 0; i < nm; i++) gold_in |= !strcmp(all_classes[m[i]], gold);
    free(m);
    return gold_in ? 1.0 / nm : 0.0;
}

/* re.findall(r"\d+", pred) (Unicode digits): the share of the runs equal to want[0..nw) */
static double share_equal(const char *pred, const uint32_t *want, size_t nw) {
    text t;
    if (decode(pred, &t)) return NAN;
    size_t total = 0, right = 0;
    for (size_t i = 0; i < t.n;) {
        if (!py_digit(t.c[i])) { i++; continue; }
        size_t j = i;
        while (j < t.n && py_digit(t.c[j])) j++;
        total++;
        right += j - i == nw && (nw == 0 || !memcmp(t.c + i, want, nw * sizeof *want));
        i = j;
    }
    free(t.c);
    return total ? (double)right / (double)total : 0.0;
}

double metric_retrieval(const char *pred, const char *gold) {
    static const char key[] = "Paragraph ";
    const size_t kl = sizeof key - 1;
    text g;
    double s = 0.0; /* no "Paragraph N" in gold: LongBench fails with IndexError; 0 here */
    if (decode(gold, &g)) return NAN;
    for (size_t i = 0; i + kl < g.n; i++) { /* the first match of r"Paragraph (\d+)" */
        size_t q = 0, j = i + kl;
        while (q < kl && g.c[i + q] == (uint32_t)key[q]) q++;
        if (q < kl || !py_digit(g.c[j])) continue;
        while (j < g.n && py_digit(g.c[j])) j++;
        s = share_equal(pred, g.c + i + kl, j - i - kl);
        break;
    }
    free(g.c);
    return s;
}

double metric_count(const char *pred, const char *gold) {
    text g;
    if (decode(gold, &g)) return NAN;
    const double s = share_equal(pred, g.c, g.n);
    free(g.c);
    return s;
}

/* ------------------------------------------------------------ code similarity */

static int cmp_u32(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Length of the longest common subsequence of a and b, bit-parallel (Allison-Dix, Hyyro): one bit
 * per code point of a, one pass over b, 64 cells of the table per word operation. pm holds, for
 * each distinct code point of a (alpha, sorted), the bit set of its positions in a. */
static int lcs_length(const text *a, const text *b, size_t *out) {
    const size_t nw = (a->n + 63) / 64;
    size_t na = 0;
    *out = 0;
    if (a->n == 0 || b->n == 0) return 0;
    uint32_t *alpha = malloc(a->n * sizeof *alpha), *row = NULL;
    uint64_t *pm = NULL, *s = malloc(nw * sizeof *s);
    int rc = -1;
    if (!alpha || !s) goto done;
    memcpy(alpha, a->c, a->n * sizeof *alpha);
    qsort(alpha, a->n, sizeof *alpha, cmp_u32);
    for (size_t i = 0; i < a->n; i++)
        if (na == 0 || alpha[na - 1] != alpha[i]) alpha[na++] = alpha[i];
    if (na > ((size_t)1 << 23) / nw) { /* > 64 MB of bit sets: the plain programme, one row */
        if (!(row = calloc(a->n + 1, sizeof *row))) goto done;
        for (size_t j = 0; j < b->n; j++)
            for (size_t i = 1, diag = 0; i <= a->n; i++) {
                const uint32_t up = row[i];
                row[i] = a->c[i - 1] == b->c[j] ? (uint32_t)diag + 1 : up > row[i - 1] ? up : row[i - 1];
                diag = up;
            }
        *out = row[a->n], rc = 0;
        goto done;
    }
    if (!(pm = calloc(na * nw, sizeof *pm))) goto done;
    for (size_t i = 0; i < a->n; i++) {
        const uint32_t *c = bsearch(&a->c[i], alpha, na, sizeof *alpha, cmp_u32);
        pm[(size_t)(c - alpha) * nw + i / 64] |= 1ull << (i % 64);
    }
    for (size_t w = 0; w < nw; w++) s[w] = ~0ull;
    for (size_t j = 0; j < b->n; j++) {
        const uint32_t *c = bsearch(&b->c[j], alpha, na, sizeof *alpha, cmp_u32);
        if (!c) continue; /* not in a: the row stays */
        const uint64_t *m = pm + (size_t)(c - alpha) * nw;
        unsigned carry = 0;
        for (size_t w = 0; w < nw; w++) { /* S = (S + (S & M)) | (S & ~M), carrying between words */
            const uint64_t u = s[w] & m[w], x = s[w] + u, y = x + carry;
            carry = (x < s[w]) | (y < x);
            s[w] = y | (s[w] & ~m[w]);
        }
    }
    for (size_t i = 0; i < a->n; i++) *out += !(s[i / 64] >> (i % 64) & 1);
    rc = 0;
done:
    free(alpha), free(row), free(pm), free(s);
    return rc;
}

/* LongBench's code_sim_score: the first line of pred (after leading newlines) without '`', '#' or
 * "//" (else ""), then rapidfuzz fuzz.ratio / 100 with gold: the normalized Indel similarity
 * 1 - (|a| + |b| - 2 LCS) / (|a| + |b|) over code points (1 when both are empty), computed in
 * rapidfuzz's order of operations. */
double metric_code_sim(const char *pred, const char *gold) {
    if (!pred) pred = "";
    while (*pred == '\n') pred++;
    size_t at = strlen(pred), len = 0;
    for (const char *p = pred;;) {
        const size_t n = strcspn(p, "\n");
        int bad = 0;
        for (size_t q = 0; q < n && !bad; q++) bad = p[q] == '`' || p[q] == '#' || (p[q] == '/' && q + 1 < n && p[q + 1] == '/');
        if (!bad) { at = (size_t)(p - pred), len = n; break; }
        if (!p[n]) break;
        p += n + 1;
    }
    char *line = malloc(len + 1);
    text x = {0}, y = {0};
    size_t lcs;
    double r = NAN;
    if (line) memcpy(line, pred + at, len), line[len] = 0;
    if (line && !decode(line, &x) && !decode(gold, &y) && !lcs_length(x.n <= y.n ? &x : &y, x.n <= y.n ? &y : &x, &lcs)) {
        const size_t sum = x.n + y.n;
        const double norm_dist = sum ? (double)(sum - 2 * lcs) / (double)sum : 0.0;
        r = (1.0 - norm_dist) * 100 / 100;
    }
    free(line), free(x.c), free(y.c);
    return r;
}

/* ------------------------------------------------------------ per task */

const char *metric_for_task(const char *task) {
    static const struct { const char *task, *metric; } map[] = {
        {"narrativeqa", "qa_f1"},   {"qasper", "qa_f1"},       {"multifieldqa_en", "qa_f1"}, {"hotpotqa", "qa_f1"},
        {"2wikimqa", "qa_f1"},      {"musique", "qa_f1"},      {"triviaqa", "qa_f1"},        {"gov_report", "rouge_l"},
        {"qmsum", "rouge_l"},       {"multi_news", "rouge_l"}, {"samsum", "rouge_l"},        {"trec", "classification"},
        {"passage_retrieval_en", "retrieval"}, {"passage_count", "count"}, {"lcc", "code_sim"}, {"repobench-p", "code_sim"},
    };
    for (size_t i = 0; task && i < N_OF(map); i++)
        if (!strcmp(map[i].task, task)) return map[i].metric;
    return NULL;
}

double metric_score_task(const char *task, const char *pred, const char *gold, const char *const *all_classes,
                         int n_classes) {
    const char *metric = metric_for_task(task);
    char *first = NULL;
    if (!metric) return 0.0;
    if (!pred) pred = "";
    if (!strcmp(task, "trec") || !strcmp(task, "triviaqa") || !strcmp(task, "samsum")) {
        /* LongBench scores only prediction.lstrip("\n").split("\n")[0] of these */
        while (*pred == '\n') pred++;
        const size_t n = strcspn(pred, "\n");
        if (!(first = malloc(n + 1))) return NAN;
        memcpy(first, pred, n);
        first[n] = 0;
        pred = first;
    }
    const double s = !strcmp(metric, "qa_f1")            ? metric_qa_f1(pred, gold)
                     : !strcmp(metric, "rouge_l")        ? metric_rouge_l(pred, gold)
                     : !strcmp(metric, "classification") ? metric_classification(pred, gold, all_classes, n_classes)
                     : !strcmp(metric, "retrieval")      ? metric_retrieval(pred, gold)
                     : !strcmp(metric, "count")          ? metric_count(pred, gold)
                                                         : metric_code_sim(pred, gold);
    free(first);
    return s;
}

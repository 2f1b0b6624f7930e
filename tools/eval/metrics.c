/* LongBench metrics in C, matching the Python code the official harness runs (evaluation.md):
 * LongBench's metrics.py, the PyPI package `rouge` 1.0.1 and rapidfuzz's fuzz.ratio. Where Python's
 * Unicode rules matter (str.lower, str.split, \b, \d) the approximations are stated next to the code;
 * tests/test_metrics.c checks every metric against values the Python packages computed. */
#include "metrics.h"

#include "json.h" /* utf8_put */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ UTF-8 and character classes */

/* Decodes one code point at s[*i] (advancing *i); an invalid byte is taken as U+FFFD. */
static uint32_t next_cp(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    const size_t left = n - *i;
    int len = u[0] < 0x80 ? 1 : (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3 : (u[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || (size_t)len > left) { (*i)++; return 0xFFFD; }
    uint32_t cp = len == 1 ? u[0] : len == 2 ? u[0] & 0x1Fu : len == 3 ? u[0] & 0x0Fu : u[0] & 0x07u;
    for (int k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) { (*i)++; return 0xFFFD; }
        cp = cp << 6 | (u[k] & 0x3Fu);
    }
    *i += (size_t)len;
    return cp;
}

/* Python's str.isspace() (what str.split() with no argument splits on). */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python's str.lower() for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals (the
 * scripts that occur in English answers); other code points are kept. */
static uint32_t py_lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x138 && c != 0x149 && c != 0x178) {
        const int odd_caps = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_caps ? (c & 1) : !(c & 1)) return c + 1;
        return c;
    }
    if (c == 0x178) return 0xFF;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

/* Python's re \w for one code point: ASCII letters/digits/underscore; above ASCII, everything except
 * the punctuation, symbol and space blocks (approximation of Unicode categories L and N). */
static int py_word(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (py_space(c)) return 0;
    if (c <= 0xBF) return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || c >= 0xBC;
    if (c == 0xD7 || c == 0xF7) return 0;
    if (c >= 0x2000 && c <= 0x2BFF) return 0;   /* punctuation, symbols, arrows, math, box drawing */
    if (c >= 0x3000 && c <= 0x303F) return 0;   /* CJK punctuation */
    if (c >= 0xFE30 && c <= 0xFE4F) return 0;
    if (c >= 0xFF00 && c <= 0xFF0F) return 0;   /* full-width punctuation */
    if (c >= 0x1F000 && c <= 0x1FAFF) return 0; /* emoji and pictographs */
    return c != 0xFFFD;
}

static int ascii_punct(uint32_t c) { return c < 0x80 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c) && c; }

/* ------------------------------------------------------------ word lists */

typedef struct { char **w; size_t n, cap; } words;

static int words_push(words *ws, const char *s, size_t len) {
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 16;
        char **w = realloc(ws->w, cap * sizeof *w);
        if (!w) return -1;
        ws->w = w, ws->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, s, len);
    c[len] = 0;
    ws->w[ws->n++] = c;
    return 0;
}

static void words_free(words *ws) {
    for (size_t i = 0; i < ws->n; i++) free(ws->w[i]);
    free(ws->w);
    ws->w = NULL, ws->n = ws->cap = 0;
}

/* Python's s.split(): runs of non-space code points. */
static int split_ws(const char *s, size_t n, words *out) {
    size_t i = 0;
    while (i < n) {
        size_t j = i, start;
        while (j < n) { size_t k = j; if (!py_space(next_cp(s, n, &k))) break; j = k; }
        if (j >= n) break;
        start = j;
        while (j < n) { size_t k = j; if (py_space(next_cp(s, n, &k))) break; j = k; }
        if (words_push(out, s + start, j - start)) return -1;
        i = j;
    }
    return 0;
}

/* ------------------------------------------------------------ qa F1 */

/* LongBench normalize_answer: lower, drop ASCII punctuation, drop the words a/an/the (regex \b
 * boundaries), then the whitespace split. */
static int qa_tokens(const char *s, words *out) {
    const size_t n = strlen(s);
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    char *buf = malloc(4 * n + 1);
    int rc = -1;
    if (!cp || !buf) goto done;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = py_lower(next_cp(s, n, &i));
        if (!ascii_punct(c)) cp[m++] = c;
    }
    size_t len = 0;
    for (size_t i = 0; i < m;) {
        static const char *const art[3] = {"a", "an", "the"};
        size_t skip = 0;
        if (i == 0 || !py_word(cp[i - 1]))
            for (int a = 0; a < 3 && !skip; a++) {
                size_t k = strlen(art[a]), t = 0;
                while (t < k && i + t < m && cp[i + t] == (uint32_t)art[a][t]) t++;
                if (t == k && (i + k == m || !py_word(cp[i + k]))) skip = k;
            }
        if (skip) { i += skip; continue; }
        utf8_put(buf, &len, cp[i++]);
    }
    rc = split_ws(buf, len, out);
done:
    free(cp), free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Size of the multiset intersection of two word lists (sorted in place). */
static size_t multiset_common(words *a, words *b) {
    if (!a->n || !b->n) return 0; /* (qsort of an empty, NULL list is undefined) */
    qsort(a->w, a->n, sizeof *a->w, cmp_str);
    qsort(b->w, b->n, sizeof *b->w, cmp_str);
    size_t i = 0, j = 0, same = 0;
    while (i < a->n && j < b->n) {
        int c = strcmp(a->w[i], b->w[j]);
        if (c == 0) same++, i++, j++;
        else if (c < 0) i++;
        else j++;
    }
    return same;
}

double metric_qa_f1(const char *pred, const char *gold) {
    words p = {0}, g = {0};
    double f1 = 0;
    if (qa_tokens(pred, &p) == 0 && qa_tokens(gold, &g) == 0) {
        size_t same = multiset_common(&p, &g);
        if (same) {
            double prec = (double)same / (double)p.n, rec = (double)same / (double)g.n;
            f1 = 2 * prec * rec / (prec + rec);
        }
    }
    words_free(&p), words_free(&g);
    return f1;
}

/* ------------------------------------------------------------ ROUGE (package `rouge` 1.0.1) */

/* The package's preprocessing: split on '.', keep non-empty pieces, collapse whitespace inside each
 * (" ".join(piece.split())), then split each sentence on " " — so a blank piece gives one empty
 * word. Words are case-sensitive; nothing else is removed. sent_end[i] = words after sentence i. */
typedef struct { words w; size_t *sent_end; size_t n_sent; } rouge_text;

static int rouge_prepare(const char *s, rouge_text *t) {
    memset(t, 0, sizeof *t);
    const size_t n = strlen(s);
    size_t cap_sent = 1;
    for (size_t i = 0; i < n; i++) cap_sent += s[i] == '.';
    t->sent_end = malloc(cap_sent * sizeof *t->sent_end);
    if (!t->sent_end) return -1;
    for (size_t a = 0; a <= n;) {
        size_t b = a;
        while (b < n && s[b] != '.') b++;
        if (b > a) {
            size_t before = t->w.n;
            if (split_ws(s + a, b - a, &t->w)) return -1;
            if (t->w.n == before && words_push(&t->w, "", 0)) return -1;
            t->sent_end[t->n_sent++] = t->w.n;
        }
        a = b + 1;
    }
    return 0;
}

static void rouge_free(rouge_text *t) { words_free(&t->w); free(t->sent_end); }

/* Number of distinct n-grams among the words of idx[0..n) (n-grams are sets in the package). */
static int ngram_cmp_n;
static char **ngram_base;
static int cmp_ngram(const void *a, const void *b) {
    const size_t i = *(const size_t *)a, j = *(const size_t *)b;
    for (int k = 0; k < ngram_cmp_n; k++) {
        int c = strcmp(ngram_base[i + (size_t)k], ngram_base[j + (size_t)k]);
        if (c) return c;
    }
    return 0;
}

/* Sorted distinct n-gram start indices of a word list. */
static size_t *distinct_ngrams(const words *w, int n, size_t *count) {
    *count = 0;
    if (w->n < (size_t)n) return malloc(1);
    size_t m = w->n - (size_t)n + 1, *idx = malloc(m * sizeof *idx), k = 0;
    if (!idx) return NULL;
    for (size_t i = 0; i < m; i++) idx[i] = i;
    ngram_cmp_n = n, ngram_base = w->w;
    qsort(idx, m, sizeof *idx, cmp_ngram);
    for (size_t i = 0; i < m; i++)
        if (k == 0 || cmp_ngram(&idx[k - 1], &idx[i]) != 0) idx[k++] = idx[i];
    *count = k;
    return idx;
}

static double f_score(double overlap, double n_eval, double n_ref) {
    double p = n_eval > 0 ? overlap / n_eval : 0, r = n_ref > 0 ? overlap / n_ref : 0;
    return 2.0 * ((p * r) / (p + r + 1e-8));
}

double metric_rouge_n(const char *pred, const char *gold, int n) {
    rouge_text h = {0}, r = {0};
    double f = 0;
    if (n < 1 || rouge_prepare(pred, &h) || rouge_prepare(gold, &r) || h.n_sent == 0 || r.n_sent == 0) goto done;
    size_t nh, nr, *ih = distinct_ngrams(&h.w, n, &nh), *ir = distinct_ngrams(&r.w, n, &nr);
    if (ih && ir) {
        /* merge two sorted distinct lists (the comparison spans both word arrays) */
        size_t i = 0, j = 0, common = 0;
        while (i < nh && j < nr) {
            int c = 0;
            for (int k = 0; k < n && !c; k++) c = strcmp(h.w.w[ih[i] + (size_t)k], r.w.w[ir[j] + (size_t)k]);
            if (c == 0) common++, i++, j++;
            else if (c < 0) i++;
            else j++;
        }
        f = f_score((double)common, (double)nh, (double)nr);
    }
    free(ih), free(ir);
done:
    rouge_free(&h), rouge_free(&r);
    return f;
}

/* Words of the one LCS of x and y that the package's traceback picks (match: take it; else go up
 * when table[i-1][j] > table[i][j-1], otherwise left); marks chosen x words in `taken`. */
static int lcs_pick(char **x, size_t nx, char **y, size_t ny, unsigned char *taken) {
    uint32_t *t = calloc((nx + 1) * (ny + 1), sizeof *t);
    if (!t) return -1;
#define T(i, j) t[(size_t)(i) * (ny + 1) + (j)]
    for (size_t i = 1; i <= nx; i++)
        for (size_t j = 1; j <= ny; j++)
            T(i, j) = strcmp(x[i - 1], y[j - 1]) == 0 ? T(i - 1, j - 1) + 1 : (T(i - 1, j) > T(i, j - 1) ? T(i - 1, j) : T(i, j - 1));
    size_t i = nx, j = ny;
    while (i > 0 && j > 0) {
        if (strcmp(x[i - 1], y[j - 1]) == 0) taken[i - 1] = 1, i--, j--;
        else if (T(i - 1, j) > T(i, j - 1)) i--;
        else j--;
    }
#undef T
    free(t);
    return 0;
}

static size_t distinct_words(char **w, size_t n) {
    char **c = malloc((n ? n : 1) * sizeof *c);
    if (!c) return 0;
    if (n) memcpy(c, w, n * sizeof *c), qsort(c, n, sizeof *c, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += i == 0 || strcmp(c[i - 1], c[i]) != 0;
    free(c);
    return k;
}

/* Summary-level ROUGE-L: the union, over reference sentences r and hypothesis sentences c, of the
 * (set of) words of LCS(r, c), against the distinct words of each side. */
double metric_rouge_l(const char *pred, const char *gold) {
    rouge_text h = {0}, r = {0};
    double f = 0;
    unsigned char *taken = NULL;
    if (rouge_prepare(pred, &h) || rouge_prepare(gold, &r) || h.n_sent == 0 || r.n_sent == 0) goto done;
    taken = calloc(r.w.n + 1, 1);
    if (!taken) goto done;
    for (size_t rs = 0, r0 = 0; rs < r.n_sent; r0 = r.sent_end[rs++])
        for (size_t hs = 0, h0 = 0; hs < h.n_sent; h0 = h.sent_end[hs++])
            if (lcs_pick(r.w.w + r0, r.sent_end[rs] - r0, h.w.w + h0, h.sent_end[hs] - h0, taken + r0)) goto done;
    /* the union is a set of words: distinct among the taken reference words */
    words u = {0};
    for (size_t i = 0; i < r.w.n; i++)
        if (taken[i] && words_push(&u, r.w.w[i], strlen(r.w.w[i]))) { words_free(&u); goto done; }
    const double llcs = (double)distinct_words(u.w, u.n);
    words_free(&u);
    const double m = (double)distinct_words(r.w.w, r.w.n), n = (double)distinct_words(h.w.w, h.w.n);
    const double rec = llcs / m, prec = llcs / n;
    f = 2.0 * ((prec * rec) / (prec + rec + 1e-8));
done:
    free(taken);
    rouge_free(&h), rouge_free(&r);
    return f;
}

/* ------------------------------------------------------------ classification, retrieval, count */

double metric_classification(const char *pred, const char *gold, const char *const *all_classes, int n_classes) {
    int matches = 0, gold_in = 0;
    for (int i = 0; i < n_classes; i++) {
        const char *c = all_classes[i];
        if (!strstr(pred, c)) continue;
        if (strstr(gold, c) && strcmp(c, gold) != 0) continue; /* a part of the gold name */
        matches++;
        gold_in |= strcmp(c, gold) == 0;
    }
    return gold_in ? 1.0 / matches : 0.0;
}

/* Share of the digit runs of pred (re.findall(r"\d+"), ASCII digits) that equal want as strings. */
static double share_equal(const char *pred, const char *want) {
    int total = 0, right = 0;
    const size_t wl = strlen(want);
    for (const char *p = pred; *p;) {
        if (*p < '0' || *p > '9') { p++; continue; }
        const char *q = p;
        while (*q >= '0' && *q <= '9') q++;
        total++;
        right += (size_t)(q - p) == wl && memcmp(p, want, wl) == 0;
        p = q;
    }
    return total ? (double)right / total : 0.0;
}

double metric_retrieval(const char *pred, const char *gold) {
    const char *p = strstr(gold, "Paragraph ");
    while (p && !(p[10] >= '0' && p[10] <= '9')) p = strstr(p + 1, "Paragraph ");
    if (!p) return 0.0;
    char id[32];
    size_t n = 0;
    for (const char *q = p + 10; *q >= '0' && *q <= '9' && n + 1 < sizeof id; q++) id[n++] = *q;
    id[n] = 0;
    return share_equal(pred, id);
}

double metric_count(const char *pred, const char *gold) { return share_equal(pred, gold); }

/* ------------------------------------------------------------ code similarity */

static uint32_t *to_cps(const char *s, size_t n, size_t *m) {
    uint32_t *c = malloc((n + 1) * sizeof *c);
    *m = 0;
    if (!c) return NULL;
    for (size_t i = 0; i < n;) c[(*m)++] = next_cp(s, n, &i);
    return c;
}

/* rapidfuzz fuzz.ratio / 100: 2 * LCS / (len a + len b) over code points; 1 when both are empty. */
static double indel_ratio(const char *a, size_t na, const char *b, size_t nb) {
    size_t la, lb;
    uint32_t *x = to_cps(a, na, &la), *y = to_cps(b, nb, &lb);
    uint32_t *row = calloc(lb + 1, sizeof *row);
    double r = 0;
    if (x && y && row) {
        if (la + lb == 0) r = 1.0;
        else {
            for (size_t i = 1; i <= la; i++) {
                uint32_t diag = 0;
                for (size_t j = 1; j <= lb; j++) {
                    const uint32_t up = row[j];
                    row[j] = x[i - 1] == y[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
                    diag = up;
                }
            }
            r = 2.0 * row[lb] / (double)(la + lb);
        }
    }
    free(x), free(y), free(row);
    return r;
}

double metric_code_sim(const char *pred, const char *gold) {
    while (*pred == '\n') pred++;
    const char *line = "", *end = line;
    for (const char *p = pred;;) {
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        int bad = 0;
        for (const char *q = p; q < e && !bad; q++) bad = *q == '`' || *q == '#' || (*q == '/' && q + 1 < e && q[1] == '/');
        if (!bad) { line = p, end = e; break; }
        if (!*e) break;
        p = e + 1;
    }
    return indel_ratio(line, (size_t)(end - line), gold, strlen(gold));
}

/* ------------------------------------------------------------ per task */

const char *metric_for_task(const char *task) {
    static const struct { const char *task, *metric; } map[] = {
        {"narrativeqa", "qa_f1"},   {"qasper", "qa_f1"},      {"multifieldqa_en", "qa_f1"}, {"hotpotqa", "qa_f1"},
        {"2wikimqa", "qa_f1"},      {"musique", "qa_f1"},     {"triviaqa", "qa_f1"},        {"gov_report", "rouge_l"},
        {"qmsum", "rouge_l"},       {"multi_news", "rouge_l"}, {"samsum", "rouge_l"},       {"trec", "classification"},
        {"passage_retrieval_en", "retrieval"}, {"passage_count", "count"}, {"lcc", "code_sim"}, {"repobench-p", "code_sim"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].task, task) == 0) return map[i].metric;
    return NULL;
}

double metric_score_task(const char *task, const char *pred, const char *gold, const char *const *all_classes,
                         int n_classes) {
    const char *metric = metric_for_task(task);
    if (!metric) return 0.0;
    char *first = NULL;
    if (!strcmp(task, "trec") || !strcmp(task, "triviaqa") || !strcmp(task, "samsum")) {
        while (*pred == '\n') pred++;
        size_t n = strcspn(pred, "\n");
        first = malloc(n + 1);
        if (!first) return 0.0;
        memcpy(first, pred, n);
        first[n] = 0;
        pred = first;
    }
    double s = !strcmp(metric, "qa_f1")            ? metric_qa_f1(pred, gold)
               : !strcmp(metric, "rouge_l")        ? metric_rouge_l(pred, gold)
               : !strcmp(metric, "classification") ? metric_classification(pred, gold, all_classes, n_classes)
               : !strcmp(metric, "retrieval")      ? metric_retrieval(pred, gold)
               : !strcmp(metric, "count")          ? metric_count(pred, gold)
                                                   : metric_code_sim(pred, gold);
    free(first);
    return isfinite(s) ? s : 0.0;
}

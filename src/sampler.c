/* Token sampling: repetition penalty -> top-k -> top-p -> min-p (on untempered probabilities, as
 * llama.cpp orders them) -> temperature -> draw. Greedy (temperature <= 0) is a plain argmax over
 * the penalised logits. All workspace is allocated in ei_sampler_new. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinf.h"
#include "util.h"

typedef struct { float logit; int32_t id; } cand;

struct ei_sampler {
    ei_sampler_params p;
    int n_vocab;
    cand *c;            /* [n_vocab] candidates */
    int32_t *history;   /* ring of the last repeat_last_n accepted tokens */
    int n_hist, hist_pos;
    uint32_t *stamp;    /* [n_vocab]: stamp[id] == round when id was penalised this call */
    uint32_t round;
    uint64_t rng;
};

ei_sampler_params ei_sampler_default_params(void) {
    ei_sampler_params p = {0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0};
    return p;
}

ei_sampler *ei_sampler_new(const ei_sampler_params *p, int n_vocab) {
    if (n_vocab < 1) {
        ei_set_error("sampler: vocabulary size %d", n_vocab);
        return NULL;
    }
    ei_sampler *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->p = p ? *p : ei_sampler_default_params();
    if (s->p.repeat_last_n < 0) s->p.repeat_last_n = 0;
    if (!(s->p.repeat_penalty > 0)) s->p.repeat_penalty = 1.0f;
    s->n_vocab = n_vocab;
    s->c = malloc((size_t)n_vocab * sizeof *s->c);
    s->history = malloc((size_t)(s->p.repeat_last_n ? s->p.repeat_last_n : 1) * sizeof *s->history);
    s->stamp = calloc((size_t)n_vocab, sizeof *s->stamp);
    if (!s->c || !s->history || !s->stamp) goto oom;
    s->rng = s->p.seed ^ 0x9E3779B97F4A7C15ull;
    return s;
oom:
    ei_sampler_free(s);
    ei_set_error("out of memory");
    return NULL;
}

void ei_sampler_free(ei_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->history);
    free(s->stamp);
    free(s);
}

void ei_sampler_accept(ei_sampler *s, int32_t token) {
    if (!s->p.repeat_last_n) return;
    s->history[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->p.repeat_last_n;
    if (s->n_hist < s->p.repeat_last_n) s->n_hist++;
}

/* splitmix64: small, fast, and the same stream on every platform for a given seed */
static double next_uniform(ei_sampler *s) {
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Heaps of candidates with the worst (lowest logit, then highest id) at the root. */
static int worse(const cand *c, int i, int j) { return cand_desc(&c[i], &c[j]) > 0; }

static void sift_down(cand *c, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(c, l, m)) m = l;
        if (r < n && worse(c, r, m)) m = r;
        if (m == i) return;
        cand t = c[i];
        c[i] = c[m], c[m] = t, i = m;
    }
}

/* Moves the k largest candidates to the front (unordered), by a min-heap over the first k. */
static void select_top_k(cand *c, int n, int k) {
    for (int start = k / 2 - 1; start >= 0; start--) sift_down(c, k, start);
    for (int j = k; j < n; j++) {
        if (!(cand_desc(&c[j], &c[0]) < 0)) continue; /* not better than the heap's worst */
        c[0] = c[j];
        sift_down(c, k, 0);
    }
}

/* Best first, in place (heapsort: unlike qsort it never allocates, and cand_desc is a total order,
 * so the result is the one order there is). */
static void sort_desc(cand *c, int n) {
    for (int start = n / 2 - 1; start >= 0; start--) sift_down(c, n, start);
    for (int end = n - 1; end > 0; end--) {
        cand t = c[0];
        c[0] = c[end], c[end] = t; /* the worst left goes last */
        sift_down(c, end, 0);
    }
}

int32_t ei_sampler_sample(ei_sampler *s, const float *logits) {
    const int V = s->n_vocab;
    cand *c = s->c;
    for (int i = 0; i < V; i++) {
        c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i]; /* NaN would break the candidates' order */
        c[i].id = i;
    }
    if (s->p.repeat_penalty != 1.0f) {
        if (++s->round == 0) { /* after 2^32 calls: start the stamps over */
            memset(s->stamp, 0, (size_t)V * sizeof *s->stamp);
            s->round = 1;
        }
        for (int h = 0; h < s->n_hist; h++) {
            int32_t id = s->history[h];
            /* a token repeated in the window is penalised once */
            if (id < 0 || id >= V || s->stamp[id] == s->round) continue;
            s->stamp[id] = s->round;
            float *l = &c[id].logit;
            *l = *l > 0 ? *l / s->p.repeat_penalty : *l * s->p.repeat_penalty;
        }
    }
    if (s->p.temperature <= 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (c[i].logit > c[best].logit) best = i;
        return c[best].id;
    }
    int n = V;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        select_top_k(c, n, s->p.top_k);
        n = s->p.top_k;
    }
    sort_desc(c, n);
    /* probabilities at temperature 1 for the truncation rules */
    double sum = 0.0, mx = c[0].logit;
    for (int i = 0; i < n; i++) sum += exp(c[i].logit - mx);
    if (s->p.top_p < 1.0f) {
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += exp(c[i].logit - mx) / sum;
            if (cum >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (s->p.min_p > 0.0f) {
        /* keep tokens whose probability is at least min_p times the top one's */
        double floor_logit = mx + log(s->p.min_p);
        int keep = 1;
        while (keep < n && c[keep].logit >= floor_logit) keep++;
        n = keep;
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) total += exp((c[i].logit - mx) / s->p.temperature);
    double r = next_uniform(s) * total, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += exp((c[i].logit - mx) / s->p.temperature);
        if (r < acc) return c[i].id;
    }
    return c[n - 1].id;
}

/* H2O, the KV-eviction baseline ("heavy hitters", Zhang et al. 2023) at the same cache budget as
 * StreamingLLM and EdgeInfinite: the sink stays, and when the window overflows by a segment, each
 * layer and KV head drops the n window tokens that have received the least attention so far (the
 * probabilities of every query since the token arrived, summed over the group's query heads),
 * never one of the n_recent newest. Heads keep different tokens but the same number, so a ring
 * index means the same cache position for all of them.
 *
 * Positions [ours, as StreamingLLM]: the kept tokens are packed towards the newest end of the ring
 * and their keys re-rotated by how far they moved, so the window stays contiguous in cache
 * positions and no distance ever exceeds S + W + L. */
#include <string.h>

#include "session.h"
#include "types.h"

typedef struct { ei_session *s; int n; } evict_job;

/* Eviction order: lower score first; among equal scores the older token. A total order, so the
 * set chosen is unique. */
static int evicts_before(const ei_hh_candidate *a, const ei_hh_candidate *b) {
    return a->score != b->score ? a->score < b->score : a->index < b->index;
}

/* Restores the max-heap (root: the candidate evicted last) below node i of heap h of n. */
static void sift_down(ei_hh_candidate *h, int n, int i) {
    for (;;) {
        int top = i;
        const int a = 2 * i + 1, b = a + 1;
        if (a < n && evicts_before(&h[top], &h[a])) top = a;
        if (b < n && evicts_before(&h[top], &h[b])) top = b;
        if (top == i) return;
        const ei_hh_candidate t = h[i];
        h[i] = h[top], h[top] = t;
        i = top;
    }
}

/* Keeps in h the n candidates (ring indices [0, n_cand), scores read from their slots) that evict first: a
 * max-heap of the n best so far, in place, without allocating (qsort may allocate). */
static void select_evicted(ei_hh_candidate *h, int n, int n_cand, const float *score, int S, int start, int cap) {
    for (int i = 0; i < n_cand; i++) {
        const ei_hh_candidate c = {score[S + (start + i) % cap], i};
        if (i < n) {
            h[i] = c;
            if (i == n - 1)
                for (int k = n / 2 - 1; k >= 0; k--) sift_down(h, n, k);
        } else if (evicts_before(&c, &h[0])) {
            h[0] = c;
            sift_down(h, n, 0);
        }
    }
}

/* One (layer, KV head) unit per item. Ring index i counts from the oldest window token. A kept token
 * at index i moves to i + (n - e), e = tokens evicted before it: later tokens move less, the ones
 * after the last evicted token do not move, so walking from the newest down never overwrites a
 * token not yet moved. */
static void evict_task(void *ctx, int ith, int nth) {
    evict_job *j = ctx;
    ei_session *s = j->s;
    const ei_model_info *in = &s->m->info;
    const int G = in->n_head_kv, hd = in->head_dim, KVD = G * hd, n = j->n;
    const int S = s->p.n_sink, cap = s->plan.ring_cap, n_slots = s->plan.n_slots, count = s->ring_count;
    const int n_cand = count - s->p.n_recent;
    uint8_t *scratch = s->hh_scratch + (size_t)ith * ((ei_hh_scratch_bytes(cap, hd) + 63) / 64 * 64);
    ei_hh_candidate *cand = (ei_hh_candidate *)scratch;
    float *key = (float *)(scratch + (size_t)cap * sizeof *cand);
    uint8_t *evicted = (uint8_t *)(key + hd);
    for (int unit = ith; unit < in->n_layer * G; unit += nth) {
        const int l = unit / G, g = unit % G;
        float *score = s->hh_score + (size_t)unit * n_slots;
        select_evicted(cand, n, n_cand, score, S, s->ring_start, cap);
        memset(evicted, 0, (size_t)count);
        for (int k = 0; k < n; k++) evicted[cand[k].index] = 1;
        int e = n; /* tokens evicted before index i, counted down from the newest */
        for (int i = count - 1; i >= 0; i--) {
            if (evicted[i]) { e--; continue; }
            const int shift = n - e;
            if (!shift) continue;
            const int from = S + (s->ring_start + i) % cap, to = S + (s->ring_start + i + shift) % cap;
            const size_t off_from = ((size_t)l * n_slots + from) * KVD + (size_t)g * hd;
            const size_t off_to = ((size_t)l * n_slots + to) * KVD + (size_t)g * hd;
            ei_cache_load(s, s->k_cache, off_from, key, hd);
            ei_rope_rotate(key, 1, hd, s->hh_rope + (size_t)shift * hd, in->rope_neox, 1.0f);
            ei_cache_store(s, s->k_cache, off_to, key, hd);
            memcpy((uint8_t *)s->v_cache + off_to * s->kv_elem, (const uint8_t *)s->v_cache + off_from * s->kv_elem,
                   (size_t)hd * s->kv_elem);
            score[to] = score[from];
        }
    }
}

void ei_evict_heavy_hitters(ei_session *s, int n) {
    if (n > s->ring_count - s->p.n_recent) n = s->ring_count - s->p.n_recent;
    if (n <= 0) return;
    /* rotations by 0..n positions (a kept token moves by at most n) */
    ei_rope_table(s->hh_rope, 0, n + 1, 0, 0, s->m->info.head_dim, s->m->info.rope_theta);
    evict_job j = {s, n};
    ei_pool_run(s->pool, evict_task, &j);
    s->ring_start = (s->ring_start + n) % s->plan.ring_cap;
    s->ring_count -= n;
    s->ring_pos0 += n;
}

/* The KV-eviction baselines at the same cache budget as StreamingLLM and EdgeInfinite: the sink
 * stays, and when the window overflows by a segment, each layer and KV head drops the n window
 * tokens with the lowest score, never one of the n_recent newest. Heads keep different tokens but
 * the same number, so a ring index means the same cache position for all of them.
 *   H2O ("heavy hitters", Zhang et al. 2023): score = attention received so far, the probabilities
 *   of every query since the token arrived, summed over the group's query heads.
 *   SnapKV (Li et al. 2024): score = attention received from the observation window, the n_observe
 *   queries up to the one that filled the ring (forward.c counts only those), summed over the
 *   group's query heads, then max-pooled over EI_SNAPKV_POOL neighbouring candidates so that
 *   tokens next to an attended one stay with it. SnapKV compresses a prompt once; here, at a fixed
 *   budget, it selects again at every overflow, prompt or generation, from fresh scores.
 *
 * Positions [ours, as StreamingLLM]: the kept tokens are packed towards the newest end of the ring
 * and their keys re-rotated by how far they moved, so the window stays contiguous in cache
 * positions and no distance ever exceeds S + W + L. */
#include <math.h>
#include <string.h>

#include "session.h"
#include "types.h"

typedef struct { ei_session *s; int n; } evict_job;

/* Eviction order: lower score first; among equal scores the older token. A total order, so the
 * set chosen is unique. */
static int evicts_before(const ei_ev_candidate *a, const ei_ev_candidate *b) {
    return a->score != b->score ? a->score < b->score : a->index < b->index;
}

/* Restores the max-heap (root: the candidate evicted last) below node i of heap h of n. */
static void sift_down(ei_ev_candidate *h, int n, int i) {
    for (;;) {
        int top = i;
        const int a = 2 * i + 1, b = a + 1;
        if (a < n && evicts_before(&h[top], &h[a])) top = a;
        if (b < n && evicts_before(&h[top], &h[b])) top = b;
        if (top == i) return;
        const ei_ev_candidate t = h[i];
        h[i] = h[top], h[top] = t;
        i = top;
    }
}

/* Keeps in h the n candidates (ring indices [0, n_cand), scores cand_score[i]) that evict first: a
 * max-heap of the n best so far, in place, without allocating (qsort may allocate). */
static void select_evicted(ei_ev_candidate *h, int n, int n_cand, const float *cand_score) {
    for (int i = 0; i < n_cand; i++) {
        const ei_ev_candidate c = {cand_score[i], i};
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
    const int snapkv = s->p.evict == EI_EVICT_SNAPKV, pool = snapkv ? EI_SNAPKV_POOL / 2 : 0;
    uint8_t *scratch = s->ev_scratch + (size_t)ith * ((ei_ev_scratch_bytes(cap, hd) + 63) / 64 * 64);
    ei_ev_candidate *cand = (ei_ev_candidate *)scratch;
    float *cand_score = (float *)(scratch + (size_t)cap * sizeof *cand), *key = cand_score + cap;
    uint8_t *evicted = (uint8_t *)(key + hd);
    for (int unit = ith; unit < in->n_layer * G; unit += nth) {
        const int l = unit / G, g = unit % G;
        float *score = s->ev_score + (size_t)unit * n_slots;
        /* a candidate's score: the largest of its own and its neighbours' within `pool` (H2O: its own) */
        for (int i = 0; i < n_cand; i++) {
            const int lo = i - pool > 0 ? i - pool : 0, hi = i + pool < n_cand - 1 ? i + pool : n_cand - 1;
            float best = -INFINITY;
            for (int k = lo; k <= hi; k++) best = fmaxf(best, score[S + (s->ring_start + k) % cap]);
            cand_score[i] = best;
        }
        select_evicted(cand, n, n_cand, cand_score);
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
            ei_rope_rotate(key, 1, hd, s->ev_rope + (size_t)shift * hd, in->rope_neox, 1.0f);
            ei_cache_store(s, s->k_cache, off_to, key, hd);
            memcpy((uint8_t *)s->v_cache + off_to * s->kv_elem, (const uint8_t *)s->v_cache + off_from * s->kv_elem,
                   (size_t)hd * s->kv_elem);
            score[to] = score[from];
        }
        /* SnapKV's next selection sees only its own observation window */
        if (snapkv) memset(score, 0, (size_t)n_slots * sizeof *score);
    }
}

void ei_evict_by_attention(ei_session *s, int n) {
    if (n > s->ring_count - s->p.n_recent) n = s->ring_count - s->p.n_recent;
    if (n <= 0) return;
    /* rotations by 0..n positions (a kept token moves by at most n) */
    ei_rope_table(s->ev_rope, 0, n + 1, 0, 0, s->m->info.head_dim, s->m->info.rope_theta);
    evict_job j = {s, n};
    ei_pool_run(s->pool, evict_task, &j);
    s->ring_start = (s->ring_start + n) % s->plan.ring_cap;
    s->ring_count -= n;
    s->ring_pos0 += n;
}

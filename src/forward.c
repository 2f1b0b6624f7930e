/* The transformer forward pass over one chunk of tokens, Llama family:
 *   x = embed(tokens)
 *   per layer:  h = rmsnorm(x) ; q,k,v = h Wq, h Wk, h Wv (+bias) ; rope(q, k)
 *               append k, v to the sink/ring ; a = causal softmax(q k^T / sqrt(d)) v over sink + window
 *               [EdgeInfinite: a = g * memory_read(q before RoPE) + (1 - g) * a] ; x += a Wo
 *               h = rmsnorm(x) ; x += (silu(h Wgate) * (h Wup)) Wdown
 *   logits = rmsnorm(x) Wout
 * Matrix products go through the kernel table (activations are first converted to the format the
 * weight type's kernel consumes); work is split over output rows or (head, token) pairs, so every
 * number is computed by the same code whatever the thread count. */
#include <math.h>
#include <string.h>

#include "gate.h"
#include "memory.h"
#include "session.h"
#include "types.h"

/* --------------------------------------------------------------- helpers */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* Rotates each head of v by the angles of one table row (cos then sin, hd/2 each); sign = -1
 * applies the inverse rotation. */
void ei_rope_rotate(float *v, int n_heads, int hd, const float *row, int neox, float sign) {
    const float *cosv = row, *sinv = row + hd / 2;
    for (int h = 0; h < n_heads; h++, v += hd) {
        for (int i = 0; i < hd / 2; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            float c = cosv[i], sn = sign * sinv[i];
            v[a] = x0 * c - x1 * sn;
            v[b] = x0 * sn + x1 * c;
        }
    }
}

/* RoPE table rows for the stream positions pos0..pos0+n-1, each moved down by `shift` when it is at
 * or past `sink` (shift 0: stream positions; shift = oldest window position - S: cache positions).
 * Angles in double, so stream positions far beyond the trained context stay exact. */
void ei_rope_table(float *table, int64_t pos0, int n, int64_t sink, int64_t shift, int hd, float theta_base) {
    const int half = hd / 2;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            int64_t p = pos0 + t >= sink ? pos0 + t - shift : pos0 + t;
            double ang = (double)p * pow((double)theta_base, -2.0 * i / hd);
            table[(size_t)t * hd + i] = (float)cos(ang);
            table[(size_t)t * hd + half + i] = (float)sin(ang);
        }
}

/* ------------------------------------------------------- parallel matmul */

typedef struct {
    const ei_kernels *k;
    const float *src;          /* [T][K] */
    uint8_t *dst;              /* [T][stride] */
    size_t stride;
    int T, K, act;
} convert_job;

static void convert_task(void *ctx, int ith, int nth) {
    convert_job *j = ctx;
    for (int t = ith; t < j->T; t += nth)
        j->k->quantize_act[j->act](j->src + (size_t)t * j->K, j->dst + (size_t)t * j->stride, j->K);
}

typedef struct { const ei_weight *w; float *y; size_t ldy; } mm_target;

typedef struct {
    const ei_kernels *k;
    const mm_target *mats;
    int n_mats, T;
    const void *xq;
    size_t ldx;
} matmul_job;

static void matmul_task(void *ctx, int ith, int nth) {
    matmul_job *j = ctx;
    for (int i = 0; i < j->n_mats; i++) {
        const ei_weight *w = j->mats[i].w;
        int n0, n1;
        ei_split(w->rows, 16, ith, nth, &n0, &n1);
        if (n0 < n1)
            j->k->matmul[w->type](w->cols, w->data, w->row_bytes, n0, n1, j->xq, j->ldx, j->T, j->mats[i].y,
                                  j->mats[i].ldy);
    }
}

/* y_i = x W_i^T for a group of (at most 4) matrices that share the input x ([T][K] floats).
 * Matrices whose kernels consume the same activation format share one conversion of x. */
static void matmul_group(ei_session *s, const float *x, int T, const mm_target *mats, int n_mats) {
    unsigned done = 0;
    for (int i = 0; i < n_mats; i++) {
        if (done & (1u << i)) continue;
        int act = ei_act_type((ei_type)mats[i].w->type);
        mm_target sub[4];
        int n_sub = 0;
        for (int j = i; j < n_mats; j++)
            if (!(done & (1u << j)) && (int)ei_act_type((ei_type)mats[j].w->type) == act) {
                sub[n_sub++] = mats[j];
                done |= 1u << j;
            }
        convert_job cj = {s->k, x, s->xq, s->plan.xq_stride, T, mats[i].w->cols, act};
        if (T == 1) convert_task(&cj, 0, 1);
        else ei_pool_run(s->pool, convert_task, &cj);
        matmul_job mj = {s->k, sub, n_sub, T, s->xq, s->plan.xq_stride};
        ei_pool_run(s->pool, matmul_task, &mj);
    }
}

/* ------------------------------------------------------------- attention */

/* Where the keys of one chunk are: computed once per forward call, shared by all layers. */
typedef struct {
    int64_t pos0;       /* stream position of the chunk's first token */
    int n_sink;         /* sink size S (0 on the full path) */
    int ring_start;     /* ring slot of the oldest window token */
    int64_t ring_pos0;  /* stream position of the oldest ring token (after this chunk is stored) */
    int64_t observe_from; /* eviction scores count the attention of queries from this position on */
} key_layout;

typedef struct {
    ei_session *s;
    int layer, T;
    key_layout kl;
} attn_job;

/* One run of consecutive cache slots [first, first + n) of KV head g, in halves or floats. */
static const void *kv_row(const ei_session *s, const uint8_t *cache, int slot, int g) {
    const int hd = s->m->info.head_dim, kvd = s->m->info.n_head_kv * hd;
    return cache + ((size_t)slot * kvd + (size_t)g * hd) * s->kv_elem;
}

/* S[r][j] = scale * Q_r . K_slot(first + j) for nq queries and n slots; block: the rows are a prefill
 * block (tokens x heads), scored by the kernel laid out for many rows. */
static void score_keys(const ei_session *s, const uint8_t *kc, int first, int n, int g, const float *Q, int nq,
                       float scale, float *S, size_t ss, int block) {
    const int hd = s->m->info.head_dim, kvd = s->m->info.n_head_kv * hd;
    if (n <= 0) return;
    if (s->p.kv_type == EI_KV_F16) {
        (block ? s->k->attn_block_scores_f16 : s->k->attn_scores_f16)(kv_row(s, kc, first, g), (size_t)kvd, n, Q, (size_t)hd, nq,
                                                                     hd, scale, S, ss);
        return;
    }
    for (int r = 0; r < nq; r++)
        for (int j = 0; j < n; j++)
            S[(size_t)r * ss + j] = scale * s->k->dot_f32(kv_row(s, kc, first + j, g), Q + (size_t)r * hd, hd);
}

/* O[r] += sum_j P[r][j] * V_slot(first + j). */
static void add_values(const ei_session *s, const uint8_t *vc, int first, int n, int g, const float *P, size_t ps,
                       int nq, float *O, size_t os) {
    const int hd = s->m->info.head_dim, kvd = s->m->info.n_head_kv * hd;
    if (n <= 0) return;
    if (s->p.kv_type == EI_KV_F16) {
        s->k->attn_values_f16(kv_row(s, vc, first, g), (size_t)kvd, n, P, ps, nq, hd, O, os);
        return;
    }
    for (int r = 0; r < nq; r++)
        for (int j = 0; j < n; j++) s->k->axpy_f32(P[(size_t)r * ps + j], kv_row(s, vc, first + j, g), O + (size_t)r * os, hd);
}

/* Eviction scores (H2O, SnapKV): adds one row of attention probabilities, laid out [sink | ring from
 * `first` (n1) | ring from 0], to the attention received per cache slot. */
static void ev_add_row(float *acc, const float *row, int S, int n_s, int n1, int n, int first) {
    for (int i = 0; i < n_s; i++) acc[i] += row[i];
    for (int i = n_s; i < n_s + n1; i++) acc[S + first + i - n_s] += row[i];
    for (int i = n_s + n1; i < n; i++) acc[S + i - n_s - n1] += row[i];
}

/* Worker ith's own part of the scores buffer (plan.c: BUF_SCORES): rows x (slots + 3 hd) floats for
 * a block's attention, also used as the hd-float scratch of a memory read. */
static float *thread_scratch(const ei_session *s, int ith) {
    const ei_model_info *in = &s->m->info;
    const size_t max_rows = (size_t)EI_ATTN_TOKENS * (in->n_head / in->n_head_kv);
    return s->scores + (size_t)ith * max_rows * ((size_t)s->plan.n_slots + 3 * (size_t)in->head_dim);
}

/* Local attention of a block of up to EI_ATTN_TOKENS tokens and the query heads that share KV head
 * g (rows r = token * heads_per_group + head): every K/V row read serves all of them. A row's keys
 * are the sink (query rotated at its cache position) and the ring up to its own token (query at its
 * stream position). Scores are computed for the block's widest key range; keys past a row's own
 * token get probability 0, which leaves its softmax and output exactly as if they were skipped. */
static void attn_task(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    ei_session *s = j->s;
    const ei_model_info *in = &s->m->info;
    const int H = in->n_head, G = in->n_head_kv, hd = in->head_dim, HD = H * hd, hpg = H / G;
    const int n_slots = s->plan.n_slots, cap = s->plan.ring_cap, S = j->kl.n_sink;
    const float scale = 1.0f / sqrtf((float)hd);
    const int f16_kv = s->p.kv_type == EI_KV_F16;
    const int max_rows = EI_ATTN_TOKENS * hpg;
    float *sc = thread_scratch(s, ith);
    float *q_ring = sc + (size_t)max_rows * n_slots, *q_sink = q_ring + (size_t)max_rows * hd;
    float *o_blk = q_sink + (size_t)max_rows * hd; /* the block's outputs, row after row */
    const size_t layer_bytes = (size_t)n_slots * G * hd * s->kv_elem;
    const uint8_t *kc = (const uint8_t *)s->k_cache + (size_t)j->layer * layer_bytes;
    const uint8_t *vc = (const uint8_t *)s->v_cache + (size_t)j->layer * layer_bytes;
    const int n_blocks = (j->T + EI_ATTN_TOKENS - 1) / EI_ATTN_TOKENS;
    /* items interleaved over threads: later blocks cost more (causal), interleaving balances that */
    for (int item = ith; item < n_blocks * G; item += nth) {
        const int g = item % G, t0 = item / G * EI_ATTN_TOKENS;
        const int nt = j->T - t0 < EI_ATTN_TOKENS ? j->T - t0 : EI_ATTN_TOKENS, rows = nt * hpg;
        const int64_t p_last = j->kl.pos0 + t0 + nt - 1;
        /* queries of the block; an f16 cache is read as f16 x f16 products, as llama.cpp does */
        int sink_q_differs = 0;
        for (int t = 0; t < nt; t++)
            for (int hh = 0; hh < hpg; hh++) {
                const size_t src = (size_t)(t0 + t) * HD + (size_t)(g * hpg + hh) * hd, dst = (size_t)(t * hpg + hh) * hd;
                memcpy(q_ring + dst, s->q + src, (size_t)hd * sizeof(float));
                const int64_t p = j->kl.pos0 + t0 + t;
                const float *qs = p >= S && s->q_cache ? s->q_cache + src : s->q + src;
                sink_q_differs |= qs != s->q + src;
                memcpy(q_sink + dst, qs, (size_t)hd * sizeof(float));
            }
        if (f16_kv) {
            s->k->round_f16(q_ring, rows * hd);
            s->k->round_f16(q_sink, rows * hd);
        }
        /* key ranges of the block's last token (the widest); row layout [sink | ring] */
        const int n_s = p_last < S ? (int)p_last + 1 : S;
        const int n_r = p_last >= S ? (int)(p_last - j->kl.ring_pos0 + 1) : 0;
        const int first = j->kl.ring_start, n1 = n_r < cap - first ? n_r : cap - first, n = n_s + n_r;
        const size_t ss = (size_t)n;
        const int block = j->T > 1; /* a one-token step scores as the split decode path does */
        score_keys(s, kc, 0, n_s, g, sink_q_differs ? q_sink : q_ring, rows, scale, sc, ss, block);
        score_keys(s, kc, S + first, n1, g, q_ring, rows, scale, sc + n_s, ss, block);
        score_keys(s, kc, S, n_r - n1, g, q_ring, rows, scale, sc + n_s + n1, ss, block);
        for (int r = 0; r < rows; r++) {
            const int64_t p = j->kl.pos0 + t0 + r / hpg;
            float *row = sc + (size_t)r * ss;
            /* mask keys after this row's token: sink slots past p, ring slots past p */
            const int valid_s = p < S ? (int)p + 1 : S, valid_r = p >= S ? (int)(p - j->kl.ring_pos0 + 1) : 0;
            for (int i = valid_s; i < n_s; i++) row[i] = -INFINITY;
            for (int i = n_s + valid_r; i < n; i++) row[i] = -INFINITY;
            s->k->softmax(row, n);
            if (f16_kv) s->k->round_f16(row, n);
        }
        if (s->ev_block) { /* eviction scores: this block's share of the attention each slot received */
            float *acc = s->ev_block + ((size_t)(t0 / EI_ATTN_TOKENS) * G + g) * n_slots;
            memset(acc, 0, (size_t)n_slots * sizeof *acc);
            for (int r = 0; r < rows; r++)
                if (j->kl.pos0 + t0 + r / hpg >= j->kl.observe_from) ev_add_row(acc, sc + (size_t)r * ss, S, n_s, n1, n, first);
        }
        memset(o_blk, 0, (size_t)rows * hd * sizeof *o_blk);
        add_values(s, vc, 0, n_s, g, sc, ss, rows, o_blk, (size_t)hd);
        add_values(s, vc, S + first, n1, g, sc + n_s, ss, rows, o_blk, (size_t)hd);
        add_values(s, vc, S, n_r - n1, g, sc + n_s + n1, ss, rows, o_blk, (size_t)hd);
        /* row r of the block is token t0 + r / hpg, head g * hpg + r % hpg */
        for (int r = 0; r < rows; r++)
            memcpy(s->att + (size_t)(t0 + r / hpg) * HD + (size_t)(g * hpg + r % hpg) * hd, o_blk + (size_t)r * hd,
                   (size_t)hd * sizeof *o_blk);
    }
}

/* Decode (one token) against a long cache: a single block would give only G work items, too few to
 * keep the threads busy, so the keys are cut into spans of EI_ATTN_SPAN and the work runs in three
 * passes over the whole [H][n] score matrix, as llama.cpp does: scores per (group, span), softmax
 * per head, values per (group, span) into span partials, then the partials summed in span order. The
 * spans do not depend on the thread count, so neither does any sum. Row layout: [sink | ring]. */
typedef struct {
    ei_session *s;
    int layer, n_s, n1, n_r, n;  /* keys: n_s sink slots, ring slots from ring_start (n1) then from 0 */
    int ring_start;
    int read_memory;             /* also read each head's memory in the softmax pass (no extra region) */
    float *scores, *partial, *q_ring, *q_sink;
} decode_job;

/* Calls fn on the pieces of logical keys [a, b) (sink, ring tail, ring head) with their cache slot. */
typedef void (*span_piece_fn)(decode_job *d, int g, int slot, int key, int len, int span, int sink);
static void for_span_pieces(decode_job *d, int g, int span, span_piece_fn fn) {
    const int a = span * EI_ATTN_SPAN, b = a + EI_ATTN_SPAN < d->n ? a + EI_ATTN_SPAN : d->n;
    const int S = d->s->p.infinite ? d->s->p.n_sink : 0;
    const int bounds[4] = {0, d->n_s, d->n_s + d->n1, d->n};
    const int slot0[3] = {0, S + d->ring_start, S};
    for (int piece = 0; piece < 3; piece++) {
        const int lo = a > bounds[piece] ? a : bounds[piece], hi = b < bounds[piece + 1] ? b : bounds[piece + 1];
        if (hi > lo) fn(d, g, slot0[piece] + lo - bounds[piece], lo, hi - lo, span, piece == 0);
    }
}

static void decode_score_piece(decode_job *d, int g, int slot, int key, int len, int span, int sink) {
    (void)span;
    const ei_session *s = d->s;
    const int hd = s->m->info.head_dim, hpg = s->m->info.n_head / s->m->info.n_head_kv;
    const size_t layer_bytes = (size_t)s->plan.n_slots * s->m->info.n_head_kv * hd * s->kv_elem;
    const float *Q = (sink ? d->q_sink : d->q_ring) + (size_t)g * hpg * hd;
    score_keys(s, (const uint8_t *)s->k_cache + (size_t)d->layer * layer_bytes, slot, len, g, Q, hpg,
               1.0f / sqrtf((float)hd), d->scores + (size_t)g * hpg * d->n + key, (size_t)d->n, 0);
}

static void decode_value_piece(decode_job *d, int g, int slot, int key, int len, int span, int sink) {
    (void)sink;
    const ei_session *s = d->s;
    const int H = s->m->info.n_head, hd = s->m->info.head_dim, hpg = H / s->m->info.n_head_kv;
    const size_t layer_bytes = (size_t)s->plan.n_slots * s->m->info.n_head_kv * hd * s->kv_elem;
    add_values(s, (const uint8_t *)s->v_cache + (size_t)d->layer * layer_bytes, slot, len, g,
               d->scores + (size_t)g * hpg * d->n + key, (size_t)d->n, hpg,
               d->partial + ((size_t)span * H + (size_t)g * hpg) * hd, (size_t)hd);
}

static void decode_scores_task(void *ctx, int ith, int nth) {
    decode_job *d = ctx;
    const int G = d->s->m->info.n_head_kv, spans = ei_attn_spans(d->n);
    for (int item = ith; item < G * spans; item += nth) for_span_pieces(d, item % G, item / G, decode_score_piece);
}

static void memory_read_head(const ei_session *s, int layer, int t, int h, float *scratch);

static void decode_softmax_task(void *ctx, int ith, int nth) {
    decode_job *d = ctx;
    const ei_session *s = d->s;
    for (int h = ith; h < s->m->info.n_head; h += nth) {
        float *row = d->scores + (size_t)h * d->n;
        s->k->softmax(row, d->n);
        if (s->p.kv_type == EI_KV_F16) s->k->round_f16(row, d->n);
        if (d->read_memory) memory_read_head(s, d->layer, 0, h, thread_scratch(s, ith));
    }
}

static void decode_values_task(void *ctx, int ith, int nth) {
    decode_job *d = ctx;
    const int H = d->s->m->info.n_head, G = d->s->m->info.n_head_kv, hd = d->s->m->info.head_dim;
    const int spans = ei_attn_spans(d->n);
    for (int item = ith; item < G * spans; item += nth) {
        const int g = item % G, span = item / G, hpg = H / G;
        memset(d->partial + ((size_t)span * H + (size_t)g * hpg) * hd, 0, (size_t)hpg * hd * sizeof(float));
        for_span_pieces(d, g, span, decode_value_piece);
    }
}

/* Returns 0 when the one-token split path does not apply (then attn_task runs). When it applies and
 * read_memory is set, the memory of every head has been read into a_mem too. */
static int attn_decode(ei_session *s, int layer, int T, const key_layout *kl, int read_memory) {
    const int S = kl->n_sink, H = s->m->info.n_head, hd = s->m->info.head_dim;
    if (T != 1) return 0;
    const int64_t p = kl->pos0;
    const int n_s = p < S ? (int)p + 1 : S, n_r = p >= S ? (int)(p - kl->ring_pos0 + 1) : 0;
    const int first = kl->ring_start, cap = s->plan.ring_cap;
    if (n_s + n_r <= EI_ATTN_SPAN) return 0;
    decode_job d = {s, layer, n_s, n_r < cap - first ? n_r : cap - first, n_r, n_s + n_r, first, read_memory,
                    NULL, NULL, NULL, NULL};
    d.scores = s->decode;
    d.partial = d.scores + (size_t)H * s->plan.n_slots;
    d.q_ring = d.partial + (size_t)ei_attn_spans(s->plan.n_slots) * H * hd;
    d.q_sink = d.q_ring + (size_t)H * hd;
    /* queries of the token; the sink is scored with the query rotated at its cache position */
    memcpy(d.q_ring, s->q, (size_t)H * hd * sizeof(float));
    memcpy(d.q_sink, p >= S && s->q_cache ? s->q_cache : s->q, (size_t)H * hd * sizeof(float));
    if (s->p.kv_type == EI_KV_F16) {
        s->k->round_f16(d.q_ring, H * hd);
        s->k->round_f16(d.q_sink, H * hd);
    }
    ei_pool_run(s->pool, decode_scores_task, &d);
    ei_pool_run(s->pool, decode_softmax_task, &d);
    ei_pool_run(s->pool, decode_values_task, &d);
    const int spans = ei_attn_spans(d.n);
    if (s->ev_score && p >= kl->observe_from) { /* eviction scores: this token's attention, summed per KV head */
        const int G = s->m->info.n_head_kv;
        for (int h = 0; h < H; h++)
            ev_add_row(s->ev_score + ((size_t)layer * G + (size_t)(h / (H / G))) * s->plan.n_slots, d.scores + (size_t)h * d.n, S,
                       d.n_s, d.n1, d.n, first);
    }
    for (int i = 0; i < H * hd; i++) {
        float acc = 0.0f;
        for (int sp = 0; sp < spans; sp++) acc += d.partial[(size_t)sp * H * hd + i];
        s->att[i] = acc;
    }
    return 1;
}

/* Memory read and gate (EdgeInfinite): att = g * read(memory, q before RoPE) + (1 - g) * att.
 * The reads are split by (token, head), so that a single decode token keeps every thread busy; the
 * blend, which may look at all heads of a token (layer-mix gate), follows in one pass. */
typedef struct { ei_session *s; int layer, T; } memread_job;

/* a_mem of token t, query head h = read of its KV head's memory with the pre-RoPE query; scratch: hd
 * floats. */
static void memory_read_head(const ei_session *s, int layer, int t, int h, float *scratch) {
    const ei_model_info *in = &s->m->info;
    const int H = in->n_head, G = in->n_head_kv, hd = in->head_dim, g = h / (H / G);
    const size_t unit = (size_t)layer * G + g, at = (size_t)t * H * hd + (size_t)h * hd;
    ei_memory_retrieve(s->k, s->mem_M + unit * hd * hd, s->mem_z + unit * hd, s->q_pre + at, hd, s->a_mem + at, scratch);
}

static void memread_task(void *ctx, int ith, int nth) {
    memread_job *j = ctx;
    const int H = j->s->m->info.n_head;
    float *scratch = thread_scratch(j->s, ith);
    for (int item = ith; item < j->T * H; item += nth) memory_read_head(j->s, j->layer, item / H, item % H, scratch);
}

/* reads_done: the decode attention has already read the memory (a_mem is filled) */
static void memory_read(ei_session *s, int layer, int T, int reads_done) {
    const int H = s->m->info.n_head, HD = H * s->m->info.head_dim;
    memread_job mj = {s, layer, T};
    if (!reads_done) ei_pool_run(s->pool, memread_task, &mj);
    for (int t = 0; t < T; t++)
        ei_gate_blend(s->p.gate, s->p.gate_const, layer, H, s->m->info.head_dim, s->a_mem + (size_t)t * HD,
                      s->att + (size_t)t * HD);
}

/* Writes the chunk's keys/values into their slots: sink slots for stream positions < S, else the
 * next ring slots. */
static void store_kv(ei_session *s, int layer, int T, const key_layout *kl) {
    const ei_model_info *in = &s->m->info;
    const int KVD = in->n_head_kv * in->head_dim, n_slots = s->plan.n_slots, cap = s->plan.ring_cap;
    int ring_next = (s->ring_start + s->ring_count) % cap;
    for (int t = 0; t < T; t++) {
        const int64_t p = kl->pos0 + t;
        int slot;
        if (p < kl->n_sink) slot = (int)p;
        else {
            slot = kl->n_sink + ring_next;
            ring_next = (ring_next + 1) % cap;
        }
        size_t off = ((size_t)layer * n_slots + (size_t)slot) * KVD;
        if (s->ev_score) /* eviction scores: a new token has received no attention yet */
            for (int g = 0; g < in->n_head_kv; g++) s->ev_score[((size_t)layer * in->n_head_kv + g) * n_slots + slot] = 0.0f;
        ei_cache_store(s, s->k_cache, off, s->k_new + (size_t)t * KVD, KVD);
        ei_cache_store(s, s->v_cache, off, s->v_new + (size_t)t * KVD, KVD);
    }
}

/* Eviction scores: adds the chunk's per-block attention received to the layer's totals, blocks in
 * order (so the sums do not depend on which thread ran which block). */
static void ev_reduce(ei_session *s, int layer, int T) {
    const int G = s->m->info.n_head_kv, n_slots = s->plan.n_slots;
    for (int g = 0; g < G; g++) {
        float *acc = s->ev_score + ((size_t)layer * G + g) * n_slots;
        for (int b = 0; b < ei_attn_blocks(T); b++) {
            const float *blk = s->ev_block + ((size_t)b * G + g) * n_slots;
            for (int i = 0; i < n_slots; i++) acc[i] += blk[i];
        }
    }
}

/* --------------------------------------------------------------- forward */

void ei_forward(ei_session *s, const int32_t *tokens, int T, float *all_logits) {
    const ei_model *m = s->m;
    const ei_model_info *in = &m->info;
    const int D = in->n_embd, F = in->n_ff, H = in->n_head, G = in->n_head_kv, hd = in->head_dim;
    const int HD = H * hd, KVD = G * hd, V = in->n_vocab;
    const float eps = in->norm_eps;
    const int S = s->p.infinite ? s->p.n_sink : 0;

    /* where this chunk's tokens go, and their positions */
    key_layout kl = {s->n_stream, S, s->ring_start, s->ring_pos0, 0};
    if (s->p.evict == EI_EVICT_SNAPKV) {
        /* SnapKV observes the n_observe queries up to the one that fills the ring (the next eviction) */
        const int64_t first_ring = s->n_stream > S ? s->n_stream : S;
        kl.observe_from = first_ring + (s->plan.ring_cap - s->ring_count) - s->p.n_observe;
    }
    int n_to_sink = s->n_stream < S ? (int)(S - s->n_stream < T ? S - s->n_stream : T) : 0;
    if (s->ring_count == 0) kl.ring_pos0 = s->n_stream + n_to_sink;
    ei_rope_table(s->rope_abs, s->n_stream, T, 0, 0, hd, in->rope_theta);
    const int use_cache_rope = s->q_cache != NULL;
    if (use_cache_rope) ei_rope_table(s->rope_cache, s->n_stream, T, S, kl.ring_pos0 - S, hd, in->rope_theta);
    const int read_memory = s->plan.use_memory && s->n_memory > 0;
    /* rows of the layers' matrix products: the plan's chunk for prefill (fixed shape), 1 for decode */
    const int Tm = T > 1 && !s->p.dynamic_shape ? s->p.n_chunk : T;

    for (int t = 0; t < T; t++)
        ei_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                          s->x + (size_t)t * D, D);
    if (Tm > T) {
        /* padding rows: zero inputs stay finite through every layer and are never read back */
        memset(s->x + (size_t)T * D, 0, (size_t)(Tm - T) * D * sizeof(float));
        memset(s->att + (size_t)T * HD, 0, (size_t)(Tm - T) * HD * sizeof(float));
    }

    for (int l = 0; l < in->n_layer; l++) {
        const ei_layer *L = &m->layers[l];
        /* attention block */
        for (int t = 0; t < Tm; t++) rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, L->attn_norm.data, D, eps);
        mm_target qkv[3] = {{&L->wq, s->q, HD}, {&L->wk, s->k_new, KVD}, {&L->wv, s->v_new, KVD}};
        matmul_group(s, s->xn, Tm, qkv, 3);
        for (int t = 0; t < T; t++) {
            float *qt = s->q + (size_t)t * HD, *kt = s->k_new + (size_t)t * KVD, *vt = s->v_new + (size_t)t * KVD;
            if (L->bq.data) {
                const float *bq = L->bq.data, *bk = L->bk.data, *bv = L->bv.data;
                for (int i = 0; i < HD; i++) qt[i] += bq[i];
                for (int i = 0; i < KVD; i++) kt[i] += bk[i];
                for (int i = 0; i < KVD; i++) vt[i] += bv[i];
            }
            if (s->q_pre) memcpy(s->q_pre + (size_t)t * HD, qt, (size_t)HD * sizeof *qt);
            if (use_cache_rope) {
                float *qc = s->q_cache + (size_t)t * HD;
                memcpy(qc, qt, (size_t)HD * sizeof *qt);
                ei_rope_rotate(qc, H, hd, s->rope_cache + (size_t)t * hd, in->rope_neox, 1.0f);
            }
            ei_rope_rotate(qt, H, hd, s->rope_abs + (size_t)t * hd, in->rope_neox, 1.0f);
            ei_rope_rotate(kt, G, hd, s->rope_abs + (size_t)t * hd, in->rope_neox, 1.0f);
        }
        store_kv(s, l, T, &kl);
        attn_job aj = {s, l, T, kl};
        const int decoded = attn_decode(s, l, T, &kl, read_memory);
        if (!decoded) {
            ei_pool_run(s->pool, attn_task, &aj);
            if (s->ev_score) ev_reduce(s, l, T);
        }
        if (read_memory) memory_read(s, l, T, decoded);
        mm_target o[1] = {{&L->wo, s->xn, D}};
        matmul_group(s, s->att, Tm, o, 1);
        for (size_t i = 0; i < (size_t)T * D; i++) s->x[i] += s->xn[i];

        /* feed-forward block */
        for (int t = 0; t < Tm; t++) rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, L->ffn_norm.data, D, eps);
        mm_target gu[2] = {{&L->w_gate, s->ff_gate, F}, {&L->w_up, s->ff_up, F}};
        matmul_group(s, s->xn, Tm, gu, 2);
        for (size_t i = 0; i < (size_t)Tm * F; i++) {
            float g = s->ff_gate[i];
            s->ff_gate[i] = g / (1.0f + expf(-g)) * s->ff_up[i];
        }
        mm_target dn[1] = {{&L->w_down, s->xn, D}};
        matmul_group(s, s->ff_gate, Tm, dn, 1);
        for (size_t i = 0; i < (size_t)T * D; i++) s->x[i] += s->xn[i];
    }

    /* logits: of every token when asked, else only of the last one */
    int first = all_logits ? 0 : T - 1;
    for (int t = first; t < T; t++)
        rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, m->output_norm.data, D, eps);
    mm_target out[1] = {{&m->output, all_logits ? all_logits : s->logits, V}};
    matmul_group(s, s->xn + (size_t)first * D, T - first, out, 1);
    if (all_logits) memcpy(s->logits, all_logits + (size_t)(T - 1) * V, (size_t)V * sizeof(float));

    s->n_calls++;
    s->n_rows += Tm;
    s->n_pad_rows += Tm - T;
    s->n_sink_used += n_to_sink;
    s->ring_pos0 = kl.ring_pos0;
    s->ring_count += T - n_to_sink;
    s->n_stream += T;
}

/* ----------------------------------------------------------- compression */

typedef struct { ei_session *s; int n; } compress_job;

/* One (layer, KV head) unit per item: undo the RoPE of the n oldest window keys (stored rotated at
 * their stream positions), then write keys and values into that unit's memory. */
static void compress_task(void *ctx, int ith, int nth) {
    compress_job *j = ctx;
    ei_session *s = j->s;
    const ei_model_info *in = &s->m->info;
    const int G = in->n_head_kv, hd = in->head_dim, KVD = G * hd, n = j->n;
    const int S = s->p.n_sink, cap = s->plan.ring_cap, n_slots = s->plan.n_slots;
    float *kpre = s->mem_scratch + (size_t)ith * 4 * s->p.n_chunk * hd, *val = kpre + (size_t)n * hd, *scratch = val + (size_t)n * hd;
    for (int unit = ith; unit < in->n_layer * G; unit += nth) {
        const int l = unit / G, g = unit % G;
        for (int t = 0; t < n; t++) {
            int slot = S + (s->ring_start + t) % cap;
            size_t off = ((size_t)l * n_slots + (size_t)slot) * KVD + (size_t)g * hd;
            ei_cache_load(s, s->k_cache, off, kpre + (size_t)t * hd, hd);
            ei_cache_load(s, s->v_cache, off, val + (size_t)t * hd, hd);
            ei_rope_rotate(kpre + (size_t)t * hd, 1, hd, s->rope_abs + (size_t)t * hd, in->rope_neox, -1.0f);
        }
        ei_memory_update(s->k, s->mem_M + (size_t)unit * hd * hd, s->mem_z + (size_t)unit * hd, kpre, hd, val, hd, n, hd,
                         s->p.update, scratch);
    }
}

void ei_compress(ei_session *s, int n) {
    if (n > s->ring_count) n = s->ring_count;
    if (n <= 0) return;
    if (s->plan.use_memory) {
        /* the RoPE table of the evicted positions (the forward pass is done with its own table) */
        ei_rope_table(s->rope_abs, s->ring_pos0, n, 0, 0, s->m->info.head_dim, s->m->info.rope_theta);
        compress_job cj = {s, n};
        ei_pool_run(s->pool, compress_task, &cj);
        s->n_memory += n;
    }
    s->ring_start = (s->ring_start + n) % s->plan.ring_cap;
    s->ring_count -= n;
    s->ring_pos0 += n;
}

/* Session lifecycle: size every buffer from (model, n_ctx, n_chunk, threads), allocate them as one
 * arena, and evaluate tokens chunk by chunk. Nothing is allocated after ei_session_new. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "types.h"
#include "util.h"

ei_session_params ei_session_default_params(void) {
    ei_session_params p = {0, 128, 1, EI_KV_F16};
    return p;
}

/* One planned buffer: where its pointer goes and how many bytes it needs (64-byte aligned). */
typedef struct { void **ptr; size_t bytes; } plan_item;

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }

static size_t act_bytes(const ei_weight *w) { return ei_row_bytes(ei_act_type((ei_type)w->type), w->cols); }

/* Largest activation row the kernels will be handed, over every weight matrix of the model. */
static size_t act_row_bytes(const ei_model *m) {
    size_t best = act_bytes(&m->output);
    for (int l = 0; l < m->info.n_layer; l++) {
        const ei_layer *L = &m->layers[l];
        const ei_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++)
            if (act_bytes(lw[i]) > best) best = act_bytes(lw[i]);
    }
    return best;
}

ei_session *ei_session_new(const ei_model *m, const ei_session_params *params) {
    const ei_model_info *in = &m->info;
    ei_session_params p = params ? *params : ei_session_default_params();
    if (p.n_ctx <= 0) p.n_ctx = in->n_ctx_train;
    if (p.n_chunk <= 0) p.n_chunk = 128;
    if (p.n_threads <= 0) p.n_threads = 1;
    if (p.n_ctx > (1 << 24)) {
        ei_set_error("context %d is too large (max %d)", p.n_ctx, 1 << 24);
        return NULL;
    }
    if (p.n_chunk > 8192) {
        ei_set_error("chunk %d is too large (max 8192)", p.n_chunk);
        return NULL;
    }
    if (p.n_chunk > p.n_ctx) p.n_chunk = p.n_ctx;
    if (p.n_threads > 64) {
        ei_set_error("%d threads is too many (max 64)", p.n_threads);
        return NULL;
    }
    if (p.kv_type != EI_KV_F32 && p.kv_type != EI_KV_F16) {
        ei_set_error("unknown KV cache type %d", (int)p.kv_type);
        return NULL;
    }
    ei_session *s = calloc(1, sizeof *s);
    if (!s) {
        ei_set_error("out of memory");
        return NULL;
    }
    s->m = m;
    s->k = m->kern;
    s->p = p;
    s->kv_elem = p.kv_type == EI_KV_F16 ? 2 : 4;
    const size_t L = (size_t)p.n_chunk, D = (size_t)in->n_embd, F = (size_t)in->n_ff;
    const size_t HD = (size_t)in->n_head * in->head_dim, KVD = (size_t)in->n_head_kv * in->head_dim;
    const size_t C = (size_t)p.n_ctx, half = (size_t)in->head_dim / 2, f = sizeof(float);
    s->xq_stride = up64(act_row_bytes(m));
    plan_item plan[] = {
        {(void **)&s->x, L * D * f},          {(void **)&s->xn, L * D * f},
        {(void **)&s->q, L * HD * f},         {(void **)&s->k_new, L * KVD * f},
        {(void **)&s->v_new, L * KVD * f},    {(void **)&s->att, L * HD * f},
        {(void **)&s->ff_gate, L * F * f},    {(void **)&s->ff_up, L * F * f},
        {(void **)&s->xq, L * s->xq_stride},  {(void **)&s->scores, (size_t)p.n_threads * C * f},
        {(void **)&s->logits, (size_t)in->n_vocab * f},
        {(void **)&s->rope_cos, C * half * f}, {(void **)&s->rope_sin, C * half * f},
        {&s->k_cache, (size_t)in->n_layer * C * KVD * s->kv_elem},
        {&s->v_cache, (size_t)in->n_layer * C * KVD * s->kv_elem},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) total += up64(plan[i].bytes);
    s->arena = ei_alloc_aligned(total);
    if (!s->arena) {
        ei_set_error("cannot allocate the session arena of %zu MiB (context %d)", total >> 20, p.n_ctx);
        free(s);
        return NULL;
    }
    s->arena_bytes = total;
    size_t off = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        *plan[i].ptr = s->arena + off;
        off += up64(plan[i].bytes);
    }
    /* RoPE angles as ggml computes them: theta_i = pos * base^(-2i/d), by repeated products */
    const float theta_scale = powf(in->rope_theta, -2.0f / (float)in->head_dim);
    for (size_t pos = 0; pos < C; pos++) {
        float theta = (float)pos;
        for (size_t i = 0; i < half; i++) {
            s->rope_cos[pos * half + i] = cosf(theta);
            s->rope_sin[pos * half + i] = sinf(theta);
            theta *= theta_scale;
        }
    }
    s->pool = ei_pool_new(p.n_threads);
    if (!s->pool) {
        ei_set_error("cannot start %d threads", p.n_threads);
        ei_free_aligned(s->arena);
        free(s);
        return NULL;
    }
    return s;
}

void ei_session_free(ei_session *s) {
    if (!s) return;
    ei_pool_free(s->pool);
    ei_free_aligned(s->arena);
    free(s);
}

void ei_session_reset(ei_session *s) { s->n_past = 0; }
int ei_session_n_past(const ei_session *s) { return s->n_past; }
size_t ei_session_arena_bytes(const ei_session *s) { return s->arena_bytes; }
const float *ei_session_logits(const ei_session *s) { return s->logits; }

int ei_session_eval(ei_session *s, const int32_t *tokens, int64_t n, float *all_logits,
                    ei_progress_fn progress, void *user) {
    const int V = s->m->info.n_vocab;
    if (n <= 0) return ei_set_error("nothing to evaluate (%lld tokens)", (long long)n);
    if (n > (int64_t)s->p.n_ctx - s->n_past)
        return ei_set_error("context full: %d tokens in the cache + %lld new > context %d", s->n_past,
                            (long long)n, s->p.n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ei_set_error("token %lld has id %d, outside the vocabulary [0, %d)", (long long)i, tokens[i], V);
    for (int64_t done = 0; done < n;) {
        int T = (int)(n - done < s->p.n_chunk ? n - done : s->p.n_chunk);
        ei_forward(s, tokens + done, T, all_logits ? all_logits + (size_t)done * V : NULL);
        done += T;
        if (progress) progress(user, done, n);
    }
    return 0;
}

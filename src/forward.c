/* The transformer forward pass over one chunk of tokens, Llama family:
 *   x = embed(tokens)
 *   per layer:  h = rmsnorm(x) ; q,k,v = h Wq, h Wk, h Wv (+bias) ; rope(q, k)
 *               append k, v to the cache ; a = causal softmax(q k^T / sqrt(d)) v ; x += a Wo
 *               h = rmsnorm(x) ; x += (silu(h Wgate) * (h Wup)) Wdown
 *   logits = rmsnorm(x) Wout
 * Matrix products go through the kernel table (activations are first converted to the format the
 * weight type's kernel consumes); work is split over output rows or (head, token) pairs, so every
 * number is computed by the same code whatever the thread count. */
#include <math.h>
#include <string.h>

#include "session.h"
#include "types.h"

/* --------------------------------------------------------------- helpers */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void rope(float *v, int n_heads, int hd, const float *cosv, const float *sinv, int neox) {
    for (int h = 0; h < n_heads; h++, v += hd) {
        for (int i = 0; i < hd / 2; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cosv[i] - x1 * sinv[i];
            v[b] = x0 * sinv[i] + x1 * cosv[i];
        }
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
        convert_job cj = {s->k, x, s->xq, s->xq_stride, T, mats[i].w->cols, act};
        if (T == 1) convert_task(&cj, 0, 1);
        else ei_pool_run(s->pool, convert_task, &cj);
        matmul_job mj = {s->k, sub, n_sub, T, s->xq, s->xq_stride};
        ei_pool_run(s->pool, matmul_task, &mj);
    }
}

/* ------------------------------------------------------------- attention */

typedef struct {
    ei_session *s;
    int layer, T, pos0;
} attn_job;

static void attn_task(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    ei_session *s = j->s;
    const ei_model_info *in = &s->m->info;
    const int H = in->n_head, G = in->n_head_kv, hd = in->head_dim;
    const int HD = H * hd, KVD = G * hd, n_ctx = s->p.n_ctx;
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = s->scores + (size_t)ith * n_ctx;
    const uint8_t *kc = (const uint8_t *)s->k_cache + (size_t)j->layer * n_ctx * KVD * s->kv_elem;
    const uint8_t *vc = (const uint8_t *)s->v_cache + (size_t)j->layer * n_ctx * KVD * s->kv_elem;
    const size_t row = (size_t)KVD * s->kv_elem;
    const int f16 = s->p.kv_type == EI_KV_F16;
    /* items interleaved over threads: later tokens cost more (causal), interleaving balances that */
    for (int item = ith; item < H * j->T; item += nth) {
        int t = item % j->T, h = item / j->T, g = h / (H / G);
        int n_keys = j->pos0 + t + 1;
        const float *q = s->q + (size_t)t * HD + (size_t)h * hd;
        float mx = -INFINITY;
        for (int p = 0; p < n_keys; p++) {
            const void *kp = kc + p * row + (size_t)g * hd * s->kv_elem;
            float v = f16 ? s->k->dot_f16_f32(kp, q, hd) : s->k->dot_f32(kp, q, hd);
            v *= scale;
            sc[p] = v;
            if (v > mx) mx = v;
        }
        float sum = 0.0f;
        for (int p = 0; p < n_keys; p++) {
            sc[p] = expf(sc[p] - mx);
            sum += sc[p];
        }
        float inv = 1.0f / sum;
        float *out = s->att + (size_t)t * HD + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof *out);
        for (int p = 0; p < n_keys; p++) {
            const void *vp = vc + p * row + (size_t)g * hd * s->kv_elem;
            if (f16) s->k->axpy_f16_f32(sc[p] * inv, vp, out, hd);
            else s->k->axpy_f32(sc[p] * inv, vp, out, hd);
        }
    }
}

static void store_kv(ei_session *s, int layer, int T, int pos0) {
    const ei_model_info *in = &s->m->info;
    const int KVD = in->n_head_kv * in->head_dim, n_ctx = s->p.n_ctx;
    for (int t = 0; t < T; t++) {
        size_t off = ((size_t)layer * n_ctx + (size_t)(pos0 + t)) * KVD;
        const float *kt = s->k_new + (size_t)t * KVD, *vt = s->v_new + (size_t)t * KVD;
        if (s->p.kv_type == EI_KV_F16) {
            ei_fp16 *kd = (ei_fp16 *)s->k_cache + off, *vd = (ei_fp16 *)s->v_cache + off;
            for (int i = 0; i < KVD; i++) {
                kd[i] = ei_fp32_to_fp16(kt[i]);
                vd[i] = ei_fp32_to_fp16(vt[i]);
            }
        } else {
            memcpy((float *)s->k_cache + off, kt, (size_t)KVD * sizeof(float));
            memcpy((float *)s->v_cache + off, vt, (size_t)KVD * sizeof(float));
        }
    }
}

/* --------------------------------------------------------------- forward */

void ei_forward(ei_session *s, const int32_t *tokens, int T, float *all_logits) {
    const ei_model *m = s->m;
    const ei_model_info *in = &m->info;
    const int D = in->n_embd, F = in->n_ff, H = in->n_head, G = in->n_head_kv, hd = in->head_dim;
    const int HD = H * hd, KVD = G * hd, V = in->n_vocab;
    const int pos0 = s->n_past;
    const float eps = in->norm_eps;

    for (int t = 0; t < T; t++)
        ei_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                          s->x + (size_t)t * D, D);

    for (int l = 0; l < in->n_layer; l++) {
        const ei_layer *L = &m->layers[l];
        /* attention block */
        for (int t = 0; t < T; t++) rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, L->attn_norm.data, D, eps);
        mm_target qkv[3] = {{&L->wq, s->q, HD}, {&L->wk, s->k_new, KVD}, {&L->wv, s->v_new, KVD}};
        matmul_group(s, s->xn, T, qkv, 3);
        for (int t = 0; t < T; t++) {
            if (L->bq.data) {
                const float *bq = L->bq.data, *bk = L->bk.data, *bv = L->bv.data;
                for (int i = 0; i < HD; i++) s->q[(size_t)t * HD + i] += bq[i];
                for (int i = 0; i < KVD; i++) s->k_new[(size_t)t * KVD + i] += bk[i];
                for (int i = 0; i < KVD; i++) s->v_new[(size_t)t * KVD + i] += bv[i];
            }
            const float *c = s->rope_cos + (size_t)(pos0 + t) * (hd / 2);
            const float *sn = s->rope_sin + (size_t)(pos0 + t) * (hd / 2);
            rope(s->q + (size_t)t * HD, H, hd, c, sn, in->rope_neox);
            rope(s->k_new + (size_t)t * KVD, G, hd, c, sn, in->rope_neox);
        }
        store_kv(s, l, T, pos0);
        attn_job aj = {s, l, T, pos0};
        ei_pool_run(s->pool, attn_task, &aj);
        mm_target o[1] = {{&L->wo, s->xn, D}};
        matmul_group(s, s->att, T, o, 1);
        for (size_t i = 0; i < (size_t)T * D; i++) s->x[i] += s->xn[i];

        /* feed-forward block */
        for (int t = 0; t < T; t++) rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, L->ffn_norm.data, D, eps);
        mm_target gu[2] = {{&L->w_gate, s->ff_gate, F}, {&L->w_up, s->ff_up, F}};
        matmul_group(s, s->xn, T, gu, 2);
        for (size_t i = 0; i < (size_t)T * F; i++) {
            float g = s->ff_gate[i];
            s->ff_gate[i] = g / (1.0f + expf(-g)) * s->ff_up[i];
        }
        mm_target dn[1] = {{&L->w_down, s->xn, D}};
        matmul_group(s, s->ff_gate, T, dn, 1);
        for (size_t i = 0; i < (size_t)T * D; i++) s->x[i] += s->xn[i];
    }

    /* logits: of every token when asked, else only of the last one */
    int first = all_logits ? 0 : T - 1;
    for (int t = first; t < T; t++)
        rmsnorm(s->xn + (size_t)t * D, s->x + (size_t)t * D, m->output_norm.data, D, eps);
    mm_target out[1] = {{&m->output, all_logits ? all_logits : s->logits, V}};
    matmul_group(s, s->xn + (size_t)first * D, T - first, out, 1);
    if (all_logits) memcpy(s->logits, all_logits + (size_t)(T - 1) * V, (size_t)V * sizeof(float));
    s->n_past += T;
}

#include "plan.h"

#include "types.h"

const char *const ei_buf_names[BUF_COUNT] = {
    [BUF_X] = "residual x [L][D]",           [BUF_XN] = "block input/output [L][D]",
    [BUF_Q] = "queries [L][H*hd]",           [BUF_Q_PRE] = "queries before RoPE [L][H*hd]",
    [BUF_Q_CACHE] = "queries at cache positions [L][H*hd]",
    [BUF_K_NEW] = "new keys [L][G*hd]",      [BUF_V_NEW] = "new values [L][G*hd]",
    [BUF_ATT] = "attention output [L][H*hd]", [BUF_A_MEM] = "memory read [L][H*hd]",
    [BUF_FF_GATE] = "ffn gate [L][F]",       [BUF_FF_UP] = "ffn up [L][F]",
    [BUF_XQ] = "quantized activations [L][row]", [BUF_SCORES] = "attention scores, queries, outputs [threads][rows][slots+3hd]",
    [BUF_DECODE] = "decode attention: scores, span outputs, queries [H][slots + spans*hd + 2hd]",
    [BUF_LOGITS] = "logits [V]",             [BUF_ROPE_ABS] = "RoPE cos/sin, stream positions [L][hd]",
    [BUF_ROPE_CACHE] = "RoPE cos/sin, cache positions [L][hd]",
    [BUF_K_CACHE] = "key cache [layers][slots][G*hd]", [BUF_V_CACHE] = "value cache [layers][slots][G*hd]",
    [BUF_MEM_M] = "memory M [layers][G][hd][hd]", [BUF_MEM_Z] = "memory z [layers][G][hd]",
    [BUF_MEM_SCRATCH] = "compression scratch [threads][4*L*hd]",
    [BUF_EV_SCORE] = "eviction: attention received [layers][G][slots]",
    [BUF_EV_BLOCK] = "eviction: attention received, per token block [L/8][G][slots]",
    [BUF_EV_ROPE] = "eviction: re-rotation cos/sin [L+1][hd]",
    [BUF_EV_SCRATCH] = "eviction scratch [threads][slots]",
};

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

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }

void ei_plan_build(const ei_model *m, const ei_session_params *p, ei_plan *out) {
    const ei_model_info *in = &m->info;
    const size_t f = sizeof(float), L = (size_t)p->n_chunk, D = (size_t)in->n_embd, F = (size_t)in->n_ff;
    const size_t hd = (size_t)in->head_dim, HD = (size_t)in->n_head * hd, KVD = (size_t)in->n_head_kv * hd;
    const size_t NL = (size_t)in->n_layer, G = (size_t)in->n_head_kv, T = (size_t)p->n_threads;
    const size_t kv_elem = p->kv_type == EI_KV_F16 ? 2 : 4;
    const int inf = p->infinite;
    out->ring_cap = inf ? p->n_window + p->n_chunk : p->n_ctx;
    out->n_slots = (inf ? p->n_sink : 0) + out->ring_cap;
    out->use_memory = inf && !p->freeze_memory && (p->gate != NULL || p->gate_const >= 0);
    out->xq_stride = up64(act_row_bytes(m));
    out->evict_by_attention = inf && p->evict != EI_EVICT_OLDEST;
    const size_t S = (size_t)out->n_slots, mem = out->use_memory, ev = out->evict_by_attention;
    size_t *b = out->bytes;
    b[BUF_X] = L * D * f;
    b[BUF_XN] = L * D * f;
    b[BUF_Q] = L * HD * f;
    b[BUF_Q_PRE] = mem ? L * HD * f : 0;
    b[BUF_Q_CACHE] = inf && p->n_sink > 0 ? L * HD * f : 0;
    b[BUF_K_NEW] = L * KVD * f;
    b[BUF_V_NEW] = L * KVD * f;
    b[BUF_ATT] = L * HD * f;
    b[BUF_A_MEM] = mem ? L * HD * f : 0;
    b[BUF_FF_GATE] = L * F * f;
    b[BUF_FF_UP] = L * F * f;
    b[BUF_XQ] = L * out->xq_stride;
    b[BUF_SCORES] = T * EI_ATTN_TOKENS * (size_t)(in->n_head / in->n_head_kv) * (S + 3 * hd) * f;
    b[BUF_DECODE] = (size_t)in->n_head * (S + ei_attn_spans(out->n_slots) * hd + 2 * hd) * f;
    b[BUF_LOGITS] = (size_t)in->n_vocab * f;
    b[BUF_ROPE_ABS] = L * hd * f;
    b[BUF_ROPE_CACHE] = inf && p->n_sink > 0 ? L * hd * f : 0;
    b[BUF_K_CACHE] = NL * S * KVD * kv_elem;
    b[BUF_V_CACHE] = NL * S * KVD * kv_elem;
    b[BUF_MEM_M] = mem ? NL * G * hd * hd * f : 0;
    b[BUF_MEM_Z] = mem ? NL * G * hd * f : 0;
    b[BUF_MEM_SCRATCH] = mem ? T * 4 * L * hd * f : 0;
    b[BUF_EV_SCORE] = ev ? NL * G * S * f : 0;
    b[BUF_EV_BLOCK] = ev ? (size_t)ei_attn_blocks(p->n_chunk) * G * S * f : 0;
    b[BUF_EV_ROPE] = ev ? (L + 1) * hd * f : 0;
    b[BUF_EV_SCRATCH] = ev ? T * up64(ei_ev_scratch_bytes(out->ring_cap, (int)hd)) : 0;
    size_t off = 0;
    for (int i = 0; i < BUF_COUNT; i++) {
        out->offset[i] = off;
        off += up64(b[i]);
    }
    out->total = off;
}

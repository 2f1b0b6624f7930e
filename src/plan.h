/* The fixed-shape plan of a session (method.md section 6): every buffer and its size, computed
 * once from the model and the session parameters. The session allocates exactly the plan's total
 * as one arena and carves it in this order; `edgeinf plan` prints the same list. */
#ifndef EI_PLAN_H
#define EI_PLAN_H

/* Tokens per attention work item: their queries share every K/V row read (plan: score buffers). */
#define EI_ATTN_TOKENS 8
/* Keys per work item when one token attends to a long cache (decode): spans of a fixed size, so the
 * split (and therefore every sum) does not depend on the thread count. */
#define EI_ATTN_SPAN 256

#include <stddef.h>
#include "model.h"

typedef enum {
    BUF_X, BUF_XN, BUF_Q, BUF_Q_PRE, BUF_Q_CACHE, BUF_K_NEW, BUF_V_NEW, BUF_ATT, BUF_A_MEM,
    BUF_FF_GATE, BUF_FF_UP, BUF_XQ, BUF_SCORES, BUF_DECODE, BUF_LOGITS, BUF_ROPE_ABS, BUF_ROPE_CACHE,
    BUF_K_CACHE, BUF_V_CACHE, BUF_MEM_M, BUF_MEM_Z, BUF_MEM_SCRATCH, BUF_EV_SCORE, BUF_EV_BLOCK,
    BUF_EV_ROPE, BUF_EV_SCRATCH, BUF_COUNT
} ei_buf_id;

typedef struct {
    size_t bytes[BUF_COUNT];
    size_t offset[BUF_COUNT];
    size_t total;
    size_t xq_stride;     /* bytes per activation row for the matmul kernels */
    int n_slots;          /* KV positions per layer: sink + ring */
    int ring_cap;         /* window + chunk (infinite) or n_ctx (full) */
    int use_memory;       /* memory states exist */
    int evict_by_attention; /* H2O or SnapKV: attention received is accumulated per slot */
} ei_plan;

extern const char *const ei_buf_names[BUF_COUNT];

/* Spans of EI_ATTN_SPAN keys covering n keys. */
static inline int ei_attn_spans(int n) { return (n + EI_ATTN_SPAN - 1) / EI_ATTN_SPAN; }
/* Blocks of EI_ATTN_TOKENS tokens in a chunk of n tokens. */
static inline int ei_attn_blocks(int n) { return (n + EI_ATTN_TOKENS - 1) / EI_ATTN_TOKENS; }
/* Eviction scratch per thread: one candidate (score, ring index), one pooled score and one kept flag
 * per ring slot, and one key row. */
typedef struct { float score; int index; } ei_ev_candidate;
static inline size_t ei_ev_scratch_bytes(int ring_cap, int hd) {
    return (size_t)ring_cap * (sizeof(ei_ev_candidate) + sizeof(float) + 1) + (size_t)hd * sizeof(float) + 64;
}

/* p must already be resolved (n_ctx, n_chunk, threads > 0; sink/window checked). */
void ei_plan_build(const ei_model *m, const ei_session_params *p, ei_plan *out);

#endif

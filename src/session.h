/* A session's run state, carved out of one arena laid out by the plan (plan.h). forward.c computes
 * with it; session.c owns it.
 *
 * KV cache geometry, one mechanism for both paths: per layer, n_slots = n_sink + ring_cap slots.
 * Slots [0, n_sink) hold the sink (the first tokens of the stream, kept forever); the rest is a ring
 * holding the window (the most recent tokens). Full attention is the case n_sink = 0, ring = n_ctx,
 * nothing ever evicted. Keys are stored rotated at their stream position: window keys and queries
 * shift together, so their scores equal scores at cache positions; sink keys are scored with the
 * query rotated at its cache position S + (distance into the window). */
#ifndef EI_SESSION_H
#define EI_SESSION_H

#include "model.h"
#include "plan.h"
#include "threadpool.h"

struct ei_session {
    const ei_model *m;
    const ei_kernels *k;
    ei_session_params p;
    ei_plan plan;
    ei_pool *pool;
    uint64_t id;           /* unique per session made in this process: whose state a snapshot is */

    int64_t n_stream;      /* tokens seen: stream position of the next token */
    int n_sink_used;       /* sink slots filled: min(n_sink, n_stream) */
    int ring_start;        /* ring slot of the oldest window token */
    int ring_count;        /* window tokens in the ring */
    int64_t ring_pos0;     /* stream position of the oldest window token */
    int64_t n_memory;      /* tokens compressed into memory */
    int64_t n_calls;       /* forward calls, rows their matrix products computed, and how many of */
    int64_t n_rows, n_pad_rows; /* those rows were padding (fixed shapes) */

    uint8_t *arena;
    float *x, *xn, *q, *q_pre, *q_cache, *k_new, *v_new, *att, *a_mem, *ff_gate, *ff_up;
    uint8_t *xq;
    float *scores, *decode, *logits, *rope_abs, *rope_cache;   /* rope tables: [L][cos hd/2 | sin hd/2] */
    void *k_cache, *v_cache;
    float *mem_M, *mem_z, *mem_scratch;
    float *ev_score;       /* H2O, SnapKV: attention each cached token received, [layer][G][slot] */
    float *ev_block;       /* the same for one layer and chunk, per token block [block][G][slot] */
    float *ev_rope;        /* cos/sin of rotations by 0..L positions, for the tokens eviction moves */
    uint8_t *ev_scratch;
    size_t kv_elem;
};

/* Runs the transformer on T tokens at stream positions n_stream.. (T <= n_chunk and T fits the
 * ring), appending their keys and values to the sink/ring. Writes the logits of the last token to
 * s->logits and, when all_logits is non-NULL, of every token. session.c checks the arguments.
 * With fixed shapes, a prefill call (T > 1) runs every layer's matrix products on n_chunk rows:
 * rows past T are zero padding, masked out of attention, the cache and the logits. */
void ei_forward(ei_session *s, const int32_t *tokens, int T, float *all_logits);
/* Moves the oldest n window tokens into memory (or drops them when memory is off). */
void ei_compress(ei_session *s, int n);
/* H2O and SnapKV (evict.c): drop, per layer and KV head, the n window tokens with the lowest score
 * (none of the n_recent newest) and compact the rest, re-rotated to contiguous positions. */
void ei_evict_by_attention(ei_session *s, int n);

/* A row of n cache values at element offset off of the key or value cache, as floats and back: the
 * one place that knows the cache element type (f16 or f32). */
void ei_cache_load(const ei_session *s, const void *cache, size_t off, float *out, int n);
void ei_cache_store(const ei_session *s, void *cache, size_t off, const float *in, int n);

/* RoPE helpers shared by forward.c and evict.c: rotate each of n_heads heads of v by one table row
 * (cos then sin, hd/2 each; sign -1: inverse), and the table rows for positions pos0..pos0+n-1
 * (moved down by shift at or past sink). */
void ei_rope_rotate(float *v, int n_heads, int hd, const float *row, int neox, float sign);
void ei_rope_table(float *table, int64_t pos0, int n, int64_t sink, int64_t shift, int hd, float theta_base);

#endif

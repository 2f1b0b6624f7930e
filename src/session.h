/* A session's run state: the KV cache and the activations of one chunk, carved out of one arena
 * that is allocated when the session is created. forward.c computes with it; session.c owns it. */
#ifndef EI_SESSION_H
#define EI_SESSION_H

#include "model.h"
#include "threadpool.h"

struct ei_session {
    const ei_model *m;
    const ei_kernels *k;
    ei_session_params p;
    ei_pool *pool;
    int n_past;            /* tokens in the KV cache */

    uint8_t *arena;
    size_t arena_bytes;

    /* activations for up to p.n_chunk tokens (row-major, one row per token) */
    float *x;              /* [L][D] residual stream */
    float *xn;             /* [L][D] normalised input of a block; also block output */
    float *q;              /* [L][H*hd] */
    float *k_new, *v_new;  /* [L][G*hd] keys/values of the chunk before they enter the cache */
    float *att;            /* [L][H*hd] attention output */
    float *ff_gate, *ff_up;/* [L][F] */
    uint8_t *xq;           /* [L][xq_stride] activations converted for the matmul kernels */
    size_t xq_stride;
    float *scores;         /* [n_threads][n_ctx] attention scratch */
    float *logits;         /* [V] logits of the last evaluated token */
    float *rope_cos, *rope_sin; /* [n_ctx][hd/2] */
    void *k_cache, *v_cache;    /* [n_layer][n_ctx][G*hd] in p.kv_type */
    size_t kv_elem;        /* bytes per cache element */
};

/* Runs the transformer on T <= n_chunk tokens at positions n_past..n_past+T-1, appending their keys
 * and values to the cache. Writes the logits of the last token to s->logits and, when all_logits is
 * non-NULL, of every token (T rows of n_vocab). Does not check its arguments: session.c does. */
void ei_forward(ei_session *s, const int32_t *tokens, int T, float *all_logits);

#endif

/* Compressed memory of EdgeInfinite / Infini-attention, one per layer and KV head:
 * M (d x d) and z (d), fp32. sigma(x) = ELU(x) + 1.
 *   retrieval:  A_mem = sigma(q) M / (sigma(q) . z + eps)      (q pre-RoPE; z = 0 means empty)
 *   linear:     M += sigma(K)^T V ;  z += sum_t sigma(K_t)
 *   delta:      M += sigma(K)^T (V - sigma(K) M / (sigma(K) z + eps)) ; z as linear (first write: plain V)
 * Plain loops over float arrays, with the row operations (dot, y += a x) from the kernel table;
 * tests compare them with a NumPy reference (tests/data/memory_refs.bin). */
#ifndef EI_MEMORY_H
#define EI_MEMORY_H

#include "edgeinf.h"
#include "kernels/kernels.h"

#define EI_MEMORY_EPS 1e-6f

static inline float ei_sigma(float x) { return x > 0 ? x + 1.0f : __builtin_expf(x); }

/* 1 when the memory has never been written (z is all zero). */
int ei_memory_empty(const float *z, int d);

/* out[d] = sigma(q) M / (sigma(q) . z + eps); sq[d] is scratch. */
void ei_memory_retrieve(const ei_kernels *k, const float *M, const float *z, const float *q, int d, float *out, float *sq);

/* Writes n tokens (keys K[n][k_stride], values V[n][v_stride], pre-RoPE keys) into (M, z).
 * scratch: 2*n*d floats. */
void ei_memory_update(const ei_kernels *k, float *M, float *z, const float *K, int k_stride, const float *V, int v_stride, int n, int d,
                      int rule, float *scratch);

#endif

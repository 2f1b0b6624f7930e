/* The one interface to the compute kernels. Each ISA (scalar, avx2, avx512) fills an ei_kernels
 * table; ei_kernels_best() picks the best one the CPU supports at run time (env EI_ISA=scalar|avx2|
 * avx512 forces one). Every entry of every table computes the same function as the scalar one up to
 * float rounding order; tests check each ISA against scalar on random data. */
#ifndef EI_KERNELS_H
#define EI_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "types.h"

/* Y[t*ldy + n] = dot(row n of W, row t of X) for n in [n0, n1), t in [0, T).
 * W: rows of K elements of the weight type, row n starts at (const char*)W + n*ldw bytes.
 * X: T rows of K elements already in ei_act_type(weight type), row t at (const char*)X + t*ldx.
 * K is a multiple of 32 for block types. No allocation, no threads: callers split [n0,n1).
 * Rows must be 2-byte aligned (4-byte for F32 data); nothing else is assumed about alignment.
 * Each Y element is computed by the same operation sequence whatever [n0,n1) is, so results do
 * not depend on how the rows are split between threads. */
typedef void (*ei_matmul_fn)(int K, const void *W, size_t ldw, int n0, int n1,
                             const void *X, size_t ldx, int T, float *Y, size_t ldy);

/* Attention scores over an f16 cache (see attn_scores_f16 below). */
typedef void (*ei_attn_scores_fn)(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd, float scale,
                                  float *S, size_t ss);

/* Convert one activation row of K floats to an activation type (Q8_0, Q8_1; F32 is a copy). */
typedef void (*ei_quantize_act_fn)(const float *x, void *y, int K);

/* Put before the short constant-count loops of a register tile (R rows x 4 vectors): gcc at -O2
 * keeps such loops rolled, and their accumulator arrays then live in memory, not in registers. */
#define EI_UNROLL _Pragma("GCC unroll 16")

typedef struct {
    const char *isa;                            /* "scalar", "avx2", "avx512", "amx" */
    ei_matmul_fn matmul[EI_TYPE_MAX];           /* indexed by weight type; NULL = unsupported */
    ei_quantize_act_fn quantize_act[EI_TYPE_MAX]; /* indexed by activation type */
    float (*dot_f32)(const float *a, const float *b, int n);
    void (*axpy_f32)(float a, const float *x, float *y, int n); /* y += a*x */
    float (*dot_f16_f32)(const ei_fp16 *a, const float *b, int n);
    void (*axpy_f16_f32)(float a, const ei_fp16 *x, float *y, int n); /* y += a*x */
    /* Attention over an f16 KV cache for nq queries at once (the query heads that share a KV head,
     * for a few tokens): key/value row j at K + j*ks (in halves), query r at Q + r*qs.
     *   scores:  S[r*ss + j] = scale * (K_j . Q_r)               r < nq, j < n
     *   values:  O[r*os + i] += sum_j P[r*ps + j] * V_j[i]     keys accumulated in order j = 0..n-1
     * Every score, and every key's contribution to an output, goes through the same operations
     * whatever n and nq are, so splitting keys or queries over several calls changes nothing. */
    ei_attn_scores_fn attn_scores_f16;
    void (*attn_values_f16)(const ei_fp16 *V, size_t vs, int n, const float *P, size_t ps, int nq, int hd, float *O,
                            size_t os);
    /* The scores of attn_scores_f16 for many query rows at once (a prefill block: tokens x the heads
     * of a group), laid out for reuse of each key across rows; it may round differently from
     * attn_scores_f16 but is split-invariant in the same way. */
    ei_attn_scores_fn attn_block_scores_f16;
    /* One softmax row in place: x[i] = exp(x[i] - max x) * (1 / sum), exactly 0 for -inf; n >= 1 and
     * some x finite. The max is exact in any order, so only the exp and the sum depend on the ISA. */
    void (*softmax)(float *x, int n);
    /* x[i] = fp32(fp16(x[i])), round to nearest even: f16 x f16 products as llama.cpp computes them */
    void (*round_f16)(float *x, int n);
} ei_kernels;

const ei_kernels *ei_kernels_scalar(void);
const ei_kernels *ei_kernels_avx2(void);   /* NULL when not compiled in or CPU lacks AVX2+FMA+F16C */
const ei_kernels *ei_kernels_avx512(void); /* NULL when the CPU lacks AVX-512 F/BW/VL/VNNI */
const ei_kernels *ei_kernels_amx(void);    /* AVX-512 + AMX-INT8 tiles for prefill matmuls; NULL without AMX */
const ei_kernels *ei_kernels_best(void);   /* honours EI_ISA */
const ei_kernels *ei_kernels_by_name(const char *isa); /* NULL when unavailable */

#endif

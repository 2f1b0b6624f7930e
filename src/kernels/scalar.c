/* Portable C11 kernels: the reference every SIMD table is tested against, and the fallback on
 * CPUs (or architectures) without a SIMD table. Each output element is computed by one dot
 * product whose operation order depends only on K, so results never depend on how callers split
 * the row range. */
#include <string.h>

#include "kernels/kernels.h"

#include <math.h>

static inline float h2f(ei_fp16 h) {
    /* fp16 -> fp32 without branches for finite values: place exponent+mantissa into an fp32
     * with a 2^-112 biased exponent and rescale (exact, subnormal halves included). */
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = (uint32_t)(h & 0x7fffu);
    uint32_t u = em << 13;
    float f;
    if (em >= 0x7c00u) {
        u |= 0x7f800000u; /* inf / nan */
        memcpy(&f, &u, 4);
    } else {
        memcpy(&f, &u, 4);
        f *= 0x1p112f;
    }
    memcpy(&u, &f, 4);
    u |= sign;
    memcpy(&f, &u, 4);
    return f;
}

static inline float bf2f(ei_bf16 h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ------------------------------------------------------------------ float dots */

/* Eight interleaved partial sums, combined pairwise: faster and more accurate than one chain. */
static float dot_f32(const float *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++) s[j] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float dot_f16_f32(const ei_fp16 *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += h2f(a[i + j]) * b[i + j];
    for (int j = 0; i < n; i++, j++) s[j] += h2f(a[i]) * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float dot_bf16_f32(const ei_bf16 *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += bf2f(a[i + j]) * b[i + j];
    for (int j = 0; i < n; i++, j++) s[j] += bf2f(a[i]) * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void axpy_f32(float a, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static void axpy_f16_f32(float a, const ei_fp16 *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * h2f(x[i]);
}

static void attn_scores_f16(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd, float scale,
                            float *S, size_t ss) {
    for (int r = 0; r < nq; r++)
        for (int j = 0; j < n; j++) S[(size_t)r * ss + j] = scale * dot_f16_f32(K + (size_t)j * ks, Q + (size_t)r * qs, hd);
}

static void attn_values_f16(const ei_fp16 *V, size_t vs, int n, const float *P, size_t ps, int nq, int hd, float *O,
                            size_t os) {
    for (int r = 0; r < nq; r++)
        for (int j = 0; j < n; j++) axpy_f16_f32(P[(size_t)r * ps + j], V + (size_t)j * vs, O + (size_t)r * os, hd);
}

static void softmax(float *x, int n) {
    float mx = -INFINITY, sum = 0.0f;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

static void round_f16(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = ei_fp16_to_fp32(ei_fp32_to_fp16(x[i]));
}

/* ------------------------------------------------------------------ quantized dots */

static float dot_q4_0_q8_0(int nb, const ei_block_q4_0 *w, const ei_block_q8_0 *x) {
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < EI_QK / 2; j++) {
            isum += ((w[b].qs[j] & 0x0f) - 8) * x[b].qs[j];
            isum += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + EI_QK / 2];
        }
        const float d = h2f(w[b].d) * h2f(x[b].d);
        sum += (float)isum * d;
    }
    return sum;
}

static float dot_q4_1_q8_1(int nb, const ei_block_q4_1 *w, const ei_block_q8_1 *x) {
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < EI_QK / 2; j++) {
            isum += (w[b].qs[j] & 0x0f) * x[b].qs[j];
            isum += (w[b].qs[j] >> 4) * x[b].qs[j + EI_QK / 2];
        }
        const float d = h2f(w[b].d) * h2f(x[b].d);
        const float ms = h2f(w[b].m) * h2f(x[b].s);
        sum += (float)isum * d;
        sum += ms;
    }
    return sum;
}

static float dot_q8_0_q8_0(int nb, const ei_block_q8_0 *w, const ei_block_q8_0 *x) {
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < EI_QK; j++) isum += w[b].qs[j] * x[b].qs[j];
        const float d = h2f(w[b].d) * h2f(x[b].d);
        sum += (float)isum * d;
    }
    return sum;
}

/* ------------------------------------------------------------------ matmuls */

#define ROW(base, i, ld) ((const void *)((const char *)(base) + (size_t)(i) * (ld)))

static void matmul_f32(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx,
                       int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_f32(ROW(W, n, ldw), ROW(X, t, ldx), K);
}

static void matmul_f16(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx,
                       int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_f16_f32(ROW(W, n, ldw), ROW(X, t, ldx), K);
}

static void matmul_bf16(int K, const void *W, size_t ldw, int n0, int n1, const void *X,
                        size_t ldx, int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_bf16_f32(ROW(W, n, ldw), ROW(X, t, ldx), K);
}

static void matmul_q4_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X,
                        size_t ldx, int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_q4_0_q8_0(K / EI_QK, ROW(W, n, ldw), ROW(X, t, ldx));
}

static void matmul_q4_1(int K, const void *W, size_t ldw, int n0, int n1, const void *X,
                        size_t ldx, int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_q4_1_q8_1(K / EI_QK, ROW(W, n, ldw), ROW(X, t, ldx));
}

static void matmul_q8_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X,
                        size_t ldx, int T, float *Y, size_t ldy) {
    for (int n = n0; n < n1; n++)
        for (int t = 0; t < T; t++)
            Y[(size_t)t * ldy + n] = dot_q8_0_q8_0(K / EI_QK, ROW(W, n, ldw), ROW(X, t, ldx));
}

/* ------------------------------------------------------------------ activation quantizers */

static void quantize_act_f32(const float *x, void *y, int K) { memmove(y, x, (size_t)K * 4); }
/* llama.cpp's x86 activation quantizer (see ei_quantize_row_act in types.h). */
static void quantize_act_q8_0(const float *x, void *y, int K) { ei_quantize_row_act(EI_Q8_0, x, y, K); }
static void quantize_act_q8_1(const float *x, void *y, int K) { ei_quantize_row_act(EI_Q8_1, x, y, K); }

static const ei_kernels k_scalar = {
    .isa = "scalar",
    .matmul = {[EI_F32] = matmul_f32, [EI_F16] = matmul_f16, [EI_BF16] = matmul_bf16,
               [EI_Q4_0] = matmul_q4_0, [EI_Q4_1] = matmul_q4_1, [EI_Q8_0] = matmul_q8_0},
    .quantize_act = {[EI_F32] = quantize_act_f32, [EI_Q8_0] = quantize_act_q8_0,
                     [EI_Q8_1] = quantize_act_q8_1},
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .dot_f16_f32 = dot_f16_f32,
    .axpy_f16_f32 = axpy_f16_f32,
    .attn_scores_f16 = attn_scores_f16,
    .attn_block_scores_f16 = attn_scores_f16,
    .attn_values_f16 = attn_values_f16,
    .round_f16 = round_f16,
    .softmax = softmax,
};

const ei_kernels *ei_kernels_scalar(void) { return &k_scalar; }

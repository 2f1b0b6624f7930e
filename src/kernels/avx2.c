/* AVX2 + FMA + F16C kernels.
 *
 * Matmul structure (all weight types): rows are processed in groups of 4 and tokens in pairs
 * (a 4x2 register tile: each unpacked weight block is used for 2 tokens, each activation block
 * for 4 rows); a trailing odd token uses a 4x1 tile that performs, per output element, exactly
 * the same operations as the 4x2 one. A trailing partial row group repeats its last row instead
 * of taking a different code path, so every Y element is computed by the same instruction
 * sequence whatever [n0,n1) the caller passes. Tokens are processed in blocks of TB so that the
 * activation block stays in L2 while the weight rows of one group stay in L1.
 *
 * Quantized dots: per 32-element block, vpmaddubsw (u8 weights x s8 activations, pairs summed to
 * int16) then vpmaddwd with 1s (int32, 8 lanes), converted to fp32 and accumulated with one FMA
 * by the fp32 product of the two block scales. Q4_1 (nibbles 0..15) multiplies directly; Q8_0 and
 * Q4_0 (q-8) use |w| as u8 and move the sign of w onto the activation (vpsignb). Q4_1's m*s term
 * is accumulated in the odd lanes of a vector that multiplies [d,m] by [dx,sx] for 4 rows at once.
 *
 * Activation quantizers are bit-exact with ei_quantize_row_act (llama.cpp's x86 activation
 * quantizer): same amax, d = amax/127 and id = 127/amax in scalar fp32, products x*id rounded
 * half to even by _mm256_round_ps, s = fp16(d * sum). */
#include "kernels/kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TB 128 /* tokens per activation block */
#ifndef PF_GROUPS
#define PF_GROUPS 1 /* prefetch distance in row groups */
#endif

static inline uint32_t ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint16_t ld16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Fixed-order horizontal sum of 8 floats. */
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* ------------------------------------------------------------------ float vectors */

static float dot_f32(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float tail = 0.0f;
    for (; i < n; i++) tail += a[i] * b[i];
    return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

static inline __m256 ld_f16x8(const ei_fp16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static float dot_f16_f32(const ei_fp16 *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(ld_f16x8(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(ld_f16x8(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(ld_f16x8(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(ld_f16x8(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(ld_f16x8(a + i), _mm256_loadu_ps(b + i), s0);
    float tail = 0.0f;
    for (; i < n; i++) tail += h2f(a[i]) * b[i];
    return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

static void axpy_f32(float a, const float *x, float *y, int n) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

static void axpy_f16_f32(float a, const ei_fp16 *x, float *y, int n) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, ld_f16x8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(a, h2f(x[i]), y[i]);
}

/* ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)): the AVX-512 kernel's reduction of one score. */
static inline float hsum8_pairs(__m256 v) {
    const __m256 h = _mm256_hadd_ps(v, v), h2 = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h2), _mm256_extractf128_ps(h2, 1)));
}

/* Decode scores (a few query rows) in R-query x 2-key tiles (R = 1..3, 12 accumulators): every dot
 * product is AVX-512's 16-lane accumulator held as two 8-lane halves (lane l of half e sums
 * dimensions 16t + 8e + l over t in order), folded and reduced in AVX-512's order, so both kernels
 * give the same bits. Tails repeat the last key / query, so every score goes through the same
 * instructions. */
static inline __attribute__((always_inline)) void scores_tile(const int R, const float *const *q, const ei_fp16 *K,
                                                              size_t ks, int n, int hd, float scale, float *S, size_t ss) {
    for (int j = 0; j < n; j += 2) {
        const ei_fp16 *k[2] = {K + (size_t)j * ks, K + (size_t)(j + 1 < n ? j + 1 : j) * ks};
        __m256 acc[3][2][2];
        EI_UNROLL
        for (int a = 0; a < R; a++)
            EI_UNROLL
            for (int c = 0; c < 2; c++) acc[a][c][0] = acc[a][c][1] = _mm256_setzero_ps();
        for (int i = 0; i < hd; i += 16)
            EI_UNROLL
            for (int c = 0; c < 2; c++) {
                const __m256 lo = ld_f16x8(k[c] + i), hi = ld_f16x8(k[c] + i + 8);
                EI_UNROLL
                for (int a = 0; a < R; a++) {
                    acc[a][c][0] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(q[a] + i), acc[a][c][0]);
                    acc[a][c][1] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(q[a] + i + 8), acc[a][c][1]);
                }
            }
        EI_UNROLL
        for (int a = 0; a < R; a++)
            for (int c = 0; c < 2 && j + c < n; c++)
                S[(size_t)a * ss + j + c] = hsum8_pairs(_mm256_add_ps(acc[a][c][0], acc[a][c][1])) * scale;
    }
}

static void attn_scores_f16(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd, float scale,
                            float *S, size_t ss) {
    if (hd % 16) {
        for (int r = 0; r < nq; r++)
            for (int j = 0; j < n; j++) S[(size_t)r * ss + j] = scale * dot_f16_f32(K + (size_t)j * ks, Q + (size_t)r * qs, hd);
        return;
    }
    for (int r = 0; r < nq; r += 3) {
        const float *q[3];
        for (int a = 0; a < 3; a++) q[a] = Q + (size_t)(r + a < nq ? r + a : nq - 1) * qs;
        float *Sr = S + (size_t)r * ss;
        switch (nq - r < 3 ? nq - r : 3) {
        case 1: scores_tile(1, q, K, ks, n, hd, scale, Sr, ss); break;
        case 2: scores_tile(2, q, K, ks, n, hd, scale, Sr, ss); break;
        default: scores_tile(3, q, K, ks, n, hd, scale, Sr, ss); break;
        }
    }
}

/* In-register transpose of an 8 x 8 float tile: r[k] holds row k on entry and column k on exit. */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* u[4h + e], 128-bit lane L: element 4L + e of rows 4h .. 4h+3 */
    for (int h = 0; h < 2; h++) {
        u[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xee);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xee);
    }
    for (int e = 0; e < 4; e++) {
        r[e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x20);
        r[4 + e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x31);
    }
}

#define EI_SCORE_ROWS 3 /* query rows per pass: 4 partial sums each, 12 accumulators */

/* Scores of R query rows against one transposed 8-key block kt[hd][8]: four partial sums over the
 * quarters of the head dimension per row, added as (p0 + p1) + (p2 + p3), the lanes being keys:
 * the operations of the AVX-512 block kernel lane for lane, so both give the same bits. */
static inline __attribute__((always_inline)) void scores_rows(const int R, const float *Q, size_t qs, const float *kt,
                                                              int hd, __m256 vs, float *S, size_t ss, int nk) {
    const int qd = hd / 4;
    __m256 acc[EI_SCORE_ROWS][4];
    EI_UNROLL
    for (int a = 0; a < R; a++)
        EI_UNROLL
        for (int p = 0; p < 4; p++) acc[a][p] = _mm256_setzero_ps();
    for (int i = 0; i < qd; i++)
        EI_UNROLL
        for (int p = 0; p < 4; p++) {
            const __m256 kv = _mm256_load_ps(kt + (size_t)(p * qd + i) * 8);
            EI_UNROLL
            for (int a = 0; a < R; a++) acc[a][p] = _mm256_fmadd_ps(kv, _mm256_broadcast_ss(Q + (size_t)a * qs + p * qd + i), acc[a][p]);
        }
    EI_UNROLL
    for (int a = 0; a < R; a++) {
        const __m256 sum = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(acc[a][0], acc[a][1]), _mm256_add_ps(acc[a][2], acc[a][3])), vs);
        if (nk == 8) _mm256_storeu_ps(S + (size_t)a * ss, sum);
        else {
            float out[8];
            _mm256_storeu_ps(out, sum);
            memcpy(S + (size_t)a * ss, out, sizeof *out * (size_t)nk);
        }
    }
}

/* Prefill scores (many query rows) by blocks of 8 keys converted from halves and transposed once
 * (kt[i][lane] = dimension i of key lane), then scored against every query row; a tail block
 * repeats its last key in the unused lanes, which are not stored. */
static void attn_block_scores_f16(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd,
                                  float scale, float *S, size_t ss) {
    if (hd % 8 || hd > 256) {
        attn_scores_f16(K, ks, n, Q, qs, nq, hd, scale, S, ss);
        return;
    }
    _Alignas(32) float kt[256 * 8];
    const __m256 vs = _mm256_set1_ps(scale);
    for (int j0 = 0; j0 < n; j0 += 8) {
        const int nk = n - j0 < 8 ? n - j0 : 8;
        for (int c = 0; c < hd; c += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++) r[k] = ld_f16x8(K + (size_t)(j0 + (k < nk ? k : nk - 1)) * ks + c);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(kt + (size_t)(c + i) * 8, r[i]);
        }
        for (int r0 = 0; r0 < nq; r0 += EI_SCORE_ROWS) {
            const float *Qr = Q + (size_t)r0 * qs;
            float *Sr = S + (size_t)r0 * ss + j0;
            switch (nq - r0 < EI_SCORE_ROWS ? nq - r0 : EI_SCORE_ROWS) {
            case 1: scores_rows(1, Qr, qs, kt, hd, vs, Sr, ss, nk); break;
            case 2: scores_rows(2, Qr, qs, kt, hd, vs, Sr, ss, nk); break;
            default: scores_rows(3, Qr, qs, kt, hd, vs, Sr, ss, nk); break;
            }
        }
    }
}

/* Values in 2-query x 32-float tiles (8 accumulators held across all keys); each V row is
 * converted once per tile and used for both queries. One FMA per (query, key, element), keys in
 * order, whatever the tiling. */
static void attn_values_f16(const ei_fp16 *V, size_t vs, int n, const float *P, size_t ps, int nq, int hd, float *O,
                            size_t os) {
    if (hd % 8) {
        for (int r = 0; r < nq; r++)
            for (int j = 0; j < n; j++) axpy_f16_f32(P[(size_t)r * ps + j], V + (size_t)j * vs, O + (size_t)r * os, hd);
        return;
    }
    for (int r = 0; r < nq; r += 2) {
        const int two = r + 1 < nq;
        const float *p0 = P + (size_t)r * ps, *p1 = P + (size_t)(two ? r + 1 : r) * ps;
        float *o0 = O + (size_t)r * os, *o1 = O + (size_t)(two ? r + 1 : r) * os;
        int i0 = 0;
        for (; i0 + 32 <= hd; i0 += 32) {
            __m256 a[4], b[4];
            EI_UNROLL
            for (int c = 0; c < 4; c++) {
                a[c] = _mm256_loadu_ps(o0 + i0 + 8 * c);
                b[c] = _mm256_loadu_ps(o1 + i0 + 8 * c);
            }
            for (int j = 0; j < n; j++) {
                const __m256 w0 = _mm256_set1_ps(p0[j]), w1 = _mm256_set1_ps(p1[j]);
                const ei_fp16 *v = V + (size_t)j * vs + i0;
                EI_UNROLL
                for (int c = 0; c < 4; c++) {
                    const __m256 x = ld_f16x8(v + 8 * c);
                    a[c] = _mm256_fmadd_ps(x, w0, a[c]);
                    b[c] = _mm256_fmadd_ps(x, w1, b[c]);
                }
            }
            /* store the second query first: with an odd nq both point at the same row */
            EI_UNROLL
            for (int c = 0; c < 4; c++) _mm256_storeu_ps(o1 + i0 + 8 * c, b[c]);
            EI_UNROLL
            for (int c = 0; c < 4; c++) _mm256_storeu_ps(o0 + i0 + 8 * c, a[c]);
        }
        for (; i0 < hd; i0 += 8) {
            __m256 a = _mm256_loadu_ps(o0 + i0), b = _mm256_loadu_ps(o1 + i0);
            for (int j = 0; j < n; j++) {
                const __m256 x = ld_f16x8(V + (size_t)j * vs + i0);
                a = _mm256_fmadd_ps(x, _mm256_set1_ps(p0[j]), a);
                b = _mm256_fmadd_ps(x, _mm256_set1_ps(p1[j]), b);
            }
            _mm256_storeu_ps(o1 + i0, b);
            _mm256_storeu_ps(o0 + i0, a);
        }
    }
}

/* exp(x) for x <= 0 (softmax): x = k ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^6
 * (relative error < 2e-7), times 2^k through the exponent bits; below -87 the result is 0. */
static inline __m256 exp_nonpos(__m256 x) {
    const __m256 log2e = _mm256_set1_ps(1.44269504f), ln2_hi = _mm256_set1_ps(0.693145752f), ln2_lo = _mm256_set1_ps(1.42860677e-6f);
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 small = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    __m256 r = _mm256_fnmadd_ps(k, ln2_hi, x);
    r = _mm256_fnmadd_ps(k, ln2_lo, r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i ki = _mm256_cvtps_epi32(_mm256_max_ps(k, _mm256_set1_ps(-126.0f)));
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23));
    return _mm256_andnot_ps(small, _mm256_mul_ps(p, scale));
}

static float exp_shift(float *x, int n, float shift) {
    const __m256 vs = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) { /* the tail through the same vector code */
        float t[8];
        int m = n - i;
        for (int j = 0; j < 8; j++) t[j] = j < m ? x[i + j] : -INFINITY;
        const __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(t), vs));
        _mm256_storeu_ps(t, e);
        acc = _mm256_add_ps(acc, e);
        for (int j = 0; j < m; j++) x[i + j] = t[j];
    }
    return hsum8(acc);
}

/* The row's max in 8 lanes (a scalar max loop is one 4-cycle dependency chain per key), then the
 * exponentials and their sum, then the scaling: the same bits as the scalar loops would give for
 * the max and the scaling. */
static void softmax(float *x, int n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float lanes[8], mx = -INFINITY;
    _mm256_storeu_ps(lanes, m);
    for (int j = 0; j < 8; j++) mx = lanes[j] > mx ? lanes[j] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const float inv = 1.0f / exp_shift(x, n, mx);
    const __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    for (; i < n; i++) x[i] *= inv;
}

static void round_f16(float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) x[i] = h2f(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

/* ------------------------------------------------------------------ activation quantizers */

/* Quantize one block of 32 floats to int8 with scale 1/d; returns sum of the ints (for Q8_1). */
static inline int q8_block(const float *x, int8_t *qs, uint16_t *dh, float *dout) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                             _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    *dh = _cvtss_sh(d, 0);
    *dout = d;
    const __m256 vid = _mm256_set1_ps(id);
#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, vid), RNE));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, vid), RNE));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, vid), RNE));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, vid), RNE));
#undef RNE
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    /* pack 32 int32 -> 32 int8 (values are within [-127,127]); undo the lane interleave */
    __m256i p01 = _mm256_packs_epi32(i0, i1), p23 = _mm256_packs_epi32(i2, i3);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(void *)qs, p);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
}

static void quantize_act_q8_0(const float *x, void *y, int K) {
    uint8_t *o = y;
    for (int b = 0; b < K / EI_QK; b++, o += sizeof(ei_block_q8_0)) {
        uint16_t dh;
        float d;
        q8_block(x + (size_t)b * EI_QK, (int8_t *)(o + 2), &dh, &d);
        memcpy(o, &dh, 2);
    }
}

static void quantize_act_q8_1(const float *x, void *y, int K) {
    uint8_t *o = y;
    for (int b = 0; b < K / EI_QK; b++, o += sizeof(ei_block_q8_1)) {
        uint16_t dh;
        float d;
        int sum = q8_block(x + (size_t)b * EI_QK, (int8_t *)(o + 4), &dh, &d);
        uint16_t sh = _cvtss_sh(d * (float)sum, 0);
        memcpy(o, &dh, 2);
        memcpy(o + 2, &sh, 2);
    }
}

static void quantize_act_f32(const float *x, void *y, int K) { memmove(y, x, (size_t)K * 4); }

/* ------------------------------------------------------------------ quantized tiles */

/* Weight rows of one group: w[r] points at row r's first block. */
typedef struct {
    const uint8_t *w[4];
    uintptr_t pf[4]; /* addresses of the same rows PF_GROUPS groups ahead (prefetch only) */
} rows4;

/* Prefetch the block at offset wo of the 4 rows of the group after this one (the hardware
 * prefetcher copes poorly with 4 interleaved streams when the weights come from DRAM). */
__attribute__((always_inline)) static inline void prefetch_next(const rows4 *g, size_t wo) {
    _mm_prefetch((const char *)(g->pf[0] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[1] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[2] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[3] + wo), _MM_HINT_T0);
}

/* 32 nibbles of a Q4 block as u8 in element order: low nibbles (elements 0..15) in the low lane,
 * high nibbles (16..31) in the high lane. */
static inline __m256i unpack_q4(const uint8_t *qs) {
    __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)qs));
    b = _mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

static inline __m256i ld256(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

/* int32x8 partial sums of u8 w times s8 x (pairs of products fit int16: |w| <= 15 or w = |q8|
 * <= 127 with |x| <= 127 gives at most 2*127*127 = 32258). */
static inline __m256 mul_sum_us8(__m256i w, __m256i x) {
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)));
}


/* Block scales: for a chunk of up to SCB blocks, a first pass computes the fp32 products
 * dw[r]*dx[t] of the whole tile into sc[i*8 + t*4 + r] (one vector multiply per block; Q4_1's
 * m*s terms are accumulated there too); the main pass re-reads them with vbroadcastss, so each
 * (row, token, block) costs maddubs + madd + cvt + fma + one load. Computing them a chunk ahead
 * keeps the broadcasts away from store-to-load forwarding, which was 25-30% slower. The 4x1 tile
 * performs exactly the per-lane operations of the 4x2 tile (lanes 4..7 unused). */
#define SCB 32
#define PERM(v, a, b, c, d, e, f, g, h) _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(a, b, c, d, e, f, g, h))

/* vbroadcastss from memory, opaque to the compiler (otherwise GCC may keep pointers to each
 * sc[i] in spilled registers, or turn the store + reload into shuffles). */
__attribute__((always_inline)) static inline __m256 bcast_mem(const float *p) {
    __m256 v;
    __asm__("vbroadcastss %1, %0" : "=x"(v) : "m"(*p));
    return v;
}
#define PAIR(acc, w, xv, scp) acc = _mm256_fmadd_ps(mul_sum_us8(w, xv), bcast_mem(scp), acc)
#define SPAIR(acc, aw, w, xv, scp) acc = _mm256_fmadd_ps(mul_sum_ss8(aw, w, xv), bcast_mem(scp), acc)

/* ---- Q4_1 x Q8_1: block header [d m] fp16 for weights, [d s] for activations. */
#define Q41 20
#define Q81 36
/* sc[i*8 + t*4 + r] = d_r * dx_t; returns ms + (lane t*4 + r) m_r * sx_t summed over the chunk */
static inline __m256 q41_prep(const rows4 *g, const uint8_t *xa, const uint8_t *xb, int b0, int n,
                              float *sc, __m256 ms) {
    for (int i = 0; i < n; i++) {
        const size_t wo = (size_t)(b0 + i) * Q41, xo = (size_t)(b0 + i) * Q81;
        const __m256 dm = _mm256_cvtph_ps(_mm_setr_epi32((int)ld32(g->w[0] + wo), (int)ld32(g->w[1] + wo),
                                                         (int)ld32(g->w[2] + wo), (int)ld32(g->w[3] + wo)));
        const __m256 xs = _mm256_cvtph_ps(_mm_setr_epi32((int)ld32(xa + xo), (int)ld32(xb + xo), 0, 0));
        const __m256 d = PERM(dm, 0, 2, 4, 6, 0, 2, 4, 6), m = PERM(dm, 1, 3, 5, 7, 1, 3, 5, 7);
        _mm256_storeu_ps(sc + 8 * i, _mm256_mul_ps(d, PERM(xs, 0, 0, 0, 0, 2, 2, 2, 2)));
        ms = _mm256_fmadd_ps(m, PERM(xs, 1, 1, 1, 1, 3, 3, 3, 3), ms);
    }
    return ms;
}

__attribute__((noinline)) static void q4_1_tile4x1(int nb, const rows4 *g, const uint8_t *x, float *y0,
                                                   float *y1, float *y2, float *y3) {
    float sc[SCB * 8];
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, ms = a0;
    for (int b0 = 0; b0 < nb; b0 += SCB) {
        const int n = nb - b0 < SCB ? nb - b0 : SCB;
        ms = q41_prep(g, x, x, b0, n, sc, ms);
        for (int i = 0; i < n; i++) {
            const size_t wo = (size_t)(b0 + i) * Q41;
            prefetch_next(g, wo);
            const __m256i xv = ld256(x + (size_t)(b0 + i) * Q81 + 4);
            const float *s = sc + 8 * i;
            PAIR(a0, unpack_q4(g->w[0] + wo + 4), xv, s + 0);
            PAIR(a1, unpack_q4(g->w[1] + wo + 4), xv, s + 1);
            PAIR(a2, unpack_q4(g->w[2] + wo + 4), xv, s + 2);
            PAIR(a3, unpack_q4(g->w[3] + wo + 4), xv, s + 3);
        }
    }
    float m[8];
    _mm256_storeu_ps(m, ms);
    *y0 = hsum8(a0) + m[0];
    *y1 = hsum8(a1) + m[1];
    *y2 = hsum8(a2) + m[2];
    *y3 = hsum8(a3) + m[3];
}

__attribute__((noinline)) static void q4_1_tile4x2(int nb, const rows4 *g, const uint8_t *x0,
                                                   const uint8_t *x1, float *y[8]) {
    float sc[SCB * 8];
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00, ms = a00;
    __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    for (int b0 = 0; b0 < nb; b0 += SCB) {
        const int n = nb - b0 < SCB ? nb - b0 : SCB;
        ms = q41_prep(g, x0, x1, b0, n, sc, ms);
        for (int i = 0; i < n; i++) {
            const size_t wo = (size_t)(b0 + i) * Q41, xo = (size_t)(b0 + i) * Q81;
            prefetch_next(g, wo);
            const __m256i xv0 = ld256(x0 + xo + 4), xv1 = ld256(x1 + xo + 4);
            const float *s = sc + 8 * i;
            __m256i w = unpack_q4(g->w[0] + wo + 4);
            PAIR(a00, w, xv0, s + 0);
            PAIR(a01, w, xv1, s + 4);
            w = unpack_q4(g->w[1] + wo + 4);
            PAIR(a10, w, xv0, s + 1);
            PAIR(a11, w, xv1, s + 5);
            w = unpack_q4(g->w[2] + wo + 4);
            PAIR(a20, w, xv0, s + 2);
            PAIR(a21, w, xv1, s + 6);
            w = unpack_q4(g->w[3] + wo + 4);
            PAIR(a30, w, xv0, s + 3);
            PAIR(a31, w, xv1, s + 7);
        }
    }
    float m[8];
    _mm256_storeu_ps(m, ms);
    *y[0] = hsum8(a00) + m[0], *y[1] = hsum8(a10) + m[1];
    *y[2] = hsum8(a20) + m[2], *y[3] = hsum8(a30) + m[3];
    *y[4] = hsum8(a01) + m[4], *y[5] = hsum8(a11) + m[5];
    *y[6] = hsum8(a21) + m[6], *y[7] = hsum8(a31) + m[7];
}

/* ---- Q8_0 / Q4_0 x Q8_0: signed weights, |w| as u8 and the sign of w moved onto x. */
#define Q80 34
#define Q40 18
/* sc[i*8 + t*4 + r] = d_r * dx_t for blocks b0 .. b0+n-1 (weight blocks of WB bytes) */
static inline void d_prep(const rows4 *g, size_t WB, const uint8_t *xa, const uint8_t *xb, int b0, int n,
                          float *sc) {
    for (int i = 0; i < n; i++) {
        const size_t wo = (size_t)(b0 + i) * WB, xo = (size_t)(b0 + i) * Q80;
        const uint32_t lo = (uint32_t)ld16(g->w[0] + wo) | (uint32_t)ld16(g->w[1] + wo) << 16;
        const uint32_t hi = (uint32_t)ld16(g->w[2] + wo) | (uint32_t)ld16(g->w[3] + wo) << 16;
        const __m256 d = _mm256_cvtph_ps(_mm_setr_epi32((int)lo, (int)hi, (int)lo, (int)hi));
        const __m256 xd = _mm256_cvtph_ps(
            _mm_setr_epi32((int)ld16(xa + xo), (int)ld16(xb + xo), 0, 0)); /* [dx0 0 dx1 0 ...] */
        _mm256_storeu_ps(sc + 8 * i, _mm256_mul_ps(d, PERM(xd, 0, 0, 0, 0, 2, 2, 2, 2)));
    }
}

static inline __m256i q8w(const uint8_t *b) { return ld256(b + 2); }
static inline __m256i q4w(const uint8_t *b) { return _mm256_sub_epi8(unpack_q4(b + 2), _mm256_set1_epi8(8)); }

static inline __m256 mul_sum_ss8(__m256i aw, __m256i w, __m256i x) {
    return mul_sum_us8(aw, _mm256_sign_epi8(x, w));
}

#define DEF_SIGNED_TILES(NAME, WLOAD, WB)                                                          \
    __attribute__((noinline)) static void NAME##_tile4x1(int nb, const rows4 *g, const uint8_t *x,  \
                                                         float *y0, float *y1, float *y2, float *y3) { \
        float sc[SCB * 8];                                                                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                 \
        for (int b0 = 0; b0 < nb; b0 += SCB) {                                                      \
            const int n = nb - b0 < SCB ? nb - b0 : SCB;                                            \
            d_prep(g, WB, x, x, b0, n, sc);                                                         \
            for (int i = 0; i < n; i++) {                                                           \
                const size_t wo = (size_t)(b0 + i) * WB;                                            \
                prefetch_next(g, wo);                                                               \
                const __m256i xv = ld256(x + (size_t)(b0 + i) * Q80 + 2);                           \
                const float *s = sc + 8 * i;                                                        \
                __m256i w = WLOAD(g->w[0] + wo);                                                    \
                SPAIR(a0, _mm256_abs_epi8(w), w, xv, s + 0);                                        \
                w = WLOAD(g->w[1] + wo);                                                            \
                SPAIR(a1, _mm256_abs_epi8(w), w, xv, s + 1);                                        \
                w = WLOAD(g->w[2] + wo);                                                            \
                SPAIR(a2, _mm256_abs_epi8(w), w, xv, s + 2);                                        \
                w = WLOAD(g->w[3] + wo);                                                            \
                SPAIR(a3, _mm256_abs_epi8(w), w, xv, s + 3);                                        \
            }                                                                                       \
        }                                                                                           \
        *y0 = hsum8(a0), *y1 = hsum8(a1), *y2 = hsum8(a2), *y3 = hsum8(a3);                         \
    }                                                                                               \
    __attribute__((noinline)) static void NAME##_tile4x2(int nb, const rows4 *g, const uint8_t *x0, \
                                                         const uint8_t *x1, float *y[8]) {          \
        float sc[SCB * 8];                                                                          \
        __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;                          \
        __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;                                          \
        for (int b0 = 0; b0 < nb; b0 += SCB) {                                                      \
            const int n = nb - b0 < SCB ? nb - b0 : SCB;                                            \
            d_prep(g, WB, x0, x1, b0, n, sc);                                                       \
            for (int i = 0; i < n; i++) {                                                           \
                const size_t wo = (size_t)(b0 + i) * WB, xo = (size_t)(b0 + i) * Q80;               \
                prefetch_next(g, wo);                                                               \
                const __m256i xv0 = ld256(x0 + xo + 2), xv1 = ld256(x1 + xo + 2);                   \
                const float *s = sc + 8 * i;                                                        \
                __m256i w = WLOAD(g->w[0] + wo), aw = _mm256_abs_epi8(w);                           \
                SPAIR(a00, aw, w, xv0, s + 0);                                                      \
                SPAIR(a01, aw, w, xv1, s + 4);                                                      \
                w = WLOAD(g->w[1] + wo), aw = _mm256_abs_epi8(w);                                   \
                SPAIR(a10, aw, w, xv0, s + 1);                                                      \
                SPAIR(a11, aw, w, xv1, s + 5);                                                      \
                w = WLOAD(g->w[2] + wo), aw = _mm256_abs_epi8(w);                                   \
                SPAIR(a20, aw, w, xv0, s + 2);                                                      \
                SPAIR(a21, aw, w, xv1, s + 6);                                                      \
                w = WLOAD(g->w[3] + wo), aw = _mm256_abs_epi8(w);                                   \
                SPAIR(a30, aw, w, xv0, s + 3);                                                      \
                SPAIR(a31, aw, w, xv1, s + 7);                                                      \
            }                                                                                       \
        }                                                                                           \
        *y[0] = hsum8(a00), *y[1] = hsum8(a10), *y[2] = hsum8(a20), *y[3] = hsum8(a30);             \
        *y[4] = hsum8(a01), *y[5] = hsum8(a11), *y[6] = hsum8(a21), *y[7] = hsum8(a31);             \
    }

DEF_SIGNED_TILES(q8_0, q8w, Q80)
DEF_SIGNED_TILES(q4_0, q4w, Q40)

/* ------------------------------------------------------------------ float tiles */

/* Loads 8 weights of each float type as fp32. */
static inline __m256 wf32(const uint8_t *p) { return _mm256_loadu_ps((const float *)(const void *)p); }
static inline __m256 wf16(const uint8_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}
static inline __m256 wbf16(const uint8_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* K need not be a multiple of 8: the last partial chunk is copied to zero-padded buffers and
 * processed by the same code, so per element the operation sequence does not depend on the tile. */
#define DEF_FLOAT_TILES(NAME, WLOAD, ES)                                                            \
    __attribute__((noinline)) static void NAME##_tile4x1(int K, const rows4 *g, const uint8_t *xr, float *y0, float *y1,      \
                               float *y2, float *y3) {                                              \
        const float *x = (const float *)(const void *)xr;                                           \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                 \
        int k = 0;                                                                                  \
        for (; k + 8 <= K; k += 8) {                                                                \
            const __m256 xv = _mm256_loadu_ps(x + k);                                               \
            a0 = _mm256_fmadd_ps(WLOAD(g->w[0] + (size_t)k * ES), xv, a0);                          \
            a1 = _mm256_fmadd_ps(WLOAD(g->w[1] + (size_t)k * ES), xv, a1);                          \
            a2 = _mm256_fmadd_ps(WLOAD(g->w[2] + (size_t)k * ES), xv, a2);                          \
            a3 = _mm256_fmadd_ps(WLOAD(g->w[3] + (size_t)k * ES), xv, a3);                          \
        }                                                                                           \
        if (k < K) {                                                                                \
            uint8_t wt[4][8 * ES];                                                                  \
            float xt[8] = {0};                                                                      \
            memset(wt, 0, sizeof wt);                                                               \
            for (int r = 0; r < 4; r++) memcpy(wt[r], g->w[r] + (size_t)k * ES, (size_t)(K - k) * ES); \
            memcpy(xt, x + k, (size_t)(K - k) * 4);                                                 \
            const __m256 xv = _mm256_loadu_ps(xt);                                                  \
            a0 = _mm256_fmadd_ps(WLOAD(wt[0]), xv, a0);                                             \
            a1 = _mm256_fmadd_ps(WLOAD(wt[1]), xv, a1);                                             \
            a2 = _mm256_fmadd_ps(WLOAD(wt[2]), xv, a2);                                             \
            a3 = _mm256_fmadd_ps(WLOAD(wt[3]), xv, a3);                                             \
        }                                                                                           \
        *y0 = hsum8(a0), *y1 = hsum8(a1), *y2 = hsum8(a2), *y3 = hsum8(a3);                         \
    }                                                                                               \
    __attribute__((noinline)) static void NAME##_tile4x2(int K, const rows4 *g, const uint8_t *xr0, const uint8_t *xr1,       \
                               float *y[8]) {                                                       \
        const float *x0 = (const float *)(const void *)xr0, *x1 = (const float *)(const void *)xr1; \
        __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;                          \
        __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;                                          \
        int k = 0;                                                                                  \
        uint8_t wt[4][8 * ES];                                                                      \
        float xt0[8], xt1[8];                                                                       \
        for (;;) {                                                                                  \
            const uint8_t *w0, *w1, *w2, *w3;                                                       \
            __m256 xv0, xv1;                                                                        \
            if (k + 8 <= K) {                                                                       \
                w0 = g->w[0] + (size_t)k * ES, w1 = g->w[1] + (size_t)k * ES;                       \
                w2 = g->w[2] + (size_t)k * ES, w3 = g->w[3] + (size_t)k * ES;                       \
                xv0 = _mm256_loadu_ps(x0 + k), xv1 = _mm256_loadu_ps(x1 + k);                       \
            } else if (k < K) {                                                                     \
                memset(wt, 0, sizeof wt);                                                           \
                memset(xt0, 0, sizeof xt0);                                                         \
                memset(xt1, 0, sizeof xt1);                                                         \
                for (int r = 0; r < 4; r++)                                                         \
                    memcpy(wt[r], g->w[r] + (size_t)k * ES, (size_t)(K - k) * ES);                  \
                memcpy(xt0, x0 + k, (size_t)(K - k) * 4);                                           \
                memcpy(xt1, x1 + k, (size_t)(K - k) * 4);                                           \
                w0 = wt[0], w1 = wt[1], w2 = wt[2], w3 = wt[3];                                     \
                xv0 = _mm256_loadu_ps(xt0), xv1 = _mm256_loadu_ps(xt1);                             \
            } else {                                                                                \
                break;                                                                              \
            }                                                                                       \
            __m256 w = WLOAD(w0);                                                                   \
            a00 = _mm256_fmadd_ps(w, xv0, a00), a01 = _mm256_fmadd_ps(w, xv1, a01);                 \
            w = WLOAD(w1);                                                                          \
            a10 = _mm256_fmadd_ps(w, xv0, a10), a11 = _mm256_fmadd_ps(w, xv1, a11);                 \
            w = WLOAD(w2);                                                                          \
            a20 = _mm256_fmadd_ps(w, xv0, a20), a21 = _mm256_fmadd_ps(w, xv1, a21);                 \
            w = WLOAD(w3);                                                                          \
            a30 = _mm256_fmadd_ps(w, xv0, a30), a31 = _mm256_fmadd_ps(w, xv1, a31);                 \
            k += 8;                                                                                 \
        }                                                                                           \
        *y[0] = hsum8(a00), *y[1] = hsum8(a10), *y[2] = hsum8(a20), *y[3] = hsum8(a30);             \
        *y[4] = hsum8(a01), *y[5] = hsum8(a11), *y[6] = hsum8(a21), *y[7] = hsum8(a31);             \
    }

DEF_FLOAT_TILES(f32, wf32, 4)
DEF_FLOAT_TILES(f16, wf16, 2)
DEF_FLOAT_TILES(bf16, wbf16, 2)

/* ------------------------------------------------------------------ driver */

typedef void (*tile1_fn)(int kk, const rows4 *g, const uint8_t *x, float *y0, float *y1, float *y2,
                         float *y3);
typedef void (*tile2_fn)(int kk, const rows4 *g, const uint8_t *x0, const uint8_t *x1, float *y[8]);

/* kk is what the tiles take: number of blocks for quantized types, K for float types. */
static inline void drive(int kk, const void *W, size_t ldw, int n0, int n1, const void *X,
                         size_t ldx, int T, float *Y, size_t ldy, tile1_fn t1, tile2_fn t2) {
    const uint8_t *wb = W, *xb = X;
    float sink[8];
    for (int tb = 0; tb < T; tb += TB) {
        const int te = T - tb < TB ? T : tb + TB;
        for (int n = n0; n < n1; n += 4) {
            rows4 g;
            for (int r = 0; r < 4; r++) g.w[r] = wb + (size_t)(n + r < n1 ? n + r : n1 - 1) * ldw;
            for (int r = 0; r < 4; r++) g.pf[r] = (uintptr_t)g.w[r] + (uintptr_t)(PF_GROUPS * 4) * ldw;
            const int nv = n1 - n < 4 ? n1 - n : 4;
            int t = tb;
            for (; t + 2 <= te; t += 2) {
                float *y[8];
                for (int r = 0; r < 4; r++) {
                    y[r] = r < nv ? Y + (size_t)t * ldy + n + r : sink + r;
                    y[4 + r] = r < nv ? Y + (size_t)(t + 1) * ldy + n + r : sink + 4 + r;
                }
                t2(kk, &g, xb + (size_t)t * ldx, xb + (size_t)(t + 1) * ldx, y);
            }
            if (t < te) {
                float *yr = Y + (size_t)t * ldy + n;
                t1(kk, &g, xb + (size_t)t * ldx, yr, nv > 1 ? yr + 1 : sink + 1, nv > 2 ? yr + 2 : sink + 2,
                   nv > 3 ? yr + 3 : sink + 3);
            }
        }
    }
}

#define DEF_MATMUL(NAME, KK)                                                                        \
    static void matmul_##NAME(int K, const void *W, size_t ldw, int n0, int n1, const void *X,     \
                              size_t ldx, int T, float *Y, size_t ldy) {                           \
        drive(KK, W, ldw, n0, n1, X, ldx, T, Y, ldy, NAME##_tile4x1, NAME##_tile4x2);              \
    }
DEF_MATMUL(q4_1, K / EI_QK)
DEF_MATMUL(q4_0, K / EI_QK)
DEF_MATMUL(q8_0, K / EI_QK)
DEF_MATMUL(f32, K)
DEF_MATMUL(f16, K)
DEF_MATMUL(bf16, K)

static const ei_kernels k_avx2 = {
    .isa = "avx2",
    .matmul = {[EI_F32] = matmul_f32, [EI_F16] = matmul_f16, [EI_BF16] = matmul_bf16,
               [EI_Q4_0] = matmul_q4_0, [EI_Q4_1] = matmul_q4_1, [EI_Q8_0] = matmul_q8_0},
    .quantize_act = {[EI_F32] = quantize_act_f32, [EI_Q8_0] = quantize_act_q8_0,
                     [EI_Q8_1] = quantize_act_q8_1},
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .dot_f16_f32 = dot_f16_f32,
    .axpy_f16_f32 = axpy_f16_f32,
    .attn_scores_f16 = attn_scores_f16,
    .attn_block_scores_f16 = attn_block_scores_f16,
    .attn_values_f16 = attn_values_f16,
    .round_f16 = round_f16,
    .softmax = softmax,
};

const ei_kernels *ei_kernels_avx2(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C)) return NULL;
    return &k_avx2;
}

#else

const ei_kernels *ei_kernels_avx2(void) { return NULL; }

#endif

/* AVX-512 (F/BW/VL/DQ + VNNI) kernels.
 *
 * The quantized matmuls use 256-bit VNNI (vpdpbusd, AVX512VL) so one instruction multiplies 32
 * u8 weights by 32 s8 activations and accumulates the products in 8 int32 lanes; the 32 vector
 * registers hold a 4-row x 4-token tile of fp32 accumulators, and the per-pair scale
 * dw[r]*dx[t] is read with an embedded broadcast, so each (row, token, block) costs vpdpbusd +
 * vcvtdq2ps + vfmadd. All three block types map onto vpdpbusd(u8 weights, s8 activations):
 *   Q4_1: nibbles q (0..15) as they are;            dot = dw*dx*sum(q*x) + m*s
 *   Q4_0: nibbles q as u8 meaning q-8;             sum((q-8)*x) = sum(q*x) - 8*sum(x)
 *   Q8_0: w+128 (= w xor 0x80) as u8;               sum(w*x) = sum((w+128)*x) - 128*sum(x)
 * The correction -off*sum(x) is computed once per (token, block) with one more vpdpbusd and used
 * as the accumulator's starting value, so it is exact integer arithmetic.
 *
 * Tokens are processed in tiles of 4 (the last tile of 1-3 tokens runs the same per-element
 * operations); rows in groups of 4, a partial last group repeating its last row, so every output
 * element is computed by the same instruction sequence whatever row range the caller passes.
 * Float-weight matmuls, activation quantizers and dot/axpy are the AVX2 ones (they are memory- or
 * FMA-bound; the AVX2 code is already exact and fast).
 *
 * Test-only: compiled with EI_AVX512_SIMDE defined (never by the Makefile) the same code builds
 * on any CPU against SIMDe's portable implementations of the intrinsics (Debian libsimde-dev), so
 * its logic is tested on machines without AVX-512: tests/test_kernels.c includes this file that
 * way when the SIMDe headers are installed. */
#include "kernels/kernels.h"

#if defined(EI_AVX512_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
/* older SIMDe (0.7.4, Debian 12) lacks a few intrinsics or their native aliases */
#ifndef _mm512_shuffle_f32x4
#define _mm512_shuffle_f32x4(a, b, imm) simde_mm512_shuffle_f32x4(a, b, imm)
#endif
#ifndef _mm512_mask_storeu_ps
static inline void ei_simde_mask_storeu_ps(float *p, simde__mmask16 keep, simde__m512 v) {
    float lanes[16];
    simde_mm512_storeu_ps(lanes, v);
    for (int i = 0; i < 16; i++)
        if (keep >> i & 1) p[i] = lanes[i];
}
#define _mm512_mask_storeu_ps(p, k, v) ei_simde_mask_storeu_ps(p, k, v)
#endif
typedef simde__mmask16 ei_mask16;
#define EI_AVX512_BODY 1
#elif defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512VL__) && defined(__AVX512BW__) && \
    defined(__AVX512VNNI__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
typedef __mmask16 ei_mask16;
#define EI_AVX512_BODY 1
#endif

#if defined(EI_AVX512_BODY)

#include <pthread.h>
#include <string.h>

#define AI __attribute__((always_inline)) static inline
#define TB 128 /* tokens per activation block (kept in L2 while a row group streams over it) */
#define PF_GROUPS 1

AI uint32_t ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
AI uint16_t ld16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

AI float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

typedef struct {
    const uint8_t *w[4];
    uintptr_t pf[4]; /* the same rows PF_GROUPS groups ahead: prefetch addresses only */
} rows4;

AI void prefetch_next(const rows4 *g, size_t wo) {
    _mm_prefetch((const char *)(g->pf[0] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[1] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[2] + wo), _MM_HINT_T0);
    _mm_prefetch((const char *)(g->pf[3] + wo), _MM_HINT_T0);
}

/* 32 nibbles in element order: low nibbles (elements 0..15) low lane, high nibbles high lane. */
AI __m256i unpack_q4(const uint8_t *qs) {
    __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)qs));
    b = _mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

AI __m256i ld256(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

/* vbroadcastss from memory, opaque to the compiler: a plain _mm256_set1_ps(sc[i]) after storing
 * sc lets GCC "forward" the store into 2-3 shuffles per use, which costs more than the load. */
AI __m256 bcast_mem(const float *p) {
#if defined(EI_AVX512_SIMDE)
    return _mm256_set1_ps(*p);
#else
    __m256 v;
    __asm__("vbroadcastss %1, %0" : "=v"(v) : "m"(*p));
    return v;
#endif
}


enum { K_Q41, K_Q40, K_Q80 };

#define PERM(v, a, b, c, d, e, f, g, h) _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(a, b, c, d, e, f, g, h))

/* Scales of the tile for blocks b0 .. b0+n-1: sc[i*16 + c*4 + r] = d_r * dx_c, and (Q4_1) the
 * m_r * sx_c terms accumulated into msa (lanes c*4 + r, c < 2) / msb (c >= 2). Done for a chunk of
 * blocks ahead of the main loop so its broadcasts never wait on store-to-load forwarding.
 * 256-bit vectors only: nothing 512-bit is passed around. */
AI void qprep(const int kind, const int C, const rows4 *g, const uint8_t *const *x, int b0, int n,
              float *sc, __m256 *msa, __m256 *msb) {
    const size_t WB = kind == K_Q41 ? 20 : kind == K_Q40 ? 18 : 34;
    const size_t XB = kind == K_Q41 ? 36 : 34;
    for (int i = 0; i < n; i++) {
        const size_t wo = (size_t)(b0 + i) * WB, xo = (size_t)(b0 + i) * XB;
        uint32_t xh[4] = {0, 0, 0, 0}; /* activation block headers: [d s] (Q8_1) or [d] (Q8_0) */
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) xh[c] = kind == K_Q41 ? ld32(x[c] + xo) : ld16(x[c] + xo);
        float *s = sc + 16 * i;
        if (kind == K_Q41) {
            /* [d0 m0 d1 m1 d2 m2 d3 m3] and [dx0 sx0 dx1 sx1 dx2 sx2 dx3 sx3] as fp32 */
            const __m256 wdm = _mm256_cvtph_ps(_mm_setr_epi32((int)ld32(g->w[0] + wo), (int)ld32(g->w[1] + wo),
                                                              (int)ld32(g->w[2] + wo), (int)ld32(g->w[3] + wo)));
            const __m256 xds = _mm256_cvtph_ps(_mm_setr_epi32((int)xh[0], (int)xh[1], (int)xh[2], (int)xh[3]));
            const __m256 d = PERM(wdm, 0, 2, 4, 6, 0, 2, 4, 6), m = PERM(wdm, 1, 3, 5, 7, 1, 3, 5, 7);
            _mm256_storeu_ps(s, _mm256_mul_ps(d, PERM(xds, 0, 0, 0, 0, 2, 2, 2, 2)));
            *msa = _mm256_fmadd_ps(m, PERM(xds, 1, 1, 1, 1, 3, 3, 3, 3), *msa);
            if (C > 2) {
                _mm256_storeu_ps(s + 8, _mm256_mul_ps(d, PERM(xds, 4, 4, 4, 4, 6, 6, 6, 6)));
                *msb = _mm256_fmadd_ps(m, PERM(xds, 5, 5, 5, 5, 7, 7, 7, 7), *msb);
            }
        } else {
            const uint64_t D = (uint64_t)ld16(g->w[0] + wo) | (uint64_t)ld16(g->w[1] + wo) << 16 |
                               (uint64_t)ld16(g->w[2] + wo) << 32 | (uint64_t)ld16(g->w[3] + wo) << 48;
            const uint64_t X4 = (uint64_t)xh[0] | (uint64_t)xh[1] << 16 | (uint64_t)xh[2] << 32 | (uint64_t)xh[3] << 48;
            const __m256 wd = _mm256_cvtph_ps(_mm_set_epi64x(0, (long long)D));
            const __m256 xd = _mm256_cvtph_ps(_mm_set_epi64x(0, (long long)X4));
            const __m256 d = PERM(wd, 0, 1, 2, 3, 0, 1, 2, 3);
            _mm256_storeu_ps(s, _mm256_mul_ps(d, PERM(xd, 0, 0, 0, 0, 1, 1, 1, 1)));
            if (C > 2) _mm256_storeu_ps(s + 8, _mm256_mul_ps(d, PERM(xd, 2, 2, 2, 2, 3, 3, 3, 3)));
        }
    }
}

#define SCB 16 /* blocks per scale chunk */

/* One tile: 4 weight rows (g) x C tokens (x[0..C-1]); y[c*4 + r] receives row r, token c. */
AI void qtile(const int kind, const int C, int nb, const rows4 *g, const uint8_t *const *x,
              float *const *y) {
    const size_t WB = kind == K_Q41 ? 20 : kind == K_Q40 ? 18 : 34;  /* weight block bytes */
    const size_t XB = kind == K_Q41 ? 36 : 34;                       /* activation block bytes */
    const size_t XQ = kind == K_Q41 ? 4 : 2;                         /* activation qs offset */
    const char off = kind == K_Q41 ? 0 : kind == K_Q40 ? 8 : (char)-128; /* weight u8 offset */
    __m256 acc[4][4];
    __m256 msa = _mm256_setzero_ps(), msb = msa; /* lane c*4 + r (- 8): sum of m_r * sx_c (Q4_1) */
    float sc[SCB * 16];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = _mm256_setzero_ps();

    for (int b0 = 0; b0 < nb; b0 += SCB) {
        const int n = nb - b0 < SCB ? nb - b0 : SCB;
        qprep(kind, C, g, x, b0, n, sc, &msa, &msb);
        for (int i = 0; i < n; i++) {
            const size_t wo = (size_t)(b0 + i) * WB, xo = (size_t)(b0 + i) * XB;
            prefetch_next(g, wo);
            __m256i xv[4], xc[4];
#pragma GCC unroll 4
            for (int c = 0; c < C; c++) {
                xv[c] = ld256(x[c] + xo + XQ);
                if (kind == K_Q41) xc[c] = _mm256_setzero_si256();
                else /* -off * sum(x) per lane, exact */
                    xc[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                             _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(off), xv[c]));
            }
            const float *s = sc + 16 * i;
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                __m256i w;
                if (kind == K_Q80) w = _mm256_xor_si256(ld256(g->w[r] + wo + 2), _mm256_set1_epi8((char)-128));
                else w = unpack_q4(g->w[r] + wo + (kind == K_Q41 ? 4 : 2));
#pragma GCC unroll 4
                for (int c = 0; c < C; c++) {
                    const __m256 p = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(xc[c], w, xv[c]));
                    acc[r][c] = _mm256_fmadd_ps(p, bcast_mem(&s[c * 4 + r]), acc[r][c]);
                }
            }
        }
    }
    float m[16];
    _mm256_storeu_ps(m, msa);
    _mm256_storeu_ps(m + 8, msb);
#pragma GCC unroll 4
    for (int c = 0; c < C; c++)
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (kind == K_Q41) *y[c * 4 + r] = hsum8(acc[r][c]) + m[c * 4 + r];
            else *y[c * 4 + r] = hsum8(acc[r][c]);
        }
}

/* Each (type, tile width) is its own function: separate register allocation for each loop. */
typedef void (*tile_fn)(int nb, const rows4 *g, const uint8_t *const *x, float *const *y);
#define DEF_TILES(NAME, KIND)                                                                       \
    __attribute__((noinline)) static void NAME##_t1(int nb, const rows4 *g, const uint8_t *const *x, \
                                                    float *const *y) {                              \
        qtile(KIND, 1, nb, g, x, y);                                                                \
    }                                                                                               \
    __attribute__((noinline)) static void NAME##_t2(int nb, const rows4 *g, const uint8_t *const *x, \
                                                    float *const *y) {                              \
        qtile(KIND, 2, nb, g, x, y);                                                                \
    }                                                                                               \
    __attribute__((noinline)) static void NAME##_t3(int nb, const rows4 *g, const uint8_t *const *x, \
                                                    float *const *y) {                              \
        qtile(KIND, 3, nb, g, x, y);                                                                \
    }                                                                                               \
    __attribute__((noinline)) static void NAME##_t4(int nb, const rows4 *g, const uint8_t *const *x, \
                                                    float *const *y) {                              \
        qtile(KIND, 4, nb, g, x, y);                                                                \
    }                                                                                               \
    static const tile_fn NAME##_tiles[4] = {NAME##_t1, NAME##_t2, NAME##_t3, NAME##_t4};
DEF_TILES(q41, K_Q41)
DEF_TILES(q40, K_Q40)
DEF_TILES(q80, K_Q80)

static void qdrive(const tile_fn *tiles, int K, const void *W, size_t ldw, int n0, int n1,
                   const void *X, size_t ldx, int T, float *Y, size_t ldy) {
    const int nb = K / EI_QK;
    const uint8_t *wb = W, *xb = X;
    float sink[16];
    for (int tb = 0; tb < T; tb += TB) {
        const int te = T - tb < TB ? T : tb + TB;
        for (int n = n0; n < n1; n += 4) {
            rows4 g;
            for (int r = 0; r < 4; r++) {
                g.w[r] = wb + (size_t)(n + r < n1 ? n + r : n1 - 1) * ldw;
                g.pf[r] = (uintptr_t)g.w[r] + (uintptr_t)(PF_GROUPS * 4) * ldw;
            }
            const int nv = n1 - n < 4 ? n1 - n : 4;
            for (int t = tb; t < te; t += 4) {
                const int C = te - t < 4 ? te - t : 4;
                const uint8_t *xs[4];
                float *ys[16];
                for (int c = 0; c < 4; c++) {
                    xs[c] = xb + (size_t)(t + (c < C ? c : 0)) * ldx;
                    for (int r = 0; r < 4; r++)
                        ys[c * 4 + r] = (c < C && r < nv) ? Y + (size_t)(t + c) * ldy + n + r : sink + c * 4 + r;
                }
                tiles[C - 1](nb, &g, xs, ys);
            }
        }
    }
}

static void matmul_q4_1(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx,
                        int T, float *Y, size_t ldy) {
    qdrive(q41_tiles, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}
static void matmul_q4_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx,
                        int T, float *Y, size_t ldy) {
    qdrive(q40_tiles, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}
static void matmul_q8_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx,
                        int T, float *Y, size_t ldy) {
    qdrive(q80_tiles, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}

/* ------------------------------------------------------------------ attention (f16 cache) */

static inline __m512 ld_f16x16(const ei_fp16 *p) {
#if defined(EI_AVX512_SIMDE) /* SIMDe has no 512-bit half conversion: two 256-bit ones */
    const __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
    const __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p + 8)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
#else
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
#endif
}

static inline __m256 fold256(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

/* 512 -> 256 bits, then the AVX2 reduction of 4 accumulators into 4 sums. */
static inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m256 a8 = fold256(a), b8 = fold256(b), c8 = fold256(c), d8 = fold256(d);
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Decode scores (a few query rows): R-query x 4-key tiles (R = 1..4, a constant in each inlined copy,
 * so a group of 3 query heads costs 3 rows, not a padded 4); each K row is converted once and used by
 * R queries; tails repeat the last key / query so every score goes through the same instructions. */
AI void scores_tile(const int R, const float *const *q, const ei_fp16 *K, size_t ks, int n, int hd, __m128 vs, float *S,
                    size_t ss) {
    for (int j = 0; j < n; j += 4) {
        const ei_fp16 *k[4];
        for (int c = 0; c < 4; c++) k[c] = K + (size_t)(j + c < n ? j + c : n - 1) * ks;
        __m512 acc[4][4];
        EI_UNROLL
        for (int a = 0; a < R; a++)
            EI_UNROLL
            for (int c = 0; c < 4; c++) acc[a][c] = _mm512_setzero_ps();
        for (int i = 0; i < hd; i += 16) {
            __m512 x[4];
            EI_UNROLL
            for (int a = 0; a < R; a++) x[a] = _mm512_loadu_ps(q[a] + i);
            EI_UNROLL
            for (int c = 0; c < 4; c++) {
                const __m512 kv = ld_f16x16(k[c] + i);
                EI_UNROLL
                for (int a = 0; a < R; a++) acc[a][c] = _mm512_fmadd_ps(kv, x[a], acc[a][c]);
            }
        }
        EI_UNROLL
        for (int a = 0; a < R; a++) {
            float out[4];
            _mm_storeu_ps(out, _mm_mul_ps(sum4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]), vs));
            for (int c = 0; c < 4 && j + c < n; c++) S[(size_t)a * ss + j + c] = out[c];
        }
    }
}

static void attn_scores_f16(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd, float scale,
                            float *S, size_t ss) {
    if (hd % 16) {
        ei_kernels_avx2()->attn_scores_f16(K, ks, n, Q, qs, nq, hd, scale, S, ss);
        return;
    }
    const __m128 vs = _mm_set1_ps(scale);
    for (int r = 0; r < nq; r += 4) {
        const float *q[4];
        for (int a = 0; a < 4; a++) q[a] = Q + (size_t)(r + a < nq ? r + a : nq - 1) * qs;
        float *Sr = S + (size_t)r * ss;
        switch (nq - r < 4 ? nq - r : 4) {
        case 1: scores_tile(1, q, K, ks, n, hd, vs, Sr, ss); break;
        case 2: scores_tile(2, q, K, ks, n, hd, vs, Sr, ss); break;
        case 3: scores_tile(3, q, K, ks, n, hd, vs, Sr, ss); break;
        default: scores_tile(4, q, K, ks, n, hd, vs, Sr, ss); break;
        }
    }
}

/* In-register transpose of a 16 x 16 float tile: r[k] holds row k on entry and column k on exit. */
AI void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* then r[4k + e], 128-bit lane L: element 4L + e of rows 4k .. 4k+3 */
    for (int k = 0; k < 4; k++) {
        const __m512d a = _mm512_castps_pd(t[4 * k]), b = _mm512_castps_pd(t[4 * k + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * k + 1]), d = _mm512_castps_pd(t[4 * k + 3]);
        r[4 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    /* gather the 128-bit lanes: first rows 0-7 and 8-15 pairwise, then all four row groups */
    for (int e = 0; e < 4; e++) {
        t[e] = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);
        t[4 + e] = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xdd);
        t[8 + e] = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88);
        t[12 + e] = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xdd);
    }
    for (int e = 0; e < 4; e++) {
        r[e] = _mm512_shuffle_f32x4(t[e], t[8 + e], 0x88);
        r[8 + e] = _mm512_shuffle_f32x4(t[e], t[8 + e], 0xdd);
        r[4 + e] = _mm512_shuffle_f32x4(t[4 + e], t[12 + e], 0x88);
        r[12 + e] = _mm512_shuffle_f32x4(t[4 + e], t[12 + e], 0xdd);
    }
}

#define EI_SCORE_ROWS 6 /* query rows per pass: 4 partial sums each, 24 accumulators */

/* Scores of R query rows against one transposed 16-key block kt[hd][16]: each row's 16 scores are
 * four partial sums over the quarters of the head dimension, one broadcast FMA per (row, dimension),
 * added as (p0 + p1) + (p2 + p3). The lanes are keys, so no horizontal sums are needed. */
AI void scores_rows(const int R, const float *Q, size_t qs, const float *kt, int hd, __m512 vs, float *S, size_t ss,
                    ei_mask16 keep) {
    const int qd = hd / 4;
    __m512 acc[EI_SCORE_ROWS][4];
    EI_UNROLL
    for (int a = 0; a < R; a++)
        EI_UNROLL
        for (int p = 0; p < 4; p++) acc[a][p] = _mm512_setzero_ps();
    for (int i = 0; i < qd; i++)
        EI_UNROLL
        for (int p = 0; p < 4; p++) {
            const __m512 kv = _mm512_load_ps(kt + (size_t)(p * qd + i) * 16);
            EI_UNROLL
            for (int a = 0; a < R; a++) acc[a][p] = _mm512_fmadd_ps(kv, _mm512_set1_ps(Q[(size_t)a * qs + p * qd + i]), acc[a][p]);
        }
    EI_UNROLL
    for (int a = 0; a < R; a++) {
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[a][0], acc[a][1]), _mm512_add_ps(acc[a][2], acc[a][3]));
        _mm512_mask_storeu_ps(S + (size_t)a * ss, keep, _mm512_mul_ps(sum, vs));
    }
}

/* Prefill scores (many query rows) by blocks of 16 keys: each block is converted from halves once and transposed into kt
 * (kt[i][lane] = dimension i of key lane), then every query row is scored against it (a tail block
 * repeats the last key in its unused lanes, which are not stored). Every score goes through the
 * same instructions whatever n and nq are. */
static void attn_block_scores_f16(const ei_fp16 *K, size_t ks, int n, const float *Q, size_t qs, int nq, int hd,
                                  float scale, float *S, size_t ss) {
    if (hd % 16 || hd > 256) {
        ei_kernels_avx2()->attn_block_scores_f16(K, ks, n, Q, qs, nq, hd, scale, S, ss);
        return;
    }
    _Alignas(64) float kt[256 * 16];
    const __m512 vs = _mm512_set1_ps(scale);
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int nk = n - j0 < 16 ? n - j0 : 16;
        for (int c = 0; c < hd; c += 16) {
            __m512 r[16];
            for (int k = 0; k < 16; k++) r[k] = ld_f16x16(K + (size_t)(j0 + (k < nk ? k : nk - 1)) * ks + c);
            transpose16(r);
            for (int i = 0; i < 16; i++) _mm512_store_ps(kt + (size_t)(c + i) * 16, r[i]);
        }
        const ei_mask16 keep = (ei_mask16)(0xffffu >> (16 - nk));
        for (int r0 = 0; r0 < nq; r0 += EI_SCORE_ROWS) {
            const float *Qr = Q + (size_t)r0 * qs;
            float *Sr = S + (size_t)r0 * ss + j0;
            switch (nq - r0 < EI_SCORE_ROWS ? nq - r0 : EI_SCORE_ROWS) {
            case 1: scores_rows(1, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            case 2: scores_rows(2, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            case 3: scores_rows(3, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            case 4: scores_rows(4, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            case 5: scores_rows(5, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            default: scores_rows(6, Qr, qs, kt, hd, vs, Sr, ss, keep); break;
            }
        }
    }
}

#define EI_VALUE_ROWS 6 /* query rows per pass: 4 accumulators each, 24 in all */

/* Values in R-query x 64-float tiles (R = 1..6, a constant in each inlined copy; 4R accumulators
 * across all keys); each V row is converted once per tile and used by R queries. One FMA per
 * (query, key, element), keys in order, as the AVX2 kernel: both give the same bits, for any R. */
AI void values_tile(const int R, const float *const *p, float *const *o, const ei_fp16 *V, size_t vs, int n, int i0) {
    __m512 acc[EI_VALUE_ROWS][4];
    EI_UNROLL
    for (int a = 0; a < R; a++)
        EI_UNROLL
        for (int c = 0; c < 4; c++) acc[a][c] = _mm512_loadu_ps(o[a] + i0 + 16 * c);
    for (int j = 0; j < n; j++) {
        const ei_fp16 *v = V + (size_t)j * vs + i0;
        __m512 w[EI_VALUE_ROWS];
        EI_UNROLL
        for (int a = 0; a < R; a++) w[a] = _mm512_set1_ps(p[a][j]);
        EI_UNROLL
        for (int c = 0; c < 4; c++) {
            const __m512 x = ld_f16x16(v + 16 * c);
            EI_UNROLL
            for (int a = 0; a < R; a++) acc[a][c] = _mm512_fmadd_ps(x, w[a], acc[a][c]);
        }
    }
    EI_UNROLL
    for (int a = 0; a < R; a++)
        EI_UNROLL
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(o[a] + i0 + 16 * c, acc[a][c]);
}

static void attn_values_f16(const ei_fp16 *V, size_t vs, int n, const float *P, size_t ps, int nq, int hd, float *O,
                            size_t os) {
    if (hd % 64) {
        ei_kernels_avx2()->attn_values_f16(V, vs, n, P, ps, nq, hd, O, os);
        return;
    }
    for (int r = 0; r < nq; r += EI_VALUE_ROWS) {
        const float *p[EI_VALUE_ROWS];
        float *o[EI_VALUE_ROWS];
        for (int a = 0; a < EI_VALUE_ROWS; a++) {
            const int rr = r + a < nq ? r + a : nq - 1;
            p[a] = P + (size_t)rr * ps, o[a] = O + (size_t)rr * os;
        }
        for (int i0 = 0; i0 < hd; i0 += 64) {
            switch (nq - r < EI_VALUE_ROWS ? nq - r : EI_VALUE_ROWS) {
            case 1: values_tile(1, p, o, V, vs, n, i0); break;
            case 2: values_tile(2, p, o, V, vs, n, i0); break;
            case 3: values_tile(3, p, o, V, vs, n, i0); break;
            case 4: values_tile(4, p, o, V, vs, n, i0); break;
            case 5: values_tile(5, p, o, V, vs, n, i0); break;
            default: values_tile(6, p, o, V, vs, n, i0); break;
            }
        }
    }
}

static ei_kernels g_avx512;
static int g_avx512_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_avx512(void) {
    const ei_kernels *base = ei_kernels_avx2();
    if (!base) return;
    g_avx512 = *base;
    g_avx512.isa = "avx512";
    g_avx512.matmul[EI_Q4_1] = matmul_q4_1;
    g_avx512.matmul[EI_Q4_0] = matmul_q4_0;
    g_avx512.matmul[EI_Q8_0] = matmul_q8_0;
    g_avx512.attn_scores_f16 = attn_scores_f16;
    g_avx512.attn_block_scores_f16 = attn_block_scores_f16;
    g_avx512.attn_values_f16 = attn_values_f16;
    g_avx512_ok = 1;
}

const ei_kernels *ei_kernels_avx512(void) {
#if !defined(EI_AVX512_SIMDE)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq") ||
        !__builtin_cpu_supports("avx512vnni"))
        return NULL;
#endif
    pthread_once(&g_once, init_avx512);
    return g_avx512_ok ? &g_avx512 : NULL;
}

#else

const ei_kernels *ei_kernels_avx512(void) { return NULL; }

#endif

/* Every kernel table this CPU supports (scalar always) against float64 references computed from
 * the dequantized weights and activations: matmul for every weight type over a range of shapes,
 * split invariance of matmul (bit-exact), activation quantizers (bit-exact vs ei_quantize_row_act
 * in types.c, llama.cpp's x86 activation quantizer), dot/axpy in f32 and f16. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels.h"
#include "types.h"

/* When the SIMDe headers are installed (Debian libsimde-dev), compile a second copy of the AVX-512
 * kernels against SIMDe's portable emulation of the intrinsics, so their logic is tested even on
 * CPUs without AVX-512 (it runs as "avx512-simde"). The real avx512 table is tested when the CPU
 * has AVX-512. */
#if defined(__has_include) && !defined(EI_NO_SIMDE_TEST)
#if __has_include(<simde/x86/avx512.h>)
#define EI_AVX512_SIMDE 1
#define ei_kernels_avx512 ei_kernels_avx512_simde
const ei_kernels *ei_kernels_avx512_simde(void);
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* GCC: compile the emulated copy for AVX2 (SIMDe then uses native AVX2 where it can, and 256-bit
 * vectors are passed natively: no -Wpsabi note). It only runs when the CPU has AVX2. */
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include "kernels/avx512.c"
#pragma GCC pop_options
#define AVX512_SIMDE_NEEDS_AVX2 1
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" /* 256-bit vector types without -mavx: internal only */
#include "kernels/avx512.c"
#pragma GCC diagnostic pop
#endif
#undef ei_kernels_avx512
#define HAVE_AVX512_SIMDE 1
#endif
#endif

/* ------------------------------------------------------------------ helpers */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float frand(void) { return (float)((double)rnd() / 4294967296.0 * 2.0 - 1.0); } /* [-1,1) */

static double h2d(ei_fp16 h) { return (double)ei_fp16_to_fp32(h); }

#define ROWP(base, i, ld) ((const char *)(base) + (size_t)(i) * (ld))

/* Reference dot product (float64) of weight row w (type wt) with activation row x (its act
 * type), and the sum of |products| for the tolerance. */
static double ref_dot(int wt, const void *w, const void *x, int K, double *sumabs) {
    double s = 0, a = 0;
    const int nb = K / EI_QK;
    switch (wt) {
    case EI_F32:
    case EI_F16:
    case EI_BF16: {
        const float *xf = x;
        for (int i = 0; i < K; i++) {
            double wv = wt == EI_F32    ? (double)((const float *)w)[i]
                        : wt == EI_F16 ? h2d(((const ei_fp16 *)w)[i])
                                       : (double)ei_bf16_to_fp32(((const ei_bf16 *)w)[i]);
            double p = wv * (double)xf[i];
            s += p, a += fabs(p);
        }
        break;
    }
    case EI_Q4_0: {
        const ei_block_q4_0 *wb = w;
        const ei_block_q8_0 *xb = x;
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < EI_QK; j++) {
                int q = j < 16 ? (wb[b].qs[j] & 15) : (wb[b].qs[j - 16] >> 4);
                double p = h2d(wb[b].d) * (q - 8) * h2d(xb[b].d) * xb[b].qs[j];
                s += p, a += fabs(p);
            }
        break;
    }
    case EI_Q4_1: {
        /* Q4_1 x Q8_1 is defined with the stored fp16 s = d*sum(q) of the activation block:
         * dot = dw*dx*sum(qw*qx) + mw*s. */
        const ei_block_q4_1 *wb = w;
        const ei_block_q8_1 *xb = x;
        for (int b = 0; b < nb; b++) {
            for (int j = 0; j < EI_QK; j++) {
                int q = j < 16 ? (wb[b].qs[j] & 15) : (wb[b].qs[j - 16] >> 4);
                double p = h2d(wb[b].d) * q * h2d(xb[b].d) * xb[b].qs[j];
                s += p, a += fabs(p);
            }
            double p = h2d(wb[b].m) * h2d(xb[b].s);
            s += p, a += fabs(p);
        }
        break;
    }
    case EI_Q8_0: {
        const ei_block_q8_0 *wb = w;
        const ei_block_q8_0 *xb = x;
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < EI_QK; j++) {
                double p = h2d(wb[b].d) * wb[b].qs[j] * h2d(xb[b].d) * xb[b].qs[j];
                s += p, a += fabs(p);
            }
        break;
    }
    }
    *sumabs = a;
    return s;
}

/* ------------------------------------------------------------------ matmul */

static const int k_wtypes[] = {EI_F32, EI_F16, EI_BF16, EI_Q4_0, EI_Q4_1, EI_Q8_0};
#define NWT (int)(sizeof k_wtypes / sizeof k_wtypes[0])

/* One shape: returns the number of failures (printed at most a few per call). */
static void check_matmul(const ei_kernels *k, int wt, int K, int N, int T, double *worst) {
    const int at = ei_act_type(wt);
    const size_t wrow = ei_row_bytes(wt, K), xrow = ei_row_bytes(at, K);
    const size_t ldw = wrow + 4 * (rnd() % 3), ldx = xrow + 4 * (rnd() % 3); /* padded strides */
    const size_t ldy = (size_t)N + rnd() % 3;
    char *W = malloc(ldw * (size_t)N + 1), *X = malloc(ldx * (size_t)T + 1);
    float *tmp = malloc(sizeof(float) * (size_t)K);
    float *Y1 = malloc(sizeof(float) * ldy * (size_t)T), *Y2 = malloc(sizeof(float) * ldy * (size_t)T);
    if (!W || !X || !tmp || !Y1 || !Y2) {
        CHECK(0, "out of memory");
        goto out;
    }
    memset(W, 0x5a, ldw * (size_t)N);
    memset(X, 0x5a, ldx * (size_t)T);
    for (int n = 0; n < N; n++) {
        float scale = 0.05f + (float)(rnd() % 100) / 50.0f;
        float off = (rnd() % 4 == 0) ? frand() * 0.5f : 0.0f;
        for (int i = 0; i < K; i++) tmp[i] = frand() * scale + off;
        ei_quantize_row(wt, tmp, W + (size_t)n * ldw, K);
    }
    for (int t = 0; t < T; t++) {
        float scale = 0.1f + (float)(rnd() % 100) / 10.0f;
        for (int i = 0; i < K; i++) tmp[i] = frand() * scale;
        if (t % 3 == 1)
            for (int i = 0; i < K; i += 7) tmp[i] = 0.0f;
        k->quantize_act[at](tmp, X + (size_t)t * ldx, K);
    }
    const ei_matmul_fn mm = k->matmul[wt];
    for (size_t i = 0; i < ldy * (size_t)T; i++) Y1[i] = Y2[i] = -12345.0f;
    mm(K, W, ldw, N / 2, N / 2, X, ldx, T, Y1, ldy); /* empty ranges: must write nothing */
    mm(K, W, ldw, 0, N, X, ldx, 0, Y1, ldy);
    for (size_t i = 0; i < ldy * (size_t)T; i++)
        if (Y1[i] != -12345.0f) {
            CHECK(0, "%s %s: empty range wrote Y[%zu]", k->isa, ei_type_name(wt), i);
            break;
        }
    mm(K, W, ldw, 0, N, X, ldx, T, Y1, ldy);
    int bad = 0;
    for (int t = 0; t < T; t++) {
        for (int n = 0; n < N; n++) {
            double sa;
            double r = ref_dot(wt, ROWP(W, n, ldw), ROWP(X, t, ldx), K, &sa);
            double y = Y1[(size_t)t * ldy + n];
            double err = fabs(y - r), tol = 1e-5 * sa + 1e-30;
            if (sa > 0 && err / sa > *worst) *worst = err / sa;
            if (!(err <= tol) && bad++ < 3)
                CHECK(0, "%s %s K=%d N=%d T=%d: Y[t=%d][n=%d]=%.9g ref %.9g (sum|p| %.3g)", k->isa,
                      ei_type_name(wt), K, N, T, t, n, y, r, sa);
        }
        for (size_t n = (size_t)N; n < ldy; n++)
            if (Y1[(size_t)t * ldy + n] != -12345.0f && bad++ < 3) CHECK(0, "wrote past n1");
    }
    /* split invariance: [0,s) + [s,N) must equal [0,N) bit for bit, for several split points */
    const int splits[] = {1, 3, 4, 5, N / 2, N - 1};
    for (size_t si = 0; si < sizeof splits / sizeof splits[0]; si++) {
        int s = splits[si];
        if (s <= 0 || s >= N) continue;
        for (size_t i = 0; i < ldy * (size_t)T; i++) Y2[i] = -12345.0f;
        mm(K, W, ldw, s, N, X, ldx, T, Y2, ldy);
        for (int t = 0; t < T; t++)
            for (int n = 0; n < s; n++)
                if (Y2[(size_t)t * ldy + n] != -12345.0f && bad++ < 3)
                    CHECK(0, "%s %s: [%d,%d) wrote outside its range at n=%d", k->isa,
                          ei_type_name(wt), s, N, n);
        mm(K, W, ldw, 0, s, X, ldx, T, Y2, ldy);
        if (memcmp(Y1, Y2, sizeof(float) * ldy * (size_t)T) != 0 && bad++ < 3)
            CHECK(0, "%s %s K=%d N=%d T=%d: split at %d changes results", k->isa, ei_type_name(wt),
                  K, N, T, s);
    }
    /* token split invariance: a call of T tokens = two calls of T/2 and T - T/2 (each >= 2 tokens:
     * one-token calls may take another kernel, see amx.c) */
    if (T >= 4) {
        for (size_t i = 0; i < ldy * (size_t)T; i++) Y2[i] = -12345.0f;
        mm(K, W, ldw, 0, N, X, ldx, T / 2, Y2, ldy);
        mm(K, W, ldw, 0, N, X + (size_t)(T / 2) * ldx, ldx, T - T / 2, Y2 + (size_t)(T / 2) * ldy, ldy);
        if (memcmp(Y1, Y2, sizeof(float) * ldy * (size_t)T) != 0 && bad++ < 3)
            CHECK(0, "%s %s K=%d N=%d T=%d: splitting the tokens at %d changes results", k->isa, ei_type_name(wt), K, N, T, T / 2);
    }
out:
    free(W), free(X), free(tmp), free(Y1), free(Y2);
}

static void test_matmul(const ei_kernels *k) {
    static const int Ks[] = {32, 64, 96, 576, 1536};
    static const int Ts[] = {1, 2, 3, 5, 16, 17, 64, 83};
    static const int Ns[] = {1, 3, 7, 13, 37};
    for (int wi = 0; wi < NWT; wi++) {
        const int wt = k_wtypes[wi];
        char name[128];
        snprintf(name, sizeof name, "kernels[%s]: matmul %s x %s vs float64 reference + split invariance",
                 k->isa, ei_type_name(wt), ei_type_name(ei_act_type(wt)));
        TEST_BEGIN();
        if (!k->matmul[wt] || !k->quantize_act[ei_act_type(wt)]) {
            CHECK(0, "missing kernel");
            TEST_END(name);
            continue;
        }
        double worst = 0;
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                const int K = Ks[ki], T = Ts[ti];
                /* keep the big shapes few: N varies with the case */
                const int N = Ns[(ki + ti) % (sizeof Ns / sizeof Ns[0])];
                check_matmul(k, wt, K, N, T, &worst);
                if (K >= 576 && T >= 17) continue;
                check_matmul(k, wt, K, 4 + (int)(rnd() % 9), T, &worst); /* around the tile size */
            }
        if (getenv("EI_TEST_VERBOSE"))
            printf("  %s %s worst |err|/sum|p| = %.3g\n", k->isa, ei_type_name(wt), worst);
        TEST_END(name);
    }
}

/* ------------------------------------------------------------------ activation quantizers */

static void fill_act(float *x, int K, int pattern) {
    for (int i = 0; i < K; i++) {
        switch (pattern) {
        case 0: x[i] = frand() * 3.0f; break;
        case 1: x[i] = frand() * 1e-3f + 0.01f; break;
        case 2: x[i] = (i % 32 == 0) ? 127.0f : (float)((int)(rnd() % 255) - 127) + 0.5f; break; /* ties */
        case 3: x[i] = (i % 64 < 32) ? 0.0f : frand(); break; /* zero blocks */
        case 4: x[i] = frand() * 6e4f; break;
        default: x[i] = (float)((int)(rnd() % 17) - 8) * 0.25f; break;
        }
    }
}

static void test_quantize_act(const ei_kernels *k) {
    static const int acts[] = {EI_Q8_0, EI_Q8_1, EI_F32};
    static const int Ks[] = {32, 64, 96, 576, 1536, 4096};
    for (size_t ai = 0; ai < 3; ai++) {
        const int at = acts[ai];
        char name[128];
        snprintf(name, sizeof name, "kernels[%s]: quantize_act %s bit-exact vs ei_quantize_row_act",
                 k->isa, ei_type_name(at));
        TEST_BEGIN();
        if (!k->quantize_act[at]) {
            CHECK(0, "missing");
            TEST_END(name);
            continue;
        }
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
            for (int pat = 0; pat < 6; pat++) {
                const int K = Ks[ki];
                const size_t rb = ei_row_bytes(at, K);
                float *x = malloc(sizeof(float) * (size_t)K + 4);
                unsigned char *a = malloc(rb + 8), *b = malloc(rb + 8);
                if (!x || !a || !b) {
                    CHECK(0, "oom");
                    free(x), free(a), free(b);
                    continue;
                }
                /* activations at an offset of one float: kernels must not assume 32-byte alignment */
                float *xs = (float *)((char *)x + ((pat & 1) ? 4 : 0));
                fill_act(xs, K, pat);
                memset(a, 0xcc, rb + 8);
                memset(b, 0xcc, rb + 8);
                ei_quantize_row_act(at, xs, a, K);
                k->quantize_act[at](xs, b, K);
                size_t first = rb;
                for (size_t i = 0; i < rb + 8; i++)
                    if (a[i] != b[i]) {
                        first = i;
                        break;
                    }
                CHECK(first == rb, "K=%d pattern %d: byte %zu differs (ref 0x%02x, %s 0x%02x)%s", K,
                      pat, first, first < rb + 8 ? a[first] : 0, k->isa, first < rb + 8 ? b[first] : 0,
                      first >= rb ? " (wrote past the row)" : "");
                free(x), free(a), free(b);
            }
        TEST_END(name);
    }
}

/* ------------------------------------------------------------------ dot / axpy */

static void test_vec(const ei_kernels *k) {
    static const int ns[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 129, 576, 1536};
    char name[128];
    snprintf(name, sizeof name, "kernels[%s]: dot_f32, axpy_f32, dot_f16_f32, axpy_f16_f32", k->isa);
    TEST_BEGIN();
    if (!k->dot_f32 || !k->axpy_f32 || !k->dot_f16_f32 || !k->axpy_f16_f32) {
        CHECK(0, "missing");
        TEST_END(name);
        return;
    }
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
        for (int off = 0; off < 2; off++) {
            const int n = ns[ni];
            float *a = malloc(sizeof(float) * (size_t)(n + 2)), *b = malloc(sizeof(float) * (size_t)(n + 2));
            float *y = malloc(sizeof(float) * (size_t)(n + 2)), *y0 = malloc(sizeof(float) * (size_t)(n + 2));
            ei_fp16 *h = malloc(sizeof(ei_fp16) * (size_t)(n + 2));
            if (!a || !b || !y || !y0 || !h) {
                CHECK(0, "oom");
                free(a), free(b), free(y), free(y0), free(h);
                continue;
            }
            float *as = a + off, *bs = b + off, *ys = y + off;
            ei_fp16 *hs = h + off;
            for (int i = 0; i < n + 2; i++) {
                a[i] = frand() * 2, b[i] = frand() * 3, y[i] = y0[i] = frand();
                h[i] = ei_fp32_to_fp16(frand() * 4);
            }
            double r = 0, sa = 0, rh = 0, sah = 0;
            for (int i = 0; i < n; i++) {
                r += (double)as[i] * bs[i], sa += fabs((double)as[i] * bs[i]);
                double ph = (double)ei_fp16_to_fp32(hs[i]) * bs[i];
                rh += ph, sah += fabs(ph);
            }
            float d = k->dot_f32(as, bs, n);
            CHECK(fabs(d - r) <= 1e-5 * sa + 1e-30, "dot_f32 n=%d off=%d: %.9g vs %.9g", n, off, d, r);
            float dh = k->dot_f16_f32(hs, bs, n);
            CHECK(fabs(dh - rh) <= 1e-5 * sah + 1e-30, "dot_f16_f32 n=%d off=%d: %.9g vs %.9g", n, off,
                  dh, rh);
            const float alpha = frand() * 2;
            k->axpy_f32(alpha, as, ys, n);
            int bad = 0;
            for (int i = 0; i < n + 2; i++) {
                const int in = i >= off && i < off + n;
                double want = in ? (double)y0[i] + (double)alpha * a[i] : (double)y0[i];
                double tol = in ? 2.5e-7 * (fabs((double)alpha * a[i]) + fabs((double)y0[i])) : 0;
                if (!(fabs(y[i] - want) <= tol) && bad++ < 2)
                    CHECK(0, "axpy_f32 n=%d off=%d i=%d: %.9g vs %.9g", n, off, i, y[i], want);
            }
            for (int i = 0; i < n + 2; i++) y[i] = y0[i];
            k->axpy_f16_f32(alpha, hs, ys, n);
            for (int i = 0; i < n + 2; i++) {
                const int in = i >= off && i < off + n;
                double hv = (double)ei_fp16_to_fp32(h[i]);
                double want = in ? (double)y0[i] + (double)alpha * hv : (double)y0[i];
                double tol = in ? 2.5e-7 * (fabs((double)alpha * hv) + fabs((double)y0[i])) : 0;
                if (!(fabs(y[i] - want) <= tol) && bad++ < 2)
                    CHECK(0, "axpy_f16_f32 n=%d off=%d i=%d: %.9g vs %.9g", n, off, i, y[i], want);
            }
            free(a), free(b), free(y), free(y0), free(h);
        }
    TEST_END(name);
}

/* ------------------------------------------------------------------ attention */

/* Multi-query attention kernels against float64, and split invariance: computing the same keys in
 * two calls (split at any key or query) must give bit-identical scores and outputs. */
static void test_attn(const ei_kernels *k) {
    static const int hds[] = {64, 8, 12, 128};
    static const int ns[] = {1, 3, 4, 5, 17, 64};
    static const int nqs[] = {1, 2, 3, 5, 7, 24};
    char name[128];
    snprintf(name, sizeof name, "kernels[%s]: attn_scores_f16, attn_block_scores_f16, attn_values_f16, softmax, round_f16", k->isa);
    TEST_BEGIN();
    if (!k->attn_scores_f16 || !k->attn_block_scores_f16 || !k->attn_values_f16 || !k->round_f16 || !k->softmax) {
        CHECK(0, "missing");
        TEST_END(name);
        return;
    }
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof nqs / sizeof nqs[0] && !check_failed_in_test; c++) {
                const int hd = hds[a], n = ns[b], nq = nqs[c], ks = hd * 3 + 1; /* odd row stride */
                ei_fp16 *K = malloc(sizeof *K * (size_t)n * ks), *V = malloc(sizeof *V * (size_t)n * ks);
                float *Q = malloc(sizeof *Q * (size_t)nq * hd), *S = malloc(sizeof *S * (size_t)nq * n);
                float *S2 = malloc(sizeof *S2 * (size_t)nq * n), *O = malloc(sizeof *O * (size_t)nq * hd);
                float *O2 = malloc(sizeof *O2 * (size_t)nq * hd);
                if (!K || !V || !Q || !S || !S2 || !O || !O2) {
                    CHECK(0, "oom");
                    free(K), free(V), free(Q), free(S), free(S2), free(O), free(O2);
                    continue;
                }
                for (int i = 0; i < n * ks; i++) K[i] = ei_fp32_to_fp16(frand() * 3), V[i] = ei_fp32_to_fp16(frand() * 3);
                for (int i = 0; i < nq * hd; i++) Q[i] = frand() * 2, O[i] = O2[i] = frand();
                const float scale = 0.125f;
                const int jn = n / 2, rn = nq / 2; /* splits: keys at n/2, queries at nq/2 */
                for (int kind = 0; kind < 2; kind++) {
                const ei_attn_scores_fn scores = kind ? k->attn_block_scores_f16 : k->attn_scores_f16;
                scores(K, (size_t)ks, n, Q, (size_t)hd, nq, hd, scale, S, (size_t)n);
                for (int r = 0; r < nq; r++)
                    for (int j = 0; j < n; j++) {
                        double want = 0, mag = 0;
                        for (int i = 0; i < hd; i++) {
                            double t = (double)ei_fp16_to_fp32(K[(size_t)j * ks + i]) * Q[r * hd + i];
                            want += t, mag += fabs(t);
                        }
                        want *= scale, mag *= scale;
                        CHECK(fabs(S[r * n + j] - want) <= 1e-5 * mag + 1e-30, "%s hd=%d n=%d nq=%d r=%d j=%d: %.9g vs %.9g",
                              kind ? "block scores" : "scores", hd, n, nq, r, j, S[r * n + j], want);
                    }
                /* the AVX-512 kernels and the AVX2 ones: the same operations lane for lane, the same bits */
                const ei_kernels *avx2 = ei_kernels_avx2();
                if (avx2 && scores != (kind ? avx2->attn_block_scores_f16 : avx2->attn_scores_f16) && strcmp(k->isa, "scalar") &&
                    hd % 16 == 0) {
                    (kind ? avx2->attn_block_scores_f16 : avx2->attn_scores_f16)(K, (size_t)ks, n, Q, (size_t)hd, nq, hd, scale, S2,
                                                                                  (size_t)n);
                    CHECK(memcmp(S, S2, sizeof *S * (size_t)nq * n) == 0, "%s differ from avx2's: hd=%d n=%d nq=%d",
                          kind ? "block scores" : "scores", hd, n, nq);
                }
                /* split keys and queries: bit-identical */
                scores(K, (size_t)ks, jn, Q, (size_t)hd, rn, hd, scale, S2, (size_t)n);
                scores(K + (size_t)jn * ks, (size_t)ks, n - jn, Q, (size_t)hd, rn, hd, scale, S2 + jn, (size_t)n);
                scores(K, (size_t)ks, n, Q + (size_t)rn * hd, (size_t)hd, nq - rn, hd, scale, S2 + (size_t)rn * n, (size_t)n);
                CHECK(memcmp(S, S2, sizeof *S * (size_t)nq * n) == 0, "%s split hd=%d n=%d nq=%d", kind ? "block scores" : "scores",
                      hd, n, nq);
                }
                /* values with S as the weights */
                k->attn_values_f16(V, (size_t)ks, n, S, (size_t)n, nq, hd, O, (size_t)hd);
                for (int r = 0; r < nq; r++)
                    for (int i = 0; i < hd; i++) {
                        double want = O2[r * hd + i], mag = fabs(want);
                        for (int j = 0; j < n; j++) {
                            double t = (double)S[r * n + j] * ei_fp16_to_fp32(V[(size_t)j * ks + i]);
                            want += t, mag += fabs(t);
                        }
                        CHECK(fabs(O[r * hd + i] - want) <= 1e-5 * mag + 1e-30, "values hd=%d n=%d nq=%d r=%d i=%d: %.9g vs %.9g",
                              hd, n, nq, r, i, O[r * hd + i], want);
                    }
                k->attn_values_f16(V, (size_t)ks, jn, S, (size_t)n, rn, hd, O2, (size_t)hd);
                k->attn_values_f16(V + (size_t)jn * ks, (size_t)ks, n - jn, S + jn, (size_t)n, rn, hd, O2, (size_t)hd);
                k->attn_values_f16(V, (size_t)ks, n, S + (size_t)rn * n, (size_t)n, nq - rn, hd, O2 + (size_t)rn * hd, (size_t)hd);
                CHECK(memcmp(O, O2, sizeof *O * (size_t)nq * hd) == 0, "values split hd=%d n=%d nq=%d", hd, n, nq);
                free(K), free(V), free(Q), free(S), free(S2), free(O), free(O2);
            }
    /* softmax: a float64 softmax to 2e-6 relative, exactly 0 for -inf, for every length up to 37 and
     * the max at every position (see below for how a wrong max shows). */
    for (int n = 1; n <= 37 && k->softmax; n++)
        for (int at = 0; at < n; at++) {
            float e[40], orig[40];
            /* odd at: entries spread over +-100 (accuracy); even at: every other entry more than
             * 100 below the max, so a max taken over part of the row overflows exp(x - max) */
            for (int i = 0; i < n; i++) e[i] = orig[i] = at % 2 ? frand() * 100.0f : frand() * 20.0f - 20.0f;
            e[at] = orig[at] = 100.5f;
            if (n > 4) e[(at + 1) % n] = orig[(at + 1) % n] = -INFINITY;
            double sum = 0, got_sum = 0;
            for (int i = 0; i < n; i++) sum += exp((double)(orig[i] - 100.5f)); /* the argument is a float difference */
            k->softmax(e, n);
            for (int i = 0; i < n; i++) {
                const double want = exp((double)(orig[i] - 100.5f)) / sum;
                got_sum += e[i];
                CHECK(fabs(e[i] - want) <= 2e-6 * want + 1e-37, "softmax n=%d max at %d, i=%d x=%g: %.9g vs %.9g", n, at, i,
                      orig[i], e[i], want);
                if (isinf(orig[i])) CHECK(e[i] == 0.0f, "softmax of -inf = %g", e[i]);
            }
            CHECK(fabs(got_sum - 1) <= 1e-5, "softmax n=%d sums to %.9g", n, got_sum);
        }
    /* round_f16: identical to the scalar conversion, for every length's tail */
    float x[37], y[37];
    for (int i = 0; i < 37; i++) x[i] = y[i] = frand() * 1000;
    x[3] = y[3] = 65519.0f, x[4] = y[4] = 1e-8f, x[5] = y[5] = -0.0f;
    k->round_f16(x, 37);
    for (int i = 0; i < 37; i++)
        CHECK(memcmp(&x[i], &(float){ei_fp16_to_fp32(ei_fp32_to_fp16(y[i]))}, 4) == 0, "round_f16 i=%d: %.9g from %.9g", i, x[i], y[i]);
    TEST_END(name);
}

/* ------------------------------------------------------------------ dispatch */

static void test_dispatch(void) {
    TEST_BEGIN();
    /* main() set EI_ISA=scalar before anything asked for the best table */
    const ei_kernels *best = ei_kernels_best();
    CHECK(best != NULL, "best");
    CHECK(best && strcmp(best->isa, "scalar") == 0, "EI_ISA=scalar honoured (got %s)",
          best ? best->isa : "null");
    CHECK(ei_kernels_best() == best, "stable");
    CHECK(ei_kernels_by_name("scalar") == ei_kernels_scalar(), "by name");
    CHECK(ei_kernels_by_name("nonsense") == NULL, "unknown name");
    CHECK(ei_kernels_by_name(NULL) == NULL, "null name");
    const ei_kernels *a2 = ei_kernels_avx2(), *a5 = ei_kernels_avx512();
    CHECK(!a2 || strcmp(a2->isa, "avx2") == 0, "avx2 name");
    CHECK(!a5 || strcmp(a5->isa, "avx512") == 0, "avx512 name");
    const ei_kernels *am = ei_kernels_amx();
    CHECK(!am || strcmp(am->isa, "amx") == 0, "amx name");
    TEST_END("kernels: dispatch (EI_ISA, by_name, getters)");
}

int main(void) {
    setenv("EI_ISA", "scalar", 1);
    test_dispatch();
    static const char *isas[] = {"scalar", "avx2", "avx512", "avx512-simde", "amx"};
    for (int i = 0; i < 5; i++) {
        const ei_kernels *k = ei_kernels_by_name(isas[i]);
        char name[64];
        snprintf(name, sizeof name, "kernels[%s]", isas[i]);
        if (i == 3) {
#if defined(HAVE_AVX512_SIMDE)
            static ei_kernels emu;
#if defined(AVX512_SIMDE_NEEDS_AVX2)
            if (!ei_kernels_avx2()) {
                SKIP("kernels[avx512-simde]: AVX-512 code under emulation", "built for AVX2, CPU lacks it");
                continue;
            }
#endif
            k = ei_kernels_avx512_simde();
            if (k) {
                emu = *k;
                emu.isa = "avx512-simde";
                k = &emu;
            }
#else
            SKIP("kernels[avx512-simde]: AVX-512 code under emulation", "SIMDe headers not installed");
            continue;
#endif
        }
        if (!k) {
            SKIP(name, "not available on this CPU/build");
            continue;
        }
        test_quantize_act(k);
        test_vec(k);
        test_attn(k);
        test_matmul(k);
    }
    CHECK_EXIT();
}

/* Micro-benchmark of the matmul kernels on the SmolLM2-135M shapes, per ISA.
 *   build: make build/kernels_bench      run: ./build/kernels_bench [isa...] [-t T] [-q] [--attn]
 * For each weight type and shape (N x K) it prints microseconds per matmul call and GOP/s
 * (2*N*K*T operations per call) for T=1 (decode) and T=128 (prefill), single thread.
 * "hot" repeats the call on one weight matrix (cache-resident); "cold" (T=1 only) cycles through
 * enough copies of the matrix (>= 96 MB) that the weights stream from DRAM as in real decoding.
 * --attn [--rows N] times the attention kernels instead, on one prefill block of the infinite path
 * (8 tokens x the 3 query heads of a KV group = 24 rows, against 2,432 f16 keys, head size 64).
 * Times are this thread's CPU time, so that a busy second core disturbs the figures less. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "types.h"

/* This thread's CPU time: another busy process on the machine changes it less than the wall clock. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    const char *what;
    int N, K;
} shape;

static const shape k_shapes[] = {
    {"attn_q/o", 576, 576}, {"attn_k/v", 192, 576}, {"ffn_gate/up", 1536, 576},
    {"ffn_down", 576, 1536}, {"output", 49152, 576},
};

/* Returns microseconds per call. */
static double run(const ei_kernels *k, int wt, const shape *s, int T, int cold) {
    const int at = ei_act_type(wt);
    const size_t ldw = ei_row_bytes(wt, s->K), ldx = ei_row_bytes(at, s->K);
    const size_t wbytes = ldw * (size_t)s->N;
    int copies = 1;
    if (cold) {
        copies = (int)((96u << 20) / wbytes) + 1;
        if (copies < 2) copies = 2;
    }
    uint8_t *W = malloc(wbytes * (size_t)copies);
    uint8_t *X = malloc(ldx * (size_t)T);
    float *row = malloc(sizeof(float) * (size_t)s->K);
    float *Y = malloc(sizeof(float) * (size_t)s->N * (size_t)T);
    if (!W || !X || !row || !Y) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int n = 0; n < s->N; n++) {
        for (int i = 0; i < s->K; i++) row[i] = frand();
        ei_quantize_row(wt, row, W + (size_t)n * ldw, s->K);
    }
    for (int c = 1; c < copies; c++) memcpy(W + (size_t)c * wbytes, W, wbytes);
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < s->K; i++) row[i] = frand() * 3;
        k->quantize_act[at](row, X + (size_t)t * ldx, s->K);
    }
    const ei_matmul_fn mm = k->matmul[wt];
    mm(s->K, W, ldw, 0, s->N, X, ldx, T, Y, (size_t)s->N); /* warm up */
    double best = 1e30;
    int c = 0;
    const double t_end = now() + 0.25;
    for (int rep = 0; rep < 3 || now() < t_end; rep++) {
        /* best of short batches: robust against the other core's noise */
        const int batch = 4;
        double t0 = now();
        for (int i = 0; i < batch; i++) {
            mm(s->K, W + (size_t)c * wbytes, ldw, 0, s->N, X, ldx, T, Y, (size_t)s->N);
            c = (c + 1) % copies;
        }
        double dt = (now() - t0) / batch;
        if (dt < best) best = dt;
        if (rep > 2000) break;
    }
    free(W), free(X), free(row), free(Y);
    return best * 1e6;
}

/* Best-of-batches microseconds per call of one attention kernel (what = 0 block scores, 1 values,
 * 2 softmax rows, 3 decode scores of 3 rows), in thread CPU time. */
static double run_attn(const ei_kernels *k, int what, int n, int nq, int hd, const ei_fp16 *KV, size_t ks, float *P,
                       float *O) {
    double best = 1e30;
    const double t_end = now() + 0.5;
    for (int rep = 0; rep < 5 || now() < t_end; rep++) {
        const double t0 = now();
        for (int b = 0; b < 4; b++) {
            if (what == 0) k->attn_block_scores_f16(KV, ks, n, O, (size_t)hd, nq, hd, 0.125f, P, (size_t)n);
            else if (what == 3) k->attn_scores_f16(KV, ks, n, O, (size_t)hd, 3, hd, 0.125f, P, (size_t)n);
            else if (what == 1) k->attn_values_f16(KV, ks, n, P, (size_t)n, nq, hd, O, (size_t)hd);
            else
                for (int r = 0; r < nq; r++) {
                    memcpy(P + (size_t)r * n, P + (size_t)(nq > 3 ? nq : 3) * n, sizeof *P * (size_t)n); /* the same raw row each time */
                    k->softmax(P + (size_t)r * n, n);
                }
        }
        const double dt = (now() - t0) / 4;
        if (dt < best) best = dt;
        if (rep > 5000) break;
    }
    return best * 1e6;
}

static int attn_bench(const char *const *isas, int n_isa, int nq) {
    const int n = 2432, hd = 64, G = 3;
    const size_t ks = (size_t)G * hd;
    ei_fp16 *KV = malloc(sizeof *KV * ks * (size_t)n);
    const int rows = nq > 3 ? nq : 3; /* the decode case scores 3 rows */
    float *P = malloc(sizeof *P * (size_t)(rows + 1) * n), *O = malloc(sizeof *O * (size_t)rows * hd);
    if (!KV || !P || !O) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < ks * (size_t)n; i++) KV[i] = ei_fp32_to_fp16(frand());
    for (int i = 0; i < rows * hd; i++) O[i] = frand();
    for (int i = 0; i < (rows + 1) * n; i++) P[i] = frand() / (float)n;
    printf("%-7s %-24s %6s %4s %4s | %10s %8s\n", "isa", "kernel", "keys", "rows", "hd", "us/call", "GFLOP/s");
    static const char *const names[] = {"attn_block_scores_f16", "attn_values_f16", "softmax rows", "attn_scores_f16 (decode)"};
    for (int ii = 0; ii < n_isa; ii++) {
        const ei_kernels *k = ei_kernels_by_name(isas[ii]);
        if (!k) {
            printf("%-7s not available on this CPU/build\n", isas[ii]);
            continue;
        }
        for (int what = 0; what < 4; what++) {
            const double us = run_attn(k, what, n, nq, hd, KV, ks, P, O);
            const int nr = what == 3 ? 3 : nq; /* decode: one token's 3 query heads */
            const double flop = what == 2 ? 0 : 2.0 * n * nr * hd;
            printf("%-7s %-24s %6d %4d %4d | %10.1f %8.1f\n", k->isa, names[what], n, nr, hd, us, flop / us * 1e-3);
            fflush(stdout);
        }
    }
    free(KV), free(P), free(O);
    return 0;
}

int main(int argc, char **argv) {
    const char *isas[8];
    int n_isa = 0, Tp = 128, quick = 0, attn = 0, rows = 24;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) Tp = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "--attn")) attn = 1;
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) attn = 1, rows = atoi(argv[++i]);
        else if (n_isa < 8) isas[n_isa++] = argv[i];
    }
    if (!n_isa) {
        static const char *all[] = {"scalar", "avx2", "avx512"};
        for (int i = 0; i < 3; i++) isas[n_isa++] = all[i];
    }
    if (attn && (rows < 1 || rows > 4096)) {
        fprintf(stderr, "kernels_bench: --rows must be 1..4096\n");
        return 2;
    }
    if (attn) return attn_bench(isas, n_isa, rows);
    const int wtypes[] = {EI_Q4_1, EI_Q8_0, EI_Q4_0, EI_F16, EI_F32, EI_BF16};
    const int n_wt = quick ? 2 : 6;
    char tl[32];
    snprintf(tl, sizeof tl, "T=%d us", Tp);
    printf("%-7s %-5s %-12s %6s %5s | %10s %8s | %10s %8s | %10s %8s\n", "isa", "type", "matrix", "N",
           "K", "T=1 hot us", "GOP/s", "T=1 cold", "GOP/s", tl, "GOP/s");
    for (int ii = 0; ii < n_isa; ii++) {
        const ei_kernels *k = ei_kernels_by_name(isas[ii]);
        if (!k) {
            printf("%-7s not available on this CPU/build\n", isas[ii]);
            continue;
        }
        for (int wi = 0; wi < n_wt; wi++) {
            const int wt = wtypes[wi];
            for (size_t si = 0; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
                const shape *s = &k_shapes[si];
                if (wt != EI_Q4_1 && wt != EI_Q8_0 && si == 4) continue; /* output is q8_0 */
                const double ops1 = 2.0 * s->N * s->K, opsT = ops1 * Tp;
                const double hot = run(k, wt, s, 1, 0);
                const double cold = run(k, wt, s, 1, 1);
                const int slow = !strcmp(k->isa, "scalar") && si == 4;
                const double pre = slow ? 0 : run(k, wt, s, Tp, 0);
                printf("%-7s %-5s %-12s %6d %5d | %10.1f %8.1f | %10.1f %8.1f | %10.1f %8.1f\n", k->isa,
                       ei_type_name(wt), s->what, s->N, s->K, hot, ops1 / hot * 1e-3, cold,
                       ops1 / cold * 1e-3, pre, pre > 0 ? opsT / pre * 1e-3 : 0.0);
                fflush(stdout);
            }
        }
    }
    return 0;
}

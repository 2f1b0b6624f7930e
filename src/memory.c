#include "memory.h"

#include <string.h>

int ei_memory_empty(const float *z, int d) {
    for (int i = 0; i < d; i++)
        if (z[i] != 0.0f) return 0;
    return 1;
}

/* The read for an already activated query sq = sigma(q): a weighted sum of the rows of M. */
static void read_activated(const ei_kernels *k, const float *M, const float *z, const float *sq, int d, float *out) {
    const float inv = 1.0f / (k->dot_f32(sq, z, d) + EI_MEMORY_EPS);
    memset(out, 0, (size_t)d * sizeof *out);
    for (int a = 0; a < d; a++) k->axpy_f32(sq[a] * inv, M + (size_t)a * d, out, d);
}

void ei_memory_retrieve(const ei_kernels *k, const float *M, const float *z, const float *q, int d, float *out,
                        float *sq) {
    for (int a = 0; a < d; a++) sq[a] = ei_sigma(q[a]);
    read_activated(k, M, z, sq, d, out);
}

void ei_memory_update(const ei_kernels *k, float *M, float *z, const float *K, int k_stride, const float *V, int v_stride, int n, int d,
                      int rule, float *scratch) {
    float *sk = scratch, *val = scratch + (size_t)n * d;
    for (int t = 0; t < n; t++)
        for (int a = 0; a < d; a++) sk[(size_t)t * d + a] = ei_sigma(K[(size_t)t * k_stride + a]);
    /* Delta rule: write only what memory does not already predict for each key. All n corrections
     * use M and z as they were before this write (a batch update); the first write is plain V. */
    const int delta = rule == EI_UPDATE_DELTA && !ei_memory_empty(z, d);
    for (int t = 0; t < n; t++) {
        const float *v = V + (size_t)t * v_stride;
        float *out = val + (size_t)t * d;
        if (delta) {
            read_activated(k, M, z, sk + (size_t)t * d, d, out);
            for (int i = 0; i < d; i++) out[i] = v[i] - out[i];
        } else {
            memcpy(out, v, (size_t)d * sizeof *out);
        }
    }
    for (int t = 0; t < n; t++) {
        const float *s = sk + (size_t)t * d, *v = val + (size_t)t * d;
        for (int a = 0; a < d; a++) k->axpy_f32(s[a], v, M + (size_t)a * d, d);
        k->axpy_f32(1.0f, s, z, d);
    }
}

/* The compressed-memory equations (src/memory.c) and the memory gate (src/gate.c) against float64
 * NumPy references: tests/data/memory_refs.bin, written by scripts/gen_memory_refs.py, whose
 * docstring gives the equations and the file layout. Cases:
 *   - sigma = ELU + 1 on values from -1e30 to 1e30 (denormal and zero exp results included);
 *   - retrieval sigma(q) M / (sigma(q) . z + eps) for d = 64, 16, 13, a nearly empty memory whose
 *     read depends on eps by a few percent, and an empty memory (read exactly 0);
 *   - linear and delta updates, several consecutive writes of 1, 16 and 256 tokens from an empty
 *     memory (delta: batch semantics, first write plain V), d = 13 and 64, keys and values passed
 *     with row strides larger than d whose padding is NaN;
 *   - GQA: 9 query heads reading 3 KV-head memories, query head h reading unit h / (H / G);
 *   - head-scalar and layer-mix gates (ei_gate_value, ei_gate_blend) and the constant gate.
 * Memory cases run with every kernel table this CPU has (scalar, avx2, avx512).
 *
 * Tolerance: max |ours - ref| / max |ref| over each output array (a query's read, M, z, a layer's
 * blended heads) must be <= 1e-5. The C code works in float32 (unit roundoff 6e-8) and each
 * output is a sum of at most a few hundred products (d <= 64 terms per read, <= 256 tokens per
 * write, a few writes), whose rounding error is typically sqrt(terms) ulps and at worst about
 * 'terms' ulps of the largest value; 1e-5 (~170 unit roundoffs) leaves room for that and for the
 * different summation orders of the SIMD kernels, while any wrong index, missing term, wrong eps or
 * wrong update semantics gives errors of 1e-2 or more (the self-check test shows several).
 * sigma values are compared element by element: |ours - ref| / max(|ref|, FLT_MIN) <= 1e-5
 * (FLT_MIN: exp results that are denormal in float32 are compared in absolute terms). Gate values
 * g = sigmoid(logit) allow a relative error of 1e-5 in the logit and in g itself:
 * |ours - ref| <= 1e-5 (ref (1 - ref) max(|logit|, 1) + ref) (gate_err: for a nearly closed gate,
 * g = 3e-4, a plain relative error of g is the absolute error of its logit, whose float32 sum of
 * up to 2Hd products carries a few ulps of the largest partial sum).
 *
 * A missing or malformed refs file is a FAIL with a message, never a crash: every size read from
 * the file is bounds-checked, and a self-check feeds the parser corrupted copies of the file. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gate.h"
#include "kernels/kernels.h"
#include "memory.h"

#define REFS "tests/data/memory_refs.bin"
#define TOL 1e-5
#define MAX_FILE (8u << 20)   /* bytes */
#define MAX_CASES 256u
#define MAX_ARRAYS 64u
#define MAX_DIM 1024u         /* d, heads (ei_gate_blend holds at most 1024 gate values) */
#define MAX_TOKENS 4096u
#define MAX_LAYERS 64u
#define MAX_WRITES 16u

enum { K_SIGMA = 1, K_RETRIEVE, K_UPDATE, K_GQA, K_GATE, K_GATE_CONST };

typedef struct {
    uint32_t n;
    float *x;
} farr;

typedef struct {
    uint32_t kind;
    char name[25];
    uint32_t p[4];
    uint32_t n_arr;
    farr *a;
} rcase;

typedef struct {
    uint32_t n;
    rcase *c;
} refset;

/* ------------------------------------------------------------------ parsing */

typedef struct {
    const unsigned char *p;
    size_t len, off;
} cursor;

static int take_u32(cursor *c, uint32_t *v) {
    if (c->len - c->off < 4) return -1;
    const unsigned char *b = c->p + c->off;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    c->off += 4;
    return 0;
}

static void refs_free(refset *r) {
    if (r->c) {
        for (uint32_t i = 0; i < r->n; i++) {
            if (r->c[i].a)
                for (uint32_t j = 0; j < r->c[i].n_arr; j++) free(r->c[i].a[j].x);
            free(r->c[i].a);
        }
        free(r->c);
    }
    r->c = NULL;
    r->n = 0;
}

/* Structure only (magic, version, counts within the file); sizes are checked by validate(). */
static int parse(const unsigned char *buf, size_t len, refset *out, char *err, size_t cap) {
    cursor c = {buf, len, 0};
    uint32_t ver, n;
    memset(out, 0, sizeof *out);
    if (len < 4 || memcmp(buf, "EIMR", 4) != 0) {
        snprintf(err, cap, "bad magic (want \"EIMR\")");
        return -1;
    }
    c.off = 4;
    if (take_u32(&c, &ver) || ver != 1) {
        snprintf(err, cap, "missing header or unsupported version (want 1)");
        return -1;
    }
    if (take_u32(&c, &n) || n == 0 || n > MAX_CASES) {
        snprintf(err, cap, "missing or implausible case count");
        return -1;
    }
    out->c = calloc(n, sizeof *out->c);
    if (!out->c) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    out->n = n;
    for (uint32_t i = 0; i < n; i++) {
        rcase *k = &out->c[i];
        if (take_u32(&c, &k->kind) || c.len - c.off < 24) {
            snprintf(err, cap, "case %u: truncated header at byte %zu", i, c.off);
            goto fail;
        }
        memcpy(k->name, c.p + c.off, 24);
        k->name[24] = 0;
        for (int j = 0; j < 24 && k->name[j]; j++)
            if (k->name[j] < 32 || k->name[j] > 126) k->name[j] = '?';
        c.off += 24;
        if (take_u32(&c, &k->p[0]) || take_u32(&c, &k->p[1]) || take_u32(&c, &k->p[2]) || take_u32(&c, &k->p[3]) ||
            take_u32(&c, &k->n_arr)) {
            snprintf(err, cap, "case %u: truncated header at byte %zu", i, c.off);
            goto fail;
        }
        if (k->n_arr == 0 || k->n_arr > MAX_ARRAYS) {
            snprintf(err, cap, "case %u (%s): implausible array count %u", i, k->name, k->n_arr);
            k->n_arr = 0;
            goto fail;
        }
        k->a = calloc(k->n_arr, sizeof *k->a);
        if (!k->a) {
            k->n_arr = 0;
            snprintf(err, cap, "out of memory");
            goto fail;
        }
        for (uint32_t j = 0; j < k->n_arr; j++) {
            uint32_t cnt;
            if (take_u32(&c, &cnt) || (uint64_t)cnt * 4 > c.len - c.off) {
                snprintf(err, cap, "case %u (%s): array %u: truncated or count too large at byte %zu", i, k->name, j, c.off);
                goto fail;
            }
            k->a[j].n = cnt;
            k->a[j].x = malloc(((size_t)cnt + 1) * sizeof(float));
            if (!k->a[j].x) {
                snprintf(err, cap, "out of memory");
                goto fail;
            }
            for (uint32_t e = 0; e < cnt; e++) {
                uint32_t u = 0;
                take_u32(&c, &u); /* cannot fail: checked above */
                memcpy(&k->a[j].x[e], &u, sizeof u);
            }
        }
    }
    if (c.off != c.len) {
        snprintf(err, cap, "%zu trailing bytes after the last case", c.len - c.off);
        goto fail;
    }
    return 0;
fail:
    refs_free(out);
    return -1;
}

static int dim_ok(uint32_t v, uint32_t max) { return v >= 1 && v <= max; }

/* Every array count the test will index must match the case's sizes. */
static int validate(const rcase *k, char *err, size_t cap) {
    const uint32_t *p = k->p;
#define WANT(j, cnt)                                                                                                   \
    do {                                                                                                               \
        if ((uint64_t)k->a[j].n != (uint64_t)(cnt)) {                                                                  \
            snprintf(err, cap, "%s: array %d has %u values, want %llu", k->name, (int)(j), k->a[j].n,                   \
                     (unsigned long long)(cnt));                                                                        \
            return -1;                                                                                                 \
        }                                                                                                              \
    } while (0)
#define NARR(want)                                                                                                     \
    do {                                                                                                               \
        if (k->n_arr != (uint32_t)(want)) {                                                                            \
            snprintf(err, cap, "%s: %u arrays, want %u", k->name, k->n_arr, (uint32_t)(want));                          \
            return -1;                                                                                                 \
        }                                                                                                              \
    } while (0)
#define BAD(...)                                                                                                       \
    do {                                                                                                               \
        snprintf(err, cap, __VA_ARGS__);                                                                               \
        return -1;                                                                                                     \
    } while (0)
    switch (k->kind) {
    case K_SIGMA:
        if (!dim_ok(p[0], 1u << 16)) BAD("%s: bad size %u", k->name, p[0]);
        NARR(2);
        WANT(0, p[0]);
        WANT(1, p[0]);
        return 0;
    case K_RETRIEVE: {
        const uint64_t d = p[0], nq = p[1];
        if (!dim_ok(p[0], MAX_DIM) || !dim_ok(p[1], MAX_TOKENS)) BAD("%s: bad d %u or nq %u", k->name, p[0], p[1]);
        NARR(4);
        WANT(0, d * d);
        WANT(1, d);
        WANT(2, nq * d);
        WANT(3, nq * d);
        return 0;
    }
    case K_UPDATE: {
        const uint64_t d = p[0];
        if (!dim_ok(p[0], MAX_DIM) || p[1] > 1 || !dim_ok(p[2], MAX_WRITES))
            BAD("%s: bad d %u, rule %u or writes %u", k->name, p[0], p[1], p[2]);
        NARR(4 * p[2]);
        for (uint32_t w = 0; w < p[2]; w++) {
            const uint32_t n = k->a[4 * w].n;
            if (n == 0 || n % d || n / d > MAX_TOKENS) BAD("%s: write %u: K has %u values, not n*%u", k->name, w, n, p[0]);
            WANT(4 * w + 1, n);
            if (k->a[4 * w + 2].n != 0) WANT(4 * w + 2, d * d);
            WANT(4 * w + 3, d);
        }
        return 0;
    }
    case K_GQA: {
        const uint64_t d = p[0], H = p[1], G = p[2], T = p[3];
        if (!dim_ok(p[0], MAX_DIM) || !dim_ok(p[1], MAX_DIM) || !dim_ok(p[2], p[1]) || p[1] % p[2] || !dim_ok(p[3], MAX_TOKENS))
            BAD("%s: bad d %u, H %u, G %u or T %u", k->name, p[0], p[1], p[2], p[3]);
        NARR(4);
        WANT(0, G * d * d);
        WANT(1, G * d);
        WANT(2, T * H * d);
        WANT(3, T * H * d);
        return 0;
    }
    case K_GATE: {
        const uint64_t L = p[1], H = p[2], hd = p[3];
        if (p[0] > 1 || !dim_ok(p[1], MAX_LAYERS) || !dim_ok(p[2], MAX_DIM) || !dim_ok(p[3], MAX_DIM))
            BAD("%s: bad type %u, layers %u, heads %u or head dim %u", k->name, p[0], p[1], p[2], p[3]);
        const uint64_t in_dim = p[0] ? 2 * H * hd : 2 * hd;
        NARR(6);
        WANT(0, L * H * in_dim);
        WANT(1, L * H);
        WANT(2, L * H * hd);
        WANT(3, L * H * hd);
        WANT(4, L * H);
        WANT(5, L * H * hd);
        return 0;
    }
    case K_GATE_CONST: {
        const uint64_t H = p[0], hd = p[1];
        if (!dim_ok(p[0], MAX_DIM) || !dim_ok(p[1], MAX_DIM)) BAD("%s: bad heads %u or head dim %u", k->name, p[0], p[1]);
        NARR(4);
        WANT(0, 1);
        WANT(1, H * hd);
        WANT(2, H * hd);
        WANT(3, H * hd);
        return 0;
    }
    default:
        BAD("case '%s': unknown kind %u", k->name, k->kind);
    }
#undef WANT
#undef NARR
#undef BAD
}

static int load_buffer(const unsigned char *buf, size_t len, refset *r, char *err, size_t cap) {
    if (parse(buf, len, r, err, cap)) return -1;
    for (uint32_t i = 0; i < r->n; i++)
        if (validate(&r->c[i], err, cap)) {
            refs_free(r);
            return -1;
        }
    return 0;
}

static unsigned char *read_file(const char *path, size_t *len, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "cannot open %s (run from the repository root; it is made by scripts/gen_memory_refs.py)", path);
        return NULL;
    }
    unsigned char *buf = malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    *len = fread(buf, 1, MAX_FILE + 1, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad || *len > MAX_FILE) {
        free(buf);
        snprintf(err, cap, bad ? "%s: read error" : "%s: larger than %u bytes", path, MAX_FILE);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------ comparisons */

/* max |a - b| / max |b| over n values (b all zero: max |a - b| / FLT_MIN, so the read of an empty
 * memory must be exactly zero); INFINITY when any a is NaN or infinite. */
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        const double e = fabs((double)a[i] - (double)b[i]);
        if (e > num) num = e;
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return num / (den > FLT_MIN ? den : FLT_MIN);
}

/* max over i of |a - b| / max(|b|, FLT_MIN), for values computed independently of each other. */
static double elem_err(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || (isinf(a[i]) && a[i] != b[i])) return INFINITY;
        if (a[i] == b[i]) continue;
        const double den = fabs((double)b[i]) > FLT_MIN ? fabs((double)b[i]) : FLT_MIN;
        const double e = fabs((double)a[i] - (double)b[i]) / den;
        if (e > worst) worst = e;
    }
    return worst;
}

/* Gate values g = sigmoid(logit), with the rounding of both steps: the logit (a dot product of up
 * to 2 H hd terms accumulated onto the bias) is good to a relative error, and the final float32
 * g to a relative error, so |g - ref| is bounded by e (ref (1 - ref) max(|logit|, 1) + ref).
 * Returns the worst e. (A plain relative error of g would grow with |logit| for nearly closed
 * gates: g ~ 3e-4 at logit -8, where every term added onto the bias -8 is rounded to ulp(8).) */
static double gate_err(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        const double r = b[i], logit = log(r) - log1p(-r);
        const double scale = r * (1.0 - r) * (fabs(logit) > 1 ? fabs(logit) : 1) + r;
        const double e = fabs((double)a[i] - r) / (scale > FLT_MIN ? scale : FLT_MIN);
        if (e > worst) worst = e;
    }
    return worst;
}

static double dmax(double a, double b) { return a > b || isnan(a) ? a : b; }

/* ------------------------------------------------------------------ cases */

static double run_sigma(const rcase *c) {
    const uint32_t n = c->p[0];
    float *y = malloc((size_t)n * sizeof *y);
    if (!y) return INFINITY;
    for (uint32_t i = 0; i < n; i++) y[i] = ei_sigma(c->a[0].x[i]);
    const double e = elem_err(y, c->a[1].x, n);
    free(y);
    return e;
}

static double run_retrieve(const ei_kernels *k, const rcase *c) {
    const int d = (int)c->p[0], nq = (int)c->p[1];
    const float *M = c->a[0].x, *z = c->a[1].x, *q = c->a[2].x, *want = c->a[3].x;
    float *out = malloc((size_t)d * sizeof *out), *sq = malloc((size_t)d * sizeof *sq);
    double e = out && sq ? 0 : INFINITY;
    for (int r = 0; out && sq && r < nq; r++) {
        for (int i = 0; i < d; i++) out[i] = NAN; /* every element must be written */
        ei_memory_retrieve(k, M, z, q + (size_t)r * d, d, out, sq);
        e = dmax(e, rel_err(out, want + (size_t)r * d, (size_t)d));
    }
    free(out);
    free(sq);
    return e;
}

enum { UPD_AS_IS, UPD_ONE_TOKEN_PER_CALL, UPD_OTHER_RULE }; /* the last two: self-check only */

/* Consecutive writes from an empty memory; keys and values are passed with row strides d + 3 and
 * d + 5 whose padding is NaN, so reading past a row would show. */
static double run_update(const ei_kernels *k, const rcase *c, int variant) {
    const int d = (int)c->p[0], ks = d + 3, vs = d + 5;
    int rule = c->p[1] ? EI_UPDATE_DELTA : EI_UPDATE_LINEAR;
    if (variant == UPD_OTHER_RULE) rule = rule == EI_UPDATE_DELTA ? EI_UPDATE_LINEAR : EI_UPDATE_DELTA;
    float *M = calloc((size_t)d * d, sizeof *M), *z = calloc((size_t)d, sizeof *z);
    double e = M && z ? 0 : INFINITY;
    if (M && z && variant == UPD_AS_IS) CHECK(ei_memory_empty(z, d) == 1, "%s: a zero z is not empty", c->name);
    for (uint32_t w = 0; M && z && w < c->p[2] && e != INFINITY; w++) {
        const farr *K = &c->a[4 * w], *V = &c->a[4 * w + 1], *Mw = &c->a[4 * w + 2], *zw = &c->a[4 * w + 3];
        const int n = (int)(K->n / (uint32_t)d);
        float *kp = malloc((size_t)n * ks * sizeof *kp), *vp = malloc((size_t)n * vs * sizeof *vp);
        float *scratch = malloc((size_t)2 * n * d * sizeof *scratch); /* exactly the documented size */
        if (!kp || !vp || !scratch) {
            e = INFINITY;
        } else {
            for (size_t i = 0; i < (size_t)n * ks; i++) kp[i] = NAN;
            for (size_t i = 0; i < (size_t)n * vs; i++) vp[i] = NAN;
            for (int t = 0; t < n; t++) {
                memcpy(kp + (size_t)t * ks, K->x + (size_t)t * d, (size_t)d * sizeof *kp);
                memcpy(vp + (size_t)t * vs, V->x + (size_t)t * d, (size_t)d * sizeof *vp);
            }
            if (variant == UPD_ONE_TOKEN_PER_CALL)
                for (int t = 0; t < n; t++)
                    ei_memory_update(k, M, z, kp + (size_t)t * ks, ks, vp + (size_t)t * vs, vs, 1, d, rule, scratch);
            else
                ei_memory_update(k, M, z, kp, ks, vp, vs, n, d, rule, scratch);
            if (Mw->n) e = dmax(e, rel_err(M, Mw->x, (size_t)d * d));
            e = dmax(e, rel_err(z, zw->x, (size_t)d));
            if (variant == UPD_AS_IS) CHECK(ei_memory_empty(z, d) == 0, "%s: written memory reported empty", c->name);
        }
        free(kp);
        free(vp);
        free(scratch);
    }
    free(M);
    free(z);
    return e;
}

/* Query head h reads KV-head memory h / (H / G), as forward.c; wrong_map (self-check) uses h % G. */
static double run_gqa(const ei_kernels *k, const rcase *c, int wrong_map) {
    const int d = (int)c->p[0], H = (int)c->p[1], G = (int)c->p[2], T = (int)c->p[3];
    const float *M = c->a[0].x, *z = c->a[1].x, *q = c->a[2].x, *want = c->a[3].x;
    float *out = malloc((size_t)d * sizeof *out), *sq = malloc((size_t)d * sizeof *sq);
    double e = out && sq ? 0 : INFINITY;
    for (int t = 0; out && sq && t < T; t++)
        for (int h = 0; h < H; h++) {
            const int unit = wrong_map ? h % G : h / (H / G);
            const size_t at = ((size_t)t * H + h) * d;
            for (int i = 0; i < d; i++) out[i] = NAN;
            ei_memory_retrieve(k, M + (size_t)unit * d * d, z + (size_t)unit * d, q + at, d, out, sq);
            e = dmax(e, rel_err(out, want + at, (size_t)d));
        }
    free(out);
    free(sq);
    return e;
}

/* Gate values (element by element) and the blend of every layer; eg, eo: worst errors of each. */
static void run_gate(const rcase *c, double *eg, double *eo) {
    const int L = (int)c->p[1], H = (int)c->p[2], hd = (int)c->p[3];
    ei_gate g;
    memset(&g, 0, sizeof g);
    g.type = c->p[0] ? EI_GATE_LAYER_MIX : EI_GATE_HEAD_SCALAR;
    g.n_layer = L;
    g.n_head = H;
    g.head_dim = hd;
    g.in_dim = c->p[0] ? 2 * H * hd : 2 * hd;
    g.w = c->a[0].x;
    g.b = c->a[1].x;
    const size_t HD = (size_t)H * hd;
    float *att = malloc(HD * sizeof *att), *gv = malloc((size_t)H * sizeof *gv);
    *eg = *eo = att && gv ? 0 : INFINITY;
    for (int l = 0; att && gv && l < L; l++) {
        const float *a_mem = c->a[2].x + l * HD, *a_loc = c->a[3].x + l * HD;
        for (int h = 0; h < H; h++) gv[h] = ei_gate_value(&g, l, h, a_mem, a_loc);
        *eg = dmax(*eg, gate_err(gv, c->a[4].x + (size_t)l * H, (size_t)H));
        memcpy(att, a_loc, HD * sizeof *att);
        ei_gate_blend(&g, 0.5f /* unused with a gate */, l, H, hd, a_mem, att);
        *eo = dmax(*eo, rel_err(att, c->a[5].x + l * HD, HD));
    }
    free(att);
    free(gv);
}

static double run_gate_const(const rcase *c) {
    const int H = (int)c->p[0], hd = (int)c->p[1];
    const size_t HD = (size_t)H * hd;
    float *att = malloc(HD * sizeof *att);
    if (!att) return INFINITY;
    memcpy(att, c->a[2].x, HD * sizeof *att);
    ei_gate_blend(NULL, c->a[0].x[0], 0, H, hd, c->a[1].x, att);
    const double e = rel_err(att, c->a[3].x, HD);
    free(att);
    return e;
}

/* ------------------------------------------------------------------ tests */

static const char *const ISA_NAMES[] = {"scalar", "avx2", "avx512"};
#define N_ISA 3
static const ei_kernels *g_isa[N_ISA];

static void test_kernel_case(const rcase *c) {
    char name[256];
    int at = snprintf(name, sizeof name, "memory: %s (max rel err", c->name);
    TEST_BEGIN();
    for (int i = 0; i < N_ISA; i++) {
        if (!g_isa[i]) continue;
        double e = INFINITY;
        if (c->kind == K_RETRIEVE) e = run_retrieve(g_isa[i], c);
        if (c->kind == K_UPDATE) e = run_update(g_isa[i], c, UPD_AS_IS);
        if (c->kind == K_GQA) e = run_gqa(g_isa[i], c, 0);
        CHECK(e <= TOL, "%s [%s]: max relative error %.3g > %g", c->name, ISA_NAMES[i], e, TOL);
        if (at > 0 && (size_t)at < sizeof name) at += snprintf(name + at, sizeof name - (size_t)at, " %s %.2g", ISA_NAMES[i], e);
    }
    if (at > 0 && (size_t)at < sizeof name) snprintf(name + at, sizeof name - (size_t)at, ")");
    TEST_END(name);
}

static void test_plain_case(const rcase *c) {
    char name[256];
    TEST_BEGIN();
    if (c->kind == K_GATE) {
        double eg, eo;
        run_gate(c, &eg, &eo);
        CHECK(eg <= TOL, "%s: gate values: max relative error %.3g > %g", c->name, eg, TOL);
        CHECK(eo <= TOL, "%s: blend: max relative error %.3g > %g", c->name, eo, TOL);
        snprintf(name, sizeof name, "memory: %s (max rel err: gate values %.2g, blend %.2g)", c->name, eg, eo);
    } else {
        const double e = c->kind == K_SIGMA ? run_sigma(c) : run_gate_const(c);
        CHECK(e <= TOL, "%s: max relative error %.3g > %g", c->name, e, TOL);
        if (c->kind == K_GATE_CONST && (c->a[0].x[0] == 0.0f || c->a[0].x[0] == 1.0f))
            CHECK(e == 0, "%s: a gate of exactly %g must give exactly the %s output", c->name, (double)c->a[0].x[0],
                  c->a[0].x[0] == 0.0f ? "local" : "memory");
        snprintf(name, sizeof name, "memory: %s (max rel err %.2g)", c->name, e);
    }
    TEST_END(name);
}

static const rcase *find_case(const refset *r, uint32_t kind, int p_index, uint32_t p_value) {
    for (uint32_t i = 0; i < r->n; i++)
        if (r->c[i].kind == kind && (p_index < 0 || r->c[i].p[p_index] == p_value)) return &r->c[i];
    return NULL;
}

/* The file holds every kind of case the test is meant to cover. */
static void test_coverage(const refset *r) {
    TEST_BEGIN();
    CHECK(find_case(r, K_SIGMA, -1, 0), "no sigma case");
    CHECK(find_case(r, K_RETRIEVE, 0, 64), "no retrieval case with d = 64");
    CHECK(find_case(r, K_UPDATE, 1, 0), "no linear update case");
    CHECK(find_case(r, K_UPDATE, 1, 1), "no delta update case");
    CHECK(find_case(r, K_GQA, -1, 0), "no GQA case");
    CHECK(find_case(r, K_GATE, 0, 0), "no head-scalar gate case");
    CHECK(find_case(r, K_GATE, 0, 1), "no layer-mix gate case");
    CHECK(find_case(r, K_GATE_CONST, -1, 0), "no constant gate case");
    TEST_END("memory refs: every kind of case present");
}

/* The comparisons can fail: a perturbed expected value, and deliberately wrong uses of the code
 * (delta written one token per call instead of as one batch, the other update rule, the wrong GQA
 * head mapping, a layer-mix blend that updates heads before all gates are computed) must all
 * exceed the tolerance. */
static void test_self_check(const refset *r) {
    const ei_kernels *k = ei_kernels_scalar();
    TEST_BEGIN();
    const rcase *c = find_case(r, K_RETRIEVE, 0, 64);
    if (c) {
        rcase bad = *c;
        farr arrs[4];
        memcpy(arrs, c->a, sizeof arrs);
        bad.a = arrs;
        const uint32_t n = c->a[3].n;
        float *want = malloc((size_t)n * sizeof *want);
        CHECK(want != NULL, "out of memory");
        if (want) {
            memcpy(want, c->a[3].x, (size_t)n * sizeof *want);
            float amax = 0;
            for (uint32_t i = 0; i < n; i++) amax = fabsf(want[i]) > amax ? fabsf(want[i]) : amax;
            want[n / 2] += 5.0f * (float)TOL * amax; /* five times the tolerance */
            arrs[3].x = want;
            const double e = run_retrieve(k, &bad);
            CHECK(e > TOL, "a perturbed expected value was not detected (error %.3g)", e);
            printf("  self-check: expected value perturbed by 5x the tolerance: error %.2g\n", e);
            free(want);
        }
    }
    for (uint32_t i = 0; i < r->n; i++) {
        const rcase *u = &r->c[i];
        if (u->kind != K_UPDATE) continue;
        const double e_rule = run_update(k, u, UPD_OTHER_RULE);
        CHECK(e_rule > TOL, "%s: the other update rule passed (error %.3g)", u->name, e_rule);
        printf("  self-check: %s with the other rule: error %.2g\n", u->name, e_rule);
        if (u->p[1] == 1) {
            const double e_seq = run_update(k, u, UPD_ONE_TOKEN_PER_CALL);
            CHECK(e_seq > TOL, "%s: token-by-token delta writes passed (error %.3g)", u->name, e_seq);
            printf("  self-check: %s one token per call (not a batch): error %.2g\n", u->name, e_seq);
        }
    }
    const rcase *q = find_case(r, K_GQA, -1, 0);
    if (q) {
        const double e = run_gqa(k, q, 1);
        CHECK(e > TOL, "GQA with head h reading unit h %% G passed (error %.3g)", e);
        printf("  self-check: GQA with unit h %% G instead of h / (H/G): error %.2g\n", e);
    }
    const rcase *gm = find_case(r, K_GATE, 0, 1);
    if (gm) { /* layer-mix, blended head by head: later heads' gates would see blended outputs */
        const int H = (int)gm->p[2], hd = (int)gm->p[3];
        const size_t HD = (size_t)H * hd;
        ei_gate g;
        memset(&g, 0, sizeof g);
        g.type = EI_GATE_LAYER_MIX;
        g.n_layer = (int)gm->p[1];
        g.n_head = H;
        g.head_dim = hd;
        g.in_dim = 2 * H * hd;
        g.w = gm->a[0].x;
        g.b = gm->a[1].x;
        float *att = malloc(HD * sizeof *att);
        CHECK(att != NULL, "out of memory");
        if (att) {
            memcpy(att, gm->a[3].x, HD * sizeof *att);
            for (int h = 0; h < H; h++) {
                const float gv = ei_gate_value(&g, 0, h, gm->a[2].x, att);
                for (int i = 0; i < hd; i++) {
                    float *o = att + (size_t)h * hd + i;
                    *o = gv * gm->a[2].x[(size_t)h * hd + i] + (1.0f - gv) * *o;
                }
            }
            const double e = rel_err(att, gm->a[5].x, HD);
            CHECK(e > TOL, "layer-mix blended head by head passed (error %.3g)", e);
            printf("  self-check: layer-mix gate blended head by head (gates read blended heads): error %.2g\n", e);
            free(att);
        }
    }
    TEST_END("memory refs: the checks detect a perturbed reference and wrong semantics");
}

static void put_u32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

/* Corrupted copies of the file are rejected with a message (and, under ASan, without a bad read). */
static void test_corrupt(const unsigned char *buf, size_t len) {
    char err[256];
    refset r;
    TEST_BEGIN();
    unsigned char *b = malloc(len + 1);
    CHECK(b != NULL, "out of memory");
    if (!b) {
        TEST_END("memory refs: corrupted files are rejected");
        return;
    }
    /* truncations: each is copied to an exactly sized buffer so ASan sees any read past its end */
    const size_t cuts[] = {0, 3, 4, 11, 12, 40, 59, 60, 63, len / 3, len / 2, len - 5, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (cuts[i] >= len) continue;
        unsigned char *t = malloc(cuts[i] ? cuts[i] : 1);
        CHECK(t != NULL, "out of memory");
        if (!t) continue;
        memcpy(t, buf, cuts[i]);
        const int rc = load_buffer(t, cuts[i], &r, err, sizeof err);
        CHECK(rc != 0, "file cut to %zu of %zu bytes was accepted", cuts[i], len);
        if (!rc) refs_free(&r);
        free(t);
    }
    memcpy(b, buf, len);
    b[len] = 0;
    const int rc_trail = load_buffer(b, len + 1, &r, err, sizeof err);
    CHECK(rc_trail != 0, "a trailing byte was accepted");
    if (!rc_trail) refs_free(&r);
    if (len >= 64) {
        struct {
            size_t off;
            uint32_t v;
            const char *what;
        } edits[] = {
            {0, 0x524D4945u ^ 1u, "bad magic"},
            {4, 2, "version 2"},
            {8, 0xFFFFFFFFu, "case count 2^32-1"},
            {12, 99, "unknown kind"},
            {40, 0, "size 0"},
            {40, 0xFFFFFFFFu, "size 2^32-1"},
            {56, 0xFFFFFFFFu, "array count 2^32-1"},
            {60, 0xFFFFFFFFu, "float count 2^32-1"},
            {60, 1, "float count 1"},
        };
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            memcpy(b, buf, len);
            if (edits[i].off == 0) {
                b[0] ^= 1; /* magic is 4 bytes, not a number */
            } else {
                put_u32(b + edits[i].off, edits[i].v);
            }
            const int rc = load_buffer(b, len, &r, err, sizeof err);
            CHECK(rc != 0, "corruption '%s' was accepted", edits[i].what);
            if (rc) printf("  self-check: corruption '%s' rejected: %s\n", edits[i].what, err);
            else refs_free(&r);
        }
    }
    CHECK(load_buffer(buf, len, &r, err, sizeof err) == 0, "the intact file was rejected: %s", err);
    refs_free(&r);
    free(b);
    TEST_END("memory refs: corrupted files are rejected");
}

int main(void) {
    char err[512];
    size_t len = 0;
    refset r;
    TEST_BEGIN();
    unsigned char *buf = read_file(REFS, &len, err, sizeof err);
    CHECK(buf != NULL, "%s", err);
    int loaded = buf && load_buffer(buf, len, &r, err, sizeof err) == 0;
    CHECK(!buf || loaded, "%s: %s", REFS, err);
    if (loaded) printf("  %s: %u cases, %zu bytes\n", REFS, r.n, len);
    TEST_END("memory refs: " REFS " loads");
    if (!loaded) {
        free(buf);
        CHECK_EXIT();
    }
    test_coverage(&r);
    test_corrupt(buf, len);
    free(buf);

    for (int i = 0; i < N_ISA; i++) {
        g_isa[i] = ei_kernels_by_name(ISA_NAMES[i]);
        if (!g_isa[i]) SKIP(i == 2 ? "memory: avx512 kernels" : "memory: avx2 kernels", "not available on this CPU/build");
    }
    for (uint32_t i = 0; i < r.n; i++) {
        const rcase *c = &r.c[i];
        if (c->kind == K_RETRIEVE || c->kind == K_UPDATE || c->kind == K_GQA)
            test_kernel_case(c);
        else
            test_plain_case(c);
    }
    test_self_check(&r);
    refs_free(&r);
    CHECK_EXIT();
}

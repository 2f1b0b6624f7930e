/* AMX int8 tiles for the quantized matrix products of prefill (Intel AMX-TILE + AMX-INT8).
 *
 * The "amx" kernel table is the AVX-512 one with the Q4_1, Q4_0 and Q8_0 matmuls replaced: for 16
 * tokens and 16 weight rows at a time, each 32-element block is one tile product
 *     C[token][row] = sum_k x[token][k] * w[row][k]          (int32, exact)
 * with the activations loaded straight from their Q8 rows (A tile: 16 tokens x 32 bytes) and the
 * weights unpacked once per row tile into the tile layout the instruction wants (B tile: 8 rows of
 * 16 weight rows x 4 consecutive k). The float part is AVX-512, one 16-lane vector per token (lanes
 * = weight rows):  y += float(C) * (d_w * d_x)  block after block, then (Q4_1) + sum_b m_w * s_x.
 * Every output goes through the same operations wherever its row and token sit in the tiles, so
 * splitting rows over threads changes nothing, and neither does the number of tokens in a call
 * (a partial token tile is computed on a zero-padded copy). One-token calls (decode: the weights
 * would be unpacked for a single use) and K > EI_AMX_MAX_K go to the AVX-512 VNNI kernels, which
 * round the block sums differently (per 8-lane partials).
 *
 * The OS must grant the tile state to the process (Linux: arch_prctl ARCH_REQ_XCOMP_PERM); without
 * it, or without the CPU features, ei_kernels_amx() returns NULL. */
#include "kernels/kernels.h"

/* GCC spells the feature macros __AMX_INT8__ / __AMX_TILE__, clang __AMXINT8__ / __AMXTILE__ */
#if defined(__x86_64__) && defined(__AVX512F__) && (defined(__AMX_INT8__) || defined(__AMXINT8__)) && \
    (defined(__AMX_TILE__) || defined(__AMXTILE__))

#include <immintrin.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EI_AMX_MAX_K 2048 /* weight unpack and activation scale buffers live on the stack */
#define TBLK 128          /* tokens per activation block (their scales are converted once) */

enum { A_Q41, A_Q40, A_Q80 };

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* tiles 0, 1: C (16 tokens x 16 int32); 2, 3: A (16 tokens x 32 bytes); 4, 5: B (8 x 64 bytes) */
static void load_tile_config(void) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 2; t++) c.rows[t] = 16, c.colsb[t] = 64;
    for (int t = 2; t < 4; t++) c.rows[t] = 16, c.colsb[t] = 32;
    for (int t = 4; t < 6; t++) c.rows[t] = 8, c.colsb[t] = 64;
    _tile_loadconfig(&c);
}

static float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* 32 quantized weights of one block as bytes in element order (Q4: low nibbles are elements 0..15,
 * high nibbles 16..31; Q4_0 values are q - 8, as signed bytes). */
static inline __m256i block_bytes(int kind, const uint8_t *blk) {
    if (kind == A_Q80) return _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(blk + (kind == A_Q41 ? 4 : 2))));
    q = _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
    return kind == A_Q40 ? _mm256_sub_epi8(q, _mm256_set1_epi8(8)) : q;
}

/* Unpacks rows [n, n + nv) (nv <= 16; missing rows are zero) of all nb blocks into the B-tile layout
 * wb[b][r][row][j] = w[row][4r + j] (512 bytes a block) and their scales dw[b][row], mw[b][row]. */
static void unpack_weights(int kind, const uint8_t *W, size_t ldw, int n, int nv, int nb, uint8_t *wb, float *dw, float *mw) {
    const size_t WB = kind == A_Q41 ? 20 : kind == A_Q40 ? 18 : 34;
    if (nv < 16) {
        memset(wb, 0, (size_t)nb * 512);
        memset(dw, 0, sizeof(float) * 16 * (size_t)nb);
        memset(mw, 0, sizeof(float) * 16 * (size_t)nb);
    }
    for (int row = 0; row < nv; row++) {
        const uint8_t *w = W + (size_t)(n + row) * ldw;
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = w + (size_t)b * WB;
            _Alignas(32) uint32_t q[8]; /* 4 consecutive weights a dword */
            _mm256_store_si256((__m256i *)(void *)q, block_bytes(kind, blk));
            uint32_t *dst = (uint32_t *)(void *)(wb + (size_t)b * 512) + row;
            for (int r = 0; r < 8; r++) dst[r * 16] = q[r];
            dw[b * 16 + row] = h2f(blk);
            if (kind == A_Q41) mw[b * 16 + row] = h2f(blk + 2);
        }
    }
}

/* One 16-token x 16-row output tile: xd[b][t], xs[b][t] are the activation scales (d, and d*sum for
 * Q8_1) of the tile's tokens; only the first tv tokens and nv rows are stored. */
static void tile_16x16(int kind, int nb, const uint8_t *X, size_t ldx, const uint8_t *wb, const float *dw, const float *mw,
                       const float *xd, const float *xs, float *Y, size_t ldy, int nv, int tv) {
    const size_t XB = kind == A_Q41 ? 36 : 34, XQ = kind == A_Q41 ? 4 : 2;
    _Alignas(64) int32_t cbuf[2][256];
    __m512 acc[16];
    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *xa = X + (size_t)b * XB + XQ, *wbb = wb + (size_t)b * 512;
        int32_t *cb = cbuf[b & 1];
        /* two sets of tiles, alternating, so one block's tile product overlaps the other's float work */
        if (b & 1) {
            _tile_loadd(3, xa, ldx);
            _tile_loadd(5, wbb, 64);
            _tile_zero(1);
            if (kind == A_Q41) _tile_dpbsud(1, 3, 5);
            else _tile_dpbssd(1, 3, 5);
            _tile_stored(1, cb, 64);
        } else {
            _tile_loadd(2, xa, ldx);
            _tile_loadd(4, wbb, 64);
            _tile_zero(0);
            if (kind == A_Q41) _tile_dpbsud(0, 2, 4);
            else _tile_dpbssd(0, 2, 4);
            _tile_stored(0, cb, 64);
        }
        const __m512 d = _mm512_loadu_ps(dw + (size_t)b * 16);
        for (int t = 0; t < 16; t++) {
            const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512((const void *)(cb + t * 16)));
            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(d, _mm512_set1_ps(xd[b * 16 + t])), acc[t]);
        }
    }
    const __mmask16 keep = (__mmask16)(0xffffu >> (16 - nv));
    if (kind != A_Q41) {
        for (int t = 0; t < tv; t++) _mm512_mask_storeu_ps(Y + (size_t)t * ldy, keep, acc[t]);
        return;
    }
    /* Q4_1: + sum over blocks of m_w * s_x, accumulated apart and added last */
    _Alignas(64) float part[16][16];
    for (int t = 0; t < 16; t++) _mm512_store_ps(part[t], acc[t]);
    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const __m512 m = _mm512_loadu_ps(mw + (size_t)b * 16);
        for (int t = 0; t < 16; t++) acc[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(xs[b * 16 + t]), acc[t]);
    }
    for (int t = 0; t < tv; t++) _mm512_mask_storeu_ps(Y + (size_t)t * ldy, keep, _mm512_add_ps(_mm512_load_ps(part[t]), acc[t]));
}

/* Calls of 2 or more tokens run on tiles (a last partial token tile reads a zero-padded copy of its
 * rows, so every token of such a call goes through the same operations); one-token calls (decode),
 * K > EI_AMX_MAX_K or a K that is not whole blocks go to the AVX-512 VNNI kernels. */
static void amx_matmul(int kind, int type, int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx, int T,
                       float *Y, size_t ldy) {
    const ei_kernels *vnni = ei_kernels_avx512();
    const int nb = K / EI_QK;
    const size_t XB = kind == A_Q41 ? 36 : 34;
    if (T < 2 || K > EI_AMX_MAX_K || K % EI_QK || n0 >= n1 || ldx < (size_t)nb * XB) {
        vnni->matmul[type](K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
        return;
    }
    _Alignas(64) uint8_t wb[EI_AMX_MAX_K / EI_QK * 512];
    _Alignas(64) float dw[EI_AMX_MAX_K / EI_QK * 16], mw[EI_AMX_MAX_K / EI_QK * 16];
    _Alignas(64) float xd[TBLK / 16][EI_AMX_MAX_K / EI_QK * 16], xs[TBLK / 16][EI_AMX_MAX_K / EI_QK * 16];
    _Alignas(64) uint8_t xpad[16 * EI_AMX_MAX_K / EI_QK * 36]; /* the last partial token tile, zero-padded */
    const size_t row_bytes = (size_t)nb * XB;
    load_tile_config();
    for (int tb = 0; tb < T; tb += TBLK) {
        const int te = T - tb < TBLK ? T : tb + TBLK, tiles = (te - tb + 15) / 16;
        /* activation scales of this block's tokens, [token tile][block][token]; 0 past the last */
        for (int i = 0; i < tiles; i++) memset(xd[i], 0, sizeof(float) * 16 * (size_t)nb), memset(xs[i], 0, sizeof(float) * 16 * (size_t)nb);
        for (int t = tb; t < te; t++) {
            const uint8_t *x = (const uint8_t *)X + (size_t)t * ldx;
            for (int b = 0; b < nb; b++) {
                xd[(t - tb) / 16][b * 16 + t % 16] = h2f(x + (size_t)b * XB);
                if (kind == A_Q41) xs[(t - tb) / 16][b * 16 + t % 16] = h2f(x + (size_t)b * XB + 2);
            }
        }
        const int last = tb + (tiles - 1) * 16, partial = te - last < 16;
        if (partial) {
            memset(xpad, 0, 16 * row_bytes);
            for (int t = last; t < te; t++) memcpy(xpad + (size_t)(t - last) * row_bytes, (const uint8_t *)X + (size_t)t * ldx, row_bytes);
        }
        for (int n = n0; n < n1; n += 16) {
            const int nv = n1 - n < 16 ? n1 - n : 16;
            unpack_weights(kind, W, ldw, n, nv, nb, wb, dw, mw);
            for (int t = tb; t < te; t += 16) {
                const int pad = partial && t == last;
                const uint8_t *xt = pad ? xpad : (const uint8_t *)X + (size_t)t * ldx;
                tile_16x16(kind, nb, xt, pad ? row_bytes : ldx, wb, dw, mw, xd[(t - tb) / 16], xs[(t - tb) / 16], Y + (size_t)t * ldy + n,
                           ldy, nv, te - t < 16 ? te - t : 16);
            }
        }
    }
    _tile_release();
}

static void matmul_q4_1(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx, int T, float *Y, size_t ldy) {
    amx_matmul(A_Q41, EI_Q4_1, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}
static void matmul_q4_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx, int T, float *Y, size_t ldy) {
    amx_matmul(A_Q40, EI_Q4_0, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}
static void matmul_q8_0(int K, const void *W, size_t ldw, int n0, int n1, const void *X, size_t ldx, int T, float *Y, size_t ldy) {
    amx_matmul(A_Q80, EI_Q8_0, K, W, ldw, n0, n1, X, ldx, T, Y, ldy);
}

/* CPU features (CPUID leaf 7: AMX-TILE, AMX-INT8), OS state (XCR0 tile bits) and the permission. */
static int amx_available(void) {
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    if (!(d & (1u << 24)) || !(d & (1u << 25))) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & (3u << 17)) != (3u << 17)) return 0; /* XTILECFG, XTILEDATA enabled by the OS */
#if defined(__linux__)
    /* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA: the tile data may be used by this process */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return 0;
#endif
    return 1;
}

static ei_kernels g_amx;
static int g_amx_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_amx(void) {
    const ei_kernels *base = ei_kernels_avx512();
    if (!base || !amx_available()) return;
    g_amx = *base;
    g_amx.isa = "amx";
    g_amx.matmul[EI_Q4_1] = matmul_q4_1;
    g_amx.matmul[EI_Q4_0] = matmul_q4_0;
    g_amx.matmul[EI_Q8_0] = matmul_q8_0;
    g_amx_ok = 1;
}

const ei_kernels *ei_kernels_amx(void) {
    pthread_once(&g_once, init_amx);
    return g_amx_ok ? &g_amx : NULL;
}

#else

const ei_kernels *ei_kernels_amx(void) { return NULL; }

#endif

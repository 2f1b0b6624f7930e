/* Tensor element types: traits, fp16/bf16 conversions and the reference (scalar) row
 * quantizers/dequantizers. The quantizers follow ggml's reference formulas exactly (same scale
 * computation, same rounding, fp16 scales) so that quantized bytes match llama.cpp bit for bit;
 * tests/test_types.c checks them against vectors produced by the gguf Python package. */
#include "types.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

static const ei_type_traits k_f32 = {"f32", 1, 4, 1};
static const ei_type_traits k_f16 = {"f16", 1, 2, 1};
static const ei_type_traits k_bf16 = {"bf16", 1, 2, 1};
static const ei_type_traits k_q4_0 = {"q4_0", EI_QK, sizeof(ei_block_q4_0), 1};
static const ei_type_traits k_q4_1 = {"q4_1", EI_QK, sizeof(ei_block_q4_1), 1};
static const ei_type_traits k_q8_0 = {"q8_0", EI_QK, sizeof(ei_block_q8_0), 1};
static const ei_type_traits k_q8_1 = {"q8_1", EI_QK, sizeof(ei_block_q8_1), 0}; /* activations only */

/* Layout checks: these sizes are the on-disk GGUF block sizes. */
_Static_assert(sizeof(ei_block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(ei_block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(ei_block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(ei_block_q8_1) == 36, "q8_1 block size");

const ei_type_traits *ei_type_info(int type) {
    switch (type) {
    case EI_F32: return &k_f32;
    case EI_F16: return &k_f16;
    case EI_BF16: return &k_bf16;
    case EI_Q4_0: return &k_q4_0;
    case EI_Q4_1: return &k_q4_1;
    case EI_Q8_0: return &k_q8_0;
    case EI_Q8_1: return &k_q8_1;
    default: return NULL;
    }
}

const char *ei_type_name(int type) {
    const ei_type_traits *t = ei_type_info(type);
    return t ? t->name : "unknown";
}

size_t ei_row_bytes(int type, int64_t n) {
    const ei_type_traits *t = ei_type_info(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * t->block_bytes;
}

ei_type ei_act_type(ei_type wtype) {
    switch (wtype) {
    case EI_Q4_0:
    case EI_Q8_0: return EI_Q8_0;
    case EI_Q4_1: return EI_Q8_1;
    default: return EI_F32;
    }
}

/* ---------------------------------------------------------------- fp16 / bf16 */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float ei_fp16_to_fp32(ei_fp16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13); /* inf / nan (payload kept) */
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        u = sign;
    } else {
        /* subnormal half: value = man * 2^-24, exact in fp32 */
        float v = (float)man * 5.9604644775390625e-08f;
        u = sign | f32_bits(v);
    }
    return bits_f32(u);
}

/* IEEE round to nearest even, like F16C's vcvtps2ph with rounding mode 0 and numpy's astype. */
ei_fp16 ei_fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) { /* nan: quiet, keep top payload bits */
        return (ei_fp16)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) { /* >= 65520 rounds to inf (also inf itself) */
        return (ei_fp16)(sign | 0x7c00u);
    }
    if (a >= 0x38800000u) { /* normal half range: >= 2^-14 */
        uint32_t mant_odd = (a >> 13) & 1u;
        a += 0xfffu + mant_odd;              /* round to nearest even on the 13 dropped bits */
        a -= 112u << 23;                     /* rebias exponent 127 -> 15 */
        return (ei_fp16)(sign | (a >> 13));
    }
    if (a < 0x33000000u) { /* < 2^-25: rounds to zero (2^-25 itself is a tie -> even = 0) */
        return (ei_fp16)sign;
    }
    /* subnormal half: value / 2^-24 rounded to nearest even integer */
    uint32_t e = a >> 23;                     /* 102..112 */
    uint32_t m = (a & 0x7fffffu) | 0x800000u; /* 24-bit significand */
    uint32_t shift = 126u - e;                /* value = m * 2^(e-150); want m * 2^(e-150+24) */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (ei_fp16)(sign | q);
}

float ei_bf16_to_fp32(ei_bf16 h) { return bits_f32((uint32_t)h << 16); }

ei_bf16 ei_fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ei_bf16)((u >> 16) | 64u); /* quiet nan */
    return (ei_bf16)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

/* ---------------------------------------------------------------- reference quantizers */

/* Q4 nibbles: value j in the low nibble of byte j, value j + 16 in the high one; q = trunc((x - min) * id
 * + offset), clamped to 15 (x - 0 is x exactly, so Q4_0 passes min = 0). Separate statements: never
 * contracted into an fma. */
static void pack_q4(const float *x, float min, float id, float offset, uint8_t *qs) {
    for (int j = 0; j < EI_QK / 2; j++) {
        const float x0 = (x[j] - min) * id;
        const float x1 = (x[j + EI_QK / 2] - min) * id;
        const float s0 = x0 + offset;
        const float s1 = x1 + offset;
        int q0 = (int)(int8_t)s0, q1 = (int)(int8_t)s1;
        if (q0 > 15) q0 = 15;
        if (q1 > 15) q1 = 15;
        qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static float block_absmax(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < EI_QK; j++) {
        const float v = fabsf(x[j]);
        amax = amax > v ? amax : v;
    }
    return amax;
}

static void quantize_q4_0(const float *x, ei_block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += EI_QK) {
        float amax = 0.0f, max = 0.0f; /* the value with the largest magnitude (first one wins) */
        for (int j = 0; j < EI_QK; j++) {
            float v = x[j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ei_fp32_to_fp16(d);
        pack_q4(x, 0.0f, id, 8.5f, y[i].qs);
    }
}

static void quantize_q4_1(const float *x, ei_block_q4_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += EI_QK) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < EI_QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ei_fp32_to_fp16(d);
        y[i].m = ei_fp32_to_fp16(min);
        pack_q4(x, min, id, 0.5f, y[i].qs);
    }
}

/* Q8_0 and Q8_1 blocks are an fp16 scale d, for Q8_1 an fp16 s = d * sum(q), then 32 int8 quants.
 * One loop serves two rounding conventions:
 * - reference (weights; ggml's quantize_row_q8_*_ref): q = roundf(x / d), half away from zero;
 * - activations as llama.cpp's CPU backend quantizes them on x86 (ggml-cpu quantize_row_q8_0 /
 *   quantize_row_q8_1, AVX/AVX2/AVX-512 builds): q = x * (127/amax) rounded half to even
 *   (_mm256_round_ps nearest). Matching it keeps our logits bit-comparable with llama.cpp's. */
static void quantize_q8(const float *x, uint8_t *y, int64_t nb, int with_sum, int act) {
    const size_t bs = with_sum ? sizeof(ei_block_q8_1) : sizeof(ei_block_q8_0);
    const size_t qo = with_sum ? offsetof(ei_block_q8_1, qs) : offsetof(ei_block_q8_0, qs);
    for (int64_t i = 0; i < nb; i++, x += EI_QK, y += bs) {
        const float amax = block_absmax(x);
        const float d = amax / 127.0f;
        float id;
        if (act) id = amax != 0.0f ? 127.0f / amax : 0.0f;
        else id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < EI_QK; j++) {
            const float v = x[j] * id;
            /* nearbyintf rounds in the default mode, half to even */
            const int8_t q = (int8_t)(act ? nearbyintf(v) : roundf(v));
            memcpy(y + qo + j, &q, 1);
            sum += q;
        }
        const ei_fp16 dh = ei_fp32_to_fp16(d);
        memcpy(y, &dh, 2);
        if (with_sum) {
            const ei_fp16 sh = ei_fp32_to_fp16(d * (float)sum);
            memcpy(y + 2, &sh, 2);
        }
    }
}

static void dequantize_q8(const uint8_t *b, float *dst, int64_t nb, int with_sum) {
    const size_t bs = with_sum ? sizeof(ei_block_q8_1) : sizeof(ei_block_q8_0);
    const size_t qo = with_sum ? offsetof(ei_block_q8_1, qs) : offsetof(ei_block_q8_0, qs);
    for (int64_t i = 0; i < nb; i++, b += bs, dst += EI_QK) {
        ei_fp16 dh;
        memcpy(&dh, b, 2);
        const float d = ei_fp16_to_fp32(dh);
        for (int j = 0; j < EI_QK; j++) {
            int8_t q;
            memcpy(&q, b + qo + j, 1);
            dst[j] = (float)q * d;
        }
    }
}

int ei_quantize_row_act(int type, const float *src, void *dst, int64_t n) {
    if ((type == EI_Q8_0 || type == EI_Q8_1) && n >= 0 && n % EI_QK == 0) {
        quantize_q8(src, dst, n / EI_QK, type == EI_Q8_1, 1);
        return 0;
    }
    return ei_quantize_row(type, src, dst, n);
}

int ei_quantize_row(int type, const float *src, void *dst, int64_t n) {
    const ei_type_traits *t = ei_type_info(type);
    if (!t || n < 0 || n % t->block_size != 0) return -1;
    const int64_t nb = n / t->block_size;
    switch (type) {
    case EI_F32: memmove(dst, src, (size_t)n * sizeof(float)); return 0;
    case EI_F16: {
        ei_fp16 *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = ei_fp32_to_fp16(src[i]);
        return 0;
    }
    case EI_BF16: {
        ei_bf16 *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = ei_fp32_to_bf16(src[i]);
        return 0;
    }
    case EI_Q4_0: quantize_q4_0(src, dst, nb); return 0;
    case EI_Q4_1: quantize_q4_1(src, dst, nb); return 0;
    case EI_Q8_0: quantize_q8(src, dst, nb, 0, 0); return 0;
    case EI_Q8_1: quantize_q8(src, dst, nb, 1, 0); return 0;
    default: return -1;
    }
}

int ei_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const ei_type_traits *t = ei_type_info(type);
    if (!t || n < 0 || n % t->block_size != 0) return -1;
    const int64_t nb = n / t->block_size;
    switch (type) {
    case EI_F32: memmove(dst, src, (size_t)n * sizeof(float)); return 0;
    case EI_F16: {
        const ei_fp16 *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ei_fp16_to_fp32(h[i]);
        return 0;
    }
    case EI_BF16: {
        const ei_bf16 *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ei_bf16_to_fp32(h[i]);
        return 0;
    }
    case EI_Q4_0: {
        const ei_block_q4_0 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += EI_QK) {
            const float d = ei_fp16_to_fp32(b[i].d);
            for (int j = 0; j < EI_QK / 2; j++) {
                dst[j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
                dst[j + EI_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        return 0;
    }
    case EI_Q4_1: {
        const ei_block_q4_1 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += EI_QK) {
            const float d = ei_fp16_to_fp32(b[i].d), m = ei_fp16_to_fp32(b[i].m);
            for (int j = 0; j < EI_QK / 2; j++) {
                const float p0 = (float)(b[i].qs[j] & 0x0f) * d;
                const float p1 = (float)(b[i].qs[j] >> 4) * d;
                dst[j] = p0 + m;
                dst[j + EI_QK / 2] = p1 + m;
            }
        }
        return 0;
    }
    case EI_Q8_0: dequantize_q8(src, dst, nb, 0); return 0;
    case EI_Q8_1: dequantize_q8(src, dst, nb, 1); return 0;
    default: return -1;
    }
}

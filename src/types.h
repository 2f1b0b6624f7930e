/* Tensor element types: the GGUF/ggml type ids this engine reads, their block layouts,
 * conversion to and from fp32 (portable scalar reference code), and which activation format
 * each weight type's dot product consumes. */
#ifndef EI_TYPES_H
#define EI_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Values are the ggml type ids stored in GGUF files. */
typedef enum {
    EI_F32 = 0,
    EI_F16 = 1,
    EI_Q4_0 = 2,
    EI_Q4_1 = 3,
    EI_Q8_0 = 8,
    EI_Q8_1 = 9,   /* activation-only format: the partner of Q4_1 */
    EI_BF16 = 30,
    EI_TYPE_MAX = 40 /* upper bound for tables indexed by type */
} ei_type;

/* Block layouts, bit-identical to ggml's. */
#define EI_QK 32
typedef uint16_t ei_fp16;
typedef uint16_t ei_bf16;
typedef struct { ei_fp16 d; uint8_t qs[EI_QK / 2]; } ei_block_q4_0;            /* x = d*(q-8) */
typedef struct { ei_fp16 d, m; uint8_t qs[EI_QK / 2]; } ei_block_q4_1;         /* x = d*q + m */
typedef struct { ei_fp16 d; int8_t qs[EI_QK]; } ei_block_q8_0;                 /* x = d*q */
typedef struct { ei_fp16 d, s; int8_t qs[EI_QK]; } ei_block_q8_1;              /* s = d*sum(q) */
/* Nibble order (ggml): byte j holds element j in its low nibble and element j+16 in its high. */

typedef struct {
    const char *name;      /* "q4_1" ... */
    int block_size;        /* elements per block (1 for float types) */
    size_t block_bytes;    /* bytes per block */
    int supported;         /* 1 when this engine can use it as a weight type */
} ei_type_traits;

/* NULL for ids this engine does not know. */
const ei_type_traits *ei_type_info(int type);
const char *ei_type_name(int type); /* "unknown" for unknown ids */

/* Bytes of a row of n elements; 0 when n is not a multiple of the block size or type unknown. */
size_t ei_row_bytes(int type, int64_t n);

/* The activation format the matmul kernel for weight type `wtype` consumes:
 * Q4_0, Q8_0 -> Q8_0; Q4_1 -> Q8_1; F32, F16, BF16 -> F32. */
ei_type ei_act_type(ei_type wtype);

/* fp16 / bf16 scalar conversions (IEEE half, round to nearest even; bf16 rounds to nearest even,
 * NaN kept quiet). */
float ei_fp16_to_fp32(ei_fp16 h);
ei_fp16 ei_fp32_to_fp16(float f);
float ei_bf16_to_fp32(ei_bf16 h);
ei_bf16 ei_fp32_to_bf16(float f);

/* Reference (scalar) conversions of one row of n elements, n a multiple of the block size.
 * dequantize works for every supported weight type and Q8_1; quantize for every supported type
 * and Q8_1, with ggml's rounding rules so results match llama.cpp. Return 0, or -1 on a bad type/n. */
int ei_dequantize_row(int type, const void *src, float *dst, int64_t n);
int ei_quantize_row(int type, const float *src, void *dst, int64_t n);

/* The activation quantizer: Q8_0 / Q8_1 exactly as llama.cpp's CPU backend quantizes activations
 * on x86 (ggml-cpu quantize_row_q8_0/_q8_1 of AVX/AVX2/AVX-512 builds): d = amax/127 (fp16),
 * q = round-half-to-even(x * (127/amax)), Q8_1 s = fp16(d * sum(q)). It differs from the
 * reference quantizer above (roundf, x * (1/d)) in roughly one value per thousand. Every kernel
 * table's quantize_act computes exactly this, bit for bit. Other types: as ei_quantize_row. */
int ei_quantize_row_act(int type, const float *src, void *dst, int64_t n);

#endif

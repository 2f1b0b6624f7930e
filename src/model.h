/* The model definition: hyper-parameters from GGUF metadata and views of the weight tensors
 * inside the memory-mapped file. Shared by the forward pass and the public API. */
#ifndef EI_MODEL_H
#define EI_MODEL_H

#include "edgeinf.h"
#include "gguf.h"
#include "kernels/kernels.h"
#include "tokenizer.h"

/* A weight matrix of `rows` rows of `cols` elements (GGUF ne0 = cols), or a vector (rows = 1). */
typedef struct {
    const void *data;
    int type;
    int rows, cols;
    size_t row_bytes;
} ei_weight;

typedef struct {
    ei_weight attn_norm, ffn_norm;          /* f32 vectors */
    ei_weight wq, wk, wv, wo;
    ei_weight bq, bk, bv;                   /* qwen2 biases (data NULL when absent) */
    ei_weight w_gate, w_up, w_down;
} ei_layer;

struct ei_model {
    gguf_file *file;
    ei_tokenizer *tok;
    const ei_kernels *kern;
    ei_model_info info;
    ei_weight tok_embd, output_norm, output;
    ei_layer *layers;
    int32_t eot_id;      /* end-of-turn token (<|im_end|>), -1 when none */
    int chat_chatml;     /* the GGUF chat template is ChatML */
};

#endif

/* Conversion of a llama2.c checkpoint (legacy format v0: 7 int32 header, fp32 weights) and its
 * tokenizer.bin into a GGUF file the engine loads like any other (arch "llama", SentencePiece vocab). */
#ifndef EI_LLAMA2C_H
#define EI_LLAMA2C_H
#include <stddef.h>
int ei_llama2c_to_gguf(const char *ckpt_path, const char *tok_path, const char *out_path, char *err, size_t errlen);
#endif

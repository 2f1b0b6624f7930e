/* Tokenizers read from GGUF metadata:
 *  - "gpt2": byte-level BPE (merges by rank) with the pre-tokenizer named by tokenizer.ggml.pre
 *    ("smollm": individual digits + GPT-2 regex; "default"/"gpt2": GPT-2 regex);
 *  - "llama": SentencePiece-style BPE (merge by highest score) with <0xXX> byte fallback and the
 *    leading-space prefix of tokenizer.ggml.add_space_prefix.
 * Special (control / user-defined) tokens are matched as whole strings when parse_special is set. */
#ifndef EI_TOKENIZER_H
#define EI_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "gguf.h"

typedef struct ei_tokenizer ei_tokenizer;

/* NULL on failure with a one-line message in err. Copies what it needs: the gguf_file may be
 * closed afterwards. */
ei_tokenizer *ei_tokenizer_load(const gguf_file *f, char *err, size_t errlen);
void ei_tokenizer_free(ei_tokenizer *t);

int ei_tokenizer_vocab_size(const ei_tokenizer *t);
int32_t ei_tokenizer_bos(const ei_tokenizer *t);   /* -1 when none */
int32_t ei_tokenizer_eos(const ei_tokenizer *t);   /* -1 when none */
int ei_tokenizer_add_bos(const ei_tokenizer *t);    /* tokenizer.ggml.add_bos_token (default: 1 for llama, 0 for gpt2) */
/* Token id of an exact special-token string such as "<|im_end|>", or -1. */
int32_t ei_tokenizer_find(const ei_tokenizer *t, const char *text);
/* 1 for control tokens (token_type 3) and end-of-generation tokens. */
int ei_tokenizer_is_control(const ei_tokenizer *t, int32_t id);
/* The token's string as stored in the vocabulary (NUL-terminated), NULL on a bad id. */
const char *ei_tokenizer_token_text(const ei_tokenizer *t, int32_t id);

/* Encode `len` bytes of UTF-8 text. Writes at most `cap` ids into out and returns the total number
 * of ids the text needs (which may exceed cap: call again with a larger buffer), or -1 when the text
 * is not valid UTF-8 (err says at which byte offset). add_bos prepends BOS when the vocab has one. */
int64_t ei_tokenizer_encode(const ei_tokenizer *t, const char *text, size_t len, int add_bos,
                            int parse_special, int32_t *out, int64_t cap, char *err, size_t errlen);

/* Raw bytes of one token (byte-level decoding / SentencePiece '▁' -> ' ' / <0xXX> -> byte).
 * Returns the number of bytes (may exceed cap; nothing beyond cap is written), -1 on a bad id.
 * Control tokens decode to their text only when render_special is set, else to nothing. */
int ei_tokenizer_piece(const ei_tokenizer *t, int32_t id, int render_special, char *buf, int cap);

/* Streaming detokenizer: feeds tokens, emits only complete UTF-8 sequences; a sequence split
 * across tokens is held back until it completes. For SentencePiece vocabs the space that
 * add_space_prefix put in front of the first word is dropped. */
typedef struct {
    const ei_tokenizer *tok;
    unsigned char pending[8];
    int npending;
    int at_start;       /* nothing emitted yet */
    int render_special;
} ei_detok;
void ei_detok_init(ei_detok *d, const ei_tokenizer *t, int render_special);
/* Appends the text of `id` to out (cap bytes); returns bytes written, -1 on a bad id or if cap is
 * too small (then nothing is consumed). cap >= ei_detok_max_out(t) is always enough: that is 256 or
 * less for vocabs whose longest token is under ~80 bytes (SmolLM2: 90, tok512: 18). */
int ei_detok_push(ei_detok *d, int32_t id, char *out, int cap);
/* An output capacity that is always enough for one ei_detok_push / ei_detok_flush of this vocab. */
int ei_detok_max_out(const ei_tokenizer *t);
/* Flushes held-back bytes of an incomplete sequence as U+FFFD replacement characters. */
int ei_detok_flush(ei_detok *d, char *out, int cap);

#endif

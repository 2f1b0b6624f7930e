/* SHA-256, to identify model and gate files in run records. */
#ifndef EI_EVAL_SHA256_H
#define EI_EVAL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t h[8]; uint64_t bytes; unsigned char buf[64]; size_t fill; } sha256_ctx;
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_hex(sha256_ctx *c, char out[65]); /* finishes the hash */
int sha256_file(const char *path, char out[65]); /* -1 when the file cannot be read */

#endif

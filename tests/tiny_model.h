/* The tiny llama2.c model the tests run on when no real model is needed: stories260K from
 * ../shared/models, converted to a temporary GGUF and loaded. */
#ifndef EI_TINY_MODEL_H
#define EI_TINY_MODEL_H
#include <stdio.h>
#include <unistd.h>

#include "edgeinf.h"

#define CKPT "../shared/models/stories260K/stories260K.bin"
#define TOK "../shared/models/stories260K/tok512.bin"

static int tiny_model_present(void) { return !access(CKPT, R_OK) && !access(TOK, R_OK); }

/* NULL when the conversion or the load fails (ei_last_error says why); the temporary file is
 * removed either way (the loaded model does not need it). */
static ei_model *tiny_model_load(void) {
    char gguf[] = "/tmp/ei_tiny_XXXXXX";
    const int fd = mkstemp(gguf);
    if (fd < 0) return NULL;
    close(fd);
    ei_model *m = ei_convert_llama2c(CKPT, TOK, gguf) == 0 ? ei_model_load(gguf) : NULL;
    unlink(gguf);
    return m;
}

#endif

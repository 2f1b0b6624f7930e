/* The models the tests run on: the tiny llama2.c model stories260K from ../shared/models (converted
 * to a temporary GGUF and loaded) when no real model is needed, and SmolLM2 from models/ (make
 * model) when one is. */
#ifndef EI_TINY_MODEL_H
#define EI_TINY_MODEL_H
#include <stdio.h>
#include <unistd.h>

#include "check.h"
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

#define SMOL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

/* Starts test `name` on SmolLM2: NULL after a SKIP line when models/ lacks it, or after the test's
 * FAIL line when it does not load; else the model, and the test is open (TEST_END it). */
static inline ei_model *smol_begin(const char *name) {
    if (access(SMOL, R_OK)) {
        SKIP(name, "%s is absent (make model)", SMOL);
        return NULL;
    }
    TEST_BEGIN();
    ei_model *m = ei_model_load(SMOL);
    CHECK(m != NULL, "load: %s", ei_last_error());
    if (!m) TEST_END(name);
    return m;
}

#endif

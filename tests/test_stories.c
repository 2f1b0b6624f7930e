/* The tiny real model stories260K (llama2.c checkpoint, converted to GGUF by the project's own
 * converter): greedy generation from BOS must reproduce the text the llama2.c project documents for
 * `run stories260K.bin -z tok512.bin -t 0.0` (200 steps), and the result must not depend on the
 * thread count or the prefill chunk size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edgeinf.h"

#define CKPT "../shared/models/stories260K/stories260K.bin"
#define TOK "../shared/models/stories260K/tok512.bin"

static const char *expected =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, "
    "red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was "
    "sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\nLily was sad and "
    "didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\nLily didn't want to help her mom, so she";

/* Greedy generation of n tokens after BOS; writes ids, returns the text (caller frees). */
static char *generate(ei_model *m, int threads, int chunk, ei_kv_type kv, int n, int32_t *ids) {
    ei_session_params p = ei_session_default_params();
    p.n_threads = threads;
    p.n_chunk = chunk;
    p.kv_type = kv;
    ei_session *s = ei_session_new(m, &p);
    ei_sampler_params sp = ei_sampler_default_params();
    sp.temperature = 0;
    ei_sampler *smp = ei_sampler_new(&sp, ei_model_get_info(m)->n_vocab);
    ei_text_stream *ts = ei_text_stream_new(m, 0);
    char *text = calloc(1, 65536);
    size_t len = 0;
    int32_t tok = ei_token_bos(m);
    for (int i = 0; s && smp && ts && text && i < n; i++) {
        if (ei_session_eval(s, &tok, 1, NULL, NULL, NULL)) break;
        tok = ei_sampler_sample(smp, ei_session_logits(s));
        ids[i] = tok;
        char piece[256];
        int k = ei_text_stream_push(ts, tok, piece, sizeof piece);
        if (k > 0 && len + (size_t)k < 65535) { memcpy(text + len, piece, (size_t)k); len += (size_t)k; }
    }
    ei_text_stream_free(ts);
    ei_sampler_free(smp);
    ei_session_free(s);
    return text;
}

int main(void) {
    if (access(CKPT, R_OK) || access(TOK, R_OK)) {
        SKIP("stories260K", "../shared/models/stories260K is absent");
        return 0;
    }
    char gguf[] = "/tmp/ei_stories_XXXXXX";
    int fd = mkstemp(gguf);
    if (fd >= 0) close(fd);
    TEST_BEGIN();
    CHECK(ei_convert_llama2c(CKPT, TOK, gguf) == 0, "convert: %s", ei_last_error());
    ei_model *m = ei_model_load(gguf);
    CHECK(m != NULL, "load: %s", ei_last_error());
    TEST_END("stories260K converts to GGUF and loads");
    if (!m) { remove(gguf); CHECK_EXIT(); }

    enum { N = 200 }; /* llama2.c emits one token per step: 200 steps, 200 tokens */
    int32_t ref[N], ids[N];
    TEST_BEGIN();
    char *text = generate(m, 1, 16, EI_KV_F32, N, ref);
    CHECK(text && strcmp(text, expected) == 0, "greedy text differs:\n---\n%s\n---", text ? text : "(null)");
    free(text);
    TEST_END("stories260K greedy generation matches llama2.c's reference text");

    TEST_BEGIN();
    text = generate(m, 2, 16, EI_KV_F32, N, ids);
    CHECK(memcmp(ids, ref, sizeof ids) == 0, "2 threads differ from 1 thread");
    free(text);
    text = generate(m, 2, 16, EI_KV_F16, N, ids);
    CHECK(text && strcmp(text, expected) == 0, "f16 KV cache changes the greedy text");
    free(text);
    TEST_END("stories260K identical for 1 and 2 threads, f32 and f16 KV");

    /* Prefill of the whole sequence in chunks must give the logits of token-by-token decoding. */
    TEST_BEGIN();
    int V = ei_model_get_info(m)->n_vocab;
    int32_t seq[N + 1];
    seq[0] = ei_token_bos(m);
    memcpy(seq + 1, ref, sizeof ref);
    float *one = malloc(sizeof(float) * (size_t)V * (N + 1)), *chunked = malloc(sizeof(float) * (size_t)V * (N + 1));
    int chunks[3] = {1, 7, 64};
    for (int c = 0; c < 3 && one && chunked; c++) {
        ei_session_params p = ei_session_default_params();
        p.n_chunk = chunks[c];
        p.kv_type = EI_KV_F32;
        p.n_threads = 2;
        ei_session *s = ei_session_new(m, &p);
        CHECK(s && ei_session_eval(s, seq, N + 1, c == 0 ? one : chunked, NULL, NULL) == 0, "eval");
        ei_session_free(s);
        if (c == 0) continue;
        float maxd = 0;
        for (size_t i = 0; i < (size_t)V * (N + 1); i++) maxd = fmaxf(maxd, fabsf(one[i] - chunked[i]));
        CHECK(maxd < 1e-3f, "chunk %d: max |logit diff| %g vs chunk 1", chunks[c], (double)maxd);
    }
    free(one);
    free(chunked);
    TEST_END("stories260K chunked prefill equals token-by-token logits");

    TEST_BEGIN();
    ei_session_params p = ei_session_default_params();
    ei_session *s = ei_session_new(m, &p);
    int32_t bad = V;
    CHECK(s && ei_session_eval(s, &bad, 1, NULL, NULL, NULL) == -1 && strstr(ei_last_error(), "outside the vocabulary"),
          "bad token id accepted");
    int32_t *many = calloc(600, sizeof *many);
    CHECK(many && ei_session_eval(s, many, 600, NULL, NULL, NULL) == -1 && strstr(ei_last_error(), "context full"),
          "overlong input accepted: %s", ei_last_error());
    CHECK(ei_session_n_past(s) == 0, "failed eval changed the session");
    free(many);
    ei_session_free(s);
    TEST_END("session refuses bad token ids and context overflow");

    ei_model_free(m);
    remove(gguf);
    CHECK_EXIT();
}

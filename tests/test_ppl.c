/* Perplexity by position band (tools/eval/ppl.c) on stories260K: ppl_stream's NLL sum must equal a
 * token-by-token evaluation of the same kind of session with an independent log-softmax (long
 * double, no max subtraction) to 2e-5 relative (the two paths use different score kernels), for full attention and for the EdgeInfinite path past its window;
 * band token counts must add up to n - 1; errors come back as -1 with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/eval/ppl.h"
#include "check.h"
#include "edgeinf.h"
#include "tiny_model.h"

#define N_TOKENS 300

static const char story[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her red ball. "
    "One day, she saw a big dog near the tree. The dog was sad because it lost its bone. Lily wanted to help the dog, "
    "so she looked under the bench and behind the slide. At last she found the bone in the sand. The dog was very happy "
    "and wagged its tail. Lily and the dog became good friends, and they played together every day. Her mom made them "
    "a picnic with apples and bread, and they sat in the sun until it was time to go home. The next morning it was "
    "raining, so Lily stayed inside and drew a picture of the dog. She gave the picture to her friend Tom, who laughed "
    "and said it was the best dog he had ever seen. Then the sun came out again and they ran to the park to find the dog.";

/* -log p(target) with exp in long double and without subtracting the maximum (stories logits are small). */
static double ref_nll(const float *row, int n_vocab, int32_t target) {
    long double sum = 0;
    for (int v = 0; v < n_vocab; v++) sum += expl((long double)row[v]);
    return (double)(logl(sum) - (long double)row[target]);
}

/* Token-by-token reference of the NLL sum over positions 1..n-1. */
static double reference(ei_session *s, const ei_model *m, const int32_t *t, int n) {
    const int V = ei_model_get_info(m)->n_vocab;
    double sum = 0;
    ei_session_reset(s);
    for (int i = 0; i + 1 < n; i++) {
        if (ei_session_eval(s, &t[i], 1, NULL, NULL, NULL)) return NAN;
        sum += ref_nll(ei_session_logits(s), V, t[i + 1]);
    }
    return sum;
}

static int calls;
static int64_t last_done, last_total;
static void on_progress(void *user, int64_t done, int64_t total) {
    (void)user;
    calls++, last_done = done, last_total = total;
}

static void test_against_reference(const ei_model *m, const int32_t *t, int n, int infinite) {
    const char *name = infinite ? "ppl_stream = token by token, EdgeInfinite past the window (S 4, W 64, L 32)"
                                : "ppl_stream = token by token, full attention";
    TEST_BEGIN();
    ei_session_params p = ei_session_default_params();
    if (infinite) p.infinite = 1, p.n_sink = 4, p.n_window = 64, p.n_chunk = 32, p.gate_const = 0.5f;
    ei_session *s = ei_session_new(m, &p);
    CHECK(s != NULL, "session: %s", ei_last_error());
    if (!s) { TEST_END(name); return; }
    ppl_band bands[3] = {{0, 100, 0, 0}, {100, 200, 0, 0}, {200, INT64_MAX, 0, 0}};
    calls = 0;
    const double t0 = ei_time_s();
    const int rc = ppl_stream(s, m, t, n, bands, 3, on_progress, NULL);
    const double t1 = ei_time_s();
    CHECK(rc == 0, "ppl_stream: %s", ppl_error());
    CHECK(bands[0].tokens == 99 && bands[1].tokens == 100 && bands[2].tokens == n - 200, "band counts %lld %lld %lld",
          (long long)bands[0].tokens, (long long)bands[1].tokens, (long long)bands[2].tokens);
    CHECK(bands[0].tokens + bands[1].tokens + bands[2].tokens == n - 1, "bands do not add up to n - 1");
    CHECK(calls > 0 && last_done == n - 1 && last_total == n - 1, "progress ended at %lld of %lld", (long long)last_done,
          (long long)last_total);
    const double got = bands[0].nll_sum + bands[1].nll_sum + bands[2].nll_sum, want = reference(s, m, t, n);
    const double rel = fabs(got - want) / fabs(want);
    printf("  NLL sum %.9f vs %.9f token by token (relative %.1e), ppl %.3f; %.0f ms\n", got, want, rel, exp(got / (n - 1)),
           1e3 * (t1 - t0));
    /* the chunked prefill scores keys with the block kernel, one token at a time with the decode
     * kernel: their sums are rounded in different orders (about 1e-6 relative per logit here) */
    CHECK(rel < 2e-5, "relative difference %.3e", rel);
    for (int b = 0; b < 3; b++) {
        const double ppl = exp(bands[b].nll_sum / (double)bands[b].tokens);
        CHECK(ppl > 1 && ppl < 512, "band %d perplexity %g outside (1, vocabulary)", b, ppl);
    }
    /* bands accumulate: a second stream over a reset session doubles every sum */
    ei_session_reset(s);
    CHECK(ppl_stream(s, m, t, n, bands, 3, NULL, NULL) == 0, "second stream: %s", ppl_error());
    CHECK(bands[1].tokens == 200 && fabs(bands[0].nll_sum + bands[1].nll_sum + bands[2].nll_sum - 2 * got) < 1e-9 * fabs(got),
          "second stream does not add the same sums");
    ei_session_free(s);
    TEST_END(name);
}

static void test_bands_and_errors(const ei_model *m, const int32_t *t, int n) {
    const char *name = "ppl_stream: uncovered positions, overlapping bands, errors";
    TEST_BEGIN();
    ei_session_params p = ei_session_default_params();
    p.n_ctx = 128;
    ei_session *s = ei_session_new(m, &p);
    CHECK(s != NULL, "session: %s", ei_last_error());
    if (s) {
        /* a gap and bands out of order: each position goes to the first band that holds it */
        ppl_band b[2] = {{60, 100, 0, 0}, {10, 50, 0, 0}};
        CHECK(ppl_stream(s, m, t, 100, b, 2, NULL, NULL) == 0, "%s", ppl_error());
        CHECK(b[0].tokens == 40 && b[1].tokens == 40, "counts %lld %lld", (long long)b[0].tokens, (long long)b[1].tokens);
        ppl_band all = {0, INT64_MAX, 0, 0};
        ei_session_reset(s);
        CHECK(ppl_stream(s, m, t, 1, &all, 1, NULL, NULL) == 0 && all.tokens == 0, "one token predicts nothing");
        ei_session_reset(s);
        CHECK(ppl_stream(s, m, t, n, &all, 1, NULL, NULL) == -1 && strstr(ppl_error(), "context full"),
              "a stream longer than the context must fail with the engine's message, got '%s'", ppl_error());
        int32_t bad[3] = {1, 5000, 2};
        ei_session_reset(s);
        CHECK(ppl_stream(s, m, bad, 3, &all, 1, NULL, NULL) == -1 && strstr(ppl_error(), "token 1"),
              "bad token id: '%s'", ppl_error());
    }
    ei_session_free(s);
    TEST_END(name);
}

int main(void) {
    if (!tiny_model_present()) {
        SKIP("ppl_stream", "../shared/models/stories260K is absent");
        CHECK_EXIT();
    }
    ei_model *m = tiny_model_load();
    if (!m) {
        printf("FAIL stories260K GGUF: %s\n", ei_last_error());
        return 1;
    }
    int32_t t[1024];
    t[0] = ei_token_bos(m);
    const int64_t n = ei_tokenize(m, story, strlen(story), 0, 0, t + 1, 1023);
    if (n + 1 < N_TOKENS) {
        printf("FAIL the story has %lld tokens, fewer than %d\n", (long long)n, N_TOKENS);
        ei_model_free(m);
        return 1;
    }
    test_against_reference(m, t, N_TOKENS, 0);
    test_against_reference(m, t, N_TOKENS, 1);
    test_bands_and_errors(m, t, N_TOKENS);
    ei_model_free(m);
    CHECK_EXIT();
}

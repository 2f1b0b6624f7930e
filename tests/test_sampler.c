/* The sampler (src/sampler.c) on hand-made logits: the repetition penalty (once per token, divide
 * positive and multiply negative logits), NaN logits, top-k / top-p / min-p truncation and the
 * drawn frequencies at temperature 1 against the softmax. */
#include <math.h>

#include "check.h"
#include "edgeinf.h"

static ei_sampler_params params(float temp, int top_k, float top_p, float min_p, float penalty, int last_n) {
    ei_sampler_params p = ei_sampler_default_params();
    p.temperature = temp, p.top_k = top_k, p.top_p = top_p, p.min_p = min_p;
    p.repeat_penalty = penalty, p.repeat_last_n = last_n, p.seed = 42;
    return p;
}

/* Greedy pick after accepting the tokens in hist (n of them). */
static int32_t greedy_after(const float *logits, int V, float penalty, const int32_t *hist, int n) {
    ei_sampler_params p = params(0, 0, 1, 0, penalty, 8);
    ei_sampler *s = ei_sampler_new(&p, V);
    if (!s) return -2;
    for (int i = 0; i < n; i++) ei_sampler_accept(s, hist[i]);
    const int32_t t = ei_sampler_sample(s, logits);
    ei_sampler_free(s);
    return t;
}

static void test_penalty(void) {
    TEST_BEGIN();
    /* 2.0 / 1.3 = 1.54 > 1.4, but 2.0 / 1.3^2 = 1.18 < 1.4: token 0 twice in the window is penalised once */
    const float pos[2] = {2.0f, 1.4f};
    CHECK(greedy_after(pos, 2, 1.3f, (const int32_t[]){0, 0}, 2) == 0, "a repeated token was penalised twice");
    CHECK(greedy_after(pos, 2, 2.0f, (const int32_t[]){0}, 1) == 1, "2.0 / 2 = 1 should lose to 1.4");
    /* negative logits are multiplied: -1.0 * 1.3 = -1.3 < -1.2 */
    const float neg[2] = {-1.0f, -1.2f};
    CHECK(greedy_after(neg, 2, 1.0f, (const int32_t[]){0}, 1) == 0, "no penalty: -1.0 wins");
    CHECK(greedy_after(neg, 2, 1.3f, (const int32_t[]){0}, 1) == 1, "a negative logit must be multiplied");
    /* only the last repeat_last_n (8) tokens count: token 0 accepted, then 8 of token 2 */
    const float three[3] = {2.0f, 1.4f, -5.0f};
    CHECK(greedy_after(three, 3, 2.0f, (const int32_t[]){0, 2, 2, 2, 2, 2, 2, 2}, 8) == 1, "token 0 in the window was not penalised");
    CHECK(greedy_after(three, 3, 2.0f, (const int32_t[]){0, 2, 2, 2, 2, 2, 2, 2, 2}, 9) == 0, "a token out of the window was penalised");
    /* ids outside the vocabulary in the history are ignored */
    CHECK(greedy_after(pos, 2, 2.0f, (const int32_t[]){-1, 7}, 2) == 0, "out-of-vocabulary history");
    TEST_END("sampler: repetition penalty (once per token, within the window, sign-aware)");
}

/* Frequencies of n draws. */
static void draw(const ei_sampler_params *p, const float *logits, int V, int n, int *count) {
    ei_sampler *s = ei_sampler_new(p, V);
    for (int i = 0; i < V; i++) count[i] = 0;
    for (int i = 0; s && i < n; i++) {
        const int32_t t = ei_sampler_sample(s, logits);
        if (t >= 0 && t < V) count[t]++;
    }
    ei_sampler_free(s);
}

static void test_truncation(void) {
    TEST_BEGIN();
    enum { V = 5, N = 40000 };
    /* probabilities 0.1, 0.4, 0.05, 0.3, 0.15 in shuffled order */
    const double prob[V] = {0.1, 0.4, 0.05, 0.3, 0.15};
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = (float)log(prob[i]);
    int count[V];

    ei_sampler_params p = params(1, 0, 1, 0, 1, 0);
    draw(&p, logits, V, N, count);
    for (int i = 0; i < V; i++)
        CHECK(fabs(count[i] / (double)N - prob[i]) < 0.01, "temperature 1: token %d drawn %.4f, softmax %.4f", i, count[i] / (double)N, prob[i]);

    p = params(1, 2, 1, 0, 1, 0); /* top-k 2: tokens 1 and 3, renormalised 4:3 */
    draw(&p, logits, V, N, count);
    CHECK(count[0] + count[2] + count[4] == 0, "top-k 2 drew outside the two best");
    CHECK(fabs(count[1] / (double)N - 4.0 / 7) < 0.01, "top-k 2: token 1 drawn %.4f, want %.4f", count[1] / (double)N, 4.0 / 7);

    p = params(1, 0, 0.75f, 0, 1, 0); /* top-p 0.75: 0.4 + 0.3 = 0.7 < 0.75, so 0.15 joins */
    draw(&p, logits, V, N, count);
    CHECK(count[0] + count[2] == 0 && count[4] > 0, "top-p 0.75 kept %d %d %d %d %d", count[0], count[1], count[2], count[3], count[4]);

    p = params(1, 0, 1, 0.3f, 1, 0); /* min-p 0.3: probability >= 0.12, so 0.4, 0.3 and 0.15 */
    draw(&p, logits, V, N, count);
    CHECK(count[0] + count[2] == 0 && count[4] > 0, "min-p 0.3 kept %d %d %d %d %d", count[0], count[1], count[2], count[3], count[4]);

    p = params(0.01f, 0, 1, 0, 1, 0); /* a cold temperature is nearly greedy */
    draw(&p, logits, V, 2000, count);
    CHECK(count[1] == 2000, "temperature 0.01 drew token 1 %d of 2000 times", count[1]);
    TEST_END("sampler: temperature-1 frequencies match the softmax; top-k, top-p, min-p keep what they should");
}

static void test_nan_and_seed(void) {
    TEST_BEGIN();
    enum { V = 6 };
    const float logits[V] = {NAN, 1.0f, NAN, 0.5f, 2.0f, NAN};
    int count[V];
    ei_sampler_params p = params(1, 0, 1, 0, 1, 0);
    draw(&p, logits, V, 5000, count);
    CHECK(count[0] + count[2] + count[5] == 0 && count[4] > count[1] && count[1] > count[3] && count[3] > 0,
          "NaN logits: drawn %d %d %d %d %d %d", count[0], count[1], count[2], count[3], count[4], count[5]);
    p = params(0, 0, 1, 0, 1, 0);
    draw(&p, logits, V, 10, count);
    CHECK(count[4] == 10, "greedy with NaN logits picked another token");
    /* one seed, one stream */
    ei_sampler_params q = params(1, 0, 1, 0, 1, 0);
    ei_sampler *a = ei_sampler_new(&q, V), *b = ei_sampler_new(&q, V);
    int same = a && b;
    for (int i = 0; same && i < 200; i++) same = ei_sampler_sample(a, logits) == ei_sampler_sample(b, logits);
    CHECK(same, "two samplers with one seed drew differently");
    ei_sampler_free(a), ei_sampler_free(b);
    CHECK(ei_sampler_new(&q, 0) == NULL, "a vocabulary of 0 tokens was accepted");
    TEST_END("sampler: NaN logits never drawn, one seed gives one stream");
}

int main(void) {
    test_penalty();
    test_truncation();
    test_nan_and_seed();
    CHECK_EXIT();
}

/* Forward parity with llama.cpp on the same GGUF (SmolLM2-135M-Instruct Q4_1). The reference
 * vectors were produced by scripts/gen_llamacpp_refs.py with llama-cpp-python; this test needs only
 * the committed files:
 *   tests/data/llamacpp_logits.bin  top-k logits at every position of prompts of 16..2048 tokens
 *   tests/data/llamacpp_greedy.tsv  64-token greedy generations, with llama.cpp's top-1/top-2 margin
 *
 * What "match" can mean here: activations are quantized to 8 bits before every matrix product, so
 * any change in float summation order flips a few int8 roundings and the difference grows through
 * 30 layers. llama.cpp disagrees with itself at this level (token-by-token vs batched evaluation:
 * 96.9% top-1 agreement, mean |logit diff| 0.145 on a 256-token prompt) and so do our own scalar and
 * AVX2 paths (mean 0.1). The thresholds below are set at that noise floor: top-1 agreement >= 95%,
 * mean |diff| of the top-8 logits <= 0.25, and a greedy generation may leave llama.cpp's only at a
 * step where llama.cpp itself is nearly tied (top-1 - top-2 < 1.0). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edgeinf.h"

#define MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define LOGITS "tests/data/llamacpp_logits.bin"
#define GREEDY "tests/data/llamacpp_greedy.tsv"

static int rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

static void test_logits(ei_model *m) {
    FILE *f = fopen(LOGITS, "rb");
    if (!f) { SKIP("llama.cpp logit parity", "%s is absent", LOGITS); return; }
    TEST_BEGIN();
    char magic[4];
    uint32_t version = 0, n_prompts = 0, topk = 0;
    CHECK(!rd(f, magic, 4) && !memcmp(magic, "EILR", 4) && !rd(f, &version, 4) && version == 1 && !rd(f, &n_prompts, 4) &&
              !rd(f, &topk, 4) && topk >= 1 && topk <= 64,
          "bad header in %s", LOGITS);
    const int V = ei_model_get_info(m)->n_vocab, CH = 128;
    float *lg = malloc(sizeof(float) * (size_t)V * CH);
    long agree = 0, total = 0;
    double max_diff = 0, sum_diff = 0, max_lp_diff = 0;
    long n_diff = 0;
    for (uint32_t pi = 0; pi < n_prompts && !check_failed_in_test && lg; pi++) {
        uint32_t n;
        if (rd(f, &n, 4) || n == 0 || n > 100000) { CHECK(0, "prompt %u: bad length", pi); break; }
        int32_t *toks = malloc(n * sizeof *toks);
        int32_t ids[64];
        float ref[64], lse;
        if (!toks || rd(f, toks, n * sizeof *toks)) { CHECK(0, "truncated"); free(toks); break; }
        ei_session_params p = ei_session_default_params();
        p.n_ctx = (int)n;
        p.n_threads = 2;
        ei_session *s = ei_session_new(m, &p);
        long agree_p = 0;
        for (uint32_t at = 0; at < n && s; at += CH) {
            int T = (int)(n - at < (uint32_t)CH ? n - at : (uint32_t)CH);
            CHECK(ei_session_eval(s, toks + at, T, lg, NULL, NULL) == 0, "eval: %s", ei_last_error());
            for (int t = 0; t < T; t++) {
                if (rd(f, ids, topk * 4) || rd(f, ref, topk * 4) || rd(f, &lse, 4)) { CHECK(0, "truncated refs"); break; }
                const float *row = lg + (size_t)t * V;
                int best = 0;
                double mx = row[0];
                for (int i = 1; i < V; i++)
                    if (row[i] > row[best]) best = i;
                mx = row[best];
                double se = 0;
                for (int i = 0; i < V; i++) se += exp(row[i] - mx);
                double my_lse = mx + log(se);
                agree_p += best == ids[0];
                for (uint32_t k = 0; k < topk; k++) {
                    if (ids[k] < 0 || ids[k] >= V) continue;
                    double d = fabs((double)row[ids[k]] - ref[k]);
                    double dlp = fabs(((double)row[ids[k]] - my_lse) - ((double)ref[k] - lse));
                    if (d > max_diff) max_diff = d;
                    if (dlp > max_lp_diff) max_lp_diff = dlp;
                    sum_diff += d;
                    n_diff++;
                }
            }
        }
        printf("  prompt %u: %u tokens, top-1 agreement %ld/%u\n", pi, n, agree_p, n);
        agree += agree_p;
        total += n;
        ei_session_free(s);
        free(toks);
    }
    fclose(f);
    free(lg);
    double rate = total ? (double)agree / total : 0;
    printf("  top-1 agreement %.4f (%ld/%ld positions); top-%u logits: max |diff| %.4f, mean %.4f; max |log-prob diff| %.4f\n",
           rate, agree, total, topk, max_diff, n_diff ? sum_diff / n_diff : 0, max_lp_diff);
    CHECK(rate >= 0.95, "top-1 agreement %.4f < 0.95", rate);
    CHECK(n_diff && sum_diff / n_diff <= 0.25, "mean |logit diff| %.4f > 0.25", n_diff ? sum_diff / n_diff : 0);
    TEST_END("SmolLM2 logits match llama.cpp at every position (16..2048-token prompts)");
}

/* Parses "1,2,3" into out; returns count or -1. */
static int parse_ids(char *s, int32_t *out, int cap) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == cap) return -1;
        out[n++] = (int32_t)strtol(tok, NULL, 10);
    }
    return n;
}

static void test_greedy(ei_model *m) {
    FILE *f = fopen(GREEDY, "r");
    if (!f) { SKIP("llama.cpp greedy parity", "%s is absent", GREEDY); return; }
    TEST_BEGIN();
    static char line[1 << 20];
    int rows = 0, same = 0, near_tie = 0;
    const int V = ei_model_get_info(m)->n_vocab;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *name = strtok(line, "\t"), *pr = strtok(NULL, "\t"), *gen = strtok(NULL, "\t"), *mg = strtok(NULL, "\t");
        if (!name || !pr || !gen || !mg || !strcmp(name, "name")) continue;
        char *pr_copy = strdup(pr), *gen_copy = strdup(gen), *mg_copy = strdup(mg);
        static int32_t prompt[8192], want[256], got[256];
        float margin[256];
        int np = parse_ids(pr_copy, prompt, 8192), ng = parse_ids(gen_copy, want, 256), nm = 0;
        for (char *tok = strtok(mg_copy, ","); tok && nm < 256; tok = strtok(NULL, ",")) margin[nm++] = strtof(tok, NULL);
        free(pr_copy);
        free(gen_copy);
        free(mg_copy);
        if (nm != ng) { CHECK(0, "row %s: %d margins for %d tokens", name, nm, ng); continue; }
        if (np <= 0 || ng <= 0) { CHECK(0, "bad row %s", name); continue; }
        ei_session_params p = ei_session_default_params();
        p.n_ctx = np + ng + 1;
        p.n_threads = 2;
        ei_session *s = ei_session_new(m, &p);
        int ok = s && ei_session_eval(s, prompt, np, NULL, NULL, NULL) == 0;
        for (int i = 0; ok && i < ng; i++) {
            const float *lg = ei_session_logits(s);
            int best = 0;
            for (int j = 1; j < V; j++)
                if (lg[j] > lg[best]) best = j;
            got[i] = best;
            if (i + 1 < ng) ok = ei_session_eval(s, &got[i], 1, NULL, NULL, NULL) == 0;
        }
        int first_diff = -1;
        for (int i = 0; i < ng && first_diff < 0; i++)
            if (got[i] != want[i]) first_diff = i;
        if (first_diff < 0) printf("  %s: %d prompt tokens, %d/%d identical\n", name, np, ng, ng);
        else printf("  %s: %d prompt tokens, identical for %d tokens, then diverges where llama.cpp's top-2 margin is %.3f\n",
                    name, np, first_diff, (double)margin[first_diff]);
        rows++;
        same += first_diff < 0;
        near_tie += first_diff >= 0 && margin[first_diff] < 1.0f;
        ei_session_free(s);
    }
    fclose(f);
    printf("  greedy generations identical: %d/%d; the others diverge only at llama.cpp near-ties: %d/%d\n", same, rows,
           near_tie, rows - same);
    CHECK(rows >= 5, "only %d generations in %s", rows, GREEDY);
    CHECK(same + near_tie == rows, "%d generation(s) diverge where llama.cpp is not near a tie", rows - same - near_tie);
    TEST_END("SmolLM2 greedy generations identical to llama.cpp");
}

int main(void) {
    if (access(MODEL, R_OK)) {
        SKIP("llama.cpp parity", "%s is absent (run make model)", MODEL);
        return 0;
    }
    ei_model *m = ei_model_load(MODEL);
    TEST_BEGIN();
    CHECK(m != NULL, "load: %s", ei_last_error());
    TEST_END("SmolLM2 Q4_1 loads");
    if (!m) CHECK_EXIT();
    test_logits(m);
    test_greedy(m);
    ei_model_free(m);
    CHECK_EXIT();
}

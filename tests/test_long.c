/* Long-input smoke test on the real model: ~20K tokens of essays through the EdgeInfinite path
 * (summarize profile, memory read with a constant gate), in pieces, checking the memory after each
 * piece: no NaN/Inf, the token counts add up (sink + window + memory = tokens seen), z grows (it is
 * a sum of positive feature vectors) and M stays bounded; then a greedy answer that must look like
 * text. Sanitizer builds use a shorter input (they run ~10x slower). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edgeinf.h"

#define SMOL "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define ESSAYS "../shared/data/pg_essays"

#if defined(__SANITIZE_ADDRESS__)
#define N_TOKENS 3000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define N_TOKENS 3000
#endif
#endif
#ifndef N_TOKENS
#define N_TOKENS 20000
#endif

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The essays concatenated in name order, up to cap bytes (caller frees). */
static char *read_essays(size_t cap, size_t *len) {
    DIR *d = opendir(ESSAYS);
    if (!d) return NULL;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strstr(e->d_name, ".txt")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp);
    char *buf = malloc(cap + 1);
    *len = 0;
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", ESSAYS, names[i]);
        FILE *f = fopen(path, "rb");
        if (f && buf) *len += fread(buf + *len, 1, cap - *len, f);
        if (f) fclose(f);
        free(names[i]);
    }
    if (buf) buf[*len] = 0;
    return buf;
}

int main(void) {
    const char *name = "real model: ~20K-token input through EdgeInfinite, memory statistics behave, answer is text";
    if (access(SMOL, R_OK)) { SKIP(name, "%s is absent (make model)", SMOL); return 0; }
    size_t len = 0;
    char *text = read_essays((size_t)N_TOKENS * 6, &len);
    if (!text || len < 1000) { SKIP(name, "%s is absent", ESSAYS); free(text); return 0; }
    TEST_BEGIN();
    ei_model *m = ei_model_load(SMOL);
    CHECK(m != NULL, "load: %s", ei_last_error());
    int32_t *toks = malloc(sizeof *toks * (len + 64));
    int64_t n = m && toks ? ei_tokenize(m, text, len, 0, 0, toks, (int64_t)len + 64) : -1;
    if (n > N_TOKENS) n = N_TOKENS;
    CHECK(n >= N_TOKENS / 2, "only %lld tokens of essays", (long long)n);
    ei_profile pr;
    ei_profile_builtin("summarize", &pr);
    ei_session_params p = ei_session_params_for(&pr, EI_MODE_INFINITE, 0, 2);
    p.gate_const = 0.3f;
    ei_session *s = m && n > 0 ? ei_session_new(m, &p) : NULL;
    CHECK(s != NULL, "session: %s", ei_last_error());
    double t0 = ei_time_s(), last_z = 0;
    const int64_t piece = 4096;
    for (int64_t done = 0; s && done < n && !check_failed_in_test;) {
        int64_t k = n - done < piece ? n - done : piece;
        CHECK(ei_session_eval(s, toks + done, k, NULL, NULL, NULL) == 0, "eval: %s", ei_last_error());
        done += k;
        ei_memory_stats ms;
        ei_session_memory_stats(s, &ms);
        printf("  %6lld tokens: sink %lld, window %lld, memory %lld; |M| max %.4g mean %.4g, |z| max %.4g mean %.4g\n",
               (long long)done, (long long)ms.n_sink, (long long)ms.n_window, (long long)ms.n_memory, ms.m_norm_max,
               ms.m_norm_mean, ms.z_norm_max, ms.z_norm_mean);
        CHECK(!ms.non_finite, "NaN or Inf in memory after %lld tokens", (long long)done);
        CHECK(ms.n_sink + ms.n_window + ms.n_memory == done, "sink + window + memory = %lld, tokens seen %lld",
              (long long)(ms.n_sink + ms.n_window + ms.n_memory), (long long)done);
        CHECK(ms.n_window <= pr.window + pr.chunk && ms.n_memory % pr.chunk == 0, "window %lld, memory %lld", (long long)ms.n_window,
              (long long)ms.n_memory);
        if (ms.n_memory > 0) {
            CHECK(ms.z_norm_mean > last_z, "z should grow as tokens are written (%.4g after %.4g)", ms.z_norm_mean, last_z);
            CHECK(isfinite(ms.m_norm_max) && ms.m_norm_max < 1e12, "M norm %.4g", ms.m_norm_max);
        }
        last_z = ms.z_norm_mean;
    }
    double el = ei_time_s() - t0;
    /* ask for a continuation: greedy, 40 tokens */
    const char *q = "\n\nIn short, the essays above argue that";
    int32_t qt[64];
    int64_t nq = m ? ei_tokenize(m, q, strlen(q), 0, 0, qt, 64) : 0;
    CHECK(s && nq > 0 && ei_session_eval(s, qt, nq, NULL, NULL, NULL) == 0, "question: %s", ei_last_error());
    char out[4096] = "";
    size_t ol = 0;
    int distinct = 0, seen[64] = {0}, n_gen = 0;
    ei_text_stream *ts = m ? ei_text_stream_new(m, 0) : NULL;
    for (int i = 0; s && ts && i < 40 && !check_failed_in_test; i++) {
        const float *lg = ei_session_logits(s);
        int32_t best = 0;
        for (int j = 1; j < ei_model_get_info(m)->n_vocab; j++)
            if (lg[j] > lg[best]) best = j;
        if (ei_token_is_eog(m, best)) break;
        int dup = 0;
        for (int j = 0; j < n_gen; j++) dup |= seen[j] == best;
        distinct += !dup;
        seen[n_gen++] = best;
        char piece_txt[512];
        int k = ei_text_stream_push(ts, best, piece_txt, sizeof piece_txt);
        if (k > 0 && ol + (size_t)k < sizeof out - 1) memcpy(out + ol, piece_txt, (size_t)k), ol += (size_t)k, out[ol] = 0;
        if (ei_session_eval(s, &best, 1, NULL, NULL, NULL)) break;
    }
    size_t letters = 0;
    for (size_t i = 0; i < ol; i++) letters += isalpha((unsigned char)out[i]) || out[i] == ' ';
    printf("  %lld tokens in %.1f s (%.0f tok/s); continuation: \"%s\"\n", (long long)n, el, n / (el > 0 ? el : 1), out);
    CHECK(n_gen >= 8 && distinct >= 6, "only %d tokens / %d distinct generated", n_gen, distinct);
    CHECK(ol > 0 && letters >= ol * 7 / 10, "continuation is not text: \"%s\"", out);
    ei_text_stream_free(ts);
    ei_session_free(s);
    ei_model_free(m);
    free(toks);
    free(text);
    TEST_END(name);
    CHECK_EXIT();
}

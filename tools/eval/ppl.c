/* Perplexity by position band: the stream goes through the session in pieces with all_logits, and
 * each row's log-softmax is taken in double after subtracting the row maximum. Adds to the bands'
 * tokens and nll_sum (the caller zeroes them), so one set of bands can collect several streams. */
#include "ppl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_error[512];

const char *ppl_error(void) { return last_error; }

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

/* Tokens per ei_session_eval call: bounds the logits buffer (PIECE x n_vocab floats, 25 MB for a
 * 49K vocabulary); the session still prefills in its own chunks inside each call. */
#define PIECE 128

/* -log softmax(row)[target], in double. */
static double nll_of(const float *row, int n_vocab, int32_t target) {
    double mx = row[0];
    for (int v = 1; v < n_vocab; v++)
        if (row[v] > mx) mx = row[v];
    double sum = 0;
    for (int v = 0; v < n_vocab; v++) sum += exp((double)row[v] - mx);
    return mx + log(sum) - (double)row[target];
}

int ppl_stream(ei_session *s, const ei_model *m, const int32_t *tokens, int64_t n, ppl_band *bands, int n_bands,
               ei_progress_fn progress, void *user) {
    last_error[0] = 0;
    if (!s || !m || (!tokens && n > 0) || n < 0 || (!bands && n_bands > 0) || n_bands < 0)
        return fail("ppl_stream: bad arguments");
    const int n_vocab = ei_model_get_info(m)->n_vocab;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return fail("token %lld has id %d, outside the vocabulary of %d", (long long)i, (int)tokens[i], n_vocab);
    if (n < 2) return 0; /* nothing is predicted */
    float *logits = malloc(sizeof *logits * (size_t)n_vocab * PIECE);
    if (!logits) return fail("out of memory (logits of %d x %d floats)", PIECE, n_vocab);
    int band = 0; /* positions only grow: the band search resumes where it stopped, unless bands overlap or go back */
    for (int64_t p = 0; p < n - 1; p += PIECE) {
        /* the last token is never evaluated: nothing follows it */
        const int64_t k = n - 1 - p < PIECE ? n - 1 - p : PIECE;
        if (ei_session_eval(s, tokens + p, k, logits, NULL, NULL)) {
            fail("at token %lld: %s", (long long)p, ei_last_error());
            free(logits);
            return -1;
        }
        for (int64_t i = 0; i < k; i++) {
            const int64_t pos = p + i + 1;
            if (band >= n_bands || pos < bands[band].from || pos >= bands[band].to)
                for (band = 0; band < n_bands && !(pos >= bands[band].from && pos < bands[band].to); band++) {}
            if (band == n_bands) continue; /* a position no band covers */
            bands[band].nll_sum += nll_of(logits + (size_t)i * (size_t)n_vocab, n_vocab, tokens[pos]);
            bands[band].tokens++;
        }
        if (progress) progress(user, p + k, n - 1);
    }
    free(logits);
    return 0;
}

/* Perplexity of one long token stream by position band (evaluation.md, "Perplexity at long context"). */
#ifndef EI_EVAL_PPL_H
#define EI_EVAL_PPL_H

#include <stdint.h>

#include "edgeinf.h"

/* One band of positions [from, to): the tokens predicted there and the sum of their negative log-likelihoods
   (natural log); perplexity = exp(nll_sum / tokens). */
typedef struct { int64_t from, to, tokens; double nll_sum; } ppl_band;

/* Streams tokens[0..n) through session s (already reset) in chunks, accumulating -log p(tokens[i+1] | tokens[..i])
   into the band whose [from, to) contains position i+1. Returns 0 or -1 (ei_last_error / message). progress may be NULL. */
int ppl_stream(ei_session *s, const ei_model *m, const int32_t *tokens, int64_t n, ppl_band *bands, int n_bands,
               ei_progress_fn progress, void *user);
/* Why the last ppl_stream of this thread returned -1 (one line, e.g. "at token 8192: context full: ..."). */
const char *ppl_error(void);

#endif

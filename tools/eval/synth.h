/* Synthetic long-context prompts (evaluation.md, passkey and needle): raw text, without BOS or chat
 * template (the caller adds them). Lengths are token counts of the text alone with the model's own
 * tokenizer (ei_tokenize, no BOS). Everything is deterministic in (seed, target_tokens, depth_pct). */
#ifndef EI_EVAL_SYNTH_H
#define EI_EVAL_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "edgeinf.h"

/* Passkey prompt: project-written filler with a sentence stating a random 5-digit pass key at depth_pct percent
   of the filler, then the question; about target_tokens tokens with the model's tokenizer (raw text). The filler
   is one fixed stream of sentences for every cell (the key and its place vary, from seed, target and depth), so
   prompts begin alike. key_out receives the key as text. Returns malloc'd NUL-terminated text, or NULL with a one-line message in err. */
char *synth_passkey(const ei_model *m, int64_t target_tokens, int depth_pct, uint64_t seed, char key_out[16], char *err,
                    size_t err_cap);

/* Needle in a haystack: haystack = given text (the caller passes the essays of /work/shared/data/pg_essays
   concatenated; repeat it as needed) cut to about target_tokens tokens, a short factual needle sentence unrelated to the
   essays inserted at depth_pct percent (at a sentence boundary), then a question asking for it. answer_out receives
   the key fact that must appear in a correct answer (e.g. a name or a number). */
char *synth_needle(const ei_model *m, const char *haystack, size_t haystack_len, int64_t target_tokens, int depth_pct,
                   uint64_t seed, char answer_out[64], char *err, size_t err_cap);

#endif

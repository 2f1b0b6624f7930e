/* Synthetic long-context prompts (evaluation.md, passkey and needle): raw text, without BOS or chat
 * template (the caller adds them). Lengths are token counts of the text alone with the model's own
 * tokenizer (ei_tokenize, no BOS). Everything is deterministic in (seed, key, target_tokens, depth_pct):
 * seed is the run's, key the index (0, 1, ...) of the prompt among those of one cell (length, depth). */
#ifndef EI_EVAL_SYNTH_H
#define EI_EVAL_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "edgeinf.h"

/* Passkey prompt: project-written filler with a sentence stating a random 5-digit pass key at depth_pct percent
   of the filler, then the question; about target_tokens tokens with the model's tokenizer (raw text). The filler
   is one fixed stream of sentences for every cell (the key and its place vary, from seed, target and depth), so
   prompts begin alike. key_out receives the key as text. Returns malloc'd NUL-terminated text, or NULL with a one-line message in err. */
char *synth_passkey(const ei_model *m, int64_t target_tokens, int depth_pct, uint64_t seed, int key, char key_out[16],
                    char *err, size_t err_cap);
/* The pass key that synth_passkey puts in that prompt, without building it (key >= 0). */
void synth_passkey_answer(uint64_t seed, int key, int64_t target_tokens, int depth_pct, char out[16]);

/* Needle in a haystack: haystack = given text (the caller passes the essays of /work/shared/data/pg_essays
   concatenated; repeat it as needed) cut to about target_tokens tokens, a short factual needle sentence unrelated to the
   essays inserted at depth_pct percent (at a sentence boundary), then a question asking for it. answer_out receives
   the key fact that must appear in a correct answer (e.g. a name or a number). The keys of one cell get different
   needles: keys 0..7 ask the eight questions once each, and so on. */
char *synth_needle(const ei_model *m, const char *haystack, size_t haystack_len, int64_t target_tokens, int depth_pct,
                   uint64_t seed, int key, char answer_out[64], char *err, size_t err_cap);
/* The answer of the needle that synth_needle puts in that prompt, without building it (key >= 0). */
const char *synth_needle_answer(uint64_t seed, int key, int64_t target_tokens, int depth_pct);

#endif

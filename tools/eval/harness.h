/* What every benchmark of `edgeinf eval` shares: options, methods (FullKV, StreamingLLM,
 * EdgeInfinite with a closed, constant or trained gate), one session per method and run, prompt
 * tokens with middle truncation, greedy generation, and the run file: one JSON per benchmark and
 * method, rewritten atomically after every sample and resumed after a kill. Public API only. */
#ifndef EI_EVAL_HARNESS_H
#define EI_EVAL_HARNESS_H

#include <stdint.h>

#include "edgeinf.h"
#include "json.h"

#define EVAL_MAX_METHODS 16
#define EVAL_LOOKAHEAD 4 /* prompts ahead the harness weighs where to keep a prefix state (eval_next_prompts) */
#define EVAL_DATA_ROOT "/work/shared/data"

/* Options shared by the benchmarks (options.c parses them; each benchmark says which it accepts). */
typedef struct {
    const char *bench;
    const char *model_path, *out_dir, *data, *maxlen, *tasks, *profile_name, *profile_file;
    const char *lengths, *depths, *bands, *corpus, *essays, *wikitext;
    char methods[2048];   /* the --method values, comma-joined */
    int profile_named;    /* --profile given: the profile must fit as it is (as in `edgeinf run`) */
    int threads, limit, keys, overwrite, max_new;
    int count_only;       /* longbench --count-only: tokenize and count, run nothing */
    int no_reuse;         /* --no-reuse: every prompt prefilled from an empty session */
    int chunk, sink, window; /* profile overrides; -1: the profile's own */
    int64_t max_tokens;
    uint64_t seed;
    char *command;        /* the command line, shell-quoted (malloc'd) */
} eval_opts;

enum { EVAL_GATE_NONE, EVAL_GATE_CLOSED, EVAL_GATE_CONST, EVAL_GATE_FILE };

typedef struct {
    char name[320];       /* full, streaming, h2o, snapkv, closed, const0.3, gate:<file name> */
    int full;             /* full attention, prompts middle-truncated to the trained context */
    int gate;             /* EVAL_GATE_* */
    double gate_const;      /* as written in the name (the session gets it as a float) */
    int freeze_memory;    /* StreamingLLM: evicted tokens are dropped, memory never written */
    int evict;            /* ei_evict_policy: H2O or SnapKV drop the least-attended window tokens (same
                           * budget, no memory); EI_EVICT_OLDEST for every other method */
    char gate_file[4096];
} eval_method;

/* Options of a benchmark: flags are the option names it accepts besides the common ones. */
int eval_parse_opts(int argc, char **argv, eval_opts *o, const char *default_profile, const char *const *flags);
void eval_opts_free(eval_opts *o);
/* Splits o->methods; -1 with a message on an unknown or repeated method. */
int eval_parse_methods(const char *list, eval_method *out, int cap);
/* "1024,2K,..." -> numbers (K = 1024); -1 with a message. */
int eval_parse_list(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, int cap);
/* 1 when name is in the comma-separated list (or the list is NULL). */
int eval_in_list(const char *list, const char *name);

/* Recomputes the "scores" object of a run file from its samples. */
typedef void (*eval_summary_fn)(json_out *o, json *const *samples, int n);

/* One method's run of one benchmark: session, run file and progress. */
typedef struct {
    const eval_opts *o;
    eval_method method;
    const ei_model *m;
    ei_profile profile;
    ei_gate *gate;
    ei_session *s;
    int n_ctx_train;
    int chat_template;          /* 0: the model has none; prompts go in raw */
    int profile_fitted;         /* the default profile was scaled down to the model */
    char *chat_pre, *chat_post; /* the template around the user message */
    char path[4096];
    char model_sha[65], gate_sha[65];
    char started[32];
    const char *options;        /* the benchmark's options object (JSON text) */
    const char *const *ident;   /* options that must match for a resume */
    eval_summary_fn summary;
    json **samples;
    int n_samples, cap_samples;
    int requested, requested_done, done_now;
    int stale;                  /* stored samples dropped by eval_run_expect_answer */
    double t0, wall_before, first_sample_t;
    int tty;
    /* prefix reuse (eval_generate): one saved session state and the prompt tokens it has read */
    void *state;
    size_t state_size;
    int32_t *state_toks;
    int64_t state_n, state_cap;
    const int32_t *ahead[EVAL_LOOKAHEAD]; /* the prompts the driver will ask for next, in order */
    int64_t ahead_n[EVAL_LOOKAHEAD];      /* (eval_next_prompts) */
    int n_ahead;
    const int32_t *cur;         /* during a prefill: the prompt, tokens in the session before the */
    int64_t cur_base, save_upto; /* call, and where to save (the last chunk boundary <= save_upto) */
    int64_t reused;             /* tokens of the last prompt taken from the saved state */
} eval_run;

/* What a run needs to build prompts, without a session or a run file: options, method, model,
 * profile and chat template (for token counts). -1 with a one-line message; eval_run_close frees. */
int eval_run_prepare(eval_run *r, const eval_opts *o, const eval_method *method, const ei_model *m);
/* Opens a run: profile, session (made once: ei_session_reset between samples), run file resumed
 * when its model, bench, method, profile and identity options match. -1 with a one-line message. */
int eval_run_open(eval_run *r, const eval_opts *o, const eval_method *method, const ei_model *m, const char *options_json,
                  const char *const *ident, eval_summary_fn summary);
/* Declares a sample the run should have (before the loop): returns 1 when the file already has it. */
int eval_run_expect(eval_run *r, const char *key);
/* The same for a sample whose prompt asks for `answer`: a stored sample with another "answer" was
 * made from another prompt, so it is dropped (r->stale counts it) and 0 returned: it runs again. */
int eval_run_expect_answer(eval_run *r, const char *key, const char *answer);
int eval_run_has(const eval_run *r, const char *key);
/* Adds a sample (a JSON object text with a "key") and saves the run file. 0 or -1. */
int eval_run_add(eval_run *r, const char *sample_json);
/* eval_run_add of the sample written into f, whose buffer is freed; a failed writer (out of
 * memory) is an error. 0 or -1. */
int eval_run_add_out(eval_run *r, json_out *f);
/* Saves once more (complete flag, wall time) and prints where the file is. 0 or -1. */
int eval_run_finish(eval_run *r);
void eval_run_close(eval_run *r);
/* The end of every driver: finish when rc is 0, close, return the final status. */
int eval_run_end(eval_run *r, int rc);
void eval_progress(eval_run *r, const char *key);

/* Prompt tokens: BOS when the model wants one, the chat template's prefix (when chat and the model
 * has a template), the text's tokens - for budget > 0 cut in the middle so that everything fits in
 * budget tokens (first and last halves of the text's share kept; *truncated = tokens dropped) - and
 * the template's suffix. Special-token text inside `text` is not parsed. Caller frees. */
int32_t *eval_tokens(const eval_run *r, const char *text, int chat, int64_t budget, int64_t *n, int64_t *truncated);
/* The budget for a full-attention prompt: trained context minus the tokens to generate. */
int64_t eval_full_budget(const eval_run *r, int max_new);

/* The prompts the next eval_generate calls will get, in order (tokens kept by the caller until then;
 * count 0: none; at most EVAL_LOOKAHEAD are used). Where the current prompt and the next part (if
 * past a chunk beyond what is already saved), the session state is saved during the current
 * prefill, and the next prompt starts from it: a shared prefix (one transcript, several queries; one
 * haystack, several needles) is evaluated once. The prompts after the next move that point earlier
 * when they part sooner and that costs fewer tokens than it spares. The state is saved and loaded
 * at the prefill's own chunk boundaries, so every number is the same as without. */
void eval_next_prompts(eval_run *r, int count, const int32_t *const *toks, const int64_t *n);

/* Greedy generation after prompt tokens (session reset first, or the saved state loaded when it
 * holds a prefix of the prompt; r->reused tells how many tokens that spared). The first token is never an
 * end-of-generation or stop token (LongBench's min_length = prompt + 1); then it stops at either,
 * or after max_new tokens. stop_token < 0: none. Returns malloc'd text or NULL (message printed). */
char *eval_generate(eval_run *r, const int32_t *toks, int64_t n, int max_new, int32_t stop_token, int *n_generated);

/* Benchmarks: eval_tasks.c (LongBench, QMSum), eval_synth.c (passkey, needle, perplexity); the report is report.c. */
int eval_longbench(int argc, char **argv);
int eval_qmsum(int argc, char **argv);
int eval_passkey(int argc, char **argv, int needle);
int eval_ppl(int argc, char **argv);

/* Helpers. */
char *eval_read_file(const char *path, size_t *len); /* NULL + errno */
#if defined(__GNUC__)
#define EVAL_PRINTF __attribute__((format(printf, 1, 2)))
#else
#define EVAL_PRINTF
#endif
void eval_err(const char *fmt, ...) EVAL_PRINTF;  /* "edgeinf: ..." on stderr */
void eval_note(const char *fmt, ...) EVAL_PRINTF; /* the same, for notes */
/* Loads the model, printing the error; NULL on failure. */
ei_model *eval_load_model(const char *path);

#endif

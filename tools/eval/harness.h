/* The evaluation harness shared by every benchmark of `edgeinf eval`: options, methods (FullKV,
 * StreamingLLM, EdgeInfinite with a closed, constant or trained gate), one session per run, greedy
 * generation, and run files that are saved after every sample and resumed after a kill. */
#ifndef EI_EVAL_HARNESS_H
#define EI_EVAL_HARNESS_H

#include <stdint.h>

#include "edgeinf.h"
#include "json.h"

typedef struct {
    const char *model_path, *out_dir, *data, *tasks, *profile_name, *profile_file, *lengths, *depths, *bands, *corpus;
    const char *methods;
    int threads, limit, keys, overwrite, max_tokens;
    int chunk, sink, window; /* profile overrides; -1 = the profile's */
    uint64_t seed;
    char command[4096];
} eval_opts;

typedef struct {
    char name[96];
    int full;            /* full attention (with middle truncation at the trained context) */
    int gate_kind;       /* 0 none (memory not read), 1 closed (b = -8), 2 constant, 3 file */
    float gate_const;
    char gate_file[512];
    int freeze_memory;   /* StreamingLLM: evicted tokens dropped */
} eval_method;

/* One method's run of one benchmark: the model, its session, and the run file. */
typedef struct {
    const eval_opts *o;
    const char *bench;
    eval_method method;
    ei_model *m;
    ei_profile profile;
    ei_gate *gate;
    ei_session *s;
    int n_ctx;               /* positions of the session (full: the trained context) */
    char path[4096];         /* run file */
    char model_sha[65];
    char started[32];
    double wall_before;      /* seconds spent by earlier (resumed) sessions */
    double t0;
    json_out samples;        /* the samples' JSON objects, comma-separated */
    int n_samples, requested;
    /* per-sample score, group and second group, for the summary */
    struct done_sample { char key[160], group[96], group2[96]; double score; } *done;
    int done_cap;
    int tty;
} eval_run;

/* Parses the options shared by all benchmarks; returns -1 (message printed) on a bad option. */
int eval_parse_opts(int argc, char **argv, eval_opts *o, const char *default_profile);
/* Splits the --method list into methods; -1 with a message on an unknown one. */
int eval_parse_methods(const char *list, eval_method *out, int cap);

/* Opens a run: loads the model (once, shared by the caller through *m if non-NULL), makes the
 * session, and resumes the run file when it matches. -1 with a one-line message on error. */
int eval_run_open(eval_run *r, const eval_opts *o, const char *bench, const eval_method *method, ei_model *m,
                  int requested);
void eval_run_close(eval_run *r);
/* 1 when the sample with this key is already in the run file. */
int eval_run_has(const eval_run *r, const char *key);
/* Appends a sample (a JSON object text that the caller built, without key/group/score, which are
 * added) and saves the whole run file atomically. */
int eval_run_add(eval_run *r, const char *key, const char *group, const char *group2, double score, const char *fields_json);
void eval_progress(eval_run *r, const char *key);

/* Prompt tokens: BOS when the model wants it, the text (in the chat template when chat = 1), and
 * for full attention, the middle cut to fit budget tokens (truncated = tokens dropped). Caller frees. */
int32_t *eval_tokens(const eval_run *r, const char *text, int chat, int64_t budget, int64_t *n, int64_t *truncated);
/* Greedy generation after the prompt; stops at end-of-generation tokens, after max_new tokens, or
 * at the first newline when stop_at_newline. Returns malloc'd text (NULL + message on error). */
char *eval_generate(eval_run *r, const int32_t *toks, int64_t n, int max_new, int stop_at_newline, int *n_generated);

/* Benchmarks (eval_tasks.c, eval_synth.c) and the report (eval_report.c). */
int eval_longbench(int argc, char **argv);
int eval_qmsum(int argc, char **argv);
int eval_passkey(int argc, char **argv, int needle);
int eval_ppl(int argc, char **argv);
int eval_report(int argc, char **argv);

/* Helpers. */
char *eval_read_file(const char *path, size_t *len); /* NULL + errno */
void eval_err(const char *fmt, ...);                 /* "edgeinf: ..." on stderr */

#endif

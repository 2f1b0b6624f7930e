/* EdgeInfinite-C public API.
 *
 * A model is loaded once from a GGUF file (weights stay memory-mapped). A session owns everything a
 * run needs (KV cache, activations, logits) in one arena allocated when the session is created;
 * nothing is allocated while it evaluates tokens. Errors: functions return NULL or a negative
 * value and ei_last_error() gives a one-line message naming the file/field and what was expected. */
#ifndef EDGEINF_H
#define EDGEINF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EI_VERSION "0.1.0"
/* SnapKV: window tokens over which a score is max-pooled (the SnapKV paper's LongBench setting) */
#define EI_SNAPKV_POOL 7

typedef struct ei_model ei_model;
typedef struct ei_session ei_session;
typedef struct ei_sampler ei_sampler;
typedef struct ei_text_stream ei_text_stream;
typedef struct ei_gate ei_gate;

/* Version and source revision of this build, e.g. "0.1.0 (87a81b3)"; "-dirty" marks local changes. */
const char *ei_build_id(void);

/* The last error message of the calling thread ("" when none). */
const char *ei_last_error(void);
/* Name of the kernel set in use: "scalar", "avx2", "avx512" or "amx" (env EI_ISA overrides). */
const char *ei_isa(void);

/* ------------------------------------------------------------------ model */
typedef struct {
    char arch[32];          /* "llama", "qwen2" */
    char name[128];         /* general.name */
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
    float rope_theta, norm_eps;
    int rope_neox;          /* 1: rotate (i, i+d/2) pairs; 0: adjacent pairs */
    int64_t n_params;
    uint64_t file_bytes;
    uint64_t weight_bytes;  /* bytes of all tensors */
    char file_sha[17];      /* first 16 hex digits of a fast content hash of the tensor data + metadata */
} ei_model_info;

typedef struct {
    const char *name;       /* valid while the model lives */
    const char *type;       /* "q4_1", ... */
    int n_dims;
    int64_t ne[4];
    uint64_t bytes;
} ei_tensor_info;

ei_model *ei_model_load(const char *path);
void ei_model_free(ei_model *m);
const ei_model_info *ei_model_get_info(const ei_model *m);
int ei_model_n_tensors(const ei_model *m);
int ei_model_tensor(const ei_model *m, int i, ei_tensor_info *out);
/* Metadata value rendered as text into buf (truncated values end with "..."); -1 when missing. */
int ei_model_meta(const ei_model *m, const char *key, char *buf, size_t cap);

/* Convert a llama2.c checkpoint (format v0) and its tokenizer.bin into a GGUF file. */
int ei_convert_llama2c(const char *checkpoint, const char *tokenizer, const char *out_gguf);

/* --------------------------------------------------------------- tokens */
/* Encodes len bytes of UTF-8. Writes up to cap ids, returns how many the text needs (may exceed
 * cap), or -1 (invalid UTF-8; ei_last_error says where). */
int64_t ei_tokenize(const ei_model *m, const char *text, size_t len, int add_bos, int parse_special,
                    int32_t *out, int64_t cap);
int32_t ei_token_bos(const ei_model *m);
int32_t ei_token_eos(const ei_model *m);
/* 1 when prompts for this model start with BOS (tokenizer.ggml.add_bos_token). */
int ei_token_add_bos(const ei_model *m);
/* 1 when generation should stop at this token (EOS, end-of-turn such as <|im_end|>). */
int ei_token_is_eog(const ei_model *m, int32_t id);
/* Raw bytes of a token (may be a partial UTF-8 sequence). Returns length or -1. */
int ei_token_piece(const ei_model *m, int32_t id, char *buf, int cap);

/* Streaming detokenizer: emits only complete UTF-8. */
ei_text_stream *ei_text_stream_new(const ei_model *m, int render_special);
int ei_text_stream_push(ei_text_stream *s, int32_t id, char *out, int cap); /* cap >= 256 */
int ei_text_stream_flush(ei_text_stream *s, char *out, int cap);
void ei_text_stream_free(ei_text_stream *s);

/* Wraps one user message (and an optional system message; NULL = the template's default) in the
 * model's chat template, ending with the assistant turn opener. Returns bytes needed (excluding
 * the NUL), or -1 when the model has no supported template. */
int64_t ei_chat_format(const ei_model *m, const char *system, const char *user, char *out, size_t cap);

/* ------------------------------------------------------------- profiles */
/* A scenario profile fixes the shapes of a run (method.md sections 6-7). */
typedef enum { EI_UPDATE_LINEAR = 0, EI_UPDATE_DELTA = 1 } ei_update_rule;
typedef enum { EI_KV_F32 = 0, EI_KV_F16 = 1 } ei_kv_type;
typedef enum { EI_MODE_AUTO = 0, EI_MODE_FULL = 1, EI_MODE_INFINITE = 2 } ei_mode;
typedef enum { EI_EVICT_OLDEST = 0, EI_EVICT_H2O = 1, EI_EVICT_SNAPKV = 2 } ei_evict_policy;

typedef struct {
    char name[32];
    int chunk;             /* L: tokens per prefill call = EdgeInfinite segment length */
    int sink;              /* S: first tokens kept forever */
    int window;            /* W: most recent tokens kept (a multiple of chunk) */
    int full_kv_budget;    /* auto mode: full attention when prompt + new tokens fit this */
    ei_update_rule update; /* memory update rule */
    ei_kv_type kv_type;
    int max_new_tokens;    /* default generation cap */
} ei_profile;

/* Names of the built-in profiles, NULL-terminated: chat, summarize, qa, stream. */
const char *const *ei_profile_names(void);
int ei_profile_builtin(const char *name, ei_profile *out);            /* -1: unknown name */
/* Overrides fields from a "key = value" text file (keys: chunk, sink, window, full_kv_budget,
 * update (linear|delta), kv (f16|f32), max_new_tokens). -1 with the file, line and key on error. */
int ei_profile_load_file(const char *path, ei_profile *p);
/* Checks a profile against a model: positions S+W+L must fit the trained context, W must be a
 * multiple of L, sizes positive. -1 with the field that is wrong. */
int ei_profile_check(const ei_profile *p, const ei_model *m);
/* Shrinks a profile to a model whose trained context is shorter than the profile assumes (the
 * built-ins are sized for 8K-context models): the full-KV budget is capped at the trained context,
 * then window, sink and chunk are halved (window kept a multiple of chunk) until S+W+L fits.
 * Returns 1 when something changed, 0 when the profile already fit. */
int ei_profile_fit(ei_profile *p, const ei_model *m);
/* Picks a profile for a task name ("chat", "summarize", "qa", "stream", or NULL) and input length. */
const char *ei_profile_for_task(const char *task, int64_t prompt_tokens);

/* Routing (method.md section 3): the path a request takes and a one-line reason. */
ei_mode ei_route(const ei_profile *p, ei_mode requested, int64_t prompt_tokens, int64_t new_tokens,
                 char *why, size_t why_cap);

/* ----------------------------------------------------------------- gate */
/* A memory gate adapter (small GGUF file). Its type, the S/W/L/update rule it was trained with and
 * the identity of its base model are checked against the model and the session using it. */
typedef enum { EI_GATE_HEAD_SCALAR = 0, EI_GATE_LAYER_MIX = 1 } ei_gate_type;
ei_gate *ei_gate_load(const char *path, const ei_model *m);
/* A fresh gate for training: weights 0, bias `bias` (-8: almost closed). */
ei_gate *ei_gate_new(const ei_model *m, ei_gate_type type, const ei_profile *trained_with, float bias);
int ei_gate_save(const ei_gate *g, const char *path);
void ei_gate_free(ei_gate *g);
int64_t ei_gate_n_params(const ei_gate *g);

/* -------------------------------------------------------------- session */
typedef struct {
    int n_ctx;          /* full attention: KV cache positions (0 = the model's trained context) */
    int n_chunk;        /* tokens per prefill call: activations are sized for this (default 128) */
    int n_threads;      /* default 1 */
    ei_kv_type kv_type; /* default F16 */
    /* EdgeInfinite path (method.md section 2) */
    int infinite;       /* 0: full attention; 1: sink + window KV + compressed memory */
    int n_sink, n_window;
    ei_update_rule update;
    const ei_gate *gate;   /* NULL and gate_const < 0: memory is not read (= StreamingLLM) */
    float gate_const;      /* >= 0: a constant gate value, for experiments (default -1: off) */
    int freeze_memory;     /* 1: evicted tokens are dropped instead of compressed */
    /* Which window tokens leave when the window overflows. EI_EVICT_OLDEST (default): the oldest L,
     * into memory (or dropped). The two KV-eviction baselines keep the same budget and drop, per
     * layer and KV head, the L window tokens with the lowest score, never among the n_recent newest
     * (no memory, so no gate); the kept tokens are re-rotated to contiguous cache positions.
     * EI_EVICT_H2O (heavy hitters): score = attention received so far, summed over the group's query
     * heads and every query since the token arrived. EI_EVICT_SNAPKV: score = attention received from
     * the n_observe queries just before the eviction (the observation window), summed over the group's
     * query heads, then max-pooled over EI_SNAPKV_POOL neighbouring window tokens. */
    int evict;             /* ei_evict_policy */
    int n_recent;          /* window tokens always kept (0 = H2O: half the window; SnapKV: n_observe) */
    int n_observe;         /* SnapKV: queries in the observation window (0 = 32, at most the chunk) */
    int dynamic_shape;     /* 0 (default): every prefill call runs the plan's fixed shape, a chunk of
                            * n_chunk rows, the last one padded (method.md section 6); 1: a short
                            * chunk computes only its own rows */
} ei_session_params;

/* Session parameters for a profile on a given path (n_ctx: the full-attention context). */
ei_session_params ei_session_params_for(const ei_profile *p, ei_mode path, int n_ctx, int n_threads);
ei_session_params ei_session_default_params(void);
ei_session *ei_session_new(const ei_model *m, const ei_session_params *p);
void ei_session_free(ei_session *s);
void ei_session_reset(ei_session *s);
int ei_session_n_past(const ei_session *s);
size_t ei_session_arena_bytes(const ei_session *s);

/* Session state snapshots: everything the session has read (KV cache, memory, stream position, the
 * last logits) copied into a buffer of the caller's, and put back later, so a long shared prefix
 * (one document, several questions) is evaluated once. The size is fixed by the plan (the arena and
 * a small header), whatever the number of tokens read. A state goes back only into the session that
 * saved it. Saving between two ei_session_eval calls, at a boundary where the progress callback was
 * called or at the end, and continuing from the loaded state gives the same bits as not stopping.
 * Returns 0, or -1 (buffer too small, a state of another session; the session is unchanged). */
size_t ei_session_state_size(const ei_session *s);
int ei_session_state_save(const ei_session *s, void *buf, size_t size);
int ei_session_state_load(ei_session *s, const void *buf, size_t size);

/* Shapes actually run since the session was created or reset: forward calls, the rows their matrix
 * products computed and how many of those were padding (fixed shapes: a prefill call computes
 * n_chunk rows whatever its token count; a decode call computes 1). */
typedef struct { int64_t calls, rows, pad_rows; } ei_shape_stats;
void ei_session_shape_stats(const ei_session *s, ei_shape_stats *out);

/* Memory statistics (EdgeInfinite path): tokens in sink, window and memory, and norms. */
typedef struct {
    int64_t n_sink, n_window, n_memory;
    double m_norm_max, z_norm_max;  /* largest Frobenius norm of M and 2-norm of z over layers/heads */
    double m_norm_mean, z_norm_mean;
    int non_finite;                 /* 1 when any M or z entry is NaN or Inf */
} ei_memory_stats;
void ei_session_memory_stats(const ei_session *s, ei_memory_stats *out);

/* The buffers a session allocates, in order: name and bytes. Returns the number of buffers and
 * fills up to cap entries; total bytes = ei_session_arena_bytes of a session made with p. */
typedef struct { const char *name; size_t bytes; } ei_plan_entry;
int ei_plan_describe(const ei_model *m, const ei_session_params *p, ei_plan_entry *out, int cap, size_t *total);

/* Progress of a long evaluation: called after each chunk with tokens done and total. */
typedef void (*ei_progress_fn)(void *user, int64_t done, int64_t total);

/* Appends n tokens to the session (in chunks of n_chunk). Afterwards ei_session_logits() holds the
 * logits of the last token. When all_logits is non-NULL it receives n*n_vocab logits, one row per
 * token. Returns 0, or -1 (context full, bad token id; nothing is evaluated then). */
int ei_session_eval(ei_session *s, const int32_t *tokens, int64_t n, float *all_logits,
                    ei_progress_fn progress, void *user);
const float *ei_session_logits(const ei_session *s);

/* -------------------------------------------------------------- sampler */
typedef struct {
    float temperature;     /* <= 0: greedy */
    int top_k;             /* <= 0: off */
    float top_p;           /* >= 1: off */
    float min_p;           /* <= 0: off */
    float repeat_penalty;  /* 1: off */
    int repeat_last_n;     /* tokens considered by the penalty */
    uint64_t seed;
} ei_sampler_params;

ei_sampler_params ei_sampler_default_params(void);
ei_sampler *ei_sampler_new(const ei_sampler_params *p, int n_vocab);
void ei_sampler_free(ei_sampler *s);
int32_t ei_sampler_sample(ei_sampler *s, const float *logits);
void ei_sampler_accept(ei_sampler *s, int32_t token);

/* Peak resident set size of this process in bytes (from the OS). */
uint64_t ei_peak_rss_bytes(void);
/* Current resident set size of this process in bytes (0 when the OS does not say). */
uint64_t ei_current_rss_bytes(void);
/* Monotonic clock in seconds. */
double ei_time_s(void);

#ifdef __cplusplus
}
#endif
#endif

/* edgeinf — command-line front end. Uses only the public API in edgeinf.h.
 *   edgeinf run  -m MODEL (-p PROMPT | -f FILE) [options]   generate text
 *   edgeinf info -m MODEL                                   describe a model file
 *   edgeinf gate-new -m MODEL -o FILE [--type T] [--bias B]  write an untrained gate adapter
 *   edgeinf convert-llama2c CHECKPOINT TOKENIZER OUT.gguf    import a llama2.c model */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeinf.h"
#include "eval/eval.h"

static int die(const char *fmt, const char *a) {
    fprintf(stderr, "edgeinf: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: edgeinf run -m MODEL (-p PROMPT | -f FILE) [options]\n"
            "       edgeinf plan -m MODEL [--profile NAME] [--mode full|infinite] [options]\n"
            "       edgeinf info -m MODEL\n"
            "       edgeinf gate-new -m MODEL -o FILE [--type head-scalar|layer-mix] [--bias B] [profile options]\n"
            "                      an untrained gate adapter for MODEL and the profile: weights 0, bias B in\n"
            "                      every head (default -8, S-SFT's starting point: g = sigmoid(B) = 3.4e-4);\n"
            "                      --task/--profile and the overrides below pick the profile as for run\n"
            "       edgeinf eval (longbench|passkey|needle|ppl|qmsum|report) ...   (edgeinf eval --help)\n"
            "       edgeinf convert-llama2c CHECKPOINT TOKENIZER OUT.gguf\n"
            "run options:\n"
            "  -n N                tokens to generate (default: the profile's max_new_tokens)\n"
            "  --chat              wrap the prompt in the model's chat template\n"
            "  --system TEXT       system message for --chat\n"
            "  --temp T            temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K --top-p P --min-p P --repeat-penalty R --repeat-last-n N --seed S\n"
            "  -t N                threads (default 2)\n"
            "  --ignore-eos        do not stop at end-of-generation tokens\n"
            "  --bos               prepend BOS even if the model does not ask for it\n"
            "long inputs (EdgeInfinite, method.md sections 2, 3, 6, 7):\n"
            "  --mode auto|full|infinite   auto: full attention when prompt + N fit the profile's\n"
            "                      full-KV budget, else EdgeInfinite (default auto)\n"
            "  --task NAME         chat|summarize|qa|stream: picks the profile (default by input length)\n"
            "  --profile NAME      a built-in profile: chat, summarize, qa, stream\n"
            "  --profile-file F    override profile fields from a 'key = value' file\n"
            "  --chunk L --sink S --window W   override the profile's segment, sink and window sizes\n"
            "  --update linear|delta  memory update rule;  --kv f16|f32  KV cache type\n"
            "  --gate FILE         memory gate adapter (GGUF); without it the gate is closed and the\n"
            "                      memory is not read (= StreamingLLM)\n"
            "  --gate-const G      constant gate value in [0, 1] (experiments; memory is read)\n"
            "  --freeze-memory     drop evicted tokens instead of compressing them\n"
            "  --evict oldest|h2o|snapkv  which window tokens leave: the oldest (default; into memory) or,\n"
            "                      as a KV-eviction baseline (dropped; no gate), those with the least attention\n"
            "                      received: since they arrived (H2O) or from the last --observe queries,\n"
            "                      max-pooled over %d neighbours (SnapKV)\n"
            "  --recent N          H2O, SnapKV: newest window tokens always kept (default: H2O half the\n"
            "                      window, SnapKV the observation window)\n"
            "  --observe N         SnapKV: queries whose attention scores the window (default 32, at most the chunk)\n"
            "  --ctx N             full attention: KV positions (default prompt + N, at most the trained context)\n",
            EI_SNAPKV_POOL);
}

/* ------------------------------------------------------------ arguments */

typedef struct {
    const char *model, *prompt, *file, *system;
    int n_predict, chat, threads, ctx, ignore_eos, force_bos;
    ei_sampler_params sp;
    /* long-input path: -1 / NULL = take the profile's value */
    const char *profile, *profile_file, *task, *gate;
    ei_mode mode;
    int chunk, sink, window, update, kv, freeze_memory, evict, recent, observe;
    float gate_const;
} run_args;

static int parse_int(const char *flag, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "edgeinf: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_float(const char *flag, const char *v, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || *end || end == v || !(x >= lo && x <= hi)) {
        fprintf(stderr, "edgeinf: %s expects a number in [%g, %g], got '%s'\n", flag, (double)lo, (double)hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_run_args(int argc, char **argv, run_args *a, int need_prompt) {
    memset(a, 0, sizeof *a);
    a->n_predict = -1;
    a->threads = 2;
    a->chunk = a->sink = a->window = a->update = a->kv = -1;
    a->gate_const = -1.0f;
    a->mode = EI_MODE_AUTO;
    a->sp = ei_sampler_default_params();
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        int has_v = i + 1 < argc;
        const char *v = has_v ? argv[i + 1] : NULL;
        int ok = 0, takes = 1;
#define IS(s) (strcmp(f, s) == 0)
        if (IS("--chat")) { a->chat = 1; takes = 0; ok = 1; }
        else if (IS("--ignore-eos")) { a->ignore_eos = 1; takes = 0; ok = 1; }
        else if (IS("--bos")) { a->force_bos = 1; takes = 0; ok = 1; }
        else if (IS("--freeze-memory")) { a->freeze_memory = 1; takes = 0; ok = 1; }
        else if (IS("-h") || IS("--help")) { usage(stdout); exit(0); }
        else if (!has_v) {
            if (IS("-m") || IS("-p") || IS("-f") || IS("-n") || IS("-t") || IS("--temp") || IS("--ctx") ||
                IS("--chunk") || IS("--system") || IS("--top-k") || IS("--top-p") || IS("--min-p") ||
                IS("--repeat-penalty") || IS("--repeat-last-n") || IS("--seed") || IS("--kv") || IS("--mode") ||
                IS("--task") || IS("--profile") || IS("--profile-file") || IS("--sink") || IS("--window") ||
                IS("--update") || IS("--gate") || IS("--gate-const") || IS("--evict") || IS("--recent") ||
                IS("--observe")) {
                fprintf(stderr, "edgeinf: %s needs a value\n", f);
                return -1;
            }
            fprintf(stderr, "edgeinf: unknown option '%s' (see edgeinf run --help)\n", f);
            return -1;
        }
        else if (IS("-m")) { a->model = v; ok = 1; }
        else if (IS("-p")) { a->prompt = v; ok = 1; }
        else if (IS("-f")) { a->file = v; ok = 1; }
        else if (IS("--system")) { a->system = v; ok = 1; }
        else if (IS("-n")) ok = !parse_int(f, v, 0, 1 << 24, &a->n_predict);
        else if (IS("-t")) ok = !parse_int(f, v, 1, 64, &a->threads);
        else if (IS("--ctx")) ok = !parse_int(f, v, 1, 1 << 24, &a->ctx);
        else if (IS("--chunk")) ok = !parse_int(f, v, 1, 8192, &a->chunk);
        else if (IS("--sink")) ok = !parse_int(f, v, 0, 1 << 20, &a->sink);
        else if (IS("--window")) ok = !parse_int(f, v, 1, 1 << 20, &a->window);
        else if (IS("--task")) { a->task = v; ok = 1; }
        else if (IS("--profile")) { a->profile = v; ok = 1; }
        else if (IS("--profile-file")) { a->profile_file = v; ok = 1; }
        else if (IS("--gate")) { a->gate = v; ok = 1; }
        else if (IS("--gate-const")) ok = !parse_float(f, v, 0, 1, &a->gate_const);
        else if (IS("--recent")) ok = !parse_int(f, v, 1, 1 << 20, &a->recent);
        else if (IS("--observe")) ok = !parse_int(f, v, 1, 8192, &a->observe);
        else if (IS("--evict")) {
            if (!strcmp(v, "oldest")) a->evict = EI_EVICT_OLDEST;
            else if (!strcmp(v, "h2o")) a->evict = EI_EVICT_H2O;
            else if (!strcmp(v, "snapkv")) a->evict = EI_EVICT_SNAPKV;
            else { fprintf(stderr, "edgeinf: --evict expects oldest, h2o or snapkv, got '%s'\n", v); return -1; }
            ok = 1;
        }
        else if (IS("--mode")) {
            if (!strcmp(v, "auto")) a->mode = EI_MODE_AUTO;
            else if (!strcmp(v, "full")) a->mode = EI_MODE_FULL;
            else if (!strcmp(v, "infinite")) a->mode = EI_MODE_INFINITE;
            else { fprintf(stderr, "edgeinf: --mode expects auto, full or infinite, got '%s'\n", v); return -1; }
            ok = 1;
        } else if (IS("--update")) {
            if (!strcmp(v, "linear")) a->update = EI_UPDATE_LINEAR;
            else if (!strcmp(v, "delta")) a->update = EI_UPDATE_DELTA;
            else { fprintf(stderr, "edgeinf: --update expects linear or delta, got '%s'\n", v); return -1; }
            ok = 1;
        }
        else if (IS("--temp")) ok = !parse_float(f, v, 0, 100, &a->sp.temperature);
        else if (IS("--top-k")) ok = !parse_int(f, v, 0, 1 << 24, &a->sp.top_k);
        else if (IS("--top-p")) ok = !parse_float(f, v, 0, 1, &a->sp.top_p);
        else if (IS("--min-p")) ok = !parse_float(f, v, 0, 1, &a->sp.min_p);
        else if (IS("--repeat-penalty")) ok = !parse_float(f, v, 0.01f, 100, &a->sp.repeat_penalty);
        else if (IS("--repeat-last-n")) ok = !parse_int(f, v, 0, 1 << 20, &a->sp.repeat_last_n);
        else if (IS("--seed")) {
            int seed;
            ok = !parse_int(f, v, 0, 0x7fffffff, &seed);
            a->sp.seed = (uint64_t)seed;
        } else if (IS("--kv")) {
            if (strcmp(v, "f16") == 0) a->kv = EI_KV_F16;
            else if (strcmp(v, "f32") == 0) a->kv = EI_KV_F32;
            else { fprintf(stderr, "edgeinf: --kv expects f16 or f32, got '%s'\n", v); return -1; }
            ok = 1;
        } else {
            fprintf(stderr, "edgeinf: unknown option '%s' (see edgeinf run --help)\n", f);
            return -1;
        }
#undef IS
        if (!ok) return -1;
        i += takes;
    }
    if (!a->model) { fprintf(stderr, "edgeinf: -m MODEL is required\n"); return -1; }
    if (need_prompt && !!a->prompt + !!a->file != 1) { fprintf(stderr, "edgeinf: give exactly one of -p PROMPT or -f FILE\n"); return -1; }
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "edgeinf: %s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap > ((size_t)1 << 32)) { free(buf); buf = NULL; fprintf(stderr, "edgeinf: %s: larger than 4 GiB\n", path); break; }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; fprintf(stderr, "edgeinf: %s: read error\n", path); }
    fclose(f);
    const char *nul = buf ? memchr(buf, 0, n) : NULL;
    if (nul) {
        fprintf(stderr, "edgeinf: %s: a NUL byte at offset %zu (a prompt file must be text)\n", path, (size_t)(nul - buf));
        free(buf), buf = NULL;
    }
    if (buf) { buf[n] = 0; *len = n; }
    return buf;
}

/* A number for a JSON line: NaN and Inf (a memory that overflowed) are not JSON, null is. */
static const char *json_number(char buf[32], double v) {
    if (isfinite(v)) snprintf(buf, 32, "%.6g", v);
    else snprintf(buf, 32, "null");
    return buf;
}

/* ------------------------------------------------------- profile + path */

/* What a request runs with: the profile (after file and flag overrides), the path routing chose
 * and why, the session parameters, and the gate adapter if one was given. */
typedef struct {
    ei_profile prof;
    ei_mode path;
    char why[256];
    int n_predict;
    ei_session_params sp;
    ei_gate *gate;
} run_setup;

/* n_tok < 0: no prompt (plan). Returns 0, or 1 after printing a one-line error. */
static int setup_run(const run_args *a, const ei_model *m, int64_t n_tok, run_setup *r) {
    const ei_model_info *in = ei_model_get_info(m);
    memset(r, 0, sizeof *r);
    if (a->task && ei_profile_builtin(a->task, &r->prof)) {
        fprintf(stderr, "edgeinf: --task '%s' is unknown (tasks: chat, summarize, qa, stream)\n", a->task);
        return 1;
    }
    const char *name = a->profile ? a->profile : ei_profile_for_task(a->task, n_tok < 0 ? 0 : n_tok);
    if (ei_profile_builtin(name, &r->prof)) return die("--profile: %s", ei_last_error());
    /* a profile picked automatically adapts to a short-context model; one named explicitly must fit */
    if (!a->profile && ei_profile_fit(&r->prof, m))
        fprintf(stderr, "edgeinf: profile %s scaled down to the model's trained context of %d tokens\n", r->prof.name,
                in->n_ctx_train);
    if (a->profile_file && ei_profile_load_file(a->profile_file, &r->prof)) return die("%s", ei_last_error());
    if (a->chunk > 0) r->prof.chunk = a->chunk;
    if (a->sink >= 0) r->prof.sink = a->sink;
    if (a->window > 0) r->prof.window = a->window;
    if (a->update >= 0) r->prof.update = (ei_update_rule)a->update;
    if (a->kv >= 0) r->prof.kv_type = (ei_kv_type)a->kv;
    if (ei_profile_check(&r->prof, m)) return die("%s", ei_last_error());
    r->n_predict = a->n_predict >= 0 ? a->n_predict : r->prof.max_new_tokens;
    if (a->gate && a->gate_const >= 0) return die("%s", "give --gate FILE or --gate-const G, not both");

    int64_t n_ctx;
    if (n_tok < 0) { /* a plan: EdgeInfinite unless full attention is asked for */
        r->path = a->mode == EI_MODE_FULL ? EI_MODE_FULL : EI_MODE_INFINITE;
        snprintf(r->why, sizeof r->why, "%s", r->path == EI_MODE_FULL ? "full attention (requested)" : "EdgeInfinite");
        n_ctx = a->ctx ? a->ctx : r->prof.full_kv_budget;
    } else {
        r->path = ei_route(&r->prof, a->mode, n_tok, r->n_predict, r->why, sizeof r->why);
        n_ctx = a->ctx ? a->ctx : n_tok + r->n_predict;
        if (!a->ctx && n_ctx > in->n_ctx_train) n_ctx = in->n_ctx_train;
        if (r->path == EI_MODE_FULL && n_tok > n_ctx) {
            fprintf(stderr,
                    "edgeinf: prompt is %lld tokens, longer than the context of %lld tokens (use --mode infinite or auto, or --ctx)\n",
                    (long long)n_tok, (long long)n_ctx);
            return 1;
        }
    }
    r->sp = ei_session_params_for(&r->prof, r->path, (int)n_ctx, a->threads);
    r->sp.gate_const = a->gate_const;
    r->sp.freeze_memory = a->freeze_memory;
    r->sp.evict = a->evict;
    r->sp.n_recent = a->recent;
    r->sp.n_observe = a->observe;
    if (a->evict != EI_EVICT_OLDEST && (a->gate || a->gate_const >= 0))
        return die("%s", "--evict h2o|snapkv is a baseline without memory: give no --gate or --gate-const");
    if (a->recent && a->evict == EI_EVICT_OLDEST) return die("%s", "--recent applies to --evict h2o|snapkv only");
    if (a->observe && a->evict != EI_EVICT_SNAPKV) return die("%s", "--observe applies to --evict snapkv only");
    if (a->recent > r->prof.window) {
        fprintf(stderr, "edgeinf: %d recent tokens do not fit the window of %d (--recent)\n", a->recent, r->prof.window);
        return 1;
    }
    if (a->gate) {
        r->gate = ei_gate_load(a->gate, m);
        if (!r->gate) return die("%s", ei_last_error());
        r->sp.gate = r->gate;
    }
    return 0;
}

static void describe_setup(const run_setup *r) {
    const ei_profile *p = &r->prof;
    fprintf(stderr, "edgeinf: profile %s: chunk %d, sink %d, window %d, full-KV budget %d, %s memory, %s KV\n", p->name,
            p->chunk, p->sink, p->window, p->full_kv_budget, p->update == EI_UPDATE_DELTA ? "delta" : "linear",
            p->kv_type == EI_KV_F16 ? "f16" : "f32");
    fprintf(stderr, "edgeinf: path: %s\n", r->why);
    if (r->path != EI_MODE_INFINITE) return;
    if (r->sp.evict == EI_EVICT_H2O)
        fprintf(stderr, "edgeinf: eviction: H2O, the least-attended window tokens are dropped (%d newest always kept)\n",
                r->sp.n_recent > 0 ? r->sp.n_recent : p->window / 2);
    else if (r->sp.evict == EI_EVICT_SNAPKV)
        fprintf(stderr, "edgeinf: eviction: SnapKV, the window tokens least attended by the last %d queries are dropped\n",
                r->sp.n_observe > 0 ? r->sp.n_observe : (p->chunk < 32 ? p->chunk : 32));
    else if (r->sp.freeze_memory) fprintf(stderr, "edgeinf: memory: frozen (evicted tokens are dropped)\n");
    else if (r->gate) fprintf(stderr, "edgeinf: memory: read through the gate adapter (%lld parameters)\n", (long long)ei_gate_n_params(r->gate));
    else if (r->sp.gate_const >= 0) fprintf(stderr, "edgeinf: memory: read with a constant gate %g\n", (double)r->sp.gate_const);
    else fprintf(stderr, "edgeinf: memory: not read (no --gate: the gate is closed, = StreamingLLM)\n");
}

/* ------------------------------------------------------------- progress */

typedef struct { double t0; int shown; } progress_state;

static void progress_bar(void *user, int64_t done, int64_t total) {
    progress_state *ps = user;
    double el = ei_time_s() - ps->t0;
    if (el < 1.0 && !ps->shown) return; /* only for prefills longer than a second */
    ps->shown = 1;
    double eta = done > 0 ? el * (double)(total - done) / (double)done : 0;
    int width = 30, fill = (int)(width * done / (total ? total : 1));
    fprintf(stderr, "\r[%.*s%*s] %lld/%lld tokens  %.0f tok/s  ETA %.1fs ", fill, "##############################",
            width - fill, "", (long long)done, (long long)total, done / (el > 0 ? el : 1), eta);
    if (done == total) fprintf(stderr, "\n");
}

/* ------------------------------------------------------------------ run */

static int cmd_run(int argc, char **argv) {
    run_args a;
    if (parse_run_args(argc, argv, &a, 1)) return 2;
    char *text = NULL, *wrapped = NULL;
    size_t len = 0;
    if (a.file) {
        text = read_file(a.file, &len);
        if (!text) return 1;
    } else {
        len = strlen(a.prompt);
        text = malloc(len + 1);
        if (!text) return die("%s", "out of memory");
        memcpy(text, a.prompt, len + 1);
    }
    double t_start = ei_time_s();
    ei_model *m = ei_model_load(a.model);
    if (!m) {
        free(text);
        return die("%s", ei_last_error());
    }
    const ei_model_info *in = ei_model_get_info(m);
    int rc = 1;
    int32_t *toks = NULL;
    ei_session *s = NULL;
    ei_sampler *smp = NULL;
    ei_text_stream *ts = NULL;
    run_setup rs;
    memset(&rs, 0, sizeof rs);
    if (a.chat) {
        int64_t need = ei_chat_format(m, a.system, text, NULL, 0);
        if (need < 0) { die("%s", ei_last_error()); goto out; }
        wrapped = malloc((size_t)need + 1);
        if (!wrapped) goto oom;
        ei_chat_format(m, a.system, text, wrapped, (size_t)need + 1);
        free(text);
        text = wrapped;
        wrapped = NULL;
        len = (size_t)need;
    }
    double t_tok0 = ei_time_s();
    /* llama-style vocabs want BOS; gpt2-style ones (SmolLM2) do not: the GGUF metadata says */
    int add_bos = a.force_bos || ei_token_add_bos(m);
    int64_t n_tok = ei_tokenize(m, text, len, add_bos, a.chat, NULL, 0);
    if (n_tok < 0) { die("prompt: %s", ei_last_error()); goto out; }
    if (n_tok == 0) { die("%s", "prompt is empty after tokenization"); goto out; }
    toks = malloc((size_t)n_tok * sizeof *toks);
    if (!toks) goto oom;
    ei_tokenize(m, text, len, add_bos, a.chat, toks, n_tok);
    if (setup_run(&a, m, n_tok, &rs)) goto out;
    describe_setup(&rs);
    const ei_session_params sp = rs.sp;
    const int n_predict = rs.n_predict;
    const double rss_before_mb = (double)ei_current_rss_bytes() / (1024.0 * 1024.0);
    s = ei_session_new(m, &sp);
    if (!s) { die("%s", ei_last_error()); goto out; }
    smp = ei_sampler_new(&a.sp, in->n_vocab);
    ts = ei_text_stream_new(m, 0);
    if (!smp || !ts) goto oom;

    progress_state ps = {ei_time_s(), 0};
    int tty = isatty(2);
    double t_pre0 = ei_time_s();
    if (ei_session_eval(s, toks, n_tok, NULL, tty ? progress_bar : NULL, &ps)) { die("%s", ei_last_error()); goto out; }
    for (int64_t i = 0; i < n_tok; i++) ei_sampler_accept(smp, toks[i]);
    int32_t next = ei_sampler_sample(smp, ei_session_logits(s));
    double t_first = ei_time_s();
    double prefill_s = t_first - t_pre0;

    char piece[512];
    int n_gen = 0;
    double t_dec0 = t_first;
    while (n_gen < n_predict) {
        if (!a.ignore_eos && ei_token_is_eog(m, next)) break;
        int k = ei_text_stream_push(ts, next, piece, sizeof piece);
        if (k > 0) { fwrite(piece, 1, (size_t)k, stdout); fflush(stdout); }
        n_gen++;
        ei_sampler_accept(smp, next);
        if (n_gen == n_predict) break;
        if (!sp.infinite && ei_session_n_past(s) >= sp.n_ctx) {
            fprintf(stderr, "\nedgeinf: context of %d tokens is full; stopping\n", sp.n_ctx);
            break;
        }
        if (ei_session_eval(s, &next, 1, NULL, NULL, NULL)) { die("%s", ei_last_error()); goto out; }
        next = ei_sampler_sample(smp, ei_session_logits(s));
    }
    double t_end = ei_time_s();
    int k = ei_text_stream_flush(ts, piece, sizeof piece);
    if (k > 0) fwrite(piece, 1, (size_t)k, stdout);
    printf("\n");
    fflush(stdout);
    /* decode rate counts the n_gen-1 forward steps after the first token */
    double dec_s = t_end - t_dec0;
    double dec_rate = n_gen > 1 && dec_s > 0 ? (n_gen - 1) / dec_s : 0;
    double ttft_ms = (t_first - t_tok0) * 1e3;
    char m_norm[32], z_norm[32];
    double rss_mb = (double)ei_peak_rss_bytes() / (1024.0 * 1024.0);
    fprintf(stderr, "edgeinf: model %s (%s, %s kernels), %d threads, load %.0f ms\n", in->name, in->arch, ei_isa(),
            a.threads, (t_tok0 - t_start) * 1e3);
    fprintf(stderr, "edgeinf: prompt %lld tokens, TTFT %.1f ms (tokenization included), prefill %.1f tok/s\n",
            (long long)n_tok, ttft_ms, n_tok / prefill_s);
    fprintf(stderr, "edgeinf: generated %d tokens, decode %.1f tok/s, peak RSS %.1f MB (session arena %.1f MB)\n", n_gen,
            dec_rate, rss_mb, (double)ei_session_arena_bytes(s) / (1024.0 * 1024.0));
    ei_memory_stats ms;
    ei_session_memory_stats(s, &ms);
    if (sp.infinite)
        fprintf(stderr, "edgeinf: cache: %lld sink + %lld window tokens, %lld tokens in memory (|M| max %.3g, |z| max %.3g%s)\n",
                (long long)ms.n_sink, (long long)ms.n_window, (long long)ms.n_memory, ms.m_norm_max, ms.z_norm_max,
                ms.non_finite ? ", NON-FINITE VALUES" : "");
    ei_shape_stats shp;
    ei_session_shape_stats(s, &shp);
    fprintf(stderr, "edgeinf: shapes: %lld forward calls, %lld rows computed (%lld of them padding to the fixed %d-row chunk)\n",
            (long long)shp.calls, (long long)shp.rows, (long long)shp.pad_rows, sp.n_chunk);
    fprintf(stderr,
            "edgeinf: stats {\"prompt_tokens\":%lld,\"ttft_ms\":%.3f,\"prefill_tok_s\":%.3f,\"decode_tokens\":%d,"
            "\"decode_tok_s\":%.3f,\"peak_rss_mb\":%.2f,\"rss_before_session_mb\":%.2f,\"arena_mb\":%.3f,"
            "\"threads\":%d,\"isa\":\"%s\",\"path\":\"%s\",\"profile\":\"%s\",\"memory_tokens\":%lld,"
            "\"m_norm_max\":%s,\"z_norm_max\":%s,\"non_finite\":%d,\"build\":\"%s\"}\n",
            (long long)n_tok, ttft_ms, prefill_s > 0 ? n_tok / prefill_s : 0.0, n_gen, dec_rate, rss_mb, rss_before_mb,
            (double)ei_session_arena_bytes(s) / (1024.0 * 1024.0), a.threads, ei_isa(),
            sp.infinite ? "infinite" : "full", rs.prof.name, (long long)ms.n_memory, json_number(m_norm, ms.m_norm_max),
            json_number(z_norm, ms.z_norm_max), ms.non_finite, ei_build_id());
    rc = 0;
    goto out;
oom:
    die("%s", "out of memory");
out:
    ei_text_stream_free(ts);
    ei_sampler_free(smp);
    ei_session_free(s);
    ei_gate_free(rs.gate);
    free(toks);
    free(text);
    free(wrapped);
    ei_model_free(m);
    return rc;
}

/* ----------------------------------------------------------------- plan */

/* Prints every buffer a session of this profile allocates (one arena, method.md section 6) and
 * what the process should hold resident: the mapped weights plus the arena. */
static int cmd_plan(int argc, char **argv) {
    run_args a;
    if (parse_run_args(argc, argv, &a, 0)) return 2;
    ei_model *m = ei_model_load(a.model);
    if (!m) return die("%s", ei_last_error());
    run_setup rs;
    int rc = 1;
    if (setup_run(&a, m, -1, &rs)) goto out;
    describe_setup(&rs);
    ei_plan_entry e[64];
    size_t total = 0;
    int n = ei_plan_describe(m, &rs.sp, e, 64, &total);
    if (n < 0) { die("%s", ei_last_error()); goto out; }
    const ei_model_info *in = ei_model_get_info(m);
    if (rs.sp.infinite)
        printf("plan: %s, EdgeInfinite, %d sink + %d window + %d segment positions per layer, %d threads\n", rs.prof.name,
               rs.sp.n_sink, rs.sp.n_window, rs.sp.n_chunk, rs.sp.n_threads);
    else
        printf("plan: %s, full attention, %d positions per layer, chunk %d, %d threads\n", rs.prof.name, rs.sp.n_ctx,
               rs.sp.n_chunk, rs.sp.n_threads);
    printf("shapes: prefill calls of %d rows (the last chunk padded), decode calls of 1 row\n", rs.sp.n_chunk);
    for (int i = 0; i < n && i < 64; i++) printf("  %-44s %12zu bytes  %9.3f MiB\n", e[i].name, e[i].bytes, e[i].bytes / 1048576.0);
    printf("  %-44s %12zu bytes  %9.3f MiB  (one allocation at session creation)\n", "session arena total", total, total / 1048576.0);
    printf("  %-44s %12llu bytes  %9.3f MiB  (memory-mapped, read-only)\n", "model file (weights)", (unsigned long long)in->file_bytes,
           in->file_bytes / 1048576.0);
    printf("  %-44s %12llu bytes  %9.3f MiB\n", "resident after a run (weights + arena)", (unsigned long long)(in->file_bytes + total),
           (in->file_bytes + total) / 1048576.0);
    rc = 0;
out:
    ei_gate_free(rs.gate);
    ei_model_free(m);
    return rc;
}

/* ------------------------------------------------------------- gate-new */

/* An untrained gate adapter: w = 0 and b = B in every head, so g = sigmoid(B) whatever the input.
 * It is S-SFT's starting point (B = -8, method.md section 3) and, with B = logit(G), the constant
 * gate G as a file. The profile (S, W, L, update rule) is chosen as for `run`. */
static int cmd_gate_new(int argc, char **argv) {
    const char *out = NULL;
    ei_gate_type type = EI_GATE_HEAD_SCALAR;
    float bias = -8.0f;
    char **rest = malloc((size_t)(argc + 1) * sizeof *rest);
    if (!rest) return die("%s", "out of memory");
    int n_rest = 0, rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int ours = !strcmp(f, "-o") || !strcmp(f, "--type") || !strcmp(f, "--bias");
        if (ours && !v) { fprintf(stderr, "edgeinf: gate-new: %s needs a value\n", f); goto done; }
        if (!strcmp(f, "-o")) out = v;
        else if (!strcmp(f, "--bias")) { if (parse_float(f, v, -30.0f, 30.0f, &bias)) goto done; }
        else if (!strcmp(f, "--type")) {
            if (!strcmp(v, "head-scalar")) type = EI_GATE_HEAD_SCALAR;
            else if (!strcmp(v, "layer-mix")) type = EI_GATE_LAYER_MIX;
            else { fprintf(stderr, "edgeinf: gate-new: --type expects head-scalar or layer-mix, got '%s'\n", v); goto done; }
        } else { rest[n_rest++] = argv[i]; continue; }
        i++;
    }
    run_args a;
    if (!out) { fprintf(stderr, "edgeinf: gate-new: -o FILE is required\n"); goto done; }
    if (parse_run_args(n_rest, rest, &a, 0)) goto done;
    if (a.gate || a.gate_const >= 0 || a.evict || a.freeze_memory) {
        fprintf(stderr, "edgeinf: gate-new: --gate, --gate-const, --evict and --freeze-memory do not apply\n");
        goto done;
    }
    rc = 1;
    ei_model *m = ei_model_load(a.model);
    if (!m) { die("%s", ei_last_error()); goto done; }
    run_setup rs;
    ei_gate *g = NULL;
    if (setup_run(&a, m, -1, &rs)) {
        /* setup_run said why */
    } else if (!(g = ei_gate_new(m, type, &rs.prof, bias)) || ei_gate_save(g, out)) {
        die("%s", ei_last_error());
    } else {
        const ei_model_info *in = ei_model_get_info(m);
        fprintf(stderr, "edgeinf: wrote %s: %s gate for %s, %lld parameters (%.3f%% of the model), b = %g (g = %.3g), "
                        "profile %s: sink %d, window %d, chunk %d, %s update\n",
                out, type == EI_GATE_LAYER_MIX ? "layer-mix" : "head-scalar", in->name, (long long)ei_gate_n_params(g),
                100.0 * (double)ei_gate_n_params(g) / (double)in->n_params, (double)bias, 1.0 / (1.0 + exp(-(double)bias)),
                rs.prof.name, rs.prof.sink, rs.prof.window, rs.prof.chunk, rs.prof.update == EI_UPDATE_DELTA ? "delta" : "linear");
        rc = 0;
    }
    ei_gate_free(rs.gate);
    ei_gate_free(g);
    ei_model_free(m);
done:
    free(rest);
    return rc;
}

/* ----------------------------------------------------------------- info */

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) path = argv[++i];
        else { fprintf(stderr, "edgeinf: info: unknown argument '%s'\n", argv[i]); return 2; }
    }
    if (!path) { fprintf(stderr, "edgeinf: info: -m MODEL is required\n"); return 2; }
    ei_model *m = ei_model_load(path);
    if (!m) return die("%s", ei_last_error());
    const ei_model_info *in = ei_model_get_info(m);
    printf("file          %s (%llu bytes, identity %s)\n", path, (unsigned long long)in->file_bytes, in->file_sha);
    printf("name          %s\n", in->name);
    printf("architecture  %s\n", in->arch);
    printf("layers        %d\nembedding     %d\nheads         %d (kv %d, head dim %d)\nffn           %d\n",
           in->n_layer, in->n_embd, in->n_head, in->n_head_kv, in->head_dim, in->n_ff);
    printf("vocab         %d\ncontext       %d (trained)\nrope          theta %g, %s\nnorm eps      %g\n", in->n_vocab,
           in->n_ctx_train, (double)in->rope_theta, in->rope_neox ? "neox" : "normal", (double)in->norm_eps);
    printf("parameters    %lld (%.1f MB of tensors)\nkernels       %s\nedgeinf       %s\n", (long long)in->n_params,
           (double)in->weight_bytes / 1e6, ei_isa(), ei_build_id());
    char buf[128];
    if (ei_model_meta(m, "tokenizer.ggml.model", buf, sizeof buf) == 0) printf("tokenizer     %s", buf);
    if (ei_model_meta(m, "tokenizer.ggml.pre", buf, sizeof buf) == 0) printf(" (pre %s)", buf);
    printf("\n");
    /* tensor types: counts per type, then every tensor */
    int n = ei_model_n_tensors(m);
    printf("tensors       %d\n", n);
    for (int i = 0; i < n; i++) {
        ei_tensor_info t;
        ei_model_tensor(m, i, &t);
        printf("  %-28s %-6s [", t.name, t.type);
        for (int d = 0; d < t.n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t.ne[d]);
        printf("] %llu bytes\n", (unsigned long long)t.bytes);
    }
    ei_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(argv[1], "plan") == 0) return cmd_plan(argc - 2, argv + 2);
    if (strcmp(argv[1], "gate-new") == 0) return cmd_gate_new(argc - 2, argv + 2);
    if (strcmp(argv[1], "eval") == 0) return eval_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "convert-llama2c") == 0) {
        if (argc != 5) { fprintf(stderr, "edgeinf: usage: edgeinf convert-llama2c CHECKPOINT TOKENIZER OUT.gguf\n"); return 2; }
        if (ei_convert_llama2c(argv[2], argv[3], argv[4])) return die("%s", ei_last_error());
        fprintf(stderr, "edgeinf: wrote %s\n", argv[4]);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "edgeinf: unknown command '%s' (commands: run, plan, info, gate-new, eval, convert-llama2c; see edgeinf --help)\n", argv[1]);
    return 2;
}

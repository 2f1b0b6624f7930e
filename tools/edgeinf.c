/* edgeinf — command-line front end. Uses only the public API in edgeinf.h.
 *   edgeinf run  -m MODEL (-p PROMPT | -f FILE) [options]   generate text
 *   edgeinf info -m MODEL                                   describe a model file
 *   edgeinf convert-llama2c CHECKPOINT TOKENIZER OUT.gguf    import a llama2.c model */
#include <errno.h>
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
            "       edgeinf info -m MODEL\n"
            "       edgeinf convert-llama2c CHECKPOINT TOKENIZER OUT.gguf\n"
            "run options:\n"
            "  -n N                tokens to generate (default 128)\n"
            "  --chat              wrap the prompt in the model's chat template\n"
            "  --system TEXT       system message for --chat\n"
            "  --temp T            temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K --top-p P --min-p P --repeat-penalty R --repeat-last-n N --seed S\n"
            "  -t N                threads (default 2)\n"
            "  --ctx N             context size in tokens (default: prompt + N, at most the trained context)\n"
            "  --chunk N           tokens per prefill step (default 128)\n"
            "  --kv f16|f32        KV cache type (default f16)\n"
            "  --ignore-eos        do not stop at end-of-generation tokens\n"
            "  --bos               prepend BOS even if the model does not ask for it\n");
}

/* ------------------------------------------------------------ arguments */

typedef struct {
    const char *model, *prompt, *file, *system;
    int n_predict, chat, threads, ctx, chunk, ignore_eos, force_bos;
    ei_kv_type kv;
    ei_sampler_params sp;
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

static int parse_run_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    a->n_predict = 128;
    a->threads = 2;
    a->chunk = 128;
    a->kv = EI_KV_F16;
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
        else if (IS("-h") || IS("--help")) { usage(stdout); exit(0); }
        else if (!has_v) {
            if (IS("-m") || IS("-p") || IS("-f") || IS("-n") || IS("-t") || IS("--temp") || IS("--ctx") ||
                IS("--chunk") || IS("--system") || IS("--top-k") || IS("--top-p") || IS("--min-p") ||
                IS("--repeat-penalty") || IS("--repeat-last-n") || IS("--seed") || IS("--kv")) {
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
    if (!!a->prompt + !!a->file != 1) { fprintf(stderr, "edgeinf: give exactly one of -p PROMPT or -f FILE\n"); return -1; }
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
    if (buf) { buf[n] = 0; *len = n; }
    return buf;
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
    if (parse_run_args(argc, argv, &a)) return 2;
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
    int64_t want_ctx = a.ctx ? a.ctx : n_tok + a.n_predict;
    if (want_ctx > in->n_ctx_train && !a.ctx) want_ctx = in->n_ctx_train;
    if (n_tok > want_ctx) {
        fprintf(stderr, "edgeinf: prompt is %lld tokens, longer than the context of %lld tokens (use --ctx, or a longer-context model)\n",
                (long long)n_tok, (long long)want_ctx);
        goto out;
    }
    ei_session_params sp = ei_session_default_params();
    sp.n_ctx = (int)want_ctx;
    sp.n_chunk = a.chunk;
    sp.n_threads = a.threads;
    sp.kv_type = a.kv;
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
    while (n_gen < a.n_predict) {
        if (!a.ignore_eos && ei_token_is_eog(m, next)) break;
        int k = ei_text_stream_push(ts, next, piece, sizeof piece);
        if (k > 0) { fwrite(piece, 1, (size_t)k, stdout); fflush(stdout); }
        n_gen++;
        ei_sampler_accept(smp, next);
        if (n_gen == a.n_predict) break;
        if (ei_session_n_past(s) >= sp.n_ctx) {
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
    double rss_mb = (double)ei_peak_rss_bytes() / (1024.0 * 1024.0);
    fprintf(stderr, "edgeinf: model %s (%s, %s kernels), %d threads, load %.0f ms\n", in->name, in->arch, ei_isa(),
            a.threads, (t_tok0 - t_start) * 1e3);
    fprintf(stderr, "edgeinf: prompt %lld tokens, TTFT %.1f ms (tokenization included), prefill %.1f tok/s\n",
            (long long)n_tok, ttft_ms, n_tok / prefill_s);
    fprintf(stderr, "edgeinf: generated %d tokens, decode %.1f tok/s, peak RSS %.1f MB\n", n_gen, dec_rate, rss_mb);
    fprintf(stderr,
            "edgeinf: stats {\"prompt_tokens\":%lld,\"ttft_ms\":%.3f,\"prefill_tok_s\":%.3f,\"decode_tokens\":%d,"
            "\"decode_tok_s\":%.3f,\"peak_rss_mb\":%.2f,\"threads\":%d,\"isa\":\"%s\"}\n",
            (long long)n_tok, ttft_ms, n_tok / prefill_s, n_gen, dec_rate, rss_mb, a.threads, ei_isa());
    rc = 0;
    goto out;
oom:
    die("%s", "out of memory");
out:
    ei_text_stream_free(ts);
    ei_sampler_free(smp);
    ei_session_free(s);
    free(toks);
    free(text);
    free(wrapped);
    ei_model_free(m);
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
    printf("parameters    %lld (%.1f MB of tensors)\nkernels       %s\n", (long long)in->n_params,
           (double)in->weight_bytes / 1e6, ei_isa());
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
    fprintf(stderr, "edgeinf: unknown command '%s' (commands: run, info, convert-llama2c; see edgeinf --help)\n", argv[1]);
    return 2;
}

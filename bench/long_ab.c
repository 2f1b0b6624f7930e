/* Prefill and decode speed after a short and after a long input, measured side by side in one
 * process (the issue-3 targets "prefill at 128K within 10% of 4K" and "decode after 128K within
 * 10% of decode after 1K").
 *
 *   build: make build/long_ab
 *   run:   build/long_ab -m MODEL -a SHORT.txt -b LONG.txt [-d DECODE_SHORT.txt] [-n 32] [-r 15]
 *                        [--step N] [-t 2] [--profile summarize] [--gate-const 0.3]
 *
 * On a shared machine the speed drifts by tens of percent from one minute to the next, so a run
 * after a 4K prompt and a 128K run ten minutes later cannot resolve a 10% difference. Here two
 * sessions take turns in one process:
 *   prefill rounds: session A is reset and prefilled with the short input (timed), then session B
 *     prefills the next --step tokens of the long input (timed; default step = the short input's
 *     length; the first step is longer by S mod L, see below), the order alternating each round,
 *     until B has read all of its input;
 *   decode rounds: A is reset and prefilled (untimed) with -d (default: -a), then n greedy tokens
 *     are timed on A and n
 *     on B, back to back in alternating order; B keeps decoding where it was, so it stays "after
 *     the long input" (window full, memory growing).
 * Both sessions see the same drift, so the ratios B/A (of total prefill rates, and the median of
 * per-round decode ratios) measure the engine, not the machine. Public API only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinf.h"

static int die(const char *what) {
    fprintf(stderr, "long_ab: %s: %s\n", what, ei_last_error());
    return 1;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf) *len = n;
    return buf;
}

static int32_t *tokens_of(const ei_model *m, const char *path, int64_t *n) {
    size_t len = 0;
    char *text = read_text(path, &len);
    if (!text) {
        fprintf(stderr, "long_ab: %s: cannot read the prompt file\n", path);
        return NULL;
    }
    int32_t *toks = NULL;
    *n = ei_tokenize(m, text, len, ei_token_add_bos(m), 0, NULL, 0);
    if (*n > 0 && (toks = malloc((size_t)*n * sizeof *toks)) != NULL) ei_tokenize(m, text, len, ei_token_add_bos(m), 0, toks, *n);
    if (!toks) fprintf(stderr, "long_ab: %s: cannot tokenize (%s)\n", path, *n < 0 ? ei_last_error() : "out of memory");
    free(text);
    return toks;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* n greedy tokens after the session's current logits; returns tokens per second or -1. */
static double decode(ei_session *s, int n_vocab, int n) {
    const double t0 = ei_time_s();
    for (int i = 0; i < n; i++) {
        int32_t next = argmax(ei_session_logits(s), n_vocab);
        if (ei_session_eval(s, &next, 1, NULL, NULL, NULL)) return -1;
    }
    return n / (ei_time_s() - t0);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times one ei_session_eval of n tokens; returns tokens per second or -1. */
static double prefill(ei_session *s, const int32_t *toks, int64_t n) {
    const double t0 = ei_time_s();
    if (ei_session_eval(s, toks, n, NULL, NULL, NULL)) return -1;
    return n / (ei_time_s() - t0);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *short_path = NULL, *long_path = NULL, *dec_path = NULL, *profile_name = "summarize";
    int n_gen = 32, rounds = 15, threads = 2;
    int64_t step = 0;
    float gate_const = 0.3f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "long_ab: %s needs a value (see the comment at the top of bench/long_ab.c)\n", a); return 2; }
        i++;
        if (!strcmp(a, "-m")) model_path = v;
        else if (!strcmp(a, "-a")) short_path = v;
        else if (!strcmp(a, "-b")) long_path = v;
        else if (!strcmp(a, "-d")) dec_path = v;
        else if (!strcmp(a, "-n")) n_gen = atoi(v);
        else if (!strcmp(a, "-r")) rounds = atoi(v);
        else if (!strcmp(a, "-t")) threads = atoi(v);
        else if (!strcmp(a, "--step")) step = atoll(v);
        else if (!strcmp(a, "--profile")) profile_name = v;
        else if (!strcmp(a, "--gate-const")) gate_const = (float)atof(v);
        else { fprintf(stderr, "long_ab: unknown option %s\n", a); return 2; }
    }
    if (!model_path || !short_path || !long_path || n_gen < 1 || n_gen > 100000 || rounds < 1 || rounds > 1000 || step < 0) {
        fprintf(stderr, "usage: long_ab -m MODEL -a SHORT.txt -b LONG.txt [-n 32] [-r 15] [--step N] [-t 2] [--profile NAME] "
                        "[--gate-const G]\n");
        return 2;
    }
    ei_model *m = ei_model_load(model_path);
    if (!m) return die(model_path);
    const int n_vocab = ei_model_get_info(m)->n_vocab;
    ei_profile pr;
    if (ei_profile_builtin(profile_name, &pr) || ei_profile_check(&pr, m)) return die(profile_name);
    ei_session_params sp = ei_session_params_for(&pr, EI_MODE_INFINITE, 0, threads);
    sp.gate_const = gate_const;
    int64_t na = 0, nb = 0;
    int64_t nd = 0;
    int32_t *ta = tokens_of(m, short_path, &na), *tb = tokens_of(m, long_path, &nb), *td = tokens_of(m, dec_path ? dec_path : short_path, &nd);
    if (!ta || !tb || !td) return 1;
    if (!step) step = na;
    ei_session *a = ei_session_new(m, &sp), *b = ei_session_new(m, &sp);
    if (!a || !b) return die("session");
    const int max_rounds = (int)((nb + step - 1) / step) > rounds ? (int)((nb + step - 1) / step) : rounds;
    double *ra = malloc((size_t)max_rounds * sizeof *ra), *rb = malloc((size_t)max_rounds * sizeof *rb);
    double *ratio = malloc((size_t)max_rounds * sizeof *ratio);
    if (!ra || !rb || !ratio) { fprintf(stderr, "long_ab: out of memory\n"); return 1; }

    /* prefill rounds */
    double ta_s = 0, tb_s = 0, tb_last_s = 0, ta_last_s = 0;
    int64_t a_tok = 0, b_last_tok = 0, a_last_tok = 0;
    int pr_rounds = 0;
    for (int64_t done = 0; done < nb; pr_rounds++) {
        /* once the window is full, segments start at stream positions = S (mod L); a first call of
         * step + S mod L tokens puts every later call on a segment boundary, so B is not padded
         * more than one whole-prompt call would be */
        const int64_t want = done ? step : step + pr.sink % pr.chunk, n = nb - done < want ? nb - done : want;
        ei_session_reset(a);
        if (pr_rounds % 2 == 0) ra[pr_rounds] = prefill(a, ta, na), rb[pr_rounds] = prefill(b, tb + done, n);
        else rb[pr_rounds] = prefill(b, tb + done, n), ra[pr_rounds] = prefill(a, ta, na);
        if (ra[pr_rounds] < 0 || rb[pr_rounds] < 0) return die("prefill");
        done += n;
        ta_s += na / ra[pr_rounds], a_tok += na, tb_s += n / rb[pr_rounds];
        if (done > nb - nb / 4) b_last_tok += n, tb_last_s += n / rb[pr_rounds], a_last_tok += na, ta_last_s += na / ra[pr_rounds];
        printf("prefill round %3d  A %lld tokens %6.1f tok/s  B tokens %lld..%lld %6.1f tok/s  B/A %.3f\n", pr_rounds + 1,
               (long long)na, ra[pr_rounds], (long long)(done - n), (long long)done, rb[pr_rounds], rb[pr_rounds] / ra[pr_rounds]);
        fflush(stdout);
    }
    const double pa = a_tok / ta_s, pb = nb / tb_s, pa_last = a_last_tok / ta_last_s, pb_last = b_last_tok / tb_last_s;

    /* decode rounds */
    for (int r = 0; r < rounds; r++) {
        ei_session_reset(a);
        if (ei_session_eval(a, td, nd, NULL, NULL, NULL)) return die("prefill A");
        if (r % 2 == 0) ra[r] = decode(a, n_vocab, n_gen), rb[r] = decode(b, n_vocab, n_gen);
        else rb[r] = decode(b, n_vocab, n_gen), ra[r] = decode(a, n_vocab, n_gen);
        if (ra[r] < 0 || rb[r] < 0) return die("decode");
        ratio[r] = rb[r] / ra[r];
        printf("decode round %2d  A (after %lld) %6.1f tok/s  B (after %lld) %6.1f tok/s  B/A %.3f\n", r + 1, (long long)nd,
               ra[r], (long long)nb, rb[r], ratio[r]);
        fflush(stdout);
    }
    ei_memory_stats st;
    ei_session_memory_stats(b, &st);
    printf("long_ab: %s profile, gate %g, %d threads, %s; A = %lld tokens, B = %lld tokens (%lld in memory at the end)\n",
           profile_name, (double)gate_const, threads, ei_isa(), (long long)na, (long long)nb, (long long)st.n_memory);
    printf("long_ab: prefill: A %.1f tok/s, B %.1f tok/s over all %lld tokens (B/A %.3f); last quarter of B %.1f tok/s "
           "against A in the same rounds %.1f (B/A %.3f)\n",
           pa, pb, (long long)nb, pb / pa, pb_last, pa_last, pb_last / pa_last);
    printf("long_ab: decode after %lld (A) and %lld (B) tokens: %d rounds of %d tokens: median A %.1f tok/s, median B %.1f tok/s, median B/A %.3f\n", (long long)nd, (long long)nb, rounds, n_gen,
           median(ra, rounds), median(rb, rounds), median(ratio, rounds));
    free(ra), free(rb), free(ratio), free(ta), free(tb), free(td);
    ei_session_free(a), ei_session_free(b), ei_model_free(m);
    return 0;
}

/* The EdgeInfinite path end to end, against a naive reference written here from method.md:
 *   - a plain float64 transformer over stories260K (f32 weights) that keeps every token's pre-RoPE
 *     key and value, and for each query attends to the kept set only (sink + window, eviction of
 *     the oldest L tokens whenever the window reaches W + L), rotating query and keys at their
 *     *cache* positions, as StreamingLLM defines it; evicted tokens go into per-(layer, KV head)
 *     memories (linear or delta rule), read with the pre-RoPE query and blended by a constant gate,
 *     or, for the KV-eviction baselines H2O and SnapKV, each head's lowest-scored tokens are dropped.
 *     The engine (keys rotated once at stream positions, ring buffer, memory kernels) must give the
 *     same logits at every step: closed gate (memory not read) = StreamingLLM, and memory on.
 *   - a prompt that fits the window gives exactly the full-attention tokens (real model).
 * The memory equations alone are checked against NumPy in test_memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edgeinf.h"
#include "model.h"
#include "tiny_model.h"
#include "types.h"


/* ------------------------------------------------------------ naive model */

typedef struct {
    const ei_model *m;
    int S, W, L, memory, update;  /* memory: read and write the compressed memory */
    double gate;
    int evict, recent, observe;   /* ei_evict_policy; `recent` newest kept; SnapKV's observing queries */
    int n;                        /* tokens seen */
    int evicted;                  /* non-sink tokens moved out of the window */
    double *k, *v;                /* [layer][token][kvd], pre-RoPE keys, values */
    char *gone;                   /* [layer][kv head][token]: evicted from that head's window */
    int not_oldest;               /* H2O, SnapKV: evictions of a token that StreamingLLM would have kept */
    double *received;             /* [layer][kv head][token]: attention received (H2O, SnapKV) */
    double *M, *z;                /* [layer][kv head][hd][hd], [layer][kv head][hd] */
    int cap_tokens;
} naive;

static double *dq(const ei_weight *w, int row) { /* one weight row as doubles (caller frees) */
    float *f = malloc(sizeof *f * (size_t)w->cols);
    double *d = malloc(sizeof *d * (size_t)w->cols);
    ei_dequantize_row(w->type, (const char *)w->data + (size_t)row * w->row_bytes, f, w->cols);
    for (int i = 0; i < w->cols; i++) d[i] = f[i];
    free(f);
    return d;
}

static void matvec(const ei_weight *w, const double *x, double *y) {
    for (int r = 0; r < w->rows; r++) {
        double *row = dq(w, r), acc = 0;
        for (int c = 0; c < w->cols; c++) acc += row[c] * x[c];
        y[r] = acc;
        free(row);
    }
}

static void rmsnorm(const double *x, const ei_weight *w, int n, double eps, double *out) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double *g = dq(w, 0), inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * g[i];
    free(g);
}

static void rope(double *v, int hd, double pos, double theta, int neox) {
    for (int i = 0; i < hd / 2; i++) {
        double a = pos * pow(theta, -2.0 * i / hd), c = cos(a), s = sin(a);
        int i0 = neox ? i : 2 * i, i1 = neox ? i + hd / 2 : 2 * i + 1;
        double x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * c - x1 * s;
        v[i1] = x0 * s + x1 * c;
    }
}

static double sigma(double x) { return x > 0 ? x + 1 : exp(x); }

/* memory read: sigma(q) M / (sigma(q) . z + eps) */
static void mem_read(const double *M, const double *z, const double *q, int hd, double *out) {
    double den = 1e-6;
    for (int a = 0; a < hd; a++) den += sigma(q[a]) * z[a];
    for (int i = 0; i < hd; i++) {
        double acc = 0;
        for (int a = 0; a < hd; a++) acc += sigma(q[a]) * M[a * hd + i];
        out[i] = acc / den;
    }
}

/* Writes the L oldest window tokens [t0, t0 + L) of every layer and KV head into memory. */
static void naive_compress(naive *nv, int t0) {
    const ei_model_info *in = ei_model_get_info(nv->m);
    const int hd = in->head_dim, G = in->n_head_kv, kvd = G * hd, L = nv->L;
    double *val = malloc(sizeof *val * (size_t)L * hd), *zero = calloc((size_t)hd, sizeof *zero);
    for (int l = 0; l < in->n_layer; l++)
        for (int g = 0; g < G; g++) {
            double *M = nv->M + ((size_t)l * G + g) * hd * hd, *z = nv->z + ((size_t)l * G + g) * hd;
            int empty = 1;
            for (int a = 0; a < hd; a++) empty &= z[a] == 0;
            for (int t = 0; t < L; t++) { /* value to write, from the memory before this write */
                const double *k = nv->k + ((size_t)l * nv->cap_tokens + t0 + t) * kvd + g * hd;
                const double *v = nv->v + ((size_t)l * nv->cap_tokens + t0 + t) * kvd + g * hd;
                double *o = val + (size_t)t * hd;
                if (nv->update == EI_UPDATE_DELTA && !empty) {
                    mem_read(M, z, k, hd, o);
                    for (int i = 0; i < hd; i++) o[i] = v[i] - o[i];
                } else {
                    memcpy(o, v, sizeof *o * (size_t)hd);
                }
            }
            for (int t = 0; t < L; t++) {
                const double *k = nv->k + ((size_t)l * nv->cap_tokens + t0 + t) * kvd + g * hd;
                for (int a = 0; a < hd; a++) {
                    for (int i = 0; i < hd; i++) M[a * hd + i] += sigma(k[a]) * val[(size_t)t * hd + i];
                    z[a] += sigma(k[a]);
                }
            }
        }
    free(val);
    free(zero);
}

/* H2O and SnapKV for one layer and KV head: of the window tokens [S, n) still there, except the
 * `recent` newest, the L with the lowest score leave (ties: the older first). The score is the
 * attention received: since arrival (H2O), or from the observation window (SnapKV, which then
 * takes the largest over EI_SNAPKV_POOL / 2 candidates on each side, and starts afresh). */
static void naive_evict(naive *nv, char *gone, double *received) {
    int cand[4096];
    double score[4096];
    int nc = 0, present = 0;
    for (int t = nv->S; t < nv->n; t++) present += !gone[t];
    for (int t = nv->S, seen = 0; t < nv->n; t++)
        if (!gone[t] && seen++ < present - nv->recent) cand[nc++] = t; /* oldest first */
    const int pool = nv->evict == EI_EVICT_SNAPKV ? EI_SNAPKV_POOL / 2 : 0;
    for (int i = 0; i < nc; i++) {
        score[i] = -INFINITY;
        for (int k = i - pool; k <= i + pool; k++)
            if (k >= 0 && k < nc && received[cand[k]] > score[i]) score[i] = received[cand[k]];
    }
    for (int e = 0; e < nv->L; e++) {
        int best = -1; /* strict < keeps the older of equal scores */
        for (int i = 0; i < nc; i++)
            if (!gone[cand[i]] && (best < 0 || score[i] < score[best])) best = i;
        gone[cand[best]] = 1;
        int older_kept = 0; /* StreamingLLM would evict the L oldest still-present tokens */
        for (int t = nv->S; t < cand[best]; t++) older_kept += !gone[t];
        nv->not_oldest += older_kept >= nv->L;
    }
    if (nv->evict == EI_EVICT_SNAPKV) memset(received, 0, sizeof *received * (size_t)nv->cap_tokens);
}

/* One token through the naive model; logits out[n_vocab]. */
static void naive_step(naive *nv, int32_t tok, double *logits) {
    const ei_model *m = nv->m;
    const ei_model_info *in = ei_model_get_info(m);
    const int D = in->n_embd, H = in->n_head, G = in->n_head_kv, hd = in->head_dim, F = in->n_ff;
    const int kvd = G * hd, p = nv->n, S = nv->S;
    double *x = dq(&m->tok_embd, tok), *xn = malloc(sizeof(double) * D), *q = malloc(sizeof(double) * H * hd);
    double *att = malloc(sizeof(double) * H * hd), *o = malloc(sizeof(double) * D);
    double *a = malloc(sizeof(double) * F), *b = malloc(sizeof(double) * F);
    double *sc = malloc(sizeof(double) * (p + 1)), *kr = malloc(sizeof(double) * hd), *qr = malloc(sizeof(double) * hd);
    double *am = malloc(sizeof(double) * hd);
    /* kept set of each (layer, KV head): sink [0, min(S, p+1)) and the window tokens not gone (p
     * itself included); window tokens sit at cache positions S, S+1, ... in stream order */
    const int has_memory = nv->memory && nv->evicted > 0;
    for (int l = 0; l < in->n_layer; l++) {
        const ei_layer *Ly = &m->layers[l];
        rmsnorm(x, &Ly->attn_norm, D, in->norm_eps, xn);
        matvec(&Ly->wq, xn, q);
        double *k = nv->k + ((size_t)l * nv->cap_tokens + p) * kvd, *v = nv->v + ((size_t)l * nv->cap_tokens + p) * kvd;
        matvec(&Ly->wk, xn, k);
        matvec(&Ly->wv, xn, v);
        for (int h = 0; h < H; h++) {
            const int g = h / (H / G);
            const char *gone = nv->gone + ((size_t)l * G + g) * nv->cap_tokens;
            int n = 0, rank = 0;
            for (int t = S; t < p; t++) rank += !gone[t];
            const double qpos = p < S ? p : S + rank;
            memcpy(qr, q + h * hd, sizeof(double) * hd);
            rope(qr, hd, qpos, in->rope_theta, in->rope_neox);
            int kept[4096];
            for (int t = 0, w = 0; t <= p; t++) {
                const int in_sink = t < S;
                if (!in_sink && gone[t]) continue;
                const double kpos = in_sink ? t : S + w++;
                memcpy(kr, nv->k + ((size_t)l * nv->cap_tokens + t) * kvd + g * hd, sizeof(double) * hd);
                rope(kr, hd, kpos, in->rope_theta, in->rope_neox);
                double d = 0;
                for (int i = 0; i < hd; i++) d += qr[i] * kr[i];
                kept[n] = t;
                sc[n++] = d / sqrt((double)hd);
            }
            double mx = -INFINITY, sum = 0;
            for (int i = 0; i < n; i++) mx = sc[i] > mx ? sc[i] : mx;
            for (int i = 0; i < n; i++) sum += (sc[i] = exp(sc[i] - mx));
            double *out = att + h * hd, *received = nv->received + ((size_t)l * G + g) * nv->cap_tokens;
            /* SnapKV counts the `observe` queries up to the one that fills the window to W + L */
            const int trigger = S + nv->evicted + nv->W + nv->L - 1;
            if (nv->evict != EI_EVICT_SNAPKV || p > trigger - nv->observe)
                for (int j = 0; j < n; j++) received[kept[j]] += sc[j] / sum;
            for (int i = 0; i < hd; i++) out[i] = 0;
            for (int j = 0; j < n; j++) {
                const double *vv = nv->v + ((size_t)l * nv->cap_tokens + kept[j]) * kvd + g * hd;
                for (int i = 0; i < hd; i++) out[i] += sc[j] / sum * vv[i];
            }
            if (has_memory) {
                mem_read(nv->M + ((size_t)l * G + g) * hd * hd, nv->z + ((size_t)l * G + g) * hd, q + h * hd, hd, am);
                for (int i = 0; i < hd; i++) out[i] = nv->gate * am[i] + (1 - nv->gate) * out[i];
            }
        }
        matvec(&Ly->wo, att, o);
        for (int i = 0; i < D; i++) x[i] += o[i];
        rmsnorm(x, &Ly->ffn_norm, D, in->norm_eps, xn);
        matvec(&Ly->w_gate, xn, a);
        matvec(&Ly->w_up, xn, b);
        for (int i = 0; i < F; i++) a[i] = a[i] / (1 + exp(-a[i])) * b[i];
        matvec(&Ly->w_down, a, o);
        for (int i = 0; i < D; i++) x[i] += o[i];
    }
    rmsnorm(x, &m->output_norm, D, in->norm_eps, xn);
    matvec(&m->output, xn, logits);
    nv->n++;
    /* eviction policy: when the window holds W + L tokens, its oldest L leave (into memory), or with
     * H2O and SnapKV each head's L lowest scored */
    if (nv->n > S && nv->n - S - nv->evicted >= nv->W + nv->L) {
        if (nv->memory) naive_compress(nv, S + nv->evicted);
        for (int u = 0; u < in->n_layer * G; u++) {
            char *gone = nv->gone + (size_t)u * nv->cap_tokens;
            if (nv->evict != EI_EVICT_OLDEST) naive_evict(nv, gone, nv->received + (size_t)u * nv->cap_tokens);
            else memset(gone + S + nv->evicted, 1, (size_t)nv->L);
        }
        nv->evicted += nv->L;
    }
    free(x), free(xn), free(q), free(att), free(o), free(a), free(b), free(sc), free(kr), free(qr), free(am);
}

/* Runs engine and naive side by side over n tokens (prefill of n_prompt tokens in chunks, then one
 * token at a time, feeding the engine's greedy choice to both). Returns the worst logit error
 * relative to the largest logit magnitude. */
static double compare(ei_model *m, int S, int W, int L, int memory, int update, float gate, int evict, int n_prompt,
                      int n_total, int *n_memory_out) {
    const ei_model_info *in = ei_model_get_info(m);
    const int V = in->n_vocab;
    ei_session_params p = ei_session_default_params();
    p.infinite = 1, p.n_sink = S, p.n_window = W, p.n_chunk = L, p.update = (ei_update_rule)update;
    p.kv_type = EI_KV_F32, p.n_threads = 2;
    p.gate_const = memory ? gate : -1.0f;
    p.evict = evict;
    ei_session *s = ei_session_new(m, &p);
    /* the defaults the engine must apply: H2O keeps half the window; SnapKV observes min(32, L)
     * queries and keeps just those */
    const int observe = L < 32 ? L : 32;
    naive nv = {.m = m, .S = S, .W = W, .L = L, .memory = memory, .update = update, .gate = gate, .evict = evict,
                .recent = evict == EI_EVICT_SNAPKV ? observe : W / 2, .observe = observe, .cap_tokens = n_total};
    const size_t per_head = (size_t)in->n_layer * in->n_head_kv * n_total;
    nv.gone = calloc(per_head, 1);
    nv.received = calloc(per_head, sizeof(double));
    const size_t kvd = (size_t)in->n_head_kv * in->head_dim;
    nv.k = calloc((size_t)in->n_layer * n_total * kvd, sizeof(double));
    nv.v = calloc((size_t)in->n_layer * n_total * kvd, sizeof(double));
    nv.M = calloc((size_t)in->n_layer * in->n_head_kv * in->head_dim * in->head_dim, sizeof(double));
    nv.z = calloc((size_t)in->n_layer * in->n_head_kv * in->head_dim, sizeof(double));
    float *all = malloc(sizeof(float) * (size_t)V * n_prompt);
    double *ref = malloc(sizeof(double) * V), worst = 0;
    int32_t *toks = malloc(sizeof(int32_t) * n_total);
    if (!s || !nv.k || !nv.v || !nv.M || !nv.z || !nv.gone || !nv.received || !all || !ref || !toks) {
        CHECK(0, "setup: %s", ei_last_error());
        goto done;
    }
    /* a prompt of varied tokens (deterministic) */
    toks[0] = ei_token_bos(m);
    for (int i = 1; i < n_prompt; i++) toks[i] = 3 + (int32_t)((i * 7919u + 13u) % (unsigned)(V - 3));
    CHECK(ei_session_eval(s, toks, n_prompt, all, NULL, NULL) == 0, "prefill: %s", ei_last_error());
    for (int i = 0; i < n_total; i++) {
        const float *got = i < n_prompt ? all + (size_t)i * V : ei_session_logits(s);
        naive_step(&nv, toks[i], ref);
        double mag = 0, err = 0;
        int best = 0;
        for (int j = 0; j < V; j++) {
            mag = fabs(ref[j]) > mag ? fabs(ref[j]) : mag;
            err = fabs(ref[j] - got[j]) > err ? fabs(ref[j] - got[j]) : err;
            if (got[j] > got[best]) best = j;
        }
        if (err / mag > worst) worst = err / mag;
        if (i + 1 < n_total && i + 1 >= n_prompt) {
            toks[i + 1] = best;
            if (ei_session_eval(s, &toks[i + 1], 1, NULL, NULL, NULL)) { CHECK(0, "decode: %s", ei_last_error()); break; }
        }
    }
    ei_memory_stats ms;
    ei_session_memory_stats(s, &ms);
    *n_memory_out = (int)ms.n_memory;
    if (evict != EI_EVICT_OLDEST) {
        printf("  evicted %d (layer, head, token) entries that StreamingLLM would have kept\n", nv.not_oldest);
        CHECK(nv.not_oldest > 0, "the policy chose exactly StreamingLLM's evictions: the case does not test it");
    }
    CHECK(ms.n_memory == (memory ? nv.evicted : 0), "engine memory holds %lld tokens, naive evicted %d", (long long)ms.n_memory,
          nv.evicted);
done:
    ei_session_free(s);
    free(nv.k), free(nv.v), free(nv.M), free(nv.z), free(nv.gone), free(nv.received), free(all), free(ref), free(toks);
    return worst;
}

static void test_naive(ei_model *m) {
    /* the last case decodes against more than EI_ATTN_SPAN keys (the split one-token path), with
     * the ring wrapped, so the sink, ring-tail and ring-head pieces all cross span boundaries */
    static const struct { const char *what; int S, W, L, memory, update; float gate; int evict, n_prompt, n_total; } cases[] = {
        {"StreamingLLM (gate closed, memory not read)", 4, 16, 8, 0, EI_UPDATE_LINEAR, 0, 0, 45, 110},
        {"StreamingLLM, no sink", 0, 24, 8, 0, EI_UPDATE_LINEAR, 0, 0, 45, 110},
        {"EdgeInfinite, linear memory, gate 0.5", 4, 16, 8, 1, EI_UPDATE_LINEAR, 0.5f, 0, 45, 110},
        {"EdgeInfinite, delta memory, gate 0.3", 6, 16, 4, 1, EI_UPDATE_DELTA, 0.3f, 0, 45, 110},
        {"EdgeInfinite, linear memory, gate 0.3, decode over > 256 keys", 8, 320, 16, 1, EI_UPDATE_LINEAR, 0.3f, 0, 300, 460},
        {"H2O (least attended window tokens dropped, half the window recent)", 4, 16, 8, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_H2O, 45, 110},
        {"H2O, no sink, chunk of 16 (two token blocks)", 0, 32, 16, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_H2O, 70, 130},
        {"H2O, decode over > 256 keys", 8, 320, 16, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_H2O, 300, 460},
        {"SnapKV (observation window = the chunk)", 4, 16, 8, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_SNAPKV, 45, 110},
        {"SnapKV, no sink, chunk of 16", 0, 32, 16, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_SNAPKV, 70, 130},
        {"SnapKV, 32 of a 64-token chunk observe", 4, 64, 64, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_SNAPKV, 230, 300},
        {"SnapKV, decode over > 256 keys (observers span calls)", 8, 320, 16, 0, EI_UPDATE_LINEAR, 0, EI_EVICT_SNAPKV, 300, 460},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[200];
        snprintf(name, sizeof name, "infinite path = naive reference: %s, S=%d W=%d L=%d", cases[c].what, cases[c].S, cases[c].W,
                 cases[c].L);
        TEST_BEGIN();
        int n_mem = 0;
        double worst = compare(m, cases[c].S, cases[c].W, cases[c].L, cases[c].memory, cases[c].update, cases[c].gate,
                               cases[c].evict, cases[c].n_prompt, cases[c].n_total, &n_mem);
        printf("  worst logit error %.3g (relative to the largest logit), %d tokens in memory at the end\n", worst, n_mem);
        CHECK(worst < 2e-4, "logits differ from the naive reference by %.3g", worst);
        TEST_END(name);
    }
}

/* A prompt that fits in sink + window: the EdgeInfinite path must produce exactly the full-attention
 * tokens (nothing is evicted, and scores/values are computed by the same kernels). */
static void test_fits_window(void) {
    const char *name = "real model: a prompt that fits the window gives the full-attention tokens";
    ei_model *m = smol_begin(name);
    if (!m) return;
    const char *text = "The history of the lighthouse begins with fires lit on hills to guide ships home. Over the centuries, "
                       "towers of stone replaced the fires, and lenses made the light visible far out at sea. Keepers lived "
                       "in small houses beside the towers and kept the lamps burning through every storm.";
    int32_t toks[512], outs[2][48];
    int n = (int)ei_tokenize(m, text, strlen(text), 0, 0, toks, 512);
    for (int mode = 0; mode < 2; mode++) {
        ei_profile pr;
        ei_profile_builtin("chat", &pr);
        pr.sink = 16, pr.window = 256, pr.chunk = 32;
        ei_session_params p = ei_session_params_for(&pr, mode ? EI_MODE_INFINITE : EI_MODE_FULL, 512, 2);
        p.gate_const = mode ? 0.5f : -1.0f; /* memory on, but nothing is ever evicted into it */
        ei_session *s = ei_session_new(m, &p);
        CHECK(s && ei_session_eval(s, toks, n, NULL, NULL, NULL) == 0, "eval: %s", ei_last_error());
        for (int i = 0; s && i < 48; i++) {
            const float *lg = ei_session_logits(s);
            int best = 0;
            for (int j = 1; j < ei_model_get_info(m)->n_vocab; j++)
                if (lg[j] > lg[best]) best = j;
            outs[mode][i] = best;
            if (ei_session_eval(s, &outs[mode][i], 1, NULL, NULL, NULL)) break;
        }
        ei_session_free(s);
    }
    int same = 0;
    while (same < 48 && outs[0][same] == outs[1][same]) same++;
    printf("  %d prompt tokens + 48 generated: %d identical\n", n, same);
    CHECK(same == 48, "EdgeInfinite diverges from full attention at token %d", same);
    ei_model_free(m);
    TEST_END(name);
}

/* Thread count (real model): one and three workers give the same bits, prompt logits and decode, for
 * EdgeInfinite reading memory through a cache smaller than a head (S + W + L = 36 slots < hd = 64:
 * the per-worker scratch of the memory read must not overlap) and through a qa-sized one. */
static void test_threads(void) {
    const char *name = "real model: 1 and 3 threads give bit-identical logits (memory read, tiny and normal cache)";
    ei_model *m = smol_begin(name);
    if (!m) return;
    const int V = ei_model_get_info(m)->n_vocab, n_prompt = 600;
    int32_t toks[600];
    for (int i = 0; i < n_prompt; i++) toks[i] = 1 + (int32_t)((i * 7919u + 11u) % (unsigned)(V - 1));
    static const int sizes[2][3] = {{4, 16, 16}, {16, 128, 64}}; /* sink, window, chunk */
    float *ref = malloc(sizeof *ref * (size_t)V * 5);
    CHECK(ref != NULL, "out of memory");
    for (int c = 0; c < 2 && ref; c++) {
        int n_diff = 0;
        for (int threads = 1; threads <= 3; threads += 2) {
            ei_session_params p = ei_session_default_params();
            p.infinite = 1, p.n_sink = sizes[c][0], p.n_window = sizes[c][1], p.n_chunk = sizes[c][2];
            p.gate_const = 0.5f, p.n_threads = threads;
            ei_session *s = ei_session_new(m, &p);
            CHECK(s && ei_session_eval(s, toks, n_prompt, NULL, NULL, NULL) == 0, "eval: %s", ei_last_error());
            for (int step = 0; s && step < 5; step++) {
                const float *lg = ei_session_logits(s);
                if (threads == 1) memcpy(ref + (size_t)step * V, lg, sizeof *lg * (size_t)V);
                else n_diff += memcmp(ref + (size_t)step * V, lg, sizeof *lg * (size_t)V) != 0;
                int32_t next = toks[step];
                if (ei_session_eval(s, &next, 1, NULL, NULL, NULL)) break;
            }
            ei_session_free(s);
        }
        CHECK(n_diff == 0, "sink %d, window %d, chunk %d: %d of 5 logit vectors differ between 1 and 3 threads", sizes[c][0],
              sizes[c][1], sizes[c][2], n_diff);
    }
    free(ref);
    ei_model_free(m);
    TEST_END(name);
}

/* Session state snapshots (real model): the state saved at a chunk boundary inside one long
 * ei_session_eval and loaded back continues with the same bits as the uninterrupted run (prompt
 * logits and greedy continuation), for full attention, EdgeInfinite with memory, H2O and SnapKV; a state
 * goes back only into the session that saved it, and a short buffer is refused. */
typedef struct {
    ei_session *s;
    int64_t at, saved_at; /* save at the last boundary <= at */
    void *buf;
    size_t size;
} snap_ctx;

static void snap_progress(void *user, int64_t done, int64_t total) {
    snap_ctx *c = user;
    (void)total;
    if (done <= c->at && ei_session_state_save(c->s, c->buf, c->size) == 0) c->saved_at = done;
}

static int argmax(const ei_model *m, const float *lg) {
    int best = 0;
    for (int j = 1; j < ei_model_get_info(m)->n_vocab; j++)
        if (lg[j] > lg[best]) best = j;
    return best;
}

static void test_state_snapshot(void) {
    const char *name = "real model: a saved session state continues with the same bits (full, memory, H2O, SnapKV)";
    ei_model *m = smol_begin(name);
    if (!m) return;
    const char *text = "The keeper climbed the stairs of the tower every evening, trimmed the wick, polished the great lens "
                       "and wrote the weather into the log book. Ships passed far out, and some nights none at all. ";
    enum { N = 560, GEN = 8 };
    int32_t toks[N];
    int n = 0;
    while (n < N) {
        int32_t piece[128];
        const int k = (int)ei_tokenize(m, text, strlen(text), 0, 0, piece, 128);
        CHECK(k > 0, "tokenize: %s", ei_last_error());
        if (k <= 0) break;
        for (int i = 0; i < k && n < N; i++) toks[n++] = piece[i];
    }
    const int V = ei_model_get_info(m)->n_vocab;
    float *want = malloc(sizeof *want * (size_t)V);
    CHECK(want != NULL, "out of memory");
    for (int mode = 0; mode < 4 && want; mode++) {
        ei_profile pr;
        ei_profile_builtin("chat", &pr);
        pr.sink = 4, pr.window = 128, pr.chunk = 64;
        ei_session_params p = ei_session_params_for(&pr, mode ? EI_MODE_INFINITE : EI_MODE_FULL, 1024, 2);
        if (mode == 1) p.gate_const = 0.3f;
        if (mode == 2) p.evict = EI_EVICT_H2O;
        if (mode == 3) p.evict = EI_EVICT_SNAPKV;
        ei_session *s = ei_session_new(m, &p), *other = ei_session_new(m, &p);
        snap_ctx c = {s, 300, -1, NULL, s ? ei_session_state_size(s) : 0};
        c.buf = malloc(c.size);
        int gen[2][GEN], ok = s && other && c.buf && n == N;
        CHECK(ok, "mode %d: setup: %s", mode, ei_last_error());
        for (int pass = 0; pass < 2 && ok; pass++) {
            /* pass 0: the whole prompt in one call, saving on the way; pass 1: from the saved state */
            ok = pass ? ei_session_state_load(s, c.buf, c.size) == 0 &&
                            ei_session_eval(s, toks + c.saved_at, N - c.saved_at, NULL, NULL, NULL) == 0
                      : ei_session_eval(s, toks, N, NULL, snap_progress, &c) == 0 && c.saved_at > 0;
            CHECK(ok, "mode %d pass %d: %s (saved at %lld)", mode, pass, ei_last_error(), (long long)c.saved_at);
            if (!ok) break;
            if (!pass) memcpy(want, ei_session_logits(s), sizeof *want * (size_t)V);
            else CHECK(memcmp(want, ei_session_logits(s), sizeof *want * (size_t)V) == 0, "mode %d: prompt logits differ", mode);
            for (int i = 0; i < GEN && ok; i++) {
                gen[pass][i] = argmax(m, ei_session_logits(s));
                ok = ei_session_eval(s, &gen[pass][i], 1, NULL, NULL, NULL) == 0;
            }
        }
        if (ok) {
            CHECK(memcmp(gen[0], gen[1], sizeof gen[0]) == 0, "mode %d: the continuation differs", mode);
            CHECK(ei_session_n_past(s) == N + GEN, "mode %d: n_past %d", mode, ei_session_n_past(s));
            printf("  mode %d: state of %zu bytes saved at token %lld of %d, then the prompt and %d greedy tokens compared\n", mode, c.size,
                   (long long)c.saved_at, N, GEN);
            CHECK(ei_session_state_load(other, c.buf, c.size) != 0, "mode %d: another session took the state", mode);
            CHECK(ei_session_state_save(s, c.buf, c.size - 1) != 0 && ei_session_state_load(s, c.buf, 16) != 0,
                  "mode %d: a short buffer was taken", mode);
            /* a state changed after saving: the stream position (the header's first counter, after magic,
             * id and arena size: bytes 24..31) set to -1 must be refused, not index the caches */
            memset((uint8_t *)c.buf + 24, 0xff, 8);
            CHECK(ei_session_state_load(s, c.buf, c.size) != 0 && strstr(ei_last_error(), "inconsistent counters"),
                  "mode %d: a corrupted state was taken (%s)", mode, ei_last_error());
        }
        free(c.buf);
        ei_session_free(s), ei_session_free(other);
    }
    free(want);
    ei_model_free(m);
    TEST_END(name);
}

int main(void) {
    if (!tiny_model_present()) {
        SKIP("infinite path vs naive reference", "../shared/models/stories260K is absent");
    } else {
        ei_model *m = tiny_model_load();
        if (!m) printf("FAIL stories260K for the naive reference: %s\n", ei_last_error()), check_total_failed++;
        else test_naive(m);
        ei_model_free(m);
    }
    test_fits_window();
    test_threads();
    test_state_snapshot();
    CHECK_EXIT();
}

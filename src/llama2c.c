#include "llama2c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinf.h"
#include "gguf.h"
#include "util.h"

typedef struct { uint8_t *p; size_t n; } blob;

static int read_all(const char *path, blob *b, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0) goto bad;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto bad;
    b->n = (size_t)n;
    b->p = malloc(b->n ? b->n : 1);
    if (!b->p || fread(b->p, 1, b->n, f) != b->n) {
        free(b->p);
        goto bad;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    snprintf(err, errlen, "%s: read failed", path);
    return -1;
}

/* Appends '▁'-encoded text: llama2.c stores spaces as ' ', GGUF SentencePiece vocabs as U+2581. */
static char *spm_piece(const uint8_t *s, size_t n) {
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') { *o++ = (char)0xE2; *o++ = (char)0x96; *o++ = (char)0x81; }
        else *o++ = (char)s[i];
    }
    *o = 0;
    return out;
}

static int add_tokenizer(gguf_writer *w, const char *tok_path, int vocab, char *err, size_t errlen) {
    blob b = {0};
    if (read_all(tok_path, &b, err, errlen)) return -1;
    char **toks = calloc((size_t)vocab, sizeof *toks);
    float *scores = calloc((size_t)vocab, sizeof *scores);
    int32_t *types = calloc((size_t)vocab, sizeof *types);
    int rc = -1;
    size_t off = 4;
    if (!toks || !scores || !types) { snprintf(err, errlen, "out of memory"); goto done; }
    if (b.n < 4) { snprintf(err, errlen, "%s: truncated tokenizer header", tok_path); goto done; }
    for (int i = 0; i < vocab; i++) {
        float sc;
        int32_t len;
        if (b.n - off < 8) { snprintf(err, errlen, "%s: truncated at token %d of %d", tok_path, i, vocab); goto done; }
        memcpy(&sc, b.p + off, 4);
        memcpy(&len, b.p + off + 4, 4);
        off += 8;
        if (len < 0 || (size_t)len > b.n - off) { snprintf(err, errlen, "%s: token %d has bad length %d", tok_path, i, len); goto done; }
        const uint8_t *s = b.p + off;
        if (memchr(s, 0, (size_t)len)) { snprintf(err, errlen, "%s: token %d contains a NUL byte", tok_path, i); goto done; }
        off += (size_t)len;
        scores[i] = sc;
        types[i] = 1; /* normal */
        if (i == 0) { toks[i] = strdup("<unk>"); types[i] = 2; }
        else if (i == 1) { toks[i] = strdup("<s>"); types[i] = 3; }
        else if (i == 2) { toks[i] = strdup("</s>"); types[i] = 3; }
        else {
            toks[i] = spm_piece(s, (size_t)len);
            if (len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>') types[i] = 6; /* byte */
        }
        if (!toks[i]) { snprintf(err, errlen, "out of memory"); goto done; }
    }
    if (gguf_w_str(w, "tokenizer.ggml.model", "llama") || gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)vocab) ||
        gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)vocab) ||
        gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)vocab) || gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
        gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2) || gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0) ||
        gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1) || gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", 1)) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    if (toks) for (int i = 0; i < vocab; i++) free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    free(b.p);
    return rc;
}

int ei_llama2c_to_gguf(const char *ckpt_path, const char *tok_path, const char *out_path, char *err, size_t errlen) {
    blob b = {0};
    if (read_all(ckpt_path, &b, err, errlen)) return -1;
    int32_t h[7];
    gguf_writer *w = NULL;
    int rc = -1;
    if (b.n < sizeof h) { snprintf(err, errlen, "%s: truncated header", ckpt_path); goto done; }
    memcpy(h, b.p, sizeof h);
    int dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4], vocab = h[5], seq = h[6];
    int shared = vocab > 0;
    if (vocab < 0) vocab = vocab == INT32_MIN ? 0 : -vocab; /* 0 fails the range check below */
    if (dim < 1 || dim > 65536 || hidden < 1 || hidden > (1 << 20) || n_layers < 1 || n_layers > 1024 || n_heads < 1 ||
        dim % n_heads || n_kv < 1 || n_heads % n_kv || vocab < 3 || vocab > (1 << 22) || seq < 1 || seq > (1 << 24) ||
        (dim / n_heads) % 2) {
        snprintf(err, errlen, "%s: header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq %d) is not a llama2.c checkpoint",
                 ckpt_path, dim, hidden, n_layers, n_heads, n_kv, vocab, seq);
        goto done;
    }
    int hs = dim / n_heads, kvd = n_kv * hs;
    size_t L = (size_t)n_layers;
    /* element counts in file order (llama2.c export v0) */
    size_t n_emb = (size_t)vocab * dim, n_att = L * dim, n_wq = L * dim * dim, n_wk = L * dim * kvd, n_wo = L * dim * dim,
           n_ffn = L * dim, n_w1 = L * dim * hidden, n_fin = dim, n_rope = (size_t)seq * hs;
    size_t need = n_emb + n_att + n_wq + 2 * n_wk + n_wo + n_ffn + 3 * n_w1 + n_fin + n_rope + (shared ? 0 : n_emb);
    if ((b.n - sizeof h) / 4 < need) {
        snprintf(err, errlen, "%s: %zu bytes of weights, expected %zu for this header (truncated?)", ckpt_path,
                 b.n - sizeof h, need * 4);
        goto done;
    }
    const float *p = (const float *)(void *)(b.p + sizeof h); /* header is 28 bytes: floats stay 4-aligned */
    const float *emb = p, *att = emb + n_emb, *wq = att + n_att, *wk = wq + n_wq, *wv = wk + n_wk, *wo = wv + n_wk,
                *ffn = wo + n_wo, *w1 = ffn + n_ffn, *w2 = w1 + n_w1, *w3 = w2 + n_w1, *fin = w3 + n_w1,
                *cls = shared ? emb : fin + n_fin + n_rope;
    w = gguf_writer_new();
    if (!w) { snprintf(err, errlen, "out of memory"); goto done; }
    int bad = 0;
    bad |= gguf_w_str(w, "general.architecture", "llama");
    bad |= gguf_w_str(w, "general.name", "llama2.c checkpoint");
    bad |= gguf_w_u32(w, "llama.block_count", (uint32_t)n_layers);
    bad |= gguf_w_u32(w, "llama.embedding_length", (uint32_t)dim);
    bad |= gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)hidden);
    bad |= gguf_w_u32(w, "llama.attention.head_count", (uint32_t)n_heads);
    bad |= gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)n_kv);
    bad |= gguf_w_u32(w, "llama.context_length", (uint32_t)seq);
    bad |= gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)hs);
    bad |= gguf_w_f32(w, "llama.rope.freq_base", 10000.0f);
    bad |= gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (bad) { snprintf(err, errlen, "out of memory"); goto done; }
    if (add_tokenizer(w, tok_path, vocab, err, errlen)) goto done;
#define T2(name, ptr, cols, rows)                                                                  \
    do {                                                                                           \
        int64_t ne_[2] = {(cols), (rows)};                                                         \
        if (gguf_w_tensor(w, name, 0, (rows) == 1 ? 1 : 2, ne_, ptr, (size_t)(cols) * (size_t)(rows) * 4)) bad = 1;   \
    } while (0)
    T2("token_embd.weight", emb, dim, vocab);
    T2("output_norm.weight", fin, dim, 1);
    if (!shared) T2("output.weight", cls, dim, vocab);
    for (int l = 0; l < n_layers; l++) {
        char n[64];
#define LT(suffix, base, cols, rows)                                                               \
    snprintf(n, sizeof n, "blk.%d." suffix, l);                                                    \
    T2(n, (base) + (size_t)l * (size_t)(cols) * (size_t)(rows), cols, rows)
        LT("attn_norm.weight", att, dim, 1);
        LT("attn_q.weight", wq, dim, dim);
        LT("attn_k.weight", wk, dim, kvd);
        LT("attn_v.weight", wv, dim, kvd);
        LT("attn_output.weight", wo, dim, dim);
        LT("ffn_norm.weight", ffn, dim, 1);
        LT("ffn_gate.weight", w1, dim, hidden);
        LT("ffn_down.weight", w2, hidden, dim);
        LT("ffn_up.weight", w3, dim, hidden);
#undef LT
    }
#undef T2
    if (bad) { snprintf(err, errlen, "out of memory"); goto done; }
    rc = gguf_writer_save(w, out_path, err, errlen);
done:
    gguf_writer_free(w);
    free(b.p);
    return rc;
}

int ei_convert_llama2c(const char *checkpoint, const char *tokenizer, const char *out_gguf) {
    char err[512];
    if (ei_llama2c_to_gguf(checkpoint, tokenizer, out_gguf, err, sizeof err)) return ei_set_error("%s", err);
    return 0;
}

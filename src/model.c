/* Loading a Llama-family model from GGUF: read and check the hyper-parameters, then bind every
 * weight tensor with its expected shape and a supported type. Also the public model/token API. */
#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "util.h"

static int get_u32_default(const gguf_file *f, const char *arch, const char *key, uint32_t def,
                           uint32_t *out) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (!gguf_find(f, full)) {
        *out = def;
        return 0;
    }
    if (gguf_get_u32(f, full, out))
        return ei_set_error("%s: metadata '%s' must be a non-negative 32-bit integer", f->path, full);
    return 0;
}

static int get_f32_default(const gguf_file *f, const char *arch, const char *key, float def, float *out) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (!gguf_find(f, full)) {
        *out = def;
        return 0;
    }
    if (gguf_get_f32(f, full, out)) return ei_set_error("%s: metadata '%s' must be a finite float", f->path, full);
    return 0;
}

/* Binds tensor `name` with shape [cols, rows]; rows = 1 for vectors. Checks type support. */
static int bind(const ei_model *m, ei_weight *w, const char *name, int cols, int rows, int need_matmul,
                int optional) {
    const gguf_tensor *t = gguf_find_tensor(m->file, name);
    memset(w, 0, sizeof *w);
    if (!t) {
        if (optional) return 0;
        return ei_set_error("%s: tensor '%s' is missing", m->file->path, name);
    }
    int64_t want_rows = rows;
    int64_t got_rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (t->ne[0] != cols || got_rows != want_rows)
        return ei_set_error("%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 "], expected [%d, %d]",
                            m->file->path, name, t->ne[0], got_rows, cols, rows);
    const ei_type_traits *tt = ei_type_info(t->type);
    if (!tt || !tt->supported) {
        const char *tn = gguf_type_name(t->type);
        return ei_set_error("%s: tensor '%s' has type %s, which this engine does not support "
                            "(supported: f32, f16, bf16, q4_0, q4_1, q8_0)",
                            m->file->path, name, tn ? tn : "unknown");
    }
    if (need_matmul && !m->kern->matmul[t->type])
        return ei_set_error("%s: tensor '%s': no matmul kernel for type %s", m->file->path, name, tt->name);
    if (!need_matmul && t->type != EI_F32)
        return ei_set_error("%s: tensor '%s' must be f32 (is %s)", m->file->path, name, tt->name);
    w->data = t->data;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = ei_row_bytes(t->type, cols);
    return 0;
}

/* Identity of a model file: FNV-1a over the header and the first and last 4 KiB of every tensor.
 * Cheap (no full read of the weights) yet changes with any re-quantization or edit of metadata. */
static void identity_hash(const gguf_file *f, char out[17]) {
    uint64_t h = 1469598103934665603ull;
#define FNV(ptr, n)                                                                                \
    for (size_t i_ = 0; i_ < (size_t)(n); i_++) h = (h ^ ((const uint8_t *)(ptr))[i_]) * 1099511628211ull
    FNV(f->map, f->data_offset);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t n = t->nbytes < 4096 ? t->nbytes : 4096;
        FNV(t->data, n);
        FNV((const uint8_t *)t->data + t->nbytes - n, n);
    }
#undef FNV
    snprintf(out, 17, "%016" PRIx64, h);
}

static int load_hparams(ei_model *m) {
    const gguf_file *f = m->file;
    ei_model_info *in = &m->info;
    gguf_str s;
    if (gguf_get_str(f, "general.architecture", &s))
        return ei_set_error("%s: metadata 'general.architecture' is missing", f->path);
    if (!gguf_str_eq(s, "llama") && !gguf_str_eq(s, "qwen2"))
        return ei_set_error("%s: architecture '%.*s' is not supported (supported: llama, qwen2)", f->path,
                            (int)(s.len > 40 ? 40 : s.len), s.ptr);
    snprintf(in->arch, sizeof in->arch, "%.*s", (int)s.len, s.ptr);
    if (gguf_get_str(f, "general.name", &s) == 0)
        snprintf(in->name, sizeof in->name, "%.*s", (int)(s.len > 127 ? 127 : s.len), s.ptr);
    in->rope_neox = strcmp(in->arch, "qwen2") == 0;
    const char *a = in->arch;
    uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv, n_ctx, rope_dim;
    if (get_u32_default(f, a, "block_count", 0, &n_layer) || get_u32_default(f, a, "embedding_length", 0, &n_embd) ||
        get_u32_default(f, a, "feed_forward_length", 0, &n_ff) ||
        get_u32_default(f, a, "attention.head_count", 0, &n_head) ||
        get_u32_default(f, a, "attention.head_count_kv", n_head, &n_head_kv) ||
        get_u32_default(f, a, "context_length", 2048, &n_ctx) ||
        get_f32_default(f, a, "rope.freq_base", 10000.0f, &in->rope_theta) ||
        get_f32_default(f, a, "attention.layer_norm_rms_epsilon", 1e-5f, &in->norm_eps))
        return -1;
    if (n_layer < 1 || n_layer > 1024) return ei_set_error("%s: %s.block_count = %u (expected 1..1024)", f->path, a, n_layer);
    if (n_embd < 8 || n_embd > 65536 || n_embd % 8)
        return ei_set_error("%s: %s.embedding_length = %u (expected a multiple of 8 in 8..65536)", f->path, a, n_embd);
    if (n_ff < 1 || n_ff > (1u << 20)) return ei_set_error("%s: %s.feed_forward_length = %u is absurd", f->path, a, n_ff);
    if (n_head < 1 || n_head > 1024 || n_embd % n_head)
        return ei_set_error("%s: %s.attention.head_count = %u does not divide embedding_length %u", f->path, a, n_head, n_embd);
    if (n_head_kv < 1 || n_head % n_head_kv)
        return ei_set_error("%s: %s.attention.head_count_kv = %u does not divide head_count %u", f->path, a, n_head_kv, n_head);
    if (n_ctx < 1 || n_ctx > (1u << 24)) return ei_set_error("%s: %s.context_length = %u is absurd", f->path, a, n_ctx);
    uint32_t head_dim = n_embd / n_head;
    if (head_dim % 2 || head_dim > 512) return ei_set_error("%s: head dimension %u must be even and <= 512", f->path, head_dim);
    if (get_u32_default(f, a, "rope.dimension_count", head_dim, &rope_dim)) return -1;
    if (rope_dim != head_dim)
        return ei_set_error("%s: %s.rope.dimension_count = %u; only full-head RoPE (%u) is supported", f->path, a, rope_dim, head_dim);
    if (!(in->rope_theta > 0) || !isfinite(in->rope_theta) || !(in->norm_eps > 0) || in->norm_eps > 1)
        return ei_set_error("%s: rope.freq_base or layer_norm_rms_epsilon out of range", f->path);
    in->n_layer = (int)n_layer;
    in->n_embd = (int)n_embd;
    in->n_ff = (int)n_ff;
    in->n_head = (int)n_head;
    in->n_head_kv = (int)n_head_kv;
    in->head_dim = (int)head_dim;
    in->n_ctx_train = (int)n_ctx;
    return 0;
}

static int load_weights(ei_model *m) {
    ei_model_info *in = &m->info;
    const gguf_tensor *emb = gguf_find_tensor(m->file, "token_embd.weight");
    if (!emb) return ei_set_error("%s: tensor 'token_embd.weight' is missing", m->file->path);
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 22))
        return ei_set_error("%s: token_embd.weight has %" PRId64 " rows (vocabulary size) — absurd", m->file->path, emb->ne[1]);
    in->n_vocab = (int)emb->ne[1];
    if (ei_tokenizer_vocab_size(m->tok) != in->n_vocab)
        return ei_set_error("%s: tokenizer has %d tokens but token_embd.weight has %d rows", m->file->path,
                            ei_tokenizer_vocab_size(m->tok), in->n_vocab);
    int D = in->n_embd, F = in->n_ff, HD = in->n_head * in->head_dim, KV = in->n_head_kv * in->head_dim;
    int V = in->n_vocab;
    if (bind(m, &m->tok_embd, "token_embd.weight", D, V, 1, 0)) return -1;
    if (bind(m, &m->output_norm, "output_norm.weight", D, 1, 0, 0)) return -1;
    if (bind(m, &m->output, "output.weight", D, V, 1, 1)) return -1;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    m->layers = calloc((size_t)in->n_layer, sizeof *m->layers);
    if (!m->layers) return ei_set_error("out of memory");
    int qkv_bias = strcmp(in->arch, "qwen2") == 0;
    for (int l = 0; l < in->n_layer; l++) {
        ei_layer *L = &m->layers[l];
        char n[64];
#define B(field, suffix, cols, rows, mm)                                                           \
    snprintf(n, sizeof n, "blk.%d." suffix, l);                                                    \
    if (bind(m, &L->field, n, cols, rows, mm, 0)) return -1
        B(attn_norm, "attn_norm.weight", D, 1, 0);
        B(wq, "attn_q.weight", D, HD, 1);
        B(wk, "attn_k.weight", D, KV, 1);
        B(wv, "attn_v.weight", D, KV, 1);
        B(wo, "attn_output.weight", HD, D, 1);
        B(ffn_norm, "ffn_norm.weight", D, 1, 0);
        B(w_gate, "ffn_gate.weight", D, F, 1);
        B(w_up, "ffn_up.weight", D, F, 1);
        B(w_down, "ffn_down.weight", F, D, 1);
        if (qkv_bias) {
            B(bq, "attn_q.bias", HD, 1, 0);
            B(bk, "attn_k.bias", KV, 1, 0);
            B(bv, "attn_v.bias", KV, 1, 0);
        }
#undef B
    }
    uint64_t total = 0;
    int64_t params = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) {
        const gguf_tensor *t = &m->file->tensors[i];
        total += t->nbytes;
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    in->weight_bytes = total;
    in->n_params = params;
    return 0;
}

ei_model *ei_model_load(const char *path) {
    char err[512];
    ei_model *m = calloc(1, sizeof *m);
    if (!m) {
        ei_set_error("out of memory");
        return NULL;
    }
    m->kern = ei_kernels_best();
    m->file = gguf_open(path, err, sizeof err);
    if (!m->file) {
        ei_set_error("%s", err);
        free(m);
        return NULL;
    }
    if (load_hparams(m)) goto bad;
    m->tok = ei_tokenizer_load(m->file, err, sizeof err);
    if (!m->tok) {
        ei_set_error("%s", err);
        goto bad;
    }
    if (load_weights(m)) goto bad;
    m->info.file_bytes = m->file->map_size;
    identity_hash(m->file, m->info.file_sha);
    m->eot_id = ei_tokenizer_find(m->tok, "<|im_end|>");
    gguf_str tmpl;
    m->chat_chatml = gguf_get_str(m->file, "tokenizer.chat_template", &tmpl) == 0 && tmpl.len >= 12 &&
                     memmem(tmpl.ptr, tmpl.len, "<|im_start|>", 12) != NULL;
    return m;
bad:
    ei_model_free(m);
    return NULL;
}

void ei_model_free(ei_model *m) {
    if (!m) return;
    ei_tokenizer_free(m->tok);
    free(m->layers);
    gguf_close(m->file);
    free(m);
}

const ei_model_info *ei_model_get_info(const ei_model *m) { return &m->info; }
int ei_model_n_tensors(const ei_model *m) { return (int)m->file->n_tensors; }

int ei_model_tensor(const ei_model *m, int i, ei_tensor_info *out) {
    if (i < 0 || (uint64_t)i >= m->file->n_tensors) return -1;
    const gguf_tensor *t = &m->file->tensors[i];
    static _Thread_local char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(t->name.len > 255 ? 255 : t->name.len), t->name.ptr);
    out->name = name;
    out->type = gguf_type_name(t->type);
    out->n_dims = (int)t->n_dims;
    memcpy(out->ne, t->ne, sizeof out->ne);
    out->bytes = t->nbytes;
    return 0;
}

int ei_model_meta(const ei_model *m, const char *key, char *buf, size_t cap) {
    const gguf_kv *kv = gguf_find(m->file, key);
    if (!kv || cap == 0) return -1;
    gguf_str s;
    int64_t iv;
    float fv;
    if (kv->type == GGUF_STRING && gguf_get_str(m->file, key, &s) == 0) {
        if (s.len < cap) snprintf(buf, cap, "%.*s", (int)s.len, s.ptr);
        else snprintf(buf, cap, "%.*s...", (int)(cap > 4 ? cap - 4 : 0), s.ptr);
    } else if (kv->type == GGUF_ARRAY) {
        snprintf(buf, cap, "[array of %" PRIu64 "]", kv->arr_len);
    } else if (kv->type == GGUF_BOOL) {
        snprintf(buf, cap, "%s", kv->data[0] ? "true" : "false");
    } else if (gguf_get_f32(m->file, key, &fv) == 0) {
        snprintf(buf, cap, "%g", (double)fv);
    } else if (gguf_get_i64(m->file, key, &iv) == 0) {
        snprintf(buf, cap, "%" PRId64, iv);
    } else {
        snprintf(buf, cap, "?");
    }
    return 0;
}

/* ---------------------------------------------------------------- tokens */

int64_t ei_tokenize(const ei_model *m, const char *text, size_t len, int add_bos, int parse_special,
                    int32_t *out, int64_t cap) {
    char err[256];
    int64_t n = ei_tokenizer_encode(m->tok, text, len, add_bos, parse_special, out, cap, err, sizeof err);
    if (n < 0) ei_set_error("%s", err);
    return n;
}

int32_t ei_token_bos(const ei_model *m) { return ei_tokenizer_bos(m->tok); }
int32_t ei_token_eos(const ei_model *m) { return ei_tokenizer_eos(m->tok); }
int ei_token_add_bos(const ei_model *m) { return ei_tokenizer_add_bos(m->tok); }
const char *ei_isa(void) { return ei_kernels_best()->isa; }
int ei_token_is_eog(const ei_model *m, int32_t id) {
    return id >= 0 && (id == ei_tokenizer_eos(m->tok) || id == m->eot_id);
}
int ei_token_piece(const ei_model *m, int32_t id, char *buf, int cap) {
    return ei_tokenizer_piece(m->tok, id, 1, buf, cap);
}

struct ei_text_stream { ei_detok d; };

ei_text_stream *ei_text_stream_new(const ei_model *m, int render_special) {
    ei_text_stream *s = malloc(sizeof *s);
    if (!s) {
        ei_set_error("out of memory");
        return NULL;
    }
    ei_detok_init(&s->d, m->tok, render_special);
    return s;
}
int ei_text_stream_push(ei_text_stream *s, int32_t id, char *out, int cap) { return ei_detok_push(&s->d, id, out, cap); }
int ei_text_stream_flush(ei_text_stream *s, char *out, int cap) { return ei_detok_flush(&s->d, out, cap); }
void ei_text_stream_free(ei_text_stream *s) { free(s); }

int64_t ei_chat_format(const ei_model *m, const char *system, const char *user, char *out, size_t cap) {
    if (!m->chat_chatml) return ei_set_error("model has no supported chat template (only ChatML is supported)");
    if (!system) system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    int n = snprintf(out, cap, "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n",
                     system, user);
    if (n < 0) return ei_set_error("chat prompt: longer than 2 GiB");
    return n;
}

#include "gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "util.h"

static const char *type_name(ei_gate_type t) { return t == EI_GATE_LAYER_MIX ? "layer-mix" : "head-scalar"; }
static const char *rule_name(ei_update_rule r) { return r == EI_UPDATE_DELTA ? "delta" : "linear"; }

static ei_gate *gate_alloc(ei_gate_type type, int n_layer, int n_head, int hd) {
    ei_gate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->type = type;
    g->n_layer = n_layer;
    g->n_head = n_head;
    g->head_dim = hd;
    g->in_dim = type == EI_GATE_LAYER_MIX ? 2 * n_head * hd : 2 * hd;
    g->w = calloc((size_t)n_layer * n_head * g->in_dim, sizeof *g->w);
    g->b = calloc((size_t)n_layer * n_head, sizeof *g->b);
    if (!g->w || !g->b) {
        ei_gate_free(g);
        return NULL;
    }
    return g;
}

void ei_gate_free(ei_gate *g) {
    if (!g) return;
    free(g->w);
    free(g->b);
    free(g->source);
    free(g);
}

int64_t ei_gate_n_params(const ei_gate *g) { return (int64_t)g->n_layer * g->n_head * (g->in_dim + 1); }

ei_gate *ei_gate_new(const ei_model *m, ei_gate_type type, const ei_profile *pr, float bias) {
    const ei_model_info *in = ei_model_get_info(m);
    if (type != EI_GATE_HEAD_SCALAR && type != EI_GATE_LAYER_MIX) {
        ei_set_error("unknown gate type %d", (int)type);
        return NULL;
    }
    ei_gate *g = gate_alloc(type, in->n_layer, in->n_head, in->head_dim);
    if (!g) {
        ei_set_error("out of memory");
        return NULL;
    }
    g->sink = pr->sink;
    g->window = pr->window;
    g->chunk = pr->chunk;
    g->update = pr->update;
    snprintf(g->base_name, sizeof g->base_name, "%s", in->name);
    memcpy(g->base_id, in->file_sha, sizeof g->base_id);
    for (int i = 0; i < g->n_layer * g->n_head; i++) g->b[i] = bias;
    return g;
}

int ei_gate_save(const ei_gate *g, const char *path) {
    gguf_writer *w = gguf_writer_new();
    char err[512];
    if (!w) return ei_set_error("out of memory");
    int bad = 0;
    bad |= gguf_w_str(w, "general.architecture", "edgeinf-gate");
    bad |= gguf_w_str(w, "edgeinf.gate.type", type_name(g->type));
    bad |= gguf_w_str(w, "edgeinf.gate.sigma", "elu+1");
    bad |= gguf_w_str(w, "edgeinf.gate.update", rule_name(g->update));
    bad |= gguf_w_u32(w, "edgeinf.gate.sink", (uint32_t)g->sink);
    bad |= gguf_w_u32(w, "edgeinf.gate.window", (uint32_t)g->window);
    bad |= gguf_w_u32(w, "edgeinf.gate.chunk", (uint32_t)g->chunk);
    bad |= gguf_w_str(w, "edgeinf.gate.base.name", g->base_name);
    bad |= gguf_w_str(w, "edgeinf.gate.base.identity", g->base_id);
    bad |= gguf_w_u32(w, "edgeinf.gate.base.n_layer", (uint32_t)g->n_layer);
    bad |= gguf_w_u32(w, "edgeinf.gate.base.n_head", (uint32_t)g->n_head);
    bad |= gguf_w_u32(w, "edgeinf.gate.base.head_dim", (uint32_t)g->head_dim);
    for (int l = 0; l < g->n_layer && !bad; l++) {
        char name[64];
        int64_t ne_w[2] = {g->in_dim, g->n_head}, ne_b[1] = {g->n_head};
        snprintf(name, sizeof name, "blk.%d.gate.weight", l);
        bad |= gguf_w_tensor(w, name, 0, 2, ne_w, g->w + (size_t)l * g->n_head * g->in_dim,
                             sizeof(float) * (size_t)g->n_head * g->in_dim);
        snprintf(name, sizeof name, "blk.%d.gate.bias", l);
        bad |= gguf_w_tensor(w, name, 0, 1, ne_b, g->b + (size_t)l * g->n_head, sizeof(float) * (size_t)g->n_head);
    }
    int rc = bad ? ei_set_error("out of memory") : 0;
    if (!rc && gguf_writer_save(w, path, err, sizeof err)) rc = ei_set_error("%s", err);
    gguf_writer_free(w);
    return rc;
}

static int get_str(const gguf_file *f, const char *key, char *out, size_t cap) {
    gguf_str s;
    if (gguf_get_str(f, key, &s) || s.len >= cap) return -1;
    memcpy(out, s.ptr, s.len);
    out[s.len] = 0;
    return 0;
}

ei_gate *ei_gate_load(const char *path, const ei_model *m) {
    char err[512], type[32], sigma[32], update[32], arch[32];
    gguf_file *f = gguf_open(path, err, sizeof err);
    if (!f) {
        ei_set_error("%s", err);
        return NULL;
    }
    ei_gate *g = NULL;
    uint32_t S, W, L, nl, nh, hd;
    if (get_str(f, "general.architecture", arch, sizeof arch) || strcmp(arch, "edgeinf-gate")) {
        ei_set_error("%s: not a gate file (general.architecture must be 'edgeinf-gate')", path);
        goto out;
    }
    if (get_str(f, "edgeinf.gate.type", type, sizeof type) || (strcmp(type, "head-scalar") && strcmp(type, "layer-mix"))) {
        ei_set_error("%s: edgeinf.gate.type must be 'head-scalar' or 'layer-mix'", path);
        goto out;
    }
    if (get_str(f, "edgeinf.gate.sigma", sigma, sizeof sigma) || strcmp(sigma, "elu+1")) {
        ei_set_error("%s: edgeinf.gate.sigma must be 'elu+1'", path);
        goto out;
    }
    if (get_str(f, "edgeinf.gate.update", update, sizeof update) || (strcmp(update, "linear") && strcmp(update, "delta"))) {
        ei_set_error("%s: edgeinf.gate.update must be 'linear' or 'delta'", path);
        goto out;
    }
    if (gguf_get_u32(f, "edgeinf.gate.sink", &S) || gguf_get_u32(f, "edgeinf.gate.window", &W) ||
        gguf_get_u32(f, "edgeinf.gate.chunk", &L) || gguf_get_u32(f, "edgeinf.gate.base.n_layer", &nl) ||
        gguf_get_u32(f, "edgeinf.gate.base.n_head", &nh) || gguf_get_u32(f, "edgeinf.gate.base.head_dim", &hd)) {
        ei_set_error("%s: missing edgeinf.gate.sink/window/chunk or base.n_layer/n_head/head_dim", path);
        goto out;
    }
    const ei_model_info *in = ei_model_get_info(m);
    if (S > (1u << 24) || W > (1u << 24) || L > (1u << 24)) {
        ei_set_error("%s: edgeinf.gate.sink/window/chunk = %u/%u/%u: expected at most 16M each", path, S, W, L);
        goto out;
    }
    if (nl != (uint32_t)in->n_layer || nh != (uint32_t)in->n_head || hd != (uint32_t)in->head_dim) {
        ei_set_error("%s: gate is for a model with %u layers, %u heads, head dim %u; this model has %d, %d, %d", path, nl, nh, hd,
                     in->n_layer, in->n_head, in->head_dim);
        goto out;
    }
    g = gate_alloc(strcmp(type, "layer-mix") ? EI_GATE_HEAD_SCALAR : EI_GATE_LAYER_MIX, (int)nl, (int)nh, (int)hd);
    if (!g) {
        ei_set_error("out of memory");
        goto out;
    }
    g->sink = (int)S;
    g->window = (int)W;
    g->chunk = (int)L;
    g->update = strcmp(update, "delta") ? EI_UPDATE_LINEAR : EI_UPDATE_DELTA;
    if (get_str(f, "edgeinf.gate.base.name", g->base_name, sizeof g->base_name) ||
        get_str(f, "edgeinf.gate.base.identity", g->base_id, sizeof g->base_id)) {
        ei_set_error("%s: missing edgeinf.gate.base.name or base.identity", path);
        goto fail;
    }
    if (strcmp(g->base_id, in->file_sha)) {
        ei_set_error("%s: gate was made for model '%s' (identity %s), not this model '%s' (identity %s)", path, g->base_name,
                     g->base_id, in->name, in->file_sha);
        goto fail;
    }
    for (int l = 0; l < g->n_layer; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.gate.weight", l);
        const gguf_tensor *tw = gguf_find_tensor(f, name);
        if (!tw || tw->type != 0 || tw->ne[0] != g->in_dim || tw->ne[1] != g->n_head || tw->n_dims != 2) {
            ei_set_error("%s: tensor %s must be f32 [%d, %d]", path, name, g->in_dim, g->n_head);
            goto fail;
        }
        memcpy(g->w + (size_t)l * g->n_head * g->in_dim, tw->data, tw->nbytes);
        snprintf(name, sizeof name, "blk.%d.gate.bias", l);
        const gguf_tensor *tb = gguf_find_tensor(f, name);
        if (!tb || tb->type != 0 || tb->ne[0] != g->n_head || tb->n_dims != 1) {
            ei_set_error("%s: tensor %s must be f32 [%d]", path, name, g->n_head);
            goto fail;
        }
        memcpy(g->b + (size_t)l * g->n_head, tb->data, tb->nbytes);
    }
    for (int64_t i = 0; i < (int64_t)g->n_layer * g->n_head * g->in_dim; i++)
        if (!isfinite(g->w[i])) {
            ei_set_error("%s: gate weights contain NaN or Inf", path);
            goto fail;
        }
    for (int64_t i = 0; i < (int64_t)g->n_layer * g->n_head; i++)
        if (!isfinite(g->b[i])) {
            ei_set_error("%s: gate biases contain NaN or Inf", path);
            goto fail;
        }
    if (!(g->source = malloc(strlen(path) + 1))) {
        ei_set_error("out of memory");
        goto fail;
    }
    memcpy(g->source, path, strlen(path) + 1);
    goto out;
fail:
    ei_gate_free(g);
    g = NULL;
out:
    gguf_close(f);
    return g;
}

int ei_gate_check(const ei_gate *g, const ei_model *m, const ei_session_params *p) {
    const ei_model_info *in = ei_model_get_info(m);
    const char *src = g->source ? g->source : "(in memory)";
    if (g->n_layer != in->n_layer || g->n_head != in->n_head || g->head_dim != in->head_dim || strcmp(g->base_id, in->file_sha))
        return ei_set_error("%s: gate was made for model '%s' (identity %s), not '%s' (identity %s)", src, g->base_name, g->base_id,
                            in->name, in->file_sha);
    if (g->sink != p->n_sink || g->window != p->n_window || g->chunk != p->n_chunk || g->update != p->update)
        return ei_set_error("%s: gate was trained with sink %d, window %d, chunk %d, %s update; this session uses sink %d, "
                            "window %d, chunk %d, %s update",
                            src, g->sink, g->window, g->chunk, rule_name(g->update), p->n_sink, p->n_window, p->n_chunk,
                            rule_name(p->update));
    return 0;
}

float ei_gate_value(const ei_gate *g, int layer, int h, const float *a_mem, const float *a_loc) {
    const int hd = g->head_dim;
    const float *w = g->w + ((size_t)layer * g->n_head + h) * g->in_dim;
    float acc = 0.0f; /* the bias is added last: near b = -8 it would round away the small terms */
    if (g->type == EI_GATE_HEAD_SCALAR) {
        for (int i = 0; i < hd; i++) acc += w[i] * a_mem[(size_t)h * hd + i] + w[hd + i] * a_loc[(size_t)h * hd + i];
    } else {
        for (int j = 0; j < g->n_head; j++) {
            const float *wj = w + (size_t)j * 2 * hd;
            for (int i = 0; i < hd; i++) acc += wj[i] * a_mem[(size_t)j * hd + i] + wj[hd + i] * a_loc[(size_t)j * hd + i];
        }
    }
    acc += g->b[(size_t)layer * g->n_head + h];
    return 1.0f / (1.0f + expf(-acc));
}

void ei_gate_blend(const ei_gate *g, float gconst, int layer, int H, int hd, const float *a_mem, float *att) {
    float gv[1024]; /* the model loader caps heads at 1024 */
    /* all gate values first: layer-mix gates read every head's local attention before any is blended */
    for (int h = 0; h < H; h++) gv[h] = g ? ei_gate_value(g, layer, h, a_mem, att) : gconst;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < hd; i++) {
            float *o = att + (size_t)h * hd + i;
            *o = gv[h] * a_mem[(size_t)h * hd + i] + (1.0f - gv[h]) * *o;
        }
}

/* Scenario profiles (method.md sections 6-7) and long/short routing (section 3).
 * Built-in defaults are [ours]; every field can be overridden from a file or flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinf.h"
#include "util.h"

/*                       name         L    S    W     full-KV  update            kv         max new */
static const ei_profile builtin[] = {
    {"chat",      128, 64,  2048, 8192, EI_UPDATE_LINEAR, EI_KV_F16, 512},
    {"summarize", 256, 64,  1024, 4096, EI_UPDATE_DELTA,  EI_KV_F16, 512},
    {"qa",        128, 256, 2048, 4096, EI_UPDATE_DELTA,  EI_KV_F16, 128},
    {"stream",    128, 16,  1024, 2048, EI_UPDATE_LINEAR, EI_KV_F16, 1 << 20},
};
static const char *const names[] = {"chat", "summarize", "qa", "stream", NULL};

const char *const *ei_profile_names(void) { return names; }

int ei_profile_builtin(const char *name, ei_profile *out) {
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(builtin[i].name, name) == 0) {
            *out = builtin[i];
            return 0;
        }
    return ei_set_error("unknown profile '%s' (built in: chat, summarize, qa, stream)", name);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_count(const char *v, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < 0 || x > (1 << 24)) return -1;
    *out = (int)x;
    return 0;
}

int ei_profile_load_file(const char *path, ei_profile *p) {
    FILE *f = fopen(path, "r");
    if (!f) return ei_set_error("%s: cannot open profile file", path);
    ei_profile tmp = *p; /* all or nothing: p changes only when the whole file is valid */
    char line[512];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) { rc = ei_set_error("%s:%d: line too long", path, lineno); break; }
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) { rc = ei_set_error("%s:%d: expected 'key = value'", path, lineno); break; }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        int bad = 0;
        if (!strcmp(k, "name")) {
            /* a name goes into run files and JSON stats lines: short, and letters, digits, '.', '_', '-' only */
            const size_t n = strlen(v);
            if (!n || n >= sizeof tmp.name || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n) {
                rc = ei_set_error("%s:%d: profile name '%s': expected 1..%d letters, digits, '.', '_' or '-'", path, lineno, v,
                                  (int)sizeof tmp.name - 1);
                break;
            }
            memcpy(tmp.name, v, n + 1);
        }
        else if (!strcmp(k, "chunk")) bad = parse_count(v, &tmp.chunk);
        else if (!strcmp(k, "sink")) bad = parse_count(v, &tmp.sink);
        else if (!strcmp(k, "window")) bad = parse_count(v, &tmp.window);
        else if (!strcmp(k, "full_kv_budget")) bad = parse_count(v, &tmp.full_kv_budget);
        else if (!strcmp(k, "max_new_tokens")) bad = parse_count(v, &tmp.max_new_tokens);
        else if (!strcmp(k, "update")) {
            if (!strcmp(v, "linear")) tmp.update = EI_UPDATE_LINEAR;
            else if (!strcmp(v, "delta")) tmp.update = EI_UPDATE_DELTA;
            else bad = 1;
        } else if (!strcmp(k, "kv")) {
            if (!strcmp(v, "f16")) tmp.kv_type = EI_KV_F16;
            else if (!strcmp(v, "f32")) tmp.kv_type = EI_KV_F32;
            else bad = 1;
        } else {
            rc = ei_set_error("%s:%d: unknown key '%s' (keys: name, chunk, sink, window, full_kv_budget, update, kv, max_new_tokens)",
                              path, lineno, k);
            break;
        }
        if (bad) rc = ei_set_error("%s:%d: bad value '%s' for '%s'", path, lineno, v, k);
    }
    if (!rc && ferror(f)) rc = ei_set_error("%s: read error", path);
    fclose(f);
    if (!rc) *p = tmp;
    return rc;
}

int ei_profile_check(const ei_profile *p, const ei_model *m) {
    const ei_model_info *in = ei_model_get_info(m);
    if (p->chunk < 1 || p->chunk > 8192) return ei_set_error("profile '%s': chunk %d must be in 1..8192", p->name, p->chunk);
    if (p->sink < 0) return ei_set_error("profile '%s': sink %d must be >= 0", p->name, p->sink);
    if (p->window < p->chunk || p->window % p->chunk)
        return ei_set_error("profile '%s': window %d must be a positive multiple of chunk %d", p->name, p->window, p->chunk);
    if ((int64_t)p->sink + p->window + p->chunk > in->n_ctx_train)
        return ei_set_error("profile '%s': sink %d + window %d + chunk %d exceeds the model's trained context %d", p->name, p->sink,
                            p->window, p->chunk, in->n_ctx_train);
    if (p->full_kv_budget < 1 || p->full_kv_budget > in->n_ctx_train)
        return ei_set_error("profile '%s': full_kv_budget %d must be in 1..%d (the trained context)", p->name, p->full_kv_budget,
                            in->n_ctx_train);
    if (p->max_new_tokens < 1) return ei_set_error("profile '%s': max_new_tokens must be >= 1", p->name);
    return 0;
}

int ei_profile_fit(ei_profile *p, const ei_model *m) {
    const int ctx = ei_model_get_info(m)->n_ctx_train;
    int changed = 0;
    if (p->full_kv_budget > ctx) p->full_kv_budget = ctx, changed = 1;
    while ((int64_t)p->sink + p->window + p->chunk > ctx && (p->window > p->chunk || p->sink > 0 || p->chunk > 1)) {
        if (p->window > p->chunk) p->window /= 2;
        else if (p->sink > 0) p->sink /= 2;
        else p->chunk /= 2, p->window = p->chunk;
        p->window = p->window / p->chunk * p->chunk; /* stays a positive multiple of the chunk */
        if (p->window < p->chunk) p->window = p->chunk;
        changed = 1;
    }
    return changed;
}

const char *ei_profile_for_task(const char *task, int64_t prompt_tokens) {
    if (task && (!strcmp(task, "summarize") || !strcmp(task, "qa") || !strcmp(task, "stream") || !strcmp(task, "chat")))
        return task;
    /* no task: short inputs chat, long ones stream */
    return prompt_tokens <= 4096 ? "chat" : "stream";
}

ei_mode ei_route(const ei_profile *p, ei_mode requested, int64_t prompt_tokens, int64_t new_tokens, char *why, size_t cap) {
    int64_t need = prompt_tokens + new_tokens;
    if (requested == EI_MODE_FULL) {
        snprintf(why, cap, "full attention (requested)");
        return EI_MODE_FULL;
    }
    if (requested == EI_MODE_INFINITE) {
        snprintf(why, cap, "EdgeInfinite (requested)");
        return EI_MODE_INFINITE;
    }
    if (need <= p->full_kv_budget) {
        snprintf(why, cap, "full attention: prompt %lld + new %lld tokens fit the profile's full-KV budget of %d", (long long)prompt_tokens,
                 (long long)new_tokens, p->full_kv_budget);
        return EI_MODE_FULL;
    }
    snprintf(why, cap, "EdgeInfinite: prompt %lld + new %lld tokens exceed the profile's full-KV budget of %d", (long long)prompt_tokens,
             (long long)new_tokens, p->full_kv_budget);
    return EI_MODE_INFINITE;
}

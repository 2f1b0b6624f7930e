/* Evaluation harness: options, methods, sessions, generation, resumable run files (harness.h). */
#include "harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

void eval_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("edgeinf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

char *eval_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb, cap *= 2;
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; errno = EIO; }
    fclose(f);
    if (buf) buf[n] = 0, *len = n;
    return buf;
}

/* ------------------------------------------------------------ options */

static int to_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        eval_err("%s expects an integer in [%d, %d], got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int eval_parse_opts(int argc, char **argv, eval_opts *o, const char *default_profile) {
    memset(o, 0, sizeof *o);
    o->out_dir = "bench/out/eval", o->profile_name = default_profile, o->methods = "full,streaming,const0.3";
    o->threads = 2, o->keys = 5, o->seed = 1, o->max_tokens = 32768;
    o->chunk = o->sink = o->window = -1;
    size_t used = (size_t)snprintf(o->command, sizeof o->command, "edgeinf eval");
    for (int i = -1; i < argc; i++) {
        const char *a = i < 0 ? "" : argv[i];
        if (i >= 0 && used < sizeof o->command) used += (size_t)snprintf(o->command + used, sizeof o->command - used, " %s", a);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *const *strs[] = {&o->model_path, &o->out_dir, &o->data, &o->tasks, &o->profile_name, &o->profile_file,
                                     &o->lengths, &o->depths, &o->bands, &o->corpus, &o->methods};
        static const char *const str_flags[] = {"-m", "--out-dir", "--data", "--tasks", "--profile", "--profile-file",
                                                "--lengths", "--depths", "--bands", "--corpus", "--method"};
        int *ints[] = {&o->threads, &o->limit, &o->keys, &o->chunk, &o->sink, &o->window, &o->max_tokens};
        static const char *const int_flags[] = {"--threads", "--limit", "--keys", "--chunk", "--sink", "--window", "--max-tokens"};
        int hit = 0;
        if (!strcmp(a, "--overwrite")) { o->overwrite = 1; continue; }
        for (size_t k = 0; k < sizeof str_flags / sizeof *str_flags && !hit; k++)
            if (!strcmp(a, str_flags[k])) {
                if (!v) { eval_err("option %s needs a value", a); return -1; }
                *(const char **)strs[k] = v, i++, hit = 1;
            }
        for (size_t k = 0; k < sizeof int_flags / sizeof *int_flags && !hit; k++)
            if (!strcmp(a, int_flags[k]) || (!strcmp(a, "-t") && k == 0)) {
                if (!v) { eval_err("option %s needs a value", a); return -1; }
                if (to_int(a, v, k == 1 || k >= 3 ? 0 : 1, 1 << 26, ints[k])) return -1;
                i++, hit = 1;
            }
        if (!hit && !strcmp(a, "--seed")) {
            int s;
            if (!v || to_int(a, v, 0, 1 << 30, &s)) return -1;
            o->seed = (uint64_t)s, i++, hit = 1;
        }
        if (!hit) { eval_err("unknown option '%s' for eval %s (edgeinf eval --help)", a, argv[0]); return -1; }
    }
    if (!o->model_path) { eval_err("eval %s needs -m MODEL", argv[0]); return -1; }
    return 0;
}

int eval_parse_methods(const char *list, eval_method *out, int cap) {
    int n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        char name[96];
        if (len == 0 || len >= sizeof name) { eval_err("--method: bad list '%s'", list); return -1; }
        if (n == cap) { eval_err("--method: at most %d methods", cap); return -1; }
        memcpy(name, p, len);
        name[len] = 0;
        eval_method *e = &out[n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", name);
        char *end;
        if (!strcmp(name, "full")) e->full = 1;
        else if (!strcmp(name, "streaming")) e->freeze_memory = 1;
        else if (!strcmp(name, "closed")) e->gate_kind = 1;
        else if (!strncmp(name, "const", 5) && (e->gate_const = strtof(name + 5, &end), *end == 0 && end > name + 5) &&
                 e->gate_const >= 0 && e->gate_const <= 1)
            e->gate_kind = 2;
        else if (!strncmp(name, "gate:", 5) && name[5]) {
            e->gate_kind = 3;
            snprintf(e->gate_file, sizeof e->gate_file, "%s", name + 5);
            const char *slash = strrchr(name + 5, '/');
            snprintf(e->name, sizeof e->name, "gate-%s", slash ? slash + 1 : name + 5);
        } else {
            eval_err("unknown method '%s' (full, streaming, closed, constG with 0 <= G <= 1, gate:FILE)", name);
            return -1;
        }
        p += len;
        if (*p == ',') p++;
    }
    return n;
}

/* ------------------------------------------------------------ run files */

static void utc_now(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void write_value(json_out *o, const json *v) {
    switch (v->type) {
    case JSON_NULL: jo_raw(o, "null"); break;
    case JSON_BOOL: jo_raw(o, v->num ? "true" : "false"); break;
    case JSON_NUMBER: jo_num(o, v->num); break;
    case JSON_STRING: jo_str(o, v->str); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        jo_raw(o, v->type == JSON_ARRAY ? "[" : "{");
        for (size_t k = 0; k < v->len; k++) {
            if (k) jo_raw(o, ", ");
            if (v->type == JSON_OBJECT) jo_str(o, v->keys[k]), jo_raw(o, ": ");
            write_value(o, &v->items[k]);
        }
        jo_raw(o, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

static int remember(eval_run *r, const char *key, const char *group, const char *group2, double score) {
    if (r->n_samples == r->done_cap) {
        int cap = r->done_cap ? 2 * r->done_cap : 64;
        struct done_sample *d = realloc(r->done, (size_t)cap * sizeof *d);
        if (!d) return -1;
        r->done = d, r->done_cap = cap;
    }
    struct done_sample *d = &r->done[r->n_samples++];
    snprintf(d->key, sizeof d->key, "%s", key);
    snprintf(d->group, sizeof d->group, "%s", group ? group : "");
    snprintf(d->group2, sizeof d->group2, "%s", group2 ? group2 : "");
    d->score = score;
    return 0;
}

static void profile_json(json_out *o, const ei_profile *p) {
    jo_raw(o, "{\"name\": "), jo_str(o, p->name);
    jo_raw(o, ", \"chunk\": "), jo_int(o, p->chunk), jo_raw(o, ", \"sink\": "), jo_int(o, p->sink);
    jo_raw(o, ", \"window\": "), jo_int(o, p->window), jo_raw(o, ", \"full_kv_budget\": "), jo_int(o, p->full_kv_budget);
    jo_raw(o, ", \"update\": "), jo_str(o, p->update == EI_UPDATE_DELTA ? "delta" : "linear");
    jo_raw(o, ", \"kv\": "), jo_str(o, p->kv_type == EI_KV_F16 ? "f16" : "f32"), jo_raw(o, "}");
}

/* Mean score per group (and per second group); the average of the group means. */
static void summary_json(json_out *o, const eval_run *r, int second) {
    jo_raw(o, "{");
    int first = 1;
    for (int i = 0; i < r->n_samples; i++) {
        const char *g = second ? r->done[i].group2 : r->done[i].group;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(g, second ? r->done[j].group2 : r->done[j].group);
        if (seen || !*g) continue;
        double sum = 0;
        int n = 0;
        for (int j = i; j < r->n_samples; j++)
            if (!strcmp(g, second ? r->done[j].group2 : r->done[j].group)) sum += r->done[j].score, n++;
        if (!first) jo_raw(o, ", ");
        first = 0;
        jo_str(o, g), jo_raw(o, ": {\"n\": "), jo_int(o, n), jo_raw(o, ", \"mean\": "), jo_num(o, sum / n), jo_raw(o, "}");
    }
    jo_raw(o, "}");
}

static int save(eval_run *r) {
    json_out o = {0};
    char now[32];
    utc_now(now);
    const ei_model_info *in = ei_model_get_info(r->m);
    jo_raw(&o, "{\"tool\": \"edgeinf eval\", \"version\": \"" EI_VERSION "\", \"bench\": "), jo_str(&o, r->bench);
    jo_raw(&o, ",\n \"command\": "), jo_str(&o, r->o->command);
    jo_raw(&o, ",\n \"started\": "), jo_str(&o, r->started), jo_raw(&o, ", \"updated\": "), jo_str(&o, now);
    jo_raw(&o, ", \"complete\": "), jo_raw(&o, r->n_samples >= r->requested ? "true" : "false");
    jo_raw(&o, ",\n \"model\": {\"path\": "), jo_str(&o, r->o->model_path), jo_raw(&o, ", \"name\": "), jo_str(&o, in->name);
    jo_raw(&o, ", \"sha256\": "), jo_str(&o, r->model_sha), jo_raw(&o, ", \"n_ctx_train\": "), jo_int(&o, in->n_ctx_train);
    jo_raw(&o, "},\n \"method\": {\"name\": "), jo_str(&o, r->method.name);
    jo_raw(&o, ", \"path\": "), jo_str(&o, r->method.full ? "full" : "infinite");
    static const char *const kinds[4] = {"none", "closed", "const", "file"};
    jo_raw(&o, ", \"gate\": "), jo_str(&o, kinds[r->method.gate_kind]);
    jo_raw(&o, ", \"gate_const\": ");
    if (r->method.gate_kind == 2) jo_num(&o, r->method.gate_const);
    else jo_raw(&o, "null");
    jo_raw(&o, ", \"gate_file\": ");
    if (r->method.gate_kind == 3) jo_str(&o, r->method.gate_file);
    else jo_raw(&o, "null");
    jo_raw(&o, ", \"freeze_memory\": "), jo_int(&o, r->method.freeze_memory);
    jo_raw(&o, "},\n \"profile\": "), profile_json(&o, &r->profile);
    jo_raw(&o, ",\n \"threads\": "), jo_int(&o, r->o->threads), jo_raw(&o, ", \"isa\": "), jo_str(&o, ei_isa());
    jo_raw(&o, ", \"wall_s\": "), jo_num(&o, r->wall_before + ei_time_s() - r->t0);
    jo_raw(&o, ", \"requested\": "), jo_int(&o, r->requested), jo_raw(&o, ", \"done\": "), jo_int(&o, r->n_samples);
    jo_raw(&o, ",\n \"scores\": {\"groups\": "), summary_json(&o, r, 0);
    jo_raw(&o, ", \"groups2\": "), summary_json(&o, r, 1), jo_raw(&o, "},\n \"samples\": [");
    if (r->samples.len) jo_raw(&o, r->samples.buf);
    jo_raw(&o, "]}\n");
    int rc = jo_write_file_atomic(&o, r->path);
    if (rc) eval_err("%s: cannot write the run file (%s)", r->path, strerror(errno));
    free(o.buf);
    return rc;
}

/* Resume: keep the samples of a run file made with the same model, bench, method and profile. */
static int resume(eval_run *r) {
    char err[300];
    if (access(r->path, F_OK) != 0) return 0;
    json *v = json_parse_file(r->path, err, sizeof err);
    if (!v) { eval_err("%s (delete it or pass --overwrite)", err); return -1; }
    const json *prof = json_get(v, "profile");
    const char *why = NULL;
    json_out want = {0};
    profile_json(&want, &r->profile);
    json_out have = {0};
    if (prof) write_value(&have, prof);
    if (!json_str(json_get(json_get(v, "model"), "sha256")) || strcmp(json_str(json_get(json_get(v, "model"), "sha256")), r->model_sha))
        why = "model.sha256";
    else if (!json_str(json_get(v, "bench")) || strcmp(json_str(json_get(v, "bench")), r->bench)) why = "bench";
    else if (!json_str(json_get(json_get(v, "method"), "name")) || strcmp(json_str(json_get(json_get(v, "method"), "name")), r->method.name))
        why = "method.name";
    else if (!have.buf || !want.buf || strcmp(have.buf, want.buf)) why = "profile";
    free(want.buf), free(have.buf);
    if (why) {
        eval_err("%s: made with another %s; delete it or pass --overwrite", r->path, why);
        json_free(v);
        return -1;
    }
    const json *samples = json_get(v, "samples");
    for (size_t k = 0; samples && samples->type == JSON_ARRAY && k < samples->len; k++) {
        const json *s = &samples->items[k];
        const char *key = json_str(json_get(s, "key"));
        if (!key) continue;
        if (r->samples.len) jo_raw(&r->samples, ",\n  ");
        write_value(&r->samples, s);
        if (remember(r, key, json_str(json_get(s, "group")), json_str(json_get(s, "group2")), json_num(json_get(s, "score"), 0))) {
            json_free(v);
            return -1;
        }
    }
    r->wall_before = json_num(json_get(v, "wall_s"), 0);
    const char *st = json_str(json_get(v, "started"));
    if (st) snprintf(r->started, sizeof r->started, "%s", st);
    json_free(v);
    if (r->n_samples) fprintf(stderr, "edgeinf: %s: resuming: %d samples already done\n", r->path, r->n_samples);
    return 0;
}

int eval_run_open(eval_run *r, const eval_opts *o, const char *bench, const eval_method *method, ei_model *m, int requested) {
    memset(r, 0, sizeof *r);
    r->o = o, r->bench = bench, r->method = *method, r->m = m, r->requested = requested;
    r->tty = isatty(2);
    r->t0 = ei_time_s();
    utc_now(r->started);
    if (ei_profile_builtin(o->profile_name, &r->profile)) { eval_err("%s", ei_last_error()); return -1; }
    if (o->profile_file && ei_profile_load_file(o->profile_file, &r->profile)) { eval_err("%s", ei_last_error()); return -1; }
    if (o->chunk >= 0) r->profile.chunk = o->chunk;
    if (o->sink >= 0) r->profile.sink = o->sink;
    if (o->window >= 0) r->profile.window = o->window;
    ei_profile_fit(&r->profile, m);
    if (ei_profile_check(&r->profile, m)) { eval_err("%s", ei_last_error()); return -1; }
    if (sha256_file(o->model_path, r->model_sha)) { eval_err("%s: cannot read to hash it", o->model_path); return -1; }
    r->n_ctx = ei_model_get_info(m)->n_ctx_train;
    ei_session_params p = ei_session_params_for(&r->profile, method->full ? EI_MODE_FULL : EI_MODE_INFINITE, r->n_ctx, o->threads);
    p.freeze_memory = method->freeze_memory;
    if (method->gate_kind == 1) {
        if (!(r->gate = ei_gate_new(m, EI_GATE_HEAD_SCALAR, &r->profile, -8.0f))) { eval_err("%s", ei_last_error()); return -1; }
    } else if (method->gate_kind == 3) {
        if (!(r->gate = ei_gate_load(method->gate_file, m))) { eval_err("%s", ei_last_error()); return -1; }
    }
    p.gate = r->gate;
    p.gate_const = method->gate_kind == 2 ? method->gate_const : -1.0f;
    if (!(r->s = ei_session_new(m, &p))) { eval_err("%s", ei_last_error()); return -1; }
    if (mkdir(o->out_dir, 0755) && errno != EEXIST) { eval_err("%s: cannot create (%s)", o->out_dir, strerror(errno)); return -1; }
    if (snprintf(r->path, sizeof r->path, "%s/%s-%s.json", o->out_dir, bench, r->method.name) >= (int)sizeof r->path) {
        eval_err("--out-dir: path too long");
        return -1;
    }
    if (!o->overwrite && resume(r)) return -1;
    return 0;
}

void eval_run_close(eval_run *r) {
    if (r->tty) fputc('\n', stderr);
    ei_session_free(r->s);
    ei_gate_free(r->gate);
    free(r->samples.buf);
    free(r->done);
    r->s = NULL, r->gate = NULL;
}

int eval_run_has(const eval_run *r, const char *key) {
    for (int i = 0; i < r->n_samples; i++)
        if (!strcmp(r->done[i].key, key)) return 1;
    return 0;
}

int eval_run_add(eval_run *r, const char *key, const char *group, const char *group2, double score, const char *fields_json) {
    if (r->samples.len) jo_raw(&r->samples, ",\n  ");
    jo_raw(&r->samples, "{\"key\": "), jo_str(&r->samples, key);
    jo_raw(&r->samples, ", \"group\": "), jo_str(&r->samples, group);
    jo_raw(&r->samples, ", \"group2\": "), jo_str(&r->samples, group2 ? group2 : "");
    jo_raw(&r->samples, ", \"score\": "), jo_num(&r->samples, score);
    if (fields_json && *fields_json) jo_raw(&r->samples, ", "), jo_raw(&r->samples, fields_json);
    jo_raw(&r->samples, "}");
    if (r->samples.failed || remember(r, key, group, group2, score)) { eval_err("out of memory"); return -1; }
    return save(r);
}

void eval_progress(eval_run *r, const char *key) {
    const double el = ei_time_s() - r->t0;
    const double eta = r->n_samples > 0 ? el / (r->n_samples) * (r->requested - r->n_samples) : 0;
    fprintf(stderr, "%s[%s %s] %d/%d %s  elapsed %.0f s  ETA %.0f s%s", r->tty ? "\r\033[K" : "", r->bench, r->method.name,
            r->n_samples, r->requested, key, el, eta, r->tty ? "" : "\n");
    fflush(stderr);
}

/* ------------------------------------------------------------ prompts and generation */

static int push_tokens(const ei_model *m, const char *text, int special, int32_t **buf, int64_t *n, int64_t *cap) {
    int64_t need = ei_tokenize(m, text, strlen(text), 0, special, NULL, 0);
    if (need < 0) return -1;
    if (*n + need > *cap) {
        int64_t nc = (*n + need) * 2 + 16;
        int32_t *b = realloc(*buf, (size_t)nc * sizeof *b);
        if (!b) return -1;
        *buf = b, *cap = nc;
    }
    ei_tokenize(m, text, strlen(text), 0, special, *buf + *n, need);
    *n += need;
    return 0;
}

int32_t *eval_tokens(const eval_run *r, const char *text, int chat, int64_t budget, int64_t *n_out, int64_t *truncated) {
    const ei_model *m = r->m;
    char *pre = NULL, *post = NULL;
    int32_t *body = NULL, *all = NULL;
    int64_t nb = 0, cb = 0, n = 0, cap = 0;
    *truncated = 0;
    if (chat) {
        /* the template around a marker: prefix and suffix are tokenized with special tokens */
        static const char mark[] = "\x01\x02MARK\x02\x01";
        int64_t need = ei_chat_format(m, NULL, mark, NULL, 0);
        if (need > 0 && (pre = malloc((size_t)need + 1)) && ei_chat_format(m, NULL, mark, pre, (size_t)need + 1) == need) {
            char *at = strstr(pre, mark);
            if (at) *at = 0, post = at + strlen(mark);
        }
        if (!post) chat = 0; /* the model has no chat template: raw prompt */
    }
    if (push_tokens(m, text, 0, &body, &nb, &cb)) goto fail;
    int32_t bos = ei_token_add_bos(m) ? ei_token_bos(m) : -1;
    int64_t n_pre = 0, n_post = 0, cpre = 0, cpost = 0;
    int32_t *tp = NULL, *tq = NULL;
    if (chat && (push_tokens(m, pre, 1, &tp, &n_pre, &cpre) || push_tokens(m, post, 1, &tq, &n_post, &cpost))) {
        free(tp), free(tq);
        goto fail;
    }
    int64_t keep = nb;
    const int64_t room = budget - n_pre - n_post - (bos >= 0);
    if (budget > 0 && nb > room) keep = room > 2 ? room : 2;
    cap = (bos >= 0) + n_pre + keep + n_post;
    all = malloc((size_t)cap * sizeof *all);
    if (!all) { free(tp), free(tq); goto fail; }
    if (bos >= 0) all[n++] = bos;
    for (int64_t i = 0; i < n_pre; i++) all[n++] = tp[i];
    /* middle truncation: the first half and the last half of the budget */
    for (int64_t i = 0; i < keep / 2; i++) all[n++] = body[i];
    for (int64_t i = nb - (keep - keep / 2); i < nb; i++) all[n++] = body[i];
    for (int64_t i = 0; i < n_post; i++) all[n++] = tq[i];
    *truncated = nb - keep;
    free(tp), free(tq), free(body), free(pre);
    *n_out = n;
    return all;
fail:
    eval_err("tokenizing the prompt failed: %s", ei_last_error());
    free(body), free(pre), free(all);
    return NULL;
}

static void prefill_progress(void *user, int64_t done, int64_t total) {
    eval_run *r = user;
    if (r->tty && total > 2048) fprintf(stderr, "\r\033[K[%s %s] prefill %lld/%lld", r->bench, r->method.name, (long long)done, (long long)total);
}

char *eval_generate(eval_run *r, const int32_t *toks, int64_t n, int max_new, int stop_at_newline, int *n_generated) {
    ei_session_reset(r->s);
    *n_generated = 0;
    if (ei_session_eval(r->s, toks, n, NULL, prefill_progress, r)) { eval_err("%s", ei_last_error()); return NULL; }
    const ei_model_info *in = ei_model_get_info(r->m);
    ei_text_stream *ts = ei_text_stream_new(r->m, 0);
    size_t cap = 1024, len = 0;
    char *out = malloc(cap), piece[512];
    if (!ts || !out) { ei_text_stream_free(ts), free(out); eval_err("out of memory"); return NULL; }
    out[0] = 0;
    for (int i = 0; i < max_new; i++) {
        const float *lg = ei_session_logits(r->s);
        int32_t best = 0;
        for (int32_t v = 1; v < in->n_vocab; v++)
            if (lg[v] > lg[best]) best = v;
        if (ei_token_is_eog(r->m, best)) break;
        (*n_generated)++;
        int k = ei_text_stream_push(ts, best, piece, sizeof piece);
        if (k > 0) {
            if (len + (size_t)k + 1 > cap) {
                char *o2 = realloc(out, cap = 2 * cap + (size_t)k);
                if (!o2) { free(out), ei_text_stream_free(ts); eval_err("out of memory"); return NULL; }
                out = o2;
            }
            memcpy(out + len, piece, (size_t)k), len += (size_t)k, out[len] = 0;
        }
        if (stop_at_newline && len > 0 && strchr(out, '\n') && strspn(out, "\n") < len) break;
        if (i + 1 < max_new && ei_session_eval(r->s, &best, 1, NULL, NULL, NULL)) break; /* context full: stop */
    }
    int k = ei_text_stream_flush(ts, piece, sizeof piece);
    if (k > 0 && len + (size_t)k + 1 <= cap) memcpy(out + len, piece, (size_t)k), len += (size_t)k, out[len] = 0;
    ei_text_stream_free(ts);
    return out;
}

/* Run files, resume, progress and the session of one method's run (harness.h). */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

static void utc_now(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------ the file */

static void profile_json(json_out *o, const ei_profile *p) {
    jo_raw(o, "{\"name\": "), jo_str(o, p->name);
    jo_raw(o, ", \"chunk\": "), jo_int(o, p->chunk), jo_raw(o, ", \"sink\": "), jo_int(o, p->sink);
    jo_raw(o, ", \"window\": "), jo_int(o, p->window), jo_raw(o, ", \"full_kv_budget\": "), jo_int(o, p->full_kv_budget);
    jo_raw(o, ", \"update\": "), jo_str(o, p->update == EI_UPDATE_DELTA ? "delta" : "linear");
    jo_raw(o, ", \"kv\": "), jo_str(o, p->kv_type == EI_KV_F16 ? "f16" : "f32");
    jo_raw(o, ", \"max_new_tokens\": "), jo_int(o, p->max_new_tokens), jo_raw(o, "}");
}

static void method_json(json_out *o, const eval_run *r) {
    static const char *const kinds[4] = {"none", "closed", "const", "file"};
    const eval_method *e = &r->method;
    jo_raw(o, "{\"name\": "), jo_str(o, e->name);
    jo_raw(o, ", \"path\": "), jo_str(o, e->full ? "full" : "infinite");
    jo_raw(o, ", \"gate\": "), jo_str(o, kinds[e->gate]);
    jo_raw(o, ", \"gate_const\": ");
    if (e->gate == EVAL_GATE_CONST) jo_num(o, e->gate_const);
    else jo_raw(o, "null");
    jo_raw(o, ", \"gate_file\": ");
    if (e->gate == EVAL_GATE_FILE) jo_str(o, e->gate_file);
    else jo_raw(o, "null");
    jo_raw(o, ", \"gate_sha256\": ");
    if (e->gate == EVAL_GATE_FILE) jo_str(o, r->gate_sha);
    else jo_raw(o, "null");
    jo_raw(o, ", \"freeze_memory\": "), jo_int(o, e->freeze_memory);
    const char *evict = e->evict == EI_EVICT_H2O ? "h2o" : e->evict == EI_EVICT_SNAPKV ? "snapkv" : "oldest";
    jo_raw(o, ", \"evict\": "), jo_str(o, evict), jo_raw(o, "}");
}

static int save(eval_run *r) {
    json_out o = {0};
    char now[32];
    utc_now(now);
    const ei_model_info *in = ei_model_get_info(r->m);
    jo_raw(&o, "{\"tool\": \"edgeinf eval\", \"version\": \"" EI_VERSION "\", \"build\": "), jo_str(&o, ei_build_id());
    jo_raw(&o, ", \"bench\": "), jo_str(&o, r->o->bench);
    jo_raw(&o, ",\n \"command\": "), jo_str(&o, r->o->command);
    jo_raw(&o, ",\n \"started\": "), jo_str(&o, r->started), jo_raw(&o, ", \"updated\": "), jo_str(&o, now);
    jo_raw(&o, ", \"complete\": "), jo_raw(&o, r->requested_done >= r->requested ? "true" : "false");
    jo_raw(&o, ", \"requested\": "), jo_int(&o, r->requested), jo_raw(&o, ", \"done\": "), jo_int(&o, r->requested_done);
    jo_raw(&o, ",\n \"model\": {\"path\": "), jo_str(&o, r->o->model_path), jo_raw(&o, ", \"name\": "), jo_str(&o, in->name);
    jo_raw(&o, ", \"sha256\": "), jo_str(&o, r->model_sha), jo_raw(&o, ", \"n_ctx_train\": "), jo_int(&o, in->n_ctx_train);
    jo_raw(&o, ", \"chat_template\": "), jo_raw(&o, r->chat_template ? "true" : "false");
    jo_raw(&o, "},\n \"method\": "), method_json(&o, r);
    jo_raw(&o, ",\n \"profile\": "), profile_json(&o, &r->profile);
    jo_raw(&o, ",\n \"threads\": "), jo_int(&o, r->o->threads), jo_raw(&o, ", \"isa\": "), jo_str(&o, ei_isa());
    jo_raw(&o, ", \"wall_s\": "), jo_num(&o, r->wall_before + ei_time_s() - r->t0);
    jo_raw(&o, ",\n \"options\": "), jo_raw(&o, r->options);
    jo_raw(&o, ",\n \"samples\": [");
    for (int i = 0; i < r->n_samples; i++) jo_raw(&o, i ? ",\n  " : "\n  "), jo_value(&o, r->samples[i]);
    jo_raw(&o, "],\n \"scores\": ");
    r->summary(&o, r->samples, r->n_samples);
    jo_raw(&o, "}\n");
    int rc = jo_write_file_atomic(&o, r->path);
    if (rc) eval_err("%s: cannot write the run file (%s)", r->path, o.failed ? "out of memory" : strerror(errno));
    free(o.buf);
    return rc;
}

static int push_sample(eval_run *r, json *s) {
    if (r->n_samples == r->cap_samples) {
        const int cap = r->cap_samples ? 2 * r->cap_samples : 64;
        json **p = realloc(r->samples, (size_t)cap * sizeof *p);
        if (!p) return -1;
        r->samples = p, r->cap_samples = cap;
    }
    r->samples[r->n_samples++] = s;
    return 0;
}

/* Two values as their JSON text: equal when the text is. */
static int same_value(const json *a, const json *b) {
    json_out x = {0}, y = {0};
    jo_value(&x, a), jo_value(&y, b);
    const int same = !x.failed && !y.failed && x.len == y.len && !memcmp(x.buf, y.buf, x.len);
    free(x.buf), free(y.buf);
    return same;
}

/* Resume: the samples of a run file made with the same model, bench, method, profile and identity
 * options are kept; any other difference is refused with the field that differs. */
static int resume(eval_run *r) {
    char err[600];
    if (access(r->path, F_OK) != 0) return 0;
    json *v = json_parse_file(r->path, err, sizeof err);
    if (!v) { eval_err("%s (pass --overwrite to start it over)", err); return -1; }
    json_out want = {0};
    jo_raw(&want, "{\"model\": {\"sha256\": "), jo_str(&want, r->model_sha), jo_raw(&want, "}, \"bench\": "), jo_str(&want, r->o->bench);
    jo_raw(&want, ", \"method\": "), method_json(&want, r), jo_raw(&want, ", \"profile\": "), profile_json(&want, &r->profile);
    jo_raw(&want, ", \"options\": "), jo_raw(&want, r->options), jo_raw(&want, "}");
    json *w = want.failed ? NULL : json_parse(want.buf, want.len, err, sizeof err);
    free(want.buf);
    if (!w) { json_free(v); eval_err("out of memory"); return -1; }
    /* fields compared: model.sha256, bench, method.{name, gate_sha256}, every profile field, ident options */
    static const char *const checks[][2] = {{"model", "sha256"}, {"bench", NULL}, {"method", "name"}, {"method", "gate_sha256"}};
    char why[160] = "";
    if (json_kind(v) != JSON_OBJECT || !json_str(json_get(v, "tool")) || strcmp(json_str(json_get(v, "tool")), "edgeinf eval"))
        snprintf(why, sizeof why, "tool (not an edgeinf eval run file)");
    for (size_t k = 0; !*why && k < sizeof checks / sizeof *checks; k++) {
        const json *a = json_get(v, checks[k][0]), *b = json_get(w, checks[k][0]);
        if (checks[k][1]) a = json_get(a, checks[k][1]), b = json_get(b, checks[k][1]);
        if (!a || !same_value(a, b)) snprintf(why, sizeof why, "%s%s%s", checks[k][0], checks[k][1] ? "." : "", checks[k][1] ? checks[k][1] : "");
    }
    const json *pw = json_get(w, "profile"), *pv = json_get(v, "profile");
    for (size_t k = 0; !*why && k < json_len(pw); k++)
        if (!same_value(json_at(pw, k), json_get(pv, json_key_at(pw, k)))) snprintf(why, sizeof why, "profile.%s", json_key_at(pw, k));
    for (int k = 0; !*why && r->ident && r->ident[k]; k++)
        if (!same_value(json_get(json_get(w, "options"), r->ident[k]), json_get(json_get(v, "options"), r->ident[k])))
            snprintf(why, sizeof why, "options.%s", r->ident[k]);
    json_free(w);
    if (*why) {
        eval_err("%s: made with a different %s; pass --overwrite to start it over, or use another --out-dir", r->path, why);
        json_free(v);
        return -1;
    }
    /* keep the samples: detach them from the parsed file */
    json *samples = (json *)json_get(v, "samples");
    for (size_t k = 0; k < json_len(samples); k++) {
        const json *s = json_at(samples, k);
        json *copy = NULL;
        if (!json_str(json_get(s, "key")) || eval_run_has(r, json_str(json_get(s, "key")))) continue;
        json_out t = {0};
        jo_value(&t, s);
        if (!t.failed) copy = json_parse(t.buf, t.len, err, sizeof err);
        free(t.buf);
        if (!copy || push_sample(r, copy)) {
            json_free(copy), json_free(v);
            eval_err("out of memory");
            return -1;
        }
    }
    if (r->n_samples) eval_note("%s: resuming: %d samples already done", r->path, r->n_samples);
    r->wall_before = json_num(json_get(v, "wall_s"), 0);
    const char *st = json_str(json_get(v, "started"));
    if (st) snprintf(r->started, sizeof r->started, "%s", st);
    json_free(v);
    return 0;
}

/* ------------------------------------------------------------ opening a run */

/* The chat template around a marker: its prefix and suffix are tokenized with special tokens. */
static int chat_parts(eval_run *r) {
    static const char mark[] = "\x01\x02USER\x02\x01";
    const int64_t need = ei_chat_format(r->m, NULL, mark, NULL, 0);
    if (need < 0) return 0; /* no supported template: prompts go in raw (recorded in the run file) */
    char *t = malloc((size_t)need + 1);
    if (!t) return -1;
    ei_chat_format(r->m, NULL, mark, t, (size_t)need + 1);
    char *at = strstr(t, mark);
    if (!at) { free(t); return 0; }
    *at = 0;
    r->chat_pre = t;
    r->chat_post = at + strlen(mark);
    r->chat_template = 1;
    return 0;
}

static int make_profile(eval_run *r) {
    const eval_opts *o = r->o;
    if (ei_profile_builtin(o->profile_name, &r->profile)) { eval_err("--profile: %s", ei_last_error()); return -1; }
    /* as in `edgeinf run`: a default profile adapts to a short-context model, a named one must fit */
    const int fitted = !o->profile_named && ei_profile_fit(&r->profile, r->m);
    if (o->profile_file && ei_profile_load_file(o->profile_file, &r->profile)) { eval_err("%s", ei_last_error()); return -1; }
    if (o->chunk > 0) r->profile.chunk = o->chunk;
    if (o->sink >= 0) r->profile.sink = o->sink;
    if (o->window > 0) r->profile.window = o->window;
    if (ei_profile_check(&r->profile, r->m)) { eval_err("%s", ei_last_error()); return -1; }
    r->profile_fitted = fitted;
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

int eval_run_prepare(eval_run *r, const eval_opts *o, const eval_method *method, const ei_model *m) {
    memset(r, 0, sizeof *r);
    r->o = o, r->method = *method, r->m = m;
    r->tty = isatty(2);
    r->t0 = ei_time_s();
    r->n_ctx_train = ei_model_get_info(m)->n_ctx_train;
    utc_now(r->started);
    if (make_profile(r)) return -1;
    if (chat_parts(r)) { eval_err("out of memory"); return -1; }
    return 0;
}

int eval_run_open(eval_run *r, const eval_opts *o, const eval_method *method, const ei_model *m, const char *options_json,
                  const char *const *ident, eval_summary_fn summary) {
    if (eval_run_prepare(r, o, method, m)) return -1;
    r->options = options_json, r->ident = ident, r->summary = summary;
    if (sha256_file(o->model_path, r->model_sha)) { eval_err("%s: cannot read it to hash it", o->model_path); return -1; }
    ei_session_params p = ei_session_params_for(&r->profile, method->full ? EI_MODE_FULL : EI_MODE_INFINITE, r->n_ctx_train, o->threads);
    p.freeze_memory = method->freeze_memory;
    p.evict = method->evict;
    p.gate_const = method->gate == EVAL_GATE_CONST ? (float)method->gate_const : -1.0f;
    if (method->gate == EVAL_GATE_CLOSED) r->gate = ei_gate_new(m, EI_GATE_HEAD_SCALAR, &r->profile, -8.0f);
    if (method->gate == EVAL_GATE_FILE) {
        if (sha256_file(method->gate_file, r->gate_sha)) { eval_err("%s: cannot read the gate file", method->gate_file); return -1; }
        r->gate = ei_gate_load(method->gate_file, m);
    }
    if ((method->gate == EVAL_GATE_CLOSED || method->gate == EVAL_GATE_FILE) && !r->gate) {
        eval_err("%s", ei_last_error());
        return -1;
    }
    p.gate = r->gate;
    if (!(r->s = ei_session_new(m, &p))) { eval_err("%s", ei_last_error()); return -1; }
    if (make_dirs(o->out_dir)) { eval_err("%s: cannot create the directory (%s)", o->out_dir, strerror(errno)); return -1; }
    if (snprintf(r->path, sizeof r->path, "%s/%s-%s.json", o->out_dir, o->bench, r->method.name) >= (int)sizeof r->path) {
        eval_err("--out-dir: path too long");
        return -1;
    }
    if (!o->overwrite && resume(r)) return -1;
    /* notes only once the run is open: an error stays the only line */
    if (r->profile_fitted)
        eval_note("profile %s scaled down to the model's trained context of %d tokens", r->profile.name, r->n_ctx_train);
    if (!r->chat_template) eval_note("%s has no chat template: prompts go in raw (\"chat_template\": false)", o->model_path);
    return 0;
}

void eval_run_close(eval_run *r) {
    ei_session_free(r->s);
    ei_gate_free(r->gate);
    for (int i = 0; i < r->n_samples; i++) json_free(r->samples[i]);
    free(r->samples);
    free(r->chat_pre);
    free(r->state), free(r->state_toks);
    memset(r, 0, sizeof *r);
}

int eval_run_has(const eval_run *r, const char *key) {
    for (int i = 0; i < r->n_samples; i++)
        if (!strcmp(json_str(json_get(r->samples[i], "key")), key)) return 1;
    return 0;
}

int eval_run_expect(eval_run *r, const char *key) { return eval_run_expect_answer(r, key, NULL); }

int eval_run_expect_answer(eval_run *r, const char *key, const char *answer) {
    r->requested++;
    for (int i = 0; i < r->n_samples; i++) {
        if (strcmp(json_str(json_get(r->samples[i], "key")), key)) continue;
        const char *had = json_str(json_get(r->samples[i], "answer"));
        if (answer && (!had || strcmp(had, answer))) {
            /* made from another prompt (an earlier draw of the answers): run it again */
            json_free(r->samples[i]);
            memmove(r->samples + i, r->samples + i + 1, (size_t)(r->n_samples - i - 1) * sizeof *r->samples);
            r->n_samples--, r->stale++;
            return 0;
        }
        r->requested_done++;
        return 1;
    }
    return 0;
}

int eval_run_add(eval_run *r, const char *sample_json) {
    char err[300];
    json *s = json_parse(sample_json, strlen(sample_json), err, sizeof err);
    if (!s || !json_str(json_get(s, "key"))) {
        eval_err("internal error: bad sample JSON (%s)", s ? "no key" : err);
        json_free(s);
        return -1;
    }
    if (push_sample(r, s)) { json_free(s); eval_err("out of memory"); return -1; }
    r->requested_done++, r->done_now++;
    return save(r);
}

int eval_run_add_out(eval_run *r, json_out *f) {
    int rc = -1;
    if (f->failed) eval_err("out of memory");
    else rc = eval_run_add(r, f->buf);
    free(f->buf);
    f->buf = NULL;
    return rc;
}

int eval_run_end(eval_run *r, int rc) {
    if (!rc) rc = eval_run_finish(r);
    eval_run_close(r);
    return rc;
}

int eval_run_finish(eval_run *r) {
    if (save(r)) return -1;
    if (r->tty) fputs("\r\033[K", stderr);
    eval_note("%s %s: %d of %d samples done%s, %s", r->o->bench, r->method.name, r->requested_done, r->requested,
              r->requested_done >= r->requested ? "" : " (incomplete)", r->path);
    return 0;
}

void eval_progress(eval_run *r, const char *key) {
    const double now = ei_time_s();
    if (!r->done_now) r->first_sample_t = now;
    const double el = now - r->t0, per = r->done_now ? (now - r->first_sample_t) / r->done_now : 0;
    char eta[48] = "";
    if (r->done_now) snprintf(eta, sizeof eta, "  ETA %.0f s", per * (r->requested - r->requested_done));
    fprintf(stderr, "%s[%s %s] %d/%d %s  elapsed %.0f s%s%s", r->tty ? "\r\033[K" : "", r->o->bench, r->method.name,
            r->requested_done + 1, r->requested, key, el, eta, r->tty ? "" : "\n");
    fflush(stderr);
}

/* ------------------------------------------------------------ prompts and generation */

/* Appends the tokens of text (no BOS) to *buf. */
static int push_tokens(const ei_model *m, const char *text, int special, int32_t **buf, int64_t *n, int64_t *cap) {
    const size_t len = strlen(text);
    const int64_t need = ei_tokenize(m, text, len, 0, special, NULL, 0);
    if (need < 0) return -1;
    if (*n + need > *cap) {
        const int64_t nc = (*n + need) * 2 + 16;
        int32_t *b = realloc(*buf, (size_t)nc * sizeof *b);
        if (!b) return -1;
        *buf = b, *cap = nc;
    }
    if (ei_tokenize(m, text, len, 0, special, *buf + *n, need) != need) return -1;
    *n += need;
    return 0;
}

int64_t eval_full_budget(const eval_run *r, int max_new) {
    const int64_t b = (int64_t)r->n_ctx_train - max_new;
    return b > 0 ? b : 1; /* never 0 ("no limit"): eval_tokens reports that nothing fits */
}

int32_t *eval_tokens(const eval_run *r, const char *text, int chat, int64_t budget, int64_t *n_out, int64_t *truncated) {
    int32_t *pre = NULL, *body = NULL, *post = NULL, *all = NULL;
    int64_t n_pre = 0, n_body = 0, n_post = 0, c1 = 0, c2 = 0, c3 = 0;
    *truncated = 0, *n_out = 0;
    chat = chat && r->chat_template;
    /* the text itself is data: special-token names inside it stay text */
    if (push_tokens(r->m, text, 0, &body, &n_body, &c2) ||
        (chat && (push_tokens(r->m, r->chat_pre, 1, &pre, &n_pre, &c1) || push_tokens(r->m, r->chat_post, 1, &post, &n_post, &c3)))) {
        eval_err("tokenizing the prompt: %s", *ei_last_error() ? ei_last_error() : "out of memory");
        goto out;
    }
    const int64_t bos = ei_token_add_bos(r->m) ? 1 : 0, room = budget - bos - n_pre - n_post;
    int64_t keep = n_body;
    if (budget > 0 && n_body > room) {
        if (room < 2) {
            eval_err("a prompt budget of %lld tokens (the trained context minus the tokens to generate) leaves no room for the text "
                     "after %lld tokens of BOS and chat template", (long long)budget, (long long)(n_pre + n_post + bos));
            goto out;
        }
        keep = room;
    }
    all = malloc((size_t)(bos + n_pre + keep + n_post + 1) * sizeof *all);
    if (!all) { eval_err("out of memory (prompt of %lld tokens)", (long long)(bos + n_pre + keep + n_post)); goto out; }
    int64_t n = 0;
    if (bos) all[n++] = ei_token_bos(r->m);
    for (int64_t i = 0; i < n_pre; i++) all[n++] = pre[i];
    /* middle truncation (LongBench's pred.py): the first half and the last half of what fits */
    for (int64_t i = 0; i < keep / 2; i++) all[n++] = body[i];
    for (int64_t i = n_body - (keep - keep / 2); i < n_body; i++) all[n++] = body[i];
    for (int64_t i = 0; i < n_post; i++) all[n++] = post[i];
    if (n == 0) {
        eval_err("the prompt is empty");
        free(all), all = NULL;
        goto out;
    }
    *truncated = n_body - keep, *n_out = n;
out:
    free(pre), free(body), free(post);
    return all;
}

/* After each chunk of a prefill: the progress line, and the state saved at the last chunk boundary
 * up to save_upto, with the tokens it has read. */
static void prefill_progress(void *user, int64_t done, int64_t total) {
    eval_run *r = user;
    if (r->tty && total > 4096)
        fprintf(stderr, "\r\033[K[%s %s] prefill %lld/%lld", r->o->bench, r->method.name, (long long)done, (long long)total);
    const int64_t pos = r->cur_base + done;
    /* chunks are at most profile.chunk long: only the last boundary or two before save_upto copy */
    if (pos > r->save_upto || pos <= r->save_upto - r->profile.chunk || pos <= r->state_n) return;
    r->state_n = 0; /* invalid until both copies are made */
    if (pos > r->state_cap) {
        int32_t *t = realloc(r->state_toks, (size_t)pos * sizeof *t);
        if (!t) return;
        r->state_toks = t, r->state_cap = pos;
    }
    if (ei_session_state_save(r->s, r->state, r->state_size)) return;
    memcpy(r->state_toks, r->cur, (size_t)pos * sizeof *r->cur);
    r->state_n = pos;
}

void eval_next_prompts(eval_run *r, int count, const int32_t *const *toks, const int64_t *n) {
    r->n_ahead = 0;
    for (int i = 0; i < count && i < EVAL_LOOKAHEAD && toks[i]; i++) r->ahead[i] = toks[i], r->ahead_n[i] = n[i], r->n_ahead++;
}

/* Tokens a and b have in common from the start. */
static int64_t shared_prefix(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

/* Starts a prompt's prefill from the saved state when it holds a prefix of the prompt (else from an
 * empty session), and decides where to save a state for the next prompt. Returns the tokens
 * already in the session. */
static int64_t prefill_start(eval_run *r, const int32_t *toks, int64_t n) {
    int64_t start = 0;
    if (r->state_n > 0 && r->state_n < n && !memcmp(r->state_toks, toks, (size_t)r->state_n * sizeof *toks) &&
        !ei_session_state_load(r->s, r->state, r->state_size))
        start = r->state_n;
    else ei_session_reset(r->s), r->state_n = 0; /* a state of another prefix is of no more use */
    /* never at a prompt's own end: its last chunk may be short there, where the next prompt's is not */
    int64_t share = r->n_ahead ? shared_prefix(toks, n - 1, r->ahead[0], r->ahead_n[0]) : 0;
    /* One state is kept, and a prompt can only replace it past where it starts. When the prompts
     * after the next one part earlier (needles of different lengths move the insertion point), the
     * state is saved where they all still agree (or the loaded one kept), if that costs the next
     * prompt fewer tokens (share - target) than it spares a later one (target): target > share / 2. */
    int64_t common = share;
    for (int j = 1; j < r->n_ahead; j++) {
        const int64_t s = shared_prefix(r->ahead[j - 1], r->ahead_n[j - 1] - 1, r->ahead[j], r->ahead_n[j]);
        if (s < common) common = s;
        if (common >= share) continue;
        /* too close to the start to save again: keeping the state loaded is the same choice */
        const int64_t target = common - start >= r->profile.chunk ? common : start;
        if (start > common || 2 * target <= share) break;
        share = target;
    }
    r->save_upto = !r->o->no_reuse && share - start >= r->profile.chunk ? share : 0;
    if (r->save_upto && !r->state) {
        r->state_size = ei_session_state_size(r->s);
        if (!(r->state = malloc(r->state_size))) r->save_upto = 0; /* no reuse, nothing else lost */
    }
    r->cur = toks, r->cur_base = start, r->reused = start;
    r->n_ahead = 0; /* the hint serves one prompt */
    return start;
}

/* Appends k bytes to a growing NUL-terminated string. */
static int append(char **s, size_t *len, size_t *cap, const char *piece, size_t k) {
    if (*len + k + 1 > *cap) {
        size_t nc = *cap * 2 + k + 1;
        char *p = realloc(*s, nc);
        if (!p) return -1;
        *s = p, *cap = nc;
    }
    memcpy(*s + *len, piece, k);
    *len += k;
    (*s)[*len] = 0;
    return 0;
}

char *eval_generate(eval_run *r, const int32_t *toks, int64_t n, int max_new, int32_t stop_token, int *n_generated) {
    *n_generated = 0;
    const int64_t start = prefill_start(r, toks, n);
    const int bad = ei_session_eval(r->s, toks + start, n - start, NULL, prefill_progress, r);
    r->save_upto = 0;
    if (bad) { eval_err("prefill: %s", ei_last_error()); return NULL; }
    const int n_vocab = ei_model_get_info(r->m)->n_vocab;
    ei_text_stream *ts = ei_text_stream_new(r->m, 0);
    size_t cap = 256, len = 0;
    char *out = malloc(cap), piece[512];
    if (!ts || !out) goto oom;
    out[0] = 0;
    for (int i = 0; i < max_new; i++) {
        const float *lg = ei_session_logits(r->s);
        /* greedy; the first token may not end the answer (HF generate with min_length = prompt + 1) */
        int32_t best = -1;
        for (int32_t v = 0; v < n_vocab; v++)
            if ((best < 0 || lg[v] > lg[best]) && !(i == 0 && (v == stop_token || ei_token_is_eog(r->m, v)))) best = v;
        if (best < 0 || ei_token_is_eog(r->m, best) || best == stop_token) break;
        (*n_generated)++;
        const int k = ei_text_stream_push(ts, best, piece, sizeof piece);
        if (k > 0 && append(&out, &len, &cap, piece, (size_t)k)) goto oom;
        if (i + 1 < max_new && ei_session_eval(r->s, &best, 1, NULL, NULL, NULL)) {
            eval_err("decode: %s", ei_last_error());
            ei_text_stream_free(ts), free(out);
            return NULL;
        }
    }
    const int k = ei_text_stream_flush(ts, piece, sizeof piece);
    if (k > 0 && append(&out, &len, &cap, piece, (size_t)k)) goto oom;
    ei_text_stream_free(ts);
    return out;
oom:
    ei_text_stream_free(ts), free(out);
    eval_err("out of memory");
    return NULL;
}

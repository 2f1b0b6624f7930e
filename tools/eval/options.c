/* The options and methods every benchmark of `edgeinf eval` shares, and small helpers (harness.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ------------------------------------------------------------ messages and files */

static void say(const char *fmt, va_list ap) {
    fputs("edgeinf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void eval_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

void eval_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
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
        if (!nb) { free(buf); buf = NULL; errno = ENOMEM; break; }
        buf = nb, cap *= 2;
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; errno = EIO; }
    fclose(f);
    if (buf) buf[n] = 0, *len = n;
    return buf;
}

ei_model *eval_load_model(const char *path) {
    ei_model *m = ei_model_load(path);
    if (!m) eval_err("%s", ei_last_error());
    return m;
}

/* ------------------------------------------------------------ options */

static int to_i64(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi) {
        eval_err("%s expects an integer in [%lld, %lld], got '%s'", flag, (long long)lo, (long long)hi, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

/* The command as a shell would need it to run again: arguments quoted when they have to be. */
static char *quote_command(int argc, char **argv) {
    json_out o = {0};
    jo_raw(&o, "edgeinf eval");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        jo_raw(&o, " ");
        if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+-@%") == strlen(a)) {
            jo_raw(&o, a);
            continue;
        }
        jo_raw(&o, "'");
        for (const char *p = a; *p; p++) {
            if (*p == '\'') jo_raw(&o, "'\\''");
            else {
                char c[2] = {*p, 0};
                jo_raw(&o, c);
            }
        }
        jo_raw(&o, "'");
    }
    if (o.failed) free(o.buf), o.buf = NULL;
    return o.buf;
}

int eval_parse_opts(int argc, char **argv, eval_opts *o, const char *default_profile, const char *const *flags) {
    memset(o, 0, sizeof *o);
    o->bench = argv[0];
    o->out_dir = "bench/out/eval", o->profile_name = default_profile;
    o->threads = 2, o->keys = 5, o->seed = 1, o->max_tokens = 32768, o->max_new = -1;
    o->chunk = o->sink = o->window = -1;
    if (!(o->command = quote_command(argc, argv))) { eval_err("out of memory"); return -1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--overwrite")) { o->overwrite = 1; continue; }
        if (!strcmp(a, "--no-reuse")) { o->no_reuse = 1; continue; }
        int switch_ok = 0; /* a benchmark's own switches (no value) */
        for (int k = 0; flags && flags[k]; k++) switch_ok |= !strcmp(a, flags[k]) && !strcmp(a, "--count-only");
        if (switch_ok) { o->count_only = 1; continue; }
        /* options every benchmark has */
        static const char *const common[] = {"-m", "--model", "--method", "--profile", "--profile-file", "--chunk", "--sink",
                                             "--window", "--threads", "-t", "--out-dir", NULL};
        int known = 0;
        for (int k = 0; common[k] && !known; k++) known = !strcmp(a, common[k]);
        for (int k = 0; flags && flags[k] && !known; k++) known = !strcmp(a, flags[k]);
        if (!known) {
            eval_err("unknown option '%s' for eval %s (edgeinf eval --help)", a, o->bench);
            return -1;
        }
        if (!v) { eval_err("option %s needs a value", a); return -1; }
        i++;
        int64_t x = 0;
        int bad = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model_path = v;
        else if (!strcmp(a, "--method")) {
            const size_t used = strlen(o->methods);
            if (used + strlen(v) + 2 > sizeof o->methods) { eval_err("--method: the list is too long"); return -1; }
            snprintf(o->methods + used, sizeof o->methods - used, "%s%s", used ? "," : "", v);
        } else if (!strcmp(a, "--profile")) o->profile_name = v, o->profile_named = 1;
        else if (!strcmp(a, "--profile-file")) o->profile_file = v;
        else if (!strcmp(a, "--out-dir")) o->out_dir = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--maxlen")) o->maxlen = v;
        else if (!strcmp(a, "--tasks")) o->tasks = v;
        else if (!strcmp(a, "--lengths")) o->lengths = v;
        else if (!strcmp(a, "--depths")) o->depths = v;
        else if (!strcmp(a, "--bands")) o->bands = v;
        else if (!strcmp(a, "--corpus")) o->corpus = v;
        else if (!strcmp(a, "--essays")) o->essays = v;
        else if (!strcmp(a, "--wikitext")) o->wikitext = v;
        else if (!strcmp(a, "--chunk")) bad = to_i64(a, v, 1, 1 << 20, &x), o->chunk = (int)x;
        else if (!strcmp(a, "--sink")) bad = to_i64(a, v, 0, 1 << 20, &x), o->sink = (int)x;
        else if (!strcmp(a, "--window")) bad = to_i64(a, v, 1, 1 << 24, &x), o->window = (int)x;
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) bad = to_i64(a, v, 1, 256, &x), o->threads = (int)x;
        else if (!strcmp(a, "--limit")) bad = to_i64(a, v, 1, 1 << 30, &x), o->limit = (int)x;
        else if (!strcmp(a, "--keys")) bad = to_i64(a, v, 1, 10000, &x), o->keys = (int)x;
        else if (!strcmp(a, "--max-new")) bad = to_i64(a, v, 1, 1 << 20, &x), o->max_new = (int)x;
        else if (!strcmp(a, "--max-tokens")) bad = to_i64(a, v, 2, (int64_t)1 << 30, &o->max_tokens);
        else if (!strcmp(a, "--seed")) bad = to_i64(a, v, 0, INT64_MAX, &x), o->seed = (uint64_t)x;
        if (bad) return -1;
    }
    if (!o->model_path) { eval_err("eval %s needs -m MODEL", o->bench); return -1; }
    if (!o->methods[0]) snprintf(o->methods, sizeof o->methods, "full,streaming,const0.3");
    return 0;
}

void eval_opts_free(eval_opts *o) {
    free(o->command);
    o->command = NULL;
}

int eval_in_list(const char *list, const char *name) {
    if (!list) return 1;
    const size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

int eval_parse_list(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, int cap) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (!errno && end > p && (*end == 'K' || *end == 'k') && v <= INT64_MAX / 1024 && v >= INT64_MIN / 1024) v *= 1024, end++;
        if (errno || end == p || (*end && *end != ',') || v < lo || v > hi || n == cap) {
            eval_err("%s: expected up to %d comma-separated numbers in [%lld, %lld] (K = 1024), got '%s'", flag, cap,
                     (long long)lo, (long long)hi, s);
            return -1;
        }
        out[n++] = v;
        p = *end ? end + 1 : end;
        if (*end && !*p) { eval_err("%s: trailing comma in '%s'", flag, s); return -1; }
    }
    if (!n) { eval_err("%s: empty list", flag); return -1; }
    return n;
}

/* ------------------------------------------------------------ methods */

int eval_parse_methods(const char *list, eval_method *out, int cap) {
    int n = 0;
    for (const char *p = list; *p;) {
        const size_t len = strcspn(p, ",");
        char name[sizeof out->gate_file + 8];
        if (len == 0 || len >= sizeof name) { eval_err("--method: bad list '%s'", list); return -1; }
        if (n == cap) { eval_err("--method: at most %d methods", cap); return -1; }
        memcpy(name, p, len);
        name[len] = 0;
        eval_method *e = &out[n];
        memset(e, 0, sizeof *e);
        char *end;
        if (!strcmp(name, "full")) e->full = 1;
        else if (!strcmp(name, "streaming")) e->freeze_memory = 1;
        else if (!strcmp(name, "h2o")) e->evict = EI_EVICT_H2O, e->freeze_memory = 1;
        else if (!strcmp(name, "snapkv")) e->evict = EI_EVICT_SNAPKV, e->freeze_memory = 1;
        else if (!strcmp(name, "closed")) e->gate = EVAL_GATE_CLOSED;
        else if (!strncmp(name, "const", 5) && (e->gate_const = strtod(name + 5, &end), *end == 0 && end > name + 5) &&
                 e->gate_const >= 0 && e->gate_const <= 1)
            e->gate = EVAL_GATE_CONST;
        else if (!strncmp(name, "gate:", 5) && name[5]) {
            e->gate = EVAL_GATE_FILE;
            if (strlen(name + 5) >= sizeof e->gate_file) { eval_err("--method: gate path too long"); return -1; }
            memcpy(e->gate_file, name + 5, strlen(name + 5) + 1);
        } else {
            eval_err("unknown method '%s' (full, streaming, h2o, snapkv, closed, constG with 0 <= G <= 1, gate:FILE)", name);
            return -1;
        }
        /* a gate is named by its file name: the run file is BENCH-gate:NAME.json */
        const char *slash = strrchr(name, '/');
        if (e->gate == EVAL_GATE_FILE && slash) {
            if (!slash[1]) { eval_err("--method %s: no file name", name); return -1; }
            snprintf(e->name, sizeof e->name, "gate:%s", slash + 1);
        } else if (snprintf(e->name, sizeof e->name, "%s", name) >= (int)sizeof e->name) {
            eval_err("--method %s: name too long", name);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if (!strcmp(out[k].name, e->name)) { eval_err("--method: '%s' given twice (one run file per method)", e->name); return -1; }
        n++;
        p += len;
        if (*p == ',') p++;
    }
    if (!n) { eval_err("--method: empty list"); return -1; }
    return n;
}

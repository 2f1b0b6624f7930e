/* JSON reader and writer (see json.h). */
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


typedef struct {
    const char *s;
    size_t n, i;
    char *err;
    size_t err_cap;
    int failed;
} parser;

static int fail(parser *p, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = 1;
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') line++, col = 1;
        else col++;
    }
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_cap, "line %zu col %zu: %s", line, col, what);
    return -1;
}

static void skip_ws(parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++;
}

void utf8_put(char *o, size_t *len, uint32_t c) {
    if (c < 0x80) o[(*len)++] = (char)c;
    else if (c < 0x800) o[(*len)++] = (char)(0xC0 | c >> 6), o[(*len)++] = (char)(0x80 | (c & 0x3F));
    else if (c < 0x10000) {
        o[(*len)++] = (char)(0xE0 | c >> 12), o[(*len)++] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[(*len)++] = (char)(0x80 | (c & 0x3F));
    } else {
        o[(*len)++] = (char)(0xF0 | c >> 18), o[(*len)++] = (char)(0x80 | ((c >> 12) & 0x3F));
        o[(*len)++] = (char)(0x80 | ((c >> 6) & 0x3F)), o[(*len)++] = (char)(0x80 | (c & 0x3F));
    }
}

static int hex4(parser *p, uint32_t *out) {
    if (p->n - p->i < 4) return fail(p, "truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return fail(p, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), 0 if invalid: overlong forms,
 * UTF-16 surrogates and code points above U+10FFFF are invalid (RFC 3629). */
static int utf8_len(const unsigned char *s, size_t n) {
    const unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if ((size_t)len > n || s[1] < lo || s[1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

static int parse_string(parser *p, char **out, size_t *out_len) {
    p->i++; /* opening quote */
    size_t start = p->i, cap = 0;
    while (p->i < p->n && p->s[p->i] != '"') p->i += p->s[p->i] == '\\' ? 2 : 1;
    if (p->i >= p->n) return fail(p, "unterminated string");
    cap = p->i - start; /* the decoded string is never longer than its source */
    p->i = start;
    char *o = malloc(cap + 1);
    size_t len = 0;
    if (!o) return fail(p, "out of memory");
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) { free(o); return fail(p, "control character in string"); }
        if (c != '\\') {
            int l = utf8_len((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!l) { free(o); return fail(p, "invalid UTF-8 in string"); }
            memcpy(o + len, p->s + p->i, (size_t)l);
            len += (size_t)l, p->i += (size_t)l;
            continue;
        }
        char e = p->s[++p->i];
        p->i++;
        switch (e) {
        case '"': o[len++] = '"'; break;
        case '\\': o[len++] = '\\'; break;
        case '/': o[len++] = '/'; break;
        case 'b': o[len++] = '\b'; break;
        case 'f': o[len++] = '\f'; break;
        case 'n': o[len++] = '\n'; break;
        case 'r': o[len++] = '\r'; break;
        case 't': o[len++] = '\t'; break;
        case 'u': {
            uint32_t c1, c2;
            if (hex4(p, &c1)) { free(o); return -1; }
            if (c1 >= 0xD800 && c1 < 0xDC00) {
                if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') { free(o); return fail(p, "lone surrogate"); }
                p->i += 2;
                if (hex4(p, &c2)) { free(o); return -1; }
                if (c2 < 0xDC00 || c2 >= 0xE000) { free(o); return fail(p, "bad surrogate pair"); }
                c1 = 0x10000 + ((c1 - 0xD800) << 10) + (c2 - 0xDC00);
            } else if (c1 >= 0xDC00 && c1 < 0xE000) { free(o); return fail(p, "lone surrogate"); }
            utf8_put(o, &len, c1);
            break;
        }
        default: free(o); return fail(p, "bad escape '\\%c'", e);
        }
    }
    p->i++;
    o[len] = 0;
    *out = o, *out_len = len;
    return 0;
}

static int parse_value(parser *p, json *v, int depth);

static int push_item(parser *p, json *v, size_t *cap, char *key) {
    if (v->len == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        json *it = realloc(v->items, nc * sizeof *it);
        if (!it) return fail(p, "out of memory");
        v->items = it;
        if (v->type == JSON_OBJECT) {
            char **k = realloc(v->keys, nc * sizeof *k);
            if (!k) return fail(p, "out of memory");
            v->keys = k;
        }
        *cap = nc;
    }
    memset(&v->items[v->len], 0, sizeof v->items[0]);
    if (v->type == JSON_OBJECT) v->keys[v->len] = key;
    v->len++;
    return 0;
}

static int parse_container(parser *p, json *v, int depth) {
    const int obj = p->s[p->i] == '{';
    const char close = obj ? '}' : ']';
    v->type = obj ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH) return fail(p, "nesting deeper than %d", JSON_MAX_DEPTH);
    p->i++;
    size_t cap = 0;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return 0; }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (obj) {
            size_t kl;
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a key string");
            if (parse_string(p, &key, &kl)) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') { free(key); return fail(p, "expected ':'"); }
            p->i++;
        }
        if (push_item(p, v, &cap, key)) { free(key); return -1; }
        if (parse_value(p, &v->items[v->len - 1], depth + 1)) return -1;
        skip_ws(p);
        if (p->i >= p->n) return fail(p, "unterminated %s", obj ? "object" : "array");
        if (p->s[p->i] == ',') { p->i++; continue; }
        if (p->s[p->i] == close) { p->i++; return 0; }
        return fail(p, "expected ',' or '%c'", close);
    }
}

static size_t digits(parser *p) {
    const size_t d0 = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    return p->i - d0;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; overflow is an error, underflow
 * reads as 0. */
static int parse_number(parser *p, json *v) {
    const size_t start = p->i;
    if (p->s[p->i] == '-') p->i++;
    if (p->i < p->n && p->s[p->i] == '0') p->i++;
    else if (!digits(p)) return fail(p, "bad number: a digit is expected");
    if (p->i < p->n && p->s[p->i] == '.' && (p->i++, !digits(p))) return fail(p, "bad number: a digit is expected");
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (!digits(p)) return fail(p, "bad number: a digit is expected");
    }
    const size_t n = p->i - start;
    char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return fail(p, "out of memory");
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    v->num = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(v->num)) {
        p->i = start;
        return fail(p, "number out of range");
    }
    v->type = JSON_NUMBER;
    return 0;
}

static int parse_value(parser *p, json *v, int depth) {
    skip_ws(p);
    if (p->i >= p->n) return fail(p, "unexpected end of input");
    const char c = p->s[p->i];
    if (c == '{' || c == '[') return parse_container(p, v, depth);
    if (c == '"') { v->type = JSON_STRING; return parse_string(p, &v->str, &v->len); }
    static const struct { const char *word; json_type t; double num; } lit[3] = {
        {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lit[k].word);
        if (p->n - p->i >= l && memcmp(p->s + p->i, lit[k].word, l) == 0) {
            v->type = lit[k].t, v->num = lit[k].num, p->i += l;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    return fail(p, "unexpected character '%c'", c);
}

static void free_value(json *v) {
    if (!v) return;
    for (size_t k = 0; (v->type == JSON_ARRAY || v->type == JSON_OBJECT) && k < v->len; k++) {
        free_value(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items), free(v->keys), free(v->str);
}

void json_free(json *v) {
    free_value(v);
    free(v);
}

json *json_parse(const char *text, size_t len, char *err, size_t err_cap) {
    parser p = {text, len, 0, err, err_cap, 0};
    json *v = calloc(1, sizeof *v);
    if (!v) { snprintf(err, err_cap, "out of memory"); return NULL; }
    if (parse_value(&p, v, 0) == 0) {
        skip_ws(&p);
        if (p.i == p.n) return v;
        fail(&p, "trailing characters after the value");
    }
    json_free(v);
    return NULL;
}

json *json_parse_file(const char *path, char *err, size_t err_cap) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, err_cap, "%s: cannot open (%s)", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *nb = cap < ((size_t)1 << 32) ? realloc(buf, cap * 2) : NULL;
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb, cap *= 2;
    }
    const int read_error = ferror(f);
    fclose(f);
    if (!buf || read_error) { free(buf); snprintf(err, err_cap, "%s: cannot read", path); return NULL; }
    char inner[200];
    json *v = json_parse(buf, len, inner, sizeof inner);
    free(buf);
    if (!v) snprintf(err, err_cap, "%s: %s", path, inner);
    return v;
}

const json *json_get(const json *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t k = 0; k < obj->len; k++)
        if (strcmp(obj->keys[k], key) == 0) return &obj->items[k];
    return NULL;
}

json_type json_kind(const json *v) { return v ? v->type : JSON_NULL; }
size_t json_len(const json *v) { return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->len : 0; }
const json *json_at(const json *arr, size_t i) { return i < json_len(arr) ? &arr->items[i] : NULL; }
const char *json_key_at(const json *obj, size_t i) { return obj && obj->type == JSON_OBJECT && i < obj->len ? obj->keys[i] : NULL; }
const char *json_str(const json *v) { return v && v->type == JSON_STRING ? v->str : NULL; }
size_t json_str_len(const json *v) { return v && v->type == JSON_STRING ? v->len : 0; }
const char *json_text(const json *v) { return json_str(v) && strlen(v->str) == v->len ? v->str : NULL; }
double json_num(const json *v, double fallback) { return v && v->type == JSON_NUMBER ? v->num : fallback; }
int json_bool(const json *v, int fallback) { return v && v->type == JSON_BOOL ? v->num != 0 : fallback; }

/* ------------------------------------------------------------ writer */

static void jo_append(json_out *o, const char *s, size_t n) {
    if (o->failed) return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 1) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) { o->failed = 1; return; }
        o->buf = b, o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

void jo_raw(json_out *o, const char *s) { jo_append(o, s, strlen(s)); }

void jo_strn(json_out *o, const char *s, size_t n) {
    jo_append(o, "\"", 1);
    size_t i = 0;
    while (i < n) {
        /* runs of bytes that need no escaping are copied at once */
        size_t j = i;
        int l = 0;
        while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' &&
               (l = utf8_len((const unsigned char *)s + j, n - j)) > 0)
            j += (size_t)l;
        jo_append(o, s + i, j - i);
        if (j == n) break;
        const unsigned char c = (unsigned char)s[j];
        char e[8];
        if (c == '"' || c == '\\') e[0] = '\\', e[1] = (char)c, jo_append(o, e, 2);
        else if (c == '\n') jo_append(o, "\\n", 2);
        else if (c == '\t') jo_append(o, "\\t", 2);
        else if (c == '\r') jo_append(o, "\\r", 2);
        else if (c < 0x20) snprintf(e, sizeof e, "\\u%04x", c), jo_append(o, e, 6);
        else jo_append(o, "\xef\xbf\xbd", 3); /* an invalid UTF-8 byte: U+FFFD */
        i = j + 1;
    }
    jo_append(o, "\"", 1);
}

void jo_str(json_out *o, const char *s) { jo_strn(o, s ? s : "", s ? strlen(s) : 0); }

void jo_value(json_out *o, const json *v) {
    switch (json_kind(v)) {
    case JSON_NULL: jo_raw(o, "null"); break;
    case JSON_BOOL: jo_raw(o, v->num ? "true" : "false"); break;
    case JSON_NUMBER: jo_num(o, v->num); break;
    case JSON_STRING: jo_strn(o, v->str, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        jo_raw(o, v->type == JSON_ARRAY ? "[" : "{");
        for (size_t k = 0; k < v->len; k++) {
            if (k) jo_raw(o, ", ");
            if (v->type == JSON_OBJECT) jo_str(o, v->keys[k]), jo_raw(o, ": ");
            jo_value(o, &v->items[k]);
        }
        jo_raw(o, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

void jo_num(json_out *o, double x) {
    char b[40];
    if (!isfinite(x)) { jo_raw(o, "null"); return; }
    snprintf(b, sizeof b, "%.17g", x);
    jo_raw(o, b);
}

void jo_int(json_out *o, int64_t x) {
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, x);
    jo_raw(o, b);
}

int jo_write_file_atomic(const json_out *o, const char *path) {
    if (o->failed) { errno = ENOMEM; return -1; }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = (o->len == 0 || fwrite(o->buf, 1, o->len, f) == o->len) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    /* the rename survives a power cut once the directory is synced too (best effort) */
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(tmp, sizeof tmp, ".");
    else if (slash == path) snprintf(tmp, sizeof tmp, "/");
    else memcpy(tmp, path, (size_t)(slash - path)), tmp[slash - path] = 0; /* shorter than tmp's own name */
    const int fd = open(tmp, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) fsync(fd), close(fd);
    return 0;
}

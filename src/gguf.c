/* GGUF reader and writer. The reader maps the file and checks every length, count and offset
 * against the mapping before using it, so a truncated or hostile file yields an error, not a read
 * out of bounds. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

static const struct { const char *name; int block; size_t bytes; } ggml_types[] = {
    [0] = {"f32", 1, 4},        [1] = {"f16", 1, 2},         [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},     [6] = {"q5_0", 32, 22},      [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},     [9] = {"q8_1", 32, 36},      [10] = {"q2_k", 256, 84},
    [11] = {"q3_k", 256, 110},  [12] = {"q4_k", 256, 144},   [13] = {"q5_k", 256, 176},
    [14] = {"q6_k", 256, 210},  [15] = {"q8_k", 256, 292},   [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74}, [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},  [21] = {"iq3_s", 256, 110},  [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136},[24] = {"i8", 1, 1},         [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},       [27] = {"i64", 1, 8},        [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},  [30] = {"bf16", 1, 2},       [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},  [39] = {"mxfp4", 32, 17},
};
#define N_GGML_TYPES ((int)(sizeof ggml_types / sizeof ggml_types[0]))

int gguf_type_block_size(int type) {
    return (type >= 0 && type < N_GGML_TYPES && ggml_types[type].name) ? ggml_types[type].block : 0;
}
size_t gguf_type_block_bytes(int type) {
    return (type >= 0 && type < N_GGML_TYPES && ggml_types[type].name) ? ggml_types[type].bytes : 0;
}
const char *gguf_type_name(int type) {
    return (type >= 0 && type < N_GGML_TYPES && ggml_types[type].name) ? ggml_types[type].name : NULL;
}

/* ---------------------------------------------------------------- reading */

typedef struct {
    const uint8_t *base;
    size_t size, pos;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
} cursor;

static void fail(cursor *c, const char *fmt, ...) {
    if (c->failed) return;
    c->failed = 1;
    int n = snprintf(c->err, c->errlen, "%s: ", c->path);
    if (n < 0 || (size_t)n >= c->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static const uint8_t *take(cursor *c, uint64_t n, const char *what) {
    if (c->failed) return NULL;
    if (n > c->size - c->pos) {
        fail(c, "truncated file: %s needs %llu bytes at offset %zu, file has %zu", what,
             (unsigned long long)n, c->pos, c->size);
        return NULL;
    }
    const uint8_t *p = c->base + c->pos;
    c->pos += (size_t)n;
    return p;
}

static uint32_t rd_u32(cursor *c, const char *what) {
    const uint8_t *p = take(c, 4, what);
    uint32_t v = 0;
    if (p) memcpy(&v, p, 4);
    return v;
}
static uint64_t rd_u64(cursor *c, const char *what) {
    const uint8_t *p = take(c, 8, what);
    uint64_t v = 0;
    if (p) memcpy(&v, p, 8);
    return v;
}
static gguf_str rd_str(cursor *c, const char *what) {
    gguf_str s = {0, NULL};
    s.len = rd_u64(c, what);
    s.ptr = (const char *)take(c, s.len, what);
    if (!s.ptr) s.len = 0;
    return s;
}

static size_t scalar_size(gguf_vtype t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Reads one value of type t (not an array), checking bools are 0/1. */
static void skip_scalar(cursor *c, gguf_vtype t, const char *key) {
    if (t == GGUF_STRING) {
        rd_str(c, key);
        return;
    }
    size_t n = scalar_size(t);
    if (!n) {
        fail(c, "metadata '%s': unknown value type %d", key, (int)t);
        return;
    }
    const uint8_t *p = take(c, n, key);
    if (p && t == GGUF_BOOL && *p > 1) fail(c, "metadata '%s': bool value %u is not 0 or 1", key, *p);
}

static int read_kv(cursor *c, gguf_kv *kv) {
    kv->key = rd_str(c, "metadata key");
    if (c->failed) return -1;
    char key[96];
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 80 ? kv->key.len : 80), kv->key.ptr);
    kv->type = (gguf_vtype)rd_u32(c, key);
    if (kv->type == GGUF_ARRAY) {
        kv->arr_type = (gguf_vtype)rd_u32(c, key);
        kv->arr_len = rd_u64(c, key);
        if (c->failed) return -1;
        kv->data = c->base + c->pos;
        if (kv->arr_type == GGUF_STRING) {
            /* each element needs at least 8 bytes: reject absurd counts before allocating */
            if (kv->arr_len > (c->size - c->pos) / 8) {
                fail(c, "metadata '%s': array of %llu strings cannot fit in the file", key,
                     (unsigned long long)kv->arr_len);
                return -1;
            }
            kv->str_offs = malloc((size_t)(kv->arr_len ? kv->arr_len : 1) * sizeof(uint64_t));
            if (!kv->str_offs) {
                fail(c, "metadata '%s': out of memory for %llu strings", key, (unsigned long long)kv->arr_len);
                return -1;
            }
            for (uint64_t i = 0; i < kv->arr_len && !c->failed; i++) {
                kv->str_offs[i] = (uint64_t)(c->base + c->pos - kv->data);
                rd_str(c, key);
            }
        } else if (kv->arr_type == GGUF_ARRAY) {
            fail(c, "metadata '%s': nested arrays are not supported", key);
        } else {
            size_t es = scalar_size(kv->arr_type);
            if (!es) {
                fail(c, "metadata '%s': unknown array element type %d", key, (int)kv->arr_type);
                return -1;
            }
            if (kv->arr_len > (c->size - c->pos) / es) {
                fail(c, "metadata '%s': array of %llu elements runs past the end of the file", key,
                     (unsigned long long)kv->arr_len);
                return -1;
            }
            take(c, kv->arr_len * es, key);
            if (kv->arr_type == GGUF_BOOL)
                for (uint64_t i = 0; i < kv->arr_len; i++)
                    if (kv->data[i] > 1) fail(c, "metadata '%s': bool element is not 0 or 1", key);
        }
    } else {
        kv->data = c->base + c->pos;
        skip_scalar(c, kv->type, key);
    }
    return c->failed ? -1 : 0;
}

/* Characters of a name shown in a message: long (hostile) names are cut, never read past. */
static int shown(gguf_str s) { return s.len < 80 ? (int)s.len : 80; }

static int cmp_str_ptr(const void *a, const void *b) {
    const gguf_str *x = *(const gguf_str *const *)a, *y = *(const gguf_str *const *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, x->len);
}

/* Fails (-1, message via c) when a name appears twice among the n items (sorted, so a file of a
 * million names is checked in O(n log n)); what names the kind of name. */
static int check_unique(cursor *c, const void *items, size_t stride, size_t name_offset, uint64_t n, const char *what) {
    if (n < 2) return 0;
    const gguf_str **idx = malloc((size_t)n * sizeof *idx);
    if (!idx) {
        fail(c, "out of memory");
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) idx[i] = (const gguf_str *)((const char *)items + i * stride + name_offset);
    qsort(idx, (size_t)n, sizeof *idx, cmp_str_ptr);
    const gguf_str *dup = NULL;
    for (uint64_t i = 1; i < n && !dup; i++)
        if (!cmp_str_ptr(&idx[i - 1], &idx[i])) dup = idx[i];
    if (dup) fail(c, "%s '%.*s' appears twice", what, shown(*dup), dup->ptr);
    free(idx);
    return dup ? -1 : 0;
}

static int read_tensor_info(cursor *c, gguf_tensor *t, uint64_t idx) {
    t->name = rd_str(c, "tensor name");
    t->n_dims = rd_u32(c, "tensor dims");
    if (c->failed) return -1;
    char name[96];
    snprintf(name, sizeof name, "%.*s", shown(t->name), t->name.ptr);
    if (t->name.len == 0) fail(c, "tensor %llu has an empty name", (unsigned long long)idx);
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
        fail(c, "tensor '%s': %u dimensions (expected 1..%d)", name, t->n_dims, GGUF_MAX_DIMS);
        return -1;
    }
    uint64_t count = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne = rd_u64(c, name);
        if (c->failed) return -1;
        if (ne == 0 || ne > ((uint64_t)1 << 40) || count > ((uint64_t)1 << 48) / ne) {
            fail(c, "tensor '%s': dimension %u = %llu is absurd", name, d, (unsigned long long)ne);
            return -1;
        }
        t->ne[d] = (int64_t)ne;
        count *= ne;
    }
    t->type = (int)rd_u32(c, name);
    t->offset = rd_u64(c, name);
    if (c->failed) return -1;
    int bs = gguf_type_block_size(t->type);
    if (!bs) {
        fail(c, "tensor '%s': unknown tensor type id %d", name, t->type);
        return -1;
    }
    if (t->ne[0] % bs) {
        fail(c, "tensor '%s': row length %lld is not a multiple of the %s block size %d", name,
             (long long)t->ne[0], gguf_type_name(t->type), bs);
        return -1;
    }
    t->nbytes = count / (uint64_t)bs * gguf_type_block_bytes(t->type);
    return 0;
}

static int key_is(gguf_str s, const char *k) { return gguf_str_eq(s, k); }

gguf_file *gguf_open(const char *path, char *err, size_t errlen) {
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    f->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        free(f);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        free(f);
        return NULL;
    }
    if (st.st_size < 24) {
        snprintf(err, errlen, "%s: truncated file: %lld bytes is smaller than a GGUF header", path,
                 (long long)st.st_size);
        close(fd);
        free(f);
        return NULL;
    }
    f->map_size = (size_t)st.st_size;
    void *m = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap failed: %s", path, strerror(errno));
        free(f);
        return NULL;
    }
    f->map = m;
    cursor c = {f->map, f->map_size, 0, path, err, errlen, 0};

    uint32_t magic = rd_u32(&c, "magic");
    if (magic != GGUF_MAGIC) {
        fail(&c, "not a GGUF file (bad magic)");
        goto bad;
    }
    f->version = rd_u32(&c, "version");
    if (f->version != 2 && f->version != 3) {
        fail(&c, "GGUF version %u is not supported (expected 2 or 3)", f->version);
        goto bad;
    }
    f->n_tensors = rd_u64(&c, "tensor count");
    f->n_kv = rd_u64(&c, "metadata count");
    /* every kv needs >= 12 bytes and every tensor info >= 28: bound the counts by the file size */
    if (f->n_kv > f->map_size / 12 || f->n_tensors > f->map_size / 28) {
        fail(&c, "absurd counts (truncated or corrupt?): %llu metadata entries and %llu tensors cannot fit in %zu bytes",
             (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors, f->map_size);
        goto bad;
    }
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) {
        fail(&c, "out of memory");
        goto bad;
    }
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        if (read_kv(&c, &f->kv[i])) goto bad;
        if (key_is(f->kv[i].key, "general.alignment")) {
            uint32_t a = 0;
            if (f->kv[i].type != GGUF_UINT32) {
                fail(&c, "general.alignment must be uint32");
                goto bad;
            }
            memcpy(&a, f->kv[i].data, 4);
            if (a < 8 || (a & (a - 1)) || a > 65536) { /* >= 8: every tensor's data is then 8-byte aligned */
                fail(&c, "general.alignment = %u: expected a power of two in [8, 65536]", a);
                goto bad;
            }
            f->alignment = a;
        }
    }
    if (check_unique(&c, f->kv, sizeof *f->kv, offsetof(gguf_kv, key), f->n_kv, "metadata key")) goto bad;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (read_tensor_info(&c, &f->tensors[i], i)) goto bad;
    f->data_offset = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
    if (f->data_offset > f->map_size && f->n_tensors == 0) f->data_offset = f->map_size; /* no padding needed */
    if (f->data_offset > f->map_size) {
        fail(&c, "truncated file: data section starts at %llu past the end (%zu bytes)",
             (unsigned long long)f->data_offset, f->map_size);
        goto bad;
    }
    uint64_t data_size = f->map_size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment) {
            fail(&c, "tensor '%.*s': offset %llu is not aligned to %llu", shown(t->name), t->name.ptr,
                 (unsigned long long)t->offset, (unsigned long long)f->alignment);
            goto bad;
        }
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            fail(&c, "tensor '%.*s': data [%llu, +%llu) lies outside the file's %llu data bytes (truncated?)",
                 shown(t->name), t->name.ptr, (unsigned long long)t->offset,
                 (unsigned long long)t->nbytes, (unsigned long long)data_size);
            goto bad;
        }
        t->data = f->map + f->data_offset + t->offset;
    }
    if (check_unique(&c, f->tensors, sizeof *f->tensors, offsetof(gguf_tensor, name), f->n_tensors, "tensor name")) goto bad;
    return f;
bad:
    gguf_close(f);
    return NULL;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].str_offs);
    free(f->kv);
    free(f->tensors);
    if (f->map) munmap(f->map, f->map_size);
    free(f);
}

int gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

/* Reads any integer scalar as int64 (uint64 values above INT64_MAX are refused). */
static int kv_int(const gguf_kv *kv, int64_t *out) {
    const uint8_t *p = kv->data;
    switch (kv->type) {
    case GGUF_UINT8: *out = *p; return 0;
    case GGUF_INT8: *out = (int8_t)*p; return 0;
    case GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case GGUF_INT16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case GGUF_INT32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case GGUF_INT64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
    case GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)v;
        return 0;
    }
    default: return -1;
    }
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find(f, key);
    return kv ? kv_int(kv, out) : -1;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    int64_t v;
    if (gguf_get_i64(f, key, &v) || v < 0 || v > (int64_t)UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return -1;
    if (kv->type == GGUF_FLOAT32) { memcpy(out, kv->data, 4); return 0; }
    if (kv->type == GGUF_FLOAT64) {
        double d;
        memcpy(&d, kv->data, 8);
        if (!(fabs(d) <= FLT_MAX)) return -1; /* NaN, Inf or out of float's range */
        *out = (float)d;
        return 0;
    }
    return -1;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_BOOL) return -1;
    *out = kv->data[0] != 0;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STRING) return -1;
    uint64_t n;
    memcpy(&n, kv->data, 8);
    out->len = n;
    out->ptr = (const char *)kv->data + 8;
    return 0;
}

int gguf_arr_str(const gguf_kv *kv, uint64_t i, gguf_str *out) {
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || i >= kv->arr_len) return -1;
    const uint8_t *p = kv->data + kv->str_offs[i];
    memcpy(&out->len, p, 8);
    out->ptr = (const char *)p + 8;
    return 0;
}

int gguf_arr_f32(const gguf_kv *kv, uint64_t i, float *out) {
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_FLOAT32 || i >= kv->arr_len) return -1;
    memcpy(out, kv->data + i * 4, 4);
    return 0;
}

int gguf_arr_i32(const gguf_kv *kv, uint64_t i, int32_t *out) {
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_len) return -1;
    if (kv->arr_type == GGUF_INT32 || kv->arr_type == GGUF_UINT32) {
        memcpy(out, kv->data + i * 4, 4);
        return 0;
    }
    return -1;
}

/* ---------------------------------------------------------------- writing */

typedef struct { uint8_t *p; size_t len, cap; int oom; } buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) {
    size_t n = strlen(s);
    put_u64(b, n);
    put(b, s, n);
}

typedef struct { char *name; int type, n_dims; int64_t ne[4]; void *data; size_t nbytes; } wtensor;

struct gguf_writer {
    buf kv;
    uint64_t n_kv;
    wtensor *t;
    uint64_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    free(w->kv.p);
    for (uint64_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    free(w);
}

static int kv_head(gguf_writer *w, const char *key, gguf_vtype t) {
    put_str(&w->kv, key);
    put_u32(&w->kv, (uint32_t)t);
    w->n_kv++;
    return w->kv.oom ? -1 : 0;
}
int gguf_w_u32(gguf_writer *w, const char *k, uint32_t v) { kv_head(w, k, GGUF_UINT32); put_u32(&w->kv, v); return w->kv.oom ? -1 : 0; }
int gguf_w_i32(gguf_writer *w, const char *k, int32_t v) { kv_head(w, k, GGUF_INT32); put(&w->kv, &v, 4); return w->kv.oom ? -1 : 0; }
int gguf_w_u64(gguf_writer *w, const char *k, uint64_t v) { kv_head(w, k, GGUF_UINT64); put_u64(&w->kv, v); return w->kv.oom ? -1 : 0; }
int gguf_w_f32(gguf_writer *w, const char *k, float v) { kv_head(w, k, GGUF_FLOAT32); put(&w->kv, &v, 4); return w->kv.oom ? -1 : 0; }
int gguf_w_bool(gguf_writer *w, const char *k, int v) {
    uint8_t b = v ? 1 : 0;
    kv_head(w, k, GGUF_BOOL);
    put(&w->kv, &b, 1);
    return w->kv.oom ? -1 : 0;
}
int gguf_w_str(gguf_writer *w, const char *k, const char *v) { kv_head(w, k, GGUF_STRING); put_str(&w->kv, v); return w->kv.oom ? -1 : 0; }
static void arr_head(gguf_writer *w, const char *k, gguf_vtype et, uint64_t n) {
    kv_head(w, k, GGUF_ARRAY);
    put_u32(&w->kv, (uint32_t)et);
    put_u64(&w->kv, n);
}
int gguf_w_arr_str(gguf_writer *w, const char *k, const char *const *v, uint64_t n) {
    arr_head(w, k, GGUF_STRING, n);
    for (uint64_t i = 0; i < n; i++) put_str(&w->kv, v[i]);
    return w->kv.oom ? -1 : 0;
}
int gguf_w_arr_f32(gguf_writer *w, const char *k, const float *v, uint64_t n) {
    arr_head(w, k, GGUF_FLOAT32, n);
    put(&w->kv, v, n * 4);
    return w->kv.oom ? -1 : 0;
}
int gguf_w_arr_i32(gguf_writer *w, const char *k, const int32_t *v, uint64_t n) {
    arr_head(w, k, GGUF_INT32, n);
    put(&w->kv, v, n * 4);
    return w->kv.oom ? -1 : 0;
}

int gguf_w_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                  const void *data, size_t nbytes) {
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !gguf_type_block_size(type)) return -1;
    if (w->n_t == w->cap_t) {
        uint64_t cap = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return -1;
        w->t = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return -1;
    }
    memcpy(t->data, data, nbytes);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    t->nbytes = nbytes;
    w->n_t++;
    return 0;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

int gguf_writer_save(gguf_writer *w, const char *path, char *err, size_t errlen) {
    buf h = {0};
    put_u32(&h, GGUF_MAGIC);
    put_u32(&h, 3);
    put_u64(&h, w->n_t);
    put_u64(&h, w->n_kv);
    put(&h, w->kv.p, w->kv.len);
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        put_str(&h, t->name);
        put_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, (uint32_t)t->type);
        put_u64(&h, off);
        off = align_up(off + t->nbytes, GGUF_DEFAULT_ALIGNMENT);
    }
    static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];
    put(&h, zeros, align_up(h.len, GGUF_DEFAULT_ALIGNMENT) - h.len);
    if (h.oom || w->kv.oom) {
        free(h.p);
        snprintf(err, errlen, "%s: out of memory while serializing", path);
        return -1;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(h.p);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    int ok = fp != NULL;
    if (ok) ok = fwrite(h.p, 1, h.len, fp) == h.len;
    for (uint64_t i = 0; ok && i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes;
        size_t pad = (size_t)(align_up(t->nbytes, GGUF_DEFAULT_ALIGNMENT) - t->nbytes);
        if (ok && pad && i + 1 < w->n_t) ok = fwrite(zeros, 1, pad, fp) == pad;
    }
    if (fp && fclose(fp) != 0) ok = 0;
    free(h.p);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        if (fp) remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

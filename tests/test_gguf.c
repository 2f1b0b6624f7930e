/* GGUF reader/writer: round trip of every value type the writer emits, hand-built files for the
 * types it does not, version 2, and hostile files (truncated at every byte, absurd counts and
 * dimensions, misaligned or out-of-range offsets, unknown types) which must fail with a message. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gguf.h"

static char tmpdir[] = "/tmp/ei_test_gguf_XXXXXX";

static void path_in_tmp(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static size_t read_bytes(const char *path, uint8_t *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void test_roundtrip(void) {
    TEST_BEGIN();
    char path[256], err[256];
    path_in_tmp(path, sizeof path, "rt.gguf");
    gguf_writer *w = gguf_writer_new();
    const char *strs[3] = {"alpha", "", "γάμμα"};
    float fa[4] = {1.5f, -2.0f, 0.0f, 3.25f};
    int32_t ia[3] = {-7, 0, 1 << 30};
    float t1[2 * 3] = {1, 2, 3, 4, 5, 6};
    uint8_t t2[34 * 2];
    for (size_t i = 0; i < sizeof t2; i++) t2[i] = (uint8_t)i;
    CHECK(w != NULL, "writer");
    CHECK(!gguf_w_u32(w, "a.u32", 42) && !gguf_w_i32(w, "a.i32", -5) && !gguf_w_u64(w, "a.u64", 1ull << 40) &&
              !gguf_w_f32(w, "a.f32", 0.125f) && !gguf_w_bool(w, "a.bool", 1) && !gguf_w_str(w, "a.str", "hello") &&
              !gguf_w_arr_str(w, "a.strs", strs, 3) && !gguf_w_arr_f32(w, "a.fa", fa, 4) && !gguf_w_arr_i32(w, "a.ia", ia, 3),
          "write kvs");
    int64_t ne1[2] = {2, 3}, ne2[1] = {64};
    CHECK(!gguf_w_tensor(w, "t.f32", 0, 2, ne1, t1, sizeof t1), "tensor f32");
    CHECK(!gguf_w_tensor(w, "t.q8", 8, 1, ne2, t2, sizeof t2), "tensor q8_0");
    CHECK(!gguf_writer_save(w, path, err, sizeof err), "save: %s", err);
    gguf_writer_free(w);

    gguf_file *f = gguf_open(path, err, sizeof err);
    CHECK(f != NULL, "open: %s", err);
    if (!f) { TEST_END("gguf round trip"); return; }
    uint32_t u; int64_t i64; float fl; int b; gguf_str s;
    CHECK(!gguf_get_u32(f, "a.u32", &u) && u == 42, "u32");
    CHECK(!gguf_get_i64(f, "a.i32", &i64) && i64 == -5, "i32");
    CHECK(gguf_get_u32(f, "a.i32", &u) == -1, "negative value refused as u32");
    CHECK(!gguf_get_i64(f, "a.u64", &i64) && i64 == (1ll << 40), "u64");
    CHECK(!gguf_get_f32(f, "a.f32", &fl) && fl == 0.125f, "f32");
    CHECK(!gguf_get_bool(f, "a.bool", &b) && b == 1, "bool");
    CHECK(!gguf_get_str(f, "a.str", &s) && gguf_str_eq(s, "hello"), "str");
    CHECK(gguf_get_str(f, "missing", &s) == -1 && gguf_get_u32(f, "a.str", &u) == -1, "missing / wrong type");
    const gguf_kv *kv = gguf_find(f, "a.strs");
    CHECK(kv && kv->arr_len == 3, "strs len");
    for (int i = 0; i < 3; i++) CHECK(!gguf_arr_str(kv, (uint64_t)i, &s) && gguf_str_eq(s, strs[i]), "strs[%d]", i);
    CHECK(gguf_arr_str(kv, 3, &s) == -1, "strs out of range");
    kv = gguf_find(f, "a.fa");
    for (int i = 0; i < 4; i++) CHECK(!gguf_arr_f32(kv, (uint64_t)i, &fl) && fl == fa[i], "fa[%d]", i);
    kv = gguf_find(f, "a.ia");
    int32_t iv;
    for (int i = 0; i < 3; i++) CHECK(!gguf_arr_i32(kv, (uint64_t)i, &iv) && iv == ia[i], "ia[%d]", i);
    CHECK(gguf_arr_f32(kv, 0, &fl) == -1, "type mismatch refused");
    const gguf_tensor *t = gguf_find_tensor(f, "t.f32");
    CHECK(t && t->ne[0] == 2 && t->ne[1] == 3 && t->type == 0 && t->nbytes == sizeof t1 && !memcmp(t->data, t1, sizeof t1), "t.f32");
    t = gguf_find_tensor(f, "t.q8");
    CHECK(t && t->ne[0] == 64 && t->type == 8 && t->nbytes == sizeof t2 && !memcmp(t->data, t2, sizeof t2), "t.q8");
    CHECK(t && ((uintptr_t)t->data - (uintptr_t)f->map) % 32 == 0, "tensor data aligned");
    gguf_close(f);
    TEST_END("gguf round trip");
}

/* A hand-built v2 file holding the scalar types the writer never emits. */
typedef struct { uint8_t b[4096]; size_t n; } raw;
static void put(raw *r, const void *p, size_t n) { memcpy(r->b + r->n, p, n); r->n += n; }
static void put_u32(raw *r, uint32_t v) { put(r, &v, 4); }
static void put_u64(raw *r, uint64_t v) { put(r, &v, 8); }
static void put_str(raw *r, const char *s) { put_u64(r, strlen(s)); put(r, s, strlen(s)); }

static void build_all_types(raw *r, uint32_t version) {
    r->n = 0;
    put_u32(r, 0x46554747u);
    put_u32(r, version);
    put_u64(r, 0); /* tensors */
    put_u64(r, 7); /* kvs */
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000; int64_t i64 = -(1ll << 50);
    double f64 = 2.5;
    put_str(r, "k.u8"); put_u32(r, 0); put(r, &u8, 1);
    put_str(r, "k.i8"); put_u32(r, 1); put(r, &i8, 1);
    put_str(r, "k.u16"); put_u32(r, 2); put(r, &u16, 2);
    put_str(r, "k.i16"); put_u32(r, 3); put(r, &i16, 2);
    put_str(r, "k.i64"); put_u32(r, 11); put(r, &i64, 8);
    put_str(r, "k.f64"); put_u32(r, 12); put(r, &f64, 8);
    put_str(r, "k.arr_u16"); put_u32(r, 9); put_u32(r, 2); put_u64(r, 3);
    uint16_t arr[3] = {1, 2, 3};
    put(r, arr, sizeof arr);
}

static void test_all_types(void) {
    TEST_BEGIN();
    char path[256], err[256];
    path_in_tmp(path, sizeof path, "types.gguf");
    raw r;
    for (uint32_t version = 2; version <= 3; version++) {
        build_all_types(&r, version);
        CHECK(!write_bytes(path, r.b, r.n), "write");
        gguf_file *f = gguf_open(path, err, sizeof err);
        CHECK(f != NULL, "v%u open: %s", version, err);
        if (!f) continue;
        int64_t v; float fl;
        CHECK(!gguf_get_i64(f, "k.u8", &v) && v == 200, "u8");
        CHECK(!gguf_get_i64(f, "k.i8", &v) && v == -100, "i8");
        CHECK(!gguf_get_i64(f, "k.u16", &v) && v == 60000, "u16");
        CHECK(!gguf_get_i64(f, "k.i16", &v) && v == -30000, "i16");
        CHECK(!gguf_get_i64(f, "k.i64", &v) && v == -(1ll << 50), "i64");
        CHECK(!gguf_get_f32(f, "k.f64", &fl) && fl == 2.5f, "f64");
        const gguf_kv *kv = gguf_find(f, "k.arr_u16");
        CHECK(kv && kv->type == GGUF_ARRAY && kv->arr_type == GGUF_UINT16 && kv->arr_len == 3, "u16 array");
        gguf_close(f);
    }
    build_all_types(&r, 1);
    write_bytes(path, r.b, r.n);
    gguf_file *f = gguf_open(path, err, sizeof err);
    CHECK(f == NULL && strstr(err, "version 1"), "v1 refused: %s", err);
    gguf_close(f);
    TEST_END("gguf every metadata type, v2 and v3");
}

static int expect_fail(const char *path, const void *bytes, size_t n, const char *needle) {
    char err[512] = "";
    write_bytes(path, bytes, n);
    gguf_file *f = gguf_open(path, err, sizeof err);
    int ok = f == NULL && strstr(err, path) && (!needle || strstr(err, needle));
    if (!ok) printf("  expected failure containing '%s', got %s: %s\n", needle ? needle : "", f ? "success" : "error", err);
    gguf_close(f);
    return ok;
}

static void test_hostile(void) {
    TEST_BEGIN();
    char good[256], bad[256], err[256];
    path_in_tmp(good, sizeof good, "good.gguf");
    path_in_tmp(bad, sizeof bad, "bad.gguf");
    gguf_writer *w = gguf_writer_new();
    const char *strs[2] = {"x", "yz"};
    gguf_w_str(w, "general.architecture", "llama");
    gguf_w_arr_str(w, "tok", strs, 2);
    float data[64];
    for (int i = 0; i < 64; i++) data[i] = (float)i;
    int64_t ne[2] = {8, 8};
    gguf_w_tensor(w, "w", 0, 2, ne, data, sizeof data);
    CHECK(!gguf_writer_save(w, good, err, sizeof err), "save");
    gguf_writer_free(w);
    static uint8_t img[8192];
    size_t n = read_bytes(good, img, sizeof img);
    CHECK(n > 300, "size %zu", n);

    /* every truncation fails cleanly */
    int trunc_ok = 1;
    for (size_t cut = 0; cut < n; cut++) trunc_ok &= expect_fail(bad, img, cut, NULL);
    CHECK(trunc_ok, "some truncation was accepted or crashed");

    CHECK(expect_fail(bad, "GGUX\3\0\0\0", 8, "truncated"), "tiny file");
    static uint8_t m[8192];
    memcpy(m, img, n);
    memcpy(m, "GGUX", 4);
    CHECK(expect_fail(bad, m, n, "bad magic"), "magic");
    memcpy(m, img, n);
    uint64_t huge = 1ull << 60;
    memcpy(m + 8, &huge, 8);
    CHECK(expect_fail(bad, m, n, "absurd counts"), "tensor count");
    memcpy(m, img, n);
    memcpy(m + 16, &huge, 8);
    CHECK(expect_fail(bad, m, n, "absurd counts"), "kv count");
    /* locate the tensor info: name "w" after the kvs: find the bytes 01 00.. 'w' */
    size_t ti = 0;
    for (size_t i = 24; i + 9 < n; i++)
        if (m[i] == 1 && !memcmp(m + i + 1, "\0\0\0\0\0\0\0w", 8)) { ti = i; break; }
    CHECK(ti > 0, "tensor info found");
    if (ti) {
        size_t dims = ti + 9, ne0 = dims + 4, type = ne0 + 16, off = type + 4;
        memcpy(m, img, n);
        uint32_t d = 9;
        memcpy(m + dims, &d, 4);
        CHECK(expect_fail(bad, m, n, "dimensions"), "n_dims");
        memcpy(m, img, n);
        memcpy(m + ne0, &huge, 8);
        CHECK(expect_fail(bad, m, n, "absurd"), "dim size");
        memcpy(m, img, n);
        uint32_t ty = 77;
        memcpy(m + type, &ty, 4);
        CHECK(expect_fail(bad, m, n, "unknown tensor type"), "type");
        memcpy(m, img, n);
        ty = 8; /* q8_0: 8 is not a multiple of its block size 32 */
        memcpy(m + type, &ty, 4);
        CHECK(expect_fail(bad, m, n, "block size"), "block multiple");
        memcpy(m, img, n);
        uint64_t o = 3;
        memcpy(m + off, &o, 8);
        CHECK(expect_fail(bad, m, n, "not aligned"), "misaligned");
        memcpy(m, img, n);
        o = 1ull << 40;
        memcpy(m + off, &o, 8);
        CHECK(expect_fail(bad, m, n, "outside"), "offset past end");
    }
    /* string array with an element length pointing past the end */
    size_t sa = 0;
    for (size_t i = 24; i + 3 < n; i++)
        if (!memcmp(m + i, "tok", 3)) { sa = i + 3; break; }
    if (sa) {
        memcpy(m, img, n);
        uint64_t len = 1ull << 50;
        memcpy(m + sa + 4 + 4 + 8, &len, 8); /* type, elem type, count, then first element length */
        CHECK(expect_fail(bad, m, n, "truncated"), "string length");
    }
    /* files the writer makes without complaint that the reader must refuse: a repeated metadata key or
     * tensor name (the reader would see only the first), an alignment below 8 (misaligned weights) */
    for (int k = 0; k < 3; k++) {
        static const char *const want[3] = {"metadata key 'general.name' appears twice", "tensor name 'w' appears twice",
                                            "general.alignment = 4"};
        w = gguf_writer_new();
        gguf_w_str(w, "general.architecture", "llama");
        gguf_w_str(w, "general.name", "a");
        if (k == 0) gguf_w_str(w, "general.name", "b");
        if (k == 2) gguf_w_u32(w, "general.alignment", 4);
        gguf_w_tensor(w, "w", 0, 2, ne, data, sizeof data);
        gguf_w_tensor(w, k == 1 ? "w" : "v", 0, 2, ne, data, sizeof data);
        CHECK(!gguf_writer_save(w, bad, err, sizeof err), "save %d", k);
        gguf_writer_free(w);
        char e[512] = "";
        gguf_file *f = gguf_open(bad, e, sizeof e);
        CHECK(!f && strstr(e, bad) && strstr(e, want[k]), "case %d: expected '%s', got %s", k, want[k], f ? "success" : e);
        gguf_close(f);
    }
    char err2[256];
    CHECK(gguf_open("/nonexistent/x.gguf", err2, sizeof err2) == NULL && strstr(err2, "cannot open"), "missing file");
    CHECK(gguf_open(tmpdir, err2, sizeof err2) == NULL && strstr(err2, "not a regular file"), "directory");
    TEST_END("gguf hostile files fail with a message");
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    test_roundtrip();
    test_all_types();
    test_hostile();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("  (could not remove %s)\n", tmpdir);
    CHECK_EXIT();
}

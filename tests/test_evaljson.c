/* The evaluation tool's JSON reader/writer and SHA-256 (tools/eval/json.c, sha256.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/eval/json.h"
#include "../tools/eval/sha256.h"
#include "check.h"

static json *parse(const char *s, char *err, size_t cap) { return json_parse(s, strlen(s), err, cap); }

static void test_values(void) {
    TEST_BEGIN();
    char err[200];
    const char *ok = " {\"a\": [1, -2.5e3, true, false, null, 0, -0.5E-2, 1e-400], \"s\": "
                     "\"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"o\": {}, \"z\": \"a\\u0000b\", \"k\": 1} ";
    json *v = parse(ok, err, sizeof err);
    CHECK(v != NULL, "valid document rejected: %s", err);
    if (v) {
        const json *a = json_get(v, "a");
        CHECK(json_kind(a) == JSON_ARRAY && json_len(a) == 8 && json_num(json_at(a, 1), 0) == -2500, "array");
        CHECK(json_bool(json_at(a, 2), 0) == 1 && json_bool(json_at(a, 3), 1) == 0 && json_kind(json_at(a, 4)) == JSON_NULL,
              "literals");
        CHECK(json_num(json_at(a, 6), 0) == -0.005 && json_num(json_at(a, 7), 1) == 0 && !json_at(a, 8), "numbers");
        CHECK(json_str(json_get(v, "s")) && !strcmp(json_str(json_get(v, "s")), "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"),
              "escapes and surrogate pair");
        CHECK(json_str_len(json_get(v, "z")) == 3 && !memcmp(json_str(json_get(v, "z")), "a\0b", 3), "NUL inside a string");
        CHECK(json_kind(json_get(v, "o")) == JSON_OBJECT && !json_get(v, "missing") && !json_get(a, "x"), "object");
        CHECK(json_len(v) == 5 && !strcmp(json_key_at(v, 3), "z") && !json_key_at(v, 5) && !json_key_at(a, 0), "key order");
        CHECK(json_num(json_get(v, "s"), 7) == 7 && !json_str(a) && json_bool(a, 2) == 2, "accessor fallbacks");
        /* round trip: write the whole tree back and parse it again */
        json_out o = {0};
        jo_value(&o, v);
        json *back = json_parse(o.buf, o.len, err, sizeof err);
        json_out o2 = {0};
        jo_value(&o2, back);
        CHECK(back && !o.failed && o2.len == o.len && !memcmp(o.buf, o2.buf, o.len), "writer round trip: %s", o.buf);
        CHECK(back && json_str_len(json_get(back, "z")) == 3, "NUL survives the round trip");
        json_free(back), free(o.buf), free(o2.buf);
    }
    json_free(v);
    TEST_END("eval json: values, escapes, surrogates, NUL, key order, accessors, writer round trip");
}

static void test_writer(void) {
    TEST_BEGIN();
    char err[200];
    json_out o = {0};
    jo_raw(&o, "[");
    jo_str(&o, "q\"b\\c\x01\x1f\n\t\r\xc3\xa9");
    jo_raw(&o, ","), jo_str(&o, "bad \xff\xc3 end \xed\xa0\x80"); /* invalid UTF-8: each byte becomes U+FFFD */
    jo_raw(&o, ","), jo_num(&o, 0.1), jo_raw(&o, ","), jo_num(&o, NAN), jo_raw(&o, ","), jo_num(&o, -INFINITY);
    jo_raw(&o, ","), jo_int(&o, -9007199254740993LL), jo_raw(&o, ","), jo_str(&o, NULL), jo_raw(&o, "]");
    CHECK(!o.failed && strstr(o.buf, "\\u0001\\u001f\\n\\t\\r\xc3\xa9") && strstr(o.buf, "null,null,-9007199254740993"), "%s", o.buf);
    json *v = json_parse(o.buf, o.len, err, sizeof err);
    CHECK(v && json_len(v) == 7, "writer output parses: %s", err);
    CHECK(v && !strcmp(json_str(json_at(v, 1)), "bad \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
          "replacement characters");
    CHECK(v && json_num(json_at(v, 2), 0) == 0.1, "%%.17g keeps a double exactly");
    json_free(v);
    /* atomic write: the file holds exactly the buffer, no temporary file is left behind */
    char dir[] = "/tmp/evaljsonXXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/run.json", dir);
    CHECK(jo_write_file_atomic(&o, path) == 0 && jo_write_file_atomic(&o, path) == 0, "write");
    json *f = json_parse_file(path, err, sizeof err);
    CHECK(f && json_len(f) == 7, "file parses: %s", err);
    json_free(f);
    snprintf(path, sizeof path, "%s/missing/run.json", dir);
    CHECK(jo_write_file_atomic(&o, path) == -1, "write into a missing directory fails");
    CHECK(!json_parse_file(path, err, sizeof err) && strstr(err, "missing/run.json: cannot open"), "%s", err);
    snprintf(path, sizeof path, "%s/run.json", dir);
    unlink(path), rmdir(dir);
    CHECK(access(dir, F_OK) != 0, "temporary file left in %s", dir);
    free(o.buf);
    TEST_END("eval json writer: escapes, invalid UTF-8 replaced, NaN as null, atomic file write");
}

static void test_malformed(void) {
    TEST_BEGIN();
    char err[200];
    static const struct { const char *in, *why; } bad[] = {
        {"", "unexpected end"}, {"{", "expected a key"}, {"[1,]", "unexpected character"}, {"{\"a\" 1}", "expected ':'"},
        {"\"abc", "unterminated string"}, {"\"\\x\"", "bad escape"}, {"\"\\ud800\"", "lone surrogate"},
        {"\"\\udc00\"", "lone surrogate"}, {"\"\\ud800\\u0041\"", "bad surrogate pair"}, {"\"\\u12g4\"", "bad hex"},
        {"\"\\u12", "unterminated"}, {"tru", "unexpected character"}, {"1 2", "trailing"}, {"\"\x01\"", "control character"},
        {"\"\xff\"", "invalid UTF-8"}, {"\"\xc0\xaf\"", "invalid UTF-8"}, {"\"\xe0\x80\xaf\"", "invalid UTF-8"},
        {"\"\xed\xa0\x80\"", "invalid UTF-8"}, {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, {"\"\xe2\x82\"", "invalid UTF-8"},
        {"01", "trailing"}, {"1.", "digit is expected"}, {"-", "digit is expected"}, {"1e", "digit is expected"},
        {".5", "unexpected character"}, {"+1", "unexpected character"}, {"{\"a\":1,}", "expected a key"},
        {"[1e999]", "out of range"}, {"[1] x", "trailing"}, {"[1", "unterminated array"}, {"{\"a\":1", "unterminated object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        json *b = parse(bad[i].in, err, sizeof err);
        CHECK(b == NULL && strstr(err, "line 1 col") && strstr(err, bad[i].why), "input %zu (%s): %s", i, bad[i].in, err);
        json_free(b);
    }
    json *b = parse("{\n  \"a\": [1,\n  2 x]}", err, sizeof err);
    CHECK(!b && strstr(err, "line 3 col 5"), "position: %s", err);
    json_free(b);
    /* nesting: JSON_MAX_DEPTH levels parse, one more is refused (no recursion blowup) */
    static char deep[2 * JSON_MAX_DEPTH + 8];
    for (int extra = 0; extra <= 1; extra++) {
        const int d = JSON_MAX_DEPTH + extra;
        memset(deep, '[', (size_t)d), memset(deep + d, ']', (size_t)d);
        b = json_parse(deep, 2 * (size_t)d, err, sizeof err);
        CHECK(extra ? !b && strstr(err, "nesting") : b != NULL, "depth %d: %s", d, err);
        json_free(b);
    }
    /* never reads past len: the text is not NUL-terminated (ASan checks the bounds) */
    static const char *const cut[] = {"[1, 2, 3]", "{\"key\": \"value\\n\"}", "\"\\ud83d\\ude00\"", "[-12.5e+3]", "true"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++)
        for (size_t n = 0; n <= strlen(cut[i]); n++) {
            char *t = malloc(n ? n : 1);
            if (!t) continue;
            memcpy(t, cut[i], n);
            b = json_parse(t, n, err, sizeof err);
            CHECK((b != NULL) == (n == strlen(cut[i])), "prefix %zu of %s", n, cut[i]);
            json_free(b), free(t);
        }
    /* random bytes and mutations of a valid document: rejected or accepted, never a crash */
    const char *doc = "{\"t\": [1, {\"u\": \"\\u00e9x\"}, null, -3.5e2], \"v\": true}";
    unsigned x = 12345;
    for (int it = 0; it < 20000; it++) {
        char t[64];
        size_t n = strlen(doc);
        memcpy(t, doc, n);
        for (int k = 0; k < 1 + it % 4; k++) x = x * 1103515245u + 12345u, t[(x >> 8) % n] = (char)(x >> 20);
        b = json_parse(t, n, err, sizeof err);
        json_free(b);
    }
    TEST_END("eval json: malformed input rejected with line/col and a reason; depth limit; bounds; mutations");
}

static void test_sha(void) {
    TEST_BEGIN();
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        sha256_ctx c;
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, v[i].in, strlen(v[i].in));
        sha256_hex(&c, hex);
        CHECK(!strcmp(hex, v[i].hex), "sha256(\"%s\") = %s", v[i].in, hex);
    }
    /* a million 'a' fed in odd-sized pieces */
    sha256_ctx c;
    char hex[65], buf[997];
    memset(buf, 'a', sizeof buf);
    sha256_init(&c);
    for (int left = 1000000; left > 0; left -= (int)sizeof buf) sha256_update(&c, buf, left < (int)sizeof buf ? (size_t)left : sizeof buf);
    sha256_hex(&c, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "million a: %s", hex);
    /* 1 MiB of patterned bytes, in one piece and through a file; the value is Python's hashlib.sha256 of
     * bytes(((i*131 + (i>>8)) & 0xFF) for i in range(1<<20)) */
    const char *want = "c5a21e51df649a4dac048e947d52ab1164616932732d122c8fc75e5955f0b589";
    unsigned char *big = malloc(1 << 20);
    CHECK(big != NULL, "malloc");
    if (big) {
        for (unsigned i = 0; i < (1u << 20); i++) big[i] = (unsigned char)((i * 131u + (i >> 8)) & 0xFF);
        sha256_init(&c);
        sha256_update(&c, big, 1 << 20);
        sha256_hex(&c, hex);
        CHECK(!strcmp(hex, want), "1 MiB: %s", hex);
        char path[] = "/tmp/evalshaXXXXXX";
        const int fd = mkstemp(path);
        CHECK(fd >= 0 && write(fd, big, 1 << 20) == 1 << 20, "temp file");
        if (fd >= 0) close(fd);
        CHECK(sha256_file(path, hex) == 0 && !strcmp(hex, want), "1 MiB file: %s", hex);
        unlink(path);
        CHECK(sha256_file(path, hex) == -1, "missing file");
        free(big);
    }
    TEST_END("eval sha256: FIPS 180-2 vectors, a million 'a', 1 MiB against Python's hashlib, files");
}

int main(void) {
    test_values();
    test_writer();
    test_malformed();
    test_sha();
    CHECK_EXIT();
}

/* The evaluation tool's JSON reader/writer and SHA-256 (tools/eval/json.c, sha256.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/eval/json.h"
#include "../tools/eval/sha256.h"
#include "check.h"

static void test_json(void) {
    TEST_BEGIN();
    char err[200];
    const char *ok = " {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"o\": {}} ";
    json *v = json_parse(ok, strlen(ok), err, sizeof err);
    CHECK(v != NULL, "valid document rejected: %s", err);
    if (v) {
        const json *a = json_get(v, "a");
        CHECK(a && a->type == JSON_ARRAY && a->len == 5 && json_num(&a->items[1], 0) == -2500, "array");
        CHECK(a && a->items[2].type == JSON_BOOL && a->items[2].num == 1 && a->items[4].type == JSON_NULL, "literals");
        CHECK(json_str(json_get(v, "s")) && !strcmp(json_str(json_get(v, "s")), "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"),
              "escapes and surrogate pair");
        CHECK(json_get(v, "o") && json_get(v, "o")->type == JSON_OBJECT && !json_get(v, "missing"), "object");
        json_out o = {0};
        jo_str(&o, json_str(json_get(v, "s")));
        json *back = json_parse(o.buf, o.len, err, sizeof err);
        CHECK(back && !strcmp(json_str(back), json_str(json_get(v, "s"))), "writer round trip");
        json_free(back), free(o.buf);
    }
    json_free(v);
    static const char *const bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "\"\\x\"", "\"\\ud800\"", "tru", "1 2",
                                      "\"\x01\"", "\"\xff\"", "01x", "{\"a\":1,}", "[1e999]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json *b = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        CHECK(b == NULL && strstr(err, "line 1 col"), "accepted bad input %zu (%s)", i, bad[i]);
        json_free(b);
    }
    char deep[400];
    memset(deep, '[', sizeof deep);
    json *d = json_parse(deep, sizeof deep, err, sizeof err);
    CHECK(d == NULL && strstr(err, "nesting"), "deep nesting: %s", err);
    json_free(d);
    TEST_END("eval json: values, escapes, surrogates, writer round trip; malformed input rejected with a position");
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
    TEST_END("eval sha256: FIPS 180-2 test vectors");
}

int main(void) {
    test_json();
    test_sha();
    CHECK_EXIT();
}

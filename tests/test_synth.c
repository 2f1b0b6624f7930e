/* Passkey and needle prompts (tools/eval/synth.c) on the stories260K tokenizer: token counts hit the
 * target, the key or needle occurs once at its depth and the question comes last, the text is valid
 * UTF-8, the same seed gives the same prompt and different seeds different keys; bad requests fail
 * with a message. With SmolLM2 present, a 32K-token passkey prompt is checked too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/eval/synth.h"
#include "check.h"
#include "edgeinf.h"
#include "tiny_model.h"

#define ESSAYS "../shared/data/pg_essays"

static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2 : (*s >> 3) == 30 ? 3 : -1;
        if (n < 0) return 0;
        for (int i = 1; i <= n; i++)
            if ((s[i] & 0xC0) != 0x80) return 0;
        s += n + 1;
    }
    return 1;
}

static int occurrences(const char *s, const char *what) {
    int k = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) k++;
    return k;
}

static int64_t tokens_of(const ei_model *m, const char *s) { return ei_tokenize(m, s, strlen(s), 0, 0, NULL, 0); }

/* Within 1% of the target, or 3 tokens for short targets (whole words decide the last few). */
static int close_to(int64_t got, int64_t want) { return llabs(got - want) <= (want / 100 > 3 ? want / 100 : 3); }

/* Where the sentence holding the key starts in the body (between the end of the instructions and the
 * question), 0..1. */
static double rel_pos(const char *text, const char *key, const char *question) {
    const char *body = strstr(text, "\n\n"), *k = strstr(text, key), *q = strstr(text, question);
    if (!body || !k || !q || q <= body) return -1;
    body += 2;
    while (k > body && k[-1] != '\n' && !(k[-1] == ' ' && k - 1 > body && k[-2] == '.')) k--;
    const char *end = strchr(k, '.'); /* the sentence holding the key ends here */
    if (!end || end > q) return -1;
    const double rest = (double)(q - body) - (double)(end + 1 - k); /* the body without that sentence */
    return rest > 0 ? (double)(k - body) / rest : -1;
}

static int depth_ok(double rel, int depth) {
    return depth == 0 ? rel >= 0 && rel < 0.03 : depth == 100 ? rel > 0.9 && rel <= 1 : rel > 0.4 && rel < 0.6;
}

static void test_passkey(const ei_model *m) {
    const char *name = "synth_passkey: length, one key at its depth, question last, deterministic";
    TEST_BEGIN();
    static const int64_t targets[] = {500, 2000, 8000, 30000};
    static const int depths[] = {0, 50, 100};
    const double t0 = ei_time_s();
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        for (size_t d = 0; d < sizeof depths / sizeof *depths; d++) {
            char key[16] = "", err[256] = "";
            char *t = synth_passkey(m, targets[i], depths[d], 7 + i * 3 + d, 0, key, err, sizeof err);
            CHECK(t != NULL, "target %lld depth %d: %s", (long long)targets[i], depths[d], err);
            if (!t) continue;
            const int64_t n = tokens_of(m, t);
            CHECK(close_to(n, targets[i]), "target %lld depth %d: %lld tokens", (long long)targets[i], depths[d], (long long)n);
            CHECK(strlen(key) == 5 && key[0] >= '1' && occurrences(t, key) == 1, "key '%s' occurs %d times", key,
                  occurrences(t, key));
            char again[16];
            synth_passkey_answer(7 + i * 3 + d, 0, targets[i], depths[d], again);
            CHECK(!strcmp(again, key), "synth_passkey_answer gives %s, the prompt has %s", again, key);
            const double rel = rel_pos(t, key, "What is the pass key");
            CHECK(depth_ok(rel, depths[d]), "target %lld depth %d: key at %.3f of the body", (long long)targets[i], depths[d], rel);
            const char *q = strstr(t, "What is the pass key");
            const size_t tl = strlen(t);
            CHECK(q && !strchr(q, '\n') && tl > 12 && !strcmp(t + tl - 12, "number only."), "the question is not the last line");
            CHECK(valid_utf8((const unsigned char *)t), "invalid UTF-8");
            free(t);
        }
    printf("  12 passkey prompts of 500..30000 tokens in %.2f s\n", ei_time_s() - t0);
    /* same seed: same text and key; other seeds: other keys */
    char k1[16], k2[16], err[256];
    char *a = synth_passkey(m, 500, 25, 42, 0, k1, err, sizeof err), *b = synth_passkey(m, 500, 25, 42, 0, k2, err, sizeof err);
    CHECK(a && b && !strcmp(a, b) && !strcmp(k1, k2), "seed 42 twice gives different prompts");
    free(a), free(b);
    char keys[20][16];
    int distinct = 0;
    for (int s = 0; s < 20; s++) {
        char *t = synth_passkey(m, 300, 50, (uint64_t)s, 0, keys[s], err, sizeof err);
        CHECK(t != NULL, "seed %d: %s", s, err);
        free(t);
        int seen = 0;
        for (int j = 0; j < s; j++) seen |= !strcmp(keys[j], keys[s]);
        distinct += !seen;
    }
    CHECK(distinct >= 19, "only %d distinct keys for 20 seeds", distinct);
    TEST_END(name);
}

/* The essays concatenated in name order, as the eval driver does. */
static char *read_essays(size_t *len) {
    struct dirent **names = NULL;
    const int n = scandir(ESSAYS, &names, NULL, alphasort);
    if (n < 0) return NULL;
    char *all = NULL;
    size_t cap = 0;
    *len = 0;
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", ESSAYS, names[i]->d_name);
        FILE *f = strstr(names[i]->d_name, ".txt") ? fopen(path, "rb") : NULL;
        free(names[i]);
        if (!f) continue;
        char buf[65536];
        size_t r;
        while ((r = fread(buf, 1, sizeof buf, f)) > 0) {
            if (*len + r + 3 > cap) {
                cap = (*len + r + 3) * 2;
                char *p = realloc(all, cap);
                if (!p) { free(all); all = NULL; *len = 0; cap = 0; break; }
                all = p;
            }
            memcpy(all + *len, buf, r), *len += r;
        }
        fclose(f);
        if (all) memcpy(all + *len, "\n\n", 3), *len += 2;
    }
    free(names);
    return all;
}

static void test_needle(const ei_model *m) {
    const char *name = "synth_needle: length, one needle at a sentence boundary, repeated haystack, answers vary";
    TEST_BEGIN();
    size_t len = 0;
    char *hay = read_essays(&len);
    if (!hay) { SKIP(name, "%s is absent", ESSAYS); return; }
    static const int64_t targets[] = {500, 5000, 50000};
    static const int depths[] = {0, 50, 100};
    char answers[9][64];
    const double t0 = ei_time_s();
    for (size_t i = 0; i < 3; i++)
        for (size_t d = 0; d < 3; d++) {
            char *ans = answers[i * 3 + d], err[256] = "";
            char *t = synth_needle(m, hay, len, targets[i], depths[d], 100 + i * 3 + d, 0, ans, err, sizeof err);
            CHECK(t != NULL, "target %lld depth %d: %s", (long long)targets[i], depths[d], err);
            if (!t) continue;
            const int64_t n = tokens_of(m, t);
            CHECK(close_to(n, targets[i]), "target %lld depth %d: %lld tokens", (long long)targets[i], depths[d], (long long)n);
            CHECK(*ans && occurrences(t, ans) == 1, "answer '%s' occurs %d times", ans, occurrences(t, ans));
            CHECK(!strcmp(ans, synth_needle_answer(100 + i * 3 + d, 0, targets[i], depths[d])), "synth_needle_answer differs from the prompt's");
            const double rel = rel_pos(t, ans, "\n\nQuestion: ");
            CHECK(depth_ok(rel, depths[d]), "target %lld depth %d: needle at %.3f", (long long)targets[i], depths[d], rel);
            /* the needle starts a sentence: it follows the instructions or a sentence end */
            const char *a = strstr(t, ans), *s = a;
            while (s > t && s[-1] != '.' && s[-1] != '\n') s--;
            CHECK(s > t && (s[-1] == '\n' || (s[-1] == '.' && s[0] == ' ')), "the needle is not at a sentence boundary: '%.*s'",
                  (int)(a - s + 40), s);
            const char *q = strstr(t, "\n\nQuestion: ");
            CHECK(q && strstr(q, "using the text above.") && !strchr(q + 2, '\n'), "the question is not last");
            CHECK(valid_utf8((const unsigned char *)t), "invalid UTF-8");
            free(t);
        }
    printf("  9 needle prompts of 500..50000 tokens in %.2f s\n", ei_time_s() - t0);
    int distinct = 0;
    for (int i = 0; i < 9; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= !strcmp(answers[i], answers[j]);
        distinct += !seen;
    }
    CHECK(distinct >= 3, "only %d different needles in 9 prompts", distinct);
    /* a short haystack is repeated to reach the length */
    char ans[64], err[256];
    const char *small = "A small text with few words. It has two sentences.";
    char *t = synth_needle(m, small, strlen(small), 2000, 50, 1, 0, ans, err, sizeof err);
    CHECK(t && close_to(tokens_of(m, t), 2000) && occurrences(t, "two sentences.") > 20, "short haystack: %s", t ? "" : err);
    free(t);
    free(hay);
    TEST_END(name);
}

static void test_errors(const ei_model *m) {
    const char *name = "synth: requests that cannot be met fail with a message";
    TEST_BEGIN();
    char key[16], ans[64], err[256];
    static const struct { int64_t target; int depth; const char *want; } cases[] = {
        {10, 50, "too small"}, {0, 50, "positive"}, {1000, 101, "depth"}, {1000, -1, "depth"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = 0;
        char *t = synth_passkey(m, cases[i].target, cases[i].depth, 1, 0, key, err, sizeof err);
        CHECK(!t && strstr(err, cases[i].want), "passkey %lld/%d: '%s'", (long long)cases[i].target, cases[i].depth, err);
        free(t);
        err[0] = 0;
        t = synth_needle(m, "Some text. More text.", 21, cases[i].target, cases[i].depth, 1, 0, ans, err, sizeof err);
        CHECK(!t && strstr(err, cases[i].want), "needle %lld/%d: '%s'", (long long)cases[i].target, cases[i].depth, err);
        free(t);
    }
    char *t = synth_needle(m, " \n ", 3, 1000, 50, 1, 0, ans, err, sizeof err);
    CHECK(!t && strstr(err, "no words"), "whitespace haystack: '%s'", err);
    free(t);
    t = synth_needle(m, "ab\xff\xfe cd. ef.", 12, 1000, 50, 1, 0, ans, err, sizeof err);
    CHECK(!t && strstr(err, "tokenizer"), "invalid UTF-8 haystack: '%s'", err);
    free(t);
    t = synth_needle(m, "", 0, 1000, 50, 1, 0, ans, err, sizeof err);
    CHECK(!t && strstr(err, "empty"), "empty haystack: '%s'", err);
    free(t);
    TEST_END(name);
}

static void test_smol_32k(void) {
    const char *name = "synth_passkey: 32K tokens with the SmolLM2 tokenizer";
    ei_model *m = smol_begin(name);
    if (!m) return;
    {
        char key[16], err[256];
        const double t0 = ei_time_s();
        char *t = synth_passkey(m, 32768, 75, 3, 0, key, err, sizeof err);
        const double t1 = ei_time_s();
        CHECK(t != NULL, "%s", err);
        const int64_t n = t ? tokens_of(m, t) : -1;
        printf("  32768-token target: %lld tokens, %zu bytes, in %.2f s\n", (long long)n, t ? strlen(t) : 0, t1 - t0);
        CHECK(close_to(n, 32768) && t && occurrences(t, key) == 1, "%lld tokens", (long long)n);
        /* the count-only call agrees with a real tokenization */
        int32_t *ids = malloc(sizeof *ids * 40000);
        CHECK(t && ids && ei_tokenize(m, t, strlen(t), 0, 0, ids, 40000) == n, "count-only and full tokenization differ");
        free(ids);
        CHECK(t && depth_ok(rel_pos(t, key, "What is the pass key") - 0.25, 50), "key not at 75%%");
        free(t);
    }
    ei_model_free(m);
    TEST_END(name);
}

/* Which needle each key of a cell asks for: the keys of a cell ask different questions, each run of
 * eight keys all eight once; a key whose own draw was free keeps it. The expected answers are those
 * of two cells of the needle runs (docs/eval/runs, seed 1): keys 0, 1 and 3 of 1024/0 and 0 and 4
 * of 8192/0 kept their draw, the others repeated an earlier key's needle and moved on. */
static void test_needle_draw(void) {
    const char *name = "synth_*_answer: different needles within a cell, free draws and pass keys as in the runs";
    TEST_BEGIN();
    static const char *const want_1k[] = {"periwinkle", "342", "tangerine", "Silver Heron", "saffron"};
    static const char *const want_8k[] = {"Silver Heron", "342", "tangerine", "saffron", "Marmalade"};
    for (int k = 0; k < 5; k++) {
        CHECK(!strcmp(synth_needle_answer(1, k, 1024, 0), want_1k[k]), "1024/0/%d: %s, want %s", k, synth_needle_answer(1, k, 1024, 0), want_1k[k]);
        CHECK(!strcmp(synth_needle_answer(1, k, 8192, 0), want_8k[k]), "8192/0/%d: %s, want %s", k, synth_needle_answer(1, k, 8192, 0), want_8k[k]);
    }
    int repeats = 0;
    for (uint64_t seed = 1; seed <= 20; seed++)
        for (int64_t len = 1024; len <= 131072; len *= 2)
            for (int depth = 0; depth <= 100; depth += 25)
                for (int k = 1; k < 24; k++)
                    for (int j = k - k % 8; j < k; j++) repeats += !strcmp(synth_needle_answer(seed, j, len, depth), synth_needle_answer(seed, k, len, depth));
    CHECK(repeats == 0, "%d keys repeat a needle of an earlier key in their run of eight", repeats);
    /* pass keys as in the passkey runs (docs/eval/runs), whose prompts must not change */
    static const struct { int64_t len; int depth, k; const char *key; } keys[] = {
        {1024, 0, 0, "40743"}, {65536, 50, 3, "97197"}, {131072, 0, 4, "73858"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char got[16];
        synth_passkey_answer(1, keys[i].k, keys[i].len, keys[i].depth, got);
        CHECK(!strcmp(got, keys[i].key), "pass key %lld/%d/%d: %s, want %s", (long long)keys[i].len, keys[i].depth, keys[i].k, got, keys[i].key);
    }
    TEST_END(name);
}

int main(void) {
    if (!tiny_model_present()) {
        SKIP("synth prompts", "../shared/models/stories260K is absent");
    } else {
        ei_model *m = tiny_model_load();
        if (!m) {
            printf("FAIL stories260K GGUF: %s\n", ei_last_error());
            return 1;
        }
        test_passkey(m);
        test_needle(m);
        test_errors(m);
        ei_model_free(m);
    }
    test_needle_draw();
    test_smol_32k();
    CHECK_EXIT();
}

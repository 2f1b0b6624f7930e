/* Tokenizer parity and robustness.
 *
 * Parity: tests/data/tokenizer_refs.tsv (scripts/gen_tokenizer_refs.py) holds the token ids HF
 * `tokenizers` (SmolLM2 vocab) and SentencePiece (stories260K tok512 vocab, llama.cpp whitespace
 * handling) give for wikitext-2 test, the Paul Graham essays, the 187 LongBench prompts, synthetic
 * long inputs (count + FNV-1a hash of the ids) and ~50 nasty strings (full ids). Every one must match
 * exactly. Also: decode(encode(x)) == x, streaming detokenization emits only valid UTF-8 and
 * reassembles the text, invalid UTF-8 is rejected with its byte offset, special tokens parse,
 * capacity handling, concurrent encodes.
 *
 * Needs models/SmolLM2-135M-Instruct.Q4_1.gguf and ../shared (data, stories260K); what is absent is
 * skipped with a message. Everything runs under AddressSanitizer too (~10 s). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gguf.h"
#include "llama2c.h"
#include "tokenizer.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0 /* only to label the speed figure */
#endif

#define SHARED "../shared"
#define SMOLLM_GGUF "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define STORIES_BIN SHARED "/models/stories260K/stories260K.bin"
#define TOK512_BIN SHARED "/models/stories260K/tok512.bin"
#define REFS_TSV "tests/data/tokenizer_refs.tsv"
#define LONGBENCH SHARED "/data/longbench/longbench_mini_en.jsonl"

typedef struct { char *p; size_t n; } buf_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------- helpers */

static int read_file(const char *path, buf_t *b)
{
    b->p = NULL;
    b->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16;
    char *p = malloc(cap);
    size_t n = 0, got;
    while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *q = realloc(p, cap * 2);
            if (!q) { free(p); p = NULL; break; }
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    if (!p) return -1;
    b->p = p;
    b->n = n;
    return 0;
}

/* Appends n bytes (n may be 0: b->p is allocated after any call that succeeds). */
static int buf_put(buf_t *b, size_t *cap, const void *src, size_t n)
{
    if (b->n + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) return -1;
        b->p = q;
        *cap = c;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

static uint64_t fnv1a_ids(const int32_t *ids, int64_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int k = 0; k < 4; k++) h = (h ^ ((v >> (8 * k)) & 0xFF)) * 0x100000001b3ull;
    }
    return h;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Undoes the TSV escapes \\ \t \n \r \xHH. */
static int unescape(const char *s, size_t n, buf_t *out)
{
    size_t cap = 0;
    out->p = NULL;
    out->n = 0;
    if (buf_put(out, &cap, "", 0) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            if (e == 't') c = '\t';
            else if (e == 'n') c = '\n';
            else if (e == 'r') c = '\r';
            else if (e == 'x' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                i += 2;
            } else c = e;
        }
        if (buf_put(out, &cap, &c, 1) != 0) return -1;
    }
    if (!out->p) out->p = calloc(1, 1);
    return out->p ? 0 : -1;
}

static int put_utf8(buf_t *b, size_t *cap, uint32_t cp)
{
    char o[4];
    int n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return buf_put(b, cap, o, (size_t)n);
}

static int hex4(const char *s, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0) return -1;
        *v = *v * 16 + (uint32_t)h;
    }
    return 0;
}

/* Decodes the JSON string value of key "prompt" in one JSON object line. */
static int json_prompt(const char *line, size_t n, buf_t *out)
{
    static const char key[] = "\"prompt\": \"";
    const char *k = NULL;
    for (size_t i = 0; i + sizeof key - 1 <= n; i++)
        if (memcmp(line + i, key, sizeof key - 1) == 0) { k = line + i; break; }
    if (!k) return -1;
    size_t i = (size_t)(k - line) + sizeof key - 1, cap = 0;
    out->p = NULL;
    out->n = 0;
    while (i < n && line[i] != '"') {
        char c = line[i++];
        if (c != '\\') { if (buf_put(out, &cap, &c, 1)) return -1; continue; }
        if (i >= n) return -1;
        char e = line[i++];
        uint32_t cp;
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
            if (i + 4 > n || hex4(line + i, &cp)) return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* surrogate pair */
                uint32_t lo;
                if (i + 6 > n || line[i] != '\\' || line[i + 1] != 'u' || hex4(line + i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) return -1;
            if (put_utf8(out, &cap, cp)) return -1;
            continue;
        default: c = e; break; /* \" \\ \/ */
        }
        if (buf_put(out, &cap, &c, 1)) return -1;
    }
    return 0;
}

/* Every prompt of the LongBench file, by line; NULL when absent. */
typedef struct { buf_t *prompt; int n; } longbench;

static int load_longbench(longbench *lb)
{
    buf_t f;
    lb->prompt = NULL;
    lb->n = 0;
    if (read_file(LONGBENCH, &f) != 0) return -1;
    int lines = 0;
    for (size_t i = 0; i < f.n; i++) lines += f.p[i] == '\n';
    lb->prompt = calloc((size_t)lines + 1, sizeof *lb->prompt);
    size_t start = 0;
    for (size_t i = 0; lb->prompt && i < f.n; i++) {
        if (f.p[i] != '\n') continue;
        if (json_prompt(f.p + start, i - start, &lb->prompt[lb->n]) != 0) break;
        lb->n++;
        start = i + 1;
    }
    free(f.p);
    return lb->n == lines ? 0 : -1;
}

static void free_longbench(longbench *lb)
{
    for (int i = 0; i < lb->n; i++) free(lb->prompt[i].p);
    free(lb->prompt);
}

/* Offset of the first byte not starting a valid UTF-8 sequence, n when all is valid: a strict
 * decoder written independently of the tokenizer's. */
static size_t first_invalid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return n;
}

static int valid_utf8(const unsigned char *s, size_t n) { return first_invalid_utf8(s, n) == n; }

/* -------------------------------------------------------------------------- reference rows */

typedef struct {
    int big;            /* 1: count + hash row; 0: full ids */
    char vocab[16];
    char name[256];     /* source (big) or string name */
    int parse_special;
    int64_t count;      /* big */
    uint64_t hash;      /* big */
    buf_t text;         /* str: the unescaped text */
    int32_t *ids;       /* str */
    int64_t nids;
} ref_row;

typedef struct { ref_row *row; int n; } refs_t;

/* Splits line into at most max tab-separated fields (in place). */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') { *p = '\0'; f[n++] = p + 1; }
    return n;
}

static int parse_ids(const char *s, ref_row *r)
{
    int64_t n = *s ? 1 : 0;
    for (const char *p = s; *p; p++) n += *p == ',';
    r->ids = malloc((size_t)(n ? n : 1) * sizeof *r->ids);
    if (!r->ids) return -1;
    r->nids = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) return -1;
        r->ids[r->nids++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static int load_refs(refs_t *refs)
{
    buf_t f;
    refs->row = NULL;
    refs->n = 0;
    if (read_file(REFS_TSV, &f) != 0) return -1;
    int lines = 1;
    for (size_t i = 0; i < f.n; i++) lines += f.p[i] == '\n';
    refs->row = calloc((size_t)lines, sizeof *refs->row);
    char *p = malloc(f.n + 1); /* a NUL-terminated copy to cut into fields */
    if (p) memcpy(p, f.p, f.n);
    free(f.p);
    if (!refs->row || !p) { free(p); return -1; }
    p[f.n] = '\0';
    int rc = 0;
    for (char *line = p; line && *line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *fld[6];
        if (line[0] != '#' && line[0] != '\0') {
            int nf = split_tabs(line, fld, 6);
            ref_row *r = &refs->row[refs->n];
            if (nf != 6) { rc = -1; break; }
            r->big = strcmp(fld[0], "big") == 0;
            snprintf(r->vocab, sizeof r->vocab, "%s", fld[1]);
            snprintf(r->name, sizeof r->name, "%s", fld[2]);
            r->parse_special = atoi(fld[3]);
            if (r->big) {
                r->count = strtoll(fld[4], NULL, 10);
                r->hash = strtoull(fld[5], NULL, 16);
            } else if (unescape(fld[4], strlen(fld[4]), &r->text) || parse_ids(fld[5], r)) {
                rc = -1;
            }
            refs->n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(p);
    return rc;
}

static void free_refs(refs_t *refs)
{
    for (int i = 0; i < refs->n; i++) {
        free(refs->row[i].text.p);
        free(refs->row[i].ids);
    }
    free(refs->row);
}

/* Text of a big source; 1 = got it, 0 = data absent (skip), -1 = error. */
static int source_text(const char *src, const longbench *lb, buf_t *out, int *owned)
{
    char path[512];
    *owned = 1;
    if (strcmp(src, "wiki") == 0) return read_file(SHARED "/data/wikitext-2/wiki.test.raw", out) == 0;
    if (strncmp(src, "pg:", 3) == 0) {
        snprintf(path, sizeof path, SHARED "/data/pg_essays/%s", src + 3);
        return read_file(path, out) == 0;
    }
    if (strncmp(src, "lb:", 3) == 0) {
        int i = atoi(src + 3);
        if (!lb->prompt || i < 0 || i >= lb->n) return 0;
        *out = lb->prompt[i];
        *owned = 0;
        return 1;
    }
    if (strncmp(src, "rep:", 4) == 0) {
        char *colon;
        long count = strtol(src + 4, &colon, 10);
        buf_t unit;
        if (*colon != ':' || unescape(colon + 1, strlen(colon + 1), &unit)) return -1;
        size_t cap = 0;
        out->p = NULL;
        out->n = 0;
        for (long i = 0; i < count; i++)
            if (buf_put(out, &cap, unit.p, unit.n)) { free(unit.p); return -1; }
        free(unit.p);
        return 1;
    }
    return -1;
}

/* ---------------------------------------------------------------------------- the checks */

typedef struct {
    const char *name;       /* "smollm" / "tok512" */
    ei_tokenizer *tok;
    int llama;
} vocab_t;

/* Encodes with a right-sized buffer; *n = -1 on error. */
static int32_t *encode(const ei_tokenizer *t, const char *s, size_t len, int ps, int64_t *n)
{
    char err[256];
    *n = ei_tokenizer_encode(t, s, len, 0, ps, NULL, 0, err, sizeof err);
    if (*n < 0) return NULL;
    int32_t *ids = malloc((size_t)(*n ? *n : 1) * sizeof *ids);
    if (!ids) { *n = -1; return NULL; }
    int64_t m = ei_tokenizer_encode(t, s, len, 0, ps, ids, *n, err, sizeof err);
    if (m != *n) { free(ids); *n = -1; return NULL; }
    return ids;
}

static double g_wiki_mbps[2];

static void test_parity(const vocab_t *v, const refs_t *refs, const longbench *lb, int vi)
{
    char name[128];
    /* big texts: count + hash */
    TEST_BEGIN();
    int done = 0, absent = 0;
    int64_t total_ids = 0;
    double total_s = 0;
    for (int i = 0; i < refs->n; i++) {
        const ref_row *r = &refs->row[i];
        if (!r->big || strcmp(r->vocab, v->name) != 0) continue;
        buf_t text;
        int owned;
        int got = source_text(r->name, lb, &text, &owned);
        if (got == 0) { absent++; continue; }
        CHECK(got == 1, "%s: cannot build the text of %s", v->name, r->name);
        if (got != 1) continue;
        int64_t n;
        double t0 = now_s();
        int32_t *ids = encode(v->tok, text.p, text.n, r->parse_special, &n);
        double dt = now_s() - t0;
        if (strcmp(r->name, "wiki") == 0 && dt > 0) g_wiki_mbps[vi] = (double)text.n / dt / 1e6;
        total_s += dt;
        uint64_t h = ids ? fnv1a_ids(ids, n) : 0;
        CHECK(n == r->count && h == r->hash, "%s %s: %lld ids hash %016llx, reference %lld ids hash %016llx",
              v->name, r->name, (long long)n, (unsigned long long)h, (long long)r->count,
              (unsigned long long)r->hash);
        total_ids += n > 0 ? n : 0;
        done++;
        free(ids);
        if (owned) free(text.p);
    }
    snprintf(name, sizeof name, "tokenizer %s parity: %d texts, %lld ids identical (%.2f s)", v->name,
             done, (long long)total_ids, total_s);
    TEST_END(name);
    if (absent)
        SKIP("tokenizer parity texts", "%s: %d texts absent (../shared/data missing?)", v->name, absent);

    /* nasty strings: full ids */
    TEST_BEGIN();
    int nstr = 0;
    int64_t nids = 0;
    for (int i = 0; i < refs->n; i++) {
        const ref_row *r = &refs->row[i];
        if (r->big || strcmp(r->vocab, v->name) != 0) continue;
        int64_t n;
        int32_t *ids = encode(v->tok, r->text.p, r->text.n, r->parse_special, &n);
        int same = ids && n == r->nids && (n == 0 || memcmp(ids, r->ids, (size_t)n * 4) == 0);
        if (!same) {
            int64_t k = 0;
            while (ids && k < n && k < r->nids && ids[k] == r->ids[k]) k++;
            CHECK(same, "%s string '%s' (parse_special %d): %lld ids vs reference %lld, first "
                  "difference at %lld: %d vs %d", v->name, r->name, r->parse_special, (long long)n,
                  (long long)r->nids, (long long)k, (ids && k < n) ? ids[k] : -1,
                  k < r->nids ? r->ids[k] : -1);
        }
        nstr++;
        nids += r->nids;
        free(ids);
    }
    CHECK(nstr >= 40, "%s: only %d reference strings", v->name, nstr);
    snprintf(name, sizeof name, "tokenizer %s parity: %d strings, %lld ids identical", v->name, nstr,
             (long long)nids);
    TEST_END(name);
}

/* Streams ids through ei_detok, checking that every chunk is valid UTF-8; returns the text. */
static int detok_all(const ei_tokenizer *t, const int32_t *ids, int64_t n, int render_special,
                     buf_t *out, int *chunks_valid)
{
    ei_detok d;
    ei_detok_init(&d, t, render_special);
    size_t cap = 0;
    char chunk[1024];
    int maxo = ei_detok_max_out(t);
    if (maxo > (int)sizeof chunk) return -1;
    out->p = NULL;
    out->n = 0;
    *chunks_valid = 1;
    if (buf_put(out, &cap, "", 0)) return -1;
    for (int64_t i = 0; i < n; i++) {
        int w = ei_detok_push(&d, ids[i], chunk, maxo);
        if (w < 0) return -1;
        if (!valid_utf8((const unsigned char *)chunk, (size_t)w)) *chunks_valid = 0;
        if (buf_put(out, &cap, chunk, (size_t)w)) return -1;
    }
    int w = ei_detok_flush(&d, chunk, maxo);
    if (w < 0) return -1;
    if (!valid_utf8((const unsigned char *)chunk, (size_t)w)) *chunks_valid = 0;
    return buf_put(out, &cap, chunk, (size_t)w);
}

static int contains(const buf_t *b, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= b->n; i++)
        if (memcmp(b->p + i, needle, k) == 0) return 1;
    return 0;
}

static void test_roundtrip(const vocab_t *v, const refs_t *refs)
{
    char name[128];
    TEST_BEGIN();
    int n_checked = 0;
    for (int i = 0; i < refs->n; i++) {
        const ref_row *r = &refs->row[i];
        if (r->big || strcmp(r->vocab, v->name) != 0) continue;
        /* gpt2: specials parsed and rendered back. SentencePiece: U+2581 in the input decodes to
         * ' ' by design, and a special token gets a space after it, so use plain text there. */
        int ps = v->llama ? 0 : 1;
        if (r->parse_special != 1) continue;
        if (v->llama && contains(&r->text, "\xE2\x96\x81")) continue;
        int64_t n;
        int32_t *ids = encode(v->tok, r->text.p, r->text.n, ps, &n);
        buf_t back = {0};
        int valid = 0;
        int rc = ids ? detok_all(v->tok, ids, n, 1, &back, &valid) : -1;
        CHECK(rc == 0 && valid && back.n == r->text.n && memcmp(back.p, r->text.p, back.n) == 0,
              "%s '%s': decode(encode(x)) != x (%zu vs %zu bytes, chunks valid %d)", v->name,
              r->name, back.n, r->text.n, valid);
        /* the same through ei_tokenizer_piece: raw bytes concatenate to the text */
        size_t cap = 0;
        buf_t raw = {0};
        buf_put(&raw, &cap, "", 0);
        for (int64_t k = 0; ids && k < n; k++) {
            char piece[512];
            int len = ei_tokenizer_piece(v->tok, ids[k], 1, piece, (int)sizeof piece);
            CHECK(len >= 0 && len <= (int)sizeof piece, "piece of %d: %d", ids[k], len);
            if (len > 0 && len <= (int)sizeof piece) buf_put(&raw, &cap, piece, (size_t)len);
        }
        size_t drop = (v->llama && raw.n > 0 && raw.p[0] == ' ') ? 1 : 0;
        CHECK(raw.n - drop == r->text.n && memcmp(raw.p + drop, r->text.p, r->text.n) == 0,
              "%s '%s': concatenated pieces differ from the text", v->name, r->name);
        free(raw.p);
        free(back.p);
        free(ids);
        n_checked++;
    }
    snprintf(name, sizeof name, "tokenizer %s round trip: %d strings", v->name, n_checked);
    TEST_END(name);
}

static void test_stream(const vocab_t *v, const refs_t *refs, const longbench *lb)
{
    char name[128];
    TEST_BEGIN();
    /* a long real text reassembles exactly through the streaming detokenizer */
    int ntext = 0;
    const char *srcs[] = {"wiki", "pg:gap.txt", "lb:5"};
    for (int s = 0; s < 3; s++) {
        buf_t text;
        int owned;
        if (source_text(srcs[s], lb, &text, &owned) != 1) continue;
        int64_t n;
        int32_t *ids = encode(v->tok, text.p, text.n, v->llama ? 0 : 1, &n);
        buf_t back = {0};
        int valid = 0;
        int rc = ids ? detok_all(v->tok, ids, n, 1, &back, &valid) : -1;
        CHECK(rc == 0 && valid && back.n == text.n && memcmp(back.p, text.p, text.n) == 0,
              "%s %s: streamed text differs (%zu vs %zu bytes)", v->name, srcs[s], back.n, text.n);
        free(back.p);
        free(ids);
        if (owned) free(text.p);
        ntext++;
    }
    /* random token sequences (byte tokens split characters arbitrarily): chunks stay valid UTF-8 */
    int nv = ei_tokenizer_vocab_size(v->tok);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int trial = 0; trial < 200; trial++) {
        int32_t ids[64];
        for (int k = 0; k < 64; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            ids[k] = (int32_t)((rng >> 33) % (uint64_t)nv);
        }
        buf_t out = {0};
        int valid = 0;
        int rc = detok_all(v->tok, ids, 64, trial & 1, &out, &valid);
        CHECK(rc == 0 && valid && valid_utf8((const unsigned char *)out.p, out.n),
              "%s random ids: invalid UTF-8 emitted (trial %d)", v->name, trial);
        free(out.p);
    }
    /* a character split across tokens is held back, then emitted whole */
    ei_detok d;
    char out[256];
    ei_detok_init(&d, v->tok, 0);
    int32_t ids_e9[4];
    int64_t ne;
    const char *snow = "\xE2\x98\x83"; /* U+2603, split into byte pieces below when possible */
    int32_t *enc = encode(v->tok, snow, 3, 0, &ne);
    CHECK(enc && ne >= 1, "%s: cannot encode U+2603", v->name);
    free(enc);
    /* find a token for each single byte */
    int have = 1;
    for (int k = 0; k < 3; k++) {
        ids_e9[k] = -1;
        for (int32_t id = 0; id < nv && ids_e9[k] < 0; id++) {
            char p[8];
            if (ei_tokenizer_piece(v->tok, id, 0, p, 8) == 1 && p[0] == snow[k]) ids_e9[k] = id;
        }
        if (ids_e9[k] < 0) have = 0;
    }
    if (have) {
        int a = ei_detok_push(&d, ids_e9[0], out, 256);
        int b = ei_detok_push(&d, ids_e9[1], out, 256);
        int c = ei_detok_push(&d, ids_e9[2], out, 256);
        CHECK(a == 0 && b == 0 && c == 3 && memcmp(out, snow, 3) == 0, "%s: held %d %d %d", v->name,
              a, b, c);
        /* incomplete at the end: flushed as one U+FFFD */
        ei_detok_push(&d, ids_e9[0], out, 256);
        CHECK(ei_detok_flush(&d, out, 256) == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0, "%s: flush",
              v->name);
        CHECK(ei_detok_flush(&d, out, 256) == 0, "%s: second flush", v->name);
        /* a lead byte followed by a non-continuation: U+FFFD then the new byte's text */
        ei_detok_push(&d, ids_e9[0], out, 256);
        int32_t space = -1;
        for (int32_t id = 0; id < nv && space < 0; id++) {
            char p[8];
            if (ei_tokenizer_piece(v->tok, id, 0, p, 8) == 1 && p[0] == 'a') space = id;
        }
        int w = ei_detok_push(&d, space, out, 256);
        CHECK(w == 4 && memcmp(out, "\xEF\xBF\xBD" "a", 4) == 0, "%s: broken sequence -> %d bytes",
              v->name, w);
        /* too small a buffer fails without consuming anything */
        ei_detok_init(&d, v->tok, 0);
        CHECK(ei_detok_push(&d, space, out, 0) == -1 && ei_detok_push(&d, space, out, 1) == 1,
              "%s: capacity", v->name);
    }
    CHECK(ei_detok_push(&d, -1, out, 256) == -1 && ei_detok_push(&d, nv, out, 256) == -1,
          "%s: bad ids accepted", v->name);
    snprintf(name, sizeof name, "tokenizer %s streaming detokenization (%d texts, 200 random)",
             v->name, ntext);
    TEST_END(name);
    (void)refs;
}

static void test_invalid(const vocab_t *v)
{
    static const struct { const char *s; size_t n; long off; } cases[] = {
        {"\x80", 1, 0},
        {"abc\xff", 4, 3},
        {"\xc0\xaf", 2, 0},
        {"\xc1\xbf", 2, 0},
        {"a\xe0\x80\xaf", 4, 1},
        {"\xed\xa0\x80", 3, 0},          /* U+D800, a lone surrogate */
        {"xy\xed\xbf\xbf", 5, 2},        /* U+DFFF */
        {"\xed\xa0\xbd\xed\xb8\x80", 6, 0}, /* CESU-8 surrogate pair */
        {"\xf4\x90\x80\x80", 4, 0},      /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xf8\x88\x80\x80\x80", 5, 0},
        {"ab\xe2\x82", 4, 2},            /* truncated at the end */
        {"\xc3", 1, 0},
        {"a\xc3(", 3, 1},
        {"ok \xf0\x9f\x98", 6, 3},
        {"\xef\xbf\xbd\x80", 4, 3},
        {"\x00\x00\xfe", 3, 2},
        {"<|im_end|>\xff", 11, 10},
    };
    TEST_BEGIN();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        int32_t ids[64];
        for (int ps = 0; ps < 2; ps++) {
            int64_t n = ei_tokenizer_encode(v->tok, cases[i].s, cases[i].n, 1, ps, ids, 64, err,
                                            sizeof err);
            char want[64];
            snprintf(want, sizeof want, "offset %ld ", cases[i].off);
            CHECK(n == -1 && strstr(err, want), "%s invalid case %zu: returned %lld, err '%s'",
                  v->name, i, (long long)n, err);
        }
    }
    static const char *valid[] = {"\xf4\x8f\xbf\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\x7f",
                                  "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char err[256];
        int32_t ids[16];
        int64_t n = ei_tokenizer_encode(v->tok, valid[i], strlen(valid[i]), 0, 1, ids, 16, err,
                                        sizeof err);
        CHECK(n >= 1, "%s valid case %zu rejected: %s", v->name, i, err);
    }
    /* NULs inside the length are text; empty input gives only BOS when asked */
    char err[256];
    int32_t ids[16];
    CHECK(ei_tokenizer_encode(v->tok, "\0\0\0", 3, 0, 1, ids, 16, err, sizeof err) >= 1, "NULs");
    CHECK(ei_tokenizer_encode(v->tok, "", 0, 0, 1, ids, 16, err, sizeof err) == 0, "empty");
    CHECK(ei_tokenizer_encode(v->tok, NULL, 0, 0, 1, NULL, 0, err, sizeof err) == 0, "NULL empty");
    int64_t nb = ei_tokenizer_encode(v->tok, "", 0, 1, 1, ids, 16, err, sizeof err);
    int32_t bos = ei_tokenizer_bos(v->tok);
    CHECK(bos >= 0 ? (nb == 1 && ids[0] == bos) : nb == 0, "%s: empty with BOS gave %lld", v->name,
          (long long)nb);
    char name[96];
    snprintf(name, sizeof name, "tokenizer %s rejects invalid UTF-8 with its offset", v->name);
    TEST_END(name);
}

static void test_specials_smollm(const vocab_t *v)
{
    const ei_tokenizer *t = v->tok;
    TEST_BEGIN();
    CHECK(ei_tokenizer_vocab_size(t) == 49152, "vocab %d", ei_tokenizer_vocab_size(t));
    CHECK(ei_tokenizer_bos(t) == 1 && ei_tokenizer_eos(t) == 2 && ei_tokenizer_add_bos(t) == 0,
          "bos %d eos %d add_bos %d", ei_tokenizer_bos(t), ei_tokenizer_eos(t), ei_tokenizer_add_bos(t));
    CHECK(ei_tokenizer_find(t, "<|im_start|>") == 1 && ei_tokenizer_find(t, "<|im_end|>") == 2 &&
          ei_tokenizer_find(t, "<|endoftext|>") == 0 && ei_tokenizer_find(t, "<no such token>") == -1,
          "find");
    CHECK(ei_tokenizer_is_control(t, 0) && ei_tokenizer_is_control(t, 2) &&
          ei_tokenizer_is_control(t, 16) && !ei_tokenizer_is_control(t, 17) &&
          !ei_tokenizer_is_control(t, -1) && !ei_tokenizer_is_control(t, 49152), "is_control");
    int32_t ids[32];
    char err[256], buf[64];
    int64_t n = ei_tokenizer_encode(t, "<|im_start|>", 12, 0, 1, ids, 32, err, sizeof err);
    CHECK(n == 1 && ids[0] == 1, "special parsed: %lld", (long long)n);
    n = ei_tokenizer_encode(t, "<|im_start|>", 12, 0, 0, ids, 32, err, sizeof err);
    CHECK(n > 1, "special not parsed: %lld", (long long)n);
    for (int64_t k = 0; k < n && k < 32; k++) CHECK(ids[k] != 1, "special id without parse_special");
    n = ei_tokenizer_encode(t, "<|im_start|>", 12, 1, 1, ids, 32, err, sizeof err);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 1, "add_bos prepends BOS: %lld", (long long)n);
    CHECK(ei_tokenizer_piece(t, 2, 0, buf, 64) == 0, "control piece hidden");
    CHECK(ei_tokenizer_piece(t, 2, 1, buf, 64) == 10 && memcmp(buf, "<|im_end|>", 10) == 0,
          "control piece rendered");
    CHECK(ei_tokenizer_piece(t, 2, 1, buf, 3) == 10 && memcmp(buf, "<|i", 3) == 0, "piece cap");
    CHECK(ei_tokenizer_piece(t, -1, 1, buf, 64) == -1 && ei_tokenizer_piece(t, 49152, 1, buf, 64) == -1,
          "bad id");
    /* "Ġthe" decodes to " the" */
    int32_t the = ei_tokenizer_find(t, "\xC4\xA0the");
    CHECK(the > 0 && ei_tokenizer_piece(t, the, 0, buf, 64) == 4 && memcmp(buf, " the", 4) == 0,
          "byte-level piece");
    CHECK(ei_detok_max_out(t) <= 256, "max detok output %d", ei_detok_max_out(t));
    printf("  smollm detok max output %d bytes\n", ei_detok_max_out(t));
    TEST_END("tokenizer smollm special tokens and metadata");
}

static void test_specials_tok512(const vocab_t *v)
{
    const ei_tokenizer *t = v->tok;
    TEST_BEGIN();
    CHECK(ei_tokenizer_vocab_size(t) == 512, "vocab %d", ei_tokenizer_vocab_size(t));
    CHECK(ei_tokenizer_bos(t) == 1 && ei_tokenizer_eos(t) == 2 && ei_tokenizer_add_bos(t) == 1,
          "bos/eos/add_bos");
    CHECK(ei_tokenizer_find(t, "<s>") == 1 && ei_tokenizer_find(t, "</s>") == 2, "find");
    int32_t ids[64];
    char err[256], buf[64];
    int64_t n = ei_tokenizer_encode(t, "Hello", 5, 1, 0, ids, 64, err, sizeof err);
    CHECK(n >= 2 && ids[0] == 1, "BOS first");
    n = ei_tokenizer_encode(t, "a</s>b", 6, 0, 1, ids, 64, err, sizeof err);
    CHECK(n == 3 && ids[1] == 2, "special in text: %lld", (long long)n);
    CHECK(ei_tokenizer_piece(t, 3 + 'A', 0, buf, 64) == 1 && buf[0] == 'A', "byte token <0x41>");
    int32_t the = ei_tokenizer_find(t, "\xE2\x96\x81the");
    CHECK(the > 0 && ei_tokenizer_piece(t, the, 0, buf, 64) == 4 && memcmp(buf, " the", 4) == 0,
          "U+2581 decodes to a space");
    /* the space the prefix added is dropped by the streaming decoder, only at the start */
    n = ei_tokenizer_encode(t, "the the", 7, 1, 0, ids, 64, err, sizeof err);
    buf_t back = {0};
    int valid;
    CHECK(detok_all(t, ids, n, 0, &back, &valid) == 0 && back.n == 7 && memcmp(back.p, "the the", 7) == 0,
          "leading space dropped");
    free(back.p);
    CHECK(ei_detok_max_out(t) <= 256, "max detok output %d", ei_detok_max_out(t));
    printf("  tok512 detok max output %d bytes\n", ei_detok_max_out(t));
    TEST_END("tokenizer tok512 special tokens and metadata");
}

static void test_capacity(const vocab_t *v)
{
    TEST_BEGIN();
    const char *s = "The quick brown fox jumps over the lazy dog 12345 times.";
    char err[256];
    int64_t n_full;
    int32_t *full = encode(v->tok, s, strlen(s), 1, &n_full);
    int32_t few[5] = {-7, -7, -7, -7, -7};
    int64_t n = ei_tokenizer_encode(v->tok, s, strlen(s), 0, 1, few, 4, err, sizeof err);
    CHECK(full && n == n_full && n > 4 && memcmp(few, full, 16) == 0 && few[4] == -7,
          "%s: cap 4 gave %lld of %lld", v->name, (long long)n, (long long)n_full);
    free(full);
    TEST_END(v->llama ? "tokenizer tok512 output capacity" : "tokenizer smollm output capacity");
}

/* Random byte strings built from valid and broken pieces: encoding never crashes, rejects exactly
 * the invalid ones at their first bad byte, and round-trips the valid ones. */
static void test_fuzz(const vocab_t *v)
{
    static const char *parts[] = {"a", "Zz", " ", "  ", "\t", "\n", "\r\n", "7", "12", "'s", "'",
                                  "!?", "\xC2\xA0", "\xE3\x80\x80", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
                                  "e\xCC\x81", "<|im_end|>", "<|im", "<s>", "</s>", "\xE2\x96\x81", "\x00",
                                  /* broken: */ "\x80", "\xFF", "\xC3", "\xE2\x82", "\xED\xA0\x80",
                                  "\xF4\x90\x80\x80", "\xC0\xAF", "\xF0\x9F\x98"};
    const int nparts = (int)(sizeof parts / sizeof parts[0]);
    uint64_t rng = 0x243F6A8885A308D3ull;
    int n_valid = 0, n_invalid = 0;
    TEST_BEGIN();
    for (int trial = 0; trial < 3000; trial++) {
        char text[512];
        size_t len = 0;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((rng >> 40) % 24);
        int allow_broken = (trial % 3) == 0;
        for (int j = 0; j < k; j++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int pi = (int)((rng >> 33) % (uint64_t)(allow_broken ? nparts : 23));
            size_t pl = (pi == 22) ? 1 : strlen(parts[pi]); /* "\x00" is one NUL byte */
            memcpy(text + len, parts[pi], pl);
            len += pl;
        }
        size_t bad = first_invalid_utf8((const unsigned char *)text, len);
        char err[256] = "";
        int ps = (int)(trial & 1);
        int64_t n;
        int32_t *ids = encode(v->tok, text, len, ps, &n);
        if (bad < len) {
            char want[64];
            int64_t r = ei_tokenizer_encode(v->tok, text, len, 0, ps, NULL, 0, err, sizeof err);
            snprintf(want, sizeof want, "offset %zu ", bad);
            CHECK(r == -1 && ids == NULL && strstr(err, want), "%s fuzz %d: invalid at %zu but got %lld (%s)",
                  v->name, trial, bad, (long long)r, err);
            n_invalid++;
        } else {
            CHECK(ids != NULL, "%s fuzz %d: valid text rejected", v->name, trial);
            buf_t back = {0};
            int valid = 0;
            /* gpt2: specials round-trip when parsed and rendered; SentencePiece: plain text only, and
             * U+2581 decodes to a space by design */
            int exact = !v->llama || (!ps && !memmem(text, len, "\xE2\x96\x81", 3));
            int rc = ids ? detok_all(v->tok, ids, n, 1, &back, &valid) : -1;
            CHECK(rc == 0 && valid, "%s fuzz %d: detokenization failed", v->name, trial);
            if (exact)
                CHECK(back.n == len && memcmp(back.p, text, len) == 0, "%s fuzz %d: round trip differs",
                      v->name, trial);
            free(back.p);
            n_valid++;
        }
        free(ids);
    }
    char name[128];
    snprintf(name, sizeof name, "tokenizer %s fuzz: %d valid strings round-trip, %d invalid rejected",
             v->name, n_valid, n_invalid);
    TEST_END(name);
}

typedef struct {
    const ei_tokenizer *tok;
    const buf_t *text;
    int32_t *ids;
    int64_t n;
} job_t;

static void *encode_job(void *arg)
{
    job_t *j = arg;
    j->ids = encode(j->tok, j->text->p, j->text->n, 1, &j->n);
    return NULL;
}

static void test_threads(const vocab_t *v)
{
    static const char *files[4] = {"pg:gap.txt", "pg:popular.txt", "pg:love.txt", "pg:avg.txt"};
    buf_t text[4];
    longbench none = {0};
    int owned;
    for (int i = 0; i < 4; i++) {
        if (source_text(files[i], &none, &text[i], &owned) != 1) {
            for (int k = 0; k < i; k++) free(text[k].p);
            SKIP("tokenizer concurrent encodes", "../shared/data/pg_essays absent");
            return;
        }
    }
    TEST_BEGIN();
    job_t jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t){v->tok, &text[i], NULL, 0};
        pthread_create(&th[i], NULL, encode_job, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        int64_t n;
        int32_t *ids = encode(v->tok, text[i].p, text[i].n, 1, &n);
        CHECK(ids && jobs[i].ids && n == jobs[i].n && memcmp(ids, jobs[i].ids, (size_t)n * 4) == 0,
              "%s: concurrent encode of %s differs", v->name, files[i]);
        free(ids);
        free(jobs[i].ids);
        free(text[i].p);
    }
    TEST_END(v->llama ? "tokenizer tok512 concurrent encodes" : "tokenizer smollm concurrent encodes");
}

/* ------------------------------------------------------------------ synthetic vocabularies */

/* Writes a GGUF holding only tokenizer metadata. kind: "llama" / "gpt2" / anything (error cases). */
typedef struct {
    const char *model, *pre;
    const char *const *tokens;
    const int32_t *types;
    const float *scores;
    int n;
    const char *const *merges;
    int n_merges;
    int add_space_prefix; /* -1: key absent */
} synth_vocab;

static ei_tokenizer *load_synth(const synth_vocab *sv, char *err, size_t errlen)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/ei_test_tok_synth_%d.gguf", (int)getpid());
    gguf_writer *w = gguf_writer_new();
    if (!w) return NULL;
    int rc = 0;
    if (sv->model) rc |= gguf_w_str(w, "tokenizer.ggml.model", sv->model);
    if (sv->pre) rc |= gguf_w_str(w, "tokenizer.ggml.pre", sv->pre);
    if (sv->tokens) rc |= gguf_w_arr_str(w, "tokenizer.ggml.tokens", sv->tokens, (uint64_t)sv->n);
    if (sv->types) rc |= gguf_w_arr_i32(w, "tokenizer.ggml.token_type", sv->types, (uint64_t)sv->n);
    if (sv->scores) rc |= gguf_w_arr_f32(w, "tokenizer.ggml.scores", sv->scores, (uint64_t)sv->n);
    if (sv->merges) rc |= gguf_w_arr_str(w, "tokenizer.ggml.merges", sv->merges, (uint64_t)sv->n_merges);
    if (sv->add_space_prefix >= 0) rc |= gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", sv->add_space_prefix);
    rc |= gguf_writer_save(w, path, err, errlen);
    gguf_writer_free(w);
    gguf_file *f = rc == 0 ? gguf_open(path, err, errlen) : NULL;
    unlink(path);
    if (!f) return NULL;
    ei_tokenizer *t = ei_tokenizer_load(f, err, errlen);
    gguf_close(f);
    return t;
}

static int ids_are(const ei_tokenizer *t, const char *text, int ps, const int32_t *want, int nwant)
{
    int32_t ids[64];
    char err[256];
    int64_t n = ei_tokenizer_encode(t, text, strlen(text), 0, ps, ids, 64, err, sizeof err);
    if (n != nwant) {
        printf("  '%s': %lld ids, want %d\n", text, (long long)n, nwant);
        return 0;
    }
    for (int i = 0; i < nwant; i++)
        if (ids[i] != want[i]) {
            printf("  '%s': id %d is %d, want %d\n", text, i, ids[i], want[i]);
            return 0;
        }
    return 1;
}

/* What the real vocabs do not exercise: user-defined tokens (always split out), no space prefix,
 * <unk> without byte tokens, merges into control tokens refused, bad metadata refused. */
static void test_synthetic(void)
{
    enum { N = 13 };
    static const char *tokens[N] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab",
                                    "\xE2\x96\x81\x61\x62" /* "▁ab" */, "<tag>", "c", "bc", "<tag>x", "<tag>c"};
    static const int32_t types[N] = {2, 3, 3, 1, 1, 1, 1, 1, 4, 1, 3, 4, 3};
    static const float scores[N] = {0, 0, 0, -5, -5, -5, -1, -2, 0, -5, 0, 0, 0};
    char err[256];
    TEST_BEGIN();
    synth_vocab sv = {"llama", NULL, tokens, types, scores, N, NULL, 0, 1};
    ei_tokenizer *t = load_synth(&sv, err, sizeof err);
    CHECK(t, "synthetic llama vocab: %s", err);
    if (t) {
        CHECK(ids_are(t, "ab ab", 0, (const int32_t[]){7, 7}, 2), "merges by score");
        /* x has no token and there are no byte tokens: <unk>; <tag> (user-defined) splits even
         * without parse_special, and the text after it gets the space prefix again */
        CHECK(ids_are(t, "x<tag>ab", 0, (const int32_t[]){3, 0, 8, 7}, 4), "user-defined token");
        /* "bc" is a control token: never a merge result, so b and c stay apart */
        CHECK(ids_are(t, "bc", 0, (const int32_t[]){3, 5, 9}, 3), "no merge into control tokens");
        CHECK(ids_are(t, "bc", 1, (const int32_t[]){10}, 1), "control token parsed");
        /* the longest special that may match wins: <tag>x (user) over <tag>; <tag>c (control) only
         * with parse_special, else <tag> and then c */
        CHECK(ids_are(t, "<tag>xab", 0, (const int32_t[]){11, 7}, 2), "longest user-defined token");
        CHECK(ids_are(t, "<tag>ab", 0, (const int32_t[]){8, 7}, 2), "shorter user-defined token");
        CHECK(ids_are(t, "<tag>c", 0, (const int32_t[]){8, 3, 9}, 3), "control token not parsed: the user token under it");
        CHECK(ids_are(t, "<tag>c", 1, (const int32_t[]){12}, 1), "longest control token parsed");
        ei_tokenizer_free(t);
    }
    sv.add_space_prefix = 0;
    t = load_synth(&sv, err, sizeof err);
    CHECK(t && ids_are(t, "ab ab", 0, (const int32_t[]){6, 7}, 2), "add_space_prefix false");
    ei_tokenizer_free(t);

    /* metadata that must be refused with a message */
    static const char *g_tokens[3] = {"a", "b", "ab"};
    static const char *g_merges[1] = {"a b"};
    synth_vocab bad[] = {
        {"bert", NULL, tokens, types, scores, N, NULL, 0, -1},      /* unknown model */
        {NULL, NULL, tokens, types, scores, N, NULL, 0, -1},        /* no model */
        {"llama", NULL, NULL, NULL, NULL, 0, NULL, 0, -1},          /* no tokens */
        {"gpt2", "llama3", g_tokens, NULL, NULL, 3, g_merges, 1, -1}, /* unsupported pre-tokenizer */
        {"gpt2", NULL, g_tokens, NULL, NULL, 3, NULL, 0, -1},       /* gpt2 without merges */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ei_tokenizer *b = load_synth(&bad[i], err, sizeof err);
        CHECK(!b && err[0], "bad vocab %zu accepted", i);
        if (!b) printf("  refused as expected: %s\n", err);
        ei_tokenizer_free(b);
    }
    /* a minimal gpt2 vocab: bytes without a token are dropped (HF does the same) */
    synth_vocab g = {"gpt2", "default", g_tokens, NULL, NULL, 3, g_merges, 1, -1};
    t = load_synth(&g, err, sizeof err);
    CHECK(t && ids_are(t, "abzab", 1, (const int32_t[]){2, 2}, 2), "minimal gpt2 vocab: %s", err);
    ei_tokenizer_free(t);
    TEST_END("tokenizer synthetic vocabs (user-defined tokens, options, bad metadata)");
}

static void run_vocab(const vocab_t *v, const refs_t *refs, const longbench *lb, int vi)
{
    test_parity(v, refs, lb, vi);
    test_roundtrip(v, refs);
    test_stream(v, refs, lb);
    test_invalid(v);
    test_fuzz(v);
    test_capacity(v);
    test_threads(v);
    if (v->llama) test_specials_tok512(v);
    else test_specials_smollm(v);
}

int main(void)
{
    double t0 = now_s();
    refs_t refs;
    if (load_refs(&refs) != 0) {
        TEST_BEGIN();
        CHECK(0, "cannot read %s (run from the repo root)", REFS_TSV);
        TEST_END("tokenizer references");
        CHECK_EXIT();
    }
    longbench lb;
    if (load_longbench(&lb) != 0) {
        SKIP("tokenizer longbench", "%s absent or unreadable: its prompts are not checked", LONGBENCH);
        free_longbench(&lb);
        lb = (longbench){0};
    }
    char err[512];

    /* SmolLM2: byte-level BPE against HF tokenizers */
    gguf_file *f = access(SMOLLM_GGUF, R_OK) == 0 ? gguf_open(SMOLLM_GGUF, err, sizeof err) : NULL;
    if (!f) {
        SKIP("tokenizer smollm", "%s absent (run `make model`)", SMOLLM_GGUF);
    } else {
        double tl = now_s();
        vocab_t v = {"smollm", ei_tokenizer_load(f, err, sizeof err), 0};
        double load_s = now_s() - tl;
        gguf_close(f);
        TEST_BEGIN();
        CHECK(v.tok, "load: %s", err);
        TEST_END("tokenizer smollm loads");
        if (v.tok) {
            printf("  smollm tokenizer load %.3f s\n", load_s);
            run_vocab(&v, &refs, &lb, 0);
        }
        ei_tokenizer_free(v.tok);
    }

    /* stories260K tok512: SentencePiece BPE, via the llama2.c converter */
    if (access(STORIES_BIN, R_OK) != 0 || access(TOK512_BIN, R_OK) != 0) {
        SKIP("tokenizer tok512", "%s absent", TOK512_BIN);
    } else {
        char path[256];
        snprintf(path, sizeof path, "/tmp/ei_test_tok512_%d.gguf", (int)getpid());
        vocab_t v = {"tok512", NULL, 1};
        TEST_BEGIN();
        int rc = ei_llama2c_to_gguf(STORIES_BIN, TOK512_BIN, path, err, sizeof err);
        CHECK(rc == 0, "convert: %s", err);
        gguf_file *g = rc == 0 ? gguf_open(path, err, sizeof err) : NULL;
        CHECK(rc != 0 || g, "open: %s", err);
        if (g) {
            v.tok = ei_tokenizer_load(g, err, sizeof err);
            CHECK(v.tok, "load: %s", err);
            gguf_close(g);
        }
        unlink(path);
        TEST_END("tokenizer tok512 loads (llama2.c converter)");
        if (v.tok) run_vocab(&v, &refs, &lb, 1);
        ei_tokenizer_free(v.tok);
    }
    test_synthetic();
    if (g_wiki_mbps[0] > 0 || g_wiki_mbps[1] > 0)
        printf("  encode speed on wiki.test.raw: smollm %.1f MB/s, tok512 %.1f MB/s%s\n", g_wiki_mbps[0],
               g_wiki_mbps[1], UNDER_ASAN ? " (AddressSanitizer build)" : "");
    printf("  test_tokenizer total %.2f s\n", now_s() - t0);
    free_longbench(&lb);
    free_refs(&refs);
    CHECK_EXIT();
}

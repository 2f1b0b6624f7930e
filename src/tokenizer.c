/* Tokenizers read from GGUF metadata (see tokenizer.h).
 *
 * gpt2 (byte-level BPE), token-identical to HF `tokenizers`:
 *   added tokens split out first -> [Digits(individual) for pre "smollm"] -> GPT-2 regex
 *   ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), hand-written
 *   below -> each piece's bytes become their bytes_to_unicode characters -> BPE by merge rank.
 * llama (SentencePiece BPE), token-identical to SentencePiece with remove_extra_whitespaces off,
 *   i.e. what llama.cpp does: ' ' -> U+2581, one leading U+2581 (add_space_prefix) at the start and
 *   after each special token, repeatedly merge the adjacent pair whose concatenation is a vocab piece
 *   of highest score (leftmost on ties), then <0xXX> byte fallback for pieces not in the vocab.
 *
 * Both merge loops use a binary heap over a linked list of symbols, so a word of n bytes costs
 * O(n log n) whatever its content (a 1 MB run of one letter, 100K spaces). Speed-ups that keep the
 * result exact: a per-call cache of short words' ids, and SentencePiece text is cut into chunks
 * where no vocab piece could ever span the cut (spm_bigram_known).
 * The tokenizer is immutable after load; encode keeps its scratch memory on the call's own context,
 * so concurrent calls on one tokenizer are safe. */
#include "tokenizer.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unicode.h"

enum { KIND_GPT2, KIND_LLAMA };
enum { PRE_GPT2, PRE_SMOLLM };
/* GGUF token types (llama.cpp's llama_token_type). */
enum { TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5,
       TT_BYTE = 6 };

/* Texts longer than this are refused: symbol indices are 32-bit and SentencePiece escaping can
 * triple a text. */
#define MAX_TEXT_BYTES ((size_t)1 << 30)
#define MAX_VOCAB (1 << 22)      /* tokens; the model loader's limit too */
#define MAX_MERGES (1 << 24)
#define MAX_TOKEN_BYTES 4096     /* real vocabularies stay far below; bounds the cost of matching */

typedef struct {
    uint64_t key;  /* (left id << 32) | right id */
    int32_t rank;  /* -1: empty slot */
    int32_t id;    /* token the pair merges into */
} merge_slot;

struct ei_tokenizer {
    int kind, pre;
    int32_t n;              /* vocab size */
    char *text;             /* token strings back to back, each NUL-terminated */
    size_t *text_off;       /* n + 1 offsets into text */
    char *piece;            /* decoded bytes of each token (control tokens: their text) */
    size_t *piece_off;      /* n + 1 offsets into piece */
    uint8_t *type;          /* TT_* per token */
    float *score;           /* llama: merge priority per token */
    uint32_t *slots;        /* open-addressing table: token string -> id + 1 (0 = empty) */
    uint32_t slot_mask;
    merge_slot *merges;     /* gpt2: (left, right) -> rank, merged id */
    uint64_t merge_mask;
    uint64_t *bigrams;      /* llama: set of code point pairs inside mergeable pieces (0 = empty) */
    uint64_t bigram_mask;
    int32_t byte_id[256];   /* gpt2: token of each byte's bytes_to_unicode char; llama: <0xXX> */
    uint32_t *special_slots; /* matchable special tokens: string -> id + 1 (0 = empty) */
    uint32_t special_mask;
    uint32_t *special_len;   /* distinct lengths of the specials, by first byte, longest first */
    uint32_t special_first[257]; /* special_len[special_first[b] .. special_first[b+1]) */
    int32_t bos, eos, eot, unk;
    int add_bos, add_space_prefix;
    int max_detok_out;
};

/* ------------------------------------------------------------------------------------ helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The hash tables (vocab, merges, specials) are keyed by a file's strings: with a fixed hash a
 * crafted vocab could put every entry on one probe chain and make loading quadratic. A seed drawn
 * once per process takes that away; only the tables' layout depends on it, never a token. */
static uint64_t g_hash_seed;
static pthread_once_t g_seed_once = PTHREAD_ONCE_INIT;

static void draw_seed(void)
{
    uint64_t x = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&x, sizeof x, 1, f) != 1) x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32); /* weaker, still unknown in advance */
    if (f) fclose(f);
    g_hash_seed = x;
}

#define FNV_PRIME 0x100000001b3ull
static uint64_t fnv_basis(void) { return 0xcbf29ce484222325ull ^ g_hash_seed; }
static uint64_t fnv_finish(uint64_t h) { return h ^ (h >> 29); } /* spreads the low bits */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = fnv_basis(); /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * FNV_PRIME;
    return fnv_finish(h);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= g_hash_seed;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Length of the UTF-8 sequence starting with lead byte b, 0 when b cannot start one. */
static int utf8_seq_len(uint8_t b)
{
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

/* Whether b may be the k-th byte (k >= 1) of a sequence led by `lead`: the second byte's range
 * excludes overlong forms, UTF-16 surrogates (ED A0..BF) and code points above U+10FFFF. */
static int utf8_cont_ok(uint8_t lead, int k, uint8_t b)
{
    if (k == 1) {
        if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
        if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
        if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
        if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
    }
    return b >= 0x80 && b <= 0xBF;
}

/* Offset of the first byte that is not part of a valid UTF-8 sequence, or len when all are. */
static size_t utf8_first_invalid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) { i++; continue; }
        int n = utf8_seq_len(s[i]);
        if (n == 0 || len - i < (size_t)n) return i;
        for (int k = 1; k < n; k++)
            if (!utf8_cont_ok(s[i], k, s[i + k])) return i;
        i += (size_t)n;
    }
    return len;
}

/* Decodes the code point at s (valid UTF-8 already checked) and stores its byte length. */
static uint32_t utf8_decode(const uint8_t *s, size_t *len)
{
    uint8_t b = s[0];
    if (b < 0x80) { *len = 1; return b; }
    if (b < 0xE0) { *len = 2; return ((uint32_t)(b & 0x1F) << 6) | (s[1] & 0x3F); }
    if (b < 0xF0) {
        *len = 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
           ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

static int utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * (controls, space, DEL, NBSP, soft hyphen...) map in order to U+0100.. so that every byte becomes
 * a visible character. */
static uint32_t byte_to_cp(uint8_t b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t k = 0; /* rank of b among the remapped bytes */
    for (uint32_t x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) k++;
    return 256 + k;
}

/* ------------------------------------------------------------------------- vocab lookups */

static const char *tok_str(const ei_tokenizer *t, int32_t id, size_t *len)
{
    *len = t->text_off[id + 1] - t->text_off[id] - 1; /* minus the NUL */
    return t->text + t->text_off[id];
}

/* Token id of the exact byte string s[0..len), or -1. */
static int32_t vocab_find(const ei_tokenizer *t, const char *s, size_t len)
{
    uint32_t i = (uint32_t)hash_bytes(s, len) & t->slot_mask;
    for (;;) {
        uint32_t v = t->slots[i];
        if (v == 0) return -1;
        size_t l;
        const char *ts = tok_str(t, (int32_t)(v - 1), &l);
        if (l == len && memcmp(ts, s, len) == 0) return (int32_t)(v - 1);
        i = (i + 1) & t->slot_mask;
    }
}

static const merge_slot *merge_find(const ei_tokenizer *t, int32_t left, int32_t right)
{
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t i = hash_u64(key) & t->merge_mask;
    for (;;) {
        const merge_slot *m = &t->merges[i];
        if (m->rank < 0) return NULL;
        if (m->key == key) return m;
        i = (i + 1) & t->merge_mask;
    }
}

/* ---------------------------------------------------------------------------------- loading */

/* Types SentencePiece merges into: never control, unknown or byte tokens. */
static int is_mergeable(int type)
{
    return type == TT_NORMAL || type == TT_USER || type == TT_UNUSED || type == TT_UNDEFINED;
}

static int is_matchable_special(int type)
{
    return type == TT_CONTROL || type == TT_USER || type == TT_UNKNOWN;
}

/* Optional integer token id; -1 when absent or out of range. */
static int32_t get_token_id(const gguf_file *f, const char *key, int32_t n, int32_t dflt)
{
    int64_t v;
    if (gguf_get_i64(f, key, &v) != 0) return dflt;
    return (v >= 0 && v < n) ? (int32_t)v : -1;
}

static int load_strings(ei_tokenizer *t, const gguf_kv *kv, char *err, size_t errlen)
{
    size_t total = 0;
    for (int32_t i = 0; i < t->n; i++) {
        gguf_str s;
        if (gguf_arr_str(kv, (uint64_t)i, &s) != 0) {
            set_err(err, errlen, "tokenizer.ggml.tokens[%d] is not a string", i);
            return -1;
        }
        if (s.len > MAX_TOKEN_BYTES) {
            set_err(err, errlen, "tokenizer.ggml.tokens[%d] is %llu bytes long (at most %d)", i,
                    (unsigned long long)s.len, MAX_TOKEN_BYTES);
            return -1;
        }
        total += (size_t)s.len + 1;
    }
    t->text = malloc(total ? total : 1);
    t->text_off = malloc(((size_t)t->n + 1) * sizeof *t->text_off);
    if (!t->text || !t->text_off) {
        set_err(err, errlen, "out of memory for the vocabulary");
        return -1;
    }
    size_t o = 0;
    for (int32_t i = 0; i < t->n; i++) {
        gguf_str s;
        gguf_arr_str(kv, (uint64_t)i, &s);
        t->text_off[i] = o;
        if (s.len) memcpy(t->text + o, s.ptr, (size_t)s.len);
        o += (size_t)s.len;
        t->text[o++] = '\0';
    }
    t->text_off[t->n] = o;
    return 0;
}

static int load_types_scores(ei_tokenizer *t, const gguf_file *f, char *err, size_t errlen)
{
    t->type = malloc((size_t)t->n);
    if (!t->type) { set_err(err, errlen, "out of memory"); return -1; }
    const gguf_kv *kv = gguf_find(f, "tokenizer.ggml.token_type");
    if (kv && kv->arr_len != (uint64_t)t->n) {
        set_err(err, errlen, "tokenizer.ggml.token_type has %llu entries for %d tokens",
                (unsigned long long)kv->arr_len, t->n);
        return -1;
    }
    for (int32_t i = 0; i < t->n; i++) {
        int32_t v = TT_NORMAL;
        if (kv && gguf_arr_i32(kv, (uint64_t)i, &v) != 0) {
            set_err(err, errlen, "tokenizer.ggml.token_type is not an int32 array");
            return -1;
        }
        t->type[i] = (uint8_t)((v >= 0 && v <= TT_BYTE) ? v : TT_NORMAL);
    }
    if (t->kind != KIND_LLAMA) return 0;
    t->score = calloc((size_t)t->n, sizeof *t->score);
    if (!t->score) { set_err(err, errlen, "out of memory"); return -1; }
    kv = gguf_find(f, "tokenizer.ggml.scores");
    if (!kv) return 0; /* without scores every merge ties: leftmost wins, as in llama.cpp */
    if (kv->arr_len != (uint64_t)t->n) {
        set_err(err, errlen, "tokenizer.ggml.scores has %llu entries for %d tokens",
                (unsigned long long)kv->arr_len, t->n);
        return -1;
    }
    for (int32_t i = 0; i < t->n; i++) {
        if (gguf_arr_f32(kv, (uint64_t)i, &t->score[i]) != 0) {
            set_err(err, errlen, "tokenizer.ggml.scores is not a float32 array");
            return -1;
        }
    }
    return 0;
}

static int build_vocab_hash(ei_tokenizer *t, char *err, size_t errlen)
{
    uint32_t cap = 16;
    while (cap < (uint32_t)t->n * 2u) cap <<= 1;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) { set_err(err, errlen, "out of memory"); return -1; }
    t->slot_mask = cap - 1;
    for (int32_t id = 0; id < t->n; id++) {
        size_t len;
        const char *s = tok_str(t, id, &len);
        if (vocab_find(t, s, len) >= 0) continue; /* duplicate string: the first id wins */
        uint32_t i = (uint32_t)hash_bytes(s, len) & t->slot_mask;
        while (t->slots[i]) i = (i + 1) & t->slot_mask;
        t->slots[i] = (uint32_t)id + 1;
    }
    return 0;
}

/* gpt2 merges "left right" (rank = index) -> hash of (left id, right id) -> (rank, merged id).
 * Merges naming strings that are not tokens cannot apply and are skipped. */
static int load_merges(ei_tokenizer *t, const gguf_file *f, char *err, size_t errlen)
{
    const gguf_kv *kv = gguf_find(f, "tokenizer.ggml.merges");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING) {
        set_err(err, errlen, "gpt2 tokenizer without a tokenizer.ggml.merges string array");
        return -1;
    }
    if (kv->arr_len > MAX_MERGES) { set_err(err, errlen, "tokenizer.ggml.merges: more than %d merges", MAX_MERGES); return -1; }
    uint64_t cap = 16;
    while (cap < kv->arr_len * 2) cap <<= 1;
    t->merges = malloc(cap * sizeof *t->merges);
    if (!t->merges) { set_err(err, errlen, "out of memory for merges"); return -1; }
    for (uint64_t i = 0; i < cap; i++) t->merges[i].rank = -1;
    t->merge_mask = cap - 1;
    char *cat = NULL;
    size_t catcap = 0;
    for (uint64_t r = 0; r < kv->arr_len; r++) {
        gguf_str s;
        gguf_arr_str(kv, r, &s);
        /* The separator is the first space after the first byte (a left part may be " "). */
        size_t sp = 1;
        while (sp < s.len && s.ptr[sp] != ' ') sp++;
        if (sp >= s.len) continue;
        int32_t a = vocab_find(t, s.ptr, sp);
        int32_t b = vocab_find(t, s.ptr + sp + 1, (size_t)s.len - sp - 1);
        if (a < 0 || b < 0) continue;
        size_t cl = (size_t)s.len - 1;
        if (cl > catcap) {
            char *nc = realloc(cat, cl);
            if (!nc) { free(cat); set_err(err, errlen, "out of memory"); return -1; }
            cat = nc;
            catcap = cl;
        }
        memcpy(cat, s.ptr, sp);
        memcpy(cat + sp, s.ptr + sp + 1, cl - sp);
        int32_t m = vocab_find(t, cat, cl);
        if (m < 0) continue;
        uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
        uint64_t i = hash_u64(key) & t->merge_mask;
        while (t->merges[i].rank >= 0 && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
        if (t->merges[i].rank >= 0) continue; /* a repeated pair keeps its first (best) rank */
        t->merges[i].key = key;
        t->merges[i].rank = (int32_t)r;
        t->merges[i].id = m;
    }
    free(cat);
    return 0;
}

/* llama: the set of adjacent code point pairs found inside mergeable pieces (see
 * spm_bigram_known). Pieces that are not valid UTF-8 can never match valid text: skipped. */
static int build_bigrams(ei_tokenizer *t, char *err, size_t errlen)
{
    uint64_t count = 0;
    for (int32_t id = 0; id < t->n; id++) {
        size_t len;
        tok_str(t, id, &len);
        if (is_mergeable(t->type[id])) count += len;
    }
    uint64_t cap = 16;
    while (cap < count * 2) cap <<= 1;
    t->bigrams = calloc(cap, sizeof *t->bigrams);
    if (!t->bigrams) { set_err(err, errlen, "out of memory"); return -1; }
    t->bigram_mask = cap - 1;
    for (int32_t id = 0; id < t->n; id++) {
        size_t len, l;
        const uint8_t *s = (const uint8_t *)tok_str(t, id, &len);
        if (!is_mergeable(t->type[id]) || len == 0 || utf8_first_invalid(s, len) != len) continue;
        uint32_t prev = utf8_decode(s, &l);
        for (size_t i = l; i < len; i += l) {
            uint32_t cp = utf8_decode(s + i, &l);
            uint64_t key = ((uint64_t)prev << 32) | cp | (1ull << 63);
            uint64_t k = hash_u64(key) & t->bigram_mask;
            while (t->bigrams[k] && t->bigrams[k] != key) k = (k + 1) & t->bigram_mask;
            t->bigrams[k] = key;
            prev = cp;
        }
    }
    return 0;
}

static void load_byte_ids(ei_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char s[8];
        int len;
        if (t->kind == KIND_GPT2) len = utf8_encode(byte_to_cp((uint8_t)b), s);
        else len = snprintf(s, sizeof s, "<0x%02X>", b);
        int32_t id = vocab_find(t, s, (size_t)len);
        /* llama: only a BYTE-typed token is a fallback byte */
        if (id >= 0 && t->kind == KIND_LLAMA && t->type[id] != TT_BYTE) id = -1;
        t->byte_id[b] = id;
    }
}

/* Writes the decoded bytes of token id to dst (room for the token's string length) and returns
 * their count. cp_byte inverts bytes_to_unicode for code points below 0x144 (-1: not a byte). */
static size_t decode_token(const ei_tokenizer *t, int32_t id, const int16_t *cp_byte, char *dst)
{
    size_t len;
    const uint8_t *s = (const uint8_t *)tok_str(t, id, &len);
    int type = t->type[id];
    if (type == TT_CONTROL || type == TT_UNKNOWN || type == TT_USER) {
        memcpy(dst, s, len); /* special tokens decode to their literal text */
        return len;
    }
    size_t o = 0;
    if (t->kind == KIND_LLAMA) {
        unsigned hex;
        if (type == TT_BYTE && len == 6 && sscanf((const char *)s, "<0x%2X>", &hex) == 1) {
            dst[0] = (char)hex;
            return 1;
        }
        for (size_t i = 0; i < len; i++) { /* U+2581 stands for a space */
            if (i + 2 < len && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
                dst[o++] = ' ';
                i += 2;
            } else {
                dst[o++] = (char)s[i];
            }
        }
        return o;
    }
    /* gpt2: invert bytes_to_unicode char by char; characters outside the map (not produced by
     * byte-level BPE) are kept as their UTF-8. */
    size_t i = 0;
    while (i < len) {
        int n = utf8_seq_len(s[i]);
        if (n == 0 || (size_t)n > len - i) { dst[o++] = (char)s[i++]; continue; }
        size_t l;
        uint32_t cp = utf8_decode(s + i, &l);
        int b = cp < 0x144 ? cp_byte[cp] : -1;
        if (b >= 0) dst[o++] = (char)b;
        else { memcpy(dst + o, s + i, l); o += l; }
        i += l;
    }
    return o;
}

static int build_pieces(ei_tokenizer *t, char *err, size_t errlen)
{
    /* Decoding never lengthens a token, so the strings' size bounds the pieces' size. */
    t->piece = malloc(t->text_off[t->n] ? t->text_off[t->n] : 1);
    t->piece_off = malloc(((size_t)t->n + 1) * sizeof *t->piece_off);
    if (!t->piece || !t->piece_off) { set_err(err, errlen, "out of memory"); return -1; }
    int16_t cp_byte[0x144];
    for (int i = 0; i < 0x144; i++) cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) cp_byte[byte_to_cp((uint8_t)b)] = (int16_t)b;
    size_t o = 0;
    int max_out = 0;
    for (int32_t id = 0; id < t->n; id++) {
        t->piece_off[id] = o;
        size_t n = decode_token(t, id, cp_byte, t->piece + o);
        /* Worst case of ei_detok_push: every non-ASCII byte becomes a 3-byte U+FFFD, plus up to
         * 3 held-back bytes replaced the same way. */
        size_t worst = 9;
        for (size_t i = 0; i < n; i++) worst += ((uint8_t)t->piece[o + i] < 0x80) ? 1 : 3;
        if (worst > (size_t)max_out) max_out = worst > (1u << 30) ? (1 << 30) : (int)worst;
        o += n;
    }
    t->piece_off[t->n] = o;
    t->max_detok_out = max_out;
    return 0;
}

static int is_special_candidate(const ei_tokenizer *t, int32_t id)
{
    size_t len;
    const char *s = tok_str(t, id, &len);
    /* only valid UTF-8 strings can match on character boundaries of valid text */
    return is_matchable_special(t->type[id]) && len > 0 &&
           utf8_first_invalid((const uint8_t *)s, len) == len;
}

/* Id of the special token spelled s[0..len) whose hash_bytes is h, or -1. */
static int32_t special_find_hashed(const ei_tokenizer *t, const char *s, size_t len, uint64_t h)
{
    uint32_t i = (uint32_t)h & t->special_mask;
    for (;;) {
        uint32_t v = t->special_slots[i];
        if (v == 0) return -1;
        size_t l;
        const char *ts = tok_str(t, (int32_t)(v - 1), &l);
        if (l == len && memcmp(ts, s, len) == 0) return (int32_t)(v - 1);
        i = (i + 1) & t->special_mask;
    }
}

static int32_t special_find(const ei_tokenizer *t, const char *s, size_t len)
{
    return special_find_hashed(t, s, len, hash_bytes(s, len));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Special tokens are found by trying, at a text position, each length a special starting with that
 * byte has, longest first, in a hash of the specials: the leftmost-longest match HF and llama.cpp
 * make, in a few lookups even for vocabs with thousands of specials. */
static int build_specials(ei_tokenizer *t, char *err, size_t errlen)
{
    uint32_t count = 0;
    for (int32_t id = 0; id < t->n; id++) count += (uint32_t)is_special_candidate(t, id);
    uint32_t cap = 16;
    while (cap < count * 2) cap <<= 1;
    t->special_slots = calloc(cap, sizeof *t->special_slots);
    t->special_len = malloc((count ? count : 1) * sizeof *t->special_len);
    uint64_t *keys = malloc((count ? count : 1) * sizeof *keys);
    if (!t->special_slots || !t->special_len || !keys) {
        free(keys);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    t->special_mask = cap - 1;
    uint32_t k = 0;
    for (int32_t id = 0; id < t->n; id++) {
        if (!is_special_candidate(t, id)) continue;
        size_t len;
        const char *s = tok_str(t, id, &len);
        if (special_find(t, s, len) < 0) { /* a repeated string keeps its first id */
            uint32_t i = (uint32_t)hash_bytes(s, len) & t->special_mask;
            while (t->special_slots[i]) i = (i + 1) & t->special_mask;
            t->special_slots[i] = (uint32_t)id + 1;
        }
        /* sort key: first byte ascending, then length descending */
        keys[k++] = ((uint64_t)(uint8_t)s[0] << 32) | (uint32_t)(UINT32_MAX - (uint32_t)len);
    }
    qsort(keys, k, sizeof *keys, cmp_u64);
    uint32_t n = 0, j = 0;
    for (int b = 0; b < 256; b++) {
        t->special_first[b] = n;
        for (; j < k && (keys[j] >> 32) == (uint64_t)b; j++) {
            uint32_t len = UINT32_MAX - (uint32_t)keys[j];
            if (n == t->special_first[b] || t->special_len[n - 1] != len) t->special_len[n++] = len;
        }
    }
    t->special_first[256] = n;
    free(keys);
    return 0;
}

static int load_kind(ei_tokenizer *t, const gguf_file *f, char *err, size_t errlen)
{
    gguf_str model;
    if (gguf_get_str(f, "tokenizer.ggml.model", &model) != 0) {
        set_err(err, errlen, "no tokenizer.ggml.model in the GGUF");
        return -1;
    }
    if (gguf_str_eq(model, "gpt2")) t->kind = KIND_GPT2;
    else if (gguf_str_eq(model, "llama")) t->kind = KIND_LLAMA;
    else {
        set_err(err, errlen, "unsupported tokenizer.ggml.model '%.*s' (supported: gpt2, llama)",
                (int)(model.len > 64 ? 64 : model.len), model.ptr);
        return -1;
    }
    t->pre = PRE_GPT2;
    gguf_str pre;
    if (t->kind == KIND_GPT2 && gguf_get_str(f, "tokenizer.ggml.pre", &pre) == 0) {
        if (gguf_str_eq(pre, "smollm")) t->pre = PRE_SMOLLM;
        else if (!gguf_str_eq(pre, "default") && !gguf_str_eq(pre, "gpt2")) {
            /* another pre-tokenizer regex would silently give different tokens: refuse */
            set_err(err, errlen,
                    "unsupported tokenizer.ggml.pre '%.*s' (supported: smollm, default, gpt2)",
                    (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
            return -1;
        }
    }
    return 0;
}

static void load_flags(ei_tokenizer *t, const gguf_file *f)
{
    int llama = t->kind == KIND_LLAMA;
    /* SentencePiece vocabs conventionally have <unk>=0, <s>=1, </s>=2 */
    t->bos = get_token_id(f, "tokenizer.ggml.bos_token_id", t->n, llama && t->n > 1 ? 1 : -1);
    t->eos = get_token_id(f, "tokenizer.ggml.eos_token_id", t->n, llama && t->n > 2 ? 2 : -1);
    t->unk = get_token_id(f, "tokenizer.ggml.unknown_token_id", t->n, llama ? 0 : -1);
    t->eot = get_token_id(f, "tokenizer.ggml.eot_token_id", t->n, -1);
    if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &t->add_bos) != 0) t->add_bos = llama;
    if (gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix) != 0)
        t->add_space_prefix = llama;
    if (!llama) t->add_space_prefix = 0; /* byte-level BPE has no such step here */
}

ei_tokenizer *ei_tokenizer_load(const gguf_file *f, char *err, size_t errlen)
{
    if (!f) { set_err(err, errlen, "no GGUF file"); return NULL; }
    pthread_once(&g_seed_once, draw_seed);
    ei_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { set_err(err, errlen, "out of memory"); return NULL; }
    if (load_kind(t, f, err, errlen) != 0) goto fail;
    const gguf_kv *kv = gguf_find(f, "tokenizer.ggml.tokens");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || kv->arr_len == 0 ||
        kv->arr_len > MAX_VOCAB) {
        set_err(err, errlen, "tokenizer.ggml.tokens is missing or not a string array of 1..%d tokens", MAX_VOCAB);
        goto fail;
    }
    t->n = (int32_t)kv->arr_len;
    if (load_strings(t, kv, err, errlen) != 0) goto fail;
    if (load_types_scores(t, f, err, errlen) != 0) goto fail;
    if (build_vocab_hash(t, err, errlen) != 0) goto fail;
    if (t->kind == KIND_GPT2 && load_merges(t, f, err, errlen) != 0) goto fail;
    if (t->kind == KIND_LLAMA && build_bigrams(t, err, errlen) != 0) goto fail;
    load_byte_ids(t);
    load_flags(t, f);
    if (build_pieces(t, err, errlen) != 0) goto fail;
    if (build_specials(t, err, errlen) != 0) goto fail;
    return t;
fail:
    ei_tokenizer_free(t);
    return NULL;
}

void ei_tokenizer_free(ei_tokenizer *t)
{
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->piece);
    free(t->piece_off);
    free(t->type);
    free(t->score);
    free(t->slots);
    free(t->merges);
    free(t->bigrams);
    free(t->special_slots);
    free(t->special_len);
    free(t);
}

int ei_tokenizer_vocab_size(const ei_tokenizer *t) { return t->n; }
int32_t ei_tokenizer_bos(const ei_tokenizer *t) { return t->bos; }
int32_t ei_tokenizer_eos(const ei_tokenizer *t) { return t->eos; }
int ei_tokenizer_add_bos(const ei_tokenizer *t) { return t->add_bos && t->bos >= 0; }
int ei_detok_max_out(const ei_tokenizer *t) { return t->max_detok_out; }

int32_t ei_tokenizer_find(const ei_tokenizer *t, const char *text)
{
    return text ? vocab_find(t, text, strlen(text)) : -1;
}

int ei_tokenizer_is_control(const ei_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n) return 0;
    return t->type[id] == TT_CONTROL || id == t->eos || id == t->eot;
}

const char *ei_tokenizer_token_text(const ei_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n) return NULL;
    return t->text + t->text_off[id];
}

/* --------------------------------------------------------------------------------- encoding */

/* A direct-mapped cache of short word -> ids, private to one encode call. Texts repeat their words
 * and a word's tokens depend on its bytes only, so long texts skip most BPE work. */
#define CACHE_SLOTS 8192
#define CACHE_KEY 16 /* longest word cached, in bytes (its ids are at most as many) */
#define CACHE_MIN_TEXT 4096 /* shorter texts do not pay for the cache's allocation */

typedef struct {
    uint8_t len, nids;      /* len 0: empty */
    uint8_t key[CACHE_KEY];
    int32_t ids[CACHE_KEY];
} cache_slot;

typedef struct { void *p; size_t cap; } grow_buf;

/* State of one encode call: the output, scratch buffers reused across words, the word cache. */
typedef struct {
    const ei_tokenizer *t;
    int32_t *out;
    int64_t cap, n;
    grow_buf work;          /* per word: symbols, links, heap */
    grow_buf esc;           /* llama: the escaped segment */
    cache_slot *cache;      /* NULL: no cache */
} enc_ctx;

static void emit(enc_ctx *c, int32_t id)
{
    if (c->n < c->cap) c->out[c->n] = id;
    c->n++;
}

static void emit_all(enc_ctx *c, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) emit(c, ids[i]);
}

/* At least `bytes` of b, growing it (contents not kept); NULL when out of memory. */
static void *grow(grow_buf *b, size_t bytes)
{
    if (bytes <= b->cap) return b->p;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < bytes) cap *= 2;
    free(b->p);
    b->p = malloc(cap);
    b->cap = b->p ? cap : 0;
    return b->p;
}

/* The cache slot of word w; NULL when there is no cache or w is too long to cache. */
static cache_slot *cache_slot_of(enc_ctx *c, const uint8_t *w, size_t n)
{
    if (!c->cache || n > CACHE_KEY) return NULL;
    return &c->cache[hash_bytes((const char *)w, n) & (CACHE_SLOTS - 1)];
}

static int cache_hit(const cache_slot *e, const uint8_t *w, size_t n)
{
    return e && e->len == n && memcmp(e->key, w, n) == 0;
}

static void cache_store(cache_slot *e, const uint8_t *w, size_t n, const int32_t *ids, size_t nids)
{
    if (!e || nids > CACHE_KEY) return;
    e->len = (uint8_t)n;
    e->nids = (uint8_t)nids;
    memcpy(e->key, w, n);
    memcpy(e->ids, ids, nids * sizeof *ids);
}

/* Binary min-heap of 64-bit keys. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        if (l + 1 < *n && h[l + 1] < h[l]) l++;
        if (h[l] >= v) break;
        h[i] = h[l];
        i = l;
    }
    if (*n) h[i] = v;
    return top;
}

/* ---- gpt2: byte-level BPE of one pre-tokenized word */

static void bpe_push_pair(const ei_tokenizer *t, const int32_t *sym, int32_t l, int32_t r,
                          uint64_t *heap, size_t *nheap)
{
    const merge_slot *m = merge_find(t, sym[l], sym[r]);
    /* lowest rank first, then leftmost: the order HF's BPE merges in */
    if (m) heap_push(heap, nheap, ((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)l);
}

/* BPE of the n bytes of w (n >= 1): the ids are left in *ids (scratch memory), *nids of them. */
static int bpe_word(enc_ctx *c, const uint8_t *w, size_t n, int32_t **ids, size_t *nids)
{
    const ei_tokenizer *t = c->t;
    /* symbols (ids), next/prev links, and a heap of up to 3n candidate merges
     * (n - 1 initial pairs + 2 per merge) */
    uint64_t *heap = grow(&c->work, n * 3 * sizeof(int32_t) + n * 3 * sizeof(uint64_t));
    if (!heap) return -1;
    int32_t *sym = (int32_t *)(heap + 3 * n), *next = sym + n, *prev = next + n;
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[w[i]];
        if (id >= 0) sym[m++] = id; /* a byte without a token is dropped, as HF does */
    }
    *ids = sym;
    *nids = 0;
    if (m == 0) return 0;
    for (int32_t i = 0; i < m; i++) {
        next[i] = i + 1 < m ? i + 1 : -1;
        prev[i] = i - 1;
    }
    size_t nheap = 0;
    for (int32_t i = 0; i + 1 < m; i++) bpe_push_pair(t, sym, i, i + 1, heap, &nheap);
    while (nheap) {
        uint64_t top = heap_pop(heap, &nheap);
        int32_t l = (int32_t)(uint32_t)top, rank = (int32_t)(top >> 32);
        if (sym[l] < 0) continue; /* l was merged into its left neighbour */
        int32_t r = next[l];
        if (r < 0) continue;
        const merge_slot *ms = merge_find(t, sym[l], sym[r]);
        if (!ms || ms->rank != rank) continue; /* the pair changed since it was queued */
        sym[l] = ms->id;
        sym[r] = -1;
        next[l] = next[r];
        if (next[r] >= 0) prev[next[r]] = l;
        if (prev[l] >= 0) bpe_push_pair(t, sym, prev[l], l, heap, &nheap);
        if (next[l] >= 0) bpe_push_pair(t, sym, l, next[l], heap, &nheap);
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) sym[k++] = sym[i]; /* symbol 0 always survives */
    *nids = k;
    return 0;
}

static int gpt2_word(enc_ctx *c, const uint8_t *w, size_t n)
{
    if (n == 1) { /* the commonest word of all: one byte, one token */
        if (c->t->byte_id[w[0]] >= 0) emit(c, c->t->byte_id[w[0]]);
        return 0;
    }
    cache_slot *e = cache_slot_of(c, w, n);
    if (cache_hit(e, w, n)) {
        emit_all(c, e->ids, e->nids);
        return 0;
    }
    int32_t *ids;
    size_t nids;
    if (bpe_word(c, w, n, &ids, &nids) != 0) return -1;
    emit_all(c, ids, nids);
    cache_store(e, w, n, ids, nids);
    return 0;
}

/* ---- gpt2: the pre-tokenizer regex, by hand */

enum { CL_L, CL_N, CL_WS, CL_OTHER };

static int char_class(const uint8_t *s, size_t *len)
{
    unsigned f = ei_uc_flags(utf8_decode(s, len));
    if (f & EI_UC_L) return CL_L;
    if (f & EI_UC_N) return CL_N;
    if (f & EI_UC_WS) return CL_WS;
    return CL_OTHER;
}

/* End of the run of characters of class cl starting at p (p itself is of that class). */
static size_t class_run(const uint8_t *s, size_t p, size_t end, int cl)
{
    while (p < end) {
        size_t l;
        if (char_class(s + p, &l) != cl) break;
        p += l;
    }
    return p;
}

/* Length of the GPT-2 regex match at p (every position matches at least one character). */
static size_t gpt2_match(const uint8_t *s, size_t p, size_t end)
{
    /* 's|'t|'re|'ve|'m|'ll|'d (lowercase only) */
    if (s[p] == '\'' && end - p >= 2) {
        uint8_t a = s[p + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if (end - p >= 3) {
            uint8_t b = s[p + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return 3;
        }
    }
    /* ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': an optional ASCII space, then a run of one class */
    size_t q = (s[p] == ' ' && end - p >= 2) ? p + 1 : p;
    size_t l;
    int cl = char_class(s + q, &l);
    if (cl != CL_WS) return class_run(s, q, end, cl) - p;
    /* \s+(?!\S)|\s+ : the whitespace run; when a non-space follows, leave the run's last
     * character to the next match (so " word" keeps its space), unless the run is one char. */
    size_t last = p, r = p;
    while (r < end) {
        if (char_class(s + r, &l) != CL_WS) break;
        last = r;
        r += l;
    }
    if (r == end || last == p) return r - p;
    return last - p;
}

static int gpt2_regex_split(enc_ctx *c, const uint8_t *s, size_t len)
{
    size_t p = 0;
    while (p < len) {
        size_t m = gpt2_match(s, p, len);
        if (gpt2_word(c, s + p, m) != 0) return -1;
        p += m;
    }
    return 0;
}

/* One stretch of text without special tokens. For pre "smollm", HF's Digits(individual_digits)
 * runs first: every numeric character becomes its own piece, and the regex sees the pieces
 * between them separately (a piece boundary acts like the end of the text). */
static int gpt2_segment(enc_ctx *c, const uint8_t *s, size_t len)
{
    if (c->t->pre != PRE_SMOLLM) return gpt2_regex_split(c, s, len);
    size_t start = 0, i = 0;
    while (i < len) {
        size_t l;
        if (s[i] < 0x80) { /* fast path: ASCII digits are the only ASCII numerics */
            l = 1;
            if (s[i] < '0' || s[i] > '9') { i++; continue; }
        } else if (!(ei_uc_flags(utf8_decode(s + i, &l)) & EI_UC_NUMERIC)) {
            i += l;
            continue;
        }
        if (gpt2_regex_split(c, s + start, i - start) != 0) return -1;
        if (gpt2_word(c, s + i, l) != 0) return -1;
        i += l;
        start = i;
    }
    return gpt2_regex_split(c, s + start, len - start);
}

/* ---- llama: SentencePiece BPE by score */

typedef struct { uint32_t start, len; int32_t prev, next; } spm_sym;
typedef struct { float score; uint32_t left, size; } spm_pair;

/* Token a piece may become by merging (see is_mergeable), or -1. */
static int32_t spm_piece_id(const ei_tokenizer *t, const char *s, size_t len)
{
    int32_t id = vocab_find(t, s, len);
    return (id >= 0 && is_mergeable(t->type[id])) ? id : -1;
}

/* Max-heap on score, leftmost first on equal scores. */
static int spm_before(const spm_pair *a, const spm_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void spm_heap_push(spm_pair *h, size_t *n, spm_pair v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!spm_before(&v, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static spm_pair spm_heap_pop(spm_pair *h, size_t *n)
{
    spm_pair top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        if (l + 1 < *n && spm_before(&h[l + 1], &h[l])) l++;
        if (!spm_before(&h[l], &v)) break;
        h[i] = h[l];
        i = l;
    }
    if (*n) h[i] = v;
    return top;
}

static void spm_try_pair(const ei_tokenizer *t, const char *esc, const spm_sym *sym, int32_t l,
                         int32_t r, spm_pair *heap, size_t *nheap)
{
    if (l < 0 || r < 0) return;
    uint32_t size = sym[l].len + sym[r].len;
    int32_t id = spm_piece_id(t, esc + sym[l].start, size);
    if (id >= 0) spm_heap_push(heap, nheap, (spm_pair){t->score[id], (uint32_t)l, size});
}

/* Ids of a final symbol: its piece, else its bytes (byte fallback), else <unk> per byte. */
static size_t spm_symbol_ids(const ei_tokenizer *t, const char *s, size_t len, int32_t *ids)
{
    int32_t id = spm_piece_id(t, s, len);
    if (id >= 0) { ids[0] = id; return 1; }
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t b = t->byte_id[(uint8_t)s[i]];
        if (b >= 0) ids[k++] = b;
        else if (t->unk >= 0) ids[k++] = t->unk;
    }
    return k;
}

/* SentencePiece BPE of one chunk of escaped text (len >= 1 bytes): ids in *ids, *nids of them. */
static int spm_chunk(enc_ctx *c, const char *esc, size_t len, int32_t **ids, size_t *nids)
{
    const ei_tokenizer *t = c->t;
    size_t nheap_max = 3 * len; /* n - 1 initial pairs + 2 per merge, n <= len symbols */
    spm_pair *heap = grow(&c->work, nheap_max * sizeof(spm_pair) + len * sizeof(spm_sym) +
                                        len * sizeof(int32_t));
    if (!heap) return -1;
    spm_sym *sym = (spm_sym *)(heap + nheap_max);
    int32_t *out = (int32_t *)(sym + len); /* at most one id per byte */
    int32_t n = 0;
    for (size_t i = 0; i < len;) { /* one symbol per character */
        size_t l = (size_t)utf8_seq_len((uint8_t)esc[i]);
        sym[n] = (spm_sym){(uint32_t)i, (uint32_t)l, n - 1, -1};
        if (n > 0) sym[n - 1].next = n;
        n++;
        i += l;
    }
    size_t nheap = 0;
    for (int32_t i = 0; i + 1 < n; i++) spm_try_pair(t, esc, sym, i, i + 1, heap, &nheap);
    while (nheap) {
        spm_pair top = spm_heap_pop(heap, &nheap);
        spm_sym *L = &sym[top.left];
        if (L->len == 0 || L->next < 0) continue;
        spm_sym *R = &sym[L->next];
        /* pieces only grow, so an unchanged total size means the pair is still the same */
        if (L->len + R->len != top.size) continue;
        L->len += R->len;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) sym[R->next].prev = (int32_t)top.left;
        spm_try_pair(t, esc, sym, L->prev, (int32_t)top.left, heap, &nheap);
        spm_try_pair(t, esc, sym, (int32_t)top.left, L->next, heap, &nheap);
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = sym[i].next) k += spm_symbol_ids(t, esc + sym[i].start, sym[i].len, out + k);
    *ids = out;
    *nids = k;
    return 0;
}

static int spm_word(enc_ctx *c, const char *w, size_t n)
{
    cache_slot *e = cache_slot_of(c, (const uint8_t *)w, n);
    if (cache_hit(e, (const uint8_t *)w, n)) {
        emit_all(c, e->ids, e->nids);
        return 0;
    }
    int32_t *ids;
    size_t nids;
    if (spm_chunk(c, w, n, &ids, &nids) != 0) return -1;
    emit_all(c, ids, nids);
    cache_store(e, (const uint8_t *)w, n, ids, nids);
    return 0;
}

/* Whether some mergeable piece contains code point a directly followed by b. Where not, no merge can
 * ever cross between a and b, so the text splits there into chunks that encode independently with
 * the same result (each chunk keeps its own score/leftmost order): words, for usual vocabs. */
static int spm_bigram_known(const ei_tokenizer *t, uint32_t a, uint32_t b)
{
    if (!t->bigrams) return 1;
    uint64_t key = ((uint64_t)a << 32) | b | (1ull << 63);
    uint64_t i = hash_u64(key) & t->bigram_mask;
    for (;;) {
        if (t->bigrams[i] == 0) return 0;
        if (t->bigrams[i] == key) return 1;
        i = (i + 1) & t->bigram_mask;
    }
}

static int spm_segment(enc_ctx *c, const uint8_t *s, size_t len, int prefix)
{
    const ei_tokenizer *t = c->t;
    char *esc = grow(&c->esc, (len + 1) * 3); /* every byte a space -> 3 bytes, plus the prefix */
    if (!esc) return -1;
    /* escape: ' ' -> U+2581, with one in front when the prefix applies */
    static const char kSpace[3] = {(char)0xE2, (char)0x96, (char)0x81};
    size_t e = 0;
    if (prefix) { memcpy(esc, kSpace, 3); e = 3; }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') { memcpy(esc + e, kSpace, 3); e += 3; }
        else esc[e++] = (char)s[i];
    }
    size_t start = 0, l;
    uint32_t prev = utf8_decode((const uint8_t *)esc, &l);
    for (size_t i = l; i < e; i += l) {
        uint32_t cp = utf8_decode((const uint8_t *)esc + i, &l);
        if (!spm_bigram_known(t, prev, cp)) {
            if (spm_word(c, esc + start, i - start) != 0) return -1;
            start = i;
        }
        prev = cp;
    }
    return spm_word(c, esc + start, e - start);
}

/* ---- special tokens and the whole text */

/* The longest special token starting at s[p], or -1. Control and unknown tokens match only with
 * parse_special; user-defined tokens always do (as in llama.cpp). The candidate lengths are tried
 * shortest first with one running hash, so a position costs the longest candidate's bytes, not
 * the sum of all candidates' lengths. */
static int32_t match_special(const ei_tokenizer *t, const uint8_t *s, size_t p, size_t len,
                             int parse_special, size_t *mlen)
{
    const uint8_t b = s[p];
    uint64_t h = fnv_basis();
    size_t hashed = 0;
    int32_t best = -1;
    for (uint32_t k = t->special_first[b + 1]; k-- > t->special_first[b];) { /* longest first: walk back */
        const size_t l = t->special_len[k];
        if (l > len - p) break; /* the rest are longer still */
        for (; hashed < l; hashed++) h = (h ^ s[p + hashed]) * FNV_PRIME;
        int32_t id = special_find_hashed(t, (const char *)s + p, l, fnv_finish(h));
        if (id < 0 || (!parse_special && t->type[id] != TT_USER)) continue;
        best = id, *mlen = l;
    }
    return best;
}

/* One stretch of text between special tokens. For llama vocabs each stretch gets the space prefix:
 * it starts the text or follows a special token, as in llama.cpp. */
static int encode_segment(enc_ctx *c, const uint8_t *s, size_t len)
{
    if (len == 0) return 0;
    if (c->t->kind == KIND_GPT2) return gpt2_segment(c, s, len);
    return spm_segment(c, s, len, c->t->add_space_prefix);
}

static int encode_text(enc_ctx *c, const uint8_t *s, size_t len, int parse_special)
{
    const ei_tokenizer *t = c->t;
    size_t seg = 0;
    for (size_t p = 0; p < len; p++) {
        if (t->special_first[s[p]] == t->special_first[s[p] + 1]) continue; /* no special starts so */
        size_t ml;
        int32_t id = match_special(t, s, p, len, parse_special, &ml);
        if (id < 0) continue;
        if (encode_segment(c, s + seg, p - seg) != 0) return -1;
        emit(c, id);
        p += ml - 1;
        seg = p + 1;
    }
    return encode_segment(c, s + seg, len - seg);
}

int64_t ei_tokenizer_encode(const ei_tokenizer *t, const char *text, size_t len, int add_bos,
                            int parse_special, int32_t *out, int64_t cap, char *err, size_t errlen)
{
    if (!t || (!text && len) || (!out && cap > 0) || cap < 0) {
        set_err(err, errlen, "bad arguments to ei_tokenizer_encode");
        return -1;
    }
    if (len > MAX_TEXT_BYTES) {
        set_err(err, errlen, "text of %zu bytes is too long (limit %zu)", len, MAX_TEXT_BYTES);
        return -1;
    }
    const uint8_t *s = (const uint8_t *)text;
    size_t bad = len ? utf8_first_invalid(s, len) : 0;
    if (bad < len) {
        set_err(err, errlen, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad, s[bad]);
        return -1;
    }
    enc_ctx c = {.t = t, .out = out, .cap = cap};
    if (len >= CACHE_MIN_TEXT) c.cache = calloc(CACHE_SLOTS, sizeof *c.cache); /* optional: NULL ok */
    if (add_bos && t->bos >= 0) emit(&c, t->bos);
    int rc = len ? encode_text(&c, s, len, parse_special) : 0;
    free(c.work.p);
    free(c.esc.p);
    free(c.cache);
    if (rc != 0) {
        set_err(err, errlen, "out of memory while encoding %zu bytes", len);
        return -1;
    }
    return c.n;
}

/* --------------------------------------------------------------------------------- decoding */

/* Bytes of token id as decode emits them (empty for unrendered control/unknown tokens). */
static const char *piece_of(const ei_tokenizer *t, int32_t id, int render_special, size_t *len)
{
    int ty = t->type[id];
    if (!render_special && (ty == TT_CONTROL || ty == TT_UNKNOWN)) {
        *len = 0;
        return "";
    }
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece + t->piece_off[id];
}

int ei_tokenizer_piece(const ei_tokenizer *t, int32_t id, int render_special, char *buf, int cap)
{
    if (!t || id < 0 || id >= t->n) return -1;
    size_t len;
    const char *p = piece_of(t, id, render_special, &len);
    if (cap > 0 && buf) memcpy(buf, p, len < (size_t)cap ? len : (size_t)cap);
    return (int)len;
}

void ei_detok_init(ei_detok *d, const ei_tokenizer *t, int render_special)
{
    memset(d, 0, sizeof *d);
    d->tok = t;
    d->at_start = 1;
    d->render_special = render_special;
}

static const char kReplacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* Copies n bytes to out at *o when out is set (a NULL out only measures). */
static void put_bytes(char *out, int *o, const void *src, int n)
{
    if (out) memcpy(out + *o, src, (size_t)n);
    *o += n;
}

/* Streams the bytes pending ++ piece: complete valid sequences are copied, each maximal invalid
 * subpart becomes one U+FFFD, and an incomplete sequence at the end is held in pend. Returns the
 * output size; writes only when out is set. */
static int utf8_stream(const uint8_t *pending, int np, const uint8_t *piece, size_t len, char *out,
                       uint8_t *pend, int *npend)
{
    size_t total = (size_t)np + len;
#define AT(k) ((k) < (size_t)np ? pending[(k)] : piece[(k) - (size_t)np])
    int o = 0;
    size_t i = 0;
    int held = 0;
    uint8_t hold[4] = {0};
    while (i < total) {
        uint8_t b0 = AT(i);
        int need = utf8_seq_len(b0);
        if (need == 0) { put_bytes(out, &o, kReplacement, 3); i++; continue; }
        int k = 1;
        while (k < need && i + (size_t)k < total && utf8_cont_ok(b0, k, AT(i + (size_t)k))) k++;
        if (k == need) {
            for (int j = 0; j < need; j++) {
                uint8_t byte = AT(i + (size_t)j);
                put_bytes(out, &o, &byte, 1);
            }
        } else if (i + (size_t)k == total) {
            for (int j = 0; j < k; j++) hold[j] = AT(i + (size_t)j); /* wait for the rest */
            held = k;
        } else {
            put_bytes(out, &o, kReplacement, 3);
        }
        i += (size_t)k;
    }
#undef AT
    if (pend) {
        memcpy(pend, hold, (size_t)held);
        *npend = held;
    }
    return o;
}

int ei_detok_push(ei_detok *d, int32_t id, char *out, int cap)
{
    const ei_tokenizer *t = d->tok;
    if (!t || id < 0 || id >= t->n || cap < 0 || (!out && cap > 0)) return -1;
    size_t len;
    const char *p = piece_of(t, id, d->render_special, &len);
    if (len == 0) return 0;
    int drop = d->at_start && t->add_space_prefix && p[0] == ' ';
    const uint8_t *piece = (const uint8_t *)p + drop;
    len -= (size_t)drop;
    int need = utf8_stream(d->pending, d->npending, piece, len, NULL, NULL, NULL);
    if (need > cap) return -1; /* nothing consumed: the caller may retry with more room */
    uint8_t pend[4];
    int npend = 0;
    utf8_stream(d->pending, d->npending, piece, len, out, pend, &npend);
    memcpy(d->pending, pend, (size_t)npend);
    d->npending = npend;
    d->at_start = 0;
    return need;
}

int ei_detok_flush(ei_detok *d, char *out, int cap)
{
    if (d->npending == 0) return 0;
    if (cap < 3 || !out) return -1;
    memcpy(out, kReplacement, 3); /* an incomplete sequence is one maximal subpart */
    d->npending = 0;
    return 3;
}

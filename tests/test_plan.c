/* Fixed-shape plans (method.md section 6): a session allocates exactly its plan's bytes, once, at
 * creation; evaluating tokens (prefill with window compression, decode) allocates nothing; and a
 * real run's resident memory grows by what the plan says (weights + arena).
 * Allocation is observed by interposing malloc & co. (glibc's __libc_* entry points), so the test
 * is skipped under AddressSanitizer, which owns the allocator there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "edgeinf.h"
#include "tiny_model.h"


#if defined(__SANITIZE_ADDRESS__)
#define EI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EI_ASAN 1
#endif
#endif

#ifndef EI_ASAN
/* ------------------------------------------------------- counting allocator */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile long n_allocs;     /* allocations since the last reset */
static volatile size_t big_alloc;  /* the largest single allocation since the last reset */

static void count(size_t n) {
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    if (n > big_alloc) big_alloc = n;
}
void *malloc(size_t n) { count(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(n); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t n) {
    count(n);
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n) { count(n); return __libc_memalign(align, n); }
static void reset_counts(void) { n_allocs = 0, big_alloc = 0; }
#endif

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }

typedef struct { const char *what; int infinite, sink, window, chunk, memory; ei_update_rule update; ei_kv_type kv; int evict; } config;

static void test_config(const ei_model *m, const config *c, int n_prompt) {
    char name[256];
    snprintf(name, sizeof name, "plan: %s: arena = plan bytes, one allocation, nothing allocated while evaluating", c->what);
    TEST_BEGIN();
    ei_session_params p = ei_session_default_params();
    p.infinite = c->infinite, p.n_sink = c->sink, p.n_window = c->window, p.n_chunk = c->chunk, p.update = c->update;
    p.kv_type = c->kv, p.n_threads = 2, p.n_ctx = c->infinite ? 0 : n_prompt + 64;
    p.gate_const = c->memory ? 0.4f : -1.0f;
    p.evict = c->evict;
    ei_plan_entry e[64];
    size_t total = 0, sum = 0;
    int n = ei_plan_describe(m, &p, e, 64, &total);
    CHECK(n > 0 && n <= 64, "plan: %s", ei_last_error());
    for (int i = 0; i < n && i < 64; i++) sum += up64(e[i].bytes);
    CHECK(sum == total, "plan entries add up to %zu, total says %zu", sum, total);
    const int V = ei_model_get_info(m)->n_vocab;
    int32_t *toks = malloc(sizeof *toks * (size_t)n_prompt);
    for (int i = 0; i < n_prompt; i++) toks[i] = 1 + (int32_t)((i * 7919u + 5u) % (unsigned)(V - 1));
#ifndef EI_ASAN
    reset_counts();
#endif
    ei_session *s = ei_session_new(m, &p);
    CHECK(s != NULL, "session: %s", ei_last_error());
    if (!s) { free(toks); TEST_END(name); return; }
    CHECK(ei_session_arena_bytes(s) == total, "arena %zu bytes, plan %zu", ei_session_arena_bytes(s), total);
#ifndef EI_ASAN
    CHECK(big_alloc == total, "largest allocation at creation is %zu bytes, the plan's arena %zu", (size_t)big_alloc, total);
    reset_counts();
#endif
    /* prefill in several calls (crosses the window, so segments are compressed), then decode */
    int rc = 0;
    for (int done = 0; done < n_prompt && !rc; done += 77)
        rc = ei_session_eval(s, toks + done, n_prompt - done < 77 ? n_prompt - done : 77, NULL, NULL, NULL);
    for (int i = 0; i < 16 && !rc; i++) rc = ei_session_eval(s, &toks[i], 1, NULL, NULL, NULL);
#ifndef EI_ASAN
    long seen = n_allocs;
#endif
    CHECK(rc == 0, "eval: %s", ei_last_error());
#ifndef EI_ASAN
    CHECK(seen == 0, "%ld allocations while evaluating %d tokens", seen, n_prompt + 16);
#endif
    ei_memory_stats ms;
    ei_session_memory_stats(s, &ms);
    if (c->infinite && c->memory) CHECK(ms.n_memory > 0, "the run should have compressed tokens into memory");
    printf("  arena %.2f MiB in %d buffers; %lld tokens in memory\n", total / 1048576.0, n, (long long)ms.n_memory);
    ei_session_free(s);
    free(toks);
    TEST_END(name);
}

/* Fixed shapes: every prefill call of a session computes exactly n_chunk rows (the last chunk of a
 * prompt, and chunks cut short by a full window, are padded), decode calls compute one row, and the
 * padding changes nothing: logits equal those of a session that computes only its own rows. */
static void test_fixed_shapes(const ei_model *m, int infinite) {
    char name[200];
    snprintf(name, sizeof name, "plan: fixed shapes (%s): every prefill call runs L rows, padding masked (logits bit-identical)",
             infinite ? "EdgeInfinite" : "full attention");
    TEST_BEGIN();
    const int L = 64, n_prompt = 400, V = ei_model_get_info(m)->n_vocab;
    ei_session_params p = ei_session_default_params();
    p.infinite = infinite, p.n_sink = 8, p.n_window = 128, p.n_chunk = L, p.gate_const = infinite ? 0.4f : -1.0f;
    p.n_threads = 2, p.n_ctx = infinite ? 0 : n_prompt + 64;
    ei_session_params pd = p;
    pd.dynamic_shape = 1;
    ei_session *fixed = ei_session_new(m, &p), *dyn = ei_session_new(m, &pd);
    int32_t *toks = malloc(sizeof *toks * (size_t)n_prompt);
    CHECK(fixed && dyn && toks, "sessions: %s", ei_last_error());
    if (fixed && dyn && toks) {
        for (int i = 0; i < n_prompt; i++) toks[i] = 1 + (int32_t)((i * 7919u + 5u) % (unsigned)(V - 1));
        /* calls of 77 tokens: chunks of 64, 13, 51, 26, ... */
        int rc = 0, n_logit_diff = 0;
        for (int done = 0; done < n_prompt && !rc; done += 77) {
            const int n = n_prompt - done < 77 ? n_prompt - done : 77;
            rc = ei_session_eval(fixed, toks + done, n, NULL, NULL, NULL) || ei_session_eval(dyn, toks + done, n, NULL, NULL, NULL);
            n_logit_diff += memcmp(ei_session_logits(fixed), ei_session_logits(dyn), sizeof(float) * (size_t)V) != 0;
        }
        ei_shape_stats a, b;
        ei_session_shape_stats(fixed, &a);
        ei_session_shape_stats(dyn, &b);
        CHECK(rc == 0, "eval: %s", ei_last_error());
        CHECK(a.calls > 7 && a.rows == a.calls * L, "fixed: %lld calls computed %lld rows, want %d each", (long long)a.calls,
              (long long)a.rows, L);
        CHECK(a.pad_rows == a.rows - n_prompt && a.pad_rows > 0, "fixed: %lld padding rows of %lld", (long long)a.pad_rows, (long long)a.rows);
        CHECK(b.rows == n_prompt && b.pad_rows == 0, "dynamic: %lld rows, %lld padding", (long long)b.rows, (long long)b.pad_rows);
        CHECK(n_logit_diff == 0, "%d of the calls gave different logits with padding", n_logit_diff);
        for (int i = 0; i < 8 && !rc; i++) rc = ei_session_eval(fixed, &toks[i], 1, NULL, NULL, NULL);
        ei_shape_stats c;
        ei_session_shape_stats(fixed, &c);
        CHECK(c.calls == a.calls + 8 && c.rows == a.rows + 8, "decode: %lld calls, %lld rows after 8 one-token calls",
              (long long)(c.calls - a.calls), (long long)(c.rows - a.rows));
        printf("  %lld prefill calls x %d rows, %lld of them padding\n", (long long)a.calls, L, (long long)a.pad_rows);
    }
    ei_session_free(fixed);
    ei_session_free(dyn);
    free(toks);
    TEST_END(name);
}

/* Resident memory of a real run against the plan: weights (mapped file) + arena, within 5%. */
static void test_rss(void) {
    const char *name = "plan: RSS growth of a real EdgeInfinite run = weights + arena (within 5%)";
#ifdef EI_ASAN
    SKIP(name, "AddressSanitizer's shadow memory and quarantine distort RSS in this build");
    return;
#endif
    if (access(SMOL, R_OK)) { SKIP(name, "%s is absent (make model)", SMOL); return; }
    TEST_BEGIN();
    uint64_t before = ei_current_rss_bytes();
    ei_model *m = ei_model_load(SMOL);
    CHECK(m != NULL, "load: %s", ei_last_error());
    if (!m) { TEST_END(name); return; }
    ei_profile pr;
    ei_profile_builtin("summarize", &pr);
    ei_session_params p = ei_session_params_for(&pr, EI_MODE_INFINITE, 0, 2);
    p.gate_const = 0.3f;
    size_t total = 0;
    ei_plan_describe(m, &p, NULL, 0, &total);
    ei_session *s = ei_session_new(m, &p);
    const int n = 2 * (pr.sink + pr.window + pr.chunk), V = ei_model_get_info(m)->n_vocab;
    int32_t *toks = malloc(sizeof *toks * (size_t)n);
    for (int i = 0; toks && i < n; i++) toks[i] = 1 + (int32_t)((i * 7919u + 5u) % (unsigned)(V - 1));
    CHECK(s && toks && ei_session_eval(s, toks, n, NULL, NULL, NULL) == 0, "run: %s", ei_last_error());
    uint64_t after = ei_current_rss_bytes();
    double want = (double)ei_model_get_info(m)->file_bytes + (double)total, got = (double)(after - before);
    printf("  RSS grew %.1f MiB; plan: weights %.1f MiB + arena %.1f MiB = %.1f MiB (%+.1f%%)\n", got / 1048576.0,
           ei_model_get_info(m)->file_bytes / 1048576.0, total / 1048576.0, want / 1048576.0, 100.0 * (got - want) / want);
    CHECK(before > 0 && after > before, "RSS not readable");
    CHECK(got > 0.95 * want && got < 1.05 * want, "RSS growth %.1f MiB vs plan %.1f MiB", got / 1048576.0, want / 1048576.0);
    free(toks);
    ei_session_free(s);
    ei_model_free(m);
    TEST_END(name);
}

int main(void) {
#ifdef EI_ASAN
    SKIP("plan: allocation counting", "the allocator belongs to AddressSanitizer in this build");
#endif
    ei_model *m = NULL;
    if (!access(SMOL, R_OK)) m = ei_model_load(SMOL);
    else if (tiny_model_present()) m = tiny_model_load();
    if (!m) {
        SKIP("plan: sessions", "no model (make model, or ../shared/models/stories260K)");
    } else {
        const config cs[] = {
            {"full attention, f16 KV", 0, 0, 0, 64, 0, EI_UPDATE_LINEAR, EI_KV_F16, EI_EVICT_OLDEST},
            {"StreamingLLM (S=8, W=128, L=64)", 1, 8, 128, 64, 0, EI_UPDATE_LINEAR, EI_KV_F16, EI_EVICT_OLDEST},
            {"EdgeInfinite linear (S=8, W=128, L=64)", 1, 8, 128, 64, 1, EI_UPDATE_LINEAR, EI_KV_F16, EI_EVICT_OLDEST},
            {"EdgeInfinite delta, f32 KV (S=0, W=64, L=32)", 1, 0, 64, 32, 1, EI_UPDATE_DELTA, EI_KV_F32, EI_EVICT_OLDEST},
            {"H2O eviction, f16 KV (S=8, W=128, L=64)", 1, 8, 128, 64, 0, EI_UPDATE_LINEAR, EI_KV_F16, EI_EVICT_H2O},
            {"SnapKV eviction, f16 KV (S=8, W=128, L=64)", 1, 8, 128, 64, 0, EI_UPDATE_LINEAR, EI_KV_F16, EI_EVICT_SNAPKV},
        };
        for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) test_config(m, &cs[i], 400);
        test_fixed_shapes(m, 0);
        test_fixed_shapes(m, 1);
        ei_model_free(m);
    }
    test_rss();
    CHECK_EXIT();
}

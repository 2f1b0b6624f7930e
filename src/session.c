/* Session lifecycle: resolve the parameters, build the plan, allocate its arena once, and evaluate
 * tokens chunk by chunk (compressing the window when it overflows). Nothing is allocated after
 * ei_session_new. */
#include <math.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "gate.h"
#include "memory.h"
#include "session.h"
#include "util.h"

ei_session_params ei_session_default_params(void) {
    ei_session_params p;
    memset(&p, 0, sizeof p);
    p.n_chunk = 128;
    p.n_threads = 1;
    p.kv_type = EI_KV_F16;
    p.gate_const = -1.0f;
    return p;
}

ei_session_params ei_session_params_for(const ei_profile *pr, ei_mode path, int n_ctx, int n_threads) {
    ei_session_params p = ei_session_default_params();
    p.n_ctx = n_ctx;
    p.n_chunk = pr->chunk;
    p.n_threads = n_threads;
    p.kv_type = pr->kv_type;
    p.infinite = path == EI_MODE_INFINITE;
    p.n_sink = pr->sink;
    p.n_window = pr->window;
    p.update = pr->update;
    return p;
}

/* Fills defaults and refuses inconsistent parameters; 0 or -1 with a message. */
static int resolve(const ei_model *m, ei_session_params *p) {
    const ei_model_info *in = &m->info;
    if (p->n_ctx <= 0) p->n_ctx = in->n_ctx_train;
    if (p->n_chunk <= 0) p->n_chunk = 128;
    if (p->n_threads <= 0) p->n_threads = 1;
    if (p->n_ctx > (1 << 24)) return ei_set_error("context %d is too large (max %d)", p->n_ctx, 1 << 24);
    if (p->n_chunk > 8192) return ei_set_error("chunk %d is too large (max 8192)", p->n_chunk);
    if (p->n_threads > 64) return ei_set_error("%d threads is too many (max 64)", p->n_threads);
    if (p->kv_type != EI_KV_F32 && p->kv_type != EI_KV_F16) return ei_set_error("unknown KV cache type %d", (int)p->kv_type);
    if (p->evict != EI_EVICT_OLDEST && p->evict != EI_EVICT_H2O && p->evict != EI_EVICT_SNAPKV)
        return ei_set_error("unknown eviction policy %d", p->evict);
    const char *policy = p->evict == EI_EVICT_H2O ? "H2O" : "SnapKV";
    if (p->evict != EI_EVICT_OLDEST && !p->infinite) return ei_set_error("%s eviction needs the sink + window path (infinite)", policy);
    if (!p->infinite) {
        if (p->n_chunk > p->n_ctx) p->n_chunk = p->n_ctx;
        return 0;
    }
    if (p->n_sink < 0 || p->n_window < 1)
        return ei_set_error("EdgeInfinite needs sink >= 0 and window >= 1 (got sink %d, window %d)", p->n_sink, p->n_window);
    if (p->n_window % p->n_chunk)
        return ei_set_error("window %d must be a multiple of the chunk %d (segments are compressed whole)", p->n_window, p->n_chunk);
    if ((int64_t)p->n_sink + p->n_window + p->n_chunk > in->n_ctx_train)
        return ei_set_error("sink %d + window %d + chunk %d = %lld positions exceed the model's trained context %d", p->n_sink,
                            p->n_window, p->n_chunk, (long long)p->n_sink + p->n_window + p->n_chunk, in->n_ctx_train);
    if (p->update != EI_UPDATE_LINEAR && p->update != EI_UPDATE_DELTA) return ei_set_error("unknown memory update rule %d", (int)p->update);
    if (p->gate_const > 1.0f) return ei_set_error("constant gate %g must be in [0, 1]", (double)p->gate_const);
    if (p->gate && ei_gate_check(p->gate, m, p)) return -1;
    if (p->evict != EI_EVICT_OLDEST) {
        if (p->gate || p->gate_const >= 0) return ei_set_error("%s eviction is a baseline without memory: it takes no gate", policy);
        if (p->evict == EI_EVICT_SNAPKV) {
            if (p->n_observe <= 0) p->n_observe = p->n_chunk < 32 ? p->n_chunk : 32;
            /* the observation window lies between two evictions, which are a chunk apart */
            if (p->n_observe > p->n_chunk)
                return ei_set_error("SnapKV: an observation window of %d queries exceeds the chunk of %d", p->n_observe, p->n_chunk);
        }
        if (p->n_recent <= 0) p->n_recent = p->evict == EI_EVICT_H2O ? p->n_window / 2 : p->n_observe;
        if (p->n_recent > p->n_window)
            return ei_set_error("%s: %d recent tokens do not fit the window of %d", policy, p->n_recent, p->n_window);
        if (p->evict == EI_EVICT_SNAPKV && p->n_observe > p->n_recent) /* observers must not evict each other */
            return ei_set_error("SnapKV: the %d observing queries must be among the %d recent tokens kept", p->n_observe,
                                p->n_recent);
    }
    return 0;
}

ei_session *ei_session_new(const ei_model *m, const ei_session_params *params) {
    ei_session_params p = params ? *params : ei_session_default_params();
    if (resolve(m, &p)) return NULL;
    ei_session *s = calloc(1, sizeof *s);
    if (!s) {
        ei_set_error("out of memory");
        return NULL;
    }
    static _Atomic uint64_t next_id = 1;
    s->id = atomic_fetch_add(&next_id, 1);
    s->m = m;
    s->k = m->kern;
    s->p = p;
    s->kv_elem = p.kv_type == EI_KV_F16 ? 2 : 4;
    ei_plan_build(m, &p, &s->plan);
    s->arena = ei_alloc_aligned(s->plan.total);
    if (!s->arena) {
        ei_set_error("cannot allocate the session arena of %zu MiB", s->plan.total >> 20);
        free(s);
        return NULL;
    }
    void *ptrs[BUF_COUNT];
    for (int i = 0; i < BUF_COUNT; i++) ptrs[i] = s->plan.bytes[i] ? s->arena + s->plan.offset[i] : NULL;
    s->x = ptrs[BUF_X];
    s->xn = ptrs[BUF_XN];
    s->q = ptrs[BUF_Q];
    s->q_pre = ptrs[BUF_Q_PRE];
    s->q_cache = ptrs[BUF_Q_CACHE];
    s->k_new = ptrs[BUF_K_NEW];
    s->v_new = ptrs[BUF_V_NEW];
    s->att = ptrs[BUF_ATT];
    s->a_mem = ptrs[BUF_A_MEM];
    s->ff_gate = ptrs[BUF_FF_GATE];
    s->ff_up = ptrs[BUF_FF_UP];
    s->xq = ptrs[BUF_XQ];
    s->scores = ptrs[BUF_SCORES];
    s->decode = ptrs[BUF_DECODE];
    s->logits = ptrs[BUF_LOGITS];
    s->rope_abs = ptrs[BUF_ROPE_ABS];
    s->rope_cache = ptrs[BUF_ROPE_CACHE];
    s->k_cache = ptrs[BUF_K_CACHE];
    s->v_cache = ptrs[BUF_V_CACHE];
    s->mem_M = ptrs[BUF_MEM_M];
    s->mem_z = ptrs[BUF_MEM_Z];
    s->mem_scratch = ptrs[BUF_MEM_SCRATCH];
    s->ev_score = ptrs[BUF_EV_SCORE];
    s->ev_block = ptrs[BUF_EV_BLOCK];
    s->ev_rope = ptrs[BUF_EV_ROPE];
    s->ev_scratch = ptrs[BUF_EV_SCRATCH];
    s->pool = ei_pool_new(p.n_threads);
    if (!s->pool) {
        ei_set_error("cannot start %d threads", p.n_threads);
        ei_free_aligned(s->arena);
        free(s);
        return NULL;
    }
    return s;
}

void ei_session_free(ei_session *s) {
    if (!s) return;
    ei_pool_free(s->pool);
    ei_free_aligned(s->arena);
    free(s);
}

void ei_session_reset(ei_session *s) {
    s->n_stream = 0;
    s->n_sink_used = 0;
    s->ring_start = s->ring_count = 0;
    s->ring_pos0 = 0;
    s->n_memory = 0;
    s->n_calls = s->n_rows = s->n_pad_rows = 0;
    if (s->mem_M) memset(s->mem_M, 0, s->plan.bytes[BUF_MEM_M]);
    if (s->mem_z) memset(s->mem_z, 0, s->plan.bytes[BUF_MEM_Z]);
    if (s->ev_score) memset(s->ev_score, 0, s->plan.bytes[BUF_EV_SCORE]);
}

/* A snapshot: this header, then the whole arena (caches, memory, logits; the scratch buffers ride
 * along, which costs a few percent of the copy and keeps the list of what persists in one place). */
typedef struct {
    uint64_t magic, id;
    size_t arena_bytes;
    int64_t n_stream, ring_pos0, n_memory, n_calls, n_rows, n_pad_rows;
    int n_sink_used, ring_start, ring_count;
} state_header;
#define EI_STATE_MAGIC 0x31657461747369ull /* "istate1" */

size_t ei_session_state_size(const ei_session *s) { return sizeof(state_header) + s->plan.total; }

int ei_session_state_save(const ei_session *s, void *buf, size_t size) {
    if (!buf || size < ei_session_state_size(s))
        return ei_set_error("session state: a buffer of %zu bytes, %zu needed", size, ei_session_state_size(s));
    state_header h;
    memset(&h, 0, sizeof h); /* padding too: the caller's buffer gets no stack bytes */
    h.magic = EI_STATE_MAGIC, h.id = s->id, h.arena_bytes = s->plan.total;
    h.n_stream = s->n_stream, h.ring_pos0 = s->ring_pos0, h.n_memory = s->n_memory;
    h.n_calls = s->n_calls, h.n_rows = s->n_rows, h.n_pad_rows = s->n_pad_rows;
    h.n_sink_used = s->n_sink_used, h.ring_start = s->ring_start, h.ring_count = s->ring_count;
    memcpy(buf, &h, sizeof h);
    memcpy((uint8_t *)buf + sizeof h, s->arena, s->plan.total);
    return 0;
}

int ei_session_state_load(ei_session *s, const void *buf, size_t size) {
    state_header h;
    if (!buf || size < sizeof h) return ei_set_error("session state: %zu bytes, not a saved state", size);
    memcpy(&h, buf, sizeof h);
    if (h.magic != EI_STATE_MAGIC) return ei_set_error("session state: not a saved state (bad magic)");
    if (h.id != s->id || h.arena_bytes != s->plan.total)
        return ei_set_error("session state: saved by another session (a state goes back only where it came from)");
    if (size < ei_session_state_size(s))
        return ei_set_error("session state: %zu bytes, %zu needed", size, ei_session_state_size(s));
    /* the counters index the caches: a buffer changed after it was saved must not reach them */
    const int cap = s->plan.ring_cap;
    const int64_t sink_used = h.n_stream < s->p.n_sink ? h.n_stream : s->p.n_sink;
    const int ring_ok = s->p.infinite ? h.ring_count >= 0 && h.ring_count < cap : h.ring_count >= 0 && h.ring_count <= cap;
    if (!ring_ok || h.ring_start < 0 || h.ring_start >= cap || h.n_stream < 0 || (!s->p.infinite && h.n_stream > s->p.n_ctx) ||
        h.n_sink_used != (s->p.infinite ? sink_used : 0) || h.ring_pos0 < 0 || h.ring_pos0 > h.n_stream || h.n_memory < 0 ||
        h.n_memory > h.n_stream)
        return ei_set_error("session state: inconsistent counters (changed after it was saved?)");
    memcpy(s->arena, (const uint8_t *)buf + sizeof h, s->plan.total);
    s->n_stream = h.n_stream, s->ring_pos0 = h.ring_pos0, s->n_memory = h.n_memory;
    s->n_calls = h.n_calls, s->n_rows = h.n_rows, s->n_pad_rows = h.n_pad_rows;
    s->n_sink_used = h.n_sink_used, s->ring_start = h.ring_start, s->ring_count = h.ring_count;
    return 0;
}

void ei_cache_load(const ei_session *s, const void *cache, size_t off, float *out, int n) {
    if (s->p.kv_type == EI_KV_F16)
        for (int i = 0; i < n; i++) out[i] = ei_fp16_to_fp32(((const ei_fp16 *)cache)[off + i]);
    else memcpy(out, (const float *)cache + off, (size_t)n * sizeof *out);
}

void ei_cache_store(const ei_session *s, void *cache, size_t off, const float *in, int n) {
    if (s->p.kv_type == EI_KV_F16)
        for (int i = 0; i < n; i++) ((ei_fp16 *)cache)[off + i] = ei_fp32_to_fp16(in[i]);
    else memcpy((float *)cache + off, in, (size_t)n * sizeof *in);
}

int ei_session_n_past(const ei_session *s) { return (int)(s->n_stream < INT32_MAX ? s->n_stream : INT32_MAX); }
size_t ei_session_arena_bytes(const ei_session *s) { return s->plan.total; }
const float *ei_session_logits(const ei_session *s) { return s->logits; }

int ei_plan_describe(const ei_model *m, const ei_session_params *params, ei_plan_entry *out, int cap, size_t *total) {
    ei_session_params p = *params;
    if (resolve(m, &p)) return -1;
    ei_plan plan;
    ei_plan_build(m, &p, &plan);
    int n = 0;
    for (int i = 0; i < BUF_COUNT; i++) {
        if (!plan.bytes[i]) continue;
        if (n < cap) {
            out[n].name = ei_buf_names[i];
            out[n].bytes = plan.bytes[i];
        }
        n++;
    }
    if (total) *total = plan.total;
    return n;
}

/* How many of the next tokens can go into one forward call: at most a chunk, and no more than the
 * ring can take before the oldest window tokens must be compressed. */
static int next_chunk(const ei_session *s, int64_t remaining) {
    int64_t T = remaining < s->p.n_chunk ? remaining : s->p.n_chunk;
    if (!s->p.infinite) return (int)T;
    int64_t to_sink = s->n_stream < s->p.n_sink ? s->p.n_sink - s->n_stream : 0;
    int64_t room = to_sink + (s->plan.ring_cap - s->ring_count);
    return (int)(T < room ? T : room);
}

int ei_session_eval(ei_session *s, const int32_t *tokens, int64_t n, float *all_logits,
                    ei_progress_fn progress, void *user) {
    const int V = s->m->info.n_vocab;
    if (n <= 0) return ei_set_error("nothing to evaluate (%lld tokens)", (long long)n);
    if (!s->p.infinite && n > (int64_t)s->p.n_ctx - s->n_stream)
        return ei_set_error("context full: %lld tokens in the cache + %lld new > context %d", (long long)s->n_stream,
                            (long long)n, s->p.n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ei_set_error("token %lld has id %d, outside the vocabulary [0, %d)", (long long)i, tokens[i], V);
    for (int64_t done = 0; done < n;) {
        int T = next_chunk(s, n - done);
        ei_forward(s, tokens + done, T, all_logits ? all_logits + (size_t)done * V : NULL);
        done += T;
        /* the window may now hold a whole extra segment: move the oldest one into memory, or (H2O,
         * SnapKV) drop the segment's worth of tokens with the least attention received */
        while (s->p.infinite && s->ring_count >= s->plan.ring_cap)
            s->plan.evict_by_attention ? ei_evict_by_attention(s, s->p.n_chunk) : ei_compress(s, s->p.n_chunk);
        if (progress) progress(user, done, n);
    }
    return 0;
}

void ei_session_shape_stats(const ei_session *s, ei_shape_stats *out) {
    out->calls = s->n_calls;
    out->rows = s->n_rows;
    out->pad_rows = s->n_pad_rows;
}

void ei_session_memory_stats(const ei_session *s, ei_memory_stats *out) {
    memset(out, 0, sizeof *out);
    out->n_sink = s->n_sink_used;
    out->n_window = s->ring_count;
    out->n_memory = s->n_memory;
    if (!s->mem_M) return;
    const ei_model_info *in = &s->m->info;
    const int hd = in->head_dim, units = in->n_layer * in->n_head_kv;
    for (int u = 0; u < units; u++) {
        double mm = 0, zz = 0;
        for (int i = 0; i < hd * hd; i++) {
            float v = s->mem_M[(size_t)u * hd * hd + i];
            if (!isfinite(v)) out->non_finite = 1;
            mm += (double)v * v;
        }
        for (int i = 0; i < hd; i++) {
            float v = s->mem_z[(size_t)u * hd + i];
            if (!isfinite(v)) out->non_finite = 1;
            zz += (double)v * v;
        }
        mm = sqrt(mm);
        zz = sqrt(zz);
        if (mm > out->m_norm_max) out->m_norm_max = mm;
        if (zz > out->z_norm_max) out->z_norm_max = zz;
        out->m_norm_mean += mm / units;
        out->z_norm_mean += zz / units;
    }
}

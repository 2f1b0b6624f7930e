#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ROUNDS 200000
/* Spinning waiters give the core away this often: when the machine has more runnable threads than
 * cores (another job, a second session), a waiter that only spins burns the time slice the thread it
 * waits for needs, and a run slows down by an order of magnitude. On a quiet machine the yield
 * returns at once. */
#define YIELD_EVERY 256

static void spin_wait(unsigned spins) {
    if (spins % YIELD_EVERY == 0) sched_yield();
    else cpu_relax();
}

struct ei_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation;  /* bumped for each region */
    atomic_int pending;      /* workers still running the current region */
    atomic_int quit;
    ei_task_fn fn;
    void *ctx;
};

typedef struct { ei_pool *pool; int ith; } worker_arg;
static worker_arg *worker_args_of(ei_pool *p);

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    ei_pool *p = wa->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (atomic_load(&p->quit)) return NULL;
            if (++spins < SPIN_ROUNDS) {
                spin_wait(spins);
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        p->fn(p->ctx, wa->ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

/* worker args live right after the thread handles, in the same allocation */
static worker_arg *worker_args_of(ei_pool *p) { return (worker_arg *)(p->threads + p->n); }

ei_pool *ei_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) return NULL;
    ei_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t) + sizeof(worker_arg));
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    worker_arg *args = worker_args_of(p);
    for (int i = 1; i < n_threads; i++) {
        args[i].pool = p;
        args[i].ith = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, &args[i]) != 0) {
            p->n = i; /* join the ones that started */
            ei_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void ei_pool_free(ei_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int ei_pool_size(const ei_pool *p) { return p->n; }

void ei_pool_run(ei_pool *p, ei_task_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (unsigned spins = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) spin_wait(spins);
}

void ei_split(int total, int grain, int ith, int nth, int *begin, int *end) {
    if (grain < 1) grain = 1;
    int units = (total + grain - 1) / grain;
    int per = units / nth, extra = units % nth;
    int ub = ith * per + (ith < extra ? ith : extra);
    int ue = ub + per + (ith < extra ? 1 : 0);
    *begin = ub * grain < total ? ub * grain : total;
    *end = ue * grain < total ? ue * grain : total;
}

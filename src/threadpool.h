/* A fixed pool of worker threads that run one parallel region at a time. The caller's thread is
 * worker 0, so n_threads = 1 means no extra threads at all. Workers spin briefly between regions
 * (a decode step runs hundreds of short regions) and then sleep on a condition variable. */
#ifndef EI_THREADPOOL_H
#define EI_THREADPOOL_H

typedef struct ei_pool ei_pool;
typedef void (*ei_task_fn)(void *ctx, int ith, int nth);

ei_pool *ei_pool_new(int n_threads); /* NULL on failure */
void ei_pool_free(ei_pool *p);
int ei_pool_size(const ei_pool *p);
/* Runs fn(ctx, i, n) on every worker i in [0, n) and returns when all are done. */
void ei_pool_run(ei_pool *p, ei_task_fn fn, void *ctx);

/* The share [begin, end) of `total` items for worker ith of nth, in units of `grain` items. */
void ei_split(int total, int grain, int ith, int nth, int *begin, int *end);

#endif

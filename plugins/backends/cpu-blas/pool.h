/* plugins/backends/cpu-blas/pool.h — a persistent thread pool: threads are
 * created once at init; between parallel regions they spin (at most 1 ms,
 * then sleep on a condition variable), so a region costs a few stores,
 * never a pthread_create or, inside a request, a wake-up.  How tasks are
 * handed out: pool.c. */
#ifndef CPUBLAS_POOL_H
#define CPUBLAS_POOL_H

#include <stdint.h>

struct cb_pool;

/* fn(ctx, task, tid) for every task in [0, n_tasks); tid < n_threads
 * identifies the calling thread (for per-thread scratch). */
typedef void (*cb_task_fn)(void *ctx, int64_t task, int tid);

int cb_pool_create(struct cb_pool **out, int n_threads);
void cb_pool_destroy(struct cb_pool *p);
int cb_pool_threads(const struct cb_pool *p);
/* Runs every task exactly once, the caller taking part as tid 0; returns
 * when all are done.  Which thread runs which task varies from run to run:
 * a task's result must not depend on it (tid only picks scratch). */
void cb_pool_run(struct cb_pool *p, cb_task_fn fn, void *ctx, int64_t n_tasks);

#endif

/* plugins/backends/cpu-blas/pool.h — a persistent thread pool: threads are
 * created once at init and woken per parallel region, so an op costs a
 * wake-up (a short spin, then a condition variable), never a
 * pthread_create. */
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
/* Runs every task, the caller taking part as tid 0; returns when all are
 * done. */
void cb_pool_run(struct cb_pool *p, cb_task_fn fn, void *ctx, int64_t n_tasks);

#endif

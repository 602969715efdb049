/* plugins/backends/cpu-blas/pool.c — see pool.h.  Tasks are handed out
 * through one atomic counter, so uneven tasks balance themselves.  Workers
 * spin briefly on the generation counter before sleeping: a decode step
 * runs a hundred small ops back to back and a futex wake per op would
 * cost more than many of them. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pool.h"

#define SPIN 20000

struct cb_pool {
	int n;                   /* threads, the caller included */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	cb_task_fn fn;
	void *ctx;
	int64_t n_tasks;
	atomic_llong next;       /* next task to hand out */
	atomic_int active;       /* workers still in the current region */
	atomic_uint gen;         /* bumped per region */
	atomic_int stop;
};

struct worker_arg {
	struct cb_pool *p;
	int tid;
};

/* One spin iteration; every 256th yields the CPU, so that on an
 * oversubscribed machine (more runnable threads than cores) a waiter does
 * not hold the core the thread it waits for needs. */
static inline void relax(int i)
{
	if ((i & 255) == 255) {
		sched_yield();
		return;
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void work(struct cb_pool *p, int tid)
{
	for (;;) {
		long long t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (t >= p->n_tasks)
			break;
		p->fn(p->ctx, t, tid);
	}
}

static void *worker(void *arg)
{
	struct cb_pool *p = ((struct worker_arg *)arg)->p;
	const int tid = ((struct worker_arg *)arg)->tid;
	unsigned seen = 0;
	free(arg);
	for (;;) {
		unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
		for (int i = 0; i < SPIN && g == seen; i++) {
			relax(i);
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			while ((g = atomic_load(&p->gen)) == seen)
				pthread_cond_wait(&p->wake, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		seen = g;
		if (atomic_load(&p->stop))
			return NULL;
		work(p, tid);
		if (atomic_fetch_sub(&p->active, 1) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

int cb_pool_threads(const struct cb_pool *p)
{
	return p->n;
}

void cb_pool_run(struct cb_pool *p, cb_task_fn fn, void *ctx, int64_t n_tasks)
{
	if (n_tasks <= 0)
		return;
	if (p->n == 1 || n_tasks == 1) {
		for (int64_t t = 0; t < n_tasks; t++)
			fn(ctx, t, 0);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->n_tasks = n_tasks;
	atomic_store(&p->next, 0);
	atomic_store(&p->active, p->n - 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	work(p, 0);
	for (int i = 0; i < SPIN && atomic_load(&p->active); i++)
		relax(i);
	if (atomic_load(&p->active)) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->active))
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

int cb_pool_create(struct cb_pool **out, int n_threads)
{
	struct cb_pool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->n = n_threads < 1 ? 1 : n_threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	p->th = calloc((size_t)p->n, sizeof *p->th);
	if (!p->th)
		goto fail;
	for (int i = 1; i < p->n; i++) {
		struct worker_arg *a = malloc(sizeof *a);
		if (!a)
			goto fail_threads;
		a->p = p;
		a->tid = i;
		if (pthread_create(&p->th[i], NULL, worker, a)) {
			free(a);
			goto fail_threads;
		}
		continue;
fail_threads:
		p->n = i;   /* the threads started so far are joined by destroy */
		cb_pool_destroy(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
fail:
	free(p);
	return -ENOMEM;
}

void cb_pool_destroy(struct cb_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	atomic_fetch_add(&p->gen, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p);
}

/* plugins/backends/cpu-blas/pool.c — see pool.h.
 *
 * A decode step is about a hundred parallel regions back to back (every
 * linear and attention of every layer), each 5–150 us, so what a region
 * costs beyond its tasks is paid a hundred times per token.  Three rules
 * keep that near zero:
 *
 * - Claiming, not joining.  A region is published as one 64-bit word,
 *   `claim` = region number << 32 | next task; a thread takes tasks
 *   [t, t + k) by a compare-and-swap from (region, t) to (region, t + k),
 *   k a share of what is left (guided scheduling: big batches first, one
 *   task at a time at the end), and the caller waits until `done` — tasks
 *   finished — reaches n_tasks.  A worker that
 *   has not woken yet (asleep, or its core lent to another thread: the
 *   probes' sampler, the runner, another process) holds nobody up: the
 *   caller runs the tasks it does not claim, and a latecomer finds the
 *   region exhausted or renumbered and claims nothing.  (Before, the
 *   caller waited for every worker to check in and out of every region,
 *   so one worker preempted for 100 us stalled the step for 100 us.)
 * - No lock on the way.  Publishing a region is a few stores; the mutex
 *   and condition variables are touched only when a worker (or the
 *   caller) actually sleeps, which the `sleepers` / `caller_waits` flags
 *   say (Dekker style: each side writes its flag, then reads the other's,
 *   both sequentially consistent).
 * - A bounded spin, then sleep.  Between regions a worker spins (PAUSE),
 *   after SPIN_YIELD_NS also yielding its core every few spins so that an
 *   oversubscribed machine can run what it waits for, and after
 *   SPIN_SLEEP_NS sleeps on a condition variable; the caller's wait for
 *   the last tasks is the same.  So an idle backend (between requests, in
 *   a phase that does not compute) stops using CPU within SPIN_SLEEP_NS,
 *   while the gaps inside a request (the serial ops of a step, argmax and
 *   bookkeeping between steps: tens of microseconds) never pay a wake-up.
 *   CPU-use probes therefore see a computing backend at `threads` cores
 *   busy, spinning included, and an idle one at none.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

/* The test's pauses at the two points of a region change that race
 * (tests/cpu-blas/test-pool.c): 0 a worker between reading `claim` and
 * the region's fields, 1 the caller between writing the fields and
 * opening the region.  Nothing in the plugin. */
#ifdef CB_POOL_TEST_HOOKS
void cb_pool_test_hook(int where);
#define POOL_HOOK(w) cb_pool_test_hook(w)
#else
#define POOL_HOOK(w) ((void)0)
#endif

/* The spin bounds, in nanoseconds of CLOCK_MONOTONIC (read every
 * SPIN_CHECK pauses, ~1 us apart). */
#define SPIN_YIELD_NS 50000LL
#define SPIN_SLEEP_NS 1000000LL
#define SPIN_CHECK 64

struct cb_pool {
	int n;                          /* threads, the caller included */
	pthread_t *th;
	/* the region being run: written by the caller before it publishes
	 * `claim`; a worker reads them after seeing `claim` and uses them
	 * only when its compare-and-swap on `claim` succeeds (atomics: a
	 * latecomer may read them while the caller writes the next
	 * region's) */
	_Alignas(64) _Atomic(cb_task_fn) fn;
	_Atomic(void *) ctx;
	atomic_llong n_tasks;
	_Alignas(64) atomic_ullong claim;  /* region << 32 | next task */
	_Alignas(64) atomic_llong done;    /* tasks of the region finished */
	_Alignas(64) atomic_int sleepers;  /* workers asleep, or about to be */
	atomic_int caller_waits;        /* the caller asleep on `finished` */
	atomic_int stop;
	pthread_mutex_t mu;
	pthread_cond_t wake, finished;
};

struct worker_arg {
	struct cb_pool *p;
	int tid;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* One spin of a wait that began at *t0 (0: not yet read).  1 while the
 * spin may go on; 0 once SPIN_SLEEP_NS have passed (then sleep). */
static inline int spin(unsigned i, long long *t0)
{
	cpu_relax();
	if (i % SPIN_CHECK)
		return 1;
	const long long t = now_ns();
	if (!*t0)
		*t0 = t;
	if (t - *t0 > SPIN_SLEEP_NS)
		return 0;
	if (t - *t0 > SPIN_YIELD_NS)
		sched_yield();
	return 1;
}

static inline uint32_t region_of(unsigned long long c)
{
	return (uint32_t)(c >> 32);
}

/* Claim and run tasks of `region` until it has none left (or has been
 * replaced by the next).  A claim takes k tasks at once (guided
 * scheduling): a task's result never depends on who runs it, so any split
 * gives the same output. */
static void work(struct cb_pool *p, uint32_t region, int tid)
{
	unsigned long long c = atomic_load_explicit(&p->claim, memory_order_acquire);
	for (;;) {
		if (region_of(c) != region)
			return;
		/* read before the claim: if the compare-and-swap below
		 * succeeds, task (uint32_t)c was still unclaimed, so the region
		 * was not finished and these are its values */
		POOL_HOOK(0);
		const cb_task_fn fn = atomic_load_explicit(&p->fn, memory_order_acquire);
		void *const ctx = atomic_load_explicit(&p->ctx, memory_order_acquire);
		const long long n = atomic_load_explicit(&p->n_tasks, memory_order_acquire);
		const long long t = (long long)(uint32_t)c;
		if (t >= n)
			return;
		/* guided: a share of what is left, down to single tasks at the
		 * end, so that few claims are made and the threads finish
		 * within about one task of each other */
		long long k = (n - t) / (2 * p->n);
		k = k < 1 ? 1 : k;
		if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + (unsigned long long)k,
							   memory_order_acq_rel, memory_order_acquire))
			continue;   /* c now holds the current value */
		for (long long i = t; i < t + k; i++)
			fn(ctx, i, tid);
		if (atomic_fetch_add(&p->done, k) + k == n && atomic_load(&p->caller_waits)) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->finished);
			pthread_mutex_unlock(&p->mu);
		}
		c = atomic_load_explicit(&p->claim, memory_order_acquire);
	}
}

static void *worker(void *arg)
{
	struct cb_pool *p = ((struct worker_arg *)arg)->p;
	const int tid = ((struct worker_arg *)arg)->tid;
	uint32_t seen = 0;
	free(arg);
	for (;;) {
		uint32_t r = region_of(atomic_load_explicit(&p->claim, memory_order_acquire));
		long long t0 = 0;
		for (unsigned i = 1; r == seen; i++) {
			if (!spin(i, &t0)) {
				pthread_mutex_lock(&p->mu);
				atomic_fetch_add(&p->sleepers, 1);
				while ((r = region_of(atomic_load(&p->claim))) == seen)
					pthread_cond_wait(&p->wake, &p->mu);
				atomic_fetch_sub(&p->sleepers, 1);
				pthread_mutex_unlock(&p->mu);
				break;
			}
			r = region_of(atomic_load_explicit(&p->claim, memory_order_acquire));
		}
		seen = r;
		if (atomic_load(&p->stop))
			return NULL;
		work(p, r, tid);
	}
}

int cb_pool_threads(const struct cb_pool *p)
{
	return p->n;
}

/* Publish a region: close the last one, write the fields, open the new
 * one in `claim`; wake sleeping workers.
 *
 * Closing first matters.  A worker leaving the last region reads `claim`
 * — (R, n) once every task is taken — and then n_tasks; were the fields
 * rewritten between the two reads, it would see t = n below the next
 * region's n_tasks, and its compare-and-swap from (R, n) would succeed
 * while `claim` still held that value: tasks past the old region's end,
 * run with the new region's fn, counted into the new region's `done`,
 * which then overshot n_tasks and the caller waited forever (seen as a
 * rare hang of 2-thread decode).  The closed word (R + 1, UINT32_MAX)
 * fails every compare-and-swap on R and claims nothing itself (t ≥ any
 * n_tasks); the fields are release-stored after it, so a worker that
 * reads one of them (acquire) sees `claim` closed or reopened. */
static uint32_t publish(struct cb_pool *p, cb_task_fn fn, void *ctx, int64_t n_tasks)
{
	const uint32_t r = region_of(atomic_load_explicit(&p->claim, memory_order_relaxed)) + 2;
	atomic_store(&p->claim, (unsigned long long)(r - 1) << 32 | UINT32_MAX);
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	atomic_store_explicit(&p->fn, fn, memory_order_release);
	atomic_store_explicit(&p->ctx, ctx, memory_order_release);
	atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_release);
	POOL_HOOK(1);
	atomic_store(&p->claim, (unsigned long long)r << 32);   /* seq_cst: before sleepers */
	if (atomic_load(&p->sleepers)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->mu);
	}
	return r;
}

void cb_pool_run(struct cb_pool *p, cb_task_fn fn, void *ctx, int64_t n_tasks)
{
	if (n_tasks <= 0)
		return;
	if (p->n == 1 || n_tasks == 1 || n_tasks > UINT32_MAX) {
		for (int64_t t = 0; t < n_tasks; t++)
			fn(ctx, t, 0);
		return;
	}
	work(p, publish(p, fn, ctx, n_tasks), 0);
	long long t0 = 0;
	for (unsigned i = 1; atomic_load_explicit(&p->done, memory_order_acquire) != n_tasks; i++)
		if (!spin(i, &t0)) {
			pthread_mutex_lock(&p->mu);
			atomic_store(&p->caller_waits, 1);
			while (atomic_load(&p->done) != n_tasks)
				pthread_cond_wait(&p->finished, &p->mu);
			atomic_store(&p->caller_waits, 0);
			pthread_mutex_unlock(&p->mu);
			break;
		}
}

int cb_pool_create(struct cb_pool **out, int n_threads)
{
	struct cb_pool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof *p);   /* the atomics' zero is all-bits-zero */
	p->n = n_threads < 1 ? 1 : n_threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->finished, NULL);
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
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->finished);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return -ENOMEM;
}

void cb_pool_destroy(struct cb_pool *p)
{
	if (!p)
		return;
	/* an empty region with `stop` set: every worker wakes and leaves */
	atomic_store(&p->stop, 1);
	publish(p, NULL, NULL, 0);
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->finished);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p);
}

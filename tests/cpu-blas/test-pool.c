/* tests/cpu-blas/test-pool.c — the cpu-blas thread pool (pool.c), compiled
 * in: every task of every region runs exactly once, on a valid thread id,
 * and the region is over when cb_pool_run returns — with regions back to
 * back (workers spinning), after pauses longer than the spin bound
 * (workers asleep), with a task longer than it (the caller asleep), with
 * uneven tasks, and with more threads than cores (latecomers that find
 * the region taken). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "pool.h"

#define MAX_TASKS 4096
#define MAX_THREADS 8

struct job {
	atomic_int runs[MAX_TASKS];
	atomic_int bad_tid;
	int n_threads;
	int slow_task;        /* this task sleeps 3 ms; -1 none */
	int uneven;           /* task t spins t % 7 microseconds */
};

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static void spin_us(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static void task(void *ctx, int64_t t, int tid)
{
	struct job *j = ctx;
	if (tid < 0 || tid >= j->n_threads)
		atomic_fetch_add(&j->bad_tid, 1);
	if (t == j->slow_task)
		nap_us(3000);
	if (j->uneven)
		spin_us(t % 7);
	atomic_fetch_add(&j->runs[t], 1);
}

/* One region of n tasks; every count must be exactly 1 on return. */
static void region(struct cb_pool *p, struct job *j, int n)
{
	for (int t = 0; t < n; t++)
		atomic_store(&j->runs[t], 0);
	cb_pool_run(p, task, j, n);
	for (int t = 0; t < n; t++)
		ck_assert_msg(atomic_load(&j->runs[t]) == 1, "%d threads, %d tasks: task %d ran %d times",
			      j->n_threads, n, t, atomic_load(&j->runs[t]));
	ck_assert_int_eq(atomic_load(&j->bad_tid), 0);
}

START_TEST(every_task_once)
{
	static const int sizes[] = { 1, 2, 3, 7, 16, 33, 100, 1000, MAX_TASKS };
	for (int nth = 1; nth <= MAX_THREADS; nth *= 2) {
		struct cb_pool *p = NULL;
		struct job *j = calloc(1, sizeof *j);
		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(cb_pool_create(&p, nth), 0);
		ck_assert_int_eq(cb_pool_threads(p), nth);
		j->n_threads = nth;
		j->slow_task = -1;
		/* back to back: the workers spin between regions */
		for (int r = 0; r < 2000; r++)
			region(p, j, sizes[r % 9]);
		/* uneven tasks */
		j->uneven = 1;
		for (int r = 0; r < 50; r++)
			region(p, j, 100 + r);
		j->uneven = 0;
		/* pauses past the spin bound: the workers sleep and are woken */
		for (int r = 0; r < 5; r++) {
			nap_us(5000);
			region(p, j, 64);
		}
		/* a task longer than the spin bound: the caller sleeps until a
		 * worker signals the region's end (or runs it itself) */
		for (int r = 0; r < 3; r++) {
			j->slow_task = r * 20;
			region(p, j, 64);
		}
		cb_pool_destroy(p);
		free(j);
	}
}
END_TEST

/* pool.c's test hooks (CB_POOL_TEST_HOOKS): while `stretch` is set, a
 * worker pauses 200 us between reading `claim` and the region's fields
 * (0), and the caller 2 ms between writing a region's fields and opening
 * it (1) — the interleaving that once let a worker still in the last
 * region claim tasks past its end against the next region's n_tasks. */
static atomic_int stretch;
static pthread_t caller_thread;

void cb_pool_test_hook(int where);
void cb_pool_test_hook(int where)
{
	if (!atomic_load(&stretch))
		return;
	if (where == 0 && !pthread_equal(pthread_self(), caller_thread))
		nap_us(200);
	else if (where == 1)
		nap_us(2000);
}

/* A worker still in region R when R + 1 is published claims nothing of
 * either by mistake: regions of 2 tasks then 64, every task once, none
 * run past the region's end, and no hang (the overshooting `done` made
 * cb_pool_run wait forever: that shows as this test's timeout). */
START_TEST(stale_claim)
{
	struct cb_pool *p = NULL;
	struct job *j = calloc(1, sizeof *j);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cb_pool_create(&p, 2), 0);
	j->n_threads = 2;
	j->slow_task = -1;
	caller_thread = pthread_self();
	atomic_store(&stretch, 1);
	for (int r = 0; r < 100; r++) {
		for (int t = 0; t < 64; t++)
			atomic_store(&j->runs[t], 0);
		region(p, j, r % 2 ? 64 : 2);
		/* tasks past the end: run by someone who thought the region
		 * larger (runs[] past n must stay 0) */
		for (int t = r % 2 ? 64 : 2; t < 64; t++)
			ck_assert_msg(atomic_load(&j->runs[t]) == 0, "region %d: task %d ran past its end",
				      r, t);
	}
	atomic_store(&stretch, 0);
	cb_pool_destroy(p);
	free(j);
}
END_TEST

/* Destroying a pool whose workers sleep, spin or never ran a region. */
START_TEST(destroy_any_state)
{
	struct cb_pool *p = NULL;
	ck_assert_int_eq(cb_pool_create(&p, 3), 0);
	cb_pool_destroy(p);
	ck_assert_int_eq(cb_pool_create(&p, 3), 0);
	struct job *j = calloc(1, sizeof *j);
	ck_assert_ptr_nonnull(j);
	j->n_threads = 3;
	j->slow_task = -1;
	region(p, j, 10);
	cb_pool_destroy(p);   /* workers still spinning */
	ck_assert_int_eq(cb_pool_create(&p, 3), 0);
	region(p, j, 10);
	nap_us(5000);
	cb_pool_destroy(p);   /* workers asleep */
	free(j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_task_once);
	tcase_add_test(tc, destroy_any_state);
	suite_add_tcase(s, tc);
	/* its own case: the bug it guards against hangs, so fail it early */
	TCase *tr = tcase_create("race");
	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, stale_claim);
	suite_add_tcase(s, tr);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tests/cpu-blas/test-pool.c — the cpu-blas thread pool (pool.c), compiled
 * in: every task of every region runs exactly once, on a valid thread id,
 * and the region is over when cb_pool_run returns — with regions back to
 * back (workers spinning), after pauses longer than the spin bound
 * (workers asleep), with a task longer than it (the caller asleep), with
 * uneven tasks, and with more threads than cores (latecomers that find
 * the region taken). */
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
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tests/hostcond/test-hostcond.c — the machine around a cell
 * (core/run/hostcond.c, sampler-host.c) on fixture /proc and /sys trees
 * written by the test: others' CPU as system busy minus our own in % of
 * one core (several CPUs), load average and frequency sources, the
 * contended flag against the threshold, --wait-quiet's bound; and on the
 * real kernel, per-phase peak RSS (clear_refs and sampled). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "results/results.h"
#include "run/hostcond.h"
#include "run/sampler.h"
#include "util/util.h"

static char root[256];

static void put(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(const char *rel, const char *fmt, ...)
{
	char path[512], dir[512];
	va_list ap;
	snprintf(path, sizeof path, "%s/%s", root, rel);
	pb_dirname(path, dir, sizeof dir);
	ck_assert_int_eq(pb_mkdir_p(dir), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* /proc/stat of 2 CPUs: the aggregate line first, as the kernel writes it */
static void put_stat(long user, long nice, long sys, long idle, long iowait, long irq,
		     long softirq, long steal)
{
	put("proc/stat",
	    "cpu  %ld %ld %ld %ld %ld %ld %ld %ld 0 0\n"
	    "cpu0 %ld 0 0 %ld 0 0 0 0 0 0\n"
	    "cpu1 0 0 0 0 0 0 0 0 0 0\n"
	    "intr 12345 0 0\nctxt 999\n",
	    user, nice, sys, idle, iowait, irq, softirq, steal, user, idle);
}

/* our own stat, with a command name holding spaces and parentheses */
static void put_self(long utime, long stime)
{
	put("proc/self/stat",
	    "4242 (pb (cell) x) R 1 4242 4242 0 -1 4194304 1000 0 3 0 %ld %ld 7 8 20 0 "
	    "3 0 12345 100000000 2000 18446744073709551615\n", utime, stime);
}

static void setup(void)
{
	snprintf(root, sizeof root, "%s/pb-hostcond.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(root));
	put_stat(1000, 50, 500, 8000, 100, 10, 20, 5);
	put_self(300, 100);
	put("proc/loadavg", "3.50 2.00 1.00 2/150 4242\n");
}

static void teardown(void)
{
	pb_rm_rf(root);
}

START_TEST(other_cpu_arithmetic)
{
	struct pb_hostcond *h;
	struct pb_host_reading a, b;

	ck_assert_int_eq(pb_hostcond_open(&h, root), 0);
	pb_hostcond_read(h, PB_HC_SLOW, &a);
	/* busy: all but idle and iowait, steal included */
	ck_assert_double_eq(a.busy_ticks, 1000 + 50 + 500 + 10 + 20 + 5);
	ck_assert_double_eq(a.self_ticks, 400);
	ck_assert_double_eq(a.loadavg_1m, 3.5);
	ck_assert(isnan(a.cpu_freq_mhz));
	ck_assert_str_eq(pb_hostcond_freq_source(h), "unavailable");

	/* one second later: both CPUs busy (+200 ticks: 150 user, 40 system,
	 * 10 steal), of which ours +80 (60 user, 20 system): others kept
	 * 1.2 cores busy — more than one core, as on a multi-CPU machine */
	put_stat(1150, 50, 540, 8000, 100, 10, 20, 15);
	put_self(360, 120);
	pb_hostcond_read(h, 0, &b);
	ck_assert(isnan(b.loadavg_1m));   /* not asked for */
	ck_assert_double_eq(pb_host_other_ticks(&a, &b), 120);
	ck_assert_double_eq_tol(pb_host_other_pct(&a, &b, 1000, 100), 120, 1e-9);
	ck_assert_double_eq_tol(pb_host_other_pct(&a, &b, 2000, 100), 60, 1e-9);
	ck_assert(isnan(pb_host_other_pct(&a, &b, 0, 100)));
	pb_hostcond_close(h);

	/* an unreadable self/stat: unknown, never zero */
	char p[512];
	snprintf(p, sizeof p, "%s/proc/self/stat", root);
	unlink(p);
	ck_assert_int_eq(pb_hostcond_open(&h, root), 0);
	pb_hostcond_read(h, 0, &b);
	ck_assert(isnan(b.self_ticks));
	ck_assert(isnan(pb_host_other_pct(&a, &b, 1000, 100)));
	pb_hostcond_close(h);
}
END_TEST

START_TEST(freq_sources)
{
	struct pb_hostcond *h;
	struct pb_host_reading r;

	put("proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: 1000.000\n\nprocessor\t: 1\n"
	    "cpu MHz\t\t: 3000.000\n\n");
	ck_assert_int_eq(pb_hostcond_open(&h, root), 0);
	ck_assert_str_eq(pb_hostcond_freq_source(h), "cpuinfo");
	pb_hostcond_read(h, PB_HC_SLOW, &r);
	ck_assert_double_eq_tol(r.cpu_freq_mhz, 2000, 1e-9);
	pb_hostcond_close(h);

	/* cpufreq (kHz) wins over cpuinfo */
	put("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
	put("sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "1600000\n");
	put("sys/devices/system/cpu/cpufreq/policy0", "not a cpu\n");
	ck_assert_int_eq(pb_hostcond_open(&h, root), 0);
	ck_assert_str_eq(pb_hostcond_freq_source(h), "cpufreq");
	pb_hostcond_read(h, PB_HC_SLOW, &r);
	ck_assert_double_eq_tol(r.cpu_freq_mhz, 2000, 1e-9);
	pb_hostcond_close(h);
}
END_TEST

/* ---- the sampler's host channels on a fake clock ---- */

static double fake_now;
static double fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* A sampler on the fixture root whose thread never reads (interval far
 * away): the only CPU reading after the start is the final one, which
 * splits its span between the phases by their time. */
static struct pb_sampler *start_fixture(enum pb_phase first)
{
	struct pb_sampler_opts o = { .clock_ms = fake_clock, .host_root = root,
				     .host_interval_ms = 1e9, .rss_sampled = 1 };
	struct pb_sampler *s;
	fake_now = 0;
	ck_assert_int_eq(pb_sampler_start_opts(&s, NULL, 0, first, &o), 0);
	return s;
}

/* prefill 0–500 ms, decode 500–2000 ms, others +others_ticks in between */
static struct pb_sampler *run_fixture(long others_ticks)
{
	struct pb_sampler *s = start_fixture(PB_PHASE_PREFILL);
	fake_now = 500;
	pb_sampler_phase(s, PB_PHASE_DECODE);
	/* ours +100 ticks, others' on top */
	put_stat(1000 + 100 + others_ticks, 50, 500, 8000, 100, 10, 20, 5);
	put_self(400, 100);
	fake_now = 2000;
	pb_sampler_stop(s);
	return s;
}

START_TEST(contended_flag)
{
	struct pb_host_stat st;
	struct pb_row row;

	/* others 40 ticks over 2 s = 20 % of a core, in both phases */
	struct pb_sampler *s = run_fixture(40);
	ck_assert_int_eq(pb_sampler_host_stat(s, 1u << PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq_tol(st.other_cpu_pct_mean, 20, 1e-9);
	ck_assert_double_eq_tol(st.other_cpu_pct_max, 20, 1e-9);   /* < one window: the mean */
	ck_assert_double_eq_tol(st.loadavg_1m_mean, 3.5, 1e-9);
	ck_assert_int_eq(pb_sampler_host_stat(s, 1u << PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq_tol(st.other_cpu_pct_mean, 20, 1e-9);
	ck_assert_double_eq_tol(st.duration_ms, 1500, 1e-9);

	pb_row_init(&row);
	ck_assert_int_eq(pb_sampler_host_summary(s, 10, &row), 1);
	ck_assert_str_eq(pb_row_get(&row, "contended"), "1");
	ck_assert_str_eq(pb_row_get(&row, "contention_threshold_pct"), "10");
	ck_assert_double_eq_tol(strtod(pb_row_get(&row, "other_cpu_pct_mean"), NULL), 20, 1e-4);
	ck_assert_str_eq(pb_row_get(&row, "loadavg_1m_max"), "3.5");
	ck_assert_str_eq(pb_row_get(&row, "cpu_freq_mhz_mean"), "");   /* unavailable */
	ck_assert_str_eq(pb_row_get(&row, "rss_peak_method"), "sampled");
	pb_row_free(&row);
	pb_row_init(&row);
	ck_assert_int_eq(pb_sampler_host_summary(s, 25, &row), 0);
	ck_assert_str_eq(pb_row_get(&row, "contended"), "0");
	pb_row_free(&row);
	pb_sampler_free(s);

	/* a quiet machine: nobody but us; tick noise below zero reads 0 */
	put_stat(1000, 50, 500, 8000, 100, 10, 20, 5);
	put_self(300, 100);
	s = run_fixture(-3);
	pb_row_init(&row);
	ck_assert_int_eq(pb_sampler_host_summary(s, 10, &row), 0);
	ck_assert_str_eq(pb_row_get(&row, "other_cpu_pct_mean"), "0");
	ck_assert_str_eq(pb_row_get(&row, "contended"), "0");
	pb_row_free(&row);
	pb_sampler_free(s);
}
END_TEST

START_TEST(phases_csv_rows)
{
	char path[512];
	struct pb_table *t;
	char err[256];

	struct pb_sampler *s = run_fixture(300);   /* 150 % of a core */
	snprintf(path, sizeof path, "%s/phases.csv", root);
	ck_assert_int_eq(pb_sampler_write(s, NULL, path), 0);
	ck_assert_int_eq(pb_csv_read(path, &t, err, sizeof err), 0);
	int ph = pb_table_col(t, "phase"), ch = pb_table_col(t, "channel");
	int pr = pb_table_col(t, "probe"), mean = pb_table_col(t, "mean");
	int found = 0;
	for (int i = 0; i < t->nrows; i++) {
		ck_assert_str_eq(t->rows[i][pr], "host");
		if (!strcmp(t->rows[i][ch], "other_cpu_pct")) {
			ck_assert_double_eq_tol(strtod(t->rows[i][mean], NULL), 150, 1e-9);
			found |= !strcmp(t->rows[i][ph], "prefill") ? 1 :
				 !strcmp(t->rows[i][ph], "decode") ? 2 : 4;
		}
	}
	ck_assert_int_eq(found, 3);
	pb_table_free(t);
	pb_sampler_free(s);
}
END_TEST

/* ---- --wait-quiet on the fixture: others busy while it sleeps ---- */

static int busy_sleeps;
static void sleep_busy(void *ctx, double ms)
{
	(void)ctx;
	usleep((useconds_t)(ms * 1e3));
	busy_sleeps++;
	/* others add 100 ticks every window: at a 100 ms window, 1000 % */
	put_stat(1000 + 100L * busy_sleeps, 50, 500, 8000, 100, 10, 20, 5);
}

START_TEST(wait_quiet_bound)
{
	struct pb_quiet_result r;
	struct pb_quiet_opts o = { .root = root, .window_ms = 100, .sleep_ms = sleep_busy };

	busy_sleeps = 0;
	double t0 = pb_now_ms();
	ck_assert_int_eq(pb_wait_quiet(10, 0.5, &o, &r), 1);
	double dt = pb_now_ms() - t0;
	ck_assert_int_eq(r.ran, 1);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert(r.other_cpu_pct > 100);
	ck_assert(r.waited_s >= 0.45 && r.waited_s < 0.8);
	ck_assert(dt < 800);
	ck_assert_int_ge(r.windows, 4);

	/* quiet (the fixture does not move): back after the first window */
	o.sleep_ms = NULL;
	t0 = pb_now_ms();
	ck_assert_int_eq(pb_wait_quiet(10, 30, &o, &r), 0);
	dt = pb_now_ms() - t0;
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_int_eq(r.windows, 1);
	ck_assert_double_eq(r.other_cpu_pct, 0);
	ck_assert(dt < 1000);

	/* no counters at all: at once, unknown */
	o.root = "/nonexistent-pb-root";
	ck_assert_int_eq(pb_wait_quiet(10, 30, &o, &r), 1);
	ck_assert(isnan(r.other_cpu_pct));
	ck_assert(r.waited_s < 0.1);

	pb_wait_quiet_set(-5);
	ck_assert_double_eq(pb_wait_quiet_get(), 0);
	pb_wait_quiet_set(7.5);
	ck_assert_double_eq(pb_wait_quiet_get(), 7.5);
	pb_wait_quiet_set(0);
}
END_TEST

/* ---- peak RSS per phase on the real kernel ---- */

#define BIG (128u << 20)
#define SMALL (8u << 20)

static void touch(size_t n, int hold_ms)
{
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	if (hold_ms)
		usleep((useconds_t)hold_ms * 1000);
	munmap(p, n);   /* gone before the phase ends: only a reset HWM or a sample sees it */
}

static void rss_phases(int sampled)
{
	struct pb_sampler_opts o = { .rss_sampled = sampled, .host_interval_ms = 20 };
	struct pb_sampler *s;
	struct pb_host_stat load, compress, measure;

	ck_assert_int_eq(pb_sampler_start_opts(&s, NULL, 0, PB_PHASE_LOAD, &o), 0);
	int method = pb_sampler_rss_method(s);
	if (!sampled && method != PB_RSS_CLEAR_REFS) {
		pb_sampler_free(s);
		fprintf(stderr, "clear_refs refused by this kernel: only the sampled method tested\n");
		return;
	}
	ck_assert_int_eq(method, sampled ? PB_RSS_SAMPLED : PB_RSS_CLEAR_REFS);
	touch(BIG, sampled ? 300 : 0);   /* the big model */
	pb_sampler_phase(s, PB_PHASE_COMPRESS);
	touch(SMALL, sampled ? 300 : 0);
	pb_sampler_phase(s, PB_PHASE_WARMUP);
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	touch(SMALL, sampled ? 300 : 0);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	pb_sampler_stop(s);
	pb_sampler_host_stat(s, 1u << PB_PHASE_LOAD, &load);
	pb_sampler_host_stat(s, 1u << PB_PHASE_COMPRESS, &compress);
	pb_sampler_host_stat(s, 1u << PB_PHASE_WARMUP | 1u << PB_PHASE_PREFILL |
			     1u << PB_PHASE_DECODE, &measure);
	/* the load phase saw the 128 MiB; the later ones, reset, did not */
	ck_assert(load.rss_peak_bytes >= compress.rss_peak_bytes + 0.8 * BIG);
	ck_assert(load.rss_peak_bytes >= measure.rss_peak_bytes + 0.8 * BIG);
	ck_assert(compress.rss_peak_bytes > 0 && measure.rss_peak_bytes > 0);

	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_host_summary(s, 10, &row);
	ck_assert_str_eq(pb_row_get(&row, "rss_peak_method"), sampled ? "sampled" : "clear_refs");
	/* whole bytes, not %g */
	ck_assert_double_eq(strtod(pb_row_get(&row, "rss_peak_bytes_load"), NULL),
			    load.rss_peak_bytes);
	ck_assert(!strchr(pb_row_get(&row, "rss_peak_bytes_load"), 'e'));
	ck_assert_str_eq(pb_row_get(&row, "rss_peak_bytes_score"), "");   /* never ran */
	pb_row_free(&row);
	pb_sampler_free(s);
}

START_TEST(rss_clear_refs)
{
	rss_phases(0);
}
END_TEST

START_TEST(rss_sampled)
{
	rss_phases(1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hostcond");
	TCase *tc = tcase_create("hostcond");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, other_cpu_arithmetic);
	tcase_add_test(tc, freq_sources);
	tcase_add_test(tc, contended_flag);
	tcase_add_test(tc, phases_csv_rows);
	tcase_add_test(tc, wait_quiet_bound);
	tcase_add_test(tc, rss_clear_refs);
	tcase_add_test(tc, rss_sampled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/probes-pruners/test-procstat.c — the procstat probe against fixture
 * /proc and /sys trees (tests/probes-pruners/fixtures/<tree>/{proc,sys}/...),
 * loaded from the build tree with dlopen and a fake host. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#include "testhost.h"

static void *handle;
static const struct pb_plugin *plug;
static const struct pb_probe_ops *ops;
static struct test_host th;
static char config[1024];
static double tck;

enum { N_CH = 17 };
static const char *const names[N_CH] = {
	"proc_cpu_user_s", "proc_cpu_sys_s", "proc_cpu_pct", "rss_bytes", "rss_peak_bytes",
	"sys_cpu_pct", "minor_faults", "major_faults", "ctx_switches_voluntary",
	"ctx_switches_involuntary", "io_read_bytes", "io_write_bytes",
	"mem_available_bytes", "threads", "max_thread_cpu_s", "cpu_freq_mhz_mean",
	"cpu_freq_mhz_min",
};

static void setup(void)
{
	plug = test_plugin_load(PROCSTAT_SO, &handle);
	ck_assert_int_eq(plug->kind, PB_PROBE);
	ck_assert_str_eq(plug->name, "procstat");
	ck_assert_uint_le(plug->config_size, sizeof(config));
	ops = plug->ops;
	ck_assert_double_eq(ops->min_interval_ms, 1);
	test_host_init(&th);
	test_config_defaults(plug, config);
	tck = (double)sysconf(_SC_CLK_TCK);
}

static void teardown(void)
{
	dlclose(handle);
}

/* init on root, check the channel table, return the state */
static void *open_root(const char *root)
{
	void *state = NULL;
	const struct pb_channel *ch;
	int n;

	ck_assert_int_eq(test_config_set(plug, config, "root", root), 0);
	ck_assert_int_eq(plug->init(&th.host, config, &state), 0);
	ck_assert_int_eq(ops->channels(state, &ch, &n), 0);
	ck_assert_int_eq(n, N_CH);
	for (int i = 0; i < N_CH; i++)
		ck_assert_str_eq(ch[i].name, names[i]);
	ck_assert_int_eq(ch[0].kind, PB_COUNTER);
	ck_assert_str_eq(ch[0].unit, "s");
	ck_assert_int_eq(ch[2].kind, PB_GAUGE);
	ck_assert_str_eq(ch[2].unit, "%");
	ck_assert_int_eq(ch[3].kind, PB_GAUGE);
	ck_assert_str_eq(ch[3].unit, "bytes");
	ck_assert_int_eq(ch[6].kind, PB_COUNTER);
	ck_assert_str_eq(ch[6].unit, "count");
	for (int i = 12; i < N_CH; i++)   /* levels, not running totals */
		ck_assert_int_eq(ch[i].kind, PB_GAUGE);
	ck_assert_str_eq(ch[12].unit, "bytes");
	ck_assert_str_eq(ch[14].unit, "s");
	ck_assert_str_eq(ch[15].unit, "MHz");
	ck_assert_str_eq(ch[16].unit, "MHz");
	return state;
}

/* expected value, NAN meaning "must be NAN" */
static void expect(const double *got, const double *want)
{
	for (int i = 0; i < N_CH; i++) {
		if (isnan(want[i]))
			ck_assert_msg(isnan(got[i]), "%s: want NAN, got %.17g", names[i], got[i]);
		else
			ck_assert_msg(got[i] == want[i], "%s: want %.17g, got %.17g", names[i],
				      want[i], got[i]);
	}
}

START_TEST(normal_tree)
{
	void *s = open_root(FIXTURES "/normal");
	double v[N_CH];
	ck_assert_int_eq(ops->read(s, v), 0);
	/* threads from status; the busiest of task/1234 (50 ticks) and
	 * task/1235 (200), task/1236 having no stat; cpu0 2400 MHz, cpu1 1800,
	 * cpu2 no cpufreq, cpu3 an unparsable value, cpufreq/policy0 not a CPU */
	const double want[N_CH] = { 250 / tck, 75 / tck, NAN, 102400.0 * 1024, 204800.0 * 1024,
				    NAN, 5000, 12, 42, 7, 4096, 8192,
				    8000000.0 * 1024, 4, 200 / tck, 2100, 1800 };
	expect(v, want);
	plug->fini(s);
}
END_TEST

START_TEST(parens_in_comm)
{
	void *s = open_root(FIXTURES "/parens/");   /* a trailing slash is fine */
	double v[N_CH];
	ck_assert_int_eq(ops->read(s, v), 0);
	/* meminfo without MemAvailable (kernels before 3.14), no task/, no sys/ */
	const double want[N_CH] = { 1000 / tck, 2000 / tck, NAN, 4096, 8192, NAN,
				    123456789012.0, 3, 0, 123456, 0, 1, NAN, NAN, NAN, NAN, NAN };
	expect(v, want);
	plug->fini(s);
}
END_TEST

START_TEST(missing_fields)
{
	void *s = open_root(FIXTURES "/minimal");
	double v[N_CH];
	ck_assert_int_eq(ops->read(s, v), 0);
	const double want[N_CH] = { NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, 5, NAN, NAN, NAN,
				    NAN, NAN, NAN, NAN, NAN };
	expect(v, want);
	ck_assert_int_eq(ops->read(s, v), 0);   /* still no rates from garbage */
	expect(v, want);
	plug->fini(s);
}
END_TEST

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(rates_between_reads)
{
	char dir[256], path[512];
	double v[N_CH];

	test_mkdtemp(dir, sizeof dir);
	test_copy_tree(FIXTURES "/normal", dir);
	void *s = open_root(dir);

	double a = mono_ms();
	ck_assert_int_eq(ops->read(s, v), 0);
	double b = mono_ms();
	ck_assert(isnan(v[2]) && isnan(v[5]));

	/* 150 more ticks of process CPU; the system did 400 busy of 800 */
	snprintf(path, sizeof path, "%s/proc/self/stat", dir);
	test_write(path, "1234 (prunebench) R 1 1234 1234 0 -1 4194304 5100 0 13 0 350 125 "
		   "0 0 20 0 4 0 100 123456789 25600\n");
	snprintf(path, sizeof path, "%s/proc/stat", dir);
	test_write(path, "cpu  400 0 150 1200 50 0 0 0 0 0\ncpu0 1 1 1 1\n");
	usleep(100 * 1000);

	double c = mono_ms();
	ck_assert_int_eq(ops->read(s, v), 0);
	double d = mono_ms();
	ck_assert_double_eq(v[0], 350 / tck);
	ck_assert_double_eq(v[1], 125 / tck);
	ck_assert_double_eq(v[5], 50.0);
	ck_assert_double_eq(v[6], 5100);
	ck_assert_double_eq(v[7], 13);
	/* the probe's own clock fell inside [a, b] and [c, d] */
	double cpu_s = 150 / tck;
	/* capped at 100 % per online CPU (tick quantisation, see procstat.c) */
	double cap = 100.0 * (double)sysconf(_SC_NPROCESSORS_ONLN);
	ck_assert_msg(v[2] >= fmin(cap, 100 * cpu_s / ((d - a) / 1e3)) - 1e-9 &&
		      v[2] <= fmin(cap, 100 * cpu_s / ((c - b) / 1e3)) + 1e-9,
		      "cpu%% %g for %g s over %g..%g ms", v[2], cpu_s, c - b, d - a);
	ck_assert_double_eq(v[14], 200 / tck);
	ck_assert_double_eq(v[16], 1800);

	/* a throttled core, a thread that ran on, and one that exited */
	snprintf(path, sizeof path, "%s/sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", dir);
	test_write(path, "900000\n");
	snprintf(path, sizeof path, "%s/proc/self/task/1234/stat", dir);
	test_write(path, "1234 (prunebench) R 1 1234 1234 0 -1 4194304 100 0 1 0 300 20 0 0 20 0 "
		   "4 0 100 123456789 25600\n");
	snprintf(path, sizeof path, "%s/proc/self/task/1235/stat", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert_double_eq(v[14], 320 / tck);
	ck_assert_double_eq(v[15], (2400 + 900) / 2.0);
	ck_assert_double_eq(v[16], 900);

	/* the system counters went back (a fake reboot): no negative busy */
	snprintf(path, sizeof path, "%s/proc/stat", dir);
	test_write(path, "cpu  1 0 1 1 0 0 0 0 0 0\n");
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert(isnan(v[5]));
	plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

START_TEST(missing_root)
{
	void *s = NULL;
	char why[512] = "";

	ck_assert_int_eq(test_config_set(plug, config, "root", FIXTURES "/no-such-tree"), 0);
	ck_assert_int_eq(plug->init(&th.host, config, &s), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(th.log, "no-such-tree/proc/self/stat"));
	/* available() has no configuration: it checks the real /proc */
	ck_assert_ptr_nonnull(plug->available);
	if (access("/proc/self/stat", R_OK) == 0)
		ck_assert_int_eq(plug->available(&th.host, why, sizeof why), 0);
	else
		ck_assert_int_lt(plug->available(&th.host, why, sizeof why), 0);
}
END_TEST

START_TEST(vanishing_stat)
{
	char dir[256], path[512];
	double v[N_CH];

	test_mkdtemp(dir, sizeof dir);
	test_copy_tree(FIXTURES "/normal", dir);
	void *s = open_root(dir);
	snprintf(path, sizeof path, "%s/proc/self/stat", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ops->read(s, v), -ENOENT);
	plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

START_TEST(real_proc)
{
	double v[N_CH];
	if (access("/proc/self/stat", R_OK))
		return;   /* no /proc here: the fixtures cover parsing */
	void *s = open_root("/");
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert(v[3] > 0 && v[4] >= v[3]);
	ck_assert(v[0] >= 0 && v[6] > 0);
	volatile double x = 0;
	for (int i = 0; i < 20000000; i++)
		x += i;
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert(v[2] >= 0);
	ck_assert(isnan(v[5]) || (v[5] >= 0 && v[5] <= 100));   /* NAN: no tick between reads */
	ck_assert(v[12] > 0 && v[13] >= 1);
	ck_assert(v[14] >= 0 && v[14] <= v[0] + v[1] + 1e-9);   /* one thread ≤ the process */
	ck_assert(isnan(v[16]) || (v[16] > 0 && v[16] <= v[15]));
	plug->fini(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("procstat");
	TCase *tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, normal_tree);
	tcase_add_test(tc, parens_in_comm);
	tcase_add_test(tc, missing_fields);
	tcase_add_test(tc, rates_between_reads);
	tcase_add_test(tc, missing_root);
	tcase_add_test(tc, vanishing_stat);
	tcase_add_test(tc, real_proc);
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

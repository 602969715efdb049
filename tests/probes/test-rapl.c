/* tests/probes/test-rapl.c — the rapl probe on fixture powercap trees
 * (tests/probes/fixtures/rapl-*): a 2-package server with DRAM and psys
 * (class entries symlinked into devices/ as in sysfs), a counter wrapping
 * mid-run unwrapped by the core's sampler on a fake clock, the wrap-safe
 * interval, an unreadable energy_uj, and the perf power fallback. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run/sampler.h"

#include "probetest.h"

static struct probe_fix F;

static void setup(void)
{
	probe_fix_load(&F, RAPL_SO, "rapl");
	ck_assert_double_eq(F.ops->min_interval_ms, 1);
	ck_assert_ptr_nonnull(F.ops->describe);
}

static void teardown(void)
{
	dlclose(F.handle);
}

static void tmp_tree(char *dir, size_t len, const char *fixture)
{
	test_mkdtemp(dir, len);
	probe_copy_tree(fixture, dir);
}

START_TEST(two_packages)
{
	static const struct { const char *name; double value, wrap; } want[] = {
		{ "package_0_energy_j", 123.456789, 262143.32885 },
		{ "dram_0_energy_j", 4.56789, 65712.999613 },
		{ "package_1_energy_j", 2.5, 262143.32885 },
		{ "dram_1_energy_j", 1.0, 65712.999613 },
		{ "psys_energy_j", 0.999999, 262143.32885 },
	};
	const struct pb_channel *ch;
	void *s;
	double v[8];
	char yaml[4096];
	int n;

	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, NULL), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 5);   /* intel-rapl (the control type) and -mmio:0 are not zones */
	ck_assert_int_eq(F.ops->read(s, v), 0);
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(ch[i].name, want[i].name);
		ck_assert_str_eq(ch[i].unit, "J");
		ck_assert_int_eq(ch[i].kind, PB_COUNTER);
		ck_assert_double_eq(ch[i].wrap, want[i].wrap);
		ck_probe_value(v[i], want[i].value, want[i].name);
	}
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "source: powercap\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "wrap_safe_interval_ms: 1000\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "zone: \"intel-rapl:1:0\"\n    channel: dram_1_energy_j\n"));
	/* packages have a max power constraint; DRAM has none (500 W); psys
	 * spans both packages */
	ck_assert_ptr_nonnull(strstr(yaml, "channel: package_0_energy_j\n    range_j: 262143.328850\n"
				     "    max_power_w: 250\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "channel: dram_0_energy_j\n    range_j: 65712.999613\n"
				     "    max_power_w: 500\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "channel: psys_energy_j\n    range_j: 262143.328850\n"
				     "    max_power_w: 1000\n"));
	ck_assert_int_eq(F.ops->describe(s, yaml, 16), -ENOSPC);
	F.plug->fini(s);
}
END_TEST

START_TEST(domain_globs)
{
	const struct pb_channel *ch;
	void *s;
	int n;

	const char *dram[] = { "domains=dram", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, dram), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ch[0].name, "dram_0_energy_j");
	ck_assert_str_eq(ch[1].name, "dram_1_energy_j");
	F.plug->fini(s);

	const char *two[] = { "domains=package-1, psys", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, two), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ch[0].name, "package_1_energy_j");
	ck_assert_str_eq(ch[1].name, "psys_energy_j");
	F.plug->fini(s);

	const char *stem[] = { "domains=dram_1", NULL };   /* channel stems match too */
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, stem), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(ch[0].name, "dram_1_energy_j");
	F.plug->fini(s);

	const char *none[] = { "domains=gpu*", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, none), -ESRCH);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(F.th.log, "domains here: package-0, dram, package-1, dram, psys"));
}
END_TEST

/* ---- the counter wraps between two phase boundaries ---- */

static _Atomic double fake_now;
static double fake_clock(void *ctx)
{
	(void)ctx;
	return 5000 + fake_now;
}

START_TEST(wrap_unwrapped_by_sampler)
{
	char dir[256], path[512];
	const struct pb_channel *ch;
	struct pb_sampler *smp;
	struct pb_phase_stat st;
	void *s;
	int n;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-1pkg");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/energy_uj", dir);
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ch[0].name, "package_0_energy_j");
	ck_assert_str_eq(ch[1].name, "core_0_energy_j");
	ck_assert_double_eq(ch[0].wrap, 262143.32885);

	/* An interval far longer than the fake clock ever moves: only the
	 * boundaries read, so each file rewrite is seen exactly once. */
	struct pb_probe_inst inst = { .name = "rapl", .ops = F.ops, .state = s,
				      .interval_ms = 1e6 };
	struct pb_sampler_opts opts = { .clock_ms = fake_clock };
	fake_now = 0;
	ck_assert_int_eq(pb_sampler_start_opts(&smp, &inst, 1, PB_PHASE_LOAD, &opts), 0);
	test_write(path, "262100000000\n");        /* +100 J */
	fake_now = 10;
	pb_sampler_phase(smp, PB_PHASE_PREFILL);
	test_write(path, "500000000\n");           /* wrapped: +43.32885 J to the top, +500 J after */
	fake_now = 20;
	pb_sampler_phase(smp, PB_PHASE_DECODE);
	test_write(path, "700000000\n");           /* +200 J */
	fake_now = 30;
	pb_sampler_stop(smp);

	ck_assert_int_eq(pb_sampler_stat(smp, "package_0_energy_j", PB_PHASE_LOAD, &st), 0);
	ck_assert_double_eq_tol(st.delta, 100.0, 1e-6);
	ck_assert_int_eq(pb_sampler_stat(smp, "package_0_energy_j", PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq_tol(st.delta, 262143.32885 - 262100.0 + 500.0, 1e-6);
	ck_assert_int_eq(pb_sampler_stat(smp, "package_0_energy_j", PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq_tol(st.delta, 200.0, 1e-6);
	ck_assert_int_eq(pb_sampler_stat(smp, "package_0_energy_j", PB_PHASE_COUNT, &st), 0);
	ck_assert_double_eq_tol(st.delta, 262143.32885 - 262000.0 + 700.0, 1e-6);
	ck_assert_int_eq(pb_sampler_stat(smp, "core_0_energy_j", PB_PHASE_COUNT, &st), 0);
	ck_assert_double_eq(st.delta, 0);
	pb_sampler_free(smp);
	F.plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

START_TEST(wrap_safe_interval)
{
	char dir[256], path[512], yaml[4096];
	void *s;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-1pkg");
	/* a 1 J range at up to 100 W wraps every 10 ms: sample at least every 2.5 ms */
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/max_energy_range_uj", dir);
	test_write(path, "1000000\n");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/constraint_1_max_power_uw",
		 dir);
	test_write(path, "100000000\n");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/energy_uj", dir);
	test_write(path, "250000\n");

	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), -EINVAL);   /* default 100 ms */
	ck_assert_ptr_nonnull(strstr(F.th.log, "use interval_ms <= 2 "));
	const char *fast[] = { "interval_ms=2", NULL };
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, fast), 0);
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "wrap_safe_interval_ms: 2.5\n"));
	F.plug->fini(s);

	/* no max power anywhere: 500 W, so 0.5 ms, held at the 1 ms floor */
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/constraint_1_max_power_uw",
		 dir);
	ck_assert_int_eq(unlink(path), 0);
	const char *one[] = { "interval_ms=1", NULL };
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, one), 0);
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "wrap_safe_interval_ms: 1\n"));
	F.plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

START_TEST(partial_read_failures)
{
	char dir[256], path[512];
	double v[2];
	void *s;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-1pkg");
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), 0);
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0:0/energy_uj", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(F.ops->read(s, v), 0);
	ck_probe_value(v[0], 262000.0, "package");
	ck_probe_value(v[1], NAN, "core");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/energy_uj", dir);
	test_write(path, "garbage\n");
	ck_assert_int_eq(F.ops->read(s, v), -EIO);   /* nothing at all: the sampler backs off */
	F.plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

/* ---- energy_uj that cannot be read ---- */

START_TEST(unreadable_chmod)
{
	char dir[256], path[512];
	void *s;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-1pkg");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/energy_uj", dir);
	ck_assert_int_eq(chmod(path, 0), 0);
	if (access(path, R_OK) == 0) {
		/* root: mode bits do not stop it; unreadable_dir covers the path */
		fprintf(stderr, "test-rapl: running as root, chmod 000 does not block reads; "
			"skipping the chmod case\n");
	} else {
		ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), -EACCES);
		ck_assert_ptr_nonnull(strstr(F.th.log, "Permission denied; energy_uj is root-only"));
		ck_assert_ptr_nonnull(strstr(F.th.log, "fix: sudo chmod o+r "));
		ck_assert_ptr_nonnull(strstr(F.th.log, "intel-rapl:0/energy_uj, or let perf read it: "
					     "no perf power PMU"));
	}
	chmod(path, 0644);
	test_rm_rf(dir);
}
END_TEST

START_TEST(unreadable_dir_no_perf)
{
	char dir[256], path[512], want[2048];
	void *s;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-1pkg");
	snprintf(path, sizeof path, "%s/sys/class/powercap/intel-rapl:0/energy_uj", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), -EISDIR);
	snprintf(want, sizeof want, "cannot read %s (Is a directory), and the perf fallback "
		 "failed: no perf power PMU (%s/sys/bus/event_source/devices/power/type: "
		 "No such file or directory)", path, dir);
	ck_assert_msg(strstr(F.th.log, want), "log: %s\nwant: %s", F.th.log, want);
	test_rm_rf(dir);
}
END_TEST

START_TEST(perf_fallback)
{
	const struct pb_channel *ch;
	char yaml[4096];
	double a[2], b[2];
	void *s;
	int n;

	/* energy_uj is a directory there; the fixture's "power" PMU is the
	 * software PMU (type 1) and its events the cpu-clock (config 0), so
	 * the fallback opens and reads real counters: ns × 1e-9 */
	int rc = probe_fix_open(&F, FIXTURES "/rapl-perf", &s, NULL);
	if (rc) {
		/* perf_event_open refused here (seccomp, paranoid without root):
		 * then the reason must say so */
		ck_assert_ptr_nonnull(strstr(F.th.log, "perf power/energy-pkg on CPU 0: "));
		fprintf(stderr, "test-rapl: perf_event_open refused (%s); checked the reason only\n",
			strerror(-rc));
		return;
	}
	ck_assert_ptr_nonnull(strstr(F.th.log, "using the perf power PMU instead"));
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ch[0].name, "package_0_energy_j");
	ck_assert_str_eq(ch[1].name, "dram_0_energy_j");
	ck_assert_double_eq(ch[0].wrap, 0);   /* 64-bit kernel counters */
	ck_assert_int_eq(F.ops->read(s, a), 0);
	usleep(30 * 1000);
	ck_assert_int_eq(F.ops->read(s, b), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(b[i] - a[i] > 0.02 && b[i] - a[i] < 5, "%s: %g -> %g", ch[i].name,
			      a[i], b[i]);
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "source: perf\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "zone: \"power/energy-ram@cpu0\"\n"));
	F.plug->fini(s);
}
END_TEST

START_TEST(perf_bad_type)
{
	char dir[256], path[512];
	void *s;

	tmp_tree(dir, sizeof dir, FIXTURES "/rapl-perf");
	snprintf(path, sizeof path, "%s/sys/bus/event_source/devices/power/type", dir);
	test_write(path, "987654\n");   /* no such PMU: perf_event_open says ENOENT */
	ck_assert_int_lt(probe_fix_open(&F, dir, &s, NULL), 0);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(F.th.log, "the perf fallback failed: perf power/energy-pkg on "
				     "CPU 0: "));
	test_rm_rf(dir);
}
END_TEST

START_TEST(available_here)
{
	char why[1024] = "";
	int rc = F.plug->available(&F.th.host, why, sizeof why);

	if (access("/sys/class/powercap/intel-rapl:0", F_OK) &&
	    access("/sys/bus/event_source/devices/power/type", F_OK)) {
		ck_assert_int_eq(rc, -ENODEV);
		ck_assert_ptr_nonnull(strstr(why, "no RAPL here: /sys/class/powercap "));
		ck_assert_ptr_nonnull(strstr(why, "sudo modprobe intel_rapl_msr"));
	} else if (rc < 0) {
		ck_assert_msg(why[0], "a refusal needs a reason");
	}
	/* init on a missing root fails with the reason */
	void *s;
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/no-such-tree", &s, NULL), -ENODEV);
	ck_assert_ptr_nonnull(strstr(F.th.log, "no-such-tree/sys/class/powercap does not exist"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("rapl");
	TCase *tc = tcase_create("rapl");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, two_packages);
	tcase_add_test(tc, domain_globs);
	tcase_add_test(tc, wrap_unwrapped_by_sampler);
	tcase_add_test(tc, wrap_safe_interval);
	tcase_add_test(tc, partial_read_failures);
	tcase_add_test(tc, unreadable_chmod);
	tcase_add_test(tc, unreadable_dir_no_perf);
	tcase_add_test(tc, perf_fallback);
	tcase_add_test(tc, perf_bad_type);
	tcase_add_test(tc, available_here);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/probes-b/test-nvml.c — the nvml probe against the fake
 * libnvidia-ml of this folder: channels and units, NOT_SUPPORTED as NAN,
 * NVML's own error words, a lost GPU; then the probe through the core's
 * sampler on a fake clock, where energy per phase (the counter) and
 * energy from the scripted power curve (integrated) are checked exactly.
 *
 * The test dlopens the fake too: the probe's dlopen of the same path
 * returns the same instance, so writing `fake_nvml` scripts what the
 * probe reads.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "results/results.h"
#include "run/sampler.h"
#include "testhost.h"

struct fake_nvml {   /* as in fake-nvml.c */
	int count;
	char name[96];
	unsigned util_gpu, util_mem;
	unsigned long long mem_used, mem_total;
	double power_mw, power_step_mw;
	unsigned long long energy_mj;
	long long energy_step_mj;
	double temp_c, temp_step, temp_min;
	unsigned sm_mhz, mem_mhz;
	unsigned unsupported;
	int init_error;
	long lost_after;
	int inits;
	long reads;
};

enum { N_CH = 7 };
static const char *const names[N_CH] = {
	"gpu0_util_pct", "gpu0_mem_used_bytes", "gpu0_power_w", "gpu0_energy_j", "gpu0_temp_c",
	"gpu0_sm_clock_mhz", "gpu0_mem_clock_mhz",
};
static const char *const units[N_CH] = { "%", "bytes", "W", "J", "C", "MHz", "MHz" };

static void *handle, *fake_dl;
static const struct pb_plugin *plug;
static const struct pb_probe_ops *ops;
static struct test_host th;
static char config[2048];
static struct fake_nvml *fk, fk_saved;

static void setup(void)
{
	plug = test_plugin_load(NVML_SO, &handle);
	ck_assert_str_eq(plug->name, "nvml");
	ck_assert_int_eq(plug->kind, PB_PROBE);
	ck_assert_uint_le(plug->config_size, sizeof config);
	ops = plug->ops;
	fake_dl = dlopen(FAKE_NVML_SO, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(fake_dl != NULL, "%s", dlerror());
	fk = dlsym(fake_dl, "fake_nvml");
	ck_assert_ptr_nonnull(fk);
	fk_saved = *fk;
	test_host_init(&th);
	test_config_defaults(plug, config);
	ck_assert_int_eq(test_config_set(plug, config, "library", FAKE_NVML_SO), 0);
}

static void teardown(void)
{
	*fk = fk_saved;
	dlclose(fake_dl);
	dlclose(handle);
}

static void *open_probe(void)
{
	void *s = NULL;
	const struct pb_channel *ch;
	int n;
	ck_assert_msg(plug->init(&th.host, config, &s) == 0, "%s", th.log);
	ck_assert_int_eq(ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, N_CH);
	for (int i = 0; i < N_CH; i++) {
		ck_assert_str_eq(ch[i].name, names[i]);
		ck_assert_str_eq(ch[i].unit, units[i]);
		ck_assert_int_eq(ch[i].kind, i == 3 ? PB_COUNTER : PB_GAUGE);
	}
	return s;
}

START_TEST(reads_every_channel)
{
	void *s = open_probe();
	double v[N_CH];
	char yaml[512];

	ck_assert_int_eq(fk->inits, 1);
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert_double_eq(v[0], 50);
	ck_assert_double_eq(v[1], 1073741824.0);
	ck_assert_double_eq(v[2], 100);          /* 100000 mW */
	ck_assert_double_eq(v[3], 1000);         /* 1000000 mJ */
	ck_assert_double_eq(v[4], 45);
	ck_assert_double_eq(v[5], 1980);
	ck_assert_double_eq(v[6], 2619);
	ck_assert_int_eq(ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "device: 0\nname: \"Fake GPU 80GB\"\ngpus_visible: 1\n"));
	ck_assert_int_eq(ops->describe(s, yaml, 8), -ENOSPC);
	ck_assert_double_eq(ops->min_interval_ms, 10);
	plug->fini(s);
	ck_assert_int_eq(fk->inits, 0);   /* nvmlShutdown on fini */
}
END_TEST

START_TEST(not_supported_is_nan)
{
	void *s = open_probe();
	double v[N_CH];

	fk->unsupported = 4 | 8 | 32;   /* power, energy, clocks (older boards) */
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert_double_eq(v[0], 50);
	ck_assert(isnan(v[2]) && isnan(v[3]) && isnan(v[5]) && isnan(v[6]));
	ck_assert_double_eq(v[4], 45);
	ck_assert_int_eq(th.n_lines, 0);   /* expected, so not worth a warning */
	plug->fini(s);
}
END_TEST

START_TEST(errors_say_why)
{
	void *s = NULL;

	fk->init_error = 9;
	ck_assert_int_eq(plug->init(&th.host, config, &s), -ENODEV);
	ck_assert_ptr_nonnull(strstr(th.log, "nvmlInit failed: Driver Not Loaded"));
	fk->init_error = 0;

	ck_assert_int_eq(test_config_set(plug, config, "device", "2"), 0);
	ck_assert_int_eq(plug->init(&th.host, config, &s), -ENODEV);
	ck_assert_ptr_nonnull(strstr(th.log, "device 2 does not exist: NVML sees 1 GPU (0..0)"));
	ck_assert_int_eq(fk->inits, 0);   /* shut down again */

	fk->count = 0;
	ck_assert_int_eq(test_config_set(plug, config, "device", "0"), 0);
	ck_assert_int_eq(plug->init(&th.host, config, &s), -ENODEV);
	ck_assert_ptr_nonnull(strstr(th.log, "NVML found no NVIDIA GPU"));
	fk->count = 1;

	ck_assert_int_eq(test_config_set(plug, config, "library", "/no/such/libnvidia-ml.so.1"), 0);
	ck_assert_int_eq(plug->init(&th.host, config, &s), -ENOENT);
	ck_assert_ptr_nonnull(strstr(th.log, "cannot open /no/such/libnvidia-ml.so.1"));
	ck_assert_ptr_null(s);

	/* available() checks the driver's library by its usual name */
	char why[512] = "";
	void *real = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!real) {
		ck_assert_int_eq(plug->available(&th.host, why, sizeof why), -ENOENT);
		ck_assert_str_eq(why, "libnvidia-ml.so.1 not found (no NVIDIA driver)");
	} else {
		dlclose(real);   /* a machine with the driver: whatever NVML says */
	}
}
END_TEST

START_TEST(lost_gpu_fails_the_read)
{
	void *s = open_probe();
	double v[N_CH];

	fk->lost_after = 2;
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert_int_eq(ops->read(s, v), 0);
	ck_assert_int_eq(ops->read(s, v), -ENODEV);
	ck_assert(isnan(v[0]) && isnan(v[3]));
	plug->fini(s);
}
END_TEST

/* ---- through the sampler, on a fake clock ---- */

static double fake_now;
static double fake_clock(void *ctx)
{
	(void)ctx;
	return 1e6 + fake_now;
}

/* the readings at one instant: energy (J) and power (W) */
static void at(double t, double energy_j, double power_w)
{
	fake_now = t;
	fk->energy_mj = (unsigned long long)(energy_j * 1e3 + 0.5);
	fk->power_mw = power_w * 1e3;
}

START_TEST(energy_per_phase_through_the_sampler)
{
	void *st = open_probe();
	/* an interval the fake clock never reaches: only the test's
	 * boundaries and polls read, so every reading is the scripted one */
	struct pb_probe_inst in = { .name = "nvml", .ops = ops, .state = st, .interval_ms = 1e9 };
	struct pb_sampler_opts o = { .clock_ms = fake_clock };
	struct pb_sampler *s;
	struct pb_phase_stat ps;

	fake_now = 0;
	at(0, 5000.0, 100);
	ck_assert_int_eq(pb_sampler_start_opts(&s, &in, 1, PB_PHASE_LOAD, &o), 0);
	at(50, 5006.0, 120);
	pb_sampler_poll(s);
	at(100, 5012.5, 140);
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	at(130, 5018.0, 200);
	pb_sampler_poll(s);
	at(160, 5027.25, 100);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	at(260, 5047.0, 300);
	pb_sampler_stop(s);

	/* the counter: exact deltas */
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_energy_j", PB_PHASE_LOAD, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 12.5, 1e-9);
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_energy_j", PB_PHASE_PREFILL, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 14.75, 1e-9);
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_energy_j", PB_PHASE_DECODE, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 19.75, 1e-9);
	/* power: trapezoids split at the boundary readings
	 * load (100+120)/2·0.05 + (120+140)/2·0.05 = 12 J
	 * prefill (140+200)/2·0.03 + (200+100)/2·0.03 = 9.6 J
	 * decode (100+300)/2·0.1 = 20 J */
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_power_w", PB_PHASE_LOAD, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 12, 1e-9);
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_power_w", PB_PHASE_PREFILL, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 9.6, 1e-9);
	ck_assert_double_eq(ps.power_max_w, 200);
	ck_assert_int_eq(pb_sampler_stat(s, "gpu0_power_w", PB_PHASE_DECODE, &ps), 0);
	ck_assert_double_eq_tol(ps.energy_j, 20, 1e-9);
	ck_assert_double_eq(ps.power_max_w, 300);

	/* phases.csv carries the energy and how it was measured */
	char dir[256], probes[512], phases[512], err[256];
	struct pb_table *t = NULL;
	test_mkdtemp(dir, sizeof dir);
	snprintf(probes, sizeof probes, "%s/probes.csv", dir);
	snprintf(phases, sizeof phases, "%s/phases.csv", dir);
	ck_assert_int_eq(pb_sampler_write(s, probes, phases), 0);
	ck_assert_msg(pb_csv_read(phases, &t, err, sizeof err) == 0, "%s", err);
	int c_ch = pb_table_col(t, "channel"), c_ph = pb_table_col(t, "phase");
	int c_e = pb_table_col(t, "energy_j"), c_m = pb_table_col(t, "energy_method");
	int found = 0;
	for (int r = 0; r < t->nrows; r++) {
		if (strcmp(t->rows[r][c_ph], "prefill"))
			continue;
		if (!strcmp(t->rows[r][c_ch], "gpu0_power_w")) {
			ck_assert_str_eq(t->rows[r][c_m], "integrated power");
			ck_assert_double_eq_tol(strtod(t->rows[r][c_e], NULL), 9.6, 1e-9);
			found++;
		} else if (!strcmp(t->rows[r][c_ch], "gpu0_energy_j")) {
			ck_assert_str_eq(t->rows[r][c_m], "counter");
			ck_assert_double_eq_tol(strtod(t->rows[r][c_e], NULL), 14.75, 1e-9);
			found++;
		} else if (!strcmp(t->rows[r][c_ch], "gpu0_temp_c")) {
			ck_assert_str_eq(t->rows[r][c_e], "");
			ck_assert_str_eq(t->rows[r][c_m], "");
			found++;
		}
	}
	ck_assert_int_eq(found, 3);
	pb_table_free(t);
	test_rm_rf(dir);

	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_energy_summary(s, &row, 10, 9);
	ck_assert_str_eq(pb_row_get(&row, "gpu0_power_w_energy_j_decode"), "20");
	ck_assert_str_eq(pb_row_get(&row, "gpu0_power_w_energy_j_measured"), "29.6");
	ck_assert_str_eq(pb_row_get(&row, "gpu0_energy_j_measured"), "34.5");
	ck_assert_str_eq(pb_row_get(&row, "gpu0_energy_j_per_token"), "3.45");
	/* 34.5 J over 0.16 s of prefill and decode */
	ck_assert_str_eq(pb_row_get(&row, "gpu0_energy_j_power_w_mean"), "215.625");
	pb_row_free(&row);
	pb_sampler_free(s);
	plug->fini(st);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("nvml");
	TCase *tc = tcase_create("nvml");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_every_channel);
	tcase_add_test(tc, not_supported_is_nan);
	tcase_add_test(tc, errors_say_why);
	tcase_add_test(tc, lost_gpu_fails_the_read);
	tcase_add_test(tc, energy_per_phase_through_the_sampler);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

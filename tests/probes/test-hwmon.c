/* tests/probes/test-hwmon.c — the hwmon probe on a fixture tree
 * (tests/probes/fixtures/hwmon): INA3221 rails labelled only on their
 * voltages (as on Jetson boards), coretemp twice (two sockets), a power
 * meter with powerK_average only, a driver with its attributes in
 * device/, an energy counter, extra and missing files, an unreadable
 * sensor, and power supplies: a battery with only voltage and current, one
 * with power_now, mains without either. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probetest.h"

static struct probe_fix F;

static void setup(void)
{
	probe_fix_load(&F, HWMON_SO, "hwmon");
	ck_assert_double_eq(F.ops->min_interval_ms, 10);
}

static void teardown(void)
{
	dlclose(F.handle);
}

static const struct {
	const char *name, *unit;
	enum pb_channel_kind kind;
	double value;
} want[] = {
	{ "ina3221_vdd_in_voltage_v", "V", PB_GAUGE, 5.072 },
	{ "ina3221_vdd_cpu_gpu_cv_voltage_v", "V", PB_GAUGE, 5.064 },
	{ "ina3221_in4_voltage_v", "V", PB_GAUGE, 0.012 },
	{ "ina3221_vdd_in_current_a", "A", PB_GAUGE, 1.26 },
	{ "ina3221_vdd_cpu_gpu_cv_current_a", "A", PB_GAUGE, 0.452 },
	{ "ina3221_vdd_soc_current_a", "A", PB_GAUGE, 0.3 },
	{ "coretemp_1_package_id_0_temp_c", "C", PB_GAUGE, 52.0 },
	{ "coretemp_1_core_0_temp_c", "C", PB_GAUGE, 49.0 },
	{ "coretemp_2_package_id_1_temp_c", "C", PB_GAUGE, 50.0 },
	{ "coretemp_2_core_0_temp_c", "C", PB_GAUGE, 47.0 },
	{ "ina226_power1_power_w", "W", PB_GAUGE, 2.5 },
	{ "ina226_in1_voltage_v", "V", PB_GAUGE, 12.0 },
	{ "ina226_curr1_current_a", "A", PB_GAUGE, 0.208 },
	{ "amdgpu_power1_power_w", "W", PB_GAUGE, 15.0 },
	{ "amdgpu_edge_temp_c", "C", PB_GAUGE, 55.0 },
	{ "oldchip_temp1_temp_c", "C", PB_GAUGE, 30.0 },
	{ "energymeter_energy1_energy_j", "J", PB_COUNTER, 7.0 },
	{ "energymeter_temp2_temp_c", "C", PB_GAUGE, NAN },
	{ "bat0_power_w", "W", PB_GAUGE, 6.0 },           /* 12 V × |−0.5 A| */
	{ "bat1_power_w", "W", PB_GAUGE, 7.25 },          /* power_now wins */
	{ "ucsi_source_psy_usbc000_001_power_w", "W", PB_GAUGE, 15.0 },
};
#define N_WANT (int)(sizeof want / sizeof *want)

START_TEST(every_sensor)
{
	const struct pb_channel *ch;
	double v[64];
	void *s;
	int n;

	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/hwmon", &s, NULL), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	for (int i = 0; i < n && i < N_WANT; i++)
		ck_assert_msg(!strcmp(ch[i].name, want[i].name), "channel %d: want %s, got %s", i,
			      want[i].name, ch[i].name);
	ck_assert_int_eq(n, N_WANT);   /* AC (mains) has nothing to measure; alarms are not sensors */
	ck_assert_int_eq(F.ops->read(s, v), 0);
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(ch[i].unit, want[i].unit);
		ck_assert_int_eq(ch[i].kind, want[i].kind);
		ck_assert_double_eq(ch[i].wrap, 0);
		ck_probe_value(v[i], want[i].value, want[i].name);
	}
	char yaml[16384];
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml, "  - channel: bat0_power_w\n    file: \""));
	ck_assert_ptr_nonnull(strstr(yaml, "BAT0/voltage_now\"\n    times: \""));
	F.plug->fini(s);
}
END_TEST

START_TEST(sensor_globs)
{
	const struct pb_channel *ch;
	void *s;
	int n;

	const char *power[] = { "sensors=*_power_w", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/hwmon", &s, power), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(ch[0].name, "ina226_power1_power_w");
	ck_assert_str_eq(ch[4].name, "ucsi_source_psy_usbc000_001_power_w");
	F.plug->fini(s);

	const char *rails[] = { "sensors=ina3221_vdd_*_current_a,bat0*", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/hwmon", &s, rails), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(ch[3].name, "bat0_power_w");
	F.plug->fini(s);

	const char *none[] = { "sensors=gpu*", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/hwmon", &s, none), -ENODEV);
	ck_assert_ptr_nonnull(strstr(F.th.log, "no hwmon sensor or power supply channel matches "
				     "sensors 'gpu*'"));
}
END_TEST

START_TEST(files_change_mid_run)
{
	char dir[256], path[600];
	const struct pb_channel *ch;
	double v[64];
	void *s;
	int n;

	test_mkdtemp(dir, sizeof dir);
	probe_copy_tree(FIXTURES "/hwmon", dir);
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	int bat0 = probe_chan(ch, n, "bat0_power_w"), vin = probe_chan(ch, n, "ina3221_vdd_in_voltage_v");
	int ej = probe_chan(ch, n, "energymeter_energy1_energy_j");
	ck_assert_int_ge(bat0, 0);
	ck_assert_int_ge(vin, 0);

	/* the battery's current is gone: no power; a rail reads garbage */
	snprintf(path, sizeof path, "%s/sys/class/power_supply/BAT0/current_now", dir);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof path, "%s/sys/class/hwmon/hwmon0/in1_input", dir);
	test_write(path, "N/A\n");
	snprintf(path, sizeof path, "%s/sys/class/hwmon/hwmon6/energy1_input", dir);
	test_write(path, "7500000\n");
	ck_assert_int_eq(F.ops->read(s, v), 0);
	ck_probe_value(v[bat0], NAN, "bat0");
	ck_probe_value(v[vin], NAN, "vdd_in");
	ck_probe_value(v[ej], 7.5, "energy");
	F.plug->fini(s);

	/* a battery charging: positive current, the same power */
	snprintf(path, sizeof path, "%s/sys/class/power_supply/BAT0/current_now", dir);
	test_write(path, "250000\n");
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), 0);
	ck_assert_int_eq(F.ops->read(s, v), 0);
	ck_probe_value(v[bat0], 3.0, "bat0");
	F.plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

START_TEST(nothing_here)
{
	char why[1024] = "";
	void *s;
	int rc = F.plug->available(&F.th.host, why, sizeof why);

	if (access("/sys/class/hwmon/hwmon0", F_OK) && access("/sys/class/power_supply/BAT0", F_OK) &&
	    access("/sys/class/power_supply/battery", F_OK))
		ck_assert_msg(rc == -ENODEV && why[0], "rc %d, why '%s'", rc, why);
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/thermal", &s, NULL), -ENODEV);
	ck_assert_ptr_nonnull(strstr(F.th.log, "thermal/sys/class/hwmon (No such file or directory)"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("hwmon");
	TCase *tc = tcase_create("hwmon");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_sensor);
	tcase_add_test(tc, sensor_globs);
	tcase_add_test(tc, files_change_mid_run);
	tcase_add_test(tc, nothing_here);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

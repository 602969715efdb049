/* tests/probes/test-thermal.c — the thermal probe on a fixture tree
 * (tests/probes/fixtures/thermal): zones with and without trip points, a
 * zone whose temp cannot be read (a directory, standing in for ENODATA:
 * it fails for root too), numeric zone order, type globs, describe() YAML
 * accepted by the manifest writer. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results.h"
#include "util/util.h"

#include "probetest.h"

static struct probe_fix F;

static void setup(void)
{
	probe_fix_load(&F, THERMAL_SO, "thermal");
	ck_assert_double_eq(F.ops->min_interval_ms, 10);
	ck_assert_ptr_nonnull(F.ops->describe);
}

static void teardown(void)
{
	dlclose(F.handle);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(zones_and_readings)
{
	static const char *const names[] = {
		"x86_pkg_temp_0_temp_c", "acpitz_1_temp_c", "cpu_therm_2_temp_c", "iwlwifi_1_10_temp_c",
	};
	const double want[] = { 45.0, NAN, 38.5, 41.0 };
	const struct pb_channel *ch;
	double v[4];
	void *s;
	int n;

	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/thermal", &s, NULL), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 4);   /* cooling_device0 is not a zone; zone 10 sorts after 2 */
	for (int r = 0; r < 2; r++) {
		ck_assert_int_eq(F.ops->read(s, v), 0);   /* a bad zone is NAN, not an error */
		for (int i = 0; i < n; i++) {
			ck_assert_str_eq(ch[i].name, names[i]);
			ck_assert_str_eq(ch[i].unit, "C");
			ck_assert_int_eq(ch[i].kind, PB_GAUGE);
			ck_probe_value(v[i], want[i], names[i]);
		}
	}
	/* the unreadable zone is reported once, with its file */
	ck_assert_int_eq(count(F.th.log, "thermal_zone1/temp: Is a directory; its readings are NAN"), 1);
	F.plug->fini(s);
}
END_TEST

START_TEST(type_globs)
{
	const struct pb_channel *ch;
	void *s;
	int n;

	const char *two[] = { "zones=x86*,CPU-*", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/thermal", &s, two), 0);
	ck_assert_int_eq(F.ops->channels(s, &ch, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(ch[0].name, "x86_pkg_temp_0_temp_c");
	ck_assert_str_eq(ch[1].name, "cpu_therm_2_temp_c");
	F.plug->fini(s);

	const char *none[] = { "zones=soc*", NULL };
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/thermal", &s, none), -ESRCH);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(F.th.log, "no thermal zone type matches zones 'soc*' "
				     "(types here: x86_pkg_temp, acpitz, CPU-therm, iwlwifi_1)"));
}
END_TEST

START_TEST(trip_points_described)
{
	char yaml[4096], dir[256], path[512];
	void *s;

	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/thermal", &s, NULL), 0);
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	ck_assert_ptr_nonnull(strstr(yaml,
		"zones:\n"
		"  - zone: thermal_zone0\n"
		"    type: \"x86_pkg_temp\"\n"
		"    channel: x86_pkg_temp_0_temp_c\n"
		"    trips:\n"
		"      - type: \"passive\"\n"
		"        temp_c: 95.000\n"
		"      - type: \"critical\"\n"
		"        temp_c: 105.000\n"
		"  - zone: thermal_zone1\n"));
	ck_assert_ptr_nonnull(strstr(yaml, "type: \"CPU-therm\"\n    channel: cpu_therm_2_temp_c\n"
				     "    trips: []\n"));
	ck_assert_int_eq(F.ops->describe(s, yaml, 40), -ENOSPC);

	/* the manifest writer takes it as YAML */
	ck_assert_int_eq(F.ops->describe(s, yaml, sizeof yaml), 0);
	test_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/m.yaml", dir);
	struct pb_yaml_out *y = pb_yaml_open(path);
	ck_assert_ptr_nonnull(y);
	pb_yaml_seq_begin(y, "probes");
	pb_yaml_map_begin(y, NULL);
	pb_yaml_kv(y, "name", "thermal");
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "details", yaml), 0);
	pb_yaml_map_end(y);
	pb_yaml_seq_end(y);
	ck_assert_int_eq(pb_yaml_close(y), 0);
	char *text;
	size_t len;
	ck_assert_int_eq(pb_read_file(path, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "critical"));
	ck_assert_ptr_nonnull(strstr(text, "iwlwifi_1_10_temp_c"));
	free(text);
	test_rm_rf(dir);
	F.plug->fini(s);
}
END_TEST

START_TEST(zone_changes_mid_run)
{
	char dir[256], path[512];
	double v[4];
	void *s;

	test_mkdtemp(dir, sizeof dir);
	probe_copy_tree(FIXTURES "/thermal", dir);
	ck_assert_int_eq(probe_fix_open(&F, dir, &s, NULL), 0);
	snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone0/temp", dir);
	test_write(path, "-5500\n");
	snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone2/temp", dir);
	ck_assert_int_eq(unlink(path), 0);   /* the zone went away (a hot-unplugged device) */
	ck_assert_int_eq(F.ops->read(s, v), 0);
	ck_probe_value(v[0], -5.5, "zone0");
	ck_probe_value(v[2], NAN, "zone2");
	ck_probe_value(v[3], 41.0, "zone10");
	ck_assert_ptr_nonnull(strstr(F.th.log, "thermal_zone2/temp: No such file or directory"));
	F.plug->fini(s);
	test_rm_rf(dir);
}
END_TEST

static int has_zone(const char *dir)
{
	DIR *d = opendir(dir);
	int found = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		found |= !strncmp(e->d_name, "thermal_zone", 12);
	closedir(d);
	return found;
}

START_TEST(available_here)
{
	char why[1024] = "";
	void *s;
	int rc = F.plug->available(&F.th.host, why, sizeof why);

	if (!has_zone("/sys/class/thermal")) {
		ck_assert_int_eq(rc, -ENODEV);
		ck_assert_ptr_nonnull(strstr(why, "no thermal zones in /sys/class/thermal"));
	} else {
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(probe_fix_open(&F, FIXTURES "/rapl-2pkg", &s, NULL), -ENODEV);
	ck_assert_ptr_nonnull(strstr(F.th.log, "rapl-2pkg/sys/class/thermal"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("thermal");
	TCase *tc = tcase_create("thermal");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, zones_and_readings);
	tcase_add_test(tc, type_globs);
	tcase_add_test(tc, trip_points_described);
	tcase_add_test(tc, zone_changes_mid_run);
	tcase_add_test(tc, available_here);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

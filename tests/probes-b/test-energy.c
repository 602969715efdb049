/* tests/probes-b/test-energy.c — energy attribution, idle baseline,
 * cooldown and throttle detection on a clock the test moves.
 *
 * The fake probe reads functions of that clock: power P(t) = A + B·t as a
 * W gauge, its integral as a J counter, a temperature that falls as time
 * passes, and a CPU frequency the test sets.  Whenever the sampler thread
 * happens to read, the readings agree with one curve, so energy per phase
 * from the counter and from the integrated power must both equal the
 * integral of P exactly (the trapezoid is exact on a line).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results.h"
#include "run/cell-probes.h"
#include "run/sampler.h"
#include "util/util.h"

#define A_W 20.0
#define B_W_PER_MS 0.01    /* +10 W per second */

static _Atomic double fake_now;
static _Atomic double last_clock;   /* what the sampler last read the clock as */
static _Atomic double freq_mhz;
static _Atomic double temp_start_c;

/* The sampler reads the clock and then, under the same lock, the probe;
 * the probe answers for the time the sampler stamps, even when the test
 * moves the clock in between. */
static double fake_clock(void *ctx)
{
	(void)ctx;
	last_clock = fake_now;
	return 5e5 + last_clock;
}

static double power(double t) { return A_W + B_W_PER_MS * t; }
static double energy(double t) { return (A_W * t + B_W_PER_MS * t * t / 2) / 1e3; }
static double temp(double t)
{
	double c = temp_start_c - t / 100.0;   /* cools 10 C per second */
	return c < 30 ? 30 : c;
}

static const struct pb_channel ch[] = {
	{ .name = "pkg_energy_j", .unit = "J", .kind = PB_COUNTER },
	{ .name = "rail_power_w", .unit = "W", .kind = PB_GAUGE },
	{ .name = "zone0_temp_c", .unit = "C", .kind = PB_GAUGE },
	{ .name = "cpu_freq_mhz_min", .unit = "MHz", .kind = PB_GAUGE },
};

static int n_ch = 4;

static int f_channels(void *state, const struct pb_channel **c, int *n)
{
	(void)state;
	*c = ch;
	*n = n_ch;
	return 0;
}

static int f_read(void *state, double *v)
{
	(void)state;
	double t = last_clock;
	v[0] = energy(t);
	v[1] = power(t);
	if (n_ch > 2) {
		v[2] = temp(t);
		v[3] = freq_mhz;
	}
	return 0;
}

static const struct pb_probe_ops f_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = f_channels, .read = f_read, .min_interval_ms = 1,
};

static const struct pb_sampler_opts fake_time = { .clock_ms = fake_clock };

static struct pb_sampler *start(double interval_ms)
{
	struct pb_probe_inst in = { .name = "fake", .ops = &f_ops, .interval_ms = interval_ms };
	struct pb_sampler *s;
	ck_assert_int_eq(pb_sampler_start_opts(&s, &in, 1, PB_PHASE_LOAD, &fake_time), 0);
	return s;
}

/* move the clock to t in small steps, giving the thread a chance to read */
static void advance(double t)
{
	while (fake_now + 7 < t) {
		fake_now = fake_now + 7;
		usleep(200);
	}
	fake_now = t;
}

static void sleep_fake(void *ctx, double ms)
{
	(void)ctx;
	advance(fake_now + ms);
}

static void setup(void)
{
	fake_now = 0;
	freq_mhz = 2000;
	temp_start_c = 90;
	n_ch = 4;
}

/* summary values carry 6 significant digits */
#define ck_assert_near6(a, b) \
	ck_assert_msg(fabs((a) - (b)) <= 1e-5 * fabs(b) + 1e-12, "%.17g vs %.17g", (double)(a), (double)(b))

static double row_d(const struct pb_row *r, const char *k)
{
	const char *v = pb_row_get(r, k);
	ck_assert_msg(v != NULL, "no column %s", k);
	return v[0] ? strtod(v, NULL) : NAN;
}

START_TEST(counter_and_integrated_power_agree)
{
	struct pb_sampler *s = start(10);   /* the thread reads too */
	struct pb_phase_stat st;

	advance(100);
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	advance(160);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	advance(400);
	pb_sampler_phase(s, PB_PHASE_PREFILL);   /* a second request */
	advance(450);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	advance(700);
	pb_sampler_stop(s);

	double e_pre = energy(160) - energy(100) + energy(450) - energy(400);
	double e_dec = energy(400) - energy(160) + energy(700) - energy(450);
	ck_assert_int_eq(pb_sampler_stat(s, "pkg_energy_j", PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq_tol(st.energy_j, e_pre, 1e-12);
	ck_assert_double_eq_tol(st.delta, e_pre, 1e-12);
	ck_assert_int_eq(pb_sampler_stat(s, "rail_power_w", PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq_tol(st.energy_j, e_pre, 1e-12);
	/* the highest reading; the one at 450 opens decode, so it is not prefill's */
	ck_assert(st.power_max_w >= power(400) && st.power_max_w < power(450));
	ck_assert_int_eq(pb_sampler_stat(s, "rail_power_w", PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq_tol(st.energy_j, e_dec, 1e-12);
	ck_assert_int_eq(pb_sampler_stat(s, "rail_power_w", PB_PHASE_LOAD, &st), 0);
	ck_assert_double_eq_tol(st.energy_j, energy(100), 1e-12);
	/* the counter's highest power over an interval lies within the curve */
	ck_assert_int_eq(pb_sampler_stat(s, "pkg_energy_j", PB_PHASE_DECODE, &st), 0);
	ck_assert(st.power_max_w >= power(160) - 1e-9 && st.power_max_w <= power(700) + 1e-9);
	ck_assert(isnan(st.mean));
	/* not an energy channel */
	ck_assert_int_eq(pb_sampler_stat(s, "zone0_temp_c", PB_PHASE_DECODE, &st), 0);
	ck_assert(isnan(st.energy_j));

	/* summary: 10 output tokens, 8 chosen in decode steps */
	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_summary(s, &row);
	pb_sampler_energy_summary(s, &row, 10, 8);
	ck_assert_near6(row_d(&row, "pkg_energy_j_prefill"), e_pre);
	ck_assert_near6(row_d(&row, "rail_power_w_energy_j_prefill"), e_pre);
	ck_assert_near6(row_d(&row, "rail_power_w_energy_j_decode"), e_dec);
	ck_assert_near6(row_d(&row, "rail_power_w_energy_j_total"), energy(700));
	ck_assert_near6(row_d(&row, "pkg_energy_j_measured"), e_pre + e_dec);
	ck_assert_near6(row_d(&row, "pkg_energy_j_per_token"), (e_pre + e_dec) / 10);
	ck_assert_near6(row_d(&row, "rail_power_w_energy_j_per_token_decode"), e_dec / 8);
	ck_assert_near6(row_d(&row, "pkg_energy_j_power_w_mean"),
				(e_pre + e_dec) / 0.6);
	ck_assert_ptr_null(pb_row_get(&row, "pkg_energy_j_idle_power_w"));   /* no baseline */
	ck_assert_ptr_null(pb_row_get(&row, "zone0_temp_c_measured"));
	pb_row_free(&row);

	struct pb_energy_source es[4];
	ck_assert_int_eq(pb_sampler_energy_sources(s, es, 4), 2);
	ck_assert_str_eq(es[0].channel, "pkg_energy_j");
	ck_assert_str_eq(pb_energy_method_name(es[0].kind), "counter");
	ck_assert_str_eq(pb_energy_method_name(es[1].kind), "integrated power");
	pb_sampler_free(s);
}
END_TEST

START_TEST(idle_baseline_net_energy)
{
	struct pb_sampler *s = start(25);
	struct pb_wait_opts w = { .sleep_ms = sleep_fake };
	double t0, t1;

	advance(200);
	ck_assert_int_eq(pb_idle_baseline(s, 2.0, &w, &t0, &t1), 2);
	ck_assert_double_eq(t0, 200);
	ck_assert_double_eq(t1, 2200);
	/* idle power = mean of the line over [200, 2200] = P(1200) */
	double idle = power(1200);
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	advance(2300);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	advance(2800);
	pb_sampler_phase(s, PB_PHASE_IDLE);
	advance(2900);
	pb_sampler_stop(s);
	ck_assert_double_eq(pb_sampler_baseline_ms(s), 2000);

	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_energy_summary(s, &row, 5, 4);
	double e_pre = energy(2300) - energy(2200), e_dec = energy(2800) - energy(2300);
	for (int k = 0; k < 2; k++) {
		const char *stem = k ? "rail_power_w_energy_j" : "pkg_energy_j";
		char key[128];
		snprintf(key, sizeof key, "%s_idle_power_w", stem);
		ck_assert_near6(row_d(&row, key), idle);
		snprintf(key, sizeof key, "%s_prefill_net", stem);
		ck_assert_near6(row_d(&row, key), e_pre - idle * 0.1);
		snprintf(key, sizeof key, "%s_decode_net", stem);
		ck_assert_near6(row_d(&row, key), e_dec - idle * 0.5);
		snprintf(key, sizeof key, "%s_per_token_net", stem);
		ck_assert_near6(row_d(&row, key), (e_pre + e_dec - idle * 0.6) / 5);
	}
	pb_row_free(&row);
	pb_sampler_free(s);
}
END_TEST

START_TEST(cooldown_waits_for_the_hottest)
{
	struct pb_wait_opts w = { .sleep_ms = sleep_fake, .poll_ms = 250 };
	struct pb_cooldown_result r;
	struct pb_sampler *s = start(1e6);

	/* 90 C falling 10 C/s: at or below 60 after 3 s */
	ck_assert_int_eq(pb_cooldown_wait(s, 60, 30, &w, &r), 0);
	ck_assert_int_eq(r.ran, 1);
	ck_assert_int_eq(r.n_channels, 1);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_double_eq(r.start_c, 90);
	ck_assert_double_eq(r.waited_ms, 3000);
	ck_assert_double_eq(r.end_c, 60);
	/* already cool: no wait */
	ck_assert_int_eq(pb_cooldown_wait(s, 70, 30, &w, &r), 0);
	ck_assert_double_eq(r.waited_ms, 0);
	pb_sampler_free(s);

	/* cannot get there in time */
	fake_now = 0;
	temp_start_c = 100;
	s = start(1e6);
	ck_assert_int_eq(pb_cooldown_wait(s, 20, 1.1, &w, &r), 0);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_double_eq(r.waited_ms, 1100);
	ck_assert_double_eq(r.end_c, 89);
	pb_sampler_free(s);

	/* no temperature channel: nothing to wait on */
	fake_now = 0;
	n_ch = 2;
	s = start(1e6);
	ck_assert_int_eq(pb_cooldown_wait(s, 20, 10, &w, &r), 0);
	ck_assert_int_eq(r.n_channels, 0);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_double_eq(r.waited_ms, 0);
	pb_sampler_free(s);
}
END_TEST

START_TEST(throttle_by_frequency_and_trip)
{
	struct pb_throttle t;
	struct pb_sampler *s = start(1e6);   /* only the test's polls read */

	memset(&t, 0, sizeof t);
	/* the thermal probe's describe() text: lowest passive/hot/critical
	 * trip per channel; active trips (fans) do not throttle */
	pb_throttle_add_trips(&t, "zones:\n  - zone: thermal_zone0\n    type: \"x86_pkg_temp\"\n"
			      "    channel: zone0_temp_c\n    trips:\n"
			      "      - type: \"active\"\n        temp_c: 50.000\n"
			      "      - type: \"critical\"\n        temp_c: 100.000\n"
			      "      - type: \"passive\"\n        temp_c: 85.000\n"
			      "  - zone: thermal_zone1\n    type: \"acpitz\"\n"
			      "    channel: zone1_temp_c\n    trips: []\n");
	ck_assert_int_eq(t.n_trips, 1);
	ck_assert_str_eq(t.trips[0].channel, "zone0_temp_c");
	ck_assert_double_eq(t.trips[0].trip_c, 85);

	temp_start_c = 80;   /* below the trip from here on */
	/* warm-up: highest minimum frequency 2400 → limit 2160 at 90 % */
	double tw0 = pb_sampler_poll(s);
	advance(10);
	freq_mhz = 2400;
	pb_sampler_poll(s);
	advance(20);
	freq_mhz = 2200;
	double tw1 = pb_sampler_poll(s);
	pb_throttle_set_reference(&t, s, 90, tw0, tw1);
	ck_assert_double_eq(t.freq_ref_mhz, 2400);
	ck_assert_double_eq_tol(t.freq_limit_mhz, 2160, 1e-9);

	/* request 1: stays at 2200 */
	advance(30);
	double ta = pb_sampler_now(s);
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	advance(40);
	double tb = pb_sampler_poll(s);
	ck_assert_int_eq(pb_throttle_check(&t, s, ta, tb), 0);
	/* request 2: one core drops to 2000 */
	advance(50);
	ta = pb_sampler_now(s);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	advance(60);
	freq_mhz = 2000;
	pb_sampler_poll(s);
	advance(70);
	freq_mhz = 2300;
	tb = pb_sampler_poll(s);
	ck_assert_int_eq(pb_throttle_check(&t, s, ta, tb), 1);
	/* request 3: frequency fine, but the zone reaches its passive trip */
	temp_start_c = 86;
	advance(80);
	ta = pb_sampler_now(s);
	tb = pb_sampler_poll(s);
	ck_assert_int_eq(pb_throttle_check(&t, s, ta, tb), 1);

	/* throttle_pct 0 and no trips: nothing to check */
	struct pb_throttle none;
	memset(&none, 0, sizeof none);
	pb_throttle_set_reference(&none, s, 0, tw0, tw1);
	ck_assert(isnan(none.freq_limit_mhz));
	ck_assert_int_eq(pb_throttle_check(&none, s, ta, tb), -1);
	pb_throttle_add_trips(&none, "not: [the, thermal, format]\n:::\n");
	ck_assert_int_eq(none.n_trips, 0);
	pb_sampler_free(s);
}
END_TEST

/* Readings in a window and a baseline with no readings. */
START_TEST(ranges)
{
	struct pb_sampler *s = start(1e6);
	struct pb_range_stat r;

	advance(100);
	pb_sampler_poll(s);
	advance(300);
	pb_sampler_poll(s);
	ck_assert_int_eq(pb_sampler_range(s, "rail_power_w", 50, 300, &r), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_double_eq(r.min, power(100));
	ck_assert_double_eq(r.max, power(300));
	ck_assert_double_eq_tol(r.energy_j, energy(300) - energy(100), 1e-12);
	ck_assert_int_eq(pb_sampler_range(s, "pkg_energy_j", 0, 300, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_double_eq_tol(r.energy_j, energy(300), 1e-12);
	ck_assert_int_eq(pb_sampler_range(s, "no_such", 0, 300, &r), -ENOENT);
	ck_assert_int_eq(pb_sampler_set_baseline(s, 1000, 2000), 0);   /* empty window */
	pb_sampler_free(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("energy");
	TCase *tc = tcase_create("energy");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, counter_and_integrated_power_agree);
	tcase_add_test(tc, idle_baseline_net_energy);
	tcase_add_test(tc, cooldown_waits_for_the_hottest);
	tcase_add_test(tc, throttle_by_frequency_and_trip);
	tcase_add_test(tc, ranges);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

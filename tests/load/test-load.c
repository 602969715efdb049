/* tests/load/test-load.c — load patterns (issue 16 item 4): the open
 * loop's arrival schedule (constant rate exact, seeded Poisson
 * reproducible with the right mean, request and duration limits), the
 * goodput arithmetic, and `load:` / `slo:` in an experiment (defaults,
 * overrides per backend entry, sweeps, ids, the refusal on an in-process
 * backend), against the experiment suite's in-memory registry. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../experiment/fake.h"
#include "run/load.h"

static struct pb_load_spec open_spec(double rate, enum pb_arrivals a, uint64_t seed)
{
	return (struct pb_load_spec){ .given = 1, .mode = PB_LOAD_OPEN, .concurrency = 64,
				      .rate_rps = rate, .arrivals = a, .seed = seed };
}

/* ---- the schedule */

START_TEST(test_constant_exact)
{
	struct pb_load_spec l = open_spec(4, PB_ARRIVALS_CONSTANT, 0);
	double *t;
	long n;
	ck_assert_int_eq(pb_load_schedule(&l, 7, &t, &n), 0);
	ck_assert_int_eq(n, 7);   /* the default: records × repeat */
	for (long k = 0; k < n; k++)
		ck_assert_msg(t[k] == 250.0 * (double)k, "t[%ld] = %.17g", k, t[k]);
	free(t);
	/* a rate whose gap is no exact binary fraction: still k · gap, no drift */
	l.rate_rps = 3;
	l.requests = 3001;
	ck_assert_int_eq(pb_load_schedule(&l, 7, &t, &n), 0);
	ck_assert_int_eq(n, 3001);
	ck_assert(t[3000] == 3000 * (1e3 / 3));
	ck_assert(fabs(t[3000] - 1e6) < 1e-6);
	free(t);
}
END_TEST

START_TEST(test_limits)
{
	struct pb_load_spec l = open_spec(4, PB_ARRIVALS_CONSTANT, 0);
	double *t;
	long n;
	/* duration: every arrival before D, none at or after it */
	l.duration_s = 2.5;
	ck_assert_int_eq(pb_load_schedule(&l, 99, &t, &n), 0);
	ck_assert_int_eq(n, 10);
	ck_assert(t[9] == 2250);
	free(t);
	l.duration_s = 2.25;   /* 2250 itself is not before D */
	ck_assert_int_eq(pb_load_schedule(&l, 99, &t, &n), 0);
	ck_assert_int_eq(n, 9);
	free(t);
	/* requests: exactly N, records cycled */
	l.duration_s = 0;
	l.requests = 5;
	ck_assert_int_eq(pb_load_schedule(&l, 99, &t, &n), 0);
	ck_assert_int_eq(n, 5);
	free(t);
	/* Poisson by duration: every arrival before D */
	l = open_spec(50, PB_ARRIVALS_POISSON, 3);
	l.duration_s = 10;
	ck_assert_int_eq(pb_load_schedule(&l, 1, &t, &n), 0);
	ck_assert_int_gt(n, 400);
	ck_assert_int_lt(n, 600);
	for (long k = 0; k < n; k++)
		ck_assert(t[k] < 10000);
	free(t);
	/* the counts a closed loop makes */
	struct pb_load_spec c = { .mode = PB_LOAD_CLOSED, .concurrency = 2 };
	ck_assert_int_eq(pb_load_count(&c, 12), 12);
	c.requests = 5;
	ck_assert_int_eq(pb_load_count(&c, 12), 5);
	c.requests = 0;
	c.duration_s = 1;
	ck_assert_int_eq(pb_load_count(&c, 12), -1);
	ck_assert_int_eq(pb_load_schedule(&c, 12, &t, &n), -EINVAL);
	/* too many */
	l = open_spec(1e6, PB_ARRIVALS_CONSTANT, 0);
	l.duration_s = 86400;
	ck_assert_int_eq(pb_load_schedule(&l, 1, &t, &n), -E2BIG);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_poisson_seeded)
{
	struct pb_load_spec l = open_spec(10, PB_ARRIVALS_POISSON, 42);
	double *a, *b, *c;
	long na, nb, nc;
	l.requests = 20000;
	ck_assert_int_eq(pb_load_schedule(&l, 1, &a, &na), 0);
	ck_assert_int_eq(pb_load_schedule(&l, 1, &b, &nb), 0);
	l.seed = 43;
	ck_assert_int_eq(pb_load_schedule(&l, 1, &c, &nc), 0);
	ck_assert_int_eq(na, 20000);
	ck_assert_int_eq(memcmp(a, b, sizeof *a * (size_t)na), 0);   /* one seed, one schedule */
	ck_assert(memcmp(a, c, sizeof *a * (size_t)na) != 0);
	ck_assert(a[0] == 0);
	double sum = 0, sq = 0;
	for (long k = 1; k < na; k++) {
		double g = a[k] - a[k - 1];
		ck_assert(g >= 0);
		sum += g;
		sq += g * g;
	}
	double mean = sum / (double)(na - 1), sd = sqrt(sq / (double)(na - 1) - mean * mean);
	/* Exp(10/s): mean 100 ms and sd 100 ms (the se of the mean is 0.7 ms) */
	ck_assert_msg(fabs(mean - 100) < 3, "mean gap %g", mean);
	ck_assert_msg(fabs(sd - 100) < 5, "sd of the gaps %g", sd);
	/* the first few arrivals of seed 42, so a change to the draw shows */
	l.seed = 42;
	l.requests = 3;
	double *d;
	long nd;
	ck_assert_int_eq(pb_load_schedule(&l, 1, &d, &nd), 0);
	ck_assert(d[1] == a[1] && d[2] == a[2]);
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

/* ---- goodput */

START_TEST(test_slo_met)
{
	struct pb_slo_spec none = { 0 }, both = { .ttft_ms = 100, .tpot_ms = 20 };
	struct pb_slo_spec ttft = { .ttft_ms = 100 };
	ck_assert(pb_slo_met(&none, 1, 5000, 5000));
	ck_assert(!pb_slo_met(&none, 0, 1, 1));          /* a failed request never counts */
	ck_assert(pb_slo_met(&both, 1, 100, 20));        /* bounds inclusive */
	ck_assert(!pb_slo_met(&both, 1, 100.001, 20));
	ck_assert(!pb_slo_met(&both, 1, 50, 20.5));
	ck_assert(pb_slo_met(&both, 1, 50, NAN));        /* one token: no TPOT */
	ck_assert(!pb_slo_met(&both, 1, NAN, NAN));      /* no token: no TTFT */
	ck_assert(pb_slo_met(&ttft, 1, 99, 1e9));        /* TPOT not bounded */
	ck_assert(!pb_slo_given(&none));
	ck_assert(pb_slo_given(&ttft));
}
END_TEST

START_TEST(test_totals)
{
	struct pb_load_spec l = open_spec(2, PB_ARRIVALS_CONSTANT, 0);
	struct pb_slo_spec slo = { .ttft_ms = 100, .tpot_ms = 10 };
	/* four requests over 2 s: two meet the SLO, one is too slow to
	 * start, one failed; two overlap at most at once */
	const struct pb_load_obs o[] = {
		{ .ok = 1, .n_out = 10, .ttft_ms = 50, .tpot_ms = 5, .sched_ms = 0, .sent_ms = 0, .end_ms = 600 },
		{ .ok = 1, .n_out = 10, .ttft_ms = 150, .tpot_ms = 5, .sched_ms = 500, .sent_ms = 500, .end_ms = 1200 },
		{ .ok = 1, .n_out = 20, .ttft_ms = 80, .tpot_ms = 9, .sched_ms = 1000, .sent_ms = 1200, .end_ms = 2000 },
		{ .ok = 0, .n_out = 3, .ttft_ms = NAN, .tpot_ms = NAN, .sched_ms = 1500, .sent_ms = 1500, .end_ms = 1600 },
	};
	struct pb_load_totals t;
	pb_load_totals(&l, &slo, o, 4, &t);
	ck_assert_int_eq(t.n, 4);
	ck_assert_int_eq(t.n_ok, 3);
	ck_assert_int_eq(t.n_good, 2);
	ck_assert(t.window_s == 2);
	ck_assert(t.offered_rps == 2);
	ck_assert(t.offered_rps_actual == 2);              /* 3 gaps over 1.5 s */
	ck_assert(t.achieved_rps == 1.5);
	ck_assert(t.output_tok_s == 20);                   /* 40 tokens of the ok ones / 2 s */
	ck_assert(t.goodput_share == 0.5);
	ck_assert(t.goodput_rps == 1);
	ck_assert_int_eq(t.in_flight_max, 2);              /* [500,1200) with [0,600) or [1200,2000) with [1500,1600) */
	/* without an SLO: no goodput; closed: no offered rate */
	struct pb_slo_spec none = { 0 };
	struct pb_load_spec c = { .mode = PB_LOAD_CLOSED, .concurrency = 1 };
	pb_load_totals(&c, &none, o, 4, &t);
	ck_assert(isnan(t.goodput_share) && isnan(t.goodput_rps));
	ck_assert(isnan(t.offered_rps) && isnan(t.offered_rps_actual));
	/* an end at the very time of the next start is not an overlap */
	const struct pb_load_obs b2b[] = {
		{ .ok = 1, .sent_ms = 0, .end_ms = 10 }, { .ok = 1, .sent_ms = 10, .end_ms = 20 },
		{ .ok = 1, .sent_ms = 20, .end_ms = 20 },
	};
	pb_load_totals(&c, &none, b2b, 3, &t);
	ck_assert_int_eq(t.in_flight_max, 1);
	pb_load_totals(&c, &none, NULL, 0, &t);
	ck_assert_int_eq(t.in_flight_max, 0);
	ck_assert(isnan(t.achieved_rps));
}
END_TEST

/* ---- the settings */

#define BASE \
	"name: t\nseed: 9\n" \
	"models:\n  m: {synth: llama-15m}\n" \
	"datasets:\n  p: {path: prompts.txt}\n"

static struct pb_experiment *load_ok(const char *yaml)
{
	struct pb_experiment *e = NULL;
	char err[1024] = "";
	int ret = load_text(yaml, NULL, 0, &e, err, sizeof err);
	ck_assert_msg(ret == 0, "load failed (%d): %s", ret, err);
	return e;
}

static void load_bad(const char *yaml, const char *want)
{
	char err[1024] = "";
	struct pb_experiment *e = NULL;
	int ret = load_text(yaml, NULL, 0, &e, err, sizeof err);
	ck_assert_msg(ret == -EINVAL, "expected -EINVAL, got %d", ret);
	ck_assert_msg(strstr(err, want), "expected '%s' in: %s", want, err);
}

START_TEST(test_settings_default)
{
	struct pb_experiment *e = load_ok(BASE "backends:\n  api: {plugin: remote-api}\n");
	const struct pb_load_spec *l = &e->backends[0].load;
	ck_assert(!l->given && pb_load_is_default(l));
	ck_assert_int_eq(l->concurrency, 1);
	ck_assert(!pb_slo_given(&e->slo));
	ck_assert_ptr_null(strstr(e->cells[0].config_text, "load:"));
	char id[sizeof e->cells[0].id];
	snprintf(id, sizeof id, "%s", e->cells[0].id);
	pb_experiment_free(e);
	/* the default written out is the same cell */
	e = load_ok(BASE "load: {mode: closed, concurrency: 1}\n"
		    "backends:\n  api: {plugin: remote-api}\n");
	ck_assert(e->backends[0].load.given);
	ck_assert_str_eq(e->cells[0].id, id);
	pb_experiment_free(e);
	/* ... and the default is accepted on an in-process backend */
	e = load_ok(BASE "load: {mode: closed}\nbackends:\n  ref: {}\n");
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_settings_open)
{
	struct pb_experiment *e = load_ok(BASE
		"load: {mode: closed, concurrency: 4, requests: 20}\n"
		"slo: {ttft_ms: 200, tpot_ms: 50}\n"
		"backends:\n"
		"  closed: {plugin: remote-api}\n"
		"  open: {plugin: remote-api, url: 'http://127.0.0.1:2',\n"
		"         load: {mode: open, rate: {sweep: [2, 8]}, arrivals: constant, duration: 30s}}\n"
		"  poi: {plugin: remote-api, load: {mode: open, rate: 0.5}}\n");
	ck_assert_int_eq(e->n_backends, 4);
	const struct pb_load_spec *c = &e->backends[0].load;
	ck_assert(c->mode == PB_LOAD_CLOSED && c->concurrency == 4 && c->requests == 20);
	ck_assert_str_eq(e->backends[1].name, "open-rate2");
	ck_assert_str_eq(e->backends[2].name, "open-rate8");
	const struct pb_load_spec *o = &e->backends[2].load;
	ck_assert(o->mode == PB_LOAD_OPEN && o->rate_rps == 8 && o->duration_s == 30);
	ck_assert(o->arrivals == PB_ARRIVALS_CONSTANT);
	ck_assert_int_eq(o->concurrency, PB_LOAD_OPEN_CONCURRENCY);   /* the entry's load replaces the top level's */
	ck_assert_int_eq(o->requests, 0);
	const struct pb_load_spec *p = &e->backends[3].load;
	ck_assert(p->arrivals == PB_ARRIVALS_POISSON && p->seed == 9);   /* the experiment's seed */
	ck_assert(e->slo.ttft_ms == 200 && e->slo.tpot_ms == 50);
	/* the load is part of the cell: ids differ, and the config says it */
	ck_assert_str_ne(e->cells[1].id + strlen(e->cells[1].id) - 8,
			 e->cells[2].id + strlen(e->cells[2].id) - 8);
	ck_assert_ptr_nonnull(strstr(e->cells[2].config_text, "load:\n  mode: open\n"));
	ck_assert_ptr_nonnull(strstr(e->cells[2].config_text, "  rate: 8\n"));
	ck_assert_ptr_nonnull(strstr(e->cells[0].config_text, "  requests: 20\n"));
	/* the slo judges results: not in the cell */
	ck_assert_ptr_null(strstr(e->cells[0].config_text, "slo"));
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_settings_bad)
{
	load_bad(BASE "load: {mode: open, concurrency: 2}\nbackends:\n  ref: {}\n",
		 "'mode: open' needs 'rate'");
	load_bad(BASE "load: {mode: closed, concurrency: 2}\nbackends:\n  ref: {}\n",
		 "backend 'ref' (ref) runs the model in this process");
	load_bad(BASE "backends:\n  api: {plugin: remote-api, load: {mode: closed, rate: 2}}\n",
		 "'rate' applies only to 'mode: open'");
	load_bad(BASE "load: {mode: open, rate: 2, requests: 3, duration: 5}\nbackends:\n  ref: {}\n",
		 "not both");
	load_bad(BASE "load: {mode: open, rate: 2, arivals: constant}\nbackends:\n  ref: {}\n",
		 "unknown key 'arivals' (did you mean 'arrivals'?)");
	load_bad(BASE "load: {mode: opn, rate: 2}\nbackends:\n  ref: {}\n",
		 "(did you mean 'open'?)");
	load_bad(BASE "load: {mode: closed, concurrency: 0}\nbackends:\n  ref: {}\n",
		 "'concurrency': expected an integer between 1 and 1024");
	load_bad(BASE "load: {mode: open, rate: -1}\nbackends:\n  ref: {}\n", "'rate'");
	load_bad(BASE "slo: {ttft_m: 5}\nbackends:\n  ref: {}\n",
		 "unknown key 'ttft_m' (did you mean 'ttft_ms'?)");
	load_bad(BASE "slo: {}\nbackends:\n  ref: {}\n", "give 'ttft_ms', 'tpot_ms' or both");
	load_bad(BASE "load: 4\nbackends:\n  ref: {}\n", "expected a mapping");
	/* the position of the top-level load for an in-process entry */
	load_bad(BASE "load: {mode: open, rate: 1}\nbackends:\n  ref: {}\n", "exp.yaml:7:7:");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("load");
	TCase *t = tcase_create("schedule");
	tcase_add_test(t, test_constant_exact);
	tcase_add_test(t, test_limits);
	tcase_add_test(t, test_poisson_seeded);
	suite_add_tcase(s, t);
	t = tcase_create("goodput");
	tcase_add_test(t, test_slo_met);
	tcase_add_test(t, test_totals);
	suite_add_tcase(s, t);
	t = tcase_create("settings");
	tcase_add_test(t, test_settings_default);
	tcase_add_test(t, test_settings_open);
	tcase_add_test(t, test_settings_bad);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	tmp_setup();   /* in the parent, before Check forks the tests */
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	tmp_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

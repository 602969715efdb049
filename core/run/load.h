/* core/run/load.h — load patterns (issue 16 item 4), the arithmetic half:
 * when each request of an open loop is due, how many requests a run
 * makes, and what a run achieved (throughput, goodput under an SLO).
 * Pure functions, no threads and no clocks, so the unit tests hold them
 * to exact values; run/cell-load.c drives the requests. */
#ifndef PB_LOAD_H
#define PB_LOAD_H

#include "experiment/experiment.h"

/* The open loop's schedule: *n arrival times in ms from the cell's start,
 * ascending, the first at 0.  Constant: request k at k · 1000 / rate
 * exactly (a product, not a running sum, so no drift).  Poisson: gaps
 * drawn from Exp(rate) by inversion of pb_rng_uniform seeded with
 * l->seed, so one seed gives one schedule on every machine.  The count:
 * l->requests, else every arrival before l->duration_s, else
 * n_default (records × repeat).  *sched_ms is malloc'd (NULL when *n is
 * 0).  0, -EINVAL for a closed loop, -E2BIG past PB_LOAD_MAX_REQUESTS,
 * -ENOMEM. */
#define PB_LOAD_MAX_REQUESTS 10000000L
int pb_load_schedule(const struct pb_load_spec *l, long n_default, double **sched_ms, long *n);

/* Requests a run makes by count: l->requests, else n_default; -1 when the
 * run is bounded by its duration instead (a closed loop sends until
 * duration_s has passed). */
long pb_load_count(const struct pb_load_spec *l, long n_default);

/* Does a request meet the SLO?  It must have succeeded; a bound of 0 is
 * not given and does not constrain; a request with one token has no TPOT
 * and meets any TPOT bound (vLLM counts its TPOT as 0); one with no token
 * has no TTFT and meets no TTFT bound. */
int pb_slo_met(const struct pb_slo_spec *slo, int ok, double ttft_ms, double tpot_ms);
static inline int pb_slo_given(const struct pb_slo_spec *slo)
{
	return slo->ttft_ms > 0 || slo->tpot_ms > 0;
}

/* One measured request as the totals need it; times in ms from the
 * cell's start (the schedule's origin). */
struct pb_load_obs {
	int ok, n_out;
	double ttft_ms, tpot_ms;
	double sched_ms, sent_ms, end_ms;
};

struct pb_load_totals {
	long n, n_ok, n_good;
	double window_s;           /* start → the last request's end */
	double offered_rps;        /* open: the configured rate; closed: NAN */
	double offered_rps_actual; /* open: (n − 1) / (last − first scheduled); NAN otherwise */
	double achieved_rps;       /* requests that succeeded per second of the window */
	double output_tok_s;       /* their output tokens per second of the window */
	double goodput_share;      /* n_good / n; NAN without an SLO */
	double goodput_rps;        /* n_good per second of the window; NAN without an SLO */
	int in_flight_max;         /* most requests sent and not yet ended at one time */
};
void pb_load_totals(const struct pb_load_spec *l, const struct pb_slo_spec *slo,
		    const struct pb_load_obs *o, long n, struct pb_load_totals *out);

#endif

/* core/run/cell-probes.h — the cell's side of measurement conditions:
 * starting the experiment's probes, the cooldown wait, the idle baseline
 * and the per-request throttle check.  Used by cell.c; the pieces take
 * the sampler (and a sleep hook) so tests can drive them on a fake clock.
 */
#ifndef PB_CELL_PROBES_H
#define PB_CELL_PROBES_H

#include "experiment/experiment.h"
#include "plugin/host.h"
#include "run/hostcond.h"
#include "run/sampler.h"

/* Sampling interval of a probe with no `interval_ms` of its own (or 0). */
#define PB_PROBE_DEFAULT_INTERVAL_MS 50.0

struct pb_cell_record;

/* The process the probes sample (pb_host.pid): 0, the cell itself; a
 * served cell sets its server's pid before starting them (cell-served.c). */
extern int pb_cell_probe_pid;

/* Start every probe of e; one that is unavailable or fails to start is
 * recorded in rec with its reason and left out, never fatal.  hosts,
 * inst and states have e->n_probes entries; states[i] is the state of
 * probe i or NULL.  Returns the number of entries of inst filled. */
int pb_cell_start_probes(const struct pb_experiment *e, struct pb_cell_record *rec,
			 struct pb_host_ctx *hosts, struct pb_probe_inst *inst, void **states);

/* Sleep hook: real time by default; tests move their fake clock. */
struct pb_wait_opts {
	void (*sleep_ms)(void *ctx, double ms);
	void *ctx;
	double poll_ms;            /* between temperature checks; default 250 */
};

struct pb_cooldown_result {
	int ran;                   /* a cooldown was asked for */
	int n_channels;            /* °C channels seen; 0: nothing to wait on */
	double waited_ms;
	int timed_out;
	double start_c, end_c;     /* hottest reading at the start and the end */
};

/* Poll the probes until every °C GAUGE reads <= max_c or timeout_s has
 * passed (sampler time).  Returns 0. */
int pb_cooldown_wait(struct pb_sampler *s, double max_c, double timeout_s,
		     const struct pb_wait_opts *o, struct pb_cooldown_result *r);

/* Sample the probes idle for seconds (phase idle) and set the sampler's
 * baseline from that window.  Returns the channels that got one. */
int pb_idle_baseline(struct pb_sampler *s, double seconds, const struct pb_wait_opts *o,
		     double *t0, double *t1);

/* --wait-quiet in the cell, right before its measured requests (after
 * warm-up): wait for others' CPU below e->contention_threshold_pct over
 * a 1 s window, at most pb_wait_quiet_get() seconds — and never more than
 * half of what is left of the cell's `timeout` (sampler time since the
 * cell started), so that waiting cannot make the cell time out.  Logs the
 * outcome (WARN when it timed out). */
void pb_cell_wait_quiet(const struct pb_experiment *e, const struct pb_sampler *s,
			struct pb_quiet_result *r);

#define PB_TRIPS_MAX 64

/* What a request is checked against.  The frequency criterion: the
 * lowest CPU frequency (procstat's cpu_freq_mhz_min) during the request
 * below pct % of its highest value during warm-up.  The thermal one: a
 * °C channel reaching a passive, hot or critical trip point that its
 * probe's describe() lists. */
struct pb_throttle {
	double pct;
	double freq_ref_mhz, freq_limit_mhz;   /* NAN: no frequency criterion */
	int n_trips;
	struct { char channel[64]; double trip_c; } trips[PB_TRIPS_MAX];
};

/* Lowest passive/hot/critical trip per channel from a probe's describe()
 * text (the thermal probe's `zones: [{channel, trips: [{type, temp_c}]}]`);
 * appended to t.  Tolerant: text it does not understand adds nothing. */
void pb_throttle_add_trips(struct pb_throttle *t, const char *yaml);
/* Frequency reference from the warm-up window [tw0, tw1]. */
void pb_throttle_set_reference(struct pb_throttle *t, const struct pb_sampler *s, double pct,
			       double tw0, double tw1);
/* 1 throttled, 0 not, -1 no criterion could be checked. */
int pb_throttle_check(const struct pb_throttle *t, const struct pb_sampler *s, double ta,
		      double tb);

#endif

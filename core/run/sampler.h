/* core/run/sampler.h — the probe sampler thread and phase attribution.
 *
 * The runner marks phase boundaries; at each boundary the sampler reads
 * every probe at once (so COUNTER deltas split exactly at boundaries), and
 * between boundaries a thread samples every probe at its interval.  Every
 * reading is stamped on CLOCK_MONOTONIC.  COUNTER channels are unwrapped
 * (a reading below the previous one adds `wrap`); a probe whose read()
 * fails is backed off (interval doubled, up to 5 s) rather than fatal.
 */
#ifndef PB_SAMPLER_H
#define PB_SAMPLER_H

#include <prunebench/plugin.h>

#include "results/results.h"

enum pb_phase {
	PB_PHASE_LOAD = 0, PB_PHASE_COMPRESS, PB_PHASE_CALIBRATE, PB_PHASE_WARMUP,
	PB_PHASE_PREFILL, PB_PHASE_DECODE, PB_PHASE_SCORE, PB_PHASE_IDLE,
	PB_PHASE_COUNT
};
const char *pb_phase_name(enum pb_phase p);

/* A probe plugin instance, initialised by the caller. */
struct pb_probe_inst {
	const char *name;                 /* plugin name, column prefix-free */
	const struct pb_probe_ops *ops;
	void *state;
	double interval_ms;               /* max(requested, ops->min_interval_ms) */
};

struct pb_sampler;

int pb_sampler_start(struct pb_sampler **out, const struct pb_probe_inst *probes, int n,
		     enum pb_phase first);
/* Boundary: read every probe, then attribute what follows to p. */
void pb_sampler_phase(struct pb_sampler *s, enum pb_phase p);
/* Final boundary reading; stops the thread.  Readings stay for output. */
void pb_sampler_stop(struct pb_sampler *s);
void pb_sampler_free(struct pb_sampler *s);

/* probes.csv: t_ms,phase,probe,channel,unit,value (one observation a row).
 * phases.csv: phase,duration_ms,probe,channel,unit,kind,delta,mean,max
 *   (COUNTER: delta over the phase; GAUGE: time-weighted mean and max). */
int pb_sampler_write(const struct pb_sampler *s, const char *probes_csv,
		     const char *phases_csv);
/* Summary columns: COUNTER channels as <channel>_total and
 * <channel>_<phase> for prefill and decode; GAUGE channels as
 * <channel>_mean and <channel>_max over the measured phases (prefill +
 * decode). */
void pb_sampler_summary(const struct pb_sampler *s, struct pb_row *row);

/* ---- added by the sampler's owner (append only) ---- */

/* Every phase may occur many times (prefill and decode alternate per
 * request): durations and COUNTER deltas are summed over all occurrences;
 * GAUGE means are time-weighted (sample-and-hold: a reading holds until the
 * next one), maxima over the readings.  A boundary reading belongs to the
 * phase that starts there.  A phase's COUNTER delta is NAN when the channel
 * never had a value in it.  phases.csv has one row per occurred phase and
 * channel; with no probes at all, one row per occurred phase with only
 * phase and duration_ms, so that durations are always recorded. */

/* Summed duration of phase p over its occurrences, ms (0 if it never ran). */
double pb_sampler_phase_ms(const struct pb_sampler *s, enum pb_phase p);
int pb_sampler_phase_count(const struct pb_sampler *s, enum pb_phase p);

struct pb_phase_stat {
	enum pb_channel_kind kind;
	double delta;          /* COUNTER; NAN for a GAUGE */
	double mean, max;      /* GAUGE; NAN for a COUNTER */
	double duration_ms;
};
/* Aggregate of `channel` (of the first probe that has it) over phase p, or
 * over every phase when p == PB_PHASE_COUNT — e.g. energy per phase is
 * pb_sampler_stat(s, "pkg_energy_j", PB_PHASE_DECODE, &st), st.delta.
 * 0, or -ENOENT when no probe has the channel. */
int pb_sampler_stat(const struct pb_sampler *s, const char *channel, enum pb_phase p,
		    struct pb_phase_stat *out);

/* Start with a different clock (tests) or memory cap.  Fields left zero
 * take their defaults. */
struct pb_sampler_opts {
	double (*clock_ms)(void *ctx);   /* default pb_now_ms; must not go back */
	void *clock_ctx;
	size_t max_values;               /* stored raw values, all probes; default 4e6 */
};
int pb_sampler_start_opts(struct pb_sampler **out, const struct pb_probe_inst *probes, int n,
			  enum pb_phase first, const struct pb_sampler_opts *opts);

#endif

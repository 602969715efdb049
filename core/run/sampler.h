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

#endif

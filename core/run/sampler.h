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
 * phases.csv: phase,duration_ms,probe,channel,unit,kind,delta,mean,max,energy_j,
 *   energy_method (energy channels: J per phase and "counter" or
 *   "integrated power"; empty for others)
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
 * channel (the host channels, end of this file, included); with no
 * channels at all, one row per occurred phase with only phase and
 * duration_ms, so that durations are always recorded. */

/* Summed duration of phase p over its occurrences, ms (0 if it never ran). */
double pb_sampler_phase_ms(const struct pb_sampler *s, enum pb_phase p);
int pb_sampler_phase_count(const struct pb_sampler *s, enum pb_phase p);

struct pb_phase_stat {
	enum pb_channel_kind kind;
	double delta;          /* COUNTER; NAN for a GAUGE */
	double mean, max;      /* GAUGE; NAN for a COUNTER */
	double duration_ms;
	/* energy channels (pb_sampler_energy_kind): the energy in the phase,
	 * J — a J COUNTER's delta, or a W GAUGE's power integrated over time
	 * (trapezoid between readings, split at boundaries); NAN otherwise */
	double energy_j;
	/* highest power, W: a W GAUGE's highest reading, a J COUNTER's
	 * highest rate over one sampling interval; NAN otherwise */
	double power_max_w;
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
	/* host channels (end of this file) */
	const char *host_root;           /* /proc and /sys under it; default "/" (tests: fixtures) */
	double host_interval_ms;         /* default PB_HOST_INTERVAL_MS */
	int rss_sampled;                 /* 1: sampled peak RSS even where clear_refs works */
};
int pb_sampler_start_opts(struct pb_sampler **out, const struct pb_probe_inst *probes, int n,
			  enum pb_phase first, const struct pb_sampler_opts *opts);

/* ---- energy, windows, baseline (probes issue) ---- */

/* Energy sources: a COUNTER in "J" (energy is its delta, method
 * "counter") and a GAUGE in "W" (energy is its power integrated over
 * time, method "integrated power").  PB_ENERGY_* below; 0 for any other
 * channel. */
enum { PB_ENERGY_NONE = 0, PB_ENERGY_COUNTER = 1, PB_ENERGY_POWER = 2 };
int pb_sampler_energy_kind(const struct pb_channel *ch);
const char *pb_energy_method_name(int kind);

/* The sampler's clock: ms since start (the time base of probes.csv). */
double pb_sampler_now(const struct pb_sampler *s);
/* Read every probe now (those backing off excepted) as an ordinary
 * sample of the current phase; returns its time. */
double pb_sampler_poll(struct pb_sampler *s);

/* A channel over the stored readings with t0 <= t <= t1 (boundary and
 * poll readings included).  n = 0 when none (or when the raw-reading
 * cap was hit before t0); energy_j as in pb_phase_stat between the
 * first and the last of them. */
struct pb_range_stat {
	long n;
	double min, max;
	double t_first, t_last;
	double energy_j;
};
int pb_sampler_range(const struct pb_sampler *s, const char *channel, double t0, double t1,
		     struct pb_range_stat *out);

/* Idle baseline: the mean power of every energy channel over [t0, t1]
 * (between its first and last reading there), kept for the summary's
 * net-energy columns.  Returns the number of channels that got one. */
int pb_sampler_set_baseline(struct pb_sampler *s, double t0, double t1);

/* The highest current value among GAUGE channels in degrees Celsius
 * (unit "C"); returns how many such channels have a value (0: *max_c
 * is NAN). */
int pb_sampler_hottest(const struct pb_sampler *s, double *max_c);

/* Energy summary columns for every energy channel with stem E (a J
 * COUNTER: its name; a W GAUGE: its name + "_energy_j"):
 *   E_prefill E_decode E_total (a COUNTER already has them), E_measured
 *   (prefill + decode), E_per_token (measured / output tokens),
 *   E_per_token_decode (decode / tokens chosen in decode steps),
 *   for a COUNTER <name>_power_w_mean (measured energy / measured time)
 *   and <name>_power_w_max (a W GAUGE has <name>_mean and _max already),
 *   and with a baseline E_idle_power_w and E_{prefill,decode,measured,
 *   per_token}_net (energy − idle power × phase time).
 * Columns of a channel without readings are empty, never zero. */
void pb_sampler_energy_summary(const struct pb_sampler *s, struct pb_row *row,
			       long output_tokens, long decode_tokens);

/* One energy channel, for the manifest: n_out entries at most. */
struct pb_energy_source {
	char probe[64], channel[64];
	int kind;                  /* PB_ENERGY_* */
	double idle_power_w;       /* NAN without a baseline */
};
int pb_sampler_energy_sources(const struct pb_sampler *s, struct pb_energy_source *out,
			      int n_out);
double pb_sampler_baseline_ms(const struct pb_sampler *s);


/* ---- host channels (contention issue; sampler-host.c) ---- */

/* Besides its probes, every sampler measures, without any probe, the
 * machine around the cell (hostcond.h) and this process's memory:
 *   other_cpu_pct   others' CPU, % of one core: per phase the attributed
 *                   ticks over the attributed time, summed over all the
 *                   phase's occurrences; max over stretches of
 *                   PB_HOST_WINDOW_MS of the phase's time (the mean when
 *                   it never had that much); below 0 (tick noise) is 0
 *   loadavg_1m      /proc/loadavg's first field (counts our own threads)
 *   cpu_freq_mhz    mean over CPUs (cpufreq, else /proc/cpuinfo)
 *   rss_peak_bytes  the phase's own peak RSS (PB_RSS_CLEAR_REFS: VmHWM,
 *                   reset when the phase group changes — load | compress,
 *                   calibrate | warmup, prefill, decode, idle | score —
 *                   so phases of one group share their peak; PB_RSS_SAMPLED:
 *                   highest VmRSS seen at group changes and every interval)
 * phases.csv gets them as probe "host", kind gauge, mean and max (peak
 * RSS: max only).  CPU, load and frequency are read by the thread every
 * interval, never at a boundary; see sampler-host.c for why. */
#define PB_HOST_INTERVAL_MS 100.0
#define PB_HOST_WINDOW_MS 500.0
enum { PB_RSS_NONE = 0, PB_RSS_CLEAR_REFS, PB_RSS_SAMPLED };

struct pb_host_stat {
	double duration_ms;
	double other_cpu_pct_mean, other_cpu_pct_max;
	double loadavg_1m_mean, loadavg_1m_max;
	double cpu_freq_mhz_mean, cpu_freq_mhz_max;
	double rss_peak_bytes;
};
/* Over the phases whose bit (1u << phase) is set; NAN where unknown.
 * 0, or -ENOENT without host channels. */
int pb_sampler_host_stat(const struct pb_sampler *s, unsigned phase_mask,
			 struct pb_host_stat *out);
int pb_sampler_rss_method(const struct pb_sampler *s);   /* PB_RSS_* */
const char *pb_rss_method_name(int method);  /* "clear_refs", "sampled", "unavailable" */
const char *pb_sampler_freq_source(const struct pb_sampler *s);

/* Summary columns of the measured phases (prefill + decode):
 * other_cpu_pct_mean, other_cpu_pct_max, loadavg_1m_max,
 * cpu_freq_mhz_mean, contended (1 when others' mean in prefill or in
 * decode exceeded threshold_pct, else 0; empty when unknown),
 * contention_threshold_pct; and rss_peak_bytes_{load, compress (with
 * calibrate), measure (warmup + prefill + decode), score},
 * rss_peak_method.  Returns contended (1, 0, -1 unknown). */
int pb_sampler_host_summary(const struct pb_sampler *s, double threshold_pct,
			    struct pb_row *row);

#endif

/* core/run/sampler-host.c — the sampler's built-in "host" channels,
 * measured with or without probes: others' CPU, load average and CPU
 * frequency per phase (hostcond.h), and peak RSS per phase (contract at
 * the end of sampler.h).
 *
 * CPU is never read at a phase boundary: a decode step can be 2 ms, and
 * two /proc reads there would cost the measured request ~0.1 ms each
 * time.  Instead the sampler thread reads every interval (100 ms) and
 * splits what the interval saw between the phases that ran in it, in
 * proportion to their time — which is right for others' CPU, since other
 * processes do not know our phases.  Per phase the attributed ticks and
 * times are summed over all its occurrences (prefill and decode alternate
 * per request), so a phase's figure is one aggregate, not a mean of
 * noisy per-occurrence figures: CPU time comes in ticks of 10 ms, and a
 * 2 ms decode step alone could only ever read 0 % or 500 %.  Its maximum
 * is taken over consecutive stretches of PB_HOST_WINDOW_MS of the phase's
 * own time, accumulated across occurrences for the same reason.
 *
 * Peak RSS: when the phase *group* changes (load | compress, calibrate |
 * warmup, prefill, decode, idle | score) the high-water mark is read
 * (VmHWM of /proc/self/status, kept open) for the phases since the last
 * reset, then reset by writing "5" to /proc/self/clear_refs, so each
 * group's peak is its own.  Not at every boundary: reading status costs
 * ~50 us, and the prefill boundary lies inside TTFT — a request's phases
 * share one peak instead.  Where the kernel refuses the write, the sampler
 * falls back to the highest VmRSS it saw in the phase (at group changes
 * and every interval), which can miss a peak shorter than the interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/hostcond.h"
#include "run/sampler-internal.h"
#include "util/util.h"

#define SLOW_EVERY 5      /* load average and frequency: every 5th interval */

struct host_phase {
	double ms;                /* time attributed by readings */
	double other_ticks;       /* others' CPU ticks attributed */
	double win_ms, win_ticks; /* the stretch being accumulated */
	double other_max_pct;     /* highest complete stretch; NAN none */
	double load_int, load_w, load_max;
	double freq_int, freq_w, freq_max;
	double rss_peak;          /* bytes; NAN none */
};

struct pb_host_rt {
	struct pb_hostcond *hc;
	double tck, interval_ms;
	double next_ms;           /* when the thread reads next (sampler time) */
	unsigned n_reads;
	struct pb_host_reading prev;
	double prev_t;            /* time of prev; NAN before the first */
	double load, freq;        /* latest slow values */
	double mark_t;            /* time up to which acc[] and cacc[] are filled */
	double acc[PB_PHASE_COUNT];    /* each phase's time since the last reading */
	double cacc[PB_PHASE_COUNT];   /* ... since prev: a failed CPU read carries over */
	int rss_method;           /* PB_RSS_* */
	unsigned rss_seen;        /* phases since the last reset (clear_refs) */
	int clear_fd, status_fd;
	long page;
	char buf[8192];
	struct host_phase ph[PB_PHASE_COUNT];
};

static int mem_field(struct pb_host_rt *h, const char *key, double *bytes)
{
	ssize_t n = pread(h->status_fd, h->buf, sizeof h->buf - 1, 0);
	if (n <= 0)
		return -1;
	h->buf[n] = '\0';
	const char *p = strstr(h->buf, key);
	if (!p)
		return -1;
	char *end;
	double kb = strtod(p + strlen(key), &end);
	if (end == p + strlen(key))
		return -1;
	*bytes = kb * 1024.0;
	return 0;
}

static void rss_max(struct host_phase *ph, double v)
{
	if (isnan(ph->rss_peak) || v > ph->rss_peak)
		ph->rss_peak = v;
}

static void rss_sampled(struct pb_host_rt *h, enum pb_phase ph)
{
	double v;
	if (h->rss_method == PB_RSS_SAMPLED && mem_field(h, "VmRSS:", &v) == 0)
		rss_max(&h->ph[ph], v);
}

int pb_host_rt_start(struct pb_host_rt **out, const struct pb_sampler_opts *o,
		     enum pb_phase first, double t)
{
	struct pb_host_rt *h = calloc(1, sizeof *h);
	int rc;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->clear_fd = h->status_fd = -1;
	if ((rc = pb_hostcond_open(&h->hc, o ? o->host_root : NULL)) < 0) {
		free(h);
		return rc;
	}
	h->tck = pb_hostcond_tck();
	h->interval_ms = o && o->host_interval_ms > 0 ? o->host_interval_ms : PB_HOST_INTERVAL_MS;
	for (int p = 0; p < PB_PHASE_COUNT; p++) {
		h->ph[p].other_max_pct = h->ph[p].load_max = h->ph[p].freq_max = NAN;
		h->ph[p].rss_peak = NAN;
	}
	/* memory is always this process's, whatever the root */
	h->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	h->rss_method = h->status_fd < 0 ? PB_RSS_NONE : PB_RSS_SAMPLED;
	if (h->status_fd >= 0 && !(o && o->rss_sampled)) {
		h->clear_fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
		if (h->clear_fd >= 0 && pwrite(h->clear_fd, "5", 1, 0) == 1)
			h->rss_method = PB_RSS_CLEAR_REFS;
		else
			pb_log(PB_LOG_DEBUG, "sampler: cannot reset the peak RSS through "
			       "/proc/self/clear_refs (%s); peaks per phase are sampled",
			       strerror(errno));
	}
	rss_sampled(h, first);
	pb_hostcond_read(h->hc, PB_HC_SLOW, &h->prev);
	h->load = h->prev.loadavg_1m;
	h->freq = h->prev.cpu_freq_mhz;
	h->prev_t = h->mark_t = t;
	h->next_ms = t + h->interval_ms;
	*out = h;
	return 0;
}

void pb_host_rt_free(struct pb_host_rt *h)
{
	if (!h)
		return;
	if (h->clear_fd >= 0)
		close(h->clear_fd);
	if (h->status_fd >= 0)
		close(h->status_fd);
	pb_hostcond_close(h->hc);
	free(h);
}

double pb_host_rt_due(const struct pb_host_rt *h)
{
	return h ? h->next_ms : INFINITY;
}

static void gauge_add(double *integral, double *w, double *max, double v, double ms)
{
	if (isnan(v))
		return;
	if (ms > 0) {
		*integral += v * ms;
		*w += ms;
	}
	if (isnan(*max) || v > *max)
		*max = v;
}

/* A reading at t: split what happened since the last one between the
 * phases that ran (acc[]), and the latest phase cur up to t. */
static void add_time(struct pb_host_rt *h, enum pb_phase ph, double t)
{
	h->acc[ph] += t - h->mark_t;
	h->cacc[ph] += t - h->mark_t;
	h->mark_t = t;
}

static void cpu_attribute(struct pb_host_rt *h, double other, double span)
{
	for (int p = 0; p < PB_PHASE_COUNT; p++) {
		double ms = h->cacc[p];
		struct host_phase *ph = &h->ph[p];
		h->cacc[p] = 0;
		if (!(ms > 0) || isnan(other))
			continue;
		double ticks = other * ms / span;
		ph->ms += ms;
		ph->other_ticks += ticks;
		ph->win_ms += ms;
		ph->win_ticks += ticks;
		if (ph->win_ms >= PB_HOST_WINDOW_MS) {
			double pct = 100.0 * ph->win_ticks / h->tck / (ph->win_ms / 1e3);
			if (isnan(ph->other_max_pct) || pct > ph->other_max_pct)
				ph->other_max_pct = pct;
			ph->win_ms = ph->win_ticks = 0;
		}
	}
}

/* A reading at t: split what happened since the last one between the
 * phases that ran, the current one (cur) up to t. */
static void host_read(struct pb_host_rt *h, enum pb_phase cur, double t, int slow)
{
	struct pb_host_reading r;

	add_time(h, cur, t);
	pb_hostcond_read(h->hc, slow ? PB_HC_SLOW : 0, &r);
	if (slow) {
		h->load = r.loadavg_1m;
		h->freq = r.cpu_freq_mhz;
	}
	for (int p = 0; p < PB_PHASE_COUNT; p++) {
		struct host_phase *ph = &h->ph[p];
		if (!(h->acc[p] > 0))
			continue;
		gauge_add(&ph->load_int, &ph->load_w, &ph->load_max, h->load, h->acc[p]);
		gauge_add(&ph->freq_int, &ph->freq_w, &ph->freq_max, h->freq, h->acc[p]);
		h->acc[p] = 0;
	}
	h->n_reads++;
	if (isnan(r.busy_ticks) || isnan(r.self_ticks))
		return;   /* keep cacc[] for the next reading that works */
	double span = t - h->prev_t;
	if (isnan(h->prev.busy_ticks) || isnan(h->prev.self_ticks)) {
		cpu_attribute(h, NAN, span);   /* no baseline yet: this one starts it */
	} else {
		if (!(span > 0))
			return;
		cpu_attribute(h, pb_host_other_ticks(&h->prev, &r), span);
	}
	h->prev = r;
	h->prev_t = t;
}

void pb_host_rt_tick(struct pb_host_rt *h, enum pb_phase cur, double t)
{
	if (!h)
		return;
	rss_sampled(h, cur);
	host_read(h, cur, t, h->n_reads % SLOW_EVERY == SLOW_EVERY - 1);
	h->next_ms += h->interval_ms;
	if (h->next_ms <= t)
		h->next_ms = t + h->interval_ms;
}

/* Memory is read and reset only when this changes (see the top). */
static int mem_group(enum pb_phase p)
{
	switch (p) {
	case PB_PHASE_LOAD: return 0;
	case PB_PHASE_COMPRESS: case PB_PHASE_CALIBRATE: return 1;
	case PB_PHASE_SCORE: return 3;
	default: return 2;   /* warmup, prefill, decode, idle */
	}
}

void pb_host_rt_boundary(struct pb_host_rt *h, enum pb_phase old, enum pb_phase next,
			 double t, int final)
{
	double v;

	if (!h)
		return;
	h->rss_seen |= 1u << old;
	if (!final && mem_group(old) == mem_group(next)) {
		;   /* same group: no /proc read on the measured path */
	} else if (h->rss_method == PB_RSS_CLEAR_REFS) {
		if (mem_field(h, "VmHWM:", &v) == 0)
			for (int p = 0; p < PB_PHASE_COUNT; p++)
				if (h->rss_seen & 1u << p)
					rss_max(&h->ph[p], v);
		h->rss_seen = 0;
		if (!final && pwrite(h->clear_fd, "5", 1, 0) != 1) {
			pb_log(PB_LOG_WARN, "sampler: /proc/self/clear_refs stopped working (%s); "
			       "peak RSS from here on is sampled", strerror(errno));
			h->rss_method = PB_RSS_SAMPLED;
		}
	} else if (h->rss_method == PB_RSS_SAMPLED && mem_field(h, "VmRSS:", &v) == 0) {
		rss_max(&h->ph[old], v);
		if (!final)
			rss_max(&h->ph[next], v);
	}
	if (final) {
		host_read(h, old, t, 1);
		return;
	}
	/* no CPU read here (see the top of the file): only the time */
	add_time(h, old, t);
}

/* ---- results ------------------------------------------------------------- */

static double clamp0(double v)
{
	return v < 0 ? 0 : v;   /* below zero is tick noise: nobody used less than nothing */
}

static void host_stat(const struct pb_sampler *s, unsigned mask, struct pb_host_stat *st)
{
	const struct pb_host_rt *h = s->host;
	double ms = 0, ticks = 0, li = 0, lw = 0, fi = 0, fw = 0;

	memset(st, 0, sizeof *st);
	st->other_cpu_pct_mean = st->other_cpu_pct_max = NAN;
	st->loadavg_1m_mean = st->loadavg_1m_max = NAN;
	st->cpu_freq_mhz_mean = st->cpu_freq_mhz_max = NAN;
	st->rss_peak_bytes = NAN;
	if (!h)
		return;
	for (int p = 0; p < PB_PHASE_COUNT; p++) {
		const struct host_phase *ph = &h->ph[p];
		if (!(mask & 1u << p) || !s->occ[p])
			continue;
		st->duration_ms += s->dur_ms[p];
		ms += ph->ms;
		ticks += ph->other_ticks;
		li += ph->load_int;
		lw += ph->load_w;
		fi += ph->freq_int;
		fw += ph->freq_w;
		if (!isnan(ph->load_max) && (isnan(st->loadavg_1m_max) || ph->load_max > st->loadavg_1m_max))
			st->loadavg_1m_max = ph->load_max;
		if (!isnan(ph->freq_max) && (isnan(st->cpu_freq_mhz_max) || ph->freq_max > st->cpu_freq_mhz_max))
			st->cpu_freq_mhz_max = ph->freq_max;
		if (!isnan(ph->rss_peak) && (isnan(st->rss_peak_bytes) || ph->rss_peak > st->rss_peak_bytes))
			st->rss_peak_bytes = ph->rss_peak;
		/* a phase with no complete stretch: its mean is its maximum */
		double pmax = !isnan(ph->other_max_pct) ? ph->other_max_pct :
			      ph->ms > 0 ? 100.0 * ph->other_ticks / h->tck / (ph->ms / 1e3) : NAN;
		if (!isnan(pmax) && (isnan(st->other_cpu_pct_max) || pmax > st->other_cpu_pct_max))
			st->other_cpu_pct_max = pmax;
	}
	if (ms > 0)
		st->other_cpu_pct_mean = clamp0(100.0 * ticks / h->tck / (ms / 1e3));
	if (!isnan(st->other_cpu_pct_max))
		st->other_cpu_pct_max = clamp0(st->other_cpu_pct_max);
	if (lw > 0)
		st->loadavg_1m_mean = li / lw;
	if (fw > 0)
		st->cpu_freq_mhz_mean = fi / fw;
}

int pb_sampler_host_stat(const struct pb_sampler *s, unsigned phase_mask, struct pb_host_stat *out)
{
	if (!s || !s->host) {
		memset(out, 0, sizeof *out);
		out->other_cpu_pct_mean = out->other_cpu_pct_max = NAN;
		out->loadavg_1m_mean = out->loadavg_1m_max = NAN;
		out->cpu_freq_mhz_mean = out->cpu_freq_mhz_max = NAN;
		out->rss_peak_bytes = NAN;
		return -ENOENT;
	}
	pb_sampler_lock(s);
	host_stat(s, phase_mask, out);
	pb_sampler_unlock(s);
	return 0;
}

int pb_sampler_rss_method(const struct pb_sampler *s)
{
	return s && s->host ? s->host->rss_method : PB_RSS_NONE;
}

const char *pb_rss_method_name(int method)
{
	return method == PB_RSS_CLEAR_REFS ? "clear_refs" :
	       method == PB_RSS_SAMPLED ? "sampled" : "unavailable";
}

const char *pb_sampler_freq_source(const struct pb_sampler *s)
{
	return pb_hostcond_freq_source(s && s->host ? s->host->hc : NULL);
}

static void fmt(char *out, size_t len, double v)
{
	if (isnan(v))
		out[0] = '\0';
	else
		snprintf(out, len, "%.15g", v);
}

int pb_sampler_host_rows(const struct pb_sampler *s, struct pb_csv *w, enum pb_phase ph,
			 const char *dur)
{
	struct pb_host_stat st;
	char mean[32], max[32];
	int rc = 0;

	if (!s->host)
		return 0;
	host_stat(s, 1u << ph, &st);
	const struct { const char *name, *unit; double mean, max; } rows[] = {
		{ "other_cpu_pct", "%", st.other_cpu_pct_mean, st.other_cpu_pct_max },
		{ "loadavg_1m", "count", st.loadavg_1m_mean, st.loadavg_1m_max },
		{ "cpu_freq_mhz", "MHz", st.cpu_freq_mhz_mean, st.cpu_freq_mhz_max },
		{ "rss_peak_bytes", "bytes", NAN, st.rss_peak_bytes },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(rows) && !rc; i++) {
		fmt(mean, sizeof mean, rows[i].mean);
		fmt(max, sizeof max, rows[i].max);
		const char *f[] = { pb_phase_name(ph), dur, "host", rows[i].name, rows[i].unit,
				    "gauge", NULL, mean, max, NULL, NULL };
		rc = pb_csv_row(w, f);
	}
	return rc;
}

int pb_sampler_host_summary(const struct pb_sampler *s, double threshold_pct,
			    struct pb_row *row)
{
	static const enum pb_phase measured[] = { PB_PHASE_PREFILL, PB_PHASE_DECODE };
	const unsigned mmask = 1u << PB_PHASE_PREFILL | 1u << PB_PHASE_DECODE;
	struct pb_host_stat st;
	int contended = -1;

	pb_sampler_host_stat(s, mmask, &st);
	pb_row_setd(row, "other_cpu_pct_mean", st.other_cpu_pct_mean);
	pb_row_setd(row, "other_cpu_pct_max", st.other_cpu_pct_max);
	pb_row_setd(row, "loadavg_1m_max", st.loadavg_1m_max);
	pb_row_setd(row, "cpu_freq_mhz_mean", st.cpu_freq_mhz_mean);
	for (size_t k = 0; k < PB_ARRAY_LEN(measured); k++) {
		struct pb_host_stat p;
		pb_sampler_host_stat(s, 1u << measured[k], &p);
		if (isnan(p.other_cpu_pct_mean))
			continue;
		if (contended < 0)
			contended = 0;
		if (p.other_cpu_pct_mean > threshold_pct)
			contended = 1;
	}
	pb_row_set(row, "contended", "%s", contended < 0 ? "" : contended ? "1" : "0");
	pb_row_setd(row, "contention_threshold_pct", threshold_pct);

	static const struct { const char *col; unsigned mask; } mem[] = {
		{ "rss_peak_bytes_load", 1u << PB_PHASE_LOAD },
		{ "rss_peak_bytes_compress", 1u << PB_PHASE_COMPRESS | 1u << PB_PHASE_CALIBRATE },
		{ "rss_peak_bytes_measure", 1u << PB_PHASE_WARMUP | 1u << PB_PHASE_PREFILL |
					    1u << PB_PHASE_DECODE },
		{ "rss_peak_bytes_score", 1u << PB_PHASE_SCORE },
	};
	for (size_t k = 0; k < PB_ARRAY_LEN(mem); k++) {
		pb_sampler_host_stat(s, mem[k].mask, &st);
		/* whole bytes, never %g: a peak must not lose digits */
		if (isnan(st.rss_peak_bytes))
			pb_row_set(row, mem[k].col, "%s", "");
		else
			pb_row_set(row, mem[k].col, "%.0f", st.rss_peak_bytes);
	}
	pb_row_set(row, "rss_peak_method", "%s", pb_rss_method_name(pb_sampler_rss_method(s)));
	return contended;
}

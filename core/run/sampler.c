/* core/run/sampler.c — the probe sampler thread and phase attribution
 * (contract in sampler.h).
 *
 * One mutex guards everything: the thread holds it while it reads a probe,
 * and a phase boundary holds it while it reads every probe, so a probe's
 * read() is never called twice at once and each reading falls on exactly
 * one side of every boundary.  Raw readings are kept for probes.csv up to a
 * memory cap; the per-phase aggregates are updated as readings arrive, so
 * they stay exact however long the run is.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/sampler.h"
#include "util/util.h"

#define BACKOFF_MAX_MS 5000.0
#define DEFAULT_MAX_VALUES 4000000u   /* 32 MiB of doubles */

static const char *const phase_names[PB_PHASE_COUNT] = {
	"load", "compress", "calibrate", "warmup", "prefill", "decode", "score", "idle",
};

const char *pb_phase_name(enum pb_phase p)
{
	return (unsigned)p < PB_PHASE_COUNT ? phase_names[p] : "?";
}

#include "run/sampler-internal.h"

static double default_clock(void *ctx)
{
	(void)ctx;
	return pb_now_ms();
}

static double now_rel(const struct pb_sampler *s)
{
	return s->clock_ms(s->clock_ctx) - s->t0;
}

struct chan_agg *pb_sampler_agg(const struct probe_rt *p, enum pb_phase ph, int c)
{
	return &p->agg[(size_t)ph * (size_t)p->nch + (size_t)c];
}

/* ---- readings ------------------------------------------------------------ */

/* read() with back-off bookkeeping.  1 when vals holds a reading. */
static int probe_read(struct probe_rt *p)
{
	for (int c = 0; c < p->nch; c++)
		p->vals[c] = NAN;
	int rc = p->inst.ops->read(p->inst.state, p->vals);
	if (rc < 0) {
		if (!p->logged) {
			p->logged = 1;
			pb_log(PB_LOG_WARN, "probe %s: read failed (%s); backing off, "
			       "this probe's readings will have gaps", p->inst.name, strerror(-rc));
		}
		p->backing_off = 1;
		p->interval_ms = p->interval_ms * 2 > BACKOFF_MAX_MS ?
				 (p->base_ms > BACKOFF_MAX_MS ? p->base_ms : BACKOFF_MAX_MS) :
				 p->interval_ms * 2;
		return 0;
	}
	p->backing_off = 0;
	p->interval_ms = p->base_ms;
	return 1;
}

static void store(struct pb_sampler *s, struct probe_rt *p, double t, enum pb_phase ph,
		  const double *v)
{
	if (s->n_values + (size_t)p->nch > s->max_values) {
		if (!s->cap_logged) {
			s->cap_logged = 1;
			pb_log(PB_LOG_WARN, "sampler: %zu readings stored; further raw readings "
			       "are not kept (phase aggregates still are)", s->n_values);
		}
		return;
	}
	if (p->ns == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		double *st = realloc(p->st, cap * sizeof(*st));
		if (st)
			p->st = st;
		unsigned char *sp = realloc(p->sp, cap);
		if (sp)
			p->sp = sp;
		double *sv = realloc(p->sv, cap * (size_t)p->nch * sizeof(*sv));
		if (sv)
			p->sv = sv;
		if (!st || !sp || !sv)
			return;   /* keep what we have; aggregates do not depend on it */
		p->cap = cap;
	}
	p->st[p->ns] = t;
	p->sp[p->ns] = (unsigned char)ph;
	memcpy(p->sv + p->ns * (size_t)p->nch, v, (size_t)p->nch * sizeof(*v));
	p->ns++;
	s->n_values += (size_t)p->nch;
}

/* COUNTERs: unwrap vals in place and make them current. */
static void apply_counters(struct probe_rt *p)
{
	for (int c = 0; c < p->nch; c++) {
		double raw = p->vals[c];
		if (p->ch[c].kind != PB_COUNTER || isnan(raw))
			continue;
		if (!isnan(p->raw_prev[c]) && raw < p->raw_prev[c] && p->ch[c].wrap > 0)
			p->offset[c] += p->ch[c].wrap;
		p->raw_prev[c] = raw;
		p->vals[c] = raw + p->offset[c];
		p->cur[c] = p->vals[c];
		if (isnan(p->cstart[c]))   /* first value in this phase */
			p->cstart[c] = p->cur[c];
	}
}

/* GAUGEs: close the held value's interval at t in phase ph. */
static void close_gauges(struct probe_rt *p, enum pb_phase ph, double t)
{
	for (int c = 0; c < p->nch; c++) {
		if (p->ch[c].kind != PB_GAUGE || isnan(p->cur[c]))
			continue;
		struct chan_agg *a = pb_sampler_agg(p, ph, c);
		a->integral += p->cur[c] * (t - p->hold_t[c]);
		a->weight += t - p->hold_t[c];
		p->hold_t[c] = t;
	}
}

static void gauge_value(struct probe_rt *p, enum pb_phase ph, int c, double v, double t)
{
	struct chan_agg *a = pb_sampler_agg(p, ph, c);
	p->cur[c] = v;
	p->hold_t[c] = t;
	a->sum += v;
	a->n++;
	if (isnan(a->max) || v > a->max)
		a->max = v;
}

static void open_gauges(struct probe_rt *p, enum pb_phase ph, double t, int have)
{
	for (int c = 0; c < p->nch; c++) {
		if (p->ch[c].kind != PB_GAUGE)
			continue;
		if (have && !isnan(p->vals[c]))
			gauge_value(p, ph, c, p->vals[c], t);
		else if (!isnan(p->cur[c]))   /* held across the boundary */
			gauge_value(p, ph, c, p->cur[c], t);
	}
}

int pb_sampler_energy_kind(const struct pb_channel *ch)
{
	if (ch->kind == PB_COUNTER && !strcmp(ch->unit, "J"))
		return ENERGY_COUNTER;
	if (ch->kind == PB_GAUGE && !strcmp(ch->unit, "W"))
		return ENERGY_POWER;
	return ENERGY_NONE;
}

/* Energy bookkeeping for a reading at t that closes a stretch of phase ph
 * (have: p->vals holds it, counters unwrapped) or for a boundary at t
 * without a reading.  W: the trapezoid from the previous reading to this
 * one, or — with no value now — the held value up to t, so that the
 * phases split exactly at their boundaries.  J: the highest power over
 * one sampling interval; intervals shorter than half the probe's interval
 * (a boundary right after a sample) are merged into the next, because a
 * counter's update granularity makes their rates meaningless. */
static void energy_update(struct probe_rt *p, enum pb_phase ph, double t, int have)
{
	for (int c = 0; c < p->nch; c++) {
		double v = have ? p->vals[c] : NAN;
		struct chan_agg *a = pb_sampler_agg(p, ph, c);
		if (p->ekind[c] == ENERGY_POWER) {
			if (!isnan(p->tz_t[c])) {
				double w = isnan(v) ? p->tz_v[c] : (p->tz_v[c] + v) / 2;
				a->energy_j += w * (t - p->tz_t[c]) / 1e3;
				a->have_energy = 1;
				p->tz_t[c] = t;
				if (!isnan(v))
					p->tz_v[c] = v;
			} else if (!isnan(v)) {
				p->tz_t[c] = t;
				p->tz_v[c] = v;
			}
		} else if (p->ekind[c] == ENERGY_COUNTER && !isnan(v)) {
			if (!isnan(p->pw_t[c])) {
				double dt = t - p->pw_t[c];
				if (dt < 0.5 * p->base_ms || dt <= 0)
					continue;
				double w = (v - p->pw_v[c]) / dt * 1e3;
				if (isnan(a->pmax) || w > a->pmax)
					a->pmax = w;
			}
			p->pw_t[c] = t;
			p->pw_v[c] = v;
		}
	}
}

/* A reading between boundaries. */
static void sample(struct pb_sampler *s, struct probe_rt *p, double t)
{
	if (!probe_read(p))
		return;
	apply_counters(p);
	energy_update(p, s->phase, t, 1);
	close_gauges(p, s->phase, t);
	for (int c = 0; c < p->nch; c++)
		if (p->ch[c].kind == PB_GAUGE && !isnan(p->vals[c]))
			gauge_value(p, s->phase, c, p->vals[c], t);
	store(s, p, t, s->phase, p->vals);
}

/* Read every probe (but those backing off) at t, close the current phase
 * and, unless final, open `next`. */
static void boundary(struct pb_sampler *s, enum pb_phase next, int final)
{
	double t = now_rel(s);
	enum pb_phase old = s->phase;

	if (!final) {
		s->occ[next]++;
		s->phase = next;
	}
	for (int i = 0; i < s->n; i++) {
		struct probe_rt *p = &s->p[i];
		int have = !p->backing_off && probe_read(p);
		if (have)
			apply_counters(p);
		energy_update(p, old, t, have);
		for (int c = 0; c < p->nch; c++) {
			if (p->ch[c].kind != PB_COUNTER || isnan(p->cur[c]) || isnan(p->cstart[c]))
				continue;
			struct chan_agg *a = pb_sampler_agg(p, old, c);
			a->delta += p->cur[c] - p->cstart[c];
			a->have_delta = 1;
			p->cstart[c] = p->cur[c];
		}
		close_gauges(p, old, t);
		if (!final)
			open_gauges(p, next, t, have);
		else if (have)   /* the last reading still counts for the maximum */
			for (int c = 0; c < p->nch; c++)
				if (p->ch[c].kind == PB_GAUGE && !isnan(p->vals[c]))
					gauge_value(p, old, c, p->vals[c], t);
		if (have) {
			store(s, p, t, s->phase, p->vals);
			p->next_ms = t + p->interval_ms;   /* just read: not due again yet */
		}
	}
	pb_host_rt_boundary(s->host, old, final ? old : next, t, final);
	s->dur_ms[old] += t - s->phase_start;
	s->phase_start = t;
}

/* ---- the thread ------------------------------------------------------------ */

static void *sampler_main(void *arg)
{
	struct pb_sampler *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		double now = now_rel(s), due = pb_host_rt_due(s->host);
		for (int i = 0; i < s->n; i++)
			if (s->p[i].next_ms < due)
				due = s->p[i].next_ms;
		if (due > now) {
			/* Sleep on the real monotonic clock for the time still due,
			 * so that a test's clock works too; never more than 1 s at a
			 * time in case that clock moves on its own. */
			double wait = isinf(due) ? 1000.0 : due - now;
			if (wait > 1000.0)
				wait = 1000.0;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			long long ns = ts.tv_nsec + (long long)(wait * 1e6);
			ts.tv_sec += ns / 1000000000LL;
			ts.tv_nsec = ns % 1000000000LL;
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			continue;
		}
		if (pb_host_rt_due(s->host) <= now)
			pb_host_rt_tick(s->host, s->phase, now_rel(s));
		for (int i = 0; i < s->n; i++) {
			struct probe_rt *p = &s->p[i];
			if (p->next_ms > now)
				continue;
			double t = now_rel(s);
			sample(s, p, t);
			p->next_ms += p->interval_ms;
			if (p->next_ms <= t)    /* late (or backed off): no burst */
				p->next_ms = t + p->interval_ms;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

static int probe_setup(struct probe_rt *p, const struct pb_probe_inst *in)
{
	size_t n;

	p->inst = *in;
	if (!in->ops || !in->ops->read || !in->ops->channels)
		return -EINVAL;
	int rc = in->ops->channels(in->state, &p->ch, &p->nch);
	if (rc < 0)
		return rc;
	if (p->nch < 0 || (p->nch && !p->ch))
		return -EINVAL;
	n = p->nch ? (size_t)p->nch : 1;
	p->base_ms = in->interval_ms;
	if (p->base_ms < in->ops->min_interval_ms)
		p->base_ms = in->ops->min_interval_ms;
	if (!(p->base_ms >= 1.0))
		p->base_ms = isnan(p->base_ms) || p->base_ms <= 0 ? 100.0 : 1.0;
	p->interval_ms = p->base_ms;
	p->vals = malloc(11 * n * sizeof(double));
	p->agg = calloc(PB_PHASE_COUNT * n, sizeof(*p->agg));
	p->ekind = calloc(n, 1);
	if (!p->vals || !p->agg || !p->ekind)
		return -ENOMEM;
	p->raw_prev = p->vals + n;
	p->offset = p->vals + 2 * n;
	p->cur = p->vals + 3 * n;
	p->hold_t = p->vals + 4 * n;
	p->cstart = p->vals + 5 * n;
	p->tz_t = p->vals + 6 * n;
	p->tz_v = p->vals + 7 * n;
	p->pw_t = p->vals + 8 * n;
	p->pw_v = p->vals + 9 * n;
	p->idle_w = p->vals + 10 * n;
	for (size_t c = 0; c < n; c++) {
		p->raw_prev[c] = p->cur[c] = p->cstart[c] = NAN;
		p->tz_t[c] = p->tz_v[c] = p->pw_t[c] = p->pw_v[c] = p->idle_w[c] = NAN;
		p->offset[c] = p->hold_t[c] = 0;
		if (c < (size_t)p->nch)
			p->ekind[c] = (unsigned char)pb_sampler_energy_kind(&p->ch[c]);
	}
	for (size_t i = 0; i < PB_PHASE_COUNT * n; i++)
		p->agg[i].max = p->agg[i].pmax = NAN;
	return 0;
}

int pb_sampler_start_opts(struct pb_sampler **out, const struct pb_probe_inst *probes, int n,
			  enum pb_phase first, const struct pb_sampler_opts *opts)
{
	struct pb_sampler *s;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (n < 0 || (n && !probes) || (unsigned)first >= PB_PHASE_COUNT)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->clock_ms = opts && opts->clock_ms ? opts->clock_ms : default_clock;
	s->clock_ctx = opts ? opts->clock_ctx : NULL;
	s->max_values = opts && opts->max_values ? opts->max_values : DEFAULT_MAX_VALUES;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);

	s->p = calloc(n ? (size_t)n : 1, sizeof(*s->p));
	if (!s->p) {
		rc = -ENOMEM;
		goto fail;
	}
	s->n = n;
	for (int i = 0; i < n; i++) {
		rc = probe_setup(&s->p[i], &probes[i]);
		if (rc) {
			pb_log(PB_LOG_ERROR, "probe %s: cannot list its channels: %s",
			       probes[i].name ? probes[i].name : "?", strerror(-rc));
			goto fail;
		}
	}

	s->t0 = s->clock_ms(s->clock_ctx);
	s->phase = first;
	s->occ[first] = 1;
	pthread_mutex_lock(&s->mu);
	/* the first reading: counter baselines and the first gauge values */
	for (int i = 0; i < n; i++) {
		struct probe_rt *p = &s->p[i];
		int have = probe_read(p);
		if (have) {
			apply_counters(p);
			energy_update(p, first, 0.0, 1);
			open_gauges(p, first, 0.0, 1);
			store(s, p, 0.0, first, p->vals);
		}
		p->next_ms = p->interval_ms;
	}
	if ((rc = pb_host_rt_start(&s->host, opts, first, 0.0)) < 0) {
		pthread_mutex_unlock(&s->mu);
		goto fail;
	}
	pthread_mutex_unlock(&s->mu);

	rc = -pthread_create(&s->th, NULL, sampler_main, s);
	if (rc)
		goto fail;
	s->thread_started = 1;
	*out = s;
	return 0;
fail:
	s->stopped = 1;
	pb_sampler_free(s);
	return rc;
}

int pb_sampler_start(struct pb_sampler **out, const struct pb_probe_inst *probes, int n,
		     enum pb_phase first)
{
	return pb_sampler_start_opts(out, probes, n, first, NULL);
}

void pb_sampler_phase(struct pb_sampler *s, enum pb_phase p)
{
	if (!s || (unsigned)p >= PB_PHASE_COUNT)
		return;
	pthread_mutex_lock(&s->mu);
	if (!s->stopped) {
		boundary(s, p, 0);
		pthread_cond_signal(&s->cv);   /* next due times moved */
	}
	pthread_mutex_unlock(&s->mu);
}

double pb_sampler_now(const struct pb_sampler *s)
{
	return s ? now_rel(s) : 0.0;
}

double pb_sampler_poll(struct pb_sampler *s)
{
	double t;

	if (!s)
		return 0.0;
	pthread_mutex_lock(&s->mu);
	t = now_rel(s);
	if (!s->stopped)
		for (int i = 0; i < s->n; i++) {
			struct probe_rt *p = &s->p[i];
			if (p->backing_off)
				continue;   /* its own schedule says when to try again */
			sample(s, p, t);
			p->next_ms = t + p->interval_ms;
		}
	pthread_mutex_unlock(&s->mu);
	return t;
}

void pb_sampler_stop(struct pb_sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->stopped) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	boundary(s, s->phase, 1);
	s->stopped = 1;
	s->stopping = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started) {
		pthread_join(s->th, NULL);
		s->thread_started = 0;
	}
}

void pb_sampler_free(struct pb_sampler *s)
{
	if (!s)
		return;
	pb_sampler_stop(s);
	for (int i = 0; s->p && i < s->n; i++) {
		free(s->p[i].vals);
		free(s->p[i].agg);
		free(s->p[i].ekind);
		free(s->p[i].st);
		free(s->p[i].sp);
		free(s->p[i].sv);
	}
	free(s->p);
	pb_host_rt_free(s->host);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

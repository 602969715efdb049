/* core/run/sampler-out.c — what the sampler measured, read back: phase
 * durations and statistics, probes.csv, phases.csv and summary columns. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/sampler-internal.h"
#include "util/util.h"

/* ---- results ---------------------------------------------------------------- */

/* The readers below may run while the thread samples, so they lock too;
 * the mutex is the one mutable part of a const sampler. */
void pb_sampler_lock(const struct pb_sampler *s)
{
	pthread_mutex_lock((pthread_mutex_t *)&s->mu);
}

void pb_sampler_unlock(const struct pb_sampler *s)
{
	pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}

#define lock pb_sampler_lock
#define unlock pb_sampler_unlock

double pb_sampler_phase_ms(const struct pb_sampler *s, enum pb_phase p)
{
	lock(s);
	double ms = (unsigned)p < PB_PHASE_COUNT ? s->dur_ms[p] : 0.0;
	unlock(s);
	return ms;
}

int pb_sampler_phase_count(const struct pb_sampler *s, enum pb_phase p)
{
	lock(s);
	int n = (unsigned)p < PB_PHASE_COUNT ? s->occ[p] : 0;
	unlock(s);
	return n;
}

void pb_sampler_stat_over(const struct pb_sampler *s, const struct probe_rt *p, int c,
			  unsigned mask, struct pb_phase_stat *st)
{
	double integral = 0, weight = 0, sum = 0;
	long n = 0;
	int have_delta = 0;

	st->kind = p->ch[c].kind;
	st->delta = st->mean = st->max = NAN;
	st->energy_j = st->power_max_w = NAN;
	st->duration_ms = 0;
	for (int ph = 0; ph < PB_PHASE_COUNT; ph++) {
		if (!(mask & 1u << ph) || !s->occ[ph])
			continue;
		const struct chan_agg *a = pb_sampler_agg(p, (enum pb_phase)ph, c);
		st->duration_ms += s->dur_ms[ph];
		if (a->have_delta) {
			st->delta = have_delta ? st->delta + a->delta : a->delta;
			have_delta = 1;
		}
		integral += a->integral;
		weight += a->weight;
		sum += a->sum;
		n += a->n;
		if (!isnan(a->max) && (isnan(st->max) || a->max > st->max))
			st->max = a->max;
		if (a->have_energy)
			st->energy_j = isnan(st->energy_j) ? a->energy_j : st->energy_j + a->energy_j;
		if (!isnan(a->pmax) && (isnan(st->power_max_w) || a->pmax > st->power_max_w))
			st->power_max_w = a->pmax;
	}
	if (st->kind == PB_COUNTER) {
		st->max = NAN;
		if (p->ekind[c] == ENERGY_COUNTER)
			st->energy_j = st->delta;
		return;
	}
	if (p->ekind[c] == ENERGY_POWER)
		st->power_max_w = st->max;
	st->delta = NAN;
	if (weight > 0)
		st->mean = integral / weight;
	else if (n)
		st->mean = sum / (double)n;   /* only instants: a plain mean */
}

#define stat_over pb_sampler_stat_over

const struct probe_rt *pb_sampler_find(const struct pb_sampler *s, const char *name, int *c)
{
	for (int i = 0; i < s->n; i++)
		for (int j = 0; j < s->p[i].nch; j++)
			if (!strcmp(s->p[i].ch[j].name, name)) {
				*c = j;
				return &s->p[i];
			}
	return NULL;
}

int pb_sampler_stat(const struct pb_sampler *s, const char *channel, enum pb_phase p,
		    struct pb_phase_stat *out)
{
	int c;
	const struct probe_rt *pr = pb_sampler_find(s, channel, &c);

	if (!pr || (unsigned)p > PB_PHASE_COUNT)
		return -ENOENT;
	lock(s);
	stat_over(s, pr, c, p == PB_PHASE_COUNT ? ~0u : 1u << p, out);
	unlock(s);
	return 0;
}

static void fmt_d(char *out, size_t len, double v)
{
	if (isnan(v))
		out[0] = '\0';
	else
		snprintf(out, len, "%.15g", v);
}

static int write_probes(const struct pb_sampler *s, const char *path)
{
	static const char *const hdr[] = { "t_ms", "phase", "probe", "channel", "unit", "value" };
	struct pb_csv *w = pb_csv_create(path, hdr, 6);
	size_t *next;
	int rc = 0;

	if (!w)
		return -errno;
	next = calloc(s->n ? (size_t)s->n : 1, sizeof(*next));
	if (!next) {
		pb_csv_close(w);
		return -ENOMEM;
	}
	/* merge the probes' readings in time order */
	for (;;) {
		const struct probe_rt *p = NULL;
		int pi = -1;
		for (int i = 0; i < s->n; i++)
			if (next[i] < s->p[i].ns &&
			    (!p || s->p[i].st[next[i]] < p->st[next[pi]])) {
				p = &s->p[i];
				pi = i;
			}
		if (!p)
			break;
		size_t k = next[pi]++;
		char t[32], v[32];
		snprintf(t, sizeof t, "%.3f", p->st[k]);
		for (int c = 0; c < p->nch && !rc; c++) {
			double x = p->sv[k * (size_t)p->nch + (size_t)c];
			if (isnan(x))   /* no observation */
				continue;
			fmt_d(v, sizeof v, x);
			const char *f[] = { t, pb_phase_name(p->sp[k]), p->inst.name,
					    p->ch[c].name, p->ch[c].unit, v };
			rc = pb_csv_row(w, f);
		}
		if (rc)
			break;
	}
	free(next);
	int rc2 = pb_csv_close(w);
	return rc ? rc : rc2;
}

static int write_phases(const struct pb_sampler *s, const char *path)
{
	static const char *const hdr[] = { "phase", "duration_ms", "probe", "channel", "unit",
					   "kind", "delta", "mean", "max", "energy_j",
					   "energy_method" };
	struct pb_csv *w = pb_csv_create(path, hdr, 11);
	int rc = 0;

	if (!w)
		return -errno;
	for (int ph = 0; ph < PB_PHASE_COUNT && !rc; ph++) {
		char dur[32], d[32], mean[32], max[32], ej[32];
		if (!s->occ[ph])
			continue;
		snprintf(dur, sizeof dur, "%.3f", s->dur_ms[ph]);
		int rows = 0;
		for (int i = 0; i < s->n && !rc; i++) {
			const struct probe_rt *p = &s->p[i];
			for (int c = 0; c < p->nch && !rc; c++) {
				struct pb_phase_stat st;
				stat_over(s, p, c, 1u << ph, &st);
				fmt_d(d, sizeof d, st.delta);
				fmt_d(mean, sizeof mean, st.mean);
				fmt_d(max, sizeof max, st.max);
				fmt_d(ej, sizeof ej, st.energy_j);
				const char *f[] = { pb_phase_name((enum pb_phase)ph), dur, p->inst.name, p->ch[c].name,
						    p->ch[c].unit,
						    st.kind == PB_COUNTER ? "counter" : "gauge",
						    d, mean, max, ej,
						    p->ekind[c] ? pb_energy_method_name(p->ekind[c]) : NULL };
				rc = pb_csv_row(w, f);
				rows++;
			}
		}
		if (!rc && s->host) {
			rc = pb_sampler_host_rows(s, w, (enum pb_phase)ph, dur);
			rows++;
		}
		if (!rows && !rc) {
			const char *f[] = { pb_phase_name((enum pb_phase)ph), dur, NULL, NULL, NULL, NULL,
					    NULL, NULL, NULL, NULL, NULL };
			rc = pb_csv_row(w, f);
		}
	}
	int rc2 = pb_csv_close(w);
	return rc ? rc : rc2;
}

int pb_sampler_write(const struct pb_sampler *s, const char *probes_csv,
		     const char *phases_csv)
{
	static const struct pb_sampler none;   /* no sampler: header-only files */
	int rc = 0;

	if (!s)
		s = &none;
	else
		lock(s);
	const char *path = probes_csv;
	if (probes_csv)
		rc = write_probes(s, probes_csv);
	if (!rc && phases_csv)
		rc = write_phases(s, path = phases_csv);
	if (s != &none)
		unlock(s);
	if (rc)
		pb_log(PB_LOG_ERROR, "sampler: cannot write %s: %s", path, strerror(-rc));
	return rc;
}

void pb_sampler_summary(const struct pb_sampler *s, struct pb_row *row)
{
	const unsigned measured = 1u << PB_PHASE_PREFILL | 1u << PB_PHASE_DECODE;
	unsigned gmask;
	char key[128];

	if (!s)
		return;
	gmask = s->occ[PB_PHASE_PREFILL] || s->occ[PB_PHASE_DECODE] ? measured : ~0u;
	lock(s);
	for (int i = 0; i < s->n; i++) {
		const struct probe_rt *p = &s->p[i];
		for (int c = 0; c < p->nch; c++) {
			const char *name = p->ch[c].name;
			struct pb_phase_stat st;
			if (p->ch[c].kind == PB_COUNTER) {
				static const enum pb_phase split[] = { PB_PHASE_PREFILL,
								       PB_PHASE_DECODE };
				stat_over(s, p, c, ~0u, &st);
				snprintf(key, sizeof key, "%s_total", name);
				pb_row_setd(row, key, st.delta);
				for (size_t k = 0; k < PB_ARRAY_LEN(split); k++) {
					stat_over(s, p, c, 1u << split[k], &st);
					snprintf(key, sizeof key, "%s_%s", name,
						 pb_phase_name(split[k]));
					pb_row_setd(row, key, st.delta);
				}
			} else {
				stat_over(s, p, c, gmask, &st);
				snprintf(key, sizeof key, "%s_mean", name);
				pb_row_setd(row, key, st.mean);
				snprintf(key, sizeof key, "%s_max", name);
				pb_row_setd(row, key, st.max);
			}
		}
	}
	unlock(s);
}

/* core/run/sampler-energy.c — energy from what the sampler measured: the
 * energy sources (J counters, W gauges integrated over time), windows over
 * the stored readings (per request, idle baseline), the idle baseline's
 * power, the hottest temperature now, and the energy summary columns.
 * Contract in sampler.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run/sampler-internal.h"
#include "util/util.h"

const char *pb_energy_method_name(int kind)
{
	switch (kind) {
	case PB_ENERGY_COUNTER: return "counter";
	case PB_ENERGY_POWER: return "integrated power";
	default: return "";
	}
}

/* Channel c of p over stored readings in [t0, t1] (lock held). */
static void range_of(const struct probe_rt *p, int c, double t0, double t1,
		     struct pb_range_stat *r)
{
	double first = NAN, prev_t = NAN, prev_v = NAN;

	r->n = 0;
	r->min = r->max = r->t_first = r->t_last = r->energy_j = NAN;
	for (size_t k = 0; k < p->ns; k++) {
		double t = p->st[k], v = p->sv[k * (size_t)p->nch + (size_t)c];
		if (t < t0 || isnan(v))
			continue;
		if (t > t1)
			break;   /* stored in time order */
		if (!r->n++) {
			r->t_first = t;
			first = v;
			r->min = r->max = v;
		}
		if (v < r->min)
			r->min = v;
		if (v > r->max)
			r->max = v;
		if (p->ekind[c] == ENERGY_POWER && !isnan(prev_t))
			r->energy_j = (isnan(r->energy_j) ? 0 : r->energy_j) +
				      (prev_v + v) / 2 * (t - prev_t) / 1e3;
		prev_t = t;
		prev_v = v;
		r->t_last = t;
	}
	if (p->ekind[c] == ENERGY_COUNTER && r->n >= 2)
		r->energy_j = prev_v - first;
}

int pb_sampler_range(const struct pb_sampler *s, const char *channel, double t0, double t1,
		     struct pb_range_stat *out)
{
	int c;
	const struct probe_rt *p = s ? pb_sampler_find(s, channel, &c) : NULL;

	if (!p)
		return -ENOENT;
	pb_sampler_lock(s);
	range_of(p, c, t0, t1, out);
	pb_sampler_unlock(s);
	return 0;
}

int pb_sampler_set_baseline(struct pb_sampler *s, double t0, double t1)
{
	int got = 0;

	if (!s)
		return 0;
	pb_sampler_lock(s);
	s->baseline_ms = t1 - t0;
	for (int i = 0; i < s->n; i++) {
		struct probe_rt *p = &s->p[i];
		for (int c = 0; c < p->nch; c++) {
			struct pb_range_stat r;
			p->idle_w[c] = NAN;
			if (!p->ekind[c])
				continue;
			range_of(p, c, t0, t1, &r);
			/* power between the first and the last reading: exact
			 * for a counter, whatever the readings' spacing */
			if (r.n >= 2 && r.t_last > r.t_first && !isnan(r.energy_j)) {
				p->idle_w[c] = r.energy_j / ((r.t_last - r.t_first) / 1e3);
				got++;
			}
		}
	}
	pb_sampler_unlock(s);
	return got;
}

double pb_sampler_baseline_ms(const struct pb_sampler *s)
{
	return s ? s->baseline_ms : 0.0;
}

int pb_sampler_hottest(const struct pb_sampler *s, double *max_c)
{
	int n = 0;

	*max_c = NAN;
	if (!s)
		return 0;
	pb_sampler_lock(s);
	for (int i = 0; i < s->n; i++) {
		const struct probe_rt *p = &s->p[i];
		for (int c = 0; c < p->nch; c++) {
			if (p->ch[c].kind != PB_GAUGE || strcmp(p->ch[c].unit, "C") ||
			    isnan(p->cur[c]))
				continue;
			if (!n++ || p->cur[c] > *max_c)
				*max_c = p->cur[c];
		}
	}
	pb_sampler_unlock(s);
	return n;
}

int pb_sampler_energy_sources(const struct pb_sampler *s, struct pb_energy_source *out,
			      int n_out)
{
	int n = 0;

	if (!s)
		return 0;
	pb_sampler_lock(s);
	for (int i = 0; i < s->n; i++) {
		const struct probe_rt *p = &s->p[i];
		for (int c = 0; c < p->nch; c++) {
			if (!p->ekind[c])
				continue;
			if (n < n_out) {
				struct pb_energy_source *e = &out[n];
				snprintf(e->probe, sizeof e->probe, "%s", p->inst.name);
				snprintf(e->channel, sizeof e->channel, "%s", p->ch[c].name);
				e->kind = p->ekind[c];
				e->idle_power_w = p->idle_w[c];
			}
			n++;
		}
	}
	pb_sampler_unlock(s);
	return n;
}

static double per(double a, long b)
{
	return b > 0 ? a / (double)b : NAN;
}

static void setd(struct pb_row *row, const char *stem, const char *suffix, double v)
{
	char key[160];
	snprintf(key, sizeof key, "%s_%s", stem, suffix);
	pb_row_setd(row, key, v);
}

void pb_sampler_energy_summary(const struct pb_sampler *s, struct pb_row *row,
			       long output_tokens, long decode_tokens)
{
	const unsigned m_prefill = 1u << PB_PHASE_PREFILL, m_decode = 1u << PB_PHASE_DECODE;

	if (!s)
		return;
	pb_sampler_lock(s);
	for (int i = 0; i < s->n; i++) {
		const struct probe_rt *p = &s->p[i];
		for (int c = 0; c < p->nch; c++) {
			const char *name = p->ch[c].name;
			struct pb_phase_stat pre, dec, meas, all;
			char stem[128];
			if (!p->ekind[c])
				continue;
			if (p->ekind[c] == ENERGY_COUNTER)
				snprintf(stem, sizeof stem, "%s", name);
			else
				snprintf(stem, sizeof stem, "%s_energy_j", name);
			pb_sampler_stat_over(s, p, c, m_prefill, &pre);
			pb_sampler_stat_over(s, p, c, m_decode, &dec);
			pb_sampler_stat_over(s, p, c, m_prefill | m_decode, &meas);
			pb_sampler_stat_over(s, p, c, ~0u, &all);
			if (p->ekind[c] == ENERGY_POWER) {   /* a COUNTER has these already */
				setd(row, stem, "prefill", pre.energy_j);
				setd(row, stem, "decode", dec.energy_j);
				setd(row, stem, "total", all.energy_j);
			}
			setd(row, stem, "measured", meas.energy_j);
			setd(row, stem, "per_token", per(meas.energy_j, output_tokens));
			setd(row, stem, "per_token_decode", per(dec.energy_j, decode_tokens));
			if (p->ekind[c] == ENERGY_COUNTER) {
				setd(row, name, "power_w_mean", meas.duration_ms > 0 ?
				     meas.energy_j / (meas.duration_ms / 1e3) : NAN);
				setd(row, name, "power_w_max", meas.power_max_w);
			}
			if (s->baseline_ms <= 0)
				continue;
			double w = p->idle_w[c];
			setd(row, stem, "idle_power_w", w);
			double pre_net = pre.energy_j - w * pre.duration_ms / 1e3;
			double dec_net = dec.energy_j - w * dec.duration_ms / 1e3;
			double meas_net = meas.energy_j - w * meas.duration_ms / 1e3;
			setd(row, stem, "prefill_net", pre_net);
			setd(row, stem, "decode_net", dec_net);
			setd(row, stem, "measured_net", meas_net);
			setd(row, stem, "per_token_net", per(meas_net, output_tokens));
		}
	}
	pb_sampler_unlock(s);
}

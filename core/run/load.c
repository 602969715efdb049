/* core/run/load.c — the arithmetic of load patterns (see load.h): the
 * open loop's arrival schedule and a run's throughput and goodput. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "run/load.h"
#include "util/util.h"

long pb_load_count(const struct pb_load_spec *l, long n_default)
{
	if (l->requests > 0)
		return l->requests;
	if (l->duration_s > 0)
		return -1;
	return n_default;
}

int pb_load_schedule(const struct pb_load_spec *l, long n_default, double **sched_ms, long *n)
{
	*sched_ms = NULL;
	*n = 0;
	if (l->mode != PB_LOAD_OPEN || !(l->rate_rps > 0))
		return -EINVAL;
	const double gap_ms = 1e3 / l->rate_rps;
	const double end_ms = l->duration_s * 1e3;
	long want = pb_load_count(l, n_default);
	/* by duration: the expected count and some, grown when Poisson
	 * draws more */
	long cap = want >= 0 ? want : (long)fmin(l->duration_s * l->rate_rps * 1.25 + 16,
						   (double)PB_LOAD_MAX_REQUESTS + 1);
	if (want > PB_LOAD_MAX_REQUESTS)
		return -E2BIG;
	if (cap <= 0)
		return 0;
	double *t = malloc((size_t)cap * sizeof *t);
	if (!t)
		return -ENOMEM;
	struct pb_rng rng;
	pb_rng_seed(&rng, l->seed);
	long k = 0;
	double at = 0;
	for (;;) {
		if (k > 0) {
			if (l->arrivals == PB_ARRIVALS_CONSTANT)
				at = (double)k * gap_ms;
			else   /* Exp(rate) by inversion; 1 − u is in (0, 1] */
				at += -log(1.0 - pb_rng_uniform(&rng)) * gap_ms;
		}
		if (want >= 0 ? k >= want : at >= end_ms)
			break;
		if (k == cap) {
			if (cap > PB_LOAD_MAX_REQUESTS) {
				free(t);
				return -E2BIG;
			}
			double *q = realloc(t, (size_t)cap * 2 * sizeof *q);
			if (!q) {
				free(t);
				return -ENOMEM;
			}
			t = q;
			cap *= 2;
		}
		t[k++] = at;
	}
	if (k > PB_LOAD_MAX_REQUESTS) {
		free(t);
		return -E2BIG;
	}
	if (k == 0) {
		free(t);
		t = NULL;
	}
	*sched_ms = t;
	*n = k;
	return 0;
}

int pb_slo_met(const struct pb_slo_spec *slo, int ok, double ttft_ms, double tpot_ms)
{
	if (!ok)
		return 0;
	if (slo->ttft_ms > 0 && !(ttft_ms <= slo->ttft_ms))   /* NAN: no first token */
		return 0;
	if (slo->tpot_ms > 0 && !isnan(tpot_ms) && tpot_ms > slo->tpot_ms)
		return 0;
	return 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The most intervals [sent, end) open at one time: sweep the sorted
 * starts and ends (an end at the same time as a start closes first). */
static int in_flight_max(const struct pb_load_obs *o, long n)
{
	double *s = malloc((size_t)(n ? n : 1) * sizeof *s);
	double *e = malloc((size_t)(n ? n : 1) * sizeof *e);
	long m = 0;
	int best = 0, cur = 0;
	if (!s || !e)
		goto out;
	for (long i = 0; i < n; i++)
		if (!isnan(o[i].sent_ms) && !isnan(o[i].end_ms)) {
			s[m] = o[i].sent_ms;
			e[m++] = o[i].end_ms;
		}
	qsort(s, (size_t)m, sizeof *s, cmp_double);
	qsort(e, (size_t)m, sizeof *e, cmp_double);
	for (long i = 0, j = 0; i < m;) {
		if (j < m && e[j] <= s[i]) {
			cur--;
			j++;
		} else {
			if (++cur > best)
				best = cur;
			i++;
		}
	}
out:
	free(s);
	free(e);
	return best;
}

void pb_load_totals(const struct pb_load_spec *l, const struct pb_slo_spec *slo,
		    const struct pb_load_obs *o, long n, struct pb_load_totals *out)
{
	double end = 0, tok = 0, s0 = NAN, s1 = NAN;
	*out = (struct pb_load_totals){ .n = n };
	for (long i = 0; i < n; i++) {
		if (o[i].end_ms > end)
			end = o[i].end_ms;
		if (o[i].ok) {
			out->n_ok++;
			tok += o[i].n_out;
		}
		if (pb_slo_met(slo, o[i].ok, o[i].ttft_ms, o[i].tpot_ms))
			out->n_good++;
		if (!isnan(o[i].sched_ms)) {
			if (isnan(s0) || o[i].sched_ms < s0)
				s0 = o[i].sched_ms;
			if (isnan(s1) || o[i].sched_ms > s1)
				s1 = o[i].sched_ms;
		}
	}
	out->window_s = end / 1e3;
	const double w = out->window_s > 0 ? out->window_s : NAN;
	out->offered_rps = l->mode == PB_LOAD_OPEN ? l->rate_rps : NAN;
	out->offered_rps_actual = l->mode == PB_LOAD_OPEN && n >= 2 && s1 > s0 ?
		(double)(n - 1) / ((s1 - s0) / 1e3) : NAN;
	out->achieved_rps = (double)out->n_ok / w;
	out->output_tok_s = tok / w;
	out->goodput_share = pb_slo_given(slo) && n > 0 ? (double)out->n_good / (double)n : NAN;
	out->goodput_rps = pb_slo_given(slo) ? (double)out->n_good / w : NAN;
	out->in_flight_max = in_flight_max(o, n);
}

/* core/report/noise.c — is a change real or run-to-run noise?  A
 * percentile bootstrap of the difference of means over per-request
 * samples (deterministic: a fixed seed, so reports and their golden tests
 * are reproducible), the Mann-Whitney U test as a rank-based second
 * opinion, and Tukey box statistics for the latency box plots. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"
#include "report/report.h"
#include "util/util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The non-NAN values of x, sorted when asked; NULL (and *m = 0) if none. */
static double *finite_copy(const double *x, int n, int *m, int sort)
{
	double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	*m = 0;
	if (!v)
		return NULL;
	for (int i = 0; i < n; i++)
		if (!isnan(x[i]))
			v[(*m)++] = x[i];
	if (sort)
		qsort(v, (size_t)*m, sizeof *v, cmp_double);
	return v;
}

static double resample_mean(struct pb_rng *rng, const double *v, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++) {
		int k = (int)(pb_rng_uniform(rng) * n);
		s += v[k < n ? k : n - 1];
	}
	return s / n;
}

int pb_bootstrap_mean_diff(const double *a, int na, const double *b, int nb, int iters,
			   uint64_t seed, double level, double *lo, double *hi)
{
	int ma, mb, rc = -EINVAL;
	double *va = finite_copy(a, na, &ma, 0), *vb = finite_copy(b, nb, &mb, 0);
	double *d = iters > 0 ? malloc((size_t)iters * sizeof *d) : NULL;

	*lo = *hi = NAN;
	if (!va || !vb || !d) {
		rc = iters > 0 ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (ma < 2 || mb < 2 || !(level > 0 && level < 1))
		goto out;
	struct pb_rng rng;
	pb_rng_seed(&rng, seed);
	for (int i = 0; i < iters; i++)
		d[i] = resample_mean(&rng, vb, mb) - resample_mean(&rng, va, ma);
	qsort(d, (size_t)iters, sizeof *d, cmp_double);
	*lo = pb_percentile(d, iters, 100.0 * (1 - level) / 2);
	*hi = pb_percentile(d, iters, 100.0 * (1 + level) / 2);
	rc = 0;
out:
	free(va);
	free(vb);
	free(d);
	return rc;
}

struct ranked {
	double v;
	int from_a;
};

static int cmp_ranked(const void *a, const void *b)
{
	return cmp_double(&((const struct ranked *)a)->v, &((const struct ranked *)b)->v);
}

double pb_mann_whitney_p(const double *a, int na, const double *b, int nb)
{
	int ma, mb;
	double *va = finite_copy(a, na, &ma, 0), *vb = finite_copy(b, nb, &mb, 0);
	struct ranked *r = NULL;
	double p = NAN;

	if (!va || !vb || !ma || !mb)
		goto out;
	int n = ma + mb;
	r = malloc((size_t)n * sizeof *r);
	if (!r)
		goto out;
	for (int i = 0; i < ma; i++)
		r[i] = (struct ranked){ va[i], 1 };
	for (int i = 0; i < mb; i++)
		r[ma + i] = (struct ranked){ vb[i], 0 };
	qsort(r, (size_t)n, sizeof *r, cmp_ranked);
	/* average ranks over ties; tie term for the variance */
	double rank_a = 0, ties = 0;
	for (int i = 0; i < n;) {
		int j = i;
		while (j + 1 < n && r[j + 1].v == r[i].v)
			j++;
		double avg = (i + j) / 2.0 + 1, t = j - i + 1;
		for (int k = i; k <= j; k++)
			if (r[k].from_a)
				rank_a += avg;
		ties += t * t * t - t;
		i = j + 1;
	}
	double u = rank_a - ma * (ma + 1) / 2.0, mu = ma * (double)mb / 2;
	double var = ma * (double)mb / 12.0 * ((n + 1) - ties / ((double)n * (n - 1)));
	if (!(var > 0)) {
		p = 1.0;     /* every value equal: no evidence of a difference */
		goto out;
	}
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	p = z <= 0 ? 1.0 : erfc(z / sqrt(2.0));
	if (p > 1)
		p = 1;
out:
	free(va);
	free(vb);
	free(r);
	return p;
}

int pb_box_compute(const double *x, int n, struct pb_box *out)
{
	int m;
	double *v = finite_copy(x, n, &m, 1);

	memset(out, 0, sizeof *out);
	if (!v || !m) {
		free(v);
		return v ? -EINVAL : -ENOMEM;
	}
	double s = 0;
	for (int i = 0; i < m; i++)
		s += v[i];
	out->n = m;
	out->mean = s / m;
	out->min = v[0];
	out->max = v[m - 1];
	out->q1 = pb_percentile(v, m, 25);
	out->median = pb_percentile(v, m, 50);
	out->q3 = pb_percentile(v, m, 75);
	double iqr = out->q3 - out->q1, lo_fence = out->q1 - 1.5 * iqr, hi_fence = out->q3 + 1.5 * iqr;
	out->lo = out->q1;
	out->hi = out->q3;
	for (int i = 0; i < m; i++)
		if (v[i] >= lo_fence) {
			out->lo = v[i] < out->q1 ? v[i] : out->q1;
			break;
		}
	for (int i = m - 1; i >= 0; i--)
		if (v[i] <= hi_fence) {
			out->hi = v[i] > out->q3 ? v[i] : out->q3;
			break;
		}
	free(v);
	return 0;
}

enum pb_noise pb_noise_judge(const double *a, int na, const double *b, int nb)
{
	double lo, hi;
	if (!a || !b || pb_bootstrap_mean_diff(a, na, b, nb, PB_REP_ITERS, PB_REP_SEED, 0.95,
					       &lo, &hi) < 0)
		return PB_NOISE_UNKNOWN;
	return lo <= 0 && hi >= 0 ? PB_NOISE_WITHIN : PB_NOISE_BEYOND;
}

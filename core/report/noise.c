/* core/report/noise.c — is a change real or run-to-run noise?  The
 * report's verdict is a paired test whose unit of replication is the
 * round (one process per cell and round): the log-ratios of the rounds'
 * means, a Student-t confidence interval and p-value, and the
 * Benjamini–Hochberg step-up rule across every comparison of a report.
 * The t distribution is computed here (regularized incomplete beta by
 * Lentz's continued fraction), not taken from a library.  Tukey box
 * statistics for the latency box plots are here too. */
#include <errno.h>
#include <float.h>
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

/* ---- Student's t */

/* One step of the modified Lentz algorithm with partial numerator aa:
 * updates c and d and returns the factor the fraction is multiplied by. */
static double lentz_step(double *c, double *d, double aa)
{
	const double tiny = 1e-300;
	*d = 1 + aa * *d;
	if (fabs(*d) < tiny)
		*d = tiny;
	*c = 1 + aa / *c;
	if (fabs(*c) < tiny)
		*c = tiny;
	*d = 1 / *d;
	return *d * *c;
}

/* The continued fraction of I_x(a, b) (modified Lentz), valid and fast
 * for x < (a + 1) / (a + b + 2); the caller uses the symmetry otherwise. */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
	if (fabs(d) < tiny)
		d = tiny;
	d = 1 / d;
	double h = d;
	/* iterations grow like sqrt(max(a, b)): df = 1e7 needs a few thousand */
	for (int m = 1; m <= 100000; m++) {
		double m2 = 2.0 * m;
		/* the even and the odd term of the fraction: one modified-Lentz step each */
		h *= lentz_step(&c, &d, m * (b - m) * x / ((qam + m2) * (a + m2)));
		double del = lentz_step(&c, &d, -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
		h *= del;
		if (fabs(del - 1) < 1e-15)
			break;
	}
	return h;
}

double pb_betainc_reg(double a, double b, double x)
{
	if (!(a > 0 && b > 0) || isnan(x))
		return NAN;
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
	if (x < (a + 1) / (a + b + 2))
		return exp(lbt) * beta_cf(a, b, x) / a;
	return 1 - exp(lbt) * beta_cf(b, a, 1 - x) / b;
}

double pb_t_p_two_sided(double t, double df)
{
	if (isnan(t) || !(df > 0))
		return NAN;
	if (isinf(t))
		return 0;
	/* P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2) */
	return pb_betainc_reg(df / 2, 0.5, df / (df + t * t));
}

double pb_t_cdf(double t, double df)
{
	double p = pb_t_p_two_sided(t, df);
	if (isnan(p))
		return NAN;
	return t >= 0 ? 1 - p / 2 : p / 2;
}

double pb_t_quantile(double p, double df)
{
	if (!(p > 0 && p < 1) || !(df > 0))
		return NAN;
	if (p < 0.5)
		return -pb_t_quantile(1 - p, df);
	if (p == 0.5)
		return 0;
	double lo = 0, hi = 1;
	while (pb_t_cdf(hi, df) < p && hi < 1e300)
		hi *= 2;
	/* bisection: the CDF is monotone, and 200 halvings reach the
	 * resolution of a double from any bracket */
	for (int i = 0; i < 200 && hi - lo > 4 * DBL_EPSILON * hi; i++) {
		double mid = (lo + hi) / 2;
		if (pb_t_cdf(mid, df) < p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* ---- the paired log-ratio test */

int pb_paired_log_ratio(const double *base, const double *chain, int n, double level,
			struct pb_effect *e)
{
	double s = 0, ss = 0;
	int m = 0;

	*e = (struct pb_effect){ 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN };
	if (!(level > 0 && level < 1))
		return -EINVAL;
	for (int r = 0; r < n; r++)
		if (base[r] > 0 && chain[r] > 0 && isfinite(base[r]) && isfinite(chain[r])) {
			s += log(chain[r] / base[r]);
			m++;
		}
	e->n = m;
	if (!m)
		return -EINVAL;
	double mean = s / m;
	for (int r = 0; r < n; r++)
		if (base[r] > 0 && chain[r] > 0 && isfinite(base[r]) && isfinite(chain[r])) {
			double d = log(chain[r] / base[r]) - mean;
			ss += d * d;
		}
	e->mean_log = mean;
	e->pct = 100 * expm1(mean);
	if (m < 2)
		return 0;    /* an effect, but nothing to test it against */
	e->sd_log = sqrt(ss / (m - 1));
	double se = e->sd_log / sqrt(m);
	double half;
	if (!(se > 1e-15 * fabs(mean)) || se == 0) {
		/* every round gave the same ratio */
		e->t = mean == 0 ? 0 : copysign(INFINITY, mean);
		e->p = mean == 0 ? 1 : 0;
		half = 0;
	} else {
		e->t = mean / se;
		e->p = pb_t_p_two_sided(e->t, m - 1);
		half = pb_t_quantile(1 - (1 - level) / 2, m - 1) * se;
	}
	e->lo_pct = 100 * expm1(mean - half);
	e->hi_pct = 100 * expm1(mean + half);
	return 0;
}

double pb_min_effect_p(const struct pb_effect *e, double min_pct)
{
	if (e->n < 2 || isnan(e->p))
		return NAN;
	if (!(min_pct > 0))
		return e->p;
	const double band = log1p(min_pct / 100), se = e->sd_log / sqrt(e->n);
	const double m = e->mean_log;
	if (!(se > 1e-15 * fabs(m)) || se == 0)   /* every round gave the same ratio */
		return fabs(m) > band ? 0 : 1;
	/* P(T ≥ (m − band)/se) for an effect above the band, P(T ≤ (m +
	 * band)/se) below it; the two-sided p is twice the smaller */
	double up = 1 - pb_t_cdf((m - band) / se, e->n - 1);
	double down = pb_t_cdf((m + band) / se, e->n - 1);
	double p = 2 * (up < down ? up : down);
	return p < 1 ? p : 1;
}

/* ---- Benjamini–Hochberg */

struct ranked_p {
	double p;
	int i;
};

static int cmp_ranked_p(const void *a, const void *b)
{
	const struct ranked_p *x = a, *y = b;
	if (x->p != y->p)
		return (x->p > y->p) - (x->p < y->p);
	return x->i - y->i;
}

int pb_bh(const double *p, int n, double q, int *reject, double *p_adj)
{
	struct ranked_p *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	int m = 0, n_rej = 0;

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		reject[i] = 0;
		p_adj[i] = NAN;
		if (!isnan(p[i]))
			v[m++] = (struct ranked_p){ p[i], i };
	}
	qsort(v, (size_t)m, sizeof *v, cmp_ranked_p);
	/* adjusted p of rank k: min over j ≥ k of m/j · p_(j), at most 1;
	 * rejecting adjusted p ≤ q is the step-up rule */
	double run = 1;
	for (int k = m; k >= 1; k--) {
		double a = v[k - 1].p * m / k;
		if (a < run)
			run = a;
		p_adj[v[k - 1].i] = run;
		if (run <= q) {
			reject[v[k - 1].i] = 1;
			n_rej++;
		}
	}
	free(v);
	return n_rej;
}

/* ---- box statistics */

int pb_box_compute(const double *x, int n, struct pb_box *out)
{
	double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	int m = 0;

	memset(out, 0, sizeof *out);
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (!isnan(x[i]))
			v[m++] = x[i];
	if (!m) {
		free(v);
		return -EINVAL;
	}
	qsort(v, (size_t)m, sizeof *v, cmp_double);
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

/* core/metrics/stats.c — latency statistics: mean, sample std, cv and
 * linearly interpolated percentiles (numpy's default method). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double pb_percentile(const double *sorted, int n, double p)
{
	if (n <= 0)
		return NAN;
	if (p <= 0)
		return sorted[0];
	if (p >= 100)
		return sorted[n - 1];
	double rank = p / 100.0 * (n - 1);
	int lo = (int)floor(rank);
	double frac = rank - lo;
	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

void pb_stats_compute(const double *x, int n, struct pb_stats *out)
{
	memset(out, 0, sizeof *out);
	out->n = n > 0 ? n : 0;
	out->mean = out->std = out->cv = out->min = NAN;
	out->p50 = out->p90 = out->p99 = out->max = NAN;
	if (n <= 0)
		return;
	double *s = malloc((size_t)n * sizeof *s);
	if (!s)
		return;
	memcpy(s, x, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	double sum = 0, ss = 0;
	for (int i = 0; i < n; i++)
		sum += s[i];
	out->mean = sum / n;
	/* two passes: numerically stable for latencies with a large mean */
	for (int i = 0; i < n; i++)
		ss += (s[i] - out->mean) * (s[i] - out->mean);
	out->std = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
	out->cv = out->mean != 0 ? out->std / out->mean : NAN;
	out->min = s[0];
	out->max = s[n - 1];
	out->p50 = pb_percentile(s, n, 50);
	out->p90 = pb_percentile(s, n, 90);
	out->p99 = pb_percentile(s, n, 99);
	free(s);
}

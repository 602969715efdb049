/* core/metrics/stats.h — latency statistics (definitions in DESIGN.md). */
#ifndef PB_STATS_H
#define PB_STATS_H

struct pb_stats {
	int n;
	double mean, std, cv, min, p50, p90, p99, max;  /* NAN when n == 0 */
};

/* std is the sample standard deviation (n - 1; 0 when n == 1); cv = std /
 * mean; percentiles interpolate linearly between closest ranks (numpy's
 * default).  x is not modified. */
void pb_stats_compute(const double *x, int n, struct pb_stats *out);
double pb_percentile(const double *sorted, int n, double p);

#endif

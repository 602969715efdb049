/* tests/slurm/summary-diff.c — do two summary.csv files (a local run and a
 * Slurm run of one experiment) agree in everything but what a run measures
 * about its machine and moment?
 *
 *   summary-diff [--cross-env] A.csv B.csv
 *
 * Rows are matched by cell_id; both must hold the same cells and columns.
 * Skipped: timings (*_ms*, *tok_s*, requests_s), process and host
 * readings (CPU, memory, faults, context switches, I/O, threads, CPU
 * frequency, throttling, energy, power, temperature, load average,
 * contention, --wait-quiet) and which cell
 * happened to compute the shared dense reference (reference_cached).
 * Every other column must be equal byte for byte.  Prints the number of
 * compared columns; exit 1 with each difference listed.
 *
 * --cross-env: A and B come from different environments (CPU kinds,
 * OpenBLAS core types): the accuracy columns are held to the bound the
 * README states ("Bit-identical accuracy") instead of byte equality:
 *   perplexity, perplexity_dense   relative difference <= 1e-5
 *   kl_mean                        |a - b| <= 1e-4 * max(|a|, |b|) + 1e-9 nats
 *   agreement_top1                 |a - b| <= 0.01
 * Within one environment (same machine, same OPENBLAS_CORETYPE, any
 * thread count or shard split) they are compared byte for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"

static int measured(const char *col)
{
	static const char *const infix[] = {
		"_ms", "tok_s", "requests_s", "_pct", "_bytes", "_faults", "ctx_switches",
		"threads", "cpu_freq", "throttled", "energy", "power", "temp", "_cpu_",
		"loadavg", "contended", "quiet_",
		"reference_cached",
	};
	for (size_t i = 0; i < sizeof infix / sizeof *infix; i++)
		if (strstr(col, infix[i]))
			return 1;
	return 0;
}

/* Within the cross-environment bound?  1 yes, 0 no, -1 not an accuracy column. */
static int within_bound(const char *col, const char *a, const char *b)
{
	char *ea, *eb;
	if (strcmp(col, "perplexity") && strcmp(col, "perplexity_dense") &&
	    strcmp(col, "kl_mean") && strcmp(col, "agreement_top1"))
		return -1;
	if (!*a || !*b)
		return !*a && !*b;
	double x = strtod(a, &ea), y = strtod(b, &eb);
	if (*ea || *eb)
		return 0;
	double d = fabs(x - y), mx = fmax(fabs(x), fabs(y));
	if (!strcmp(col, "kl_mean"))
		return d <= 1e-4 * mx + 1e-9;
	if (!strcmp(col, "agreement_top1"))
		return d <= 0.01;
	return d <= 1e-5 * mx;
}

int main(int argc, char **argv)
{
	int cross = argc > 1 && !strcmp(argv[1], "--cross-env");
	if (cross) {
		argv++;
		argc--;
	}
	struct pb_table *a = NULL, *b = NULL;
	char err[512];
	int bad = 0, compared = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: summary-diff [--cross-env] A.csv B.csv\n");
		return 2;
	}
	if (pb_csv_read(argv[1], &a, err, sizeof err) < 0 || pb_csv_read(argv[2], &b, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int ida = pb_table_col(a, "cell_id"), idb = pb_table_col(b, "cell_id");
	if (ida < 0 || idb < 0 || a->nrows != b->nrows || a->ncols != b->ncols) {
		printf("shapes differ: %d×%d vs %d×%d (or no cell_id)\n", a->nrows, a->ncols,
		       b->nrows, b->ncols);
		return 1;
	}
	int match[a->nrows + 1];
	for (int r = 0; r < a->nrows; r++) {
		for (match[r] = 0; match[r] < b->nrows; match[r]++)
			if (!strcmp(a->rows[r][ida], b->rows[match[r]][idb]))
				break;
		if (match[r] == b->nrows) {
			printf("cell %s missing in %s\n", a->rows[r][ida], argv[2]);
			bad++;
		}
	}
	for (int c = 0; c < a->ncols; c++) {
		const char *name = a->header[c];
		int cb = pb_table_col(b, name);
		if (cb < 0) {
			printf("column %s missing in %s\n", name, argv[2]);
			bad++;
			continue;
		}
		if (measured(name))
			continue;
		compared++;
		for (int r = 0; r < a->nrows; r++) {
			if (match[r] == b->nrows)
				continue;
			const char *va = a->rows[r][c], *vb = b->rows[match[r]][cb];
			if (cross && within_bound(name, va, vb) == 1)
				continue;
			if (strcmp(va, vb)) {
				printf("%s: %s: '%s' vs '%s'\n", a->rows[r][ida], name, a->rows[r][c],
				       b->rows[match[r]][cb]);
				bad++;
			}
		}
	}
	printf("%d columns compared, %d differences\n", compared, bad);
	pb_table_free(a);
	pb_table_free(b);
	return bad ? 1 : 0;
}

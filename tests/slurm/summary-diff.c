/* tests/slurm/summary-diff.c — do two summary.csv files (a local run and a
 * Slurm run of one experiment) agree in everything but what a run measures
 * about its machine and moment?
 *
 *   summary-diff A.csv B.csv
 *
 * Rows are matched by cell_id; both must hold the same cells and columns.
 * Skipped: timings (*_ms*, *tok_s*, requests_s), process and host
 * readings (CPU, memory, faults, context switches, I/O, threads, CPU
 * frequency, throttling, energy, power, temperature, load average,
 * contention, --wait-quiet) and which cell
 * happened to compute the shared dense reference (reference_cached).
 * Every other column must be equal byte for byte.  Prints the number of
 * compared columns; exit 1 with each difference listed. */
#include <stdio.h>
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

int main(int argc, char **argv)
{
	struct pb_table *a = NULL, *b = NULL;
	char err[512];
	int bad = 0, compared = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: summary-diff A.csv B.csv\n");
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
			if (strcmp(a->rows[r][c], b->rows[match[r]][cb])) {
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

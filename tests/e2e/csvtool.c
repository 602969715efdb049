/* tests/e2e/csvtool.c — lets the end-to-end scripts read CSV exactly as
 * the core does (libcsv through pb_csv_read):
 *   csvtool FILE rows             number of data rows
 *   csvtool FILE get ROW COLUMN   one field (ROW 0-based)
 *   csvtool FILE column COLUMN    the column, one value a line
 * Exit 1 with the parser's message when the file does not parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"

int main(int argc, char **argv)
{
	struct pb_table *t = NULL;
	char err[512];
	if (argc < 3) {
		fprintf(stderr, "usage: csvtool FILE rows|get ROW COL|column COL\n");
		return 2;
	}
	if (pb_csv_read(argv[1], &t, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int rc = 0;
	if (!strcmp(argv[2], "rows")) {
		printf("%d\n", t->nrows);
	} else if (!strcmp(argv[2], "get") && argc == 5) {
		int r = atoi(argv[3]), c = pb_table_col(t, argv[4]);
		if (r < 0 || r >= t->nrows || c < 0) {
			fprintf(stderr, "csvtool: %s: no row %d / column '%s'\n", argv[1], r, argv[4]);
			rc = 1;
		} else {
			printf("%s\n", t->rows[r][c]);
		}
	} else if (!strcmp(argv[2], "column") && argc == 4) {
		int c = pb_table_col(t, argv[3]);
		if (c < 0) {
			fprintf(stderr, "csvtool: %s: no column '%s'\n", argv[1], argv[3]);
			rc = 1;
		}
		for (int r = 0; c >= 0 && r < t->nrows; r++)
			printf("%s\n", t->rows[r][c]);
	} else {
		rc = 2;
	}
	pb_table_free(t);
	return rc;
}

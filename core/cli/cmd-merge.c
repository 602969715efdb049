/* core/cli/cmd-merge.c — `prunebench merge DIR`: rebuild DIR/summary.csv
 * from the cell folders, e.g. after the shards of a Slurm array finished. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "results/results.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: prunebench merge DIR\n\n"
		"Rebuild DIR/summary.csv from DIR/cells/*/summary.csv: one row per\n"
		"complete cell (done or failed), sorted by cell id, columns the union\n"
		"of the cells' columns.  Cells still being written (*.tmp) are skipped;\n"
		"a complete cell (manifest.yaml) without its summary.csv row is an error,\n"
		"never a row left out.\n");
}

int pb_cmd_merge(int argc, char **argv)
{
	const char *dir = NULL;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "prunebench merge: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		if (dir) {
			fprintf(stderr, "prunebench merge: one DIR only ('%s' and '%s')\n", dir, argv[i]);
			usage(stderr);
			return 2;
		}
		dir = argv[i];
	}
	if (!dir) {
		usage(stderr);
		return 2;
	}
	int n = pb_results_merge(dir, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "prunebench merge: %s\n", err[0] ? err : strerror(-n));
		return 1;
	}
	printf("merged %d cells into %s/summary.csv\n", n, dir);
	return 0;
}

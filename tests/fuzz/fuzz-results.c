/* tests/fuzz/fuzz-results.c — a results folder as `report`, `merge` and
 * resume (`run` again, `cells`, `status`) read it.  The input is two cell
 * folders' files joined by PB_FUZZ_SEP, in the order of `files` below for
 * cells/cell-a/ and then cells/cell-b/; an absent part is an absent file.
 * Each input goes through pb_cell_status_read (resume), pb_results_merge
 * and pb_report_write, whose result (else merge's) is returned. */
#include <stdlib.h>

#include "fuzz.h"
#include "report/report.h"
#include "results/results.h"
#include "util/util.h"

static const char *const files[] = {
	"manifest.yaml", "summary.csv", "requests.csv", "tensors.csv", "phases.csv", "rounds.csv",
	"probes.csv",
};
#define N_FILES ((int)(sizeof files / sizeof files[0]))
static const char *const cells[] = { "cell-a", "cell-b" };

static char names[2 * N_FILES][64];
static const char *name_ptrs[2 * N_FILES];

void pb_fuzz_init(void)
{
	for (int c = 0; c < 2; c++) {
		char dir[128];
		snprintf(dir, sizeof dir, "results/cells/%s", cells[c]);
		if (pb_mkdir_p(pb_fuzz_path(dir)) < 0)
			abort();
		for (int i = 0; i < N_FILES; i++) {
			snprintf(names[c * N_FILES + i], sizeof names[0], "%s/%s", cells[c], files[i]);
			name_ptrs[c * N_FILES + i] = names[c * N_FILES + i];
		}
	}
	if (pb_mkdir_p(pb_fuzz_path("out")) < 0)
		abort();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	char results[1024], cells_dir[1024], reason[512], err[2048];
	snprintf(results, sizeof results, "%s", pb_fuzz_path("results"));
	snprintf(cells_dir, sizeof cells_dir, "%s", pb_fuzz_path("results/cells"));
	pb_fuzz_write_parts(cells_dir, name_ptrs, 2 * N_FILES, data, size);

	for (int c = 0; c < 2; c++)
		(void)pb_cell_status_read(cells_dir, cells[c], reason, sizeof reason);
	int merged = pb_results_merge(results, err, sizeof err);
	struct pb_report_opts o = { .results_dir = results, .out_dir = pb_fuzz_path("out") };
	int rc = pb_report_write(&o, err, sizeof err);
	if (rc == 0 && merged < 0)
		rc = merged;
	return rc;
}

/* tests/fuzz/fuzz-csv.c — pb_csv_read, the strict CSV reader behind
 * `report`, `merge`, resume and rounds pooling, on one file. */
#include <string.h>

#include "fuzz.h"
#include "results/results.h"

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	const char *path = pb_fuzz_path("table.csv");
	struct pb_table *t = NULL;
	char err[1024];
	pb_fuzz_write(path, data, size);
	int rc = pb_csv_read(path, &t, err, sizeof err);
	if (rc == 0) {
		/* every cell readable, every header name found again */
		size_t sum = 0;
		for (int r = 0; r < t->nrows; r++)
			for (int c = 0; c < t->ncols; c++)
				sum += strlen(t->rows[r][c]);
		for (int c = 0; c < t->ncols; c++)
			if (pb_table_col(t, t->header[c]) < 0)
				rc = PB_FUZZ_CHECK_FAILED;
		(void)sum;
		pb_table_free(t);
	}
	return rc;
}

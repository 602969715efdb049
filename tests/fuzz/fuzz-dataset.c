/* tests/fuzz/fuzz-dataset.c — a dataset file as a cell (and `validate`)
 * loads it: pb_dataset_load, every kind the project reads.
 *
 * The first two bytes choose the options an experiment's `datasets:`
 * entry would (the seeds set them; the fuzzer flips them):
 *   byte 0, bits 0-1  kind: text, prompts, jsonl, csv
 *           bit 2     shuffle (seed 7)
 *           bit 3     reference field "reference" (jsonl, csv)
 *           bit 4     prefix "summarize: "
 *           bit 5     separator "<|endoftext|>" (text)
 *           bits 6-7  calibration records, 0..3
 *   byte 1            max_samples (0: all)
 * and the rest is the file. */
#include "fuzz.h"
#include "text/text.h"

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	static const char *const files[] = { "data.raw", "data.txt", "data.jsonl", "data.csv" };
	struct pb_dataset *d = NULL;
	char err[1024];
	if (size < 2)
		return -1;
	uint8_t o = data[0];
	struct pb_dataset_opts opts = {
		.path = pb_fuzz_path(files[o & 3]),
		.kind = (enum pb_dataset_kind)(PB_DATASET_TEXT + (o & 3)),
		.input = "prompt",
		.reference = o & 8 ? "reference" : NULL,
		.prefix = o & 16 ? "summarize: " : NULL,
		.max_samples = data[1],
		.shuffle = !!(o & 4),
		.seed = 7,
		.calib_count = o >> 6,
		.separator = o & 32 ? "<|endoftext|>" : NULL,
	};
	pb_fuzz_write(opts.path, data + 2, size - 2);
	int rc = pb_dataset_load(&opts, &d, err, sizeof err);
	if (rc == 0)
		pb_dataset_free(d);
	return rc;
}

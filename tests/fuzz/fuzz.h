/* tests/fuzz/fuzz.h — what every fuzz harness shares.
 *
 * One harness per untrusted-input parser (fuzz-<name>.c).  Each defines
 * pb_fuzz_init() (once per process) and pb_fuzz_one() (one input, the
 * same entry point the CLI calls, returning that entry point's result).
 * fuzz-util.c wraps them as libFuzzer's LLVMFuzzerInitialize and
 * LLVMFuzzerTestOneInput; regress-main.c calls them directly for the
 * normal suite (tests/fuzz/regress/<name>/), so no libFuzzer is needed
 * there.
 *
 * Inputs that stand for several files (a Hugging Face folder, a llama2.c
 * checkpoint and its tokenizer, a results folder) are the files joined by
 * PB_FUZZ_SEP; the seeds (make-seeds.c) are written that way.
 */
#ifndef PB_TEST_FUZZ_H
#define PB_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Separates the files of a multi-file input: rare in text and in model
 * data, and short enough for the fuzzer to make or break. */
#define PB_FUZZ_SEP "\n\x01PBFUZZ\x02\n"
#define PB_FUZZ_SEP_LEN (sizeof PB_FUZZ_SEP - 1)

/* Per harness. */
void pb_fuzz_init(void);
int pb_fuzz_one(const uint8_t *data, size_t size);

/* ---- fuzz-util.c */

/* This process's scratch folder (made on first use, removed at exit). */
const char *pb_fuzz_dir(void);
/* "<scratch>/<name>" in a static buffer of four rotating slots. */
const char *pb_fuzz_path(const char *name);
/* Write n bytes to path (plain, not through a rename: a harness writes
 * thousands of files a second).  Aborts on failure: that is the harness's
 * fault, not the parser's. */
void pb_fuzz_write(const char *path, const void *p, size_t n);
/* Remove path if it exists (a part absent from this input). */
void pb_fuzz_unlink(const char *path);

struct pb_fuzz_part {
	const uint8_t *p;
	size_t n;
};
/* Split data at PB_FUZZ_SEP into at most max parts; the last part takes
 * the rest, separators included.  Returns the number of parts (>= 1). */
int pb_fuzz_split(const uint8_t *data, size_t size, struct pb_fuzz_part *parts, int max);

/* Parts written as files (part i → names[i]); a missing or empty part
 * removes the file, so a seed leaves a file out with an empty part. */
void pb_fuzz_write_parts(const char *dir, const char *const *names, int n_names,
			 const uint8_t *data, size_t size);

/* What pb_fuzz_one returns when the parser accepted the input but a check
 * of the harness failed (never a parser's own error code). */
#define PB_FUZZ_CHECK_FAILED (-100000)

/* After a model loaded: tokenize a fixed text and decode every id (at most
 * 4096), so a tokenizer built from untrusted vocabulary is exercised too.
 * Returns 0, or PB_FUZZ_CHECK_FAILED when pb_fuzz_strict is set and an id
 * below the model's vocabulary cannot be decoded (issue 14 item 6: padding
 * ids must decode to nothing). */
struct pb_model;
int pb_fuzz_model_use(const struct pb_model *m);

/* Set by the regression driver: checks the fuzzer itself leaves off
 * (known bugs another change fixes) become failures. */
extern int pb_fuzz_strict;

#endif

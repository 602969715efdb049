/* tests/fuzz/fuzz-llama2c.c — a llama2.c checkpoint and the tokenizer.bin
 * beside it, as pb_model_load finds them.  The input is the two files
 * joined by PB_FUZZ_SEP (checkpoint first); without a second part the
 * folder has no tokenizer. */
#include "fuzz.h"
#include "model/modelio.h"

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "model.bin", "tokenizer.bin" };
	struct pb_model *m = NULL;
	char err[1024];
	pb_fuzz_write_parts(pb_fuzz_dir(), names, 2, data, size);
	int rc = pb_model_load(pb_fuzz_path("model.bin"), &m, err, sizeof err);
	if (rc == 0) {
		rc = pb_fuzz_model_use(m);
		pb_model_free(m);
	}
	return rc;
}

/* tests/fuzz/fuzz-gguf.c — a GGUF file (v1, v2, v3) as `prunebench run`,
 * `convert` and `prune` load it: pb_model_load on a .gguf path, then the
 * tokenizer it carries is used (fuzz.h). */
#include "fuzz.h"
#include "model/modelio.h"

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	const char *path = pb_fuzz_path("model.gguf");
	struct pb_model *m = NULL;
	char err[1024];
	pb_fuzz_write(path, data, size);
	int rc = pb_model_load(path, &m, err, sizeof err);
	if (rc == 0) {
		rc = pb_fuzz_model_use(m);
		pb_model_free(m);
	}
	return rc;
}

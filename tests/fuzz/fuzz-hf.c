/* tests/fuzz/fuzz-hf.c — a Hugging Face folder as pb_model_load reads it
 * (`run`, `convert`, `prune`).  The input is the folder's files joined by
 * PB_FUZZ_SEP, in the order of `names` below; an absent or empty part is
 * an absent file.  The reader looks for the sharded index only when
 * model.safetensors is missing, and the sharded seed's index names the one
 * shard, the last part. */
#include "fuzz.h"
#include "model/modelio.h"

static const char *const names[] = {
	"config.json", "tokenizer.json", "model.safetensors", "model.safetensors.index.json",
	"model-00001-of-00001.safetensors",
};

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	struct pb_model *m = NULL;
	char err[1024];
	pb_fuzz_write_parts(pb_fuzz_dir(), names, (int)(sizeof names / sizeof names[0]), data, size);
	int rc = pb_model_load(pb_fuzz_dir(), &m, err, sizeof err);
	if (rc == 0) {
		rc = pb_fuzz_model_use(m);
		pb_model_free(m);
	}
	return rc;
}

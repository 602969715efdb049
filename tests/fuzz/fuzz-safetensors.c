/* tests/fuzz/fuzz-safetensors.c — one .safetensors file through
 * pb_st_open, the reader a Hugging Face folder's weights (and each shard)
 * go through; the folder around it is fuzz-hf.c's. */
#include "fuzz.h"
#include "model/safetensors.h"

void pb_fuzz_init(void)
{
	pb_fuzz_dir();
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	const char *path = pb_fuzz_path("model.safetensors");
	struct pb_st_file f;
	char err[1024];
	pb_fuzz_write(path, data, size);
	int rc = pb_st_open(path, &f, err, sizeof err);
	if (rc == 0) {
		for (int i = 0; i < f.n; i++)   /* every entry by name, as hf.c looks them up */
			(void)pb_st_find(&f, f.t[i].name);
		pb_st_close(&f);
	}
	return rc;
}

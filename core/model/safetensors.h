/* core/model/safetensors.h — one .safetensors file, mapped and checked:
 * an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the byte buffer the offsets
 * index.  Used by the Hugging Face folder reader (hf.c). */
#ifndef PB_SAFETENSORS_H
#define PB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/tensor.h>

struct pb_st_tensor {
	char *name;
	enum pb_dtype dtype;      /* F32, F16 or BF16 */
	int n_dims;
	int64_t shape[PB_MAX_DIMS];   /* as stored: outermost first */
	void *data;               /* into the mapping */
	size_t nbytes;
	size_t at;                /* byte offset of its entry in the file, for messages */
};

struct pb_st_file {
	char path[4096];
	void *map;                /* MAP_PRIVATE, writable; NULL once handed over */
	size_t len;
	struct pb_st_tensor *t;
	int n;
};

/* Map and check a file: every entry's dtype, shape and range, the ranges
 * neither overlapping nor leaving holes, elements aligned.  Errors:
 * "<file>: offset <N>: <what>". */
int pb_st_open(const char *path, struct pb_st_file *f, char *err, size_t len);
void pb_st_close(struct pb_st_file *f);
const struct pb_st_tensor *pb_st_find(const struct pb_st_file *f, const char *name);

#endif

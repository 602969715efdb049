/* core/model/model-internal.h — what the model room keeps behind
 * pb_model.core, shared by its files (model.c, gguf-read.c, gguf-write.c,
 * synth.c) and nobody else. */
#ifndef PB_MODEL_INTERNAL_H
#define PB_MODEL_INTERNAL_H

#include <stddef.h>

#include <prunebench/model.h>

struct pb_tokenizer;

/* The block of memory the non-owned tensors point into: a private file
 * mapping (munmap'd) or, for synthetic models, one heap arena (freed).
 * Tensors replaced by pb_tensor_realloc are owned on their own, so the
 * block stays alive until pb_model_free even if nothing points into it. */
struct pb_model_core {
	void *base;
	size_t base_len;
	int base_is_mmap;
	struct pb_tokenizer *tok;
	char source[256];          /* file path or "synth:<preset>" */
};

/* Allocate an empty model with n_tensors zeroed tensors and its core. */
struct pb_model *pb_model_alloc(int n_tensors);

/* Fill t's layer and role from its GGUF name ("blk.3.attn_q.weight").
 * Unknown names get PB_ROLE_OTHER (layer -1 unless the name has blk.N). */
void pb_tensor_classify(struct pb_tensor *t);

/* The GGUF llama name of (layer, role), e.g. "blk.3.ffn_up.weight". */
int pb_tensor_role_name(int layer, enum pb_role role, char *out, size_t len);

#endif

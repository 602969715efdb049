/* core/model/model-internal.h — what the model room keeps behind
 * pb_model.core, shared by its files (model.c, names.c, the format
 * readers and writers, synth.c) and nobody else. */
#ifndef PB_MODEL_INTERNAL_H
#define PB_MODEL_INTERNAL_H

#include <stddef.h>

#include <prunebench/model.h>

#include "model/modelio.h"

struct pb_tokenizer;

/* Further file mappings (sharded safetensors), unmapped with the model. */
struct pb_model_map {
	void *p;
	size_t len;
};

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
	struct pb_model_map *maps; /* more mappings, for models in several files */
	int n_maps;
	struct pb_arch_params ap;  /* Gemma's extras (modelio.h) */
};

/* Allocate an empty model with n_tensors zeroed tensors and its core;
 * hp's token ids start at -1 (absent). */
struct pb_model *pb_model_alloc(int n_tensors);

/* Map a whole file MAP_PRIVATE, readable and writable (copy on write).
 * An empty file maps to NULL with *len 0.  Errors name the file. */
int pb_map_file(const char *path, void **p, size_t *len, char *err, size_t errlen);

/* The format readers behind pb_model_load_with; tok_path NULL: the
 * model's own tokenizer. */
int pb_gguf_load(const char *path, const char *tok_path, const char *tok_pre,
		 struct pb_model **out, char *err, size_t len);
int pb_llama2c_load(const char *path, const char *tok_path, struct pb_model **out,
		    char *err, size_t len);
int pb_hf_load(const char *dir, const char *tok_path, struct pb_model **out,
	       char *err, size_t len);

/* A tokenizer file: tokenizer.json (Hugging Face) or a llama2.c .bin. */
int pb_tokenizer_file_load(const char *path, int n_vocab, struct pb_tokenizer **out,
			   char *err, size_t len);

/* Norms and other 1-D tensors, and T5's relative position biases, in F32
 * (owned copies) whatever the file stored, so every backend reads them
 * the same way. */
int pb_model_small_f32(struct pb_model *m);

/* A tied output projection: an OUTPUT tensor sharing the embedding's data
 * (appended at m->tensors[m->n_tensors], which must have room). */
void pb_model_tie_output(struct pb_model *m, int embd);

/* Whether a tensor's shape fits its role and the hyper-parameters (dim,
 * head_dim, vocab, rel_buckets); widths structured pruning changes only
 * need whole heads.  0, or -EINVAL with "shape [..], expected [..] (..)"
 * in why. */
int pb_tensor_shape_check(const struct pb_tensor *t, const struct pb_hparams *hp, char *why, size_t len);

/* Fused projections (Phi-3's attn_qkv [dim × (q + 2 kv)] and
 * ffn_up [dim × 2 ffn], gate rows first) become separate ATTN_Q/K/V and
 * FFN_GATE/UP tensors that view row ranges of the fused data (zero copy;
 * an owned fused tensor is copied into owned parts), so every pruner,
 * calibration tap and op runs on them as on Llama's.  q/k/v widths come
 * from hp's head counts.  The table is reallocated with `spare` free
 * slots after the last tensor.  0, or -errno with why (naming the
 * tensor). */
int pb_model_split_fused(struct pb_model *m, int spare, char *why, size_t len);

/* ---- tensor names (names.c): llama.cpp's GGUF names per architecture */

/* Fill t's stack, layer and role from its GGUF name ("blk.3.attn_q.weight",
 * "enc.blk.0.attn_rel_b.weight").  Unknown names get PB_ROLE_OTHER (layer
 * -1 unless the name has a block number). */
void pb_tensor_classify_arch(struct pb_tensor *t, enum pb_arch arch);
/* The GGUF name of (stack, layer, role) in an architecture; -EINVAL when
 * the architecture has no such tensor. */
int pb_tensor_name_arch(enum pb_arch arch, enum pb_stack stack, int layer, enum pb_role role,
			char *out, size_t len);

/* The llama names (kept for the synthetic llama models). */
void pb_tensor_classify(struct pb_tensor *t);
int pb_tensor_role_name(int layer, enum pb_role role, char *out, size_t len);

#endif

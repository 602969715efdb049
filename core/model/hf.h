/* core/model/hf.h — the Hugging Face folder reader's pieces, shared by
 * hf.c (folder, safetensors shards, building the model, tokenizer) and
 * hf-arch.c (what each architecture's config.json and tensor names mean). */
#ifndef PB_HF_H
#define PB_HF_H

#include <jansson.h>
#include <stdint.h>

#include <prunebench/model.h>

#include "model/modelio.h"
#include "model/safetensors.h"

struct hf {
	const char *dir;
	char cfg_path[4096];
	json_t *cfg;
	char *err;
	size_t len;
	struct pb_st_file *files;
	int n_files;
	struct pb_rope_llama3 rope3;   /* llama3 RoPE scaling (original_ctx 0: none) */
	/* Phi-3 longrope: config.json's factor lists (borrowed from cfg),
	 * NULL when rope_scaling is null */
	json_t *short_factor, *long_factor;
};

/* One stored tensor and its file, for messages. */
struct hf_src {
	const struct pb_st_file *file;
	const struct pb_st_tensor *t;
};

struct hf_arch {
	const char *name;          /* "LlamaForCausalLM" */
	enum pb_arch arch;
	/* 1: a model weight (stack, layer, role set); 0: skip (a buffer);
	 * -1: unknown */
	int (*map_name)(const char *hf, enum pb_stack *stack, int *layer, enum pb_role *role);
	/* hp from config.json; *tie: embeddings tied */
	int (*hparams)(struct hf *h, struct pb_model *m, int *tie);
	int rotate_half;           /* q/k rows need permuting to interleaved RoPE */
};

/* The architecture config.json names (architectures[0], else model_type);
 * NULL with h->err set when unsupported. */
const struct hf_arch *hf_arch_find(struct hf *h);

/* config.json values; absent or null: def, or an error when required.
 * An integer key given as a list (eos_token_id) gives its first element. */
int hf_cfg_int(struct hf *h, const char *key, int required, int64_t def, int64_t lo, int64_t hi,
	       int *out);
int hf_cfg_float(struct hf *h, const char *key, double def, double lo, double hi, float *out);
int hf_cfg_bool(struct hf *h, const char *key, int def, int *out);
const char *hf_cfg_str(struct hf *h, const char *key);

/* "<file>: offset <entry>: tensor '<name>': <what>"; returns -EINVAL. */
int hf_fail_tensor(struct hf *h, const struct hf_src *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

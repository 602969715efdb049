/* prunebench/model.h — the model IR handed to pruners and backends.
 *
 * A model is an architecture tag, its global hyper-parameters and a flat
 * table of tensors, each tagged with (layer, role).  Per-layer shapes are
 * NOT stored as hyper-parameters: after structured pruning a layer may have
 * fewer heads or FFN neurons than another, so code derives them from the
 * tensors (pb_layer_shape below), never from `hp`.
 *
 * Ownership: the core owns the model.  Pruners edit it in place during
 * their apply() call; backends read it during weights_load() and may keep
 * pointers into tensor data until their fini().
 */
#ifndef PRUNEBENCH_MODEL_H
#define PRUNEBENCH_MODEL_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pb_arch {
	PB_ARCH_LLAMA = 0,   /* decoder-only: RMSNorm, RoPE, GQA, SwiGLU */
	PB_ARCH_T5 = 1,      /* encoder-decoder (engine issue) */
	/* Llama-family decoders with their own twists (core/arch/); Llama 3.x,
	 * Mistral and SmolLM2 are PB_ARCH_LLAMA (llama3 RoPE scaling is a
	 * PB_ROLE_ROPE_FREQS tensor) */
	PB_ARCH_QWEN2 = 2,   /* q/k/v biases */
	PB_ARCH_QWEN3 = 3,   /* per-head RMSNorm of q and k, no biases */
	PB_ARCH_GEMMA2 = 4,  /* √d embedding scale, GeGLU, post-norms, soft-capping, SWA */
	PB_ARCH_GEMMA3 = 5,  /* Gemma 2 without soft-capping, q/k norms, local/global RoPE */
	PB_ARCH_PHI3 = 6,    /* fused QKV and gate/up, longrope */
};

enum pb_rope_layout {
	PB_ROPE_INTERLEAVED = 0,  /* Meta/GGUF: pairs (2i, 2i+1) */
	PB_ROPE_HALF = 1,         /* NeoX/HF: pairs (i, i + d/2) */
};

struct pb_hparams {
	int dim;              /* residual width */
	int n_layers;
	int n_heads;          /* as trained; per-layer counts come from tensors */
	int n_kv_heads;
	int head_dim;
	int ffn_dim;          /* as trained */
	int vocab;
	int ctx;              /* positions this run uses: a session sizes its KV cache and
	                       * windows by it (a loaded model's ctx_train, capped at
	                       * PB_CTX_DEFAULT unless the experiment's `ctx:` says) */
	float norm_eps;
	float rope_theta;
	enum pb_rope_layout rope_layout;
	int bos_id, eos_id;   /* -1 when absent */
	/* encoder-decoder (T5); zero for decoder-only models */
	int n_enc_layers;     /* encoder blocks (n_layers counts decoder blocks) */
	int rel_buckets;      /* relative attention buckets (T5: 32) */
	int rel_max_distance; /* T5: 128 */
	int ffn_act;          /* enum pb_act_fn of the FFN (T5: RELU or GELU) */
	int ffn_gated;        /* 1: act(gate) * up (gated-GELU, SwiGLU); 0: act(up) */
	float logit_scale;    /* multiplies the final hidden state before the LM head
	                       * (T5 with tied embeddings: d_model^-0.5); 0 means 1 */
	int decoder_start_id; /* T5: pad = 0 */
	int pad_id, unk_id;   /* -1 when absent */
	int ctx_train;        /* positions the model was trained for, as its file says
	                       * (what a written GGUF keeps); 0: as ctx */
};

/* The context a loaded model runs at when nothing asks for another (as
 * llama.cpp's tools default n_ctx); never above its ctx_train. */
#define PB_CTX_DEFAULT 4096

static inline int pb_hp_ctx_train(const struct pb_hparams *hp)
{
	return hp->ctx_train > 0 ? hp->ctx_train : hp->ctx;
}

#define PB_MODEL_NAME_MAX 128

struct pb_model {
	char name[PB_MODEL_NAME_MAX];
	enum pb_arch arch;
	struct pb_hparams hp;
	struct pb_tensor *tensors;
	int n_tensors;
	void *core;           /* core-private: mapping, tokenizer, metadata */
};

/* Shape of one block as its tensors say, after any structured pruning. */
struct pb_layer_shape {
	int n_heads, n_kv_heads, ffn_dim;
};

/* Decoder-only models (and the decoder stack of an encoder-decoder). */
static inline struct pb_tensor *pb_model_find(const struct pb_model *m,
					      int layer, enum pb_role role)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].layer == layer && m->tensors[i].role == role &&
		    m->tensors[i].stack == PB_STACK_DECODER)
			return &m->tensors[i];
	return 0;
}

/* The same within one stack of an encoder-decoder. */
static inline struct pb_tensor *pb_model_find_in(const struct pb_model *m, enum pb_stack stack,
						 int layer, enum pb_role role)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].stack == stack && m->tensors[i].layer == layer &&
		    m->tensors[i].role == role)
			return &m->tensors[i];
	return 0;
}

static inline struct pb_layer_shape pb_layer_shape(const struct pb_model *m, int layer)
{
	struct pb_layer_shape s = { 0, 0, 0 };
	const struct pb_tensor *q = pb_model_find(m, layer, PB_ROLE_ATTN_Q);
	const struct pb_tensor *k = pb_model_find(m, layer, PB_ROLE_ATTN_K);
	const struct pb_tensor *g = pb_model_find(m, layer, PB_ROLE_FFN_UP);
	if (q && m->hp.head_dim)
		s.n_heads = (int)(q->ne[1] / m->hp.head_dim);
	if (k && m->hp.head_dim)
		s.n_kv_heads = (int)(k->ne[1] / m->hp.head_dim);
	if (g)
		s.ffn_dim = (int)g->ne[1];
	return s;
}

#ifdef __cplusplus
}
#endif
#endif

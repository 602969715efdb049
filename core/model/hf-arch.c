/* core/model/hf-arch.c — what a Hugging Face config.json and tensor names
 * mean for the architectures we read, mapped onto llama.cpp's
 * (convert_hf_to_gguf.py, gguf-py tensor_mapping.py):
 *
 * LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM: model.embed_tokens
 *   → token_embd, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
 *   post_attention_layernorm, mlp.{gate,up,down}_proj} → blk.N.{attn_norm,
 *   attn_q/k/v, attn_output, ffn_norm, ffn_gate/up/down}, model.norm →
 *   output_norm, lm_head → output; Qwen2's self_attn.{q,k,v}_proj.bias →
 *   blk.N.attn_{q,k,v}.bias, Qwen3's self_attn.{q,k}_norm →
 *   blk.N.attn_{q,k}_norm.  Llama's rope_scaling {rope_type: llama3}
 *   becomes the rope_freqs tensor llama.cpp's converter writes (hf.c adds
 *   it; core/model/rope.c computes it).  Qwen rows stay in HF's
 *   rotate-half order, as llama.cpp's qwen2/qwen3 (NeoX RoPE) read them.
 * Phi3ForCausalLM: Llama's names, but self_attn.qkv_proj → blk.N.attn_qkv
 *   and mlp.gate_up_proj → blk.N.ffn_up (gate rows, then up rows), split
 *   on load into q/k/v and gate/up views (fused.c); rope_scaling {type:
 *   longrope (or su), short_factor, long_factor} becomes the
 *   rope_factors_short/long tensors convert_hf_to_gguf.py writes, with
 *   original_max_position_embeddings and the attention factor
 *   (rope_scaling.attention_factor, else √(1 + ln(max/orig) / ln orig), as
 *   transformers computes it; the converter always computes it).  Rows stay
 *   rotate-half: llama.cpp's phi3 runs NeoX RoPE.  sliding_window is kept
 *   for the GGUF but not run: llama.cpp's phi3 disables it.
 * Gemma2ForCausalLM, Gemma3ForCausalLM: the same embedding, norm and
 *   projection names; input_layernorm → attn_norm, post_attention_layernorm
 *   → post_attention_norm, pre_feedforward_layernorm → ffn_norm,
 *   post_feedforward_layernorm → post_ffw_norm; Gemma 3's q_norm/k_norm
 *   → attn_{q,k}_norm.  Every norm weight becomes 1 + w on load (hf.c), as
 *   llama.cpp's converter stores it.
 * T5ForConditionalGeneration: shared / {en,de}coder.embed_tokens →
 *   token_embd; {en,de}coder.block.N.layer.0.{SelfAttention.{q,k,v,o,
 *   relative_attention_bias}, layer_norm} → {enc,dec}.blk.N.{attn_q/k/v/o,
 *   attn_rel_b, attn_norm}; decoder layer.1.{EncDecAttention.{q,k,v,o},
 *   layer_norm} → cross_attn_*; the FFN layer (1 in the encoder, 2 in the
 *   decoder) DenseReluDense.{wi | wi_0, wi_1, wo}, layer_norm →
 *   ffn_{up | gate, up, down}, ffn_norm; {en,de}coder.final_layer_norm →
 *   {enc,dec}.output_norm; lm_head → output.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/hf.h"
#include "util/util.h"

struct suffix_role {
	const char *suffix;
	enum pb_role role;
};

/* "<prefix><N>.<rest>": N, and *rest. */
static int block_of(const char *name, const char *prefix, const char **rest)
{
	size_t k = strlen(prefix);
	long n = 0;
	int digits = 0;
	if (strncmp(name, prefix, k))
		return -1;
	for (name += k; *name >= '0' && *name <= '9' && digits < 6; name++, digits++)
		n = n * 10 + (*name - '0');
	if (!digits || *name != '.')
		return -1;
	*rest = name + 1;
	return (int)n;
}

static int match(const struct suffix_role *t, const char *rest, enum pb_role *role)
{
	for (; t->suffix; t++)
		if (!strcmp(rest, t->suffix)) {
			*role = t->role;
			return 1;
		}
	return -1;
}

/* ---- llama, qwen2, qwen3 ---- */

static const struct suffix_role decoder_block[] = {
	{ "input_layernorm.weight", PB_ROLE_ATTN_NORM },
	{ "self_attn.q_proj.weight", PB_ROLE_ATTN_Q },
	{ "self_attn.k_proj.weight", PB_ROLE_ATTN_K },
	{ "self_attn.v_proj.weight", PB_ROLE_ATTN_V },
	{ "self_attn.o_proj.weight", PB_ROLE_ATTN_O },
	{ "post_attention_layernorm.weight", PB_ROLE_FFN_NORM },
	{ "mlp.gate_proj.weight", PB_ROLE_FFN_GATE },
	{ "mlp.up_proj.weight", PB_ROLE_FFN_UP },
	{ "mlp.down_proj.weight", PB_ROLE_FFN_DOWN },
	/* Qwen2 */
	{ "self_attn.q_proj.bias", PB_ROLE_ATTN_Q_BIAS },
	{ "self_attn.k_proj.bias", PB_ROLE_ATTN_K_BIAS },
	{ "self_attn.v_proj.bias", PB_ROLE_ATTN_V_BIAS },
	/* Qwen3 */
	{ "self_attn.q_norm.weight", PB_ROLE_ATTN_Q_NORM },
	{ "self_attn.k_norm.weight", PB_ROLE_ATTN_K_NORM },
	{ NULL, 0 },
};

#define ROLE_BIT(r) (1ull << (r))
#define BIASES (ROLE_BIT(PB_ROLE_ATTN_Q_BIAS) | ROLE_BIT(PB_ROLE_ATTN_K_BIAS) | ROLE_BIT(PB_ROLE_ATTN_V_BIAS))
#define QK_NORMS (ROLE_BIT(PB_ROLE_ATTN_Q_NORM) | ROLE_BIT(PB_ROLE_ATTN_K_NORM))

/* The Llama names; `extra`: which of the Qwen roles this class has. */
static int decoder_map(const char *name, uint64_t extra, enum pb_stack *stack, int *layer,
		       enum pb_role *role)
{
	const char *rest;
	*stack = PB_STACK_DECODER;
	*layer = -1;
	if (!strcmp(name, "model.embed_tokens.weight"))
		return *role = PB_ROLE_TOK_EMBD, 1;
	if (!strcmp(name, "model.norm.weight"))
		return *role = PB_ROLE_OUT_NORM, 1;
	if (!strcmp(name, "lm_head.weight"))
		return *role = PB_ROLE_OUTPUT, 1;
	if ((*layer = block_of(name, "model.layers.", &rest)) < 0)
		return -1;
	if (!strcmp(rest, "self_attn.rotary_emb.inv_freq"))
		return 0;   /* recomputed from rope_theta */
	if (match(decoder_block, rest, role) < 0)
		return -1;
	if (*role >= PB_ROLE_ATTN_Q_BIAS && !(extra & ROLE_BIT(*role)))
		return -1;
	return 1;
}

/* ---- phi3 ---- */

static const struct suffix_role phi3_block[] = {
	{ "input_layernorm.weight", PB_ROLE_ATTN_NORM },
	{ "self_attn.qkv_proj.weight", PB_ROLE_ATTN_QKV },
	{ "self_attn.o_proj.weight", PB_ROLE_ATTN_O },
	{ "post_attention_layernorm.weight", PB_ROLE_FFN_NORM },
	{ "mlp.gate_up_proj.weight", PB_ROLE_FFN_GATE_UP },
	{ "mlp.down_proj.weight", PB_ROLE_FFN_DOWN },
	{ NULL, 0 },
};

static int phi3_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	const char *rest;
	*stack = PB_STACK_DECODER;
	*layer = -1;
	if (!strcmp(name, "model.embed_tokens.weight"))
		return *role = PB_ROLE_TOK_EMBD, 1;
	if (!strcmp(name, "model.norm.weight"))
		return *role = PB_ROLE_OUT_NORM, 1;
	if (!strcmp(name, "lm_head.weight"))
		return *role = PB_ROLE_OUTPUT, 1;
	if ((*layer = block_of(name, "model.layers.", &rest)) < 0)
		return -1;
	if (!strcmp(rest, "self_attn.rotary_emb.inv_freq"))
		return 0;   /* recomputed from rope_theta */
	return match(phi3_block, rest, role);
}

static int llama_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	return decoder_map(name, 0, stack, layer, role);
}

static int qwen2_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	return decoder_map(name, BIASES, stack, layer, role);
}

static int qwen3_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	return decoder_map(name, QK_NORMS, stack, layer, role);
}

/* A number in the rope_scaling object; absent or null: def. */
static int rs_float(struct hf *h, json_t *rs, const char *key, double def, double lo, double hi,
		    double *out)
{
	json_t *v = json_object_get(rs, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return pb_errf(h->err, h->len, -EINVAL, "%s: rope_scaling.%s: expected a number in %g..%g",
			       h->cfg_path, key, lo, hi);
	*out = json_number_value(v);
	return 0;
}

/* Phi-3's rope_scaling {type: longrope | su, short_factor, long_factor,
 * attention_factor?}: the lists (checked: head_dim / 2 numbers each) go
 * to h, the original context and attention factor to the model. */
static int longrope(struct hf *h, json_t *rs, const char *type, struct pb_model *m)
{
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	const int half = m->hp.head_dim / 2;
	double orig, attn;
	int rc;
	if (strcmp(type, "longrope") && strcmp(type, "su"))
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: rope_scaling type '%s' is not supported (phi3: longrope)",
			       h->cfg_path, type);
	json_t *lists[2] = { json_object_get(rs, "short_factor"), json_object_get(rs, "long_factor") };
	for (int i = 0; i < 2; i++) {
		int ok = json_is_array(lists[i]) && (int)json_array_size(lists[i]) == half;
		for (size_t k = 0; ok && k < json_array_size(lists[i]); k++) {
			json_t *v = json_array_get(lists[i], k);
			ok = json_is_number(v) && json_number_value(v) > 0 && json_number_value(v) < 1e30;
		}
		if (!ok)
			return pb_errf(h->err, h->len, -EINVAL,
				       "%s: rope_scaling.%s: expected a list of %d positive numbers (head_dim / 2)",
				       h->cfg_path, i ? "long_factor" : "short_factor", half);
	}
	json_t *top = json_object_get(h->cfg, "original_max_position_embeddings");
	if ((rc = rs_float(h, rs, "original_max_position_embeddings",
			   json_is_integer(top) ? (double)json_integer_value(top) : 0, 0, 1 << 24, &orig)) < 0)
		return rc;
	ap->rope_orig_ctx = (int)orig;
	if (ap->rope_orig_ctx < 2 || orig != (double)ap->rope_orig_ctx)
		return pb_errf(h->err, h->len, -EINVAL,
			       "%s: longrope needs original_max_position_embeddings, an integer of at least 2", h->cfg_path);
	if ((rc = rs_float(h, rs, "attention_factor", pb_rope_longrope_mscale(m->hp.ctx, ap->rope_orig_ctx), 1e-6,
			   1e6, &attn)) < 0)
		return rc;
	ap->rope_attn_factor = (float)attn;
	h->short_factor = lists[0];
	h->long_factor = lists[1];
	return 0;
}

/* rope_scaling: null or "default" is plain RoPE; llama3 (Llama 3.1/3.2)
 * becomes h->rope3, with convert_hf_to_gguf.py's defaults for missing
 * members; Phi-3's longrope its factor tensors; anything else is
 * refused. */
static int rope_scaling(struct hf *h, struct pb_model *m)
{
	const int llama3_ok = m->arch == PB_ARCH_LLAMA;
	json_t *rs = json_object_get(h->cfg, "rope_scaling");
	double factor, low, high, orig_top, orig;
	int rc;
	if (!rs || json_is_null(rs))
		return 0;
	if (!json_is_object(rs))
		return pb_errf(h->err, h->len, -EINVAL, "%s: rope_scaling: expected an object or null", h->cfg_path);
	const char *type = json_string_value(json_object_get(rs, "rope_type"));
	if (!type)
		type = json_string_value(json_object_get(rs, "type"));
	if (type && !strcmp(type, "default"))
		return 0;
	if (type && m->arch == PB_ARCH_PHI3)
		return longrope(h, rs, type, m);
	if (!type || strcmp(type, "llama3") || !llama3_ok)
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: rope_scaling type '%s' is not supported (%s)",
			       h->cfg_path, type ? type : "(none)",
			       llama3_ok ? "llama3 only" : m->arch == PB_ARCH_PHI3 ? "longrope only" : "plain RoPE only");
	if ((rc = rs_float(h, rs, "factor", 8.0, 1e-6, 1e6, &factor)) < 0 ||
	    (rc = rs_float(h, rs, "low_freq_factor", 1.0, 1e-6, 1e6, &low)) < 0 ||
	    (rc = rs_float(h, rs, "high_freq_factor", 4.0, 1e-6, 1e6, &high)) < 0)
		return rc;
	json_t *top = json_object_get(h->cfg, "original_max_position_embeddings");
	orig_top = json_is_integer(top) ? (double)json_integer_value(top) : 8192;
	if ((rc = rs_float(h, rs, "original_max_position_embeddings", orig_top, 1, 1 << 24, &orig)) < 0)
		return rc;
	if (low == high || orig != (double)(int)orig)
		return pb_errf(h->err, h->len, -EINVAL,
			       "%s: rope_scaling: low_freq_factor and high_freq_factor must differ and "
			       "original_max_position_embeddings be an integer", h->cfg_path);
	h->rope3 = (struct pb_rope_llama3){ .factor = (float)factor, .low_freq_factor = (float)low,
					    .high_freq_factor = (float)high, .original_ctx = (int)orig };
	return 0;
}

/* Phi-3 beyond Llama's keys: partial rotary dimensions are refused (they
 * would rotate only part of each head; llama.cpp's phi3 would too, but
 * Phi-3 and 3.5 rotate whole heads), sliding_window is kept (not run). */
static int phi3_extras(struct hf *h, struct pb_model *m)
{
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	json_t *rs = json_object_get(h->cfg, "rope_scaling");
	float prf = 1.0f, prf_rs = 1.0f;
	int rc;
	if ((rc = hf_cfg_float(h, "partial_rotary_factor", 1.0, 1e-6, 1.0, &prf)) < 0)
		return rc;
	if (json_is_object(rs) && json_is_number(json_object_get(rs, "partial_rotary_factor")))
		prf_rs = (float)json_number_value(json_object_get(rs, "partial_rotary_factor"));
	if (prf != 1.0f || prf_rs != 1.0f)
		return pb_errf(h->err, h->len, -ENOTSUP,
			       "%s: partial_rotary_factor %g is not supported (RoPE over whole heads only: "
			       "Phi-3 and 3.5 rotate all of each head; Phi-4-mini's 0.75 does not)",
			       h->cfg_path, (double)(prf != 1.0f ? prf : prf_rs));
	json_t *sw = json_object_get(h->cfg, "sliding_window");
	if (sw && !json_is_null(sw))
		return hf_cfg_int(h, "sliding_window", 0, 0, 0, 1 << 30, &ap->sliding_window);
	return 0;
}

/* What LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM and
 * Phi3ForCausalLM share. */
static int decoder_hparams(struct hf *h, struct pb_model *m, int *tie, enum pb_arch arch)
{
	struct pb_hparams *hp = &m->hp;
	const char *act = hf_cfg_str(h, "hidden_act");
	int rc, ab = 0, mb = 0, swa = 0;
	m->arch = arch;
	if ((rc = hf_cfg_int(h, "hidden_size", 1, 0, 1, 1 << 20, &hp->dim)) < 0 ||
	    (rc = hf_cfg_int(h, "intermediate_size", 1, 0, 1, 1 << 24, &hp->ffn_dim)) < 0 ||
	    (rc = hf_cfg_int(h, "num_hidden_layers", 1, 0, 1, 1 << 16, &hp->n_layers)) < 0 ||
	    (rc = hf_cfg_int(h, "num_attention_heads", 1, 0, 1, 1 << 16, &hp->n_heads)) < 0 ||
	    (rc = hf_cfg_int(h, "num_key_value_heads", 0, hp->n_heads, 1, hp->n_heads, &hp->n_kv_heads)) < 0 ||
	    (rc = hf_cfg_int(h, "vocab_size", 1, 0, 1, 1 << 24, &hp->vocab)) < 0 ||
	    (rc = hf_cfg_int(h, "max_position_embeddings", 0, 2048, 1, 1 << 24, &hp->ctx)) < 0 ||
	    (rc = hf_cfg_float(h, "rms_norm_eps", 1e-6, 0, 1, &hp->norm_eps)) < 0 ||
	    (rc = hf_cfg_float(h, "rope_theta", 10000.0, 1e-3, 1e12, &hp->rope_theta)) < 0 ||
	    (rc = hf_cfg_bool(h, "tie_word_embeddings", 0, tie)) < 0 ||
	    (rc = hf_cfg_bool(h, "attention_bias", 0, &ab)) < 0 ||
	    (rc = hf_cfg_bool(h, "mlp_bias", 0, &mb)) < 0 ||
	    (rc = hf_cfg_bool(h, "use_sliding_window", 0, &swa)) < 0)
		return rc;
	if (hp->dim % hp->n_heads && !json_object_get(h->cfg, "head_dim"))
		return pb_errf(h->err, h->len, -EINVAL, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
			       h->cfg_path, hp->dim, hp->n_heads);
	if ((rc = hf_cfg_int(h, "head_dim", 0, hp->dim / hp->n_heads, 2, 1 << 16, &hp->head_dim)) < 0)
		return rc;
	if (hp->head_dim % 2 || hp->n_heads % hp->n_kv_heads)
		return pb_errf(h->err, h->len, -EINVAL,
			       "%s: head_dim %d must be even and num_attention_heads %d a multiple of num_key_value_heads %d",
			       h->cfg_path, hp->head_dim, hp->n_heads, hp->n_kv_heads);
	if (act && strcmp(act, "silu"))
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: hidden_act '%s' is not supported (%s uses silu)",
			       h->cfg_path, act, pb_arch_name(arch));
	if (arch == PB_ARCH_PHI3 && (rc = phi3_extras(h, m)) < 0)
		return rc;
	if ((rc = rope_scaling(h, m)) < 0)
		return rc;
	/* Qwen2's q/k/v biases are not a config switch (its o_proj never has
	 * one); Llama's attention_bias adds one to o_proj, which llama.cpp's
	 * llama has no tensor for */
	if ((arch != PB_ARCH_QWEN2 && ab) || mb)
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: %s is not supported (linears without bias only)",
			       h->cfg_path, mb ? "mlp_bias" : "attention_bias");
	if (swa)
		return pb_errf(h->err, h->len, -ENOTSUP,
			       "%s: use_sliding_window is not supported (every layer attends to the whole context)",
			       h->cfg_path);
	if ((rc = hf_cfg_int(h, "bos_token_id", 0, -1, -1, hp->vocab - 1, &hp->bos_id)) < 0 ||
	    (rc = hf_cfg_int(h, "eos_token_id", 0, -1, -1, hp->vocab - 1, &hp->eos_id)) < 0 ||
	    (rc = hf_cfg_int(h, "pad_token_id", 0, -1, -1, hp->vocab - 1, &hp->pad_id)) < 0)
		return rc;
	/* llama: after the q/k permutation (hf.c); Qwen: as stored */
	hp->rope_layout = pb_arch_rope_layout(arch);
	hp->ffn_act = PB_ACT_SILU;
	hp->ffn_gated = 1;
	return 0;
}

static int llama_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return decoder_hparams(h, m, tie, PB_ARCH_LLAMA);
}

static int qwen2_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return decoder_hparams(h, m, tie, PB_ARCH_QWEN2);
}

static int qwen3_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return decoder_hparams(h, m, tie, PB_ARCH_QWEN3);
}

/* ---- gemma2, gemma3 ---- */

/* Gemma's post_attention_layernorm follows the attention (Llama's is the
 * FFN's pre-norm); pre_feedforward_layernorm is the FFN's. */
static const struct suffix_role gemma_block[] = {
	{ "input_layernorm.weight", PB_ROLE_ATTN_NORM },
	{ "self_attn.q_proj.weight", PB_ROLE_ATTN_Q },
	{ "self_attn.k_proj.weight", PB_ROLE_ATTN_K },
	{ "self_attn.v_proj.weight", PB_ROLE_ATTN_V },
	{ "self_attn.o_proj.weight", PB_ROLE_ATTN_O },
	{ "post_attention_layernorm.weight", PB_ROLE_ATTN_POST_NORM },
	{ "pre_feedforward_layernorm.weight", PB_ROLE_FFN_NORM },
	{ "post_feedforward_layernorm.weight", PB_ROLE_FFN_POST_NORM },
	{ "mlp.gate_proj.weight", PB_ROLE_FFN_GATE },
	{ "mlp.up_proj.weight", PB_ROLE_FFN_UP },
	{ "mlp.down_proj.weight", PB_ROLE_FFN_DOWN },
	/* Gemma 3 */
	{ "self_attn.q_norm.weight", PB_ROLE_ATTN_Q_NORM },
	{ "self_attn.k_norm.weight", PB_ROLE_ATTN_K_NORM },
	{ NULL, 0 },
};

static int gemma_map(const char *name, int qk_norms, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	const char *rest;
	*stack = PB_STACK_DECODER;
	*layer = -1;
	if (!strcmp(name, "model.embed_tokens.weight"))
		return *role = PB_ROLE_TOK_EMBD, 1;
	if (!strcmp(name, "model.norm.weight"))
		return *role = PB_ROLE_OUT_NORM, 1;
	if (!strcmp(name, "lm_head.weight"))
		return *role = PB_ROLE_OUTPUT, 1;
	if ((*layer = block_of(name, "model.layers.", &rest)) < 0 || match(gemma_block, rest, role) < 0)
		return -1;
	if (!qk_norms && (*role == PB_ROLE_ATTN_Q_NORM || *role == PB_ROLE_ATTN_K_NORM))
		return -1;
	return 1;
}

static int gemma2_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	return gemma_map(name, 0, stack, layer, role);
}

static int gemma3_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	return gemma_map(name, 1, stack, layer, role);
}

/* A number or null (0) */
static int cfg_float_or_null(struct hf *h, const char *key, double def, float *out)
{
	json_t *v = json_object_get(h->cfg, key);
	if (v && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	return hf_cfg_float(h, key, def, 0, 1e6, out);
}

/* layer_types (newer configs), when given, must be the pattern llama.cpp
 * runs: a sliding layer exactly where pb_arch_layer_slides says. */
static int check_layer_types(struct hf *h, enum pb_arch arch, int n_layers)
{
	json_t *lt = json_object_get(h->cfg, "layer_types");
	if (!lt || json_is_null(lt))
		return 0;
	if (!json_is_array(lt) || (int)json_array_size(lt) != n_layers)
		return pb_errf(h->err, h->len, -EINVAL, "%s: layer_types: expected a list of %d entries",
			       h->cfg_path, n_layers);
	for (int l = 0; l < n_layers; l++) {
		const char *t = json_string_value(json_array_get(lt, (size_t)l));
		int slides = t && !strcmp(t, "sliding_attention");
		if (!t || (!slides && strcmp(t, "full_attention")) || slides != pb_arch_layer_slides(arch, l))
			return pb_errf(h->err, h->len, -ENOTSUP,
				       "%s: layer_types[%d] is '%s'; %s slides %s (llama.cpp's pattern)", h->cfg_path,
				       l, t ? t : "?", pb_arch_name(arch),
				       arch == PB_ARCH_GEMMA2 ? "every even layer" : "all but every sixth layer");
	}
	return 0;
}

/* Gemma2ForCausalLM, Gemma3ForCausalLM (the text-only checkpoints):
 * √hidden embedding scale, GeGLU (tanh GELU), post-norms, attention
 * scaled by query_pre_attn_scalar^-½, sliding windows on llama.cpp's
 * layer pattern; Gemma 2's soft-capping, Gemma 3's q/k norms and local
 * RoPE base.  Their RMSNorm weights are folded to 1 + w by hf.c. */
static int gemma_hparams(struct hf *h, struct pb_model *m, int *tie, enum pb_arch arch)
{
	struct pb_hparams *hp = &m->hp;
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	const int g2 = arch == PB_ARCH_GEMMA2;
	const char *act = hf_cfg_str(h, "hidden_activation");
	json_t *rs = json_object_get(h->cfg, "rope_scaling");
	int rc, qpas = 0, pattern = g2 ? 2 : 6;
	m->arch = arch;
	if (!act)
		act = hf_cfg_str(h, "hidden_act");
	if ((rc = hf_cfg_int(h, "hidden_size", 1, 0, 1, 1 << 20, &hp->dim)) < 0 ||
	    (rc = hf_cfg_int(h, "intermediate_size", 1, 0, 1, 1 << 24, &hp->ffn_dim)) < 0 ||
	    (rc = hf_cfg_int(h, "num_hidden_layers", 1, 0, 1, 1 << 16, &hp->n_layers)) < 0 ||
	    (rc = hf_cfg_int(h, "num_attention_heads", 1, 0, 1, 1 << 16, &hp->n_heads)) < 0 ||
	    (rc = hf_cfg_int(h, "num_key_value_heads", 0, hp->n_heads, 1, hp->n_heads, &hp->n_kv_heads)) < 0 ||
	    (rc = hf_cfg_int(h, "head_dim", 0, hp->dim / hp->n_heads, 2, 1 << 16, &hp->head_dim)) < 0 ||
	    (rc = hf_cfg_int(h, "vocab_size", 1, 0, 1, 1 << 24, &hp->vocab)) < 0 ||
	    (rc = hf_cfg_int(h, "max_position_embeddings", 0, 8192, 1, 1 << 24, &hp->ctx)) < 0 ||
	    (rc = hf_cfg_float(h, "rms_norm_eps", 1e-6, 0, 1, &hp->norm_eps)) < 0 ||
	    (rc = hf_cfg_float(h, "rope_theta", g2 ? 10000.0 : 1000000.0, 1e-3, 1e12, &hp->rope_theta)) < 0 ||
	    (rc = hf_cfg_bool(h, "tie_word_embeddings", 1, tie)) < 0 ||
	    (rc = hf_cfg_int(h, "query_pre_attn_scalar", 0, hp->head_dim, 1, 1 << 20, &qpas)) < 0 ||
	    (rc = hf_cfg_int(h, "sliding_window", 0, 4096, 0, 1 << 24, &ap->sliding_window)) < 0 ||
	    (rc = cfg_float_or_null(h, "final_logit_softcapping", g2 ? 30.0 : 0.0, &ap->final_softcap)) < 0 ||
	    (!g2 && (rc = hf_cfg_int(h, "sliding_window_pattern", 0, 6, 1, 1 << 16, &pattern)) < 0) ||
	    (!g2 && (rc = hf_cfg_float(h, "rope_local_base_freq", 10000.0, 1e-3, 1e12, &ap->rope_theta_swa)) < 0) ||
	    (rc = check_layer_types(h, arch, hp->n_layers)) < 0)
		return rc;
	if (g2 && (rc = cfg_float_or_null(h, "attn_logit_softcapping", 50.0, &ap->attn_softcap)) < 0)
		return rc;
	if (!g2 && json_object_get(h->cfg, "attn_logit_softcapping") &&
	    !json_is_null(json_object_get(h->cfg, "attn_logit_softcapping")))
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: attn_logit_softcapping is not supported on gemma3 "
			       "(llama.cpp's gemma3 has none)", h->cfg_path);
	if (pattern != (g2 ? 2 : 6))
		return pb_errf(h->err, h->len, -ENOTSUP, "%s: sliding_window_pattern %d is not supported (%s: %d)",
			       h->cfg_path, pattern, pb_arch_name(arch), g2 ? 2 : 6);
	if (hp->head_dim % 2 || hp->n_heads % hp->n_kv_heads)
		return pb_errf(h->err, h->len, -EINVAL,
			       "%s: head_dim %d must be even and num_attention_heads %d a multiple of num_key_value_heads %d",
			       h->cfg_path, hp->head_dim, hp->n_heads, hp->n_kv_heads);
	if (act && strcmp(act, "gelu_pytorch_tanh") && strcmp(act, "gelu_new") && strcmp(act, "gelu_tanh"))
		return pb_errf(h->err, h->len, -ENOTSUP,
			       "%s: hidden_activation '%s' is not supported (%s uses gelu_pytorch_tanh)",
			       h->cfg_path, act, pb_arch_name(arch));
	if (rs && !json_is_null(rs))
		return pb_errf(h->err, h->len, -ENOTSUP,
			       "%s: rope_scaling is not supported on %s (plain RoPE only: the text-only 1B and 270M)",
			       h->cfg_path, pb_arch_name(arch));
	if ((rc = hf_cfg_int(h, "bos_token_id", 0, -1, -1, hp->vocab - 1, &hp->bos_id)) < 0 ||
	    (rc = hf_cfg_int(h, "eos_token_id", 0, -1, -1, hp->vocab - 1, &hp->eos_id)) < 0 ||
	    (rc = hf_cfg_int(h, "pad_token_id", 0, -1, -1, hp->vocab - 1, &hp->pad_id)) < 0)
		return rc;
	ap->attn_scale = (float)(1.0 / sqrt((double)qpas));
	hp->rope_layout = pb_arch_rope_layout(arch);
	hp->ffn_act = PB_ACT_GELU;
	hp->ffn_gated = 1;
	return 0;
}

static int phi3_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return decoder_hparams(h, m, tie, PB_ARCH_PHI3);
}

static int gemma2_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return gemma_hparams(h, m, tie, PB_ARCH_GEMMA2);
}

static int gemma3_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	return gemma_hparams(h, m, tie, PB_ARCH_GEMMA3);
}

/* ---- t5 ---- */

static const struct suffix_role t5_attn[] = {
	{ "SelfAttention.q.weight", PB_ROLE_ATTN_Q },
	{ "SelfAttention.k.weight", PB_ROLE_ATTN_K },
	{ "SelfAttention.v.weight", PB_ROLE_ATTN_V },
	{ "SelfAttention.o.weight", PB_ROLE_ATTN_O },
	{ "SelfAttention.relative_attention_bias.weight", PB_ROLE_ATTN_REL_BIAS },
	{ "layer_norm.weight", PB_ROLE_ATTN_NORM },
	{ NULL, 0 },
};

static const struct suffix_role t5_cross[] = {
	{ "EncDecAttention.q.weight", PB_ROLE_CROSS_Q },
	{ "EncDecAttention.k.weight", PB_ROLE_CROSS_K },
	{ "EncDecAttention.v.weight", PB_ROLE_CROSS_V },
	{ "EncDecAttention.o.weight", PB_ROLE_CROSS_O },
	{ "layer_norm.weight", PB_ROLE_CROSS_NORM },
	{ NULL, 0 },
};

static const struct suffix_role t5_ffn[] = {
	{ "DenseReluDense.wi.weight", PB_ROLE_FFN_UP },
	{ "DenseReluDense.wi_0.weight", PB_ROLE_FFN_GATE },
	{ "DenseReluDense.wi_1.weight", PB_ROLE_FFN_UP },
	{ "DenseReluDense.wo.weight", PB_ROLE_FFN_DOWN },
	{ "layer_norm.weight", PB_ROLE_FFN_NORM },
	{ NULL, 0 },
};

static int t5_map(const char *name, enum pb_stack *stack, int *layer, enum pb_role *role)
{
	const char *rest;
	int enc = !strncmp(name, "encoder.", 8);
	*stack = enc ? PB_STACK_ENCODER : PB_STACK_DECODER;
	*layer = -1;
	if (!strcmp(name, "shared.weight") || !strcmp(name, "encoder.embed_tokens.weight") ||
	    !strcmp(name, "decoder.embed_tokens.weight")) {
		*stack = PB_STACK_DECODER;
		return *role = PB_ROLE_TOK_EMBD, 1;
	}
	if (!strcmp(name, "lm_head.weight"))
		return *role = PB_ROLE_OUTPUT, 1;
	if (!strcmp(name, "encoder.final_layer_norm.weight") || !strcmp(name, "decoder.final_layer_norm.weight"))
		return *role = PB_ROLE_OUT_NORM, 1;
	if ((*layer = block_of(name, enc ? "encoder.block." : "decoder.block.", &rest)) < 0)
		return -1;
	if (!strncmp(rest, "layer.0.", 8))
		return match(t5_attn, rest + 8, role);
	if (!enc && !strcmp(rest, "layer.1.EncDecAttention.relative_attention_bias.weight"))
		return 0;   /* HF ignores it too: cross-attention has no position bias */
	if (!enc && !strncmp(rest, "layer.1.", 8))
		return match(t5_cross, rest + 8, role);
	if (!strncmp(rest, enc ? "layer.1." : "layer.2.", 8))
		return match(t5_ffn, rest + 8, role);
	return -1;
}

static int t5_hparams(struct hf *h, struct pb_model *m, int *tie)
{
	struct pb_hparams *hp = &m->hp;
	const char *ff = hf_cfg_str(h, "feed_forward_proj");
	int rc;
	m->arch = PB_ARCH_T5;
	if ((rc = hf_cfg_int(h, "d_model", 1, 0, 1, 1 << 20, &hp->dim)) < 0 ||
	    (rc = hf_cfg_int(h, "d_kv", 1, 0, 1, 1 << 16, &hp->head_dim)) < 0 ||
	    (rc = hf_cfg_int(h, "d_ff", 1, 0, 1, 1 << 24, &hp->ffn_dim)) < 0 ||
	    (rc = hf_cfg_int(h, "num_layers", 1, 0, 1, 1 << 16, &hp->n_enc_layers)) < 0 ||
	    (rc = hf_cfg_int(h, "num_decoder_layers", 0, hp->n_enc_layers, 1, 1 << 16, &hp->n_layers)) < 0 ||
	    (rc = hf_cfg_int(h, "num_heads", 1, 0, 1, 1 << 16, &hp->n_heads)) < 0 ||
	    (rc = hf_cfg_int(h, "relative_attention_num_buckets", 0, 32, 2, 1 << 16, &hp->rel_buckets)) < 0 ||
	    (rc = hf_cfg_int(h, "relative_attention_max_distance", 0, 128, 1, 1 << 24, &hp->rel_max_distance)) < 0 ||
	    (rc = hf_cfg_float(h, "layer_norm_epsilon", 1e-6, 0, 1, &hp->norm_eps)) < 0 ||
	    (rc = hf_cfg_int(h, "vocab_size", 1, 0, 1, 1 << 24, &hp->vocab)) < 0 ||
	    (rc = hf_cfg_int(h, "n_positions", 0, 512, 1, 1 << 24, &hp->ctx)) < 0 ||
	    (rc = hf_cfg_bool(h, "tie_word_embeddings", 1, tie)) < 0 ||
	    (rc = hf_cfg_int(h, "pad_token_id", 0, 0, -1, hp->vocab - 1, &hp->pad_id)) < 0 ||
	    (rc = hf_cfg_int(h, "eos_token_id", 0, 1, -1, hp->vocab - 1, &hp->eos_id)) < 0 ||
	    (rc = hf_cfg_int(h, "decoder_start_token_id", 0, hp->pad_id >= 0 ? hp->pad_id : 0, 0,
			     hp->vocab - 1, &hp->decoder_start_id)) < 0)
		return rc;
	/* feed_forward_proj: "relu" (v1.0), "gated-gelu" (v1.1, flan), ... */
	const char *act = ff ? ff : "relu";
	hp->ffn_gated = !strncmp(act, "gated-", 6);
	if (hp->ffn_gated)
		act += 6;
	if (!strcmp(act, "relu"))
		hp->ffn_act = PB_ACT_RELU;
	else if (!strcmp(act, "gelu") || !strcmp(act, "gelu_new"))
		hp->ffn_act = PB_ACT_GELU;   /* HF's gated-gelu is gelu_new: the tanh form */
	else if (!strcmp(act, "silu"))
		hp->ffn_act = PB_ACT_SILU;
	else
		return pb_errf(h->err, h->len, -ENOTSUP,
			       "%s: feed_forward_proj '%s' is not supported (relu, gelu, gated-gelu, gated-silu)",
			       h->cfg_path, ff);
	hp->n_kv_heads = hp->n_heads;
	hp->bos_id = -1;
	hp->rope_layout = PB_ROPE_INTERLEAVED;   /* T5 has no RoPE: theta stays 0 */
	hp->logit_scale = 0.0f;   /* 1; the loader sets d_model^-0.5 once it knows the model is tied */
	return 0;
}

static const struct hf_arch archs[] = {
	{ "LlamaForCausalLM", PB_ARCH_LLAMA, llama_map, llama_hparams, 1 },
	{ "Qwen2ForCausalLM", PB_ARCH_QWEN2, qwen2_map, qwen2_hparams, 0 },
	{ "Qwen3ForCausalLM", PB_ARCH_QWEN3, qwen3_map, qwen3_hparams, 0 },
	{ "Gemma2ForCausalLM", PB_ARCH_GEMMA2, gemma2_map, gemma2_hparams, 0 },
	{ "Gemma3ForCausalLM", PB_ARCH_GEMMA3, gemma3_map, gemma3_hparams, 0 },
	{ "Phi3ForCausalLM", PB_ARCH_PHI3, phi3_map, phi3_hparams, 0 },
	{ "T5ForConditionalGeneration", PB_ARCH_T5, t5_map, t5_hparams, 0 },
};

const struct hf_arch *hf_arch_find(struct hf *h)
{
	json_t *list = json_object_get(h->cfg, "architectures");
	const char *name = json_string_value(json_array_get(list, 0));
	const char *type = hf_cfg_str(h, "model_type");
	for (size_t i = 0; i < PB_ARRAY_LEN(archs); i++)
		if (name ? !strcmp(name, archs[i].name)
			 : type && !strncasecmp(type, archs[i].name, strlen(type)))
			return &archs[i];
	pb_errf(h->err, h->len, -ENOTSUP,
		"%s: architecture '%s' is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
		"Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM, T5ForConditionalGeneration)",
		h->cfg_path, name ? name : type ? type : "(none: no 'architectures' or 'model_type')");
	return NULL;
}

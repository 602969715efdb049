/* core/arch/llama.c — the Llama-family decoders as op lists: RMSNorm,
 * RoPE, grouped-query attention with a KV cache, SwiGLU FFN, tied or
 * separate output projection.  The family differs by a few tensors, so
 * one op list serves every member, each tensor's op emitted only where
 * the tensor exists:
 *   llama   Llama 1-3, SmolLM2, Mistral; llama3 RoPE scaling is a global
 *           rope_freqs tensor of frequency divisors handed to every RoPE
 *           op; optional q/k/v biases (llama.cpp's llama loads them too);
 *   qwen2   q/k/v biases added right after the projections;
 *   qwen3   RMSNorm of every q and k head ([head_dim] weights shared by
 *           the heads) before RoPE; head_dim need not be dim / heads;
 *   gemma2  embedding × √dim, GeGLU (tanh GELU), RMSNorm of each
 *           sub-block's output before the residual add (weights already
 *           1 + w), scores scaled by query_pre_attn_scalar^-½ and
 *           soft-capped, a sliding window on every even block, the logits
 *           soft-capped (pb_arch_params, kept with the model);
 *   gemma3  gemma2 without soft-capping, with qwen3's q/k norms, a window
 *           on all but every sixth block and those blocks' own RoPE base;
 *   phi3    llama with rotate-half RoPE and longrope: the RoPE op gets the
 *           rope_factors_long tensor when the run's context exceeds the
 *           original one, else rope_factors_short (llama.cpp's choice), and
 *           the attention factor as mscale.  Its fused attn_qkv / ffn_up
 *           arrive split into q/k/v and gate/up views (core/model/fused.c).
 * Qwen keeps Hugging Face's rotate-half rows (hp.rope_layout), llama the
 * interleaved ones; the RoPE op takes the layout from the model.
 * Every size comes from the tensors of its own layer, so structurally
 * pruned models (fewer heads or FFN neurons in some layers, or whole
 * blocks removed) run unchanged.  The session, the LM head and the
 * shared emitters live in session.c. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch/arch-internal.h"
#include "model/modelio.h"
#include "util/util.h"

#define ROLE_BIT(r) (1ull << (r))
#define BIASES (ROLE_BIT(PB_ROLE_ATTN_Q_BIAS) | ROLE_BIT(PB_ROLE_ATTN_K_BIAS) | \
		ROLE_BIT(PB_ROLE_ATTN_V_BIAS))
#define QK_NORMS (ROLE_BIT(PB_ROLE_ATTN_Q_NORM) | ROLE_BIT(PB_ROLE_ATTN_K_NORM))
#define POST_NORMS (ROLE_BIT(PB_ROLE_ATTN_POST_NORM) | ROLE_BIT(PB_ROLE_FFN_POST_NORM))

/* What each member may carry beyond Llama's tensors (llama.cpp's
 * llama-model.cpp loads exactly these for it) and how it differs. */
static const struct decoder_kind {
	enum pb_arch arch;
	const char *name;
	uint64_t optional;     /* block roles */
	int rope_freqs;        /* a global rope_freqs tensor */
	int act;               /* the FFN gate's activation */
	int gemma;             /* √dim embedding, pb_arch_params (scale, caps, windows) */
	int longrope;          /* rope_factors_short/long tensors, attention factor */
} kinds[] = {
	{ PB_ARCH_LLAMA, "llama", BIASES, 1, PB_ACT_SILU, 0, 0 },
	{ PB_ARCH_QWEN2, "qwen2", BIASES, 0, PB_ACT_SILU, 0, 0 },
	{ PB_ARCH_QWEN3, "qwen3", QK_NORMS, 0, PB_ACT_SILU, 0, 0 },
	{ PB_ARCH_GEMMA2, "gemma2", POST_NORMS, 0, PB_ACT_GELU, 1, 0 },
	{ PB_ARCH_GEMMA3, "gemma3", POST_NORMS | QK_NORMS, 0, PB_ACT_GELU, 1, 0 },
	{ PB_ARCH_PHI3, "phi3", 0, 0, PB_ACT_SILU, 0, 1 },
};

static const struct decoder_kind *kind_of(enum pb_arch a)
{
	for (size_t i = 0; i < PB_ARRAY_LEN(kinds); i++)
		if (kinds[i].arch == a)
			return &kinds[i];
	return NULL;
}

/* A block's optional tensors: only those its architecture has, each
 * costing one op. */
static int block_extras(struct pb_session *s, const struct decoder_kind *k, int l,
			const struct pb_block *b, int *n_ops, char *err, size_t len)
{
	const struct { int idx; enum pb_role role; } opt[] = {
		{ b->q_bias, PB_ROLE_ATTN_Q_BIAS }, { b->k_bias, PB_ROLE_ATTN_K_BIAS },
		{ b->v_bias, PB_ROLE_ATTN_V_BIAS }, { b->q_norm, PB_ROLE_ATTN_Q_NORM },
		{ b->k_norm, PB_ROLE_ATTN_K_NORM }, { b->attn_post_norm, PB_ROLE_ATTN_POST_NORM },
		{ b->ffn_post_norm, PB_ROLE_FFN_POST_NORM },
	};
	*n_ops = 0;
	for (size_t i = 0; i < PB_ARRAY_LEN(opt); i++) {
		if (opt[i].idx < 0)
			continue;
		if (!(k->optional & ROLE_BIT(opt[i].role)))
			return pb_errf(err, len, -EINVAL, "block %d: has %s, which a %s model does not use", l,
				    s->m->tensors[opt[i].idx].name, k->name);
		(*n_ops)++;
	}
	return 0;
}

/* Phi-3's longrope: which factor tensor the RoPE ops get for this run's
 * context (none present: plain RoPE, as llama.cpp runs without them),
 * and the attention factor. */
static int longrope(struct pb_session *s, const struct decoder_kind *k, char *err, size_t len)
{
	const struct pb_hparams *hp = &s->m->hp;
	const struct pb_arch_params *ap = pb_model_arch_params(s->m);
	const int f[2] = { pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_ROPE_FACTORS_SHORT),
			   pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_ROPE_FACTORS_LONG) };
	for (int i = 0; i < 2; i++) {
		if (f[i] < 0)
			continue;
		const struct pb_tensor *t = &s->m->tensors[f[i]];
		if (!k->longrope)
			return pb_errf(err, len, -EINVAL, "%s: has %s, which a %s model does not use",
				    s->m->name, t->name, k->name);
		if (!pb_arch_shaped(s, f[i], hp->head_dim / 2, 1) || t->dtype != PB_F32)
			return pb_errf(err, len, -EINVAL, "%s: %s must be F32 [%d] (head_dim / 2)",
				    s->m->name, t->name, hp->head_dim / 2);
	}
	if (!k->longrope)
		return 0;
	if (ap->rope_orig_ctx < 0 || ap->rope_attn_factor < 0 || !isfinite(ap->rope_attn_factor))
		return pb_errf(err, len, -EINVAL, "%s: bad longrope parameters (original context %d, attention factor %g)",
			    s->m->name, ap->rope_orig_ctx, (double)ap->rope_attn_factor);
	const int orig = ap->rope_orig_ctx > 0 ? ap->rope_orig_ctx : pb_hp_ctx_train(hp);
	s->rope_freqs = hp->ctx > orig ? f[1] : f[0];
	s->rope_mscale = ap->rope_attn_factor;
	return 0;
}

int pb_llama_open(struct pb_session *s, char *err, size_t len)
{
	const struct pb_hparams *hp = &s->m->hp;
	const struct decoder_kind *k = kind_of(s->m->arch);
	int rc;
	if (!k)
		return pb_errf(err, len, -ENOTSUP, "%s: architecture %d is not a Llama-family decoder",
			    s->m->name, (int)s->m->arch);
	if (hp->head_dim < 2 || hp->head_dim % 2)
		return pb_errf(err, len, -EINVAL, "%s: RoPE needs an even head_dim, not %d", s->m->name,
			    hp->head_dim);
	if (hp->rope_layout != PB_ROPE_INTERLEAVED && hp->rope_layout != PB_ROPE_HALF)
		return pb_errf(err, len, -EINVAL, "%s: unknown RoPE layout %d", s->m->name, (int)hp->rope_layout);
	s->embd = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	s->out_norm = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUT_NORM);
	s->output = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUTPUT);
	if (s->output < 0)
		s->output = s->embd;   /* tied embeddings without an output.weight */
	s->rope_freqs = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_ROPE_FREQS);
	if (s->rope_freqs >= 0) {
		const struct pb_tensor *t = &s->m->tensors[s->rope_freqs];
		if (!k->rope_freqs)
			return pb_errf(err, len, -EINVAL, "%s: has %s, which a %s model does not use",
				    s->m->name, t->name, k->name);
		if (!pb_arch_shaped(s, s->rope_freqs, hp->head_dim / 2, 1) || t->dtype != PB_F32)
			return pb_errf(err, len, -EINVAL, "%s: %s must be F32 [%d] (head_dim / 2)",
				    s->m->name, t->name, hp->head_dim / 2);
	}
	if ((rc = longrope(s, k, err, len)) < 0)
		return rc;
	s->dec = calloc((size_t)(s->n_dec ? s->n_dec : 1), sizeof *s->dec);
	if (!s->dec || (rc = pb_arch_buffers(s, PB_SESSION_KV0 + 2 * s->n_dec)) < 0)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", s->m->name);
	s->ffn_act = k->act;
	if (k->gemma) {
		const struct pb_arch_params *ap = pb_model_arch_params(s->m);
		s->embed_scale = sqrtf((float)hp->dim);
		s->final_softcap = ap->final_softcap;
		if (ap->attn_scale < 0 || ap->attn_softcap < 0 || ap->final_softcap < 0 ||
		    ap->sliding_window < 0 || ap->rope_theta_swa < 0)
			return pb_errf(err, len, -EINVAL, "%s: negative Gemma attention parameters", s->m->name);
	}
	s->n_op_max = 0;
	for (int l = 0; l < s->n_dec; l++) {
		struct pb_block *b = &s->dec[l];
		int extra = 0;
		if ((rc = pb_arch_block(s, PB_STACK_DECODER, l, 0, 1, b, err, len)) < 0 ||
		    (rc = block_extras(s, k, l, b, &extra, err, len)) < 0)
			return rc;
		pb_arch_widen(s, b);
		int64_t kv = (int64_t)b->n_kv_heads * hp->head_dim;
		s->sizes[PB_SESSION_KV0 + 2 * l] = s->sizes[PB_SESSION_KV0 + 2 * l + 1] =
			b->attn ? (int64_t)hp->ctx * kv : 1;
		s->n_op_max += 17 + extra;
	}
	return 0;
}

static void rope(struct pb_session *s, int n, int pos0, struct pb_act x, int n_heads, float theta)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_ROPE, n, s->rope_freqs, x, pb_arch_none, pb_arch_none);
	op->p.rope.n_heads = n_heads;
	op->p.rope.head_dim = s->head_dim;
	op->p.rope.pos0 = pos0;
	op->p.rope.layout = s->m->hp.rope_layout;
	op->p.rope.theta = theta;
	op->p.rope.mscale = s->rope_mscale;
}

static void attention_block(struct pb_session *s, int l, int n, int pos0)
{
	const struct pb_block *b = &s->dec[l];
	const int64_t dim = s->dim, hd = s->head_dim;
	const int64_t q = b->n_heads * hd, kv = b->n_kv_heads * hd;
	const int kc = PB_SESSION_KV0 + 2 * l, vc = kc + 1;
	struct pb_act x = pb_arch_act(PB_SESSION_X, 0, dim), xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	struct pb_act qa = pb_arch_act(PB_SESSION_Q, 0, q), ka = pb_arch_act(PB_SESSION_K, 0, kv);
	struct pb_act va = pb_arch_act(PB_SESSION_V, 0, kv), att = pb_arch_act(PB_SESSION_ATT, 0, q);

	pb_arch_rmsnorm(s, n, b->attn_norm, xn, x);
	/* q, k, v one after the other: calibration taps them as one group */
	pb_arch_linear(s, n, b->q, qa, xn);
	pb_arch_linear(s, n, b->k, ka, xn);
	pb_arch_linear(s, n, b->v, va, xn);
	if (b->q_bias >= 0)
		pb_arch_add_bias(s, n, b->q_bias, qa, q);
	if (b->k_bias >= 0)
		pb_arch_add_bias(s, n, b->k_bias, ka, kv);
	if (b->v_bias >= 0)
		pb_arch_add_bias(s, n, b->v_bias, va, kv);
	if (b->q_norm >= 0)
		pb_arch_head_norm(s, n, b->q_norm, PB_SESSION_Q, b->n_heads);
	if (b->k_norm >= 0)
		pb_arch_head_norm(s, n, b->k_norm, PB_SESSION_K, b->n_kv_heads);
	/* Gemma: a sliding layer (by its index, as trained) sees the last
	 * `window` positions and, on Gemma 3, rotates with its own base */
	const struct pb_arch_params *ap = pb_model_arch_params(s->m);
	const int slides = ap->sliding_window > 0 && pb_arch_layer_slides(s->m->arch, l);
	const float theta = slides && ap->rope_theta_swa > 0 ? ap->rope_theta_swa : s->m->hp.rope_theta;
	rope(s, n, pos0, qa, b->n_heads, theta);
	rope(s, n, pos0, ka, b->n_kv_heads, theta);
	pb_arch_kv_store(s, n, pos0, kc, ka, kv);
	pb_arch_kv_store(s, n, pos0, vc, va, kv);
	struct pb_op *op = pb_arch_attention(s, n, att, qa, pb_arch_act(kc, 0, kv),
					     pb_arch_act(vc, 0, kv), b->n_heads, b->n_kv_heads);
	op->p.attention.pos0 = pos0;
	op->p.attention.n_kv = pos0 + n;
	op->p.attention.causal = 1;
	op->p.attention.scale = ap->attn_scale > 0 ? ap->attn_scale : (float)(1.0 / sqrt((double)hd));
	op->p.attention.softcap = ap->attn_softcap;
	op->p.attention.window = slides ? ap->sliding_window : 0;
	pb_arch_linear(s, n, b->o, xn, att);
	if (b->attn_post_norm >= 0)
		pb_arch_rmsnorm(s, n, b->attn_post_norm, xn, xn);
	pb_arch_add(s, n, x, xn);
}

void pb_llama_block(struct pb_session *s, int l, int n, int pos0)
{
	if (s->dec[l].attn)
		attention_block(s, l, n, pos0);
	if (s->dec[l].ffn)
		pb_arch_ffn(s, &s->dec[l], n, 1, s->ffn_act);
}

void pb_llama_body(struct pb_session *s, int n, int pos0)
{
	pb_arch_embed(s, n);
	for (int l = 0; l < s->n_dec; l++)
		pb_llama_block(s, l, n, pos0);
}

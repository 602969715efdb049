/* core/arch/arch-internal.h — what the architecture files share behind
 * arch.h: the session, its blocks, and the op emitters (blocks.c) that
 * llama.c and t5.c build their op lists from.  Nobody outside core/arch
 * includes this. */
#ifndef PB_ARCH_INTERNAL_H
#define PB_ARCH_INTERNAL_H

#include <stdint.h>

#include "arch/arch.h"

/* One block of one stack, as its tensors say (indices into m->tensors,
 * -1 when absent).  A sub-block whose tensors are all absent is skipped. */
struct pb_block {
	int attn;                           /* has self-attention */
	int attn_norm, q, k, v, o;
	int n_heads, n_kv_heads;
	int bias;                           /* T5: index into pb_session.rel, -1 none */
	int cross;                          /* has cross-attention (T5 decoder) */
	int cross_norm, cq, ck, cv, co;
	int cn_heads, cn_kv_heads;
	int ffn;                            /* has an FFN */
	int ffn_norm, gate, up, down;       /* gate -1 for an ungated FFN */
	int ffn_dim;
	/* optional, -1 when absent (which ones an architecture may carry is
	 * llama.c's to check) */
	int q_bias, k_bias, v_bias;         /* Qwen2: added after the projections */
	int q_norm, k_norm;                 /* Qwen3: RMSNorm of each q and k head */
	int attn_post_norm, ffn_post_norm;  /* Gemma 2/3: RMSNorm of each sub-block's output */
};

/* T5: one distinct relative-position bias tensor, and the buffer its
 * [n_heads × n_tokens × n_kv] bias is written into once per step. */
struct pb_rel {
	int tensor;
	int buf;
	int n_heads;
	int bidirectional;                  /* encoder: 1, decoder: 0 */
};

#define PB_REL_MAX 64

struct pb_session {
	const struct pb_model *m;
	const struct pb_backend_ops *ops;
	void *bs;
	int seq2seq;
	int dim, head_dim, vocab, ctx;
	int n_dec, n_enc;                   /* blocks per stack (n_enc 0: decoder-only) */
	struct pb_block *dec, *enc;
	int embd, out_norm, output, enc_norm;
	int rope_freqs;                     /* llama3 scaling's divisors, Phi-3's longrope factors; -1 none */
	float rope_mscale;                  /* Phi-3: multiplies RoPE's cos and sin; 0: 1 */
	float embed_scale;                  /* Gemma: √dim; 0: none */
	float final_softcap;                /* Gemma 2: the logits' soft cap; 0: none */
	float logit_scale;                  /* applied by the final norm; 1 = none */
	int ffn_act, ffn_gated;
	int64_t max_q, max_kv, max_ffn;     /* widest layer, over every stack */
	int logit_rows;                     /* rows the LOGITS buffer holds */
	int n_buf;
	int64_t *sizes;                     /* n_buf buffer sizes, in floats */
	int cross0;                         /* T5: first cross K buffer */
	struct pb_rel rel[PB_REL_MAX];
	int n_rel;
	int n_buckets, max_distance;
	int *bucket_bi, *bucket_causal;     /* T5: bucket of relative position r at [r + ctx - 1] */
	float *bias_host;                   /* T5: one head's bias rows, ctx × ctx */
	float *rel_host;                    /* T5: one rel-bias tensor as F32 */
	int n_src;                          /* T5: encoded source tokens, 0 = none yet */
	unsigned n_steps;                   /* graphs run (encode, steps, blocks) */
	unsigned xn_step;                   /* T5: the step whose XN holds the encoder output */
	struct pb_op *op;
	int n_op_max;
	struct pb_graph g;
};

/* Architecture hooks: fill blocks, global tensors, buffer sizes and
 * n_op_max (session.c allocates), then build one step's ops. */
int pb_llama_open(struct pb_session *s, char *err, size_t len);
void pb_llama_body(struct pb_session *s, int n, int pos0);
void pb_llama_block(struct pb_session *s, int l, int n, int pos0);
int pb_t5_open(struct pb_session *s, char *err, size_t len);
int pb_t5_body(struct pb_session *s, int n, int pos0);
int pb_t5_encode(struct pb_session *s, const int32_t *tokens, int n);
int pb_t5_block(struct pb_session *s, enum pb_stack stack, int l, int n);
int pb_t5_encoder_out(struct pb_session *s, float *out);

/* ---- shared by the architectures (blocks.c) ---- */

int pb_arch_idx(const struct pb_session *s, enum pb_stack stack, int layer, enum pb_role role);
/* Is tensor i a [ne0 × ne1] matrix (ne1 == 1: a vector)? */
int pb_arch_shaped(const struct pb_session *s, int i, int64_t ne0, int64_t ne1);
/* Find and check the attention, cross-attention and FFN tensors of block
 * l of a stack (want_cross: T5 decoder; gated: FFN has a gate), and the
 * shapes of its optional biases and norms. */
int pb_arch_block(struct pb_session *s, enum pb_stack stack, int l, int want_cross, int gated,
		  struct pb_block *b, char *err, size_t len);
/* Widen max_q/max_kv/max_ffn to cover b. */
void pb_arch_widen(struct pb_session *s, const struct pb_block *b);
/* Grow sizes[] to n buffers (new ones 0); 0 or -ENOMEM. */
int pb_arch_buffers(struct pb_session *s, int n);

struct pb_act pb_arch_act(int buf, int64_t off, int64_t stride);
extern const struct pb_act pb_arch_none;
struct pb_op *pb_arch_emit(struct pb_session *s, enum pb_op_type type, int n, int weight,
			   struct pb_act dst, struct pb_act a, struct pb_act b);
void pb_arch_embed(struct pb_session *s, int n);
void pb_arch_linear(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src);
void pb_arch_rmsnorm(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src);
/* RMSNorm of each head_dim-wide head of n rows of `heads` heads, packed
 * in buffer buf, in place (w: [head_dim]). */
void pb_arch_head_norm(struct pb_session *s, int n, int w, int buf, int heads);
/* rows of dst += the [width] vector w */
void pb_arch_add_bias(struct pb_session *s, int n, int w, struct pb_act dst, int64_t width);
void pb_arch_add(struct pb_session *s, int n, struct pb_act dst, struct pb_act b);
void pb_arch_kv_store(struct pb_session *s, int n, int pos0, int cache, struct pb_act src,
		      int64_t width);
struct pb_op *pb_arch_attention(struct pb_session *s, int n, struct pb_act dst, struct pb_act q,
				struct pb_act k, struct pb_act v, int n_heads, int n_kv_heads);
/* norm → gate/up → act → down (→ Gemma's post-norm) → residual add; act
 * and gating as given */
void pb_arch_ffn(struct pb_session *s, const struct pb_block *b, int n, int gated, int fn);

#endif

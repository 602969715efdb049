/* core/arch/llama.c — the Llama decoder as op lists: RMSNorm, RoPE,
 * grouped-query attention with a KV cache, SwiGLU FFN, tied or separate
 * output projection.  Every size comes from the tensors of its own layer,
 * so structurally pruned models (fewer heads or FFN neurons in some
 * layers, or whole blocks removed) run unchanged.  The session, the LM
 * head and the shared emitters live in session.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "arch/arch-internal.h"
#include "util/util.h"

int pb_llama_open(struct pb_session *s, char *err, size_t len)
{
	const struct pb_hparams *hp = &s->m->hp;
	int rc;
	if (hp->head_dim < 2 || hp->head_dim % 2)
		return pb_errf(err, len, -EINVAL, "%s: RoPE needs an even head_dim, not %d", s->m->name,
			    hp->head_dim);
	s->embd = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	s->out_norm = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUT_NORM);
	s->output = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUTPUT);
	if (s->output < 0)
		s->output = s->embd;   /* tied embeddings without an output.weight */
	s->dec = calloc((size_t)(s->n_dec ? s->n_dec : 1), sizeof *s->dec);
	if (!s->dec || (rc = pb_arch_buffers(s, PB_SESSION_KV0 + 2 * s->n_dec)) < 0)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", s->m->name);
	for (int l = 0; l < s->n_dec; l++) {
		struct pb_block *b = &s->dec[l];
		if ((rc = pb_arch_block(s, PB_STACK_DECODER, l, 0, 1, b, err, len)) < 0)
			return rc;
		pb_arch_widen(s, b);
		int64_t kv = (int64_t)b->n_kv_heads * hp->head_dim;
		s->sizes[PB_SESSION_KV0 + 2 * l] = s->sizes[PB_SESSION_KV0 + 2 * l + 1] =
			b->attn ? (int64_t)hp->ctx * kv : 1;
	}
	s->n_op_max = 17 * s->n_dec;
	return 0;
}

static void rope(struct pb_session *s, int n, int pos0, struct pb_act x, int n_heads)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_ROPE, n, -1, x, pb_arch_none, pb_arch_none);
	op->p.rope.n_heads = n_heads;
	op->p.rope.head_dim = s->head_dim;
	op->p.rope.pos0 = pos0;
	op->p.rope.layout = s->m->hp.rope_layout;
	op->p.rope.theta = s->m->hp.rope_theta;
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
	pb_arch_linear(s, n, b->q, qa, xn);
	pb_arch_linear(s, n, b->k, ka, xn);
	pb_arch_linear(s, n, b->v, va, xn);
	rope(s, n, pos0, qa, b->n_heads);
	rope(s, n, pos0, ka, b->n_kv_heads);
	pb_arch_kv_store(s, n, pos0, kc, ka, kv);
	pb_arch_kv_store(s, n, pos0, vc, va, kv);
	struct pb_op *op = pb_arch_attention(s, n, att, qa, pb_arch_act(kc, 0, kv),
					     pb_arch_act(vc, 0, kv), b->n_heads, b->n_kv_heads);
	op->p.attention.pos0 = pos0;
	op->p.attention.n_kv = pos0 + n;
	op->p.attention.causal = 1;
	op->p.attention.scale = (float)(1.0 / sqrt((double)hd));
	pb_arch_linear(s, n, b->o, xn, att);
	pb_arch_add(s, n, x, xn);
}

void pb_llama_block(struct pb_session *s, int l, int n, int pos0)
{
	if (s->dec[l].attn)
		attention_block(s, l, n, pos0);
	if (s->dec[l].ffn)
		pb_arch_ffn(s, &s->dec[l], n, 1, PB_ACT_SILU);
}

void pb_llama_body(struct pb_session *s, int n, int pos0)
{
	pb_arch_embed(s, n);
	for (int l = 0; l < s->n_dec; l++)
		pb_llama_block(s, l, n, pos0);
}

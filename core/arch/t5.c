/* core/arch/t5.c — T5 (v1.0 and v1.1/FLAN) as op lists.
 *
 * Encoder: RMS norm (no mean, no bias) → self-attention with a bucketed
 * relative-position bias and no 1/sqrt(d) scaling (T5 folds it into the
 * weights) → residual; RMS norm → FFN (ReLU: act(wi); gated-GELU:
 * gelu(wi_0) * wi_1) → wo → residual; a final norm.  Decoder: the same
 * with causal self-attention over a KV cache, plus cross-attention after
 * it, whose K/V come from the final encoder output and are computed once
 * per request (pb_session_encode) into per-layer buffers.  The LM head is
 * the decoder's final norm, scaled by hp.logit_scale (d_model^-0.5 when
 * the head is the tied embedding), then output.weight or the embedding.
 *
 * The relative-position bias is a gather from a [n_buckets × n_heads]
 * table no op expresses, so the session computes it on the host once per
 * step per stack (as HF computes it in layer 0 and passes it on) and
 * writes it with buffer_write; every layer of the stack reads that one
 * buffer.  A block with its own PB_ROLE_ATTN_REL_BIAS tensor (a head
 * pruner that kept different heads per layer must give it one) gets its
 * own buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch-internal.h"
#include "model/modelio.h"
#include "util/util.h"

/* Ops per block, for sizing the op array. */
#define ENC_BLOCK_OPS 13   /* norm, q, k, v, attention, o, add; norm, gate, up, glu, down, add */
#define DEC_BLOCK_OPS 20   /* + self kv stores, and norm, q, attention, o, add of cross */

/* HF T5Attention._relative_position_bucket, in float32 as torch runs it:
 * the log-spaced buckets are truncations of a float expression, and
 * exact-integer cases (relative position 64 of 8..128) land where
 * float32 puts them. */
int pb_t5_bucket(int rel, int bidirectional, int n_buckets, int max_distance)
{
	int bucket = 0, n = n_buckets;
	if (bidirectional) {
		n /= 2;
		if (rel > 0)
			bucket += n;
		rel = rel < 0 ? -rel : rel;
	} else {
		rel = rel < 0 ? -rel : 0;   /* only the past has distinct buckets */
	}
	const int max_exact = n / 2;
	if (rel < max_exact || max_exact < 1)
		return bucket + (rel < n - 1 ? rel : n - 1);
	float x = logf((float)rel / (float)max_exact) /
		  (float)log((double)max_distance / (double)max_exact) * (float)(n - max_exact);
	long large = max_exact + (long)x;
	return bucket + (int)(large < n - 1 ? large : n - 1);
}

/* Which rel entry (added when new) tensor t is; -1 when the table is full. */
static int rel_slot(struct pb_session *s, int t, int n_heads, int bidirectional)
{
	for (int i = 0; i < s->n_rel; i++)
		if (s->rel[i].tensor == t)
			return i;
	if (s->n_rel == PB_REL_MAX)
		return -1;
	s->rel[s->n_rel] = (struct pb_rel){ .tensor = t, .buf = -1, .n_heads = n_heads,
					    .bidirectional = bidirectional };
	return s->n_rel++;
}

static int open_stack(struct pb_session *s, enum pb_stack stack, struct pb_block *blocks, int n,
		      char *err, size_t len)
{
	const struct pb_tensor *T = s->m->tensors;
	const char *what = stack == PB_STACK_ENCODER ? "encoder" : "decoder";
	int rc;
	for (int l = 0; l < n; l++) {
		struct pb_block *b = &blocks[l];
		rc = pb_arch_block(s, stack, l, stack == PB_STACK_DECODER, s->ffn_gated, b, err, len);
		if (rc < 0)
			return rc;
		pb_arch_widen(s, b);
		if (!b->attn)
			continue;
		/* the stack's table lives at layer 0; a block may have its own */
		int t = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_REL_BIAS);
		if (t < 0)
			t = pb_arch_idx(s, stack, 0, PB_ROLE_ATTN_REL_BIAS);
		if (t < 0)
			return pb_errf(err, len, -EINVAL, "%s: the %s has no relative attention bias (layer 0)",
				    s->m->name, what);
		if (!pb_arch_shaped(s, t, b->n_heads, s->n_buckets))
			return pb_errf(err, len, -EINVAL,
				    "%s block %d: relative attention bias '%s' is [%lld × %lld], expected [%d heads × %d buckets]%s",
				    what, l, T[t].name, (long long)T[t].ne[0], (long long)T[t].ne[1],
				    b->n_heads, s->n_buckets,
				    T[t].ne[0] != b->n_heads ? " (a block whose heads were pruned needs its own bias tensor)" : "");
		if ((b->bias = rel_slot(s, t, b->n_heads, stack == PB_STACK_ENCODER)) < 0)
			return pb_errf(err, len, -EINVAL, "%s: more than %d relative bias tensors",
				    s->m->name, PB_REL_MAX);
	}
	return 0;
}

int pb_t5_open(struct pb_session *s, char *err, size_t len)
{
	const struct pb_hparams *hp = &s->m->hp;
	const char *name = s->m->name;
	int rc;
	s->seq2seq = 1;
	s->n_enc = hp->n_enc_layers;
	s->ffn_act = hp->ffn_act;
	s->ffn_gated = hp->ffn_gated != 0;
	s->n_buckets = hp->rel_buckets;
	s->max_distance = hp->rel_max_distance ? hp->rel_max_distance : 128;
	if (s->ffn_act < PB_ACT_SILU || s->ffn_act > PB_ACT_RELU)
		return pb_errf(err, len, -EINVAL, "%s: unknown FFN activation %d", name, s->ffn_act);
	if (s->n_buckets < 4 || s->n_buckets > 4096 || s->max_distance <= s->n_buckets / 4)
		return pb_errf(err, len, -EINVAL, "%s: relative attention needs >= 4 buckets (%d) and a max distance beyond the exact ones (%d)",
			    name, s->n_buckets, s->max_distance);
	if (!s->ops->buffer_write)
		return pb_errf(err, len, -ENOTSUP, "%s: the backend cannot write buffers, which T5's relative position bias needs",
			    name);
	s->embd = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	if (s->embd < 0)
		s->embd = pb_arch_idx(s, PB_STACK_ENCODER, -1, PB_ROLE_TOK_EMBD);
	s->out_norm = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUT_NORM);
	s->enc_norm = pb_arch_idx(s, PB_STACK_ENCODER, -1, PB_ROLE_OUT_NORM);
	s->output = pb_arch_idx(s, PB_STACK_DECODER, -1, PB_ROLE_OUTPUT);
	if (s->output < 0)
		s->output = s->embd;   /* tied: hp.logit_scale rescales */
	if (s->enc_norm < 0 || !pb_arch_shaped(s, s->enc_norm, s->dim, 1))
		return pb_errf(err, len, -EINVAL, "%s: the encoder's final norm must be [%d]", name, s->dim);

	s->dec = calloc((size_t)(s->n_dec ? s->n_dec : 1), sizeof *s->dec);
	s->enc = calloc((size_t)(s->n_enc ? s->n_enc : 1), sizeof *s->enc);
	if (!s->dec || !s->enc)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", name);
	if ((rc = open_stack(s, PB_STACK_ENCODER, s->enc, s->n_enc, err, len)) < 0 ||
	    (rc = open_stack(s, PB_STACK_DECODER, s->dec, s->n_dec, err, len)) < 0)
		return rc;

	/* buffers: decoder self K/V caches, cross K/V, one bias per rel tensor */
	const int64_t ctx = s->ctx, hd = s->head_dim;
	s->cross0 = PB_SESSION_KV0 + 2 * s->n_dec;
	if (pb_arch_buffers(s, s->cross0 + 2 * s->n_dec + s->n_rel) < 0)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", name);
	int hmax = 1;
	for (int l = 0; l < s->n_dec; l++) {
		const struct pb_block *b = &s->dec[l];
		s->sizes[PB_SESSION_KV0 + 2 * l] = s->sizes[PB_SESSION_KV0 + 2 * l + 1] =
			b->attn ? ctx * b->n_kv_heads * hd : 1;
		s->sizes[s->cross0 + 2 * l] = s->sizes[s->cross0 + 2 * l + 1] =
			b->cross ? ctx * b->cn_kv_heads * hd : 1;
	}
	for (int i = 0; i < s->n_rel; i++) {
		s->rel[i].buf = s->cross0 + 2 * s->n_dec + i;
		s->sizes[s->rel[i].buf] = (int64_t)s->rel[i].n_heads * ctx * ctx;
		hmax = s->rel[i].n_heads > hmax ? s->rel[i].n_heads : hmax;
	}
	s->bucket_bi = malloc((size_t)(2 * ctx - 1) * sizeof *s->bucket_bi);
	s->bucket_causal = malloc((size_t)(2 * ctx - 1) * sizeof *s->bucket_causal);
	s->bias_host = malloc((size_t)(ctx * ctx) * sizeof *s->bias_host);
	s->rel_host = malloc((size_t)s->n_buckets * (size_t)hmax * sizeof *s->rel_host);
	if (!s->bucket_bi || !s->bucket_causal || !s->bias_host || !s->rel_host)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", name);
	for (int64_t r = -(ctx - 1); r < ctx; r++) {
		s->bucket_bi[r + ctx - 1] = pb_t5_bucket((int)r, 1, s->n_buckets, s->max_distance);
		s->bucket_causal[r + ctx - 1] = pb_t5_bucket((int)r, 0, s->n_buckets, s->max_distance);
	}
	int enc_ops = ENC_BLOCK_OPS * s->n_enc + 1 + 2 * s->n_dec;
	int dec_ops = DEC_BLOCK_OPS * s->n_dec;
	s->n_op_max = enc_ops > dec_ops ? enc_ops : dec_ops;
	return 0;
}

/* Write the bias of every rel tensor of one stack for queries at
 * positions pos0..pos0+n-1 over keys 0..n_kv-1: head h, query t, key j
 * at float (h * n + t) * n_kv + j (ops.h). */
static int write_bias(struct pb_session *s, int bidirectional, int n, int pos0, int n_kv)
{
	const int *bk = bidirectional ? s->bucket_bi : s->bucket_causal;
	const int64_t ctx = s->ctx, plane = (int64_t)n * n_kv;
	for (int i = 0; i < s->n_rel; i++) {
		const struct pb_rel *r = &s->rel[i];
		if (r->bidirectional != bidirectional)
			continue;
		const struct pb_tensor *t = &s->m->tensors[r->tensor];
		const int nh = r->n_heads;
		int rc;
		for (int b = 0; b < s->n_buckets; b++)
			if ((rc = pb_tensor_row_f32(t, b, s->rel_host + (size_t)b * nh)) < 0)
				return rc;
		for (int h = 0; h < nh; h++) {
			for (int64_t q = 0; q < n; q++) {
				const int *row = bk + (ctx - 1) - (pos0 + q);   /* row[j]: bucket of j - (pos0 + q) */
				float *dst = s->bias_host + q * n_kv;
				for (int64_t j = 0; j < n_kv; j++)
					dst[j] = s->rel_host[(size_t)row[j] * nh + h];
			}
			rc = s->ops->buffer_write(s->bs, r->buf, h * plane, plane, s->bias_host);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Self-attention of an encoder block (cache 0: K/V straight from the
 * step's buffers, every key visible) or a decoder block (KV cache, causal). */
static void self_attention(struct pb_session *s, const struct pb_block *b, int n, int pos0,
			   int cache)
{
	const int64_t dim = s->dim, hd = s->head_dim;
	const int64_t q = b->n_heads * hd, kv = b->n_kv_heads * hd;
	struct pb_act x = pb_arch_act(PB_SESSION_X, 0, dim), xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	struct pb_act qa = pb_arch_act(PB_SESSION_Q, 0, q), ka = pb_arch_act(PB_SESSION_K, 0, kv);
	struct pb_act va = pb_arch_act(PB_SESSION_V, 0, kv), att = pb_arch_act(PB_SESSION_ATT, 0, q);
	const int n_kv = pos0 + n;

	pb_arch_rmsnorm(s, n, b->attn_norm, xn, x);
	pb_arch_linear(s, n, b->q, qa, xn);
	pb_arch_linear(s, n, b->k, ka, xn);
	pb_arch_linear(s, n, b->v, va, xn);
	if (cache >= 0) {
		pb_arch_kv_store(s, n, pos0, cache, ka, kv);
		pb_arch_kv_store(s, n, pos0, cache + 1, va, kv);
		ka = pb_arch_act(cache, 0, kv);
		va = pb_arch_act(cache + 1, 0, kv);
	}
	struct pb_op *op = pb_arch_attention(s, n, att, qa, ka, va, b->n_heads, b->n_kv_heads);
	op->p.attention.pos0 = pos0;
	op->p.attention.n_kv = n_kv;
	op->p.attention.causal = cache >= 0;
	op->p.attention.bias = pb_arch_act(s->rel[b->bias].buf, 0, n_kv);
	pb_arch_linear(s, n, b->o, xn, att);
	pb_arch_add(s, n, x, xn);
}

static void cross_attention(struct pb_session *s, const struct pb_block *b, int l, int n)
{
	const int64_t dim = s->dim, hd = s->head_dim;
	const int64_t q = b->cn_heads * hd, kv = b->cn_kv_heads * hd;
	const int kc = s->cross0 + 2 * l;
	struct pb_act x = pb_arch_act(PB_SESSION_X, 0, dim), xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	struct pb_act qa = pb_arch_act(PB_SESSION_Q, 0, q), att = pb_arch_act(PB_SESSION_ATT, 0, q);

	pb_arch_rmsnorm(s, n, b->cross_norm, xn, x);
	pb_arch_linear(s, n, b->cq, qa, xn);
	struct pb_op *op = pb_arch_attention(s, n, att, qa, pb_arch_act(kc, 0, kv),
					     pb_arch_act(kc + 1, 0, kv), b->cn_heads, b->cn_kv_heads);
	op->p.attention.n_kv = s->n_src;   /* every source token, no position bias */
	pb_arch_linear(s, n, b->co, xn, att);
	pb_arch_add(s, n, x, xn);
}

int pb_t5_body(struct pb_session *s, int n, int pos0)
{
	if (!s->n_src)
		return -EINVAL;   /* nothing encoded: pb_session_encode first */
	int rc = write_bias(s, 0, n, pos0, pos0 + n);
	if (rc < 0)
		return rc;
	pb_arch_embed(s, n);
	for (int l = 0; l < s->n_dec; l++) {
		const struct pb_block *b = &s->dec[l];
		if (b->attn)
			self_attention(s, b, n, pos0, PB_SESSION_KV0 + 2 * l);
		if (b->cross)
			cross_attention(s, b, l, n);
		if (b->ffn)
			pb_arch_ffn(s, b, n, s->ffn_gated, s->ffn_act);
	}
	return 0;
}

/* One block of a stack over n rows at positions 0..n-1 (calibration):
 * the stack's position bias for those rows, then the block's ops. */
int pb_t5_block(struct pb_session *s, enum pb_stack stack, int l, int n)
{
	const int enc = stack == PB_STACK_ENCODER;
	const struct pb_block *b = enc ? &s->enc[l] : &s->dec[l];
	int rc;
	if (!enc && !s->n_src)
		return -EINVAL;
	if ((rc = write_bias(s, enc, n, 0, n)) < 0)
		return rc;
	if (b->attn)
		self_attention(s, b, n, 0, enc ? -1 : PB_SESSION_KV0 + 2 * l);
	if (b->cross)
		cross_attention(s, b, l, n);
	if (b->ffn)
		pb_arch_ffn(s, b, n, s->ffn_gated, s->ffn_act);
	return 0;
}

int pb_t5_encoder_out(struct pb_session *s, float *out)
{
	/* pb_t5_encode leaves the normed encoder output in XN (the cross K/V
	 * linears read it there) until the next decoder step overwrites it */
	if (!s->n_src || s->xn_step != s->n_steps)
		return -EINVAL;
	int rc = s->ops->buffer_read(s->bs, PB_SESSION_XN, 0, (int64_t)s->n_src * s->dim, out);
	return rc < 0 ? rc : s->n_src;
}

int pb_t5_encode(struct pb_session *s, const int32_t *tokens, int n)
{
	const int64_t dim = s->dim;
	float sync;
	int rc;
	s->n_src = 0;
	if (!tokens || n < 1 || n > s->ctx)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return -EINVAL;
	if ((rc = write_bias(s, 1, n, 0, n)) < 0)
		return rc;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	pb_arch_embed(s, n);
	for (int l = 0; l < s->n_enc; l++) {
		const struct pb_block *b = &s->enc[l];
		if (b->attn)
			self_attention(s, b, n, 0, -1);
		if (b->ffn)
			pb_arch_ffn(s, b, n, s->ffn_gated, s->ffn_act);
	}
	struct pb_act xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	pb_arch_rmsnorm(s, n, s->enc_norm, xn, pb_arch_act(PB_SESSION_X, 0, dim));
	for (int l = 0; l < s->n_dec; l++) {
		const struct pb_block *b = &s->dec[l];
		const int64_t kv = (int64_t)b->cn_kv_heads * s->head_dim;
		if (!b->cross)
			continue;
		pb_arch_linear(s, n, b->ck, pb_arch_act(s->cross0 + 2 * l, 0, kv), xn);
		pb_arch_linear(s, n, b->cv, pb_arch_act(s->cross0 + 2 * l + 1, 0, kv), xn);
	}
	if ((rc = s->ops->graph_compute(s->bs, &s->g)) < 0)
		return rc;
	/* one value back: the encoder has finished when we return (encode_ms) */
	if ((rc = s->ops->buffer_read(s->bs, PB_SESSION_XN, 0, 1, &sync)) < 0)
		return rc;
	s->n_src = n;
	s->xn_step = ++s->n_steps;
	return 0;
}

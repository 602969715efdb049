/* core/arch/blocks.c — what the architecture files (llama.c, t5.c) share
 * to build a step: finding and checking a block's tensors (shapes,
 * optional biases and norms), sizing the session's buffers, and the op
 * emitters that append one op to the step's list (declared in
 * arch-internal.h).  Running a step and reading logits back is session.c's
 * job. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch-internal.h"
#include "util/util.h"

int pb_arch_idx(const struct pb_session *s, enum pb_stack stack, int layer, enum pb_role role)
{
	const struct pb_tensor *t = pb_model_find_in(s->m, stack, layer, role);
	return t ? (int)(t - s->m->tensors) : -1;
}

int pb_arch_shaped(const struct pb_session *s, int i, int64_t ne0, int64_t ne1)
{
	const struct pb_tensor *t = &s->m->tensors[i];
	return t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1;
}

static const char *stack_name(enum pb_stack stack)
{
	return stack == PB_STACK_ENCODER ? "encoder " : "";
}

/* Heads of an attention (self or cross) from q/k/v/o, checked. */
static int attn_shapes(struct pb_session *s, enum pb_stack stack, int l, const char *what,
		       int q, int k, int v, int o, int *nh, int *nkv, char *err, size_t len)
{
	const struct pb_tensor *T = s->m->tensors;
	const int64_t dim = s->dim, hd = s->head_dim;
	*nh = (int)(T[q].ne[1] / hd);
	*nkv = (int)(T[k].ne[1] / hd);
	const int64_t qw = (int64_t)*nh * hd, kw = (int64_t)*nkv * hd;
	if (!pb_arch_shaped(s, q, dim, qw) || !pb_arch_shaped(s, k, dim, kw) ||
	    !pb_arch_shaped(s, v, dim, kw) || !pb_arch_shaped(s, o, qw, dim) || *nh < 1 ||
	    *nkv < 1 || *nh % *nkv)
		return pb_errf(err, len, -EINVAL,
			    "%sblock %d: %s shapes disagree (q %lldx%lld, k %lldx%lld, v %lldx%lld, o %lldx%lld; head_dim %d)",
			    stack_name(stack), l, what, (long long)T[q].ne[0], (long long)T[q].ne[1],
			    (long long)T[k].ne[0], (long long)T[k].ne[1], (long long)T[v].ne[0],
			    (long long)T[v].ne[1], (long long)T[o].ne[0], (long long)T[o].ne[1],
			    s->head_dim);
	return 0;
}

/* How many of ids[0..n) are present: all or none is fine, some is not. */
static int present(const int *ids, int n, int *all)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += ids[i] >= 0;
	*all = k == n;
	return k == 0 || k == n;
}

/* The biases and norms a block may carry, each checked against the
 * widths of its own layer (biases shrink with pruned heads; q/k norms are
 * one [head_dim] vector shared by every head, so they never do). */
static int optional_tensors(struct pb_session *s, enum pb_stack stack, int l, struct pb_block *b,
			    char *err, size_t len)
{
	const int64_t hd = s->head_dim, q = (int64_t)b->n_heads * hd, kv = (int64_t)b->n_kv_heads * hd;
	const struct { int *idx; enum pb_role role; int64_t width; int needs_attn; } opt[] = {
		{ &b->q_bias, PB_ROLE_ATTN_Q_BIAS, q, 1 },
		{ &b->k_bias, PB_ROLE_ATTN_K_BIAS, kv, 1 },
		{ &b->v_bias, PB_ROLE_ATTN_V_BIAS, kv, 1 },
		{ &b->q_norm, PB_ROLE_ATTN_Q_NORM, hd, 1 },
		{ &b->k_norm, PB_ROLE_ATTN_K_NORM, hd, 1 },
		{ &b->attn_post_norm, PB_ROLE_ATTN_POST_NORM, s->dim, 1 },
		{ &b->ffn_post_norm, PB_ROLE_FFN_POST_NORM, s->dim, 0 },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(opt); i++) {
		int k = *opt[i].idx = pb_arch_idx(s, stack, l, opt[i].role);
		if (k < 0)
			continue;
		const struct pb_tensor *t = &s->m->tensors[k];
		if (!(opt[i].needs_attn ? b->attn : b->ffn))
			return pb_errf(err, len, -EINVAL, "%sblock %d: has %s but no %s", stack_name(stack), l,
				    t->name, opt[i].needs_attn ? "attention" : "FFN");
		if (!pb_arch_shaped(s, k, opt[i].width, 1) || t->dtype != PB_F32)
			return pb_errf(err, len, -EINVAL, "%sblock %d: %s is %s [%lld × %lld], expected F32 [%lld]",
				    stack_name(stack), l, t->name, pb_dtype_name(t->dtype),
				    (long long)t->ne[0], (long long)t->ne[1], (long long)opt[i].width);
	}
	return 0;
}

int pb_arch_block(struct pb_session *s, enum pb_stack stack, int l, int want_cross, int gated,
		  struct pb_block *b, char *err, size_t len)
{
	const struct pb_tensor *T = s->m->tensors;
	const int64_t dim = s->dim;
	int rc;
	memset(b, 0, sizeof *b);
	b->bias = -1;
	int a[5] = { b->attn_norm = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_NORM),
		     b->q = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_Q),
		     b->k = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_K),
		     b->v = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_V),
		     b->o = pb_arch_idx(s, stack, l, PB_ROLE_ATTN_O) };
	int c[5] = { b->cross_norm = pb_arch_idx(s, stack, l, PB_ROLE_CROSS_NORM),
		     b->cq = pb_arch_idx(s, stack, l, PB_ROLE_CROSS_Q),
		     b->ck = pb_arch_idx(s, stack, l, PB_ROLE_CROSS_K),
		     b->cv = pb_arch_idx(s, stack, l, PB_ROLE_CROSS_V),
		     b->co = pb_arch_idx(s, stack, l, PB_ROLE_CROSS_O) };
	int f[4] = { b->ffn_norm = pb_arch_idx(s, stack, l, PB_ROLE_FFN_NORM),
		     b->up = pb_arch_idx(s, stack, l, PB_ROLE_FFN_UP),
		     b->down = pb_arch_idx(s, stack, l, PB_ROLE_FFN_DOWN),
		     b->gate = pb_arch_idx(s, stack, l, PB_ROLE_FFN_GATE) };
	if (!present(a, 5, &b->attn))
		return pb_errf(err, len, -EINVAL, "%sblock %d: only some of its attention tensors are present",
			    stack_name(stack), l);
	if (!present(c, 5, &b->cross) || (b->cross && !want_cross))
		return pb_errf(err, len, -EINVAL, "%sblock %d: %s", stack_name(stack), l,
			    want_cross ? "only some of its cross-attention tensors are present"
				       : "has cross-attention tensors, which this stack cannot use");
	if (!gated && b->gate >= 0)
		return pb_errf(err, len, -EINVAL, "%sblock %d: has an FFN gate but the model's FFN is not gated",
			    stack_name(stack), l);
	if (!present(f, gated ? 4 : 3, &b->ffn))
		return pb_errf(err, len, -EINVAL, "%sblock %d: only some of its FFN tensors are present",
			    stack_name(stack), l);
	if (b->attn && (rc = attn_shapes(s, stack, l, "attention", b->q, b->k, b->v, b->o,
					 &b->n_heads, &b->n_kv_heads, err, len)) < 0)
		return rc;
	if (b->attn && !pb_arch_shaped(s, b->attn_norm, dim, 1))
		return pb_errf(err, len, -EINVAL, "%sblock %d: attention norm is not [%d]",
			    stack_name(stack), l, s->dim);
	if (b->cross && (rc = attn_shapes(s, stack, l, "cross-attention", b->cq, b->ck, b->cv, b->co,
					  &b->cn_heads, &b->cn_kv_heads, err, len)) < 0)
		return rc;
	if (b->cross && !pb_arch_shaped(s, b->cross_norm, dim, 1))
		return pb_errf(err, len, -EINVAL, "%sblock %d: cross-attention norm is not [%d]",
			    stack_name(stack), l, s->dim);
	if ((rc = optional_tensors(s, stack, l, b, err, len)) < 0)
		return rc;
	if (b->ffn) {
		b->ffn_dim = (int)T[b->up].ne[1];
		if (!pb_arch_shaped(s, b->ffn_norm, dim, 1) || !pb_arch_shaped(s, b->up, dim, b->ffn_dim) ||
		    (gated && !pb_arch_shaped(s, b->gate, dim, b->ffn_dim)) ||
		    !pb_arch_shaped(s, b->down, b->ffn_dim, dim) || b->ffn_dim < 1)
			return pb_errf(err, len, -EINVAL,
				    "%sblock %d: FFN shapes disagree (%sup [%d × f], down [f × %d], norm [%d])",
				    stack_name(stack), l, gated ? "gate, " : "", s->dim, s->dim, s->dim);
	}
	return 0;
}

void pb_arch_widen(struct pb_session *s, const struct pb_block *b)
{
	const int64_t hd = s->head_dim;
	int64_t q = (int64_t)b->n_heads * hd, kv = (int64_t)b->n_kv_heads * hd;
	int64_t cq = (int64_t)b->cn_heads * hd, ckv = (int64_t)b->cn_kv_heads * hd;
	q = q > cq ? q : cq;
	kv = kv > ckv ? kv : ckv;
	s->max_q = q > s->max_q ? q : s->max_q;
	s->max_kv = kv > s->max_kv ? kv : s->max_kv;
	s->max_ffn = b->ffn_dim > s->max_ffn ? b->ffn_dim : s->max_ffn;
}

int pb_arch_buffers(struct pb_session *s, int n)
{
	if (n <= s->n_buf)
		return 0;
	int64_t *p = realloc(s->sizes, (size_t)n * sizeof *p);
	if (!p)
		return -ENOMEM;
	memset(p + s->n_buf, 0, (size_t)(n - s->n_buf) * sizeof *p);
	s->sizes = p;
	s->n_buf = n;
	return 0;
}

/* ---- op emitters ---- */

const struct pb_act pb_arch_none = { .buf = -1 };

struct pb_act pb_arch_act(int buf, int64_t off, int64_t stride)
{
	return (struct pb_act){ .buf = buf, .off = off, .stride = stride };
}

struct pb_op *pb_arch_emit(struct pb_session *s, enum pb_op_type type, int n, int weight,
			   struct pb_act dst, struct pb_act a, struct pb_act b)
{
	struct pb_op *op = &s->op[s->g.n_ops++];
	memset(op, 0, sizeof *op);
	op->type = type;
	op->n_tokens = n;
	op->weight = weight;
	op->dst = dst;
	op->src[0] = a;
	op->src[1] = b;
	op->src[2] = pb_arch_none;
	return op;
}

void pb_arch_embed(struct pb_session *s, int n)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_EMBED, n, s->embd,
					pb_arch_act(PB_SESSION_X, 0, s->dim), pb_arch_none, pb_arch_none);
	op->p.embed.dim = s->dim;
	op->p.embed.scale = s->embed_scale;
}

void pb_arch_linear(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src)
{
	const struct pb_tensor *t = &s->m->tensors[w];
	struct pb_op *op = pb_arch_emit(s, PB_OP_LINEAR, n, w, dst, src, pb_arch_none);
	op->p.linear.n_in = (int32_t)t->ne[0];
	op->p.linear.n_out = (int32_t)t->ne[1];
}

void pb_arch_rmsnorm(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_RMSNORM, n, w, dst, src, pb_arch_none);
	op->p.rmsnorm.dim = s->dim;
	op->p.rmsnorm.eps = s->m->hp.norm_eps;
}

void pb_arch_head_norm(struct pb_session *s, int n, int w, int buf, int heads)
{
	const struct pb_act a = pb_arch_act(buf, 0, s->head_dim);
	struct pb_op *op = pb_arch_emit(s, PB_OP_RMSNORM, n * heads, w, a, a, pb_arch_none);
	op->p.rmsnorm.dim = s->head_dim;
	op->p.rmsnorm.eps = s->m->hp.norm_eps;
}

void pb_arch_add_bias(struct pb_session *s, int n, int w, struct pb_act dst, int64_t width)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_ADD_BIAS, n, w, dst, pb_arch_none, pb_arch_none);
	op->p.add_bias.width = (int32_t)width;
}

void pb_arch_add(struct pb_session *s, int n, struct pb_act dst, struct pb_act b)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_ADD, n, -1, dst, dst, b);
	op->p.add.width = s->dim;
}

void pb_arch_kv_store(struct pb_session *s, int n, int pos0, int cache, struct pb_act src,
		      int64_t width)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_KV_STORE, n, -1, pb_arch_act(cache, 0, width), src,
					pb_arch_none);
	op->p.kv_store.width = (int32_t)width;
	op->p.kv_store.pos0 = pos0;
}

/* The caller sets pos0, n_kv, causal, scale and bias. */
struct pb_op *pb_arch_attention(struct pb_session *s, int n, struct pb_act dst, struct pb_act q,
				struct pb_act k, struct pb_act v, int n_heads, int n_kv_heads)
{
	struct pb_op *op = pb_arch_emit(s, PB_OP_ATTENTION, n, -1, dst, q, k);
	op->src[2] = v;
	op->p.attention.n_heads = n_heads;
	op->p.attention.n_kv_heads = n_kv_heads;
	op->p.attention.head_dim = s->head_dim;
	op->p.attention.scale = 1.0f;
	op->p.attention.bias = pb_arch_none;
	return op;
}

void pb_arch_ffn(struct pb_session *s, const struct pb_block *b, int n, int gated, int fn)
{
	const int64_t dim = s->dim, f = b->ffn_dim;
	struct pb_act x = pb_arch_act(PB_SESSION_X, 0, dim), xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	struct pb_act gate = pb_arch_act(PB_SESSION_GATE, 0, f), up = pb_arch_act(PB_SESSION_UP, 0, f);
	struct pb_op *op;

	pb_arch_rmsnorm(s, n, b->ffn_norm, xn, x);
	if (gated) {
		pb_arch_linear(s, n, b->gate, gate, xn);
		pb_arch_linear(s, n, b->up, up, xn);
		op = pb_arch_emit(s, PB_OP_GLU, n, -1, gate, gate, up);
		op->p.glu.width = (int32_t)f;
		op->p.glu.fn = fn;
		pb_arch_linear(s, n, b->down, xn, gate);
	} else {
		pb_arch_linear(s, n, b->up, up, xn);
		op = pb_arch_emit(s, PB_OP_ACT, n, -1, up, up, pb_arch_none);
		op->p.act.width = (int32_t)f;
		op->p.act.fn = fn;
		pb_arch_linear(s, n, b->down, xn, up);
	}
	if (b->ffn_post_norm >= 0)
		pb_arch_rmsnorm(s, n, b->ffn_post_norm, xn, xn);
	pb_arch_add(s, n, x, xn);
}

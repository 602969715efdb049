/* core/arch/session.c — the session every architecture shares: it asks
 * the backend for buffers sized from the model's tensors, builds one
 * step's op list through the architecture (llama.c, t5.c), appends the LM
 * head, runs it, and reads logits back.  Also the op emitters and block
 * checks the architectures share, so each file holds only what makes its
 * architecture different. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch-internal.h"
#include "util/util.h"

/* Rows of logits one head graph produces: forward_all reads n rows in
 * chunks of this many, so the LOGITS buffer stays small (2 MB at a 32k
 * vocabulary) whatever the context. */
#define LOGIT_ROWS 16

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

/* ---- the session ---- */

int pb_session_open(const struct pb_model *m, const struct pb_backend_ops *ops,
		    void *backend_state, struct pb_session **out, char *err, size_t len)
{
	const struct pb_hparams *hp = &m->hp;
	int rc;
	if (m->arch != PB_ARCH_LLAMA && m->arch != PB_ARCH_T5 && m->arch != PB_ARCH_QWEN2 &&
	    m->arch != PB_ARCH_QWEN3 && m->arch != PB_ARCH_GEMMA2 && m->arch != PB_ARCH_GEMMA3 &&
	    m->arch != PB_ARCH_PHI3)
		return pb_errf(err, len, -ENOTSUP, "%s: architecture %d is not supported by this build",
			       m->name, (int)m->arch);
	if (hp->dim < 1 || hp->head_dim < 1 || hp->vocab < 1 || hp->ctx < 1 || hp->n_layers < 0 ||
	    hp->n_enc_layers < 0 || hp->ctx > (1 << 20))
		return pb_errf(err, len, -EINVAL, "%s: inconsistent hyper-parameters", m->name);
	struct pb_session *s = calloc(1, sizeof *s);
	if (!s)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory opening a session", m->name);
	if (err && len)
		err[0] = '\0';
	s->m = m;
	s->ops = ops;
	s->bs = backend_state;
	s->dim = hp->dim;
	s->head_dim = hp->head_dim;
	s->vocab = hp->vocab;
	s->ctx = hp->ctx;
	s->n_dec = hp->n_layers;
	s->logit_scale = hp->logit_scale != 0.0f ? hp->logit_scale : 1.0f;
	s->max_q = s->max_kv = s->max_ffn = 1;
	s->rope_freqs = -1;
	s->logit_rows = hp->ctx < LOGIT_ROWS ? hp->ctx : LOGIT_ROWS;
	if ((rc = pb_arch_buffers(s, PB_SESSION_KV0)) < 0)
		goto fail;
	rc = m->arch == PB_ARCH_T5 ? pb_t5_open(s, err, len) : pb_llama_open(s, err, len);
	if (rc < 0)
		goto fail;
	/* the LM head, whatever the architecture */
	if (s->embd < 0 || s->out_norm < 0 || s->output < 0 ||
	    !pb_arch_shaped(s, s->embd, hp->dim, hp->vocab) ||
	    !pb_arch_shaped(s, s->out_norm, hp->dim, 1) ||
	    !pb_arch_shaped(s, s->output, hp->dim, hp->vocab)) {
		rc = pb_errf(err, len, -EINVAL,
			  "%s: token_embd, output_norm and output (or the tied embedding) must be [%d × %d], [%d], [%d × %d]",
			  m->name, hp->dim, hp->vocab, hp->dim, hp->dim, hp->vocab);
		goto fail;
	}
	const int64_t ctx = hp->ctx;
	s->sizes[PB_SESSION_X] = s->sizes[PB_SESSION_XN] = ctx * hp->dim;
	s->sizes[PB_SESSION_Q] = s->sizes[PB_SESSION_ATT] = ctx * s->max_q;
	s->sizes[PB_SESSION_K] = s->sizes[PB_SESSION_V] = ctx * s->max_kv;
	s->sizes[PB_SESSION_GATE] = s->sizes[PB_SESSION_UP] = ctx * s->max_ffn;
	s->sizes[PB_SESSION_LOGITS] = (int64_t)s->logit_rows * hp->vocab;
	s->n_op_max += 4;   /* embed, and the head's norm, linear and soft cap */
	s->op = calloc((size_t)s->n_op_max, sizeof *s->op);
	if (!s->op) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ops->buffers_alloc(backend_state, s->sizes, s->n_buf);
	if (rc < 0) {
		pb_errf(err, len, rc, "%s: the backend cannot allocate activation buffers for %d positions: %s",
			m->name, hp->ctx, strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM && err && len && !err[0])
		pb_sayf(err, len, "%s: out of memory opening a session", m->name);
	pb_session_close(s);
	return rc;
}

void pb_session_close(struct pb_session *s)
{
	if (!s)
		return;
	free(s->dec);
	free(s->enc);
	free(s->sizes);
	free(s->bucket_bi);
	free(s->bucket_causal);
	free(s->bias_host);
	free(s->rel_host);
	free(s->op);
	free(s);
}

int pb_session_is_seq2seq(const struct pb_session *s)
{
	return s && s->seq2seq;
}

int pb_session_device_ms(const struct pb_session *s, double *total_ms)
{
	if (!s || !s->ops->device_ms)
		return -ENOTSUP;
	return s->ops->device_ms(s->bs, total_ms);
}

int pb_session_encode(struct pb_session *s, const int32_t *tokens, int n)
{
	if (!s)
		return -EINVAL;
	if (!s->seq2seq)
		return -ENOTSUP;
	return pb_t5_encode(s, tokens, n);
}

/* Logits of rows row0.. of X: the final norm (scaled, for T5's tied
 * head), the LM head and Gemma 2's soft cap. */
static void head(struct pb_session *s, int row0, int rows)
{
	const int64_t dim = s->dim;
	struct pb_act xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	pb_arch_rmsnorm(s, rows, s->out_norm, xn, pb_arch_act(PB_SESSION_X, row0 * dim, dim));
	if (s->logit_scale != 1.0f)
		s->op[s->g.n_ops - 1].p.rmsnorm.scale = s->logit_scale;
	pb_arch_linear(s, rows, s->output, pb_arch_act(PB_SESSION_LOGITS, 0, s->vocab), xn);
	if (s->final_softcap > 0) {
		const struct pb_act l = pb_arch_act(PB_SESSION_LOGITS, 0, s->vocab);
		struct pb_op *op = pb_arch_emit(s, PB_OP_ACT, rows, -1, l, l, pb_arch_none);
		op->p.act.width = s->vocab;
		op->p.act.fn = PB_ACT_SOFTCAP;
		op->p.act.cap = s->final_softcap;
	}
}

/* The body of one step (embedding and every block; for T5 the decoder,
 * after writing its position bias), without the head; 0 or -errno. */
static int body(struct pb_session *s, const int32_t *tokens, int n, int pos0)
{
	if (!s || !tokens || n < 1 || pos0 < 0 || n > s->ctx || pos0 > s->ctx - n)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return -EINVAL;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	s->n_steps++;
	if (s->seq2seq)
		return pb_t5_body(s, n, pos0);
	pb_llama_body(s, n, pos0);
	return 0;
}

const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0)
{
	if (body(s, tokens, n, pos0) < 0)
		return NULL;
	/* logits of the last position only: that is all greedy decoding needs */
	head(s, n - 1, 1);
	return &s->g;
}

int pb_session_forward(struct pb_session *s, const int32_t *tokens, int n, int pos0,
		       float *logits)
{
	const struct pb_graph *g = pb_session_graph(s, tokens, n, pos0);
	if (!g)
		return -EINVAL;
	int rc = s->ops->graph_compute(s->bs, g);
	if (rc < 0)
		return rc;
	return s->ops->buffer_read(s->bs, PB_SESSION_LOGITS, 0, s->vocab, logits);
}

int pb_session_forward_all(struct pb_session *s, const int32_t *tokens, int n, int pos0,
			   float *logits)
{
	int rc = body(s, tokens, n, pos0);
	if (rc < 0 || !logits)
		return rc < 0 ? rc : -EINVAL;
	/* the first chunk of rows rides on the body's graph; later chunks
	 * are head-only graphs over the hidden states the body left in X */
	for (int r0 = 0; r0 < n; r0 += s->logit_rows) {
		int rows = n - r0 < s->logit_rows ? n - r0 : s->logit_rows;
		if (r0)
			s->g.n_ops = 0;
		head(s, r0, rows);
		if ((rc = s->ops->graph_compute(s->bs, &s->g)) < 0)
			return rc;
		rc = s->ops->buffer_read(s->bs, PB_SESSION_LOGITS, 0, (int64_t)rows * s->vocab,
					 logits + (size_t)r0 * (size_t)s->vocab);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- blocks one at a time (calibration) ---- */

int pb_session_blocks(const struct pb_session *s, enum pb_stack stack)
{
	if (!s)
		return -EINVAL;
	if (stack == PB_STACK_DECODER)
		return s->n_dec;
	return stack == PB_STACK_ENCODER && s->seq2seq ? s->n_enc : -EINVAL;
}

int pb_session_embed(struct pb_session *s, const int32_t *tokens, int n, float *x)
{
	if (!s || !tokens || !x || n < 1 || n > s->ctx)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return -EINVAL;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	s->n_steps++;
	pb_arch_embed(s, n);
	int rc = s->ops->graph_compute(s->bs, &s->g);
	if (rc < 0)
		return rc;
	return s->ops->buffer_read(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x);
}

int pb_session_encoder_out(struct pb_session *s, float *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!s->seq2seq)
		return -ENOTSUP;
	return pb_t5_encoder_out(s, out);
}

static int same_act(const struct pb_act *a, const struct pb_act *b)
{
	return a->buf == b->buf && a->off == b->off && a->stride == b->stride;
}

/* Read n rows of width w addressed by a into dst (rows packed). */
static int read_rows(struct pb_session *s, const struct pb_act *a, int n, int64_t w, float *dst)
{
	if (a->stride == w)
		return s->ops->buffer_read(s->bs, a->buf, a->off, (int64_t)n * w, dst);
	for (int t = 0; t < n; t++) {
		int rc = s->ops->buffer_read(s->bs, a->buf, a->off + t * a->stride, w, dst + t * w);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Compute ops [from, to) of the current graph. */
static int run_ops(struct pb_session *s, int from, int to)
{
	if (to <= from)
		return 0;
	struct pb_graph g = s->g;
	g.ops = s->op + from;
	g.n_ops = to - from;
	return s->ops->graph_compute(s->bs, &g);
}

int pb_session_block(struct pb_session *s, enum pb_stack stack, int layer, float *x, int n,
		     pb_session_tap tap, void *ctx)
{
	int nb = pb_session_blocks(s, stack), rc;
	float *in = NULL;
	if (nb < 0 || layer < 0 || layer >= nb || !x || n < 1 || n > s->ctx)
		return -EINVAL;
	if (!s->ops->buffer_write)
		return -ENOTSUP;
	if (s->seq2seq && stack == PB_STACK_DECODER && !s->n_src)
		return -EINVAL;   /* the cross-attention needs pb_session_encode first */
	if ((rc = s->ops->buffer_write(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x)) < 0)
		return rc;
	/* no embed op: the graph's tokens are never read */
	s->g = (struct pb_graph){ .ops = s->op, .tokens = NULL, .n_tokens = n };
	s->n_steps++;
	if (s->seq2seq)
		rc = pb_t5_block(s, stack, layer, n);
	else
		pb_llama_block(s, layer, n, 0);
	if (rc < 0)
		return rc;
	/* Cut the list before each run of consecutive linears that read one
	 * input (q/k/v, gate/up), read that input back and hand it to the tap:
	 * the buffers are reused within the block, so later is too late. */
	int from = 0;
	for (int i = 0; tap && i < s->g.n_ops;) {
		const struct pb_op *op = &s->op[i];
		if (op->type != PB_OP_LINEAR) {
			i++;
			continue;
		}
		int tensors[8], k = 0, j = i;
		const int64_t n_in = op->p.linear.n_in;
		while (j < s->g.n_ops && k < 8 && s->op[j].type == PB_OP_LINEAR &&
		       same_act(&s->op[j].src[0], &op->src[0]) && s->op[j].p.linear.n_in == n_in)
			tensors[k++] = s->op[j++].weight;
		/* inputs are dim, q or ffn wide: the widest of those */
		int64_t w = s->dim > s->max_q ? s->dim : s->max_q;
		w = w > s->max_ffn ? w : s->max_ffn;
		if (!in && !(in = malloc((size_t)n * (size_t)w * sizeof *in))) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = run_ops(s, from, i)) < 0 || (rc = read_rows(s, &op->src[0], n, n_in, in)) < 0 ||
		    (rc = tap(ctx, tensors, k, in, n, n_in)) < 0)
			goto out;
		from = i;
		i = j;
	}
	if ((rc = run_ops(s, from, s->g.n_ops)) < 0)
		goto out;
	rc = s->ops->buffer_read(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x);
out:
	free(in);
	return rc;
}

/* core/arch/llama.c — the Llama decoder as op lists: RMSNorm, RoPE,
 * grouped-query attention with a KV cache, SwiGLU FFN, tied or separate
 * output projection.  Every size comes from the tensors of its own layer,
 * so structurally pruned models (fewer heads or FFN neurons in some
 * layers, or whole blocks removed) run unchanged. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "util/util.h"

struct layer {
	int attn;                            /* has an attention block */
	int attn_norm, q, k, v, o;           /* tensor indices */
	int n_heads, n_kv_heads;
	int ffn;                             /* has an FFN block */
	int ffn_norm, gate, up, down;
	int ffn_dim;
};

struct pb_session {
	const struct pb_model *m;
	const struct pb_backend_ops *ops;
	void *bs;
	int dim, head_dim, vocab, ctx, n_layers;
	int64_t max_q, max_kv, max_ffn;
	int embd, out_norm, output;
	struct layer *L;
	struct pb_op *op;
	int n_op_max;
	struct pb_graph g;
};

static int idx(const struct pb_model *m, int layer, enum pb_role role)
{
	const struct pb_tensor *t = pb_model_find(m, layer, role);
	return t ? (int)(t - m->tensors) : -1;
}

/* Is tensor i a [ne0 × ne1] matrix (ne1 == 1: a vector)? */
static int shaped(const struct pb_model *m, int i, int64_t ne0, int64_t ne1)
{
	const struct pb_tensor *t = &m->tensors[i];
	return t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1;
}

static int check_layer(const struct pb_model *m, int l, struct layer *L, char *err, size_t len)
{
	const int dim = m->hp.dim, hd = m->hp.head_dim;
	const struct pb_tensor *T = m->tensors;
	int a[5] = { L->attn_norm = idx(m, l, PB_ROLE_ATTN_NORM), L->q = idx(m, l, PB_ROLE_ATTN_Q),
		     L->k = idx(m, l, PB_ROLE_ATTN_K), L->v = idx(m, l, PB_ROLE_ATTN_V),
		     L->o = idx(m, l, PB_ROLE_ATTN_O) };
	int f[4] = { L->ffn_norm = idx(m, l, PB_ROLE_FFN_NORM), L->gate = idx(m, l, PB_ROLE_FFN_GATE),
		     L->up = idx(m, l, PB_ROLE_FFN_UP), L->down = idx(m, l, PB_ROLE_FFN_DOWN) };
	int na = 0, nf = 0;
	for (int i = 0; i < 5; i++)
		na += a[i] >= 0;
	for (int i = 0; i < 4; i++)
		nf += f[i] >= 0;
	if ((na && na < 5) || (nf && nf < 4))
		return pb_errf(err, len, -EINVAL, "block %d: only some of its %s tensors are present",
			    l, na && na < 5 ? "attention" : "FFN");
	L->attn = na == 5;
	L->ffn = nf == 4;
	if (L->attn) {
		L->n_heads = (int)(T[L->q].ne[1] / hd);
		L->n_kv_heads = (int)(T[L->k].ne[1] / hd);
		int64_t q = (int64_t)L->n_heads * hd, kv = (int64_t)L->n_kv_heads * hd;
		if (!shaped(m, L->attn_norm, dim, 1) || !shaped(m, L->q, dim, q) ||
		    !shaped(m, L->k, dim, kv) || !shaped(m, L->v, dim, kv) ||
		    !shaped(m, L->o, q, dim) || L->n_heads < 1 || L->n_kv_heads < 1 ||
		    L->n_heads % L->n_kv_heads)
			return pb_errf(err, len, -EINVAL,
				    "block %d: attention shapes disagree (q %lldx%lld, k %lldx%lld, v %lldx%lld, o %lldx%lld; head_dim %d)",
				    l, (long long)T[L->q].ne[0], (long long)T[L->q].ne[1],
				    (long long)T[L->k].ne[0], (long long)T[L->k].ne[1],
				    (long long)T[L->v].ne[0], (long long)T[L->v].ne[1],
				    (long long)T[L->o].ne[0], (long long)T[L->o].ne[1], hd);
	}
	if (L->ffn) {
		L->ffn_dim = (int)T[L->up].ne[1];
		if (!shaped(m, L->ffn_norm, dim, 1) || !shaped(m, L->gate, dim, L->ffn_dim) ||
		    !shaped(m, L->up, dim, L->ffn_dim) || !shaped(m, L->down, L->ffn_dim, dim) ||
		    L->ffn_dim < 1)
			return pb_errf(err, len, -EINVAL, "block %d: FFN shapes disagree (gate, up [%d × f], down [f × %d])",
				    l, dim, dim);
	}
	return 0;
}

int pb_session_open(const struct pb_model *m, const struct pb_backend_ops *ops,
		    void *backend_state, struct pb_session **out, char *err, size_t len)
{
	const struct pb_hparams *hp = &m->hp;
	int rc;
	if (m->arch != PB_ARCH_LLAMA)
		return pb_errf(err, len, -ENOTSUP, "%s: not a llama model", m->name);
	if (hp->dim < 1 || hp->head_dim < 2 || hp->head_dim % 2 || hp->vocab < 1 || hp->ctx < 1 ||
	    hp->n_layers < 0)
		return pb_errf(err, len, -EINVAL, "%s: inconsistent hyper-parameters", m->name);
	struct pb_session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->m = m;
	s->ops = ops;
	s->bs = backend_state;
	s->dim = hp->dim;
	s->head_dim = hp->head_dim;
	s->vocab = hp->vocab;
	s->ctx = hp->ctx;
	s->n_layers = hp->n_layers;
	s->embd = idx(m, -1, PB_ROLE_TOK_EMBD);
	s->out_norm = idx(m, -1, PB_ROLE_OUT_NORM);
	s->output = idx(m, -1, PB_ROLE_OUTPUT);
	if (s->embd < 0 || s->out_norm < 0 || s->output < 0 ||
	    !shaped(m, s->embd, hp->dim, hp->vocab) || !shaped(m, s->out_norm, hp->dim, 1) ||
	    !shaped(m, s->output, hp->dim, hp->vocab)) {
		rc = pb_errf(err, len, -EINVAL, "%s: token_embd, output_norm and output must be [%d × %d], [%d], [%d × %d]",
			  m->name, hp->dim, hp->vocab, hp->dim, hp->dim, hp->vocab);
		goto fail;
	}
	s->L = calloc((size_t)(hp->n_layers ? hp->n_layers : 1), sizeof *s->L);
	int64_t *sizes = calloc((size_t)PB_SESSION_KV0 + 2 * (size_t)hp->n_layers, sizeof *sizes);
	if (!s->L || !sizes) {
		free(sizes);
		rc = -ENOMEM;
		goto fail;
	}
	s->max_q = s->max_kv = s->max_ffn = 1;
	for (int l = 0; l < hp->n_layers; l++) {
		struct layer *L = &s->L[l];
		if ((rc = check_layer(m, l, L, err, len)) < 0) {
			free(sizes);
			goto fail;
		}
		int64_t q = (int64_t)L->n_heads * hp->head_dim, kv = (int64_t)L->n_kv_heads * hp->head_dim;
		s->max_q = q > s->max_q ? q : s->max_q;
		s->max_kv = kv > s->max_kv ? kv : s->max_kv;
		s->max_ffn = L->ffn_dim > s->max_ffn ? L->ffn_dim : s->max_ffn;
		sizes[PB_SESSION_KV0 + 2 * l] = sizes[PB_SESSION_KV0 + 2 * l + 1] =
			(int64_t)hp->ctx * (kv ? kv : 1);
	}
	const int64_t ctx = hp->ctx;
	sizes[PB_SESSION_X] = sizes[PB_SESSION_XN] = ctx * hp->dim;
	sizes[PB_SESSION_Q] = sizes[PB_SESSION_ATT] = ctx * s->max_q;
	sizes[PB_SESSION_K] = sizes[PB_SESSION_V] = ctx * s->max_kv;
	sizes[PB_SESSION_GATE] = sizes[PB_SESSION_UP] = ctx * s->max_ffn;
	sizes[PB_SESSION_LOGITS] = hp->vocab;
	s->n_op_max = 3 + 17 * hp->n_layers;
	s->op = calloc((size_t)s->n_op_max, sizeof *s->op);
	if (!s->op) {
		free(sizes);
		rc = -ENOMEM;
		goto fail;
	}
	rc = ops->buffers_alloc(backend_state, sizes, PB_SESSION_KV0 + 2 * hp->n_layers);
	free(sizes);
	if (rc < 0) {
		pb_errf(err, len, rc, "%s: the backend cannot allocate activation buffers for %d positions: %s",
		     m->name, hp->ctx, strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	pb_session_close(s);
	return rc;
}

void pb_session_close(struct pb_session *s)
{
	if (!s)
		return;
	free(s->L);
	free(s->op);
	free(s);
}

static struct pb_act act(int buf, int64_t off, int64_t stride)
{
	return (struct pb_act){ .buf = buf, .off = off, .stride = stride };
}

static const struct pb_act none = { .buf = -1 };

static struct pb_op *emit(struct pb_session *s, enum pb_op_type type, int n, int weight,
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
	op->src[2] = none;
	return op;
}

static void linear(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src)
{
	const struct pb_tensor *t = &s->m->tensors[w];
	struct pb_op *op = emit(s, PB_OP_LINEAR, n, w, dst, src, none);
	op->p.linear.n_in = (int32_t)t->ne[0];
	op->p.linear.n_out = (int32_t)t->ne[1];
}

static void rmsnorm(struct pb_session *s, int n, int w, struct pb_act dst, struct pb_act src)
{
	struct pb_op *op = emit(s, PB_OP_RMSNORM, n, w, dst, src, none);
	op->p.rmsnorm.dim = s->dim;
	op->p.rmsnorm.eps = s->m->hp.norm_eps;
}

static void add(struct pb_session *s, int n, struct pb_act dst, struct pb_act b)
{
	struct pb_op *op = emit(s, PB_OP_ADD, n, -1, dst, dst, b);
	op->p.add.width = s->dim;
}

static void rope(struct pb_session *s, int n, int pos0, struct pb_act x, int n_heads)
{
	struct pb_op *op = emit(s, PB_OP_ROPE, n, -1, x, none, none);
	op->p.rope.n_heads = n_heads;
	op->p.rope.head_dim = s->head_dim;
	op->p.rope.pos0 = pos0;
	op->p.rope.layout = s->m->hp.rope_layout;
	op->p.rope.theta = s->m->hp.rope_theta;
}

static void attention_block(struct pb_session *s, int l, int n, int pos0)
{
	const struct layer *L = &s->L[l];
	const int64_t dim = s->dim, hd = s->head_dim;
	const int64_t q = L->n_heads * hd, kv = L->n_kv_heads * hd;
	const int kc = PB_SESSION_KV0 + 2 * l, vc = kc + 1;
	struct pb_act x = act(PB_SESSION_X, 0, dim), xn = act(PB_SESSION_XN, 0, dim);
	struct pb_act qa = act(PB_SESSION_Q, 0, q), ka = act(PB_SESSION_K, 0, kv);
	struct pb_act va = act(PB_SESSION_V, 0, kv), att = act(PB_SESSION_ATT, 0, q);
	struct pb_op *op;

	rmsnorm(s, n, L->attn_norm, xn, x);
	linear(s, n, L->q, qa, xn);
	linear(s, n, L->k, ka, xn);
	linear(s, n, L->v, va, xn);
	rope(s, n, pos0, qa, L->n_heads);
	rope(s, n, pos0, ka, L->n_kv_heads);
	op = emit(s, PB_OP_KV_STORE, n, -1, act(kc, 0, kv), ka, none);
	op->p.kv_store.width = (int32_t)kv;
	op->p.kv_store.pos0 = pos0;
	op = emit(s, PB_OP_KV_STORE, n, -1, act(vc, 0, kv), va, none);
	op->p.kv_store.width = (int32_t)kv;
	op->p.kv_store.pos0 = pos0;
	op = emit(s, PB_OP_ATTENTION, n, -1, att, qa, act(kc, 0, kv));
	op->src[2] = act(vc, 0, kv);
	op->p.attention.n_heads = L->n_heads;
	op->p.attention.n_kv_heads = L->n_kv_heads;
	op->p.attention.head_dim = (int32_t)hd;
	op->p.attention.pos0 = pos0;
	op->p.attention.n_kv = pos0 + n;
	op->p.attention.causal = 1;
	op->p.attention.scale = (float)(1.0 / sqrt((double)hd));
	op->p.attention.bias = none;
	linear(s, n, L->o, xn, att);
	add(s, n, x, xn);
}

static void ffn_block(struct pb_session *s, int l, int n)
{
	const struct layer *L = &s->L[l];
	const int64_t dim = s->dim, f = L->ffn_dim;
	struct pb_act x = act(PB_SESSION_X, 0, dim), xn = act(PB_SESSION_XN, 0, dim);
	struct pb_act gate = act(PB_SESSION_GATE, 0, f), up = act(PB_SESSION_UP, 0, f);

	rmsnorm(s, n, L->ffn_norm, xn, x);
	linear(s, n, L->gate, gate, xn);
	linear(s, n, L->up, up, xn);
	struct pb_op *op = emit(s, PB_OP_GLU, n, -1, gate, gate, up);
	op->p.glu.width = (int32_t)f;
	op->p.glu.fn = PB_ACT_SILU;
	linear(s, n, L->down, xn, gate);
	add(s, n, x, xn);
}

const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0)
{
	if (!s || !tokens || n < 1 || pos0 < 0 || n > s->ctx || pos0 > s->ctx - n)
		return NULL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return NULL;
	const int64_t dim = s->dim;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	struct pb_op *op = emit(s, PB_OP_EMBED, n, s->embd, act(PB_SESSION_X, 0, dim), none, none);
	op->p.embed.dim = (int32_t)dim;
	for (int l = 0; l < s->n_layers; l++) {
		if (s->L[l].attn)
			attention_block(s, l, n, pos0);
		if (s->L[l].ffn)
			ffn_block(s, l, n);
	}
	/* logits of the last position only: that is all greedy decoding needs */
	rmsnorm(s, 1, s->out_norm, act(PB_SESSION_XN, 0, dim), act(PB_SESSION_X, (n - 1) * dim, dim));
	linear(s, 1, s->output, act(PB_SESSION_LOGITS, 0, s->vocab), act(PB_SESSION_XN, 0, dim));
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

/* tests/lib/edge-cases.c — see edge-cases.h.  Shapes are small (head_dim
 * 8 to 16, a few heads and tokens): the vulkan tests run on lavapipe, the
 * suite's slowest; only the per-head norm of 65540 rows is large, because
 * it must pass the 65535-workgroup limit of one dispatch. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "edge-cases.h"
#include "naive-ops.h"

static int tensor(struct edge_case *c, enum pb_dtype d, int64_t ne0, int64_t ne1, enum pb_role role)
{
	const int i = c->m.n_tensors++;
	char name[16];
	ck_assert_int_lt(i, EDGE_MAX_T);
	snprintf(name, sizeof name, "w%d", i);
	pair_weight(&c->t[i], name, d, ne0, ne1, role, 0);
	return i;
}

/* RoPE frequency divisors: F32 [n], spread over 1..8 as llama3's are */
static int factors(struct edge_case *c, int n)
{
	const int i = tensor(c, PB_F32, n, 1, PB_ROLE_ROPE_FREQS);
	float *f = c->t[i].data;
	for (int k = 0; k < n; k++)
		f[k] = k == 0 ? 1.0f : 1.0f + 3.5f * (pair_frand() + 1.0f);
	return i;
}

static int buf(struct edge_case *c, int64_t floats, float scale)
{
	const int i = c->n_buf++;
	ck_assert_int_lt(i, EDGE_MAX_BUF);
	c->sizes[i] = floats;
	c->in_scale[i] = scale;
	return i;
}

static struct pb_op *op(struct edge_case *c, enum pb_op_type type, int n_tokens, int weight)
{
	ck_assert_int_lt(c->n_ops, EDGE_MAX_OPS);
	struct pb_op *o = &c->ops[c->n_ops++];
	memset(o, 0, sizeof *o);
	o->type = type;
	o->n_tokens = n_tokens;
	o->weight = weight;
	o->src[0].buf = o->src[1].buf = o->src[2].buf = -1;
	return o;
}

static struct pb_act at(int b, int64_t off, int64_t stride)
{
	return (struct pb_act){ .buf = b, .off = off, .stride = stride };
}

/* ---- the cases ---- */

static void embed_scale(struct edge_case *c, enum pb_dtype d, int dim, int nt, float scale)
{
	const int w = tensor(c, d, dim, 11, PB_ROLE_TOK_EMBD);
	const int y = buf(c, 1 + (int64_t)nt * (dim + 2), 0);
	struct pb_op *o = op(c, PB_OP_EMBED, nt, w);
	o->dst = at(y, 1, dim + 2);
	o->p.embed.dim = dim;
	o->p.embed.scale = scale;
	for (int t = 0; t < nt; t++)
		c->tokens[t] = (7 * t + 3) % 11;
	c->n_tokens = nt;
}

/* Qwen2: q, k and v biases on the column slices of one fused row (or a
 * strided one with the first) */
static void add_bias(struct edge_case *c, int nt, int fused)
{
	const int q = 32, kv = 16, row = fused ? q + 2 * kv : q + 6;
	const int y = buf(c, 2 + (int64_t)nt * row, 0);
	const int64_t off[3] = { fused ? 0 : 2, q, q + kv }, width[3] = { q, kv, kv };
	for (int k = 0; k < (fused ? 3 : 1); k++) {
		const int w = tensor(c, PB_F32, width[k], 1, PB_ROLE_ATTN_Q_BIAS + k);
		struct pb_op *o = op(c, PB_OP_ADD_BIAS, nt, w);
		o->dst = at(y, off[k], row);
		o->p.add_bias.width = (int32_t)width[k];
	}
}

/* Gemma 2's final logit soft-capping; inputs up to ±3 against cap 0.7 */
static void act_softcap(struct edge_case *c, int nt, int in_place)
{
	const int w = 33;
	const int x = buf(c, (int64_t)nt * (w + 1), 3.0f);
	const int y = in_place ? x : buf(c, (int64_t)nt * w, 0);
	struct pb_op *o = op(c, PB_OP_ACT, nt, -1);
	o->src[0] = at(x, 0, w + 1);
	o->dst = in_place ? o->src[0] : at(y, 0, w);
	o->p.act = (typeof(o->p.act)){ .width = w, .fn = PB_ACT_SOFTCAP, .cap = 0.7f };
}

static void rope(struct edge_case *c, int layout, int nt, int pos0, int hd, int n_rot, int with_factors,
		 float mscale)
{
	const int nh = 3, w = nh * hd;
	const int f = with_factors ? factors(c, (n_rot ? n_rot : hd) / 2) : -1;
	const int x = buf(c, 3 + (int64_t)nt * (w + 1), 0);
	struct pb_op *o = op(c, PB_OP_ROPE, nt, f);
	o->dst = at(x, 3, w + 1);
	o->p.rope = (typeof(o->p.rope)){ .n_heads = nh, .head_dim = hd, .pos0 = pos0, .layout = layout,
					 .theta = 10000.0f, .mscale = mscale, .n_rot = n_rot };
}

/* Qwen3 / Gemma 3: RMSNorm of each head, tokens × heads rows of head_dim */
static void head_norm(struct edge_case *c, int nt, int nh, int hd, enum pb_dtype d, int in_place)
{
	const int w = tensor(c, d, hd, 1, PB_ROLE_ATTN_Q_NORM);
	const int64_t rows = (int64_t)nt * nh;
	const int x = buf(c, rows * hd, 0);
	const int y = in_place ? x : buf(c, rows * hd, 0);
	struct pb_op *o = op(c, PB_OP_RMSNORM, (int32_t)rows, w);
	o->src[0] = at(x, 0, hd);
	o->dst = at(y, 0, hd);
	o->p.rmsnorm = (typeof(o->p.rmsnorm)){ .dim = hd, .eps = 1e-6f };
}

struct attn_shape {
	int nh, nkv, hd, nt, pos0, n_kv, causal, window;
	float softcap, q_scale;
	int bias;
};

static void attention(struct edge_case *c, struct attn_shape a)
{
	const int qw = a.nh * a.hd, kvw = a.nkv * a.hd;
	const int q = buf(c, (int64_t)a.nt * (qw + 1), a.q_scale);
	const int k = buf(c, 5 + (int64_t)a.n_kv * (kvw + 3), 0);
	const int v = buf(c, (int64_t)a.n_kv * kvw, 0);
	const int y = buf(c, 1 + (int64_t)a.nt * (qw + 2), 0);
	const int b = a.bias ? buf(c, 2 + (int64_t)a.nh * a.nt * (a.n_kv + 1), 0) : -1;
	struct pb_op *o = op(c, PB_OP_ATTENTION, a.nt, -1);
	o->src[0] = at(q, 0, qw + 1);
	o->src[1] = at(k, 5, kvw + 3);
	o->src[2] = at(v, 0, kvw);
	o->dst = at(y, 1, qw + 2);
	o->p.attention = (typeof(o->p.attention)){
		.n_heads = a.nh, .n_kv_heads = a.nkv, .head_dim = a.hd, .pos0 = a.pos0, .n_kv = a.n_kv,
		.causal = a.causal, .scale = 1.0f / sqrtf((float)a.hd),
		.bias = b >= 0 ? at(b, 2, a.n_kv + 1) : at(-1, 0, 0),
		.softcap = a.softcap, .window = a.window,
	};
}

/* Phi-3's attention block on one fused [nt × (q + 2·kv)] buffer: RoPE
 * (NeoX, longrope factors and mscale) on the q and k slices, the k and v
 * slices into the caches, attention reading q from its slice. */
static void fused_qkv(struct edge_case *c, int nt, int pos0)
{
	const int nh = 4, nkv = 2, hd = 16, qw = nh * hd, kvw = nkv * hd, row = qw + 2 * kvw;
	const int f = factors(c, hd / 2);
	const int qkv = buf(c, (int64_t)nt * row, 0);
	const int kc = buf(c, 16 * (int64_t)kvw, 0), vc = buf(c, 16 * (int64_t)kvw, 0);
	const int y = buf(c, (int64_t)nt * qw, 0);
	for (int k = 0; k < 2; k++) {
		struct pb_op *o = op(c, PB_OP_ROPE, nt, f);
		o->dst = at(qkv, k ? qw : 0, row);
		o->p.rope = (typeof(o->p.rope)){ .n_heads = k ? nkv : nh, .head_dim = hd, .pos0 = pos0,
						 .layout = PB_ROPE_HALF, .theta = 10000.0f,
						 .mscale = 1.19f };
	}
	for (int k = 0; k < 2; k++) {
		struct pb_op *o = op(c, PB_OP_KV_STORE, nt, -1);
		o->dst = at(k ? vc : kc, 0, kvw);
		o->src[0] = at(qkv, qw + k * kvw, row);
		o->p.kv_store = (typeof(o->p.kv_store)){ .width = kvw, .pos0 = pos0 };
	}
	struct pb_op *o = op(c, PB_OP_ATTENTION, nt, -1);
	o->dst = at(y, 0, qw);
	o->src[0] = at(qkv, 0, row);
	o->src[1] = at(kc, 0, kvw);
	o->src[2] = at(vc, 0, kvw);
	o->p.attention = (typeof(o->p.attention)){
		.n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos0 = pos0, .n_kv = pos0 + nt,
		.causal = 1, .scale = 0.25f, .bias = at(-1, 0, 0),
	};
}

/* Phi-3's fused gate/up halves: one GLU into another buffer, one in place
 * over the gate half */
static void fused_gate_up(struct edge_case *c, int nt)
{
	const int ff = 24;
	const int gu = buf(c, (int64_t)nt * 2 * ff, 0), y = buf(c, (int64_t)nt * ff, 0);
	struct pb_op *o = op(c, PB_OP_GLU, nt, -1);
	o->src[0] = at(gu, 0, 2 * ff);
	o->src[1] = at(gu, ff, 2 * ff);
	o->dst = at(y, 0, ff);
	o->p.glu = (typeof(o->p.glu)){ .width = ff, .fn = PB_ACT_SILU };
	o = op(c, PB_OP_GLU, nt, -1);
	o->src[0] = at(gu, 0, 2 * ff);
	o->src[1] = at(gu, ff, 2 * ff);
	o->dst = o->src[0];
	o->p.glu = (typeof(o->p.glu)){ .width = ff, .fn = PB_ACT_GELU };
}

/* Qwen3's q/k path: per-head norms in place, then NeoX RoPE */
static void qk_norm_rope(struct edge_case *c, int nt, int pos0)
{
	const int nh = 4, nkv = 2, hd = 16;
	int x[2];
	for (int k = 0; k < 2; k++) {
		const int heads = k ? nkv : nh;
		const int w = tensor(c, PB_F32, hd, 1, k ? PB_ROLE_ATTN_K_NORM : PB_ROLE_ATTN_Q_NORM);
		x[k] = buf(c, (int64_t)nt * heads * hd, 0);
		struct pb_op *o = op(c, PB_OP_RMSNORM, nt * heads, w);
		o->src[0] = o->dst = at(x[k], 0, hd);
		o->p.rmsnorm = (typeof(o->p.rmsnorm)){ .dim = hd, .eps = 1e-6f };
	}
	for (int k = 0; k < 2; k++) {
		struct pb_op *o = op(c, PB_OP_ROPE, nt, -1);
		o->dst = at(x[k], 0, (k ? nkv : nh) * hd);
		o->p.rope = (typeof(o->p.rope)){ .n_heads = k ? nkv : nh, .head_dim = hd, .pos0 = pos0,
						 .layout = PB_ROPE_HALF, .theta = 1000000.0f };
	}
}

#define N_CASES 34

int edge_case_count(void)
{
	return N_CASES;
}

void edge_case_make(int i, struct edge_case *c)
{
	memset(c, 0, sizeof *c);
	c->m.tensors = c->t;
	switch (i) {
	case 0: c->name = "embed, scale √16"; embed_scale(c, PB_F32, 16, 5, 4.0f); break;
	case 1: c->name = "embed, Q8_0, scale 0 (1), decode"; embed_scale(c, PB_Q8_0, 32, 1, 0.0f); break;
	case 2: c->name = "embed, F16, scale 0.37"; embed_scale(c, PB_F16, 8, 3, 0.37f); break;
	case 3: c->name = "add_bias, strided rows"; add_bias(c, 3, 0); break;
	case 4: c->name = "add_bias, fused q/k/v slices"; add_bias(c, 4, 1); break;
	case 5: c->name = "add_bias, fused, decode"; add_bias(c, 1, 1); break;
	case 6: c->name = "act softcap"; act_softcap(c, 3, 0); break;
	case 7: c->name = "act softcap in place, decode"; act_softcap(c, 1, 1); break;
	case 8: case 9:
		c->name = i == 8 ? "rope interleaved, factors, n_rot 8 of 16, mscale" :
				   "rope neox, factors, n_rot 8 of 16, mscale";
		rope(c, i - 8, 5, 0, 16, 8, 1, 1.25f);
		break;
	case 10: case 11:
		c->name = i == 10 ? "rope interleaved, factors, decode at 4000" :
				    "rope neox, factors, decode at 4000";
		rope(c, i - 10, 1, 4000, 16, 0, 1, 0.0f);
		break;
	case 12: case 13:
		c->name = i == 12 ? "rope interleaved, n_rot 6 of 10" : "rope neox, n_rot 6 of 10";
		rope(c, i - 12, 2, 7, 10, 6, 0, 0.0f);
		break;
	case 14: case 15:
		c->name = i == 14 ? "rope interleaved, mscale only" : "rope neox, mscale only, decode";
		rope(c, i - 14, i == 14 ? 4 : 1, i == 14 ? 0 : 33, 8, 0, 0, 0.8f);
		break;
	case 16: c->name = "rmsnorm per head, in place"; head_norm(c, 3, 4, 16, PB_F32, 1); break;
	case 17: c->name = "rmsnorm per head, F16 weight, decode"; head_norm(c, 1, 8, 8, PB_F16, 0); break;
	case 18: c->name = "rmsnorm per head, 65540 rows"; head_norm(c, 16385, 4, 2, PB_F32, 1); break;
	case 19: c->name = "attention window 3, prefill, GQA";
		attention(c, (struct attn_shape){ 4, 2, 16, 7, 0, 7, 1, 3, 0, 0, 0 });
		break;
	case 20: c->name = "attention window 4, decode at 12, GQA";
		attention(c, (struct attn_shape){ 4, 2, 16, 1, 12, 13, 1, 4, 0, 0, 0 });
		break;
	case 21: c->name = "attention softcap, prefill after a prefix, MQA";
		attention(c, (struct attn_shape){ 4, 1, 16, 5, 3, 8, 1, 0, 0.5f, 3.0f, 0 });
		break;
	case 22: c->name = "attention softcap + window + bias, decode";
		attention(c, (struct attn_shape){ 2, 2, 16, 1, 20, 21, 1, 5, 0.5f, 3.0f, 1 });
		break;
	case 23: c->name = "attention softcap + window, prefill, GQA";
		attention(c, (struct attn_shape){ 4, 2, 8, 6, 2, 8, 1, 3, 0.7f, 3.0f, 0 });
		break;
	case 24: c->name = "attention window wider than the context";
		attention(c, (struct attn_shape){ 2, 1, 16, 4, 2, 6, 1, 100, 0, 0, 0 });
		break;
	case 25: c->name = "attention window 2, not causal";
		attention(c, (struct attn_shape){ 2, 1, 16, 3, 1, 6, 0, 2, 0, 0, 0 });
		break;
	case 26: c->name = "attention window 1";
		attention(c, (struct attn_shape){ 2, 2, 8, 3, 0, 3, 1, 1, 0, 0, 0 });
		break;
	case 27: c->name = "attention window past the cache (no key: 0)";
		attention(c, (struct attn_shape){ 2, 1, 8, 2, 10, 4, 1, 2, 0, 0, 0 });
		break;
	case 28: c->name = "attention window 100 of 150, decode (vulkan: two key chunks)";
		attention(c, (struct attn_shape){ 2, 1, 16, 1, 149, 150, 1, 100, 0.9f, 2.0f, 0 });
		break;
	case 29: c->name = "fused qkv (Phi-3), prefill"; fused_qkv(c, 5, 0); break;
	case 30: c->name = "fused qkv (Phi-3), decode at 9"; fused_qkv(c, 1, 9); break;
	case 31: c->name = "fused gate/up (Phi-3)"; fused_gate_up(c, 3); break;
	case 32: c->name = "q/k norm + rope (Qwen3), prefill"; qk_norm_rope(c, 3, 0); break;
	case 33: c->name = "q/k norm + rope (Qwen3), decode at 5"; qk_norm_rope(c, 1, 5); break;
	default: ck_abort_msg("no edge case %d", i);
	}
}

void edge_case_free(struct edge_case *c)
{
	for (int i = 0; i < EDGE_MAX_T; i++)
		free(c->t[i].data);
	memset(c, 0, sizeof *c);
}

void edge_inputs(const struct edge_case *c, float *in[EDGE_MAX_BUF])
{
	for (int i = 0; i < c->n_buf; i++) {
		const float s = c->in_scale[i] ? c->in_scale[i] : 1.0f;
		in[i] = malloc((size_t)c->sizes[i] * sizeof(float));
		for (int64_t j = 0; j < c->sizes[i]; j++)
			in[i][j] = s * pair_frand();
	}
}

void edge_bufs_free(float *b[EDGE_MAX_BUF], int n)
{
	for (int i = 0; i < n; i++) {
		free(b[i]);
		b[i] = NULL;
	}
}

static struct pb_graph graph(const struct edge_case *c)
{
	return (struct pb_graph){ .ops = c->ops, .n_ops = c->n_ops,
				  .tokens = c->n_tokens ? c->tokens : NULL, .n_tokens = c->n_tokens };
}

void edge_run(struct be *b, const struct edge_case *c, float *const in[EDGE_MAX_BUF],
	      float *out[EDGE_MAX_BUF])
{
	const struct pb_graph g = graph(c);
	ck_assert_msg(b->ops->weights_load(b->st, &c->m) == 0, "%s on %s: weights_load: %s", c->name,
		      b->p->name, be_last_log);
	ck_assert_int_eq(b->ops->buffers_alloc(b->st, c->sizes, c->n_buf), 0);
	for (int i = 0; i < c->n_buf; i++)
		ck_assert_int_eq(b->ops->buffer_write(b->st, i, 0, c->sizes[i], in[i]), 0);
	const int rc = b->ops->graph_compute(b->st, &g);
	ck_assert_msg(rc == 0, "%s on %s: %d: %s", c->name, b->p->name, rc, be_last_log);
	for (int i = 0; i < c->n_buf; i++) {
		out[i] = malloc((size_t)c->sizes[i] * sizeof(float));
		ck_assert_int_eq(b->ops->buffer_read(b->st, i, 0, c->sizes[i], out[i]), 0);
	}
}

void edge_naive(const struct edge_case *c, float *const in[EDGE_MAX_BUF], float *out[EDGE_MAX_BUF])
{
	const struct pb_graph g = graph(c);
	for (int i = 0; i < c->n_buf; i++) {
		out[i] = malloc((size_t)c->sizes[i] * sizeof(float));
		memcpy(out[i], in[i], (size_t)c->sizes[i] * sizeof(float));
	}
	naive_graph(&c->m, &g, out, c->sizes, c->n_buf);
}

void edge_assert_close(const struct edge_case *c, float *const naive[EDGE_MAX_BUF],
		       float *const got[EDGE_MAX_BUF], double tol, const char *backend)
{
	for (int i = 0; i < c->n_buf; i++) {
		double mx = 0, diff = 0;
		int64_t where = 0;
		for (int64_t j = 0; j < c->sizes[i]; j++) {
			const double d = isnan(got[i][j]) ? INFINITY : fabs((double)naive[i][j] - got[i][j]);
			mx = fmax(mx, fabs(naive[i][j]));
			if (d > diff) {
				diff = d;
				where = j;
			}
		}
		ck_assert_msg(diff <= tol * mx, "%s on %s: buffer %d float %lld: naive %g, got %g (max "
			      "diff %g > %g × max %g)", c->name, backend, i, (long long)where,
			      naive[i][where], got[i][where], diff, tol, mx);
	}
}

/* ---- refusals ---- */

struct bad {
	const char *what, *log;   /* the case; a word its error must carry */
	struct pb_op op;
	int rc;                   /* the errno, 0: any negative */
};

void edge_check_refusals(struct be *b)
{
	struct edge_case c;
	memset(&c, 0, sizeof c);
	c.m.tensors = c.t;
	const int w8 = tensor(&c, PB_F32, 8, 1, PB_ROLE_ATTN_Q_BIAS);
	const int zero = factors(&c, 4);
	const int good = factors(&c, 4);
	((float *)c.t[zero].data)[2] = 0.0f;
	buf(&c, 64, 0);
	buf(&c, 64, 0);
	const struct pb_act a0 = at(0, 0, 8), a1 = at(1, 0, 8);
	const struct pb_act none = at(-1, 0, 0);
	const struct pb_op act = { .type = PB_OP_ACT, .n_tokens = 2, .weight = -1, .dst = a1,
				   .src = { a0, none, none }, .p.act = { .width = 8, .fn = PB_ACT_SILU } };
	const struct pb_op glu = { .type = PB_OP_GLU, .n_tokens = 2, .weight = -1, .dst = a1,
				   .src = { a0, at(0, 16, 8), none }, .p.glu = { .width = 8 } };
	const struct pb_op rope = { .type = PB_OP_ROPE, .n_tokens = 2, .weight = -1, .dst = a1,
				    .src = { none, none, none },
				    .p.rope = { .n_heads = 1, .head_dim = 8, .theta = 10000.0f } };
	const struct pb_op attn = { .type = PB_OP_ATTENTION, .n_tokens = 1, .weight = -1, .dst = a1,
				    .src = { a0, at(0, 16, 8), at(0, 32, 8) },
				    .p.attention = { .n_heads = 1, .n_kv_heads = 1, .head_dim = 8,
						     .n_kv = 2, .causal = 1, .scale = 1, .bias = none } };
	const struct pb_op bias = { .type = PB_OP_ADD_BIAS, .n_tokens = 2, .weight = w8, .dst = a1,
				    .src = { none, none, none }, .p.add_bias = { .width = 8 } };
	const struct pb_op embed = { .type = PB_OP_EMBED, .n_tokens = 1, .weight = w8, .dst = a1,
				     .src = { none, none, none }, .p.embed = { .dim = 8 } };
	struct bad bad[20];
	int n = 0;
#define BAD(w, l, o, field, val) do { bad[n] = (struct bad){ .what = (w), .log = (l), .op = (o) }; \
	bad[n].op.field = (val); n++; } while (0)
	BAD("an op type past the list", "type", act, type, PB_OP_COUNT);
	BAD("activation 4", "activation", act, p.act.fn, 4);
	BAD("softcap with cap 0", "cap", act, p.act.fn, PB_ACT_SOFTCAP);
	BAD("a GLU gate of softcap", "activation", glu, p.glu.fn, PB_ACT_SOFTCAP);
	BAD("n_rot odd", "rope", rope, p.rope.n_rot, 5);
	BAD("n_rot past head_dim", "rope", rope, p.rope.n_rot, 10);
	BAD("rope layout 2", "rope", rope, p.rope.layout, 2);
	BAD("rope mscale inf", "rope", rope, p.rope.mscale, INFINITY);
	BAD("rope factors of the wrong length", "expected", rope, weight, w8);
	BAD("a rope factor of 0", "positive", rope, weight, zero);
	BAD("attention softcap < 0", "softcap", attn, p.attention.softcap, -1.0f);
	BAD("attention softcap NaN", "softcap", attn, p.attention.softcap, NAN);
	BAD("attention window < 0", "window", attn, p.attention.window, -3);
	BAD("add_bias without a weight", "weight", bias, weight, -1);
	BAD("add_bias wider than its weight", "expected", bias, p.add_bias.width, 7);
	BAD("embed scale NaN", "scale", embed, p.embed.scale, NAN);
#undef BAD
	static const int32_t tok = 0;
	ck_assert_msg(b->ops->weights_load(b->st, &c.m) == 0, "%s", be_last_log);
	ck_assert_int_eq(b->ops->buffers_alloc(b->st, c.sizes, c.n_buf), 0);
	for (int i = 0; i < n; i++) {
		struct pb_graph g = { .ops = &bad[i].op, .n_ops = 1, .tokens = &tok, .n_tokens = 1 };
		be_last_log[0] = '\0';
		const int rc = b->ops->graph_compute(b->st, &g);
		ck_assert_msg(rc < 0, "%s: %s ran (rc %d)", b->p->name, bad[i].what, rc);
		ck_assert_msg(strstr(be_last_log, bad[i].log), "%s: %s: the error '%s' does not say '%s'",
			      b->p->name, bad[i].what, be_last_log, bad[i].log);
	}
	/* the same ops with good fields run */
	struct pb_op ok[4] = { bias, rope, attn, act };
	ok[1].weight = good;
	ok[1].p.rope.n_rot = 8;
	ok[2].p.attention.softcap = 30.0f;
	ok[2].p.attention.window = 1;
	ok[3].p.act = (typeof(ok[3].p.act)){ .width = 8, .fn = PB_ACT_SOFTCAP, .cap = 2.0f };
	struct pb_graph g = { .ops = ok, .n_ops = 4 };
	const int rc = b->ops->graph_compute(b->st, &g);
	ck_assert_msg(rc == 0, "%s: good ops after the refusals: %d: %s", b->p->name, rc, be_last_log);
	float x[8];
	ck_assert_int_eq(b->ops->buffer_read(b->st, 1, 0, 8, x), 0);
	edge_case_free(&c);
}

/* tests/lib/naive-ops.c — see naive-ops.h.  Formulas as the model
 * families define them (llama.cpp's ggml_rope with freq_factors and
 * ext_factor 0, Gemma 2's soft-capping, Mistral/Gemma's sliding window
 * p − j < window), in double, one element at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "model/quant.h"
#include "naive-ops.h"

/* the snapshot an op reads, and the live buffers it writes */
struct nv {
	const struct pb_model *m;
	float **in, **out;
	const int64_t *sizes;
	int n_buf;
};

/* element (t, i) of an operand, bounds-checked (a passing ck_assert
 * writes a checkpoint: too slow per element) */
static int64_t idx(const struct nv *v, const struct pb_act *a, int64_t t, int64_t i)
{
	const int64_t k = a->off + t * a->stride + i;
	if (a->buf < 0 || a->buf >= v->n_buf || k < 0 || k >= v->sizes[a->buf])
		ck_abort_msg("naive: element (%lld, %lld) of buffer %d off %lld stride %lld is outside it",
			     (long long)t, (long long)i, a->buf, (long long)a->off, (long long)a->stride);
	return k;
}

static double get(const struct nv *v, const struct pb_act *a, int64_t t, int64_t i)
{
	return v->in[a->buf][idx(v, a, t, i)];
}

static void put(const struct nv *v, const struct pb_act *a, int64_t t, int64_t i, double x)
{
	v->out[a->buf][idx(v, a, t, i)] = (float)x;
}

/* element (r, c) of the op's weight, dequantised */
static double wt(const struct nv *v, const struct pb_op *op, int64_t r, int64_t c)
{
	if (op->weight < 0 || op->weight >= v->m->n_tensors)
		ck_abort_msg("naive: no weight %d", op->weight);
	const struct pb_tensor *t = &v->m->tensors[op->weight];
	if (c >= t->ne[0] || r >= t->ne[1])
		ck_abort_msg("naive: element (%lld, %lld) outside '%s'", (long long)r, (long long)c, t->name);
	float *row = malloc((size_t)t->ne[0] * sizeof *row);
	if (pb_dequantize_row(t->dtype, (const uint8_t *)t->data + r * pb_row_bytes(t), row, t->ne[0]))
		ck_abort_msg("naive: cannot read '%s' (%s)", t->name, pb_dtype_name(t->dtype));
	const double x = row[c];
	free(row);
	return x;
}

static double act_fn(int fn, double cap, double x)
{
	switch (fn) {
	case PB_ACT_SILU: return x * (1.0 / (1.0 + exp(-x)));
	case PB_ACT_GELU: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * pow(x, 3))));
	case PB_ACT_RELU: return x < 0 ? 0.0 : x;
	case PB_ACT_SOFTCAP: return cap * tanh(x / cap);
	}
	ck_abort_msg("naive: activation %d", fn);
	return 0;
}

static void embed(const struct nv *v, const struct pb_op *op, const struct pb_graph *g)
{
	const double scale = op->p.embed.scale == 0.0f ? 1.0 : op->p.embed.scale;
	for (int t = 0; t < op->n_tokens; t++)
		for (int i = 0; i < op->p.embed.dim; i++)
			put(v, &op->dst, t, i, wt(v, op, g->tokens[t], i) * scale);
}

static void linear(const struct nv *v, const struct pb_op *op)
{
	for (int t = 0; t < op->n_tokens; t++)
		for (int o = 0; o < op->p.linear.n_out; o++) {
			double y = 0;
			for (int i = 0; i < op->p.linear.n_in; i++)
				y += wt(v, op, o, i) * get(v, &op->src[0], t, i);
			put(v, &op->dst, t, o, y);
		}
}

static void rmsnorm(const struct nv *v, const struct pb_op *op)
{
	const int dim = op->p.rmsnorm.dim;
	const double scale = op->p.rmsnorm.scale == 0.0f ? 1.0 : op->p.rmsnorm.scale;
	for (int t = 0; t < op->n_tokens; t++) {
		double ms = 0;
		for (int i = 0; i < dim; i++)
			ms += pow(get(v, &op->src[0], t, i), 2) / dim;
		for (int i = 0; i < dim; i++)
			put(v, &op->dst, t, i, get(v, &op->src[0], t, i) / sqrt(ms + op->p.rmsnorm.eps) *
			    wt(v, op, 0, i) * scale);
	}
}

/* (x_a, x_b) · e^{iθ}·mscale for the pairs of the first n_rot dims */
static void rope(const struct nv *v, const struct pb_op *op)
{
	const int hd = op->p.rope.head_dim, n_rot = op->p.rope.n_rot ? op->p.rope.n_rot : hd;
	const double mscale = op->p.rope.mscale == 0.0f ? 1.0 : op->p.rope.mscale;
	for (int t = 0; t < op->n_tokens; t++)
		for (int h = 0; h < op->p.rope.n_heads; h++)
			for (int i = 0; i < n_rot / 2; i++) {
				const double freq = 1.0 / pow(op->p.rope.theta, 2.0 * i / n_rot) /
					(op->weight >= 0 ? wt(v, op, 0, i) : 1.0);
				const double th = (op->p.rope.pos0 + t) * freq;
				const int a = h * hd + (op->p.rope.layout == PB_ROPE_HALF ? i : 2 * i);
				const int b = op->p.rope.layout == PB_ROPE_HALF ? a + n_rot / 2 : a + 1;
				const double re = get(v, &op->dst, t, a), im = get(v, &op->dst, t, b);
				put(v, &op->dst, t, a, mscale * (re * cos(th) - im * sin(th)));
				put(v, &op->dst, t, b, mscale * (re * sin(th) + im * cos(th)));
			}
}

static void kv_store(const struct nv *v, const struct pb_op *op)
{
	for (int t = 0; t < op->n_tokens; t++)
		for (int i = 0; i < op->p.kv_store.width; i++)
			put(v, &op->dst, op->p.kv_store.pos0 + t, i, get(v, &op->src[0], t, i));
}

/* Every key j of the cache gets a score or −∞ (masked); the softmax runs
 * over the whole row. */
static void attention(const struct nv *v, const struct pb_op *op)
{
	const int nh = op->p.attention.n_heads, hd = op->p.attention.head_dim;
	const int n_kv = op->p.attention.n_kv, rep = nh / op->p.attention.n_kv_heads;
	const double cap = op->p.attention.softcap;
	double *sc = malloc((size_t)n_kv * sizeof *sc);
	for (int t = 0; t < op->n_tokens; t++) {
		const long p = (long)op->p.attention.pos0 + t;
		for (int h = 0; h < nh; h++) {
			const int kh = h / rep;
			double mx = -INFINITY, sum = 0;
			for (int j = 0; j < n_kv; j++) {
				const int masked = (op->p.attention.causal && j > p) ||
					(op->p.attention.window > 0 && p - j >= op->p.attention.window);
				if (masked) {
					sc[j] = -INFINITY;
					continue;
				}
				double d = 0;
				for (int i = 0; i < hd; i++)
					d += get(v, &op->src[0], t, h * hd + i) * get(v, &op->src[1], j, kh * hd + i);
				d *= op->p.attention.scale;
				if (op->p.attention.bias.buf >= 0)
					d += get(v, &op->p.attention.bias, (long)h * op->n_tokens + t, j);
				if (cap > 0)
					d = cap * tanh(d / cap);
				sc[j] = d;
				mx = fmax(mx, d);
			}
			for (int j = 0; j < n_kv; j++)
				sum += isinf(sc[j]) ? 0.0 : exp(sc[j] - mx);
			for (int i = 0; i < hd; i++) {
				double y = 0;
				for (int j = 0; j < n_kv; j++)
					if (!isinf(sc[j]))
						y += exp(sc[j] - mx) / sum * get(v, &op->src[2], j, kh * hd + i);
				put(v, &op->dst, t, h * hd + i, y);   /* no key in sight: 0 */
			}
		}
	}
	free(sc);
}

static void elementwise(const struct nv *v, const struct pb_op *op)
{
	const int w = op->p.add.width;   /* width first in glu, act, add, copy, add_bias */
	for (int t = 0; t < op->n_tokens; t++)
		for (int i = 0; i < w; i++) {
			double y;
			switch (op->type) {
			case PB_OP_GLU:
				y = act_fn(op->p.glu.fn, 0, get(v, &op->src[0], t, i)) * get(v, &op->src[1], t, i);
				break;
			case PB_OP_ACT: y = act_fn(op->p.act.fn, op->p.act.cap, get(v, &op->src[0], t, i)); break;
			case PB_OP_ADD: y = get(v, &op->src[0], t, i) + get(v, &op->src[1], t, i); break;
			case PB_OP_ADD_BIAS: y = get(v, &op->dst, t, i) + wt(v, op, 0, i); break;
			default: y = get(v, &op->src[0], t, i); break;
			}
			put(v, &op->dst, t, i, y);
		}
}

void naive_graph(const struct pb_model *m, const struct pb_graph *g, float **bufs,
		 const int64_t *sizes, int n_buf)
{
	float *snap[8];
	ck_assert_int_le(n_buf, 8);
	struct nv v = { .m = m, .in = snap, .out = bufs, .sizes = sizes, .n_buf = n_buf };
	for (int k = 0; k < g->n_ops; k++) {
		const struct pb_op *op = &g->ops[k];
		for (int i = 0; i < n_buf; i++) {
			snap[i] = malloc((size_t)(sizes[i] ? sizes[i] : 1) * sizeof(float));
			memcpy(snap[i], bufs[i], (size_t)sizes[i] * sizeof(float));
		}
		switch (op->type) {
		case PB_OP_EMBED: embed(&v, op, g); break;
		case PB_OP_LINEAR: linear(&v, op); break;
		case PB_OP_RMSNORM: rmsnorm(&v, op); break;
		case PB_OP_ROPE: rope(&v, op); break;
		case PB_OP_ATTENTION: attention(&v, op); break;
		case PB_OP_KV_STORE: kv_store(&v, op); break;
		default: elementwise(&v, op); break;
		}
		for (int i = 0; i < n_buf; i++)
			free(snap[i]);
	}
}

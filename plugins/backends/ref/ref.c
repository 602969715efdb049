/* plugins/backends/ref/ref.c — the reference backend: plain, obvious C
 * with no SIMD and no threads, accumulating in double.  It is the ground
 * truth every other backend is tested against, op by op, so clarity wins
 * over speed; the one concession is the loop order of `linear`, which
 * walks each weight row once for all tokens of a step (cache-friendly for
 * prefill, a plain GEMV for decode).  Weights run in F32, F16, BF16, Q8_0,
 * Q4_0 and the k-quants Q2_K … Q6_K, each row dequantised to F32 on the
 * fly; the k-quant decoders are ref-kquant.c, ref's own. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "ref-kquant.h"

struct ref_config {
	int check_nan;
};

struct ref_buf {
	float *p;
	int64_t n;
};

struct ref_state {
	const struct pb_host *host;
	struct ref_config cfg;
	const struct pb_model *m;
	struct ref_buf *buf;
	int n_buf;
	float *row;           /* one weight row as F32 */
	int64_t row_cap;
	double *scores;       /* attention scores of one query row */
	int64_t scores_cap;
};

#define LOG(s, lvl, ...) ((s)->host->log((s)->host, (lvl), __VA_ARGS__))

static const char *const op_names[PB_OP_COUNT] = {
	"embed", "linear", "rmsnorm", "rope", "attention", "kv_store", "glu", "act", "add", "copy",
	"add_bias",
};

static int grow(void **p, int64_t *cap, int64_t n, size_t elem)
{
	if (n <= *cap)
		return 0;
	void *q = realloc(*p, (size_t)n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Does `a` address rows × width floats inside its buffer? */
static float *at(struct ref_state *s, const struct pb_act *a, int64_t rows, int64_t width,
		 const char *what, const struct pb_op *op)
{
	if (a->buf < 0 || a->buf >= s->n_buf || a->off < 0 || a->stride < 0 || rows < 0 ||
	    width < 0) {
		LOG(s, PB_LOG_ERROR, "%s: %s names no valid buffer (buf %d)", op_names[op->type],
		    what, a->buf);
		return NULL;
	}
	int64_t end = rows ? a->off + (rows - 1) * a->stride + width : a->off;
	if (end > s->buf[a->buf].n) {
		LOG(s, PB_LOG_ERROR, "%s: %s [buf %d, off %lld, %lld rows × %lld, stride %lld] exceeds its %lld floats",
		    op_names[op->type], what, a->buf, (long long)a->off, (long long)rows,
		    (long long)width, (long long)a->stride, (long long)s->buf[a->buf].n);
		return NULL;
	}
	return s->buf[a->buf].p + a->off;
}

/* The formats this backend runs, each by dequantising one row at a time
 * to F32 (`row` below); the block math is llama.cpp's reference
 * dequantization, written here again (plugins cannot link the core, and
 * the ground truth must not share the code it checks). */
#define REF_FORMATS (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16) | PB_FMT(PB_Q8_0) | \
		     PB_FMT(PB_Q4_0) | PB_FMT(PB_Q2_K) | PB_FMT(PB_Q3_K) | PB_FMT(PB_Q4_K) | \
		     PB_FMT(PB_Q5_K) | PB_FMT(PB_Q6_K))
#define REF_FORMAT_NAMES "F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K"

/* Weight tensor of an op, checked to be [ne0 × ne1] in a format we run
 * with data for every row. */
static const struct pb_tensor *weight(struct ref_state *s, const struct pb_op *op,
				      int64_t ne0, int64_t ne1)
{
	if (!s->m || op->weight < 0 || op->weight >= s->m->n_tensors) {
		LOG(s, PB_LOG_ERROR, "%s: no weight tensor %d", op_names[op->type], op->weight);
		return NULL;
	}
	const struct pb_tensor *t = &s->m->tensors[op->weight];
	const size_t rb = pb_row_bytes(t);
	if (t->ne[0] != ne0 || t->ne[1] != ne1 || !(PB_FMT(t->dtype) & REF_FORMATS) || !rb ||
	    t->nbytes / rb < (size_t)ne1) {
		LOG(s, PB_LOG_ERROR, "%s: tensor '%s' is %s [%lld × %lld], expected [%lld × %lld] in "
		    REF_FORMAT_NAMES " (whole blocks)", op_names[op->type], t->name,
		    pb_dtype_name(t->dtype), (long long)t->ne[0], (long long)t->ne[1], (long long)ne0,
		    (long long)ne1);
		return NULL;
	}
	return t;
}

static float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

/* Row r of t as floats: F32 rows are used in place, the others
 * dequantised into s->row. */
static const float *wrow(struct ref_state *s, const struct pb_tensor *t, int64_t r)
{
	const int64_t n = t->ne[0];
	const uint8_t *p = (const uint8_t *)t->data + (size_t)r * pb_row_bytes(t);
	float *y = s->row;
	switch (t->dtype) {
	case PB_F32:
		return (const float *)p;
	case PB_F16:
	case PB_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			y[i] = t->dtype == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
		}
		break;
	case PB_Q8_0:   /* blocks of 32: f16 scale d, 32 int8 q; x = d·q */
		for (int64_t b = 0; b < n / 32; b++, p += 34, y += 32) {
			const float d = half_at(p);
			for (int j = 0; j < 32; j++)
				y[j] = d * (float)(int8_t)p[2 + j];
		}
		break;
	case PB_Q2_K:
	case PB_Q3_K:
	case PB_Q4_K:
	case PB_Q5_K:
	case PB_Q6_K:
		ref_kquant_row(t->dtype, p, n, y);
		break;
	default:        /* Q4_0: f16 d, 16 bytes: element j low nibble, j + 16 high; x = d·(q − 8) */
		for (int64_t b = 0; b < n / 32; b++, p += 18, y += 32) {
			const float d = half_at(p);
			for (int j = 0; j < 16; j++) {
				y[j] = d * (float)((p[2 + j] & 0x0f) - 8);
				y[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
			}
		}
		break;
	}
	return s->row;
}

/* The operand checks and op glue below look like cpu-blas's (ops.c) on
 * purpose, and stay copies: ref is the ground truth cpu-blas is tested
 * against, so it shares no code with it, and a bug in one cannot hide by
 * being in both.  Do not factor them into a common file. */
static int op_embed(struct ref_state *s, const struct pb_op *op, const struct pb_graph *g)
{
	const int64_t dim = op->p.embed.dim;
	const struct pb_tensor *w = s->m && op->weight >= 0 && op->weight < s->m->n_tensors
		? &s->m->tensors[op->weight] : NULL;
	if (!w || !(w = weight(s, op, dim, w->ne[1])))
		return -EINVAL;
	float *dst = at(s, &op->dst, op->n_tokens, dim, "dst", op);
	if (!dst || !g->tokens || op->n_tokens > g->n_tokens)
		return -EINVAL;
	const float scale = op->p.embed.scale;
	if (!isfinite(scale)) {
		LOG(s, PB_LOG_ERROR, "embed: scale %g is not finite", scale);
		return -EINVAL;
	}
	for (int t = 0; t < op->n_tokens; t++) {
		int32_t id = g->tokens[t];
		if (id < 0 || id >= w->ne[1]) {
			LOG(s, PB_LOG_ERROR, "embed: token %d outside the vocabulary (%lld)", id,
			    (long long)w->ne[1]);
			return -EINVAL;
		}
		const float *wr = wrow(s, w, id);
		float *yr = dst + t * op->dst.stride;
		/* the product in F32, as every backend does it (Gemma's own
		 * rounding to its dtype is not modelled) */
		for (int64_t i = 0; i < dim; i++)
			yr[i] = scale != 0.0f ? wr[i] * scale : wr[i];
	}
	return 0;
}

static int op_linear(struct ref_state *s, const struct pb_op *op)
{
	const int64_t n_in = op->p.linear.n_in, n_out = op->p.linear.n_out;
	const struct pb_tensor *w = weight(s, op, n_in, n_out);
	const float *x = at(s, &op->src[0], op->n_tokens, n_in, "src0", op);
	float *y = at(s, &op->dst, op->n_tokens, n_out, "dst", op);
	if (!w || !x || !y)
		return -EINVAL;
	if (op->src[0].buf == op->dst.buf) {
		LOG(s, PB_LOG_ERROR, "linear: src0 and dst share buffer %d", op->dst.buf);
		return -EINVAL;
	}
	for (int64_t o = 0; o < n_out; o++) {
		const float *wr = wrow(s, w, o);
		for (int t = 0; t < op->n_tokens; t++) {
			const float *xr = x + t * op->src[0].stride;
			/* four partial sums: the same value up to rounding, and
			 * no serial dependency on one accumulator */
			double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
			int64_t i = 0;
			for (; i + 4 <= n_in; i += 4) {
				a0 += (double)wr[i] * xr[i];
				a1 += (double)wr[i + 1] * xr[i + 1];
				a2 += (double)wr[i + 2] * xr[i + 2];
				a3 += (double)wr[i + 3] * xr[i + 3];
			}
			for (; i < n_in; i++)
				a0 += (double)wr[i] * xr[i];
			y[t * op->dst.stride + o] = (float)((a0 + a1) + (a2 + a3));
		}
	}
	return 0;
}

static int op_rmsnorm(struct ref_state *s, const struct pb_op *op)
{
	const int64_t dim = op->p.rmsnorm.dim;
	const struct pb_tensor *w = weight(s, op, dim, 1);
	const float *x = at(s, &op->src[0], op->n_tokens, dim, "src0", op);
	float *y = at(s, &op->dst, op->n_tokens, dim, "dst", op);
	if (!w || !x || !y)
		return -EINVAL;
	const float *wr = wrow(s, w, 0);
	for (int t = 0; t < op->n_tokens; t++) {
		const float *xr = x + t * op->src[0].stride;
		float *yr = y + t * op->dst.stride;
		double ss = 0;
		for (int64_t i = 0; i < dim; i++)
			ss += (double)xr[i] * xr[i];
		double k = 1.0 / sqrt(ss / (double)dim + op->p.rmsnorm.eps);
		if (op->p.rmsnorm.scale != 0.0f)
			k *= op->p.rmsnorm.scale;
		for (int64_t i = 0; i < dim; i++)
			yr[i] = (float)(xr[i] * k * wr[i]);
	}
	return 0;
}

/* Frequency divisors of a rope op (pb_op.weight ≥ 0): [n_rot/2], every one
 * finite and positive; NULL with *ok set when the op has none. */
static const float *rope_factors(struct ref_state *s, const struct pb_op *op, int64_t n_pairs,
				 int *ok)
{
	*ok = 1;
	if (op->weight < 0)
		return NULL;
	const struct pb_tensor *w = weight(s, op, n_pairs, 1);
	const float *f = w ? wrow(s, w, 0) : NULL;
	for (int64_t i = 0; f && i < n_pairs; i++)
		if (!(f[i] > 0) || !isfinite(f[i])) {
			LOG(s, PB_LOG_ERROR, "rope: frequency factor %lld of '%s' is %g; factors "
			    "divide the frequencies and must be finite and positive", (long long)i,
			    w->name, f[i]);
			f = NULL;
		}
	*ok = f != NULL;
	return f;
}

/* Pair i of the first n_rot dims of each head (interleaved: 2i, 2i+1;
 * NeoX half: i, i + n_rot/2) rotates by pos · theta^(−2i/n_rot) / factor[i],
 * cos and sin times mscale; the dims past n_rot stay as they are
 * (llama.cpp's rope with freq_factors, ext_factor 0). */
static int op_rope(struct ref_state *s, const struct pb_op *op)
{
	const int64_t nh = op->p.rope.n_heads, hd = op->p.rope.head_dim;
	const int64_t n_rot = op->p.rope.n_rot ? op->p.rope.n_rot : hd;
	const int layout = op->p.rope.layout;
	const double mscale = op->p.rope.mscale != 0.0f ? op->p.rope.mscale : 1.0;
	if (nh < 0 || hd < 2 || hd % 2 || n_rot < 2 || n_rot % 2 || n_rot > hd ||
	    op->p.rope.pos0 < 0 || !(op->p.rope.theta > 0) || !isfinite(op->p.rope.theta) ||
	    !isfinite(mscale) || (layout != PB_ROPE_INTERLEAVED && layout != PB_ROPE_HALF)) {
		LOG(s, PB_LOG_ERROR, "rope: bad heads %lld, head_dim %lld, n_rot %d, pos0 %d, theta %g, "
		    "mscale %g or layout %d", (long long)nh, (long long)hd, op->p.rope.n_rot,
		    op->p.rope.pos0, op->p.rope.theta, op->p.rope.mscale, layout);
		return -EINVAL;
	}
	float *x = at(s, &op->dst, op->n_tokens, nh * hd, "dst", op);
	int ok;
	const float *factor = rope_factors(s, op, n_rot / 2, &ok);
	if (!x || !ok)
		return -EINVAL;
	const int half = layout == PB_ROPE_HALF;
	for (int t = 0; t < op->n_tokens; t++) {
		const double pos = op->p.rope.pos0 + t;
		for (int64_t h = 0; h < nh; h++) {
			float *v = x + t * op->dst.stride + h * hd;
			for (int64_t i = 0; i < n_rot / 2; i++) {
				double ang = pos * pow(op->p.rope.theta, -2.0 * (double)i / (double)n_rot);
				if (factor)
					ang /= factor[i];
				double c = cos(ang) * mscale, sn = sin(ang) * mscale;
				int64_t a = half ? i : 2 * i, b = half ? i + n_rot / 2 : 2 * i + 1;
				double x0 = v[a], x1 = v[b];
				v[a] = (float)(x0 * c - x1 * sn);
				v[b] = (float)(x0 * sn + x1 * c);
			}
		}
	}
	return 0;
}

static int op_kv_store(struct ref_state *s, const struct pb_op *op)
{
	const int64_t w = op->p.kv_store.width, p0 = op->p.kv_store.pos0;
	const float *x = at(s, &op->src[0], op->n_tokens, w, "src0", op);
	struct pb_act d = op->dst;
	if (p0 < 0)
		return -EINVAL;
	d.off += p0 * d.stride;
	float *y = at(s, &d, op->n_tokens, w, "dst (cache rows pos0..)", op);
	if (!x || !y)
		return -EINVAL;
	for (int t = 0; t < op->n_tokens; t++)
		memmove(y + t * d.stride, x + t * op->src[0].stride, (size_t)w * sizeof(float));
	return 0;
}

/* The optional bias is [n_heads × n_tokens] rows of n_kv (ops.h): row
 * h * n_tokens + t for head h and query t.  Query t sits at position
 * pos0 + t and sees keys first..last: last = its position when causal
 * (else the cache's end), first = position − window + 1 with a window. */
static int op_attention(struct ref_state *s, const struct pb_op *op)
{
	const int64_t nh = op->p.attention.n_heads, nkv = op->p.attention.n_kv_heads;
	const int64_t hd = op->p.attention.head_dim, n_kv = op->p.attention.n_kv;
	const int n = op->n_tokens;
	const double softcap = op->p.attention.softcap;
	const int64_t window = op->p.attention.window;
	if (nh < 1 || nkv < 1 || nh % nkv || hd < 1 || n_kv < 1 || op->p.attention.pos0 < 0) {
		LOG(s, PB_LOG_ERROR, "attention: bad sizes (heads %lld, kv heads %lld, head_dim %lld, "
		    "n_kv %lld, pos0 %d)", (long long)nh, (long long)nkv, (long long)hd,
		    (long long)n_kv, op->p.attention.pos0);
		return -EINVAL;
	}
	if (!(softcap >= 0) || !isfinite(softcap) || window < 0) {
		LOG(s, PB_LOG_ERROR, "attention: softcap %g or window %lld out of range (0 = none)",
		    softcap, (long long)window);
		return -EINVAL;
	}
	const float *q = at(s, &op->src[0], n, nh * hd, "q", op);
	const float *k = at(s, &op->src[1], n_kv, nkv * hd, "k cache", op);
	const float *v = at(s, &op->src[2], n_kv, nkv * hd, "v cache", op);
	float *y = at(s, &op->dst, n, nh * hd, "dst", op);
	const float *bias = NULL;
	if (op->p.attention.bias.buf >= 0 &&
	    !(bias = at(s, &op->p.attention.bias, nh * n, n_kv, "bias", op)))
		return -EINVAL;
	if (!q || !k || !v || !y || grow((void **)&s->scores, &s->scores_cap, n_kv, sizeof(double)))
		return -EINVAL;
	const int64_t group = nh / nkv;
	for (int t = 0; t < n; t++) {
		const int64_t pos = (int64_t)op->p.attention.pos0 + t;
		int64_t last = op->p.attention.causal ? pos : n_kv - 1;
		int64_t first = window > 0 ? pos - window + 1 : 0;
		if (last >= n_kv)
			last = n_kv - 1;
		if (first < 0)
			first = 0;
		for (int64_t h = 0; h < nh; h++) {
			const float *qr = q + t * op->src[0].stride + h * hd;
			const int64_t kh = h / group;
			const float *br = bias ? bias + (h * n + t) * op->p.attention.bias.stride : NULL;
			double mx = -INFINITY, sum = 0;
			for (int64_t j = first; j <= last; j++) {
				const float *kr = k + j * op->src[1].stride + kh * hd;
				double d = 0;
				for (int64_t i = 0; i < hd; i++)
					d += (double)qr[i] * kr[i];
				d = d * op->p.attention.scale + (br ? br[j] : 0.0);
				if (softcap > 0)
					d = softcap * tanh(d / softcap);
				s->scores[j] = d;
				mx = d > mx ? d : mx;
			}
			for (int64_t j = first; j <= last; j++) {
				s->scores[j] = exp(s->scores[j] - mx);
				sum += s->scores[j];
			}
			float *yr = y + t * op->dst.stride + h * hd;
			for (int64_t i = 0; i < hd; i++) {
				double acc = 0;
				for (int64_t j = first; j <= last; j++)
					acc += s->scores[j] * v[j * op->src[2].stride + kh * hd + i];
				/* no key in sight (a window past the cache's end): 0 */
				yr[i] = (float)(first <= last ? acc / sum : 0.0);
			}
		}
	}
	return 0;
}

static double act_fn(int fn, double cap, double x)
{
	switch (fn) {
	case PB_ACT_SILU: return x / (1.0 + exp(-x));
	case PB_ACT_GELU: return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
	case PB_ACT_SOFTCAP: return cap * tanh(x / cap);
	default: return x > 0 ? x : 0.0;
	}
}

/* glu, act, add, copy and add_bias: row-wise over `width` floats */
static int op_elementwise(struct ref_state *s, const struct pb_op *op)
{
	int64_t w;
	int fn = 0;
	double cap = 0;
	switch (op->type) {
	case PB_OP_GLU: w = op->p.glu.width; fn = op->p.glu.fn; break;
	case PB_OP_ACT: w = op->p.act.width; fn = op->p.act.fn; cap = op->p.act.cap; break;
	case PB_OP_ADD: w = op->p.add.width; break;
	case PB_OP_ADD_BIAS: w = op->p.add_bias.width; break;
	default: w = op->p.copy.width; break;
	}
	/* softcap only as an act: a GLU gate has no cap field */
	const int max_fn = op->type == PB_OP_ACT ? PB_ACT_SOFTCAP : PB_ACT_RELU;
	if ((op->type == PB_OP_GLU || op->type == PB_OP_ACT) && (fn < PB_ACT_SILU || fn > max_fn)) {
		LOG(s, PB_LOG_ERROR, "%s: unknown activation %d", op_names[op->type], fn);
		return -EINVAL;
	}
	if (op->type == PB_OP_ACT && fn == PB_ACT_SOFTCAP && (!(cap > 0) || !isfinite(cap))) {
		LOG(s, PB_LOG_ERROR, "act: softcap needs a finite cap > 0, got %g", cap);
		return -EINVAL;
	}
	const float *bw = NULL;
	if (op->type == PB_OP_ADD_BIAS) {
		const struct pb_tensor *t = weight(s, op, w, 1);
		if (!t)
			return -EINVAL;
		bw = wrow(s, t, 0);
	}
	const int two = op->type == PB_OP_GLU || op->type == PB_OP_ADD;
	/* add_bias reads and writes dst only */
	const float *a = op->type == PB_OP_ADD_BIAS ? NULL : at(s, &op->src[0], op->n_tokens, w, "src0", op);
	const float *b = two ? at(s, &op->src[1], op->n_tokens, w, "src1", op) : NULL;
	float *y = at(s, &op->dst, op->n_tokens, w, "dst", op);
	if ((op->type != PB_OP_ADD_BIAS && !a) || !y || (two && !b))
		return -EINVAL;
	for (int t = 0; t < op->n_tokens; t++) {
		const float *ar = a ? a + t * op->src[0].stride : NULL;
		const float *br = two ? b + t * op->src[1].stride : NULL;
		float *yr = y + t * op->dst.stride;
		for (int64_t i = 0; i < w; i++) {
			switch (op->type) {
			case PB_OP_GLU: yr[i] = (float)(act_fn(fn, 0, ar[i]) * br[i]); break;
			case PB_OP_ACT: yr[i] = (float)act_fn(fn, cap, ar[i]); break;
			case PB_OP_ADD: yr[i] = ar[i] + br[i]; break;
			case PB_OP_ADD_BIAS: yr[i] = yr[i] + bw[i]; break;
			default: yr[i] = ar[i]; break;
			}
		}
	}
	return 0;
}

/* check_nan: the op's dst rows must be finite */
static int check_finite(struct ref_state *s, const struct pb_op *op, int i)
{
	int64_t w;
	int64_t rows = op->n_tokens;
	struct pb_act d = op->dst;
	switch (op->type) {
	case PB_OP_EMBED: w = op->p.embed.dim; break;
	case PB_OP_LINEAR: w = op->p.linear.n_out; break;
	case PB_OP_RMSNORM: w = op->p.rmsnorm.dim; break;
	case PB_OP_ROPE: w = (int64_t)op->p.rope.n_heads * op->p.rope.head_dim; break;
	case PB_OP_ATTENTION: w = (int64_t)op->p.attention.n_heads * op->p.attention.head_dim; break;
	case PB_OP_KV_STORE: w = op->p.kv_store.width; d.off += op->p.kv_store.pos0 * d.stride; break;
	default: w = op->p.add.width; break;   /* glu, act, add, copy: width first */
	}
	const float *y = s->buf[d.buf].p + d.off;
	for (int64_t t = 0; t < rows; t++)
		for (int64_t j = 0; j < w; j++)
			if (!isfinite(y[t * d.stride + j])) {
				LOG(s, PB_LOG_ERROR, "op %d (%s): non-finite value at row %lld, column %lld",
				    i, op_names[op->type], (long long)t, (long long)j);
				return -EDOM;
			}
	return 0;
}

static int ref_graph_compute(void *state, const struct pb_graph *g)
{
	struct ref_state *s = state;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		int rc;
		if (op->n_tokens < 0 || (unsigned)op->type >= PB_OP_COUNT) {
			LOG(s, PB_LOG_ERROR, "op %d: bad type %d or n_tokens %d", i, op->type, op->n_tokens);
			return -EINVAL;
		}
		switch (op->type) {
		case PB_OP_EMBED: rc = op_embed(s, op, g); break;
		case PB_OP_LINEAR: rc = op_linear(s, op); break;
		case PB_OP_RMSNORM: rc = op_rmsnorm(s, op); break;
		case PB_OP_ROPE: rc = op_rope(s, op); break;
		case PB_OP_ATTENTION: rc = op_attention(s, op); break;
		case PB_OP_KV_STORE: rc = op_kv_store(s, op); break;
		case PB_OP_GLU:
		case PB_OP_ACT:
		case PB_OP_ADD:
		case PB_OP_COPY:
		case PB_OP_ADD_BIAS: rc = op_elementwise(s, op); break;
		default:
			LOG(s, PB_LOG_ERROR, "op %d: type %d is not one this backend runs", i, op->type);
			rc = -ENOTSUP;
			break;
		}
		if (rc == 0 && s->cfg.check_nan)
			rc = check_finite(s, op, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int ref_weights_load(void *state, const struct pb_model *m)
{
	struct ref_state *s = state;
	int64_t widest = 1;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->role == PB_ROLE_OTHER)
			continue;
		if (!(PB_FMT(t->dtype) & REF_FORMATS) || !pb_row_bytes(t)) {
			LOG(s, PB_LOG_ERROR, "tensor '%s' is %s [%lld × …]; this backend runs "
			    REF_FORMAT_NAMES " (rows of whole blocks)", t->name,
			    pb_dtype_name(t->dtype), (long long)t->ne[0]);
			return -ENOTSUP;
		}
		widest = t->ne[0] > widest ? t->ne[0] : widest;
	}
	if (grow((void **)&s->row, &s->row_cap, widest, sizeof(float)))
		return -ENOMEM;
	s->m = m;
	return 0;
}

/* Buffer management alike cpu-blas's, kept separate: see op_embed. */
static void free_buffers(struct ref_state *s)
{
	for (int i = 0; i < s->n_buf; i++)
		free(s->buf[i].p);
	free(s->buf);
	s->buf = NULL;
	s->n_buf = 0;
}

static int ref_buffers_alloc(void *state, const int64_t *sizes, int n)
{
	struct ref_state *s = state;
	free_buffers(s);
	if (n < 0)
		return -EINVAL;
	s->buf = calloc((size_t)(n ? n : 1), sizeof *s->buf);
	if (!s->buf)
		return -ENOMEM;
	s->n_buf = n;
	for (int i = 0; i < n; i++) {
		if (sizes[i] < 0)
			return -EINVAL;
		s->buf[i].p = calloc((size_t)(sizes[i] ? sizes[i] : 1), sizeof(float));
		s->buf[i].n = sizes[i];
		if (!s->buf[i].p) {
			LOG(s, PB_LOG_ERROR, "cannot allocate buffer %d of %lld floats", i, (long long)sizes[i]);
			return -ENOMEM;
		}
	}
	return 0;
}

static int ref_buffer_read(void *state, int buf, int64_t off, int64_t n, float *dst)
{
	struct ref_state *s = state;
	if (buf < 0 || buf >= s->n_buf || off < 0 || n < 0 || off > s->buf[buf].n - n)
		return -EINVAL;
	memcpy(dst, s->buf[buf].p + off, (size_t)n * sizeof(float));
	return 0;
}

static int ref_buffer_write(void *state, int buf, int64_t off, int64_t n, const float *src)
{
	struct ref_state *s = state;
	if (buf < 0 || buf >= s->n_buf || off < 0 || n < 0 || off > s->buf[buf].n - n)
		return -EINVAL;
	memcpy(s->buf[buf].p + off, src, (size_t)n * sizeof(float));
	return 0;
}

static int ref_weight_kernel(void *state, int idx, char *out, size_t len)
{
	struct ref_state *s = state;
	if (!s->m || idx < 0 || idx >= s->m->n_tensors)
		return -EINVAL;
	enum pb_dtype d = s->m->tensors[idx].dtype;
	/* the block formats are dequantised row by row before the dot
	 * products, which a report should be able to tell apart from float
	 * weights (F16/BF16 rows are widened element by element) */
	snprintf(out, len, "%s %s", pb_dtype_name(d), pb_dtype_block(d) > 1 ? "ref-dequant" : "ref");
	return 0;
}

static int ref_init(const struct pb_host *h, const void *config, void **state)
{
	struct ref_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = h;
	if (config)
		s->cfg = *(const struct ref_config *)config;
	*state = s;
	return 0;
}

static void ref_fini(void *state)
{
	struct ref_state *s = state;
	if (!s)
		return;
	free_buffers(s);
	free(s->row);
	free(s->scores);
	free(s);
}

static const struct pb_backend_ops ref_ops = {
	.struct_size = sizeof(struct pb_backend_ops),
	.formats = REF_FORMATS,
	.weights_load = ref_weights_load,
	.buffers_alloc = ref_buffers_alloc,
	.graph_compute = ref_graph_compute,
	.buffer_read = ref_buffer_read,
	.buffer_write = ref_buffer_write,
	.weight_kernel = ref_weight_kernel,
};

static const struct pb_option ref_options[] = {
	{ .key = "check_nan", .type = PB_OPT_BOOL, .offset = offsetof(struct ref_config, check_nan),
	  .def = "false", .help = "fail a step as soon as an op writes NaN or infinity" },
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_BACKEND,
	.name = "ref",
	.version = "1.0.0",
	.summary = "reference backend: plain C, no SIMD, no threads; the ground truth",
	.options = ref_options,
	.config_size = sizeof(struct ref_config),
	.init = ref_init,
	.fini = ref_fini,
	.ops = &ref_ops,
};

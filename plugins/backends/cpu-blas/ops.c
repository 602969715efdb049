/* plugins/backends/cpu-blas/ops.c — every op but linear: operand checks
 * (the same as the ref backend's), embed, rmsnorm, rope, kv_store, the
 * fused attention and the element-wise ops.  Reductions that ref does in
 * double stay in double here (cheap next to the linears) so the results
 * match ref to float rounding. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-blas.h"

const char *const cb_op_names[PB_OP_COUNT] = {
	"embed", "linear", "rmsnorm", "rope", "attention", "kv_store", "glu", "act", "add", "copy",
	"add_bias",
};

float *cb_at(struct cb_state *s, const struct pb_act *a, int64_t rows, int64_t width,
	     const char *what, const struct pb_op *op)
{
	if (a->buf < 0 || a->buf >= s->n_buf || a->off < 0 || a->stride < 0 || rows < 0 ||
	    width < 0) {
		CB_LOG(s, PB_LOG_ERROR, "%s: %s names no valid buffer (buf %d)",
		       cb_op_names[op->type], what, a->buf);
		return NULL;
	}
	int64_t end = rows ? a->off + (rows - 1) * a->stride + width : a->off;
	if (end > s->buf[a->buf].n) {
		CB_LOG(s, PB_LOG_ERROR, "%s: %s [buf %d, off %lld, %lld rows × %lld, stride %lld] exceeds its %lld floats",
		       cb_op_names[op->type], what, a->buf, (long long)a->off, (long long)rows,
		       (long long)width, (long long)a->stride, (long long)s->buf[a->buf].n);
		return NULL;
	}
	return s->buf[a->buf].p + a->off;
}

const struct pb_tensor *cb_weight(struct cb_state *s, const struct pb_op *op, int64_t ne0,
				  int64_t ne1)
{
	if (!s->m || op->weight < 0 || op->weight >= s->m->n_tensors) {
		CB_LOG(s, PB_LOG_ERROR, "%s: no weight tensor %d", cb_op_names[op->type], op->weight);
		return NULL;
	}
	const struct pb_tensor *t = &s->m->tensors[op->weight];
	const size_t rb = pb_row_bytes(t);
	if (t->ne[0] != ne0 || t->ne[1] != ne1 || !(PB_FMT(t->dtype) & CB_DENSE_FORMATS) || !rb ||
	    t->nbytes / rb < (size_t)ne1) {
		CB_LOG(s, PB_LOG_ERROR, "%s: tensor '%s' is %s [%lld × %lld], expected [%lld × %lld] in "
		       CB_DENSE_NAMES " (whole blocks)", cb_op_names[op->type], t->name,
		       pb_dtype_name(t->dtype), (long long)t->ne[0], (long long)t->ne[1],
		       (long long)ne0, (long long)ne1);
		return NULL;
	}
	return t;
}

/* The operand checks and op glue here look like the ref backend's on
 * purpose, and stay copies: ref is the ground truth this backend is tested
 * against, so it shares no code with cpu-blas, and a bug in one cannot hide
 * by being in both.  Do not factor them into a common file. */
int cb_op_embed(struct cb_state *s, const struct pb_op *op, const struct pb_graph *g)
{
	const int64_t dim = op->p.embed.dim;
	const struct pb_tensor *w = s->m && op->weight >= 0 && op->weight < s->m->n_tensors
		? &s->m->tensors[op->weight] : NULL;
	if (!w || !(w = cb_weight(s, op, dim, w->ne[1])))
		return -EINVAL;
	float *dst = cb_at(s, &op->dst, op->n_tokens, dim, "dst", op);
	if (!dst || !g->tokens || op->n_tokens > g->n_tokens)
		return -EINVAL;
	const float scale = op->p.embed.scale;
	if (!isfinite(scale)) {
		CB_LOG(s, PB_LOG_ERROR, "embed: scale %g is not finite", scale);
		return -EINVAL;
	}
	for (int t = 0; t < op->n_tokens; t++) {
		int32_t id = g->tokens[t];
		if (id < 0 || id >= w->ne[1]) {
			CB_LOG(s, PB_LOG_ERROR, "embed: token %d outside the vocabulary (%lld)", id,
			       (long long)w->ne[1]);
			return -EINVAL;
		}
		float *yr = dst + t * op->dst.stride;
		/* a repacked tied embedding: its row put together in the scratch
		 * (rmsnorm's weight row, not in use here) */
		s->deq[w->dtype](cb_row_bytes_of(s, op->weight, id, (uint8_t *)s->scratch[0]), dim, yr);
		if (scale != 0.0f)   /* Gemma's √dim, in F32 as ref */
			for (int64_t i = 0; i < dim; i++)
				yr[i] *= scale;
	}
	return 0;
}

int cb_op_rmsnorm(struct cb_state *s, const struct pb_op *op)
{
	const int64_t dim = op->p.rmsnorm.dim;
	const struct pb_tensor *w = cb_weight(s, op, dim, 1);
	const float *x = cb_at(s, &op->src[0], op->n_tokens, dim, "src0", op);
	float *y = cb_at(s, &op->dst, op->n_tokens, dim, "dst", op);
	if (!w || !x || !y)
		return -EINVAL;
	float *wr = s->scratch[0];   /* the caller's scratch: ops run one at a time */
	s->deq[w->dtype](w->data, dim, wr);
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

/* ref's rope (pairs of the first n_rot dims; frequency divisors; cos and
 * sin times mscale), the angles of one token computed once for all heads */
int cb_op_rope(struct cb_state *s, const struct pb_op *op)
{
	const int64_t nh = op->p.rope.n_heads, hd = op->p.rope.head_dim;
	const int64_t n_rot = op->p.rope.n_rot ? op->p.rope.n_rot : hd;
	const int layout = op->p.rope.layout;
	const double mscale = op->p.rope.mscale != 0.0f ? op->p.rope.mscale : 1.0;
	if (nh < 0 || hd < 2 || hd % 2 || n_rot < 2 || n_rot % 2 || n_rot > hd ||
	    op->p.rope.pos0 < 0 || !(op->p.rope.theta > 0) || !isfinite(op->p.rope.theta) ||
	    !isfinite(mscale) || (layout != PB_ROPE_INTERLEAVED && layout != PB_ROPE_HALF)) {
		CB_LOG(s, PB_LOG_ERROR, "rope: bad heads %lld, head_dim %lld, n_rot %d, pos0 %d, "
		       "theta %g, mscale %g or layout %d", (long long)nh, (long long)hd,
		       op->p.rope.n_rot, op->p.rope.pos0, op->p.rope.theta, op->p.rope.mscale, layout);
		return -EINVAL;
	}
	float *x = cb_at(s, &op->dst, op->n_tokens, nh * hd, "dst", op);
	if (!x)
		return -EINVAL;
	const int64_t np = n_rot / 2;
	const float *factor = NULL;
	if (op->weight >= 0) {
		const struct pb_tensor *w = cb_weight(s, op, np, 1);
		if (!w || np > s->scratch_n)
			return -EINVAL;
		float *f = s->scratch[0];   /* the caller's scratch: ops run one at a time */
		s->deq[w->dtype](w->data, np, f);
		for (int64_t i = 0; i < np; i++)
			if (!(f[i] > 0) || !isfinite(f[i])) {
				CB_LOG(s, PB_LOG_ERROR, "rope: frequency factor %lld of '%s' is %g; factors "
				       "divide the frequencies and must be finite and positive",
				       (long long)i, w->name, f[i]);
				return -EINVAL;
			}
		factor = f;
	}
	const int half = layout == PB_ROPE_HALF;
	/* cos, sin per pair; on the stack for usual head sizes so that a
	 * warm decode step allocates nothing (tests/cpu-blas/test-alloc.c) */
	double stack_cs[512];
	double *cs = n_rot <= 512 ? stack_cs : malloc((size_t)n_rot * sizeof *cs);
	if (!cs)
		return -ENOMEM;
	for (int t = 0; t < op->n_tokens; t++) {
		const double pos = op->p.rope.pos0 + t;
		for (int64_t i = 0; i < np; i++) {
			double ang = pos * pow(op->p.rope.theta, -2.0 * (double)i / (double)n_rot);
			if (factor)
				ang /= factor[i];
			cs[2 * i] = cos(ang) * mscale;
			cs[2 * i + 1] = sin(ang) * mscale;
		}
		for (int64_t h = 0; h < nh; h++) {
			float *v = x + t * op->dst.stride + h * hd;
			for (int64_t i = 0; i < np; i++) {
				int64_t a = half ? i : 2 * i, b = half ? i + np : 2 * i + 1;
				double x0 = v[a], x1 = v[b], c = cs[2 * i], sn = cs[2 * i + 1];
				v[a] = (float)(x0 * c - x1 * sn);
				v[b] = (float)(x0 * sn + x1 * c);
			}
		}
	}
	if (cs != stack_cs)
		free(cs);
	return 0;
}

int cb_op_kv_store(struct cb_state *s, const struct pb_op *op)
{
	const int64_t w = op->p.kv_store.width, p0 = op->p.kv_store.pos0;
	const float *x = cb_at(s, &op->src[0], op->n_tokens, w, "src0", op);
	struct pb_act d = op->dst;
	if (p0 < 0)
		return -EINVAL;
	d.off += p0 * d.stride;
	float *y = cb_at(s, &d, op->n_tokens, w, "dst (cache rows pos0..)", op);
	if (!x || !y)
		return -EINVAL;
	struct cb_buf *b = &s->buf[d.buf];
	if (s->cfg.kv_f16) {
		/* the cache's F16 copy, made at its first store (the prefill or
		 * warm-up, never a later decode step); from then on attention
		 * reads only it: half the bytes per step */
		if (!b->h) {   /* starts as the F32 buffer's values (buffer_write may have filled it) */
			if (!(b->h = malloc((size_t)(b->n ? b->n : 1) * sizeof *b->h)))
				return -ENOMEM;
			for (int64_t i = 0; i < b->n; i++)
				b->h[i] = pb_fp32_to_fp16(b->p[i]);
		}
		uint16_t *h = b->h + (y - b->p);
		for (int t = 0; t < op->n_tokens; t++)
			for (int64_t i = 0; i < w; i++)
				h[t * d.stride + i] = pb_fp32_to_fp16(x[t * op->src[0].stride + i]);
		return 0;
	}
	for (int t = 0; t < op->n_tokens; t++)
		memmove(y + t * d.stride, x + t * op->src[0].stride, (size_t)w * sizeof(float));
	return 0;
}

struct attn_job {
	const struct cb_kernels *kn;
	const struct pb_op *op;
	const float *q, *bias;
	const void *k, *v;         /* float, or F16 when f16 */
	int f16;
	float *y;
	int64_t nh, group, hd, n_kv;
	float **scratch;
};

/* One (query row, head): the keys it sees (ref's first..last) through
 * cb_attn_row's chunked softmax (kernels-attn.c), the accumulator in the
 * thread's scratch.  A task owns its row's whole reduction, so the
 * result does not depend on the thread count. */
static void attn_task(void *ctx, int64_t task, int tid)
{
	const struct attn_job *j = ctx;
	const struct pb_op *op = j->op;
	const int64_t t = task / j->nh, h = task % j->nh, hd = j->hd, kh = h / j->group;
	const int64_t pos = (int64_t)op->p.attention.pos0 + t, window = op->p.attention.window;
	int64_t last = op->p.attention.causal ? pos : j->n_kv - 1;
	int64_t first = window > 0 ? pos - window + 1 : 0;
	if (last >= j->n_kv)
		last = j->n_kv - 1;
	if (first < 0)
		first = 0;
	const size_t es = j->f16 ? 2 : 4;
	const int64_t n = first <= last ? last - first + 1 : 0;
	const struct cb_attn_row r = {
		.q = j->q + t * op->src[0].stride + h * hd,
		.k = (const uint8_t *)j->k + (size_t)(first * op->src[1].stride + kh * hd) * es,
		.v = (const uint8_t *)j->v + (size_t)(first * op->src[2].stride + kh * hd) * es,
		.ks = op->src[1].stride, .vs = op->src[2].stride,
		.bias = j->bias ? j->bias + (h * op->n_tokens + t) * op->p.attention.bias.stride + first
				: NULL,
		.n = n, .hd = hd, .scale = op->p.attention.scale, .softcap = op->p.attention.softcap,
		.f16 = j->f16, .y = j->y + t * op->dst.stride + h * hd,
	};
	cb_attn_row(j->kn, &r, j->scratch[tid]);
}

int cb_op_attention(struct cb_state *s, const struct pb_op *op)
{
	const int64_t nh = op->p.attention.n_heads, nkv = op->p.attention.n_kv_heads;
	const int64_t hd = op->p.attention.head_dim, n_kv = op->p.attention.n_kv;
	const int n = op->n_tokens;
	if (nh < 1 || nkv < 1 || nh % nkv || hd < 1 || n_kv < 1 || op->p.attention.pos0 < 0) {
		CB_LOG(s, PB_LOG_ERROR, "attention: bad sizes (heads %lld, kv heads %lld, head_dim %lld, "
		       "n_kv %lld, pos0 %d)", (long long)nh, (long long)nkv, (long long)hd,
		       (long long)n_kv, op->p.attention.pos0);
		return -EINVAL;
	}
	if (!(op->p.attention.softcap >= 0) || !isfinite(op->p.attention.softcap) ||
	    op->p.attention.window < 0) {
		CB_LOG(s, PB_LOG_ERROR, "attention: softcap %g or window %d out of range (0 = none)",
		       op->p.attention.softcap, op->p.attention.window);
		return -EINVAL;
	}
	if (hd > s->scratch_n) {
		CB_LOG(s, PB_LOG_ERROR, "attention: head_dim %lld is wider than any weight row",
		       (long long)hd);
		return -EINVAL;
	}
	const float *k = cb_at(s, &op->src[1], n_kv, nkv * hd, "k cache", op);
	const float *v = cb_at(s, &op->src[2], n_kv, nkv * hd, "v cache", op);
	struct attn_job j = {
		.kn = &s->k, .op = op, .nh = nh, .group = nh / nkv, .hd = hd, .n_kv = n_kv,
		.scratch = s->scratch, .k = k, .v = v,
		.q = cb_at(s, &op->src[0], n, nh * hd, "q", op),
		.y = cb_at(s, &op->dst, n, nh * hd, "dst", op),
	};
	if (op->p.attention.bias.buf >= 0 &&
	    !(j.bias = cb_at(s, &op->p.attention.bias, nh * n, n_kv, "bias", op)))
		return -EINVAL;
	if (!j.q || !k || !v || !j.y)
		return -EINVAL;
	/* caches kv_store wrote in F16 (kv_f16): both must be, or neither */
	const struct cb_buf *kb = &s->buf[op->src[1].buf], *vb = &s->buf[op->src[2].buf];
	if (!kb->h != !vb->h) {
		CB_LOG(s, PB_LOG_ERROR, "attention: one of the K/V caches (buffers %d, %d) is F16, the other "
		       "F32", op->src[1].buf, op->src[2].buf);
		return -EINVAL;
	}
	if (kb->h) {
		j.f16 = 1;
		j.k = kb->h + (k - kb->p);
		j.v = vb->h + (v - vb->p);
	}
	cb_pool_run(s->pool, attn_task, &j, (int64_t)n * nh);
	return 0;
}

static inline float act_fn(int fn, double cap, float x)
{
	switch (fn) {
	case PB_ACT_SILU: return (float)(x / (1.0 + exp(-(double)x)));
	case PB_ACT_GELU: return (float)(0.5 * x * (1.0 + tanh(0.7978845608028654 *
						(x + 0.044715 * (double)x * x * x))));
	case PB_ACT_SOFTCAP: return (float)(cap * tanh(x / cap));
	default: return x > 0 ? x : 0.0f;
	}
}

/* Four lanes of GCC's vector extension: SSE on x86-64, NEON on arm64 —
 * the plugin is built for the baseline ISA, where GCC's -O2 leaves these
 * loops scalar (its cost model will not add the alias checks). */
typedef float ew_v4 __attribute__((vector_size(16)));
typedef int32_t ew_i4 __attribute__((vector_size(16)));
enum { EW4_ADD, EW4_RELU, EW4_GLU_RELU };

static inline ew_v4 ew_ld(const float *p)
{
	ew_v4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* y[i] = a[i] + b[i], relu(a[i]) or relu(a[i])·b[i] over [i0, i1) in
 * steps of 4; returns the first i not done.  y may be a (in place) or
 * apart from a and b; a partial overlap is left to the scalar loop.
 * relu(x) = x > 0 ? x : 0 lane by lane (NaN and −0 give +0, as the
 * scalar code). */
static int64_t ew4(int kind, const float *a, const float *b, float *y, int64_t i0, int64_t i1)
{
	const uintptr_t ya = (uintptr_t)(y + i0), ye = (uintptr_t)(y + i1);
	const float *in[2] = { a, b };
	for (int k = 0; k < 2; k++)
		if (in[k] && in[k] != y && (uintptr_t)(in[k] + i0) < ye && ya < (uintptr_t)(in[k] + i1))
			return i0;
	const ew_v4 zero = { 0, 0, 0, 0 };
	int64_t i = i0;
	for (; i + 4 <= i1; i += 4) {
		const ew_v4 x = ew_ld(a + i);
		ew_v4 r;
		if (kind == EW4_ADD) {
			r = x + ew_ld(b + i);
		} else {
			r = (ew_v4)((ew_i4)(x > zero) & (ew_i4)x);
			if (kind == EW4_GLU_RELU)
				r = r * ew_ld(b + i);
		}
		memcpy(y + i, &r, sizeof r);
	}
	return i;
}

struct ew_job {
	const struct pb_op *op;
	const float *a, *b;        /* add_bias: b is the bias row */
	float *y;
	int64_t w, chunk, n_chunks;
	int fn;
	double cap;
};

#define EW_CHUNK 4096

static void ew_task(void *ctx, int64_t task, int tid)
{
	const struct ew_job *j = ctx;
	const struct pb_op *op = j->op;
	const int64_t t = task / j->n_chunks, i0 = task % j->n_chunks * EW_CHUNK;
	const int64_t i1 = i0 + EW_CHUNK < j->w ? i0 + EW_CHUNK : j->w;
	const float *ar = j->a ? j->a + t * op->src[0].stride : NULL;
	const float *br = op->type == PB_OP_ADD_BIAS ? j->b : j->b ? j->b + t * op->src[1].stride : NULL;
	float *yr = j->y + t * op->dst.stride;
	(void)tid;
	/* add, add_bias and ReLU (an act, or a GLU's gate: T5's FFN) four
	 * lanes at a time (ew4); the rest, and what is left of a row, one by
	 * one.  The same values either way: lane by lane the same float
	 * operations, and relu(a)·b of two floats is exact in double, so its
	 * rounding to float is the float product's. */
	const int relu = j->fn == PB_ACT_RELU;
	int64_t i = i0;
	switch (op->type) {
	case PB_OP_GLU:
		if (relu)
			i = ew4(EW4_GLU_RELU, ar, br, yr, i0, i1);
		for (; i < i1; i++)
			yr[i] = (float)((double)act_fn(j->fn, 0, ar[i]) * br[i]);
		break;
	case PB_OP_ACT:
		if (relu)
			i = ew4(EW4_RELU, ar, NULL, yr, i0, i1);
		for (; i < i1; i++)
			yr[i] = act_fn(j->fn, j->cap, ar[i]);
		break;
	case PB_OP_ADD:
		for (i = ew4(EW4_ADD, ar, br, yr, i0, i1); i < i1; i++)
			yr[i] = ar[i] + br[i];
		break;
	case PB_OP_ADD_BIAS:
		for (i = ew4(EW4_ADD, yr, br, yr, i0, i1); i < i1; i++)
			yr[i] += br[i];
		break;
	default:
		memmove(yr + i0, ar + i0, (size_t)(i1 - i0) * sizeof(float));
		break;
	}
}

/* glu, act, add, copy and add_bias */
int cb_op_elementwise(struct cb_state *s, const struct pb_op *op)
{
	struct ew_job j = { .op = op };
	switch (op->type) {
	case PB_OP_GLU: j.w = op->p.glu.width; j.fn = op->p.glu.fn; break;
	case PB_OP_ACT: j.w = op->p.act.width; j.fn = op->p.act.fn; j.cap = op->p.act.cap; break;
	case PB_OP_ADD: j.w = op->p.add.width; break;
	case PB_OP_ADD_BIAS: j.w = op->p.add_bias.width; break;
	default: j.w = op->p.copy.width; break;
	}
	/* softcap only as an act: a GLU gate has no cap field */
	const int max_fn = op->type == PB_OP_ACT ? PB_ACT_SOFTCAP : PB_ACT_RELU;
	if ((op->type == PB_OP_GLU || op->type == PB_OP_ACT) && (j.fn < PB_ACT_SILU || j.fn > max_fn)) {
		CB_LOG(s, PB_LOG_ERROR, "%s: unknown activation %d", cb_op_names[op->type], j.fn);
		return -EINVAL;
	}
	if (op->type == PB_OP_ACT && j.fn == PB_ACT_SOFTCAP && (!(j.cap > 0) || !isfinite(j.cap))) {
		CB_LOG(s, PB_LOG_ERROR, "act: softcap needs a finite cap > 0, got %g", j.cap);
		return -EINVAL;
	}
	const int two = op->type == PB_OP_GLU || op->type == PB_OP_ADD;
	if (op->type == PB_OP_ADD_BIAS) {   /* reads and writes dst only */
		const struct pb_tensor *w = cb_weight(s, op, j.w, 1);
		if (!w || j.w > s->scratch_n)
			return -EINVAL;
		if (w->dtype == PB_F32) {
			j.b = w->data;
		} else {   /* the caller's scratch, read-only while the workers run */
			s->deq[w->dtype](w->data, j.w, s->scratch[0]);
			j.b = s->scratch[0];
		}
	} else {
		j.a = cb_at(s, &op->src[0], op->n_tokens, j.w, "src0", op);
		j.b = two ? cb_at(s, &op->src[1], op->n_tokens, j.w, "src1", op) : NULL;
		if (!j.a || (two && !j.b))
			return -EINVAL;
	}
	j.y = cb_at(s, &op->dst, op->n_tokens, j.w, "dst", op);
	if (!j.y)
		return -EINVAL;
	if (j.w == 0)
		return 0;
	j.n_chunks = (j.w + EW_CHUNK - 1) / EW_CHUNK;
	const int64_t n_tasks = op->n_tokens * j.n_chunks;
	/* small ops are cheaper on one thread than a wake-up */
	if ((int64_t)op->n_tokens * j.w < 16384 || n_tasks == 1) {
		for (int64_t t = 0; t < n_tasks; t++)
			ew_task(&j, t, 0);
		return 0;
	}
	cb_pool_run(s->pool, ew_task, &j, n_tasks);
	return 0;
}

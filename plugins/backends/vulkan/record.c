/* plugins/backends/vulkan/record.c — one step (a prefill, a decode token)
 * as one command buffer: every op checked as the ref backend checks it,
 * then bound, pushed and dispatched; a barrier only before an op that
 * reads or writes a buffer an earlier op of the step wrote (or writes
 * one it read), so independent ops (q, k and v; gate and up) run
 * together.  The step is submitted without waiting: buffer_read is the
 * host's only sync.  Token ids and RoPE cos/sin (computed here in double)
 * go in the step's table region. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

const char *const vk_op_names[PB_OP_COUNT] = {
	"embed", "linear", "rmsnorm", "rope", "attention", "kv_store", "glu", "act", "add", "copy",
	"add_bias",
};

/* one RoPE table of a step: cos, sin per (token, pair of the n_rot
 * rotated dims), frequency divisors and mscale folded in */
struct vk_rope_key {
	int32_t pos0, n, n_rot;
	int32_t factors;        /* tensor of frequency divisors, -1: none */
	float theta, mscale;
	int64_t off;            /* floats into the step's table region */
};

#define TT 8                /* tokens per linear workgroup in a prefill (linear.comp) */
#define MAX_HD 256          /* attention.comp */

/* Absolute float offset of `a` in the acts arena, checked to address
 * rows × width floats inside its buffer (the ref backend's rule). */
static int act(struct vk_state *s, const struct pb_act *a, int64_t rows, int64_t width,
	       const char *what, const struct pb_op *op, uint32_t *off, uint32_t *stride)
{
	if (a->buf < 0 || a->buf >= s->n_buf || a->off < 0 || a->stride < 0 || rows < 0 || width < 0) {
		VK_LOG(s, PB_LOG_ERROR, "%s: %s names no valid buffer (buf %d)", vk_op_names[op->type],
		       what, a->buf);
		return -EINVAL;
	}
	int64_t end = rows ? a->off + (rows - 1) * a->stride + width : a->off;
	if (end > s->buf_n[a->buf]) {
		VK_LOG(s, PB_LOG_ERROR, "%s: %s [buf %d, off %lld, %lld rows × %lld, stride %lld] exceeds "
		       "its %lld floats", vk_op_names[op->type], what, a->buf, (long long)a->off,
		       (long long)rows, (long long)width, (long long)a->stride,
		       (long long)s->buf_n[a->buf]);
		return -EINVAL;
	}
	*off = (uint32_t)(s->buf_off[a->buf] + a->off);
	*stride = rows > 1 ? (uint32_t)a->stride : 0;
	return 0;
}

/* Two operands in one buffer must be the very same rows or lie apart:
 * the shaders run every element at once (a GPU has no memmove order).
 * Apart includes column slices of the same rows (fused QKV, gate/up):
 * one stride, and column ranges that neither wrap past it nor meet. */
static int apart(struct vk_state *s, const struct pb_op *op, const struct pb_act *a, int64_t ra,
		 int64_t wa, const struct pb_act *b, int64_t rb, int64_t wb)
{
	if (a->buf != b->buf || !ra || !rb)
		return 0;
	if (a->off == b->off && ra == rb && wa == wb && (a->stride == b->stride || ra == 1))
		return 0;
	int64_t ea = a->off + (ra - 1) * a->stride + wa, eb = b->off + (rb - 1) * b->stride + wb;
	if (ea <= b->off || eb <= a->off)
		return 0;
	const int64_t st = a->stride;
	if (st > 0 && b->stride == st && ra > 1 && rb > 1) {
		const int64_t ca = a->off % st, cb = b->off % st;
		if (ca + wa <= st && cb + wb <= st && (ca + wa <= cb || cb + wb <= ca))
			return 0;
	}
	VK_LOG(s, PB_LOG_ERROR, "%s: operands overlap in buffer %d (off %lld and %lld)",
	       vk_op_names[op->type], a->buf, (long long)a->off, (long long)b->off);
	return -EINVAL;
}

/* The op's weight tensor: uploaded, [ne0 × ne1] (ne1 < 0: any rows). */
static const struct vk_weight *weight(struct vk_state *s, const struct pb_op *op, int64_t ne0,
				      int64_t ne1, const struct pb_tensor **tp)
{
	if (!s->m || op->weight < 0 || op->weight >= s->m->n_tensors || s->w[op->weight].arena < 0) {
		VK_LOG(s, PB_LOG_ERROR, "%s: no weight tensor %d on the device", vk_op_names[op->type],
		       op->weight);
		return NULL;
	}
	const struct pb_tensor *t = &s->m->tensors[op->weight];
	if (t->ne[0] != ne0 || (ne1 >= 0 && t->ne[1] != ne1)) {
		VK_LOG(s, PB_LOG_ERROR, "%s: tensor '%s' is [%lld × %lld], expected [%lld × %lld]",
		       vk_op_names[op->type], t->name, (long long)t->ne[0], (long long)t->ne[1],
		       (long long)ne0, (long long)ne1);
		return NULL;
	}
	*tp = t;
	return &s->w[op->weight];
}

/* ---- the step table ---- */

static int rope_same(const struct vk_rope_key *k, const struct pb_op *op, int32_t n_rot)
{
	return k->pos0 == op->p.rope.pos0 && k->n == op->n_tokens && k->n_rot == n_rot &&
	       k->theta == op->p.rope.theta && k->factors == (op->weight >= 0 ? op->weight : -1) &&
	       k->mscale == (op->p.rope.mscale != 0.0f ? op->p.rope.mscale : 1.0f);
}

static int32_t rope_n_rot(const struct pb_op *op)
{
	return op->p.rope.n_rot ? op->p.rope.n_rot : op->p.rope.head_dim;
}

static int rope_find(struct vk_state *s, int n_ropes, const struct pb_op *op)
{
	for (int i = 0; i < n_ropes; i++)
		if (rope_same(&s->ropes[i], op, rope_n_rot(op)))
			return i;
	return -1;
}

static double rope_factor(const struct pb_tensor *t, int i)
{
	uint16_t h;
	float f;
	if (t->dtype == PB_F32) {
		memcpy(&f, (const char *)t->data + 4 * i, 4);
		return f;
	}
	memcpy(&h, (const char *)t->data + 2 * i, 2);
	return t->dtype == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
}

/* A rope's frequency divisors, read on the host (the table is made
 * there): [n_rot/2] in F32, F16 or BF16, each finite and positive. */
static int rope_factors_check(struct vk_state *s, const struct pb_op *op, int32_t n_rot)
{
	if (op->weight < 0)
		return 0;
	if (!s->m || op->weight >= s->m->n_tensors) {
		VK_LOG(s, PB_LOG_ERROR, "rope: no frequency factor tensor %d", op->weight);
		return -EINVAL;
	}
	const struct pb_tensor *t = &s->m->tensors[op->weight];
	if (t->ne[0] != n_rot / 2 || t->ne[1] != 1 ||
	    (t->dtype != PB_F32 && t->dtype != PB_F16 && t->dtype != PB_BF16) ||
	    t->nbytes < (size_t)(n_rot / 2) * pb_dtype_block_bytes(t->dtype)) {
		VK_LOG(s, PB_LOG_ERROR, "rope: frequency factors '%s' are %s [%lld × %lld], expected "
		       "[%d × 1] in F32, F16 or BF16", t->name, pb_dtype_name(t->dtype),
		       (long long)t->ne[0], (long long)t->ne[1], n_rot / 2);
		return -EINVAL;
	}
	for (int i = 0; i < n_rot / 2; i++) {
		const double f = rope_factor(t, i);
		if (!(f > 0) || !isfinite(f)) {
			VK_LOG(s, PB_LOG_ERROR, "rope: frequency factor %d of '%s' is %g; factors divide "
			       "the frequencies and must be finite and positive", i, t->name, f);
			return -EINVAL;
		}
	}
	return 0;
}

/* Lay out the step's table: token ids first, then each distinct RoPE.
 * Every op's type is checked here, before anything is recorded. */
static int plan(struct vk_state *s, const struct pb_graph *g, int *n_ropes, int64_t *floats)
{
	int64_t used = g->n_tokens > 0 ? g->n_tokens : 0;
	*n_ropes = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->n_tokens < 0 || (unsigned)op->type >= PB_OP_COUNT) {
			VK_LOG(s, PB_LOG_ERROR, "op %d: bad type %d or n_tokens %d", i, op->type,
			       op->n_tokens);
			return -EINVAL;
		}
		if (op->type != PB_OP_ROPE)
			continue;
		const int32_t hd = op->p.rope.head_dim, n_rot = rope_n_rot(op);
		const float ms = op->p.rope.mscale;
		if (hd < 2 || hd % 2 || n_rot < 2 || n_rot % 2 || n_rot > hd || op->p.rope.pos0 < 0 ||
		    !(op->p.rope.theta > 0) || !isfinite(op->p.rope.theta) || !isfinite(ms) ||
		    (op->p.rope.layout != PB_ROPE_INTERLEAVED && op->p.rope.layout != PB_ROPE_HALF)) {
			VK_LOG(s, PB_LOG_ERROR, "rope: bad head_dim %d, n_rot %d, pos0 %d, theta %g, "
			       "mscale %g or layout %d", hd, op->p.rope.n_rot, op->p.rope.pos0,
			       op->p.rope.theta, ms, op->p.rope.layout);
			return -EINVAL;
		}
		if (rope_find(s, *n_ropes, op) >= 0)   /* checked, and its table made */
			continue;
		int rc = rope_factors_check(s, op, n_rot);
		if (rc < 0)
			return rc;
		if (*n_ropes == s->cap_ropes) {
			int cap = s->cap_ropes ? 2 * s->cap_ropes : 4;
			void *p = realloc(s->ropes, (size_t)cap * sizeof *s->ropes);
			if (!p)
				return -ENOMEM;
			s->ropes = p;
			s->cap_ropes = cap;
		}
		s->ropes[(*n_ropes)++] = (struct vk_rope_key){
			.pos0 = op->p.rope.pos0, .n = op->n_tokens, .n_rot = n_rot,
			.factors = op->weight >= 0 ? op->weight : -1, .theta = op->p.rope.theta,
			.mscale = ms != 0.0f ? ms : 1.0f, .off = used,
		};
		used += (int64_t)op->n_tokens * n_rot;
	}
	*floats = used;
	return 0;
}

/* cos and sin in double on the host, as ref computes them */
static void fill_table(struct vk_state *s, const struct pb_graph *g, int n_ropes, float *tab)
{
	if (g->n_tokens > 0 && g->tokens)
		memcpy(tab, g->tokens, (size_t)g->n_tokens * sizeof(int32_t));   /* read as uint bits */
	for (int r = 0; r < n_ropes; r++) {
		const struct vk_rope_key *k = &s->ropes[r];
		const struct pb_tensor *f = k->factors >= 0 ? &s->m->tensors[k->factors] : NULL;
		float *c = tab + k->off;
		for (int t = 0; t < k->n; t++)
			for (int i = 0; i < k->n_rot / 2; i++, c += 2) {
				double ang = (double)(k->pos0 + t) *
					pow(k->theta, -2.0 * (double)i / (double)k->n_rot);
				if (f)
					ang /= rope_factor(f, i);
				c[0] = (float)(cos(ang) * k->mscale);
				c[1] = (float)(sin(ang) * k->mscale);
			}
	}
}

/* ---- recording ---- */

struct rec {
	struct vk_state *s;
	VkCommandBuffer cmd;
	VkPipeline bound;
	int set;                /* weight arena whose set is bound */
	uint32_t tab_base;      /* the slot's table region, in floats */
};

/* Buffers an op reads and writes: a barrier first when it touches what
 * an earlier op of the step wrote, or writes what one read. */
static void hazard(struct rec *r, const int *reads, int n_reads, int wbuf)
{
	struct vk_state *s = r->s;
	int need = s->dirty_w[wbuf] || s->dirty_r[wbuf];
	for (int i = 0; i < n_reads && !need; i++)
		need = s->dirty_w[reads[i]];
	if (need) {
		vk_barrier(s, r->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
			   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
		memset(s->dirty_w, 0, (size_t)s->n_buf);
		memset(s->dirty_r, 0, (size_t)s->n_buf);
		s->barriers++;
	}
	for (int i = 0; i < n_reads; i++)
		s->dirty_r[reads[i]] = 1;
	s->dirty_w[wbuf] = 1;
}

static int dispatch(struct rec *r, enum vk_kernel k, enum pb_dtype fmt, int arena, const void *push,
		    uint32_t push_size, uint32_t gx, uint32_t gy)
{
	struct vk_state *s = r->s;
	const uint32_t *lim = s->props.limits.maxComputeWorkGroupCount;
	VkPipeline p = vk_pipeline(s, k, fmt);
	if (!p)
		return -EIO;
	if (gx > lim[0] || gy > lim[1]) {
		VK_LOG(s, PB_LOG_ERROR, "%u × %u workgroups exceed this device's %u × %u", gx, gy,
		       lim[0], lim[1]);
		return -E2BIG;
	}
	if (!gx || !gy)
		return 0;
	if (p != r->bound) {
		s->fn.vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p);
		r->bound = p;
	}
	if (arena >= 0 && arena != r->set) {
		s->fn.vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->layout, 0, 1,
					      &s->sets[arena], 0, NULL);
		r->set = arena;
	}
	s->fn.vkCmdPushConstants(r->cmd, s->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
	s->fn.vkCmdDispatch(r->cmd, gx, gy, 1);
	s->dispatches++;
	return 0;
}

static uint32_t groups(int64_t n, uint32_t per)
{
	return (uint32_t)((n + per - 1) / per);
}

static int rec_embed(struct rec *r, const struct pb_op *op, const struct pb_graph *g)
{
	struct vk_state *s = r->s;
	const struct pb_tensor *t;
	const int64_t dim = op->p.embed.dim;
	const struct vk_weight *w = weight(s, op, dim, -1, &t);
	struct { uint32_t y_off, y_stride, w_off, w_row, dim, tab_off; float scale; } p;
	if (!w || act(s, &op->dst, op->n_tokens, dim, "dst", op, &p.y_off, &p.y_stride) < 0)
		return -EINVAL;
	if (!isfinite(op->p.embed.scale)) {
		VK_LOG(s, PB_LOG_ERROR, "embed: scale %g is not finite", op->p.embed.scale);
		return -EINVAL;
	}
	if (!g->tokens || op->n_tokens > g->n_tokens)
		return -EINVAL;
	for (int i = 0; i < op->n_tokens; i++)
		if (g->tokens[i] < 0 || g->tokens[i] >= t->ne[1]) {
			VK_LOG(s, PB_LOG_ERROR, "embed: token %d outside the vocabulary (%lld)",
			       g->tokens[i], (long long)t->ne[1]);
			return -EINVAL;
		}
	p.w_off = w->off16;
	p.w_row = w->row16;
	p.dim = (uint32_t)dim;
	p.tab_off = r->tab_base;
	p.scale = op->p.embed.scale;
	hazard(r, NULL, 0, op->dst.buf);
	return dispatch(r, VK_K_EMBED, t->dtype, w->arena, &p, sizeof p, groups(dim, s->wg),
			(uint32_t)op->n_tokens);
}

static int rec_linear(struct rec *r, const struct pb_op *op)
{
	struct vk_state *s = r->s;
	const struct pb_tensor *t;
	const int64_t n_in = op->p.linear.n_in, n_out = op->p.linear.n_out;
	const struct vk_weight *w = weight(s, op, n_in, n_out, &t);
	struct {
		uint32_t x_off, x_stride, y_off, y_stride, w_off, w_row, n_in, n_out, n_tokens, row0;
	} p;
	if (!w || act(s, &op->src[0], op->n_tokens, n_in, "src0", op, &p.x_off, &p.x_stride) < 0 ||
	    act(s, &op->dst, op->n_tokens, n_out, "dst", op, &p.y_off, &p.y_stride) < 0)
		return -EINVAL;
	if (op->src[0].buf == op->dst.buf) {
		VK_LOG(s, PB_LOG_ERROR, "linear: src0 and dst share buffer %d", op->dst.buf);
		return -EINVAL;
	}
	p.w_off = w->off16;
	p.w_row = w->row16;
	p.n_in = (uint32_t)n_in;
	p.n_out = (uint32_t)n_out;
	p.n_tokens = (uint32_t)op->n_tokens;
	hazard(r, &op->src[0].buf, 1, op->dst.buf);
	/* rows in chunks of the device's workgroup-count limit */
	const int64_t chunk = (int64_t)s->props.limits.maxComputeWorkGroupCount[0] * s->rpw;
	for (int64_t row0 = 0; row0 < n_out; row0 += chunk) {
		p.row0 = (uint32_t)row0;
		int64_t rows = n_out - row0 < chunk ? n_out - row0 : chunk;
		int rc = op->n_tokens == 1 ?
			dispatch(r, VK_K_GEMV, t->dtype, w->arena, &p, sizeof p, groups(rows, s->rpw), 1) :
			dispatch(r, VK_K_LINEAR, t->dtype, w->arena, &p, sizeof p, groups(rows, s->rpw),
				 groups(op->n_tokens, TT));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int rec_rmsnorm(struct rec *r, const struct pb_op *op)
{
	struct vk_state *s = r->s;
	const struct pb_tensor *t;
	const int64_t dim = op->p.rmsnorm.dim;
	const struct vk_weight *w = weight(s, op, dim, 1, &t);
	struct { uint32_t x_off, x_stride, y_off, y_stride, w_off, dim; float eps, scale; } p;
	if (!w || act(s, &op->src[0], op->n_tokens, dim, "src0", op, &p.x_off, &p.x_stride) < 0 ||
	    act(s, &op->dst, op->n_tokens, dim, "dst", op, &p.y_off, &p.y_stride) < 0 ||
	    apart(s, op, &op->src[0], op->n_tokens, dim, &op->dst, op->n_tokens, dim) < 0)
		return -EINVAL;
	p.w_off = w->off16;
	p.dim = (uint32_t)dim;
	p.eps = op->p.rmsnorm.eps;
	p.scale = op->p.rmsnorm.scale;
	hazard(r, &op->src[0].buf, 1, op->dst.buf);
	/* one workgroup per row, rows in chunks of the workgroup-count limit
	 * (a per-head norm has tokens × heads rows) */
	const int64_t chunk = s->props.limits.maxComputeWorkGroupCount[0];
	const uint32_t x0 = p.x_off, y0 = p.y_off;
	for (int64_t row0 = 0; row0 < op->n_tokens; row0 += chunk) {
		const int64_t rows = op->n_tokens - row0 < chunk ? op->n_tokens - row0 : chunk;
		p.x_off = x0 + (uint32_t)(row0 * p.x_stride);
		p.y_off = y0 + (uint32_t)(row0 * p.y_stride);
		int rc = dispatch(r, VK_K_RMSNORM, t->dtype, w->arena, &p, sizeof p, (uint32_t)rows, 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int rec_rope(struct rec *r, const struct pb_op *op, int n_ropes)
{
	struct vk_state *s = r->s;
	const int64_t nh = op->p.rope.n_heads, hd = op->p.rope.head_dim, np = rope_n_rot(op) / 2;
	struct { uint32_t x_off, x_stride, n_heads, head_dim, half_layout, tab_off, n_pairs; } p;
	if (nh < 0 || act(s, &op->dst, op->n_tokens, nh * hd, "dst", op, &p.x_off, &p.x_stride) < 0)
		return -EINVAL;
	p.n_heads = (uint32_t)nh;
	p.head_dim = (uint32_t)hd;
	p.half_layout = op->p.rope.layout == PB_ROPE_HALF;
	p.tab_off = r->tab_base + (uint32_t)s->ropes[rope_find(s, n_ropes, op)].off;
	p.n_pairs = (uint32_t)np;
	hazard(r, NULL, 0, op->dst.buf);
	return dispatch(r, VK_K_ROPE, PB_F32, -1, &p, sizeof p, groups(nh * np, s->wg),
			(uint32_t)op->n_tokens);
}

static int rec_attention(struct rec *r, const struct pb_op *op)
{
	struct vk_state *s = r->s;
	const int64_t nh = op->p.attention.n_heads, nkv = op->p.attention.n_kv_heads;
	const int64_t hd = op->p.attention.head_dim, n_kv = op->p.attention.n_kv;
	const int n = op->n_tokens;
	struct {
		uint32_t q_off, q_stride, k_off, k_stride, v_off, v_stride, y_off, y_stride;
		uint32_t bias_off, bias_stride, has_bias;
		uint32_t n_tokens, n_heads, group, head_dim, pos0, n_kv, causal;
		float scale, softcap;
		uint32_t window;
	} p = { 0 };
	if (nh < 1 || nkv < 1 || nh % nkv || hd < 1 || n_kv < 1 || op->p.attention.pos0 < 0) {
		VK_LOG(s, PB_LOG_ERROR, "attention: bad sizes (heads %lld, kv heads %lld, head_dim %lld, n_kv %lld)",
		       (long long)nh, (long long)nkv, (long long)hd, (long long)n_kv);
		return -EINVAL;
	}
	if (!(op->p.attention.softcap >= 0) || !isfinite(op->p.attention.softcap) ||
	    op->p.attention.window < 0) {
		VK_LOG(s, PB_LOG_ERROR, "attention: softcap %g or window %d out of range (0 = none)",
		       op->p.attention.softcap, op->p.attention.window);
		return -EINVAL;
	}
	if (hd > MAX_HD) {
		VK_LOG(s, PB_LOG_ERROR, "attention: head_dim %lld; this backend runs up to %d",
		       (long long)hd, MAX_HD);
		return -ENOTSUP;
	}
	if (act(s, &op->src[0], n, nh * hd, "q", op, &p.q_off, &p.q_stride) < 0 ||
	    act(s, &op->src[1], n_kv, nkv * hd, "k cache", op, &p.k_off, &p.k_stride) < 0 ||
	    act(s, &op->src[2], n_kv, nkv * hd, "v cache", op, &p.v_off, &p.v_stride) < 0 ||
	    act(s, &op->dst, n, nh * hd, "dst", op, &p.y_off, &p.y_stride) < 0)
		return -EINVAL;
	int reads[4] = { op->src[0].buf, op->src[1].buf, op->src[2].buf, 0 }, n_reads = 3;
	if (op->p.attention.bias.buf >= 0) {
		if (act(s, &op->p.attention.bias, nh * n, n_kv, "bias", op, &p.bias_off,
			&p.bias_stride) < 0)
			return -EINVAL;
		p.has_bias = 1;
		reads[n_reads++] = op->p.attention.bias.buf;
	}
	/* the output must not alias an input other workgroups still read (the
	 * very q rows are fine: each workgroup reads its own before writing) */
	if (apart(s, op, &op->src[0], n, nh * hd, &op->dst, n, nh * hd) < 0 ||
	    apart(s, op, &op->src[1], n_kv, nkv * hd, &op->dst, n, nh * hd) < 0 ||
	    apart(s, op, &op->src[2], n_kv, nkv * hd, &op->dst, n, nh * hd) < 0 ||
	    (p.has_bias && apart(s, op, &op->p.attention.bias, nh * n, n_kv, &op->dst, n, nh * hd) < 0))
		return -EINVAL;
	p.n_tokens = (uint32_t)n;
	p.n_heads = (uint32_t)nh;
	p.group = (uint32_t)(nh / nkv);
	p.head_dim = (uint32_t)hd;
	p.pos0 = (uint32_t)op->p.attention.pos0;
	p.n_kv = (uint32_t)n_kv;
	p.causal = op->p.attention.causal != 0;
	p.scale = op->p.attention.scale;
	p.softcap = op->p.attention.softcap;
	p.window = (uint32_t)op->p.attention.window;
	hazard(r, reads, n_reads, op->dst.buf);
	return dispatch(r, VK_K_ATTENTION, PB_F32, -1, &p, sizeof p, (uint32_t)nh, (uint32_t)n);
}

/* glu, act, add, copy, kv_store and add_bias (op codes as elementwise.comp) */
static int rec_elementwise(struct rec *r, const struct pb_op *op)
{
	struct vk_state *s = r->s;
	struct {
		uint32_t op, fn, width, a_off, a_stride, b_off, b_stride, y_off, y_stride, w_off;
		float cap;
	} p = { 0 };
	int64_t w;
	int fn = 0;
	struct pb_act d = op->dst;
	switch (op->type) {
	case PB_OP_GLU: w = op->p.glu.width; fn = op->p.glu.fn; p.op = 0; break;
	case PB_OP_ACT: w = op->p.act.width; fn = op->p.act.fn; p.cap = op->p.act.cap; p.op = 1; break;
	case PB_OP_ADD: w = op->p.add.width; p.op = 2; break;
	case PB_OP_KV_STORE:
		w = op->p.kv_store.width;
		p.op = 3;
		if (op->p.kv_store.pos0 < 0)
			return -EINVAL;
		d.off += (int64_t)op->p.kv_store.pos0 * d.stride;
		break;
	case PB_OP_ADD_BIAS: w = op->p.add_bias.width; p.op = 4; break;
	default: w = op->p.copy.width; p.op = 3; break;
	}
	/* softcap only as an act: a GLU gate has no cap field */
	const int max_fn = op->type == PB_OP_ACT ? PB_ACT_SOFTCAP : PB_ACT_RELU;
	if ((op->type == PB_OP_GLU || op->type == PB_OP_ACT) && (fn < PB_ACT_SILU || fn > max_fn)) {
		VK_LOG(s, PB_LOG_ERROR, "%s: unknown activation %d", vk_op_names[op->type], fn);
		return -EINVAL;
	}
	if (op->type == PB_OP_ACT && fn == PB_ACT_SOFTCAP && (!(p.cap > 0) || !isfinite(p.cap))) {
		VK_LOG(s, PB_LOG_ERROR, "act: softcap needs a finite cap > 0, got %g", p.cap);
		return -EINVAL;
	}
	const int two = op->type == PB_OP_GLU || op->type == PB_OP_ADD;
	const char *dname = op->type == PB_OP_KV_STORE ? "dst (cache rows pos0..)" : "dst";
	if (op->type == PB_OP_ADD_BIAS) {
		/* dst += bias: dst is read in place (a), the bias row is a weight */
		const struct pb_tensor *t;
		const struct vk_weight *wt = weight(s, op, w, 1, &t);
		if (!wt || act(s, &d, op->n_tokens, w, dname, op, &p.y_off, &p.y_stride) < 0)
			return -EINVAL;
		p.width = (uint32_t)w;
		p.a_off = p.y_off;
		p.a_stride = p.y_stride;
		p.w_off = wt->off16;
		hazard(r, &d.buf, 1, d.buf);
		return dispatch(r, VK_K_ELEMWISE, t->dtype, wt->arena, &p, sizeof p, groups(w, s->wg),
				(uint32_t)op->n_tokens);
	}
	if (act(s, &op->src[0], op->n_tokens, w, "src0", op, &p.a_off, &p.a_stride) < 0 ||
	    (two && act(s, &op->src[1], op->n_tokens, w, "src1", op, &p.b_off, &p.b_stride) < 0) ||
	    act(s, &d, op->n_tokens, w, dname, op, &p.y_off, &p.y_stride) < 0 ||
	    apart(s, op, &op->src[0], op->n_tokens, w, &d, op->n_tokens, w) < 0 ||
	    (two && apart(s, op, &op->src[1], op->n_tokens, w, &d, op->n_tokens, w) < 0))
		return -EINVAL;
	p.fn = (uint32_t)fn;
	p.width = (uint32_t)w;
	const int reads[2] = { op->src[0].buf, two ? op->src[1].buf : op->src[0].buf };
	hazard(r, reads, 2, d.buf);
	return dispatch(r, VK_K_ELEMWISE, PB_F32, -1, &p, sizeof p, groups(w, s->wg),
			(uint32_t)op->n_tokens);
}

int vk_graph_compute(void *state, const struct pb_graph *g)
{
	struct vk_state *s = state;
	int n_ropes, rc;
	int64_t floats;
	if (!s->m || !s->acts.b) {
		VK_LOG(s, PB_LOG_ERROR, "graph_compute before weights_load and buffers_alloc");
		return -EINVAL;
	}
	if ((rc = plan(s, g, &n_ropes, &floats)) < 0 || (rc = vk_table_reserve(s, floats)) < 0)
		return rc;
	struct vk_slot *sl = &s->slot[s->next_slot];
	if ((rc = vk_wait(s, sl)) < 0)   /* VK_SLOTS steps ago: normally long done */
		return rc;
	struct rec r = { .s = s, .cmd = sl->cmd, .set = -1,
			 .tab_base = (uint32_t)(s->next_slot * s->table_cap) };
	fill_table(s, g, n_ropes, (float *)s->table.map + r.tab_base);
	if ((rc = vk_begin(s, sl)) < 0)
		return rc;
	const uint32_t q = (uint32_t)s->next_slot * 2;
	if (s->queries) {
		s->fn.vkCmdResetQueryPool(r.cmd, s->queries, q, 2);
		s->fn.vkCmdWriteTimestamp(r.cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s->queries, q);
	}
	if ((rc = vk_flush_uploads(s, r.cmd)) < 0)
		goto fail;
	/* what earlier steps and readbacks did to the buffers */
	vk_barrier(s, r.cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		   VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
		   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
	memset(s->dirty_w, 0, (size_t)s->n_buf);
	memset(s->dirty_r, 0, (size_t)s->n_buf);
	s->fn.vkCmdBindDescriptorSets(r.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->layout, 0, 1,
				      &s->sets[0], 0, NULL);
	r.set = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->n_tokens == 0)
			continue;
		switch (op->type) {
		case PB_OP_EMBED: rc = rec_embed(&r, op, g); break;
		case PB_OP_LINEAR: rc = rec_linear(&r, op); break;
		case PB_OP_RMSNORM: rc = rec_rmsnorm(&r, op); break;
		case PB_OP_ROPE: rc = rec_rope(&r, op, n_ropes); break;
		case PB_OP_ATTENTION: rc = rec_attention(&r, op); break;
		case PB_OP_KV_STORE:
		case PB_OP_GLU:
		case PB_OP_ACT:
		case PB_OP_ADD:
		case PB_OP_COPY:
		case PB_OP_ADD_BIAS: rc = rec_elementwise(&r, op); break;
		default:
			VK_LOG(s, PB_LOG_ERROR, "op %d: type %d is not one this backend runs", i,
			       op->type);
			rc = -ENOTSUP;
			break;
		}
		if (rc < 0) {
			VK_LOG(s, PB_LOG_DEBUG, "op %d (%s) not recorded", i, vk_op_names[op->type]);
			goto fail;
		}
	}
	if (s->queries)
		s->fn.vkCmdWriteTimestamp(r.cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s->queries, q + 1);
	if ((rc = vk_submit(s, sl)) < 0)
		return rc;
	vk_uploads_done(s);
	sl->timed = s->queries != VK_NULL_HANDLE;
	s->next_slot = (s->next_slot + 1) % VK_SLOTS;
	s->steps++;
	return 0;
fail:
	s->fn.vkEndCommandBuffer(r.cmd);   /* abandoned: reset at the slot's next use */
	return rc;
}

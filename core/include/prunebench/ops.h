/* prunebench/ops.h — the op list a backend executes.
 *
 * Architectures live in the core and describe one step (a prefill, or one
 * decode token) as a list of ops over activation buffers the backend owns.
 * A backend runs the list in order; it may fuse or batch internally but the
 * result must equal running each op on its own.  Only buffer_read()
 * synchronises with the host.
 *
 * Buffers hold F32 values.  A pb_act addresses a matrix of `n_tokens` rows
 * inside buffer `buf`: element (t, i) is at float index off + t*stride + i.
 * Every op takes its sizes from its own fields, never from a global
 * hyper-parameter, because structured pruning makes layers differ.
 *
 * Ownership: the graph and everything it points to are borrowed for the
 * duration of graph_compute().
 */
#ifndef PRUNEBENCH_OPS_H
#define PRUNEBENCH_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pb_op_type {
	PB_OP_EMBED = 0,  /* dst[t,:] = W[tokens[t],:]           (weight: [dim × vocab]) */
	PB_OP_LINEAR,     /* dst[t,:] = src0[t,:] · Wᵀ            (weight: [out × in]) */
	PB_OP_RMSNORM,    /* dst = src0 / rms(src0) * w * scale   (weight: [dim]) */
	PB_OP_ROPE,       /* rotate dst in place, positions pos0 + t */
	PB_OP_ATTENTION,  /* dst = softmax(q·kᵀ·scale + bias, mask) · v */
	PB_OP_KV_STORE,   /* cache[pos0 + t, :] = src0[t, :]      (dst addresses the cache) */
	PB_OP_GLU,        /* dst = act(src0) * src1 */
	PB_OP_ACT,        /* dst = act(src0) */
	PB_OP_ADD,        /* dst = src0 + src1 */
	PB_OP_COPY,       /* dst = src0 */
	PB_OP_ADD_BIAS,   /* dst[t,:] += W[:]                     (weight: [width], F32) */
	PB_OP_COUNT
};

enum pb_act_fn {
	PB_ACT_SILU = 0,
	PB_ACT_GELU = 1,  /* tanh approximation, as T5/GPT use */
	PB_ACT_RELU = 2,
	PB_ACT_SOFTCAP = 3,  /* cap·tanh(x / cap), cap = p.act.cap (Gemma 2's logits) */
};

struct pb_act {
	int32_t buf;      /* buffer index; -1 = none */
	int32_t pad_;
	int64_t off;      /* in floats */
	int64_t stride;   /* floats between consecutive rows */
};

struct pb_op {
	enum pb_op_type type;
	int32_t n_tokens;      /* rows processed */
	int32_t weight;        /* index into pb_model.tensors, -1 = none */
	struct pb_act dst;
	struct pb_act src[3];  /* attention: q, k cache, v cache */
	union {
		struct {
			int32_t dim;
			float scale;               /* multiplies the row; 0 means 1 (Gemma: √dim) */
		} embed;
		struct { int32_t n_in, n_out; } linear;
		struct {
			int32_t dim;
			float eps;
			float scale;               /* multiplies dst; 0 means 1 (T5's tied LM head: d_model^-0.5) */
		} rmsnorm;
		struct {
			int32_t n_heads, head_dim, pos0;
			int32_t layout;            /* enum pb_rope_layout */
			float theta;
			/* pb_op.weight ≥ 0: an F32 [n_rot/2] tensor of
			 * frequency divisors (llama3 scaling's rope_freqs,
			 * Phi-3's longrope factors): pair i rotates by
			 * pos · theta^(−2i/n_rot) / factor[i] (ggml's rope
			 * with freq_factors; n_rot = head_dim unless set). */
			float mscale;              /* multiplies cos and sin; 0 means 1 (longrope) */
			/* The rotation dims: the first n_rot of each head
			 * rotate, the rest pass through; 0 means head_dim. */
			int32_t n_rot;
		} rope;
		struct {
			int32_t n_heads, n_kv_heads, head_dim;
			int32_t pos0;              /* position of query row 0 */
			int32_t n_kv;              /* cache rows to attend over */
			int32_t causal;            /* query t sees keys <= pos0 + t */
			float scale;               /* T5: 1 (folded into its weights) */
			/* optional additive bias (buf -1: none), added to the
			 * scaled scores before the mask and softmax: head h,
			 * query row t, key j at float bias.off + (h * n_tokens + t)
			 * * bias.stride + j, for h < n_heads, t < n_tokens,
			 * j < n_kv.  T5 writes its relative-position bias here
			 * with stride n_kv, once per step, shared by the layers. */
			struct pb_act bias;
			/* Gemma 2: scores become softcap·tanh(score / softcap)
			 * after scaling and bias, before the mask; 0: none. */
			float softcap;
			/* Sliding window: query at position p sees key j only
			 * when p − j < window (and j ≤ p when causal); 0: all. */
			int32_t window;
		} attention;
		struct { int32_t width, pos0; } kv_store;
		struct { int32_t width; int32_t fn; } glu;   /* fn: enum pb_act_fn */
		struct {
			int32_t width;
			int32_t fn;
			float cap;                 /* PB_ACT_SOFTCAP */
		} act;
		struct { int32_t width; } add_bias;
		struct { int32_t width; } add;
		struct { int32_t width; } copy;
	} p;
};

struct pb_graph {
	const struct pb_op *ops;
	int n_ops;
	const int32_t *tokens;  /* for PB_OP_EMBED, n_tokens entries */
	int n_tokens;
};

#ifdef __cplusplus
}
#endif
#endif

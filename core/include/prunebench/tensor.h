/* prunebench/tensor.h — weight tensors as the core and every plugin see them.
 *
 * A tensor is a named, typed block of host memory with up to four
 * dimensions in GGUF order: ne[0] is the innermost (contiguous) dimension.
 * For a linear weight W of shape [out × in] that means ne[0] = in (columns)
 * and ne[1] = out (rows), so row r starts at byte r * pb_row_bytes(t).
 *
 * Ownership: the model owns every tensor and its data.  `data` may point
 * into a private copy-on-write mapping of the model file, so a pruner may
 * write to it in place.  A plugin that changes a tensor's shape or format
 * replaces `data` through pb_host.tensor_realloc, never with its own malloc.
 */
#ifndef PRUNEBENCH_TENSOR_H
#define PRUNEBENCH_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Weight formats.  Numbering is ours (GGUF's type ids are mapped in the
 * GGUF reader); append only. */
enum pb_dtype {
	PB_F32 = 0,
	PB_F16 = 1,
	PB_BF16 = 2,
	PB_Q8_0 = 3,    /* GGUF block: f16 scale + 32 int8 */
	PB_Q4_0 = 4,    /* GGUF block: f16 scale + 16 bytes of nibbles */
	PB_CSR = 5,     /* unstructured sparse, backend-private layout */
	/* 2:4 packed (core/model/nm24.c packs it for a backend that declares
	 * PB_FMT(PB_NM_2_4); nothing else stores it).  ne[] keeps the dense
	 * shape [cols, rows]; cols is a multiple of 4.  data holds, for
	 * R = rows and C = cols:
	 *   values  R × C/2 floats (F32, row-major): per row, for each group
	 *           of 4 consecutive columns, its two kept values in column
	 *           order;
	 *   indices R × C/4 bytes after the values: byte g of row r gives the
	 *           offsets (0..3) within group g of those two values, the
	 *           first in bits 0-1, the second in bits 2-3, first < second;
	 *           bits 4-7 are zero.
	 * nbytes = R·C·2 + R·C/4.  A group with fewer than two non-zeros
	 * stores zeros at its lowest free offsets.  So W[r][4g + ((b >> 2k)
	 * & 3)] = values[r·C/2 + 2g + k] for k = 0, 1, b = indices[r·C/4 + g],
	 * and every other element of the group is 0. */
	PB_NM_2_4 = 6,
	/* llama.cpp's k-quants (ggml-common.h), super-blocks of QK_K = 256
	 * elements; f16 values little-endian.  x ≈ d·scale·q − dmin·min.
	 *   Q2_K  84 B: scales[16] (sub-block of 16: low nibble scale, high
	 *         nibble min), qs[64] (2 bits), f16 d, f16 dmin.
	 *   Q3_K 110 B: hmask[32] (high bit), qs[64] (low 2 bits),
	 *         scales[12] (16 six-bit scales, offset 32), f16 d.
	 *   Q4_K 144 B: f16 d, f16 dmin, scales[12] (8 six-bit scales and 8
	 *         six-bit mins of 32-element sub-blocks), qs[128] (nibbles).
	 *   Q5_K 176 B: f16 d, f16 dmin, scales[12], qh[32] (5th bit),
	 *         qs[128].
	 *   Q6_K 210 B: ql[128] (low 4 bits), qh[64] (high 2 bits),
	 *         int8 scales[16], f16 d; x = d·scale·(q − 32).
	 * The element order inside a super-block is ggml's (see
	 * core/model/kquant.c, dequantize_row_q*_K). */
	PB_Q2_K = 7,
	PB_Q3_K = 8,
	PB_Q4_K = 9,
	PB_Q5_K = 10,
	PB_Q6_K = 11,
	PB_DTYPE_COUNT
};

#define PB_FMT(d) (1u << (d))   /* bit in pb_backend_ops.formats */

#define PB_TENSOR_NAME_MAX 96
#define PB_MAX_DIMS 4

/* Where a tensor sits in an architecture.  The arch code finds weights by
 * (layer, role); pruners select by role.  Append only. */
enum pb_role {
	PB_ROLE_OTHER = 0,
	PB_ROLE_TOK_EMBD,
	PB_ROLE_ATTN_NORM,
	PB_ROLE_ATTN_Q,
	PB_ROLE_ATTN_K,
	PB_ROLE_ATTN_V,
	PB_ROLE_ATTN_O,
	PB_ROLE_FFN_NORM,
	PB_ROLE_FFN_GATE,
	PB_ROLE_FFN_UP,
	PB_ROLE_FFN_DOWN,
	PB_ROLE_OUT_NORM,
	PB_ROLE_OUTPUT,
	/* encoder-decoder (T5) */
	/* T5 relative position bias of a stack: ne[0] = n_heads, ne[1] =
	 * n_buckets, i.e. HF's [num_buckets, n_heads] matrix row-major (row b
	 * holds bucket b's bias for every head).  It sits at layer 0 and the
	 * whole stack shares it; a block whose heads were pruned differently
	 * carries its own at its layer (ne[0] = its heads).  core/arch/t5.c. */
	PB_ROLE_ATTN_REL_BIAS,
	PB_ROLE_CROSS_NORM,
	PB_ROLE_CROSS_Q,
	PB_ROLE_CROSS_K,
	PB_ROLE_CROSS_V,
	PB_ROLE_CROSS_O,
	/* the edge model families (Qwen2/3, Llama 3, Gemma 2/3, Phi-3) */
	PB_ROLE_ATTN_Q_BIAS,     /* [q width]   Qwen2: added after the q projection */
	PB_ROLE_ATTN_K_BIAS,     /* [kv width] */
	PB_ROLE_ATTN_V_BIAS,     /* [kv width] */
	PB_ROLE_ATTN_Q_NORM,     /* [head_dim]  Qwen3, Gemma 3: RMSNorm of each q head */
	PB_ROLE_ATTN_K_NORM,     /* [head_dim] */
	PB_ROLE_ATTN_POST_NORM,  /* [dim]       Gemma 2/3: RMSNorm of the attention output */
	PB_ROLE_FFN_POST_NORM,   /* [dim]       Gemma 2/3: RMSNorm of the FFN output */
	PB_ROLE_ROPE_FREQS,      /* [head_dim/2] global: RoPE frequency divisors (llama3 scaling) */
	PB_ROLE_ROPE_FACTORS_SHORT, /* [head_dim/2] Phi-3 longrope, ctx ≤ original */
	PB_ROLE_ROPE_FACTORS_LONG,  /* [head_dim/2] Phi-3 longrope, longer contexts */
	PB_ROLE_ATTN_QKV,        /* [dim × (q + 2·kv)] Phi-3 fused q, k, v rows (in that order) */
	PB_ROLE_FFN_GATE_UP,     /* [dim × 2·ffn] Phi-3 fused gate rows then up rows */
	PB_ROLE_COUNT
};

/* Which stack of an encoder-decoder a tensor belongs to (pb_tensor.stack).
 * Decoder-only models use PB_STACK_DECODER throughout. */
enum pb_stack {
	PB_STACK_DECODER = 0,
	PB_STACK_ENCODER = 1,
};

struct pb_tensor {
	char name[PB_TENSOR_NAME_MAX];  /* GGUF name, e.g. "blk.0.attn_q.weight" */
	enum pb_dtype dtype;
	int n_dims;
	int64_t ne[PB_MAX_DIMS];        /* unused dims are 1 */
	void *data;
	size_t nbytes;
	int layer;                      /* block index, -1 for global tensors */
	enum pb_role role;
	uint32_t flags;                 /* PB_TENSOR_* */
	enum pb_stack stack;            /* encoder or decoder (T5); decoder for decoder-only */
};

#define PB_TENSOR_OWNED 1u  /* data was allocated by the core (not the mapping) */

static inline int pb_role_is_linear(enum pb_role r)
{
	return (r >= PB_ROLE_ATTN_Q && r <= PB_ROLE_ATTN_O) ||
	       (r >= PB_ROLE_FFN_GATE && r <= PB_ROLE_FFN_DOWN) ||
	       (r >= PB_ROLE_CROSS_Q && r <= PB_ROLE_CROSS_O) ||
	       r == PB_ROLE_OUTPUT || r == PB_ROLE_ATTN_QKV || r == PB_ROLE_FFN_GATE_UP;
}

static inline int pb_role_is_attention(enum pb_role r)
{
	return (r >= PB_ROLE_ATTN_Q && r <= PB_ROLE_ATTN_O) ||
	       (r >= PB_ROLE_CROSS_Q && r <= PB_ROLE_CROSS_O) || r == PB_ROLE_ATTN_QKV;
}

static inline int pb_role_is_ffn(enum pb_role r)
{
	return (r >= PB_ROLE_FFN_GATE && r <= PB_ROLE_FFN_DOWN) || r == PB_ROLE_FFN_GATE_UP;
}

static inline int pb_dtype_is_kquant(enum pb_dtype d)
{
	return d >= PB_Q2_K && d <= PB_Q6_K;
}

static inline int64_t pb_tensor_nelements(const struct pb_tensor *t)
{
	return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

/* Elements per block and bytes per block of a dense format; 0 for the
 * backend-private sparse formats. */
static inline int pb_dtype_block(enum pb_dtype d)
{
	if (d == PB_Q8_0 || d == PB_Q4_0)
		return 32;
	return (d >= PB_Q2_K && d <= PB_Q6_K) ? 256 : 1;
}

static inline size_t pb_dtype_block_bytes(enum pb_dtype d)
{
	switch (d) {
	case PB_F32: return 4;
	case PB_F16: case PB_BF16: return 2;
	case PB_Q8_0: return 34;
	case PB_Q4_0: return 18;
	case PB_Q2_K: return 84;
	case PB_Q3_K: return 110;
	case PB_Q4_K: return 144;
	case PB_Q5_K: return 176;
	case PB_Q6_K: return 210;
	default: return 0;
	}
}

/* Bytes of one row (ne[0] elements); 0 when ne[0] is not a whole number of
 * blocks or the format has no dense rows. */
static inline size_t pb_row_bytes(const struct pb_tensor *t)
{
	int64_t blk = pb_dtype_block(t->dtype);
	if (t->ne[0] % blk)
		return 0;
	return (size_t)(t->ne[0] / blk) * pb_dtype_block_bytes(t->dtype);
}

static inline const char *pb_dtype_name(enum pb_dtype d)
{
	static const char *const names[PB_DTYPE_COUNT] = {
		"F32", "F16", "BF16", "Q8_0", "Q4_0", "CSR", "NM_2_4",
		"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
	};
	return (unsigned)d < PB_DTYPE_COUNT ? names[d] : "?";
}

/* IEEE half <-> float, exact for every finite half (round to nearest even
 * on the way down). */
static inline float pb_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {        /* subnormal: renormalise */
			int e = -1;
			do { man <<= 1; e++; } while (!(man & 0x400));
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
		}
	} else if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
	}
	memcpy(&f, &bits, 4);
	return f;
}

static inline uint16_t pb_fp32_to_fp16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
	uint32_t man = x & 0x7fffff;
	if (((x >> 23) & 0xff) == 0xff)         /* inf / nan */
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
	if (exp >= 0x1f)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {                          /* subnormal or zero */
		if (exp < -10)
			return (uint16_t)sign;
		man |= 0x800000;
		uint32_t shift = (uint32_t)(14 - exp);
		uint32_t half = man >> shift;
		uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
		if (rem > mid || (rem == mid && (half & 1)))
			half++;
		return (uint16_t)(sign | half);
	}
	uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
	uint32_t rem = man & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;                             /* may carry into exp: correct */
	return (uint16_t)h;
}

static inline float pb_bf16_to_fp32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

#ifdef __cplusplus
}
#endif
#endif

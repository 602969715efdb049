/* plugins/backends/cpu-blas/kernels-neon.c — aarch64 NEON (ASIMD) GEMV and
 * dequantisation kernels, the arm64 counterpart of kernels-avx2.c for edge
 * boards (Raspberry Pi 4/5, Jetson).  ASIMD and the half-precision
 * conversions are mandatory in armv8-a, so the file builds for the plain
 * baseline (no -march) and needs no run-time check.  Same contract and
 * numerics as the AVX2 kernels: one weight row streamed once for up to
 * CB_GEMV_MAX tokens, float accumulation, block formats dequantised in
 * registers, no activation quantisation (so no SDOT: it would need int8
 * activations and give other results than ref).  Other architectures get
 * a stub that declines. */
#include "cpu-blas.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__GNUC__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <arm_neon.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

/* 8 weights of a dense row as two float vectors; the file's bytes are
 * little-endian, as is every lane load here. */
INLINE void load8(const uint8_t *w, int fmt, float32x4_t *lo, float32x4_t *hi)
{
	switch (fmt) {
	case PB_F16: {
		const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(w));
		*lo = vcvt_f32_f16(vget_low_f16(h));
		*hi = vcvt_high_f32_f16(h);
		break;
	}
	case PB_BF16: {   /* bf16 is the top half of an f32: shift into place */
		const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(w));
		*lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
		*hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
		break;
	}
	default:
		*lo = vreinterpretq_f32_u8(vld1q_u8(w));
		*hi = vreinterpretq_f32_u8(vld1q_u8(w + 16));
		break;
	}
}

INLINE float elem_at(const uint8_t *w, int64_t j, int fmt)
{
	uint16_t h;
	float v;
	if (fmt == PB_F32) {
		memcpy(&v, w + j * 4, 4);
		return v;
	}
	memcpy(&h, w + j * 2, 2);
	return fmt == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
}

/* F32, F16 and BF16: 16 elements per step in four accumulators per token
 * (4 tokens × 4 + 4 weight vectors fit the 32 vector registers), then 4
 * at a time, then a scalar tail. */
INLINE void dot_dense(const uint8_t *w, int64_t n, const float *x, int64_t xs, const int nt,
		      float *out, const int fmt)
{
	const int es = fmt == PB_F32 ? 4 : 2;
	float32x4_t a[CB_GEMV_MAX][4];
	for (int t = 0; t < nt; t++)
		a[t][0] = a[t][1] = a[t][2] = a[t][3] = vdupq_n_f32(0);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		float32x4_t w0, w1, w2, w3;
		load8(w + i * es, fmt, &w0, &w1);
		load8(w + (i + 8) * es, fmt, &w2, &w3);
		for (int t = 0; t < nt; t++) {
			const float *xr = x + t * xs + i;
			a[t][0] = vfmaq_f32(a[t][0], w0, vld1q_f32(xr));
			a[t][1] = vfmaq_f32(a[t][1], w1, vld1q_f32(xr + 4));
			a[t][2] = vfmaq_f32(a[t][2], w2, vld1q_f32(xr + 8));
			a[t][3] = vfmaq_f32(a[t][3], w3, vld1q_f32(xr + 12));
		}
	}
	for (; i + 4 <= n; i += 4) {
		float32x4_t w0;
		if (fmt == PB_F32)
			w0 = vld1q_f32((const float *)(const void *)(w + i * 4));
		else if (fmt == PB_F16)
			w0 = vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(w + i * 2)));
		else
			w0 = vreinterpretq_f32_u32(vshll_n_u16(vreinterpret_u16_u8(vld1_u8(w + i * 2)), 16));
		for (int t = 0; t < nt; t++)
			a[t][0] = vfmaq_f32(a[t][0], w0, vld1q_f32(x + t * xs + i));
	}
	for (int t = 0; t < nt; t++) {
		float r = vaddvq_f32(vaddq_f32(vaddq_f32(a[t][0], a[t][1]),
					       vaddq_f32(a[t][2], a[t][3])));
		for (int64_t j = i; j < n; j++)
			r += elem_at(w, j, fmt) * x[t * xs + j];
		out[t] = r;
	}
}

/* 16 int8 → four float vectors, in element order. */
INLINE void i8x16_to_f32(int8x16_t v, float32x4_t *q)
{
	const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
	q[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
	q[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
	q[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
	q[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}

/* The 32 quants of one Q8_0 or Q4_0 block as eight float vectors. */
INLINE void block_q(const uint8_t *w, int fmt, float32x4_t *q)
{
	if (fmt == PB_Q8_0) {
		i8x16_to_f32(vld1q_s8((const int8_t *)(w + 2)), q);
		i8x16_to_f32(vld1q_s8((const int8_t *)(w + 18)), q + 4);
	} else {   /* low nibbles are elements 0..15, high ones 16..31 */
		const uint8x16_t b = vld1q_u8(w + 2);
		const int8x16_t eight = vdupq_n_s8(8);
		i8x16_to_f32(vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f))), eight), q);
		i8x16_to_f32(vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight), q + 4);
	}
}

/* Q8_0 and Q4_0: per block q·x is summed per token in two chains, then
 * scaled by d once (as kernels-avx2.c does). */
INLINE void dot_block(const uint8_t *w, int64_t n, const float *x, int64_t xs, const int nt,
		      float *out, const int fmt)
{
	const size_t bb = fmt == PB_Q8_0 ? 34 : 18;
	float32x4_t a[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		a[t] = vdupq_n_f32(0);
	for (int64_t i = 0; i + 32 <= n; i += 32, w += bb) {
		const float d = half_at(w);
		float32x4_t q[8];
		block_q(w, fmt, q);
		for (int t = 0; t < nt; t++) {
			const float *xr = x + t * xs + i;
			float32x4_t s0 = vmulq_f32(q[0], vld1q_f32(xr));
			float32x4_t s1 = vmulq_f32(q[1], vld1q_f32(xr + 4));
			s0 = vfmaq_f32(s0, q[2], vld1q_f32(xr + 8));
			s1 = vfmaq_f32(s1, q[3], vld1q_f32(xr + 12));
			s0 = vfmaq_f32(s0, q[4], vld1q_f32(xr + 16));
			s1 = vfmaq_f32(s1, q[5], vld1q_f32(xr + 20));
			s0 = vfmaq_f32(s0, q[6], vld1q_f32(xr + 24));
			s1 = vfmaq_f32(s1, q[7], vld1q_f32(xr + 28));
			a[t] = vfmaq_n_f32(a[t], vaddq_f32(s0, s1), d);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = vaddvq_f32(a[t]);
}

/* One exported kernel per format, the token count made a constant so the
 * accumulators stay in registers. */
#define DOT(name, body, fmt)                                                              \
	static void name(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, \
			 float *out)                                                      \
	{                                                                                 \
		switch (nt) {                                                             \
		case 1: body(w, n, x, xs, 1, out, fmt); break;                            \
		case 2: body(w, n, x, xs, 2, out, fmt); break;                            \
		case 3: body(w, n, x, xs, 3, out, fmt); break;                            \
		default: body(w, n, x, xs, 4, out, fmt); break;                           \
		}                                                                         \
	}

DOT(dot_f32, dot_dense, PB_F32)
DOT(dot_f16, dot_dense, PB_F16)
DOT(dot_bf16, dot_dense, PB_BF16)
DOT(dot_q8_0, dot_block, PB_Q8_0)
DOT(dot_q4_0, dot_block, PB_Q4_0)

/* Row dequantisation for the prefill tiles (then sgemm): bit-identical
 * to kernels-scalar.c, the conversions being exact and d·q one rounding. */
INLINE void deq_dense(const uint8_t *w, int64_t n, float *y, const int fmt)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		float32x4_t lo, hi;
		load8(w + 2 * i, fmt, &lo, &hi);
		vst1q_f32(y + i, lo);
		vst1q_f32(y + i + 4, hi);
	}
	for (; i < n; i++)
		y[i] = elem_at(w, i, fmt);
}

static void deq_f16(const uint8_t *w, int64_t n, float *y)
{
	deq_dense(w, n, y, PB_F16);
}

static void deq_bf16(const uint8_t *w, int64_t n, float *y)
{
	deq_dense(w, n, y, PB_BF16);
}

INLINE void deq_block(const uint8_t *w, int64_t n, float *y, const int fmt)
{
	const size_t bb = fmt == PB_Q8_0 ? 34 : 18;
	for (int64_t b = 0; b < n / 32; b++, w += bb, y += 32) {
		const float d = half_at(w);
		float32x4_t q[8];
		block_q(w, fmt, q);
		for (int k = 0; k < 8; k++)
			vst1q_f32(y + 4 * k, vmulq_n_f32(q[k], d));
	}
}

static void deq_q8_0(const uint8_t *w, int64_t n, float *y)
{
	deq_block(w, n, y, PB_Q8_0);
}

static void deq_q4_0(const uint8_t *w, int64_t n, float *y)
{
	deq_block(w, n, y, PB_Q4_0);
}

int cb_kernels_neon(cb_dot_fn *dot, cb_deq_fn *deq)
{
	dot[PB_F32] = dot_f32;
	dot[PB_F16] = dot_f16;
	dot[PB_BF16] = dot_bf16;
	dot[PB_Q8_0] = dot_q8_0;
	dot[PB_Q4_0] = dot_q4_0;
	deq[PB_F16] = deq_f16;
	deq[PB_BF16] = deq_bf16;
	deq[PB_Q8_0] = deq_q8_0;
	deq[PB_Q4_0] = deq_q4_0;
	return 1;
}

#else

int cb_kernels_neon(cb_dot_fn *dot, cb_deq_fn *deq)
{
	(void)dot;
	(void)deq;
	return 0;
}

#endif

/* plugins/backends/cpu-blas/gemm-neon.c — the native GEMM's AArch64
 * Advanced SIMD kernels (gemm.h), for arm64 edge boards.  ASIMD is
 * mandatory in armv8-a, so the file builds for the plain baseline and
 * needs no run-time check; other architectures get a stub that declines.
 *
 * The micro-tile is 5 tokens × 16 rows.  x is not packed (the driver
 * hands the kernel its rows as they are), so instead of broadcasting one
 * x per token and k (LD1R: a load per 4 multiplies at 16 rows), the
 * kernel loads 4 consecutive k of each token's row as one vector and
 * multiplies by lane (FMLA Vd.4S, Vn.4S, Vm.S[l]): per 4 k, 5 x loads and
 * 16 weight loads feed 80 FMAs.  Registers (32 × 128 bit): 5 × 4
 * accumulators + 5 x vectors + the 4 weight vectors of one k = 29.  Why
 * not the 8 × 12 of BLIS's armv8 kernel: nr must divide CB_GEMM_TILE (64),
 * and with unpacked x the by-lane multiply needs every token's x vector
 * live across the 4 k (4 + 5·mr registers at 16 rows, 2 + 3·mr at 8:
 * 10 × 8 would fill all 32 and halve the panel width for no fewer loads
 * per FMA).  20 independent accumulators cover the FMA latency of the
 * cores boards use (4 cycles × 2 pipes on Cortex-A76).
 *
 * Each y[t][r] is one fused multiply-add chain over k in order (lane l of
 * the x vector is k + l, taken l = 0 … 3; the tail's k one at a time), as
 * gemm.h requires: bit-identical to fmaf(x, w, y) from y = 0, whatever
 * the tiling.  Not measured against OpenBLAS on a board yet, so `gemm:
 * auto` keeps OpenBLAS on arm64 (cpu-blas.c). */
#include "gemm.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__GNUC__)
#include <arm_neon.h>

#define INLINE static inline __attribute__((always_inline))
#define NR 16
#define MR 5

/* r0..r3 (4 rows, 4 k each) → r_n = the 4 rows' element k = n */
INLINE void transpose4(float32x4_t *r0, float32x4_t *r1, float32x4_t *r2, float32x4_t *r3)
{
	const float32x4_t t0 = vtrn1q_f32(*r0, *r1), t1 = vtrn2q_f32(*r0, *r1);
	const float32x4_t t2 = vtrn1q_f32(*r2, *r3), t3 = vtrn2q_f32(*r2, *r3);
	*r0 = vreinterpretq_f32_f64(vzip1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
	*r1 = vreinterpretq_f32_f64(vzip1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
	*r2 = vreinterpretq_f32_f64(vzip2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
	*r3 = vreinterpretq_f32_f64(vzip2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

/* 4 × 4 blocks transposed in registers (a scalar transpose writes the
 * panel one float at a time); the last kc % 4 k one by one */
static void pack_neon(const float *const *rows, int64_t kc, float *panel)
{
	const int64_t k4 = kc & ~(int64_t)3;
	const float32x4_t zero = vdupq_n_f32(0.0f);
	for (int g = 0; g < NR / 4; g++) {
		const float *const r0 = rows[4 * g], *const r1 = rows[4 * g + 1];
		const float *const r2 = rows[4 * g + 2], *const r3 = rows[4 * g + 3];
		float *const out = panel + 4 * g;
		for (int64_t k = 0; k < k4; k += 4) {
			float32x4_t a = r0 ? vld1q_f32(r0 + k) : zero, b = r1 ? vld1q_f32(r1 + k) : zero;
			float32x4_t c = r2 ? vld1q_f32(r2 + k) : zero, d = r3 ? vld1q_f32(r3 + k) : zero;
			transpose4(&a, &b, &c, &d);
			vst1q_f32(out + k * NR, a);
			vst1q_f32(out + (k + 1) * NR, b);
			vst1q_f32(out + (k + 2) * NR, c);
			vst1q_f32(out + (k + 3) * NR, d);
		}
		for (int64_t k = k4; k < kc; k++) {
			out[k * NR] = r0 ? r0[k] : 0.0f;
			out[k * NR + 1] = r1 ? r1[k] : 0.0f;
			out[k * NR + 2] = r2 ? r2[k] : 0.0f;
			out[k * NR + 3] = r3 ? r3[k] : 0.0f;
		}
	}
}

/* one k of the 4-k step: the panel's 16 weights at k + L times lane L of
 * each token's x vector */
#define STEP(L)                                                                                    \
	do {                                                                                       \
		const float *const pk = p + (k + (L)) * NR;                                        \
		const float32x4_t w0 = vld1q_f32(pk), w1 = vld1q_f32(pk + 4);                      \
		const float32x4_t w2 = vld1q_f32(pk + 8), w3 = vld1q_f32(pk + 12);                 \
		_Pragma("GCC unroll 5") for (int t = 0; t < mr; t++)                               \
		{                                                                                  \
			c[t][0] = vfmaq_laneq_f32(c[t][0], w0, a[t], (L));                         \
			c[t][1] = vfmaq_laneq_f32(c[t][1], w1, a[t], (L));                         \
			c[t][2] = vfmaq_laneq_f32(c[t][2], w2, a[t], (L));                         \
			c[t][3] = vfmaq_laneq_f32(c[t][3], w3, a[t], (L));                         \
		}                                                                                  \
	} while (0)

INLINE void micro_body(const float *x, int64_t xs, const int mr, const float *p, int64_t kc,
		       float *y, int64_t ys, int ncols, int accumulate)
{
	float32x4_t c[MR][4];
	/* an edge panel (ncols < 16) goes through buf: NEON has no masked
	 * load or store, and y past ncols belongs to the next tile or to no
	 * one */
	float buf[MR][NR];
	const int edge = ncols < NR;
#pragma GCC unroll 5
	for (int t = 0; t < mr; t++) {
		if (!accumulate) {
			c[t][0] = c[t][1] = c[t][2] = c[t][3] = vdupq_n_f32(0.0f);
			continue;
		}
		const float *src = y + t * ys;
		if (edge) {
			for (int j = 0; j < NR; j++)
				buf[t][j] = j < ncols ? src[j] : 0.0f;
			src = buf[t];
		}
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++)
			c[t][i] = vld1q_f32(src + 4 * i);
	}
	int64_t k = 0;
	for (; k + 4 <= kc; k += 4) {
		float32x4_t a[MR];
#pragma GCC unroll 5
		for (int t = 0; t < mr; t++)
			a[t] = vld1q_f32(x + t * xs + k);
		STEP(0);
		STEP(1);
		STEP(2);
		STEP(3);
	}
	for (; k < kc; k++) {
		const float *const pk = p + k * NR;
		const float32x4_t w0 = vld1q_f32(pk), w1 = vld1q_f32(pk + 4);
		const float32x4_t w2 = vld1q_f32(pk + 8), w3 = vld1q_f32(pk + 12);
#pragma GCC unroll 5
		for (int t = 0; t < mr; t++) {
			const float a = x[t * xs + k];
			c[t][0] = vfmaq_n_f32(c[t][0], w0, a);
			c[t][1] = vfmaq_n_f32(c[t][1], w1, a);
			c[t][2] = vfmaq_n_f32(c[t][2], w2, a);
			c[t][3] = vfmaq_n_f32(c[t][3], w3, a);
		}
	}
#pragma GCC unroll 5
	for (int t = 0; t < mr; t++) {
		float *const dst = edge ? buf[t] : y + t * ys;
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++)
			vst1q_f32(dst + 4 * i, c[t][i]);
		if (edge)
			for (int j = 0; j < ncols; j++)
				y[t * ys + j] = buf[t][j];
	}
}

/* one instance per token count, so each keeps its accumulators in
 * registers */
#define MICRO(n)                                                                                   \
	static void micro_##n(const float *x, int64_t xs, const float *p, int64_t kc, float *y,       \
			      int64_t ys, int ncols, int acc)                                          \
	{                                                                                          \
		micro_body(x, xs, n, p, kc, y, ys, ncols, acc);                                    \
	}
MICRO(1) MICRO(2) MICRO(3) MICRO(4) MICRO(5)

static void micro_neon(const float *x, int64_t xs, int mr, const float *p, int64_t kc, float *y,
		       int64_t ys, int ncols, int acc)
{
	typedef void (*fn)(const float *, int64_t, const float *, int64_t, float *, int64_t, int, int);
	static const fn by_mr[MR + 1] = { NULL, micro_1, micro_2, micro_3, micro_4, micro_5 };
	by_mr[mr](x, xs, p, kc, y, ys, ncols, acc);
}

int cb_gemm_neon(struct cb_gemm *g)
{
	*g = (struct cb_gemm){ .mr = MR, .nr = NR, .pack = pack_neon, .micro = micro_neon,
			       .isa = "neon" };
	return 1;
}

#else

int cb_gemm_neon(struct cb_gemm *g)
{
	(void)g;
	return 0;
}

#endif

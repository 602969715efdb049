/* plugins/backends/cpu-blas/kernels-scalar.c — portable GEMV and
 * dequantisation kernels for every weight format: the path on CPUs
 * without AVX2 (and on arm64), and the tails the SIMD kernels leave.
 * Block layouts are llama.cpp's (see ref.c): Q8_0 = f16 d + 32 int8,
 * x = d·q; Q4_0 = f16 d + 16 bytes, element j the low nibble of byte j,
 * j + 16 the high one, x = d·(q − 8).  The k-quants' are in
 * kernels-kquant.c. */
#include <string.h>

#include "cpu-blas.h"

static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

static void deq_f32(const uint8_t *w, int64_t n, float *y)
{
	memcpy(y, w, (size_t)n * sizeof(float));
}

static void deq_f16(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = half_at(w + 2 * i);
}

static void deq_bf16(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t i = 0; i < n; i++) {
		uint16_t h;
		memcpy(&h, w + 2 * i, 2);
		y[i] = pb_bf16_to_fp32(h);
	}
}

static void deq_q8_0(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / 32; b++, w += 34, y += 32) {
		const float d = half_at(w);
		for (int j = 0; j < 32; j++)
			y[j] = d * (float)(int8_t)w[2 + j];
	}
}

static void deq_q4_0(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / 32; b++, w += 18, y += 32) {
		const float d = half_at(w);
		for (int j = 0; j < 16; j++) {
			y[j] = d * (float)((w[2 + j] & 0x0f) - 8);
			y[j + 16] = d * (float)((w[2 + j] >> 4) - 8);
		}
	}
}

static void dot_f32(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, float *out)
{
	const float *wf = (const float *)(const void *)w;
	for (int t = 0; t < nt; t++) {
		const float *xr = x + t * xs;
		float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
		int64_t i = 0;
		for (; i + 4 <= n; i += 4) {
			a0 += wf[i] * xr[i];
			a1 += wf[i + 1] * xr[i + 1];
			a2 += wf[i + 2] * xr[i + 2];
			a3 += wf[i + 3] * xr[i + 3];
		}
		for (; i < n; i++)
			a0 += wf[i] * xr[i];
		out[t] = (a0 + a1) + (a2 + a3);
	}
}

/* The 16-bit and block formats: dequantise 32 elements at a time on the
 * stack, so each weight byte is read once for all nt tokens. */
static void dot_via(cb_deq_fn deq, size_t bytes32, const uint8_t *w, int64_t n, const float *x,
		    int64_t xs, int nt, float *out)
{
	float acc[CB_GEMV_MAX] = { 0 }, tmp[32];
	int64_t i = 0;
	for (; i + 32 <= n; i += 32, w += bytes32) {
		deq(w, 32, tmp);
		for (int t = 0; t < nt; t++) {
			const float *xr = x + t * xs + i;
			float a = 0;
			for (int j = 0; j < 32; j++)
				a += tmp[j] * xr[j];
			acc[t] += a;
		}
	}
	if (i < n) {   /* only F16/BF16 rows have a tail */
		deq(w, n - i, tmp);
		for (int t = 0; t < nt; t++)
			for (int64_t j = 0; j < n - i; j++)
				acc[t] += tmp[j] * x[t * xs + i + j];
	}
	for (int t = 0; t < nt; t++)
		out[t] = acc[t];
}

static void dot_f16(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, float *out)
{
	dot_via(deq_f16, 64, w, n, x, xs, nt, out);
}

static void dot_bf16(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, float *out)
{
	dot_via(deq_bf16, 64, w, n, x, xs, nt, out);
}

static void dot_q8_0(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, float *out)
{
	dot_via(deq_q8_0, 34, w, n, x, xs, nt, out);
}

static void dot_q4_0(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, float *out)
{
	dot_via(deq_q4_0, 18, w, n, x, xs, nt, out);
}

void cb_kernels_scalar(cb_dot_fn *dot, cb_deq_fn *deq)
{
	dot[PB_F32] = dot_f32;
	dot[PB_F16] = dot_f16;
	dot[PB_BF16] = dot_bf16;
	dot[PB_Q8_0] = dot_q8_0;
	dot[PB_Q4_0] = dot_q4_0;
	deq[PB_F32] = deq_f32;
	deq[PB_F16] = deq_f16;
	deq[PB_BF16] = deq_bf16;
	deq[PB_Q8_0] = deq_q8_0;
	deq[PB_Q4_0] = deq_q4_0;
	cb_kquant_scalar(dot, deq);   /* kernels-kquant.c */
}

/* plugins/backends/cpu-blas/kernels-int.c — portable kernels for the two
 * decode paths that are not "stream a row, multiply by float x":
 *  - the integer path for Q8_0 / Q4_0 weights: each token's activations
 *    are quantised once per linear to blocks of 32 int8 with one float
 *    scale (cb_quantize_x, llama.cpp's Q8_0 rule d = max|x| / 127), and a
 *    row's dot product is Σ_blocks d_w·d_x·(Σ q_w·q_x) in exact integers
 *    per block.  It moves the work from float conversions to integer
 *    multiply-adds, which SIMD does 4× wider (kernels-avx2.c); the price
 *    is the activations' rounding, ~1e-3 of a logit's scale;
 *  - 2:4-packed rows: two values and one index byte per group of four.
 * The SIMD kernels must agree with these (tests/cpu-blas).  The k-quants'
 * integer path is in kernels-kquant.c. */
#include <math.h>
#include <string.h>

#include "cpu-blas.h"

static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

void cb_quantize_x(const float *x, int64_t n, int8_t *q, float *d, float *dsum, int32_t *qsum)
{
	for (int64_t b = 0; b < n / 32; b++, x += 32, q += 32) {
		float amax = 0;
		for (int i = 0; i < 32; i++)
			amax = fmaxf(amax, fabsf(x[i]));
		const float db = amax / 127.0f, id = db > 0 ? 1.0f / db : 0.0f;
		int32_t s = 0;
		for (int i = 0; i < 32; i++) {
			q[i] = (int8_t)lrintf(x[i] * id);
			s += q[i];
		}
		d[b] = db;
		dsum[b] = db * (float)s;
		qsum[b] = s;
	}
}

static void qdot_q8_0(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	const int64_t nb = n / 32;
	for (int t = 0; t < nt; t++) {
		const int8_t *xq = x->q + t * x->n;
		const float *xd = x->d + t * (x->n / 32);
		const uint8_t *wb = w;
		float acc = 0;
		for (int64_t b = 0; b < nb; b++, wb += 34) {
			const int8_t *wq = (const int8_t *)(wb + 2);
			int32_t s = 0;
			for (int i = 0; i < 32; i++)
				s += wq[i] * xq[32 * b + i];
			acc += half_at(wb) * xd[b] * (float)s;
		}
		out[t] = acc;
	}
}

/* Q4_0 element j of a block is the low nibble of byte j, j + 16 the high
 * one, value q − 8: d_x·Σ(q − 8)·x_q = d_x·Σ q·x_q − 8·d_x·Σx_q. */
static void qdot_q4_0(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	const int64_t nb = n / 32;
	for (int t = 0; t < nt; t++) {
		const int8_t *xq = x->q + t * x->n;
		const float *xd = x->d + t * (x->n / 32);
		const float *xs = x->dsum + t * (x->n / 32);
		const uint8_t *wb = w;
		float acc = 0;
		for (int64_t b = 0; b < nb; b++, wb += 18) {
			const int8_t *xb = xq + 32 * b;
			int32_t s = 0;
			for (int i = 0; i < 16; i++)
				s += (wb[2 + i] & 15) * xb[i] + (wb[2 + i] >> 4) * xb[i + 16];
			acc += half_at(wb) * (xd[b] * (float)s - 8.0f * xs[b]);
		}
		out[t] = acc;
	}
}

static void nm24_dot(const float *v, const uint8_t *ix, int64_t n, const float *x, int64_t xs,
		     int nt, float *out)
{
	for (int t = 0; t < nt; t++) {
		const float *xr = x + t * xs;
		float a0 = 0, a1 = 0;
		for (int64_t g = 0; g < n / 4; g++) {
			const float *xg = xr + 4 * g;
			a0 += v[2 * g] * xg[ix[g] & 3];
			a1 += v[2 * g + 1] * xg[(ix[g] >> 2) & 3];
		}
		out[t] = a0 + a1;
	}
}

void cb_kernels_scalar_ext(struct cb_kernels *k)
{
	k->qdot[PB_Q8_0] = qdot_q8_0;
	k->qdot[PB_Q4_0] = qdot_q4_0;
	k->quant_x = cb_quantize_x;
	k->nm24 = nm24_dot;
	k->isa = "portable";
	cb_kquant_scalar_ext(k);   /* the k-quants: kernels-kquant.c */
}

/* plugins/backends/cpu-blas/kernels-kquant.c — portable kernels for
 * llama.cpp's k-quants, Q2_K … Q6_K (super-blocks of 256, kquant.h):
 *  - row dequantisation for the prefill tiles and the embedding, element
 *    for element the float operations of ggml's dequantize_row_q*_K, so a
 *    tile equals what ggml's reference code (and ref) makes of the row;
 *  - a float GEMV (`int8_act: false`) through one dequantised super-block
 *    at a time;
 *  - the integer decode path: each token's activations are quantised once
 *    per linear to blocks of 256 int8 (quantize_k: d =
 *    max|x| / 127, llama.cpp's Q8_K shape with the sum of every 16 q), and
 *    a row's dot product is, per super-block b,
 *        d_x·(d·isum_b − dmin·msum_b),
 *    isum_b = Σ_sub scale·Σ u·q_x and msum_b = Σ_sub min·bsum exact in
 *    int32 (u the stored unsigned value; Q3_K's −4 and Q6_K's −32 offsets
 *    go through the block sums too: Σ(u − c)·q_x = Σ u·q_x − c·bsum).
 * kernels-avx2-kquant.c computes the same integers with vector
 * multiply-adds and sums them in another float order; tests/cpu-blas
 * holds both to the exact integer result. */
#include <math.h>
#include <string.h>

#include "cpu-blas.h"
#include "kquant.h"

/* Round to nearest, ties to even, for |v| < 2^22: the float addition
 * leaves the integer in the low mantissa bits (what vcvtps2dq does under
 * the default rounding mode, so the AVX2 quantiser agrees bit for bit). */
static inline int32_t round_even(float v)
{
	float f = v + 12582912.0f;   /* 1.5 · 2^23 */
	int32_t i;
	memcpy(&i, &f, 4);
	return (i & 0x007fffff) - 0x00400000;
}

static void quantize_k(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsum)
{
	for (int64_t b = 0; b < n / KQ_N; b++, x += KQ_N, q += KQ_N, bsum += 16) {
		float amax = 0;
		for (int i = 0; i < KQ_N; i++)
			amax = fmaxf(amax, fabsf(x[i]));
		const float id = amax > 0 ? 127.0f / amax : 0.0f;
		for (int i = 0; i < KQ_N; i++) {
			const float v = x[i] * id;
			q[i] = (int8_t)round_even(v);   /* |v| ≤ 127 (+ an ulp): no clamp needed */
		}
		d[b] = amax / 127.0f;
		for (int j = 0; j < 16; j++) {
			int s = 0;
			for (int l = 0; l < 16; l++)
				s += q[16 * j + l];
			bsum[j] = (int16_t)s;
		}
	}
}

/* ---- dequantisation: one row of n (a multiple of 256) elements */

static void deq_q2_k(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / KQ_N; b++, w += 84) {
		const float d = kq_half(w + Q2K_D), dmin = kq_half(w + Q2K_DMIN);
		const uint8_t *sc = w + Q2K_SCALES;
		for (int h = 0; h < 2; h++) {
			const uint8_t *qs = w + Q2K_QS + 32 * h;
			for (int j = 0; j < 4; j++)
				for (int half = 0; half < 2; half++) {
					const uint8_t s = sc[8 * h + 2 * j + half];
					const float dl = d * (float)(s & 15), ml = dmin * (float)(s >> 4);
					for (int l = 16 * half; l < 16 * half + 16; l++)
						*y++ = dl * (float)((qs[l] >> (2 * j)) & 3) - ml;
				}
		}
	}
}

static void deq_q3_k(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / KQ_N; b++, w += 110) {
		const float d = kq_half(w + Q3K_D);
		const uint8_t *hm = w + Q3K_HMASK;
		int8_t sc[16];
		kq_scales_q3(w + Q3K_SCALES, sc);
		for (int h = 0; h < 2; h++) {
			const uint8_t *qs = w + Q3K_QS + 32 * h;
			for (int j = 0; j < 4; j++) {
				const int bit = 4 * h + j;
				for (int half = 0; half < 2; half++) {
					const float dl = d * (float)sc[8 * h + 2 * j + half];
					for (int l = 16 * half; l < 16 * half + 16; l++) {
						const int v = ((qs[l] >> (2 * j)) & 3) - ((hm[l] >> bit) & 1 ? 0 : 4);
						*y++ = dl * (float)v;
					}
				}
			}
		}
	}
}

static void deq_q4_k(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / KQ_N; b++, w += 144) {
		const float d = kq_half(w + Q4K_D), dmin = kq_half(w + Q4K_DMIN);
		const uint8_t *qs = w + Q4K_QS;
		uint8_t sm[16];
		kq_scale_min_k4(w + Q4K_SCALES, sm);
		for (int j = 0; j < 4; j++, qs += 32) {
			const float d1 = d * (float)sm[2 * j], m1 = dmin * (float)sm[8 + 2 * j];
			const float d2 = d * (float)sm[2 * j + 1], m2 = dmin * (float)sm[8 + 2 * j + 1];
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (float)(qs[l] & 15) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (float)(qs[l] >> 4) - m2;
		}
	}
}

static void deq_q5_k(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / KQ_N; b++, w += 176) {
		const float d = kq_half(w + Q5K_D), dmin = kq_half(w + Q5K_DMIN);
		const uint8_t *qs = w + Q5K_QS, *qh = w + Q5K_QH;
		uint8_t sm[16];
		kq_scale_min_k4(w + Q5K_SCALES, sm);
		for (int j = 0; j < 4; j++, qs += 32) {
			const float d1 = d * (float)sm[2 * j], m1 = dmin * (float)sm[8 + 2 * j];
			const float d2 = d * (float)sm[2 * j + 1], m2 = dmin * (float)sm[8 + 2 * j + 1];
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (float)((qs[l] & 15) + ((qh[l] >> (2 * j)) & 1) * 16) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (float)((qs[l] >> 4) + ((qh[l] >> (2 * j + 1)) & 1) * 16) - m2;
		}
	}
}

static void deq_q6_k(const uint8_t *w, int64_t n, float *y)
{
	for (int64_t b = 0; b < n / KQ_N; b++, w += 210) {
		const float d = kq_half(w + Q6K_D);
		const int8_t *sc = (const int8_t *)(w + Q6K_SCALES);
		for (int h = 0; h < 2; h++, y += 128) {
			const uint8_t *ql = w + Q6K_QL + 64 * h, *qh = w + Q6K_QH + 32 * h;
			for (int l = 0; l < 32; l++) {
				const int is = 8 * h + l / 16;
				const int q1 = ((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
				const int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l] = d * (float)sc[is] * (float)q1;
				y[l + 32] = d * (float)sc[is + 2] * (float)q2;
				y[l + 64] = d * (float)sc[is + 4] * (float)q3;
				y[l + 96] = d * (float)sc[is + 6] * (float)q4;
			}
		}
	}
}

/* ---- float GEMV (int8_act false): a super-block dequantised on the
 * stack, so each weight byte is read once for all nt tokens */

static void dot_via(cb_deq_fn deq, size_t bytes, const uint8_t *w, int64_t n, const float *x,
		    int64_t xs, int nt, float *out)
{
	float acc[CB_GEMV_MAX] = { 0 }, tmp[KQ_N];
	for (int64_t i = 0; i < n; i += KQ_N, w += bytes) {
		deq(w, KQ_N, tmp);
		for (int t = 0; t < nt; t++) {
			const float *xr = x + t * xs + i;
			float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
			for (int j = 0; j < KQ_N; j += 4) {
				a0 += tmp[j] * xr[j];
				a1 += tmp[j + 1] * xr[j + 1];
				a2 += tmp[j + 2] * xr[j + 2];
				a3 += tmp[j + 3] * xr[j + 3];
			}
			acc[t] += (a0 + a1) + (a2 + a3);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = acc[t];
}

#define DOT_VIA(fmt, bytes)                                                                   \
	static void dot_##fmt(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt, \
			      float *out)                                                     \
	{                                                                                     \
		dot_via(deq_##fmt, bytes, w, n, x, xs, nt, out);                              \
	}

DOT_VIA(q2_k, 84)
DOT_VIA(q3_k, 110)
DOT_VIA(q4_k, 144)
DOT_VIA(q5_k, 176)
DOT_VIA(q6_k, 210)

/* ---- integer dots against cb_quantize_k's blocks */

/* Token t's quantised activations */
struct kx {
	const int8_t *q;
	const float *d;
	const int16_t *bsum;
};

static inline struct kx kx_at(const struct cb_xq *x, int t)
{
	return (struct kx){ x->q + t * x->n, x->d + t * (x->n / KQ_N), x->bsum + t * (x->n / 16) };
}

static void qdot_q2_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	for (int t = 0; t < nt; t++) {
		struct kx k = kx_at(x, t);
		const uint8_t *b = w;
		float acc = 0;
		for (int64_t i = 0; i < n / KQ_N; i++, b += 84, k.q += KQ_N, k.bsum += 16) {
			const uint8_t *sc = b + Q2K_SCALES;
			int32_t isum = 0, msum = 0;
			for (int s = 0; s < 16; s++)
				msum += (sc[s] >> 4) * k.bsum[s];
			for (int h = 0; h < 2; h++) {
				const uint8_t *qs = b + Q2K_QS + 32 * h;
				for (int j = 0; j < 4; j++) {
					const int8_t *xq = k.q + 128 * h + 32 * j;
					int32_t s0 = 0, s1 = 0;
					for (int l = 0; l < 16; l++) {
						s0 += ((qs[l] >> (2 * j)) & 3) * xq[l];
						s1 += ((qs[l + 16] >> (2 * j)) & 3) * xq[l + 16];
					}
					isum += (sc[8 * h + 2 * j] & 15) * s0 + (sc[8 * h + 2 * j + 1] & 15) * s1;
				}
			}
			acc += k.d[i] * (kq_half(b + Q2K_D) * (float)isum -
					 kq_half(b + Q2K_DMIN) * (float)msum);
		}
		out[t] = acc;
	}
}

static void qdot_q3_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	for (int t = 0; t < nt; t++) {
		struct kx k = kx_at(x, t);
		const uint8_t *b = w;
		float acc = 0;
		for (int64_t i = 0; i < n / KQ_N; i++, b += 110, k.q += KQ_N, k.bsum += 16) {
			const uint8_t *hm = b + Q3K_HMASK;
			int8_t sc[16];
			int32_t isum = 0;
			kq_scales_q3(b + Q3K_SCALES, sc);
			for (int h = 0; h < 2; h++) {
				const uint8_t *qs = b + Q3K_QS + 32 * h;
				for (int j = 0; j < 4; j++) {
					const int8_t *xq = k.q + 128 * h + 32 * j;
					const int bit = 4 * h + j;
					int32_t s0 = 0, s1 = 0;
					for (int l = 0; l < 16; l++) {
						s0 += (((qs[l] >> (2 * j)) & 3) | (((hm[l] >> bit) & 1) << 2)) * xq[l];
						s1 += (((qs[l + 16] >> (2 * j)) & 3) |
						       (((hm[l + 16] >> bit) & 1) << 2)) * xq[l + 16];
					}
					const int s = 8 * h + 2 * j;
					isum += sc[s] * (s0 - 4 * k.bsum[s]) + sc[s + 1] * (s1 - 4 * k.bsum[s + 1]);
				}
			}
			acc += k.d[i] * (kq_half(b + Q3K_D) * (float)isum);
		}
		out[t] = acc;
	}
}

/* Q4_K and Q5_K (five): sub-blocks of 32; Q5_K takes bit 4 from qh */
static inline void q45_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out,
			 const int five)
{
	const size_t bytes = five ? 176 : 144;
	for (int t = 0; t < nt; t++) {
		struct kx k = kx_at(x, t);
		const uint8_t *b = w;
		float acc = 0;
		for (int64_t i = 0; i < n / KQ_N; i++, b += bytes, k.q += KQ_N, k.bsum += 16) {
			const uint8_t *qs = b + (five ? Q5K_QS : Q4K_QS), *qh = b + Q5K_QH;
			uint8_t sm[16];
			int32_t isum = 0, msum = 0;
			kq_scale_min_k4(b + Q4K_SCALES, sm);   /* same offset in Q5_K */
			for (int s = 0; s < 8; s++)
				msum += sm[8 + s] * (k.bsum[2 * s] + k.bsum[2 * s + 1]);
			for (int j = 0; j < 4; j++, qs += 32) {
				const int8_t *xq = k.q + 64 * j;
				int32_t s0 = 0, s1 = 0;
				for (int l = 0; l < 32; l++) {
					int u0 = qs[l] & 15, u1 = qs[l] >> 4;
					if (five) {
						u0 |= ((qh[l] >> (2 * j)) & 1) << 4;
						u1 |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
					}
					s0 += u0 * xq[l];
					s1 += u1 * xq[l + 32];
				}
				isum += sm[2 * j] * s0 + sm[2 * j + 1] * s1;
			}
			acc += k.d[i] * (kq_half(b) * (float)isum - kq_half(b + 2) * (float)msum);
		}
		out[t] = acc;
	}
}

static void qdot_q4_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	q45_k(w, n, x, nt, out, 0);
}

static void qdot_q5_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	q45_k(w, n, x, nt, out, 1);
}

static void qdot_q6_k(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)
{
	for (int t = 0; t < nt; t++) {
		struct kx k = kx_at(x, t);
		const uint8_t *b = w;
		float acc = 0;
		for (int64_t i = 0; i < n / KQ_N; i++, b += 210, k.q += KQ_N, k.bsum += 16) {
			const int8_t *sc = (const int8_t *)(b + Q6K_SCALES);
			int32_t isum = 0;
			for (int h = 0; h < 2; h++) {
				const uint8_t *ql = b + Q6K_QL + 64 * h, *qh = b + Q6K_QH + 32 * h;
				for (int kk = 0; kk < 4; kk++) {
					/* 32 elements: low or high nibbles of 32 ql bytes,
					 * bits 2kk..2kk+1 of the qh bytes */
					const uint8_t *lo = ql + 32 * (kk & 1);
					const int shift = kk < 2 ? 0 : 4;
					const int8_t *xq = k.q + 128 * h + 32 * kk;
					int32_t s0 = 0, s1 = 0;
					for (int l = 0; l < 16; l++) {
						s0 += (((lo[l] >> shift) & 15) | (((qh[l] >> (2 * kk)) & 3) << 4)) * xq[l];
						s1 += (((lo[l + 16] >> shift) & 15) |
						       (((qh[l + 16] >> (2 * kk)) & 3) << 4)) * xq[l + 16];
					}
					const int s = 8 * h + 2 * kk;
					isum += sc[s] * (s0 - 32 * k.bsum[s]) + sc[s + 1] * (s1 - 32 * k.bsum[s + 1]);
				}
			}
			acc += k.d[i] * (kq_half(b + Q6K_D) * (float)isum);
		}
		out[t] = acc;
	}
}

void cb_kquant_scalar(cb_dot_fn *dot, cb_deq_fn *deq)
{
	dot[PB_Q2_K] = dot_q2_k;
	dot[PB_Q3_K] = dot_q3_k;
	dot[PB_Q4_K] = dot_q4_k;
	dot[PB_Q5_K] = dot_q5_k;
	dot[PB_Q6_K] = dot_q6_k;
	deq[PB_Q2_K] = deq_q2_k;
	deq[PB_Q3_K] = deq_q3_k;
	deq[PB_Q4_K] = deq_q4_k;
	deq[PB_Q5_K] = deq_q5_k;
	deq[PB_Q6_K] = deq_q6_k;
}

void cb_kquant_scalar_ext(struct cb_kernels *k)
{
	k->quant_k = quantize_k;
	k->qdot[PB_Q2_K] = qdot_q2_k;
	k->qdot[PB_Q3_K] = qdot_q3_k;
	k->qdot[PB_Q4_K] = qdot_q4_k;
	k->qdot[PB_Q5_K] = qdot_q5_k;
	k->qdot[PB_Q6_K] = qdot_q6_k;
}

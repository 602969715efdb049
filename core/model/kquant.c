/* core/model/kquant.c — llama.cpp's k-quants (Q2_K, Q3_K, Q4_K, Q5_K,
 * Q6_K): rows of super-blocks of 256 values to and from their GGUF block
 * layouts (tensor.h), bit for bit as ggml's reference code writes and
 * reads them (ggml/src/ggml-quants.c: dequantize_row_q*_K and
 * quantize_row_q*_K_ref with make_qx_quants, make_q3_quants and
 * make_qkx2_quants).  The reference quantizers are what llama-quantize
 * runs without an importance matrix, so a file we quantize holds the bytes
 * llama-quantize would write.
 *
 * Bit for bit means the same float operations in the same order: every
 * expression below keeps ggml's evaluation order, and this file is built
 * with -ffp-contract=off (core/model/meson.build) so that no compiler
 * fuses a multiply and an add into an FMA that ggml's x86-64 baseline
 * build does not.  Rounding to the nearest integer is ggml's
 * nearest_int (add 1.5·2^23, keep the mantissa: ties to even).
 *
 * The `ref` backend decodes these layouts with its own code
 * (plugins/backends/ref/ref-kquant.c) and the tests with a third, naive
 * decoder written from the layout description (tests/formats). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/quant.h"

#define QK_K 256
#define GROUP_MAX_EPS 1e-15f
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- helpers (ggml-quants.c) */

static inline int nearest_int(float fval)
{
	float val = fval + 12582912.f;
	int i;
	memcpy(&i, &val, sizeof(int));
	return (i & 0x007fffff) - 0x00400000;
}

static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

static inline void put_half(uint8_t *p, float f)
{
	uint16_t h = pb_fp32_to_fp16(f);
	memcpy(p, &h, 2);
}

/* make_qx_quants with rmse_type 1 and no importance weights (w = x²), the
 * only way the reference quantizers call it: signed levels −nmax..nmax−1,
 * the scale refined over 18 trial inverse scales; L[i] = level + nmax. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; ++i) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * x[i]);
		l = MAX(-nmax, MIN(nmax - 1, l));
		L[i] = (int8_t)(l + nmax);
		float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	float scale = suml2 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; ++is) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * x[i]);
			l = MAX(-nmax, MIN(nmax - 1, l));
			float w = x[i] * x[i];
			sumlx += w * x[i] * l;
			suml2 += w * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; ++i) {
				int l = nearest_int(iscale * x[i]);
				L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, l)));
			}
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* make_q3_quants with do_rmse: levels moved one at a time while the
 * weighted fit improves (at most 5 passes). */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; ++i) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * x[i]);
		l = MAX(-nmax, MIN(nmax - 1, l));
		L[i] = (int8_t)l;
		float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	for (int itry = 0; itry < 5; ++itry) {
		int n_changed = 0;
		for (int i = 0; i < n; ++i) {
			float w = x[i] * x[i];
			float slx = sumlx - w * x[i] * L[i];
			if (slx > 0) {
				float sl2 = suml2 - w * L[i] * L[i];
				int new_l = nearest_int(x[i] * sl2 / slx);
				new_l = MAX(-nmax, MIN(nmax - 1, new_l));
				if (new_l != L[i]) {
					slx += w * x[i] * new_l;
					sl2 += w * new_l * new_l;
					if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (int8_t)new_l;
						sumlx = slx;
						suml2 = sl2;
						++n_changed;
					}
				}
			}
		}
		if (!n_changed)
			break;
	}
	for (int i = 0; i < n; ++i)
		L[i] = (int8_t)(L[i] + nmax);
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* make_qkx2_quants: x ≈ scale·L − the_min with L in 0..nmax, the min
 * clamped to ≤ 0, fitted by weighted least squares over nstep + 1 trial
 * inverse scales; use_mad picks |error| over error². */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
			      float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
			      int use_mad)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0];
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; ++i) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		float w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		*the_min = -min;
		return 0.f;
	}
	float iscale = nmax / (max - min);
	float scale = 1 / iscale;
	float best_error = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)MAX(0, MIN(nmax, l));
		float diff = scale * L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		float w = weights[i];
		best_error += w * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	for (int is = 0; is <= nstep; ++is) {
		iscale = (rmin + rdelta * is + nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * (x[i] - min));
			l = MAX(0, MIN(nmax, l));
			Laux[i] = (uint8_t)l;
			float w = weights[i];
			sum_l += w * l;
			sum_l2 += w * l * l;
			sum_xl += w * l * x[i];
		}
		float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float cur_error = 0;
			for (int i = 0; i < n; ++i) {
				float diff = this_scale * Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				float w = weights[i];
				cur_error += w * diff;
			}
			if (cur_error < best_error) {
				for (int i = 0; i < n; ++i)
					L[i] = Laux[i];
				best_error = cur_error;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

/* Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes.  Bytes
 * 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7;
 * bytes 4-7 the same for the mins; bytes 8-11 the low nibbles of scales
 * 4-7 (low) and mins 4-7 (high). */
static inline void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
	}
}

/* 2 bits each of 4 groups of 32 consecutive levels into 32 bytes: group
 * g in bits 2g..2g+1 (Q2_K and Q3_K, per 128 levels). */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int j = 0; j < QK_K; j += 128)
		for (int l = 0; l < 32; ++l)
			qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
						  (L[j + l + 96] << 6));
}

/* ---- Q2_K: scales[16] @0, qs[64] @16, f16 d @80, f16 dmin @82 */

void pb_quantize_row_q2_k(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst;
	uint8_t L[QK_K], Laux[16];
	float weights[16], mins[QK_K / 16], scales[QK_K / 16];
	const float q4scale = 15.f;

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, y += 84) {
		uint8_t *sc = y, *qs = y + 16;
		float max_scale = 0, max_min = 0;
		for (int j = 0; j < QK_K / 16; ++j) {
			for (int l = 0; l < 16; ++l)
				weights[l] = fabsf(x[16 * j + l]);
			scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
						     -0.5f, 0.1f, 15, 1);
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		if (max_scale > 0) {
			float iscale = q4scale / max_scale;
			for (int j = 0; j < QK_K / 16; ++j)
				sc[j] = (uint8_t)nearest_int(iscale * scales[j]);
			put_half(y + 80, max_scale / q4scale);
		} else {
			memset(sc, 0, 16);
			put_half(y + 80, 0.f);
		}
		if (max_min > 0) {
			float iscale = q4scale / max_min;
			for (int j = 0; j < QK_K / 16; ++j)
				sc[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
			put_half(y + 82, max_min / q4scale);
		} else {
			put_half(y + 82, 0.f);
		}
		const float dd = half_at(y + 80), dmin = half_at(y + 82);
		for (int j = 0; j < QK_K / 16; ++j) {
			const float d = dd * (sc[j] & 0xF);
			if (!d)
				continue;
			const float dm = dmin * (sc[j] >> 4);
			for (int ii = 0; ii < 16; ++ii) {
				int l = nearest_int((x[16 * j + ii] + dm) / d);
				L[16 * j + ii] = (uint8_t)MAX(0, MIN(3, l));
			}
		}
		pack_2bit(L, qs);
	}
}

void pb_dequantize_row_q2_k(const void *src, float *y, int64_t n)
{
	const uint8_t *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b += 84) {
		const float d = half_at(b + 80), min = half_at(b + 82);
		const uint8_t *q = b + 16;
		int is = 0;
		for (int k = 0; k < QK_K; k += 128) {
			int shift = 0;
			for (int j = 0; j < 4; ++j) {
				uint8_t sc = b[is++];
				float dl = d * (sc & 0xF), ml = min * (sc >> 4);
				for (int l = 0; l < 16; ++l)
					*y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
				sc = b[is++];
				dl = d * (sc & 0xF);
				ml = min * (sc >> 4);
				for (int l = 0; l < 16; ++l)
					*y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
				shift += 2;
			}
			q += 32;
		}
	}
}

/* ---- Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, f16 d @108 */

/* Six-bit scale j (0..15) of a Q3_K block, minus its offset 32: the low
 * nibble from byte j (j < 8) or the high nibble of byte j − 8, the top
 * two bits from byte 8 + j%4 at bit 2·(j/4). */
static int q3_scale(const uint8_t *s, int j)
{
	int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
	return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

void pb_quantize_row_q3_k(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst;
	int8_t L[QK_K];
	float scales[QK_K / 16];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, y += 110) {
		uint8_t *hmask = y, *qs = y + 32, *sc = y + 96;
		float max_scale = 0, amax = 0;
		for (int j = 0; j < QK_K / 16; ++j) {
			scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
			float scale = fabsf(scales[j]);
			if (scale > amax) {
				amax = scale;
				max_scale = scales[j];
			}
		}
		memset(sc, 0, 12);
		if (max_scale) {
			float iscale = -32.f / max_scale;
			for (int j = 0; j < QK_K / 16; ++j) {
				int8_t l = (int8_t)nearest_int(iscale * scales[j]);
				l = (int8_t)(MAX(-32, MIN(31, l)) + 32);
				if (j < 8)
					sc[j] = l & 0xF;
				else
					sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
				l >>= 4;
				sc[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
			}
			put_half(y + 108, 1 / iscale);
		} else {
			put_half(y + 108, 0.f);
		}
		const float dd = half_at(y + 108);
		for (int j = 0; j < QK_K / 16; ++j) {
			const float d = dd * (int8_t)q3_scale(sc, j);
			if (!d)
				continue;
			for (int ii = 0; ii < 16; ++ii) {
				int l = nearest_int(x[16 * j + ii] / d);
				L[16 * j + ii] = (int8_t)(MAX(-4, MIN(3, l)) + 4);
			}
		}
		/* the high bit of level j goes to bit j/32 of hmask[j % 32] */
		memset(hmask, 0, 32);
		int m = 0;
		uint8_t hm = 1;
		for (int j = 0; j < QK_K; ++j) {
			if (L[j] > 3) {
				hmask[m] |= hm;
				L[j] = (int8_t)(L[j] - 4);
			}
			if (++m == QK_K / 8) {
				m = 0;
				hm = (uint8_t)(hm << 1);
			}
		}
		pack_2bit((const uint8_t *)L, qs);
	}
}

void pb_dequantize_row_q3_k(const void *src, float *y, int64_t n)
{
	const uint8_t *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b += 110) {
		const float d_all = half_at(b + 108);
		const uint8_t *q = b + 32, *hm = b;
		uint8_t m = 1;
		int is = 0;
		for (int k = 0; k < QK_K; k += 128) {
			int shift = 0;
			for (int j = 0; j < 4; ++j) {
				float dl = d_all * q3_scale(b + 96, is++);
				for (int l = 0; l < 16; ++l)
					*y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
				dl = d_all * q3_scale(b + 96, is++);
				for (int l = 0; l < 16; ++l)
					*y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
				shift += 2;
				m = (uint8_t)(m << 1);
			}
			q += 32;
		}
	}
}

/* ---- Q4_K and Q5_K: f16 d @0, f16 dmin @2, scales[12] @4, then
 * Q4_K: qs[128] @16; Q5_K: qh[32] @16, qs[128] @48 */

/* The 8 scales and mins of a block of 8 sub-blocks of 32 (nmax 15 or
 * 31; Q4_K: weights |x| + rms, 21 trials from −1; Q5_K: 16 from −0.5),
 * written as 12 bytes + d + dmin; then the levels requantized with the
 * stored 6-bit scales into L. */
static void q45_block(const float *x, uint8_t *y, uint8_t *L, int nmax, float rmin, int nstep)
{
	uint8_t Laux[32];
	float weights[32], mins[QK_K / 32], scales[QK_K / 32];
	float max_scale = 0, max_min = 0;
	uint8_t *s = y + 4;
	for (int j = 0; j < QK_K / 32; ++j) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; ++l)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; ++l)
			weights[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
					     0.1f, nstep, 0);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
	float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
	for (int j = 0; j < QK_K / 32; ++j) {
		uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
		ls = MIN(63, ls);
		lm = MIN(63, lm);
		if (j < 4) {
			s[j] = ls;
			s[j + 4] = lm;
		} else {
			s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
			s[j - 4] |= (uint8_t)((ls >> 4) << 6);
			s[j - 0] |= (uint8_t)((lm >> 4) << 6);
		}
	}
	put_half(y, max_scale / 63.f);
	put_half(y + 2, max_min / 63.f);
	const float dd = half_at(y), dmin = half_at(y + 2);
	for (int j = 0; j < QK_K / 32; ++j) {
		uint8_t sc, m;
		get_scale_min_k4(j, s, &sc, &m);
		const float d = dd * sc;
		if (!d)
			continue;
		const float dm = dmin * m;
		for (int ii = 0; ii < 32; ++ii) {
			int l = nearest_int((x[32 * j + ii] + dm) / d);
			L[32 * j + ii] = (uint8_t)MAX(0, MIN(nmax, l));
		}
	}
}

void pb_quantize_row_q4_k(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst, L[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, y += 144) {
		q45_block(x, y, L, 15, -1.f, 20);
		uint8_t *q = y + 16;
		for (int j = 0; j < QK_K; j += 64, q += 32)
			for (int l = 0; l < 32; ++l)
				q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
	}
}

void pb_dequantize_row_q4_k(const void *src, float *y, int64_t n)
{
	const uint8_t *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
		const float d = half_at(b), min = half_at(b + 2);
		const uint8_t *q = b + 16;
		int is = 0;
		uint8_t sc, m;
		for (int j = 0; j < QK_K; j += 64) {
			get_scale_min_k4(is + 0, b + 4, &sc, &m);
			const float d1 = d * sc, m1 = min * m;
			get_scale_min_k4(is + 1, b + 4, &sc, &m);
			const float d2 = d * sc, m2 = min * m;
			for (int l = 0; l < 32; ++l)
				*y++ = d1 * (q[l] & 0xF) - m1;
			for (int l = 0; l < 32; ++l)
				*y++ = d2 * (q[l] >> 4) - m2;
			q += 32;
			is += 2;
		}
	}
}

void pb_quantize_row_q5_k(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst, L[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, y += 176) {
		q45_block(x, y, L, 31, -0.5f, 15);
		uint8_t *qh = y + 16, *ql = y + 48;
		memset(qh, 0, QK_K / 8);
		uint8_t m1 = 1, m2 = 2;
		for (int k = 0; k < QK_K; k += 64) {
			for (int j = 0; j < 32; ++j) {
				int l1 = L[k + j];
				if (l1 > 15) {
					l1 -= 16;
					qh[j] |= m1;
				}
				int l2 = L[k + j + 32];
				if (l2 > 15) {
					l2 -= 16;
					qh[j] |= m2;
				}
				ql[j] = (uint8_t)(l1 | (l2 << 4));
			}
			m1 = (uint8_t)(m1 << 2);
			m2 = (uint8_t)(m2 << 2);
			ql += 32;
		}
	}
}

void pb_dequantize_row_q5_k(const void *src, float *y, int64_t n)
{
	const uint8_t *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b += 176) {
		const uint8_t *ql = b + 48, *qh = b + 16;
		const float d = half_at(b), min = half_at(b + 2);
		int is = 0;
		uint8_t sc, m, u1 = 1, u2 = 2;
		for (int j = 0; j < QK_K; j += 64) {
			get_scale_min_k4(is + 0, b + 4, &sc, &m);
			const float d1 = d * sc, m1 = min * m;
			get_scale_min_k4(is + 1, b + 4, &sc, &m);
			const float d2 = d * sc, m2 = min * m;
			for (int l = 0; l < 32; ++l)
				*y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
			for (int l = 0; l < 32; ++l)
				*y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
			ql += 32;
			is += 2;
			u1 = (uint8_t)(u1 << 2);
			u2 = (uint8_t)(u2 << 2);
		}
	}
}

/* ---- Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, f16 d @208 */

void pb_quantize_row_q6_k(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst;
	int8_t L[QK_K];
	float scales[QK_K / 16];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, y += 210) {
		float max_scale = 0, max_abs_scale = 0;
		for (int ib = 0; ib < QK_K / 16; ++ib) {
			const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
			scales[ib] = scale;
			const float abs_scale = fabsf(scale);
			if (abs_scale > max_abs_scale) {
				max_abs_scale = abs_scale;
				max_scale = scale;
			}
		}
		if (max_abs_scale < GROUP_MAX_EPS) {
			memset(y, 0, 210);
			continue;
		}
		int8_t *sc = (int8_t *)(y + 192);
		float iscale = -128.f / max_scale;
		put_half(y + 208, 1 / iscale);
		for (int ib = 0; ib < QK_K / 16; ++ib)
			sc[ib] = (int8_t)MIN(127, nearest_int(iscale * scales[ib]));
		const float dd = half_at(y + 208);
		for (int j = 0; j < QK_K / 16; ++j) {
			float d = dd * sc[j];
			if (!d)
				continue;
			for (int ii = 0; ii < 16; ++ii) {
				int l = nearest_int(x[16 * j + ii] / d);
				L[16 * j + ii] = (int8_t)(MAX(-32, MIN(31, l)) + 32);
			}
		}
		uint8_t *ql = y, *qh = y + 128;
		for (int j = 0; j < QK_K; j += 128) {
			for (int l = 0; l < 32; ++l) {
				const uint8_t q1 = L[j + l + 0] & 0xF;
				const uint8_t q2 = L[j + l + 32] & 0xF;
				const uint8_t q3 = L[j + l + 64] & 0xF;
				const uint8_t q4 = L[j + l + 96] & 0xF;
				ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
				ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
				qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
						  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
			}
			ql += 64;
			qh += 32;
		}
	}
}

void pb_dequantize_row_q6_k(const void *src, float *y, int64_t n)
{
	const uint8_t *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
		const float d = half_at(b + 208);
		const uint8_t *ql = b, *qh = b + 128;
		const int8_t *sc = (const int8_t *)(b + 192);
		for (int k = 0; k < QK_K; k += 128) {
			for (int l = 0; l < 32; ++l) {
				int is = l / 16;
				const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l + 0] = d * sc[is + 0] * q1;
				y[l + 32] = d * sc[is + 2] * q2;
				y[l + 64] = d * sc[is + 4] * q3;
				y[l + 96] = d * sc[is + 6] * q4;
			}
			y += 128;
			ql += 64;
			qh += 32;
			sc += 8;
		}
	}
}

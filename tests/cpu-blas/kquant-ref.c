/* tests/cpu-blas/kquant-ref.c — see kquant-ref.h.  Field offsets are those
 * of ggml-common.h's block_q*_K structs. */
#include <math.h>
#include <string.h>

#include "kquant-ref.h"

const enum pb_dtype kq_types[5] = { PB_Q2_K, PB_Q3_K, PB_Q4_K, PB_Q5_K, PB_Q6_K };

static uint64_t rng = 0x2545f4914f6cdd1dull;

uint32_t kq_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

double kq_uniform(void)
{
	return (double)kq_rand() / 2147483648.0 - 1.0;
}

static void put_half(uint8_t *p, float v)
{
	const uint16_t h = pb_fp32_to_fp16(v);
	memcpy(p, &h, 2);
}

static double get_half(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

/* a scale: mostly positive, sometimes negative or zero, small enough
 * that rows of thousands of elements stay in a sane range */
static float rand_scale(void)
{
	const uint32_t r = kq_rand() % 16;
	const float v = 0.0005f + 0.0025f * (float)(kq_uniform() + 1) / 2;
	return r == 0 ? 0.0f : r == 1 ? -v : v;
}

void kq_fill_row(enum pb_dtype d, uint8_t *row, int64_t n, enum kq_kind kind)
{
	const size_t bb = pb_dtype_block_bytes(d);
	for (int64_t b = 0; b < n / 256; b++, row += bb) {
		for (size_t i = 0; i < bb; i++)
			row[i] = kind == KQ_RANDOM ? (uint8_t)kq_rand()
				 : kind == KQ_ONES ? 0xff : kind == KQ_EIGHTIES ? 0x80 : 0;
		switch (d) {
		case PB_Q2_K:
			put_half(row + 80, rand_scale());
			put_half(row + 82, fabsf(rand_scale()));
			break;
		case PB_Q3_K:
			put_half(row + 108, rand_scale());
			break;
		case PB_Q4_K:
		case PB_Q5_K:
			put_half(row, rand_scale());
			put_half(row + 2, fabsf(rand_scale()));
			break;
		case PB_Q6_K:
			put_half(row + 208, rand_scale() / 8);   /* int8 scales: up to 128 */
			break;
		default:
			break;
		}
	}
}

/* Q4_K / Q5_K's scale and min of sub-block k (ggml's get_scale_min_k4) */
static void scale_min_k4(int k, const uint8_t *q, int *sc, int *m)
{
	if (k < 4) {
		*sc = q[k] & 63;
		*m = q[k + 4] & 63;
	} else {
		*sc = (q[k + 4] & 15) | ((q[k - 4] >> 6) << 4);
		*m = (q[k + 4] >> 4) | ((q[k] >> 6) << 4);
	}
}

struct kq_elem kq_elem(enum pb_dtype d, const uint8_t *row, int64_t e)
{
	const uint8_t *b = row + (size_t)(e / 256) * pb_dtype_block_bytes(d);
	const int i = (int)(e % 256);
	struct kq_elem r = { 0, 0, 0, 0 };
	switch (d) {
	case PB_Q2_K: {   /* scales[16] qs[64] d dmin */
		const int h = i / 128, j = i % 128 / 32, l = i % 32;
		const int s = b[8 * h + 2 * j + l / 16];
		r.u = (b[16 + 32 * h + l] >> (2 * j)) & 3;
		r.a = get_half(b + 80) * (s & 15);
		r.mn = get_half(b + 82) * (s >> 4);
		break;
	}
	case PB_Q3_K: {   /* hmask[32] qs[64] scales[12] d */
		const int h = i / 128, j = i % 128 / 32, l = i % 32, k = 8 * h + 2 * j + l / 16;
		const uint8_t *sc = b + 96;
		const int lo4 = k < 8 ? sc[k] & 15 : sc[k - 8] >> 4;
		const int hi2 = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
		r.u = ((b[32 + 32 * h + l] >> (2 * j)) & 3) | (((b[l] >> (4 * h + j)) & 1) << 2);
		r.off = 4;
		r.a = get_half(b + 108) * ((lo4 | (hi2 << 4)) - 32);
		break;
	}
	case PB_Q4_K:
	case PB_Q5_K: {   /* d dmin scales[12] (qh[32]) qs[128] */
		const int j = i / 64, hi = i % 64 / 32, l = i % 32, k = 2 * j + hi;
		const uint8_t *qs = b + (d == PB_Q5_K ? 48 : 16);
		int sc, m;
		scale_min_k4(k, b + 4, &sc, &m);
		r.u = hi ? qs[32 * j + l] >> 4 : qs[32 * j + l] & 15;
		if (d == PB_Q5_K)
			r.u += ((b[16 + l] >> k) & 1) * 16;
		r.a = get_half(b) * sc;
		r.mn = get_half(b + 2) * m;
		break;
	}
	case PB_Q6_K: {   /* ql[128] qh[64] scales[16] d */
		const int h = i / 128, k = i % 128 / 32, l = i % 32;
		const int lo = b[64 * h + 32 * (k & 1) + l];
		r.u = (k < 2 ? lo & 15 : lo >> 4) | (((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4);
		r.off = 32;
		r.a = get_half(b + 208) * (int8_t)b[192 + i / 16];
		break;
	}
	default:
		break;
	}
	return r;
}

double kq_value(enum pb_dtype d, const uint8_t *row, int64_t e)
{
	const struct kq_elem k = kq_elem(d, row, e);
	return k.a * (k.u - k.off) - k.mn;
}

double kq_magnitude(enum pb_dtype d, const uint8_t *row, int64_t e)
{
	const struct kq_elem k = kq_elem(d, row, e);
	return fabs(k.a) * (k.u + k.off) + fabs(k.mn);
}

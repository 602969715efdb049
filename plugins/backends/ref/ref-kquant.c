/* plugins/backends/ref/ref-kquant.c — the ref backend's own decoders of
 * llama.cpp's k-quant blocks (Q2_K … Q6_K), written from the block
 * layouts (ggml-common.h, restated in tensor.h) one element at a time:
 * for element e of a 256-element super-block, which bits hold its level
 * and which its sub-block's scale.
 *
 * ref is the ground truth that the core's kquant.c and every other
 * backend are checked against, so it shares no code with them: plugins
 * cannot link the core, and this file must not be a copy of kquant.c or of
 * a backend's kernels either (those decode whole groups in ggml's loop
 * order; this decodes by index).  Each value is computed with ggml's float
 * operations in ggml's order — d·scale, then ·level, then − dmin·min — so
 * a row decodes to the floats llama.cpp's dequantize_row_q*_K gives. */
#include <string.h>

#include "ref-kquant.h"

static float f16_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

/* Q2_K, 84 bytes: scales[16] (low nibble scale, high nibble min of each
 * 16 elements), qs[64], f16 d @80, f16 dmin @82.  Element e: 2 bits at
 * 2·((e % 128) / 32) of qs[32·(e / 128) + e % 32]. */
static float q2_k(const uint8_t *b, int e)
{
	const int s = b[e / 16];
	const int q = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
	return f16_at(b + 80) * (float)(s & 15) * (float)q - f16_at(b + 82) * (float)(s >> 4);
}

/* Q3_K, 110 bytes: hmask[32], qs[64] @32, scales[12] @96, f16 d @108.
 * Element e: low 2 bits as Q2_K's (qs @32); the third bit is bit
 * 4·(e / 128) + (e % 128) / 32 of hmask[e % 32], and when it is clear the
 * level is 4 lower.  Scale s = e / 16 (6 bits, offset 32): low 4 bits in
 * scales[s % 8] (low nibble for s < 8, high for s ≥ 8), top 2 bits at
 * 2·(s / 4) of scales[8 + s % 4]. */
static float q3_k(const uint8_t *b, int e)
{
	const int g = 4 * (e / 128) + (e % 128) / 32, s = e / 16;
	const uint8_t *sc = b + 96;
	int q = (b[32 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
	if (!((b[e % 32] >> g) & 1))
		q -= 4;
	const int lo = s < 8 ? sc[s] & 15 : sc[s - 8] >> 4;
	const int six = lo | (((sc[8 + s % 4] >> (2 * (s / 4))) & 3) << 4);
	return f16_at(b + 108) * (float)(six - 32) * (float)q;
}

/* Q4_K and Q5_K: six-bit scale and min of 32-element sub-block j from the
 * 12 bytes at s: j < 4 in the low 6 bits of s[j] and s[4 + j]; j ≥ 4 in
 * the nibbles of s[4 + j] (scale low, min high) with their top 2 bits in
 * the top bits of s[j − 4] (scale) and s[j] (min). */
static void six_bit(const uint8_t *s, int j, int *scale, int *min)
{
	if (j < 4) {
		*scale = s[j] & 63;
		*min = s[4 + j] & 63;
	} else {
		*scale = (s[4 + j] & 15) | ((s[j - 4] >> 6) << 4);
		*min = (s[4 + j] >> 4) | ((s[j] >> 6) << 4);
	}
}

/* Q4_K, 144 bytes: f16 d, f16 dmin, scales[12] @4, qs[128] @16.  Element
 * e: qs[32·(e / 64) + e % 32], low nibble when (e / 32) is even, high
 * when odd.  Q5_K, 176 bytes: the same with qh[32] @16 and qs @48; bit
 * e / 32 of qh[e % 32] adds 16. */
static float q45_k(const uint8_t *b, int e, int five)
{
	const int j = e / 32;
	const uint8_t byte = b[(five ? 48 : 16) + 32 * (e / 64) + e % 32];
	int q = j % 2 ? byte >> 4 : byte & 15, scale, min;
	if (five && ((b[16 + e % 32] >> j) & 1))
		q += 16;
	six_bit(b + 4, j, &scale, &min);
	return f16_at(b) * (float)scale * (float)q - f16_at(b + 2) * (float)min;
}

/* Q6_K, 210 bytes: ql[128], qh[64] @128, int8 scales[16] @192, f16 d
 * @208.  Element e, with h = e / 128, k = (e % 128) / 32, l = e % 32: low
 * 4 bits in ql[64h + 32·(k % 2) + l] (low nibble for k < 2, high for
 * k ≥ 2), high 2 bits at 2k of qh[32h + l]; level − 32 times scales[e / 16]. */
static float q6_k(const uint8_t *b, int e)
{
	const int h = e / 128, k = (e % 128) / 32, l = e % 32;
	const int lo = (b[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
	const int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
	return f16_at(b + 208) * (float)(int8_t)b[192 + e / 16] * (float)((lo | (hi << 4)) - 32);
}

void ref_kquant_row(enum pb_dtype d, const uint8_t *p, int64_t n, float *y)
{
	const size_t bb = pb_dtype_block_bytes(d);
	for (int64_t i = 0; i < n; i++) {
		const uint8_t *b = p + (size_t)(i / 256) * bb;
		const int e = (int)(i % 256);
		switch (d) {
		case PB_Q2_K: y[i] = q2_k(b, e); break;
		case PB_Q3_K: y[i] = q3_k(b, e); break;
		case PB_Q4_K: y[i] = q45_k(b, e, 0); break;
		case PB_Q5_K: y[i] = q45_k(b, e, 1); break;
		default: y[i] = q6_k(b, e); break;
		}
	}
}

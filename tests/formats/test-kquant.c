/* tests/formats/test-kquant.c — llama.cpp's k-quants in the core
 * (core/model/kquant.c, quant-plan.c) and in GGUF files:
 *  - blocks of random bytes decode as a naive decoder written here from
 *    the layout description (in double) says, and exactly as the ref
 *    backend's own decoder (plugins/backends/ref/ref-kquant.c) does;
 *  - blocks quantized from inputs chosen so that ggml's algorithm can be
 *    followed by hand equal the bytes derived by hand (below, per type),
 *    and a block whose scale searches matter equals the bytes of a second,
 *    independent transcription of ggml's code (kquant-golden.py);
 *  - quantize → dequantize: every value is the nearest point of its
 *    sub-block's grid, and the error stays within per-type bounds;
 *    quantizing is deterministic and block by block;
 *  - llama-quantize's per-tensor choices (q4_k_m, q5_k_m, fallbacks,
 *    output, tied embedding, T5), general.file_type, and GGUF write → read
 *    of every k-quant type bit for bit;
 *  - a backend without k-quant formats (vulkan's set) gets the tensors
 *    dequantized to F32, exactly, and the log says so. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "model/gguf.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "ref-kquant.h"
#include "run/reference.h"
#include "util/util.h"

static const enum pb_dtype kq[] = { PB_Q2_K, PB_Q3_K, PB_Q4_K, PB_Q5_K, PB_Q6_K };

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

static double gauss(void)
{
	double u = (rnd() + 1.0) / 2147483649.0, v = rnd() / 2147483648.0;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void put_f16(uint8_t *p, float f)
{
	uint16_t h = pb_fp32_to_fp16(f);
	memcpy(p, &h, 2);
}

static double f16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

/* ---- a naive decoder, from the layout (ggml-common.h) ----
 *
 * Q2_K (84 B)  scales[16] | qs[64] | d | dmin.  Element e of the 256 is in
 *   the 2-bit field number (e % 128) / 32 of byte e % 32 of the e / 128-th
 *   32-byte half of qs; its 16-element sub-block e / 16 has scale byte
 *   scales[e / 16]: low nibble × d is the step, high nibble × dmin the
 *   offset subtracted.
 * Q3_K (110 B) hmask[32] | qs[64] | scales[12] | d.  Low 2 bits as Q2_K;
 *   hmask bit (e / 32) of byte e % 32 is the third bit, and a clear bit
 *   means "minus 4".  Sub-block s = e / 16 has a 6-bit scale: low nibble
 *   of scales[s % 8] (s < 8) or its high nibble (s >= 8), top two bits in
 *   scales[8 + s % 4] at bit 2·(s / 4); minus 32.
 * Q4_K (144 B) d | dmin | scales[12] | qs[128].  32-element sub-block
 *   j = e / 32; 64 elements share 32 bytes: the even sub-block in the low
 *   nibbles, the odd one in the high.  Scales/mins 6 bits: j < 4 in the
 *   low 6 bits of scales[j] / scales[j + 4]; j >= 4 low nibble / high
 *   nibble of scales[j + 4], top two bits = top two bits of scales[j − 4]
 *   / scales[j].
 * Q5_K (176 B) d | dmin | scales[12] | qh[32] | qs[128]: Q4_K plus the 5th
 *   bit at bit j of qh[e % 32].
 * Q6_K (210 B) ql[128] | qh[64] | scales[16] (int8) | d.  Per 128
 *   elements (h = e / 128) 64 ql bytes and 32 qh bytes; quarter
 *   k = (e % 128) / 32, l = e % 32: low 4 bits are the low nibble (k < 2)
 *   or high nibble (k >= 2) of ql[64h + 32·(k % 2) + l], high 2 bits at 2k
 *   of qh[32h + l]; minus 32; times d · scales[e / 16]. */
static double naive_mag(enum pb_dtype t, const uint8_t *b, int e, double *mag)
{
	int j = e / 32, l = e % 32;
	switch (t) {
	case PB_Q2_K: {
		int sc = b[e / 16], q = (b[16 + 32 * (e / 128) + l] >> (2 * ((e % 128) / 32))) & 3;
		*mag = fabs(f16(b + 80) * (sc & 15) * q) + fabs(f16(b + 82) * (sc >> 4));
		return f16(b + 80) * (sc & 15) * q - f16(b + 82) * (sc >> 4);
	}
	case PB_Q3_K: {
		int s = e / 16, q = (b[32 + 32 * (e / 128) + l] >> (2 * ((e % 128) / 32))) & 3;
		if (!(b[l] & (1 << j)))
			q -= 4;
		int lo = s < 8 ? b[96 + s] & 15 : b[96 + s - 8] >> 4;
		int hi = (b[96 + 8 + s % 4] >> (2 * (s / 4))) & 3;
		*mag = fabs(f16(b + 108) * ((lo | hi << 4) - 32) * q);
		return f16(b + 108) * ((lo | hi << 4) - 32) * q;
	}
	case PB_Q4_K:
	case PB_Q5_K: {
		const uint8_t *sc = b + 4;
		int five = t == PB_Q5_K, scale, min;
		if (j < 4) {
			scale = sc[j] & 63;
			min = sc[j + 4] & 63;
		} else {
			scale = (sc[j + 4] & 15) | (sc[j - 4] >> 6) << 4;
			min = (sc[j + 4] >> 4) | (sc[j] >> 6) << 4;
		}
		int byte = b[(five ? 48 : 16) + 32 * (j / 2) + l];
		int q = j % 2 ? byte >> 4 : byte & 15;
		if (five)
			q |= ((b[16 + l] >> j) & 1) << 4;
		*mag = fabs(f16(b) * scale * q) + fabs(f16(b + 2) * min);
		return f16(b) * scale * q - f16(b + 2) * min;
	}
	default: {
		int h = e / 128, k = (e % 128) / 32;
		int lo = (b[64 * h + 32 * (k % 2) + l] >> (k >= 2 ? 4 : 0)) & 15;
		int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
		*mag = fabs(f16(b + 208) * (int8_t)b[192 + e / 16] * ((lo | hi << 4) - 32));
		return f16(b + 208) * (int8_t)b[192 + e / 16] * ((lo | hi << 4) - 32);
	}
	}
}

static double naive(enum pb_dtype t, const uint8_t *b, int e)
{
	double mag;
	return naive_mag(t, b, e, &mag);
}

/* Random bytes, the f16 fields set to finite values of either sign. */
static void random_block(enum pb_dtype t, uint8_t *b)
{
	size_t bb = pb_dtype_block_bytes(t);
	for (size_t i = 0; i < bb; i++)
		b[i] = (uint8_t)rnd();
	float d = ldexpf(1.0f + (float)(rnd() % 1000) / 1000.0f, -(int)(rnd() % 12)) * (rnd() % 2 ? -1 : 1);
	float dmin = ldexpf(1.0f + (float)(rnd() % 1000) / 1000.0f, -(int)(rnd() % 12));
	switch (t) {
	case PB_Q2_K: put_f16(b + 80, d); put_f16(b + 82, dmin); break;
	case PB_Q3_K: put_f16(b + 108, d); break;
	case PB_Q4_K: case PB_Q5_K: put_f16(b, d); put_f16(b + 2, dmin); break;
	default: put_f16(b + 208, d); break;
	}
}

START_TEST(decoders_agree_on_random_blocks)
{
	enum { NB = 64 };
	static uint8_t blocks[NB * 210];
	static float core[NB * 256], ref[NB * 256];
	rng_state = 12345;
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		const enum pb_dtype t = kq[k];
		const size_t bb = pb_dtype_block_bytes(t);
		for (int b = 0; b < NB; b++)
			random_block(t, blocks + b * bb);
		ck_assert_int_eq(pb_dequantize_row(t, blocks, core, NB * 256), 0);
		ref_kquant_row(t, blocks, NB * 256, ref);
		for (int i = 0; i < NB * 256; i++) {
			double mag;
			const double want = naive_mag(t, blocks + (i / 256) * bb, i % 256, &mag);
			/* float rounding of each term (≤ 2 ulps each) */
			ck_assert_msg(fabs(core[i] - want) <= 3e-7 * mag + 1e-30,
				      "%s element %d: core %.9g, layout says %.9g", pb_dtype_name(t), i, core[i], want);
			/* ref's own decoder: the same floats, bit for bit */
			ck_assert_msg(!memcmp(&core[i], &ref[i], 4), "%s element %d: core %.9g, ref %.9g",
				      pb_dtype_name(t), i, core[i], ref[i]);
		}
	}
	/* a row must be whole blocks */
	ck_assert_int_eq(pb_dequantize_row(PB_Q4_K, blocks, core, 255), -EINVAL);
	ck_assert_int_eq(pb_quantize_row(PB_Q6_K, core, blocks, 512 + 32), -EINVAL);
	ck_assert_uint_eq(pb_dtype_row_bytes(PB_Q5_K, 512), 352);
	ck_assert_uint_eq(pb_dtype_row_bytes(PB_Q3_K, 256 + 32), 0);
}
END_TEST

/* ---- blocks derived by hand from ggml's algorithm ----
 *
 * Q6_K, x = (i % 16) − 8 in every 16-element group (−8 … 7).
 *   make_qx_quants(16, 32): the largest |x| is x = −8, so iscale = −32/−8
 *   = 4 and l = 4x (−32 … 28, no clamping); with w = x², Σw·x·l = 4Σx⁴
 *   and Σw·l² = 16Σx⁴, so scale = 1/4, and no trial iscale does better
 *   (l ∝ x already maximises (Σwxl)²/Σwl², Cauchy-Schwarz; the trials
 *   with |is| <= 4 round to the same levels and tie, which does not
 *   count).  All 16 scales are 1/4: iscale = −128/(1/4) = −512, d =
 *   f16(−1/512) = 0x9800, each int8 scale = round(−512/4) = −128 (0x80);
 *   d·scale = 1/4, so the levels are 4x + 32 = 4·(e % 16).  Packing:
 *   ql[l] and ql[l + 32] hold (4·(l % 16)) & 15 in both nibbles, qh[l]
 *   the top two bits (l % 16) / 4 in all four fields: × 0x55.  The
 *   values come back exactly.
 * Q3_K, x = (i % 8) − 4 (−4 … 3).  make_q3_quants(16, 4): iscale =
 *   −4/−4 = 1, L = x, and the refinement moves nothing (x·Σ/Σ = x), so
 *   every scale is 1.  iscale = −32, each 6-bit scale round(−32) + 32 =
 *   0 (all 12 bytes 0), d = f16(−1/32) = 0xa800; d·(0 − 32) = 1, levels
 *   x + 4 = e % 8.  hmask[k] = 0xff when k % 8 >= 4 (level >= 4, in all
 *   8 bit planes), else 0; qs bytes (l % 4)·0x55.  Exact round trip.
 * Q4_K, x = (i % 16)·s_j in sub-block j, s = 1 2 4 8 16 32 1 2.
 *   make_qkx2_quants: min 0, max 15 s_j, iscale = 1/s_j exactly, L =
 *   i % 16 with zero error, which no trial beats; so scale s_j and min
 *   −0 (max_min 0: dmin 0, every 6-bit min 0).  inv_scale = 63/32:
 *   6-bit scales round(1.96875·s_j) = 2 4 8 16 32 (31.5, to even) 63 2
 *   4; d = f16(32/63) = 0x3810 (0.5078125).  Requantized with d·scale
 *   (1.015625·s_j, or 31.99·s_j for s = 32) the levels stay i % 16.
 *   scales[12] = 2|32>>4<<6, 4|63>>4<<6, 8, 16, 0, 0, 0, 0, 32&15, 63&15,
 *   2, 4; qs bytes (k % 16)·0x11.
 * Q5_K, x = i·s_j (i = 0 … 31): the same scales and d; levels i; qs
 *   bytes (k % 16)·0x11 and qh[l] = 0xff for l >= 16 (5th bit in every
 *   sub-block), else 0.
 * Q2_K, x = (i % 4)·s_j in 16-element sub-block j, s_j = 2^(j % 4).
 *   make_qkx2_quants(16, 3): scale s_j, min 0, exact; max_scale 8,
 *   iscale 15/8: 4-bit scales round(1.875·s_j) = 2 4 8 (7.5, to even) 15;
 *   d = f16(8/15) = 0x3844 (0.533203125), dmin 0; levels i % 4, qs bytes
 *   (l % 4)·0x55. */
static void golden_input(enum pb_dtype t, float *x)
{
	static const float s8[8] = { 1, 2, 4, 8, 16, 32, 1, 2 };
	for (int e = 0; e < 256; e++)
		switch (t) {
		case PB_Q6_K: x[e] = (float)(e % 16 - 8); break;
		case PB_Q3_K: x[e] = (float)(e % 8 - 4); break;
		case PB_Q4_K: x[e] = (float)(e % 16) * s8[e / 32]; break;
		case PB_Q5_K: x[e] = (float)(e % 32) * s8[e / 32]; break;
		default: x[e] = (float)(e % 4) * (float)(1 << ((e / 16) % 4)); break;
		}
}

static void golden_bytes(enum pb_dtype t, uint8_t *b)
{
	static const uint8_t sc45[12] = { 0x82, 0xc4, 0x08, 0x10, 0, 0, 0, 0, 0x00, 0x0f, 0x02, 0x04 };
	memset(b, 0, 210);
	switch (t) {
	case PB_Q6_K:
		for (int l = 0; l < 32; l++)
			for (int h = 0; h < 2; h++) {
				uint8_t lo = (uint8_t)((4 * (l % 16)) & 15);
				b[64 * h + l] = b[64 * h + 32 + l] = (uint8_t)(lo | lo << 4);
				b[128 + 32 * h + l] = (uint8_t)((l % 16) / 4 * 0x55);
			}
		memset(b + 192, 0x80, 16);
		b[208] = 0x00;
		b[209] = 0x98;
		break;
	case PB_Q3_K:
		for (int k = 0; k < 32; k++)
			b[k] = k % 8 >= 4 ? 0xff : 0x00;
		for (int k = 0; k < 64; k++)
			b[32 + k] = (uint8_t)((k % 32 % 4) * 0x55);
		b[108] = 0x00;
		b[109] = 0xa8;
		break;
	case PB_Q4_K:
	case PB_Q5_K:
		b[0] = 0x10;
		b[1] = 0x38;
		memcpy(b + 4, sc45, 12);
		for (int k = 0; k < 128; k++)
			b[(t == PB_Q5_K ? 48 : 16) + k] = (uint8_t)((k % 16) * 0x11);
		if (t == PB_Q5_K)
			for (int l = 16; l < 32; l++)
				b[16 + l] = 0xff;
		break;
	default:
		for (int j = 0; j < 16; j++)
			b[j] = (uint8_t)((int[]){ 2, 4, 8, 15 })[j % 4];
		for (int k = 0; k < 64; k++)
			b[16 + k] = (uint8_t)((k % 4) * 0x55);
		b[80] = 0x44;
		b[81] = 0x38;
		break;
	}
}

START_TEST(golden_blocks_by_hand)
{
	float x[256], y[256];
	uint8_t got[210], want[210];
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		const enum pb_dtype t = kq[k];
		const size_t bb = pb_dtype_block_bytes(t);
		golden_input(t, x);
		memset(got, 0xcc, sizeof got);
		ck_assert_int_eq(pb_quantize_row(t, x, got, 256), 0);
		golden_bytes(t, want);
		for (size_t i = 0; i < bb; i++)
			ck_assert_msg(got[i] == want[i], "%s byte %zu: 0x%02x, derived 0x%02x", pb_dtype_name(t), i,
				      got[i], want[i]);
		ck_assert_int_eq(pb_dequantize_row(t, got, y, 256), 0);
		for (int e = 0; e < 256; e++) {
			/* Q6_K and Q3_K come back exactly; the others at the 6-bit
			 * (Q2_K 4-bit) scale: d·scale·level */
			double want_y = t == PB_Q6_K || t == PB_Q3_K ? x[e] : naive(t, want, e);
			ck_assert_msg(y[e] == (float)want_y, "%s element %d: %g, expected %g", pb_dtype_name(t), e,
				      y[e], want_y);
		}
		ck_assert_float_eq(y[31], t == PB_Q4_K ? 15 * 1.015625f : y[31]);
	}
	/* an all-zero block: every level, scale and d zero (Q3_K: levels 0
	 * with the high bit clear, i.e. −4 × d = 0 × … = 0) */
	memset(x, 0, sizeof x);
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		ck_assert_int_eq(pb_quantize_row(kq[k], x, got, 256), 0);
		ck_assert_int_eq(pb_dequantize_row(kq[k], got, y, 256), 0);
		for (int e = 0; e < 256; e++)
			ck_assert_msg(y[e] == 0.0f, "%s zero block element %d: %g", pb_dtype_name(kq[k]), e, y[e]);
	}
}
END_TEST

/* A block whose scale searches matter (make_qkx2_quants' and
 * make_qx_quants' trials change 21 of Q4_K's bytes and 17 lines of Q6_K's
 * here): x = ((37e + 11) mod 97 − 48) / 16, the third 32-element
 * sub-block made positive (+ 0.5), x[200] = 9.75; then 24 blocks of
 * every type from a generator, compared by hash.  The expected values
 * come from tests/formats/kquant-golden.py, a second transcription of
 * ggml's reference quantizers in Python with float32 rounding after every
 * operation, written apart from kquant.c (run it to regenerate these). */
static const uint8_t golden_q4_k[144] = {
	0xd4, 0x22, 0x12, 0x2a, 0x5d, 0x5d, 0xd1, 0x5d, 0xfc, 0xfe, 0xc0, 0xfc,
	0xed, 0xed, 0xaf, 0xfe, 0x51, 0xb7, 0x1d, 0x74, 0xda, 0x30, 0x96, 0xfc,
	0x62, 0xc8, 0x2e, 0x84, 0xea, 0x41, 0xa7, 0x0d, 0x63, 0xc9, 0x3f, 0x95,
	0xfb, 0x52, 0xb8, 0x1d, 0x74, 0xda, 0x40, 0xa6, 0x0c, 0x62, 0xc8, 0x2e,
	0xb3, 0x1d, 0x78, 0xd7, 0x4e, 0xa4, 0x0b, 0x6a, 0xc4, 0x2f, 0x86, 0xe8,
	0x4d, 0xa2, 0x1c, 0x79, 0xd6, 0x3f, 0x95, 0xfa, 0x5b, 0xb3, 0x2e, 0x87,
	0xd7, 0x4e, 0xa4, 0x0b, 0x6a, 0xc5, 0x2f, 0x86, 0x2f, 0x85, 0xeb, 0x41,
	0xa7, 0x1d, 0x73, 0xd9, 0x3f, 0x96, 0xfc, 0x52, 0xb8, 0x1e, 0x74, 0xda,
	0x40, 0xa6, 0x0c, 0x63, 0xc9, 0x2f, 0x85, 0xeb, 0x51, 0xb7, 0x1d, 0x74,
	0xda, 0x30, 0x96, 0xfc, 0x82, 0xe5, 0x51, 0xb3, 0x16, 0x72, 0xd4, 0x30,
	0x9f, 0xf5, 0x61, 0xb4, 0x26, 0x82, 0xe5, 0x40, 0xa3, 0x16, 0x61, 0xc4,
	0x37, 0x92, 0xe5, 0x51, 0xb3, 0x16, 0x72, 0xd4, 0x40, 0x93, 0x05, 0x61,
};
static const uint8_t golden_q5_k[176] = {
	0x94, 0x1e, 0x19, 0x2a, 0x5d, 0x5e, 0xd1, 0x5d, 0xfc, 0xff, 0xc0, 0xfc,
	0xfe, 0xed, 0xaf, 0xfe, 0x98, 0xa6, 0x35, 0x88, 0x27, 0x18, 0x86, 0x37,
	0xd8, 0xa7, 0x39, 0x8e, 0x37, 0x98, 0xa6, 0x35, 0x88, 0x27, 0x19, 0x8e,
	0x37, 0x98, 0xa7, 0x39, 0x88, 0x27, 0x18, 0x86, 0x35, 0x88, 0x27, 0x39,
	0xa3, 0x6f, 0x3c, 0xf8, 0xb4, 0x70, 0x3c, 0xf9, 0xc5, 0x81, 0x4d, 0x09,
	0xc6, 0x92, 0x5e, 0x1a, 0xd6, 0x93, 0x6f, 0x2b, 0xe7, 0xa3, 0x60, 0x3c,
	0xf8, 0xb4, 0x70, 0x3d, 0x09, 0xc5, 0x81, 0x5e, 0x76, 0x3b, 0xf0, 0xce,
	0x8d, 0x48, 0x06, 0xc5, 0x99, 0x5e, 0x1d, 0xd1, 0x9a, 0x65, 0x29, 0xe2,
	0xac, 0x6f, 0x3a, 0xf4, 0xb7, 0x77, 0x3c, 0x0f, 0xcf, 0x8d, 0x47, 0x07,
	0xd5, 0x9a, 0x5f, 0x1d, 0x4e, 0x1a, 0xd6, 0x93, 0x6f, 0x1b, 0xe7, 0xa3,
	0x6f, 0x3c, 0xf8, 0xb4, 0x70, 0x3c, 0x09, 0xc5, 0x81, 0x4d, 0x09, 0xc6,
	0x92, 0x5e, 0x1a, 0xe6, 0x93, 0x6f, 0x2b, 0xe7, 0xb3, 0x60, 0x3c, 0xf8,
	0x25, 0xea, 0xa1, 0x67, 0x3d, 0xf3, 0xb9, 0x70, 0x3f, 0xfb, 0xc2, 0x88,
	0x4d, 0x04, 0xca, 0x90, 0x56, 0x1c, 0xd3, 0x98, 0x6e, 0x25, 0xeb, 0xa1,
	0x67, 0x3d, 0xf3, 0xb9, 0x70, 0x36, 0x0b, 0xc2,
};
static const uint8_t golden_q6_k[210] = {
	0x97, 0x40, 0xf9, 0x11, 0x29, 0x81, 0x9a, 0xa3, 0x7b, 0x13, 0x2c, 0xe4,
	0x5d, 0xb5, 0x6d, 0xd6, 0x42, 0x09, 0x61, 0xc9, 0x80, 0x98, 0x4f, 0x07,
	0x1f, 0x36, 0x8e, 0x95, 0xbd, 0x65, 0x1c, 0x33, 0x0b, 0x73, 0x0a, 0x92,
	0x0a, 0xa1, 0x09, 0xa1, 0x38, 0xa0, 0x37, 0xdf, 0x47, 0xde, 0x46, 0xdd,
	0xab, 0x24, 0x9c, 0x15, 0x9d, 0x05, 0x8e, 0xf6, 0x7f, 0xf7, 0x6f, 0xe8,
	0x50, 0xd9, 0x51, 0xc9, 0x34, 0xbb, 0x73, 0x0a, 0x92, 0x5a, 0xd1, 0x99,
	0x11, 0xa8, 0x60, 0xf7, 0x8f, 0x47, 0xce, 0x86, 0x33, 0xab, 0x24, 0x9c,
	0x15, 0x9d, 0x05, 0x8e, 0xf6, 0x7f, 0xf7, 0x6f, 0xe8, 0x50, 0xd9, 0x51,
	0xc9, 0x4e, 0xb3, 0x3f, 0xa4, 0x2f, 0xa4, 0x19, 0x95, 0x1a, 0x80, 0x0b,
	0x70, 0xfc, 0x71, 0xe6, 0xb0, 0x39, 0xb1, 0x49, 0xc2, 0x5a, 0xd3, 0x5b,
	0xe3, 0x6c, 0xf4, 0x7d, 0xf5, 0x8d, 0x06, 0x9f, 0xd8, 0x06, 0x8f, 0xd9,
	0x42, 0x9c, 0x05, 0x43, 0xd8, 0x06, 0x9f, 0xc5, 0x42, 0x98, 0x05, 0x4f,
	0x17, 0xcd, 0x50, 0x0a, 0x8d, 0x57, 0xc9, 0x50, 0x16, 0x8d, 0x53, 0xca,
	0x80, 0x17, 0xcd, 0x50, 0x6c, 0x16, 0xa1, 0x6b, 0xd6, 0xac, 0x1b, 0xe1,
	0x4c, 0x16, 0xa1, 0x5b, 0xd5, 0x6c, 0x1a, 0xa1, 0xa4, 0x09, 0x73, 0xd4,
	0x0e, 0xa3, 0xd9, 0x7e, 0x94, 0x09, 0x63, 0xd4, 0x3e, 0xa0, 0x09, 0x7f,
	0x26, 0xda, 0xd9, 0x26, 0xd5, 0xd4, 0x25, 0xda, 0xd9, 0x26, 0xdd, 0x26,
	0x80, 0xda, 0xd9, 0x26, 0x09, 0x19,
};
/* FNV-1a 64 of 24 blocks of many_blocks(), Q2_K … Q6_K */
static const uint64_t golden_many[5] = { 0x2c0d6e2ac598045dull, 0xf6f041a70eff11a1ull, 0xd3a1ee51b2f9b710ull, 0x4c6c91185977d6aeull, 0x9709753ff9e7de12ull };

/* kquant-golden.py's many_blocks(): 64-bit LCG, integers / 256, each
 * 32-element sub-block scaled by a power of two, an outlier now and then */
static void many_blocks(float *x, int n_blocks)
{
	uint64_t st = 1;
	for (int b = 0; b < n_blocks; b++)
		for (int e = 0; e < 256; e++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			uint64_t r = st >> 33;
			float v = (float)(r % 2001) - 1000.0f;
			if (r % 61 == 0)
				v *= 8;
			x[b * 256 + e] = v / 256.0f * ldexpf(1.0f, (e / 32 + b) % 5 - 2);
		}
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

START_TEST(golden_blocks_independent)
{
	static const struct { enum pb_dtype t; const uint8_t *want; } c[] = {
		{ PB_Q4_K, golden_q4_k }, { PB_Q5_K, golden_q5_k }, { PB_Q6_K, golden_q6_k },
	};
	float x[256];
	uint8_t got[210];
	for (int e = 0; e < 256; e++) {
		float v = (float)((e * 37 + 11) % 97 - 48) / 16.0f;
		if (e / 32 == 2)
			v = fabsf(v) + 0.5f;
		x[e] = e == 200 ? 9.75f : v;
	}
	for (size_t k = 0; k < PB_ARRAY_LEN(c); k++) {
		ck_assert_int_eq(pb_quantize_row(c[k].t, x, got, 256), 0);
		for (size_t i = 0; i < pb_dtype_block_bytes(c[k].t); i++)
			ck_assert_msg(got[i] == c[k].want[i], "%s byte %zu: 0x%02x, the Python derivation 0x%02x",
				      pb_dtype_name(c[k].t), i, got[i], c[k].want[i]);
	}
	/* 24 more blocks of every type, by hash */
	enum { NB = 24 };
	static float xs[NB * 256];
	static uint8_t q[NB * 210];
	many_blocks(xs, NB);
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		ck_assert_int_eq(pb_quantize_row(kq[k], xs, q, NB * 256), 0);
		uint64_t h = fnv1a64(q, pb_dtype_row_bytes(kq[k], NB * 256));
		ck_assert_msg(h == golden_many[k], "%s: %d blocks hash to 0x%016llx, the Python derivation to 0x%016llx",
			      pb_dtype_name(kq[k]), NB, (unsigned long long)h, (unsigned long long)golden_many[k]);
	}
}
END_TEST

/* RMSE / RMS(x) bounds per type (Q2_K … Q6_K) and input (gaussian,
 * outliers, positive+tiny): 1.25 × what this code measured (it prints the
 * measurements on stderr).  For scale: a 32-value Gaussian sub-block
 * spans about 4.1σ, so Q4_K's 15 steps of 0.27σ would round with RMSE
 * 0.079σ; the weighted fit does a little better (0.072). */
static const double rmse_max[5][3] = {
	{ 0.37, 0.30, 0.24 },
	{ 0.19, 0.20, 0.18 },
	{ 0.09, 0.125, 0.055 },
	{ 0.045, 0.062, 0.027 },
	{ 0.023, 0.039, 0.022 },
};

/* The grid of the sub-block that holds element e of block b, from the
 * stored bytes: value(L) = step·L − off for L in 0..hi.  Decoded (naive
 * decoder) from two probe copies of the block whose level bits are all
 * zero but, in the second, level 1 for e. */
static void grid(enum pb_dtype t, const uint8_t *b, int e, double *step, double *off, int *hi)
{
	uint8_t p[210];
	size_t bb = pb_dtype_block_bytes(t);
	double v[2];
	for (int L = 0; L < 2; L++) {
		memcpy(p, b, bb);
		/* zero every level bit, then set the lowest level bit of e */
		switch (t) {
		case PB_Q2_K: memset(p + 16, 0, 64); break;
		case PB_Q3_K: memset(p, 0, 32); memset(p + 32, 0, 64); break;
		case PB_Q4_K: memset(p + 16, 0, 128); break;
		case PB_Q5_K: memset(p + 16, 0, 160); break;
		default: memset(p, 0, 192); break;
		}
		if (L) {
			int l = e % 32, j = e / 32, h = e / 128, k = (e % 128) / 32;
			switch (t) {
			case PB_Q2_K: p[16 + 32 * h + l] = (uint8_t)(1 << (2 * k)); break;
			case PB_Q3_K: p[32 + 32 * h + l] = (uint8_t)(1 << (2 * k)); break;
			case PB_Q4_K: p[16 + 32 * (j / 2) + l] = j % 2 ? 0x10 : 0x01; break;
			case PB_Q5_K: p[48 + 32 * (j / 2) + l] = j % 2 ? 0x10 : 0x01; break;
			default: p[64 * h + 32 * (k % 2) + l] = k >= 2 ? 0x10 : 0x01; break;
			}
		}
		v[L] = naive(t, p, e);
	}
	*step = v[1] - v[0];
	*off = -v[0];     /* Q3_K: level 0 is −4·step, Q6_K −32·step: the same */
	*hi = t == PB_Q2_K ? 3 : t == PB_Q3_K ? 7 : t == PB_Q4_K ? 15 : t == PB_Q5_K ? 31 : 63;
}

static double rmse_of(enum pb_dtype t, const float *x, int n)
{
	uint8_t *q = malloc(pb_dtype_row_bytes(t, n));
	float *y = malloc((size_t)n * sizeof *y);
	double se = 0;
	ck_assert_int_eq(pb_quantize_row(t, x, q, n), 0);
	ck_assert_int_eq(pb_dequantize_row(t, q, y, n), 0);
	for (int i = 0; i < n; i++)
		se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
	free(q);
	free(y);
	return sqrt(se / n);
}

static void check_round_trip(enum pb_dtype t, const float *x, int n, double bound, const char *what)
{
	uint8_t *q = malloc(pb_dtype_row_bytes(t, n));
	float *y = malloc((size_t)n * sizeof *y);
	const size_t bb = pb_dtype_block_bytes(t);
	ck_assert_int_eq(pb_quantize_row(t, x, q, n), 0);
	ck_assert_int_eq(pb_dequantize_row(t, q, y, n), 0);
	double se = 0, sx = 0;
	for (int i = 0; i < n; i++) {
		double step, off, err = fabs((double)y[i] - x[i]), best = INFINITY;
		int hi;
		grid(t, q + (i / 256) * bb, i % 256, &step, &off, &hi);
		for (int L = 0; L <= hi; L++)
			best = fmin(best, fabs(step * L - off - x[i]));
		/* the value is its sub-block grid's nearest point to x */
		ck_assert_msg(err <= best + 1e-5 * (fabs(step) * hi + fabs(off)) + 1e-30,
			      "%s %s element %d: x %.7g → %.7g, but the grid has a point %.3g away", pb_dtype_name(t),
			      what, i, x[i], y[i], best);
		se += err * err;
		sx += (double)x[i] * x[i];
	}
	double rel = sx > 0 ? sqrt(se / sx) : 0;
	fprintf(stderr, "%s %-13s RMSE / RMS %.4f (bound %.2f)\n", pb_dtype_name(t), what, rel, bound);
	ck_assert_msg(rel <= bound, "%s %s: RMSE / RMS %.4f > %.4f", pb_dtype_name(t), what, rel, bound);
	free(q);
	free(y);
}

START_TEST(round_trip_error)
{
	enum { N = 64 * 256 };
	static float x[N];
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		rng_state = 99 + k;
		for (int i = 0; i < N; i++)
			x[i] = (float)gauss();
		check_round_trip(kq[k], x, N, rmse_max[k][0], "gaussian");
		if (kq[k] == PB_Q4_K) {   /* at the same 4.5 bits a weight, nearer than Q4_0 (0.0716 vs 0.0864) */
			double k4 = rmse_of(PB_Q4_K, x, N), q40 = rmse_of(PB_Q4_0, x, N);
			ck_assert_msg(k4 < 0.9 * q40, "Q4_K RMSE %g, Q4_0 %g", k4, q40);
		}
		/* small values with one outlier per block, as weight rows often have */
		for (int i = 0; i < N; i++)
			x[i] = (float)(0.02 * gauss()) + (i % 256 == 17 ? 0.5f : 0.0f);
		check_round_trip(kq[k], x, N, rmse_max[k][1], "outliers");
		/* all positive (the offset grids' min clamps to 0), and tiny values */
		for (int i = 0; i < N; i++)
			x[i] = i < N / 2 ? (float)fabs(gauss()) : (float)(1e-6 * gauss());
		check_round_trip(kq[k], x, N, rmse_max[k][2], "positive+tiny");
	}
}
END_TEST

START_TEST(quantizing_is_deterministic)
{
	enum { N = 8 * 256 };
	static float x[N + 1];
	static uint8_t a[N * 210 / 256], b[N * 210 / 256], c[N * 210 / 256];
	rng_state = 7;
	for (int i = 0; i < N; i++)
		x[i] = (float)gauss();
	for (size_t k = 0; k < PB_ARRAY_LEN(kq); k++) {
		const size_t rb = pb_dtype_row_bytes(kq[k], N), bb = pb_dtype_block_bytes(kq[k]);
		ck_assert_int_eq(pb_quantize_row(kq[k], x, a, N), 0);
		ck_assert_int_eq(pb_quantize_row(kq[k], x, b, N), 0);
		ck_assert_msg(!memcmp(a, b, rb), "%s: two runs differ", pb_dtype_name(kq[k]));
		/* block by block, from another address: the same bytes */
		memmove(x + 1, x, N * sizeof *x);
		for (int blk = 0; blk < N / 256; blk++)
			ck_assert_int_eq(pb_quantize_row(kq[k], x + 1 + blk * 256, c + blk * bb, 256), 0);
		memmove(x, x + 1, N * sizeof *x);
		ck_assert_msg(!memcmp(a, c, rb), "%s: block by block differs", pb_dtype_name(kq[k]));
	}
}
END_TEST

/* ---- llama-quantize's choices */

static struct pb_model *llama256(int n_layers, int ffn, int untied)
{
	struct pb_hparams hp = {
		.dim = 256, .n_layers = n_layers, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64,
		.ffn_dim = ffn, .vocab = 260, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0,
		.ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("kq-llama", &hp, 5, &m, err, sizeof err) == 0, "%s", err);
	if (untied) {
		struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
		int64_t ne[4] = { 256, 260, 1, 1 };
		ck_assert_int_eq(pb_tensor_realloc(o, PB_F32, ne, 256 * 260 * 4), 0);
		pb_synth_fill(o, 5, 77, 0.05f);
	}
	return m;
}

static enum pb_dtype planned(const struct pb_model *m, const enum pb_dtype *plan, int stack, int layer,
			     enum pb_role role)
{
	const struct pb_tensor *t = pb_model_find_in(m, (enum pb_stack)stack, layer, role);
	ck_assert_ptr_nonnull(t);
	return plan[t - m->tensors];
}

START_TEST(q4_k_m_choices)
{
	/* 8 blocks: use_more_bits(i, 8) for i = 0 (i < 1), 3 and 6
	 * ((i − 1) % 3 == 2) and 7 (i >= 7) */
	static const int more[8] = { 1, 0, 0, 1, 0, 0, 1, 1 };
	struct pb_model *m = llama256(8, 512, 1);
	enum pb_dtype plan[128];
	ck_assert_int_le(m->n_tensors, 128);
	for (int mix = PB_MIX_Q4_K_M; mix <= PB_MIX_Q5_K_M; mix++) {
		const enum pb_dtype base = mix == PB_MIX_Q4_K_M ? PB_Q4_K : PB_Q5_K;
		ck_assert_int_eq(pb_quant_plan(m, base, (enum pb_quant_mix)mix, plan), 0);
		for (int l = 0; l < 8; l++) {
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_V), more[l] ? PB_Q6_K : base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_FFN_DOWN), more[l] ? PB_Q6_K : base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_Q), base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_K), base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_O), base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_FFN_GATE), base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_FFN_UP), base);
			ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_NORM), PB_F32);
		}
		ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_OUTPUT), PB_Q6_K);
		ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_TOK_EMBD), base);   /* untied */
		ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_OUT_NORM), PB_F32);
	}
	/* no mix: every linear Q4_K, the output still Q6_K */
	ck_assert_int_eq(pb_quant_plan(m, PB_Q4_K, PB_MIX_NONE, plan), 0);
	for (int l = 0; l < 8; l++) {
		ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_ATTN_V), PB_Q4_K);
		ck_assert_int_eq(planned(m, plan, 0, l, PB_ROLE_FFN_DOWN), PB_Q4_K);
	}
	ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_OUTPUT), PB_Q6_K);
	pb_model_free(m);

	/* 12 blocks (llama-110m's count): i = 0, 3, 6, 9, 10, 11 */
	m = llama256(12, 256, 0);
	enum pb_dtype plan12[128];
	ck_assert_int_le(m->n_tensors, 128);
	ck_assert_int_eq(pb_quant_plan(m, PB_Q4_K, PB_MIX_Q4_K_M, plan12), 0);
	for (int l = 0; l < 12; l++) {
		int want = l == 0 || l == 3 || l == 6 || l >= 9;
		ck_assert_int_eq(planned(m, plan12, 0, l, PB_ROLE_ATTN_V), want ? PB_Q6_K : PB_Q4_K);
		ck_assert_int_eq(planned(m, plan12, 0, l, PB_ROLE_FFN_DOWN), want ? PB_Q6_K : PB_Q4_K);
	}
	/* tied: the embedding is the output to llama.cpp, so Q6_K, and the
	 * output shares it */
	ck_assert_int_eq(planned(m, plan12, 0, -1, PB_ROLE_TOK_EMBD), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan12, 0, -1, PB_ROLE_OUTPUT), PB_Q6_K);
	pb_model_free(m);

	/* converted: 2 blocks, use_more_bits(i, 2) only for i = 1 (>= 7·2/8) */
	m = llama256(2, 256, 0);
	char err[256];
	ck_assert_msg(pb_model_quantize(m, PB_Q4_K, PB_MIX_Q4_K_M, err, sizeof err) == 0, "%s", err);
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD), *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	ck_assert_int_eq(e->dtype, PB_Q6_K);
	ck_assert_ptr_eq(o->data, e->data);
	ck_assert_int_eq(o->dtype, PB_Q6_K);
	ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_ATTN_V)->dtype, PB_Q4_K);
	ck_assert_int_eq(pb_model_find(m, 1, PB_ROLE_ATTN_V)->dtype, PB_Q6_K);
	ck_assert_int_eq(pb_model_find(m, 1, PB_ROLE_FFN_DOWN)->dtype, PB_Q6_K);
	ck_assert_int_eq(pb_model_find(m, 1, PB_ROLE_ATTN_NORM)->dtype, PB_F32);
	/* a mix needs a k-quant base */
	ck_assert_int_eq(pb_model_quantize(m, PB_Q8_0, PB_MIX_Q4_K_M, err, sizeof err), -EINVAL);
	pb_model_free(m);
}
END_TEST

START_TEST(fallbacks)
{
	static const struct { enum pb_dtype t; int64_t n; enum pb_dtype want; } c[] = {
		{ PB_Q4_K, 512, PB_Q4_K }, { PB_Q4_K, 320, PB_Q8_0 }, { PB_Q5_K, 320, PB_Q8_0 },
		{ PB_Q6_K, 288, PB_Q8_0 }, { PB_Q2_K, 320, PB_Q4_0 }, { PB_Q3_K, 96, PB_Q4_0 },
		{ PB_Q4_K, 48, PB_F16 }, { PB_Q2_K, 48, PB_F16 }, { PB_Q8_0, 48, PB_F16 },
		{ PB_Q4_0, 64, PB_Q4_0 }, { PB_F16, 7, PB_F16 }, { PB_F32, 7, PB_F32 },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(c); i++)
		ck_assert_msg(pb_quant_fallback(c[i].t, c[i].n) == c[i].want, "%s × %lld → %s, expected %s",
			      pb_dtype_name(c[i].t), (long long)c[i].n,
			      pb_dtype_name(pb_quant_fallback(c[i].t, c[i].n)), pb_dtype_name(c[i].want));
	/* in a model: ffn 320 → ffn_down rows of 320 fall back to Q8_0, the
	 * rest stays Q4_K */
	struct pb_model *m = llama256(2, 320, 1);
	char err[256];
	ck_assert_msg(pb_model_quantize(m, PB_Q4_K, PB_MIX_Q4_K_M, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_FFN_DOWN)->dtype, PB_Q8_0);
	ck_assert_int_eq(pb_model_find(m, 1, PB_ROLE_FFN_DOWN)->dtype, PB_Q8_0);   /* Q6_K does not fit either */
	ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_FFN_UP)->dtype, PB_Q4_K);
	ck_assert_int_eq(pb_model_find(m, -1, PB_ROLE_OUTPUT)->dtype, PB_Q6_K);
	pb_model_free(m);
	/* llama-15m's shapes (dim 288, ffn 768), 2 blocks: the tied 288-wide
	 * embedding/output takes Q8_0 (llama.cpp's rule for rows that are
	 * not whole blocks), attn_q falls back to Q8_0 (llama.cpp: Q5_0),
	 * ffn_down (768 wide) fits: Q4_K for i = 0, Q6_K for i = 1 */
	struct pb_hparams hp = pb_synth_find("llama-15m")->hp;
	hp.n_layers = 2;
	hp.vocab = 260;
	ck_assert_int_eq(pb_model_synth_hp("kq-15m", &hp, 1, &m, err, sizeof err), 0);
	enum pb_dtype *plan = calloc((size_t)m->n_tensors, sizeof *plan);
	ck_assert_int_eq(pb_quant_plan(m, PB_Q4_K, PB_MIX_Q4_K_M, plan), 0);
	ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_TOK_EMBD), PB_Q8_0);
	ck_assert_int_eq(planned(m, plan, 0, -1, PB_ROLE_OUTPUT), PB_Q8_0);
	ck_assert_int_eq(planned(m, plan, 0, 0, PB_ROLE_ATTN_Q), PB_Q8_0);
	ck_assert_int_eq(planned(m, plan, 0, 0, PB_ROLE_FFN_DOWN), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, 0, 1, PB_ROLE_FFN_DOWN), PB_Q6_K);
	free(plan);
	pb_model_free(m);
}
END_TEST

/* T5 as llama.cpp does it: no "blk." prefix, so every tensor is visited
 * in name order, and n_layer is the encoder's.  2 + 2 blocks: attn_v-like
 * in order dec.0.attn_v, dec.0.cross_attn_v, dec.1.attn_v,
 * dec.1.cross_attn_v, enc.0.attn_v, enc.1.attn_v (n = 6: Q6_K for i = 2,
 * 5); ffn_down dec.0, dec.1, enc.0, enc.1 against n = 2 (7·2/8 = 1: Q6_K
 * from i = 1 on). */
START_TEST(t5_choices)
{
	struct pb_hparams hp = {
		.dim = 256, .n_layers = 2, .n_enc_layers = 2, .n_heads = 4, .n_kv_heads = 4, .head_dim = 64,
		.ffn_dim = 512, .vocab = 300, .ctx = 32, .norm_eps = 1e-6f, .bos_id = -1, .eos_id = 1,
		.pad_id = 0, .unk_id = 2, .decoder_start_id = 0, .rel_buckets = 32, .rel_max_distance = 128,
		.ffn_act = PB_ACT_RELU, .ffn_gated = 0, .logit_scale = 0.0625f,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("kq-t5", &hp, 3, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m->arch, PB_ARCH_T5);
	enum pb_dtype *plan = calloc((size_t)m->n_tensors, sizeof *plan);
	ck_assert_int_eq(pb_quant_plan(m, PB_Q4_K, PB_MIX_Q4_K_M, plan), 0);
	const int D = PB_STACK_DECODER, E = PB_STACK_ENCODER;
	ck_assert_int_eq(planned(m, plan, D, 0, PB_ROLE_ATTN_V), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, D, 0, PB_ROLE_CROSS_V), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, D, 1, PB_ROLE_ATTN_V), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan, D, 1, PB_ROLE_CROSS_V), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, E, 0, PB_ROLE_ATTN_V), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, E, 1, PB_ROLE_ATTN_V), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan, D, 0, PB_ROLE_FFN_DOWN), PB_Q4_K);
	ck_assert_int_eq(planned(m, plan, D, 1, PB_ROLE_FFN_DOWN), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan, E, 0, PB_ROLE_FFN_DOWN), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan, E, 1, PB_ROLE_FFN_DOWN), PB_Q6_K);
	ck_assert_int_eq(planned(m, plan, E, 0, PB_ROLE_ATTN_REL_BIAS), PB_F32);
	ck_assert_int_eq(planned(m, plan, D, 0, PB_ROLE_CROSS_Q), PB_Q4_K);
	free(plan);
	pb_model_free(m);
}
END_TEST

/* general.file_type as written: the u32 after the key in the file. */
static uint32_t file_type_of(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	static const char key[] = "general.file_type";
	for (size_t i = 8; i + sizeof key + 8 < n; i++)
		if (!memcmp(buf + i, key, sizeof key - 1)) {
			uint64_t len;
			uint32_t type, v;
			memcpy(&len, buf + i - 8, 8);
			memcpy(&type, buf + i + sizeof key - 1, 4);
			memcpy(&v, buf + i + sizeof key - 1 + 4, 4);
			ck_assert_uint_eq(len, sizeof key - 1);
			ck_assert_uint_eq(type, GGUF_UINT32);
			return v;
		}
	ck_abort_msg("%s: no general.file_type", path);
	return 0;
}

/* Every type and mix: written, read back bit for bit, labelled as
 * llama-quantize labels it. */
START_TEST(gguf_write_read)
{
	static const struct { const char *name; uint32_t ftype; } c[] = {
		{ "q2_k", LLAMA_FTYPE_MOSTLY_Q2_K }, { "q3_k", LLAMA_FTYPE_MOSTLY_Q3_K_S },
		{ "q4_k", LLAMA_FTYPE_MOSTLY_Q4_K_S }, { "q5_k", LLAMA_FTYPE_MOSTLY_Q5_K_S },
		{ "q6_k", LLAMA_FTYPE_MOSTLY_Q6_K }, { "q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M },
		{ "q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M }, { "q8_0", LLAMA_FTYPE_MOSTLY_Q8_0 },
	};
	char err[512];
	for (size_t k = 0; k < PB_ARRAY_LEN(c); k++) {
		const struct pb_quant_type *qt = pb_quant_type_find(c[k].name);
		ck_assert_ptr_nonnull(qt);
		struct pb_model *m = llama256(2, 512, k % 2), *back;
		ck_assert_msg(pb_model_quantize(m, qt->dtype, qt->mix, err, sizeof err) == 0, "%s", err);
		const char *p = spath("kq.gguf");
		ck_assert_msg(pb_gguf_write(m, p, err, sizeof err) == 0, "%s", err);
		back = must_load(p, NULL);
		same_tensors(m, back, 0);
		ck_assert_msg(file_type_of(p) == c[k].ftype, "%s: general.file_type %u, expected %u", c[k].name,
			      file_type_of(p), c[k].ftype);
		ck_assert_int_eq(pb_model_find(back, 0, PB_ROLE_ATTN_Q)->dtype, qt->dtype);
		pb_model_free(back);
		pb_model_free(m);
	}
	ck_assert_ptr_null(pb_quant_type_find("q4_k_s"));
	ck_assert_ptr_nonnull(pb_quant_type_find("Q5_K_M"));
	ck_assert_ptr_nonnull(strstr(pb_quant_type_names(), "q4_0, q2_k, q3_k, q4_k, q5_k, q6_k, q4_k_m, q5_k_m"));
}
END_TEST

/* pb_convert_for_backend with the formats vulkan declares: the k-quant
 * tensors become F32 holding their dequantized values, everything else is
 * left as it is, and one log line per format says what happened. */
START_TEST(backend_without_kquants)
{
	const uint32_t vk = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16) | PB_FMT(PB_Q8_0) | PB_FMT(PB_Q4_0);
	struct pb_model *q = llama256(2, 512, 1), *ref = llama256(2, 512, 1);
	char err[256], log[4096] = "";
	ck_assert_msg(pb_model_quantize(q, PB_Q4_K, PB_MIX_Q4_K_M, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_quantize(ref, PB_Q4_K, PB_MIX_Q4_K_M, err, sizeof err) == 0, "%s", err);
	int n4 = 0, n6 = 0;
	for (int i = 0; i < q->n_tensors; i++) {
		n4 += q->tensors[i].dtype == PB_Q4_K;
		n6 += q->tensors[i].dtype == PB_Q6_K;
	}
	ck_assert(n4 > 0 && n6 > 0);
	/* the log goes to stderr: catch it in a file */
	const char *lp = spath("convert.log");
	enum pb_log_level was = pb_log_level_get();
	fflush(stderr);
	int saved = dup(2), fd = open(lp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	pb_log_level_set(PB_LOG_INFO);
	int rc = pb_convert_for_backend(q, vk);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	pb_log_level_set(was);
	ck_assert_int_eq(rc, 0);
	FILE *f = fopen(lp, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(log, 1, sizeof log - 1, f);
	fclose(f);
	log[n] = '\0';
	char want[160];
	snprintf(want, sizeof want, "%d tensors in Q4_K dequantized to F32: the backend runs only F32, F16, BF16, Q8_0, Q4_0", n4);
	ck_assert_msg(strstr(log, want), "expected '%s' in the log: %s", want, log);
	snprintf(want, sizeof want, "%d tensor%s in Q6_K dequantized to F32", n6, n6 == 1 ? "" : "s");
	ck_assert_msg(strstr(log, want), "expected '%s' in the log: %s", want, log);
	float *row = malloc(512 * sizeof *row);
	for (int i = 0; i < q->n_tensors; i++) {
		const struct pb_tensor *t = &q->tensors[i], *r = &ref->tensors[i];
		ck_assert_msg(vk & PB_FMT(t->dtype), "%s left in %s", t->name, pb_dtype_name(t->dtype));
		if (!pb_dtype_is_kquant(r->dtype)) {
			ck_assert_int_eq(t->dtype, r->dtype);
			continue;
		}
		ck_assert_int_eq(t->dtype, PB_F32);
		for (int64_t k = 0; k < r->ne[1]; k++) {
			ck_assert_int_eq(pb_tensor_row_f32(r, k, row), 0);
			ck_assert_msg(!memcmp(row, (const float *)t->data + k * t->ne[0], (size_t)t->ne[0] * 4),
				      "%s row %lld: not the dequantized values", t->name, (long long)k);
		}
	}
	free(row);
	/* a backend without F32 cannot take them */
	ck_assert_int_eq(pb_convert_for_backend(ref, PB_FMT(PB_Q8_0)), -ENOTSUP);
	pb_model_free(q);
	pb_model_free(ref);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kquant");
	TCase *tc = tcase_create("blocks");
	tcase_add_test(tc, decoders_agree_on_random_blocks);
	tcase_add_test(tc, golden_blocks_by_hand);
	tcase_add_test(tc, golden_blocks_independent);
	tcase_add_test(tc, round_trip_error);
	tcase_add_test(tc, quantizing_is_deterministic);
	suite_add_tcase(s, tc);
	tc = tcase_create("models");
	tcase_add_test(tc, q4_k_m_choices);
	tcase_add_test(tc, fallbacks);
	tcase_add_test(tc, t5_choices);
	tcase_add_test(tc, gguf_write_read);
	tcase_add_test(tc, backend_without_kquants);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

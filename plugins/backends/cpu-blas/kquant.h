/* plugins/backends/cpu-blas/kquant.h — the k-quant super-blocks as the
 * cpu-blas kernels read them (kernels-kquant.c, kernels-avx2-kquant.c):
 * byte offsets of each field, and the unpacking of the 12-byte six-bit
 * scale fields.  Layouts are llama.cpp's (ggml-common.h; tensor.h
 * summarises them); every super-block holds 256 elements, f16 values
 * little-endian.  The element order, which the kernels follow:
 *
 *   Q2_K  element 128h + 32j + l (h < 2, j < 4, l < 32) is bits 2j..2j+1 of
 *         qs[32h + l], in sub-block 8h + 2j + (l ≥ 16) of 16;
 *         x = d·(scales[s] & 15)·q − dmin·(scales[s] >> 4).
 *   Q3_K  the same two bits from qs, plus bit 4h + j of hmask[l] as bit 2:
 *         u = q | h << 2 in 0..7, x = d·(scale_s − 32)·(u − 4).
 *   Q4_K  element 64j + l (j < 4, l < 32) is the low nibble of qs[32j + l],
 *         element 64j + 32 + l its high nibble; sub-blocks of 32, scale
 *         and min six bits each: x = d·sc_k·q − dmin·m_k.
 *   Q5_K  as Q4_K, plus bit k (the sub-block) of qh[l] as bit 4.
 *   Q6_K  element 128h + 32k + l (k < 4): low 4 bits from
 *         ql[64h + l + 32·(k & 1)] (low nibble for k < 2, high for k ≥ 2),
 *         bits 4-5 from bits 2k..2k+1 of qh[32h + l]; u in 0..63,
 *         x = d·scales[s]·(u − 32), s = (element) / 16, scales int8. */
#ifndef CPUBLAS_KQUANT_H
#define CPUBLAS_KQUANT_H

#include <stdint.h>
#include <string.h>

#include <prunebench/tensor.h>

#define KQ_N 256   /* elements per super-block */

/* Q2_K, 84 bytes */
#define Q2K_SCALES 0
#define Q2K_QS 16
#define Q2K_D 80
#define Q2K_DMIN 82
/* Q3_K, 110 bytes */
#define Q3K_HMASK 0
#define Q3K_QS 32
#define Q3K_SCALES 96
#define Q3K_D 108
/* Q4_K, 144 bytes */
#define Q4K_D 0
#define Q4K_DMIN 2
#define Q4K_SCALES 4
#define Q4K_QS 16
/* Q5_K, 176 bytes */
#define Q5K_D 0
#define Q5K_DMIN 2
#define Q5K_SCALES 4
#define Q5K_QH 16
#define Q5K_QS 48
/* Q6_K, 210 bytes */
#define Q6K_QL 0
#define Q6K_QH 128
#define Q6K_SCALES 192
#define Q6K_D 208

/* Q4_K / Q5_K: the 12 bytes b hold 8 six-bit scales and 8 six-bit mins.
 * Sub-block k < 4: scale = b[k] & 63, min = b[k + 4] & 63; k ≥ 4: the low
 * four bits in b[k + 4] (scale: low nibble, min: high nibble) and the top
 * two in bits 6-7 of b[k − 4] (scale) and b[k] (min).  Out, four bytes a
 * word (little-endian, as the file): o[0..1] the scales, o[2..3] the mins
 * (the SIMD kernels put the words in a vector without a store). */
static inline void kq_scale_min_k4_u32(const uint8_t *b, uint32_t o[4])
{
	uint32_t u[3];
	memcpy(u, b, 12);
	o[0] = u[0] & 0x3f3f3f3fu;                                                  /* scales 0-3 */
	o[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);         /* scales 4-7 */
	o[2] = u[1] & 0x3f3f3f3fu;                                                  /* mins 0-3 */
	o[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);  /* mins 4-7 */
}

/* The same as bytes: sc[0..7] the scales, sc[8..15] the mins */
static inline void kq_scale_min_k4(const uint8_t *b, uint8_t sc[16])
{
	uint32_t o[4];
	kq_scale_min_k4_u32(b, o);
	memcpy(sc, o, 16);
}

/* Q3_K: the 12 bytes b hold 16 six-bit scales: the low four bits of scale
 * k in b[k] (k < 8, low nibble) or b[k − 8] (high nibble), the top two in
 * bits 2·(k / 4) of b[8 + k % 4].  Out: the stored values 0..63, four
 * bytes a word; the scale is the value minus 32. */
static inline void kq_scales_q3_u32(const uint8_t *b, uint32_t o[4])
{
	uint32_t u[3];
	memcpy(u, b, 12);
	o[0] = (u[0] & 0x0f0f0f0fu) | ((u[2] & 0x03030303u) << 4);
	o[1] = (u[1] & 0x0f0f0f0fu) | (((u[2] >> 2) & 0x03030303u) << 4);
	o[2] = ((u[0] >> 4) & 0x0f0f0f0fu) | (((u[2] >> 4) & 0x03030303u) << 4);
	o[3] = ((u[1] >> 4) & 0x0f0f0f0fu) | (((u[2] >> 6) & 0x03030303u) << 4);
}

/* The same as the scales themselves, −32..31 */
static inline void kq_scales_q3(const uint8_t *b, int8_t sc[16])
{
	uint32_t o[4];
	uint8_t v[16];
	kq_scales_q3_u32(b, o);
	memcpy(v, o, 16);
	for (int k = 0; k < 16; k++)
		sc[k] = (int8_t)(v[k] - 32);
}

static inline float kq_half(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return pb_fp16_to_fp32(h);
}

#endif

/* core/model/quant.c — BF16, Q8_0 and Q4_0 rows, as llama.cpp's reference
 * quantizers write them (ggml-quants.c quantize_row_*_ref), every dense
 * format's rows through one switch (the k-quants are kquant.c's), and
 * whole tensors from one dense format to another.  See quant.h for the
 * block layouts. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "model/quant.h"
#include "util/util.h"

uint16_t pb_fp32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)      /* NaN: keep it, quiet */
		return (uint16_t)((u >> 16) | 64);
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

/* plugins/pruners/quant/quant.c keeps a deliberate copy of the Q8_0 and
 * Q4_0 block math below (for cores without pb_host.quantize_row): change
 * both, or tests/structured/test-quant.c tells. */
void pb_quantize_row_q8_0(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst;
	for (int64_t b = 0; b < n / PB_QK; b++, x += PB_QK, y += 34) {
		float amax = 0.0f;
		for (int j = 0; j < PB_QK; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		const float d = amax / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		uint16_t h = pb_fp32_to_fp16(d);
		memcpy(y, &h, 2);
		for (int j = 0; j < PB_QK; j++)
			y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
	}
}

void pb_quantize_row_q4_0(const float *x, void *dst, int64_t n)
{
	uint8_t *y = dst;
	for (int64_t b = 0; b < n / PB_QK; b++, x += PB_QK, y += 18) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < PB_QK; j++)
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		/* the largest magnitude maps to -8 exactly; the other end gets
		 * at most +7 (clamped), so the sign of m is kept */
		const float d = max / -8.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		uint16_t h = pb_fp32_to_fp16(d);
		memcpy(y, &h, 2);
		for (int j = 0; j < PB_QK / 2; j++) {
			int q0 = (int8_t)(x[j] * id + 8.5f), q1 = (int8_t)(x[j + 16] * id + 8.5f);
			q0 = q0 > 15 ? 15 : q0;
			q1 = q1 > 15 ? 15 : q1;
			y[2 + j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

void pb_dequantize_row_q8_0(const void *src, float *y, int64_t n)
{
	const uint8_t *p = src;
	for (int64_t b = 0; b < n / PB_QK; b++, p += 34, y += PB_QK) {
		uint16_t h;
		memcpy(&h, p, 2);
		const float d = pb_fp16_to_fp32(h);
		for (int j = 0; j < PB_QK; j++)
			y[j] = d * (float)(int8_t)p[2 + j];
	}
}

void pb_dequantize_row_q4_0(const void *src, float *y, int64_t n)
{
	const uint8_t *p = src;
	for (int64_t b = 0; b < n / PB_QK; b++, p += 18, y += PB_QK) {
		uint16_t h;
		memcpy(&h, p, 2);
		const float d = pb_fp16_to_fp32(h);
		for (int j = 0; j < PB_QK / 2; j++) {
			y[j] = d * (float)((p[2 + j] & 0x0f) - 8);
			y[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
		}
	}
}

size_t pb_dtype_row_bytes(enum pb_dtype d, int64_t n)
{
	int64_t blk = pb_dtype_block(d);
	size_t bb = pb_dtype_block_bytes(d);
	if (n < 0 || !bb || n % blk)
		return 0;
	return (size_t)(n / blk) * bb;
}

int pb_quantize_row(enum pb_dtype to, const float *x, void *dst, int64_t n)
{
	if (!pb_dtype_row_bytes(to, n) && n)
		return -EINVAL;
	uint16_t *h = dst;
	switch (to) {
	case PB_F32:
		memcpy(dst, x, (size_t)n * 4);
		return 0;
	case PB_F16:
		for (int64_t i = 0; i < n; i++)
			h[i] = pb_fp32_to_fp16(x[i]);
		return 0;
	case PB_BF16:
		for (int64_t i = 0; i < n; i++)
			h[i] = pb_fp32_to_bf16(x[i]);
		return 0;
	case PB_Q8_0:
		pb_quantize_row_q8_0(x, dst, n);
		return 0;
	case PB_Q4_0:
		pb_quantize_row_q4_0(x, dst, n);
		return 0;
	case PB_Q2_K: pb_quantize_row_q2_k(x, dst, n); return 0;
	case PB_Q3_K: pb_quantize_row_q3_k(x, dst, n); return 0;
	case PB_Q4_K: pb_quantize_row_q4_k(x, dst, n); return 0;
	case PB_Q5_K: pb_quantize_row_q5_k(x, dst, n); return 0;
	case PB_Q6_K: pb_quantize_row_q6_k(x, dst, n); return 0;
	default:
		return -EINVAL;
	}
}

int pb_dequantize_row(enum pb_dtype from, const void *src, float *y, int64_t n)
{
	if (!pb_dtype_row_bytes(from, n) && n)
		return -EINVAL;
	const uint8_t *p = src;
	switch (from) {
	case PB_F32:
		memcpy(y, src, (size_t)n * 4);
		return 0;
	case PB_F16:
	case PB_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			y[i] = from == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
		}
		return 0;
	case PB_Q8_0:
		pb_dequantize_row_q8_0(src, y, n);
		return 0;
	case PB_Q4_0:
		pb_dequantize_row_q4_0(src, y, n);
		return 0;
	case PB_Q2_K: pb_dequantize_row_q2_k(src, y, n); return 0;
	case PB_Q3_K: pb_dequantize_row_q3_k(src, y, n); return 0;
	case PB_Q4_K: pb_dequantize_row_q4_k(src, y, n); return 0;
	case PB_Q5_K: pb_dequantize_row_q5_k(src, y, n); return 0;
	case PB_Q6_K: pb_dequantize_row_q6_k(src, y, n); return 0;
	default:
		return -EINVAL;
	}
}

int pb_tensor_convert(struct pb_tensor *t, enum pb_dtype to)
{
	int64_t n0 = t->ne[0], rows = n0 ? pb_tensor_nelements(t) / n0 : 0;
	size_t in_rb = pb_dtype_row_bytes(t->dtype, n0), out_rb = pb_dtype_row_bytes(to, n0);
	if (t->dtype == to)
		return 0;
	if ((!in_rb || !out_rb) && n0)
		return -EINVAL;
	if (in_rb && (size_t)rows > t->nbytes / in_rb)
		return -EINVAL;
	float *row = malloc((size_t)(n0 ? n0 : 1) * sizeof *row);
	size_t total = out_rb * (size_t)rows;
	uint8_t *dst = malloc(total ? total : 1);
	if (!row || !dst) {
		free(row);
		free(dst);
		return -ENOMEM;
	}
	const uint8_t *src = t->data;
	for (int64_t r = 0; r < rows; r++) {
		pb_dequantize_row(t->dtype, src + (size_t)r * in_rb, row, n0);
		pb_quantize_row(to, row, dst + (size_t)r * out_rb, n0);
	}
	free(row);
	if (t->flags & PB_TENSOR_OWNED)
		free(t->data);
	t->data = dst;
	t->nbytes = total;
	t->dtype = to;
	t->flags |= PB_TENSOR_OWNED;
	return 0;
}

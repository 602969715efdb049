/* core/model/quant.h — rows of weights to and from the GGUF storage
 * formats, bit for bit as llama.cpp's reference (non-SIMD) code writes
 * them, so a file we quantize equals one llama-quantize would write and a
 * file llama.cpp wrote dequantizes here to the same floats.
 *
 * Layouts (ggml-common.h):
 *   BF16  the top 16 bits of the float, rounded to nearest even; NaN kept
 *         quiet.
 *   Q8_0  blocks of 32: f16 scale d = max|x| / 127, then 32 int8
 *         q = round(x / d); x ≈ d·q.                          (34 bytes)
 *   Q4_0  blocks of 32: f16 scale d = m / -8 where m is the value of
 *         largest magnitude (sign kept), then 16 bytes; byte j holds
 *         element j in its low nibble and element j + 16 in its high one,
 *         q = min(15, (int)(x / d + 8.5)); x ≈ d·(q − 8).       (18 bytes)
 *
 * Used by the loaders (dtype conversion), `prunebench convert` and the
 * quantization pruners.
 */
#ifndef PB_QUANT_H
#define PB_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/model.h>

#define PB_QK 32   /* elements per Q8_0 / Q4_0 block */

uint16_t pb_fp32_to_bf16(float f);

/* n values; n must be a multiple of 32 for the block formats. */
void pb_quantize_row_q8_0(const float *x, void *dst, int64_t n);
void pb_quantize_row_q4_0(const float *x, void *dst, int64_t n);
void pb_dequantize_row_q8_0(const void *src, float *y, int64_t n);
void pb_dequantize_row_q4_0(const void *src, float *y, int64_t n);

/* Any dense format: F32, F16, BF16, Q8_0, Q4_0.  -EINVAL for another
 * format or an n that is not a whole number of blocks. */
int pb_quantize_row(enum pb_dtype to, const float *x, void *dst, int64_t n);
int pb_dequantize_row(enum pb_dtype from, const void *src, float *y, int64_t n);

/* Bytes n values take in a dense format; 0 when n is not a whole number
 * of blocks or the format has no dense rows. */
size_t pb_dtype_row_bytes(enum pb_dtype d, int64_t n);

/* Rewrite a tensor in another dense format (same shape, new owned data).
 * -EINVAL when a row is not a whole number of blocks of the target. */
int pb_tensor_convert(struct pb_tensor *t, enum pb_dtype to);

/* A whole model in one storage type, following llama.cpp's defaults
 * (convert_hf_to_gguf.py for f32/f16/bf16, llama-quantize for q8_0/q4_0):
 * 1-D tensors (norms) and T5's relative position biases stay F32; every
 * 2-D weight, the embedding included, takes `type`; q4_0 keeps an untied
 * output projection at Q8_0 (llama.cpp uses Q6_K there, which we do not
 * have); a row that is not a whole number of 32-element blocks falls back
 * to F16, as llama-quantize falls back to another type.  A tied output
 * follows the embedding.  Errors name the tensor. */
int pb_model_convert(struct pb_model *m, enum pb_dtype type, char *err, size_t len);

/* ---- NM_2_4 (nm24.c; the layout is described at PB_NM_2_4 in tensor.h) */

/* Bytes of a packed [rows × cols] tensor; 0 when cols is not a multiple
 * of 4 or a size is not positive. */
size_t pb_nm24_bytes(int64_t cols, int64_t rows);
/* 1 when t is dense (F32/F16/BF16), has a multiple of 4 columns, and no
 * group of 4 consecutive columns of a row holds more than 2 non-zeros. */
int pb_tensor_nm24_ok(const struct pb_tensor *t);
/* Pack a dense 2:4-sparse tensor in place (new owned data, dtype
 * PB_NM_2_4, ne[] unchanged); values become F32 exactly.  -EINVAL, with
 * the tensor unchanged and the reason in err, when it is not 2:4. */
int pb_tensor_pack_nm24(struct pb_tensor *t, char *err, size_t len);
/* Back to dense F32 (tests, and backends that fall back). */
int pb_tensor_unpack_nm24(struct pb_tensor *t, char *err, size_t len);

#endif

/* core/model/quant.h — rows of weights to and from the GGUF storage
 * formats, bit for bit as llama.cpp's reference (non-SIMD) code writes
 * them, so a file we quantize equals one llama-quantize would write and a
 * file llama.cpp wrote dequantizes here to the same floats; and which
 * format each tensor of a model takes (llama-quantize's choices).
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
 *   Q2_K … Q6_K  llama.cpp's k-quants: super-blocks of 256 with 16 or 8
 *         sub-block scales (tensor.h gives the byte layouts); kquant.c.
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

/* k-quants (kquant.c): n a multiple of 256.  The quantizers are ggml's
 * quantize_row_q*_K_ref (what llama-quantize runs without an importance
 * matrix), the dequantizers its dequantize_row_q*_K. */
#define PB_QK_K 256
void pb_quantize_row_q2_k(const float *x, void *dst, int64_t n);
void pb_quantize_row_q3_k(const float *x, void *dst, int64_t n);
void pb_quantize_row_q4_k(const float *x, void *dst, int64_t n);
void pb_quantize_row_q5_k(const float *x, void *dst, int64_t n);
void pb_quantize_row_q6_k(const float *x, void *dst, int64_t n);
void pb_dequantize_row_q2_k(const void *src, float *y, int64_t n);
void pb_dequantize_row_q3_k(const void *src, float *y, int64_t n);
void pb_dequantize_row_q4_k(const void *src, float *y, int64_t n);
void pb_dequantize_row_q5_k(const void *src, float *y, int64_t n);
void pb_dequantize_row_q6_k(const void *src, float *y, int64_t n);

/* Any dense format: F32, F16, BF16, Q8_0, Q4_0, Q2_K … Q6_K.  -EINVAL for
 * another format or an n that is not a whole number of blocks. */
int pb_quantize_row(enum pb_dtype to, const float *x, void *dst, int64_t n);
int pb_dequantize_row(enum pb_dtype from, const void *src, float *y, int64_t n);

/* Bytes n values take in a dense format; 0 when n is not a whole number
 * of blocks or the format has no dense rows. */
size_t pb_dtype_row_bytes(enum pb_dtype d, int64_t n);

/* Rewrite a tensor in another dense format (same shape, new owned data).
 * -EINVAL when a row is not a whole number of blocks of the target. */
int pb_tensor_convert(struct pb_tensor *t, enum pb_dtype to);

/* ---- which format each tensor takes (quant-plan.c) */

/* llama-quantize's k-quant mixes (llama_tensor_get_type, no importance
 * matrix): a default type, with some tensors given more bits. */
enum pb_quant_mix {
	PB_MIX_NONE = 0,   /* one type for every 2-D weight */
	PB_MIX_Q4_K_M,     /* LLAMA_FTYPE_MOSTLY_Q4_K_M */
	PB_MIX_Q5_K_M,     /* LLAMA_FTYPE_MOSTLY_Q5_K_M */
};

/* A type `prunebench convert --type` and the quant pruner name. */
struct pb_quant_type {
	const char *name;      /* "q4_k_m" */
	enum pb_dtype dtype;   /* what the 2-D weights take by default */
	enum pb_quant_mix mix;
};

/* By name, case-insensitive: f32 f16 bf16 q8_0 q4_0 q2_k q3_k q4_k q5_k
 * q6_k q4_k_m q5_k_m.  NULL when unknown. */
const struct pb_quant_type *pb_quant_type_find(const char *name);
/* Those names, ", "-separated, for messages. */
const char *pb_quant_type_names(void);

/* The type llama-quantize falls back to for a row of ncols values that is
 * not a whole number of `type`'s blocks: Q2_K, Q3_K → Q4_0 (as llama.cpp);
 * Q4_K, Q5_K, Q6_K → Q8_0 (llama.cpp: Q5_0, Q5_1, Q8_0; we have no
 * Q5_0/Q5_1, so Q8_0, more bits, never fewer); then, or for Q8_0/Q4_0,
 * F16 when the row is not whole blocks of 32 either.  `type` when it fits. */
enum pb_dtype pb_quant_fallback(enum pb_dtype type, int64_t ncols);

/* The format each tensor of m takes under (type, mix), into
 * out[m->n_tensors] (a tied output gets its embedding's):
 *  - 1-D tensors (norms) and T5's relative position biases: F32;
 *  - f32, f16, bf16, q8_0: every other tensor takes `type`;
 *  - q4_0: the same, but an untied output projection keeps Q8_0 (the rule
 *    from before k-quants existed here, kept so earlier results stay
 *    comparable; llama-quantize now picks Q6_K there);
 *  - k-quants: llama_tensor_get_type without an imatrix.  The output
 *    projection, or the embedding when the output is tied to it, takes
 *    Q6_K (Q8_0 when its rows are not whole blocks of `type`); with a
 *    _m mix, attn_v (and T5's cross_attn_v) and
 *    ffn_down take Q6_K where use_more_bits(i, n) holds: i < n/8,
 *    i >= 7n/8 or (i − n/8) % 3 == 2.  i counts those tensors in
 *    llama.cpp's visiting order (by block number, then by name), n is
 *    their number for attn_v and the block count (llama.cpp's n_layer)
 *    for ffn_down.  For T5 that is llama.cpp's behaviour too: its names
 *    (enc.blk.N, dec.blk.N) carry no "blk." prefix, so all are visited in
 *    name order (dec before enc, dec.blk.10 before dec.blk.2), n_layer is
 *    the encoder's block count, and every encoder ffn_down, counted after
 *    the decoder's, lands in the last eighth (Q6_K).  attn_qkv (Phi-3's
 *    q, k and v, held apart but written fused, so all three) has its own
 *    rule: Q5_K under q4_k_m, Q6_K under q5_k_m, else `type`; Phi-3's
 *    gate and up are its fused ffn_up: `type`.  (q, k, v of a Phi-3
 *    whose heads were pruned are written apart but keep that one type);
 *  - then pb_quant_fallback() for rows that are not whole blocks.
 * 0 or -ENOMEM. */
int pb_quant_plan(const struct pb_model *m, enum pb_dtype type, enum pb_quant_mix mix,
		  enum pb_dtype *out);

/* The whole model converted as pb_quant_plan() says; a tied output
 * follows its embedding (shared data).  Errors name the tensor. */
int pb_model_quantize(struct pb_model *m, enum pb_dtype type, enum pb_quant_mix mix,
		      char *err, size_t len);
/* pb_model_quantize() without a mix (convert_hf_to_gguf.py's f32/f16/bf16,
 * llama-quantize's q8_0, q4_0 and plain k-quants). */
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

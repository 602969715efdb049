/* tests/lib/naive-decoder.h — an independent forward of the Llama-family
 * decoders (llama, qwen2, qwen3, gemma2, gemma3, phi3) for the tests: plain
 * loops over the model's tensors (F32, F16 or BF16), double sums, the
 * whole sequence at once with no cache.  Written from the papers and
 * Hugging Face's modeling_llama / qwen2 / qwen3 / gemma2 / gemma3, not
 * from core/arch: q/k/v biases after the projections, per-head RMSNorm of
 * q and k before RoPE, RoPE pair i of a head (2i, 2i+1) or (i, i + hd/2)
 * rotated by pos · theta^(-2i/hd) / rope_freqs[i] (Phi-3: / its short or
 * long factor, llama.cpp's choice by the model's ctx, cos and sin times
 * the attention factor; its q/k/v and gate/up as the loaders leave them,
 * apart); Gemma's √dim
 * embedding, tanh-GELU gate, post-norms (weights as stored: 1 + w),
 * scale, soft caps, windows and local RoPE base from the model's
 * pb_arch_params, its local layers by Hugging Face's own rule. */
#ifndef NAIVE_DECODER_H
#define NAIVE_DECODER_H

#include <stdint.h>

#include <prunebench/model.h>

/* The inputs of one block's linears, n rows each (malloc'd):
 * q/k/v, o, gate/up, down. */
struct naive_taps {
	float *attn_in, *o_in, *ffn_in, *down_in;
	int64_t o_width, down_width;
};
void naive_taps_free(struct naive_taps *tp);

/* Element (r, c) of a dense tensor as float. */
float naive_get(const struct pb_tensor *t, int64_t r, int64_t c);

/* x (n × dim) = the embeddings of tok. */
void naive_dec_embed(const struct pb_model *m, const int32_t *tok, int n, float *x);
/* Block l over x (n rows at positions 0..n-1) in place; taps when asked.
 * A block whose attention or FFN tensors are absent skips that part. */
void naive_dec_block(const struct pb_model *m, int l, float *x, int n, struct naive_taps *tp);
/* Logits of every row (n × vocab). */
void naive_dec_logits(const struct pb_model *m, const int32_t *tok, int n, float *logits);

#endif

/* core/model/synth.c — synthetic models with real shapes and
 * deterministic weights (llama, T5, and the edge families: Llama 3.2,
 * SmolLM2, Qwen2.5, Qwen3, Gemma 2/3, Phi-3.5, plus tiny variants for tests), so the whole
 * pipeline runs without downloading a model.  Each tensor draws from its own stream (seed, tensor index), so
 * generation is fast and does not depend on fill order.  A preset costs
 * nothing until it is synthesised (validate only looks names up), and
 * then exactly its F32 weights: llama-1b is 4.4 GB, built only on request.
 *
 * llama:
 * Scales keep activations O(1): linears N(0, 1/fan_in), the projections
 * back into the residual (attn_output, ffn_down) further scaled by
 * 1/sqrt(2 n_layers), norms 1, a small tied embedding so that the layers'
 * contribution, not the input token, dominates the logits.  A random
 * network that is too smooth falls into repeating one token; q/k and
 * gate/up at twice the scale make greedy output vary (about 26 distinct
 * tokens in 32 on llama-15m), and longer printable-ASCII embedding rows
 * make it mostly visible text.  The constants were tuned by measuring
 * just that; change them only with the same check (tests/engine).
 * Qwen2's biases are N(0, 1), Qwen3's q/k norms 1 like every norm, and
 * llama3 scaling's rope_freqs is computed from the preset (rope.c).
 * Phi-3's longrope factors are made up (short ones near 1, long ones
 * growing to 16 over the low-frequency pairs, as trained ones do); its
 * q/k/v and gate/up are separate tensors, as its loaders leave them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

#define PRESET(n, d, f, l, h, kvh, c, ...) { .name = n, .arch = PB_ARCH_LLAMA, .hp = { \
	.dim = d, .n_layers = l, .n_heads = h, .n_kv_heads = kvh, .head_dim = (d) / (h), \
	.ffn_dim = f, .vocab = 32000, .ctx = c, .norm_eps = 1e-5f, .rope_theta = 10000.0f, \
	.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0, \
	.ffn_act = PB_ACT_SILU, .ffn_gated = 1 }, __VA_ARGS__ }

/* T5: d_kv 64, 32 buckets up to distance 128, ctx 512, eps 1e-6; the
 * vocabulary of the real checkpoints (32100 pieces padded to 32128).
 * Tied heads (v1.0) scale the last hidden state by d_model^-0.5, as HF
 * does; an untied head (v1.1/FLAN) is left unscaled (logit_scale 0). */
#define T5(n, d, f, enc, dec, h, act, gated, scale) { .name = n, .arch = PB_ARCH_T5, .hp = { \
	.dim = d, .n_layers = dec, .n_enc_layers = enc, .n_heads = h, .n_kv_heads = h, \
	.head_dim = 64, .ffn_dim = f, .vocab = 32128, .ctx = 512, .norm_eps = 1e-6f, \
	.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0, \
	.rel_buckets = 32, .rel_max_distance = 128, .ffn_act = act, .ffn_gated = gated, \
	.logit_scale = scale } }

/* The Llama-family decoders of the edge models, at their config.json
 * shapes (hidden, intermediate, layers, heads, kv heads, head_dim, vocab,
 * rms_norm_eps, rope_theta; all tie their embeddings) with the byte-level
 * vocabulary's special ids.  ctx is cut to 2048: every session sizes its
 * buffers and KV cache by it (Llama 3.2's 131072 would need ~17 GB). */
#define DECODER(n, a, d, f, l, h, kvh, hd, v, c, eps, theta, layout, ...) { .name = n, .arch = a, \
	.hp = { .dim = d, .n_layers = l, .n_heads = h, .n_kv_heads = kvh, .head_dim = hd, \
	.ffn_dim = f, .vocab = v, .ctx = c, .norm_eps = eps, .rope_theta = theta, \
	.rope_layout = layout, .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0, \
	.ffn_act = PB_ACT_SILU, .ffn_gated = 1 }, __VA_ARGS__ }

/* Gemma: GeGLU; scale, caps, window and local RoPE base in .ap */
#define GEMMA(n, a, d, f, l, h, kvh, hd, v, c, theta, ...) { .name = n, .arch = a, \
	.hp = { .dim = d, .n_layers = l, .n_heads = h, .n_kv_heads = kvh, .head_dim = hd, \
	.ffn_dim = f, .vocab = v, .ctx = c, .norm_eps = 1e-6f, .rope_theta = theta, \
	.rope_layout = PB_ROPE_HALF, .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0, \
	.ffn_act = PB_ACT_GELU, .ffn_gated = 1 }, __VA_ARGS__ }

#define LLAMA3_ROPE(f, lo, hi, orig) .rope3 = { .factor = f, .low_freq_factor = lo, \
	.high_freq_factor = hi, .original_ctx = orig }

/* Presets in this order; llama-1b has TinyLlama's separate output
 * projection (1.1B parameters), the small llamas tie it (llama2.c). */
static const struct pb_synth_preset presets[] = {
	PRESET("llama-15m", 288, 768, 6, 6, 6, 256),
	PRESET("llama-110m", 768, 2048, 12, 12, 12, 1024),
	/* TinyLlama-1.1B: 4.4 GB in F32, built only when asked for */
	PRESET("llama-1b", 2048, 5632, 22, 32, 4, 2048, .untied = 1),
	T5("t5-small", 512, 2048, 6, 6, 8, PB_ACT_RELU, 0, 0.044194174f),       /* 512^-0.5 */
	T5("t5-base", 768, 3072, 12, 12, 12, PB_ACT_RELU, 0, 0.036084392f),     /* 768^-0.5 */
	T5("flan-t5-small", 512, 1024, 8, 8, 6, PB_ACT_GELU, 1, 0.0f),
	/* HuggingFaceTB/SmolLM2-135M: a plain llama */
	DECODER("smollm2-135m", PB_ARCH_LLAMA, 576, 1536, 30, 9, 3, 64, 49152, 2048, 1e-5f, 100000.0f,
		PB_ROPE_INTERLEAVED),
	/* meta-llama/Llama-3.2-1B: llama3 RoPE scaling (5.0 GB in F32) */
	DECODER("llama-3.2-1b", PB_ARCH_LLAMA, 2048, 8192, 16, 32, 8, 64, 128256, 2048, 1e-5f, 500000.0f,
		PB_ROPE_INTERLEAVED, LLAMA3_ROPE(32.0f, 1.0f, 4.0f, 8192)),
	/* Qwen/Qwen2.5-0.5B: q/k/v biases */
	DECODER("qwen2.5-0.5b", PB_ARCH_QWEN2, 896, 4864, 24, 14, 2, 64, 151936, 2048, 1e-6f, 1000000.0f,
		PB_ROPE_HALF),
	/* Qwen/Qwen3-0.6B: q/k norms, head_dim 128 (not 1024 / 16) */
	DECODER("qwen3-0.6b", PB_ARCH_QWEN3, 1024, 3072, 28, 16, 8, 128, 151936, 2048, 1e-6f, 1000000.0f,
		PB_ROPE_HALF),
	/* tiny variants of each feature, for tests and experiments/edge-models.yaml
	 * (1 to 4 MB): every linear's input width a multiple of 256, so the
	 * k-quants quantize whole super-blocks (q4_k_m is Q4_K and Q6_K here,
	 * not llama-quantize's fallbacks); llama3 factors that differ across
	 * pairs (original context 64), Qwen3's head_dim unlike dim / heads */
	DECODER("tiny-llama3", PB_ARCH_LLAMA, 256, 256, 2, 4, 2, 64, 320, 256, 1e-5f, 500000.0f,
		PB_ROPE_INTERLEAVED, LLAMA3_ROPE(8.0f, 1.0f, 4.0f, 64)),
	DECODER("tiny-qwen2", PB_ARCH_QWEN2, 256, 512, 2, 4, 2, 64, 320, 256, 1e-6f, 1000000.0f, PB_ROPE_HALF),
	DECODER("tiny-qwen3", PB_ARCH_QWEN3, 256, 256, 2, 4, 2, 128, 320, 256, 1e-6f, 1000000.0f, PB_ROPE_HALF),
	/* google/gemma-2-2b: soft caps 50 / 30, window 4096 on even blocks */
	GEMMA("gemma2-2b", PB_ARCH_GEMMA2, 2304, 9216, 26, 8, 4, 256, 256000, 2048, 10000.0f,
	      .ap = { .attn_scale = 0.0625f, .attn_softcap = 50.0f, .final_softcap = 30.0f,
		      .sliding_window = 4096 }),
	/* google/gemma-3-1b-pt: q/k norms, window 512 on 5 of every 6 blocks,
	 * their RoPE base 10000, the others' 1e6 */
	GEMMA("gemma3-1b", PB_ARCH_GEMMA3, 1152, 6912, 26, 4, 1, 256, 262144, 2048, 1000000.0f,
	      .ap = { .attn_scale = 0.0625f, .sliding_window = 512, .rope_theta_swa = 10000.0f }),
	/* tiny Gemmas: a window of 4 (tests run 11 tokens), caps that bite on
	 * tiny logits, query_pre_attn_scalar 24 unlike head_dim; Gemma 3 with a local RoPE base
	 * of 100 (far from the global 1e6, so that tests see it),
	 * six blocks, so that block 5 attends globally */
	GEMMA("tiny-gemma2", PB_ARCH_GEMMA2, 256, 512, 2, 4, 2, 64, 320, 256, 10000.0f,
	      .ap = { .attn_scale = 0.20412415f, .attn_softcap = 4.0f, .final_softcap = 6.0f,
		      .sliding_window = 4 }),
	GEMMA("tiny-gemma3", PB_ARCH_GEMMA3, 256, 256, 6, 4, 1, 64, 320, 256, 1000000.0f,
	      .ap = { .attn_scale = 0.125f, .sliding_window = 4, .rope_theta_swa = 100.0f }),
	/* microsoft/Phi-3.5-mini-instruct: fused q/k/v and gate/up in its
	 * files, longrope from 4096 to 131072 positions (attention factor
	 * √(1 + ln 32 / ln 4096)); an untied head; ctx cut as above, so a run
	 * uses the short factors (15.3 GB in F32, built only when asked) */
	DECODER("phi-3.5-mini", PB_ARCH_PHI3, 3072, 8192, 32, 32, 32, 96, 32064, 2048, 1e-5f, 10000.0f,
		PB_ROPE_HALF, .untied = 1, .ap = { .rope_orig_ctx = 4096, .rope_attn_factor = 1.1902381f }),
	/* tiny Phi-3: GQA, original context 64 under a ctx of 256 (long
	 * factors; a run capped to 64 positions takes the short ones),
	 * attention factor √(1 + ln 4 / ln 64) */
	DECODER("tiny-phi3", PB_ARCH_PHI3, 256, 256, 2, 4, 2, 64, 320, 256, 1e-5f, 10000.0f, PB_ROPE_HALF,
		.untied = 1, .ap = { .rope_orig_ctx = 64, .rope_attn_factor = 1.1547005f }),
};

#define EMBD_STD 0.02f
#define PRINTABLE_GAIN 2.5f
#define QK_GAIN 2.0f       /* sharper attention: output depends on position */
#define FFN_GAIN 2.0f      /* gate/up pre-activations ~N(0, 4) */
#define BIAS_STD 1.0f      /* Qwen2's q/k/v biases: comparable to the projections */

const struct pb_synth_preset *pb_synth_presets(int *n)
{
	*n = (int)PB_ARRAY_LEN(presets);
	return presets;
}

const struct pb_synth_preset *pb_synth_find(const char *name)
{
	for (size_t i = 0; name && i < PB_ARRAY_LEN(presets); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

void pb_synth_fill(struct pb_tensor *t, uint64_t seed, uint64_t stream, float std)
{
	struct pb_rng r;
	float *f = t->data;
	int64_t n = pb_tensor_nelements(t);
	pb_rng_seed(&r, seed ^ (0x9e3779b97f4a7c15ull * (stream + 1)));
	/* Irwin-Hall: four 16-bit uniforms per draw have mean 2 and variance
	 * 1/3; close enough to normal for weights and ~10x cheaper than
	 * Box-Muller. */
	const float k = std * 1.7320508f / 65536.0f;
	for (int64_t i = 0; i < n; i++) {
		uint64_t u = pb_rng_next(&r);
		uint32_t s = (uint32_t)(u & 0xffff) + (uint32_t)((u >> 16) & 0xffff) +
			     (uint32_t)((u >> 32) & 0xffff) + (uint32_t)(u >> 48);
		/* +0.5 off centre: never exactly zero, so a dense synthetic
		 * model has no accidental sparsity (bias ~1e-5 std) */
		f[i] = ((float)s + 2.5f - 131072.0f) * k;
	}
}

static void fill_const(struct pb_tensor *t, float v)
{
	float *f = t->data;
	for (int64_t i = 0; i < pb_tensor_nelements(t); i++)
		f[i] = v;
}

/* The byte-level vocabularies.  llama: <unk> 0, <s> 1, </s> 2.  T5 (the
 * real checkpoints' special ids): <pad> 0 (also the decoder start), </s>
 * 1, <unk> 2.  Both: byte b is piece <0xNN> at id 3 + b, every id above
 * 258 an <extra_N> piece that prints as nothing. */
static int byte_vocab(int n, int t5, int bos, int eos, struct pb_tokenizer **out)
{
	char **pieces = calloc((size_t)n, sizeof *pieces);
	char *text = malloc((size_t)n * 24);
	int32_t *types = malloc((size_t)n * sizeof *types);
	int rc = -ENOMEM;
	if (!pieces || !text || !types)
		goto out;
	for (int i = 0; i < n; i++) {
		char *p = text + (size_t)i * 24;
		types[i] = PB_TOKEN_UNUSED;
		if (i >= 3 && i < 259) {
			snprintf(p, 24, "<0x%02X>", i - 3);
			types[i] = PB_TOKEN_BYTE;
		} else if (i == (t5 ? 2 : 0)) {
			snprintf(p, 24, "<unk>");
			types[i] = PB_TOKEN_UNKNOWN;
		} else if (t5 && i == 0) {
			snprintf(p, 24, "<pad>");
			types[i] = PB_TOKEN_CONTROL;
		} else if (i == bos) {
			snprintf(p, 24, "<s>");
			types[i] = PB_TOKEN_CONTROL;
		} else if (i == eos) {
			snprintf(p, 24, "</s>");
			types[i] = PB_TOKEN_CONTROL;
		} else {
			snprintf(p, 24, "<extra_%d>", i);
		}
		pieces[i] = p;
	}
	rc = pb_tokenizer_new((const char *const *)pieces, NULL, n, bos, eos, out);
	/* the llama vocabulary keeps the types its pieces imply (as before) */
	if (rc == 0 && t5)
		pb_tokenizer_set_types(*out, types);
out:
	free(pieces);
	free(text);
	free(types);
	return rc;
}

/* (stack, layer, role, ne0, ne1) of every tensor, in GGUF file order. */
struct spec { enum pb_stack stack; int layer; enum pb_role role; int64_t ne0, ne1; };

#define DEC PB_STACK_DECODER
#define ENC PB_STACK_ENCODER

/* A Llama-family decoder; qwen2 adds q/k/v biases, qwen3 q/k norms, gemma2
 * post-norms, gemma3 both, llama3 scaling a rope_freqs tensor (after the embedding, so that the presets
 * without one keep their tensor streams). */
static int plan(const struct pb_synth_preset *p, int tied, struct spec *s)
{
	const struct pb_hparams *hp = &p->hp;
	const int gemma = p->arch == PB_ARCH_GEMMA2 || p->arch == PB_ARCH_GEMMA3;
	int n = 0, q = hp->n_heads * hp->head_dim, kv = hp->n_kv_heads * hp->head_dim;
	s[n++] = (struct spec){ DEC, -1, PB_ROLE_TOK_EMBD, hp->dim, hp->vocab };
	if (p->rope3.original_ctx > 0)
		s[n++] = (struct spec){ DEC, -1, PB_ROLE_ROPE_FREQS, hp->head_dim / 2, 1 };
	if (p->ap.rope_orig_ctx > 0) {
		s[n++] = (struct spec){ DEC, -1, PB_ROLE_ROPE_FACTORS_SHORT, hp->head_dim / 2, 1 };
		s[n++] = (struct spec){ DEC, -1, PB_ROLE_ROPE_FACTORS_LONG, hp->head_dim / 2, 1 };
	}
	for (int l = 0; l < hp->n_layers; l++) {
		s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_NORM, hp->dim, 1 };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_Q, hp->dim, q };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_K, hp->dim, kv };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_V, hp->dim, kv };
		if (p->arch == PB_ARCH_QWEN2) {
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_Q_BIAS, q, 1 };
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_K_BIAS, kv, 1 };
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_V_BIAS, kv, 1 };
		}
		if (p->arch == PB_ARCH_QWEN3 || p->arch == PB_ARCH_GEMMA3) {
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_Q_NORM, hp->head_dim, 1 };
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_K_NORM, hp->head_dim, 1 };
		}
		s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_O, q, hp->dim };
		if (gemma)
			s[n++] = (struct spec){ DEC, l, PB_ROLE_ATTN_POST_NORM, hp->dim, 1 };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_FFN_NORM, hp->dim, 1 };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_FFN_GATE, hp->dim, hp->ffn_dim };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_FFN_UP, hp->dim, hp->ffn_dim };
		s[n++] = (struct spec){ DEC, l, PB_ROLE_FFN_DOWN, hp->ffn_dim, hp->dim };
		if (gemma)
			s[n++] = (struct spec){ DEC, l, PB_ROLE_FFN_POST_NORM, hp->dim, 1 };
	}
	s[n++] = (struct spec){ DEC, -1, PB_ROLE_OUT_NORM, hp->dim, 1 };
	if (!tied)
		s[n++] = (struct spec){ DEC, -1, PB_ROLE_OUTPUT, hp->dim, hp->vocab };
	return n;
}

/* T5: the encoder's blocks, its final norm, the decoder's (with
 * cross-attention), its final norm, and an untied head.  The relative
 * bias sits in block 0 of each stack. */
static int plan_t5(const struct pb_hparams *hp, int tied, struct spec *s)
{
	int n = 0, q = hp->n_heads * hp->head_dim, kv = hp->n_kv_heads * hp->head_dim;
	const int d = hp->dim, f = hp->ffn_dim;
	s[n++] = (struct spec){ DEC, -1, PB_ROLE_TOK_EMBD, d, hp->vocab };
	for (int st = 0; st < 2; st++) {
		const enum pb_stack k = st ? DEC : ENC;
		for (int l = 0; l < (st ? hp->n_layers : hp->n_enc_layers); l++) {
			s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_NORM, d, 1 };
			s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_Q, d, q };
			s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_K, d, kv };
			s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_V, d, kv };
			s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_O, q, d };
			if (l == 0)
				s[n++] = (struct spec){ k, l, PB_ROLE_ATTN_REL_BIAS, hp->n_heads, hp->rel_buckets };
			if (k == DEC) {
				s[n++] = (struct spec){ k, l, PB_ROLE_CROSS_NORM, d, 1 };
				s[n++] = (struct spec){ k, l, PB_ROLE_CROSS_Q, d, q };
				s[n++] = (struct spec){ k, l, PB_ROLE_CROSS_K, d, kv };
				s[n++] = (struct spec){ k, l, PB_ROLE_CROSS_V, d, kv };
				s[n++] = (struct spec){ k, l, PB_ROLE_CROSS_O, q, d };
			}
			s[n++] = (struct spec){ k, l, PB_ROLE_FFN_NORM, d, 1 };
			if (hp->ffn_gated)
				s[n++] = (struct spec){ k, l, PB_ROLE_FFN_GATE, d, f };
			s[n++] = (struct spec){ k, l, PB_ROLE_FFN_UP, d, f };
			s[n++] = (struct spec){ k, l, PB_ROLE_FFN_DOWN, f, d };
		}
		s[n++] = (struct spec){ k, -1, PB_ROLE_OUT_NORM, d, 1 };
	}
	if (!tied)
		s[n++] = (struct spec){ DEC, -1, PB_ROLE_OUTPUT, d, hp->vocab };
	return n;
}

static int is_norm(enum pb_role r)
{
	return r == PB_ROLE_ATTN_NORM || r == PB_ROLE_FFN_NORM || r == PB_ROLE_OUT_NORM ||
	       r == PB_ROLE_CROSS_NORM || r == PB_ROLE_ATTN_Q_NORM || r == PB_ROLE_ATTN_K_NORM ||
	       r == PB_ROLE_ATTN_POST_NORM || r == PB_ROLE_FFN_POST_NORM;
}

/* The llama scales (top of this file). */
static float llama_std(const struct pb_hparams *hp, const struct pb_tensor *t)
{
	float std = 1.0f / sqrtf((float)t->ne[0]);
	if (t->role == PB_ROLE_ATTN_O || t->role == PB_ROLE_FFN_DOWN)
		std *= 1.0f / sqrtf(2.0f * (float)hp->n_layers);
	if (t->role == PB_ROLE_ATTN_Q || t->role == PB_ROLE_ATTN_K)
		std *= QK_GAIN;
	if (t->role == PB_ROLE_FFN_GATE || t->role == PB_ROLE_FFN_UP)
		std *= FFN_GAIN;
	if (t->role >= PB_ROLE_ATTN_Q_BIAS && t->role <= PB_ROLE_ATTN_V_BIAS)
		return BIAS_STD;
	return t->role == PB_ROLE_TOK_EMBD ? EMBD_STD : std;
}

/* T5: Hugging Face's T5 initialisation (q (d_model d_kv)^-1/2 since T5
 * does not scale scores, k/v/wi/lm_head d_model^-1/2, o (heads d_kv)^-1/2,
 * wo d_ff^-1/2), but with a small embedding (HF's is N(0, 1)): with a
 * tied head a large one makes the residual stream predict its own input
 * token forever.  q/k and wi gains and a relative bias of std 4 make the
 * output depend on position and source; ReLU models get wo rows that sum
 * to zero, or ReLU's positive mean adds the same vector at every step and
 * greedy output settles on one token.  Measured over seeds 0-3 and three
 * prompts, 24 tokens: ~17 distinct on t5-small, ~16 on t5-base, ~21 on
 * flan-t5-small, nearly all printable.  Tuned by measuring just that, as
 * the llama constants were (tests/engine/test-t5.c checks it). */
#define T5_EMBD_STD 0.03f
#define T5_QK_GAIN 3.0f
#define T5_REL_STD 4.0f
#define T5_FFN_GAIN 3.0f

static float t5_std(const struct pb_hparams *hp, const struct pb_tensor *t)
{
	const float in = 1.0f / sqrtf((float)t->ne[0]);
	switch (t->role) {
	case PB_ROLE_TOK_EMBD: return T5_EMBD_STD;
	case PB_ROLE_ATTN_REL_BIAS: return T5_REL_STD;
	case PB_ROLE_ATTN_Q: case PB_ROLE_CROSS_Q:
		return in / sqrtf((float)hp->head_dim) * T5_QK_GAIN;
	case PB_ROLE_ATTN_K: case PB_ROLE_CROSS_K: return in * T5_QK_GAIN;
	case PB_ROLE_FFN_GATE: case PB_ROLE_FFN_UP: return in * T5_FFN_GAIN;
	default: return in;
	}
}

/* Make every row of t sum to zero (T5 ReLU wo, above). */
static void centre_rows(struct pb_tensor *t)
{
	for (int64_t r = 0; r < t->ne[1]; r++) {
		float *row = (float *)t->data + r * t->ne[0];
		double sum = 0;
		for (int64_t i = 0; i < t->ne[0]; i++)
			sum += row[i];
		float mean = (float)(sum / (double)t->ne[0]);
		for (int64_t i = 0; i < t->ne[0]; i++)
			row[i] -= mean;
	}
}

/* Made-up longrope factors (the top of this file). */
static void longrope_factors(struct pb_tensor *t, int is_long)
{
	float *f = t->data;
	const int64_t half = t->ne[0];
	for (int64_t i = 0; i < half; i++) {
		float x = half > 1 ? (float)i / (float)(half - 1) : 0.0f;
		f[i] = is_long ? 1.0f + 15.0f * x * x : 1.0f + 0.25f * x;
	}
}

static int hp_ok(const struct pb_hparams *hp, int t5)
{
	if (hp->dim <= 0 || hp->n_layers <= 0 || hp->n_layers > 4096 || hp->n_heads <= 0 ||
	    hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 ||
	    hp->ffn_dim <= 0 || hp->vocab < 3 || hp->vocab > (1 << 24) || hp->ctx <= 0 ||
	    hp->bos_id >= hp->vocab || hp->eos_id >= hp->vocab)
		return 0;
	if (!t5)
		return hp->head_dim % 2 == 0;
	return hp->n_enc_layers <= 4096 && hp->rel_buckets >= 4 && hp->rel_buckets <= 4096 &&
	       hp->eos_id >= 0 && hp->decoder_start_id >= 0 && hp->decoder_start_id < hp->vocab &&
	       hp->ffn_act >= PB_ACT_SILU && hp->ffn_act <= PB_ACT_RELU;
}

static int synth(const struct pb_synth_preset *p, int tied, uint64_t seed, struct pb_model **out,
		 char *err, size_t len)
{
	const struct pb_hparams *hp = &p->hp;
	const char *name = p->name;
	const int t5 = p->arch == PB_ARCH_T5;
	if (!hp_ok(hp, t5) || t5 != (hp->n_enc_layers > 0) ||
	    (p->arch != PB_ARCH_LLAMA && p->arch != PB_ARCH_T5 && p->arch != PB_ARCH_QWEN2 &&
	     p->arch != PB_ARCH_QWEN3 && p->arch != PB_ARCH_GEMMA2 && p->arch != PB_ARCH_GEMMA3 &&
	     p->arch != PB_ARCH_PHI3) ||
	    (p->rope3.original_ctx > 0 && p->arch != PB_ARCH_LLAMA) ||
	    (p->ap.rope_orig_ctx != 0 && p->arch != PB_ARCH_PHI3)) {
		snprintf(err, len, "synth:%s: inconsistent hyper-parameters", name);
		return -EINVAL;
	}
	int n_max = 4 + 16 * (hp->n_layers + hp->n_enc_layers);
	struct spec *s = calloc((size_t)n_max, sizeof *s);
	struct pb_model *m = pb_model_alloc(n_max + 1);
	int rc = -ENOMEM;
	if (!s || !m)
		goto fail;
	int n = t5 ? plan_t5(hp, tied, s) : plan(p, tied, s);
	struct pb_model_core *core = m->core;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += ((size_t)(s[i].ne0 * s[i].ne1) * 4 + 63) & ~(size_t)63;
	/* one arena, touched only as it is filled (large presets: lazily
	 * mapped by malloc) */
	core->base = aligned_alloc(64, total ? total : 64);
	if (!core->base)
		goto fail;
	core->base_len = total;
	snprintf(core->source, sizeof core->source, "synth:%s", name);
	snprintf(m->name, sizeof m->name, "%s", name);
	m->arch = p->arch;
	m->hp = *hp;
	m->hp.ctx_train = pb_hp_ctx_train(hp);
	core->ap = p->ap;
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		struct pb_tensor *t = &m->tensors[i];
		t->stack = s[i].stack;
		t->layer = s[i].layer;
		t->role = s[i].role;
		t->dtype = PB_F32;
		t->n_dims = s[i].ne1 == 1 ? 1 : 2;
		t->ne[0] = s[i].ne0;
		t->ne[1] = s[i].ne1;
		t->ne[2] = t->ne[3] = 1;
		t->nbytes = (size_t)(s[i].ne0 * s[i].ne1) * 4;
		t->data = (uint8_t *)core->base + off;
		off += (t->nbytes + 63) & ~(size_t)63;
		pb_tensor_name_arch(m->arch, t->stack, t->layer, t->role, t->name, sizeof t->name);
		if (t->role == PB_ROLE_ROPE_FREQS) {
			if (pb_rope_llama3_factors(hp->rope_theta, hp->head_dim, &p->rope3, t->data) < 0) {
				snprintf(err, len, "synth:%s: bad llama3 RoPE scaling", name);
				rc = -EINVAL;
				goto fail_msg;
			}
		} else if (t->role == PB_ROLE_ROPE_FACTORS_SHORT || t->role == PB_ROLE_ROPE_FACTORS_LONG) {
			longrope_factors(t, t->role == PB_ROLE_ROPE_FACTORS_LONG);
		} else if (is_norm(t->role)) {
			fill_const(t, 1.0f);
		} else {
			pb_synth_fill(t, seed, (uint64_t)i, t5 ? t5_std(hp, t) : llama_std(hp, t));
		}
	}
	m->n_tensors = n;
	if (t5 && !hp->ffn_gated)
		for (int i = 0; i < n; i++)
			if (m->tensors[i].role == PB_ROLE_FFN_DOWN)
				centre_rows(&m->tensors[i]);
	/* Printable ASCII pieces get longer embedding (and output) rows, so
	 * that the head favours them and a synthetic model "writes" visible
	 * gibberish rather than <extra_N> pieces that print as nothing. */
	for (int i = 0; i < n && hp->vocab >= 259; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (t->role != PB_ROLE_TOK_EMBD && t->role != PB_ROLE_OUTPUT)
			continue;
		for (int c = 0x20; c < 0x7f; c++) {
			float *row = (float *)t->data + (size_t)(3 + c) * (size_t)hp->dim;
			for (int j = 0; j < hp->dim; j++)
				row[j] *= PRINTABLE_GAIN;
		}
	}
	/* tied output projection, as in the small llama2.c models */
	if (tied)
		pb_model_tie_output(m, 0);
	rc = byte_vocab(hp->vocab, t5, hp->bos_id, hp->eos_id, &core->tok);
	if (rc < 0)
		goto fail;
	free(s);
	*out = m;
	return 0;
fail:
	snprintf(err, len, "synth:%s: out of memory", name);
fail_msg:
	free(s);
	pb_model_free(m);
	return rc;
}

int pb_model_synth_hp(const char *name, const struct pb_hparams *hp, uint64_t seed,
		      struct pb_model **out, char *err, size_t len)
{
	/* llama: tied.  T5: tied exactly when the head is scaled, as HF
	 * scales only a tied head. */
	struct pb_synth_preset p = { .name = name, .hp = *hp,
				     .arch = hp->n_enc_layers > 0 ? PB_ARCH_T5 : PB_ARCH_LLAMA };
	return synth(&p, hp->n_enc_layers <= 0 || hp->logit_scale != 0.0f, seed, out, err, len);
}

int pb_model_synth_preset(const struct pb_synth_preset *p, uint64_t seed, struct pb_model **out,
			  char *err, size_t len)
{
	int tied = p->arch == PB_ARCH_T5 ? p->hp.logit_scale != 0.0f : !p->untied;
	return synth(p, tied, seed, out, err, len);
}

int pb_model_synth(const char *preset, uint64_t seed, struct pb_model **out,
		   char *err, size_t len)
{
	const struct pb_synth_preset *p = pb_synth_find(preset);
	if (!p) {
		int n = 0;
		size_t used = (size_t)snprintf(err, len, "unknown synthetic preset '%s' (presets:",
					       preset ? preset : "");
		const struct pb_synth_preset *all = pb_synth_presets(&n);
		for (int i = 0; i < n && used < len; i++)
			used += (size_t)snprintf(err + used, len - used, " %s", all[i].name);
		if (used < len)
			snprintf(err + used, len - used, ")");
		return -ENOENT;
	}
	return pb_model_synth_preset(p, seed, out, err, len);
}

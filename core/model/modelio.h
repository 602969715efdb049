/* core/model/modelio.h — building, loading, saving and hashing models.
 *
 * Model files are untrusted input: every count, offset, length, alignment
 * and shape is bounds-checked, and a malformed file gets one error naming
 * the file, the byte offset and what was wrong.  Files are mapped
 * MAP_PRIVATE with write access, so pruners edit weights in place without
 * touching the file (pages are copied on write).
 */
#ifndef PB_MODELIO_H
#define PB_MODELIO_H

#include <stdint.h>

#include <prunebench/model.h>

struct pb_tokenizer;

/* Llama 3's RoPE scaling (config.json rope_scaling {rope_type: llama3}),
 * which reaches the op list as a rope_freqs tensor of frequency divisors.
 * original_ctx 0: none. */
struct pb_rope_llama3 {
	float factor, low_freq_factor, high_freq_factor;
	int original_ctx;             /* original_max_position_embeddings */
};

/* The [head_dim/2] divisors of llama3 scaling, computed exactly as
 * llama.cpp's convert_hf_to_gguf.py writes rope_freqs.weight (float32
 * arithmetic in its order): pair i of base frequency f_i =
 * theta^(-2i/head_dim) and wavelength 2π/f_i gets 1 below
 * original/high_freq_factor, factor above original/low_freq_factor, and
 * 1 / ((1 - s)/factor + s), s = (original/wavelength - low) / (high -
 * low), between.  0, or -EINVAL for bad parameters. */
int pb_rope_llama3_factors(float theta, int head_dim, const struct pb_rope_llama3 *r, float *out);

/* llama.cpp's architecture strings (general.architecture), both ways
 * (names.c); pb_arch_from_name gives -1 for a name we do not run.  The
 * RoPE layout llama.cpp's GGUF rows of an architecture use: interleaved
 * for llama (its converter permutes q/k), rotate-half (NeoX) for Qwen,
 * Gemma and Phi-3. */
const char *pb_arch_name(enum pb_arch a);
int pb_arch_from_name(const char *s, size_t n);
enum pb_rope_layout pb_arch_rope_layout(enum pb_arch a);

/* What some architectures need beyond pb_hparams, kept core-private so
 * that the plugin ABI's pb_hparams stays as it is (Gemma 2/3, Phi-3). */
struct pb_arch_params {
	float attn_scale;      /* multiplies q·k; 0: 1/√head_dim (Gemma: query_pre_attn_scalar^-½) */
	float attn_softcap;    /* Gemma 2's attn_logit_softcapping (50); 0: none */
	float final_softcap;   /* Gemma 2's final_logit_softcapping (30); 0: none */
	int sliding_window;    /* keys a sliding layer sees (p − j < window); 0: none */
	float rope_theta_swa;  /* Gemma 3: the sliding layers' RoPE base (10000); 0: hp.rope_theta */
	/* Phi-3 longrope (rope_factors_short/long tensors): a run whose
	 * context exceeds rope_orig_ctx rotates with the long factors, else
	 * the short ones (llama.cpp's choice by n_ctx); cos and sin are
	 * multiplied by rope_attn_factor (GGUF rope.scaling.attn_factor). */
	int rope_orig_ctx;     /* original_max_position_embeddings; 0: hp.ctx */
	float rope_attn_factor; /* 0 means 1 */
};
/* The model's (zeroes for architectures without any); never NULL. */
const struct pb_arch_params *pb_model_arch_params(const struct pb_model *m);
struct pb_arch_params *pb_model_arch_params_mut(struct pb_model *m);
/* Whether block l of an architecture is a sliding-window layer when the
 * model has a window: llama.cpp's set_swa_pattern — Gemma 2 every even
 * block, Gemma 3 all but every sixth (5, 11, …); 0 for every other
 * architecture.  By index, as trained: dropping blocks would move it. */
int pb_arch_layer_slides(enum pb_arch a, int l);
/* The attention scale llama.cpp infers for a GGUF of this architecture:
 * 1/√head_dim, but 1/√(dim/heads) for Gemma 2 27B (46 blocks) and Gemma 3
 * 27B (62 blocks), which llama.cpp tells apart by their block counts. */
double pb_arch_default_attn_scale(enum pb_arch a, const struct pb_hparams *hp);

/* Phi-3's longrope attention factor when the config gives none
 * (transformers' _compute_longrope_parameters, convert_hf_to_gguf.py):
 * √(1 + ln(ctx / orig) / ln(orig)), 1 when ctx ≤ orig. */
double pb_rope_longrope_mscale(int ctx, int orig_ctx);

/* Synthetic presets with real shapes; weights deterministic from seed. */
struct pb_synth_preset {
	const char *name;             /* "llama-15m" */
	enum pb_arch arch;            /* llama, t5, qwen2 (q/k/v biases), qwen3 (q/k norms), gemma2, gemma3, phi3 */
	struct pb_hparams hp;
	int untied;                   /* decoder-only: a separate output projection */
	struct pb_rope_llama3 rope3;  /* llama: a rope_freqs tensor when original_ctx > 0 */
	struct pb_arch_params ap;     /* gemma2/gemma3; phi3: longrope factor tensors when rope_orig_ctx > 0 */
};
const struct pb_synth_preset *pb_synth_presets(int *n);
const struct pb_synth_preset *pb_synth_find(const char *name);
int pb_model_synth(const char *preset, uint64_t seed, struct pb_model **out,
		   char *err, size_t len);
/* The same from a preset the caller made (tests: tiny models of each
 * architecture). */
int pb_model_synth_preset(const struct pb_synth_preset *p, uint64_t seed, struct pb_model **out,
			  char *err, size_t len);
/* The same from explicit hyper-parameters (tests build tiny models this
 * way); hp->vocab >= 3, and >= 259 for every byte to have its piece. */
int pb_model_synth_hp(const char *name, const struct pb_hparams *hp, uint64_t seed,
		      struct pb_model **out, char *err, size_t len);
/* Fill a tensor's F32 data with N(0, std) values from (seed, stream), as
 * the presets do (tests use it to build pruned shapes). */
void pb_synth_fill(struct pb_tensor *t, uint64_t seed, uint64_t stream, float std);

/* A model: a GGUF file (versions 1-3; llama, qwen2, qwen3 or t5), a
 * Hugging Face folder (config.json + model.safetensors or a sharded index
 * + tokenizer.json; LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM
 * or T5ForConditionalGeneration; a path to one of its files stands for the
 * folder) or a llama2.c checkpoint (.bin, with tokenizer.bin or a single
 * tok*.bin beside it).  Every model comes back in llama.cpp's RoPE layout
 * for its architecture (pb_arch_rope_layout): Hugging Face llama q/k rows
 * are permuted on load to the interleaved one, Qwen rows stay. */
int pb_model_load(const char *path, struct pb_model **out, char *err, size_t len);
/* The same with a tokenizer file that replaces (or, for llama2.c, supplies)
 * the model's: tokenizer.json or a llama2.c tokenizer .bin; NULL or "": the
 * model's own. */
int pb_model_load_with(const char *path, const char *tokenizer_path, struct pb_model **out,
		       char *err, size_t len);
/* The same, forcing a GGUF vocabulary's pre-tokenizer (tokenizer.ggml.pre)
 * to tokenizer_pre (NULL or "": the file's own; other formats ignore it).
 * Every loader ends here: hp.ctx_train is what the file says, hp.ctx at
 * most PB_CTX_DEFAULT of it. */
int pb_model_load_pre(const char *path, const char *tokenizer_path, const char *tokenizer_pre,
		      struct pb_model **out, char *err, size_t len);
/* The positions a run uses: 1 … the trained context; -EINVAL with why
 * otherwise. */
int pb_model_set_ctx(struct pb_model *m, int ctx, char *err, size_t len);
/* Only the tokenizer of a GGUF file (tokenizer.ggml.* keys; any
 * architecture, vocabulary-only files included), its pre-tokenizer forced
 * to pre when not NULL or "". */
int pb_gguf_tokenizer_load(const char *path, const char *pre, struct pb_tokenizer **out,
			   char *err, size_t len);
/* GGUF v3 as llama.cpp reads it: llama, qwen2, qwen3, gemma2, gemma3,
 * phi3 or t5 names and keys, tokenizer metadata from pb_tokenizer_export;
 * a tied output is left out.  Phi-3's q/k/v and gate/up (held apart,
 * model-internal.h) are written fused again, as llama.cpp's phi3 reads
 * them. */
int pb_gguf_write(const struct pb_model *m, const char *path, char *err, size_t len);
void pb_model_free(struct pb_model *m);

/* sha256 over every tensor's name, format, shape and data, in table order. */
void pb_model_hash(const struct pb_model *m, char hex[65]);

/* Replace t's format/shape/data with a fresh zeroed owned buffer
 * (pb_host.tensor_realloc). */
int pb_tensor_realloc(struct pb_tensor *t, enum pb_dtype dtype,
		      const int64_t ne[PB_MAX_DIMS], size_t nbytes);

/* Remove m->tensors[idx], freeing its data when owned; later tensors
 * move down one place.  -EBUSY when another tensor shares its data (a tied
 * output and its embedding), -EINVAL for a bad index
 * (pb_host.tensor_remove). */
int pb_model_tensor_remove(struct pb_model *m, int idx);

/* Dequantise one row (ne[0] values) of a dense-format tensor into dst. */
int pb_tensor_row_f32(const struct pb_tensor *t, int64_t row, float *dst);

/* The model's tokenizer (always present: synth models carry a byte-level
 * one), owned by the model. */
const struct pb_tokenizer *pb_model_tokenizer(const struct pb_model *m);
/* Free the model's tokenizer (pb_model_tokenizer then returns NULL): for
 * a model kept only for its tensors, whose text side is another's. */
void pb_model_drop_tokenizer(struct pb_model *m);
/* The ids a model may generate: hp.vocab, cut to the tokenizer's size
 * (tok, else the model's own) when that is smaller.  Hugging Face
 * checkpoints pad vocab_size past the tokenizer (t5-small: 32128 rows for
 * 32100 tokens); a padding id is no token, so its logit is never chosen
 * by a greedy step or an accuracy argmax. */
int pb_model_live_vocab(const struct pb_model *m, const struct pb_tokenizer *tok);

/* Total parameters, nonzero parameters and weight bytes of the tensors
 * (all when linears_only is 0). */
void pb_model_count(const struct pb_model *m, int linears_only,
		    int64_t *params, int64_t *nonzero, int64_t *bytes);
/* Zeros in one tensor (dense formats). */
int64_t pb_tensor_count_zeros(const struct pb_tensor *t);

#endif

/* core/model/gguf-write.c — the GGUF v3 writer for llama, qwen2, qwen3,
 * gemma2, gemma3, phi3 and t5 models, in the layout llama.cpp's loader reads:
 * general.* and <arch>.* keys (decoders: per-layer head counts and FFN
 * widths as arrays when structured pruning made layers differ), the tokenizer.ggml.* vocabulary from
 * pb_tokenizer_export (padded with [PADn] pieces up to the embedding's
 * rows, as convert_hf_to_gguf.py does), and tensor data aligned to
 * general.alignment.  A tied output projection is not written, so the
 * file stays tied; a logit scale the reader would not infer from that
 * (tied T5: d_model^-0.5, else 1) is kept in <arch>.logit_scale.
 * Phi-3's q/k/v and gate/up, held apart in memory (fused.c), are written
 * as llama.cpp's phi3 reads them: one ffn_up of gate rows then up rows
 * (it has no ffn_gate, so both must share a format), and one attn_qkv
 * when q, k and v share a format and have the file's head counts; else
 * attn_q/k/v apart, which llama.cpp's phi3 also loads. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
	int oom;
	uint64_t n_kv;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }

static void put_str(struct buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void kv_head(struct buf *b, const char *key, uint32_t type)
{
	put_str(b, key);
	put_u32(b, type);
	b->n_kv++;
}

static void kv_u32(struct buf *b, const char *key, uint32_t v)
{
	kv_head(b, key, GGUF_UINT32);
	put_u32(b, v);
}

static void kv_f32(struct buf *b, const char *key, float v)
{
	kv_head(b, key, GGUF_FLOAT32);
	put(b, &v, 4);
}

static void kv_str(struct buf *b, const char *key, const char *v)
{
	kv_head(b, key, GGUF_STRING);
	put_str(b, v);
}

static void kv_bool(struct buf *b, const char *key, int v)
{
	uint8_t x = v != 0;
	kv_head(b, key, GGUF_BOOL);
	put(b, &x, 1);
}

/* A per-layer value: a scalar when every layer agrees, else an array. */
static void kv_layers(struct buf *b, const char *key, const int *v, int n)
{
	int same = 1;
	for (int i = 1; i < n; i++)
		same &= v[i] == v[0];
	if (same) {
		kv_u32(b, key, (uint32_t)v[0]);
		return;
	}
	kv_head(b, key, GGUF_ARRAY);
	put_u32(b, GGUF_UINT32);
	put_u64(b, (uint64_t)n);
	for (int i = 0; i < n; i++)
		put_u32(b, (uint32_t)v[i]);
}

static int ggml_type(enum pb_dtype d)
{
	switch (d) {
	case PB_F32: return GGML_TYPE_F32;
	case PB_F16: return GGML_TYPE_F16;
	case PB_BF16: return GGML_TYPE_BF16;
	case PB_Q8_0: return GGML_TYPE_Q8_0;
	case PB_Q4_0: return GGML_TYPE_Q4_0;
	case PB_Q2_K: return GGML_TYPE_Q2_K;
	case PB_Q3_K: return GGML_TYPE_Q3_K;
	case PB_Q4_K: return GGML_TYPE_Q4_K;
	case PB_Q5_K: return GGML_TYPE_Q5_K;
	case PB_Q6_K: return GGML_TYPE_Q6_K;
	default: return -1;
	}
}

/* A tied output: same memory and layout as the embedding. */
static int is_tied_output(const struct pb_model *m, const struct pb_tensor *t)
{
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	return t->role == PB_ROLE_OUTPUT && e && e != t && e->data == t->data &&
	       e->dtype == t->dtype && !memcmp(e->ne, t->ne, sizeof e->ne);
}

static int is_tied(const struct pb_model *m)
{
	const struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	return !o || is_tied_output(m, o);
}

/* general.file_type: what most linear weights are stored in, labelled as
 * llama-quantize labels its mixes: mostly Q4_K or Q5_K with some Q6_K
 * block linears (attn_v, ffn_down) is the _M mix, without them the _S
 * one; mostly Q3_K is _L with Q5_K block linears, _M with Q4_K, else _S.
 * The label is informational (llama.cpp prints it); each tensor's type is
 * in its own info. */
static uint32_t file_type(const struct pb_model *m, int *quantized)
{
	int64_t count[PB_DTYPE_COUNT] = { 0 };
	int best = PB_F32, block[PB_DTYPE_COUNT] = { 0 };
	*quantized = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if ((unsigned)t->dtype < PB_DTYPE_COUNT && pb_role_is_linear(t->role)) {
			count[t->dtype] += pb_tensor_nelements(t);
			block[t->dtype] |= t->layer >= 0;
		}
		*quantized |= t->dtype == PB_Q8_0 || t->dtype == PB_Q4_0 || pb_dtype_is_kquant(t->dtype);
	}
	for (int d = 0; d < PB_DTYPE_COUNT; d++)
		if (count[d] > count[best])
			best = d;
	switch (best) {
	case PB_F16: return LLAMA_FTYPE_MOSTLY_F16;
	case PB_BF16: return LLAMA_FTYPE_MOSTLY_BF16;
	case PB_Q8_0: return LLAMA_FTYPE_MOSTLY_Q8_0;
	case PB_Q4_0: return LLAMA_FTYPE_MOSTLY_Q4_0;
	case PB_Q2_K: return LLAMA_FTYPE_MOSTLY_Q2_K;
	case PB_Q3_K:
		return block[PB_Q5_K] ? LLAMA_FTYPE_MOSTLY_Q3_K_L :
		       block[PB_Q4_K] ? LLAMA_FTYPE_MOSTLY_Q3_K_M : LLAMA_FTYPE_MOSTLY_Q3_K_S;
	case PB_Q4_K: return block[PB_Q6_K] ? LLAMA_FTYPE_MOSTLY_Q4_K_M : LLAMA_FTYPE_MOSTLY_Q4_K_S;
	case PB_Q5_K: return block[PB_Q6_K] ? LLAMA_FTYPE_MOSTLY_Q5_K_M : LLAMA_FTYPE_MOSTLY_Q5_K_S;
	case PB_Q6_K: return LLAMA_FTYPE_MOSTLY_Q6_K;
	default: return LLAMA_FTYPE_ALL_F32;
	}
}

/* "<arch>.<suffix>" */
static const char *akey(const struct pb_model *m, const char *suffix)
{
	static char key[96];
	pb_sayf(key, sizeof key, "%s.%s", pb_arch_name(m->arch), suffix);
	return key;
}

/* llama, qwen2, qwen3: the keys convert_hf_to_gguf.py writes (key_length
 * always, so Qwen3's head_dim, which is not dim / heads, survives). */
static void write_decoder_keys(const struct pb_model *m, struct buf *b, const int *heads,
			       const int *kv, const int *ffn, int n)
{
	const struct pb_hparams *hp = &m->hp;
	kv_u32(b, akey(m, "context_length"), (uint32_t)pb_hp_ctx_train(hp));
	kv_u32(b, akey(m, "embedding_length"), (uint32_t)hp->dim);
	kv_u32(b, akey(m, "block_count"), (uint32_t)hp->n_layers);
	kv_layers(b, akey(m, "feed_forward_length"), ffn, n);
	kv_layers(b, akey(m, "attention.head_count"), heads, n);
	kv_layers(b, akey(m, "attention.head_count_kv"), kv, n);
	kv_u32(b, akey(m, "attention.key_length"), (uint32_t)hp->head_dim);
	kv_u32(b, akey(m, "attention.value_length"), (uint32_t)hp->head_dim);
	kv_u32(b, akey(m, "rope.dimension_count"), (uint32_t)hp->head_dim);
	kv_f32(b, akey(m, "attention.layer_norm_rms_epsilon"), hp->norm_eps);
	kv_f32(b, akey(m, "rope.freq_base"), hp->rope_theta);
	kv_u32(b, akey(m, "vocab_size"), (uint32_t)hp->vocab);
}

/* gemma2, gemma3: what Gemma2Model/Gemma3Model's converter writes (Gemma 2
 * always has its window and caps), and what llama.cpp would not infer
 * the same: an attention scale other than its rule, a sliding RoPE base
 * other than 10000 (prunebench keys, ignored there). */
static void write_gemma_keys(const struct pb_model *m, struct buf *b)
{
	const struct pb_arch_params *ap = pb_model_arch_params(m);
	const int g2 = m->arch == PB_ARCH_GEMMA2;
	if (g2 || ap->sliding_window > 0)
		kv_u32(b, akey(m, "attention.sliding_window"), (uint32_t)ap->sliding_window);
	if (g2)
		kv_f32(b, akey(m, "attn_logit_softcapping"), ap->attn_softcap);
	if (g2 || ap->final_softcap > 0)
		kv_f32(b, akey(m, "final_logit_softcapping"), ap->final_softcap);
	if (!g2 && ap->rope_theta_swa > 0 && ap->rope_theta_swa != 10000.0f)
		kv_f32(b, akey(m, "rope.freq_base_swa"), ap->rope_theta_swa);
	float inferred = (float)pb_arch_default_attn_scale(m->arch, &m->hp);
	if (ap->attn_scale > 0 && fabsf(ap->attn_scale - inferred) > 1e-7f * inferred)
		kv_f32(b, akey(m, "attention.scale"), ap->attn_scale);
}

/* phi3: what Phi3MiniModel's converter adds (the attention factor only
 * with longrope factors, as it writes them; sliding_window always:
 * llama.cpp once required it, and disables it on read). */
static void write_phi3_keys(const struct pb_model *m, struct buf *b)
{
	const struct pb_arch_params *ap = pb_model_arch_params(m);
	const int factors = pb_model_find(m, -1, PB_ROLE_ROPE_FACTORS_SHORT) ||
			    pb_model_find(m, -1, PB_ROLE_ROPE_FACTORS_LONG);
	kv_u32(b, akey(m, "rope.scaling.original_context_length"),
	       (uint32_t)(ap->rope_orig_ctx > 0 ? ap->rope_orig_ctx : pb_hp_ctx_train(&m->hp)));
	if (factors || (ap->rope_attn_factor > 0 && ap->rope_attn_factor != 1.0f))
		kv_f32(b, akey(m, "rope.scaling.attn_factor"), ap->rope_attn_factor > 0 ? ap->rope_attn_factor : 1.0f);
	kv_u32(b, akey(m, "attention.sliding_window"), (uint32_t)ap->sliding_window);
}

/* The keys convert_hf_to_gguf.py's T5Model writes (head counts are the
 * as-trained scalars: llama.cpp's t5 has no per-layer widths). */
static void write_t5_keys(const struct pb_model *m, struct buf *b)
{
	const struct pb_hparams *hp = &m->hp;
	kv_u32(b, "t5.context_length", (uint32_t)pb_hp_ctx_train(hp));
	kv_u32(b, "t5.embedding_length", (uint32_t)hp->dim);
	kv_u32(b, "t5.feed_forward_length", (uint32_t)hp->ffn_dim);
	kv_u32(b, "t5.block_count", (uint32_t)hp->n_enc_layers);
	kv_u32(b, "t5.decoder_block_count", (uint32_t)hp->n_layers);
	kv_u32(b, "t5.attention.head_count", (uint32_t)hp->n_heads);
	kv_u32(b, "t5.attention.key_length", (uint32_t)hp->head_dim);
	kv_u32(b, "t5.attention.value_length", (uint32_t)hp->head_dim);
	kv_f32(b, "t5.attention.layer_norm_epsilon", hp->norm_eps);
	kv_f32(b, "t5.attention.layer_norm_rms_epsilon", hp->norm_eps);
	kv_u32(b, "t5.attention.relative_buckets_count", (uint32_t)hp->rel_buckets);
	if (hp->rel_max_distance && hp->rel_max_distance != 128)
		kv_u32(b, "t5." PB_GGUF_KEY_REL_MAX_DISTANCE, (uint32_t)hp->rel_max_distance);
	kv_u32(b, "t5.decoder_start_token_id", (uint32_t)hp->decoder_start_id);
	kv_u32(b, "t5.vocab_size", (uint32_t)hp->vocab);
}

static void write_vocab(const struct pb_model *m, const struct pb_vocab_spec *v, struct buf *b)
{
	int nv = m->hp.vocab > v->n_tokens ? m->hp.vocab : v->n_tokens;
	char padname[32];
	kv_str(b, "tokenizer.ggml.model", v->model ? v->model : "llama");
	if (v->pre)
		kv_str(b, "tokenizer.ggml.pre", v->pre);
	kv_head(b, "tokenizer.ggml.tokens", GGUF_ARRAY);
	put_u32(b, GGUF_STRING);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++) {
		pb_sayf(padname, sizeof padname, "[PAD%d]", i - v->n_tokens + 1);
		put_str(b, i < v->n_tokens ? v->tokens[i] : padname);
	}
	kv_head(b, "tokenizer.ggml.scores", GGUF_ARRAY);
	put_u32(b, GGUF_FLOAT32);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++) {
		float s = i >= v->n_tokens ? -1000.0f : v->scores ? v->scores[i] : 0.0f;
		put(b, &s, 4);
	}
	kv_head(b, "tokenizer.ggml.token_type", GGUF_ARRAY);
	put_u32(b, GGUF_INT32);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++)
		put_u32(b, (uint32_t)(i >= v->n_tokens ? 5 : v->types ? v->types[i] : 1));
	if (v->merges && v->n_merges > 0) {
		kv_head(b, "tokenizer.ggml.merges", GGUF_ARRAY);
		put_u32(b, GGUF_STRING);
		put_u64(b, (uint64_t)v->n_merges);
		for (int i = 0; i < v->n_merges; i++)
			put_str(b, v->merges[i]);
	}
	/* the model's ids (config.json, the file) win over the vocabulary's */
	const struct pb_hparams *hp = &m->hp;
	int bos = hp->bos_id >= 0 ? hp->bos_id : v->bos_id, eos = hp->eos_id >= 0 ? hp->eos_id : v->eos_id;
	int unk = hp->unk_id >= 0 ? hp->unk_id : v->unk_id, pad = hp->pad_id >= 0 ? hp->pad_id : v->pad_id;
	if (bos >= 0)
		kv_u32(b, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
	if (eos >= 0)
		kv_u32(b, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
	if (unk >= 0)
		kv_u32(b, "tokenizer.ggml.unknown_token_id", (uint32_t)unk);
	if (pad >= 0)
		kv_u32(b, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
	if (v->add_bos >= 0)
		kv_bool(b, "tokenizer.ggml.add_bos_token", v->add_bos);
	if (v->add_space_prefix >= 0)
		kv_bool(b, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
}

static int write_metadata(const struct pb_model *m, const struct pb_tokenizer *tok,
			  struct buf *b)
{
	const struct pb_hparams *hp = &m->hp;
	const char *arch = pb_arch_name(m->arch);
	struct pb_vocab_spec v;
	int n = hp->n_layers > 0 ? hp->n_layers : 1, quantized;
	int *heads = calloc((size_t)n, sizeof *heads), *kv = calloc((size_t)n, sizeof *kv);
	int *ffn = calloc((size_t)n, sizeof *ffn);
	if (!heads || !kv || !ffn || pb_tokenizer_export(tok, &v) < 0) {
		free(heads);
		free(kv);
		free(ffn);
		return -ENOMEM;
	}
	for (int l = 0; l < hp->n_layers; l++) {
		struct pb_layer_shape s = pb_layer_shape(m, l);
		heads[l] = s.n_heads;
		kv[l] = s.n_kv_heads;
		ffn[l] = s.ffn_dim;
	}
	kv_str(b, "general.architecture", arch);
	kv_str(b, "general.name", m->name[0] ? m->name : "prunebench");
	kv_u32(b, "general.alignment", GGUF_DEFAULT_ALIGNMENT);
	kv_u32(b, "general.file_type", file_type(m, &quantized));
	if (quantized)
		kv_u32(b, "general.quantization_version", GGML_QNT_VERSION);
	if (m->arch == PB_ARCH_T5)
		write_t5_keys(m, b);
	else
		write_decoder_keys(m, b, heads, kv, ffn, n);
	if (m->arch == PB_ARCH_GEMMA2 || m->arch == PB_ARCH_GEMMA3)
		write_gemma_keys(m, b);
	if (m->arch == PB_ARCH_PHI3)
		write_phi3_keys(m, b);
	/* the reader infers d_model^-0.5 for a tied t5 and 1 otherwise */
	float scale = hp->logit_scale != 0.0f ? hp->logit_scale : 1.0f;
	float inferred = m->arch == PB_ARCH_T5 && is_tied(m) ? 1.0f / sqrtf((float)hp->dim) : 1.0f;
	if (fabsf(scale - inferred) > 1e-6f * inferred) {
		char key[64];
		pb_sayf(key, sizeof key, "%s.%s", arch, PB_GGUF_KEY_LOGIT_SCALE);
		kv_f32(b, key, scale);
	}
	free(heads);
	free(kv);
	free(ffn);
	write_vocab(m, &v, b);
	return b->oom ? -ENOMEM : 0;
}

/* One tensor of the file: up to three of the model's, rows stacked. */
struct out_tensor {
	const struct pb_tensor *part[3];
	int n_parts;
	char name[PB_TENSOR_NAME_MAX];
	int64_t rows;
	size_t nbytes;
};

static const struct pb_tensor *find_part(const struct pb_model *m, int layer, enum pb_role role)
{
	return pb_model_find(m, layer, role);
}

static int same_rows(const struct pb_tensor *a, const struct pb_tensor *b)
{
	return a->dtype == b->dtype && a->ne[0] == b->ne[0] && a->n_dims == 2 && b->n_dims == 2 &&
	       a->ne[2] == 1 && b->ne[2] == 1 && a->ne[3] == 1 && b->ne[3] == 1;
}

/* Phi-3: tensor t joins its fused file tensor (o, at q or gate), is
 * folded into one already planned (1: skip it), or stands alone (0). */
static int plan_phi3(const struct pb_model *m, const struct pb_tensor *t, struct out_tensor *o,
		     const char *path, char *err, size_t len)
{
	const struct pb_hparams *hp = &m->hp;
	const int64_t hd = hp->head_dim;
	if (t->role == PB_ROLE_ATTN_Q || t->role == PB_ROLE_ATTN_K || t->role == PB_ROLE_ATTN_V) {
		const struct pb_tensor *q = find_part(m, t->layer, PB_ROLE_ATTN_Q);
		const struct pb_tensor *k = find_part(m, t->layer, PB_ROLE_ATTN_K);
		const struct pb_tensor *v = find_part(m, t->layer, PB_ROLE_ATTN_V);
		if (!q || !k || !v || !same_rows(q, k) || !same_rows(q, v) || q->ne[1] != hp->n_heads * hd ||
		    k->ne[1] != hp->n_kv_heads * hd || v->ne[1] != k->ne[1])
			return 0;
		if (t != q)
			return 1;
		o->part[0] = q;
		o->part[1] = k;
		o->part[2] = v;
		o->n_parts = 3;
		return pb_tensor_name_arch(m->arch, t->stack, t->layer, PB_ROLE_ATTN_QKV, o->name, sizeof o->name) < 0
			       ? -EINVAL : 0;
	}
	if (t->role != PB_ROLE_FFN_GATE && t->role != PB_ROLE_FFN_UP)
		return 0;
	const struct pb_tensor *g = find_part(m, t->layer, PB_ROLE_FFN_GATE);
	const struct pb_tensor *u = find_part(m, t->layer, PB_ROLE_FFN_UP);
	if (!g || !u || !same_rows(g, u) || g->ne[1] != u->ne[1])
		return pb_errf(err, len, -ENOTSUP,
			       "%s: block %d: llama.cpp's phi3 reads the FFN's gate and up as one ffn_up tensor, so "
			       "both must exist with one format and shape (gate %s [%lld, %lld], up %s [%lld, %lld])",
			       path, t->layer, g ? pb_dtype_name(g->dtype) : "absent", g ? (long long)g->ne[0] : 0,
			       g ? (long long)g->ne[1] : 0, u ? pb_dtype_name(u->dtype) : "absent",
			       u ? (long long)u->ne[0] : 0, u ? (long long)u->ne[1] : 0);
	if (t != g)
		return 1;
	o->part[0] = g;
	o->part[1] = u;
	o->n_parts = 2;
	return pb_tensor_name_arch(m->arch, t->stack, t->layer, PB_ROLE_FFN_GATE_UP, o->name, sizeof o->name) < 0
		       ? -EINVAL : 0;
}

static size_t align_up(size_t x)
{
	return (x + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
}

int pb_gguf_write(const struct pb_model *m, const char *path, char *err, size_t len)
{
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	struct buf kv = { 0 }, info = { 0 };
	char tmp[4096];
	FILE *f = NULL;
	int rc = 0, n_out = 0;
	size_t data_off = 0;
	struct out_tensor *outs = NULL;
	static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];

	if ((m->arch != PB_ARCH_LLAMA && m->arch != PB_ARCH_T5 && m->arch != PB_ARCH_QWEN2 &&
	     m->arch != PB_ARCH_QWEN3 && m->arch != PB_ARCH_GEMMA2 && m->arch != PB_ARCH_GEMMA3 &&
	     m->arch != PB_ARCH_PHI3) ||
	    m->hp.rope_layout != pb_arch_rope_layout(m->arch) || !tok)
		return pb_errf(err, len, -ENOTSUP,
			       "%s: only llama, qwen2, qwen3, gemma2, gemma3, phi3 and t5 models in llama.cpp's RoPE layout and with a tokenizer can be written as GGUF",
			       path);
	if (pb_tokenizer_vocab(tok) > m->hp.vocab)
		return pb_errf(err, len, -EINVAL, "%s: the tokenizer has %d tokens, the model's vocabulary %d",
			       path, pb_tokenizer_vocab(tok), m->hp.vocab);
	/* the file's tensors (Phi-3: fused), then their infos, with offsets
	 * relative to the aligned data section */
	outs = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *outs);
	if (!outs) {
		rc = -ENOMEM;
		snprintf(err, len, "%s: out of memory", path);
		goto out;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		struct out_tensor *o = &outs[n_out];
		if (is_tied_output(m, t))
			continue;
		if (ggml_type(t->dtype) < 0) {
			snprintf(err, len, "%s: tensor '%s': format %s has no GGUF type", path, t->name,
				 pb_dtype_name(t->dtype));
			rc = -ENOTSUP;
			goto out;
		}
		memset(o, 0, sizeof *o);
		if (m->arch == PB_ARCH_PHI3 && t->layer >= 0) {
			if ((rc = plan_phi3(m, t, o, path, err, len)) < 0) {
				if (rc == -EINVAL)
					snprintf(err, len, "%s: tensor '%s': no fused phi3 name", path, t->name);
				goto out;
			}
			if (rc == 1)
				continue;
		}
		if (!o->n_parts) {
			o->part[0] = t;
			o->n_parts = 1;
			/* llama.cpp's name for the role; unknown roles keep theirs */
			if (t->role == PB_ROLE_OTHER ||
			    pb_tensor_name_arch(m->arch, t->stack, t->layer, t->role, o->name, sizeof o->name) < 0)
				snprintf(o->name, sizeof o->name, "%s", t->name);
		}
		for (int k = 0; k < o->n_parts; k++) {
			o->rows += o->part[k]->ne[1];
			o->nbytes += o->part[k]->nbytes;
		}
		put_str(&info, o->name);
		put_u32(&info, (uint32_t)t->n_dims);
		for (int d = 0; d < t->n_dims; d++)
			put_u64(&info, (uint64_t)(d == 1 ? o->rows : t->ne[d]));
		put_u32(&info, (uint32_t)ggml_type(t->dtype));
		put_u64(&info, data_off);
		data_off = align_up(data_off + o->nbytes);
		n_out++;
	}
	rc = 0;
	if ((rc = write_metadata(m, tok, &kv)) < 0 || info.oom) {
		rc = -ENOMEM;
		snprintf(err, len, "%s: out of memory", path);
		goto out;
	}
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		rc = -ENAMETOOLONG;
		snprintf(err, len, "%s: path too long", path);
		goto out;
	}
	f = fopen(tmp, "wb");
	if (!f)
		goto io;
	uint32_t head[2] = { GGUF_MAGIC, GGUF_VERSION };
	uint64_t counts[2] = { (uint64_t)n_out, kv.n_kv };
	size_t pos = sizeof head + sizeof counts + kv.n + info.n;
	if (fwrite(head, sizeof head, 1, f) != 1 || fwrite(counts, sizeof counts, 1, f) != 1 ||
	    fwrite(kv.p, 1, kv.n, f) != kv.n || fwrite(info.p, 1, info.n, f) != info.n ||
	    fwrite(zeros, 1, align_up(pos) - pos, f) != align_up(pos) - pos)
		goto io;
	for (int i = 0; i < n_out; i++) {
		const struct out_tensor *o = &outs[i];
		size_t pad = align_up(o->nbytes) - o->nbytes;
		for (int k = 0; k < o->n_parts; k++) {
			const struct pb_tensor *t = o->part[k];
			if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes)
				goto io;
		}
		if (fwrite(zeros, 1, pad, f) != pad)
			goto io;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto io;
	if (fclose(f) != 0) {
		f = NULL;
		goto io;
	}
	f = NULL;
	if (rename(tmp, path) < 0)
		goto io;
	goto out;
io:
	rc = -errno;
	if (!rc)
		rc = -EIO;
	snprintf(err, len, "%s: cannot write: %s", path, strerror(-rc));
	if (f)
		fclose(f);
	unlink(tmp);
out:
	free(outs);
	free(kv.p);
	free(info.p);
	return rc;
}

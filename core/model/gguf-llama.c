/* core/model/gguf-llama.c — what a GGUF "llama", "qwen2", "qwen3",
 * "gemma2", "gemma3", "phi3" or "t5" model means: its hyper-parameters (<arch>.* keys, as llama.cpp's
 * llama-model.cpp reads them), its vocabulary (tokenizer.ggml.* → pb_tokenizer_from_vocab), and
 * the roles, stacks and shapes of its tensors, including the tied output
 * projection when output.weight is absent.  Phi-3's fused attn_qkv and
 * ffn_up are split into q/k/v and gate/up views (fused.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/gguf-reader.h"
#include "model/gguf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

/* Offset of a key for messages (0 when absent: the default was used). */
static size_t kv_at(const struct gguf_reader *r, const char *key)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	return kv ? kv->at : 0;
}

static int is_array(const struct gguf_reader *r, const char *key)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	return kv && kv->type == GGUF_ARRAY;
}

static int load_arch(struct gguf_reader *r, struct pb_model *m)
{
	uint64_t n = 0;
	const char *arch = gguf_key_str(r, "general.architecture", &n);
	if (!arch)
		return pb_errf(r->err, r->errlen, -EINVAL, "%s: missing metadata key 'general.architecture'",
			       r->path);
	int a = pb_arch_from_name(arch, (size_t)n);
	if (a != PB_ARCH_LLAMA && a != PB_ARCH_T5 && a != PB_ARCH_QWEN2 && a != PB_ARCH_QWEN3 &&
	    a != PB_ARCH_GEMMA2 && a != PB_ARCH_GEMMA3 && a != PB_ARCH_PHI3)
		return gguf_fail(r, kv_at(r, "general.architecture"),
			    "unsupported architecture '%.*s' (this build reads llama, qwen2, qwen3, gemma2, gemma3, phi3 and t5)",
			    (int)(n > 64 ? 64 : n), arch);
	m->arch = (enum pb_arch)a;
	memcpy(r->arch, arch, (size_t)n);
	r->arch[n] = '\0';
	const char *name = gguf_key_str(r, "general.name", &n);
	if (name)
		snprintf(m->name, sizeof m->name, "%.*s", (int)(n > 127 ? 127 : n), name);
	else
		snprintf(m->name, sizeof m->name, "%s", strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path);
	return 0;
}

/* What llama and t5 share: widths, heads, epsilon. */
static int load_common(struct gguf_reader *r, struct pb_hparams *hp, double eps_def)
{
	int rc;
	/* head counts may be per-layer arrays with 0 for a layer whose
	 * attention was pruned away; the largest must still be >= 1 */
	if ((rc = gguf_key_int(r, ".embedding_length", 1, 0, 1, 1 << 20, &hp->dim)) < 0 ||
	    (rc = gguf_key_int(r, ".feed_forward_length", 1, 0, 0, 1 << 24, &hp->ffn_dim)) < 0 ||
	    (rc = gguf_key_int(r, ".attention.head_count", 1, 0, 0, 1 << 16, &hp->n_heads)) < 0 ||
	    (rc = gguf_key_int(r, ".attention.head_count_kv", 0, hp->n_heads, 0, 1 << 16,
				&hp->n_kv_heads)) < 0)
		return rc;
	if (hp->n_heads < 1 || hp->n_kv_heads < 1)
		return gguf_fail(r, kv_at(r, ".attention.head_count"),
				 "head_count and head_count_kv must be at least 1");
	if (!gguf_find_kv(r, ".attention.key_length") && hp->dim % hp->n_heads)
		return gguf_fail(r, kv_at(r, ".attention.head_count"),
				 "embedding_length %d is not a multiple of head_count %d", hp->dim, hp->n_heads);
	if ((rc = gguf_key_int(r, ".attention.key_length", 0, hp->dim / hp->n_heads, 1, 1 << 16,
				&hp->head_dim)) < 0 ||
	    (rc = gguf_key_float(r, ".attention.layer_norm_rms_epsilon", eps_def, 0, 1, &hp->norm_eps)) < 0)
		return rc;
	/* per-layer arrays are checked layer by layer by the session */
	if (!is_array(r, ".attention.head_count") && !is_array(r, ".attention.head_count_kv") &&
	    hp->n_heads % hp->n_kv_heads)
		return gguf_fail(r, kv_at(r, ".attention.head_count_kv"),
				 "head_count %d is not a multiple of head_count_kv %d", hp->n_heads, hp->n_kv_heads);
	return 0;
}

/* llama, qwen2, qwen3, gemma2, gemma3: the keys llama-model.cpp reads for them.  RoPE
 * scaling other than llama3's (a rope_freqs tensor, no key) and partial
 * rotary dimensions are refused rather than run wrong. */
static int load_decoder_hparams(struct gguf_reader *r, enum pb_arch arch, struct pb_hparams *hp)
{
	uint64_t n = 0;
	int rc, n_rot = 0;
	if ((rc = load_common(r, hp, 1e-5)) < 0 ||
	    (rc = gguf_key_int(r, ".block_count", 1, 0, 1, 1 << 16, &hp->n_layers)) < 0 ||
	    (rc = gguf_key_int(r, ".context_length", 1, 0, 1, 1 << 24, &hp->ctx)) < 0 ||
	    (rc = gguf_key_float(r, ".rope.freq_base", 10000.0, 1e-3, 1e12, &hp->rope_theta)) < 0 ||
	    (rc = gguf_key_int(r, ".rope.dimension_count", 0, hp->head_dim, 1, 1 << 16, &n_rot)) < 0)
		return rc;
	if (hp->head_dim % 2)
		return gguf_fail(r, kv_at(r, ".attention.key_length"),
				 "head dimension %d is odd (RoPE rotates pairs)", hp->head_dim);
	if (n_rot != hp->head_dim)
		return gguf_fail(r, kv_at(r, ".rope.dimension_count"),
				 "rope.dimension_count %d: only RoPE over the whole head (%d) is supported",
				 n_rot, hp->head_dim);
	char key[64];
	pb_sayf(key, sizeof key, "%s.rope.scaling.type", r->arch);
	const char *type = gguf_key_str(r, key, &n);
	if (type && !(n == 4 && !memcmp(type, "none", 4)))
		return gguf_fail(r, kv_at(r, key), "%s '%.*s' is not supported (plain RoPE, or llama3's rope_freqs)",
				 key, (int)(n > 32 ? 32 : n), type);
	/* llama.cpp's llama permutes q/k rows so that RoPE rotates adjacent
	 * pairs; qwen2/qwen3 keep Hugging Face's rows and rotate halves */
	hp->rope_layout = pb_arch_rope_layout(arch);
	hp->ffn_act = arch == PB_ARCH_GEMMA2 || arch == PB_ARCH_GEMMA3 ? PB_ACT_GELU : PB_ACT_SILU;
	hp->ffn_gated = 1;
	return 0;
}

/* gemma2, gemma3: what llama-model.cpp reads for them, with its defaults
 * (Gemma 2: window 4096, soft-caps 50 and 30; Gemma 3: no caps, its
 * sliding layers' RoPE base 10000) and its attention scale: 1/√head_dim
 * but for the 27B models (46 and 62 blocks), 1/√(dim/heads).  A
 * prunebench <arch>.attention.scale key overrides that inference. */
static int load_gemma_params(struct gguf_reader *r, struct pb_model *m)
{
	const struct pb_hparams *hp = &m->hp;
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	const int g2 = m->arch == PB_ARCH_GEMMA2;
	int rc;
	if ((rc = gguf_key_int(r, ".attention.sliding_window", 0, g2 ? 4096 : 0, 0, 1 << 24,
				&ap->sliding_window)) < 0 ||
	    (g2 && (rc = gguf_key_float(r, ".attn_logit_softcapping", 50.0, 0, 1e6, &ap->attn_softcap)) < 0) ||
	    (rc = gguf_key_float(r, ".final_logit_softcapping", g2 ? 30.0 : 0.0, 0, 1e6, &ap->final_softcap)) < 0 ||
	    (!g2 && (rc = gguf_key_float(r, ".rope.freq_base_swa", 10000.0, 1e-3, 1e12, &ap->rope_theta_swa)) < 0))
		return rc;
	return gguf_key_float(r, ".attention.scale", pb_arch_default_attn_scale(m->arch, hp), 1e-9, 1e9,
			      &ap->attn_scale);
}

/* phi3: longrope's original context (llama.cpp's n_ctx_orig_yarn: the
 * context_length when absent) and attention factor (1 when absent).
 * attention.sliding_window is read by llama.cpp and then disabled (its
 * phi3 runs every layer over the whole context): so here, where it is
 * kept only to be written again (no phi3 block slides,
 * pb_arch_layer_slides). */
static int load_phi3_params(struct gguf_reader *r, struct pb_model *m)
{
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	int rc;
	if ((rc = gguf_key_int(r, ".rope.scaling.original_context_length", 0, m->hp.ctx, 1, 1 << 24,
				&ap->rope_orig_ctx)) < 0 ||
	    (rc = gguf_key_int(r, ".attention.sliding_window", 0, 0, 0, 1 << 30, &ap->sliding_window)) < 0)
		return rc;
	return gguf_key_float(r, ".rope.scaling.attn_factor", 1.0, 1e-6, 1e6, &ap->rope_attn_factor);
}

/* llama.cpp's t5: block_count counts encoder blocks, decoder_block_count
 * (newer files) the decoder's; the relative position max distance is
 * fixed at 128 there. */
static int load_t5_hparams(struct gguf_reader *r, struct pb_hparams *hp)
{
	int rc;
	if ((rc = gguf_key_int(r, ".block_count", 1, 0, 1, 1 << 16, &hp->n_enc_layers)) < 0 ||
	    (rc = gguf_key_int(r, ".decoder_block_count", 0, hp->n_enc_layers, 1, 1 << 16,
				&hp->n_layers)) < 0 ||
	    (rc = gguf_key_int(r, ".context_length", 0, 512, 1, 1 << 24, &hp->ctx)) < 0 ||
	    (rc = load_common(r, hp, 1e-6)) < 0 ||
	    (rc = gguf_key_int(r, ".attention.relative_buckets_count", 1, 0, 1, 1 << 16,
				&hp->rel_buckets)) < 0 ||
	    (rc = gguf_key_int(r, "." PB_GGUF_KEY_REL_MAX_DISTANCE, 0, 128, 1, 1 << 24,
				&hp->rel_max_distance)) < 0)
		return rc;
	hp->rope_layout = PB_ROPE_INTERLEAVED;   /* T5 has no RoPE: theta stays 0 */
	return 0;
}

/* "tokenizer.ggml.<what>_token_id" into *id (-1 when absent). */
static int token_id(struct gguf_reader *r, const char *what, int n, int *id)
{
	char key[64];
	pb_sayf(key, sizeof key, "tokenizer.ggml.%s_token_id", what);
	return gguf_key_int(r, key, 0, -1, -1, n - 1, id);
}

static const struct gguf_kv *array_key(struct gguf_reader *r, const char *key, uint32_t t1,
				       uint32_t t2, uint64_t n, int *rc)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	*rc = 0;
	if (kv && (kv->type != GGUF_ARRAY || (kv->arr_type != t1 && kv->arr_type != t2) ||
		   (n && kv->arr_n != n)))
		*rc = gguf_fail(r, kv->at, "%s: expected an array of %llu %s", key,
				(unsigned long long)n,
				t1 == GGUF_STRING ? "strings" : t1 == GGUF_FLOAT32 ? "float32 values" : "int32 values");
	return kv;
}

/* NUL-terminated copies of an array of strings. */
static char **copy_strings(const struct gguf_reader *r, const struct gguf_kv *kv)
{
	char **s = calloc((size_t)kv->arr_n + 1, sizeof *s);
	size_t pos = kv->val;
	for (uint64_t i = 0; s && i < kv->arr_n; i++) {
		uint64_t len;
		const char *p = gguf_str_at(r, &pos, &len);
		if (!(s[i] = strndup(p, (size_t)len))) {
			for (uint64_t j = 0; j < i; j++)
				free(s[j]);
			free(s);
			return NULL;
		}
	}
	return s;
}

static void free_strings(char **s, uint64_t n)
{
	for (uint64_t i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

int gguf_vocab_read(struct gguf_reader *r, struct pb_tokenizer **out, int ids[4])
{
	struct pb_vocab_spec v = { .bos_id = -1, .eos_id = -1, .unk_id = -1, .pad_id = -1 };
	char model[32] = "llama", pre[64] = "", msg[512];
	const struct gguf_kv *tk = gguf_find_kv(r, "tokenizer.ggml.tokens");
	char **tokens = NULL, **merges = NULL;
	float *scores = NULL;
	int32_t *types = NULL;
	uint64_t n = 0;
	int rc;
	if (!tk)
		return pb_errf(r->err, r->errlen, -EINVAL, "%s: missing metadata key 'tokenizer.ggml.tokens'",
			       r->path);
	if (tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING || !tk->arr_n || tk->arr_n > (1 << 24))
		return gguf_fail(r, tk->at, "tokenizer.ggml.tokens: expected a non-empty array of strings");
	int nt = (int)tk->arr_n;
	const struct gguf_kv *sc = array_key(r, "tokenizer.ggml.scores", GGUF_FLOAT32, GGUF_FLOAT32, tk->arr_n, &rc);
	if (rc < 0)
		return rc;
	const struct gguf_kv *ty = array_key(r, "tokenizer.ggml.token_type", GGUF_INT32, GGUF_UINT32, tk->arr_n, &rc);
	if (rc < 0)
		return rc;
	const struct gguf_kv *mg = array_key(r, "tokenizer.ggml.merges", GGUF_STRING, GGUF_STRING, 0, &rc);
	if (rc < 0)
		return rc;
	if (mg && mg->arr_n > (1 << 24))
		return gguf_fail(r, mg->at, "tokenizer.ggml.merges: %llu merges is too many",
				 (unsigned long long)mg->arr_n);
	const char *s = gguf_key_str(r, "tokenizer.ggml.model", &n);
	if (s) {
		if (n >= sizeof model)
			return gguf_fail(r, kv_at(r, "tokenizer.ggml.model"), "tokenizer.ggml.model is too long");
		memcpy(model, s, (size_t)n);
		model[n] = '\0';
	}
	if ((s = gguf_key_str(r, "tokenizer.ggml.pre", &n))) {
		if (n >= sizeof pre)
			return gguf_fail(r, kv_at(r, "tokenizer.ggml.pre"), "tokenizer.ggml.pre is too long");
		memcpy(pre, s, (size_t)n);
		pre[n] = '\0';
		v.pre = pre;
	}
	if (r->tok_pre) {   /* forced: known by name, and only BPE vocabularies have one */
		if (!pb_tokenizer_pre_known(r->tok_pre))
			return pb_errf(r->err, r->errlen, -ENOTSUP, "%s: forced pre-tokenizer '%s' is not known (known: %s)",
				       r->path, r->tok_pre, pb_tokenizer_pre_names());
		if (strcmp(model, "gpt2"))
			pb_log(PB_LOG_WARN, "%s: a '%s' vocabulary has no pre-tokenizer: '%s' is ignored", r->path,
			       model, r->tok_pre);
		v.pre = r->tok_pre;
	}
	/* llama.cpp lets the whitespace after Phi-3's special pieces go */
	const char *name = gguf_key_str(r, "general.name", &n);
	for (uint64_t i = 0; name && i + 4 <= n && !v.rstrip_special; i++)
		v.rstrip_special = !strncasecmp(name + i, "phi3", 4) || (i + 5 <= n && !strncasecmp(name + i, "phi-3", 5));
	v.model = model;
	v.n_tokens = nt;
	v.byte_level = !strcmp(model, "gpt2");
	if ((rc = token_id(r, "bos", nt, &v.bos_id)) < 0 || (rc = token_id(r, "eos", nt, &v.eos_id)) < 0 ||
	    (rc = token_id(r, "unknown", nt, &v.unk_id)) < 0 ||
	    (rc = token_id(r, "padding", nt, &v.pad_id)) < 0 ||
	    (rc = gguf_key_bool(r, "tokenizer.ggml.add_bos_token", -1, &v.add_bos)) < 0 ||
	    (rc = gguf_key_bool(r, "tokenizer.ggml.add_space_prefix", -1, &v.add_space_prefix)) < 0)
		return rc;
	/* gguf_key_bool folds "absent" into 0/1: put the defaults back */
	if (!gguf_find_kv(r, "tokenizer.ggml.add_bos_token"))
		v.add_bos = -1;
	if (!gguf_find_kv(r, "tokenizer.ggml.add_space_prefix"))
		v.add_space_prefix = -1;
	rc = -ENOMEM;
	tokens = copy_strings(r, tk);
	merges = mg ? copy_strings(r, mg) : NULL;
	scores = sc ? malloc((size_t)nt * sizeof *scores) : NULL;
	types = ty ? malloc((size_t)nt * sizeof *types) : NULL;
	if (!tokens || (mg && !merges) || (sc && !scores) || (ty && !types)) {
		pb_sayf(r->err, r->errlen, "%s: out of memory reading the vocabulary", r->path);
		goto out;
	}
	if (sc)
		memcpy(scores, r->p + sc->val, (size_t)nt * 4);
	if (ty)
		memcpy(types, r->p + ty->val, (size_t)nt * 4);
	v.tokens = (const char *const *)tokens;
	v.scores = scores;
	v.types = types;
	v.merges = (const char *const *)merges;
	v.n_merges = mg ? (int)mg->arr_n : 0;
	msg[0] = '\0';
	rc = pb_tokenizer_from_vocab(&v, out, msg, sizeof msg);
	if (rc < 0) {
		size_t pre_at = kv_at(r, "tokenizer.ggml.pre");
		if (rc == -ENOTSUP && !r->tok_pre && pre_at)   /* point at the key that named it */
			pb_sayf(r->err, r->errlen, "%s: offset %zu: tokenizer.ggml.pre: %s", r->path, pre_at, msg);
		else
			pb_sayf(r->err, r->errlen, "%s: offset %zu: vocabulary: %s", r->path, tk->at,
				msg[0] ? msg : strerror(-rc));
		goto out;
	}
	ids[0] = v.bos_id;
	ids[1] = v.eos_id;
	ids[2] = v.unk_id;
	ids[3] = v.pad_id;
out:
	free_strings(tokens, tk->arr_n);
	free_strings(merges, mg ? mg->arr_n : 0);
	free(scores);
	free(types);
	return rc;
}

static int load_vocab(struct gguf_reader *r, struct pb_model *m)
{
	struct pb_model_core *core = m->core;
	int ids[4];
	int rc = gguf_vocab_read(r, &core->tok, ids);
	if (rc < 0)
		return rc;
	m->hp.vocab = pb_tokenizer_vocab(core->tok);
	m->hp.bos_id = ids[0];
	m->hp.eos_id = ids[1];
	m->hp.unk_id = ids[2];
	m->hp.pad_id = ids[3];
	return 0;
}

/* Roles, block numbers and the shapes the rest of the core relies on. */
static int check_tensors(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti)
{
	struct pb_hparams *hp = &m->hp;
	int embd = -1, output = -1;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		pb_tensor_classify_arch(t, m->arch);
		int nl = t->stack == PB_STACK_ENCODER ? hp->n_enc_layers : hp->n_layers;
		if (t->layer >= nl)
			return gguf_fail(r, ti[i].at, "tensor '%s': block %d, but the %s has %d blocks",
				    t->name, t->layer, t->stack == PB_STACK_ENCODER ? "encoder" : "model", nl);
		if (t->role == PB_ROLE_TOK_EMBD)
			embd = i;
		if (t->role == PB_ROLE_OUTPUT)
			output = i;
		if (t->role == PB_ROLE_FFN_GATE)
			hp->ffn_gated = 1;
	}
	if (embd < 0)
		return pb_errf(r->err, r->errlen, -EINVAL, "%s: missing tensor 'token_embd.weight'", r->path);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		char why[160];
		if (pb_tensor_shape_check(t, hp, why, sizeof why) < 0)
			return gguf_fail(r, ti[i].dims_at, "tensor '%s': %s", t->name, why);
	}
	if (m->arch == PB_ARCH_PHI3) {
		char why[256] = "";
		int rc = pb_model_split_fused(m, 1, why, sizeof why);
		if (rc < 0)
			return pb_errf(r->err, r->errlen, rc, "%s: %s", r->path, why);
		const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
		embd = (int)(e - m->tensors);
	}
	if (m->arch == PB_ARCH_T5) {
		hp->ffn_act = hp->ffn_gated ? PB_ACT_GELU : PB_ACT_RELU;
		/* llama.cpp's t5 ties a missing output to the embedding without
		 * HF's d_model^-0.5; we keep HF's logits (the argmax is the same) */
		if (gguf_find_arch_kv(r, PB_GGUF_KEY_LOGIT_SCALE)) {
			int rc = gguf_key_float(r, "." PB_GGUF_KEY_LOGIT_SCALE, 1.0, 1e-9, 1e9, &hp->logit_scale);
			if (rc < 0)
				return rc;
		} else {
			hp->logit_scale = output < 0 ? 1.0f / sqrtf((float)hp->dim) : 0.0f;   /* 0: 1 */
		}
	} else if (gguf_find_arch_kv(r, PB_GGUF_KEY_LOGIT_SCALE)) {
		int rc = gguf_key_float(r, "." PB_GGUF_KEY_LOGIT_SCALE, 1.0, 1e-9, 1e9, &hp->logit_scale);
		if (rc < 0)
			return rc;
	}
	if (output < 0)
		pb_model_tie_output(m, embd);
	return 0;
}

int gguf_arch_load(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti,
		   const char *tok_path)
{
	struct pb_model_core *core = m->core;
	int rc;
	if ((rc = load_arch(r, m)) < 0)
		return rc;
	rc = m->arch == PB_ARCH_T5 ? load_t5_hparams(r, &m->hp) : load_decoder_hparams(r, m->arch, &m->hp);
	if (rc == 0 && (m->arch == PB_ARCH_GEMMA2 || m->arch == PB_ARCH_GEMMA3))
		rc = load_gemma_params(r, m);
	if (rc == 0 && m->arch == PB_ARCH_PHI3)
		rc = load_phi3_params(r, m);
	if (rc < 0)
		return rc;
	if (!tok_path) {
		if ((rc = load_vocab(r, m)) < 0)
			return rc;
	} else {
		/* the embedding says how many tokens the model has */
		for (int i = 0; i < m->n_tensors; i++)
			if (!strcmp(m->tensors[i].name, "token_embd.weight"))
				m->hp.vocab = (int)m->tensors[i].ne[1];
		if (m->hp.vocab <= 0)
			return pb_errf(r->err, r->errlen, -EINVAL, "%s: missing tensor 'token_embd.weight'", r->path);
		if ((rc = pb_tokenizer_file_load(tok_path, m->hp.vocab, &core->tok, r->err, r->errlen)) < 0)
			return rc;
		if (pb_tokenizer_vocab(core->tok) > m->hp.vocab)
			return pb_errf(r->err, r->errlen, -EINVAL, "%s: tokenizer has %d tokens, the model's embedding %d",
				       tok_path, pb_tokenizer_vocab(core->tok), m->hp.vocab);
		m->hp.bos_id = pb_tokenizer_bos(core->tok);
		m->hp.eos_id = pb_tokenizer_eos(core->tok);
	}
	if (m->arch == PB_ARCH_T5) {
		int pad = m->hp.pad_id >= 0 ? m->hp.pad_id : 0;
		if ((rc = gguf_key_int(r, ".decoder_start_token_id", 0, pad, 0, m->hp.vocab - 1,
				       &m->hp.decoder_start_id)) < 0)
			return rc;
	}
	if ((rc = check_tensors(r, m, ti)) < 0)
		return rc;
	return pb_model_small_f32(m) < 0 ? pb_errf(r->err, r->errlen, -ENOMEM, "%s: out of memory", r->path) : 0;
}

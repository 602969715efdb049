/* core/model/gguf-llama.c — what a GGUF "llama" model means: its
 * hyper-parameters (llama.* keys), its vocabulary (tokenizer.ggml.*), and
 * the roles and shapes of its tensors, including the tied output
 * projection when output.weight is absent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf-reader.h"
#include "model/gguf.h"
#include "model/model-internal.h"
#include "text/text.h"

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

static int load_hparams(struct gguf_reader *r, struct pb_model *m)
{
	struct pb_hparams *hp = &m->hp;
	uint64_t n = 0;
	int rc;
	const char *arch = gguf_key_str(r, "general.architecture", &n);
	if (!arch) {
		snprintf(r->err, r->errlen, "%s: missing metadata key 'general.architecture'", r->path);
		return -EINVAL;
	}
	if (n != 5 || memcmp(arch, "llama", 5))
		return gguf_fail(r, kv_at(r, "general.architecture"),
			    "unsupported architecture '%.*s' (this build reads llama)",
			    (int)(n > 64 ? 64 : n), arch);
	m->arch = PB_ARCH_LLAMA;
	/* head counts may be per-layer arrays with 0 for a layer whose
	 * attention was pruned away; the largest must still be >= 1 */
	if ((rc = gguf_key_int(r, "llama.embedding_length", 1, 0, 1, 1 << 20, &hp->dim)) < 0 ||
	    (rc = gguf_key_int(r, "llama.block_count", 1, 0, 1, 1 << 16, &hp->n_layers)) < 0 ||
	    (rc = gguf_key_int(r, "llama.feed_forward_length", 1, 0, 0, 1 << 24, &hp->ffn_dim)) < 0 ||
	    (rc = gguf_key_int(r, "llama.attention.head_count", 1, 0, 0, 1 << 16, &hp->n_heads)) < 0 ||
	    (rc = gguf_key_int(r, "llama.attention.head_count_kv", 0, hp->n_heads, 0, 1 << 16,
				&hp->n_kv_heads)) < 0 ||
	    (rc = gguf_key_int(r, "llama.context_length", 1, 0, 1, 1 << 24, &hp->ctx)) < 0)
		return rc;
	if (hp->n_heads < 1 || hp->n_kv_heads < 1)
		return gguf_fail(r, kv_at(r, "llama.attention.head_count"),
				 "head_count and head_count_kv must be at least 1");
	const struct gguf_kv *kl = gguf_find_kv(r, "llama.attention.key_length");
	if (!kl && hp->dim % hp->n_heads)
		return gguf_fail(r, kv_at(r, "llama.attention.head_count"),
				 "embedding_length %d is not a multiple of head_count %d", hp->dim, hp->n_heads);
	if ((rc = gguf_key_int(r, "llama.attention.key_length", 0, hp->dim / hp->n_heads, 2, 1 << 16,
				&hp->head_dim)) < 0 ||
	    (rc = gguf_key_float(r, "llama.attention.layer_norm_rms_epsilon", 1e-5, 0, 1, &hp->norm_eps)) < 0 ||
	    (rc = gguf_key_float(r, "llama.rope.freq_base", 10000.0, 1e-3, 1e12, &hp->rope_theta)) < 0)
		return rc;
	if (hp->head_dim % 2)
		return gguf_fail(r, kv_at(r, "llama.attention.key_length"),
				 "head dimension %d is odd (RoPE rotates pairs)", hp->head_dim);
	/* per-layer arrays are checked layer by layer by the session */
	if (!is_array(r, "llama.attention.head_count") && !is_array(r, "llama.attention.head_count_kv") &&
	    hp->n_heads % hp->n_kv_heads)
		return gguf_fail(r, kv_at(r, "llama.attention.head_count_kv"),
				 "head_count %d is not a multiple of head_count_kv %d", hp->n_heads, hp->n_kv_heads);
	/* GGUF's llama permutes q/k rows so that RoPE rotates adjacent pairs */
	hp->rope_layout = PB_ROPE_INTERLEAVED;
	const char *name = gguf_key_str(r, "general.name", &n);
	if (name)
		snprintf(m->name, sizeof m->name, "%.*s", (int)(n > 127 ? 127 : n), name);
	else
		snprintf(m->name, sizeof m->name, "%s", strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path);
	return 0;
}

static int load_tokenizer(struct gguf_reader *r, struct pb_model *m)
{
	const struct gguf_kv *tk = gguf_find_kv(r, "tokenizer.ggml.tokens");
	const struct gguf_kv *sc = gguf_find_kv(r, "tokenizer.ggml.scores");
	const struct gguf_kv *ty = gguf_find_kv(r, "tokenizer.ggml.token_type");
	struct pb_model_core *core = m->core;
	int rc = -ENOMEM, bos = -1, eos = -1;
	if (!tk) {
		snprintf(r->err, r->errlen, "%s: missing metadata key 'tokenizer.ggml.tokens'", r->path);
		return -EINVAL;
	}
	if (tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING || !tk->arr_n || tk->arr_n > (1 << 24))
		return gguf_fail(r, tk->at, "tokenizer.ggml.tokens: expected a non-empty array of strings");
	int n = (int)tk->arr_n;
	if (sc && (sc->type != GGUF_ARRAY || sc->arr_type != GGUF_FLOAT32 || sc->arr_n != tk->arr_n))
		return gguf_fail(r, sc->at, "tokenizer.ggml.scores: expected %d float32 values", n);
	if (ty && (ty->type != GGUF_ARRAY || (ty->arr_type != GGUF_INT32 && ty->arr_type != GGUF_UINT32) ||
		   ty->arr_n != tk->arr_n))
		return gguf_fail(r, ty->at, "tokenizer.ggml.token_type: expected %d int32 values", n);
	if ((rc = gguf_key_int(r, "tokenizer.ggml.bos_token_id", 0, -1, -1, n - 1, &bos)) < 0 ||
	    (rc = gguf_key_int(r, "tokenizer.ggml.eos_token_id", 0, -1, -1, n - 1, &eos)) < 0)
		return rc;
	rc = -ENOMEM;
	/* the pieces are not NUL-terminated in the file: copy them out */
	char **pieces = calloc((size_t)n, sizeof *pieces);
	float *scores = sc ? malloc((size_t)n * sizeof *scores) : NULL;
	int32_t *types = ty ? malloc((size_t)n * sizeof *types) : NULL;
	if (!pieces || (sc && !scores) || (ty && !types))
		goto out;
	size_t pos = tk->val;
	for (int i = 0; i < n; i++) {
		uint64_t len;
		memcpy(&len, r->p + pos, 8);   /* checked by skip_value */
		pieces[i] = strndup((const char *)r->p + pos + 8, (size_t)len);
		if (!pieces[i])
			goto out;
		pos += 8 + (size_t)len;
	}
	if (sc)
		memcpy(scores, r->p + sc->val, (size_t)n * 4);
	if (ty)
		memcpy(types, r->p + ty->val, (size_t)n * 4);
	rc = pb_tokenizer_new((const char *const *)pieces, scores, n, bos, eos, &core->tok);
	if (rc == 0 && types)
		pb_tokenizer_set_types(core->tok, types);
	m->hp.vocab = n;
	m->hp.bos_id = bos;
	m->hp.eos_id = eos;
out:
	for (int i = 0; pieces && i < n; i++)
		free(pieces[i]);
	free(pieces);
	free(scores);
	free(types);
	if (rc == -ENOMEM)
		snprintf(r->err, r->errlen, "%s: out of memory reading the vocabulary", r->path);
	return rc;
}

/* Roles, block numbers and the shapes the rest of the core relies on. */
static int check_tensors(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti)
{
	const struct pb_hparams *hp = &m->hp;
	int embd = -1, output = -1;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		pb_tensor_classify(t);
		if (t->layer >= hp->n_layers)
			return gguf_fail(r, ti[i].at, "tensor '%s': block %d, but block_count is %d",
				    t->name, t->layer, hp->n_layers);
		if (t->role == PB_ROLE_TOK_EMBD)
			embd = i;
		if (t->role == PB_ROLE_OUTPUT)
			output = i;
	}
	if (embd < 0) {
		snprintf(r->err, r->errlen, "%s: missing tensor 'token_embd.weight'", r->path);
		return -EINVAL;
	}
	for (int k = 0; k < 2; k++) {
		int i = k ? output : embd;
		if (i < 0)
			continue;
		const struct pb_tensor *t = &m->tensors[i];
		if (t->n_dims != 2 || t->ne[0] != hp->dim || t->ne[1] != hp->vocab)
			return gguf_fail(r, ti[i].dims_at, "tensor '%s': shape [%lld, %lld], expected [%d, %d] (embedding_length, vocabulary)",
				    t->name, (long long)t->ne[0], (long long)t->ne[1], hp->dim, hp->vocab);
	}
	if (output < 0) {
		/* tied embeddings: the output projection shares token_embd's data */
		struct pb_tensor *o = &m->tensors[m->n_tensors++];
		*o = m->tensors[embd];
		snprintf(o->name, sizeof o->name, "output.weight");
		o->role = PB_ROLE_OUTPUT;
		o->layer = -1;
		o->flags = 0;
	}
	return 0;
}

int gguf_llama_load(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti)
{
	int rc;
	if ((rc = load_hparams(r, m)) < 0 || (rc = load_tokenizer(r, m)) < 0)
		return rc;
	return check_tensors(r, m, ti);
}

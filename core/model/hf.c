/* core/model/hf.c — Hugging Face model folders: config.json,
 * model.safetensors (or model.safetensors.index.json and its shards) and
 * tokenizer.json, for the architectures hf-arch.c knows (Llama, Qwen2,
 * Qwen3, Gemma 2/3, Phi-3, T5).
 *
 * Tensors keep their stored format (F32, F16, BF16) and point into the
 * private mappings; they get llama.cpp's GGUF names, so a converted file
 * and the folder describe the same model.  What changes on load:
 *  - Llama q/k rows are permuted per head from HF's rotate-half RoPE layout
 *    to the interleaved one, exactly as llama.cpp's convert_hf_to_gguf.py
 *    `permute` does, so a llama downstream is PB_ROPE_INTERLEAVED (Qwen
 *    keeps its rows: llama.cpp runs it with rotate-half RoPE);
 *  - llama3 RoPE scaling becomes a rope_freqs tensor, as the converter
 *    writes it; Gemma's norm weights w become 1 + w, as it stores them;
 *  - Phi-3's longrope factor lists become rope_factors_short/long
 *    tensors (float32, as the converter writes them), and its fused
 *    qkv_proj / gate_up_proj are split into views (fused.c);
 *  - tied embeddings (lm_head or embed_tokens missing, or
 *    tie_word_embeddings) become one embedding and a tied output; T5 then
 *    scales the decoder output by d_model^-0.5, as HF does.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/hf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "model/safetensors.h"
#include "text/text.h"
#include "util/util.h"

/* ---- config.json ---- */

int hf_cfg_int(struct hf *h, const char *key, int required, int64_t def, int64_t lo, int64_t hi,
	       int *out)
{
	json_t *v = json_object_get(h->cfg, key);
	int64_t x = def;
	if (!v || json_is_null(v)) {
		if (required)
			return pb_errf(h->err, h->len, -EINVAL, "%s: missing key '%s'", h->cfg_path, key);
	} else if (json_is_array(v) && json_array_size(v) && json_is_integer(json_array_get(v, 0))) {
		x = json_integer_value(json_array_get(v, 0));   /* eos_token_id: [2, 32000] */
	} else if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else {
		return pb_errf(h->err, h->len, -EINVAL, "%s: key '%s': expected an integer", h->cfg_path, key);
	}
	if (x < lo || x > hi)
		return pb_errf(h->err, h->len, -EINVAL, "%s: key '%s': %lld is out of range %lld..%lld",
			       h->cfg_path, key, (long long)x, (long long)lo, (long long)hi);
	*out = (int)x;
	return 0;
}

int hf_cfg_float(struct hf *h, const char *key, double def, double lo, double hi, float *out)
{
	json_t *v = json_object_get(h->cfg, key);
	double x = def;
	if (v && !json_is_null(v)) {
		if (!json_is_number(v))
			return pb_errf(h->err, h->len, -EINVAL, "%s: key '%s': expected a number", h->cfg_path, key);
		x = json_number_value(v);
	}
	if (!(x >= lo && x <= hi))
		return pb_errf(h->err, h->len, -EINVAL, "%s: key '%s': %g is out of range %g..%g",
			       h->cfg_path, key, x, lo, hi);
	*out = (float)x;
	return 0;
}

int hf_cfg_bool(struct hf *h, const char *key, int def, int *out)
{
	json_t *v = json_object_get(h->cfg, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return pb_errf(h->err, h->len, -EINVAL, "%s: key '%s': expected true or false", h->cfg_path, key);
	*out = json_is_true(v);
	return 0;
}

const char *hf_cfg_str(struct hf *h, const char *key)
{
	json_t *v = json_object_get(h->cfg, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int hf_fail_tensor(struct hf *h, const struct hf_src *s, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pb_sayf(h->err, h->len, "%s: offset %zu: tensor '%s': %s", s->file->path, s->t->at, s->t->name, msg);
	return -EINVAL;
}

/* ---- weights: one file or shards ---- */

/* Present, as anything: a folder or FIFO named model.safetensors is then
 * opened and refused with the reason, not reported missing. */
static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int open_shards(struct hf *h, const char *index)
{
	json_error_t jerr;
	json_t *root = pb_json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
	char path[4096];
	int rc = 0;
	if (!root && jerr.line < 1)
		return pb_errf(h->err, h->len, -EINVAL, "%s: %s", index, jerr.text);
	if (!root)
		return pb_errf(h->err, h->len, -EINVAL, "%s:%d:%d: %s", index, jerr.line, jerr.column, jerr.text);
	json_t *map = json_object_get(root, "weight_map");
	if (!json_is_object(map) || !json_object_size(map)) {
		rc = pb_errf(h->err, h->len, -EINVAL, "%s: expected a non-empty object 'weight_map'", index);
		goto out;
	}
	/* the distinct shard names, in first-seen order */
	const char **names = calloc(json_object_size(map), sizeof *names);
	h->files = calloc(json_object_size(map), sizeof *h->files);
	if (!names || !h->files) {
		free(names);
		rc = pb_errf(h->err, h->len, -ENOMEM, "%s: out of memory", index);
		goto out;
	}
	int n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(map, key, v) {
		const char *f = json_string_value(v);
		if (!f || !f[0] || strchr(f, '/')) {
			rc = pb_errf(h->err, h->len, -EINVAL, "%s: weight_map['%s']: expected a file name in the folder",
				     index, key);
			break;
		}
		int k = 0;
		while (k < n && strcmp(names[k], f))
			k++;
		if (k == n)
			names[n++] = f;
	}
	for (int k = 0; rc == 0 && k < n; k++) {
		if (pb_path_join(path, sizeof path, h->dir, names[k]) < 0) {
			rc = pb_errf(h->err, h->len, -ENAMETOOLONG, "%s: path too long", h->dir);
			break;
		}
		if ((rc = pb_st_open(path, &h->files[k], h->err, h->len)) == 0)
			h->n_files++;
	}
	/* every tensor the index names must be in the shard it names */
	json_object_foreach(map, key, v) {
		if (rc < 0)
			break;
		const char *f = json_string_value(v);
		for (int k = 0; k < h->n_files; k++) {
			const char *b = strrchr(h->files[k].path, '/');
			if (!strcmp(b ? b + 1 : h->files[k].path, f) && !pb_st_find(&h->files[k], key))
				rc = pb_errf(h->err, h->len, -EINVAL, "%s: tensor '%s' is not in %s, as weight_map says",
					     index, key, f);
		}
	}
	free(names);
out:
	json_decref(root);
	return rc;
}

static int open_weights(struct hf *h)
{
	char path[4096];
	if (pb_path_join(path, sizeof path, h->dir, "model.safetensors") < 0)
		return pb_errf(h->err, h->len, -ENAMETOOLONG, "%s: path too long", h->dir);
	if (exists(path)) {
		h->files = calloc(1, sizeof *h->files);
		if (!h->files)
			return -ENOMEM;
		int rc = pb_st_open(path, &h->files[0], h->err, h->len);
		h->n_files = rc == 0;
		return rc;
	}
	pb_path_join(path, sizeof path, h->dir, "model.safetensors.index.json");
	if (exists(path))
		return open_shards(h, path);
	pb_path_join(path, sizeof path, h->dir, "pytorch_model.bin");
	return pb_errf(h->err, h->len, -ENOENT, "%s: no model.safetensors or model.safetensors.index.json%s",
		       h->dir, exists(path) ? " (PyTorch .bin weights are not read; save them as safetensors)" : "");
}

/* ---- building the model ---- */

/* GGUF order: embedding, encoder blocks, encoder norm, decoder blocks,
 * decoder norm, output. */
static int64_t order_key(const struct pb_tensor *t)
{
	int64_t stack = t->stack == PB_STACK_ENCODER ? 0 : 1;
	if (t->role == PB_ROLE_ROPE_FREQS || t->role == PB_ROLE_ROPE_FACTORS_SHORT)
		return -2;   /* the converter yields its extra tensors first */
	if (t->role == PB_ROLE_ROPE_FACTORS_LONG)
		return -3;   /* Phi-3's: long, then short */
	if (t->role == PB_ROLE_TOK_EMBD)
		return -1;
	if (t->role == PB_ROLE_OUTPUT)
		return INT64_MAX;
	int64_t layer = t->layer < 0 ? (1 << 20) : t->layer;
	return (stack << 40) | (layer << 8) | t->role;
}

static int cmp_order(const void *a, const void *b)
{
	int64_t x = order_key(a), y = order_key(b);
	return x < y ? -1 : x > y;
}

/* HF's rotate-half q/k rows → interleaved: within each head, new row
 * 2i + j is old row j·(hd/2) + i (convert_hf_to_gguf.py's permute:
 * reshape(n_head, 2, hd/2, ...).swapaxes(1, 2)). */
static int permute_qk(struct pb_tensor *t, int head_dim)
{
	size_t rb = pb_row_bytes(t);
	int64_t rows = t->ne[1], half = head_dim / 2;
	uint8_t *tmp = malloc(rb * (size_t)head_dim), *p = t->data;
	if (!tmp)
		return -ENOMEM;
	for (int64_t h = 0; h < rows / head_dim; h++) {
		uint8_t *head = p + (size_t)(h * head_dim) * rb;
		memcpy(tmp, head, rb * (size_t)head_dim);
		for (int64_t i = 0; i < half; i++)
			for (int j = 0; j < 2; j++)
				memcpy(head + (size_t)(2 * i + j) * rb, tmp + (size_t)(j * half + i) * rb, rb);
	}
	free(tmp);
	return 0;
}

static int find_role(const struct pb_model *m, enum pb_role role)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].role == role)
			return i;
	return -1;
}

/* Llama 3's RoPE scaling as the rope_freqs tensor llama.cpp's converter
 * writes, appended at m->tensors[m->n_tensors]. */
static int add_rope_freqs(struct hf *h, struct pb_model *m)
{
	struct pb_tensor *t = &m->tensors[m->n_tensors];
	const int half = m->hp.head_dim / 2;
	float *f = malloc((size_t)half * sizeof *f);
	if (!f)
		return pb_errf(h->err, h->len, -ENOMEM, "%s: out of memory", h->dir);
	if (pb_rope_llama3_factors(m->hp.rope_theta, m->hp.head_dim, &h->rope3, f) < 0) {
		free(f);
		return pb_errf(h->err, h->len, -EINVAL, "%s: rope_scaling: parameters out of range", h->cfg_path);
	}
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "rope_freqs.weight");
	t->dtype = PB_F32;
	t->n_dims = 1;
	t->ne[0] = half;
	t->ne[1] = t->ne[2] = t->ne[3] = 1;
	t->data = f;
	t->nbytes = (size_t)half * sizeof *f;
	t->layer = -1;
	t->role = PB_ROLE_ROPE_FREQS;
	t->flags = PB_TENSOR_OWNED;
	t->stack = PB_STACK_DECODER;
	m->n_tensors++;
	return 0;
}

/* Phi-3's longrope factor lists as the two F32 tensors the converter
 * writes (torch.tensor(list, dtype=float32): each number rounded once),
 * appended at m->tensors[m->n_tensors]. */
static int add_longrope(struct hf *h, struct pb_model *m)
{
	json_t *lists[2] = { h->short_factor, h->long_factor };
	const enum pb_role roles[2] = { PB_ROLE_ROPE_FACTORS_SHORT, PB_ROLE_ROPE_FACTORS_LONG };
	for (int i = 0; i < 2; i++) {
		const int half = (int)json_array_size(lists[i]);
		struct pb_tensor *t = &m->tensors[m->n_tensors];
		float *f = malloc((size_t)half * sizeof *f);
		if (!f)
			return pb_errf(h->err, h->len, -ENOMEM, "%s: out of memory", h->dir);
		for (int k = 0; k < half; k++)
			f[k] = (float)json_number_value(json_array_get(lists[i], (size_t)k));
		memset(t, 0, sizeof *t);
		pb_tensor_name_arch(m->arch, PB_STACK_DECODER, -1, roles[i], t->name, sizeof t->name);
		t->dtype = PB_F32;
		t->n_dims = 1;
		t->ne[0] = half;
		t->ne[1] = t->ne[2] = t->ne[3] = 1;
		t->data = f;
		t->nbytes = (size_t)half * sizeof *f;
		t->layer = -1;
		t->role = roles[i];
		t->flags = PB_TENSOR_OWNED;
		t->stack = PB_STACK_DECODER;
		m->n_tensors++;
	}
	return 0;
}

static int build(struct hf *h, struct pb_model *m, const struct hf_arch *a, int *tiep)
{
	struct pb_hparams *hp = &m->hp;
	int n = 0, rc, has_embd = 0, has_out = 0;
	for (int f = 0; f < h->n_files; f++)
		for (int i = 0; i < h->files[f].n; i++) {
			enum pb_stack st;
			enum pb_role role;
			int layer;
			if (a->map_name(h->files[f].t[i].name, &st, &layer, &role) == 1) {
				has_embd |= role == PB_ROLE_TOK_EMBD;
				has_out |= role == PB_ROLE_OUTPUT;
			}
		}
	/* HF ties when told to; a file missing either side is tied too */
	int tie = *tiep = *tiep || !has_embd || !has_out;
	for (int f = 0; f < h->n_files; f++)
		for (int i = 0; i < h->files[f].n; i++) {
			struct hf_src s = { &h->files[f], &h->files[f].t[i] };
			struct pb_tensor *t = &m->tensors[n];
			rc = a->map_name(s.t->name, &t->stack, &t->layer, &t->role);
			if (rc == 0)
				continue;   /* a buffer HF keeps but the model does not need */
			if (rc < 0)
				return hf_fail_tensor(h, &s, "not a %s weight this build knows", a->name);
			int nl = t->stack == PB_STACK_ENCODER ? hp->n_enc_layers : hp->n_layers;
			if (t->layer >= nl)
				return hf_fail_tensor(h, &s, "block %d, but the config has %d", t->layer, nl);
			int dup = -1;
			for (int k = 0; k < n; k++)
				if (m->tensors[k].stack == t->stack && m->tensors[k].layer == t->layer &&
				    m->tensors[k].role == t->role)
					dup = k;
			if (dup >= 0 && t->role == PB_ROLE_TOK_EMBD)
				continue;   /* T5: shared, encoder.embed_tokens, decoder.embed_tokens */
			if (dup >= 0)
				return hf_fail_tensor(h, &s, "a second tensor for %s", m->tensors[dup].name);
			if (s.t->n_dims < 1 || s.t->n_dims > 2)
				return hf_fail_tensor(h, &s, "%d dimensions, expected 1 or 2", s.t->n_dims);
			t->dtype = s.t->dtype;
			t->n_dims = s.t->n_dims;
			t->ne[0] = s.t->shape[s.t->n_dims - 1];
			t->ne[1] = s.t->n_dims == 2 ? s.t->shape[0] : 1;
			t->ne[2] = t->ne[3] = 1;
			t->data = s.t->data;
			t->nbytes = s.t->nbytes;
			if (pb_tensor_name_arch(m->arch, t->stack, t->layer, t->role, t->name, sizeof t->name) < 0)
				return hf_fail_tensor(h, &s, "has no GGUF name");
			/* tied: lm_head alone stands for the embedding */
			if (t->role == PB_ROLE_OUTPUT && tie)
				t->role = PB_ROLE_TOK_EMBD;
			if (t->role == PB_ROLE_TOK_EMBD) {
				pb_tensor_name_arch(m->arch, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD, t->name, sizeof t->name);
				t->stack = PB_STACK_DECODER;
				if (t->ne[1] != hp->vocab)
					return hf_fail_tensor(h, &s, "%lld rows, but vocab_size is %d",
							      (long long)t->ne[1], hp->vocab);
			}
			char why[160];
			if (pb_tensor_shape_check(t, hp, why, sizeof why) < 0)
				return hf_fail_tensor(h, &s, "%s (GGUF order: columns, rows)", why);
			if (a->rotate_half && (t->role == PB_ROLE_ATTN_Q || t->role == PB_ROLE_ATTN_K) &&
			    (rc = permute_qk(t, hp->head_dim)) < 0)
				return pb_errf(h->err, h->len, rc, "%s: out of memory", h->dir);
			n++;
			/* a stored lm_head next to a stored embedding in a tied
			 * model: both listed, the embedding wins below */
		}
	m->n_tensors = n;
	int embd = find_role(m, PB_ROLE_TOK_EMBD);
	if (embd < 0)
		return pb_errf(h->err, h->len, -EINVAL, "%s: no token embedding among the weights", h->dir);
	/* when tied, a second "embedding" (lm_head next to embed_tokens) goes */
	for (int i = 0; i < m->n_tensors; i++)
		if (i != embd && m->tensors[i].role == PB_ROLE_TOK_EMBD) {
			m->tensors[i] = m->tensors[--m->n_tensors];
			i--;
		}
	int out = find_role(m, PB_ROLE_OUTPUT);
	if (out < 0 && !tie)
		return pb_errf(h->err, h->len, -EINVAL, "%s: tie_word_embeddings is false but there is no lm_head.weight",
			       h->dir);
	int gate = find_role(m, PB_ROLE_FFN_GATE) >= 0;
	if (m->arch == PB_ARCH_T5 && gate != hp->ffn_gated)
		return pb_errf(h->err, h->len, -EINVAL, "%s: feed_forward_proj says %s, but the weights %s DenseReluDense.wi_0",
			       h->cfg_path, hp->ffn_gated ? "gated" : "not gated", gate ? "have" : "lack");
	if (h->rope3.original_ctx > 0 && (rc = add_rope_freqs(h, m)) < 0)
		return rc;
	if (m->arch == PB_ARCH_PHI3) {
		char why[256] = "";
		/* room for the two factor tensors and a tied output */
		if ((rc = pb_model_split_fused(m, 3, why, sizeof why)) < 0)
			return pb_errf(h->err, h->len, rc, "%s: %s", h->dir, why);
		if (h->short_factor && (rc = add_longrope(h, m)) < 0)
			return rc;
	}
	qsort(m->tensors, (size_t)m->n_tensors, sizeof *m->tensors, cmp_order);
	if (out < 0)
		pb_model_tie_output(m, find_role(m, PB_ROLE_TOK_EMBD));
	/* HF's T5 scales the decoder output by d_model^-0.5 before a tied head */
	if (m->arch == PB_ARCH_T5 && tie)
		hp->logit_scale = 1.0f / sqrtf((float)hp->dim);
	return 0;
}

/* Gemma's RMSNorm scales by (1 + w): add the 1 in the stored format, as
 * convert_hf_to_gguf.py does (`data_torch + 1` on every *norm.weight,
 * rounded to the checkpoint's dtype), so the folded weights are the bits
 * llama.cpp's GGUF holds.  The data is the private mapping's (copy on
 * write) or already owned. */
static int fold_gemma_norms(struct hf *h, struct pb_model *m)
{
	if (m->arch != PB_ARCH_GEMMA2 && m->arch != PB_ARCH_GEMMA3)
		return 0;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		const enum pb_role r = t->role;
		if (r != PB_ROLE_ATTN_NORM && r != PB_ROLE_FFN_NORM && r != PB_ROLE_OUT_NORM &&
		    r != PB_ROLE_ATTN_POST_NORM && r != PB_ROLE_FFN_POST_NORM && r != PB_ROLE_ATTN_Q_NORM &&
		    r != PB_ROLE_ATTN_K_NORM)
			continue;
		const int64_t n = pb_tensor_nelements(t);
		float *f = malloc((size_t)n * sizeof *f);
		if (!f)
			return pb_errf(h->err, h->len, -ENOMEM, "%s: out of memory", h->dir);
		pb_dequantize_row(t->dtype, t->data, f, n);
		for (int64_t k = 0; k < n; k++)
			f[k] += 1.0f;
		pb_quantize_row(t->dtype, f, t->data, n);
		free(f);
	}
	return 0;
}

static int load_tokenizer(struct hf *h, struct pb_model *m, const char *tok_path)
{
	struct pb_model_core *core = m->core;
	char path[4096];
	int rc;
	if (!tok_path) {
		if (pb_path_join(path, sizeof path, h->dir, "tokenizer.json") < 0 || !exists(path))
			return pb_errf(h->err, h->len, -ENOENT,
				       "%s: no tokenizer.json (name a tokenizer file with `tokenizer:`)", h->dir);
		tok_path = path;
	}
	if ((rc = pb_tokenizer_file_load(tok_path, m->hp.vocab, &core->tok, h->err, h->len)) < 0)
		return rc;
	if (pb_tokenizer_vocab(core->tok) > m->hp.vocab)
		return pb_errf(h->err, h->len, -EINVAL, "%s: %d tokens, more than the model's vocab_size %d",
			       tok_path, pb_tokenizer_vocab(core->tok), m->hp.vocab);
	/* config.json's ids win over the tokenizer's (as transformers does) */
	if (m->hp.bos_id < 0)
		m->hp.bos_id = pb_tokenizer_bos(core->tok);
	if (m->hp.eos_id < 0)
		m->hp.eos_id = pb_tokenizer_eos(core->tok);
	if ((m->hp.bos_id != pb_tokenizer_bos(core->tok) || m->hp.eos_id != pb_tokenizer_eos(core->tok)) &&
	    (rc = pb_tokenizer_set_special(core->tok, m->hp.bos_id, m->hp.eos_id)) < 0)
		return pb_errf(h->err, h->len, rc, "%s: bos %d / eos %d do not fit the tokenizer", h->cfg_path,
			       m->hp.bos_id, m->hp.eos_id);
	return 0;
}

int pb_hf_load(const char *dir, const char *tok_path, struct pb_model **out, char *err, size_t len)
{
	struct hf h = { .dir = dir, .err = err, .len = len };
	struct pb_model *m = NULL;
	json_error_t jerr;
	int rc, tie = 0;
	if (err && len)
		err[0] = '\0';
	if (pb_path_join(h.cfg_path, sizeof h.cfg_path, dir, "config.json") < 0)
		return pb_errf(err, len, -ENAMETOOLONG, "%s: path too long", dir);
	if (!exists(h.cfg_path))
		return pb_errf(err, len, -EISDIR, "%s: a folder, but not a model folder (no config.json)", dir);
	h.cfg = pb_json_load_file(h.cfg_path, JSON_REJECT_DUPLICATES, &jerr);
	if (!h.cfg && jerr.line < 1)
		return pb_errf(err, len, -EINVAL, "%s: %s", h.cfg_path, jerr.text);
	if (!h.cfg)
		return pb_errf(err, len, -EINVAL, "%s:%d:%d: %s", h.cfg_path, jerr.line, jerr.column, jerr.text);
	const struct hf_arch *a = NULL;
	if (!json_is_object(h.cfg)) {
		rc = pb_errf(err, len, -EINVAL, "%s: expected a JSON object", h.cfg_path);
		goto fail;
	}
	if (!(a = hf_arch_find(&h))) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = open_weights(&h)) < 0)
		goto fail;
	int n_max = 3;   /* + a tied output and rope_freqs */
	for (int f = 0; f < h.n_files; f++)
		n_max += h.files[f].n;
	m = pb_model_alloc(n_max);
	if (!m) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	if ((rc = a->hparams(&h, m, &tie)) < 0 || (rc = build(&h, m, a, &tie)) < 0 ||
	    (rc = fold_gemma_norms(&h, m)) < 0 || (rc = load_tokenizer(&h, m, tok_path)) < 0)
		goto fail;
	if (pb_model_small_f32(m) < 0) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	/* the mappings now belong to the model */
	struct pb_model_core *core = m->core;
	core->maps = calloc((size_t)h.n_files, sizeof *core->maps);
	if (!core->maps) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	for (int f = 0; f < h.n_files; f++) {
		core->maps[f].p = h.files[f].map;
		core->maps[f].len = h.files[f].len;
		h.files[f].map = NULL;
	}
	core->n_maps = h.n_files;
	snprintf(core->source, sizeof core->source, "%s", dir);
	const char *base = dir + strlen(dir);
	while (base > dir && base[-1] == '/')
		base--;
	const char *start = base;
	while (start > dir && start[-1] != '/')
		start--;
	snprintf(m->name, sizeof m->name, "%.*s", (int)(base - start), start);
	*out = m;
	m = NULL;
	rc = 0;
fail:
	for (int f = 0; f < h.n_files; f++)
		pb_st_close(&h.files[f]);
	free(h.files);
	json_decref(h.cfg);
	pb_model_free(m);
	return rc;
}

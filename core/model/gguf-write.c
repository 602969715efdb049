/* core/model/gguf-write.c — the GGUF v3 writer for llama models, in the
 * layout llama.cpp's loader reads: general.* and llama.* keys (per-layer
 * head counts and FFN widths as arrays when structured pruning made layers
 * differ), the "llama" tokenizer arrays, and tensor data aligned to
 * general.alignment.  A tied output projection is not written, so the
 * file stays tied. */
#include <errno.h>
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

static int write_metadata(const struct pb_model *m, const struct pb_tokenizer *tok,
			  struct buf *b)
{
	const struct pb_hparams *hp = &m->hp;
	int n = hp->n_layers > 0 ? hp->n_layers : 1;
	int *heads = calloc((size_t)n, sizeof *heads), *kv = calloc((size_t)n, sizeof *kv);
	int *ffn = calloc((size_t)n, sizeof *ffn);
	if (!heads || !kv || !ffn) {
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
	kv_str(b, "general.architecture", "llama");
	kv_str(b, "general.name", m->name[0] ? m->name : "prunebench");
	kv_u32(b, "general.alignment", GGUF_DEFAULT_ALIGNMENT);
	kv_u32(b, "llama.context_length", (uint32_t)hp->ctx);
	kv_u32(b, "llama.embedding_length", (uint32_t)hp->dim);
	kv_u32(b, "llama.block_count", (uint32_t)hp->n_layers);
	kv_layers(b, "llama.feed_forward_length", ffn, n);
	kv_layers(b, "llama.attention.head_count", heads, n);
	kv_layers(b, "llama.attention.head_count_kv", kv, n);
	kv_u32(b, "llama.attention.key_length", (uint32_t)hp->head_dim);
	kv_u32(b, "llama.attention.value_length", (uint32_t)hp->head_dim);
	kv_u32(b, "llama.rope.dimension_count", (uint32_t)hp->head_dim);
	kv_f32(b, "llama.attention.layer_norm_rms_epsilon", hp->norm_eps);
	kv_f32(b, "llama.rope.freq_base", hp->rope_theta);
	kv_u32(b, "llama.vocab_size", (uint32_t)hp->vocab);
	free(heads);
	free(kv);
	free(ffn);

	int nv = pb_tokenizer_vocab(tok);
	kv_str(b, "tokenizer.ggml.model", "llama");
	kv_head(b, "tokenizer.ggml.tokens", GGUF_ARRAY);
	put_u32(b, GGUF_STRING);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++)
		put_str(b, pb_tokenizer_piece(tok, i));
	kv_head(b, "tokenizer.ggml.scores", GGUF_ARRAY);
	put_u32(b, GGUF_FLOAT32);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++) {
		float s = pb_tokenizer_score(tok, i);
		put(b, &s, 4);
	}
	kv_head(b, "tokenizer.ggml.token_type", GGUF_ARRAY);
	put_u32(b, GGUF_INT32);
	put_u64(b, (uint64_t)nv);
	for (int i = 0; i < nv; i++)
		put_u32(b, (uint32_t)pb_tokenizer_type(tok, i));
	if (hp->bos_id >= 0)
		kv_u32(b, "tokenizer.ggml.bos_token_id", (uint32_t)hp->bos_id);
	if (hp->eos_id >= 0)
		kv_u32(b, "tokenizer.ggml.eos_token_id", (uint32_t)hp->eos_id);
	return b->oom ? -ENOMEM : 0;
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
	static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];

	if (m->arch != PB_ARCH_LLAMA || m->hp.rope_layout != PB_ROPE_INTERLEAVED || !tok) {
		snprintf(err, len, "%s: only llama models with interleaved RoPE and a tokenizer can be written as GGUF",
			 path);
		return -ENOTSUP;
	}
	/* tensor infos, with offsets relative to the aligned data section */
	size_t data_off = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (is_tied_output(m, t))
			continue;
		int type = ggml_type(t->dtype);
		if (type < 0) {
			snprintf(err, len, "%s: tensor '%s': format %s has no GGUF type", path, t->name,
				 pb_dtype_name(t->dtype));
			rc = -ENOTSUP;
			goto out;
		}
		put_str(&info, t->name);
		put_u32(&info, (uint32_t)t->n_dims);
		for (int d = 0; d < t->n_dims; d++)
			put_u64(&info, (uint64_t)t->ne[d]);
		put_u32(&info, (uint32_t)type);
		put_u64(&info, data_off);
		data_off = align_up(data_off + t->nbytes);
		n_out++;
	}
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
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (is_tied_output(m, t))
			continue;
		size_t pad = align_up(t->nbytes) - t->nbytes;
		if ((t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes) ||
		    fwrite(zeros, 1, pad, f) != pad)
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
	free(kv.p);
	free(info.p);
	return rc;
}

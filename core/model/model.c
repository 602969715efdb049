/* core/model/model.c — the model IR's lifetime and the small services the
 * rest of the core and pruners use on it: hashing, counting, reshaping a
 * tensor, reading a row as floats, and GGUF llama tensor naming. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

struct pb_model *pb_model_alloc(int n_tensors)
{
	struct pb_model *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->core = calloc(1, sizeof(struct pb_model_core));
	m->tensors = calloc(n_tensors > 0 ? (size_t)n_tensors : 1, sizeof *m->tensors);
	if (!m->core || !m->tensors) {
		free(m->core);
		free(m->tensors);
		free(m);
		return NULL;
	}
	m->n_tensors = n_tensors;
	m->hp.bos_id = m->hp.eos_id = -1;
	return m;
}

void pb_model_free(struct pb_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].flags & PB_TENSOR_OWNED)
			free(m->tensors[i].data);
	free(m->tensors);
	struct pb_model_core *c = m->core;
	if (c) {
		if (c->base && c->base_is_mmap)
			munmap(c->base, c->base_len);
		else
			free(c->base);
		pb_tokenizer_free(c->tok);
		free(c);
	}
	free(m);
}

const struct pb_tokenizer *pb_model_tokenizer(const struct pb_model *m)
{
	const struct pb_model_core *c = m ? m->core : NULL;
	return c ? c->tok : NULL;
}

void pb_model_hash(const struct pb_model *m, char hex[65])
{
	struct pb_sha256 *h = pb_sha256_new();
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		int32_t head[2] = { (int32_t)t->dtype, t->n_dims };
		pb_sha256_update(h, t->name, strlen(t->name) + 1);
		pb_sha256_update(h, head, sizeof head);
		pb_sha256_update(h, t->ne, sizeof t->ne);
		pb_sha256_update(h, t->data, t->nbytes);
	}
	pb_sha256_final(h, hex);
}

int pb_tensor_realloc(struct pb_tensor *t, enum pb_dtype dtype,
		      const int64_t ne[PB_MAX_DIMS], size_t nbytes)
{
	if ((unsigned)dtype >= PB_DTYPE_COUNT)
		return -EINVAL;
	for (int d = 0; d < PB_MAX_DIMS; d++)
		if (ne[d] < 0)
			return -EINVAL;
	/* calloc(0) may return NULL: keep one byte so data is never NULL */
	void *p = calloc(1, nbytes ? nbytes : 1);
	if (!p)
		return -ENOMEM;
	if (t->flags & PB_TENSOR_OWNED)
		free(t->data);
	t->data = p;
	t->nbytes = nbytes;
	t->dtype = dtype;
	t->n_dims = 1;
	for (int d = 0; d < PB_MAX_DIMS; d++) {
		t->ne[d] = ne[d];
		if (ne[d] != 1)
			t->n_dims = d + 1;
	}
	t->flags |= PB_TENSOR_OWNED;
	return 0;
}

static int dense_ok(const struct pb_tensor *t, int64_t row)
{
	size_t rb = pb_row_bytes(t);
	int64_t rows = t->ne[0] ? pb_tensor_nelements(t) / t->ne[0] : 0;
	if (!rb || row < 0 || row >= rows)
		return 0;
	return (size_t)(row + 1) * rb <= t->nbytes;
}

int pb_tensor_row_f32(const struct pb_tensor *t, int64_t row, float *dst)
{
	if (!dense_ok(t, row))
		return -EINVAL;
	const uint8_t *p = (const uint8_t *)t->data + (size_t)row * pb_row_bytes(t);
	int64_t n = t->ne[0];
	switch (t->dtype) {
	case PB_F32:
		memcpy(dst, p, (size_t)n * 4);
		return 0;
	case PB_F16:
	case PB_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			dst[i] = t->dtype == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
		}
		return 0;
	case PB_Q8_0:
		for (int64_t b = 0; b < n / 32; b++, p += 34) {
			uint16_t h;
			memcpy(&h, p, 2);
			float d = pb_fp16_to_fp32(h);
			for (int j = 0; j < 32; j++)
				dst[b * 32 + j] = d * (float)(int8_t)p[2 + j];
		}
		return 0;
	case PB_Q4_0:
		/* GGUF layout: byte j holds element j (low nibble) and j + 16 (high) */
		for (int64_t b = 0; b < n / 32; b++, p += 18) {
			uint16_t h;
			memcpy(&h, p, 2);
			float d = pb_fp16_to_fp32(h);
			for (int j = 0; j < 16; j++) {
				dst[b * 32 + j] = d * (float)((p[2 + j] & 0x0f) - 8);
				dst[b * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
			}
		}
		return 0;
	default:
		return -EINVAL;
	}
}

int64_t pb_tensor_count_zeros(const struct pb_tensor *t)
{
	int64_t n = pb_tensor_nelements(t), zeros = 0;
	if (!pb_row_bytes(t) || t->ne[0] == 0)
		return 0;
	if (t->dtype == PB_F32) {
		const float *f = t->data;
		for (int64_t i = 0; i < n; i++)
			zeros += f[i] == 0.0f;
		return zeros;
	}
	if (t->dtype == PB_F16 || t->dtype == PB_BF16) {
		const uint16_t *h = t->data;
		for (int64_t i = 0; i < n; i++)
			zeros += (h[i] & 0x7fff) == 0;   /* +0 and -0 */
		return zeros;
	}
	float *row = malloc((size_t)t->ne[0] * sizeof *row);
	if (!row)
		return 0;
	for (int64_t r = 0; r < n / t->ne[0]; r++) {
		if (pb_tensor_row_f32(t, r, row) < 0)
			break;
		for (int64_t i = 0; i < t->ne[0]; i++)
			zeros += row[i] == 0.0f;
	}
	free(row);
	return zeros;
}

void pb_model_count(const struct pb_model *m, int linears_only,
		    int64_t *params, int64_t *nonzero, int64_t *bytes)
{
	int64_t p = 0, z = 0, b = 0;
	const struct pb_tensor *embd = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (linears_only && !pb_role_is_linear(t->role))
			continue;
		/* a tied output shares the embedding's memory: count it once */
		if (!linears_only && t->role == PB_ROLE_OUTPUT && embd &&
		    t->data == embd->data)
			continue;
		int64_t n = pb_tensor_nelements(t);
		p += n;
		z += pb_tensor_count_zeros(t);
		b += (int64_t)t->nbytes;
	}
	if (params)
		*params = p;
	if (nonzero)
		*nonzero = p - z;
	if (bytes)
		*bytes = b;
}

/* ---- GGUF llama names ---- */

static const struct {
	const char *suffix;
	enum pb_role role;
} block_roles[] = {
	{ "attn_norm.weight", PB_ROLE_ATTN_NORM },
	{ "attn_q.weight", PB_ROLE_ATTN_Q },
	{ "attn_k.weight", PB_ROLE_ATTN_K },
	{ "attn_v.weight", PB_ROLE_ATTN_V },
	{ "attn_output.weight", PB_ROLE_ATTN_O },
	{ "ffn_norm.weight", PB_ROLE_FFN_NORM },
	{ "ffn_gate.weight", PB_ROLE_FFN_GATE },
	{ "ffn_up.weight", PB_ROLE_FFN_UP },
	{ "ffn_down.weight", PB_ROLE_FFN_DOWN },
};

static const struct {
	const char *name;
	enum pb_role role;
} global_roles[] = {
	{ "token_embd.weight", PB_ROLE_TOK_EMBD },
	{ "output_norm.weight", PB_ROLE_OUT_NORM },
	{ "output.weight", PB_ROLE_OUTPUT },
};

void pb_tensor_classify(struct pb_tensor *t)
{
	t->layer = -1;
	t->role = PB_ROLE_OTHER;
	for (size_t i = 0; i < PB_ARRAY_LEN(global_roles); i++)
		if (!strcmp(t->name, global_roles[i].name)) {
			t->role = global_roles[i].role;
			return;
		}
	if (strncmp(t->name, "blk.", 4))
		return;
	const char *p = t->name + 4;
	long layer = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		layer = layer * 10 + (*p - '0');
	if (!digits || *p != '.')
		return;
	t->layer = (int)layer;
	for (size_t i = 0; i < PB_ARRAY_LEN(block_roles); i++)
		if (!strcmp(p + 1, block_roles[i].suffix)) {
			t->role = block_roles[i].role;
			return;
		}
}

int pb_tensor_role_name(int layer, enum pb_role role, char *out, size_t len)
{
	for (size_t i = 0; i < PB_ARRAY_LEN(global_roles); i++)
		if (global_roles[i].role == role)
			return snprintf(out, len, "%s", global_roles[i].name) < (int)len ? 0 : -ENAMETOOLONG;
	for (size_t i = 0; i < PB_ARRAY_LEN(block_roles); i++)
		if (block_roles[i].role == role)
			return snprintf(out, len, "blk.%d.%s", layer, block_roles[i].suffix) < (int)len
				? 0 : -ENAMETOOLONG;
	return -EINVAL;
}

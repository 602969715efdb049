/* core/model/model.c — the model IR's lifetime, which reader a path
 * goes to, and the small services the rest of the core and pruners use on
 * a model: hashing, counting, reshaping a tensor, reading a row as floats. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <prunebench/hugemap.h>

#include "model/gguf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
#include "model/quant.h"
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
	m->hp.bos_id = m->hp.eos_id = m->hp.pad_id = m->hp.unk_id = -1;
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
		for (int i = 0; i < c->n_maps; i++)
			if (c->maps[i].p)
				munmap(c->maps[i].p, c->maps[i].len);
		free(c->maps);
		pb_tokenizer_free(c->tok);
		free(c);
	}
	free(m);
}

const struct pb_arch_params *pb_model_arch_params(const struct pb_model *m)
{
	static const struct pb_arch_params none;
	const struct pb_model_core *c = m ? m->core : NULL;
	return c ? &c->ap : &none;
}

struct pb_arch_params *pb_model_arch_params_mut(struct pb_model *m)
{
	struct pb_model_core *c = m->core;
	return &c->ap;
}

int pb_arch_layer_slides(enum pb_arch a, int l)
{
	if (a == PB_ARCH_GEMMA2)
		return l % 2 < 1;
	if (a == PB_ARCH_GEMMA3)
		return l % 6 < 5;
	return 0;
}

double pb_arch_default_attn_scale(enum pb_arch a, const struct pb_hparams *hp)
{
	int big = (a == PB_ARCH_GEMMA2 && hp->n_layers == 46) || (a == PB_ARCH_GEMMA3 && hp->n_layers == 62);
	if (big && hp->n_heads > 0)
		return 1.0 / sqrt((double)(hp->dim / hp->n_heads));
	return 1.0 / sqrt((double)hp->head_dim);
}

void pb_model_drop_tokenizer(struct pb_model *m)
{
	struct pb_model_core *c = m ? m->core : NULL;
	if (c) {
		pb_tokenizer_free(c->tok);
		c->tok = NULL;
	}
}

const struct pb_tokenizer *pb_model_tokenizer(const struct pb_model *m)
{
	const struct pb_model_core *c = m ? m->core : NULL;
	return c ? c->tok : NULL;
}

int pb_model_live_vocab(const struct pb_model *m, const struct pb_tokenizer *tok)
{
	int n = tok ? pb_tokenizer_vocab(tok) : pb_tokenizer_vocab(pb_model_tokenizer(m));
	return n > 0 && n < m->hp.vocab ? n : m->hp.vocab;
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

int pb_model_tensor_remove(struct pb_model *m, int idx)
{
	if (!m || idx < 0 || idx >= m->n_tensors)
		return -EINVAL;
	struct pb_tensor *t = &m->tensors[idx];
	for (int i = 0; i < m->n_tensors; i++)
		if (i != idx && t->data && m->tensors[i].data == t->data)
			return -EBUSY;
	if (t->flags & PB_TENSOR_OWNED)
		free(t->data);
	memmove(t, t + 1, (size_t)(m->n_tensors - idx - 1) * sizeof *t);
	m->n_tensors--;
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
	return pb_dequantize_row(t->dtype, p, dst, t->ne[0]);
}

int64_t pb_tensor_count_zeros(const struct pb_tensor *t)
{
	int64_t n = pb_tensor_nelements(t), zeros = 0;
	if (t->dtype == PB_NM_2_4) {
		/* 2:4 packed (tensor.h): two of every four weights are not
		 * stored, so they are zeros; the stored values may be zero too */
		if (t->ne[0] <= 0 || t->ne[0] % 4 || !t->data ||
		    t->nbytes < pb_nm24_bytes(t->ne[0], n / t->ne[0]))
			return 0;
		const float *v = t->data;
		for (int64_t i = 0; i < n / 2; i++)
			zeros += v[i] == 0.0f;
		return n / 2 + zeros;
	}
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

/* Expected shape of one tensor from the hyper-parameters; widths that
 * structured pruning changes (heads, FFN neurons) only need to be whole
 * heads. */
int pb_tensor_shape_check(const struct pb_tensor *t, const struct pb_hparams *hp, char *why, size_t len)
{
	int64_t a = t->ne[0], b = t->ne[1], hd = hp->head_dim > 0 ? hp->head_dim : 1;
	const char *what = NULL;
	int ok = 1;
	char want[64] = "";
	if (t->ne[2] != 1 || t->ne[3] != 1) {
		pb_sayf(why, len, "shape [%lld, %lld, %lld, %lld], expected at most 2 dimensions", (long long)a,
			(long long)b, (long long)t->ne[2], (long long)t->ne[3]);
		return -EINVAL;
	}
	switch (t->role) {
	case PB_ROLE_TOK_EMBD: case PB_ROLE_OUTPUT:
		ok = a == hp->dim && b == hp->vocab;
		pb_sayf(want, sizeof want, "[%d, %d]", hp->dim, hp->vocab);
		what = "embedding_length, vocabulary";
		break;
	case PB_ROLE_ATTN_NORM: case PB_ROLE_FFN_NORM: case PB_ROLE_CROSS_NORM: case PB_ROLE_OUT_NORM:
	case PB_ROLE_ATTN_POST_NORM: case PB_ROLE_FFN_POST_NORM:
		ok = a == hp->dim && b == 1;
		pb_sayf(want, sizeof want, "[%d]", hp->dim);
		what = "embedding_length";
		break;
	case PB_ROLE_ATTN_Q: case PB_ROLE_ATTN_K: case PB_ROLE_ATTN_V:
	case PB_ROLE_CROSS_Q: case PB_ROLE_CROSS_K: case PB_ROLE_CROSS_V:
		ok = a == hp->dim && b % hd == 0 && b > 0;
		pb_sayf(want, sizeof want, "[%d, heads × %d]", hp->dim, hp->head_dim);
		what = "embedding_length, whole heads";
		break;
	case PB_ROLE_ATTN_O: case PB_ROLE_CROSS_O:
		ok = b == hp->dim && a % hd == 0 && a > 0;
		pb_sayf(want, sizeof want, "[heads × %d, %d]", hp->head_dim, hp->dim);
		what = "whole heads, embedding_length";
		break;
	case PB_ROLE_FFN_GATE: case PB_ROLE_FFN_UP:
		ok = a == hp->dim;
		pb_sayf(want, sizeof want, "[%d, width]", hp->dim);
		what = "embedding_length, feed-forward width";
		break;
	case PB_ROLE_FFN_DOWN:
		ok = b == hp->dim;
		pb_sayf(want, sizeof want, "[width, %d]", hp->dim);
		what = "feed-forward width, embedding_length";
		break;
	case PB_ROLE_ATTN_Q_BIAS: case PB_ROLE_ATTN_K_BIAS: case PB_ROLE_ATTN_V_BIAS:
		ok = b == 1 && a % hd == 0 && a > 0;
		pb_sayf(want, sizeof want, "[heads × %d]", hp->head_dim);
		what = "whole heads";
		break;
	case PB_ROLE_ATTN_Q_NORM: case PB_ROLE_ATTN_K_NORM:
		ok = a == hp->head_dim && b == 1;
		pb_sayf(want, sizeof want, "[%d]", hp->head_dim);
		what = "head dimension";
		break;
	case PB_ROLE_ROPE_FREQS: case PB_ROLE_ROPE_FACTORS_SHORT: case PB_ROLE_ROPE_FACTORS_LONG:
		ok = 2 * a == hp->head_dim && b == 1;
		pb_sayf(want, sizeof want, "[%d]", hp->head_dim / 2);
		what = "half the head dimension";
		break;
	case PB_ROLE_ATTN_REL_BIAS:
		ok = b == hp->rel_buckets && a >= 1 && a <= hp->n_heads;
		pb_sayf(want, sizeof want, "[heads, %d]", hp->rel_buckets);
		what = "heads, relative_buckets_count";
		break;
	default:
		break;
	}
	if (ok)
		return 0;
	if (t->n_dims <= 1 && b == 1)
		pb_sayf(why, len, "shape [%lld], expected %s (%s)", (long long)a, want, what);
	else
		pb_sayf(why, len, "shape [%lld, %lld], expected %s (%s)", (long long)a, (long long)b, want, what);
	return -EINVAL;
}

/* ---- loading: which reader, mapping, tokenizer files ---- */

int pb_map_file(const char *path, void **p, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	int rc, fd = pb_open_regular(path, O_RDONLY);
	*p = NULL;
	*len = 0;
	if (fd < 0)
		return pb_errf(err, errlen, fd, "%s: cannot open: %s", path, pb_strerror(fd));
	if (fstat(fd, &st) < 0) {
		rc = pb_errf(err, errlen, -errno, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pb_errf(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	rc = 0;
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			rc = pb_errf(err, errlen, -errno, "%s: cannot map: %s", path, strerror(errno));
			goto out;
		}
		*p = m;
		*len = (size_t)st.st_size;
	}
out:
	close(fd);
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int pb_tokenizer_file_load(const char *path, int n_vocab, struct pb_tokenizer **out,
			   char *err, size_t len)
{
	if (ends_with(path, ".json"))
		return pb_tokenizer_load_json(path, out, err, len);
	return pb_tokenizer_load_llama2c(path, n_vocab, out, err, len);
}

int pb_model_load_with(const char *path, const char *tokenizer_path, struct pb_model **out,
		       char *err, size_t len)
{
	return pb_model_load_pre(path, tokenizer_path, NULL, out, err, len);
}

static int load_any(const char *path, const char *tokenizer_path, const char *tokenizer_pre,
		    struct pb_model **out, char *err, size_t len)
{
	struct stat st;
	char dir[4096];
	uint32_t magic = 0;
	if (tokenizer_path && !tokenizer_path[0])
		tokenizer_path = NULL;
	if (tokenizer_pre && !tokenizer_pre[0])
		tokenizer_pre = NULL;
	if (stat(path, &st) < 0)
		return pb_errf(err, len, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pb_hf_load(path, tokenizer_path, out, err, len);
	if (!S_ISREG(st.st_mode))
		return pb_errf(err, len, -EINVAL, "%s: not a model file or folder", path);
	FILE *f = fopen(path, "rb");
	if (!f)
		return pb_errf(err, len, -errno, "%s: cannot open: %s", path, strerror(errno));
	size_t got = fread(&magic, 1, 4, f);
	fclose(f);
	if (got == 4 && magic == GGUF_MAGIC)
		return pb_gguf_load(path, tokenizer_path, tokenizer_pre, out, err, len);
	/* a file of a Hugging Face folder stands for the folder */
	if (ends_with(path, ".safetensors") || ends_with(path, "config.json") ||
	    ends_with(path, ".safetensors.index.json")) {
		pb_dirname(path, dir, sizeof dir);
		return pb_hf_load(dir, tokenizer_path, out, err, len);
	}
	if (ends_with(path, ".bin"))
		return pb_llama2c_load(path, tokenizer_path, out, err, len);
	if (ends_with(path, ".gguf"))
		return pb_gguf_load(path, tokenizer_path, tokenizer_pre, out, err, len);   /* says what is wrong */
	return pb_errf(err, len, -EINVAL,
		       "%s: unrecognised model format (expected a GGUF file, a llama2.c .bin checkpoint or a Hugging Face folder)",
		       path);
}

/* Turn a private file mapping [p, p + len) into anonymous memory holding
 * the same bytes at the same addresses: an anonymous copy moved over it
 * with mremap.  Why: decode streams every weight once per token, and on
 * this class of machine (bench/run-path.sh: llama-110m F32, 2 threads)
 * weights read through a MAP_PRIVATE file mapping decode ~10 % slower
 * than the same bytes in anonymous memory — where the synthetic models
 * bench/tokens times live, so a GGUF cell was slower than the benchmark on
 * identical weights.  Every pointer into the mapping (tensor data, names,
 * the vocabulary) stays valid, the address space does not grow (the copy
 * replaces the mapping), and pb_model_free unmaps it as before.  Costs one
 * pass over the file at load.  Where it cannot (no memory for the copy,
 * no mremap), the file mapping stays: slower, the same bytes. */
static void to_anonymous(void *p, size_t len)
{
#ifdef MREMAP_FIXED
	/* The copy asks for transparent huge pages (prunebench/hugemap.h),
	 * placed at p's offset within a 2 MB page so that mremap moves its
	 * huge pages whole onto 2 MB-aligned addresses of p. */
	size_t span;
	void *a = pb_map_huge(len, (uintptr_t)p, 1, &span);
	if (!a)
		return;
	memcpy(a, p, len);
	if (mremap(a, span, span, MREMAP_MAYMOVE | MREMAP_FIXED, p) == MAP_FAILED)
		munmap(a, span);
#else
	(void)p;
	(void)len;
#endif
}

/* The whole pages of the Q8_0 / Q4_0 linears, which cpu-blas repacks into
 * its own memory, stay in the file mapping: once repacked the backend
 * hands them back with MADV_PAGEOUT (plugins/backends/cpu-blas/
 * repack.c), which drops clean file pages from the resident set but can
 * do nothing to anonymous ones on a machine without swap — copied here,
 * a repacked Q4_0 model would be resident twice. */
struct span {
	uintptr_t a, e;
};

static int span_cmp(const void *x, const void *y)
{
	const struct span *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a;
}

/* [p, p + len) to anonymous memory but for those pages: one sorted pass
 * over the kept spans, copying the runs between them. */
static void own_mapping(const struct pb_model *m, char *p, size_t len)
{
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (uintptr_t)p, hi = lo + len;
	struct span *k = malloc((size_t)(m->n_tensors > 0 ? m->n_tensors : 1) * sizeof *k);
	int n = 0;
	if (!k)
		return;   /* the file mapping stays: slower, the same bytes */
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		const uintptr_t d = (uintptr_t)t->data;
		if ((t->dtype != PB_Q8_0 && t->dtype != PB_Q4_0) || !pb_role_is_linear(t->role) ||
		    d < lo || d + t->nbytes > hi)
			continue;
		const uintptr_t a = (d + pg - 1) / pg * pg, e = (d + t->nbytes) / pg * pg;
		if (e > a)
			k[n++] = (struct span){ a, e };
	}
	qsort(k, (size_t)n, sizeof *k, span_cmp);
	uintptr_t run = lo;   /* start of the pending run of pages to copy */
	for (int i = 0; i < n; i++) {
		if (k[i].a > run)
			to_anonymous((void *)run, k[i].a - run);
		if (k[i].e > run)
			run = k[i].e;
	}
	if (hi > run)
		to_anonymous((void *)run, hi - run);
	free(k);
}

static void own_weights(struct pb_model *m)
{
	struct pb_model_core *c = m->core;
	if (c->base && c->base_is_mmap && c->base_len)
		own_mapping(m, c->base, c->base_len);
	for (int i = 0; i < c->n_maps; i++)
		if (c->maps[i].p && c->maps[i].len)
			own_mapping(m, c->maps[i].p, c->maps[i].len);
}

int pb_model_load_pre(const char *path, const char *tokenizer_path, const char *tokenizer_pre,
		      struct pb_model **out, char *err, size_t len)
{
	int rc = load_any(path, tokenizer_path, tokenizer_pre, out, err, len);
	if (rc < 0)
		return rc;
	own_weights(*out);
	/* A run's context is not the trained one: Llama 3.2's 131072
	 * positions would size a session's KV cache at gigabytes.  As
	 * llama.cpp's tools default n_ctx, the run uses at most
	 * PB_CTX_DEFAULT unless the experiment's `ctx:` asks for more. */
	struct pb_hparams *hp = &(*out)->hp;
	hp->ctx_train = hp->ctx;
	if (hp->ctx > PB_CTX_DEFAULT) {
		hp->ctx = PB_CTX_DEFAULT;
		pb_log(PB_LOG_INFO, "%s: context %d of the %d positions it was trained for (set ctx: to change)",
		       (*out)->name, hp->ctx, hp->ctx_train);
	}
	return 0;
}

int pb_model_set_ctx(struct pb_model *m, int ctx, char *err, size_t len)
{
	int train = pb_hp_ctx_train(&m->hp);
	if (ctx < 1 || ctx > train)
		return pb_errf(err, len, -EINVAL, "%s: ctx %d: expected 1 to the %d positions the model was trained for",
			       m->name, ctx, train);
	m->hp.ctx_train = train;
	m->hp.ctx = ctx;
	return 0;
}

int pb_model_load(const char *path, struct pb_model **out, char *err, size_t len)
{
	return pb_model_load_with(path, NULL, out, err, len);
}

int pb_model_small_f32(struct pb_model *m)
{
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		int small = t->n_dims == 1 || t->role == PB_ROLE_ATTN_REL_BIAS ||
			    t->role == PB_ROLE_ATTN_NORM || t->role == PB_ROLE_FFN_NORM ||
			    t->role == PB_ROLE_CROSS_NORM || t->role == PB_ROLE_OUT_NORM ||
			    (t->role >= PB_ROLE_ATTN_Q_BIAS && t->role <= PB_ROLE_ROPE_FACTORS_LONG);
		if (!small || t->dtype == PB_F32)
			continue;
		int rc = pb_tensor_convert(t, PB_F32);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void pb_model_tie_output(struct pb_model *m, int embd)
{
	struct pb_tensor *o = &m->tensors[m->n_tensors++];
	*o = m->tensors[embd];
	snprintf(o->name, sizeof o->name, "output.weight");
	o->role = PB_ROLE_OUTPUT;
	o->layer = -1;
	o->stack = PB_STACK_DECODER;
	o->flags = 0;
}

/* core/model/gguf-read.c — the GGUF v3 container reader: header,
 * metadata, tensor infos and data ranges (what they mean for a llama model
 * is gguf-llama.c's job).
 *
 * The file is untrusted: every count, string length, dimension, offset and
 * data range is checked against the file's size before it is used, and the
 * first problem found is reported once as "<file>: offset <N>: <what>".
 * The file is mapped MAP_PRIVATE and writable so that pruners edit
 * weights in place (copy on write) without touching the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gguf-reader.h"
#include "model/gguf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

static const size_t scalar_size[GGUF_TYPE_COUNT] = {
	[GGUF_UINT8] = 1, [GGUF_INT8] = 1, [GGUF_UINT16] = 2, [GGUF_INT16] = 2,
	[GGUF_UINT32] = 4, [GGUF_INT32] = 4, [GGUF_FLOAT32] = 4, [GGUF_BOOL] = 1,
	[GGUF_UINT64] = 8, [GGUF_INT64] = 8, [GGUF_FLOAT64] = 8,
};

int gguf_fail(struct gguf_reader *r, size_t off, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (r->err && r->errlen)
		snprintf(r->err, r->errlen, "%s: offset %zu: %s", r->path, off, msg);
	return -EINVAL;
}

static int need(struct gguf_reader *r, size_t n, const char *what)
{
	if (r->len - r->pos < n)
		return gguf_fail(r, r->pos, "truncated: expected %s (%zu bytes), %zu left",
			    what, n, r->len - r->pos);
	return 0;
}

static int get_u32(struct gguf_reader *r, uint32_t *v, const char *what)
{
	int rc = need(r, 4, what);
	if (rc < 0)
		return rc;
	memcpy(v, r->p + r->pos, 4);
	r->pos += 4;
	return 0;
}

static int get_u64(struct gguf_reader *r, uint64_t *v, const char *what)
{
	int rc = need(r, 8, what);
	if (rc < 0)
		return rc;
	memcpy(v, r->p + r->pos, 8);
	r->pos += 8;
	return 0;
}

/* A string: u64 length + bytes.  *off is where the bytes start. */
static int get_str(struct gguf_reader *r, size_t *off, uint64_t *n, const char *what)
{
	size_t at = r->pos;
	int rc = get_u64(r, n, what);
	if (rc < 0)
		return rc;
	if (*n > r->len - r->pos)
		return gguf_fail(r, at, "%s: string length %llu exceeds the %zu bytes left in the file",
			    what, (unsigned long long)*n, r->len - r->pos);
	*off = r->pos;
	r->pos += (size_t)*n;
	return 0;
}

static int skip_value(struct gguf_reader *r, uint32_t type, struct gguf_kv *kv)
{
	size_t at = r->pos, off;
	uint64_t n;
	int rc;
	if (type >= GGUF_TYPE_COUNT)
		return gguf_fail(r, at, "unknown value type %u", type);
	if (type == GGUF_STRING)
		return get_str(r, &off, &n, "string value");
	if (type != GGUF_ARRAY) {
		rc = need(r, scalar_size[type], "value");
		if (rc == 0)
			r->pos += scalar_size[type];
		return rc;
	}
	uint32_t et;
	if ((rc = get_u32(r, &et, "array type")) < 0 || (rc = get_u64(r, &n, "array length")) < 0)
		return rc;
	if (et == GGUF_ARRAY)
		return gguf_fail(r, at, "nested arrays are not supported");
	if (et >= GGUF_TYPE_COUNT)
		return gguf_fail(r, at, "unknown array element type %u", et);
	kv->arr_type = et;
	kv->arr_n = n;
	kv->val = r->pos;
	size_t min = et == GGUF_STRING ? 8 : scalar_size[et];
	if (n > (r->len - r->pos) / min)
		return gguf_fail(r, at + 4, "array of %llu elements exceeds the %zu bytes left in the file",
			    (unsigned long long)n, r->len - r->pos);
	if (et != GGUF_STRING) {
		r->pos += (size_t)n * min;
		return 0;
	}
	for (uint64_t i = 0, sl; i < n; i++)
		if ((rc = get_str(r, &off, &sl, "array string")) < 0)
			return rc;
	return 0;
}

const struct gguf_kv *gguf_find_kv(const struct gguf_reader *r, const char *key)
{
	for (uint64_t i = 0; i < r->n_kv; i++)
		if (!strcmp(r->kv[i].key, key))
			return &r->kv[i];
	return NULL;
}

/* Integer scalar at offset `off` of type t; 0 when t is not an integer. */
static int read_int(const struct gguf_reader *r, uint32_t t, size_t off, int64_t *v)
{
	const uint8_t *p = r->p + off;
	union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
		int32_t i32; uint64_t u64; int64_t i64; } u;
	if (t >= GGUF_TYPE_COUNT || !scalar_size[t] || t == GGUF_FLOAT32 || t == GGUF_FLOAT64)
		return 0;
	memcpy(&u, p, scalar_size[t]);
	switch (t) {
	case GGUF_UINT8: case GGUF_BOOL: *v = u.u8; break;
	case GGUF_INT8: *v = u.i8; break;
	case GGUF_UINT16: *v = u.u16; break;
	case GGUF_INT16: *v = u.i16; break;
	case GGUF_UINT32: *v = u.u32; break;
	case GGUF_INT32: *v = u.i32; break;
	case GGUF_UINT64: *v = u.u64 > INT64_MAX ? INT64_MAX : (int64_t)u.u64; break;
	default: *v = u.i64; break;
	}
	return 1;
}

/* An integer key in [lo, hi]; a per-layer array gives its largest element
 * (llama.cpp writes head counts and FFN widths per layer as arrays). */
int gguf_key_int(struct gguf_reader *r, const char *key, int required, int64_t def,
		   int64_t lo, int64_t hi, int *out)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	int64_t v = def;
	if (!kv) {
		if (required) {
			if (r->err && r->errlen)
				snprintf(r->err, r->errlen, "%s: missing metadata key '%s'", r->path, key);
			return -EINVAL;
		}
	} else if (kv->type == GGUF_ARRAY) {
		int64_t e;
		if (!kv->arr_n || !read_int(r, kv->arr_type, kv->val, &e))
			return gguf_fail(r, kv->at, "key '%s': expected an integer or an array of integers", key);
		v = e;
		for (uint64_t i = 0; i < kv->arr_n; i++) {
			read_int(r, kv->arr_type, kv->val + i * scalar_size[kv->arr_type], &e);
			if (e < lo || e > hi)
				return gguf_fail(r, kv->at, "key '%s': element %llu is %lld, expected %lld..%lld",
					    key, (unsigned long long)i, (long long)e, (long long)lo, (long long)hi);
			v = e > v ? e : v;
		}
	} else if (!read_int(r, kv->type, kv->val, &v)) {
		return gguf_fail(r, kv->at, "key '%s': expected an integer", key);
	}
	if (v < lo || v > hi)
		return gguf_fail(r, kv ? kv->at : 0, "key '%s': %lld is out of range %lld..%lld", key,
			    (long long)v, (long long)lo, (long long)hi);
	*out = (int)v;
	return 0;
}

int gguf_key_float(struct gguf_reader *r, const char *key, double def, double lo, double hi,
		     float *out)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	double v = def;
	if (kv) {
		if (kv->type == GGUF_FLOAT32) {
			float f;
			memcpy(&f, r->p + kv->val, 4);
			v = f;
		} else if (kv->type == GGUF_FLOAT64) {
			memcpy(&v, r->p + kv->val, 8);
		} else {
			return gguf_fail(r, kv->at, "key '%s': expected a float", key);
		}
		if (!(v >= lo && v <= hi))
			return gguf_fail(r, kv->at, "key '%s': %g is out of range %g..%g", key, v, lo, hi);
	}
	*out = (float)v;
	return 0;
}

/* String value of a key (not NUL-terminated), or NULL. */
const char *gguf_key_str(const struct gguf_reader *r, const char *key, uint64_t *n)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	if (!kv || kv->type != GGUF_STRING)
		return NULL;
	memcpy(n, r->p + kv->val, 8);
	return (const char *)r->p + kv->val + 8;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(const struct gguf_kv *const *)a)->key, (*(const struct gguf_kv *const *)b)->key);
}

static int parse_header_and_kv(struct gguf_reader *r)
{
	uint32_t magic, version;
	uint64_t n_tensors;
	int rc;
	if (r->len < 4)
		return gguf_fail(r, 0, "truncated header: %zu bytes, expected at least 24", r->len);
	memcpy(&magic, r->p, 4);
	if (magic != GGUF_MAGIC)
		return gguf_fail(r, 0, "bad magic: expected 'GGUF', found 0x%08x", magic);
	r->pos = 4;
	if ((rc = get_u32(r, &version, "version")) < 0)
		return rc;
	if (version != 2 && version != 3)
		return gguf_fail(r, 4, "unsupported GGUF version %u (expected 3)", version);
	if ((rc = get_u64(r, &n_tensors, "tensor count")) < 0 ||
	    (rc = get_u64(r, &r->n_kv, "metadata count")) < 0)
		return rc;
	(void)n_tensors;
	/* a pair is at least an 8-byte key length, a type and a 1-byte value */
	if (r->n_kv > (r->len - r->pos) / 13)
		return gguf_fail(r, 16, "metadata count %llu exceeds what the file can hold",
			    (unsigned long long)r->n_kv);
	r->kv = calloc(r->n_kv ? (size_t)r->n_kv : 1, sizeof *r->kv);
	if (!r->kv)
		return -ENOMEM;
	for (uint64_t i = 0; i < r->n_kv; i++) {
		struct gguf_kv *kv = &r->kv[i];
		size_t off;
		uint64_t n;
		kv->at = r->pos;
		if ((rc = get_str(r, &off, &n, "metadata key")) < 0)
			return rc;
		kv->key = strndup((const char *)r->p + off, (size_t)n);
		if (!kv->key)
			return -ENOMEM;
		if ((rc = get_u32(r, &kv->type, "value type")) < 0)
			return rc;
		kv->val = r->pos;
		if ((rc = skip_value(r, kv->type, kv)) < 0)
			return rc;
	}
	/* keys must be unique: sort and compare neighbours */
	const struct gguf_kv **sorted = malloc((size_t)(r->n_kv ? r->n_kv : 1) * sizeof *sorted);
	if (!sorted)
		return -ENOMEM;
	for (uint64_t i = 0; i < r->n_kv; i++)
		sorted[i] = &r->kv[i];
	qsort(sorted, (size_t)r->n_kv, sizeof *sorted, cmp_key);
	for (uint64_t i = 1; i < r->n_kv; i++)
		if (!strcmp(sorted[i]->key, sorted[i - 1]->key)) {
			const struct gguf_kv *dup = sorted[i]->at > sorted[i - 1]->at ? sorted[i] : sorted[i - 1];
			free(sorted);
			return gguf_fail(r, dup->at, "duplicate metadata key '%s'", dup->key);
		}
	free(sorted);
	r->align = GGUF_DEFAULT_ALIGNMENT;
	const struct gguf_kv *a = gguf_find_kv(r, "general.alignment");
	if (a) {
		int64_t v = 0;
		if (!read_int(r, a->type, a->val, &v) || v <= 0 || v > (1 << 30) || (v & (v - 1)))
			return gguf_fail(r, a->at, "general.alignment must be a power of two");
		r->align = (uint32_t)v;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct pb_tensor *x = *(const struct pb_tensor *const *)a;
	const struct pb_tensor *y = *(const struct pb_tensor *const *)b;
	return strcmp(x->name, y->name);
}

static int parse_tensor_infos(struct gguf_reader *r, struct pb_model *m, struct gguf_tinfo *ti)
{
	int rc;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		size_t off;
		uint64_t n, nd, dim;
		uint32_t n_dims, type;
		ti[i].at = r->pos;
		if ((rc = get_str(r, &off, &n, "tensor name")) < 0)
			return rc;
		if (n >= PB_TENSOR_NAME_MAX)
			return gguf_fail(r, ti[i].at, "tensor name of %llu bytes is longer than %d",
				    (unsigned long long)n, PB_TENSOR_NAME_MAX - 1);
		memcpy(t->name, r->p + off, (size_t)n);
		t->name[n] = '\0';
		if (strlen(t->name) != n)
			return gguf_fail(r, ti[i].at, "tensor name contains a NUL byte");
		size_t nd_at = r->pos;
		if ((rc = get_u32(r, &n_dims, "n_dims")) < 0)
			return rc;
		if (n_dims < 1 || n_dims > PB_MAX_DIMS)
			return gguf_fail(r, nd_at, "tensor '%s': n_dims %u not in 1..%d", t->name, n_dims,
				    PB_MAX_DIMS);
		t->n_dims = (int)n_dims;
		ti[i].dims_at = r->pos;
		int64_t nel = 1;
		for (int d = 0; d < PB_MAX_DIMS; d++) {
			t->ne[d] = 1;
			if (d >= (int)n_dims)
				continue;
			if ((rc = get_u64(r, &dim, "dimension")) < 0)
				return rc;
			if (dim > INT64_MAX || __builtin_mul_overflow(nel, (int64_t)dim, &nel))
				return gguf_fail(r, ti[i].dims_at, "tensor '%s': dimensions overflow", t->name);
			t->ne[d] = (int64_t)dim;
		}
		size_t type_at = r->pos;
		if ((rc = get_u32(r, &type, "tensor type")) < 0)
			return rc;
		size_t esize;
		if (type == GGML_TYPE_F32) {
			t->dtype = PB_F32;
			esize = 4;
		} else if (type == GGML_TYPE_F16) {
			t->dtype = PB_F16;
			esize = 2;
		} else {
			return gguf_fail(r, type_at, "tensor '%s': unsupported tensor type %u (this build reads F32 (0) and F16 (1))",
				    t->name, type);
		}
		if (__builtin_mul_overflow((uint64_t)nel, (uint64_t)esize, &nd) || nd > SIZE_MAX)
			return gguf_fail(r, ti[i].dims_at, "tensor '%s': dimensions overflow", t->name);
		t->nbytes = (size_t)nd;
		ti[i].off_at = r->pos;
		if ((rc = get_u64(r, &ti[i].offset, "tensor data offset")) < 0)
			return rc;
	}
	/* names must be unique: sort pointers and compare neighbours */
	struct pb_tensor **sorted = malloc((size_t)(m->n_tensors ? m->n_tensors : 1) * sizeof *sorted);
	if (!sorted)
		return -ENOMEM;
	for (int i = 0; i < m->n_tensors; i++)
		sorted[i] = &m->tensors[i];
	qsort(sorted, (size_t)m->n_tensors, sizeof *sorted, cmp_name);
	for (int i = 1; i < m->n_tensors; i++)
		if (!strcmp(sorted[i]->name, sorted[i - 1]->name)) {
			int k = (int)(sorted[i] - m->tensors);
			free(sorted);
			return gguf_fail(r, ti[k].at, "duplicate tensor name '%s'", m->tensors[k].name);
		}
	free(sorted);
	return 0;
}

/* Point every tensor at its data after checking the range and alignment. */
static int place_tensors(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti)
{
	size_t data = r->pos;
	if (data % r->align)
		data += r->align - data % r->align;
	if (m->n_tensors && data > r->len)
		return gguf_fail(r, r->pos, "tensor data would start at %zu, beyond the end of the file (%zu bytes)",
			    data, r->len);
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		uint64_t o = ti[i].offset;
		if (o % r->align)
			return gguf_fail(r, ti[i].off_at, "tensor '%s': data offset %llu is not a multiple of the alignment %u",
				    t->name, (unsigned long long)o, r->align);
		if (o > r->len - data || t->nbytes > r->len - data - o)
			return gguf_fail(r, ti[i].off_at, "tensor '%s': data [%zu, %llu + %zu) lies beyond the end of the file (%zu bytes)",
				    t->name, data + (size_t)(o > r->len ? 0 : o), (unsigned long long)(data + o),
				    t->nbytes, r->len);
		if ((data + o) % pb_dtype_block_bytes(t->dtype))
			return gguf_fail(r, ti[i].off_at, "tensor '%s': data at byte %llu is not aligned to its %zu-byte elements",
				    t->name, (unsigned long long)(data + o), pb_dtype_block_bytes(t->dtype));
		t->data = (uint8_t *)r->p + data + o;
	}
	return 0;
}

int pb_model_load(const char *path, struct pb_model **out, char *err, size_t len)
{
	struct gguf_reader r = { .path = path, .err = err, .errlen = len };
	struct pb_model *m = NULL;
	struct gguf_tinfo *ti = NULL;
	struct stat st;
	char dummy[1];
	int rc;
	if (!err || !len) {
		r.err = dummy;
		r.errlen = sizeof dummy;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(r.err, r.errlen, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(r.err, r.errlen, "%s: cannot stat: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(r.err, r.errlen, "%s: not a model file%s", path,
			 rc == -EISDIR ? " (model folders are not supported yet)" : "");
		close(fd);
		return rc;
	}
	r.len = (size_t)st.st_size;
	void *map = NULL;
	if (r.len) {
		map = mmap(NULL, r.len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			rc = -errno;
			snprintf(r.err, r.errlen, "%s: cannot map: %s", path, strerror(-rc));
			close(fd);
			return rc;
		}
	}
	close(fd);
	r.p = map;
	if ((rc = parse_header_and_kv(&r)) < 0)
		goto fail;
	uint64_t n_tensors;
	memcpy(&n_tensors, r.p + 8, 8);
	/* an info is at least name length, n_dims, one dim, type and offset */
	if (n_tensors > (r.len - r.pos) / 32 || n_tensors > INT_MAX - 1) {
		rc = gguf_fail(&r, 8, "tensor count %llu exceeds what the file can hold",
			  (unsigned long long)n_tensors);
		goto fail;
	}
	/* one spare slot for a tied output projection */
	m = pb_model_alloc((int)n_tensors + 1);
	ti = calloc((size_t)n_tensors + 1, sizeof *ti);
	if (!m || !ti) {
		rc = -ENOMEM;
		snprintf(r.err, r.errlen, "%s: out of memory", path);
		goto fail;
	}
	struct pb_model_core *core = m->core;
	core->base = map;
	core->base_len = r.len;
	core->base_is_mmap = 1;
	map = NULL;
	snprintf(core->source, sizeof core->source, "%s", path);
	m->n_tensors = (int)n_tensors;
	if ((rc = parse_tensor_infos(&r, m, ti)) < 0 ||
	    (rc = place_tensors(&r, m, ti)) < 0 ||
	    (rc = gguf_llama_load(&r, m, ti)) < 0)
		goto fail;
	*out = m;
	m = NULL;
	rc = 0;
fail:
	if (map)
		munmap(map, r.len);
	pb_model_free(m);
	free(ti);
	for (uint64_t i = 0; r.kv && i < r.n_kv; i++)
		free(r.kv[i].key);
	free(r.kv);
	return rc;
}

/* core/model/gguf-read.c — the GGUF container reader (versions 1, 2 and
 * 3): header, metadata, tensor infos and data ranges.  What they mean for
 * a llama or t5 model is gguf-llama.c's job.
 *
 * The file is untrusted: every count, string length, dimension, offset and
 * data range is checked against the file's size before it is used, and the
 * first problem found is reported once as "<file>: offset <N>: <what>".
 * The file is mapped MAP_PRIVATE and writable so that pruners edit
 * weights in place (copy on write) without touching the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/gguf-reader.h"
#include "model/gguf.h"
#include "model/model-internal.h"
#include "model/modelio.h"
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
	pb_sayf(r->err, r->errlen, "%s: offset %zu: %s", r->path, off, msg);
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

/* A count or length: uint32 in version 1, uint64 after. */
static int get_count(struct gguf_reader *r, uint64_t *v, const char *what)
{
	uint32_t v32;
	int rc;
	if (r->lenw == 8)
		return get_u64(r, v, what);
	if ((rc = get_u32(r, &v32, what)) == 0)
		*v = v32;
	return rc;
}

/* A string: length + bytes.  *off is where the bytes start. */
static int get_str(struct gguf_reader *r, size_t *off, uint64_t *n, const char *what)
{
	size_t at = r->pos;
	int rc = get_count(r, n, what);
	if (rc < 0)
		return rc;
	if (*n > r->len - r->pos)
		return gguf_fail(r, at, "%s: string length %llu exceeds the %zu bytes left in the file",
			    what, (unsigned long long)*n, r->len - r->pos);
	*off = r->pos;
	r->pos += (size_t)*n;
	return 0;
}

const char *gguf_str_at(const struct gguf_reader *r, size_t *off, uint64_t *n)
{
	uint32_t n32;
	if (r->lenw == 8) {
		memcpy(n, r->p + *off, 8);
	} else {
		memcpy(&n32, r->p + *off, 4);
		*n = n32;
	}
	const char *s = (const char *)r->p + *off + r->lenw;
	*off += r->lenw + (size_t)*n;
	return s;
}

static int skip_value(struct gguf_reader *r, uint32_t type, struct gguf_kv *kv)
{
	size_t at = r->pos, off;
	uint64_t n;
	int rc;
	if (type >= GGUF_TYPE_COUNT)
		return gguf_fail(r, at, "key '%s': unknown value type %u", kv->key, type);
	if (type == GGUF_STRING)
		return get_str(r, &off, &n, "string value");
	if (type != GGUF_ARRAY) {
		rc = need(r, scalar_size[type], "value");
		if (rc == 0)
			r->pos += scalar_size[type];
		return rc;
	}
	uint32_t et;
	if ((rc = get_u32(r, &et, "array type")) < 0 || (rc = get_count(r, &n, "array length")) < 0)
		return rc;
	if (et == GGUF_ARRAY)
		return gguf_fail(r, at, "key '%s': nested arrays are not supported", kv->key);
	if (et >= GGUF_TYPE_COUNT)
		return gguf_fail(r, at, "key '%s': unknown array element type %u", kv->key, et);
	kv->arr_type = et;
	kv->arr_n = n;
	kv->val = r->pos;
	size_t min = et == GGUF_STRING ? r->lenw : scalar_size[et];
	if (n > (r->len - r->pos) / min)
		return gguf_fail(r, at + 4, "key '%s': array of %llu elements exceeds the %zu bytes left in the file",
			    kv->key, (unsigned long long)n, r->len - r->pos);
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
	char full[128];
	if (key[0] == '.') {
		pb_sayf(full, sizeof full, "%s%s", r->arch, key);
		key = full;
	}
	for (uint64_t i = 0; i < r->n_kv; i++)
		if (!strcmp(r->kv[i].key, key))
			return &r->kv[i];
	return NULL;
}

const struct gguf_kv *gguf_find_arch_kv(const struct gguf_reader *r, const char *suffix)
{
	char full[128];
	pb_sayf(full, sizeof full, "%s.%s", r->arch, suffix);
	return gguf_find_kv(r, full);
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

static const char *full_key(const struct gguf_reader *r, const char *key, char *buf, size_t len)
{
	if (key[0] != '.')
		return key;
	pb_sayf(buf, len, "%s%s", r->arch, key);
	return buf;
}

/* An integer key in [lo, hi]; a per-layer array gives its largest element
 * (llama.cpp writes head counts and FFN widths per layer as arrays). */
int gguf_key_int(struct gguf_reader *r, const char *key, int required, int64_t def,
		   int64_t lo, int64_t hi, int *out)
{
	char buf[128];
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	int64_t v = def;
	key = full_key(r, key, buf, sizeof buf);
	if (!kv) {
		if (required)
			return pb_errf(r->err, r->errlen, -EINVAL, "%s: missing metadata key '%s'",
				       r->path, key);
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
	char buf[128];
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	double v = def;
	key = full_key(r, key, buf, sizeof buf);
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

int gguf_key_bool(struct gguf_reader *r, const char *key, int def, int *out)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	int64_t v = def;
	if (kv && (kv->type == GGUF_ARRAY || !read_int(r, kv->type, kv->val, &v)))
		return gguf_fail(r, kv->at, "key '%s': expected a boolean", key);
	*out = v != 0;
	return 0;
}

const char *gguf_key_str(const struct gguf_reader *r, const char *key, uint64_t *n)
{
	const struct gguf_kv *kv = gguf_find_kv(r, key);
	if (!kv || kv->type != GGUF_STRING)
		return NULL;
	size_t off = kv->val;
	return gguf_str_at(r, &off, n);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(const struct gguf_kv *const *)a)->key, (*(const struct gguf_kv *const *)b)->key);
}

static int parse_header_and_kv(struct gguf_reader *r, uint64_t *n_tensors)
{
	uint32_t magic;
	int rc;
	if (r->len < 4)
		return gguf_fail(r, 0, "truncated header: %zu bytes, expected at least 24", r->len);
	memcpy(&magic, r->p, 4);
	if (magic != GGUF_MAGIC)
		return gguf_fail(r, 0, "bad magic: expected 'GGUF', found 0x%08x", magic);
	r->pos = 4;
	if ((rc = get_u32(r, &r->version, "version")) < 0)
		return rc;
	if (r->version < 1 || r->version > 3)
		return gguf_fail(r, 4, "unsupported GGUF version %u (this build reads 1, 2 and 3)", r->version);
	r->lenw = r->version == 1 ? 4 : 8;
	size_t kv_at = 8 + r->lenw;
	if ((rc = get_count(r, n_tensors, "tensor count")) < 0 ||
	    (rc = get_count(r, &r->n_kv, "metadata count")) < 0)
		return rc;
	/* a pair is at least a key length, a type and a 1-byte value */
	if (r->n_kv > (r->len - r->pos) / (r->lenw + 5))
		return gguf_fail(r, kv_at, "metadata count %llu exceeds what the file can hold",
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
		if (strlen(kv->key) != n || !n)
			return gguf_fail(r, kv->at, "metadata key %llu is empty or contains a NUL byte",
				    (unsigned long long)i);
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

static const char *ggml_type_name(uint32_t type)
{
	static const char *const names[] = {
		"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
		"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
		"IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
		"IQ1_M", "BF16",
	};
	return type < PB_ARRAY_LEN(names) ? names[type] : "unknown";
}

static int map_type(uint32_t type, enum pb_dtype *d)
{
	switch (type) {
	case GGML_TYPE_F32: *d = PB_F32; return 0;
	case GGML_TYPE_F16: *d = PB_F16; return 0;
	case GGML_TYPE_BF16: *d = PB_BF16; return 0;
	case GGML_TYPE_Q8_0: *d = PB_Q8_0; return 0;
	case GGML_TYPE_Q4_0: *d = PB_Q4_0; return 0;
	case GGML_TYPE_Q2_K: *d = PB_Q2_K; return 0;
	case GGML_TYPE_Q3_K: *d = PB_Q3_K; return 0;
	case GGML_TYPE_Q4_K: *d = PB_Q4_K; return 0;
	case GGML_TYPE_Q5_K: *d = PB_Q5_K; return 0;
	case GGML_TYPE_Q6_K: *d = PB_Q6_K; return 0;
	default: return -1;
	}
}

static int cmp_name(const void *a, const void *b)
{
	const struct pb_tensor *x = *(const struct pb_tensor *const *)a;
	const struct pb_tensor *y = *(const struct pb_tensor *const *)b;
	return strcmp(x->name, y->name);
}

static int parse_tensor_info(struct gguf_reader *r, struct pb_tensor *t, struct gguf_tinfo *ti)
{
	size_t off;
	uint64_t n, nd, dim;
	uint32_t n_dims, type;
	int rc;
	ti->at = r->pos;
	if ((rc = get_str(r, &off, &n, "tensor name")) < 0)
		return rc;
	if (n >= PB_TENSOR_NAME_MAX)
		return gguf_fail(r, ti->at, "tensor name of %llu bytes is longer than %d",
			    (unsigned long long)n, PB_TENSOR_NAME_MAX - 1);
	memcpy(t->name, r->p + off, (size_t)n);
	t->name[n] = '\0';
	if (strlen(t->name) != n || !n)
		return gguf_fail(r, ti->at, "tensor name is empty or contains a NUL byte");
	size_t nd_at = r->pos;
	if ((rc = get_u32(r, &n_dims, "n_dims")) < 0)
		return rc;
	if (n_dims < 1 || n_dims > PB_MAX_DIMS)
		return gguf_fail(r, nd_at, "tensor '%s': n_dims %u not in 1..%d", t->name, n_dims,
			    PB_MAX_DIMS);
	t->n_dims = (int)n_dims;
	ti->dims_at = r->pos;
	int64_t nel = 1;
	for (int d = 0; d < PB_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d >= (int)n_dims)
			continue;
		if ((rc = get_count(r, &dim, "dimension")) < 0)
			return rc;
		if (dim > INT64_MAX || __builtin_mul_overflow(nel, (int64_t)dim, &nel))
			return gguf_fail(r, ti->dims_at, "tensor '%s': dimensions overflow", t->name);
		t->ne[d] = (int64_t)dim;
	}
	size_t type_at = r->pos;
	if ((rc = get_u32(r, &type, "tensor type")) < 0)
		return rc;
	if (map_type(type, &t->dtype) < 0)
		return gguf_fail(r, type_at, "tensor '%s': unsupported tensor type %u (%s); this build reads F32 (0), F16 (1), Q4_0 (2), Q8_0 (8), Q2_K (10), Q3_K (11), Q4_K (12), Q5_K (13), Q6_K (14) and BF16 (30)",
			    t->name, type, ggml_type_name(type));
	int blk = pb_dtype_block(t->dtype);
	if (t->ne[0] % blk)
		return gguf_fail(r, ti->dims_at, "tensor '%s': %lld columns is not a multiple of the %d-element %s block",
			    t->name, (long long)t->ne[0], blk, pb_dtype_name(t->dtype));
	if (__builtin_mul_overflow((uint64_t)nel / (uint64_t)blk, (uint64_t)pb_dtype_block_bytes(t->dtype), &nd) ||
	    nd > SIZE_MAX)
		return gguf_fail(r, ti->dims_at, "tensor '%s': dimensions overflow", t->name);
	t->nbytes = (size_t)nd;
	ti->off_at = r->pos;
	return get_u64(r, &ti->offset, "tensor data offset");
}

static int parse_tensor_infos(struct gguf_reader *r, struct pb_model *m, struct gguf_tinfo *ti)
{
	int rc;
	for (int i = 0; i < m->n_tensors; i++)
		if ((rc = parse_tensor_info(r, &m->tensors[i], &ti[i])) < 0)
			return rc;
	/* names must be unique: sort pointers and compare neighbours */
	struct pb_tensor **sorted = malloc((size_t)(m->n_tensors ? m->n_tensors : 1) * sizeof *sorted);
	if (!sorted)
		return -ENOMEM;
	for (int i = 0; i < m->n_tensors; i++)
		sorted[i] = &m->tensors[i];
	qsort(sorted, (size_t)m->n_tensors, sizeof *sorted, cmp_name);
	for (int i = 1; i < m->n_tensors; i++)
		if (!strcmp(sorted[i]->name, sorted[i - 1]->name)) {
			int k = (int)(sorted[i] - m->tensors), j = (int)(sorted[i - 1] - m->tensors);
			k = k > j ? k : j;
			free(sorted);
			return gguf_fail(r, ti[k].at, "duplicate tensor name '%s'", m->tensors[k].name);
		}
	free(sorted);
	return 0;
}

static const struct gguf_tinfo *sort_ti;

static int cmp_offset(const void *a, const void *b)
{
	uint64_t x = sort_ti[*(const int *)a].offset, y = sort_ti[*(const int *)b].offset;
	return x < y ? -1 : x > y;
}

/* Point every tensor at its data after checking range, alignment and that
 * no two tensors share bytes. */
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
			return gguf_fail(r, ti[i].off_at, "tensor '%s': data [%llu, +%zu) lies beyond the end of the file (%zu bytes)",
				    t->name, (unsigned long long)o + data, t->nbytes, r->len);
		size_t ea = t->dtype == PB_F32 ? 4 : 2;
		if ((data + o) % ea)
			return gguf_fail(r, ti[i].off_at, "tensor '%s': data at byte %llu is not aligned to %zu bytes",
				    t->name, (unsigned long long)(data + o), ea);
		t->data = (uint8_t *)r->p + data + o;
	}
	size_t n_order = m->n_tensors > 0 ? (size_t)m->n_tensors : 1;
	int *order = malloc(n_order * sizeof *order);
	if (!order)
		return -ENOMEM;
	for (int i = 0; i < m->n_tensors; i++)
		order[i] = i;
	sort_ti = ti;
	qsort(order, (size_t)m->n_tensors, sizeof *order, cmp_offset);
	for (int k = 1; k < m->n_tensors; k++) {
		int a = order[k - 1], b = order[k];
		if (m->tensors[a].nbytes && m->tensors[b].nbytes &&
		    ti[a].offset + m->tensors[a].nbytes > ti[b].offset) {
			int later = ti[a].off_at > ti[b].off_at ? a : b;
			int other = later == a ? b : a;
			free(order);
			return gguf_fail(r, ti[later].off_at, "tensor '%s': data overlaps tensor '%s'",
				    m->tensors[later].name, m->tensors[other].name);
		}
	}
	free(order);
	return 0;
}

int pb_gguf_tokenizer_load(const char *path, const char *pre, struct pb_tokenizer **out,
			   char *err, size_t len)
{
	struct gguf_reader r = { .path = path, .err = err, .errlen = len, .tok_pre = pre && *pre ? pre : NULL };
	void *map = NULL;
	uint64_t n_tensors = 0;
	int ids[4], rc;
	if (err && len)
		err[0] = '\0';
	if ((rc = pb_map_file(path, &map, &r.len, err, len)) < 0)
		return rc;
	r.p = map;
	if ((rc = parse_header_and_kv(&r, &n_tensors)) == 0)
		rc = gguf_vocab_read(&r, out, ids);
	if (map)
		munmap(map, r.len);
	for (uint64_t i = 0; r.kv && i < r.n_kv; i++)
		free(r.kv[i].key);
	free(r.kv);
	return rc;
}

int pb_gguf_load(const char *path, const char *tok_path, const char *tok_pre,
		 struct pb_model **out, char *err, size_t len)
{
	struct gguf_reader r = { .path = path, .err = err, .errlen = len, .tok_pre = tok_pre };
	struct pb_model *m = NULL;
	struct gguf_tinfo *ti = NULL;
	void *map = NULL;
	uint64_t n_tensors = 0;
	int rc;
	if (err && len)
		err[0] = '\0';
	if ((rc = pb_map_file(path, &map, &r.len, err, len)) < 0)
		return rc;
	r.p = map;
	if ((rc = parse_header_and_kv(&r, &n_tensors)) < 0)
		goto fail;
	/* an info is at least a name length, n_dims, one dim, type and offset */
	if (n_tensors > (r.len - r.pos) / (2 * r.lenw + 16) || n_tensors > INT_MAX - 1) {
		rc = gguf_fail(&r, 8, "tensor count %llu exceeds what the file can hold",
			  (unsigned long long)n_tensors);
		goto fail;
	}
	/* one spare slot for a tied output projection */
	m = pb_model_alloc((int)n_tensors + 1);
	ti = calloc((size_t)n_tensors + 1, sizeof *ti);
	if (!m || !ti) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
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
	    (rc = gguf_arch_load(&r, m, ti, tok_path)) < 0)
		goto fail;
	*out = m;
	m = NULL;
	rc = 0;
fail:
	if (rc == -ENOMEM && err && len && !err[0])
		pb_sayf(err, len, "%s: out of memory", path);
	if (map)
		munmap(map, r.len);
	pb_model_free(m);
	free(ti);
	for (uint64_t i = 0; r.kv && i < r.n_kv; i++)
		free(r.kv[i].key);
	free(r.kv);
	return rc;
}

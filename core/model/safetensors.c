/* core/model/safetensors.c — reading one .safetensors file under the
 * rules the reference implementation (huggingface/safetensors) enforces:
 * the header fits the file, is a JSON object of well-formed entries, and
 * the entries' byte ranges match their dtype × shape and tile the data
 * buffer exactly (no overlap, no hole, nothing after).  We also need the
 * elements aligned, which the reference writer guarantees by padding the
 * header to a multiple of 8 bytes. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/model-internal.h"
#include "model/safetensors.h"
#include "util/util.h"

#define MAX_HEADER (100u << 20)   /* the reference implementation's limit */

static int st_fail(const struct pb_st_file *f, size_t off, char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int st_fail(const struct pb_st_file *f, size_t off, char *err, size_t len, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pb_sayf(err, len, "%s: offset %zu: %s", f->path, off, msg);
	return -EINVAL;
}

/* Where "name" appears as a key in the header, for messages. */
static size_t key_at(const char *hdr, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i + k + 2 <= n; i++)
		if (hdr[i] == '"' && !memcmp(hdr + i + 1, name, k) && hdr[i + k + 1] == '"')
			return 8 + i;
	return 8;
}

static int dtype_of(const char *s, enum pb_dtype *d, size_t *esize)
{
	static const char *const other[] = {
		"F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
		"F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64",
	};
	if (!strcmp(s, "F32")) { *d = PB_F32; *esize = 4; return 0; }
	if (!strcmp(s, "F16")) { *d = PB_F16; *esize = 2; return 0; }
	if (!strcmp(s, "BF16")) { *d = PB_BF16; *esize = 2; return 0; }
	for (size_t i = 0; i < PB_ARRAY_LEN(other); i++)
		if (!strcmp(s, other[i]))
			return 1;   /* known, not supported */
	return -1;
}

static int parse_entry(struct pb_st_file *f, const char *hdr, size_t hn, const char *name,
		       json_t *v, struct pb_st_tensor *t, uint64_t *b, uint64_t *e,
		       char *err, size_t len)
{
	size_t at = key_at(hdr, hn, name);
	size_t esize = 0;
	t->at = at;
	if (!json_is_object(v))
		return st_fail(f, at, err, len, "tensor '%s': expected an object with dtype, shape and data_offsets", name);
	json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape");
	json_t *of = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of))
		return st_fail(f, at, err, len, "tensor '%s': missing or mistyped 'dtype' (string), 'shape' (array) or 'data_offsets' (array)",
			       name);
	int k = dtype_of(json_string_value(dt), &t->dtype, &esize);
	if (k > 0)
		return st_fail(f, at, err, len, "tensor '%s': dtype %s is not supported (this build reads F32, F16 and BF16)",
			       name, json_string_value(dt));
	if (k < 0)
		return st_fail(f, at, err, len, "tensor '%s': unknown dtype '%.32s'", name, json_string_value(dt));
	size_t nd = json_array_size(sh);
	if (nd > PB_MAX_DIMS)
		return st_fail(f, at, err, len, "tensor '%s': %zu dimensions, at most %d are supported",
			       name, nd, PB_MAX_DIMS);
	uint64_t nel = 1;
	t->n_dims = (int)nd;
	for (size_t i = 0; i < nd; i++) {
		json_t *x = json_array_get(sh, i);
		json_int_t d = json_is_integer(x) ? json_integer_value(x) : -1;
		if (d < 0 || d > ((json_int_t)1 << 40))
			return st_fail(f, at, err, len, "tensor '%s': shape[%zu] is not a dimension (an integer 0..2^40)",
				       name, i);
		t->shape[i] = d;
		if (__builtin_mul_overflow(nel, (uint64_t)d, &nel) || nel > ((uint64_t)1 << 40))
			return st_fail(f, at, err, len, "tensor '%s': shape overflows", name);
	}
	json_t *jb = json_array_get(of, 0), *je = json_array_get(of, 1);
	if (json_array_size(of) != 2 || !json_is_integer(jb) || !json_is_integer(je) ||
	    json_integer_value(jb) < 0 || json_integer_value(je) < json_integer_value(jb))
		return st_fail(f, at, err, len, "tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end",
			       name);
	*b = (uint64_t)json_integer_value(jb);
	*e = (uint64_t)json_integer_value(je);
	size_t data = 8 + hn, buf = f->len - data;
	if (*e > buf)
		return st_fail(f, at, err, len, "tensor '%s': data_offsets [%llu, %llu] run past the %zu-byte data buffer (file truncated?)",
			       name, (unsigned long long)*b, (unsigned long long)*e, buf);
	if (*e - *b != nel * esize)
		return st_fail(f, at, err, len, "tensor '%s': %llu bytes in data_offsets, but %s × %llu elements need %llu",
			       name, (unsigned long long)(*e - *b), json_string_value(dt),
			       (unsigned long long)nel, (unsigned long long)(nel * esize));
	if ((data + *b) % esize)
		return st_fail(f, at, err, len, "tensor '%s': data at byte %llu is not aligned to its %zu-byte elements",
			       name, (unsigned long long)(data + *b), esize);
	t->data = (uint8_t *)f->map + data + *b;
	t->nbytes = (size_t)(*e - *b);
	return (t->name = strdup(name)) ? 0 : -ENOMEM;
}

struct range { uint64_t b, e; int i; };

static int cmp_range(const void *x, const void *y)
{
	const struct range *a = x, *b = y;
	return a->b < b->b ? -1 : a->b > b->b ? 1 : (a->e > b->e) - (a->e < b->e);
}

/* The ranges must tile [0, buffer) exactly. */
static int check_tiling(struct pb_st_file *f, struct range *r, size_t buf, char *err, size_t len)
{
	uint64_t end = 0;
	qsort(r, (size_t)f->n, sizeof *r, cmp_range);
	for (int k = 0; k < f->n; k++) {
		const struct pb_st_tensor *t = &f->t[r[k].i];
		if (r[k].b < end)
			return st_fail(f, t->at, err, len, "tensor '%s': data_offsets [%llu, %llu] overlap another tensor's",
				       t->name, (unsigned long long)r[k].b, (unsigned long long)r[k].e);
		if (r[k].b > end)
			return st_fail(f, t->at, err, len, "data bytes %llu..%llu belong to no tensor (a hole before '%s')",
				       (unsigned long long)end, (unsigned long long)r[k].b, t->name);
		end = r[k].e;
	}
	if (end != buf)
		return st_fail(f, (f->len - buf) + end, err, len,
			       "%llu bytes after the last tensor's data belong to no tensor",
			       (unsigned long long)(buf - end));
	return 0;
}

int pb_st_open(const char *path, struct pb_st_file *f, char *err, size_t len)
{
	json_t *root = NULL;
	json_error_t jerr;
	struct range *rg = NULL;
	uint64_t hn;
	int rc;
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s", path);
	if ((rc = pb_map_file(path, &f->map, &f->len, err, len)) < 0)
		return rc;
	if (f->len < 8) {
		rc = st_fail(f, 0, err, len, "truncated: %zu bytes, a safetensors file starts with an 8-byte header length",
			     f->len);
		goto fail;
	}
	memcpy(&hn, f->map, 8);
	if (hn > f->len - 8 || hn > MAX_HEADER) {
		rc = st_fail(f, 0, err, len, "header length %llu exceeds the %zu bytes after it%s",
			     (unsigned long long)hn, f->len - 8, hn > MAX_HEADER ? " (and the 100 MiB limit)" : "");
		goto fail;
	}
	const char *hdr = (const char *)f->map + 8;
	root = json_loadb(hdr, (size_t)hn, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = st_fail(f, 8 + (size_t)(jerr.position > 0 ? jerr.position : 0), err, len,
			     "bad JSON header: %s", jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		rc = st_fail(f, 8, err, len, "the JSON header is not an object");
		goto fail;
	}
	size_t n = json_object_size(root);
	f->t = calloc(n ? n : 1, sizeof *f->t);
	rg = calloc(n ? n : 1, sizeof *rg);
	if (!f->t || !rg) {
		rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__")) {
			const char *mk;
			json_t *mv;
			if (!json_is_object(v)) {
				rc = st_fail(f, key_at(hdr, (size_t)hn, key), err, len, "__metadata__ must be an object of strings");
				goto fail;
			}
			json_object_foreach(v, mk, mv)
				if (!json_is_string(mv)) {
					rc = st_fail(f, key_at(hdr, (size_t)hn, mk), err, len,
						     "__metadata__: '%s' is not a string", mk);
					goto fail;
				}
			continue;
		}
		struct pb_st_tensor *t = &f->t[f->n];
		if ((rc = parse_entry(f, hdr, (size_t)hn, key, v, t, &rg[f->n].b, &rg[f->n].e, err, len)) < 0) {
			if (rc == -ENOMEM)
				pb_sayf(err, len, "%s: out of memory", path);
			goto fail;
		}
		rg[f->n].i = f->n;
		f->n++;
	}
	if ((rc = check_tiling(f, rg, f->len - 8 - (size_t)hn, err, len)) < 0)
		goto fail;
	free(rg);
	json_decref(root);
	return 0;
fail:
	free(rg);
	json_decref(root);
	pb_st_close(f);
	return rc;
}

void pb_st_close(struct pb_st_file *f)
{
	for (int i = 0; f->t && i < f->n; i++)
		free(f->t[i].name);
	free(f->t);
	if (f->map)
		munmap(f->map, f->len);
	f->t = NULL;
	f->map = NULL;
	f->n = 0;
}

const struct pb_st_tensor *pb_st_find(const struct pb_st_file *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->t[i].name, name))
			return &f->t[i];
	return NULL;
}

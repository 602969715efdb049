/* tests/formats/fmt.c — shared helpers of the format tests (fmt.h). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "model/modelio.h"
#include "util/util.h"

void fb_put(struct fb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void fb_u32(struct fb *b, uint32_t v) { fb_put(b, &v, 4); }
void fb_u64(struct fb *b, uint64_t v) { fb_put(b, &v, 8); }
void fb_f32(struct fb *b, float v) { fb_put(b, &v, 4); }

void fb_zeros(struct fb *b, size_t n)
{
	static const uint8_t z[64];
	while (n) {
		size_t k = n > sizeof z ? sizeof z : n;
		fb_put(b, z, k);
		n -= k;
	}
}

void fb_free(struct fb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void put_u32_at(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
void put_u64_at(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

static char scratch_dir[256];
static pid_t scratch_pid;

static void scratch_cleanup(void)
{
	if (scratch_dir[0] && getpid() == scratch_pid)
		pb_rm_rf(scratch_dir);
}

const char *scratch(void)
{
	if (!scratch_dir[0] || scratch_pid != getpid()) {
		snprintf(scratch_dir, sizeof scratch_dir, "/tmp/pb-formats-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(scratch_dir));
		if (!scratch_pid)
			atexit(scratch_cleanup);
		scratch_pid = getpid();
	}
	return scratch_dir;
}

const char *spath(const char *name)
{
	static char slots[4][512];
	static int next;
	char *p = slots[next++ % 4];
	snprintf(p, 512, "%s/%s", scratch(), name);
	return p;
}

void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

void fill_floats(float *x, size_t n, uint64_t seed)
{
	struct pb_rng r;
	pb_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(pb_rng_uniform(&r) * 2.0 - 1.0);
}

struct pb_model *must_load(const char *path, const char *tok)
{
	struct pb_model *m = NULL;
	char err[1024] = "";
	int rc = pb_model_load_with(path, tok, &m, err, sizeof err);
	ck_assert_msg(rc == 0, "%s: rc %d: %s", path, rc, err);
	return m;
}

void must_fail(const char *path, const char *tok, long offset, const char *needle)
{
	struct pb_model *m = NULL;
	char err[1024] = "", at[64];
	int rc = pb_model_load_with(path, tok, &m, err, sizeof err);
	ck_assert_msg(rc < 0, "%s loaded, expected an error with '%s'", path, needle);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
	ck_assert_msg(strstr(err, path) != NULL || strstr(err, scratch()) != NULL,
		      "the message names no file: %s", err);
	if (offset >= 0) {
		snprintf(at, sizeof at, "offset %ld:", offset);
		ck_assert_msg(strstr(err, at) != NULL, "expected '%s' in: %s", at, err);
	}
}

struct pb_tensor *tensor_named(const struct pb_model *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (!strcmp(m->tensors[i].name, name))
			return &m->tensors[i];
	return NULL;
}

void same_tensors(const struct pb_model *a, const struct pb_model *b, float tol)
{
	ck_assert_int_eq(a->n_tensors, b->n_tensors);
	for (int i = 0; i < a->n_tensors; i++) {
		const struct pb_tensor *x = &a->tensors[i], *y = tensor_named(b, x->name);
		ck_assert_msg(y != NULL, "tensor %s missing", x->name);
		ck_assert_msg(!memcmp(x->ne, y->ne, sizeof x->ne), "%s: shapes differ", x->name);
		ck_assert_int_eq(x->role, y->role);
		ck_assert_int_eq(x->layer, y->layer);
		ck_assert_int_eq(x->stack, y->stack);
		if (tol == 0.0f) {
			ck_assert_int_eq(x->dtype, y->dtype);
			ck_assert_msg(x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes),
				      "%s: data differs", x->name);
			continue;
		}
		int64_t rows = pb_tensor_nelements(x) / x->ne[0];
		float *rx = malloc((size_t)x->ne[0] * 4), *ry = malloc((size_t)x->ne[0] * 4);
		for (int64_t r = 0; r < rows; r++) {
			ck_assert_int_eq(pb_tensor_row_f32(x, r, rx), 0);
			ck_assert_int_eq(pb_tensor_row_f32(y, r, ry), 0);
			for (int64_t c = 0; c < x->ne[0]; c++)
				ck_assert_msg(fabsf(rx[c] - ry[c]) <= tol, "%s[%lld][%lld]: %g vs %g", x->name,
					      (long long)r, (long long)c, rx[c], ry[c]);
		}
		free(rx);
		free(ry);
	}
}

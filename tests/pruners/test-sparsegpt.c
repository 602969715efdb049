/* tests/pruners/test-sparsegpt.c — the sparsegpt pruner against an
 * independent, straightforward OBS implementation written here (explicit
 * inverse by Gauss-Jordan, one column at a time, the inverse Hessian of the
 * remaining columns by elimination: no Cholesky, no blocks, no lazy
 * updates), and against magnitude pruning on the calibration error
 * ‖WX − ŴX‖_F, with a fake calibration handle built from known X. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecalib.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the independent implementation --------------------------------------------- */

/* In-place inverse of the n × n matrix a by Gauss-Jordan with partial
 * pivoting. */
static void gj_inverse(double *a, int n)
{
	double *b = calloc((size_t)(n * n), sizeof(*b));
	ck_assert_ptr_nonnull(b);
	for (int i = 0; i < n; i++)
		b[i * n + i] = 1;
	for (int c = 0; c < n; c++) {
		int p = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
				p = r;
		for (int k = 0; k < n; k++) {
			double t = a[c * n + k]; a[c * n + k] = a[p * n + k]; a[p * n + k] = t;
			t = b[c * n + k]; b[c * n + k] = b[p * n + k]; b[p * n + k] = t;
		}
		double d = a[c * n + c];
		ck_assert(d != 0);
		for (int k = 0; k < n; k++) {
			a[c * n + k] /= d;
			b[c * n + k] /= d;
		}
		for (int r = 0; r < n; r++) {
			if (r == c)
				continue;
			double f = a[r * n + c];
			for (int k = 0; k < n; k++) {
				a[r * n + k] -= f * a[c * n + k];
				b[r * n + k] -= f * b[c * n + k];
			}
		}
	}
	memcpy(a, b, (size_t)(n * n) * sizeof(*a));
	free(b);
}

/* OBS column by column on W (rows × n, double, in place) with H = 2/N·XᵀX:
 * at column i, Minv is the inverse Hessian of the columns i..n−1 that are
 * still free; removing column i from it is one elimination step.  The mask
 * ranks w²/[Minv]_ii with the weights as updated so far: unstructured, over
 * all rows and the bs columns from every multiple of bs at once; N:M, per
 * row and group at the group's first column. */
static void obs_reference(double *W, int rows, int n, const double *xtx, int n_tok,
			  double sparsity, int nn, int mm, int bs, double damp)
{
	double *H = malloc((size_t)(n * n) * sizeof(*H)), mean = 0;
	double *D = malloc((size_t)n * sizeof(*D)), *R = malloc((size_t)(n * n) * sizeof(*R));
	unsigned char *mask = calloc((size_t)(rows * n), 1);
	ck_assert(H && D && R && mask);

	for (int i = 0; i < n * n; i++)
		H[i] = 2.0 / n_tok * xtx[i];
	for (int j = 0; j < n; j++) {
		if (H[j * n + j] == 0) {
			H[j * n + j] = 1;
			for (int r = 0; r < rows; r++)
				W[r * n + j] = 0;
		}
		mean += H[j * n + j] / n;
	}
	for (int j = 0; j < n; j++)
		H[j * n + j] += damp * mean;
	gj_inverse(H, n);
	/* the sequence of inverse Hessians over the free columns */
	for (int i = 0; i < n; i++) {
		D[i] = H[i * n + i];
		for (int k = 0; k < n; k++)
			R[i * n + k] = H[i * n + k];
		for (int a = i + 1; a < n; a++)
			for (int b = i + 1; b < n; b++)
				H[a * n + b] -= H[a * n + i] * H[i * n + b] / D[i];
	}

	for (int i = 0; i < n; i++) {
		if (!nn && i % bs == 0) {
			/* the lowest share over every row and the columns [i, i + size) */
			int size = n - i < bs ? n - i : bs;
			long long k = llround(sparsity * rows * size);
			for (long long t = 0; t < k; t++) {   /* k times the lowest unmasked (slow, plain) */
				int best = -1;
				for (int r = 0; r < rows; r++)
					for (int j = i; j < i + size; j++) {
						int e = r * n + j, bb = best;
						if (mask[e])
							continue;
						if (best < 0 || W[e] * W[e] / D[j] < W[bb] * W[bb] / D[bb % n])
							best = e;
					}
				ck_assert_int_ge(best, 0);
				mask[best] = 1;
			}
		}
		for (int r = 0; r < rows; r++) {
			double *w = W + r * n;
			if (nn && i % mm == 0) {
				/* a trailing partial group keeps min(nn, size) */
				int size = n - i < mm ? n - i : mm;
				for (int d = 0; d < size - (nn < size ? nn : size); d++) {
					int best = -1;
					for (int j = i; j < i + size; j++)
						if (!mask[r * n + j] &&
						    (best < 0 || w[j] * w[j] / D[j] < w[best] * w[best] / D[best]))
							best = j;
					ck_assert_int_ge(best, 0);
					mask[r * n + best] = 1;
				}
			}
			double q = mask[r * n + i] ? 0 : w[i];
			double e = w[i] - q;
			for (int j = i + 1; j < n; j++)
				w[j] -= e * R[i * n + j] / D[i];
			w[i] = q;
		}
	}
	free(mask);
	free(R);
	free(D);
	free(H);
}

/* ---- helpers ------------------------------------------------------------------------ */

static int linear(const struct pb_tensor *t)
{
	return t->layer >= 0 && pb_role_is_linear(t->role);
}

/* The XᵀX the fake handle gives for tensor i. */
static double *xtx_of(const struct fake_calib *c, int i)
{
	int64_t d = c->m->tensors[i].ne[0];
	double *h = calloc((size_t)(d * d), sizeof(*h));
	ck_assert_ptr_nonnull(h);
	for (int tok = 0; tok < c->n_tok; tok++)
		for (int64_t a = 0; a < d; a++)
			for (int64_t b = 0; b < d; b++)
				h[a * d + b] += (double)c->x[i][tok * d + a] * c->x[i][tok * d + b];
	return h;
}

static void compare_with_reference(const char *const *kv, double sparsity, int nn, int mm,
				   int bs, enum pb_dtype dt)
{
	struct pb_model m, orig;
	struct fake_calib c;

	fake_model_make(&m, 2, 12, 16, dt, 53);
	fake_model_copy(&orig, &m);
	fake_calib_init(&c, &m, 40, 9, 3);   /* tensor 3 (blk.0 attn_k) has a dead input */
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &m, &c.base, NULL, 1, 1), 0);
	ck_assert(c.order_ok && c.sequential_ok);
	ck_assert_uint_eq(c.wants, PB_CALIB_XTX);
	for (int i = 0; i < m.n_tensors; i++) {
		const struct pb_tensor *t = &m.tensors[i];
		if (!linear(t)) {
			ck_assert_int_eq(memcmp(t->data, orig.tensors[i].data, t->nbytes), 0);
			continue;
		}
		int n = (int)t->ne[0], rows = (int)t->ne[1];
		double *W = malloc((size_t)(rows * n) * sizeof(*W)), *h = xtx_of(&c, i);
		for (int e = 0; e < rows * n; e++)
			W[e] = fake_get(&orig.tensors[i], e);
		obs_reference(W, rows, n, h, c.n_tok, sparsity, nn, mm, bs, 0.01);
		for (int e = 0; e < rows * n; e++) {
			float got = fake_get(t, e);
			ck_assert_msg((got == 0) == (W[e] == 0), "%s [%d]: mask differs (%g vs %g)",
				      t->name, e, got, W[e]);
			double tol = dt == PB_F32 ? 1e-5 : 2e-3;
			ck_assert_msg(fabs(got - W[e]) <= tol * (1 + fabs(W[e])),
				      "%s [%d]: %.9g vs reference %.9g", t->name, e, got, W[e]);
		}
		if (i == 3)   /* the dead input's column is zero */
			for (int r = 0; r < rows; r++)
				ck_assert_float_eq(fake_get(t, r * n + 1), 0);
		free(W);
		free(h);
	}
	fake_calib_free(&c);
	fake_model_free(&m);
	fake_model_free(&orig);
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(agrees_with_obs_unstructured)
{
	/* one block (the width), then blocks of 5 columns, each with its
	 * own mask, updated lazily */
	const char *kv[] = { "sparsity", "0.5", "blocksize", "128", NULL };
	compare_with_reference(kv, 0.5, 0, 0, 128, PB_F32);
	const char *kv2[] = { "sparsity", "0.3", "blocksize", "16", NULL };
	compare_with_reference(kv2, 0.3, 0, 0, 16, PB_F16);
	const char *kv3[] = { "sparsity", "0.55", "blocksize", "5", NULL };
	compare_with_reference(kv3, 0.55, 0, 0, 5, PB_F32);
}
END_TEST

static const struct { const char *n, *m; } nm_cases[] = { { "2", "4" }, { "4", "8" }, { "1", "4" } };

START_TEST(agrees_with_obs_nm)
{
	/* N:M masks do not depend on blocks: small blocks exercise the lazy
	 * updates against the plain column-by-column reference */
	const char *kv[] = { "n", nm_cases[_i].n, "m", nm_cases[_i].m, "blocksize", "8", NULL };
	compare_with_reference(kv, 0, atoi(nm_cases[_i].n), atoi(nm_cases[_i].m), 1 << 20, PB_F32);
}
END_TEST

START_TEST(nm_pattern_exact)
{
	struct pb_model m;
	struct fake_calib c;
	int n = atoi(nm_cases[_i].n), mm = atoi(nm_cases[_i].m);
	const char *kv[] = { "n", nm_cases[_i].n, "m", nm_cases[_i].m, NULL };

	fake_model_make(&m, 2, 16, 24, PB_F32, 59);
	fake_calib_init(&c, &m, 32, 4, -1);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &m, &c.base, NULL, 1, 1), 0);
	for (int i = 0; i < m.n_tensors; i++) {
		const struct pb_tensor *t = &m.tensors[i];
		if (!linear(t))
			continue;
		for (int64_t r = 0; r < t->ne[1]; r++)
			for (int64_t g = 0; g < t->ne[0]; g += mm) {
				int kept = 0;
				for (int j = 0; j < mm; j++)
					kept += fake_get(t, r * t->ne[0] + g + j) != 0;
				ck_assert_int_eq(kept, n);
			}
	}
	fake_calib_free(&c);
	fake_model_free(&m);
}
END_TEST

START_TEST(beats_magnitude_on_calibration_error)
{
	struct pb_model dense, sg, mag, sg24, nm24;
	struct fake_calib c;
	const char *s50[] = { "sparsity", "0.5", NULL };
	const char *m50[] = { "sparsity", "0.5", "scope", "per-row", NULL };
	const char *s24[] = { "n", "2", "m", "4", NULL };
	const char *n24[] = { "n", "2", "m", "4", NULL };

	fake_model_make(&dense, 2, 24, 40, PB_F32, 61);
	fake_model_copy(&sg, &dense);
	fake_model_copy(&mag, &dense);
	fake_model_copy(&sg24, &dense);
	fake_model_copy(&nm24, &dense);
	fake_calib_init(&c, &dense, 64, 8, -1);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, s50, &sg, &c.base, NULL, 1, 1), 0);
	ck_assert_int_eq(fake_prune(MAGNITUDE_SO, m50, &mag, NULL, NULL, 1, 1), 0);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, s24, &sg24, &c.base, NULL, 1, 1), 0);
	ck_assert_int_eq(fake_prune(NM_SO, n24, &nm24, NULL, NULL, 1, 1), 0);
	for (int i = 0; i < dense.n_tensors; i++) {
		if (!linear(&dense.tensors[i]))
			continue;
		int64_t n = pb_tensor_nelements(&dense.tensors[i]);
		ck_assert_int_eq(fake_zeros(&sg.tensors[i]), n / 2);
		double es = fake_recon_error(&c, &dense, &sg, i);
		double em = fake_recon_error(&c, &dense, &mag, i);
		double es24 = fake_recon_error(&c, &dense, &sg24, i);
		double em24 = fake_recon_error(&c, &dense, &nm24, i);
		ck_assert_msg(es < em, "%s: sparsegpt %g >= magnitude %g", dense.tensors[i].name, es, em);
		ck_assert_msg(es24 < em24, "%s 2:4: sparsegpt %g >= magnitude %g",
			      dense.tensors[i].name, es24, em24);
	}
	fake_calib_free(&c);
	fake_model_free(&dense);
	fake_model_free(&sg);
	fake_model_free(&mag);
	fake_model_free(&sg24);
	fake_model_free(&nm24);
}
END_TEST

START_TEST(deterministic_any_threads)
{
	struct pb_model a, b, c2;
	struct fake_calib c;
	const char *kv[] = { "sparsity", "0.6", NULL };

	/* big enough rows × block² for the row threads to start */
	fake_model_make(&a, 1, 64, 96, PB_BF16, 67);
	fake_model_copy(&b, &a);
	fake_model_copy(&c2, &a);
	fake_calib_init(&c, &a, 80, 6, -1);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &a, &c.base, NULL, 1, 1), 0);
	c.m = &b;
	c.last_layer = 0;
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &b, &c.base, NULL, 4, 2), 0);
	c.m = &c2;
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &c2, &c.base, NULL, 3, 1), 0);
	ck_assert(fake_same_bytes(&a, &b));
	ck_assert(fake_same_bytes(&a, &c2));
	c.m = &a;
	fake_calib_free(&c);
	fake_model_free(&a);
	fake_model_free(&b);
	fake_model_free(&c2);
}
END_TEST

START_TEST(sparsity_zero_is_identity)
{
	struct pb_model m, orig;
	struct fake_calib c;
	const char *kv[] = { "sparsity", "0", NULL };
	fake_model_make(&m, 2, 8, 12, PB_F32, 71);
	fake_model_copy(&orig, &m);
	fake_calib_init(&c, &m, 8, 2, 3);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, kv, &m, &c.base, NULL, 1, 1), 0);
	ck_assert(fake_same_bytes(&m, &orig));
	fake_calib_free(&c);
	fake_model_free(&m);
	fake_model_free(&orig);
}
END_TEST

START_TEST(refuses_what_it_cannot_read)
{
	struct pb_model m;
	const struct pb_pruner_ops *ops = fake_plugin(SPARSEGPT_SO)->ops;
	ck_assert_uint_eq(ops->calib, PB_CALIB_XTX);
	ck_assert_uint_eq(ops->in_formats, PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16));
	for (const struct pb_option *o = fake_plugin(SPARSEGPT_SO)->options; o->key; o++)
		ck_assert_msg(o->help && strlen(o->help) > 10, "%s undocumented", o->key);
	fake_model_make(&m, 1, 32, 32, PB_F32, 73);
	for (int i = 0; i < m.n_tensors; i++)
		if (m.tensors[i].role == PB_ROLE_ATTN_V)
			m.tensors[i].dtype = PB_Q4_0;
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, NULL, &m, NULL, NULL, 1, 1), -ENOTSUP);
	fake_model_free(&m);
	/* and without calibration it fails, saying why */
	fake_model_make(&m, 1, 8, 8, PB_F32, 73);
	ck_assert_int_eq(fake_prune(SPARSEGPT_SO, NULL, &m, NULL, NULL, 1, 1), -EINVAL);
	fake_model_free(&m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sparsegpt");
	TCase *tc = tcase_create("all");

	tcase_add_test(tc, agrees_with_obs_unstructured);
	tcase_add_loop_test(tc, agrees_with_obs_nm, 0, (int)LEN(nm_cases));
	tcase_add_loop_test(tc, nm_pattern_exact, 0, (int)LEN(nm_cases));
	tcase_add_test(tc, beats_magnitude_on_calibration_error);
	tcase_add_test(tc, deterministic_any_threads);
	tcase_add_test(tc, sparsity_zero_is_identity);
	tcase_add_test(tc, refuses_what_it_cannot_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

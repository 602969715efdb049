/* tests/pruners/test-unstructured.c — the random, magnitude (per-row,
 * per-tensor, global), nm and wanda pruners, loaded from the build tree and
 * run on fake models with a fake calibration handle (fakecalib.h): exact
 * counts, exact N:M patterns, Wanda's choice on a hand-computed example,
 * the sequential calibration order, sparsity 0 as the identity,
 * determinism, and check() refusing formats the pruners cannot read. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecalib.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static int64_t round_count(double s, int64_t n)
{
	return llround(s * (double)n);
}

static int is_pruned_linear(const struct pb_tensor *t)
{
	return t->layer >= 0 && pb_role_is_linear(t->role);
}

/* ---- random ---------------------------------------------------------------- */

START_TEST(random_exact_per_tensor)
{
	static const double sp[] = { 0.1, 0.37, 0.5, 0.9, 1.0 };
	for (size_t k = 0; k < LEN(sp); k++) {
		struct pb_model m;
		char s[32];
		snprintf(s, sizeof s, "%g", sp[k]);
		const char *kv[] = { "sparsity", s, NULL };
		fake_model_make(&m, 2, 12, 20, k % 2 ? PB_F16 : PB_F32, 7);
		ck_assert_int_eq(fake_prune(RANDOM_SO, kv, &m, NULL, NULL, 1, 42), 0);
		for (int i = 0; i < m.n_tensors; i++) {
			const struct pb_tensor *t = &m.tensors[i];
			int64_t want = is_pruned_linear(t) ? round_count(sp[k], pb_tensor_nelements(t)) : 0;
			ck_assert_msg(fake_zeros(t) == want, "%s at %g: %lld zeros, want %lld",
				      t->name, sp[k], (long long)fake_zeros(t), (long long)want);
		}
		fake_model_free(&m);
	}
}
END_TEST

START_TEST(random_exact_global_and_uniform)
{
	struct pb_model m;
	const char *kv[] = { "sparsity", "0.3", "scope", "global", "include_output", "true", NULL };
	int64_t total = 0, z = 0, zq = 0, nq = 0, zd = 0, nd = 0;

	fake_model_make(&m, 3, 32, 64, PB_F32, 9);
	ck_assert_int_eq(fake_prune(RANDOM_SO, kv, &m, NULL, NULL, 1, 5), 0);
	for (int i = 0; i < m.n_tensors; i++) {
		const struct pb_tensor *t = &m.tensors[i];
		if (!pb_role_is_linear(t->role)) {
			ck_assert_int_eq(fake_zeros(t), 0);
			continue;
		}
		total += pb_tensor_nelements(t);
		z += fake_zeros(t);
		if (t->role == PB_ROLE_ATTN_Q) {
			nq += pb_tensor_nelements(t);
			zq += fake_zeros(t);
		}
		if (t->role == PB_ROLE_FFN_DOWN) {
			nd += pb_tensor_nelements(t);
			zd += fake_zeros(t);
		}
	}
	ck_assert_int_eq(z, round_count(0.3, total));
	/* uniform: each subset gets its share within 5 standard deviations */
	ck_assert_msg(fabs((double)zq - 0.3 * nq) < 5 * sqrt(0.21 * nq), "q: %lld of %lld", (long long)zq, (long long)nq);
	ck_assert_msg(fabs((double)zd - 0.3 * nd) < 5 * sqrt(0.21 * nd), "down: %lld of %lld", (long long)zd, (long long)nd);
	fake_model_free(&m);
}
END_TEST

START_TEST(random_deterministic_by_seed)
{
	struct pb_model a, b, c;
	const char *kv[] = { "sparsity", "0.5", NULL };
	fake_model_make(&a, 2, 16, 24, PB_F32, 3);
	fake_model_copy(&b, &a);
	fake_model_copy(&c, &a);
	ck_assert_int_eq(fake_prune(RANDOM_SO, kv, &a, NULL, NULL, 1, 77), 0);
	ck_assert_int_eq(fake_prune(RANDOM_SO, kv, &b, NULL, NULL, 4, 77), 0);
	ck_assert_int_eq(fake_prune(RANDOM_SO, kv, &c, NULL, NULL, 1, 78), 0);
	ck_assert(fake_same_bytes(&a, &b));
	ck_assert(!fake_same_bytes(&a, &c));
	fake_model_free(&a);
	fake_model_free(&b);
	fake_model_free(&c);
}
END_TEST

/* ---- magnitude ---------------------------------------------------------------- */

START_TEST(magnitude_per_row_exact)
{
	static const double sp[] = { 0.25, 0.5, 0.7 };
	for (size_t k = 0; k < LEN(sp); k++) {
		struct pb_model m, orig;
		char s[32];
		snprintf(s, sizeof s, "%g", sp[k]);
		const char *kv[] = { "sparsity", s, "scope", "per-row", NULL };
		fake_model_make(&m, 2, 12, 20, k == 1 ? PB_BF16 : PB_F32, 11);
		fake_model_copy(&orig, &m);
		ck_assert_int_eq(fake_prune(MAGNITUDE_SO, kv, &m, NULL, NULL, 1, 1), 0);
		for (int i = 0; i < m.n_tensors; i++) {
			const struct pb_tensor *t = &m.tensors[i], *o = &orig.tensors[i];
			if (!is_pruned_linear(t)) {
				ck_assert_int_eq(fake_zeros(t), 0);
				continue;
			}
			int64_t cols = t->ne[0];
			for (int64_t r = 0; r < t->ne[1]; r++) {
				int64_t z = 0;
				float max_gone = 0, min_kept = INFINITY;
				for (int64_t j = 0; j < cols; j++) {
					float a = fabsf(fake_get(o, r * cols + j));
					if (fake_get(t, r * cols + j) == 0) {
						z++;
						max_gone = fmaxf(max_gone, a);
					} else {
						min_kept = fminf(min_kept, a);
					}
				}
				ck_assert_int_eq(z, round_count(sp[k], cols));
				ck_assert_float_le(max_gone, min_kept);
			}
		}
		fake_model_free(&m);
		fake_model_free(&orig);
	}
}
END_TEST

START_TEST(magnitude_per_tensor_and_global_exact)
{
	struct pb_model m;
	const char *pt[] = { "sparsity", "0.45", NULL };
	const char *gl[] = { "sparsity", "0.45", "scope", "global", NULL };
	int64_t total = 0, z = 0;

	fake_model_make(&m, 2, 12, 20, PB_F32, 13);
	ck_assert_int_eq(fake_prune(MAGNITUDE_SO, pt, &m, NULL, NULL, 1, 1), 0);
	for (int i = 0; i < m.n_tensors; i++)
		if (is_pruned_linear(&m.tensors[i]))
			ck_assert_int_eq(fake_zeros(&m.tensors[i]),
					 round_count(0.45, pb_tensor_nelements(&m.tensors[i])));
	fake_model_free(&m);

	fake_model_make(&m, 2, 12, 20, PB_F32, 13);
	ck_assert_int_eq(fake_prune(MAGNITUDE_SO, gl, &m, NULL, NULL, 1, 1), 0);
	for (int i = 0; i < m.n_tensors; i++)
		if (is_pruned_linear(&m.tensors[i])) {
			total += pb_tensor_nelements(&m.tensors[i]);
			z += fake_zeros(&m.tensors[i]);
		}
	ck_assert_int_eq(z, round_count(0.45, total));
	fake_model_free(&m);
}
END_TEST

/* ---- N:M ------------------------------------------------------------------------ */

/* Every group of m columns of every pruned linear keeps exactly n
 * non-zeros (the weights have no zeros to start with), and if `orig` and
 * `score_by_mag` are given, the kept ones have the largest |w|. */
static void assert_nm(const struct pb_model *m, const struct pb_model *orig, int n, int mm)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!is_pruned_linear(t)) {
			ck_assert_int_eq(fake_zeros(t), 0);
			continue;
		}
		int64_t cols = t->ne[0];
		ck_assert_int_eq(cols % mm, 0);
		for (int64_t r = 0; r < t->ne[1]; r++)
			for (int64_t g = 0; g < cols; g += mm) {
				int kept = 0;
				float max_gone = 0, min_kept = INFINITY;
				for (int j = 0; j < mm; j++) {
					float v = fake_get(t, r * cols + g + j);
					float a = orig ? fabsf(fake_get(&orig->tensors[i], r * cols + g + j)) : 0;
					if (v != 0) {
						kept++;
						min_kept = fminf(min_kept, a);
					} else {
						max_gone = fmaxf(max_gone, a);
					}
				}
				ck_assert_msg(kept == n, "%s row %lld group %lld: %d kept, want %d:%d",
					      t->name, (long long)r, (long long)g, kept, n, mm);
				if (orig)
					ck_assert_float_le(max_gone, min_kept);
			}
	}
}

static const struct { const char *n, *m; } nm_cases[] = { { "2", "4" }, { "4", "8" }, { "1", "4" } };

START_TEST(nm_magnitude_pattern)
{
	struct pb_model m, orig;
	const char *kv[] = { "n", nm_cases[_i].n, "m", nm_cases[_i].m, NULL };
	fake_model_make(&m, 2, 16, 24, PB_F32, 17);
	fake_model_copy(&orig, &m);
	ck_assert_int_eq(fake_prune(NM_SO, kv, &m, NULL, NULL, 1, 1), 0);
	assert_nm(&m, &orig, atoi(nm_cases[_i].n), atoi(nm_cases[_i].m));
	fake_model_free(&m);
	fake_model_free(&orig);
}
END_TEST

START_TEST(nm_wanda_pattern_and_order)
{
	struct pb_model m;
	struct fake_calib c;
	const char *kv[] = { "n", nm_cases[_i].n, "m", nm_cases[_i].m, "score", "wanda", NULL };
	const char *w[] = { "n", nm_cases[_i].n, "m", nm_cases[_i].m, NULL };
	struct pb_model m2;

	fake_model_make(&m, 3, 16, 24, PB_F32, 19);
	fake_model_copy(&m2, &m);
	fake_calib_init(&c, &m, 20, 5, -1);
	ck_assert_int_eq(fake_prune(NM_SO, kv, &m, &c.base, NULL, 1, 1), 0);
	assert_nm(&m, NULL, atoi(nm_cases[_i].n), atoi(nm_cases[_i].m));
	ck_assert_int_eq(c.calls, 3);
	ck_assert(c.order_ok && c.sequential_ok);
	ck_assert_uint_eq(c.wants, PB_CALIB_COL_SQ);
	fake_calib_free(&c);

	/* wanda's own n:m is the same computation */
	fake_calib_init(&c, &m2, 20, 5, -1);
	ck_assert_int_eq(fake_prune(WANDA_SO, w, &m2, &c.base, NULL, 1, 1), 0);
	ck_assert(fake_same_bytes(&m, &m2));
	fake_calib_free(&c);
	fake_model_free(&m);
	fake_model_free(&m2);
}
END_TEST

START_TEST(nm_partial_group)
{
	/* 18 input columns at 2:4: four whole groups and one of 2, kept whole */
	struct pb_model m;
	const char *kv[] = { "tensors", "ffn", NULL };
	fake_model_make(&m, 1, 16, 18, PB_F32, 23);
	ck_assert_int_eq(fake_prune(NM_SO, kv, &m, NULL, NULL, 1, 1), 0);
	const struct pb_tensor *down = NULL;
	for (int i = 0; i < m.n_tensors; i++)
		if (m.tensors[i].role == PB_ROLE_FFN_DOWN)
			down = &m.tensors[i];
	ck_assert_int_eq(down->ne[0], 18);
	for (int64_t r = 0; r < down->ne[1]; r++) {
		int kept = 0;
		for (int j = 0; j < 16; j++)
			kept += fake_get(down, r * 18 + j) != 0;
		ck_assert_int_eq(kept, 8);
		ck_assert(fake_get(down, r * 18 + 16) != 0 && fake_get(down, r * 18 + 17) != 0);
	}
	fake_model_free(&m);
}
END_TEST

/* ---- wanda -------------------------------------------------------------------- */

/* One block with one linear (attn_output, 4 inputs, 2 rows) and one
 * calibration token x = (1, 2, 0.5, 4): ‖X_j‖ = |x_j|. */
START_TEST(wanda_hand_example)
{
	static const float w0[8] = { 1, -2, 3, 0.5f, 4, 1, -1, 2 };
	/* scores row 0: 1 4 1.5 2 → drop cols 0, 2; row 1: 4 2 0.5 8 → drop 2, 1.
	 * Magnitude would drop cols 3, 0 of row 0 instead. */
	static const float want[8] = { 0, -2, 0, 0.5f, 4, 0, 0, 2 };
	struct pb_model m;
	struct fake_calib c;
	const char *kv[] = { "sparsity", "0.5", "tensors", "attention", NULL };

	fake_model_make(&m, 1, 4, 4, PB_F32, 29);
	fake_calib_init(&c, &m, 1, 1, -1);
	for (int i = 0; i < m.n_tensors; i++) {
		struct pb_tensor *t = &m.tensors[i];
		if (t->role != PB_ROLE_ATTN_O)
			continue;
		/* make it 2 rows × 4 columns */
		t->ne[1] = 2;
		memcpy(t->data, w0, sizeof w0);
		static const float x[4] = { 1, 2, 0.5f, 4 };
		memcpy(c.x[i], x, sizeof x);
	}
	ck_assert_int_eq(fake_prune(WANDA_SO, kv, &m, &c.base, NULL, 1, 1), 0);
	for (int i = 0; i < m.n_tensors; i++)
		if (m.tensors[i].role == PB_ROLE_ATTN_O)
			for (int j = 0; j < 8; j++)
				ck_assert_float_eq(fake_get(&m.tensors[i], j), want[j]);
	fake_calib_free(&c);
	fake_model_free(&m);
}
END_TEST

START_TEST(wanda_unstructured_per_row)
{
	struct pb_model m, orig;
	struct fake_calib c;
	struct pb_prune_target tg[64];
	const char *kv[] = { "sparsity", "0.6", NULL };

	fake_model_make(&m, 2, 10, 14, PB_F16, 31);
	fake_model_copy(&orig, &m);
	fake_calib_init(&c, &m, 16, 3, -1);
	ck_assert_int_le(m.n_tensors, 64);
	ck_assert_int_eq(fake_prune(WANDA_SO, kv, &m, &c.base, tg, 1, 1), 0);
	ck_assert(c.order_ok && c.sequential_ok);
	for (int i = 0; i < m.n_tensors; i++) {
		const struct pb_tensor *t = &m.tensors[i];
		if (!is_pruned_linear(t)) {
			ck_assert(tg[i].sparsity < 0);
			ck_assert_int_eq(fake_zeros(t), 0);
			continue;
		}
		ck_assert(tg[i].sparsity == 0.6);
		int64_t cols = t->ne[0];
		for (int64_t r = 0; r < t->ne[1]; r++) {
			int64_t z = 0;
			double max_gone = 0, min_kept = INFINITY;
			for (int64_t j = 0; j < cols; j++) {
				double col = 0;
				for (int tok = 0; tok < c.n_tok; tok++)
					col += (double)c.x[i][tok * cols + j] * c.x[i][tok * cols + j];
				double s = fabsf(fake_get(&orig.tensors[i], r * cols + j)) * sqrt(col);
				if (fake_get(t, r * cols + j) == 0) {
					z++;
					max_gone = fmax(max_gone, s);
				} else {
					ck_assert_float_eq(fake_get(t, r * cols + j),
							   fake_get(&orig.tensors[i], r * cols + j));
					min_kept = fmin(min_kept, s);
				}
			}
			ck_assert_int_eq(z, round_count(0.6, cols));
			ck_assert(max_gone <= min_kept * (1 + 1e-6));
		}
	}
	fake_calib_free(&c);
	fake_model_free(&m);
	fake_model_free(&orig);
}
END_TEST

START_TEST(wanda_needs_calibration)
{
	struct pb_model m;
	fake_model_make(&m, 1, 8, 8, PB_F32, 37);
	ck_assert_int_eq(fake_prune(WANDA_SO, NULL, &m, NULL, NULL, 1, 1), -EINVAL);
	fake_model_free(&m);
}
END_TEST

/* ---- all ------------------------------------------------------------------------ */

START_TEST(sparsity_zero_is_identity)
{
	static const char *const sos[] = { RANDOM_SO, MAGNITUDE_SO, MAGNITUDE_SO, MAGNITUDE_SO, WANDA_SO };
	static const char *const scope[] = { "per-tensor", "per-tensor", "global", "per-row", NULL };
	for (size_t k = 0; k < LEN(sos); k++) {
		struct pb_model m, orig;
		struct fake_calib c;
		const char *kv[] = { "sparsity", "0", scope[k] ? "scope" : NULL, scope[k], NULL };
		fake_model_make(&m, 2, 8, 12, PB_F16, 41);
		fake_model_copy(&orig, &m);
		fake_calib_init(&c, &m, 8, 2, -1);
		ck_assert_int_eq(fake_prune(sos[k], kv, &m, &c.base, NULL, 1, 1), 0);
		ck_assert_msg(fake_same_bytes(&m, &orig), "%s (%s) changed weights at 0", sos[k],
			      scope[k] ? scope[k] : "");
		fake_calib_free(&c);
		fake_model_free(&m);
		fake_model_free(&orig);
	}
}
END_TEST

START_TEST(check_rejects_quantized)
{
	static const char *const sos[] = { RANDOM_SO, MAGNITUDE_SO, NM_SO, WANDA_SO };
	for (size_t k = 0; k < LEN(sos); k++) {
		struct pb_model m, orig;
		fake_model_make(&m, 1, 32, 32, PB_F32, 43);
		/* call one linear Q8_0: 32 columns are one block of 34 bytes per row */
		for (int i = 0; i < m.n_tensors; i++)
			if (m.tensors[i].role == PB_ROLE_FFN_UP)
				m.tensors[i].dtype = PB_Q8_0;
		fake_model_copy(&orig, &m);
		ck_assert_int_eq(fake_prune(sos[k], NULL, &m, NULL, NULL, 1, 1), -ENOTSUP);
		ck_assert(fake_same_bytes(&m, &orig));
		const struct pb_pruner_ops *ops = fake_plugin(sos[k])->ops;
		ck_assert_uint_eq(ops->in_formats, PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16));
		fake_model_free(&m);
		fake_model_free(&orig);
	}
}
END_TEST

START_TEST(declared_calibration)
{
	ck_assert_uint_eq(((const struct pb_pruner_ops *)fake_plugin(RANDOM_SO)->ops)->calib, 0);
	ck_assert_uint_eq(((const struct pb_pruner_ops *)fake_plugin(MAGNITUDE_SO)->ops)->calib, 0);
	ck_assert_uint_eq(((const struct pb_pruner_ops *)fake_plugin(NM_SO)->ops)->calib, PB_CALIB_COL_SQ);
	ck_assert_uint_eq(((const struct pb_pruner_ops *)fake_plugin(WANDA_SO)->ops)->calib, PB_CALIB_COL_SQ);
	/* every option documented */
	static const char *const sos[] = { RANDOM_SO, MAGNITUDE_SO, NM_SO, WANDA_SO };
	for (size_t k = 0; k < LEN(sos); k++)
		for (const struct pb_option *o = fake_plugin(sos[k])->options; o->key; o++)
			ck_assert_msg(o->help && strlen(o->help) > 10, "%s: %s undocumented", sos[k], o->key);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("unstructured");
	TCase *tc = tcase_create("all");

	tcase_add_test(tc, random_exact_per_tensor);
	tcase_add_test(tc, random_exact_global_and_uniform);
	tcase_add_test(tc, random_deterministic_by_seed);
	tcase_add_test(tc, magnitude_per_row_exact);
	tcase_add_test(tc, magnitude_per_tensor_and_global_exact);
	tcase_add_loop_test(tc, nm_magnitude_pattern, 0, (int)LEN(nm_cases));
	tcase_add_loop_test(tc, nm_wanda_pattern_and_order, 0, (int)LEN(nm_cases));
	tcase_add_test(tc, nm_partial_group);
	tcase_add_test(tc, wanda_hand_example);
	tcase_add_test(tc, wanda_unstructured_per_row);
	tcase_add_test(tc, wanda_needs_calibration);
	tcase_add_test(tc, sparsity_zero_is_identity);
	tcase_add_test(tc, check_rejects_quantized);
	tcase_add_test(tc, declared_calibration);
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

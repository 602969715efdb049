/* tests/cpu-blas/test-gemm.c — the native GEMM of cpu-blas's prefill
 * (plugins/backends/cpu-blas/gemm*.c, compiled into this test) at every
 * ISA level this CPU runs — portable C, AVX2+FMA, AVX-512F, NEON (arm64:
 * the cross build runs this test under qemu-aarch64) — on odd
 * shapes: token counts that are not multiples of any micro-tile's mr
 * (1 … 130), row counts that are not multiples of nr, n_in that is not a
 * multiple of the K block nor of the packing's 8 or 16 (1, 3, 255, 257,
 * 600: ragged panels, masked tails, several K blocks), x and y with
 * strides wider than the rows:
 *  - every output within the float error bound of a dot product of n_in
 *    terms, against the sum in double: |y − E| ≤ (n_in + 2)·2^-23·Σ|x·w|
 *    (2× the textbook bound n·u·Σ|x·w| of a chain of n roundings), while
 *    a wrong element, transpose or tail moves y by about |x·w|;
 *  - at the SIMD levels, the exact bits of one fused multiply-add chain
 *    over k in order from zero (fmaf), the rule gemm.h states: a kernel
 *    that splits k over several accumulators, or rounds the product
 *    before adding, fails here even when within the bound;
 *  - the same bits whatever the tiling: the tile computed whole equals it
 *    computed one row at a time (other panel edges) and one token at a
 *    time (other micro-tiles) — what lets the plugin promise results
 *    independent of `threads` (gemm.h);
 *  - outputs beyond the tile (the y stride's padding) untouched.
 * A level the CPU lacks is skipped with a note on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "gemm.h"

#define N_LEVELS 4
static const char *const level_name[N_LEVELS] = { "portable", "avx2", "avx512", "neon" };
static struct cb_gemm lv[N_LEVELS];
static int have[N_LEVELS];

static void setup(void)
{
	cb_gemm_portable(&lv[0]);
	have[0] = 1;
	have[1] = cb_gemm_avx2(&lv[1]);
	have[2] = cb_gemm_avx512(&lv[2]);
	have[3] = cb_gemm_neon(&lv[3]);
	for (int l = 1; l < N_LEVELS; l++)
		if (!have[l])
			fprintf(stderr, "note: this CPU does not run %s; its GEMM is not tested\n",
				level_name[l]);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

struct wmat {
	const float *w;
	int64_t n_in;
};

static const float *row_of(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *buf)
{
	const struct wmat *m = ctx;
	(void)kc;
	(void)buf;
	return m->w + r * m->n_in + k0;
}

static float *scratch_new(void)
{
	float *s = NULL;
	ck_assert_int_eq(posix_memalign((void **)&s, 64, cb_gemm_scratch_floats() * sizeof *s), 0);
	return s;
}

#define SENTINEL 12345.0f

/* y (nt rows of stride ys, n_rows used) filled with SENTINEL, then the
 * tile */
static float *run_tile(const struct cb_gemm *g, const struct cb_gemm_w *gw, int64_t n_in,
		       int64_t n_rows, const float *x, int64_t xs, int nt, int64_t ys, float *scratch)
{
	float *y = malloc((size_t)(nt * ys) * sizeof *y);
	for (int64_t i = 0; i < nt * ys; i++)
		y[i] = SENTINEL;
	cb_gemm_tile(g, gw, 0, n_rows, n_in, x, xs, nt, y, ys, scratch);
	return y;
}

static void one_shape(int l, int nt, int64_t n_rows, int64_t n_in, float *scratch)
{
	const struct cb_gemm *g = &lv[l];
	const int64_t xs = n_in + 5, ys = n_rows + 3;
	float *w = malloc((size_t)(n_rows * n_in) * sizeof *w);
	float *x = malloc((size_t)(nt * xs) * sizeof *x);
	for (int64_t i = 0; i < n_rows * n_in; i++)
		w[i] = frand();
	for (int64_t i = 0; i < nt * xs; i++)
		x[i] = frand();
	const struct wmat m = { w, n_in };
	const struct cb_gemm_w gw = { row_of, &m, (const uint8_t *)w, (size_t)n_in * sizeof *w };
	float *y = run_tile(g, &gw, n_in, n_rows, x, xs, nt, ys, scratch);
	for (int t = 0; t < nt; t++) {
		for (int64_t r = 0; r < n_rows; r++) {
			double e = 0, a = 0;
			float chain = 0.0f;
			for (int64_t k = 0; k < n_in; k++) {
				e += (double)x[t * xs + k] * w[r * n_in + k];
				a += fabs((double)x[t * xs + k] * w[r * n_in + k]);
				chain = fmaf(x[t * xs + k], w[r * n_in + k], chain);
			}
			const double got = y[t * ys + r], bound = (double)(n_in + 2) * 0x1p-23 * a;
			ck_assert_msg(fabs(got - e) <= bound, "%s: %d tokens × %lld rows × %lld: y[%d][%lld] "
				      "= %.9g, expected %.9g (bound %.3g)", level_name[l], nt,
				      (long long)n_rows, (long long)n_in, t, (long long)r, got, e, bound);
			/* portable C: whether `c += a·w` contracts is the compiler's call */
			ck_assert_msg(l == 0 || !memcmp(&y[t * ys + r], &chain, sizeof chain),
				      "%s: %d tokens × %lld rows × %lld: y[%d][%lld] = %a, the fma chain "
				      "over k gives %a", level_name[l], nt, (long long)n_rows,
				      (long long)n_in, t, (long long)r, y[t * ys + r], chain);
		}
		for (int64_t r = n_rows; r < ys; r++)
			ck_assert_msg(y[t * ys + r] == SENTINEL, "%s: y[%d][%lld] past the tile written",
				      level_name[l], t, (long long)r);
	}
	/* one row at a time, then one token at a time: the same bits */
	float *y1 = malloc((size_t)(nt * ys) * sizeof *y1);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			for (int64_t r = 0; r < n_rows; r++)
				cb_gemm_tile(g, &gw, r, 1, n_in, x, xs, nt, y1 + r, ys, scratch);
		else
			for (int t = 0; t < nt; t++)
				cb_gemm_tile(g, &gw, 0, n_rows, n_in, x + t * xs, xs, 1, y1 + t * ys,
					     ys, scratch);
		for (int t = 0; t < nt; t++)
			for (int64_t r = 0; r < n_rows; r++)
				ck_assert_msg(!memcmp(&y[t * ys + r], &y1[t * ys + r], sizeof(float)),
					      "%s: %d tokens × %lld rows × %lld: y[%d][%lld] is %a whole, %a "
					      "one %s at a time", level_name[l], nt, (long long)n_rows,
					      (long long)n_in, t, (long long)r, y[t * ys + r], y1[t * ys + r],
					      pass ? "token" : "row");
	}
	free(y1);
	free(y);
	free(x);
	free(w);
}

START_TEST(odd_shapes)
{
	static const int toks[] = { 1, 5, 7, 13, 37, 130 };
	static const int64_t rows[] = { 1, 17, 33, CB_GEMM_TILE };
	static const int64_t ins[] = { 1, 3, 255, 257, 600 };
	float *scratch = scratch_new();
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		for (size_t a = 0; a < sizeof toks / sizeof *toks; a++)
			for (size_t b = 0; b < sizeof rows / sizeof *rows; b++)
				for (size_t c = 0; c < sizeof ins / sizeof *ins; c++)
					one_shape(l, toks[a], rows[b], ins[c], scratch);
	}
	free(scratch);
}
END_TEST

/* the levels' micro-tiles fit the driver's limits */
START_TEST(shapes_declared)
{
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		ck_assert_int_le(lv[l].nr, CB_GEMM_NR_MAX);
		ck_assert_int_eq(CB_GEMM_TILE % lv[l].nr, 0);
		ck_assert_int_ge(lv[l].mr, 1);
	}
	ck_assert_int_eq(CB_GEMM_KC % 256, 0);
}
END_TEST

int main(void)
{
	setup();
	Suite *s = suite_create("gemm");
	TCase *tc = tcase_create("gemm");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shapes_declared);
	tcase_add_test(tc, odd_shapes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

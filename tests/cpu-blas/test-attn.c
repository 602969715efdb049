/* tests/cpu-blas/test-attn.c — cpu-blas's chunked attention row
 * (cb_attn_row and its kernels, plugins/backends/cpu-blas/kernels-*attn.c,
 * compiled into this test) at every SIMD level this CPU runs — portable
 * C, AVX2, AVX-512 — against a plain softmax in double, on odd shapes:
 * head_dim 1, 3, 64, 80, 128, 256 (masked and scalar tails, one and two
 * accumulator strips), 1 … 600 positions (one chunk, a chunk and one,
 * several chunks), scores whose max rises late (the per-chunk rescale)
 * or comes first, a bias, a softcap, K/V rows strided as in a GQA cache,
 * F32 and F16 caches.  The bound per output element i:
 *     |y_i − E_i| ≤ 4·(2·δs + (n + 16)·2^-24) · Σ_p w_p·|v_pi| / Σ_p w_p
 * where w are the exact softmax weights and δs bounds a score's float
 * error (a dot product of hd terms, then the scale and bias):
 * (hd + 4)·2^-24·scale·Σ|q·k| + 2^-23·|s|.  A dropped, doubled or
 * misweighted position moves y by about w_p·|v_p| / Σ w, ≥ 1/600 of the
 * scale here, far above the bound.  The accumulator starts full of NaN:
 * the first chunk must not read it.  Also: no key in sight gives 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cpu-blas.h"

#define N_LEVELS 3
static const char *const level_name[N_LEVELS] = { "portable", "avx2", "avx512" };
static struct cb_kernels lv[N_LEVELS];
static int have[N_LEVELS];

static void setup(void)
{
	for (int l = 0; l < N_LEVELS; l++) {
		have[l] = cb_attn_kernels(&lv[l], (enum cb_attn_level)l);
		if (!have[l])
			fprintf(stderr, "note: this CPU does not run %s; its attention is not tested\n",
				level_name[l]);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double drand(void)   /* uniform in [-1, 1) */
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0;
}

enum shape { RANDOM, RISING, FALLING };

/* One row: n positions of head_dim hd in a cache whose rows are `stride`
 * elements apart (the head at offset `off`), checked at every level. */
static void check_row(int64_t hd, int64_t n, enum shape shape, int bias, double softcap, int f16)
{
	const int64_t stride = 3 * hd + 5, off = hd + 2;   /* three heads and padding: GQA-like */
	const int64_t cells = (n ? n : 1) * stride;
	float *q = malloc((size_t)hd * sizeof *q), *kf = malloc((size_t)cells * sizeof *kf);
	float *vf = malloc((size_t)cells * sizeof *vf), *b = malloc((size_t)(n + 1) * sizeof *b);
	uint16_t *kh = malloc((size_t)cells * sizeof *kh), *vh = malloc((size_t)cells * sizeof *vh);
	float *y = malloc((size_t)hd * sizeof *y), *acc = malloc((size_t)hd * sizeof *acc);
	double *s = malloc((size_t)(n + 1) * sizeof *s), *err = malloc((size_t)(n + 1) * sizeof *err);
	ck_assert(q && kf && vf && b && kh && vh && y && acc && s && err);
	const float scale = (float)(3.0 / sqrt((double)hd));   /* scores up to ~±3·√hd·⅓ */
	for (int64_t i = 0; i < hd; i++)
		q[i] = (float)drand();
	for (int64_t i = 0; i < cells; i++) {
		kf[i] = (float)drand();
		vf[i] = (float)drand();
		kh[i] = pb_fp32_to_fp16(kf[i]);
		vh[i] = pb_fp32_to_fp16(vf[i]);
		if (f16) {   /* what the kernels read */
			kf[i] = pb_fp16_to_fp32(kh[i]);
			vf[i] = pb_fp16_to_fp32(vh[i]);
		}
	}
	for (int64_t p = 0; p < n; p++) {
		double t = (double)p / (double)n;
		b[p] = (float)(shape == RISING ? 12.0 * t : shape == FALLING ? -12.0 * t : 0.0);
		if (bias)
			b[p] += (float)(2.0 * drand());
	}
	const int use_bias = bias || shape != RANDOM;
	/* the exact result, and each score's float error bound */
	double mx = -INFINITY, sum = 0, ds = 0;
	for (int64_t p = 0; p < n; p++) {
		const float *kr = kf + p * stride + off;
		double d = 0, a = 0;
		for (int64_t i = 0; i < hd; i++) {
			d += (double)q[i] * kr[i];
			a += fabs((double)q[i] * kr[i]);
		}
		d = d * scale + (use_bias ? b[p] : 0.0);
		err[p] = (double)(hd + 4) * 0x1p-24 * scale * a + 0x1p-23 * fabs(d);
		if (softcap > 0) {   /* tanh's slope ≤ 1; then one float rounding */
			d = softcap * tanh(d / softcap);
			err[p] += 0x1p-23 * softcap;
		}
		s[p] = d;
		mx = d > mx ? d : mx;
		ds = err[p] > ds ? err[p] : ds;
	}
	for (int64_t p = 0; p < n; p++)
		sum += s[p] = exp(s[p] - mx);
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		for (int64_t i = 0; i < hd; i++) {
			acc[i] = NAN;
			y[i] = NAN;
		}
		const struct cb_attn_row r = {
			.q = q, .k = f16 ? (const void *)(kh + off) : (const void *)(kf + off),
			.v = f16 ? (const void *)(vh + off) : (const void *)(vf + off),
			.ks = stride, .vs = stride, .bias = use_bias ? b : NULL, .n = n, .hd = hd,
			.scale = scale, .softcap = softcap, .f16 = f16, .y = y,
		};
		cb_attn_row(&lv[l], &r, acc);
		for (int64_t i = 0; i < hd; i++) {
			double e = 0, mag = 0;
			for (int64_t p = 0; p < n; p++) {
				e += s[p] * vf[p * stride + off + i];
				mag += s[p] * fabs((double)vf[p * stride + off + i]);
			}
			e = n ? e / sum : 0.0;
			const double bound = n ? 4.0 * (2.0 * ds + (double)(n + 16) * 0x1p-24) * mag / sum : 0.0;
			ck_assert_msg(fabs(y[i] - e) <= bound,
				      "%s: hd %lld n %lld shape %d bias %d softcap %g f16 %d: y[%lld] = %.9g, "
				      "exact %.9g, |diff| %.3g > bound %.3g", level_name[l], (long long)hd,
				      (long long)n, shape, bias, softcap, f16, (long long)i, y[i], e,
				      fabs(y[i] - e), bound);
		}
	}
	free(q);
	free(kf);
	free(vf);
	free(b);
	free(kh);
	free(vh);
	free(y);
	free(acc);
	free(s);
	free(err);
}

START_TEST(odd_shapes)
{
	static const int64_t hds[] = { 1, 3, 64, 80, 128, 256 };
	static const int64_t ns[] = { 1, 2, 7, 8, 9, 127, 128, 129, 255, 300, 600 };
	for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
		for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
			for (int f16 = 0; f16 < 2; f16++) {
				check_row(hds[h], ns[k], RANDOM, 0, 0, f16);
				check_row(hds[h], ns[k], RANDOM, 1, 0, f16);
			}
}
END_TEST

/* the max in the last chunk (each chunk rescales what came before) and
 * in the first (later chunks add tiny weights), with and without softcap */
START_TEST(rescale_and_softcap)
{
	static const int64_t hds[] = { 3, 64, 80, 128 };
	static const int64_t ns[] = { 129, 257, 600 };
	for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
		for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
			for (int f16 = 0; f16 < 2; f16++) {
				check_row(hds[h], ns[k], RISING, 1, 0, f16);
				check_row(hds[h], ns[k], FALLING, 0, 0, f16);
				check_row(hds[h], ns[k], RISING, 1, 5.0, f16);
				check_row(hds[h], ns[k], RANDOM, 0, 2.0, f16);
			}
}
END_TEST

START_TEST(no_key_in_sight)
{
	check_row(64, 0, RANDOM, 0, 0, 0);
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		float q[5] = { 1, 2, 3, 4, 5 }, y[5], acc[5];
		const struct cb_attn_row r = { .q = q, .k = q, .v = q, .n = 0, .hd = 5, .scale = 1, .y = y };
		cb_attn_row(&lv[l], &r, acc);
		for (int i = 0; i < 5; i++)
			ck_assert_float_eq(y[i], 0.0f);
	}
}
END_TEST

/* exp over the range the softmax uses, every level against libm: ≤ 2
 * ulp (relative 2^-22) above 2^-125 (x > −86.6), 0 or tiny below (the
 * SIMD kernels flush below −87.33) */
START_TEST(kexp_accuracy)
{
	enum { N = 4099 };
	static float s[N], ref[N];
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		for (int i = 0; i < N; i++)
			s[i] = ref[i] = (float)(-100.0 * i / (N - 1));
		const double sum = lv[l].kexp(s, N, 0.0f);
		double rs = 0;
		for (int i = 0; i < N; i++) {
			const double e = exp((double)ref[i]);
			rs += e;
			if (e >= 0x1p-125)
				ck_assert_msg(fabs(s[i] - e) <= 0x1p-22 * e, "%s: exp(%.9g) = %.9g, libm %.9g",
					      level_name[l], ref[i], s[i], e);
			else
				ck_assert_msg(s[i] >= 0 && s[i] <= 0x1p-124, "%s: exp(%.9g) = %.9g",
					      level_name[l], ref[i], s[i]);
		}
		ck_assert_msg(fabs(sum - rs) <= N * 0x1p-24 * rs, "%s: Σ %.9g, libm %.9g", level_name[l], sum, rs);
	}
}
END_TEST

int main(void)
{
	setup();
	Suite *su = suite_create("cpu-blas-attn");
	TCase *tc = tcase_create("attn");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, odd_shapes);
	tcase_add_test(tc, rescale_and_softcap);
	tcase_add_test(tc, no_key_in_sight);
	tcase_add_test(tc, kexp_accuracy);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/cpu-blas/test-kquant-kernels.c — the cpu-blas k-quant kernels
 * (plugins/backends/cpu-blas/kernels-kquant.c, kernels-avx2-kquant.c,
 * compiled into this test) at every SIMD level this CPU runs — portable,
 * AVX2, AVX-512 VNNI — against an element-by-element decoder written in
 * the test (kquant-ref.c), on rows built byte by byte (random bits, all
 * bits set, 0x80, all clear), 1 to 4 tokens:
 *  - activation quantiser: |q| ≤ 127, |x − d·q| ≤ d/2 (+ the rounding of
 *    x·(127/max|x|): 4e-5·d), d = max|x| / 127,
 *    the sums of 16 exact; every SIMD level bit-identical to the portable
 *    one;
 *  - integer dots: the exact result is E = Σ_b d_x·Σ_i w_i·q_i (w_i exact
 *    in double); every level, the portable one included, computes the
 *    same integers per super-block and differs from E only by float
 *    rounding in its own summation order, so
 *        |out − E| ≤ (n/256 + 8) · 2^-23 · S,
 *        S = Σ_b |d_x| · Σ_i (|d·scale_i|·(u_i + off) + |dmin·min_i|)·|q_i|,
 *    the magnitudes its partial sums can reach (2× the worst-case float
 *    error bound of a chain of n/256 + 4 roundings; about 3e-6·S at n =
 *    4096).  Misreading one element's bits, scale or offset moves the
 *    result by about S/n (2.4e-4·S there), so any such slip fails;
 *  - dequantisation: every level bit-identical to the portable one, which
 *    is within 3 roundings (2^-22 relative) of the decoder;
 *  - the float GEMV (int8_act false): within float summation error of
 *    Σ w_i·x_i in double.
 * A level the CPU lacks is skipped with a note on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cpu-blas.h"
#include "kquant-ref.h"

#define N_LEVELS 3
static const char *const level_name[N_LEVELS] = { "portable", "avx2", "avx512vnni" };

/* the integer kernels of each level; have[l] = 0 when the CPU lacks it */
static struct cb_kernels lv[N_LEVELS];
static cb_dot_fn dots[2][PB_DTYPE_COUNT];   /* portable, AVX2 */
static cb_deq_fn deqs[2][PB_DTYPE_COUNT];
static int have[N_LEVELS], have_avx2_tables;

static void setup(void)
{
	memset(lv, 0, sizeof lv);
	cb_kquant_scalar_ext(&lv[0]);
	have[0] = 1;
	for (int l = 1; l < N_LEVELS; l++) {
		lv[l] = lv[0];
		have[l] = cb_kquant_avx2_ext(&lv[l], l == 1 ? CB_SIMD_AVX2 : CB_SIMD_VNNI);
		if (!have[l])
			fprintf(stderr, "note: this CPU does not run %s; its kernels are not tested\n",
				level_name[l]);
	}
	cb_kquant_scalar(dots[0], deqs[0]);
	cb_kquant_scalar(dots[1], deqs[1]);
	have_avx2_tables = cb_kquant_avx2(dots[1], deqs[1]);
}

static const char *tname(enum pb_dtype d)
{
	return pb_dtype_name(d);
}

/* x for nt tokens of n: uniform in [-1, 1), some 256-blocks scaled down
 * (small d), one all zero (d = 0), and one with a single large value */
static void fill_x(float *x, int64_t n, int nt)
{
	for (int64_t i = 0; i < n * nt; i++)
		x[i] = (float)kq_uniform();
	for (int64_t b = 0; b < n * nt / 256; b++) {
		float *xb = x + 256 * b;
		switch (b % 5) {
		case 1:
			for (int i = 0; i < 256; i++)
				xb[i] *= 1e-3f;
			break;
		case 3:
			memset(xb, 0, 256 * sizeof *xb);
			break;
		case 4:
			xb[kq_rand() % 256] = 40.0f;
			break;
		default:
			break;
		}
	}
}

struct xq_buf {
	struct cb_xq xq;
	int8_t *q;
	float *d;
	int16_t *bsum;
};

static void xq_alloc(struct xq_buf *b, int64_t n, int nt)
{
	b->q = malloc((size_t)(n * nt));
	b->d = malloc((size_t)(n * nt / 256) * sizeof(float));
	b->bsum = malloc((size_t)(n * nt / 16) * sizeof(int16_t));
	ck_assert(b->q && b->d && b->bsum);
	b->xq = (struct cb_xq){ .q = b->q, .d = b->d, .bsum = b->bsum, .n = n, .cap = n };
}

static void xq_quantize(const struct cb_kernels *k, struct xq_buf *b, const float *x, int64_t n,
			int nt)
{
	for (int t = 0; t < nt; t++)
		k->quant_k(x + t * n, n, b->q + t * n, b->d + t * (n / 256), b->bsum + t * (n / 16));
}

static void xq_free(struct xq_buf *b)
{
	free(b->q);
	free(b->d);
	free(b->bsum);
}

START_TEST(quantiser)
{
	static const int64_t ns[] = { 256, 768, 4096 };
	setup();
	for (size_t s = 0; s < sizeof ns / sizeof *ns; s++) {
		const int64_t n = ns[s];
		float *x = malloc((size_t)n * sizeof *x);
		struct xq_buf ref, got;
		fill_x(x, n, 1);
		xq_alloc(&ref, n, 1);
		xq_alloc(&got, n, 1);
		xq_quantize(&lv[0], &ref, x, n, 1);
		for (int64_t b = 0; b < n / 256; b++) {
			float amax = 0;
			for (int i = 0; i < 256; i++)
				amax = fmaxf(amax, fabsf(x[256 * b + i]));
			ck_assert_msg(ref.d[b] == amax / 127.0f, "n %lld block %lld: d %g, max|x|/127 %g",
				      (long long)n, (long long)b, ref.d[b], amax / 127.0f);
			for (int j = 0; j < 16; j++) {
				int sum = 0;
				for (int l = 0; l < 16; l++) {
					const int64_t i = 256 * b + 16 * j + l;
					const double err = fabs(x[i] - (double)ref.d[b] * ref.q[i]);
					ck_assert_msg(ref.q[i] >= -127 && ref.q[i] <= 127, "q %d", ref.q[i]);
					ck_assert_msg(err <= ref.d[b] * (0.5 + 4e-5), "x %g → q %d, d %g: "
						      "|x − d·q| %g > d/2", x[i], ref.q[i], ref.d[b], err);
					sum += ref.q[i];
				}
				ck_assert_int_eq(ref.bsum[16 * b + j], sum);
			}
		}
		for (int l = 1; l < N_LEVELS; l++) {
			if (!have[l])
				continue;
			xq_quantize(&lv[l], &got, x, n, 1);
			ck_assert_msg(!memcmp(ref.q, got.q, (size_t)n) &&
				      !memcmp(ref.d, got.d, (size_t)(n / 256) * sizeof(float)) &&
				      !memcmp(ref.bsum, got.bsum, (size_t)(n / 16) * sizeof(int16_t)),
				      "%s quantiser differs from the portable one (n %lld)", level_name[l],
				      (long long)n);
		}
		xq_free(&ref);
		xq_free(&got);
		free(x);
	}
}
END_TEST

/* one row × nt tokens at every level, against E within the bound */
static void qdot_case(enum pb_dtype d, int64_t n, int nt, enum kq_kind kind)
{
	const size_t rb = (size_t)(n / 256) * pb_dtype_block_bytes(d);
	uint8_t *w = malloc(rb);
	float *x = malloc((size_t)(n * nt) * sizeof *x);
	struct xq_buf xb;
	kq_fill_row(d, w, n, kind);
	fill_x(x, n, nt);
	xq_alloc(&xb, n, nt);
	/* the portable quantiser: the SIMD ones are bit-identical (quantiser) */
	xq_quantize(&lv[0], &xb, x, n, nt);
	double exact[CB_GEMV_MAX], tol[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++) {
		double e = 0, s = 0;
		for (int64_t b = 0; b < n / 256; b++) {
			double eb = 0, sb = 0;
			for (int i = 0; i < 256; i++) {
				const int64_t k = 256 * b + i;
				const int q = xb.q[t * n + k];
				eb += kq_value(d, w, k) * q;
				sb += kq_magnitude(d, w, k) * abs(q);
			}
			e += (double)xb.d[t * (n / 256) + b] * eb;
			s += fabs((double)xb.d[t * (n / 256) + b]) * sb;
		}
		exact[t] = e;
		tol[t] = (double)(n / 256 + 8) * ldexp(1.0, -23) * s;
	}
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		float out[CB_GEMV_MAX + 1];
		out[nt] = 12345.0f;   /* must stay untouched */
		lv[l].qdot[d](w, n, &xb.xq, nt, out);
		ck_assert_msg(out[nt] == 12345.0f, "%s %s: wrote out[%d]", level_name[l], tname(d), nt);
		for (int t = 0; t < nt; t++)
			ck_assert_msg(fabs(out[t] - exact[t]) <= tol[t],
				      "%s %s n %lld kind %d nt %d token %d: %.9g, exact %.9g, |diff| %.3g > %.3g",
				      level_name[l], tname(d), (long long)n, kind, nt, t, (double)out[t],
				      exact[t], fabs(out[t] - exact[t]), tol[t]);
	}
	xq_free(&xb);
	free(x);
	free(w);
}

START_TEST(integer_dots)
{
	static const int64_t ns[] = { 256, 512, 2048, 4096 };
	setup();
	for (int f = 0; f < 5; f++)
		for (size_t s = 0; s < sizeof ns / sizeof *ns; s++)
			for (int nt = 1; nt <= CB_GEMV_MAX; nt++)
				for (int kind = 0; kind < KQ_KINDS; kind++)
					qdot_case(kq_types[f], ns[s], nt, (enum kq_kind)kind);
}
END_TEST

START_TEST(dequantisers)
{
	static const int64_t ns[] = { 256, 1024 };
	setup();
	for (int f = 0; f < 5; f++) {
		const enum pb_dtype d = kq_types[f];
		for (size_t s = 0; s < sizeof ns / sizeof *ns; s++)
			for (int kind = 0; kind < KQ_KINDS; kind++) {
				const int64_t n = ns[s];
				uint8_t *w = malloc((size_t)(n / 256) * pb_dtype_block_bytes(d));
				float *y0 = malloc((size_t)n * sizeof *y0), *y1 = malloc((size_t)n * sizeof *y1);
				kq_fill_row(d, w, n, (enum kq_kind)kind);
				deqs[0][d](w, n, y0);
				for (int64_t i = 0; i < n; i++) {
					const struct kq_elem e = kq_elem(d, w, i);
					const double v = e.a * (e.u - e.off) - e.mn;
					const double tol = ldexp(fabs(e.a * (e.u - e.off)) + fabs(e.mn), -22);
					ck_assert_msg(fabs(y0[i] - v) <= tol, "%s kind %d element %lld: %.9g, "
						      "decoder %.9g", tname(d), kind, (long long)i, y0[i], v);
				}
				if (have_avx2_tables) {
					deqs[1][d](w, n, y1);
					for (int64_t i = 0; i < n; i++)
						ck_assert_msg(!memcmp(&y0[i], &y1[i], sizeof *y0),
							      "%s kind %d element %lld: avx2 %a, portable %a",
							      tname(d), kind, (long long)i, (double)y1[i],
							      (double)y0[i]);
				}
				free(w);
				free(y0);
				free(y1);
			}
	}
}
END_TEST

START_TEST(float_dots)
{
	static const int64_t ns[] = { 256, 768, 4096 };
	setup();
	for (int f = 0; f < 5; f++) {
		const enum pb_dtype d = kq_types[f];
		for (size_t s = 0; s < sizeof ns / sizeof *ns; s++)
			for (int nt = 1; nt <= CB_GEMV_MAX; nt++) {
				const int64_t n = ns[s], xs = n + (nt & 1 ? 5 : 0);   /* odd strides too */
				uint8_t *w = malloc((size_t)(n / 256) * pb_dtype_block_bytes(d));
				float *x = malloc((size_t)(xs * nt) * sizeof *x);
				kq_fill_row(d, w, n, KQ_RANDOM);
				for (int64_t i = 0; i < xs * nt; i++)
					x[i] = (float)kq_uniform();
				for (int l = 0; l < 1 + have_avx2_tables; l++) {
					float out[CB_GEMV_MAX];
					dots[l][d](w, n, x, xs, nt, out);
					for (int t = 0; t < nt; t++) {
						double e = 0, mag = 0;
						for (int64_t i = 0; i < n; i++) {
							e += kq_value(d, w, i) * x[t * xs + i];
							mag += fabs(kq_value(d, w, i) * x[t * xs + i]);
						}
						const double tol = 4e-6 * mag * (1.0 + sqrt((double)n) / 8.0) + 1e-30;
						ck_assert_msg(fabs(out[t] - e) <= tol, "%s %s float dot n %lld nt %d: "
							      "%.9g, exact %.9g (tol %.3g)", l ? "avx2" : "portable",
							      tname(d), (long long)n, nt, (double)out[t], e, tol);
					}
				}
				free(w);
				free(x);
			}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu-blas-kquant-kernels");
	TCase *tc = tcase_create("kernels");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, quantiser);
	tcase_add_test(tc, integer_dots);
	tcase_add_test(tc, dequantisers);
	tcase_add_test(tc, float_dots);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

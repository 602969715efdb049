/* tests/cpu-blas/test-kquant.c — the cpu-blas backend on k-quant weights
 * (Q2_K … Q6_K) through its plugin ABI, dlopened as a cell loads it,
 * against a naive dequantise-then-double-dot written in the test
 * (kquant-ref.c), on rows built byte by byte (no quantiser needed).  For
 * output r of token t, with m_i = |d·scale_i|·(u_i + off) + |dmin·min_i|
 * (kq_magnitude) and E = Σ_i w_ri·x_ti in double:
 *  - decode, 1 to 4 tokens, the integer path (`int8_act`, the default):
 *    each activation block of 256 is rounded to a step d_b = max|x_b|/127,
 *    so an activation moves by at most d_b/2 and the output by
 *        Σ_b (max|x_b| / 254)·Σ_{i∈b} |w_ri| · 1.001,
 *    plus float rounding 4e-6·(1 + √n/8)·Σ_i m_ri·(|x_ti| + d_b); for the
 *    portable kernels and for this CPU's best (AVX2 or AVX-512 VNNI);
 *  - prefill (5, 33 tokens: the native GEMM on dequantised panels) and decode
 *    with `int8_act: false` (float GEMV): float rounding only,
 *    4e-6·(1 + √n/8)·Σ_i m_ri·|x_ti|;
 *  - threads 1, 2 and 3: every output bit-identical, decode and prefill,
 *    integer and float paths (each row is one thread's; prefill tiles do
 *    not depend on the thread count);
 *  - the embedding of a k-quant table (the dequantiser: 3 roundings of
 *    the decoded value), weights_load's refusal of rows that are not
 *    whole super-blocks, and the kernel names tensors.csv records. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "backends.h"
#include "kquant-ref.h"
#include "pair.h"

#define CB_GEMV_MAX_TOKENS 4   /* cpu-blas.h's CB_GEMV_MAX: up to it, decode kernels */

/* A k-quant tensor and its elements decoded once (kquant-ref.c) */
struct kt {
	struct pb_tensor t;
	double *v, *m;   /* value and magnitude of element i of row r at r·n_in + i */
};

static struct cb_config cfg_of(int threads, int portable, int int8)
{
	return (struct cb_config){ .threads = threads, .sparse_threshold = 0.35, .check_nan = 1,
				   .portable = portable, .int8_act = int8 };
}

/* An [n_in × n_out] k-quant tensor of random blocks (a few rows of the
 * extreme kinds) */
static void kq_tensor(struct kt *k, enum pb_dtype d, int64_t n_in, int64_t n_out,
		      enum pb_role role)
{
	struct pb_tensor *t = &k->t;
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "w");
	t->dtype = d;
	t->n_dims = 2;
	t->ne[0] = n_in;
	t->ne[1] = n_out;
	t->ne[2] = t->ne[3] = 1;
	t->role = role;
	t->nbytes = pb_row_bytes(t) * (size_t)n_out;
	ck_assert_uint_gt(t->nbytes, 0);
	t->data = malloc(t->nbytes);
	k->v = malloc((size_t)(n_in * n_out) * sizeof *k->v);
	k->m = malloc((size_t)(n_in * n_out) * sizeof *k->m);
	for (int64_t r = 0; r < n_out; r++) {
		const uint8_t *row = (const uint8_t *)t->data + r * pb_row_bytes(t);
		kq_fill_row(d, (uint8_t *)row, n_in, r % 11 == 5 ? (enum kq_kind)(1 + r % 3) : KQ_RANDOM);
		for (int64_t i = 0; i < n_in; i++) {
			k->v[r * n_in + i] = kq_value(d, row, i);
			k->m[r * n_in + i] = kq_magnitude(d, row, i);
		}
	}
}

static void kt_free(struct kt *k)
{
	free(k->t.data);
	free(k->v);
	free(k->m);
}

/* One cpu-blas instance per configuration, opened on first use and kept
 * to the end of the test (each test runs in its own process): weights_load
 * and buffers_alloc start afresh every run */
static struct be *backend(const struct cb_config *cfg)
{
	static struct be open[16];
	static struct cb_config cfgs[16];
	static int n;
	for (int i = 0; i < n; i++)
		if (!memcmp(&cfgs[i], cfg, sizeof *cfg))
			return &open[i];
	ck_assert_int_lt(n, 16);
	cfgs[n] = *cfg;
	be_open(&open[n], "cpu-blas", cfg);
	return &open[n++];
}

/* y[t·n_out + r] = linear(w, x) on cpu-blas with cfg; x is nt × n_in */
static void run_linear(const struct cb_config *cfg, const struct pb_tensor *w, int nt,
		       const float *x, float *y, char *kernel, size_t klen)
{
	const int64_t n_in = w->ne[0], n_out = w->ne[1], xs = n_in + 3, ys = n_out + 1;
	struct pb_model m = { .tensors = (struct pb_tensor *)w, .n_tensors = 1 };
	struct be b = *backend(cfg);
	ck_assert_msg(b.ops->weights_load(b.st, &m) == 0, "%s", be_last_log);
	const int64_t sizes[2] = { 1 + nt * xs, 2 + nt * ys };
	ck_assert_int_eq(b.ops->buffers_alloc(b.st, sizes, 2), 0);
	float *xb = calloc((size_t)sizes[0], sizeof *xb), *yb = malloc((size_t)sizes[1] * sizeof *yb);
	for (int t = 0; t < nt; t++)
		memcpy(xb + 1 + t * xs, x + t * n_in, (size_t)n_in * sizeof *xb);
	ck_assert_int_eq(b.ops->buffer_write(b.st, 0, 0, sizes[0], xb), 0);
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = nt, .weight = 0,
		.dst = { .buf = 1, .off = 2, .stride = ys },
		.src = { { .buf = 0, .off = 1, .stride = xs }, { .buf = -1 }, { .buf = -1 } },
		.p.linear = { .n_in = (int32_t)n_in, .n_out = (int32_t)n_out },
	};
	struct pb_graph g = { .ops = &op, .n_ops = 1 };
	ck_assert_msg(b.ops->graph_compute(b.st, &g) == 0, "%s", be_last_log);
	ck_assert_int_eq(b.ops->buffer_read(b.st, 1, 0, sizes[1], yb), 0);
	for (int t = 0; t < nt; t++)
		memcpy(y + t * n_out, yb + 2 + t * ys, (size_t)n_out * sizeof *y);
	if (kernel)
		ck_assert_int_eq(b.ops->weight_kernel(b.st, 0, kernel, klen), 0);
	free(xb);
	free(yb);
}

static float *random_x(int nt, int64_t n)
{
	float *x = malloc((size_t)(nt * n) * sizeof *x);
	for (int64_t i = 0; i < nt * n; i++)
		x[i] = pair_frand();
	for (int64_t b = 0; b < nt * n / 256; b += 3)   /* blocks of other scales */
		for (int i = 0; i < 256; i++)
			x[256 * b + i] *= b % 2 ? 1e-3f : 8.0f;
	return x;
}

/* y against the naive result; int8: the activation rounding bound too */
static void check_outputs(const struct kt *k, int nt, const float *x, const float *y, int int8,
			  const char *what)
{
	const int64_t n_in = k->t.ne[0], n_out = k->t.ne[1];
	const double ftol = 4e-6 * (1.0 + sqrt((double)n_in) / 8.0);
	for (int t = 0; t < nt; t++) {
		const float *xt = x + t * n_in;
		for (int64_t r = 0; r < n_out; r++) {
			const double *v = k->v + r * n_in, *m = k->m + r * n_in;
			double e = 0, mag = 0, act = 0;
			for (int64_t b = 0; b < n_in / 256; b++) {
				double amax = 0, wsum = 0;
				for (int i = 0; i < 256; i++)
					amax = fmax(amax, fabs(xt[256 * b + i]));
				for (int64_t i = 256 * b; i < 256 * b + 256; i++) {
					e += v[i] * xt[i];
					wsum += fabs(v[i]);
					mag += m[i] * (fabs(xt[i]) + (int8 ? amax / 127 : 0));
				}
				act += amax / 254 * wsum * 1.001;
			}
			const double tol = (int8 ? act : 0) + ftol * mag + 1e-30;
			const double got = y[t * n_out + r];
			ck_assert_msg(fabs(got - e) <= tol, "%s: %s [%lld × %lld] token %d of %d row %lld: "
				      "%.9g, exact %.9g, |diff| %.3g > %.3g", what,
				      pb_dtype_name(k->t.dtype), (long long)n_in, (long long)n_out, t, nt,
				      (long long)r, got, e, fabs(got - e), tol);
		}
	}
}

/* the prefill path `gemm: auto` picks: the native GEMM where the CPU
 * runs its SIMD kernels, OpenBLAS on dequantised rows otherwise */
static const char *auto_gemm(int portable)
{
	if (portable || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return "auto:dequant-openblas-sgemm";
	return __builtin_cpu_supports("avx512f") ? "auto:native-gemm-avx512" : "auto:native-gemm-avx2";
}

static const char *best_isa(void)
{
	return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") ? "vnni-"
	       : __builtin_cpu_supports("avx2") ? "avx2-" : "";
}

START_TEST(decode_integer)
{
	static const int64_t ins[] = { 256, 768, 2048 }, outs[] = { 1, 7, 33 };
	for (int portable = 0; portable <= 1; portable++) {
		const struct cb_config cfg = cfg_of(2, portable, 1);
		for (int f = 0; f < 5; f++) {
			const enum pb_dtype d = kq_types[f];
			char kern[64], want[64];
			for (int a = 0; a < 3; a++)
				for (int o = 0; o < 3; o++) {
					struct kt w;
					kq_tensor(&w, d, ins[a], outs[o], PB_ROLE_FFN_UP);
					for (int nt = 1; nt <= CB_GEMV_MAX_TOKENS; nt++) {
						float *x = random_x(nt, ins[a]);
						float *y = malloc((size_t)(nt * outs[o]) * sizeof *y);
						run_linear(&cfg, &w.t, nt, x, y, kern, sizeof kern);
						check_outputs(&w, nt, x, y, 1, portable ? "decode, portable" : "decode");
						free(x);
						free(y);
					}
					kt_free(&w);
				}
			/* "Q4_K vnni-q4kxq8k-gemv+auto:native-gemm-avx512" */
			snprintf(want, sizeof want, "%s %sq%dkxq8k-gemv+%s", pb_dtype_name(d),
				 portable ? "" : best_isa(), 2 + f, auto_gemm(portable));
			ck_assert_str_eq(kern, want);
		}
	}
}
END_TEST

START_TEST(prefill_and_float_decode)
{
	static const int64_t ins[] = { 256, 2048 }, outs[] = { 7, 300 };
	static const int toks[] = { 1, 4, 5, 33 };
	for (int f = 0; f < 5; f++) {
		const enum pb_dtype d = kq_types[f];
		for (int a = 0; a < 2; a++)
			for (int o = 0; o < 2; o++) {
				struct kt w;
				kq_tensor(&w, d, ins[a], outs[o], PB_ROLE_ATTN_Q);
				for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
					const int nt = toks[k];
					float *x = random_x(nt, ins[a]);
					float *y = malloc((size_t)(nt * outs[o]) * sizeof *y);
					char kern[64], want[64];
					/* int8_act on: more than 4 tokens take the sgemm path anyway */
					const struct cb_config cfg = cfg_of(2, 0, nt > CB_GEMV_MAX_TOKENS);
					run_linear(&cfg, &w.t, nt, x, y, kern, sizeof kern);
					check_outputs(&w, nt, x, y, 0, nt > 4 ? "prefill" : "float decode");
					if (nt <= CB_GEMV_MAX_TOKENS) {
						snprintf(want, sizeof want, "%s %sq%dkgemv+%s",
							 pb_dtype_name(d),
							 __builtin_cpu_supports("avx2") ? "avx2-" : "", 2 + f,
							 auto_gemm(0));
						ck_assert_str_eq(kern, want);
					}
					free(x);
					free(y);
				}
				kt_free(&w);
			}
	}
}
END_TEST

/* Same outputs, bit for bit, on 1, 2 and 3 threads: 1000 rows make many
 * decode tasks and prefill tiles, a ragged last one. */
START_TEST(threads_bit_identical)
{
	static const int toks[] = { 1, 3, 4, 5, 70 };
	for (int f = 0; f < 5; f++) {
		struct kt w;
		kq_tensor(&w, kq_types[f], 768, 1000, PB_ROLE_FFN_DOWN);
		for (size_t k = 0; k < sizeof toks / sizeof *toks; k++)
			for (int int8 = 0; int8 <= 1; int8++) {
				const int nt = toks[k];
				float *x = random_x(nt, 768);
				float *y[3];
				for (int th = 1; th <= 3; th++) {
					const struct cb_config cfg = cfg_of(th, 0, int8);
					y[th - 1] = malloc((size_t)(nt * 1000) * sizeof(float));
					run_linear(&cfg, &w.t, nt, x, y[th - 1], NULL, 0);
				}
				if (nt <= 5)
					check_outputs(&w, nt, x, y[0], int8 && nt <= CB_GEMV_MAX_TOKENS,
						      "threads");
				for (int th = 2; th <= 3; th++)
					for (int64_t i = 0; i < nt * 1000; i++)
						ck_assert_msg(!memcmp(&y[0][i], &y[th - 1][i], sizeof(float)),
							      "%s nt %d int8_act %d: output %lld is %a on 1 thread, "
							      "%a on %d", pb_dtype_name(kq_types[f]), nt, int8,
							      (long long)i, (double)y[0][i], (double)y[th - 1][i], th);
				for (int th = 0; th < 3; th++)
					free(y[th]);
				free(x);
			}
		kt_free(&w);
	}
}
END_TEST

/* Q8_0 / Q4_0 repacked (repack, int8_gemm: the defaults): 1000 rows are
 * 62 groups and 8 rows after them; every output bit-identical on 1, 2
 * and 3 threads, decode and int8 prefill (tiles of 8 tokens, chunks of
 * 64), and a prefill's token equal, bit for bit, to the same token
 * decoded alone. */
START_TEST(repacked_threads_bit_identical)
{
	static const enum pb_dtype ds[] = { PB_Q8_0, PB_Q4_0 };
	static const int toks[] = { 1, 3, 4, 5, 70, 130 };
	for (int f = 0; f < 2; f++) {
		struct pb_tensor w = { .data = NULL };
		pair_weight(&w, "w", ds[f], 768, 1000, PB_ROLE_FFN_DOWN, 0);
		for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
			const int nt = toks[k];
			float *x = random_x(nt, 768), *y[3], one[1000];
			char kern[64] = "";
			for (int th = 1; th <= 3; th++) {
				struct cb_config cfg = cfg_of(th, 0, 1);
				cfg.repack = cfg.int8_gemm = 1;
				y[th - 1] = malloc((size_t)(nt * 1000) * sizeof(float));
				run_linear(&cfg, &w, nt, x, y[th - 1], kern, sizeof kern);
			}
			if (__builtin_cpu_supports("avx2"))
				ck_assert_msg(strstr(kern, "-repacked+int8-gemm"), "%s", kern);
			for (int th = 2; th <= 3; th++)
				for (int64_t i = 0; i < nt * 1000; i++)
					ck_assert_msg(!memcmp(&y[0][i], &y[th - 1][i], sizeof(float)),
						      "%s nt %d: output %lld is %a on 1 thread, %a on %d",
						      pb_dtype_name(ds[f]), nt, (long long)i, (double)y[0][i],
						      (double)y[th - 1][i], th);
			for (int t = 0; t < nt; t += 29) {
				struct cb_config cfg = cfg_of(2, 0, 1);
				cfg.repack = cfg.int8_gemm = 1;
				run_linear(&cfg, &w, 1, x + t * 768, one, NULL, 0);
				ck_assert_msg(!memcmp(one, y[0] + t * 1000, sizeof one),
					      "%s nt %d: token %d decoded alone differs from the prefill",
					      pb_dtype_name(ds[f]), nt, t);
			}
			for (int th = 0; th < 3; th++)
				free(y[th]);
			free(x);
		}
		free(w.data);
	}
}
END_TEST

START_TEST(embedding)
{
	for (int portable = 0; portable <= 1; portable++)
		for (int f = 0; f < 5; f++) {
			const enum pb_dtype d = kq_types[f];
			const int64_t dim = 512, vocab = 11, ds = dim + 2;
			const int32_t tokens[5] = { 3, 0, 10, 3, 5 };
			const struct cb_config cfg = cfg_of(2, portable, 1);
			struct kt k;
			kq_tensor(&k, d, dim, vocab, PB_ROLE_TOK_EMBD);
			struct pb_model m = { .tensors = &k.t, .n_tensors = 1 };
			struct be b;
			be_open(&b, "cpu-blas", &cfg);
			ck_assert_msg(b.ops->weights_load(b.st, &m) == 0, "%s", be_last_log);
			const int64_t sizes[1] = { 1 + 5 * ds };
			ck_assert_int_eq(b.ops->buffers_alloc(b.st, sizes, 1), 0);
			struct pb_op op = {
				.type = PB_OP_EMBED, .n_tokens = 5, .weight = 0,
				.dst = { .buf = 0, .off = 1, .stride = ds }, .src = { { .buf = -1 } },
				.p.embed.dim = (int32_t)dim,
			};
			struct pb_graph g = { .ops = &op, .n_ops = 1, .tokens = tokens, .n_tokens = 5 };
			ck_assert_msg(b.ops->graph_compute(b.st, &g) == 0, "%s", be_last_log);
			float *y = malloc((size_t)sizes[0] * sizeof *y);
			ck_assert_int_eq(b.ops->buffer_read(b.st, 0, 0, sizes[0], y), 0);
			for (int t = 0; t < 5; t++) {
				const uint8_t *row = (const uint8_t *)k.t.data + tokens[t] * pb_row_bytes(&k.t);
				for (int64_t i = 0; i < dim; i++) {
					const struct kq_elem e = kq_elem(d, row, i);
					const double v = e.a * (e.u - e.off) - e.mn;
					const double tol = ldexp(fabs(e.a * (e.u - e.off)) + fabs(e.mn), -22);
					ck_assert_msg(fabs(y[1 + t * ds + i] - v) <= tol, "%s embed token %d "
						      "element %lld: %.9g, decoder %.9g", pb_dtype_name(d),
						      tokens[t], (long long)i, y[1 + t * ds + i], v);
				}
			}
			free(y);
			be_close(&b);
			kt_free(&k);
		}
}
END_TEST

START_TEST(refuses_partial_blocks)
{
	for (int f = 0; f < 5; f++) {
		struct kt k;
		kq_tensor(&k, kq_types[f], 256, 4, PB_ROLE_FFN_UP);
		k.t.ne[0] = 288;   /* 1.125 super-blocks a row */
		struct pb_model m = { .tensors = &k.t, .n_tensors = 1 };
		struct be b;
		be_open(&b, "cpu-blas", NULL);
		ck_assert_int_eq(b.ops->weights_load(b.st, &m), -ENOTSUP);
		ck_assert_msg(strstr(be_last_log, pb_dtype_name(kq_types[f])) &&
			      strstr(be_last_log, "256 for the k-quants"), "%s", be_last_log);
		be_close(&b);
		kt_free(&k);
	}
}
END_TEST

/* The formats the plugin declares: the core converts nothing it runs */
START_TEST(declares_the_formats)
{
	struct be b;
	be_open(&b, "cpu-blas", NULL);
	for (int f = 0; f < 5; f++)
		ck_assert_msg(b.ops->formats & PB_FMT(kq_types[f]), "%s not declared",
			      pb_dtype_name(kq_types[f]));
	be_close(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu-blas-kquant");
	TCase *tc = tcase_create("kquant");
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, decode_integer);
	tcase_add_test(tc, prefill_and_float_decode);
	tcase_add_test(tc, threads_bit_identical);
	tcase_add_test(tc, repacked_threads_bit_identical);
	tcase_add_test(tc, embedding);
	tcase_add_test(tc, refuses_partial_blocks);
	tcase_add_test(tc, declares_the_formats);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

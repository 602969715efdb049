/* tests/cpu-blas/test-ops.c — the cpu-blas backend op by op against the
 * ref backend (ggml's test-backend-ops): every op, every weight format,
 * random values on odd shapes (1, 7, 33, 4097 …), odd strides, 1 to 33
 * tokens.  Both backends get the same weights (quantized ones: the same
 * blocks) and the same buffer contents; then every buffer must agree:
 *     max |cpu-blas − ref| ≤ tol · max |ref|   over each buffer,
 * tol = 1e-5 for F32 weights and weight-free ops, 1e-4 for F16, BF16, Q8_0
 * and Q4_0 (the only difference is float vs double accumulation). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "backends.h"
#include "pair.h"
#include "model/quant.h"

#define MAX_T 4

struct fix {
	struct pb_model m;
	struct pb_tensor t[MAX_T];
	struct be ref, cb;
	struct pb_model *m_cb;   /* when set, what cpu-blas loads instead of m */
};

/* when set, run() holds output row r of a linear to |diff| ≤ row_bound[r] */
static double *row_bound;
/* ops in the graph run() computes (op[0..n-1]) */
static int run_n_ops = 1;

static void fix_open(struct fix *f, const struct cb_config *cfg)
{
	memset(f, 0, sizeof *f);
	f->m.tensors = f->t;
	be_open(&f->ref, "ref", NULL);
	be_open(&f->cb, "cpu-blas", cfg);
}

static void fix_close(struct fix *f)
{
	be_close(&f->ref);
	be_close(&f->cb);
	for (int i = 0; i < MAX_T; i++)
		free(f->t[i].data);
}

/* Tensor i: [ne0 × ne1] random weights (a fraction `zeros` of them 0) in
 * format d. */
static void weight(struct fix *f, int i, enum pb_dtype d, int64_t ne0, int64_t ne1,
		   enum pb_role role, double zeros)
{
	char name[16];
	snprintf(name, sizeof name, "w%d", i);
	pair_weight(&f->t[i], name, d, ne0, ne1, role, zeros);
	if (f->m.n_tensors <= i)
		f->m.n_tensors = i + 1;
}

/* Runs op (with tokens) on both backends over buffers of sizes[] filled
 * with the same random values; every buffer must agree within tol. */
static void run(struct fix *f, const struct pb_op *op, const int32_t *tokens, const int64_t *sizes,
		int n_buf, double tol)
{
	float *out[2][8] = { { 0 } };
	struct pb_graph g = { .ops = op, .n_ops = run_n_ops, .tokens = tokens, .n_tokens = op->n_tokens };
	pair_run(&f->ref, &f->m, &f->cb, f->m_cb ? f->m_cb : &f->m, &g, sizes, n_buf, out);
	for (int i = 0; i < n_buf; i++) {
		if (i == 1 && row_bound) {   /* linear_int8: per output, an absolute bound */
			const int64_t ys = op->dst.stride;
			for (int t = 0; t < op->n_tokens; t++)
				for (int64_t r = 0; r < op->p.linear.n_out; r++) {
					const int64_t j = op->dst.off + t * ys + r;
					const double d = fabs((double)out[0][i][j] - out[1][i][j]);
					ck_assert_msg(d <= row_bound[r], "token %d row %lld: ref %g cpu-blas %g, "
						      "|diff| %g > bound %g", t, (long long)r, out[0][i][j],
						      out[1][i][j], d, row_bound[r]);
				}
			continue;
		}
		pair_assert_close(out[0][i], out[1][i], sizes[i], tol, op, i, "cpu-blas");
	}
	pair_free(out, n_buf);
}

static const enum pb_dtype fmts[] = { PB_F32, PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };

static void linear_case(struct fix *f, enum pb_dtype d, int64_t n_in, int64_t n_out, int nt,
			double zeros)
{
	const int64_t xs = n_in + 3, ys = n_out + 1;
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = nt, .weight = 0,
		.dst = { .buf = 1, .off = 2, .stride = ys },
		.src = { { .buf = 0, .off = 1, .stride = xs }, { .buf = -1 }, { .buf = -1 } },
		.p.linear = { .n_in = (int32_t)n_in, .n_out = (int32_t)n_out },
	};
	weight(f, 0, d, n_in, n_out, PB_ROLE_FFN_UP, zeros);
	const int64_t sizes[2] = { 1 + nt * xs, 2 + nt * ys };
	run(f, &op, NULL, sizes, 2, d == PB_F32 ? 1e-5 : 1e-4);
}

START_TEST(linear_every_format)
{
	struct fix f;
	static const int64_t dense_in[] = { 1, 7, 33, 4097 }, block_in[] = { 32, 96, 4096 };
	static const int64_t outs[] = { 1, 7, 33 };
	static const int toks[] = { 1, 2, 3, 4, 5, 33 };
	fix_open(&f, NULL);
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		const int blk = pb_dtype_block(fmts[k]) > 1;
		const int64_t *ins = blk ? block_in : dense_in;
		const int n_ins = blk ? 3 : 4;
		for (int a = 0; a < n_ins; a++)
			for (size_t b = 0; b < 3; b++)
				for (size_t c = 0; c < sizeof toks / sizeof *toks; c++)
					linear_case(&f, fmts[k], ins[a], outs[b], toks[c], 0);
		/* many rows: every thread gets several tiles, a ragged last one */
		linear_case(&f, fmts[k], 256, 1000, 1, 0);
		linear_case(&f, fmts[k], 256, 1000, 70, 0);
	}
	char kern[64];
	ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
	ck_assert_msg(!strncmp(kern, "Q4_0 ", 5), "%s", kern);
	fix_close(&f);
}
END_TEST

/* one thread, and the portable kernels (the path without AVX2) */
START_TEST(linear_one_thread_portable)
{
	struct fix f;
	struct cb_config cfg = { .threads = 1, .sparse_threshold = 0.35, .check_nan = 1,
				 .portable = 1 };
	char kern[64];
	fix_open(&f, &cfg);
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		const int blk = pb_dtype_block(fmts[k]) > 1;
		for (int nt = 1; nt <= 5; nt++) {
			linear_case(&f, fmts[k], blk ? 64 : 67, 65, nt, 0);
			linear_case(&f, fmts[k], blk ? 32 : 1, 3, nt, 0);
		}
		ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
		ck_assert_msg(!strstr(kern, "avx2"), "%s", kern);
	}
	fix_close(&f);
}
END_TEST

/* The integer decode path (`int8_act`, the default outside these tests):
 * each activation is rounded to a step of d = max|x_block|/127 ≤ 1/127 (the
 * fixture's x lie in [-1, 1)), so it moves by at most 1/254 and output row
 * r by at most Σ_i |w_ri|/254, plus float rounding.  That bound is tight
 * enough that a wrong nibble order, sign or scale breaks it.  Token counts
 * above CB_GEMV_MAX take the float prefill GEMM, held to the usual tolerance. */
static void int8_case(struct fix *f, enum pb_dtype d, int64_t n_in, int64_t n_out, int nt,
		      double zeros)
{
	float *w = malloc((size_t)n_in * sizeof *w);
	weight(f, 0, d, n_in, n_out, PB_ROLE_FFN_UP, zeros);
	row_bound = malloc((size_t)n_out * sizeof *row_bound);
	for (int64_t r = 0; r < n_out; r++) {
		double s = 0;
		pb_dequantize_row(d, (const uint8_t *)f->t[0].data + r * pb_row_bytes(&f->t[0]), w, n_in);
		for (int64_t i = 0; i < n_in; i++)
			s += fabs(w[i]);
		row_bound[r] = s / 254.0 * 1.001 + 1e-5 * s + 1e-6;
	}
	const int64_t xs = n_in + 3, ys = n_out + 1;
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = nt, .weight = 0,
		.dst = { .buf = 1, .off = 2, .stride = ys },
		.src = { { .buf = 0, .off = 1, .stride = xs }, { .buf = -1 }, { .buf = -1 } },
		.p.linear = { .n_in = (int32_t)n_in, .n_out = (int32_t)n_out },
	};
	const int64_t sizes[2] = { 1 + nt * xs, 2 + nt * ys };
	run(f, &op, NULL, sizes, 2, 0);
	free(row_bound);
	row_bound = NULL;
	free(w);
}

/* mode 0: portable (rows as stored); 1: repacked rows, int8 prefill (the
 * defaults); 2: repacked rows, dequantise + OpenBLAS sgemm prefill;
 * 3: repacked rows, dequantise + the native GEMM.  Prefill
 * (more than CB_GEMV_MAX tokens) through the int8 GEMM rounds the
 * activations as decode does, so it is held to the same per-row bound;
 * through sgemm, to the usual tolerance. */
START_TEST(linear_int8)
{
	static const int64_t ins[] = { 32, 96, 4096 }, outs[] = { 1, 7, 33 };
	static const int pre[] = { 5, 8, 9, 64, 65, 130 };
	static const enum pb_dtype q[] = { PB_Q8_0, PB_Q4_0 };
	for (int mode = 0; mode <= 3; mode++) {
		struct fix f;
		struct cb_config cfg = { .threads = 2, .sparse_threshold = 0.35, .check_nan = 1,
					 .portable = mode == 0, .int8_act = 1, .repack = mode > 0,
					 .int8_gemm = mode == 1, .gemm = mode == 2 ? 2 : mode == 3 ? 1 : 0 };
		char kern[64];
		fix_open(&f, &cfg);
		for (int k = 0; k < 2; k++) {
			for (int a = 0; a < 3; a++)
				for (int b = 0; b < 3; b++)
					for (int nt = 1; nt <= 4; nt++)
						int8_case(&f, q[k], ins[a], outs[b], nt, 0);
			int8_case(&f, q[k], 256, 1000, 3, 0.3);
			for (size_t p = 0; p < sizeof pre / sizeof *pre; p++) {
				if (mode == 1) {
					int8_case(&f, q[k], 96, 33, pre[p], 0);
					int8_case(&f, q[k], 256, 1000, pre[p], 0.3);
				} else {
					linear_case(&f, q[k], 96, 33, pre[p], 0);
				}
			}
			ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
			ck_assert_msg(strstr(kern, k ? "q4xq8" : "q8xq8"), "%s", kern);
			ck_assert_msg(!(mode == 0) == (strstr(kern, "avx2") || strstr(kern, "vnni")), "%s",
				      kern);
			if (__builtin_cpu_supports("avx2"))
				ck_assert_msg(!(mode == 0) == !!strstr(kern, "-repacked+"), "%s", kern);
			if (mode)
				ck_assert_msg(strstr(kern, mode == 1   ? "+int8-gemm"
							   : mode == 2 ? "+dequant-openblas-sgemm"
								       : "+native-gemm-"),
					      "%s", kern);
		}
		fix_close(&f);
	}
}
END_TEST

/* `repack: auto` (the default) leaves a tensor in anonymous memory — a
 * model quantized in memory — as stored: its pages could not be handed
 * back, and repacking would keep two copies resident (repack.c).  The
 * results are the row kernels', within the same bound. */
START_TEST(repack_auto_in_memory)
{
	if (!__builtin_cpu_supports("avx2"))
		return;
	struct fix f;
	struct cb_config cfg = { .threads = 2, .sparse_threshold = 0.35, .check_nan = 1,
				 .int8_act = 1, .repack = 2, .int8_gemm = 1 };
	char kern[64];
	fix_open(&f, &cfg);
	int8_case(&f, PB_Q4_0, 256, 1000, 3, 0.3);
	ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
	ck_assert_msg(strstr(kern, "q4xq8-gemv+") && !strstr(kern, "repacked"), "%s", kern);
	fix_close(&f);
}
END_TEST

/* 70 % zeros: below the 0.35 density threshold, so CSR (16-bit column
 * indices up to 65536 columns, 32-bit beyond) */
START_TEST(linear_csr)
{
	struct fix f;
	char kern[64];
	fix_open(&f, NULL);
	static const int toks[] = { 1, 3, 4, 5, 17 };
	for (size_t c = 0; c < sizeof toks / sizeof *toks; c++) {
		linear_case(&f, PB_F32, 33, 7, toks[c], 0.7);
		linear_case(&f, PB_F32, 4097, 40, toks[c], 0.7);
	}
	ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
	ck_assert_str_eq(kern, "F32 csr16");
	linear_case(&f, PB_F32, 70000, 3, 2, 0.7);
	ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
	ck_assert_str_eq(kern, "F32 csr32");
	/* all zeros, and dense (50 % zeros stays dense) */
	linear_case(&f, PB_F32, 33, 7, 2, 1.0);
	linear_case(&f, PB_F32, 64, 9, 2, 0.5);
	ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
	ck_assert_msg(strstr(kern, "csr") == NULL && !strncmp(kern, "F32 ", 4), "%s", kern);
	fix_close(&f);
}
END_TEST

/* 2:4-packed weights on cpu-blas against the same weights dense on ref */
START_TEST(linear_nm24)
{
	struct fix f;
	static const int64_t ins[] = { 4, 36, 4096 };
	static const int toks[] = { 1, 3, 4, 5, 33 };
	char err[256], kern[64];
	fix_open(&f, NULL);
	for (size_t a = 0; a < 3; a++)
		for (size_t c = 0; c < sizeof toks / sizeof *toks; c++) {
			const int64_t n_in = ins[a], n_out = 37;
			weight(&f, 0, PB_F32, n_in, n_out, PB_ROLE_FFN_UP, 0.3);
			float *w = f.t[0].data;
			for (int64_t i = 0; i < n_in * n_out; i += 4) {   /* keep 2 of 4 */
				int z = (int)((pair_frand() + 1) * 3) % 4;
				w[i + z] = 0;
				w[i + (z + 1) % 4] = 0;
			}
			struct pb_tensor packed = f.t[0];
			struct pb_model mp = f.m;
			packed.data = malloc(packed.nbytes);
			memcpy(packed.data, w, packed.nbytes);
			packed.flags = PB_TENSOR_OWNED;
			ck_assert_msg(pb_tensor_pack_nm24(&packed, err, sizeof err) == 0, "%s", err);
			mp.tensors = &packed;
			f.m_cb = &mp;
			const int64_t xs = n_in + 3, ys = n_out + 1;
			struct pb_op op = {
				.type = PB_OP_LINEAR, .n_tokens = toks[c], .weight = 0,
				.dst = { .buf = 1, .off = 2, .stride = ys },
				.src = { { .buf = 0, .off = 1, .stride = xs }, { .buf = -1 }, { .buf = -1 } },
				.p.linear = { .n_in = (int32_t)n_in, .n_out = (int32_t)n_out },
			};
			const int64_t sizes[2] = { 1 + toks[c] * xs, 2 + toks[c] * ys };
			run(&f, &op, NULL, sizes, 2, 1e-5);
			ck_assert_int_eq(f.cb.ops->weight_kernel(f.cb.st, 0, kern, sizeof kern), 0);
			ck_assert_msg(!strncmp(kern, "NM_2_4 avx2-nm24gemv+auto:native-gemm-avx", 41), "%s",
				      kern);
			/* back to a model cpu-blas does not point into */
			ck_assert_int_eq(f.cb.ops->weights_load(f.cb.st, &f.m), 0);
			free(packed.data);
			f.m_cb = NULL;
		}
	fix_close(&f);
}
END_TEST

START_TEST(embed_rmsnorm)
{
	struct fix f;
	fix_open(&f, NULL);
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		const int64_t dim = pb_dtype_block(fmts[k]) > 1 ? 64 : 7;
		const int32_t tokens[5] = { 3, 0, 10, 3, 7 };
		weight(&f, 0, fmts[k], dim, 11, PB_ROLE_TOK_EMBD, 0);
		struct pb_op op = {
			.type = PB_OP_EMBED, .n_tokens = 5, .weight = 0,
			.dst = { .buf = 0, .off = 1, .stride = dim + 2 }, .src = { { .buf = -1 } },
			.p.embed.dim = (int32_t)dim,
		};
		const int64_t sizes[1] = { 1 + 5 * (dim + 2) };
		run(&f, &op, tokens, sizes, 1, 1e-5);
	}
	static const int64_t dims[] = { 1, 7, 33, 4097 };
	for (size_t k = 0; k < 3; k++)   /* norms: F32, F16, BF16 */
		for (size_t d = 0; d < 4; d++)
			for (int sc = 0; sc < 2; sc++) {
				weight(&f, 0, fmts[k], dims[d], 1, PB_ROLE_ATTN_NORM, 0);
				struct pb_op op = {
					.type = PB_OP_RMSNORM, .n_tokens = 3, .weight = 0,
					.dst = { .buf = 1, .stride = dims[d] },
					.src = { { .buf = 0, .stride = dims[d] + 5 } },
					.p.rmsnorm = { .dim = (int32_t)dims[d], .eps = 1e-5f,
						       .scale = sc ? 0.125f : 0.0f },
				};
				const int64_t sizes[2] = { 3 * (dims[d] + 5), 3 * dims[d] };
				run(&f, &op, NULL, sizes, 2, 1e-5);
			}
	fix_close(&f);
}
END_TEST

START_TEST(rope_kv_store)
{
	struct fix f;
	fix_open(&f, NULL);
	static const int hds[] = { 2, 8, 64 };
	for (int layout = 0; layout < 2; layout++)
		for (size_t h = 0; h < 3; h++)
			for (int nt = 1; nt <= 7; nt += 6) {
				const int64_t w = 3 * hds[h];
				struct pb_op op = {
					.type = PB_OP_ROPE, .n_tokens = nt, .weight = -1,
					.dst = { .buf = 0, .off = 3, .stride = w + 1 },
					.p.rope = { .n_heads = 3, .head_dim = hds[h], .pos0 = 5 * nt,
						    .layout = layout, .theta = 10000.0f },
				};
				const int64_t sizes[1] = { 3 + nt * (w + 1) };
				run(&f, &op, NULL, sizes, 1, 1e-5);
			}
	struct pb_op kv = {
		.type = PB_OP_KV_STORE, .n_tokens = 5, .dst = { .buf = 1, .off = 4, .stride = 30 },
		.src = { { .buf = 0, .stride = 24 } }, .p.kv_store = { .width = 24, .pos0 = 3 },
	};
	const int64_t sizes[2] = { 5 * 24, 4 + 16 * 30 };
	run(&f, &kv, NULL, sizes, 2, 0);
	fix_close(&f);
}
END_TEST

static void attn_case_wc(struct fix *f, int nh, int nkv, int hd, int nt, int pos0, int n_kv,
			 int causal, int bias, int window, float softcap)
{
	struct pb_op op = {
		.type = PB_OP_ATTENTION, .n_tokens = nt,
		.dst = { .buf = 3, .off = 1, .stride = nh * hd + 2 },
		.src = { { .buf = 0, .stride = nh * hd }, { .buf = 1, .off = 5, .stride = nkv * hd + 3 },
			 { .buf = 2, .stride = nkv * hd } },
		.p.attention = { .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos0 = pos0,
				 .n_kv = n_kv, .causal = causal, .scale = 1.0f / sqrtf((float)hd),
				 .window = window, .softcap = softcap,
				 .bias = { .buf = bias ? 4 : -1, .off = 2, .stride = n_kv + 1 } },
	};
	const int64_t sizes[5] = { (int64_t)nt * nh * hd, 5 + (int64_t)n_kv * (nkv * hd + 3),
				   (int64_t)n_kv * nkv * hd, 1 + (int64_t)nt * (nh * hd + 2),
				   2 + (int64_t)nh * nt * (n_kv + 1) };
	run(f, &op, NULL, sizes, bias ? 5 : 4, 1e-5);
}

static void attn_case(struct fix *f, int nh, int nkv, int hd, int nt, int pos0, int n_kv, int causal,
		      int bias)
{
	attn_case_wc(f, nh, nkv, hd, nt, pos0, n_kv, causal, bias, 0, 0.0f);
}

START_TEST(attention)
{
	struct fix f;
	fix_open(&f, NULL);
	for (int bias = 0; bias < 2; bias++) {
		attn_case(&f, 4, 2, 8, 1, 12, 13, 1, bias);      /* decode, GQA */
		attn_case(&f, 4, 2, 8, 7, 0, 7, 1, bias);        /* prefill */
		attn_case(&f, 8, 8, 16, 7, 5, 12, 1, bias);      /* prefill after a prefix */
		attn_case(&f, 6, 1, 33, 3, 0, 13, 0, bias);      /* not causal, MQA, odd head_dim */
		attn_case(&f, 2, 1, 64, 33, 0, 33, 1, bias);
		attn_case(&f, 3, 3, 7, 2, 40, 300, 1, bias);     /* causal limit past n_kv */
	}
	fix_close(&f);
}
END_TEST

/* the chunked softmax (kernels-attn.c, CB_ACHUNK = 128 positions from the
 * first visible key) against ref across chunk boundaries: long caches,
 * sliding windows that start mid-chunk, soft caps, T5's non-causal rows
 * with a bias; the SIMD kernels and, one thread, the portable ones */
START_TEST(attention_chunks)
{
	struct cb_config portable = { .threads = 1, .sparse_threshold = 0.35, .check_nan = 1,
				      .portable = 1 };
	for (int pass = 0; pass < 2; pass++) {
		struct fix f;
		fix_open(&f, pass ? &portable : NULL);
		for (int bias = 0; bias < 2; bias++) {
			attn_case_wc(&f, 4, 2, 64, 1, 599, 600, 1, bias, 0, 0.0f);      /* decode, 5 chunks */
			attn_case_wc(&f, 4, 1, 80, 3, 255, 258, 1, bias, 0, 30.0f);     /* softcap */
			attn_case_wc(&f, 2, 2, 128, 2, 400, 402, 1, bias, 200, 0.0f);   /* window */
			attn_case_wc(&f, 2, 1, 3, 5, 300, 305, 1, bias, 129, 50.0f);
			attn_case_wc(&f, 2, 2, 64, 130, 0, 130, 0, bias, 0, 0.0f);      /* encoder */
		}
		fix_close(&f);
	}
}
END_TEST

/* kv_cache: f16 — kv_store writes the caches in half precision and
 * attention reads them so: a decode step after a prefill, on buffers
 * 1 (K) and 2 (V) filled from 5 and 6.  The caches read back (converted)
 * and the attention output agree with ref's F32 to F16 rounding (2^-11
 * relative per value). */
static void attn_f16_case(struct fix *f, int nh, int nkv, int hd, int nt, int pos0)
{
	const int64_t kvw = (int64_t)nkv * hd, n_kv = pos0 + nt;
	struct pb_op ops[3] = {
		{ .type = PB_OP_KV_STORE, .n_tokens = nt, .dst = { .buf = 1, .stride = kvw },
		  .src = { { .buf = 4, .stride = kvw } }, .p.kv_store = { .width = (int32_t)kvw, .pos0 = pos0 } },
		{ .type = PB_OP_KV_STORE, .n_tokens = nt, .dst = { .buf = 2, .stride = kvw },
		  .src = { { .buf = 5, .stride = kvw } }, .p.kv_store = { .width = (int32_t)kvw, .pos0 = pos0 } },
		{ .type = PB_OP_ATTENTION, .n_tokens = nt, .dst = { .buf = 3, .stride = nh * hd },
		  .src = { { .buf = 0, .stride = nh * hd }, { .buf = 1, .stride = kvw }, { .buf = 2, .stride = kvw } },
		  .p.attention = { .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos0 = pos0,
				   .n_kv = (int32_t)n_kv, .causal = 1, .scale = 1.0f / sqrtf((float)hd),
				   .bias = { .buf = -1 } } },
	};
	const int64_t sizes[6] = { (int64_t)nt * nh * hd, n_kv * kvw, n_kv * kvw, (int64_t)nt * nh * hd,
				   nt * kvw, nt * kvw };
	run_n_ops = 3;
	run(f, ops, NULL, sizes, 6, 2e-3);
	run_n_ops = 1;
}

START_TEST(attention_kv_f16)
{
	struct fix f;
	struct cb_config cfg = { .threads = 2, .sparse_threshold = 0.35, .check_nan = 1, .kv_f16 = 1 };
	fix_open(&f, &cfg);
	attn_f16_case(&f, 4, 2, 8, 1, 12);     /* decode after 12 positions, GQA */
	attn_f16_case(&f, 4, 2, 8, 7, 0);      /* prefill */
	attn_f16_case(&f, 6, 1, 33, 3, 5);     /* MQA, odd head_dim (SIMD tails) */
	attn_f16_case(&f, 2, 2, 64, 1, 40);
	fix_close(&f);
}
END_TEST

START_TEST(elementwise)
{
	struct fix f;
	fix_open(&f, NULL);
	static const int64_t ws[] = { 1, 7, 33, 4097, 20000 };
	for (size_t k = 0; k < 5; k++)
		for (int nt = 1; nt <= 3; nt += 2)
			for (int type = PB_OP_GLU; type <= PB_OP_COPY; type++)
				for (int fn = 0; fn < (type <= PB_OP_ACT ? 3 : 1); fn++) {
					struct pb_op op = {
						.type = type, .n_tokens = nt,
						.dst = { .buf = 2, .stride = ws[k] },
						.src = { { .buf = 0, .stride = ws[k] + 1 },
							 { .buf = 1, .off = 3, .stride = ws[k] } },
					};
					op.p.glu.width = (int32_t)ws[k];   /* width first in all four */
					op.p.glu.fn = fn;
					const int64_t sizes[3] = { nt * (ws[k] + 1), 3 + nt * ws[k],
								   nt * ws[k] };
					/* add, copy and ReLU (cpu-blas's four-lane loops,
					 * ops.c ew4): ref's values bit for bit */
					const int exact = type == PB_OP_ADD || type == PB_OP_COPY ||
							  fn == PB_ACT_RELU;
					run(&f, &op, NULL, sizes, 3, exact ? 0 : 1e-5);
					/* in place: dst is src0 (a residual add, T5's ReLU) */
					if (type == PB_OP_ADD || type == PB_OP_ACT) {
						op.dst = op.src[0];
						run(&f, &op, NULL, sizes, 3, exact ? 0 : 1e-5);
					}
				}
	fix_close(&f);
}
END_TEST

START_TEST(bad_operands)
{
	struct fix f;
	fix_open(&f, NULL);
	weight(&f, 0, PB_F32, 8, 4, PB_ROLE_FFN_UP, 0);
	const int64_t sizes[2] = { 8, 4 };
	ck_assert_int_eq(f.cb.ops->weights_load(f.cb.st, &f.m), 0);
	ck_assert_int_eq(f.cb.ops->buffers_alloc(f.cb.st, sizes, 2), 0);
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = 1, .weight = 0, .dst = { .buf = 0, .stride = 8 },
		.src = { { .buf = 0, .stride = 8 } }, .p.linear = { .n_in = 8, .n_out = 4 },
	};
	struct pb_graph g = { .ops = &op, .n_ops = 1 };
	ck_assert_int_eq(f.cb.ops->graph_compute(f.cb.st, &g), -EINVAL);   /* src = dst */
	op.dst.buf = 1;
	op.n_tokens = 2;   /* 2 rows of x do not fit 8 floats */
	ck_assert_int_eq(f.cb.ops->graph_compute(f.cb.st, &g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(be_last_log, "exceeds"));
	op.n_tokens = 1;
	op.weight = 3;
	ck_assert_int_eq(f.cb.ops->graph_compute(f.cb.st, &g), -EINVAL);
	float x;
	ck_assert_int_eq(f.cb.ops->buffer_read(f.cb.st, 1, 4, 1, &x), -EINVAL);
	fix_close(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu-blas-ops");
	TCase *tc = tcase_create("ops");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, linear_every_format);
	tcase_add_test(tc, linear_one_thread_portable);
	tcase_add_test(tc, linear_int8);
	tcase_add_test(tc, repack_auto_in_memory);
	tcase_add_test(tc, attention_kv_f16);
	tcase_add_test(tc, linear_csr);
	tcase_add_test(tc, linear_nm24);
	tcase_add_test(tc, embed_rmsnorm);
	tcase_add_test(tc, rope_kv_store);
	tcase_add_test(tc, attention);
	tcase_add_test(tc, attention_chunks);
	tcase_add_test(tc, elementwise);
	tcase_add_test(tc, bad_operands);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

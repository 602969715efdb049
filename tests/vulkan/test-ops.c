/* tests/vulkan/test-ops.c — the vulkan backend op by op against the ref
 * backend on whatever device Vulkan offers here (lavapipe in CI): every
 * op, every weight format, random values on odd shapes (1, 7, 33, 4097
 * …), odd strides, 1 to 33 tokens, with the subgroup shaders and with the
 * shared-memory fallback.  Both backends get the same weights and buffer
 * contents; then every buffer must agree:
 *     max |vulkan − ref| ≤ tol · max |ref|   over each buffer,
 * tol = 1e-5 for F32 weights and weight-free ops, 1e-4 for F16, BF16,
 * Q8_0 and Q4_0 (float against double accumulation).  Then a step of
 * dependent ops (the barriers), and operands the backend must refuse.
 * Exit 77 without a Vulkan device. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "model/quant.h"
#include "pair.h"
#include "vkbe.h"

#define MAX_T 4

struct fix {
	struct pb_model m;
	struct pb_tensor t[MAX_T];
	struct be ref, vk;
};

/* _i: 0 subgroup reductions where the device has them, 1 shared memory */
static void fix_open(struct fix *f, int variant)
{
	struct vk_config cfg = be_vk_defaults();
	cfg.subgroups = variant ? 2 : 0;
	memset(f, 0, sizeof *f);
	f->m.tensors = f->t;
	be_open(&f->ref, "ref", NULL);
	be_open(&f->vk, "vulkan", &cfg);
}

static void fix_close(struct fix *f)
{
	be_close(&f->ref);
	be_close(&f->vk);
	for (int i = 0; i < MAX_T; i++)
		free(f->t[i].data);
}

/* Tensor i: [ne0 × ne1] random weights in format d. */
static void weight(struct fix *f, int i, enum pb_dtype d, int64_t ne0, int64_t ne1, enum pb_role role)
{
	char name[16];
	snprintf(name, sizeof name, "w%d", i);
	pair_weight(&f->t[i], name, d, ne0, ne1, role, 0);
	if (f->m.n_tensors <= i)
		f->m.n_tensors = i + 1;
}

/* Runs the ops (with tokens) on both backends over buffers of sizes[]
 * filled with the same random values; every buffer must agree within tol. */
static void run_graph(struct fix *f, const struct pb_op *ops, int n_ops, const int32_t *tokens,
		      const int64_t *sizes, int n_buf, double tol)
{
	float *out[2][8] = { { 0 } };
	struct pb_graph g = { .ops = ops, .n_ops = n_ops, .tokens = tokens, .n_tokens = ops[0].n_tokens };
	pair_run(&f->ref, &f->m, &f->vk, &f->m, &g, sizes, n_buf, out);
	for (int i = 0; i < n_buf; i++)
		pair_assert_close(out[0][i], out[1][i], sizes[i], tol, &ops[0], i, "vulkan");
	pair_free(out, n_buf);
}

static void run(struct fix *f, const struct pb_op *op, const int32_t *tokens, const int64_t *sizes,
		int n_buf, double tol)
{
	run_graph(f, op, 1, tokens, sizes, n_buf, tol);
}

static const enum pb_dtype fmts[] = { PB_F32, PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };

static void linear_case(struct fix *f, enum pb_dtype d, int64_t n_in, int64_t n_out, int nt)
{
	const int64_t xs = n_in + 3, ys = n_out + 1;
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = nt, .weight = 0,
		.dst = { .buf = 1, .off = 2, .stride = ys },
		.src = { { .buf = 0, .off = 1, .stride = xs }, { .buf = -1 }, { .buf = -1 } },
		.p.linear = { .n_in = (int32_t)n_in, .n_out = (int32_t)n_out },
	};
	weight(f, 0, d, n_in, n_out, PB_ROLE_FFN_UP);
	const int64_t sizes[2] = { 1 + nt * xs, 2 + nt * ys };
	run(f, &op, NULL, sizes, 2, d == PB_F32 ? 1e-5 : 1e-4);
}

START_TEST(linear_every_format)
{
	struct fix f;
	static const int64_t dense_in[] = { 1, 7, 33, 4097 }, block_in[] = { 32, 96, 4096 };
	static const int64_t outs[] = { 1, 7, 33 };
	static const int toks[] = { 1, 3, 8, 9, 33 };   /* around the 8-token tile */
	fix_open(&f, _i);
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		const int blk = pb_dtype_block(fmts[k]) > 1;
		const int64_t *ins = blk ? block_in : dense_in;
		const int n_ins = blk ? 3 : 4;
		for (int a = 0; a < n_ins; a++)
			for (size_t b = 0; b < 3; b++)
				for (size_t c = 0; c < sizeof toks / sizeof *toks; c++)
					linear_case(&f, fmts[k], ins[a], outs[b], toks[c]);
		linear_case(&f, fmts[k], 256, 1000, 1);
	}
	char kern[64];
	ck_assert_int_eq(f.vk.ops->weight_kernel(f.vk.st, 0, kern, sizeof kern), 0);
	ck_assert_msg(!strncmp(kern, "Q4_0 vk-dequant-gemv", 20), "%s", kern);
	ck_assert_msg(_i == 0 || !strstr(kern, "subgroup"), "%s with subgroups off", kern);
	fix_close(&f);
}
END_TEST

START_TEST(embed_rmsnorm)
{
	struct fix f;
	fix_open(&f, _i);
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		const int64_t dim = pb_dtype_block(fmts[k]) > 1 ? 64 : 7;
		const int32_t tokens[5] = { 3, 0, 10, 3, 7 };
		weight(&f, 0, fmts[k], dim, 11, PB_ROLE_TOK_EMBD);
		struct pb_op op = {
			.type = PB_OP_EMBED, .n_tokens = 5, .weight = 0,
			.dst = { .buf = 0, .off = 1, .stride = dim + 2 }, .src = { { .buf = -1 } },
			.p.embed.dim = (int32_t)dim,
		};
		const int64_t sizes[1] = { 1 + 5 * (dim + 2) };
		run(&f, &op, tokens, sizes, 1, 1e-6);
	}
	static const int64_t dims[] = { 1, 7, 33, 4097 };
	for (size_t k = 0; k < 3; k++)   /* norms: F32, F16, BF16 */
		for (size_t d = 0; d < 4; d++)
			for (int sc = 0; sc < 2; sc++) {
				weight(&f, 0, fmts[k], dims[d], 1, PB_ROLE_ATTN_NORM);
				struct pb_op op = {
					.type = PB_OP_RMSNORM, .n_tokens = 3, .weight = 0,
					.dst = { .buf = 1, .stride = dims[d] },
					.src = { { .buf = 0, .stride = dims[d] + 5 } },
					.p.rmsnorm = { .dim = (int32_t)dims[d], .eps = 1e-5f,
						       .scale = sc ? 0.125f : 0.0f },
				};
				const int64_t sizes[2] = { 3 * (dims[d] + 5), 3 * dims[d] };
				run(&f, &op, NULL, sizes, 2, 1e-5);
				op.dst = op.src[0];   /* in place */
				run(&f, &op, NULL, sizes, 2, 1e-5);
			}
	fix_close(&f);
}
END_TEST

START_TEST(rope_kv_store)
{
	struct fix f;
	fix_open(&f, _i);
	static const int hds[] = { 2, 8, 64 };
	for (int layout = 0; layout < 2; layout++)
		for (size_t h = 0; h < 3; h++)
			for (int nt = 1; nt <= 7; nt += 6) {
				const int64_t w = 3 * hds[h];
				struct pb_op op = {
					.type = PB_OP_ROPE, .n_tokens = nt, .weight = -1,
					.dst = { .buf = 0, .off = 3, .stride = w + 1 },
					.p.rope = { .n_heads = 3, .head_dim = hds[h], .pos0 = 5 * nt + 400,
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

static void attn_case(struct fix *f, int nh, int nkv, int hd, int nt, int pos0, int n_kv, int causal,
		      int bias)
{
	struct pb_op op = {
		.type = PB_OP_ATTENTION, .n_tokens = nt,
		.dst = { .buf = 3, .off = 1, .stride = nh * hd + 2 },
		.src = { { .buf = 0, .stride = nh * hd }, { .buf = 1, .off = 5, .stride = nkv * hd + 3 },
			 { .buf = 2, .stride = nkv * hd } },
		.p.attention = { .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos0 = pos0,
				 .n_kv = n_kv, .causal = causal, .scale = 1.0f / sqrtf((float)hd),
				 .bias = { .buf = bias ? 4 : -1, .off = 2, .stride = n_kv + 1 } },
	};
	const int64_t sizes[5] = { (int64_t)nt * nh * hd, 5 + (int64_t)n_kv * (nkv * hd + 3),
				   (int64_t)n_kv * nkv * hd, 1 + (int64_t)nt * (nh * hd + 2),
				   2 + (int64_t)nh * nt * (n_kv + 1) };
	run(f, &op, NULL, sizes, bias ? 5 : 4, 1e-5);
}

START_TEST(attention)
{
	struct fix f;
	fix_open(&f, _i);
	for (int bias = 0; bias < 2; bias++) {
		attn_case(&f, 4, 2, 8, 1, 12, 13, 1, bias);      /* decode, GQA */
		attn_case(&f, 4, 2, 8, 7, 0, 7, 1, bias);        /* prefill */
		attn_case(&f, 8, 8, 16, 7, 5, 12, 1, bias);      /* prefill after a prefix */
		attn_case(&f, 6, 1, 33, 3, 0, 13, 0, bias);      /* not causal, MQA, odd head_dim */
		attn_case(&f, 2, 1, 64, 33, 0, 33, 1, bias);
		attn_case(&f, 3, 3, 7, 2, 40, 300, 1, bias);     /* causal limit past n_kv */
		attn_case(&f, 1, 1, 256, 2, 150, 200, 0, bias);  /* the widest head, many chunks */
	}
	fix_close(&f);
}
END_TEST

START_TEST(elementwise)
{
	struct fix f;
	fix_open(&f, _i);
	static const int64_t ws[] = { 1, 7, 33, 4097 };
	for (size_t k = 0; k < 4; k++)
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
					run(&f, &op, NULL, sizes, 3, 1e-5);
				}
	fix_close(&f);
}
END_TEST

/* One step of dependent ops: read after write, write after read, in
 * place, the cache; the backend must put barriers exactly where needed. */
START_TEST(dependent_ops)
{
	struct fix f;
	fix_open(&f, _i);
	const int nt = 5, d = 64, hdim = 96;
	weight(&f, 0, PB_F32, d, 1, PB_ROLE_ATTN_NORM);
	weight(&f, 1, PB_Q8_0, d, hdim, PB_ROLE_FFN_UP);
	weight(&f, 2, PB_F16, hdim, d, PB_ROLE_FFN_DOWN);
	weight(&f, 3, PB_F32, hdim, d, PB_ROLE_ATTN_O);
	struct pb_op ops[] = {
		{ .type = PB_OP_RMSNORM, .n_tokens = nt, .weight = 0, .dst = { .buf = 2, .stride = d },
		  .src = { { .buf = 0, .stride = d } }, .p.rmsnorm = { .dim = d, .eps = 1e-5f } },
		{ .type = PB_OP_LINEAR, .n_tokens = nt, .weight = 1, .dst = { .buf = 1, .stride = hdim },
		  .src = { { .buf = 2, .stride = d } }, .p.linear = { .n_in = d, .n_out = hdim } },
		{ .type = PB_OP_ACT, .n_tokens = nt, .dst = { .buf = 1, .stride = hdim },
		  .src = { { .buf = 1, .stride = hdim } }, .p.act = { .width = hdim, .fn = PB_ACT_SILU } },
		{ .type = PB_OP_LINEAR, .n_tokens = nt, .weight = 2, .dst = { .buf = 2, .stride = d },
		  .src = { { .buf = 1, .stride = hdim } }, .p.linear = { .n_in = hdim, .n_out = d } },
		{ .type = PB_OP_LINEAR, .n_tokens = nt, .weight = 3, .dst = { .buf = 5, .stride = d },
		  .src = { { .buf = 1, .stride = hdim } }, .p.linear = { .n_in = hdim, .n_out = d } },
		{ .type = PB_OP_ADD, .n_tokens = nt, .dst = { .buf = 0, .stride = d },
		  .src = { { .buf = 2, .stride = d }, { .buf = 0, .stride = d } }, .p.add = { .width = d } },
		{ .type = PB_OP_KV_STORE, .n_tokens = nt, .dst = { .buf = 3, .stride = d },
		  .src = { { .buf = 0, .stride = d } }, .p.kv_store = { .width = d, .pos0 = 2 } },
		{ .type = PB_OP_COPY, .n_tokens = nt + 2, .dst = { .buf = 4, .stride = d },
		  .src = { { .buf = 3, .stride = d } }, .p.copy = { .width = d } },
	};
	const int64_t sizes[6] = { nt * d, nt * hdim, nt * d, 16 * d, (nt + 2) * d, nt * d };
	run_graph(&f, ops, (int)(sizeof ops / sizeof *ops), NULL, sizes, 6, 1e-4);
	/* and again on the same state: the next step reads what this one wrote */
	run_graph(&f, ops, (int)(sizeof ops / sizeof *ops), NULL, sizes, 6, 1e-4);
	fix_close(&f);
}
END_TEST

START_TEST(bad_operands)
{
	struct fix f;
	fix_open(&f, 0);
	weight(&f, 0, PB_F32, 8, 4, PB_ROLE_FFN_UP);
	const int64_t sizes[2] = { 8, 4 };
	ck_assert_int_eq(f.vk.ops->weights_load(f.vk.st, &f.m), 0);
	ck_assert_int_eq(f.vk.ops->buffers_alloc(f.vk.st, sizes, 2), 0);
	struct pb_op op = {
		.type = PB_OP_LINEAR, .n_tokens = 1, .weight = 0, .dst = { .buf = 0, .stride = 8 },
		.src = { { .buf = 0, .stride = 8 } }, .p.linear = { .n_in = 8, .n_out = 4 },
	};
	struct pb_graph g = { .ops = &op, .n_ops = 1 };
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &g), -EINVAL);   /* src = dst */
	op.dst.buf = 1;
	op.n_tokens = 2;   /* 2 rows of x do not fit 8 floats */
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(be_last_log, "exceeds"));
	op.n_tokens = 1;
	op.weight = 3;
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &g), -EINVAL);
	float x[8];
	ck_assert_int_eq(f.vk.ops->buffer_read(f.vk.st, 1, 4, 1, x), -EINVAL);
	ck_assert_int_eq(f.vk.ops->buffer_write(f.vk.st, 2, 0, 1, x), -EINVAL);
	/* a copy onto itself shifted by one: no order on a GPU */
	struct pb_op cp = { .type = PB_OP_COPY, .n_tokens = 1, .dst = { .buf = 0, .off = 1 },
			    .src = { { .buf = 0 } }, .p.copy = { .width = 4 } };
	g.ops = &cp;
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &g), -EINVAL);
	ck_assert_ptr_nonnull(strstr(be_last_log, "overlap"));
	/* a token outside the vocabulary */
	weight(&f, 0, PB_F32, 4, 3, PB_ROLE_TOK_EMBD);
	ck_assert_int_eq(f.vk.ops->weights_load(f.vk.st, &f.m), 0);
	int32_t tok = 3;
	struct pb_op em = { .type = PB_OP_EMBED, .n_tokens = 1, .weight = 0, .dst = { .buf = 0 },
			    .p.embed.dim = 4 };
	struct pb_graph ge = { .ops = &em, .n_ops = 1, .tokens = &tok, .n_tokens = 1 };
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &ge), -EINVAL);
	ck_assert_ptr_nonnull(strstr(be_last_log, "vocabulary"));
	/* after the refusals, a good step still runs */
	tok = 2;
	ck_assert_int_eq(f.vk.ops->buffers_alloc(f.vk.st, sizes, 2), 0);
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &ge), 0);
	ck_assert_int_eq(f.vk.ops->buffer_read(f.vk.st, 0, 0, 4, x), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(x[i], ((float *)f.t[0].data)[2 * 4 + i]);
	/* heads wider than the shader's 256 */
	struct pb_op at = { .type = PB_OP_ATTENTION, .n_tokens = 1, .dst = { .buf = 0 },
			    .src = { { .buf = 0 }, { .buf = 0 }, { .buf = 0 } },
			    .p.attention = { .n_heads = 1, .n_kv_heads = 1, .head_dim = 300,
					     .n_kv = 1, .scale = 1, .bias = { .buf = -1 } } };
	g.ops = &at;
	ck_assert_int_eq(f.vk.ops->graph_compute(f.vk.st, &g), -ENOTSUP);
	/* an unsupported format is refused at weights_load, with its name */
	f.t[0].dtype = PB_CSR;
	ck_assert_int_eq(f.vk.ops->weights_load(f.vk.st, &f.m), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(be_last_log, "w0"));
	f.t[0].dtype = PB_F32;
	fix_close(&f);
}
END_TEST

int main(void)
{
	be_require_vulkan();
	Suite *s = suite_create("vulkan-ops");
	TCase *tc = tcase_create("ops");
	tcase_set_timeout(tc, 300);
	/* each op test twice: subgroup reductions (where the device has
	 * them), then the shared-memory fallback */
	tcase_add_loop_test(tc, linear_every_format, 0, 2);
	tcase_add_loop_test(tc, embed_rmsnorm, 0, 2);
	tcase_add_loop_test(tc, rope_kv_store, 0, 2);
	tcase_add_loop_test(tc, attention, 0, 2);
	tcase_add_loop_test(tc, elementwise, 0, 2);
	tcase_add_loop_test(tc, dependent_ops, 0, 2);
	tcase_add_test(tc, bad_operands);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

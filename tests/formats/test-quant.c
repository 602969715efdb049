/* tests/formats/test-quant.c — BF16, Q8_0 and Q4_0 rows against blocks
 * computed by hand from llama.cpp's reference quantizers, round trips
 * within the error those formats allow, and the conversion policy of
 * `prunebench convert` (which tensors take the type, which stay F32). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "model/gguf.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "util/util.h"

START_TEST(bf16_rounding)
{
	static const struct { uint32_t in; uint16_t out; } cases[] = {
		{ 0x3f800000u, 0x3f80 },   /* 1.0 */
		{ 0x3f808000u, 0x3f80 },   /* halfway, even below: down */
		{ 0x3f818000u, 0x3f82 },   /* halfway, odd below: up */
		{ 0x3f808001u, 0x3f81 },   /* above halfway: up */
		{ 0xbf80ffffu, 0xbf81 },   /* negative */
		{ 0x7f800000u, 0x7f80 },   /* inf */
		{ 0x7f800001u, 0x7fc0 },   /* signalling NaN: kept, quiet */
		{ 0x7f7fffffu, 0x7f80 },   /* FLT_MAX rounds to inf, as ggml does */
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(cases); i++) {
		float f;
		memcpy(&f, &cases[i].in, 4);
		ck_assert_msg(pb_fp32_to_bf16(f) == cases[i].out, "0x%08x -> 0x%04x, expected 0x%04x",
			      cases[i].in, pb_fp32_to_bf16(f), cases[i].out);
	}
}
END_TEST

/* x[j] = j - 16: amax 16, so d = 16/127 (f16 0x3008) and q = round(x·127/16). */
START_TEST(q8_0_block_by_hand)
{
	float x[32], y[32];
	uint8_t b[34];
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16);
	pb_quantize_row_q8_0(x, b, 32);
	ck_assert_int_eq(b[0], 0x08);
	ck_assert_int_eq(b[1], 0x30);
	ck_assert_int_eq((int8_t)b[2 + 0], -127);   /* -16 */
	ck_assert_int_eq((int8_t)b[2 + 15], -8);    /* -1 · 7.9375 = -7.94 */
	ck_assert_int_eq((int8_t)b[2 + 16], 0);
	ck_assert_int_eq((int8_t)b[2 + 17], 8);
	ck_assert_int_eq((int8_t)b[2 + 18], 16);    /* 15.875 */
	ck_assert_int_eq((int8_t)b[2 + 31], 119);   /* 119.06 */
	pb_dequantize_row_q8_0(b, y, 32);
	ck_assert_float_eq(y[0], -127.0f * pb_fp16_to_fp32(0x3008));
	/* zeros: d 0, all q 0 */
	memset(x, 0, sizeof x);
	pb_quantize_row_q8_0(x, b, 32);
	for (int j = 0; j < 34; j++)
		ck_assert_int_eq(b[j], 0);
}
END_TEST

/* x[j] = j - 16: the largest magnitude is -16, so d = -16/-8 = 2 (f16
 * 0x4000), q = min(15, (int)(x/2 + 8.5)); byte j = q[j] | q[j+16] << 4. */
START_TEST(q4_0_block_by_hand)
{
	float x[32], y[32];
	uint8_t b[18];
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16);
	pb_quantize_row_q4_0(x, b, 32);
	ck_assert_int_eq(b[0], 0x00);
	ck_assert_int_eq(b[1], 0x40);
	ck_assert_int_eq(b[2 + 0], 0x80);    /* q(-16) = 0, q(0) = 8 */
	ck_assert_int_eq(b[2 + 1], 0x91);    /* q(-15) = 1, q(1) = 9 */
	ck_assert_int_eq(b[2 + 15], 0xf8);   /* q(-1) = 8, q(15) = 16 → 15 */
	pb_dequantize_row_q4_0(b, y, 32);
	ck_assert_float_eq(y[0], -16.0f);
	ck_assert_float_eq(y[16], 0.0f);
	ck_assert_float_eq(y[31], 14.0f);    /* clamped: one step below */
	/* a positive largest value flips the scale's sign */
	for (int j = 0; j < 32; j++)
		x[j] = j == 5 ? 4.0f : 0.5f;
	pb_quantize_row_q4_0(x, b, 32);
	ck_assert_float_eq(pb_fp16_to_fp32((uint16_t)(b[0] | b[1] << 8)), -0.5f);
	pb_dequantize_row_q4_0(b, y, 32);
	ck_assert_float_eq(y[5], 4.0f);
	ck_assert_float_eq(y[0], 0.5f);
}
END_TEST

START_TEST(round_trips)
{
	enum { N = 32 * 256 };
	static float x[N], y[N];
	static uint8_t q[N * 4];
	fill_floats(x, N, 7);
	static const enum pb_dtype types[] = { PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };
	static const double rmse_max[] = { 2e-4, 2e-3, 3e-3, 4e-2 };
	for (size_t k = 0; k < PB_ARRAY_LEN(types); k++) {
		ck_assert_int_eq(pb_quantize_row(types[k], x, q, N), 0);
		ck_assert_int_eq(pb_dequantize_row(types[k], q, y, N), 0);
		double se = 0;
		for (int b = 0; b < N / 32; b++) {
			float amax = 0;
			for (int j = 0; j < 32; j++)
				amax = fmaxf(amax, fabsf(x[b * 32 + j]));
			/* half a step, plus the f16 scale's rounding (and Q4_0's
			 * clamped top: one whole step) */
			float step = types[k] == PB_Q8_0 ? amax / 127 : amax / 8;
			float bound = types[k] == PB_F16 ? amax * 1e-3f : types[k] == PB_BF16 ? amax * 4e-3f :
				      (types[k] == PB_Q4_0 ? step : step / 2) + amax * 1e-3f;
			for (int j = 0; j < 32; j++) {
				float e = fabsf(y[b * 32 + j] - x[b * 32 + j]);
				ck_assert_msg(e <= bound, "%s: element %d off by %g (bound %g)",
					      pb_dtype_name(types[k]), b * 32 + j, e, bound);
				se += (double)e * e;
			}
		}
		ck_assert_msg(sqrt(se / N) < rmse_max[k], "%s: rmse %g", pb_dtype_name(types[k]), sqrt(se / N));
	}
	ck_assert_int_eq(pb_quantize_row(PB_Q8_0, x, q, 31), -EINVAL);
	ck_assert_int_eq(pb_dequantize_row(PB_CSR, q, y, 32), -EINVAL);
	ck_assert_uint_eq(pb_dtype_row_bytes(PB_Q4_0, 64), 36);
	ck_assert_uint_eq(pb_dtype_row_bytes(PB_Q8_0, 48), 0);
}
END_TEST

START_TEST(convert_policy)
{
	struct gg g;
	char err[256];
	gg_tiny_llama(&g, 3, GGML_TYPE_F32);
	gg_finish(&g);
	const char *p = spath("tiny.gguf");
	write_bytes(p, g.out.p, g.out.n);
	struct pb_model *m = must_load(p, NULL);
	ck_assert_msg(pb_model_convert(m, PB_Q4_0, err, sizeof err) == 0, "%s", err);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		ck_assert_msg(t->dtype == (t->n_dims == 1 ? PB_F32 : PB_Q4_0), "%s is %s", t->name,
			      pb_dtype_name(t->dtype));
	}
	/* the tied output follows the embedding, without owning it */
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD), *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	ck_assert_ptr_eq(o->data, e->data);
	ck_assert_uint_eq(o->flags & PB_TENSOR_OWNED, 0);
	pb_model_free(m);
	/* an untied output keeps Q8_0; rows that are not whole blocks fall back to F16 */
	m = must_load(p, NULL);
	struct pb_tensor *out = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	int64_t ne[4] = { 32, 260, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(out, PB_F32, ne, 32 * 260 * 4), 0);
	struct pb_tensor *dn = pb_model_find(m, 0, PB_ROLE_FFN_DOWN);
	int64_t ne2[4] = { 48, 32, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(dn, PB_F32, ne2, 48 * 32 * 4), 0);
	ck_assert_msg(pb_model_convert(m, PB_Q4_0, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(out->dtype, PB_Q8_0);
	ck_assert_int_eq(dn->dtype, PB_F16);
	ck_assert_int_eq(pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->dtype, PB_Q4_0);
	/* and back to F32 dequantizes */
	ck_assert_int_eq(pb_model_convert(m, PB_F32, err, sizeof err), 0);
	ck_assert_int_eq(out->dtype, PB_F32);
	ck_assert_int_ne(pb_model_convert(m, PB_CSR, err, sizeof err), 0);
	pb_model_free(m);
	gg_free(&g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quant");
	TCase *tc = tcase_create("quant");
	tcase_add_test(tc, bf16_rounding);
	tcase_add_test(tc, q8_0_block_by_hand);
	tcase_add_test(tc, q4_0_block_by_hand);
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, convert_policy);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

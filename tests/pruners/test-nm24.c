/* tests/pruners/test-nm24.c — the core's NM_2_4 packing (core/model/nm24.c):
 * the layout documented at PB_NM_2_4 in tensor.h on a hand example, pack
 * then unpack as the identity on 2:4 tensors of every dense format, zeros
 * counted the same packed and dense (pb_tensor_count_zeros), and the
 * refusals (not 2:4, a width that is not whole groups, bad index bytes). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "model/quant.h"

static void tensor_f32(struct pb_tensor *t, const float *v, int64_t cols, int64_t rows)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof t->name, "blk.0.ffn_up.weight");
	t->dtype = PB_F32;
	t->n_dims = 2;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->nbytes = (size_t)(cols * rows) * sizeof(float);
	t->data = malloc(t->nbytes);
	ck_assert_ptr_nonnull(t->data);
	memcpy(t->data, v, t->nbytes);
	t->flags = PB_TENSOR_OWNED;
}

START_TEST(hand_example_layout)
{
	static const float w[16] = {
		0, 3, 0, -1,   5, 0, 0, 0,
		0, 0, 0, 0,    0, 0, 2, 7,
	};
	struct pb_tensor t;
	char err[256] = "";

	tensor_f32(&t, w, 8, 2);
	ck_assert(pb_tensor_nm24_ok(&t));
	ck_assert_int_eq(pb_tensor_pack_nm24(&t, err, sizeof err), 0);
	ck_assert_int_eq(t.dtype, PB_NM_2_4);
	ck_assert_int_eq(t.ne[0], 8);
	ck_assert_int_eq(t.ne[1], 2);
	ck_assert_uint_eq(t.nbytes, pb_nm24_bytes(8, 2));
	ck_assert_uint_eq(t.nbytes, 2 * 8 * 2 + 2 * 8 / 4);
	const float *vals = t.data;
	const uint8_t *meta = (const uint8_t *)t.data + 2 * 4 * sizeof(float);
	static const float want_vals[8] = { 3, -1, 5, 0, 0, 0, 2, 7 };
	/* row 0: (1, 3) (0, 1: a lone 5 at 0, zero filled at 1);
	 * row 1: (0, 1) for an all-zero group, (2, 3) */
	static const uint8_t want_meta[4] = { 1 | 3 << 2, 0 | 1 << 2, 0 | 1 << 2, 2 | 3 << 2 };
	for (int i = 0; i < 8; i++)
		ck_assert_float_eq(vals[i], want_vals[i]);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(meta[i], want_meta[i]);
	/* packed, its zeros still count: the unstored half (8) and the
	 * stored zeros (3), as many as the dense tensor has (11) */
	ck_assert_int_eq(pb_tensor_count_zeros(&t), 11);
	ck_assert_int_eq(pb_tensor_unpack_nm24(&t, err, sizeof err), 0);
	ck_assert_int_eq(pb_tensor_count_zeros(&t), 11);
	ck_assert_int_eq(t.dtype, PB_F32);
	ck_assert_int_eq(memcmp(t.data, w, sizeof w), 0);
	free(t.data);
}
END_TEST

/* every dense format: a random 2:4 (or sparser) pattern round-trips */
START_TEST(round_trip_every_format)
{
	static const enum pb_dtype dts[] = { PB_F32, PB_F16, PB_BF16 };
	const int64_t cols = 64, rows = 9;
	uint32_t s = 99;
	float *w = malloc((size_t)(cols * rows) * sizeof(*w));
	ck_assert_ptr_nonnull(w);
	for (int64_t i = 0; i < cols * rows; i += 4) {
		for (int j = 0; j < 4; j++) {
			s = s * 1664525u + 1013904223u;
			w[i + j] = (float)((int)(s >> 26) - 32) / 8.0f;   /* exact in f16 and bf16 */
		}
		s = s * 1664525u + 1013904223u;
		int keep = (int)(s >> 30), k2 = (keep + 1 + (int)((s >> 10) % 3)) % 4;
		for (int j = 0; j < 4; j++)
			if (j != keep && j != k2)
				w[i + j] = 0;
		if ((s >> 5) % 7 == 0)
			w[i + keep] = 0;
	}
	for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
		struct pb_tensor t;
		char err[256];
		tensor_f32(&t, w, cols, rows);
		ck_assert_int_eq(pb_tensor_convert(&t, dts[d]), 0);
		ck_assert(pb_tensor_nm24_ok(&t));
		ck_assert_int_eq(pb_tensor_pack_nm24(&t, err, sizeof err), 0);
		ck_assert_uint_eq(t.nbytes, (size_t)(cols * rows) * 2 + (size_t)(cols * rows) / 4);
		ck_assert_int_eq(pb_tensor_unpack_nm24(&t, err, sizeof err), 0);
		ck_assert_int_eq(memcmp(t.data, w, (size_t)(cols * rows) * sizeof(float)), 0);
		free(t.data);
	}
	free(w);
}
END_TEST

START_TEST(refuses_what_is_not_2_4)
{
	static const float dense3[8] = { 1, 2, 3, 0, 1, 0, 0, 1 };
	static const float six[6] = { 1, 0, 0, 1, 0, 0 };
	struct pb_tensor t;
	char err[256] = "";

	tensor_f32(&t, dense3, 8, 1);
	ck_assert(!pb_tensor_nm24_ok(&t));
	ck_assert_int_eq(pb_tensor_pack_nm24(&t, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "blk.0.ffn_up.weight") && strstr(err, "row 0") &&
		      strstr(err, "columns 0..3"), "%s", err);
	ck_assert_int_eq(t.dtype, PB_F32);
	ck_assert_int_eq(memcmp(t.data, dense3, sizeof dense3), 0);
	free(t.data);

	tensor_f32(&t, six, 6, 1);
	ck_assert(!pb_tensor_nm24_ok(&t));
	ck_assert_int_eq(pb_tensor_pack_nm24(&t, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "groups of 4"), "%s", err);
	free(t.data);

	/* a corrupt index byte (first >= second) is refused on the way back */
	static const float ok[4] = { 0, 1, 0, 1 };
	tensor_f32(&t, ok, 4, 1);
	ck_assert_int_eq(pb_tensor_pack_nm24(&t, err, sizeof err), 0);
	((uint8_t *)t.data)[8] = 3 | 1 << 2;
	ck_assert_int_eq(pb_tensor_unpack_nm24(&t, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "index byte"), "%s", err);
	free(t.data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nm24");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, hand_example_layout);
	tcase_add_test(tc, round_trip_every_format);
	tcase_add_test(tc, refuses_what_is_not_2_4);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

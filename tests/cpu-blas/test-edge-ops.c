/* tests/cpu-blas/test-edge-ops.c — the op features of the edge model
 * families (tests/lib/edge-cases.c: biases, per-head norms, RoPE factors,
 * partial rotation and mscale, soft-capping, sliding windows, fused QKV
 * and gate/up slices) on ref and on cpu-blas, each against the naive
 * loops of tests/lib/naive-ops.c:
 *     max |backend − naive| ≤ tol · max |naive|   over every buffer,
 * tol 1e-6 for ref (both in double, rounded to float per op) and 1e-5 for
 * cpu-blas (float dot products in attention); cpu-blas with 1 and with 2
 * threads must agree bit for bit.  Then the fields each must refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "backends.h"
#include "edge-cases.h"

START_TEST(ref_against_naive)
{
	struct be ref;
	be_open(&ref, "ref", NULL);
	for (int i = 0; i < edge_case_count(); i++) {
		struct edge_case c;
		float *in[EDGE_MAX_BUF] = { 0 }, *want[EDGE_MAX_BUF] = { 0 }, *got[EDGE_MAX_BUF] = { 0 };
		edge_case_make(i, &c);
		edge_inputs(&c, in);
		edge_naive(&c, in, want);
		edge_run(&ref, &c, in, got);
		edge_assert_close(&c, want, got, 1e-6, "ref");
		edge_bufs_free(in, c.n_buf);
		edge_bufs_free(want, c.n_buf);
		edge_bufs_free(got, c.n_buf);
		edge_case_free(&c);
	}
	be_close(&ref);
}
END_TEST

START_TEST(cpublas_against_naive)
{
	struct be cb[2];
	for (int k = 0; k < 2; k++) {
		const struct cb_config cfg = { .threads = k + 1, .sparse_threshold = 0.35, .check_nan = 1 };
		be_open(&cb[k], "cpu-blas", &cfg);
	}
	for (int i = 0; i < edge_case_count(); i++) {
		struct edge_case c;
		float *in[EDGE_MAX_BUF] = { 0 }, *want[EDGE_MAX_BUF] = { 0 };
		float *got[2][EDGE_MAX_BUF] = { { 0 } };
		edge_case_make(i, &c);
		edge_inputs(&c, in);
		edge_naive(&c, in, want);
		for (int k = 0; k < 2; k++)
			edge_run(&cb[k], &c, in, got[k]);
		edge_assert_close(&c, want, got[0], 1e-5, "cpu-blas");
		for (int b = 0; b < c.n_buf; b++)
			ck_assert_msg(!memcmp(got[0][b], got[1][b], (size_t)c.sizes[b] * sizeof(float)),
				      "%s: buffer %d differs between 1 and 2 threads", c.name, b);
		edge_bufs_free(in, c.n_buf);
		edge_bufs_free(want, c.n_buf);
		edge_bufs_free(got[0], c.n_buf);
		edge_bufs_free(got[1], c.n_buf);
		edge_case_free(&c);
	}
	be_close(&cb[0]);
	be_close(&cb[1]);
}
END_TEST

START_TEST(refusals)
{
	struct be b;
	be_open(&b, _i ? "cpu-blas" : "ref", NULL);
	edge_check_refusals(&b);
	be_close(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu-blas-edge-ops");
	TCase *tc = tcase_create("edge-ops");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ref_against_naive);
	tcase_add_test(tc, cpublas_against_naive);
	tcase_add_loop_test(tc, refusals, 0, 2);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

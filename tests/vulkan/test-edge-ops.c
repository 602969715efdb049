/* tests/vulkan/test-edge-ops.c — the op features of the edge model
 * families (tests/lib/edge-cases.c) on the vulkan backend against the
 * naive loops of tests/lib/naive-ops.c, with the subgroup shaders and the
 * shared-memory fallback:
 *     max |vulkan − naive| ≤ 1e-5 · max |naive|   over every buffer,
 * the tolerance of tests/vulkan/test-ops.c (float against double).  Then
 * the fields it must refuse.  Exit 77 without a Vulkan device. */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "edge-cases.h"
#include "vkbe.h"

START_TEST(vulkan_against_naive)
{
	struct be vk;
	struct vk_config cfg = be_vk_defaults();
	cfg.subgroups = _i ? 2 : 0;
	be_open(&vk, "vulkan", &cfg);
	for (int i = 0; i < edge_case_count(); i++) {
		struct edge_case c;
		float *in[EDGE_MAX_BUF] = { 0 }, *want[EDGE_MAX_BUF] = { 0 }, *got[EDGE_MAX_BUF] = { 0 };
		edge_case_make(i, &c);
		edge_inputs(&c, in);
		edge_naive(&c, in, want);
		edge_run(&vk, &c, in, got);
		edge_assert_close(&c, want, got, 1e-5, "vulkan");
		edge_bufs_free(in, c.n_buf);
		edge_bufs_free(want, c.n_buf);
		edge_bufs_free(got, c.n_buf);
		edge_case_free(&c);
	}
	be_close(&vk);
}
END_TEST

START_TEST(refusals)
{
	struct be vk;
	be_open(&vk, "vulkan", NULL);
	edge_check_refusals(&vk);
	be_close(&vk);
}
END_TEST

int main(void)
{
	be_require_vulkan();
	Suite *s = suite_create("vulkan-edge-ops");
	TCase *tc = tcase_create("edge-ops");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, vulkan_against_naive, 0, 2);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/engine/test-stats.c — latency statistics against values computed
 * with numpy (np.percentile's default linear method, ddof=1 std). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "metrics/stats.h"

START_TEST(known_vectors)
{
	/* unsorted on purpose; x must not be reordered */
	double x[] = { 5, 1, 4, 2, 3 };
	struct pb_stats s;
	pb_stats_compute(x, 5, &s);
	ck_assert_int_eq(s.n, 5);
	ck_assert_double_eq_tol(s.mean, 3.0, 1e-12);
	ck_assert_double_eq_tol(s.std, 1.5811388300841898, 1e-12);
	ck_assert_double_eq_tol(s.cv, 0.5270462766947299, 1e-12);
	ck_assert_double_eq(s.min, 1);
	ck_assert_double_eq(s.max, 5);
	ck_assert_double_eq_tol(s.p50, 3.0, 1e-12);
	ck_assert_double_eq_tol(s.p90, 4.6, 1e-12);
	ck_assert_double_eq_tol(s.p99, 4.96, 1e-12);
	ck_assert_double_eq(x[0], 5);
	ck_assert_double_eq(x[1], 1);

	/* np.percentile([10, 20, 30, 40], [50, 90, 99]) = 25, 37, 39.7 */
	double y[] = { 40, 10, 30, 20 };
	pb_stats_compute(y, 4, &s);
	ck_assert_double_eq_tol(s.p50, 25.0, 1e-12);
	ck_assert_double_eq_tol(s.p90, 37.0, 1e-12);
	ck_assert_double_eq_tol(s.p99, 39.7, 1e-12);
	ck_assert_double_eq_tol(s.std, 12.909944487358056, 1e-12);
}
END_TEST

START_TEST(edge_cases)
{
	struct pb_stats s;
	double one = 7.5;
	pb_stats_compute(&one, 1, &s);
	ck_assert_int_eq(s.n, 1);
	ck_assert_double_eq(s.mean, 7.5);
	ck_assert_double_eq(s.std, 0);
	ck_assert_double_eq(s.cv, 0);
	ck_assert_double_eq(s.p50, 7.5);
	ck_assert_double_eq(s.p99, 7.5);
	pb_stats_compute(NULL, 0, &s);
	ck_assert_int_eq(s.n, 0);
	ck_assert(isnan(s.mean) && isnan(s.std) && isnan(s.cv) && isnan(s.min));
	ck_assert(isnan(s.p50) && isnan(s.p90) && isnan(s.p99) && isnan(s.max));
	double sorted[] = { 1, 2, 3, 4 };
	ck_assert_double_eq(pb_percentile(sorted, 4, 0), 1);
	ck_assert_double_eq(pb_percentile(sorted, 4, 100), 4);
	ck_assert_double_eq_tol(pb_percentile(sorted, 4, 25), 1.75, 1e-12);
	ck_assert(isnan(pb_percentile(sorted, 0, 50)));
	/* a large mean does not swamp the spread */
	double big[] = { 1e9 + 1, 1e9 + 2, 1e9 + 3 };
	pb_stats_compute(big, 3, &s);
	ck_assert_double_eq_tol(s.std, 1.0, 1e-6);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");
	tcase_add_test(tc, known_vectors);
	tcase_add_test(tc, edge_cases);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

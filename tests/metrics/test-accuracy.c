/* tests/metrics/test-accuracy.c — accuracy metrics against values worked
 * out by hand in the comments: exact match, token F1, ROUGE-L, perplexity,
 * top-K extraction, the top-K KL with and without a tail, agreement. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/accuracy.h"

#define EPS 1e-6

START_TEST(exact_match)
{
	/* case and punctuation are not part of the words */
	ck_assert_double_eq(pb_exact_match("The cat.", "the  CAT"), 1);
	ck_assert_double_eq(pb_exact_match("the cat sat", "the cat"), 0);
	ck_assert_double_eq(pb_exact_match("", ""), 1);
	ck_assert_double_eq(pb_exact_match("...", ""), 1);     /* no words either side */
	ck_assert_double_eq(pb_exact_match("a", ""), 0);
	ck_assert_double_eq(pb_exact_match("Hello,world!", "hello world"), 1);
	/* UTF-8 letters stay inside words */
	ck_assert_double_eq(pb_exact_match("caf\xc3\xa9", "caf"), 0);
}
END_TEST

START_TEST(token_f1)
{
	/* pred: the cat sat on the mat (6), ref: the cat is on the mat (6);
	 * common multiset {the, the, cat, on, mat} = 5: P = R = 5/6 */
	ck_assert_double_eq_tol(pb_token_f1("the cat sat on the mat", "the cat is on the mat"),
				5.0 / 6, EPS);
	/* a b c vs a d: common 1, P = 1/3, R = 1/2, F1 = 2PR/(P+R) = 0.4 */
	ck_assert_double_eq_tol(pb_token_f1("a b c", "a d"), 0.4, EPS);
	/* order does not matter to F1 */
	ck_assert_double_eq_tol(pb_token_f1("a b c d", "d c b a"), 1, EPS);
	/* a repeated word counts as often as both sides have it: pred the the
	 * the (3), ref the (1): common 1, P = 1/3, R = 1, F1 = 0.5 */
	ck_assert_double_eq_tol(pb_token_f1("the the the", "the"), 0.5, EPS);
	ck_assert_double_eq(pb_token_f1("", ""), 1);
	ck_assert_double_eq(pb_token_f1("x", ""), 0);
	ck_assert_double_eq(pb_token_f1("x", "y"), 0);
}
END_TEST

START_TEST(rouge_l)
{
	/* LCS(the cat sat on the mat, the cat is on the mat) = the cat on the
	 * mat = 5 of 6 each side: F = 5/6 */
	ck_assert_double_eq_tol(pb_rouge_l("the cat sat on the mat", "the cat is on the mat"),
				5.0 / 6, EPS);
	/* reversed: the LCS is one word, P = R = 1/4 (where F1 gave 1) */
	ck_assert_double_eq_tol(pb_rouge_l("a b c d", "d c b a"), 0.25, EPS);
	/* pred a b (2), ref a x b y (4): LCS 2, P = 1, R = 1/2, F = 2/3 */
	ck_assert_double_eq_tol(pb_rouge_l("A, b!", "a x b y"), 2.0 / 3, EPS);
	ck_assert_double_eq(pb_rouge_l("", ""), 1);
	ck_assert_double_eq(pb_rouge_l("", "a"), 0);
}
END_TEST

/* logits ln(0.1), ln(0.2), ln(0.3), ln(0.4): p = 0.1 0.2 0.3 0.4 */
static void p4(float *x)
{
	x[0] = logf(0.1f);
	x[1] = logf(0.2f);
	x[2] = logf(0.3f);
	x[3] = logf(0.4f);
}

START_TEST(perplexity)
{
	float u[4] = { 0, 0, 0, 0 }, x[4];
	struct pb_acc_sums s = { 0 };
	ck_assert(isnan(pb_perplexity(&s)));
	/* uniform over 4: every NLL is ln 4, perplexity 4 */
	for (int t = 0; t < 3; t++) {
		s.nll += pb_logsumexp(u, 4) - u[t];
		s.n_nll++;
	}
	ck_assert_double_eq_tol(pb_perplexity(&s), 4, 1e-5);
	/* targets 3 and 0 under p: exp((−ln 0.4 − ln 0.1) / 2) = 1 / sqrt(0.04) = 5 */
	p4(x);
	memset(&s, 0, sizeof s);
	s.nll = (pb_logsumexp(x, 4) - x[3]) + (pb_logsumexp(x, 4) - x[0]);
	s.n_nll = 2;
	ck_assert_double_eq_tol(pb_perplexity(&s), 5, 1e-5);
	/* logsumexp of p's logits is ln 1 = 0 */
	ck_assert_double_eq_tol(pb_logsumexp(x, 4), 0, 1e-6);
}
END_TEST

START_TEST(topk)
{
	float x[4], logp[4], tail;
	int32_t ids[4];
	unsigned char mark[4] = { 0 };
	p4(x);
	ck_assert_int_eq(pb_topk(x, 4, 2, ids, logp, &tail, mark), 0);
	ck_assert_int_eq(ids[0], 3);
	ck_assert_int_eq(ids[1], 2);
	ck_assert_double_eq_tol(logp[0], log(0.4), 1e-6);
	ck_assert_double_eq_tol(logp[1], log(0.3), 1e-6);
	ck_assert_double_eq_tol(tail, log(0.3), 1e-6);   /* 0.1 + 0.2 */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(mark[i], 0);                /* scratch left clean */
	/* K = vocab: no tail; ties go to the lower id (as greedy decoding) */
	float t[4] = { 1, 3, 3, 0 };
	ck_assert_int_eq(pb_topk(t, 4, 4, ids, logp, &tail, mark), 0);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 2);
	ck_assert_int_eq(ids[2], 0);
	ck_assert_int_eq(ids[3], 3);
	ck_assert(isinf(tail) && tail < 0);
	ck_assert_int_eq(pb_argmax(t, 4), 1);
	ck_assert_int_eq(pb_topk(t, 4, 5, ids, logp, &tail, mark), -EINVAL);

	/* the large-K path (sorting) agrees with the insertion path */
	enum { V = 600 };
	float *big = malloc(V * sizeof *big), *lp1 = malloc(V * sizeof *lp1), *lp2 = malloc(V * sizeof *lp2);
	int32_t *i1 = malloc(V * sizeof *i1), *i2 = malloc(V * sizeof *i2);
	unsigned char *mk = calloc(V, 1);
	float t1, t2;
	for (int i = 0; i < V; i++)
		big[i] = (float)((i * 7919) % 101) / 10.0f;   /* many ties */
	ck_assert_int_eq(pb_topk(big, V, 200, i1, lp1, &t1, mk), 0);
	ck_assert_int_eq(pb_topk(big, V, 300, i2, lp2, &t2, mk), 0);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(i1[i], i2[i]);
	ck_assert(t1 > t2);
	free(big); free(lp1); free(lp2); free(i1); free(i2); free(mk);
}
END_TEST

START_TEST(kl_topk)
{
	float p[4], q[4] = { 0, 0, 0, 0 }, logp[4], tail;
	int32_t ids[4];
	unsigned char mark[4] = { 0 };
	p4(p);
	double lse_q = pb_logsumexp(q, 4);
	/* full KL(p || uniform) = Σ p ln(p / 0.25)
	 *   = .1 ln .4 + .2 ln .8 + .3 ln 1.2 + .4 ln 1.6 = 0.1064402 */
	const double full = 0.1 * log(0.4) + 0.2 * log(0.8) + 0.3 * log(1.2) + 0.4 * log(1.6);
	ck_assert_double_eq_tol(full, 0.1064402, 1e-6);
	ck_assert_int_eq(pb_topk(p, 4, 4, ids, logp, &tail, mark), 0);
	ck_assert_double_eq_tol(pb_kl_topk(ids, logp, 4, tail, q, 4, lse_q, mark), full, 1e-6);
	/* K = 2 (ids 3, 2) plus the tail bucket: p_tail 0.3, q_tail 0.5:
	 * .4 ln(.4/.25) + .3 ln(.3/.25) + .3 ln(.3/.5) = 0.0894503 <= full */
	ck_assert_int_eq(pb_topk(p, 4, 2, ids, logp, &tail, mark), 0);
	double kl2 = pb_kl_topk(ids, logp, 2, tail, q, 4, lse_q, mark);
	ck_assert_double_eq_tol(kl2, 0.0894503, 1e-6);
	ck_assert(kl2 <= full);
	/* equal distributions: 0 with or without a tail */
	double lse_p = pb_logsumexp(p, 4);
	ck_assert_double_eq_tol(pb_kl_topk(ids, logp, 2, tail, p, 4, lse_p, mark), 0, 1e-6);
	ck_assert_int_eq(pb_topk(p, 4, 4, ids, logp, &tail, mark), 0);
	ck_assert_double_eq_tol(pb_kl_topk(ids, logp, 4, tail, p, 4, lse_p, mark), 0, 1e-6);
	/* logits shifted by a constant are the same distribution */
	float sh[4];
	for (int i = 0; i < 4; i++)
		sh[i] = p[i] + 3.5f;
	ck_assert_double_eq_tol(pb_kl_topk(ids, logp, 4, tail, sh, 4, pb_logsumexp(sh, 4), mark),
				0, 1e-6);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(mark[i], 0);
}
END_TEST

/* pb_argmax (two passes) picks what the one-pass scan picks — the
 * largest, the lowest index on ties, never a NaN after x[0], 0 when x[0]
 * is NaN — on short vectors drawn from a few values (ties, ±0, ±inf,
 * NaN) of every length across the lane width, and on a vocabulary-sized
 * one. */
static int scan_argmax(const float *x, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

START_TEST(argmax_as_scan)
{
	const float vals[] = { 0.0f, -0.0f, NAN, 1.0f, -1.0f, INFINITY, -INFINITY, 2.5f };
	static float x[32000];
	uint32_t r = 12345;
	for (int t = 0; t < 100000; t++) {
		r = r * 1664525u + 1013904223u;
		const int n = 1 + (int)(r >> 8) % 70;
		for (int i = 0; i < n; i++) {
			r = r * 1664525u + 1013904223u;
			x[i] = vals[(r >> 8) % 8];
		}
		ck_assert_int_eq(pb_argmax(x, n), scan_argmax(x, n));
	}
	for (int i = 0; i < 32000; i++) {
		r = r * 1664525u + 1013904223u;
		x[i] = (float)(r >> 8) / 65536.0f - 128.0f;
	}
	x[31999] = 1000.0f;
	x[20001] = 1000.0f;
	ck_assert_int_eq(pb_argmax(x, 32000), 20001);
	ck_assert_int_eq(pb_argmax(x, 32000), scan_argmax(x, 32000));
}
END_TEST

START_TEST(agreement)
{
	struct pb_acc_sums s = { 0 };
	ck_assert(isnan(pb_agreement(&s)) && isnan(pb_kl_mean(&s)));
	float a[3] = { 0, 2, 1 }, b[3] = { 0, 1, 2 };
	/* rows: (a vs a) agree, (a vs b) disagree, (b vs b) agree: 2/3 */
	s.agree += pb_argmax(a, 3) == pb_argmax(a, 3);
	s.agree += pb_argmax(a, 3) == pb_argmax(b, 3);
	s.agree += pb_argmax(b, 3) == pb_argmax(b, 3);
	s.n_cmp = 3;
	s.kl = 0.3;
	ck_assert_double_eq_tol(pb_agreement(&s), 2.0 / 3, EPS);
	ck_assert_double_eq_tol(pb_kl_mean(&s), 0.1, EPS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accuracy");
	TCase *tc = tcase_create("accuracy");
	tcase_add_test(tc, exact_match);
	tcase_add_test(tc, token_f1);
	tcase_add_test(tc, rouge_l);
	tcase_add_test(tc, perplexity);
	tcase_add_test(tc, topk);
	tcase_add_test(tc, kl_topk);
	tcase_add_test(tc, agreement);
	tcase_add_test(tc, argmax_as_scan);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

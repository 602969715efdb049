/* tests/calib/test-calib-decoders.c — the calibration engine (core/run/
 * calib.c, ref linked in) through the Llama-family blocks whose bias adds
 * and q/k norms sit between the linears (tiny-qwen2, tiny-qwen3,
 * tiny-llama3's rope_freqs, Gemma's post-norms, windows and caps, Phi-3's
 * longrope and its q/k/v and gate/up split from the fused tensors): Σx² and XᵀX of every linear input of a block
 * equal those of the naive forward in tests/lib (run over the windows
 * through the earlier blocks), q/k/v still share one set, and block
 * influence agrees with a naive cosine. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "naive-decoder.h"
#include "ref-rig.h"
#include "run/calib.h"
#include "util/util.h"

#define NSEQ 3
#define SEQLEN 12

static struct pb_model *tiny(const char *name, uint64_t seed)
{
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth(name, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

/* The naive input of (tensor's role) at block l: Σx² and XᵀX over windows. */
struct want {
	int64_t n_in;
	double *col_sq, *xtx;
};

static void want_add(struct want *w, const float *x, int n, int64_t n_in)
{
	if (!w->col_sq) {
		w->n_in = n_in;
		w->col_sq = calloc((size_t)n_in, sizeof *w->col_sq);
		w->xtx = calloc((size_t)(n_in * n_in), sizeof *w->xtx);
	}
	ck_assert_int_eq(w->n_in, n_in);
	for (int t = 0; t < n; t++)
		for (int64_t i = 0; i < n_in; i++) {
			w->col_sq[i] += (double)x[t * n_in + i] * x[t * n_in + i];
			for (int64_t j = 0; j < n_in; j++)
				w->xtx[i * n_in + j] += (double)x[t * n_in + i] * x[t * n_in + j];
		}
}

static double rel_err(const double *a, const double *b, int64_t n)
{
	double mx = 0, d = 0;
	for (int64_t i = 0; i < n; i++) {
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
		d = fabs(a[i] - b[i]) > d ? fabs(a[i] - b[i]) : d;
	}
	return mx > 0 ? d / mx : d;
}

static void check_stats(const char *name)
{
	struct pb_model *m = tiny(name, 3);
	const int dim = m->hp.dim, layer = 1;
	int32_t tok[NSEQ * SEQLEN];
	struct pb_rng r;
	pb_rng_seed(&r, 5);
	for (int i = 0; i < NSEQ * SEQLEN; i++)
		tok[i] = 3 + (int32_t)(pb_rng_next(&r) % (uint64_t)(m->hp.vocab - 3));
	/* naive: attention input, o input, FFN input, down input */
	struct want w[4] = { 0 };
	float *x = malloc((size_t)SEQLEN * dim * 4);
	for (int s = 0; s < NSEQ; s++) {
		struct naive_taps tp = { 0 };
		naive_dec_embed(m, tok + s * SEQLEN, SEQLEN, x);
		for (int l = 0; l < layer; l++)
			naive_dec_block(m, l, x, SEQLEN, NULL);
		naive_dec_block(m, layer, x, SEQLEN, &tp);
		want_add(&w[0], tp.attn_in, SEQLEN, dim);
		want_add(&w[1], tp.o_in, SEQLEN, tp.o_width);
		want_add(&w[2], tp.ffn_in, SEQLEN, dim);
		want_add(&w[3], tp.down_in, SEQLEN, tp.down_width);
		naive_taps_free(&tp);
	}
	free(x);

	struct pb_calib *c = NULL;
	char err[512];
	struct pb_calib_opts o = { .backend = &pb_plugin, .tokens = tok, .n_seq = NSEQ, .seqlen = SEQLEN,
				   .n_threads = 2 };
	ck_assert_msg(pb_calib_open(m, &o, &c, err, sizeof err) == 0, "%s", err);
	const struct pb_linear_stats *st;
	int n;
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, layer, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	ck_assert_int_eq(n, 7);
	const double *qkv = NULL;
	for (int i = 0; i < n; i++) {
		const struct pb_tensor *t = &m->tensors[st[i].tensor];
		int k;
		switch (t->role) {
		case PB_ROLE_ATTN_Q: case PB_ROLE_ATTN_K: case PB_ROLE_ATTN_V:
			k = 0;
			if (qkv)   /* the bias adds after them do not split the group */
				ck_assert_ptr_eq(st[i].xtx, qkv);
			qkv = st[i].xtx;
			break;
		case PB_ROLE_ATTN_O: k = 1; break;
		case PB_ROLE_FFN_GATE: case PB_ROLE_FFN_UP: k = 2; break;
		case PB_ROLE_FFN_DOWN: k = 3; break;
		default: ck_abort_msg("%s: %s is not a linear", name, t->name); return;
		}
		ck_assert_int_eq(st[i].n_in, w[k].n_in);
		ck_assert_int_eq(st[i].n_tokens, NSEQ * SEQLEN);
		double e1 = rel_err(st[i].col_sq, w[k].col_sq, w[k].n_in);
		double e2 = rel_err(st[i].xtx, w[k].xtx, w[k].n_in * w[k].n_in);
		ck_assert_msg(e1 < 1e-6 && e2 < 1e-6, "%s: %s: col_sq off by %g, xtx by %g", name, t->name, e1, e2);
	}
	/* block influence of block 0 against a naive cosine */
	double bi[2], want_bi = 0;
	ck_assert_int_eq(c->block_influence(c, PB_STACK_DECODER, bi, 2), 0);
	float *a = malloc((size_t)SEQLEN * dim * 4), *b = malloc((size_t)SEQLEN * dim * 4);
	for (int s = 0; s < NSEQ; s++) {
		naive_dec_embed(m, tok + s * SEQLEN, SEQLEN, a);
		memcpy(b, a, (size_t)SEQLEN * dim * 4);
		naive_dec_block(m, 0, b, SEQLEN, NULL);
		for (int t = 0; t < SEQLEN; t++) {
			double ab = 0, aa = 0, bb = 0;
			for (int i = 0; i < dim; i++) {
				ab += (double)a[t * dim + i] * b[t * dim + i];
				aa += (double)a[t * dim + i] * a[t * dim + i];
				bb += (double)b[t * dim + i] * b[t * dim + i];
			}
			want_bi += ab / sqrt(aa * bb);
		}
	}
	want_bi = 1 - want_bi / (NSEQ * SEQLEN);
	ck_assert_msg(fabs(bi[0] - want_bi) < 1e-6, "%s: BI %.9f, naive %.9f", name, bi[0], want_bi);
	free(a);
	free(b);
	for (int k = 0; k < 4; k++) {
		free(w[k].col_sq);
		free(w[k].xtx);
	}
	pb_calib_close(c);
	pb_model_free(m);
}

START_TEST(qwen2_stats)
{
	check_stats("tiny-qwen2");
}
END_TEST

START_TEST(qwen3_stats)
{
	check_stats("tiny-qwen3");
}
END_TEST

START_TEST(llama3_stats)
{
	check_stats("tiny-llama3");
}
END_TEST

START_TEST(gemma_stats)
{
	check_stats("tiny-gemma2");
	check_stats("tiny-gemma3");
}
END_TEST

START_TEST(phi3_stats)
{
	check_stats("tiny-phi3");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib-decoders");
	TCase *tc = tcase_create("stats");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, qwen2_stats);
	tcase_add_test(tc, qwen3_stats);
	tcase_add_test(tc, llama3_stats);
	tcase_add_test(tc, gemma_stats);
	tcase_add_test(tc, phi3_stats);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

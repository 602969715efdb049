/* tests/formats/test-hf-padding.c — Hugging Face checkpoints whose
 * vocab_size is larger than their tokenizer (real ones pad: t5-small has
 * 32128 rows for 32100 tokens; the tiny folders here 16 rows for 6
 * tokens).  A padding id is no token: greedy generation, the dense greedy
 * output an encoder-decoder reference is scored on, and top-1 agreement
 * never choose one, whatever its logit (issue 14, item 6).
 *
 * The fixtures make the padding rows of the LM head win: every real row
 * is zero, row 12 is +1 everywhere and row 13 -1, so one of the two has the
 * largest logit for any hidden state. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfx.h"
#include "model/modelio.h"
#include "ref-rig.h"
#include "run/generate.h"
#include "run/reference.h"
#include "text/text.h"
#include "util/util.h"

enum { VOCAB = 16, TOKENS = 6, DIM = 32 };

/* LM head rows: zero, but row `up` +1 and row `down` -1. */
static void padding_wins(struct st_entry *e, int n, int up, int down)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(e[i].name, "lm_head.weight"))
			continue;
		float *w = (float *)(uintptr_t)e[i].data;
		ck_assert_str_eq(e[i].dtype, "F32");
		memset(w, 0, (size_t)VOCAB * DIM * sizeof *w);
		for (int j = 0; j < DIM; j++) {
			w[up * DIM + j] = 1.0f;
			w[down * DIM + j] = -1.0f;
		}
		return;
	}
	ck_abort_msg("no lm_head.weight");
}

static struct pb_model *llama(const char *name, int up, int down)
{
	struct st_entry *e;
	const char *dir = hfx_llama_dir(name, 1, NULL);
	int n = hfx_llama_entries("F32", 1, 1, 1, &e);
	padding_wins(e, n, up, down);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	struct pb_model *m = must_load(dir, NULL);
	ck_assert_int_eq(m->hp.vocab, VOCAB);
	ck_assert_int_eq(pb_tokenizer_vocab(pb_model_tokenizer(m)), TOKENS);
	ck_assert_int_eq(pb_model_live_vocab(m, NULL), TOKENS);
	return m;
}

static struct pb_model *t5(const char *name)
{
	struct st_entry *e;
	const char *dir = hfx_t5_dir(name, "gated-gelu", "\"tie_word_embeddings\": false");
	int n = hfx_t5_entries(1, 1, &e);
	padding_wins(e, n, 12, 13);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	struct pb_model *m = must_load(dir, NULL);
	ck_assert_int_eq(m->hp.vocab, VOCAB);
	ck_assert_int_eq(pb_model_live_vocab(m, NULL), TOKENS);
	return m;
}

static void generate_real_tokens(struct rig *r)
{
	struct pb_gen_request req = { .prompt = "a a a", .max_new_tokens = 6, .add_bos = 1 };
	struct pb_gen_result res;
	char err[512] = "";
	/* before: "generate: cannot detokenize: Invalid argument" on id 12 or 13 */
	ck_assert_msg(pb_generate(r->s, r->m, pb_model_tokenizer(r->m), &req, &res, err,
				  sizeof err) == 0, "%s", err);
	ck_assert_int_eq(res.n_out, 6);
	for (int i = 0; i < res.n_out; i++)
		ck_assert_msg(res.tokens[i] >= 0 && res.tokens[i] < TOKENS,
			      "output %d is id %d, a padding id", i, res.tokens[i]);
	pb_gen_result_free(&res);
}

START_TEST(llama_generates_no_padding)
{
	struct rig r;
	rig_open(&r, llama("pad-llama", 12, 13));
	generate_real_tokens(&r);
	rig_close(&r);
}
END_TEST

START_TEST(t5_generates_no_padding)
{
	struct rig r;
	rig_open(&r, t5("pad-t5"));
	generate_real_tokens(&r);
	rig_close(&r);
}
END_TEST

/* The dense greedy output an encoder-decoder is scored on, without
 * references (score.c greedy_fill). */
START_TEST(t5_reference_output_has_no_padding)
{
	struct rig r;
	struct pb_tf_set set = { 0 };
	struct pb_reference *ref = NULL;
	char err[512] = "";

	rig_open(&r, t5("pad-t5-ref"));
	set.v = calloc(1, sizeof *set.v);
	set.v[0].enc = malloc(4 * sizeof(int32_t));
	ck_assert(set.v && set.v[0].enc);
	set.n = 1;
	set.v[0].enc[0] = 4;
	set.v[0].enc[1] = 5;
	set.v[0].enc[2] = 4;
	set.v[0].enc[3] = 1;   /* </s> */
	set.v[0].n_enc = 4;
	ck_assert_msg(pb_reference_compute(r.s, r.m, &set, 5, &ref, err, sizeof err) == 0, "%s", err);
	const struct pb_tf_seq *q = &ref->set.v[0];
	ck_assert_int_ge(q->n, 2);
	for (int i = 1; i < q->n; i++)
		ck_assert_msg(q->tok[i] < TOKENS, "reference token %d is id %d, a padding id", i, q->tok[i]);
	pb_reference_free(ref);
	pb_tf_set_free(&set);
	rig_close(&r);
}
END_TEST

/* Two models that differ only in which padding row wins agree on every
 * real token: top-1 agreement is 1, not 0. */
START_TEST(agreement_ignores_padding)
{
	struct rig dense, cell;
	struct pb_tf_set set = { 0 };
	struct pb_reference *ref = NULL;
	struct pb_acc_sums sums = { 0 };
	char err[512] = "";
	static const int32_t toks[] = { 1, 4, 5, 3, 4, 5 };

	rig_open(&dense, llama("pad-dense", 12, 13));
	rig_open(&cell, llama("pad-cell", 13, 12));
	set.v = calloc(1, sizeof *set.v);
	set.v[0].tok = malloc(sizeof toks);
	ck_assert(set.v && set.v[0].tok);
	memcpy(set.v[0].tok, toks, sizeof toks);
	set.n = 1;
	set.v[0].n = (int)PB_ARRAY_LEN(toks);
	set.n_rows = set.v[0].n - 1;
	ck_assert_msg(pb_reference_compute(dense.s, dense.m, &set, 4, &ref, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_msg(pb_tf_score(cell.s, VOCAB, pb_model_live_vocab(cell.m, NULL), &ref->set, ref,
				  &sums, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(sums.n_cmp, ref->set.n_rows);
	ck_assert_double_eq(pb_agreement(&sums), 1);
	pb_reference_free(ref);
	pb_tf_set_free(&set);
	rig_close(&dense);
	rig_close(&cell);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hf-padding");
	TCase *tc = tcase_create("padding");
	tcase_add_test(tc, llama_generates_no_padding);
	tcase_add_test(tc, t5_generates_no_padding);
	tcase_add_test(tc, t5_reference_output_has_no_padding);
	tcase_add_test(tc, agreement_ignores_padding);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

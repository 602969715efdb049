/* tests/engine/test-text.c — the byte-level tokenizer (UTF-8 round trip,
 * special pieces, vocabularies without byte pieces).  Datasets are tested
 * in tests/metrics/test-dataset.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pb-test-text-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	pb_rm_rf(tmpdir);
}

static __attribute__((unused)) void write_tmp(char *path, size_t len, const char *name,
					      const char *text)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(utf8_roundtrip)
{
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_int_eq(pb_model_synth("llama-15m", 0, &m, err, sizeof err), 0);
	const struct pb_tokenizer *t = pb_model_tokenizer(m);
	ck_assert_int_eq(pb_tokenizer_vocab(t), 32000);
	ck_assert_str_eq(pb_tokenizer_piece(t, 0), "<unk>");
	ck_assert_str_eq(pb_tokenizer_piece(t, 1), "<s>");
	ck_assert_str_eq(pb_tokenizer_piece(t, 2), "</s>");
	ck_assert_str_eq(pb_tokenizer_piece(t, 3), "<0x00>");
	ck_assert_str_eq(pb_tokenizer_piece(t, 258), "<0xFF>");
	ck_assert_int_eq(pb_tokenizer_type(t, 65), PB_TOKEN_BYTE);
	ck_assert_int_eq(pb_tokenizer_type(t, 1), PB_TOKEN_CONTROL);
	ck_assert_ptr_null(pb_tokenizer_piece(t, 32000));

	const char *text = "Héllo, wörld — ✓ 日本語 🙂\n\ttabs";
	int32_t ids[128];
	int n = pb_tokenize(t, text, 1, ids, 128);
	ck_assert_int_eq(n, 1 + (int)strlen(text));
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 3 + 'H');
	char out[256] = "";
	for (int i = 0; i < n; i++)
		ck_assert_int_ge(pb_detokenize(t, ids[i], out, sizeof out), 0);
	ck_assert_str_eq(out, text);
	/* count beyond max, only max written */
	int32_t few[3] = { -1, -1, -1 };
	ck_assert_int_eq(pb_tokenize(t, "abcdef", 0, few, 2), 6);
	ck_assert_int_eq(few[1], 3 + 'b');
	ck_assert_int_eq(few[2], -1);
	ck_assert_int_eq(pb_tokenize(t, "", 0, NULL, 0), 0);
	/* silent pieces and a full buffer */
	char small[4] = "ab";
	ck_assert_int_eq(pb_detokenize(t, 2, small, sizeof small), 0);
	ck_assert_int_eq(pb_detokenize(t, 1000, small, sizeof small), 0);
	ck_assert_int_eq(pb_detokenize(t, 3 + 'c', small, sizeof small), 1);
	ck_assert_str_eq(small, "abc");
	ck_assert_int_eq(pb_detokenize(t, 3 + 'd', small, sizeof small), -ENOSPC);
	ck_assert_str_eq(small, "abc");
	ck_assert_int_eq(pb_detokenize(t, -1, small, sizeof small), -EINVAL);
	pb_model_free(m);
}
END_TEST

START_TEST(sentencepiece_pieces)
{
	const char *pieces[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81the", "cat", "<0x41>", "<extra_1>" };
	struct pb_tokenizer *t = NULL;
	ck_assert_int_eq(pb_tokenizer_new(pieces, NULL, 7, 1, 2, &t), 0);
	char out[64] = "";
	ck_assert_int_eq(pb_detokenize(t, 3, out, sizeof out), 4);
	ck_assert_int_eq(pb_detokenize(t, 4, out, sizeof out), 3);
	ck_assert_int_eq(pb_detokenize(t, 6, out, sizeof out), 0);
	ck_assert_int_eq(pb_detokenize(t, 5, out, sizeof out), 1);
	ck_assert_str_eq(out, " thecatA");
	/* only 'A' has a byte piece: everything else is <unk> (0) */
	int32_t ids[8];
	ck_assert_int_eq(pb_tokenize(t, "AbA", 1, ids, 8), 4);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 5);
	ck_assert_int_eq(ids[2], 0);
	ck_assert_int_eq(ids[3], 5);
	ck_assert_int_eq(pb_tokenizer_bos(t), 1);
	ck_assert_int_eq(pb_tokenizer_eos(t), 2);
	pb_tokenizer_free(t);
	/* a long piece is not limited by any internal buffer */
	char *longp = malloc(1001), *big = calloc(1, 1002);
	memset(longp, 'x', 1000);
	longp[1000] = '\0';
	const char *lp[] = { "<unk>", longp };
	ck_assert_int_eq(pb_tokenizer_new(lp, NULL, 2, -1, -1, &t), 0);
	ck_assert_int_eq(pb_detokenize(t, 1, big, 1000), -ENOSPC);
	ck_assert_int_eq(pb_detokenize(t, 1, big, 1002), 1000);
	ck_assert_uint_eq(strlen(big), 1000);
	pb_tokenizer_free(t);
	free(longp);
	free(big);
	/* no BOS in the vocabulary: add_bos adds nothing */
	ck_assert_int_eq(pb_tokenizer_new(pieces, NULL, 7, -1, 2, &t), 0);
	ck_assert_int_eq(pb_tokenize(t, "A", 1, ids, 8), 1);
	pb_tokenizer_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, utf8_roundtrip);
	tcase_add_test(tc, sentencepiece_pieces);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

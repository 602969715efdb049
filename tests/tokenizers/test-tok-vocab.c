/* tests/tokenizers/test-tok-vocab.c — tokenizers over small hand-written
 * vocabularies (tests/tokenizers/data): ByteLevel BPE and T5 unigram from
 * tokenizer.json and from GGUF-style vocabularies, SentencePiece-BPE score
 * order, export round trips, and malformed tokenizer files.  Every
 * expected id is worked out by hand from the data files; the comments show
 * how. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"
#include "util/util.h"

#define SP "\xe2\x96\x81"   /* U+2581 */

static char datadir[1024], tmpdir[256];

static void path_of(char *out, size_t len, const char *name)
{
	ck_assert_int_eq(pb_path_join(out, len, datadir, name), 0);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pb-test-tok-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	pb_rm_rf(tmpdir);
}

static void expect_ids(const struct pb_tokenizer *t, const char *text, const int *want, int n)
{
	int32_t ids[64];
	int got = pb_tokenize(t, text, 0, ids, 64);
	ck_assert_msg(got == n, "'%s': %d tokens, expected %d", text, got, n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(ids[i] == want[i], "'%s': token %d is %d (%s), expected %d", text, i, ids[i],
			      pb_tokenizer_piece(t, ids[i]), want[i]);
}

static void expect_roundtrip(const struct pb_tokenizer *t, const char *text)
{
	int32_t ids[256];
	char out[1024];
	int n = pb_tokenize(t, text, 0, ids, 256);
	ck_assert_int_ge(n, 0);
	ck_assert_int_ge(pb_tokenizer_decode(t, ids, n, out, sizeof out), 0);
	ck_assert_str_eq(out, text);
}

/* bytelevel-bpe.json: ids 1..22 are single characters (in GPT-2's
 * byte-to-unicode form: 'Ġ' 17 is the space, 'Ċ' 16 the newline, 'Ã' 18 and
 * '©' 19 the bytes C3 A9 of é), 'b' 22; then one piece per merge, in rank
 * order: 'lo' 23 (l o), 'he' 24, 'll' 25, 'Ġw' 26, 'or' 27, 'Ġwor' 28,
 * 'hel' 29 (he l), 'hello' 30 (hel lo), 'Ã©' 31, 'Ġt' 32, 'd!' 33, "t'" 34,
 * "'s" 35; <|endoftext|> 0 is an added special token. */
static void check_bytelevel(const struct pb_tokenizer *t, int added)
{
	/* "l o" (rank 0) beats "l l" (rank 2): h e l lo → he l lo → hel lo →
	 * hello.  Merging left to right would give he ll o, and stop. */
	expect_ids(t, "hello", (int[]){ 30 }, 1);
	/* " world!" is its own regex piece, and "!" another one, so "d !"
	 * (rank 10) cannot apply: Ġ w o r l d → Ġw or → Ġwor, l, d, ! */
	expect_ids(t, "hello world!", (int[]){ 30, 28, 10, 5, 1 }, 5);
	/* é is C3 A9 → 'Ã' '©' → merged "Ã©" 31 */
	expect_ids(t, "caf\xc3\xa9", (int[]){ 4, 3, 7, 31 }, 4);
	/* the regex splits "it" | "'s" | " 12" | "!", so "t '" (rank 11)
	 * cannot apply; "'s" 35 is one piece; " 12" is Ġ 1 2 */
	expect_ids(t, "it's 12!", (int[]){ 9, 14, 35, 17, 20, 21, 1 }, 7);
	/* "\n\n" before a word: \s+(?!\S) leaves the last newline to
	 * stand alone (no merges touch Ċ either way) */
	expect_ids(t, "hi\n\nhello", (int[]){ 8, 9, 16, 16, 30 }, 5);
	expect_ids(t, "a b  ", (int[]){ 3, 17, 22, 17, 17 }, 5);
	if (added)
		expect_ids(t, "hello<|endoftext|>hello", (int[]){ 30, 0, 30 }, 3);
	expect_roundtrip(t, "hello world!");
	expect_roundtrip(t, "caf\xc3\xa9 it's 12!\n");
	expect_roundtrip(t, "  hello  ");
	/* a byte split across tokens still assembles */
	char out[32] = "";
	ck_assert_int_eq(pb_detokenize(t, 18, out, sizeof out), 1);
	ck_assert_int_eq(pb_detokenize(t, 19, out, sizeof out), 1);
	ck_assert_str_eq(out, "\xc3\xa9");
}

START_TEST(bytelevel_json)
{
	char path[1200], err[512];
	struct pb_tokenizer *t = NULL;
	path_of(path, sizeof path, "bytelevel-bpe.json");
	ck_assert_msg(pb_tokenizer_load_json(path, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(t), PB_TOK_BPE);
	ck_assert_int_eq(pb_tokenizer_vocab(t), 36);
	ck_assert_int_eq(pb_tokenizer_type(t, 0), PB_TOKEN_CONTROL);
	ck_assert_int_eq(pb_tokenizer_add_bos(t), 0);
	check_bytelevel(t, 1);
	/* GGUF "gpt2": the same vocabulary through tokens + "a b" merges */
	struct pb_vocab_spec v;
	ck_assert_int_eq(pb_tokenizer_export(t, &v), 0);
	ck_assert_str_eq(v.model, "gpt2");
	ck_assert_int_eq(v.byte_level, 1);
	ck_assert_int_eq(v.n_merges, 13);
	ck_assert_str_eq(v.merges[0], "l o");
	ck_assert_str_eq(v.merges[3], "\xc4\xa0 w");
	struct pb_tokenizer *g = NULL;
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &g, err, sizeof err) == 0, "%s", err);
	check_bytelevel(g, 0);
	pb_tokenizer_free(g);
	pb_tokenizer_free(t);
}
END_TEST

/* unigram.json: <pad> 0, </s> 1, <unk> 2 (special), then pieces with
 * log-prob scores: "▁" 3 (-3), "▁abc" 4 (-1), "▁ab" 5 (-2), "cd" 6 (-2),
 * "d" 7 (-8), "a" 8, "b" 9, "c" 10 (-5 each), "▁c" 11 (-4), "ab" 12
 * (-4.5).  The lowest normal score is -8, so <unk> scores -18. */
static void check_unigram(const struct pb_tokenizer *t)
{
	/* "▁abcd": greedy longest-first takes "▁abc" + "d" = -9; Viterbi
	 * finds "▁ab" + "cd" = -4 */
	expect_ids(t, "abcd", (int[]){ 5, 6 }, 2);
	/* "▁abc" -1 beats "▁ab" + "c" -7 */
	expect_ids(t, "abc", (int[]){ 4 }, 1);
	/* spaces collapse: "▁ab▁cd": "▁" + "cd" (-5) beats "▁c" + "d" (-12) */
	expect_ids(t, "ab  cd", (int[]){ 5, 3, 6 }, 3);
	/* z is in no piece: <unk>, the two fused into one */
	expect_ids(t, "zz ab", (int[]){ 3, 2, 5 }, 3);
	expect_ids(t, "abzzcd", (int[]){ 5, 2, 6 }, 3);
	expect_ids(t, "", NULL, 0);
	expect_roundtrip(t, "ab cd");
	expect_roundtrip(t, "abcd abc");
	char out[64];
	ck_assert_int_eq(pb_tokenizer_decode(t, (int32_t[]){ 5, 3, 6, 1 }, 4, out, sizeof out), 5);
	ck_assert_str_eq(out, "ab cd");
}

START_TEST(unigram_json_and_t5)
{
	char path[1200], err[512];
	struct pb_tokenizer *t = NULL;
	path_of(path, sizeof path, "unigram.json");
	ck_assert_msg(pb_tokenizer_load_json(path, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(t), PB_TOK_UNIGRAM);
	/* the template appends </s>: EOS 1, wanted at the end */
	ck_assert_int_eq(pb_tokenizer_eos(t), 1);
	ck_assert_int_eq(pb_tokenizer_add_eos(t), 1);
	ck_assert_int_eq(pb_tokenizer_add_bos(t), 0);
	ck_assert_int_eq(pb_tokenizer_unk(t), 2);
	check_unigram(t);
	pb_tokenizer_free(t);

	/* GGUF "t5": tokens, scores and types */
	const char *tok[] = { "<pad>", "</s>", "<unk>", SP, SP "abc", SP "ab", "cd", "d", "a", "b", "c",
			      SP "c", "ab" };
	float sc[] = { 0, 0, 0, -3, -1, -2, -2, -8, -5, -5, -5, -4, -4.5f };
	int32_t ty[] = { 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct pb_vocab_spec v = {
		.model = "t5", .tokens = tok, .n_tokens = 13, .scores = sc, .types = ty,
		.bos_id = -1, .eos_id = 1, .unk_id = 2, .pad_id = 0, .add_bos = -1, .add_space_prefix = -1,
	};
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_add_eos(t), 1);
	check_unigram(t);
	/* sentencepiece trims: leading and trailing spaces vanish */
	expect_ids(t, "  ab  ", (int[]){ 5 }, 1);
	struct pb_vocab_spec e;
	ck_assert_int_eq(pb_tokenizer_export(t, &e), 0);
	ck_assert_str_eq(e.model, "t5");
	ck_assert_int_eq(e.n_tokens, 13);
	ck_assert_float_eq(e.scores[4], -1.0f);
	ck_assert_int_eq(e.types[2], PB_TOKEN_UNKNOWN);
	ck_assert_int_eq(e.pad_id, 0);
	pb_tokenizer_free(t);
}
END_TEST

/* SentencePiece-BPE merges by score, not by position. */
START_TEST(spm_scores)
{
	const char *tok[] = { "<unk>", "<s>", "</s>", SP, "a", "b", "c", "ab", "bc", SP "a", "<0x7A>" };
	float sc[] = { 0, 0, 0, -10, -10, -10, -10, -5, -1, -3, 0 };
	struct pb_vocab_spec v = {
		.model = "llama", .tokens = tok, .n_tokens = 11, .scores = sc,
		.bos_id = 1, .eos_id = 2, .unk_id = -1, .pad_id = -1, .add_bos = -1, .add_space_prefix = -1,
	};
	struct pb_tokenizer *t = NULL;
	char err[256];
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(t), PB_TOK_SPM);
	ck_assert_int_eq(pb_tokenizer_add_bos(t), 1);
	/* "▁abc": pairs ▁a (-3), ab (-5), bc (-1): bc first, then ▁a */
	expect_ids(t, "abc", (int[]){ 9, 8 }, 2);
	/* "▁ab": ▁a (-3) before ab (-5) */
	expect_ids(t, "ab", (int[]){ 9, 5 }, 2);
	/* z: its byte piece <0x7A> 10; y: no piece, no byte piece → <unk> 0 */
	expect_ids(t, "zy", (int[]){ 3, 10, 0 }, 3);
	pb_tokenizer_free(t);
	v.add_space_prefix = 0;
	ck_assert_int_eq(pb_tokenizer_from_vocab(&v, &t, err, sizeof err), 0);
	expect_ids(t, "abc", (int[]){ 4, 8 }, 2);
	pb_tokenizer_free(t);
	/* an unsupported model is refused by name */
	v.model = "bert";
	ck_assert_int_eq(pb_tokenizer_from_vocab(&v, &t, err, sizeof err), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "'bert'"));
	/* a merge naming an absent piece */
	const char *merges[] = { "a q" };
	v.model = "gpt2";
	v.merges = merges;
	v.n_merges = 1;
	ck_assert_int_eq(pb_tokenizer_from_vocab(&v, &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "merge 0 'a q'"));
}
END_TEST

/* The synthetic byte vocabulary survives export → from_vocab unchanged. */
START_TEST(byte_vocab_export)
{
	const char *tok[] = { "<unk>", "<s>", "</s>", "<0x41>", "<0x20>", "<extra_5>" };
	struct pb_tokenizer *t = NULL, *u = NULL;
	ck_assert_int_eq(pb_tokenizer_new(tok, NULL, 6, 1, 2, &t), 0);
	ck_assert_int_eq(pb_tokenizer_kind(t), 0);
	struct pb_vocab_spec v;
	char err[256];
	ck_assert_int_eq(pb_tokenizer_export(t, &v), 0);
	ck_assert_str_eq(v.model, "llama");
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &u, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(u), 0);
	expect_ids(u, "A A", (int[]){ 3, 4, 3 }, 3);
	pb_tokenizer_free(u);
	pb_tokenizer_free(t);
}
END_TEST

static void write_bytes(char *path, size_t len, const char *name, const void *p, size_t n)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	ck_assert_int_eq(pb_write_file(path, p, n), 0);
}

static void expect_fail(int rc, const char *err, const char *path, const char *what)
{
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(err, path), "error does not name the file: %s", err);
	ck_assert_msg(strstr(err, what), "error lacks '%s': %s", what, err);
}

START_TEST(malformed_llama2c)
{
	char path[512], err[512];
	struct pb_tokenizer *t = NULL;
	/* max_token_length 3; token 0: score 0, length 1, "a" */
	unsigned char ok[] = { 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a' };
	write_bytes(path, sizeof path, "short.bin", ok, 2);
	expect_fail(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err), err, path, "offset 0");
	write_bytes(path, sizeof path, "ok.bin", ok, sizeof ok);
	ck_assert_msg(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err) == 0, "%s", err);
	pb_tokenizer_free(t);
	/* the model wants 2 tokens, the file has 1 */
	expect_fail(pb_tokenizer_load_llama2c(path, 2, &t, err, sizeof err), err, path, "offset 13: token 1");
	/* cut inside token 0's header */
	write_bytes(path, sizeof path, "cut.bin", ok, 8);
	expect_fail(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err), err, path, "offset 4: token 0");
	/* negative length */
	unsigned char neg[] = { 3, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff };
	write_bytes(path, sizeof path, "neg.bin", neg, sizeof neg);
	expect_fail(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err), err, path, "length -3 is negative");
	/* length beyond the end of the file */
	unsigned char far[] = { 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 'a', 'b' };
	write_bytes(path, sizeof path, "far.bin", far, sizeof far);
	expect_fail(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err), err, path,
		    "offset 8: token 0: length 9 runs past the end of the file (2 bytes left)");
	snprintf(path, sizeof path, "%s/missing.bin", tmpdir);
	expect_fail(pb_tokenizer_load_llama2c(path, 1, &t, err, sizeof err), err, path, "cannot read");
}
END_TEST

START_TEST(malformed_json)
{
	char path[512], err[512];
	struct pb_tokenizer *t = NULL;
	const char *bad = "{\n  \"model\": {\n    \"type\": \"BPE\",,\n";
	write_bytes(path, sizeof path, "bad.json", bad, strlen(bad));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, ":3:");
	const char *nomodel = "{\"version\": \"1.0\", \"added_tokens\": []}";
	write_bytes(path, sizeof path, "nomodel.json", nomodel, strlen(nomodel));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "\"model\" object");
	const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
	write_bytes(path, sizeof path, "wp.json", wp, strlen(wp));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path,
		    "model.type \"WordPiece\" is not supported");
	const char *merge = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}";
	write_bytes(path, sizeof path, "merge.json", merge, strlen(merge));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "model.merges[0]");
	const char *gap = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}, \"merges\": []}}";
	write_bytes(path, sizeof path, "gap.json", gap, strlen(gap));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "id 1 has no piece");
	const char *pre = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
			  " \"pre_tokenizer\": {\"type\": \"Split\"}}";
	write_bytes(path, sizeof path, "pre.json", pre, strlen(pre));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "Split: expected a pattern");
	const char *bert = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
			   " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
	write_bytes(path, sizeof path, "bert.json", bert, strlen(bert));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path,
		    "\"BertPreTokenizer\" is not supported");
	const char *badre = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
			    " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[a\"},"
			    " \"behavior\": \"Isolated\"}}";
	write_bytes(path, sizeof path, "badre.json", badre, strlen(badre));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "missing terminating ]");
	const char *uni = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"b\"]]}}";
	write_bytes(path, sizeof path, "uni.json", uni, strlen(uni));
	expect_fail(pb_tokenizer_load_json(path, &t, err, sizeof err), err, path, "model.vocab[1]");
}
END_TEST

int main(void)
{
	const char *src = getenv("PB_SOURCE_ROOT");
	snprintf(datadir, sizeof datadir, "%s/tests/tokenizers/data", src ? src : ".");
	Suite *s = suite_create("tokenizers");
	TCase *tc = tcase_create("vocab");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bytelevel_json);
	tcase_add_test(tc, unigram_json_and_t5);
	tcase_add_test(tc, spm_scores);
	tcase_add_test(tc, byte_vocab_export);
	tcase_add_test(tc, malformed_llama2c);
	tcase_add_test(tc, malformed_json);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

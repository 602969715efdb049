/* tests/tokenizers/test-tok-split.c — the regex side of the pipeline
 * (core/text/tok-split.c, tok-pre.c): tokenizer.json Split with each
 * behavior and invert, Digits, Whitespace, Replace with a Regex, the
 * Unicode normalization forms, and what a GGUF vocabulary's
 * tokenizer.ggml.pre selects.
 *
 * One hand-made BPE vocabulary makes the piece boundaries visible: pieces
 * a 0, b 1, ab 2, ',' 3, 1 4, 2 5, 12 6, "b," 7, ",a" 8, é 9, x 10, y 11;
 * merges in rank order "b ,", ", a", "a b", "1 2".  A merge can only join
 * characters of one piece, so "ab,ab" gives 2 3 2 when ',' is a piece of
 * its own and 0 7 2 when ',' ends the piece before it. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"
#include "util/util.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pb-test-split-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	pb_rm_rf(tmpdir);
}

/* The vocabulary above with this normalizer and pre_tokenizer (JSON). */
static struct pb_tokenizer *load(const char *norm, const char *pre)
{
	char path[512], err[512], json[2048];
	snprintf(json, sizeof json,
		 "{\"normalizer\": %s, \"pre_tokenizer\": %s, \"model\": {\"type\": \"BPE\", \"vocab\": "
		 "{\"a\": 0, \"b\": 1, \"ab\": 2, \",\": 3, \"1\": 4, \"2\": 5, \"12\": 6, \"b,\": 7, \",a\": 8,"
		 " \"\xc3\xa9\": 9, \"x\": 10, \"y\": 11},"
		 " \"merges\": [\"b ,\", \", a\", \"a b\", \"1 2\"]}}", norm, pre);
	snprintf(path, sizeof path, "%s/t.json", tmpdir);
	ck_assert_int_eq(pb_write_file(path, json, strlen(json)), 0);
	struct pb_tokenizer *t = NULL;
	ck_assert_msg(pb_tokenizer_load_json(path, &t, err, sizeof err) == 0, "%s", err);
	return t;
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

static void split_case(const char *behavior, int invert, const char *text, const int *want, int n)
{
	char pre[256];
	snprintf(pre, sizeof pre, "{\"type\": \"Split\", \"pattern\": {\"Regex\": \",\"}, \"behavior\": \"%s\","
		 " \"invert\": %s}", behavior, invert ? "true" : "false");
	struct pb_tokenizer *t = load("null", pre);
	expect_ids(t, text, want, n);
	pb_tokenizer_free(t);
}

START_TEST(split_behaviors)
{
	/* no pre-tokenizer: one piece, "b ," first: a (b,) a b → 0 7 2 */
	struct pb_tokenizer *t = load("null", "null");
	expect_ids(t, "ab,ab", (int[]){ 0, 7, 2 }, 3);
	pb_tokenizer_free(t);
	split_case("Isolated", 0, "ab,ab", (int[]){ 2, 3, 2 }, 3);
	split_case("Removed", 0, "ab,ab", (int[]){ 2, 2 }, 2);
	/* [ab,][ab] */
	split_case("MergedWithPrevious", 0, "ab,ab", (int[]){ 0, 7, 2 }, 3);
	/* [ab][,ab]: ", a" before "a b" */
	split_case("MergedWithNext", 0, "ab,ab", (int[]){ 2, 8, 1 }, 3);
	/* [ab][,,][ab]: two commas one piece (no merge joins them) */
	split_case("Contiguous", 0, "ab,,ab", (int[]){ 2, 3, 3, 2 }, 4);
	/* inverted: the text between commas is what is matched, and removed */
	split_case("Removed", 1, "ab,ab", (int[]){ 3 }, 1);
	/* a String pattern is literal: "." must not match every character */
	t = load("null", "{\"type\": \"Split\", \"pattern\": {\"String\": \".\"}, \"behavior\": \"Isolated\"}");
	expect_ids(t, "ab", (int[]){ 2 }, 1);
	pb_tokenizer_free(t);
}
END_TEST

START_TEST(digits_whitespace_sequence)
{
	struct pb_tokenizer *t = load("null", "{\"type\": \"Digits\", \"individual_digits\": true}");
	expect_ids(t, "12", (int[]){ 4, 5 }, 2);
	pb_tokenizer_free(t);
	t = load("null", "{\"type\": \"Digits\", \"individual_digits\": false}");
	expect_ids(t, "12", (int[]){ 6 }, 1);
	pb_tokenizer_free(t);
	/* Whitespace: \w+ and [^\w\s]+ pieces, spaces dropped (no space piece) */
	t = load("null", "{\"type\": \"Whitespace\"}");
	expect_ids(t, "ab ,a", (int[]){ 2, 3, 0 }, 3);
	pb_tokenizer_free(t);
	/* a Sequence applies each step to the pieces of the one before */
	t = load("null", "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\":"
		 " {\"Regex\": \",\"}, \"behavior\": \"MergedWithNext\"}, {\"type\": \"Digits\","
		 " \"individual_digits\": true}]}");
	expect_ids(t, "12,a", (int[]){ 4, 5, 8 }, 3);
	pb_tokenizer_free(t);
}
END_TEST

START_TEST(normalizers)
{
	/* NFC composes e + U+0301 into é; NFD would leave two characters */
	struct pb_tokenizer *t = load("{\"type\": \"NFC\"}", "null");
	expect_ids(t, "e\xcc\x81", (int[]){ 9 }, 1);
	pb_tokenizer_free(t);
	/* NFKC folds the fullwidth b (U+FF42) into b */
	t = load("{\"type\": \"NFKC\"}", "null");
	expect_ids(t, "a\xef\xbd\x82", (int[]){ 2 }, 1);
	pb_tokenizer_free(t);
	/* Replace with a Regex: every digit run becomes x */
	t = load("{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"\\\\d+\"}, \"content\": \"x\"}", "null");
	expect_ids(t, "a12y", (int[]){ 0, 10, 11 }, 3);
	pb_tokenizer_free(t);
}
END_TEST

/* tokenizer.ggml.pre picks llama.cpp's regexes; an unknown one is refused
 * by name, a missing one is llama.cpp's default. */
START_TEST(gguf_pre_names)
{
	/* GPT-2 byte-level pieces: a 0, b 1, 1 2, 2 3, 3 4, "12" 5, "123" 6,
	 * "Ġ" 7, "Ġa" 8; merges 1 2, 12 3, Ġ a */
	const char *tok[] = { "a", "b", "1", "2", "3", "12", "123", "\xc4\xa0", "\xc4\xa0" "a" };
	const char *merges[] = { "1 2", "12 3", "\xc4\xa0 a" };
	struct pb_vocab_spec v = {
		.model = "gpt2", .tokens = tok, .n_tokens = 9, .merges = merges, .n_merges = 3,
		.bos_id = -1, .eos_id = -1, .unk_id = -1, .pad_id = -1, .add_bos = -1,
		.add_space_prefix = -1, .byte_level = 1,
	};
	struct pb_tokenizer *t = NULL;
	char err[1024];
	/* gpt-2: " ?\p{N}+" keeps 123 one piece */
	v.pre = "gpt-2";
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "123 a", (int[]){ 6, 8 }, 2);
	pb_tokenizer_free(t);
	/* starcoder / smollm: every digit apart first */
	v.pre = "smollm";
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "123", (int[]){ 2, 3, 4 }, 3);
	pb_tokenizer_free(t);
	/* llama-bpe: digits in threes, a space before a letter joins it */
	v.pre = "llama-bpe";
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "1231 a", (int[]){ 6, 2, 8 }, 3);
	pb_tokenizer_free(t);
	/* qwen2: single digits */
	v.pre = "qwen2";
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "12", (int[]){ 2, 3 }, 2);
	pb_tokenizer_free(t);
	v.pre = "gpt-5";
	ck_assert_int_eq(pb_tokenizer_from_vocab(&v, &t, err, sizeof err), -ENOTSUP);
	ck_assert_msg(strstr(err, "pre-tokenizer 'gpt-5' is not known") && strstr(err, "llama-bpe"), "%s", err);
	ck_assert(pb_tokenizer_pre_known("tekken") && pb_tokenizer_pre_known("deepseek-coder"));
	ck_assert(!pb_tokenizer_pre_known("gpt-5"));
	v.pre = NULL;   /* llama.cpp's default: digits in threes after \p{N}+ */
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "123", (int[]){ 6 }, 1);
	pb_tokenizer_free(t);
}
END_TEST

/* A Llama-3 style tokenizer.json (Split with llama.cpp's regex, then
 * ByteLevel without its own regex) exports under the name llama-bpe. */
START_TEST(json_pre_exports_by_name)
{
	char path[512], err[512], json[2048];
	const char *llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}|"
			     " ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
	snprintf(json, sizeof json,
		 "{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
		 " \"pattern\": {\"Regex\": \"%s\"}, \"behavior\": \"Isolated\", \"invert\": false},"
		 " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},"
		 " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}",
		 llama3);
	snprintf(path, sizeof path, "%s/l3.json", tmpdir);
	ck_assert_int_eq(pb_write_file(path, json, strlen(json)), 0);
	struct pb_tokenizer *t = NULL;
	ck_assert_msg(pb_tokenizer_load_json(path, &t, err, sizeof err) == 0, "%s", err);
	struct pb_vocab_spec v;
	ck_assert_int_eq(pb_tokenizer_export(t, &v), 0);
	ck_assert_str_eq(v.model, "gpt2");
	ck_assert_ptr_nonnull(v.pre);
	ck_assert_str_eq(v.pre, "llama-bpe");
	pb_tokenizer_free(t);
}
END_TEST

/* A GGUF SentencePiece vocabulary cuts its user-defined pieces out first
 * and gives each stretch after one its own U+2581 prefix, as llama.cpp
 * does; without add_space_prefix (Gemma's files) there is none.  Control
 * pieces written in the text stay text. */
START_TEST(gguf_spm_special_pieces)
{
	const char *tok[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "\xe2\x96\x81" "b", "a", "b", "<u>", "<",
			      "s", ">" };
	const int32_t types[] = { 2, 3, 3, 1, 1, 1, 1, 4, 1, 1, 1 };
	const float scores[] = { 0, 0, 0, -1, -1, -2, -2, 0, -3, -3, -3 };
	struct pb_vocab_spec v = {
		.model = "llama", .tokens = tok, .n_tokens = 11, .scores = scores, .types = types,
		.bos_id = 1, .eos_id = 2, .unk_id = 0, .pad_id = -1, .add_bos = -1, .add_space_prefix = -1,
	};
	struct pb_tokenizer *t = NULL;
	char err[512];
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	/* [▁a] <u> [▁b]; the control piece "<s>" in the text is the pieces
	 * < s > */
	expect_ids(t, "a<u>b", (int[]){ 3, 7, 4 }, 3);
	expect_ids(t, "a<s>", (int[]){ 3, 8, 9, 10 }, 4);
	pb_tokenizer_free(t);
	v.add_space_prefix = 0;
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "a<u>b", (int[]){ 5, 7, 6 }, 3);
	pb_tokenizer_free(t);
	/* Phi-3: the whitespace after a user-defined piece goes */
	v.add_space_prefix = -1;
	v.rstrip_special = 1;
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &t, err, sizeof err) == 0, "%s", err);
	expect_ids(t, "a<u>  b", (int[]){ 3, 7, 4 }, 3);
	pb_tokenizer_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tokenizers-split");
	TCase *tc = tcase_create("split");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, split_behaviors);
	tcase_add_test(tc, digits_whitespace_sequence);
	tcase_add_test(tc, normalizers);
	tcase_add_test(tc, gguf_pre_names);
	tcase_add_test(tc, json_pre_exports_by_name);
	tcase_add_test(tc, gguf_spm_special_pieces);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

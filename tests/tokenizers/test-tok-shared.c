/* tests/tokenizers/test-tok-shared.c — the real vocabularies in ../shared:
 * llama2.c's tok512.bin (SentencePiece-BPE with byte fallback) and
 * TinyStories-656K's tokenizer.json (Metaspace BPE, <unk>, added tokens).
 *
 * Expected ids come from the vocabulary files, never from the code under
 * test: golden ids were looked up in the files (the comments say which
 * pieces and merges give them), and for longer texts the test carries its
 * own naive encoders — llama2.c's run.c algorithm over its own parse of
 * tok512.bin, and rank-ordered BPE over its own jansson parse of
 * tokenizer.json — and asks for the same ids.  Exits 77 without ../shared. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

static char tok512[1024], tsjson[1024], stories[1024], gguf[1024];

/* ---- an independent llama2.c tokenizer (run.c's encode) */

struct l2c {
	int n;
	char **piece;      /* llama2.c form: ' ' for U+2581 */
	float *score;
	int *sorted;       /* ids by piece, for bsearch */
};

static struct l2c L;

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(L.piece[*(const int *)a], L.piece[*(const int *)b]);
}

static void l2c_load(void)
{
	FILE *f = fopen(tok512, "rb");
	ck_assert_ptr_nonnull(f);
	int maxlen;
	ck_assert_int_eq(fread(&maxlen, 4, 1, f), 1);
	L.n = 512;
	L.piece = calloc(512, sizeof *L.piece);
	L.score = calloc(512, sizeof *L.score);
	L.sorted = calloc(512, sizeof *L.sorted);
	for (int i = 0; i < 512; i++) {
		int len;
		ck_assert_int_eq(fread(&L.score[i], 4, 1, f), 1);
		ck_assert_int_eq(fread(&len, 4, 1, f), 1);
		L.piece[i] = calloc(1, (size_t)len + 1);
		ck_assert_int_eq(fread(L.piece[i], 1, (size_t)len, f), (size_t)len);
		L.sorted[i] = i;
	}
	fclose(f);
	qsort(L.sorted, 512, sizeof *L.sorted, cmp_ids);
}

static void l2c_free(void)
{
	for (int i = 0; i < L.n; i++)
		free(L.piece[i]);
	free(L.piece);
	free(L.score);
	free(L.sorted);
}

static int l2c_lookup(const char *s)
{
	int lo = 0, hi = L.n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2, c = strcmp(s, L.piece[L.sorted[mid]]);
		if (!c)
			return L.sorted[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* run.c: dummy prefix " ", UTF-8 characters (bytes + 3 when unknown),
 * then merge the best-scoring pair (first one on ties) until none. */
static int l2c_encode(const char *text, int *t)
{
	int n = 0;
	char buf[4096];
	if (*text)
		t[n++] = l2c_lookup(" ");
	for (const char *p = text; *p;) {
		size_t l = 1;
		while (p[l] && ((unsigned char)p[l] & 0xc0) == 0x80 && l < 4)
			l++;
		memcpy(buf, p, l);
		buf[l] = '\0';
		int id = l2c_lookup(buf);
		if (id >= 0)
			t[n++] = id;
		else
			for (size_t i = 0; i < l; i++)
				t[n++] = (unsigned char)p[i] + 3;
		p += l;
	}
	for (;;) {
		float best = -1e10f;
		int bi = -1, bid = -1;
		for (int i = 0; i + 1 < n; i++) {
			snprintf(buf, sizeof buf, "%s%s", L.piece[t[i]], L.piece[t[i + 1]]);
			int id = l2c_lookup(buf);
			if (id >= 0 && L.score[id] > best) {
				best = L.score[id];
				bi = i;
				bid = id;
			}
		}
		if (bi < 0)
			break;
		t[bi] = bid;
		memmove(t + bi + 1, t + bi + 2, (size_t)(n - bi - 2) * sizeof *t);
		n--;
	}
	return n;
}

static char *read_text(size_t *len)
{
	char *s = NULL;
	ck_assert_int_eq(pb_read_file(stories, &s, len), 0);
	return s;
}

static void expect_ids(const struct pb_tokenizer *t, const char *text, int bos, const int *want, int n)
{
	int32_t ids[64];
	int got = pb_tokenize(t, text, bos, ids, 64);
	ck_assert_msg(got == n, "'%s': %d tokens, expected %d", text, got, n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(ids[i] == want[i], "'%s': token %d is %d (%s), expected %d (%s)", text, i, ids[i],
			      pb_tokenizer_piece(t, ids[i]), want[i], pb_tokenizer_piece(t, want[i]));
}

static void expect_roundtrip(const struct pb_tokenizer *t, const char *text)
{
	int32_t ids[1024];
	char out[4096];
	int n = pb_tokenize(t, text, 1, ids, 1024);
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, 1024);
	ck_assert_int_ge(pb_tokenizer_decode(t, ids, n, out, sizeof out), 0);
	ck_assert_str_eq(out, text);
}

START_TEST(tok512_golden)
{
	struct pb_tokenizer *t = NULL;
	char err[512];
	ck_assert_msg(pb_tokenizer_load_llama2c(tok512, 512, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(t), PB_TOK_SPM);
	ck_assert_int_eq(pb_tokenizer_vocab(t), 512);
	ck_assert_int_eq(pb_tokenizer_bos(t), 1);
	ck_assert_int_eq(pb_tokenizer_eos(t), 2);
	ck_assert_int_eq(pb_tokenizer_unk(t), 0);
	ck_assert_int_eq(pb_tokenizer_add_bos(t), 1);
	/* back in SentencePiece form: "\n<s>\n" → "<s>", ' ' → U+2581 */
	ck_assert_str_eq(pb_tokenizer_piece(t, 1), "<s>");
	ck_assert_str_eq(pb_tokenizer_piece(t, 403), "\xe2\x96\x81Once");
	ck_assert_int_eq(pb_tokenizer_type(t, 1), PB_TOKEN_CONTROL);
	ck_assert_int_eq(pb_tokenizer_type(t, 0), PB_TOKEN_UNKNOWN);
	ck_assert_int_eq(pb_tokenizer_type(t, 3 + 0xC3), PB_TOKEN_BYTE);
	ck_assert_int_eq(pb_tokenizer_type(t, 403), PB_TOKEN_NORMAL);
	ck_assert_float_eq(pb_tokenizer_score(t, 403), -144.0f);

	/* tok512.bin holds whole-word pieces ' Once' 403, ' upon' 407, ' a' 261,
	 * ' time' 378 (each built by its own chain of merges: ' On' 321 + 'ce'
	 * 331, ...); BOS is 1. */
	expect_ids(t, "Once upon a time", 1, (int[]){ 1, 403, 407, 261, 378 }, 5);
	/* ' Lily' 317 (from ' L' 307 + 'ily' 310) */
	expect_ids(t, "Lily", 0, (int[]){ 317 }, 1);
	/* 'é' is piece 485 in this vocabulary; 'ü' is not, nor '▁ü': the
	 * prefix is ' ' 410 and ü (C3 BC) falls back to <0xC3> 3+0xC3 = 198,
	 * <0xBC> 3+0xBC = 191 */
	expect_ids(t, "\xc3\xa9", 0, (int[]){ 410, 485 }, 2);
	expect_ids(t, "\xc3\xbc", 0, (int[]){ 410, 198, 191 }, 3);
	/* no piece '  ' nor ' x': prefix ' ' 410, the space 410, 'x' 444 */
	expect_ids(t, " x", 0, (int[]){ 410, 410, 444 }, 3);
	expect_ids(t, "x ", 0, (int[]){ 410, 444, 410 }, 3);
	/* a stray UTF-8 lead byte is one character on its own: <0xC3> 198,
	 * and the space after it stays a separate ' ' 410 */
	expect_ids(t, "\xc3 x", 0, (int[]){ 410, 198, 410, 444 }, 4);
	expect_ids(t, "", 0, NULL, 0);
	expect_ids(t, "", 1, (int[]){ 1 }, 1);
	/* a control piece in the text is text, not the control token */
	int32_t ids[32];
	int n = pb_tokenize(t, "<s>", 0, ids, 32);
	for (int i = 0; i < n; i++)
		ck_assert_int_ne(ids[i], 1);

	/* decoding: the prefix space goes, bytes assemble into UTF-8 */
	char out[256];
	ck_assert_int_eq(pb_tokenizer_decode(t, (int32_t[]){ 1, 403, 407, 261, 378, 2 }, 6, out, sizeof out), 16);
	ck_assert_str_eq(out, "Once upon a time");
	char stream[64] = "";
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(pb_detokenize(t, (int32_t[]){ 410, 198, 191 }[i], stream, sizeof stream), 0);
	ck_assert_str_eq(stream, "\xc3\xbc");
	ck_assert_int_eq(pb_tokenizer_decode(t, (int32_t[]){ 403 }, 1, out, 4), -ENOSPC);
	ck_assert_str_eq(out, "");
	expect_roundtrip(t, "  leading and trailing  ");
	expect_roundtrip(t, "Ünïcödé — 日本語 🙂 and tabs\tand\nnewlines");
	pb_tokenizer_free(t);
}
END_TEST

/* llama.cpp's algorithm and llama2.c's agree, story by story. */
START_TEST(tok512_matches_llama2c)
{
	struct pb_tokenizer *t = NULL;
	char err[512];
	ck_assert_msg(pb_tokenizer_load_llama2c(tok512, 512, &t, err, sizeof err) == 0, "%s", err);
	l2c_load();
	size_t len;
	char *text = read_text(&len), *save = NULL;
	int lines = 0;
	static int want[8192];
	static int32_t got[8192];
	for (char *line = strtok_r(text, "\n", &save); line && lines < 60; line = strtok_r(NULL, "\n", &save)) {
		int n = l2c_encode(line, want);
		ck_assert_int_eq(pb_tokenize(t, line, 0, got, 8192), n);
		for (int i = 0; i < n; i++)
			ck_assert_msg(got[i] == want[i], "line %d token %d: %d, run.c says %d", lines, i, got[i], want[i]);
		expect_roundtrip(t, line);
		lines++;
	}
	ck_assert_int_eq(lines, 60);
	free(text);
	l2c_free();
	pb_tokenizer_free(t);
}
END_TEST

/* ---- an independent Metaspace BPE over tokenizer.json (naive: find the
 * best-ranked adjacent pair, merge it, repeat) */
static int naive_bpe(json_t *vocab, json_t *ranks, const char *text, int *out)
{
	char *sym[2048];
	int n = 0;
	/* normalizer: Prepend("▁"), Replace(" ", "▁") */
	char norm[8192] = "\xe2\x96\x81";
	for (const char *p = text; *p; p++)
		strncat(norm, *p == ' ' ? "\xe2\x96\x81" : (char[]){ *p, 0 }, sizeof norm - strlen(norm) - 1);
	for (const char *p = norm; *p;) {
		size_t l = 1;
		while (p[l] && ((unsigned char)p[l] & 0xc0) == 0x80)
			l++;
		sym[n++] = strndup(p, l);
		p += l;
	}
	for (;;) {
		long best = -1;
		int bi = -1;
		char key[1024];
		for (int i = 0; i + 1 < n; i++) {
			snprintf(key, sizeof key, "%s %s", sym[i], sym[i + 1]);
			json_t *r = json_object_get(ranks, key);
			if (r && (best < 0 || json_integer_value(r) < best)) {
				best = (long)json_integer_value(r);
				bi = i;
			}
		}
		if (bi < 0)
			break;
		char *m = malloc(strlen(sym[bi]) + strlen(sym[bi + 1]) + 1);
		strcpy(m, sym[bi]);
		strcat(m, sym[bi + 1]);
		free(sym[bi]);
		free(sym[bi + 1]);
		sym[bi] = m;
		memmove(sym + bi + 1, sym + bi + 2, (size_t)(n - bi - 2) * sizeof *sym);
		n--;
	}
	int k = 0;
	for (int i = 0; i < n; i++) {
		json_t *id = json_object_get(vocab, sym[i]);
		int v = id ? (int)json_integer_value(id) : 0;   /* <unk> is 0 */
		if (!(v == 0 && k > 0 && out[k - 1] == 0))       /* fuse_unk */
			out[k++] = v;
		free(sym[i]);
	}
	return k;
}

START_TEST(tinystories_json)
{
	struct pb_tokenizer *t = NULL;
	char err[512];
	ck_assert_msg(pb_tokenizer_load_json(tsjson, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(t), PB_TOK_BPE);
	ck_assert_int_eq(pb_tokenizer_vocab(t), 2048);
	/* tokenizer_config.json: bos <|start_story|> 1, eos <|end_story|> 2 */
	ck_assert_int_eq(pb_tokenizer_bos(t), 1);
	ck_assert_int_eq(pb_tokenizer_eos(t), 2);
	ck_assert_int_eq(pb_tokenizer_unk(t), 0);
	ck_assert_int_eq(pb_tokenizer_add_bos(t), 1);
	ck_assert_int_eq(pb_tokenizer_type(t, 1), PB_TOKEN_CONTROL);

	/* model.vocab: "▁" 80, "On" 147, "ce▁" 201, "upon▁a▁tim" 282, "e" 57.
	 * There is no pre-tokenizer, so the merges (which attach ▁ to the end
	 * of words: "e ▁" is rank 0) run over the whole "▁Once▁upon▁a▁time"
	 * and may cross word boundaries, hence "upon▁a▁tim". */
	expect_ids(t, "Once upon a time", 1, (int[]){ 1, 80, 147, 201, 282, 57 }, 6);
	/* "Lily" 629 after the prefix "▁" 80 */
	expect_ids(t, "Lily", 0, (int[]){ 80, 629 }, 2);
	/* é, ü, 日本語 are not in the vocabulary and it has no <0xNN> pieces:
	 * <unk> 0, consecutive unknowns fused (fuse_unk); "x" 76 */
	expect_ids(t, "\xc3\xa9 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e x", 0,
		   (int[]){ 80, 0, 80, 0, 80, 0, 80, 76 }, 8);
	/* <|end_story|> is an added token with "normalized": true, matched as
	 * its normalized form "▁<|end_story|>" (Prepend applies to it), so it
	 * takes the ▁ of the space before it: "The▁" 247, "cat" 476, then 2 */
	expect_ids(t, "The cat <|end_story|>", 0, (int[]){ 80, 247, 476, 2 }, 4);
	/* without a space before it, it is ordinary text: "▁a" 85, "<|" 208,
	 * "end" 183, "_story" 209, "|>" 210 */
	expect_ids(t, "a<|end_story|>", 0, (int[]){ 85, 208, 183, 209, 210 }, 5);
	expect_ids(t, "", 0, NULL, 0);

	char out[256];
	ck_assert_int_ge(pb_tokenizer_decode(t, (int32_t[]){ 1, 80, 147, 201, 282, 57, 2 }, 7, out, sizeof out), 0);
	ck_assert_str_eq(out, "Once upon a time");
	expect_roundtrip(t, "  leading and trailing  ");

	/* the naive encoder agrees on real text, and decoding gives it back */
	json_t *root = json_load_file(tsjson, 0, NULL), *ranks = json_object();
	ck_assert_ptr_nonnull(root);
	json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab"), *m;
	size_t i;
	json_array_foreach(json_object_get(model, "merges"), i, m)
		json_object_set_new(ranks, json_string_value(m), json_integer((json_int_t)i));
	size_t len;
	char *text = read_text(&len), *save = NULL;
	int lines = 0, clean = 0;
	static int want[8192];
	static int32_t got[8192], want32[512];
	for (char *line = strtok_r(text, "\n", &save); line && lines < 30; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) > 600)
			continue;
		int n = naive_bpe(vocab, ranks, line, want);
		ck_assert_int_eq(pb_tokenize(t, line, 0, got, 8192), n);
		int unk = 0;
		for (int k = 0; k < n; k++) {
			ck_assert_msg(got[k] == want[k], "line %d token %d: %d, expected %d", lines, k, got[k], want[k]);
			unk |= got[k] == 0;
		}
		if (!unk && !strstr(line, "<|")) {   /* text the vocabulary can spell */
			expect_roundtrip(t, line);
			clean++;
		}
		lines++;
	}
	ck_assert_int_eq(lines, 30);
	ck_assert_int_ge(clean, 20);

	/* exported for GGUF ("llama" with the merges) and read back: the same
	 * ids for the same text */
	struct pb_vocab_spec v;
	struct pb_tokenizer *u = NULL;
	ck_assert_int_eq(pb_tokenizer_export(t, &v), 0);
	ck_assert_str_eq(v.model, "llama");
	ck_assert_int_eq(v.n_merges, 1967);
	ck_assert_int_eq(v.add_bos, 1);
	ck_assert_int_eq(v.byte_level, 0);
	ck_assert_msg(pb_tokenizer_from_vocab(&v, &u, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_tokenizer_kind(u), PB_TOK_BPE);
	const char *story = "Once upon a time, a little dog named Max found a big red ball. \"Wow!\" he said.";
	int n1 = pb_tokenize(t, story, 1, want32, 512), n2 = pb_tokenize(u, story, 1, got, 512);
	ck_assert_int_eq(n1, n2);
	for (int k = 0; k < n1; k++)
		ck_assert_int_eq(want32[k], got[k]);
	pb_tokenizer_free(u);
	free(text);
	json_decref(ranks);
	json_decref(root);
	pb_tokenizer_free(t);
}
END_TEST

/* The same vocabulary in GGUF v1 metadata (read by the model loader)
 * gives the same pieces, types and ids as tok512.bin. */
START_TEST(gguf_matches_tok512)
{
	struct pb_model *m = NULL;
	struct pb_tokenizer *t = NULL;
	char err[512];
	ck_assert_msg(pb_model_load(gguf, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_tokenizer_load_llama2c(tok512, 512, &t, err, sizeof err) == 0, "%s", err);
	const struct pb_tokenizer *g = pb_model_tokenizer(m);
	ck_assert_int_eq(pb_tokenizer_kind(g), PB_TOK_SPM);
	ck_assert_int_eq(pb_tokenizer_vocab(g), 512);
	for (int i = 0; i < 512; i++) {
		ck_assert_str_eq(pb_tokenizer_piece(g, i), pb_tokenizer_piece(t, i));
		ck_assert_int_eq(pb_tokenizer_type(g, i), pb_tokenizer_type(t, i));
	}
	const char *text = "Once upon a time, there was a little girl named Lily. \xc3\xbc!";
	int32_t a[128], b[128];
	int na = pb_tokenize(g, text, 1, a, 128), nb = pb_tokenize(t, text, 1, b, 128);
	ck_assert_int_eq(na, nb);
	for (int i = 0; i < na; i++)
		ck_assert_int_eq(a[i], b[i]);
	pb_tokenizer_free(t);
	pb_model_free(m);
}
END_TEST

int main(void)
{
	const char *shared = getenv("PB_SHARED");
	if (!shared || pb_path_join(tok512, sizeof tok512, shared, "models/stories260K/tok512.bin") < 0 ||
	    access(tok512, R_OK)) {
		printf("skip: PB_SHARED (%s) has no models/stories260K/tok512.bin\n", shared ? shared : "unset");
		return 77;
	}
	pb_path_join(tsjson, sizeof tsjson, shared, "models/tinystories-656k/tokenizer.json");
	pb_path_join(stories, sizeof stories, shared, "data/tinystories-valid-head.txt");
	pb_path_join(gguf, sizeof gguf, shared, "models/stories260K/stories260K-ggufv1-f32.gguf");
	if (access(tsjson, R_OK) || access(stories, R_OK) || access(gguf, R_OK)) {
		printf("skip: PB_SHARED (%s) lacks tinystories-656k/tokenizer.json, the stories text or the stories260K GGUF\n", shared);
		return 77;
	}
	Suite *s = suite_create("tokenizers-shared");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tok512_golden);
	tcase_add_test(tc, tok512_matches_llama2c);
	tcase_add_test(tc, tinystories_json);
	tcase_add_test(tc, gguf_matches_tok512);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/tokenizers/test-tok-llamacpp.c — llama.cpp's tokenizer test data:
 * for every ggml-vocab-*.gguf in ../shared/tokenizers/llama.cpp-vocab/,
 * the vocabulary-only GGUF is loaded and every case of its .inp is
 * tokenized and compared with the ids Hugging Face tokenizers gave (.out).
 *
 * Cases are read as llama.cpp's tests/test-tokenizer-0.cpp reads them: the
 * .inp split at "\n__ggml_vocab_test__\n" (the text between, exactly), one
 * .out line of space-separated ids per case; tokenized without BOS/EOS
 * (add_special false) and with special pieces in the text left as text
 * (parse_special false).  Every mismatching case is reported with both id
 * lists, then the vocabulary fails.  Exits 77 without ../shared. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

#define MAX_VOCABS 32
#define MAX_IDS 4096

static char dir[1024];
static char *vocabs[MAX_VOCABS];
static int n_vocabs;

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *buf = NULL;
	size_t cap = 0, len = 0, got;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got);
	fclose(f);
	buf[len] = '\0';
	*n = len;
	return buf;
}

/* Cut the .inp into cases in place; returns how many. */
static int split_cases(char *inp, size_t n, char **cases, int max)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	int k = 0;
	size_t pos = 0;
	while (pos < n && k < max) {
		char *next = strstr(inp + pos, sep);
		cases[k++] = inp + pos;
		if (!next)
			break;
		*next = '\0';
		pos = (size_t)(next - inp) + sizeof sep - 1;
	}
	return k;
}

static int parse_ids(char *line, int32_t *ids, int max)
{
	int n = 0;
	for (char *tok = strtok(line, " \t\r"); tok && n < max; tok = strtok(NULL, " \t\r"))
		ids[n++] = (int32_t)strtol(tok, NULL, 10);
	return n;
}

static void print_ids(FILE *f, const char *what, const int32_t *ids, int n)
{
	fprintf(f, "    %s (%d):", what, n);
	for (int i = 0; i < n; i++)
		fprintf(f, " %d", ids[i]);
	fputc('\n', f);
}

START_TEST(vocab_cases)
{
	const char *name = vocabs[_i];
	char gguf[1200], inp_path[1300], out_path[1300], err[1024];
	snprintf(gguf, sizeof gguf, "%s/%s", dir, name);
	snprintf(inp_path, sizeof inp_path, "%s.inp", gguf);
	snprintf(out_path, sizeof out_path, "%s.out", gguf);
	struct pb_tokenizer *t = NULL;
	ck_assert_msg(pb_gguf_tokenizer_load(gguf, NULL, &t, err, sizeof err) == 0, "%s", err);

	size_t ni, no;
	char *inp = slurp(inp_path, &ni), *out = slurp(out_path, &no);
	char *cases[512], *lines[512];
	int nc = split_cases(inp, ni, cases, 512), nl = 0;
	/* lines as getline reads them: an empty one is an empty case's */
	for (char *l = out; *l && nl < 512;) {
		char *nlp = strchr(l, '\n');
		lines[nl++] = l;
		if (!nlp)
			break;
		*nlp = '\0';
		l = nlp + 1;
	}
	ck_assert_msg(nc == nl, "%s: %d cases in .inp, %d lines in .out", name, nc, nl);

	static int32_t want[MAX_IDS], got[MAX_IDS];
	int failed = 0;
	for (int i = 0; i < nc; i++) {
		int nw = parse_ids(lines[i], want, MAX_IDS);
		int ng = pb_tokenize(t, cases[i], 0, got, MAX_IDS);
		ck_assert_msg(ng >= 0 && ng <= MAX_IDS, "%s: case %d: pb_tokenize returned %d", name, i, ng);
		int same = ng == nw;
		for (int k = 0; same && k < ng; k++)
			same = got[k] == want[k];
		if (!same) {
			fprintf(stderr, "%s: case %d '%s' differs\n", name, i, cases[i]);
			print_ids(stderr, "want", want, nw);
			print_ids(stderr, "got ", got, ng);
			failed++;
		}
	}
	printf("%s: %d/%d cases match\n", name, nc - failed, nc);
	free(inp);
	free(out);
	pb_tokenizer_free(t);
	ck_assert_msg(failed == 0, "%s: %d of %d cases differ (listed above)", name, failed, nc);
}
END_TEST

/* An unknown tokenizer.ggml.pre is an error naming it; forcing a known
 * one loads. */
START_TEST(unknown_pre_named)
{
	char gguf[1200], err[1024];
	struct pb_tokenizer *t = NULL;
	snprintf(gguf, sizeof gguf, "%s/ggml-vocab-gpt-2.gguf", dir);
	ck_assert_int_eq(pb_gguf_tokenizer_load(gguf, "no-such-pre", &t, err, sizeof err), -ENOTSUP);
	ck_assert_msg(strstr(err, "'no-such-pre'") && strstr(err, "ggml-vocab-gpt-2.gguf"), "%s", err);
	ck_assert_msg(pb_gguf_tokenizer_load(gguf, "llama-bpe", &t, err, sizeof err) == 0, "%s", err);
	pb_tokenizer_free(t);
	/* the same file saying tokenizer.ggml.pre "gpt-9": refused, naming the
	 * key, its value and the file; forcing gpt-2 loads it */
	size_t n;
	char *bytes = slurp(gguf, &n), tmp[] = "/tmp/pb-test-vocab-XXXXXX";
	char *key = memmem(bytes, n, "tokenizer.ggml.pre", 18);
	ck_assert_ptr_nonnull(key);
	char *val = memmem(key, n - (size_t)(key - bytes), "gpt-2", 5);
	ck_assert_ptr_nonnull(val);
	val[4] = '9';
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(pb_gguf_tokenizer_load(tmp, NULL, &t, err, sizeof err), -ENOTSUP);
	ck_assert_msg(strstr(err, tmp) && strstr(err, "tokenizer.ggml.pre: pre-tokenizer 'gpt-9' is not known"), "%s",
		      err);
	ck_assert_msg(pb_gguf_tokenizer_load(tmp, "gpt-2", &t, err, sizeof err) == 0, "%s", err);
	int32_t ids[8];
	ck_assert_int_eq(pb_tokenize(t, " Hello world", 0, ids, 8), 2);
	ck_assert_int_eq(ids[0], 18435);
	ck_assert_int_eq(ids[1], 995);
	pb_tokenizer_free(t);
	unlink(tmp);
	free(bytes);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *shared = getenv("PB_SHARED");
	DIR *d = NULL;
	if (shared && pb_path_join(dir, sizeof dir, shared, "tokenizers/llama.cpp-vocab") == 0)
		d = opendir(dir);
	if (!d) {
		printf("skip: PB_SHARED (%s) has no tokenizers/llama.cpp-vocab/\n", shared ? shared : "unset");
		return 77;
	}
	for (struct dirent *e; (e = readdir(d)) && n_vocabs < MAX_VOCABS;) {
		size_t n = strlen(e->d_name);
		if (!strncmp(e->d_name, "ggml-vocab-", 11) && n > 5 && !strcmp(e->d_name + n - 5, ".gguf"))
			vocabs[n_vocabs++] = strdup(e->d_name);
	}
	closedir(d);
	if (!n_vocabs) {
		printf("skip: %s holds no ggml-vocab-*.gguf\n", dir);
		return 77;
	}
	qsort(vocabs, (size_t)n_vocabs, sizeof *vocabs, cmp_str);
	Suite *s = suite_create("tokenizers-llamacpp");
	TCase *tc = tcase_create("llamacpp");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, vocab_cases, 0, n_vocabs);
	tcase_add_test(tc, unknown_pre_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (int i = 0; i < n_vocabs; i++)
		free(vocabs[i]);
	return failed ? 1 : 0;
}

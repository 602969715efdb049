/* tests/cpu-blas/test-calib.c — `gemm: auto`'s calibration (calib.c):
 * each linear shape is timed once and kept in the cache file; a later
 * instance takes the file's choice without timing again (so two runs on
 * one machine choose alike); a malformed line is skipped with a warning
 * that names the file and line; a cache that cannot be written keeps the
 * rule; the manifest's account (describe) says what was chosen and why;
 * and the choice, whichever it is, does not depend on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "arch/arch.h"
#include "backends.h"
#include "model/modelio.h"

static char dir[] = "/tmp/pb-calib-XXXXXX";
static char cache[256];

static struct pb_model *model(void)
{
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth("llama-15m", 3, &m, err, sizeof err) == 0, "%s", err);
	return m;
}

static void open_cb(struct be *b, const char *cache_path, int threads)
{
	struct cb_config cfg = { .threads = threads, .sparse_threshold = 0.35, .check_nan = 1 };
	snprintf(cfg.gemm_cache, sizeof cfg.gemm_cache, "%s", cache_path);
	be_open(b, "cpu-blas", &cfg);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *s = calloc(1, 1 << 20);
	size_t n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The distinct (n_out, n_in) of the model's linears (llama-15m: F32). */
static int distinct_shapes(const struct pb_model *m)
{
	int64_t seen[64][2];
	int n = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role))
			continue;
		int j = 0;
		while (j < n && !(seen[j][0] == t->ne[1] && seen[j][1] == t->ne[0]))
			j++;
		if (j == n && n < 64) {
			seen[n][0] = t->ne[1];
			seen[n++][1] = t->ne[0];
		}
	}
	return n;
}

/* Every linear's kernel must name the prefill path its shape's cache line
 * chose: "native" or "openblas" from the line's last field. */
static void kernels_follow(struct be *b, const struct pb_model *m, const char *tsv)
{
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		char k[128] = "", key[64];
		if (!pb_role_is_linear(t->role))
			continue;
		ck_assert_int_eq(b->ops->weight_kernel(b->st, i, k, sizeof k), 0);
		snprintf(key, sizeof key, "\t%lld\t%lld\tF32\t", (long long)t->ne[1], (long long)t->ne[0]);
		const char *line = strstr(tsv, key);
		ck_assert_msg(line, "no cache line for %s (%s)", t->name, key);
		const char *end = strchr(line, '\n');
		const int native = end && end - line > 7 && !strncmp(end - 6, "native", 6);
		ck_assert_msg(strstr(k, native ? "auto:native-gemm-" : "auto:openblas-sgemm"),
			      "%s runs '%s' but its cache line chose %s", t->name, k,
			      native ? "native" : "openblas");
	}
}

static int have_openblas(struct be *b)
{
	char d[8192];
	ck_assert_int_eq(b->ops->describe(b->st, d, sizeof d), 0);
	return !strstr(d, "has no OpenBLAS");
}

START_TEST(measured_then_cached)
{
	struct pb_model *m = model();
	struct be a, b;
	char d[8192];
	open_cb(&a, cache, 2);
	ck_assert_msg(a.ops->weights_load(a.st, m) == 0, "%s", be_last_log);
	if (!have_openblas(&a)) {
		be_close(&a);
		pb_model_free(m);
		printf("SKIP: this build has no OpenBLAS: nothing to calibrate against\n");
		return;
	}
	char *tsv = slurp(cache);
	ck_assert_msg(tsv, "gemm auto wrote no cache at %s", cache);
	const int shapes = distinct_shapes(m);
	/* a header line, then one line per shape with 12 fields */
	ck_assert_int_eq(count(tsv, "\n"), 1 + shapes);
	ck_assert_int_eq(count(tsv, "\t"), 11 * (1 + shapes));
	ck_assert_int_eq(a.ops->describe(a.st, d, sizeof d), 0);
	ck_assert_msg(count(d, "source: measured") == shapes, "%s", d);
	ck_assert_msg(strstr(d, "gemm: auto") && strstr(d, "added to"), "%s", d);
	kernels_follow(&a, m, tsv);
	be_close(&a);

	/* flip every choice: a second instance must follow the file, not
	 * time again (the file keeps its size) */
	char *flipped = calloc(1, strlen(tsv) + 64 * (size_t)shapes);
	for (char *line = tsv, *o = flipped; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		if (line[0] != '#' && n > 7 && !strncmp(line + n - 7, "\tnative", 7)) {
			memcpy(o, line, n - 6);
			o += n - 6;
			o += sprintf(o, "openblas\n");
		} else if (line[0] != '#' && n > 9 && !strncmp(line + n - 9, "\topenblas", 9)) {
			memcpy(o, line, n - 8);
			o += n - 8;
			o += sprintf(o, "native\n");
		} else {
			memcpy(o, line, n);
			o += n;
			*o++ = '\n';
		}
		line += n + (nl != NULL);
	}
	spit(cache, flipped);
	open_cb(&b, cache, 2);
	ck_assert_msg(b.ops->weights_load(b.st, m) == 0, "%s", be_last_log);
	char *after = slurp(cache);
	ck_assert_str_eq(after, flipped);
	kernels_follow(&b, m, flipped);
	ck_assert_int_eq(b.ops->describe(b.st, d, sizeof d), 0);
	ck_assert_msg(count(d, "source: cache") == shapes, "%s", d);
	be_close(&b);
	free(tsv);
	free(flipped);
	free(after);
	pb_model_free(m);
}
END_TEST

/* The cache file is input: junk lines are skipped with file:line, the
 * good lines still decide. */
START_TEST(bad_lines_skipped)
{
	struct pb_model *m = model();
	struct be a, b;
	open_cb(&a, cache, 1);
	ck_assert_msg(a.ops->weights_load(a.st, m) == 0, "%s", be_last_log);
	if (!have_openblas(&a)) {
		be_close(&a);
		pb_model_free(m);
		return;
	}
	be_close(&a);
	char *tsv = slurp(cache);
	/* a header, two junk lines, a line too long, binary, then the lines */
	ck_assert_ptr_nonnull(tsv);
	char *bad = calloc(1, strlen(tsv) + 8192);
	ck_assert_ptr_nonnull(bad);
	ck_assert_ptr_nonnull(strchr(tsv, '\n'));
	const char *body = strchr(tsv, '\n') + 1;
	char *o = bad;
	o += sprintf(o, "# comment\nnot\ta\tcalibration\tline\n");
	o += sprintf(o, "a\tb\tc\td\te\t128\t1\t1\tF32\tnan\t1\tnative\n");
	memset(o, 'x', 2000);
	o += 2000;
	*o++ = '\n';
	o += sprintf(o, "\x01\x02\xff\t\t\t\t\t\t\t\t\t\t\t\n");
	strcpy(o, body);
	spit(cache, bad);
	be_last_log[0] = '\0';
	open_cb(&b, cache, 1);
	ck_assert_msg(b.ops->weights_load(b.st, m) == 0, "%s", be_last_log);
	/* the last junk line (5) is the last warning; every good line found:
	 * nothing appended */
	char want[300];
	snprintf(want, sizeof want, "%s:5: not a calibration line", cache);
	ck_assert_msg(strstr(be_last_log, want), "last warning '%s', expected '%s'", be_last_log, want);
	char *after = slurp(cache);
	ck_assert_str_eq(after, bad);
	kernels_follow(&b, m, body);
	be_close(&b);
	free(tsv);
	free(bad);
	free(after);
	pb_model_free(m);
}
END_TEST

/* No writable cache: no timing (a choice no later run could repeat), the
 * rule, and the account says why; gemm_cache off likewise. */
START_TEST(no_cache_keeps_rule)
{
	struct pb_model *m = model();
	char fifo[300];
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* a folder, a FIFO (opening it would block the load) */
	const char *const where[] = { "/nonexistent-pb-dir/cal.tsv", "off", "", dir, fifo };
	for (int w = 0; w < 5; w++) {
		struct be a, r;
		struct cb_config rule = { .threads = 1, .sparse_threshold = 0.35, .check_nan = 1 };
		char d[8192], ka[128], kr[128];
		open_cb(&a, where[w], 1);
		ck_assert_msg(a.ops->weights_load(a.st, m) == 0, "%s", be_last_log);
		ck_assert_int_eq(a.ops->describe(a.st, d, sizeof d), 0);
		ck_assert_msg(strstr(d, "no calibration"), "%s: %s", where[w], d);
		ck_assert_msg(!strstr(d, "source: measured"), "%s: %s", where[w], d);
		/* the rule: what gemm_cache "" (a zeroed config) runs */
		be_open(&r, "cpu-blas", &rule);
		ck_assert_int_eq(r.ops->weights_load(r.st, m), 0);
		for (int i = 0; i < m->n_tensors; i++)
			if (pb_role_is_linear(m->tensors[i].role)) {
				a.ops->weight_kernel(a.st, i, ka, sizeof ka);
				r.ops->weight_kernel(r.st, i, kr, sizeof kr);
				ck_assert_str_eq(ka, kr);
			}
		be_close(&a);
		be_close(&r);
	}
	ck_assert_int_ne(access("/nonexistent-pb-dir", F_OK), 0);
	unlink(fifo);
	pb_model_free(m);
}
END_TEST

/* Whatever the cache chose, logits are the same on 1 and 3 threads. */
START_TEST(threads_agree)
{
	struct pb_model *m = model();
	struct be a, b;
	struct pb_session *sa = NULL, *sb = NULL;
	char err[256];
	const int vocab = (int)m->hp.vocab;
	float *la = malloc((size_t)vocab * sizeof *la), *lb = malloc((size_t)vocab * sizeof *lb);
	int32_t tok[24];
	for (int i = 0; i < 24; i++)
		tok[i] = (int32_t)((i * 29 + 3) % vocab);
	open_cb(&a, cache, 1);
	open_cb(&b, cache, 3);
	ck_assert_msg(a.ops->weights_load(a.st, m) == 0, "%s", be_last_log);
	ck_assert_msg(b.ops->weights_load(b.st, m) == 0, "%s", be_last_log);
	ck_assert_int_eq(pb_session_open(m, a.ops, a.st, &sa, err, sizeof err), 0);
	ck_assert_int_eq(pb_session_open(m, b.ops, b.st, &sb, err, sizeof err), 0);
	ck_assert_int_eq(pb_session_forward(sa, tok, 24, 0, la), 0);
	ck_assert_int_eq(pb_session_forward(sb, tok, 24, 0, lb), 0);
	ck_assert_msg(!memcmp(la, lb, (size_t)vocab * sizeof *la),
		      "prefill logits differ between 1 and 3 threads");
	pb_session_close(sa);
	pb_session_close(sb);
	be_close(&a);
	be_close(&b);
	free(la);
	free(lb);
	pb_model_free(m);
}
END_TEST

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/pb-calib-XXXXXX")));
	snprintf(cache, sizeof cache, "%s/gemm.tsv", dir);
}

static void teardown(void)
{
	char p[300];
	unlink(cache);
	snprintf(p, sizeof p, "%s.lock", cache);
	unlink(p);
	rmdir(dir);
}

int main(void)
{
	Suite *s = suite_create("cpu-blas-calib");
	TCase *tc = tcase_create("calib");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, measured_then_cached);
	tcase_add_test(tc, bad_lines_skipped);
	tcase_add_test(tc, no_cache_keeps_rule);
	tcase_add_test(tc, threads_agree);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tests/report/test-report.c — the report room: the noise statistics
 * (bootstrap CI, Mann-Whitney, box), escaping, the golden Markdown tables
 * of the fixture results folder, the HTML's structure (well-formed, every
 * chart an <svg> with content, nothing fetched from outside), and bad
 * input (CSV, YAML) failing with the file and line named. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "util/util.h"

static char fixture[4096], golden[4096];

static void paths(void)
{
	const char *src = getenv("PB_SOURCE_ROOT");
	ck_assert_msg(src, "PB_SOURCE_ROOT not set (run through meson test)");
	snprintf(fixture, sizeof fixture, "%s/tests/report/fixtures/results", src);
	snprintf(golden, sizeof golden, "%s/tests/report/golden/tables.md", src);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t n = 0;
	ck_assert_msg(pb_read_file(path, &buf, &n) == 0, "cannot read %s", path);
	return buf;
}

/* A scratch copy of the fixture, for tests that damage it. */
static void scratch_copy(char *dir, size_t len)
{
	char cmd[8400];
	snprintf(dir, len, "/tmp/pb-report-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "cp -r '%s/cells' '%s/'", fixture, dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int report(const char *dir, const char *out, const char *baseline, char *err, size_t len)
{
	struct pb_report_opts o = { .results_dir = dir, .out_dir = out, .baseline = baseline };
	return pb_report_write(&o, err, len);
}

/* ---- statistics */

START_TEST(bootstrap_same_and_shifted)
{
	double a[60], b[60], c[60], lo, hi, lo2, hi2;
	struct pb_rng r;
	pb_rng_seed(&r, 3);
	for (int i = 0; i < 60; i++) {
		a[i] = 100 + pb_rng_normal(&r);
		b[i] = 100 + pb_rng_normal(&r);
		c[i] = a[i] + 5;
	}
	/* two draws from one distribution: the CI straddles 0 */
	ck_assert_int_eq(pb_bootstrap_mean_diff(a, 60, b, 60, 2000, 1, 0.95, &lo, &hi), 0);
	ck_assert(lo < 0 && hi > 0);
	ck_assert_int_eq(pb_noise_judge(a, 60, b, 60), PB_NOISE_WITHIN);
	/* +5 with sd 1: far beyond noise, and the CI holds the true shift */
	ck_assert_int_eq(pb_bootstrap_mean_diff(a, 60, c, 60, 2000, 1, 0.95, &lo, &hi), 0);
	ck_assert(lo > 4.5 && hi < 5.5 && lo < 5 && hi > 5);
	ck_assert_int_eq(pb_noise_judge(a, 60, c, 60), PB_NOISE_BEYOND);
	/* deterministic for a seed */
	ck_assert_int_eq(pb_bootstrap_mean_diff(a, 60, c, 60, 2000, 1, 0.95, &lo2, &hi2), 0);
	ck_assert(lo == lo2 && hi == hi2);
}
END_TEST

START_TEST(bootstrap_edges)
{
	double a[] = { 1, NAN, 2, 3 }, one[] = { 5 }, lo, hi;
	ck_assert_int_eq(pb_bootstrap_mean_diff(a, 4, one, 1, 100, 1, 0.95, &lo, &hi), -EINVAL);
	ck_assert(isnan(lo) && isnan(hi));
	ck_assert_int_eq(pb_noise_judge(a, 4, one, 1), PB_NOISE_UNKNOWN);
	/* NANs are skipped, not taken as values */
	double b[] = { NAN, 11, 12, 13 };
	ck_assert_int_eq(pb_bootstrap_mean_diff(a, 4, b, 4, 500, 1, 0.95, &lo, &hi), 0);
	ck_assert(lo >= 8 && hi <= 12);
}
END_TEST

START_TEST(mann_whitney_values)
{
	double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	/* scipy.stats.mannwhitneyu(a, b, method='asymptotic') → 0.012185 */
	ck_assert_double_eq_tol(pb_mann_whitney_p(a, 5, b, 5), 0.012185, 1e-5);
	ck_assert_double_eq_tol(pb_mann_whitney_p(b, 5, a, 5), 0.012185, 1e-5);
	double c[] = { 1, 2, 3, 4, 5 };
	ck_assert_double_eq_tol(pb_mann_whitney_p(a, 5, c, 5), 1.0, 1e-12);
	double t1[] = { 1, 1, 1 }, t2[] = { 1, 1, 1, 1 };
	ck_assert_double_eq(pb_mann_whitney_p(t1, 3, t2, 4), 1.0);
	/* with ties (worked by hand): average ranks give U = 1.5, the tie
	 * term 78 gives var = 3 × (13 − 78/132), z = 16/sqrt(var) */
	double d[] = { 1, 2, 2, 3, 3, 3 }, e[] = { 3, 4, 4, 5, 5, 6 };
	ck_assert_double_eq_tol(pb_mann_whitney_p(d, 6, e, 6), 0.0087328, 1e-6);
	ck_assert(isnan(pb_mann_whitney_p(a, 0, b, 5)));
}
END_TEST

START_TEST(box_tukey)
{
	double x[] = { 5, 1, 3, 2, 4, 6, 8, 7, 9, 100, NAN };
	struct pb_box b;
	ck_assert_int_eq(pb_box_compute(x, 11, &b), 0);
	ck_assert_int_eq(b.n, 10);
	ck_assert_double_eq_tol(b.median, 5.5, 1e-12);
	ck_assert_double_eq_tol(b.q1, 3.25, 1e-12);
	ck_assert_double_eq_tol(b.q3, 7.75, 1e-12);
	ck_assert_double_eq(b.lo, 1);
	ck_assert_double_eq(b.hi, 9);     /* 100 is beyond 7.75 + 1.5 × 4.5 */
	ck_assert_double_eq(b.max, 100);
	double none[] = { NAN };
	ck_assert_int_eq(pb_box_compute(none, 1, &b), -EINVAL);
}
END_TEST

START_TEST(escaping)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	pb_html_puts(f, "<a href=\"x\">&'</a>\x01");
	fclose(f);
	ck_assert_str_eq(buf, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;&#xfffd;");
	free(buf);
	f = open_memstream(&buf, &n);
	pb_md_puts(f, "a|b *c* _d_ `e` <f>\nx&y [z]");
	fclose(f);
	ck_assert_str_eq(buf, "a\\|b \\*c\\* \\_d\\_ \\`e\\` &lt;f&gt; x&amp;y \\[z\\]");
	free(buf);
}
END_TEST

/* ---- the fixture: golden tables and the HTML */

START_TEST(golden_tables)
{
	char out[64], err[2048], path[4200];
	paths();
	snprintf(out, sizeof out, "/tmp/pb-report-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(out));
	ck_assert_msg(report(fixture, out, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", out);
	char *got = slurp(path), *want = slurp(golden);
	if (strcmp(got, want)) {
		/* the first differing line, so a failure says what changed */
		const char *g = got, *w = want;
		int line = 1;
		while (*g && *g == *w) {
			line += *g == '\n';
			g++, w++;
		}
		ck_abort_msg("tables.md differs from %s at line %d (got %s kept; regenerate with "
			     "'prunebench report %s -o DIR' if the change is intended)",
			     golden, line, path, fixture);
	}
	free(got);
	free(want);
	pb_rm_rf(out);
}
END_TEST

/* Tag balance: every element closed in order, void elements excepted.
 * Text is escaped by the report, so a '<' always starts markup. */
static int well_formed(const char *s, char *why, size_t len)
{
	static const char *const voids[] = { "meta", "br", "link", "img", "input", "hr" };
	char stack[256][32];
	int depth = 0;
	for (const char *p = s; (p = strchr(p, '<'));) {
		if (!strncmp(p, "<!--", 4)) {
			const char *e = strstr(p, "-->");
			if (!e)
				return snprintf(why, len, "unterminated comment"), 0;
			p = e + 3;
			continue;
		}
		if (p[1] == '!') {
			p = strchr(p, '>');
			if (!p)
				return snprintf(why, len, "unterminated doctype"), 0;
			continue;
		}
		const char *e = strchr(p, '>');
		if (!e)
			return snprintf(why, len, "unterminated tag at byte %zu", (size_t)(p - s)), 0;
		int closing = p[1] == '/';
		const char *n = p + 1 + closing;
		size_t l = strcspn(n, " \t\n/>");
		char name[32];
		if (!l || l >= sizeof name)
			return snprintf(why, len, "bad tag name at byte %zu", (size_t)(p - s)), 0;
		memcpy(name, n, l);
		name[l] = '\0';
		/* quotes inside the tag must balance */
		int q = 0;
		for (const char *k = p; k < e; k++)
			q ^= *k == '"';
		if (q)
			return snprintf(why, len, "unbalanced quotes in <%s> at byte %zu", name, (size_t)(p - s)), 0;
		int self = e[-1] == '/', isvoid = 0;
		for (size_t v = 0; v < sizeof voids / sizeof *voids; v++)
			isvoid |= !strcmp(name, voids[v]);
		if (closing) {
			if (!depth || strcmp(stack[depth - 1], name))
				return snprintf(why, len, "</%s> at byte %zu closes <%s>", name, (size_t)(p - s),
						depth ? stack[depth - 1] : "nothing"), 0;
			depth--;
		} else if (!self && !isvoid) {
			if (depth == 256)
				return snprintf(why, len, "nesting too deep"), 0;
			snprintf(stack[depth++], sizeof stack[0], "%s", name);
			if (!strcmp(name, "style") || !strcmp(name, "title") || !strcmp(name, "script")) {
				/* raw text up to the end tag */
				char end[40];
				snprintf(end, sizeof end, "</%s>", name);
				const char *c = strstr(e, end);
				if (!c)
					return snprintf(why, len, "<%s> never closed", name), 0;
				e = c - 1;
			}
		}
		p = e + 1;
	}
	if (depth)
		return snprintf(why, len, "<%s> never closed", stack[depth - 1]), 0;
	return 1;
}

START_TEST(html_structure)
{
	char out[64], err[2048], path[4200], why[256];
	paths();
	snprintf(out, sizeof out, "/tmp/pb-report-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(out));
	ck_assert_msg(report(fixture, out, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/index.html", out);
	char *html = slurp(path);
	ck_assert_msg(well_formed(html, why, sizeof why), "index.html: %s", why);
	ck_assert(!strncmp(html, "<!DOCTYPE html>", 15));
	/* self-contained: nothing fetched, no script at all */
	static const char *const banned[] = { "http://", "https://", "src=", "<script", "<link",
					      "url(", "@import", "xlink:href" };
	for (size_t i = 0; i < sizeof banned / sizeof *banned; i++)
		ck_assert_msg(!strstr(html, banned[i]), "index.html contains '%s'", banned[i]);
	ck_assert(strstr(html, "Content-Security-Policy"));
	/* the hostile reason arrives escaped */
	ck_assert(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; | *x* &amp;amp;"));
	/* every chart: an <svg> with a title, axes and drawn elements */
	int charts = 0;
	for (const char *p = html; (p = strstr(p, "<svg class=\"chart\""));) {
		const char *e = strstr(p, "</svg>");
		ck_assert_ptr_nonnull(e);
		int shapes = 0;
		for (const char *k = p; k < e; k++)
			shapes += !strncmp(k, "<rect", 5) || !strncmp(k, "<path", 5) ||
				  !strncmp(k, "<circle", 7) || !strncmp(k, "<line", 5);
		ck_assert_msg(shapes >= 8, "chart %d has %d shapes", charts + 1, shapes);
		ck_assert(strstr(p, "<title>") < e && strstr(p, "class=\"axes\"") < e);
		charts++;
		p = e;
	}
	/* 2 groups × 5 charts + the probe series */
	ck_assert_int_eq(charts, 11);
	/* what the page must tell a reader */
	static const char *const said[] = {
		"Machine and versions", "AMD EPYC", "c9743a794fce", "Failed cells (1)",
		"exited with status 1 in phase compress", "fake failure: cannot prune", "Configuration",
		"Pareto front", "Energy per output token by phase", "Probe readings over time",
		"magnitude", "within run-to-run noise", "quant: {type: q8_0",
	};
	for (size_t i = 0; i < sizeof said / sizeof *said; i++)
		ck_assert_msg(strstr(html, said[i]), "index.html does not say '%s'", said[i]);
	free(html);
	pb_rm_rf(out);
}
END_TEST

START_TEST(baseline_option)
{
	char out[64], err[2048], path[4200];
	paths();
	snprintf(out, sizeof out, "/tmp/pb-report-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(out));
	ck_assert_msg(report(fixture, out, "magnitude-sparsity0.3", err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", out);
	char *md = slurp(path);
	ck_assert(strstr(md, "| magnitude-sparsity0.3 (baseline) |"));
	ck_assert(strstr(md, "| dense |"));
	free(md);
	ck_assert_int_eq(report(fixture, out, "no-such-chain", err, sizeof err), -EINVAL);
	ck_assert(strstr(err, "--baseline no-such-chain"));
	pb_rm_rf(out);
}
END_TEST

/* ---- bad input: an error that names the file and the line */

static void damage(const char *dir, const char *cell_glob, const char *file, const char *sed)
{
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "sed -i '%s' %s/cells/%s/%s", sed, dir, cell_glob, file);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(bad_summary_number)
{
	char dir[64], err[2048];
	paths();
	scratch_copy(dir, sizeof dir);
	/* output_tokens_mean (12) becomes junk */
	damage(dir, "stories260K.valid.q8_0.ref-*", "summary.csv", "2s/,done,,6,500,12,/,done,,6,500,x12,/");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "q8_0.ref-f38b3c06/summary.csv:2: column 'output_tokens_mean': "
			     "expected a number, got 'x12'"), "%s", err);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(bad_requests_quote)
{
	char dir[64], err[2048];
	paths();
	scratch_copy(dir, sizeof dir);
	damage(dir, "stories260K.valid.dense.ref-*", "requests.csv", "3s/^0,1,/0,1\"x,/");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "requests.csv: line 3"), "%s", err);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(bad_requests_number)
{
	char dir[64], err[2048];
	paths();
	scratch_copy(dir, sizeof dir);
	/* an output text with a newline first, so the line is not the row */
	damage(dir, "stories260K.valid.dense.ref-*", "requests.csv",
	       "2s/,[^,]*$/,\"two\\nlines\"/; 4s/^\\([^,]*,[^,]*,[^,]*,[^,]*,[^,]*,\\)[^,]*/\\1NaNx/");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "requests.csv:5: column 'ttft_ms': expected a number, got 'NaNx'"),
		      "%s", err);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(bad_manifest_yaml)
{
	char dir[64], err[2048];
	paths();
	scratch_copy(dir, sizeof dir);
	damage(dir, "stories260K.valid.random-sparsity0.3.ref-*", "manifest.yaml", "4s/^.*$/experiment_file: [unclosed/");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "random-sparsity0.3.ref-5aa4a9f5/manifest.yaml:5:11: did not find "
			     "expected ',' or ']' while parsing a flow sequence (which started at 4:18)"),
		      "%s", err);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(bad_manifest_status)
{
	char dir[64], err[2048];
	paths();
	scratch_copy(dir, sizeof dir);
	damage(dir, "stories260K.valid.q8_0.cpu-blas-*", "manifest.yaml", "1s/.*/status: maybe/");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "manifest.yaml: `status` is 'maybe' (expected done or failed)"), "%s", err);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(missing_folder)
{
	char err[2048];
	ck_assert_int_eq(report("/nonexistent/results", "/tmp", NULL, err, sizeof err), -ENOENT);
	ck_assert_msg(strstr(err, "/nonexistent/results/cells: No such file or directory"), "%s", err);
}
END_TEST

START_TEST(absent_columns_not_invented)
{
	char dir[64], err[2048], path[4200];
	paths();
	scratch_copy(dir, sizeof dir);
	/* no energy anywhere: remove the probes' energy from every manifest
	 * and the energy columns from every summary */
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "for f in %s/cells/*/summary.csv; do "
		 "awk -F, 'BEGIN{OFS=\",\"} NR==1{for(i=1;i<=NF;i++) if ($i ~ /energy|power|temp/) d[i]=1} "
		 "{o=\"\"; for(i=1;i<=NF;i++) if(!d[i]) o=o (o==\"\"?\"\":\",\") $i; print o}' $f > $f.n && "
		 "mv $f.n $f; done; sed -i '/^  energy:/,/^  throttle:/{/^  throttle:/!d}' %s/cells/*/manifest.yaml",
		 dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(report(dir, dir, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", dir);
	char *md = slurp(path);
	ck_assert(!strstr(md, "energy/token"));
	ck_assert(!strstr(md, "temperature"));
	ck_assert(strstr(md, "peak RSS"));
	free(md);
	snprintf(path, sizeof path, "%s/report/index.html", dir);
	char *html = slurp(path);
	ck_assert(strstr(html, "Energy per token: no energy readings in this group"));
	free(html);
	pb_rm_rf(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *t = tcase_create("stats");
	tcase_add_test(t, bootstrap_same_and_shifted);
	tcase_add_test(t, bootstrap_edges);
	tcase_add_test(t, mann_whitney_values);
	tcase_add_test(t, box_tukey);
	tcase_add_test(t, escaping);
	suite_add_tcase(s, t);
	t = tcase_create("fixture");
	tcase_add_test(t, golden_tables);
	tcase_add_test(t, html_structure);
	tcase_add_test(t, baseline_option);
	suite_add_tcase(s, t);
	t = tcase_create("bad-input");
	tcase_add_test(t, bad_summary_number);
	tcase_add_test(t, bad_requests_quote);
	tcase_add_test(t, bad_requests_number);
	tcase_add_test(t, bad_manifest_yaml);
	tcase_add_test(t, bad_manifest_status);
	tcase_add_test(t, missing_folder);
	tcase_add_test(t, absent_columns_not_invented);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

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

START_TEST(t_distribution_known_values)
{
	/* textbook critical values: t(0.975; 4) = 2.776445, t(0.975; 1) = 12.7062 */
	ck_assert_double_eq_tol(pb_t_p_two_sided(2.776445, 4), 0.05, 1e-6);
	ck_assert_double_eq_tol(pb_t_p_two_sided(12.7062, 1), 0.05, 1e-5);
	ck_assert_double_eq_tol(pb_t_p_two_sided(-2.776445, 4), 0.05, 1e-6);
	/* df = 1 is Cauchy: p = 1 - (2/pi) atan(|t|), exactly */
	for (double t = 0.1; t < 50; t *= 1.7)
		ck_assert_double_eq_tol(pb_t_p_two_sided(t, 1), 1 - 2 / M_PI * atan(t), 1e-12);
	/* df = 2 in closed form: p = 1 - t / sqrt(2 + t^2) */
	for (double t = 0.1; t < 50; t *= 1.7)
		ck_assert_double_eq_tol(pb_t_p_two_sided(t, 2), 1 - t / sqrt(2 + t * t), 1e-12);
	/* large df: the normal distribution */
	ck_assert_double_eq_tol(pb_t_p_two_sided(1.959964, 1e7), 0.05, 1e-6);
	ck_assert_double_eq_tol(pb_t_cdf(1.0, 1e7), 0.5 * erfc(-1.0 / sqrt(2.0)), 1e-6);
	ck_assert_double_eq_tol(pb_t_quantile(0.975, 1e7), 1.959964, 1e-5);
	/* the quantile inverts the CDF */
	ck_assert_double_eq_tol(pb_t_quantile(0.975, 4), 2.776445, 1e-5);
	ck_assert_double_eq_tol(pb_t_quantile(0.975, 1), 12.7062, 1e-3);
	ck_assert_double_eq_tol(pb_t_quantile(0.025, 9), -2.262157, 1e-5);
	ck_assert_double_eq_tol(pb_t_cdf(0, 5), 0.5, 1e-15);
	ck_assert(pb_t_p_two_sided(0, 3) == 1);
	ck_assert(isnan(pb_t_quantile(1.5, 3)) && isnan(pb_t_p_two_sided(1, 0)));
	/* I_x(a, b) against closed forms: I_x(1, 1) = x, I_x(2, 1) = x^2 */
	ck_assert_double_eq_tol(pb_betainc_reg(1, 1, 0.3), 0.3, 1e-14);
	ck_assert_double_eq_tol(pb_betainc_reg(2, 1, 0.3), 0.09, 1e-14);
	ck_assert_double_eq_tol(pb_betainc_reg(0.5, 0.5, 0.5), 0.5, 1e-12);
}
END_TEST

START_TEST(paired_log_ratio)
{
	/* chain = base × 1.2 × (1 ± 0.5 %), base drifting by 30 % between
	 * rounds: the pairing removes the drift */
	double base[6] = { 100, 130, 90, 110, 95, 120 }, chain[6], e_ratio[6] = {
		1.005, 0.995, 1.002, 0.998, 1.004, 0.996 };
	for (int r = 0; r < 6; r++)
		chain[r] = base[r] * 1.2 * e_ratio[r];
	struct pb_effect e;
	ck_assert_int_eq(pb_paired_log_ratio(base, chain, 6, 0.95, &e), 0);
	ck_assert_int_eq(e.n, 6);
	/* by hand: d_r = ln 1.2 + ln e_r */
	double s = 0, ss = 0;
	for (int r = 0; r < 6; r++)
		s += log(1.2 * e_ratio[r]);
	double mean = s / 6;
	for (int r = 0; r < 6; r++)
		ss += (log(1.2 * e_ratio[r]) - mean) * (log(1.2 * e_ratio[r]) - mean);
	double se = sqrt(ss / 5) / sqrt(6);
	ck_assert_double_eq_tol(e.pct, 100 * (exp(mean) - 1), 1e-9);
	ck_assert_double_eq_tol(e.t, mean / se, 1e-9);
	ck_assert_double_eq_tol(e.lo_pct, 100 * (exp(mean - 2.570582 * se) - 1), 1e-4);
	ck_assert_double_eq_tol(e.hi_pct, 100 * (exp(mean + 2.570582 * se) - 1), 1e-4);
	ck_assert(e.lo_pct > 19 && e.hi_pct < 21 && e.p < 1e-6);
	/* one round: an effect, no test */
	ck_assert_int_eq(pb_paired_log_ratio(base, chain, 1, 0.95, &e), 0);
	ck_assert_int_eq(e.n, 1);
	ck_assert(!isnan(e.pct) && isnan(e.p) && isnan(e.lo_pct));
	/* rounds without a value (or <= 0) are not paired */
	double b2[3] = { 100, NAN, 0 }, c2[3] = { 110, 120, 130 };
	ck_assert_int_eq(pb_paired_log_ratio(b2, c2, 3, 0.95, &e), 0);
	ck_assert_int_eq(e.n, 1);
	double none[2] = { NAN, NAN };
	ck_assert_int_eq(pb_paired_log_ratio(none, none, 2, 0.95, &e), -EINVAL);
	/* the same ratio in every round: no spread, p = 0 (or 1 at no change) */
	double same[3] = { 10, 20, 30 }, twice[3] = { 20, 40, 60 };
	ck_assert_int_eq(pb_paired_log_ratio(same, twice, 3, 0.95, &e), 0);
	ck_assert(e.p == 0 && fabs(e.pct - 100) < 1e-9);
	ck_assert_int_eq(pb_paired_log_ratio(same, same, 3, 0.95, &e), 0);
	ck_assert(e.p == 1 && e.pct == 0);
}
END_TEST

START_TEST(benjamini_hochberg)
{
	/* worked by hand, m = 5, q = 0.05: thresholds k/5 × 0.05 = 0.01, 0.02,
	 * 0.03, 0.04, 0.05.  Sorted 0.020 0.021 0.022 0.023 0.9: rank 4 passes
	 * (0.023 ≤ 0.04), so the step-up rejects ranks 1-4 although 0.020 alone
	 * misses its own threshold 0.01; adjusted p of ranks 1-4 =
	 * min(0.023 × 5/4, ...) = 0.02875, rank 5: 0.9 */
	double p[6] = { 0.022, 0.9, 0.020, NAN, 0.023, 0.021 }, adj[6];
	int rej[6];
	ck_assert_int_eq(pb_bh(p, 6, 0.05, rej, adj), 4);
	int want[6] = { 1, 0, 1, 0, 1, 1 };
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(rej[i], want[i]);
	ck_assert_double_eq_tol(adj[0], 0.02875, 1e-12);
	ck_assert_double_eq_tol(adj[2], 0.02875, 1e-12);
	ck_assert_double_eq_tol(adj[1], 0.9, 1e-12);
	ck_assert(isnan(adj[3]));
	/* second hand case: 0.005 0.01 0.03 0.04 0.20 → ranks 1-4 rejected;
	 * adjusted 0.025 0.025 0.05 0.05 0.2 */
	double p2[5] = { 0.01, 0.04, 0.03, 0.005, 0.20 }, adj2[5];
	int rej2[5];
	ck_assert_int_eq(pb_bh(p2, 5, 0.05, rej2, adj2), 4);
	ck_assert(rej2[0] && rej2[1] && rej2[2] && rej2[3] && !rej2[4]);
	ck_assert_double_eq_tol(adj2[0], 0.025, 1e-12);
	ck_assert_double_eq_tol(adj2[1], 0.05, 1e-12);
	ck_assert_double_eq_tol(adj2[2], 0.05, 1e-12);
	ck_assert_double_eq_tol(adj2[3], 0.025, 1e-12);
	ck_assert_double_eq_tol(adj2[4], 0.2, 1e-12);
	/* nothing small: nothing rejected */
	double p3[3] = { 0.3, 0.5, 0.04 }, adj3[3];
	int rej3[3];
	ck_assert_int_eq(pb_bh(p3, 3, 0.05, rej3, adj3), 0);
	ck_assert_double_eq_tol(adj3[2], 0.12, 1e-12);
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
	tcase_add_test(t, t_distribution_known_values);
	tcase_add_test(t, paired_log_ratio);
	tcase_add_test(t, benjamini_hochberg);
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

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
#include <sys/stat.h>
#include <unistd.h>

#include "report/report-internal.h"
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
	/* 2 groups × 6 charts (q8_0 adds accuracy vs bits) + the probe series */
	ck_assert_int_eq(charts, 13);
	/* what the page must tell a reader */
	static const char *const said[] = {
		"Machine and versions", "AMD EPYC", "c9743a794fce", "Failed cells (1)",
		"exited with status 1 in phase compress", "fake failure: cannot prune", "Configuration",
		"Pareto front", "Energy per output token by phase", "Probe readings over time",
		"magnitude", "1 round: no test", "quant: {type: q8_0", "Accuracy vs bits per weight",
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

/* ---- synthetic results folders with known effects */

struct syn {
	const char *pruner, *chain, *aa_of;
	int rounds;               /* 0: an old folder (no rounds.csv, no round columns) */
	double ttft[8];           /* each round's mean TTFT (ms) */
	int contended_round;      /* 1-based; 0: none */
	const char *cols, *vals;  /* more summary columns and their values, or NULL */
	const char *model;        /* NULL: "m" */
};

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* A done cell: manifest, summary (pooled over rounds), rounds.csv and
 * requests.csv (three requests per round around the round's mean).
 * TPOT is 1 ms in every round and e2e = TTFT + 10 ms. */
static void write_cell(const char *root, const struct syn *s)
{
	char id[256], dir[4200], buf[8192], cmd[8400];
	const char *model = s->model ? s->model : "m";
	int nr = s->rounds ? s->rounds : 1;
	snprintf(id, sizeof id, "%s.data.%s.ref-00000000", model, s->pruner);
	snprintf(dir, sizeof dir, "%s/cells/%s", root, id);
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(buf, sizeof buf, "status: done\ncell: %s\nexperiment: syn\nseed: 1\naxes:\n  model: %s\n"
		 "  dataset: data\n  pruner: %s\n  backend: ref\nconfig:\n  chain: %s\n", id, model,
		 s->pruner, s->chain);
	put_file(dir, "manifest.yaml", buf);
	double mean = 0;
	for (int r = 0; r < nr; r++)
		mean += s->ttft[r] / nr;
	size_t at = 0;
	at += (size_t)snprintf(buf + at, sizeof buf - at, "%sttft_ms,tpot_ms,e2e_ms,output_tokens\n",
			       s->rounds ? "round," : "");
	for (int r = 0; r < nr; r++)
		for (int q = 0; q < 3; q++) {
			double t = s->ttft[r] * (0.98 + 0.02 * q);
			if (s->rounds)
				at += (size_t)snprintf(buf + at, sizeof buf - at, "%d,", r + 1);
			at += (size_t)snprintf(buf + at, sizeof buf - at, "%.17g,1,%.17g,11\n", t, t + 10);
		}
	put_file(dir, "requests.csv", buf);
	if (s->rounds) {
		at = (size_t)snprintf(buf, sizeof buf, "round,round_position,round_started,ttft_ms_mean,"
				      "tpot_ms_mean,e2e_ms_mean,contended,other_cpu_pct_mean\n");
		for (int r = 0; r < nr; r++) {
			/* listed out of order: the loader sorts by round */
			int rr = nr - 1 - r, cont = s->contended_round == rr + 1;
			at += (size_t)snprintf(buf + at, sizeof buf - at,
					       "%d,%d,2026-12-07T01:%02d:00Z,%.17g,1,%.17g,%d,%s\n", rr + 1,
					       (int)((rr * 7 + strlen(s->pruner)) % 5), rr, s->ttft[rr],
					       s->ttft[rr] + 10, cont, cont ? "45.5" : "1.5");
		}
		put_file(dir, "rounds.csv", buf);
	}
	char rounds_head[128] = "", rounds_row[256] = "";
	if (s->rounds) {
		snprintf(rounds_head, sizeof rounds_head, "rounds,aa_of,contended,other_cpu_pct_mean,");
		snprintf(rounds_row, sizeof rounds_row, "%d,%s,%d,%s,", nr, s->aa_of ? s->aa_of : "",
			 s->contended_round ? 1 : 0, s->contended_round ? "8.1" : "1.5");
	}
	snprintf(buf, sizeof buf, "cell_id,model,dataset,pruner,backend,status,%sn_requests,ttft_ms_mean,"
		 "tpot_ms_mean,e2e_ms_mean,ttft_ms_p50,ttft_ms_p90,ttft_ms_p99%s%s\n"
		 "%s,%s,data,%s,ref,done,%s%d,%.17g,1,%.17g,%.17g,%.17g,%.17g%s%s\n",
		 rounds_head, s->cols ? "," : "", s->cols ? s->cols : "", id, model, s->pruner,
		 rounds_row, 3 * nr, mean, mean + 10, mean, mean * 1.01, mean * 1.02,
		 s->vals ? "," : "", s->vals ? s->vals : "");
	put_file(dir, "summary.csv", buf);
}

static void syn_folder(char *dir, size_t len, const struct syn *cells, int n)
{
	snprintf(dir, len, "/tmp/pb-report-syn-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (int i = 0; i < n; i++)
		write_cell(dir, &cells[i]);
}

static const struct pb_rep_cmp *find_cmp(const struct pb_rep_view *v, const char *pruner, const char *col)
{
	for (int i = 0; i < v->n_cmps; i++)
		if (!strcmp(v->r->cells[v->cmps[i].cell].pruner, pruner) && !strcmp(v->cmps[i].col, col))
			return &v->cmps[i];
	ck_abort_msg("no comparison of %s on %s", pruner, col);
	return NULL;
}

/* Baseline drifting by 30 % between rounds; a chain 20 % slower in every
 * round (±0.5 %), an A/A twin with 1 % noise, and a chain equal to the
 * baseline but for one round twice as slow (a contended one). */
#define DRIFT(k) ((k) == 0 ? 100.0 : (k) == 1 ? 130.0 : (k) == 2 ? 90.0 : (k) == 3 ? 110.0 : \
		  (k) == 4 ? 95.0 : 120.0)
static const struct syn verdict_cells[] = {
	{ "dense", "[]", "", 6, { DRIFT(0), DRIFT(1), DRIFT(2), DRIFT(3), DRIFT(4), DRIFT(5) }, 0, NULL, NULL, NULL },
	{ "dense-aa", "[]", "dense", 6, { DRIFT(0) * 1.01, DRIFT(1) * 0.99, DRIFT(2) * 1.004,
	  DRIFT(3) * 0.996, DRIFT(4) * 1.008, DRIFT(5) * 0.992 }, 0, NULL, NULL, NULL },
	{ "fast", "[{magnitude: {sparsity: 0.5}}]", "", 6, { DRIFT(0) * 1.2 * 1.005, DRIFT(1) * 1.2 * 0.995,
	  DRIFT(2) * 1.2 * 1.002, DRIFT(3) * 1.2 * 0.998, DRIFT(4) * 1.2 * 1.004, DRIFT(5) * 1.2 * 0.996 },
	  0, NULL, NULL, NULL },
	{ "outlier", "[{random: {sparsity: 0.5}}]", "", 6, { DRIFT(0) * 1.003, DRIFT(1) * 0.998,
	  DRIFT(2) * 2.0, DRIFT(3) * 1.001, DRIFT(4) * 0.997, DRIFT(5) * 1.002 }, 3, NULL, NULL, NULL },
};

START_TEST(round_verdicts)
{
	char dir[64], err[2048], path[4200];
	struct pb_rep *r;
	struct pb_rep_view v;
	syn_folder(dir, sizeof dir, verdict_cells, (int)PB_ARRAY_LEN(verdict_cells));
	ck_assert_msg(pb_rep_load(dir, &r, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_rep_view_build(r, NULL, NULL, &v, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(v.n_groups, 1);
	ck_assert_str_eq(r->cells[v.groups[0].baseline].pruner, "dense");   /* not the twin */
	const struct pb_rep_cmp *k = find_cmp(&v, "fast", "ttft_ms_mean");
	ck_assert_msg(k->real, "+20 %% in every round not called real (p %g, adjusted %g)", k->e.p, k->p_adj);
	ck_assert_int_eq(k->e.n, 6);
	ck_assert(k->e.lo_pct < 20 && k->e.hi_pct > 20 && k->e.lo_pct > 19 && k->e.hi_pct < 21);
	ck_assert(!k->aa && !k->contended);
	k = find_cmp(&v, "dense-aa", "ttft_ms_mean");
	ck_assert(k->aa && !k->real && k->e.lo_pct < 0 && k->e.hi_pct > 0);
	ck_assert_str_eq(r->cells[k->ref].pruner, "dense");
	/* its contended round is left out: 5 clean rounds remain */
	k = find_cmp(&v, "outlier", "ttft_ms_mean");
	ck_assert_msg(!k->real, "one outlier round called real (p %g)", k->e.p);
	ck_assert_int_eq(k->e.n, 5);
	ck_assert_int_eq(k->excluded, 1);
	ck_assert(!k->contended && fabs(k->e.pct) < 1);
	/* TPOT equal in every round: tested, p = 1 */
	k = find_cmp(&v, "fast", "tpot_ms_mean");
	ck_assert(k->e.p == 1 && !k->real);
	ck_assert_int_eq(v.n_tested, 9);
	ck_assert_int_eq(v.n_aa_tested, 3);
	ck_assert_int_eq(v.n_aa_real, 0);
	ck_assert_int_eq(v.n_contended, 1);
	pb_rep_view_free(&v);
	pb_rep_free(r);

	ck_assert_msg(report(dir, dir, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", dir);
	char *md = slurp(path);
	static const char *const said[] = {
		/* the banner, with the round and the others' CPU */
		"⚠ Contention: 1 cell was measured",
		"- m.data.outlier.ref-00000000: round 3, others' CPU 45.5 % of a core (mean)",
		"9 comparisons tested, 2 called real at a false-discovery rate of q = 0.05 "
		"(Benjamini–Hochberg across all of them); 3 of them are A/A controls, 0 of which",
		"| outlier ⚠ contended |", "| dense-aa (A/A twin of dense) |",
		"### Effects against the baseline", "### Per-round means: TTFT (ms)",
		"| chain | position in each round (mean) | round 1 | round 2 | round 3 |",
		"| 180 ⚠ |",  /* the outlier's contended round 3: 2 × 90 ms */
		"p90 (ms)",
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(said); i++)
		ck_assert_msg(strstr(md, said[i]), "tables.md does not say '%s'", said[i]);
	/* the fast chain: interval, verdict and the A/A floor beside it */
	const char *row = strstr(md, "| fast | TTFT mean (ms) | 6 | +20.0 % \\[+19.");
	ck_assert_msg(row, "no effects row for fast's TTFT");
	const char *eol = strchr(row, '\n');
	ck_assert(strstr(row, "| real |") && strstr(row, "| real |") < eol);
	const char *pm = strstr(row, "| -0.0 ± 0.9 % |");   /* the twin's effect ± half its CI */
	ck_assert(pm && pm < eol);
	row = strstr(md, "| outlier ⚠ contended | TTFT mean (ms) | 5 of 6 |");
	ck_assert_msg(row && strstr(row, "| n.s. |") < strchr(row, '\n') &&
		      strstr(row, "1 contended round left out |") < strchr(row, '\n'), "%s", md);
	row = strstr(md, "| dense-aa (A/A twin of dense) | TTFT mean (ms) | 6 |");
	ck_assert(row && strstr(row, "| n.s. |") < strchr(row, '\n'));
	ck_assert(!strstr(md, "A/A CONTROL CALLED REAL"));
	free(md);
	snprintf(path, sizeof path, "%s/report/index.html", dir);
	char *html = slurp(path), why[256];
	ck_assert_msg(well_formed(html, why, sizeof why), "index.html: %s", why);
	ck_assert(strstr(html, "<div class=\"banner warn\"><p>⚠ Contention"));
	ck_assert(strstr(html, "<tr class=\"contended\"><th scope=\"row\" title=\"m.data.outlier.ref-00000000\">"));
	free(html);
	pb_rm_rf(dir);
}
END_TEST

/* A smallest effect of interest: the fast chain's +20 % (every round
 * within [19, 21]) is real against a 15 % band, not against a 25 % one;
 * the minimum-effect p equals the plain test's at 0 and mirrors for
 * decreases. */
START_TEST(min_effect_band)
{
	char dir[64], err[2048];
	struct pb_rep *r;
	struct pb_rep_view v;
	const double base[] = { 100, 102, 98, 101, 99, 100, 103, 97 };
	double up[8], down[8];
	for (int i = 0; i < 8; i++) {
		up[i] = base[i] * 1.05 * (1 + 0.003 * ((i % 3) - 1));
		down[i] = base[i] / (1.05 * (1 + 0.003 * ((i % 3) - 1)));
	}
	struct pb_effect eu, ed;
	ck_assert_int_eq(pb_paired_log_ratio(base, up, 8, 0.95, &eu), 0);
	ck_assert_int_eq(pb_paired_log_ratio(base, down, 8, 0.95, &ed), 0);
	ck_assert(pb_min_effect_p(&eu, 0) == eu.p && eu.p < 1e-6);
	ck_assert_msg(pb_min_effect_p(&eu, 2) < 1e-4, "+5 %% beyond a 2 %% band: p %g",
		      pb_min_effect_p(&eu, 2));
	ck_assert(pb_min_effect_p(&eu, 5) > 0.3);   /* on the edge: no evidence beyond it */
	ck_assert(pb_min_effect_p(&eu, 10) == 1 || pb_min_effect_p(&eu, 10) > 0.999);
	ck_assert(fabs(pb_min_effect_p(&ed, 2) - pb_min_effect_p(&eu, 2)) < 1e-9);   /* mirrored */
	struct pb_effect one = { .n = 1, .p = NAN };
	ck_assert(isnan(pb_min_effect_p(&one, 5)));

	syn_folder(dir, sizeof dir, verdict_cells, (int)PB_ARRAY_LEN(verdict_cells));
	ck_assert_msg(pb_rep_load(dir, &r, err, sizeof err) == 0, "%s", err);
	ck_assert(r->min_effect_pct == 0);   /* no min_effect_pct column: 0 */
	r->min_effect_pct = 15;
	ck_assert_msg(pb_rep_view_build(r, NULL, NULL, &v, err, sizeof err) == 0, "%s", err);
	ck_assert(find_cmp(&v, "fast", "ttft_ms_mean")->real);
	pb_rep_view_free(&v);
	r->min_effect_pct = 25;
	ck_assert_msg(pb_rep_view_build(r, NULL, NULL, &v, err, sizeof err) == 0, "%s", err);
	ck_assert(!find_cmp(&v, "fast", "ttft_ms_mean")->real);
	ck_assert_int_eq(v.n_real, 0);
	pb_rep_view_free(&v);
	pb_rep_free(r);
	pb_rm_rf(dir);
}
END_TEST

/* With fewer than PB_REP_MIN_CLEAN clean rounds, nothing is left out: the
 * test uses every round and says it includes contended ones. */
START_TEST(too_few_clean_rounds)
{
	char dir[64], err[2048];
	struct pb_rep *r;
	struct pb_rep_view v;
	const struct syn cells[] = {
		{ "dense", "[]", "", 3, { 100, 110, 90 }, 0, NULL, NULL, NULL },
		{ "slow", "[{magnitude: {sparsity: 0.5}}]", "", 3, { 150, 121, 99 }, 1, NULL, NULL, NULL },
	};
	syn_folder(dir, sizeof dir, cells, 2);
	ck_assert_msg(pb_rep_load(dir, &r, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_rep_view_build(r, NULL, NULL, &v, err, sizeof err) == 0, "%s", err);
	const struct pb_rep_cmp *k = find_cmp(&v, "slow", "ttft_ms_mean");
	ck_assert_int_eq(k->e.n, 3);
	ck_assert_int_eq(k->excluded, 0);
	ck_assert(k->contended);
	pb_rep_view_free(&v);
	pb_rep_free(r);
	pb_rm_rf(dir);
}
END_TEST

/* An A/A twin that differs in every round is a failed control, and the
 * page says so above everything else. */
START_TEST(aa_called_real_is_loud)
{
	char dir[64], err[2048], path[4200];
	struct syn cells[2] = { verdict_cells[0], verdict_cells[1] };
	for (int q = 0; q < 6; q++)
		cells[1].ttft[q] = cells[0].ttft[q] * (1.1 + 0.001 * (q % 2));
	syn_folder(dir, sizeof dir, cells, 2);
	ck_assert_msg(report(dir, dir, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", dir);
	char *md = slurp(path);
	ck_assert(strstr(md, "**⚠ A/A CONTROL CALLED REAL: 2 of 3 comparisons"));
	ck_assert(strstr(md, "REAL — A/A control, should not be"));
	free(md);
	pb_rm_rf(dir);
}
END_TEST

/* BH across the whole report, checked by hand: with 2 rounds t has one
 * degree of freedom and p = 1 - (2/pi) atan(|t|) in closed form. */
START_TEST(bh_across_report)
{
	static const double ratio[][2] = {
		{ 1.20, 1.201 }, { 1.05, 1.10 }, { 1.30, 1.302 }, { 0.90, 1.30 }, { 1.10, 1.13 },
	};
	static const char *const names[] = { "a", "b", "c", "d", "e" };
	struct syn cells[6] = { { "base", "[]", "", 2, { 100, 200 }, 0, NULL, NULL, NULL } };
	for (int i = 0; i < 5; i++)
		cells[i + 1] = (struct syn){ names[i], "[{magnitude: {sparsity: 0.5}}]", "", 2,
			{ 100 * ratio[i][0], 200 * ratio[i][1] }, 0, NULL, NULL, NULL };
	char dir[64], err[2048];
	struct pb_rep *r;
	struct pb_rep_view v;
	syn_folder(dir, sizeof dir, cells, 6);
	ck_assert_msg(pb_rep_load(dir, &r, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_rep_view_build(r, NULL, NULL, &v, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(v.n_tested, 15);    /* 5 chains × TTFT, TPOT, e2e */
	double p[15];
	int m = 0, n_real = 0;
	for (int i = 0; i < v.n_cmps; i++) {
		const struct pb_rep_cmp *k = &v.cmps[i];
		const struct pb_rep_cell *c = &r->cells[k->cell], *b = &r->cells[k->ref];
		double d1 = log(pb_rep_round_num(c, 0, k->col) / pb_rep_round_num(b, 0, k->col));
		double d2 = log(pb_rep_round_num(c, 1, k->col) / pb_rep_round_num(b, 1, k->col));
		double mean = (d1 + d2) / 2, se = fabs(d1 - d2) / 2;
		double want = se == 0 ? (mean == 0 ? 1 : 0) : 1 - 2 / M_PI * atan(fabs(mean / se));
		ck_assert_msg(fabs(k->e.p - want) < 1e-9, "%s %s: p %g, by hand %g", c->pruner, k->col,
			      k->e.p, want);
		p[m++] = want;
	}
	ck_assert_int_eq(m, 15);
	for (int i = 0; i < v.n_cmps; i++) {
		/* step-up by hand: rejected when some p_j >= p_i has
		 * p_j <= q × rank(p_j) / m */
		int reject = 0;
		for (int j = 0; j < m; j++) {
			int rank = 0;
			for (int k = 0; k < m; k++)
				rank += p[k] <= p[j];
			if (p[j] >= p[i] && p[j] <= 0.05 * rank / m)
				reject = 1;
		}
		ck_assert_msg(v.cmps[i].real == reject, "%s %s: real %d, by hand %d (p %g)",
			      r->cells[v.cmps[i].cell].pruner, v.cmps[i].col, v.cmps[i].real, reject, p[i]);
		n_real += reject;
	}
	/* the case is not trivial: some are rejected, some not */
	ck_assert_int_eq(n_real, v.n_real);
	ck_assert(n_real >= 2 && n_real <= 8);
	ck_assert(find_cmp(&v, "a", "ttft_ms_mean")->real && !find_cmp(&v, "e", "ttft_ms_mean")->real);
	pb_rep_view_free(&v);
	pb_rep_free(r);
	pb_rm_rf(dir);
}
END_TEST

/* The honest columns: a 2:4 chain at its sparsity_linears, structured and
 * quantized chains on their own charts, synthetic weights said. */
START_TEST(charts_use_the_right_column)
{
	static const char cols[] = "sparsity_achieved,sparsity_linears,params_removed_pct,bits_per_weight,"
				   "kl_mean,agreement_top1,synthetic_weights,rss_peak_bytes_max,"
				   "rss_peak_bytes_measure";
	const struct syn cells[] = {
		{ "dense", "[]", "", 0, { 100 }, 0, cols, "0,0,0,32,0,1,1,2097152,1048576", "syn" },
		{ "nm24", "[{nm: {n: 2, m: 4}}]", "", 0, { 90 }, 0, cols, "0,0.5,0,32,0.02,0.03,1,2097152,1048576", "syn" },
		{ "heads", "[{heads: {ratio: 0.25}}]", "", 0, { 80 }, 0, cols, "0,0,25,32,0.5,0.02,1,2097152,1048576", "syn" },
		{ "q4", "[{quant: {type: q4_0}}]", "", 0, { 95 }, 0, cols, "0.001,0.001,0,4.5,0.1,0.04,1,2097152,1048576", "syn" },
	};
	char dir[64], err[2048], path[4200];
	syn_folder(dir, sizeof dir, cells, (int)PB_ARRAY_LEN(cells));
	ck_assert_msg(report(dir, dir, NULL, err, sizeof err) == 0, "%s", err);
	snprintf(path, sizeof path, "%s/report/index.html", dir);
	char *html = slurp(path), why[256];
	ck_assert_msg(well_formed(html, why, sizeof why), "index.html: %s", why);
	const char *sp = strstr(html, "<title>Accuracy vs sparsity");
	const char *rm = strstr(html, "<title>Accuracy vs parameters removed");
	const char *bt = strstr(html, "<title>Accuracy vs bits per weight");
	ck_assert(sp && rm && bt);
	const char *sp_end = strstr(sp, "</svg>"), *rm_end = strstr(rm, "</svg>"), *bt_end = strstr(bt, "</svg>");
	const char *p24 = strstr(sp, "nm24: sparsity_linears 0.5, kl_mean 0.02");
	ck_assert_msg(p24 && p24 < sp_end, "the 2:4 chain is not at sparsity_linears 0.5");
	const char *ph = strstr(rm, "heads: params_removed_pct 25, kl_mean 0.5");
	ck_assert(ph && ph < rm_end);
	const char *pq = strstr(bt, "q4: bits_per_weight 4.5, kl_mean 0.1");
	ck_assert(pq && pq < bt_end);
	/* each chain on its own chart only */
	const char *x = strstr(sp, "heads:");
	ck_assert(!x || x > sp_end);
	x = strstr(sp, "q4:");
	ck_assert(!x || x > sp_end);
	ck_assert(strstr(html, "Top-1 agreement on random weights is not meaningful"));
	ck_assert(strstr(html, "KL divergence vs dense (nats, lower is better)"));   /* the charts' accuracy */
	free(html);
	snprintf(path, sizeof path, "%s/report/tables.md", dir);
	char *md = slurp(path);
	ck_assert(strstr(md, "| chain | KL vs dense (nats) | top-1 agreement with dense (random weights: not "
			 "meaningful) |"));
	ck_assert(strstr(md, "peak RSS, measure phase (MiB)"));
	ck_assert(strstr(md, "| 1 |"));   /* RSS measure: 1 MiB, not the 2 MiB of the whole run */
	ck_assert(strstr(md, "sparsity (linears)"));
	ck_assert(strstr(md, "| nm24 | 90 (-10.0 %, 1 round) |"));
	ck_assert(strstr(md, "No change was tested: no chain shares two rounds or more"));
	free(md);
	pb_rm_rf(dir);
}
END_TEST

START_TEST(bad_rounds_csv)
{
	char dir[64], err[2048], path[4200];
	struct syn cells[1] = { verdict_cells[0] };
	syn_folder(dir, sizeof dir, cells, 1);
	snprintf(path, sizeof path, "%s/cells/m.data.dense.ref-00000000", dir);
	put_file(path, "rounds.csv", "round,round_position,ttft_ms_mean\n1,0,100\n2,1,fast\n");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "m.data.dense.ref-00000000/rounds.csv:3: column 'ttft_ms_mean': "
			     "expected a number, got 'fast'"), "%s", err);
	put_file(path, "rounds.csv", "round,ttft_ms_mean\n1,100\n1,101\n");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "rounds.csv: round 1 appears twice"), "%s", err);
	put_file(path, "rounds.csv", "round,ttft_ms_mean\n0,100\n");
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "rounds.csv:2: column 'round': expected a round number"), "%s", err);
	pb_rm_rf(dir);
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

/* Issue 14 item 9: a full disk is reported as a full disk ("write error"
 * before), and nothing half-written is left in place. */
START_TEST(full_disk_keeps_errno)
{
	char dir[64], err[2048], tmp[4200], path[4200];
	struct stat st;
	if (stat("/dev/full", &st) < 0) {
		printf("skip: no /dev/full\n");
		return;
	}
	paths();
	scratch_copy(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/report", dir);
	ck_assert_int_eq(pb_mkdir_p(path), 0);
	/* the report's temporary file is <file>.<pid>.tmp */
	snprintf(tmp, sizeof tmp, "%s/report/tables.md.%ld.tmp", dir, (long)getpid());
	ck_assert_int_eq(symlink("/dev/full", tmp), 0);
	ck_assert_int_eq(report(dir, dir, NULL, err, sizeof err), -ENOSPC);
	ck_assert_msg(strstr(err, "tables.md") && strstr(err, strerror(ENOSPC)), "%s", err);
	snprintf(path, sizeof path, "%s/report/tables.md", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	pb_rm_rf(dir);
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
	t = tcase_create("rounds");
	tcase_add_test(t, round_verdicts);
	tcase_add_test(t, min_effect_band);
	tcase_add_test(t, aa_called_real_is_loud);
	tcase_add_test(t, bh_across_report);
	tcase_add_test(t, charts_use_the_right_column);
	tcase_add_test(t, bad_rounds_csv);
	suite_add_tcase(s, t);
	t = tcase_create("bad-input");
	tcase_add_test(t, bad_summary_number);
	tcase_add_test(t, bad_requests_quote);
	tcase_add_test(t, bad_requests_number);
	tcase_add_test(t, bad_manifest_yaml);
	tcase_add_test(t, bad_manifest_status);
	tcase_add_test(t, missing_folder);
	tcase_add_test(t, too_few_clean_rounds);
	tcase_add_test(t, full_disk_keeps_errno);
	tcase_add_test(t, absent_columns_not_invented);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

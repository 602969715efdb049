/* core/report/serving.c — the report's serving section (issue 16 item 6),
 * for results with remote cells (summary `remote` = 1):
 *
 *   - end to end vs in process: each remote cell beside the in-process
 *     cell of the same model × dataset × chain (when the experiment has
 *     one), p50 TTFT, TPOT and E2E and what the serving path added;
 *   - TTFT and ITL p50/p90/p99 by load, grouped by the serving key (see
 *     serving_key: the network preset once cells carry one, else the
 *     backend entry);
 *   - throughput vs offered load (a table, and a chart of achieved vs
 *     offered requests/s for the open-loop cells);
 *   - goodput under the experiment's SLO.
 *
 * Values come from the cells' summary.csv as written (README "Load");
 * nothing is derived but the differences of the first table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

int pb_rep_has_remote(const struct pb_rep *r)
{
	for (int i = 0; i < r->n_cells; i++)
		if (!r->cells[i].failed && pb_rep_num(&r->cells[i], "remote") == 1)
			return 1;
	return 0;
}

static int is_remote(const struct pb_rep_cell *c)
{
	return !c->failed && pb_rep_num(c, "remote") == 1;
}

/* What the latency tables group by: the link a cell's requests crossed.
 * The `network` column (a preset name, issue 16 item 5) when cells have
 * one; until then the backend entry, which names the server and the load.
 * Add a key here (e.g. the server's host) and every table follows. */
static const char *serving_key(const struct pb_rep_cell *c)
{
	const char *net = pb_rep_str(c, "network");
	return net[0] ? net : c->backend;
}

/* "closed C=2", "open 8/s poisson ≤64" (the cap on requests in flight). */
static void load_label(char *buf, size_t len, const struct pb_rep_cell *c)
{
	const char *mode = pb_rep_str(c, "load_mode");
	double conc = pb_rep_num(c, "load_concurrency");
	if (!strcmp(mode, "open")) {
		char rate[32];
		pb_rep_fmt_num(rate, sizeof rate, pb_rep_num(c, "offered_rps"), PB_F_NUM);
		snprintf(buf, len, "open %s/s %s ≤%.0f", rate, pb_rep_str(c, "load_arrivals"), conc);
	} else {
		snprintf(buf, len, "closed C=%.0f", isnan(conc) ? 1.0 : conc);
	}
}

static void num(char *buf, size_t len, double v)
{
	pb_rep_fmt_num(buf, len, v, PB_F_NUM);
}

/* The in-process cell of the same model × dataset × chain, or -1. */
static int in_process_twin(const struct pb_rep *r, const struct pb_rep_cell *c)
{
	for (int i = 0; i < r->n_cells; i++) {
		const struct pb_rep_cell *d = &r->cells[i];
		if (!d->failed && pb_rep_num(d, "remote") != 1 && !strcmp(d->model, c->model) &&
		    !strcmp(d->dataset, c->dataset) && !strcmp(d->pruner, c->pruner))
			return i;
	}
	return -1;
}

static void para(FILE *f, int html, const char *s)
{
	fputs(html ? "<p class=\"note\">" : "", f);
	if (html)
		pb_html_puts(f, s);
	else
		pb_md_puts(f, s);
	fputs(html ? "</p>\n" : "\n\n", f);
}

/* Remote cells in a stable order: serving key, then model, chain, load. */
static const struct pb_rep *sort_r;
static int cmp_cell(const void *a, const void *b)
{
	const struct pb_rep_cell *x = &sort_r->cells[*(const int *)a];
	const struct pb_rep_cell *y = &sort_r->cells[*(const int *)b];
	int k = strcmp(serving_key(x), serving_key(y));
	if (!k)
		k = strcmp(x->model, y->model);
	if (!k)
		k = strcmp(x->pruner, y->pruner);
	if (!k)
		k = (pb_rep_num(x, "offered_rps") > pb_rep_num(y, "offered_rps")) -
		    (pb_rep_num(x, "offered_rps") < pb_rep_num(y, "offered_rps"));
	return k ? k : strcmp(x->id, y->id);
}

static int remote_cells(const struct pb_rep *r, int **out)
{
	int n = 0, *v = malloc((size_t)(r->n_cells ? r->n_cells : 1) * sizeof *v);
	*out = v;
	if (!v)
		return 0;
	for (int i = 0; i < r->n_cells; i++)
		if (is_remote(&r->cells[i]))
			v[n++] = i;
	sort_r = r;
	qsort(v, (size_t)n, sizeof *v, cmp_cell);
	return n;
}

static void e2e_vs_in_process(FILE *f, int html, const struct pb_rep *r, const int *cells, int n)
{
	static const char *const head[] = {
		"model", "chain", "end to end (backend, load)", "in process (backend)",
		"TTFT p50 e2e (ms)", "TTFT p50 in-proc (ms)", "added TTFT (ms)",
		"TPOT p50 e2e (ms)", "TPOT p50 in-proc (ms)", "added TPOT (ms)",
		"E2E p50 e2e (ms)", "E2E p50 in-proc (ms)",
	};
	enum { NH = (int)PB_ARRAY_LEN(head) };
	int paired = 0;
	pb_tbl_begin(f, html, "End to end vs in process, per chain (p50)", head, NH, "lllrrrrrrrrr");
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		int t = in_process_twin(r, c);
		const struct pb_rep_cell *d = t >= 0 ? &r->cells[t] : NULL;
		char b[NH][160], lb[96];
		const char *row[NH];
		load_label(lb, sizeof lb, c);
		snprintf(b[0], sizeof b[0], "%s", c->model);
		snprintf(b[1], sizeof b[1], "%s", c->pruner);
		snprintf(b[2], sizeof b[2], "%s, %s", c->backend, lb);
		snprintf(b[3], sizeof b[3], "%s", d ? d->backend : "—");
		static const char *const col[] = { "ttft_ms_p50", "tpot_ms_p50", "e2e_ms_p50" };
		for (int m = 0; m < 3; m++) {
			double x = pb_rep_num(c, col[m]), y = d ? pb_rep_num(d, col[m]) : NAN;
			int at = 4 + 3 * m;
			num(b[at], sizeof b[at], x);
			num(b[at + 1], sizeof b[at + 1], y);
			if (m < 2)
				num(b[at + 2], sizeof b[at + 2], x - y);
		}
		paired += d != NULL;
		for (int i = 0; i < NH; i++)
			row[i] = b[i];
		pb_tbl_row(f, html, row, NH);
	}
	pb_tbl_end(f, html);
	para(f, html, paired ? "A remote cell sits beside the in-process cell of the same model × "
	     "dataset × chain; the added time is what the serving path (HTTP, the server's queue, "
	     "the stream's framing and the network) cost at p50. Under a load with several requests "
	     "in flight it includes the server's queueing too." :
	     "No in-process cell shares a model × dataset × chain with a remote cell: add an "
	     "in-process backend (e.g. cpu-blas) to the experiment to see what the serving path adds.");
}

static void latency_by_load(FILE *f, int html, const struct pb_rep *r, const int *cells, int n)
{
	static const char *const head[] = {
		"link (backend entry)", "load", "model", "chain", "requests", "failed",
		"TTFT p50 (ms)", "TTFT p90 (ms)", "TTFT p99 (ms)",
		"ITL p50 (ms)", "ITL p90 (ms)", "ITL p99 (ms)",
	};
	enum { NH = (int)PB_ARRAY_LEN(head) };
	static const char *const col[] = {
		"ttft_ms_p50", "ttft_ms_p90", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p90", "itl_ms_p99",
	};
	pb_tbl_begin(f, html, "TTFT and ITL by load, as the client saw them", head, NH,
		     "llllrrrrrrrr");
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		char b[NH][160];
		const char *row[NH];
		snprintf(b[0], sizeof b[0], "%s", serving_key(c));
		load_label(b[1], sizeof b[1], c);
		snprintf(b[2], sizeof b[2], "%s", c->model);
		snprintf(b[3], sizeof b[3], "%s", c->pruner);
		snprintf(b[4], sizeof b[4], "%d", c->n_req);
		num(b[5], sizeof b[5], pb_rep_num(c, "requests_failed"));
		for (int m = 0; m < 6; m++)
			num(b[6 + m], sizeof b[6 + m], pb_rep_num(c, col[m]));
		for (int i = 0; i < NH; i++)
			row[i] = b[i];
		pb_tbl_row(f, html, row, NH);
	}
	pb_tbl_end(f, html);
}

static void throughput(FILE *f, int html, const struct pb_rep *r, const int *cells, int n)
{
	static const char *const head[] = {
		"link (backend entry)", "load", "model", "chain", "offered (req/s)",
		"offered as scheduled (req/s)", "achieved (req/s)", "output (tok/s)",
		"most in flight", "client queue p50 (ms)", "client queue p99 (ms)",
	};
	enum { NH = (int)PB_ARRAY_LEN(head) };
	pb_tbl_begin(f, html, "Throughput vs offered load", head, NH, "llllrrrrrrr");
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		char b[NH][160];
		const char *row[NH];
		snprintf(b[0], sizeof b[0], "%s", serving_key(c));
		load_label(b[1], sizeof b[1], c);
		snprintf(b[2], sizeof b[2], "%s", c->model);
		snprintf(b[3], sizeof b[3], "%s", c->pruner);
		num(b[4], sizeof b[4], pb_rep_num(c, "offered_rps"));
		num(b[5], sizeof b[5], pb_rep_num(c, "offered_rps_actual"));
		num(b[6], sizeof b[6], pb_rep_num(c, "achieved_rps"));
		num(b[7], sizeof b[7], pb_rep_num(c, "output_tok_s"));
		num(b[8], sizeof b[8], pb_rep_num(c, "in_flight_max"));
		num(b[9], sizeof b[9], pb_rep_num(c, "client_queue_ms_p50"));
		num(b[10], sizeof b[10], pb_rep_num(c, "client_queue_ms_p99"));
		for (int i = 0; i < NH; i++)
			row[i] = b[i];
		pb_tbl_row(f, html, row, NH);
	}
	pb_tbl_end(f, html);
	para(f, html, "Offered: the open loop's rate (a closed loop offers what its clients can "
	     "send: —). Achieved: requests that succeeded per second from the cell's start to the "
	     "last reply; output tokens likewise. Client queue: how long a request waited in the "
	     "client past its scheduled time because every client was busy (the open loop's cap).");
}

static void goodput(FILE *f, int html, const struct pb_rep *r, const int *cells, int n)
{
	double ttft = NAN, tpot = NAN;
	for (int k = 0; k < n && isnan(ttft) && isnan(tpot); k++) {
		ttft = pb_rep_num(&r->cells[cells[k]], "slo_ttft_ms");
		tpot = pb_rep_num(&r->cells[cells[k]], "slo_tpot_ms");
	}
	if (isnan(ttft) && isnan(tpot)) {
		para(f, html, "Goodput: the experiment sets no `slo` ({ttft_ms, tpot_ms}), so no "
		     "request is judged against one.");
		return;
	}
	char cap[160] = "goodput (SLO", a[32];
	if (!isnan(ttft)) {
		num(a, sizeof a, ttft);
		snprintf(cap + strlen(cap), sizeof cap - strlen(cap), " TTFT ≤ %s ms%s", a,
			 isnan(tpot) ? "" : ",");
	}
	if (!isnan(tpot)) {
		num(a, sizeof a, tpot);
		snprintf(cap + strlen(cap), sizeof cap - strlen(cap), " TPOT ≤ %s ms", a);
	}
	snprintf(cap + strlen(cap), sizeof cap - strlen(cap), ")");
	char title[200];
	snprintf(title, sizeof title, "Requests meeting the SLO: %s", cap);
	static const char *const head[] = {
		"link (backend entry)", "load", "model", "chain", "requests", "failed",
		"within SLO (%)", "goodput (req/s)", "achieved (req/s)",
	};
	enum { NH = (int)PB_ARRAY_LEN(head) };
	pb_tbl_begin(f, html, title, head, NH, "llllrrrrr");
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		char b[NH][160];
		const char *row[NH];
		snprintf(b[0], sizeof b[0], "%s", serving_key(c));
		load_label(b[1], sizeof b[1], c);
		snprintf(b[2], sizeof b[2], "%s", c->model);
		snprintf(b[3], sizeof b[3], "%s", c->pruner);
		snprintf(b[4], sizeof b[4], "%d", c->n_req);
		num(b[5], sizeof b[5], pb_rep_num(c, "requests_failed"));
		num(b[6], sizeof b[6], 100 * pb_rep_num(c, "goodput_share"));
		num(b[7], sizeof b[7], pb_rep_num(c, "goodput_rps"));
		num(b[8], sizeof b[8], pb_rep_num(c, "achieved_rps"));
		for (int i = 0; i < NH; i++)
			row[i] = b[i];
		pb_tbl_row(f, html, row, NH);
	}
	pb_tbl_end(f, html);
	para(f, html, "A request is within the SLO when it succeeded and its TTFT and TPOT are both "
	     "within the bounds (a one-token reply has no TPOT); the share counts every request, "
	     "failed ones included, and the rate is per second of the cell's window (DistServe's "
	     "and vLLM's goodput).");
}

void pb_rep_serving(FILE *f, int html, const struct pb_rep_view *v)
{
	int *cells = NULL;
	int n = remote_cells(v->r, &cells);
	if (n > 0) {
		if (html)
			fputs("<section>\n<h2 id=\"serving\">Serving: end to end</h2>\n", f);
		else
			fputs("## Serving: end to end\n\n", f);
		e2e_vs_in_process(f, html, v->r, cells, n);
		latency_by_load(f, html, v->r, cells, n);
		throughput(f, html, v->r, cells, n);
		if (html)
			pb_chart_load(f, v);
		goodput(f, html, v->r, cells, n);
		if (html)
			fputs("</section>\n", f);
	}
	free(cells);
}

/* Achieved vs offered requests/s of the open-loop cells, a series per
 * serving key × model × chain, and the line achieved = offered. */
void pb_chart_load(FILE *f, const struct pb_rep_view *v)
{
	const struct pb_rep *r = v->r;
	int *cells = NULL, n = remote_cells(r, &cells);
	double hi = 0;
	int have = 0;
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		double x = pb_rep_num(c, "offered_rps"), y = pb_rep_num(c, "achieved_rps");
		if (isnan(x) || isnan(y))
			continue;
		hi = fmax(hi, fmax(x, y));
		have++;
	}
	if (!have) {
		fputs("<p class=\"note\">Achieved vs offered load: no open-loop cell (load: {mode: "
		      "open, rate: R}) to plot.</p>\n", f);
		free(cells);
		return;
	}
	struct pb_plot p = { .f = f, .w = 760, .h = 360, .l = 66, .r = 220, .t = 34, .b = 48 };
	p.x0 = 0, p.x1 = hi, p.y0 = 0, p.y1 = hi;
	pb_plot_range(&p.x0, &p.x1, 0.05, 1);
	pb_plot_range(&p.y0, &p.y1, 0.05, 1);
	pb_svg_begin(f, p.w, p.h, "Achieved vs offered load");
	pb_plot_axes(&p, "offered load (requests/s)", "achieved throughput (requests/s)", NULL, 0);
	double m = fmin(p.x1, p.y1);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
		"stroke-dasharray=\"4 3\"/>\n", pb_px(&p, 0), pb_py(&p, 0), pb_px(&p, m), pb_py(&p, m));
	struct pb_legend_item leg[9];
	char names[8][160];
	int n_leg = 0;
	for (int k = 0; k < n; k++) {
		const struct pb_rep_cell *c = &r->cells[cells[k]];
		double x = pb_rep_num(c, "offered_rps"), y = pb_rep_num(c, "achieved_rps");
		if (isnan(x) || isnan(y))
			continue;
		char name[160];
		snprintf(name, sizeof name, "%s · %s · %s", serving_key(c), c->model, c->pruner);
		int s = 0;
		while (s < n_leg && strcmp(names[s], name))
			s++;
		if (s == n_leg && n_leg < 8) {
			snprintf(names[n_leg], sizeof names[n_leg], "%s", name);
			leg[n_leg] = (struct pb_legend_item){ names[n_leg], pb_palette[n_leg], n_leg, 0 };
			n_leg++;
		}
		s = s < 8 ? s : 7;
		fputs("<g class=\"pts\"><title>", f);
		pb_html_puts(f, c->id);
		fputs("</title>\n", f);
		pb_plot_marker(f, s, pb_px(&p, x), pb_py(&p, y), 4, pb_palette[s], 0);
		fputs("</g>\n", f);
	}
	leg[n_leg] = (struct pb_legend_item){ "achieved = offered", "#999", -2, 1 };
	pb_plot_legend(&p, leg, n_leg + 1);
	pb_svg_end(f);
	fputs("<figcaption>", f);
	pb_html_puts(f, "One point per open-loop cell. On the dashed line the server keeps up with "
		     "what is offered; below it requests queue and throughput saturates.");
	fputs("</figcaption>\n</figure>\n", f);
	free(cells);
}

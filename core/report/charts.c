/* core/report/charts.c — the per-group charts: latency box plots, TTFT
 * against TPOT, accuracy against sparsity, parameters removed or bits per
 * weight (the column that fits the chain; a line per method) and against
 * speed-up (Pareto front marked), and energy per token by phase.  A chart
 * whose data the results do not have becomes a one-line note that says
 * what is missing; nothing is drawn from invented values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

#define W 760.0
#define H 360.0

static void init_plot(struct pb_plot *p, FILE *f, double bottom)
{
	*p = (struct pb_plot){ .f = f, .w = W, .h = H + bottom - 48, .l = 66, .r = 200, .t = 34,
			       .b = bottom };
}

static void group_title(char *buf, size_t len, const char *what, const struct pb_rep_group *g)
{
	snprintf(buf, len, "%s — %s × %s × %s", what, g->model, g->dataset, g->backend);
}

static void note(FILE *f, const char *what, const char *why)
{
	fputs("<p class=\"note\">", f);
	pb_html_puts(f, what);
	fputs(": ", f);
	pb_html_puts(f, why);
	fputs("</p>\n", f);
}

static void caption(FILE *f, const char *s)
{
	fputs("<figcaption>", f);
	pb_html_puts(f, s);
	fputs("</figcaption>\n</figure>\n", f);
}

static const char *color_of(int i)
{
	return pb_palette[i % 8];
}

/* ---- latency box plots */

void pb_chart_latency_box(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	struct pb_box *box = calloc((size_t)g->n, sizeof *box);
	const char **cats = calloc((size_t)g->n, sizeof *cats);
	double lo = INFINITY, hi = -INFINITY;
	char title[512];
	struct pb_plot p;
	int have = 0;

	if (!box || !cats)
		goto out;
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		cats[i] = pb_rep_label(g, c);
		if (!c->samples[PB_S_E2E] || pb_box_compute(c->samples[PB_S_E2E], c->n_req, &box[i]) < 0)
			continue;
		have++;
		lo = fmin(lo, box[i].min);
		hi = fmax(hi, box[i].max);
	}
	if (!have) {
		note(f, "Latency distribution", "no per-request latencies (requests.csv) in this group");
		goto out;
	}
	init_plot(&p, f, g->n > 4 ? 110 : 48);
	p.x0 = -0.5;
	p.x1 = g->n - 0.5;
	p.y0 = lo;
	p.y1 = hi;
	pb_plot_range(&p.y0, &p.y1, 0.05, 0);
	group_title(title, sizeof title, "End-to-end latency per request", g);
	pb_svg_begin(f, p.w, p.h, title);
	pb_plot_axes(&p, "", "end-to-end latency (ms)", cats, g->n);
	double bw = fmin(44, 0.6 * (pb_px(&p, 1) - pb_px(&p, 0)));
	for (int i = 0; i < g->n; i++) {
		const struct pb_box *b = &box[i];
		double x = pb_px(&p, i);
		if (!b->n)
			continue;
		fputs("<g class=\"box\"><title>", f);
		pb_html_puts(f, cats[i]);
		fprintf(f, ": n=%d, median %.4g ms, quartiles %.4g–%.4g ms, mean %.4g ms</title>\n",
			b->n, b->median, b->q1, b->q3, b->mean);
		fprintf(f, "<path class=\"whisker\" d=\"M%.1f %.1fV%.1fM%.1f %.1fV%.1f"
			"M%.1f %.1fH%.1fM%.1f %.1fH%.1f\"/>\n",
			x, pb_py(&p, b->lo), pb_py(&p, b->q1), x, pb_py(&p, b->q3), pb_py(&p, b->hi),
			x - bw / 4, pb_py(&p, b->lo), x + bw / 4, x - bw / 4, pb_py(&p, b->hi), x + bw / 4);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
			"fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1.5\"/>\n", x - bw / 2,
			pb_py(&p, b->q3), bw, fmax(1, pb_py(&p, b->q1) - pb_py(&p, b->q3)), color_of(i),
			color_of(i));
		fprintf(f, "<line class=\"median\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x - bw / 2, pb_py(&p, b->median), x + bw / 2, pb_py(&p, b->median));
		pb_plot_marker(f, 3, x, pb_py(&p, b->mean), 3.5, "#000000", 0);
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		for (int k = 0; k < c->n_req; k++) {
			double y = c->samples[PB_S_E2E][k];
			if (!isnan(y) && (y < b->lo || y > b->hi))
				pb_plot_marker(f, 0, x, pb_py(&p, y), 3, "#000000", 1);
		}
		fputs("</g>\n", f);
	}
	static const struct pb_legend_item leg[] = {
		{ "median", "#000000", -2, 0 },
		{ "mean", "#000000", 3, 0 },
		{ "box: quartiles", "#999999", -1, 0 },
		{ "whiskers: 1.5 IQR", "#555555", -2, 1 },
	};
	pb_plot_legend(&p, leg, (int)PB_ARRAY_LEN(leg));
	pb_plot_legend(&(struct pb_plot){ .f = f, .w = p.w, .r = p.r, .t = p.t + 4 * 17 },
		       &(struct pb_legend_item){ "outlier", "#000000", 0, 0 }, 1);
	pb_svg_end(f);
	caption(f, "Each box is one chain's requests (every repeat of every prompt): the box spans the "
		"quartiles, the bar is the median, whiskers reach the furthest request within 1.5 IQR, "
		"points beyond are outliers.  Hover a box for its numbers.");
out:
	free(box);
	free(cats);
}

/* ---- TTFT against TPOT */

void pb_chart_ttft_tpot(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	struct pb_legend_item *leg = calloc((size_t)g->n, sizeof *leg);
	char title[512];
	struct pb_plot p;
	int n_leg = 0;

	if (!leg)
		return;
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		if (!c->samples[PB_S_TTFT] || !c->samples[PB_S_TPOT])
			continue;
		for (int k = 0; k < c->n_req; k++) {
			double x = c->samples[PB_S_TTFT][k], y = c->samples[PB_S_TPOT][k];
			if (isnan(x) || isnan(y))
				continue;
			x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
		}
	}
	if (!(x1 >= x0)) {
		note(f, "TTFT vs TPOT", "no request has both a TTFT and a TPOT (one-token outputs?)");
		free(leg);
		return;
	}
	init_plot(&p, f, 48);
	p.x0 = x0, p.x1 = x1, p.y0 = y0, p.y1 = y1;
	pb_plot_range(&p.x0, &p.x1, 0.05, 0);
	pb_plot_range(&p.y0, &p.y1, 0.05, 0);
	group_title(title, sizeof title, "Time to first token vs time per output token", g);
	pb_svg_begin(f, p.w, p.h, title);
	pb_plot_axes(&p, "time to first token, TTFT (ms)", "time per output token, TPOT (ms)", NULL, 0);
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		if (!c->samples[PB_S_TTFT] || !c->samples[PB_S_TPOT])
			continue;
		fputs("<g class=\"pts\"><title>", f);
		pb_html_puts(f, pb_rep_label(g, c));
		fputs("</title>\n", f);
		for (int k = 0; k < c->n_req; k++) {
			double x = c->samples[PB_S_TTFT][k], y = c->samples[PB_S_TPOT][k];
			if (!isnan(x) && !isnan(y))
				pb_plot_marker(f, i, pb_px(&p, x), pb_py(&p, y), 3.5, color_of(i), i >= 8);
		}
		fputs("</g>\n", f);
		leg[n_leg++] = (struct pb_legend_item){ pb_rep_label(g, c), color_of(i), i, 0 };
	}
	pb_plot_legend(&p, leg, n_leg);
	pb_svg_end(f);
	caption(f, "One point per request.  Right means a slower prefill (the prompt), up a slower "
		"decode (each further token); sparse formats and quantization often move the two "
		"differently.");
	free(leg);
}

/* ---- accuracy against sparsity, a line per method */

/* Perplexity of a broken model runs to thousands: past two decades a
 * log axis keeps the good chains apart. */
static void acc_range(struct pb_plot *p, double lo, double hi)
{
	if (lo > 0 && hi / lo > 100) {
		pb_plot_logy(p, lo, hi);
		return;
	}
	p->y0 = lo;
	p->y1 = hi;
	pb_plot_range(&p->y0, &p->y1, 0.06, 0);
}

struct pt {
	double x, y;
	int cell;
};

static int cmp_pt(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;
	return (p->x > q->x) - (p->x < q->x);
}

/* Which x a chain is plotted against: zeros among the linear weights
 * (unstructured and N:M pruning; 2:4 packed zeros count), the share of
 * parameters removed (structured pruning: heads, FFN rows, layers), or
 * bits per weight (quantization).  A chain is never put at a sparsity
 * its column does not say. */
enum xkind { XK_SPARSITY, XK_REMOVED, XK_BITS };

static double sparsity_of(const struct pb_rep_cell *c)
{
	double x = pb_rep_num(c, "sparsity_linears");
	/* folders from before sparsity_linears: the touched tensors' sparsity */
	return isnan(x) ? pb_rep_num(c, "sparsity_achieved") : x;
}

static int structured(const struct pb_rep_cell *c)
{
	return pb_rep_num(c, "params_removed_pct") > 0;
}

/* The bits per weight a chain is compared with: the baseline's, else the
 * widest of the group. */
static double ref_bits(const struct pb_rep *r, const struct pb_rep_group *g)
{
	double hi = NAN;
	if (g->baseline >= 0 && !isnan(pb_rep_num(&r->cells[g->baseline], "bits_per_weight")))
		return pb_rep_num(&r->cells[g->baseline], "bits_per_weight");
	for (int i = 0; i < g->n; i++) {
		double b = pb_rep_num(&r->cells[g->cells[i]], "bits_per_weight");
		if (!isnan(b) && (isnan(hi) || b > hi))
			hi = b;
	}
	return hi;
}

static int quantized(const struct pb_rep *r, const struct pb_rep_group *g, const struct pb_rep_cell *c)
{
	double b = pb_rep_num(c, "bits_per_weight"), rb = ref_bits(r, g);
	return !isnan(b) && !isnan(rb) && b < rb - 1e-6;
}

/* x of c on this chart, or NAN when c is not on it (the baseline is on
 * every chart, as the anchor of the lines). */
static double chart_x(const struct pb_rep *r, const struct pb_rep_group *g, int cell, enum xkind k)
{
	const struct pb_rep_cell *c = &r->cells[cell];
	int base = cell == g->baseline;
	switch (k) {
	case XK_SPARSITY:
		if (!base && (structured(c) || (quantized(r, g, c) && !(sparsity_of(c) >= 0.05))))
			return NAN;
		return sparsity_of(c) * 100;
	case XK_REMOVED:
		if (!base && !structured(c))
			return NAN;
		return pb_rep_num(c, "params_removed_pct");
	case XK_BITS:
		if (!base && !quantized(r, g, c))
			return NAN;
		return pb_rep_num(c, "bits_per_weight");
	}
	return NAN;
}

static void acc_vs(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g, enum xkind kind)
{
	static const struct { const char *what, *xlabel, *col, *caption; } K[] = {
		[XK_SPARSITY] = { "Accuracy vs sparsity",
			"sparsity of the linear weights (% zero, N:M packed zeros included)",
			"sparsity_linears",
			"One line per compression method (the chain's steps), through its sparsities; every "
			"line starts at the baseline.  x is sparsity_linears: zeros among all linear weights, "
			"2:4 packed zeros included.  Structured chains (parameters removed) and chains that only "
			"quantize have charts of their own." },
		[XK_REMOVED] = { "Accuracy vs parameters removed",
			"parameters removed by structured pruning (%)", "params_removed_pct",
			"Structured pruning (heads, FFN rows, layers), one line per method: x is "
			"params_removed_pct, the share of parameters the chain removed." },
		[XK_BITS] = { "Accuracy vs bits per weight", "bits per weight (block linears)",
			"bits_per_weight",
			"Quantized chains, one line per method from the baseline's width: x is "
			"bits_per_weight over the block linears (scales included)." },
	};
	const struct pb_rep *r = v->r;
	struct pt *pts = calloc((size_t)g->n + 1, sizeof *pts);
	const char **methods = calloc((size_t)g->n, sizeof *methods);
	struct pb_legend_item *leg = calloc((size_t)g->n + 1, sizeof *leg);
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	int n_methods = 0, n_leg = 0, drawable = 0;
	char title[512], ylab[160];
	struct pb_plot p;

	if (!pts || !methods || !leg)
		goto out;
	if (!g->acc_col) {
		if (kind == XK_SPARSITY)
			note(f, K[kind].what, "no accuracy metric in this group's results");
		goto out;
	}
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		double x = chart_x(r, g, g->cells[i], kind), y = pb_rep_num(c, g->acc_col);
		if (isnan(x) || isnan(y) || c->aa_of[0])
			continue;
		x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
		if (g->cells[i] == g->baseline)
			continue;
		drawable++;
		int m = 0;
		while (m < n_methods && strcmp(methods[m], c->method))
			m++;
		if (m == n_methods)
			methods[n_methods++] = c->method;
	}
	if (!drawable) {
		if (kind == XK_SPARSITY)
			note(f, K[kind].what, "no compressed cell has both a sparsity and an accuracy");
		goto out;
	}
	init_plot(&p, f, 48);
	p.x0 = x0, p.x1 = x1, p.y0 = y0, p.y1 = y1;
	pb_plot_range(&p.x0, &p.x1, 0.04, 1);
	acc_range(&p, y0, y1);
	group_title(title, sizeof title, K[kind].what, g);
	pb_svg_begin(f, p.w, p.h, title);
	pb_plot_axes(&p, K[kind].xlabel, g->acc_title, NULL, 0);
	const struct pb_rep_cell *b = g->baseline >= 0 ? &r->cells[g->baseline] : NULL;
	double bx = b ? chart_x(r, g, g->baseline, kind) : NAN, by = b ? pb_rep_num(b, g->acc_col) : NAN;
	for (int m = 0; m < n_methods; m++) {
		int n = 0;
		if (!isnan(bx) && !isnan(by))
			pts[n++] = (struct pt){ bx, by, g->baseline };
		for (int i = 0; i < g->n; i++) {
			const struct pb_rep_cell *c = &r->cells[g->cells[i]];
			double x = chart_x(r, g, g->cells[i], kind), y = pb_rep_num(c, g->acc_col);
			if (g->cells[i] != g->baseline && !c->aa_of[0] && !strcmp(c->method, methods[m]) &&
			    !isnan(x) && !isnan(y))
				pts[n++] = (struct pt){ x, y, g->cells[i] };
		}
		qsort(pts, (size_t)n, sizeof *pts, cmp_pt);
		fputs("<g class=\"series\"><title>", f);
		pb_html_puts(f, methods[m][0] ? methods[m] : "(no steps)");
		fputs("</title>\n<path class=\"line\" stroke=\"", f);
		fprintf(f, "%s\" d=\"", color_of(m));
		for (int k = 0; k < n; k++)
			fprintf(f, "%c%.1f %.1f", k ? 'L' : 'M', pb_px(&p, pts[k].x), pb_py(&p, pts[k].y));
		fputs("\"/>\n", f);
		for (int k = 0; k < n; k++) {
			if (pts[k].cell == g->baseline)
				continue;
			fputs("<g class=\"pt\"><title>", f);
			pb_html_puts(f, r->cells[pts[k].cell].pruner);
			fprintf(f, ": %s %.4g, ", K[kind].col, kind == XK_SPARSITY ? pts[k].x / 100 : pts[k].x);
			pb_html_puts(f, g->acc_col);
			fprintf(f, " %.4g</title>", pts[k].y);
			pb_plot_marker(f, m, pb_px(&p, pts[k].x), pb_py(&p, pts[k].y), 4, color_of(m), 0);
			fputs("</g>\n", f);
		}
		fputs("</g>\n", f);
		leg[n_leg++] = (struct pb_legend_item){ methods[m][0] ? methods[m] : "(no steps)",
							color_of(m), m, 0 };
	}
	if (!isnan(bx) && !isnan(by)) {
		pb_plot_marker(f, 1, pb_px(&p, bx), pb_py(&p, by), 5, "#000000", 1);
		snprintf(ylab, sizeof ylab, "%s (baseline)", b->pruner);
		leg[n_leg++] = (struct pb_legend_item){ ylab, "#000000", 1, 0 };
	}
	pb_plot_legend(&p, leg, n_leg);
	pb_svg_end(f);
	caption(f, K[kind].caption);
out:
	free(pts);
	free(methods);
	free(leg);
}

void pb_chart_acc_sparsity(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	acc_vs(f, v, g, XK_SPARSITY);
}

void pb_chart_acc_removed(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	acc_vs(f, v, g, XK_REMOVED);
}

void pb_chart_acc_bits(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	acc_vs(f, v, g, XK_BITS);
}

/* ---- accuracy against speed-up, Pareto front */

void pb_chart_acc_speedup(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	const struct pb_rep *r = v->r;
	struct pt *pts = calloc((size_t)g->n, sizeof *pts);
	struct pb_legend_item *leg = calloc((size_t)g->n + 1, sizeof *leg);
	int *front = calloc((size_t)g->n, sizeof *front);
	char title[512];
	struct pb_plot p;
	int n = 0, n_leg = 0;

	if (!pts || !leg || !front)
		goto out;
	if (!g->acc_col || g->baseline < 0) {
		note(f, "Accuracy vs speed-up", !g->acc_col ? "no accuracy metric in this group's results" :
		     "no baseline chain in this group to measure a speed-up against");
		goto out;
	}
	p = (struct pb_plot){ .x0 = INFINITY, .x1 = -INFINITY, .y0 = INFINITY, .y1 = -INFINITY };
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		double x = pb_rep_speedup(r, g, c), y = pb_rep_num(c, g->acc_col);
		if (isnan(x) || isnan(y))
			continue;
		pts[n++] = (struct pt){ x, y, i };
		p.x0 = fmin(p.x0, x), p.x1 = fmax(p.x1, x), p.y0 = fmin(p.y0, y), p.y1 = fmax(p.y1, y);
	}
	if (n < 2) {
		note(f, "Accuracy vs speed-up", "fewer than two cells with both a latency and an accuracy");
		goto out;
	}
	/* non-dominated: no other point is at least as fast and as accurate,
	 * and better in one */
	for (int a = 0; a < n; a++) {
		front[a] = 1;
		for (int b = 0; b < n && front[a]; b++) {
			double ga = g->acc_better * pts[a].y, gb = g->acc_better * pts[b].y;
			if (b != a && pts[b].x >= pts[a].x && gb >= ga && (pts[b].x > pts[a].x || gb > ga))
				front[a] = 0;
		}
	}
	double x0 = p.x0, x1 = p.x1, y0 = p.y0, y1 = p.y1;
	init_plot(&p, f, 48);
	p.x0 = fmin(x0, 1), p.x1 = fmax(x1, 1), p.y0 = y0, p.y1 = y1;
	pb_plot_range(&p.x0, &p.x1, 0.06, 0);
	acc_range(&p, y0, y1);
	group_title(title, sizeof title, "Accuracy vs speed-up", g);
	pb_svg_begin(f, p.w, p.h, title);
	pb_plot_axes(&p, "speed-up over the baseline (×, mean end-to-end latency)", g->acc_title, NULL, 0);
	fprintf(f, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
		pb_px(&p, 1), p.t, pb_px(&p, 1), p.h - p.b);
	/* the front as a line, fastest-accurate first */
	struct pt *fp = calloc((size_t)n, sizeof *fp);
	int nf = 0;
	for (int a = 0; fp && a < n; a++)
		if (front[a])
			fp[nf++] = pts[a];
	if (fp && nf) {
		qsort(fp, (size_t)nf, sizeof *fp, cmp_pt);
		fputs("<path class=\"front\" d=\"", f);
		for (int k = 0; k < nf; k++)
			fprintf(f, "%c%.1f %.1f", k ? 'L' : 'M', pb_px(&p, fp[k].x), pb_py(&p, fp[k].y));
		fputs("\"><title>Pareto front</title></path>\n", f);
	}
	free(fp);
	for (int k = 0; k < n; k++) {
		int i = pts[k].cell;
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		fputs("<g class=\"pt\"><title>", f);
		pb_html_puts(f, pb_rep_label(g, c));
		fprintf(f, ": %.3g× , %s %.4g%s</title>\n", pts[k].x, g->acc_col, pts[k].y,
			front[k] ? " (on the Pareto front)" : "");
		if (front[k])
			pb_plot_marker(f, 0, pb_px(&p, pts[k].x), pb_py(&p, pts[k].y), 8, "#000000", 1);
		pb_plot_marker(f, i, pb_px(&p, pts[k].x), pb_py(&p, pts[k].y), 4.5, color_of(i), 0);
		fputs("</g>\n", f);
		leg[n_leg++] = (struct pb_legend_item){ pb_rep_label(g, c), color_of(i), i, 0 };
	}
	leg[n_leg++] = (struct pb_legend_item){ "Pareto front (ringed)", "#000000", -2, 1 };
	pb_plot_legend(&p, leg, n_leg);
	pb_svg_end(f);
	caption(f, "Right is faster than the baseline (the vertical line at 1×).  The dashed line "
		"joins the chains that no other chain beats on both speed and accuracy.");
out:
	free(pts);
	free(leg);
	free(front);
}

/* ---- energy per output token, stacked by phase */

void pb_chart_energy(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	static const char *const phase[] = { "prefill", "encode", "decode" };
	const struct pb_rep *r = v->r;
	const char **cats = calloc((size_t)g->n, sizeof *cats);
	double hi = 0;
	int have = 0, has_phase[3] = { 0, 0, 0 };
	char title[512];
	struct pb_plot p;
	const char *channel = NULL;

	if (!cats)
		return;
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		const double e[3] = { c->energy_prefill_j, c->energy_encode_j, c->energy_decode_j };
		double sum = 0;
		cats[i] = pb_rep_label(g, c);
		if (!(c->out_tokens > 0))
			continue;
		for (int k = 0; k < 3; k++)
			if (!isnan(e[k])) {
				sum += e[k] / c->out_tokens;
				has_phase[k] = 1;
			}
		if (has_phase[0] || has_phase[1] || has_phase[2]) {
			have++;
			if (!channel)
				channel = c->energy_channel;
		}
		hi = fmax(hi, sum);
	}
	if (!have) {
		note(f, "Energy per token", "no energy readings in this group (add the rapl, hwmon or "
		     "nvml probe where the hardware has one)");
		free(cats);
		return;
	}
	init_plot(&p, f, g->n > 4 ? 110 : 48);
	p.x0 = -0.5, p.x1 = g->n - 0.5, p.y0 = 0, p.y1 = hi;
	pb_plot_range(&p.y0, &p.y1, 0.05, 1);
	snprintf(title, sizeof title, "Energy per output token by phase (%s) — %s × %s × %s", channel,
		 g->model, g->dataset, g->backend);
	pb_svg_begin(f, p.w, p.h, title);
	pb_plot_axes(&p, "", "energy per output token (J)", cats, g->n);
	double bw = fmin(44, 0.6 * (pb_px(&p, 1) - pb_px(&p, 0)));
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &r->cells[g->cells[i]];
		const double e[3] = { c->energy_prefill_j, c->energy_encode_j, c->energy_decode_j };
		double base = 0;
		if (!(c->out_tokens > 0))
			continue;
		for (int k = 0; k < 3; k++) {
			if (isnan(e[k]))
				continue;
			double h = e[k] / c->out_tokens;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
				"<title>", pb_px(&p, i) - bw / 2, pb_py(&p, base + h), bw,
				fmax(0.5, pb_py(&p, base) - pb_py(&p, base + h)), color_of(k == 2 ? 1 : k == 1 ? 2 : 0));
			pb_html_puts(f, cats[i]);
			fprintf(f, ", %s: %.4g J/token (%.4g J over %.0f output tokens)</title></rect>\n",
				phase[k], h, e[k], c->out_tokens);
			base += h;
		}
	}
	struct pb_legend_item leg[3];
	int n_leg = 0;
	for (int k = 0; k < 3; k++)
		if (has_phase[k])
			leg[n_leg++] = (struct pb_legend_item){ phase[k], color_of(k == 2 ? 1 : k == 1 ? 2 : 0),
								-1, 0 };
	pb_plot_legend(&p, leg, n_leg);
	pb_svg_end(f);
	caption(f, "Energy the probe measured while the model worked (prefill, and decode of the "
		"further tokens) divided by all output tokens; the bar's height is the table's "
		"energy per token.  Idle power is included.");
	free(cats);
}

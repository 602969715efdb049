/* core/report/tables.c — the tables, one set per group, written as
 * Markdown (tables.md) and as HTML (inside index.html) from the same
 * definitions (model.c) and the same comparisons (compare.c), so the two
 * never disagree: the metric tables, the effects with their intervals and
 * the A/A noise floor, the per-round means, and the banners (contention,
 * an A/A control called real).  Columns that no cell of a group has are
 * left out; a missing value is "—". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

/* ---- a table written either way */

struct out {
	FILE *f;
	int html;
};

static void put(const struct out *o, const char *s)
{
	if (o->html)
		pb_html_puts(o->f, s);
	else
		pb_md_puts(o->f, s);
}

/* align: 'l' or 'r' per column (NULL: the first left, the rest right) */
static void tbl_begin(const struct out *o, const char *caption, const char *const *head, int n,
		      const char *align)
{
	if (o->html) {
		fputs("<div class=\"tw\"><table class=\"metrics\"><caption>", o->f);
		put(o, caption);
		fputs("</caption>\n<thead><tr>", o->f);
		for (int k = 0; k < n; k++) {
			fputs("<th scope=\"col\">", o->f);
			put(o, head[k]);
			fputs("</th>", o->f);
		}
		fputs("</tr></thead>\n<tbody>\n", o->f);
		return;
	}
	fputs("### ", o->f);
	put(o, caption);
	fputs("\n\n|", o->f);
	for (int k = 0; k < n; k++) {
		fputc(' ', o->f);
		put(o, head[k]);
		fputs(" |", o->f);
	}
	fputs("\n|", o->f);
	for (int k = 0; k < n; k++)
		fputs((align ? align[k] == 'r' : k > 0) ? " ---: |" : " --- |", o->f);
	fputc('\n', o->f);
}

static void row_begin(const struct out *o, const char *label, const char *title, const char *cls)
{
	if (o->html) {
		fprintf(o->f, "<tr%s%s%s><th scope=\"row\"", cls ? " class=\"" : "", cls ? cls : "",
			cls ? "\"" : "");
		if (title) {
			fputs(" title=\"", o->f);
			put(o, title);
			fputc('"', o->f);
		}
		fputc('>', o->f);
		put(o, label);
		fputs("</th>", o->f);
		return;
	}
	fputs("| ", o->f);
	put(o, label);
	fputs(" |", o->f);
}

static void cell(const struct out *o, const char *text, const char *cls)
{
	if (o->html) {
		fprintf(o->f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
		put(o, text);
		fputs("</td>", o->f);
		return;
	}
	fputc(' ', o->f);
	put(o, text);
	fputs(" |", o->f);
}

static void row_end(const struct out *o)
{
	fputs(o->html ? "</tr>\n" : "\n", o->f);
}

static void tbl_end(const struct out *o)
{
	fputs(o->html ? "</tbody></table></div>\n" : "\n", o->f);
}

/* "dense (baseline)", "dense-aa (A/A twin of dense)", "... ⚠ contended" */
static void row_label(char *buf, size_t len, const struct pb_rep_view *v,
		      const struct pb_rep_group *g, int cell_idx)
{
	const struct pb_rep_cell *c = &v->r->cells[cell_idx];
	size_t at = (size_t)snprintf(buf, len, "%s", pb_rep_label(g, c));
	if (at < len && cell_idx == g->baseline)
		at += (size_t)snprintf(buf + at, len - at, " (baseline)");
	if (at < len && c->aa_of[0])
		at += (size_t)snprintf(buf + at, len - at, " (A/A twin of %s)", c->aa_of);
	if (at < len && pb_rep_contended(c))
		snprintf(buf + at, len - at, " ⚠ contended");
}

/* The same writer for the room's other tables (serving.c). */
void pb_tbl_begin(FILE *f, int html, const char *caption, const char *const *head, int n,
		  const char *align)
{
	struct out o = { f, html };
	tbl_begin(&o, caption, head, n, align);
}

void pb_tbl_row(FILE *f, int html, const char *const *cells, int n)
{
	struct out o = { f, html };
	row_begin(&o, cells[0], NULL, NULL);
	for (int k = 1; k < n; k++)
		cell(&o, cells[k], NULL);
	row_end(&o);
}

void pb_tbl_end(FILE *f, int html)
{
	struct out o = { f, html };
	tbl_end(&o);
}

/* ---- the metric tables */

static void change_text(char *buf, size_t len, const struct pb_rep_cellfmt *cf)
{
	const char *mark = cf->verdict == PB_V_NO_TEST ? "1 round" : pb_rep_verdict_mark(cf->verdict);
	size_t at = (size_t)snprintf(buf, len, "%s", cf->change);
	if (at < len && mark[0])
		at += (size_t)snprintf(buf + at, len - at, "%s%s", cf->change[0] ? ", " : "", mark);
	if (at < len && cf->contended && cf->change[0] &&
	    (cf->verdict == PB_V_REAL || cf->verdict == PB_V_NOT_REAL || cf->verdict == PB_V_NO_TEST))
		at += (size_t)snprintf(buf + at, len - at, " ⚠");
	if (at < len && cf->aa[0] && cf->change[0])
		snprintf(buf + at, len - at, "; %s", cf->aa);
}

static void metric_table(const struct out *o, const struct pb_rep_view *v, const struct pb_rep_group *g,
			 const struct pb_rep_table *t)
{
	int show[16], any = 0, n = 1;
	const char *head[17] = { "chain" };
	for (int k = 0; k < t->n; k++) {
		any |= show[k] = pb_rep_metric_present(v->r, g, &t->m[k]);
		if (show[k])
			head[n++] = t->m[k].head;
	}
	if (!any)
		return;
	tbl_begin(o, t->title, head, n, NULL);
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		char label[512];
		row_label(label, sizeof label, v, g, g->cells[i]);
		row_begin(o, label, c->id, g->cells[i] == g->baseline ? "base" :
			  pb_rep_contended(c) ? "contended" : NULL);
		for (int k = 0; k < t->n; k++) {
			struct pb_rep_cellfmt cf;
			char ch[256];
			if (!show[k])
				continue;
			pb_rep_format(v, g, g->cells[i], &t->m[k], &cf);
			change_text(ch, sizeof ch, &cf);
			if (!o->html) {
				fputc(' ', o->f);
				put(o, cf.value);
				if (ch[0]) {
					fputs(cf.change[0] ? " (" : " ", o->f);
					put(o, ch);
					fputs(cf.change[0] ? ")" : "", o->f);
				}
				fputs(" |", o->f);
				continue;
			}
			fputs(t->m[k].fmt == PB_F_TEXT ? "<td class=\"txt\">" : "<td>", o->f);
			put(o, cf.value);
			if (ch[0]) {
				const char *cls = cf.verdict == PB_V_NOT_REAL || cf.verdict == PB_V_NO_TEST ?
					"noise" : cf.verdict == PB_V_VARIES ? "worse" : cf.sign > 0 ? "better" :
					cf.sign < 0 ? "worse" : "neutral";
				fprintf(o->f, "<br><span class=\"d %s\">", cls);
				put(o, ch);
				fputs("</span>", o->f);
			}
			fputs("</td>", o->f);
		}
		row_end(o);
	}
	tbl_end(o);
}

/* ---- effects: every comparison of the group with its interval */

static void fmt_p(char *buf, size_t len, double p)
{
	if (isnan(p))
		snprintf(buf, len, "—");
	else if (p < 1e-4)
		snprintf(buf, len, "<0.0001");
	else
		snprintf(buf, len, "%.4f", p);
}

static void effects_table(const struct out *o, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	static const char *const head[] = {
		"chain", "metric", "rounds", "effect [95 % CI]", "p", "BH-adjusted p", "verdict",
		"A/A noise floor", "note",
	};
	int gi = (int)(g - v->groups), any = 0;
	/* with one round nothing is tested: the metric tables say it all */
	for (int i = 0; i < v->n_cmps; i++)
		any |= v->cmps[i].group == gi && v->cmps[i].e.n >= 2;
	if (!any)
		return;
	tbl_begin(o, "Effects against the baseline (paired by round; BH across the report)", head,
		  (int)PB_ARRAY_LEN(head), "llrrrrlll");
	for (int i = 0; i < v->n_cmps; i++) {
		const struct pb_rep_cmp *k = &v->cmps[i];
		const struct pb_rep_cell *c = &v->r->cells[k->cell], *b = &v->r->cells[k->ref];
		char label[512], buf[128], note[256] = "";
		if (k->group != gi)
			continue;
		row_label(label, sizeof label, v, g, k->cell);
		int tested = k->e.n >= 2 && !isnan(k->e.p);
		row_begin(o, label, c->id, k->aa ? "aa" : k->real ? "real" : NULL);
		cell(o, k->head, "txt");
		if (k->excluded)
			snprintf(buf, sizeof buf, "%d of %d", k->e.n, k->e.n + k->excluded);
		else
			snprintf(buf, sizeof buf, "%d", k->e.n);
		cell(o, buf, NULL);
		pb_rep_fmt_effect(buf, sizeof buf, &k->e);
		cell(o, buf, NULL);
		fmt_p(buf, sizeof buf, tested ? k->e.p : NAN);
		cell(o, buf, NULL);
		fmt_p(buf, sizeof buf, k->p_adj);
		cell(o, buf, NULL);
		const char *verdict = !tested ? (k->e.n < 2 ? "1 round: no test" : "no test") :
			k->real ? (k->aa ? "REAL — A/A control, should not be" : "real") : "n.s.";
		cell(o, verdict, k->real ? (k->aa ? "worse" : "better") : "noise");
		const struct pb_rep_cmp *aa = k->aa ? NULL : pb_rep_cmp_aa(v, g, k->col);
		if (aa && aa->e.n >= 2 && !isnan(aa->e.lo_pct))
			snprintf(buf, sizeof buf, "%+.1f ± %.1f %%", aa->e.pct, (aa->e.hi_pct - aa->e.lo_pct) / 2);
		else
			snprintf(buf, sizeof buf, "%s", k->aa ? "(this is the A/A control)" : "—");
		cell(o, buf, NULL);
		size_t at = 0;
		if (k->aa)
			at += (size_t)snprintf(note + at, sizeof note - at, "A/A: %s against %s", c->pruner,
					       b->pruner);
		if (k->excluded)
			at += (size_t)snprintf(note + at, sizeof note - at, "%s%d contended round%s left out",
					       at ? "; " : "", k->excluded, k->excluded == 1 ? "" : "s");
		if (k->contended && at < sizeof note)
			snprintf(note + at, sizeof note - at, "%s⚠ contended (%s%s%s)", at ? "; " : "",
				 pb_rep_contended(c) ? c->pruner : "", pb_rep_contended(c) &&
				 pb_rep_contended(b) ? ", " : "", pb_rep_contended(b) ? b->pruner : "");
		cell(o, note, "txt");
		row_end(o);
	}
	tbl_end(o);
}

/* ---- per-round means: drift is visible, and the randomized order */

static void rounds_tables(const struct out *o, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	static const struct { const char *col, *title; } lat[] = {
		{ "ttft_ms_mean", "Per-round means: TTFT (ms)" },
		{ "tpot_ms_mean", "Per-round means: TPOT (ms)" },
		{ "e2e_ms_mean", "Per-round means: end-to-end latency (ms)" },
	};
	const struct pb_rep *r = v->r;
	int rmax = 0;
	if (g->max_rounds < 2)
		return;
	for (int i = 0; i < g->n; i++)
		for (int k = 0; k < r->cells[g->cells[i]].n_rounds; k++)
			if (pb_rep_round_no(&r->cells[g->cells[i]], k) > rmax)
				rmax = pb_rep_round_no(&r->cells[g->cells[i]], k);
	if (rmax > 64)
		rmax = 64;
	const char *head[2 + 64];
	char names[64][16];
	head[0] = "chain";
	head[1] = "position in each round (mean)";
	for (int q = 0; q < rmax; q++) {
		snprintf(names[q], sizeof names[q], "round %d", q + 1);
		head[2 + q] = names[q];
	}
	for (size_t t = 0; t < PB_ARRAY_LEN(lat); t++) {
		struct pb_rep_metric m = { .col = lat[t].col, .fmt = PB_F_NUM };
		if (!pb_rep_metric_present(r, g, &m))
			continue;
		tbl_begin(o, lat[t].title, head, 2 + rmax, NULL);
		for (int i = 0; i < g->n; i++) {
			const struct pb_rep_cell *c = &r->cells[g->cells[i]];
			char label[512], buf[512];
			row_label(label, sizeof label, v, g, g->cells[i]);
			row_begin(o, label, c->id, g->cells[i] == g->baseline ? "base" : NULL);
			/* the 0-based positions in each round's run order */
			size_t at = 0;
			double sum = 0;
			int np = 0;
			buf[0] = '\0';
			for (int k = 0; k < c->n_rounds && at < sizeof buf; k++) {
				double pos = pb_rep_round_num(c, k, "round_position");
				if (isnan(pos))
					continue;
				at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%.0f", np ? ", " : "", pos);
				sum += pos;
				np++;
			}
			if (np && at < sizeof buf)
				snprintf(buf + at, sizeof buf - at, " (%.1f)", sum / np);
			cell(o, np ? buf : "—", NULL);
			for (int q = 1; q <= rmax; q++) {
				int k = 0;
				while (k < c->n_rounds && pb_rep_round_no(c, k) != q)
					k++;
				double x = k < c->n_rounds ? pb_rep_round_num(c, k, lat[t].col) : NAN;
				pb_rep_fmt_num(buf, sizeof buf, x, PB_F_NUM);
				if (k < c->n_rounds && pb_rep_round_contended(c, k)) {
					size_t l = strlen(buf);
					snprintf(buf + l, sizeof buf - l, " ⚠");
				}
				cell(o, buf, k < c->n_rounds && pb_rep_round_contended(c, k) ? "worse" : NULL);
			}
			row_end(o);
		}
		tbl_end(o);
	}
}

/* ---- banners: what a reader must see before any number */

static void para_begin(const struct out *o, const char *cls)
{
	if (o->html)
		fprintf(o->f, "<div class=\"banner %s\"><p>", cls);
}

static void para_end(const struct out *o)
{
	fputs(o->html ? "</p></div>\n" : "\n\n", o->f);
}

static void contention_banner(const struct out *o, const struct pb_rep_view *v)
{
	const struct pb_rep *r = v->r;
	char buf[512];
	if (!v->n_contended)
		return;
	para_begin(o, "warn");
	snprintf(buf, sizeof buf, "⚠ Contention: %d cell%s measured while other processes used the "
		 "machine (contended = 1: others used more CPU than the threshold during the measured "
		 "phases). Their rows are marked ⚠ and so is every effect involving them; a contended "
		 "effect may be the other load, not the chain.", v->n_contended, v->n_contended == 1 ?
		 " was" : "s were");
	if (!o->html)
		fputs("**", o->f);
	put(o, buf);
	fputs(o->html ? "</p><ul>" : "**\n\n", o->f);
	for (int i = 0; i < r->n_cells; i++) {
		const struct pb_rep_cell *c = &r->cells[i];
		if (c->failed || !pb_rep_contended(c))
			continue;
		fputs(o->html ? "<li><code>" : "- ", o->f);
		put(o, c->id);
		fputs(o->html ? "</code>: " : ": ", o->f);
		double thr = pb_rep_num(c, "contention_threshold_pct");
		int listed = 0;
		for (int k = 0; c->rounds && k < c->n_rounds; k++) {
			if (!pb_rep_round_contended(c, k))
				continue;
			double oc = pb_rep_round_num(c, k, "other_cpu_pct_mean");
			if (isnan(oc))
				snprintf(buf, sizeof buf, "%sround %d, others' CPU unknown", listed ? "; " : "",
					 pb_rep_round_no(c, k));
			else
				snprintf(buf, sizeof buf, "%sround %d, others' CPU %.1f %% of a core (mean)",
					 listed ? "; " : "", pb_rep_round_no(c, k), oc);
			put(o, buf);
			listed++;
		}
		if (!listed) {
			double oc = pb_rep_num(c, "other_cpu_pct_mean");
			if (isnan(oc))
				snprintf(buf, sizeof buf, "others' CPU unknown");
			else
				snprintf(buf, sizeof buf, "others' CPU %.1f %% of a core (mean)", oc);
			put(o, buf);
		}
		if (!isnan(thr)) {
			snprintf(buf, sizeof buf, " (threshold %.4g %%)", thr);
			put(o, buf);
		}
		fputs(o->html ? "</li>\n" : "\n", o->f);
	}
	fputs(o->html ? "</ul></div>\n" : "\n", o->f);
}

static void aa_banner(const struct out *o, const struct pb_rep_view *v)
{
	char buf[768];
	if (!v->n_aa_real)
		return;
	para_begin(o, "alarm");
	snprintf(buf, sizeof buf, "⚠ A/A CONTROL CALLED REAL: %d of %d comparisons of a baseline with "
		 "its own twin (the same chain measured again in every round) passed the test. Nothing "
		 "differed between them but the measurement, so noise on this machine is larger than the "
		 "rounds capture (drift, contention, a round-dependent effect). Treat every effect of the "
		 "groups concerned as suspect.", v->n_aa_real, v->n_aa_tested);
	if (!o->html)
		fputs("**", o->f);
	put(o, buf);
	if (!o->html)
		fputs("**", o->f);
	para_end(o);
}

static void verdict_line(const struct out *o, const struct pb_rep_view *v)
{
	char buf[512];
	if (!v->n_cmps)
		return;     /* no group has a baseline and another chain */
	if (!v->n_tested) {
		para_begin(o, "info");
		put(o, "No change was tested: no chain shares two rounds or more with its baseline "
		    "(rounds: 1, or results from before rounds). Changes are shown without a verdict (1 round: no test); set "
		    "rounds: 2 or more (5 or more for useful intervals) to test them.");
		para_end(o);
		return;
	}
	para_begin(o, "info");
	snprintf(buf, sizeof buf, "%d comparisons tested, %d called real at a false-discovery rate of "
		 "q = %.2g (Benjamini–Hochberg across all of them)", v->n_tested, v->n_real, PB_REP_FDR_Q);
	put(o, buf);
	if (v->n_aa_tested) {
		snprintf(buf, sizeof buf, "; %d of them are A/A controls, %d of which were called real "
			 "(expected: none).", v->n_aa_tested, v->n_aa_real);
		put(o, buf);
	} else {
		put(o, "; no A/A control (set aa_control: true for an empirical noise floor).");
	}
	para_end(o);
}

void pb_rep_banners(FILE *f, int html, const struct pb_rep_view *v)
{
	struct out o = { f, html };
	aa_banner(&o, v);
	contention_banner(&o, v);
	verdict_line(&o, v);
}

static void synthetic_note(const struct out *o, const struct pb_rep_group *g)
{
	if (!g->synthetic)
		return;
	para_begin(o, "warn");
	put(o, "This model has synthetic (random) weights: its accuracy columns say how far each "
	    "chain moved the output distribution (KL, shown first), not how good the model is. "
	    "Top-1 agreement on random weights is not meaningful: a near-flat random model's argmax "
	    "flips under any change, so low agreement here is not an accuracy collapse.");
	para_end(o);
}

void pb_rep_group_tables(FILE *f, int html, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	struct out o = { f, html };
	for (int t = 0; t < g->n_tables; t++) {
		if (!strcmp(g->tables[t].title, "Accuracy"))
			synthetic_note(&o, g);    /* beside the accuracy it qualifies */
		metric_table(&o, v, g, &g->tables[t]);
		if (t == 0)
			effects_table(&o, v, g);
	}
	rounds_tables(&o, v, g);
}

/* ---- tables.md */

static void md_group(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	fputs("## ", f);
	pb_md_puts(f, g->model);
	fputs(" × ", f);
	pb_md_puts(f, g->dataset);
	fputs(" × ", f);
	pb_md_puts(f, g->backend);
	fputs("\n\n", f);
	if (g->baseline >= 0) {
		const struct pb_rep_cell *b = &v->r->cells[g->baseline];
		fputs("Baseline: ", f);
		pb_md_puts(f, b->pruner);
		fputs(" (cell ", f);
		pb_md_puts(f, b->id);
		fprintf(f, ", %d requests, %d round%s). Changes in %% are against it.\n\n", b->n_req,
			b->n_rounds, b->n_rounds == 1 ? "" : "s");
	} else {
		fputs("No baseline chain in this group: values only, no changes.\n\n", f);
	}
	pb_rep_group_tables(f, 0, v, g);
}

void pb_rep_legend(FILE *f, int html, const struct pb_rep_view *v)
{
	struct out o = { f, html };
	char buf[2048];
	snprintf(buf, sizeof buf, "Each group (model × dataset × backend) compares every chain with its "
		 "baseline (%s). A timed metric's change (latency, tokens/s, energy per token, mean power, "
		 "CPU %%, peak RSS) is the paired test over rounds: each round is a separate run of every "
		 "cell; d = ln(chain / baseline) of that round's means; the effect is 100 (exp(mean d) − "
		 "1) %% with its 95 %% Student-t interval [low, high] (df = rounds − 1), and the paired t "
		 "test's p is adjusted with Benjamini–Hochberg across all comparisons of this report at a "
		 "false-discovery rate of q = 0.05. \"real\": BH rejected \"no change\"; \"n.s.\": not "
		 "shown to differ; \"1 round: no test\": a single round cannot be tested. Deterministic values "
		 "(accuracy, sparsity, parameters, bytes) are \"exact\" differences, not tested. Other "
		 "changes (std, percentiles, requests/s) are plain differences of pooled values, not "
		 "tested. Percentiles pool every round's requests. With an A/A control (aa_control: "
		 "true) the twin's effect ± half its interval is the group's noise floor (A/A). ⚠ marks "
		 "a cell measured while other processes used the machine.",
		 v->baseline_name ? v->baseline_name : "the chain without compression steps");
	if (html)
		fputs("<p>", f);
	put(&o, buf);
	fputs(html ? "</p>\n" : "\n\n", f);
}

void pb_rep_tables_md(FILE *f, const struct pb_rep_view *v)
{
	const struct pb_rep *r = v->r;
	const struct pb_rep_cell *c0 = &r->cells[0];
	const char *exp = pb_rep_manifest(c0, "experiment");

	fputs("# prunebench report: ", f);
	pb_md_puts(f, exp ? exp : "results");
	fprintf(f, "\n\n%d cells: %d done, %d failed.\n\n", r->n_cells, r->n_cells - r->n_failed,
		r->n_failed);
	pb_rep_banners(f, 0, v);
	pb_rep_legend(f, 0, v);
	for (int k = 0; k < v->n_groups; k++)
		md_group(f, v, &v->groups[k]);
	pb_rep_serving(f, 0, v);
	if (r->n_failed) {
		fputs("## Failed cells\n\n| cell | reason |\n| --- | --- |\n", f);
		for (int i = 0; i < r->n_cells; i++) {
			if (!r->cells[i].failed)
				continue;
			fputs("| ", f);
			pb_md_puts(f, r->cells[i].id);
			fputs(" | ", f);
			pb_md_puts(f, r->cells[i].reason[0] ? r->cells[i].reason : "no reason recorded");
			fputs(" |\n", f);
		}
		fputc('\n', f);
	}
	/* where and with what: one line per distinct machine and version */
	fputs("## Machine and versions\n\n", f);
	char (*seen)[1024] = calloc((size_t)r->n_cells, sizeof *seen);
	int n_seen = 0;
	for (int i = 0; seen && i < r->n_cells; i++) {
		const struct pb_rep_cell *c = &r->cells[i];
#define M(k) (pb_rep_manifest(c, k) ? pb_rep_manifest(c, k) : "?")
		char line[1024];
		pb_sayf(line, sizeof line, "host %s: %s, %s cores online (%s allowed), governor %s, %s; "
			"prunebench %s (%s)", M("host.hostname"), M("host.cpu_model"),
			M("host.cores_online"), M("host.cores_allowed"), M("host.governor"),
			M("host.kernel"), M("prunebench.version"), M("prunebench.git_revision"));
#undef M
		int dup = 0;
		for (int k = 0; k < n_seen && !dup; k++)
			dup = !strcmp(seen[k], line);
		if (dup)
			continue;
		memcpy(seen[n_seen++], line, sizeof line);
		fputs("- ", f);
		pb_md_puts(f, line);
		fputc('\n', f);
	}
	free(seen);
	fputc('\n', f);
}

/* core/report/tables.c — the metric tables, one set per group, written
 * as Markdown (tables.md) and as HTML (inside index.html) from the same
 * definitions (model.c), so the two never disagree.  Columns that no cell
 * of a group has are left out; a missing value is "—". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

static const char *noise_mark(enum pb_noise n)
{
	return n == PB_NOISE_WITHIN ? " ≈" : "";
}

static void md_table(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g,
		     const struct pb_rep_table *t)
{
	int show[16], any = 0;
	for (int k = 0; k < t->n; k++)
		any |= show[k] = pb_rep_metric_present(v->r, g, &t->m[k]);
	if (!any)
		return;
	fprintf(f, "### %s\n\n| chain |", t->title);
	for (int k = 0; k < t->n; k++)
		if (show[k]) {
			fputc(' ', f);
			pb_md_puts(f, t->m[k].head);
			fputs(" |", f);
		}
	fputs("\n| --- |", f);
	for (int k = 0; k < t->n; k++)
		if (show[k])
			fputs(t->m[k].fmt == PB_F_TEXT ? " --- |" : " ---: |", f);
	fputc('\n', f);
	for (int i = 0; i < g->n; i++) {
		const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
		fputs("| ", f);
		pb_md_puts(f, pb_rep_label(g, c));
		fputs(g->cells[i] == g->baseline ? " (baseline) |" : " |", f);
		for (int k = 0; k < t->n; k++) {
			struct pb_rep_cellfmt cf;
			if (!show[k])
				continue;
			pb_rep_format(v->r, g, c, &t->m[k], &cf);
			fputc(' ', f);
			pb_md_puts(f, cf.value);
			if (cf.change[0])
				fprintf(f, " (%s%s)", cf.change, noise_mark(cf.noise));
			fputs(" |", f);
		}
		fputc('\n', f);
	}
	fputc('\n', f);
}

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
		fprintf(f, ", %d requests). Changes in %% are against it.\n\n", b->n_req);
	} else {
		fputs("No baseline chain in this group: values only, no changes.\n\n", f);
	}
	for (int t = 0; t < g->n_tables; t++)
		md_table(f, v, g, &g->tables[t]);
}

void pb_rep_tables_md(FILE *f, const struct pb_rep_view *v)
{
	const struct pb_rep *r = v->r;
	const struct pb_rep_cell *c0 = &r->cells[0];
	const char *exp = pb_rep_manifest(c0, "experiment");

	fputs("# prunebench report: ", f);
	pb_md_puts(f, exp ? exp : "results");
	fprintf(f, "\n\n%d cells: %d done, %d failed.  Each group (model × dataset × backend) "
		"compares every chain with its baseline (", r->n_cells, r->n_cells - r->n_failed,
		r->n_failed);
	if (v->baseline_name)
		pb_md_puts(f, v->baseline_name);
	else
		fputs("the chain without compression steps", f);
	fprintf(f, ").  A change marked ≈ is within run-to-run noise: the 95 %% bootstrap "
		"confidence interval (%d resamples, fixed seed) of the difference of the per-request "
		"means includes 0.  Unmarked changes in means with per-request samples are beyond "
		"that noise; other columns have no samples to judge by.\n\n", PB_REP_ITERS);
	for (int k = 0; k < v->n_groups; k++)
		md_group(f, v, &v->groups[k]);
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

/* ---- HTML */

void pb_rep_tables_html(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g)
{
	for (int ti = 0; ti < g->n_tables; ti++) {
		const struct pb_rep_table *t = &g->tables[ti];
		int show[16], any = 0;
		for (int k = 0; k < t->n; k++)
			any |= show[k] = pb_rep_metric_present(v->r, g, &t->m[k]);
		if (!any)
			continue;
		fputs("<div class=\"tw\"><table class=\"metrics\"><caption>", f);
		pb_html_puts(f, t->title);
		fputs("</caption>\n<thead><tr><th scope=\"col\">chain</th>", f);
		for (int k = 0; k < t->n; k++)
			if (show[k]) {
				fputs("<th scope=\"col\">", f);
				pb_html_puts(f, t->m[k].head);
				fputs("</th>", f);
			}
		fputs("</tr></thead>\n<tbody>\n", f);
		for (int i = 0; i < g->n; i++) {
			const struct pb_rep_cell *c = &v->r->cells[g->cells[i]];
			int base = g->cells[i] == g->baseline;
			fprintf(f, "<tr%s><th scope=\"row\" title=\"", base ? " class=\"base\"" : "");
			pb_html_puts(f, c->id);
			fputs("\">", f);
			pb_html_puts(f, pb_rep_label(g, c));
			fputs(base ? " <small>(baseline)</small></th>" : "</th>", f);
			for (int k = 0; k < t->n; k++) {
				struct pb_rep_cellfmt cf;
				if (!show[k])
					continue;
				pb_rep_format(v->r, g, c, &t->m[k], &cf);
				fputs(t->m[k].fmt == PB_F_TEXT ? "<td class=\"txt\">" : "<td>", f);
				pb_html_puts(f, cf.value);
				if (cf.change[0]) {
					const char *cls = cf.noise == PB_NOISE_WITHIN ? "noise" :
						cf.sign > 0 ? "better" : cf.sign < 0 ? "worse" : "neutral";
					fprintf(f, "<br><span class=\"d %s\"%s>%s%s</span>", cls,
						cf.noise == PB_NOISE_WITHIN ?
						" title=\"within run-to-run noise (95 % bootstrap CI of the "
						"difference includes 0)\"" : "", cf.change, noise_mark(cf.noise));
				}
				fputs("</td>", f);
			}
			fputs("</tr>\n", f);
		}
		fputs("</tbody></table></div>\n", f);
	}
}

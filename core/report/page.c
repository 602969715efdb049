/* core/report/page.c — pb_report_write: load a results folder, build the
 * view, and write report/tables.md and report/index.html (one file: CSS
 * and SVG inline, a Content-Security-Policy that forbids every fetch, no
 * script).  The page says on which machine, with which versions and
 * which configuration the numbers were taken, and which cells failed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb-config.h"
#include "report/report-internal.h"
#include "util/util.h"

static const char css[] =
	"body{font:15px/1.45 system-ui,sans-serif;color:#1a1a1a;max-width:1180px;margin:0 auto;padding:0 18px 40px}"
	"h1{font-size:1.6em;margin:.8em 0 .2em}h2{margin-top:1.8em;border-bottom:2px solid #0072B2}"
	"h3{margin-top:1.4em}code,pre{font:13px ui-monospace,monospace}"
	"pre{background:#f4f4f4;padding:8px;overflow-x:auto;white-space:pre-wrap}"
	".tw{overflow-x:auto;margin:.8em 0}"
	"table{border-collapse:collapse;font-size:13.5px}caption{text-align:left;font-weight:600;padding:4px 0}"
	"th,td{border-bottom:1px solid #ddd;padding:4px 9px;vertical-align:top}"
	"td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.txt{text-align:left;white-space:normal}"
	"thead th{background:#f0f4f8;text-align:right}thead th:first-child{text-align:left}"
	"tbody th{text-align:left;font-weight:500}tr.base{background:#fafafa}"
	".d{font-size:12px}.better{color:#0072B2}.worse{color:#D55E00}.noise{color:#888}.neutral{color:#444}"
	"table.kv td{text-align:left;white-space:normal}"
	"figure{margin:1.2em 0}figcaption{font-size:13px;color:#444;max-width:760px}"
	"svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid #e4e4e4}"
	"svg text{font:12px system-ui,sans-serif;fill:#222}svg .ttl{font-weight:600;font-size:13px}"
	"svg .tick{font-size:11px;fill:#444}svg .lab{font-size:12px}"
	"svg .grid{stroke:#e6e6e6}svg .axis{stroke:#333;fill:none}"
	"svg .whisker{stroke:#555;fill:none}svg .median{stroke:#000;stroke-width:2}"
	"svg .line{fill:none;stroke-width:2}svg .front{fill:none;stroke:#000;stroke-dasharray:5 4}"
	"svg .ref{stroke:#888;stroke-dasharray:2 3}svg .phase{fill-opacity:.16}"
	"svg .phase-legend rect{fill-opacity:.4}"
	".note{color:#555;font-style:italic}.fail{color:#D55E00}"
	"nav ul{columns:2}"
	".banner{border-left:6px solid #0072B2;background:#f0f4f8;padding:6px 12px;margin:1em 0}"
	".banner p{margin:.3em 0}.banner.warn{border-color:#E69F00;background:#fff6e5}"
	".banner.alarm{border-color:#D55E00;background:#fdebe3;font-weight:600;font-size:1.1em}"
	"tr.contended th{color:#D55E00}tr.aa{background:#f7f3fa}tr.real th{font-weight:700}";

static void h(FILE *f, const char *s)
{
	pb_html_puts(f, s);
}

/* A YAML node as compact flow text ({sparsity: 0.3, scope: per-tensor}).
 * Manifests are untrusted: depth and length are bounded (an alias may
 * point back at its own parent). */
static void flow(FILE *f, yaml_document_t *d, yaml_node_t *n, int depth, int *budget)
{
	if (!n || depth > 8 || *budget <= 0) {
		fputs("…", f);
		return;
	}
	--*budget;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		*budget -= (int)n->data.scalar.length / 16;
		h(f, (const char *)n->data.scalar.value);
		break;
	case YAML_SEQUENCE_NODE:
		fputc('[', f);
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			if (it != n->data.sequence.items.start)
				fputs(", ", f);
			flow(f, d, yaml_document_get_node(d, *it), depth + 1, budget);
		}
		fputc(']', f);
		break;
	case YAML_MAPPING_NODE:
		fputc('{', f);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			if (p != n->data.mapping.pairs.start)
				fputs(", ", f);
			flow(f, d, yaml_document_get_node(d, p->key), depth + 1, budget);
			fputs(": ", f);
			flow(f, d, yaml_document_get_node(d, p->value), depth + 1, budget);
		}
		fputc('}', f);
		break;
	default:
		break;
	}
}

static void flow_node(FILE *f, const struct pb_rep_cell *c, yaml_node_t *n)
{
	int budget = 400;
	flow(f, (yaml_document_t *)&c->doc, n, 0, &budget);
}

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "—";
}

static void machine(FILE *f, const struct pb_rep *r)
{
	static const char *const keys[] = {
		"host.hostname", "host.cpu_model", "host.cores_online", "host.cores_allowed",
		"host.governor", "host.kernel", "prunebench.version", "prunebench.git_revision",
	};
	fputs("<h2 id=\"machine\">Machine and versions</h2>\n<div class=\"tw\"><table class=\"kv\">"
	      "<thead><tr><th>host</th><th>CPU</th><th>cores online / allowed</th><th>governor</th>"
	      "<th>kernel</th><th>prunebench</th><th>cells</th></tr></thead><tbody>\n", f);
	/* one row per distinct machine and version: cells run on a cluster
	 * may come from several nodes */
	for (int i = 0; i < r->n_cells; i++) {
		int seen = 0, count = 0;
		for (int j = 0; j < r->n_cells && !seen; j++) {
			int same = 1;
			for (size_t k = 0; k < PB_ARRAY_LEN(keys) && same; k++) {
				const char *a = pb_rep_manifest(&r->cells[i], keys[k]);
				const char *b = pb_rep_manifest(&r->cells[j], keys[k]);
				same = !strcmp(a ? a : "", b ? b : "");
			}
			if (same && j < i)
				seen = 1;
			else if (same)
				count++;
		}
		if (seen)
			continue;
		const struct pb_rep_cell *c = &r->cells[i];
		fputs("<tr><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "host.hostname")));
		fputs("</td><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "host.cpu_model")));
		fputs("</td><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "host.cores_online")));
		fputs(" / ", f);
		h(f, or_dash(pb_rep_manifest(c, "host.cores_allowed")));
		fputs("</td><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "host.governor")));
		fputs("</td><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "host.kernel")));
		fputs("</td><td>", f);
		h(f, or_dash(pb_rep_manifest(c, "prunebench.version")));
		fputs(" (", f);
		h(f, or_dash(pb_rep_manifest(c, "prunebench.git_revision")));
		fprintf(f, ")</td><td>%d</td></tr>\n", count);
	}
	fputs("</tbody></table></div>\n", f);

	/* plugins: distinct name, kind, version, file hash */
	fputs("<div class=\"tw\"><table class=\"kv\"><caption>Plugins</caption><thead><tr><th>name</th>"
	      "<th>kind</th><th>version</th><th>sha256 (first 16)</th></tr></thead><tbody>\n", f);
	char seen_keys[64][160];
	int n_seen = 0;
	for (int i = 0; i < r->n_cells; i++) {
		const struct pb_rep_cell *c = &r->cells[i];
		yaml_node_t *pl = pb_rep_manifest_node(c, "plugins");
		yaml_document_t *d = (yaml_document_t *)&c->doc;
		if (!pl || pl->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *it = pl->data.sequence.items.start; it < pl->data.sequence.items.top; it++) {
			yaml_node_t *p = yaml_document_get_node(d, *it);
			const char *v[4] = { "", "", "", "" };
			static const char *const k[4] = { "name", "kind", "version", "sha256" };
			for (int q = 0; q < 4; q++) {
				yaml_node_t *x = pb_rep_yaml_get(d, p, k[q]);
				if (x && x->type == YAML_SCALAR_NODE)
					v[q] = (const char *)x->data.scalar.value;
			}
			char key[160];
			snprintf(key, sizeof key, "%.60s|%.20s|%.40s|%.16s", v[0], v[1], v[2], v[3]);
			int dup = 0;
			for (int s = 0; s < n_seen && !dup; s++)
				dup = !strcmp(seen_keys[s], key);
			if (dup || n_seen == 64)
				continue;
			snprintf(seen_keys[n_seen++], sizeof seen_keys[0], "%s", key);
			fputs("<tr><td>", f);
			h(f, v[0]);
			fputs("</td><td>", f);
			h(f, v[1]);
			fputs("</td><td>", f);
			h(f, v[2]);
			char sha[17];
			snprintf(sha, sizeof sha, "%s", v[3]);
			fputs("</td><td><code>", f);
			h(f, sha);
			fputs("</code></td></tr>\n", f);
		}
	}
	fputs("</tbody></table></div>\n", f);
}

/* Configuration: the run settings, and what each axis value stands for. */
static void configuration(FILE *f, const struct pb_rep *r)
{
	static const struct { const char *axis, *cfg, *title; } axes[] = {
		{ "model", "config.model", "models" },
		{ "dataset", "config.dataset", "datasets" },
		{ "pruner", "config.chain", "compression chains" },
		{ "backend", "config.backend", "backends" },
	};
	const struct pb_rep_cell *c0 = &r->cells[0];
	yaml_node_t *cfg = pb_rep_manifest_node(c0, "config");

	fputs("<h2 id=\"config\">Configuration</h2>\n<p>Experiment <b>", f);
	h(f, or_dash(pb_rep_manifest(c0, "experiment")));
	fputs("</b> (", f);
	h(f, or_dash(pb_rep_manifest(c0, "experiment_file")));
	fputs("), seed ", f);
	h(f, or_dash(pb_rep_manifest(c0, "seed")));
	fputs(".  Run settings: ", f);
	int first = 1;
	if (cfg && cfg->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = cfg->data.mapping.pairs.start; p < cfg->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node((yaml_document_t *)&c0->doc, p->key);
			yaml_node_t *v = yaml_document_get_node((yaml_document_t *)&c0->doc, p->value);
			if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
				continue;
			fputs(first ? "" : ", ", f);
			first = 0;
			fputs("<code>", f);
			flow_node(f, c0, k);
			fputs(": ", f);
			flow_node(f, c0, v);
			fputs("</code>", f);
		}
	fputs(first ? "—.</p>\n" : ".</p>\n", f);
	yaml_node_t *probes = pb_rep_manifest_node(c0, "config.probes");
	if (probes) {
		fputs("<p>Probes: <code>", f);
		flow_node(f, c0, probes);
		fputs("</code></p>\n", f);
	}
	for (size_t a = 0; a < PB_ARRAY_LEN(axes); a++) {
		fputs("<div class=\"tw\"><table class=\"kv\"><caption>", f);
		h(f, axes[a].title);
		fputs("</caption><tbody>\n", f);
		for (int i = 0; i < r->n_cells; i++) {
			const struct pb_rep_cell *c = &r->cells[i];
			const char *name = a == 0 ? c->model : a == 1 ? c->dataset : a == 2 ? c->pruner : c->backend;
			int dup = 0;
			for (int j = 0; j < i && !dup; j++) {
				const struct pb_rep_cell *o = &r->cells[j];
				dup = !strcmp(name, a == 0 ? o->model : a == 1 ? o->dataset :
					      a == 2 ? o->pruner : o->backend);
			}
			if (dup)
				continue;
			fputs("<tr><th scope=\"row\">", f);
			h(f, name);
			fputs("</th><td><code>", f);
			yaml_node_t *n = pb_rep_manifest_node(c, axes[a].cfg);
			if (n)
				flow_node(f, c, n);
			else
				fputs("—", f);
			fputs("</code></td></tr>\n", f);
		}
		fputs("</tbody></table></div>\n", f);
	}
}

static void failed_cells(FILE *f, const struct pb_rep *r)
{
	if (!r->n_failed)
		return;
	fprintf(f, "<h2 id=\"failed\" class=\"fail\">Failed cells (%d)</h2>\n", r->n_failed);
	fputs("<p>These cells did not complete; they are in no table or chart.  The reason is the "
	      "one recorded in the cell's manifest.yaml, with the end of its log.</p>\n", f);
	for (int i = 0; i < r->n_cells; i++) {
		const struct pb_rep_cell *c = &r->cells[i];
		if (!c->failed)
			continue;
		fputs("<h3><code>", f);
		h(f, c->id);
		fputs("</code></h3>\n<p><b>Reason:</b> ", f);
		h(f, c->reason[0] ? c->reason : "no reason recorded");
		fputs("</p>\n", f);
		if (c->log_tail[0]) {
			fputs("<pre>", f);
			h(f, c->log_tail);
			fputs("</pre>\n", f);
		}
	}
}

static int write_html(FILE *f, const struct pb_rep_view *v, char *err, size_t len)
{
	const struct pb_rep *r = v->r;
	const char *exp = pb_rep_manifest(&r->cells[0], "experiment");
	int rc;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
	fputs("prunebench report: ", f);
	h(f, exp ? exp : "results");
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>prunebench report: ", css);
	h(f, exp ? exp : "results");
	fputs("</h1>\n<p>Results folder <code>", f);
	h(f, r->dir);
	fprintf(f, "</code>: %d cells, %d done, <span class=\"%s\">%d failed</span>.  Made by prunebench "
		"%s (%s).</p>\n", r->n_cells, r->n_cells - r->n_failed, r->n_failed ? "fail" : "",
		r->n_failed, PB_VERSION, PB_GIT_REV);
	pb_rep_banners(f, 1, v);
	pb_rep_legend(f, 1, v);
	fputs("<p>Below each value is its change against the baseline: <span class=\"better\">blue"
	      "</span> is better, <span class=\"worse\">vermillion</span> worse (a change called real, "
	      "or an exact one), <span class=\"noise\">grey</span> not shown to differ, "
	      "<span class=\"neutral\">dark grey</span> a plain difference.  A dash means the results do "
	      "not have that value.</p>\n", f);
	fputs("<nav><ul>\n", f);
	for (int k = 0; k < v->n_groups; k++) {
		fprintf(f, "<li><a href=\"#g%d\">", k + 1);
		h(f, v->groups[k].model);
		fputs(" × ", f);
		h(f, v->groups[k].dataset);
		fputs(" × ", f);
		h(f, v->groups[k].backend);
		fputs("</a></li>\n", f);
	}
	if (pb_rep_has_remote(r))
		fputs("<li><a href=\"#serving\">serving: end to end</a></li>\n", f);
	fputs("<li><a href=\"#probes\">probe readings over time</a></li>\n", f);
	if (r->n_failed)
		fputs("<li><a href=\"#failed\">failed cells</a></li>\n", f);
	fputs("<li><a href=\"#machine\">machine and versions</a></li>\n"
	      "<li><a href=\"#config\">configuration</a></li>\n</ul></nav>\n", f);

	for (int k = 0; k < v->n_groups; k++) {
		const struct pb_rep_group *g = &v->groups[k];
		fprintf(f, "<section>\n<h2 id=\"g%d\">", k + 1);
		h(f, g->model);
		fputs(" × ", f);
		h(f, g->dataset);
		fputs(" × ", f);
		h(f, g->backend);
		fputs("</h2>\n<p>", f);
		if (g->baseline >= 0) {
			const struct pb_rep_cell *b = &r->cells[g->baseline];
			fputs("Baseline: <b>", f);
			h(f, b->pruner);
			fputs("</b> (<code>", f);
			h(f, b->id);
			fprintf(f, "</code>, %d requests, %d round%s).", b->n_req, b->n_rounds,
				b->n_rounds == 1 ? "" : "s");
		} else {
			fputs("No baseline chain in this group: values only, no changes.", f);
		}
		fputs("</p>\n", f);
		pb_rep_group_tables(f, 1, v, g);
		pb_chart_latency_box(f, v, g);
		pb_chart_ttft_tpot(f, v, g);
		pb_chart_acc_sparsity(f, v, g);
		pb_chart_acc_removed(f, v, g);
		pb_chart_acc_bits(f, v, g);
		pb_chart_acc_speedup(f, v, g);
		pb_chart_energy(f, v, g);
		fputs("</section>\n", f);
	}
	pb_rep_serving(f, 1, v);
	fputs("<section>\n<h2 id=\"probes\">Probe readings over time</h2>\n", f);
	if ((rc = pb_chart_probes(f, v, err, len)) < 0)
		return rc;
	fputs("</section>\n", f);
	failed_cells(f, r);
	machine(f, r);
	configuration(f, r);
	fputs("</body>\n</html>\n", f);
	return 0;
}

typedef int (*writer_fn)(FILE *f, const struct pb_rep_view *v, char *err, size_t len);

static int write_md(FILE *f, const struct pb_rep_view *v, char *err, size_t len)
{
	(void)err, (void)len;
	pb_rep_tables_md(f, v);
	return 0;
}

/* effects.csv: every comparison of the report, one row each, for scripts
 * (the A/A study, comparing two runs of an experiment). */
static int write_effects(FILE *f, const struct pb_rep_view *v, char *err, size_t len)
{
	(void)err, (void)len;
	fputs("model,dataset,backend,chain,reference,metric,aa_control,rounds,effect_pct,"
	      "ci_low_pct,ci_high_pct,p,p_bh,verdict,contended,rounds_excluded,min_effect_pct\n", f);
	for (int i = 0; i < v->n_cmps; i++) {
		const struct pb_rep_cmp *c = &v->cmps[i];
		const struct pb_rep_cell *a = &v->r->cells[c->cell], *b = &v->r->cells[c->ref];
		const char *verdict = isnan(c->p_adj) ? "no test" : c->real ? "real" : "n.s.";
		/* names are experiment axis names: no commas or quotes (validate) */
		fprintf(f, "%s,%s,%s,%s,%s,%s,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%s,%d,%d,%g\n", a->model,
			a->dataset, a->backend, a->pruner, b->pruner, c->col, c->aa, c->e.n,
			c->e.pct, c->e.lo_pct, c->e.hi_pct, pb_min_effect_p(&c->e, v->r->min_effect_pct),
			c->p_adj, verdict, c->contended, c->excluded, v->r->min_effect_pct);
	}
	return 0;
}

/* Written next to the target and renamed into place: a reader never sees
 * half a report, and of two writers the last rename wins whole. */
static int write_via_tmp(const char *path, writer_fn fn, const struct pb_rep_view *v,
			 char *err, size_t len)
{
	char tmp[4200];
	/* per process: Slurm shards may run `run --report` at the same time */
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return pb_errf(err, len, -errno, "%s: %s", tmp, strerror(errno));
	errno = 0;
	int rc = fn(f, v, err, len);
	/* the flush surfaces a buffered ENOSPC with its errno */
	if (!rc && (fflush(f) != 0 || ferror(f))) {
		rc = pb_io_errno();
		rc = pb_errf(err, len, rc, "%s: cannot write: %s", tmp, strerror(-rc));
	}
	if (fclose(f) != 0 && !rc)
		rc = pb_errf(err, len, -errno, "%s: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path) < 0)
		rc = pb_errf(err, len, -errno, "%s: %s", path, strerror(errno));
	if (rc)
		remove(tmp);
	return rc;
}

int pb_report_write(const struct pb_report_opts *o, char *err, size_t len)
{
	struct pb_rep *r = NULL;
	struct pb_rep_view v;
	char dir[4096], path[4200];
	int rc;

	if ((rc = pb_rep_load(o->results_dir, &r, err, len)) < 0)
		return rc;
	if (o->min_effect_given)
		r->min_effect_pct = o->min_effect_pct;
	if ((rc = pb_rep_view_build(r, o->baseline, o->cell, &v, err, len)) < 0)
		goto out_r;
	if (pb_path_join(dir, sizeof dir, o->out_dir ? o->out_dir : o->results_dir, "report") < 0) {
		rc = pb_errf(err, len, -ENAMETOOLONG, "output path too long");
		goto out;
	}
	if ((rc = pb_mkdir_p(dir)) < 0) {
		rc = pb_errf(err, len, rc, "%s: %s", dir, strerror(-rc));
		goto out;
	}
	snprintf(path, sizeof path, "%s/tables.md", dir);
	if ((rc = write_via_tmp(path, write_md, &v, err, len)) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/effects.csv", dir);
	if ((rc = write_via_tmp(path, write_effects, &v, err, len)) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/index.html", dir);
	rc = write_via_tmp(path, write_html, &v, err, len);
out:
	pb_rep_view_free(&v);
out_r:
	pb_rep_free(r);
	return rc;
}

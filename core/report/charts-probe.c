/* core/report/charts-probe.c — one cell's probe readings over time
 * (probes.csv): power, temperature, CPU and memory as stacked panels on
 * one time axis, with the pipeline's phases shaded behind them so a
 * reader sees what the machine did in each phase. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

/* Phase colours: fixed per name, so every report shades alike. */
static const char *const phase_order[] = {
	"load", "compress", "calibrate", "warmup", "prefill", "encode", "decode", "score", "idle",
};
static const char *const phase_fill[] = {
	"#999999", "#CC79A7", "#F0E442", "#56B4E9", "#0072B2", "#009E73", "#E69F00", "#D55E00",
	"#000000",
};

static const char *fill_of(const char *phase)
{
	for (size_t i = 0; i < PB_ARRAY_LEN(phase_order); i++)
		if (!strcmp(phase, phase_order[i]))
			return phase_fill[i];
	return "#777777";
}

struct panel {
	const struct pb_rep_series *s;
	int derive;             /* power from an energy counter: dE/dt */
	double scale;           /* bytes → MiB */
	char ylabel[160];
};

static const struct pb_rep_series *find(const struct pb_rep_series *s, int n, const char *channel,
					 const char *unit)
{
	for (int i = 0; i < n; i++)
		if (channel ? !strcmp(s[i].channel, channel) : !strcmp(s[i].unit, unit))
			return s[i].n >= 2 ? &s[i] : NULL;
	return NULL;
}

static int pick_panels(const struct pb_rep_series *s, int n, struct panel *p)
{
	int np = 0;
	const struct pb_rep_series *x;
	if ((x = find(s, n, NULL, "W"))) {
		p[np] = (struct panel){ x, 0, 1, "" };
		snprintf(p[np++].ylabel, sizeof p->ylabel, "power (W)");
	} else if ((x = find(s, n, NULL, "J"))) {
		p[np] = (struct panel){ x, 1, 1, "" };
		snprintf(p[np++].ylabel, sizeof p->ylabel, "power (W)");
	}
	if ((x = find(s, n, NULL, "C"))) {
		p[np] = (struct panel){ x, 0, 1, "" };
		snprintf(p[np++].ylabel, sizeof p->ylabel, "temperature (°C)");
	}
	if ((x = find(s, n, "proc_cpu_pct", NULL)) || (x = find(s, n, NULL, "%"))) {
		p[np] = (struct panel){ x, 0, 1, "" };
		snprintf(p[np++].ylabel, sizeof p->ylabel, "CPU (%%)");
	}
	if ((x = find(s, n, "rss_bytes", NULL)) || (x = find(s, n, NULL, "bytes"))) {
		p[np] = (struct panel){ x, 0, 1.0 / (1024 * 1024), "" };
		snprintf(p[np++].ylabel, sizeof p->ylabel, "memory (MiB)");
	}
	return np;
}

/* The panel's k-th point; 0 when there is none (a derived power needs two
 * readings and time between them). */
static int point(const struct panel *p, int k, double t0, double *x, double *y)
{
	const struct pb_rep_series *s = p->s;
	if (p->derive) {
		if (k == 0)
			return 0;
		double dt = (s->t_ms[k] - s->t_ms[k - 1]) / 1e3;
		if (!(dt > 0) || isnan(s->v[k]) || isnan(s->v[k - 1]))
			return 0;
		*x = (s->t_ms[k] - t0) / 1e3;
		*y = (s->v[k] - s->v[k - 1]) / dt;
		return isfinite(*y);
	}
	*x = (s->t_ms[k] - t0) / 1e3;
	*y = s->v[k] * p->scale;
	return !isnan(*y);
}

static void shade(FILE *f, const struct pb_plot *pl, const struct pb_rep_series *ref,
		  char **phases, double t0, unsigned *seen)
{
	int k = 0;
	while (k < ref->n) {
		int j = k;
		while (j + 1 < ref->n && ref->phase[j + 1] == ref->phase[k])
			j++;
		double a = (ref->t_ms[k] - t0) / 1e3;
		double b = (ref->t_ms[j + 1 < ref->n ? j + 1 : j] - t0) / 1e3;
		const char *name = phases[ref->phase[k]];
		if (b > a)
			fprintf(f, "<rect class=\"phase\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
				"fill=\"%s\"/>\n", pb_px(pl, a), pl->t, pb_px(pl, b) - pb_px(pl, a),
				pl->h - pl->t - pl->b, fill_of(name));
		if (ref->phase[k] < 32)
			*seen |= 1u << ref->phase[k];
		k = j + 1;
	}
}

int pb_chart_probes(FILE *f, const struct pb_rep_view *v, char *err, size_t len)
{
	struct pb_rep_series *s = NULL;
	char **phases = NULL;
	int ns = 0, nph = 0, rc;
	struct panel pan[4];
	char title[600];

	if (v->series_cell < 0) {
		fputs("<p class=\"note\">Probe readings over time: no cell has probes.csv.</p>\n", f);
		return 0;
	}
	const struct pb_rep_cell *c = &v->r->cells[v->series_cell];
	rc = pb_rep_load_series(c, &s, &ns, &phases, &nph, err, len);
	if (rc == -ENOENT) {
		fputs("<p class=\"note\">Probe readings over time: the cell has no probes.csv.</p>\n", f);
		return 0;
	}
	if (rc < 0)
		return rc;
	int np = pick_panels(s, ns, pan);
	if (!np) {
		fputs("<p class=\"note\">Probe readings over time: no power, temperature, CPU or memory "
		      "channel with two readings or more.</p>\n", f);
		goto out;
	}
	/* the time axis: the longest series, whose phases are shaded */
	const struct pb_rep_series *ref = &s[0];
	double t0 = INFINITY, t1 = -INFINITY;
	for (int i = 0; i < ns; i++) {
		if (s[i].n > ref->n)
			ref = &s[i];
		for (int k = 0; k < s[i].n; k++)
			t0 = fmin(t0, s[i].t_ms[k]), t1 = fmax(t1, s[i].t_ms[k]);
	}
	const double ph = 150, top = 34, gap = 26, bottom = 48;
	double h = top + np * ph + (np - 1) * gap + bottom;
	snprintf(title, sizeof title, "Probe readings over time — %s", c->id);
	pb_svg_begin(f, 760, h, title);
	unsigned seen = 0;
	for (int q = 0; q < np; q++) {
		struct pb_plot pl = { .f = f, .w = 760, .h = h, .l = 66, .r = 200 };
		pl.t = top + q * (ph + gap);
		pl.b = h - pl.t - ph;
		pl.x0 = 0, pl.x1 = (t1 - t0) / 1e3;
		pl.y0 = INFINITY, pl.y1 = -INFINITY;
		double x, y;
		for (int k = 0; k < pan[q].s->n; k++)
			if (point(&pan[q], k, t0, &x, &y))
				pl.y0 = fmin(pl.y0, y), pl.y1 = fmax(pl.y1, y);
		pb_plot_range(&pl.x0, &pl.x1, 0, 1);
		pb_plot_range(&pl.y0, &pl.y1, 0.08, 0);
		shade(f, &pl, ref, phases, t0, &seen);
		struct pb_plot axes = pl;
		if (q != np - 1)
			axes.h = pl.h;     /* x label only under the last panel */
		pb_plot_axes(&axes, q == np - 1 ? "time since the cell started (s)" : "", pan[q].ylabel,
			     NULL, 0);
		char what[200];
		snprintf(what, sizeof what, "%s%s", pan[q].derive ? "d/dt of " : "", pan[q].s->channel);
		pb_svg_text(f, pl.w - pl.r - 6, pl.t + 13, "end", "tick", what);
		fputs("<path class=\"line series\" stroke=\"#000000\" d=\"", f);
		int first = 1;
		for (int k = 0; k < pan[q].s->n; k++)
			if (point(&pan[q], k, t0, &x, &y)) {
				fprintf(f, "%c%.1f %.1f", first ? 'M' : 'L', pb_px(&pl, x), pb_py(&pl, y));
				first = 0;
			}
		fputs("\"><title>", f);
		pb_html_puts(f, pan[q].ylabel);
		fputs("</title></path>\n", f);
	}
	struct pb_legend_item leg[32];
	int nl = 0;
	for (int i = 0; i < nph && i < 32; i++)
		if (seen & (1u << i))
			leg[nl++] = (struct pb_legend_item){ phases[i], fill_of(phases[i]), -1, 0 };
	struct pb_plot lp = { .f = f, .w = 760, .h = h, .r = 200, .t = top };
	fputs("<g class=\"phase-legend\">", f);
	pb_plot_legend(&lp, leg, nl);
	fputs("</g>\n", f);
	pb_svg_end(f);
	fputs("<figcaption>The readings of cell <code>", f);
	pb_html_puts(f, c->id);
	fputs("</code> as the sampler stamped them; the shading shows the phase the pipeline was in "
	      "(prefill and decode alternate for every request).  Choose another cell with "
	      "<code>--cell ID</code>.</figcaption>\n</figure>\n", f);
out:
	pb_rep_series_free(s, ns, phases, nph);
	return 0;
}

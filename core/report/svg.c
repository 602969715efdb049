/* core/report/svg.c — a small SVG toolkit for the report's charts: linear
 * scales with "nice" ticks, axes with units, markers that differ in shape
 * as well as colour, and legends.  The palette is Okabe & Ito's
 * colour-blind-safe eight (yellow late: it is faint on white). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report-internal.h"
#include "util/util.h"

const char *const pb_palette[8] = {
	"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
};

void pb_svg_begin(FILE *f, double w, double h, const char *title)
{
	fprintf(f, "<figure>\n<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
		"role=\"img\"><title>", w, h, w, h);
	pb_html_puts(f, title);
	fputs("</title>\n", f);
	pb_svg_text(f, 10, 18, "start", "ttl", title);
}

void pb_svg_end(FILE *f)
{
	fputs("</svg>\n", f);
}

void pb_shorten(char *out, size_t len, const char *s, int max)
{
	int chars = 0;
	size_t i = 0, o = 0;
	while (s[i] && o + 4 < len) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max)
			break;
		out[o++] = s[i++];
	}
	/* cut: back off to a character boundary and add an ellipsis */
	if (s[i]) {
		while (o > 0 && ((unsigned char)s[o] & 0xc0) == 0x80)
			o--;
		if (o + 4 <= len) {
			memcpy(out + o, "…", 3);
			o += 3;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

void pb_svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s%s>", x, y, anchor,
		cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	pb_html_puts(f, s);
	fputs("</text>\n", f);
}

static double nice_step(double range, int target)
{
	if (!(range > 0))
		return 1;
	double raw = range / target, mag = pow(10, floor(log10(raw))), fr = raw / mag;
	return (fr < 1.5 ? 1 : fr < 3 ? 2 : fr < 7 ? 5 : 10) * mag;
}

void pb_plot_range(double *lo, double *hi, double pad_frac, int from_zero)
{
	if (!isfinite(*lo) || !isfinite(*hi)) {
		*lo = 0;
		*hi = 1;
	}
	if (from_zero && *lo > 0)
		*lo = 0;
	if (from_zero && *hi < 0)
		*hi = 0;
	if (*hi - *lo <= 0) {
		double d = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1;
		*lo -= from_zero && *lo == 0 ? 0 : d;
		*hi += d;
	}
	double pad = (*hi - *lo) * pad_frac;
	int nonneg = *lo >= 0;
	if (!(from_zero && *lo == 0))
		*lo -= pad;
	if (nonneg && *lo < 0)
		*lo = 0;     /* latencies, energies: no axis below zero */
	*hi += pad;
	double step = nice_step(*hi - *lo, 5);
	*lo = floor(*lo / step + 1e-9) * step;
	*hi = ceil(*hi / step - 1e-9) * step;
}

double pb_px(const struct pb_plot *p, double x)
{
	return p->l + (x - p->x0) / (p->x1 - p->x0) * (p->w - p->l - p->r);
}

void pb_plot_logy(struct pb_plot *p, double lo, double hi)
{
	p->ylog = 1;
	p->y0 = floor(log10(lo));
	p->y1 = ceil(log10(hi));
	if (p->y1 <= p->y0)
		p->y1 = p->y0 + 1;
}

double pb_py(const struct pb_plot *p, double y)
{
	if (p->ylog)
		y = y > 0 ? log10(y) : p->y0;
	return p->h - p->b - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->t - p->b);
}

static void tick_label(char *buf, size_t len, double v, double step)
{
	int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (fabs(v) < step * 1e-6)
		v = 0;
	if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-4))
		snprintf(buf, len, "%.3g", v);
	else
		snprintf(buf, len, "%.*f", dec > 6 ? 6 : dec, v);
}

void pb_plot_axes(struct pb_plot *p, const char *xlabel, const char *ylabel,
		  const char *const *xcats, int ncat)
{
	FILE *f = p->f;
	char buf[64];
	double xl = p->l, xr = p->w - p->r, yt = p->t, yb = p->h - p->b;

	fputs("<g class=\"axes\">\n", f);
	/* log axis: a line at every decade, labelled 1, 10, 100, ... */
	for (int e = (int)p->y0; p->ylog && e <= (int)p->y1; e++) {
		double py = pb_py(p, pow(10, e));
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			xl, py, xr, py);
		snprintf(buf, sizeof buf, "%g", pow(10, e));
		pb_svg_text(f, xl - 6, py + 4, "end", "tick", buf);
	}
	double ys = nice_step(p->y1 - p->y0, 5);
	for (double y = ceil(p->y0 / ys - 1e-9) * ys; !p->ylog && y <= p->y1 + ys * 1e-9; y += ys) {
		double py = pb_py(p, y);
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			xl, py, xr, py);
		tick_label(buf, sizeof buf, y, ys);
		pb_svg_text(f, xl - 6, py + 4, "end", "tick", buf);
	}
	if (xcats) {
		int rot = ncat > 4;
		for (int i = 0; i < ncat; i++) {
			char lab[64];
			double px = pb_px(p, i);
			pb_shorten(lab, sizeof lab, xcats[i], 26);
			if (rot) {
				fprintf(f, "<text class=\"tick\" text-anchor=\"end\" transform=\"translate(%.1f %.1f) "
					"rotate(-30)\">", px + 4, yb + 14);
				pb_html_puts(f, lab);
				fputs("</text>\n", f);
			} else {
				pb_svg_text(f, px, yb + 16, "middle", "tick", lab);
			}
		}
	} else {
		double xs = nice_step(p->x1 - p->x0, 6);
		for (double x = ceil(p->x0 / xs - 1e-9) * xs; x <= p->x1 + xs * 1e-9; x += xs) {
			double px = pb_px(p, x);
			fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
				px, yt, px, yb);
			tick_label(buf, sizeof buf, x, xs);
			pb_svg_text(f, px, yb + 16, "middle", "tick", buf);
		}
	}
	fprintf(f, "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\"/>\n", xl, yt, yb, xr);
	pb_svg_text(f, (xl + xr) / 2, p->h - 8, "middle", "lab", xlabel);
	fprintf(f, "<text class=\"lab\" text-anchor=\"middle\" transform=\"translate(14 %.1f) rotate(-90)\">",
		(yt + yb) / 2);
	pb_html_puts(f, ylabel);
	fputs("</text>\n</g>\n", f);
}

void pb_plot_marker(FILE *f, int shape, double cx, double cy, double r, const char *color, int hollow)
{
	char style[96];
	snprintf(style, sizeof style, hollow ? "fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"" :
		 "fill=\"%s\"", color);
	switch (((shape % 5) + 5) % 5) {
	case 0:
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" %s/>\n", cx, cy, r, style);
		break;
	case 1:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" %s/>\n",
			cx - r * 0.9, cy - r * 0.9, r * 1.8, r * 1.8, style);
		break;
	case 2:
		fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" %s/>\n", cx, cy - r * 1.2,
			cx + r * 1.1, cy + r * 0.8, cx - r * 1.1, cy + r * 0.8, style);
		break;
	case 3:
		fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" %s/>\n", cx, cy - r * 1.3,
			cx + r * 1.1, cy, cx, cy + r * 1.3, cx - r * 1.1, cy, style);
		break;
	default:
		fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" %s/>\n", cx, cy + r * 1.2,
			cx + r * 1.1, cy - r * 0.8, cx - r * 1.1, cy - r * 0.8, style);
	}
}

void pb_plot_legend(const struct pb_plot *p, const struct pb_legend_item *it, int n)
{
	FILE *f = p->f;
	double x = p->w - p->r + 14, y = p->t + 6;
	char lab[64];

	fputs("<g class=\"legend\">\n", f);
	for (int i = 0; i < n; i++, y += 17) {
		if (it[i].shape == -1)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" fill=\"%s\"/>\n",
				x, y - 5.5, it[i].color);
		else if (it[i].shape == -2)
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"2\"%s/>\n", x - 2, y, x + 13, y, it[i].color,
				it[i].dashed ? " stroke-dasharray=\"4 3\"" : "");
		else
			pb_plot_marker(f, it[i].shape, x + 5.5, y, 4.5, it[i].color, 0);
		pb_shorten(lab, sizeof lab, it[i].label, 24);
		pb_svg_text(f, x + 18, y + 4, "start", "leg", lab);
	}
	fputs("</g>\n", f);
}

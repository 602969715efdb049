/* core/report/report-internal.h — what the files of core/report share:
 * loading helpers, groups and metric definitions, number formatting and
 * the SVG toolkit.  Not for other rooms (they use report.h). */
#ifndef PB_REPORT_INTERNAL_H
#define PB_REPORT_INTERNAL_H

#include "report/report.h"

/* ---- load.c, load-cell.c */
yaml_node_t *pb_rep_yaml_get(yaml_document_t *d, yaml_node_t *n, const char *key);
int pb_rep_parse_num(const char *s, double *v);   /* "" → NAN, 0; junk → -EINVAL */
int pb_rep_read_summary(struct pb_rep_cell *c, const char *path, char *err, size_t len);
int pb_rep_read_requests(struct pb_rep_cell *c, char *err, size_t len);
int pb_rep_read_tensors(struct pb_rep_cell *c, char *err, size_t len);
int pb_rep_read_phases(struct pb_rep_cell *c, char *err, size_t len);

/* ---- model.c: metrics */
enum pb_rep_fmt {
	PB_F_NUM,       /* 4 significant digits */
	PB_F_SI,        /* 24.41 M */
	PB_F_MIB,       /* bytes shown in MiB */
	PB_F_PCT,       /* a fraction shown in % */
	PB_F_TEXT,      /* a string column */
};

struct pb_rep_group;
struct pb_rep_metric {
	const char *col;        /* summary.csv column */
	const char *head;       /* table header (unit included) */
	enum pb_rep_fmt fmt;
	int sample;             /* PB_S_* whose samples judge noise, or -1 */
	int delta;              /* show the change against the baseline */
	int better;             /* -1 lower is better, +1 higher, 0 neither */
	/* special value (derived or aggregated); NULL: the column */
	double (*get)(const struct pb_rep *r, const struct pb_rep_group *g,
		      const struct pb_rep_cell *c, const struct pb_rep_metric *m);
	const char *(*text)(const struct pb_rep_cell *c);   /* PB_F_TEXT */
};

#define PB_REP_MAX_ENERGY 4
struct pb_rep_table {
	const char *title;
	struct pb_rep_metric m[16];
	int n;
};

struct pb_rep_group {
	const char *model, *dataset, *backend;   /* borrowed from the first cell */
	int *cells;             /* indices into pb_rep.cells: done cells, baseline first */
	int n;
	int baseline;           /* index into pb_rep.cells, or -1 */
	char energy[PB_REP_MAX_ENERGY][96];      /* energy channels of the group */
	char energy_col[PB_REP_MAX_ENERGY][2][160];   /* per-token, mean-power columns */
	char energy_head[PB_REP_MAX_ENERGY][2][160];
	int n_energy;
	struct pb_rep_table *tables;
	int n_tables;
	const char *acc_col, *acc_title;   /* accuracy used in the charts; NULL: none */
	int acc_better;
};

struct pb_rep_view {          /* the whole report's structure */
	struct pb_rep *r;
	struct pb_rep_group *groups;
	int n_groups;
	const char *baseline_name;   /* NULL: dense */
	int series_cell;             /* cell plotted over time, or -1 */
};

int pb_rep_view_build(struct pb_rep *r, const char *baseline, const char *cell,
		      struct pb_rep_view *v, char *err, size_t len);
void pb_rep_view_free(struct pb_rep_view *v);
/* A summary column the report reads, so load checks it is a number. */
int pb_rep_col_used(const char *col);

/* Value of metric m for cell c (NAN when absent). */
double pb_rep_metric_value(const struct pb_rep *r, const struct pb_rep_group *g,
			   const struct pb_rep_cell *c, const struct pb_rep_metric *m);
/* A table cell: value text, change text, noise verdict and direction. */
struct pb_rep_cellfmt {
	char value[256];
	char change[48];            /* "" when none */
	enum pb_noise noise;
	int sign;                   /* +1 better, -1 worse, 0 neither/unknown */
};
void pb_rep_format(const struct pb_rep *r, const struct pb_rep_group *g, const struct pb_rep_cell *c,
		   const struct pb_rep_metric *m, struct pb_rep_cellfmt *out);
void pb_rep_fmt_num(char *buf, size_t len, double v, enum pb_rep_fmt f);
/* Any cell of g has a value for m. */
int pb_rep_metric_present(const struct pb_rep *r, const struct pb_rep_group *g,
			  const struct pb_rep_metric *m);

/* ---- tables.c */
void pb_rep_tables_md(FILE *f, const struct pb_rep_view *v);
void pb_rep_tables_html(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);

/* ---- svg.c */
extern const char *const pb_palette[8];
struct pb_plot {
	FILE *f;
	double w, h;                  /* whole figure, px */
	double l, r, t, b;            /* plot area margins, px */
	double x0, x1, y0, y1;        /* data range (y: log10 of it when ylog) */
	int ylog;
};
/* A log10 y axis over whole decades covering [lo, hi] (both > 0). */
void pb_plot_logy(struct pb_plot *p, double lo, double hi);
void pb_svg_begin(FILE *f, double w, double h, const char *title);
void pb_svg_end(FILE *f);
void pb_plot_range(double *lo, double *hi, double pad_frac, int from_zero);
double pb_px(const struct pb_plot *p, double x);
double pb_py(const struct pb_plot *p, double y);
/* Grid, ticks and labels; xcats: category labels at 0..ncat-1 instead of
 * numeric x ticks (NULL: numeric). */
void pb_plot_axes(struct pb_plot *p, const char *xlabel, const char *ylabel,
		  const char *const *xcats, int ncat);
void pb_plot_marker(FILE *f, int shape, double cx, double cy, double r, const char *color,
		    int hollow);
struct pb_legend_item {
	const char *label;
	const char *color;
	int shape;        /* -1: a filled square swatch, -2: a line */
	int dashed;
};
void pb_plot_legend(const struct pb_plot *p, const struct pb_legend_item *it, int n);
void pb_svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *s);
/* s cut to at most max characters (UTF-8 aware), "…" appended when cut */
void pb_shorten(char *out, size_t len, const char *s, int max);

/* ---- charts.c, charts-probe.c: each writes one <figure>, or a note
 * saying why the chart is not there (the data is absent) */
void pb_chart_latency_box(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_ttft_tpot(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_acc_sparsity(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_acc_speedup(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_energy(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
int pb_chart_probes(FILE *f, const struct pb_rep_view *v, char *err, size_t len);

/* chain label of a cell in charts and tables */
const char *pb_rep_label(const struct pb_rep_group *g, const struct pb_rep_cell *c);
double pb_rep_speedup(const struct pb_rep *r, const struct pb_rep_group *g, const struct pb_rep_cell *c);

#endif

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
int pb_rep_read_rounds(struct pb_rep_cell *c, char *err, size_t len);

/* ---- model.c: metrics */
enum pb_rep_fmt {
	PB_F_NUM,       /* 4 significant digits */
	PB_F_SI,        /* 24.41 M */
	PB_F_MIB,       /* bytes shown in MiB */
	PB_F_PCT,       /* a fraction shown in % */
	PB_F_TEXT,      /* a string column */
};

/* How a change against the baseline is judged. */
enum pb_rep_kind {
	PB_K_PLAIN = 0,   /* a plain difference of pooled values, not tested */
	PB_K_TESTED,      /* timed: the paired round test on the column's per-round values */
	PB_K_EXACT,       /* deterministic (identical in every round): an exact difference */
};

struct pb_rep_group;
struct pb_rep_metric {
	const char *col;        /* summary.csv (and rounds.csv) column */
	const char *head;       /* table header (unit included) */
	enum pb_rep_fmt fmt;
	enum pb_rep_kind kind;
	int delta;              /* show the change against the baseline */
	int better;             /* -1 lower is better, +1 higher, 0 neither */
	/* special value (derived or aggregated); NULL: the column */
	double (*get)(const struct pb_rep *r, const struct pb_rep_group *g,
		      const struct pb_rep_cell *c, const struct pb_rep_metric *m);
	const char *(*text)(const struct pb_rep_cell *c);   /* PB_F_TEXT */
};

#define PB_REP_MAX_ENERGY 4
/* A manifest nests 4 levels; anything past this is not one of ours. */
#define PB_REP_MAX_DEPTH 64
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
	const char *rss_col;    /* rss_peak_bytes_measure when the cells have it */
	int max_rounds;         /* most rounds of a cell of the group */
	int synthetic;          /* a cell has synthetic_weights = 1 */
	int has_aa;             /* an A/A twin is in the group */
};

/* One comparison: a chain's cell against its reference (the group's
 * baseline; for an A/A twin, the chain it repeats) on one tested metric,
 * paired by round. */
struct pb_rep_cmp {
	int group, cell, ref;       /* indices into pb_rep.cells */
	const char *col, *head;     /* borrowed from the group's tables */
	int better;
	int aa;                     /* the A/A twin against its original */
	int contended;              /* the test includes contended rounds (too few clean
				     * ones to leave them out), or the cell ran contended */
	int excluded;               /* contended rounds left out of the test */
	struct pb_effect e;
	double p_adj;               /* BH-adjusted p; NAN when not tested */
	int real;                   /* rejected by BH at PB_REP_FDR_Q */
};

struct pb_rep_view {          /* the whole report's structure */
	struct pb_rep *r;
	struct pb_rep_group *groups;
	int n_groups;
	const char *baseline_name;   /* NULL: dense */
	int series_cell;             /* cell plotted over time, or -1 */
	struct pb_rep_cmp *cmps;     /* every comparison of the report */
	int n_cmps, n_tested, n_real, n_aa_tested, n_aa_real;
	int n_contended;             /* done cells measured contended */
};

/* ---- compare.c */
int pb_rep_compare(struct pb_rep_view *v);   /* fills v->cmps; 0 or -ENOMEM */
/* The comparison of cell (index) on column col, or NULL. */
const struct pb_rep_cmp *pb_rep_cmp_find(const struct pb_rep_view *v, int cell, const char *col);
/* The A/A twin's comparison on col in group g (the noise floor), or NULL. */
const struct pb_rep_cmp *pb_rep_cmp_aa(const struct pb_rep_view *v, const struct pb_rep_group *g,
				       const char *col);
/* The cell a chain is compared with: its A/A original, else the baseline;
 * -1 when none (or c is that cell). */
int pb_rep_ref_of(const struct pb_rep_view *v, const struct pb_rep_group *g, int cell);
/* "+20.1 % [+18.0, +22.3]" */
void pb_rep_fmt_effect(char *buf, size_t len, const struct pb_effect *e);

int pb_rep_view_build(struct pb_rep *r, const char *baseline, const char *cell,
		      struct pb_rep_view *v, char *err, size_t len);
void pb_rep_view_free(struct pb_rep_view *v);
/* A summary column the report reads, so load checks it is a number. */
int pb_rep_col_used(const char *col);

/* Value of metric m for cell c (NAN when absent). */
double pb_rep_metric_value(const struct pb_rep *r, const struct pb_rep_group *g,
			   const struct pb_rep_cell *c, const struct pb_rep_metric *m);
/* A table cell: value text, change text, verdict and direction. */
enum pb_rep_verdict {
	PB_V_NONE = 0,     /* no change shown, or a plain (untested) one */
	PB_V_EXACT,        /* deterministic: exact difference */
	PB_V_VARIES,       /* "deterministic" but the rounds disagree */
	PB_V_NO_TEST,      /* fewer than 2 paired rounds */
	PB_V_NOT_REAL,     /* tested, not rejected by BH */
	PB_V_REAL,         /* tested, rejected by BH: called real */
};
struct pb_rep_cellfmt {
	char value[256];
	char change[96];            /* "" when none */
	char aa[64];                /* the group's A/A floor for this metric, "" when none */
	enum pb_rep_verdict verdict;
	int contended;
	int sign;                   /* +1 better, -1 worse, 0 neither/unknown */
};
void pb_rep_format(const struct pb_rep_view *v, const struct pb_rep_group *g, int cell,
		   const struct pb_rep_metric *m, struct pb_rep_cellfmt *out);
/* the verdict's short mark in tables ("real", "exact", ...; "" none) */
const char *pb_rep_verdict_mark(enum pb_rep_verdict vd);
void pb_rep_fmt_num(char *buf, size_t len, double v, enum pb_rep_fmt f);
/* Any cell of g has a value for m. */
int pb_rep_metric_present(const struct pb_rep *r, const struct pb_rep_group *g,
			  const struct pb_rep_metric *m);

/* ---- tables.c */
void pb_rep_tables_md(FILE *f, const struct pb_rep_view *v);
/* html: 1 for index.html, 0 for Markdown */
void pb_rep_group_tables(FILE *f, int html, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_rep_banners(FILE *f, int html, const struct pb_rep_view *v);   /* A/A alarm, contention, tally */
void pb_rep_legend(FILE *f, int html, const struct pb_rep_view *v);    /* how changes are judged */

/* A table of plain text cells, as Markdown or HTML (tables.c's writer):
 * align 'l'/'r' per column (NULL: the first left, the rest right); a
 * row's first cell is its header. */
void pb_tbl_begin(FILE *f, int html, const char *caption, const char *const *head, int n,
		  const char *align);
void pb_tbl_row(FILE *f, int html, const char *const *cells, int n);
void pb_tbl_end(FILE *f, int html);

/* ---- serving.c: remote cells (issue 16): end to end vs in process,
 * latency by load and network, throughput vs offered load, goodput.
 * Nothing when the results have no remote cell. */
void pb_rep_serving(FILE *f, int html, const struct pb_rep_view *v);
void pb_chart_load(FILE *f, const struct pb_rep_view *v);
int pb_rep_has_remote(const struct pb_rep *r);

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
void pb_chart_acc_removed(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_acc_bits(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_acc_speedup(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
void pb_chart_energy(FILE *f, const struct pb_rep_view *v, const struct pb_rep_group *g);
int pb_chart_probes(FILE *f, const struct pb_rep_view *v, char *err, size_t len);

/* chain label of a cell in charts and tables */
const char *pb_rep_label(const struct pb_rep_group *g, const struct pb_rep_cell *c);
double pb_rep_speedup(const struct pb_rep *r, const struct pb_rep_group *g, const struct pb_rep_cell *c);

#endif

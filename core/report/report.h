/* core/report/report.h — `prunebench report`: a results folder (read as
 * untrusted input) turned into report/index.html (tables and inline SVG
 * charts, self-contained) and report/tables.md.
 *
 * Files of the room:
 *   load.c, load-cell.c   results folder → struct pb_rep (CSV via libcsv,
 *                         manifests via libyaml), strict: a bad file is an
 *                         error naming the file and line
 *   noise.c               Student's t, the paired log-ratio test over rounds,
 *                         Benjamini–Hochberg, box-plot statistics
 *   compare.c             every comparison of the report: chain vs baseline
 *                         per metric, paired by round, BH across them all
 *   model.c               groups (model × dataset × backend), baselines,
 *                         metric definitions, number formatting
 *   tables.c              the tables, as Markdown and as HTML
 *   svg.c, charts.c,      SVG primitives (scales, axes, legends, Okabe-Ito
 *   charts-probe.c        palette) and the charts
 *   page.c                the HTML page and the entry point pb_report_write
 *   escape.c              HTML and Markdown escaping
 * The structures below are the room's own; the CLI needs only
 * pb_report_write. */
#ifndef PB_REPORT_H
#define PB_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

struct pb_table;

struct pb_report_opts {
	const char *results_dir;   /* RESULTS_DIR */
	/* smallest effect of interest, % (`--min-effect`), used when
	 * min_effect_given; else the results' `min_effect_pct` column
	 * (experiment key `min_effect`), 0 when absent */
	int min_effect_given;
	double min_effect_pct;
	const char *out_dir;       /* writes <out_dir>/report/; NULL: results_dir */
	const char *baseline;      /* chain (pruner axis) name; NULL: the dense chain */
	const char *cell;          /* cell whose probe series is plotted; NULL: chosen */
};

/* Writes index.html and tables.md.  0, or -errno with err saying why
 * (file:line for bad input). */
int pb_report_write(const struct pb_report_opts *o, char *err, size_t len);

/* ---- statistics (noise.c) */

/* The regularized incomplete beta I_x(a, b) (continued fraction). */
double pb_betainc_reg(double a, double b, double x);
/* Student's t with df degrees of freedom: CDF, two-sided tail
 * P(|T| >= |t|), and the quantile (inverse CDF, p in (0, 1)). */
double pb_t_cdf(double t, double df);
double pb_t_p_two_sided(double t, double df);
double pb_t_quantile(double p, double df);

/* A paired comparison, the round its unit: d_r = ln(chain_r / base_r)
 * over the rounds where both values are > 0; effect 100 (exp(mean d) - 1)
 * %, its `level` t interval (df = n - 1) transformed the same way, and
 * the two-sided paired t test's p.  With n < 2, pct only (lo, hi, p NAN). */
struct pb_effect {
	int n;                      /* rounds paired */
	double mean_log, sd_log;
	double t, p;
	double pct, lo_pct, hi_pct;
};
int pb_paired_log_ratio(const double *base, const double *chain, int n, double level,
			struct pb_effect *e);   /* 0, or -EINVAL when no round pairs */
/* The minimum-effect test of a paired comparison: p of H0 "|mean log
 * ratio| ≤ ln(1 + min_pct/100)" (the effect lies within the band
 * [1/(1+δ), 1+δ] of ratios, δ = min_pct/100) against "it lies outside",
 * i.e. 2 × the smaller one-sided t tail beyond the band's edges, capped at
 * 1.  min_pct 0 gives e->p (the two-sided t test).  NAN with n < 2. */
double pb_min_effect_p(const struct pb_effect *e, double min_pct);

/* Benjamini–Hochberg at false-discovery rate q over the n p-values (NAN:
 * not a test, outside the family): reject[i] and the BH-adjusted p
 * (q-value; NAN for NAN).  Returns the number rejected or -ENOMEM. */
int pb_bh(const double *p, int n, double q, int *reject, double *p_adj);

/* The report's test: 95 % intervals, BH at q = 0.05 across all the
 * comparisons of one report. */
#define PB_REP_LEVEL 0.95
#define PB_REP_FDR_Q 0.05
/* Rounds in which either cell of a comparison ran contended are left out
 * of its test when at least this many clean rounds remain. */
#define PB_REP_MIN_CLEAN 3

/* Tukey box: quartiles by linear interpolation, whiskers at the furthest
 * values within 1.5 IQR of the box. */
struct pb_box {
	int n;
	double q1, median, q3, lo, hi, min, max, mean;
};
int pb_box_compute(const double *x, int n, struct pb_box *out);   /* NANs skipped; -EINVAL if none */

/* ---- escaping (escape.c) */
void pb_html_puts(FILE *f, const char *s);    /* & < > " ' escaped */
void pb_md_puts(FILE *f, const char *s);      /* Markdown table-safe: | \ * _ ` [ ] < > # escaped, newlines → space */

/* ---- the loaded results (load.c, load-cell.c) */

/* Per-request sample columns of requests.csv that the report uses. */
enum pb_rep_sample {
	PB_S_E2E, PB_S_TTFT, PB_S_TPOT, PB_S_PREFILL_TOK_S, PB_S_DECODE_TOK_S,
	PB_S_EXACT_MATCH, PB_S_TOKEN_F1, PB_S_ROUGE_L, PB_S_COUNT
};
extern const char *const pb_rep_sample_col[PB_S_COUNT];

struct pb_rep_series {        /* one channel of probes.csv */
	char *channel, *unit;
	int n;
	double *t_ms, *v;
	int *phase;               /* index into pb_rep_cell.phase_names */
};

struct pb_rep_cell {
	char *id, *model, *dataset, *pruner, *backend;
	char *dir;                /* cells/<id> */
	char *aa_of;              /* A/A twin: the chain it repeats; "" otherwise */
	int failed;
	char *reason, *log_tail;  /* failed cells */
	char *method;             /* chain steps joined by '+'; "" for no step */
	yaml_document_t doc;      /* manifest.yaml */
	int have_doc;
	struct pb_table *summary; /* one row (pooled over the rounds) */
	struct pb_table *rounds;  /* rounds.csv, rows in round order; NULL: an older
				   * folder, one round whose values are the summary's */
	int n_rounds;             /* rows of rounds, or 1 */
	int *round_no;            /* 1-based round of each row (NULL without rounds) */
	int n_req;
	double *samples[PB_S_COUNT];   /* n_req each; NAN when empty */
	double out_tokens;        /* sum of output_tokens */
	char formats[256];        /* executed formats of the linears, from tensors.csv */
	/* energy per phase (J) of the cell's first energy source, phases.csv */
	char energy_channel[96];
	double energy_prefill_j, energy_encode_j, energy_decode_j;
};

struct pb_rep {
	char *dir;
	struct pb_rep_cell *cells;
	int n_cells, n_failed;
	/* the smallest effect of interest, %: the largest `min_effect_pct`
	 * of the cells (experiment key `min_effect`; 0 when absent), or the
	 * report's --min-effect; effects within it are never called real */
	double min_effect_pct;
};

int pb_rep_load(const char *dir, struct pb_rep **out, char *err, size_t len);
void pb_rep_free(struct pb_rep *r);
/* The probe series of one cell (probes.csv), all channels.  0, -ENOENT when
 * the cell has no probes.csv, or -errno with err set. */
int pb_rep_load_series(const struct pb_rep_cell *c, struct pb_rep_series **out, int *n,
		       char ***phase_names, int *n_phases, char *err, size_t len);
void pb_rep_series_free(struct pb_rep_series *s, int n, char **phase_names, int n_phases);

/* A number from the cell's summary.csv (validated on load); NAN when the
 * column is absent or empty. */
double pb_rep_num(const struct pb_rep_cell *c, const char *col);
const char *pb_rep_str(const struct pb_rep_cell *c, const char *col);   /* "" when absent */
/* Round k (0-based row) of the cell: its number, and a number from that
 * round's row of rounds.csv (the summary's value for a folder without
 * rounds); NAN when absent. */
int pb_rep_round_no(const struct pb_rep_cell *c, int k);
double pb_rep_round_num(const struct pb_rep_cell *c, int k, const char *col);
/* Measured while other processes used the machine: summary `contended`
 * = 1, or any round's.  round_contended: round k's own flag. */
int pb_rep_contended(const struct pb_rep_cell *c);
int pb_rep_round_contended(const struct pb_rep_cell *c, int k);
/* A scalar of the manifest by dotted path ("host.cpu_model"); NULL if absent. */
const char *pb_rep_manifest(const struct pb_rep_cell *c, const char *path);
yaml_node_t *pb_rep_manifest_node(const struct pb_rep_cell *c, const char *path);

/* Line (1-based) where record `rec` (0: the header) of a CSV file starts,
 * counting quoted newlines; for error messages.  0 when unknown. */
int pb_csv_record_line(const char *path, int rec);

#endif

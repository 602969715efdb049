/* core/report/report.h — `prunebench report`: a results folder (read as
 * untrusted input) turned into report/index.html (tables and inline SVG
 * charts, self-contained) and report/tables.md.
 *
 * Files of the room:
 *   load.c, load-cell.c   results folder → struct pb_rep (CSV via libcsv,
 *                         manifests via libyaml), strict: a bad file is an
 *                         error naming the file and line
 *   noise.c               bootstrap CI of a difference of means, Mann-Whitney
 *                         U, box-plot statistics
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
	const char *out_dir;       /* writes <out_dir>/report/; NULL: results_dir */
	const char *baseline;      /* chain (pruner axis) name; NULL: the dense chain */
	const char *cell;          /* cell whose probe series is plotted; NULL: chosen */
};

/* Writes index.html and tables.md.  0, or -errno with err saying why
 * (file:line for bad input). */
int pb_report_write(const struct pb_report_opts *o, char *err, size_t len);

/* ---- statistics (noise.c) */

/* The two-sided `level` (e.g. 0.95) percentile bootstrap confidence
 * interval of mean(b) - mean(a): `iters` resamples of each side with
 * replacement, drawn from pb_rng seeded with `seed` (deterministic).
 * NAN entries are skipped.  0, or -EINVAL when a side has < 2 values. */
int pb_bootstrap_mean_diff(const double *a, int na, const double *b, int nb, int iters,
			   uint64_t seed, double level, double *lo, double *hi);
/* Two-sided Mann-Whitney U test (normal approximation with tie and
 * continuity correction).  p in [0, 1]; NAN when a side is empty. */
double pb_mann_whitney_p(const double *a, int na, const double *b, int nb);

/* Tukey box: quartiles by linear interpolation, whiskers at the furthest
 * values within 1.5 IQR of the box. */
struct pb_box {
	int n;
	double q1, median, q3, lo, hi, min, max, mean;
};
int pb_box_compute(const double *x, int n, struct pb_box *out);   /* NANs skipped; -EINVAL if none */

/* Noise verdict used by the tables: the 95 % bootstrap CI (2000
 * resamples, seed PB_REP_SEED) of mean(b) - mean(a) includes 0. */
#define PB_REP_SEED 20261121u
#define PB_REP_ITERS 2000
enum pb_noise { PB_NOISE_UNKNOWN = 0, PB_NOISE_WITHIN, PB_NOISE_BEYOND };
enum pb_noise pb_noise_judge(const double *a, int na, const double *b, int nb);

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
	int failed;
	char *reason, *log_tail;  /* failed cells */
	char *method;             /* chain steps joined by '+'; "" for no step */
	yaml_document_t doc;      /* manifest.yaml */
	int have_doc;
	struct pb_table *summary; /* one row */
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
/* A scalar of the manifest by dotted path ("host.cpu_model"); NULL if absent. */
const char *pb_rep_manifest(const struct pb_rep_cell *c, const char *path);
yaml_node_t *pb_rep_manifest_node(const struct pb_rep_cell *c, const char *path);

/* Line (1-based) where record `rec` (0: the header) of a CSV file starts,
 * counting quoted newlines; for error messages.  0 when unknown. */
int pb_csv_record_line(const char *path, int rec);

#endif

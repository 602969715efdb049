/* core/results/results.h — CSV (through libcsv), summary rows, manifests,
 * cell folders and the merge.
 *
 * Layout (DESIGN.md "Results"):
 *   <output>/experiment.yaml             copy of the input, byte for byte
 *   <output>/cells/<id>/                 a complete cell (done or failed)
 *   <output>/cells/<id>.tmp/             a cell being written; never read as done
 *   <output>/summary.csv                 merge of every cell's summary.csv
 * A cell folder holds manifest.yaml, requests.csv, probes.csv, phases.csv,
 * tensors.csv, summary.csv and run.log.  manifest.yaml's `status` is `done`
 * or `failed`; a failed cell also has `reason`.
 */
#ifndef PB_RESULTS_H
#define PB_RESULTS_H

#include <stdarg.h>
#include <stdio.h>

/* ---- CSV writer: RFC 4180 quoting by libcsv's csv_fwrite */
struct pb_csv;
/* Creates path and writes the header.  NULL with errno set on failure. */
struct pb_csv *pb_csv_create(const char *path, const char *const *header, int ncols);
/* ncols fields; a NULL field is written empty. 0 or -errno. */
int pb_csv_row(struct pb_csv *w, const char *const *fields);
int pb_csv_close(struct pb_csv *w);   /* 0 or -errno (a failed flush is reported) */

/* ---- CSV reader: whole table in memory (libcsv's parser) */
struct pb_table {
	int ncols, nrows;
	char **header;          /* ncols */
	char ***rows;           /* nrows × ncols; short rows padded with "" */
};
/* Errors name the file and the byte offset. */
int pb_csv_read(const char *path, struct pb_table **out, char *err, size_t len);
void pb_table_free(struct pb_table *t);
int pb_table_col(const struct pb_table *t, const char *name);  /* -1 if absent */

/* ---- a row of named values, built up by several rooms, written once */
struct pb_row {
	int n, cap;
	char **keys, **values;
};
void pb_row_init(struct pb_row *r);
void pb_row_free(struct pb_row *r);
/* Set (or replace) key to a printf-formatted value. */
void pb_row_set(struct pb_row *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A double in the shortest text that reads back to it exactly
 * (pb_fmt_double), "inf"/"-inf", or empty when NAN. */
void pb_row_setd(struct pb_row *r, const char *key, double v);
/* The shortest of %.15g, %.16g and %.17g that strtod reads back to v. */
void pb_fmt_double(char *buf, size_t len, double v);
const char *pb_row_get(const struct pb_row *r, const char *key);
/* One-row CSV with the row's keys as header. */
int pb_row_write_csv(const struct pb_row *r, const char *path);

/* ---- manifest.yaml: a small YAML emitter over libyaml
 * pb_yaml_open starts the top-level mapping (callers just add keys) and
 * writes path.tmp; pb_yaml_close ends it and renames the file into place.
 * Misuse and write errors are latched and returned by pb_yaml_close. */
struct pb_yaml_out;
struct pb_yaml_out *pb_yaml_open(const char *path);   /* NULL, errno set */
void pb_yaml_map_begin(struct pb_yaml_out *y, const char *key);   /* key NULL inside a sequence or at top */
void pb_yaml_map_end(struct pb_yaml_out *y);
void pb_yaml_seq_begin(struct pb_yaml_out *y, const char *key);
void pb_yaml_seq_end(struct pb_yaml_out *y);
/* A scalar.  When fmt formats only numbers (%d, %g, ...) the value is a
 * YAML number and written plain (inf/nan as .inf/.nan); otherwise it is a
 * string, quoted whenever a YAML reader would take it for a number,
 * boolean or null ("1.0", "yes", "", "~"). */
void pb_yaml_kv(struct pb_yaml_out *y, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pb_yaml_kv_bool(struct pb_yaml_out *y, const char *key, int v);   /* true/false */
/* A raw YAML block (already-canonical text such as a cell's config_text)
 * parsed and re-emitted under key. */
int pb_yaml_kv_yaml(struct pb_yaml_out *y, const char *key, const char *yaml_text);
int pb_yaml_close(struct pb_yaml_out *y);   /* 0 or -errno */

/* Host facts for the manifest: CPU model, cores, governor, kernel, hostname. */
struct pb_host_info {
	char cpu_model[256];
	int cores_online, cores_allowed;
	char governor[64];
	char kernel[256];
	char hostname[256];
};
void pb_host_info_read(struct pb_host_info *hi);

/* Cell status from its folder: 1 done, 2 failed, 0 pending (absent or only
 * a .tmp).  reason (if given) gets a failed cell's reason. */
enum pb_cell_status { PB_CELL_PENDING = 0, PB_CELL_DONE = 1, PB_CELL_FAILED = 2 };
enum pb_cell_status pb_cell_status_read(const char *cells_dir, const char *id,
					char *reason, size_t len);
const char *pb_cell_status_name(enum pb_cell_status s);

/* Rebuild <dir>/summary.csv from every complete cell folder's summary.csv:
 * union of columns in first-seen order, rows sorted by cell id.  Writes via
 * a temporary file and rename.  Returns the number of rows, or -errno. */
int pb_results_merge(const char *dir, char *err, size_t len);

#endif

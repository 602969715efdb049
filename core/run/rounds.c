/* core/run/rounds.c — a cell measured in several rounds becomes one cell
 * folder: the parent pools the rounds' folders (each a complete run, as a
 * one-round cell writes it) once the last round is done.
 *
 *   cells/<id>.rounds/r<k>/       round k, written as r<k>.tmp and renamed
 *   cells/<id>.rounds/compressed.gguf (+ .targets)   the chain's result
 *   cells/<id>/                   the pooled cell, renamed from <id>.tmp;
 *                                 its rounds/ holds the rounds' folders
 *
 * The pooled folder has every file a one-round cell has, so `report`,
 * `merge` and `status` read it the same way:
 *   requests.csv, itl.csv         every round's rows (they carry `round`)
 *   phases.csv, probes.csv        every round's rows, with `round` first
 *   rounds.csv                    one row per round: round, round_position,
 *                                 round_started, then that round's summary
 *   tensors.csv                   round 1's (the same model in every round)
 *   summary.csv                   pooled: latency statistics over all rounds'
 *                                 requests (and gaps), n_requests and
 *                                 throttled_requests summed, *_max / *peak* /
 *                                 contended the maximum over rounds, *_min the
 *                                 minimum, other numbers the mean of the
 *                                 rounds' values, text round 1's
 *   manifest.yaml                 round 1's, with the rounds appended
 *   run.log                       the rounds' logs, one after another
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"
#include "results/results.h"
#include "run/rounds.h"
#include "util/util.h"

static int round_path(char *out, size_t len, const char *rounds_dir, int k, const char *file)
{
	if (snprintf(out, len, "%s/r%d/%s", rounds_dir, k, file) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Concatenate one CSV file of every round; add_round puts a `round`
 * column first when the file has none.  A round without the file is an
 * error (every round wrote the same set). */
static int concat_csv(const char *rounds_dir, int n_rounds, const char *file, const char *out,
		      char *err, size_t len)
{
	struct pb_csv *w = NULL;
	struct pb_table *first = NULL;
	int rc = 0, add_round = 0;

	for (int k = 1; k <= n_rounds && rc == 0; k++) {
		char path[4096];
		struct pb_table *t = NULL;
		round_path(path, sizeof path, rounds_dir, k, file);
		if ((rc = pb_csv_read(path, &t, err, len)) < 0)
			break;
		if (!first) {
			add_round = pb_table_col(t, "round") < 0;
			const char **hdr = calloc((size_t)t->ncols + 1, sizeof *hdr);
			if (!hdr) {
				pb_table_free(t);
				rc = -ENOMEM;
				break;
			}
			if (add_round)
				hdr[0] = "round";
			for (int c = 0; c < t->ncols; c++)
				hdr[c + add_round] = t->header[c];
			w = pb_csv_create(out, hdr, t->ncols + add_round);
			free(hdr);
			if (!w) {
				rc = -errno;
				pb_sayf(err, len, "%s: %s", out, strerror(errno));
				pb_table_free(t);
				break;
			}
			first = t;
		} else if (t->ncols != first->ncols) {
			rc = pb_errf(err, len, -EINVAL, "%s: %d columns where round 1 has %d", path,
				     t->ncols, first->ncols);
			pb_table_free(t);
			break;
		}
		char rs[16];
		snprintf(rs, sizeof rs, "%d", k);
		const char **row = calloc((size_t)t->ncols + 1, sizeof *row);
		if (!row)
			rc = -ENOMEM;
		for (int r = 0; row && r < t->nrows && rc == 0; r++) {
			if (add_round)
				row[0] = rs;
			for (int c = 0; c < t->ncols; c++)
				row[c + add_round] = t->rows[r][c];
			rc = pb_csv_row(w, row);
		}
		free(row);
		if (t != first)
			pb_table_free(t);
	}
	if (w) {
		int c = pb_csv_close(w);
		if (!rc)
			rc = c;
	}
	pb_table_free(first);
	if (rc < 0 && !err[0])
		pb_sayf(err, len, "%s: %s", out, strerror(-rc));
	return rc;
}

static int copy_file(const char *from, const char *to)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = pb_read_file(from, &buf, &n);
	if (rc == 0)
		rc = pb_write_file(to, buf, n);
	free(buf);
	return rc;
}

static int is_number(const char *s, double *v)
{
	char *end;
	if (!s || !*s)
		return 0;
	*v = strtod(s, &end);
	return *end == '\0';
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* A request statistic column: "<metric>_<stat>" with metric a column of
 * requests.csv (or itl_ms, from itl.csv) and stat one of row_stats'. */
static const char *const stat_suffix[] = { "mean", "std", "cv", "min", "p50", "p90", "p99", "max" };

static int stat_column(const char *key, char *metric, size_t len, int *which)
{
	for (int s = 0; s < 8; s++) {
		size_t kl = strlen(key), sl = strlen(stat_suffix[s]);
		if (kl > sl + 1 && key[kl - sl - 1] == '_' && !strcmp(key + kl - sl, stat_suffix[s])) {
			if (kl - sl - 1 >= len)
				return 0;
			memcpy(metric, key, kl - sl - 1);
			metric[kl - sl - 1] = '\0';
			*which = s;
			return 1;
		}
	}
	return 0;
}

static double stat_pick(const struct pb_stats *s, int which)
{
	const double v[] = { s->mean, s->std, s->cv, s->min, s->p50, s->p90, s->p99, s->max };
	return v[which];
}

/* The values of one numeric column of a table (NAN for empty cells). */
static double *column_values(const struct pb_table *t, int col, int *n)
{
	double *v = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *v);
	*n = 0;
	if (!v)
		return NULL;
	for (int r = 0; r < t->nrows; r++) {
		double x;
		if (is_number(t->rows[r][col], &x) && !isnan(x))
			v[(*n)++] = x;
	}
	return v;
}

static void fmt_double(char *buf, size_t len, double v)
{
	if (isnan(v))
		buf[0] = '\0';
	else
		pb_fmt_double(buf, len, v);   /* shortest text that reads back exactly */
}

/* summary.csv of the pooled cell (see the top of the file). */
static int pool_summary(const char *tmp, const struct pb_table *rounds, const struct pb_table *req,
			const struct pb_table *itl, int n_rounds, char *err, size_t len)
{
	struct pb_row row;
	char path[4096], metric[96], buf[64];
	int rc = 0;

	pb_row_init(&row);
	for (int c = 0; c < rounds->ncols; c++) {
		const char *key = rounds->header[c];
		int which, n = 0, all_num = 1;
		double x, acc = NAN;
		if (!strcmp(key, "round") || !strcmp(key, "round_position") ||
		    !strcmp(key, "round_started"))
			continue;
		/* request statistics: recomputed over every round's requests */
		if (stat_column(key, metric, sizeof metric, &which)) {
			const struct pb_table *src = !strcmp(metric, "itl_ms") ? itl : req;
			int col = src ? pb_table_col(src, metric) : -1;
			if (col >= 0) {
				int m;
				double *v = column_values(src, col, &m);
				struct pb_stats st;
				pb_stats_compute(v, v ? m : 0, &st);
				free(v);
				fmt_double(buf, sizeof buf, stat_pick(&st, which));
				pb_row_set(&row, key, "%s", buf);
				continue;
			}
		}
		/* the same in every round (accuracy, sizes, settings): as written */
		int same = 1;
		for (int r = 1; r < rounds->nrows && same; r++)
			same = !strcmp(rounds->rows[r][c], rounds->rows[0][c]);
		if (same && strcmp(key, "n_requests") && strcmp(key, "throttled_requests")) {
			pb_row_set(&row, key, "%s", rounds->nrows ? rounds->rows[0][c] : "");
			continue;
		}
		for (int r = 0; r < rounds->nrows; r++) {
			const char *s = rounds->rows[r][c];
			if (!s[0])
				continue;
			if (!is_number(s, &x)) {
				all_num = 0;
				break;
			}
			if (n++ == 0) {
				acc = x;
				continue;
			}
			if (!strcmp(key, "n_requests") || !strcmp(key, "throttled_requests"))
				acc += x;
			else if (has_suffix(key, "_max") || strstr(key, "peak") || !strcmp(key, "contended"))
				acc = x > acc ? x : acc;
			else if (has_suffix(key, "_min"))
				acc = x < acc ? x : acc;
			else
				acc += x;
		}
		if (!all_num || n == 0) {
			pb_row_set(&row, key, "%s", rounds->nrows ? rounds->rows[0][c] : "");
			continue;
		}
		int summed = !strcmp(key, "n_requests") || !strcmp(key, "throttled_requests") ||
			     has_suffix(key, "_max") || strstr(key, "peak") || !strcmp(key, "contended") ||
			     has_suffix(key, "_min");
		if (!summed)
			acc /= n;
		fmt_double(buf, sizeof buf, acc);
		pb_row_set(&row, key, "%s", buf);
	}
	pb_row_set(&row, "rounds", "%d", n_rounds);
	pb_path_join(path, sizeof path, tmp, "summary.csv");
	if ((rc = pb_row_write_csv(&row, path)) < 0)
		pb_sayf(err, len, "%s: %s", path, strerror(-rc));
	pb_row_free(&row);
	return rc;
}

static int append_manifest(const char *from, const char *to, const struct pb_table *rounds,
			   int n_rounds)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = pb_read_file(from, &buf, &n);
	if (rc < 0)
		return rc;
	/* the emitter writes a block mapping at column 0 and no document end,
	 * so keys appended at column 0 belong to it */
	size_t cap = n + 256 + (size_t)rounds->nrows * 96;
	char *out = malloc(cap);
	if (!out) {
		free(buf);
		return -ENOMEM;
	}
	size_t k = n;
	memcpy(out, buf, n);
	while (k > 0 && (out[k - 1] == '\n' || !strncmp(out + (k >= 4 ? k - 4 : 0), "...\n", 4))) {
		if (k >= 4 && !strncmp(out + k - 4, "...\n", 4))
			k -= 4;
		else
			k--;
	}
	k += (size_t)snprintf(out + k, cap - k, "\nrounds: %d\nround_runs:\n", n_rounds);
	int cp = pb_table_col(rounds, "round_position"), cs = pb_table_col(rounds, "round_started");
	for (int r = 0; r < rounds->nrows && cp >= 0 && cs >= 0; r++)
		k += (size_t)snprintf(out + k, cap - k, "- {round: %d, position: %s, started: '%s'}\n",
				      r + 1, rounds->rows[r][cp], rounds->rows[r][cs]);
	rc = pb_write_file(to, out, k);
	free(out);
	free(buf);
	return rc;
}

static int concat_logs(const char *rounds_dir, int n_rounds, const char *out)
{
	size_t cap = 0, n = 0;
	char *all = NULL;
	int rc = 0;
	for (int k = 1; k <= n_rounds && rc == 0; k++) {
		char path[4096], head[64], *buf = NULL;
		size_t len = 0;
		round_path(path, sizeof path, rounds_dir, k, "run.log");
		if (pb_read_file(path, &buf, &len) < 0)
			len = 0;
		int hl = snprintf(head, sizeof head, "=== round %d of %d ===\n", k, n_rounds);
		if (n + (size_t)hl + len + 1 > cap) {
			cap = (n + (size_t)hl + len + 1) * 2;
			char *p = realloc(all, cap);
			if (!p) {
				rc = -ENOMEM;
				free(buf);
				break;
			}
			all = p;
		}
		memcpy(all + n, head, (size_t)hl);
		n += (size_t)hl;
		if (len)
			memcpy(all + n, buf, len);
		n += len;
		free(buf);
	}
	if (rc == 0)
		rc = pb_write_file(out, all ? all : "", n);
	free(all);
	return rc;
}

int pb_rounds_pool(const char *rounds_dir, int n_rounds, const char *tmp, char *err, size_t len)
{
	char path[4096], from[4096];
	struct pb_table *rounds = NULL, *req = NULL, *itl = NULL;
	int rc;

	err[0] = '\0';
	if ((rc = pb_mkdir_p(tmp)) < 0)
		return pb_errf(err, len, rc, "%s: %s", tmp, strerror(-rc));
	static const char *const files[] = { "rounds.csv", "requests.csv", "itl.csv",
					     "phases.csv", "probes.csv" };
	for (size_t i = 0; i < PB_ARRAY_LEN(files); i++) {
		pb_path_join(path, sizeof path, tmp, files[i]);
		if ((rc = concat_csv(rounds_dir, n_rounds, files[i], path, err, len)) < 0)
			return rc;
	}
	round_path(from, sizeof from, rounds_dir, 1, "tensors.csv");
	pb_path_join(path, sizeof path, tmp, "tensors.csv");
	if ((rc = copy_file(from, path)) < 0)
		return pb_errf(err, len, rc, "%s: %s", from, strerror(-rc));
	pb_path_join(path, sizeof path, tmp, "run.log");
	if ((rc = concat_logs(rounds_dir, n_rounds, path)) < 0)
		return pb_errf(err, len, rc, "%s: %s", path, strerror(-rc));

	pb_path_join(path, sizeof path, tmp, "rounds.csv");
	if ((rc = pb_csv_read(path, &rounds, err, len)) < 0)
		goto out;
	pb_path_join(path, sizeof path, tmp, "requests.csv");
	if ((rc = pb_csv_read(path, &req, err, len)) < 0)
		goto out;
	pb_path_join(path, sizeof path, tmp, "itl.csv");
	if ((rc = pb_csv_read(path, &itl, err, len)) < 0)
		goto out;
	if ((rc = pool_summary(tmp, rounds, req, itl, n_rounds, err, len)) < 0)
		goto out;
	/* the manifest last, as in a one-round cell: it marks the folder done */
	round_path(from, sizeof from, rounds_dir, 1, "manifest.yaml");
	pb_path_join(path, sizeof path, tmp, "manifest.yaml");
	if ((rc = append_manifest(from, path, rounds, n_rounds)) < 0)
		pb_sayf(err, len, "%s: %s", from, strerror(-rc));
out:
	pb_table_free(rounds);
	pb_table_free(req);
	pb_table_free(itl);
	return rc;
}

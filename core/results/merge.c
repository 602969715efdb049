/* core/results/merge.c — <dir>/summary.csv from the cells' summary.csv
 * files: columns are the union in first-seen order (cells visited in id
 * order, so the result does not depend on readdir), rows sorted by cell
 * id.  Anything malformed stops the merge before the old summary is
 * touched; the new one is written to a temporary file and renamed.
 * A complete cell (one with a manifest.yaml) must give summary.csv its
 * row: one whose summary.csv is missing or empty stops the merge with its
 * name, rather than leaving a row out unnoticed. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "util/util.h"

struct cell_table {
	char *name;              /* the cell folder */
	struct pb_table *t;
	int *map;                /* t's column → merged column */
	int id_col;              /* t's cell_id column, or -1: the folder name */
};

struct merged_row {
	const char *id;
	const struct cell_table *c;
	int row;
};

struct columns {
	char **names;
	int n, cap;
};

static int col_add(struct columns *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], name))
			return i;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 32;
		char **nn = realloc(c->names, cap * sizeof *nn);
		if (!nn)
			return -ENOMEM;
		c->names = nn;
		c->cap = cap;
	}
	if (!(c->names[c->n] = strdup(name)))
		return -ENOMEM;
	return c->n++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_id(const void *a, const void *b)
{
	const struct merged_row *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	if (!c)
		c = strcmp(x->c->name, y->c->name);
	return c ? c : x->row - y->row;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* Sorted names of complete cell folders (no .tmp, no dot files). */
static int list_cells(const char *cells, char ***out, int *n, char *err, size_t len)
{
	DIR *d = opendir(cells);
	struct dirent *e;
	char **names = NULL;
	int cap = 0, rc = 0;

	*n = 0;
	if (!d) {
		rc = -errno;
		snprintf(err, len, "%s: %s", cells, strerror(errno));
		return rc;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		/* <id>.rounds: a multi-round cell still being measured */
		if (e->d_name[0] == '.' || ends_with(e->d_name, ".tmp") ||
		    ends_with(e->d_name, ".rounds"))
			continue;
		if (pb_path_join(path, sizeof path, cells, e->d_name) < 0 ||
		    stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		if (!(names[*n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (rc) {
		snprintf(err, len, "%s: out of memory", cells);
		while (*n)
			free(names[--*n]);
		free(names);
		return rc;
	}
	if (*n)
		qsort(names, *n, sizeof *names, by_name);
	*out = names;
	return 0;
}

/* Writes the merged table to a unique temporary beside the summary, then
 * renames it: readers see the old file or the new one, never a half. */
static int write_merged(const char *dir, const char *file, const struct columns *cols,
			const struct merged_row *rows, int nrows, char *err, size_t len)
{
	char path[4096], tmp[4096];
	const char **fields = calloc(cols->n, sizeof *fields);
	int rc;

	if (!fields)
		return -ENOMEM;
	char tmpl[256];
	snprintf(tmpl, sizeof tmpl, ".%s.XXXXXX", file);
	if (pb_path_join(path, sizeof path, dir, file) < 0 ||
	    pb_path_join(tmp, sizeof tmp, dir, tmpl) < 0) {
		free(fields);
		snprintf(err, len, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, len, "%s: cannot create a temporary file: %s", dir, strerror(errno));
		free(fields);
		return rc;
	}
	fchmod(fd, 0644);   /* mkstemp's 0600 would hide the summary from the group */
	close(fd);

	struct pb_csv *w = pb_csv_create(tmp, (const char *const *)cols->names, cols->n);
	if (!w) {
		rc = -errno;
		goto out;
	}
	rc = 0;
	for (int r = 0; r < nrows && !rc; r++) {
		const struct cell_table *c = rows[r].c;
		for (int i = 0; i < cols->n; i++)
			fields[i] = "";
		for (int i = 0; i < c->t->ncols; i++)
			fields[c->map[i]] = c->t->rows[rows[r].row][i];
		if (c->id_col < 0)
			fields[c->map[c->t->ncols]] = c->name;
		rc = pb_csv_row(w, fields);
	}
	int cerr = pb_csv_close(w);
	if (!rc)
		rc = cerr;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
out:
	if (rc) {
		snprintf(err, len, "%s: cannot write: %s", path, strerror(-rc));
		unlink(tmp);
	}
	free(fields);
	return rc;
}

/* <dir>/<file> from every cell folder's <file>.  Optional files (rounds.csv):
 * cells without one are left out, and when none has one nothing is
 * written.  Otherwise a complete cell without rows is an error; a folder
 * with neither the file nor a manifest.yaml is no cell and is skipped. */
static int merge_file(const char *dir, const char *file, int optional, char *err, size_t len)
{
	char cells[4096], path[4096], msg[1024];
	char **names = NULL;
	int nnames = 0, ncells = 0, nrows = 0, rc;
	struct cell_table *ct = NULL;
	struct merged_row *rows = NULL;
	struct columns cols = { 0 };

	if (!err || !len) {
		err = msg;
		len = sizeof msg;
	}
	err[0] = '\0';
	if (pb_path_join(cells, sizeof cells, dir, "cells") < 0) {
		snprintf(err, len, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	rc = list_cells(cells, &names, &nnames, err, len);
	if (rc)
		return rc;
	ct = calloc(nnames ? nnames : 1, sizeof *ct);
	if (!ct)
		goto oom;

	for (int i = 0; i < nnames; i++) {
		struct cell_table *c = &ct[ncells];
		char sub[4096];
		if (pb_path_join(sub, sizeof sub, cells, names[i]) < 0 ||
		    pb_path_join(path, sizeof path, sub, file) < 0) {
			snprintf(err, len, "%s/%s: path too long", cells, names[i]);
			rc = -ENAMETOOLONG;
			goto out;
		}
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			char man[4200];
			snprintf(man, sizeof man, "%s/manifest.yaml", sub);
			if (optional || access(man, F_OK) < 0)
				continue;   /* not a cell (no manifest.yaml), or nothing to add */
			snprintf(err, len, "%s: the cell is complete (manifest.yaml) but has no %s, so "
				 "its row would be lost: run the cell again (prunebench run EXP --cell "
				 "%s --force) or remove its folder", sub, file, names[i]);
			rc = -ENOENT;
			goto out;
		}
		rc = pb_csv_read(path, &c->t, err, len);
		if (rc)
			goto out;
		if (!optional && c->t->nrows == 0) {
			snprintf(err, len, "%s: no rows (a cell's %s has its row), so the cell would be "
				 "lost: run the cell again (prunebench run EXP --cell %s --force) or "
				 "remove its folder", path, file, names[i]);
			rc = -EINVAL;
			goto out;
		}
		c->name = names[i];
		c->id_col = pb_table_col(c->t, "cell_id");
		/* One slot more for the implied cell_id of a table without one. */
		c->map = malloc((c->t->ncols + 1) * sizeof *c->map);
		if (!c->map)
			goto oom;
		ncells++;
		if (c->id_col < 0) {
			/* Rows of a table without cell_id get the folder name, as if
			 * cell_id were its first column. */
			if ((c->map[c->t->ncols] = col_add(&cols, "cell_id")) < 0)
				goto oom;
		}
		for (int k = 0; k < c->t->ncols; k++)
			if ((c->map[k] = col_add(&cols, c->t->header[k])) < 0)
				goto oom;
		nrows += c->t->nrows;
	}
	if (optional && ncells == 0) {
		rc = 0;
		goto out;
	}
	if (!cols.n && col_add(&cols, "cell_id") < 0)
		goto oom;

	rows = calloc(nrows ? nrows : 1, sizeof *rows);
	if (!rows)
		goto oom;
	nrows = 0;
	for (int i = 0; i < ncells; i++)
		for (int r = 0; r < ct[i].t->nrows; r++) {
			const char *id = ct[i].id_col >= 0 ? ct[i].t->rows[r][ct[i].id_col] : "";
			rows[nrows++] = (struct merged_row){ id[0] ? id : ct[i].name, &ct[i], r };
		}
	qsort(rows, nrows, sizeof *rows, by_id);
	rc = write_merged(dir, file, &cols, rows, nrows, err, len);
	if (!rc)
		rc = nrows;
	goto out;
oom:
	snprintf(err, len, "%s: out of memory", dir);
	rc = -ENOMEM;
out:
	for (int i = 0; i < ncells; i++) {
		pb_table_free(ct[i].t);
		free(ct[i].map);
	}
	if (ct && ncells < nnames && ct[ncells].t) {
		pb_table_free(ct[ncells].t);
		free(ct[ncells].map);
	}
	for (int i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(ct);
	free(rows);
	for (int i = 0; i < cols.n; i++)
		free(cols.names[i]);
	free(cols.names);
	return rc;
}

int pb_results_merge(const char *dir, char *err, size_t len)
{
	char msg[1024];
	if (!err || !len) {
		err = msg;
		len = sizeof msg;
	}
	int rc = merge_file(dir, "summary.csv", 0, err, len);
	if (rc < 0)
		return rc;
	/* one row per cell × round: what the report's paired test reads */
	int r = merge_file(dir, "rounds.csv", 1, err, len);
	return r < 0 ? r : rc;
}

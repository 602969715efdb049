/* core/run/select.c — which cells a batch runs: --cell, --cell-list (a
 * file of cell ids, read here) and --shard I/N, with the shard unit that
 * keeps a multi-round block on one task (definitions in run.h).  Running
 * the selected cells is runner.c's job. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"
#include "util/util.h"

static int same_block(const struct pb_cell *a, const struct pb_cell *b)
{
	return a->model == b->model && a->dataset == b->dataset && a->backend == b->backend;
}

/* The shard unit of the k-th of cells[0..n): the cell itself with one
 * round; with several, its block (model × dataset × backend, numbered by
 * first appearance), so that the chains a round pairs are measured by one
 * task, on one node, next to each other in time. */
static long shard_unit(const struct pb_experiment *e, const struct pb_cell *const *cells, long n,
		       long k)
{
	long blocks = 0;
	if (e->rounds <= 1)
		return k;
	for (long i = 0; i < n; i++) {
		long j;
		for (j = 0; j < i; j++)
			if (same_block(cells[j], cells[i]))
				break;
		if (j < i)
			continue;   /* not the first of its block */
		if (same_block(cells[i], cells[k]))
			return blocks;
		blocks++;
	}
	return blocks;
}

int pb_run_shard_units(const struct pb_experiment *e)
{
	const struct pb_cell **v = calloc((size_t)e->n_cells + 1, sizeof *v);
	long units = 0;
	if (!v)
		return e->n_cells;
	for (int i = 0; i < e->n_cells; i++)
		v[i] = &e->cells[i];
	for (int i = 0; i < e->n_cells; i++) {
		long u = shard_unit(e, v, e->n_cells, i);
		if (u + 1 > units)
			units = u + 1;
	}
	free(v);
	return (int)units;
}

int pb_run_selected(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_run_opts *o)
{
	/* By position among the cells that exist (after include/exclude),
	 * not by matrix index: excluded cells must not leave shards empty. */
	long k = c - e->cells;
	if (o->cell_id && strcmp(o->cell_id, c->id))
		return 0;
	if (o->cell_list) {
		for (k = 0; k < o->n_cell_list; k++)
			if (!strcmp(o->cell_list[k], c->id))
				break;
		if (k == o->n_cell_list)
			return 0;
	}
	if (o->shard_n > 0) {
		long unit = k;
		if (e->rounds > 1) {
			long n = o->cell_list ? o->n_cell_list : e->n_cells;
			const struct pb_cell **v = calloc((size_t)n + 1, sizeof *v);
			if (!v)
				return 0;
			for (long i = 0; i < n; i++)
				v[i] = o->cell_list ? pb_experiment_cell(e, o->cell_list[i]) : &e->cells[i];
			unit = shard_unit(e, v, n, k);
			free(v);
		}
		if (unit % o->shard_n != o->shard_i)
			return 0;
	}
	return 1;
}

void pb_cell_list_free(char **ids, int n)
{
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int pb_cell_list_read(const struct pb_experiment *e, const char *path, char ***ids, int *n,
		      char *err, size_t len)
{
	char *buf = NULL, *save = NULL;
	char **v = NULL;
	int cap = 0, rc, line = 0;

	*ids = NULL;
	*n = 0;
	if ((rc = pb_read_file(path, &buf, NULL)) < 0)
		return pb_errf(err, len, rc, "%s: cannot read: %s", path, strerror(-rc));
	/* strtok_r would skip empty lines and lose the line numbers */
	for (char *s = buf, *nl; s && *s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		line++;
		char *hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		char *id = strtok_r(s, " \t\r", &save);
		if (!id)
			continue;
		if (strtok_r(NULL, " \t\r", &save)) {
			rc = pb_errf(err, len, -EINVAL, "%s:%d: expected one cell id per line", path, line);
			goto fail;
		}
		if (!pb_experiment_cell(e, id)) {
			rc = pb_errf(err, len, -EINVAL, "%s:%d: no cell '%s' in %s", path, line, id, e->file);
			goto fail;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				goto fail;
			}
			v = nv;
		}
		if (!(v[*n] = strdup(id))) {
			rc = -ENOMEM;
			goto fail;
		}
		(*n)++;
	}
	free(buf);
	*ids = v;
	return 0;
fail:
	if (rc == -ENOMEM)
		pb_errf(err, len, rc, "%s: out of memory", path);
	free(buf);
	pb_cell_list_free(v, *n);
	*n = 0;
	return rc;
}

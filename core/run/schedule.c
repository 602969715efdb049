/* core/run/schedule.c — the experimental design of a batch: in which order
 * the cells of one round run.
 *
 * Cells are grouped into blocks (same model × dataset × backend: the cells a
 * report compares with each other); the blocks' order and the order inside
 * each block are shuffled (Fisher–Yates) from a generator seeded by the
 * experiment seed and the round.  So slow drift of the machine (heat, other
 * load, page cache) lands on different chains in different rounds instead
 * of always on the one that runs first, and compared chains are measured
 * close together in time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"
#include "util/util.h"

static int same_block(const struct pb_cell *a, const struct pb_cell *b)
{
	return a->model == b->model && a->dataset == b->dataset && a->backend == b->backend;
}

static void shuffle(struct pb_rng *rng, int *v, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(pb_rng_uniform(rng) * (i + 1));
		int t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

int pb_schedule_round(const struct pb_experiment *e, const struct pb_cell *const *cells, int n,
		      int round, const struct pb_cell **out)
{
	int *block = malloc((size_t)(n ? n : 1) * sizeof *block);   /* block of each cell */
	int *first = malloc((size_t)(n ? n : 1) * sizeof *first);   /* first cell of each block */
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	int n_blocks = 0, k = 0, rc = 0;
	struct pb_rng rng;

	if (!block || !first || !order) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int b;
		for (b = 0; b < n_blocks; b++)
			if (same_block(cells[first[b]], cells[i]))
				break;
		if (b == n_blocks)
			first[n_blocks++] = i;
		block[i] = b;
	}
	/* splitmix-style mixing inside pb_rng_seed spreads nearby rounds apart */
	pb_rng_seed(&rng, e->seed * 0x9e3779b97f4a7c15ull + (uint64_t)round);
	for (int b = 0; b < n_blocks; b++)
		order[b] = b;
	shuffle(&rng, order, n_blocks);
	int *members = first;   /* reused: blocks' order is in `order` now */
	for (int bi = 0; bi < n_blocks; bi++) {
		int b = order[bi], m = 0;
		for (int i = 0; i < n; i++)
			if (block[i] == b)
				members[m++] = i;
		shuffle(&rng, members, m);
		for (int i = 0; i < m; i++)
			out[k++] = cells[members[i]];
		/* members overwrote first[]: later blocks are found by block[] */
	}
out:
	free(block);
	free(first);
	free(order);
	return rc;
}

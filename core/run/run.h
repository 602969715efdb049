/* core/run/run.h — running an experiment's cells: the batch in the parent
 * (fork per cell, time limit, resume, shards, signals, progress) and the
 * cell pipeline in the child (load → compress → warm up → measure → score
 * → record).  The parent never runs model code. */
#ifndef PB_RUN_H
#define PB_RUN_H

#include "experiment/experiment.h"

struct pb_run_opts {
	int force;               /* rerun done cells */
	const char *cell_id;     /* only this cell */
	char **cell_list;        /* only these cells (--cells FILE), in this order */
	int n_cell_list;
	/* the k-th selected cell (of the list when given, else of the
	 * experiment's cells) runs when k % shard_n == shard_i; n = 0: all */
	int shard_i, shard_n;
	int dry_run;             /* list what would run */
	int progress;            /* -1 auto (TTY), 0 plain lines, 1 live line */
	int color;               /* -1 auto (TTY and no NO_COLOR) */
	double wait_quiet_s;     /* --wait-quiet: before each cell's measured requests, wait
				  * at most this long for others' CPU below the threshold; 0 off */
};

struct pb_run_stats {
	int selected, skipped_done, ran, done, failed;
	int interrupted;         /* SIGINT/SIGTERM stopped the batch */
};

/* Run the selected cells of e into e->output.  0 when every cell that ran
 * is done, 1 when any failed (or the batch was interrupted), -errno when
 * the batch could not start. */
int pb_run_experiment(const struct pb_experiment *e, const struct pb_run_opts *o,
		      struct pb_run_stats *st);

/* A cell list file: one cell id per line; blank lines and '#' comments
 * skipped.  Every id must be a cell of e (errors name file:line).  0 or
 * -errno; free with pb_cell_list_free. */
int pb_cell_list_read(const struct pb_experiment *e, const char *path, char ***ids, int *n,
		      char *err, size_t len);
void pb_cell_list_free(char **ids, int n);

/* Is the cell selected by o (cell id, cell list, shard)? */
int pb_run_selected(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_run_opts *o);

/* In the child: run one cell, writing into dir (the .tmp folder).  Phase
 * names are written as "phase NAME\n" lines to status_fd (-1 for none).
 * Returns 0 when the cell completed. */
int pb_cell_execute(const struct pb_experiment *e, const struct pb_cell *c,
		    const char *dir, int status_fd);

#endif

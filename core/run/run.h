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
	int shard_i, shard_n;    /* cell k runs when k % shard_n == shard_i; n = 0: all */
	int dry_run;             /* list what would run */
	int progress;            /* -1 auto (TTY), 0 plain lines, 1 live line */
	int color;               /* -1 auto (TTY and no NO_COLOR) */
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

/* Is cell index k in the shard? */
int pb_run_selected(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_run_opts *o);

/* In the child: run one cell, writing into dir (the .tmp folder).  Phase
 * names are written as "phase NAME\n" lines to status_fd (-1 for none).
 * Returns 0 when the cell completed. */
int pb_cell_execute(const struct pb_experiment *e, const struct pb_cell *c,
		    const char *dir, int status_fd);

#endif

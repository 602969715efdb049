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
	int reverse_order;       /* each round's schedule backwards */
	int progress;            /* -1 auto (TTY), 0 plain lines, 1 live line */
	int color;               /* -1 auto (TTY and no NO_COLOR) */
	double wait_quiet_s;     /* --wait-quiet: before each cell's measured requests, wait
				  * at most this long for others' CPU below the threshold; 0 off */
};

struct pb_run_stats {
	int selected, skipped_done, ran, done, failed;
	int interrupted;         /* SIGINT/SIGTERM stopped the batch */
	int unrecorded;          /* failed cells whose failure record could not be written */
	char unrecorded_why[256];   /* the first one's cause */
	int merge_failed;        /* summary.csv could not be rebuilt at the end */
};

/* Run the selected cells of e into e->output.  0 when every cell that ran
 * is done, 1 when any failed, the batch was interrupted or the final merge
 * failed, -errno when the batch could not start or a cell could not. */
int pb_run_experiment(const struct pb_experiment *e, const struct pb_run_opts *o,
		      struct pb_run_stats *st);

/* A cell list file: one cell id per line; blank lines and '#' comments
 * skipped.  Every id must be a cell of e (errors name file:line).  0 or
 * -errno; free with pb_cell_list_free. */
int pb_cell_list_read(const struct pb_experiment *e, const char *path, char ***ids, int *n,
		      char *err, size_t len);
void pb_cell_list_free(char **ids, int n);

/* How many units `--shard I/N` deals out: cells with one round, blocks
 * (model × dataset × backend) with several, so that one task measures
 * every chain of a block in every round. */
int pb_run_shard_units(const struct pb_experiment *e);

/* Is the cell selected by o (cell id, cell list, shard)? */
int pb_run_selected(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_run_opts *o);

/* What a child process does for a cell (the parent forks one per job). */
enum pb_job_kind {
	PB_JOB_MEASURE = 0,   /* one round of the cell: the whole pipeline, recorded */
	PB_JOB_REFERENCE,     /* compute (or find) the dense reference of the cell's
			       * model × dataset, before any cell of the pair is measured */
	PB_JOB_COMPRESS,      /* run the chain once and keep its result for every round */
};

struct pb_cell_job {
	enum pb_job_kind kind;
	int round;            /* 1-based */
	int n_rounds;
	int position;         /* 0-based place of the cell in this round's order */
	/* MEASURE: the chain's result kept by a COMPRESS job (GGUF + targets
	 * file), loaded instead of compressing; "" compresses in the child.
	 * COMPRESS: where to write it. */
	char compressed[4400];
};

/* In the child: run one job of a cell, writing into dir (the .tmp folder).
 * Phase names are written as "phase NAME\n" lines to status_fd (-1 for
 * none).  Returns 0 when the job completed. */
int pb_cell_execute(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_cell_job *job, const char *dir, int status_fd);

/* inputs.c: a cell's model (a synth preset or a file/folder with its
 * tokenizer) and its dataset's options, as every job opens them. */
struct pb_model;
struct pb_dataset_opts;
int pb_input_model_load(const struct pb_model_spec *ms, struct pb_model **m, char *err, size_t len);
void pb_input_dataset_opts(const struct pb_experiment *e, const struct pb_dataset_spec *d,
			   struct pb_dataset_opts *o);
/* validate: open every model file (header, metadata, tensor table,
 * tokenizer; weights mapped, not read; synth presets skipped) and parse
 * every dataset, printing one line per failure to out.  The number of
 * failures. */
int pb_inputs_check(const struct pb_experiment *e, FILE *out);

/* The order of cells[0..n) in a round: blocks of cells that share model ×
 * dataset × backend stay together (so compared chains sit next to each
 * other in time); the blocks' order and each block's order are shuffled
 * from the experiment seed and the round.  A cell's place depends only on
 * the seed, the round and the set of cells given. */
int pb_schedule_round(const struct pb_experiment *e, const struct pb_cell *const *cells, int n,
		      int round, const struct pb_cell **out);

#endif

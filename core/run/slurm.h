/* core/run/slurm.h — an experiment as Slurm batch jobs: the job-array
 * script (one shard of the cells per array task), the dependent merge job,
 * the record of submitted jobs, and what squeue says about them.
 *
 * Folder <output>/slurm/ (beside cells/):
 *   <tag>.sbatch          the array: task i runs `prunebench run --shard i/N`
 *   <tag>.merge.sbatch    `prunebench merge <output>` after the array ends
 *   <tag>.cells           the cells of a resubmission (--only-failed)
 *   logs/%A_%a.out        one log per array task; logs/%j-merge.out
 *   jobs.tsv              one line per submission: array job, merge job,
 *                         tag, tasks, cell list (status maps tasks to cells)
 * The CLI (core/cli/cmd-slurm.c) decides what to submit; this file writes
 * and reads the texts, so they are tested without a cluster.
 */
#ifndef PB_SLURM_H
#define PB_SLURM_H

#include <stdio.h>

#include "experiment/experiment.h"

struct pb_slurm_plan {
	const char *exe;              /* absolute path of the prunebench binary */
	const char *experiment;       /* absolute path of the experiment file */
	const char *output;           /* absolute results folder */
	const char *slurm_dir;        /* absolute <output>/slurm */
	const char *const *sets;      /* --set overrides, passed on to every task */
	int n_sets;
	const char *job_name;         /* "pb-<experiment>"; the merge adds "-merge" */
	const char *tag;              /* "run", "retry-1": names scripts and cell list */
	const char *cells_file;       /* absolute; NULL: every cell of the experiment */
	int n_cells;                  /* cells the array covers */
	int n_tasks;                  /* array size = number of shards */
	const char *plugin_path;      /* PRUNEBENCH_PLUGIN_PATH to export, or NULL */
	struct pb_slurm_spec opt;     /* resolved: the experiment's block, then the flags */
	const char *const *extra;     /* sbatch options after `--` */
	int n_extra;
};

/* The scripts' texts, malloc'd into *out.  0 or -errno. */
int pb_slurm_array_script(const struct pb_slurm_plan *p, char **out);
int pb_slurm_merge_script(const struct pb_slurm_plan *p, char **out);

/* s as one shell word: bare when it is made of safe characters, else in
 * single quotes ('\'' for a quote). */
void pb_shell_quote(FILE *f, const char *s);

/* Run argv (PATH searched) with stdout captured into *out (malloc'd, NUL-
 * terminated; stderr passes through).  Returns the exit status (0..255),
 * -ENOENT when the program is not installed, or another -errno. */
int pb_slurm_exec(const char *const *argv, char **out);

/* One line of squeue -r -o '%F|%K|%A|%T|%M|%R' (array job, task, the
 * task's own job id, state, elapsed time, nodes or pending reason). */
struct pb_slurm_task {
	long array_job;
	int task;                     /* -1 for a job that is not an array */
	long job;
	char state[24];
	char time[24];
	char where[128];
};
#define PB_SQUEUE_FORMAT "%F|%K|%A|%T|%M|%R"
/* Parse squeue's output; malformed lines are skipped.  0 or -ENOMEM. */
int pb_slurm_parse_squeue(const char *text, struct pb_slurm_task **out, int *n);
/* The caller's jobs from squeue (--me).  0, or -errno with why filled
 * (squeue missing: -ENOENT; failed: -EIO). */
int pb_slurm_squeue(struct pb_slurm_task **out, int *n, char *why, size_t len);

/* jobs.tsv */
struct pb_slurm_record {
	long array_job, merge_job;
	char tag[64];
	int n_tasks;
	char cells_file[4096];        /* "" or "-": every cell */
	char submitted[32];
};
int pb_slurm_record_append(const char *slurm_dir, const struct pb_slurm_record *r);
/* Every record (none when the file is absent).  0 or -errno. */
int pb_slurm_records_read(const char *slurm_dir, struct pb_slurm_record **out, int *n);

/* sbatch --parsable prints "jobid[;cluster]": the job id, or -1. */
long pb_slurm_parse_jobid(const char *text);

#endif

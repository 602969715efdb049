/* core/cli/steps.h — a chain of compression steps given on the command
 * line (`-p 'NAME key=value ...'`), shared by `prune` and `serve`: each
 * step parsed through its pruner's option table, as an experiment's chain
 * entry would be, and run on one model in order; pruners that calibrate
 * read the --data file.  The chain owns the steps' configs; the model is
 * the caller's. */
#ifndef PB_CLI_STEPS_H
#define PB_CLI_STEPS_H

#include <stdint.h>
#include <stdio.h>

struct pb_model;
struct pb_plugin;

#define PB_CLI_MAX_STEPS 32

struct pb_cli_step {
	const char *spec;                /* the -p text, for messages */
	const struct pb_plugin *p;
	void *config;
	int has_nsamples, has_seqlen;    /* given in the -p text */
};

struct pb_cli_chain {
	const char *cmd;                 /* "prune", "serve": messages say "prunebench CMD: ..." */
	FILE *report;                    /* one report per step (prune: stdout) */
	const char *data;                /* --data FILE, or NULL */
	long long nsamples, seqlen, seed;
	struct pb_cli_step steps[PB_CLI_MAX_STEPS];
	int n_steps;
};

/* Parse "NAME key=value ..." and append it; 0, or the exit status (the
 * error said on stderr). */
int pb_cli_chain_add(struct pb_cli_chain *c, const char *spec);
/* Before loading anything: a step that calibrates needs --data.  0 or 2. */
int pb_cli_chain_check(const struct pb_cli_chain *c);
/* Run every step on m in order (reading --data when a step calibrates);
 * 0 or the exit status. */
int pb_cli_chain_run(struct pb_cli_chain *c, struct pb_model *m);
void pb_cli_chain_free(struct pb_cli_chain *c);

/* Linear sparsity in percent, and the model's weight bytes. */
double pb_cli_sparsity_pct(const struct pb_model *m, int64_t *bytes);

#endif

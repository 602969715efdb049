/* core/cli/cmd-run.c — `validate`, `run` and `cells`: the subcommands that
 * take an experiment file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiment/experiment.h"
#include "plugin/host.h"
#include "report/report.h"
#include "results/results.h"
#include "run/chain.h"
#include "run/memlimit.h"
#include "run/run.h"
#include "util/util.h"

struct exp_args {
	const char *file;
	const char *sets[64];
	int n_sets;
	const char *output;
	const char *cells_file;  /* --cells FILE */
	int report;              /* --report */
	struct pb_run_opts run;
};

static void usage(FILE *f, const char *cmd)
{
	fprintf(f, "usage: prunebench %s EXP.yaml [options]\n\n", cmd);
	fprintf(f, "  --set PATH=VALUE   override a setting (repeatable), e.g. --set repeat=5\n"
		   "  -o, --output DIR   results folder (default: the experiment's `output`)\n");
	if (!strcmp(cmd, "run"))
		fprintf(f, "  --cell ID          run only this cell\n"
			   "  --cells FILE       run only the cells listed in FILE (one id per line)\n"
			   "  --shard I/N        run the k-th selected cell when k %% N == I (0-based;\n"
			   "                     one shard per Slurm array task; a shard leaves\n"
			   "                     summary.csv to 'prunebench merge')\n"
			   "  --force            rerun cells that are already done\n"
			   "  --dry-run          list the cells that would run\n"
			   "  --reverse-order    run every round's shuffled order backwards (a check\n"
			   "                     that conclusions do not depend on the order)\n"
			   "  --progress MODE    auto (live line on a TTY), live, plain\n"
			   "  --report           write DIR/report/ (prunebench report) at the end\n"
			   "  --wait-quiet[=S]   before each cell's measured requests, wait at most S\n"
			   "                     seconds (default 60) until other processes use less\n"
			   "                     CPU than `contention_threshold` over 1 s\n"
			   "  -q, -v             quieter, more verbose\n");
	if (!strcmp(cmd, "cells"))
		fprintf(f, "  --shard I/N, --cell ID, --cells FILE   only these cells\n");
}

/* 0 ok, 2 usage error, -1 --help given */
static int parse_args(int argc, char **argv, struct exp_args *a)
{
	static const struct option longopts[] = {
		{ "set", required_argument, 0, 's' },
		{ "output", required_argument, 0, 'o' },
		{ "cell", required_argument, 0, 'c' },
		{ "cells", required_argument, 0, 'C' },
		{ "shard", required_argument, 0, 'S' },
		{ "force", no_argument, 0, 'f' },
		{ "dry-run", no_argument, 0, 'n' },
		{ "reverse-order", no_argument, 0, 'r' },
		{ "progress", required_argument, 0, 'p' },
		{ "report", no_argument, 0, 'R' },
		{ "wait-quiet", optional_argument, 0, 'W' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int opt;
	memset(a, 0, sizeof *a);
	a->run.progress = -1;
	a->run.color = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (a->n_sets == (int)PB_ARRAY_LEN(a->sets) || !strchr(optarg, '=')) {
				fprintf(stderr, "prunebench: --set %s: expected PATH=VALUE\n", optarg);
				return 2;
			}
			a->sets[a->n_sets++] = optarg;
			break;
		case 'o': a->output = optarg; break;
		case 'c': a->run.cell_id = optarg; break;
		case 'C': a->cells_file = optarg; break;
		case 'f': a->run.force = 1; break;
		case 'n': a->run.dry_run = 1; break;
		case 'r': a->run.reverse_order = 1; break;
		case 'q': pb_log_level_set(PB_LOG_WARN); break;
		case 'v': pb_log_level_set(PB_LOG_DEBUG); break;
		case 'S': {
			char *end;
			long i = strtol(optarg, &end, 10), n;
			if (*end != '/' || (n = strtol(end + 1, &end, 10)) <= 0 || *end || i < 0 || i >= n) {
				fprintf(stderr, "prunebench: --shard %s: expected I/N with 0 <= I < N\n", optarg);
				return 2;
			}
			a->run.shard_i = (int)i;
			a->run.shard_n = (int)n;
			break;
		}
		case 'R': a->report = 1; break;
		case 'W': {
			char *end;
			double v = optarg ? strtod(optarg, &end) : 60.0;
			if (optarg && (end == optarg || *end || !(v > 0) || v > 86400)) {
				fprintf(stderr, "prunebench: --wait-quiet=%s: expected seconds, "
					"0 < S <= 86400\n", optarg);
				return 2;
			}
			a->run.wait_quiet_s = v;
			break;
		}
		case 'p':
			if (!strcmp(optarg, "auto"))
				a->run.progress = -1;
			else if (!strcmp(optarg, "live"))
				a->run.progress = 1;
			else if (!strcmp(optarg, "plain"))
				a->run.progress = 0;
			else {
				fprintf(stderr, "prunebench: --progress %s: expected auto, live or plain\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout, argv[0]);
			return -1;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr, argv[0]);
		return 2;
	}
	a->file = argv[optind];
	return 0;
}

static struct pb_experiment *load(struct exp_args *a)
{
	struct pb_registry *reg = pb_cli_registry();
	struct pb_experiment *e = NULL;
	char err[2048];
	if (!reg)
		return NULL;
	int rc = pb_experiment_load(a->file, reg, a->sets, a->n_sets, &e, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	if (a->output)
		snprintf(e->output, sizeof e->output, "%s", a->output);
	if (a->cells_file && pb_cell_list_read(e, a->cells_file, &a->run.cell_list,
					       &a->run.n_cell_list, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench: %s\n", err);
		pb_experiment_free(e);
		return NULL;
	}
	return e;
}

static void unload(struct exp_args *a, struct pb_experiment *e)
{
	pb_cell_list_free(a->run.cell_list, a->run.n_cell_list);
	a->run.cell_list = NULL;
	a->run.n_cell_list = 0;
	pb_experiment_free(e);
}

/* Backends must be usable here; probes that are not are only a warning
 * (the cell records them as unavailable). */
static int check_available(const struct pb_experiment *e)
{
	char why[512];
	int bad = 0;
	for (int i = 0; i < e->n_backends; i++) {
		const struct pb_plugin *p = e->backends[i].step.plugin->desc;
		struct pb_host_ctx h;
		pb_host_init(&h, p->name, e->seed, 1);
		why[0] = '\0';
		if (p->available && p->available(&h.host, why, sizeof why) < 0) {
			fprintf(stderr, "%s: backend '%s' is not available here: %s\n", e->file,
				p->name, why[0] ? why : "no reason given");
			bad = 1;
		}
	}
	for (int i = 0; i < e->n_probes; i++) {
		const struct pb_plugin *p = e->probes[i].plugin->desc;
		struct pb_host_ctx h;
		pb_host_init(&h, p->name, e->seed, 1);
		why[0] = '\0';
		if (p->available && p->available(&h.host, why, sizeof why) < 0)
			fprintf(stderr, "%s: warning: probe '%s' unavailable here (its channels will be "
				"missing): %s\n", e->file, p->name, why);
	}
	return bad ? -1 : 0;
}

int pb_cmd_validate(int argc, char **argv)
{
	struct exp_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct pb_experiment *e = load(&a);
	if (!e)
		return 1;
	rc = check_available(e) < 0 ? 1 : 0;
	if (pb_chains_check(e, stderr) > 0)
		rc = 1;
	if (pb_inputs_check(e, stderr) > 0)
		rc = 1;
	printf("%s: experiment '%s', %d cells (%d models × %d datasets × %d pruner chains × %d backends",
	       e->file, e->name, e->n_cells, e->n_models, e->n_datasets, e->n_chains, e->n_backends);
	if (e->n_cells != e->n_models * e->n_datasets * e->n_chains * e->n_backends)
		printf(", after include/exclude");
	printf("), %d probes, output %s\n", e->n_probes, e->output);
	if (e->memory_limit_bytes) {
		char size[32];
		pb_size_format(e->memory_limit_bytes, size, sizeof size);
		printf("memory_limit %s per cell, enforced by %s\n", size, pb_memlimit_how_here());
	}
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		printf("  %s\n", c->id);
		for (int s = 0; s < c->chain->n_steps; s++)
			printf("      %d. %s\n", s + 1, c->chain->steps[s].label);
	}
	unload(&a, e);
	return rc;
}

int pb_cmd_cells(int argc, char **argv)
{
	struct exp_args a;
	char cells_dir[4096], reason[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct pb_experiment *e = load(&a);
	if (!e)
		return 1;
	pb_path_join(cells_dir, sizeof cells_dir, e->output, "cells");
	int counts[3] = { 0, 0, 0 };
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		if (!pb_run_selected(e, c, &a.run))
			continue;
		reason[0] = '\0';
		enum pb_cell_status s = pb_cell_status_read(cells_dir, c->id, reason, sizeof reason);
		counts[s]++;
		if (s == PB_CELL_PENDING && e->rounds > 1) {
			/* a multi-round cell being measured: which rounds are in */
			int have = 0;
			for (int k = 1; k <= e->rounds; k++) {
				char p[4800];
				struct stat st;
				snprintf(p, sizeof p, "%s/%s.rounds/r%d/manifest.yaml", cells_dir, c->id, k);
				have += stat(p, &st) == 0;
			}
			if (have)
				snprintf(reason, sizeof reason, "%d of %d rounds done", have, e->rounds);
		}
		printf("%-8s %s%s%s\n", pb_cell_status_name(s), c->id, reason[0] ? "  " : "", reason);
	}
	printf("%d done, %d failed, %d pending\n", counts[PB_CELL_DONE], counts[PB_CELL_FAILED],
	       counts[PB_CELL_PENDING]);
	unload(&a, e);
	return 0;
}

/* The summary table printed after a run: one row per selected cell. */
static void print_summary(const struct pb_experiment *e, const struct pb_run_opts *o,
			  const struct pb_run_stats *st)
{
	static const struct { const char *col, *title; double scale; } cols[] = {
		{ "sparsity_achieved", "sparsity", 1 },
		{ "ttft_ms_p50", "ttft_p50_ms", 1 },
		{ "ttft_ms_cv", "ttft_cv", 1 },
		{ "tpot_ms_p50", "tpot_p50_ms", 1 },
		{ "e2e_ms_p50", "e2e_p50_ms", 1 },
		{ "e2e_ms_p99", "e2e_p99_ms", 1 },
		{ "decode_tok_s_mean", "decode_tok/s", 1 },
		{ "rss_peak_bytes_measure", "rss_peak_MiB", 1.0 / (1024 * 1024) },
	};
	char cells_dir[4096], path[4096], err[512];
	pb_path_join(cells_dir, sizeof cells_dir, e->output, "cells");
	printf("\n%-56s %-7s", "cell", "status");
	for (size_t k = 0; k < PB_ARRAY_LEN(cols); k++)
		printf(" %12s", cols[k].title);
	printf("\n");
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		struct pb_table *t = NULL;
		if (!pb_run_selected(e, c, o))
			continue;
		if (snprintf(path, sizeof path, "%s/%s/summary.csv", cells_dir, c->id) >= (int)sizeof path ||
		    pb_csv_read(path, &t, err, sizeof err) < 0 || t->nrows < 1) {
			printf("%-56s %-7s\n", c->id, "pending");
			pb_table_free(t);
			continue;
		}
		int sc = pb_table_col(t, "status");
		printf("%-56s %-7s", c->id, sc >= 0 ? t->rows[0][sc] : "?");
		for (size_t k = 0; k < PB_ARRAY_LEN(cols); k++) {
			int j = pb_table_col(t, cols[k].col);
			const char *v = j >= 0 ? t->rows[0][j] : "";
			if (v[0])
				printf(" %12.4g", strtod(v, NULL) * cols[k].scale);
			else
				printf(" %12s", "-");
		}
		printf("\n");
		pb_table_free(t);
	}
	char merged[4096];
	pb_path_join(merged, sizeof merged, e->output, "summary.csv");
	if (st->merge_failed)
		printf("\n%s was not updated (see the merge error above)\n", merged);
	else if (access(merged, R_OK) == 0)
		printf("\nall columns: %s\n", merged);
}

int pb_cmd_run(int argc, char **argv)
{
	struct exp_args a;
	struct pb_run_stats st;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct pb_experiment *e = load(&a);
	if (!e)
		return 1;
	/* a chain that cannot run fails here, not in every one of its cells */
	if (check_available(e) < 0 || pb_chains_check(e, stderr) > 0) {
		unload(&a, e);
		return 1;
	}
	if (a.run.cell_id && !pb_experiment_cell(e, a.run.cell_id)) {
		fprintf(stderr, "prunebench: %s: no cell '%s' (see 'prunebench cells %s')\n",
			e->file, a.run.cell_id, e->file);
		unload(&a, e);
		return 1;
	}
	rc = pb_run_experiment(e, &a.run, &st);
	if (rc >= 0 && !a.run.dry_run && pb_log_level_get() >= PB_LOG_INFO)
		print_summary(e, &a.run, &st);
	/* --report: the page of the whole folder, whatever this run's share */
	if (rc >= 0 && a.report && !a.run.dry_run && !st.interrupted) {
		struct pb_report_opts ro = { .results_dir = e->output };
		if (pb_report_run(&ro) != 0 && rc == 0)
			rc = 1;
	}
	unload(&a, e);
	if (rc < 0)
		return 1;
	if (st.interrupted)
		return 130;
	return rc;
}

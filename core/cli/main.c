/* core/cli/main.c — `prunebench SUBCOMMAND ...`: dispatch, global flags
 * (-q, -v), the shared plugin registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb-config.h"
#include "cli/cli.h"
#include "plugin/registry.h"
#include "util/util.h"

static struct pb_registry *registry;

struct pb_registry *pb_cli_registry(void)
{
	if (!registry && pb_registry_open(&registry, NULL) < 0) {
		pb_log(PB_LOG_ERROR, "cannot scan the plugin folders");
		return NULL;
	}
	return registry;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "validate", pb_cmd_validate, "EXP.yaml            check an experiment and list its cells" },
	{ "run",      pb_cmd_run,      "EXP.yaml            run every pending cell (resumes)" },
	{ "cells",    pb_cmd_cells,    "EXP.yaml            cell ids and status" },
	{ "status",   pb_cmd_status,   "EXP.yaml            done/failed/pending cells, and Slurm tasks in the queue" },
	{ "slurm",    pb_cmd_slurm,    "EXP.yaml [--submit] a Slurm job array (one shard per task) + merge job" },
	{ "merge",    pb_cmd_merge,    "DIR                 rebuild DIR/summary.csv from the cell folders" },
	{ "plugins",  pb_cmd_plugins,  "[NAME]              plugins found, their versions and options" },
	{ "synth",    pb_cmd_synth,    "--preset P -o F     write a synthetic model (GGUF)" },
	{ "generate", pb_cmd_generate, "MODEL --prompt T    generate text; timings on stderr" },
	{ "tokenize", pb_cmd_tokenize, "MODEL --text T      token ids and pieces of a text (as llama-tokenize)" },
	{ "convert",  pb_cmd_convert,  "IN OUT.gguf [--type T] any model as GGUF (f32 … q4_0, k-quants, q4_k_m)" },
	{ "prune",    pb_cmd_prune,    "MODEL -p STEP -o F  compress one model with a chain of pruners (GGUF)" },
	{ "probe",    pb_cmd_probe,    "[NAMES...]          can each probe work here? sample and show its channels" },
	{ "serve",    pb_cmd_serve,    "MODEL [-p STEP]     serve a (compressed) model over OpenAI's HTTP API" },
	{ "report",   pb_cmd_report,   "RESULTS_DIR [-o D]  tables and charts as report/index.html and tables.md" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: prunebench [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < PB_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'prunebench COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	int i = 1, rc = 2;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-q"))
			pb_log_level_set(PB_LOG_WARN);
		else if (!strcmp(argv[i], "-v"))
			pb_log_level_set(PB_LOG_DEBUG);
		else if (!strcmp(argv[i], "--version")) {
			printf("prunebench %s (%s), plugin ABI %d\n", PB_VERSION, PB_GIT_REV, PB_ABI_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "prunebench: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < PB_ARRAY_LEN(commands); c++)
		if (!strcmp(argv[i], commands[c].name)) {
			rc = commands[c].fn(argc - i, argv + i);
			goto out;
		}
	fprintf(stderr, "prunebench: unknown command '%s'\n", argv[i]);
	usage(stderr);
out:
	if (registry)
		pb_registry_close(registry);
	return rc;
}

/* tests/fuzz/fuzz-experiment.c — an experiment file as `validate` reads
 * it: pb_experiment_load with the real plugin registry (the build tree's
 * plugins, so every plugin's option table is fuzzed too) and --set
 * overrides, then pb_chains_check.  The input is the YAML, then
 * optionally PB_FUZZ_SEP and one --set override per line.
 *
 * The file is written as <scratch>/experiments/exp.yaml beside links to
 * the files the examples and the test fixtures name (experiments/data,
 * models/, prompts.txt, data.jsonl, dummy-model.bin), so their seeds get
 * past the path checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment/experiment.h"
#include "fuzz.h"
#include "pb-config.h"
#include "plugin/registry.h"
#include "run/chain.h"
#include "util/util.h"

#define MAX_SETS 16

static struct pb_registry *reg;
static FILE *devnull;

static void link_source(const char *src_rel, const char *dst_rel)
{
	char src[1024], dst[1024];
	snprintf(src, sizeof src, "%s/%s", PB_SOURCE_ROOT, src_rel);
	snprintf(dst, sizeof dst, "%s/%s", pb_fuzz_dir(), dst_rel);
	if (symlink(src, dst) < 0)
		perror(dst);   /* the seeds that name it fail earlier: no finding lost */
}

static void registry_close(void)
{
	pb_registry_close(reg);
	fclose(devnull);
}

void pb_fuzz_init(void)
{
	if (pb_mkdir_p(pb_fuzz_path("experiments")) < 0)
		abort();
	link_source("experiments/data", "experiments/data");
	link_source("models", "models");
	link_source("tests/experiment/fixtures/prompts.txt", "experiments/prompts.txt");
	link_source("tests/experiment/fixtures/data.jsonl", "experiments/data.jsonl");
	link_source("tests/experiment/fixtures/dummy-model.bin", "experiments/dummy-model.bin");
	if (pb_registry_open(&reg, NULL) < 0 || !(devnull = fopen("/dev/null", "w"))) {
		fprintf(stderr, "pb-fuzz: cannot open the plugin registry\n");
		abort();
	}
	atexit(registry_close);
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	struct pb_fuzz_part parts[2];
	char *sets_text = NULL, *sets[MAX_SETS];
	int n_sets = 0;
	struct pb_experiment *e = NULL;
	char err[2048];
	const char *path = pb_fuzz_path("experiments/exp.yaml");

	int n = pb_fuzz_split(data, size, parts, 2);
	pb_fuzz_write(path, parts[0].p, parts[0].n);
	if (n == 2) {
		/* lines; a NUL inside one ends it, as it would on a command line */
		sets_text = malloc(parts[1].n + 1);
		if (!sets_text)
			abort();
		memcpy(sets_text, parts[1].p, parts[1].n);
		sets_text[parts[1].n] = '\0';
		for (char *s = sets_text, *nl; s && n_sets < MAX_SETS; s = nl) {
			nl = strchr(s, '\n');
			if (nl)
				*nl++ = '\0';
			sets[n_sets++] = s;
		}
	}
	int rc = pb_experiment_load(path, reg, (const char *const *)sets, n_sets, &e, err, sizeof err);
	if (rc == 0) {
		pb_chains_check(e, devnull);
		pb_experiment_free(e);
	}
	free(sets_text);
	return rc;
}

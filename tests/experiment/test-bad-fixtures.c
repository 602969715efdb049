/* tests/experiment/test-bad-fixtures.c — every fixtures/bad-*.yaml must fail
 * with the expected message at the exact line:col.  The table is the spec
 * of what a user sees for each mistake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

struct bad {
	const char *file;
	int line, col;          /* 0, 0: a message without position */
	const char *msg;        /* substring of the message */
};

static const struct bad bad[] = {
	{ "bad-syntax.yaml", 4, 9, "did not find expected ',' or '}' (while parsing a flow mapping at 3:6)" },
	{ "bad-unknown-setting.yaml", 2, 1, "unknown setting 'modles' (did you mean 'models'?)" },
	{ "bad-name-missing.yaml", 1, 1, "missing required setting 'name'" },
	{ "bad-name-chars.yaml", 1, 7, "name 'my experiment' may contain only letters, digits" },
	{ "bad-repeat-zero.yaml", 2, 9, "'repeat': expected an integer between 1 and 1000000, got '0'" },
	{ "bad-max-new-tokens.yaml", 2, 17, "'max_new_tokens': expected an integer between 1 and 65536, got '70000'" },
	{ "bad-timeout.yaml", 2, 10, "'timeout': expected seconds > 0, or a duration like '90s'" },
	{ "bad-seed-negative.yaml", 2, 7, "'seed': expected an unsigned integer" },
	{ "bad-models-seq.yaml", 2, 9, "'models': expected a mapping of name: spec, got a sequence" },
	{ "bad-models-empty.yaml", 2, 9, "'models': empty axis" },
	{ "bad-model-both.yaml", 5, 5, "model 'm': give either 'synth' or 'path', not both" },
	{ "bad-model-preset.yaml", 3, 18, "model 'small': unknown synth preset 'llama-16m' (did you mean 'llama-15m'?)" },
	{ "bad-model-key.yaml", 3, 29, "model 'small': unknown key 'sed' (did you mean 'seed'?)" },
	{ "bad-model-path-seed.yaml", 3, 33, "model 'file': 'seed' applies only to synth models" },
	{ "bad-model-ctx-preset.yaml", 3, 34, "model 'small': ctx 4096: preset 'llama-15m' has 256 positions" },
	{ "bad-model-ctx-zero.yaml", 3, 34, "'ctx': expected an integer between 1 and 1048576, got '0'" },
	{ "bad-model-not-map.yaml", 3, 10, "model 'small': expected a mapping with 'synth' or 'path', got a scalar" },
	{ "bad-dataset-missing.yaml", 5, 13, "dataset 'p': 'no-such-prompts.txt' does not exist" },
	{ "bad-dataset-format.yaml", 5, 34, "'format' is text, prompts, jsonl or csv, got 'jsonn' (did you mean 'jsonl'?)" },
	{ "bad-dataset-field-lines.yaml", 7, 5, "dataset 'p': 'field' applies only to jsonl and csv datasets" },
	{ "bad-dataset-reference-prompts.yaml", 5, 26, "dataset 'p': 'reference' applies only to jsonl and csv datasets" },
	{ "bad-dataset-ctx-prompts.yaml", 5, 26, "dataset 'p': 'ctx' applies only to text datasets" },
	{ "bad-dataset-prefix-text.yaml", 5, 40, "dataset 'p': 'prefix' applies only to prompts, jsonl and csv datasets" },
	{ "bad-dataset-stride.yaml", 5, 57, "dataset 'p': 'stride' (128) must not exceed 'ctx' (64)" },
	{ "bad-dataset-shuffle.yaml", 5, 35, "'shuffle': expected true or false, got 'yes please'" },
	{ "bad-dataset-calibration-key.yaml", 7, 29, "dataset 'p': unknown key 'seqlne' (did you mean 'seqlen'?)" },
	{ "bad-dataset-calibration-count.yaml", 7, 26, "'count': expected an integer between 1 and 1000000, got '0'" },
	{ "bad-dataset-both-fields.yaml", 5, 40, "dataset 'p': 'field' is the old name of 'input'; give one" },
	{ "bad-dataset-key.yaml", 5, 25, "dataset 'p': unknown key 'refrence' (did you mean 'reference'?)" },
	{ "bad-score-tokens.yaml", 2, 15, "'score_tokens': expected an integer between 0 and 100000000, got '-1'" },
	{ "bad-pruner-unknown.yaml", 8, 7, "unknown pruner 'magnitud' (did you mean 'magnitude'?)" },
	{ "bad-pruner-failed.yaml", 8, 7, "pruner 'wanda' failed to load: undefined symbol: cblas_sgemm" },
	{ "bad-option-unknown.yaml", 8, 19, "pruner 'magnitude': unknown option 'sparsty' (did you mean 'sparsity'?)" },
	{ "bad-option-range.yaml", 9, 19, "pruner 'magnitude': option 'sparsity': expected a number between 0 and 1, got '1.5'" },
	{ "bad-option-enum.yaml", 8, 43, "option 'tensors': expected one of all|linear|attention|ffn, got 'linaer' (did you mean 'linear'?)" },
	{ "bad-option-required.yaml", 10, 7, "pruner 'magnitude': missing required option 'sparsity'" },
	{ "bad-option-bool.yaml", 8, 43, "option 'per_row': expected true or false, got 'maybe'" },
	{ "bad-option-null.yaml", 9, 18, "option 'sparsity': expected a value, got nothing" },
	{ "bad-step-multikey.yaml", 8, 7, "pruners 'both': step 1: a step is a single-key map 'plugin: {options}', this one has 2 keys" },
	{ "bad-chain-not-list.yaml", 8, 5, "pruners 'mag': expected a list of steps ([] for the dense baseline), got a mapping" },
	{ "bad-sweep-empty.yaml", 8, 37, "'sparsity': empty sweep" },
	{ "bad-sweep-not-list.yaml", 8, 37, "'sparsity': sweep expects a list of values, got a scalar" },
	{ "bad-sweep-toplevel.yaml", 2, 9, "'repeat': a sweep is only allowed inside an entry of models, datasets, pruners or backends" },
	{ "bad-sweep-duplicate.yaml", 9, 3, "pruners: duplicate entry name 'mag-sparsity0.3' after sweep expansion" },
	{ "bad-sweep-item-map.yaml", 8, 43, "'sparsity': a swept value must be a scalar, got a mapping" },
	{ "bad-duplicate-key.yaml", 4, 1, "duplicate key 'repeat' (first at 2:1)" },
	{ "bad-backend-unknown.yaml", 6, 12, "unknown backend 'reff' (did you mean 'ref'?)" },
	{ "bad-backend-option.yaml", 7, 9, "backend 'ref': unknown option 'thread' (did you mean 'threads'?)" },
	{ "bad-backends-missing.yaml", 1, 1, "missing required setting 'backends'" },
	{ "bad-backends-empty.yaml", 6, 11, "'backends': empty axis" },
	{ "bad-probe-unknown.yaml", 8, 5, "unknown probe 'procstats' (did you mean 'procstat'?)" },
	{ "bad-probe-sweep.yaml", 8, 27, "probe 'procstat': option 'interval_ms': a sweep is only allowed" },
	{ "bad-exclude-axis.yaml", 8, 6, "'exclude': unknown axis 'prunner'; use model, dataset, pruner or backend (did you mean 'pruner'?)" },
	{ "bad-exclude-name.yaml", 10, 28, "no pruner named 'dens' (did you mean 'dense'?)" },
	{ "bad-include-none.yaml", 8, 3, "the include/exclude rules leave no cells to run" },
	{ "bad-rule-empty.yaml", 8, 5, "'exclude': rule 1: expected a mapping of axis: name, got an empty mapping" },
	{ "bad-alias-cycle.yaml", 2, 9, "alias cycle" },
	{ "bad-merge-scalar.yaml", 5, 5, "'<<' merges a mapping or a list of mappings" },
	{ "bad-defaults-unknown.yaml", 7, 3, "unknown plugin 'procstt' (did you mean 'procstat'?)" },
	{ "bad-defaults-option.yaml", 7, 27, "defaults: probe 'procstat': option 'interval_ms': expected a number between 1 and 10000, got '0'" },
	{ "bad-top-seq.yaml", 1, 1, "expected a mapping of settings at the top level, got a sequence" },
	{ "bad-two-docs.yaml", 3, 1, "a second YAML document" },
	{ "bad-string-too-long.yaml", 10, 39, "option 'tag': expected a string of at most 255 bytes, got 300 bytes" },
	{ "bad-entry-name.yaml", 3, 3, "name 'my model' may contain only letters, digits" },
	{ "bad-backend-item.yaml", 8, 5, "'backends': item 2: expected a plugin name or 'plugin: {options}', got a sequence" },
	{ "bad-probe-twice.yaml", 7, 26, "probes: 'procstat' is listed twice" },
	{ "bad-idle-baseline.yaml", 2, 16, "'idle_baseline': expected seconds between 0 and 3600 (or a duration like '30s', '2m'), got '-2'" },
	{ "bad-throttle-pct.yaml", 2, 15, "'throttle_pct': expected a number between 0 and 100, got '150'" },
	{ "bad-cooldown-scalar.yaml", 2, 11, "'cooldown': expected a mapping {max_temp_c, timeout_s}, got a scalar" },
	{ "bad-cooldown-key.yaml", 2, 12, "'cooldown': unknown key 'max_temp' (did you mean 'max_temp_c'?)" },
	{ "bad-cooldown-missing.yaml", 3, 3, "'cooldown': missing 'max_temp_c'" },
	{ "bad-cooldown-timeout.yaml", 2, 39, "'timeout_s': expected seconds between 0.001 and 86400" },
	{ "bad-empty.yaml", 0, 0, "the file is empty" },
};

START_TEST(test_bad_fixture)
{
	const struct bad *b = &bad[_i];
	char path[1024], err[1024], prefix[1100];
	struct pb_experiment *e = (struct pb_experiment *)1;

	snprintf(path, sizeof path, "%s/%s", fixtures(), b->file);
	int ret = pb_experiment_load(path, &fake_registry, NULL, 0, &e, err, sizeof err);
	ck_assert_msg(ret == -EINVAL, "%s: expected -EINVAL, got %d (%s)", b->file, ret, err);
	ck_assert_ptr_null(e);
	if (b->line)
		snprintf(prefix, sizeof prefix, "%s:%d:%d: ", path, b->line, b->col);
	else
		snprintf(prefix, sizeof prefix, "%s: ", path);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)),
		      "%s: expected position %d:%d, got: %s", b->file, b->line, b->col, err);
	ck_assert_msg(strstr(err, b->msg), "%s: expected '%s' in: %s", b->file, b->msg, err);
}
END_TEST

/* Every bad-*.yaml in fixtures/ has a row (a new fixture without one would
 * silently test nothing). */
START_TEST(test_bad_table_complete)
{
	char cmd[1200], line[512];
	snprintf(cmd, sizeof cmd, "cd '%s' && ls bad-*.yaml", fixtures());
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	int n = 0;
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		size_t i;
		for (i = 0; i < PB_ARRAY_LEN(bad); i++)
			if (!strcmp(bad[i].file, line))
				break;
		ck_assert_msg(i < PB_ARRAY_LEN(bad), "fixture %s has no row in the table", line);
		n++;
	}
	pclose(p);
	ck_assert_int_eq(n, (int)PB_ARRAY_LEN(bad));
	ck_assert_int_ge(n, 30);
}
END_TEST

TCase *tcase_bad_fixtures(void)
{
	TCase *tc = tcase_create("bad-fixtures");
	tcase_add_loop_test(tc, test_bad_fixture, 0, PB_ARRAY_LEN(bad));
	tcase_add_test(tc, test_bad_table_complete);
	return tc;
}

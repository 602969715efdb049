/* tests/experiment/test-experiment.c — the experiment room: YAML to cells.
 * Sections, sweeps and the matrix, include/exclude, anchors and merge keys,
 * --set, config text and ids; the bad fixtures and option tables are in
 * their own files of this suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fake.h"

#define BASE \
	"name: t\n" \
	"models:\n  m: {synth: llama-15m}\n" \
	"datasets:\n  p: {path: prompts.txt}\n"

static struct pb_experiment *load_ok(const char *yaml, const char *const *sets, int n)
{
	struct pb_experiment *e = NULL;
	char err[1024] = "";
	int ret = load_text(yaml, sets, n, &e, err, sizeof err);
	ck_assert_msg(ret == 0, "load failed (%d): %s", ret, err);
	ck_assert_ptr_nonnull(e);
	return e;
}

/* Load expecting an error; returns the message after "<file>:". */
static const char *load_bad(const char *yaml, const char *const *sets, int n)
{
	static char err[1024];
	struct pb_experiment *e = NULL;
	int ret = load_text(yaml, sets, n, &e, err, sizeof err);
	ck_assert_msg(ret == -EINVAL, "expected -EINVAL, got %d", ret);
	ck_assert_ptr_null(e);
	return err;
}

static void assert_has(const char *s, const char *sub)
{
	ck_assert_msg(strstr(s, sub), "expected '%s' in: %s", sub, s);
}

static int mem_has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

START_TEST(test_full_example)
{
	char path[1024], err[1024];
	struct pb_experiment *e;
	snprintf(path, sizeof path, "%s/good-full.yaml", fixtures());
	int ret = pb_experiment_load(path, &fake_registry, NULL, 0, &e, err, sizeof err);
	ck_assert_msg(ret == 0, "%s", err);

	ck_assert_str_eq(e->name, "quickstart");
	ck_assert_str_eq(e->file, path);
	ck_assert_str_eq(e->dir, fixtures());
	ck_assert_uint_eq(e->seed, 42);
	ck_assert_str_eq(e->output, "results/quickstart");
	ck_assert_int_eq(e->repeat, 3);
	ck_assert_int_eq(e->warmup, 1);
	ck_assert_int_eq(e->max_new_tokens, 32);
	ck_assert_int_eq(e->max_samples, 8);
	ck_assert(e->timeout_s == 120);
	ck_assert(e->idle_baseline_s == 5);
	ck_assert(e->cooldown && e->cooldown_max_temp_c == 60 && e->cooldown_timeout_s == 120);
	ck_assert(e->throttle_pct == 90);
	ck_assert_uint_gt(e->yaml_len, 100);
	ck_assert(mem_has_prefix(e->yaml, "# The README's example"));

	ck_assert_int_eq(e->n_models, 2);
	ck_assert_str_eq(e->models[0].name, "llama-15m");
	ck_assert_int_eq(e->models[0].source, PB_MODEL_SYNTH);
	ck_assert_str_eq(e->models[0].preset, "llama-15m");
	ck_assert_uint_eq(e->models[0].seed, 1);
	ck_assert_int_eq(e->models[1].source, PB_MODEL_FILE);
	snprintf(path, sizeof path, "%s/dummy-model.bin", fixtures());
	ck_assert_str_eq(e->models[1].path, path);

	ck_assert_int_eq(e->n_datasets, 2);
	ck_assert_int_eq(e->datasets[0].format, PB_DATASET_PROMPTS);
	ck_assert_int_eq(e->datasets[1].format, PB_DATASET_JSONL);
	ck_assert_str_eq(e->datasets[1].input, "prompt");

	ck_assert_int_eq(e->n_chains, 3);
	ck_assert_str_eq(e->chains[0].name, "dense");
	ck_assert_int_eq(e->chains[0].n_steps, 0);
	ck_assert_str_eq(e->chains[1].name, "mag-sparsity0.3");
	ck_assert_str_eq(e->chains[2].name, "mag-sparsity0.6");
	ck_assert_int_eq(e->chains[1].n_steps, 1);
	const struct mag_cfg *mc = e->chains[2].steps[0].config;
	ck_assert(mc->sparsity == 0.6);
	ck_assert_int_eq(mc->tensors, 0);
	ck_assert_str_eq(e->chains[1].steps[0].label, "magnitude(sparsity=0.3)");
	ck_assert_str_eq(e->chains[1].steps[0].plugin->desc->name, "magnitude");

	ck_assert_int_eq(e->n_backends, 2);
	ck_assert_str_eq(e->backends[1].name, "fast");
	ck_assert_str_eq(e->backends[1].step.plugin->desc->name, "cpu-blas");
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[1].step.config)->threads, 4);
	ck_assert_str_eq(e->backends[1].step.label, "cpu-blas(threads=4)");
	ck_assert_str_eq(e->backends[0].step.label, "ref");

	ck_assert_int_eq(e->n_probes, 1);
	ck_assert(((const struct procstat_cfg *)e->probes[0].config)->interval_ms == 50);

	/* 2*2*3*2 = 24; include llama-* keeps 12; exclude dense x fast drops 2. */
	ck_assert_int_eq(e->n_cells, 10);
	const char *want[] = {
		"llama-15m.prompts.dense.ref", "llama-15m.prompts.mag-sparsity0.3.ref",
		"llama-15m.prompts.mag-sparsity0.3.fast", "llama-15m.prompts.mag-sparsity0.6.ref",
		"llama-15m.prompts.mag-sparsity0.6.fast", "llama-15m.qa.dense.ref",
	};
	const int want_index[] = { 0, 2, 3, 4, 5, 6 };
	for (int i = 0; i < 6; i++) {
		ck_assert_msg(mem_has_prefix(e->cells[i].id, want[i]), "cell %d: %s", i, e->cells[i].id);
		ck_assert_int_eq(e->cells[i].index, want_index[i]);
		ck_assert_uint_eq(strlen(e->cells[i].id), strlen(want[i]) + 9);
		ck_assert_ptr_eq(pb_experiment_cell(e, e->cells[i].id), &e->cells[i]);
	}
	ck_assert_ptr_null(pb_experiment_cell(e, "nope"));
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_defaults_and_settings)
{
	struct pb_experiment *e = load_ok(
		"name: t\n"
		"models:\n  m: {synth: llama-110m}\n"
		"datasets:\n  p: {path: prompts.txt}\n  j: {path: data.jsonl, input: text}\n"
		"  l: {path: data.jsonl, format: prompts}\n"
		"backends: [ref]\n", NULL, 0);
	ck_assert_uint_eq(e->seed, 0);
	ck_assert_str_eq(e->output, "results/t");
	ck_assert_int_eq(e->repeat, 1);
	ck_assert_int_eq(e->warmup, 1);
	ck_assert_int_eq(e->max_new_tokens, 32);
	ck_assert_int_eq(e->max_samples, 0);
	ck_assert_int_eq(e->score_tokens, 4096);
	ck_assert(e->timeout_s == 600);
	ck_assert_uint_eq(e->models[0].seed, 0);   /* experiment seed */
	ck_assert_int_eq(e->n_chains, 1);          /* no pruners: dense alone */
	ck_assert_str_eq(e->chains[0].name, "dense");
	ck_assert_int_eq(e->datasets[1].format, PB_DATASET_JSONL);
	ck_assert_str_eq(e->datasets[1].input, "text");
	ck_assert_int_eq(e->datasets[2].format, PB_DATASET_PROMPTS);
	ck_assert_ptr_eq(e->registry, &fake_registry);
	ck_assert_int_eq(e->n_probes, 0);
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[0].step.config)->threads, 1);
	pb_experiment_free(e);

	const char *tm[][2] = { { "90", "90" }, { "90s", "90" }, { "5m", "300" }, { "1h", "3600" },
				{ "0.5", "0.5" } };
	for (size_t i = 0; i < PB_ARRAY_LEN(tm); i++) {
		char y[512];
		snprintf(y, sizeof y, BASE "seed: 7\ntimeout: %s\nbackends: [ref]\n", tm[i][0]);
		e = load_ok(y, NULL, 0);
		ck_assert(e->timeout_s == atof(tm[i][1]));
		ck_assert_uint_eq(e->models[0].seed, 7);
		pb_experiment_free(e);
	}
	assert_has(load_bad(BASE "timeout: 0\nbackends: [ref]\n", NULL, 0), "'timeout'");
	assert_has(load_bad(BASE "timeout: 5d\nbackends: [ref]\n", NULL, 0), "'timeout'");
}
END_TEST

/* memory_limit (issue 14, item 13): sizes with units, none by default,
 * refused with its position when it is no size; not part of the id. */
START_TEST(test_memory_limit)
{
	static const struct { const char *text; uint64_t bytes; } ok[] = {
		{ "2GiB", 2ull << 30 }, { "1.5G", 3ull << 29 }, { "100 MB", 100000000ull },
		{ "4000000000", 4000000000ull },
	};
	struct pb_experiment *e = load_ok(BASE "backends: [ref]\n", NULL, 0);
	ck_assert_uint_eq(e->memory_limit_bytes, 0);
	char id[1024];
	snprintf(id, sizeof id, "%s", e->cells[0].id);
	pb_experiment_free(e);
	for (size_t i = 0; i < PB_ARRAY_LEN(ok); i++) {
		char y[512];
		snprintf(y, sizeof y, BASE "memory_limit: %s\nbackends: [ref]\n", ok[i].text);
		e = load_ok(y, NULL, 0);
		ck_assert_uint_eq(e->memory_limit_bytes, ok[i].bytes);
		ck_assert_str_eq(e->cells[0].id, id);
		pb_experiment_free(e);
	}
	static const char *const bad[] = { "2 lots", "1M", "GiB" };
	for (size_t i = 0; i < PB_ARRAY_LEN(bad); i++) {
		char y[512];
		snprintf(y, sizeof y, BASE "memory_limit: %s\nbackends: [ref]\n", bad[i]);
		const char *err = load_bad(y, NULL, 0);
		assert_has(err, ":6:15: 'memory_limit': expected a size");
	}
	/* the parser alone, for the cases a whole experiment need not load for */
	uint64_t v;
	ck_assert_int_eq(pb_size_parse("512MiB", &v), 0);
	ck_assert_uint_eq(v, 512ull << 20);
	ck_assert_int_eq(pb_size_parse("64M", &v), 0);
	ck_assert_uint_eq(v, 64ull << 20);
	ck_assert_int_eq(pb_size_parse("1TiB", &v), 0);
	ck_assert_uint_eq(v, 1ull << 40);
	ck_assert_int_eq(pb_size_parse("-1G", &v), -EINVAL);
	ck_assert_int_eq(pb_size_parse("1e400", &v), -EINVAL);
	ck_assert_int_eq(pb_size_parse("1e30T", &v), -ERANGE);
	char out[32];
	pb_size_format(2ull << 30, out, sizeof out);
	ck_assert_str_eq(out, "2 GiB");
	pb_size_format(3ull << 29, out, sizeof out);
	ck_assert_str_eq(out, "1.5 GiB");
	pb_size_format(512ull << 20, out, sizeof out);
	ck_assert_str_eq(out, "512 MiB");
	pb_size_format(100, out, sizeof out);
	ck_assert_str_eq(out, "100 bytes");
}
END_TEST

START_TEST(test_plugin_defaults_section)
{
	struct pb_experiment *e = load_ok(BASE
		"defaults:\n"
		"  magnitude: {tensors: ffn, seed: 9}\n"
		"  ref: {threads: 3}\n"
		"pruners:\n"
		"  a: [{magnitude: {sparsity: 0.5}}]\n"
		"  b: [{magnitude: {sparsity: 0.5, tensors: attention}}]\n"
		"backends:\n  ref:\n  big: {plugin: ref, threads: 8}\n", NULL, 0);
	const struct mag_cfg *a = e->chains[0].steps[0].config, *b = e->chains[1].steps[0].config;
	ck_assert_int_eq(a->tensors, 3);
	ck_assert_int_eq(a->seed, 9);
	ck_assert_int_eq(b->tensors, 2);    /* the entry's own option wins */
	ck_assert_int_eq(b->seed, 9);
	ck_assert_str_eq(e->chains[0].steps[0].label, "magnitude(sparsity=0.5,tensors=ffn,seed=9)");
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[0].step.config)->threads, 3);
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[1].step.config)->threads, 8);
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_sweeps)
{
	struct pb_experiment *e = load_ok(
		"name: t\n"
		"models:\n  m: {synth: {sweep: [llama-15m, llama-110m]}, seed: {sweep: [1, 2]}}\n"
		"datasets:\n  p: {path: {sweep: [prompts.txt, data.jsonl]}}\n"
		"pruners:\n"
		"  two:\n"
		"    - random: {sparsity: {sweep: [0.1, 0.2]}}\n"
		"    - magnitude: {sparsity: 0.5, tensors: {sweep: [ffn, all, linear]}}\n"
		"backends:\n  ref: {threads: {sweep: [1, 4]}}\n", NULL, 0);
	const char *models[] = { "m-synthllama-15m-seed1", "m-synthllama-15m-seed2",
				 "m-synthllama-110m-seed1", "m-synthllama-110m-seed2" };
	ck_assert_int_eq(e->n_models, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(e->models[i].name, models[i]);
	ck_assert_uint_eq(e->models[3].seed, 2);
	ck_assert_str_eq(e->models[3].preset, "llama-110m");
	ck_assert_int_eq(e->n_datasets, 2);
	ck_assert_str_eq(e->datasets[0].name, "p-pathprompts.txt");
	ck_assert_str_eq(e->datasets[1].name, "p-pathdata.jsonl");
	ck_assert_int_eq(e->datasets[1].format, PB_DATASET_JSONL);
	ck_assert_int_eq(e->n_chains, 6);
	ck_assert_str_eq(e->chains[0].name, "two-sparsity0.1-tensorsffn");
	ck_assert_str_eq(e->chains[1].name, "two-sparsity0.1-tensorsall");
	ck_assert_str_eq(e->chains[5].name, "two-sparsity0.2-tensorslinear");
	ck_assert(((const struct mag_cfg *)e->chains[5].steps[0].config)->sparsity == 0.2);
	ck_assert_int_eq(((const struct mag_cfg *)e->chains[5].steps[1].config)->tensors, 1);
	ck_assert_str_eq(e->chains[5].steps[0].label, "random(sparsity=0.2)");
	ck_assert_str_eq(e->chains[5].steps[1].label, "magnitude(sparsity=0.5,tensors=linear)");
	ck_assert_str_eq(e->chains[1].steps[1].label, "magnitude(sparsity=0.5)");
	ck_assert_int_eq(e->n_backends, 2);
	ck_assert_str_eq(e->backends[1].name, "ref-threads4");
	ck_assert_int_eq(e->n_cells, 4 * 2 * 6 * 2);
	/* Model outermost, backend innermost. */
	ck_assert(mem_has_prefix(e->cells[0].id, "m-synthllama-15m-seed1.p-pathprompts.txt.two-sparsity0.1-tensorsffn.ref-threads1-"));
	ck_assert(mem_has_prefix(e->cells[1].id, "m-synthllama-15m-seed1.p-pathprompts.txt.two-sparsity0.1-tensorsffn.ref-threads4-"));
	ck_assert(mem_has_prefix(e->cells[2].id, "m-synthllama-15m-seed1.p-pathprompts.txt.two-sparsity0.1-tensorsall.ref-threads1-"));
	ck_assert(mem_has_prefix(e->cells[12].id, "m-synthllama-15m-seed1.p-pathdata.jsonl."));
	ck_assert(mem_has_prefix(e->cells[24].id, "m-synthllama-15m-seed2."));
	for (int i = 0; i < e->n_cells; i++)
		ck_assert_int_eq(e->cells[i].index, i);
	pb_experiment_free(e);

	/* An error inside a swept value points at that value in the list. */
	const char *err = load_bad(BASE "pruners:\n  m: [{magnitude: {sparsity: {sweep: [0.3, 2]}}}]\n"
				   "backends: [ref]\n", NULL, 0);
	assert_has(err, "exp.yaml:7:44: pruner 'magnitude': option 'sparsity': expected a number between 0 and 1, got '2'");
	/* Sweep values with odd characters stay filesystem-safe in names. */
	e = load_ok(BASE "backends:\n  ref: {threads: {sweep: [\"+2\"]}}\n", NULL, 0);
	ck_assert_str_eq(e->backends[0].name, "ref-threads_2");
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_include_exclude)
{
	const char *y = "name: t\n"
		"models:\n  a: {synth: llama-15m}\n  b: {synth: llama-110m}\n"
		"datasets:\n  p: {path: prompts.txt}\n"
		"pruners:\n  dense: []\n  mag: [{magnitude: {sparsity: {sweep: [0.3, 0.6]}}}]\n"
		"backends: [ref, cpu-blas]\n";
	char buf[2048];
	struct pb_experiment *e = load_ok(y, NULL, 0);
	ck_assert_int_eq(e->n_cells, 12);
	pb_experiment_free(e);

	/* A rule may name the entry before sweeps (mag) or a glob. */
	snprintf(buf, sizeof buf, "%sexclude:\n  - {pruner: mag, backend: ref}\n  - {model: b, pruner: \"dense\"}\n", y);
	e = load_ok(buf, NULL, 0);
	ck_assert_int_eq(e->n_cells, 12 - 4 - 2);
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		ck_assert(!(strstr(c->chain->name, "mag") && !strcmp(c->backend->name, "ref")));
		ck_assert(!(!strcmp(c->model->name, "b") && !strcmp(c->chain->name, "dense")));
	}
	pb_experiment_free(e);

	snprintf(buf, sizeof buf, "%sinclude:\n  - {pruner: \"*0.6\"}\n  - {model: a, backend: \"cpu-*\", pruner: dense}\n", y);
	e = load_ok(buf, NULL, 0);
	ck_assert_int_eq(e->n_cells, 4 + 1);
	ck_assert(mem_has_prefix(e->cells[0].id, "a.p.dense.cpu-blas-"));
	ck_assert(mem_has_prefix(e->cells[1].id, "a.p.mag-sparsity0.6.ref-"));
	ck_assert_int_eq(e->cells[0].index, 1);
	pb_experiment_free(e);

	/* include and exclude together: exclude applies to what include kept. */
	snprintf(buf, sizeof buf, "%sinclude:\n  - {model: a}\nexclude:\n  - {backend: cpu-blas}\n", y);
	e = load_ok(buf, NULL, 0);
	ck_assert_int_eq(e->n_cells, 3);
	pb_experiment_free(e);
}
END_TEST

START_TEST(test_anchors_merge)
{
	struct pb_experiment *e = load_ok(
		"name: t\n"
		"x-common: &common {sparsity: 0.4, tensors: ffn}\n"
		"x-seed: &seed {seed: 5}\n"
		"models:\n  m: &model {synth: llama-15m}\n  m2: {<<: [*model, *seed]}\n"
		"  m3: {<<: *model, seed: 6, synth: llama-110m}\n"
		"datasets:\n  p: {path: prompts.txt}\n"
		"pruners:\n"
		"  a: [{magnitude: *common}]\n"
		"  b: [{magnitude: {<<: *common, tensors: all}}]\n"
		"  c: [{random: {sparsity: &s 0.25}}, {magnitude: {sparsity: *s}}]\n"
		"backends:\n  ref: &r {threads: 2}\n  cpu-blas: *r\n", NULL, 0);
	ck_assert_int_eq(e->n_models, 3);
	ck_assert_uint_eq(e->models[1].seed, 5);
	ck_assert_str_eq(e->models[1].preset, "llama-15m");
	ck_assert_uint_eq(e->models[2].seed, 6);
	ck_assert_str_eq(e->models[2].preset, "llama-110m");   /* explicit beats merged */
	const struct mag_cfg *a = e->chains[0].steps[0].config, *b = e->chains[1].steps[0].config;
	ck_assert(a->sparsity == 0.4 && a->tensors == 3);
	ck_assert(b->sparsity == 0.4 && b->tensors == 0);
	ck_assert(((const struct mag_cfg *)e->chains[2].steps[1].config)->sparsity == 0.25);
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[1].step.config)->threads, 2);
	pb_experiment_free(e);

	/* Exponential alias expansion is bounded. */
	char bomb[4096] = "name: t\nx-0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
	for (int i = 1; i < 9; i++) {
		char l[200];
		snprintf(l, sizeof l, "x-%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
			 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
		strcat(bomb, l);
	}
	assert_has(load_bad(bomb, NULL, 0), "alias expansion");
	/* A merge key whose mapping merges itself. */
	assert_has(load_bad("name: t\nmodels: &m {<<: *m}\n", NULL, 0), "exp.yaml:2:");
}
END_TEST

START_TEST(test_set)
{
	const char *y = BASE "repeat: 2\n"
		"pruners:\n  dense: []\n  mag:\n    - magnitude: {sparsity: 0.3}\n"
		"backends:\n  ref:\n";
	const char *sets[] = {
		"repeat=5", "backends.ref.threads=4", "pruners.mag.0.magnitude.sparsity=0.5",
		"pruners.extra=[{random: {sparsity: 0.1}}]", "backends.cpu=[]", "probes=[procstat]",
		"seed=11", "name=renamed",
	};
	struct pb_experiment *e = load_ok(y, sets, 3);
	ck_assert_int_eq(e->repeat, 5);
	ck_assert_int_eq(((const struct ref_cfg *)e->backends[0].step.config)->threads, 4);
	ck_assert(((const struct mag_cfg *)e->chains[1].steps[0].config)->sparsity == 0.5);
	pb_experiment_free(e);

	const char *sets2[] = { "pruners.extra=[{random: {sparsity: 0.1}}]", "probes=[procstat]",
				"seed=11", "name=renamed", "pruners.mag=[]" };
	e = load_ok(y, sets2, 5);
	ck_assert_int_eq(e->n_chains, 3);
	ck_assert_str_eq(e->chains[2].name, "extra");
	ck_assert_int_eq(e->chains[1].n_steps, 0);
	ck_assert_int_eq(e->n_probes, 1);
	ck_assert_uint_eq(e->seed, 11);
	ck_assert_str_eq(e->name, "renamed");
	pb_experiment_free(e);

	/* A sweep given on the command line. */
	const char *sets3[] = { "pruners.mag.0.magnitude.sparsity={sweep: [0.1, 0.2]}" };
	e = load_ok(y, sets3, 1);
	ck_assert_int_eq(e->n_chains, 3);
	ck_assert_str_eq(e->chains[2].name, "mag-sparsity0.2");
	pb_experiment_free(e);

	/* Errors name the --set. */
	const char *b1[] = { "repeat" };
	ck_assert_str_eq(load_bad(y, b1, 1), "--set repeat: expected path.to.key=value");
	const char *b2[] = { "repeat.x=1" };
	ck_assert_str_eq(load_bad(y, b2, 1), "--set repeat.x=1: 'repeat' is a scalar, so it has no 'x'");
	const char *b3[] = { "pruners.mag.3.magnitude=1" };
	ck_assert_str_eq(load_bad(y, b3, 1),
			 "--set pruners.mag.3.magnitude=1: 'pruners.mag' is a sequence of 1 items; '3' is not an index from 0 to 0");
	const char *b4[] = { "repeat=0" };
	assert_has(load_bad(y, b4, 1), "--set repeat=0: 'repeat': expected an integer between 1 and 1000000");
	const char *b5[] = { "backends.ref.thread=2" };
	ck_assert_str_eq(load_bad(y, b5, 1),
			 "--set backends.ref.thread=2: backend 'ref': unknown option 'thread' (did you mean 'threads'?)");
	const char *b6[] = { "pruners..x=1" };
	assert_has(load_bad(y, b6, 1), "--set pruners..x=1: empty segment");
	const char *b7[] = { "repeat=[1" };
	assert_has(load_bad(y, b7, 1), "--set repeat=[1: ");
	const char *b8[] = { "=1" };
	assert_has(load_bad(y, b8, 1), "--set =1: empty path");
	const char *b9[] = { "modles.m.synth=x" };
	assert_has(load_bad(y, b9, 1), "--set modles.m.synth=x: unknown setting 'modles' (did you mean 'models'?)");
}
END_TEST

static int yaml_valid(const char *text)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	int ok = yaml_parser_load(&p, &d);
	if (ok) {
		ok = yaml_document_get_root_node(&d) &&
		     yaml_document_get_root_node(&d)->type == YAML_MAPPING_NODE;
		yaml_document_delete(&d);
	}
	yaml_parser_delete(&p);
	return ok;
}

START_TEST(test_config_text)
{
	struct pb_experiment *e = load_ok(BASE
		"pruners:\n  mag: [{magnitude: {sparsity: 0.3, tag: \"a \\\"quoted\\\": \\\\ thing\\t\"}}]\n"
		"backends: [ref]\nprobes: [procstat, rapl]\n", NULL, 0);
	const char *t = e->cells[0].config_text;
	ck_assert_msg(yaml_valid(t), "config_text is not valid YAML:\n%s", t);
	const char *want =
		"model:\n  synth: \"llama-15m\"\n  seed: 0\n"
		"dataset:\n  file: \"prompts.txt\"\n  format: prompts\n"
		"chain:\n  - magnitude:\n      sparsity: 0.3\n      tensors: \"all\"\n      per_row: false\n"
		"      seed: 0\n      tag: \"a \\\"quoted\\\": \\\\ thing\\x09\"\n"
		"backend:\n  ref:\n    threads: 1\n"
		"probes:\n  - procstat:\n      interval_ms: 100\n  - rapl: {}\n"
		"seed: 0\nrepeat: 1\nwarmup: 1\nmax_new_tokens: 32\nmax_samples: 0\n"
		"score_tokens: 4096\n";
	ck_assert_str_eq(t, want);
	ck_assert(!strstr(t, tmp_dir()));   /* no machine-specific paths */
	pb_experiment_free(e);

	e = load_ok(BASE "pruners:\n  dense: []\nbackends: [ref]\n", NULL, 0);
	ck_assert_msg(yaml_valid(e->cells[0].config_text), "%s", e->cells[0].config_text);
	assert_has(e->cells[0].config_text, "chain: []\n");
	assert_has(e->cells[0].config_text, "probes: []\n");
	ck_assert_double_eq(e->idle_baseline_s, 0);
	ck_assert_int_eq(e->cooldown, 0);
	ck_assert_double_eq(e->throttle_pct, 90);
	pb_experiment_free(e);

	/* measurement conditions: parsed, in the config text */
	e = load_ok(BASE "pruners:\n  dense: []\nbackends: [ref]\nidle_baseline: 1.5m\n"
		    "cooldown: {max_temp_c: 55.5}\nthrottle_pct: 0\n", NULL, 0);
	ck_assert_double_eq(e->idle_baseline_s, 90);
	ck_assert_int_eq(e->cooldown, 1);
	ck_assert_double_eq(e->cooldown_max_temp_c, 55.5);
	ck_assert_double_eq(e->cooldown_timeout_s, 300);
	ck_assert_double_eq(e->throttle_pct, 0);
	ck_assert_msg(yaml_valid(e->cells[0].config_text), "%s", e->cells[0].config_text);
	assert_has(e->cells[0].config_text, "score_tokens: 4096\nidle_baseline: 90\n"
		   "cooldown:\n  max_temp_c: 55.5\n  timeout_s: 300\nthrottle_pct: 0\n");
	pb_experiment_free(e);
}
END_TEST

#define IDS_YAML \
	"name: ids\n" \
	"models:\n  a: {synth: llama-15m}\n  b: {synth: llama-15m, seed: 3}\n" \
	"datasets:\n  p: {path: prompts.txt}\n" \
	"pruners:\n  dense: []\n  mag: [{magnitude: {sparsity: 0.3}}]\n  rnd: [{random: {}}]\n" \
	"backends: [ref]\n"

static struct pb_experiment *ids_with(const char *set)
{
	const char *sets[] = { set };
	return load_ok(IDS_YAML, sets, set ? 1 : 0);
}

/* How many cells' ids differ between two loads of the same matrix. */
static int n_changed(const struct pb_experiment *x, const struct pb_experiment *y)
{
	ck_assert_int_eq(x->n_cells, y->n_cells);
	int n = 0;
	for (int i = 0; i < x->n_cells; i++)
		n += strcmp(x->cells[i].id, y->cells[i].id) != 0;
	return n;
}

START_TEST(test_ids_stable)
{
	struct pb_experiment *base = ids_with(NULL), *e;
	ck_assert_int_eq(base->n_cells, 6);

	e = ids_with(NULL);
	ck_assert_int_eq(n_changed(base, e), 0);
	ck_assert_str_eq(base->cells[4].config_text, e->cells[4].config_text);
	pb_experiment_free(e);

	/* Distinct configurations, distinct hashes (a.dense vs b.dense). */
	ck_assert_str_ne(base->cells[0].id + strlen(base->cells[0].id) - 8,
			 base->cells[3].id + strlen(base->cells[3].id) - 8);

	/* Not part of what a cell measures: no id changes. */
	const char *none[] = { "timeout=1h", "output=elsewhere", "name=other",
			       "pruners.rnd.0.random.sparsity=0.5" /* = its default */ };
	for (size_t i = 0; i < PB_ARRAY_LEN(none); i++) {
		e = ids_with(none[i]);
		ck_assert_msg(n_changed(base, e) == 0, "%s changed ids", none[i]);
		pb_experiment_free(e);
	}
	/* An option of one chain: only that chain's cells (a.mag, b.mag). */
	e = ids_with("pruners.mag.0.magnitude.sparsity=0.4");
	ck_assert_int_eq(n_changed(base, e), 2);
	ck_assert_str_ne(base->cells[1].id, e->cells[1].id);
	ck_assert_str_ne(base->cells[4].id, e->cells[4].id);
	pb_experiment_free(e);
	/* One model's seed: that model's cells. */
	e = ids_with("models.b.seed=4");
	ck_assert_int_eq(n_changed(base, e), 3);
	ck_assert_str_eq(base->cells[0].id, e->cells[0].id);
	pb_experiment_free(e);
	/* A backend option, a probe, an experiment-wide setting: every cell. */
	const char *all[] = { "backends=[{ref: {threads: 2}}]", "probes=[rapl]", "seed=1",
			      "repeat=2", "warmup=0", "max_new_tokens=8", "max_samples=3",
			      "idle_baseline=2s", "cooldown={max_temp_c: 60}", "throttle_pct=80" };
	for (size_t i = 0; i < PB_ARRAY_LEN(all); i++) {
		e = ids_with(all[i]);
		ck_assert_msg(n_changed(base, e) == 6, "%s", all[i]);
		pb_experiment_free(e);
	}
	/* Measurement conditions at their defaults: no id changes. */
	const char *same[] = { "idle_baseline=0", "throttle_pct=90", "cooldown=null" };
	for (size_t i = 0; i < PB_ARRAY_LEN(same); i++) {
		e = ids_with(same[i]);
		ck_assert_msg(n_changed(base, e) == 0, "%s changed ids", same[i]);
		pb_experiment_free(e);
	}
	/* A default changed through `defaults:` counts like one written in place. */
	e = ids_with("defaults.magnitude.tensors=ffn");
	ck_assert_int_eq(n_changed(base, e), 2);
	pb_experiment_free(e);
	pb_experiment_free(base);
}
END_TEST

/* Dataset entries: formats by extension, fields, references, prefix,
 * limits, shuffle, calibration and text windows; their config text. */
START_TEST(test_datasets)
{
	char path[600];
	snprintf(path, sizeof path, "%s/qa.csv", tmp_dir());
	ck_assert_int_eq(pb_write_file(path, "q,a\nx,y\n", 8), 0);
	snprintf(path, sizeof path, "%s/wiki.raw", tmp_dir());
	ck_assert_int_eq(pb_write_file(path, "text\n", 5), 0);
	struct pb_experiment *e = load_ok(
		"name: t\nseed: 9\nscore_tokens: 100\n"
		"models:\n  m: {synth: llama-15m}\n"
		"datasets:\n"
		"  cnn: {path: data.jsonl, input: article, reference: highlights, prefix: 'summarize: ',\n"
		"        max_samples: 5, shuffle: true, calibration: {count: 4, seqlen: 64}}\n"
		"  qa: {path: qa.csv, input: q, reference: a}\n"
		"  wiki: {path: wiki.raw, ctx: 128, stride: 64}\n"
		"  txt: {path: prompts.txt, format: text}\n"
		"  old: {path: data.jsonl, field: answer, calibration: {count: 2}}\n"
		"backends: [ref]\n", NULL, 0);
	const struct pb_dataset_spec *d = e->datasets;
	ck_assert_int_eq(e->score_tokens, 100);
	ck_assert_int_eq(d[0].format, PB_DATASET_JSONL);
	ck_assert_str_eq(d[0].input, "article");
	ck_assert_str_eq(d[0].reference, "highlights");
	ck_assert_str_eq(d[0].prefix, "summarize: ");
	ck_assert_int_eq(d[0].max_samples, 5);
	ck_assert_int_eq(d[0].shuffle, 1);
	ck_assert_int_eq(d[0].calib_count, 4);
	ck_assert_int_eq(d[0].calib_seqlen, 64);
	ck_assert_int_eq(d[1].format, PB_DATASET_CSV);
	ck_assert_str_eq(d[1].reference, "a");
	ck_assert_int_eq(d[2].format, PB_DATASET_TEXT);
	ck_assert_int_eq(d[2].ctx, 128);
	ck_assert_int_eq(d[2].stride, 64);
	ck_assert_int_eq(d[3].format, PB_DATASET_TEXT);
	ck_assert_int_eq(d[3].ctx, 0);
	ck_assert_str_eq(d[4].input, "answer");        /* 'field', the old name of 'input' */
	ck_assert_int_eq(d[4].calib_seqlen, 128);      /* the default */
	ck_assert_int_eq(d[1].shuffle, 0);
	const char *t = e->cells[0].config_text;
	assert_has(t, "dataset:\n  file: \"data.jsonl\"\n  format: jsonl\n  input: \"article\"\n"
		   "  reference: \"highlights\"\n  prefix: \"summarize: \"\n  max_samples: 5\n"
		   "  shuffle: true\n  calibration:\n    count: 4\n    seqlen: 64\nchain:");
	assert_has(t, "score_tokens: 100\n");
	assert_has(e->cells[2].config_text, "  format: text\n  ctx: 128\n  stride: 64\nchain:");
	ck_assert_msg(yaml_valid(t), "%s", t);
	pb_experiment_free(e);

	/* every dataset key changes the ids of that dataset's cells only */
	const char *base = "name: t\nmodels:\n  m: {synth: llama-15m}\n"
		"datasets:\n  a: {path: data.jsonl}\n  b: {path: prompts.txt}\nbackends: [ref]\n";
	const char *sets[] = {
		"datasets.a.reference=answer", "datasets.a.prefix=Q", "datasets.a.shuffle=true",
		"datasets.a.max_samples=1", "datasets.a.calibration.count=1", "datasets.a.input=x",
	};
	struct pb_experiment *x = load_ok(base, NULL, 0);
	for (size_t i = 0; i < PB_ARRAY_LEN(sets); i++) {
		struct pb_experiment *y = load_ok(base, &sets[i], 1);
		ck_assert_msg(strcmp(x->cells[0].id, y->cells[0].id), "%s: a's id unchanged", sets[i]);
		ck_assert_str_eq(x->cells[1].id, y->cells[1].id);
		pb_experiment_free(y);
	}
	const char *st = "score_tokens=10";
	struct pb_experiment *y = load_ok(base, &st, 1);
	ck_assert_str_ne(x->cells[1].id, y->cells[1].id);
	pb_experiment_free(y);
	pb_experiment_free(x);
}
END_TEST

START_TEST(test_forms_and_errors)
{
	/* Backend/probe sequence forms, bare names and null options. */
	struct pb_experiment *e = load_ok(BASE
		"pruners:\n  p: [magnitude: {sparsity: 0.1}, random]\n"
		"backends:\n  - ref\n  - cpu-blas: {threads: 2}\n"
		"probes:\n  procstat:\n  power: {plugin: rapl}\n", NULL, 0);
	ck_assert_int_eq(e->chains[0].n_steps, 2);
	ck_assert_str_eq(e->chains[0].steps[1].label, "random");
	ck_assert_str_eq(e->backends[1].name, "cpu-blas");
	ck_assert_int_eq(e->n_probes, 2);
	ck_assert_str_eq(e->probes[1].plugin->desc->name, "rapl");
	pb_experiment_free(e);

	/* A plugin of another kind is not found under this kind. */
	assert_has(load_bad(BASE "backends: [procstat]\n", NULL, 0), "exp.yaml:6:12: unknown backend 'procstat'");
	/* A plugin that takes no options says so. */
	assert_has(load_bad(BASE "backends: [ref]\nprobes: [{rapl: {x: 1}}]\n", NULL, 0),
		   "exp.yaml:7:18: probe 'rapl': unknown option 'x' (it takes no options)");
	/* Without any plugin of the kind, the hint is about the search path. */
	struct pb_registry empty = { 0 };
	char err[512];
	struct pb_experiment *x;
	char path[600];
	snprintf(path, sizeof path, "%s/exp.yaml", tmp_dir());
	ck_assert_int_eq(pb_experiment_load(path, &empty, NULL, 0, &x, err, sizeof err), -EINVAL);
	assert_has(err, "no backend plugins were found");
	/* Unreadable file. */
	ck_assert_int_eq(pb_experiment_load("/nonexistent/x.yaml", &fake_registry, NULL, 0, &x,
					    err, sizeof err), -ENOENT);
	assert_has(err, "/nonexistent/x.yaml: cannot read");
	/* A quoted empty string is a value, a bare key is not. */
	e = load_ok(BASE "pruners:\n  p: [magnitude: {sparsity: 0.1, tag: \"\"}]\nbackends: [ref]\n", NULL, 0);
	pb_experiment_free(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("experiment");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_full_example);
	tcase_add_test(tc, test_defaults_and_settings);
	tcase_add_test(tc, test_memory_limit);
	tcase_add_test(tc, test_plugin_defaults_section);
	tcase_add_test(tc, test_sweeps);
	tcase_add_test(tc, test_include_exclude);
	tcase_add_test(tc, test_anchors_merge);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_config_text);
	tcase_add_test(tc, test_ids_stable);
	tcase_add_test(tc, test_datasets);
	tcase_add_test(tc, test_forms_and_errors);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tcase_options());
	suite_add_tcase(s, tcase_bad_fixtures());

	tmp_setup();
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tmp_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

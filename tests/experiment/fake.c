/* tests/experiment/fake.c — a fake registry of static plugin descriptors
 * (a pruner like magnitude, a second pruner, two backends, two probes and
 * one plugin that "failed to load"), so the experiment room is tested
 * without the loader; and the temp-folder helpers. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"
#include "util/util.h"

const struct pb_option mag_options[] = {
	{ "sparsity", PB_OPT_DOUBLE, offsetof(struct mag_cfg, sparsity), NULL, 0, 1, NULL,
	  "fraction of weights set to zero" },
	{ "tensors", PB_OPT_ENUM, offsetof(struct mag_cfg, tensors), "all", 0, 0,
	  "all|linear|attention|ffn", "which tensors" },
	{ "per_row", PB_OPT_BOOL, offsetof(struct mag_cfg, per_row), "false", 0, 0, NULL,
	  "rank within each row" },
	{ "seed", PB_OPT_INT, offsetof(struct mag_cfg, seed), "0", 0, 1e9, NULL, "tie-break seed" },
	{ "tag", PB_OPT_STRING, offsetof(struct mag_cfg, tag), "", 0, 0, NULL, "free text" },
	PB_OPTIONS_END
};

static const struct pb_option random_options[] = {
	{ "sparsity", PB_OPT_DOUBLE, offsetof(struct mag_cfg, sparsity), "0.5", 0, 1, NULL, "" },
	PB_OPTIONS_END
};

static const struct pb_option ref_options[] = {
	{ "threads", PB_OPT_INT, offsetof(struct ref_cfg, threads), "1", 1, 256, NULL, "" },
	PB_OPTIONS_END
};

static const struct pb_option procstat_options[] = {
	{ "interval_ms", PB_OPT_DOUBLE, offsetof(struct procstat_cfg, interval_ms), "100", 1, 10000,
	  NULL, "" },
	PB_OPTIONS_END
};

#define PLUGIN(k, n, opts, cfg) {                                           \
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_plugin), \
	.kind = k, .name = n, .version = "1.0", .summary = "fake " n,          \
	.options = opts, .config_size = cfg }

/* a remote backend (pb_backend_is_remote): it has complete() */
static int fake_complete(void *state, const struct pb_complete_req *req,
			 struct pb_complete_res *res)
{
	(void)state, (void)req, (void)res;
	return -ENOSYS;
}
static const struct pb_backend_ops remote_ops = { .struct_size = sizeof(struct pb_backend_ops), .complete = fake_complete };
struct remote_cfg {
	char url[PB_OPT_STR_MAX];
};
static const struct pb_option remote_options[] = {
	{ "url", PB_OPT_STRING, offsetof(struct remote_cfg, url), "http://127.0.0.1:1", 0, 0, NULL, "" },
	PB_OPTIONS_END
};

static const struct pb_plugin plugins[] = {
	PLUGIN(PB_PRUNER, "magnitude", mag_options, sizeof(struct mag_cfg)),
	PLUGIN(PB_PRUNER, "random", random_options, sizeof(struct mag_cfg)),
	PLUGIN(PB_BACKEND, "ref", ref_options, sizeof(struct ref_cfg)),
	PLUGIN(PB_BACKEND, "cpu-blas", ref_options, sizeof(struct ref_cfg)),
	PLUGIN(PB_PROBE, "procstat", procstat_options, sizeof(struct procstat_cfg)),
	PLUGIN(PB_PROBE, "rapl", NULL, 0),
	{ .abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_plugin),
	  .kind = PB_BACKEND, .name = "remote-api", .version = "1.0", .summary = "fake remote",
	  .options = remote_options, .config_size = sizeof(struct remote_cfg), .ops = &remote_ops },
};

static struct pb_plugin_entry entries[] = {
	{ .path = "/fake/pruner-magnitude.so", .desc = &plugins[0] },
	{ .path = "/fake/pruner-random.so", .desc = &plugins[1] },
	{ .path = "/fake/backend-ref.so", .desc = &plugins[2] },
	{ .path = "/fake/backend-cpu-blas.so", .desc = &plugins[3] },
	{ .path = "/fake/probe-procstat.so", .desc = &plugins[4] },
	{ .path = "/fake/probe-rapl.so", .desc = &plugins[5] },
	{ .path = "/fake/backend-remote-api.so", .desc = &plugins[6] },
};

static struct pb_plugin_failure failures[] = {
	{ .path = "/fake/pruner-wanda.so", .kind = PB_PRUNER, .name = "wanda",
	  .why = "undefined symbol: cblas_sgemm" },
};

const struct pb_registry fake_registry = {
	.entries = entries, .n_entries = PB_ARRAY_LEN(entries),
	.failures = failures, .n_failures = PB_ARRAY_LEN(failures),
};

const char *fixtures(void)
{
	return FIXTURES_DIR;
}

static char tmpdir[256];

static void copy_fixture(const char *name)
{
	char src[512], dst[512], *buf;
	size_t n;
	snprintf(src, sizeof src, "%s/%s", fixtures(), name);
	snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
	/* Runs before the tests: plain exits, not ck_assert. */
	if (pb_read_file(src, &buf, &n) < 0 || pb_write_file(dst, buf, n) < 0) {
		fprintf(stderr, "cannot copy %s to %s\n", src, dst);
		exit(1);
	}
	free(buf);
}

/* Made once in the parent, before Check forks the tests. */
void tmp_setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/pb-test-experiment-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	copy_fixture("prompts.txt");
	copy_fixture("data.jsonl");
}

void tmp_cleanup(void)
{
	pb_rm_rf(tmpdir);
}

const char *tmp_dir(void)
{
	return tmpdir;
}

int load_text(const char *yaml, const char *const *sets, int n_sets,
	      struct pb_experiment **out, char *err, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/exp.yaml", tmp_dir());
	ck_assert_int_eq(pb_write_file(path, yaml, strlen(yaml)), 0);
	return pb_experiment_load(path, &fake_registry, sets, n_sets, out, err, len);
}

/* tests/plugin/oot/pruner-oot.c — a plugin built outside the tree, the way
 * a researcher would: only the installed <prunebench/plugin.h>, found with
 * `pkg-config --cflags prunebench`, and nothing of the core linked.
 * tests/plugin/out-of-tree.sh builds it and asks the CLI to describe it. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <prunebench/plugin.h>

struct oot_config {
	double threshold;
};

struct oot_state {
	const struct pb_host *host;
	struct oot_config cfg;
};

static const struct pb_option oot_options[] = {
	{ "threshold", PB_OPT_DOUBLE, offsetof(struct oot_config, threshold), "0.25", 0, 1, NULL,
	  "weights below this magnitude are zeroed" },
	PB_OPTIONS_END
};

static int oot_init(const struct pb_host *h, const void *config, void **state)
{
	struct oot_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *(const struct oot_config *)config;
	*state = s;
	return 0;
}

static void oot_fini(void *state)
{
	free(state);
}

/* Zero F32 linear weights whose magnitude is below the threshold. */
static int oot_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		     struct pb_prune_target *targets)
{
	struct oot_state *s = state;
	(void)calib;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		targets[i].sparsity = -1;
		if (!pb_role_is_linear(t->role) || t->dtype != PB_F32)
			continue;
		float *w = t->data;
		for (int64_t j = 0; j < pb_tensor_nelements(t); j++)
			if (w[j] < s->cfg.threshold && w[j] > -s->cfg.threshold)
				w[j] = 0;
	}
	s->host->log(s->host, PB_LOG_DEBUG, "threshold %g applied", s->cfg.threshold);
	return 0;
}

static const struct pb_pruner_ops oot_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = oot_apply,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "oot",
	.version = "0.0.1",
	.summary = "out-of-tree test pruner (magnitude threshold)",
	.options = oot_options,
	.config_size = sizeof(struct oot_config),
	.init = oot_init,
	.fini = oot_fini,
	.ops = &oot_ops,
};

/* tests/fake-plugins/good/pruner-crashrun.c — init() succeeds, apply()
 * calls abort() (SIGABRT). */
#include "../fake.h"

static int crashrun_apply(void *state, struct pb_model *m, struct pb_calib *calib,
			  struct pb_prune_target *targets)
{
	(void)state;
	(void)m;
	(void)calib;
	(void)targets;
	abort();
}

static const struct pb_pruner_ops crashrun_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = crashrun_apply,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "crashrun",
	.version = "1",
	.summary = "fake pruner whose apply() aborts (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &crashrun_ops,
};

/* tests/fake-plugins/good/pruner-hang.c — apply() never returns (it
 * sleeps forever), so the runner's time limit must end the cell. */
#include <unistd.h>

#include "../fake.h"

static int hang_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		      struct pb_prune_target *targets)
{
	(void)state;
	(void)m;
	(void)calib;
	(void)targets;
	for (;;)
		sleep(1);
	return 0;
}

static const struct pb_pruner_ops hang_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = hang_apply,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "hang",
	.version = "1",
	.summary = "fake pruner whose apply() never returns (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &hang_ops,
};

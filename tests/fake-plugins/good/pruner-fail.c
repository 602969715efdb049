/* tests/fake-plugins/good/pruner-fail.c — apply() explains itself through
 * host->log and returns -EIO: a clean failure, the way plugins should
 * fail.  The message is fixed so that tests can look for it. */
#include "../fake.h"

static int fail_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		      struct pb_prune_target *targets)
{
	struct fake_state *s = state;
	(void)m;
	(void)calib;
	(void)targets;
	s->host->log(s->host, PB_LOG_ERROR, "fake failure: cannot prune (tests)");
	return -EIO;
}

static const struct pb_pruner_ops fail_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = fail_apply,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "fail",
	.version = "1",
	.summary = "fake pruner whose apply() logs and returns -EIO (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &fail_ops,
};

/* tests/fake-plugins/good/pruner-good.c — a well-formed pruner with one
 * option of every type; apply() changes nothing.  The loader, option and
 * describe tests read its table. */
#include <stddef.h>
#include <stdint.h>

#include "../fake.h"

struct good_config {
	double sparsity;
	int64_t blocks;
	int verbose;
	int mode;
	char tag[PB_OPT_STR_MAX];
};

static const struct pb_option good_options[] = {
	{ "sparsity", PB_OPT_DOUBLE, offsetof(struct good_config, sparsity), "0.5", 0, 1, NULL,
	  "fraction of weights to set to zero" },
	{ "blocks", PB_OPT_INT, offsetof(struct good_config, blocks), "4", 1, 64, NULL,
	  "number of blocks" },
	{ "verbose", PB_OPT_BOOL, offsetof(struct good_config, verbose), "false", 0, 0, NULL,
	  "log every tensor" },
	{ "mode", PB_OPT_ENUM, offsetof(struct good_config, mode), "row", 0, 0,
	  "row|column|global", "which weights compete" },
	{ "tag", PB_OPT_STRING, offsetof(struct good_config, tag), "", 0, 0, NULL,
	  "free text recorded in the manifest" },
	PB_OPTIONS_END
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "good",
	.version = "1.2.3",
	.summary = "fake pruner that changes nothing (tests)",
	.options = good_options,
	.config_size = sizeof(struct good_config),
	.init = fake_init,
	.fini = fake_fini,
	.ops = &fake_noop_ops,
};

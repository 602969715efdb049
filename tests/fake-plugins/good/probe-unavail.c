/* tests/fake-plugins/good/probe-unavail.c — a well-formed probe that is
 * never available (as a probe without permission would say), with a
 * required option. */
#include <stddef.h>

#include "../fake.h"

struct unavail_config {
	char device[PB_OPT_STR_MAX];
};

static const struct pb_option unavail_options[] = {
	{ "device", PB_OPT_STRING, offsetof(struct unavail_config, device), NULL, 0, 0, NULL,
	  "device file to read" },
	PB_OPTIONS_END
};

static int unavail_available(const struct pb_host *h, char *why, size_t len)
{
	(void)h;
	strncpy(why, "no fake sensor on this machine (tests)", len - 1);
	why[len - 1] = '\0';
	return -ENODEV;
}

static int unavail_channels(void *state, const struct pb_channel **ch, int *n)
{
	(void)state;
	*ch = NULL;
	*n = 0;
	return -ENODEV;
}

static int unavail_read(void *state, double *values)
{
	(void)state;
	(void)values;
	return -ENODEV;
}

static const struct pb_probe_ops unavail_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = unavail_channels,
	.read = unavail_read,
	.min_interval_ms = 10,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "unavail",
	.version = "0.1",
	.summary = "fake probe that is never available (tests)",
	.options = unavail_options,
	.config_size = sizeof(struct unavail_config),
	.available = unavail_available,
	.init = fake_init,
	.fini = fake_fini,
	.ops = &unavail_ops,
};

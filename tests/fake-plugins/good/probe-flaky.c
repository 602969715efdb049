/* tests/fake-plugins/good/probe-flaky.c — a probe that works for its first
 * `fail_after` reads and then fails every read with -EIO, as a sensor
 * whose driver goes away mid-run would: the sampler must back it off and
 * the cell must still complete. */
#include <stddef.h>
#include <stdint.h>

#include "../fake.h"

struct flaky_config {
	int64_t fail_after;
	double interval_ms;
};

struct flaky_state {
	int64_t fail_after, reads;
};

static const struct pb_option flaky_options[] = {
	{ "fail_after", PB_OPT_INT, offsetof(struct flaky_config, fail_after), "3", 0, 1000000,
	  NULL, "reads that succeed before every read fails" },
	{ "interval_ms", PB_OPT_DOUBLE, offsetof(struct flaky_config, interval_ms), "0", 0, 60000,
	  NULL, "sampling interval; 0: the cell's default" },
	PB_OPTIONS_END
};

static const struct pb_channel flaky_channels_tab[] = {
	{ .name = "flaky_reads", .unit = "count", .kind = PB_COUNTER },
	{ .name = "flaky_level", .unit = "count", .kind = PB_GAUGE },
};

static int flaky_init(const struct pb_host *h, const void *config, void **state)
{
	const struct flaky_config *c = config;
	struct flaky_state *s = calloc(1, sizeof *s);
	(void)h;
	if (!s)
		return -ENOMEM;
	s->fail_after = c->fail_after;
	*state = s;
	return 0;
}

static int flaky_channels(void *state, const struct pb_channel **ch, int *n)
{
	(void)state;
	*ch = flaky_channels_tab;
	*n = 2;
	return 0;
}

static int flaky_read(void *state, double *v)
{
	struct flaky_state *s = state;
	if (s->reads >= s->fail_after)
		return -EIO;
	s->reads++;
	v[0] = (double)s->reads;
	v[1] = 7;
	return 0;
}

static const struct pb_probe_ops flaky_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = flaky_channels,
	.read = flaky_read,
	.min_interval_ms = 5,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "flaky",
	.version = "0.1",
	.summary = "fake probe that fails every read after its first few (tests)",
	.options = flaky_options,
	.config_size = sizeof(struct flaky_config),
	.init = flaky_init,
	.fini = fake_fini,
	.ops = &flaky_ops,
};

/* tests/fake-plugins/good/pruner-leak.c — apply() allocates and touches
 * memory without bound, 16 MiB at a time, never freeing it, until an
 * allocation fails (-ENOMEM) or the kernel kills it: what a leaking
 * plugin does.  It gives up at `max_mib` (default 3072) with -EIO, so that
 * a memory_limit that does not hold fails a test, not the machine. */
#include <stddef.h>
#include <stdint.h>

#include "../fake.h"

struct leak_config {
	int64_t max_mib;
};

struct leak_state {
	const struct pb_host *host;
	int64_t max_mib;
};

static const struct pb_option leak_options[] = {
	{ "max_mib", PB_OPT_INT, offsetof(struct leak_config, max_mib), "3072", 16, 1048576, NULL,
	  "give up (with -EIO) after allocating this many MiB" },
	PB_OPTIONS_END
};

static int leak_init(const struct pb_host *h, const void *config, void **state)
{
	const struct leak_config *c = config;
	struct leak_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->max_mib = c ? c->max_mib : 3072;
	*state = s;
	return 0;
}

static int leak_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		      struct pb_prune_target *targets)
{
	struct leak_state *s = state;
	const size_t chunk = (size_t)16 << 20;
	void *head = NULL;
	int64_t mib = 0;

	(void)m;
	(void)calib;
	(void)targets;
	while (mib < s->max_mib) {
		void **p = malloc(chunk);
		if (!p) {
			s->host->log(s->host, PB_LOG_ERROR, "out of memory after %lld MiB",
				     (long long)mib);
			return -ENOMEM;
		}
		memset(p, 0x5a, chunk);
		*p = head;           /* kept, never freed */
		head = p;
		mib += (int64_t)(chunk >> 20);
	}
	s->host->log(s->host, PB_LOG_ERROR, "allocated %lld MiB and nothing stopped it",
		     (long long)mib);
	return -EIO;
}

static const struct pb_pruner_ops leak_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = leak_apply,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "leak",
	.version = "1",
	.summary = "fake pruner whose apply() allocates without bound (tests)",
	.options = leak_options,
	.config_size = sizeof(struct leak_config),
	.init = leak_init,
	.fini = fake_fini,
	.ops = &leak_ops,
};

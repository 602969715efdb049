/* tests/fake-plugins/fake.h — boilerplate shared by the fake plugins: a
 * state that remembers the host, and init/fini that any fake can use.
 * Each fake is a <kind>-<name>.c compiled into <kind>-<name>.so. */
#ifndef PB_FAKE_H
#define PB_FAKE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

struct fake_state {
	const struct pb_host *host;
	unsigned char config[512];   /* a copy of the config, whatever it is */
};

static __attribute__((unused))
int fake_init(const struct pb_host *h, const void *config, void **state)
{
	struct fake_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = h;
	(void)config;
	*state = s;
	return 0;
}

static __attribute__((unused))
void fake_fini(void *state)
{
	free(state);
}

/* A pruner that changes nothing and says so. */
static int fake_apply_noop(void *state, struct pb_model *m, struct pb_calib *calib,
			   struct pb_prune_target *targets)
{
	(void)state;
	(void)calib;
	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1.0;
	return 0;
}

static const struct pb_pruner_ops fake_noop_ops __attribute__((unused)) = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = fake_apply_noop,
};

#endif

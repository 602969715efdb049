/* tests/fake-plugins/good/pruner-crashinit.c — loads fine, then init()
 * writes through a NULL pointer (SIGSEGV): the runner must turn that into
 * a failed cell and go on with the batch. */
#include "../fake.h"

static int crashinit_init(const struct pb_host *h, const void *config, void **state)
{
	/* volatile: the compiler must neither drop the store nor turn it
	 * into a trap instruction (that would be SIGILL, not SIGSEGV). */
	volatile int *volatile p = NULL;
	(void)h;
	(void)config;
	(void)state;
	*p = 1;
	return 0;
}

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "crashinit",
	.version = "1",
	.summary = "fake pruner whose init() segfaults (tests)",
	.init = crashinit_init,
	.fini = fake_fini,
	.ops = &fake_noop_ops,
};

/* tests/fake-plugins/ctor/pruner-ctorhang.c — a well-formed pruner whose
 * ELF constructor never returns. */
#include <unistd.h>

#include "../fake.h"

__attribute__((constructor)) static void ctorhang(void)
{
	for (;;)
		pause();
}

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "ctorhang",
	.version = "1",
	.summary = "fake pruner whose constructor hangs (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &fake_noop_ops,
};

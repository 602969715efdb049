/* tests/fake-plugins/ctor/pruner-ctorcrash.c — a well-formed pruner whose
 * ELF constructor dies of SIGSEGV as soon as the file is dlopen()ed. */
#include <signal.h>

#include "../fake.h"

__attribute__((constructor)) static void ctorcrash(void)
{
	/* raise, not a NULL store: the same signal under UBSan as without */
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "ctorcrash",
	.version = "1",
	.summary = "fake pruner whose constructor crashes (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &fake_noop_ops,
};

/* tests/fake-plugins/ctor/pruner-ctormark.c — a good pruner whose ELF
 * constructor appends its process id to the file $PB_CTOR_MARK, so a test
 * can tell which processes ran plugin code. */
#include <stdio.h>
#include <unistd.h>

#include "../fake.h"

__attribute__((constructor)) static void ctormark(void)
{
	const char *path = getenv("PB_CTOR_MARK");
	FILE *f = path ? fopen(path, "a") : NULL;
	if (f) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
}

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "ctormark",
	.version = "1",
	.summary = "fake pruner whose constructor leaves a mark (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &fake_noop_ops,
};

/* tests/fake-plugins/bad/bad.c — plugins the loader must refuse, each for
 * one reason.  Built once per variant (-DBAD_<VARIANT>, see meson.build)
 * into <kind>-<name>.so; apart from its one flaw each is well-formed, so
 * the test proves the loader names that flaw and no other. */
#include <stddef.h>
#include <stdint.h>

#include "../fake.h"

struct bad_config {
	double x;
};

static const struct pb_option bad_options[] = {
	{ "x", PB_OPT_DOUBLE, offsetof(struct bad_config, x), "1", 0, 10, NULL, "a number" },
#ifdef BAD_BADOPTS
	/* offset far beyond config_size: parsing it would write out of bounds */
	{ "y", PB_OPT_INT, 64, "1", 0, 10, NULL, "out of bounds" },
#endif
	PB_OPTIONS_END
};

#if defined(BAD_WRONGABI)
#define BAD_NAME "wrongabi"
#elif defined(BAD_BADSIZE)
#define BAD_NAME "badsize"
#elif defined(BAD_BADOPTS)
#define BAD_NAME "badopts"
#elif defined(BAD_WRONGNAME)
#define BAD_NAME "someothername"   /* file is pruner-wrongname.so */
#elif defined(BAD_WRONGKIND)
#define BAD_NAME "wrongkind"       /* file is backend-wrongkind.so */
#elif defined(BAD_NOAPPLY)
#define BAD_NAME "noapply"
#elif defined(BAD_NOSYM)
#define BAD_NAME "nosym"
#elif defined(BAD_OPSSIZE)
#define BAD_NAME "opssize"
#else
#error "define one BAD_<VARIANT>"
#endif

#if defined(BAD_NOAPPLY)
static const struct pb_pruner_ops bad_ops = { .struct_size = sizeof(struct pb_pruner_ops), .apply = NULL };
#elif defined(BAD_OPSSIZE)
/* ops struct_size left at 4 (the size of the field alone), below ABI 1's
 * minimum: the loader must refuse it before it reads apply(). */
static const struct pb_pruner_ops bad_ops = { .struct_size = 4, .apply = fake_apply_noop };
#else
#define bad_ops fake_noop_ops
#endif

#ifdef BAD_NOSYM
/* Exported under another name: the loader looks only for `pb_plugin`. */
PB_EXPORT const struct pb_plugin pb_plugin_v0 = {
#else
PB_EXPORT const struct pb_plugin pb_plugin = {
#endif
#ifdef BAD_WRONGABI
	.abi_version = 999,
#else
	.abi_version = PB_ABI_VERSION,
#endif
#ifdef BAD_BADSIZE
	.struct_size = sizeof(struct pb_plugin) - 8,
#else
	.struct_size = sizeof(struct pb_plugin),
#endif
	.kind = PB_PRUNER,
	.name = BAD_NAME,
	.version = "0",
	.summary = "fake plugin the loader must refuse (tests)",
	.options = bad_options,
#ifdef BAD_BADOPTS
	.config_size = sizeof(double),
#else
	.config_size = sizeof(struct bad_config),
#endif
	.init = fake_init,
	.fini = fake_fini,
	.ops = &bad_ops,
};

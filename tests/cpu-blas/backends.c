/* tests/cpu-blas/backends.c — see backends.h. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "backends.h"

char be_last_log[1024];

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	if (lvl > PB_LOG_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(be_last_log, sizeof be_last_log, fmt, ap);
	va_end(ap);
}

const struct pb_host be_host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_host), .log = host_log,
	.n_threads = 2,
};

void be_open(struct be *b, const char *name, const struct cb_config *cfg)
{
	const char *root = getenv("PB_BUILD_ROOT");
	char path[2048];
	snprintf(path, sizeof path, "%s/plugins/backends/%s/backend-%s.so", root ? root : ".", name,
		 name);
	memset(b, 0, sizeof *b);
	b->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(b->dl, "dlopen %s: %s", path, dlerror());
	b->p = dlsym(b->dl, "pb_plugin");
	ck_assert_msg(b->p && b->p->kind == PB_BACKEND && b->p->abi_version == PB_ABI_VERSION,
		      "%s: no backend pb_plugin", path);
	b->ops = b->p->ops;
	if (!strcmp(name, "ref")) {
		int check_nan = 1;
		ck_assert_int_eq(b->p->config_size, sizeof(int));
		ck_assert_int_eq(b->p->init(&be_host, &check_nan, &b->st), 0);
	} else {
		struct cb_config def = { .threads = 3, .sparse_threshold = 0.35, .check_nan = 1 };
		ck_assert_int_eq(b->p->config_size, sizeof(struct cb_config));
		ck_assert_int_eq(b->p->init(&be_host, cfg ? cfg : &def, &b->st), 0);
	}
}

void be_close(struct be *b)
{
	if (b->p && b->st)
		b->p->fini(b->st);
	/* not dlclose'd: the sanitizers then still name the plugin in a leak */
	memset(b, 0, sizeof *b);
}

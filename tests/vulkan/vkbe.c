/* tests/vulkan/vkbe.c — see vkbe.h. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "vkbe.h"

char be_last_log[1024];
char be_info_log[1024];

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	if (lvl > PB_LOG_INFO)
		return;
	va_start(ap, fmt);
	vsnprintf(lvl == PB_LOG_INFO ? be_info_log : be_last_log, sizeof be_last_log, fmt, ap);
	va_end(ap);
}

const struct pb_host be_host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_host), .log = host_log,
	.n_threads = 2,
};

const struct pb_plugin *be_plugin(const char *name, void **dl)
{
	const char *root = getenv("PB_BUILD_ROOT");
	char path[2048];
	snprintf(path, sizeof path, "%s/plugins/backends/%s/backend-%s.so", root ? root : ".", name,
		 name);
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl)
		return NULL;
	const struct pb_plugin *p = dlsym(*dl, "pb_plugin");
	return p && p->kind == PB_BACKEND && p->abi_version == PB_ABI_VERSION ? p : NULL;
}

void be_require_vulkan(void)
{
	void *dl;
	char why[1024] = "";
	const struct pb_plugin *p = be_plugin("vulkan", &dl);
	if (!p) {
		printf("skip: the vulkan backend was not built (-Dvulkan, libvulkan-dev, glslc)\n");
		exit(77);
	}
	if (p->available(&be_host, why, sizeof why) < 0) {
		printf("skip: %s\n", why);
		exit(77);
	}
	printf("vulkan: %s\n", why);
}

struct vk_config be_vk_defaults(void)
{
	struct vk_config c = { .subgroups = 0, .pipeline_cache = 0, .workgroup = 64 };
	return c;
}

void be_open(struct be *b, const char *name, const struct vk_config *cfg)
{
	memset(b, 0, sizeof *b);
	b->p = be_plugin(name, &b->dl);
	ck_assert_msg(b->p, "cannot load backend-%s.so: %s", name, dlerror());
	b->ops = b->p->ops;
	if (!strcmp(name, "ref")) {
		int check_nan = 1;
		ck_assert_int_eq(b->p->config_size, sizeof(int));
		ck_assert_int_eq(b->p->init(&be_host, &check_nan, &b->st), 0);
	} else {
		struct vk_config def = be_vk_defaults();
		ck_assert_int_eq(b->p->config_size, sizeof(struct vk_config));
		int rc = b->p->init(&be_host, cfg ? cfg : &def, &b->st);
		ck_assert_msg(rc == 0, "vulkan init: %d: %s", rc, be_last_log);
	}
}

void be_close(struct be *b)
{
	if (b->p && b->st)
		b->p->fini(b->st);
	/* not dlclose'd: the sanitizers then still name the plugin in a leak */
	memset(b, 0, sizeof *b);
}

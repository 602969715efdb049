/* tests/vulkan/vkbe.h — the built ref and vulkan backends, dlopened from
 * PB_BUILD_ROOT (both export `pb_plugin`), each with a fake host; and the
 * skip rule of the hw suite: exit 77 with the reason when this machine
 * has no Vulkan device. */
#ifndef PB_TEST_VKBE_H
#define PB_TEST_VKBE_H

#include <prunebench/plugin.h>

#include "pair.h"   /* struct be */

/* the vulkan backend's config, as plugins/backends/vulkan/vk.h has it
 * (checked against config_size) */
struct vk_config {
	char device[PB_OPT_STR_MAX];
	int subgroups;            /* 0 auto, 1 on, 2 off */
	int pipeline_cache;
	int64_t workgroup;
};

extern char be_last_log[1024];
extern char be_info_log[1024];   /* the last INFO line (vulkan: the device it took) */
extern const struct pb_host be_host;

/* dlopen backend-NAME.so (not initialised); NULL when it was not built. */
const struct pb_plugin *be_plugin(const char *name, void **dl);
/* Exit 77 with the reason unless the vulkan backend was built and finds a
 * device here. */
void be_require_vulkan(void);
/* name "ref" (check_nan on) or "vulkan" (cfg NULL = defaults, pipeline
 * cache off); ck_asserts on failure. */
void be_open(struct be *b, const char *name, const struct vk_config *cfg);
void be_close(struct be *b);
struct vk_config be_vk_defaults(void);

#endif

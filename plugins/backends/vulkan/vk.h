/* plugins/backends/vulkan/vk.h — what the files of the vulkan backend
 * share: the Vulkan entry points it loads at run time (loader.c), its
 * state, and the device (device.c), weight (weights.c), pipeline
 * (pipelines.c) and recording (record.c) functions.
 *
 * Memory model: every activation buffer of the session lives in ONE
 * device-local arena (binding 0, float offsets in push constants); the
 * weights live in one or more device-local arenas of at most
 * maxStorageBufferRange bytes (binding 1); the step's host-written table
 * (token ids, RoPE cos/sin) in a host-visible buffer (binding 2).  So one
 * descriptor set per weight arena, written when buffers change, never
 * per op; pipelines are made once per (shader, format) and kept.
 */
#ifndef PB_VK_H
#define PB_VK_H

#include <stdint.h>

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <prunebench/plugin.h>

/* Entry points, loaded with vkGetInstanceProcAddr / vkGetDeviceProcAddr
 * from the loader found at run time, so that the plugin loads (and says
 * why it cannot work) on a machine without libvulkan. */
#define VK_INSTANCE_FNS(X) \
	X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties) \
	X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceQueueFamilyProperties) \
	X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)

#define VK_DEVICE_FNS(X) \
	X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) \
	X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) \
	X(vkBindBufferMemory) X(vkMapMemory) X(vkUnmapMemory) X(vkCreateCommandPool) \
	X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkResetCommandBuffer) \
	X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkCmdCopyBuffer) X(vkCmdFillBuffer) \
	X(vkCmdPipelineBarrier) X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) \
	X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) \
	X(vkQueueSubmit) X(vkDeviceWaitIdle) X(vkCreateFence) X(vkDestroyFence) \
	X(vkResetFences) X(vkWaitForFences) X(vkCreateShaderModule) X(vkDestroyShaderModule) \
	X(vkCreatePipelineCache) X(vkDestroyPipelineCache) X(vkGetPipelineCacheData) \
	X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreatePipelineLayout) \
	X(vkDestroyPipelineLayout) X(vkCreateDescriptorSetLayout) \
	X(vkDestroyDescriptorSetLayout) X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool) \
	X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets) X(vkCreateQueryPool) \
	X(vkDestroyQueryPool) X(vkGetQueryPoolResults)

#define VK_FN_FIELD(f) PFN_##f f;
struct vk_fns {
	PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
	PFN_vkCreateInstance vkCreateInstance;
	VK_INSTANCE_FNS(VK_FN_FIELD)
	VK_DEVICE_FNS(VK_FN_FIELD)
};

struct vk_config {
	char device[PB_OPT_STR_MAX];   /* "" = best; an index; or a name substring */
	int subgroups;                 /* VK_SG_* */
	int pipeline_cache;
	int64_t workgroup;
};

enum { VK_SG_AUTO = 0, VK_SG_ON, VK_SG_OFF };

/* the shaders (pipelines.c); linear, rmsnorm and embed once per format */
enum vk_kernel {
	VK_K_LINEAR, VK_K_GEMV /* linear, one token */, VK_K_RMSNORM, VK_K_EMBED, VK_K_ROPE, VK_K_ATTENTION, VK_K_ELEMWISE,
	VK_K_COUNT
};

#define VK_N_FMT 5          /* F32, F16, BF16, Q8_0, Q4_0 */
#define VK_SLOTS 2          /* steps in flight: command buffers, fences, table regions */

struct vk_buf {
	VkBuffer b;
	VkDeviceMemory mem;
	VkDeviceSize size;
	void *map;              /* host-visible ones: mapped for their lifetime */
};

/* A weight tensor on the device. */
struct vk_weight {
	int arena;              /* -1: not uploaded */
	uint32_t off16;         /* start, in 16-bit words of the arena */
	uint32_t row16;         /* one row, in 16-bit words */
};

/* A copy of host floats (buffer_write) waiting for the next submission. */
struct vk_upload {
	VkDeviceSize src, dst, size;   /* bytes: upload staging → acts arena */
};

struct vk_slot {
	VkCommandBuffer cmd;
	VkFence fence;
	int pending;            /* submitted, not yet seen complete */
	int timed;              /* its two timestamps were written */
};

struct vk_state {
	const struct pb_host *host;
	struct vk_config cfg;
	struct vk_fns fn;
	VkInstance inst;
	VkPhysicalDevice phys;
	VkPhysicalDeviceProperties props;
	VkPhysicalDeviceMemoryProperties mem;
	VkDevice dev;
	VkQueue queue;
	uint32_t qfam;
	int subgroup;           /* the subgroup shader variants run here */
	uint32_t wg;            /* threads per workgroup */
	uint32_t sg_size;       /* subgroup size (0: no subgroup arithmetic) */
	uint32_t rpw;           /* linear: weight rows per workgroup */
	uint64_t ts_mask;       /* timestampValidBits as a mask; 0: no timing */
	double ts_ns;           /* timestampPeriod */
	double device_ms;       /* every completed step's GPU time */

	VkCommandPool pool;
	struct vk_slot slot[VK_SLOTS];
	int next_slot;
	struct vk_slot xfer;    /* uploads, fills, readbacks */
	VkQueryPool queries;

	VkDescriptorSetLayout dsl;
	VkPipelineLayout layout;
	VkDescriptorPool dpool;
	VkDescriptorSet *sets;  /* one per weight arena */
	VkPipelineCache cache;
	char cache_path[4096];
	VkShaderModule modules[VK_K_COUNT];
	VkPipeline pipes[VK_K_COUNT][VK_N_FMT];

	const struct pb_model *m;
	struct vk_weight *w;    /* per model tensor */
	struct vk_buf *arenas;
	int n_arenas;
	struct vk_buf acts;
	int64_t *buf_off, *buf_n;   /* per session buffer: float offset in acts, floats */
	int n_buf;
	struct vk_buf table;    /* VK_SLOTS regions of table_cap floats */
	int64_t table_cap;
	struct vk_buf up, down; /* staging: uploads, readbacks */
	struct vk_upload *ups;
	int n_ups, cap_ups;
	VkDeviceSize up_used;

	/* recording scratch (record.c) */
	unsigned char *dirty_w, *dirty_r;   /* per buffer: written / read since the last barrier */
	struct vk_rope_key *ropes;
	int cap_ropes;
	uint64_t steps, barriers, dispatches;   /* counters, for the tests and the log */
};

#define VK_LOG(s, lvl, ...) ((s)->host->log((s)->host, (lvl), __VA_ARGS__))

extern const char *const vk_op_names[PB_OP_COUNT];

/* loader.c */
int vk_load(struct vk_fns *fn, char *why, size_t len);
int vk_instance(struct vk_fns *fn, VkInstance *inst, char *why, size_t len);
int vk_instance_fns(struct vk_fns *fn, VkInstance inst);
const char *vk_result_name(VkResult r);
/* Devices this backend can use (Vulkan 1.1, a compute queue), in the
 * order the loader lists them, as "[i] name (type, Vulkan x.y)". */
int vk_list_devices(struct vk_fns *fn, VkInstance inst, VkPhysicalDevice *out, int cap,
		    char *text, size_t len);
int vk_pick_device(struct vk_state *s);

/* device.c */
int vk_device_open(struct vk_state *s);
void vk_device_close(struct vk_state *s);
int vk_buf_create(struct vk_state *s, struct vk_buf *b, VkDeviceSize size, int host);
void vk_buf_destroy(struct vk_state *s, struct vk_buf *b);
int vk_begin(struct vk_state *s, struct vk_slot *sl);
int vk_submit(struct vk_state *s, struct vk_slot *sl);
int vk_wait(struct vk_state *s, struct vk_slot *sl);
int vk_wait_all(struct vk_state *s);
int vk_flush_uploads(struct vk_state *s, VkCommandBuffer cmd);
void vk_uploads_done(struct vk_state *s);
int vk_sets_update(struct vk_state *s);
/* weights.c */
int vk_weights_upload(struct vk_state *s, const struct pb_model *m);
int vk_acts_alloc(struct vk_state *s, const int64_t *sizes, int n);
int vk_table_reserve(struct vk_state *s, int64_t floats);
void vk_barrier(struct vk_state *s, VkCommandBuffer cmd, VkPipelineStageFlags src,
		VkAccessFlags src_a, VkPipelineStageFlags dst, VkAccessFlags dst_a);

/* pipelines.c */
int vk_pipelines_init(struct vk_state *s);
void vk_pipelines_fini(struct vk_state *s);
VkPipeline vk_pipeline(struct vk_state *s, enum vk_kernel k, enum pb_dtype fmt);

/* record.c */
int vk_graph_compute(void *state, const struct pb_graph *g);

#endif

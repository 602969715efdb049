/* plugins/backends/vulkan/vulkan.c — the `vulkan` backend: the op list as
 * GLSL compute shaders (SPIR-V built by glslc), on any Vulkan 1.1 device
 * with a compute queue; tested on Mesa's lavapipe, a CPU device, against
 * the ref backend.  This file: the descriptor, options, availability,
 * init/fini and the buffer hooks.  loader.c finds the devices, device.c
 * owns memory, weights.c the weights, pipelines.c the shaders, record.c
 * turns a step into one command buffer.  docs/architecture.md, "The
 * vulkan backend", has the design. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define VK_FORMATS (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16) | PB_FMT(PB_Q8_0) | \
		    PB_FMT(PB_Q4_0))

/* Can this machine run it?  The loader, an instance, a usable device;
 * on success `why` lists the devices (`prunebench plugins vulkan`). */
static int vk_available(const struct pb_host *h, char *why, size_t len)
{
	struct vk_fns fn;
	VkInstance inst;
	VkPhysicalDevice devs[16];
	char list[768];
	int rc;
	(void)h;
	if ((rc = vk_load(&fn, why, len)) < 0 || (rc = vk_instance(&fn, &inst, why, len)) < 0)
		return rc;
	int n = vk_list_devices(&fn, inst, devs, 16, list, sizeof list);
	fn.vkDestroyInstance(inst, NULL);
	if (n == 0) {
		snprintf(why, len, "no Vulkan device: the loader found no Vulkan 1.1 device with a "
			 "compute queue (install a driver; mesa-vulkan-drivers has the lavapipe CPU "
			 "device; check VK_ICD_FILENAMES)");
		return -ENODEV;
	}
	snprintf(why, len, "%d device%s: %s", n, n > 1 ? "s" : "", list);
	return 0;
}

static void vk_fini(void *state)
{
	struct vk_state *s = state;
	if (!s)
		return;
	if (s->dev) {
		vk_wait_all(s);
		VK_LOG(s, PB_LOG_DEBUG, "%llu steps, %llu dispatches, %llu barriers",
		       (unsigned long long)s->steps, (unsigned long long)s->dispatches,
		       (unsigned long long)s->barriers);
		vk_pipelines_fini(s);
		vk_device_close(s);
	}
	if (s->inst)
		s->fn.vkDestroyInstance(s->inst, NULL);
	free(s->sets);
	free(s->arenas);
	free(s->w);
	free(s->buf_off);
	free(s->buf_n);
	free(s->dirty_w);
	free(s->dirty_r);
	free(s->ups);
	free(s->ropes);
	free(s);
}

static int vk_init(const struct pb_host *h, const void *config, void **state)
{
	struct vk_state *s = calloc(1, sizeof *s);
	char why[512];
	int rc;
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg.pipeline_cache = 1;
	s->cfg.workgroup = 64;
	if (config)
		s->cfg = *(const struct vk_config *)config;
	s->cfg.device[sizeof s->cfg.device - 1] = '\0';
	s->wg = (uint32_t)s->cfg.workgroup;
	if (s->wg < 64 || s->wg > 1024 || (s->wg & (s->wg - 1))) {
		VK_LOG(s, PB_LOG_ERROR, "option workgroup %u: a power of two from 64 to 1024", s->wg);
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = vk_load(&s->fn, why, sizeof why)) < 0 ||
	    (rc = vk_instance(&s->fn, &s->inst, why, sizeof why)) < 0) {
		VK_LOG(s, PB_LOG_ERROR, "%s", why);
		goto fail;
	}
	if ((rc = vk_pick_device(s)) < 0 || (rc = vk_device_open(s)) < 0 ||
	    (rc = vk_pipelines_init(s)) < 0)
		goto fail;
	if (s->wg > s->props.limits.maxComputeWorkGroupSize[0] ||
	    s->wg > s->props.limits.maxComputeWorkGroupInvocations) {
		VK_LOG(s, PB_LOG_ERROR, "option workgroup %u exceeds %s's %u", s->wg, s->props.deviceName,
		       s->props.limits.maxComputeWorkGroupSize[0]);
		rc = -EINVAL;
		goto fail;
	}
	VK_LOG(s, PB_LOG_INFO, "%s (Vulkan %u.%u), %s reductions, %s", s->props.deviceName,
	       VK_API_VERSION_MAJOR(s->props.apiVersion), VK_API_VERSION_MINOR(s->props.apiVersion),
	       s->subgroup ? "subgroup" : "shared-memory",
	       s->ts_mask ? "GPU timestamps" : "no GPU timestamps");
	*state = s;
	return 0;
fail:
	vk_fini(s);
	return rc;
}

static int vk_weights_load(void *state, const struct pb_model *m)
{
	return vk_weights_upload(state, m);
}

static int vk_buffers_alloc(void *state, const int64_t *sizes, int n)
{
	return vk_acts_alloc(state, sizes, n);
}

static int range_ok(struct vk_state *s, int buf, int64_t off, int64_t n)
{
	return buf >= 0 && buf < s->n_buf && off >= 0 && n >= 0 && off <= s->buf_n[buf] - n;
}

/* The only host sync: a copy after everything submitted, waited for. */
static int vk_buffer_read(void *state, int buf, int64_t off, int64_t n, float *dst)
{
	struct vk_state *s = state;
	int rc;
	if (!range_ok(s, buf, off, n))
		return -EINVAL;
	if (!n)
		return 0;
	const VkDeviceSize bytes = (VkDeviceSize)n * 4;
	if (s->down.size < bytes) {
		if ((rc = vk_wait(s, &s->xfer)) < 0)
			return rc;
		vk_buf_destroy(s, &s->down);
		if ((rc = vk_buf_create(s, &s->down, bytes < 65536 ? 65536 : bytes, 2)) < 0)
			return rc;
	}
	if ((rc = vk_begin(s, &s->xfer)) < 0 || (rc = vk_flush_uploads(s, s->xfer.cmd)) < 0)
		return rc;
	vk_barrier(s, s->xfer.cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		   VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		   VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
	const VkBufferCopy reg = { .srcOffset = (VkDeviceSize)(s->buf_off[buf] + off) * 4,
				   .dstOffset = 0, .size = bytes };
	s->fn.vkCmdCopyBuffer(s->xfer.cmd, s->acts.b, s->down.b, 1, &reg);
	vk_barrier(s, s->xfer.cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
		   VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
	if ((rc = vk_submit(s, &s->xfer)) < 0)
		return rc;
	vk_uploads_done(s);
	/* its fence also covers every earlier submission (submission order) */
	if ((rc = vk_wait(s, &s->xfer)) < 0 || (rc = vk_wait_all(s)) < 0)
		return rc;
	memcpy(dst, s->down.map, (size_t)bytes);
	return 0;
}

/* Staged now, copied first thing in the next submission. */
static int vk_buffer_write(void *state, int buf, int64_t off, int64_t n, const float *src)
{
	struct vk_state *s = state;
	int rc;
	if (!range_ok(s, buf, off, n))
		return -EINVAL;
	if (!n)
		return 0;
	const VkDeviceSize bytes = (VkDeviceSize)n * 4;
	/* staging space is reused only once the submissions that read it finished */
	if ((rc = vk_wait_all(s)) < 0)
		return rc;
	if (s->up.size < s->up_used + bytes) {
		if (s->n_ups) {   /* copy what is staged before the buffer goes */
			if ((rc = vk_begin(s, &s->xfer)) < 0 || (rc = vk_flush_uploads(s, s->xfer.cmd)) < 0 ||
			    (rc = vk_submit(s, &s->xfer)) < 0)
				return rc;
			vk_uploads_done(s);
			if ((rc = vk_wait(s, &s->xfer)) < 0)
				return rc;
		}
		VkDeviceSize cap = s->up.size ? s->up.size : 65536;
		while (cap < bytes)
			cap *= 2;
		vk_buf_destroy(s, &s->up);
		if ((rc = vk_buf_create(s, &s->up, cap, 1)) < 0)
			return rc;
	}
	if (s->n_ups == s->cap_ups) {
		int cap = s->cap_ups ? 2 * s->cap_ups : 16;
		void *p = realloc(s->ups, (size_t)cap * sizeof *s->ups);
		if (!p)
			return -ENOMEM;
		s->ups = p;
		s->cap_ups = cap;
	}
	memcpy((char *)s->up.map + s->up_used, src, (size_t)bytes);
	s->ups[s->n_ups++] = (struct vk_upload){
		.src = s->up_used, .dst = (VkDeviceSize)(s->buf_off[buf] + off) * 4, .size = bytes,
	};
	s->up_used = (s->up_used + bytes + 15) & ~(VkDeviceSize)15;
	return 0;
}

static int vk_weight_kernel(void *state, int idx, char *out, size_t len)
{
	struct vk_state *s = state;
	if (!s->m || idx < 0 || idx >= s->m->n_tensors)
		return -EINVAL;
	enum pb_dtype d = s->m->tensors[idx].dtype;
	/* block formats are dequantised in the shader, next to the dot product */
	snprintf(out, len, "%s vk-%s%s", pb_dtype_name(d), pb_dtype_block(d) > 1 ? "dequant-gemv" : "gemv",
		 s->subgroup ? "-subgroup" : "");
	return 0;
}

static int vk_device_ms(void *state, double *total_ms)
{
	struct vk_state *s = state;
	int rc;
	if (!s->ts_mask)
		return -ENOTSUP;
	if ((rc = vk_wait_all(s)) < 0)
		return rc;
	*total_ms = s->device_ms;
	return 0;
}

static const struct pb_backend_ops vk_ops = {
	.struct_size = sizeof(struct pb_backend_ops),
	.formats = VK_FORMATS,
	.weights_load = vk_weights_load,
	.buffers_alloc = vk_buffers_alloc,
	.graph_compute = vk_graph_compute,
	.buffer_read = vk_buffer_read,
	.buffer_write = vk_buffer_write,
	.weight_kernel = vk_weight_kernel,
	.device_ms = vk_device_ms,
};

static const struct pb_option vk_options[] = {
	{ .key = "device", .type = PB_OPT_STRING, .offset = offsetof(struct vk_config, device),
	  .def = "", .help = "which Vulkan device: an index or a part of its name (any case), as "
		  "'prunebench plugins vulkan' lists them; empty = the first discrete GPU, else "
		  "integrated, virtual, then the CPU (lavapipe)" },
	{ .key = "subgroups", .type = PB_OPT_ENUM, .offset = offsetof(struct vk_config, subgroups),
	  .def = "auto", .choices = "auto|on|off",
	  .help = "reductions with subgroup operations (auto: where the device has subgroup "
		  "arithmetic) or with shared memory only (off)" },
	{ .key = "pipeline_cache", .type = PB_OPT_BOOL,
	  .offset = offsetof(struct vk_config, pipeline_cache), .def = "true",
	  .help = "keep compiled pipelines in $XDG_CACHE_HOME/prunebench (else "
		  "~/.cache/prunebench) between runs" },
	{ .key = "workgroup", .type = PB_OPT_INT, .offset = offsetof(struct vk_config, workgroup),
	  .def = "64", .min = 64, .max = 1024,
	  .help = "threads per workgroup, a power of two (64 suits most devices)" },
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_BACKEND,
	.name = "vulkan",
	.version = "1.0.0",
	.summary = "Vulkan compute backend: GLSL shaders for every op, one command buffer per step, "
		   "GPU timestamps",
	.options = vk_options,
	.config_size = sizeof(struct vk_config),
	.available = vk_available,
	.init = vk_init,
	.fini = vk_fini,
	.ops = &vk_ops,
};

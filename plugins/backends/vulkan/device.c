/* plugins/backends/vulkan/device.c — the logical device and its memory:
 * queue, command buffers and fences, timestamp queries, buffers
 * (device-local arenas, host-visible staging), the activation arena, the
 * step table and the one descriptor set per weight arena (layout in
 * vk.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define VK_CHECK(s, call, what) do { \
	VkResult r_ = (call); \
	if (r_ != VK_SUCCESS) { \
		VK_LOG(s, PB_LOG_ERROR, "%s failed: %s", what, vk_result_name(r_)); \
		return r_ == VK_ERROR_OUT_OF_HOST_MEMORY || r_ == VK_ERROR_OUT_OF_DEVICE_MEMORY ? \
			-ENOMEM : -EIO; \
	} } while (0)

static int pick_queue(struct vk_state *s)
{
	VkQueueFamilyProperties q[16];
	uint32_t n = 16;
	int best = -1;
	s->fn.vkGetPhysicalDeviceQueueFamilyProperties(s->phys, &n, q);
	/* a compute family that can time, else any compute family */
	for (uint32_t i = 0; i < n; i++) {
		if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
			continue;
		if (best < 0 || (q[i].timestampValidBits && !q[best].timestampValidBits))
			best = (int)i;
	}
	if (best < 0)
		return -ENODEV;
	s->qfam = (uint32_t)best;
	uint32_t bits = q[best].timestampValidBits;
	s->ts_mask = bits >= 64 ? ~0ull : bits ? (1ull << bits) - 1 : 0;
	s->ts_ns = s->props.limits.timestampPeriod;
	return 0;
}

/* Subgroup arithmetic in compute shaders (Vulkan 1.1 core properties). */
static int subgroups_usable(struct vk_state *s)
{
	VkPhysicalDeviceSubgroupProperties sg = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
	};
	VkPhysicalDeviceProperties2 p2 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg,
	};
	s->fn.vkGetPhysicalDeviceProperties2(s->phys, &p2);
	const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT |
		VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
	const int ok = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
		(sg.supportedOperations & need) == need && sg.subgroupSize >= 1;
	s->sg_size = ok ? sg.subgroupSize : 0;
	return ok;
}

/* Rows per linear workgroup: on a CPU device each thread takes a whole
 * row (its SIMD lanes are the threads; barriers cost a coroutine switch
 * there), on a GPU a subgroup (or 32 threads) shares one. */
static uint32_t rows_per_workgroup(struct vk_state *s)
{
	uint32_t lanes = s->subgroup ? s->sg_size : 32;
	if (s->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
		return s->wg;
	if (lanes < 1 || lanes > s->wg || (lanes & (lanes - 1)))
		lanes = s->wg;
	return s->wg / lanes;
}

static int load_device_fns(struct vk_state *s)
{
#define VK_LOAD_DEV(f) \
	if (!(s->fn.f = (PFN_##f)s->fn.vkGetDeviceProcAddr(s->dev, #f))) { \
		VK_LOG(s, PB_LOG_ERROR, "device function %s missing", #f); \
		return -ENOSYS; \
	}
	VK_DEVICE_FNS(VK_LOAD_DEV)
#undef VK_LOAD_DEV
	return 0;
}

int vk_device_open(struct vk_state *s)
{
	const float prio = 1.0f;
	int rc;
	if ((rc = pick_queue(s)) < 0) {
		VK_LOG(s, PB_LOG_ERROR, "%s has no compute queue", s->props.deviceName);
		return rc;
	}
	const int sg = subgroups_usable(s);
	if (s->cfg.subgroups == VK_SG_ON && !sg) {
		VK_LOG(s, PB_LOG_ERROR, "option subgroups: on, but %s has no subgroup arithmetic in "
		       "compute shaders", s->props.deviceName);
		return -ENOTSUP;
	}
	s->subgroup = s->cfg.subgroups == VK_SG_OFF ? 0 : sg;
	s->rpw = rows_per_workgroup(s);
	const VkDeviceQueueCreateInfo qci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = s->qfam, .queueCount = 1, .pQueuePriorities = &prio,
	};
	const VkDeviceCreateInfo dci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.queueCreateInfoCount = 1, .pQueueCreateInfos = &qci,
	};
	VK_CHECK(s, s->fn.vkCreateDevice(s->phys, &dci, NULL, &s->dev), "vkCreateDevice");
	if (load_device_fns(s) < 0) {
		/* fini must not call what is missing */
		PFN_vkDestroyDevice destroy =
			(PFN_vkDestroyDevice)s->fn.vkGetDeviceProcAddr(s->dev, "vkDestroyDevice");
		if (destroy)
			destroy(s->dev, NULL);
		s->dev = VK_NULL_HANDLE;
		return -ENOSYS;
	}
	s->fn.vkGetDeviceQueue(s->dev, s->qfam, 0, &s->queue);

	const VkCommandPoolCreateInfo pci = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = s->qfam,
	};
	VK_CHECK(s, s->fn.vkCreateCommandPool(s->dev, &pci, NULL, &s->pool), "vkCreateCommandPool");
	VkCommandBuffer cmds[VK_SLOTS + 1];
	const VkCommandBufferAllocateInfo cai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = s->pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = VK_SLOTS + 1,
	};
	VK_CHECK(s, s->fn.vkAllocateCommandBuffers(s->dev, &cai, cmds), "vkAllocateCommandBuffers");
	const VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	for (int i = 0; i <= VK_SLOTS; i++) {
		struct vk_slot *sl = i < VK_SLOTS ? &s->slot[i] : &s->xfer;
		sl->cmd = cmds[i];
		VK_CHECK(s, s->fn.vkCreateFence(s->dev, &fci, NULL, &sl->fence), "vkCreateFence");
	}
	if (s->ts_mask) {
		const VkQueryPoolCreateInfo qpi = {
			.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
			.queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2 * VK_SLOTS,
		};
		VK_CHECK(s, s->fn.vkCreateQueryPool(s->dev, &qpi, NULL, &s->queries), "vkCreateQueryPool");
	}

	VkDescriptorSetLayoutBinding b[3];
	for (uint32_t i = 0; i < 3; i++)
		b[i] = (VkDescriptorSetLayoutBinding){
			.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	const VkDescriptorSetLayoutCreateInfo dli = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = 3, .pBindings = b,
	};
	VK_CHECK(s, s->fn.vkCreateDescriptorSetLayout(s->dev, &dli, NULL, &s->dsl),
		 "vkCreateDescriptorSetLayout");
	/* every shader's push constants fit the 128 bytes every device has */
	const VkPushConstantRange pcr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = 128 };
	const VkPipelineLayoutCreateInfo pli = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1, .pSetLayouts = &s->dsl,
		.pushConstantRangeCount = 1, .pPushConstantRanges = &pcr,
	};
	VK_CHECK(s, s->fn.vkCreatePipelineLayout(s->dev, &pli, NULL, &s->layout),
		 "vkCreatePipelineLayout");
	return 0;
}

void vk_device_close(struct vk_state *s)
{
	if (!s->dev)
		return;
	s->fn.vkDeviceWaitIdle(s->dev);
	for (int i = 0; s->arenas && i < s->n_arenas; i++)
		vk_buf_destroy(s, &s->arenas[i]);
	vk_buf_destroy(s, &s->acts);
	vk_buf_destroy(s, &s->table);
	vk_buf_destroy(s, &s->up);
	vk_buf_destroy(s, &s->down);
	if (s->dpool)
		s->fn.vkDestroyDescriptorPool(s->dev, s->dpool, NULL);
	if (s->layout)
		s->fn.vkDestroyPipelineLayout(s->dev, s->layout, NULL);
	if (s->dsl)
		s->fn.vkDestroyDescriptorSetLayout(s->dev, s->dsl, NULL);
	if (s->queries)
		s->fn.vkDestroyQueryPool(s->dev, s->queries, NULL);
	for (int i = 0; i <= VK_SLOTS; i++) {
		struct vk_slot *sl = i < VK_SLOTS ? &s->slot[i] : &s->xfer;
		if (sl->fence)
			s->fn.vkDestroyFence(s->dev, sl->fence, NULL);
	}
	if (s->pool)
		s->fn.vkDestroyCommandPool(s->dev, s->pool, NULL);
	s->fn.vkDestroyDevice(s->dev, NULL);
	s->dev = VK_NULL_HANDLE;
}

static int mem_type(struct vk_state *s, uint32_t bits, VkMemoryPropertyFlags want,
		    VkMemoryPropertyFlags prefer)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < s->mem.memoryTypeCount; i++) {
			VkMemoryPropertyFlags f = s->mem.memoryTypes[i].propertyFlags;
			VkMemoryPropertyFlags need = pass ? want : want | prefer;
			if ((bits & (1u << i)) && (f & need) == need)
				return (int)i;
		}
	return -1;
}

/* host: 0 device-local (storage, transfer both ways); 1 host-visible
 * upload staging / table; 2 host-visible readback (cached if possible). */
int vk_buf_create(struct vk_state *s, struct vk_buf *b, VkDeviceSize size, int host)
{
	memset(b, 0, sizeof *b);
	size = size < 16 ? 16 : (size + 15) & ~(VkDeviceSize)15;
	const VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
			 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VK_CHECK(s, s->fn.vkCreateBuffer(s->dev, &bci, NULL, &b->b), "vkCreateBuffer");
	VkMemoryRequirements req;
	s->fn.vkGetBufferMemoryRequirements(s->dev, b->b, &req);
	const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
		VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	int t = !host ? mem_type(s, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) :
		mem_type(s, req.memoryTypeBits, hv, host == 2 ? VK_MEMORY_PROPERTY_HOST_CACHED_BIT : 0);
	if (t < 0) {
		VK_LOG(s, PB_LOG_ERROR, "no memory type for a %s buffer", host ? "staging" : "device");
		s->fn.vkDestroyBuffer(s->dev, b->b, NULL);
		b->b = VK_NULL_HANDLE;
		return -ENOMEM;
	}
	const VkMemoryAllocateInfo mai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
		.memoryTypeIndex = (uint32_t)t,
	};
	VkResult r = s->fn.vkAllocateMemory(s->dev, &mai, NULL, &b->mem);
	if (r == VK_SUCCESS)
		r = s->fn.vkBindBufferMemory(s->dev, b->b, b->mem, 0);
	if (r == VK_SUCCESS && host)
		r = s->fn.vkMapMemory(s->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
	if (r != VK_SUCCESS) {
		VK_LOG(s, PB_LOG_ERROR, "cannot allocate %llu bytes of %s memory: %s",
		       (unsigned long long)size, host ? "host-visible" : "device", vk_result_name(r));
		vk_buf_destroy(s, b);
		return -ENOMEM;
	}
	b->size = size;
	return 0;
}

void vk_buf_destroy(struct vk_state *s, struct vk_buf *b)
{
	if (b->b)
		s->fn.vkDestroyBuffer(s->dev, b->b, NULL);
	if (b->mem)
		s->fn.vkFreeMemory(s->dev, b->mem, NULL);   /* unmaps too */
	memset(b, 0, sizeof *b);
}

int vk_begin(struct vk_state *s, struct vk_slot *sl)
{
	const VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	VK_CHECK(s, s->fn.vkResetCommandBuffer(sl->cmd, 0), "vkResetCommandBuffer");
	VK_CHECK(s, s->fn.vkBeginCommandBuffer(sl->cmd, &bi), "vkBeginCommandBuffer");
	return 0;
}

int vk_submit(struct vk_state *s, struct vk_slot *sl)
{
	const VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
		.pCommandBuffers = &sl->cmd,
	};
	VK_CHECK(s, s->fn.vkEndCommandBuffer(sl->cmd), "vkEndCommandBuffer");
	VK_CHECK(s, s->fn.vkResetFences(s->dev, 1, &sl->fence), "vkResetFences");
	VK_CHECK(s, s->fn.vkQueueSubmit(s->queue, 1, &si, sl->fence), "vkQueueSubmit");
	sl->pending = 1;
	return 0;
}

/* Wait for a slot's submission; a timed step adds its GPU time. */
int vk_wait(struct vk_state *s, struct vk_slot *sl)
{
	if (!sl->pending)
		return 0;
	VK_CHECK(s, s->fn.vkWaitForFences(s->dev, 1, &sl->fence, VK_TRUE, UINT64_MAX),
		 "vkWaitForFences");
	sl->pending = 0;
	if (sl->timed) {
		uint64_t ts[2];
		const uint32_t q = (uint32_t)(sl - s->slot) * 2;
		sl->timed = 0;
		if (s->fn.vkGetQueryPoolResults(s->dev, s->queries, q, 2, sizeof ts, ts, sizeof ts[0],
						VK_QUERY_RESULT_64_BIT) == VK_SUCCESS)
			s->device_ms += (double)((ts[1] - ts[0]) & s->ts_mask) * s->ts_ns / 1e6;
	}
	return 0;
}

int vk_wait_all(struct vk_state *s)
{
	int rc = vk_wait(s, &s->xfer);
	for (int i = 0; i < VK_SLOTS; i++) {
		int r = vk_wait(s, &s->slot[i]);
		rc = rc < 0 ? rc : r;
	}
	return rc;
}

void vk_barrier(struct vk_state *s, VkCommandBuffer cmd, VkPipelineStageFlags src,
		VkAccessFlags src_a, VkPipelineStageFlags dst, VkAccessFlags dst_a)
{
	const VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_a, .dstAccessMask = dst_a,
	};
	s->fn.vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* The pending buffer_write copies, first in a command buffer (kept
 * pending until it is submitted: vk_uploads_done). */
int vk_flush_uploads(struct vk_state *s, VkCommandBuffer cmd)
{
	if (!s->n_ups)
		return 0;
	VkBufferCopy *reg = calloc((size_t)s->n_ups, sizeof *reg);
	if (!reg)
		return -ENOMEM;
	for (int i = 0; i < s->n_ups; i++)
		reg[i] = (VkBufferCopy){ .srcOffset = s->ups[i].src, .dstOffset = s->ups[i].dst,
					 .size = s->ups[i].size };
	/* earlier steps may still read what these overwrite */
	vk_barrier(s, cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		   VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
	s->fn.vkCmdCopyBuffer(cmd, s->up.b, s->acts.b, (uint32_t)s->n_ups, reg);
	vk_barrier(s, cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
		   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT);
	free(reg);
	return 0;
}

/* The copies above were submitted: the staging space is free again once
 * that submission completes (buffer_write waits for it). */
void vk_uploads_done(struct vk_state *s)
{
	s->n_ups = 0;
	s->up_used = 0;
}

/* One set per weight arena, all three bindings whole buffers.  Called
 * with nothing in flight whenever a buffer is replaced. */
int vk_sets_update(struct vk_state *s)
{
	if (!s->acts.b || !s->table.b || !s->n_arenas)
		return 0;   /* the rest comes later (weights_load, buffers_alloc, first step) */
	if (s->dpool)
		s->fn.vkDestroyDescriptorPool(s->dev, s->dpool, NULL);
	s->dpool = VK_NULL_HANDLE;
	free(s->sets);
	s->sets = calloc((size_t)s->n_arenas, sizeof *s->sets);
	if (!s->sets)
		return -ENOMEM;
	const VkDescriptorPoolSize ps = {
		.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 3u * (uint32_t)s->n_arenas,
	};
	const VkDescriptorPoolCreateInfo dpi = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.maxSets = (uint32_t)s->n_arenas, .poolSizeCount = 1, .pPoolSizes = &ps,
	};
	VK_CHECK(s, s->fn.vkCreateDescriptorPool(s->dev, &dpi, NULL, &s->dpool), "vkCreateDescriptorPool");
	for (int a = 0; a < s->n_arenas; a++) {
		const VkDescriptorSetAllocateInfo dai = {
			.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
			.descriptorPool = s->dpool, .descriptorSetCount = 1, .pSetLayouts = &s->dsl,
		};
		VK_CHECK(s, s->fn.vkAllocateDescriptorSets(s->dev, &dai, &s->sets[a]),
			 "vkAllocateDescriptorSets");
		const VkDescriptorBufferInfo bi[3] = {
			{ s->acts.b, 0, VK_WHOLE_SIZE }, { s->arenas[a].b, 0, VK_WHOLE_SIZE },
			{ s->table.b, 0, VK_WHOLE_SIZE },
		};
		VkWriteDescriptorSet wr[3];
		for (uint32_t i = 0; i < 3; i++)
			wr[i] = (VkWriteDescriptorSet){
				.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = s->sets[a],
				.dstBinding = i, .descriptorCount = 1,
				.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &bi[i],
			};
		s->fn.vkUpdateDescriptorSets(s->dev, 3, wr, 0, NULL);
	}
	return 0;
}

/* The session's buffers, one after the other in the acts arena (each at
 * a 64-byte boundary), zeroed. */
int vk_acts_alloc(struct vk_state *s, const int64_t *sizes, int n)
{
	int64_t total = 0;
	int rc;
	vk_wait_all(s);
	vk_buf_destroy(s, &s->acts);
	free(s->buf_off);
	free(s->buf_n);
	free(s->dirty_w);
	free(s->dirty_r);
	s->buf_off = s->buf_n = NULL;
	s->dirty_w = s->dirty_r = NULL;
	s->n_buf = 0;
	s->n_ups = 0;
	s->up_used = 0;
	if (n < 0)
		return -EINVAL;
	s->buf_off = calloc((size_t)(n ? n : 1), sizeof *s->buf_off);
	s->buf_n = calloc((size_t)(n ? n : 1), sizeof *s->buf_n);
	s->dirty_w = calloc((size_t)(n ? n : 1), 1);
	s->dirty_r = calloc((size_t)(n ? n : 1), 1);
	if (!s->buf_off || !s->buf_n || !s->dirty_w || !s->dirty_r)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (sizes[i] < 0)
			return -EINVAL;
		s->buf_off[i] = total;
		s->buf_n[i] = sizes[i];
		total += (sizes[i] + 15) & ~(int64_t)15;
	}
	const uint64_t bytes = (uint64_t)total * 4;
	if (bytes > s->props.limits.maxStorageBufferRange) {
		VK_LOG(s, PB_LOG_ERROR, "the session's buffers need %llu MiB; %s binds at most %u MiB "
		       "(maxStorageBufferRange): use a shorter context", (unsigned long long)(bytes >> 20),
		       s->props.deviceName, s->props.limits.maxStorageBufferRange >> 20);
		return -E2BIG;
	}
	if ((rc = vk_buf_create(s, &s->acts, bytes, 0)) < 0)
		return rc;
	s->n_buf = n;
	if ((rc = vk_begin(s, &s->xfer)) < 0)
		return rc;
	s->fn.vkCmdFillBuffer(s->xfer.cmd, s->acts.b, 0, VK_WHOLE_SIZE, 0);
	if ((rc = vk_submit(s, &s->xfer)) < 0 || (rc = vk_wait(s, &s->xfer)) < 0)
		return rc;
	return vk_sets_update(s);
}

/* Room for `floats` table entries per slot; growing waits for every
 * step in flight (it happens a few times, as prefills get longer). */
int vk_table_reserve(struct vk_state *s, int64_t floats)
{
	if (s->table.b && floats <= s->table_cap)
		return 0;
	int64_t cap = s->table_cap ? s->table_cap : 4096;
	while (cap < floats)
		cap *= 2;
	vk_wait_all(s);
	vk_buf_destroy(s, &s->table);
	s->table_cap = 0;
	int rc = vk_buf_create(s, &s->table, (VkDeviceSize)cap * 4 * VK_SLOTS, 1);
	if (rc < 0)
		return rc;
	s->table_cap = cap;
	return vk_sets_update(s);
}

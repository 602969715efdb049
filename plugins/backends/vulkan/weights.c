/* plugins/backends/vulkan/weights.c — the model's weights on the device:
 * every tensor the architecture may name, packed into device-local arenas
 * of at most maxStorageBufferRange bytes (one descriptor set each), copied
 * through a host-visible staging buffer a chunk at a time; tied tensors
 * (one data pointer, e.g. a shared embedding and classifier) go up once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define VK_STAGING_CHUNK ((VkDeviceSize)32 << 20)   /* weight upload granule */

/* A transfer on the xfer command buffer, waited for (loading, not steps). */
static int copy_now(struct vk_state *s, VkBuffer src, VkBuffer dst, const VkBufferCopy *reg, uint32_t n)
{
	int rc;
	if ((rc = vk_begin(s, &s->xfer)) < 0)
		return rc;
	s->fn.vkCmdCopyBuffer(s->xfer.cmd, src, dst, n, reg);
	if ((rc = vk_submit(s, &s->xfer)) < 0)
		return rc;
	return vk_wait(s, &s->xfer);
}

#define VK_NOT_OWNER ((VkDeviceSize)-1)   /* not uploaded, or tied to an earlier tensor */

/* Weight bytes gathered in a staging buffer, copied when it is full. */
struct stager {
	struct vk_state *s;
	struct vk_buf *stage;
	VkBufferCopy reg[64];
	uint32_t n;
	VkDeviceSize used, cap;   /* cap: the staging buffer's size */
	int arena;
};

static int stage_flush(struct stager *st)
{
	int rc = 0;
	if (st->n)
		rc = copy_now(st->s, st->stage->b, st->s->arenas[st->arena].b, st->reg, st->n);
	st->n = 0;
	st->used = 0;
	return rc;
}

static int stage_tensor(struct stager *st, const struct pb_tensor *t, int arena, VkDeviceSize off)
{
	size_t done = 0;
	int rc;
	while (done < t->nbytes) {
		if (st->used >= st->cap || st->n == 64 || (st->n && st->arena != arena))
			if ((rc = stage_flush(st)) < 0)
				return rc;
		size_t piece = t->nbytes - done;
		if (piece > st->cap - st->used)
			piece = (size_t)(st->cap - st->used);
		memcpy((char *)st->stage->map + st->used, (const char *)t->data + done, piece);
		st->reg[st->n++] = (VkBufferCopy){ .srcOffset = st->used, .dstOffset = off + done,
						   .size = piece };
		st->used = (st->used + piece + 15) & ~(VkDeviceSize)15;
		st->arena = arena;
		done += piece;
	}
	return 0;
}

static void free_weights(struct vk_state *s)
{
	for (int i = 0; s->arenas && i < s->n_arenas; i++)
		vk_buf_destroy(s, &s->arenas[i]);
	free(s->arenas);
	free(s->w);
	s->arenas = NULL;
	s->w = NULL;
	s->n_arenas = 0;
	s->m = NULL;
}

/* Every tensor the arch may name (role set), in arenas of at most
 * maxStorageBufferRange bytes, tied tensors (same data) once. */
int vk_weights_upload(struct vk_state *s, const struct pb_model *m)
{
	const VkDeviceSize cap = s->props.limits.maxStorageBufferRange < (1u << 30) ?
		s->props.limits.maxStorageBufferRange : (VkDeviceSize)1 << 30;
	VkDeviceSize *arena_size = NULL, *off = NULL;
	struct vk_buf stage = { 0 };
	int rc = -ENOMEM, n = m->n_tensors;

	vk_wait_all(s);
	free_weights(s);
	s->w = calloc((size_t)(n ? n : 1), sizeof *s->w);
	off = calloc((size_t)(n ? n : 1), sizeof *off);
	arena_size = calloc((size_t)(n ? n : 1) + 1, sizeof *arena_size);
	if (!s->w || !off || !arena_size)
		goto out;
	s->n_arenas = 1;
	for (int i = 0; i < n; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		s->w[i].arena = -1;
		off[i] = VK_NOT_OWNER;
		if (t->role == PB_ROLE_OTHER)
			continue;
		if (t->dtype >= VK_N_FMT || !pb_row_bytes(t) || t->nbytes < pb_row_bytes(t) * (size_t)t->ne[1]) {
			VK_LOG(s, PB_LOG_ERROR, "tensor '%s' is %s [%lld × %lld]; this backend runs F32, "
			       "F16, BF16, Q8_0 and Q4_0 (rows of whole blocks)", t->name,
			       pb_dtype_name(t->dtype), (long long)t->ne[0], (long long)t->ne[1]);
			rc = -ENOTSUP;
			goto out;
		}
		s->w[i].row16 = (uint32_t)(pb_row_bytes(t) / 2);
		int tied = -1;
		for (int k = 0; k < i && tied < 0; k++)
			if (s->w[k].arena >= 0 && m->tensors[k].data == t->data &&
			    m->tensors[k].dtype == t->dtype && m->tensors[k].nbytes == t->nbytes)
				tied = k;
		if (tied >= 0) {
			s->w[i] = s->w[tied];
			off[i] = VK_NOT_OWNER;
			continue;
		}
		if (t->nbytes > cap) {
			VK_LOG(s, PB_LOG_ERROR, "tensor '%s' has %zu bytes; this device binds at most %llu "
			       "(maxStorageBufferRange)", t->name, t->nbytes, (unsigned long long)cap);
			rc = -E2BIG;
			goto out;
		}
		int a = s->n_arenas - 1;
		if (arena_size[a] + t->nbytes > cap)
			a = s->n_arenas++;
		off[i] = arena_size[a];
		arena_size[a] = (arena_size[a] + t->nbytes + 15) & ~(VkDeviceSize)15;
		s->w[i].arena = a;
		s->w[i].off16 = (uint32_t)(off[i] / 2);
	}
	s->arenas = calloc((size_t)s->n_arenas, sizeof *s->arenas);
	if (!s->arenas)
		goto out;
	for (int a = 0; a < s->n_arenas; a++)
		if ((rc = vk_buf_create(s, &s->arenas[a], arena_size[a], 0)) < 0)
			goto out;
	/* through the staging buffer, a chunk at a time; a tensor larger
	 * than a chunk goes in pieces.  The buffer is no larger than the
	 * weights: a small model (the op tests load hundreds) does not pay
	 * for 32 MiB of host memory each time. */
	VkDeviceSize total = 0;
	for (int i = 0; i < n; i++)
		if (off[i] != VK_NOT_OWNER)
			total += (m->tensors[i].nbytes + 15) & ~(VkDeviceSize)15;
	struct stager st = { .s = s, .stage = &stage,
			     .cap = total < VK_STAGING_CHUNK ? (total ? total : 16) : VK_STAGING_CHUNK };
	if ((rc = vk_buf_create(s, &stage, st.cap, 1)) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (off[i] != VK_NOT_OWNER && (rc = stage_tensor(&st, &m->tensors[i], s->w[i].arena,
								 off[i])) < 0)
			goto out;
	if ((rc = stage_flush(&st)) < 0)
		goto out;
	s->m = m;
	rc = vk_sets_update(s);
out:
	vk_buf_destroy(s, &stage);
	free(off);
	free(arena_size);
	if (rc < 0)
		free_weights(s);
	return rc;
}

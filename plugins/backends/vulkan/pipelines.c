/* plugins/backends/vulkan/pipelines.c — the compute pipelines, made once
 * per (shader, weight format) on first use and kept until fini, and the
 * pipeline cache on disk that spares the driver's compiler on the next
 * run: $XDG_CACHE_HOME/prunebench (else ~/.cache/prunebench), one file
 * per device and driver version.
 *
 * The SPIR-V is compiled from the shaders/ folder by glslc at build time and
 * included as arrays; the subgroup variants of the reducing shaders
 * (-DPB_SUBGROUP) replace the shared-memory ones where the device has
 * subgroup arithmetic. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk.h"

static const uint32_t spv_linear[] =
#include "linear.spv.h"
;
static const uint32_t spv_linear_sg[] =
#include "linear-sg.spv.h"
;
static const uint32_t spv_rmsnorm[] =
#include "rmsnorm.spv.h"
;
static const uint32_t spv_rmsnorm_sg[] =
#include "rmsnorm-sg.spv.h"
;
static const uint32_t spv_attention[] =
#include "attention.spv.h"
;
static const uint32_t spv_attention_sg[] =
#include "attention-sg.spv.h"
;
static const uint32_t spv_embed[] =
#include "embed.spv.h"
;
static const uint32_t spv_rope[] =
#include "rope.spv.h"
;
static const uint32_t spv_elementwise[] =
#include "elementwise.spv.h"
;

struct spv {
	const uint32_t *code;
	size_t size;
};

#define SPV(a) { a, sizeof a }
static const struct spv spv_plain[VK_K_COUNT] = {
	[VK_K_LINEAR] = SPV(spv_linear), [VK_K_GEMV] = SPV(spv_linear),
	[VK_K_RMSNORM] = SPV(spv_rmsnorm),
	[VK_K_EMBED] = SPV(spv_embed), [VK_K_ROPE] = SPV(spv_rope),
	[VK_K_ATTENTION] = SPV(spv_attention), [VK_K_ELEMWISE] = SPV(spv_elementwise),
};
static const struct spv spv_subgroup[VK_K_COUNT] = {
	[VK_K_LINEAR] = SPV(spv_linear_sg), [VK_K_GEMV] = SPV(spv_linear_sg),
	[VK_K_RMSNORM] = SPV(spv_rmsnorm_sg),
	[VK_K_EMBED] = SPV(spv_embed), [VK_K_ROPE] = SPV(spv_rope),
	[VK_K_ATTENTION] = SPV(spv_attention_sg), [VK_K_ELEMWISE] = SPV(spv_elementwise),
};

static void cache_path(struct vk_state *s)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[3072];
	s->cache_path[0] = '\0';
	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof dir, "%s/prunebench", xdg);
	else if (home && home[0] == '/')
		snprintf(dir, sizeof dir, "%s/.cache/prunebench", home);
	else
		return;
	/* the driver checks the header too; the name keeps devices apart */
	snprintf(s->cache_path, sizeof s->cache_path, "%s/vulkan-%04x-%04x-%08x.pipelines", dir,
		 s->props.vendorID, s->props.deviceID, s->props.driverVersion);
}

static void *read_cache(struct vk_state *s, size_t *n)
{
	FILE *f = fopen(s->cache_path, "rb");
	void *buf = NULL;
	long len;
	*n = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 32 && len < (64l << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len)) &&
	    fread(buf, 1, (size_t)len, f) == (size_t)len) {
		/* header: length, version, vendor, device, UUID (Vulkan spec) */
		uint32_t h[4];
		memcpy(h, buf, sizeof h);
		if (h[0] >= 32 && h[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
		    h[2] == s->props.vendorID && h[3] == s->props.deviceID &&
		    !memcmp((char *)buf + 16, s->props.pipelineCacheUUID, VK_UUID_SIZE))
			*n = (size_t)len;
	}
	fclose(f);
	if (!*n) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", path);
	for (char *c = p + 1; *c; c++)
		if (*c == '/') {
			*c = '\0';
			mkdir(p, 0755);
			*c = '/';
		}
}

/* Written to a temporary file and renamed: cells running at once on one
 * node (Slurm) never read half a file. */
static void write_cache(struct vk_state *s)
{
	size_t n = 0;
	char tmp[4200];
	void *buf;
	int fd;
	if (!s->cache || !s->cache_path[0] ||
	    s->fn.vkGetPipelineCacheData(s->dev, s->cache, &n, NULL) != VK_SUCCESS || !n ||
	    !(buf = malloc(n)))
		return;
	if (s->fn.vkGetPipelineCacheData(s->dev, s->cache, &n, buf) == VK_SUCCESS) {
		mkdirs(s->cache_path);
		snprintf(tmp, sizeof tmp, "%s.%d.tmp", s->cache_path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			int ok = write(fd, buf, n) == (ssize_t)n;
			ok &= close(fd) == 0;
			if (!ok || rename(tmp, s->cache_path) != 0) {
				unlink(tmp);
				VK_LOG(s, PB_LOG_WARN, "cannot write the pipeline cache %s", s->cache_path);
			} else {
				VK_LOG(s, PB_LOG_DEBUG, "pipeline cache: %zu bytes to %s", n, s->cache_path);
			}
		}
	}
	free(buf);
}

int vk_pipelines_init(struct vk_state *s)
{
	size_t n = 0;
	void *data = NULL;
	if (s->cfg.pipeline_cache) {
		cache_path(s);
		if (s->cache_path[0] && (data = read_cache(s, &n)))
			VK_LOG(s, PB_LOG_DEBUG, "pipeline cache: %zu bytes from %s", n, s->cache_path);
	}
	const VkPipelineCacheCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
		.initialDataSize = n, .pInitialData = data,
	};
	VkResult r = s->fn.vkCreatePipelineCache(s->dev, &ci, NULL, &s->cache);
	if (r != VK_SUCCESS && n) {   /* a cache the driver refuses: start empty */
		const VkPipelineCacheCreateInfo empty = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
		};
		r = s->fn.vkCreatePipelineCache(s->dev, &empty, NULL, &s->cache);
	}
	free(data);
	if (r != VK_SUCCESS)
		s->cache = VK_NULL_HANDLE;   /* pipelines work without one */
	const struct spv *spv = s->subgroup ? spv_subgroup : spv_plain;
	for (int k = 0; k < VK_K_COUNT; k++) {
		const VkShaderModuleCreateInfo mi = {
			.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
			.codeSize = spv[k].size, .pCode = spv[k].code,
		};
		r = s->fn.vkCreateShaderModule(s->dev, &mi, NULL, &s->modules[k]);
		if (r != VK_SUCCESS) {
			VK_LOG(s, PB_LOG_ERROR, "vkCreateShaderModule: %s", vk_result_name(r));
			return -EIO;
		}
	}
	return 0;
}

void vk_pipelines_fini(struct vk_state *s)
{
	if (!s->dev)
		return;
	write_cache(s);
	for (int k = 0; k < VK_K_COUNT; k++) {
		for (int f = 0; f < VK_N_FMT; f++)
			if (s->pipes[k][f])
				s->fn.vkDestroyPipeline(s->dev, s->pipes[k][f], NULL);
		if (s->modules[k])
			s->fn.vkDestroyShaderModule(s->dev, s->modules[k], NULL);
	}
	if (s->cache)
		s->fn.vkDestroyPipelineCache(s->dev, s->cache, NULL);
	memset(s->pipes, 0, sizeof s->pipes);
	memset(s->modules, 0, sizeof s->modules);
	s->cache = VK_NULL_HANDLE;
}

/* The pipeline of kernel k for weight format fmt (F32 for the kernels
 * without weights), made on first use with the workgroup size and the
 * format (and the linear's rows per workgroup and tokens per
 * workgroup) as specialization constants. */
VkPipeline vk_pipeline(struct vk_state *s, enum vk_kernel k, enum pb_dtype fmt)
{
	if ((unsigned)fmt >= VK_N_FMT)
		return VK_NULL_HANDLE;
	if (s->pipes[k][fmt])
		return s->pipes[k][fmt];
	/* ids as in shaders/common.glsl and linear.comp; a shader ignores
	 * the ones it does not declare */
	const uint32_t spec[4] = { s->wg, (uint32_t)fmt, s->rpw, k == VK_K_GEMV ? 1 : 8 };
	const VkSpecializationMapEntry ent[4] = {
		{ .constantID = 0, .offset = 0, .size = 4 }, { .constantID = 1, .offset = 4, .size = 4 },
		{ .constantID = 2, .offset = 8, .size = 4 }, { .constantID = 3, .offset = 12, .size = 4 },
	};
	const VkSpecializationInfo si = {
		.mapEntryCount = 4, .pMapEntries = ent, .dataSize = sizeof spec, .pData = spec,
	};
	const VkComputePipelineCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = s->modules[k], .pName = "main",
			.pSpecializationInfo = &si,
		},
		.layout = s->layout,
	};
	VkResult r = s->fn.vkCreateComputePipelines(s->dev, s->cache, 1, &ci, NULL, &s->pipes[k][fmt]);
	if (r != VK_SUCCESS) {
		VK_LOG(s, PB_LOG_ERROR, "vkCreateComputePipelines (kernel %d, %s): %s", k,
		       pb_dtype_name(fmt), vk_result_name(r));
		s->pipes[k][fmt] = VK_NULL_HANDLE;
	}
	return s->pipes[k][fmt];
}

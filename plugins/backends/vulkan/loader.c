/* plugins/backends/vulkan/loader.c — finding Vulkan at run time: the
 * loader library (dlopen, so the plugin loads where there is none), an
 * instance, the devices this backend can use and the one the `device`
 * option names.  available() and `prunebench plugins vulkan` list the
 * devices from here. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define VK_MAX_DEVICES 16

/* The loader stays mapped once opened: the drivers it loads (Mesa, LLVM)
 * do not unload cleanly, and the sanitizers can name their frames only
 * while they are mapped.  PB_VULKAN_LOADER names another library (a
 * non-standard install; tests use a missing one). */
int vk_load(struct vk_fns *fn, char *why, size_t len)
{
	const char *env = getenv("PB_VULKAN_LOADER");
	const char *lib = env && env[0] ? env : "libvulkan.so.1";
	void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	memset(fn, 0, sizeof *fn);
	if (!dl) {
		snprintf(why, len, "no Vulkan loader: cannot load %s (%s); install the Vulkan loader "
			 "(libvulkan1) and a driver (mesa-vulkan-drivers has the lavapipe CPU device)",
			 lib, dlerror());
		return -ENOENT;
	}
	fn->vkGetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)dlsym(dl, "vkGetInstanceProcAddr");
	if (!fn->vkGetInstanceProcAddr) {
		snprintf(why, len, "%s has no vkGetInstanceProcAddr: not a Vulkan loader", lib);
		return -ENOENT;
	}
	fn->vkCreateInstance = (PFN_vkCreateInstance)fn->vkGetInstanceProcAddr(NULL, "vkCreateInstance");
	if (!fn->vkCreateInstance) {
		snprintf(why, len, "%s: no vkCreateInstance", lib);
		return -ENOENT;
	}
	return 0;
}

const char *vk_result_name(VkResult r)
{
	switch (r) {
	case VK_SUCCESS: return "VK_SUCCESS";
	case VK_NOT_READY: return "VK_NOT_READY";
	case VK_TIMEOUT: return "VK_TIMEOUT";
	case VK_INCOMPLETE: return "VK_INCOMPLETE";
	case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
	case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
	case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
	case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
	case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
	case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
	case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
	case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
	case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
	case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
	default: return "VkResult error";
	}
}

int vk_instance_fns(struct vk_fns *fn, VkInstance inst)
{
#define VK_LOAD_INST(f) \
	if (!(fn->f = (PFN_##f)fn->vkGetInstanceProcAddr(inst, #f))) \
		return -ENOSYS;
	VK_INSTANCE_FNS(VK_LOAD_INST)
#undef VK_LOAD_INST
	return 0;
}

/* ---- keeping the driver loaded ----
 * The loader dlopens the driver (and the driver LLVM) at vkCreateInstance
 * and dlcloses it at vkDestroyInstance.  Mesa's drivers keep one-time
 * state in their globals and do not unload cleanly (what they allocated
 * then looks leaked, from code no longer mapped), and loading LLVM again
 * for every instance (available(), then init) costs time.  So the objects
 * the first instance brings in stay mapped for the life of the process. */

#define VK_MAX_PINNED 256

struct dso_list {
	char *name[VK_MAX_PINNED];
	int n;
};

static int dso_collect(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct dso_list *l = ctx;
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0] && l->n < VK_MAX_PINNED &&
	    (l->name[l->n] = strdup(info->dlpi_name)))
		l->n++;
	return 0;
}

static void dso_free(struct dso_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->name[i]);
	l->n = 0;
}

static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static int pinned;

/* Everything mapped now but not in `before` gets RTLD_NODELETE. */
static void pin_new(struct dso_list *before)
{
	struct dso_list now = { .n = 0 };
	dl_iterate_phdr(dso_collect, &now);
	for (int i = 0; i < now.n; i++) {
		int seen = 0;
		for (int k = 0; k < before->n && !seen; k++)
			seen = !strcmp(now.name[i], before->name[k]);
		if (!seen)   /* a reference that is never dropped; NOLOAD: no new mapping */
			(void)dlopen(now.name[i], RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	}
	dso_free(&now);
}

int vk_instance(struct vk_fns *fn, VkInstance *inst, char *why, size_t len)
{
	const VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "prunebench",
		.pEngineName = "prunebench",
		.apiVersion = VK_API_VERSION_1_1,
	};
	const VkInstanceCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	struct dso_list before = { .n = 0 };
	pthread_mutex_lock(&pin_lock);
	if (!pinned)
		dl_iterate_phdr(dso_collect, &before);
	VkResult r = fn->vkCreateInstance(&ci, NULL, inst);
	if (r == VK_SUCCESS && !pinned) {
		pin_new(&before);
		pinned = 1;
	}
	dso_free(&before);
	pthread_mutex_unlock(&pin_lock);
	if (r != VK_SUCCESS) {
		*inst = VK_NULL_HANDLE;
		snprintf(why, len, "no Vulkan driver: vkCreateInstance failed (%s)%s", vk_result_name(r),
			 r == VK_ERROR_INCOMPATIBLE_DRIVER ? "; install one (mesa-vulkan-drivers has "
			 "the lavapipe CPU device) or check VK_ICD_FILENAMES" : "");
		return -ENODEV;
	}
	if (vk_instance_fns(fn, *inst) < 0) {
		PFN_vkDestroyInstance destroy =
			(PFN_vkDestroyInstance)fn->vkGetInstanceProcAddr(*inst, "vkDestroyInstance");
		if (destroy)
			destroy(*inst, NULL);
		*inst = VK_NULL_HANDLE;
		snprintf(why, len, "the Vulkan loader lacks Vulkan 1.1 instance functions");
		return -ENOSYS;
	}
	return 0;
}

static const char *type_name(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
	default: return "other";
	}
}

static int has_compute(struct vk_fns *fn, VkPhysicalDevice pd)
{
	VkQueueFamilyProperties q[16];
	uint32_t n = 16;
	fn->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
	for (uint32_t i = 0; i < n; i++)
		if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
			return 1;
	return 0;
}

int vk_list_devices(struct vk_fns *fn, VkInstance inst, VkPhysicalDevice *out, int cap,
		    char *text, size_t len)
{
	VkPhysicalDevice all[VK_MAX_DEVICES];
	uint32_t n = VK_MAX_DEVICES;
	size_t used = 0;
	int k = 0;
	VkResult r = fn->vkEnumeratePhysicalDevices(inst, &n, all);
	if (r != VK_SUCCESS && r != VK_INCOMPLETE)
		n = 0;
	if (text && len)
		text[0] = '\0';
	for (uint32_t i = 0; i < n && k < cap; i++) {
		VkPhysicalDeviceProperties p;
		fn->vkGetPhysicalDeviceProperties(all[i], &p);
		if (p.apiVersion < VK_API_VERSION_1_1 || !has_compute(fn, all[i]))
			continue;
		if (text && used < len)
			used += (size_t)snprintf(text + used, len - used, "%s[%d] %s (%s, Vulkan %u.%u)",
						 k ? "; " : "", k, p.deviceName, type_name(p.deviceType),
						 VK_API_VERSION_MAJOR(p.apiVersion),
						 VK_API_VERSION_MINOR(p.apiVersion));
		out[k++] = all[i];
	}
	return k;
}

static int rank(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
	default: return 4;
	}
}

static int contains_ci(const char *hay, const char *needle)
{
	for (; *hay; hay++) {
		size_t i = 0;
		while (needle[i] && hay[i] && tolower((unsigned char)hay[i]) ==
		       tolower((unsigned char)needle[i]))
			i++;
		if (!needle[i])
			return 1;
	}
	return 0;
}

/* The `device` option: empty = the best kind (discrete GPU first, the
 * CPU device last), digits = an index into the list, else the first
 * device whose name contains the text (any case). */
int vk_pick_device(struct vk_state *s)
{
	VkPhysicalDevice devs[VK_MAX_DEVICES];
	char list[1024];
	const char *want = s->cfg.device;
	int n = vk_list_devices(&s->fn, s->inst, devs, VK_MAX_DEVICES, list, sizeof list);
	int pick = -1, digits = want[0] != '\0';
	if (n == 0) {
		VK_LOG(s, PB_LOG_ERROR, "no Vulkan 1.1 device with a compute queue");
		return -ENODEV;
	}
	for (const char *c = want; *c; c++)
		digits &= isdigit((unsigned char)*c) != 0;
	for (int i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;
		s->fn.vkGetPhysicalDeviceProperties(devs[i], &p);
		if (!want[0]) {
			VkPhysicalDeviceProperties b;
			if (pick >= 0)
				s->fn.vkGetPhysicalDeviceProperties(devs[pick], &b);
			if (pick < 0 || rank(p.deviceType) < rank(b.deviceType))
				pick = i;
		} else if (digits ? atoi(want) == i : contains_ci(p.deviceName, want)) {
			pick = i;
			break;
		}
	}
	if (pick < 0) {
		VK_LOG(s, PB_LOG_ERROR, "option device '%s' matches no device; here: %s", want, list);
		return -ENODEV;
	}
	s->phys = devs[pick];
	s->fn.vkGetPhysicalDeviceProperties(s->phys, &s->props);
	s->fn.vkGetPhysicalDeviceMemoryProperties(s->phys, &s->mem);
	return 0;
}

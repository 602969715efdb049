/* tests/probes-b/fake-nvml.c — a fake libnvidia-ml.so.1 exporting the NVML
 * calls the nvml probe uses, with the real signatures, so the probe can be
 * tested on machines without an NVIDIA GPU.
 *
 * The values are scripted two ways:
 *  - in-process tests dlopen this library (the probe's dlopen of the same
 *    path returns the same instance) and write `fake_nvml` directly;
 *  - a cell run in a child process reads FAKE_NVML at the first nvmlInit,
 *    "key=value,key=value", keys as the fields below (unsupported takes
 *    query names joined by '+': util+memory+power+energy+temp+clock).
 * Each *_step is added after every call of that query, so a counter
 * rises (energy_step_mj) or a GPU cools (temp_step < 0, down to temp_min)
 * as the probe reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

enum {
	OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3,
	INSUFFICIENT_SIZE = 7, DRIVER_NOT_LOADED = 9, GPU_IS_LOST = 15,
};
enum { U_UTIL = 1, U_MEMORY = 2, U_POWER = 4, U_ENERGY = 8, U_TEMP = 16, U_CLOCK = 32 };

struct fake_nvml {
	int count;
	char name[96];
	unsigned util_gpu, util_mem;
	unsigned long long mem_used, mem_total;
	double power_mw, power_step_mw;
	unsigned long long energy_mj;
	long long energy_step_mj;
	double temp_c, temp_step, temp_min;
	unsigned sm_mhz, mem_mhz;
	unsigned unsupported;        /* U_* queries answering NOT_SUPPORTED */
	int init_error;              /* nvmlInit returns this when non-zero */
	long lost_after;             /* > 0: after this many reads (utilisation calls), GPU_IS_LOST */
	/* observed */
	int inits;                   /* current nvmlInit nesting */
	long reads;
};

EXPORT struct fake_nvml fake_nvml = {
	.count = 1, .name = "Fake GPU 80GB", .util_gpu = 50, .util_mem = 20,
	.mem_used = 1ull << 30, .mem_total = 80ull << 30, .power_mw = 100000,
	.energy_mj = 1000000, .temp_c = 45, .temp_min = 0, .sm_mhz = 1980, .mem_mhz = 2619,
};

static struct nvmlDevice_st { int index; } devices[8];

static void configure(void)
{
	static int done;
	const char *env = getenv("FAKE_NVML");
	char key[32], val[96];

	if (done || !env)
		return;
	done = 1;
	for (const char *p = env; *p;) {
		size_t kl = strcspn(p, "="), vl;
		if (!p[kl] || kl >= sizeof key)
			break;
		memcpy(key, p, kl);
		key[kl] = '\0';
		p += kl + 1;
		vl = strcspn(p, ",");
		if (vl >= sizeof val)
			vl = sizeof val - 1;
		memcpy(val, p, vl);
		val[vl] = '\0';
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
		double v = strtod(val, NULL);
		struct fake_nvml *f = &fake_nvml;
		if (!strcmp(key, "count")) f->count = (int)v;
		else if (!strcmp(key, "name")) snprintf(f->name, sizeof f->name, "%s", val);
		else if (!strcmp(key, "util")) f->util_gpu = (unsigned)v;
		else if (!strcmp(key, "mem_used")) f->mem_used = (unsigned long long)v;
		else if (!strcmp(key, "power_mw")) f->power_mw = v;
		else if (!strcmp(key, "power_step_mw")) f->power_step_mw = v;
		else if (!strcmp(key, "energy_mj")) f->energy_mj = (unsigned long long)v;
		else if (!strcmp(key, "energy_step_mj")) f->energy_step_mj = (long long)v;
		else if (!strcmp(key, "temp_c")) f->temp_c = v;
		else if (!strcmp(key, "temp_step")) f->temp_step = v;
		else if (!strcmp(key, "temp_min")) f->temp_min = v;
		else if (!strcmp(key, "sm_mhz")) f->sm_mhz = (unsigned)v;
		else if (!strcmp(key, "mem_mhz")) f->mem_mhz = (unsigned)v;
		else if (!strcmp(key, "init_error")) f->init_error = (int)v;
		else if (!strcmp(key, "lost_after")) f->lost_after = (long)v;
		else if (!strcmp(key, "unsupported")) {
			static const char *const q[] = { "util", "memory", "power", "energy", "temp", "clock" };
			for (int i = 0; i < 6; i++)
				if (strstr(val, q[i]))
					f->unsupported |= 1u << i;
		}
	}
}

EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	configure();
	if (fake_nvml.init_error)
		return fake_nvml.init_error;
	fake_nvml.inits++;
	return OK;
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
	if (fake_nvml.inits <= 0)
		return UNINITIALIZED;
	fake_nvml.inits--;
	return OK;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case OK: return "Success";
	case UNINITIALIZED: return "Uninitialized";
	case INVALID_ARGUMENT: return "Invalid Argument";
	case NOT_SUPPORTED: return "Not Supported";
	case DRIVER_NOT_LOADED: return "Driver Not Loaded";
	case GPU_IS_LOST: return "GPU is lost";
	default: return "Unknown Error";
	}
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
	if (fake_nvml.inits <= 0)
		return UNINITIALIZED;
	*n = (unsigned)fake_nvml.count;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
	if (fake_nvml.inits <= 0)
		return UNINITIALIZED;
	if (i >= (unsigned)fake_nvml.count || i >= 8)
		return INVALID_ARGUMENT;
	devices[i].index = (int)i;
	*d = &devices[i];
	return OK;
}

/* the common checks of every device query */
static nvmlReturn_t check(nvmlDevice_t d, unsigned query)
{
	if (fake_nvml.inits <= 0)
		return UNINITIALIZED;
	if (!d || d < devices || d >= devices + 8)
		return INVALID_ARGUMENT;
	if (fake_nvml.lost_after > 0 && fake_nvml.reads > fake_nvml.lost_after)
		return GPU_IS_LOST;
	return fake_nvml.unsupported & query ? NOT_SUPPORTED : OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len)
{
	nvmlReturn_t r = check(d, 0);
	if (r)
		return r;
	if (strlen(fake_nvml.name) >= len)
		return INSUFFICIENT_SIZE;
	strcpy(name, fake_nvml.name);
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
	fake_nvml.reads++;
	nvmlReturn_t r = check(d, U_UTIL);
	if (r)
		return r;
	u->gpu = fake_nvml.util_gpu;
	u->memory = fake_nvml.util_mem;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
	nvmlReturn_t r = check(d, U_MEMORY);
	if (r)
		return r;
	m->total = fake_nvml.mem_total;
	m->used = fake_nvml.mem_used;
	m->free = m->total - m->used;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
	nvmlReturn_t r = check(d, U_POWER);
	if (r)
		return r;
	*mw = (unsigned)(fake_nvml.power_mw + 0.5);
	fake_nvml.power_mw += fake_nvml.power_step_mw;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj)
{
	nvmlReturn_t r = check(d, U_ENERGY);
	if (r)
		return r;
	*mj = fake_nvml.energy_mj;
	fake_nvml.energy_mj += (unsigned long long)fake_nvml.energy_step_mj;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t)
{
	nvmlReturn_t r = check(d, U_TEMP);
	if (r)
		return r;
	if (sensor != 0)
		return INVALID_ARGUMENT;
	*t = (unsigned)(fake_nvml.temp_c + 0.5);
	fake_nvml.temp_c += fake_nvml.temp_step;
	if (fake_nvml.temp_c < fake_nvml.temp_min)
		fake_nvml.temp_c = fake_nvml.temp_min;
	return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
	nvmlReturn_t r = check(d, U_CLOCK);
	if (r)
		return r;
	if (type == 1)
		*mhz = fake_nvml.sm_mhz;
	else if (type == 2)
		*mhz = fake_nvml.mem_mhz;
	else
		return INVALID_ARGUMENT;
	return OK;
}

/* plugins/probes/nvml/nvml.c — one NVIDIA GPU through NVML: utilisation,
 * memory used, power, the total energy counter, temperature and the SM
 * and memory clocks.
 *
 * libnvidia-ml is opened with dlopen() at init, never linked: the plugin
 * builds and loads on machines without the driver, and says so in
 * available().  The few NVML types and prototypes it needs are declared
 * here from NVML's public API (nvml.h, which the driver does not always
 * ship).  `library` overrides the file name, so tests can point the probe
 * at a fake libnvidia-ml.
 *
 * A query the GPU does not support (NVML_ERROR_NOT_SUPPORTED: e.g. the
 * energy counter before Volta, power on some boards) leaves its channel
 * NAN; a lost GPU fails read() so that the sampler backs off.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "options.h"
#include "sysfs.h"

/* ---- the NVML API we use (nvml.h, stable since NVML 5) ---- */

typedef int nvmlReturn_t;
enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_GPU_IS_LOST = 15,
};
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
	unsigned int gpu, memory;   /* percent of time busy over the last sample period */
} nvmlUtilization_t;
typedef struct {
	unsigned long long total, free, used;   /* bytes */
} nvmlMemory_t;
enum { NVML_TEMPERATURE_GPU = 0 };
enum { NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2 };
#define NVML_DEVICE_NAME_BUFFER_SIZE 96

struct nvml_api {
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	const char *(*error_string)(nvmlReturn_t);
	nvmlReturn_t (*count)(unsigned int *);
	nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t *);
	nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);
	nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
	nvmlReturn_t (*temp)(nvmlDevice_t, int, unsigned int *);
	nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int *);
};

/* ---- the probe ---- */

struct nv_config {
	int64_t device;
	char library[PB_OPT_STR_MAX];
	double interval_ms;
};

enum { CH_UTIL, CH_MEM_USED, CH_POWER, CH_ENERGY, CH_TEMP, CH_SM_CLOCK, CH_MEM_CLOCK, CH_COUNT };

static const struct {
	const char *suffix, *unit;
	enum pb_channel_kind kind;
} nv_chan[CH_COUNT] = {
	[CH_UTIL] = { "util_pct", "%", PB_GAUGE },
	[CH_MEM_USED] = { "mem_used_bytes", "bytes", PB_GAUGE },
	[CH_POWER] = { "power_w", "W", PB_GAUGE },
	/* 64-bit millijoules since the driver loaded: no wrap in practice */
	[CH_ENERGY] = { "energy_j", "J", PB_COUNTER },
	[CH_TEMP] = { "temp_c", "C", PB_GAUGE },
	[CH_SM_CLOCK] = { "sm_clock_mhz", "MHz", PB_GAUGE },
	[CH_MEM_CLOCK] = { "mem_clock_mhz", "MHz", PB_GAUGE },
};

struct nv_state {
	const struct pb_host *host;
	void *dl;
	struct nvml_api api;
	nvmlDevice_t dev;
	unsigned int index, n_devices;
	char name[NVML_DEVICE_NAME_BUFFER_SIZE];
	char library[PB_OPT_STR_MAX];
	struct pb_channel ch[CH_COUNT];
	unsigned logged;           /* channels whose unexpected error was logged */
};

#define DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* dlopen + dlsym of everything; 0, or -ENOENT / -ENOSYS with why. */
static int api_open(const char *lib, void **dl, struct nvml_api *a, char *why, size_t len)
{
	static const char *const names[] = {
		"nvmlInit_v2", "nvmlShutdown", "nvmlErrorString", "nvmlDeviceGetCount_v2",
		"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName",
		"nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo",
		"nvmlDeviceGetPowerUsage", "nvmlDeviceGetTotalEnergyConsumption",
		"nvmlDeviceGetTemperature", "nvmlDeviceGetClockInfo",
	};
	void **slots = (void **)a;   /* struct nvml_api is pointers in names[] order */

	_Static_assert(sizeof(struct nvml_api) == sizeof names / sizeof names[0] * sizeof(void *),
		       "one slot per symbol");
	*dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		if (!strcmp(lib, DEFAULT_LIBRARY))
			snprintf(why, len, "%s not found (no NVIDIA driver)", lib);
		else
			snprintf(why, len, "cannot open %s: %s", lib, dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		/* POSIX: a function pointer round-trips through void * */
		if (!(slots[i] = dlsym(*dl, names[i]))) {
			snprintf(why, len, "%s has no %s (NVML too old?)", lib, names[i]);
			dlclose(*dl);
			*dl = NULL;
			return -ENOSYS;
		}
	}
	return 0;
}

static const char *nv_err(const struct nvml_api *a, nvmlReturn_t r)
{
	const char *s = a->error_string ? a->error_string(r) : NULL;
	return s ? s : "unknown NVML error";
}

/* nvmlInit; 0 or -ENODEV with NVML's own words. */
static int api_init(const struct nvml_api *a, unsigned *count, char *why, size_t len)
{
	nvmlReturn_t r = a->init();
	if (r != NVML_SUCCESS) {
		snprintf(why, len, "nvmlInit failed: %s", nv_err(a, r));
		return -ENODEV;
	}
	*count = 0;
	if ((r = a->count(count)) != NVML_SUCCESS || *count == 0) {
		if (r != NVML_SUCCESS)
			snprintf(why, len, "nvmlDeviceGetCount failed: %s", nv_err(a, r));
		else
			snprintf(why, len, "NVML found no NVIDIA GPU");
		a->shutdown();
		return -ENODEV;
	}
	return 0;
}

/* The host hook has no configuration: it checks the default library. */
static int nv_available(const struct pb_host *h, char *why, size_t len)
{
	struct nvml_api a;
	void *dl;
	unsigned n;
	int rc;

	(void)h;
	if ((rc = api_open(DEFAULT_LIBRARY, &dl, &a, why, len)) < 0)
		return rc;
	if ((rc = api_init(&a, &n, why, len)) == 0)
		a.shutdown();
	dlclose(dl);
	return rc;
}

static void nv_fini(void *state)
{
	struct nv_state *s = state;
	if (!s)
		return;
	if (s->dl) {
		s->api.shutdown();
		dlclose(s->dl);
	}
	free(s);
}

static int nv_init(const struct pb_host *h, const void *config, void **state)
{
	const struct nv_config *c = config;
	struct nv_state *s;
	char why[PATH_MAX + 256];
	nvmlReturn_t r;
	int rc;

	*state = NULL;
	if (!pbs_opt_ok(c->library, sizeof c->library)) {
		h->log(h, PB_LOG_ERROR, "option library is not terminated");
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof *s)))
		return -ENOMEM;
	s->host = h;
	snprintf(s->library, sizeof s->library, "%s", c->library[0] ? c->library : DEFAULT_LIBRARY);
	if ((rc = api_open(s->library, &s->dl, &s->api, why, sizeof why)) < 0 ||
	    (rc = api_init(&s->api, &s->n_devices, why, sizeof why)) < 0) {
		h->log(h, PB_LOG_ERROR, "%s", why);
		if (s->dl)
			dlclose(s->dl);
		free(s);
		return rc;
	}
	s->index = (unsigned)c->device;
	if (s->index >= s->n_devices) {
		h->log(h, PB_LOG_ERROR, "device %u does not exist: NVML sees %u GPU%s (0..%u)",
		       s->index, s->n_devices, s->n_devices == 1 ? "" : "s", s->n_devices - 1);
		rc = -ENODEV;
		goto fail;
	}
	if ((r = s->api.handle(s->index, &s->dev)) != NVML_SUCCESS) {
		h->log(h, PB_LOG_ERROR, "device %u: %s", s->index, nv_err(&s->api, r));
		rc = -ENODEV;
		goto fail;
	}
	if (s->api.name(s->dev, s->name, sizeof s->name) != NVML_SUCCESS)
		snprintf(s->name, sizeof s->name, "?");
	s->name[sizeof s->name - 1] = '\0';
	for (int i = 0; i < CH_COUNT; i++) {
		snprintf(s->ch[i].name, sizeof s->ch[i].name, "gpu%u_%s", s->index, nv_chan[i].suffix);
		snprintf(s->ch[i].unit, sizeof s->ch[i].unit, "%s", nv_chan[i].unit);
		s->ch[i].kind = nv_chan[i].kind;
	}
	*state = s;
	return 0;
fail:
	nv_fini(s);
	return rc;
}

static int nv_channels(void *state, const struct pb_channel **ch, int *n)
{
	struct nv_state *s = state;
	*ch = s->ch;
	*n = CH_COUNT;
	return 0;
}

/* 1 when r carries a value; NOT_SUPPORTED is silent, another error is
 * logged once per channel; a lost GPU is reported through *lost. */
static int ok(struct nv_state *s, int c, nvmlReturn_t r, int *lost)
{
	if (r == NVML_SUCCESS)
		return 1;
	if (r == NVML_ERROR_GPU_IS_LOST)
		*lost = 1;
	else if (r != NVML_ERROR_NOT_SUPPORTED && !(s->logged & 1u << c)) {
		s->logged |= 1u << c;
		s->host->log(s->host, PB_LOG_WARN, "%s: %s", s->ch[c].name, nv_err(&s->api, r));
	}
	return 0;
}

static int nv_read(void *state, double *v)
{
	struct nv_state *s = state;
	nvmlUtilization_t u;
	nvmlMemory_t m;
	unsigned int mw, t, sm, mem;
	unsigned long long mj;
	int lost = 0;

	for (int i = 0; i < CH_COUNT; i++)
		v[i] = NAN;
	if (ok(s, CH_UTIL, s->api.util(s->dev, &u), &lost))
		v[CH_UTIL] = u.gpu;
	if (ok(s, CH_MEM_USED, s->api.memory(s->dev, &m), &lost))
		v[CH_MEM_USED] = (double)m.used;
	if (ok(s, CH_POWER, s->api.power(s->dev, &mw), &lost))
		v[CH_POWER] = mw / 1e3;
	if (ok(s, CH_ENERGY, s->api.energy(s->dev, &mj), &lost))
		v[CH_ENERGY] = (double)mj / 1e3;
	if (ok(s, CH_TEMP, s->api.temp(s->dev, NVML_TEMPERATURE_GPU, &t), &lost))
		v[CH_TEMP] = t;
	if (ok(s, CH_SM_CLOCK, s->api.clock(s->dev, NVML_CLOCK_SM, &sm), &lost))
		v[CH_SM_CLOCK] = sm;
	if (ok(s, CH_MEM_CLOCK, s->api.clock(s->dev, NVML_CLOCK_MEM, &mem), &lost))
		v[CH_MEM_CLOCK] = mem;
	return lost ? -ENODEV : 0;
}

static int nv_describe(void *state, char *yaml, size_t len)
{
	struct nv_state *s = state;
	size_t pos = 0;

	pbs_cat(yaml, len, &pos, "device: %u\nname: ", s->index);
	pbs_cat_yaml_str(yaml, len, &pos, s->name);
	pbs_cat(yaml, len, &pos, "\ngpus_visible: %u\nlibrary: ", s->n_devices);
	pbs_cat_yaml_str(yaml, len, &pos, s->library);
	pbs_cat(yaml, len, &pos, "\n");
	return pos < len ? 0 : -ENOSPC;
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option nv_options[] = {
	{ .key = "device", .type = PB_OPT_INT, .offset = offsetof(struct nv_config, device),
	  .def = "0", .min = 0, .max = 63, .help = "GPU index, as nvidia-smi numbers them" },
	{ .key = "library", .type = PB_OPT_STRING, .offset = offsetof(struct nv_config, library),
	  .def = DEFAULT_LIBRARY, .min = 1, .max = 0,
	  .help = "the NVML library to dlopen (tests point this at a fake)" },
	PC_OPT_INTERVAL_MS(struct nv_config),
	PB_OPTIONS_END
};

static const struct pb_probe_ops nv_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = nv_channels,
	.read = nv_read,
	/* NVML refreshes power and utilisation every 10-100 ms depending on
	 * the board; faster sampling would only repeat values */
	.min_interval_ms = 10,
	.describe = nv_describe,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "nvml",
	.version = "1.0.0",
	.summary = "NVIDIA GPU utilisation, memory, power, energy, temperature and clocks (NVML)",
	.options = nv_options,
	.config_size = sizeof(struct nv_config),
	.available = nv_available,
	.init = nv_init,
	.fini = nv_fini,
	.ops = &nv_ops,
};

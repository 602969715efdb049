/* core/plugin/host.h — the services the core gives each plugin instance
 * (struct pb_host): a logger that prefixes lines with the plugin's name,
 * the cell's seed and thread budget, tensor reallocation and removal, and
 * row quantization.
 *
 * Ownership: the caller owns the pb_host_ctx and keeps it alive (and at
 * the same address) for as long as the plugin may use `&ctx->host`, i.e.
 * from available()/init() until fini() returns.
 */
#ifndef PB_PLUGIN_HOST_H
#define PB_PLUGIN_HOST_H

#include <stdint.h>

#include <prunebench/plugin.h>

struct pb_host_ctx {
	struct pb_host host;      /* handed to the plugin */
	char prefix[64];          /* log prefix: the plugin's name */
};

/* Fill c for one plugin instance.  plugin_name may be NULL (no prefix);
 * n_threads <= 0 means pb_default_threads(). */
void pb_host_init(struct pb_host_ctx *c, const char *plugin_name, uint64_t seed,
		  int n_threads);

/* Ask p->available() (when present) whether the plugin can work here.
 * Writes "ok" or "unavailable: <why>" into out; 0 or the hook's -errno. */
int pb_plugin_available(const struct pb_plugin *p, const struct pb_host *h,
			char *out, size_t len);

/* Threads a cell may use: the CPUs in this process's affinity mask, capped
 * by SLURM_CPUS_PER_TASK when it is set to a positive integer.  >= 1. */
int pb_default_threads(void);

#endif

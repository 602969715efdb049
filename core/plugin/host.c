/* core/plugin/host.c — the host services behind struct pb_host.
 *
 * Plugins are untrusted callers here: a log level out of range or a bad
 * dtype is clamped or refused rather than passed on.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "model/quant.h"
#include "plugin/host.h"
#include "util/util.h"

static struct pb_host_ctx *ctx_of(const struct pb_host *h)
{
	return (struct pb_host_ctx *)((char *)h - offsetof(struct pb_host_ctx, host));
}

static __attribute__((format(printf, 3, 4)))
void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	const struct pb_host_ctx *c = ctx_of(h);
	va_list ap;

	if ((int)lvl < PB_LOG_ERROR)
		lvl = PB_LOG_ERROR;
	if (lvl > PB_LOG_DEBUG)
		lvl = PB_LOG_DEBUG;
	if (!fmt)
		return;
	va_start(ap, fmt);
	pb_logv(lvl, c->prefix[0] ? c->prefix : NULL, fmt, ap);
	va_end(ap);
}

static int host_tensor_realloc(const struct pb_host *h, struct pb_tensor *t,
			       enum pb_dtype dtype, const int64_t ne[PB_MAX_DIMS],
			       size_t nbytes)
{
	(void)h;
	if (!t || !ne || (unsigned)dtype >= PB_DTYPE_COUNT)
		return -EINVAL;
	for (int i = 0; i < PB_MAX_DIMS; i++)
		if (ne[i] < 0)
			return -EINVAL;
	return pb_tensor_realloc(t, dtype, ne, nbytes);
}

static int host_tensor_remove(const struct pb_host *h, struct pb_model *m, int idx)
{
	(void)h;
	return pb_model_tensor_remove(m, idx);
}

static int host_quantize_row(const struct pb_host *h, enum pb_dtype dtype, const float *x,
			     void *dst, int64_t n)
{
	(void)h;
	if (!x || !dst || n <= 0 || (unsigned)dtype >= PB_DTYPE_COUNT || !pb_dtype_row_bytes(dtype, n))
		return -EINVAL;
	return pb_quantize_row(dtype, x, dst, n);
}

void pb_host_init(struct pb_host_ctx *c, const char *plugin_name, uint64_t seed,
		  int n_threads)
{
	memset(c, 0, sizeof *c);
	c->host.abi_version = PB_ABI_VERSION;
	c->host.struct_size = sizeof(struct pb_host);
	c->host.log = host_log;
	c->host.seed = seed;
	c->host.n_threads = n_threads > 0 ? n_threads : pb_default_threads();
	c->host.tensor_realloc = host_tensor_realloc;
	c->host.core = c;
	c->host.tensor_remove = host_tensor_remove;
	c->host.quantize_row = host_quantize_row;
	if (plugin_name)
		snprintf(c->prefix, sizeof c->prefix, "%s", plugin_name);
}

static int affinity_cpus(void)
{
	/* Machines with more CPUs than a cpu_set_t holds need a bigger set. */
	for (int n = 1024; n <= (1 << 20); n *= 2) {
		cpu_set_t *set = CPU_ALLOC((size_t)n);
		size_t size = CPU_ALLOC_SIZE((size_t)n);
		if (!set)
			return 1;
		if (sched_getaffinity(0, size, set) == 0) {
			int count = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return count > 0 ? count : 1;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			break;
	}
	return 1;
}

int pb_default_threads(void)
{
	int n = affinity_cpus();
	const char *s = getenv("SLURM_CPUS_PER_TASK");

	if (s && *s) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (!errno && *end == '\0' && v > 0 && v < n)
			n = (int)v;
		else if (errno || *end || v <= 0)
			pb_log(PB_LOG_DEBUG, "SLURM_CPUS_PER_TASK='%s' is not a positive "
			       "integer; ignored", s);
	}
	return n;
}

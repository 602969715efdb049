/* bench/bench-vulkan.c — tokens/s of the vulkan backend on this machine's
 * Vulkan device (lavapipe on a CPU-only machine: for the record, not a
 * target): a prefill of P tokens and D greedy decode steps through a
 * pb_session, best of R repeats, host time beside the device's own
 * timestamps (gpu ms).
 *
 *   bench-vulkan [MODEL...] [-p P] [-d D] [-r R] [-o device=...]
 *
 * MODEL: a model path, or a synth preset (llama-15m); default
 * stories260K from $PB_SHARED (../shared) and synth llama-15m.  The
 * plugin is dlopened from the build tree (PB_BUILD_ROOT or this
 * program's build). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "pb-config.h"
#include "util/util.h"

/* as plugins/backends/vulkan/vk.h */
struct vk_config {
	char device[PB_OPT_STR_MAX];
	int subgroups;
	int pipeline_cache;
	int64_t workgroup;
};

static char device_line[512];

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	va_start(ap, fmt);
	if (lvl == PB_LOG_INFO)
		vsnprintf(device_line, sizeof device_line, fmt, ap);
	else if (lvl <= PB_LOG_WARN)
		vfprintf(stderr, fmt, ap), fputc('\n', stderr);
	va_end(ap);
}

static const struct pb_host host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_host), .log = host_log,
	.n_threads = 1,
};

static int argmax(const float *v, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

static int bench(const struct pb_plugin *p, const struct vk_config *cfg, const char *spec, int np,
		 int nd, int reps)
{
	struct pb_model *m = NULL;
	struct pb_session *sess = NULL;
	void *st = NULL;
	char err[512];
	int rc = 1;
	const struct pb_backend_ops *ops = p->ops;
	if ((access(spec, F_OK) == 0 ? pb_model_load(spec, &m, err, sizeof err) :
	     pb_model_synth(spec, 42, &m, err, sizeof err)) < 0) {
		fprintf(stderr, "%s: %s\n", spec, err);
		return 1;
	}
	if (np + nd > m->hp.ctx)
		np = m->hp.ctx - nd > 1 ? m->hp.ctx - nd : 1;
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	int32_t *tok = malloc((size_t)np * sizeof *tok);
	if (!logits || !tok || p->init(&host, cfg, &st) < 0 || ops->weights_load(st, m) < 0 ||
	    pb_session_open(m, ops, st, &sess, err, sizeof err) < 0) {
		fprintf(stderr, "%s: cannot start the backend (%s)\n", spec, err);
		goto out;
	}
	for (int i = 0; i < np; i++)
		tok[i] = (int32_t)((i * 37 + 5) % m->hp.vocab);
	double best_pf = 1e30, best_dc = 1e30, gpu_pf = 0, gpu_dc = 0;
	for (int r = 0; r <= reps; r++) {   /* r = 0 warms up (pipelines, caches) */
		double g0, g1, g2;
		ops->device_ms(st, &g0);
		double t0 = pb_now_ms();
		if (pb_session_forward(sess, tok, np, 0, logits) < 0)
			goto out;
		double t1 = pb_now_ms();
		ops->device_ms(st, &g1);
		int32_t next = argmax(logits, (int)m->hp.vocab);
		for (int d = 0; d < nd; d++) {
			if (pb_session_forward(sess, &next, 1, np + d, logits) < 0)
				goto out;
			next = argmax(logits, (int)m->hp.vocab);
		}
		double t2 = pb_now_ms();
		ops->device_ms(st, &g2);
		if (r && t1 - t0 < best_pf) {
			best_pf = t1 - t0;
			gpu_pf = g1 - g0;
		}
		if (r && t2 - t1 < best_dc) {
			best_dc = t2 - t1;
			gpu_dc = g2 - g1;
		}
	}
	int64_t params, nz, bytes;
	pb_model_count(m, 0, &params, &nz, &bytes);
	printf("%-18s %6.2fM params  prefill %3d: %8.1f tok/s (%7.2f ms, gpu %7.2f ms)  "
	       "decode %3d: %7.1f tok/s (%6.2f ms/token, gpu %6.2f ms)\n",
	       m->name, (double)params / 1e6, np, np / (best_pf / 1e3), best_pf, gpu_pf,
	       nd, nd / (best_dc / 1e3), best_dc / nd, gpu_dc / nd);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "%s: a step failed\n", spec);
	pb_session_close(sess);
	if (st)
		p->fini(st);
	pb_model_free(m);
	free(logits);
	free(tok);
	return rc;
}

int main(int argc, char **argv)
{
	struct vk_config cfg = { .pipeline_cache = 1, .workgroup = 64 };
	const char *models[16];
	int n = 0, np = 64, nd = 64, reps = 3, opt, rc = 0;
	char path[2048], why[1024] = "";
	while ((opt = getopt(argc, argv, "p:d:r:o:")) != -1) {
		switch (opt) {
		case 'p': np = atoi(optarg); break;
		case 'd': nd = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 'o':
			if (!strncmp(optarg, "device=", 7))
				snprintf(cfg.device, sizeof cfg.device, "%s", optarg + 7);
			else if (!strcmp(optarg, "subgroups=off"))
				cfg.subgroups = 2;
			break;
		default:
			fprintf(stderr, "usage: %s [MODEL...] [-p P] [-d D] [-r R] [-o device=X|subgroups=off]\n",
				argv[0]);
			return 2;
		}
	}
	for (; optind < argc && n < 16; optind++)
		models[n++] = argv[optind];
	const char *root = getenv("PB_BUILD_ROOT") ? getenv("PB_BUILD_ROOT") : PB_BUILD_ROOT;
	snprintf(path, sizeof path, "%s/plugins/backends/vulkan/backend-vulkan.so", root);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct pb_plugin *p = dl ? dlsym(dl, "pb_plugin") : NULL;
	if (!p) {
		fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
		return 1;
	}
	if (p->available(&host, why, sizeof why) < 0) {
		fprintf(stderr, "vulkan unavailable: %s\n", why);
		return 1;
	}
	static char shared_model[1200];
	if (!n) {
		const char *sh = getenv("PB_SHARED") ? getenv("PB_SHARED") : PB_SOURCE_ROOT "/../shared";
		snprintf(shared_model, sizeof shared_model, "%s/models/stories260K/stories260K.bin", sh);
		if (access(shared_model, R_OK) == 0)
			models[n++] = shared_model;
		models[n++] = "llama-15m";
	}
	for (int i = 0; i < n; i++) {
		rc |= bench(p, &cfg, models[i], np, nd, reps);
		if (i == 0)
			printf("# %s\n", device_line);
	}
	return rc;
}

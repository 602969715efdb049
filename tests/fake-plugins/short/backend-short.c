/* tests/fake-plugins/short/backend-short.c — a backend as a plugin built
 * against ABI 1's first pb_backend_ops would be: its ops struct ends where
 * the appended hooks (device_ms, complete) begin, and says so in
 * struct_size.  Right after it in memory sit two non-NULL pointers where a
 * current struct has device_ms and complete: a core that read past
 * struct_size would take this backend for a remote one (complete set) or
 * call a hook that is not there.  test-plugin checks it sees neither. */
#include <stddef.h>
#include <stdint.h>

#include "../fake.h"

/* pb_backend_ops up to (not including) its first appended field */
struct abi1_backend_ops {
	uint32_t struct_size;
	uint32_t formats;
	int (*weights_load)(void *state, const struct pb_model *m);
	int (*buffers_alloc)(void *state, const int64_t *sizes, int n);
	int (*graph_compute)(void *state, const struct pb_graph *g);
	int (*buffer_read)(void *state, int buf, int64_t off, int64_t n, float *dst);
	int (*buffer_write)(void *state, int buf, int64_t off, int64_t n, const float *src);
	int (*weight_kernel)(void *state, int idx, char *out, size_t len);
};

_Static_assert(sizeof(struct abi1_backend_ops) == PB_BACKEND_OPS_MIN_SIZE,
	       "the ABI-1 backend ops end where device_ms begins");

static int sh_weights_load(void *s, const struct pb_model *m) { (void)s; (void)m; return 0; }
static int sh_buffers_alloc(void *s, const int64_t *sz, int n) { (void)s; (void)sz; (void)n; return 0; }
static int sh_graph_compute(void *s, const struct pb_graph *g) { (void)s; (void)g; return 0; }
static int sh_buffer_read(void *s, int b, int64_t o, int64_t n, float *d)
{
	(void)s; (void)b; (void)o;
	for (int64_t i = 0; i < n; i++)
		d[i] = 0.0f;
	return 0;
}

/* What the bytes past struct_size hold: a hook the core must never call. */
static void trap(void)
{
	abort();
}

static const struct {
	struct abi1_backend_ops ops;
	void (*after[2])(void);   /* where device_ms and complete would be */
} short_ops = {
	.ops = {
		.struct_size = sizeof(struct abi1_backend_ops),
		.formats = PB_FMT(PB_F32),
		.weights_load = sh_weights_load,
		.buffers_alloc = sh_buffers_alloc,
		.graph_compute = sh_graph_compute,
		.buffer_read = sh_buffer_read,
	},
	.after = { trap, trap },
};

_Static_assert(offsetof(__typeof__(short_ops), after) == offsetof(struct pb_backend_ops, device_ms),
	       "the trap pointers sit where a current struct has device_ms and complete");

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_BACKEND,
	.name = "short",
	.version = "1.0.0",
	.summary = "fake backend with ABI 1's shortest ops struct (tests)",
	.init = fake_init,
	.fini = fake_fini,
	.ops = &short_ops,
};

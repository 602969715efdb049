/* tests/structured/st.c — see st.h. */
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "ref-rig.h"
#include "st.h"

char st_log[2048];

struct pb_model *st_llama(uint64_t seed, int n_layers, int n_heads, int n_kv, int ffn)
{
	struct pb_hparams hp = {
		.dim = 64, .n_layers = n_layers, .n_heads = n_heads, .n_kv_heads = n_kv, .head_dim = 8,
		.ffn_dim = ffn, .vocab = 300, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2,
		.ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("st-llama", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

struct pb_model *st_llama_dim(uint64_t seed, int dim, int n_layers, int n_heads, int n_kv, int ffn)
{
	struct pb_hparams hp = {
		.dim = dim, .n_layers = n_layers, .n_heads = n_heads, .n_kv_heads = n_kv,
		.head_dim = dim / n_heads, .ffn_dim = ffn, .vocab = 300, .ctx = 32, .norm_eps = 1e-5f,
		.rope_theta = 10000.0f, .rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2,
		.ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("st-llama", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

struct pb_model *st_t5_dim(uint64_t seed, int dim, int ffn)
{
	struct pb_hparams hp = {
		.dim = dim, .n_layers = 2, .n_enc_layers = 2, .n_heads = dim / 64, .n_kv_heads = dim / 64,
		.head_dim = 64, .ffn_dim = ffn, .vocab = 300, .ctx = 32, .norm_eps = 1e-6f,
		.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0,
		.rel_buckets = 16, .rel_max_distance = 24, .ffn_act = PB_ACT_RELU, .ffn_gated = 0,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("st-t5", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m->arch, PB_ARCH_T5);
	return m;
}

struct pb_model *st_t5(uint64_t seed, int gated, int ffn)
{
	struct pb_hparams hp = {
		.dim = 64, .n_layers = 2, .n_enc_layers = 2, .n_heads = 4, .n_kv_heads = 4,
		.head_dim = 8, .ffn_dim = ffn, .vocab = 300, .ctx = 32, .norm_eps = 1e-6f,
		.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0,
		.rel_buckets = 16, .rel_max_distance = 24,
		.ffn_act = gated ? PB_ACT_GELU : PB_ACT_RELU, .ffn_gated = gated,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("st-t5", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m->arch, PB_ARCH_T5);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

const struct pb_plugin *st_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h, "dlopen %s: %s", path, dlerror());
	const struct pb_plugin *p = dlsym(h, "pb_plugin");
	ck_assert_msg(p, "%s: no pb_plugin", path);
	char why[256];
	ck_assert_msg(pb_plugin_check(p, path, why, sizeof why) == 0, "%s", why);
	ck_assert_int_eq(p->kind, PB_PRUNER);
	return p;   /* left open: the test process ends soon */
}

static int calib_stats(struct pb_calib *c, enum pb_stack stack, int layer, unsigned want,
		       const struct pb_linear_stats **stats, int *n)
{
	struct st_calib *k = (struct st_calib *)c;
	int j = 0;
	ck_assert(want & PB_CALIB_COL_SQ);
	k->n_calls++;
	for (int i = 0; i < 16; i++) {
		free(k->buf[i]);
		k->buf[i] = NULL;
	}
	for (int i = 0; i < k->m->n_tensors && j < 16; i++) {
		const struct pb_tensor *t = &k->m->tensors[i];
		if (t->stack != stack || t->layer != layer || !pb_role_is_linear(t->role))
			continue;
		k->buf[j] = malloc((size_t)t->ne[0] * sizeof(double));
		for (int64_t col = 0; col < t->ne[0]; col++)
			k->buf[j][col] = k->col_sq_fn(t, layer, col);
		k->st[j] = (struct pb_linear_stats){ .tensor = i, .n_in = t->ne[0], .n_tokens = 64,
						     .col_sq = k->buf[j] };
		j++;
	}
	*stats = k->st;
	*n = j;
	return 0;
}

static int calib_bi(struct pb_calib *c, enum pb_stack stack, double *bi, int n_layers)
{
	struct st_calib *k = (struct st_calib *)c;
	ck_assert_int_eq(stack, PB_STACK_DECODER);
	ck_assert_int_eq(n_layers, k->m->hp.n_layers);
	k->n_calls++;
	memcpy(bi, k->bi, (size_t)n_layers * sizeof *bi);
	return 0;
}

void st_calib_init(struct st_calib *k, struct pb_model *m)
{
	memset(k, 0, sizeof *k);
	k->c.struct_size = sizeof k->c;
	k->c.n_sequences = 4;
	k->c.seqlen = 16;
	k->c.block_stats = calib_stats;
	k->c.block_influence = calib_bi;
	k->m = m;
}

void st_calib_free(struct st_calib *k)
{
	for (int i = 0; i < 16; i++)
		free(k->buf[i]);
}

static void st_host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	if (lvl > PB_LOG_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(st_log, sizeof st_log, fmt, ap);
	va_end(ap);
}

int st_prune(const struct pb_plugin *p, struct pb_model *m, struct pb_calib *calib,
	     struct pb_prune_target *targets, const char *const *opts)
{
	const struct pb_pruner_ops *ops = p->ops;
	struct pb_host_ctx hc;
	char cfg[1024], err[256], why[512] = "";
	void *state = NULL;
	ck_assert_uint_le(p->config_size, sizeof cfg);
	ck_assert_int_eq(pb_options_defaults(p->options, cfg, p->config_size), 0);
	for (int i = 0; opts && opts[i]; i++) {
		char key[64];
		const char *eq = strchr(opts[i], '=');
		ck_assert_ptr_nonnull(eq);
		snprintf(key, sizeof key, "%.*s", (int)(eq - opts[i]), opts[i]);
		const struct pb_option *o = pb_option_find(p->options, key);
		ck_assert_msg(o, "no option %s", key);
		ck_assert_msg(pb_option_parse(o, cfg, eq + 1, err, sizeof err) == 0, "%s: %s", key, err);
	}
	pb_host_init(&hc, p->name, 7, 1);
	hc.host.log = st_host_log;   /* keep the core's tensor services, capture the log */
	st_log[0] = '\0';
	int rc = p->init(&hc.host, cfg, &state);
	if (rc < 0)
		return rc;
	struct pb_prune_target *own = NULL;
	if (!targets)
		targets = own = calloc((size_t)m->n_tensors, sizeof *own);
	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1;
	if (ops->check && (rc = ops->check(state, m, why, sizeof why)) < 0)
		snprintf(st_log, sizeof st_log, "%s", why);
	else
		rc = ops->apply(state, m, (ops->calib ? calib : NULL), targets);
	p->fini(state);
	free(own);
	return rc;
}

void st_logits(struct pb_model *m, const int32_t *tokens, int n, float *out)
{
	const struct pb_backend_ops *ops = pb_plugin.ops;
	struct pb_session *s = NULL;
	void *state = NULL;
	char err[512];
	int check_nan = 1;
	ck_assert_int_eq(pb_plugin.init(&host, &check_nan, &state), 0);
	ck_assert_msg(ops->weights_load(state, m) == 0, "%s", last_log);
	ck_assert_msg(pb_session_open(m, ops, state, &s, err, sizeof err) == 0, "%s", err);
	if (m->arch == PB_ARCH_T5) {
		int32_t src[8] = { 5, 17, 99, 250, 3, 42, 7, 128 };
		ck_assert_int_eq(pb_session_encode(s, src, 8), 0);
	}
	ck_assert_msg(pb_session_forward_all(s, tokens, n, 0, out) == 0, "%s", last_log);
	pb_session_close(s);
	pb_plugin.fini(state);
}

void st_assert_close(const float *a, const float *b, int64_t n, double tol, const char *what)
{
	double mx = 0, worst = 0;
	int64_t at = 0;
	for (int64_t i = 0; i < n; i++) {
		mx = fmax(mx, fabs(b[i]));
		if (fabs(a[i] - b[i]) > worst) {
			worst = fabs(a[i] - b[i]);
			at = i;
		}
	}
	ck_assert_msg(mx > 0, "%s: all-zero logits", what);
	ck_assert_msg(worst <= tol * mx, "%s: value %lld: %g vs %g (max %g)", what, (long long)at,
		      a[at], b[at], mx);
}

int64_t st_block_linear_params(const struct pb_model *m)
{
	int64_t n = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].layer >= 0 && pb_role_is_linear(m->tensors[i].role))
			n += pb_tensor_nelements(&m->tensors[i]);
	return n;
}

/* tests/pruners/fakecalib.c — the fake model and calibration handle
 * (fakecalib.h). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecalib.h"
#include "testhost.h"

static uint32_t lcg_next(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

/* (-1, 1), never 0 */
static float lcg_unit(uint32_t *s)
{
	float v = ((float)(lcg_next(s) >> 8) + 0.5f) / (float)(1u << 24);
	return v * 2.0f - 1.0f;
}

float fake_get(const struct pb_tensor *t, int64_t i)
{
	if (t->dtype == PB_F32)
		return ((const float *)t->data)[i];
	if (t->dtype == PB_F16)
		return pb_fp16_to_fp32(((const uint16_t *)t->data)[i]);
	return pb_bf16_to_fp32(((const uint16_t *)t->data)[i]);
}

void fake_set(struct pb_tensor *t, int64_t i, float v)
{
	if (t->dtype == PB_F32)
		((float *)t->data)[i] = v;
	else if (t->dtype == PB_F16)
		((uint16_t *)t->data)[i] = pb_fp32_to_fp16(v);
	else {
		uint32_t b;
		memcpy(&b, &v, 4);
		((uint16_t *)t->data)[i] = (uint16_t)(b >> 16);
	}
}

int64_t fake_zeros(const struct pb_tensor *t)
{
	int64_t z = 0;
	for (int64_t i = 0; i < pb_tensor_nelements(t); i++)
		z += fake_get(t, i) == 0.0f;
	return z;
}

static void tensor_make(struct pb_tensor *t, const char *name, int layer, enum pb_role role,
			enum pb_dtype dt, int64_t cols, int64_t rows, uint32_t *seed)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof t->name, "%s", name);
	t->dtype = dt;
	t->n_dims = rows > 1 ? 2 : 1;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->layer = layer;
	t->role = role;
	t->stack = PB_STACK_DECODER;
	t->nbytes = (size_t)(cols * rows) * pb_dtype_block_bytes(dt);
	t->data = malloc(t->nbytes);
	ck_assert_ptr_nonnull(t->data);
	for (int64_t i = 0; i < cols * rows; i++) {
		fake_set(t, i, lcg_unit(seed));
		if (fake_get(t, i) == 0.0f)
			fake_set(t, i, 0.5f);
	}
}

void fake_model_make(struct pb_model *m, int n_layers, int dim, int ffn, enum pb_dtype dt,
		     uint32_t seed)
{
	static const struct { const char *name; enum pb_role role; int in_ffn, out_ffn, norm; } b[] = {
		{ "attn_norm", PB_ROLE_ATTN_NORM, 0, 0, 1 },
		{ "attn_q", PB_ROLE_ATTN_Q, 0, 0, 0 },
		{ "attn_k", PB_ROLE_ATTN_K, 0, 0, 0 },
		{ "attn_v", PB_ROLE_ATTN_V, 0, 0, 0 },
		{ "attn_output", PB_ROLE_ATTN_O, 0, 0, 0 },
		{ "ffn_norm", PB_ROLE_FFN_NORM, 0, 0, 1 },
		{ "ffn_gate", PB_ROLE_FFN_GATE, 0, 1, 0 },
		{ "ffn_up", PB_ROLE_FFN_UP, 0, 1, 0 },
		{ "ffn_down", PB_ROLE_FFN_DOWN, 1, 0, 0 },
	};
	const int nb = (int)(sizeof b / sizeof b[0]);
	int n = 0;

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof m->name, "fake");
	m->arch = PB_ARCH_LLAMA;
	m->hp.dim = dim;
	m->hp.n_layers = n_layers;
	m->hp.ffn_dim = ffn;
	m->hp.vocab = 11;
	m->tensors = calloc((size_t)(2 + nb * n_layers), sizeof(struct pb_tensor));
	ck_assert_ptr_nonnull(m->tensors);
	tensor_make(&m->tensors[n++], "token_embd.weight", -1, PB_ROLE_TOK_EMBD, dt, dim, 11, &seed);
	for (int l = 0; l < n_layers; l++)
		for (int k = 0; k < nb; k++) {
			char name[64];
			snprintf(name, sizeof name, "blk.%d.%s.weight", l, b[k].name);
			tensor_make(&m->tensors[n++], name, l, b[k].role, b[k].norm ? PB_F32 : dt,
				    b[k].in_ffn ? ffn : dim,
				    b[k].norm ? 1 : b[k].out_ffn ? ffn : dim, &seed);
		}
	tensor_make(&m->tensors[n++], "output.weight", -1, PB_ROLE_OUTPUT, dt, dim, 11, &seed);
	m->n_tensors = n;
}

void fake_model_free(struct pb_model *m)
{
	for (int i = 0; i < m->n_tensors; i++)
		free(m->tensors[i].data);
	free(m->tensors);
	memset(m, 0, sizeof(*m));
}

void fake_model_copy(struct pb_model *dst, const struct pb_model *src)
{
	*dst = *src;
	dst->tensors = calloc((size_t)src->n_tensors, sizeof(struct pb_tensor));
	ck_assert_ptr_nonnull(dst->tensors);
	for (int i = 0; i < src->n_tensors; i++) {
		dst->tensors[i] = src->tensors[i];
		dst->tensors[i].data = malloc(src->tensors[i].nbytes);
		ck_assert_ptr_nonnull(dst->tensors[i].data);
		memcpy(dst->tensors[i].data, src->tensors[i].data, src->tensors[i].nbytes);
	}
}

int fake_same_bytes(const struct pb_model *a, const struct pb_model *b)
{
	if (a->n_tensors != b->n_tensors)
		return 0;
	for (int i = 0; i < a->n_tensors; i++)
		if (a->tensors[i].nbytes != b->tensors[i].nbytes ||
		    memcmp(a->tensors[i].data, b->tensors[i].data, a->tensors[i].nbytes))
			return 0;
	return 1;
}

/* ---- the handle ---- */

static int layer_zeros(const struct pb_model *m, enum pb_stack stack, int layer)
{
	int64_t z = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->layer == layer && t->stack == stack && pb_role_is_linear(t->role))
			z += fake_zeros(t);
	}
	return z > 0;
}

static int fake_block_stats(struct pb_calib *base, enum pb_stack stack, int layer, unsigned want,
			    const struct pb_linear_stats **stats, int *n)
{
	struct fake_calib *c = (struct fake_calib *)base;
	struct pb_model *m = c->m;
	size_t need = 0;
	int k = 0;

	if (layer < c->last_layer)
		c->order_ok = 0;
	c->last_layer = layer;
	c->calls++;
	c->wants |= want;
	/* the block asked must be as it came, the one before already pruned */
	if (layer_zeros(m, stack, layer) || (layer > 0 && !layer_zeros(m, stack, layer - 1)))
		c->sequential_ok = 0;

	free(c->stats);
	free(c->bufs);
	c->stats = calloc((size_t)m->n_tensors, sizeof(*c->stats));
	for (int i = 0; i < m->n_tensors; i++) {
		int64_t d = m->tensors[i].ne[0];
		if (c->x[i] && m->tensors[i].layer == layer && m->tensors[i].stack == stack)
			need += (size_t)(d + d * d);
	}
	c->bufs = calloc(need + 1, sizeof(double));
	ck_assert(c->stats && c->bufs);
	double *p = c->bufs;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		int64_t d = t->ne[0];
		if (!c->x[i] || t->layer != layer || t->stack != stack)
			continue;
		double *col_sq = p, *xtx = p + d;
		p += d + d * d;
		for (int tok = 0; tok < c->n_tok; tok++) {
			const float *x = c->x[i] + (size_t)tok * d;
			for (int64_t a = 0; a < d; a++) {
				col_sq[a] += (double)x[a] * x[a];
				for (int64_t b = 0; b < d; b++)
					xtx[a * d + b] += (double)x[a] * x[b];
			}
		}
		c->stats[k].tensor = i;
		c->stats[k].n_in = d;
		c->stats[k].n_tokens = c->n_tok;
		c->stats[k].col_sq = (want & PB_CALIB_COL_SQ) ? col_sq : NULL;
		c->stats[k].xtx = (want & PB_CALIB_XTX) ? xtx : NULL;
		k++;
	}
	*stats = c->stats;
	*n = k;
	return 0;
}

void fake_calib_init(struct fake_calib *c, struct pb_model *m, int n_tok, uint32_t seed,
		     int dead_tensor)
{
	memset(c, 0, sizeof(*c));
	c->base.struct_size = sizeof(c->base);
	c->base.n_sequences = 1;
	c->base.seqlen = n_tok;
	c->base.block_stats = fake_block_stats;
	c->m = m;
	c->n_tok = n_tok;
	c->order_ok = c->sequential_ok = 1;
	c->x = calloc((size_t)m->n_tensors, sizeof(*c->x));
	ck_assert_ptr_nonnull(c->x);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		int64_t d = t->ne[0], lat = d / 2 + 1;
		if (!pb_role_is_linear(t->role) || t->layer < 0)
			continue;
		float *x = malloc((size_t)(n_tok * d) * sizeof(*x));
		float *mix = malloc((size_t)(lat * d) * sizeof(*mix));
		float *scale = malloc((size_t)d * sizeof(*scale));
		ck_assert(x && mix && scale);
		for (int64_t j = 0; j < lat * d; j++)
			mix[j] = lcg_unit(&seed);
		for (int64_t j = 0; j < d; j++)
			scale[j] = 0.1f + 2.9f * (lcg_unit(&seed) * 0.5f + 0.5f);
		/* correlated features: a low-rank mix plus a little noise */
		for (int tok = 0; tok < n_tok; tok++) {
			float z[256];
			ck_assert_int_le(lat, 256);
			for (int64_t a = 0; a < lat; a++)
				z[a] = lcg_unit(&seed);
			for (int64_t j = 0; j < d; j++) {
				float v = 0.2f * lcg_unit(&seed);
				for (int64_t a = 0; a < lat; a++)
					v += z[a] * mix[a * d + j];
				x[tok * d + j] = v * scale[j];
				if (i == dead_tensor && j == 1)
					x[tok * d + j] = 0;
			}
		}
		free(mix);
		free(scale);
		c->x[i] = x;
	}
}

void fake_calib_free(struct fake_calib *c)
{
	for (int i = 0; i < c->m->n_tensors; i++)
		free(c->x[i]);
	free(c->x);
	free(c->stats);
	free(c->bufs);
}

double fake_recon_error(const struct fake_calib *c, const struct pb_model *dense,
			const struct pb_model *pruned, int i)
{
	const struct pb_tensor *a = &dense->tensors[i], *b = &pruned->tensors[i];
	int64_t d = a->ne[0], rows = a->ne[1];
	double e = 0;

	for (int tok = 0; tok < c->n_tok; tok++) {
		const float *x = c->x[i] + (size_t)tok * d;
		for (int64_t r = 0; r < rows; r++) {
			double s = 0;
			for (int64_t j = 0; j < d; j++)
				s += ((double)fake_get(a, r * d + j) - fake_get(b, r * d + j)) * x[j];
			e += s * s;
		}
	}
	return e;
}

/* ---- running a pruner ---- */

const struct pb_plugin *fake_plugin(const char *so)
{
	void *h;
	/* loaded once per process and kept: dlclose would let ASan's leak
	 * report lose the plugin's symbols */
	return test_plugin_load(so, &h);
}

int fake_prune(const char *so, const char *const *kv, struct pb_model *m, struct pb_calib *calib,
	       struct pb_prune_target *tg, int n_threads, uint64_t seed)
{
	const struct pb_plugin *p = fake_plugin(so);
	const struct pb_pruner_ops *ops = p->ops;
	struct pb_prune_target *own = NULL;
	static struct test_host th;
	char config[1024], why[256] = "";
	void *state = NULL;
	int rc;

	ck_assert_int_eq(p->kind, PB_PRUNER);
	ck_assert_uint_le(p->config_size, sizeof config);
	test_config_defaults(p, config);
	for (int i = 0; kv && kv[i]; i += 2)
		ck_assert_msg(test_config_set(p, config, kv[i], kv[i + 1]) == 0,
			      "%s: option %s=%s", p->name, kv[i], kv[i + 1]);
	test_host_init(&th);
	th.host.n_threads = n_threads;
	th.host.seed = seed;
	ck_assert_int_eq(p->init(&th.host, config, &state), 0);
	if (!tg)
		tg = own = calloc((size_t)m->n_tensors + 1, sizeof(*tg));
	rc = ops->check ? ops->check(state, m, why, sizeof why) : 0;
	if (!rc) {
		rc = ops->apply(state, m, ops->calib ? calib : NULL, tg);
		ck_assert_msg(rc || strlen(th.log) > 0, "%s said nothing", p->name);
	} else {
		ck_assert_msg(why[0], "%s: check failed without a reason", p->name);
	}
	p->fini(state);
	free(own);
	return rc;
}

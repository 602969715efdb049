/* plugins/pruners/quant/quant.c — weight quantization as a chain step:
 * the block linears (and, when asked, the embedding and the output
 * projection) change format to fp16, bf16, q8_0 or q4_0, in llama.cpp's
 * GGUF block layouts.
 *
 * Plugins cannot link the core, so the block math below is a copy of
 * core/model/quant.c (itself llama.cpp's reference quantizers); the tests
 * check that both write the same bytes.  A row that is not a whole number
 * of 32-element blocks falls back to F16, as llama-quantize falls back to
 * another type. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#define QK 32

enum { TYPE_F16 = 0, TYPE_BF16, TYPE_Q8_0, TYPE_Q4_0 };

static const enum pb_dtype type_dtype[] = { PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };

struct quant_config {
	int type;
	int embeddings;
	int output;
};

struct quant_state {
	const struct pb_host *h;
	struct quant_config cfg;
};

#define LOG(s, lvl, ...) ((s)->h->log((s)->h, (lvl), __VA_ARGS__))

/* ---- block math: keep identical to core/model/quant.c ---- */

static uint16_t fp32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)      /* NaN: keep it, quiet */
		return (uint16_t)((u >> 16) | 64);
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

static void quantize_row_q8_0(const float *x, uint8_t *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++, x += QK, y += 34) {
		float amax = 0.0f;
		for (int j = 0; j < QK; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		const float d = amax / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		uint16_t h = pb_fp32_to_fp16(d);
		memcpy(y, &h, 2);
		for (int j = 0; j < QK; j++)
			y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
	}
}

static void quantize_row_q4_0(const float *x, uint8_t *y, int64_t n)
{
	for (int64_t b = 0; b < n / QK; b++, x += QK, y += 18) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < QK; j++)
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		const float d = max / -8.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		uint16_t h = pb_fp32_to_fp16(d);
		memcpy(y, &h, 2);
		for (int j = 0; j < QK / 2; j++) {
			int q0 = (int8_t)(x[j] * id + 8.5f), q1 = (int8_t)(x[j + 16] * id + 8.5f);
			q0 = q0 > 15 ? 15 : q0;
			q1 = q1 > 15 ? 15 : q1;
			y[2 + j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void quantize_row(enum pb_dtype to, const float *x, uint8_t *dst, int64_t n)
{
	switch (to) {
	case PB_F16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = pb_fp32_to_fp16(x[i]);
			memcpy(dst + 2 * i, &h, 2);
		}
		break;
	case PB_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = fp32_to_bf16(x[i]);
			memcpy(dst + 2 * i, &h, 2);
		}
		break;
	case PB_Q8_0:
		quantize_row_q8_0(x, dst, n);
		break;
	default:
		quantize_row_q4_0(x, dst, n);
		break;
	}
}

/* Source rows: F32, F16 or BF16 (in_formats). */
static void read_row(const struct pb_tensor *t, int64_t r, float *x)
{
	const int64_t n = t->ne[0];
	if (t->dtype == PB_F32) {
		memcpy(x, (const float *)t->data + r * n, (size_t)n * sizeof *x);
		return;
	}
	const uint8_t *p = (const uint8_t *)t->data + (size_t)(r * n) * 2;
	for (int64_t i = 0; i < n; i++) {
		uint16_t h;
		memcpy(&h, p + 2 * i, 2);
		x[i] = t->dtype == PB_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
	}
}

/* ---- the step ---- */

static int readable(const struct pb_tensor *t)
{
	size_t es = t->dtype == PB_F32 ? 4 : (t->dtype == PB_F16 || t->dtype == PB_BF16) ? 2 : 0;
	return es && t->data && t->nbytes >= (size_t)pb_tensor_nelements(t) * es;
}

static int selected(const struct quant_state *s, const struct pb_tensor *t)
{
	if (t->role == PB_ROLE_TOK_EMBD)
		return s->cfg.embeddings;
	if (t->role == PB_ROLE_OUTPUT)
		return s->cfg.output;
	return pb_role_is_linear(t->role);
}

static int quant_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	const struct quant_state *s = state;
	const enum pb_dtype to = type_dtype[s->cfg.type];
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (selected(s, t) && t->dtype != to && !readable(t)) {
			snprintf(why, len, "tensor '%s' is %s; quantization reads F32, F16 or BF16",
				 t->name, pb_dtype_name(t->dtype));
			return -ENOTSUP;
		}
	}
	return 0;
}

static int convert(struct quant_state *s, struct pb_tensor *t)
{
	enum pb_dtype to = type_dtype[s->cfg.type];
	const int64_t n0 = t->ne[0], rows = n0 ? pb_tensor_nelements(t) / n0 : 0;
	if (pb_dtype_block(to) > 1 && n0 % pb_dtype_block(to)) {
		LOG(s, PB_LOG_INFO, "tensor '%s': rows of %lld are not whole blocks of %d; F16 instead of %s",
		    t->name, (long long)n0, pb_dtype_block(to), pb_dtype_name(to));
		to = PB_F16;
	}
	if (t->dtype == to)
		return 0;
	const size_t rb = (size_t)(n0 / pb_dtype_block(to)) * pb_dtype_block_bytes(to);
	const size_t nbytes = rb * (size_t)rows;
	uint8_t *buf = malloc(nbytes ? nbytes : 1);
	float *x = malloc((size_t)(n0 ? n0 : 1) * sizeof *x);
	int rc = -ENOMEM;
	if (!buf || !x)
		goto out;
	for (int64_t r = 0; r < rows; r++) {
		read_row(t, r, x);
		quantize_row(to, x, buf + (size_t)r * rb, n0);
	}
	int64_t ne[PB_MAX_DIMS];
	int n_dims = t->n_dims;
	memcpy(ne, t->ne, sizeof ne);
	if ((rc = s->h->tensor_realloc(s->h, t, to, ne, nbytes)) < 0) {
		LOG(s, PB_LOG_ERROR, "tensor '%s': cannot reallocate", t->name);
		goto out;
	}
	memcpy(t->data, buf, nbytes);
	t->n_dims = n_dims;
out:
	free(buf);
	free(x);
	return rc;
}

static int quant_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		       struct pb_prune_target *targets)
{
	struct quant_state *s = state;
	char why[256];
	int rc = quant_check(state, m, why, sizeof why);
	(void)calib;
	/* quantization removes nothing: targets stay "not touched" (< 0) so
	 * that an earlier pruning step's target stands */
	(void)targets;
	if (rc < 0) {
		LOG(s, PB_LOG_ERROR, "%s", why);
		return rc;
	}
	struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	/* a tied output shares the embedding's memory: it follows the
	 * embedding when that is converted, and gets its own copy when only
	 * the output is */
	const int tied = e && o && o->data == e->data;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!selected(s, t) || (tied && t == o && s->cfg.embeddings))
			continue;
		if ((rc = convert(s, t)) < 0)
			return rc;
	}
	if (tied && s->cfg.embeddings) {
		o->dtype = e->dtype;
		o->data = e->data;
		o->nbytes = e->nbytes;
		o->flags &= ~(uint32_t)PB_TENSOR_OWNED;
	}
	return 0;
}

static int quant_out_format(const void *config)
{
	const struct quant_config *c = config;
	if (c->type < 0 || c->type > TYPE_Q4_0)
		return -1;
	return (int)type_dtype[c->type];
}

static int quant_init(const struct pb_host *h, const void *config, void **state)
{
	struct quant_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->h = h;
	s->cfg = *(const struct quant_config *)config;
	if (s->cfg.type < 0 || s->cfg.type > TYPE_Q4_0 || !h->tensor_realloc) {
		free(s);
		return -EINVAL;
	}
	*state = s;
	return 0;
}

static void quant_fini(void *state)
{
	free(state);
}

static const struct pb_pruner_ops quant_ops = {
	.apply = quant_apply,
	.check = quant_check,
	.in_formats = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16),
	.out_format = quant_out_format,
};

static const struct pb_option quant_options[] = {
	{ .key = "type", .type = PB_OPT_ENUM, .offset = offsetof(struct quant_config, type),
	  .def = NULL, .choices = "fp16|bf16|q8_0|q4_0",
	  .help = "format of the quantized weights (GGUF block layouts; rows that are not whole "
		  "32-element blocks fall back to fp16)" },
	{ .key = "embeddings", .type = PB_OPT_BOOL, .offset = offsetof(struct quant_config, embeddings),
	  .def = "false", .help = "quantize the token embedding too (a tied output follows it)" },
	{ .key = "output", .type = PB_OPT_BOOL, .offset = offsetof(struct quant_config, output),
	  .def = "false", .help = "quantize the output projection too" },
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "quant",
	.version = "1.0.0",
	.summary = "quantization: block linears (optionally embedding, output) to fp16, bf16, q8_0 or q4_0",
	.options = quant_options,
	.config_size = sizeof(struct quant_config),
	.init = quant_init,
	.fini = quant_fini,
	.ops = &quant_ops,
};

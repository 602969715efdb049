/* plugins/pruners/quant/quant.c — weight quantization as a chain step:
 * the block linears (and, when asked, the embedding and the output
 * projection) change format to fp16, bf16, q8_0, q4_0, or one of
 * llama.cpp's k-quants q2_k … q6_k and the mixes q4_k_m, q5_k_m, in
 * llama.cpp's GGUF block layouts.
 *
 * Plugins cannot link the core.  The Q8_0/Q4_0 block math below is a copy
 * of core/model/quant.c (itself llama.cpp's reference quantizers); the
 * k-quants go through the host's quantize_row, the core's own quantizers
 * (too long to copy).  Which format each tensor takes for a k-quant type
 * is llama-quantize's choice (llama_tensor_get_type without an imatrix),
 * a copy of the core's pb_quant_plan (core/model/quant-plan.c, whose
 * comment in quant.h states the rules); the tests check that both write
 * the same bytes and choose the same formats.  A row that is not a whole
 * number of blocks falls back as llama-quantize does: q8_0, q4_0 → F16;
 * q2_k, q3_k → Q4_0; q4_k, q5_k, q6_k → Q8_0 (llama.cpp: Q5_0, Q5_1, Q8_0;
 * there is no Q5_0/Q5_1 here); F16 when not whole blocks of 32 either. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#define QK 32

/* the `type` option's choices, in order (append only: configs hold the index) */
enum { TYPE_F16 = 0, TYPE_BF16, TYPE_Q8_0, TYPE_Q4_0, TYPE_Q2_K, TYPE_Q3_K, TYPE_Q4_K, TYPE_Q5_K,
       TYPE_Q6_K, TYPE_Q4_K_M, TYPE_Q5_K_M, TYPE_COUNT };

static const enum pb_dtype type_dtype[TYPE_COUNT] = {
	PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0, PB_Q2_K, PB_Q3_K, PB_Q4_K, PB_Q5_K, PB_Q6_K, PB_Q4_K, PB_Q5_K,
};

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

/* ---- block math: keep identical to core/model/quant.c ----
 *
 * A deliberate copy (issue 18 kept it): the host's quantize_row would do
 * these four formats too, but it was appended to pb_host later (k-quant
 * issue), and this plugin keeps F16, BF16, Q8_0 and Q4_0 working on an ABI-1
 * core without it (tests/structured/test-quant.c kquant_needs_the_host);
 * the same test file checks that the copy writes the core's bytes. */

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

static int quantize_row(const struct pb_host *h, enum pb_dtype to, const float *x, uint8_t *dst,
			int64_t n)
{
	if (pb_dtype_is_kquant(to))
		return h->quantize_row(h, to, x, dst, n);
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
	return 0;
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

/* ---- which format each tensor takes: a copy of core/model/quant-plan.c */

static int kquant_type(int type)
{
	return type >= TYPE_Q2_K && type < TYPE_COUNT;
}

static int is_mix(int type)
{
	return type == TYPE_Q4_K_M || type == TYPE_Q5_K_M;
}

static enum pb_dtype fallback(enum pb_dtype type, int64_t ncols)
{
	if (ncols % pb_dtype_block(type) == 0)
		return type;
	if (type == PB_Q2_K || type == PB_Q3_K)
		type = PB_Q4_0;
	else if (pb_dtype_is_kquant(type))
		type = PB_Q8_0;
	else
		return PB_F16;
	return ncols % pb_dtype_block(type) ? PB_F16 : type;
}

static int use_more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Phi-3's q, k and v are written as one attn_qkv (the core's GGUF writer) */
static int qkv_like(const struct pb_model *m, enum pb_role r)
{
	return r == PB_ROLE_ATTN_QKV ||
	       (m->arch == PB_ARCH_PHI3 && (r == PB_ROLE_ATTN_Q || r == PB_ROLE_ATTN_K || r == PB_ROLE_ATTN_V));
}

static int attn_v_like(const struct pb_model *m, enum pb_role r)
{
	return (r == PB_ROLE_ATTN_V || r == PB_ROLE_CROSS_V) && !qkv_like(m, r);
}

/* llama-quantize visits tensors by the number after a leading "blk." of
 * their GGUF name (-1 without one, so every T5 tensor), then by name; the
 * attn_v and ffn_down counters follow that order.  The names of those
 * tensors are rebuilt here from (arch, stack, layer, role) as llama.cpp
 * spells them. */
struct visit {
	int idx, layer;
	char name[64];
};

static int cmp_visit(const void *a, const void *b)
{
	const struct visit *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void visit_name(const struct pb_model *m, const struct pb_tensor *t, struct visit *v)
{
	const char *suffix = t->role == PB_ROLE_FFN_DOWN ? "ffn_down" :
			     t->role == PB_ROLE_CROSS_V ? "cross_attn_v" : "attn_v";
	if (m->arch == PB_ARCH_T5) {
		snprintf(v->name, sizeof v->name, "%s.blk.%d.%s.weight",
			 t->stack == PB_STACK_ENCODER ? "enc" : "dec", t->layer, suffix);
		v->layer = -1;
	} else {
		snprintf(v->name, sizeof v->name, "blk.%d.%s.weight", t->layer, suffix);
		v->layer = t->layer;
	}
}

/* Rank of each attn_v-like and ffn_down tensor in its counter (rank[i]),
 * the counters' n in *n_attn_v and *n_ffn_down. */
static int rank_counted(const struct pb_model *m, int *rank, int *n_attn_v, int *n_ffn_down)
{
	struct visit *v = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *v);
	int nv = 0, ia = 0, id = 0;
	if (!v)
		return -ENOMEM;
	*n_attn_v = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		rank[i] = -1;
		if (t->layer < 0 || !(attn_v_like(m, t->role) || t->role == PB_ROLE_FFN_DOWN))
			continue;
		v[nv].idx = i;
		visit_name(m, t, &v[nv++]);
		*n_attn_v += attn_v_like(m, t->role);
	}
	qsort(v, (size_t)nv, sizeof *v, cmp_visit);
	for (int k = 0; k < nv; k++)
		rank[v[k].idx] = attn_v_like(m, m->tensors[v[k].idx].role) ? ia++ : id++;
	*n_ffn_down = m->arch == PB_ARCH_T5 ? m->hp.n_enc_layers : m->hp.n_layers;
	free(v);
	return 0;
}

/* The format tensor t takes; rank/n from rank_counted (k-quants only). */
static enum pb_dtype target(const struct quant_state *s, const struct pb_model *m,
			    const struct pb_tensor *t, int tied, int rank, int n_attn_v, int n_ffn_down)
{
	const enum pb_dtype type = type_dtype[s->cfg.type];
	enum pb_dtype to = type;
	if (kquant_type(s->cfg.type)) {
		if (t->role == PB_ROLE_OUTPUT || (tied && t->role == PB_ROLE_TOK_EMBD))
			to = t->ne[0] % pb_dtype_block(type) ? PB_Q8_0 : PB_Q6_K;
		else if (qkv_like(m, t->role))   /* llama-quantize's attn_qkv rule */
			to = s->cfg.type == TYPE_Q4_K_M ? PB_Q5_K : s->cfg.type == TYPE_Q5_K_M ? PB_Q6_K : type;
		else if (is_mix(s->cfg.type) && attn_v_like(m, t->role) && use_more_bits(rank, n_attn_v))
			to = PB_Q6_K;
		else if (is_mix(s->cfg.type) && t->role == PB_ROLE_FFN_DOWN && use_more_bits(rank, n_ffn_down))
			to = PB_Q6_K;
	}
	return fallback(to, t->ne[0]);
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
	if (kquant_type(s->cfg.type) && !PB_HOST_HAS(s->h, quantize_row)) {
		snprintf(why, len, "this prunebench core has no k-quant quantizer (host quantize_row); "
			 "k-quant types need a newer core");
		return -ENOTSUP;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (selected(s, t) && t->dtype != type_dtype[s->cfg.type] && !readable(t)) {
			snprintf(why, len, "tensor '%s' is %s; quantization reads F32, F16 or BF16",
				 t->name, pb_dtype_name(t->dtype));
			return -ENOTSUP;
		}
	}
	return 0;
}

static int convert(struct quant_state *s, struct pb_tensor *t, enum pb_dtype to)
{
	const enum pb_dtype want = type_dtype[s->cfg.type];
	const int64_t n0 = t->ne[0], rows = n0 ? pb_tensor_nelements(t) / n0 : 0;
	if (n0 % pb_dtype_block(want))
		LOG(s, PB_LOG_INFO, "tensor '%s': rows of %lld are not whole blocks of %d; %s instead of %s",
		    t->name, (long long)n0, pb_dtype_block(want), pb_dtype_name(to), pb_dtype_name(want));
	if (t->dtype == to)
		return 0;
	if (!readable(t)) {   /* already quantized, to another format than this one's choice */
		LOG(s, PB_LOG_ERROR, "tensor '%s' is %s; quantization reads F32, F16 or BF16", t->name,
		    pb_dtype_name(t->dtype));
		return -ENOTSUP;
	}
	const size_t rb = (size_t)(n0 / pb_dtype_block(to)) * pb_dtype_block_bytes(to);
	const size_t nbytes = rb * (size_t)rows;
	uint8_t *buf = malloc(nbytes ? nbytes : 1);
	float *x = malloc((size_t)(n0 ? n0 : 1) * sizeof *x);
	int rc = -ENOMEM;
	if (!buf || !x)
		goto out;
	for (int64_t r = 0; r < rows; r++) {
		read_row(t, r, x);
		if ((rc = quantize_row(s->h, to, x, buf + (size_t)r * rb, n0)) < 0) {
			LOG(s, PB_LOG_ERROR, "tensor '%s': the host cannot quantize to %s", t->name,
			    pb_dtype_name(to));
			goto out;
		}
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
	int n_attn_v = 0, n_ffn_down = 0;
	int *rank = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *rank);
	if (!rank || rank_counted(m, rank, &n_attn_v, &n_ffn_down) < 0) {
		free(rank);
		return -ENOMEM;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!selected(s, t) || (tied && t == o && s->cfg.embeddings))
			continue;
		enum pb_dtype to = target(s, m, t, tied, rank[i], n_attn_v, n_ffn_down);
		if ((rc = convert(s, t, to)) < 0)
			break;
	}
	free(rank);
	if (rc < 0)
		return rc;
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
	if (c->type < 0 || c->type >= TYPE_COUNT)
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
	if (s->cfg.type < 0 || s->cfg.type >= TYPE_COUNT || !h->tensor_realloc) {
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
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = quant_apply,
	.check = quant_check,
	.in_formats = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16),
	.out_format = quant_out_format,
};

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option quant_options[] = {
	{ .key = "type", .type = PB_OPT_ENUM, .offset = offsetof(struct quant_config, type),
	  .def = NULL, .choices = "fp16|bf16|q8_0|q4_0|q2_k|q3_k|q4_k|q5_k|q6_k|q4_k_m|q5_k_m",
	  .help = "format of the quantized weights (GGUF block layouts).  k-quants: the output "
		  "projection (or a tied embedding) takes Q6_K as llama-quantize does; q4_k_m and "
		  "q5_k_m also give Q6_K to llama.cpp's choice of attn_v and ffn_down layers, and Q5_K / "
		  "Q6_K to Phi-3's q, k and v (its fused attn_qkv).  Rows "
		  "that are not whole blocks fall back: q8_0, q4_0 to fp16; q2_k, q3_k to q4_0; "
		  "q4_k, q5_k, q6_k to q8_0 (llama.cpp: q5_0, q5_1, q8_0)" },
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
	.version = "1.1.0",
	.summary = "quantization: block linears (optionally embedding, output) to fp16, bf16, q8_0, "
		   "q4_0 or llama.cpp's k-quants (q2_k … q6_k, q4_k_m, q5_k_m)",
	.options = quant_options,
	.config_size = sizeof(struct quant_config),
	.init = quant_init,
	.fini = quant_fini,
	.ops = &quant_ops,
};

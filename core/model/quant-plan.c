/* core/model/quant-plan.c — which storage format each tensor of a model
 * takes when `prunebench convert --type` quantizes it: llama-quantize's
 * per-tensor choices (src/llama-quant.cpp, llama_tensor_get_type without
 * an importance matrix) for the k-quants and their _m mixes, and the
 * simpler rules prunebench has always used for f32 … q4_0.  quant.h
 * states the rules; the quant pruner (plugins/pruners/quant) keeps its own
 * copy, and tests/structured checks that both choose alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "util/util.h"

static const struct pb_quant_type quant_types[] = {
	{ "f32", PB_F32, PB_MIX_NONE },
	{ "f16", PB_F16, PB_MIX_NONE },
	{ "bf16", PB_BF16, PB_MIX_NONE },
	{ "q8_0", PB_Q8_0, PB_MIX_NONE },
	{ "q4_0", PB_Q4_0, PB_MIX_NONE },
	{ "q2_k", PB_Q2_K, PB_MIX_NONE },
	{ "q3_k", PB_Q3_K, PB_MIX_NONE },
	{ "q4_k", PB_Q4_K, PB_MIX_NONE },
	{ "q5_k", PB_Q5_K, PB_MIX_NONE },
	{ "q6_k", PB_Q6_K, PB_MIX_NONE },
	{ "q4_k_m", PB_Q4_K, PB_MIX_Q4_K_M },
	{ "q5_k_m", PB_Q5_K, PB_MIX_Q5_K_M },
};

const struct pb_quant_type *pb_quant_type_find(const char *name)
{
	for (size_t i = 0; name && i < PB_ARRAY_LEN(quant_types); i++)
		if (!strcasecmp(name, quant_types[i].name))
			return &quant_types[i];
	return NULL;
}

const char *pb_quant_type_names(void)
{
	static char names[160];
	if (!names[0])
		for (size_t i = 0, used = 0; i < PB_ARRAY_LEN(quant_types); i++)
			used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
						 quant_types[i].name);
	return names;
}

enum pb_dtype pb_quant_fallback(enum pb_dtype type, int64_t ncols)
{
	if (ncols % pb_dtype_block(type) == 0)
		return type;
	switch (type) {
	case PB_Q2_K:
	case PB_Q3_K:
		type = PB_Q4_0;
		break;
	case PB_Q4_K:
	case PB_Q5_K:
	case PB_Q6_K:
		type = PB_Q8_0;
		break;
	default:
		return PB_F16;
	}
	return ncols % pb_dtype_block(type) ? PB_F16 : type;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and
 * every third one between them. */
static int use_more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Phi-3's q, k and v are one attn_qkv in the file (gguf-write.c) */
static int qkv_like(const struct pb_model *m, enum pb_role r)
{
	return r == PB_ROLE_ATTN_QKV ||
	       (m->arch == PB_ARCH_PHI3 && (r == PB_ROLE_ATTN_Q || r == PB_ROLE_ATTN_K || r == PB_ROLE_ATTN_V));
}

static int attn_v_like(const struct pb_model *m, enum pb_role r)
{
	return (r == PB_ROLE_ATTN_V || r == PB_ROLE_CROSS_V) && !qkv_like(m, r);
}

/* The order llama-quantize visits tensors: llama_model_loader's
 * weights_map, keyed by name with weight_name_comparer (the number after
 * a leading "blk.", -1 without one, then the name). */
struct visit {
	int idx;
	int layer;
	char name[PB_TENSOR_NAME_MAX];
};

static int cmp_visit(const void *a, const void *b)
{
	const struct visit *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int is_tied_output(const struct pb_model *m, const struct pb_tensor *t)
{
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	return t->role == PB_ROLE_OUTPUT && e && e != t && e->data == t->data;
}

int pb_quant_plan(const struct pb_model *m, enum pb_dtype type, enum pb_quant_mix mix,
		  enum pb_dtype *out)
{
	const struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	const int tied = o && is_tied_output(m, o);
	const int kq = pb_dtype_is_kquant(type);
	struct visit *v = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *v);
	int nv = 0, n_attn_v = 0, i_attn_v = 0, i_ffn_down = 0;
	const int n_ffn_down = m->arch == PB_ARCH_T5 ? m->hp.n_enc_layers : m->hp.n_layers;
	if (!v)
		return -ENOMEM;

	/* the GGUF names the writer gives (and llama.cpp sees), in its order */
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (tied && t == o)
			continue;
		struct visit *x = &v[nv++];
		x->idx = i;
		if (t->role == PB_ROLE_OTHER ||
		    pb_tensor_name_arch(m->arch, t->stack, t->layer, t->role, x->name, sizeof x->name) < 0)
			snprintf(x->name, sizeof x->name, "%s", t->name);
		if (sscanf(x->name, "blk.%d.", &x->layer) != 1)
			x->layer = -1;
		n_attn_v += attn_v_like(m, t->role);
	}
	qsort(v, (size_t)nv, sizeof *v, cmp_visit);

	for (int k = 0; k < nv; k++) {
		const int i = v[k].idx;
		const struct pb_tensor *t = &m->tensors[i];
		enum pb_dtype to = type;
		if (t->n_dims < 2 || t->ne[1] == 1 || t->role == PB_ROLE_ATTN_REL_BIAS) {
			out[i] = PB_F32;
			continue;
		}
		if (type == PB_Q4_0 && t->role == PB_ROLE_OUTPUT) {
			to = PB_Q8_0;
		} else if (kq && (t->role == PB_ROLE_OUTPUT || (tied && t->role == PB_ROLE_TOK_EMBD))) {
			to = t->ne[0] % pb_dtype_block(type) ? PB_Q8_0 : PB_Q6_K;
		} else if (kq && qkv_like(m, t->role)) {
			to = mix == PB_MIX_Q4_K_M ? PB_Q5_K : mix == PB_MIX_Q5_K_M ? PB_Q6_K : type;
		} else if (kq && attn_v_like(m, t->role)) {
			if (mix != PB_MIX_NONE && use_more_bits(i_attn_v, n_attn_v))
				to = PB_Q6_K;
			i_attn_v++;
		} else if (kq && t->role == PB_ROLE_FFN_DOWN) {
			if (mix != PB_MIX_NONE && use_more_bits(i_ffn_down, n_ffn_down))
				to = PB_Q6_K;
			i_ffn_down++;
		}
		out[i] = pb_quant_fallback(to, t->ne[0]);
	}
	free(v);
	if (tied)
		out[o - m->tensors] = out[pb_model_find(m, -1, PB_ROLE_TOK_EMBD) - m->tensors];
	return 0;
}

int pb_model_quantize(struct pb_model *m, enum pb_dtype type, enum pb_quant_mix mix,
		      char *err, size_t len)
{
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	int tied = e && o && o->data == e->data;
	if (!pb_dtype_block_bytes(type))
		return pb_errf(err, len, -EINVAL, "%s is not a storage type to convert to", pb_dtype_name(type));
	if (mix != PB_MIX_NONE && !pb_dtype_is_kquant(type))
		return pb_errf(err, len, -EINVAL, "a k-quant mix needs a k-quant type, not %s",
			       pb_dtype_name(type));
	enum pb_dtype *plan = malloc((size_t)(m->n_tensors ? m->n_tensors : 1) * sizeof *plan);
	if (!plan)
		return pb_errf(err, len, -ENOMEM, "out of memory");
	if (pb_quant_plan(m, type, mix, plan) < 0) {
		free(plan);
		return pb_errf(err, len, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (tied && t == o)
			continue;
		const enum pb_dtype to = plan[i];
		int rc = pb_tensor_convert(t, to);
		if (rc < 0) {
			free(plan);
			return pb_errf(err, len, rc, "tensor '%s': cannot convert %s to %s: %s", t->name,
				       pb_dtype_name(t->dtype), pb_dtype_name(to), strerror(-rc));
		}
	}
	free(plan);
	if (tied) {
		e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
		o->dtype = e->dtype;
		o->data = e->data;
		o->nbytes = e->nbytes;
		o->flags &= ~PB_TENSOR_OWNED;
	}
	return 0;
}

int pb_model_convert(struct pb_model *m, enum pb_dtype type, char *err, size_t len)
{
	return pb_model_quantize(m, type, PB_MIX_NONE, err, len);
}

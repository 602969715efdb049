/* core/model/synth.c — synthetic llama models with real shapes and
 * deterministic weights, so the whole pipeline runs without downloading a
 * model.  Each tensor draws from its own stream (seed, tensor index), so
 * generation is fast and does not depend on fill order.
 *
 * Scales keep activations O(1): linears N(0, 1/fan_in), the projections
 * back into the residual (attn_output, ffn_down) further scaled by
 * 1/sqrt(2 n_layers), norms 1, a small tied embedding so that the layers'
 * contribution, not the input token, dominates the logits.  A random
 * network that is too smooth falls into repeating one token; q/k and
 * gate/up at twice the scale make greedy output vary (about 26 distinct
 * tokens in 32 on llama-15m), and longer printable-ASCII embedding rows
 * make it mostly visible text.  The constants were tuned by measuring
 * just that; change them only with the same check (tests/engine).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

#define PRESET(n, d, f, l, h, kvh, c) { .name = n, .hp = { \
	.dim = d, .n_layers = l, .n_heads = h, .n_kv_heads = kvh, .head_dim = (d) / (h), \
	.ffn_dim = f, .vocab = 32000, .ctx = c, .norm_eps = 1e-5f, .rope_theta = 10000.0f, \
	.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2 } }

static const struct pb_synth_preset presets[] = {
	PRESET("llama-15m", 288, 768, 6, 6, 6, 256),
	PRESET("llama-110m", 768, 2048, 12, 12, 12, 1024),
};

#define EMBD_STD 0.02f
#define PRINTABLE_GAIN 2.5f
#define QK_GAIN 2.0f       /* sharper attention: output depends on position */
#define FFN_GAIN 2.0f      /* gate/up pre-activations ~N(0, 4) */

const struct pb_synth_preset *pb_synth_presets(int *n)
{
	*n = (int)PB_ARRAY_LEN(presets);
	return presets;
}

const struct pb_synth_preset *pb_synth_find(const char *name)
{
	for (size_t i = 0; name && i < PB_ARRAY_LEN(presets); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

void pb_synth_fill(struct pb_tensor *t, uint64_t seed, uint64_t stream, float std)
{
	struct pb_rng r;
	float *f = t->data;
	int64_t n = pb_tensor_nelements(t);
	pb_rng_seed(&r, seed ^ (0x9e3779b97f4a7c15ull * (stream + 1)));
	/* Irwin-Hall: four 16-bit uniforms per draw have mean 2 and variance
	 * 1/3; close enough to normal for weights and ~10x cheaper than
	 * Box-Muller. */
	const float k = std * 1.7320508f / 65536.0f;
	for (int64_t i = 0; i < n; i++) {
		uint64_t u = pb_rng_next(&r);
		uint32_t s = (uint32_t)(u & 0xffff) + (uint32_t)((u >> 16) & 0xffff) +
			     (uint32_t)((u >> 32) & 0xffff) + (uint32_t)(u >> 48);
		/* +0.5 off centre: never exactly zero, so a dense synthetic
		 * model has no accidental sparsity (bias ~1e-5 std) */
		f[i] = ((float)s + 2.5f - 131072.0f) * k;
	}
}

static void fill_const(struct pb_tensor *t, float v)
{
	float *f = t->data;
	for (int64_t i = 0; i < pb_tensor_nelements(t); i++)
		f[i] = v;
}

static int byte_vocab(int n, int bos, int eos, struct pb_tokenizer **out)
{
	char **pieces = calloc((size_t)n, sizeof *pieces);
	char *text = malloc((size_t)n * 24);
	int rc = -ENOMEM;
	if (!pieces || !text)
		goto out;
	for (int i = 0; i < n; i++) {
		char *p = text + (size_t)i * 24;
		if (i == 0)
			snprintf(p, 24, "<unk>");
		else if (i == bos)
			snprintf(p, 24, "<s>");
		else if (i == eos)
			snprintf(p, 24, "</s>");
		else if (i >= 3 && i < 259)
			snprintf(p, 24, "<0x%02X>", i - 3);
		else
			snprintf(p, 24, "<extra_%d>", i);
		pieces[i] = p;
	}
	rc = pb_tokenizer_new((const char *const *)pieces, NULL, n, bos, eos, out);
out:
	free(pieces);
	free(text);
	return rc;
}

/* (layer, role, ne0, ne1) of every tensor, in GGUF file order. */
struct spec { int layer; enum pb_role role; int64_t ne0, ne1; };

static int plan(const struct pb_hparams *hp, struct spec *s)
{
	int n = 0, q = hp->n_heads * hp->head_dim, kv = hp->n_kv_heads * hp->head_dim;
	s[n++] = (struct spec){ -1, PB_ROLE_TOK_EMBD, hp->dim, hp->vocab };
	for (int l = 0; l < hp->n_layers; l++) {
		s[n++] = (struct spec){ l, PB_ROLE_ATTN_NORM, hp->dim, 1 };
		s[n++] = (struct spec){ l, PB_ROLE_ATTN_Q, hp->dim, q };
		s[n++] = (struct spec){ l, PB_ROLE_ATTN_K, hp->dim, kv };
		s[n++] = (struct spec){ l, PB_ROLE_ATTN_V, hp->dim, kv };
		s[n++] = (struct spec){ l, PB_ROLE_ATTN_O, q, hp->dim };
		s[n++] = (struct spec){ l, PB_ROLE_FFN_NORM, hp->dim, 1 };
		s[n++] = (struct spec){ l, PB_ROLE_FFN_GATE, hp->dim, hp->ffn_dim };
		s[n++] = (struct spec){ l, PB_ROLE_FFN_UP, hp->dim, hp->ffn_dim };
		s[n++] = (struct spec){ l, PB_ROLE_FFN_DOWN, hp->ffn_dim, hp->dim };
	}
	s[n++] = (struct spec){ -1, PB_ROLE_OUT_NORM, hp->dim, 1 };
	return n;
}

int pb_model_synth_hp(const char *name, const struct pb_hparams *hp, uint64_t seed,
		      struct pb_model **out, char *err, size_t len)
{
	if (hp->dim <= 0 || hp->n_layers <= 0 || hp->n_layers > 4096 || hp->n_heads <= 0 ||
	    hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 ||
	    hp->head_dim % 2 || hp->ffn_dim <= 0 || hp->vocab < 3 || hp->vocab > (1 << 24) || hp->ctx <= 0 ||
	    hp->bos_id >= hp->vocab || hp->eos_id >= hp->vocab) {
		snprintf(err, len, "synth:%s: inconsistent hyper-parameters", name);
		return -EINVAL;
	}
	int n_max = 2 + 9 * hp->n_layers;
	struct spec *s = calloc((size_t)n_max, sizeof *s);
	struct pb_model *m = pb_model_alloc(n_max + 1);
	int rc = -ENOMEM;
	if (!s || !m)
		goto fail;
	int n = plan(hp, s);
	struct pb_model_core *core = m->core;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += ((size_t)(s[i].ne0 * s[i].ne1) * 4 + 63) & ~(size_t)63;
	core->base = aligned_alloc(64, total ? total : 64);
	if (!core->base)
		goto fail;
	core->base_len = total;
	snprintf(core->source, sizeof core->source, "synth:%s", name);
	snprintf(m->name, sizeof m->name, "%s", name);
	m->arch = PB_ARCH_LLAMA;
	m->hp = *hp;
	size_t off = 0;
	const float lin = 1.0f, res = 1.0f / sqrtf(2.0f * (float)hp->n_layers);
	for (int i = 0; i < n; i++) {
		struct pb_tensor *t = &m->tensors[i];
		t->layer = s[i].layer;
		t->role = s[i].role;
		t->dtype = PB_F32;
		t->n_dims = s[i].ne1 == 1 ? 1 : 2;
		t->ne[0] = s[i].ne0;
		t->ne[1] = s[i].ne1;
		t->ne[2] = t->ne[3] = 1;
		t->nbytes = (size_t)(s[i].ne0 * s[i].ne1) * 4;
		t->data = (uint8_t *)core->base + off;
		off += (t->nbytes + 63) & ~(size_t)63;
		pb_tensor_role_name(t->layer, t->role, t->name, sizeof t->name);
		float std = lin / sqrtf((float)t->ne[0]);
		if (t->role == PB_ROLE_ATTN_O || t->role == PB_ROLE_FFN_DOWN)
			std *= res;
		if (t->role == PB_ROLE_ATTN_Q || t->role == PB_ROLE_ATTN_K)
			std *= QK_GAIN;
		if (t->role == PB_ROLE_FFN_GATE || t->role == PB_ROLE_FFN_UP)
			std *= FFN_GAIN;
		if (t->role == PB_ROLE_TOK_EMBD)
			pb_synth_fill(t, seed, (uint64_t)i, EMBD_STD);
		else if (t->role == PB_ROLE_ATTN_NORM || t->role == PB_ROLE_FFN_NORM ||
			 t->role == PB_ROLE_OUT_NORM)
			fill_const(t, 1.0f);
		else
			pb_synth_fill(t, seed, (uint64_t)i, std);
	}
	/* Printable ASCII pieces get longer embedding rows, so that the tied
	 * output favours them and a synthetic model "writes" visible
	 * gibberish rather than <extra_N> pieces that print as nothing. */
	if (hp->vocab >= 259)
		for (int c = 0x20; c < 0x7f; c++) {
			float *row = (float *)m->tensors[0].data + (size_t)(3 + c) * (size_t)hp->dim;
			for (int i = 0; i < hp->dim; i++)
				row[i] *= PRINTABLE_GAIN;
		}
	/* tied output projection, as in the small llama2.c models */
	struct pb_tensor *o = &m->tensors[n];
	*o = m->tensors[0];
	snprintf(o->name, sizeof o->name, "output.weight");
	o->role = PB_ROLE_OUTPUT;
	m->n_tensors = n + 1;
	rc = byte_vocab(hp->vocab, hp->bos_id, hp->eos_id, &core->tok);
	if (rc < 0)
		goto fail;
	free(s);
	*out = m;
	return 0;
fail:
	snprintf(err, len, "synth:%s: out of memory", name);
	free(s);
	pb_model_free(m);
	return rc;
}

int pb_model_synth(const char *preset, uint64_t seed, struct pb_model **out,
		   char *err, size_t len)
{
	const struct pb_synth_preset *p = pb_synth_find(preset);
	if (!p) {
		int n = 0;
		size_t used = (size_t)snprintf(err, len, "unknown synthetic preset '%s' (presets:",
					       preset ? preset : "");
		const struct pb_synth_preset *all = pb_synth_presets(&n);
		for (int i = 0; i < n && used < len; i++)
			used += (size_t)snprintf(err + used, len - used, " %s", all[i].name);
		if (used < len)
			snprintf(err + used, len - used, ")");
		return -ENOENT;
	}
	return pb_model_synth_hp(p->name, &p->hp, seed, out, err, len);
}

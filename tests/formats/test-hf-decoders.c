/* tests/formats/test-hf-decoders.c — Hugging Face folders of the Llama
 * family as transformers writes them: LlamaForCausalLM with llama3
 * rope_scaling and its own lm_head, in two shards; Qwen2ForCausalLM with
 * q/k/v biases and tied embeddings, in BF16; Qwen3ForCausalLM with q/k
 * norms and a head_dim that is not hidden / heads, in F16;
 * Gemma2ForCausalLM (soft caps, windows, query_pre_attn_scalar, post-norms,
 * (1 + w) norms) and Gemma3ForCausalLM (q/k norms, local RoPE base, six
 * layers; its BF16 norms folded as llama.cpp's converter rounds them);
 * Phi3ForCausalLM (fused qkv_proj and gate_up_proj, longrope short/long
 * factors and attention factor, an lm_head of its own).  Each folder
 * written here (real tensor names and config keys) must
 *  - give the logits of a naive forward written here in transformers'
 *    own terms (modeling_llama/qwen2/qwen3/gemma2/gemma3/phi3: rotate_half,
 *    inv_freq from _compute_llama3_parameters or _compute_longrope_parameters
 *    (long factors once the sequence passes original_max_position_embeddings),
 *    repeat_kv, GemmaRMSNorm, Phi-3's qkv and gate_up slices),
 *    on the ref backend;
 *  - convert with `prunebench convert` to a GGUF with llama.cpp's names
 *    and keys whose tensors are the same bits and whose logits are the
 *    same floats;
 * and folders that are wrong in one way each are refused with the reason. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "fmt.h"
#include "hfx.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "ref-rig.h"
#include "util/util.h"

#define NTOK 10
#define MAXW 128

/* One stored weight: its HF name, shape ([rows × cols], rows 0: a
 * vector), the bytes in the folder's dtype and the floats they mean. */
struct w {
	char name[96];
	int64_t rows, cols;
	float *f;
	void *enc;
	size_t nbytes;
};

struct hfm {
	const char *cls, *dtype, *gguf_arch;
	enum pb_arch arch;
	int tied, bias, qk_norm, shards;
	int dim, heads, kv, hd, ffn, layers, vocab;
	double theta, eps;
	double rope_factor, rope_low, rope_high;   /* llama3 scaling: factor 0 = none */
	int rope_orig;
	/* Gemma 2 (2) or 3 (3): query_pre_attn_scalar, soft caps (0 none),
	 * the window, the local layers' RoPE base */
	int gemma, qpas, window;
	double attn_cap, final_cap, local_theta;
	/* Phi-3: fused projections, longrope over `orig` (0: no rope_scaling) */
	int phi3, orig;
	double short_f[32], long_f[32];
	struct w w[MAXW];
	int n;
};

static void add(struct hfm *m, const char *name, int64_t rows, int64_t cols, float scale, float base)
{
	struct w *w = &m->w[m->n++];
	const int64_t n = (rows ? rows : 1) * cols;
	enum pb_dtype d = !strcmp(m->dtype, "BF16") ? PB_BF16 : !strcmp(m->dtype, "F16") ? PB_F16 : PB_F32;
	ck_assert_int_le(m->n, MAXW);
	snprintf(w->name, sizeof w->name, "%s", name);
	w->rows = rows;
	w->cols = cols;
	w->f = malloc((size_t)n * sizeof *w->f);
	w->enc = malloc((size_t)n * 4);
	fill_floats(w->f, (size_t)n, 1000 + (uint64_t)m->n);
	for (int64_t i = 0; i < n; i++)
		w->f[i] = base + scale * w->f[i];
	/* the folder holds them in its dtype; the naive forward reads what
	 * that stores */
	ck_assert_int_eq(pb_quantize_row(d, w->f, w->enc, n), 0);
	ck_assert_int_eq(pb_dequantize_row(d, w->enc, w->f, n), 0);
	w->nbytes = pb_dtype_row_bytes(d, n);
}

static const float *get(const struct hfm *m, const char *fmt, int l)
{
	char name[96];
	snprintf(name, sizeof name, fmt, l);
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->w[i].name, name))
			return m->w[i].f;
	return NULL;
}

static void build(struct hfm *m)
{
	char name[96];
	const int d = m->dim, q = m->heads * m->hd, kv = m->kv * m->hd;
	const float s = 1.0f / sqrtf((float)d);
	/* Gemma's norms scale by 1 + w: stored near 0 */
	const float nb = m->gemma ? 0.0f : 1.0f;
	add(m, "model.embed_tokens.weight", m->vocab, d, m->gemma ? 0.3f : 1.0f, 0);
	for (int l = 0; l < m->layers; l++) {
#define L(suffix) (snprintf(name, sizeof name, "model.layers.%d." suffix, l), name)
		add(m, L("input_layernorm.weight"), 0, d, 0.2f, nb);
		if (m->phi3) {
			/* q, k, v rows in one matrix; gate, up rows in one */
			add(m, L("self_attn.qkv_proj.weight"), q + 2 * kv, d, 2 * s, 0);
			add(m, L("self_attn.o_proj.weight"), d, q, 1.0f / sqrtf((float)q), 0);
			add(m, L("post_attention_layernorm.weight"), 0, d, 0.2f, nb);
			add(m, L("mlp.gate_up_proj.weight"), 2 * m->ffn, d, 2 * s, 0);
			add(m, L("mlp.down_proj.weight"), d, m->ffn, 1.0f / sqrtf((float)m->ffn), 0);
			continue;
		}
		add(m, L("self_attn.q_proj.weight"), q, d, 2 * s, 0);
		add(m, L("self_attn.k_proj.weight"), kv, d, 2 * s, 0);
		add(m, L("self_attn.v_proj.weight"), kv, d, s, 0);
		if (m->bias) {
			add(m, L("self_attn.q_proj.bias"), 0, q, 0.5f, 0);
			add(m, L("self_attn.k_proj.bias"), 0, kv, 0.5f, 0);
			add(m, L("self_attn.v_proj.bias"), 0, kv, 0.5f, 0);
		}
		if (m->qk_norm) {
			add(m, L("self_attn.q_norm.weight"), 0, m->hd, 0.3f, nb);
			add(m, L("self_attn.k_norm.weight"), 0, m->hd, 0.3f, nb);
		}
		add(m, L("self_attn.o_proj.weight"), d, q, 1.0f / sqrtf((float)q), 0);
		/* Llama's FFN pre-norm; Gemma's attention post-norm */
		add(m, L("post_attention_layernorm.weight"), 0, d, 0.2f, nb);
		if (m->gemma) {
			add(m, L("pre_feedforward_layernorm.weight"), 0, d, 0.2f, nb);
			add(m, L("post_feedforward_layernorm.weight"), 0, d, 0.2f, nb);
		}
		add(m, L("mlp.gate_proj.weight"), m->ffn, d, 2 * s, 0);
		add(m, L("mlp.up_proj.weight"), m->ffn, d, 2 * s, 0);
		add(m, L("mlp.down_proj.weight"), d, m->ffn, 1.0f / sqrtf((float)m->ffn), 0);
#undef L
	}
	add(m, "model.norm.weight", 0, d, 0.2f, nb);
	if (!m->tied)
		add(m, "lm_head.weight", m->vocab, d, 1.0f, 0);
}

static void free_hfm(struct hfm *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->w[i].f);
		free(m->w[i].enc);
	}
	m->n = 0;
}

/* ---- transformers' forward, plainly ---- */

static int gemma_norms;   /* GemmaRMSNorm: x / rms · (1 + w), in float32 */

static void rms(const float *x, const float *w, float *y, int n, double eps)
{
	double ss = 0;
	for (int i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	double k = 1.0 / sqrt(ss / n + eps);
	for (int i = 0; i < n; i++)
		y[i] = (float)((gemma_norms ? 1.0f + w[i] : w[i]) * (x[i] * k));
}

/* y[o] = Σ W[o][i] x[i] (+ b[o]), W row-major [rows × cols] as HF stores it */
static void lin(const float *W, const float *b, const float *x, float *y, int rows, int cols)
{
	for (int o = 0; o < rows; o++) {
		double a = b ? b[o] : 0;
		for (int i = 0; i < cols; i++)
			a += (double)W[(size_t)o * cols + i] * x[i];
		y[o] = (float)a;
	}
}

/* modeling_rope_utils: the default inv_freq, and _compute_llama3_parameters */
static void inv_freq(const struct hfm *m, double *f)
{
	for (int j = 0; j < m->hd / 2; j++) {
		f[j] = 1.0 / pow(m->theta, (double)(2 * j) / m->hd);
		if (m->rope_factor == 0)
			continue;
		double low_wl = m->rope_orig / m->rope_low, high_wl = m->rope_orig / m->rope_high;
		double wl = 2 * M_PI / f[j], g = wl > low_wl ? f[j] / m->rope_factor : f[j];
		double smooth = (m->rope_orig / wl - m->rope_low) / (m->rope_high - m->rope_low);
		if (!(wl < high_wl) && !(wl > low_wl))
			g = (1 - smooth) * g / m->rope_factor + smooth * g;
		f[j] = g;
	}
}

/* _compute_longrope_parameters: inv_freq = 1 / (ext · base^(2j/hd)) with
 * the long factors once the sequence is longer than the original
 * context, and attention_factor √(1 + ln(max/orig) / ln(orig)) (max:
 * max_position_embeddings, 64 in these folders) on cos and sin */
static double rope_scaling_mscale = 1.0;

static void longrope_inv_freq(const struct hfm *m, int seq_len, double *f)
{
	const double *ext = seq_len > m->orig ? m->long_f : m->short_f;
	for (int j = 0; j < m->hd / 2; j++)
		f[j] = 1.0 / (ext[j] * pow(m->theta, (double)(2 * j) / m->hd));
	rope_scaling_mscale = 64 > m->orig ? sqrt(1 + log(64.0 / m->orig) / log((double)m->orig)) : 1.0;
}

/* q_embed = q cos + rotate_half(q) sin, cos/sin = cat(freqs, freqs) */
static void rotate_half_rope(float *v, int heads, int hd, int pos, const double *f)
{
	for (int h = 0; h < heads; h++) {
		float *x = v + h * hd, tmp[64];
		memcpy(tmp, x, (size_t)hd * sizeof *x);
		for (int i = 0; i < hd; i++) {
			double ang = pos * f[i % (hd / 2)];
			double rot = i < hd / 2 ? -tmp[i + hd / 2] : tmp[i - hd / 2];
			x[i] = (float)(tmp[i] * cos(ang) * rope_scaling_mscale + rot * sin(ang) * rope_scaling_mscale);
		}
	}
}

/* Phi-3's slices of its fused matrices, as modeling_phi3 takes them:
 * qkv[..., :q], [q : q + kv], [q + kv :]; gate_up.chunk(2) */
static const float *phi3_part(const struct hfm *m, const char *what, int l)
{
	const int d = m->dim, q = m->heads * m->hd, kv = m->kv * m->hd;
	if (!strcmp(what, "q"))
		return get(m, "model.layers.%d.self_attn.qkv_proj.weight", l);
	if (!strcmp(what, "k"))
		return get(m, "model.layers.%d.self_attn.qkv_proj.weight", l) + (size_t)q * d;
	if (!strcmp(what, "v"))
		return get(m, "model.layers.%d.self_attn.qkv_proj.weight", l) + (size_t)(q + kv) * d;
	if (!strcmp(what, "gate"))
		return get(m, "model.layers.%d.mlp.gate_up_proj.weight", l);
	return get(m, "model.layers.%d.mlp.gate_up_proj.weight", l) + (size_t)m->ffn * d;
}

static void hf_forward(const struct hfm *m, const int32_t *tok, int n, float *logits)
{
	const int d = m->dim, hd = m->hd, q = m->heads * hd, kv = m->kv * hd;
	float *x = calloc((size_t)n * d, 4), *h = calloc((size_t)d, 4), *tmp = calloc((size_t)d, 4);
	float *Q = calloc((size_t)n * q, 4), *K = calloc((size_t)n * kv, 4), *V = calloc((size_t)n * kv, 4);
	float *att = calloc((size_t)q, 4), *g = calloc((size_t)m->ffn, 4), *u = calloc((size_t)m->ffn, 4);
	double f[32], f_local[32], sc[NTOK];
	struct hfm local = *m;
	rope_scaling_mscale = 1.0;
	if (m->phi3 && m->orig)
		longrope_inv_freq(m, n, f);
	else
		inv_freq(m, f);
	local.theta = m->local_theta;
	if (m->gemma == 3)
		inv_freq(&local, f_local);
	gemma_norms = m->gemma != 0;
	/* Gemma: the embedding times a float32 √hidden */
	const float normalizer = m->gemma ? sqrtf((float)d) : 1.0f;
	for (int t = 0; t < n; t++)
		for (int i = 0; i < d; i++)
			x[(size_t)t * d + i] = get(m, "model.embed_tokens.weight", 0)[(size_t)tok[t] * d + i] * normalizer;
	for (int l = 0; l < m->layers; l++) {
		/* Gemma2: is_sliding = not bool(layer_idx % 2); Gemma3:
		 * bool((layer_idx + 1) % sliding_window_pattern) */
		const int sliding = m->gemma == 2 ? !(l % 2) : m->gemma == 3 ? (l + 1) % 6 != 0 : 0;
		const double *fl = m->gemma == 3 && sliding ? f_local : f;
		const double scaling = m->gemma ? pow(m->qpas, -0.5) : 1.0 / sqrt((double)hd);
		for (int t = 0; t < n; t++) {
			float *qt = Q + (size_t)t * q, *kt = K + (size_t)t * kv;
			rms(x + (size_t)t * d, get(m, "model.layers.%d.input_layernorm.weight", l), h, d, m->eps);
			lin(m->phi3 ? phi3_part(m, "q", l) : get(m, "model.layers.%d.self_attn.q_proj.weight", l),
			    get(m, "model.layers.%d.self_attn.q_proj.bias", l), h, qt, q, d);
			lin(m->phi3 ? phi3_part(m, "k", l) : get(m, "model.layers.%d.self_attn.k_proj.weight", l),
			    get(m, "model.layers.%d.self_attn.k_proj.bias", l), h, kt, kv, d);
			lin(m->phi3 ? phi3_part(m, "v", l) : get(m, "model.layers.%d.self_attn.v_proj.weight", l),
			    get(m, "model.layers.%d.self_attn.v_proj.bias", l), h, V + (size_t)t * kv, kv, d);
			for (int k = 0; m->qk_norm && k < m->heads; k++)
				rms(qt + k * hd, get(m, "model.layers.%d.self_attn.q_norm.weight", l), qt + k * hd, hd, m->eps);
			for (int k = 0; m->qk_norm && k < m->kv; k++)
				rms(kt + k * hd, get(m, "model.layers.%d.self_attn.k_norm.weight", l), kt + k * hd, hd, m->eps);
			rotate_half_rope(qt, m->heads, hd, t, fl);
			rotate_half_rope(kt, m->kv, hd, t, fl);
		}
		for (int t = 0; t < n; t++) {
			/* the sliding mask keeps keys with t - j < window */
			const int j0 = sliding && t - m->window + 1 > 0 ? t - m->window + 1 : 0;
			for (int k = 0; k < m->heads; k++) {
				const int kh = k / (m->heads / m->kv);   /* repeat_kv */
				double mx = -1e300, sum = 0;
				for (int j = j0; j <= t; j++) {
					double dot = 0;
					for (int i = 0; i < hd; i++)
						dot += (double)Q[(size_t)t * q + k * hd + i] * K[(size_t)j * kv + kh * hd + i];
					sc[j] = dot * scaling;
					if (m->attn_cap > 0)
						sc[j] = tanh(sc[j] / m->attn_cap) * m->attn_cap;
					mx = sc[j] > mx ? sc[j] : mx;
				}
				for (int j = j0; j <= t; j++)
					sum += sc[j] = exp(sc[j] - mx);
				for (int i = 0; i < hd; i++) {
					double a = 0;
					for (int j = j0; j <= t; j++)
						a += sc[j] / sum * V[(size_t)j * kv + kh * hd + i];
					att[k * hd + i] = (float)a;
				}
			}
			float *xt = x + (size_t)t * d;
			lin(get(m, "model.layers.%d.self_attn.o_proj.weight", l), NULL, att, tmp, d, q);
			if (m->gemma)
				rms(tmp, get(m, "model.layers.%d.post_attention_layernorm.weight", l), tmp, d, m->eps);
			for (int i = 0; i < d; i++)
				xt[i] += tmp[i];
			rms(xt, get(m, m->gemma ? "model.layers.%d.pre_feedforward_layernorm.weight"
						: "model.layers.%d.post_attention_layernorm.weight", l), h, d, m->eps);
			lin(m->phi3 ? phi3_part(m, "gate", l) : get(m, "model.layers.%d.mlp.gate_proj.weight", l), NULL, h,
			    g, m->ffn, d);
			lin(m->phi3 ? phi3_part(m, "up", l) : get(m, "model.layers.%d.mlp.up_proj.weight", l), NULL, h, u,
			    m->ffn, d);
			for (int i = 0; i < m->ffn; i++) {
				const double a = g[i];   /* gelu_pytorch_tanh, or SiLU */
				const double act = m->gemma ? 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)))
							    : a / (1 + exp(-a));
				g[i] = (float)(act * u[i]);
			}
			lin(get(m, "model.layers.%d.mlp.down_proj.weight", l), NULL, g, tmp, d, m->ffn);
			if (m->gemma)
				rms(tmp, get(m, "model.layers.%d.post_feedforward_layernorm.weight", l), tmp, d, m->eps);
			for (int i = 0; i < d; i++)
				xt[i] += tmp[i];
		}
	}
	const float *head = m->tied ? get(m, "model.embed_tokens.weight", 0) : get(m, "lm_head.weight", 0);
	for (int t = 0; t < n; t++) {
		float *lt = logits + (size_t)t * m->vocab;
		rms(x + (size_t)t * d, get(m, "model.norm.weight", 0), h, d, m->eps);
		lin(head, NULL, h, lt, m->vocab, d);
		for (int i = 0; m->final_cap > 0 && i < m->vocab; i++)
			lt[i] = (float)(tanh(lt[i] / m->final_cap) * m->final_cap);
	}
	free(x); free(h); free(tmp); free(Q); free(K); free(V); free(att); free(g); free(u);
}

/* ---- the folder ---- */

static const char *write_folder(struct hfm *m, const char *name)
{
	char cfg[3072], rs[768] = "";
	if (m->gemma) {
		char ac[32] = "null", fc[32] = "null";
		if (m->attn_cap > 0)
			snprintf(ac, sizeof ac, "%g", m->attn_cap);
		if (m->final_cap > 0)
			snprintf(fc, sizeof fc, "%g", m->final_cap);
		snprintf(rs, sizeof rs, ", \"hidden_activation\": \"gelu_pytorch_tanh\", \"query_pre_attn_scalar\": %d,"
			 " \"sliding_window\": %d, \"attn_logit_softcapping\": %s, \"final_logit_softcapping\": %s,"
			 " \"rope_local_base_freq\": %g, \"rope_scaling\": null%s", m->qpas, m->window, ac, fc,
			 m->local_theta > 0 ? m->local_theta : 10000.0,
			 m->gemma == 3 ? ", \"sliding_window_pattern\": 6" : "");
	}
	if (m->phi3 && m->orig) {
		char sf[256] = "", lf[256] = "";
		for (int j = 0, a = 0, b = 0; j < m->hd / 2; j++) {
			a += snprintf(sf + a, sizeof sf - (size_t)a, "%s%.17g", j ? ", " : "", m->short_f[j]);
			b += snprintf(lf + b, sizeof lf - (size_t)b, "%s%.17g", j ? ", " : "", m->long_f[j]);
		}
		snprintf(rs, sizeof rs, ", \"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [%s], "
			 "\"long_factor\": [%s]}, \"original_max_position_embeddings\": %d", sf, lf, m->orig);
	}
	if (m->rope_factor > 0)
		snprintf(rs, sizeof rs, ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %g, "
			 "\"low_freq_factor\": %g, \"high_freq_factor\": %g, \"original_max_position_embeddings\": %d}",
			 m->rope_factor, m->rope_low, m->rope_high, m->rope_orig);
	snprintf(cfg, sizeof cfg,
		 "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d,"
		 " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,"
		 " \"head_dim\": %d, \"vocab_size\": %d, \"max_position_embeddings\": 64, \"rms_norm_eps\": %g,"
		 " \"rope_theta\": %g, \"hidden_act\": \"%s\", \"tie_word_embeddings\": %s,"
		 " \"attention_bias\": false%s, \"torch_dtype\": \"%s\", \"bos_token_id\": 1, \"eos_token_id\": 2%s}",
		 m->cls, m->dim, m->ffn, m->layers, m->heads, m->kv, m->hd, m->vocab, m->eps, m->theta,
		 m->gemma ? "gelu_pytorch_tanh" : "silu", m->tied ? "true" : "false",
		 m->gemma ? "" : ", \"use_sliding_window\": false, \"sliding_window\": 4096, \"max_window_layers\": 21",
		 !strcmp(m->dtype, "BF16") ? "bfloat16" : "float16", rs);
	const char *dir = hfx_dir(name, cfg);
	struct st_entry e[MAXW];
	for (int i = 0; i < m->n; i++)
		e[i] = (struct st_entry){ .name = m->w[i].name, .dtype = m->dtype, .nd = m->w[i].rows ? 2 : 1,
					  .shape = { m->w[i].rows ? m->w[i].rows : m->w[i].cols, m->w[i].cols },
					  .data = m->w[i].enc, .nbytes = m->w[i].nbytes };
	if (!m->shards) {
		st_write(hfx_path(dir, "model.safetensors"), e, m->n, "{\"format\":\"pt\"}");
		return dir;
	}
	/* two shards and the index transformers writes beside them */
	int half = m->n / 2;
	struct fb idx = { 0 };
	st_write(hfx_path(dir, "model-00001-of-00002.safetensors"), e, half, "{\"format\":\"pt\"}");
	st_write(hfx_path(dir, "model-00002-of-00002.safetensors"), e + half, m->n - half, "{\"format\":\"pt\"}");
	static const char head[] = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {";
	fb_put(&idx, head, strlen(head));
	for (int i = 0; i < m->n; i++) {
		char item[192];
		int k = snprintf(item, sizeof item, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "",
				 e[i].name, i < half ? 1 : 2);
		fb_put(&idx, item, (size_t)k);
	}
	fb_put(&idx, "}}", 3);
	write_text(hfx_path(dir, "model.safetensors.index.json"), (const char *)idx.p);
	fb_free(&idx);
	return dir;
}

static void logits_of(struct pb_model *m, const int32_t *tok, float *out)
{
	struct rig r;
	rig_open(&r, m);
	ck_assert_int_eq(pb_session_forward_all(r.s, tok, NTOK, 0, out), 0);
	rig_close(&r);
}

static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *p = malloc((size_t)n);
	ck_assert_int_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	int hit = memmem(p, (size_t)n, needle, strlen(needle)) != NULL;
	free(p);
	return hit;
}

/* The whole check of one architecture's folder. */
static void round_trip(struct hfm *m, const char *name, const char *const *gguf_names)
{
	const int V = m->vocab;
	int32_t tok[NTOK];
	float *want = malloc((size_t)NTOK * V * 4), *a = malloc((size_t)NTOK * V * 4);
	float *b = malloc((size_t)NTOK * V * 4);
	char cmd[2048], gguf[600], key[128];
	build(m);
	const char *dir = write_folder(m, name);
	for (int i = 0; i < NTOK; i++)
		tok[i] = (int32_t)((i * 7 + 3) % V);
	hf_forward(m, tok, NTOK, want);

	struct pb_model *pm = must_load(dir, NULL);
	ck_assert_int_eq(pm->arch, m->arch);
	ck_assert_int_eq(pm->hp.head_dim, m->hd);
	ck_assert_int_eq(pm->hp.rope_layout, pb_arch_rope_layout(m->arch));
	logits_of(pm, tok, a);
	double mx = 0, worst = 0;
	for (int i = 0; i < NTOK * V; i++) {
		mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
		worst = fabs(a[i] - want[i]) > worst ? fabs(a[i] - want[i]) : worst;
	}
	ck_assert_msg(worst <= 1e-4 * mx, "%s: logits off transformers' by %g (max %g)", name, worst, mx);

	/* prunebench convert → GGUF: llama.cpp's names and keys, same bits, same logits */
	snprintf(gguf, sizeof gguf, "%s/%s.gguf", scratch(), name);
	snprintf(cmd, sizeof cmd, "'%s/prunebench' -q convert '%s' '%s'", getenv("PB_BUILD_ROOT"), dir, gguf);
	ck_assert_int_eq(system(cmd), 0);
	static const char *const keys[] = { "general.architecture", "context_length", "embedding_length",
		"block_count", "feed_forward_length", "attention.head_count", "attention.head_count_kv",
		"attention.key_length", "rope.dimension_count", "rope.freq_base",
		"attention.layer_norm_rms_epsilon" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		snprintf(key, sizeof key, "%s%s%s", i ? m->gguf_arch : "", i ? "." : "", keys[i]);
		ck_assert_msg(file_has(gguf, key), "%s: no key %s", gguf, key);
	}
	ck_assert(file_has(gguf, m->gguf_arch));
	for (int i = 0; gguf_names[i]; i++)
		ck_assert_msg(file_has(gguf, gguf_names[i]), "%s: no tensor %s", gguf, gguf_names[i]);
	struct pb_model *ga = must_load(dir, NULL), *gb = must_load(gguf, NULL);
	ck_assert_int_eq(gb->arch, m->arch);
	ck_assert_int_eq(gb->hp.head_dim, m->hd);
	ck_assert_int_eq(gb->hp.rope_layout, ga->hp.rope_layout);
	ck_assert_float_eq(gb->hp.rope_theta, ga->hp.rope_theta);
	ck_assert_float_eq(gb->hp.norm_eps, ga->hp.norm_eps);
	same_tensors(ga, gb, 0);
	pb_model_free(ga);
	logits_of(gb, tok, b);
	ck_assert_msg(!memcmp(a, b, (size_t)NTOK * V * 4), "%s: the GGUF's logits differ", name);
	free(want);
	free(a);
	free(b);
	free_hfm(m);
}

START_TEST(llama3_sharded)
{
	/* theta 10000 over head_dim 8 and an original context of 64: pair 0
	 * keeps its frequency, pair 1 is blended, pairs 2-3 are divided by 8 */
	struct hfm m = { .cls = "LlamaForCausalLM", .dtype = "F32", .gguf_arch = "llama",
			 .arch = PB_ARCH_LLAMA, .shards = 1, .dim = 32, .heads = 4, .kv = 2, .hd = 8,
			 .ffn = 48, .layers = 2, .vocab = 16, .theta = 10000, .eps = 1e-5,
			 .rope_factor = 8, .rope_low = 1, .rope_high = 4, .rope_orig = 64 };
	static const char *const names[] = { "rope_freqs.weight", "blk.1.attn_q.weight", "output.weight", NULL };
	round_trip(&m, "llama3", names);
	/* the tensor is the converter's, and no other divisor would do */
	m.n = 0;
	build(&m);
	const char *dir = write_folder(&m, "llama3b");
	struct pb_model *pm = must_load(dir, NULL);
	const struct pb_tensor *t = tensor_named(pm, "rope_freqs.weight");
	const struct pb_rope_llama3 r = { 8, 1, 4, 64 };
	float f[4];
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->role, PB_ROLE_ROPE_FREQS);
	ck_assert_int_eq(pb_rope_llama3_factors(10000.0f, 8, &r, f), 0);
	ck_assert(!memcmp(t->data, f, sizeof f));
	ck_assert_float_eq(f[0], 1.0f);
	ck_assert(f[1] > 1.0f && f[1] < 8.0f);
	ck_assert_float_eq(f[3], 8.0f);
	pb_model_free(pm);
	free_hfm(&m);
}
END_TEST

START_TEST(qwen2_tied_bf16)
{
	struct hfm m = { .cls = "Qwen2ForCausalLM", .dtype = "BF16", .gguf_arch = "qwen2",
			 .arch = PB_ARCH_QWEN2, .tied = 1, .bias = 1, .dim = 32, .heads = 4, .kv = 2, .hd = 8,
			 .ffn = 48, .layers = 2, .vocab = 16, .theta = 1000000, .eps = 1e-6 };
	static const char *const names[] = { "blk.0.attn_q.bias", "blk.1.attn_k.bias", "blk.1.attn_v.bias",
					     "token_embd.weight", NULL };
	round_trip(&m, "qwen2", names);
	/* Qwen rows are not permuted: llama.cpp's qwen2 rotates halves */
	m.n = 0;
	build(&m);
	struct pb_model *pm = must_load(write_folder(&m, "qwen2b"), NULL);
	const struct pb_tensor *q = tensor_named(pm, "blk.0.attn_q.weight");
	const struct w *stored = NULL;
	for (int i = 0; i < m.n; i++)
		if (!strcmp(m.w[i].name, "model.layers.0.self_attn.q_proj.weight"))
			stored = &m.w[i];
	ck_assert_ptr_nonnull(stored);
	ck_assert_int_eq(q->nbytes, stored->nbytes);
	ck_assert(!memcmp(q->data, stored->enc, q->nbytes));
	ck_assert_ptr_null(tensor_named(pm, "rope_freqs.weight"));
	ck_assert_int_eq(tensor_named(pm, "blk.0.attn_q.bias")->dtype, PB_F32);   /* 1-D: F32 */
	pb_model_free(pm);
	free_hfm(&m);
}
END_TEST

START_TEST(qwen3_head_dim_f16)
{
	struct hfm m = { .cls = "Qwen3ForCausalLM", .dtype = "F16", .gguf_arch = "qwen3",
			 .arch = PB_ARCH_QWEN3, .tied = 1, .qk_norm = 1, .dim = 32, .heads = 4, .kv = 2,
			 .hd = 16, .ffn = 48, .layers = 2, .vocab = 16, .theta = 1000000, .eps = 1e-6 };
	static const char *const names[] = { "blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight",
					     "qwen3.attention.value_length", NULL };
	round_trip(&m, "qwen3", names);
}
END_TEST

START_TEST(gemma2_f32)
{
	/* query_pre_attn_scalar 24 unlike head_dim 8, a window of 3 on the
	 * even layers, caps that bite on these logits */
	struct hfm m = { .cls = "Gemma2ForCausalLM", .dtype = "F32", .gguf_arch = "gemma2",
			 .arch = PB_ARCH_GEMMA2, .tied = 1, .gemma = 2, .dim = 32, .heads = 4, .kv = 2, .hd = 8,
			 .ffn = 48, .layers = 2, .vocab = 16, .theta = 10000, .eps = 1e-6, .qpas = 24, .window = 3,
			 .attn_cap = 2.5, .final_cap = 1.5 };
	static const char *const names[] = { "blk.0.post_attention_norm.weight", "blk.1.post_ffw_norm.weight",
					     "blk.1.ffn_norm.weight", "gemma2.attention.sliding_window",
					     "gemma2.attn_logit_softcapping", "gemma2.final_logit_softcapping",
					     "gemma2.attention.scale", NULL };
	round_trip(&m, "gemma2", names);
}
END_TEST

START_TEST(gemma3_six_layers)
{
	/* six layers: 0-4 slide with base 10000, 5 is global with 1e6; in
	 * F32, where 1 + w is exact on both sides */
	struct hfm m = { .cls = "Gemma3ForCausalLM", .dtype = "F32", .gguf_arch = "gemma3",
			 .arch = PB_ARCH_GEMMA3, .tied = 1, .gemma = 3, .qk_norm = 1, .dim = 32, .heads = 4, .kv = 1,
			 .hd = 16, .ffn = 48, .layers = 6, .vocab = 16, .theta = 1000000, .eps = 1e-6, .qpas = 16,
			 .window = 3, .local_theta = 10000 };
	static const char *const names[] = { "blk.5.attn_q_norm.weight", "blk.0.post_ffw_norm.weight",
					     "gemma3.attention.sliding_window", NULL };
	round_trip(&m, "gemma3", names);
	/* a BF16 checkpoint's norms hold 1 + w rounded to BF16, as llama.cpp's
	 * converter stores them (transformers adds in float32: the two differ
	 * by that rounding); they read as F32 from then on */
	m.n = 0;
	m.dtype = "BF16";
	build(&m);
	struct pb_model *pm = must_load(write_folder(&m, "gemma3b"), NULL);
	const struct pb_tensor *t = tensor_named(pm, "blk.2.attn_k_norm.weight");
	const float *w = get(&m, "model.layers.%d.self_attn.k_norm.weight", 2);
	ck_assert_int_eq(t->dtype, PB_F32);
	for (int i = 0; i < m.hd; i++)
		ck_assert_float_eq(((const float *)t->data)[i], pb_bf16_to_fp32(pb_fp32_to_bf16(w[i] + 1.0f)));
	ck_assert_int_eq(pb_model_arch_params(pm)->sliding_window, 3);
	ck_assert_float_eq(pb_model_arch_params(pm)->rope_theta_swa, 10000.0f);
	pb_model_free(pm);
	free_hfm(&m);
}
END_TEST

START_TEST(phi3_fused_longrope)
{
	/* BF16 like Phi-3.5; an original context of 8 under
	 * max_position_embeddings 64: ten tokens take the long factors in
	 * transformers (sequence > 8) and in llama.cpp's choice (ctx 64 > 8);
	 * factors exact in float32 */
	struct hfm m = { .cls = "Phi3ForCausalLM", .dtype = "BF16", .gguf_arch = "phi3", .arch = PB_ARCH_PHI3,
			 .phi3 = 1, .orig = 8, .dim = 32, .heads = 4, .kv = 2, .hd = 8, .ffn = 48, .layers = 2,
			 .vocab = 16, .theta = 10000, .eps = 1e-5, .short_f = { 1.0, 1.25, 1.5, 2.0 },
			 .long_f = { 1.0, 2.5, 6.0, 16.0 } };
	static const char *const names[] = { "rope_factors_long.weight", "rope_factors_short.weight",
					     "blk.0.attn_qkv.weight", "blk.1.ffn_up.weight", "output.weight",
					     "phi3.rope.scaling.original_context_length",
					     "phi3.rope.scaling.attn_factor", "phi3.attention.sliding_window", NULL };
	round_trip(&m, "phi3", names);
	char gguf[600];
	snprintf(gguf, sizeof gguf, "%s/phi3.gguf", scratch());
	/* llama.cpp's phi3 has no ffn_gate and no separate q/k/v */
	ck_assert(!file_has(gguf, "ffn_gate") && !file_has(gguf, "attn_q.weight"));
	struct pb_model *g = must_load(gguf, NULL);
	ck_assert_float_eq_tol(pb_model_arch_params(g)->rope_attn_factor, (float)sqrt(1 + log(8.0) / log(8.0)), 1e-7f);
	ck_assert_int_eq(pb_model_arch_params(g)->rope_orig_ctx, 8);
	ck_assert_int_eq(pb_model_arch_params(g)->sliding_window, 4096);   /* kept, not run */
	pb_model_free(g);

	/* held apart, as views of the stored matrix: k starts q rows in */
	m.orig = 16;
	build(&m);
	const char *dir = write_folder(&m, "phi3s");
	struct pb_model *pm = must_load(dir, NULL);
	const struct pb_tensor *k = tensor_named(pm, "blk.1.attn_k.weight");
	const struct pb_tensor *up = tensor_named(pm, "blk.1.ffn_up.weight");
	const struct w *qkv = NULL, *gu = NULL;
	for (int i = 0; i < m.n; i++) {
		qkv = strcmp(m.w[i].name, "model.layers.1.self_attn.qkv_proj.weight") ? qkv : &m.w[i];
		gu = strcmp(m.w[i].name, "model.layers.1.mlp.gate_up_proj.weight") ? gu : &m.w[i];
	}
	ck_assert(k && up && qkv && gu);
	ck_assert_int_eq(k->role, PB_ROLE_ATTN_K);
	ck_assert_int_eq(k->ne[1], 16);
	ck_assert(!memcmp(k->data, (const uint8_t *)qkv->enc + 32 * 32 * 2, k->nbytes));
	ck_assert_int_eq(up->ne[1], 48);
	ck_assert(!memcmp(up->data, (const uint8_t *)gu->enc + 48 * 32 * 2, up->nbytes));
	ck_assert_ptr_null(tensor_named(pm, "blk.1.attn_qkv.weight"));
	/* a run whose context stays within the original 16 takes the short
	 * factors, as transformers does for ten tokens */
	int32_t tok[NTOK];
	float *want = malloc((size_t)NTOK * 16 * 4), *got = malloc((size_t)NTOK * 16 * 4);
	for (int i = 0; i < NTOK; i++)
		tok[i] = (int32_t)((i * 7 + 3) % 16);
	hf_forward(&m, tok, NTOK, want);
	pm->hp.ctx = 16;
	logits_of(pm, tok, got);
	double mx = 0, worst = 0;
	for (int i = 0; i < NTOK * 16; i++) {
		mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
		worst = fabs(got[i] - want[i]) > worst ? fabs(got[i] - want[i]) : worst;
	}
	ck_assert_msg(worst <= 1e-4 * mx, "phi3 short: logits off transformers' by %g (max %g)", worst, mx);
	free(want);
	free(got);
	free_hfm(&m);
}
END_TEST

/* One decoder folder with config members overridden. */
static const char *folder(const char *name, const char *cls, const char *extra, int bias, int norms)
{
	struct hfm m = { .cls = cls, .dtype = "F32", .tied = 1, .bias = bias, .qk_norm = norms, .dim = 32,
			 .heads = 4, .kv = 2, .hd = 8, .ffn = 48, .layers = 1, .vocab = 16, .theta = 10000,
			 .eps = 1e-6, .phi3 = !strcmp(cls, "Phi3ForCausalLM") };
	char cfg[1024];
	build(&m);
	snprintf(cfg, sizeof cfg,
		 "{\"architectures\": [\"%s\"], \"hidden_size\": 32, \"intermediate_size\": 48,"
		 " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
		 " \"vocab_size\": 16, \"tie_word_embeddings\": true%s%s}", cls, extra ? ", " : "",
		 extra ? extra : "");
	const char *dir = hfx_dir(name, cfg);
	struct st_entry e[MAXW];
	for (int i = 0; i < m.n; i++)
		e[i] = (struct st_entry){ .name = m.w[i].name, .dtype = "F32", .nd = m.w[i].rows ? 2 : 1,
					  .shape = { m.w[i].rows ? m.w[i].rows : m.w[i].cols, m.w[i].cols },
					  .data = m.w[i].enc, .nbytes = m.w[i].nbytes };
	st_write(hfx_path(dir, "model.safetensors"), e, m.n, NULL);
	free_hfm(&m);
	return dir;
}

START_TEST(refused)
{
	must_fail(folder("swa", "Qwen2ForCausalLM", "\"use_sliding_window\": true", 1, 0), NULL, -1,
		  "use_sliding_window is not supported");
	must_fail(folder("yarn", "Qwen2ForCausalLM", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}", 1, 0),
		  NULL, -1, "rope_scaling type 'yarn' is not supported (plain RoPE only)");
	must_fail(folder("linear", "LlamaForCausalLM", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}",
			 0, 0), NULL, -1, "rope_scaling type 'linear' is not supported (llama3 only)");
	must_fail(folder("q3bias", "Qwen3ForCausalLM", "\"attention_bias\": true", 0, 1), NULL, -1,
		  "attention_bias is not supported");
	/* weights of another member of the family */
	must_fail(folder("q2norm", "Qwen2ForCausalLM", NULL, 1, 1), NULL, -1,
		  "not a Qwen2ForCausalLM weight this build knows");
	must_fail(folder("lbias", "LlamaForCausalLM", NULL, 1, 0), NULL, -1,
		  "not a LlamaForCausalLM weight this build knows");
	must_fail(folder("g3cap", "Gemma3ForCausalLM", "\"attn_logit_softcapping\": 50.0", 0, 1), NULL, -1,
		  "attn_logit_softcapping is not supported on gemma3");
	must_fail(folder("g3pat", "Gemma3ForCausalLM", "\"sliding_window_pattern\": 4", 0, 1), NULL, -1,
		  "sliding_window_pattern 4 is not supported");
	must_fail(folder("g3lin", "Gemma3ForCausalLM", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8}",
			 0, 1), NULL, -1, "rope_scaling is not supported on gemma3");
	must_fail(folder("g2types", "Gemma2ForCausalLM",
			 "\"layer_types\": [\"full_attention\"]", 0, 0), NULL, -1, "layer_types[0] is 'full_attention'");
	must_fail(folder("l3same", "LlamaForCausalLM",
			 "\"rope_scaling\": {\"rope_type\": \"llama3\", \"low_freq_factor\": 2, \"high_freq_factor\": 2}",
			 0, 0), NULL, -1, "low_freq_factor and high_freq_factor must differ");
	/* Phi-3 */
	must_fail(folder("p3prf", "Phi3ForCausalLM", "\"partial_rotary_factor\": 0.75", 0, 0), NULL, -1,
		  "partial_rotary_factor 0.75 is not supported");
	must_fail(folder("p3yarn", "Phi3ForCausalLM", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}", 0, 0),
		  NULL, -1, "rope_scaling type 'yarn' is not supported (phi3: longrope)");
	must_fail(folder("p3len", "Phi3ForCausalLM",
			 "\"original_max_position_embeddings\": 8, \"rope_scaling\": {\"type\": \"longrope\", "
			 "\"short_factor\": [1, 1], \"long_factor\": [1, 2, 3, 4]}", 0, 0), NULL, -1,
		  "rope_scaling.short_factor: expected a list of 4 positive numbers");
	must_fail(folder("p3orig", "Phi3ForCausalLM",
			 "\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1, 1, 1, 1], "
			 "\"long_factor\": [1, 2, 3, 4]}", 0, 0), NULL, -1,
		  "longrope needs original_max_position_embeddings");
	/* a fused qkv_proj whose rows are not q + 2 kv of the config's heads */
	must_fail(folder("p3rows", "Phi3ForCausalLM", "\"head_dim\": 4", 0, 0), NULL, -1,
		  "64 rows, expected q + 2 kv = 32");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hf-decoders");
	TCase *tc = tcase_create("folders");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, llama3_sharded);
	tcase_add_test(tc, qwen2_tied_bf16);
	tcase_add_test(tc, qwen3_head_dim_f16);
	tcase_add_test(tc, gemma2_f32);
	tcase_add_test(tc, gemma3_six_layers);
	tcase_add_test(tc, phi3_fused_longrope);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/lib/naive-decoder.c — the naive Llama-family forward
 * (naive-decoder.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "naive-decoder.h"
#include "model/modelio.h"

float naive_get(const struct pb_tensor *t, int64_t r, int64_t c)
{
	int64_t i = r * t->ne[0] + c;
	switch (t->dtype) {
	case PB_F32: return ((const float *)t->data)[i];
	case PB_F16: return pb_fp16_to_fp32(((const uint16_t *)t->data)[i]);
	case PB_BF16: return pb_bf16_to_fp32(((const uint16_t *)t->data)[i]);
	default: abort();   /* the tests hand only dense float formats */
	}
}

/* y = W x (+ bias) */
static void matvec(const struct pb_tensor *w, const struct pb_tensor *bias, const float *x, float *y)
{
	for (int64_t o = 0; o < w->ne[1]; o++) {
		double acc = bias ? naive_get(bias, 0, o) : 0.0;
		for (int64_t i = 0; i < w->ne[0]; i++)
			acc += (double)naive_get(w, o, i) * x[i];
		y[o] = (float)acc;
	}
}

static void rmsnorm(const struct pb_tensor *w, const float *x, float *y, int64_t n, float eps)
{
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	double k = 1.0 / sqrt(ss / (double)n + eps);
	for (int64_t i = 0; i < n; i++)
		y[i] = (float)(x[i] * k * naive_get(w, 0, i));
}

static int is_gemma(const struct pb_model *m)
{
	return m->arch == PB_ARCH_GEMMA2 || m->arch == PB_ARCH_GEMMA3;
}

/* Gemma's local layers, as Hugging Face decides them: Gemma 2's
 * `not bool(layer_idx % 2)`, Gemma 3's `bool((layer_idx + 1) % 6)`. */
static int sliding(const struct pb_model *m, int l)
{
	if (pb_model_arch_params(m)->sliding_window <= 0)
		return 0;
	if (m->arch == PB_ARCH_GEMMA2)
		return !(l % 2);
	return m->arch == PB_ARCH_GEMMA3 && (l + 1) % 6 != 0;
}

/* The frequency divisors: llama3's rope_freqs, or Phi-3's longrope
 * factors as llama.cpp picks them (long when the context is past the
 * original one), with their attention factor on cos and sin. */
static const struct pb_tensor *divisors(const struct pb_model *m, double *mscale)
{
	const struct pb_arch_params *ap = pb_model_arch_params(m);
	*mscale = 1.0;
	if (m->arch != PB_ARCH_PHI3)
		return pb_model_find(m, -1, PB_ROLE_ROPE_FREQS);
	if (ap->rope_attn_factor > 0)
		*mscale = ap->rope_attn_factor;
	const int orig = ap->rope_orig_ctx > 0 ? ap->rope_orig_ctx : m->hp.ctx;
	return pb_model_find(m, -1, m->hp.ctx > orig ? PB_ROLE_ROPE_FACTORS_LONG : PB_ROLE_ROPE_FACTORS_SHORT);
}

static void rope(const struct pb_model *m, float *v, int heads, int pos, double theta)
{
	const int hd = m->hp.head_dim, half = m->hp.rope_layout == PB_ROPE_HALF;
	double mscale;
	const struct pb_tensor *ff = divisors(m, &mscale);
	for (int h = 0; h < heads; h++)
		for (int i = 0; i < hd / 2; i++) {
			double f = pow(theta, -2.0 * i / hd);
			if (ff)
				f /= naive_get(ff, 0, i);
			double ang = pos * f, c = cos(ang) * mscale, s = sin(ang) * mscale;
			int a = h * hd + (half ? i : 2 * i), b = h * hd + (half ? i + hd / 2 : 2 * i + 1);
			double x0 = v[a], x1 = v[b];
			v[a] = (float)(x0 * c - x1 * s);
			v[b] = (float)(x0 * s + x1 * c);
		}
}

static float *copy_rows(const float *x, int64_t n)
{
	float *p = malloc((size_t)n * sizeof *p);
	memcpy(p, x, (size_t)n * sizeof *p);
	return p;
}

void naive_taps_free(struct naive_taps *tp)
{
	free(tp->attn_in);
	free(tp->o_in);
	free(tp->ffn_in);
	free(tp->down_in);
	memset(tp, 0, sizeof *tp);
}

void naive_dec_embed(const struct pb_model *m, const int32_t *tok, int n, float *x)
{
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	/* Gemma multiplies by √hidden (a float32 normalizer) */
	const float k = is_gemma(m) ? sqrtf((float)m->hp.dim) : 1.0f;
	for (int t = 0; t < n; t++)
		for (int i = 0; i < m->hp.dim; i++)
			x[(size_t)t * m->hp.dim + i] = naive_get(e, tok[t], i) * k;
}

static void attention(const struct pb_model *m, int l, float *x, int n, struct naive_taps *tp)
{
	const int dim = m->hp.dim, hd = m->hp.head_dim;
	const struct pb_tensor *wq = pb_model_find(m, l, PB_ROLE_ATTN_Q);
	const struct pb_tensor *wk = pb_model_find(m, l, PB_ROLE_ATTN_K);
	const struct pb_tensor *qn = pb_model_find(m, l, PB_ROLE_ATTN_Q_NORM);
	const struct pb_tensor *kn = pb_model_find(m, l, PB_ROLE_ATTN_K_NORM);
	const int nh = (int)(wq->ne[1] / hd), nkv = (int)(wk->ne[1] / hd);
	const int qw = nh * hd, kw = nkv * hd;
	const struct pb_arch_params *ap = pb_model_arch_params(m);
	const int slides = sliding(m, l);
	const double theta = slides && ap->rope_theta_swa > 0 ? ap->rope_theta_swa : m->hp.rope_theta;
	const double scale = ap->attn_scale > 0 ? ap->attn_scale : 1.0 / sqrt((double)hd);
	const double cap = ap->attn_softcap;
	const struct pb_tensor *post = pb_model_find(m, l, PB_ROLE_ATTN_POST_NORM);
	float *xn = calloc((size_t)n * dim, 4), *q = calloc((size_t)n * qw, 4);
	float *k = calloc((size_t)n * kw, 4), *v = calloc((size_t)n * kw, 4);
	float *att = calloc((size_t)n * qw, 4), *tmp = calloc((size_t)dim, 4);
	double *sc = calloc((size_t)n, sizeof *sc);
	for (int t = 0; t < n; t++) {
		float *qt = q + (size_t)t * qw, *kt = k + (size_t)t * kw;
		rmsnorm(pb_model_find(m, l, PB_ROLE_ATTN_NORM), x + (size_t)t * dim, xn + (size_t)t * dim,
			dim, m->hp.norm_eps);
		matvec(wq, pb_model_find(m, l, PB_ROLE_ATTN_Q_BIAS), xn + (size_t)t * dim, qt);
		matvec(wk, pb_model_find(m, l, PB_ROLE_ATTN_K_BIAS), xn + (size_t)t * dim, kt);
		matvec(pb_model_find(m, l, PB_ROLE_ATTN_V), pb_model_find(m, l, PB_ROLE_ATTN_V_BIAS),
		       xn + (size_t)t * dim, v + (size_t)t * kw);
		for (int h = 0; qn && h < nh; h++)
			rmsnorm(qn, qt + h * hd, qt + h * hd, hd, m->hp.norm_eps);
		for (int h = 0; kn && h < nkv; h++)
			rmsnorm(kn, kt + h * hd, kt + h * hd, hd, m->hp.norm_eps);
		rope(m, qt, nh, t, theta);
		rope(m, kt, nkv, t, theta);
	}
	for (int t = 0; t < n; t++)
		for (int h = 0; h < nh; h++) {
			const int kh = h / (nh / nkv);
			/* a sliding layer: only keys less than `window` back */
			const int j0 = slides && t - ap->sliding_window + 1 > 0 ? t - ap->sliding_window + 1 : 0;
			double mx = -1e300, sum = 0;
			for (int j = j0; j <= t; j++) {
				double d = 0;
				for (int i = 0; i < hd; i++)
					d += (double)q[(size_t)t * qw + h * hd + i] * k[(size_t)j * kw + kh * hd + i];
				sc[j] = d * scale;
				if (cap > 0)
					sc[j] = tanh(sc[j] / cap) * cap;
				mx = sc[j] > mx ? sc[j] : mx;
			}
			for (int j = j0; j <= t; j++)
				sum += sc[j] = exp(sc[j] - mx);
			for (int i = 0; i < hd; i++) {
				double a = 0;
				for (int j = j0; j <= t; j++)
					a += sc[j] / sum * v[(size_t)j * kw + kh * hd + i];
				att[(size_t)t * qw + h * hd + i] = (float)a;
			}
		}
	for (int t = 0; t < n; t++) {
		matvec(pb_model_find(m, l, PB_ROLE_ATTN_O), NULL, att + (size_t)t * qw, tmp);
		if (post)
			rmsnorm(post, tmp, tmp, dim, m->hp.norm_eps);
		for (int i = 0; i < dim; i++)
			x[(size_t)t * dim + i] += tmp[i];
	}
	if (tp) {
		tp->attn_in = copy_rows(xn, (int64_t)n * dim);
		tp->o_in = copy_rows(att, (int64_t)n * qw);
		tp->o_width = qw;
	}
	free(xn); free(q); free(k); free(v); free(att); free(tmp); free(sc);
}

static void ffn(const struct pb_model *m, int l, float *x, int n, struct naive_taps *tp)
{
	const int dim = m->hp.dim;
	const struct pb_tensor *wu = pb_model_find(m, l, PB_ROLE_FFN_UP);
	const struct pb_tensor *post = pb_model_find(m, l, PB_ROLE_FFN_POST_NORM);
	const int f = (int)wu->ne[1];
	float *xn = calloc((size_t)n * dim, 4), *g = calloc((size_t)n * f, 4);
	float *u = calloc((size_t)f, 4), *tmp = calloc((size_t)dim, 4);
	for (int t = 0; t < n; t++) {
		float *gt = g + (size_t)t * f;
		rmsnorm(pb_model_find(m, l, PB_ROLE_FFN_NORM), x + (size_t)t * dim, xn + (size_t)t * dim, dim,
			m->hp.norm_eps);
		matvec(pb_model_find(m, l, PB_ROLE_FFN_GATE), NULL, xn + (size_t)t * dim, gt);
		matvec(wu, NULL, xn + (size_t)t * dim, u);
		for (int i = 0; i < f; i++) {
			const double a = gt[i];
			/* Gemma: gelu_pytorch_tanh; the rest: SiLU */
			const double act = is_gemma(m) ? 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)))
						       : a / (1.0 + exp(-a));
			gt[i] = (float)(act * u[i]);
		}
		matvec(pb_model_find(m, l, PB_ROLE_FFN_DOWN), NULL, gt, tmp);
		if (post)
			rmsnorm(post, tmp, tmp, dim, m->hp.norm_eps);
		for (int i = 0; i < dim; i++)
			x[(size_t)t * dim + i] += tmp[i];
	}
	if (tp) {
		tp->ffn_in = copy_rows(xn, (int64_t)n * dim);
		tp->down_in = copy_rows(g, (int64_t)n * f);
		tp->down_width = f;
	}
	free(xn); free(g); free(u); free(tmp);
}

void naive_dec_block(const struct pb_model *m, int l, float *x, int n, struct naive_taps *tp)
{
	if (pb_model_find(m, l, PB_ROLE_ATTN_Q))
		attention(m, l, x, n, tp);
	if (pb_model_find(m, l, PB_ROLE_FFN_UP))
		ffn(m, l, x, n, tp);
}

void naive_dec_logits(const struct pb_model *m, const int32_t *tok, int n, float *logits)
{
	const int dim = m->hp.dim;
	float *x = malloc((size_t)n * dim * 4), *xn = malloc((size_t)dim * 4);
	const struct pb_tensor *out = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	if (!out)
		out = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	const double cap = pb_model_arch_params(m)->final_softcap;
	naive_dec_embed(m, tok, n, x);
	for (int l = 0; l < m->hp.n_layers; l++)
		naive_dec_block(m, l, x, n, NULL);
	for (int t = 0; t < n; t++) {
		float *lt = logits + (size_t)t * m->hp.vocab;
		rmsnorm(pb_model_find(m, -1, PB_ROLE_OUT_NORM), x + (size_t)t * dim, xn, dim, m->hp.norm_eps);
		matvec(out, NULL, xn, lt);
		for (int i = 0; cap > 0 && i < m->hp.vocab; i++)
			lt[i] = (float)(tanh(lt[i] / cap) * cap);
	}
	free(x);
	free(xn);
}

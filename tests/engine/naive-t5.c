/* tests/engine/naive-t5.c — the naive T5 test-t5.c checks the op lists
 * against: the encoder, and the decoder recomputed from scratch over all
 * its rows, written from the T5 paper and HF's modeling_t5 with nothing
 * shared with core/arch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/ops.h>

#include "naive-t5.h"

/* Bucket of relative position rel (key - query), found by counting the
 * log-spaced thresholds a distance has passed rather than by HF's closed
 * form: bucket exact + k starts at exact * (max_distance / exact)^(k / (half - exact)). */
int naive_bucket(int rel, int bidirectional, int n_buckets, int max_distance)
{
	int half = bidirectional ? n_buckets / 2 : n_buckets;
	int base = bidirectional && rel > 0 ? half : 0;
	int d = bidirectional ? abs(rel) : (rel < 0 ? -rel : 0);
	int exact = half / 2, k = 0;
	if (d < exact)
		return base + d;
	while (exact + k + 1 < half) {
		double thr = exact * pow((double)max_distance / exact, (double)(k + 1) / (half - exact));
		if (d < thr * (1 - 1e-9))
			break;
		k++;
	}
	return base + exact + k;
}

static const struct pb_tensor *W(const struct pb_model *m, enum pb_stack st, int l, enum pb_role r)
{
	return pb_model_find_in(m, st, l, r);
}

static float at2(const struct pb_tensor *t, int64_t r, int64_t c)
{
	return ((const float *)t->data)[r * t->ne[0] + c];
}

static void matvec(const struct pb_tensor *w, const float *x, float *y)
{
	for (int64_t o = 0; o < w->ne[1]; o++) {
		double acc = 0;
		for (int64_t i = 0; i < w->ne[0]; i++)
			acc += (double)at2(w, o, i) * x[i];
		y[o] = (float)acc;
	}
}

static void norm(const struct pb_tensor *w, const float *x, float *y, int dim, float eps)
{
	double ss = 0;
	for (int i = 0; i < dim; i++)
		ss += (double)x[i] * x[i];
	double k = 1.0 / sqrt(ss / dim + eps);
	for (int i = 0; i < dim; i++)
		y[i] = (float)(x[i] * k * at2(w, 0, i));
}

static double act(int fn, double x)
{
	if (fn == PB_ACT_RELU)
		return x > 0 ? x : 0;
	if (fn == PB_ACT_GELU)
		return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
	return x / (1 + exp(-x));
}

#define BIG 4096

/* softmax(q·k + bias) · v for one head of one query over keys 0..last */
static void attend(const float *q, const float *K, const float *V, int kstride, int last,
		   const float *bias, int hd, float *out)
{
	double sc[BIG], mx = -1e300, sum = 0;
	for (int j = 0; j <= last; j++) {
		double d = 0;
		for (int i = 0; i < hd; i++)
			d += (double)q[i] * K[j * kstride + i];
		sc[j] = d + (bias ? bias[j] : 0);
		mx = sc[j] > mx ? sc[j] : mx;
	}
	for (int j = 0; j <= last; j++)
		sum += sc[j] = exp(sc[j] - mx);
	for (int i = 0; i < hd; i++) {
		double a = 0;
		for (int j = 0; j <= last; j++)
			a += sc[j] / sum * V[j * kstride + i];
		out[i] = (float)a;
	}
}

/* One stack over rows x[n × dim], in place (enc: the encoder output for
 * the decoder's cross-attention). */
static void naive_stack(const struct pb_model *m, enum pb_stack st, float *x, int n,
			const float *enc, int n_src)
{
	const struct pb_hparams *hp = &m->hp;
	const int dim = hp->dim, hd = hp->head_dim, dec = st == PB_STACK_DECODER;
	const int nl = dec ? hp->n_layers : hp->n_enc_layers;
	float *xn = calloc((size_t)n * dim, 4), *tmp = calloc(BIG, 4), *Q = calloc((size_t)n * BIG, 4);
	float *K = calloc((size_t)(n > n_src ? n : n_src) * BIG, 4);
	float *V = calloc((size_t)(n > n_src ? n : n_src) * BIG, 4);
	float *att = calloc(BIG, 4), *g = calloc(BIG, 4), *u = calloc(BIG, 4), *bias = calloc(BIG, 4);
	for (int l = 0; l < nl; l++) {
		const struct pb_tensor *wq = W(m, st, l, PB_ROLE_ATTN_Q);
		if (wq) {
			const struct pb_tensor *wk = W(m, st, l, PB_ROLE_ATTN_K);
			const struct pb_tensor *rel = W(m, st, l, PB_ROLE_ATTN_REL_BIAS);
			if (!rel)
				rel = W(m, st, 0, PB_ROLE_ATTN_REL_BIAS);
			int nh = (int)(wq->ne[1] / hd), nkv = (int)(wk->ne[1] / hd);
			for (int t = 0; t < n; t++) {
				norm(W(m, st, l, PB_ROLE_ATTN_NORM), x + t * dim, xn + t * dim, dim, hp->norm_eps);
				matvec(wq, xn + t * dim, Q + t * BIG);
				matvec(wk, xn + t * dim, K + t * BIG);
				matvec(W(m, st, l, PB_ROLE_ATTN_V), xn + t * dim, V + t * BIG);
			}
			for (int t = 0; t < n; t++) {
				for (int h = 0; h < nh; h++) {
					int kh = h / (nh / nkv), last = dec ? t : n - 1;
					for (int j = 0; j <= last; j++)
						bias[j] = at2(rel, naive_bucket(j - t, !dec, hp->rel_buckets,
										hp->rel_max_distance), h);
					attend(Q + t * BIG + h * hd, K + kh * hd, V + kh * hd, BIG, last, bias, hd,
					       att + h * hd);
				}
				/* row t of xn has given its q, k, v: it takes the
				 * output, added once every row has attended */
				matvec(W(m, st, l, PB_ROLE_ATTN_O), att, xn + t * dim);
			}
			for (int t = 0; t < n * dim; t++)
				x[t] += xn[t];
		}
		const struct pb_tensor *cq = W(m, st, l, PB_ROLE_CROSS_Q);
		if (dec && cq) {
			const struct pb_tensor *ck = W(m, st, l, PB_ROLE_CROSS_K);
			int nh = (int)(cq->ne[1] / hd), nkv = (int)(ck->ne[1] / hd);
			for (int j = 0; j < n_src; j++) {
				matvec(ck, enc + j * dim, K + j * BIG);
				matvec(W(m, st, l, PB_ROLE_CROSS_V), enc + j * dim, V + j * BIG);
			}
			for (int t = 0; t < n; t++) {
				norm(W(m, st, l, PB_ROLE_CROSS_NORM), x + t * dim, xn, dim, hp->norm_eps);
				matvec(cq, xn, Q);
				for (int h = 0; h < nh; h++)
					attend(Q + h * hd, K + h / (nh / nkv) * hd, V + h / (nh / nkv) * hd, BIG,
					       n_src - 1, NULL, hd, att + h * hd);
				matvec(W(m, st, l, PB_ROLE_CROSS_O), att, tmp);
				for (int i = 0; i < dim; i++)
					x[t * dim + i] += tmp[i];
			}
		}
		const struct pb_tensor *up = W(m, st, l, PB_ROLE_FFN_UP);
		if (up) {
			const struct pb_tensor *gate = W(m, st, l, PB_ROLE_FFN_GATE);
			for (int t = 0; t < n; t++) {
				norm(W(m, st, l, PB_ROLE_FFN_NORM), x + t * dim, xn, dim, hp->norm_eps);
				matvec(up, xn, u);
				if (gate)
					matvec(gate, xn, g);
				for (int64_t i = 0; i < up->ne[1]; i++)
					u[i] = (float)(gate ? act(hp->ffn_act, g[i]) * u[i] : act(hp->ffn_act, u[i]));
				matvec(W(m, st, l, PB_ROLE_FFN_DOWN), u, tmp);
				for (int i = 0; i < dim; i++)
					x[t * dim + i] += tmp[i];
			}
		}
	}
	free(xn); free(tmp); free(Q); free(K); free(V); free(att); free(g); free(u); free(bias);
}

static float *embed(const struct pb_model *m, const int32_t *tok, int n)
{
	const struct pb_tensor *e = W(m, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	float *x = malloc((size_t)n * m->hp.dim * 4);
	for (int t = 0; t < n; t++)
		for (int i = 0; i < m->hp.dim; i++)
			x[t * m->hp.dim + i] = at2(e, tok[t], i);
	return x;
}

/* The final encoder output [n × dim], malloc'd. */
float *naive_encode(const struct pb_model *m, const int32_t *src, int n)
{
	float *x = embed(m, src, n), *y = malloc((size_t)n * m->hp.dim * 4);
	naive_stack(m, PB_STACK_ENCODER, x, n, NULL, 0);
	for (int t = 0; t < n; t++)
		norm(W(m, PB_STACK_ENCODER, -1, PB_ROLE_OUT_NORM), x + t * m->hp.dim,
		     y + t * m->hp.dim, m->hp.dim, m->hp.norm_eps);
	free(x);
	return y;
}

/* Logits of every row of the decoder over tgt[0..n), from scratch. */
void naive_decode(const struct pb_model *m, const float *enc, int n_src, const int32_t *tgt,
			 int n, float *logits)
{
	const int dim = m->hp.dim;
	const struct pb_tensor *out = W(m, PB_STACK_DECODER, -1, PB_ROLE_OUTPUT);
	float *x = embed(m, tgt, n), *xn = malloc((size_t)dim * 4);
	naive_stack(m, PB_STACK_DECODER, x, n, enc, n_src);
	for (int t = 0; t < n; t++) {
		norm(W(m, PB_STACK_DECODER, -1, PB_ROLE_OUT_NORM), x + t * dim, xn, dim, m->hp.norm_eps);
		for (int i = 0; i < dim && m->hp.logit_scale != 0; i++)
			xn[i] *= m->hp.logit_scale;
		matvec(out ? out : W(m, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD), xn,
		       logits + (size_t)t * m->hp.vocab);
	}
	free(x);
	free(xn);
}


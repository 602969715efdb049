/* tests/calib/test-calib.c — the calibration engine (core/run/calib.c)
 * on tiny synthetic models, the ref backend linked in: per-linear Σx²
 * and XᵀX against a naive block forward written here with plain loops;
 * the sequential scheme (edits of block l feed block l + 1, an earlier
 * block restarts from the embeddings); block influence against a naive
 * cosine; a fake pruner that calibrates through the handle; T5's stacks;
 * token windows and option sizes; the errors. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref-rig.h"
#include "../engine/naive-t5.h"
#include "model/modelio.h"
#include "run/calib.h"
#include "text/text.h"
#include "util/util.h"

#define NSEQ 3
#define SEQLEN 12

/* ---- a naive llama block ---- */

static float wget(const struct pb_tensor *t, int64_t r, int64_t c)
{
	return ((const float *)t->data)[r * t->ne[0] + c];
}

static void matvec(const struct pb_tensor *w, const float *x, float *y)
{
	for (int64_t o = 0; o < w->ne[1]; o++) {
		double acc = 0;
		for (int64_t i = 0; i < w->ne[0]; i++)
			acc += (double)wget(w, o, i) * x[i];
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
		y[i] = (float)(x[i] * k * wget(w, 0, i));
}

static void rotate(float *v, int n_heads, int hd, int pos, float theta)
{
	for (int h = 0; h < n_heads; h++)
		for (int i = 0; i < hd; i += 2) {
			double f = pos / pow(theta, (double)i / hd);
			double a = v[h * hd + i], b = v[h * hd + i + 1];
			v[h * hd + i] = (float)(a * cos(f) - b * sin(f));
			v[h * hd + i + 1] = (float)(a * sin(f) + b * cos(f));
		}
}

/* The inputs of the linears of one block, n rows each. */
struct taps {
	float *attn_in, *o_in, *ffn_in, *down_in;
};

static void taps_free(struct taps *t)
{
	free(t->attn_in);
	free(t->o_in);
	free(t->ffn_in);
	free(t->down_in);
}

/* Block l over x (n rows at positions 0..n-1) in place; taps when asked. */
static void naive_block(const struct pb_model *m, int l, float *x, int n, struct taps *tp)
{
	const int dim = m->hp.dim, hd = m->hp.head_dim;
	const struct pb_tensor *wq = pb_model_find(m, l, PB_ROLE_ATTN_Q);
	const struct pb_tensor *wk = pb_model_find(m, l, PB_ROLE_ATTN_K);
	const struct pb_tensor *wu = pb_model_find(m, l, PB_ROLE_FFN_UP);
	const int nh = (int)(wq->ne[1] / hd), nkv = (int)(wk->ne[1] / hd), f = (int)wu->ne[1];
	const int qw = nh * hd, kw = nkv * hd;
	float *xn = calloc((size_t)n * dim, 4), *q = calloc((size_t)n * qw, 4);
	float *k = calloc((size_t)n * kw, 4), *v = calloc((size_t)n * kw, 4);
	float *att = calloc((size_t)n * qw, 4), *tmp = calloc((size_t)dim, 4);
	float *g = calloc((size_t)n * f, 4), *u = calloc((size_t)f, 4);
	double *sc = calloc((size_t)n, sizeof *sc);

	for (int t = 0; t < n; t++) {
		norm(pb_model_find(m, l, PB_ROLE_ATTN_NORM), x + t * dim, xn + t * dim, dim, m->hp.norm_eps);
		matvec(wq, xn + t * dim, q + t * qw);
		matvec(wk, xn + t * dim, k + t * kw);
		matvec(pb_model_find(m, l, PB_ROLE_ATTN_V), xn + t * dim, v + t * kw);
		rotate(q + t * qw, nh, hd, t, m->hp.rope_theta);
		rotate(k + t * kw, nkv, hd, t, m->hp.rope_theta);
	}
	for (int t = 0; t < n; t++)
		for (int h = 0; h < nh; h++) {
			int kh = h / (nh / nkv);
			double mx = -1e300, sum = 0;
			for (int j = 0; j <= t; j++) {
				double d = 0;
				for (int i = 0; i < hd; i++)
					d += (double)q[t * qw + h * hd + i] * k[j * kw + kh * hd + i];
				sc[j] = d / sqrt((double)hd);
				mx = sc[j] > mx ? sc[j] : mx;
			}
			for (int j = 0; j <= t; j++)
				sum += sc[j] = exp(sc[j] - mx);
			for (int i = 0; i < hd; i++) {
				double a = 0;
				for (int j = 0; j <= t; j++)
					a += sc[j] / sum * v[j * kw + kh * hd + i];
				att[t * qw + h * hd + i] = (float)a;
			}
		}
	if (tp) {
		tp->attn_in = malloc((size_t)n * dim * 4);
		memcpy(tp->attn_in, xn, (size_t)n * dim * 4);
		tp->o_in = malloc((size_t)n * qw * 4);
		memcpy(tp->o_in, att, (size_t)n * qw * 4);
	}
	for (int t = 0; t < n; t++) {
		matvec(pb_model_find(m, l, PB_ROLE_ATTN_O), att + t * qw, tmp);
		for (int i = 0; i < dim; i++)
			x[t * dim + i] += tmp[i];
		norm(pb_model_find(m, l, PB_ROLE_FFN_NORM), x + t * dim, xn + t * dim, dim, m->hp.norm_eps);
		matvec(pb_model_find(m, l, PB_ROLE_FFN_GATE), xn + t * dim, g + t * f);
		matvec(wu, xn + t * dim, u);
		for (int i = 0; i < f; i++) {
			double a = g[t * f + i];
			g[t * f + i] = (float)(a / (1.0 + exp(-a)) * u[i]);
		}
		matvec(pb_model_find(m, l, PB_ROLE_FFN_DOWN), g + t * f, tmp);
		for (int i = 0; i < dim; i++)
			x[t * dim + i] += tmp[i];
	}
	if (tp) {
		tp->ffn_in = malloc((size_t)n * dim * 4);
		memcpy(tp->ffn_in, xn, (size_t)n * dim * 4);
		tp->down_in = malloc((size_t)n * f * 4);
		memcpy(tp->down_in, g, (size_t)n * f * 4);
	}
	free(xn); free(q); free(k); free(v); free(att); free(tmp); free(g); free(u); free(sc);
}

static void naive_embed(const struct pb_model *m, const int32_t *tok, int n, float *x)
{
	const struct pb_tensor *e = pb_model_find_in(m, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	for (int t = 0; t < n; t++)
		for (int i = 0; i < m->hp.dim; i++)
			x[t * m->hp.dim + i] = wget(e, tok[t], i);
}

/* Naive statistics of one linear input over every window. */
struct want_stats {
	int64_t n_in, n_tokens;
	double *col_sq, *xtx;
};

static void want_add(struct want_stats *w, const float *x, int n, int64_t n_in)
{
	if (!w->col_sq) {
		w->n_in = n_in;
		w->col_sq = calloc((size_t)n_in, sizeof *w->col_sq);
		w->xtx = calloc((size_t)(n_in * n_in), sizeof *w->xtx);
	}
	for (int t = 0; t < n; t++)
		for (int64_t i = 0; i < n_in; i++) {
			w->col_sq[i] += (double)x[t * n_in + i] * x[t * n_in + i];
			for (int64_t j = 0; j < n_in; j++)
				w->xtx[i * n_in + j] += (double)x[t * n_in + i] * x[t * n_in + j];
		}
	w->n_tokens += n;
}

static void want_free(struct want_stats *w)
{
	free(w->col_sq);
	free(w->xtx);
	memset(w, 0, sizeof *w);
}

/* Largest |a − b| relative to the largest |b|. */
static double rel_err(const double *a, const double *b, int64_t n)
{
	double mx = 0, d = 0;
	for (int64_t i = 0; i < n; i++) {
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
		d = fabs(a[i] - b[i]) > d ? fabs(a[i] - b[i]) : d;
	}
	return mx > 0 ? d / mx : d;
}

/* ---- fixtures ---- */

static struct pb_model *tiny(uint64_t seed, int n_layers)
{
	struct pb_hparams hp = {
		.dim = 32, .n_layers = n_layers, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8,
		.ffn_dim = 48, .vocab = 300, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("tiny", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

static void windows(int32_t *tok, int n, int vocab, uint64_t seed)
{
	struct pb_rng r;
	pb_rng_seed(&r, seed);
	for (int i = 0; i < n; i++)
		tok[i] = 3 + (int32_t)(pb_rng_next(&r) % (uint64_t)(vocab - 3));
}

static int gathers;

static void on_gather(void *ctx, int active)
{
	(void)ctx;
	gathers += active;
}

static struct pb_calib *open_calib_threads(struct pb_model *m, const int32_t *tok, int n_seq,
					   int seqlen, int n_threads)
{
	struct pb_calib *c = NULL;
	char err[512];
	struct pb_calib_opts o = {
		.backend = &pb_plugin, .tokens = tok, .n_seq = n_seq, .seqlen = seqlen,
		.n_threads = n_threads, .on_gather = on_gather,
	};
	ck_assert_msg(pb_calib_open(m, &o, &c, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(c->n_sequences, n_seq);
	ck_assert_int_eq(c->seqlen, seqlen);
	return c;
}

static struct pb_calib *open_calib(struct pb_model *m, const int32_t *tok, int n_seq, int seqlen)
{
	return open_calib_threads(m, tok, n_seq, seqlen, 2);
}

/* Naive statistics of block `layer`: every window through blocks
 * 0..layer-1 of m, then the taps of block `layer`.  want[role] filled for
 * ATTN_Q (q/k/v), ATTN_O, FFN_GATE (gate/up), FFN_DOWN. */
static void naive_stats(const struct pb_model *m, const int32_t *tok, int layer,
			struct want_stats want[PB_ROLE_COUNT])
{
	const int dim = m->hp.dim;
	float *x = malloc((size_t)SEQLEN * dim * 4);
	for (int s = 0; s < NSEQ; s++) {
		struct taps tp = { 0 };
		naive_embed(m, tok + s * SEQLEN, SEQLEN, x);
		for (int l = 0; l < layer; l++)
			naive_block(m, l, x, SEQLEN, NULL);
		naive_block(m, layer, x, SEQLEN, &tp);
		const struct pb_tensor *o = pb_model_find(m, layer, PB_ROLE_ATTN_O);
		const struct pb_tensor *d = pb_model_find(m, layer, PB_ROLE_FFN_DOWN);
		want_add(&want[PB_ROLE_ATTN_Q], tp.attn_in, SEQLEN, dim);
		want_add(&want[PB_ROLE_ATTN_O], tp.o_in, SEQLEN, o->ne[0]);
		want_add(&want[PB_ROLE_FFN_GATE], tp.ffn_in, SEQLEN, dim);
		want_add(&want[PB_ROLE_FFN_DOWN], tp.down_in, SEQLEN, d->ne[0]);
		taps_free(&tp);
	}
	free(x);
}

static enum pb_role input_of(enum pb_role r)
{
	switch (r) {
	case PB_ROLE_ATTN_K: case PB_ROLE_ATTN_V: return PB_ROLE_ATTN_Q;
	case PB_ROLE_FFN_UP: return PB_ROLE_FFN_GATE;
	default: return r;
	}
}

/* The engine's statistics of a block equal the naive ones (1e-6). */
static double compare(const struct pb_model *m, const struct pb_linear_stats *st, int n,
		      struct want_stats want[PB_ROLE_COUNT], unsigned asked)
{
	double worst = 0;
	ck_assert_int_eq(n, 7);
	for (int i = 0; i < n; i++) {
		const struct pb_tensor *t = &m->tensors[st[i].tensor];
		const struct want_stats *w = &want[input_of(t->role)];
		ck_assert_msg(pb_role_is_linear(t->role), "%s is not a linear", t->name);
		ck_assert_int_eq(st[i].n_in, t->ne[0]);
		ck_assert_int_eq(st[i].n_in, w->n_in);
		ck_assert_int_eq(st[i].n_tokens, NSEQ * SEQLEN);
		ck_assert_int_eq(st[i].n_tokens, w->n_tokens);
		if (asked & PB_CALIB_COL_SQ) {
			double e = rel_err(st[i].col_sq, w->col_sq, w->n_in);
			ck_assert_msg(e < 1e-6, "%s: col_sq off by %g", t->name, e);
			worst = e > worst ? e : worst;
		} else {
			ck_assert_ptr_null(st[i].col_sq);
		}
		if (asked & PB_CALIB_XTX) {
			double e = rel_err(st[i].xtx, w->xtx, w->n_in * w->n_in);
			ck_assert_msg(e < 1e-6, "%s: xtx off by %g", t->name, e);
			worst = e > worst ? e : worst;
			for (int64_t r = 0; r < w->n_in; r++)   /* symmetric, both halves filled */
				for (int64_t c = 0; c < r; c++)
					ck_assert(st[i].xtx[r * w->n_in + c] == st[i].xtx[c * w->n_in + r]);
		} else {
			ck_assert_ptr_null(st[i].xtx);
		}
	}
	return worst;
}

static void wants_free(struct want_stats want[PB_ROLE_COUNT])
{
	for (int r = 0; r < PB_ROLE_COUNT; r++)
		want_free(&want[r]);
}

/* ---- tests ---- */

START_TEST(stats_layer0)
{
	struct pb_model *m = tiny(5, 2);
	int32_t tok[NSEQ * SEQLEN];
	struct want_stats want[PB_ROLE_COUNT] = { 0 };
	const struct pb_linear_stats *st;
	int n;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 1);
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);
	gathers = 0;
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	ck_assert_int_eq(gathers, 1);
	naive_stats(m, tok, 0, want);
	double e = compare(m, st, n, want, PB_CALIB_COL_SQ | PB_CALIB_XTX);
	fprintf(stderr, "layer 0: worst relative error %.3g\n", e);
	/* q, k, v share their input, and so their statistics */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (input_of(m->tensors[st[i].tensor].role) == input_of(m->tensors[st[j].tensor].role))
				ck_assert_ptr_eq(st[i].xtx, st[j].xtx);
	/* only what is asked */
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);
	compare(m, st, n, want, PB_CALIB_COL_SQ);
	wants_free(want);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* Zeroing weights of block 0 between calls changes block 1's inputs
 * exactly as a naive run of the edited model says; an earlier block
 * restarts from the embeddings. */
START_TEST(sequential)
{
	struct pb_model *m = tiny(6, 3);
	int32_t tok[NSEQ * SEQLEN];
	struct want_stats before[PB_ROLE_COUNT] = { 0 }, after[PB_ROLE_COUNT] = { 0 };
	const struct pb_linear_stats *st;
	int n;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 2);
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);
	naive_stats(m, tok, 1, before);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);

	/* the "pruner" edits block 0: half of o's rows and a third of down */
	struct pb_tensor *o = pb_model_find(m, 0, PB_ROLE_ATTN_O), *d = pb_model_find(m, 0, PB_ROLE_FFN_DOWN);
	memset(o->data, 0, o->nbytes / 2);
	memset(d->data, 0, d->nbytes / 3);
	naive_stats(m, tok, 1, after);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 1, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	compare(m, st, n, after, PB_CALIB_COL_SQ | PB_CALIB_XTX);
	/* and the edit mattered */
	ck_assert(rel_err(after[PB_ROLE_ATTN_Q].col_sq, before[PB_ROLE_ATTN_Q].col_sq, 32) > 1e-3);

	/* blocks 0 and 1 edited again; block 2 advances with both edits */
	struct pb_tensor *q1 = pb_model_find(m, 1, PB_ROLE_ATTN_V);
	memset(q1->data, 0, q1->nbytes / 2);
	wants_free(after);
	naive_stats(m, tok, 2, after);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 2, PB_CALIB_XTX, &st, &n), 0);
	compare(m, st, n, after, PB_CALIB_XTX);

	/* an earlier block: from the embeddings, the model as it is now */
	struct pb_tensor *q0 = pb_model_find(m, 0, PB_ROLE_ATTN_Q);
	memset(q0->data, 0, q0->nbytes / 4);
	wants_free(after);
	naive_stats(m, tok, 0, after);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	compare(m, st, n, after, PB_CALIB_COL_SQ | PB_CALIB_XTX);
	struct pb_tensor *g0 = pb_model_find(m, 0, PB_ROLE_FFN_GATE);
	memset(g0->data, 0, g0->nbytes / 2);
	wants_free(after);
	naive_stats(m, tok, 2, after);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 2, PB_CALIB_COL_SQ, &st, &n), 0);
	compare(m, st, n, after, PB_CALIB_COL_SQ);

	wants_free(before);
	wants_free(after);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* Structured pruning shrinks block 0's FFN between calls: the engine
 * follows the new shapes (the down projection's input narrows). */
START_TEST(shrunk_shapes)
{
	struct pb_model *m = tiny(7, 2);
	int32_t tok[NSEQ * SEQLEN];
	struct want_stats want[PB_ROLE_COUNT] = { 0 };
	const struct pb_linear_stats *st;
	int n;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 3);
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);
	/* keep the first 20 of 48 neurons */
	const int keep = 20, dim = m->hp.dim;
	enum pb_role rows[2] = { PB_ROLE_FFN_GATE, PB_ROLE_FFN_UP };
	for (int r = 0; r < 2; r++) {
		struct pb_tensor *t = pb_model_find(m, 0, rows[r]);
		float *old = malloc(t->nbytes);
		memcpy(old, t->data, t->nbytes);
		int64_t ne[PB_MAX_DIMS] = { dim, keep, 1, 1 };
		ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne, (size_t)dim * keep * 4), 0);
		memcpy(t->data, old, (size_t)dim * keep * 4);
		free(old);
	}
	struct pb_tensor *d = pb_model_find(m, 0, PB_ROLE_FFN_DOWN);
	float *old = malloc(d->nbytes);
	memcpy(old, d->data, d->nbytes);
	int64_t ne[PB_MAX_DIMS] = { keep, dim, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(d, PB_F32, ne, (size_t)dim * keep * 4), 0);
	for (int r = 0; r < dim; r++)
		memcpy((float *)d->data + r * keep, old + r * 48, (size_t)keep * 4);
	free(old);

	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 1, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	naive_stats(m, tok, 1, want);
	compare(m, st, n, want, PB_CALIB_COL_SQ | PB_CALIB_XTX);
	wants_free(want);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);
	for (int i = 0; i < n; i++)
		if (m->tensors[st[i].tensor].role == PB_ROLE_FFN_DOWN)
			ck_assert_int_eq(st[i].n_in, keep);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* Windows run on as many backend instances as threads; the sums are
 * accumulated in window order, so every thread count gives the same bits. */
START_TEST(same_bits)
{
	struct pb_model *m = tiny(14, 2);
	int32_t tok[NSEQ * SEQLEN];
	const struct pb_linear_stats *a, *b;
	double bi_a[2], bi_b[2];
	int na, nb;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 8);
	struct pb_calib *c1 = open_calib_threads(m, tok, NSEQ, SEQLEN, 1);
	struct pb_calib *c3 = open_calib_threads(m, tok, NSEQ, SEQLEN, 3);
	for (int l = 0; l < 2; l++) {
		ck_assert_int_eq(c1->block_stats(c1, PB_STACK_DECODER, l, PB_CALIB_COL_SQ | PB_CALIB_XTX, &a, &na), 0);
		ck_assert_int_eq(c3->block_stats(c3, PB_STACK_DECODER, l, PB_CALIB_COL_SQ | PB_CALIB_XTX, &b, &nb), 0);
		ck_assert_int_eq(na, nb);
		for (int i = 0; i < na; i++) {
			ck_assert_int_eq(a[i].tensor, b[i].tensor);
			ck_assert_mem_eq(a[i].col_sq, b[i].col_sq, (size_t)a[i].n_in * sizeof(double));
			ck_assert_mem_eq(a[i].xtx, b[i].xtx, (size_t)(a[i].n_in * a[i].n_in) * sizeof(double));
		}
	}
	ck_assert_int_eq(c1->block_influence(c1, PB_STACK_DECODER, bi_a, 2), 0);
	ck_assert_int_eq(c3->block_influence(c3, PB_STACK_DECODER, bi_b, 2), 0);
	ck_assert_mem_eq(bi_a, bi_b, sizeof bi_a);
	pb_calib_close(c1);
	pb_calib_close(c3);
	pb_model_free(m);
}
END_TEST

START_TEST(influence)
{
	struct pb_model *m = tiny(8, 3);
	int32_t tok[NSEQ * SEQLEN];
	double bi[3], want[3] = { 0 };
	const int dim = m->hp.dim;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 4);
	/* block 2 made nearly the identity: its influence must be the least */
	memset(pb_model_find(m, 2, PB_ROLE_ATTN_O)->data, 0, pb_model_find(m, 2, PB_ROLE_ATTN_O)->nbytes);
	memset(pb_model_find(m, 2, PB_ROLE_FFN_DOWN)->data, 0, pb_model_find(m, 2, PB_ROLE_FFN_DOWN)->nbytes);
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);
	ck_assert_int_eq(c->block_influence(c, PB_STACK_DECODER, bi, 3), 0);
	float *x = malloc((size_t)SEQLEN * dim * 4), *p = malloc((size_t)SEQLEN * dim * 4);
	for (int s = 0; s < NSEQ; s++) {
		naive_embed(m, tok + s * SEQLEN, SEQLEN, x);
		for (int l = 0; l < 3; l++) {
			memcpy(p, x, (size_t)SEQLEN * dim * 4);
			naive_block(m, l, x, SEQLEN, NULL);
			for (int t = 0; t < SEQLEN; t++) {
				double ab = 0, aa = 0, bb = 0;
				for (int i = 0; i < dim; i++) {
					ab += (double)p[t * dim + i] * x[t * dim + i];
					aa += (double)p[t * dim + i] * p[t * dim + i];
					bb += (double)x[t * dim + i] * x[t * dim + i];
				}
				want[l] += ab / sqrt(aa * bb);
			}
		}
	}
	for (int l = 0; l < 3; l++) {
		want[l] = 1 - want[l] / (NSEQ * SEQLEN);
		ck_assert_msg(fabs(bi[l] - want[l]) < 1e-6, "block %d: BI %.9f, naive %.9f", l, bi[l], want[l]);
	}
	ck_assert(bi[2] < 1e-9 && bi[0] > 1e-3 && bi[1] > 1e-3);
	/* a prefix of the blocks is fine; more blocks than exist is not */
	ck_assert_int_eq(c->block_influence(c, PB_STACK_DECODER, bi, 2), 0);
	ck_assert(fabs(bi[1] - want[1]) < 1e-6);
	ck_assert_int_eq(c->block_influence(c, PB_STACK_DECODER, bi, 4), -EINVAL);
	free(x);
	free(p);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* A pruner in the Wanda manner, as a plugin would be written: per block,
 * per row of each linear, zero the weight with the smallest |w|·‖x_j‖. */
static int fake_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		      struct pb_prune_target *targets)
{
	int *asked = state;
	for (int l = 0; l < m->hp.n_layers; l++) {
		const struct pb_linear_stats *st;
		int n, rc = calib->block_stats(calib, PB_STACK_DECODER, l, PB_CALIB_COL_SQ, &st, &n);
		if (rc < 0)
			return rc;
		(*asked)++;
		for (int i = 0; i < n; i++) {
			struct pb_tensor *t = &m->tensors[st[i].tensor];
			float *w = t->data;
			if (st[i].xtx || !st[i].col_sq || st[i].n_tokens != (int64_t)calib->n_sequences * calib->seqlen)
				return -EPROTO;
			for (int64_t r = 0; r < t->ne[1]; r++) {
				int64_t best = 0;
				for (int64_t j = 1; j < t->ne[0]; j++)
					if (fabs(w[r * t->ne[0] + j]) * sqrt(st[i].col_sq[j]) <
					    fabs(w[r * t->ne[0] + best]) * sqrt(st[i].col_sq[best]))
						best = j;
				w[r * t->ne[0] + best] = 0;
			}
			targets[st[i].tensor].sparsity = 1.0 / (double)t->ne[0];
		}
	}
	return 0;
}

START_TEST(fake_pruner)
{
	static const struct pb_pruner_ops ops = { .struct_size = sizeof(struct pb_pruner_ops), .apply = fake_apply, .calib = PB_CALIB_COL_SQ };
	struct pb_model *m = tiny(9, 2);
	int32_t tok[NSEQ * SEQLEN];
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 5);
	struct pb_prune_target *targets = calloc((size_t)m->n_tensors, sizeof *targets);
	int asked = 0;
	int64_t zeros_before = 0, zeros = 0, rows = 0;
	for (int i = 0; i < m->n_tensors; i++)
		zeros_before += pb_tensor_count_zeros(&m->tensors[i]);
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);
	ck_assert_int_eq(ops.apply(&asked, m, c, targets), 0);
	ck_assert_int_eq(asked, 2);
	for (int i = 0; i < m->n_tensors; i++) {
		zeros += pb_tensor_count_zeros(&m->tensors[i]);
		if (pb_role_is_linear(m->tensors[i].role) && m->tensors[i].layer >= 0) {
			rows += m->tensors[i].ne[1];
			ck_assert(targets[i].sparsity > 0);
		}
	}
	ck_assert_int_eq(zeros - zeros_before, rows);
	pb_calib_close(c);
	free(targets);
	pb_model_free(m);
}
END_TEST

START_TEST(errors)
{
	struct pb_model *m = tiny(10, 2);
	int32_t tok[NSEQ * 40];
	const struct pb_linear_stats *st;
	struct pb_calib *c = NULL;
	char err[512];
	int n;
	windows(tok, NSEQ * 40, m->hp.vocab, 6);
	struct pb_calib_opts o = { .backend = &pb_plugin, .tokens = tok, .n_seq = NSEQ, .seqlen = 40 };
	ck_assert_int_eq(pb_calib_open(m, &o, &c, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "exceed") && strstr(err, "context of 32"), "%s", err);
	o.seqlen = SEQLEN;
	tok[5] = 300;
	ck_assert_int_eq(pb_calib_open(m, &o, &c, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "vocabulary"), "%s", err);
	tok[5] = 7;
	c = open_calib(m, tok, NSEQ, SEQLEN);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 2, PB_CALIB_COL_SQ, &st, &n), -EINVAL);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, -1, PB_CALIB_COL_SQ, &st, &n), -EINVAL);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_ENCODER, 0, PB_CALIB_COL_SQ, &st, &n), -EINVAL);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, 1u << 7, &st, &n), -EINVAL);
	/* weights the ref backend cannot run fail the gathering, clearly */
	struct pb_tensor *q = pb_model_find(m, 0, PB_ROLE_ATTN_Q);
	q->dtype = PB_CSR;
	ck_assert_int_lt(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);
	q->dtype = PB_F32;
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 1, PB_CALIB_COL_SQ, &st, &n), 0);
	ck_assert_int_eq(n, 7);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* ---- T5: both stacks ---- */

static struct pb_model *tiny_t5(uint64_t seed)
{
	struct pb_hparams hp = {
		.dim = 32, .n_layers = 2, .n_enc_layers = 2, .n_heads = 4, .n_kv_heads = 4,
		.head_dim = 8, .ffn_dim = 48, .vocab = 300, .ctx = 32, .norm_eps = 1e-6f,
		.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0,
		.rel_buckets = 16, .rel_max_distance = 24, .ffn_act = PB_ACT_GELU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("tiny-t5", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

static const struct pb_linear_stats *find_stats(const struct pb_model *m,
						const struct pb_linear_stats *st, int n,
						enum pb_role role)
{
	for (int i = 0; i < n; i++)
		if (m->tensors[st[i].tensor].role == role)
			return &st[i];
	ck_abort_msg("no statistics for role %d", role);
	return NULL;
}

/* Block 0's q input of a stack: the normed embedding of its tokens. */
static void want_q0(const struct pb_model *m, enum pb_stack stack, const int32_t *tok,
		    struct want_stats *w)
{
	const int dim = m->hp.dim;
	const struct pb_tensor *e = pb_model_find_in(m, PB_STACK_DECODER, -1, PB_ROLE_TOK_EMBD);
	if (!e)
		e = pb_model_find_in(m, PB_STACK_ENCODER, -1, PB_ROLE_TOK_EMBD);
	float *x = malloc((size_t)dim * 4), *xn = malloc((size_t)dim * 4);
	for (int t = 0; t < NSEQ * SEQLEN; t++) {
		for (int i = 0; i < dim; i++)
			x[i] = wget(e, tok[t], i);
		norm(pb_model_find_in(m, stack, 0, PB_ROLE_ATTN_NORM), x, xn, dim, m->hp.norm_eps);
		want_add(w, xn, 1, dim);
	}
	free(x);
	free(xn);
}

START_TEST(t5_stacks)
{
	struct pb_model *m = tiny_t5(12);
	int32_t tok[NSEQ * SEQLEN], dec[NSEQ * SEQLEN];
	struct want_stats w = { 0 };
	const struct pb_linear_stats *st, *s;
	double bi[2];
	int n;
	windows(tok, NSEQ * SEQLEN, m->hp.vocab, 7);
	for (int i = 0; i < NSEQ; i++) {
		dec[i * SEQLEN] = 0;
		memcpy(dec + i * SEQLEN + 1, tok + i * SEQLEN, (SEQLEN - 1) * sizeof *dec);
	}
	struct pb_calib *c = open_calib(m, tok, NSEQ, SEQLEN);

	ck_assert_int_eq(c->block_stats(c, PB_STACK_ENCODER, 0, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	ck_assert_int_eq(n, 7);
	want_q0(m, PB_STACK_ENCODER, tok, &w);
	s = find_stats(m, st, n, PB_ROLE_ATTN_K);
	ck_assert(rel_err(s->xtx, w.xtx, 32 * 32) < 1e-6);
	want_free(&w);
	ck_assert_int_eq(c->block_stats(c, PB_STACK_ENCODER, 1, PB_CALIB_COL_SQ, &st, &n), 0);
	ck_assert_int_eq(n, 7);

	/* decoder block 1: cross K/V read the final encoder output */
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 1, PB_CALIB_COL_SQ | PB_CALIB_XTX, &st, &n), 0);
	ck_assert_int_eq(n, 11);
	for (int i = 0; i < NSEQ; i++) {
		float *enc = naive_encode(m, tok + i * SEQLEN, SEQLEN);
		want_add(&w, enc, SEQLEN, 32);
		free(enc);
	}
	s = find_stats(m, st, n, PB_ROLE_CROSS_V);
	ck_assert_msg(rel_err(s->col_sq, w.col_sq, 32) < 1e-6, "cross v col_sq: %g", rel_err(s->col_sq, w.col_sq, 32));
	ck_assert(rel_err(s->xtx, w.xtx, 32 * 32) < 1e-6);
	ck_assert_int_eq(s->n_tokens, NSEQ * SEQLEN);
	ck_assert_ptr_eq(s->xtx, find_stats(m, st, n, PB_ROLE_CROSS_K)->xtx);
	want_free(&w);

	/* decoder block 0 (a restart): q reads the normed decoder embedding */
	ck_assert_int_eq(c->block_stats(c, PB_STACK_DECODER, 0, PB_CALIB_COL_SQ, &st, &n), 0);
	want_q0(m, PB_STACK_DECODER, dec, &w);
	s = find_stats(m, st, n, PB_ROLE_ATTN_Q);
	ck_assert(rel_err(s->col_sq, w.col_sq, 32) < 1e-6);
	want_free(&w);

	ck_assert_int_eq(c->block_influence(c, PB_STACK_ENCODER, bi, 2), 0);
	ck_assert(bi[0] > 0 && bi[0] < 2 && bi[1] > 0 && bi[1] < 2);
	ck_assert_int_eq(c->block_influence(c, PB_STACK_DECODER, bi, 2), 0);
	ck_assert(bi[0] > 0 && bi[0] < 2 && bi[1] > 0 && bi[1] < 2);
	pb_calib_close(c);
	pb_model_free(m);
}
END_TEST

/* ---- windows and sizes ---- */

START_TEST(token_windows)
{
	struct pb_model *m = tiny(13, 1);
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	struct pb_sample recs[3] = {
		{ .input = "abcdefghij", .line = 1 },   /* byte-level: 10 tokens (+ BOS) */
		{ .input = "klmnopqrst", .line = 2 },
		{ .input = "uvwxyz0123", .line = 3 },
	};
	int32_t *w = NULL, want[33];
	char err[512];
	int k = 0;
	for (int r = 0; r < 3; r++)
		k += pb_tokenize(tok, recs[r].input, pb_tokenizer_add_bos(tok), want + k, 33 - k);
	ck_assert_int_eq(k, 33);
	/* from the start: the first 2 × 8 tokens of the concatenation */
	ck_assert_int_eq(pb_calib_windows(tok, recs, 3, 0, 2, 8, &w, err, sizeof err), 0);
	ck_assert_mem_eq(w, want, 16 * sizeof *w);
	free(w);
	/* from the end: the last 2 × 8 */
	ck_assert_int_eq(pb_calib_windows(tok, recs, 3, 1, 2, 8, &w, err, sizeof err), 0);
	ck_assert_mem_eq(w, want + 33 - 16, 16 * sizeof *w);
	free(w);
	ck_assert_int_eq(pb_calib_windows(tok, recs, 3, 1, 4, 9, &w, err, sizeof err), -ENOSPC);
	ck_assert_ptr_null(w);
	ck_assert_msg(strstr(err, "4 × 9 = 36 tokens") && strstr(err, "only 33"), "%s", err);

	/* a dataset: its calibration split, else the end of its records */
	struct pb_dataset ds = { .samples = recs, .n = 2, .calib = recs + 2, .n_calib = 1 };
	ck_assert_int_eq(pb_calib_dataset_tokens(&ds, tok, "d", 1, 11, &w, err, sizeof err), 0);
	ck_assert_mem_eq(w, want + 22, 11 * sizeof *w);
	free(w);
	ck_assert_int_eq(pb_calib_dataset_tokens(&ds, tok, "d", 2, 11, &w, err, sizeof err), -ENOSPC);
	ck_assert_msg(strstr(err, "dataset 'd'") && strstr(err, "calibration split"), "%s", err);
	ds.n_calib = 0;
	ck_assert_int_eq(pb_calib_dataset_tokens(&ds, tok, "d", 2, 11, &w, err, sizeof err), 0);
	ck_assert_mem_eq(w, want, 22 * sizeof *w);
	free(w);
	pb_model_free(m);
}
END_TEST

struct sized_config {
	double sparsity;
	int64_t nsamples, seqlen;
};

START_TEST(sizes)
{
	static const struct pb_option opts[] = {
		{ .key = "sparsity", .type = PB_OPT_DOUBLE, .offset = offsetof(struct sized_config, sparsity), .def = "0.5" },
		{ .key = "nsamples", .type = PB_OPT_INT, .offset = offsetof(struct sized_config, nsamples), .def = "0" },
		{ .key = "seqlen", .type = PB_OPT_INT, .offset = offsetof(struct sized_config, seqlen), .def = "0" },
		PB_OPTIONS_END,
	};
	const struct pb_plugin p = { .kind = PB_PRUNER, .name = "sized", .options = opts,
				     .config_size = sizeof(struct sized_config) };
	struct sized_config cfg = { 0.5, 0, 0 };
	int n, l;
	pb_calib_sizes(&p, &cfg, 16, 64, &n, &l);
	ck_assert(n == 16 && l == 64);
	cfg.nsamples = 8;
	cfg.seqlen = 256;
	pb_calib_sizes(&p, &cfg, 16, 64, &n, &l);
	ck_assert(n == 8 && l == 256);
	pb_calib_sizes(&p, &cfg, 0, 0, &n, &l);
	ck_assert(n == 8 && l == 256);
	pb_calib_sizes(NULL, NULL, 0, 0, &n, &l);
	ck_assert(n == 32 && l == 128);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stats_layer0);
	tcase_add_test(tc, sequential);
	tcase_add_test(tc, shrunk_shapes);
	tcase_add_test(tc, same_bits);
	tcase_add_test(tc, influence);
	tcase_add_test(tc, fake_pruner);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, t5_stacks);
	tcase_add_test(tc, token_windows);
	tcase_add_test(tc, sizes);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}

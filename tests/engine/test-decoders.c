/* tests/engine/test-decoders.c — the Llama-family op lists (core/arch/
 * llama.c) for llama with llama3 RoPE scaling, qwen2 (q/k/v biases),
 * qwen3 (per-head q/k norms, head_dim unlike dim / heads), gemma2 (√dim
 * embedding, GeGLU, post-norms, soft caps, sliding windows, its own
 * attention scale), gemma3 (q/k norms, local RoPE base) and phi3 (longrope:
 * short or long factors by the run's context, the attention factor; its
 * fused projections written as llama.cpp's phi3 reads them), run on the ref
 * backend (ref.c linked in) against the independent naive forward in
 * tests/lib/naive-decoder.c, for prefill and decode steps through the KV
 * cache, on the tiny presets, F16 weights and structurally pruned shapes;
 * the feature each test is about must move the logits (so the test would
 * see it missing); the real-shape presets' parameter counts; llama3's
 * frequency divisors; what a session refuses. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "naive-decoder.h"
#include "ref-rig.h"
#include "run/generate.h"
#include "text/text.h"

#define N_PROMPT 6
#define N_DECODE 5
#define N_ALL (N_PROMPT + N_DECODE)

static struct pb_model *preset(const char *name, uint64_t seed)
{
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth(name, seed, &m, err, sizeof err) == 0, "%s", err);
	/* a larger embedding than the presets' so that the tied logits are
	 * not tiny, and norm weights that are not all 1 */
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (t->role != PB_ROLE_ATTN_Q_NORM && t->role != PB_ROLE_ATTN_K_NORM &&
		    t->role != PB_ROLE_ATTN_POST_NORM && t->role != PB_ROLE_FFN_POST_NORM &&
		    t->role != PB_ROLE_ATTN_NORM && t->role != PB_ROLE_FFN_NORM)
			continue;
		pb_synth_fill(t, seed, 200 + (uint64_t)i, 0.3f);
		for (int64_t k = 0; k < t->ne[0]; k++)
			((float *)t->data)[k] += 1.0f;
	}
	return m;
}

static double max_rel(const float *a, const float *b, int64_t n, int64_t *at)
{
	double mx = 0, worst = 0;
	for (int64_t i = 0; i < n; i++)
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	for (int64_t i = 0; i < n; i++)
		if (fabs(a[i] - b[i]) > worst) {
			worst = fabs(a[i] - b[i]);
			if (at)
				*at = i;
		}
	return mx > 0 ? worst / mx : INFINITY;
}

static void assert_close(const float *a, const float *b, int n, const char *what)
{
	int64_t at = 0;
	double e = max_rel(a, b, n, &at);
	ck_assert_msg(e <= 1e-4, "%s: logit %lld: %g vs %g (relative error %g)", what, (long long)at,
		      a[at], b[at], e);
}

static void tokens(int32_t *t, int n, int vocab)
{
	for (int i = 0; i < n; i++)
		t[i] = (int32_t)((i * 37 + 5) % vocab);
}

/* The session's logits of a prefill of N_PROMPT tokens and N_DECODE
 * decode steps, as rows of all (N_ALL - N_PROMPT + 1 rows). */
static void session_rows(struct rig *r, const int32_t *toks, float *all)
{
	const int V = r->m->hp.vocab;
	ck_assert_int_eq(pb_session_forward(r->s, toks, N_PROMPT, 0, all), 0);
	for (int st = 0; st < N_DECODE; st++)
		ck_assert_int_eq(pb_session_forward(r->s, toks + N_PROMPT + st, 1, N_PROMPT + st,
						    all + (size_t)(st + 1) * V), 0);
}

/* Session vs naive on model m (owned); returns the session's rows. */
static float *check_model(struct pb_model *m, const char *what)
{
	const int V = m->hp.vocab;
	int32_t toks[N_ALL];
	float *naive = malloc((size_t)N_ALL * V * sizeof *naive);
	float *got = malloc((size_t)(N_DECODE + 1) * V * sizeof *got);
	char msg[96];
	tokens(toks, N_ALL, V);
	naive_dec_logits(m, toks, N_ALL, naive);
	struct rig r;
	rig_open(&r, m);
	session_rows(&r, toks, got);
	for (int st = 0; st <= N_DECODE; st++) {
		snprintf(msg, sizeof msg, "%s: %s %d", what, st ? "decode step" : "prefill", st);
		assert_close(got + (size_t)st * V, naive + (size_t)(N_PROMPT - 1 + st) * V, V, msg);
	}
	/* teacher forcing reads the same rows */
	float *all = malloc((size_t)N_ALL * V * sizeof *all);
	ck_assert_int_eq(pb_session_forward_all(r.s, toks, N_ALL, 0, all), 0);
	assert_close(all + (size_t)(N_ALL - 1) * V, naive + (size_t)(N_ALL - 1) * V, V, "forward_all");
	free(all);
	rig_close(&r);
	free(naive);
	return got;
}

/* The logits with and without the feature differ: the comparison above
 * would have seen the feature missing. */
static void assert_matters(const char *name, void (*remove)(struct pb_model *), const char *what)
{
	float *with = check_model(preset(name, 21), name);
	struct pb_model *m = preset(name, 21);
	remove(m);
	float *without = check_model(m, what);
	const int V = pb_synth_find(name)->hp.vocab;
	double d = max_rel(without, with, (int64_t)(N_DECODE + 1) * V, NULL);
	ck_assert_msg(d > 1e-2, "%s: %s moves the logits by only %g", name, what, d);
	free(with);
	free(without);
}

static void no_rope_freqs(struct pb_model *m)
{
	struct pb_tensor *t = pb_model_find(m, -1, PB_ROLE_ROPE_FREQS);
	ck_assert_ptr_nonnull(t);
	t->role = PB_ROLE_OTHER;
}

static void no_biases(struct pb_model *m)
{
	int n = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].role >= PB_ROLE_ATTN_Q_BIAS && m->tensors[i].role <= PB_ROLE_ATTN_V_BIAS) {
			m->tensors[i].role = PB_ROLE_OTHER;
			m->tensors[i].layer = -1;
			n++;
		}
	ck_assert_int_eq(n, 3 * m->hp.n_layers);
}

static void no_qk_norms(struct pb_model *m)
{
	int n = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].role == PB_ROLE_ATTN_Q_NORM || m->tensors[i].role == PB_ROLE_ATTN_K_NORM) {
			m->tensors[i].role = PB_ROLE_OTHER;
			m->tensors[i].layer = -1;
			n++;
		}
	ck_assert_int_eq(n, 2 * m->hp.n_layers);
}

static void no_softcaps(struct pb_model *m)
{
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	ck_assert(ap->attn_softcap > 0 && ap->final_softcap > 0);
	ap->attn_softcap = ap->final_softcap = 0;
}

static void no_attn_softcap(struct pb_model *m)
{
	pb_model_arch_params_mut(m)->attn_softcap = 0;
}

static void no_window(struct pb_model *m)
{
	struct pb_arch_params *ap = pb_model_arch_params_mut(m);
	ck_assert_int_gt(ap->sliding_window, 0);
	ap->sliding_window = 0;
}

static void no_local_base(struct pb_model *m)
{
	pb_model_arch_params_mut(m)->rope_theta_swa = 0;
}

static void no_post_norms(struct pb_model *m)
{
	int n = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].role == PB_ROLE_ATTN_POST_NORM || m->tensors[i].role == PB_ROLE_FFN_POST_NORM) {
			m->tensors[i].role = PB_ROLE_OTHER;
			m->tensors[i].layer = -1;
			n++;
		}
	ck_assert_int_eq(n, 2 * m->hp.n_layers);
}

static void no_attn_scale(struct pb_model *m)
{
	pb_model_arch_params_mut(m)->attn_scale = 0;   /* 1/√head_dim instead of 1/√24 */
}

static void short_context(struct pb_model *m)
{
	ck_assert_int_eq(m->hp.ctx, 256);
	ck_assert_int_eq(pb_model_arch_params(m)->rope_orig_ctx, 64);
	m->hp.ctx = 64;   /* within the original context: the short factors */
}

static void no_longrope(struct pb_model *m)
{
	for (int r = PB_ROLE_ROPE_FACTORS_SHORT; r <= PB_ROLE_ROPE_FACTORS_LONG; r++) {
		struct pb_tensor *t = pb_model_find(m, -1, (enum pb_role)r);
		ck_assert_ptr_nonnull(t);
		t->role = PB_ROLE_OTHER;
	}
}

static void no_attn_factor(struct pb_model *m)
{
	ck_assert_float_eq_tol(pb_model_arch_params(m)->rope_attn_factor, 1.1547005f, 1e-6f);
	pb_model_arch_params_mut(m)->rope_attn_factor = 0;
}

/* Phi-3: long factors at ctx 256 over an original 64, short ones at 64,
 * none, and the attention factor each move the logits, and each agrees
 * with the naive forward. */
START_TEST(phi3_longrope)
{
	assert_matters("tiny-phi3", short_context, "with the short factors (ctx within the original)");
	assert_matters("tiny-phi3", no_longrope, "without longrope factors");
	assert_matters("tiny-phi3", no_attn_factor, "without the attention factor");
	/* the short factors are not all 1 either */
	struct pb_model *a = preset("tiny-phi3", 21), *b = preset("tiny-phi3", 21);
	short_context(a);
	short_context(b);
	no_longrope(b);
	float *with = check_model(a, "phi3 short"), *without = check_model(b, "phi3 plain");
	const int V = pb_synth_find("tiny-phi3")->hp.vocab;
	ck_assert(max_rel(without, with, (int64_t)(N_DECODE + 1) * V, NULL) > 1e-2);
	free(with);
	free(without);
	/* the preset's attention factor is the converter's formula */
	ck_assert_float_eq_tol((float)pb_rope_longrope_mscale(256, 64), 1.1547005f, 1e-7f);
	ck_assert_float_eq_tol((float)pb_rope_longrope_mscale(131072, 4096), 1.1902381f, 1e-7f);
	ck_assert(pb_rope_longrope_mscale(4096, 4096) == 1.0);
}
END_TEST

static void reshape(struct pb_model *m, int layer, enum pb_role role, int64_t ne0, int64_t ne1);

/* A written phi3 GGUF holds llama.cpp's fused tensors: read back, q/k/v
 * and gate/up are views of one tensor each (contiguous rows), with the
 * same bits and logits; after head pruning q/k/v are written apart. */
static struct pb_model *gguf_again(const struct pb_model *m, char *path, size_t len)
{
	char err[512];
	struct pb_model *b = NULL;
	snprintf(path, len, "/tmp/pb-test-phi3-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(pb_gguf_write(m, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &b, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(b->arch, PB_ARCH_PHI3);
	return b;
}

static int contiguous(const struct pb_model *m, int l, enum pb_role a, enum pb_role b)
{
	const struct pb_tensor *x = pb_model_find(m, l, a), *y = pb_model_find(m, l, b);
	return (const uint8_t *)x->data + x->nbytes == y->data;
}

START_TEST(phi3_gguf_fused)
{
	char path[64];
	struct pb_model *m = preset("tiny-phi3", 8);
	struct pb_model *b = gguf_again(m, path, sizeof path);
	ck_assert_int_eq(b->n_tensors, m->n_tensors);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i], *u = pb_model_find(b, t->layer, t->role);
		ck_assert_msg(u && !strcmp(u->name, t->name) && u->nbytes == t->nbytes &&
			      !memcmp(u->data, t->data, t->nbytes), "%s differs", t->name);
	}
	for (int l = 0; l < 2; l++) {
		ck_assert(contiguous(b, l, PB_ROLE_ATTN_Q, PB_ROLE_ATTN_K));
		ck_assert(contiguous(b, l, PB_ROLE_ATTN_K, PB_ROLE_ATTN_V));
		ck_assert(contiguous(b, l, PB_ROLE_FFN_GATE, PB_ROLE_FFN_UP));
	}
	const struct pb_arch_params *ap = pb_model_arch_params(b);
	ck_assert_int_eq(ap->rope_orig_ctx, 64);
	ck_assert_float_eq(ap->rope_attn_factor, pb_model_arch_params(m)->rope_attn_factor);
	const int V = m->hp.vocab;
	/* check_model takes (and frees) the models */
	float *x = check_model(m, "phi3"), *y = check_model(b, "phi3 from GGUF");
	ck_assert(!memcmp(x, y, (size_t)(N_DECODE + 1) * V * sizeof *x));
	free(x);
	free(y);
	unlink(path);

	/* block 1 keeps 2 heads over 1 kv head: q/k/v go apart */
	m = preset("tiny-phi3", 8);
	const int D = m->hp.dim, hd = m->hp.head_dim;
	reshape(m, 1, PB_ROLE_ATTN_Q, D, 2 * hd);
	reshape(m, 1, PB_ROLE_ATTN_K, D, hd);
	reshape(m, 1, PB_ROLE_ATTN_V, D, hd);
	reshape(m, 1, PB_ROLE_ATTN_O, 2 * hd, D);
	b = gguf_again(m, path, sizeof path);
	ck_assert(contiguous(b, 0, PB_ROLE_ATTN_Q, PB_ROLE_ATTN_K));
	ck_assert_str_eq(pb_model_find(b, 1, PB_ROLE_ATTN_Q)->name, "blk.1.attn_q.weight");
	ck_assert_int_eq(pb_model_find(b, 1, PB_ROLE_ATTN_K)->ne[1], hd);
	x = check_model(m, "phi3 pruned");
	y = check_model(b, "phi3 pruned from GGUF");
	ck_assert(!memcmp(x, y, (size_t)(N_DECODE + 1) * V * sizeof *x));
	free(x);
	free(y);
	unlink(path);

	/* gate and up in two formats cannot be llama.cpp's one ffn_up */
	char err[512] = "";
	m = preset("tiny-phi3", 8);
	ck_assert_int_eq(pb_tensor_convert(pb_model_find(m, 0, PB_ROLE_FFN_GATE), PB_F16), 0);
	ck_assert_int_eq(pb_gguf_write(m, "/tmp/pb-test-phi3-never.gguf", err, sizeof err), -ENOTSUP);
	ck_assert_msg(strstr(err, "one ffn_up tensor"), "%s", err);
	ck_assert_int_ne(access("/tmp/pb-test-phi3-never.gguf", F_OK), 0);
	pb_model_free(m);
}
END_TEST

START_TEST(gemma2_features)
{
	assert_matters("tiny-gemma2", no_softcaps, "without soft caps");
	assert_matters("tiny-gemma2", no_attn_softcap, "without the attention soft cap");
	assert_matters("tiny-gemma2", no_window, "without the sliding window");
	assert_matters("tiny-gemma2", no_post_norms, "without post-norms");
	assert_matters("tiny-gemma2", no_attn_scale, "with 1/sqrt(head_dim)");
}
END_TEST

START_TEST(gemma3_features)
{
	assert_matters("tiny-gemma3", no_qk_norms, "without q/k norms");
	assert_matters("tiny-gemma3", no_window, "without the sliding window");
	assert_matters("tiny-gemma3", no_local_base, "without the local RoPE base");
}
END_TEST

START_TEST(llama3_rope_factors)
{
	assert_matters("tiny-llama3", no_rope_freqs, "without rope_freqs");
}
END_TEST

START_TEST(qwen2_biases)
{
	assert_matters("tiny-qwen2", no_biases, "without biases");
}
END_TEST

START_TEST(qwen3_qk_norms)
{
	struct pb_model *m = preset("tiny-qwen3", 3);
	ck_assert_int_eq(m->hp.head_dim, 128);   /* not 256 / 4 */
	ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_ATTN_Q)->ne[1], 4 * 128);
	ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_ATTN_O)->ne[0], 4 * 128);
	pb_model_free(m);
	assert_matters("tiny-qwen3", no_qk_norms, "without q/k norms");
}
END_TEST

/* Every linear of block 1 in F16, the biases and norms F32. */
START_TEST(f16_linears)
{
	static const char *const names[] = { "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma2",
					     "tiny-gemma3", "tiny-phi3" };
	for (int k = 0; k < 6; k++) {
		struct pb_model *m = preset(names[k], 12);
		for (int i = 0; i < m->n_tensors; i++) {
			struct pb_tensor *t = &m->tensors[i];
			if (t->layer != 1 || !pb_role_is_linear(t->role))
				continue;
			ck_assert_int_eq(pb_tensor_convert(t, PB_F16), 0);
		}
		free(check_model(m, names[k]));
	}
}
END_TEST

/* Replace a tensor with fresh random values of the shape [ne0 × ne1]. */
static void reshape(struct pb_model *m, int layer, enum pb_role role, int64_t ne0, int64_t ne1)
{
	struct pb_tensor *t = pb_model_find(m, layer, role);
	int64_t ne[4] = { ne0, ne1, 1, 1 };
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne, (size_t)(ne0 * ne1) * 4), 0);
	pb_synth_fill(t, 77, (uint64_t)(layer * 64 + role), ne1 == 1 ? 1.0f : 1.0f / sqrtf((float)ne0));
}

static void drop(struct pb_model *m, int layer, enum pb_role role)
{
	struct pb_tensor *t = pb_model_find(m, layer, role);
	ck_assert_ptr_nonnull(t);
	t->role = PB_ROLE_OTHER;
	t->layer = -1;
}

/* What structured pruning leaves: block 0 of a qwen2 with 2 heads over 1
 * KV head (biases shrunk with them), block 1 wider, a qwen3 whose block 1
 * lost its attention (norms included) and whose block 0 has 2 heads with
 * its norms untouched. */
START_TEST(pruned_shapes)
{
	struct pb_model *m = preset("tiny-qwen2", 13);
	const int hd = m->hp.head_dim, D = m->hp.dim;
	reshape(m, 0, PB_ROLE_ATTN_Q, D, 2 * hd);
	reshape(m, 0, PB_ROLE_ATTN_K, D, hd);
	reshape(m, 0, PB_ROLE_ATTN_V, D, hd);
	reshape(m, 0, PB_ROLE_ATTN_O, 2 * hd, D);
	reshape(m, 0, PB_ROLE_ATTN_Q_BIAS, 2 * hd, 1);
	reshape(m, 0, PB_ROLE_ATTN_K_BIAS, hd, 1);
	reshape(m, 0, PB_ROLE_ATTN_V_BIAS, hd, 1);
	reshape(m, 1, PB_ROLE_ATTN_Q, D, 6 * hd);
	reshape(m, 1, PB_ROLE_ATTN_K, D, 3 * hd);
	reshape(m, 1, PB_ROLE_ATTN_V, D, 3 * hd);
	reshape(m, 1, PB_ROLE_ATTN_O, 6 * hd, D);
	reshape(m, 1, PB_ROLE_ATTN_Q_BIAS, 6 * hd, 1);
	reshape(m, 1, PB_ROLE_ATTN_K_BIAS, 3 * hd, 1);
	reshape(m, 1, PB_ROLE_ATTN_V_BIAS, 3 * hd, 1);
	reshape(m, 1, PB_ROLE_FFN_GATE, D, 40);
	reshape(m, 1, PB_ROLE_FFN_UP, D, 40);
	reshape(m, 1, PB_ROLE_FFN_DOWN, 40, D);
	free(check_model(m, "qwen2 pruned"));

	m = preset("tiny-qwen3", 14);
	const int hd3 = m->hp.head_dim;
	reshape(m, 0, PB_ROLE_ATTN_Q, D, 2 * hd3);
	reshape(m, 0, PB_ROLE_ATTN_K, D, hd3);
	reshape(m, 0, PB_ROLE_ATTN_V, D, hd3);
	reshape(m, 0, PB_ROLE_ATTN_O, 2 * hd3, D);
	static const enum pb_role attn[] = { PB_ROLE_ATTN_NORM, PB_ROLE_ATTN_Q, PB_ROLE_ATTN_K,
					     PB_ROLE_ATTN_V, PB_ROLE_ATTN_O, PB_ROLE_ATTN_Q_NORM,
					     PB_ROLE_ATTN_K_NORM };
	for (size_t i = 0; i < sizeof attn / sizeof attn[0]; i++)
		drop(m, 1, attn[i]);
	free(check_model(m, "qwen3 pruned"));
}
END_TEST

START_TEST(graph_ops)
{
	struct rig r;
	int32_t t[4] = { 5, 6, 7, 8 };
	rig_open(&r, preset("tiny-qwen2", 1));
	const struct pb_graph *g = pb_session_graph(r.s, t, 4, 0);
	ck_assert_ptr_nonnull(g);
	int bias = 0, lin = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type == PB_OP_ADD_BIAS) {
			bias++;
			ck_assert_int_eq(r.m->tensors[op->weight].role, PB_ROLE_ATTN_Q_BIAS + (bias - 1) % 3);
			ck_assert_int_eq(op->p.add_bias.width, r.m->tensors[op->weight].ne[0]);
			/* right after the three projections, which stay together */
			ck_assert_int_eq(g->ops[i - 1 - (bias - 1) % 3].type, PB_OP_LINEAR);
			ck_assert_int_eq(g->ops[i - 3 - (bias - 1) % 3].type, PB_OP_LINEAR);
		}
		if (op->type == PB_OP_ROPE) {
			ck_assert_int_eq(op->p.rope.layout, PB_ROPE_HALF);
			ck_assert_int_eq(op->weight, -1);
		}
		lin += op->type == PB_OP_LINEAR;
	}
	ck_assert_int_eq(bias, 6);
	ck_assert_int_eq(lin, 2 * 7 + 1);
	ck_assert_int_eq(g->n_ops, 1 + 2 * (17 + 3) + 2);
	rig_close(&r);

	rig_open(&r, preset("tiny-qwen3", 1));
	g = pb_session_graph(r.s, t, 4, 0);
	int norms = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type == PB_OP_RMSNORM && op->p.rmsnorm.dim == 128) {
			int q = r.m->tensors[op->weight].role == PB_ROLE_ATTN_Q_NORM;
			norms++;
			/* every head of every row, in place */
			ck_assert_int_eq(op->n_tokens, 4 * (q ? 4 : 2));
			ck_assert_int_eq(op->src[0].stride, 128);
			ck_assert_int_eq(op->dst.buf, q ? PB_SESSION_Q : PB_SESSION_K);
			ck_assert_int_eq(op->src[0].buf, op->dst.buf);
			ck_assert_int_eq(g->ops[i + (q ? 2 : 1)].type, PB_OP_ROPE);
		}
	}
	ck_assert_int_eq(norms, 4);
	rig_close(&r);

	rig_open(&r, preset("tiny-llama3", 1));
	g = pb_session_graph(r.s, t, 4, 0);
	int ropes = 0;
	for (int i = 0; i < g->n_ops; i++)
		if (g->ops[i].type == PB_OP_ROPE) {
			ropes++;
			ck_assert_int_eq(r.m->tensors[g->ops[i].weight].role, PB_ROLE_ROPE_FREQS);
			ck_assert_int_eq(g->ops[i].p.rope.layout, PB_ROPE_INTERLEAVED);
		}
	ck_assert_int_eq(ropes, 4);
	rig_close(&r);

	/* Gemma 2: √dim embedding, a window on block 0 only, capped scores
	 * and logits, post-norms in place before each residual add */
	rig_open(&r, preset("tiny-gemma2", 1));
	g = pb_session_graph(r.s, t, 4, 0);
	ck_assert_float_eq(g->ops[0].p.embed.scale, 16.0f);
	int attn = 0, post = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type == PB_OP_ATTENTION) {
			ck_assert_int_eq(op->p.attention.window, attn == 0 ? 4 : 0);
			ck_assert_float_eq(op->p.attention.softcap, 4.0f);
			ck_assert_float_eq_tol(op->p.attention.scale, 0.20412415f, 1e-7f);
			attn++;
		}
		if (op->type == PB_OP_RMSNORM && op->weight >= 0 &&
		    (r.m->tensors[op->weight].role == PB_ROLE_ATTN_POST_NORM ||
		     r.m->tensors[op->weight].role == PB_ROLE_FFN_POST_NORM)) {
			post++;
			ck_assert_int_eq(op->dst.buf, op->src[0].buf);
			ck_assert_int_eq(g->ops[i + 1].type, PB_OP_ADD);
		}
		if (op->type == PB_OP_GLU)
			ck_assert_int_eq(op->p.glu.fn, PB_ACT_GELU);
	}
	ck_assert_int_eq(attn, 2);
	ck_assert_int_eq(post, 4);
	const struct pb_op *cap = &g->ops[g->n_ops - 1];
	ck_assert_int_eq(cap->type, PB_OP_ACT);
	ck_assert_int_eq(cap->p.act.fn, PB_ACT_SOFTCAP);
	ck_assert_float_eq(cap->p.act.cap, 6.0f);
	ck_assert_int_eq(cap->dst.buf, PB_SESSION_LOGITS);
	rig_close(&r);

	/* Gemma 3: blocks 0-4 slide with RoPE base 10000, block 5 attends to
	 * everything with 1e6; no caps */
	rig_open(&r, preset("tiny-gemma3", 1));
	g = pb_session_graph(r.s, t, 4, 0);
	attn = 0;
	float theta = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type == PB_OP_ROPE)
			theta = op->p.rope.theta;
		if (op->type == PB_OP_ATTENTION) {
			ck_assert_int_eq(op->p.attention.window, attn < 5 ? 4 : 0);
			ck_assert_float_eq(theta, attn < 5 ? 100.0f : 1000000.0f);
			ck_assert_float_eq(op->p.attention.softcap, 0.0f);
			attn++;
		}
	}
	ck_assert_int_eq(attn, 6);
	ck_assert_int_eq(g->ops[g->n_ops - 1].type, PB_OP_LINEAR);
	rig_close(&r);

	/* Phi-3: every RoPE op takes the long factors at ctx 256 (the short
	 * ones at 64) and the attention factor; q/k/v and gate/up stay
	 * consecutive linears on one input (one calibration tap each) */
	for (int ctx = 256; ctx >= 64; ctx -= 192) {
		struct pb_model *m = preset("tiny-phi3", 1);
		m->hp.ctx = ctx;
		rig_open(&r, m);
		g = pb_session_graph(r.s, t, 4, 0);
		ropes = 0;
		for (int i = 0; i < g->n_ops; i++) {
			const struct pb_op *op = &g->ops[i];
			if (op->type == PB_OP_ROPE) {
				ropes++;
				ck_assert_int_eq(r.m->tensors[op->weight].role,
						 ctx > 64 ? PB_ROLE_ROPE_FACTORS_LONG : PB_ROLE_ROPE_FACTORS_SHORT);
				ck_assert_float_eq_tol(op->p.rope.mscale, 1.1547005f, 1e-7f);
				ck_assert_int_eq(op->p.rope.layout, PB_ROPE_HALF);
			}
			if (op->type == PB_OP_LINEAR && r.m->tensors[op->weight].role == PB_ROLE_ATTN_Q) {
				ck_assert_int_eq(r.m->tensors[g->ops[i + 1].weight].role, PB_ROLE_ATTN_K);
				ck_assert_int_eq(r.m->tensors[g->ops[i + 2].weight].role, PB_ROLE_ATTN_V);
			}
		}
		ck_assert_int_eq(ropes, 4);
		rig_close(&r);
	}
}
END_TEST

static void must_refuse(struct pb_model *m, const char *needle)
{
	struct rig r;
	struct pb_session *s = NULL;
	char err[512] = "";
	int check_nan = 1;
	r.ops = pb_plugin.ops;
	ck_assert_int_eq(pb_plugin.init(&host, &check_nan, &r.state), 0);
	ck_assert_int_eq(r.ops->weights_load(r.state, m), 0);
	ck_assert_int_eq(pb_session_open(m, r.ops, r.state, &s, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, needle), "'%s' lacks '%s'", err, needle);
	pb_plugin.fini(r.state);
	pb_model_free(m);
}

START_TEST(session_refuses)
{
	/* a qwen2 carrying qwen3's norms: llama.cpp would not load it either */
	struct pb_model *m = preset("tiny-qwen3", 2);
	m->arch = PB_ARCH_QWEN2;
	must_refuse(m, "which a qwen2 model does not use");
	m = preset("tiny-llama3", 2);
	m->arch = PB_ARCH_QWEN3;
	must_refuse(m, "rope_freqs.weight, which a qwen3 model does not use");
	/* a bias that no longer matches its projection */
	m = preset("tiny-qwen2", 2);
	reshape(m, 1, PB_ROLE_ATTN_K_BIAS, 16, 1);
	must_refuse(m, "blk.1.attn_k.bias is F32 [16 × 1], expected F32 [128]");
	m = preset("tiny-qwen3", 2);
	reshape(m, 0, PB_ROLE_ATTN_Q_NORM, 16, 1);
	must_refuse(m, "blk.0.attn_q_norm.weight");
	m = preset("tiny-llama3", 2);
	reshape(m, -1, PB_ROLE_ROPE_FREQS, 4, 1);
	must_refuse(m, "rope_freqs.weight must be F32 [32]");
	/* a bias without its attention */
	m = preset("tiny-qwen2", 2);
	drop(m, 0, PB_ROLE_ATTN_NORM);
	drop(m, 0, PB_ROLE_ATTN_Q);
	drop(m, 0, PB_ROLE_ATTN_K);
	drop(m, 0, PB_ROLE_ATTN_V);
	drop(m, 0, PB_ROLE_ATTN_O);
	must_refuse(m, "has blk.0.attn_q.bias but no attention");
	/* longrope factors on a model that does not use them, or cut short */
	m = preset("tiny-phi3", 2);
	m->arch = PB_ARCH_LLAMA;
	must_refuse(m, "rope_factors_short.weight, which a llama model does not use");
	m = preset("tiny-phi3", 2);
	reshape(m, -1, PB_ROLE_ROPE_FACTORS_LONG, 4, 1);
	must_refuse(m, "rope_factors_long.weight must be F32 [32]");
}
END_TEST

/* The shapes of the real models, from the preset tables only (they are
 * never built here): parameters as Hugging Face counts them. */
START_TEST(real_shapes)
{
	static const struct { const char *name; enum pb_arch arch; int64_t params; int hd, rope3; } want[] = {
		{ "smollm2-135m", PB_ARCH_LLAMA, 134515008, 64, 0 },
		{ "llama-3.2-1b", PB_ARCH_LLAMA, 1235814400, 64, 1 },
		{ "qwen2.5-0.5b", PB_ARCH_QWEN2, 494032768, 64, 0 },
		{ "qwen3-0.6b", PB_ARCH_QWEN3, 596049920, 128, 0 },
		{ "gemma2-2b", PB_ARCH_GEMMA2, 2614341888, 256, 0 },
		{ "gemma3-1b", PB_ARCH_GEMMA3, 999885952, 256, 0 },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct pb_synth_preset *p = pb_synth_find(want[i].name);
		ck_assert_ptr_nonnull(p);
		const struct pb_hparams *h = &p->hp;
		const int64_t d = h->dim, q = (int64_t)h->n_heads * h->head_dim;
		const int64_t kv = (int64_t)h->n_kv_heads * h->head_dim;
		int64_t per = d * q + 2 * d * kv + q * d + 3 * d * h->ffn_dim + 2 * d;
		if (p->arch == PB_ARCH_QWEN2)
			per += q + 2 * kv;
		if (p->arch == PB_ARCH_QWEN3 || p->arch == PB_ARCH_GEMMA3)
			per += 2 * h->head_dim;
		if (p->arch == PB_ARCH_GEMMA2 || p->arch == PB_ARCH_GEMMA3)
			per += 2 * d;   /* post-norms */
		ck_assert_int_eq(p->arch, want[i].arch);
		ck_assert_int_eq(h->head_dim, want[i].hd);
		ck_assert_int_eq(p->untied, 0);
		ck_assert_int_eq(h->rope_layout, pb_arch_rope_layout(p->arch));
		ck_assert_int_eq((int64_t)h->vocab * d + h->n_layers * per + d, want[i].params);
		ck_assert_int_eq(p->rope3.original_ctx > 0, want[i].rope3);
	}
	const struct pb_synth_preset *g = pb_synth_find("gemma2-2b");
	ck_assert_float_eq(g->ap.attn_softcap, 50.0f);
	ck_assert_float_eq(g->ap.final_softcap, 30.0f);
	ck_assert_int_eq(g->ap.sliding_window, 4096);
	ck_assert_int_eq(g->hp.ffn_act, PB_ACT_GELU);
	g = pb_synth_find("gemma3-1b");
	ck_assert_int_eq(g->ap.sliding_window, 512);
	ck_assert_float_eq(g->ap.rope_theta_swa, 10000.0f);
	ck_assert_float_eq(g->hp.rope_theta, 1000000.0f);
	/* microsoft/Phi-3.5-mini-instruct: 3,821,079,552 parameters with its
	 * own lm_head; longrope from 4096 to 131072 positions */
	const struct pb_synth_preset *p = pb_synth_find("phi-3.5-mini");
	const int64_t d = p->hp.dim, per = 4 * d * d + 3 * d * p->hp.ffn_dim + 2 * d;
	ck_assert_int_eq(p->arch, PB_ARCH_PHI3);
	ck_assert_int_eq(p->untied, 1);
	ck_assert_int_eq(p->hp.head_dim, 96);
	ck_assert_int_eq(p->hp.rope_layout, PB_ROPE_HALF);
	ck_assert_int_eq(2 * (int64_t)p->hp.vocab * d + p->hp.n_layers * per + d, 3821079552);
	ck_assert_int_eq(p->ap.rope_orig_ctx, 4096);
	ck_assert_int_le(p->hp.ctx, 4096);   /* a run of the preset takes the short factors */
	const struct pb_synth_preset *l = pb_synth_find("llama-3.2-1b");
	ck_assert_float_eq(l->hp.rope_theta, 500000.0f);
	ck_assert_float_eq(l->rope3.factor, 32.0f);
	ck_assert_int_eq(l->rope3.original_ctx, 8192);
}
END_TEST

/* llama3's divisors: 1 for short wavelengths, `factor` for long ones, the
 * smooth blend between (checked in double), invalid parameters refused. */
START_TEST(llama3_divisors)
{
	const struct pb_rope_llama3 r = { .factor = 32, .low_freq_factor = 1, .high_freq_factor = 4,
					  .original_ctx = 8192 };
	float f[32];
	int smooth = 0;
	ck_assert_int_eq(pb_rope_llama3_factors(500000.0f, 64, &r, f), 0);
	ck_assert_float_eq(f[0], 1.0f);
	ck_assert_float_eq(f[31], 32.0f);
	for (int i = 0; i < 32; i++) {
		double freq = pow(500000.0, -2.0 * i / 64), wl = 2 * M_PI / freq, want;
		if (wl < 8192 / 4.0) {
			want = 1;
		} else if (wl > 8192 / 1.0) {
			want = 32;
		} else {
			double s = (8192 / wl - 1) / 3;
			want = 1 / ((1 - s) / 32 + s);
			smooth++;
		}
		ck_assert_msg(fabs(f[i] - want) <= 1e-5 * want, "pair %d: %g, want %g", i, f[i], want);
		if (i)
			ck_assert(f[i] >= f[i - 1]);
	}
	ck_assert_int_ge(smooth, 2);
	struct pb_rope_llama3 bad = r;
	bad.high_freq_factor = bad.low_freq_factor;
	ck_assert_int_eq(pb_rope_llama3_factors(500000.0f, 64, &bad, f), -EINVAL);
	ck_assert_int_eq(pb_rope_llama3_factors(500000.0f, 63, &r, f), -EINVAL);
	bad = r;
	bad.original_ctx = 0;
	ck_assert_int_eq(pb_rope_llama3_factors(500000.0f, 64, &bad, f), -EINVAL);
	/* the tiny preset's factors are all three kinds */
	struct pb_model *m = preset("tiny-llama3", 1);
	const float *t = pb_model_find(m, -1, PB_ROLE_ROPE_FREQS)->data;
	ck_assert_float_eq(t[0], 1.0f);
	ck_assert(t[3] > 1.0f && t[3] < 8.0f);
	ck_assert_float_eq(t[31], 8.0f);
	pb_model_free(m);
}
END_TEST

/* Greedy generation runs on every tiny preset. */
START_TEST(generate)
{
	static const char *const names[] = { "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma2",
					     "tiny-gemma3", "tiny-phi3" };
	for (int k = 0; k < 6; k++) {
		struct rig r;
		char err[512];
		rig_open(&r, preset(names[k], 4));
		struct pb_gen_request req = { .prompt = "Once upon a time", .max_new_tokens = 12, .add_bos = 1 };
		struct pb_gen_result res;
		ck_assert_msg(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err) == 0,
			      "%s: %s", names[k], err);
		ck_assert_int_eq(res.n_out, 12);
		pb_gen_result_free(&res);
		rig_close(&r);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decoders");
	TCase *tc = tcase_create("forward");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, llama3_rope_factors);
	tcase_add_test(tc, qwen2_biases);
	tcase_add_test(tc, qwen3_qk_norms);
	tcase_add_test(tc, gemma2_features);
	tcase_add_test(tc, gemma3_features);
	tcase_add_test(tc, phi3_longrope);
	tcase_add_test(tc, phi3_gguf_fused);
	tcase_add_test(tc, f16_linears);
	tcase_add_test(tc, pruned_shapes);
	tcase_add_test(tc, graph_ops);
	tcase_add_test(tc, session_refuses);
	tcase_add_test(tc, real_shapes);
	tcase_add_test(tc, llama3_divisors);
	tcase_add_test(tc, generate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

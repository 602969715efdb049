/* tests/engine/test-llama.c — the llama op lists run on the ref backend
 * (ref.c linked in) against an independent naive forward written here
 * with plain loops over the model's tensors, for prefill and for decode
 * steps through the KV cache, on dense, F16 and structurally pruned
 * models; then greedy generation and its timings. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref-rig.h"
#include "arch/arch.h"
#include "model/modelio.h"
#include "run/generate.h"
#include "text/text.h"
#include "util/util.h"


/* ---- the naive forward: one token at a time, plain loops ---- */

struct naive {
	const struct pb_model *m;
	float **kc, **vc;   /* per layer [ctx × n_kv_heads*head_dim] */
};

static float wget(const struct pb_tensor *t, int64_t r, int64_t c)
{
	int64_t i = r * t->ne[0] + c;
	return t->dtype == PB_F32 ? ((const float *)t->data)[i]
				  : pb_fp16_to_fp32(((const uint16_t *)t->data)[i]);
}

/* y[o] = sum_i W[o][i] x[i] */
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

static void naive_init(struct naive *nv, const struct pb_model *m)
{
	nv->m = m;
	nv->kc = calloc((size_t)m->hp.n_layers, sizeof *nv->kc);
	nv->vc = calloc((size_t)m->hp.n_layers, sizeof *nv->vc);
	for (int l = 0; l < m->hp.n_layers; l++) {
		nv->kc[l] = calloc((size_t)m->hp.ctx * 4096, sizeof(float));
		nv->vc[l] = calloc((size_t)m->hp.ctx * 4096, sizeof(float));
	}
}

static void naive_free(struct naive *nv)
{
	for (int l = 0; l < nv->m->hp.n_layers; l++) {
		free(nv->kc[l]);
		free(nv->vc[l]);
	}
	free(nv->kc);
	free(nv->vc);
}

static void naive_step(struct naive *nv, int token, int pos, float *logits)
{
	const struct pb_model *m = nv->m;
	const int dim = m->hp.dim, hd = m->hp.head_dim;
	float *x = calloc((size_t)dim, 4), *xn = calloc((size_t)dim, 4), *tmp = calloc((size_t)dim, 4);
	float *q = calloc(4096, 4), *k = calloc(4096, 4), *v = calloc(4096, 4), *att = calloc(4096, 4);
	float *g = calloc(8192, 4), *u = calloc(8192, 4);
	double *sc = calloc((size_t)m->hp.ctx, sizeof *sc);
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	for (int i = 0; i < dim; i++)
		x[i] = wget(e, token, i);
	for (int l = 0; l < m->hp.n_layers; l++) {
		const struct pb_tensor *wq = pb_model_find(m, l, PB_ROLE_ATTN_Q);
		if (wq) {
			const struct pb_tensor *wk = pb_model_find(m, l, PB_ROLE_ATTN_K);
			int nh = (int)(wq->ne[1] / hd), nkv = (int)(wk->ne[1] / hd);
			norm(pb_model_find(m, l, PB_ROLE_ATTN_NORM), x, xn, dim, m->hp.norm_eps);
			matvec(wq, xn, q);
			matvec(wk, xn, k);
			matvec(pb_model_find(m, l, PB_ROLE_ATTN_V), xn, v);
			rotate(q, nh, hd, pos, m->hp.rope_theta);
			rotate(k, nkv, hd, pos, m->hp.rope_theta);
			memcpy(nv->kc[l] + (size_t)pos * nkv * hd, k, (size_t)nkv * hd * 4);
			memcpy(nv->vc[l] + (size_t)pos * nkv * hd, v, (size_t)nkv * hd * 4);
			for (int h = 0; h < nh; h++) {
				int kh = h / (nh / nkv);
				double mx = -1e300, sum = 0;
				for (int j = 0; j <= pos; j++) {
					double d = 0;
					for (int i = 0; i < hd; i++)
						d += (double)q[h * hd + i] * nv->kc[l][(size_t)j * nkv * hd + kh * hd + i];
					sc[j] = d / sqrt((double)hd);
					if (sc[j] > mx)
						mx = sc[j];
				}
				for (int j = 0; j <= pos; j++)
					sum += sc[j] = exp(sc[j] - mx);
				for (int i = 0; i < hd; i++) {
					double a = 0;
					for (int j = 0; j <= pos; j++)
						a += sc[j] / sum * nv->vc[l][(size_t)j * nkv * hd + kh * hd + i];
					att[h * hd + i] = (float)a;
				}
			}
			matvec(pb_model_find(m, l, PB_ROLE_ATTN_O), att, tmp);
			for (int i = 0; i < dim; i++)
				x[i] += tmp[i];
		}
		const struct pb_tensor *wu = pb_model_find(m, l, PB_ROLE_FFN_UP);
		if (wu) {
			norm(pb_model_find(m, l, PB_ROLE_FFN_NORM), x, xn, dim, m->hp.norm_eps);
			matvec(pb_model_find(m, l, PB_ROLE_FFN_GATE), xn, g);
			matvec(wu, xn, u);
			for (int64_t i = 0; i < wu->ne[1]; i++)
				g[i] = (float)(g[i] / (1.0 + exp(-(double)g[i])) * u[i]);
			matvec(pb_model_find(m, l, PB_ROLE_FFN_DOWN), g, tmp);
			for (int i = 0; i < dim; i++)
				x[i] += tmp[i];
		}
	}
	norm(pb_model_find(m, -1, PB_ROLE_OUT_NORM), x, xn, dim, m->hp.norm_eps);
	matvec(pb_model_find(m, -1, PB_ROLE_OUTPUT), xn, logits);
	free(x); free(xn); free(tmp); free(q); free(k); free(v); free(att); free(g); free(u); free(sc);
}

static void assert_close(const float *a, const float *b, int n, const char *what)
{
	double mx = 0, worst = 0;
	int at = 0;
	for (int i = 0; i < n; i++)
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	for (int i = 0; i < n; i++)
		if (fabs(a[i] - b[i]) > worst) {
			worst = fabs(a[i] - b[i]);
			at = i;
		}
	ck_assert_msg(mx > 0, "%s: all-zero logits", what);
	ck_assert_msg(worst <= 1e-4 * mx, "%s: logit %d: %g vs %g (max |logit| %g)", what, at,
		      a[at], b[at], mx);
}

/* Prefill n_prompt tokens, then n_decode greedy steps, comparing logits. */
static void compare(struct rig *r, int n_prompt, int n_decode)
{
	const int vocab = r->m->hp.vocab;
	float *got = malloc((size_t)vocab * 4), *want = malloc((size_t)vocab * 4);
	int32_t toks[64];
	struct naive nv;
	char what[64];
	naive_init(&nv, r->m);
	for (int i = 0; i < n_prompt; i++)
		toks[i] = (int32_t)((i * 37 + 5) % vocab);
	ck_assert_int_eq(pb_session_forward(r->s, toks, n_prompt, 0, got), 0);
	for (int i = 0; i < n_prompt; i++)
		naive_step(&nv, toks[i], i, want);
	assert_close(got, want, vocab, "prefill");
	for (int st = 0; st < n_decode; st++) {
		int32_t t = (int32_t)((st * 101 + 7) % vocab);
		ck_assert_int_eq(pb_session_forward(r->s, &t, 1, n_prompt + st, got), 0);
		naive_step(&nv, t, n_prompt + st, want);
		snprintf(what, sizeof what, "decode step %d", st);
		assert_close(got, want, vocab, what);
	}
	naive_free(&nv);
	free(got);
	free(want);
}

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
	/* a larger embedding than the presets' so the tied logits are not tiny */
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

START_TEST(forward_tiny_gqa)
{
	struct rig r;
	rig_open(&r, tiny(11, 2));
	compare(&r, 6, 5);
	rig_close(&r);
}
END_TEST

START_TEST(forward_f16)
{
	struct pb_model *m = tiny(12, 2);
	/* every linear of block 1 in F16 */
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (t->layer != 1 || !pb_role_is_linear(t->role))
			continue;
		int64_t n = pb_tensor_nelements(t), ne[4] = { t->ne[0], t->ne[1], 1, 1 };
		float *old = malloc((size_t)n * 4);
		memcpy(old, t->data, (size_t)n * 4);
		ck_assert_int_eq(pb_tensor_realloc(t, PB_F16, ne, (size_t)n * 2), 0);
		for (int64_t k = 0; k < n; k++)
			((uint16_t *)t->data)[k] = pb_fp32_to_fp16(old[k]);
		free(old);
	}
	struct rig r;
	rig_open(&r, m);
	char kern[64];
	int q = (int)(pb_model_find(m, 1, PB_ROLE_ATTN_Q) - m->tensors);
	ck_assert_int_eq(r.ops->weight_kernel(r.state, q, kern, sizeof kern), 0);
	ck_assert_str_eq(kern, "F16 ref");
	compare(&r, 4, 3);
	rig_close(&r);
}
END_TEST

/* Replace a linear with a [ne0 × ne1] one of fresh random weights. */
static void reshape(struct pb_model *m, int layer, enum pb_role role, int64_t ne0, int64_t ne1)
{
	struct pb_tensor *t = pb_model_find(m, layer, role);
	int64_t ne[4] = { ne0, ne1, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne, (size_t)(ne0 * ne1) * 4), 0);
	pb_synth_fill(t, 77, (uint64_t)(layer * 16 + role), 1.0f / sqrtf((float)ne0));
}

static void drop(struct pb_model *m, int layer, enum pb_role role)
{
	struct pb_tensor *t = pb_model_find(m, layer, role);
	t->role = PB_ROLE_OTHER;
	t->layer = -1;
}

/* structured pruning: per-layer heads, kv heads and FFN widths differ,
 * block 2 lost its FFN and block 3 its attention */
START_TEST(forward_pruned_shapes)
{
	struct pb_model *m = tiny(13, 4);
	reshape(m, 0, PB_ROLE_ATTN_Q, 32, 2 * 8);    /* 2 heads, 1 kv head */
	reshape(m, 0, PB_ROLE_ATTN_K, 32, 1 * 8);
	reshape(m, 0, PB_ROLE_ATTN_V, 32, 1 * 8);
	reshape(m, 0, PB_ROLE_ATTN_O, 2 * 8, 32);
	reshape(m, 0, PB_ROLE_FFN_GATE, 32, 20);
	reshape(m, 0, PB_ROLE_FFN_UP, 32, 20);
	reshape(m, 0, PB_ROLE_FFN_DOWN, 20, 32);
	reshape(m, 1, PB_ROLE_ATTN_Q, 32, 6 * 8);    /* 6 heads over 3 kv heads: wider */
	reshape(m, 1, PB_ROLE_ATTN_K, 32, 3 * 8);
	reshape(m, 1, PB_ROLE_ATTN_V, 32, 3 * 8);
	reshape(m, 1, PB_ROLE_ATTN_O, 6 * 8, 32);
	reshape(m, 1, PB_ROLE_FFN_GATE, 32, 64);
	reshape(m, 1, PB_ROLE_FFN_UP, 32, 64);
	reshape(m, 1, PB_ROLE_FFN_DOWN, 64, 32);
	drop(m, 2, PB_ROLE_FFN_NORM);
	drop(m, 2, PB_ROLE_FFN_GATE);
	drop(m, 2, PB_ROLE_FFN_UP);
	drop(m, 2, PB_ROLE_FFN_DOWN);
	drop(m, 3, PB_ROLE_ATTN_NORM);
	drop(m, 3, PB_ROLE_ATTN_Q);
	drop(m, 3, PB_ROLE_ATTN_K);
	drop(m, 3, PB_ROLE_ATTN_V);
	drop(m, 3, PB_ROLE_ATTN_O);
	struct rig r;
	rig_open(&r, m);
	compare(&r, 5, 4);
	rig_close(&r);
}
END_TEST

START_TEST(session_checks)
{
	struct rig r;
	char err[512];
	float logits[300];
	int32_t t[40] = { 0 };
	rig_open(&r, tiny(14, 2));
	ck_assert_int_eq(pb_session_forward(r.s, t, 33, 0, logits), -EINVAL);
	ck_assert_int_eq(pb_session_forward(r.s, t, 2, 31, logits), -EINVAL);
	ck_assert_int_eq(pb_session_forward(r.s, t, 0, 0, logits), -EINVAL);
	ck_assert_int_eq(pb_session_forward(r.s, t, 1, -1, logits), -EINVAL);
	t[0] = 300;
	ck_assert_int_eq(pb_session_forward(r.s, t, 1, 0, logits), -EINVAL);
	t[0] = 5;
	ck_assert_int_eq(pb_session_forward(r.s, t, 32, 0, logits), 0);
	ck_assert_int_eq(pb_session_forward(r.s, t, 1, 31, logits), 0);
	/* the graph: embed first, logits of the last row only */
	const struct pb_graph *g = pb_session_graph(r.s, t, 3, 4);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->n_ops, 1 + 17 * 2 + 2);
	ck_assert_int_eq(g->ops[0].type, PB_OP_EMBED);
	const struct pb_op *last = &g->ops[g->n_ops - 1];
	ck_assert_int_eq(last->type, PB_OP_LINEAR);
	ck_assert_int_eq(last->n_tokens, 1);
	ck_assert_int_eq(last->dst.buf, PB_SESSION_LOGITS);
	ck_assert_int_eq(g->ops[g->n_ops - 2].src[0].off, 2 * 32);
	for (int i = 0; i < g->n_ops; i++)
		if (g->ops[i].type == PB_OP_ATTENTION) {
			ck_assert_int_eq(g->ops[i].p.attention.n_kv, 7);
			ck_assert_int_eq(g->ops[i].p.attention.pos0, 4);
		}
	/* a half-present block is refused */
	struct pb_session *s2 = NULL;
	drop(r.m, 1, PB_ROLE_ATTN_K);
	ck_assert_int_eq(pb_session_open(r.m, r.ops, r.state, &s2, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "block 1"));
	rig_close(&r);
}
END_TEST

/* The 15M preset through the ref backend, and greedy generation on it. */
START_TEST(llama15m_generate)
{
	struct pb_model *m = NULL;
	char err[512];
	ck_assert_int_eq(pb_model_synth("llama-15m", 1, &m, err, sizeof err), 0);
	struct rig r;
	rig_open(&r, m);
	compare(&r, 4, 1);
	struct pb_gen_request req = {
		.prompt = "Once upon a time", .max_new_tokens = 24, .add_bos = 1,
	};
	struct pb_gen_result res;
	ck_assert_msg(pb_generate(r.s, m, pb_model_tokenizer(m), &req, &res, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(res.n_prompt, 17);
	ck_assert_int_eq(res.n_out, 24);
	ck_assert_int_eq(res.truncated, 0);
	ck_assert(res.ttft_ms > 0 && res.ttft_ms <= res.e2e_ms);
	ck_assert_double_eq(res.prefill_ms, res.ttft_ms);
	ck_assert_double_eq(res.token_ms[0], res.ttft_ms);
	for (int i = 1; i < res.n_out; i++)
		ck_assert(res.token_ms[i] >= res.token_ms[i - 1]);
	ck_assert_double_eq(res.e2e_ms, res.token_ms[res.n_out - 1]);
	int distinct = 0;
	for (int i = 0; i < res.n_out; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= res.tokens[j] == res.tokens[i];
		distinct += !seen;
	}
	/* a synthetic model must not fall into repeating one token, and it
	 * writes mostly visible bytes (synth.c) */
	ck_assert_msg(distinct >= 12, "greedy output nearly constant: %d distinct tokens", distinct);
	ck_assert_int_ge((int)strlen(res.text), 12);
	/* greedy is deterministic */
	struct pb_gen_result again;
	ck_assert_int_eq(pb_generate(r.s, m, pb_model_tokenizer(m), &req, &again, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(res.tokens, again.tokens, 24 * sizeof(int32_t)), 0);
	ck_assert_str_eq(res.text, again.text);
	fprintf(stderr, "llama-15m: ttft %.1f ms, tpot %.2f ms, %d distinct of 24\n", res.ttft_ms,
		(res.e2e_ms - res.ttft_ms) / 23, distinct);
	pb_gen_result_free(&res);
	pb_gen_result_free(&again);
	rig_close(&r);
}
END_TEST

static int phases[8], n_phases;

static void on_phase(void *ctx, int p)
{
	(void)ctx;
	phases[n_phases++ & 7] = p;
}

START_TEST(generate_truncation_and_eos)
{
	struct rig r;
	char err[512];
	rig_open(&r, tiny(15, 2));
	/* 40 bytes + BOS into ctx 32 with 8 new tokens: 24 prompt tokens */
	struct pb_gen_request req = {
		.prompt = "0123456789012345678901234567890123456789", .max_new_tokens = 8,
		.add_bos = 1, .on_phase = on_phase,
	};
	struct pb_gen_result res;
	n_phases = 0;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_prompt, 24);
	ck_assert_int_eq(res.truncated, 1);
	ck_assert_int_eq(res.n_out, 8);
	ck_assert_int_eq(n_phases, 2);
	pb_gen_result_free(&res);
	/* stop at EOS: with a zero output norm every logit is 0, greedy takes
	 * the lowest index on ties, and we call that index EOS */
	struct pb_tensor *on = pb_model_find(r.m, -1, PB_ROLE_OUT_NORM);
	memset(on->data, 0, on->nbytes);
	r.m->hp.eos_id = 0;
	req.prompt = "hi";
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_out, 8);   /* stop_at_eos is off */
	ck_assert_int_eq(res.tokens[7], 0);
	pb_gen_result_free(&res);
	req.stop_at_eos = 1;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_out, 1);
	ck_assert_int_eq(res.tokens[0], 0);
	ck_assert_double_eq(res.e2e_ms, res.ttft_ms);
	pb_gen_result_free(&res);
	req.prompt = "";
	req.add_bos = 0;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	rig_close(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("llama");
	TCase *tc = tcase_create("forward");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, forward_tiny_gqa);
	tcase_add_test(tc, forward_f16);
	tcase_add_test(tc, forward_pruned_shapes);
	tcase_add_test(tc, session_checks);
	tcase_add_test(tc, llama15m_generate);
	tcase_add_test(tc, generate_truncation_and_eos);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

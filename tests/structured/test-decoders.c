/* tests/structured/test-decoders.c — the heads, ffn and layers pruners on
 * the Llama-family members with extra tensors (tiny-qwen2: q/k/v biases;
 * tiny-qwen3 and tiny-gemma3: per-head q/k norms, head_dim 32;
 * tiny-llama3: rope_freqs; tiny-gemma2: post-norms, GeGLU; tiny-phi3:
 * q/k/v and gate/up held apart from its fused tensors, longrope):
 * biases shrink with their heads, q/k norms and rope_freqs stay as they
 * are, the GQA layout stays valid, and the shrunk model computes what the
 * dense one does with the same units zeroed; pruners say why where they
 * cannot apply; a pruned phi3 written as GGUF fuses again where llama.cpp
 * needs it (ffn_up) and reads back the same. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/modelio.h"
#include "st.h"

#define NT 12

static const int32_t toks[NT] = { 1, 40, 77, 12, 260, 9, 33, 150, 201, 5, 88, 299 };

static struct pb_model *tiny(const char *name, uint64_t seed)
{
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth(name, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	for (int i = 0; i < m->n_tensors; i++) {   /* q/k norms that are not all 1 */
		struct pb_tensor *t = &m->tensors[i];
		if (t->role != PB_ROLE_ATTN_Q_NORM && t->role != PB_ROLE_ATTN_K_NORM)
			continue;
		pb_synth_fill(t, seed, 300 + (uint64_t)i, 0.3f);
		for (int64_t k = 0; k < t->ne[0]; k++)
			((float *)t->data)[k] += 1.0f;
	}
	return m;
}

static void zero(struct pb_tensor *t, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
	ck_assert_int_eq(t->dtype, PB_F32);
	for (int64_t r = r0; r < r1; r++)
		for (int64_t c = c0; c < c1; c++)
			((float *)t->data)[r * t->ne[0] + c] = 0;
}

static int row_kept(const struct pb_tensor *orig, int64_t r, const struct pb_tensor *now)
{
	for (int64_t i = 0; i < now->ne[1]; i++)
		if (!memcmp((const float *)orig->data + r * orig->ne[0], (const float *)now->data + i * now->ne[0],
			    (size_t)orig->ne[0] * sizeof(float)))
			return 1;
	return 0;
}

static void compare_logits(struct pb_model *a, struct pb_model *b, const char *what)
{
	const int V = a->hp.vocab;
	float *la = malloc((size_t)NT * V * sizeof *la), *lb = malloc((size_t)NT * V * sizeof *lb);
	st_logits(a, toks, NT, la);
	st_logits(b, toks, NT, lb);
	st_assert_close(la, lb, (int64_t)NT * V, 1e-5, what);
	free(la);
	free(lb);
}

/* Zero, in `dense`, the KV groups block l of `pruned` lost (rows of q, k,
 * v and their bias elements, columns of o); how many. */
static int zero_lost_groups(struct pb_model *dense, const struct pb_model *pruned, int l)
{
	const int64_t hd = dense->hp.head_dim;
	struct pb_tensor *q = pb_model_find(dense, l, PB_ROLE_ATTN_Q), *k = pb_model_find(dense, l, PB_ROLE_ATTN_K);
	struct pb_tensor *v = pb_model_find(dense, l, PB_ROLE_ATTN_V), *o = pb_model_find(dense, l, PB_ROLE_ATTN_O);
	struct pb_tensor *qb = pb_model_find(dense, l, PB_ROLE_ATTN_Q_BIAS);
	struct pb_tensor *kb = pb_model_find(dense, l, PB_ROLE_ATTN_K_BIAS);
	struct pb_tensor *vb = pb_model_find(dense, l, PB_ROLE_ATTN_V_BIAS);
	const int n_kv = (int)(k->ne[1] / hd), group = (int)(q->ne[1] / k->ne[1]);
	int lost = 0;
	for (int g = 0; g < n_kv; g++) {
		if (row_kept(k, g * hd, pb_model_find(pruned, l, PB_ROLE_ATTN_K)))
			continue;
		lost++;
		zero(q, g * group * hd, (g + 1) * group * hd, 0, q->ne[0]);
		zero(k, g * hd, (g + 1) * hd, 0, k->ne[0]);
		zero(v, g * hd, (g + 1) * hd, 0, v->ne[0]);
		zero(o, 0, o->ne[1], g * group * hd, (g + 1) * group * hd);
		if (qb)
			zero(qb, 0, 1, g * group * hd, (g + 1) * group * hd);
		if (kb)
			zero(kb, 0, 1, g * hd, (g + 1) * hd);
		if (vb)
			zero(vb, 0, 1, g * hd, (g + 1) * hd);
	}
	return lost;
}

START_TEST(heads_keep_biases_and_norms_in_step)
{
	const struct pb_plugin *p = st_plugin(HEADS_SO);
	static const char *const names[] = { "tiny-qwen2", "tiny-qwen3", "tiny-llama3", "tiny-gemma3",
					     "tiny-phi3" };
	for (int k = 0; k < 5; k++) {
		struct pb_model *m = tiny(names[k], 5), *dense = tiny(names[k], 5);
		const int hd = m->hp.head_dim;
		struct pb_prune_target *tg = calloc((size_t)m->n_tensors, sizeof *tg);
		ck_assert_msg(st_prune(p, m, NULL, tg, (const char *[]){ "ratio=0.5", NULL }) == 0, "%s: %s",
			      names[k], st_log);
		for (int l = 0; l < m->hp.n_layers; l++) {
			struct pb_layer_shape s = pb_layer_shape(m, l);
			/* of 2 groups of 2 heads (tiny-gemma3: 1 group of 4 stays) */
			ck_assert_int_eq(s.n_kv_heads, 1);
			ck_assert_int_eq(s.n_heads, k == 3 ? 4 : 2);
			const struct pb_tensor *qb = pb_model_find(m, l, PB_ROLE_ATTN_Q_BIAS);
			const struct pb_tensor *vb = pb_model_find(m, l, PB_ROLE_ATTN_V_BIAS);
			const struct pb_tensor *qn = pb_model_find(m, l, PB_ROLE_ATTN_Q_NORM);
			if (k == 0) {
				ck_assert_int_eq(qb->ne[0], 2 * hd);
				ck_assert_int_eq(qb->n_dims, 1);
				ck_assert_int_eq(vb->ne[0], hd);
				ck_assert_double_eq_tol(tg[qb - m->tensors].sparsity, 0.5, 1e-12);
			}
			if (k == 1 || k == 3) {   /* shared by every head: untouched */
				ck_assert_int_eq(qn->ne[0], hd);
				ck_assert(!memcmp(qn->data, pb_model_find(dense, l, PB_ROLE_ATTN_Q_NORM)->data,
						  (size_t)hd * 4));
				ck_assert_double_lt(tg[qn - m->tensors].sparsity, 0);
			}
			ck_assert_int_eq(zero_lost_groups(dense, m, l), k == 3 ? 0 : 1);
		}
		if (k == 2)
			ck_assert_int_eq(pb_model_find(m, -1, PB_ROLE_ROPE_FREQS)->ne[0], hd / 2);
		if (k == 4)   /* longrope factors are per pair of a head: untouched */
			ck_assert_int_eq(pb_model_find(m, -1, PB_ROLE_ROPE_FACTORS_LONG)->ne[0], hd / 2);
		compare_logits(m, dense, names[k]);
		free(tg);
		pb_model_free(m);
		pb_model_free(dense);
	}
}
END_TEST

START_TEST(ffn_on_qwen)
{
	const struct pb_plugin *p = st_plugin(FFN_SO);
	static const char *const names[] = { "tiny-qwen2", "tiny-qwen3", "tiny-gemma2", "tiny-phi3" };
	for (int k = 0; k < 4; k++) {
		struct pb_model *m = tiny(names[k], 6), *dense = tiny(names[k], 6);
		const int f = m->hp.ffn_dim;
		ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "ratio=0.25", NULL }) == 0, "%s", st_log);
		for (int l = 0; l < m->hp.n_layers; l++) {
			struct pb_tensor *up = pb_model_find(dense, l, PB_ROLE_FFN_UP);
			const struct pb_tensor *pup = pb_model_find(m, l, PB_ROLE_FFN_UP);
			ck_assert_int_eq(pup->ne[1], f - f / 4);
			for (int64_t i = 0; i < f; i++)
				if (!row_kept(up, i, pup)) {
					zero(up, i, i + 1, 0, up->ne[0]);
					zero(pb_model_find(dense, l, PB_ROLE_FFN_GATE), i, i + 1, 0, up->ne[0]);
					struct pb_tensor *d = pb_model_find(dense, l, PB_ROLE_FFN_DOWN);
					zero(d, 0, d->ne[1], i, i + 1);
				}
		}
		compare_logits(m, dense, names[k]);
		pb_model_free(m);
		pb_model_free(dense);
	}
}
END_TEST

START_TEST(layers_on_qwen)
{
	const struct pb_plugin *p = st_plugin(LAYERS_SO);
	struct pb_model *m = tiny("tiny-qwen2", 7), *dense = tiny("tiny-qwen2", 7);
	int before = m->n_tensors;
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "indices=0", NULL }) == 0, "%s", st_log);
	ck_assert_int_eq(m->hp.n_layers, 1);
	ck_assert_int_eq(m->n_tensors, before - 12);   /* 9 + 3 biases */
	ck_assert_str_eq(pb_model_find(m, 0, PB_ROLE_ATTN_Q_BIAS)->name, "blk.1.attn_q.bias");
	struct pb_tensor *o = pb_model_find(dense, 0, PB_ROLE_ATTN_O), *d = pb_model_find(dense, 0, PB_ROLE_FFN_DOWN);
	zero(o, 0, o->ne[1], 0, o->ne[0]);
	zero(d, 0, d->ne[1], 0, d->ne[0]);
	compare_logits(m, dense, "layers qwen2");
	pb_model_free(m);
	pb_model_free(dense);
	/* a llama3 keeps its global rope_freqs */
	m = tiny("tiny-llama3", 7);
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "indices=1", NULL }) == 0, "%s", st_log);
	ck_assert_ptr_nonnull(pb_model_find(m, -1, PB_ROLE_ROPE_FREQS));
	pb_model_free(m);
	/* phi3: its blocks are all alike */
	m = tiny("tiny-phi3", 7);
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "indices=0", NULL }) == 0, "%s", st_log);
	ck_assert_int_eq(m->hp.n_layers, 1);
	ck_assert_ptr_nonnull(pb_model_find(m, -1, PB_ROLE_ROPE_FACTORS_SHORT));
	pb_model_free(m);
	/* a Gemma's windows follow the block index: refused, saying so */
	m = tiny("tiny-gemma2", 7);
	ck_assert_int_eq(st_prune(p, m, NULL, NULL, (const char *[]){ "indices=1", NULL }), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(st_log, "sliding window follows their index"));
	ck_assert_int_eq(m->hp.n_layers, 2);
	pb_model_free(m);
}
END_TEST

/* Written as GGUF and read back, a head-pruned qwen2 keeps its shapes
 * (per-layer head counts as arrays) and its logits. */
START_TEST(pruned_round_trip)
{
	const struct pb_plugin *p = st_plugin(HEADS_SO);
	struct pb_model *m = tiny("tiny-qwen2", 8), *back = NULL;
	char err[512], path[256];
	const int V = m->hp.vocab;
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "ratio=0.5", "scope=global", NULL }) == 0,
		      "%s", st_log);
	snprintf(path, sizeof path, "/tmp/pb-st-decoders-%d.gguf", (int)getpid());
	ck_assert_msg(pb_gguf_write(m, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &back, err, sizeof err) == 0, "%s", err);
	unlink(path);
	ck_assert_int_eq(back->arch, PB_ARCH_QWEN2);
	for (int l = 0; l < 2; l++) {
		ck_assert_int_eq(pb_layer_shape(back, l).n_heads, pb_layer_shape(m, l).n_heads);
		ck_assert_int_eq(pb_model_find(back, l, PB_ROLE_ATTN_K_BIAS)->ne[0],
				 pb_model_find(m, l, PB_ROLE_ATTN_K_BIAS)->ne[0]);
	}
	float *a = malloc((size_t)NT * V * 4), *b = malloc((size_t)NT * V * 4);
	st_logits(m, toks, NT, a);
	st_logits(back, toks, NT, b);
	ck_assert(!memcmp(a, b, (size_t)NT * V * 4));
	free(a);
	free(b);
	pb_model_free(m);
	pb_model_free(back);
}
END_TEST

/* A phi3 with pruned heads and FFN, written as GGUF: ffn_up fused again
 * (llama.cpp's phi3 has no ffn_gate; widths per layer), q/k/v apart once
 * their heads differ from the file's; read back with the same logits. */
START_TEST(phi3_pruned_round_trip)
{
	struct pb_model *m = tiny("tiny-phi3", 9), *back = NULL;
	char err[512], path[256];
	const int V = m->hp.vocab;
	ck_assert_msg(st_prune(st_plugin(FFN_SO), m, NULL, NULL, (const char *[]){ "ratio=0.25", NULL }) == 0,
		      "%s", st_log);
	ck_assert_msg(st_prune(st_plugin(HEADS_SO), m, NULL, NULL, (const char *[]){ "ratio=0.5", NULL }) == 0,
		      "%s", st_log);
	snprintf(path, sizeof path, "/tmp/pb-st-phi3-%d.gguf", (int)getpid());
	ck_assert_msg(pb_gguf_write(m, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &back, err, sizeof err) == 0, "%s", err);
	unlink(path);
	ck_assert_int_eq(back->arch, PB_ARCH_PHI3);
	ck_assert_int_eq(back->n_tensors, m->n_tensors);
	for (int l = 0; l < 2; l++) {
		const struct pb_tensor *g = pb_model_find(back, l, PB_ROLE_FFN_GATE);
		const struct pb_tensor *u = pb_model_find(back, l, PB_ROLE_FFN_UP);
		ck_assert_int_eq(u->ne[1], 192);   /* 256 less a quarter */
		ck_assert_ptr_eq((const uint8_t *)g->data + g->nbytes, u->data);   /* one ffn_up in the file */
		ck_assert_int_eq(pb_layer_shape(back, l).n_heads, 2);
		ck_assert_int_eq(pb_layer_shape(back, l).n_kv_heads, 1);
	}
	float *a = malloc((size_t)NT * V * 4), *b = malloc((size_t)NT * V * 4);
	st_logits(m, toks, NT, a);
	st_logits(back, toks, NT, b);
	ck_assert(!memcmp(a, b, (size_t)NT * V * 4));
	free(a);
	free(b);
	pb_model_free(m);
	pb_model_free(back);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("structured-decoders");
	TCase *tc = tcase_create("pruners");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, heads_keep_biases_and_norms_in_step);
	tcase_add_test(tc, ffn_on_qwen);
	tcase_add_test(tc, layers_on_qwen);
	tcase_add_test(tc, pruned_round_trip);
	tcase_add_test(tc, phi3_pruned_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

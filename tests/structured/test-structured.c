/* tests/structured/test-structured.c — the heads, ffn and layers pruners
 * (dlopen'd from the build tree, run through the core's host): they remove
 * the share asked for, really (shapes shrink), and the shrunk model
 * computes the same logits as the dense model with the same heads,
 * neurons or blocks ZEROED instead, which is what removing them means.
 * Importance from a fake calibration handle picks exactly the units it
 * should; at ratio 0 (count 0) each is the identity. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "st.h"

#define HD 8
#define NT 12     /* tokens scored */

static const int32_t toks[NT] = { 1, 40, 77, 12, 260, 9, 33, 150, 201, 5, 88, 299 };

static void zero_rows(struct pb_tensor *t, int64_t r0, int64_t r1)
{
	ck_assert_int_eq(t->dtype, PB_F32);
	memset((float *)t->data + r0 * t->ne[0], 0, (size_t)((r1 - r0) * t->ne[0]) * sizeof(float));
}

static void zero_cols(struct pb_tensor *t, int64_t c0, int64_t c1)
{
	for (int64_t r = 0; r < t->ne[1]; r++)
		for (int64_t c = c0; c < c1; c++)
			((float *)t->data)[r * t->ne[0] + c] = 0;
}

/* Is row r of `orig` one of the rows of `now`? (which units survived) */
static int row_kept(const struct pb_tensor *orig, int64_t r, const struct pb_tensor *now)
{
	const size_t rb = (size_t)orig->ne[0] * sizeof(float);
	for (int64_t i = 0; i < now->ne[1]; i++)
		if (!memcmp((const float *)orig->data + r * orig->ne[0],
			    (const float *)now->data + i * now->ne[0], rb))
			return 1;
	return 0;
}

/* Zero, in `dense`, the KV groups of block l that `pruned` lost; how many. */
static int zero_lost_groups(struct pb_model *dense, const struct pb_model *pruned, int l)
{
	struct pb_tensor *q = pb_model_find(dense, l, PB_ROLE_ATTN_Q), *k = pb_model_find(dense, l, PB_ROLE_ATTN_K);
	struct pb_tensor *v = pb_model_find(dense, l, PB_ROLE_ATTN_V), *o = pb_model_find(dense, l, PB_ROLE_ATTN_O);
	const struct pb_tensor *pk = pb_model_find(pruned, l, PB_ROLE_ATTN_K);
	const int n_kv = (int)(k->ne[1] / HD), group = (int)(q->ne[1] / k->ne[1]);
	int lost = 0;
	for (int g = 0; g < n_kv; g++) {
		if (row_kept(k, (int64_t)g * HD, pk))
			continue;
		lost++;
		zero_rows(q, (int64_t)g * group * HD, (int64_t)(g + 1) * group * HD);
		zero_rows(k, (int64_t)g * HD, (int64_t)(g + 1) * HD);
		zero_rows(v, (int64_t)g * HD, (int64_t)(g + 1) * HD);
		zero_cols(o, (int64_t)g * group * HD, (int64_t)(g + 1) * group * HD);
	}
	return lost;
}

/* Zero the FFN neurons of (stack, l) that `pruned` lost; how many. */
static int zero_lost_neurons(struct pb_model *dense, const struct pb_model *pruned, enum pb_stack st, int l)
{
	struct pb_tensor *up = pb_model_find_in(dense, st, l, PB_ROLE_FFN_UP);
	struct pb_tensor *gate = pb_model_find_in(dense, st, l, PB_ROLE_FFN_GATE);
	struct pb_tensor *down = pb_model_find_in(dense, st, l, PB_ROLE_FFN_DOWN);
	const struct pb_tensor *pup = pb_model_find_in(pruned, st, l, PB_ROLE_FFN_UP);
	int lost = 0;
	for (int64_t i = 0; i < up->ne[1]; i++) {
		if (row_kept(up, i, pup))
			continue;
		lost++;
		zero_rows(up, i, i + 1);
		if (gate)
			zero_rows(gate, i, i + 1);
		zero_cols(down, i, i + 1);
	}
	return lost;
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

START_TEST(heads_gqa_shrinks_like_zeroing)
{
	const struct pb_plugin *p = st_plugin(HEADS_SO);
	static const char *const scopes[] = { "per-layer", "global" };
	for (int sc = 0; sc < 2; sc++) {
		struct pb_model *m = st_llama(3, 3, 8, 4, 64), *dense = st_llama(3, 3, 8, 4, 64);
		int64_t before = st_block_linear_params(m);
		char scope[64];
		snprintf(scope, sizeof scope, "scope=%s", scopes[sc]);
		const char *opts[] = { "ratio=0.5", scope, NULL };
		struct pb_prune_target *tg = calloc((size_t)m->n_tensors, sizeof *tg);
		ck_assert_msg(st_prune(p, m, NULL, tg, opts) == 0, "%s", st_log);
		int lost = 0;
		for (int l = 0; l < 3; l++) {
			struct pb_layer_shape s = pb_layer_shape(m, l);
			ck_assert_int_ge(s.n_kv_heads, 1);
			ck_assert_int_eq(s.n_heads, 2 * s.n_kv_heads);   /* groups stay whole */
			int g = zero_lost_groups(dense, m, l);
			ck_assert_int_eq(g, 4 - s.n_kv_heads);
			lost += g;
			if (sc == 0)
				ck_assert_int_eq(s.n_kv_heads, 2);
			ck_assert_double_eq_tol(tg[pb_model_find(m, l, PB_ROLE_ATTN_Q) - m->tensors].sparsity,
						g / 4.0, 1e-12);
		}
		ck_assert_int_eq(lost, 6);   /* half of 3 × 4 groups */
		/* attention is 4 × 64 × 64 per block (q, o 64 wide; k, v 32): half goes */
		int64_t attn = 3 * (64 * 64 * 2 + 64 * 32 * 2);
		ck_assert_int_eq(before - st_block_linear_params(m), attn / 2);
		compare_logits(m, dense, scopes[sc]);
		free(tg);
		pb_model_free(m);
		pb_model_free(dense);
	}
}
END_TEST

/* o-input energy per column: block 0 dull everywhere, others rising with
 * the column, so the lowest groups are known. */
static double heads_energy(const struct pb_tensor *t, int layer, int64_t col)
{
	if (t->role != PB_ROLE_ATTN_O)
		return 1.0;
	return layer == 0 ? 1e-3 * (double)(col + 1) : 10.0 * layer + (double)(63 - col);
}

START_TEST(heads_activation_picks_lowest_energy)
{
	const struct pb_plugin *p = st_plugin(HEADS_SO);
	struct pb_model *m = st_llama(5, 3, 8, 4, 64), *dense = st_llama(5, 3, 8, 4, 64);
	struct st_calib k;
	st_calib_init(&k, m);
	k.col_sq_fn = heads_energy;
	const char *opts[] = { "ratio=0.5", "scope=global", "importance=activation", NULL };
	ck_assert_msg(st_prune(p, m, &k.c, NULL, opts) == 0, "%s", st_log);
	ck_assert_int_eq(k.n_calls, 3);
	/* 6 of 12 groups: block 0 loses 3 (keeps one), then the two lowest
	 * of block 1 (its last columns), then the lowest of block 2 */
	ck_assert_int_eq(pb_layer_shape(m, 0).n_kv_heads, 1);
	ck_assert_int_eq(pb_layer_shape(m, 1).n_kv_heads, 2);
	ck_assert_int_eq(pb_layer_shape(m, 2).n_kv_heads, 3);
	/* block 0 keeps its most energetic group (the last), block 1 its first two */
	const struct pb_tensor *dk0 = pb_model_find(dense, 0, PB_ROLE_ATTN_K);
	ck_assert(row_kept(dk0, 3 * HD, pb_model_find(m, 0, PB_ROLE_ATTN_K)));
	const struct pb_tensor *dk1 = pb_model_find(dense, 1, PB_ROLE_ATTN_K);
	ck_assert(row_kept(dk1, 0, pb_model_find(m, 1, PB_ROLE_ATTN_K)));
	ck_assert(!row_kept(dk1, 3 * HD, pb_model_find(m, 1, PB_ROLE_ATTN_K)));
	/* without a calibration handle, activation importance is an error */
	struct pb_model *m2 = st_llama(5, 3, 8, 4, 64);
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "ratio=0.5", "importance=activation", NULL }),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(st_log, "calibration"));
	st_calib_free(&k);
	pb_model_free(m);
	pb_model_free(m2);
	pb_model_free(dense);
}
END_TEST

START_TEST(heads_mha_and_t5)
{
	const struct pb_plugin *p = st_plugin(HEADS_SO);
	/* multi-head: a group is one head */
	struct pb_model *m = st_llama(8, 2, 8, 8, 64), *dense = st_llama(8, 2, 8, 8, 64);
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "ratio=0.25", NULL }) == 0, "%s", st_log);
	for (int l = 0; l < 2; l++) {
		ck_assert_int_eq(pb_layer_shape(m, l).n_heads, 6);
		ck_assert_int_eq(zero_lost_groups(dense, m, l), 2);
	}
	compare_logits(m, dense, "mha");
	pb_model_free(m);
	pb_model_free(dense);
	struct pb_model *t5 = st_t5(1, 0, 64);
	ck_assert_int_eq(st_prune(p, t5, NULL, NULL, (const char *[]){ "ratio=0.25", NULL }), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(st_log, "llama"));
	ck_assert_ptr_nonnull(strstr(st_log, "relative-position bias"));
	pb_model_free(t5);
}
END_TEST

START_TEST(ffn_llama_and_t5_shrink_like_zeroing)
{
	const struct pb_plugin *p = st_plugin(FFN_SO);
	/* llama per layer: 64 → 48 neurons in each block */
	struct pb_model *m = st_llama(9, 2, 8, 4, 64), *dense = st_llama(9, 2, 8, 4, 64);
	int64_t before = st_block_linear_params(m);
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "ratio=0.25", NULL }) == 0, "%s", st_log);
	for (int l = 0; l < 2; l++) {
		ck_assert_int_eq(pb_layer_shape(m, l).ffn_dim, 48);
		ck_assert_int_eq(pb_model_find(m, l, PB_ROLE_FFN_DOWN)->ne[0], 48);
		ck_assert_int_eq(zero_lost_neurons(dense, m, PB_STACK_DECODER, l), 16);
	}
	ck_assert_int_eq(before - st_block_linear_params(m), 2 * 3 * 16 * 64);
	compare_logits(m, dense, "ffn llama");
	pb_model_free(m);
	pb_model_free(dense);

	/* T5, both stacks, gated-GELU and ReLU, ranked globally */
	for (int gated = 0; gated < 2; gated++) {
		struct pb_model *t = st_t5(4, gated, 64), *td = st_t5(4, gated, 64);
		ck_assert_msg(st_prune(p, t, NULL, NULL, (const char *[]){ "ratio=0.5", "scope=global", NULL }) == 0,
			      "%s", st_log);
		int lost = 0;
		for (int s = 0; s < 2; s++)
			for (int l = 0; l < 2; l++) {
				const struct pb_tensor *up = pb_model_find_in(t, (enum pb_stack)s, l, PB_ROLE_FFN_UP);
				ck_assert_int_ge(up->ne[1], 1);
				lost += zero_lost_neurons(td, t, (enum pb_stack)s, l);
			}
		ck_assert_int_eq(lost, 128);   /* half of 4 × 64 */
		compare_logits(t, td, gated ? "ffn t5 gated" : "ffn t5 relu");
		pb_model_free(t);
		pb_model_free(td);
	}
}
END_TEST

static double ffn_energy(const struct pb_tensor *t, int layer, int64_t col)
{
	(void)layer;
	return t->role == PB_ROLE_FFN_DOWN ? (double)((col * 37) % 64) : 1.0;
}

START_TEST(ffn_activation_picks_lowest)
{
	const struct pb_plugin *p = st_plugin(FFN_SO);
	struct pb_model *m = st_llama(2, 2, 8, 4, 64), *dense = st_llama(2, 2, 8, 4, 64);
	struct st_calib k;
	st_calib_init(&k, m);
	k.col_sq_fn = ffn_energy;
	ck_assert_msg(st_prune(p, m, &k.c, NULL, (const char *[]){ "ratio=0.25", "importance=activation", NULL }) == 0,
		      "%s", st_log);
	ck_assert_int_eq(k.n_calls, 2);
	for (int l = 0; l < 2; l++) {
		const struct pb_tensor *up = pb_model_find(dense, l, PB_ROLE_FFN_UP);
		const struct pb_tensor *pup = pb_model_find(m, l, PB_ROLE_FFN_UP);
		for (int64_t i = 0; i < 64; i++)   /* energies 0..15 go, 16..63 stay */
			ck_assert_int_eq(row_kept(up, i, pup), (i * 37) % 64 >= 16);
	}
	st_calib_free(&k);
	pb_model_free(m);
	pb_model_free(dense);
}
END_TEST

START_TEST(layers_by_index_like_zeroing)
{
	const struct pb_plugin *p = st_plugin(LAYERS_SO);
	struct pb_model *m = st_llama(6, 4, 8, 4, 64), *dense = st_llama(6, 4, 8, 4, 64);
	int n_before = m->n_tensors;
	struct pb_prune_target *tg = calloc((size_t)n_before, sizeof *tg);
	ck_assert_msg(st_prune(p, m, NULL, tg, (const char *[]){ "indices=0, 2", NULL }) == 0, "%s", st_log);
	ck_assert_int_eq(m->hp.n_layers, 2);
	ck_assert_int_eq(m->n_tensors, n_before - 2 * 9);
	for (int i = 0; i < n_before; i++)
		if (dense->tensors[i].layer == 0 || dense->tensors[i].layer == 2)
			ck_assert_double_eq(tg[i].sparsity, 1.0);
		else
			ck_assert_double_lt(tg[i].sparsity, 0);
	/* blocks 1 and 3 are now 0 and 1; names keep where they came from */
	ck_assert_str_eq(pb_model_find(m, 0, PB_ROLE_ATTN_Q)->name, "blk.1.attn_q.weight");
	ck_assert_str_eq(pb_model_find(m, 1, PB_ROLE_FFN_DOWN)->name, "blk.3.ffn_down.weight");
	ck_assert_ptr_null(pb_model_find(m, 2, PB_ROLE_ATTN_Q));
	/* a block whose o and down are zero adds nothing to the residual */
	for (int l = 0; l < 4; l += 2) {
		struct pb_tensor *o = pb_model_find(dense, l, PB_ROLE_ATTN_O), *d = pb_model_find(dense, l, PB_ROLE_FFN_DOWN);
		zero_rows(o, 0, o->ne[1]);
		zero_rows(d, 0, d->ne[1]);
	}
	compare_logits(m, dense, "layers 0,2");
	free(tg);
	pb_model_free(m);
	pb_model_free(dense);
}
END_TEST

START_TEST(layers_by_block_influence)
{
	const struct pb_plugin *p = st_plugin(LAYERS_SO);
	static const double bi[4] = { 0.5, 0.1, 0.3, 0.05 };
	struct pb_model *m = st_llama(6, 4, 8, 4, 64);
	struct st_calib k;
	st_calib_init(&k, m);
	k.bi = bi;
	ck_assert_msg(st_prune(p, m, &k.c, NULL, (const char *[]){ "count=2", NULL }) == 0, "%s", st_log);
	ck_assert_int_eq(k.n_calls, 1);
	ck_assert_int_eq(m->hp.n_layers, 2);
	ck_assert_str_eq(pb_model_find(m, 0, PB_ROLE_ATTN_NORM)->name, "blk.0.attn_norm.weight");
	ck_assert_str_eq(pb_model_find(m, 1, PB_ROLE_ATTN_NORM)->name, "blk.2.attn_norm.weight");
	/* a second step numbers blocks as they are now */
	ck_assert_msg(st_prune(p, m, NULL, NULL, (const char *[]){ "indices=1", NULL }) == 0, "%s", st_log);
	ck_assert_int_eq(m->hp.n_layers, 1);
	ck_assert_str_eq(pb_model_find(m, 0, PB_ROLE_FFN_UP)->name, "blk.0.ffn_up.weight");
	/* BI without calibration, bad lists, too many blocks */
	ck_assert_int_eq(st_prune(p, m, NULL, NULL, (const char *[]){ "count=1", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(st_log, "one must stay"));
	struct pb_model *m2 = st_llama(6, 4, 8, 4, 64);
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "count=1", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(st_log, "calibration"));
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "indices=1,x", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(st_log, "character 3"));
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "indices=1,1", NULL }), -EINVAL);
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "indices=4", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(st_log, "block 4 does not exist"));
	ck_assert_int_eq(st_prune(p, m2, NULL, NULL, (const char *[]){ "indices=1,2", "count=3", NULL }), -EINVAL);
	ck_assert_int_eq(m2->hp.n_layers, 4);
	st_calib_free(&k);
	pb_model_free(m);
	pb_model_free(m2);
}
END_TEST

START_TEST(zero_is_identity)
{
	struct {
		const char *so;
		const char *opt;
	} cases[] = {
		{ HEADS_SO, "ratio=0" }, { FFN_SO, "ratio=0" }, { LAYERS_SO, "count=0" },
		{ HEADS_SO, "scope=global" }, { FFN_SO, "scope=global" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct pb_plugin *p = st_plugin(cases[i].so);
		struct pb_model *m = st_llama(1, 2, 8, 4, 64);
		char before[65], after[65];
		pb_model_hash(m, before);
		const char *opts[] = { cases[i].opt, i >= 3 ? "ratio=0" : NULL, NULL };
		ck_assert_msg(st_prune(p, m, NULL, NULL, opts) == 0, "%s", st_log);
		pb_model_hash(m, after);
		ck_assert_str_eq(before, after);
		pb_model_free(m);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("structured");
	TCase *tc = tcase_create("pruners");
	tcase_add_test(tc, heads_gqa_shrinks_like_zeroing);
	tcase_add_test(tc, heads_activation_picks_lowest_energy);
	tcase_add_test(tc, heads_mha_and_t5);
	tcase_add_test(tc, ffn_llama_and_t5_shrink_like_zeroing);
	tcase_add_test(tc, ffn_activation_picks_lowest);
	tcase_add_test(tc, layers_by_index_like_zeroing);
	tcase_add_test(tc, layers_by_block_influence);
	tcase_add_test(tc, zero_is_identity);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/probes-pruners/test-magnitude.c — the magnitude pruner, loaded from
 * the build tree with dlopen and driven through a fake host on small
 * synthetic models (F32 and F16). */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "testhost.h"

#define PB_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

static void *handle;
static const struct pb_plugin *plug;
static const struct pb_pruner_ops *ops;
static struct test_host th;
static char config[512];

static void setup(void)
{
	plug = test_plugin_load(MAGNITUDE_SO, &handle);
	ck_assert_int_eq(plug->kind, PB_PRUNER);
	ck_assert_str_eq(plug->name, "magnitude");
	ck_assert_uint_le(plug->config_size, sizeof(config));
	ops = plug->ops;
	test_host_init(&th);
	test_config_defaults(plug, config);
}

static void teardown(void)
{
	dlclose(handle);
}

/* deterministic values without ties: a small LCG */
static uint32_t lcg = 12345;
static float rnd(void)
{
	lcg = lcg * 1664525u + 1013904223u;
	return ((float)(lcg >> 8) / (float)(1u << 24)) * 2.0f - 1.0f;
}

static void tensor_make(struct pb_tensor *t, const char *name, int layer, enum pb_role role,
			enum pb_dtype dt, int64_t cols, int64_t rows, float scale)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof t->name, "%s", name);
	t->dtype = dt;
	t->n_dims = 2;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->layer = layer;
	t->role = role;
	t->nbytes = (size_t)(cols * rows) * pb_dtype_block_bytes(dt);
	t->data = malloc(t->nbytes ? t->nbytes : 1);
	for (int64_t i = 0; i < cols * rows; i++) {
		float v = rnd() * scale;
		if (v == 0)
			v = scale * 1e-3f;
		if (dt == PB_F32)
			((float *)t->data)[i] = v;
		else
			((uint16_t *)t->data)[i] = pb_fp32_to_fp16(v);
	}
}

static float get(const struct pb_tensor *t, int64_t i)
{
	if (t->dtype == PB_F32)
		return ((const float *)t->data)[i];
	return pb_fp16_to_fp32(((const uint16_t *)t->data)[i]);
}

static int64_t zeros(const struct pb_tensor *t)
{
	int64_t z = 0;
	for (int64_t i = 0; i < pb_tensor_nelements(t); i++)
		z += get(t, i) == 0.0f;
	return z;
}

static void model_free(struct pb_model *m)
{
	for (int i = 0; i < m->n_tensors; i++)
		free(m->tensors[i].data);
	free(m->tensors);
}

/* a two-layer model: embd, per layer q k v o gate up down (+norms), output */
static void model_make(struct pb_model *m, enum pb_dtype dt)
{
	static const enum pb_role roles[] = {
		PB_ROLE_ATTN_NORM, PB_ROLE_ATTN_Q, PB_ROLE_ATTN_K, PB_ROLE_ATTN_V, PB_ROLE_ATTN_O,
		PB_ROLE_FFN_NORM, PB_ROLE_FFN_GATE, PB_ROLE_FFN_UP, PB_ROLE_FFN_DOWN,
	};
	int n = 0;
	memset(m, 0, sizeof(*m));
	m->tensors = calloc(2 + 2 * PB_ARRAY_LEN_(roles), sizeof(struct pb_tensor));
	tensor_make(&m->tensors[n++], "token_embd.weight", -1, PB_ROLE_TOK_EMBD, dt, 8, 11, 1);
	for (int l = 0; l < 2; l++)
		for (size_t r = 0; r < PB_ARRAY_LEN_(roles); r++) {
			char name[64];
			int norm = roles[r] == PB_ROLE_ATTN_NORM || roles[r] == PB_ROLE_FFN_NORM;
			snprintf(name, sizeof name, "blk.%d.r%zu.weight", l, r);
			tensor_make(&m->tensors[n++], name, l, roles[r], dt,
				    norm ? 8 : 8 + (int)r, norm ? 1 : 3 + l, 1);
		}
	tensor_make(&m->tensors[n++], "output.weight", -1, PB_ROLE_OUTPUT, dt, 8, 11, 1);
	m->n_tensors = n;
}

static struct pb_prune_target *run_prune(struct pb_model *m, int expect_rc)
{
	void *state = NULL;
	struct pb_prune_target *tg = calloc((size_t)m->n_tensors, sizeof(*tg));
	ck_assert_int_eq(plug->init(&th.host, config, &state), 0);
	ck_assert_int_eq(ops->apply(state, m, NULL, tg), expect_rc);
	plug->fini(state);
	return tg;
}

static void set(const char *k, const char *v)
{
	ck_assert_int_eq(test_config_set(plug, config, k, v), 0);
}

/* Every pruned weight's original |w| is <= every kept one's. */
static void assert_smallest_gone(const struct pb_tensor *before, const struct pb_tensor *after)
{
	float max_gone = 0, min_kept = INFINITY;
	for (int64_t i = 0; i < pb_tensor_nelements(before); i++) {
		float a = fabsf(get(before, i));
		if (get(after, i) == 0.0f) {
			if (a > max_gone)
				max_gone = a;
		} else {
			ck_assert_float_eq(get(after, i), get(before, i));
			if (a < min_kept)
				min_kept = a;
		}
	}
	ck_assert_float_le(max_gone, min_kept);
}

static void per_tensor_exact(enum pb_dtype dt)
{
	static const char *const sp[] = { "0", "0.3", "0.5", "0.6", "1" };
	static const int64_t shapes[][2] = { { 1, 1 }, { 3, 1 }, { 7, 13 }, { 5, 3 }, { 33, 9 } };

	for (size_t a = 0; a < PB_ARRAY_LEN_(sp); a++)
		for (size_t b = 0; b < PB_ARRAY_LEN_(shapes); b++) {
			struct pb_model m = { .n_tensors = 1 };
			struct pb_tensor orig;
			m.tensors = calloc(1, sizeof(struct pb_tensor));
			tensor_make(&m.tensors[0], "blk.0.ffn_up.weight", 0, PB_ROLE_FFN_UP, dt,
				    shapes[b][0], shapes[b][1], 1);
			orig = m.tensors[0];
			orig.data = malloc(orig.nbytes);
			memcpy(orig.data, m.tensors[0].data, orig.nbytes);
			set("sparsity", sp[a]);
			struct pb_prune_target *tg = run_prune(&m, 0);
			int64_t n = shapes[b][0] * shapes[b][1];
			ck_assert_msg(zeros(&m.tensors[0]) == llround(atof(sp[a]) * (double)n),
				      "sparsity %s n %lld: %lld zeros", sp[a], (long long)n,
				      (long long)zeros(&m.tensors[0]));
			ck_assert_double_eq(tg[0].sparsity, atof(sp[a]));
			assert_smallest_gone(&orig, &m.tensors[0]);
			free(orig.data);
			free(tg);
			model_free(&m);
		}
}

START_TEST(per_tensor_f32) { per_tensor_exact(PB_F32); }
END_TEST

START_TEST(per_tensor_f16) { per_tensor_exact(PB_F16); }
END_TEST

START_TEST(ties_by_index)
{
	/* |w|: 3 1 2 1 1 5 1 -> k = 3 of 7 (0.4): the 1s at 1, 3, 4 go, 6 stays */
	static const float v[] = { 3, -1, 2, 1, -1, 5, 1 };
	struct pb_model m = { .n_tensors = 1 };
	m.tensors = calloc(1, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "t", 0, PB_ROLE_ATTN_Q, PB_F32, 7, 1, 1);
	memcpy(m.tensors[0].data, v, sizeof v);
	set("sparsity", "0.4");
	free(run_prune(&m, 0));
	const float *w = m.tensors[0].data;
	ck_assert_float_eq(w[0], 3);
	ck_assert_float_eq(w[1], 0);
	ck_assert_float_eq(w[2], 2);
	ck_assert_float_eq(w[3], 0);
	ck_assert_float_eq(w[4], 0);
	ck_assert_float_eq(w[5], 5);
	ck_assert_float_eq(w[6], 1);
	model_free(&m);
}
END_TEST

START_TEST(bf16)
{
	/* bf16 = the top half of a float: 3, -1, 2, 0.5, -0.25, 4 */
	static const uint16_t v[] = { 0x4040, 0xbf80, 0x4000, 0x3f00, 0xbe80, 0x4080 };
	struct pb_model m = { .n_tensors = 1 };
	m.tensors = calloc(1, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "t", 0, PB_ROLE_ATTN_O, PB_F16, 6, 1, 1);
	m.tensors[0].dtype = PB_BF16;
	memcpy(m.tensors[0].data, v, sizeof v);
	set("sparsity", "0.5");
	free(run_prune(&m, 0));
	const uint16_t *w = m.tensors[0].data;
	static const uint16_t want[] = { 0x4040, 0, 0x4000, 0, 0, 0x4080 };
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(w[i], want[i]);
	model_free(&m);
}
END_TEST

START_TEST(all_equal_and_zeros_first)
{
	struct pb_model m = { .n_tensors = 1 };
	m.tensors = calloc(1, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "t", 0, PB_ROLE_FFN_DOWN, PB_F16, 10, 2, 1);
	uint16_t *h = m.tensors[0].data;
	for (int i = 0; i < 20; i++)
		h[i] = pb_fp32_to_fp16(i % 2 ? -0.25f : 0.25f);
	h[17] = 0;            /* already zero: ranks first */
	h[19] = 0x8000;       /* -0 too */
	set("sparsity", "0.3");   /* k = 6: the two zeros + indices 0..3 */
	free(run_prune(&m, 0));
	ck_assert_int_eq(zeros(&m.tensors[0]), 6);
	for (int i = 0; i < 20; i++)
		ck_assert_msg((get(&m.tensors[0], i) == 0) == (i < 4 || i == 17 || i == 19),
			      "index %d", i);
	model_free(&m);
}
END_TEST

START_TEST(narrow_bucket)
{
	/* values sharing their high 16 bits exercise the second radix pass */
	struct pb_model m = { .n_tensors = 1 };
	m.tensors = calloc(1, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "t", 0, PB_ROLE_FFN_UP, PB_F32, 1000, 1, 1);
	float *w = m.tensors[0].data;
	for (int i = 0; i < 1000; i++)   /* descending: the last 377 are smallest */
		w[i] = nextafterf(1.0f, 2.0f) + (float)(999 - i) * 1.1920929e-7f;
	set("sparsity", "0.377");
	free(run_prune(&m, 0));
	for (int i = 0; i < 1000; i++)
		ck_assert_msg((w[i] == 0) == (i >= 623), "index %d", i);
	model_free(&m);
}
END_TEST

START_TEST(global_scope)
{
	struct pb_model m = { .n_tensors = 3 }, orig = { .n_tensors = 3 };
	m.tensors = calloc(3, sizeof(struct pb_tensor));
	orig.tensors = calloc(3, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "small", 0, PB_ROLE_ATTN_Q, PB_F32, 10, 10, 0.01f);
	tensor_make(&m.tensors[1], "big", 0, PB_ROLE_FFN_UP, PB_F32, 10, 10, 1.0f);
	tensor_make(&m.tensors[2], "mid", 1, PB_ROLE_FFN_DOWN, PB_F16, 7, 9, 1.0f);
	/* |small| <= 0.01 < |mid| in [0.02, 0.5] < |big| in [0.5, 1] */
	float *big = m.tensors[1].data;
	uint16_t *mid = m.tensors[2].data;
	for (int i = 0; i < 100; i++)
		big[i] = copysignf(0.5f + fabsf(big[i]) * 0.5f, big[i]);
	for (int i = 0; i < 63; i++) {
		float v = pb_fp16_to_fp32(mid[i]);
		mid[i] = pb_fp32_to_fp16(copysignf(0.02f + fabsf(v) * 0.47f, v));
	}
	for (int i = 0; i < 3; i++) {
		orig.tensors[i] = m.tensors[i];
		orig.tensors[i].data = malloc(m.tensors[i].nbytes);
		memcpy(orig.tensors[i].data, m.tensors[i].data, m.tensors[i].nbytes);
	}
	set("scope", "global");
	set("sparsity", "0.6");   /* k = round(0.6 * 263) = 158 */
	struct pb_prune_target *tg = run_prune(&m, 0);
	ck_assert_int_eq(zeros(&m.tensors[0]), 100);
	ck_assert_int_eq(zeros(&m.tensors[1]), 0);
	ck_assert_int_eq(zeros(&m.tensors[2]), 58);
	assert_smallest_gone(&orig.tensors[2], &m.tensors[2]);
	for (int i = 0; i < 3; i++)
		ck_assert_double_eq(tg[i].sparsity, 0.6);
	free(tg);

	/* per tensor, the same weights lose 60% each */
	for (int i = 0; i < 3; i++)
		memcpy(m.tensors[i].data, orig.tensors[i].data, m.tensors[i].nbytes);
	set("scope", "per-tensor");
	free(run_prune(&m, 0));
	ck_assert_int_eq(zeros(&m.tensors[0]), 60);
	ck_assert_int_eq(zeros(&m.tensors[1]), 60);
	ck_assert_int_eq(zeros(&m.tensors[2]), llround(0.6 * 63));
	model_free(&m);
	model_free(&orig);
}
END_TEST

START_TEST(selection)
{
	static const char *const sel[] = { "attention", "ffn", "all" };
	for (int s = 0; s < 3; s++)
		for (int out = 0; out < 2; out++) {
			struct pb_model m, orig;
			lcg = 12345;
			model_make(&m, PB_F32);
			lcg = 12345;
			model_make(&orig, PB_F32);
			set("tensors", sel[s]);
			set("include_output", out ? "true" : "false");
			set("sparsity", "0.5");
			struct pb_prune_target *tg = run_prune(&m, 0);
			for (int i = 0; i < m.n_tensors; i++) {
				enum pb_role r = m.tensors[i].role;
				int want = (r == PB_ROLE_OUTPUT && out) ||
					   (r != PB_ROLE_OUTPUT &&
					    ((s != 1 && pb_role_is_attention(r)) ||
					     (s != 0 && pb_role_is_ffn(r))));
				int same = !memcmp(m.tensors[i].data, orig.tensors[i].data,
						   m.tensors[i].nbytes);
				ck_assert_msg(want != same, "%s tensors=%s out=%d",
					      m.tensors[i].name, sel[s], out);
				ck_assert_double_eq(tg[i].sparsity, want ? 0.5 : -1.0);
			}
			free(tg);
			model_free(&m);
			model_free(&orig);
		}
}
END_TEST

START_TEST(deterministic)
{
	struct pb_model a, b;
	lcg = 99;
	model_make(&a, PB_F16);
	lcg = 99;
	model_make(&b, PB_F16);
	set("scope", "global");
	set("sparsity", "0.45");
	free(run_prune(&a, 0));
	free(run_prune(&b, 0));
	for (int i = 0; i < a.n_tensors; i++)
		ck_assert_int_eq(memcmp(a.tensors[i].data, b.tensors[i].data, a.tensors[i].nbytes), 0);
	model_free(&a);
	model_free(&b);
}
END_TEST

START_TEST(unsupported_format)
{
	struct pb_model m;
	char why[256] = "";
	void *state;
	model_make(&m, PB_F32);
	m.tensors[3].dtype = PB_Q8_0;   /* an attention linear */
	ck_assert_int_eq(plug->init(&th.host, config, &state), 0);
	ck_assert_int_eq(ops->check(state, &m, why, sizeof why), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(why, m.tensors[3].name));
	struct pb_prune_target *tg = calloc((size_t)m.n_tensors, sizeof(*tg));
	ck_assert_int_eq(ops->apply(state, &m, NULL, tg), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(th.log, "Q8_0"));
	ck_assert_ptr_nonnull(strstr(th.log, m.tensors[3].name));
	/* with only the FFN selected, the Q8_0 attention tensor is not in the way */
	set("tensors", "ffn");
	plug->fini(state);
	ck_assert_int_eq(plug->init(&th.host, config, &state), 0);
	ck_assert_int_eq(ops->check(state, &m, why, sizeof why), 0);
	ck_assert_int_eq(ops->apply(state, &m, NULL, tg), 0);
	plug->fini(state);
	free(tg);
	model_free(&m);
}
END_TEST

START_TEST(bad_config_and_bounds)
{
	void *state = NULL;
	/* the core refuses 1.5 by the table's bounds; init must refuse it too */
	ck_assert_str_eq(plug->options[0].key, "sparsity");
	ck_assert_int_eq(test_config_set(plug, config, "sparsity", "1.5"), -EINVAL);
	*(double *)(config + plug->options[0].offset) = 1.5;
	ck_assert_int_eq(plug->init(&th.host, config, &state), -EINVAL);
	ck_assert_ptr_nonnull(strstr(th.log, "sparsity"));
	test_config_defaults(plug, config);
	ck_assert_double_eq(*(double *)(config + plug->options[0].offset), 0.5);

	struct pb_model m = { .n_tensors = 1 };
	m.tensors = calloc(1, sizeof(struct pb_tensor));
	tensor_make(&m.tensors[0], "short", 0, PB_ROLE_ATTN_V, PB_F32, 4, 4, 1);
	m.tensors[0].nbytes = 60;   /* one element short */
	free(run_prune(&m, -EINVAL));
	ck_assert_ptr_nonnull(strstr(th.log, "short"));
	model_free(&m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("magnitude");
	TCase *tc = tcase_create("prune");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, per_tensor_f32);
	tcase_add_test(tc, per_tensor_f16);
	tcase_add_test(tc, ties_by_index);
	tcase_add_test(tc, bf16);
	tcase_add_test(tc, all_equal_and_zeros_first);
	tcase_add_test(tc, narrow_bucket);
	tcase_add_test(tc, global_scope);
	tcase_add_test(tc, selection);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, unsupported_format);
	tcase_add_test(tc, bad_config_and_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/formats/test-real.c — the trained models in ../shared through
 * every reader and the ref backend (ref.c linked in): stories260K as a
 * llama2.c checkpoint and as GGUF v1 (identical tensors and logits),
 * tinystories-656k as a Hugging Face folder (the RoPE permutation is right
 * when the model predicts real text well), every model converted to GGUF
 * f32 (identical logits) and f16 (close), and greedy generation.  Skips
 * (77) without PB_SHARED. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref-rig.h"
#include "arch/arch.h"
#include "fmt.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "text/text.h"
#include "util/util.h"


static char shared[512];

static const char *model_path(const char *rel)
{
	static char p[2][1024];
	static int k;
	char *s = p[k++ % 2];
	snprintf(s, 1024, "%s/models/%s", shared, rel);
	return s;
}

/* The start of the first validation story, cut at a space. */
static char story[640];

static void load_story(void)
{
	char path[1024], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/data/tinystories-valid-head.txt", shared);
	ck_assert_int_eq(pb_read_file(path, &text, &len), 0);
	size_t n = len < sizeof story - 1 ? len : sizeof story - 1;
	memcpy(story, text, n);
	story[n] = '\0';
	char *end = strstr(story, "<|endoftext|>");
	if (end)
		*end = '\0';
	if ((end = strrchr(story, ' ')))
		*end = '\0';
	free(text);
}

static int tokens_of(const struct pb_model *m, const char *text, int32_t *ids, int max)
{
	const struct pb_tokenizer *t = pb_model_tokenizer(m);
	if (!story[0])
		load_story();
	int n = pb_tokenize(t, text, 1, ids, max);
	ck_assert_msg(n > 1 && n <= max && n <= m->hp.ctx, "tokenize: %d", n);
	return n;
}

/* Logits of every position of the story (forward_all), into a new array. */
static float *story_logits(struct pb_model *m, int *n_out)
{
	int32_t ids[1024];
	struct rig r;
	int n = tokens_of(m, story, ids, 1024);
	float *lg = malloc((size_t)n * (size_t)m->hp.vocab * sizeof *lg);
	ck_assert_ptr_nonnull(lg);
	rig_open(&r, m);
	ck_assert_int_eq(pb_session_forward_all(r.s, ids, n, 0, lg), 0);
	r.m = NULL;
	pb_session_close(r.s);
	pb_plugin.fini(r.state);
	*n_out = n;
	return lg;
}

/* Mean negative log-likelihood of the story's tokens, in nats. */
static double story_nll(struct pb_model *m)
{
	int32_t ids[1024];
	int n = tokens_of(m, story, ids, 1024), n2, V = m->hp.vocab;
	float *lg = story_logits(m, &n2);
	double nll = 0;
	for (int t = 0; t + 1 < n; t++) {
		const float *row = lg + (size_t)t * (size_t)V;
		double mx = row[0], z = 0;
		for (int v = 1; v < V; v++)
			mx = row[v] > mx ? row[v] : mx;
		for (int v = 0; v < V; v++)
			z += exp(row[v] - mx);
		nll += -(row[ids[t + 1]] - mx - log(z));
	}
	free(lg);
	return nll / (n - 1);
}

static void same_logits(struct pb_model *a, struct pb_model *b, float tol)
{
	int na, nb;
	float *x = story_logits(a, &na), *y = story_logits(b, &nb);
	ck_assert_int_eq(na, nb);
	ck_assert_int_eq(a->hp.vocab, b->hp.vocab);
	float worst = 0;
	for (size_t i = 0; i < (size_t)na * (size_t)a->hp.vocab; i++)
		worst = fmaxf(worst, fabsf(x[i] - y[i]));
	ck_assert_msg(worst <= tol, "logits differ by %g (tolerance %g)", worst, tol);
	free(x);
	free(y);
}

START_TEST(stories260k_bin_equals_gguf_v1)
{
	struct pb_model *bin = must_load(model_path("stories260K/stories260K.bin"), NULL);
	struct pb_model *v1 = must_load(model_path("stories260K/stories260K-ggufv1-f32.gguf"), NULL);
	/* the same hyper-parameters (the GGUF also names a padding id) */
	ck_assert_int_eq(v1->hp.pad_id, 0);
	v1->hp.pad_id = -1;
	ck_assert_int_eq(memcmp(&bin->hp, &v1->hp, sizeof bin->hp), 0);
	same_tensors(bin, v1, 0);
	same_logits(bin, v1, 0);
	ck_assert_msg(story_nll(bin) < 2.0, "stories260K predicts its own story badly: %g", story_nll(bin));
	pb_model_free(bin);
	pb_model_free(v1);
}
END_TEST

START_TEST(tinystories656k_folder)
{
	struct pb_model *m = must_load(model_path("tinystories-656k"), NULL);
	ck_assert_int_eq(m->hp.dim, 128);
	ck_assert_int_eq(m->hp.n_layers, 2);
	ck_assert_int_eq(m->hp.n_kv_heads, 4);
	ck_assert_int_eq(m->hp.vocab, 2048);
	ck_assert_ptr_eq(pb_model_find(m, -1, PB_ROLE_OUTPUT)->data, pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->data);
	double good = story_nll(m);
	int n;
	float *perm = story_logits(m, &n);
	/* undo the permutation (row 2i + j back to j·hd/2 + i): with the
	 * rotate-half layout the logits must be the same, with the
	 * interleaved one much worse */
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (t->role != PB_ROLE_ATTN_Q && t->role != PB_ROLE_ATTN_K)
			continue;
		size_t rb = pb_row_bytes(t);
		int hd = m->hp.head_dim;
		uint8_t *tmp = malloc(rb * (size_t)hd), *p = t->data;
		for (int64_t h = 0; h < t->ne[1] / hd; h++) {
			memcpy(tmp, p + (size_t)(h * hd) * rb, rb * (size_t)hd);
			for (int r = 0; r < hd; r++)
				memcpy(p + (size_t)(h * hd + (r % 2) * (hd / 2) + r / 2) * rb, tmp + (size_t)r * rb, rb);
		}
		free(tmp);
	}
	double bad = story_nll(m);
	m->hp.rope_layout = PB_ROPE_HALF;
	float *half = story_logits(m, &n);
	float worst = 0;
	for (size_t i = 0; i < (size_t)n * (size_t)m->hp.vocab; i++)
		worst = fmaxf(worst, fabsf(perm[i] - half[i]));
	ck_assert_msg(worst < 1e-4f, "interleaved after the permutation and rotate-half before differ by %g", worst);
	ck_assert_msg(good < 3.5 && good + 1.0 < bad, "nll %g with the permutation, %g without", good, bad);
	free(perm);
	free(half);
	pb_model_free(m);
}
END_TEST

START_TEST(converted_files_load_back)
{
	static const char *const models[] = { "stories260K/stories260K.bin", "tinystories-656k" };
	char err[512];
	for (size_t k = 0; k < PB_ARRAY_LEN(models); k++)
		for (int f16 = 0; f16 < 2; f16++) {
			struct pb_model *m = must_load(model_path(models[k]), NULL);
			struct pb_model *c = must_load(model_path(models[k]), NULL);
			ck_assert_msg(pb_model_convert(c, f16 ? PB_F16 : PB_F32, err, sizeof err) == 0, "%s", err);
			const char *out = spath("conv.gguf");
			ck_assert_msg(pb_gguf_write(c, out, err, sizeof err) == 0, "%s", err);
			pb_model_free(c);
			struct pb_model *b = must_load(out, NULL);
			ck_assert_int_eq(b->hp.vocab, m->hp.vocab);
			ck_assert_int_eq(b->hp.bos_id, m->hp.bos_id);
			ck_assert_int_eq(b->hp.eos_id, m->hp.eos_id);
			ck_assert_int_eq(pb_tokenizer_vocab(pb_model_tokenizer(b)), pb_tokenizer_vocab(pb_model_tokenizer(m)));
			same_tensors(m, b, f16 ? 2e-3f : 0);
			same_logits(m, b, f16 ? 0.05f : 0);
			pb_model_free(b);
			pb_model_free(m);
		}
}
END_TEST

START_TEST(stories260k_greedy)
{
	struct pb_model *m = must_load(model_path("stories260K/stories260K.bin"), NULL);
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	struct rig r;
	int32_t ids[64];
	char text[1024] = "";
	float *lg = malloc((size_t)m->hp.vocab * sizeof *lg);
	int n = pb_tokenize(tok, "Once upon a time", 1, ids, 64), pos = 0;
	ck_assert_int_gt(n, 1);
	for (int i = 0; i < n; i++)
		pb_detokenize(tok, ids[i], text, sizeof text);
	rig_open(&r, m);
	ck_assert_int_eq(pb_session_forward(r.s, ids, n, 0, lg), 0);
	pos = n;
	for (int step = 0; step < 12; step++) {
		int best = 0;
		for (int v = 1; v < m->hp.vocab; v++)
			best = lg[v] > lg[best] ? v : best;
		pb_detokenize(tok, best, text, sizeof text);
		int32_t id = best;
		ck_assert_int_eq(pb_session_forward(r.s, &id, 1, pos++, lg), 0);
	}
	const char *want = "Once upon a time, there was a little girl named Lily";
	ck_assert_msg(!strncmp(text, want, strlen(want)), "generated: '%s'", text);
	free(lg);
	rig_close(&r);
}
END_TEST

int main(void)
{
	const char *env = getenv("PB_SHARED");
	snprintf(shared, sizeof shared, "%s", env ? env : "../shared");
	char probe[1024];
	snprintf(probe, sizeof probe, "%s/models/stories260K/stories260K.bin", shared);
	if (access(probe, R_OK) != 0) {
		printf("skip: %s not found (set PB_SHARED to the shared folder)\n", probe);
		return 77;
	}
	Suite *s = suite_create("real");
	TCase *tc = tcase_create("real");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stories260k_bin_equals_gguf_v1);
	tcase_add_test(tc, tinystories656k_folder);
	tcase_add_test(tc, converted_files_load_back);
	tcase_add_test(tc, stories260k_greedy);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

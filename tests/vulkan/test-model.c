/* tests/vulkan/test-model.c — whole models on the vulkan backend against
 * ref, each through its own pb_session: the logits of a prefill and of
 * every decode step must agree (max |vulkan − ref| ≤ tol · max |ref|)
 * and greedy decoding must choose the same tokens.
 *   test-vulkan-model          a tiny synthetic llama in F32, F16, BF16,
 *                              Q8_0 and Q4_0, and a tiny synthetic T5
 *                              (relative-position bias, cross attention,
 *                              encoder without a causal mask), and
 *                              tiny-llama3, tiny-qwen2, tiny-qwen3 (rope
 *                              factors, bias adds, per-head q/k norms);
 *   test-vulkan-model real     stories260K and tinystories-656k from
 *                              ../shared (exit 77 without it), F32 and
 *                              Q8_0.
 * Exit 77 without a Vulkan device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "vkbe.h"

static char shared[1024];

#define N_PROMPT 12
#define N_GEN 12

/* Prefill N_PROMPT tokens (T5: encode them) then N_GEN greedy steps on
 * both backends; the vulkan backend's GPU clock must have advanced. */
static void compare(struct pb_model *m, double tol, int subgroups)
{
	struct be ref, vk;
	struct pb_session *sr = NULL, *sv = NULL;
	struct vk_config cfg = be_vk_defaults();
	char err[512];
	const int vocab = (int)m->hp.vocab;
	float *lr = malloc((size_t)vocab * sizeof *lr), *lv = malloc((size_t)vocab * sizeof *lv);
	int32_t tok[N_PROMPT];
	cfg.subgroups = subgroups;
	be_open(&ref, "ref", NULL);
	be_open(&vk, "vulkan", &cfg);
	ck_assert_msg(ref.ops->weights_load(ref.st, m) == 0, "%s", be_last_log);
	ck_assert_msg(vk.ops->weights_load(vk.st, m) == 0, "%s", be_last_log);
	ck_assert_msg(pb_session_open(m, ref.ops, ref.st, &sr, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_session_open(m, vk.ops, vk.st, &sv, err, sizeof err) == 0, "%s", err);
	for (int i = 0; i < N_PROMPT; i++)
		tok[i] = (int32_t)((i * 37 + 5) % vocab);
	double ms0 = 0, ms1 = 0;
	ck_assert_int_eq(vk.ops->device_ms(vk.st, &ms0), 0);
	int pos = 0;
	if (pb_session_is_seq2seq(sr)) {
		const int32_t start = m->hp.decoder_start_id;
		ck_assert_int_eq(pb_session_encode(sr, tok, N_PROMPT), 0);
		ck_assert_int_eq(pb_session_encode(sv, tok, N_PROMPT), 0);
		ck_assert_int_eq(pb_session_forward(sr, &start, 1, 0, lr), 0);
		ck_assert_int_eq(pb_session_forward(sv, &start, 1, 0, lv), 0);
		pos = 1;
	} else {
		ck_assert_int_eq(pb_session_forward(sr, tok, N_PROMPT, 0, lr), 0);
		ck_assert_int_eq(pb_session_forward(sv, tok, N_PROMPT, 0, lv), 0);
		pos = N_PROMPT;
	}
	double e = pair_max_rel(lr, lv, vocab), worst = e;
	ck_assert_msg(e <= tol, "%s prefill: relative error %g > %g", m->name, e, tol);
	for (int step = 0; step < N_GEN; step++) {
		int32_t a = pair_argmax(lr, vocab), b = pair_argmax(lv, vocab);
		ck_assert_msg(a == b, "%s step %d: greedy token %d on ref, %d on vulkan", m->name,
			      step, a, b);
		ck_assert_int_eq(pb_session_forward(sr, &a, 1, pos + step, lr), 0);
		ck_assert_int_eq(pb_session_forward(sv, &b, 1, pos + step, lv), 0);
		e = pair_max_rel(lr, lv, vocab);
		worst = e > worst ? e : worst;
		ck_assert_msg(e <= tol, "%s decode step %d: relative error %g > %g", m->name, step, e,
			      tol);
	}
	ck_assert_int_eq(vk.ops->device_ms(vk.st, &ms1), 0);
	ck_assert_msg(ms1 > ms0, "GPU time did not advance (%g → %g ms)", ms0, ms1);
	char kern[64] = "";
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role)) {
			vk.ops->weight_kernel(vk.st, i, kern, sizeof kern);
			break;
		}
	printf("%s (%s): %d steps, worst relative logit error %.2e, same greedy tokens, %.2f ms on "
	       "the device\n", m->name, kern, N_GEN + 1, worst, ms1 - ms0);
	pb_session_close(sr);
	pb_session_close(sv);
	be_close(&ref);
	be_close(&vk);
	free(lr);
	free(lv);
}

/* small enough for lavapipe on two cores: dim 64, 2 layers, GQA */
static struct pb_model *tiny_llama(void)
{
	struct pb_hparams hp = {
		.dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 16,
		.ffn_dim = 96, .vocab = 300, .ctx = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2, .pad_id = -1,
		.ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[512];
	ck_assert_msg(pb_model_synth_hp("tiny-llama", &hp, 7, &m, err, sizeof err) == 0, "%s", err);
	return m;
}

START_TEST(synth_llama)
{
	static const enum pb_dtype ds[] = { PB_F32, PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };
	for (int i = 0; i < 5; i++) {
		struct pb_model *m = tiny_llama();
		char err[512];
		if (ds[i] != PB_F32)
			ck_assert_msg(pb_model_convert(m, ds[i], err, sizeof err) == 0, "%s", err);
		compare(m, 2e-5, i == 4 ? 2 : 0);   /* the last with the shared-memory shaders */
		pb_model_free(m);
	}
}
END_TEST

START_TEST(synth_t5)
{
	struct pb_hparams hp = {
		.dim = 64, .n_layers = 2, .n_enc_layers = 2, .n_heads = 4, .n_kv_heads = 4,
		.head_dim = 16, .ffn_dim = 128, .vocab = 300, .ctx = 64, .norm_eps = 1e-6f,
		.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0,
		.rel_buckets = 32, .rel_max_distance = 128, .ffn_act = PB_ACT_GELU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL;
	char err[512];
	ck_assert_msg(pb_model_synth_hp("tiny-t5", &hp, 11, &m, err, sizeof err) == 0, "%s", err);
	compare(m, 2e-5, 0);
	pb_model_free(m);
}
END_TEST

/* The Llama-family members with their own ops: llama3's rope_freqs
 * (interleaved RoPE), qwen2's bias adds, qwen3's per-head q/k norms
 * (rotate-half RoPE, head_dim 32), Gemma's scaled embedding, post-norms,
 * GeGLU, soft caps and sliding windows, Phi-3's longrope factors and
 * attention factor (RoPE mscale) over its split q/k/v and gate/up, in F32
 * and with F16 linears. */
START_TEST(synth_decoders)
{
	static const char *const names[] = { "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma2",
					     "tiny-gemma3", "tiny-phi3" };
	for (int i = 0; i < 6; i++)
		for (int f16 = 0; f16 < 2; f16++) {
			struct pb_model *m = NULL;
			char err[512];
			ck_assert_msg(pb_model_synth(names[i], 5, &m, err, sizeof err) == 0, "%s", err);
			/* a larger embedding: logits far from ties */
			pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), 5, 99, 0.5f);
			if (f16)
				ck_assert_msg(pb_model_convert(m, PB_F16, err, sizeof err) == 0, "%s", err);
			compare(m, 2e-5, 0);
			pb_model_free(m);
		}
}
END_TEST

static struct pb_model *load(const char *rel)
{
	char path[2048], err[512];
	struct pb_model *m = NULL;
	snprintf(path, sizeof path, "%s/models/%s", shared, rel);
	ck_assert_msg(pb_model_load(path, &m, err, sizeof err) == 0, "%s: %s", path, err);
	return m;
}

START_TEST(real_models)
{
	static const char *const models[] = { "stories260K/stories260K.bin", "tinystories-656k" };
	for (int i = 0; i < 2; i++) {
		struct pb_model *m = load(models[i]);
		compare(m, 2e-5, 0);
		char err[512];
		ck_assert_msg(pb_model_convert(m, PB_Q8_0, err, sizeof err) == 0, "%s", err);
		compare(m, 2e-5, 0);   /* stories260K's 172-wide rows stay F16 */
		pb_model_free(m);
	}
}
END_TEST

int main(int argc, char **argv)
{
	const int real = argc > 1 && !strcmp(argv[1], "real");
	be_require_vulkan();
	Suite *s = suite_create("vulkan-model");
	TCase *tc = tcase_create("model");
	tcase_set_timeout(tc, 300);
	if (real) {
		const char *env = getenv("PB_SHARED");
		char probe[1100];
		snprintf(shared, sizeof shared, "%s", env ? env : "../shared");
		snprintf(probe, sizeof probe, "%s/models/stories260K/stories260K.bin", shared);
		if (access(probe, R_OK) != 0) {
			printf("skip: %s not found (set PB_SHARED to the shared folder)\n", probe);
			return 77;
		}
		tcase_add_test(tc, real_models);
	} else {
		tcase_add_test(tc, synth_llama);
		tcase_add_test(tc, synth_t5);
		tcase_add_test(tc, synth_decoders);
	}
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/formats/test-hf.c — Hugging Face folders: LlamaForCausalLM (q/k
 * rows permuted to interleaved RoPE exactly as convert_hf_to_gguf.py does,
 * tied and untied heads, F16/BF16 storage, shards) and
 * T5ForConditionalGeneration (v1.0 ReLU and v1.1 gated-GELU, tied head
 * scale, buckets); then folders that are wrong in one way each. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/ops.h>

#include "hfx.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "text/text.h"
#include "util/util.h"

static const struct st_entry *entry_named(const struct st_entry *e, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(e[i].name, name))
			return &e[i];
	ck_abort_msg("no entry %s", name);
	return NULL;
}

/* Loaded row r of q/k equals stored row perm(r), per head of 8. */
static void check_permuted(const struct pb_tensor *t, const struct st_entry *e)
{
	size_t rb = pb_row_bytes(t);
	for (int64_t r = 0; r < t->ne[1]; r++) {
		int64_t h = r / 8, k = r % 8, i = k / 2, j = k % 2;
		int64_t src = h * 8 + j * 4 + i;
		ck_assert_msg(!memcmp((const uint8_t *)t->data + (size_t)r * rb,
				      (const uint8_t *)e->data + (size_t)src * rb, rb),
			      "%s row %lld is not stored row %lld", t->name, (long long)r, (long long)src);
	}
}

START_TEST(llama_layouts)
{
	static const char *const dtypes[] = { "F32", "F16", "BF16" };
	static const enum pb_dtype dt[] = { PB_F32, PB_F16, PB_BF16 };
	for (int k = 0; k < 3; k++) {
		struct st_entry *e;
		const char *dir = hfx_llama_dir("llama", 2, NULL);
		int n = hfx_llama_entries(dtypes[k], 2, 1, 1, &e);
		st_write(hfx_path(dir, "model.safetensors"), e, n, "{\"format\":\"pt\"}");
		struct pb_model *m = must_load(dir, NULL);
		ck_assert_str_eq(m->name, "llama");
		ck_assert_int_eq(m->arch, PB_ARCH_LLAMA);
		ck_assert_int_eq(m->hp.dim, 32);
		ck_assert_int_eq(m->hp.n_layers, 2);
		ck_assert_int_eq(m->hp.n_kv_heads, 2);
		ck_assert_int_eq(m->hp.head_dim, 8);
		ck_assert_int_eq(m->hp.vocab, 16);
		ck_assert_int_eq(m->hp.ctx, 64);
		ck_assert_int_eq(m->hp.rope_layout, PB_ROPE_INTERLEAVED);
		ck_assert_float_eq_tol(m->hp.norm_eps, 1e-6f, 1e-12f);
		ck_assert_int_eq(m->n_tensors, 2 + 9 * 2 + 1);
		ck_assert_int_eq(pb_tokenizer_vocab(pb_model_tokenizer(m)), 6);
		check_permuted(tensor_named(m, "blk.1.attn_q.weight"),
			       entry_named(e, n, "model.layers.1.self_attn.q_proj.weight"));
		check_permuted(tensor_named(m, "blk.0.attn_k.weight"),
			       entry_named(e, n, "model.layers.0.self_attn.k_proj.weight"));
		const struct pb_tensor *v = tensor_named(m, "blk.0.attn_v.weight");
		const struct st_entry *ve = entry_named(e, n, "model.layers.0.self_attn.v_proj.weight");
		ck_assert_int_eq(v->dtype, dt[k]);
		ck_assert(!memcmp(v->data, ve->data, ve->nbytes));
		ck_assert_int_eq(v->ne[0], 32);
		ck_assert_int_eq(v->ne[1], 16);
		/* norms in F32 whatever was stored, with the same values */
		const struct pb_tensor *nrm = tensor_named(m, "output_norm.weight");
		ck_assert_int_eq(nrm->dtype, PB_F32);
		float want[32];
		pb_dequantize_row(dt[k], entry_named(e, n, "model.norm.weight")->data, want, 32);
		ck_assert(!memcmp(nrm->data, want, sizeof want));
		/* stored lm_head, untied */
		const struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
		ck_assert(!memcmp(o->data, entry_named(e, n, "lm_head.weight")->data, o->nbytes));
		ck_assert_ptr_ne(o->data, pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->data);
		pb_model_free(m);
	}
}
END_TEST

START_TEST(llama_tied_and_sharded)
{
	struct st_entry *e;
	/* only lm_head stored (as tinystories-656k): it is the embedding */
	const char *dir = hfx_llama_dir("tied1", 1, "\"hidden_act\": \"silu\"");
	int n = hfx_llama_entries("F32", 1, 0, 1, &e);
	st_write(hfx_path(dir, "model.safetensors"), e, n, "{\"model.embed_tokens.weight\":\"lm_head.weight\"}");
	struct pb_model *m = must_load(dir, NULL);
	const struct pb_tensor *te = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	ck_assert_str_eq(te->name, "token_embd.weight");
	ck_assert(!memcmp(te->data, entry_named(e, n, "lm_head.weight")->data, te->nbytes));
	ck_assert_ptr_eq(pb_model_find(m, -1, PB_ROLE_OUTPUT)->data, te->data);
	pb_model_free(m);
	/* no lm_head: tied to the embedding */
	dir = hfx_llama_dir("tied2", 1, NULL);
	n = hfx_llama_entries("F32", 1, 1, 0, &e);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	m = must_load(dir, NULL);
	ck_assert_ptr_eq(pb_model_find(m, -1, PB_ROLE_OUTPUT)->data, pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->data);
	ck_assert_int_eq(m->n_tensors, 2 + 9 + 1);
	struct pb_model *single = m;
	/* the same weights in two shards */
	dir = hfx_llama_dir("shards", 1, NULL);
	st_write(hfx_path(dir, "model-00001-of-00002.safetensors"), e, 4, NULL);
	st_write(hfx_path(dir, "model-00002-of-00002.safetensors"), e + 4, n - 4, NULL);
	char idx[4096];
	int k = snprintf(idx, sizeof idx, "{\"metadata\": {}, \"weight_map\": {");
	for (int i = 0; i < n; i++)
		k += snprintf(idx + k, sizeof idx - (size_t)k, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
			      i ? ", " : "", e[i].name, i < 4 ? 1 : 2);
	snprintf(idx + k, sizeof idx - (size_t)k, "}}");
	write_text(hfx_path(dir, "model.safetensors.index.json"), idx);
	m = must_load(hfx_path(dir, "model.safetensors.index.json"), NULL);   /* a file stands for its folder */
	same_tensors(single, m, 0);
	pb_model_free(m);
	pb_model_free(single);
}
END_TEST

START_TEST(t5_variants)
{
	for (int gated = 0; gated < 2; gated++) {
		struct st_entry *e;
		const char *dir = hfx_t5_dir("t5", gated ? "gated-gelu" : "relu",
					     gated ? "\"tie_word_embeddings\": false" : NULL);
		int n = hfx_t5_entries(gated, gated, &e);
		st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
		struct pb_model *m = must_load(dir, NULL);
		ck_assert_int_eq(m->arch, PB_ARCH_T5);
		ck_assert_int_eq(m->hp.n_enc_layers, 1);
		ck_assert_int_eq(m->hp.n_layers, 1);
		ck_assert_int_eq(m->hp.rel_buckets, 8);
		ck_assert_int_eq(m->hp.rel_max_distance, 20);
		ck_assert_int_eq(m->hp.ffn_gated, gated);
		ck_assert_int_eq(m->hp.ffn_act, gated ? PB_ACT_GELU : PB_ACT_RELU);
		ck_assert_int_eq(m->hp.decoder_start_id, 0);
		ck_assert_int_eq(m->hp.eos_id, 1);
		ck_assert_float_eq_tol(m->hp.logit_scale, gated ? 0.0f : 1.0f / sqrtf(32.0f), 1e-7f);   /* 0 means 1 */
		/* shared + encoder.embed_tokens: one embedding */
		int embd = 0;
		for (int i = 0; i < m->n_tensors; i++)
			embd += m->tensors[i].role == PB_ROLE_TOK_EMBD;
		ck_assert_int_eq(embd, 1);
		const struct pb_tensor *rb = pb_model_find_in(m, PB_STACK_DECODER, 0, PB_ROLE_ATTN_REL_BIAS);
		ck_assert_str_eq(rb->name, "dec.blk.0.attn_rel_b.weight");
		ck_assert_int_eq(rb->ne[0], 4);
		ck_assert_int_eq(rb->ne[1], 8);
		ck_assert_str_eq(pb_model_find_in(m, PB_STACK_DECODER, 0, PB_ROLE_CROSS_K)->name,
				 "dec.blk.0.cross_attn_k.weight");
		ck_assert_str_eq(pb_model_find_in(m, PB_STACK_ENCODER, 0, PB_ROLE_FFN_UP)->name,
				 "enc.blk.0.ffn_up.weight");
		ck_assert_int_eq(pb_model_find_in(m, PB_STACK_ENCODER, 0, PB_ROLE_FFN_GATE) != NULL, gated);
		ck_assert_str_eq(pb_model_find_in(m, PB_STACK_ENCODER, -1, PB_ROLE_OUT_NORM)->name,
				 "enc.output_norm.weight");
		/* t5 writes to GGUF and reads back the same */
		char err[512];
		const char *out = hfx_path(scratch(), "t5.gguf");
		ck_assert_msg(pb_gguf_write(m, out, err, sizeof err) == 0, "%s", err);
		struct pb_model *b = must_load(out, NULL);
		same_tensors(m, b, 0);
		ck_assert_int_eq(b->hp.rel_max_distance, 20);
		ck_assert_float_eq(b->hp.logit_scale, m->hp.logit_scale);
		ck_assert_int_eq(b->hp.vocab, 16);
		ck_assert_int_eq(pb_tokenizer_vocab(pb_model_tokenizer(b)), 16);   /* padded */
		pb_model_free(b);
		pb_model_free(m);
	}
}
END_TEST

/* ---- folders wrong in one way ---- */

static const char *llama_folder(const char *extra, int layers)
{
	struct st_entry *e;
	const char *dir = hfx_llama_dir("bad", 1, extra);
	int n = hfx_llama_entries("F32", layers, 1, 1, &e);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	return dir;
}

START_TEST(bad_config)
{
	const char *dir = llama_folder(NULL, 1);
	write_text(hfx_path(dir, "config.json"), "{\"hidden_size\": 32,\n \"x\": }");
	must_fail(dir, NULL, -1, "config.json:2:");
	dir = llama_folder("\"rope_scaling\": {\"type\": \"linear\"}", 1);
	must_fail(dir, NULL, -1, "rope_scaling type 'linear' is not supported (llama3 only)");
	dir = llama_folder(NULL, 1);
	write_text(hfx_path(dir, "config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], \"intermediate_size\": 64}");
	must_fail(dir, NULL, -1, "missing key 'hidden_size'");
	dir = llama_folder(NULL, 1);
	write_text(hfx_path(dir, "config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"]}");
	must_fail(dir, NULL, -1, "architecture 'GPT2LMHeadModel' is not supported");
	dir = llama_folder("\"hidden_act\": \"gelu\"", 1);
	must_fail(dir, NULL, -1, "hidden_act 'gelu' is not supported");
	dir = llama_folder("\"head_dim\": 7", 1);
	must_fail(dir, NULL, -1, "head_dim 7 must be even");
	dir = llama_folder(NULL, 1);
	write_text(hfx_path(dir, "config.json"), "[1, 2]");
	must_fail(dir, NULL, -1, "expected a JSON object");
}
END_TEST

START_TEST(bad_weights)
{
	struct st_entry *e;
	char err[64];
	/* a block beyond num_hidden_layers */
	const char *dir = llama_folder(NULL, 2);
	must_fail(dir, NULL, -1, "block 1, but the config has 1");
	/* a weight this architecture does not have */
	dir = hfx_llama_dir("bad", 1, NULL);
	int n = hfx_llama_entries("F32", 1, 1, 1, &e);
	struct st_entry x[64];
	memcpy(x, e, (size_t)n * sizeof *e);
	x[n] = x[n - 1];
	x[n].name = "model.layers.0.mlp.bias";
	st_write(hfx_path(dir, "model.safetensors"), x, n + 1, NULL);
	must_fail(dir, NULL, -1, "tensor 'model.layers.0.mlp.bias': not a LlamaForCausalLM weight");
	/* q_proj of 24 rows: not whole heads of 8 ... 24 is; use 20 */
	memcpy(x, e, (size_t)n * sizeof *e);
	for (int i = 0; i < n; i++)
		if (!strcmp(x[i].name, "model.layers.0.self_attn.q_proj.weight")) {
			x[i].shape[0] = 20;
			x[i].nbytes = 20 * 32 * 4;
		}
	st_write(hfx_path(dir, "model.safetensors"), x, n, NULL);
	must_fail(dir, NULL, -1, "q_proj.weight': shape [32, 20]");
	/* an embedding with the wrong vocabulary */
	memcpy(x, e, (size_t)n * sizeof *e);
	x[1].shape[0] = 15;
	x[1].nbytes = 15 * 32 * 4;
	st_write(hfx_path(dir, "model.safetensors"), x, n, NULL);
	must_fail(dir, NULL, -1, "15 rows, but vocab_size is 16");
	/* no weights at all */
	remove(hfx_path(dir, "model.safetensors"));
	must_fail(dir, NULL, -1, "no model.safetensors");
	/* an index naming a tensor its shard lacks */
	st_write(hfx_path(dir, "a.safetensors"), e, n, NULL);
	write_text(hfx_path(dir, "model.safetensors.index.json"),
		   "{\"weight_map\": {\"model.norm.weight\": \"a.safetensors\", \"model.x.weight\": \"a.safetensors\"}}");
	must_fail(dir, NULL, -1, "tensor 'model.x.weight' is not in a.safetensors");
	write_text(hfx_path(dir, "model.safetensors.index.json"), "{\"weight_map\": {\"model.norm.weight\": \"../a\"}}");
	must_fail(dir, NULL, -1, "expected a file name in the folder");
	/* no tokenizer */
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	remove(hfx_path(dir, "tokenizer.json"));
	must_fail(dir, NULL, -1, "no tokenizer.json");
	/* T5: gated config, ungated weights */
	dir = hfx_t5_dir("badt5", "gated-gelu", NULL);
	n = hfx_t5_entries(0, 0, &e);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	must_fail(dir, NULL, -1, "feed_forward_proj says gated");
	dir = hfx_t5_dir("badt5", "swish", NULL);
	st_write(hfx_path(dir, "model.safetensors"), e, n, NULL);
	must_fail(dir, NULL, -1, "feed_forward_proj 'swish' is not supported");
	(void)err;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hf");
	TCase *tc = tcase_create("hf");
	tcase_add_test(tc, llama_layouts);
	tcase_add_test(tc, llama_tied_and_sharded);
	tcase_add_test(tc, t5_variants);
	tcase_add_test(tc, bad_config);
	tcase_add_test(tc, bad_weights);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

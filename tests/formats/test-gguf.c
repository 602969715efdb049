/* tests/formats/test-gguf.c — the GGUF reader (versions 1, 2, 3; F32,
 * F16, BF16, Q8_0, Q4_0; llama and t5; k-quant files in test-kquant.c) and writer, on files built by an
 * independent test writer (gg.c); then malformed copies, each of which must
 * fail with its own message at the offset of the field that is wrong. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "model/gguf.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "text/text.h"
#include "util/util.h"
#include <prunebench/ops.h>

static const char *save(struct gg *g, const char *name)
{
	const char *p = spath(name);
	write_bytes(p, g->out.p, g->out.n);
	return p;
}

static void check_tiny_llama(const struct pb_model *m)
{
	ck_assert_int_eq(m->arch, PB_ARCH_LLAMA);
	ck_assert_int_eq(m->hp.dim, 32);
	ck_assert_int_eq(m->hp.n_layers, 1);
	ck_assert_int_eq(m->hp.n_heads, 4);
	ck_assert_int_eq(m->hp.n_kv_heads, 2);
	ck_assert_int_eq(m->hp.head_dim, 8);
	ck_assert_int_eq(m->hp.ffn_dim, 64);
	ck_assert_int_eq(m->hp.vocab, 260);
	ck_assert_int_eq(m->hp.ctx, 64);
	ck_assert_int_eq(m->hp.bos_id, 1);
	ck_assert_int_eq(m->hp.eos_id, 2);
	ck_assert_int_eq(m->hp.rope_layout, PB_ROPE_INTERLEAVED);
	ck_assert_int_eq(m->n_tensors, 12);   /* 11 + the tied output */
	ck_assert_int_eq(pb_tokenizer_vocab(pb_model_tokenizer(m)), 260);
	const struct pb_tensor *e = pb_model_find(m, -1, PB_ROLE_TOK_EMBD);
	const struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_eq(e->data, o->data);
	ck_assert_ptr_nonnull(pb_model_find(m, 0, PB_ROLE_FFN_DOWN));
}

/* The same file in every version and type loads with the same values. */
START_TEST(versions_and_types)
{
	static const uint32_t types[] = { GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16,
					  GGML_TYPE_Q8_0, GGML_TYPE_Q4_0 };
	static const enum pb_dtype dt[] = { PB_F32, PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };
	static const float tol[] = { 0, 1e-3f, 8e-3f, 1.5e-2f, 0.15f };
	struct gg ref;
	gg_tiny_llama(&ref, 3, GGML_TYPE_F32);
	gg_finish(&ref);
	struct pb_model *r = must_load(save(&ref, "ref.gguf"), NULL);
	check_tiny_llama(r);
	for (int v = 1; v <= 3; v++)
		for (size_t k = 0; k < PB_ARRAY_LEN(types); k++) {
			struct gg g;
			char name[32];
			gg_tiny_llama(&g, v, types[k]);
			gg_finish(&g);
			snprintf(name, sizeof name, "v%d-%zu.gguf", v, k);
			struct pb_model *m = must_load(save(&g, name), NULL);
			check_tiny_llama(m);
			ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_ATTN_Q)->dtype, dt[k]);
			/* norms stay F32; everything dequantizes near the F32 file */
			ck_assert_int_eq(pb_model_find(m, 0, PB_ROLE_ATTN_NORM)->dtype, PB_F32);
			if (k == 0)
				same_tensors(r, m, 0);
			else
				same_tensors(r, m, tol[k]);
			pb_model_free(m);
			gg_free(&g);
		}
	pb_model_free(r);
	gg_free(&ref);
}
END_TEST

START_TEST(t5_reads_and_round_trips)
{
	for (int variant = 0; variant < 2; variant++) {
		struct gg g;
		gg_tiny_t5(&g, variant, !variant);
		gg_finish(&g);
		struct pb_model *m = must_load(save(&g, "t5.gguf"), NULL);
		ck_assert_int_eq(m->arch, PB_ARCH_T5);
		ck_assert_int_eq(m->hp.n_enc_layers, 1);
		ck_assert_int_eq(m->hp.n_layers, 1);
		ck_assert_int_eq(m->hp.rel_buckets, 8);
		ck_assert_int_eq(m->hp.rel_max_distance, 128);
		ck_assert_int_eq(m->hp.ffn_gated, variant);
		ck_assert_int_eq(m->hp.ffn_act, variant ? PB_ACT_GELU : PB_ACT_RELU);
		ck_assert_int_eq(m->hp.decoder_start_id, 0);
		ck_assert_int_eq(m->hp.pad_id, 0);
		ck_assert_int_eq(m->hp.eos_id, 1);
		ck_assert_int_eq(m->hp.unk_id, 2);
		/* tied: HF's d_model^-0.5; stored output: 1 */
		ck_assert_float_eq_tol(m->hp.logit_scale, variant ? 0.0f : 1.0f / sqrtf(32.0f), 1e-7f);   /* 0 means 1 */
		const struct pb_tensor *rb = pb_model_find_in(m, PB_STACK_ENCODER, 0, PB_ROLE_ATTN_REL_BIAS);
		ck_assert_ptr_nonnull(rb);
		ck_assert_int_eq(rb->ne[0], 4);
		ck_assert_int_eq(rb->ne[1], 8);
		ck_assert_ptr_nonnull(pb_model_find_in(m, PB_STACK_DECODER, 0, PB_ROLE_CROSS_O));
		ck_assert_ptr_nonnull(pb_model_find_in(m, PB_STACK_ENCODER, -1, PB_ROLE_OUT_NORM));
		ck_assert_ptr_nonnull(pb_model_find_in(m, PB_STACK_DECODER, -1, PB_ROLE_OUT_NORM));
		ck_assert_ptr_null(pb_model_find_in(m, PB_STACK_ENCODER, 0, PB_ROLE_CROSS_Q));
		char err[512];
		const char *out = spath("t5-out.gguf");
		ck_assert_msg(pb_gguf_write(m, out, err, sizeof err) == 0, "%s", err);
		struct pb_model *b = must_load(out, NULL);
		same_tensors(m, b, 0);
		ck_assert_int_eq(memcmp(&m->hp, &b->hp, sizeof m->hp), 0);
		pb_model_free(b);
		pb_model_free(m);
		gg_free(&g);
	}
}
END_TEST

/* Writing, converting and reading back: identical in f32, close after. */
START_TEST(writer_round_trip)
{
	struct gg g;
	char err[512];
	gg_tiny_llama(&g, 1, GGML_TYPE_F32);
	gg_finish(&g);
	const char *in = save(&g, "v1.gguf");
	struct pb_model *m = must_load(in, NULL);
	static const enum pb_dtype to[] = { PB_F32, PB_F16, PB_BF16, PB_Q8_0, PB_Q4_0 };
	static const float tol[] = { 0, 1e-3f, 8e-3f, 1.5e-2f, 0.15f };
	for (size_t k = 0; k < PB_ARRAY_LEN(to); k++) {
		struct pb_model *c = must_load(in, NULL);
		ck_assert_msg(pb_model_convert(c, to[k], err, sizeof err) == 0, "%s", err);
		const char *out = spath("conv.gguf");
		ck_assert_msg(pb_gguf_write(c, out, err, sizeof err) == 0, "%s", err);
		struct pb_model *b = must_load(out, NULL);
		check_tiny_llama(b);
		ck_assert_int_eq(pb_model_find(b, 0, PB_ROLE_FFN_UP)->dtype, to[k]);
		ck_assert_int_eq(pb_model_find(b, -1, PB_ROLE_OUT_NORM)->dtype, PB_F32);
		same_tensors(c, b, 0);
		same_tensors(m, b, tol[k]);
		pb_model_free(b);
		pb_model_free(c);
	}
	pb_model_free(m);
	gg_free(&g);
}
END_TEST

/* Synthetic models of both architectures write and read back exactly:
 * the same tensors and the same hyper-parameters. */
START_TEST(synth_round_trip)
{
	struct pb_hparams t5 = {
		.dim = 32, .n_layers = 2, .n_enc_layers = 1, .n_heads = 4, .n_kv_heads = 4, .head_dim = 8,
		.ffn_dim = 64, .vocab = 300, .ctx = 64, .norm_eps = 1e-6f, .bos_id = -1, .eos_id = 1,
		.pad_id = 0, .unk_id = 2, .rel_buckets = 8, .rel_max_distance = 64,
		.ffn_act = PB_ACT_GELU, .ffn_gated = 1,
	};
	struct pb_hparams llama = {
		.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .ffn_dim = 64,
		.vocab = 300, .ctx = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = 2,
		.pad_id = -1, .unk_id = 0, .ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	for (int k = 0; k < 3; k++) {
		struct pb_hparams hp = k == 2 ? llama : t5;
		if (k == 1)
			hp.logit_scale = 1.0f / sqrtf(32.0f);   /* tied, v1.0 style */
		struct pb_model *m = NULL, *b;
		char err[512];
		ck_assert_msg(pb_model_synth_hp("tiny", &hp, 5, &m, err, sizeof err) == 0, "%s", err);
		const char *out = spath("synth.gguf");
		ck_assert_msg(pb_gguf_write(m, out, err, sizeof err) == 0, "%s", err);
		b = must_load(out, NULL);
		same_tensors(m, b, 0);
		ck_assert_msg(!memcmp(&m->hp, &b->hp, sizeof m->hp), "hyper-parameters differ (case %d)", k);
		pb_model_free(b);
		pb_model_free(m);
	}
}
END_TEST

/* A file trained for more positions than a run needs: the run's context
 * is capped at PB_CTX_DEFAULT (a session sizes its KV cache by it), the
 * trained one is kept and written back, and a run may ask for 1 … the
 * trained context, no more. */
START_TEST(context_cap)
{
	struct pb_hparams hp = {
		.dim = 32, .n_layers = 1, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .ffn_dim = 64,
		.vocab = 300, .ctx = 131072, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1,
		.eos_id = 2, .pad_id = -1, .unk_id = 0, .ffn_act = PB_ACT_SILU, .ffn_gated = 1,
	};
	struct pb_model *m = NULL, *b, *c;
	char err[512];
	ck_assert_msg(pb_model_synth_hp("long", &hp, 5, &m, err, sizeof err) == 0, "%s", err);
	const char *out = spath("long.gguf");
	ck_assert_msg(pb_gguf_write(m, out, err, sizeof err) == 0, "%s", err);
	b = must_load(out, NULL);
	ck_assert_int_eq(b->hp.ctx, PB_CTX_DEFAULT);
	ck_assert_int_eq(b->hp.ctx_train, 131072);
	ck_assert_int_eq(pb_model_set_ctx(b, 8192, err, sizeof err), 0);
	ck_assert_int_eq(b->hp.ctx, 8192);
	ck_assert_int_eq(pb_model_set_ctx(b, 131073, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "expected 1 to the 131072 positions"), "%s", err);
	ck_assert_int_eq(pb_model_set_ctx(b, 0, err, sizeof err), -EINVAL);
	ck_assert_int_eq(b->hp.ctx, 8192);
	/* written back as trained, whatever the run used */
	const char *again = spath("long2.gguf");
	ck_assert_msg(pb_gguf_write(b, again, err, sizeof err) == 0, "%s", err);
	c = must_load(again, NULL);
	ck_assert_int_eq(c->hp.ctx_train, 131072);
	ck_assert_int_eq(c->hp.ctx, PB_CTX_DEFAULT);
	pb_model_free(c);
	pb_model_free(b);
	pb_model_free(m);
}
END_TEST

/* ---- malformed files ---- */

struct bad {
	struct gg g;
	uint8_t *p;
	size_t n;
};

static void bad_open(struct bad *b, int version)
{
	gg_tiny_llama(&b->g, version, GGML_TYPE_F32);
	gg_finish(&b->g);
	b->p = b->g.out.p;
	b->n = b->g.out.n;
}

static void bad_expect(struct bad *b, long offset, const char *needle)
{
	const char *p = spath("bad.gguf");
	write_bytes(p, b->p, b->n);
	must_fail(p, NULL, offset, needle);
	gg_free(&b->g);
}

static struct gg_tensor *gt(struct bad *b, const char *name)
{
	for (int i = 0; i < b->g.nt; i++)
		if (!strcmp(b->g.t[i].name, name))
			return &b->g.t[i];
	ck_abort_msg("no tensor %s", name);
	return NULL;
}

START_TEST(bad_header)
{
	struct bad b;
	bad_open(&b, 3);
	memcpy(b.p, "GGUX", 4);
	bad_expect(&b, 0, "bad magic");
	bad_open(&b, 3);
	put_u32_at(b.p, 4, 4);
	bad_expect(&b, 4, "unsupported GGUF version 4");
	bad_open(&b, 3);
	b.n = 12;
	bad_expect(&b, 8, "truncated");
	bad_open(&b, 3);
	put_u64_at(b.p, b.g.ntens_at, 1ull << 40);
	bad_expect(&b, 8, "tensor count");
	bad_open(&b, 3);
	put_u64_at(b.p, b.g.nkv_at, 1ull << 50);
	bad_expect(&b, 16, "metadata count");
	bad_open(&b, 1);                         /* v1: 32-bit counts */
	put_u32_at(b.p, b.g.nkv_at, 0x7fffffff);
	bad_expect(&b, 12, "metadata count");
}
END_TEST

START_TEST(bad_metadata)
{
	struct bad b;
	size_t at;
	bad_open(&b, 3);                         /* a key's length runs past the end */
	at = gg_kv_offset(&b.g, "general.name");
	put_u64_at(b.p, at, 1ull << 60);
	bad_expect(&b, (long)at, "string length");
	bad_open(&b, 3);                         /* value type 99 */
	at = gg_kv_offset(&b.g, "llama.block_count");
	put_u32_at(b.p, at + 8 + strlen("llama.block_count"), 99);
	bad_expect(&b, (long)(at + 8 + strlen("llama.block_count") + 4), "unknown value type 99");
	bad_open(&b, 2);                         /* an array longer than the file */
	at = gg_kv_offset(&b.g, "tokenizer.ggml.scores");
	put_u64_at(b.p, at + 8 + strlen("tokenizer.ggml.scores") + 8, 1ull << 40);
	bad_expect(&b, (long)(at + 8 + strlen("tokenizer.ggml.scores") + 8), "array of 1099511627776 elements");
	gg_tiny_llama(&b.g, 3, GGML_TYPE_F32);     /* a duplicate key */
	gg_kv_u32(&b.g, "llama.block_count", 1);
	gg_finish(&b.g);
	b.p = b.g.out.p;
	b.n = b.g.out.n;
	bad_expect(&b, (long)(8 + 2 * 8 + b.g.kv_at[b.g.n_kv - 1]), "duplicate metadata key 'llama.block_count'");
	bad_open(&b, 3);                         /* an out-of-range hyper-parameter */
	at = gg_kv_offset(&b.g, "llama.attention.head_count_kv");
	put_u32_at(b.p, at + 8 + strlen("llama.attention.head_count_kv") + 4, 3);
	bad_expect(&b, (long)at, "head_count 4 is not a multiple of head_count_kv 3");
	bad_open(&b, 3);                         /* a token id past the vocabulary */
	at = gg_kv_offset(&b.g, "tokenizer.ggml.bos_token_id");
	put_u32_at(b.p, at + 8 + strlen("tokenizer.ggml.bos_token_id") + 4, 999);
	bad_expect(&b, (long)at, "out of range -1..259");
}
END_TEST

START_TEST(bad_architecture_and_vocab)
{
	struct gg g;
	gg_init(&g, 3);
	gg_kv_str(&g, "general.architecture", "gpt2");
	gg_finish(&g);
	must_fail(save(&g, "arch.gguf"), NULL, (long)gg_kv_offset(&g, "general.architecture"),
		  "unsupported architecture 'gpt2'");
	gg_free(&g);
	gg_init(&g, 3);
	gg_kv_str(&g, "general.name", "x");
	gg_finish(&g);
	must_fail(save(&g, "noarch.gguf"), NULL, -1, "missing metadata key 'general.architecture'");
	gg_free(&g);
	/* scores of the wrong length */
	static const float two[2] = { 0, 0 };
	gg_init(&g, 3);
	gg_kv_str(&g, "general.architecture", "llama");
	gg_kv_u32(&g, "llama.context_length", 64);
	gg_kv_u32(&g, "llama.embedding_length", 32);
	gg_kv_u32(&g, "llama.block_count", 1);
	gg_kv_u32(&g, "llama.feed_forward_length", 64);
	gg_kv_u32(&g, "llama.attention.head_count", 4);
	static const char *const tok[3] = { "<unk>", "<s>", "</s>" };
	gg_kv_strs(&g, "tokenizer.ggml.tokens", tok, 3);
	gg_kv_f32s(&g, "tokenizer.ggml.scores", two, 2);
	gg_finish(&g);
	must_fail(save(&g, "scores.gguf"), NULL, (long)gg_kv_offset(&g, "tokenizer.ggml.scores"),
		  "tokenizer.ggml.scores: expected an array of 3");
	gg_free(&g);
}
END_TEST

START_TEST(bad_tensor_infos)
{
	struct bad b;
	bad_open(&b, 3);
	put_u32_at(b.p, gt(&b, "blk.0.attn_q.weight")->nd_at, 5);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_q.weight")->nd_at, "n_dims 5 not in 1..4");
	bad_open(&b, 3);
	put_u32_at(b.p, gt(&b, "blk.0.attn_k.weight")->type_at, 15);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_k.weight")->type_at,
		   "unsupported tensor type 15 (Q8_K); this build reads F32 (0), F16 (1), Q4_0 (2), Q8_0 (8), "
		   "Q2_K (10), Q3_K (11), Q4_K (12), Q5_K (13), Q6_K (14) and BF16 (30)");
	bad_open(&b, 3);                         /* k-quant rows must be whole 256-element blocks */
	put_u32_at(b.p, gt(&b, "blk.0.attn_k.weight")->type_at, GGML_TYPE_Q4_K);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_k.weight")->dims_at,
		   "32 columns is not a multiple of the 256-element Q4_K block");
	bad_open(&b, 3);
	put_u64_at(b.p, gt(&b, "blk.0.attn_k.weight")->dims_at + 8, 15);   /* [32, 15]: not whole heads */
	bad_expect(&b, (long)gt(&b, "blk.0.attn_k.weight")->dims_at, "shape [32, 15], expected [32, heads × 8]");
	bad_open(&b, 3);
	put_u64_at(b.p, gt(&b, "blk.0.ffn_up.weight")->dims_at, 1ull << 62);
	bad_expect(&b, (long)gt(&b, "blk.0.ffn_up.weight")->dims_at, "dimensions overflow");
	bad_open(&b, 3);                         /* Q8_0 rows must be whole blocks */
	put_u32_at(b.p, gt(&b, "blk.0.ffn_down.weight")->type_at, GGML_TYPE_Q8_0);
	put_u64_at(b.p, gt(&b, "blk.0.ffn_down.weight")->dims_at, 48);
	bad_expect(&b, (long)gt(&b, "blk.0.ffn_down.weight")->dims_at, "48 columns is not a multiple of the 32-element Q8_0 block");
	bad_open(&b, 3);                         /* a block past block_count */
	memcpy(b.p + gt(&b, "blk.0.ffn_norm.weight")->info_at + 8, "blk.7", 5);
	bad_expect(&b, (long)gt(&b, "blk.0.ffn_norm.weight")->info_at, "block 7");
	bad_open(&b, 3);                         /* duplicate names */
	memcpy(b.p + gt(&b, "blk.0.attn_v.weight")->info_at + 8 + 11, "k", 1);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_v.weight")->info_at, "duplicate tensor name 'blk.0.attn_k.weight'");
	bad_open(&b, 1);                         /* v1: a name length past the end */
	put_u32_at(b.p, gt(&b, "output_norm.weight")->info_at, 0xfffffff0u);
	bad_expect(&b, (long)gt(&b, "output_norm.weight")->info_at, "string length");
}
END_TEST

START_TEST(bad_data_ranges)
{
	struct bad b;
	bad_open(&b, 3);
	put_u64_at(b.p, gt(&b, "blk.0.attn_v.weight")->off_at, gt(&b, "blk.0.attn_v.weight")->offset + 4);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_v.weight")->off_at, "not a multiple of the alignment 32");
	bad_open(&b, 3);
	put_u64_at(b.p, gt(&b, "blk.0.attn_v.weight")->off_at, 1ull << 40);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_v.weight")->off_at, "lies beyond the end of the file");
	bad_open(&b, 3);                         /* two tensors share bytes */
	put_u64_at(b.p, gt(&b, "blk.0.attn_v.weight")->off_at, gt(&b, "blk.0.attn_k.weight")->offset);
	bad_expect(&b, (long)gt(&b, "blk.0.attn_v.weight")->off_at, "data overlaps tensor 'blk.0.attn_k.weight'");
	bad_open(&b, 2);                         /* the data cut short */
	b.n -= 100;
	bad_expect(&b, (long)gt(&b, "output_norm.weight")->off_at, "tensor 'output_norm.weight': data");
	bad_open(&b, 3);                         /* metadata but hardly any tensor infos */
	b.n = b.g.t[0].info_at + 5;
	bad_expect(&b, 8, "tensor count 11 exceeds what the file can hold");
	bad_open(&b, 3);                         /* cut inside the infos */
	b.n = b.g.t[8].type_at + 2;
	bad_expect(&b, (long)b.g.t[8].type_at, "truncated: expected tensor type");
}
END_TEST

START_TEST(bad_alignment_key)
{
	struct gg g;
	gg_tiny_llama(&g, 3, GGML_TYPE_F32);
	gg_kv_u32(&g, "general.alignment", 48);
	gg_finish(&g);
	must_fail(save(&g, "align.gguf"), NULL, (long)gg_kv_offset(&g, "general.alignment"),
		  "general.alignment must be a power of two");
	gg_free(&g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gguf");
	TCase *tc = tcase_create("read");
	tcase_add_test(tc, versions_and_types);
	tcase_add_test(tc, t5_reads_and_round_trips);
	tcase_add_test(tc, writer_round_trip);
	tcase_add_test(tc, synth_round_trip);
	tcase_add_test(tc, context_cap);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_test(tc, bad_header);
	tcase_add_test(tc, bad_metadata);
	tcase_add_test(tc, bad_architecture_and_vocab);
	tcase_add_test(tc, bad_tensor_infos);
	tcase_add_test(tc, bad_data_ranges);
	tcase_add_test(tc, bad_alignment_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

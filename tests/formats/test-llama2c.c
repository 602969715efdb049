/* tests/formats/test-llama2c.c — llama2.c checkpoints: the header, where
 * each weight lands (every float of the test file holds its own index, so
 * a tensor's first value says where it was read from), shared and
 * unshared classifiers, finding the tokenizer; then malformed headers,
 * sizes and tokenizer situations, each failing with its message and
 * offset. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

/* dim 32, hidden 64, 2 layers, 4 heads (2 KV), vocab 260, seq 16 */
static const int32_t H[7] = { 32, 64, 2, 4, 2, 260, 16 };

static size_t n_floats(const int32_t *h)
{
	size_t dim = (size_t)h[0], hid = (size_t)h[1], L = (size_t)h[2], hd = dim / (size_t)h[3];
	size_t kv = (size_t)h[4] * hd, V = (size_t)(h[5] < 0 ? -h[5] : h[5]), seq = (size_t)h[6];
	return V * dim + L * dim + L * dim * dim * 2 + L * dim * kv * 2 + L * dim + 3 * L * dim * hid + dim +
	       seq * hd + (h[5] < 0 ? V * dim : 0);
}

/* Header h, then n floats each equal to its index; extra bytes appended. */
static void write_ckpt(const char *path, const int32_t *h, size_t n, size_t extra)
{
	struct fb b = { 0 };
	fb_put(&b, h, 28);
	for (size_t i = 0; i < n; i++)
		fb_f32(&b, (float)i);
	fb_zeros(&b, extra);
	write_bytes(path, b.p, b.n);
	fb_free(&b);
}

static void write_tok(const char *path, int n)
{
	struct fb b = { 0 };
	char piece[16];
	fb_u32(&b, 8);
	for (int i = 0; i < n; i++) {
		if (i < 3)
			snprintf(piece, sizeof piece, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
		else if (i < 259)
			snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
		else
			snprintf(piece, sizeof piece, " a%d", i);
		fb_f32(&b, -(float)i);
		fb_u32(&b, (uint32_t)strlen(piece));
		fb_put(&b, piece, strlen(piece));
	}
	write_bytes(path, b.p, b.n);
	fb_free(&b);
}

/* A fresh folder per case, so tokenizer discovery sees only its files. */
static const char *case_dir(const char *name)
{
	static char dir[512];
	snprintf(dir, sizeof dir, "%s/%s", scratch(), name);
	pb_mkdir_p(dir);
	return dir;
}

static const char *in_dir(const char *dir, const char *name)
{
	static char p[2][600];
	static int k;
	char *s = p[k++ % 2];
	snprintf(s, 600, "%s/%s", dir, name);
	return s;
}

static float first(const struct pb_model *m, const char *name)
{
	const struct pb_tensor *t = tensor_named(m, name);
	ck_assert_msg(t != NULL, "no %s", name);
	return ((const float *)t->data)[0];
}

START_TEST(layout_shared_and_unshared)
{
	for (int unshared = 0; unshared < 2; unshared++) {
		int32_t h[7];
		memcpy(h, H, sizeof h);
		if (unshared)
			h[5] = -h[5];
		const char *dir = case_dir(unshared ? "unshared" : "shared");
		write_ckpt(in_dir(dir, "model.bin"), h, n_floats(h), 0);
		write_tok(in_dir(dir, "tokenizer.bin"), 260);
		struct pb_model *m = must_load(in_dir(dir, "model.bin"), NULL);
		ck_assert_int_eq(m->arch, PB_ARCH_LLAMA);
		ck_assert_int_eq(m->hp.dim, 32);
		ck_assert_int_eq(m->hp.ffn_dim, 64);
		ck_assert_int_eq(m->hp.n_layers, 2);
		ck_assert_int_eq(m->hp.n_heads, 4);
		ck_assert_int_eq(m->hp.n_kv_heads, 2);
		ck_assert_int_eq(m->hp.head_dim, 8);
		ck_assert_int_eq(m->hp.vocab, 260);
		ck_assert_int_eq(m->hp.ctx, 16);
		ck_assert_int_eq(m->hp.bos_id, 1);
		ck_assert_int_eq(m->hp.eos_id, 2);
		ck_assert_int_eq(m->n_tensors, 2 + 9 * 2 + 1);
		/* float offsets after the header, kind by kind */
		size_t V = 260, D = 32, L = 2, KV = 16, F = 64;
		size_t o_rms = V * D, o_wq = o_rms + L * D, o_wk = o_wq + L * D * D, o_wv = o_wk + L * KV * D;
		size_t o_wo = o_wv + L * KV * D, o_rf = o_wo + L * D * D, o_w1 = o_rf + L * D;
		size_t o_w2 = o_w1 + L * F * D, o_w3 = o_w2 + L * D * F, o_fin = o_w3 + L * F * D;
		size_t o_cls = o_fin + D + 16 * 8;   /* after freq_cis_real and _imag */
		ck_assert_float_eq(first(m, "token_embd.weight"), 0);
		ck_assert_float_eq(first(m, "blk.1.attn_norm.weight"), (float)(o_rms + D));
		ck_assert_float_eq(first(m, "blk.1.attn_q.weight"), (float)(o_wq + D * D));
		ck_assert_float_eq(first(m, "blk.0.attn_k.weight"), (float)o_wk);
		ck_assert_float_eq(first(m, "blk.1.attn_v.weight"), (float)(o_wv + KV * D));
		ck_assert_float_eq(first(m, "blk.1.attn_output.weight"), (float)(o_wo + D * D));
		ck_assert_float_eq(first(m, "blk.0.ffn_norm.weight"), (float)o_rf);
		ck_assert_float_eq(first(m, "blk.1.ffn_gate.weight"), (float)(o_w1 + F * D));
		ck_assert_float_eq(first(m, "blk.1.ffn_down.weight"), (float)(o_w2 + D * F));
		ck_assert_float_eq(first(m, "blk.0.ffn_up.weight"), (float)o_w3);
		ck_assert_float_eq(first(m, "output_norm.weight"), (float)o_fin);
		const struct pb_tensor *dn = tensor_named(m, "blk.0.ffn_down.weight");
		ck_assert_int_eq(dn->ne[0], 64);
		ck_assert_int_eq(dn->ne[1], 32);
		const struct pb_tensor *o = pb_model_find(m, -1, PB_ROLE_OUTPUT);
		if (unshared)
			ck_assert_float_eq(((const float *)o->data)[0], (float)o_cls);
		else
			ck_assert_ptr_eq(o->data, pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->data);
		pb_model_free(m);
	}
}
END_TEST

START_TEST(tokenizer_discovery)
{
	const char *dir = case_dir("tokfind");
	write_ckpt(in_dir(dir, "m.bin"), H, n_floats(H), 0);
	must_fail(in_dir(dir, "m.bin"), NULL, -1, "no tokenizer beside it");
	write_tok(in_dir(dir, "tok260.bin"), 260);
	struct pb_model *m = must_load(in_dir(dir, "m.bin"), NULL);
	pb_model_free(m);
	write_tok(in_dir(dir, "tok999.bin"), 260);
	must_fail(in_dir(dir, "m.bin"), NULL, -1, "2 tok*.bin files beside it");
	/* an explicit tokenizer settles it; so does tokenizer.bin */
	m = must_load(in_dir(dir, "m.bin"), in_dir(dir, "tok999.bin"));
	pb_model_free(m);
	write_tok(in_dir(dir, "tokenizer.bin"), 260);
	m = must_load(in_dir(dir, "m.bin"), NULL);
	pb_model_free(m);
	/* a tokenizer file replaces a GGUF's own vocabulary */
	struct gg g;
	gg_tiny_llama(&g, 3, 0);
	gg_finish(&g);
	write_bytes(in_dir(dir, "tiny.gguf"), g.out.p, g.out.n);
	m = must_load(in_dir(dir, "tiny.gguf"), in_dir(dir, "tok999.bin"));
	ck_assert_ptr_nonnull(strstr(pb_tokenizer_piece(pb_model_tokenizer(m), 259), "a259"));
	pb_model_free(m);
	m = must_load(in_dir(dir, "tiny.gguf"), NULL);
	ck_assert_ptr_null(strstr(pb_tokenizer_piece(pb_model_tokenizer(m), 259), "a259"));
	pb_model_free(m);
	gg_free(&g);
	/* a tokenizer with fewer tokens than the model */
	write_tok(in_dir(dir, "short.tok"), 100);
	must_fail(in_dir(dir, "m.bin"), in_dir(dir, "short.tok"), -1, "fewer tokens than the model");
}
END_TEST

/* One header field changed: the error is at that field's offset. */
static void bad_field(int field, int32_t value, long offset, const char *needle)
{
	int32_t h[7];
	memcpy(h, H, sizeof h);
	h[field] = value;
	const char *dir = case_dir("badfield");
	write_tok(in_dir(dir, "tokenizer.bin"), 260);
	write_ckpt(in_dir(dir, "m.bin"), h, 64, 0);
	must_fail(in_dir(dir, "m.bin"), NULL, offset, needle);
}

START_TEST(bad_headers)
{
	bad_field(0, 0, 0, "dim is 0");
	bad_field(1, -5, 4, "hidden_dim is -5");
	bad_field(2, 100000, 8, "n_layers is 100000");
	bad_field(3, 0, 12, "n_heads is 0");
	bad_field(4, 0, 16, "n_kv_heads is 0");
	bad_field(5, 0, 20, "vocab_size is 0");
	bad_field(6, -1, 24, "seq_len is -1");
	bad_field(0, 30, 12, "dim 30 is not a multiple of n_heads 4");
	bad_field(0, 36, 12, "head size 9 is odd");
	bad_field(4, 3, 16, "n_heads 4 is not a multiple of n_kv_heads 3");
	bad_field(4, 8, 16, "n_heads 4 is not a multiple of n_kv_heads 8");
	bad_field(0, (int32_t)0x616b3432, 0, "export version");
	bad_field(5, (int32_t)0x80000000, 20, "vocab_size is -2147483648");
}
END_TEST

START_TEST(bad_sizes)
{
	const char *dir = case_dir("badsize");
	const char *p = in_dir(dir, "m.bin");
	write_tok(in_dir(dir, "tokenizer.bin"), 260);
	write_bytes(p, H, 10);
	must_fail(p, NULL, 0, "truncated: 10 bytes");
	size_t n = n_floats(H), need = 28 + 4 * n;
	write_ckpt(p, H, n - 1, 0);
	char off[32];
	snprintf(off, sizeof off, "needs %zu bytes", need);
	must_fail(p, NULL, (long)(need - 4), off);
	write_ckpt(p, H, n, 3);
	must_fail(p, NULL, (long)need, "unexpected bytes after the weights");
	/* negative vocab_size: a classifier must follow */
	int32_t h[7];
	memcpy(h, H, sizeof h);
	h[5] = -260;
	write_ckpt(p, h, n, 0);
	must_fail(p, NULL, (long)need, "unshared classifier");
	/* the largest header there is: no overflow, just too short */
	int32_t big[7] = { 1 << 16, 1 << 20, 1 << 12, 1 << 12, 1 << 12, 1 << 22, 1 << 22 };
	write_ckpt(p, big, 4, 0);
	must_fail(p, NULL, 44, "truncated");
	write_bytes(p, "", 0);
	must_fail(p, NULL, 0, "truncated: 0 bytes");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("llama2c");
	TCase *tc = tcase_create("llama2c");
	tcase_add_test(tc, layout_shared_and_unshared);
	tcase_add_test(tc, tokenizer_discovery);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, bad_sizes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

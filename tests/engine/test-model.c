/* tests/engine/test-model.c — the model room: GGUF write → read round
 * trips, malformed GGUF files (each must fail with its offset and cause,
 * never crash), synthetic presets and their determinism, tensor helpers. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pb-test-model-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	pb_rm_rf(tmpdir);
}

static void tmp_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static struct pb_hparams tiny_hp(void)
{
	return (struct pb_hparams){
		.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8,
		.ffn_dim = 48, .vocab = 300, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2,
	};
}

static struct pb_model *tiny(uint64_t seed)
{
	struct pb_hparams hp = tiny_hp();
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("tiny", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	return m;
}

static const struct pb_tensor *by_name(const struct pb_model *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (!strcmp(m->tensors[i].name, name))
			return &m->tensors[i];
	return NULL;
}

static void assert_same_model(const struct pb_model *a, const struct pb_model *b)
{
	ck_assert_int_eq(a->n_tensors, b->n_tensors);
	for (int i = 0; i < a->n_tensors; i++) {
		const struct pb_tensor *x = &a->tensors[i], *y = by_name(b, x->name);
		ck_assert_msg(y != NULL, "tensor %s missing after the round trip", x->name);
		ck_assert_int_eq(x->dtype, y->dtype);
		ck_assert_int_eq(x->n_dims, y->n_dims);
		ck_assert_int_eq(x->layer, y->layer);
		ck_assert_int_eq(x->role, y->role);
		for (int d = 0; d < PB_MAX_DIMS; d++)
			ck_assert_int_eq(x->ne[d], y->ne[d]);
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "tensor %s differs", x->name);
	}
	const struct pb_hparams *p = &a->hp, *q = &b->hp;
	ck_assert_int_eq(p->dim, q->dim);
	ck_assert_int_eq(p->n_layers, q->n_layers);
	ck_assert_int_eq(p->n_heads, q->n_heads);
	ck_assert_int_eq(p->n_kv_heads, q->n_kv_heads);
	ck_assert_int_eq(p->head_dim, q->head_dim);
	ck_assert_int_eq(p->ffn_dim, q->ffn_dim);
	ck_assert_int_eq(p->vocab, q->vocab);
	ck_assert_int_eq(p->ctx, q->ctx);
	ck_assert_float_eq(p->norm_eps, q->norm_eps);
	ck_assert_float_eq(p->rope_theta, q->rope_theta);
	ck_assert_int_eq(p->rope_layout, q->rope_layout);
	ck_assert_int_eq(p->bos_id, q->bos_id);
	ck_assert_int_eq(p->eos_id, q->eos_id);
	const struct pb_tokenizer *ta = pb_model_tokenizer(a), *tb = pb_model_tokenizer(b);
	ck_assert_int_eq(pb_tokenizer_vocab(ta), pb_tokenizer_vocab(tb));
	for (int i = 0; i < pb_tokenizer_vocab(ta); i++) {
		ck_assert_str_eq(pb_tokenizer_piece(ta, i), pb_tokenizer_piece(tb, i));
		ck_assert_float_eq(pb_tokenizer_score(ta, i), pb_tokenizer_score(tb, i));
		ck_assert_int_eq(pb_tokenizer_type(ta, i), pb_tokenizer_type(tb, i));
	}
	char ha[65], hb[65];
	pb_model_hash(a, ha);
	pb_model_hash(b, hb);
	ck_assert_str_eq(ha, hb);
}

START_TEST(roundtrip_tiny)
{
	char path[512], err[512];
	struct pb_model *a = tiny(7), *b = NULL;
	tmp_path(path, sizeof path, "tiny.gguf");
	ck_assert_msg(pb_gguf_write(a, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &b, err, sizeof err) == 0, "%s", err);
	assert_same_model(a, b);
	ck_assert_str_eq(b->name, "tiny");
	/* the output projection stays tied: it aliases the embedding */
	ck_assert_ptr_eq(pb_model_find(b, -1, PB_ROLE_OUTPUT)->data,
			 pb_model_find(b, -1, PB_ROLE_TOK_EMBD)->data);
	/* the mapping is private and writable: editing leaves the file alone */
	float *q = pb_model_find(b, 0, PB_ROLE_ATTN_Q)->data;
	float old = q[0];
	q[0] = 12345.0f;
	struct pb_model *c = NULL;
	ck_assert_int_eq(pb_model_load(path, &c, err, sizeof err), 0);
	ck_assert_float_eq(((float *)pb_model_find(c, 0, PB_ROLE_ATTN_Q)->data)[0], old);
	pb_model_free(a);
	pb_model_free(b);
	pb_model_free(c);
}
END_TEST

/* The /proc/self/smaps entry holding p: its inode (0: anonymous memory)
 * and VmFlags line.  0: no such entry. */
static int smaps_of(const void *p, unsigned long *inode, char *flags, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long lo, hi, ino;
		unsigned long long off;
		char perm[8], dev[16];
		if (sscanf(line, "%lx-%lx %7s %llx %15s %lu", &lo, &hi, perm, &off, dev, &ino) == 6) {
			in = lo <= (uintptr_t)p && (uintptr_t)p < hi;
			if (in)
				*inode = ino;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* A GGUF's weights leave the file mapping at load (model.c, own_weights):
 * anonymous memory at the same addresses, the same bytes, asking for
 * transparent huge pages (MADV_HUGEPAGE: "hg" in VmFlags) so that decode's
 * weight stream does not take a TLB miss per 4 KB page. */
START_TEST(weights_anonymous_huge)
{
	char path[512], err[512], flags[512] = "";
	struct pb_model *a = NULL, *b = NULL;
	ck_assert_msg(pb_model_synth("llama-15m", 3, &a, err, sizeof err) == 0, "%s", err);
	tmp_path(path, sizeof path, "l15.gguf");
	ck_assert_msg(pb_gguf_write(a, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &b, err, sizeof err) == 0, "%s", err);
	assert_same_model(a, b);
	const struct pb_tensor *big = &b->tensors[0];
	for (int i = 1; i < b->n_tensors; i++)
		if (b->tensors[i].nbytes > big->nbytes)
			big = &b->tensors[i];
	ck_assert_msg(big->nbytes >= ((size_t)4 << 20), "largest tensor %zu bytes", big->nbytes);
	const char *mid = (const char *)big->data + big->nbytes / 2;
	unsigned long ino = 1;
	ck_assert_msg(smaps_of(mid, &ino, flags, sizeof flags), "tensor '%s' not mapped", big->name);
	ck_assert_msg(ino == 0, "tensor '%s' still in the file mapping (inode %lu)", big->name, ino);
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0)
		ck_assert_msg(strstr(flags, " hg") != NULL, "tensor '%s': VmFlags%s", big->name, flags);
	pb_model_free(a);
	pb_model_free(b);
	unlink(path);
}
END_TEST

/* structured-pruning shapes: per-layer head counts and FFN widths are
 * written as arrays, F16 and an untied output survive */
START_TEST(roundtrip_pruned_f16)
{
	char path[512], err[512];
	struct pb_model *a = tiny(3), *b = NULL;
	struct pb_tensor *t = pb_model_find(a, 1, PB_ROLE_FFN_UP);
	int64_t ne[4] = { 32, 20, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne, 32 * 20 * 4), 0);
	pb_synth_fill(t, 1, 1, 0.1f);
	t = pb_model_find(a, 1, PB_ROLE_FFN_GATE);
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F16, ne, 32 * 20 * 2), 0);
	for (int i = 0; i < 32 * 20; i++)
		((uint16_t *)t->data)[i] = pb_fp32_to_fp16((float)i / 100.0f);
	t = pb_model_find(a, 1, PB_ROLE_FFN_DOWN);
	int64_t ne2[4] = { 20, 32, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne2, 20 * 32 * 4), 0);
	t = pb_model_find(a, 0, PB_ROLE_ATTN_Q);
	int64_t ne3[4] = { 32, 16, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne3, 32 * 16 * 4), 0);
	t = pb_model_find(a, -1, PB_ROLE_OUTPUT);
	int64_t ne4[4] = { 32, 300, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne4, 32 * 300 * 4), 0);
	pb_synth_fill(t, 5, 5, 0.2f);
	tmp_path(path, sizeof path, "pruned.gguf");
	ck_assert_msg(pb_gguf_write(a, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(pb_model_load(path, &b, err, sizeof err) == 0, "%s", err);
	/* hp.ffn_dim and n_heads are the widest layer's */
	assert_same_model(a, b);
	struct pb_layer_shape s0 = pb_layer_shape(b, 0), s1 = pb_layer_shape(b, 1);
	ck_assert_int_eq(s0.n_heads, 2);
	ck_assert_int_eq(s1.n_heads, 4);
	ck_assert_int_eq(s0.ffn_dim, 48);
	ck_assert_int_eq(s1.ffn_dim, 20);
	ck_assert_ptr_ne(pb_model_find(b, -1, PB_ROLE_OUTPUT)->data,
			 pb_model_find(b, -1, PB_ROLE_TOK_EMBD)->data);
	pb_model_free(a);
	pb_model_free(b);
}
END_TEST

START_TEST(synth_presets)
{
	int n = 0;
	const struct pb_synth_preset *p = pb_synth_presets(&n);
	ck_assert_int_ge(n, 6);   /* llama-15m, llama-110m, t5-small, t5-base, flan-t5-small, llama-1b */
	ck_assert_str_eq(p[0].name, "llama-15m");
	ck_assert_int_eq(p[0].hp.dim, 288);
	ck_assert_int_eq(p[0].hp.ffn_dim, 768);
	ck_assert_int_eq(p[1].hp.n_layers, 12);
	ck_assert_ptr_null(pb_synth_find("llama-7b"));

	char err[256], h1[65], h2[65], h3[65];
	struct pb_model *a = NULL, *b = NULL, *c = NULL;
	double t0 = pb_now_ms();
	ck_assert_int_eq(pb_model_synth("llama-15m", 42, &a, err, sizeof err), 0);
	double ms = pb_now_ms() - t0;
	ck_assert_int_eq(pb_model_synth("llama-15m", 42, &b, err, sizeof err), 0);
	ck_assert_int_eq(pb_model_synth("llama-15m", 43, &c, err, sizeof err), 0);
	pb_model_hash(a, h1);
	pb_model_hash(b, h2);
	pb_model_hash(c, h3);
	ck_assert_str_eq(h1, h2);
	ck_assert_str_ne(h1, h3);
	fprintf(stderr, "synth llama-15m: %.0f ms\n", ms);

	/* ~15M parameters (tied output counted once), 2 + 9 per layer + output */
	int64_t params = 0, nonzero = 0, bytes = 0;
	pb_model_count(a, 0, &params, &nonzero, &bytes);
	ck_assert_int_eq(a->n_tensors, 2 + 9 * 6 + 1);
	ck_assert_int_gt(params, 15000000);
	ck_assert_int_lt(params, 16000000);
	ck_assert_int_eq(bytes, params * 4);
	ck_assert_int_eq(nonzero, params);
	/* weights have the intended scale: q ~ N(0, 2/sqrt(288)) (synth.c) */
	const struct pb_tensor *q = pb_model_find(a, 0, PB_ROLE_ATTN_Q);
	double ss = 0;
	for (int64_t i = 0; i < pb_tensor_nelements(q); i++)
		ss += (double)((float *)q->data)[i] * ((float *)q->data)[i];
	double sd = sqrt(ss / (double)pb_tensor_nelements(q));
	ck_assert_double_eq_tol(sd, 2.0 / sqrt(288.0), 0.002);
	ck_assert_int_eq(pb_model_synth("nope", 1, &c, err, sizeof err) < 0, 1);
	ck_assert_ptr_nonnull(strstr(err, "llama-15m"));
	pb_model_free(a);
	pb_model_free(b);
	pb_model_free(c);
}
END_TEST

START_TEST(tensor_helpers)
{
	struct pb_model *m = tiny(1);
	struct pb_tensor *t = pb_model_find(m, 0, PB_ROLE_ATTN_V);
	float row[32];
	ck_assert_int_eq(pb_tensor_row_f32(t, 3, row), 0);
	ck_assert_float_eq(row[5], ((float *)t->data)[3 * 32 + 5]);
	ck_assert_int_eq(pb_tensor_row_f32(t, 16, row), -EINVAL);
	ck_assert_int_eq(pb_tensor_count_zeros(t), 0);
	((float *)t->data)[0] = 0.0f;
	((float *)t->data)[9] = -0.0f;
	ck_assert_int_eq(pb_tensor_count_zeros(t), 2);
	/* F16 rows and zeros, and a fresh owned buffer is zeroed */
	int64_t ne[4] = { 32, 16, 1, 1 };
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F16, ne, 32 * 16 * 2), 0);
	ck_assert_uint_eq(t->flags & PB_TENSOR_OWNED, PB_TENSOR_OWNED);
	ck_assert_int_eq(pb_tensor_count_zeros(t), 32 * 16);
	((uint16_t *)t->data)[33] = pb_fp32_to_fp16(1.5f);
	ck_assert_int_eq(pb_tensor_row_f32(t, 1, row), 0);
	ck_assert_float_eq(row[1], 1.5f);
	ck_assert_int_eq(pb_tensor_count_zeros(t), 32 * 16 - 1);
	int64_t lp, lnz, lb, ap;
	pb_model_count(m, 1, &lp, &lnz, &lb);
	pb_model_count(m, 0, &ap, NULL, NULL);
	ck_assert_int_lt(lp, ap);
	ck_assert_int_gt(lp - lnz, 32 * 16 - 2);
	pb_model_free(m);
}
END_TEST

/* ---- malformed files, built byte by byte ---- */

struct gb {
	uint8_t p[4096];
	size_t n;
};

static void gb_put(struct gb *b, const void *p, size_t n)
{
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void gb_u32(struct gb *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(struct gb *b, uint64_t v) { gb_put(b, &v, 8); }

static void gb_str(struct gb *b, const char *s)
{
	gb_u64(b, strlen(s));
	gb_put(b, s, strlen(s));
}

static void set_u32(struct gb *b, size_t at, uint32_t v) { memcpy(b->p + at, &v, 4); }
static void set_u64(struct gb *b, size_t at, uint64_t v) { memcpy(b->p + at, &v, 8); }

/* One key ("general.architecture" = "llama") and one F32 tensor
 * token_embd.weight [4 × 3].  Offsets: header 0..24, key length 24, value
 * type 52, tensor info 69: n_dims 94, dims 98, type 114, offset 118; data
 * 128..176. */
static void minimal(struct gb *b)
{
	b->n = 0;
	gb_u32(b, 0x46554747u);
	gb_u32(b, 3);
	gb_u64(b, 1);
	gb_u64(b, 1);
	gb_str(b, "general.architecture");
	gb_u32(b, 8);
	gb_str(b, "llama");
	gb_str(b, "token_embd.weight");
	gb_u32(b, 2);
	gb_u64(b, 4);
	gb_u64(b, 3);
	gb_u32(b, 0);
	gb_u64(b, 0);
	while (b->n % 32)
		b->p[b->n++] = 0;
	for (int i = 0; i < 12; i++) {
		float f = (float)i;
		gb_put(b, &f, 4);
	}
}

static int load_bytes(const void *p, size_t n, char *err, size_t len)
{
	char path[512];
	struct pb_model *m = NULL;
	tmp_path(path, sizeof path, "bad.gguf");
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	err[0] = '\0';
	int rc = pb_model_load(path, &m, err, len);
	pb_model_free(m);
	return rc;
}

static void expect_error(struct gb *b, const char *offset, const char *what)
{
	char err[512];
	int rc = load_bytes(b->p, b->n, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, "bad.gguf: ") != NULL, "no file name in '%s'", err);
	if (offset)
		ck_assert_msg(strstr(err, offset) != NULL, "expected '%s' in '%s'", offset, err);
	ck_assert_msg(strstr(err, what) != NULL, "expected '%s' in '%s'", what, err);
}

START_TEST(malformed)
{
	struct gb b;
	minimal(&b);
	ck_assert_uint_eq(b.n, 176);
	/* well formed up to the hyper-parameters */
	expect_error(&b, NULL, "missing metadata key 'llama.embedding_length'");

	minimal(&b);
	b.n = 10;
	expect_error(&b, "offset 8: ", "truncated");
	minimal(&b);
	b.n = 2;
	expect_error(&b, "offset 0: ", "truncated header");
	minimal(&b);
	b.p[0] = 'X';
	expect_error(&b, "offset 0: ", "bad magic");
	minimal(&b);
	set_u32(&b, 4, 7);
	expect_error(&b, "offset 4: ", "unsupported GGUF version 7");
	minimal(&b);
	set_u64(&b, 8, 1ull << 40);
	expect_error(&b, "offset 8: ", "tensor count 1099511627776 exceeds");
	minimal(&b);
	set_u64(&b, 16, UINT64_MAX);
	expect_error(&b, "offset 16: ", "metadata count");
	minimal(&b);
	set_u64(&b, 24, 1000);
	expect_error(&b, "offset 24: ", "string length 1000 exceeds");
	minimal(&b);
	set_u64(&b, 56, UINT64_MAX);
	expect_error(&b, "offset 56: ", "string length");
	minimal(&b);
	set_u32(&b, 52, 99);
	expect_error(&b, "offset 56: ", "unknown value type 99");
	minimal(&b);
	set_u64(&b, 118, 4096);
	expect_error(&b, "offset 118: ", "lies beyond the end of the file");
	minimal(&b);
	set_u64(&b, 118, UINT64_MAX - 31);
	expect_error(&b, "offset 118: ", "lies beyond the end of the file");
	minimal(&b);
	set_u64(&b, 118, 4);
	expect_error(&b, "offset 118: ", "not a multiple of the alignment 32");
	minimal(&b);
	set_u32(&b, 94, 0);
	expect_error(&b, "offset 94: ", "n_dims 0 not in 1..4");
	minimal(&b);
	set_u32(&b, 94, 5);
	expect_error(&b, "offset 94: ", "n_dims 5 not in 1..4");
	minimal(&b);
	set_u64(&b, 98, 1ull << 40);
	set_u64(&b, 106, 1ull << 40);
	expect_error(&b, "offset 98: ", "dimensions overflow");
	minimal(&b);
	set_u64(&b, 98, UINT64_MAX);
	expect_error(&b, "offset 98: ", "dimensions overflow");
	minimal(&b);
	set_u64(&b, 98, 1ull << 62);   /* fits int64, but not in bytes */
	set_u64(&b, 106, 1);
	expect_error(&b, "offset 98: ", "dimensions overflow");
	minimal(&b);
	set_u32(&b, 114, 20);   /* IQ4_NL: not read */
	expect_error(&b, "offset 114: ", "unsupported tensor type 20 (IQ4_NL)");
	minimal(&b);
	set_u64(&b, 69, 98);
	expect_error(&b, "offset 69: ", "tensor name of 98 bytes is longer than 95");
	minimal(&b);
	set_u64(&b, 69, 200);
	expect_error(&b, "offset 69: ", "tensor name: string length 200 exceeds");
	/* data beyond the end: the tensor claims 4 × 30 floats */
	minimal(&b);
	set_u64(&b, 106, 30);
	expect_error(&b, "offset 118: ", "beyond the end");
}
END_TEST

START_TEST(malformed_metadata)
{
	struct gb b;
	/* a nested array */
	b.n = 0;
	gb_u32(&b, 0x46554747u);
	gb_u32(&b, 3);
	gb_u64(&b, 0);
	gb_u64(&b, 1);
	gb_str(&b, "x");
	gb_u32(&b, 9);
	gb_u32(&b, 9);
	gb_u64(&b, 1);
	gb_u32(&b, 4);
	gb_u64(&b, 1);
	gb_u32(&b, 5);
	expect_error(&b, "offset 37: ", "nested arrays are not supported");
	/* an array claiming more elements than the file holds */
	b.n = 0;
	gb_u32(&b, 0x46554747u);
	gb_u32(&b, 3);
	gb_u64(&b, 0);
	gb_u64(&b, 1);
	gb_str(&b, "x");
	gb_u32(&b, 9);
	gb_u32(&b, 8);
	gb_u64(&b, 1ull << 60);
	gb_u64(&b, 0);
	expect_error(&b, "offset 41: ", "array of 1152921504606846976 elements exceeds");
	/* alignment that is not a power of two */
	b.n = 0;
	gb_u32(&b, 0x46554747u);
	gb_u32(&b, 3);
	gb_u64(&b, 0);
	gb_u64(&b, 1);
	gb_str(&b, "general.alignment");
	gb_u32(&b, 4);
	gb_u32(&b, 24);
	expect_error(&b, "offset 24: ", "power of two");
	/* duplicate keys */
	b.n = 0;
	gb_u32(&b, 0x46554747u);
	gb_u32(&b, 3);
	gb_u64(&b, 0);
	gb_u64(&b, 2);
	gb_str(&b, "a");
	gb_u32(&b, 4);
	gb_u32(&b, 1);
	gb_str(&b, "a");
	gb_u32(&b, 4);
	gb_u32(&b, 2);
	expect_error(&b, "offset 41: ", "duplicate metadata key 'a'");
}
END_TEST

static void gb_kv_u32(struct gb *b, const char *key, uint32_t v)
{
	gb_str(b, key);
	gb_u32(b, 4);
	gb_u32(b, v);
}

/* A small llama file: 4 tokens, token_embd [embd_ne0 × 4], no blocks. */
static void llama_file(struct gb *b, const char *arch, int dim, int heads, int embd_ne0)
{
	b->n = 0;
	gb_u32(b, 0x46554747u);
	gb_u32(b, 3);
	gb_u64(b, 1);
	gb_u64(b, 7);
	gb_str(b, "general.architecture");
	gb_u32(b, 8);
	gb_str(b, arch);
	gb_kv_u32(b, "llama.embedding_length", (uint32_t)dim);
	gb_kv_u32(b, "llama.block_count", 1);
	gb_kv_u32(b, "llama.feed_forward_length", 8);
	gb_kv_u32(b, "llama.attention.head_count", (uint32_t)heads);
	gb_kv_u32(b, "llama.context_length", 16);
	gb_str(b, "tokenizer.ggml.tokens");
	gb_u32(b, 9);
	gb_u32(b, 8);
	gb_u64(b, 4);
	gb_str(b, "<unk>");
	gb_str(b, "<s>");
	gb_str(b, "</s>");
	gb_str(b, "\xe2\x96\x81" "a");
	gb_str(b, "token_embd.weight");
	gb_u32(b, 2);
	gb_u64(b, (uint64_t)embd_ne0);
	gb_u64(b, 4);
	gb_u32(b, 0);
	gb_u64(b, 0);
	while (b->n % 32)
		b->p[b->n++] = 0;
	for (int i = 0; i < embd_ne0 * 4; i++) {
		float f = (float)i;
		gb_put(b, &f, 4);
	}
}

START_TEST(llama_metadata)
{
	char path[512], err[512];
	struct gb b;
	struct pb_model *m = NULL;
	llama_file(&b, "llama", 8, 2, 8);
	tmp_path(path, sizeof path, "ok.gguf");
	FILE *f = fopen(path, "wb");
	fwrite(b.p, 1, b.n, f);
	fclose(f);
	ck_assert_msg(pb_model_load(path, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m->hp.head_dim, 4);
	ck_assert_int_eq(m->hp.n_kv_heads, 2);
	ck_assert_int_eq(m->hp.vocab, 4);
	ck_assert_int_eq(m->hp.bos_id, -1);
	ck_assert_float_eq(m->hp.norm_eps, 1e-5f);
	ck_assert_str_eq(m->name, "ok.gguf");
	ck_assert_int_eq(m->n_tensors, 2);   /* + the tied output */
	ck_assert_int_eq(pb_model_find(m, -1, PB_ROLE_OUTPUT)->flags & PB_TENSOR_OWNED, 0);
	ck_assert_int_eq(pb_tokenizer_type(pb_model_tokenizer(m), 1), PB_TOKEN_CONTROL);
	pb_model_free(m);

	llama_file(&b, "gpt2", 8, 2, 8);
	expect_error(&b, "offset 24: ", "unsupported architecture 'gpt2'");
	llama_file(&b, "llama", 6, 4, 6);
	expect_error(&b, NULL, "embedding_length 6 is not a multiple of head_count 4");
	llama_file(&b, "llama", 6, 2, 6);
	expect_error(&b, NULL, "head dimension 3 is odd");
	llama_file(&b, "llama", 8, 0, 8);
	expect_error(&b, NULL, "at least 1");
	llama_file(&b, "llama", 8, 2, 12);
	expect_error(&b, NULL, "tensor 'token_embd.weight': shape [12, 4], expected [8, 4]");
}
END_TEST

/* Every prefix of a real file fails cleanly; flipped bytes never crash. */
START_TEST(truncations_and_flips)
{
	char path[512], err[512];
	struct pb_model *a = tiny(9);
	char *buf;
	size_t n;
	tmp_path(path, sizeof path, "t.gguf");
	ck_assert_int_eq(pb_gguf_write(a, path, err, sizeof err), 0);
	pb_model_free(a);
	ck_assert_int_eq(pb_read_file(path, &buf, &n), 0);
	/* shrink one file in place, from the longest prefix down */
	for (size_t len = n - 1;; len -= len > 6000 ? 997 : 1) {
		struct pb_model *m = NULL;
		ck_assert_int_eq(truncate(path, (off_t)len), 0);
		int rc = pb_model_load(path, &m, err, sizeof err);
		pb_model_free(m);
		ck_assert_msg(rc < 0, "a %zu-byte prefix of %zu loaded", len, n);
		ck_assert_msg(strstr(err, "offset ") || strstr(err, "missing"), "%zu: '%s'", len, err);
		if (len == 0)
			break;
	}
	struct pb_rng r;
	pb_rng_seed(&r, 1);
	for (int i = 0; i < 300; i++) {
		char *c = malloc(n);
		memcpy(c, buf, n);
		for (int k = 0; k < 4; k++)
			c[pb_rng_next(&r) % 6000] = (char)pb_rng_next(&r);
		load_bytes(c, n, err, sizeof err);
		free(c);
	}
	free(buf);
}
END_TEST

START_TEST(load_errors)
{
	char err[512];
	struct pb_model *m = NULL;
	ck_assert_int_eq(pb_model_load("/nonexistent/x.gguf", &m, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.gguf"));
	ck_assert_int_eq(pb_model_load(tmpdir, &m, err, sizeof err), -EISDIR);
	ck_assert_int_eq(load_bytes("", 0, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "offset 0: truncated header"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("gguf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, roundtrip_tiny);
	tcase_add_test(tc, weights_anonymous_huge);
	tcase_add_test(tc, roundtrip_pruned_f16);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, malformed_metadata);
	tcase_add_test(tc, llama_metadata);
	tcase_add_test(tc, truncations_and_flips);
	tcase_add_test(tc, load_errors);
	suite_add_tcase(s, tc);
	TCase *tm = tcase_create("synth");
	tcase_add_checked_fixture(tm, setup, teardown);
	tcase_set_timeout(tm, 120);
	tcase_add_test(tm, synth_presets);
	tcase_add_test(tm, tensor_helpers);
	suite_add_tcase(s, tm);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

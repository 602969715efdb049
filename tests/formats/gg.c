/* tests/formats/gg.c — a GGUF writer for tests, independent of the one
 * under test: any version (1: 32-bit counts and lengths), any field
 * values, and a record of where every field went, so malformed copies can
 * be made by patching one field and the reader's offset checked. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "model/gguf.h"
#include "model/quant.h"

static void *pool[4096];
static int n_pool;

static void pool_free(void)
{
	while (n_pool)
		free(pool[--n_pool]);
}

static void *keep(size_t n)
{
	if (!n_pool)
		atexit(pool_free);
	ck_assert_int_lt(n_pool, 4096);
	void *p = calloc(1, n ? n : 1);
	ck_assert_ptr_nonnull(p);
	return pool[n_pool++] = p;
}

static void put_len(struct fb *b, size_t lenw, uint64_t v)
{
	if (lenw == 4)
		fb_u32(b, (uint32_t)v);
	else
		fb_u64(b, v);
}

static void put_s(struct gg *g, struct fb *b, const char *s)
{
	put_len(b, g->lenw, strlen(s));
	fb_put(b, s, strlen(s));
}

void gg_init(struct gg *g, int version)
{
	memset(g, 0, sizeof *g);
	g->version = version;
	g->lenw = version == 1 ? 4 : 8;
}

void gg_free(struct gg *g)
{
	fb_free(&g->kv);
	fb_free(&g->out);
	for (int i = 0; i < g->n_kv; i++)
		free(g->kv_key[i]);
}

static void head(struct gg *g, const char *key, uint32_t type)
{
	ck_assert_int_lt(g->n_kv, 128);
	g->kv_at[g->n_kv] = g->kv.n;
	g->kv_key[g->n_kv++] = strdup(key);
	put_s(g, &g->kv, key);
	fb_u32(&g->kv, type);
}

void gg_kv_str(struct gg *g, const char *key, const char *v) { head(g, key, GGUF_STRING); put_s(g, &g->kv, v); }
void gg_kv_u32(struct gg *g, const char *key, uint32_t v) { head(g, key, GGUF_UINT32); fb_u32(&g->kv, v); }
void gg_kv_f32(struct gg *g, const char *key, float v) { head(g, key, GGUF_FLOAT32); fb_f32(&g->kv, v); }

void gg_kv_bool(struct gg *g, const char *key, int v)
{
	uint8_t x = (uint8_t)v;
	head(g, key, GGUF_BOOL);
	fb_put(&g->kv, &x, 1);
}

static void arr(struct gg *g, const char *key, uint32_t et, int n)
{
	head(g, key, GGUF_ARRAY);
	fb_u32(&g->kv, et);
	put_len(&g->kv, g->lenw, (uint64_t)n);
}

void gg_kv_strs(struct gg *g, const char *key, const char *const *v, int n)
{
	arr(g, key, GGUF_STRING, n);
	for (int i = 0; i < n; i++)
		put_s(g, &g->kv, v[i]);
}

void gg_kv_f32s(struct gg *g, const char *key, const float *v, int n)
{
	arr(g, key, GGUF_FLOAT32, n);
	fb_put(&g->kv, v, (size_t)n * 4);
}

void gg_kv_i32s(struct gg *g, const char *key, const int32_t *v, int n)
{
	arr(g, key, GGUF_INT32, n);
	fb_put(&g->kv, v, (size_t)n * 4);
}

size_t gg_kv_offset(const struct gg *g, const char *key)
{
	for (int i = 0; i < g->n_kv; i++)
		if (!strcmp(g->kv_key[i], key))
			return 8 + 2 * g->lenw + g->kv_at[i];
	ck_abort_msg("no key %s", key);
	return 0;
}

void gg_tensor(struct gg *g, const char *name, uint32_t type, int nd, const uint64_t *ne,
	       const void *data, size_t nbytes)
{
	ck_assert_int_lt(g->nt, GG_MAX_T);
	struct gg_tensor *t = &g->t[g->nt++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->type = type;
	t->nd = nd;
	memcpy(t->ne, ne, (size_t)nd * 8);
	t->data = data;
	t->nbytes = nbytes;
}

void gg_finish(struct gg *g)
{
	struct fb *o = &g->out;
	fb_u32(o, GGUF_MAGIC);
	fb_u32(o, (uint32_t)g->version);
	g->ntens_at = o->n;
	put_len(o, g->lenw, (uint64_t)g->nt);
	g->nkv_at = o->n;
	put_len(o, g->lenw, (uint64_t)g->n_kv);
	fb_put(o, g->kv.p, g->kv.n);
	uint64_t off = 0;
	for (int i = 0; i < g->nt; i++) {
		struct gg_tensor *t = &g->t[i];
		t->info_at = o->n;
		put_s(g, o, t->name);
		t->nd_at = o->n;
		fb_u32(o, (uint32_t)t->nd);
		t->dims_at = o->n;
		for (int d = 0; d < t->nd; d++)
			put_len(o, g->lenw, t->ne[d]);
		t->type_at = o->n;
		fb_u32(o, t->type);
		t->off_at = o->n;
		t->offset = off;
		fb_u64(o, off);
		off = (off + t->nbytes + 31) / 32 * 32;
	}
	fb_zeros(o, (32 - o->n % 32) % 32);
	g->data_at = o->n;
	for (int i = 0; i < g->nt; i++) {
		fb_put(o, g->t[i].data, g->t[i].nbytes);
		fb_zeros(o, (32 - g->t[i].nbytes % 32) % 32);
	}
}

/* n_out × n_in weights of ggml type `type`, deterministic. */
static const void *weights(uint32_t type, int64_t n_in, int64_t n_out, uint64_t seed, size_t *nbytes)
{
	enum pb_dtype d = type == GGML_TYPE_F16 ? PB_F16 : type == GGML_TYPE_BF16 ? PB_BF16 :
			  type == GGML_TYPE_Q8_0 ? PB_Q8_0 : type == GGML_TYPE_Q4_0 ? PB_Q4_0 :
			  type >= GGML_TYPE_Q2_K && type <= GGML_TYPE_Q6_K ?
			  (enum pb_dtype)(PB_Q2_K + (int)(type - GGML_TYPE_Q2_K)) : PB_F32;
	float *x = keep((size_t)n_in * 4);
	size_t rb = pb_dtype_row_bytes(d, n_in);
	uint8_t *out = keep(rb * (size_t)n_out);
	for (int64_t r = 0; r < n_out; r++) {
		fill_floats(x, (size_t)n_in, seed * 1000003u + (uint64_t)r);
		pb_quantize_row(d, x, out + (size_t)r * rb, n_in);
	}
	*nbytes = rb * (size_t)n_out;
	return out;
}

static void lin(struct gg *g, const char *name, uint32_t type, int64_t n_in, int64_t n_out)
{
	size_t nb;
	const void *w = weights(type, n_in, n_out, (uint64_t)g->nt + 1, &nb);
	uint64_t ne[2] = { (uint64_t)n_in, (uint64_t)n_out };
	gg_tensor(g, name, type, n_out == 1 ? 1 : 2, ne, w, nb);
}

static void tiny_llama(struct gg *g, int version, uint32_t lin_type, int dim, int heads, int kv,
		       int ffn)
{
	static char pieces[260][16];
	static const char *tokens[260];
	static float scores[260];
	static int32_t types[260];
	for (int i = 0; i < 260; i++) {
		if (i < 3)
			snprintf(pieces[i], 16, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
		else if (i < 259)
			snprintf(pieces[i], 16, "<0x%02X>", i - 3);
		else
			snprintf(pieces[i], 16, "\xe2\x96\x81" "a");
		tokens[i] = pieces[i];
		types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
		scores[i] = i == 259 ? -1.0f : 0.0f;
	}
	gg_init(g, version);
	gg_kv_str(g, "general.architecture", "llama");
	gg_kv_str(g, "general.name", "tiny");
	gg_kv_u32(g, "llama.context_length", 64);
	gg_kv_u32(g, "llama.embedding_length", (uint32_t)dim);
	gg_kv_u32(g, "llama.block_count", 1);
	gg_kv_u32(g, "llama.feed_forward_length", (uint32_t)ffn);
	gg_kv_u32(g, "llama.attention.head_count", (uint32_t)heads);
	gg_kv_u32(g, "llama.attention.head_count_kv", (uint32_t)kv);
	gg_kv_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gg_kv_str(g, "tokenizer.ggml.model", "llama");
	gg_kv_strs(g, "tokenizer.ggml.tokens", tokens, 260);
	gg_kv_f32s(g, "tokenizer.ggml.scores", scores, 260);
	gg_kv_i32s(g, "tokenizer.ggml.token_type", types, 260);
	gg_kv_u32(g, "tokenizer.ggml.bos_token_id", 1);
	gg_kv_u32(g, "tokenizer.ggml.eos_token_id", 2);
	const int hd = dim / heads;
	lin(g, "token_embd.weight", lin_type, dim, 260);
	lin(g, "blk.0.attn_norm.weight", GGML_TYPE_F32, dim, 1);
	lin(g, "blk.0.attn_q.weight", lin_type, dim, dim);
	lin(g, "blk.0.attn_k.weight", lin_type, dim, kv * hd);
	lin(g, "blk.0.attn_v.weight", lin_type, dim, kv * hd);
	lin(g, "blk.0.attn_output.weight", lin_type, dim, dim);
	lin(g, "blk.0.ffn_norm.weight", GGML_TYPE_F32, dim, 1);
	lin(g, "blk.0.ffn_gate.weight", lin_type, dim, ffn);
	lin(g, "blk.0.ffn_up.weight", lin_type, dim, ffn);
	lin(g, "blk.0.ffn_down.weight", lin_type, ffn, dim);
	lin(g, "output_norm.weight", GGML_TYPE_F32, dim, 1);
}

void gg_tiny_llama(struct gg *g, int version, uint32_t lin_type)
{
	tiny_llama(g, version, lin_type, 32, 4, 2, 64);
}

void gg_tiny_llama_256(struct gg *g, uint32_t lin_type)
{
	tiny_llama(g, 3, lin_type, 256, 2, 1, 512);
}

void gg_tiny_t5(struct gg *g, int gated, int tied)
{
	static const char *tokens[10] = {
		"<pad>", "</s>", "<unk>", "\xe2\x96\x81", "\xe2\x96\x81" "a", "a", "b",
		"\xe2\x96\x81" "b", "c", "\xe2\x96\x81" "c",
	};
	static const float scores[10] = { 0, 0, 0, -2, -3, -4, -4, -3, -5, -3 };
	static const int32_t types[10] = { 3, 3, 2, 1, 1, 1, 1, 1, 1, 1 };
	char name[96];
	gg_init(g, 3);
	gg_kv_str(g, "general.architecture", "t5");
	gg_kv_u32(g, "t5.context_length", 64);
	gg_kv_u32(g, "t5.embedding_length", 32);
	gg_kv_u32(g, "t5.feed_forward_length", 64);
	gg_kv_u32(g, "t5.block_count", 1);
	gg_kv_u32(g, "t5.attention.head_count", 4);
	gg_kv_u32(g, "t5.attention.key_length", 8);
	gg_kv_u32(g, "t5.attention.value_length", 8);
	gg_kv_f32(g, "t5.attention.layer_norm_rms_epsilon", 1e-6f);
	gg_kv_u32(g, "t5.attention.relative_buckets_count", 8);
	gg_kv_u32(g, "t5.decoder_start_token_id", 0);
	gg_kv_str(g, "tokenizer.ggml.model", "t5");
	gg_kv_strs(g, "tokenizer.ggml.tokens", tokens, 10);
	gg_kv_f32s(g, "tokenizer.ggml.scores", scores, 10);
	gg_kv_i32s(g, "tokenizer.ggml.token_type", types, 10);
	gg_kv_u32(g, "tokenizer.ggml.eos_token_id", 1);
	gg_kv_u32(g, "tokenizer.ggml.unknown_token_id", 2);
	gg_kv_u32(g, "tokenizer.ggml.padding_token_id", 0);
	lin(g, "token_embd.weight", GGML_TYPE_F32, 32, 10);
	for (int s = 0; s < 2; s++) {
		const char *p = s ? "dec" : "enc";
		static const char *const attn[] = { "attn_q", "attn_k", "attn_v", "attn_o" };
		snprintf(name, sizeof name, "%s.blk.0.attn_norm.weight", p);
		lin(g, name, GGML_TYPE_F32, 32, 1);
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof name, "%s.blk.0.%s.weight", p, attn[k]);
			lin(g, name, GGML_TYPE_F16, 32, 32);
		}
		snprintf(name, sizeof name, "%s.blk.0.attn_rel_b.weight", p);
		lin(g, name, GGML_TYPE_F32, 4, 8);
		if (s) {
			static const char *const cross[] = { "cross_attn_q", "cross_attn_k", "cross_attn_v", "cross_attn_o" };
			lin(g, "dec.blk.0.cross_attn_norm.weight", GGML_TYPE_F32, 32, 1);
			for (int k = 0; k < 4; k++) {
				snprintf(name, sizeof name, "dec.blk.0.%s.weight", cross[k]);
				lin(g, name, GGML_TYPE_F16, 32, 32);
			}
		}
		snprintf(name, sizeof name, "%s.blk.0.ffn_norm.weight", p);
		lin(g, name, GGML_TYPE_F32, 32, 1);
		if (gated) {
			snprintf(name, sizeof name, "%s.blk.0.ffn_gate.weight", p);
			lin(g, name, GGML_TYPE_F16, 32, 64);
		}
		snprintf(name, sizeof name, "%s.blk.0.ffn_up.weight", p);
		lin(g, name, GGML_TYPE_F16, 32, 64);
		snprintf(name, sizeof name, "%s.blk.0.ffn_down.weight", p);
		lin(g, name, GGML_TYPE_F16, 64, 32);
		snprintf(name, sizeof name, "%s.output_norm.weight", p);
		lin(g, name, GGML_TYPE_F32, 32, 1);
	}
	if (!tied)
		lin(g, "output.weight", GGML_TYPE_F16, 32, 10);
}

/* tests/fuzz/make-seeds.c — the fuzzers' seed corpora, made at build time
 * (no model file is copied into the repository):
 *
 *   make-seeds OUT_DIR SOURCE_ROOT [STAMP]
 *
 * writes OUT_DIR/<harness>/<seed> (OUT_DIR emptied first), then touches
 * STAMP for the build.
 *
 * Models come from the project's own code: tiny synthetic llama and t5
 * models written by pb_gguf_write (F32, Q8_0, Q4_0, q4_k_m; v3 as written, v2 by
 * its version field, v1 re-encoded with 32-bit counts), tiny Hugging Face
 * folders and llama2.c checkpoints built here in the formats' layouts and
 * checked by loading them with pb_model_load (then written as GGUF too, so
 * the GGUF corpus has BPE, unigram and SentencePiece vocabularies).
 * Datasets are written through jansson and the project's CSV writer;
 * experiments, results folders and CSV files are the repository's own
 * examples and fixtures (experiments/, tests/experiment/fixtures,
 * tests/report/fixtures/results).  Multi-file inputs are joined by
 * PB_FUZZ_SEP in the order each harness documents.  Every model seed must
 * load, or this program fails: a seed that does not reach the parser's
 * far end is worth little. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "model/gguf.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "results/results.h"
#include "util/util.h"

static const char *out_root, *src_root;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "make-seeds: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- byte buffers */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		if (!(b->p = realloc(b->p, cap)))
			die("out of memory");
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_str(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_sep(struct buf *b)
{
	put(b, PB_FUZZ_SEP, PB_FUZZ_SEP_LEN);
}

static void put_file(struct buf *b, const char *path)
{
	char *p;
	size_t n;
	int rc = pb_read_file(path, &p, &n);
	if (rc < 0)
		die("%s: %s", path, strerror(-rc));
	put(b, p, n);
	free(p);
}

/* The first `lines` lines of a file (a CSV cut at a row boundary). */
static void put_head(struct buf *b, const char *path, int lines)
{
	char *p;
	size_t n, k = 0;
	int rc = pb_read_file(path, &p, &n);
	if (rc < 0)
		die("%s: %s", path, strerror(-rc));
	for (int l = 0; k < n && l < lines; k++)
		l += p[k] == '\n';
	put(b, p, k);
	free(p);
}

static const char *src(const char *rel)
{
	static char slot[4][4096];
	static int k;
	char *s = slot[k++ % 4];
	snprintf(s, sizeof slot[0], "%s/%s", src_root, rel);
	return s;
}

/* OUT/<harness>/<name> */
static const char *out_path(const char *harness, const char *name)
{
	static char p[4096];
	snprintf(p, sizeof p, "%s/%s", out_root, harness);
	if (pb_mkdir_p(p) < 0)
		die("cannot make %s", p);
	snprintf(p, sizeof p, "%s/%s/%s", out_root, harness, name);
	return p;
}

static void emit(const char *harness, const char *name, const struct buf *b)
{
	const char *path = out_path(harness, name);
	if (pb_write_file(path, b->p, b->n) < 0)
		die("cannot write %s", path);
}

static void emit_free(const char *harness, const char *name, struct buf *b)
{
	emit(harness, name, b);
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- models */

static struct pb_model *must_load(const char *path)
{
	struct pb_model *m = NULL;
	char err[1024];
	if (pb_model_load(path, &m, err, sizeof err) < 0)
		die("a seed does not load: %s", err);
	return m;
}

/* Write m as GGUF seed `name` and check that it loads. */
static void gguf_seed(const struct pb_model *m, const char *name)
{
	char err[1024];
	const char *path = out_path("gguf", name);
	if (pb_gguf_write(m, path, err, sizeof err) < 0)
		die("%s", err);
	pb_model_free(must_load(path));
}

/* Deterministic small values (weights need no meaning here). */
static float value(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((int)(*s >> 41) % 2001 - 1000) / 10000.0f;
}

static void synth_models(void)
{
	char err[1024];
	struct pb_hparams hp = pb_synth_find("llama-15m")->hp;
	hp.dim = 32;
	hp.n_layers = 1;
	hp.n_heads = 4;
	hp.n_kv_heads = 2;
	hp.head_dim = 8;
	hp.ffn_dim = 64;
	hp.vocab = 260;
	hp.ctx = 32;
	struct pb_model *m = NULL;
	if (pb_model_synth_hp("tiny-llama", &hp, 1, &m, err, sizeof err) < 0)
		die("%s", err);
	gguf_seed(m, "synth-llama-f32.gguf");
	if (pb_model_convert(m, PB_Q8_0, err, sizeof err) < 0)
		die("%s", err);
	gguf_seed(m, "synth-llama-q8_0.gguf");
	pb_model_free(m);
	if (pb_model_synth_hp("tiny-llama", &hp, 2, &m, err, sizeof err) < 0 ||
	    pb_model_convert(m, PB_Q4_0, err, sizeof err) < 0)
		die("%s", err);
	gguf_seed(m, "synth-llama-q4_0.gguf");
	pb_model_free(m);
	/* k-quants: FFN 256 gives ffn_down rows of whole 256-element blocks
	 * (Q4_K or Q6_K under q4_k_m); the 32-wide rows fall back to Q8_0 */
	struct pb_hparams kq = hp;
	kq.ffn_dim = 256;
	if (pb_model_synth_hp("tiny-llama", &kq, 3, &m, err, sizeof err) < 0 ||
	    pb_model_quantize(m, PB_Q4_K, PB_MIX_Q4_K_M, err, sizeof err) < 0)
		die("%s", err);
	gguf_seed(m, "synth-llama-q4_k_m.gguf");
	pb_model_free(m);

	/* v2: the same layout as v3 */
	struct buf b = { 0 };
	put_file(&b, out_path("gguf", "synth-llama-f32.gguf"));
	uint32_t v2 = 2;
	memcpy(b.p + 4, &v2, 4);
	emit_free("gguf", "synth-llama-f32-v2.gguf", &b);
	pb_model_free(must_load(out_path("gguf", "synth-llama-f32-v2.gguf")));

	/* the edge families' tiny presets: biases, q/k norms, rope_freqs,
	 * post-norms, Gemma's keys, Phi-3's fused attn_qkv / ffn_up and
	 * longrope factors */
	static const char *const tiny[] = { "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma2",
					    "tiny-gemma3", "tiny-phi3" };
	for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
		struct pb_synth_preset p = *pb_synth_find(tiny[i]);   /* smaller still: seeds stay small */
		char name[64];
		p.hp.dim = 32;
		p.hp.ffn_dim = 32;
		p.hp.n_layers = 1;
		p.hp.vocab = 260;
		p.hp.ctx = 32;
		if (pb_model_synth_preset(&p, 4, &m, err, sizeof err) < 0 ||
		    pb_model_convert(m, PB_Q8_0, err, sizeof err) < 0)
			die("%s", err);
		snprintf(name, sizeof name, "synth-%s-q8_0.gguf", tiny[i]);
		gguf_seed(m, name);
		pb_model_free(m);
	}

	struct pb_hparams t5 = pb_synth_find("t5-small")->hp;
	t5.dim = 32;
	t5.n_layers = 1;
	t5.n_enc_layers = 1;
	t5.n_heads = 4;
	t5.n_kv_heads = 4;
	t5.head_dim = 8;
	t5.ffn_dim = 64;
	t5.vocab = 260;
	t5.ctx = 32;
	t5.rel_buckets = 8;
	if (pb_model_synth_hp("tiny-t5", &t5, 3, &m, err, sizeof err) < 0)
		die("%s", err);
	gguf_seed(m, "synth-t5-f32.gguf");
	pb_model_free(m);
}

/* GGUF v3 → v1: counts, string and array lengths and dimensions as
 * uint32; tensor data offsets stay uint64; the data section realigned. */
struct rd {
	const uint8_t *p;
	size_t n, pos;
};

static uint64_t rd(struct rd *r, size_t w)
{
	uint64_t v = 0;
	if (r->pos + w > r->n)
		die("gguf to v1: truncated input");
	memcpy(&v, r->p + r->pos, w);
	r->pos += w;
	return v;
}

static void copy_str(struct rd *r, struct buf *o)
{
	uint64_t n = rd(r, 8);
	if (n > r->n - r->pos)
		die("gguf to v1: bad string");
	put_u32(o, (uint32_t)n);
	put(o, r->p + r->pos, (size_t)n);
	r->pos += (size_t)n;
}

static void copy_value(struct rd *r, struct buf *o, uint32_t type)
{
	static const size_t size[GGUF_TYPE_COUNT] = {
		[GGUF_UINT8] = 1, [GGUF_INT8] = 1, [GGUF_UINT16] = 2, [GGUF_INT16] = 2,
		[GGUF_UINT32] = 4, [GGUF_INT32] = 4, [GGUF_FLOAT32] = 4, [GGUF_BOOL] = 1,
		[GGUF_UINT64] = 8, [GGUF_INT64] = 8, [GGUF_FLOAT64] = 8,
	};
	if (type == GGUF_STRING) {
		copy_str(r, o);
	} else if (type == GGUF_ARRAY) {
		uint32_t et = (uint32_t)rd(r, 4);
		uint64_t n = rd(r, 8);
		put_u32(o, et);
		put_u32(o, (uint32_t)n);
		for (uint64_t i = 0; i < n; i++)
			copy_value(r, o, et);
	} else if (type < GGUF_TYPE_COUNT && size[type]) {
		uint64_t v = rd(r, size[type]);
		put(o, &v, size[type]);
	} else {
		die("gguf to v1: value type %u", type);
	}
}

static void gguf_v1_seed(const char *from, const char *name)
{
	struct buf in = { 0 }, o = { 0 };
	put_file(&in, out_path("gguf", from));
	struct rd r = { in.p, in.n, 0 };
	put_u32(&o, (uint32_t)rd(&r, 4));   /* magic */
	rd(&r, 4);
	put_u32(&o, 1);
	uint64_t n_t = rd(&r, 8), n_kv = rd(&r, 8);
	put_u32(&o, (uint32_t)n_t);
	put_u32(&o, (uint32_t)n_kv);
	for (uint64_t i = 0; i < n_kv; i++) {
		copy_str(&r, &o);
		uint32_t type = (uint32_t)rd(&r, 4);
		put_u32(&o, type);
		copy_value(&r, &o, type);
	}
	for (uint64_t i = 0; i < n_t; i++) {
		copy_str(&r, &o);
		uint32_t nd = (uint32_t)rd(&r, 4);
		put_u32(&o, nd);
		for (uint32_t d = 0; d < nd; d++)
			put_u32(&o, (uint32_t)rd(&r, 8));
		put_u32(&o, (uint32_t)rd(&r, 4));      /* type */
		uint64_t off = rd(&r, 8);
		put(&o, &off, 8);
	}
	size_t data_in = (r.pos + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
	static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];
	put(&o, zeros, (GGUF_DEFAULT_ALIGNMENT - o.n % GGUF_DEFAULT_ALIGNMENT) % GGUF_DEFAULT_ALIGNMENT);
	put(&o, in.p + data_in, in.n - data_in);
	emit_free("gguf", name, &o);
	free(in.p);
	pb_model_free(must_load(out_path("gguf", name)));
}

/* ---- safetensors and Hugging Face folders */

struct st_t {
	const char *name;
	int64_t rows, cols;        /* rows 0: 1-D */
	float fill;                /* 0: values; else this constant (norms) */
};

static void st_build(struct buf *out, const struct st_t *t, int n, const char *dtype, uint64_t seed)
{
	enum pb_dtype d = !strcmp(dtype, "F16") ? PB_F16 : !strcmp(dtype, "BF16") ? PB_BF16 : PB_F32;
	json_t *hdr = json_object();
	struct buf data = { 0 };
	for (int i = 0; i < n; i++) {
		int64_t cnt = (t[i].rows ? t[i].rows : 1) * t[i].cols;
		float *x = malloc((size_t)cnt * 4);
		uint8_t *q = malloc((size_t)cnt * 4);
		if (!x || !q)
			die("out of memory");
		for (int64_t k = 0; k < cnt; k++)
			x[k] = t[i].fill ? t[i].fill : value(&seed);
		pb_quantize_row(d, x, q, cnt);
		size_t nb = pb_dtype_row_bytes(d, cnt);
		json_t *shape = t[i].rows ? json_pack("[I, I]", (json_int_t)t[i].rows, (json_int_t)t[i].cols)
					  : json_pack("[I]", (json_int_t)t[i].cols);
		json_object_set_new(hdr, t[i].name,
				    json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype, "shape", shape,
					      "data_offsets", (json_int_t)data.n, (json_int_t)(data.n + nb)));
		put(&data, q, nb);
		free(x);
		free(q);
	}
	json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"));
	char *text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		die("out of memory");
	size_t hn = strlen(text), pad = (8 - hn % 8) % 8;
	uint64_t len = hn + pad;
	put(out, &len, 8);
	put(out, text, hn);
	put(out, "        ", pad);
	put(out, data.p, data.n);
	free(text);
	free(data.p);
	json_decref(hdr);
}

static const char llama_config[] =
	"{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 32,"
	" \"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
	" \"num_key_value_heads\": 2, \"vocab_size\": 16, \"max_position_embeddings\": 64,"
	" \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"bos_token_id\": 1, \"eos_token_id\": 2,"
	" \"tie_word_embeddings\": false}";

static const char llama_tokenizer[] =
	"{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,"
	"\"\xe2\x96\x81\":3,\"a\":4,\"\xe2\x96\x81" "a\":5,\"b\":6,\"\xe2\x96\x81" "b\":7,\"ab\":8,"
	"\"\xe2\x96\x81" "ab\":9,\"c\":10,\"<0x0A>\":11,\"<0x20>\":12,\"d\":13,\"e\":14,\"de\":15},"
	"\"merges\":[\"\xe2\x96\x81 a\",\"\xe2\x96\x81 b\",\"a b\",\"\xe2\x96\x81 ab\",\"d e\"],"
	"\"byte_fallback\":true},"
	"\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},"
	"{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
	"\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":false},"
	"\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":false}}";

static const struct st_t llama_tensors[] = {
	{ "lm_head.weight", 16, 32, 0 }, { "model.embed_tokens.weight", 16, 32, 0 },
	{ "model.layers.0.input_layernorm.weight", 0, 32, 1 },
	{ "model.layers.0.self_attn.q_proj.weight", 32, 32, 0 },
	{ "model.layers.0.self_attn.k_proj.weight", 16, 32, 0 },
	{ "model.layers.0.self_attn.v_proj.weight", 16, 32, 0 },
	{ "model.layers.0.self_attn.o_proj.weight", 32, 32, 0 },
	{ "model.layers.0.post_attention_layernorm.weight", 0, 32, 1 },
	{ "model.layers.0.mlp.gate_proj.weight", 64, 32, 0 },
	{ "model.layers.0.mlp.up_proj.weight", 64, 32, 0 },
	{ "model.layers.0.mlp.down_proj.weight", 32, 64, 0 },
	{ "model.norm.weight", 0, 32, 1 },
};

static const char t5_config[] =
	"{\"architectures\": [\"T5ForConditionalGeneration\"], \"d_model\": 32, \"d_kv\": 8,"
	" \"d_ff\": 64, \"num_layers\": 1, \"num_heads\": 4, \"relative_attention_num_buckets\": 8,"
	" \"relative_attention_max_distance\": 20, \"vocab_size\": 16, \"feed_forward_proj\": \"relu\","
	" \"decoder_start_token_id\": 0, \"pad_token_id\": 0, \"eos_token_id\": 1}";

static const char t5_tokenizer[] =
	"{\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":[[\"<pad>\",0.0],[\"</s>\",0.0],[\"<unk>\",0.0],"
	"[\"\xe2\x96\x81\",-2.0],[\"\xe2\x96\x81" "a\",-3.0],[\"a\",-4.0],[\"b\",-4.5],[\"\xe2\x96\x81" "b\",-3.5],"
	"[\"ab\",-3.2],[\"c\",-5.0],[\"d\",-5.0],[\"e\",-5.0],[\"\xe2\x96\x81" "the\",-2.5],[\"s\",-4.0],"
	"[\"<extra_id_1>\",0.0],[\"<extra_id_0>\",0.0]]},"
	"\"added_tokens\":[{\"id\":0,\"content\":\"<pad>\",\"special\":true},"
	"{\"id\":1,\"content\":\"</s>\",\"special\":true},{\"id\":2,\"content\":\"<unk>\",\"special\":true}],"
	"\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\",\"precompiled_charsmap\":null}]},"
	"\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
	"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
	"{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}]}}";

static const struct st_t t5_tensors[] = {
	{ "shared.weight", 16, 32, 0 }, { "encoder.embed_tokens.weight", 16, 32, 0 },
	{ "encoder.block.0.layer.0.SelfAttention.q.weight", 32, 32, 0 },
	{ "encoder.block.0.layer.0.SelfAttention.k.weight", 32, 32, 0 },
	{ "encoder.block.0.layer.0.SelfAttention.v.weight", 32, 32, 0 },
	{ "encoder.block.0.layer.0.SelfAttention.o.weight", 32, 32, 0 },
	{ "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 8, 4, 0 },
	{ "encoder.block.0.layer.0.layer_norm.weight", 0, 32, 1 },
	{ "encoder.block.0.layer.1.DenseReluDense.wi.weight", 64, 32, 0 },
	{ "encoder.block.0.layer.1.DenseReluDense.wo.weight", 32, 64, 0 },
	{ "encoder.block.0.layer.1.layer_norm.weight", 0, 32, 1 },
	{ "encoder.final_layer_norm.weight", 0, 32, 1 },
	{ "decoder.block.0.layer.0.SelfAttention.q.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.0.SelfAttention.k.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.0.SelfAttention.v.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.0.SelfAttention.o.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 8, 4, 0 },
	{ "decoder.block.0.layer.0.layer_norm.weight", 0, 32, 1 },
	{ "decoder.block.0.layer.1.EncDecAttention.q.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.1.EncDecAttention.k.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.1.EncDecAttention.v.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.1.EncDecAttention.o.weight", 32, 32, 0 },
	{ "decoder.block.0.layer.1.layer_norm.weight", 0, 32, 1 },
	{ "decoder.block.0.layer.2.DenseReluDense.wi.weight", 64, 32, 0 },
	{ "decoder.block.0.layer.2.DenseReluDense.wo.weight", 32, 64, 0 },
	{ "decoder.block.0.layer.2.layer_norm.weight", 0, 32, 1 },
	{ "decoder.final_layer_norm.weight", 0, 32, 1 },
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A folder in OUT/tmp-<name> (checked by loading it, then converted to
 * a GGUF seed) and the joined hf seed.  index: sharded instead of one
 * model.safetensors. */
static void hf_seed(const char *name, const char *config, const char *tokenizer,
		    const struct st_t *t, int n, const char *dtype, int index)
{
	char dir[4096], path[4096], seed[128];
	struct buf w = { 0 }, s = { 0 };
	snprintf(dir, sizeof dir, "%s/tmp-%s", out_root, name);
	pb_rm_rf(dir);
	if (pb_mkdir_p(dir) < 0)
		die("cannot make %s", dir);
	st_build(&w, t, n, dtype, 11);
	json_t *map = json_object();
	for (int i = 0; i < n; i++)
		json_object_set_new(map, t[i].name, json_string("model-00001-of-00001.safetensors"));
	json_t *ix = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)w.n, "weight_map", map);
	char *ix_text = json_dumps(ix, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(ix);

	const char *files[] = { "config.json", "tokenizer.json", "model.safetensors",
				"model.safetensors.index.json", "model-00001-of-00001.safetensors" };
	const void *data[] = { config, tokenizer, w.p, ix_text, w.p };
	size_t len[] = { strlen(config), strlen(tokenizer), w.n, strlen(ix_text), w.n };
	int use[] = { 1, 1, !index, index, index };
	int last = index ? 4 : 2;
	for (int i = 0; i <= last; i++) {
		if (i)
			put_sep(&s);
		if (!use[i])
			continue;            /* an empty part: no such file */
		put(&s, data[i], len[i]);
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (pb_write_file(path, data[i], len[i]) < 0)
			die("cannot write %s", path);
	}
	snprintf(seed, sizeof seed, "%s.hf", name);
	emit("hf", seed, &s);
	snprintf(seed, sizeof seed, "%s.safetensors", name);
	emit("safetensors", seed, &w);
	struct pb_model *m = must_load(dir);
	snprintf(seed, sizeof seed, "%s.gguf", name);
	gguf_seed(m, seed);
	pb_model_free(m);
	pb_rm_rf(dir);
	free(ix_text);
	free(w.p);
	free(s.p);
}

static void hf_models(void)
{
	hf_seed("hf-llama", llama_config, llama_tokenizer, llama_tensors, N_OF(llama_tensors), "F16", 0);
	hf_seed("hf-llama-sharded", llama_config, llama_tokenizer, llama_tensors, N_OF(llama_tensors),
		"BF16", 1);
	hf_seed("hf-t5", t5_config, t5_tokenizer, t5_tensors, N_OF(t5_tensors), "F32", 0);
	gguf_v1_seed("hf-llama.gguf", "hf-llama-v1.gguf");
	gguf_v1_seed("hf-t5.gguf", "hf-t5-v1.gguf");
}

/* ---- llama2.c */

static void llama2c_models(void)
{
	/* dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative:
	 * unshared classifier), seq_len */
	static const int32_t hdr[2][7] = { { 16, 32, 1, 2, 2, 32, 16 }, { 16, 32, 2, 4, 2, -32, 8 } };
	static const char *const pieces[] = {
		"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "b", "c", "d", "e", "h", "n", "o", "s", "t",
		" a", " the", "th", "he", "on", "ce", "up", " up", " once", "!", ".", ",", "\"", "\n",
		"<0x00>", "<0xC3>", "<0xA9>", " time",
	};
	char dir[4096], path[4096], name[64];
	for (int k = 0; k < 2; k++) {
		const int32_t *h = hdr[k];
		int64_t dim = h[0], hid = h[1], L = h[2], heads = h[3], kvh = h[4];
		int64_t vocab = h[5] < 0 ? -h[5] : h[5], seq = h[6], head = dim / heads;
		int64_t floats = vocab * dim + L * (dim + dim * dim + 2 * kvh * head * dim + dim * dim + dim +
						    3 * hid * dim) + dim + seq * head + (h[5] < 0 ? vocab * dim : 0);
		struct buf m = { 0 }, t = { 0 }, s = { 0 };
		uint64_t st = 5 + (uint64_t)k;
		put(&m, h, 28);
		for (int64_t i = 0; i < floats; i++) {
			float v = value(&st);
			put(&m, &v, 4);
		}
		put_u32(&t, 8);   /* max_token_length */
		for (int64_t i = 0; i < vocab; i++) {
			float score = -(float)i;
			put(&t, &score, 4);
			put_u32(&t, (uint32_t)strlen(pieces[i]));
			put_str(&t, pieces[i]);
		}
		snprintf(dir, sizeof dir, "%s/tmp-llama2c", out_root);
		pb_rm_rf(dir);
		if (pb_mkdir_p(dir) < 0)
			die("cannot make %s", dir);
		snprintf(path, sizeof path, "%s/tokenizer.bin", dir);
		if (pb_write_file(path, t.p, t.n) < 0)
			die("cannot write %s", path);
		snprintf(path, sizeof path, "%s/model.bin", dir);
		if (pb_write_file(path, m.p, m.n) < 0)
			die("cannot write %s", path);
		struct pb_model *model = must_load(path);
		snprintf(name, sizeof name, "llama2c-%d.gguf", k);
		gguf_seed(model, name);
		pb_model_free(model);
		pb_rm_rf(dir);
		put(&s, m.p, m.n);
		put_sep(&s);
		put(&s, t.p, t.n);
		snprintf(name, sizeof name, "llama2c-%d", k);
		emit("llama2c", name, &s);
		free(m.p);
		free(t.p);
		free(s.p);
	}
}

/* ---- datasets: option byte, max_samples byte, then the file
 * (fuzz-dataset.c) */

static void dataset_seed(const char *name, uint8_t opts, uint8_t max, const struct buf *file)
{
	struct buf b = { 0 };
	put(&b, &opts, 1);
	put(&b, &max, 1);
	put(&b, file->p, file->n);
	emit_free("dataset", name, &b);
}

static void datasets(void)
{
	struct buf f = { 0 };
	put_file(&f, src("experiments/data/stories.txt"));
	dataset_seed("stories.text", 0x00, 0, &f);
	free(f.p);
	memset(&f, 0, sizeof f);
	put_str(&f, "Once upon a time there was a cat.\n<|endoftext|>\nThe cat sat.\n\n"
		    "<|endoftext|>   \n<|endoftext|>\nA last story, é and ü.\n");
	dataset_seed("separated.text", 0x00 | 0x20 | 0x04 | 0x40, 2, &f);
	free(f.p);
	memset(&f, 0, sizeof f);
	put_file(&f, src("experiments/data/prompts.txt"));
	dataset_seed("prompts.prompts", 0x01 | 0x10, 0, &f);
	free(f.p);
	memset(&f, 0, sizeof f);
	put_file(&f, src("experiments/data/story-prompts.txt"));
	dataset_seed("story-prompts.prompts", 0x01 | 0x04 | 0x40, 3, &f);
	free(f.p);
	memset(&f, 0, sizeof f);

	/* jsonl through jansson */
	static const char *const text[][2] = {
		{ "Summarize: the cat sat on the mat.", "cat sat" },
		{ "Line with \"quotes\", commas, and a\nnewline.", "quotes" },
		{ "Unicode: é ü \xe2\x96\x81 \xf0\x9f\x99\x82", "unicode" },
		{ "", "empty prompt" },
		{ "A long one: Once upon a time, in a land far away, there lived a tiny model.", "tiny" },
	};
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		json_t *o = json_pack("{s:s, s:s, s:i}", "prompt", text[i][0], "reference", text[i][1],
				      "id", (int)i);
		char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		put_str(&f, line);
		put_str(&f, "\n");
		free(line);
		json_decref(o);
	}
	dataset_seed("records.jsonl", 0x02 | 0x08 | 0x40, 3, &f);
	dataset_seed("records-shuffled.jsonl", 0x02 | 0x04 | 0x10, 0, &f);
	free(f.p);
	memset(&f, 0, sizeof f);
	put_file(&f, src("tests/experiment/fixtures/data.jsonl"));
	dataset_seed("fixture.jsonl", 0x02, 0, &f);
	free(f.p);
	memset(&f, 0, sizeof f);

	/* csv through the project's writer */
	const char *path = out_path("csv", "dataset.csv");
	static const char *const header[] = { "id", "prompt", "reference" };
	struct pb_csv *w = pb_csv_create(path, header, 3);
	if (!w)
		die("%s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		char id[16];
		snprintf(id, sizeof id, "%zu", i);
		const char *row[] = { id, text[i][0], text[i][1] };
		if (pb_csv_row(w, row) < 0)
			die("%s: write error", path);
	}
	if (pb_csv_close(w) < 0)
		die("%s: write error", path);
	put_file(&f, path);
	dataset_seed("records.csv", 0x03 | 0x08 | 0x04 | 0x40, 2, &f);
	dataset_seed("records-plain.csv", 0x03 | 0x10, 0, &f);
	free(f.p);
}

/* ---- experiments */

static void copy_dir(const char *harness, const char *rel, const char *suffix, const char *prefix)
{
	const char *dir = src(rel);
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096], name[512];
	if (!d)
		die("%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, suffix))
			continue;
		struct buf b = { 0 };
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(name, sizeof name, "%s%s", prefix, e->d_name);
		put_file(&b, path);
		emit_free(harness, name, &b);
	}
	closedir(d);
}

static void experiments(void)
{
	copy_dir("experiment", "experiments", ".yaml", "");
	copy_dir("experiment", "tests/experiment/fixtures", ".yaml", "fixture-");
	struct buf b = { 0 };
	put_file(&b, src("experiments/quickstart.yaml"));
	put_sep(&b);
	put_str(&b, "repeat=3\nmax_new_tokens=4\nseed=9");
	emit_free("experiment", "quickstart-with-sets.yaml", &b);
}

/* ---- results folders and CSV: the report's fixture, a real run */

#define FIXTURE "tests/report/fixtures/results"

static void results_cell(struct buf *b, const char *id, int probe_lines)
{
	static const char *const files[] = {
		"manifest.yaml", "summary.csv", "requests.csv", "tensors.csv", "phases.csv", "rounds.csv",
		"probes.csv",
	};
	char rel[1024];
	for (int i = 0; i < N_OF(files); i++) {
		if (i)
			put_sep(b);
		snprintf(rel, sizeof rel, FIXTURE "/cells/%s/%s", id, files[i]);
		FILE *f = fopen(src(rel), "rb");
		if (!f)
			continue;            /* absent in the fixture: absent here */
		fclose(f);
		if (i == 6)
			put_head(b, src(rel), probe_lines);
		else
			put_file(b, src(rel));
	}
}

static void results(void)
{
	static const char *const pairs[][2] = {
		{ "stories260K.valid.dense.ref-d02be22a", "stories260K.valid.magnitude-sparsity0.3.ref-a4b5807f" },
		{ "stories260K.valid.dense.cpu-blas-9a40adcb", "stories260K.valid.broken.ref-f79997a8" },
		{ "stories260K.valid.magnitude-sparsity0.3.cpu-blas-77de4ff4", "stories260K.valid.dense.ref-d02be22a" },
	};
	for (int k = 0; k < N_OF(pairs); k++) {
		struct buf b = { 0 };
		char name[32];
		results_cell(&b, pairs[k][0], k == 0 ? 0 : 24);
		put_sep(&b);
		results_cell(&b, pairs[k][1], 0);
		snprintf(name, sizeof name, "fixture-%d", k);
		emit_free("results", name, &b);
	}
	struct buf b = { 0 };
	put_file(&b, src(FIXTURE "/summary.csv"));
	emit_free("csv", "summary.csv", &b);
	static const char *const files[] = { "summary.csv", "requests.csv", "tensors.csv", "phases.csv" };
	for (int i = 0; i < N_OF(files); i++) {
		char rel[1024], name[64];
		snprintf(rel, sizeof rel, FIXTURE "/cells/%s/%s", pairs[0][0], files[i]);
		put_file(&b, src(rel));
		snprintf(name, sizeof name, "cell-%s", files[i]);
		emit_free("csv", name, &b);
	}
}

/* ---- the openai backend's replies: the regression inputs (one split
 * byte, then a body in each framing the servers use) */

static void sse_streams(void)
{
	copy_dir("sse", "tests/fuzz/regress/sse", ".sse", "");
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: make-seeds OUT_DIR SOURCE_ROOT [STAMP]\n");
		return 2;
	}
	out_root = argv[1];
	src_root = argv[2];
	pb_log_level_set(PB_LOG_ERROR);
	pb_rm_rf(out_root);
	if (pb_mkdir_p(out_root) < 0)
		die("cannot make %s", out_root);
	synth_models();
	hf_models();
	llama2c_models();
	datasets();
	experiments();
	results();
	sse_streams();
	if (argc == 4 && pb_write_file(argv[3], "", 0) < 0)
		die("cannot write %s", argv[3]);
	return 0;
}

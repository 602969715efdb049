/* tests/formats/hfx.c — tiny Hugging Face folders (hfx.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfx.h"
#include "model/quant.h"
#include "util/util.h"

static const char llama_tok[] =
	"{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,"
	"\"\xe2\x96\x81\":3,\"a\":4,\"\xe2\x96\x81" "a\":5},\"merges\":[\"\xe2\x96\x81 a\"]},"
	"\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":false},"
	"\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":false}}";

static const char t5_tok[] =
	"{\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":[[\"<pad>\",0.0],[\"</s>\",0.0],[\"<unk>\",0.0],"
	"[\"\xe2\x96\x81\",-2.0],[\"\xe2\x96\x81" "a\",-3.0],[\"a\",-4.0]]},"
	"\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true}}";

const char *hfx_path(const char *dir, const char *file)
{
	static char p[4][600];
	static int k;
	char *s = p[k++ % 4];
	snprintf(s, 600, "%s/%s", dir, file);
	return s;
}

static const char *make_dir(const char *name, const char *config, const char *tok)
{
	static char dir[2][512];
	static int k;
	char *d = dir[k++ % 2];
	snprintf(d, 512, "%s/%s", scratch(), name);
	pb_rm_rf(d);
	ck_assert_int_eq(pb_mkdir_p(d), 0);
	write_text(hfx_path(d, "config.json"), config);
	write_text(hfx_path(d, "tokenizer.json"), tok);
	return d;
}

const char *hfx_llama_dir(const char *name, int layers, const char *extra)
{
	char cfg[2048];
	snprintf(cfg, sizeof cfg,
		 "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 32,"
		 " \"intermediate_size\": 64, \"num_hidden_layers\": %d, \"num_attention_heads\": 4,"
		 " \"num_key_value_heads\": 2, \"vocab_size\": 16, \"max_position_embeddings\": 64,"
		 " \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, \"bos_token_id\": 1, \"eos_token_id\": 2,"
		 " \"tie_word_embeddings\": false%s%s}",
		 layers, extra ? ", " : "", extra ? extra : "");
	return make_dir(name, cfg, llama_tok);
}

const char *hfx_dir(const char *name, const char *config)
{
	return make_dir(name, config, llama_tok);
}

const char *hfx_t5_dir(const char *name, const char *ff, const char *extra)
{
	char cfg[2048];
	snprintf(cfg, sizeof cfg,
		 "{\"architectures\": [\"T5ForConditionalGeneration\"], \"d_model\": 32, \"d_kv\": 8,"
		 " \"d_ff\": 64, \"num_layers\": 1, \"num_heads\": 4, \"relative_attention_num_buckets\": 8,"
		 " \"relative_attention_max_distance\": 20, \"vocab_size\": 16, \"feed_forward_proj\": \"%s\","
		 " \"decoder_start_token_id\": 0, \"pad_token_id\": 0, \"eos_token_id\": 1%s%s}",
		 ff, extra ? ", " : "", extra ? extra : "");
	return make_dir(name, cfg, t5_tok);
}

#define ADD(...) do { entry(&e[n], __VA_ARGS__); n++; } while (0)

static void *pool[512];
static int n_pool;

static void pool_free(void)
{
	while (n_pool)
		free(pool[--n_pool]);
}

/* rows × cols deterministic values in dtype; 1-D when rows is 0. */
static void entry(struct st_entry *e, const char *name, const char *dtype, int64_t rows, int64_t cols,
		  uint64_t seed)
{
	int64_t n = (rows ? rows : 1) * cols;
	enum pb_dtype d = !strcmp(dtype, "F16") ? PB_F16 : !strcmp(dtype, "BF16") ? PB_BF16 : PB_F32;
	float *x = malloc((size_t)n * 4);
	void *out = malloc((size_t)n * 4);
	ck_assert(x && out);
	if (!n_pool)
		atexit(pool_free);
	ck_assert_int_lt(n_pool, 511);
	pool[n_pool++] = out;
	fill_floats(x, (size_t)n, seed);
	pb_quantize_row(d, x, out, n);
	free(x);
	e->name = strdup(name);
	pool[n_pool++] = (void *)e->name;
	e->dtype = dtype;
	e->nd = rows ? 2 : 1;
	e->shape[0] = rows ? rows : cols;
	e->shape[1] = cols;
	e->data = out;
	e->nbytes = pb_dtype_row_bytes(d, n);
}

int hfx_llama_entries(const char *dtype, int layers, int embed, int lm_head, struct st_entry **out)
{
	static struct st_entry e[64];
	char name[128];
	int n = 0;
	if (lm_head)
		ADD("lm_head.weight", dtype, 16, 32, 1);
	if (embed)
		ADD("model.embed_tokens.weight", dtype, 16, 32, lm_head == 2 ? 1 : 2);
	static const struct { const char *s; int64_t r, c; } blk[] = {
		{ "input_layernorm", 0, 32 }, { "self_attn.q_proj", 32, 32 }, { "self_attn.k_proj", 16, 32 },
		{ "self_attn.v_proj", 16, 32 }, { "self_attn.o_proj", 32, 32 },
		{ "post_attention_layernorm", 0, 32 }, { "mlp.gate_proj", 64, 32 },
		{ "mlp.up_proj", 64, 32 }, { "mlp.down_proj", 32, 64 },
	};
	for (int l = 0; l < layers; l++)
		for (size_t k = 0; k < sizeof blk / sizeof blk[0]; k++) {
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, blk[k].s);
			ADD(name, dtype, blk[k].r, blk[k].c, (uint64_t)(10 + n));
		}
	ADD("model.norm.weight", dtype, 0, 32, 99);
	*out = e;
	return n;
}

int hfx_t5_entries(int gated, int lm_head, struct st_entry **out)
{
	static struct st_entry e[64];
	char name[160];
	int n = 0;
	ADD("shared.weight", "F32", 16, 32, 1);
	ADD("encoder.embed_tokens.weight", "F32", 16, 32, 1);
	if (lm_head)
		ADD("lm_head.weight", "F32", 16, 32, 2);
	for (int s = 0; s < 2; s++) {
		const char *st = s ? "decoder" : "encoder";
		static const char *const qkvo[] = { "q", "k", "v", "o" };
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof name, "%s.block.0.layer.0.SelfAttention.%s.weight", st, qkvo[k]);
			ADD(name, "F32", 32, 32, (uint64_t)(10 + n));
		}
		snprintf(name, sizeof name, "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", st);
		ADD(name, "F32", 8, 4, (uint64_t)(10 + n));
		snprintf(name, sizeof name, "%s.block.0.layer.0.layer_norm.weight", st);
		ADD(name, "F32", 0, 32, (uint64_t)(10 + n));
		if (s)
			for (int k = 0; k < 4; k++) {
				snprintf(name, sizeof name, "decoder.block.0.layer.1.EncDecAttention.%s.weight", qkvo[k]);
				ADD(name, "F32", 32, 32, (uint64_t)(10 + n));
			}
		if (s)
			ADD("decoder.block.0.layer.1.layer_norm.weight", "F32", 0, 32, (uint64_t)(10 + n));
		int f = s ? 2 : 1;
		if (gated) {
			snprintf(name, sizeof name, "%s.block.0.layer.%d.DenseReluDense.wi_0.weight", st, f);
			ADD(name, "F32", 64, 32, (uint64_t)(10 + n));
			snprintf(name, sizeof name, "%s.block.0.layer.%d.DenseReluDense.wi_1.weight", st, f);
		} else {
			snprintf(name, sizeof name, "%s.block.0.layer.%d.DenseReluDense.wi.weight", st, f);
		}
		ADD(name, "F32", 64, 32, (uint64_t)(10 + n));
		snprintf(name, sizeof name, "%s.block.0.layer.%d.DenseReluDense.wo.weight", st, f);
		ADD(name, "F32", 32, 64, (uint64_t)(10 + n));
		snprintf(name, sizeof name, "%s.block.0.layer.%d.layer_norm.weight", st, f);
		ADD(name, "F32", 0, 32, (uint64_t)(10 + n));
		snprintf(name, sizeof name, "%s.final_layer_norm.weight", st);
		ADD(name, "F32", 0, 32, (uint64_t)(10 + n));
	}
	*out = e;
	return n;
}

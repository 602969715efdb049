/* tests/formats/hfx.h — tiny Hugging Face folders for the safetensors and
 * folder tests (hfx.c). */
#ifndef PB_TEST_HFX_H
#define PB_TEST_HFX_H

#include "fmt.h"

/* A folder <scratch>/<name> with config.json (llama: hidden 32, 4 heads,
 * 2 KV heads, FFN 64, `layers` blocks, vocab 16; extra: more config
 * members, e.g. "\"tie_word_embeddings\": true") and tokenizer.json. */
const char *hfx_llama_dir(const char *name, int layers, const char *extra);
/* A folder with this config.json and the llama tokenizer.json (6 pieces:
 * <unk> <s> </s> ▁ a ▁a). */
const char *hfx_dir(const char *name, const char *config);
/* The same for T5 (d_model 32, d_kv 8, 4 heads, d_ff 64, 1+1 blocks,
 * 8 buckets, vocab 16, feed_forward_proj ff). */
const char *hfx_t5_dir(const char *name, const char *ff, const char *extra);
/* The llama weights in `dtype` (F32, F16, BF16): embed and lm_head as
 * asked; returns the entries (static) and their count. */
int hfx_llama_entries(const char *dtype, int layers, int embed, int lm_head, struct st_entry **out);
int hfx_t5_entries(int gated, int lm_head, struct st_entry **out);
/* "<dir>/<file>" */
const char *hfx_path(const char *dir, const char *file);

#endif

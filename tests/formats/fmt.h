/* tests/formats/fmt.h — what the format tests share: a byte buffer to
 * build files with, a scratch folder, deterministic data, the checks "this
 * file loads" and "this file fails with this message at this offset", and
 * a GGUF builder that records where each field went (gg.c). */
#ifndef PB_TEST_FMT_H
#define PB_TEST_FMT_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/model.h>

struct fb {
	uint8_t *p;
	size_t n, cap;
};

void fb_put(struct fb *b, const void *p, size_t n);
void fb_u32(struct fb *b, uint32_t v);
void fb_u64(struct fb *b, uint64_t v);
void fb_f32(struct fb *b, float v);
void fb_zeros(struct fb *b, size_t n);
void fb_free(struct fb *b);
void put_u32_at(uint8_t *p, size_t off, uint32_t v);
void put_u64_at(uint8_t *p, size_t off, uint64_t v);

/* A fresh folder for this test binary (removed at exit), and paths in it. */
const char *scratch(void);
const char *spath(const char *name);          /* static buffer, 4 slots */
void write_bytes(const char *path, const void *p, size_t n);
void write_text(const char *path, const char *text);

/* n floats in [-1, 1) from a seed. */
void fill_floats(float *x, size_t n, uint64_t seed);

/* Loads (tokenizer: NULL for the model's own); fails the test otherwise. */
struct pb_model *must_load(const char *path, const char *tok);
/* Fails to load, with `needle` in the message and, when offset >= 0,
 * "offset <offset>:" too. */
void must_fail(const char *path, const char *tok, long offset, const char *needle);

/* The tensor named `name`, or NULL. */
struct pb_tensor *tensor_named(const struct pb_model *m, const char *name);
/* Two models have the same tensors by name (the tied output of one may be
 * stored in the other), bit for bit when tol is 0, else within tol after
 * dequantizing. */
void same_tensors(const struct pb_model *a, const struct pb_model *b, float tol);

/* ---- safetensors (st.c) ---- */

struct st_entry {
	const char *name;
	const char *dtype;        /* "F32", "F16", "BF16" */
	int nd;
	int64_t shape[4];
	const void *data;
	size_t nbytes;
};

/* A well-formed file: header padded to 8 bytes, data back to back.
 * meta: the __metadata__ object's JSON, or NULL.  Returns the header. */
void st_write(const char *path, const struct st_entry *e, int n, const char *meta);
/* Header text (not padded) and data as given. */
void st_write_raw(const char *path, const char *header, const void *data, size_t n);
/* Offset in such a file of the key "name" (8 + its index in header). */
long st_key_offset(const char *header, const char *name);

/* ---- GGUF builder (gg.c) ---- */

#define GG_MAX_T 64

struct gg_tensor {
	char name[96];
	int nd;
	uint64_t ne[4];
	uint32_t type;
	const void *data;
	size_t nbytes;
	uint64_t offset;          /* relative to the data section; set by gg_finish */
	size_t info_at, nd_at, dims_at, type_at, off_at;   /* absolute, after gg_finish */
};

struct gg {
	int version;
	size_t lenw;
	struct fb kv;             /* the pairs */
	size_t kv_at[128];        /* each pair's start within kv */
	char *kv_key[128];
	int n_kv;
	struct gg_tensor t[GG_MAX_T];
	int nt;
	struct fb out;            /* the file, after gg_finish */
	size_t ntens_at, nkv_at, data_at;
};

void gg_init(struct gg *g, int version);
void gg_free(struct gg *g);
void gg_kv_str(struct gg *g, const char *key, const char *v);
void gg_kv_u32(struct gg *g, const char *key, uint32_t v);
void gg_kv_f32(struct gg *g, const char *key, float v);
void gg_kv_bool(struct gg *g, const char *key, int v);
void gg_kv_strs(struct gg *g, const char *key, const char *const *v, int n);
void gg_kv_f32s(struct gg *g, const char *key, const float *v, int n);
void gg_kv_i32s(struct gg *g, const char *key, const int32_t *v, int n);
/* Absolute offset of a pair, after gg_finish. */
size_t gg_kv_offset(const struct gg *g, const char *key);
void gg_tensor(struct gg *g, const char *name, uint32_t type, int nd, const uint64_t *ne,
	       const void *data, size_t nbytes);
void gg_finish(struct gg *g);

/* A tiny llama (dim 32, 4 heads of 8, 2 KV heads, FFN 64, 1 block, the
 * 259-piece byte vocabulary + 1, tied output) with linears of ggml type
 * lin_type; the data arrays live until gg_free of... the process. */
void gg_tiny_llama(struct gg *g, int version, uint32_t lin_type);
/* The same, v3, with rows of whole 256-element k-quant blocks: dim 256,
 * 2 heads of 128, 1 KV head, FFN 512. */
void gg_tiny_llama_256(struct gg *g, uint32_t lin_type);
/* A tiny t5 (dim 32, 4 heads of 8, FFN 64, 1+1 blocks, 8 buckets,
 * a 10-piece unigram vocabulary), gated or not, output tied or not. */
void gg_tiny_t5(struct gg *g, int gated, int tied);

#endif

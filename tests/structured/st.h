/* tests/structured/st.h — what the structured-pruning and quantization
 * tests share: tiny synthetic models, pruner plugins loaded from the build
 * tree and run through the core's real host (so tensor_realloc and
 * tensor_remove are the core's), a fake calibration handle, and logits
 * from the ref backend (linked in, tests/lib). */
#ifndef PB_TEST_ST_H
#define PB_TEST_ST_H

#include <prunebench/plugin.h>

/* llama: dim 64, head_dim 8, GQA n_heads/n_kv, ffn, vocab 300, ctx 32. */
struct pb_model *st_llama(uint64_t seed, int n_layers, int n_heads, int n_kv, int ffn);
/* llama of any width: head_dim dim / n_heads, vocab 300, ctx 32. */
struct pb_model *st_llama_dim(uint64_t seed, int dim, int n_layers, int n_heads, int n_kv, int ffn);
/* T5 of any width (heads of 64), ReLU, 2 + 2 blocks, untied head. */
struct pb_model *st_t5_dim(uint64_t seed, int dim, int ffn);
/* T5: dim 64, 4 heads of 8, ffn, gated-GELU or ReLU, 2 + 2 blocks. */
struct pb_model *st_t5(uint64_t seed, int gated, int ffn);

/* A plugin from the build tree (path from the meson define). */
const struct pb_plugin *st_plugin(const char *path);

/* A fake calibration handle: block_stats answers COL_SQ for every linear
 * of the block from col_sq_fn; block_influence copies `bi`. */
struct st_calib {
	struct pb_calib c;
	struct pb_model *m;
	double (*col_sq_fn)(const struct pb_tensor *t, int layer, int64_t col);
	const double *bi;
	int n_calls;
	struct pb_linear_stats st[16];
	double *buf[16];
};
void st_calib_init(struct st_calib *k, struct pb_model *m);
void st_calib_free(struct st_calib *k);

/* Run one step: options as "key=value" strings, NULL-terminated.  Returns
 * apply()'s (or init's / check's) result; the host's last log line in
 * st_log.  targets (may be NULL) get what apply() reported. */
extern char st_log[2048];
int st_prune(const struct pb_plugin *p, struct pb_model *m, struct pb_calib *calib,
	     struct pb_prune_target *targets, const char *const *opts);

/* Logits of every row of tokens (n × vocab; T5: after encoding src). */
void st_logits(struct pb_model *m, const int32_t *tokens, int n, float *out);

/* max |a - b| <= tol · max |b|, with the position in the message. */
void st_assert_close(const float *a, const float *b, int64_t n, double tol, const char *what);

/* The dense model's linear parameters (block linears only). */
int64_t st_block_linear_params(const struct pb_model *m);

#endif

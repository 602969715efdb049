/* tests/pruners/fakecalib.h — fakes for the unstructured pruner tests: a
 * small Llama-shaped model of random weights, and a calibration handle
 * (struct pb_calib) that serves statistics computed from activations the
 * test knows (one X of n_tok × n_in per linear), so every expected value
 * can be computed again in the test.  The handle also records the order in
 * which blocks were asked and whether each block was still untouched (and
 * the one before it already pruned) when it was asked: the sequential
 * scheme Wanda and SparseGPT need. */
#ifndef PB_FAKECALIB_H
#define PB_FAKECALIB_H

#include <stdint.h>

#include <prunebench/plugin.h>

/* ---- model ---- */

/* n_layers blocks of q k v o (dim → dim), gate up (dim → ffn), down
 * (ffn → dim), with norms, an embedding and an output head; weights
 * uniform in (-1, 1) without zeros, from `seed`. */
void fake_model_make(struct pb_model *m, int n_layers, int dim, int ffn, enum pb_dtype dt,
		     uint32_t seed);
void fake_model_free(struct pb_model *m);
/* A deep copy (to compare before and after). */
void fake_model_copy(struct pb_model *dst, const struct pb_model *src);
float fake_get(const struct pb_tensor *t, int64_t i);
void fake_set(struct pb_tensor *t, int64_t i, float v);
int64_t fake_zeros(const struct pb_tensor *t);
int fake_same_bytes(const struct pb_model *a, const struct pb_model *b);

/* ---- calibration ---- */

struct fake_calib {
	struct pb_calib base;           /* first: pruners see only this */
	struct pb_model *m;
	int n_tok;
	float **x;                      /* per tensor index: n_tok × ne[0], or NULL */
	struct pb_linear_stats *stats;  /* the last answer */
	double *bufs;                   /* its col_sq / xtx storage */
	int calls, last_layer;
	int order_ok;                   /* layers asked in non-decreasing order */
	int sequential_ok;              /* block l untouched and l−1 pruned when l asked */
	unsigned wants;                 /* union of `want` asked */
};

/* X for every linear of m: n_tok tokens of correlated features with
 * column scales between 0.1 and 3 (what makes activation-aware pruning
 * differ from magnitude), from `seed`.  `dead_tensor` >= 0 gets its input
 * column 1 at zero for every token (a dead input). */
void fake_calib_init(struct fake_calib *c, struct pb_model *m, int n_tok, uint32_t seed,
		     int dead_tensor);
void fake_calib_free(struct fake_calib *c);

/* ‖W·Xᵀ − Ŵ·Xᵀ‖²_F over the calibration tokens of tensor i. */
double fake_recon_error(const struct fake_calib *c, const struct pb_model *dense,
			const struct pb_model *pruned, int i);

/* ---- running a pruner ---- */

/* dlopen the pruner at `so` (checking its descriptor), fill its config
 * with defaults and then the NULL-terminated (key, value) pairs, init on a
 * fake host (n_threads, seed), check() and apply() on m with calib (may be
 * NULL), fini.  tg (m->n_tensors entries, may be NULL) gets the targets.
 * Returns check()'s rc when it fails, else apply()'s; init must succeed. */
int fake_prune(const char *so, const char *const *kv, struct pb_model *m, struct pb_calib *calib,
	       struct pb_prune_target *tg, int n_threads, uint64_t seed);
/* The descriptor of the pruner at `so` (stays loaded). */
const struct pb_plugin *fake_plugin(const char *so);

#endif

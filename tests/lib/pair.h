/* tests/lib/pair.h — what the tests that hold a backend against `ref`
 * share (tests/cpu-blas, tests/vulkan): a dlopened backend, random weights
 * and inputs from one deterministic stream, a graph run on both backends
 * over the same buffers, and the comparisons. */
#ifndef PB_TEST_PAIR_H
#define PB_TEST_PAIR_H

#include <prunebench/plugin.h>

struct be {
	void *dl;
	const struct pb_plugin *p;
	const struct pb_backend_ops *ops;
	void *st;
};

/* The last ERROR/WARN line a backend logged (defined by the test's own
 * backend opener: tests/cpu-blas/backends.c, tests/vulkan/vkbe.c). */
extern char be_last_log[1024];

float pair_frand(void);   /* uniform in [-1, 1), one xorshift stream per program */

/* t := [ne0 × ne1] random weights (a fraction `zeros` of them 0) in
 * format d, named `name`; t's old data is freed. */
void pair_weight(struct pb_tensor *t, const char *name, enum pb_dtype d, int64_t ne0, int64_t ne1,
		 enum pb_role role, double zeros);

/* Loads ma into a and mb into b, gives both buffers of sizes[] holding
 * the same random values, computes g on both and reads every buffer back:
 * out[0][i] from a, out[1][i] from b (malloc'd; pair_free frees them). */
void pair_run(struct be *a, const struct pb_model *ma, struct be *b, const struct pb_model *mb,
	      const struct pb_graph *g, const int64_t *sizes, int n_buf, float *out[2][8]);
void pair_free(float *out[2][8], int n_buf);

/* max |got − ref| ≤ tol · max |ref| over n floats (NaN fails), with a
 * message naming the op and buffer. */
void pair_assert_close(const float *ref, const float *got, int64_t n, double tol,
		       const struct pb_op *op, int buf, const char *name);

double pair_max_rel(const float *ref, const float *got, int64_t n);   /* max |Δ| / max |ref| */
int pair_argmax(const float *v, int n);

#endif

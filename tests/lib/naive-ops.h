/* tests/lib/naive-ops.h — the op list as the plainest loops, written apart
 * from every backend: the oracle that tests/lib/edge-cases.c holds ref,
 * cpu-blas and vulkan to.  Each op first reads a snapshot of the buffers
 * and then writes (a GPU's order: every input read before any output),
 * attention builds its whole masked score row, and weights are read
 * through the core's dequantisation (model/quant.h), so no backend code
 * is shared. */
#ifndef PB_TEST_NAIVE_OPS_H
#define PB_TEST_NAIVE_OPS_H

#include <prunebench/plugin.h>

/* Runs g over bufs[i] (sizes[i] floats each) with m's weights.  Bad
 * operands are the test's bug: ck_assert. */
void naive_graph(const struct pb_model *m, const struct pb_graph *g, float **bufs,
		 const int64_t *sizes, int n_buf);

#endif

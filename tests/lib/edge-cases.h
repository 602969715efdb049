/* tests/lib/edge-cases.h — the op features of the edge model families
 * (Qwen2 biases, Qwen3/Gemma 3 per-head norms, Llama 3 / Phi-3 RoPE
 * factors, partial rotation, Gemma 2 soft-capping and sliding windows,
 * Phi-3's fused QKV and gate/up slices) as small graphs, each checked on a
 * backend against tests/lib/naive-ops.c: prefill and decode (pos0 > 0),
 * GQA, both RoPE layouts, windows shorter than the context.  Shared by
 * tests/cpu-blas (ref and cpu-blas) and tests/vulkan. */
#ifndef PB_TEST_EDGE_CASES_H
#define PB_TEST_EDGE_CASES_H

#include <prunebench/plugin.h>

#include "pair.h"   /* struct be */

#define EDGE_MAX_T 4
#define EDGE_MAX_OPS 8
#define EDGE_MAX_BUF 8

struct edge_case {
	const char *name;
	struct pb_model m;
	struct pb_tensor t[EDGE_MAX_T];
	struct pb_op ops[EDGE_MAX_OPS];
	int n_ops;
	int32_t tokens[8];
	int n_tokens;                    /* the graph's (embed) */
	int64_t sizes[EDGE_MAX_BUF];
	int n_buf;
	float in_scale[EDGE_MAX_BUF];    /* inputs uniform in ±in_scale (0: ±1) */
};

int edge_case_count(void);
/* Builds case i (weights malloc'd; random from pair_frand). */
void edge_case_make(int i, struct edge_case *c);
void edge_case_free(struct edge_case *c);

/* c's inputs, from pair_frand (malloc'd; edge_bufs_free). */
void edge_inputs(const struct edge_case *c, float *in[EDGE_MAX_BUF]);
void edge_bufs_free(float *b[EDGE_MAX_BUF], int n);
/* Loads c's model on b, writes in[], runs the graph and reads every
 * buffer back into out[] (malloc'd); the log on failure. */
void edge_run(struct be *b, const struct edge_case *c, float *const in[EDGE_MAX_BUF],
	      float *out[EDGE_MAX_BUF]);
/* c computed by naive-ops.c from in[] (malloc'd). */
void edge_naive(const struct edge_case *c, float *const in[EDGE_MAX_BUF], float *out[EDGE_MAX_BUF]);
/* every buffer of got within tol · max |naive| of naive, naming the case */
void edge_assert_close(const struct edge_case *c, float *const naive[EDGE_MAX_BUF],
		       float *const got[EDGE_MAX_BUF], double tol, const char *backend);

/* Ops with unknown or out-of-range fields (a bad type, activation, cap,
 * n_rot, layout, factor tensor, softcap, window, embed scale; add_bias
 * without its weight): b must refuse each with an error that names the
 * problem, and still run a good step after them. */
void edge_check_refusals(struct be *b);

#endif

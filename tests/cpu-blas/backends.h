/* tests/cpu-blas/backends.h — the built ref and cpu-blas plugins, dlopened
 * from PB_BUILD_ROOT (both export `pb_plugin`, so they cannot be linked
 * into one test), each with a fake host. */
#ifndef PB_TEST_CPUBLAS_BACKENDS_H
#define PB_TEST_CPUBLAS_BACKENDS_H

#include <prunebench/plugin.h>

#include "pair.h"   /* struct be */

/* cpu-blas's config struct, as plugins/backends/cpu-blas/cpu-blas.h has
 * it (checked against config_size) */
struct cb_config {
	int64_t threads;
	double sparse_threshold;
	int check_nan;
	int portable;
	int int8_act;
	int kv_f16;
	int mask_runtime;
	int repack;
	int int8_gemm;
	int gemm;           /* 0 auto, 1 native, 2 openblas */
	int hugepages;      /* repacked weights on transparent huge pages */
	char gemm_cache[PB_OPT_STR_MAX];   /* "": no calibration, auto keeps the rule */
};

extern char be_last_log[1024];
extern const struct pb_host be_host;

/* name "ref" or "cpu-blas"; cfg NULL = defaults (threads 3, threshold
 * 0.35, check_nan on).  ck_asserts on failure. */
void be_open(struct be *b, const char *name, const struct cb_config *cfg);
void be_close(struct be *b);

#endif

/* bench/bench-common.h — what the cpu-blas benchmarks share: backends
 * dlopened from the build tree, a timed prefill + decode run of one
 * session, the streaming-read bandwidth, raw cblas_sgemm on a model's
 * linear shapes, medians, and the model variants (magnitude, 2:4,
 * structured) the token benchmark compares. */
#ifndef PB_BENCH_COMMON_H
#define PB_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/plugin.h>

#include "model/modelio.h"

struct cb_config {   /* plugins/backends/cpu-blas/cpu-blas.h */
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

/* A host for plugins a benchmark initialises itself: warnings and errors
 * to stderr, one thread (backends take `threads` from their config). */
extern const struct pb_host bench_host;

const struct pb_plugin *bench_plugin(const char *name);

struct pb_session;

/* p initialised with cfg, m's weights loaded and a session opened on
 * them (*st, *s); -1 with nothing left open on failure.  bench_close
 * closes what bench_open opened (NULLs allowed). */
int bench_open(const struct pb_plugin *p, const void *cfg, struct pb_model *m, void **st,
	       struct pb_session **s);
void bench_close(const struct pb_plugin *p, void *st, struct pb_session *s);

/* The benchmark's prompt: the synthetic byte vocabulary's 'a'..'z'
 * (ids 100..125) in turn, n of them. */
void bench_prompt(int32_t *tok, int n);

/* The benchmark's loop on session s: a prefill of tok[0 .. n_prefill)
 * timed (*prefill_ms), then n_decode single-token steps fed the prompt's
 * tokens in turn (*tok_s).  -1 when a step fails. */
int bench_loop(struct pb_session *s, const int32_t *tok, int n_prefill, int n_decode,
	       float *logits, double *prefill_ms, double *tok_s);

/* One session on m: a warm-up prefill, then n_prefill tokens timed and
 * n_decode single-token steps timed.  kernel: what the first block
 * linear runs.  -1 on failure. */
int bench_run(const struct pb_plugin *p, const void *cfg, struct pb_model *m, int n_prefill,
	      int n_decode, double *prefill_ms, double *tok_s, char *kernel, size_t klen);

/* Streaming read bandwidth (GB/s) of n threads summing a 512 MB buffer,
 * median of 5. */
double bench_bandwidth(int n);

/* on: pin the calling thread to the first CPU of the affinity mask the
 * process started with (threads it creates inherit it); off: give it the
 * whole mask back.  Why: a VM's CPUs need not be equal (seen on a 2-vCPU
 * host: one ran prefill 30 % and decode 40 % slower than the other for
 * minutes on end), and an unpinned 1-thread run lands on either, so its
 * figures jump between two levels from run to run.  PB_BENCH_PIN=0 in
 * the environment turns it off (prints to stderr where it cannot pin). */
void bench_pin_first(int on);

double bench_linear_bytes(const struct pb_model *m);       /* linear weights, bytes */
double bench_linear_flops(const struct pb_model *m, int n_tokens);
/* Raw cblas_sgemm GFLOP/s over m's F32 linear shapes for n_tokens rows on
 * n OpenBLAS threads, median of 5 passes. */
double bench_raw_sgemm(const struct pb_model *m, int n_tokens, int n);

double bench_median(double *v, int n);

/* Variants of an F32 model; block linears only (the output projection is
 * left alone, as the pruners do by default). */
int bench_magnitude(struct pb_model *m, double sparsity);
int bench_two_four(struct pb_model *m, int pack, char *err, size_t len);
int bench_shrink(struct pb_model *m, char *err, size_t len);

#endif

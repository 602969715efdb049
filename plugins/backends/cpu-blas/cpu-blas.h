/* plugins/backends/cpu-blas/cpu-blas.h — what the files of the cpu-blas
 * backend share: its state, the per-tensor plan made at weights_load, and
 * the kernel entry points (linear.c, ops.c, kernels-*.c). */
#ifndef CPUBLAS_H
#define CPUBLAS_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/plugin.h>

#include "gemm.h"
#include "pool.h"

struct cb_config {
	int64_t threads;           /* 0: the host's n_threads */
	double sparse_threshold;   /* F32 linears below this density run as CSR */
	int check_nan;
	int portable;               /* force the portable C kernels (tests, bench) */
	int int8_act;               /* decode Q8_0/Q4_0 with 8-bit activations and integer dots */
	int kv_f16;                 /* KV caches (buffers written by kv_store) held as F16 */
	int mask_runtime;           /* mask_mode: 0 baked, 1 runtime (mask.c) */
	int repack;                 /* Q8_0/Q4_0 linears row-interleaved at weights_load (repack.c):
				     * CB_REPACK_OFF, _ON or _AUTO */
	int int8_gemm;              /* Q8_0/Q4_0 prefill as int8 GEMM on the repacked rows */
	int gemm;                   /* prefill GEMM: CB_GEMM_AUTO, _NATIVE or _OPENBLAS */
	int hugepages;              /* repacked weights on transparent huge pages (repack.c) */
	char gemm_cache[PB_OPT_STR_MAX];   /* gemm auto's calibration cache (calib.c); "" off */
};

#define CB_VERSION "1.0.0"

enum { CB_GEMM_AUTO, CB_GEMM_NATIVE, CB_GEMM_OPENBLAS };
/* `repack: false|true|auto`, in the option's order (true = 1 as a bool) */
enum { CB_REPACK_OFF, CB_REPACK_ON, CB_REPACK_AUTO };

/* A linear's CSR copy: rows × cols, nnz values with 16-bit column indices
 * when cols ≤ 65536 (half the index bytes), 32-bit otherwise. */
struct cb_csr {
	int64_t rows, cols, nnz;
	int64_t *row_ptr;          /* rows + 1 */
	uint16_t *col16;
	uint32_t *col32;
	float *val;
};

struct cb_weight {
	struct cb_csr *csr;        /* non-NULL: this tensor runs sparse */
	int mask;                  /* mask_mode runtime: index in cb_masks.m, else -1 */
	/* non-NULL: the tensor's rows repacked (repack.c): rp_groups groups
	 * of CB_RGROUP rows interleaved, then the remaining rows as stored */
	uint8_t *rp;
	int64_t rp_groups;
	int rp_paged;              /* the model's copy was handed back to the kernel (madvise) */
	int gemm_native;           /* prefill on the native GEMM, else OpenBLAS (calib.c) */
};

/* gemm auto's calibration of one shape (calib.c) */
enum { CB_CAL_NONE, CB_CAL_MEASURED, CB_CAL_CACHE };
struct cb_cal {
	int idx;                   /* the first tensor of this shape */
	int64_t n_out, n_in;
	enum pb_dtype dtype;
	double native_gflops, blas_gflops;
	int native;                /* the faster: native GEMM (else OpenBLAS) */
	int source;                /* CB_CAL_*: NONE keeps the rule */
};

/* mask_mode runtime (mask.c): per pruned F32 linear, weight_orig (the
 * model's tensor data), a float mask and the executed weight that every
 * step recomputes as weight_orig ⊙ mask before its ops run; the kernels
 * read the executed weights through `view`, a copy of the model whose
 * masked tensors point at them. */
struct cb_mask {
	int tensor;
	int64_t n;                 /* elements */
	const float *orig;
	float *mask, *exec;
	int used;                  /* by the graph being run */
};

struct cb_masks {
	struct cb_mask *m;
	int n;
	struct pb_model view;
	struct pb_tensor *tensors; /* view.tensors */
	int64_t *todo;             /* chunks to run this step: mask << 32 | chunk */
	int64_t n_chunks;          /* of all masks: the capacity of todo */
};

struct cb_buf {
	float *p;
	uint16_t *h;               /* kv_f16: the F16 copy kv_store writes and attention reads */
	int64_t n;
};

/* One GEMV kernel: out[t] = w_row · x_t for t < nt (nt ≤ 4), the weight
 * row streamed once; x_t at x + t * xs. */
typedef void (*cb_dot_fn)(const uint8_t *w, int64_t n, const float *x, int64_t xs, int nt,
			  float *out);
/* One row dequantised to F32. */
typedef void (*cb_deq_fn)(const uint8_t *w, int64_t n, float *y);

/* A step's activations quantised for the integer kernels, llama.cpp's way,
 * in one of two shapes, by the weight format of the linear:
 *  - Q8_0 / Q4_0 (cb_quantize_x): per token, n/32 blocks of 32 int8 q with
 *    scale d (x ≈ d·q) and the block's d·Σq as a float (Q4_0's −8 offset
 *    folds into it; a float so the kernel converts nothing per block).
 *    Token t's blocks start at q + t·n, d + t·n/32, dsum + t·n/32;
 *  - the k-quants (quant_k, llama.cpp's Q8_K): per token, n/256 blocks of
 *    256 int8 q with scale d, and bsum, the sum of every 16 consecutive q
 *    (the mins and offsets of the k-quants multiply them).  Token t's
 *    blocks start at q + t·n, d + t·n/256, bsum + t·n/16. */
struct cb_xq {
	int8_t *q;
	float *d;
	float *dsum;
	int32_t *qsum;             /* Q8_0 / Q4_0: per block Σq (the repacked kernels' offsets) */
	int16_t *bsum;
	int64_t n, cap;            /* elements per token; capacity per token */
};

/* out[t] = w_row · x_t from quantised activations (Q8_0 / Q4_0 and k-quant
 * rows). */
typedef void (*cb_qdot_fn)(const uint8_t *w, int64_t n, const struct cb_xq *x, int nt,
			   float *out);
/* One repacked group of CB_RGROUP rows (repack.c) against tokens t0 …
 * t0 + nt − 1 of x (nt ≤ CB_RTOK): y[t·ys + r] = row r · x_{t0+t}. */
typedef void (*cb_rdot_fn)(const uint8_t *g, int64_t n, const struct cb_xq *x, int t0, int nt,
			   float *y, int64_t ys);
/* One 2:4-packed row (its n/2 values, n/4 index bytes; tensor.h) against
 * nt tokens. */
typedef void (*cb_nm24_fn)(const float *val, const uint8_t *idx, int64_t n, const float *x,
			   int64_t xs, int nt, float *out);

/* The kernels one CPU runs, filled by the cb_kernels_* functions. */
struct cb_kernels {
	cb_dot_fn dot[PB_DTYPE_COUNT];
	cb_deq_fn deq[PB_DTYPE_COUNT];
	cb_qdot_fn qdot[PB_DTYPE_COUNT];
	cb_rdot_fn rdot[PB_DTYPE_COUNT];   /* Q8_0 / Q4_0 repacked; NULL: no repacking */
	/* the k-quants' activations: n/256 blocks (struct cb_xq) */
	void (*quant_k)(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsum);
	/* Q8_0 / Q4_0 activations (struct cb_xq): cb_quantize_x or a SIMD
	 * version bit-identical to it (kernels-repack.c) */
	void (*quant_x)(const float *x, int64_t n, int8_t *q, float *d, float *dsum, int32_t *qsum);
	cb_nm24_fn nm24;
	/* attention over one chunk of n ≤ CB_ACHUNK cache rows (kernels-attn.c
	 * says how cb_attn_row uses them); rows of hd floats (f16: halves)
	 * ks / vs elements apart:
	 *  - kscores: s[p] = scale·(q·k_p) + (bias ? bias[p] : 0); returns max s;
	 *  - kexp: s[p] = exp(s[p] − m) (s[p] ≤ m); returns Σ s[p];
	 *  - vaccum: acc = corr·acc + Σ_p e[p]·v_p; corr 0 ignores acc's old
	 *    values (the first chunk: acc is not initialised) */
	float (*kscores)(const float *q, const void *k, int64_t ks, int64_t n, int64_t hd, int f16,
			 float scale, const float *bias, float *s);
	float (*kexp)(float *s, int64_t n, float m);
	void (*vaccum)(float *acc, float corr, const float *e, const void *v, int64_t vs, int64_t n,
		       int64_t hd, int f16);
	const char *isa;           /* "portable", "avx2", "avx512vnni", "neon" */
	const char *attn_isa;      /* the attention kernels': "portable", "avx2", "avx512" */
};

/* What kernels-avx2-kquant.c installs (tests pick a level below the
 * CPU's best to compare it with the portable code). */
enum cb_simd { CB_SIMD_NONE, CB_SIMD_AVX2, CB_SIMD_VNNI };

struct cb_state {
	const struct pb_host *host;
	struct cb_config cfg;
	struct cb_pool *pool;
	int n_threads;
	const struct pb_model *m;
	struct cb_weight *w;       /* per model tensor */
	uint8_t *rp_arena;         /* every repacked tensor, one mapping (repack.c) */
	size_t rp_arena_len;
	int n_w;                   /* entries of w: the model may be gone when they are freed */
	struct cb_buf *buf;
	int n_buf;
	float **scratch;           /* per thread: dequantised weight tiles */
	int64_t scratch_n;         /* floats per thread */
	int avx2;                  /* the host runs AVX2+FMA+F16C */
	cb_dot_fn dot[PB_DTYPE_COUNT];
	cb_deq_fn deq[PB_DTYPE_COUNT];
	struct cb_kernels k;
	struct cb_xq xq;           /* quantised activations of the current linear */
	struct cb_masks masks;     /* mask_mode runtime */
	struct cb_gemm gemm;       /* the native GEMM's kernels (gemm.h) */
	int gemm_native;           /* the rule's or the option's choice: native GEMM, else
				    * OpenBLAS sgemm; per tensor in w[].gemm_native */
	struct cb_cal *cal;        /* gemm auto: the shapes calibrated (calib.c) */
	int n_cal;
	char cal_how[PB_OPT_STR_MAX + 256];   /* where the choices came from, for describe() */
};

/* Bytes of a PB_NM_2_4 tensor (layout in tensor.h): R·C/2 F32 values,
 * then R·C/4 index bytes; 0 when C is not a multiple of 4. */
static inline size_t cb_nm24_bytes(int64_t cols, int64_t rows)
{
	return cols > 0 && rows > 0 && cols % 4 == 0 ? (size_t)(rows * cols * 2 + rows * cols / 4) : 0;
}

/* The formats weights_load takes: these everywhere, NM_2_4 for linears
 * only.  CB_DENSE_NAMES says the list in errors. */
#define CB_DENSE_FORMATS (PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16) | PB_FMT(PB_Q8_0) | \
			  PB_FMT(PB_Q4_0) | PB_FMT(PB_Q2_K) | PB_FMT(PB_Q3_K) | PB_FMT(PB_Q4_K) | \
			  PB_FMT(PB_Q5_K) | PB_FMT(PB_Q6_K))
#define CB_FORMATS (CB_DENSE_FORMATS | PB_FMT(PB_NM_2_4))
#define CB_DENSE_NAMES "F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K"

#define CB_LOG(s, lvl, ...) ((s)->host->log((s)->host, (lvl), __VA_ARGS__))
#define CB_GEMV_MAX 4          /* tokens up to which linear streams weights (GEMV) */
#define CB_TILE 64             /* weight rows dequantised per prefill tile */
#define CB_RGROUP 16           /* rows per repacked group: one 512-bit vector of int32 */
#define CB_RTOK 8              /* tokens per call of a repacked kernel */
#define CB_XQ_TOKENS 64        /* tokens quantised at once by the int8 prefill */

extern const char *const cb_op_names[PB_OP_COUNT];

/* kernels-scalar.c / kernels-avx2.c */
void cb_kernels_scalar(cb_dot_fn *dot, cb_deq_fn *deq);
int cb_kernels_avx2(cb_dot_fn *dot, cb_deq_fn *deq);   /* 0 when the CPU lacks it */
int cb_kernels_neon(cb_dot_fn *dot, cb_deq_fn *deq);   /* kernels-neon.c: 0 off aarch64 */
/* the integer and 2:4 kernels: portable ones always, then the best SIMD
 * ones the CPU runs (kernels-avx2.c: AVX2, AVX-512 VNNI) */
void cb_kernels_scalar_ext(struct cb_kernels *k);
int cb_kernels_avx2_ext(struct cb_kernels *k);
void cb_quantize_x(const float *x, int64_t n, int8_t *q, float *d, float *dsum, int32_t *qsum);

/* repack.c: the row-interleaved layout of Q8_0 / Q4_0 weights and its
 * kernels (AVX2, AVX-512 VNNI; 0 when the CPU lacks `level`) */
void cb_repack_group(enum pb_dtype dt, const uint8_t *src, size_t row_bytes, int64_t n,
		     uint8_t *dst);
void cb_repack_row(enum pb_dtype dt, const uint8_t *g, int r, int64_t n, uint8_t *row);
int cb_repack_kernels(struct cb_kernels *k, enum cb_simd level);
size_t cb_repack_bytes(struct cb_state *s, int idx);
void cb_repack_into(struct cb_state *s, int idx, uint8_t *dst);
const uint8_t *cb_row_bytes_of(struct cb_state *s, int idx, int64_t r, uint8_t *tmp);

/* kernels-kquant.c: the k-quants' portable kernels — dequantisers and the
 * float GEMV into dot/deq, the Q8_K-style quantiser and the integer dots
 * into k — and kernels-avx2-kquant.c: the same for AVX2 (0 when the CPU
 * lacks AVX2+FMA+F16C) and the integer ones at `level` (0 when the CPU
 * lacks it). */
void cb_kquant_scalar(cb_dot_fn *dot, cb_deq_fn *deq);
void cb_kquant_scalar_ext(struct cb_kernels *k);
int cb_kquant_avx2(cb_dot_fn *dot, cb_deq_fn *deq);
int cb_kquant_avx2_ext(struct cb_kernels *k, enum cb_simd level);

/* kernels-attn.c: one (query row, head) of the fused attention, over
 * cache positions first..first+n−1 in chunks of CB_ACHUNK counted from
 * `first`, and the kernels it runs, installed at `level` (0 when the CPU
 * lacks it; kernels-avx2-attn.c has the SIMD ones). */
#define CB_ACHUNK 128
enum cb_attn_level { CB_ATTN_PORTABLE, CB_ATTN_AVX2, CB_ATTN_AVX512 };
struct cb_attn_row {
	const float *q;            /* hd floats */
	const void *k, *v;         /* position `first`'s rows of this head (F32, or F16 when f16) */
	int64_t ks, vs;            /* elements from one position's row to the next */
	const float *bias;         /* NULL, or the bias of positions first.. */
	int64_t n, hd;             /* positions (0: no key in sight, y = 0), head_dim */
	float scale;
	double softcap;            /* > 0: scores become softcap·tanh(s / softcap) */
	int f16;
	float *y;                  /* hd floats */
};
void cb_attn_row(const struct cb_kernels *k, const struct cb_attn_row *r, float *acc);
int cb_attn_kernels(struct cb_kernels *k, enum cb_attn_level level);
int cb_attn_avx2(struct cb_kernels *k);     /* kernels-avx2-attn.c */
int cb_attn_avx512(struct cb_kernels *k);

/* ops.c */
float *cb_at(struct cb_state *s, const struct pb_act *a, int64_t rows, int64_t width,
	     const char *what, const struct pb_op *op);
const struct pb_tensor *cb_weight(struct cb_state *s, const struct pb_op *op, int64_t ne0,
				  int64_t ne1);
int cb_op_embed(struct cb_state *s, const struct pb_op *op, const struct pb_graph *g);
int cb_op_rmsnorm(struct cb_state *s, const struct pb_op *op);
int cb_op_rope(struct cb_state *s, const struct pb_op *op);
int cb_op_kv_store(struct cb_state *s, const struct pb_op *op);
int cb_op_attention(struct cb_state *s, const struct pb_op *op);
int cb_op_elementwise(struct cb_state *s, const struct pb_op *op);

/* mask.c */
int cb_masks_build(struct cb_state *s, const struct pb_model *m);
void cb_masks_free(struct cb_state *s);
void cb_masks_apply(struct cb_state *s, const struct pb_graph *g);

/* linear.c */
int cb_op_linear(struct cb_state *s, const struct pb_op *op);
int cb_csr_build(const struct pb_tensor *t, double threshold, struct cb_csr **out);
void cb_csr_free(struct cb_csr *c);
void cb_linear_kernel(const struct cb_state *s, int idx, char *out, size_t len);
/* Does tensor idx's prefill run a float GEMM (native or OpenBLAS: not
 * CSR, not the int8 GEMM of repacked rows)?  What gemm auto calibrates. */
int cb_linear_float_gemm(const struct cb_state *s, int idx);
/* gemm auto's calibration: y (nt × rows) = x (nt × n_in) · the first rows
 * rows of tensor idx, on the native GEMM or OpenBLAS as the prefill runs
 * them, one thread (the caller's) */
void cb_linear_gemm_rows(struct cb_state *s, int idx, const float *x, int nt, float *y,
			 int64_t rows, int native);

/* calib.c */
void cb_calibrate(struct cb_state *s);
int cb_describe(void *state, char *out, size_t len);

#endif

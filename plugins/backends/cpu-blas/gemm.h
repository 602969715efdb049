/* plugins/backends/cpu-blas/gemm.h — the native GEMM of prefill and
 * encode (gemm.c drives it; gemm-avx512.c, gemm-avx2.c, gemm-neon.c and
 * gemm.c hold the kernels of each ISA): y[t][r] = Σ_k x[t][k]·W[r][k] for a tile of
 * output rows, W row-major (n_out × n_in, i.e. Bᵀ).
 *
 * A tile's rows are packed, one K block (CB_GEMM_KC) at a time, into
 * k-major panels of nr rows (panel[k·nr + j] = W[row j][k], rows past the
 * tile zero), so that every weight format, dequantised a row segment at a
 * time, feeds the same kernel; the common formats (F16, BF16, Q8_0,
 * Q4_0) a SIMD level packs straight from their stored bytes instead
 * (qpack: convert, transpose, scale in registers — the same values the
 * row dequantisers give, since each is exact in F32), which saves the
 * row buffer's store and reload and the scalar conversions.  The
 * micro-kernel keeps an mr × nr block of
 * y in registers, loads nr weights per k and broadcasts x for mr tokens.
 *
 * Every y[t][r] is one chain of fused multiply-adds over k = 0, 1, …,
 * n_in − 1 in order: the first K block starts from zero, each later one
 * reloads the partial sums it stored.  Token blocks, edge tiles and row
 * tiles change which registers hold it, never its operations, so the
 * result does not depend on the tiling nor on which thread runs a tile. */
#ifndef CPUBLAS_GEMM_H
#define CPUBLAS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define CB_GEMM_KC 256      /* k per block: a multiple of 256 (k-quant super-blocks) */
#define CB_GEMM_NR_MAX 32
#define CB_GEMM_TILE 64     /* output rows per prefill task: a multiple of every nr */

/* panel (kc × nr, 64-byte aligned) from nr row segments of kc floats;
 * rows[j] NULL: zeros */
typedef void (*cb_gemm_pack_fn)(const float *const *rows, int64_t kc, float *panel);
/* y[t·ys + j] (+)= Σ_k x[t·xs + k]·panel[k·nr + j] for t < mr, j < ncols;
 * accumulate: y holds the partial sums of the previous K blocks */
typedef void (*cb_gemm_micro_fn)(const float *x, int64_t xs, int mr, const float *panel, int64_t kc,
				 float *y, int64_t ys, int ncols, int accumulate);

/* Formats a level may pack from their stored bytes (cb_gemm_w.fmt) */
enum cb_gemm_fmt {
	CB_GEMM_ROWS = 0,          /* through cb_gemm_w.row only (F32, k-quants, NM_2_4) */
	CB_GEMM_F16,
	CB_GEMM_BF16,
	CB_GEMM_Q8_0,              /* llama.cpp's blocks: f16 d + 32 int8 */
	CB_GEMM_Q4_0,              /* f16 d + 16 bytes: element j low nibble of byte j, j + 16 high */
	CB_GEMM_FMTS
};

/* panel (kc × nr) from nr rows' stored bytes, each pointing at the K
 * block's first element (kc a multiple of 32 for Q8_0/Q4_0); rows[j]
 * NULL: zeros */
typedef void (*cb_gemm_qpack_fn)(const uint8_t *const *rows, int64_t kc, float *panel);

struct cb_gemm {
	int mr, nr;                /* micro-tile: tokens × rows */
	cb_gemm_pack_fn pack;
	cb_gemm_micro_fn micro;
	const char *isa;           /* "avx512", "avx2", "neon", "c" */
	cb_gemm_qpack_fn qpack[CB_GEMM_FMTS];   /* optional per format: NULL = row() + pack */
};

/* Row r's elements [k0, k0 + kc) as floats: a pointer into the weights
 * (F32) or buf (kc floats) dequantised. */
typedef const float *(*cb_gemm_row_fn)(const void *ctx, int64_t r, int64_t k0, int64_t kc,
				       float *buf);

/* The weights a tile reads: rows through row(ctx, …); bytes (optional:
 * NULL) the stored rows, row_bytes apart, each n_in elements at a fixed
 * number of bytes per block, for prefetching the next K block and, when
 * fmt names their format and the level has a qpack for it, for packing
 * them directly. */
struct cb_gemm_w {
	cb_gemm_row_fn row;
	const void *ctx;
	const uint8_t *bytes;
	size_t row_bytes;
	enum cb_gemm_fmt fmt;      /* CB_GEMM_ROWS unless bytes are F16/BF16/Q8_0/Q4_0 */
};

void cb_gemm_portable(struct cb_gemm *g);          /* gemm.c */
int cb_gemm_avx2(struct cb_gemm *g);               /* gemm-avx2.c: 0 when the CPU lacks AVX2+FMA */
int cb_gemm_avx512(struct cb_gemm *g);             /* gemm-avx512.c: 0 when it lacks AVX-512F */
int cb_gemm_neon(struct cb_gemm *g);               /* gemm-neon.c: 0 off aarch64 */

/* Floats of scratch cb_gemm_tile needs for up to CB_GEMM_TILE rows. */
size_t cb_gemm_scratch_floats(void);

/* y[t·ys + i] = Σ_k x[t·xs + k]·W[r0 + i][k] for t < nt, i < n_rows
 * (≤ CB_GEMM_TILE); scratch: 64-byte aligned, cb_gemm_scratch_floats()
 * floats. */
void cb_gemm_tile(const struct cb_gemm *g, const struct cb_gemm_w *w, int64_t r0, int64_t n_rows,
		  int64_t n_in, const float *x, int64_t xs, int nt, float *y, int64_t ys,
		  float *scratch);

#endif

/* plugins/backends/cpu-blas/gemm.c — the native GEMM's driver (one tile
 * of output rows: pack a K block of its rows into panels, run the
 * micro-kernel over every token block and panel; gemm.h says why the
 * results do not depend on the tiling) and its portable C kernels, which
 * run where neither AVX-512, AVX2 nor NEON does (and under `portable`). */
#include <string.h>

#include "gemm.h"

#define C_NR 16
#define C_MR 4

static void pack_c(const float *const *rows, int64_t kc, float *panel)
{
	for (int j = 0; j < C_NR; j++)
		if (rows[j])
			for (int64_t k = 0; k < kc; k++)
				panel[k * C_NR + j] = rows[j][k];
		else
			for (int64_t k = 0; k < kc; k++)
				panel[k * C_NR + j] = 0.0f;
}

static void micro_c(const float *x, int64_t xs, int mr, const float *panel, int64_t kc, float *y,
		    int64_t ys, int ncols, int accumulate)
{
	float c[C_MR][C_NR];
	for (int t = 0; t < mr; t++)
		for (int j = 0; j < C_NR; j++)
			c[t][j] = accumulate && j < ncols ? y[t * ys + j] : 0.0f;
	for (int64_t k = 0; k < kc; k++)
		for (int t = 0; t < mr; t++) {
			const float a = x[t * xs + k];
			for (int j = 0; j < C_NR; j++)
				c[t][j] += a * panel[k * C_NR + j];
		}
	for (int t = 0; t < mr; t++)
		for (int j = 0; j < ncols; j++)
			y[t * ys + j] = c[t][j];
}

void cb_gemm_portable(struct cb_gemm *g)
{
	*g = (struct cb_gemm){ .mr = C_MR, .nr = C_NR, .pack = pack_c, .micro = micro_c, .isa = "c" };
}

/* the panels of CB_GEMM_TILE rows, then CB_GEMM_NR_MAX dequantised row
 * segments */
size_t cb_gemm_scratch_floats(void)
{
	return (size_t)(CB_GEMM_TILE + CB_GEMM_NR_MAX) * CB_GEMM_KC;
}

/* Prefetch (to L2) the bytes of rows [i0, i1) of the tile that hold
 * elements [k0, k0 + kc): the weights of a K block to pack next. */
static void prefetch_rows(const struct cb_gemm_w *w, int64_t r0, int64_t i0, int64_t i1,
			  int64_t k0, int64_t kc, int64_t n_in)
{
	const size_t b0 = (size_t)k0 * w->row_bytes / (size_t)n_in;
	const size_t b1 = (size_t)(k0 + kc) * w->row_bytes / (size_t)n_in;
	for (int64_t i = i0; i < i1; i++) {
		const uint8_t *p = w->bytes + (size_t)(r0 + i) * w->row_bytes;
		for (size_t b = b0; b < b1; b += 64)
			__builtin_prefetch(p + b, 0, 2);
	}
}

void cb_gemm_tile(const struct cb_gemm *g, const struct cb_gemm_w *w, int64_t r0, int64_t n_rows,
		  int64_t n_in, const float *x, int64_t xs, int nt, float *y, int64_t ys,
		  float *scratch)
{
	const int nr = g->nr, mr = g->mr;
	const int64_t n_panels = (n_rows + nr - 1) / nr;
	const int64_t n_tb = (nt + mr - 1) / mr;
	float *const packed = scratch, *const rowbuf = scratch + CB_GEMM_TILE * CB_GEMM_KC;
	const cb_gemm_qpack_fn qpack = w->bytes && w->fmt > CB_GEMM_ROWS && w->fmt < CB_GEMM_FMTS
					       ? g->qpack[w->fmt] : NULL;
	for (int64_t k0 = 0; k0 < n_in; k0 += CB_GEMM_KC) {
		const int64_t kc = n_in - k0 < CB_GEMM_KC ? n_in - k0 : CB_GEMM_KC;
		const int64_t k1 = k0 + kc, kc1 = n_in - k1 < CB_GEMM_KC ? n_in - k1 : CB_GEMM_KC;
		for (int64_t p = 0; p < n_panels; p++) {
			if (qpack) {
				const size_t off = (size_t)k0 * w->row_bytes / (size_t)n_in;
				const uint8_t *rows[CB_GEMM_NR_MAX];
				for (int j = 0; j < nr; j++) {
					const int64_t i = p * nr + j;
					rows[j] = i < n_rows ? w->bytes + (size_t)(r0 + i) * w->row_bytes + off
							     : NULL;
				}
				qpack(rows, kc, packed + p * kc * nr);
				continue;
			}
			const float *rows[CB_GEMM_NR_MAX];
			for (int j = 0; j < nr; j++) {
				const int64_t i = p * nr + j;
				rows[j] = i < n_rows ? w->row(w->ctx, r0 + i, k0, kc, rowbuf + j * CB_GEMM_KC)
						     : NULL;
			}
			g->pack(rows, kc, packed + p * kc * nr);
		}
		/* the token block's x (mr × kc) stays in L1 across the panels;
		 * the next K block's weights come in meanwhile, a slice of rows
		 * per token block (the pack otherwise waits on memory; the
		 * first block's misses overlap well enough in the pack itself) */
		for (int64_t tb = 0; tb < n_tb; tb++) {
			const int t0 = (int)(tb * mr), m = nt - t0 < mr ? nt - t0 : mr;
			if (w->bytes && kc1 > 0)
				prefetch_rows(w, r0, tb * n_rows / n_tb, (tb + 1) * n_rows / n_tb, k1, kc1,
					      n_in);
			for (int64_t p = 0; p < n_panels; p++) {
				const int64_t left = n_rows - p * nr;
				g->micro(x + t0 * xs + k0, xs, m, packed + p * kc * nr, kc,
					 y + t0 * ys + p * nr, ys, left < nr ? (int)left : nr, k0 > 0);
			}
		}
	}
}

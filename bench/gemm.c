/* bench/gemm.c — cpu-blas's native GEMM (plugins/backends/cpu-blas/gemm*.c,
 * compiled in) against OpenBLAS cblas_sgemm on the linear shapes of a
 * prefill, one thread, F32 weights: GFLOP/s of each ISA level the CPU
 * runs (portable C, AVX2, AVX-512, NEON; "n/a" where it cannot) and of
 * sgemm as cpu-blas calls it (per tile of rows), medians of RUNS.  The
 * measurement behind `gemm: auto` (cpu-blas.c; on arm64 the NEON column
 * has not been run on a board yet, so auto keeps OpenBLAS).  Then the
 * stored formats (F16, BF16, Q8_0, Q4_0) on the CPU's best level: packed
 * straight from their bytes (qpack) against dequantised a row segment at
 * a time first (the row path: portable C dequantisers here, as
 * kernels-scalar.c's; cpu-blas's F16 rows went through AVX2 F16C).  A
 * benchmark: prints, asserts nothing.
 *
 *     build/bench/gemm [TOKENS] [RUNS]        (128, 7)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include <prunebench/plugin.h>

#include "bench-common.h"
#include "gemm.h"
#include "util/util.h"

struct wmat {
	const float *w;
	int64_t n_in;
};

static const float *row_of(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *buf)
{
	const struct wmat *m = ctx;
	(void)kc;
	(void)buf;
	return m->w + r * m->n_in + k0;
}

/* ---- the stored formats --------------------------------------------- */

struct stored {
	const uint8_t *bytes;
	enum cb_gemm_fmt fmt;
	size_t row_bytes;
	int64_t n_in;
};

static size_t fmt_row_bytes(enum cb_gemm_fmt f, int64_t n)
{
	return f == CB_GEMM_Q8_0 ? (size_t)(n / 32) * 34 : f == CB_GEMM_Q4_0 ? (size_t)(n / 32) * 18
									       : (size_t)n * 2;
}

/* kernels-scalar.c's row dequantisers, element by element */
static const float *stored_row(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *y)
{
	const struct stored *m = ctx;
	const enum cb_gemm_fmt f = m->fmt;
	const uint8_t *p = m->bytes + (size_t)r * m->row_bytes + (size_t)k0 * m->row_bytes / (size_t)m->n_in;
	uint16_t h;
	if (f == CB_GEMM_F16 || f == CB_GEMM_BF16) {
		for (int64_t i = 0; i < kc; i++) {
			memcpy(&h, p + 2 * i, 2);
			y[i] = f == CB_GEMM_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
		}
		return y;
	}
	const size_t bb = f == CB_GEMM_Q8_0 ? 34 : 18;
	for (int64_t b = 0; b < kc / 32; b++, p += bb, y += 32) {
		memcpy(&h, p, 2);
		const float d = pb_fp16_to_fp32(h);
		for (int j = 0; j < 32; j++)
			y[j] = f == CB_GEMM_Q8_0 ? d * (float)(int8_t)p[2 + j]
						 : d * (float)((j < 16 ? p[2 + j] & 0x0f : p[2 + j - 16] >> 4) - 8);
	}
	return y - kc;
}

static void bench_stored(const struct cb_gemm *g, const int64_t (*shapes)[2], int n_shapes, int nt,
			 int runs, float *scratch)
{
	static const enum cb_gemm_fmt fmts[] = { CB_GEMM_F16, CB_GEMM_BF16, CB_GEMM_Q8_0, CB_GEMM_Q4_0 };
	printf("\n%s, stored formats, %d tokens, 1 thread, median of %d: GFLOP/s packed from the "
	       "bytes (qpack) / through dequantised rows\n\n| n_in → n_out | F16 | BF16 | Q8_0 | Q4_0 |\n"
	       "|---|---|---|---|---|\n", g->isa, nt, runs);
	for (int s = 0; s < n_shapes; s++) {
		const int64_t n_in = shapes[s][0], n_out = shapes[s][1];
		float *x = malloc((size_t)(nt * n_in) * sizeof *x);
		float *y = malloc((size_t)(nt * n_out) * sizeof *y);
		for (int64_t i = 0; i < nt * n_in; i++)
			x[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
		printf("| %lld → %lld |", (long long)n_in, (long long)n_out);
		for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
			const size_t rb = fmt_row_bytes(fmts[f], n_in);
			uint8_t *w = malloc(rb * (size_t)n_out);
			for (size_t i = 0; i < rb * (size_t)n_out; i++)
				w[i] = (uint8_t)((i * 7919) % 251);
			for (size_t i = 0; i + 1 < rb * (size_t)n_out; i += 2)
				if (fmts[f] == CB_GEMM_F16 || fmts[f] == CB_GEMM_BF16)
					w[i + 1] &= 0x3b;   /* finite, moderate */
			if (fmts[f] == CB_GEMM_Q8_0 || fmts[f] == CB_GEMM_Q4_0)
				for (size_t b = 0; b < rb * (size_t)n_out; b += rb / (size_t)(n_in / 32))
					w[b + 1] = 0x20;   /* scale ~ 2^-7 */
			const struct stored m = { w, fmts[f], rb, n_in };
			double gf[2];
			for (int way = 0; way < 2; way++) {
				const struct cb_gemm_w gw = { stored_row, &m, w, rb,
							      way ? CB_GEMM_ROWS : fmts[f] };
				double t[64];
				for (int r = 0; r < runs; r++) {
					const double t0 = pb_now_ms();
					for (int64_t r0 = 0; r0 < n_out; r0 += CB_GEMM_TILE) {
						const int64_t nr = n_out - r0 < CB_GEMM_TILE ? n_out - r0 : CB_GEMM_TILE;
						cb_gemm_tile(g, &gw, r0, nr, n_in, x, n_in, nt, y + r0, n_out, scratch);
					}
					t[r] = pb_now_ms() - t0;
				}
				gf[way] = 2.0 * (double)nt * (double)n_in * (double)n_out /
					  (bench_median(t, runs) * 1e6);
			}
			printf(" %.1f / %.1f |", gf[0], gf[1]);
			free(w);
		}
		printf("\n");
		free(x);
		free(y);
	}
}

int main(int argc, char **argv)
{
	/* llama-110m's (768 → 768, 768 → 2048, 2048 → 768, 768 → 32000) and
	 * t5-base's wider FFN (768 → 3072, 3072 → 768) */
	static const int64_t shapes[][2] = { { 768, 768 }, { 768, 2048 }, { 2048, 768 },
					     { 768, 3072 }, { 3072, 768 }, { 768, 32000 } };
	const int nt = argc > 1 ? atoi(argv[1]) : 128, runs = argc > 2 ? atoi(argv[2]) : 7;
	enum { N_LV = 4 };   /* native levels; column N_LV is OpenBLAS */
	struct cb_gemm lv[N_LV];
	int have[N_LV];
	cb_gemm_portable(&lv[0]);
	have[0] = 1;
	have[1] = cb_gemm_avx2(&lv[1]);
	have[2] = cb_gemm_avx512(&lv[2]);
	have[3] = cb_gemm_neon(&lv[3]);
	if (nt < 1 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: gemm [TOKENS] [RUNS 1..64]\n");
		return 1;
	}
	openblas_set_num_threads(1);
	float *scratch = NULL;
	if (posix_memalign((void **)&scratch, 64, cb_gemm_scratch_floats() * sizeof(float)))
		return 1;
	printf("%d tokens, 1 thread, median of %d: GFLOP/s\n\n| n_in → n_out | portable C | AVX2 "
	       "| AVX-512 | NEON | OpenBLAS sgemm | best native / OpenBLAS |\n"
	       "|---|---|---|---|---|---|---|\n",
	       nt, runs);
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		const int64_t n_in = shapes[s][0], n_out = shapes[s][1];
		float *w = malloc((size_t)(n_in * n_out) * sizeof *w);
		float *x = malloc((size_t)(nt * n_in) * sizeof *x);
		float *y = malloc((size_t)(nt * n_out) * sizeof *y);
		for (int64_t i = 0; i < n_in * n_out; i++)
			w[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
		for (int64_t i = 0; i < nt * n_in; i++)
			x[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
		const struct wmat m = { w, n_in };
	const struct cb_gemm_w gw = { row_of, &m, (const uint8_t *)w, (size_t)n_in * sizeof *w,
					      CB_GEMM_ROWS };
		/* linear.c's prefill_rows for F32: about 12 tiles, 32 … 512 rows */
		int64_t blas_rows = ((n_out + 11) / 12 + 7) / 8 * 8;
		blas_rows = blas_rows < 32 ? 32 : blas_rows > 512 ? 512 : blas_rows;
		const double flop = 2.0 * (double)nt * (double)n_in * (double)n_out;
		double gf[N_LV + 1] = { 0 };
		for (int l = 0; l <= N_LV; l++) {
			double t[64];
			if (l < N_LV && !have[l])
				continue;
			for (int r = 0; r < runs; r++) {
				const double t0 = pb_now_ms();
				for (int64_t r0 = 0; r0 < n_out; r0 += l < N_LV ? CB_GEMM_TILE : blas_rows) {
					const int64_t tile = l < N_LV ? CB_GEMM_TILE : blas_rows;
					const int64_t nr = n_out - r0 < tile ? n_out - r0 : tile;
					if (l < N_LV)
						cb_gemm_tile(&lv[l], &gw, r0, nr, n_in, x, n_in, nt,
							     y + r0, n_out, scratch);
					else   /* cpu-blas's OpenBLAS path */
						cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nt, (int)nr,
							    (int)n_in, 1.0f, x, (int)n_in, w + r0 * n_in, (int)n_in,
							    0.0f, y + r0, (int)n_out);
				}
				t[r] = pb_now_ms() - t0;
			}
			gf[l] = flop / (bench_median(t, runs) * 1e6);
		}
		/* the level cpu-blas runs: AVX-512, else AVX2, else NEON, else C */
		const double best = have[2] ? gf[2] : have[1] ? gf[1] : have[3] ? gf[3] : gf[0];
		printf("| %lld → %lld |", (long long)n_in, (long long)n_out);
		for (int l = 0; l < N_LV; l++)
			if (have[l])
				printf(" %.1f |", gf[l]);
			else
				printf(" n/a |");
		printf(" %.1f | %.2f |\n", gf[N_LV], best / gf[N_LV]);
		free(w);
		free(x);
		free(y);
	}
	bench_stored(have[2] ? &lv[2] : have[1] ? &lv[1] : &lv[0], shapes,
		     (int)(sizeof shapes / sizeof *shapes) - 1, nt, runs, scratch);
	free(scratch);
	return 0;
}

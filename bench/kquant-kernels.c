/* bench/kquant-kernels.c — the cpu-blas integer dot kernels alone, at each
 * SIMD level this CPU has (portable, AVX2, AVX-512 VNNI for the k-quants;
 * portable and the CPU's best for Q8_0 and Q4_0, which the plugin installs
 * whole), on a weight matrix small enough to stay in L2, one thread, one
 * token: what a kernel computes per second with memory out of the way, so
 * whether a level pays, and how far each format's kernel is from the
 * streaming-read bandwidth bench/bandwidth measures.  The kernel sources
 * are compiled in (as tests/cpu-blas's kernel test does).  Timed in the
 * thread's CPU time, median of 5.
 *
 *     build/bench/kquant-kernels [ROWS] [COLS] [PASSES]      (512, 2048, 200)
 *
 * A benchmark: prints, asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu-blas.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* this thread's CPU time: the kernels' rate stays readable on a machine
 * others share (time slices taken away are not counted) */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_dbl(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const int64_t rows = argc > 1 ? atoll(argv[1]) : 512, cols = argc > 2 ? atoll(argv[2]) : 2048;
	const int reps = argc > 3 ? atoi(argv[3]) : 200;
	static const enum pb_dtype types[] = { PB_Q8_0, PB_Q4_0, PB_Q2_K, PB_Q3_K, PB_Q4_K, PB_Q5_K,
					       PB_Q6_K };
	static const char *const lname[3] = { "portable", "avx2", "avx512vnni" };
	if (rows < 1 || cols < 256 || cols % 256 || reps < 1) {
		fprintf(stderr, "usage: kquant-kernels [ROWS] [COLS (a multiple of 256)] [PASSES]\n");
		return 1;
	}
	struct cb_kernels k[3];
	int have[3] = { 1, 0, 0 };
	memset(k, 0, sizeof k);
	cb_kernels_scalar_ext(&k[0]);
	k[1] = k[2] = k[0];
	have[1] = cb_kquant_avx2_ext(&k[1], CB_SIMD_AVX2);
	have[2] = cb_kquant_avx2_ext(&k[2], CB_SIMD_VNNI);
	/* Q8_0 / Q4_0 at the SIMD levels: kernels-avx2-int.c installs the
	 * CPU's best only, so those rows show portable and best */
	struct cb_kernels best = k[0];
	const int have_best = cb_kernels_avx2_ext(&best);

	float *x = malloc((size_t)cols * sizeof *x), out[1];
	struct cb_xq xq = { .q = malloc((size_t)cols), .d = malloc((size_t)cols / 32 * sizeof(float)),
			    .dsum = malloc((size_t)cols / 32 * sizeof(float)),
			    .bsum = malloc((size_t)cols / 16 * sizeof(int16_t)), .n = cols, .cap = cols,
			    .qsum = malloc((size_t)cols / 32 * sizeof(int32_t)) };
	for (int64_t i = 0; i < cols; i++)
		x[i] = (float)rnd() / 2147483648.0f - 1.0f;
	printf("integer dot kernels, one thread, a [%lld × %lld] matrix (in cache), %d passes\n\n"
	       "| format | level | GB/s of weights | ns per 256 weights |\n|---|---|---|---|\n",
	       (long long)rows, (long long)cols, reps);
	for (size_t f = 0; f < sizeof types / sizeof *types; f++) {
		const enum pb_dtype d = types[f];
		const int kq = pb_dtype_is_kquant(d);
		const size_t rb = (size_t)(cols / pb_dtype_block(d)) * pb_dtype_block_bytes(d);
		uint8_t *w = malloc(rb * (size_t)rows);
		for (size_t i = 0; i < rb * (size_t)rows; i++)
			w[i] = (uint8_t)rnd();
		/* sane f16 scales: every block's first two bytes (Q8_0, Q4_0,
		 * Q4_K, Q5_K) or its last (Q2_K, Q3_K, Q6_K) are small halves */
		const size_t bb = pb_dtype_block_bytes(d), at = d == PB_Q2_K ? 80 : d == PB_Q3_K ? 108
							    : d == PB_Q6_K ? 208 : 0;
		for (size_t b = 0; b < rb * (size_t)rows / bb; b++) {
			const uint16_t h = pb_fp32_to_fp16(0.001f);
			memcpy(w + b * bb + at, &h, 2);
			if (d == PB_Q2_K || d == PB_Q4_K || d == PB_Q5_K)
				memcpy(w + b * bb + at + 2, &h, 2);
		}
		if (kq)
			k[0].quant_k(x, cols, xq.q, xq.d, xq.bsum);
		else
			cb_quantize_x(x, cols, xq.q, xq.d, xq.dsum, xq.qsum);
		for (int l = 0; l < 3; l++) {
			const struct cb_kernels *kl = kq ? &k[l] : l == 0 ? &k[0] : &best;
			if ((kq && !have[l]) || (!kq && l == 1) || (!kq && l == 2 && !have_best))
				continue;
			double t[5];
			volatile float sink = 0;
			for (int s = 0; s < 5; s++) {
				const double t0 = now_ms();
				for (int r = 0; r < reps; r++)
					for (int64_t i = 0; i < rows; i++) {
						kl->qdot[d](w + (size_t)i * rb, cols, &xq, 1, out);
						sink += out[0];
					}
				t[s] = now_ms() - t0;
			}
			(void)sink;
			qsort(t, 5, sizeof *t, cmp_dbl);
			const double ms = t[2];
			const double blocks = (double)rows * (double)(cols / 256) * reps;
			printf("| %s | %s | %.1f | %.1f |\n", pb_dtype_name(d), kq ? lname[l] : l ? best.isa
			       : "portable", (double)rb * rows * reps / (ms * 1e6), ms * 1e6 / blocks);
		}
		free(w);
	}
	free(x);
	free(xq.q);
	free(xq.d);
	free(xq.dsum);
	free(xq.bsum);
	free(xq.qsum);
	return 0;
}


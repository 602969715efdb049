/* bench/bandwidth.c — this machine's ceilings for the cpu-blas targets:
 * streaming-read bandwidth (a read-only sum over 512 MB, far larger than
 * the caches, by 1..N threads) and OpenBLAS sgemm GFLOP/s on a synthetic
 * model's linear shapes (128 rows, the prefill) at the same thread
 * counts.  Medians of 5.  A benchmark: prints, asserts nothing.
 *
 *     build/bench/bandwidth [PRESET] [MAX_THREADS]      (llama-110m, 2)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench-common.h"

int main(int argc, char **argv)
{
	const char *preset = argc > 1 ? argv[1] : "llama-110m";
	const int max_th = argc > 2 ? atoi(argv[2]) : 2;
	struct pb_model *m = NULL;
	char err[512];
	if (max_th < 1 || pb_model_synth(preset, 1, &m, err, sizeof err) < 0) {
		fprintf(stderr, "bandwidth: %s\n", max_th < 1 ? "MAX_THREADS must be ≥ 1" : err);
		return 1;
	}
	printf("| threads | streaming read GB/s | sgemm GFLOP/s (%s linears, 128 rows) |\n"
	       "|---|---|---|\n", preset);
	for (int n = 1; n <= max_th; n++)
		printf("| %d | %.1f | %.1f |\n", n, bench_bandwidth(n), bench_raw_sgemm(m, 128, n));
	pb_model_free(m);
	return 0;
}

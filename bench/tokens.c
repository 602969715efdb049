/* bench/tokens.c — what cpu-blas makes of a synthetic Llama: prefill of
 * P tokens and decode tokens/s (medians of RUNS sessions) for the model in
 * F32, F16, Q8_0 and Q4_0 and for pruned F32 variants (magnitude 50/70/90 %
 * per tensor — CSR below `sparse_threshold`, dense above —, 2:4 packed to
 * NM_2_4 as the cell pipeline packs it, structured 50 % of heads and FFN
 * width), on 1 and 2 threads.  For decode it prints the weight bytes a
 * token streams (as the kernel stores them: CSR values + column indices +
 * row pointers, 2:4 values + index bytes), their rate in GB/s and its
 * share of the streaming-read bandwidth measured in the same run, and the
 * speed-up over dense F32 at the same thread count; for prefill, GFLOP/s
 * of the linears against raw sgemm on the same shapes.  `ref` is timed
 * once per format (1 thread, a few steps) for the "× ref" column.  For
 * the dense formats the prefill is also timed on OpenBLAS sgemm (`gemm:
 * openblas`), interleaved run by run with the main measurement, for the
 * native GEMM's ratio to it.  --gemm=auto|native|openblas picks what the
 * main columns run (auto); --dense times the four dense formats only.
 * --break-even instead sweeps the density of magnitude pruning and times
 * CSR against the dense kernel, the measurement behind the
 * `sparse_threshold` default.  1-thread runs, and the 1-thread bandwidth,
 * run on the first CPU of the affinity mask (bench_pin_first: a VM's CPUs
 * need not be equal; PB_BENCH_PIN=0 leaves them unpinned).  A benchmark:
 * prints, asserts nothing.
 *
 *     build/bench/tokens [PRESET] [RUNS] [DECODE] [PREFILL] [--no-ref] [--break-even]
 *                        [--dense] [--gemm=auto|native|openblas]
 *                        (llama-110m, 5, 32, 128)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "bench-common.h"
#include "model/quant.h"

#define MAX_RUNS 64

enum variant { V_F32, V_F16, V_Q8, V_Q4, V_MAG50, V_MAG70, V_MAG90, V_24, V_STRUCT, V_N };

static const char *const vname[V_N] = {
	"dense F32", "dense F16", "dense Q8_0", "dense Q4_0", "magnitude 50 %", "magnitude 70 %",
	"magnitude 90 %", "2:4 (NM_2_4)", "structured 50 % (heads + ffn)",
};

static int build(const char *preset, enum variant v, struct pb_model **out, char *err, size_t len)
{
	static const enum pb_dtype q[] = { PB_F32, PB_F16, PB_Q8_0, PB_Q4_0 };
	int rc = pb_model_synth(preset, 1, out, err, len);
	if (rc < 0)
		return rc;
	if (v >= V_F16 && v <= V_Q4)
		rc = pb_model_convert(*out, q[v], err, len);
	else if (v >= V_MAG50 && v <= V_MAG90)
		rc = bench_magnitude(*out, v == V_MAG50 ? 0.5 : v == V_MAG70 ? 0.7 : 0.9);
	else if (v == V_24)
		rc = bench_two_four(*out, 1, err, len);
	else if (v == V_STRUCT)
		rc = bench_shrink(*out, err, len);
	return rc;
}

/* Bytes a decode step streams for the linears, as cpu-blas stores them
 * at this sparse_threshold. */
static double streamed(const struct pb_model *m, double threshold)
{
	double b = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role))
			continue;
		if (t->dtype == PB_F32) {
			const int64_t n = pb_tensor_nelements(t), rows = n / t->ne[0];
			int64_t nz = 0;
			for (int64_t j = 0; j < n; j++)
				nz += ((const float *)t->data)[j] != 0.0f;
			if ((double)nz < threshold * (double)n) {
				b += (double)nz * (4.0 + (t->ne[0] <= 65536 ? 2 : 4)) + 8.0 * (double)(rows + 1);
				continue;
			}
		}
		b += (double)t->nbytes;
	}
	return b;
}

struct meas {
	double tok_s, prefill_ms, alt_prefill_ms;
	char kernel[64];
};

/* runs sessions of cfg; with alt, a prefill on alt after each (one decode
 * step), its median in alt_prefill_ms */
static int measure(const struct pb_plugin *p, const void *cfg, const void *alt, struct pb_model *m,
		   int runs, int n_prefill, int n_decode, struct meas *out)
{
	double tps[MAX_RUNS], pms[MAX_RUNS], apms[MAX_RUNS], atps;
	char k[64];
	for (int r = 0; r < runs; r++) {
		if (bench_run(p, cfg, m, n_prefill, n_decode, &pms[r], &tps[r], out->kernel,
			      sizeof out->kernel) < 0)
			return -1;
		if (alt && bench_run(p, alt, m, n_prefill, 1, &apms[r], &atps, k, sizeof k) < 0)
			return -1;
	}
	out->tok_s = bench_median(tps, runs);
	out->prefill_ms = bench_median(pms, runs);
	out->alt_prefill_ms = alt ? bench_median(apms, runs) : 0;
	return 0;
}

static int break_even(const struct pb_plugin *cb, const char *preset, int runs, int n_decode)
{
	static const double dens[] = { 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.1 };
	char err[512];
	double last_win = 0;
	printf("| density | dense kernel tok/s | CSR tok/s | CSR / dense |\n|---|---|---|---|\n");
	for (size_t i = 0; i < sizeof dens / sizeof *dens; i++) {
		struct pb_model *m = NULL;
		if (pb_model_synth(preset, 1, &m, err, sizeof err) < 0 ||
		    bench_magnitude(m, 1.0 - dens[i]) < 0) {
			fprintf(stderr, "tokens: %s\n", err);
			pb_model_free(m);
			return 1;
		}
		struct cb_config dense = { .threads = 2, .sparse_threshold = 0, .int8_act = 1,
					   .repack = 1, .int8_gemm = 1, .hugepages = 1 };
		struct cb_config csr = { .threads = 2, .sparse_threshold = 1.01, .int8_act = 1,
					 .repack = 1, .int8_gemm = 1, .hugepages = 1 };
		struct meas a, b;
		if (measure(cb, &dense, NULL, m, runs, 16, n_decode, &a) < 0 ||
		    measure(cb, &csr, NULL, m, runs, 16, n_decode, &b) < 0) {
			pb_model_free(m);
			return 1;
		}
		printf("| %.2f | %.1f | %.1f | %.2f |\n", dens[i], a.tok_s, b.tok_s, b.tok_s / a.tok_s);
		/* densities fall: the break-even is the highest one from which
		 * CSR wins all the way down (one noisy win above it doesn't count) */
		if (b.tok_s <= a.tok_s)
			last_win = 0;
		else if (!last_win)
			last_win = dens[i];
		pb_model_free(m);
	}
	printf("\nCSR beats the dense kernel at every density ≤ %.2f (2 threads, decode)\n", last_win);
	return 0;
}

int main(int argc, char **argv)
{
	const char *preset = "llama-110m";
	int pos[3] = { 5, 32, 128 }, npos = 0, with_ref = 1, be = 0, dense_only = 0, gemm = 0;
	static const char *const gemm_name[] = { "auto", "native", "openblas" };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-ref"))
			with_ref = 0;
		else if (!strcmp(argv[i], "--dense"))
			dense_only = 1;
		else if (!strncmp(argv[i], "--gemm=", 7))
			for (gemm = 2; gemm > 0 && strcmp(argv[i] + 7, gemm_name[gemm]); gemm--)
				;
		else if (!strcmp(argv[i], "--break-even"))
			be = 1;
		else if (i == 1 && (argv[i][0] < '0' || argv[i][0] > '9'))
			preset = argv[i];
		else if (npos < 3)
			pos[npos++] = atoi(argv[i]);
	}
	const int runs = pos[0], n_decode = pos[1], n_prefill = pos[2];
	const struct pb_plugin *ref = with_ref ? bench_plugin("ref") : NULL, *cb = bench_plugin("cpu-blas");
	char err[512];
	if (!cb || (with_ref && !ref) || runs < 1 || runs > MAX_RUNS || n_decode < 1 || n_prefill < 1) {
		fprintf(stderr, "usage: tokens [PRESET] [RUNS 1..%d] [DECODE] [PREFILL] [--no-ref] "
			"[--break-even] [--dense] [--gemm=auto|native|openblas]\n", MAX_RUNS);
		return 1;
	}
	if (cb->config_size != sizeof(struct cb_config)) {   /* bench-common.h's copy is stale */
		fprintf(stderr, "tokens: cpu-blas's config is %zu bytes, bench-common.h's copy %zu\n",
			cb->config_size, sizeof(struct cb_config));
		return 1;
	}
	if (be)
		return break_even(cb, preset, runs, n_decode);
	/* 1 thread: on the first CPU (bench_pin_first), the bound too */
	bench_pin_first(1);
	const double bw1 = bench_bandwidth(1);
	bench_pin_first(0);
	const double bw[3] = { 0, bw1, bench_bandwidth(2) };
	double sgemm[3] = { 0 }, base[3] = { 0 };
	printf("%s: prefill %d tokens, %d decode steps, median of %d runs; streaming read %.1f GB/s "
	       "(1 thread), %.1f GB/s (2 threads); gemm: %s\n\n", preset, n_prefill, n_decode, runs,
	       bw[1], bw[2], gemm_name[gemm]);
	printf("| variant | kernel | threads | weights MB/token | decode tok/s | weight GB/s | of read bw "
	       "| × dense F32 | × ref | prefill tok/s | prefill GFLOP/s | of sgemm "
	       "| OpenBLAS prefill tok/s | × OpenBLAS |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int v = 0; v < (dense_only ? V_MAG50 : V_N); v++) {
		struct pb_model *m = NULL;
		if (build(preset, v, &m, err, sizeof err) < 0) {
			fprintf(stderr, "tokens: %s: %s\n", vname[v], err);
			pb_model_free(m);
			return 1;
		}
		const double mb = streamed(m, 0.35) / 1e6, flops = bench_linear_flops(m, n_prefill);
		struct meas rm = { 0 };
		int ref_cfg = 0;
		if (ref && v <= V_Q4 && measure(ref, &ref_cfg, NULL, m, 1, 8, 3, &rm) < 0)
			rm.tok_s = 0;
		for (int n = 1; n <= 2; n++) {
			struct cb_config cfg = { .threads = n, .sparse_threshold = 0.35, .int8_act = 1,
						 .repack = 1, .int8_gemm = 1, .gemm = gemm, .hugepages = 1 };
			struct cb_config blas = cfg;
			blas.gemm = 2;
			struct meas c;
			bench_pin_first(n == 1);
			if (v == V_F32)
				sgemm[n] = bench_raw_sgemm(m, n_prefill, n);
			const int failed = measure(cb, &cfg, v <= V_Q4 && gemm != 2 ? &blas : NULL, m,
						   runs, n_prefill, n_decode, &c) < 0;
			bench_pin_first(0);
			if (failed) {
				printf("| %s | | %d | failed |\n", vname[v], n);
				continue;
			}
			if (v == V_F32)
				base[n] = c.tok_s;
			char xref[16] = "", ofs[16] = "", alt[16] = "", xalt[16] = "";
			if (c.alt_prefill_ms > 0) {
				snprintf(alt, sizeof alt, "%.0f", n_prefill * 1000.0 / c.alt_prefill_ms);
				snprintf(xalt, sizeof xalt, "%.2f", c.alt_prefill_ms / c.prefill_ms);
			}
			if (rm.tok_s > 0)
				snprintf(xref, sizeof xref, "%.1f", c.tok_s / rm.tok_s);
			const double gf = flops / (c.prefill_ms * 1e6);
			if (sgemm[n] > 0)
				snprintf(ofs, sizeof ofs, "%.0f %%", 100.0 * gf / sgemm[n]);
			printf("| %s | %s | %d | %.1f | %.1f | %.1f | %.0f %% | %.2f | %s | %.0f | %.1f | %s "
			       "| %s | %s |\n",
			       vname[v], c.kernel, n, mb, c.tok_s, mb * c.tok_s / 1e3,
			       100.0 * mb * c.tok_s / 1e3 / bw[n], base[n] > 0 ? c.tok_s / base[n] : 0, xref,
			       n_prefill * 1000.0 / c.prefill_ms, gf, ofs, alt, xalt);
			fflush(stdout);
		}
		pb_model_free(m);
	}
	printf("\nraw sgemm on the F32 shapes (%d rows): %.1f GFLOP/s (1 thread), %.1f (2 threads)\n",
	       n_prefill, sgemm[1], sgemm[2]);
	return 0;
}

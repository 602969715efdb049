/* bench/kquant.c — how fast cpu-blas decodes llama.cpp's k-quants, beside
 * Q8_0 and Q4_0, against this machine's streaming-read bandwidth.
 *
 * One synthetic Llama (llama-110m) is converted by the core's quantizer
 * to each type (q8_0 q4_0 q4_k q5_k q6_k q4_k_m by default, through
 * llama-quantize's per-tensor plan: q4_k_m keeps the head and some
 * attn_v / ffn_down in Q6_K), then ROUNDS rounds run; each round times
 * every (type, threads) pair once, in an order shuffled per round, so a
 * drift of the machine hits all of them alike.  A timing is one session:
 * a warm-up prefill, a prefill of P tokens, D decode steps.  Per pair it
 * prints the median decode tokens/s over the rounds and the spread
 * (min–max, relative to the median), the weight bytes a step streams (the
 * linears as stored, the head included), their rate in GB/s, its share
 * of the streaming-read bandwidth (measured before and after the rounds;
 * the share uses the higher, so it is not flattered), and the speed
 * against Q8_0 and Q4_0 at the same thread count.  The K/V cache a step
 * also reads is printed beside (F32; not in the share).
 * bench/kquant-kernels.c times the kernels alone, per SIMD level.
 *
 *     build/bench/kquant [PRESET] [ROUNDS] [DECODE] [PREFILL] [--types a,b,…]
 *                        [KEY=VALUE…]                 (llama-110m, 7, 48, 16)
 *
 * KEY=VALUE overrides a cpu-blas option (int8_act=0, portable=1,
 * kv_cache=f16, repack=0, int8_gemm=0).  A benchmark: prints, asserts nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "bench-common.h"
#include "model/quant.h"
#include "util/util.h"

#define MAX_TYPES 12
#define MAX_ROUNDS 64

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

struct variant {
	const struct pb_quant_type *qt;
	struct pb_model *m;
	double mb;                 /* weight MB a decode step streams */
	char kernel[64];           /* what the first block linear runs */
	double tps[3][MAX_ROUNDS]; /* [threads] per round */
};

static double linear_mb(const struct pb_model *m)
{
	double b = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role))
			b += (double)m->tensors[i].nbytes;
	return b / 1e6;
}

/* K/V bytes one decode step reads, averaged over the D steps after a
 * prefill of P: positions × layers × K and V × kv width × 4 */
static double kv_mb(const struct pb_model *m, int n_prefill, int n_decode)
{
	const double kvw = (double)m->hp.n_kv_heads * m->hp.head_dim;
	const double pos = n_prefill + (n_decode + 1) / 2.0;
	return pos * m->hp.n_layers * 2.0 * kvw * 4.0 / 1e6;
}

static int parse_option(struct cb_config *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return -1;
	const int v = atoi(eq + 1);
	if (!strncmp(kv, "int8_act=", 9))
		c->int8_act = v;
	else if (!strncmp(kv, "repack=", 7))
		c->repack = v;
	else if (!strncmp(kv, "int8_gemm=", 10))
		c->int8_gemm = v;
	else if (!strncmp(kv, "portable=", 9))
		c->portable = v;
	else if (!strncmp(kv, "kv_cache=", 9))
		c->kv_f16 = !strcmp(eq + 1, "f16");
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *preset = "llama-110m";
	const char *types = "q8_0,q4_0,q4_k,q5_k,q6_k,q4_k_m";
	int pos[3] = { 7, 48, 16 }, npos = 0;
	struct cb_config base = { .sparse_threshold = 0.35, .int8_act = 1, .repack = 1,
				  .int8_gemm = 1, .hugepages = 1 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--types") && i + 1 < argc)
			types = argv[++i];
		else if (strchr(argv[i], '=')) {
			if (parse_option(&base, argv[i]) < 0) {
				fprintf(stderr, "kquant: unknown option '%s' (int8_act, portable, kv_cache)\n",
					argv[i]);
				return 1;
			}
		} else if (i == 1 && (argv[i][0] < '0' || argv[i][0] > '9'))
			preset = argv[i];
		else if (npos < 3)
			pos[npos++] = atoi(argv[i]);
	}
	const int rounds = pos[0], n_decode = pos[1], n_prefill = pos[2];
	const struct pb_plugin *cb = bench_plugin("cpu-blas");
	if (!cb || rounds < 1 || rounds > MAX_ROUNDS || n_decode < 1 || n_prefill < 1) {
		fprintf(stderr, "usage: kquant [PRESET] [ROUNDS 1..%d] [DECODE] [PREFILL] [--types a,b,…] "
			"[KEY=VALUE…]\n", MAX_ROUNDS);
		return 1;
	}
	if (cb->config_size != sizeof(struct cb_config)) {
		fprintf(stderr, "kquant: cpu-blas's config is %zu bytes, bench-common.h's copy %zu\n",
			cb->config_size, sizeof(struct cb_config));
		return 1;
	}

	struct variant v[MAX_TYPES];
	int nv = 0;
	char list[256], err[512];
	snprintf(list, sizeof list, "%s", types);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct pb_quant_type *qt = pb_quant_type_find(tok);
		if (!qt || nv == MAX_TYPES) {
			fprintf(stderr, "kquant: %s type '%s' (known: %s)\n", qt ? "too many types at" : "unknown",
				tok, pb_quant_type_names());
			return 1;
		}
		memset(&v[nv], 0, sizeof v[nv]);
		v[nv].qt = qt;
		const double t0 = pb_now_ms();
		if (pb_model_synth(preset, 1, &v[nv].m, err, sizeof err) < 0 ||
		    pb_model_quantize(v[nv].m, qt->dtype, qt->mix, err, sizeof err) < 0) {
			fprintf(stderr, "kquant: %s: %s\n", tok, err);
			return 1;
		}
		v[nv].mb = linear_mb(v[nv].m);
		fprintf(stderr, "kquant: %s converted in %.1f s\n", qt->name, (pb_now_ms() - t0) / 1e3);
		nv++;
	}

	const double bw0[3] = { 0, bench_bandwidth(1), bench_bandwidth(2) };
	/* the (type, threads) pairs, shuffled each round */
	int order[2 * MAX_TYPES];
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2 * nv; k++)
			order[k] = k;
		for (int k = 2 * nv - 1; k > 0; k--) {
			const int j = (int)(rnd() % (uint32_t)(k + 1)), tmp = order[k];
			order[k] = order[j];
			order[j] = tmp;
		}
		for (int k = 0; k < 2 * nv; k++) {
			struct variant *x = &v[order[k] / 2];
			const int th = 1 + order[k] % 2;
			struct cb_config c = base;
			double pms;
			c.threads = th;
			if (bench_run(cb, &c, x->m, n_prefill, n_decode, &pms, &x->tps[th][r], x->kernel,
				      sizeof x->kernel) < 0) {
				fprintf(stderr, "kquant: %s on %d thread(s) failed\n", x->qt->name, th);
				return 1;
			}
		}
		fprintf(stderr, "kquant: round %d of %d done\n", r + 1, rounds);
	}
	const double bw1[3] = { 0, bench_bandwidth(1), bench_bandwidth(2) };
	double bw[3];
	for (int n = 1; n <= 2; n++)
		bw[n] = fmax(bw0[n], bw1[n]);

	printf("%s: decode %d steps after a prefill of %d, median of %d rounds (order shuffled per "
	       "round)%s%s\nstreaming read GB/s: 1 thread %.1f before, %.1f after; 2 threads %.1f "
	       "before, %.1f after (shares below use the higher)\nK/V cache read per step: %.1f MB (F32, "
	       "not in the share)\n\n", preset, n_decode, n_prefill, rounds,
	       base.portable ? ", portable kernels" : "", base.int8_act ? "" : ", int8_act off",
	       bw0[1], bw1[1], bw0[2], bw1[2], kv_mb(v[0].m, n_prefill, n_decode));
	printf("| type | kernel (first block linear) | threads | weights MB/token | decode tok/s "
	       "(median) | spread (min–max) | weight GB/s | of read bw | × Q8_0 | × Q4_0 |\n"
	       "|---|---|---|---|---|---|---|---|---|---|\n");
	double med[MAX_TYPES][3];
	int iq8 = -1, iq4 = -1;
	for (int i = 0; i < nv; i++) {
		if (v[i].qt->dtype == PB_Q8_0 && !v[i].qt->mix)
			iq8 = i;
		if (v[i].qt->dtype == PB_Q4_0 && !v[i].qt->mix)
			iq4 = i;
		for (int n = 1; n <= 2; n++) {
			double s[MAX_ROUNDS];
			memcpy(s, v[i].tps[n], (size_t)rounds * sizeof *s);
			med[i][n] = bench_median(s, rounds);
		}
	}
	for (int i = 0; i < nv; i++)
		for (int n = 1; n <= 2; n++) {
			double lo = v[i].tps[n][0], hi = lo;
			for (int r = 1; r < rounds; r++) {
				lo = fmin(lo, v[i].tps[n][r]);
				hi = fmax(hi, v[i].tps[n][r]);
			}
			const double gbs = v[i].mb * med[i][n] / 1e3;
			char x8[16] = "", x4[16] = "";
			if (iq8 >= 0)
				snprintf(x8, sizeof x8, "%.2f", med[i][n] / med[iq8][n]);
			if (iq4 >= 0)
				snprintf(x4, sizeof x4, "%.2f", med[i][n] / med[iq4][n]);
			printf("| %s | %s | %d | %.1f | %.1f | %.1f–%.1f (%.0f %%) | %.1f | %.0f %% | %s | %s |\n",
			       v[i].qt->name, v[i].kernel, n, v[i].mb, med[i][n], lo, hi,
			       100.0 * (hi - lo) / med[i][n], gbs, 100.0 * gbs / bw[n], x8, x4);
		}
	for (int i = 0; i < nv; i++)
		pb_model_free(v[i].m);
	return 0;
}


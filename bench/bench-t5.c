/* bench/bench-t5.c — the cpu-blas backend on synthetic T5 (default t5-small
 * and t5-base) in F32 and Q8_0 (converted here with pb_model_convert), on
 * 1 and 2 threads: requests of 128 source tokens and 64 greedy output
 * tokens, as core/run/generate.c runs them (pb_session_encode, then a
 * decoder step from hp.decoder_start_id, then 63 more).  Median of RUNS
 * requests (5) after one warm-up request: encode ms, TTFT (encode + first
 * decoder step) and decode ms/token (the 63 steps after the first token).
 *
 * Two ratios, from figures taken in the same run on the same threads:
 *  - decode ms/token against a bandwidth bound: the bytes one decoder
 *    step must stream (dec_bytes() says exactly what is counted) over a
 *    streaming-read bandwidth measured just before (a read-only sum over
 *    512 MB, as bench/bench-common.c does; median of 5 passes);
 *  - encoder GFLOP/s (the FLOPs of pb_session_encode: encoder linears,
 *    encoder attention, and the decoder's cross-attention K/V linears,
 *    which T5 computes there once per request) against raw cblas_sgemm
 *    (OpenBLAS on the same threads) over the same linear shapes with 128
 *    rows.  The Q8_0 encoder is held to the F32 sgemm figure: its tiles
 *    are dequantised first, and that cost is the backend's to hide.
 *
 * The cpu-blas plugin is dlopened from the build tree.  A benchmark, not
 * a test: it prints a Markdown table and asserts nothing.
 *
 *     build/bench/bench-t5 [PRESET|all] [RUNS] [MAX_THREADS] [F32|Q8_0|all] [KEY=VALUE...]
 *
 * The plugin runs with its own option defaults (read from its option
 * table, as an experiment would get them, but repack=true: a GGUF file's
 * Q8_0 linears are repacked under `repack: auto`, the in-memory
 * conversion's would not be); KEY=VALUE arguments override
 * them, e.g. int8_act=1.
 *
 * (one preset and one format make a short run to profile: perf record.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "arch/arch.h"
#include "bench-common.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "plugin/registry.h"
#include "util/util.h"

#define N_SRC 128          /* source tokens */
#define N_OUT 64           /* output tokens per request */
#define MAX_RUNS 64
#define MAX_OPTS 8

/* The plugin's config as an experiment would get it: its own defaults
 * (from its option table, so no copy of the struct layout here), then
 * KEY=VALUE overrides, then `threads`.  NULL on a bad option. */
static void *make_config(const struct pb_plugin *p, char **kv, int n_kv, int threads)
{
	char err[256], th[16];
	void *cfg = calloc(1, p->config_size ? p->config_size : 1);
	if (!cfg || pb_options_defaults(p->options, cfg, p->config_size) < 0)
		goto fail;
	/* the models are converted in memory, where `repack: auto` leaves
	 * Q8_0 rows as stored; a GGUF file's are repacked (and encode runs
	 * the int8 GEMM): time what a file gets, unless repack=… says */
	const struct pb_option *rp = pb_option_find(p->options, "repack");
	if (rp && pb_option_parse(rp, cfg, "true", err, sizeof err) < 0)
		goto fail;
	for (int i = 0; i < n_kv; i++) {
		char key[64];
		const char *eq = strchr(kv[i], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
		const struct pb_option *o = pb_option_find(p->options, key);
		if (!o || pb_option_parse(o, cfg, eq + 1, err, sizeof err) < 0) {
			fprintf(stderr, "bench-t5: option %s: %s\n", kv[i], o ? err : "unknown");
			goto fail;
		}
	}
	snprintf(th, sizeof th, "%d", threads);
	const struct pb_option *o = pb_option_find(p->options, "threads");
	if (!o || pb_option_parse(o, cfg, th, err, sizeof err) < 0)
		goto fail;
	return cfg;
fail:
	free(cfg);
	return NULL;
}

/* ---- what the model costs ------------------------------------------- */

static int cross_kv(enum pb_role r)
{
	return r == PB_ROLE_CROSS_K || r == PB_ROLE_CROSS_V;
}

/* A linear that pb_session_encode runs: every encoder linear and the
 * decoder's cross-attention K and V. */
static int encode_linear(const struct pb_tensor *t)
{
	return pb_role_is_linear(t->role) &&
	       (t->stack == PB_STACK_ENCODER || (t->stack == PB_STACK_DECODER && cross_kv(t->role)));
}

/* FLOPs of pb_session_encode over n tokens: 2·n·in·out per linear that
 * runs there, and per encoder self-attention 4·n²·(heads·head_dim) (Q·Kᵀ
 * and P·V over all n keys: T5's encoder is not causal).  Norms, the
 * softmax and the residual adds (O(n·dim)) are left out. */
static double encode_flops(const struct pb_model *m, int n, double *lin)
{
	double f = 0, a = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (encode_linear(t))
			f += 2.0 * n * (double)t->ne[0] * (double)t->ne[1];
		if (t->stack == PB_STACK_ENCODER && t->role == PB_ROLE_ATTN_Q)
			a += 4.0 * n * (double)n * (double)t->ne[1];
	}
	*lin = f;
	return f + a;
}

/* Bytes one decoder step at position pos must stream (the KV cache then
 * holds pos + 1 rows), with n_src source tokens encoded.  Counted:
 *  - every decoder block tensor in its stored format (t->nbytes): self
 *    q, k, v, o; cross q and o; FFN (gate,) up, down; the three norms;
 *    the decoder's relative-bias table (read on the host each step).  Not
 *    the cross K and V weights: they ran once, at encode;
 *  - the LM head (output, or the tied embedding it aliases), the final
 *    norm and one embedding row;
 *  - the self-attention K and V cache of each block: 2·(pos+1)·kv_width
 *    floats (cpu-blas keeps it in F32), and the position-bias row each
 *    block's attention reads, heads·(pos+1) floats;
 *  - the cached cross K and V of each block: 2·n_src·kv_width floats.
 * Not counted: activations (a few rows of dim or ffn_dim floats, cache
 * resident), the K/V rows the step writes, the logits (vocab floats,
 * written once and read back once, L2-sized).  *weights gets the weight
 * part alone. */
static double dec_bytes(const struct pb_model *m, int n_src, int pos, double *weights)
{
	double w = 0, kv = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->stack != PB_STACK_DECODER)
			continue;
		if (t->layer >= 0 && !cross_kv(t->role))
			w += (double)t->nbytes;
		else if (t->layer < 0 && (t->role == PB_ROLE_OUTPUT || t->role == PB_ROLE_OUT_NORM))
			w += (double)t->nbytes;
		else if (t->layer < 0 && t->role == PB_ROLE_TOK_EMBD)
			w += (double)pb_row_bytes(t);
		if (t->layer >= 0 && t->role == PB_ROLE_ATTN_K)
			kv += 2.0 * (pos + 1) * (double)t->ne[1] * sizeof(float);
		if (t->layer >= 0 && t->role == PB_ROLE_ATTN_Q)
			kv += (double)(t->ne[1] / m->hp.head_dim) * (pos + 1) * sizeof(float);
		if (t->layer >= 0 && t->role == PB_ROLE_CROSS_K)
			kv += 2.0 * n_src * (double)t->ne[1] * sizeof(float);
	}
	*weights = w;
	return w + kv;
}

/* Raw cblas_sgemm (OpenBLAS on n threads) over the linear shapes
 * pb_session_encode runs, for n_tok rows, on the F32 model's own weights:
 * GFLOP/s, median of runs passes. */
static double raw_sgemm(const struct pb_model *m, int n_tok, int n, int runs)
{
	int64_t wide = 1, tall = 1;
	double ms[MAX_RUNS], lin = 0;
	encode_flops(m, n_tok, &lin);
	for (int i = 0; i < m->n_tensors; i++)
		if (encode_linear(&m->tensors[i])) {
			wide = m->tensors[i].ne[0] > wide ? m->tensors[i].ne[0] : wide;
			tall = m->tensors[i].ne[1] > tall ? m->tensors[i].ne[1] : tall;
		}
	float *x = malloc((size_t)(n_tok * wide) * sizeof *x);
	float *y = malloc((size_t)(n_tok * tall) * sizeof *y);
	if (!x || !y) {
		free(x);
		free(y);
		return 0;
	}
	for (int64_t i = 0; i < n_tok * wide; i++)
		x[i] = 0.01f * (float)(i % 17);
	openblas_set_num_threads(n);
	for (int r = 0; r < runs; r++) {
		double t0 = pb_now_ms();
		for (int i = 0; i < m->n_tensors; i++) {
			const struct pb_tensor *t = &m->tensors[i];
			if (!encode_linear(t) || t->dtype != PB_F32)
				continue;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, (int)t->ne[1],
				    (int)t->ne[0], 1.0f, x, (int)t->ne[0], t->data, (int)t->ne[0], 0.0f,
				    y, (int)t->ne[1]);
		}
		ms[r] = pb_now_ms() - t0;
	}
	openblas_set_num_threads(1);   /* as cpu-blas leaves it */
	free(x);
	free(y);
	return lin / (bench_median(ms, runs) * 1e6);
}

/* ---- requests -------------------------------------------------------- */

struct meas {
	double enc_ms, ttft_ms, tok_ms;
};

static int32_t argmax(const float *v, int n)
{
	int32_t b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

/* One request as pb_generate runs it (greedy, no EOS stop). */
static int request(struct pb_session *s, const struct pb_model *m, const int32_t *src,
		   float *logits, struct meas *o)
{
	int32_t tok = m->hp.decoder_start_id;
	double t0 = pb_now_ms();
	if (pb_session_encode(s, src, N_SRC) < 0)
		return -1;
	double t1 = pb_now_ms();
	if (pb_session_forward(s, &tok, 1, 0, logits) < 0)
		return -1;
	tok = argmax(logits, m->hp.vocab);
	double t2 = pb_now_ms();
	for (int pos = 1; pos < N_OUT; pos++) {
		if (pb_session_forward(s, &tok, 1, pos, logits) < 0)
			return -1;
		tok = argmax(logits, m->hp.vocab);
	}
	double t3 = pb_now_ms();
	*o = (struct meas){ t1 - t0, t2 - t0, (t3 - t2) / (N_OUT - 1) };
	return 0;
}

/* What one decode step runs, from its op list: linears in all, and those
 * of cross-attention Q and K/V.  K/V must be 0 (cached at encode). */
static int check_step(struct pb_session *s, const struct pb_model *m, int *n_lin, int *n_cq,
		      int *n_ckv)
{
	const int32_t tok = m->hp.decoder_start_id;
	const struct pb_graph *g = pb_session_graph(s, &tok, 1, 1);
	*n_lin = *n_cq = *n_ckv = 0;
	if (!g)
		return -1;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type != PB_OP_LINEAR || op->weight < 0 || op->weight >= m->n_tensors)
			continue;
		const enum pb_role r = m->tensors[op->weight].role;
		(*n_lin)++;
		*n_cq += r == PB_ROLE_CROSS_Q;
		*n_ckv += cross_kv(r);
	}
	return 0;
}

/* Median encode ms, TTFT and ms/token of `runs` requests after one
 * warm-up (which also pages the weights in); -1 on failure. */
static int measure(const struct pb_plugin *p, const void *cfg, int threads, struct pb_model *m,
		   int runs, struct meas *med, char *kernel, size_t klen)
{
	const struct pb_backend_ops *ops = p->ops;
	struct pb_session *s = NULL;
	void *st = NULL;
	char err[512] = "";
	double e[MAX_RUNS], t[MAX_RUNS], d[MAX_RUNS];
	int32_t src[N_SRC];
	int rc = -1;
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	if (!logits || p->init(&bench_host, cfg, &st) < 0 || ops->weights_load(st, m) < 0 ||
	    pb_session_open(m, ops, st, &s, err, sizeof err) < 0) {
		fprintf(stderr, "bench-t5: %s: %s\n", m->name, err[0] ? err : "cannot start cpu-blas");
		goto out;
	}
	const struct pb_tensor *q = pb_model_find_in(m, PB_STACK_DECODER, 0, PB_ROLE_ATTN_Q);
	if (q && ops->weight_kernel)
		ops->weight_kernel(st, (int)(q - m->tensors), kernel, klen);
	for (int i = 0; i < N_SRC - 1; i++)   /* printable bytes, then </s> */
		src[i] = 3 + 'a' + (i * 7) % 26;
	src[N_SRC - 1] = m->hp.eos_id;
	struct meas r;
	int n_lin, n_cq, n_ckv;
	if (request(s, m, src, logits, &r) < 0 || check_step(s, m, &n_lin, &n_cq, &n_ckv) < 0)
		goto out;
	if (threads == 1)
		fprintf(stderr, "bench-t5: %s: a decode step runs %d linears: cross-attention Q %d, "
			"cross-attention K/V %d%s\n", m->name, n_lin, n_cq, n_ckv,
			n_ckv ? " (recomputed every step!)" : " (cached at encode)");
	for (int i = 0; i < runs; i++) {
		if (request(s, m, src, logits, &r) < 0)
			goto out;
		e[i] = r.enc_ms;
		t[i] = r.ttft_ms;
		d[i] = r.tok_ms;
	}
	*med = (struct meas){ bench_median(e, runs), bench_median(t, runs), bench_median(d, runs) };
	rc = 0;
out:
	pb_session_close(s);
	if (st)
		p->fini(st);
	free(logits);
	return rc;
}

struct args {
	int runs, max_th;
	const char *fmt;
	char *kv[MAX_OPTS];   /* KEY=VALUE cpu-blas options */
	int n_kv;
};

static int bench_preset(const struct pb_plugin *cb, const char *preset, const struct args *a)
{
	const int runs = a->runs;
	static const enum pb_dtype fmts[] = { PB_F32, PB_Q8_0 };
	double raw[65] = { 0 };
	char err[512];
	for (size_t k = 0; k < PB_ARRAY_LEN(fmts); k++) {
		struct pb_model *m = NULL;
		/* the Q8_0 encoder is compared with the F32 sgemm figure, so
		 * a Q8_0-only run still measures it on an F32 model first */
		const int skip = strcmp(a->fmt, "all") && strcmp(a->fmt, pb_dtype_name(fmts[k]));
		if (skip && fmts[k] != PB_F32)
			continue;
		if (pb_model_synth(preset, 1, &m, err, sizeof err) < 0 ||
		    (fmts[k] != PB_F32 && pb_model_convert(m, fmts[k], err, sizeof err) < 0)) {
			fprintf(stderr, "bench-t5: %s\n", err);
			pb_model_free(m);
			return -1;
		}
		/* bytes per decode step, averaged over the steps ms/token covers */
		double w = 0, bytes = 0, lin = 0;
		for (int pos = 1; pos < N_OUT; pos++)
			bytes += dec_bytes(m, N_SRC, pos, &w) / (N_OUT - 1);
		const double flops = encode_flops(m, N_SRC, &lin);
		for (int n = 1; n <= a->max_th; n++) {
			struct meas med;
			char kern[64] = "";
			if (skip) {
				raw[n] = raw_sgemm(m, N_SRC, n, runs);
				continue;
			}
			void *cfg = make_config(cb, (char **)a->kv, a->n_kv, n);
			const double bw = bench_bandwidth(n);
			const int mrc = cfg ? measure(cb, cfg, n, m, runs, &med, kern, sizeof kern) : -1;
			free(cfg);
			if (mrc < 0) {
				printf("| %s | %s | %d | failed |\n", preset, pb_dtype_name(fmts[k]), n);
				continue;
			}
			if (fmts[k] == PB_F32)
				raw[n] = raw_sgemm(m, N_SRC, n, runs);
			const double bound = bytes / (bw * 1e6);   /* ms */
			const double gf = flops / (med.enc_ms * 1e6);
			printf("| %s | %s (%s) | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f | "
			       "**%.2f** | %.1f | %.1f | %.1f | **%.0f %%** |\n",
			       preset, pb_dtype_name(fmts[k]), kern, n, med.enc_ms, med.ttft_ms, med.tok_ms,
			       1e3 / med.tok_ms, bytes / 1e6, bw, bound, med.tok_ms / bound,
			       flops / 1e9, gf, raw[n], raw[n] > 0 ? 100.0 * gf / raw[n] : 0);
			fflush(stdout);
		}
		if (!skip)
			fprintf(stderr, "bench-t5: %s %s: decoder weights %.1f MB/token, self+cross K/V and "
			"bias %.2f MB/token (mean over positions 1..%d); encode %.2f GFLOP (linears %.2f)\n",
			preset, pb_dtype_name(fmts[k]), w / 1e6, (bytes - w) / 1e6, N_OUT - 1,
			flops / 1e9, lin / 1e9);
		pb_model_free(m);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const all[] = { "t5-small", "t5-base" };
	const char *pos[4] = { "all", "5", "2", "all" };
	struct args a = { 0 };
	int n_pos = 0;
	for (int i = 1; i < argc; i++) {
		if (strchr(argv[i], '=') && a.n_kv < MAX_OPTS)
			a.kv[a.n_kv++] = argv[i];
		else if (!strchr(argv[i], '=') && n_pos < 4)
			pos[n_pos++] = argv[i];
		else
			n_pos = 99;
	}
	const char *preset = pos[0];
	a.runs = atoi(pos[1]);
	a.max_th = atoi(pos[2]);
	a.fmt = pos[3];
	const struct pb_plugin *cb = bench_plugin("cpu-blas");
	void *probe = cb ? make_config(cb, a.kv, a.n_kv, 1) : NULL;
	free(probe);
	if (!probe || n_pos > 4 || a.runs < 1 || a.runs > MAX_RUNS || a.max_th < 1 || a.max_th > 64 ||
	    (strcmp(a.fmt, "all") && strcmp(a.fmt, "F32") && strcmp(a.fmt, "Q8_0"))) {
		fprintf(stderr, "usage: bench-t5 [PRESET|all] [RUNS (1..%d)] [MAX_THREADS (1..64)] "
			"[F32|Q8_0|all] [KEY=VALUE cpu-blas option ...]\n", MAX_RUNS);
		return 1;
	}
	printf("%d source tokens, %d output tokens (TTFT: encode + first decoder step; ms/token: "
	       "the %d steps after it), median of %d requests; bound = decoder bytes per token / "
	       "streaming-read GB/s measured just before on the same threads",
	       N_SRC, N_OUT, N_OUT - 1, a.runs);
	for (int i = 0; i < a.n_kv; i++)
		printf("%s %s", i ? "," : "; cpu-blas", a.kv[i]);
	printf("\n\n| model | format (kernel) | threads | encode ms | TTFT ms | ms/token | tok/s | "
	       "MB/token | read GB/s | bound ms | ms/token ÷ bound (≤ 1.5) | encode GFLOP | "
	       "encode GFLOP/s | raw sgemm GFLOP/s | of sgemm (≥ 75 %%) |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	int rc = 0;
	for (size_t i = 0; i < PB_ARRAY_LEN(all) && rc == 0; i++)
		if (!strcmp(preset, "all") || !strcmp(preset, all[i]))
			rc = bench_preset(cb, all[i], &a);
	if (strcmp(preset, "all") && strcmp(preset, all[0]) && strcmp(preset, all[1]))
		rc = bench_preset(cb, preset, &a);
	return rc < 0 ? 1 : 0;
}

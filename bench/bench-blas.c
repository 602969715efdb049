/* bench/bench-blas.c — the cpu-blas backend against ref on a synthetic
 * model (default llama-110m): decode tokens/s in F32, F16, Q8_0 and Q4_0
 * (converted here with pb_model_convert) on 1 and 2 threads, the
 * effective weight bandwidth (weight bytes per token × tokens/s) as a
 * fraction of a measured streaming-read bandwidth, and prefill GFLOP/s of
 * the linears against raw cblas_sgemm on the same shapes.  A second table
 * puts pruned variants of the F32 model against dense F32 on 2 threads:
 * structured 50 % (half the heads and half the FFN width of every block,
 * the tensors shrunk here), magnitude 70 % and 90 % (per tensor; cpu-blas
 * runs them as CSR), and 2:4 both left unpacked (50 % density is above
 * cpu-blas's CSR threshold, so it runs dense) and packed to NM_2_4 with
 * the core's pb_tensor_pack_nm24 (nothing in the run pipeline packs it
 * yet).  As the
 * pruners do by default, the output projection is left alone.  Both
 * backends are dlopened from the build tree.  A benchmark, not a test: it
 * prints tables and asserts nothing.
 *
 *     build/bench/bench-blas [PRESET] [DECODE_STEPS] [PREFILL]
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "pb-config.h"
#include "util/util.h"

struct cb_config {   /* plugins/backends/cpu-blas/cpu-blas.h */
	int64_t threads;
	double sparse_threshold;
	int check_nan;
	int portable;
	int int8_act;
};

static void host_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	(void)h;
	if (lvl > PB_LOG_WARN)
		return;
	va_start(ap, fmt);
	pb_logv(lvl, "bench", fmt, ap);
	va_end(ap);
}

static const struct pb_host host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof host, .log = host_log, .n_threads = 1,
};

static const struct pb_plugin *plugin(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/backends/%s/backend-%s.so", PB_BUILD_PLUGIN_DIR, name, name);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);   /* kept open to the end */
	const struct pb_plugin *p = dl ? dlsym(dl, "pb_plugin") : NULL;
	if (!p)
		fprintf(stderr, "bench-blas: %s: %s\n", path, dlerror());
	return p;
}

/* Prefill ms and decode tokens/s of one backend on m; -1 on failure. */
static int run(const struct pb_plugin *p, const void *cfg, struct pb_model *m, int n_prefill,
	       int n_decode, double *prefill_ms, double *tok_s, char *kernel, size_t klen)
{
	const struct pb_backend_ops *ops = p->ops;
	struct pb_session *s = NULL;
	void *st = NULL;
	char err[512];
	int rc = -1;
	int32_t *tok = malloc((size_t)n_prefill * sizeof *tok);
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	if (p->init(&host, cfg, &st) < 0 || ops->weights_load(st, m) < 0 ||
	    pb_session_open(m, ops, st, &s, err, sizeof err) < 0)
		goto out;
	for (int i = 0; i < m->n_tensors && ops->weight_kernel; i++)
		if (pb_role_is_linear(m->tensors[i].role)) {
			ops->weight_kernel(st, i, kernel, klen);
			break;
		}
	for (int i = 0; i < n_prefill; i++)
		tok[i] = 3 + 'a' + i % 26;
	pb_session_forward(s, tok, n_prefill, 0, logits);   /* warm-up: page in the weights */
	double t0 = pb_now_ms();
	if (pb_session_forward(s, tok, n_prefill, 0, logits) < 0)
		goto out;
	double t1 = pb_now_ms();
	for (int i = 0; i < n_decode; i++) {
		int32_t t = tok[i % n_prefill];
		if (pb_session_forward(s, &t, 1, n_prefill + i, logits) < 0)
			goto out;
	}
	double t2 = pb_now_ms();
	*prefill_ms = t1 - t0;
	*tok_s = n_decode * 1000.0 / (t2 - t1);
	rc = 0;
out:
	pb_session_close(s);
	if (st)
		p->fini(st);
	free(tok);
	free(logits);
	return rc;
}

struct bw_arg {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static void *bw_sum(void *arg)
{
	struct bw_arg *a = arg;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = 0; i + 4 <= a->n; i += 4) {
		s0 += a->p[i];
		s1 += a->p[i + 1];
		s2 += a->p[i + 2];
		s3 += a->p[i + 3];
	}
	a->sum = s0 + s1 + s2 + s3;
	return NULL;
}

/* Streaming read bandwidth (GB/s) over a 512 MB buffer with n threads,
 * best of 3. */
static double bandwidth(int n)
{
	const size_t bytes = (size_t)512 << 20, words = bytes / 8;
	uint64_t *buf = malloc(bytes);
	double best = 0;
	if (!buf)
		return 0;
	for (size_t i = 0; i < words; i++)
		buf[i] = i;
	for (int r = 0; r < 3; r++) {
		pthread_t th[64];
		struct bw_arg a[64];
		double t0 = pb_now_ms();
		for (int i = 0; i < n; i++) {
			a[i] = (struct bw_arg){ .p = buf + words / n * i, .n = words / n };
			pthread_create(&th[i], NULL, bw_sum, &a[i]);
		}
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		double gbs = bytes / ((pb_now_ms() - t0) * 1e6);
		best = gbs > best ? gbs : best;
		if (a[0].sum == 42)   /* keep the sums alive */
			putchar(' ');
	}
	free(buf);
	return best;
}

static double linear_bytes(const struct pb_model *m)
{
	double b = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role))
			b += (double)m->tensors[i].nbytes;
	return b;
}

static double linear_flops(const struct pb_model *m, int n_tokens)
{
	double f = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role))
			f += 2.0 * n_tokens * (double)m->tensors[i].ne[0] * (double)m->tensors[i].ne[1];
	return f;
}

/* Raw cblas_sgemm (OpenBLAS on n threads) over the model's linear shapes
 * for n_tokens rows: GFLOP/s, best of 3. */
static double raw_sgemm(const struct pb_model *m, int n_tokens, int n)
{
	int64_t wide = 1, tall = 1;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role)) {
			wide = m->tensors[i].ne[0] > wide ? m->tensors[i].ne[0] : wide;
			tall = m->tensors[i].ne[1] > tall ? m->tensors[i].ne[1] : tall;
		}
	float *x = calloc((size_t)(n_tokens * wide), sizeof *x);
	float *y = calloc((size_t)(n_tokens * tall), sizeof *y);
	double best = 1e30;
	openblas_set_num_threads(n);
	for (int r = 0; r < 3; r++) {
		double t0 = pb_now_ms();
		for (int i = 0; i < m->n_tensors; i++) {
			const struct pb_tensor *t = &m->tensors[i];
			if (!pb_role_is_linear(t->role))
				continue;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, (int)t->ne[1],
				    (int)t->ne[0], 1.0f, x, (int)t->ne[0], t->data, (int)t->ne[0], 0.0f,
				    y, (int)t->ne[1]);
		}
		double ms = pb_now_ms() - t0;
		best = ms < best ? ms : best;
	}
	free(x);
	free(y);
	return linear_flops(m, n_tokens) / (best * 1e6);
}

/* ---- pruned variants (second table) --------------------------------- */

static int block_linear(const struct pb_tensor *t)
{
	return pb_role_is_linear(t->role) && t->role != PB_ROLE_OUTPUT && t->dtype == PB_F32;
}

static int cmp_abs(const void *a, const void *b)
{
	float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
	return (x > y) - (x < y);
}

/* Zero the `sparsity` smallest |w| of every block linear (per tensor). */
static int magnitude(struct pb_model *m, double sparsity)
{
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!block_linear(t))
			continue;
		const int64_t n = pb_tensor_nelements(t);
		float *w = t->data, *c = malloc((size_t)n * sizeof *c);
		if (!c)
			return -ENOMEM;
		memcpy(c, w, (size_t)n * sizeof *c);
		qsort(c, (size_t)n, sizeof *c, cmp_abs);
		const float thr = fabsf(c[(int64_t)(sparsity * (double)(n - 1))]);
		for (int64_t j = 0; j < n; j++)
			if (fabsf(w[j]) <= thr)
				w[j] = 0;
		free(c);
	}
	return 0;
}

/* 2:4 along rows (the two smallest |w| of every group of 4 zeroed);
 * pack: then to NM_2_4. */
static int two_four(struct pb_model *m, int pack, char *err, size_t len)
{
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!block_linear(t))
			continue;
		float *w = t->data;
		for (int64_t g = 0; g + 4 <= pb_tensor_nelements(t); g += 4)
			for (int z = 0; z < 2; z++) {
				int lo = -1;
				for (int j = 0; j < 4; j++)
					if (w[g + j] != 0 && (lo < 0 || fabsf(w[g + j]) < fabsf(w[g + lo])))
						lo = j;
				if (lo >= 0)
					w[g + lo] = 0;
			}
		if (pack && pb_tensor_pack_nm24(t, err, len) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Keep the first `rows` rows and `cols` columns of a [cols × rows] F32
 * tensor, in place (rows are contiguous, so only columns move). */
static void keep(struct pb_tensor *t, int64_t cols, int64_t rows)
{
	float *w = t->data;
	if (cols < t->ne[0])
		for (int64_t r = 0; r < rows; r++)
			memmove(w + r * cols, w + r * t->ne[0], (size_t)cols * sizeof *w);
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->nbytes = (size_t)(cols * rows) * sizeof *w;
}

/* Structured 50 %: every block keeps its first half of the KV heads (and
 * the query heads sharing them) and its first half of the FFN width.  The
 * values are meaningless; the shapes are what a heads+ffn pruner leaves. */
static int shrink(struct pb_model *m, char *err, size_t len)
{
	const int64_t hd = m->hp.head_dim;
	for (int l = 0; l < m->hp.n_layers; l++) {
		struct pb_tensor *q = pb_model_find(m, l, PB_ROLE_ATTN_Q);
		struct pb_tensor *k = pb_model_find(m, l, PB_ROLE_ATTN_K);
		struct pb_tensor *v = pb_model_find(m, l, PB_ROLE_ATTN_V);
		struct pb_tensor *o = pb_model_find(m, l, PB_ROLE_ATTN_O);
		struct pb_tensor *g = pb_model_find(m, l, PB_ROLE_FFN_GATE);
		struct pb_tensor *u = pb_model_find(m, l, PB_ROLE_FFN_UP);
		struct pb_tensor *d = pb_model_find(m, l, PB_ROLE_FFN_DOWN);
		if (!q || !k || !v || !o || !u || !d || hd < 1) {
			snprintf(err, len, "layer %d: not a llama block", l);
			return -EINVAL;
		}
		const int64_t nh = q->ne[1] / hd, nkv = k->ne[1] / hd, ffn = u->ne[1] / 2;
		const int64_t kv2 = nkv / 2 > 0 ? nkv / 2 : 1, h2 = kv2 * (nh / nkv);
		keep(q, q->ne[0], h2 * hd);
		keep(k, k->ne[0], kv2 * hd);
		keep(v, v->ne[0], kv2 * hd);
		keep(o, h2 * hd, o->ne[1]);
		if (g)
			keep(g, g->ne[0], ffn);
		keep(u, u->ne[0], ffn);
		keep(d, ffn, d->ne[1]);
	}
	return 0;
}

enum variant { V_DENSE, V_STRUCT50, V_CSR70, V_CSR90, V_24, V_24_PACKED, V_N };

static const char *const variant_name[V_N] = {
	"dense F32", "structured 50 % (heads + ffn)", "magnitude 70 %", "magnitude 90 %",
	"2:4, unpacked F32", "2:4, packed NM_2_4",
};

/* Decode tok/s (best of 3) of each variant on cpu-blas, 2 threads. */
static int sparse_table(const struct pb_plugin *cb, const char *preset, int n_decode)
{
	char err[512];
	double base = 0;
	printf("\n| variant | kernel (first block linear) | threads | decode tok/s | "
	       "speed-up vs dense F32 |\n|---|---|---|---|---|\n");
	for (int v = 0; v < V_N; v++) {
		struct pb_model *m = NULL;
		int rc = pb_model_synth(preset, 1, &m, err, sizeof err);
		if (rc == 0 && v == V_STRUCT50)
			rc = shrink(m, err, sizeof err);
		else if (rc == 0 && (v == V_CSR70 || v == V_CSR90))
			rc = magnitude(m, v == V_CSR70 ? 0.7 : 0.9);
		else if (rc == 0 && (v == V_24 || v == V_24_PACKED))
			rc = two_four(m, v == V_24_PACKED, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "bench-blas: %s: %s\n", variant_name[v], err);
			pb_model_free(m);
			return -1;
		}
		struct cb_config cfg = { .threads = 2, .sparse_threshold = 0.35 };
		double best = 0, pms = 0, tps = 0;
		char kern[64] = "";
		for (int r = 0; r < 3; r++)
			if (run(cb, &cfg, m, 16, n_decode, &pms, &tps, kern, sizeof kern) == 0)
				best = tps > best ? tps : best;
		if (v == V_DENSE)
			base = best;
		if (best > 0)
			printf("| %s | %s | 2 | %.2f | %.2f× |\n", variant_name[v], kern, best,
			       base > 0 ? best / base : 0);
		else
			printf("| %s | %s | 2 | failed | |\n", variant_name[v], kern);
		pb_model_free(m);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *preset = argc > 1 ? argv[1] : "llama-110m";
	const int n_decode = argc > 2 ? atoi(argv[2]) : 32, n_prefill = argc > 3 ? atoi(argv[3]) : 128;
	static const enum pb_dtype fmts[] = { PB_F32, PB_F16, PB_Q8_0, PB_Q4_0 };
	const struct pb_plugin *ref = plugin("ref"), *cb = plugin("cpu-blas");
	double bw[3] = { 0, bandwidth(1), bandwidth(2) };
	char err[512];
	int ref_cfg = 0;
	if (!ref || !cb || n_decode < 1 || n_prefill < 1)
		return 1;
	printf("preset %s, prefill %d tokens, %d decode steps; streaming read: %.1f GB/s (1 thread), "
	       "%.1f GB/s (2 threads)\n\n", preset, n_prefill, n_decode, bw[1], bw[2]);
	printf("| format | backend | threads | weights MB/token | decode tok/s | vs ref | "
	       "weight GB/s | of read bw | prefill GFLOP/s | raw sgemm GFLOP/s |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t k = 0; k < sizeof fmts / sizeof *fmts; k++) {
		struct pb_model *m = NULL;
		if (pb_model_synth(preset, 1, &m, err, sizeof err) < 0 ||
		    (fmts[k] != PB_F32 && pb_model_convert(m, fmts[k], err, sizeof err) < 0)) {
			fprintf(stderr, "bench-blas: %s\n", err);
			pb_model_free(m);
			return 1;
		}
		const double mb = linear_bytes(m) / 1e6, flops = linear_flops(m, n_prefill);
		double ref_pms = 0, ref_tps = 0;
		char kern[64] = "";
		/* ref is slow: a few steps are enough */
		if (run(ref, &ref_cfg, m, n_prefill < 16 ? n_prefill : 16, 3, &ref_pms, &ref_tps, kern,
			sizeof kern) < 0)
			ref_tps = 0;
		printf("| %s | ref (%s) | 1 | %.1f | %.2f | 1.0 | %.2f | %.0f %% | | |\n",
		       pb_dtype_name(fmts[k]), kern, mb, ref_tps, mb * ref_tps / 1e3,
		       100.0 * mb * ref_tps / 1e3 / bw[1]);
		for (int n = 1; n <= 2; n++) {
			struct cb_config cfg = { .threads = n, .sparse_threshold = 0.35 };
			double pms = 0, tps = 0;
			if (run(cb, &cfg, m, n_prefill, n_decode, &pms, &tps, kern, sizeof kern) < 0) {
				printf("| %s | cpu-blas | %d | failed |\n", pb_dtype_name(fmts[k]), n);
				continue;
			}
			char raw[32] = "";
			if (fmts[k] == PB_F32)
				snprintf(raw, sizeof raw, "%.1f", raw_sgemm(m, n_prefill, n));
			printf("| %s | cpu-blas (%s) | %d | %.1f | %.2f | %.1f | %.2f | %.0f %% | %.1f | %s |\n",
			       pb_dtype_name(fmts[k]), kern, n, mb, tps, ref_tps > 0 ? tps / ref_tps : 0,
			       mb * tps / 1e3, 100.0 * mb * tps / 1e3 / bw[n], flops / (pms * 1e6), raw);
		}
		pb_model_free(m);
	}
	return sparse_table(cb, preset, n_decode) < 0 ? 1 : 0;
}

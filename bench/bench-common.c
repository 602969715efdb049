/* bench/bench-common.c — shared by bench/bandwidth.c and bench/tokens.c
 * (see bench-common.h). */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "arch/arch.h"
#include "bench-common.h"
#include "model/quant.h"
#include "pb-config.h"
#include "util/util.h"

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

const struct pb_host bench_host = {
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof bench_host, .log = host_log, .n_threads = 1,
};

const struct pb_plugin *bench_plugin(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/backends/%s/backend-%s.so", PB_BUILD_PLUGIN_DIR, name, name);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);   /* kept open to the end */
	const struct pb_plugin *p = dl ? dlsym(dl, "pb_plugin") : NULL;
	if (!p)
		fprintf(stderr, "bench: %s: %s\n", path, dlerror());
	return p;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	if (n < 1)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_open(const struct pb_plugin *p, const void *cfg, struct pb_model *m, void **st,
	       struct pb_session **s)
{
	char err[512];
	*st = NULL;
	*s = NULL;
	if (p->init(&bench_host, cfg, st) < 0) {
		*st = NULL;   /* whatever init left there is not ours to free */
		return -1;
	}
	if (((const struct pb_backend_ops *)p->ops)->weights_load(*st, m) < 0 ||
	    pb_session_open(m, p->ops, *st, s, err, sizeof err) < 0) {
		bench_close(p, *st, *s);
		*st = NULL;
		*s = NULL;
		return -1;
	}
	return 0;
}

void bench_close(const struct pb_plugin *p, void *st, struct pb_session *s)
{
	pb_session_close(s);
	if (st)
		p->fini(st);
}

void bench_prompt(int32_t *tok, int n)
{
	for (int i = 0; i < n; i++)
		tok[i] = 3 + 'a' + i % 26;
}

int bench_loop(struct pb_session *s, const int32_t *tok, int n_prefill, int n_decode,
	       float *logits, double *prefill_ms, double *tok_s)
{
	const double t0 = pb_now_ms();
	if (pb_session_forward(s, tok, n_prefill, 0, logits) < 0)
		return -1;
	const double t1 = pb_now_ms();
	for (int i = 0; i < n_decode; i++) {
		int32_t t = tok[i % n_prefill];
		if (pb_session_forward(s, &t, 1, n_prefill + i, logits) < 0)
			return -1;
	}
	const double t2 = pb_now_ms();
	*prefill_ms = t1 - t0;
	*tok_s = n_decode * 1000.0 / (t2 - t1);
	return 0;
}

int bench_run(const struct pb_plugin *p, const void *cfg, struct pb_model *m, int n_prefill,
	      int n_decode, double *prefill_ms, double *tok_s, char *kernel, size_t klen)
{
	const struct pb_backend_ops *ops = p->ops;
	struct pb_session *s = NULL;
	void *st = NULL;
	int rc = -1;
	int32_t *tok = malloc((size_t)n_prefill * sizeof *tok);
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	if (!tok || !logits || bench_open(p, cfg, m, &st, &s) < 0)
		goto out;
	for (int i = 0; i < m->n_tensors && ops->weight_kernel; i++)
		if (pb_role_is_linear(m->tensors[i].role)) {
			ops->weight_kernel(st, i, kernel, klen);
			break;
		}
	bench_prompt(tok, n_prefill);
	/* warm-up: page in the weights */
	pb_session_forward(s, tok, n_prefill, 0, logits);
	rc = bench_loop(s, tok, n_prefill, n_decode, logits, prefill_ms, tok_s);
out:
	bench_close(p, st, s);
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

void bench_pin_first(int on)
{
	static cpu_set_t start;
	static int have = -1;
	const char *env = getenv("PB_BENCH_PIN");
	if (env && !strcmp(env, "0"))
		return;
	if (have < 0)
		have = sched_getaffinity(0, sizeof start, &start) == 0;
	if (!have)
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &start)) {
			CPU_SET(c, &one);
			break;
		}
	if (sched_setaffinity(0, sizeof one, on ? &one : &start) < 0)
		fprintf(stderr, "bench: cannot %s: %s\n", on ? "pin to one CPU" : "unpin",
			strerror(errno));
}

double bench_bandwidth(int n)
{
	const size_t bytes = (size_t)512 << 20, words = bytes / 8;
	uint64_t *buf = malloc(bytes);
	double v[5];
	if (!buf)
		return 0;
	for (size_t i = 0; i < words; i++)
		buf[i] = i;
	for (int r = 0; r < 5; r++) {
		pthread_t th[64];
		struct bw_arg a[64];
		double t0 = pb_now_ms();
		for (int i = 0; i < n; i++) {
			a[i] = (struct bw_arg){ .p = buf + words / n * i, .n = words / n };
			pthread_create(&th[i], NULL, bw_sum, &a[i]);
		}
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		v[r] = bytes / ((pb_now_ms() - t0) * 1e6);
		if (a[0].sum == 42)   /* keep the sums alive */
			putchar(' ');
	}
	free(buf);
	return bench_median(v, 5);
}

double bench_linear_bytes(const struct pb_model *m)
{
	double b = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role))
			b += (double)m->tensors[i].nbytes;
	return b;
}

double bench_linear_flops(const struct pb_model *m, int n_tokens)
{
	double f = 0;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role))
			f += 2.0 * n_tokens * (double)m->tensors[i].ne[0] * (double)m->tensors[i].ne[1];
	return f;
}

double bench_raw_sgemm(const struct pb_model *m, int n_tokens, int n)
{
	int64_t wide = 1, tall = 1;
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role) && m->tensors[i].dtype == PB_F32) {
			wide = m->tensors[i].ne[0] > wide ? m->tensors[i].ne[0] : wide;
			tall = m->tensors[i].ne[1] > tall ? m->tensors[i].ne[1] : tall;
		}
	float *x = calloc((size_t)(n_tokens * wide), sizeof *x);
	float *y = calloc((size_t)(n_tokens * tall), sizeof *y);
	double v[5];
	openblas_set_num_threads(n);
	for (int r = 0; r < 5; r++) {
		double t0 = pb_now_ms();
		for (int i = 0; i < m->n_tensors; i++) {
			const struct pb_tensor *t = &m->tensors[i];
			if (!pb_role_is_linear(t->role) || t->dtype != PB_F32)
				continue;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, (int)t->ne[1],
				    (int)t->ne[0], 1.0f, x, (int)t->ne[0], t->data, (int)t->ne[0], 0.0f,
				    y, (int)t->ne[1]);
		}
		v[r] = pb_now_ms() - t0;
	}
	free(x);
	free(y);
	return bench_linear_flops(m, n_tokens) / (bench_median(v, 5) * 1e6);
}

static int block_linear(const struct pb_tensor *t)
{
	return pb_role_is_linear(t->role) && t->role != PB_ROLE_OUTPUT && t->dtype == PB_F32;
}

/* The k-th smallest |c[i]| (0-based), c reordered: quickselect, so a
 * 1B-parameter model's tensors are thresholded in linear time. */
static float select_abs(float *c, int64_t n, int64_t k)
{
	int64_t lo = 0, hi = n - 1;
	for (int64_t i = 0; i < n; i++)
		c[i] = fabsf(c[i]);
	while (lo < hi) {
		const float piv = c[lo + (hi - lo) / 2];
		int64_t i = lo, j = hi;
		while (i <= j) {
			while (c[i] < piv)
				i++;
			while (c[j] > piv)
				j--;
			if (i <= j) {
				float t = c[i];
				c[i++] = c[j];
				c[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return c[k];
}

/* Zero the `sparsity` smallest |w| of every block linear (per tensor). */
int bench_magnitude(struct pb_model *m, double sparsity)
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
		const float thr = select_abs(c, n, (int64_t)(sparsity * (double)(n - 1)));
		for (int64_t j = 0; j < n; j++)
			if (fabsf(w[j]) <= thr)
				w[j] = 0;
		free(c);
	}
	return 0;
}

/* 2:4 along rows (the two smallest |w| of every group of 4 zeroed);
 * pack: then to NM_2_4. */
int bench_two_four(struct pb_model *m, int pack, char *err, size_t len)
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
int bench_shrink(struct pb_model *m, char *err, size_t len)
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


/* tests/cpu-blas-neon/neon-conformance.c — the cpu-blas NEON kernels
 * (kernels-neon.c) against the portable ones (kernels-scalar.c,
 * kernels-kquant.c) and a double-precision reference, for every weight
 * format (the k-quants: the portable kernels themselves), odd row lengths,
 * 1–4 tokens and odd token strides.  Built by cpu-blas-neon.sh with the
 * aarch64 cross compiler straight from the plugin sources and run under
 * qemu-aarch64, so x86 CI proves the arm64 path.  Each weight row ends on
 * a page followed by an inaccessible one (likewise the activations), so a
 * kernel that reads one byte past its row faults.  Then the native GEMM's
 * NEON micro-kernel (gemm-neon.c, driven by gemm.c) on odd shapes, bit
 * for bit against a fused multiply-add chain (check_gemm; the Check suite
 * test-cpu-blas-gemm does the same where the cross build has libcheck for
 * arm64).  Not a Check suite:
 * that would need libcheck for arm64; prints each failure, exits 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu-blas.h"
#include "gemm.h"

static int failures, checks;

#define FAIL(...)                                    \
	do {                                         \
		fprintf(stderr, "FAIL: " __VA_ARGS__); \
		fputc('\n', stderr);                 \
		failures++;                          \
	} while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)   /* xorshift64*: reproducible, no libc state */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static float uniform(void)   /* [-1, 1) */
{
	return (float)rnd() / 2147483648.0f - 1.0f;
}

/* A buffer of `bytes` whose last byte is the last of a page followed by a
 * PROT_NONE page; *base / *len are what to munmap. */
static uint8_t *guarded(size_t bytes, void **base, size_t *len)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	const size_t data = (bytes + pg - 1) / pg * pg;
	*len = data + pg;
	uint8_t *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	if (mprotect(p + data, pg, PROT_NONE) < 0) {
		perror("mprotect");
		exit(2);
	}
	*base = p;
	return p + data - bytes;
}

static size_t row_bytes(int fmt, int64_t n)
{
	switch (fmt) {
	case PB_F32: return (size_t)n * 4;
	case PB_F16:
	case PB_BF16: return (size_t)n * 2;
	case PB_Q8_0: return (size_t)n / 32 * 34;
	case PB_Q4_0: return (size_t)n / 32 * 18;
	default: return (size_t)n / 256 * pb_dtype_block_bytes((enum pb_dtype)fmt);
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* A random row in `fmt`, with the extremes each format has (−128 quants,
 * nibbles 0 and 15, subnormal and large halves) showing up often. */
static void fill_row(int fmt, uint8_t *w, int64_t n)
{
	switch (fmt) {
	case PB_F32:
		for (int64_t i = 0; i < n; i++) {
			const float v = uniform() * 4.0f;
			memcpy(w + 4 * i, &v, 4);
		}
		break;
	case PB_F16:
		for (int64_t i = 0; i < n; i++) {
			float v = uniform() * 8.0f;
			if (rnd() % 16 == 0)
				v *= 1e-5f;   /* subnormal halves */
			put16(w + 2 * i, pb_fp32_to_fp16(v));
		}
		break;
	case PB_BF16:
		for (int64_t i = 0; i < n; i++) {
			const float v = uniform() * 100.0f;
			uint32_t b;
			memcpy(&b, &v, 4);
			put16(w + 2 * i, (uint16_t)(b >> 16));
		}
		break;
	case PB_Q8_0:
	case PB_Q4_0: {
		const size_t bb = fmt == PB_Q8_0 ? 34 : 18;
		for (int64_t b = 0; b < n / 32; b++, w += bb) {
			put16(w, pb_fp32_to_fp16(0.01f + 0.1f * (uniform() + 1.0f)));
			for (size_t j = 2; j < bb; j++)
				w[j] = (uint8_t)rnd();
		}
		break;
	}
	default: {   /* k-quants: random bits, a small f16 d (and dmin) */
		const size_t bb = pb_dtype_block_bytes((enum pb_dtype)fmt);
		const size_t dat = fmt == PB_Q2_K ? 80 : fmt == PB_Q3_K ? 108 : fmt == PB_Q6_K ? 208 : 0;
		for (int64_t b = 0; b < n / 256; b++, w += bb) {
			for (size_t j = 0; j < bb; j++)
				w[j] = (uint8_t)rnd();
			put16(w + dat, pb_fp32_to_fp16(0.001f + 0.002f * (uniform() + 1.0f)));
			if (fmt != PB_Q3_K && fmt != PB_Q6_K)   /* dmin after d */
				put16(w + dat + 2, pb_fp32_to_fp16(0.002f * (uniform() + 1.0f)));
		}
		break;
	}
	}
}

static void check_format(const cb_dot_fn *neon, const cb_deq_fn *ndeq, const cb_dot_fn *scal,
			 const cb_deq_fn *sdeq, int fmt, const int64_t *sizes, int n_sizes)
{
	for (int si = 0; si < n_sizes; si++) {
		const int64_t n = sizes[si];
		const size_t wb = row_bytes(fmt, n);
		void *wbase, *xbase;
		size_t wlen, xlen;
		uint8_t *w = guarded(wb, &wbase, &wlen);
		fill_row(fmt, w, n);

		/* dequantisation: bit-identical (exact conversions, one rounding) */
		float *yn = malloc((size_t)n * sizeof(float)), *ys = malloc((size_t)n * sizeof(float));
		if (!yn || !ys)
			exit(2);
		ndeq[fmt](w, n, yn);
		sdeq[fmt](w, n, ys);
		checks++;
		if (memcmp(yn, ys, (size_t)n * sizeof(float)) != 0) {
			for (int64_t i = 0; i < n; i++)
				if (memcmp(&yn[i], &ys[i], 4) != 0) {
					FAIL("%s deq n=%lld: element %lld is %a, scalar %a", pb_dtype_name((enum pb_dtype)fmt),
					     (long long)n, (long long)i, (double)yn[i], (double)ys[i]);
					break;
				}
		}

		for (int nt = 1; nt <= CB_GEMV_MAX; nt++) {
			const int64_t xs = n + (nt & 1 ? 3 : 0);   /* odd strides too */
			const size_t xn = (size_t)(xs * (nt - 1) + n);
			float *x = (float *)(void *)guarded(xn * sizeof(float), &xbase, &xlen);
			for (size_t i = 0; i < xn; i++)
				x[i] = uniform();
			float on[CB_GEMV_MAX + 1], os[CB_GEMV_MAX];
			on[nt] = 12345.0f;   /* must stay untouched */
			neon[fmt](w, n, x, xs, nt, on);
			scal[fmt](w, n, x, xs, nt, os);
			checks++;
			if (on[nt] != 12345.0f)
				FAIL("%s dot n=%lld nt=%d: wrote out[%d]", pb_dtype_name((enum pb_dtype)fmt), (long long)n,
				     nt, nt);
			for (int t = 0; t < nt; t++) {
				/* float summation in another order: error grows
				 * like n·eps·Σ|w·x| at worst, √n·eps typically */
				double exact = 0, mag = 0;
				for (int64_t i = 0; i < n; i++) {
					exact += (double)ys[i] * x[t * xs + i];
					mag += fabs((double)ys[i] * x[t * xs + i]);
				}
				const double tol = 4e-6 * mag * (1.0 + sqrt((double)n) / 8.0) + 1e-30;
				if (!(fabs(on[t] - exact) <= tol) || !(fabs(on[t] - os[t]) <= 2 * tol))
					FAIL("%s dot n=%lld nt=%d t=%d: neon %.9g scalar %.9g exact %.9g "
					     "(tol %.3g)", pb_dtype_name((enum pb_dtype)fmt), (long long)n, nt, t,
					     (double)on[t], (double)os[t], exact, tol);
			}
			munmap(xbase, xlen);
		}
		free(yn);
		free(ys);
		munmap(wbase, wlen);
	}
}

struct wmat {
	const float *w;
	int64_t n_in;
};

static const float *gemm_row(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *buf)
{
	const struct wmat *m = ctx;
	(void)kc;
	(void)buf;
	return m->w + r * m->n_in + k0;
}

/* The NEON GEMM (gemm-neon.c through gemm.c's driver) on odd shapes: every
 * output the exact bits of fmaf over k in order from zero (gemm.h's rule,
 * what makes results independent of the tiling and of `threads`), within
 * the double-precision bound, the y stride's padding untouched, and the
 * same bits computed one row at a time.  The weights' last row and the
 * last token's x row end on a guard page. */
static void check_gemm(void)
{
	struct cb_gemm g;
	if (cb_gemm_neon(&g) != 1 || strcmp(g.isa, "neon") || CB_GEMM_TILE % g.nr || g.nr > CB_GEMM_NR_MAX) {
		FAIL("cb_gemm_neon declined or declared a tile the driver cannot run");
		return;
	}
	float *scratch = NULL;
	if (posix_memalign((void **)&scratch, 64, cb_gemm_scratch_floats() * sizeof *scratch)) {
		perror("posix_memalign");
		exit(2);
	}
	static const int toks[] = { 1, 4, 5, 6, 11 };
	static const int64_t rows[] = { 1, 15, 17, CB_GEMM_TILE };
	static const int64_t ins[] = { 1, 3, 4, 5, 255, 257, 520 };
	for (size_t a = 0; a < sizeof toks / sizeof *toks; a++)
		for (size_t b = 0; b < sizeof rows / sizeof *rows; b++)
			for (size_t c = 0; c < sizeof ins / sizeof *ins; c++) {
				const int nt = toks[a];
				const int64_t nr = rows[b], n_in = ins[c], xs = n_in + 3, ys = nr + 2;
				void *wb, *xb;
				size_t wl, xl;
				const size_t wn = (size_t)(nr * n_in), xn = (size_t)((nt - 1) * xs + n_in);
				float *const w = (float *)guarded(wn * sizeof *w, &wb, &wl);
				float *const x = (float *)guarded(xn * sizeof *x, &xb, &xl);
				for (size_t i = 0; i < wn; i++)
					w[i] = uniform();
				for (size_t i = 0; i < xn; i++)
					x[i] = uniform();
				const struct wmat m = { w, n_in };
				const struct cb_gemm_w gw = { gemm_row, &m, NULL, 0, CB_GEMM_ROWS };
				float *y = malloc((size_t)(nt * ys) * sizeof *y), *y1 = malloc((size_t)(nt * ys) * sizeof *y1);
				for (int64_t i = 0; i < nt * ys; i++)
					y[i] = y1[i] = 12345.0f;
				cb_gemm_tile(&g, &gw, 0, nr, n_in, x, xs, nt, y, ys, scratch);
				for (int64_t r = 0; r < nr; r++)
					cb_gemm_tile(&g, &gw, r, 1, n_in, x, xs, nt, y1 + r, ys, scratch);
				for (int t = 0; t < nt; t++) {
					for (int64_t r = 0; r < nr; r++) {
						float chain = 0.0f;
						double e = 0, abs_sum = 0;
						for (int64_t k = 0; k < n_in; k++) {
							const float xv = x[t * xs + k], wv = w[r * n_in + k];
							chain = fmaf(xv, wv, chain);
							e += (double)xv * wv;
							abs_sum += fabs((double)xv * wv);
						}
						const float got = y[t * ys + r];
						checks++;
						if (memcmp(&got, &chain, sizeof got) ||
						    fabs(got - e) > (double)(n_in + 2) * 0x1p-23 * abs_sum)
							FAIL("gemm %d tokens × %lld rows × %lld: y[%d][%lld] = %a, fma chain %a, "
							     "double %.9g", nt, (long long)nr, (long long)n_in, t, (long long)r,
							     got, chain, e);
						if (memcmp(&got, &y1[t * ys + r], sizeof got))
							FAIL("gemm %d × %lld × %lld: y[%d][%lld] %a whole, %a a row at a time",
							     nt, (long long)nr, (long long)n_in, t, (long long)r, got,
							     y1[t * ys + r]);
					}
					for (int64_t r = nr; r < ys; r++)
						if (y[t * ys + r] != 12345.0f)
							FAIL("gemm %d × %lld × %lld: y[%d][%lld] past the tile written", nt,
							     (long long)nr, (long long)n_in, t, (long long)r);
				}
				free(y1);
				free(y);
				munmap(xb, xl);
				munmap(wb, wl);
			}
	free(scratch);
}

int main(void)
{
	cb_dot_fn neon[PB_DTYPE_COUNT] = { 0 }, scal[PB_DTYPE_COUNT] = { 0 };
	cb_deq_fn ndeq[PB_DTYPE_COUNT] = { 0 }, sdeq[PB_DTYPE_COUNT] = { 0 };
	cb_kernels_scalar(scal, sdeq);
	cb_kernels_scalar(neon, ndeq);
	if (cb_kernels_neon(neon, ndeq) != 1) {
		fprintf(stderr, "FAIL: cb_kernels_neon declined on aarch64\n");
		return 1;
	}
	for (int f = PB_F32; f <= PB_Q4_0; f++)
		if (neon[f] == scal[f])
			FAIL("%s: no NEON dot kernel installed", pb_dtype_name((enum pb_dtype)f));
	for (int f = PB_F16; f <= PB_Q4_0; f++)
		if (ndeq[f] == sdeq[f])
			FAIL("%s: no NEON dequantiser installed", pb_dtype_name((enum pb_dtype)f));

	static const int64_t dense[] = { 1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 100, 1023, 4097 };
	static const int64_t block[] = { 32, 64, 96, 224, 1056, 4128 };
	const int nd = (int)(sizeof dense / sizeof *dense), nb = (int)(sizeof block / sizeof *block);
	for (int f = PB_F32; f <= PB_BF16; f++)
		check_format(neon, ndeq, scal, sdeq, f, dense, nd);
	/* F32 "dequantisation" is memcpy in both; the call above covers it */
	for (int f = PB_Q8_0; f <= PB_Q4_0; f++)
		check_format(neon, ndeq, scal, sdeq, f, block, nb);
	/* the k-quants run the portable kernels (kernels-kquant.c) on arm64:
	 * here they meet the guard pages and the double-precision check */
	static const int64_t kblock[] = { 256, 512, 4096 };
	for (int f = PB_Q2_K; f <= PB_Q6_K; f++)
		check_format(neon, ndeq, scal, sdeq, f, kblock, 3);

	check_gemm();

	printf("neon-conformance: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}

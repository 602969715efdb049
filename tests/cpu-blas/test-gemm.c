/* tests/cpu-blas/test-gemm.c — the native GEMM of cpu-blas's prefill
 * (plugins/backends/cpu-blas/gemm*.c, compiled into this test) at every
 * ISA level this CPU runs — portable C, AVX2+FMA, AVX-512F, NEON (arm64:
 * the cross build runs this test under qemu-aarch64) — on odd
 * shapes: token counts that are not multiples of any micro-tile's mr
 * (1 … 130), row counts that are not multiples of nr, n_in that is not a
 * multiple of the K block nor of the packing's 8 or 16 (1, 3, 255, 257,
 * 600: ragged panels, masked tails, several K blocks), x and y with
 * strides wider than the rows:
 *  - every output within the float error bound of a dot product of n_in
 *    terms, against the sum in double: |y − E| ≤ (n_in + 2)·2^-23·Σ|x·w|
 *    (2× the textbook bound n·u·Σ|x·w| of a chain of n roundings), while
 *    a wrong element, transpose or tail moves y by about |x·w|;
 *  - at the SIMD levels, the exact bits of one fused multiply-add chain
 *    over k in order from zero (fmaf), the rule gemm.h states: a kernel
 *    that splits k over several accumulators, or rounds the product
 *    before adding, fails here even when within the bound;
 *  - the same bits whatever the tiling: the tile computed whole equals it
 *    computed one row at a time (other panel edges) and one token at a
 *    time (other micro-tiles) — what lets the plugin promise results
 *    independent of `threads` (gemm.h);
 *  - outputs beyond the tile (the y stride's padding) untouched;
 *  - the direct packs of stored F16, BF16, Q8_0 and Q4_0 rows (qpack) give
 *    the panel, bit for bit, that packing the rows dequantised one by one
 *    gives (random bytes: subnormal halves and scales, every int8 and
 *    nibble; ragged F16/BF16 tails, partial panels), and a tile packed
 *    that way the same outputs, bit for bit, as through the row path on
 *    odd shapes with several and partial K blocks.
 * A level the CPU lacks is skipped with a note on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "gemm.h"
#include "prunebench/tensor.h"

#define N_LEVELS 4
static const char *const level_name[N_LEVELS] = { "portable", "avx2", "avx512", "neon" };
static struct cb_gemm lv[N_LEVELS];
static int have[N_LEVELS];

static void setup(void)
{
	cb_gemm_portable(&lv[0]);
	have[0] = 1;
	have[1] = cb_gemm_avx2(&lv[1]);
	have[2] = cb_gemm_avx512(&lv[2]);
	have[3] = cb_gemm_neon(&lv[3]);
	for (int l = 1; l < N_LEVELS; l++)
		if (!have[l])
			fprintf(stderr, "note: this CPU does not run %s; its GEMM is not tested\n",
				level_name[l]);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

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

static float *scratch_new(void)
{
	float *s = NULL;
	ck_assert_int_eq(posix_memalign((void **)&s, 64, cb_gemm_scratch_floats() * sizeof *s), 0);
	return s;
}

#define SENTINEL 12345.0f

/* y (nt rows of stride ys, n_rows used) filled with SENTINEL, then the
 * tile */
static float *run_tile(const struct cb_gemm *g, const struct cb_gemm_w *gw, int64_t n_in,
		       int64_t n_rows, const float *x, int64_t xs, int nt, int64_t ys, float *scratch)
{
	float *y = malloc((size_t)(nt * ys) * sizeof *y);
	for (int64_t i = 0; i < nt * ys; i++)
		y[i] = SENTINEL;
	cb_gemm_tile(g, gw, 0, n_rows, n_in, x, xs, nt, y, ys, scratch);
	return y;
}

static void one_shape(int l, int nt, int64_t n_rows, int64_t n_in, float *scratch)
{
	const struct cb_gemm *g = &lv[l];
	const int64_t xs = n_in + 5, ys = n_rows + 3;
	float *w = malloc((size_t)(n_rows * n_in) * sizeof *w);
	float *x = malloc((size_t)(nt * xs) * sizeof *x);
	for (int64_t i = 0; i < n_rows * n_in; i++)
		w[i] = frand();
	for (int64_t i = 0; i < nt * xs; i++)
		x[i] = frand();
	const struct wmat m = { w, n_in };
	const struct cb_gemm_w gw = { row_of, &m, (const uint8_t *)w, (size_t)n_in * sizeof *w,
					      CB_GEMM_ROWS };
	float *y = run_tile(g, &gw, n_in, n_rows, x, xs, nt, ys, scratch);
	for (int t = 0; t < nt; t++) {
		for (int64_t r = 0; r < n_rows; r++) {
			double e = 0, a = 0;
			float chain = 0.0f;
			for (int64_t k = 0; k < n_in; k++) {
				e += (double)x[t * xs + k] * w[r * n_in + k];
				a += fabs((double)x[t * xs + k] * w[r * n_in + k]);
				chain = fmaf(x[t * xs + k], w[r * n_in + k], chain);
			}
			const double got = y[t * ys + r], bound = (double)(n_in + 2) * 0x1p-23 * a;
			ck_assert_msg(fabs(got - e) <= bound, "%s: %d tokens × %lld rows × %lld: y[%d][%lld] "
				      "= %.9g, expected %.9g (bound %.3g)", level_name[l], nt,
				      (long long)n_rows, (long long)n_in, t, (long long)r, got, e, bound);
			/* portable C: whether `c += a·w` contracts is the compiler's call */
			ck_assert_msg(l == 0 || !memcmp(&y[t * ys + r], &chain, sizeof chain),
				      "%s: %d tokens × %lld rows × %lld: y[%d][%lld] = %a, the fma chain "
				      "over k gives %a", level_name[l], nt, (long long)n_rows,
				      (long long)n_in, t, (long long)r, y[t * ys + r], chain);
		}
		for (int64_t r = n_rows; r < ys; r++)
			ck_assert_msg(y[t * ys + r] == SENTINEL, "%s: y[%d][%lld] past the tile written",
				      level_name[l], t, (long long)r);
	}
	/* one row at a time, then one token at a time: the same bits */
	float *y1 = malloc((size_t)(nt * ys) * sizeof *y1);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			for (int64_t r = 0; r < n_rows; r++)
				cb_gemm_tile(g, &gw, r, 1, n_in, x, xs, nt, y1 + r, ys, scratch);
		else
			for (int t = 0; t < nt; t++)
				cb_gemm_tile(g, &gw, 0, n_rows, n_in, x + t * xs, xs, 1, y1 + t * ys,
					     ys, scratch);
		for (int t = 0; t < nt; t++)
			for (int64_t r = 0; r < n_rows; r++)
				ck_assert_msg(!memcmp(&y[t * ys + r], &y1[t * ys + r], sizeof(float)),
					      "%s: %d tokens × %lld rows × %lld: y[%d][%lld] is %a whole, %a "
					      "one %s at a time", level_name[l], nt, (long long)n_rows,
					      (long long)n_in, t, (long long)r, y[t * ys + r], y1[t * ys + r],
					      pass ? "token" : "row");
	}
	free(y1);
	free(y);
	free(x);
	free(w);
}

START_TEST(odd_shapes)
{
	static const int toks[] = { 1, 5, 7, 13, 37, 130 };
	static const int64_t rows[] = { 1, 17, 33, CB_GEMM_TILE };
	static const int64_t ins[] = { 1, 3, 255, 257, 600 };
	float *scratch = scratch_new();
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		for (size_t a = 0; a < sizeof toks / sizeof *toks; a++)
			for (size_t b = 0; b < sizeof rows / sizeof *rows; b++)
				for (size_t c = 0; c < sizeof ins / sizeof *ins; c++)
					one_shape(l, toks[a], rows[b], ins[c], scratch);
	}
	free(scratch);
}
END_TEST

/* ---- the direct packs of stored formats ----------------------------- */

static const char *const fmt_name[CB_GEMM_FMTS] = { "rows", "F16", "BF16", "Q8_0", "Q4_0" };

static size_t fmt_row_bytes(enum cb_gemm_fmt f, int64_t n)
{
	return f == CB_GEMM_Q8_0 ? (size_t)(n / 32) * 34 : f == CB_GEMM_Q4_0 ? (size_t)(n / 32) * 18
									       : (size_t)n * 2;
}

static uint16_t rand_bits(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint16_t)(rng >> 48);
}

/* a finite half, a quarter of them subnormal or zero */
static uint16_t rand_half(void)
{
	const uint16_t h = rand_bits();
	if ((h & 3) == 0)
		return h & 0x83ff;
	return ((h >> 10) & 0x1f) == 0x1f ? (uint16_t)(h & 0xbfff) : h;
}

/* n elements of a row in format f, random */
static void fill_row(enum cb_gemm_fmt f, uint8_t *p, int64_t n)
{
	const size_t bytes = fmt_row_bytes(f, n);
	for (size_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)rand_bits();
	if (f == CB_GEMM_F16 || f == CB_GEMM_BF16)
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = f == CB_GEMM_F16 ? rand_half() : rand_bits();
			if (f == CB_GEMM_BF16 && ((h >> 7) & 0xff) == 0xff)
				h &= 0xbfff;   /* finite */
			memcpy(p + 2 * i, &h, 2);
		}
	else
		for (int64_t b = 0; b < n / 32; b++) {
			const uint16_t d = rand_half();
			memcpy(p + (size_t)b * (f == CB_GEMM_Q8_0 ? 34 : 18), &d, 2);
		}
}

/* the reference: kernels-scalar.c's row dequantisers, element by element */
static void deq_ref(enum cb_gemm_fmt f, const uint8_t *p, int64_t n, float *y)
{
	uint16_t h;
	for (int64_t i = 0; i < n; i++) {
		if (f == CB_GEMM_F16 || f == CB_GEMM_BF16) {
			memcpy(&h, p + 2 * i, 2);
			y[i] = f == CB_GEMM_F16 ? pb_fp16_to_fp32(h) : pb_bf16_to_fp32(h);
			continue;
		}
		const uint8_t *blk = p + (size_t)(i / 32) * (f == CB_GEMM_Q8_0 ? 34 : 18);
		memcpy(&h, blk, 2);
		const float d = pb_fp16_to_fp32(h);
		const int j = (int)(i % 32);
		y[i] = f == CB_GEMM_Q8_0 ? d * (float)(int8_t)blk[2 + j]
					 : d * (float)((j < 16 ? blk[2 + j] & 0x0f : blk[2 + j - 16] >> 4) - 8);
	}
}

START_TEST(qpack_panels)
{
	static const int64_t kcs[] = { 1, 3, 17, 32, 96, 250, 256 };
	float *rowbuf = malloc((size_t)CB_GEMM_NR_MAX * CB_GEMM_KC * sizeof *rowbuf);
	float *want = aligned_alloc(64, (size_t)CB_GEMM_NR_MAX * CB_GEMM_KC * sizeof *want);
	float *got = aligned_alloc(64, (size_t)CB_GEMM_NR_MAX * CB_GEMM_KC * sizeof *got);
	uint8_t *bytes = malloc((size_t)CB_GEMM_NR_MAX * CB_GEMM_KC * 2);
	int n_tested = 0;
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		const struct cb_gemm *g = &lv[l];
		for (int f = CB_GEMM_F16; f < CB_GEMM_FMTS; f++) {
			if (!g->qpack[f])
				continue;
			for (size_t a = 0; a < sizeof kcs / sizeof *kcs; a++) {
				const int64_t kc = kcs[a];
				const int quant = f == CB_GEMM_Q8_0 || f == CB_GEMM_Q4_0;
				if (quant && kc % 32)
					continue;
				const size_t rb = fmt_row_bytes(f, kc);
				/* a full panel, then one with only its first rows */
				for (int used = g->nr; used >= 1; used = used == g->nr ? g->nr / 2 + 1 : 0) {
					const uint8_t *rows[CB_GEMM_NR_MAX];
					const float *frows[CB_GEMM_NR_MAX];
					for (int j = 0; j < g->nr; j++) {
						rows[j] = j < used ? bytes + (size_t)j * rb : NULL;
						frows[j] = j < used ? rowbuf + j * CB_GEMM_KC : NULL;
						if (j < used) {
							fill_row(f, bytes + (size_t)j * rb, kc);
							deq_ref(f, rows[j], kc, rowbuf + j * CB_GEMM_KC);
						}
					}
					memset(want, 0x5a, (size_t)g->nr * CB_GEMM_KC * sizeof *want);
					memset(got, 0x5a, (size_t)g->nr * CB_GEMM_KC * sizeof *got);
					g->pack(frows, kc, want);
					g->qpack[f](rows, kc, got);
					for (int64_t i = 0; i < g->nr * CB_GEMM_KC; i++)
						ck_assert_msg(!memcmp(&want[i], &got[i], sizeof *got),
							      "%s %s: kc %lld, %d rows: panel[%lld] (k %lld, row %lld) "
							      "is %a packed directly, %a through the rows",
							      level_name[l], fmt_name[f], (long long)kc, used,
							      (long long)i, (long long)(i / g->nr),
							      (long long)(i % g->nr), got[i], want[i]);
					n_tested++;
				}
			}
		}
	}
	ck_assert_int_gt(n_tested, 0);
	free(bytes);
	free(got);
	free(want);
	free(rowbuf);
}
END_TEST

struct stored {
	const uint8_t *bytes;
	enum cb_gemm_fmt fmt;
	size_t row_bytes;
};

/* linear.c's gemm_row: the stored row segment dequantised */
static const float *stored_row(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *buf)
{
	const struct stored *m = ctx;
	const int64_t n_in = (int64_t)(m->fmt == CB_GEMM_F16 || m->fmt == CB_GEMM_BF16
					       ? m->row_bytes / 2
					       : m->row_bytes / (m->fmt == CB_GEMM_Q8_0 ? 34 : 18) * 32);
	deq_ref(m->fmt, m->bytes + (size_t)r * m->row_bytes + (size_t)k0 * m->row_bytes / (size_t)n_in,
		kc, buf);
	return buf;
}

/* A tile from stored rows: packed directly (fmt set) and through the
 * rows (fmt CB_GEMM_ROWS), bit-identical outputs */
START_TEST(qpack_tiles)
{
	static const int toks[] = { 1, 7, 13, 130 };
	static const int64_t rows[] = { 1, 17, 33, CB_GEMM_TILE };
	static const int64_t ins[] = { 3, 32, 96, 288, 600, 800 };
	float *scratch = scratch_new();
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		const struct cb_gemm *g = &lv[l];
		for (int f = CB_GEMM_F16; f < CB_GEMM_FMTS; f++) {
			if (!g->qpack[f])
				continue;
			for (size_t c = 0; c < sizeof ins / sizeof *ins; c++) {
				const int64_t n_in = ins[c];
				if ((f == CB_GEMM_Q8_0 || f == CB_GEMM_Q4_0) && n_in % 32)
					continue;
				const size_t rb = fmt_row_bytes(f, n_in);
				uint8_t *w = malloc(rb * CB_GEMM_TILE);
				for (int64_t r = 0; r < CB_GEMM_TILE; r++)
					fill_row(f, w + (size_t)r * rb, n_in);
				const struct stored m = { w, f, rb };
				const struct cb_gemm_w direct = { stored_row, &m, w, rb, (enum cb_gemm_fmt)f };
				const struct cb_gemm_w via = { stored_row, &m, w, rb, CB_GEMM_ROWS };
				for (size_t a = 0; a < sizeof toks / sizeof *toks; a++)
					for (size_t b = 0; b < sizeof rows / sizeof *rows; b++) {
						const int nt = toks[a];
						const int64_t xs = n_in + 1, ys = rows[b] + 2;
						float *x = malloc((size_t)(nt * xs) * sizeof *x);
						for (int64_t i = 0; i < nt * xs; i++)
							x[i] = frand();
						float *y0 = run_tile(g, &via, n_in, rows[b], x, xs, nt, ys, scratch);
						float *y1 = run_tile(g, &direct, n_in, rows[b], x, xs, nt, ys, scratch);
						ck_assert_msg(!memcmp(y0, y1, (size_t)(nt * ys) * sizeof *y0),
							      "%s %s: %d tokens × %lld rows × %lld: outputs differ "
							      "packed directly and through the rows", level_name[l],
							      fmt_name[f], nt, (long long)rows[b], (long long)n_in);
						free(y1);
						free(y0);
						free(x);
					}
				free(w);
			}
		}
	}
	free(scratch);
}
END_TEST

/* the levels' micro-tiles fit the driver's limits */
START_TEST(shapes_declared)
{
	for (int l = 0; l < N_LEVELS; l++) {
		if (!have[l])
			continue;
		ck_assert_int_le(lv[l].nr, CB_GEMM_NR_MAX);
		ck_assert_int_eq(CB_GEMM_TILE % lv[l].nr, 0);
		ck_assert_int_ge(lv[l].mr, 1);
	}
	ck_assert_int_eq(CB_GEMM_KC % 256, 0);
}
END_TEST

int main(void)
{
	setup();
	Suite *s = suite_create("gemm");
	TCase *tc = tcase_create("gemm");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shapes_declared);
	tcase_add_test(tc, odd_shapes);
	tcase_add_test(tc, qpack_panels);
	tcase_add_test(tc, qpack_tiles);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

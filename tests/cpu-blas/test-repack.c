/* tests/cpu-blas/test-repack.c — the repacked Q8_0 / Q4_0 kernels
 * (plugins/backends/cpu-blas/repack.c, kernels-repack.c, compiled into
 * this test) at every SIMD level this CPU runs (AVX2, AVX-512 VNNI)
 * against the portable row kernel (kernels-int.c) on the rows as stored:
 *  - layout: cb_repack_row gives back every row of a group byte for byte;
 *  - group kernel vs row kernel, 1 … CB_RTOK tokens per call at token
 *    offsets 0 … 130 (the prefill's tiles): both compute the same exact
 *    integer per block and differ only by float rounding in their own
 *    order, |out − ref| ≤ (nb + 4)·2^-23·S, S = Σ_b |d_w·d_x|·Σ|q_w·q_x|;
 *    a wrong nibble, sign, bias or scale moves out by about S/n;
 *  - AVX2 and VNNI bit-identical (the same float operations per block);
 *  - a token's result does not depend on the other tokens of the call
 *    (nt) or its place in it (t0): bit-identical, so prefill tiles and
 *    decode agree bit for bit;
 *  - the SIMD activation quantisers (kernels-repack.c) equal
 *    cb_quantize_x bit for bit, edge values included.
 * A level the CPU lacks is skipped with a note on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>

#include <prunebench/hugemap.h>

#include "cpu-blas.h"
#include "model/quant.h"

#define MAX_TOK 130

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static float uni(void)
{
	return (float)(rnd() % 2000001) / 1e6f - 1.0f;
}

static void xq_make(struct cb_xq *xq, int64_t n, int nt)
{
	float *x = malloc((size_t)(n * nt) * sizeof *x);
	for (int64_t i = 0; i < n * nt; i++)
		x[i] = uni() * (i % 97 == 3 ? 30.0f : 1.0f);
	/* one all-zero block (d = 0) */
	memset(x + 32, 0, 32 * sizeof *x);
	*xq = (struct cb_xq){
		.q = malloc((size_t)(n * nt)), .d = malloc((size_t)(n * nt / 32) * sizeof(float)),
		.dsum = malloc((size_t)(n * nt / 32) * sizeof(float)),
		.qsum = malloc((size_t)(n * nt / 32) * sizeof(int32_t)), .n = n, .cap = n,
	};
	ck_assert(xq->q && xq->d && xq->dsum && xq->qsum);
	for (int t = 0; t < nt; t++)
		cb_quantize_x(x + t * n, n, xq->q + t * n, xq->d + t * (n / 32), xq->dsum + t * (n / 32),
			      xq->qsum + t * (n / 32));
	free(x);
}

static void xq_free(struct cb_xq *xq)
{
	free(xq->q);
	free(xq->d);
	free(xq->dsum);
	free(xq->qsum);
}

/* rows × n random weights in dt (some rows all-extreme bytes) */
static uint8_t *weights(enum pb_dtype dt, int64_t rows, int64_t n, size_t *rb)
{
	const struct pb_tensor t = { .dtype = dt, .ne = { n, rows, 1, 1 }, .n_dims = 2 };
	*rb = pb_row_bytes(&t);
	uint8_t *w = malloc(*rb * (size_t)rows);
	float *row = malloc((size_t)n * sizeof *row);
	for (int64_t r = 0; r < rows; r++) {
		for (int64_t i = 0; i < n; i++)
			row[i] = uni() * (r % 5 == 2 ? 1e-3f : 1.0f);
		if (dt == PB_Q8_0)
			pb_quantize_row_q8_0(row, w + (size_t)r * *rb, n);
		else
			pb_quantize_row_q4_0(row, w + (size_t)r * *rb, n);
		if (r % 7 == 6)   /* every quant byte 0x80 / 0xff: Q8_0 −128, Q4_0 nibbles 15 */
			for (int64_t b = 0; b < n / 32; b++)
				memset(w + (size_t)r * *rb + (size_t)b * (*rb / (size_t)(n / 32)) + 2,
				       dt == PB_Q8_0 ? 0x80 : 0xff, dt == PB_Q8_0 ? 32 : 16);
	}
	free(row);
	return w;
}

/* S of row w against token t (see the file comment) */
static double magnitude(enum pb_dtype dt, const uint8_t *w, int64_t n, const struct cb_xq *x, int t)
{
	const int bs = dt == PB_Q8_0 ? 34 : 18;
	double s = 0;
	for (int64_t b = 0; b < n / 32; b++) {
		const uint8_t *blk = w + b * bs;
		uint16_t h;
		memcpy(&h, blk, 2);
		double m = 0;
		for (int i = 0; i < 32; i++) {
			const int q = dt == PB_Q8_0 ? (int8_t)blk[2 + i]
						    : (i < 16 ? blk[2 + i] & 15 : blk[2 + i - 16] >> 4) - 8;
			m += fabs((double)q * x->q[t * n + 32 * b + i]);
		}
		s += fabs((double)pb_fp16_to_fp32(h) * x->d[t * (n / 32) + b]) * m;
	}
	return s;
}

START_TEST(layout_round_trip)
{
	static const enum pb_dtype dts[] = { PB_Q8_0, PB_Q4_0 };
	for (int d = 0; d < 2; d++) {
		size_t rb;
		const int64_t n = 96;
		uint8_t *w = weights(dts[d], CB_RGROUP, n, &rb), *g = malloc(rb * CB_RGROUP);
		uint8_t *row = malloc(rb);
		cb_repack_group(dts[d], w, rb, n, g);
		for (int r = 0; r < CB_RGROUP; r++) {
			cb_repack_row(dts[d], g, r, n, row);
			ck_assert_msg(!memcmp(row, w + (size_t)r * rb, rb), "%s row %d",
				      pb_dtype_name(dts[d]), r);
		}
		free(w);
		free(g);
		free(row);
	}
}
END_TEST

START_TEST(kernels_vs_rows)
{
	static const enum pb_dtype dts[] = { PB_Q8_0, PB_Q4_0 };
	static const int64_t ns[] = { 32, 96, 800, 2048 };
	static const char *const lname[] = { "", "avx2", "avx512vnni" };
	struct cb_kernels port, lv[3];
	int have[3] = { 0 };
	memset(&port, 0, sizeof port);
	cb_kernels_scalar_ext(&port);
	for (int l = 1; l <= 2; l++) {
		memset(&lv[l], 0, sizeof lv[l]);
		have[l] = cb_repack_kernels(&lv[l], l == 1 ? CB_SIMD_AVX2 : CB_SIMD_VNNI);
		if (!have[l])
			fprintf(stderr, "note: this CPU does not run %s; its kernels are not tested\n",
				lname[l]);
	}
	for (int d = 0; d < 2; d++)
		for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
			const int64_t n = ns[a], nb = n / 32;
			size_t rb;
			uint8_t *w = weights(dts[d], CB_RGROUP, n, &rb), *g = malloc(rb * CB_RGROUP);
			struct cb_xq x;
			xq_make(&x, n, MAX_TOK);
			cb_repack_group(dts[d], w, rb, n, g);
			/* the row kernel, token by token: the reference */
			float *ref = malloc((size_t)(MAX_TOK * CB_RGROUP) * sizeof *ref);
			for (int t = 0; t < MAX_TOK; t++) {
				const struct cb_xq xt = { .q = x.q + t * n, .d = x.d + t * nb,
							  .dsum = x.dsum + t * nb, .n = n, .cap = n };
				for (int r = 0; r < CB_RGROUP; r++)
					port.qdot[dts[d]](w + (size_t)r * rb, n, &xt, 1, &ref[t * CB_RGROUP + r]);
			}
			float *got[3] = { NULL };
			for (int l = 1; l <= 2; l++) {
				if (!have[l])
					continue;
				got[l] = malloc((size_t)(MAX_TOK * CB_RGROUP) * sizeof(float));
				/* tiles of 1 … CB_RTOK tokens, the sizes cycling */
				for (int t = 0, k = 0; t < MAX_TOK; k++) {
					const int m = 1 + k % CB_RTOK < MAX_TOK - t ? 1 + k % CB_RTOK : MAX_TOK - t;
					lv[l].rdot[dts[d]](g, n, &x, t, m, got[l] + t * CB_RGROUP, CB_RGROUP);
					t += m;
				}
				for (int t = 0; t < MAX_TOK; t++)
					for (int r = 0; r < CB_RGROUP; r++) {
						const double s = magnitude(dts[d], w + (size_t)r * rb, n, &x, t);
						const double tol = (double)(nb + 4) * 0x1p-23 * s + 1e-30;
						const double e = fabs((double)got[l][t * CB_RGROUP + r] -
								      ref[t * CB_RGROUP + r]);
						ck_assert_msg(e <= tol, "%s %s n %lld token %d row %d: %.9g, row "
							      "kernel %.9g (|diff| %.3g > %.3g)", lname[l],
							      pb_dtype_name(dts[d]), (long long)n, t, r,
							      (double)got[l][t * CB_RGROUP + r],
							      (double)ref[t * CB_RGROUP + r], e, tol);
					}
				/* one token per call, at its own offset: bit-identical */
				for (int t = 0; t < MAX_TOK; t += 13) {
					float one[CB_RGROUP];
					lv[l].rdot[dts[d]](g, n, &x, t, 1, one, CB_RGROUP);
					ck_assert_msg(!memcmp(one, got[l] + t * CB_RGROUP, sizeof one),
						      "%s %s: token %d alone differs from its tile", lname[l],
						      pb_dtype_name(dts[d]), t);
				}
			}
			if (got[1] && got[2])
				ck_assert_msg(!memcmp(got[1], got[2], (size_t)(MAX_TOK * CB_RGROUP) *
						      sizeof(float)), "%s n %lld: avx2 and avx512vnni differ",
					      pb_dtype_name(dts[d]), (long long)n);
			for (int l = 0; l < 3; l++)
				free(got[l]);
			free(ref);
			xq_free(&x);
			free(w);
			free(g);
		}
}
END_TEST

/* The SIMD activation quantisers against cb_quantize_x, bit for bit, on
 * odd lengths and edge values: zeros, a whole block of zeros, ±0, ties
 * at .5 after scaling, subnormals, huge values, ±inf and NaN. */
START_TEST(quant_x_bit_identical)
{
	static const int64_t ns[] = { 32, 96, 800, 2048 };
	static const char *const lname[] = { "", "avx2", "avx512vnni" };
	for (int l = 1; l <= 2; l++) {
		struct cb_kernels k;
		memset(&k, 0, sizeof k);
		if (!cb_repack_kernels(&k, l == 1 ? CB_SIMD_AVX2 : CB_SIMD_VNNI))
			continue;
		ck_assert_ptr_nonnull(k.quant_x);
		for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
			const int64_t n = ns[a], nb = n / 32;
			float *x = malloc((size_t)n * sizeof *x), *d[2], *ds[2];
			int8_t *q[2];
			int32_t *qs[2];
			for (int i = 0; i < 2; i++) {
				q[i] = malloc((size_t)n);
				d[i] = malloc((size_t)nb * sizeof(float));
				ds[i] = malloc((size_t)nb * sizeof(float));
				qs[i] = malloc((size_t)nb * sizeof(int32_t));
			}
			for (int64_t i = 0; i < n; i++) {
				const int64_t b = i / 32;
				switch (b % 8) {
				case 1: x[i] = 0.0f; break;                               /* block of zeros */
				case 2: x[i] = (float)((int)(rnd() % 255) - 127) / 2.0f; break;   /* ties */
				case 3: x[i] = uni() * 1e-40f; break;                      /* subnormals */
				case 4: x[i] = uni() * 3e38f; break;
				case 5: x[i] = i % 32 == 7 ? INFINITY : uni(); break;
				case 6: x[i] = i % 32 == 3 ? NAN : i % 32 == 9 ? -0.0f : uni(); break;
				default: x[i] = uni() * (float)(1 + rnd() % 100); break;
				}
			}
			cb_quantize_x(x, n, q[0], d[0], ds[0], qs[0]);
			k.quant_x(x, n, q[1], d[1], ds[1], qs[1]);
			for (int64_t b = 0; b < nb; b++) {
				ck_assert_msg(!memcmp(q[0] + 32 * b, q[1] + 32 * b, 32) &&
					      !memcmp(&d[0][b], &d[1][b], sizeof(float)) &&
					      !memcmp(&ds[0][b], &ds[1][b], sizeof(float)) &&
					      qs[0][b] == qs[1][b],
					      "%s n %lld block %lld: quantised activations differ from "
					      "cb_quantize_x (d %g / %g, qsum %d / %d)", lname[l], (long long)n,
					      (long long)b, (double)d[0][b], (double)d[1][b], qs[0][b], qs[1][b]);
			}
			for (int i = 0; i < 2; i++) {
				free(q[i]);
				free(d[i]);
				free(ds[i]);
				free(qs[i]);
			}
			free(x);
		}
	}
}
END_TEST

/* The VmFlags line of the /proc/self/smaps entry that holds address p:
 * "hg" there means MADV_HUGEPAGE was applied.  0: no such entry. */
static int vm_flags_of(const void *p, char *flags, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = lo <= (uintptr_t)p && (uintptr_t)p < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* The repacked weights' mapping (cpu-blas.c, `hugepages`) and the core's
 * copy of a GGUF's weights come from pb_map_huge (prunebench/hugemap.h):
 * whole pages, writable, at the 2 MB phase asked for (0: aligned), asking
 * for transparent huge pages (MADV_HUGEPAGE, "hg" in VmFlags) only when
 * told to.  Whether the kernel then gives huge pages depends on its
 * memory, not on us: the test checks the request, not AnonHugePages. */
START_TEST(arena_huge_pages)
{
	const size_t huge = PB_HUGE_PAGE, bytes = 5 * huge + 4096 + 7;
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	for (int want = 0; want <= 1; want++)
		for (uintptr_t phase = 0; phase < huge; phase += huge / 2 + pg) {
			size_t len = 0;
			char flags[512] = "";
			uint8_t *a = pb_map_huge(bytes, phase, want, &len);
			ck_assert_ptr_nonnull(a);
			ck_assert_msg((uintptr_t)a % huge == phase, "mapping at %p: phase %zu, asked %zu",
				      (void *)a, (size_t)((uintptr_t)a % huge), (size_t)phase);
			ck_assert_msg(len >= bytes && len % pg == 0, "mapping of %zu bytes for %zu", len,
				      bytes);
			memset(a, 0x5a, bytes);
			ck_assert_int_eq(a[bytes - 1], 0x5a);
			ck_assert_msg(vm_flags_of(a, flags, sizeof flags), "mapping %p not in smaps",
				      (void *)a);
			ck_assert_msg(vm_flags_of(a + len - 1, flags, sizeof flags), "mapping's end not mapped");
			if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0)
				ck_assert_msg((strstr(flags, " hg") != NULL) == want,
					      "hugepages %d: VmFlags%s", want, flags);
			else
				fprintf(stderr, "arena_huge_pages: this kernel has no THP; flag not checked\n");
			ck_assert_int_eq(munmap(a, len), 0);
		}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu-blas-repack");
	TCase *tc = tcase_create("repack");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, layout_round_trip);
	tcase_add_test(tc, kernels_vs_rows);
	tcase_add_test(tc, quant_x_bit_identical);
	tcase_add_test(tc, arena_huge_pages);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* plugins/backends/cpu-blas/gemm-avx2.c — the native GEMM's AVX2+FMA
 * kernels (gemm.h), compiled for that target function by function and
 * chosen at run time where AVX-512F is missing.  The micro-tile is 6
 * tokens × 16 rows: 12 ymm accumulators, two weight vectors and one
 * broadcast fill the 16 registers (the classic Haswell shape).  Packing
 * transposes 8 × 8 blocks in registers; F16/BF16/Q8_0/Q4_0 rows are
 * converted to floats in registers on the way in (qpack, with F16C). */
#include <string.h>

#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline)) TGT
#define NR 16
#define MR 6

/* r[0..7] (8 rows of 8 k) → r[n] = the 8 rows' element k = n */
INLINE void transpose8(__m256 r[8])
{
	__m256 t[8], s[8];
#pragma GCC unroll 16
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	/* s[4g + c], lane L: rows 4g … 4g+3 at k = 4L + c */
#pragma GCC unroll 16
	for (int g = 0; g < 2; g++) {
		s[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
		s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
		s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
		s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
	}
#pragma GCC unroll 16
	for (int c = 0; c < 4; c++) {
		r[c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x20);
		r[c + 4] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x31);
	}
}

INLINE __m256i first_n(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

TGT static void pack_avx2(const float *const *rows, int64_t kc, float *panel)
{
	for (int64_t k = 0; k < kc; k += 8) {
		const int n = kc - k < 8 ? (int)(kc - k) : 8;
		const __m256i m = first_n(n);
		for (int h = 0; h < 2; h++) {
			__m256 r[8];
#pragma GCC unroll 16
			for (int j = 0; j < 8; j++)
				r[j] = rows[8 * h + j] ? _mm256_maskload_ps(rows[8 * h + j] + k, m)
						       : _mm256_setzero_ps();
			transpose8(r);
			/* a constant trip count: r stays in registers */
#pragma GCC unroll 16
			for (int i = 0; i < 8; i++)
				if (i < n)
					_mm256_store_ps(panel + (k + i) * NR + 8 * h, r[i]);
		}
	}
}

/* The direct packs convert halves (F16 data, Q8_0/Q4_0 scales): F16C,
 * which every AVX2 CPU has but is checked apart (cb_gemm_avx2) */
#define TGTQ __attribute__((target("avx2,fma,f16c")))
#define INLINEQ static inline __attribute__((always_inline)) TGTQ

/* 8 elements [k, k + n) of a K block, unscaled: row points at the block's
 * first element (Q8_0/Q4_0: its first 32-block; n is 8 there) */
INLINEQ __m256 load8(const enum cb_gemm_fmt fmt, const uint8_t *row, int64_t k, int n)
{
	const int c = (int)(k & 31);   /* offset within the 32-block */
	if (fmt == CB_GEMM_Q8_0) {
		const __m128i q = _mm_loadl_epi64((const __m128i *)(row + (k / 32) * 34 + 2 + c));
		return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
	}
	if (fmt == CB_GEMM_Q4_0) {
		const __m256i b = _mm256_cvtepu8_epi32(
			_mm_loadl_epi64((const __m128i *)(row + (k / 32) * 18 + 2 + (c & 15))));
		const __m256i q = c & 16 ? _mm256_srli_epi32(b, 4) : _mm256_and_si256(b, _mm256_set1_epi32(0x0f));
		return _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8)));
	}
	__m128i h;
	if (n == 8) {
		h = _mm_loadu_si128((const __m128i *)(row + 2 * k));
	} else {   /* the row's last, ragged 8 */
		uint16_t tmp[8] = { 0 };
		memcpy(tmp, row + 2 * k, (size_t)n * 2);
		h = _mm_loadu_si128((const __m128i *)tmp);
	}
	if (fmt == CB_GEMM_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));   /* BF16 */
}

/* the 8 rows' scales of the 32-block at byte offset off (NULL rows 0) */
INLINEQ __m256 scales8(const uint8_t *const *rr, size_t off)
{
	uint16_t d[8];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		d[j] = 0;
		if (rr[j])
			memcpy(&d[j], rr[j] + off, 2);
	}
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
}

/* A K block of 16 rows from their stored bytes: 8 rows × 8 k converted,
 * transposed, then (Q8_0/Q4_0) multiplied by the rows' scales lane by
 * lane — d·q, the product the row dequantisers form, exact */
INLINEQ void qpack_body(const enum cb_gemm_fmt fmt, const uint8_t *const *rows, int64_t kc,
			float *panel)
{
	const int quant = fmt == CB_GEMM_Q8_0 || fmt == CB_GEMM_Q4_0;
	for (int64_t k = 0; k < kc; k += 8) {
		const int n = kc - k < 8 ? (int)(kc - k) : 8;
		for (int h = 0; h < 2; h++) {
			const uint8_t *const *rr = rows + 8 * h;
			__m256 r[8];
#pragma GCC unroll 8
			for (int j = 0; j < 8; j++)
				r[j] = rr[j] ? load8(fmt, rr[j], k, n) : _mm256_setzero_ps();
			transpose8(r);
			if (quant) {
				const __m256 d = scales8(rr, (size_t)(k / 32) * (fmt == CB_GEMM_Q8_0 ? 34 : 18));
#pragma GCC unroll 8
				for (int i = 0; i < 8; i++)
					r[i] = _mm256_mul_ps(r[i], d);
			}
#pragma GCC unroll 8
			for (int i = 0; i < 8; i++)
				if (i < n)
					_mm256_store_ps(panel + (k + i) * NR + 8 * h, r[i]);
		}
	}
}

#define QPACK(name, fmt)                                                                           \
	TGTQ static void qpack_##name(const uint8_t *const *rows, int64_t kc, float *panel)         \
	{                                                                                          \
		qpack_body(fmt, rows, kc, panel);                                                  \
	}
QPACK(f16, CB_GEMM_F16)
QPACK(bf16, CB_GEMM_BF16)
QPACK(q8_0, CB_GEMM_Q8_0)
QPACK(q4_0, CB_GEMM_Q4_0)

INLINE void micro_body(const float *x, int64_t xs, const int mr, const float *p, int64_t kc,
		       float *y, int64_t ys, int ncols, int accumulate)
{
	const __m256i m0 = first_n(ncols), m1 = first_n(ncols - 8);
	__m256 c0[MR], c1[MR];
#pragma GCC unroll 6
	for (int t = 0; t < mr; t++) {
		c0[t] = accumulate ? _mm256_maskload_ps(y + t * ys, m0) : _mm256_setzero_ps();
		c1[t] = accumulate ? _mm256_maskload_ps(y + t * ys + 8, m1) : _mm256_setzero_ps();
	}
	for (int64_t k = 0; k < kc; k++) {
		const __m256 w0 = _mm256_load_ps(p + k * NR), w1 = _mm256_load_ps(p + k * NR + 8);
#pragma GCC unroll 6
		for (int t = 0; t < mr; t++) {
			const __m256 a = _mm256_broadcast_ss(x + t * xs + k);
			c0[t] = _mm256_fmadd_ps(a, w0, c0[t]);
			c1[t] = _mm256_fmadd_ps(a, w1, c1[t]);
		}
	}
#pragma GCC unroll 6
	for (int t = 0; t < mr; t++) {
		_mm256_maskstore_ps(y + t * ys, m0, c0[t]);
		_mm256_maskstore_ps(y + t * ys + 8, m1, c1[t]);
	}
}

#define MICRO(n)                                                                                   \
	TGT static void micro_##n(const float *x, int64_t xs, const float *p, int64_t kc, float *y,   \
				  int64_t ys, int ncols, int acc)                                      \
	{                                                                                          \
		micro_body(x, xs, n, p, kc, y, ys, ncols, acc);                                    \
	}
MICRO(1) MICRO(2) MICRO(3) MICRO(4) MICRO(5) MICRO(6)

static void micro_avx2(const float *x, int64_t xs, int mr, const float *p, int64_t kc, float *y,
		       int64_t ys, int ncols, int acc)
{
	typedef void (*fn)(const float *, int64_t, const float *, int64_t, float *, int64_t, int, int);
	static const fn by_mr[MR + 1] = { NULL, micro_1, micro_2, micro_3, micro_4, micro_5, micro_6 };
	by_mr[mr](x, xs, p, kc, y, ys, ncols, acc);
}

int cb_gemm_avx2(struct cb_gemm *g)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	*g = (struct cb_gemm){ .mr = MR, .nr = NR, .pack = pack_avx2, .micro = micro_avx2,
			       .isa = "avx2" };
	/* F16C from CPUID leaf 1 (ECX bit 29): not every compiler's
	 * __builtin_cpu_supports knows "f16c" */
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29))) {
		g->qpack[CB_GEMM_F16] = qpack_f16;
		g->qpack[CB_GEMM_BF16] = qpack_bf16;
		g->qpack[CB_GEMM_Q8_0] = qpack_q8_0;
		g->qpack[CB_GEMM_Q4_0] = qpack_q4_0;
	}
	return 1;
}

#else

int cb_gemm_avx2(struct cb_gemm *g)
{
	(void)g;
	return 0;
}

#endif

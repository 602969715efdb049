/* plugins/backends/cpu-blas/gemm-avx512.c — the native GEMM's AVX-512F
 * kernels (gemm.h), compiled for that target function by function and
 * chosen at run time.  The micro-tile is 12 tokens × 32 rows: 24 zmm
 * accumulators, two weight vectors per k and x broadcast from memory
 * (Zen 4/5 and Intel cores have 32 zmm registers; 12 × 2 leaves room for
 * the weights without spilling).  Packing transposes 16 × 16 blocks in
 * registers: a scalar transpose would cost about a fifth of the multiply
 * at 128 tokens.  F16/BF16/Q8_0/Q4_0 rows are converted to floats in
 * registers on the way into that transpose (qpack). */
#include <string.h>

#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline)) TGT
#define NR 32
#define MR 12

/* r[0..15] (16 rows of 16 k) → r[n] = the 16 rows' element k = n */
INLINE void transpose16(__m512 r[16])
{
	__m512 t[16];
#pragma GCC unroll 16
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	/* r[4g + c], lane L: rows 4g … 4g+3 at k = 4L + c */
#pragma GCC unroll 16
	for (int g = 0; g < 4; g++) {
		r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
		r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
		r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
		r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
	}
#pragma GCC unroll 16
	for (int c = 0; c < 4; c++) {
		t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
		t[c + 4] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
		t[c + 8] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
		t[c + 12] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
	}
#pragma GCC unroll 16
	for (int c = 0; c < 4; c++) {
		r[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
		r[c + 8] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xdd);
		r[c + 4] = _mm512_shuffle_f32x4(t[c + 4], t[c + 12], 0x88);
		r[c + 12] = _mm512_shuffle_f32x4(t[c + 4], t[c + 12], 0xdd);
	}
}

TGT static void pack_avx512(const float *const *rows, int64_t kc, float *panel)
{
	for (int64_t k = 0; k < kc; k += 16) {
		const int n = kc - k < 16 ? (int)(kc - k) : 16;
		const __mmask16 m = (__mmask16)((1u << n) - 1);
		for (int h = 0; h < 2; h++) {
			__m512 r[16];
#pragma GCC unroll 16
			for (int j = 0; j < 16; j++)
				r[j] = rows[16 * h + j] ? _mm512_maskz_loadu_ps(m, rows[16 * h + j] + k)
							: _mm512_setzero_ps();
			transpose16(r);
			/* a constant trip count: r stays in registers */
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++)
				if (i < n)
					_mm512_store_ps(panel + (k + i) * NR + 16 * h, r[i]);
		}
	}
}

/* 16 elements [k, k + n) of a K block, unscaled: row points at the
 * block's first element (Q8_0/Q4_0: its first 32-block; n is 16 there) */
INLINE __m512 load16(const enum cb_gemm_fmt fmt, const uint8_t *row, int64_t k, int n)
{
	if (fmt == CB_GEMM_Q8_0) {
		const __m128i q = _mm_loadu_si128((const __m128i *)(row + (k / 32) * 34 + 2 + (k & 16)));
		return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
	}
	if (fmt == CB_GEMM_Q4_0) {
		const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + (k / 32) * 18 + 2)));
		const __m512i q = k & 16 ? _mm512_srli_epi32(b, 4) : _mm512_and_si512(b, _mm512_set1_epi32(0x0f));
		return _mm512_cvtepi32_ps(_mm512_sub_epi32(q, _mm512_set1_epi32(8)));
	}
	__m256i h;
	if (n == 16) {
		h = _mm256_loadu_si256((const __m256i *)(row + 2 * k));
	} else {   /* the row's last, ragged 16 */
		uint16_t tmp[16] = { 0 };
		memcpy(tmp, row + 2 * k, (size_t)n * 2);
		h = _mm256_loadu_si256((const __m256i *)tmp);
	}
	if (fmt == CB_GEMM_F16)
		return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));   /* BF16 */
}

/* the 16 rows' scales of the 32-block at byte offset off (NULL rows 0) */
INLINE __m512 scales16(const uint8_t *const *rr, size_t off)
{
	uint16_t d[16];
#pragma GCC unroll 16
	for (int j = 0; j < 16; j++) {
		d[j] = 0;
		if (rr[j])
			memcpy(&d[j], rr[j] + off, 2);
	}
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d));
}

/* A K block of 32 rows from their stored bytes: 16 rows × 16 k
 * converted, transposed, then (Q8_0/Q4_0) multiplied by the rows' scales
 * lane by lane — d·q, the product the row dequantisers form, exact */
INLINE void qpack_body(const enum cb_gemm_fmt fmt, const uint8_t *const *rows, int64_t kc,
		       float *panel)
{
	const int quant = fmt == CB_GEMM_Q8_0 || fmt == CB_GEMM_Q4_0;
	for (int64_t k = 0; k < kc; k += 16) {
		const int n = kc - k < 16 ? (int)(kc - k) : 16;
		for (int h = 0; h < 2; h++) {
			const uint8_t *const *rr = rows + 16 * h;
			__m512 r[16];
#pragma GCC unroll 16
			for (int j = 0; j < 16; j++)
				r[j] = rr[j] ? load16(fmt, rr[j], k, n) : _mm512_setzero_ps();
			transpose16(r);
			if (quant) {
				const __m512 d = scales16(rr, (size_t)(k / 32) * (fmt == CB_GEMM_Q8_0 ? 34 : 18));
#pragma GCC unroll 16
				for (int i = 0; i < 16; i++)
					r[i] = _mm512_mul_ps(r[i], d);
			}
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++)
				if (i < n)
					_mm512_store_ps(panel + (k + i) * NR + 16 * h, r[i]);
		}
	}
}

#define QPACK(name, fmt)                                                                           \
	TGT static void qpack_##name(const uint8_t *const *rows, int64_t kc, float *panel)          \
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
	const __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
	const __mmask16 m1 = ncols >= 32 ? 0xffff : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1) : 0;
	__m512 c0[MR], c1[MR];
#pragma GCC unroll 12
	for (int t = 0; t < mr; t++) {
		c0[t] = accumulate ? _mm512_maskz_loadu_ps(m0, y + t * ys) : _mm512_setzero_ps();
		c1[t] = accumulate ? _mm512_maskz_loadu_ps(m1, y + t * ys + 16) : _mm512_setzero_ps();
	}
	for (int64_t k = 0; k < kc; k++) {
		const __m512 w0 = _mm512_load_ps(p + k * NR), w1 = _mm512_load_ps(p + k * NR + 16);
#pragma GCC unroll 12
		for (int t = 0; t < mr; t++) {
			const __m512 a = _mm512_set1_ps(x[t * xs + k]);
			c0[t] = _mm512_fmadd_ps(a, w0, c0[t]);
			c1[t] = _mm512_fmadd_ps(a, w1, c1[t]);
		}
	}
#pragma GCC unroll 12
	for (int t = 0; t < mr; t++) {
		_mm512_mask_storeu_ps(y + t * ys, m0, c0[t]);
		_mm512_mask_storeu_ps(y + t * ys + 16, m1, c1[t]);
	}
}

/* one instance per token count, so each keeps its accumulators in
 * registers */
#define MICRO(n)                                                                                   \
	TGT static void micro_##n(const float *x, int64_t xs, const float *p, int64_t kc, float *y,   \
				  int64_t ys, int ncols, int acc)                                      \
	{                                                                                          \
		micro_body(x, xs, n, p, kc, y, ys, ncols, acc);                                    \
	}
MICRO(1) MICRO(2) MICRO(3) MICRO(4) MICRO(5) MICRO(6)
MICRO(7) MICRO(8) MICRO(9) MICRO(10) MICRO(11) MICRO(12)

static void micro_avx512(const float *x, int64_t xs, int mr, const float *p, int64_t kc, float *y,
			 int64_t ys, int ncols, int acc)
{
	typedef void (*fn)(const float *, int64_t, const float *, int64_t, float *, int64_t, int, int);
	static const fn by_mr[MR + 1] = {
		NULL, micro_1, micro_2, micro_3, micro_4, micro_5, micro_6,
		micro_7, micro_8, micro_9, micro_10, micro_11, micro_12,
	};
	by_mr[mr](x, xs, p, kc, y, ys, ncols, acc);
}

int cb_gemm_avx512(struct cb_gemm *g)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return 0;
	*g = (struct cb_gemm){ .mr = MR, .nr = NR, .pack = pack_avx512, .micro = micro_avx512,
			       .isa = "avx512",
			       .qpack = { [CB_GEMM_F16] = qpack_f16, [CB_GEMM_BF16] = qpack_bf16,
					  [CB_GEMM_Q8_0] = qpack_q8_0, [CB_GEMM_Q4_0] = qpack_q4_0 } };
	return 1;
}

#else

int cb_gemm_avx512(struct cb_gemm *g)
{
	(void)g;
	return 0;
}

#endif

/* plugins/backends/cpu-blas/kernels-avx2-int.c — the SIMD integer kernels
 * for Q8_0 / Q4_0 decode (activations quantised by cb_quantize_x; see
 * kernels-int.c for the arithmetic) and the 2:4-packed GEMV, in two
 * flavours chosen at run time:
 *  - AVX2: u8×s8 multiply-adds (vpmaddubsw, then vpmaddwd to 32 bits);
 *    Q8_0's signed weights go through the sign trick |w|·(x·sign w);
 *  - AVX-512 VNNI (with VL, on 256-bit vectors): one vpdpbusd does both.
 * Q4_0 nibbles are unsigned 0..15, so they feed the u8 operand as they
 * are and the −8 offset is subtracted once per block from d_x·Σx_q.  The 2:4
 * kernel picks each group's two columns of x with in-lane permutes driven
 * by the index byte (no gathers), four groups per step.  The k-quants'
 * kernels (kernels-avx2-kquant.c) are installed here at the same level. */
#include "cpu-blas.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define T_AVX2 "avx2,fma,f16c"
#define T_VNNI "avx2,fma,f16c,avx512f,avx512vl,avx512vnni"

#define INLINE static inline __attribute__((always_inline))

INLINE __attribute__((target(T_AVX2))) float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE __attribute__((target(T_AVX2))) float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

/* Σ u·s over groups of four bytes → eight int32 lanes, as floats */
INLINE __attribute__((target(T_AVX2))) __m256 dot_us_avx2(__m256i u, __m256i s)
{
	const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
	return _mm256_cvtepi32_ps(p);
}

INLINE __attribute__((target(T_VNNI))) __m256 dot_us_vnni(__m256i u, __m256i s)
{
	return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s));
}

#define QBODY(NAME, TGT, DOT)                                                                   \
	INLINE __attribute__((target(TGT))) void NAME##_q8(const uint8_t *w, int64_t n,           \
							   const struct cb_xq *x, const int nt,   \
							   float *out)                            \
	{                                                                                       \
		const int64_t nb = n / 32, xn = x->n, xb = x->n / 32;                           \
		__m256 a[CB_GEMV_MAX];                                                          \
		for (int t = 0; t < nt; t++)                                                    \
			a[t] = _mm256_setzero_ps();                                             \
		for (int64_t b = 0; b < nb; b++, w += 34) {                                     \
			const float dw = half_at(w);                                            \
			const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(w + 2)); \
			const __m256i aq = _mm256_sign_epi8(q, q);                              \
			for (int t = 0; t < nt; t++) {                                          \
				const __m256i xq = _mm256_loadu_si256(                          \
					(const __m256i *)(const void *)(x->q + t * xn + 32 * b));   \
				const __m256 p = DOT(aq, _mm256_sign_epi8(xq, q));              \
				a[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x->d[t * xb + b]), p, a[t]); \
			}                                                                       \
		}                                                                               \
		for (int t = 0; t < nt; t++)                                                    \
			out[t] = hsum8(a[t]);                                                   \
	}                                                                                       \
	INLINE __attribute__((target(TGT))) void NAME##_q4(const uint8_t *w, int64_t n,           \
							   const struct cb_xq *x, const int nt,   \
							   float *out)                            \
	{                                                                                       \
		const int64_t nb = n / 32, xn = x->n, xb = x->n / 32;                           \
		const __m128i m4 = _mm_set1_epi8(0x0f);                                         \
		__m256 a[CB_GEMV_MAX];                                                          \
		float c[CB_GEMV_MAX];                                                           \
		for (int t = 0; t < nt; t++) {                                                  \
			a[t] = _mm256_setzero_ps();                                             \
			c[t] = 0;                                                               \
		}                                                                               \
		for (int64_t b = 0; b < nb; b++, w += 18) {                                     \
			const float dw = half_at(w);                                            \
			const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(w + 2)); \
			const __m256i u = _mm256_inserti128_si256(                              \
				_mm256_castsi128_si256(_mm_and_si128(raw, m4)),                 \
				_mm_and_si128(_mm_srli_epi16(raw, 4), m4), 1);                  \
			for (int t = 0; t < nt; t++) {                                          \
				const __m256i xq = _mm256_loadu_si256(                          \
					(const __m256i *)(const void *)(x->q + t * xn + 32 * b));   \
				a[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x->d[t * xb + b]),   \
						       DOT(u, xq), a[t]);                       \
				c[t] += dw * x->dsum[t * xb + b];                               \
			}                                                                       \
		}                                                                               \
		for (int t = 0; t < nt; t++)                                                    \
			out[t] = hsum8(a[t]) - 8.0f * c[t];                                     \
	}

QBODY(avx2, T_AVX2, dot_us_avx2)
QBODY(vnni, T_VNNI, dot_us_vnni)

/* Exported kernels: the token count made a constant so the accumulators
 * stay in registers. */
#define QDOT(name, body, tgt)                                                                   \
	__attribute__((target(tgt))) static void name(const uint8_t *w, int64_t n,                \
						      const struct cb_xq *x, int nt, float *out)  \
	{                                                                                       \
		switch (nt) {                                                                   \
		case 1: body(w, n, x, 1, out); break;                                           \
		case 2: body(w, n, x, 2, out); break;                                           \
		case 3: body(w, n, x, 3, out); break;                                           \
		default: body(w, n, x, 4, out); break;                                          \
		}                                                                               \
	}

QDOT(qdot_q8_avx2, avx2_q8, T_AVX2)
QDOT(qdot_q4_avx2, avx2_q4, T_AVX2)
QDOT(qdot_q8_vnni, vnni_q8, T_VNNI)
QDOT(qdot_q4_vnni, vnni_q4, T_VNNI)

/* 2:4 rows: per four groups (16 columns of x, 8 stored values), the index
 * bytes are broadcast and shifted into two vpermilps controls, one per
 * pair of groups in the two 128-bit lanes of x; a shuffle puts the picked
 * pairs side by side as lane 0 = groups g, g+2, lane 1 = g+1, g+3, and
 * the values are permuted once (shared by every token) to that order. */
INLINE __attribute__((target(T_AVX2))) void nm24_body(const float *v, const uint8_t *ix,
						      int64_t n, const float *x, int64_t xs,
						      const int nt, float *out)
{
	const __m256i sh0 = _mm256_setr_epi32(0, 2, 0, 0, 8, 10, 0, 0);
	const __m256i sh1 = _mm256_setr_epi32(16, 18, 0, 0, 24, 26, 0, 0);
	const __m256i three = _mm256_set1_epi32(3);
	const int64_t ng = n / 4;
	__m256 a[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		a[t] = _mm256_setzero_ps();
	int64_t g = 0;
	for (; g + 4 <= ng; g += 4) {
		uint32_t i4;
		memcpy(&i4, ix + g, 4);
		const __m256i bv = _mm256_set1_epi32((int)i4);
		const __m256i c0 = _mm256_and_si256(_mm256_srlv_epi32(bv, sh0), three);
		const __m256i c1 = _mm256_and_si256(_mm256_srlv_epi32(bv, sh1), three);
		const __m256 vp = _mm256_castpd_ps(
			_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_loadu_ps(v + 2 * g)), 0xD8));
		for (int t = 0; t < nt; t++) {
			const float *xg = x + t * xs + 4 * g;
			const __m256 p0 = _mm256_permutevar_ps(_mm256_loadu_ps(xg), c0);
			const __m256 p1 = _mm256_permutevar_ps(_mm256_loadu_ps(xg + 8), c1);
			a[t] = _mm256_fmadd_ps(vp, _mm256_shuffle_ps(p0, p1, 0x44), a[t]);
		}
	}
	for (int t = 0; t < nt; t++) {
		float r = hsum8(a[t]);
		const float *xr = x + t * xs;
		for (int64_t k = g; k < ng; k++)
			r += v[2 * k] * xr[4 * k + (ix[k] & 3)] +
			     v[2 * k + 1] * xr[4 * k + ((ix[k] >> 2) & 3)];
		out[t] = r;
	}
}

__attribute__((target(T_AVX2))) static void nm24_avx2(const float *v, const uint8_t *ix,
						      int64_t n, const float *x, int64_t xs,
						      int nt, float *out)
{
	switch (nt) {
	case 1: nm24_body(v, ix, n, x, xs, 1, out); break;
	case 2: nm24_body(v, ix, n, x, xs, 2, out); break;
	case 3: nm24_body(v, ix, n, x, xs, 3, out); break;
	default: nm24_body(v, ix, n, x, xs, 4, out); break;
	}
}

int cb_kernels_avx2_ext(struct cb_kernels *k)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	k->nm24 = nm24_avx2;
	if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) {
		k->qdot[PB_Q8_0] = qdot_q8_vnni;
		k->qdot[PB_Q4_0] = qdot_q4_vnni;
		cb_kquant_avx2_ext(k, CB_SIMD_VNNI);   /* kernels-avx2-kquant.c */
		cb_repack_kernels(k, CB_SIMD_VNNI);    /* kernels-repack.c */
		k->isa = "avx512vnni";
	} else {
		k->qdot[PB_Q8_0] = qdot_q8_avx2;
		k->qdot[PB_Q4_0] = qdot_q4_avx2;
		cb_kquant_avx2_ext(k, CB_SIMD_AVX2);
		cb_repack_kernels(k, CB_SIMD_AVX2);
		k->isa = "avx2";
	}
	return 1;
}

#else

int cb_kernels_avx2_ext(struct cb_kernels *k)
{
	(void)k;
	return 0;
}

#endif

/* plugins/backends/cpu-blas/kernels-avx2.c — AVX2+FMA+F16C GEMV kernels,
 * compiled for that target function by function (the build stays
 * generic, no -march=native) and chosen at run time with
 * __builtin_cpu_supports.  Each kernel streams one weight row once and
 * keeps one set of accumulators per token (up to CB_GEMV_MAX), so a decode
 * step reads every weight byte once.  Block formats are dequantised in
 * registers (no activation quantisation: results stay within float
 * rounding of the ref backend's). */
#include "cpu-blas.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline)) TARGET

INLINE float hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

INLINE __m256 load8(const uint8_t *w, int fmt)
{
	switch (fmt) {
	case PB_F16:
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)w));
	case PB_BF16:
		return _mm256_castsi256_ps(_mm256_slli_epi32(
			_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)w)), 16));
	default:
		return _mm256_loadu_ps((const float *)(const void *)w);
	}
}

/* F32, F16 and BF16: 16 elements per step, two accumulators per token. */
INLINE void dot_dense(const uint8_t *w, int64_t n, const float *x, int64_t xs, const int nt,
		      float *out, const int fmt)
{
	const int es = fmt == PB_F32 ? 4 : 2;
	__m256 a[CB_GEMV_MAX][2];
	for (int t = 0; t < nt; t++)
		a[t][0] = a[t][1] = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		const __m256 w0 = load8(w + i * es, fmt), w1 = load8(w + (i + 8) * es, fmt);
		for (int t = 0; t < nt; t++) {
			a[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + t * xs + i), a[t][0]);
			a[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + t * xs + i + 8), a[t][1]);
		}
	}
	for (; i + 8 <= n; i += 8) {
		const __m256 w0 = load8(w + i * es, fmt);
		for (int t = 0; t < nt; t++)
			a[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + t * xs + i), a[t][0]);
	}
	for (int t = 0; t < nt; t++) {
		float r = hsum(_mm256_add_ps(a[t][0], a[t][1]));
		for (int64_t j = i; j < n; j++) {
			uint16_t h;
			float wv;
			if (fmt == PB_F32) {
				memcpy(&wv, w + j * 4, 4);
			} else {
				memcpy(&h, w + j * 2, 2);
				wv = fmt == PB_F16 ? _cvtsh_ss(h) : pb_bf16_to_fp32(h);
			}
			r += wv * x[t * xs + j];
		}
		out[t] = r;
	}
}

INLINE __m256 i8_to_ps(__m128i v)   /* the low 8 int8 of v */
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/* Q8_0 and Q4_0: per block the 32 weights become four vectors of q
 * (integers as floats), q·x is summed per token, then scaled by d once. */
INLINE void dot_block(const uint8_t *w, int64_t n, const float *x, int64_t xs, const int nt,
		      float *out, const int fmt)
{
	const size_t bb = fmt == PB_Q8_0 ? 34 : 18;
	__m256 a[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		a[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, w += bb) {
		const __m256 d = _mm256_set1_ps(half_at(w));
		__m256 q[4];
		if (fmt == PB_Q8_0) {
			const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(w + 2));
			const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
			q[0] = i8_to_ps(lo);
			q[1] = i8_to_ps(_mm_srli_si128(lo, 8));
			q[2] = i8_to_ps(hi);
			q[3] = i8_to_ps(_mm_srli_si128(hi, 8));
		} else {
			const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(w + 2));
			const __m128i m = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
			const __m128i lo = _mm_sub_epi8(_mm_and_si128(b, m), eight);
			const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m), eight);
			q[0] = i8_to_ps(lo);
			q[1] = i8_to_ps(_mm_srli_si128(lo, 8));
			q[2] = i8_to_ps(hi);
			q[3] = i8_to_ps(_mm_srli_si128(hi, 8));
		}
		for (int t = 0; t < nt; t++) {
			const float *xr = x + t * xs + i;
			__m256 s = _mm256_mul_ps(q[0], _mm256_loadu_ps(xr));
			s = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xr + 8), s);
			s = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xr + 16), s);
			s = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xr + 24), s);
			a[t] = _mm256_fmadd_ps(d, s, a[t]);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum(a[t]);
}

/* One exported kernel per format, the token count made a constant so the
 * accumulators stay in registers. */
#define DOT(name, body, fmt)                                                              \
	TARGET static void name(const uint8_t *w, int64_t n, const float *x, int64_t xs,  \
				int nt, float *out)                                       \
	{                                                                                 \
		switch (nt) {                                                             \
		case 1: body(w, n, x, xs, 1, out, fmt); break;                            \
		case 2: body(w, n, x, xs, 2, out, fmt); break;                            \
		case 3: body(w, n, x, xs, 3, out, fmt); break;                            \
		default: body(w, n, x, xs, 4, out, fmt); break;                           \
		}                                                                         \
	}

DOT(dot_f32, dot_dense, PB_F32)
DOT(dot_f16, dot_dense, PB_F16)
DOT(dot_bf16, dot_dense, PB_BF16)
DOT(dot_q8_0, dot_block, PB_Q8_0)
DOT(dot_q4_0, dot_block, PB_Q4_0)

TARGET static void deq_f16(const uint8_t *w, int64_t n, float *y)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, load8(w + 2 * i, PB_F16));
	for (; i < n; i++)
		y[i] = half_at(w + 2 * i);
}

int cb_kernels_avx2(cb_dot_fn *dot, cb_deq_fn *deq)
{
	unsigned a, b, c, d;
	__builtin_cpu_init();
	/* F16C from CPUID leaf 1 (ECX bit 29): not every compiler's
	 * __builtin_cpu_supports knows "f16c" */
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
	    !__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29)))
		return 0;
	dot[PB_F32] = dot_f32;
	dot[PB_F16] = dot_f16;
	dot[PB_BF16] = dot_bf16;
	dot[PB_Q8_0] = dot_q8_0;
	dot[PB_Q4_0] = dot_q4_0;
	deq[PB_F16] = deq_f16;
	cb_kquant_avx2(dot, deq);   /* the k-quants: kernels-avx2-kquant.c */
	return 1;
}

#else

int cb_kernels_avx2(cb_dot_fn *dot, cb_deq_fn *deq)
{
	(void)dot;
	(void)deq;
	return 0;
}

#endif

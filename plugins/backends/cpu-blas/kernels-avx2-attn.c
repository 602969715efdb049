/* plugins/backends/cpu-blas/kernels-avx2-attn.c — the attention kernels
 * (kernels-attn.c says what they compute and how a row uses them) for
 * AVX2+FMA+F16C and for AVX-512 (F, BW, VL: 16 lanes, masked tails),
 * compiled per function for their target and chosen at run time.
 *  - kscores: eight positions at a time, one accumulator each (eight
 *    independent FMA chains, enough to hide the FMA latency on two
 *    pipes), q reloaded from L1; the eight sums come out as one vector
 *    through a transpose of horizontal adds.
 *  - kexp: expf as Cephes does it (n = round(x·log2 e), r = x − n·ln 2 in
 *    two parts, a degree-6 polynomial, 2^n into the exponent), ~1 ulp;
 *    arguments are ≤ 0 here, and below −87.3 (2^n subnormal) the result
 *    is 0, an error < 1.2e-38 next to a sum ≥ 1.  NaNs stay NaN.
 *  - vaccum: the accumulator in strips of up to eight vectors (64 floats
 *    on AVX2, 128 on AVX-512) held in registers over all the chunk's
 *    positions; a strip of ≤ 4 vectors runs two sets of accumulators
 *    (even and odd positions) so that eight FMA chains are in flight.
 *    Strips split a V row into disjoint parts: no row is read twice. */
#include "cpu-blas.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>

#define T_AVX2 "avx2,fma,f16c"
#define T_AVX512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl"
#define INLINE static inline __attribute__((always_inline))
#define AVX2 __attribute__((target(T_AVX2)))
#define AVX512 __attribute__((target(T_AVX512)))

/* Software prefetch, PF_AHEAD positions ahead.  A cache row is the heads
 * of one position side by side (3 KB apart in llama-110m), so a head's
 * rows are a stride no hardware prefetcher follows within a 4 KB page:
 * without this every row is a demand miss.  32 positions (a few hundred
 * cycles of work ahead) cover the memory latency. */
#define PF_AHEAD 32

INLINE void prefetch_row(const void *p, int64_t i, int64_t bytes)
{
	const char *c = (const char *)p + i;
	for (int64_t o = 0; o < bytes; o += 64)
		__builtin_prefetch(c + o, 0, 3);
}

/* ---- AVX2 ---- */

INLINE AVX2 __m256 ld8(const void *p, int64_t i, const int f16)
{
	return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)
						     ((const uint16_t *)p + i)))
		   : _mm256_loadu_ps((const float *)p + i);
}

INLINE AVX2 float ld1(const void *p, int64_t i, const int f16)
{
	return f16 ? _cvtsh_ss(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

INLINE AVX2 float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE AVX2 float hmax8(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* the horizontal sums of a[0..7] as one vector, in order */
INLINE AVX2 __m256 hsum8x8(const __m256 *a)
{
	const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
	const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
	const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
	return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

INLINE AVX2 float kscores8(const float *q, const void *k, int64_t ks, int64_t n, int64_t hd,
			   const int f16, float scale, const float *bias, float *s)
{
	const int64_t hv = hd & ~(int64_t)7;
	const __m256 sc = _mm256_set1_ps(scale);
	__m256 mx = _mm256_set1_ps(-INFINITY);
	int64_t p = 0;
	for (; p + 8 <= n; p += 8) {
		__m256 a[8];
		for (int j = 0; j < 8; j++) {
			a[j] = _mm256_setzero_ps();
			if (p + PF_AHEAD + j < n)
				prefetch_row(k, (p + PF_AHEAD + j) * ks * (f16 ? 2 : 4), hd * (f16 ? 2 : 4));
		}
		for (int64_t i = 0; i < hv; i += 8) {
			const __m256 qv = _mm256_loadu_ps(q + i);
			for (int j = 0; j < 8; j++)
				a[j] = _mm256_fmadd_ps(qv, ld8(k, (p + j) * ks + i, f16), a[j]);
		}
		__m256 d = hsum8x8(a);
		if (hv < hd) {   /* head_dim not a multiple of 8: the rest in scalar */
			float t[8];
			for (int j = 0; j < 8; j++) {
				t[j] = 0;
				for (int64_t i = hv; i < hd; i++)
					t[j] += q[i] * ld1(k, (p + j) * ks + i, f16);
			}
			d = _mm256_add_ps(d, _mm256_loadu_ps(t));
		}
		d = _mm256_mul_ps(d, sc);
		if (bias)
			d = _mm256_add_ps(d, _mm256_loadu_ps(bias + p));
		_mm256_storeu_ps(s + p, d);
		mx = _mm256_max_ps(mx, d);
	}
	float m = hmax8(mx);
	for (; p < n; p++) {
		__m256 a = _mm256_setzero_ps();
		for (int64_t i = 0; i < hv; i += 8)
			a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), ld8(k, p * ks + i, f16), a);
		float d = hsum8(a), t = 0;
		for (int64_t i = hv; i < hd; i++)
			t += q[i] * ld1(k, p * ks + i, f16);
		s[p] = (d + t) * scale + (bias ? bias[p] : 0.0f);
		m = s[p] > m ? s[p] : m;
	}
	return m;
}

AVX2 static float kscores_avx2(const float *q, const void *k, int64_t ks, int64_t n, int64_t hd,
			       int f16, float scale, const float *bias, float *s)
{
	return f16 ? kscores8(q, k, ks, n, hd, 1, scale, bias, s)
		   : kscores8(q, k, ks, n, hd, 0, scale, bias, s);
}

/* e^x for x ≤ 0 (see the file's top) */
INLINE AVX2 __m256 exp8(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-87.33f);
	const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
	x = _mm256_max_ps(lo, x);   /* operand order: a NaN x stays */
	const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
					 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 y = _mm256_set1_ps(1.9875691500e-4f);
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
	y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
							     _mm256_set1_epi32(127)), 23);
	y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
	return _mm256_andnot_ps(under, y);
}

AVX2 static float kexp_avx2(float *s, int64_t n, float m)
{
	const __m256 mv = _mm256_set1_ps(m);
	__m256 sum = _mm256_setzero_ps();
	int64_t p = 0;
	for (; p + 8 <= n; p += 8) {
		const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), mv));
		_mm256_storeu_ps(s + p, e);
		sum = _mm256_add_ps(sum, e);
	}
	if (p < n) {   /* the tail padded with −inf, whose exp is 0 */
		float t[8];
		for (int j = 0; j < 8; j++)
			t[j] = p + j < n ? s[p + j] : -INFINITY;
		const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(t), mv));
		_mm256_storeu_ps(t, e);
		sum = _mm256_add_ps(sum, e);
		for (int j = 0; p + j < n; j++)
			s[p + j] = t[j];
	}
	return hsum8(sum);
}

/* nv vectors of the accumulator from acc over n positions */
INLINE AVX2 void vstrip8(float *acc, float corr, const float *e, const void *v, int64_t vs,
			 int64_t n, const int nv, const int f16)
{
	__m256 a[8], b[8];
	const __m256 c = _mm256_set1_ps(corr);
	for (int j = 0; j < nv; j++) {
		a[j] = corr != 0.0f ? _mm256_mul_ps(c, _mm256_loadu_ps(acc + 8 * j)) : _mm256_setzero_ps();
		b[j] = _mm256_setzero_ps();
	}
	int64_t p = 0;
	if (nv <= 4) {
		for (; p + 2 <= n; p += 2) {
			if (p + PF_AHEAD + 1 < n) {
				prefetch_row(v, (p + PF_AHEAD) * vs * (f16 ? 2 : 4), 8 * nv * (f16 ? 2 : 4));
				prefetch_row(v, (p + PF_AHEAD + 1) * vs * (f16 ? 2 : 4), 8 * nv * (f16 ? 2 : 4));
			}
			const __m256 e0 = _mm256_broadcast_ss(e + p), e1 = _mm256_broadcast_ss(e + p + 1);
			for (int j = 0; j < nv; j++) {
				a[j] = _mm256_fmadd_ps(e0, ld8(v, p * vs + 8 * j, f16), a[j]);
				b[j] = _mm256_fmadd_ps(e1, ld8(v, (p + 1) * vs + 8 * j, f16), b[j]);
			}
		}
		for (int j = 0; j < nv; j++)
			a[j] = _mm256_add_ps(a[j], b[j]);
	}
	for (; p < n; p++) {
		if (p + PF_AHEAD < n)
			prefetch_row(v, (p + PF_AHEAD) * vs * (f16 ? 2 : 4), 8 * nv * (f16 ? 2 : 4));
		const __m256 e0 = _mm256_broadcast_ss(e + p);
		for (int j = 0; j < nv; j++)
			a[j] = _mm256_fmadd_ps(e0, ld8(v, p * vs + 8 * j, f16), a[j]);
	}
	for (int j = 0; j < nv; j++)
		_mm256_storeu_ps(acc + 8 * j, a[j]);
}

INLINE AVX2 void vaccum8(float *acc, float corr, const float *e, const void *v, int64_t vs,
			 int64_t n, int64_t hd, const int f16)
{
	const size_t es = f16 ? 2 : 4;
	int64_t i0 = 0;
	while (hd - i0 >= 8) {
		const int64_t nv = (hd - i0) / 8 < 8 ? (hd - i0) / 8 : 8;
		const void *vi = (const uint8_t *)v + i0 * es;
		switch (nv) {
		case 1: vstrip8(acc + i0, corr, e, vi, vs, n, 1, f16); break;
		case 2: vstrip8(acc + i0, corr, e, vi, vs, n, 2, f16); break;
		case 3: vstrip8(acc + i0, corr, e, vi, vs, n, 3, f16); break;
		case 4: vstrip8(acc + i0, corr, e, vi, vs, n, 4, f16); break;
		case 5: vstrip8(acc + i0, corr, e, vi, vs, n, 5, f16); break;
		case 6: vstrip8(acc + i0, corr, e, vi, vs, n, 6, f16); break;
		case 7: vstrip8(acc + i0, corr, e, vi, vs, n, 7, f16); break;
		default: vstrip8(acc + i0, corr, e, vi, vs, n, 8, f16); break;
		}
		i0 += 8 * nv;
	}
	for (; i0 < hd; i0++) {   /* head_dim not a multiple of 8 */
		float a = corr != 0.0f ? corr * acc[i0] : 0.0f;
		for (int64_t p = 0; p < n; p++)
			a += e[p] * ld1(v, p * vs + i0, f16);
		acc[i0] = a;
	}
}

AVX2 static void vaccum_avx2(float *acc, float corr, const float *e, const void *v, int64_t vs,
			     int64_t n, int64_t hd, int f16)
{
	if (f16)
		vaccum8(acc, corr, e, v, vs, n, hd, 1);
	else
		vaccum8(acc, corr, e, v, vs, n, hd, 0);
}

static int have_avx2(void)
{
	unsigned a, b, c, d;
	__builtin_cpu_init();
	/* F16C from CPUID leaf 1 (ECX bit 29): not every compiler's
	 * __builtin_cpu_supports knows "f16c" */
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	       __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

int cb_attn_avx2(struct cb_kernels *k)
{
	if (!have_avx2())
		return 0;
	k->kscores = kscores_avx2;
	k->kexp = kexp_avx2;
	k->vaccum = vaccum_avx2;
	k->attn_isa = "avx2";
	return 1;
}

/* ---- AVX-512: the same with 16 lanes; a partial vector is a masked one ---- */

INLINE AVX512 __mmask16 lanes(int64_t left)
{
	return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

INLINE AVX512 __m512 ld16(const void *p, int64_t i, __mmask16 m, const int f16)
{
	return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i))
		   : _mm512_maskz_loadu_ps(m, (const float *)p + i);
}

INLINE AVX512 float kscores16(const float *q, const void *k, int64_t ks, int64_t n, int64_t hd,
			      const int f16, float scale, const float *bias, float *s)
{
	const __m256 sc = _mm256_set1_ps(scale);
	__m256 mx = _mm256_set1_ps(-INFINITY);
	int64_t p = 0;
	for (; p + 8 <= n; p += 8) {
		__m512 a[8];
		for (int j = 0; j < 8; j++) {
			a[j] = _mm512_setzero_ps();
			if (p + PF_AHEAD + j < n)
				prefetch_row(k, (p + PF_AHEAD + j) * ks * (f16 ? 2 : 4), hd * (f16 ? 2 : 4));
		}
		for (int64_t i = 0; i < hd; i += 16) {
			const __mmask16 mk = lanes(hd - i);
			const __m512 qv = _mm512_maskz_loadu_ps(mk, q + i);
			for (int j = 0; j < 8; j++)
				a[j] = _mm512_fmadd_ps(qv, ld16(k, (p + j) * ks + i, mk, f16), a[j]);
		}
		__m256 h[8];
		for (int j = 0; j < 8; j++)
			h[j] = _mm256_add_ps(_mm512_castps512_ps256(a[j]),
					     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[j]), 1)));
		__m256 d = _mm256_mul_ps(hsum8x8(h), sc);
		if (bias)
			d = _mm256_add_ps(d, _mm256_loadu_ps(bias + p));
		_mm256_storeu_ps(s + p, d);
		mx = _mm256_max_ps(mx, d);
	}
	float m = hmax8(mx);
	for (; p < n; p++) {
		__m512 a = _mm512_setzero_ps();
		for (int64_t i = 0; i < hd; i += 16) {
			const __mmask16 mk = lanes(hd - i);
			a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, q + i), ld16(k, p * ks + i, mk, f16), a);
		}
		s[p] = _mm512_reduce_add_ps(a) * scale + (bias ? bias[p] : 0.0f);
		m = s[p] > m ? s[p] : m;
	}
	return m;
}

AVX512 static float kscores_avx512(const float *q, const void *k, int64_t ks, int64_t n,
				   int64_t hd, int f16, float scale, const float *bias, float *s)
{
	return f16 ? kscores16(q, k, ks, n, hd, 1, scale, bias, s)
		   : kscores16(q, k, ks, n, hd, 0, scale, bias, s);
}

INLINE AVX512 __m512 exp16(__m512 x)
{
	const __m512 lo = _mm512_set1_ps(-87.33f);
	const __mmask16 ok = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);   /* ≥ −87.33, or NaN */
	x = _mm512_max_ps(lo, x);
	const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
					      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 y = _mm512_set1_ps(1.9875691500e-4f);
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
	y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
	y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n),
							     _mm512_set1_epi32(127)), 23);
	return _mm512_maskz_mul_ps(ok, y, _mm512_castsi512_ps(e));
}

AVX512 static float kexp_avx512(float *s, int64_t n, float m)
{
	const __m512 mv = _mm512_set1_ps(m);
	__m512 sum = _mm512_setzero_ps();
	for (int64_t p = 0; p < n; p += 16) {
		const __mmask16 mk = lanes(n - p);
		const __m512 e = _mm512_maskz_mov_ps(mk, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, s + p), mv)));
		_mm512_mask_storeu_ps(s + p, mk, e);
		sum = _mm512_add_ps(sum, e);
	}
	return _mm512_reduce_add_ps(sum);
}

/* nv vectors (the last one `last` lanes wide) of the accumulator */
INLINE AVX512 void vstrip16(float *acc, float corr, const float *e, const void *v, int64_t vs,
			    int64_t n, const int nv, __mmask16 last, const int f16)
{
	__m512 a[8], b[8];
	__mmask16 mk[8];
	const __m512 c = _mm512_set1_ps(corr);
	for (int j = 0; j < nv; j++) {
		mk[j] = j == nv - 1 ? last : (__mmask16)0xffff;
		a[j] = corr != 0.0f ? _mm512_mul_ps(c, _mm512_maskz_loadu_ps(mk[j], acc + 16 * j))
				    : _mm512_setzero_ps();
		b[j] = _mm512_setzero_ps();
	}
	int64_t p = 0;
	if (nv <= 4) {
		for (; p + 2 <= n; p += 2) {
			if (p + PF_AHEAD + 1 < n) {
				prefetch_row(v, (p + PF_AHEAD) * vs * (f16 ? 2 : 4), 16 * nv * (f16 ? 2 : 4));
				prefetch_row(v, (p + PF_AHEAD + 1) * vs * (f16 ? 2 : 4), 16 * nv * (f16 ? 2 : 4));
			}
			const __m512 e0 = _mm512_set1_ps(e[p]), e1 = _mm512_set1_ps(e[p + 1]);
			for (int j = 0; j < nv; j++) {
				a[j] = _mm512_fmadd_ps(e0, ld16(v, p * vs + 16 * j, mk[j], f16), a[j]);
				b[j] = _mm512_fmadd_ps(e1, ld16(v, (p + 1) * vs + 16 * j, mk[j], f16), b[j]);
			}
		}
		for (int j = 0; j < nv; j++)
			a[j] = _mm512_add_ps(a[j], b[j]);
	}
	for (; p < n; p++) {
		if (p + PF_AHEAD < n)
			prefetch_row(v, (p + PF_AHEAD) * vs * (f16 ? 2 : 4), 16 * nv * (f16 ? 2 : 4));
		const __m512 e0 = _mm512_set1_ps(e[p]);
		for (int j = 0; j < nv; j++)
			a[j] = _mm512_fmadd_ps(e0, ld16(v, p * vs + 16 * j, mk[j], f16), a[j]);
	}
	for (int j = 0; j < nv; j++)
		_mm512_mask_storeu_ps(acc + 16 * j, mk[j], a[j]);
}

INLINE AVX512 void vaccum16(float *acc, float corr, const float *e, const void *v, int64_t vs,
			    int64_t n, int64_t hd, const int f16)
{
	const size_t es = f16 ? 2 : 4;
	for (int64_t i0 = 0; i0 < hd;) {
		const int64_t left = hd - i0, nv = left >= 128 ? 8 : (left + 15) / 16;
		const __mmask16 last = lanes(left - 16 * (nv - 1));
		const void *vi = (const uint8_t *)v + i0 * es;
		switch (nv) {
		case 1: vstrip16(acc + i0, corr, e, vi, vs, n, 1, last, f16); break;
		case 2: vstrip16(acc + i0, corr, e, vi, vs, n, 2, last, f16); break;
		case 3: vstrip16(acc + i0, corr, e, vi, vs, n, 3, last, f16); break;
		case 4: vstrip16(acc + i0, corr, e, vi, vs, n, 4, last, f16); break;
		case 5: vstrip16(acc + i0, corr, e, vi, vs, n, 5, last, f16); break;
		case 6: vstrip16(acc + i0, corr, e, vi, vs, n, 6, last, f16); break;
		case 7: vstrip16(acc + i0, corr, e, vi, vs, n, 7, last, f16); break;
		default: vstrip16(acc + i0, corr, e, vi, vs, n, 8, last, f16); break;
		}
		i0 += 16 * nv;
	}
}

AVX512 static void vaccum_avx512(float *acc, float corr, const float *e, const void *v,
				 int64_t vs, int64_t n, int64_t hd, int f16)
{
	if (f16)
		vaccum16(acc, corr, e, v, vs, n, hd, 1);
	else
		vaccum16(acc, corr, e, v, vs, n, hd, 0);
}

int cb_attn_avx512(struct cb_kernels *k)
{
	if (!have_avx2() || !__builtin_cpu_supports("avx512f") ||
	    !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl"))
		return 0;
	k->kscores = kscores_avx512;
	k->kexp = kexp_avx512;
	k->vaccum = vaccum_avx512;
	k->attn_isa = "avx512";
	return 1;
}

#else

int cb_attn_avx2(struct cb_kernels *k)
{
	(void)k;
	return 0;
}

int cb_attn_avx512(struct cb_kernels *k)
{
	(void)k;
	return 0;
}

#endif

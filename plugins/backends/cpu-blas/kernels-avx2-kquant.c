/* plugins/backends/cpu-blas/kernels-avx2-kquant.c — x86 SIMD kernels for
 * the k-quants (Q2_K … Q6_K), chosen at run time like the rest
 * (__builtin_cpu_supports; the build stays generic):
 *  - the integer decode kernels, from kernels-avx2-kquant-body.h, in an
 *    AVX2 flavour (vpmaddubsw, vpmaddwd) and an AVX-512 VNNI one (the
 *    scale multiply-add fused into vpdpwssd, on 256-bit vectors);
 *  - the activation quantiser (256 floats → int8, d, sums of 16), the
 *    same numbers as the portable one bit for bit;
 *  - row dequantisation for the prefill tiles: the products rounded
 *    before the subtraction of the min, as the portable code (no FMA)
 *    does, so a tile equals the portable one bit for bit;
 *  - the float GEMV (`int8_act: false`) through a dequantised super-block.
 * kernels-kquant.c holds the portable versions and the arithmetic. */
#include "cpu-blas.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#include "kquant.h"

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

INLINE __attribute__((target(T_AVX2))) float hsum4(__m128 s)
{
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

/* vpshufb controls over a vector holding 8 int16 in each 128-bit lane:
 * shuf_elem[k] repeats element k in every 16-bit slot of both lanes;
 * shuf_pair[j] repeats element 2j in the low lane and 2j + 1 in the high
 * one (a 32-byte run of weights spans two sub-blocks of 16). */
#define E2(a) a, a + 1
#define E16(a) E2(a), E2(a), E2(a), E2(a), E2(a), E2(a), E2(a), E2(a)
static const uint8_t shuf_elem[8][32] __attribute__((aligned(32))) = {
	{ E16(0), E16(0) }, { E16(2), E16(2) }, { E16(4), E16(4) }, { E16(6), E16(6) },
	{ E16(8), E16(8) }, { E16(10), E16(10) }, { E16(12), E16(12) }, { E16(14), E16(14) },
};
static const uint8_t shuf_pair[4][32] __attribute__((aligned(32))) = {
	{ E16(0), E16(2) }, { E16(4), E16(6) }, { E16(8), E16(10) }, { E16(12), E16(14) },
};
#undef E16
#undef E2

#define KQ_TGT T_AVX2
#define KQ_SFX avx2
#define KQ_MADDS(a, p, s) _mm256_add_epi32((a), _mm256_madd_epi16((p), (s)))
#include "kernels-avx2-kquant-body.h"
#undef KQ_TGT
#undef KQ_SFX
#undef KQ_MADDS

#define KQ_TGT T_VNNI
#define KQ_SFX vnni
#define KQ_MADDS(a, p, s) _mm256_dpwssd_epi32((a), (p), (s))
#include "kernels-avx2-kquant-body.h"
#undef KQ_TGT
#undef KQ_SFX
#undef KQ_MADDS

/* ---- the activations: see quantize_k in kernels-kquant.c */

__attribute__((target(T_AVX2))) static void quantize_k_avx2(const float *x, int64_t n, int8_t *q,
							     float *d, int16_t *bsum)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	for (int64_t b = 0; b < n / KQ_N; b++, x += KQ_N, q += KQ_N, bsum += 16) {
		__m256 mx = _mm256_setzero_ps();
		for (int i = 0; i < KQ_N; i += 8)
			mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
		__m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
		m = _mm_max_ps(m, _mm_movehl_ps(m, m));
		m = _mm_max_ss(m, _mm_movehdup_ps(m));
		const float amax = _mm_cvtss_f32(m);
		const __m256 id = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
		for (int i = 0; i < KQ_N; i += 32) {
			/* round to nearest even (MXCSR's default), as round_even */
			const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), id));
			const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), id));
			const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), id));
			const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), id));
			/* the packs work per 128-bit lane: put the dwords back in order */
			const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1),
							     _mm256_packs_epi32(i2, i3));
			_mm256_storeu_si256((__m256i *)(void *)(q + i), _mm256_permutevar8x32_epi32(p, order));
		}
		d[b] = amax / 127.0f;
		for (int j = 0; j < 16; j++) {
			int s = 0;
			for (int l = 0; l < 16; l++)
				s += q[16 * j + l];
			bsum[j] = (int16_t)s;
		}
	}
}

/* ---- dequantisation */

/* The product stays rounded on its own: without this, the compiler may
 * fuse it with the subtraction into one FMA and round once, unlike the
 * portable code. */
#define KEEP(v) __asm__("" : "+x"(v))

/* y[0..15] = dl·v − ml for 16 int8 v (ml = 0: no subtraction) */
INLINE __attribute__((target(T_AVX2))) void deq16(__m128i v, float dl, float ml, int with_min,
						  float *y)
{
	const __m256 d = _mm256_set1_ps(dl);
	__m256 a = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)));
	__m256 b = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8))));
	if (with_min) {
		const __m256 m = _mm256_set1_ps(ml);
		KEEP(a);
		KEEP(b);
		a = _mm256_sub_ps(a, m);
		b = _mm256_sub_ps(b, m);
	}
	_mm256_storeu_ps(y, a);
	_mm256_storeu_ps(y + 8, b);
}

#define LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define LO(v) _mm256_castsi256_si128(v)
#define HI(v) _mm256_extracti128_si256((v), 1)

__attribute__((target(T_AVX2))) static void deq_q2_k(const uint8_t *w, int64_t n, float *y)
{
	const __m256i m3 = _mm256_set1_epi8(3);
	for (int64_t b = 0; b < n / KQ_N; b++, w += 84) {
		const float d = half_at(w + Q2K_D), dmin = half_at(w + Q2K_DMIN);
		const uint8_t *sc = w + Q2K_SCALES;
		for (int h = 0; h < 2; h++) {
			__m256i q2 = LOAD(w + Q2K_QS + 32 * h);
			for (int j = 0; j < 4; j++, q2 = _mm256_srli_epi16(q2, 2), y += 32) {
				const __m256i u = _mm256_and_si256(q2, m3);
				const uint8_t s0 = sc[8 * h + 2 * j], s1 = sc[8 * h + 2 * j + 1];
				deq16(LO(u), d * (float)(s0 & 15), dmin * (float)(s0 >> 4), 1, y);
				deq16(HI(u), d * (float)(s1 & 15), dmin * (float)(s1 >> 4), 1, y + 16);
			}
		}
	}
}

__attribute__((target(T_AVX2))) static void deq_q3_k(const uint8_t *w, int64_t n, float *y)
{
	const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
	for (int64_t b = 0; b < n / KQ_N; b++, w += 110) {
		const float d = half_at(w + Q3K_D);
		const __m256i hm = LOAD(w + Q3K_HMASK);
		int8_t sc[16];
		kq_scales_q3(w + Q3K_SCALES, sc);
		for (int h = 0; h < 2; h++) {
			__m256i q2 = LOAD(w + Q3K_QS + 32 * h);
			__m256i hb = h ? _mm256_srli_epi16(hm, 4) : hm;
			for (int j = 0; j < 4; j++, y += 32) {
				const __m256i u = _mm256_or_si256(_mm256_and_si256(q2, m3),
								  _mm256_slli_epi16(_mm256_and_si256(hb, one), 2));
				const __m256i v = _mm256_sub_epi8(u, four);
				deq16(LO(v), d * (float)sc[8 * h + 2 * j], 0, 0, y);
				deq16(HI(v), d * (float)sc[8 * h + 2 * j + 1], 0, 0, y + 16);
				q2 = _mm256_srli_epi16(q2, 2);
				hb = _mm256_srli_epi16(hb, 1);
			}
		}
	}
}

INLINE __attribute__((target(T_AVX2))) void deq_q45_k(const uint8_t *w, int64_t n, float *y,
						      const int five)
{
	const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
	const size_t bytes = five ? 176 : 144;
	for (int64_t b = 0; b < n / KQ_N; b++, w += bytes) {
		const float d = half_at(w), dmin = half_at(w + 2);
		const uint8_t *qs = w + (five ? Q5K_QS : Q4K_QS);
		__m256i hb = five ? LOAD(w + Q5K_QH) : _mm256_setzero_si256();
		uint8_t sm[16];
		kq_scale_min_k4(w + Q4K_SCALES, sm);
		for (int j = 0; j < 4; j++, y += 64) {
			const __m256i raw = LOAD(qs + 32 * j);
			__m256i lo = _mm256_and_si256(raw, m4);
			__m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
			if (five) {
				lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
				hi = _mm256_or_si256(hi, _mm256_slli_epi16(
					_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
				hb = _mm256_srli_epi16(hb, 2);
			}
			const float d1 = d * (float)sm[2 * j], m1 = dmin * (float)sm[8 + 2 * j];
			const float d2 = d * (float)sm[2 * j + 1], m2 = dmin * (float)sm[8 + 2 * j + 1];
			deq16(LO(lo), d1, m1, 1, y);
			deq16(HI(lo), d1, m1, 1, y + 16);
			deq16(LO(hi), d2, m2, 1, y + 32);
			deq16(HI(hi), d2, m2, 1, y + 48);
		}
	}
}

__attribute__((target(T_AVX2))) static void deq_q4_k(const uint8_t *w, int64_t n, float *y)
{
	deq_q45_k(w, n, y, 0);
}

__attribute__((target(T_AVX2))) static void deq_q5_k(const uint8_t *w, int64_t n, float *y)
{
	deq_q45_k(w, n, y, 1);
}

__attribute__((target(T_AVX2))) static void deq_q6_k(const uint8_t *w, int64_t n, float *y)
{
	const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
	const __m256i mc = _mm256_set1_epi8(0x0c), m30 = _mm256_set1_epi8(0x30);
	const __m256i mc0 = _mm256_set1_epi8((char)0xc0), off = _mm256_set1_epi8(32);
	for (int64_t b = 0; b < n / KQ_N; b++, w += 210) {
		const float d = half_at(w + Q6K_D);
		const int8_t *sc = (const int8_t *)(w + Q6K_SCALES);
		for (int h = 0; h < 2; h++) {
			const __m256i ql0 = LOAD(w + Q6K_QL + 64 * h), ql1 = LOAD(w + Q6K_QL + 64 * h + 32);
			const __m256i qh = LOAD(w + Q6K_QH + 32 * h);
			__m256i u[4];
			u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
					       _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
			u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
					       _mm256_slli_epi16(_mm256_and_si256(qh, mc), 2));
			u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
					       _mm256_and_si256(qh, m30));
			u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
					       _mm256_srli_epi16(_mm256_and_si256(qh, mc0), 2));
			for (int k = 0; k < 4; k++, y += 32) {
				const __m256i v = _mm256_sub_epi8(u[k], off);
				const int s = 8 * h + 2 * k;
				deq16(LO(v), d * (float)sc[s], 0, 0, y);
				deq16(HI(v), d * (float)sc[s + 1], 0, 0, y + 16);
			}
		}
	}
}

#undef HI
#undef LO
#undef LOAD

/* ---- float GEMV through a dequantised super-block (int8_act false) */

INLINE __attribute__((target(T_AVX2))) void dot_via(cb_deq_fn deq, size_t bytes,
						    const uint8_t *w, int64_t n, const float *x,
						    int64_t xs, const int nt, float *out)
{
	float tmp[KQ_N] __attribute__((aligned(32)));
	__m256 a[CB_GEMV_MAX][2];
	for (int t = 0; t < nt; t++)
		a[t][0] = a[t][1] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += KQ_N, w += bytes) {
		deq(w, KQ_N, tmp);
		for (int j = 0; j < KQ_N; j += 16) {
			const __m256 w0 = _mm256_load_ps(tmp + j), w1 = _mm256_load_ps(tmp + j + 8);
			for (int t = 0; t < nt; t++) {
				const float *xr = x + t * xs + i + j;
				a[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), a[t][0]);
				a[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), a[t][1]);
			}
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum8(_mm256_add_ps(a[t][0], a[t][1]));
}

#define DOT(fmt, bytes)                                                                          \
	__attribute__((target(T_AVX2))) static void dot_##fmt(const uint8_t *w, int64_t n,       \
							      const float *x, int64_t xs,        \
							      int nt, float *out)                \
	{                                                                                        \
		switch (nt) {                                                                    \
		case 1: dot_via(deq_##fmt, bytes, w, n, x, xs, 1, out); break;                   \
		case 2: dot_via(deq_##fmt, bytes, w, n, x, xs, 2, out); break;                   \
		case 3: dot_via(deq_##fmt, bytes, w, n, x, xs, 3, out); break;                   \
		default: dot_via(deq_##fmt, bytes, w, n, x, xs, 4, out); break;                  \
		}                                                                                \
	}

DOT(q2_k, 84)
DOT(q3_k, 110)
DOT(q4_k, 144)
DOT(q5_k, 176)
DOT(q6_k, 210)

/* ---- what the CPU runs */

static int have_avx2(void)
{
	unsigned a, b, c, d;
	__builtin_cpu_init();
	/* F16C from CPUID leaf 1 (ECX bit 29), as kernels-avx2.c checks it */
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	       __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

int cb_kquant_avx2(cb_dot_fn *dot, cb_deq_fn *deq)
{
	if (!have_avx2())
		return 0;
	dot[PB_Q2_K] = dot_q2_k;
	dot[PB_Q3_K] = dot_q3_k;
	dot[PB_Q4_K] = dot_q4_k;
	dot[PB_Q5_K] = dot_q5_k;
	dot[PB_Q6_K] = dot_q6_k;
	deq[PB_Q2_K] = deq_q2_k;
	deq[PB_Q3_K] = deq_q3_k;
	deq[PB_Q4_K] = deq_q4_k;
	deq[PB_Q5_K] = deq_q5_k;
	deq[PB_Q6_K] = deq_q6_k;
	return 1;
}

int cb_kquant_avx2_ext(struct cb_kernels *k, enum cb_simd level)
{
	if (!have_avx2())
		return 0;
	if (level == CB_SIMD_VNNI) {
		if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512vl"))
			return 0;
		install_vnni(k);
	} else if (level == CB_SIMD_AVX2) {
		install_avx2(k);
	} else {
		return 0;
	}
	k->quant_k = quantize_k_avx2;
	return 1;
}

#else

int cb_kquant_avx2(cb_dot_fn *dot, cb_deq_fn *deq)
{
	(void)dot;
	(void)deq;
	return 0;
}

int cb_kquant_avx2_ext(struct cb_kernels *k, enum cb_simd level)
{
	(void)k;
	(void)level;
	return 0;
}

#endif

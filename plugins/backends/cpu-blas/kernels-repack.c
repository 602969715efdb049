/* plugins/backends/cpu-blas/kernels-repack.c — the integer kernels on
 * repacked Q8_0 / Q4_0 weights (layout in repack.c): one call computes a
 * group of CB_RGROUP = 16 rows against up to CB_RTOK tokens, for decode
 * (1 … 4 tokens) and for the int8 prefill GEMM (tiles of 8 tokens).
 *
 * Why this is faster than a row at a time (kernels-avx2-int.c): there,
 * every 32-element block costs a scalar F16→F32 scale conversion, a scale
 * product, a broadcast and a horizontal sum per row, and that scalar work,
 * not memory, set the decode speed.  Here the 16 rows' int32 block sums
 * sit in the 16 lanes of one vector (lane r = row r, four bytes of
 * elements per lane and instruction), so per block and group there is one
 * vcvtph2ps for the 16 scales, one multiply by the token's scale and one
 * FMA, and no horizontal sum at all.
 *
 * The activation is the signed operand of vpdpbusd, broadcast four bytes
 * at a time; the weights must be the unsigned one: Q4_0 nibbles (0 … 15)
 * are, Q8_0 quants are stored biased (q + 128, repack.c).  The offsets
 * (−8·Σx_q, −128·Σx_q per block) start the block's int32 accumulator, so
 * the block sum is the exact integer Σ w·x_q.  AVX2 has no vpdpbusd:
 * vpmaddubsw + vpmaddwd per 8-row half, Q8_0 unbiased again and through
 * the sign trick (|w|·(x·sign w) cannot saturate 16 bits).  Both levels
 * then do the same float operations per block — y = fma(float(sum),
 * d_w·d_x, y) — so they are bit-identical to each other; they differ from
 * the row kernels only by float rounding (tests/cpu-blas/test-repack.c).
 *
 * The file also holds the SIMD versions of cb_quantize_x, which quantise
 * the activations these kernels (and the row kernels) read. */
#include "cpu-blas.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#define T_AVX2 "avx2,fma,f16c"
#define T_VNNI "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"

#define INLINE static inline __attribute__((always_inline))

static inline int32_t x4(const int8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Q4_0 quant bytes per row and block: 16; Q8_0: 32 (the layout's QB). */
#define QB4 16
#define QB8 32
/* software prefetch distance of the weight stream: 4096 bytes (T0) beat
 * 2048, 8192 and 16384, T1 and NTA in alternated runs over a 64 MB
 * Q4_0 / Q8_0 matrix (0.66 / 0.82 of a streaming read vs 0.58 / 0.72) */
#define PF_BYTES 4096

/* AVX-512 VNNI: 16 rows in one zmm, nt ≤ CB_RTOK tokens. */
INLINE __attribute__((target(T_VNNI))) void vnni_body(const uint8_t *g, int64_t n,
						      const struct cb_xq *x, int t0, const int nt,
						      float *y, int64_t ys, const int q8)
{
	const int64_t nb = n / 32, xb = x->n / 32;
	const int qb = q8 ? QB8 : QB4;
	const uint8_t *sc = g, *qp = g + nb * 32;
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	/* few tokens: two int32 chains per token (exact integers, so the sum
	 * is the same), or the dpbusd latency of one chain sets the pace */
	const int split = nt <= 2;
	const int8_t *xq[CB_RTOK];
	const float *xd[CB_RTOK];
	const int32_t *xs[CB_RTOK];
	__m512 f[CB_RTOK];
	#pragma GCC unroll 8
	for (int t = 0; t < nt; t++) {
		xq[t] = x->q + (t0 + t) * x->n;
		xd[t] = x->d + (t0 + t) * xb;
		xs[t] = x->qsum + (t0 + t) * xb;
		f[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++, qp += CB_RGROUP * qb) {
		/* decode streams the weights once: ask for them PF_BYTES ahead
		 * (the hardware prefetcher alone reached ~40 % of the read
		 * bandwidth on this layout) */
		#pragma GCC unroll 8
		for (int k = 0; k < qb / 4; k++)
			_mm_prefetch((const char *)qp + PF_BYTES + 64 * k, _MM_HINT_T0);
		const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)
								      (sc + 32 * b)));
		__m512i a[CB_RTOK], c[CB_RTOK];
		#pragma GCC unroll 8
		for (int t = 0; t < nt; t++) {
			a[t] = _mm512_set1_epi32(-(q8 ? 128 : 8) * xs[t][b]);
			c[t] = _mm512_setzero_si512();
		}
		if (q8) {
			#pragma GCC unroll 8
			for (int k = 0; k < 8; k++) {
				const __m512i v = _mm512_loadu_si512(qp + 64 * k);
				#pragma GCC unroll 8
				for (int t = 0; t < nt; t++)
					if (split && k % 2)
						c[t] = _mm512_dpbusd_epi32(c[t], v,
									   _mm512_set1_epi32(x4(xq[t] + 32 * b + 4 * k)));
					else
						a[t] = _mm512_dpbusd_epi32(a[t], v,
									   _mm512_set1_epi32(x4(xq[t] + 32 * b + 4 * k)));
			}
		} else {
			#pragma GCC unroll 8
			for (int k = 0; k < 4; k++) {
				const __m512i v = _mm512_loadu_si512(qp + 64 * k);
				const __m512i lo = _mm512_and_si512(v, m4);
				const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
				#pragma GCC unroll 8
				for (int t = 0; t < nt; t++) {
					const int8_t *xp = xq[t] + 32 * b + 4 * k;
					a[t] = _mm512_dpbusd_epi32(a[t], lo, _mm512_set1_epi32(x4(xp)));
					if (split)
						c[t] = _mm512_dpbusd_epi32(c[t], hi, _mm512_set1_epi32(x4(xp + 16)));
					else
						a[t] = _mm512_dpbusd_epi32(a[t], hi, _mm512_set1_epi32(x4(xp + 16)));
				}
			}
		}
		#pragma GCC unroll 8
		for (int t = 0; t < nt; t++)
			f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(split ? _mm512_add_epi32(a[t], c[t]) : a[t]),
					       _mm512_mul_ps(dw, _mm512_set1_ps(xd[t][b])), f[t]);
	}
	#pragma GCC unroll 8
	for (int t = 0; t < nt; t++)
		_mm512_storeu_ps(y + t * ys, f[t]);
}

/* AVX2: rows 8h … 8h + 7 of the group (the h-th half of each 64-byte
 * vector), nt ≤ 4 tokens (16 ymm registers). */
INLINE __attribute__((target(T_AVX2))) void avx2_body(const uint8_t *g, int64_t n,
						      const struct cb_xq *x, int t0, const int nt,
						      float *y, int64_t ys, const int q8, const int h)
{
	const int64_t nb = n / 32, xb = x->n / 32;
	const int qb = q8 ? QB8 : QB4;
	const uint8_t *sc = g + 16 * h, *qp = g + nb * 32 + 32 * h;
	const __m256i m4 = _mm256_set1_epi8(0x0f), bias = _mm256_set1_epi8((char)0x80);
	const __m256i ones = _mm256_set1_epi16(1);
	const int8_t *xq[4];
	const float *xd[4];
	const int32_t *xs[4];
	__m256 f[4];
	#pragma GCC unroll 8
	for (int t = 0; t < nt; t++) {
		xq[t] = x->q + (t0 + t) * x->n;
		xd[t] = x->d + (t0 + t) * xb;
		xs[t] = x->qsum + (t0 + t) * xb;
		f[t] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++, qp += CB_RGROUP * qb) {
		const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)
								  (sc + 32 * b)));
		__m256i a[4];
		if (q8) {
			#pragma GCC unroll 8
			for (int t = 0; t < nt; t++)
				a[t] = _mm256_setzero_si256();
			#pragma GCC unroll 8
			for (int k = 0; k < 8; k++) {
				const __m256i w = _mm256_xor_si256(
					_mm256_loadu_si256((const __m256i *)(const void *)(qp + 64 * k)), bias);
				const __m256i aw = _mm256_sign_epi8(w, w);
				#pragma GCC unroll 8
				for (int t = 0; t < nt; t++) {
					const __m256i xv = _mm256_set1_epi32(x4(xq[t] + 32 * b + 4 * k));
					a[t] = _mm256_add_epi32(a[t], _mm256_madd_epi16(_mm256_maddubs_epi16(
								aw, _mm256_sign_epi8(xv, w)), ones));
				}
			}
		} else {
			/* int16 sums over the block's four vectors, widened once:
			 * each maddubs lane ≤ 2·15·127, the block's ≤ 30480 */
			__m256i p[4];
			#pragma GCC unroll 8
			for (int t = 0; t < nt; t++)
				p[t] = _mm256_setzero_si256();
			#pragma GCC unroll 8
			for (int k = 0; k < 4; k++) {
				const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(qp + 64 * k));
				const __m256i lo = _mm256_and_si256(v, m4);
				const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
				#pragma GCC unroll 8
				for (int t = 0; t < nt; t++) {
					const int8_t *xp = xq[t] + 32 * b + 4 * k;
					p[t] = _mm256_add_epi16(p[t], _mm256_add_epi16(
						_mm256_maddubs_epi16(lo, _mm256_set1_epi32(x4(xp))),
						_mm256_maddubs_epi16(hi, _mm256_set1_epi32(x4(xp + 16)))));
				}
			}
			#pragma GCC unroll 8
			for (int t = 0; t < nt; t++)
				a[t] = _mm256_add_epi32(_mm256_set1_epi32(-8 * xs[t][b]),
							_mm256_madd_epi16(p[t], ones));
		}
		#pragma GCC unroll 8
		for (int t = 0; t < nt; t++)
			f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[t]),
					       _mm256_mul_ps(dw, _mm256_set1_ps(xd[t][b])), f[t]);
	}
	#pragma GCC unroll 8
	for (int t = 0; t < nt; t++)
		_mm256_storeu_ps(y + t * ys + 8 * h, f[t]);
}

/* AVX2 decode: both 8-row halves of the group in one pass, so that the
 * group's bytes stream once, ahead of them the same software prefetch as
 * the VNNI body (avx2_body, two passes and no prefetch, left the hardware
 * prefetcher alone on the stream: this body decodes Q4_0 ~1.16× and Q8_0
 * ~1.09× faster, alternated runs on an AVX2-only Zen 3).  Written for
 * nt ≤ 2 but called with 1: two tokens' accumulators spill from the 16
 * ymm registers.  Per lane the integer sums and float operations are
 * avx2_body's: bit-identical. */
INLINE __attribute__((target(T_AVX2))) void avx2_dec_body(const uint8_t *g, int64_t n,
							  const struct cb_xq *x, int t0, const int nt,
							  float *y, int64_t ys, const int q8)
{
	const int64_t nb = n / 32, xb = x->n / 32;
	const int qb = q8 ? QB8 : QB4;
	const uint8_t *sc = g, *qp = g + nb * 32;
	const __m256i m4 = _mm256_set1_epi8(0x0f), bias = _mm256_set1_epi8((char)0x80);
	const __m256i ones = _mm256_set1_epi16(1);
	const int8_t *xq[2];
	const float *xd[2];
	const int32_t *xs[2];
	__m256 f[2][2];
	#pragma GCC unroll 2
	for (int t = 0; t < nt; t++) {
		xq[t] = x->q + (t0 + t) * x->n;
		xd[t] = x->d + (t0 + t) * xb;
		xs[t] = x->qsum + (t0 + t) * xb;
		f[t][0] = f[t][1] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < nb; b++, qp += CB_RGROUP * qb) {
		#pragma GCC unroll 8
		for (int k = 0; k < qb / 4; k++)
			_mm_prefetch((const char *)qp + PF_BYTES + 64 * k, _MM_HINT_T0);
		const __m128i s16 = _mm_loadu_si128((const __m128i *)(const void *)(sc + 32 * b));
		const __m128i s16h = _mm_loadu_si128((const __m128i *)(const void *)(sc + 32 * b + 16));
		const __m256 dw[2] = { _mm256_cvtph_ps(s16), _mm256_cvtph_ps(s16h) };
		__m256i a[2][2];
		#pragma GCC unroll 2
		for (int t = 0; t < nt; t++)
			a[t][0] = a[t][1] = q8 ? _mm256_setzero_si256() : _mm256_set1_epi32(-8 * xs[t][b]);
		if (q8) {
			#pragma GCC unroll 8
			for (int k = 0; k < 8; k++) {
				#pragma GCC unroll 2
				for (int h = 0; h < 2; h++) {
					const __m256i w = _mm256_xor_si256(_mm256_loadu_si256(
						(const __m256i *)(const void *)(qp + 64 * k + 32 * h)), bias);
					const __m256i aw = _mm256_sign_epi8(w, w);
					#pragma GCC unroll 2
					for (int t = 0; t < nt; t++) {
						const __m256i xv = _mm256_set1_epi32(x4(xq[t] + 32 * b + 4 * k));
						a[t][h] = _mm256_add_epi32(a[t][h], _mm256_madd_epi16(
							_mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, w)), ones));
					}
				}
			}
		} else {
			/* int16 sums over the block's four vectors, widened once:
			 * each is ≤ 4 · 2 · 2 · 15 · 127 = 30480 in magnitude */
			__m256i p[2][2];
			#pragma GCC unroll 2
			for (int t = 0; t < nt; t++)
				p[t][0] = p[t][1] = _mm256_setzero_si256();
			#pragma GCC unroll 4
			for (int k = 0; k < 4; k++) {
				#pragma GCC unroll 2
				for (int h = 0; h < 2; h++) {
					const __m256i v = _mm256_loadu_si256(
						(const __m256i *)(const void *)(qp + 64 * k + 32 * h));
					const __m256i lo = _mm256_and_si256(v, m4);
					const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
					#pragma GCC unroll 2
					for (int t = 0; t < nt; t++) {
						const int8_t *xp = xq[t] + 32 * b + 4 * k;
						p[t][h] = _mm256_add_epi16(p[t][h], _mm256_add_epi16(
							_mm256_maddubs_epi16(lo, _mm256_set1_epi32(x4(xp))),
							_mm256_maddubs_epi16(hi, _mm256_set1_epi32(x4(xp + 16)))));
					}
				}
			}
			#pragma GCC unroll 2
			for (int t = 0; t < nt; t++)
				#pragma GCC unroll 2
				for (int h = 0; h < 2; h++)
					a[t][h] = _mm256_add_epi32(a[t][h], _mm256_madd_epi16(p[t][h], ones));
		}
		#pragma GCC unroll 2
		for (int t = 0; t < nt; t++) {
			const __m256 s = _mm256_set1_ps(xd[t][b]);
			#pragma GCC unroll 2
			for (int h = 0; h < 2; h++)
				f[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[t][h]), _mm256_mul_ps(dw[h], s),
							  f[t][h]);
		}
	}
	#pragma GCC unroll 2
	for (int t = 0; t < nt; t++) {
		_mm256_storeu_ps(y + t * ys, f[t][0]);
		_mm256_storeu_ps(y + t * ys + 8, f[t][1]);
	}
}

/* The exported kernels: the token count made a constant so that the
 * accumulators stay in registers. */
#define VNNI_FN(name, q8)                                                                       \
	__attribute__((target(T_VNNI))) static void name(const uint8_t *g, int64_t n,             \
							 const struct cb_xq *x, int t0, int nt,   \
							 float *y, int64_t ys)                    \
	{                                                                                       \
		switch (nt) {                                                                   \
		case 1: vnni_body(g, n, x, t0, 1, y, ys, q8); break;                            \
		case 2: vnni_body(g, n, x, t0, 2, y, ys, q8); break;                            \
		case 3: vnni_body(g, n, x, t0, 3, y, ys, q8); break;                            \
		case 4: vnni_body(g, n, x, t0, 4, y, ys, q8); break;                            \
		case 5: vnni_body(g, n, x, t0, 5, y, ys, q8); break;                            \
		case 6: vnni_body(g, n, x, t0, 6, y, ys, q8); break;                            \
		case 7: vnni_body(g, n, x, t0, 7, y, ys, q8); break;                            \
		default: vnni_body(g, n, x, t0, 8, y, ys, q8); break;                           \
		}                                                                               \
	}

#define AVX2_FN(name, q8)                                                                       \
	__attribute__((target(T_AVX2))) static void name(const uint8_t *g, int64_t n,             \
							 const struct cb_xq *x, int t0, int nt,   \
							 float *y, int64_t ys)                    \
	{                                                                                       \
		if (nt == 1) {   /* decode: one pass over the group */                  \
			avx2_dec_body(g, n, x, t0, 1, y, ys, q8);                               \
			return;                                                                 \
		}                                                                               \
		for (int t = 0; t < nt; t += 4, y += 4 * ys) {                                  \
			const int m = nt - t < 4 ? nt - t : 4;                                  \
			for (int h = 0; h < 2; h++)                                             \
				switch (m) {                                                    \
				case 1: avx2_body(g, n, x, t0 + t, 1, y, ys, q8, h); break;     \
				case 2: avx2_body(g, n, x, t0 + t, 2, y, ys, q8, h); break;     \
				case 3: avx2_body(g, n, x, t0 + t, 3, y, ys, q8, h); break;     \
				default: avx2_body(g, n, x, t0 + t, 4, y, ys, q8, h); break;    \
				}                                                               \
		}                                                                               \
	}

VNNI_FN(rdot_q8_vnni, 1)
VNNI_FN(rdot_q4_vnni, 0)
AVX2_FN(rdot_q8_avx2, 1)
AVX2_FN(rdot_q4_avx2, 0)

/* cb_quantize_x (kernels-int.c) in SIMD, bit for bit: max|x| is exact in
 * any order (vmaxps keeps its second operand on a NaN, as fmaxf(amax, ·)
 * keeps amax), d and 1/d are the same scalar divisions, x·(1/d) the same
 * float products, rounded to nearest even by vcvtps2dq as lrintf does
 * (MXCSR's default mode), and the int32 sum exact (|q| ≤ 127; a NaN
 * product, which lrintf makes LONG_MIN and the int8 cast 0, is 0 here).
 * The scalar version's fmaxf and lrintf are library calls at -O2: it cost
 * a quarter of the repacked kernels' time in prefill. */
__attribute__((target(T_VNNI))) static void quant_x_avx512(const float *x, int64_t n, int8_t *q,
							    float *d, float *dsum, int32_t *qsum)
{
	const __m512i nan = _mm512_set1_epi32(INT32_MIN);
	for (int64_t b = 0; b < n / 32; b++, x += 32, q += 32) {
		const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
		const __m512 m = _mm512_max_ps(_mm512_abs_ps(v1),
					       _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps()));
		const float amax = _mm512_reduce_max_ps(m);
		const float db = amax / 127.0f, id = db > 0 ? 1.0f / db : 0.0f;
		const __m512 vid = _mm512_set1_ps(id);
		__m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
		__m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
		/* NaN (and ±inf past a subnormal d) converts to 0x80000000,
		 * where the scalar cast gives 0 (to the sum as well) */
		q0 = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(q0, nan), q0);
		q1 = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(q1, nan), q1);
		_mm_storeu_si128((__m128i *)(void *)q, _mm512_cvtepi32_epi8(q0));
		_mm_storeu_si128((__m128i *)(void *)(q + 16), _mm512_cvtepi32_epi8(q1));
		const int32_t s = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
		d[b] = db;
		dsum[b] = db * (float)s;
		qsum[b] = s;
	}
}

__attribute__((target(T_AVX2))) static void quant_x_avx2(const float *x, int64_t n, int8_t *q,
							  float *d, float *dsum, int32_t *qsum)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	for (int64_t b = 0; b < n / 32; b++, x += 32, q += 32) {
		__m256 v[4], m = _mm256_setzero_ps();
		for (int i = 0; i < 4; i++) {
			v[i] = _mm256_loadu_ps(x + 8 * i);
			m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);
		}
		__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		h = _mm_max_ps(h, _mm_movehl_ps(h, h));
		h = _mm_max_ss(h, _mm_movehdup_ps(h));
		const float amax = _mm_cvtss_f32(h);
		const float db = amax / 127.0f, id = db > 0 ? 1.0f / db : 0.0f;
		const __m256 vid = _mm256_set1_ps(id);
		__m256i qi[4];
		for (int i = 0; i < 4; i++)
			qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
		/* int32 → int8 by saturating packs: |q| ≤ 127 except for NaN
		 * (0x80000000, which saturates to −128 where the cast gives 0:
		 * mapped to 0 below), so the packs are exact */
		const __m256i nan = _mm256_set1_epi32(INT32_MIN);
		for (int i = 0; i < 4; i++)
			qi[i] = _mm256_andnot_si256(_mm256_cmpeq_epi32(qi[i], nan), qi[i]);
		const __m256i s = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]),
						   _mm256_add_epi32(qi[2], qi[3]));
		__m256i p = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]),
					       _mm256_packs_epi32(qi[2], qi[3]));
		/* the packs interleave 128-bit lanes: put elements back in order */
		p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
		_mm256_storeu_si256((__m256i *)(void *)q, p);
		__m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
		const int32_t sum = _mm_cvtsi128_si32(s4);
		d[b] = db;
		dsum[b] = db * (float)sum;
		qsum[b] = sum;
	}
}

/* F16C from CPUID leaf 1 (ECX bit 29): not every compiler's
 * __builtin_cpu_supports knows "f16c" (clang 14 does not), as
 * kernels-avx2.c found. */
static int has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

int cb_repack_kernels(struct cb_kernels *k, enum cb_simd level)
{
	__builtin_cpu_init();
	if (level == CB_SIMD_VNNI) {
		if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw") ||
		    !__builtin_cpu_supports("avx512vl") || !has_f16c())
			return 0;
		k->rdot[PB_Q8_0] = rdot_q8_vnni;
		k->rdot[PB_Q4_0] = rdot_q4_vnni;
		k->quant_x = quant_x_avx512;
		return 1;
	}
	if (level == CB_SIMD_AVX2) {
		if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
		    !has_f16c())
			return 0;
		k->rdot[PB_Q8_0] = rdot_q8_avx2;
		k->rdot[PB_Q4_0] = rdot_q4_avx2;
		k->quant_x = quant_x_avx2;
		return 1;
	}
	return 0;
}

#else

/* elsewhere (aarch64: NEON has its own float kernels) rows stay as stored */
int cb_repack_kernels(struct cb_kernels *k, enum cb_simd level)
{
	(void)k;
	(void)level;
	return 0;
}

#endif

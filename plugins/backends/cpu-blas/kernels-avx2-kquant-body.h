/* plugins/backends/cpu-blas/kernels-avx2-kquant-body.h — the k-quants'
 * integer GEMV kernels, a template: kernels-avx2-kquant.c includes it
 * twice, once for AVX2 and once for AVX-512 VNNI, with
 *   KQ_TGT             the target attribute string,
 *   KQ_SFX             the suffix of the functions it defines,
 *   KQ_MADDS(a, p, s)  a + (pairwise p·s of int16 into int32): vpmaddwd +
 *                      vpaddd, or one vpdpwssd.
 * Every kernel turns a super-block's weights into unsigned bytes u (the
 * stored bits, kquant.h), multiplies them with the token's int8 q by
 * vpmaddubsw (u ≤ 63, |q| ≤ 127: a pair sum stays within int16), weights
 * each 16-bit pair sum by its sub-block's scale into int32 lanes
 * (KQ_MADDS), and takes the offsets (Q3_K −4, Q6_K −32) and the mins
 * (Q2_K, Q4_K, Q5_K) from the block sums of q with one vpmaddwd: the
 * integers are those of kernels-kquant.c exactly.  Per super-block the
 * eight int32 lanes go to float once, times d_w·d_x, into one float
 * accumulator per token (the mins into a second); the lanes are summed at
 * the end of the row. */

#define KQ_CAT2(a, b) a##_##b
#define KQ_CAT(a, b) KQ_CAT2(a, b)
#define KQ_FN(name) KQ_CAT(name, KQ_SFX)
#define KQ_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* Q2_K: 16 sub-blocks of 16, four-bit scales and mins */
INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q2k)(const uint8_t *w, int64_t n,
						       const struct cb_xq *x, const int nt,
						       float *out)
{
	const int64_t nb = n / KQ_N, xn = x->n;
	const __m256i m3 = _mm256_set1_epi8(3);
	const __m128i m4 = _mm_set1_epi8(15);
	__m256 acc[CB_GEMV_MAX], accm[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		acc[t] = accm[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++, w += 84) {
		const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(w + Q2K_SCALES));
		const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, m4));
		const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
		/* two chains per token (even and odd runs of 32), so the
		 * multiply-adds of a super-block do not wait on each other */
		__m256i isum[CB_GEMV_MAX], isum2[CB_GEMV_MAX];
		for (int t = 0; t < nt; t++)
			isum[t] = isum2[t] = _mm256_setzero_si256();
		/* the scales of each half (8 each), in both 128-bit lanes */
		const __m256i s8h[2] = { _mm256_permute2x128_si256(sc16, sc16, 0x00),
					 _mm256_permute2x128_si256(sc16, sc16, 0x11) };
		for (int h = 0; h < 2; h++) {
			const __m256i s8 = s8h[h];
			__m256i q2 = KQ_LOAD(w + Q2K_QS + 32 * h);
			for (int j = 0; j < 4; j++, q2 = _mm256_srli_epi16(q2, 2)) {
				const __m256i u = _mm256_and_si256(q2, m3);
				const __m256i sk = _mm256_shuffle_epi8(s8, KQ_LOAD(shuf_pair[j]));
				for (int t = 0; t < nt; t++) {
					const __m256i xq = KQ_LOAD(x->q + t * xn + KQ_N * i + 128 * h + 32 * j);
					if (j & 1)
						isum2[t] = KQ_MADDS(isum2[t], _mm256_maddubs_epi16(u, xq), sk);
					else
						isum[t] = KQ_MADDS(isum[t], _mm256_maddubs_epi16(u, xq), sk);
				}
			}
		}
		const float dw = half_at(w + Q2K_D), dmin = half_at(w + Q2K_DMIN);
		for (int t = 0; t < nt; t++) {
			const float xd = x->d[t * (xn / KQ_N) + i];
			const __m256i bs = KQ_LOAD(x->bsum + t * (xn / 16) + 16 * i);
			const __m256i sum = _mm256_add_epi32(isum[t], isum2[t]);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * dw), _mm256_cvtepi32_ps(sum), acc[t]);
			accm[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * dmin),
						  _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), accm[t]);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]) - hsum8(accm[t]);
}

/* Q3_K: 16 sub-blocks of 16, signed six-bit scales, u = low bits | hmask
 * bit << 2, value u − 4 */
INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q3k)(const uint8_t *w, int64_t n,
						       const struct cb_xq *x, const int nt,
						       float *out)
{
	const int64_t nb = n / KQ_N, xn = x->n;
	const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
	__m256 acc[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		acc[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++, w += 110) {
		uint32_t o[4];
		kq_scales_q3_u32(w + Q3K_SCALES, o);
		const __m128i sc8 = _mm_sub_epi8(_mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]),
						 _mm_set1_epi8(32));
		const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
		const __m256i hm = KQ_LOAD(w + Q3K_HMASK);
		/* two chains per token (even and odd runs of 32), so the
		 * multiply-adds of a super-block do not wait on each other */
		__m256i isum[CB_GEMV_MAX], isum2[CB_GEMV_MAX];
		for (int t = 0; t < nt; t++)
			isum[t] = isum2[t] = _mm256_setzero_si256();
		/* the scales of each half (8 each), in both 128-bit lanes */
		const __m256i s8h[2] = { _mm256_permute2x128_si256(sc16, sc16, 0x00),
					 _mm256_permute2x128_si256(sc16, sc16, 0x11) };
		for (int h = 0; h < 2; h++) {
			const __m256i s8 = s8h[h];
			__m256i q2 = KQ_LOAD(w + Q3K_QS + 32 * h);
			__m256i hb = h ? _mm256_srli_epi16(hm, 4) : hm;
			for (int j = 0; j < 4; j++) {
				const __m256i u = _mm256_or_si256(_mm256_and_si256(q2, m3),
								  _mm256_slli_epi16(_mm256_and_si256(hb, one), 2));
				const __m256i sk = _mm256_shuffle_epi8(s8, KQ_LOAD(shuf_pair[j]));
				for (int t = 0; t < nt; t++) {
					const __m256i xq = KQ_LOAD(x->q + t * xn + KQ_N * i + 128 * h + 32 * j);
					if (j & 1)
						isum2[t] = KQ_MADDS(isum2[t], _mm256_maddubs_epi16(u, xq), sk);
					else
						isum[t] = KQ_MADDS(isum[t], _mm256_maddubs_epi16(u, xq), sk);
				}
				q2 = _mm256_srli_epi16(q2, 2);
				hb = _mm256_srli_epi16(hb, 1);
			}
		}
		const float dw = half_at(w + Q3K_D);
		for (int t = 0; t < nt; t++) {
			const float xd = x->d[t * (xn / KQ_N) + i];
			const __m256i bs = KQ_LOAD(x->bsum + t * (xn / 16) + 16 * i);
			const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 2);
			const __m256i sum = _mm256_sub_epi32(_mm256_add_epi32(isum[t], isum2[t]), off);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * dw), _mm256_cvtepi32_ps(sum), acc[t]);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]);
}

/* Q4_K and Q5_K (five): 8 sub-blocks of 32, six-bit scales and mins;
 * 32 bytes of qs hold two sub-blocks, low nibbles then high */
INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q45k)(const uint8_t *w, int64_t n,
							const struct cb_xq *x, const int nt,
							float *out, const int five)
{
	const int64_t nb = n / KQ_N, xn = x->n;
	const size_t bytes = five ? 176 : 144;
	const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
	__m256 acc[CB_GEMV_MAX];
	__m128 accm[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++) {
		acc[t] = _mm256_setzero_ps();
		accm[t] = _mm_setzero_ps();
	}
	for (int64_t i = 0; i < nb; i++, w += bytes) {
		uint32_t o[4];
		kq_scale_min_k4_u32(w + Q4K_SCALES, o);   /* same offset in Q5_K */
		const __m256i sm16 = _mm256_cvtepu8_epi16(
			_mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]));
		const __m256i sc = _mm256_permute2x128_si256(sm16, sm16, 0x00);   /* scales, both lanes */
		const __m128i mins = _mm256_extracti128_si256(sm16, 1);
		const uint8_t *qs = w + (five ? Q5K_QS : Q4K_QS);
		__m256i hb = five ? KQ_LOAD(w + Q5K_QH) : _mm256_setzero_si256();
		/* two chains per token (even and odd runs of 32), so the
		 * multiply-adds of a super-block do not wait on each other */
		__m256i isum[CB_GEMV_MAX], isum2[CB_GEMV_MAX];
		for (int t = 0; t < nt; t++)
			isum[t] = isum2[t] = _mm256_setzero_si256();
		for (int j = 0; j < 4; j++) {
			const __m256i raw = KQ_LOAD(qs + 32 * j);
			__m256i lo = _mm256_and_si256(raw, m4);
			__m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
			if (five) {
				lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
				hi = _mm256_or_si256(hi, _mm256_slli_epi16(
					_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
				hb = _mm256_srli_epi16(hb, 2);
			}
			const __m256i s0 = _mm256_shuffle_epi8(sc, KQ_LOAD(shuf_elem[2 * j]));
			const __m256i s1 = _mm256_shuffle_epi8(sc, KQ_LOAD(shuf_elem[2 * j + 1]));
			for (int t = 0; t < nt; t++) {
				const int8_t *xq = x->q + t * xn + KQ_N * i + 64 * j;
				isum[t] = KQ_MADDS(isum[t], _mm256_maddubs_epi16(lo, KQ_LOAD(xq)), s0);
				isum2[t] = KQ_MADDS(isum2[t], _mm256_maddubs_epi16(hi, KQ_LOAD(xq + 32)), s1);
			}
		}
		const float dw = half_at(w), dmin = half_at(w + 2);
		for (int t = 0; t < nt; t++) {
			const float xd = x->d[t * (xn / KQ_N) + i];
			const __m256i bs = KQ_LOAD(x->bsum + t * (xn / 16) + 16 * i);
			/* the sums of 32: pairs of the sums of 16 */
			const __m128i b32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs),
							   _mm256_extracti128_si256(bs, 1));
			const __m256i sum = _mm256_add_epi32(isum[t], isum2[t]);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * dw), _mm256_cvtepi32_ps(sum), acc[t]);
			accm[t] = _mm_fmadd_ps(_mm_set1_ps(xd * dmin),
					       _mm_cvtepi32_ps(_mm_madd_epi16(mins, b32)), accm[t]);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]) - hsum4(accm[t]);
}

INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q4k)(const uint8_t *w, int64_t n,
						       const struct cb_xq *x, const int nt,
						       float *out)
{
	KQ_FN(q45k)(w, n, x, nt, out, 0);
}

INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q5k)(const uint8_t *w, int64_t n,
						       const struct cb_xq *x, const int nt,
						       float *out)
{
	KQ_FN(q45k)(w, n, x, nt, out, 1);
}

/* Q6_K: 16 sub-blocks of 16, int8 scales, u = 4 bits of ql | 2 of qh << 4,
 * value u − 32 */
INLINE __attribute__((target(KQ_TGT))) void KQ_FN(q6k)(const uint8_t *w, int64_t n,
						       const struct cb_xq *x, const int nt,
						       float *out)
{
	const int64_t nb = n / KQ_N, xn = x->n;
	const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
	const __m256i mc = _mm256_set1_epi8(0x0c), m30 = _mm256_set1_epi8(0x30);
	const __m256i mc0 = _mm256_set1_epi8((char)0xc0);
	__m256 acc[CB_GEMV_MAX];
	for (int t = 0; t < nt; t++)
		acc[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++, w += 210) {
		const __m256i sc16 = _mm256_cvtepi8_epi16(
			_mm_loadu_si128((const __m128i *)(const void *)(w + Q6K_SCALES)));
		/* two chains per token (even and odd runs of 32), so the
		 * multiply-adds of a super-block do not wait on each other */
		__m256i isum[CB_GEMV_MAX], isum2[CB_GEMV_MAX];
		for (int t = 0; t < nt; t++)
			isum[t] = isum2[t] = _mm256_setzero_si256();
		/* the scales of each half (8 each), in both 128-bit lanes */
		const __m256i s8h[2] = { _mm256_permute2x128_si256(sc16, sc16, 0x00),
					 _mm256_permute2x128_si256(sc16, sc16, 0x11) };
		for (int h = 0; h < 2; h++) {
			const __m256i s8 = s8h[h];
			const __m256i ql0 = KQ_LOAD(w + Q6K_QL + 64 * h), ql1 = KQ_LOAD(w + Q6K_QL + 64 * h + 32);
			const __m256i qh = KQ_LOAD(w + Q6K_QH + 32 * h);
			__m256i u[4];
			u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
					       _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
			u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
					       _mm256_slli_epi16(_mm256_and_si256(qh, mc), 2));
			u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
					       _mm256_and_si256(qh, m30));
			u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
					       _mm256_srli_epi16(_mm256_and_si256(qh, mc0), 2));
			for (int k = 0; k < 4; k++) {
				const __m256i sk = _mm256_shuffle_epi8(s8, KQ_LOAD(shuf_pair[k]));
				for (int t = 0; t < nt; t++) {
					const __m256i xq = KQ_LOAD(x->q + t * xn + KQ_N * i + 128 * h + 32 * k);
					if (k & 1)
						isum2[t] = KQ_MADDS(isum2[t], _mm256_maddubs_epi16(u[k], xq), sk);
					else
						isum[t] = KQ_MADDS(isum[t], _mm256_maddubs_epi16(u[k], xq), sk);
				}
			}
		}
		const float dw = half_at(w + Q6K_D);
		for (int t = 0; t < nt; t++) {
			const float xd = x->d[t * (xn / KQ_N) + i];
			const __m256i bs = KQ_LOAD(x->bsum + t * (xn / 16) + 16 * i);
			const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5);
			const __m256i sum = _mm256_sub_epi32(_mm256_add_epi32(isum[t], isum2[t]), off);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * dw), _mm256_cvtepi32_ps(sum), acc[t]);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]);
}

/* The exported kernels: the token count made a constant so the
 * accumulators stay in registers. */
#define KQ_EXPORT(name)                                                                          \
	__attribute__((target(KQ_TGT))) static void KQ_FN(qdot_##name)(                          \
		const uint8_t *w, int64_t n, const struct cb_xq *x, int nt, float *out)           \
	{                                                                                        \
		switch (nt) {                                                                    \
		case 1: KQ_FN(name)(w, n, x, 1, out); break;                                     \
		case 2: KQ_FN(name)(w, n, x, 2, out); break;                                     \
		case 3: KQ_FN(name)(w, n, x, 3, out); break;                                     \
		default: KQ_FN(name)(w, n, x, 4, out); break;                                    \
		}                                                                                \
	}

KQ_EXPORT(q2k)
KQ_EXPORT(q3k)
KQ_EXPORT(q4k)
KQ_EXPORT(q5k)
KQ_EXPORT(q6k)

static void KQ_FN(install)(struct cb_kernels *k)
{
	k->qdot[PB_Q2_K] = KQ_FN(qdot_q2k);
	k->qdot[PB_Q3_K] = KQ_FN(qdot_q3k);
	k->qdot[PB_Q4_K] = KQ_FN(qdot_q4k);
	k->qdot[PB_Q5_K] = KQ_FN(qdot_q5k);
	k->qdot[PB_Q6_K] = KQ_FN(qdot_q6k);
}

#undef KQ_EXPORT
#undef KQ_LOAD
#undef KQ_FN
#undef KQ_CAT
#undef KQ_CAT2

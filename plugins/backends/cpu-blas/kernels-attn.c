/* plugins/backends/cpu-blas/kernels-attn.c — the fused attention of one
 * (query row, head) and its portable kernels; the SIMD ones are in
 * kernels-avx2-attn.c.
 *
 * Why chunks: the first version ran an online softmax per position (a
 * q·k call, one or two double exp(), then acc = corr·acc + e·v through
 * memory), so a decode step at a 128-token context spent ~30 % of its time
 * in attention while reading 11 MB against 62 MB of Q4_0 weights.  Here the
 * positions go CB_ACHUNK at a time: all the chunk's scores first (q held
 * against several K rows at once), the chunk's max, one exp per position
 * (vectorised), the accumulator rescaled once per chunk and then fed every
 * position's e·v while it stays in registers.  The result is the online
 * softmax's, with the running max updated per chunk instead of per key.
 *
 * Chunk boundaries count from the row's first visible key, so a row's
 * arithmetic depends on its shape only, never on the thread count (a pool
 * task is one (token, head)).  128 positions: the scores (512 bytes) stay
 * in L1 between the three passes and a decode step at a 128-token context
 * is one chunk; longer chunks save only a rescale of hd floats each. */
#include <math.h>

#include "cpu-blas.h"

void cb_attn_row(const struct cb_kernels *kn, const struct cb_attn_row *r, float *acc)
{
	float s[CB_ACHUNK];
	const size_t es = r->f16 ? 2 : 4;
	float m = -INFINITY;
	double l = 0;
	int started = 0;
	for (int64_t c = 0; c < r->n; c += CB_ACHUNK) {
		const int64_t nc = r->n - c < CB_ACHUNK ? r->n - c : CB_ACHUNK;
		const uint8_t *kc = (const uint8_t *)r->k + (size_t)(c * r->ks) * es;
		const uint8_t *vc = (const uint8_t *)r->v + (size_t)(c * r->vs) * es;
		float cm = kn->kscores(r->q, kc, r->ks, nc, r->hd, r->f16, r->scale,
				       r->bias ? r->bias + c : NULL, s);
		if (r->softcap > 0) {   /* Gemma 2: rare, tanh in double as ref */
			cm = -INFINITY;
			for (int64_t p = 0; p < nc; p++) {
				s[p] = (float)(r->softcap * tanh((double)s[p] / r->softcap));
				cm = s[p] > cm ? s[p] : cm;
			}
		}
		/* every score −inf (a bias that masks): the chunk adds nothing,
		 * and there is no max yet to subtract */
		if (!(cm > -INFINITY) && !started)
			continue;
		float corr = 1.0f;
		if (cm > m) {
			corr = started ? (float)exp((double)m - cm) : 0.0f;
			l *= corr;
			m = cm;
		}
		l += kn->kexp(s, nc, m);
		kn->vaccum(acc, started ? corr : 0.0f, s, vc, r->vs, nc, r->hd, r->f16);
		started = 1;
	}
	for (int64_t i = 0; i < r->hd; i++)
		/* no key in sight: 0; every score −inf: NaN, as ref's 0/0 */
		r->y[i] = !r->n ? 0.0f : started ? (float)(acc[i] / l) : NAN;
}

static inline float kv_at(const void *p, int64_t i, int f16)
{
	return f16 ? pb_fp16_to_fp32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* Portable: the loops are written so a compiler can vectorise them (four
 * partial sums per dot, 16-float strips of the accumulator), which is
 * what NEON gets on aarch64. */
static float kscores_c(const float *q, const void *k, int64_t ks, int64_t n, int64_t hd, int f16,
		       float scale, const float *bias, float *s)
{
	float mx = -INFINITY;
	for (int64_t p = 0; p < n; p++) {
		const int64_t o = p * ks;
		float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
		int64_t i = 0;
		for (; i + 4 <= hd; i += 4) {
			a0 += q[i] * kv_at(k, o + i, f16);
			a1 += q[i + 1] * kv_at(k, o + i + 1, f16);
			a2 += q[i + 2] * kv_at(k, o + i + 2, f16);
			a3 += q[i + 3] * kv_at(k, o + i + 3, f16);
		}
		for (; i < hd; i++)
			a0 += q[i] * kv_at(k, o + i, f16);
		s[p] = ((a0 + a1) + (a2 + a3)) * scale + (bias ? bias[p] : 0.0f);
		mx = s[p] > mx ? s[p] : mx;
	}
	return mx;
}

static float kexp_c(float *s, int64_t n, float m)
{
	float sum = 0;
	for (int64_t p = 0; p < n; p++)
		sum += s[p] = expf(s[p] - m);
	return sum;
}

#define STRIP 16

static void vaccum_c(float *acc, float corr, const float *e, const void *v, int64_t vs, int64_t n,
		     int64_t hd, int f16)
{
	for (int64_t i0 = 0; i0 < hd; i0 += STRIP) {
		const int w = hd - i0 < STRIP ? (int)(hd - i0) : STRIP;
		float a[STRIP];
		for (int i = 0; i < w; i++)
			a[i] = corr != 0.0f ? corr * acc[i0 + i] : 0.0f;
		for (int64_t p = 0; p < n; p++)
			for (int i = 0; i < w; i++)
				a[i] += e[p] * kv_at(v, p * vs + i0 + i, f16);
		for (int i = 0; i < w; i++)
			acc[i0 + i] = a[i];
	}
}

int cb_attn_kernels(struct cb_kernels *k, enum cb_attn_level level)
{
	switch (level) {
	case CB_ATTN_AVX512:
		return cb_attn_avx512(k);
	case CB_ATTN_AVX2:
		return cb_attn_avx2(k);
	default:
		k->kscores = kscores_c;
		k->kexp = kexp_c;
		k->vaccum = vaccum_c;
		k->attn_isa = "portable";
		return 1;
	}
}

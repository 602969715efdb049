/* core/model/rope.c — RoPE scaling as tensors: llama3's frequency
 * divisors (rope_freqs.weight), computed the way llama.cpp's
 * convert_hf_to_gguf.py does, so a Hugging Face folder we load and the
 * GGUF llama.cpp converts from it hold the same floats; and Phi-3
 * longrope's attention factor (its short/long factors are tensors as
 * config.json lists them). */
#include <errno.h>
#include <math.h>

#include "model/modelio.h"

/* The converter works on float32 torch scalars: `a / t` is
 * t.reciprocal() * a, every step rounds to float, Python-side constants
 * (original / high_freq_factor, high - low) are doubles rounded once.
 * Contracting a multiply and an add into one FMA would round less: off. */
__attribute__((optimize("fp-contract=off")))
int pb_rope_llama3_factors(float theta, int head_dim, const struct pb_rope_llama3 *r, float *out)
{
	if (head_dim < 2 || head_dim % 2 || !(theta > 0) || !r || r->original_ctx < 1 ||
	    !(r->factor > 0) || !(r->low_freq_factor > 0) || !(r->high_freq_factor > 0) ||
	    r->low_freq_factor == r->high_freq_factor)
		return -EINVAL;
	const double orig = r->original_ctx;
	const float low_wl = (float)(orig / r->low_freq_factor);
	const float high_wl = (float)(orig / r->high_freq_factor);
	const float span = (float)((double)r->high_freq_factor - (double)r->low_freq_factor);
	const float two_pi = (float)(2.0 * M_PI);
	for (int i = 0; i < head_dim / 2; i++) {
		float e = (float)(2 * i) / (float)head_dim;
		float freq = (1.0f / powf(theta, e)) * 1.0f;
		float wavelen = (1.0f / freq) * two_pi;
		if (wavelen < high_wl) {
			out[i] = 1.0f;
		} else if (wavelen > low_wl) {
			out[i] = r->factor;
		} else {
			float inv = (1.0f / wavelen) * (float)orig;
			float smooth = (inv - r->low_freq_factor) / span;
			float d = (1.0f - smooth) / r->factor;
			d = d + smooth;
			out[i] = (1.0f / d) * 1.0f;
		}
	}
	return 0;
}

/* Phi-3 longrope's attention factor as convert_hf_to_gguf.py computes it
 * (Python doubles; GGUF stores it as float32). */
double pb_rope_longrope_mscale(int ctx, int orig_ctx)
{
	if (orig_ctx < 2 || ctx <= orig_ctx)
		return 1.0;
	return sqrt(1.0 + log((double)ctx / (double)orig_ctx) / log((double)orig_ctx));
}

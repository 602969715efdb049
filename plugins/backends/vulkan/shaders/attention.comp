// attention.comp — one workgroup per (head, query row): the keys in
// chunks of WG, one key per thread, softmax online (a running max and
// sum rescale the accumulator, FlashAttention's recurrence), so the
// scores never leave the workgroup.  Grouped KV heads: head h reads KV
// head h / (n_heads / n_kv_heads).  Optional additive bias (T5) at
// bias_off + (h * n_tokens + t) * bias_stride + j; soft-capping of the
// scores (Gemma 2) after it; a sliding window: query t at position
// pos0 + t sees keys from pos0 + t − window + 1 (ref's first..last).
#version 450
#include "common.glsl"

#define MAX_HD 256u
#define ACC (MAX_HD / 64u)     // accumulator elements per thread (WG >= 64)

layout(push_constant) uniform P {
	uint q_off, q_stride, k_off, k_stride, v_off, v_stride, y_off, y_stride;
	uint bias_off, bias_stride, has_bias;
	uint n_tokens, n_heads, group, head_dim, pos0, n_kv, causal;
	float scale, softcap;       // softcap 0: none
	uint window;                // 0: none
} p;

shared float q_s[MAX_HD];
shared float p_s[WG];

void main()
{
	const uint tid = gl_LocalInvocationID.x;
	const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, kh = h / p.group;
	const uint hd = p.head_dim;
	uint last = p.n_kv - 1u;
	if (p.causal != 0u)
		last = min(last, p.pos0 + t);
	const uint first = p.window != 0u && p.pos0 + t + 1u > p.window ? p.pos0 + t + 1u - p.window : 0u;
	if (first > last) {         // no key in sight (a window past the cache): 0, as ref
		for (uint d = tid; d < hd; d += WG)
			act[p.y_off + t * p.y_stride + h * hd + d] = 0.0;
		return;                 // the whole workgroup: first and last depend on t only
	}
	for (uint i = tid; i < hd; i += WG)
		q_s[i] = act[p.q_off + t * p.q_stride + h * hd + i];
	barrier();
	float acc[ACC];
	[[unroll]] for (uint k = 0; k < ACC; k++)
		acc[k] = 0.0;
	float m = -1.0 / 0.0, l = 0.0;
	for (uint j0 = first; j0 <= last; j0 += WG) {
		const uint j = j0 + tid;
		float s = -1.0 / 0.0;
		if (j <= last) {
			const uint kr = p.k_off + j * p.k_stride + kh * hd;
			float d = 0.0;
			for (uint i = 0; i < hd; i++)
				d += q_s[i] * act[kr + i];
			s = d * p.scale;
			if (p.has_bias != 0u)
				s += act[p.bias_off + (h * p.n_tokens + t) * p.bias_stride + j];
			if (p.softcap > 0.0)
				s = p.softcap * tanh_safe(s / p.softcap);
		}
		const float mn = max(m, wg_max(s));   // finite: key j0 is in this chunk
		const float pj = j <= last ? exp(s - mn) : 0.0;
		const float alpha = exp(m - mn);      // 0 on the first chunk
		l = l * alpha + wg_sum(pj);
		p_s[tid] = pj;
		barrier();
		const uint nj = min(WG, last + 1u - j0);
		[[unroll]] for (uint k = 0; k < ACC; k++) {
			const uint d = tid + k * WG;
			if (d < hd) {
				float a = acc[k] * alpha;
				const uint vr = p.v_off + j0 * p.v_stride + kh * hd + d;
				for (uint jj = 0; jj < nj; jj++)
					a += p_s[jj] * act[vr + jj * p.v_stride];
				acc[k] = a;
			}
		}
		m = mn;
		barrier();
	}
	[[unroll]] for (uint k = 0; k < ACC; k++) {
		const uint d = tid + k * WG;
		if (d < hd)
			act[p.y_off + t * p.y_stride + h * hd + d] = acc[k] / l;
	}
}

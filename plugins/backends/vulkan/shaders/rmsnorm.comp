// rmsnorm.comp — dst = src / rms(src) * w * scale, one workgroup per row.
// dst may be src itself (each thread rereads and writes only its own
// elements after the reduction).
#version 450
#include "common.glsl"

layout(push_constant) uniform P {
	uint x_off, x_stride, y_off, y_stride;
	uint w_off, dim;
	float eps, scale;           // scale 0 means 1
} p;

void main()
{
	const uint tid = gl_LocalInvocationID.x, t = gl_WorkGroupID.x;
	const uint x = p.x_off + t * p.x_stride, y = p.y_off + t * p.y_stride;
	float ss = 0.0;
	for (uint i = tid; i < p.dim; i += WG)
		ss += act[x + i] * act[x + i];
	ss = wg_sum(ss);
	float k = inversesqrt(ss / float(p.dim) + p.eps);
	if (p.scale != 0.0)
		k *= p.scale;
	for (uint i = tid; i < p.dim; i += WG)
		act[y + i] = act[x + i] * k * wget(p.w_off, i);
}

// embed.comp — dst[t, :] = W[token t, :]; the token ids come with the
// step's table (the host checked them against the vocabulary); times
// scale when it is not 0 (Gemma's √dim, in F32 as the ref backend).
#version 450
#include "common.glsl"

layout(push_constant) uniform P {
	uint y_off, y_stride, w_off, w_row, dim, tab_off;
	float scale;
} p;

void main()
{
	const uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
	if (i >= p.dim)
		return;
	const uint id = floatBitsToUint(tab[p.tab_off + t]);
	const float v = wget(p.w_off + id * p.w_row, i);
	act[p.y_off + t * p.y_stride + i] = p.scale != 0.0 ? v * p.scale : v;
}

// elementwise.comp — glu, act, add, copy, kv_store (a copy into the
// cache rows at pos0) and add_bias (dst += a weight row, read in the
// pipeline's format), row-wise over `width` floats; one thread per
// element.  GELU is the tanh approximation, with tanh computed so that it
// cannot overflow (some drivers return NaN for tanh of large arguments).
#version 450
#include "common.glsl"

#define OP_GLU 0u
#define OP_ACT 1u
#define OP_ADD 2u
#define OP_COPY 3u
#define OP_ADD_BIAS 4u

layout(push_constant) uniform P {
	uint op, fn, width;
	uint a_off, a_stride, b_off, b_stride, y_off, y_stride;
	uint w_off;                      // add_bias: the bias row, in 16-bit words
	float cap;                       // act softcap
} p;

float act_fn(float x)
{
	if (p.fn == 0u)                  // SiLU
		return x / (1.0 + exp(-x));
	if (p.fn == 1u) {                // GELU (tanh)
		float u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
		float e = exp(2.0 * u);
		return 0.5 * x * (1.0 + (e - 1.0) / (e + 1.0));
	}
	if (p.fn == 3u)                  // softcap (act only)
		return p.cap * tanh_safe(x / p.cap);
	return max(x, 0.0);              // ReLU
}

void main()
{
	const uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
	if (i >= p.width)
		return;
	const float a = act[p.a_off + t * p.a_stride + i];
	float y;
	if (p.op == OP_GLU)
		y = act_fn(a) * act[p.b_off + t * p.b_stride + i];
	else if (p.op == OP_ACT)
		y = act_fn(a);
	else if (p.op == OP_ADD)
		y = a + act[p.b_off + t * p.b_stride + i];
	else if (p.op == OP_ADD_BIAS)
		y = a + wget(p.w_off, i);
	else
		y = a;
	act[p.y_off + t * p.y_stride + i] = y;
}

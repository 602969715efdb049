// rope.comp — rotate pairs of dst in place by position pos0 + t.  The
// step's table holds cos and sin per (token, pair), computed by the host
// in double (float angles of thousands of radians lose digits), with the
// frequency divisors and mscale folded in.  Only the first 2·n_pairs
// dims of each head rotate (n_rot); the rest are left as they are.
#version 450
#include "common.glsl"

layout(push_constant) uniform P {
	uint x_off, x_stride, n_heads, head_dim, half_layout, tab_off, n_pairs;
} p;

void main()
{
	const uint hp = p.n_pairs;
	const uint k = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
	if (k >= p.n_heads * hp)
		return;
	const uint h = k / hp, i = k % hp;
	const uint base = p.x_off + t * p.x_stride + h * p.head_dim;
	const uint a = base + (p.half_layout != 0u ? i : 2u * i);
	const uint b = base + (p.half_layout != 0u ? i + hp : 2u * i + 1u);
	const uint c = p.tab_off + (t * hp + i) * 2u;
	const float cs = tab[c], sn = tab[c + 1u], x0 = act[a], x1 = act[b];
	act[a] = x0 * cs - x1 * sn;
	act[b] = x0 * sn + x1 * cs;
}

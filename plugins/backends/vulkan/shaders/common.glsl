// plugins/backends/vulkan/shaders/common.glsl — what every shader of the
// vulkan backend shares: the three bindings of the one descriptor set
// layout, weight decoding for every format, and a workgroup sum / max
// with subgroup operations (built with -DPB_SUBGROUP) or shared memory.
//
// Bindings (vk.h, struct vk_set):
//   0  acts   every activation buffer of the session, at float offsets
//   1  w      one weight arena: tensors at 16-byte aligned offsets, read
//             as 16-bit words so that every format is addressable without
//             the 8/16-bit storage features (Q8_0 blocks are 34 bytes)
//   2  tab    the step's host-written table: token ids, RoPE cos/sin
#extension GL_EXT_control_flow_attributes : enable
#ifdef PB_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(constant_id = 0) const uint WG = 64;     // threads per workgroup
layout(constant_id = 1) const uint FMT = 0;     // weight format: enum pb_dtype

layout(std430, set = 0, binding = 0) buffer Acts { float act[]; };
layout(std430, set = 0, binding = 1) readonly buffer Weights { uint w32[]; };
layout(std430, set = 0, binding = 2) readonly buffer Table { float tab[]; };

#define F_F32 0u
#define F_F16 1u
#define F_BF16 2u
#define F_Q8_0 3u
#define F_Q4_0 4u

uint w16(uint i)
{
	return (w32[i >> 1] >> ((i & 1u) * 16u)) & 0xffffu;
}

float half16(uint i)
{
	return unpackHalf2x16(w16(i)).x;
}

// Element e of a row that starts at 16-bit word `row` (blocks: GGUF
// layouts, as the ref backend decodes them).
float wget(uint row, uint e)
{
	if (FMT == F_F32)
		return uintBitsToFloat(w32[(row >> 1) + e]);
	if (FMT == F_F16)
		return half16(row + e);
	if (FMT == F_BF16)
		return uintBitsToFloat(w16(row + e) << 16);
	uint b = e >> 5, j = e & 31u;
	if (FMT == F_Q8_0) {     // 17 words: f16 d, 32 int8
		uint blk = row + 17u * b;
		int q = int(w16(blk + 1u + (j >> 1)) >> ((j & 1u) * 8u)) << 24 >> 24;
		return half16(blk) * float(q);
	}
	// Q4_0: 9 words: f16 d, 16 bytes; element j < 16 low nibble of byte
	// j, element j + 16 its high nibble; x = d * (q - 8)
	uint blk = row + 9u * b, jb = j & 15u;
	uint byt = (w16(blk + 1u + (jb >> 1)) >> ((jb & 1u) * 8u)) & 0xffu;
	uint q = j < 16u ? byt & 15u : byt >> 4;
	return half16(blk) * (float(q) - 8.0);
}

// Four consecutive elements e..e+3 (e a multiple of 4, inside the row):
// a block's scale decoded once.
vec4 wget4(uint row, uint e)
{
	if (FMT == F_Q8_0) {
		uint blk = row + 17u * (e >> 5), j = e & 31u;
		uint a = w16(blk + 1u + (j >> 1)), c = w16(blk + 2u + (j >> 1));
		ivec4 q = ivec4(int(a << 24) >> 24, int(a << 16) >> 24, int(c << 24) >> 24, int(c << 16) >> 24);
		return half16(blk) * vec4(q);
	}
	if (FMT == F_Q4_0) {
		uint blk = row + 9u * (e >> 5), j = e & 31u, jb = j & 15u;
		uint v = w16(blk + 1u + (jb >> 1)) | (w16(blk + 2u + (jb >> 1)) << 16);
		if (j >= 16u)
			v >>= 4;
		vec4 q = vec4(v & 15u, (v >> 8) & 15u, (v >> 16) & 15u, (v >> 24) & 15u);
		return half16(blk) * (q - 8.0);
	}
	return vec4(wget(row, e), wget(row, e + 1u), wget(row, e + 2u), wget(row, e + 3u));
}

// tanh that cannot overflow: some drivers compute it from exp(2x) and
// return NaN for large arguments; |x| ≥ 15 is ±1 in float anyway.
float tanh_safe(float x)
{
	return tanh(clamp(x, -15.0, 15.0));
}

// ---- workgroup reductions: every thread gets the result ----

shared float red_[WG];

float wg_sum(float v)
{
#ifdef PB_SUBGROUP
	v = subgroupAdd(v);
	if (subgroupElect())
		red_[gl_SubgroupID] = v;
	barrier();
	float s = 0.0;
	for (uint i = 0; i < gl_NumSubgroups; i++)
		s += red_[i];
	barrier();
	return s;
#else
	uint tid = gl_LocalInvocationID.x;
	red_[tid] = v;
	barrier();
	for (uint n = WG >> 1; n > 0u; n >>= 1) {
		if (tid < n)
			red_[tid] += red_[tid + n];
		barrier();
	}
	float s = red_[0];
	barrier();
	return s;
#endif
}

float wg_max(float v)
{
#ifdef PB_SUBGROUP
	v = subgroupMax(v);
	if (subgroupElect())
		red_[gl_SubgroupID] = v;
	barrier();
	float s = red_[0];
	for (uint i = 1; i < gl_NumSubgroups; i++)
		s = max(s, red_[i]);
	barrier();
	return s;
#else
	uint tid = gl_LocalInvocationID.x;
	red_[tid] = v;
	barrier();
	for (uint n = WG >> 1; n > 0u; n >>= 1) {
		if (tid < n)
			red_[tid] = max(red_[tid], red_[tid + n]);
		barrier();
	}
	float s = red_[0];
	barrier();
	return s;
#endif
}

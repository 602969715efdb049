// linear.comp — dst[t, o] = src[t, :] · W[o, :] for RPW weight rows per
// workgroup and up to TT tokens (a decode step is a GEMV; a prefill
// reuses each dequantised weight element for TT tokens).  Every format
// of common.glsl, fixed per pipeline by the FMT specialization constant;
// TT = 1 (decode) and 8 (prefill) are two pipelines, so that a GEMV
// carries no idle token lanes.
//
// Who sums a row: with subgroups (-DPB_SUBGROUP) one subgroup per row,
// subgroupAdd at the end, its rows in turn; without, WG / RPW threads per
// row and a shared-memory tree.  The host picks RPW: one row per thread
// on a CPU device (lavapipe: no reduction, no barrier), a subgroup's (or
// 32 threads') worth of lanes per row on a GPU.
#version 450
#include "common.glsl"

layout(constant_id = 2) const uint RPW = 1;   // rows per workgroup, a power of two <= WG
layout(constant_id = 3) const uint TT = 8;    // tokens per workgroup: 1 for a decode step

layout(push_constant) uniform P {
	uint x_off, x_stride, y_off, y_stride;
	uint w_off, w_row;          // 16-bit words: tensor start, one row
	uint n_in, n_out, n_tokens;
	uint row0;                  // first row of this dispatch (chunks of maxComputeWorkGroupCount)
} p;

// This lane's share of row o for the tile's nt tokens.
void row_dot(uint o, uint lane, uint lanes, uint t0, uint nt, inout float acc[TT])
{
	const uint row = p.w_off + o * p.w_row;
	const uint n4 = p.n_in & ~3u;
	// four consecutive elements per lane and step (a block's scale
	// decoded once; and fewer loop trips, which a CPU device prefers)
	for (uint e = lane * 4u; e < n4; e += lanes * 4u) {
		const vec4 w = wget4(row, e);
		[[unroll]] for (uint t = 0; t < TT; t++) {
			if (t < nt) {
				const uint x = p.x_off + (t0 + t) * p.x_stride + e;
				acc[t] += dot(w, vec4(act[x], act[x + 1u], act[x + 2u], act[x + 3u]));
			}
		}
	}
	for (uint e = n4 + lane; e < p.n_in; e += lanes) {   // F32/F16/BF16 rows of odd length
		const float w = wget(row, e);
		[[unroll]] for (uint t = 0; t < TT; t++)
			if (t < nt)
				acc[t] += w * act[p.x_off + (t0 + t) * p.x_stride + e];
	}
}

void main()
{
	const uint t0 = gl_WorkGroupID.y * TT, nt = min(TT, p.n_tokens - t0);
	const uint base = p.row0 + gl_WorkGroupID.x * RPW;
	float acc[TT];
#ifdef PB_SUBGROUP
	for (uint r = gl_SubgroupID; r < RPW; r += gl_NumSubgroups) {
		const uint o = base + r;
		if (o >= p.n_out)
			break;              // the same for the whole subgroup
		[[unroll]] for (uint t = 0; t < TT; t++)
			acc[t] = 0.0;
		row_dot(o, gl_SubgroupInvocationID, gl_SubgroupSize, t0, nt, acc);
		[[unroll]] for (uint t = 0; t < TT; t++) {
			if (t < nt) {
				const float s = subgroupAdd(acc[t]);
				if (subgroupElect())
					act[p.y_off + (t0 + t) * p.y_stride + o] = s;
			}
		}
	}
#else
	const uint LANES = WG / RPW, tid = gl_LocalInvocationID.x;
	const uint lane = tid % LANES, o = base + tid / LANES;
	const bool live = o < p.n_out;
	[[unroll]] for (uint t = 0; t < TT; t++)
		acc[t] = 0.0;
	if (live)
		row_dot(o, lane, LANES, t0, nt, acc);
	[[unroll]] for (uint t = 0; t < TT; t++) {
		if (t < nt) {       // nt is the same for the whole workgroup
			float s = acc[t];
			if (LANES > 1u) {
				red_[tid] = s;
				barrier();
				for (uint n = LANES >> 1; n > 0u; n >>= 1) {
					if (lane < n)
						red_[tid] += red_[tid + n];
					barrier();
				}
				s = red_[tid];
				barrier();
			}
			if (lane == 0u && live)
				act[p.y_off + (t0 + t) * p.y_stride + o] = s;
		}
	}
#endif
}

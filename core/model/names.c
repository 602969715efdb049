/* core/model/names.c — llama.cpp's architecture strings and GGUF tensor
 * names for the architectures prunebench runs (llama.cpp
 * src/llama-arch.cpp), both ways: name → (stack, layer, role) when reading,
 * and back when writing.
 *
 * The Llama-family decoders (llama, qwen2, qwen3, gemma2, gemma3) share
 * one naming: token_embd, rope_freqs (llama3 RoPE scaling),
 * blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
 * ffn_gate, ffn_up, ffn_down}.weight, blk.N.attn_{q,k,v}.bias (qwen2),
 * blk.N.attn_{q,k}_norm.weight (qwen3, gemma3),
 * blk.N.{post_attention_norm, post_ffw_norm}.weight (gemma2/3),
 * output_norm, output.  Which of them an architecture may carry is the
 * session's to check (core/arch/llama.c).
 * phi3:  the same, with rope_factors_{short,long} (longrope), and fused
 *        blk.N.attn_qkv (q, k, v rows) and blk.N.ffn_up (gate rows, then
 *        up rows: llama.cpp's phi3 has no ffn_gate).  The loaders split
 *        those into q/k/v and gate/up views (pb_model_split_fused), named
 *        attn_q/k/v, ffn_gate and ffn_up; the GGUF writer fuses them back.
 * t5:    token_embd (shared by both stacks), enc.blk.N.{attn_norm,attn_q,
 *        attn_k,attn_v,attn_o,attn_rel_b,ffn_norm,ffn_gate,ffn_up,ffn_down},
 *        enc.output_norm, dec.blk.N.{the same, cross_attn_norm,
 *        cross_attn_q,cross_attn_k,cross_attn_v,cross_attn_o},
 *        dec.output_norm, output.  T5 keeps attn_rel_b in block 0 only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "util/util.h"

/* ---- architectures ---- */

static const struct {
	const char *name;                   /* general.architecture */
	enum pb_rope_layout rope;           /* llama.cpp's LLAMA_ROPE_TYPE_NORM or _NEOX */
} archs[] = {
	[PB_ARCH_LLAMA] = { "llama", PB_ROPE_INTERLEAVED },
	[PB_ARCH_T5] = { "t5", PB_ROPE_INTERLEAVED },
	[PB_ARCH_QWEN2] = { "qwen2", PB_ROPE_HALF },
	[PB_ARCH_QWEN3] = { "qwen3", PB_ROPE_HALF },
	[PB_ARCH_GEMMA2] = { "gemma2", PB_ROPE_HALF },
	[PB_ARCH_GEMMA3] = { "gemma3", PB_ROPE_HALF },
	[PB_ARCH_PHI3] = { "phi3", PB_ROPE_HALF },
};

const char *pb_arch_name(enum pb_arch a)
{
	return (unsigned)a < PB_ARRAY_LEN(archs) && archs[a].name ? archs[a].name : "?";
}

int pb_arch_from_name(const char *s, size_t n)
{
	for (size_t a = 0; a < PB_ARRAY_LEN(archs); a++)
		if (archs[a].name && strlen(archs[a].name) == n && !memcmp(archs[a].name, s, n))
			return (int)a;
	return -1;
}

enum pb_rope_layout pb_arch_rope_layout(enum pb_arch a)
{
	return (unsigned)a < PB_ARRAY_LEN(archs) ? archs[a].rope : PB_ROPE_INTERLEAVED;
}

/* ---- tensor names ---- */

struct block_name {
	const char *suffix;                 /* after "blk.N." */
	enum pb_role role;
};

static const struct block_name decoder_block[] = {
	{ "attn_norm.weight", PB_ROLE_ATTN_NORM },
	{ "attn_q.weight", PB_ROLE_ATTN_Q },
	{ "attn_k.weight", PB_ROLE_ATTN_K },
	{ "attn_v.weight", PB_ROLE_ATTN_V },
	{ "attn_output.weight", PB_ROLE_ATTN_O },
	{ "attn_q.bias", PB_ROLE_ATTN_Q_BIAS },
	{ "attn_k.bias", PB_ROLE_ATTN_K_BIAS },
	{ "attn_v.bias", PB_ROLE_ATTN_V_BIAS },
	{ "attn_q_norm.weight", PB_ROLE_ATTN_Q_NORM },
	{ "attn_k_norm.weight", PB_ROLE_ATTN_K_NORM },
	{ "post_attention_norm.weight", PB_ROLE_ATTN_POST_NORM },
	{ "ffn_norm.weight", PB_ROLE_FFN_NORM },
	{ "ffn_gate.weight", PB_ROLE_FFN_GATE },
	{ "ffn_up.weight", PB_ROLE_FFN_UP },
	{ "ffn_down.weight", PB_ROLE_FFN_DOWN },
	{ "post_ffw_norm.weight", PB_ROLE_FFN_POST_NORM },
	{ NULL, 0 },
};

/* Phi-3: the fused names first, so that a file's ffn_up is the fused
 * gate/up; the parts keep Llama's names (first match by role when
 * naming). */
static const struct block_name phi3_block[] = {
	{ "attn_qkv.weight", PB_ROLE_ATTN_QKV },
	{ "ffn_up.weight", PB_ROLE_FFN_GATE_UP },
	{ "attn_norm.weight", PB_ROLE_ATTN_NORM },
	{ "attn_q.weight", PB_ROLE_ATTN_Q },
	{ "attn_k.weight", PB_ROLE_ATTN_K },
	{ "attn_v.weight", PB_ROLE_ATTN_V },
	{ "attn_output.weight", PB_ROLE_ATTN_O },
	{ "ffn_norm.weight", PB_ROLE_FFN_NORM },
	{ "ffn_gate.weight", PB_ROLE_FFN_GATE },
	{ "ffn_up.weight", PB_ROLE_FFN_UP },
	{ "ffn_down.weight", PB_ROLE_FFN_DOWN },
	{ NULL, 0 },
};

static const struct block_name t5_block[] = {
	{ "attn_norm.weight", PB_ROLE_ATTN_NORM },
	{ "attn_q.weight", PB_ROLE_ATTN_Q },
	{ "attn_k.weight", PB_ROLE_ATTN_K },
	{ "attn_v.weight", PB_ROLE_ATTN_V },
	{ "attn_o.weight", PB_ROLE_ATTN_O },
	{ "attn_rel_b.weight", PB_ROLE_ATTN_REL_BIAS },
	{ "ffn_norm.weight", PB_ROLE_FFN_NORM },
	{ "ffn_gate.weight", PB_ROLE_FFN_GATE },
	{ "ffn_up.weight", PB_ROLE_FFN_UP },
	{ "ffn_down.weight", PB_ROLE_FFN_DOWN },
	/* decoder only */
	{ "cross_attn_norm.weight", PB_ROLE_CROSS_NORM },
	{ "cross_attn_q.weight", PB_ROLE_CROSS_Q },
	{ "cross_attn_k.weight", PB_ROLE_CROSS_K },
	{ "cross_attn_v.weight", PB_ROLE_CROSS_V },
	{ "cross_attn_o.weight", PB_ROLE_CROSS_O },
	{ NULL, 0 },
};

struct global_name {
	const char *name;
	enum pb_stack stack;
	enum pb_role role;
};

static const struct global_name decoder_global[] = {
	{ "token_embd.weight", PB_STACK_DECODER, PB_ROLE_TOK_EMBD },
	{ "rope_freqs.weight", PB_STACK_DECODER, PB_ROLE_ROPE_FREQS },
	{ "rope_factors_short.weight", PB_STACK_DECODER, PB_ROLE_ROPE_FACTORS_SHORT },
	{ "rope_factors_long.weight", PB_STACK_DECODER, PB_ROLE_ROPE_FACTORS_LONG },
	{ "output_norm.weight", PB_STACK_DECODER, PB_ROLE_OUT_NORM },
	{ "output.weight", PB_STACK_DECODER, PB_ROLE_OUTPUT },
	{ NULL, 0, 0 },
};

static const struct global_name t5_global[] = {
	{ "token_embd.weight", PB_STACK_DECODER, PB_ROLE_TOK_EMBD },
	{ "enc.output_norm.weight", PB_STACK_ENCODER, PB_ROLE_OUT_NORM },
	{ "dec.output_norm.weight", PB_STACK_DECODER, PB_ROLE_OUT_NORM },
	{ "output.weight", PB_STACK_DECODER, PB_ROLE_OUTPUT },
	{ NULL, 0, 0 },
};

/* "<digits>." at p: the block number, and p moved past the dot. */
static int block_number(const char **p)
{
	long layer = 0;
	int digits = 0;
	const char *s = *p;
	for (; *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
		layer = layer * 10 + (*s - '0');
	if (!digits || *s != '.')
		return -1;
	*p = s + 1;
	return (int)layer;
}

void pb_tensor_classify_arch(struct pb_tensor *t, enum pb_arch arch)
{
	const struct global_name *g = arch == PB_ARCH_T5 ? t5_global : decoder_global;
	const struct block_name *b = arch == PB_ARCH_T5 ? t5_block : arch == PB_ARCH_PHI3 ? phi3_block : decoder_block;
	const char *p = t->name;
	t->layer = -1;
	t->role = PB_ROLE_OTHER;
	t->stack = PB_STACK_DECODER;
	for (; g->name; g++)
		if (!strcmp(t->name, g->name)) {
			t->role = g->role;
			t->stack = g->stack;
			return;
		}
	if (arch == PB_ARCH_T5) {
		if (!strncmp(p, "enc.", 4))
			t->stack = PB_STACK_ENCODER;
		else if (strncmp(p, "dec.", 4))
			return;
		p += 4;
	}
	if (strncmp(p, "blk.", 4))
		return;
	p += 4;
	int layer = block_number(&p);
	if (layer < 0)
		return;
	t->layer = layer;
	for (; b->suffix; b++) {
		if (strcmp(p, b->suffix))
			continue;
		/* cross-attention exists only in the decoder */
		if (t->stack == PB_STACK_ENCODER && b->role >= PB_ROLE_CROSS_NORM)
			return;
		t->role = b->role;
		return;
	}
}

int pb_tensor_name_arch(enum pb_arch arch, enum pb_stack stack, int layer, enum pb_role role,
			char *out, size_t len)
{
	const struct global_name *g = arch == PB_ARCH_T5 ? t5_global : decoder_global;
	const struct block_name *b = arch == PB_ARCH_T5 ? t5_block : arch == PB_ARCH_PHI3 ? phi3_block : decoder_block;
	int n;
	if (layer < 0) {
		for (; g->name; g++)
			if (g->role == role && (g->stack == stack || role == PB_ROLE_TOK_EMBD))
				return snprintf(out, len, "%s", g->name) < (int)len ? 0 : -ENAMETOOLONG;
		return -EINVAL;
	}
	for (; b->suffix; b++) {
		if (b->role != role)
			continue;
		if (arch != PB_ARCH_T5) {
			if (stack != PB_STACK_DECODER)
				return -EINVAL;
			n = snprintf(out, len, "blk.%d.%s", layer, b->suffix);
		} else {
			if (stack == PB_STACK_ENCODER && role >= PB_ROLE_CROSS_NORM)
				return -EINVAL;
			n = snprintf(out, len, "%s.blk.%d.%s",
				     stack == PB_STACK_ENCODER ? "enc" : "dec", layer, b->suffix);
		}
		return n < (int)len ? 0 : -ENAMETOOLONG;
	}
	return -EINVAL;
}

void pb_tensor_classify(struct pb_tensor *t)
{
	pb_tensor_classify_arch(t, PB_ARCH_LLAMA);
}

int pb_tensor_role_name(int layer, enum pb_role role, char *out, size_t len)
{
	return pb_tensor_name_arch(PB_ARCH_LLAMA, PB_STACK_DECODER, layer, role, out, len);
}

/* core/model/names.c — llama.cpp's GGUF tensor names for the
 * architectures prunebench runs (llama.cpp src/llama-arch.cpp), both ways:
 * name → (stack, layer, role) when reading, and back when writing.
 *
 * llama: token_embd, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,
 *        ffn_norm,ffn_gate,ffn_up,ffn_down}, output_norm, output.
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
#include "util/util.h"

struct block_name {
	const char *suffix;
	enum pb_role role;
};

static const struct block_name llama_block[] = {
	{ "attn_norm", PB_ROLE_ATTN_NORM },
	{ "attn_q", PB_ROLE_ATTN_Q },
	{ "attn_k", PB_ROLE_ATTN_K },
	{ "attn_v", PB_ROLE_ATTN_V },
	{ "attn_output", PB_ROLE_ATTN_O },
	{ "ffn_norm", PB_ROLE_FFN_NORM },
	{ "ffn_gate", PB_ROLE_FFN_GATE },
	{ "ffn_up", PB_ROLE_FFN_UP },
	{ "ffn_down", PB_ROLE_FFN_DOWN },
	{ NULL, 0 },
};

static const struct block_name t5_block[] = {
	{ "attn_norm", PB_ROLE_ATTN_NORM },
	{ "attn_q", PB_ROLE_ATTN_Q },
	{ "attn_k", PB_ROLE_ATTN_K },
	{ "attn_v", PB_ROLE_ATTN_V },
	{ "attn_o", PB_ROLE_ATTN_O },
	{ "attn_rel_b", PB_ROLE_ATTN_REL_BIAS },
	{ "ffn_norm", PB_ROLE_FFN_NORM },
	{ "ffn_gate", PB_ROLE_FFN_GATE },
	{ "ffn_up", PB_ROLE_FFN_UP },
	{ "ffn_down", PB_ROLE_FFN_DOWN },
	/* decoder only */
	{ "cross_attn_norm", PB_ROLE_CROSS_NORM },
	{ "cross_attn_q", PB_ROLE_CROSS_Q },
	{ "cross_attn_k", PB_ROLE_CROSS_K },
	{ "cross_attn_v", PB_ROLE_CROSS_V },
	{ "cross_attn_o", PB_ROLE_CROSS_O },
	{ NULL, 0 },
};

struct global_name {
	const char *name;
	enum pb_stack stack;
	enum pb_role role;
};

static const struct global_name llama_global[] = {
	{ "token_embd.weight", PB_STACK_DECODER, PB_ROLE_TOK_EMBD },
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
	const struct global_name *g = arch == PB_ARCH_T5 ? t5_global : llama_global;
	const struct block_name *b = arch == PB_ARCH_T5 ? t5_block : llama_block;
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
	size_t n = strlen(p);
	if (n < 7 || strcmp(p + n - 7, ".weight"))
		return;
	for (; b->suffix; b++) {
		if (strlen(b->suffix) != n - 7 || strncmp(p, b->suffix, n - 7))
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
	const struct global_name *g = arch == PB_ARCH_T5 ? t5_global : llama_global;
	const struct block_name *b = arch == PB_ARCH_T5 ? t5_block : llama_block;
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
			n = snprintf(out, len, "blk.%d.%s.weight", layer, b->suffix);
		} else {
			if (stack == PB_STACK_ENCODER && role >= PB_ROLE_CROSS_NORM)
				return -EINVAL;
			n = snprintf(out, len, "%s.blk.%d.%s.weight",
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

/* plugins/pruners/ffn/ffn.c — structured FFN pruning: the least important
 * intermediate neurons are really removed (rows of gate and up, columns
 * of down), so a layer's FFN gets narrower and the arch reads its width
 * from the tensors.  The Llama-family decoders (SwiGLU: llama, qwen2,
 * qwen3) and T5 (gated-GELU or plain ReLU, both stacks).
 *
 * Importance of neuron i:
 *   weight      ‖gate_i‖² + ‖up_i‖² + ‖down_{:,i}‖²: the squares of every
 *               weight its removal deletes;
 *   activation  Σ over calibration tokens of h_i², h the input of down
 *               (PB_CALIB_COL_SQ of down): how much the neuron fires.
 * `ratio` is the share of neurons removed, per layer or ranked over the
 * whole model (`scope: global`); every layer keeps at least one. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "options.h"

#include "shrink.h"

#define LOG(s, lvl, ...) ((s)->h->log((s)->h, (lvl), __VA_ARGS__))

struct ffn {
	struct pb_tensor *gate, *up, *down;   /* gate NULL when ungated */
	int width;
};

/* 1: no FFN in this block (dropped), 0: found, -errno with why. */
static int layer_ffn(const struct pb_model *m, enum pb_stack st, int l, struct ffn *f,
		     char *why, size_t len)
{
	f->gate = pb_model_find_in(m, st, l, PB_ROLE_FFN_GATE);
	f->up = pb_model_find_in(m, st, l, PB_ROLE_FFN_UP);
	f->down = pb_model_find_in(m, st, l, PB_ROLE_FFN_DOWN);
	if (pb_model_find_in(m, st, l, PB_ROLE_FFN_GATE_UP)) {
		snprintf(why, len, "block %d: a fused gate/up projection; FFN pruning reads separate "
			 "gate and up rows (the core's loaders split Phi-3's)", l);
		return -ENOTSUP;
	}
	if (!f->gate && !f->up && !f->down)
		return 1;
	if (!f->up || !f->down) {
		snprintf(why, len, "block %d: FFN tensors incomplete", l);
		return -EINVAL;
	}
	struct pb_tensor *ts[3] = { f->up, f->down, f->gate };
	for (int i = 0; i < 3; i++)
		if (ts[i] && !shrink_dense(ts[i])) {
			snprintf(why, len, "tensor '%s' is %s; FFN pruning reads F32, F16 or BF16 "
				 "(put quantization after it)", ts[i]->name, pb_dtype_name(ts[i]->dtype));
			return -ENOTSUP;
		}
	f->width = (int)f->up->ne[1];
	if (f->down->ne[0] != f->width || (f->gate && f->gate->ne[1] != f->width) || f->width < 1) {
		snprintf(why, len, "block %d: FFN shapes disagree", l);
		return -EINVAL;
	}
	return 0;
}

/* The stacks to walk, in the order calibration runs them (T5: the
 * encoder first). */
static int stacks(const struct pb_model *m, enum pb_stack out[2])
{
	if (m->arch != PB_ARCH_T5) {
		out[0] = PB_STACK_DECODER;
		return 1;
	}
	out[0] = PB_STACK_ENCODER;
	out[1] = PB_STACK_DECODER;
	return 2;
}

static int stack_layers(const struct pb_model *m, enum pb_stack st)
{
	return st == PB_STACK_ENCODER ? m->hp.n_enc_layers : m->hp.n_layers;
}

#define FOR_EACH_STACK(m, st) \
	for (enum pb_stack list_[2], *p_ = list_, *end_ = list_ + stacks((m), list_); \
	     p_ < end_ && ((st) = *p_, 1); p_++)

static int ffn_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	enum pb_stack st;
	(void)state;
	FOR_EACH_STACK(m, st)
		for (int l = 0; l < stack_layers(m, st); l++) {
			struct ffn f;
			int rc = layer_ffn(m, st, l, &f, why, len);
			if (rc < 0)
				return rc;
		}
	return 0;
}

static int score_layer(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib,
		       enum pb_stack st, int l, const struct ffn *f, double *score)
{
	if (s->cfg.importance == SHRINK_IMP_ACTIVATION) {
		const struct pb_linear_stats *all, *hit = NULL;
		int n = 0, rc, d = (int)(f->down - m->tensors);
		if ((rc = calib->block_stats(calib, st, l, PB_CALIB_COL_SQ, &all, &n)) < 0) {
			LOG(s, PB_LOG_ERROR, "block %d: calibration failed", l);
			return rc;
		}
		for (int i = 0; i < n; i++)
			if (all[i].tensor == d && all[i].col_sq && all[i].n_in == f->width)
				hit = &all[i];
		if (!hit) {
			LOG(s, PB_LOG_ERROR, "block %d: calibration gave no statistics for '%s'", l,
			    f->down->name);
			return -EINVAL;
		}
		memcpy(score, hit->col_sq, (size_t)f->width * sizeof *score);
		return 0;
	}
	for (int i = 0; i < f->width; i++)
		score[i] = shrink_sq(f->up, i, i + 1, 0, f->up->ne[0]) +
			   (f->gate ? shrink_sq(f->gate, i, i + 1, 0, f->gate->ne[0]) : 0) +
			   shrink_sq(f->down, 0, f->down->ne[1], i, i + 1);
	return 0;
}

static int remove_neurons(struct shrink_state *s, struct pb_model *m, struct ffn *f,
			  const uint8_t *drop, struct pb_prune_target *targets)
{
	int k = 0, rc;
	for (int i = 0; i < f->width; i++)
		k += drop[i];
	struct pb_tensor *ts[3] = { f->up, f->down, f->gate };
	for (int i = 0; i < 3; i++)
		if (ts[i])
			targets[ts[i] - m->tensors].sparsity = (double)k / f->width;
	if ((rc = shrink_rows(s->h, f->up, drop)) < 0 || (rc = shrink_cols(s->h, f->down, drop)) < 0 ||
	    (f->gate && (rc = shrink_rows(s->h, f->gate, drop)) < 0))
		LOG(s, PB_LOG_ERROR, "cannot shrink the FFN of block %d", f->up->layer);
	return rc;
}

static int apply_per_layer(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib,
			   struct pb_prune_target *targets)
{
	enum pb_stack st;
	char why[256];
	FOR_EACH_STACK(m, st)
		for (int l = 0; l < stack_layers(m, st); l++) {
			struct ffn f;
			int rc = layer_ffn(m, st, l, &f, why, sizeof why);
			if (rc > 0)
				continue;
			if (rc < 0) {
				LOG(s, PB_LOG_ERROR, "%s", why);
				return rc;
			}
			int k = shrink_count(s->cfg.ratio, f.width);
			if (k == 0)
				continue;
			double *score = calloc((size_t)f.width, sizeof *score);
			uint8_t *drop = calloc((size_t)f.width, 1);
			rc = score && drop ? score_layer(s, m, calib, st, l, &f, score) : -ENOMEM;
			if (rc == 0) {
				shrink_lowest(score, f.width, k, drop);
				rc = remove_neurons(s, m, &f, drop, targets);
			}
			free(score);
			free(drop);
			if (rc < 0)
				return rc;
		}
	return 0;
}

static int apply_global(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib,
			struct pb_prune_target *targets)
{
	const int L = m->hp.n_layers + m->hp.n_enc_layers;   /* one slot per block */
	struct shrink_rank r;
	enum pb_stack st;
	char why[256];
	int rc = shrink_rank_init(&r, L);
	if (rc < 0)
		goto out;
	/* slot of (stack, layer): encoder layers after the decoder's */
#define SLOT(st_, l_) ((st_) == PB_STACK_ENCODER ? m->hp.n_layers + (l_) : (l_))
	FOR_EACH_STACK(m, st)
		for (int l = 0; l < stack_layers(m, st); l++) {
			struct ffn f;
			if ((rc = layer_ffn(m, st, l, &f, why, sizeof why)) > 0) {
				rc = 0;
				continue;
			}
			if (rc < 0) {
				LOG(s, PB_LOG_ERROR, "%s", why);
				goto out;
			}
			double *score = calloc((size_t)f.width, sizeof *score);
			rc = score ? score_layer(s, m, calib, st, l, &f, score) : -ENOMEM;
			if (rc == 0)
				rc = shrink_rank_add(&r, SLOT(st, l), st, l, score, f.width);
			free(score);
			if (rc < 0)
				goto out;
		}
	shrink_rank_pick(&r, s->cfg.ratio);
	FOR_EACH_STACK(m, st)
		for (int l = 0; l < stack_layers(m, st) && rc == 0; l++) {
			struct ffn f;
			if (r.drop[SLOT(st, l)] && layer_ffn(m, st, l, &f, why, sizeof why) == 0)
				rc = remove_neurons(s, m, &f, r.drop[SLOT(st, l)], targets);
		}
#undef SLOT
out:
	shrink_rank_free(&r);
	return rc;
}

static int ffn_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		     struct pb_prune_target *targets)
{
	struct shrink_state *s = state;
	char why[256] = "";
	int rc = shrink_apply_start(s, ffn_check(state, m, why, sizeof why), why, calib);
	if (rc)
		return rc < 0 ? rc : 0;
	return s->cfg.scope == SHRINK_SCOPE_GLOBAL ? apply_global(s, m, calib, targets)
						   : apply_per_layer(s, m, calib, targets);
}

static const struct pb_pruner_ops ffn_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = ffn_apply,
	.check = ffn_check,
	/* asked for always, used only by importance 'activation' */
	.calib = PB_CALIB_COL_SQ,
	.calib_for = shrink_calib_for,
	.in_formats = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16),
};

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option ffn_options[] = {
	{ .key = "ratio", .type = PB_OPT_DOUBLE, .offset = offsetof(struct shrink_config, ratio),
	  .def = NULL, .min = 0, .max = 1,
	  .help = "share of FFN neurons to remove (rows of gate/up, columns of down); every layer keeps one" },
	{ .key = "scope", .type = PB_OPT_ENUM, .offset = offsetof(struct shrink_config, scope),
	  .def = "per-layer", .choices = "per-layer|global",
	  .help = "per-layer: the same share in every layer; global: the least important neurons "
		  "of the whole model" },
	{ .key = "importance", .type = PB_OPT_ENUM, .offset = offsetof(struct shrink_config, importance),
	  .def = "weight", .choices = "weight|activation",
	  .help = "weight: sum of squares of the neuron's gate/up rows and down column; activation: "
		  "its calibration energy (Σ h² at the input of down)" },
	PC_OPT_CALIB_OR_DATASET(struct shrink_config, "importance: activation"),
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "ffn",
	.version = "1.0.0",
	.summary = "structured: removes FFN neurons by weight or activation importance",
	.options = ffn_options,
	.config_size = sizeof(struct shrink_config),
	.init = shrink_init,
	.fini = shrink_fini,
	.ops = &ffn_ops,
};

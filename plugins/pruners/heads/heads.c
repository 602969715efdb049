/* plugins/pruners/heads/heads.c — structured attention-head pruning for
 * the Llama-family decoders (llama, qwen2, qwen3, gemma2, gemma3): the
 * least important heads are really removed (rows of q/k/v and their
 * biases, columns of o), so layers end up with different head counts and
 * the arch reads them from the tensors.  Qwen3's and Gemma 3's q/k norms
 * are per head_dim and shared by every head: they stay as they are.
 *
 * Grouped KV heads: the unit removed is a whole KV group — one K/V head
 * and the query heads that share it (for multi-head attention, a group is
 * one head).  Removing query heads inside groups instead would leave K/V
 * untouched (no saving in the KV cache, which is what GQA models are
 * bound by) and would need every group of a layer to lose the same count
 * to stay a valid GQA layout; whole groups keep it valid by construction.
 * `ratio` is then the share of groups (= of query heads) removed; every
 * layer keeps at least one group.
 *
 * Importance of a group:
 *   weight      Σ of squares of every weight its removal deletes: its q,
 *               k and v rows (and bias elements) and its o columns (what
 *               magnitude pruning would weigh, summed over the structure);
 *   activation  Σ over its heads' o-projection input columns of ‖X_j‖²
 *               from calibration (PB_CALIB_COL_SQ): the energy the heads
 *               actually send into the residual path.
 * T5 is refused: its relative-position bias is shared per stack with one
 * column per head, so removing heads needs per-layer bias tensors. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "options.h"

#include "shrink.h"

#define LOG(s, lvl, ...) ((s)->h->log((s)->h, (lvl), __VA_ARGS__))

/* One layer's attention.  Qwen2's biases follow their rows; Qwen3's q/k
 * norms are one [head_dim] vector shared by every head, so they stay. */
struct attn {
	struct pb_tensor *q, *k, *v, *o;
	struct pb_tensor *qb, *kb, *vb;   /* biases, NULL when absent */
	int n_heads, n_kv, group;   /* group: query heads per KV head */
};

static int layer_attn(const struct pb_model *m, int l, struct attn *a, char *why, size_t len)
{
	const int64_t hd = m->hp.head_dim;
	memset(a, 0, sizeof *a);
	a->q = pb_model_find(m, l, PB_ROLE_ATTN_Q);
	a->k = pb_model_find(m, l, PB_ROLE_ATTN_K);
	a->v = pb_model_find(m, l, PB_ROLE_ATTN_V);
	a->o = pb_model_find(m, l, PB_ROLE_ATTN_O);
	a->qb = pb_model_find(m, l, PB_ROLE_ATTN_Q_BIAS);
	a->kb = pb_model_find(m, l, PB_ROLE_ATTN_K_BIAS);
	a->vb = pb_model_find(m, l, PB_ROLE_ATTN_V_BIAS);
	if (!a->q && !a->k && !a->v && !a->o)
		return 1;     /* a dropped block */
	if (!a->q || !a->k || !a->v || !a->o || hd < 1) {
		snprintf(why, len, "block %d: attention tensors incomplete", l);
		return -EINVAL;
	}
	const struct pb_tensor *ts[7] = { a->q, a->k, a->v, a->o, a->qb, a->kb, a->vb };
	for (int i = 0; i < 7; i++)
		if (ts[i] && !shrink_dense(ts[i])) {
			snprintf(why, len, "tensor '%s' is %s; head pruning reads F32, F16 or BF16 "
				 "(put quantization after it)", ts[i]->name, pb_dtype_name(ts[i]->dtype));
			return -ENOTSUP;
		}
	a->n_heads = (int)(a->q->ne[1] / hd);
	a->n_kv = (int)(a->k->ne[1] / hd);
	if (a->n_heads < 1 || a->n_kv < 1 || a->n_heads % a->n_kv || a->q->ne[1] != a->n_heads * hd ||
	    a->k->ne[1] != a->n_kv * hd || a->v->ne[1] != a->k->ne[1] || a->o->ne[0] != a->q->ne[1] ||
	    (a->qb && (a->qb->ne[0] != a->q->ne[1] || a->qb->ne[1] != 1)) ||
	    (a->kb && (a->kb->ne[0] != a->k->ne[1] || a->kb->ne[1] != 1)) ||
	    (a->vb && (a->vb->ne[0] != a->v->ne[1] || a->vb->ne[1] != 1))) {
		snprintf(why, len, "block %d: attention shapes are not whole heads of %lld", l, (long long)hd);
		return -EINVAL;
	}
	a->group = a->n_heads / a->n_kv;
	return 0;
}

static int heads_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	(void)state;
	if (m->arch == PB_ARCH_T5) {
		snprintf(why, len, "head pruning supports the llama-family decoders only: T5 shares one "
			 "relative-position bias per stack with a column per head");
		return -ENOTSUP;
	}
	if (m->arch != PB_ARCH_LLAMA && m->arch != PB_ARCH_QWEN2 && m->arch != PB_ARCH_QWEN3 &&
	    m->arch != PB_ARCH_GEMMA2 && m->arch != PB_ARCH_GEMMA3 && m->arch != PB_ARCH_PHI3) {
		snprintf(why, len, "head pruning supports llama, qwen2, qwen3, gemma2, gemma3 and phi3 models "
			 "(q, k and v projections apart: the core splits Phi-3's fused one), not architecture %d",
			 (int)m->arch);
		return -ENOTSUP;
	}
	for (int l = 0; l < m->hp.n_layers; l++) {
		struct attn a;
		int rc = layer_attn(m, l, &a, why, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Scores of a layer's groups into score[0..n_kv). */
static int score_layer(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib, int l,
		       const struct attn *a, double *score)
{
	const int64_t hd = m->hp.head_dim, qw = (int64_t)a->group * hd;
	const struct pb_linear_stats *st = NULL;
	if (s->cfg.importance == SHRINK_IMP_ACTIVATION) {
		int n = 0, rc, o_idx = (int)(a->o - m->tensors);
		const struct pb_linear_stats *all;
		if ((rc = calib->block_stats(calib, PB_STACK_DECODER, l, PB_CALIB_COL_SQ, &all, &n)) < 0) {
			LOG(s, PB_LOG_ERROR, "block %d: calibration failed", l);
			return rc;
		}
		for (int i = 0; i < n; i++)
			if (all[i].tensor == o_idx && all[i].col_sq && all[i].n_in == a->o->ne[0])
				st = &all[i];
		if (!st) {
			LOG(s, PB_LOG_ERROR, "block %d: calibration gave no statistics for '%s'", l, a->o->name);
			return -EINVAL;
		}
	}
	for (int g = 0; g < a->n_kv; g++) {
		double v = 0;
		if (st) {
			for (int64_t j = g * qw; j < (g + 1) * qw; j++)
				v += st->col_sq[j];
		} else {
			v = shrink_sq(a->q, g * qw, (g + 1) * qw, 0, a->q->ne[0]) +
			    shrink_sq(a->k, g * hd, (g + 1) * hd, 0, a->k->ne[0]) +
			    shrink_sq(a->v, g * hd, (g + 1) * hd, 0, a->v->ne[0]) +
			    shrink_sq(a->o, 0, a->o->ne[1], g * qw, (g + 1) * qw);
			/* a bias is one row: its elements are columns */
			if (a->qb)
				v += shrink_sq(a->qb, 0, 1, g * qw, (g + 1) * qw);
			if (a->kb)
				v += shrink_sq(a->kb, 0, 1, g * hd, (g + 1) * hd);
			if (a->vb)
				v += shrink_sq(a->vb, 0, 1, g * hd, (g + 1) * hd);
		}
		score[g] = v;
	}
	return 0;
}

/* Remove the groups marked in drop[0..n_kv) from one layer. */
static int remove_groups(struct shrink_state *s, struct pb_model *m, struct attn *a,
			 const uint8_t *drop, struct pb_prune_target *targets)
{
	const int64_t hd = m->hp.head_dim, qw = (int64_t)a->group * hd;
	int k = 0, rc = 0;
	for (int g = 0; g < a->n_kv; g++)
		k += drop[g];
	uint8_t *qdrop = calloc((size_t)(a->n_kv * qw), 1), *kdrop = calloc((size_t)(a->n_kv * hd), 1);
	if (!qdrop || !kdrop) {
		rc = -ENOMEM;
		goto out;
	}
	for (int g = 0; g < a->n_kv; g++) {
		memset(qdrop + g * qw, drop[g], (size_t)qw);
		memset(kdrop + g * hd, drop[g], (size_t)hd);
	}
	struct pb_tensor *ts[7] = { a->q, a->k, a->v, a->o, a->qb, a->kb, a->vb };
	for (int i = 0; i < 7; i++)
		if (ts[i])
			targets[ts[i] - m->tensors].sparsity = (double)k / a->n_kv;
	/* biases are [width] vectors: their elements are columns */
	if ((rc = shrink_rows(s->h, a->q, qdrop)) < 0 || (rc = shrink_rows(s->h, a->k, kdrop)) < 0 ||
	    (rc = shrink_rows(s->h, a->v, kdrop)) < 0 || (rc = shrink_cols(s->h, a->o, qdrop)) < 0 ||
	    (a->qb && (rc = shrink_cols(s->h, a->qb, qdrop)) < 0) ||
	    (a->kb && (rc = shrink_cols(s->h, a->kb, kdrop)) < 0) ||
	    (a->vb && (rc = shrink_cols(s->h, a->vb, kdrop)) < 0))
		LOG(s, PB_LOG_ERROR, "cannot shrink the attention of block %d", a->q->layer);
out:
	free(qdrop);
	free(kdrop);
	return rc;
}

static int apply_per_layer(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib,
			   struct pb_prune_target *targets)
{
	char why[256];
	for (int l = 0; l < m->hp.n_layers; l++) {
		struct attn a;
		int rc = layer_attn(m, l, &a, why, sizeof why);
		if (rc > 0)
			continue;
		if (rc < 0) {
			LOG(s, PB_LOG_ERROR, "%s", why);
			return rc;
		}
		int k = shrink_count(s->cfg.ratio, a.n_kv);
		if (k == 0)
			continue;
		double *score = calloc((size_t)a.n_kv, sizeof *score);
		uint8_t *drop = calloc((size_t)a.n_kv, 1);
		rc = score && drop ? score_layer(s, m, calib, l, &a, score) : -ENOMEM;
		if (rc == 0) {
			shrink_lowest(score, a.n_kv, k, drop);
			rc = remove_groups(s, m, &a, drop, targets);
		}
		free(score);
		free(drop);
		if (rc < 0)
			return rc;
		LOG(s, PB_LOG_DEBUG, "block %d: %d of %d KV groups removed", l, k, a.n_kv);
	}
	return 0;
}

/* Rank every group of every layer together; each layer keeps one. */
static int apply_global(struct shrink_state *s, struct pb_model *m, struct pb_calib *calib,
			struct pb_prune_target *targets)
{
	const int L = m->hp.n_layers;
	struct shrink_rank r;
	char why[256];
	int rc = shrink_rank_init(&r, L);

	for (int l = 0; l < L && rc == 0; l++) {
		struct attn a;
		if ((rc = layer_attn(m, l, &a, why, sizeof why)) > 0) {
			rc = 0;
			continue;
		}
		if (rc < 0) {
			LOG(s, PB_LOG_ERROR, "%s", why);
			break;
		}
		double *score = calloc((size_t)a.n_kv, sizeof *score);
		rc = score ? score_layer(s, m, calib, l, &a, score) : -ENOMEM;
		if (rc == 0)
			rc = shrink_rank_add(&r, l, PB_STACK_DECODER, l, score, a.n_kv);
		free(score);
	}
	if (rc < 0)
		goto out;
	int k = shrink_rank_pick(&r, s->cfg.ratio);
	if (k > 0)
		LOG(s, PB_LOG_WARN, "%d groups fewer removed than asked: every layer keeps one", k);
	for (int l = 0; l < L && rc == 0; l++) {
		struct attn a;
		if (r.drop[l] && layer_attn(m, l, &a, why, sizeof why) == 0)
			rc = remove_groups(s, m, &a, r.drop[l], targets);
	}
out:
	shrink_rank_free(&r);
	return rc;
}

static int heads_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		       struct pb_prune_target *targets)
{
	struct shrink_state *s = state;
	char why[256] = "";
	int rc = shrink_apply_start(s, heads_check(state, m, why, sizeof why), why, calib);
	if (rc)
		return rc < 0 ? rc : 0;
	return s->cfg.scope == SHRINK_SCOPE_GLOBAL ? apply_global(s, m, calib, targets)
						   : apply_per_layer(s, m, calib, targets);
}

static const struct pb_pruner_ops heads_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = heads_apply,
	.check = heads_check,
	/* asked for always, used only by importance 'activation' */
	.calib = PB_CALIB_COL_SQ,
	.calib_for = shrink_calib_for,
	.in_formats = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16),
	.archs = 1u << PB_ARCH_LLAMA | 1u << PB_ARCH_QWEN2 | 1u << PB_ARCH_QWEN3 | 1u << PB_ARCH_GEMMA2 |
		 1u << PB_ARCH_GEMMA3 | 1u << PB_ARCH_PHI3,
};

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option heads_options[] = {
	{ .key = "ratio", .type = PB_OPT_DOUBLE, .offset = offsetof(struct shrink_config, ratio),
	  .def = NULL, .min = 0, .max = 1,
	  .help = "share of attention heads to remove (whole KV groups: with grouped KV heads a "
		  "group's query heads and its K/V head go together); every layer keeps one group" },
	{ .key = "scope", .type = PB_OPT_ENUM, .offset = offsetof(struct shrink_config, scope),
	  .def = "per-layer", .choices = "per-layer|global",
	  .help = "per-layer: the same share in every layer; global: the least important groups "
		  "of the whole model" },
	{ .key = "importance", .type = PB_OPT_ENUM, .offset = offsetof(struct shrink_config, importance),
	  .def = "weight", .choices = "weight|activation",
	  .help = "weight: sum of squares of the group's q/k/v rows and o columns; activation: "
		  "calibration energy of its heads' outputs (o-projection input)" },
	PC_OPT_CALIB_OR_DATASET(struct shrink_config, "importance: activation"),
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "heads",
	.version = "1.0.0",
	.summary = "structured: removes attention heads (whole KV groups) by weight or activation importance",
	.options = heads_options,
	.config_size = sizeof(struct shrink_config),
	.init = shrink_init,
	.fini = shrink_fini,
	.ops = &heads_ops,
};

/* plugins/pruners/nm/nm.c — semi-structured N:M pruning.
 *
 * Along the input dimension of every selected linear, each group of m
 * consecutive input columns of a row keeps its n highest scores and the
 * other m − n weights become zero (2:4 by default, the pattern sparse tensor
 * cores run).  N here is the number KEPT, as in "2:4 sparsity"; note that
 * the Wanda and SparseGPT scripts call the number pruned `prune_n`, which
 * is the same thing only for 2:4 and 4:8.  A trailing partial group of
 * g < m columns keeps min(n, g), as a kernel padding the row with zeros
 * would.
 *
 * Scores: `magnitude` (|W_ij|) or `wanda` (|W_ij|·‖X_j‖₂, the input
 * column norms from the calibration handle, asked block by block in order
 * so that block l sees the inputs of the already pruned blocks before it).
 * Ties go to the lower column, so the result depends only on the weights
 * (and the calibration); there is no randomness.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <prunebench/plugin.h>

#include "prune-util.h"

enum nm_score { SCORE_MAGNITUDE = 0, SCORE_WANDA };

struct nm_config {
	int64_t n, m;
	int score;            /* enum nm_score */
	int tensors;          /* enum pu_tensors */
	int64_t nsamples, seqlen;
};

struct nm_state {
	const struct pb_host *host;
	struct nm_config cfg;
	struct pb_prune_target *targets;
	int n_pruned;
};

static int nm_init(const struct pb_host *h, const void *config, void **state)
{
	const struct nm_config *c = config;
	struct nm_state *s;

	if (c->m < 2 || c->m > 256 || c->n < 1 || c->n >= c->m) {
		h->log(h, PB_LOG_ERROR, "n:m must satisfy 1 <= n < m <= 256, got %lld:%lld",
		       (long long)c->n, (long long)c->m);
		return -EINVAL;
	}
	if (c->score < SCORE_MAGNITUDE || c->score > SCORE_WANDA ||
	    c->tensors < PU_TENSORS_ATTENTION || c->tensors > PU_TENSORS_ALL) {
		h->log(h, PB_LOG_ERROR, "invalid score (%d) or tensors (%d)", c->score, c->tensors);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *c;
	*state = s;
	return 0;
}

static void nm_fini(void *state)
{
	free(state);
}

static int nm_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct nm_state *s = state;
	return pu_check_model(m, s->cfg.tensors, why, len);
}

static int prune_one(void *ctx, struct pb_model *m, struct pb_tensor *t,
		     const struct pb_linear_stats *st)
{
	struct nm_state *s = ctx;
	int rc = pu_tensor_ok(s->host, t);

	if (rc)
		return rc;
	rc = pu_prune_rows(t, st ? st->col_sq : NULL, (int)s->cfg.n, (int)s->cfg.m, 0);
	if (rc) {
		s->host->log(s->host, PB_LOG_ERROR, "out of memory pruning '%s'", t->name);
		return rc;
	}
	s->targets[t - m->tensors].sparsity = 1.0 - (double)s->cfg.n / (double)s->cfg.m;
	s->n_pruned++;
	return 0;
}

static int nm_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		    struct pb_prune_target *targets)
{
	struct nm_state *s = state;
	int rc = 0;

	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1.0;
	s->targets = targets;
	s->n_pruned = 0;
	if (s->cfg.score == SCORE_WANDA) {
		rc = pu_calib_walk(s->host, m, calib, PB_CALIB_COL_SQ, s->cfg.tensors,
				   prune_one, s);
	} else {
		for (int i = 0; i < m->n_tensors && !rc; i++)
			if (pu_selected(s->cfg.tensors, &m->tensors[i]))
				rc = prune_one(s, m, &m->tensors[i], NULL);
	}
	if (!rc)
		s->host->log(s->host, PB_LOG_INFO, "%lld:%lld (%s scores) on %d linears",
			     (long long)s->cfg.n, (long long)s->cfg.m,
			     s->cfg.score == SCORE_WANDA ? "wanda" : "magnitude", s->n_pruned);
	return rc;
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option nm_options[] = {
	{ .key = "n", .type = PB_OPT_INT, .offset = offsetof(struct nm_config, n),
	  .def = "2", .min = 1, .max = 255,
	  .help = "weights KEPT in every group of m consecutive input columns (n < m)" },
	{ .key = "m", .type = PB_OPT_INT, .offset = offsetof(struct nm_config, m),
	  .def = "4", .min = 2, .max = 256,
	  .help = "group size along the input dimension; sparsity is 1 - n/m" },
	{ .key = "score", .type = PB_OPT_ENUM, .offset = offsetof(struct nm_config, score),
	  .def = "magnitude", .min = 1, .max = 0, .choices = "magnitude|wanda",
	  .help = "rank weights by |W| or by Wanda's |W|·‖X_j‖₂ (needs a calibration split)" },
	PU_OPT_TENSORS(struct nm_config, tensors),
	PU_OPT_CALIB(struct nm_config, "; used by score: wanda only"),
	PB_OPTIONS_END
};

/* Magnitude scores need no activations. */
static unsigned calib_for(const void *config)
{
	const struct nm_config *c = config;
	return c->score == SCORE_WANDA ? PB_CALIB_COL_SQ : 0;
}

static const struct pb_pruner_ops nm_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = nm_apply,
	.check = nm_check,
	/* only score: wanda reads it; with magnitude scores the handle is unused */
	.calib = PB_CALIB_COL_SQ,
	.calib_for = calib_for,
	.in_formats = PU_DENSE_FORMATS,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "nm",
	.version = "1.0.0",
	.summary = "semi-structured N:M pruning along the input dimension (2:4 by default)",
	.options = nm_options,
	.config_size = sizeof(struct nm_config),
	.init = nm_init,
	.fini = nm_fini,
	.ops = &nm_ops,
};

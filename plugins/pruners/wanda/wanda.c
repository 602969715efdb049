/* plugins/pruners/wanda/wanda.c — Wanda: pruning by weights and
 * activations (Sun, Liu, Bair, Kolter, "A Simple and Effective Pruning
 * Approach for Large Language Models", 2023; locuslab/wanda prune_wanda).
 *
 * The score of weight W_ij is |W_ij|·‖X_j‖₂, where ‖X_j‖₂ is the norm of
 * input feature j over the calibration tokens, and weights are compared
 * within each output row ("per output"): every row loses its round(s·n_in)
 * lowest scores (ties to the lower column, as the reference's stable
 * sort), or with n:m set, every group of m input columns keeps its n
 * highest.  No weight update.
 *
 * Sequential, as the reference: for block l in order, ask the calibration
 * handle for the column norms of block l's linears (one pass over the block
 * as it is, with inputs from the already pruned blocks before it), prune
 * all of them, go on to l + 1.  The output head is not pruned (neither
 * does the reference).
 *
 * Defaults differ from the paper's in one place: nsamples is 32 sequences,
 * not 128, so that a benchmark cell calibrates in seconds; the paper shows
 * Wanda to be robust to fewer samples.  The reference counts n_pruned =
 * int(s·n_in) (floor); here it is round(s·n_in), as every prunebench
 * pruner, which is the same for s·n_in integral (50 % of an even width).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <prunebench/plugin.h>

#include "prune-util.h"

struct wanda_config {
	double sparsity;
	int64_t n, m;         /* n:m with n > 0; 0:0 = unstructured */
	int tensors;          /* enum pu_tensors */
	int64_t nsamples, seqlen;
};

struct wanda_state {
	const struct pb_host *host;
	struct wanda_config cfg;
	struct pb_prune_target *targets;
	int n_pruned;
};

static int wanda_init(const struct pb_host *h, const void *config, void **state)
{
	const struct wanda_config *c = config;
	struct wanda_state *s;

	if (!(c->sparsity >= 0.0 && c->sparsity <= 1.0)) {
		h->log(h, PB_LOG_ERROR, "sparsity must be between 0 and 1, got %g", c->sparsity);
		return -EINVAL;
	}
	if ((c->n || c->m) && !(c->n >= 1 && c->n < c->m && c->m <= 256)) {
		h->log(h, PB_LOG_ERROR, "n:m must satisfy 1 <= n < m <= 256 (or both 0 for "
		       "unstructured), got %lld:%lld", (long long)c->n, (long long)c->m);
		return -EINVAL;
	}
	if (c->tensors < PU_TENSORS_ATTENTION || c->tensors > PU_TENSORS_ALL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *c;
	if (c->n)
		h->log(h, PB_LOG_DEBUG, "n:m %lld:%lld set: sparsity %g is not used",
		       (long long)c->n, (long long)c->m, c->sparsity);
	*state = s;
	return 0;
}

static void wanda_fini(void *state)
{
	free(state);
}

static int wanda_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct wanda_state *s = state;
	return pu_check_model(m, s->cfg.tensors, why, len);
}

static double target_of(const struct wanda_config *c)
{
	return c->n ? 1.0 - (double)c->n / (double)c->m : c->sparsity;
}

static int prune_one(void *ctx, struct pb_model *m, struct pb_tensor *t,
		     const struct pb_linear_stats *st)
{
	struct wanda_state *s = ctx;
	int rc = pu_tensor_ok(s->host, t);

	if (rc)
		return rc;
	rc = pu_prune_rows(t, st->col_sq, (int)s->cfg.n, (int)s->cfg.m, s->cfg.sparsity);
	if (rc) {
		s->host->log(s->host, PB_LOG_ERROR, "out of memory pruning '%s'", t->name);
		return rc;
	}
	s->targets[t - m->tensors].sparsity = target_of(&s->cfg);
	s->n_pruned++;
	return 0;
}

static int wanda_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		       struct pb_prune_target *targets)
{
	struct wanda_state *s = state;
	int rc;

	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1.0;
	s->targets = targets;
	s->n_pruned = 0;
	rc = pu_calib_walk(s->host, m, calib, PB_CALIB_COL_SQ, s->cfg.tensors, prune_one, s);
	if (!rc)
		s->host->log(s->host, PB_LOG_INFO, "%d linears pruned to %g%s", s->n_pruned,
			     target_of(&s->cfg), s->cfg.n ? " (n:m)" : "");
	return rc;
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option wanda_options[] = {
	{ .key = "sparsity", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct wanda_config, sparsity), .def = "0.5", .min = 0, .max = 1,
	  .help = "fraction of each output row's weights to zero (unstructured; ignored with n:m)" },
	PU_OPT_NM_OR_UNSTRUCTURED(struct wanda_config),
	PU_OPT_TENSORS(struct wanda_config, tensors),
	PU_OPT_CALIB(struct wanda_config, "; the paper uses 128, 32 keeps cells fast"),
	PB_OPTIONS_END
};

static const struct pb_pruner_ops wanda_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = wanda_apply,
	.check = wanda_check,
	.calib = PB_CALIB_COL_SQ,
	.in_formats = PU_DENSE_FORMATS,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "wanda",
	.version = "1.0.0",
	.summary = "Wanda: |W|·‖X‖ per output row, sequential by block (unstructured or N:M)",
	.options = wanda_options,
	.config_size = sizeof(struct wanda_config),
	.init = wanda_init,
	.fini = wanda_fini,
	.ops = &wanda_ops,
};

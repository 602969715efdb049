/* plugins/pruners/layers/layers.c — drops whole transformer blocks of a
 * Llama-family decoder (llama, qwen2, qwen3): the `count` blocks of lowest Block Influence (ShortGPT:
 * BI = 1 − mean cos(h_in, h_out) over calibration tokens, from the
 * calibration handle), or the blocks an `indices` list names.  Their
 * tensors are removed (host->tensor_remove), the blocks after them move
 * down (pb_tensor.layer) and hp.n_layers shrinks, so the KV cache shrinks
 * too.
 *
 * Tensor names keep their original block number ("blk.7.attn_q.weight"
 * may now sit at layer 5): they are the tensors' identity in the cell's
 * records (tensors.csv shows which block went), and the GGUF writer names
 * tensors from (layer, role), so a written model is numbered 0..n-1.
 *
 * T5 is not supported: its stacks share a relative-position bias stored
 * at block 0 and the decoder's blocks carry cross-attention; dropping a
 * block there is a different operation. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "options.h"

#define MAX_IDX 256

struct layers_config {
	int64_t count;
	char indices[PB_OPT_STR_MAX];
	int64_t nsamples, seqlen;   /* calibration size (core/run/calib.h reads them) */
};

struct layers_state {
	const struct pb_host *h;
	struct layers_config cfg;
	int idx[MAX_IDX];     /* parsed `indices` */
	int n_idx;
};

#define LOG(s, lvl, ...) ((s)->h->log((s)->h, (lvl), __VA_ARGS__))

/* "3, 5,7" → {3, 5, 7}: non-negative, no repeats.  -EINVAL with why. */
static int parse_indices(const char *text, int *out, int *n, char *why, size_t len)
{
	const char *p = text;
	*n = 0;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 1000000) {
			snprintf(why, len, "indices '%.64s': expected block numbers separated by commas "
				 "(at character %d)", text, (int)(p - text) + 1);
			return -EINVAL;
		}
		for (int i = 0; i < *n; i++)
			if (out[i] == v) {
				snprintf(why, len, "indices '%.64s': block %ld named twice", text, v);
				return -EINVAL;
			}
		if (*n == MAX_IDX) {
			snprintf(why, len, "indices '%.64s': more than %d blocks", text, MAX_IDX);
			return -EINVAL;
		}
		out[(*n)++] = (int)v;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')
			p++;
		else if (*p) {
			snprintf(why, len, "indices '%.64s': unexpected '%c' at character %d", text, *p,
				 (int)(p - text) + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int layers_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct layers_state *s = state;
	int want = s->n_idx ? s->n_idx : (int)s->cfg.count;
	if (m->arch == PB_ARCH_T5) {
		snprintf(why, len, "layer dropping supports decoder-only models only (T5 shares a "
			 "relative-position bias across a stack's blocks)");
		return -ENOTSUP;
	}
	if (m->arch == PB_ARCH_GEMMA2 || m->arch == PB_ARCH_GEMMA3) {
		snprintf(why, len, "layer dropping does not support Gemma: which blocks use a sliding "
			 "window follows their index (llama.cpp's pattern), so the blocks after a dropped "
			 "one would change kind");
		return -ENOTSUP;
	}
	if (m->arch != PB_ARCH_LLAMA && m->arch != PB_ARCH_QWEN2 && m->arch != PB_ARCH_QWEN3 &&
	    m->arch != PB_ARCH_PHI3) {
		snprintf(why, len, "layer dropping supports llama, qwen2, qwen3 and phi3 models, not "
			 "architecture %d", (int)m->arch);
		return -ENOTSUP;
	}
	if (want >= m->hp.n_layers && want > 0) {
		snprintf(why, len, "cannot drop %d of the model's %d blocks: one must stay", want,
			 m->hp.n_layers);
		return -EINVAL;
	}
	for (int i = 0; i < s->n_idx; i++)
		if (s->idx[i] >= m->hp.n_layers) {
			snprintf(why, len, "block %d does not exist (the model has %d, numbered from 0)",
				 s->idx[i], m->hp.n_layers);
			return -EINVAL;
		}
	return 0;
}

/* Mark the count blocks of lowest BI (ties: the earlier block). */
static int pick_by_bi(struct layers_state *s, const struct pb_model *m, struct pb_calib *calib,
		      uint8_t *drop)
{
	const int L = m->hp.n_layers;
	if (!calib || !calib->block_influence) {
		LOG(s, PB_LOG_ERROR, "Block Influence needs calibration data: give the dataset a "
		    "`calibration: {count, seqlen}` split, or name the blocks with `indices`");
		return -EINVAL;
	}
	double *bi = calloc((size_t)L, sizeof *bi);
	if (!bi)
		return -ENOMEM;
	int rc = calib->block_influence(calib, PB_STACK_DECODER, bi, L);
	if (rc < 0) {
		LOG(s, PB_LOG_ERROR, "Block Influence failed");
		free(bi);
		return rc;
	}
	for (int k = 0; k < s->cfg.count; k++) {
		int best = -1;
		for (int l = 0; l < L; l++)
			if (!drop[l] && (best < 0 || bi[l] < bi[best]))
				best = l;
		drop[best] = 1;
		LOG(s, PB_LOG_INFO, "block %d: Block Influence %.6f, dropped", best, bi[best]);
	}
	free(bi);
	return 0;
}

static int layers_apply(void *state, struct pb_model *m, struct pb_calib *calib,
			struct pb_prune_target *targets)
{
	struct layers_state *s = state;
	char why[256];
	int rc = layers_check(state, m, why, sizeof why);
	if (rc < 0) {
		LOG(s, PB_LOG_ERROR, "%s", why);
		return rc;
	}
	const int L = m->hp.n_layers;
	if (!s->n_idx && s->cfg.count == 0)
		return 0;
	if (!PB_HOST_HAS(s->h, tensor_remove)) {
		LOG(s, PB_LOG_ERROR, "this prunebench cannot remove tensors (host too old)");
		return -ENOTSUP;
	}
	uint8_t *drop = calloc((size_t)L, 1);
	int *shift = calloc((size_t)L, sizeof *shift);
	if (!drop || !shift) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < s->n_idx; i++)
		drop[s->idx[i]] = 1;
	if (!s->n_idx && (rc = pick_by_bi(s, m, calib, drop)) < 0)
		goto out;
	/* targets are indexed as the table was at the start: mark first */
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->stack == PB_STACK_DECODER && t->layer >= 0 && t->layer < L && drop[t->layer])
			targets[i].sparsity = 1.0;
	}
	for (int i = m->n_tensors - 1; i >= 0; i--) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->stack == PB_STACK_DECODER && t->layer >= 0 && t->layer < L && drop[t->layer] &&
		    (rc = s->h->tensor_remove(s->h, m, i)) < 0) {
			LOG(s, PB_LOG_ERROR, "cannot remove tensor '%s'", t->name);
			goto out;
		}
	}
	int gone = 0;
	for (int l = 0; l < L; l++) {
		shift[l] = gone;
		gone += drop[l];
	}
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (t->stack == PB_STACK_DECODER && t->layer >= 0 && t->layer < L)
			t->layer -= shift[t->layer];
	}
	m->hp.n_layers = L - gone;
	LOG(s, PB_LOG_INFO, "%d of %d blocks dropped", gone, L);
out:
	free(drop);
	free(shift);
	return rc;
}

static int layers_init(const struct pb_host *h, const void *config, void **state)
{
	struct layers_state *s = calloc(1, sizeof *s);
	char why[256];
	if (!s)
		return -ENOMEM;
	s->h = h;
	s->cfg = *(const struct layers_config *)config;
	s->cfg.indices[PB_OPT_STR_MAX - 1] = '\0';
	int rc = parse_indices(s->cfg.indices, s->idx, &s->n_idx, why, sizeof why);
	if (rc == 0 && s->n_idx && s->cfg.count && s->cfg.count != s->n_idx) {
		snprintf(why, sizeof why, "count %lld disagrees with the %d blocks of indices '%.64s'",
			 (long long)s->cfg.count, s->n_idx, s->cfg.indices);
		rc = -EINVAL;
	}
	if (rc < 0) {
		h->log(h, PB_LOG_ERROR, "%s", why);
		free(s);
		return rc;
	}
	if (!s->n_idx && !s->cfg.count)
		h->log(h, PB_LOG_WARN, "neither `count` nor `indices` given: no block is dropped");
	*state = s;
	return 0;
}

static void layers_fini(void *state)
{
	free(state);
}

/* Blocks named by index need no Block Influence. */
static unsigned calib_for(const void *config)
{
	const struct layers_config *c = config;
	return c->indices[0] ? 0 : PB_CALIB_COL_SQ;
}

static const struct pb_pruner_ops layers_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = layers_apply,
	.check = layers_check,
	/* any bit asks for the handle; block_influence needs no statistic,
	 * and with `indices` the handle goes unused */
	.calib = PB_CALIB_COL_SQ,
	.calib_for = calib_for,
	.in_formats = PB_FMT(PB_F32) | PB_FMT(PB_F16) | PB_FMT(PB_BF16) | PB_FMT(PB_Q8_0) |
		      PB_FMT(PB_Q4_0) | PB_FMT(PB_Q2_K) | PB_FMT(PB_Q3_K) | PB_FMT(PB_Q4_K) |
		      PB_FMT(PB_Q5_K) | PB_FMT(PB_Q6_K),
	.archs = 1u << PB_ARCH_LLAMA | 1u << PB_ARCH_QWEN2 | 1u << PB_ARCH_QWEN3 | 1u << PB_ARCH_PHI3,
};

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option layers_options[] = {
	{ .key = "count", .type = PB_OPT_INT, .offset = offsetof(struct layers_config, count),
	  .def = "0", .min = 0, .max = 4096,
	  .help = "blocks to drop: those of lowest Block Influence (ShortGPT) on the calibration split" },
	{ .key = "indices", .type = PB_OPT_STRING, .offset = offsetof(struct layers_config, indices),
	  .def = "", .help = "blocks to drop instead, numbered from 0, e.g. \"3,5\" (no calibration needed)" },
	PC_OPT_CALIB_OR_DATASET(struct layers_config, "Block Influence"),
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "layers",
	.version = "1.0.0",
	.summary = "structured: drops whole blocks by Block Influence (ShortGPT) or by index",
	.options = layers_options,
	.config_size = sizeof(struct layers_config),
	.init = layers_init,
	.fini = layers_fini,
	.ops = &layers_ops,
};

/* plugins/common/shrink.h — what the structured pruners (heads,
 * ffn) share: squared norms of rows and columns of a dense weight, the
 * k lowest scores, the whole-model ranking of `scope: global`, and
 * shrinking a linear to the rows or columns it keeps through
 * host->tensor_realloc.  shrink.c is compiled into each plugin that uses
 * it (plugins cannot link the core nor each other). */
#ifndef PB_PRUNER_SHRINK_H
#define PB_PRUNER_SHRINK_H

#include <stdint.h>

#include <prunebench/plugin.h>

/* heads' and ffn's config: the same four settings, filled by each one's
 * own option table (whose help speaks of groups or of neurons). */
enum { SHRINK_SCOPE_LAYER = 0, SHRINK_SCOPE_GLOBAL = 1 };
enum { SHRINK_IMP_WEIGHT = 0, SHRINK_IMP_ACTIVATION = 1 };
struct shrink_config {
	double ratio;               /* share of units to remove */
	int scope;                  /* SHRINK_SCOPE_* */
	int importance;             /* SHRINK_IMP_* */
	int64_t nsamples, seqlen;   /* calibration size (core/run/calib.h reads them) */
};

struct shrink_state {
	const struct pb_host *h;
	struct shrink_config cfg;
};

/* Their init (needs host->tensor_realloc), fini and calib_for: a
 * weight-ranked importance needs no activations. */
int shrink_init(const struct pb_host *h, const void *config, void **state);
void shrink_fini(void *state);
unsigned shrink_calib_for(const void *config);

/* The start of their apply(): check_rc and why from the plugin's check()
 * on the model.  0: go on; 1: nothing to do (ratio 0); -errno, logged. */
int shrink_apply_start(const struct shrink_state *s, int check_rc, const char *why,
		       const struct pb_calib *calib);

/* A score and where it came from, for global rankings. */
struct shrink_unit {
	double score;
	int layer, stack, index;   /* layer, stack and unit index within the layer */
	int slot;                  /* shrink_rank's slot (not a sort key) */
};

/* Formats these helpers read: F32, F16 and BF16 with data for the shape. */
int shrink_dense(const struct pb_tensor *t);

/* Σ W[r][c]² over columns c in [c0, c1) of rows [r0, r1). */
double shrink_sq(const struct pb_tensor *t, int64_t r0, int64_t r1, int64_t c0, int64_t c1);

/* The k lowest of n scores (ties: lower index first) marked in drop[]. */
void shrink_lowest(const double *score, int n, int k, uint8_t *drop);

/* Sort units by ascending score (ties: stack, layer, index). */
void shrink_sort_units(struct shrink_unit *u, int n);

/* The whole-model ranking of `scope: global`: every block (a slot: heads
 * has one per layer, ffn one per layer of each stack) adds its scored
 * units; then the round(ratio × all units) lowest go, except that every
 * slot keeps one. */
struct shrink_rank {
	int n_slots;
	int *left;              /* per slot: units it still keeps */
	uint8_t **drop;         /* per slot: drop[slot][i] = 1 removes unit i; NULL: none added */
	struct shrink_unit *u;
	int n, cap, total;
};
int shrink_rank_init(struct shrink_rank *r, int n_slots);   /* 0 or -ENOMEM */
/* Slot `slot`, block `layer` of `stack`, has n units scored score[0..n).
 * 0 or -ENOMEM. */
int shrink_rank_add(struct shrink_rank *r, int slot, int stack, int layer, const double *score,
		    int n);
/* Mark the lowest units in r->drop; returns how many of those asked could
 * not go because their slot was down to one. */
int shrink_rank_pick(struct shrink_rank *r, double ratio);
void shrink_rank_free(struct shrink_rank *r);

/* Keep the rows (ne[1]) or columns (ne[0]) whose drop[] is 0: the tensor
 * gets a new, smaller owned buffer.  0 or -errno. */
int shrink_rows(const struct pb_host *h, struct pb_tensor *t, const uint8_t *drop);
int shrink_cols(const struct pb_host *h, struct pb_tensor *t, const uint8_t *drop);

/* round(ratio * n), at most n - 1 so that a layer keeps one unit. */
int shrink_count(double ratio, int n);

#endif

/* plugins/pruners/random/random.c — uniformly random unstructured pruning,
 * the baseline every informed pruner must beat.
 *
 * Zeroes exactly k = round(sparsity × n) weights chosen uniformly at random
 * among the n weights of each selected tensor (per-tensor), or among all
 * selected weights at once (global).  Selection sampling (Knuth, TAOCP
 * vol. 2, 3.4.2 algorithm S) visits every weight once and takes it with
 * probability (k still needed) / (weights still to visit): exactly k, every
 * k-subset equally likely, no memory beyond the generator, so global scope
 * over billions of weights costs one pass.
 *
 * The generator (xoshiro256**, seeded by splitmix64 from the cell's seed
 * and the plugin's `seed` option) is private to the plugin, so the same
 * seed gives the same mask on every machine.  Weights that are already zero
 * may be chosen again; the core measures the achieved sparsity.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "prune-util.h"

enum rnd_scope { SCOPE_PER_TENSOR = 0, SCOPE_GLOBAL };

struct rnd_config {
	double sparsity;
	int scope;            /* enum rnd_scope */
	int tensors;          /* enum pu_tensors */
	int include_output;
	int64_t seed;         /* mixed with the cell's seed */
};

struct rnd_state {
	const struct pb_host *host;
	struct rnd_config cfg;
};

/* ---- xoshiro256** ------------------------------------------------------------ */

struct rng { uint64_t s[4]; };

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* [0, 1) with 53 random bits */
static double rng_uniform(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Algorithm S over the weights of ts[0..nt) taken as one sequence: k of
 * them go.  `left` counts the weights not yet visited; when it equals k,
 * every remaining weight is taken, so exactly k always go. */
static void sample_zero(struct rng *r, struct pb_tensor *const *ts, int nt, uint64_t k)
{
	uint64_t left = 0;

	for (int j = 0; j < nt; j++)
		left += (uint64_t)pb_tensor_nelements(ts[j]);
	for (int j = 0; j < nt && k; j++) {
		struct pb_tensor *t = ts[j];
		size_t sz = pb_dtype_block_bytes(t->dtype);
		int64_t n = pb_tensor_nelements(t);
		for (int64_t i = 0; i < n && k; i++, left--) {
			if (rng_uniform(r) * (double)left < (double)k) {
				memset((char *)t->data + (size_t)i * sz, 0, sz);
				k--;
			}
		}
	}
}

/* ---- hooks ------------------------------------------------------------------------ */

/* Shaped like magnitude's hooks on purpose (see magnitude.c). */
static int rnd_init(const struct pb_host *h, const void *config, void **state)
{
	const struct rnd_config *c = config;
	struct rnd_state *s;
	int rc = pu_roles_config_ok(h, c->sparsity, c->scope, SCOPE_GLOBAL + 1, c->tensors);

	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *c;
	*state = s;
	return 0;
}

static void rnd_fini(void *state)
{
	free(state);
}

static int rnd_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct rnd_state *s = state;
	return pu_check_roles(m, s->cfg.tensors, s->cfg.include_output, why, len);
}

static int rnd_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		     struct pb_prune_target *targets)
{
	struct rnd_state *s = state;
	struct pu_set set;
	struct rng r;
	int rc;

	(void)calib;
	rc = pu_set_gather(s->host, m, s->cfg.tensors, s->cfg.include_output, targets, &set);
	if (rc || !set.n)
		goto out;
	/* the plugin's own stream: another pruner seeded from the same cell
	 * seed does not draw the same numbers */
	rng_seed(&r, s->host->seed ^ 0x72616e646f6d0000ull ^ (uint64_t)s->cfg.seed * 0x9e3779b97f4a7c15ull);
	if (s->cfg.scope == SCOPE_GLOBAL) {
		sample_zero(&r, set.t, set.n, (uint64_t)pu_count(s->cfg.sparsity, (int64_t)set.total));
	} else {
		for (int j = 0; j < set.n; j++)
			sample_zero(&r, &set.t[j], 1, (uint64_t)pu_count(s->cfg.sparsity,
				    pb_tensor_nelements(set.t[j])));
	}
	pu_set_mark(&set, m, targets, s->cfg.sparsity);
	s->host->log(s->host, PB_LOG_INFO, "zeroed a random %g of %d tensors (%llu weights), %s",
		     s->cfg.sparsity, set.n, (unsigned long long)set.total,
		     s->cfg.scope == SCOPE_GLOBAL ? "global" : "per tensor");
out:
	pu_set_free(&set);
	return rc;
}

/* ---- descriptor -------------------------------------------------------------------- */

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option rnd_options[] = {
	{ .key = "sparsity", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct rnd_config, sparsity), .def = "0.5", .min = 0, .max = 1,
	  .help = "fraction of the selected weights to zero, exactly round(sparsity × n)" },
	{ .key = "scope", .type = PB_OPT_ENUM,
	  .offset = offsetof(struct rnd_config, scope), .def = "per-tensor",
	  .min = 1, .max = 0, .choices = "per-tensor|global",
	  .help = "draw within each tensor, or once across all selected tensors" },
	PU_OPT_ROLES(struct rnd_config),
	{ .key = "seed", .type = PB_OPT_INT,
	  .offset = offsetof(struct rnd_config, seed), .def = "0", .min = 0, .max = 1e15,
	  .help = "mixed with the cell's seed: different masks at the same cell seed" },
	PB_OPTIONS_END
};

static const struct pb_pruner_ops rnd_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = rnd_apply,
	.check = rnd_check,
	.in_formats = PU_DENSE_FORMATS,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "random",
	.version = "1.0.0",
	.summary = "uniformly random unstructured pruning, seeded (a baseline)",
	.options = rnd_options,
	.config_size = sizeof(struct rnd_config),
	.init = rnd_init,
	.fini = rnd_fini,
	.ops = &rnd_ops,
};

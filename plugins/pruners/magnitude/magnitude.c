/* plugins/pruners/magnitude/magnitude.c — unstructured magnitude pruning.
 *
 * Zeroes exactly k = round(sparsity × n) weights with the smallest |w|,
 * either per tensor, with one global ranking over every selected tensor
 * (global magnitude pruning), or per output row (each row of n_in weights
 * loses its own round(sparsity × n_in), the comparison group Wanda uses).
 * Ties are broken by position (tensor order in the model, then element
 * index), so the result is exact and deterministic even when many weights
 * share a magnitude; weights that are already zero rank lowest.
 *
 * The k-th smallest magnitude is found by a two-pass radix select on the
 * IEEE bits of |w| as a float (non-negative floats order like their bit
 * patterns): O(n) time and one 65536-bucket histogram of memory, which
 * matters for global scope over billions of weights, where a sort of
 * (|w|, index) keys would need gigabytes.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prunebench/plugin.h>

#include "prune-util.h"

enum mag_scope { SCOPE_PER_TENSOR = 0, SCOPE_GLOBAL, SCOPE_PER_ROW };

struct mag_config {
	double sparsity;
	int scope;            /* enum mag_scope */
	int tensors;          /* enum pu_tensors */
	int include_output;
};

struct mag_state {
	const struct pb_host *host;
	struct mag_config cfg;
};

#define HIST_BUCKETS 65536

/* ---- magnitudes as ordered keys ----------------------------------------- */

static uint32_t f32_key(float v)
{
	uint32_t b;
	memcpy(&b, &v, 4);
	return b & 0x7fffffffu;   /* |v|; NaN ranks above +inf: never pruned first */
}

#define CHUNK 4096

/* The key of every half magnitude, indexed by its 15 bits: F16 keys by
 * table lookup instead of a branchy conversion per weight. */
static uint32_t f16_keys[1u << 15];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static void f16_keys_init(void)
{
	for (uint32_t h = 0; h < (1u << 15); h++)
		f16_keys[h] = f32_key(pb_fp16_to_fp32((uint16_t)h));
}

/* Keys of elements [i0, i0 + cnt) into out: one dtype switch per chunk so
 * that the inner loops stay simple (and vectorise). */
static void chunk_keys(const struct pb_tensor *t, int64_t i0, int cnt, uint32_t *out)
{
	const char *p = (const char *)t->data;
	uint16_t h;
	float v;

	switch (t->dtype) {
	case PB_F32:
		for (int i = 0; i < cnt; i++) {
			memcpy(&v, p + (i0 + i) * 4, 4);
			out[i] = f32_key(v);
		}
		break;
	case PB_F16:
		for (int i = 0; i < cnt; i++) {
			memcpy(&h, p + (i0 + i) * 2, 2);
			out[i] = f16_keys[h & 0x7fff];
		}
		break;
	case PB_BF16:   /* a bf16 is the top half of a float */
		for (int i = 0; i < cnt; i++) {
			memcpy(&h, p + (i0 + i) * 2, 2);
			out[i] = (uint32_t)(h & 0x7fff) << 16;
		}
		break;
	default:
		memset(out, 0, (size_t)cnt * sizeof(*out));
		break;
	}
}

/* Calls body once per element with `key` and `t`, `i` in scope. */
#define FOR_EACH_KEY(ts, nt, keys, body)						\
	for (int j_ = 0; j_ < (nt); j_++) {						\
		struct pb_tensor *t = (ts)[j_];						\
		int64_t n_ = pb_tensor_nelements(t);					\
		for (int64_t c_ = 0; c_ < n_; c_ += CHUNK) {				\
			int cnt_ = n_ - c_ < CHUNK ? (int)(n_ - c_) : CHUNK;		\
			chunk_keys(t, c_, cnt_, (keys));				\
			for (int k_ = 0; k_ < cnt_; k_++) {				\
				uint32_t key = (keys)[k_];				\
				int64_t i = c_ + k_;					\
				(void)i;						\
				body;							\
			}								\
		}									\
	}

static void elem_zero(struct pb_tensor *t, int64_t i)
{
	size_t sz = pb_dtype_block_bytes(t->dtype);
	memset((char *)t->data + (size_t)i * sz, 0, sz);
}

/* Zero the k smallest (|w|, position) over the tensors ts[0..nt).  Finds
 * the threshold key T and how many weights equal to T to take; below T all
 * go, at T the first `take` in position order. */
static int prune_set(struct pb_tensor *const *ts, int nt, uint64_t k)
{
	uint64_t *hist, below = 0, take;
	uint32_t *keys, hi, lo, thr;

	if (k == 0)
		return 0;
	pthread_once(&f16_once, f16_keys_init);
	hist = calloc(HIST_BUCKETS, sizeof(*hist));
	keys = malloc(CHUNK * sizeof(*keys));
	if (!hist || !keys) {
		free(hist);
		free(keys);
		return -ENOMEM;
	}

	/* pass 1: high 16 bits */
	FOR_EACH_KEY(ts, nt, keys, hist[key >> 16]++);
	for (hi = 0; hi < HIST_BUCKETS - 1 && below + hist[hi] < k; hi++)
		below += hist[hi];

	/* pass 2: low 16 bits inside bucket hi */
	memset(hist, 0, HIST_BUCKETS * sizeof(*hist));
	FOR_EACH_KEY(ts, nt, keys, if (key >> 16 == hi) hist[key & 0xffff]++);
	for (lo = 0; lo < HIST_BUCKETS - 1 && below + hist[lo] < k; lo++)
		below += hist[lo];

	/* pass 3: zero below T, and the first `take` equal to T */
	thr = hi << 16 | lo;
	take = k - below;
	FOR_EACH_KEY(ts, nt, keys,
		     if (key < thr || (key == thr && take && take--)) elem_zero(t, i));
	free(keys);
	free(hist);
	return 0;
}

/* Per row: a row is short (n_in weights), so sorting (key, column) pairs
 * beats two passes over a 65536-bucket histogram per row. */
struct row_key { uint32_t key, col; };

static int row_key_cmp(const void *pa, const void *pb)
{
	const struct row_key *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->col < b->col ? -1 : a->col > b->col;
}

static int prune_rows(struct pb_tensor *t, double sparsity)
{
	int64_t cols = t->ne[0], rows = pb_tensor_nelements(t) / cols;
	uint64_t k = (uint64_t)pu_count(sparsity, cols);
	uint32_t *keys;
	struct row_key *rk;

	if (k == 0)
		return 0;
	if (cols > INT32_MAX)
		return -EINVAL;
	pthread_once(&f16_once, f16_keys_init);
	keys = malloc((size_t)cols * sizeof(*keys));
	rk = malloc((size_t)cols * sizeof(*rk));
	if (!keys || !rk) {
		free(keys);
		free(rk);
		return -ENOMEM;
	}
	for (int64_t r = 0; r < rows; r++) {
		chunk_keys(t, r * cols, (int)cols, keys);
		for (int64_t j = 0; j < cols; j++) {
			rk[j].key = keys[j];
			rk[j].col = (uint32_t)j;
		}
		qsort(rk, (size_t)cols, sizeof(*rk), row_key_cmp);
		for (uint64_t j = 0; j < k; j++)
			elem_zero(t, r * cols + rk[j].col);
	}
	free(rk);
	free(keys);
	return 0;
}

/* ---- hooks ---------------------------------------------------------------- */

/* init, fini and check have the shape of random's (random.c) on purpose:
 * each state keeps its own config; what the two share (the option checks,
 * the selection, the tensor checks) is in plugins/common/prune-util. */
static int mag_init(const struct pb_host *h, const void *config, void **state)
{
	const struct mag_config *c = config;
	struct mag_state *s;
	int rc = pu_roles_config_ok(h, c->sparsity, c->scope, SCOPE_PER_ROW + 1, c->tensors);

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

static void mag_fini(void *state)
{
	free(state);
}

static int mag_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct mag_state *s = state;
	return pu_check_roles(m, s->cfg.tensors, s->cfg.include_output, why, len);
}

static int mag_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		     struct pb_prune_target *targets)
{
	struct mag_state *s = state;
	struct pu_set set;
	int rc;

	(void)calib;
	rc = pu_set_gather(s->host, m, s->cfg.tensors, s->cfg.include_output, targets, &set);
	if (rc || !set.n)
		goto out;
	if (s->cfg.scope == SCOPE_GLOBAL) {
		rc = prune_set(set.t, set.n, (uint64_t)pu_count(s->cfg.sparsity, (int64_t)set.total));
	} else if (s->cfg.scope == SCOPE_PER_ROW) {
		for (int j = 0; j < set.n && !rc; j++)
			rc = prune_rows(set.t[j], s->cfg.sparsity);
	} else {
		for (int j = 0; j < set.n && !rc; j++)
			rc = prune_set(&set.t[j], 1, (uint64_t)pu_count(s->cfg.sparsity,
				       pb_tensor_nelements(set.t[j])));
	}
	if (rc) {
		s->host->log(s->host, PB_LOG_ERROR, "pruning failed: %s", strerror(-rc));
		goto out;
	}
	pu_set_mark(&set, m, targets, s->cfg.sparsity);
	s->host->log(s->host, PB_LOG_INFO, "pruned %d tensors (%llu weights) to sparsity %g, %s",
		     set.n, (unsigned long long)set.total, s->cfg.sparsity,
		     s->cfg.scope == SCOPE_GLOBAL ? "global" :
		     s->cfg.scope == SCOPE_PER_ROW ? "per row" : "per tensor");
out:
	pu_set_free(&set);
	return rc;
}

/* ---- descriptor ------------------------------------------------------------ */

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option mag_options[] = {
	{ .key = "sparsity", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct mag_config, sparsity), .def = "0.5", .min = 0, .max = 1,
	  .help = "fraction of the selected weights to zero" },
	{ .key = "scope", .type = PB_OPT_ENUM,
	  .offset = offsetof(struct mag_config, scope), .def = "per-tensor",
	  .min = 1, .max = 0, .choices = "per-tensor|global|per-row",
	  .help = "rank weights within each tensor, once across all selected tensors, "
		  "or within each output row (every row loses round(sparsity × n_in))" },
	PU_OPT_ROLES(struct mag_config),
	PB_OPTIONS_END
};

static const struct pb_pruner_ops mag_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = mag_apply,
	.check = mag_check,
	.in_formats = PU_DENSE_FORMATS,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "magnitude",
	.version = "1.1.0",
	.summary = "unstructured magnitude pruning (per tensor, global or per row)",
	.options = mag_options,
	.config_size = sizeof(struct mag_config),
	.init = mag_init,
	.fini = mag_fini,
	.ops = &mag_ops,
};

/* core/experiment/xp.h — the experiment room's private parts: the YAML node
 * tree (with positions), the parse context that formats errors, and the
 * functions the room's files share.  Not for other rooms: they use
 * experiment.h.
 */
#ifndef PB_XP_H
#define PB_XP_H

#include <stddef.h>

#include "experiment.h"

enum xnode_kind { XN_SCALAR = 1, XN_MAP, XN_SEQ };

/* One YAML node, owned by its parent.  Aliases are expanded into copies, so
 * the tree really is a tree and a node can be edited (--set) in place. */
struct xnode {
	enum xnode_kind kind;
	int line, col;                /* 1-based, of the node's start */
	int origin;                   /* -1: the file; else the --set index */
	int plain;                    /* scalar written without quotes */
	char *text;                   /* scalar text */
	struct xnode **keys;          /* map: key scalars; NULL for a sequence */
	struct xnode **vals;          /* map values / sequence items */
	int n, cap;
};

/* Budget against "billion laughs" alias expansion. */
#define XP_MAX_NODES 200000
#define XP_MAX_DEPTH 128

struct xctx {
	const char *file;
	const char *const *sets;
	int n_sets;
	char *err;
	size_t len;
	int failed;
	const struct pb_registry *reg;
	struct pb_experiment *e;
	struct xnode *root;
	const struct xnode *defaults;   /* the `defaults:` mapping or NULL */
	/* The entry each expanded axis entry came from (before sweeps), so
	 * include/exclude rules may name either; indexed like e->models etc. */
	char (*orig[4])[PB_NAME_MAX];
	const struct xnode *aa_node;    /* `aa_control:`, for its errors */
};

enum xp_axis { XA_MODEL = 0, XA_DATASET, XA_PRUNER, XA_BACKEND };

/* experiment.c: the first error wins; the message is prefixed with
 * "file:line:col: " (or "--set TEXT: " for a node that came from a --set) */
int xerr(struct xctx *c, const struct xnode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* " (did you mean 'x'?)" for the closest of cands, or "". */
const char *xp_dym(char *buf, size_t len, const char *word, const char *const *cands, int n);

/* node.c */
int xn_load(struct xctx *c, const char *text, size_t len, int origin, struct xnode **out);
void xn_free(struct xnode *n);
struct xnode *xn_new(enum xnode_kind kind, int line, int col, int origin);
int xn_push(struct xnode *map_or_seq, struct xnode *key, struct xnode *val);
struct xnode *xn_get(const struct xnode *map, const char *key);
/* The key node itself (for errors about a key's presence), or NULL. */
struct xnode *xn_key(const struct xnode *map, const char *key);
int xn_is_null(const struct xnode *n);
/* A mapping of exactly { sweep: ... }. */
int xn_is_sweep(const struct xnode *n);
const char *xn_kind_name(const struct xnode *n);

/* set.c */
int xp_apply_set(struct xctx *c, int idx);

/* parse.c: fixed settings, models and datasets */
int xp_parse_settings(struct xctx *c);
int xp_parse_models(struct xctx *c);
int xp_parse_datasets(struct xctx *c);
int xp_scalar(struct xctx *c, const struct xnode *n, const char *what);
int xp_check_name(struct xctx *c, const struct xnode *at, const char *name, const char *what);

/* network.c: a preset name or {delay_ms, jitter_ms, loss_pct, rate_mbit} */
int xp_parse_link(struct xctx *c, const struct xnode *n, struct pb_link *out);
/* load.c: `load:` and `slo:` (top level), a backend entry's load (its
 * own `load:` or the top level's; refused on an in-process backend) */
int xp_parse_load(struct xctx *c, const struct xnode *n, const char *what,
		  struct pb_load_spec *out);
int xp_parse_load_settings(struct xctx *c);
int xp_backend_load(struct xctx *c, const struct xnode *entry, struct pb_backend_spec *b);

/* slurm.c: the `slurm:` block into e->slurm; freed by pb_experiment_free */
int xp_parse_slurm(struct xctx *c);
void xp_slurm_clear(struct pb_slurm_spec *s);

/* steps.c: plugin uses, chains, backends, probes */
int xp_parse_defaults(struct xctx *c);
int xp_parse_pruners(struct xctx *c);
int xp_parse_backends(struct xctx *c);
int xp_parse_probes(struct xctx *c);
void xp_step_clear(struct pb_step *s);

/* sweep.c: expand one axis entry (val may be NULL) into its sweep variants,
 * calling fn once per variant with its unique name */
typedef int (*xp_entry_fn)(struct xctx *c, const struct xnode *key, struct xnode *val,
			   const char *name, void *arg);
int xp_expand_entry(struct xctx *c, enum xp_axis axis, const struct xnode *key,
		    struct xnode *val, xp_entry_fn fn, void *arg);

/* cells.c: include/exclude, the matrix, config text and ids */
int xp_build_cells(struct xctx *c);

#endif

/* core/experiment/sweep.c — expanding one axis entry into its sweep
 * variants.
 *
 * Any option value written `{sweep: [a, b, c]}` inside an entry makes one
 * entry per value; several sweeps in one entry make their product, the
 * first sweep (in document order) varying slowest.  Each variant is
 * interpreted by putting the value into the tree in place of the sweep and
 * calling the axis's entry parser, so a swept value is checked exactly like
 * a written one (and its errors point at the value in the list).
 * Variants are named `<entry>-<key><value>`: mag-sparsity0.3.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xp.h"

#define XP_MAX_VARIANTS 4096

struct site {
	struct xnode **slot;      /* where the sweep mapping sits in its parent */
	const char *key;          /* the option it sweeps */
	struct xnode *sweep;      /* the { sweep: [...] } mapping */
};

struct sites {
	struct site *v;
	int n, cap;
};

static int site_add(struct xctx *c, struct sites *s, struct xnode **slot, const char *key)
{
	struct xnode *list = (*slot)->vals[0];
	if (list->kind != XN_SEQ)
		return xerr(c, list, "'%s': sweep expects a list of values, got %s", key,
			    xn_kind_name(list));
	if (list->n == 0)
		return xerr(c, list, "'%s': empty sweep; list at least one value", key);
	for (int i = 0; i < list->n; i++)
		if (list->vals[i]->kind != XN_SCALAR || xn_is_null(list->vals[i]))
			return xerr(c, list->vals[i], "'%s': a swept value must be a scalar, got %s",
				    key, xn_kind_name(list->vals[i]));
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 4;
		struct site *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct site){ slot, key, *slot };
	return 0;
}

static int collect(struct xctx *c, struct xnode *n, struct sites *s)
{
	int ret = 0;
	for (int i = 0; ret == 0 && i < n->n; i++) {
		struct xnode *v = n->vals[i];
		if (xn_is_sweep(v)) {
			if (n->kind != XN_MAP)
				return xerr(c, v, "a sweep goes on an option's value "
					    "(key: {sweep: [...]}), not on a list item");
			ret = site_add(c, s, &n->vals[i], n->keys[i]->text);
		} else if (v->kind != XN_SCALAR) {
			ret = collect(c, v, s);
		}
	}
	return ret;
}

static int axis_count(const struct pb_experiment *e, enum xp_axis a)
{
	switch (a) {
	case XA_MODEL:   return e->n_models;
	case XA_DATASET: return e->n_datasets;
	case XA_PRUNER:  return e->n_chains;
	case XA_BACKEND: return e->n_backends;
	}
	return 0;
}

static const char *axis_name(const struct pb_experiment *e, enum xp_axis a, int i)
{
	switch (a) {
	case XA_MODEL:   return e->models[i].name;
	case XA_DATASET: return e->datasets[i].name;
	case XA_PRUNER:  return e->chains[i].name;
	case XA_BACKEND: return e->backends[i].name;
	}
	return "";
}

static const char *const axis_words[] = { "models", "datasets", "pruners", "backends" };

static void append_sanitized(char *out, size_t len, const char *text)
{
	size_t n = strlen(out);
	for (const char *p = text; *p && n + 1 < len; p++) {
		char ch = *p;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
		out[n++] = ok ? ch : '_';
	}
	out[n] = '\0';
}

static int variant(struct xctx *c, enum xp_axis axis, const struct xnode *key,
		   struct xnode *val, const struct sites *s, const int *idx,
		   xp_entry_fn fn, void *arg)
{
	struct pb_experiment *e = c->e;
	char name[PB_NAME_MAX * 2];
	int ret;

	snprintf(name, sizeof name, "%s", key->text);
	for (int i = 0; i < s->n; i++) {
		struct xnode *item = s->v[i].sweep->vals[0]->vals[idx[i]];
		append_sanitized(name, sizeof name, "-");
		append_sanitized(name, sizeof name, s->v[i].key);
		append_sanitized(name, sizeof name, item->text);
	}
	if ((ret = xp_check_name(c, key, name, axis_words[axis])) < 0)
		return ret;
	int n = axis_count(e, axis);
	for (int i = 0; i < n; i++)
		if (!strcmp(axis_name(e, axis, i), name))
			return xerr(c, key, "%s: duplicate entry name '%s'%s", axis_words[axis], name,
				    s->n ? " after sweep expansion" : "");

	for (int i = 0; i < s->n; i++)
		*s->v[i].slot = s->v[i].sweep->vals[0]->vals[idx[i]];
	ret = fn(c, key, val, name, arg);
	/* Put the sweeps back whatever happened: the tree owns them. */
	for (int i = 0; i < s->n; i++)
		*s->v[i].slot = s->v[i].sweep;
	if (ret < 0)
		return ret;

	char (*o)[PB_NAME_MAX] = realloc(c->orig[axis], (n + 1) * sizeof *o);
	if (!o)
		return -ENOMEM;
	c->orig[axis] = o;
	snprintf(o[n], PB_NAME_MAX, "%s", key->text);
	return 0;
}

int xp_expand_entry(struct xctx *c, enum xp_axis axis, const struct xnode *key,
		    struct xnode *val, xp_entry_fn fn, void *arg)
{
	struct sites s = { 0 };
	int *idx = NULL;
	int ret = 0;

	if (val && val->kind != XN_SCALAR)
		ret = collect(c, val, &s);
	if (ret < 0)
		goto out;
	long total = 1;
	for (int i = 0; i < s.n; i++) {
		total *= s.v[i].sweep->vals[0]->n;
		if (total > XP_MAX_VARIANTS) {
			ret = xerr(c, s.v[i].sweep, "%s entry '%s': sweeps expand to more than %d entries",
				   axis_words[axis], key->text, XP_MAX_VARIANTS);
			goto out;
		}
	}
	idx = calloc(s.n + 1, sizeof *idx);
	if (!idx) {
		ret = -ENOMEM;
		goto out;
	}
	for (long v = 0; v < total; v++) {
		ret = variant(c, axis, key, val, &s, idx, fn, arg);
		if (ret < 0)
			goto out;
		/* Odometer: the last sweep varies fastest. */
		for (int i = s.n - 1; i >= 0; i--) {
			if (++idx[i] < s.v[i].sweep->vals[0]->n)
				break;
			idx[i] = 0;
		}
	}
out:
	free(idx);
	free(s.v);
	return ret;
}

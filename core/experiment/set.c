/* core/experiment/set.c — `--set path.to.key=value` overrides, applied to the
 * node tree before it is interpreted, so an override is checked exactly
 * like the file (and its errors name the --set it came from).
 *
 * Path segments are mapping keys (created when absent) or sequence indices
 * (an index equal to the length appends).  The value is YAML: a scalar or
 * a flow collection (`[]`, `{x: 1}`, `[0.3, 0.5]`).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xp.h"

static int seg_index(const char *s, int *out)
{
	if (!*s || strlen(s) > 9)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	*out = atoi(s);
	return 0;
}

static struct xnode *scalar_key(const char *text, int origin)
{
	struct xnode *k = xn_new(XN_SCALAR, 0, 0, origin);
	if (!k)
		return NULL;
	k->plain = 1;
	k->text = strdup(text);
	if (!k->text) {
		free(k);
		return NULL;
	}
	return k;
}

/* Put val at segment `seg` of parent (a mapping or sequence); takes val. */
static int place(struct xctx *c, struct xnode *parent, const char *seg, const char *sofar,
		 struct xnode *val, int origin)
{
	struct xnode pos = { .origin = origin };
	if (parent->kind == XN_MAP) {
		for (int i = 0; i < parent->n; i++) {
			if (strcmp(parent->keys[i]->text, seg))
				continue;
			xn_free(parent->vals[i]);
			parent->vals[i] = val;
			return 0;
		}
		struct xnode *k = scalar_key(seg, origin);
		if (!k || xn_push(parent, k, val) < 0) {
			xn_free(k);
			xn_free(val);
			return -ENOMEM;
		}
		return 0;
	}
	int idx;
	if (seg_index(seg, &idx) < 0 || idx > parent->n) {
		xn_free(val);
		return xerr(c, &pos, "'%s' is a sequence of %d items; '%s' is not an index from 0 to %d",
			    sofar, parent->n, seg, parent->n);
	}
	if (idx == parent->n) {
		if (xn_push(parent, NULL, val) < 0) {
			xn_free(val);
			return -ENOMEM;
		}
		return 0;
	}
	xn_free(parent->vals[idx]);
	parent->vals[idx] = val;
	return 0;
}

int xp_apply_set(struct xctx *c, int idx)
{
	const char *text = c->sets[idx];
	struct xnode pos = { .origin = idx };
	const char *eq = strchr(text, '=');
	if (!eq)
		return xerr(c, &pos, "expected path.to.key=value");
	if (eq == text)
		return xerr(c, &pos, "empty path before '='");

	char *path = strndup(text, eq - text);
	char *sofar = calloc(1, strlen(text) + 1);
	struct xnode *val = NULL;
	int ret = -ENOMEM;
	if (!path || !sofar)
		goto out;

	const char *vtext = eq + 1;
	ret = xn_load(c, vtext, strlen(vtext), idx, &val);
	if (ret < 0)
		goto out;
	if (!val) {   /* "key=" sets an empty (null) scalar */
		val = scalar_key("", idx);
		ret = -ENOMEM;
		if (!val)
			goto out;
	}

	if (!c->root) {
		c->root = xn_new(XN_MAP, 1, 1, -1);
		ret = -ENOMEM;
		if (!c->root)
			goto out;
	}
	struct xnode *cur = c->root;
	char *seg = path;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (dot)
			*dot = '\0';
		if (!*seg) {
			ret = xerr(c, &pos, "empty segment in path '%.*s'", (int)(eq - text), text);
			goto out;
		}
		/* sofar: the path of cur, for messages */
		const char *where = sofar[0] ? sofar : "the top level";
		if (cur->kind == XN_SCALAR) {
			if (!xn_is_null(cur)) {
				ret = xerr(c, &pos, "'%s' is a scalar, so it has no '%s'", where, seg);
				goto out;
			}
			/* `ref:` with nothing after it: becomes a mapping. */
			cur->kind = XN_MAP;
			free(cur->text);
			cur->text = NULL;
		}
		if (!dot) {
			ret = place(c, cur, seg, where, val, idx);
			val = NULL;
			goto out;
		}
		struct xnode *next = NULL;
		if (cur->kind == XN_MAP) {
			next = xn_get(cur, seg);
			if (!next) {
				next = xn_new(XN_MAP, 0, 0, idx);
				ret = -ENOMEM;
				if (!next)
					goto out;
				ret = place(c, cur, seg, where, next, idx);
				if (ret < 0)
					goto out;
			}
		} else {
			int i;
			if (seg_index(seg, &i) < 0 || i >= cur->n) {
				ret = xerr(c, &pos, "'%s' is a sequence of %d items; '%s' is not an index from 0 to %d",
					   where, cur->n, seg, cur->n - 1);
				goto out;
			}
			next = cur->vals[i];
		}
		if (sofar[0])
			strcat(sofar, ".");
		strcat(sofar, seg);
		cur = next;
		seg = dot + 1;
	}
out:
	xn_free(val);
	free(path);
	free(sofar);
	return ret;
}

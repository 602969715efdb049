/* core/experiment/node.c — YAML text to a positioned node tree.
 *
 * libyaml's document loader resolves anchors and aliases into a graph; we
 * copy it into a tree (every alias becomes its own copy, so --set can edit
 * one place without touching another), resolve `<<` merge keys, reject
 * duplicate keys, and keep 1-based line:col for every node.  Aliases can
 * form cycles (`&a [*a]`) or expand exponentially, so the copy tracks the
 * nodes on the current path and a total node budget.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util/util.h"
#include "xp.h"

struct xn_conv {
	struct xctx *c;
	yaml_document_t *doc;
	unsigned char *active;     /* per yaml node: on the current path */
	int n_yaml;
	int budget;
	int origin;
};

struct xnode *xn_new(enum xnode_kind kind, int line, int col, int origin)
{
	struct xnode *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = line;
	n->col = col;
	n->origin = origin;
	return n;
}

void xn_free(struct xnode *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->n; i++) {
		if (n->keys)
			xn_free(n->keys[i]);
		xn_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n->text);
	free(n);
}

int xn_push(struct xnode *p, struct xnode *key, struct xnode *val)
{
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 4;
		struct xnode **v = realloc(p->vals, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		p->vals = v;
		if (p->kind == XN_MAP) {
			struct xnode **k = realloc(p->keys, cap * sizeof *k);
			if (!k)
				return -ENOMEM;
			p->keys = k;
		}
		p->cap = cap;
	}
	if (p->kind == XN_MAP)
		p->keys[p->n] = key;
	p->vals[p->n++] = val;
	return 0;
}

struct xnode *xn_get(const struct xnode *map, const char *key)
{
	if (!map || map->kind != XN_MAP)
		return NULL;
	for (int i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->text, key) == 0)
			return map->vals[i];
	return NULL;
}

struct xnode *xn_key(const struct xnode *map, const char *key)
{
	if (!map || map->kind != XN_MAP)
		return NULL;
	for (int i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->text, key) == 0)
			return map->keys[i];
	return NULL;
}

int xn_is_null(const struct xnode *n)
{
	if (!n)
		return 1;
	if (n->kind != XN_SCALAR || !n->plain)
		return 0;
	return !n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

int xn_is_sweep(const struct xnode *n)
{
	return n && n->kind == XN_MAP && n->n == 1 && !strcmp(n->keys[0]->text, "sweep");
}

const char *xn_kind_name(const struct xnode *n)
{
	if (!n || xn_is_null(n))
		return "nothing";
	switch (n->kind) {
	case XN_SCALAR: return "a scalar";
	case XN_MAP:    return "a mapping";
	case XN_SEQ:    return "a sequence";
	}
	return "?";
}

static int conv(struct xn_conv *v, int id, int depth, struct xnode **out);

static int is_merge_key(const yaml_node_t *k)
{
	return k && k->type == YAML_SCALAR_NODE &&
	       k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       k->data.scalar.length == 2 && !memcmp(k->data.scalar.value, "<<", 2);
}

static int pos_line(const yaml_node_t *y) { return (int)y->start_mark.line + 1; }
static int pos_col(const yaml_node_t *y) { return (int)y->start_mark.column + 1; }

/* Move the pairs of merged mapping `src` into `dst`, skipping keys that dst
 * states itself (explicit keys win) or already has from an earlier merge. */
static int merge_into(struct xn_conv *v, struct xnode *dst, const yaml_node_t *map_y,
		      struct xnode *src)
{
	for (int i = 0; i < src->n; i++) {
		const char *k = src->keys[i]->text;
		int skip = xn_get(dst, k) != NULL;
		for (yaml_node_pair_t *p = map_y->data.mapping.pairs.start;
		     !skip && p < map_y->data.mapping.pairs.top; p++) {
			yaml_node_t *ky = yaml_document_get_node(v->doc, p->key);
			if (ky && ky->type == YAML_SCALAR_NODE && !is_merge_key(ky) &&
			    !strcmp((const char *)ky->data.scalar.value, k))
				skip = 1;
		}
		if (skip)
			continue;
		if (xn_push(dst, src->keys[i], src->vals[i]) < 0)
			return -ENOMEM;
		src->keys[i] = src->vals[i] = NULL;
	}
	return 0;
}

static int conv_merge(struct xn_conv *v, struct xnode *dst, const yaml_node_t *map_y,
		      const yaml_node_t *key_y, int val_id, int depth)
{
	yaml_node_t *vy = yaml_document_get_node(v->doc, val_id);
	int ids[1];
	int *list = ids, n = 1;
	ids[0] = val_id;
	if (vy && vy->type == YAML_SEQUENCE_NODE) {
		list = vy->data.sequence.items.start;
		n = (int)(vy->data.sequence.items.top - vy->data.sequence.items.start);
	}
	for (int i = 0; i < n; i++) {
		yaml_node_t *my = yaml_document_get_node(v->doc, list[i]);
		if (!my || my->type != YAML_MAPPING_NODE) {
			/* The alias's own position is lost in the document
			 * model; the `<<` key is where the user looks. */
			struct xnode tmp = { .line = pos_line(key_y), .col = pos_col(key_y),
					     .origin = v->origin };
			return xerr(v->c, &tmp, "'<<' merges a mapping or a list of mappings");
		}
		struct xnode *m;
		int ret = conv(v, list[i], depth + 1, &m);
		if (ret < 0)
			return ret;
		ret = merge_into(v, dst, map_y, m);
		xn_free(m);     /* what was moved out is NULL there */
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int conv_map(struct xn_conv *v, const yaml_node_t *y, struct xnode *n, int depth)
{
	/* Explicit keys first, in order, so that duplicates are reported at the
	 * second occurrence; merges are applied after, filling only gaps. */
	for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; p++) {
		yaml_node_t *ky = yaml_document_get_node(v->doc, p->key);
		if (is_merge_key(ky))
			continue;
		struct xnode *k, *val;
		int ret = conv(v, p->key, depth + 1, &k);
		if (ret < 0)
			return ret;
		if (k->kind != XN_SCALAR) {
			xn_free(k);
			struct xnode tmp = { .line = pos_line(ky), .col = pos_col(ky), .origin = v->origin };
			return xerr(v->c, &tmp, "a mapping key must be a scalar");
		}
		for (int i = 0; i < n->n; i++) {
			if (strcmp(n->keys[i]->text, k->text))
				continue;
			ret = xerr(v->c, k, "duplicate key '%s' (first at %d:%d)", k->text,
				   n->keys[i]->line, n->keys[i]->col);
			xn_free(k);
			return ret;
		}
		ret = conv(v, p->value, depth + 1, &val);
		if (ret < 0) {
			xn_free(k);
			return ret;
		}
		if (xn_push(n, k, val) < 0) {
			xn_free(k);
			xn_free(val);
			return -ENOMEM;
		}
	}
	for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; p++) {
		yaml_node_t *ky = yaml_document_get_node(v->doc, p->key);
		if (!is_merge_key(ky))
			continue;
		int ret = conv_merge(v, n, y, ky, p->value, depth);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int conv(struct xn_conv *v, int id, int depth, struct xnode **out)
{
	yaml_node_t *y = yaml_document_get_node(v->doc, id);
	*out = NULL;
	if (!y || id < 1 || id > v->n_yaml)
		return xerr(v->c, NULL, "internal error: bad YAML node %d", id);
	struct xnode pos = { .line = pos_line(y), .col = pos_col(y), .origin = v->origin };
	if (depth > XP_MAX_DEPTH)
		return xerr(v->c, &pos, "nesting deeper than %d levels", XP_MAX_DEPTH);
	if (v->active[id - 1])
		return xerr(v->c, &pos, "an alias refers to a node that contains it (alias cycle)");
	if (--v->budget < 0)
		return xerr(v->c, &pos, "the document expands to more than %d nodes (alias expansion?)",
			    XP_MAX_NODES);

	enum xnode_kind kind = y->type == YAML_SCALAR_NODE ? XN_SCALAR :
			       y->type == YAML_MAPPING_NODE ? XN_MAP : XN_SEQ;
	struct xnode *n = xn_new(kind, pos.line, pos.col, v->origin);
	if (!n)
		return -ENOMEM;
	int ret = 0;
	v->active[id - 1] = 1;
	switch (y->type) {
	case YAML_SCALAR_NODE:
		if (memchr(y->data.scalar.value, '\0', y->data.scalar.length)) {
			ret = xerr(v->c, n, "a scalar contains a NUL byte");
			break;
		}
		n->text = strndup((const char *)y->data.scalar.value, y->data.scalar.length);
		n->plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (!n->text)
			ret = -ENOMEM;
		break;
	case YAML_SEQUENCE_NODE:
		for (yaml_node_item_t *it = y->data.sequence.items.start;
		     it < y->data.sequence.items.top; it++) {
			struct xnode *c;
			ret = conv(v, *it, depth + 1, &c);
			if (ret < 0)
				break;
			if (xn_push(n, NULL, c) < 0) {
				xn_free(c);
				ret = -ENOMEM;
				break;
			}
		}
		break;
	case YAML_MAPPING_NODE:
		ret = conv_map(v, y, n, depth);
		break;
	default:
		ret = xerr(v->c, n, "empty YAML node");
	}
	v->active[id - 1] = 0;
	if (ret < 0) {
		xn_free(n);
		return ret;
	}
	*out = n;
	return 0;
}

static int yaml_problem(struct xctx *c, const yaml_parser_t *p, int origin)
{
	struct xnode pos = { .line = (int)p->problem_mark.line + 1,
			     .col = (int)p->problem_mark.column + 1, .origin = origin };
	const char *problem = p->problem ? p->problem : "YAML error";
	if (p->context)
		return xerr(c, &pos, "%s (%s at %d:%d)", problem, p->context,
			    (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	return xerr(c, &pos, "%s", problem);
}

/* Parse text (one YAML document) into a tree; *out is NULL for an empty
 * document.  origin: -1 for the file, or the --set index. */
int xn_load(struct xctx *c, const char *text, size_t len, int origin, struct xnode **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int ret = 0;

	*out = NULL;
	size_t dl, dc;
	int deep = pb_yaml_depth_check(text, len, XP_MAX_DEPTH + 1, &dl, &dc);
	if (deep == -E2BIG) {
		struct xnode pos = { .line = (int)dl, .col = (int)dc, .origin = origin };
		return xerr(c, &pos, "nesting deeper than %d levels", XP_MAX_DEPTH);
	}
	if (deep < 0)
		return deep;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = yaml_problem(c, &parser, origin);
		goto out_parser;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root) {
		struct xn_conv v = {
			.c = c, .doc = &doc, .budget = XP_MAX_NODES, .origin = origin,
			.n_yaml = (int)(doc.nodes.top - doc.nodes.start),
		};
		v.active = calloc(v.n_yaml ? v.n_yaml : 1, 1);
		if (!v.active) {
			ret = -ENOMEM;
		} else {
			ret = conv(&v, 1, 0, out);
			free(v.active);
		}
	}
	yaml_document_delete(&doc);
	if (ret < 0 || !root)
		goto out_parser;

	/* One document per experiment: a second one is almost surely a
	 * pasting accident, and silently ignoring it would hide it. */
	if (!yaml_parser_load(&parser, &doc)) {
		ret = yaml_problem(c, &parser, origin);
	} else {
		yaml_node_t *r2 = yaml_document_get_root_node(&doc);
		if (r2) {
			struct xnode pos = { .line = pos_line(r2), .col = pos_col(r2), .origin = origin };
			ret = xerr(c, &pos, "a second YAML document; an experiment is one document");
		}
		yaml_document_delete(&doc);
	}
	if (ret < 0) {
		xn_free(*out);
		*out = NULL;
	}
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

/* core/experiment/steps.c — plugin uses: pruner chains, backends, probes and
 * the per-plugin `defaults:`.
 *
 * Every use is parsed through the plugin's own option table: the table's
 * defaults, then `defaults: <plugin>: {...}`, then the entry's options, and
 * finally a check that every required option got a value.  The plugin is
 * looked up in the registry's entries directly (by kind and name, first
 * wins, as pb_registry_find does), which keeps this room testable with an
 * in-memory registry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xp.h"

static const char *kind_word(enum pb_plugin_kind k)
{
	switch (k) {
	case PB_PRUNER:  return "pruner";
	case PB_BACKEND: return "backend";
	case PB_PROBE:   return "probe";
	}
	return "plugin";
}

void xp_step_clear(struct pb_step *s)
{
	free(s->config);
	free(s->label);
	memset(s, 0, sizeof *s);
}

/* kind 0: any kind. */
static int find_plugin(struct xctx *c, enum pb_plugin_kind kind, const struct xnode *at,
		       const char *name, const struct pb_plugin_entry **out)
{
	const struct pb_registry *r = c->reg;
	const char *kw = kind ? kind_word(kind) : "plugin";
	int n_entries = r ? r->n_entries : 0, n_kind = 0;

	for (int i = 0; i < n_entries; i++) {
		const struct pb_plugin *d = r->entries[i].desc;
		if (!d || (kind && d->kind != kind))
			continue;
		if (!strcmp(d->name, name)) {
			char why[512];
			/* used: load it here (the scan only copied its descriptor) */
			if (pb_plugin_load(&r->entries[i], why, sizeof why) < 0)
				return xerr(c, at, "%s '%s' failed to load: %s", kw, name, why);
			*out = &r->entries[i];
			return 0;
		}
	}
	for (int i = 0; r && i < r->n_failures; i++) {
		const struct pb_plugin_failure *f = &r->failures[i];
		if ((!kind || f->kind == kind) && !strcmp(f->name, name))
			return xerr(c, at, "%s '%s' failed to load: %s", kw, name, f->why);
	}
	const char **names = calloc(n_entries + 1, sizeof *names);
	if (!names)
		return -ENOMEM;
	for (int i = 0; i < n_entries; i++) {
		const struct pb_plugin *d = r->entries[i].desc;
		if (d && (!kind || d->kind == kind))
			names[n_kind++] = d->name;
	}
	char dym[160];
	int ret;
	if (n_kind == 0)
		ret = xerr(c, at, "unknown %s '%s' (no %s plugins were found; "
			   "is PRUNEBENCH_PLUGIN_PATH set?)", kw, name, kw);
	else
		ret = xerr(c, at, "unknown %s '%s'%s", kw, name,
			   xp_dym(dym, sizeof dym, name, names, n_kind));
	free(names);
	return ret;
}

static int n_options(const struct pb_plugin *p)
{
	int n = 0;
	for (const struct pb_option *o = p->options; o && o->key; o++)
		n++;
	return n;
}

/* Keys of an entry that belong to the entry, not the plugin. */
static const char *const entry_keys[] = { "plugin", NULL };
static const char *const backend_keys[] = { "plugin", "serve", "network", "load", NULL };

static int skipped(const char *const *skip, const char *key)
{
	for (; skip && *skip; skip++)
		if (!strcmp(*skip, key))
			return 1;
	return 0;
}

/* Parse an options mapping into config; set[i] marks option i as given.
 * skip: keys that belong to the entry, not the plugin (NULL-terminated). */
static int apply_opts(struct xctx *c, const char *what, const struct pb_plugin *p,
		      void *config, unsigned char *set, const struct xnode *opts,
		      const char *const *skip)
{
	char dym[160], msg[384];
	if (!opts || xn_is_null(opts))
		return 0;
	if (opts->kind != XN_MAP)
		return xerr(c, opts, "%s: expected a mapping of options, got %s", what,
			    xn_kind_name(opts));
	for (int i = 0; i < opts->n; i++) {
		const struct xnode *k = opts->keys[i], *v = opts->vals[i];
		if (skipped(skip, k->text))
			continue;
		const struct pb_option *o = pb_option_find(p->options, k->text);
		if (!o) {
			const char *best = pb_option_suggest(p->options, k->text);
			if (best)
				snprintf(dym, sizeof dym, " (did you mean '%s'?)", best);
			else
				snprintf(dym, sizeof dym, "%s", n_options(p) ? "" : " (it takes no options)");
			return xerr(c, k, "%s: unknown option '%s'%s", what, k->text, dym);
		}
		if (xn_is_sweep(v))
			return xerr(c, v, "%s: option '%s': a sweep is only allowed inside an entry "
				    "of models, datasets, pruners or backends", what, k->text);
		if (v->kind != XN_SCALAR || xn_is_null(v))
			return xerr(c, v, "%s: option '%s': expected a value, got %s", what, k->text,
				    xn_kind_name(v));
		if (pb_option_parse(o, config, v->text, msg, sizeof msg) < 0)
			return xerr(c, v, "%s: option '%s': %s", what, k->text, msg);
		set[o - p->options] = 1;
	}
	return 0;
}

/* "magnitude(sparsity=0.3)": the options given that differ from defaults. */
static char *make_label(const struct pb_plugin *p, const void *config, const unsigned char *set)
{
	size_t cap = 256, n;
	char *out = malloc(cap), val[PB_OPT_STR_MAX + 8], def[PB_OPT_STR_MAX + 8];
	void *scratch = calloc(1, p->config_size ? p->config_size : 1);
	int first = 1;
	if (!out || !scratch)
		goto fail;
	n = snprintf(out, cap, "%s", p->name);
	for (int i = 0; p->options && p->options[i].key; i++) {
		const struct pb_option *o = &p->options[i];
		if (!set[i] || pb_option_format(o, config, val, sizeof val) < 0)
			continue;
		if (o->def && pb_option_parse(o, scratch, o->def, NULL, 0) == 0 &&
		    pb_option_format(o, scratch, def, sizeof def) == 0 && !strcmp(def, val))
			continue;
		size_t need = n + strlen(o->key) + strlen(val) + 4;
		if (need > cap) {
			cap = need * 2;
			char *t = realloc(out, cap);
			if (!t)
				goto fail;
			out = t;
		}
		n += snprintf(out + n, cap - n, "%s%s=%s", first ? "(" : ",", o->key, val);
		first = 0;
	}
	if (!first) {
		char *t = realloc(out, n + 2);
		if (!t)
			goto fail;
		out = t;
		memcpy(out + n, ")", 2);
	}
	free(scratch);
	return out;
fail:
	free(out);
	free(scratch);
	return NULL;
}

/* One configured plugin use; errors about the use as a whole are at `at`. */
static int make_step(struct xctx *c, enum pb_plugin_kind kind, const struct xnode *at,
		     const char *plugin, const struct xnode *opts, const char *const *skip,
		     struct pb_step *out)
{
	const struct pb_plugin_entry *pe;
	char what[160];
	int ret = find_plugin(c, kind, at, plugin, &pe);
	if (ret < 0)
		return ret;
	const struct pb_plugin *p = pe->desc;
	snprintf(what, sizeof what, "%s '%s'", kind_word(kind), p->name);

	memset(out, 0, sizeof *out);
	out->plugin = pe;
	out->config = calloc(1, p->config_size ? p->config_size : 1);
	unsigned char *set = calloc(n_options(p) + 1, 1);
	if (!out->config || !set) {
		ret = -ENOMEM;
		goto out;
	}
	if (pb_options_defaults(p->options, out->config, p->config_size) < 0) {
		ret = xerr(c, at, "%s: the plugin's option table is invalid (%s)", what, pe->path);
		goto out;
	}
	const struct xnode *d = xn_get(c->defaults, p->name);
	if ((ret = apply_opts(c, what, p, out->config, set, d, NULL)) < 0 ||
	    (ret = apply_opts(c, what, p, out->config, set, opts, skip)) < 0)
		goto out;
	for (int i = 0; p->options && p->options[i].key; i++) {
		if (p->options[i].def || set[i])
			continue;
		ret = xerr(c, at, "%s: missing required option '%s'", what, p->options[i].key);
		goto out;
	}
	out->label = make_label(p, out->config, set);
	ret = out->label ? 0 : -ENOMEM;
out:
	free(set);
	if (ret < 0)
		xp_step_clear(out);
	return ret;
}

int xp_parse_defaults(struct xctx *c)
{
	struct xnode *n = xn_get(c->root, "defaults");
	if (!n)
		return 0;
	if (n->kind != XN_MAP && !xn_is_null(n))
		return xerr(c, n, "'defaults': expected a mapping of plugin: {options}, got %s",
			    xn_kind_name(n));
	for (int i = 0; n->kind == XN_MAP && i < n->n; i++) {
		const struct pb_plugin_entry *pe;
		char what[160];
		int ret = find_plugin(c, 0, n->keys[i], n->keys[i]->text, &pe);
		if (ret < 0)
			return ret;
		const struct pb_plugin *p = pe->desc;
		snprintf(what, sizeof what, "defaults: %s '%s'", kind_word(p->kind), p->name);
		void *scratch = calloc(1, p->config_size ? p->config_size : 1);
		unsigned char *set = calloc(n_options(p) + 1, 1);
		ret = scratch && set ? apply_opts(c, what, p, scratch, set, n->vals[i], NULL) : -ENOMEM;
		free(scratch);
		free(set);
		if (ret < 0)
			return ret;
	}
	c->defaults = n->kind == XN_MAP ? n : NULL;
	return 0;
}

static int chain_entry(struct xctx *c, const struct xnode *key, struct xnode *val,
		       const char *name, void *arg)
{
	struct pb_experiment *e = c->e;
	(void)arg;
	if (!val || val->kind != XN_SEQ)
		return xerr(c, val && !xn_is_null(val) ? val : key,
			    "pruners '%s': expected a list of steps ([] for the dense baseline), got %s",
			    key->text, xn_kind_name(val));
	struct pb_chain *ch = realloc(e->chains, (e->n_chains + 1) * sizeof *ch);
	if (!ch)
		return -ENOMEM;
	e->chains = ch;
	ch = &e->chains[e->n_chains];
	memset(ch, 0, sizeof *ch);
	snprintf(ch->name, sizeof ch->name, "%s", name);
	ch->steps = calloc(val->n + 1, sizeof *ch->steps);
	if (!ch->steps)
		return -ENOMEM;
	e->n_chains++;   /* now owned by e, freed with it on error */

	for (int i = 0; i < val->n; i++) {
		const struct xnode *st = val->vals[i], *at = st, *opts = NULL;
		int ret;
		if (st->kind == XN_MAP && st->n == 1) {
			at = st->keys[0];
			opts = st->vals[0];
		} else if (st->kind == XN_MAP) {
			return xerr(c, st, "pruners '%s': step %d: a step is a single-key map "
				    "'plugin: {options}', this one has %d keys (a missing '- '?)",
				    key->text, i + 1, st->n);
		} else if (st->kind != XN_SCALAR || xn_is_null(st)) {
			return xerr(c, st, "pruners '%s': step %d: expected 'plugin: {options}' or "
				    "a plugin name, got %s", key->text, i + 1, xn_kind_name(st));
		}
		ret = make_step(c, PB_PRUNER, at, at->text, opts, NULL, &ch->steps[i]);
		if (ret < 0)
			return ret;
		ch->n_steps++;
	}
	return 0;
}

/* `aa_control: true`: the first chain without steps (the baseline) gets a
 * twin "<name>-aa", inserted right after it, so every block measures the
 * baseline twice per round; the report's A/A comparison of the two is the
 * empirical noise floor.  The twin matches the include/exclude rules that
 * name the baseline. */
static int add_aa_twin(struct xctx *c)
{
	struct pb_experiment *e = c->e;
	int b = -1;
	if (!e->aa_control)
		return 0;
	for (int i = 0; i < e->n_chains && b < 0; i++)
		if (e->chains[i].n_steps == 0)
			b = i;
	if (b < 0)
		return xerr(c, c->aa_node ? c->aa_node : c->root,
			    "'aa_control': needs a baseline chain without steps (e.g. 'dense: []') "
			    "in 'pruners'");
	char name[PB_NAME_MAX];
	if (snprintf(name, sizeof name, "%s-aa", e->chains[b].name) >= (int)sizeof name)
		return xerr(c, c->aa_node, "'aa_control': baseline name '%s' too long",
			    e->chains[b].name);
	for (int i = 0; i < e->n_chains; i++)
		if (!strcmp(e->chains[i].name, name))
			return xerr(c, c->aa_node, "'aa_control': a chain named '%s' already exists; "
				    "the A/A twin of '%s' takes that name", name, e->chains[b].name);
	struct pb_chain *ch = realloc(e->chains, (e->n_chains + 1) * sizeof *ch);
	if (!ch)
		return -ENOMEM;
	e->chains = ch;
	char (*o)[PB_NAME_MAX] = realloc(c->orig[XA_PRUNER], (e->n_chains + 1) * sizeof *o);
	if (!o)
		return -ENOMEM;
	c->orig[XA_PRUNER] = o;
	memmove(&ch[b + 2], &ch[b + 1], (size_t)(e->n_chains - b - 1) * sizeof *ch);
	memmove(&o[b + 2], &o[b + 1], (size_t)(e->n_chains - b - 1) * sizeof *o);
	memset(&ch[b + 1], 0, sizeof *ch);
	memcpy(o[b + 1], o[b], sizeof *o);
	e->n_chains++;
	snprintf(ch[b + 1].name, sizeof ch[b + 1].name, "%s", name);
	snprintf(ch[b + 1].aa_of, sizeof ch[b + 1].aa_of, "%s", ch[b].name);
	ch[b + 1].steps = calloc(1, sizeof *ch[b + 1].steps);
	return ch[b + 1].steps ? 0 : -ENOMEM;
}

int xp_parse_pruners(struct xctx *c)
{
	struct xnode *n = xn_get(c->root, "pruners");
	struct pb_experiment *e = c->e;
	if (!n) {
		/* No pruners: the dense baseline alone. */
		e->chains = calloc(1, sizeof *e->chains);
		c->orig[XA_PRUNER] = calloc(1, PB_NAME_MAX);
		if (!e->chains || !c->orig[XA_PRUNER])
			return -ENOMEM;
		snprintf(e->chains[0].name, PB_NAME_MAX, "dense");
		snprintf(c->orig[XA_PRUNER][0], PB_NAME_MAX, "dense");
		e->n_chains = 1;
		return add_aa_twin(c);
	}
	if (n->kind != XN_MAP && !xn_is_null(n))
		return xerr(c, n, "'pruners': expected a mapping of name: [steps], got %s",
			    xn_kind_name(n));
	if (xn_is_null(n) || n->n == 0)
		return xerr(c, n, "'pruners': empty axis; write 'dense: []' for the uncompressed model");
	for (int i = 0; i < n->n; i++) {
		int ret = xp_expand_entry(c, XA_PRUNER, n->keys[i], n->vals[i], chain_entry, NULL);
		if (ret < 0)
			return ret;
	}
	return add_aa_twin(c);
}

/* Backends and probes share two forms: a mapping name -> {options} (the
 * plugin is the name unless `plugin:` says otherwise), or a sequence of
 * plugin names / single-key maps.  Calls fn(key, options) per entry. */
static int plugin_list(struct xctx *c, const char *section, int required,
		       int (*fn)(struct xctx *, const struct xnode *, struct xnode *))
{
	struct xnode *n = xn_get(c->root, section);
	if (!n) {
		if (required)
			return xerr(c, c->root, "missing required setting '%s'", section);
		return 0;
	}
	if (n->kind == XN_SCALAR && !xn_is_null(n))
		return xerr(c, n, "'%s': expected a mapping of name: {options} or a list of plugins, got %s",
			    section, xn_kind_name(n));
	if (xn_is_null(n) || n->n == 0) {
		if (!required)
			return 0;
		return xerr(c, n, "'%s': empty axis; it needs at least one entry", section);
	}
	for (int i = 0; i < n->n; i++) {
		struct xnode *k, *v = NULL;
		int ret;
		if (n->kind == XN_MAP) {
			k = n->keys[i];
			v = n->vals[i];
		} else if (n->vals[i]->kind == XN_MAP && n->vals[i]->n == 1) {
			k = n->vals[i]->keys[0];
			v = n->vals[i]->vals[0];
		} else if (n->vals[i]->kind == XN_SCALAR && !xn_is_null(n->vals[i])) {
			k = n->vals[i];
		} else {
			return xerr(c, n->vals[i], "'%s': item %d: expected a plugin name or "
				    "'plugin: {options}', got %s%s", section, i + 1,
				    xn_kind_name(n->vals[i]),
				    n->vals[i]->kind == XN_MAP ? " with several keys" : "");
		}
		if ((ret = fn(c, k, v)) < 0)
			return ret;
	}
	return 0;
}

/* The plugin an entry names: `plugin:` inside its options, else its name. */
static int entry_plugin(struct xctx *c, const struct xnode *key, const struct xnode *val,
			const struct xnode **at)
{
	const struct xnode *p = val && val->kind == XN_MAP ? xn_get(val, "plugin") : NULL;
	*at = key;
	if (!p)
		return 0;
	int ret = xp_scalar(c, p, "plugin");
	if (ret == 0)
		*at = p;
	return ret;
}

/* `serve: true` and `network:` of a backend entry (issue 16): a served
 * cell runs `prunebench serve` with this backend and measures it through
 * the `openai` client; the top-level `network:` is the default link of
 * every served entry without its own. */
static int served_keys(struct xctx *c, const struct xnode *key, const struct xnode *val,
		       struct pb_backend_spec *b)
{
	const struct xnode *s = val && val->kind == XN_MAP ? xn_get(val, "serve") : NULL;
	const struct xnode *n = val && val->kind == XN_MAP ? xn_get(val, "network") : NULL;
	const struct xnode *top = xn_get(c->root, "network");
	const struct pb_plugin *p = b->step.plugin->desc;
	int ret;
	if (s) {
		if ((ret = xp_scalar(c, s, "serve")) < 0)
			return ret;
		if (!strcmp(s->text, "true"))
			b->serve = 1;
		else if (strcmp(s->text, "false"))
			return xerr(c, s, "'serve': expected true or false, got '%s'", s->text);
	}
	if (b->serve && pb_backend_is_remote(p->ops))
		return xerr(c, s, "backend '%s': serve: true runs `prunebench serve` with a local "
			    "backend, and '%s' is remote (it already sends requests to a server)",
			    key->text, p->name);
	if (b->serve) {
		int client = 0;
		for (int i = 0; c->reg && i < c->reg->n_entries; i++) {
			const struct pb_plugin *d = c->reg->entries[i].desc;
			client |= d && d->kind == PB_BACKEND && !strcmp(d->name, "openai");
		}
		if (!client)
			return xerr(c, s, "backend '%s': serve: true measures the server through the "
				    "'openai' backend, which is not built here (it needs libcurl)",
				    key->text);
	}
	if (n && !b->serve)
		return xerr(c, n, "backend '%s': 'network' shapes the link to a served cell's "
			    "server; add 'serve: true' or remove it", key->text);
	if (!b->serve)
		return 0;
	if (n || top)
		return xp_parse_link(c, n ? n : top, &b->network);
	b->network = pb_link_presets[0].link;   /* loopback */
	return 0;
}

static int backend_entry(struct xctx *c, const struct xnode *key, struct xnode *val,
			 const char *name, void *arg)
{
	struct pb_experiment *e = c->e;
	const struct xnode *at;
	(void)arg;
	int ret = entry_plugin(c, key, val, &at);
	if (ret < 0)
		return ret;
	struct pb_backend_spec *b = realloc(e->backends, (e->n_backends + 1) * sizeof *b);
	if (!b)
		return -ENOMEM;
	e->backends = b;
	b = &e->backends[e->n_backends];
	memset(b, 0, sizeof *b);
	snprintf(b->name, sizeof b->name, "%s", name);
	ret = make_step(c, PB_BACKEND, at, at->text, val, backend_keys, &b->step);
	if (ret == 0) {
		e->n_backends++;
		ret = served_keys(c, key, val, b);
	}
	if (ret == 0)
		ret = xp_backend_load(c, val, b);
	return ret;
}

static int backend_item(struct xctx *c, const struct xnode *key, struct xnode *val)
{
	return xp_expand_entry(c, XA_BACKEND, key, val, backend_entry, NULL);
}

int xp_parse_backends(struct xctx *c)
{
	int ret = plugin_list(c, "backends", 1, backend_item);
	const struct xnode *top = xn_get(c->root, "network");
	if (ret < 0 || !top)
		return ret;
	for (int i = 0; i < c->e->n_backends; i++)
		if (c->e->backends[i].serve)
			return 0;
	return xerr(c, top, "'network' shapes the link to a served cell's server, and no backend "
		    "entry has 'serve: true'");
}

static int probe_item(struct xctx *c, const struct xnode *key, struct xnode *val)
{
	struct pb_experiment *e = c->e;
	const struct xnode *at;
	int ret = xp_check_name(c, key, key->text, "probes");
	if (ret < 0 || (ret = entry_plugin(c, key, val, &at)) < 0)
		return ret;
	for (int i = 0; i < e->n_probes; i++)
		if (!strcmp(e->probes[i].plugin->desc->name, at->text))
			return xerr(c, at, "probes: '%s' is listed twice", at->text);
	struct pb_step *p = realloc(e->probes, (e->n_probes + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	e->probes = p;
	ret = make_step(c, PB_PROBE, at, at->text, val, entry_keys, &e->probes[e->n_probes]);
	if (ret == 0)
		e->n_probes++;
	return ret;
}

int xp_parse_probes(struct xctx *c)
{
	return plugin_list(c, "probes", 0, probe_item);
}

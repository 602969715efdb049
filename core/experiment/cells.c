/* core/experiment/cells.c — the matrix: the product of the axes (model
 * outermost, then dataset, chain, backend), filtered by include/exclude,
 * and each cell's canonical configuration text and id.
 *
 * The id is "<model>.<dataset>.<chain>.<backend>-<hash8>", hash8 from the
 * sha256 of config_text.  config_text holds everything that changes what a
 * cell measures, resolved (every option of every plugin, defaults
 * included), and nothing that does not (experiment name, output folder,
 * timeout) or that differs between machines (absolute paths: files are
 * named by their base name).  So ids are stable across runs and machines
 * and change exactly when a cell's resolved setting changes.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "xp.h"

#define XP_MAX_CELLS 1000000

static const char *const axis_keys[] = { "model", "dataset", "pruner", "backend" };

struct rule {
	const struct xnode *pat[4];
};

struct rules {
	const struct xnode *node;   /* the include:/exclude: value, or NULL */
	struct rule *v;
	int n;
};

static int axis_n(const struct pb_experiment *e, int a)
{
	return a == XA_MODEL ? e->n_models : a == XA_DATASET ? e->n_datasets :
	       a == XA_PRUNER ? e->n_chains : e->n_backends;
}

static const char *axis_name(const struct pb_experiment *e, int a, int i)
{
	return a == XA_MODEL ? e->models[i].name : a == XA_DATASET ? e->datasets[i].name :
	       a == XA_PRUNER ? e->chains[i].name : e->backends[i].name;
}

static int pat_match(const struct xctx *c, int a, int i, const char *pat)
{
	return !fnmatch(pat, axis_name(c->e, a, i), 0) || !fnmatch(pat, c->orig[a][i], 0);
}

/* A literal name that matches no entry is a typo; a glob may match none. */
static int check_literal(struct xctx *c, int a, const struct xnode *v)
{
	if (strpbrk(v->text, "*?["))
		return 0;
	int n = axis_n(c->e, a);
	for (int i = 0; i < n; i++)
		if (pat_match(c, a, i, v->text))
			return 0;
	const char **names = calloc(2 * n + 1, sizeof *names);
	if (!names)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		names[2 * i] = axis_name(c->e, a, i);
		names[2 * i + 1] = c->orig[a][i];
	}
	char dym[160];
	int ret = xerr(c, v, "no %s named '%s'%s", axis_keys[a], v->text,
		       xp_dym(dym, sizeof dym, v->text, names, 2 * n));
	free(names);
	return ret;
}

static int parse_rules(struct xctx *c, const char *key, struct rules *r)
{
	char dym[160];
	const struct xnode *n = xn_get(c->root, key);
	r->node = n;
	if (!n)
		return 0;
	if (n->kind != XN_SEQ)
		return xerr(c, n, "'%s': expected a list of rules like {pruner: dense, backend: vulkan}, got %s",
			    key, xn_kind_name(n));
	r->v = calloc(n->n + 1, sizeof *r->v);
	if (!r->v)
		return -ENOMEM;
	for (int i = 0; i < n->n; i++) {
		const struct xnode *m = n->vals[i];
		if (m->kind != XN_MAP || m->n == 0)
			return xerr(c, m, "'%s': rule %d: expected a mapping of axis: name, got %s",
				    key, i + 1, m->kind == XN_MAP ? "an empty mapping" : xn_kind_name(m));
		for (int j = 0; j < m->n; j++) {
			const char *ax = m->keys[j]->text;
			int a;
			for (a = 0; a < 4; a++)
				if (!strcmp(ax, axis_keys[a]))
					break;
			if (a == 4)
				return xerr(c, m->keys[j], "'%s': unknown axis '%s'; use model, dataset, pruner or backend%s",
					    key, ax, xp_dym(dym, sizeof dym, ax, axis_keys, 4));
			int ret = xp_scalar(c, m->vals[j], key);
			if (ret < 0 || (ret = check_literal(c, a, m->vals[j])) < 0)
				return ret;
			r->v[i].pat[a] = m->vals[j];
		}
	}
	r->n = n->n;
	return 0;
}

static int rule_match(const struct xctx *c, const struct rule *r, const int *ix)
{
	for (int a = 0; a < 4; a++)
		if (r->pat[a] && !pat_match(c, a, ix[a], r->pat[a]->text))
			return 0;
	return 1;
}

/* ---- canonical configuration text ---- */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		/* b->p is NULL until the first growth: NULL + 0 is undefined. */
		int n = vsnprintf(b->p ? b->p + b->n : NULL, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->n) {
			b->n += n;
			return;
		}
		size_t cap = (b->cap + n + 1) * 2;
		char *t = realloc(b->p, cap);
		if (!t) {
			b->oom = 1;
			return;
		}
		b->p = t;
		b->cap = cap;
	}
}

/* A YAML double-quoted scalar: valid whatever the bytes. */
static void sb_quoted(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			sb_printf(b, "\\x%02x", *p);
		else
			sb_printf(b, "%c", *p);
	}
	sb_printf(b, "\"");
}

static void sb_key(struct sbuf *b, const char *k)
{
	int plain = k[0] && k[0] != '-';
	for (const char *p = k; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
	if (plain)
		sb_printf(b, "%s", k);
	else
		sb_quoted(b, k);
	sb_printf(b, ":");
}

/* "<indent>plugin:\n<indent+2>key: value" for every option in table order. */
static void sb_step(struct sbuf *b, const struct pb_step *s, int indent)
{
	const struct pb_plugin *p = s->plugin->desc;
	char val[PB_OPT_STR_MAX + 8];
	sb_key(b, p->name);
	if (!p->options || !p->options[0].key) {
		sb_printf(b, " {}\n");
		return;
	}
	sb_printf(b, "\n");
	for (const struct pb_option *o = p->options; o->key; o++) {
		sb_printf(b, "%*s", indent + 2, "");
		sb_key(b, o->key);
		if (pb_option_format(o, s->config, val, sizeof val) < 0)
			val[0] = '\0';
		if (o->type == PB_OPT_STRING || o->type == PB_OPT_ENUM) {
			sb_printf(b, " ");
			sb_quoted(b, val);
			sb_printf(b, "\n");
		} else {
			sb_printf(b, " %s\n", val);
		}
	}
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static char *config_text(const struct pb_experiment *e, const struct pb_cell *cell)
{
	struct sbuf b = { 0 };
	const struct pb_model_spec *m = cell->model;
	const struct pb_dataset_spec *d = cell->dataset;

	sb_printf(&b, "model:\n");
	if (m->source == PB_MODEL_SYNTH) {
		sb_printf(&b, "  synth: ");
		sb_quoted(&b, m->preset);
		sb_printf(&b, "\n  seed: %llu\n", (unsigned long long)m->seed);
	} else {
		sb_printf(&b, "  file: ");
		sb_quoted(&b, base_name(m->path));
		sb_printf(&b, "\n");
		if (m->tokenizer[0]) {
			sb_printf(&b, "  tokenizer: ");
			sb_quoted(&b, base_name(m->tokenizer));
			sb_printf(&b, "\n");
		}
		if (m->tokenizer_pre[0]) {
			sb_printf(&b, "  tokenizer_pre: ");
			sb_quoted(&b, m->tokenizer_pre);
			sb_printf(&b, "\n");
		}
	}
	if (m->ctx > 0)
		sb_printf(&b, "  ctx: %d\n", m->ctx);
	sb_printf(&b, "dataset:\n  file: ");
	sb_quoted(&b, base_name(d->path));
	sb_printf(&b, "\n  format: %s\n", pb_dataset_kind_name(d->format));
	if (d->format == PB_DATASET_JSONL || d->format == PB_DATASET_CSV) {
		sb_printf(&b, "  input: ");
		sb_quoted(&b, d->input);
		sb_printf(&b, "\n");
		if (d->reference[0]) {
			sb_printf(&b, "  reference: ");
			sb_quoted(&b, d->reference);
			sb_printf(&b, "\n");
		}
	}
	if (d->prefix[0]) {
		sb_printf(&b, "  prefix: ");
		sb_quoted(&b, d->prefix);
		sb_printf(&b, "\n");
	}
	if (d->format == PB_DATASET_TEXT)
		sb_printf(&b, "  ctx: %d\n  stride: %d\n", d->ctx, d->stride);
	/* only when given, so that the ids of existing cells stay */
	if (d->protocol)
		sb_printf(&b, "  protocol: %s\n", d->protocol == PB_PPL_HF ? "hf" :
			  d->protocol == PB_PPL_LLAMACPP ? "llama.cpp" : "records");
	if (d->bos)
		sb_printf(&b, "  bos: %s\n", d->bos == PB_BOS_WINDOW ? "window" : "once");
	if (d->separator[0]) {
		sb_printf(&b, "  separator: ");
		sb_quoted(&b, d->separator);
		sb_printf(&b, "\n");
	}
	if (d->max_samples)
		sb_printf(&b, "  max_samples: %d\n", d->max_samples);
	if (d->shuffle)
		sb_printf(&b, "  shuffle: true\n");
	if (d->calib_count)
		sb_printf(&b, "  calibration:\n    count: %d\n    seqlen: %d\n",
			  d->calib_count, d->calib_seqlen);
	sb_printf(&b, "chain:%s\n", cell->chain->n_steps ? "" : " []");
	for (int i = 0; i < cell->chain->n_steps; i++) {
		sb_printf(&b, "  - ");
		sb_step(&b, &cell->chain->steps[i], 4);
	}
	sb_printf(&b, "backend:\n  ");
	sb_step(&b, &cell->backend->step, 2);
	if (cell->backend->serve) {   /* only then, so that other cells keep their ids */
		const struct pb_link *l = &cell->backend->network;
		sb_printf(&b, "serve: true\nnetwork:\n  delay_ms: %.15g\n  jitter_ms: %.15g\n"
			  "  loss_pct: %.15g\n  rate_mbit: %.15g\n", l->delay_ms, l->jitter_ms,
			  l->loss_pct, l->rate_mbit);
	}
	/* only a load other than the default, so that the ids of cells
	 * without one stay what they were */
	const struct pb_load_spec *l = &cell->backend->load;
	if (!pb_load_is_default(l)) {
		sb_printf(&b, "load:\n  mode: %s\n  concurrency: %d\n",
			  l->mode == PB_LOAD_OPEN ? "open" : "closed", l->concurrency);
		if (l->mode == PB_LOAD_OPEN)
			sb_printf(&b, "  rate: %.15g\n  arrivals: %s\n  seed: %llu\n", l->rate_rps,
				  l->arrivals == PB_ARRIVALS_CONSTANT ? "constant" : "poisson",
				  (unsigned long long)l->seed);
		if (l->requests)
			sb_printf(&b, "  requests: %ld\n", l->requests);
		if (l->duration_s > 0)
			sb_printf(&b, "  duration: %.15g\n", l->duration_s);
	}
	sb_printf(&b, "probes:%s\n", e->n_probes ? "" : " []");
	for (int i = 0; i < e->n_probes; i++) {
		sb_printf(&b, "  - ");
		sb_step(&b, &e->probes[i], 4);
	}
	sb_printf(&b, "seed: %llu\nrepeat: %d\nwarmup: %d\nmax_new_tokens: %d\nmax_samples: %d\n"
		  "score_tokens: %d\n",
		  (unsigned long long)e->seed, e->repeat, e->warmup, e->max_new_tokens,
		  e->max_samples, e->score_tokens);
	/* measurement conditions: only when set, so that the ids of cells
	 * from experiments that do not use them stay what they were */
	if (e->idle_baseline_s > 0)
		sb_printf(&b, "idle_baseline: %.15g\n", e->idle_baseline_s);
	if (e->cooldown)
		sb_printf(&b, "cooldown:\n  max_temp_c: %.15g\n  timeout_s: %.15g\n",
			  e->cooldown_max_temp_c, e->cooldown_timeout_s);
	if (e->throttle_pct != 90)
		sb_printf(&b, "throttle_pct: %.15g\n", e->throttle_pct);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int xp_build_cells(struct xctx *c)
{
	struct pb_experiment *e = c->e;
	struct rules inc = { 0 }, exc = { 0 };
	int ret;

	if ((ret = parse_rules(c, "include", &inc)) < 0 ||
	    (ret = parse_rules(c, "exclude", &exc)) < 0)
		goto out;

	long total = 1;
	for (int a = 0; a < 4; a++)
		total *= axis_n(e, a);
	if (total > XP_MAX_CELLS) {
		ret = xerr(c, c->root, "the matrix has %ld cells, more than %d", total, XP_MAX_CELLS);
		goto out;
	}
	e->cells = calloc(total, sizeof *e->cells);
	ret = -ENOMEM;
	if (!e->cells)
		goto out;

	int ix[4], index = 0;
	for (ix[0] = 0; ix[0] < e->n_models; ix[0]++)
	for (ix[1] = 0; ix[1] < e->n_datasets; ix[1]++)
	for (ix[2] = 0; ix[2] < e->n_chains; ix[2]++)
	for (ix[3] = 0; ix[3] < e->n_backends; ix[3]++, index++) {
		int keep = !inc.node;
		for (int r = 0; !keep && r < inc.n; r++)
			keep = rule_match(c, &inc.v[r], ix);
		for (int r = 0; keep && r < exc.n; r++)
			keep = !rule_match(c, &exc.v[r], ix);
		if (!keep)
			continue;
		struct pb_cell *cell = &e->cells[e->n_cells];
		cell->index = index;
		cell->model = &e->models[ix[0]];
		cell->dataset = &e->datasets[ix[1]];
		cell->chain = &e->chains[ix[2]];
		cell->backend = &e->backends[ix[3]];
		cell->config_text = config_text(e, cell);
		if (!cell->config_text)
			goto out;
		e->n_cells++;
		char hex[65];
		pb_sha256_buf(cell->config_text, strlen(cell->config_text), hex);
		snprintf(cell->id, sizeof cell->id, "%s.%s.%s.%s-%.8s", cell->model->name,
			 cell->dataset->name, cell->chain->name, cell->backend->name, hex);
	}
	ret = 0;
	if (e->n_cells == 0)
		ret = xerr(c, inc.node ? inc.node : exc.node,
			   "the include/exclude rules leave no cells to run");
out:
	free(inc.v);
	free(exc.v);
	return ret;
}

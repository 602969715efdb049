/* core/experiment/experiment.c — pb_experiment_load: read the file, build
 * the node tree, apply --set overrides, interpret it section by section,
 * and expand the matrix.  Also the error formatting every file of this
 * room shares, so all messages read "file:line:col: what (did you mean ..)".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "xp.h"

int xerr(struct xctx *c, const struct xnode *at, const char *fmt, ...)
{
	/* The first error is the one that explains; later ones are fallout. */
	if (c->failed || !c->err || !c->len) {
		c->failed = 1;
		return -EINVAL;
	}
	c->failed = 1;
	int n;
	if (at && at->origin >= 0 && at->origin < c->n_sets) {
		/* a long value is cut: the position says where the problem is */
		const char *set = c->sets[at->origin];
		size_t sl = strlen(set);
		if (sl > 80)
			n = snprintf(c->err, c->len, "--set %.60s…(%zu bytes), column %d: ", set, sl,
				     at->col);
		else
			n = snprintf(c->err, c->len, "--set %s: ", set);
	} else if (at)
		n = snprintf(c->err, c->len, "%s:%d:%d: ", c->file, at->line, at->col);
	else
		n = snprintf(c->err, c->len, "%s: ", c->file);
	if (n < 0 || (size_t)n >= c->len)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->len - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *xp_dym(char *buf, size_t len, const char *word, const char *const *cands, int n)
{
	int limit = (int)strlen(word) / 3;
	limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
	const char *best = NULL;
	int best_d = limit + 1;
	for (int i = 0; i < n; i++) {
		if (!cands[i])
			continue;
		int d = pb_edit_distance(word, cands[i]);
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	if (!best)
		buf[0] = '\0';
	else
		snprintf(buf, len, " (did you mean '%s'?)", best);
	return buf;
}

static void free_steps(struct pb_step *s, int n)
{
	for (int i = 0; i < n; i++)
		xp_step_clear(&s[i]);
	free(s);
}

void pb_experiment_free(struct pb_experiment *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n_chains; i++)
		free_steps(e->chains[i].steps, e->chains[i].n_steps);
	for (int i = 0; i < e->n_backends; i++)
		xp_step_clear(&e->backends[i].step);
	free_steps(e->probes, e->n_probes);
	xp_slurm_clear(&e->slurm);
	for (int i = 0; i < e->n_cells; i++)
		free(e->cells[i].config_text);
	free(e->cells);
	free(e->models);
	free(e->datasets);
	free(e->chains);
	free(e->backends);
	free(e->yaml);
	free(e);
}

const struct pb_cell *pb_experiment_cell(const struct pb_experiment *e, const char *id)
{
	if (!e || !id)
		return NULL;
	for (int i = 0; i < e->n_cells; i++)
		if (!strcmp(e->cells[i].id, id))
			return &e->cells[i];
	return NULL;
}

static int interpret(struct xctx *c)
{
	int ret;
	if (!c->root)
		return xerr(c, NULL, "the file is empty; an experiment needs at least "
			    "'name', 'models', 'datasets' and 'backends'");
	if (c->root->kind != XN_MAP)
		return xerr(c, c->root, "expected a mapping of settings at the top level, got %s",
			    xn_kind_name(c->root));
	if ((ret = xp_parse_settings(c)) < 0 ||
	    (ret = xp_parse_defaults(c)) < 0 ||
	    (ret = xp_parse_models(c)) < 0 ||
	    (ret = xp_parse_datasets(c)) < 0 ||
	    (ret = xp_parse_pruners(c)) < 0 ||
	    (ret = xp_parse_backends(c)) < 0 ||
	    (ret = xp_parse_probes(c)) < 0 ||
	    (ret = xp_parse_slurm(c)) < 0)
		return ret;
	return xp_build_cells(c);
}

int pb_experiment_load(const char *path, const struct pb_registry *reg,
		       const char *const *sets, int n_sets,
		       struct pb_experiment **out, char *err, size_t len)
{
	struct xctx c = {
		.file = path, .sets = sets, .n_sets = sets ? n_sets : 0,
		.err = err, .len = len, .reg = reg,
	};
	int ret;

	*out = NULL;
	if (err && len)
		err[0] = '\0';
	struct pb_experiment *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	c.e = e;
	e->registry = reg;
	if (snprintf(e->file, sizeof e->file, "%s", path) >= (int)sizeof e->file) {
		ret = xerr(&c, NULL, "path too long");
		goto fail;
	}
	pb_dirname(path, e->dir, sizeof e->dir);
	ret = pb_read_file(path, &e->yaml, &e->yaml_len);
	if (ret < 0) {
		if (err && len)
			snprintf(err, len, "%s: cannot read: %s", path, pb_strerror(ret));
		goto fail;
	}
	ret = xn_load(&c, e->yaml, e->yaml_len, -1, &c.root);
	if (ret < 0)
		goto fail;
	for (int i = 0; i < c.n_sets; i++) {
		ret = xp_apply_set(&c, i);
		if (ret < 0)
			goto fail;
	}
	ret = interpret(&c);
	if (ret < 0)
		goto fail;
	xn_free(c.root);
	for (int a = 0; a < 4; a++)
		free(c.orig[a]);
	*out = e;
	return 0;
fail:
	xn_free(c.root);
	for (int a = 0; a < 4; a++)
		free(c.orig[a]);
	pb_experiment_free(e);
	if (ret == -EINVAL && err && len && !err[0])
		snprintf(err, len, "%s: invalid experiment", path);
	return ret;
}

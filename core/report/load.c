/* core/report/load.c — a results folder into memory: every cell folder
 * under cells/ (a `.tmp` folder is a cell still being written and is
 * skipped), its manifest through libyaml's document loader, and lookups
 * into both.  The per-file CSV readers are in load-cell.c. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report-internal.h"
#include "results/results.h"
#include "util/util.h"

int pb_csv_record_line(const char *path, int rec)
{
	char *buf = NULL;
	size_t n = 0;
	if (rec < 0 || pb_read_file(path, &buf, &n) < 0)
		return 0;
	/* a record starts at the first non-blank line after the previous
	 * one ended (libcsv skips blank lines); quotes may span lines */
	int line = 1, r = 0, quoted = 0, at_start = 1, found = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];
		if (at_start && ch != '\n' && ch != '\r') {
			if (r == rec) {
				found = line;
				break;
			}
			at_start = 0;
		}
		if (ch == '"')
			quoted = !quoted;
		if (ch == '\n') {
			line++;
			if (!quoted && !at_start) {
				r++;
				at_start = 1;
			}
		}
	}
	free(buf);
	return found;
}

/* ---- manifest */

static int load_manifest(struct pb_rep_cell *c, const char *path, char *err, size_t len)
{
	yaml_parser_t p;
	char *text = NULL;
	size_t n = 0, dl, dc;
	int rc = pb_read_file(path, &text, &n);

	if (rc < 0)
		return pb_errf(err, len, rc, "%s: %s", path, pb_strerror(rc));
	rc = pb_yaml_depth_check(text, n, PB_REP_MAX_DEPTH, &dl, &dc);
	if (rc < 0) {
		free(text);
		if (rc == -E2BIG)
			return pb_errf(err, len, rc, "%s:%zu:%zu: nesting deeper than %d levels",
				       path, dl, dc, PB_REP_MAX_DEPTH);
		return pb_errf(err, len, rc, "%s: out of memory", path);
	}
	if (!yaml_parser_initialize(&p)) {
		free(text);
		return pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	if (!yaml_parser_load(&p, &c->doc)) {
		if (p.context)
			rc = pb_errf(err, len, -EINVAL, "%s:%zu:%zu: %s %s (which started at %zu:%zu)",
				     path, p.problem_mark.line + 1, p.problem_mark.column + 1,
				     p.problem ? p.problem : "invalid YAML", p.context,
				     p.context_mark.line + 1, p.context_mark.column + 1);
		else
			rc = pb_errf(err, len, -EINVAL, "%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
				     p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML");
		goto out;
	}
	c->have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = pb_errf(err, len, -EINVAL, "%s:%zu:%zu: expected a mapping (status, cell, "
			     "axes, ...) at the top", path, root ? root->start_mark.line + 1 : 1,
			     root ? root->start_mark.column + 1 : 1);
		goto out;
	}
out:
	yaml_parser_delete(&p);
	free(text);
	return rc;
}

yaml_node_t *pb_rep_yaml_get(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

yaml_node_t *pb_rep_manifest_node(const struct pb_rep_cell *c, const char *path)
{
	yaml_document_t *d = (yaml_document_t *)&c->doc;
	char key[128];
	if (!c->have_doc)
		return NULL;
	yaml_node_t *n = yaml_document_get_root_node(d);
	while (n && *path) {
		const char *dot = strchr(path, '.');
		size_t l = dot ? (size_t)(dot - path) : strlen(path);
		if (l >= sizeof key)
			return NULL;
		memcpy(key, path, l);
		key[l] = '\0';
		n = pb_rep_yaml_get(d, n, key);
		path += l + (dot ? 1 : 0);
	}
	return n;
}

const char *pb_rep_manifest(const struct pb_rep_cell *c, const char *path)
{
	yaml_node_t *n = pb_rep_manifest_node(c, path);
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The chain's plugins, from the manifest's config.chain (a sequence of
 * one-key mappings), joined by '+': the "method" of a chain. */
static char *chain_method(struct pb_rep_cell *c)
{
	char buf[256] = "";
	size_t at = 0;
	yaml_node_t *ch = pb_rep_manifest_node(c, "config.chain");
	if (!ch || ch->type != YAML_SEQUENCE_NODE)
		return strdup(c->pruner);  /* no manifest detail: the axis name */
	for (yaml_node_item_t *it = ch->data.sequence.items.start; it < ch->data.sequence.items.top; it++) {
		yaml_node_t *step = yaml_document_get_node(&c->doc, *it);
		const char *name = NULL;
		if (step && step->type == YAML_MAPPING_NODE &&
		    step->data.mapping.pairs.top > step->data.mapping.pairs.start) {
			yaml_node_t *k = yaml_document_get_node(&c->doc, step->data.mapping.pairs.start->key);
			if (k && k->type == YAML_SCALAR_NODE)
				name = (const char *)k->data.scalar.value;
		} else if (step && step->type == YAML_SCALAR_NODE) {
			name = (const char *)step->data.scalar.value;
		}
		if (name && at < sizeof buf)
			at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", at ? "+" : "", name);
	}
	return strdup(buf);
}

/* ---- lookups */

const char *pb_rep_str(const struct pb_rep_cell *c, const char *col)
{
	int j = c->summary ? pb_table_col(c->summary, col) : -1;
	return j >= 0 && c->summary->nrows > 0 ? c->summary->rows[0][j] : "";
}

double pb_rep_num(const struct pb_rep_cell *c, const char *col)
{
	const char *s = pb_rep_str(c, col);
	double v;
	return s[0] && pb_rep_parse_num(s, &v) == 0 ? v : NAN;
}

int pb_rep_parse_num(const char *s, double *v)
{
	char *end;
	if (!s[0]) {
		*v = NAN;
		return 0;
	}
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE)
		return -EINVAL;
	return 0;
}

/* ---- the folder */

static int cmp_cell(const void *a, const void *b)
{
	const struct pb_rep_cell *x = a, *y = b;
	return strcmp(x->id, y->id);
}

static void cell_free(struct pb_rep_cell *c)
{
	free(c->id);
	free(c->model);
	free(c->dataset);
	free(c->pruner);
	free(c->backend);
	free(c->dir);
	free(c->reason);
	free(c->log_tail);
	free(c->method);
	free(c->aa_of);
	free(c->round_no);
	pb_table_free(c->rounds);
	if (c->have_doc)
		yaml_document_delete(&c->doc);
	pb_table_free(c->summary);
	for (int s = 0; s < PB_S_COUNT; s++)
		free(c->samples[s]);
}

void pb_rep_free(struct pb_rep *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_cells; i++)
		cell_free(&r->cells[i]);
	free(r->cells);
	free(r->dir);
	free(r);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int load_cell(struct pb_rep_cell *c, const char *cells_dir, const char *id,
		     char *err, size_t len)
{
	char path[4096];
	int rc;

	c->id = strdup(id);
	if (!c->id || pb_path_join(path, sizeof path, cells_dir, id) < 0 || !(c->dir = strdup(path)))
		return pb_errf(err, len, -ENOMEM, "%s: path too long or out of memory", id);
	pb_path_join(path, sizeof path, c->dir, "manifest.yaml");
	if ((rc = load_manifest(c, path, err, len)) < 0)
		return rc;
	const char *status = pb_rep_manifest(c, "status");
	if (!status || (strcmp(status, "done") && strcmp(status, "failed")))
		return pb_errf(err, len, -EINVAL, "%s: `status` is %s%s%s (expected done or failed)",
			       path, status ? "'" : "missing", status ? status : "", status ? "'" : "");
	c->failed = !strcmp(status, "failed");
	c->reason = dup_or_empty(pb_rep_manifest(c, "reason"));
	c->log_tail = dup_or_empty(pb_rep_manifest(c, "log_tail"));
	pb_path_join(path, sizeof path, c->dir, "summary.csv");
	if ((rc = pb_rep_read_summary(c, path, err, len)) < 0)
		return rc;
	/* identity: the manifest's axes, else the summary's columns */
	static const char *const axes[] = { "model", "dataset", "pruner", "backend" };
	char **dst[] = { &c->model, &c->dataset, &c->pruner, &c->backend };
	for (int k = 0; k < 4; k++) {
		char key[32];
		snprintf(key, sizeof key, "axes.%s", axes[k]);
		const char *v = pb_rep_manifest(c, key);
		*dst[k] = dup_or_empty(v ? v : pb_rep_str(c, axes[k]));
	}
	c->method = chain_method(c);
	c->aa_of = dup_or_empty(pb_rep_str(c, "aa_of"));
	c->n_rounds = 1;
	if (!c->aa_of || !c->reason || !c->log_tail || !c->model || !c->dataset || !c->pruner || !c->backend ||
	    !c->method)
		return pb_errf(err, len, -ENOMEM, "out of memory");
	if (c->failed)
		return 0;
	if ((rc = pb_rep_read_requests(c, err, len)) < 0 ||
	    (rc = pb_rep_read_tensors(c, err, len)) < 0 ||
	    (rc = pb_rep_read_phases(c, err, len)) < 0 ||
	    (rc = pb_rep_read_rounds(c, err, len)) < 0)
		return rc;
	return 0;
}

int pb_rep_load(const char *dir, struct pb_rep **out, char *err, size_t len)
{
	char cells_dir[4096];
	struct pb_rep *r = calloc(1, sizeof *r);
	DIR *d = NULL;
	int rc = 0, cap = 0;

	*out = NULL;
	if (!r || !(r->dir = strdup(dir))) {
		rc = pb_errf(err, len, -ENOMEM, "out of memory");
		goto fail;
	}
	pb_path_join(cells_dir, sizeof cells_dir, dir, "cells");
	d = opendir(cells_dir);
	if (!d) {
		rc = pb_errf(err, len, -errno, "%s: %s (is %s a results folder? it should hold "
			     "cells/<id>/manifest.yaml)", cells_dir, strerror(errno), dir);
		goto fail;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char mpath[4096];
		struct stat st;
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")))
			continue;
		if (snprintf(mpath, sizeof mpath, "%s/%s/manifest.yaml", cells_dir, de->d_name) >=
		    (int)sizeof mpath || stat(mpath, &st) < 0) {
			pb_log(PB_LOG_WARN, "%s/%s: no manifest.yaml, not a cell; skipped", cells_dir,
			       de->d_name);
			continue;
		}
		if (r->n_cells == cap) {
			int nc = cap ? cap * 2 : 16;
			struct pb_rep_cell *p = realloc(r->cells, (size_t)nc * sizeof *p);
			if (!p) {
				rc = pb_errf(err, len, -ENOMEM, "out of memory");
				goto fail;
			}
			r->cells = p;
			cap = nc;
		}
		struct pb_rep_cell *c = &r->cells[r->n_cells++];
		memset(c, 0, sizeof *c);
		if ((rc = load_cell(c, cells_dir, de->d_name, err, len)) < 0)
			goto fail;
		r->n_failed += c->failed;
	}
	if (!r->n_cells) {
		rc = pb_errf(err, len, -ENOENT, "%s: no cells (nothing has run yet?)", cells_dir);
		goto fail;
	}
	qsort(r->cells, (size_t)r->n_cells, sizeof *r->cells, cmp_cell);
	for (int i = 0; i < r->n_cells; i++) {
		double me = pb_rep_num(&r->cells[i], "min_effect_pct");
		if (me > r->min_effect_pct)
			r->min_effect_pct = me;
	}
	closedir(d);
	*out = r;
	return 0;
fail:
	if (d)
		closedir(d);
	pb_rep_free(r);
	return rc;
}

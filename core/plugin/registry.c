/* core/plugin/registry.c — finds plugin files, has each one's descriptor
 * checked at the door by a scanning child (plugin/scan.c), and dlopen()s a
 * plugin in this process only when it is used (pb_plugin_load).
 *
 * A bad plugin never makes the scan fail: it becomes one failure entry
 * whose `why` names the file and the cause, so `prunebench plugins` and
 * `prunebench validate` can tell the user what to fix.
 *
 * The first file providing a (kind, name) wins, even when it fails to
 * load: a researcher who points PRUNEBENCH_PLUGIN_PATH at a modified
 * plugin must not silently measure the installed one instead.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pb-config.h"
#include "plugin/registry.h"
#include "plugin/scan.h"
#include "util/util.h"

/* The build tree holds plugins/<kind>s/<name>/<kind>-<name>.so. */
#define PB_BUILD_TREE_DEPTH 4

static const char *const kind_names[] = {
	[PB_PRUNER] = "pruner",
	[PB_BACKEND] = "backend",
	[PB_PROBE] = "probe",
};

const char *pb_plugin_kind_name(enum pb_plugin_kind k)
{
	if ((unsigned)k < PB_ARRAY_LEN(kind_names) && kind_names[k])
		return kind_names[k];
	return "unknown";
}

static int kind_valid(enum pb_plugin_kind k)
{
	return k == PB_PRUNER || k == PB_BACKEND || k == PB_PROBE;
}

/* "<kind>-<name>.so" → kind and name; 0 when the file is not a plugin. */
static enum pb_plugin_kind parse_file_name(const char *base, char *name, size_t len)
{
	size_t n = strlen(base);
	if (n < 4 || strcmp(base + n - 3, ".so"))
		return 0;
	const char *dash = strchr(base, '-');
	if (!dash)
		return 0;
	enum pb_plugin_kind kind = 0;
	for (unsigned k = 1; k < PB_ARRAY_LEN(kind_names); k++)
		if ((size_t)(dash - base) == strlen(kind_names[k]) &&
		    !strncmp(base, kind_names[k], (size_t)(dash - base)))
			kind = (enum pb_plugin_kind)k;
	size_t name_len = (size_t)(base + n - 3 - (dash + 1));
	if (!kind || name_len == 0 || name_len >= len)
		return 0;
	memcpy(name, dash + 1, name_len);
	name[name_len] = '\0';
	return kind;
}

static __attribute__((format(printf, 3, 4)))
int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int pb_plugin_ops_copy(const struct pb_plugin *p, const char *path, union pb_plugin_ops *out,
		       char *why, size_t len)
{
	size_t min = 0, full = 0;
	uint32_t have;

	switch (p->kind) {
	case PB_PRUNER:
		min = PB_PRUNER_OPS_MIN_SIZE, full = sizeof(struct pb_pruner_ops);
		break;
	case PB_BACKEND:
		min = PB_BACKEND_OPS_MIN_SIZE, full = sizeof(struct pb_backend_ops);
		break;
	case PB_PROBE:
		min = PB_PROBE_OPS_MIN_SIZE, full = sizeof(struct pb_probe_ops);
		break;
	}
	/* struct_size is the first field of every kind's ops: read it alone
	 * before trusting anything after it */
	memcpy(&have, p->ops, sizeof have);
	if (have < min)
		return fail(why, len, "%s: %s '%s' has an ops struct_size of %u bytes, below the "
			    "%zu of ABI %d's struct pb_%s_ops (struct_size unset, or built against "
			    "an older prunebench/plugin.h?); set .struct_size = sizeof(struct "
			    "pb_%s_ops) and rebuild the plugin", path, pb_plugin_kind_name(p->kind),
			    p->name, have, min, PB_ABI_VERSION, pb_plugin_kind_name(p->kind),
			    pb_plugin_kind_name(p->kind));
	memset(out, 0, sizeof *out);
	memcpy(out, p->ops, have < full ? have : full);
	out->pruner.struct_size = (uint32_t)full;   /* the first field of every member */
	return 0;
}

/* The hooks each kind cannot do without, on the core's copy of the ops. */
static int check_ops(const struct pb_plugin *p, const union pb_plugin_ops *ops, const char *path,
		     char *why, size_t len)
{
	const char *missing = NULL;
	switch (p->kind) {
	case PB_PRUNER: {
		const struct pb_pruner_ops *o = &ops->pruner;
		if (!o->apply)
			missing = "apply()";
		break;
	}
	case PB_BACKEND: {
		const struct pb_backend_ops *o = &ops->backend;
		if (pb_backend_is_remote(o))
			break;   /* whole requests on a server: no op list, no weights */
		if (!o->weights_load)
			missing = "weights_load()";
		else if (!o->buffers_alloc)
			missing = "buffers_alloc()";
		else if (!o->graph_compute)
			missing = "graph_compute()";
		else if (!o->buffer_read)
			missing = "buffer_read()";
		else if (!o->formats)
			return fail(why, len, "%s: backend '%s' declares no weight format "
				    "(pb_backend_ops.formats is 0)", path, p->name);
		break;
	}
	case PB_PROBE: {
		const struct pb_probe_ops *o = &ops->probe;
		if (!o->channels)
			missing = "channels()";
		else if (!o->read)
			missing = "read()";
		else if (!(o->min_interval_ms >= 0))
			return fail(why, len, "%s: probe '%s' has a negative or NaN "
				    "min_interval_ms", path, p->name);
		break;
	}
	}
	if (missing && p->kind == PB_BACKEND)
		return fail(why, len, "%s: backend '%s' has no %s hook, which every backend "
			    "running op lists needs (a remote backend has complete() instead)",
			    path, p->name, missing);
	if (missing)
		return fail(why, len, "%s: %s '%s' has no %s hook, which every %s needs",
			    path, pb_plugin_kind_name(p->kind), p->name, missing,
			    pb_plugin_kind_name(p->kind));
	return 0;
}

int pb_plugin_check(const struct pb_plugin *p, const char *path, char *why, size_t len)
{
	char opt_why[384];

	if (!p)
		return fail(why, len, "%s: no descriptor", path);
	/* ABI first: with another ABI nothing past abi_version can be trusted. */
	if (p->abi_version != PB_ABI_VERSION)
		return fail(why, len, "%s: plugin ABI %u, this prunebench has ABI %d; "
			    "rebuild the plugin against this prunebench's headers",
			    path, p->abi_version, PB_ABI_VERSION);
	if (p->struct_size != sizeof(struct pb_plugin))
		return fail(why, len, "%s: descriptor struct_size is %u bytes, expected %zu "
			    "(built against another prunebench/plugin.h?); rebuild the plugin",
			    path, p->struct_size, sizeof(struct pb_plugin));
	if (!kind_valid(p->kind))
		return fail(why, len, "%s: unknown plugin kind %d (expected pruner=%d, "
			    "backend=%d or probe=%d)", path, (int)p->kind,
			    PB_PRUNER, PB_BACKEND, PB_PROBE);
	if (!p->name || !p->name[0])
		return fail(why, len, "%s: descriptor has no name", path);
	if (strlen(p->name) >= sizeof(((struct pb_plugin_failure *)0)->name))
		return fail(why, len, "%s: plugin name is longer than %zu characters", path,
			    sizeof(((struct pb_plugin_failure *)0)->name) - 1);
	if (!p->version)
		return fail(why, len, "%s: plugin '%s' has no version string", path, p->name);
	if (!p->init || !p->fini)
		return fail(why, len, "%s: plugin '%s' has no %s hook (init and fini are required)",
			    path, p->name, !p->init ? "init()" : "fini()");
	if (!p->ops)
		return fail(why, len, "%s: plugin '%s' has no ops (expected a struct pb_%s_ops)",
			    path, p->name, pb_plugin_kind_name(p->kind));
	union pb_plugin_ops ops;
	int rc = pb_plugin_ops_copy(p, path, &ops, why, len);
	if (rc < 0)
		return rc;
	rc = check_ops(p, &ops, path, why, len);
	if (rc < 0)
		return rc;
	if (p->options && p->options[0].key) {
		if (p->config_size == 0)
			return fail(why, len, "%s: plugin '%s' declares options but its "
				    "config_size is 0", path, p->name);
		if (pb_options_check_table(p->options, p->config_size, opt_why, sizeof opt_why) < 0)
			return fail(why, len, "%s: plugin '%s' has a bad option table: %s",
				    path, p->name, opt_why);
	}
	return 0;
}

/* ---- the registry ---------------------------------------------------- */

/* A file found on the search path, not yet scanned. */
struct cand {
	char path[PATH_MAX];
	enum pb_plugin_kind kind;
	char name[64];
};

struct cands {
	struct cand *v;
	int n;
};

static int cand_known(const struct cands *cs, enum pb_plugin_kind kind, const char *name)
{
	for (int i = 0; i < cs->n; i++)
		if (cs->v[i].kind == kind && !strcmp(cs->v[i].name, name))
			return 1;
	return 0;
}

static int add_failure(struct pb_registry *r, const char *path, enum pb_plugin_kind kind,
		       const char *name, const char *why)
{
	struct pb_plugin_failure *f = realloc(r->failures,
					      (size_t)(r->n_failures + 1) * sizeof *f);
	if (!f)
		return -ENOMEM;
	r->failures = f;
	f += r->n_failures++;
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s", path);
	f->kind = kind;
	snprintf(f->name, sizeof f->name, "%s", name);
	snprintf(f->why, sizeof f->why, "%s", why);
	/* one line per broken file; the command goes on without it */
	pb_log(PB_LOG_WARN, "plugin not loaded: %s", why);
	return 0;
}

/* A scanned file that passed every check becomes an entry. */
static int add_entry(struct pb_registry *r, struct pb_scan_item *it)
{
	struct pb_plugin_entry *e;
	char why[512];
	int rc;

	e = realloc(r->entries, (size_t)(r->n_entries + 1) * sizeof *e);
	if (!e)
		return -ENOMEM;
	r->entries = e;
	e += r->n_entries;
	memset(e, 0, sizeof *e);
	rc = pb_sha256_file(it->path, e->sha256);
	if (rc < 0) {
		snprintf(why, sizeof why, "%s: cannot hash the file: %s", it->path, strerror(-rc));
		pb_plugin_copy_free(it->copy);
		it->copy = NULL;
		return add_failure(r, it->path, it->kind, it->name, why);
	}
	snprintf(e->path, sizeof e->path, "%s", it->path);
	e->copy = it->copy;
	e->desc = &it->copy->desc;
	it->copy = NULL;
	r->n_entries++;
	pb_log(PB_LOG_DEBUG, "plugin %s '%s' %s from %s (scanned)",
	       pb_plugin_kind_name(e->desc->kind), e->desc->name, e->desc->version, e->path);
	return 0;
}

static double scan_timeout_s(void)
{
	const char *env = getenv("PRUNEBENCH_PLUGIN_TIMEOUT");
	char *end;
	double v;
	if (!env || !env[0])
		return 10;
	v = strtod(env, &end);
	if (end == env || *end || !(v > 0) || v > 86400) {
		pb_log(PB_LOG_WARN, "PRUNEBENCH_PLUGIN_TIMEOUT='%s' is not a number of seconds "
		       "> 0; using 10", env);
		return 10;
	}
	return v;
}

/* Scan every candidate (truncated files are refused without loading
 * them) and turn each into an entry or a failure, in search order. */
static int scan_cands(struct pb_registry *r, const struct cands *cs)
{
	struct pb_scan_item *items = calloc(cs->n ? (size_t)cs->n : 1, sizeof *items);
	int *slot = calloc(cs->n ? (size_t)cs->n : 1, sizeof *slot);
	int n = 0, rc = 0;

	if (!items || !slot) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < cs->n; i++) {
		items[i].path = cs->v[i].path;
		items[i].kind = cs->v[i].kind;
		items[i].name = cs->v[i].name;
		if (!pb_elf_truncated(cs->v[i].path, items[i].why, sizeof items[i].why))
			slot[n++] = i;
	}
	if (n) {
		/* the scan wants consecutive items: gather the loadable ones */
		struct pb_scan_item *todo = calloc((size_t)n, sizeof *todo);
		if (!todo) {
			rc = -ENOMEM;
			goto out;
		}
		for (int k = 0; k < n; k++)
			todo[k] = items[slot[k]];
		rc = pb_plugin_scan(todo, n, scan_timeout_s());
		for (int k = 0; k < n; k++)
			items[slot[k]] = todo[k];
		free(todo);
		if (rc < 0)
			goto out;
	}
	for (int i = 0; i < cs->n && rc == 0; i++) {
		if (items[i].copy)
			rc = add_entry(r, &items[i]);
		else
			rc = add_failure(r, items[i].path, items[i].kind, items[i].name,
					 items[i].why[0] ? items[i].why : "refused (no reason given)");
	}
out:
	for (int i = 0; items && i < cs->n; i++)
		pb_plugin_copy_free(items[i].copy);
	free(items);
	free(slot);
	return rc;
}

int pb_plugin_loaded(const struct pb_plugin_entry *e)
{
	return !e->copy || e->copy->state == PB_COPY_LOADED;
}

int pb_plugin_load(const struct pb_plugin_entry *e, char *why, size_t len)
{
	struct pb_plugin_copy *c = e->copy;
	const struct pb_plugin *p, *d;
	char msg[512];
	void *h;

	if (!c || c->state == PB_COPY_LOADED)
		return 0;
	if (c->state == PB_COPY_FAILED)
		return pb_errf(why, len, -EINVAL, "%s", c->failure.why);
	d = &c->desc;
	dlerror();
	h = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *err = dlerror();
		pb_sayf(msg, sizeof msg, "%s: cannot load: %s", e->path,
			 err ? err : "unknown dlopen error");
		goto fail;
	}
	p = dlsym(h, "pb_plugin");
	if (!p) {
		pb_sayf(msg, sizeof msg, "%s: no symbol 'pb_plugin' any more", e->path);
		goto fail_close;
	}
	union pb_plugin_ops ops;
	if (pb_plugin_check(p, e->path, msg, sizeof msg) < 0 ||
	    pb_plugin_ops_copy(p, e->path, &ops, msg, sizeof msg) < 0)
		goto fail_close;
	/* the file may have been replaced since the scan */
	if (p->kind != d->kind || strcmp(p->name, d->name) || strcmp(p->version, d->version) ||
	    p->config_size != d->config_size) {
		pb_sayf(msg, sizeof msg, "%s: the file changed after it was scanned (now %s '%s' "
			 "%s); run the command again", e->path, pb_plugin_kind_name(p->kind),
			 p->name, p->version);
		goto fail_close;
	}
	pb_plugin_copy_adopt(c, p, &ops);
	c->handle = h;
	c->state = PB_COPY_LOADED;
	pb_log(PB_LOG_DEBUG, "plugin %s '%s' %s loaded from %s", pb_plugin_kind_name(d->kind),
	       d->name, d->version, e->path);
	return 0;
fail_close:
	dlclose(h);
fail:
	c->state = PB_COPY_FAILED;
	snprintf(c->failure.path, sizeof c->failure.path, "%s", e->path);
	c->failure.kind = d->kind;
	snprintf(c->failure.name, sizeof c->failure.name, "%s", d->name);
	snprintf(c->failure.why, sizeof c->failure.why, "%s", msg);
	pb_log(PB_LOG_WARN, "plugin not loaded: %s", msg);
	return pb_errf(why, len, -EINVAL, "%s", msg);
}

/* Byte order, not the locale's, so that every machine scans alike. */
static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* List one folder in sorted order; depth > 0 also descends into
 * subfolders (not through symlinks, so a link loop cannot trap us).  The
 * first file naming a (kind, name) wins, even one that will fail to load:
 * a researcher who points PRUNEBENCH_PLUGIN_PATH at a modified plugin must
 * not silently measure the installed one instead. */
static int scan_dir(struct cands *cs, const char *dir, int depth, int loud)
{
	struct dirent **list = NULL;
	char abs[PATH_MAX], cwd[PATH_MAX];
	int n, rc = 0;

	/* Absolute paths: the manifest records where a plugin came from. */
	if (dir[0] != '/' && getcwd(cwd, sizeof cwd) &&
	    pb_path_join(abs, sizeof abs, cwd, dir) == 0)
		dir = abs;
	n = scandir(dir, &list, skip_dot, name_cmp);

	if (n < 0) {
		/* A missing install dir is normal in a build tree; a folder the
		 * user named is worth a warning (a typo would hide plugins). */
		pb_log(loud ? PB_LOG_WARN : PB_LOG_DEBUG, "plugin folder %s: %s", dir,
		       strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], name[64];
		struct stat st;
		enum pb_plugin_kind kind;

		if (rc < 0)
			goto next;
		if (pb_path_join(path, sizeof path, dir, list[i]->d_name) < 0)
			goto next;
		if (lstat(path, &st) < 0)
			goto next;
		if (S_ISDIR(st.st_mode)) {
			if (depth > 0)
				rc = scan_dir(cs, path, depth - 1, 0);
			goto next;
		}
		kind = parse_file_name(list[i]->d_name, name, sizeof name);
		if (!kind || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			goto next;
		if (cand_known(cs, kind, name)) {
			pb_log(PB_LOG_DEBUG, "plugin %s: %s '%s' already found earlier in the "
			       "search path; ignored", path, pb_plugin_kind_name(kind), name);
			goto next;
		}
		struct cand *v = realloc(cs->v, (size_t)(cs->n + 1) * sizeof *v);
		if (!v) {
			rc = -ENOMEM;
			goto next;
		}
		cs->v = v;
		v += cs->n++;
		snprintf(v->path, sizeof v->path, "%s", path);
		v->kind = kind;
		snprintf(v->name, sizeof v->name, "%s", name);
next:
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Is the running executable inside the build tree?  Then plugins built
 * next to it are what the developer means to test. */
static int running_from_build_tree(void)
{
	char exe[PATH_MAX], root[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (!realpath(PB_BUILD_ROOT, root))
		return 0;
	size_t len = strlen(root);
	return !strncmp(exe, root, len) && exe[len] == '/';
}

int pb_registry_open(struct pb_registry **out, const char *const *extra_dirs)
{
	struct pb_registry *r = calloc(1, sizeof *r);
	const char *env = getenv("PRUNEBENCH_PLUGIN_PATH");
	struct cands cs = { 0 };
	char *copy = NULL;
	int rc = 0;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	for (int i = 0; extra_dirs && extra_dirs[i] && rc == 0; i++)
		if (extra_dirs[i][0])
			rc = scan_dir(&cs, extra_dirs[i], 0, 1);
	if (rc == 0 && env && env[0]) {
		copy = strdup(env);
		if (!copy) {
			rc = -ENOMEM;
			goto out;
		}
		char *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && rc == 0;
		     d = strtok_r(NULL, ":", &save))
			rc = scan_dir(&cs, d, 0, 1);
	}
	if (rc == 0 && running_from_build_tree())
		rc = scan_dir(&cs, PB_BUILD_PLUGIN_DIR, PB_BUILD_TREE_DEPTH, 0);
	if (rc == 0)
		rc = scan_dir(&cs, PB_PLUGIN_DIR, 0, 0);
	if (rc == 0)
		rc = scan_cands(r, &cs);
out:
	free(copy);
	free(cs.v);
	if (rc < 0) {
		pb_registry_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void pb_registry_close(struct pb_registry *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_entries; i++)
		pb_plugin_copy_free(r->entries[i].copy);
	free(r->entries);
	free(r->failures);
	free(r);
}

const struct pb_plugin_entry *pb_registry_find(const struct pb_registry *r,
					       enum pb_plugin_kind kind, const char *name)
{
	for (int i = 0; r && name && i < r->n_entries; i++) {
		const struct pb_plugin *p = r->entries[i].desc;
		if ((!kind || p->kind == kind) && !strcmp(p->name, name)) {
			char why[512];
			if (pb_plugin_load(&r->entries[i], why, sizeof why) < 0)
				return NULL;
			return &r->entries[i];
		}
	}
	return NULL;
}

const struct pb_plugin_failure *pb_registry_failure(const struct pb_registry *r,
						    enum pb_plugin_kind kind, const char *name)
{
	for (int i = 0; r && name && i < r->n_failures; i++) {
		const struct pb_plugin_failure *f = &r->failures[i];
		if ((!kind || f->kind == kind) && !strcmp(f->name, name))
			return f;
	}
	/* scanned fine, but would not load in this process */
	for (int i = 0; r && name && i < r->n_entries; i++) {
		const struct pb_plugin_copy *c = r->entries[i].copy;
		if (c && c->state == PB_COPY_FAILED && (!kind || c->failure.kind == kind) &&
		    !strcmp(c->failure.name, name))
			return &c->failure;
	}
	return NULL;
}

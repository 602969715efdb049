/* core/plugin/registry.h — finding, loading and checking plugins, and the
 * option tables they declare.
 *
 * Search order (first file to provide a (kind, name) wins):
 *   1. every folder in $PRUNEBENCH_PLUGIN_PATH (colon-separated),
 *   2. the build tree's plugins/ (searched recursively, only when the
 *      running executable lives inside the build tree),
 *   3. the install dir PB_PLUGIN_DIR.
 * A plugin file is named <kind>-<name>.so (kind: pruner, backend, probe),
 * e.g. backend-ref.so; other files are ignored.  Each is dlopen()ed in a
 * short-lived child process (plugin/scan.c) and its `pb_plugin` symbol
 * checked there (ABI version, struct size, kind, name matching the file
 * name, required hooks, option table); the registry keeps a copy of the
 * descriptor.  So no plugin code, not even an ELF constructor, runs in
 * this process until a plugin is used: pb_plugin_load() (which
 * pb_registry_find does) dlopen()s it here.
 */
#ifndef PB_PLUGIN_REGISTRY_H
#define PB_PLUGIN_REGISTRY_H

#include <limits.h>
#include <stdio.h>

#include <prunebench/plugin.h>

struct pb_plugin_copy;

struct pb_plugin_entry {
	char path[PATH_MAX];
	/* Checked descriptor.  For a scanned file it is the registry's copy:
	 * every data field is the plugin's, but its hooks may only be called
	 * once pb_plugin_load() succeeded (it puts the plugin's own hooks into
	 * this same struct; before that they abort). */
	const struct pb_plugin *desc;
	char sha256[65];                    /* of the .so file, hex */
	struct pb_plugin_copy *copy;        /* registry-owned; NULL in an in-memory registry */
};

/* A file that looked like a plugin but failed to load or check. */
struct pb_plugin_failure {
	char path[PATH_MAX];
	enum pb_plugin_kind kind;           /* from the file name */
	char name[64];                      /* from the file name */
	char why[512];                      /* one line: the cause */
};

struct pb_registry {
	struct pb_plugin_entry *entries;
	int n_entries;
	struct pb_plugin_failure *failures;
	int n_failures;
};

/* Scan the search path (extra_dirs first, if given, NULL-terminated).
 * Never fails for a bad plugin: that becomes a failure entry.  0 or -errno. */
int pb_registry_open(struct pb_registry **out, const char *const *extra_dirs);
void pb_registry_close(struct pb_registry *r);

/* dlopen() a scanned plugin in this process, once, so that its hooks may
 * be called.  0 (also for an entry of an in-memory registry), or -EINVAL
 * with why ("FILE: ...") when it no longer loads or no longer matches what
 * the scan saw; pb_registry_failure() then reports it too. */
int pb_plugin_load(const struct pb_plugin_entry *e, char *why, size_t len);
/* Has this process dlopen()ed it (or is it in-memory)? */
int pb_plugin_loaded(const struct pb_plugin_entry *e);

/* kind 0 matches any kind.  The entry found is loaded (pb_plugin_load);
 * NULL when none matches or it fails to load. */
const struct pb_plugin_entry *pb_registry_find(const struct pb_registry *r,
					       enum pb_plugin_kind kind, const char *name);
const struct pb_plugin_failure *pb_registry_failure(const struct pb_registry *r,
						    enum pb_plugin_kind kind, const char *name);
const char *pb_plugin_kind_name(enum pb_plugin_kind k);  /* "pruner", ... */

/* Check a descriptor as the loader does; path is used in the message.
 * 0, or -EINVAL with why filled. */
int pb_plugin_check(const struct pb_plugin *p, const char *path, char *why, size_t len);

/* Any kind's ops, as the core keeps them: always the core's full size. */
union pb_plugin_ops {
	struct pb_pruner_ops pruner;
	struct pb_backend_ops backend;
	struct pb_probe_ops probe;
};

/* Copy p's ops (p->kind valid, p->ops set) into *out, reading no byte past
 * the plugin's own ops struct_size: fields an older plugin's shorter
 * struct lacks come out 0 (NULL hooks), and out's struct_size is the
 * core's.  -EINVAL with why (naming path) when struct_size is below the
 * kind's ABI-1 minimum (PB_*_OPS_MIN_SIZE). */
int pb_plugin_ops_copy(const struct pb_plugin *p, const char *path, union pb_plugin_ops *out,
		       char *why, size_t len);

/* ---- options ---- */

int pb_options_check_table(const struct pb_option *opts, size_t config_size,
			   char *why, size_t len);
const struct pb_option *pb_option_find(const struct pb_option *opts, const char *key);
/* Closest key to a misspelt one (edit distance), or NULL when none is near. */
const char *pb_option_suggest(const struct pb_option *opts, const char *key);
/* Fill every option's default into config (zeroed first).  Required options
 * are left zero. */
int pb_options_defaults(const struct pb_option *opts, void *config, size_t config_size);
/* Parse YAML scalar text into config.  On error returns -EINVAL and writes
 * a message without position, e.g. "expected a number between 0 and 1, got 1.5". */
int pb_option_parse(const struct pb_option *o, void *config, const char *text,
		    char *err, size_t len);
/* Canonical text of an option's value (round-trips through pb_option_parse). */
int pb_option_format(const struct pb_option *o, const void *config, char *out, size_t len);
/* Document a plugin: name, kind, version, path, summary, availability, and
 * every option with type, default, bounds/choices and help. */
void pb_plugin_describe(FILE *f, const struct pb_plugin_entry *e, const struct pb_host *h);

/* Levenshtein distance, shared with the experiment parser's suggestions. */
int pb_edit_distance(const char *a, const char *b);

#endif

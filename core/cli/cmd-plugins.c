/* core/cli/cmd-plugins.c — `prunebench plugins [NAME]`: the plugins found
 * on the search path with their availability here and the files that
 * failed to load; with NAME, one plugin's identity and option table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prunebench plugins [NAME]\n"
		"\n"
		"Without NAME: every plugin found (kind, name, version, summary, path,\n"
		"availability on this machine), then the files that failed to load.\n"
		"With NAME (e.g. wanda, or pruner-wanda when kinds share a name): the\n"
		"plugin's version, file, sha256 and every option with its type,\n"
		"default, bounds and help.\n"
		"\n"
		"Search order: $PRUNEBENCH_PLUGIN_PATH (colon-separated), the build\n"
		"tree (when run from it), then the install dir.\n");
}

static int width(int w, const char *s)
{
	int n = (int)strlen(s);
	return n > w ? n : w;
}

static void list(const struct pb_registry *r)
{
	int wk = 4, wn = 4, wv = 7, ws = 7, wp = 4;

	for (int i = 0; i < r->n_entries; i++) {
		const struct pb_plugin *p = r->entries[i].desc;
		wk = width(wk, pb_plugin_kind_name(p->kind));
		wn = width(wn, p->name);
		wv = width(wv, p->version);
		ws = width(ws, p->summary ? p->summary : "");
		wp = width(wp, r->entries[i].path);
	}
	if (r->n_entries == 0) {
		printf("no plugins found (set PRUNEBENCH_PLUGIN_PATH to a folder of "
		       "<kind>-<name>.so files)\n");
	} else {
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "KIND", wn, "NAME", wv,
		       "VERSION", ws, "SUMMARY", wp, "PATH", "AVAILABILITY");
	}
	for (int i = 0; i < r->n_entries; i++) {
		const struct pb_plugin *p = r->entries[i].desc;
		struct pb_host_ctx host;
		char avail[320];

		char why[512];
		pb_host_init(&host, p->name, 0, 0);
		/* available() is plugin code: load it here (the scan only
		 * copied its descriptor) */
		if (pb_plugin_load(&r->entries[i], why, sizeof why) < 0)
			pb_sayf(avail, sizeof avail, "failed to load: %s", why);
		else
			pb_plugin_available(p, &host.host, avail, sizeof avail);
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", wk, pb_plugin_kind_name(p->kind),
		       wn, p->name, wv, p->version, ws, p->summary ? p->summary : "",
		       wp, r->entries[i].path, avail);
	}
	if (r->n_failures) {
		printf("\nfailed to load (%d):\n", r->n_failures);
		for (int i = 0; i < r->n_failures; i++)
			printf("  %s\n", r->failures[i].why);
	}
}

/* NAME is "name" or "kind-name". */
static int matches(const char *arg, enum pb_plugin_kind kind, const char *name)
{
	const char *k = pb_plugin_kind_name(kind);
	size_t kl = strlen(k);
	if (!strcmp(arg, name))
		return 1;
	return !strncmp(arg, k, kl) && arg[kl] == '-' && !strcmp(arg + kl + 1, name);
}

static void consider(const char *arg, const char *name, const char **best, int *best_d)
{
	int d = pb_edit_distance(arg, name);
	int limit = (int)strlen(arg) / 3 > 2 ? (int)strlen(arg) / 3 : 2;
	if (d <= limit && d < *best_d) {
		*best_d = d;
		*best = name;
	}
}

static int describe(const struct pb_registry *r, const char *arg)
{
	const char *best = NULL;
	int found = 0, best_d = 1 << 30;

	for (int i = 0; i < r->n_entries; i++) {
		const struct pb_plugin *p = r->entries[i].desc;
		if (!matches(arg, p->kind, p->name))
			continue;
		if (found++)
			printf("\n");
		pb_plugin_describe(stdout, &r->entries[i], NULL);
	}
	if (found)
		return 0;
	for (int i = 0; i < r->n_failures; i++)
		if (matches(arg, r->failures[i].kind, r->failures[i].name)) {
			pb_log(PB_LOG_ERROR, "plugin '%s' failed to load: %s", arg,
			       r->failures[i].why);
			found++;
		}
	if (found)
		return 1;
	for (int i = 0; i < r->n_entries; i++)
		consider(arg, r->entries[i].desc->name, &best, &best_d);
	if (best)
		pb_log(PB_LOG_ERROR, "no plugin named '%s' (did you mean '%s'?)", arg, best);
	else
		pb_log(PB_LOG_ERROR, "no plugin named '%s'; 'prunebench plugins' lists them",
		       arg);
	return 1;
}

int pb_cmd_plugins(int argc, char **argv)
{
	const char *name = NULL;
	struct pb_registry *r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (argv[i][0] == '-' || name) {
			fprintf(stderr, "prunebench plugins: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		name = argv[i];
	}
	r = pb_cli_registry();
	if (!r)
		return 1;
	if (!name) {
		list(r);
		return 0;
	}
	return describe(r, name);
}

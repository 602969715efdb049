/* core/plugin/describe.c — what `prunebench plugins NAME` prints: a
 * plugin's identity, its availability here and its option table as the
 * user writes it in YAML. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plugin/host.h"
#include "plugin/registry.h"
#include "util/util.h"

int pb_plugin_available(const struct pb_plugin *p, const struct pb_host *h,
			char *out, size_t len)
{
	struct pb_host_ctx local;
	char why[1024] = "";
	int rc;

	if (!h) {
		pb_host_init(&local, p->name, 0, 0);
		h = &local.host;
	}
	if (!p->available) {
		snprintf(out, len, "ok");
		return 0;
	}
	rc = p->available(h, why, sizeof why);
	why[sizeof why - 1] = '\0';   /* the plugin may have filled it all */
	if (rc >= 0)
		snprintf(out, len, "ok%s%s", why[0] ? ": " : "", why);   /* and what it found */
	else
		snprintf(out, len, "unavailable: %s", why[0] ? why : strerror(-rc));
	/* one line, whatever the plugin wrote */
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return rc < 0 ? rc : 0;
}

static const char *type_name(enum pb_opt_type t)
{
	switch (t) {
	case PB_OPT_BOOL: return "bool";
	case PB_OPT_INT: return "int";
	case PB_OPT_DOUBLE: return "double";
	case PB_OPT_STRING: return "string";
	case PB_OPT_ENUM: return "enum";
	}
	return "?";
}

static void describe_option(FILE *f, const struct pb_option *o)
{
	fprintf(f, "  %s (%s", o->key, type_name(o->type));
	if (o->def)
		fprintf(f, ", default %s", o->def[0] ? o->def : "\"\"");
	else
		fprintf(f, ", required");
	if ((o->type == PB_OPT_INT || o->type == PB_OPT_DOUBLE) && o->min <= o->max) {
		if (o->type == PB_OPT_INT)
			fprintf(f, ", range [%lld, %lld]", (long long)o->min, (long long)o->max);
		else
			fprintf(f, ", range [%g, %g]", o->min, o->max);
	}
	if (o->type == PB_OPT_ENUM && o->choices)
		fprintf(f, ", one of %s", o->choices);
	fprintf(f, ")\n");
	if (o->help && o->help[0])
		fprintf(f, "      %s\n", o->help);
}

void pb_plugin_describe(FILE *f, const struct pb_plugin_entry *e, const struct pb_host *h)
{
	const struct pb_plugin *p = e->desc;
	struct pb_host_ctx local;
	char avail[320];

	if (!h) {
		pb_host_init(&local, p->name, 0, 0);
		h = &local.host;
	}
	char why[512];
	if (pb_plugin_load(e, why, sizeof why) < 0)
		pb_sayf(avail, sizeof avail, "failed to load: %s", why);
	else
		pb_plugin_available(p, h, avail, sizeof avail);
	fprintf(f, "name:      %s\n", p->name);
	fprintf(f, "kind:      %s\n", pb_plugin_kind_name(p->kind));
	fprintf(f, "version:   %s\n", p->version);
	fprintf(f, "path:      %s\n", e->path);
	fprintf(f, "sha256:    %s\n", e->sha256);
	fprintf(f, "summary:   %s\n", p->summary && p->summary[0] ? p->summary : "(none)");
	fprintf(f, "available: %s\n", avail);
	if (!p->options || !p->options[0].key) {
		fprintf(f, "options:   none\n");
		return;
	}
	fprintf(f, "options:\n");
	for (const struct pb_option *o = p->options; o->key; o++)
		describe_option(f, o);
}

/* core/cli/args.c — what several subcommands parse alike: integers in a
 * range, and a backend plugin's config from the command line as `serve`
 * and `generate` take it (the plugin's defaults, then each -o KEY=VALUE
 * through its option table; unknown keys get a suggestion, bad values the
 * option's own message). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "plugin/registry.h"

int pb_cli_parse_int(const char *s, long long lo, long long hi, long long *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 0);
	if (errno || end == s || *end || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 0;
}

int pb_cli_backend_config(const char *cmd, const struct pb_plugin *p, const char *const *opts, int n,
			  void *config)
{
	char why[512];
	if (p->options && pb_options_defaults(p->options, config, p->config_size) < 0) {
		fprintf(stderr, "prunebench %s: backend '%s': cannot set its default options\n", cmd, p->name);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const char *kv = opts[i], *eq = strchr(kv, '=');
		char key[128];
		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
			fprintf(stderr, "prunebench %s: -o '%s': expected KEY=VALUE\n", cmd, kv);
			return 2;
		}
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		const struct pb_option *o = p->options ? pb_option_find(p->options, key) : NULL;
		if (!o) {
			const char *near = p->options ? pb_option_suggest(p->options, key) : NULL;
			fprintf(stderr, "prunebench %s: -o '%s': backend '%s' has no option '%s'%s%s%s\n", cmd, kv,
				p->name, key, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			return 2;
		}
		if (pb_option_parse(o, config, eq + 1, why, sizeof why) < 0) {
			fprintf(stderr, "prunebench %s: -o '%s': backend '%s': %s\n", cmd, kv, p->name, why);
			return 2;
		}
	}
	return 0;
}

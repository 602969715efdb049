/* tests/probes-pruners/testhost.h — a fake host (log lines kept in a buffer),
 * a plugin loader and a tiny option filler for the plugin tests: fakes of
 * what the core does, so that a plugin is tested without the core. */
#ifndef PB_TESTHOST_H
#define PB_TESTHOST_H

#include <stddef.h>

#include <prunebench/plugin.h>

struct test_host {
	struct pb_host host;        /* first: the plugin sees only this */
	char log[8192];             /* every line, "<level>: <text>\n" */
	int n_lines;
};

void test_host_init(struct test_host *th);
/* dlopen path and return its pb_plugin (the test fails on error). */
const struct pb_plugin *test_plugin_load(const char *path, void **handle);
/* Fill config with the table's defaults, then set `key` from YAML-ish text
 * (true/false, numbers, enum choices, strings).  0 or -EINVAL. */
void test_config_defaults(const struct pb_plugin *p, void *config);
int test_config_set(const struct pb_plugin *p, void *config, const char *key, const char *text);
/* Temporary folders. */
void test_mkdtemp(char *out, size_t len);
void test_rm_rf(const char *path);
void test_write(const char *path, const char *text);
void test_copy_tree(const char *from, const char *to);

#endif

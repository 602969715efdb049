/* tests/probes/probetest.h — helpers the sysfs probe tests share: open a
 * probe on a fixture root with options, find a channel, compare readings
 * exactly, copy a fixture tree (symlinks too) into a temp folder. */
#ifndef PB_PROBETEST_H
#define PB_PROBETEST_H

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#include "testhost.h"

struct probe_fix {
	void *handle;
	const struct pb_plugin *plug;
	const struct pb_probe_ops *ops;
	struct test_host th;
	char config[4096];
};

static inline void probe_fix_load(struct probe_fix *f, const char *so, const char *name)
{
	f->plug = test_plugin_load(so, &f->handle);
	ck_assert_int_eq(f->plug->kind, PB_PROBE);
	ck_assert_str_eq(f->plug->name, name);
	ck_assert_uint_le(f->plug->config_size, sizeof f->config);
	f->ops = f->plug->ops;
	test_host_init(&f->th);
	test_config_defaults(f->plug, f->config);
}

/* init on root with "key=value" pairs (NULL-terminated); the rc of init. */
static inline int probe_fix_open(struct probe_fix *f, const char *root, void **state,
				 const char *const *kv)
{
	char key[64];
	*state = NULL;
	ck_assert_int_eq(test_config_set(f->plug, f->config, "root", root), 0);
	for (; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		ck_assert_ptr_nonnull(eq);
		snprintf(key, sizeof key, "%.*s", (int)(eq - *kv), *kv);
		ck_assert_msg(test_config_set(f->plug, f->config, key, eq + 1) == 0, "set %s", *kv);
	}
	return f->plug->init(&f->th.host, f->config, state);
}

static inline int probe_chan(const struct pb_channel *ch, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ch[i].name, name))
			return i;
	return -1;
}

/* A mirror of from under to: folders, files and symlinks (sysfs class
 * folders are symlinks into devices/). */
static const char *probe_copy_from, *probe_copy_to;

static int probe_copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char dst[PATH_MAX], link[PATH_MAX];
	(void)ftw;
	snprintf(dst, sizeof dst, "%s%s", probe_copy_to, path + strlen(probe_copy_from));
	if (flag == FTW_D)
		return mkdir(dst, 0755) && errno != EEXIST;
	if (flag == FTW_SL) {
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			return 1;
		link[n] = '\0';
		return symlink(link, dst);
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	FILE *in = fopen(path, "rb"), *out = fopen(dst, "wb");
	char buf[4096];
	size_t k;
	if (!in || !out)
		return 1;
	while ((k = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, k, out);
	fclose(in);
	return fclose(out) != 0;
}

static inline void probe_copy_tree(const char *from, const char *to)
{
	probe_copy_from = from;
	probe_copy_to = to;
	ck_assert_int_eq(nftw(from, probe_copy_one, 16, FTW_PHYS), 0);
}

/* got == want exactly, NAN meaning "must be NAN" */
#define ck_probe_value(got, want, name) do { \
	double g_ = (got), w_ = (want); \
	if (isnan(w_)) \
		ck_assert_msg(isnan(g_), "%s: want NAN, got %.17g", name, g_); \
	else \
		ck_assert_msg(g_ == w_, "%s: want %.17g, got %.17g", name, w_, g_); \
} while (0)

#endif

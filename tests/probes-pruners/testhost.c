/* tests/probes-pruners/testhost.c — the fake host and helpers (testhost.h). */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhost.h"

static void fake_log(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warn", "info", "debug" };
	struct test_host *th = (struct test_host *)h;
	size_t used = strlen(th->log);
	va_list ap;

	if (used + 2 >= sizeof(th->log))
		return;
	used += (size_t)snprintf(th->log + used, sizeof(th->log) - used, "%s: ", tag[lvl]);
	if (used >= sizeof(th->log) - 2)
		return;
	va_start(ap, fmt);
	vsnprintf(th->log + used, sizeof(th->log) - used - 1, fmt, ap);
	va_end(ap);
	strcat(th->log, "\n");
	th->n_lines++;
}

void test_host_init(struct test_host *th)
{
	memset(th, 0, sizeof(*th));
	th->host.abi_version = PB_ABI_VERSION;
	th->host.struct_size = sizeof(th->host);
	th->host.log = fake_log;
	th->host.seed = 1234;
	th->host.n_threads = 1;
}

const struct pb_plugin *test_plugin_load(const char *path, void **handle)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h, "dlopen %s: %s", path, dlerror());
	const struct pb_plugin *p = dlsym(h, "pb_plugin");
	ck_assert_msg(p, "%s: no pb_plugin", path);
	ck_assert_uint_eq(p->abi_version, PB_ABI_VERSION);
	ck_assert_uint_eq(p->struct_size, sizeof(struct pb_plugin));
	*handle = h;
	return p;
}

static const struct pb_option *find_opt(const struct pb_plugin *p, const char *key)
{
	for (const struct pb_option *o = p->options; o && o->key; o++)
		if (!strcmp(o->key, key))
			return o;
	return NULL;
}

static int set_opt(const struct pb_option *o, void *config, const char *text)
{
	char *base = (char *)config + o->offset;
	char *end;

	switch (o->type) {
	case PB_OPT_BOOL:
		if (strcmp(text, "true") && strcmp(text, "false"))
			return -EINVAL;
		*(int *)base = !strcmp(text, "true");
		return 0;
	case PB_OPT_INT:
		*(int64_t *)base = strtoll(text, &end, 10);
		return *end ? -EINVAL : 0;
	case PB_OPT_DOUBLE:
		*(double *)base = strtod(text, &end);
		if (*end)
			return -EINVAL;
		if (o->min <= o->max && (*(double *)base < o->min || *(double *)base > o->max))
			return -EINVAL;
		return 0;
	case PB_OPT_STRING:
		if (strlen(text) >= PB_OPT_STR_MAX)
			return -EINVAL;
		strcpy(base, text);
		return 0;
	case PB_OPT_ENUM: {
		int idx = 0;
		size_t tl = strlen(text);
		for (const char *c = o->choices; c; idx++) {
			const char *bar = strchr(c, '|');
			size_t cl = bar ? (size_t)(bar - c) : strlen(c);
			if (cl == tl && !strncmp(c, text, tl)) {
				*(int *)base = idx;
				return 0;
			}
			c = bar ? bar + 1 : NULL;
		}
		return -EINVAL;
	}
	}
	return -EINVAL;
}

void test_config_defaults(const struct pb_plugin *p, void *config)
{
	memset(config, 0, p->config_size);
	for (const struct pb_option *o = p->options; o && o->key; o++) {
		ck_assert_msg(o->offset < p->config_size, "option %s outside config", o->key);
		if (o->def)
			ck_assert_msg(set_opt(o, config, o->def) == 0, "bad default for %s", o->key);
	}
}

int test_config_set(const struct pb_plugin *p, void *config, const char *key, const char *text)
{
	const struct pb_option *o = find_opt(p, key);
	return o ? set_opt(o, config, text) : -EINVAL;
}

void test_mkdtemp(char *out, size_t len)
{
	snprintf(out, len, "/tmp/pb-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void test_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void test_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *copy_from, *copy_to;

static int copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char dst[4096];
	(void)ftw;
	snprintf(dst, sizeof dst, "%s%s", copy_to, path + strlen(copy_from));
	if (flag == FTW_D)
		return mkdir(dst, 0755) && errno != EEXIST;
	if (!S_ISREG(st->st_mode))
		return 0;
	FILE *in = fopen(path, "rb"), *out = fopen(dst, "wb");
	char buf[4096];
	size_t n;
	if (!in || !out)
		return 1;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	return fclose(out) != 0;
}

void test_copy_tree(const char *from, const char *to)
{
	copy_from = from;
	copy_to = to;
	ck_assert_int_eq(nftw(from, copy_one, 16, FTW_PHYS), 0);
}

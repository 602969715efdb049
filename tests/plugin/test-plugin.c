/* tests/plugin/test-plugin.c — the plugin loader, descriptor checks, host
 * services and plugin description (Check suite 'plugins').
 *
 * The fake plugins (tests/fake-plugins) come in two build folders:
 * FAKE_GOOD_DIR (every file loads) and FAKE_BAD_DIR (every file is refused
 * for one reason).  Check forks per test, so setenv() stays in its test.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/host.h"
#include "plugin/registry.h"
#include "util/util.h"

#ifndef FAKE_GOOD_DIR
#error "FAKE_GOOD_DIR must be defined by the build"
#endif

static const char *const good_dirs[] = { FAKE_GOOD_DIR, NULL };
static const char *const bad_dirs[] = { FAKE_BAD_DIR, NULL };

static struct pb_registry *open_with(const char *const *dirs)
{
	struct pb_registry *r = NULL;
	ck_assert_int_eq(pb_registry_open(&r, dirs), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Failures whose file is `path`, and the last of them. */
static int failures_for(const struct pb_registry *r, const char *path,
			const struct pb_plugin_failure **last)
{
	int n = 0;
	for (int i = 0; i < r->n_failures; i++)
		if (!strcmp(r->failures[i].path, path)) {
			n++;
			*last = &r->failures[i];
		}
	return n;
}

/* ---- loading the fake folders --------------------------------------- */

static const struct {
	const char *file;
	enum pb_plugin_kind kind;
	const char *name;
	const char *cause;
} bad_files[] = {
	{ "pruner-wrongabi.so", PB_PRUNER, "wrongabi", "plugin ABI 999, this prunebench has ABI 1" },
	{ "pruner-badsize.so", PB_PRUNER, "badsize", "struct_size" },
	{ "pruner-badopts.so", PB_PRUNER, "badopts", "bad option table: option 'y'" },
	{ "pruner-wrongname.so", PB_PRUNER, "wrongname", "descriptor's name is 'someothername'" },
	{ "backend-wrongkind.so", PB_BACKEND, "wrongkind", "file name says backend but the descriptor says pruner" },
	{ "pruner-noapply.so", PB_PRUNER, "noapply", "no apply() hook" },
	{ "pruner-nosym.so", PB_PRUNER, "nosym", "no symbol 'pb_plugin'" },
	{ "pruner-notso.so", PB_PRUNER, "notso", "cannot load" },
	{ "pruner-opssize.so", PB_PRUNER, "opssize", "ops struct_size of 4 bytes, below the" },
};

START_TEST(bad_folder_one_failure_each)
{
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(bad_dirs);
	size_t dirlen = strlen(FAKE_BAD_DIR);
	int in_dir = 0;

	for (size_t i = 0; i < PB_ARRAY_LEN(bad_files); i++) {
		char path[PATH_MAX];
		const struct pb_plugin_failure *f = NULL;
		ck_assert_int_eq(pb_path_join(path, sizeof path, FAKE_BAD_DIR, bad_files[i].file), 0);
		ck_assert_msg(failures_for(r, path, &f) == 1, "%s: expected one failure",
			      bad_files[i].file);
		ck_assert_msg(strstr(f->why, path) != NULL, "'%s' does not name the file", f->why);
		ck_assert_msg(strstr(f->why, bad_files[i].cause) != NULL,
			      "'%s' does not say '%s'", f->why, bad_files[i].cause);
		ck_assert_ptr_null(strchr(f->why, '\n'));
		ck_assert_int_eq(f->kind, bad_files[i].kind);
		ck_assert_str_eq(f->name, bad_files[i].name);
		ck_assert_ptr_eq(pb_registry_failure(r, bad_files[i].kind, bad_files[i].name), f);
		ck_assert_ptr_eq(pb_registry_failure(r, 0, bad_files[i].name), f);
		ck_assert_ptr_null(pb_registry_find(r, 0, bad_files[i].name));
	}
	/* The ABI message says what to do about it. */
	ck_assert_ptr_nonnull(strstr(pb_registry_failure(r, PB_PRUNER, "wrongabi")->why, "rebuild"));
	/* gadget-ignored.so is not a plugin name: not even tried. */
	for (int i = 0; i < r->n_failures; i++)
		if (!strncmp(r->failures[i].path, FAKE_BAD_DIR, dirlen))
			in_dir++;
	ck_assert_int_eq(in_dir, (int)PB_ARRAY_LEN(bad_files));
	for (int i = 0; i < r->n_entries; i++)
		ck_assert_msg(strncmp(r->entries[i].path, FAKE_BAD_DIR, dirlen),
			      "%s loaded", r->entries[i].path);
	pb_registry_close(r);
}
END_TEST

/* A backend built with ABI 1's shortest ops struct (no device_ms, no
 * complete) loads, and the core reads nothing past its struct_size: the
 * trap pointers behind it (backend-short.c) show up neither in the scanned
 * copy nor in the loaded one. */
START_TEST(short_ops_struct_loads)
{
	static const char *const dirs[] = { FAKE_SHORT_DIR, NULL };
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(dirs);
	ck_assert_int_eq(r->n_failures, 0);
	const struct pb_plugin_entry *e = pb_registry_find(r, PB_BACKEND, "short");
	ck_assert_ptr_nonnull(e);
	ck_assert(pb_plugin_loaded(e));
	const struct pb_backend_ops *o = e->desc->ops;
	ck_assert_uint_eq(o->struct_size, sizeof *o);
	ck_assert_uint_eq(o->formats, PB_FMT(PB_F32));
	ck_assert_ptr_nonnull(o->graph_compute);
	ck_assert_ptr_nonnull(o->buffer_read);
	ck_assert_ptr_null(o->buffer_write);
	ck_assert_ptr_null(o->device_ms);
	ck_assert_ptr_null(o->complete);
	ck_assert(!pb_backend_is_remote(o));
	float x = 1.0f;
	ck_assert_int_eq(o->buffer_read(NULL, 0, 0, 1, &x), 0);
	ck_assert(x == 0.0f);
	pb_registry_close(r);
}
END_TEST

START_TEST(good_folder_loads)
{
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(good_dirs);
	static const struct { enum pb_plugin_kind kind; const char *name; } good[] = {
		{ PB_PRUNER, "good" }, { PB_PROBE, "unavail" }, { PB_PRUNER, "crashinit" },
		{ PB_PRUNER, "crashrun" }, { PB_PRUNER, "hang" }, { PB_PRUNER, "fail" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(good); i++) {
		const struct pb_plugin_entry *e = pb_registry_find(r, good[i].kind, good[i].name);
		char file[128], path[PATH_MAX], hex[65];
		ck_assert_msg(e != NULL, "%s not found", good[i].name);
		snprintf(file, sizeof file, "%s-%s.so", pb_plugin_kind_name(good[i].kind),
			 good[i].name);
		ck_assert_int_eq(pb_path_join(path, sizeof path, FAKE_GOOD_DIR, file), 0);
		ck_assert_str_eq(e->path, path);
		ck_assert(pb_plugin_loaded(e));
		ck_assert_str_eq(e->desc->name, good[i].name);
		ck_assert_int_eq(pb_sha256_file(path, hex), 0);
		ck_assert_str_eq(e->sha256, hex);
		ck_assert_ptr_eq(pb_registry_find(r, 0, good[i].name), e);
	}
	ck_assert_str_eq(pb_registry_find(r, PB_PRUNER, "good")->desc->version, "1.2.3");
	ck_assert_ptr_null(pb_registry_find(r, PB_BACKEND, "good"));
	ck_assert_ptr_null(pb_registry_find(r, PB_PRUNER, "unavail"));
	ck_assert_ptr_null(pb_registry_find(r, 0, "nosuchplugin"));
	for (int i = 0; i < r->n_failures; i++)
		ck_assert_msg(strncmp(r->failures[i].path, FAKE_GOOD_DIR, strlen(FAKE_GOOD_DIR)),
			      "good plugin failed: %s", r->failures[i].why);
	pb_registry_close(r);
}
END_TEST

/* The misbehaving fakes really misbehave (the isolation tests rely on it):
 * run init (and apply) in a child and see how it ends. */
static int run_child(const struct pb_plugin *p, int call_apply)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pb_host_ctx c;
		struct pb_model m = { .n_tensors = 0 };
		void *state = NULL;
		/* Check's own SIGALRM handler would kill the whole process
		 * group: this child's alarm must just end the child. */
		signal(SIGALRM, SIG_DFL);
		alarm(1);   /* ends pruner-hang quickly */
		pb_host_init(&c, p->name, 0, 1);
		if (p->init(&c.host, NULL, &state) < 0)
			_exit(3);
		if (call_apply &&
		    ((const struct pb_pruner_ops *)p->ops)->apply(state, &m, NULL, NULL) == -EIO)
			_exit(4);
		p->fini(state);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* gcc says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer) */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PB_TEST_ASAN)
/* ASan catches SIGSEGV itself, reports, and exits 1 (or aborts, with
 * abort_on_error=1). */
#define DIED_OF_SEGV(st) ((WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGABRT)) || \
			  (WIFEXITED(st) && WEXITSTATUS(st) == 1))
#else
#define DIED_OF_SEGV(st) (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
#endif

START_TEST(misbehaving_fakes)
{
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(good_dirs);
	int st;

	st = run_child(pb_registry_find(r, PB_PRUNER, "crashinit")->desc, 0);
	ck_assert_msg(DIED_OF_SEGV(st), "crashinit: status 0x%x", st);
	st = run_child(pb_registry_find(r, PB_PRUNER, "crashrun")->desc, 1);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "crashrun: status 0x%x", st);
	st = run_child(pb_registry_find(r, PB_PRUNER, "hang")->desc, 1);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM, "hang: status 0x%x", st);
	st = run_child(pb_registry_find(r, PB_PRUNER, "fail")->desc, 1);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4, "fail: status 0x%x", st);
	st = run_child(pb_registry_find(r, PB_PRUNER, "good")->desc, 1);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "good: status 0x%x", st);
	pb_registry_close(r);
}
END_TEST

/* ---- search order ---------------------------------------------------- */

static char tmp_root[64];

static void make_dir_with(const char *sub, const char *file, const void *data, size_t n)
{
	char dir[PATH_MAX], path[PATH_MAX];
	ck_assert_int_eq(pb_path_join(dir, sizeof dir, tmp_root, sub), 0);
	ck_assert_int_eq(pb_mkdir_p(dir), 0);
	ck_assert_int_eq(pb_path_join(path, sizeof path, dir, file), 0);
	ck_assert_int_eq(pb_write_file(path, data, n), 0);
}

/* Copies (not links) of pruner-good.so in tmp/a and tmp/b. */
static void setup_copies(void)
{
	char src[PATH_MAX], *data;
	size_t n;
	snprintf(tmp_root, sizeof tmp_root, "/tmp/pb-test-plugin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	ck_assert_int_eq(pb_path_join(src, sizeof src, FAKE_GOOD_DIR, "pruner-good.so"), 0);
	ck_assert_int_eq(pb_read_file(src, &data, &n), 0);
	make_dir_with("a", "pruner-good.so", data, n);
	make_dir_with("b", "pruner-good.so", data, n);
	free(data);
}

static const char *found_in(const struct pb_registry *r)
{
	const struct pb_plugin_entry *e = pb_registry_find(r, PB_PRUNER, "good");
	ck_assert_ptr_nonnull(e);
	const char *slash = strrchr(e->path, '/');
	ck_assert_ptr_nonnull(slash);
	/* the folder's last character: "a" or "b" */
	return slash - 1;
}

START_TEST(env_path_order)
{
	char env[512], a[128], b[128];
	struct pb_registry *r;

	setup_copies();
	snprintf(a, sizeof a, "%s/a", tmp_root);
	snprintf(b, sizeof b, "%s/b", tmp_root);

	snprintf(env, sizeof env, "%s/missing:%s:%s", tmp_root, a, b);
	setenv("PRUNEBENCH_PLUGIN_PATH", env, 1);
	r = open_with(NULL);
	ck_assert_int_eq(*found_in(r), 'a');
	pb_registry_close(r);

	snprintf(env, sizeof env, "%s:%s", b, a);
	setenv("PRUNEBENCH_PLUGIN_PATH", env, 1);
	r = open_with(NULL);
	ck_assert_int_eq(*found_in(r), 'b');
	pb_registry_close(r);

	/* extra_dirs come before the environment */
	const char *const extra[] = { a, NULL };
	r = open_with(extra);
	ck_assert_int_eq(*found_in(r), 'a');
	pb_registry_close(r);

	/* the environment comes before anything the build installs: the fake
	 * good folder is never searched by default */
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	r = open_with(NULL);
	ck_assert_ptr_null(pb_registry_find(r, PB_PRUNER, "good"));
	pb_registry_close(r);

	/* a folder named twice yields one entry */
	snprintf(env, sizeof env, "%s:%s", a, a);
	setenv("PRUNEBENCH_PLUGIN_PATH", env, 1);
	r = open_with(NULL);
	int n = 0;
	for (int i = 0; i < r->n_entries; i++)
		n += !strcmp(r->entries[i].desc->name, "good");
	ck_assert_int_eq(n, 1);
	pb_registry_close(r);
	pb_rm_rf(tmp_root);
}
END_TEST

/* A broken file first in the path shadows a good one later: the user meant
 * that file, and must not silently get another. */
START_TEST(broken_first_file_shadows)
{
	char env[512];
	const char text[] = "not an ELF file\n";

	setup_copies();
	make_dir_with("c", "pruner-good.so", text, sizeof text - 1);
	snprintf(env, sizeof env, "%s/c:%s/a", tmp_root, tmp_root);
	setenv("PRUNEBENCH_PLUGIN_PATH", env, 1);
	struct pb_registry *r = open_with(NULL);
	ck_assert_ptr_null(pb_registry_find(r, PB_PRUNER, "good"));
	const struct pb_plugin_failure *f = pb_registry_failure(r, PB_PRUNER, "good");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(strstr(f->path, "/c/pruner-good.so"));
	ck_assert_ptr_nonnull(strstr(f->why, "cannot load"));
	pb_registry_close(r);
	pb_rm_rf(tmp_root);
}
END_TEST

/* ---- pb_plugin_check on hand-made descriptors ------------------------ */

static int h_init(const struct pb_host *h, const void *c, void **s) { (void)h; (void)c; *s = NULL; return 0; }
static void h_fini(void *s) { (void)s; }
static int h_apply(void *s, struct pb_model *m, struct pb_calib *c, struct pb_prune_target *t)
{ (void)s; (void)m; (void)c; (void)t; return 0; }
static int h_wl(void *s, const struct pb_model *m) { (void)s; (void)m; return 0; }
static int h_ba(void *s, const int64_t *sz, int n) { (void)s; (void)sz; (void)n; return 0; }
static int h_gc(void *s, const struct pb_graph *g) { (void)s; (void)g; return 0; }
static int h_br(void *s, int b, int64_t o, int64_t n, float *d) { (void)s; (void)b; (void)o; (void)n; (void)d; return 0; }
static int h_ch(void *s, const struct pb_channel **c, int *n) { (void)s; *c = NULL; *n = 0; return 0; }
static int h_rd(void *s, double *v) { (void)s; (void)v; return 0; }

static const struct pb_pruner_ops pruner_ok = { .struct_size = sizeof(struct pb_pruner_ops), .apply = h_apply };
static const struct pb_pruner_ops pruner_noapply = { .struct_size = sizeof(struct pb_pruner_ops), .apply = NULL };
static const struct pb_backend_ops backend_ok = {
	.struct_size = sizeof(struct pb_backend_ops),
	.formats = PB_FMT(PB_F32), .weights_load = h_wl, .buffers_alloc = h_ba,
	.graph_compute = h_gc, .buffer_read = h_br,
};
static const struct pb_probe_ops probe_ok = { .struct_size = sizeof(struct pb_probe_ops), .channels = h_ch, .read = h_rd, .min_interval_ms = 5 };

struct cfg { double x; };
static const struct pb_option opts_ok[] = {
	{ "x", PB_OPT_DOUBLE, 0, "0.5", 0, 1, NULL, "x" }, PB_OPTIONS_END
};
static const struct pb_option opts_outside[] = {
	{ "x", PB_OPT_DOUBLE, 8, "0.5", 0, 1, NULL, "x" }, PB_OPTIONS_END
};

static struct pb_plugin valid(void)
{
	struct pb_plugin p = {
		.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_plugin),
		.kind = PB_PRUNER, .name = "hand", .version = "1", .summary = "hand-made",
		.options = opts_ok, .config_size = sizeof(struct cfg),
		.init = h_init, .fini = h_fini, .ops = &pruner_ok,
	};
	return p;
}

static void expect_refused(const struct pb_plugin *p, const char *cause)
{
	char why[512] = "";
	ck_assert_int_eq(pb_plugin_check(p, "dir/pruner-hand.so", why, sizeof why), -EINVAL);
	ck_assert_msg(strstr(why, "dir/pruner-hand.so") != NULL, "'%s' does not name the file", why);
	ck_assert_msg(strstr(why, cause) != NULL, "'%s' does not say '%s'", why, cause);
}

/* ---- scanning without running plugin code (issue 14, items 2 and 3) -- */

/* Does the file hold a line that is this process's id? */
static int marked_by(const char *path, long pid)
{
	char line[64];
	int found = 0;
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		found |= strtol(line, NULL, 10) == pid;
	if (f)
		fclose(f);
	return found;
}

/* A truncated .so (SIGBUS inside dlopen), a constructor that crashes and
 * one that hangs each cost one failure naming the file and the cause; the
 * scan survives them and still finds the good plugins; and no constructor
 * runs in the scanning process until a plugin is used. */
START_TEST(broken_files_cost_one_line)
{
	char trunc_dir[PATH_MAX], src[PATH_MAX], path[PATH_MAX], mark[PATH_MAX], *data;
	const struct pb_plugin_failure *f;
	size_t n;

	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	setenv("PRUNEBENCH_PLUGIN_TIMEOUT", "1", 1);
	snprintf(tmp_root, sizeof tmp_root, "/tmp/pb-test-plugin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	/* half of a good plugin, as an interrupted copy leaves it */
	ck_assert_int_eq(pb_path_join(src, sizeof src, FAKE_GOOD_DIR, "pruner-good.so"), 0);
	ck_assert_int_eq(pb_read_file(src, &data, &n), 0);
	make_dir_with("t", "pruner-trunc.so", data, n / 2);
	free(data);
	ck_assert_int_eq(pb_path_join(trunc_dir, sizeof trunc_dir, tmp_root, "t"), 0);
	ck_assert_int_eq(pb_path_join(mark, sizeof mark, tmp_root, "mark"), 0);
	setenv("PB_CTOR_MARK", mark, 1);

	const char *const dirs[] = { trunc_dir, FAKE_CTOR_DIR, FAKE_GOOD_DIR, NULL };
	double t0 = pb_now_ms();
	struct pb_registry *r = open_with(dirs);
	double took = pb_now_ms() - t0;

	ck_assert_int_eq(pb_path_join(path, sizeof path, trunc_dir, "pruner-trunc.so"), 0);
	ck_assert_int_eq(failures_for(r, path, &f), 1);
	ck_assert_msg(strstr(f->why, path) && strstr(f->why, "truncated ELF"), "%s", f->why);

	ck_assert_int_eq(pb_path_join(path, sizeof path, FAKE_CTOR_DIR, "pruner-ctorcrash.so"), 0);
	ck_assert_int_eq(failures_for(r, path, &f), 1);
	ck_assert_msg(strstr(f->why, path) &&
		      (strstr(f->why, "killed by SIGSEGV") || strstr(f->why, "exit status")),
		      "%s", f->why);

	ck_assert_int_eq(pb_path_join(path, sizeof path, FAKE_CTOR_DIR, "pruner-ctorhang.so"), 0);
	ck_assert_int_eq(failures_for(r, path, &f), 1);
	ck_assert_msg(strstr(f->why, path) && strstr(f->why, "did not finish within 1 s"),
		      "%s", f->why);
	ck_assert_msg(took < 8000, "the scan took %.0f ms", took);
	for (int i = 0; i < r->n_failures; i++)
		ck_assert_ptr_null(strchr(r->failures[i].why, '\n'));

	/* the scan went on past them */
	ck_assert_ptr_nonnull(pb_registry_failure(r, PB_PRUNER, "ctorhang"));
	const struct pb_plugin_entry *e = NULL;
	for (int i = 0; i < r->n_entries; i++)
		if (!strcmp(r->entries[i].desc->name, "ctormark"))
			e = &r->entries[i];
	ck_assert_ptr_nonnull(e);
	ck_assert(!pb_plugin_loaded(e));
	ck_assert_str_eq(e->desc->summary, "fake pruner whose constructor leaves a mark (tests)");
	/* its constructor ran, but in the scanning child, not here */
	ck_assert_msg(!marked_by(mark, (long)getpid()), "a constructor ran in the scanning process");
	ck_assert_ptr_nonnull(pb_registry_find(r, PB_PRUNER, "good"));
	ck_assert_ptr_eq(pb_registry_find(r, PB_PRUNER, "ctormark"), e);
	ck_assert(pb_plugin_loaded(e));
	ck_assert(marked_by(mark, (long)getpid()));
	pb_registry_close(r);
	pb_rm_rf(tmp_root);
}
END_TEST

/* The copy the scan keeps says what the plugin has: its option table and
 * which optional hooks exist, exactly as the plugin's own descriptor. */
START_TEST(scanned_copy_matches)
{
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(good_dirs);
	for (int i = 0; i < r->n_entries; i++) {
		const struct pb_plugin_entry *e = &r->entries[i];
		const struct pb_plugin *c = e->desc;
		/* what the scan saw, before loading */
		int had_avail = c->available != NULL, n_opt = 0;
		const void *ops_before = c->ops;
		for (const struct pb_option *o = c->options; o && o->key; o++)
			n_opt++;
		char why[512];
		ck_assert_int_eq(pb_plugin_load(e, why, sizeof why), 0);
		void *h = dlopen(e->path, RTLD_NOW | RTLD_NOLOAD);
		ck_assert_ptr_nonnull(h);
		const struct pb_plugin *p = dlsym(h, "pb_plugin");
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(had_avail, p->available != NULL);
		ck_assert_ptr_eq(c->available, p->available);
		ck_assert_ptr_eq(c->init, p->init);
		ck_assert_ptr_eq(c->ops, ops_before);   /* the same struct, now with real hooks */
		ck_assert_str_eq(c->name, p->name);
		ck_assert_str_eq(c->version, p->version);
		ck_assert_uint_eq(c->config_size, p->config_size);
		int n_real = 0;
		for (const struct pb_option *o = p->options; o && o->key; o++, n_real++) {
			const struct pb_option *k = &c->options[n_real];
			ck_assert_str_eq(k->key, o->key);
			ck_assert_int_eq(k->type, o->type);
			ck_assert_uint_eq(k->offset, o->offset);
			ck_assert(!k->def == !o->def && (!o->def || !strcmp(k->def, o->def)));
			ck_assert(!k->help == !o->help && (!o->help || !strcmp(k->help, o->help)));
		}
		ck_assert_int_eq(n_opt, n_real);
		if (c->kind == PB_PRUNER)
			ck_assert_ptr_eq(((const struct pb_pruner_ops *)c->ops)->apply,
					 ((const struct pb_pruner_ops *)p->ops)->apply);
		if (c->kind == PB_PROBE)
			ck_assert_ptr_eq(((const struct pb_probe_ops *)c->ops)->read,
					 ((const struct pb_probe_ops *)p->ops)->read);
		dlclose(h);
	}
	pb_registry_close(r);
}
END_TEST

static int remote_complete(void *s, const struct pb_complete_req *q, struct pb_complete_res *r)
{
	(void)s; (void)q; (void)r;
	return 0;
}

START_TEST(check_each_rule)
{
	char why[512];
	struct pb_plugin p = valid();
	ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);

	p = valid(); p.abi_version = 2;           expect_refused(&p, "plugin ABI 2, this prunebench has ABI 1");
	p = valid(); p.struct_size = 16;          expect_refused(&p, "struct_size is 16 bytes");
	p = valid(); p.kind = 0;                  expect_refused(&p, "unknown plugin kind 0");
	p = valid(); p.kind = 9;                  expect_refused(&p, "unknown plugin kind 9");
	p = valid(); p.name = NULL;               expect_refused(&p, "no name");
	p = valid(); p.name = "";                 expect_refused(&p, "no name");
	p = valid(); p.version = NULL;            expect_refused(&p, "no version");
	p = valid(); p.init = NULL;               expect_refused(&p, "no init() hook");
	p = valid(); p.fini = NULL;               expect_refused(&p, "no fini() hook");
	p = valid(); p.ops = NULL;                expect_refused(&p, "no ops");
	p = valid(); p.ops = &pruner_noapply;     expect_refused(&p, "no apply() hook");
	/* ops struct_size: below the kind's ABI-1 minimum is refused, naming the file */
	struct pb_pruner_ops po = pruner_ok;
	p = valid(); p.ops = &po; po.struct_size = 0;
	expect_refused(&p, "pruner-hand.so: pruner 'hand' has an ops struct_size of 0 bytes");
	po.struct_size = PB_PRUNER_OPS_MIN_SIZE - 1; expect_refused(&p, "below the");
	po.struct_size = PB_PRUNER_OPS_MIN_SIZE;
	ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);
	po.struct_size = sizeof po + 64;   /* a newer plugin: the core reads what it knows */
	ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);
	p = valid(); p.config_size = 0;           expect_refused(&p, "config_size is 0");
	p = valid(); p.options = opts_outside;    expect_refused(&p, "bad option table");

	/* no options at all is fine, whatever config_size says */
	p = valid(); p.options = NULL; p.config_size = 0;
	ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);

	/* backends */
	struct pb_backend_ops b;
	p = valid(); p.kind = PB_BACKEND; p.ops = &b;
	b = backend_ok; ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);
	b = backend_ok; b.weights_load = NULL;  expect_refused(&p, "no weights_load() hook");
	b = backend_ok; b.buffers_alloc = NULL; expect_refused(&p, "no buffers_alloc() hook");
	b = backend_ok; b.graph_compute = NULL; expect_refused(&p, "no graph_compute() hook");
	b = backend_ok; b.buffer_read = NULL;   expect_refused(&p, "no buffer_read() hook");
	b = backend_ok; b.formats = 0;          expect_refused(&p, "declares no weight format");
	/* a remote backend (issue 16): complete() instead of the op-list hooks */
	b = (struct pb_backend_ops){ .struct_size = sizeof b, .complete = remote_complete };
	ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);
	b = backend_ok; b.weights_load = NULL;  expect_refused(&p, "a remote backend has complete() instead");
	/* complete() past a short struct_size is not read: still a local backend without weights_load */
	b = (struct pb_backend_ops){ .struct_size = PB_BACKEND_OPS_MIN_SIZE, .complete = remote_complete };
	expect_refused(&p, "no weights_load() hook");
	b = backend_ok; b.struct_size = PB_BACKEND_OPS_MIN_SIZE - 8; expect_refused(&p, "backend 'hand' has an ops struct_size");

	/* probes */
	struct pb_probe_ops q;
	p = valid(); p.kind = PB_PROBE; p.ops = &q;
	q = probe_ok; ck_assert_int_eq(pb_plugin_check(&p, "x.so", why, sizeof why), 0);
	q = probe_ok; q.channels = NULL;        expect_refused(&p, "no channels() hook");
	q = probe_ok; q.read = NULL;            expect_refused(&p, "no read() hook");
	q = probe_ok; q.min_interval_ms = -1;   expect_refused(&p, "min_interval_ms");
	q = probe_ok; q.struct_size = 0;        expect_refused(&p, "probe 'hand' has an ops struct_size of 0");
}
END_TEST

START_TEST(kind_names)
{
	ck_assert_str_eq(pb_plugin_kind_name(PB_PRUNER), "pruner");
	ck_assert_str_eq(pb_plugin_kind_name(PB_BACKEND), "backend");
	ck_assert_str_eq(pb_plugin_kind_name(PB_PROBE), "probe");
	ck_assert_str_eq(pb_plugin_kind_name(0), "unknown");
	ck_assert_str_eq(pb_plugin_kind_name(42), "unknown");
}
END_TEST

/* ---- host services --------------------------------------------------- */

/* Run fn with stderr redirected into a pipe; returns what it wrote. */
static void capture_stderr(void (*fn)(const struct pb_host *), const struct pb_host *h,
			   char *out, size_t len)
{
	int fds[2], saved = dup(2);
	ck_assert_int_eq(pipe(fds), 0);
	fflush(stderr);
	dup2(fds[1], 2);
	close(fds[1]);
	fn(h);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = read(fds[0], out, len - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void apply_fail(const struct pb_host *h)
{
	struct pb_registry *r = open_with(good_dirs);
	const struct pb_plugin *p = pb_registry_find(r, PB_PRUNER, "fail")->desc;
	struct pb_model m = { .n_tensors = 0 };
	void *state = NULL;
	ck_assert_int_eq(p->init(h, NULL, &state), 0);
	ck_assert_int_eq(((const struct pb_pruner_ops *)p->ops)->apply(state, &m, NULL, NULL), -EIO);
	p->fini(state);
	pb_registry_close(r);
}

static void log_some(const struct pb_host *h)
{
	h->log(h, PB_LOG_WARN, "hello %d", 42);
	h->log(h, PB_LOG_DEBUG, "filtered out at info level");
	h->log(h, (enum pb_log_level)99, "clamped to debug, also filtered");
	h->log(h, (enum pb_log_level)-3, "clamped to error");
}

START_TEST(host_log_prefix)
{
	struct pb_host_ctx c;
	char out[1024];

	pb_log_level_set(PB_LOG_INFO);
	pb_host_init(&c, "wanda", 1234, 3);
	ck_assert_uint_eq(c.host.abi_version, PB_ABI_VERSION);
	ck_assert_uint_eq(c.host.struct_size, sizeof(struct pb_host));
	ck_assert_uint_eq(c.host.seed, 1234);
	ck_assert_int_eq(c.host.n_threads, 3);
	ck_assert_ptr_nonnull(c.host.tensor_realloc);
	capture_stderr(log_some, &c.host, out, sizeof out);
	ck_assert_str_eq(out, "prunebench: wanda: warning: hello 42\n"
			      "prunebench: wanda: error: clamped to error\n");

	/* n_threads <= 0: the default */
	pb_host_init(&c, NULL, 0, 0);
	ck_assert_int_eq(c.host.n_threads, pb_default_threads());
	capture_stderr(log_some, &c.host, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "prunebench: warning: hello 42\n"));

	/* a plugin's own message, through its host */
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	pb_host_init(&c, "fail", 0, 1);
	capture_stderr(apply_fail, &c.host, out, sizeof out);
	ck_assert_str_eq(out, "prunebench: fail: error: fake failure: cannot prune (tests)\n");
}
END_TEST

START_TEST(host_tensor_realloc)
{
	struct pb_host_ctx c;
	struct pb_tensor t = { .dtype = PB_F32, .n_dims = 2, .ne = { 4, 2, 1, 1 } };
	const int64_t ne[PB_MAX_DIMS] = { 4, 2, 1, 1 }, neg[PB_MAX_DIMS] = { 4, -2, 1, 1 };

	pb_host_init(&c, "x", 0, 1);
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, NULL, PB_F32, ne, 32), -EINVAL);
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, &t, PB_DTYPE_COUNT, ne, 32), -EINVAL);
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, &t, (enum pb_dtype)-1, ne, 32), -EINVAL);
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, &t, PB_F32, NULL, 32), -EINVAL);
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, &t, PB_F32, neg, 32), -EINVAL);
	ck_assert_ptr_null(t.data);

	/* a good call reaches the core: a fresh zeroed buffer, new format */
	const int64_t ne2[PB_MAX_DIMS] = { 32, 3, 1, 1 };
	ck_assert_int_eq(c.host.tensor_realloc(&c.host, &t, PB_Q8_0, ne2, 3 * 34), 0);
	ck_assert_ptr_nonnull(t.data);
	ck_assert_int_eq(t.dtype, PB_Q8_0);
	ck_assert_uint_eq(t.nbytes, 3 * 34);
	ck_assert_int_eq(t.ne[0], 32);
	ck_assert_int_eq(t.ne[1], 3);
	ck_assert_uint_eq(t.flags & PB_TENSOR_OWNED, PB_TENSOR_OWNED);
	for (size_t i = 0; i < t.nbytes; i++)
		ck_assert_int_eq(((unsigned char *)t.data)[i], 0);
	free(t.data);
}
END_TEST

static int affinity_count(void)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
	return CPU_COUNT(&set);
}

START_TEST(default_threads)
{
	int cpus = affinity_count();

	unsetenv("SLURM_CPUS_PER_TASK");
	ck_assert_int_eq(pb_default_threads(), cpus);
	setenv("SLURM_CPUS_PER_TASK", "1", 1);
	ck_assert_int_eq(pb_default_threads(), 1);
	/* never more than the affinity mask allows */
	setenv("SLURM_CPUS_PER_TASK", "100000", 1);
	ck_assert_int_eq(pb_default_threads(), cpus);
	/* junk is ignored */
	static const char *const junk[] = { "", "abc", "0", "-4", "2x", "99999999999999999999" };
	for (size_t i = 0; i < PB_ARRAY_LEN(junk); i++) {
		setenv("SLURM_CPUS_PER_TASK", junk[i], 1);
		ck_assert_msg(pb_default_threads() == cpus, "'%s' not ignored", junk[i]);
	}
	/* the affinity mask itself (Check runs this test in its own process) */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	unsetenv("SLURM_CPUS_PER_TASK");
	if (sched_setaffinity(0, sizeof one, &one) == 0)
		ck_assert_int_eq(pb_default_threads(), 1);
}
END_TEST

/* ---- describing a plugin --------------------------------------------- */

static char *describe(const struct pb_registry *r, enum pb_plugin_kind kind, const char *name)
{
	const struct pb_plugin_entry *e = pb_registry_find(r, kind, name);
	char *buf = NULL;
	size_t len = 0;
	ck_assert_ptr_nonnull(e);
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	pb_plugin_describe(f, e, NULL);
	fclose(f);
	return buf;
}

static void expect_has(const char *text, const char *what)
{
	ck_assert_msg(strstr(text, what) != NULL, "missing '%s' in:\n%s", what, text);
}

START_TEST(describe_plugins)
{
	unsetenv("PRUNEBENCH_PLUGIN_PATH");
	struct pb_registry *r = open_with(good_dirs);
	char *s = describe(r, PB_PRUNER, "good");
	const struct pb_plugin_entry *e = pb_registry_find(r, PB_PRUNER, "good");

	expect_has(s, "name:      good\n");
	expect_has(s, "kind:      pruner\n");
	expect_has(s, "version:   1.2.3\n");
	expect_has(s, e->path);
	expect_has(s, e->sha256);
	expect_has(s, "summary:   fake pruner that changes nothing (tests)\n");
	expect_has(s, "available: ok\n");
	expect_has(s, "  sparsity (double, default 0.5, range [0, 1])\n"
		      "      fraction of weights to set to zero\n");
	expect_has(s, "  blocks (int, default 4, range [1, 64])\n");
	expect_has(s, "  verbose (bool, default false)\n");
	expect_has(s, "  mode (enum, default row, one of row|column|global)\n");
	expect_has(s, "  tag (string, default \"\")\n");
	free(s);

	s = describe(r, PB_PROBE, "unavail");
	expect_has(s, "available: unavailable: no fake sensor on this machine (tests)\n");
	expect_has(s, "  device (string, required)\n      device file to read\n");
	free(s);

	s = describe(r, PB_PRUNER, "hang");
	expect_has(s, "options:   none\n");
	free(s);

	char avail[128];
	ck_assert_int_eq(pb_plugin_available(e->desc, NULL, avail, sizeof avail), 0);
	ck_assert_str_eq(avail, "ok");
	pb_registry_close(r);
}
END_TEST

static Suite *plugin_suite(void)
{
	Suite *s = suite_create("plugins");
	TCase *tc = tcase_create("registry");
	tcase_add_test(tc, bad_folder_one_failure_each);
	tcase_add_test(tc, good_folder_loads);
	tcase_add_test(tc, short_ops_struct_loads);
	tcase_add_test(tc, misbehaving_fakes);
	tcase_add_test(tc, env_path_order);
	tcase_add_test(tc, broken_first_file_shadows);
	tcase_add_test(tc, broken_files_cost_one_line);
	tcase_add_test(tc, scanned_copy_matches);
	tcase_add_test(tc, check_each_rule);
	tcase_add_test(tc, kind_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("host");
	tcase_add_test(tc, host_log_prefix);
	tcase_add_test(tc, host_tensor_realloc);
	tcase_add_test(tc, default_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("describe");
	tcase_add_test(tc, describe_plugins);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plugin_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* core/plugin/scan.c — plugin descriptors read in a forked child, so that
 * no plugin code (an ELF constructor, a library it pulls in) runs in the
 * process that scans (DESIGN.md: the core checks a plugin "before it runs
 * any plugin code").
 *
 * One child dlopen()s the candidates in order and writes one record per
 * file to a pipe: the checked descriptor, or why it was refused.  When the
 * child dies or stays silent past the time limit on a file, that file is
 * blamed (signal, exit status, timeout) and a new child goes on from the
 * next one, so a broken plugin costs one line and the rest still load.
 * Whether a file is a truncated ELF is checked before, in elf.c.
 *
 * Record (native byte order; the reader checks every length):
 *   u32 length of what follows, u32 item index, u8 ok,
 *   !ok: str why
 *   ok:  u32 abi_version, u32 struct_size, u32 kind, str name, str version,
 *        str summary, u64 config_size, u32 hooks (available|init|fini),
 *        u32 n_options, n × {str key, u32 type, u64 offset, str def,
 *        f64 min, f64 max, str choices, str help},
 *        pruner: u32 hooks, u32 calib, u32 in_formats, u32 archs
 *        backend: u32 formats, u32 hooks
 *        probe: u32 hooks, f64 min_interval_ms
 *   str: u32 length (UINT32_MAX: NULL), the bytes, a NUL.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/scan.h"
#include "util/util.h"

#define NO_STR UINT32_MAX
#define FRAME_MAX (4u << 20)     /* a descriptor is a few KiB; this bounds a bad one */

/* ---- stubs: hooks of a plugin not loaded in this process ------------- */

static _Noreturn void not_loaded(void)
{
	pb_log(PB_LOG_ERROR, "internal error: a hook of a plugin that was only scanned, "
	       "not loaded, was called (pb_plugin_load() it first)");
	abort();
}

static int st_available(const struct pb_host *h, char *w, size_t l) { (void)h; (void)w; (void)l; not_loaded(); }
static int st_init(const struct pb_host *h, const void *c, void **s) { (void)h; (void)c; (void)s; not_loaded(); }
static void st_fini(void *s) { (void)s; not_loaded(); }
static int st_apply(void *s, struct pb_model *m, struct pb_calib *c, struct pb_prune_target *t)
{ (void)s; (void)m; (void)c; (void)t; not_loaded(); }
static int st_check(void *s, const struct pb_model *m, char *w, size_t l)
{ (void)s; (void)m; (void)w; (void)l; not_loaded(); }
static int st_out_format(const void *c) { (void)c; not_loaded(); }
static unsigned st_calib_for(const void *c) { (void)c; not_loaded(); }
static int st_weights_load(void *s, const struct pb_model *m) { (void)s; (void)m; not_loaded(); }
static int st_buffers_alloc(void *s, const int64_t *z, int n) { (void)s; (void)z; (void)n; not_loaded(); }
static int st_graph_compute(void *s, const struct pb_graph *g) { (void)s; (void)g; not_loaded(); }
static int st_buffer_read(void *s, int b, int64_t o, int64_t n, float *d)
{ (void)s; (void)b; (void)o; (void)n; (void)d; not_loaded(); }
static int st_buffer_write(void *s, int b, int64_t o, int64_t n, const float *x)
{ (void)s; (void)b; (void)o; (void)n; (void)x; not_loaded(); }
static int st_weight_kernel(void *s, int i, char *o, size_t l) { (void)s; (void)i; (void)o; (void)l; not_loaded(); }
static int st_device_ms(void *s, double *t) { (void)s; (void)t; not_loaded(); }
static int st_be_describe(void *s, char *y, size_t l) { (void)s; (void)y; (void)l; not_loaded(); }
static int st_complete(void *s, const struct pb_complete_req *q, struct pb_complete_res *r)
{ (void)s; (void)q; (void)r; not_loaded(); }
static int st_channels(void *s, const struct pb_channel **c, int *n) { (void)s; (void)c; (void)n; not_loaded(); }
static int st_read(void *s, double *v) { (void)s; (void)v; not_loaded(); }
static int st_describe(void *s, char *y, size_t l) { (void)s; (void)y; (void)l; not_loaded(); }

/* Bit i of a hooks word says whether hook i is there (order as listed). */
#define HAS(p, i) ((p) ? 1u << (i) : 0u)
#define GOT(bits, i) (((bits) >> (i)) & 1u)

/* ---- writing records (child) ----------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t n, cap;
	int oom;
};

static void put(struct wbuf *b, const void *x, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->n + n)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, x, n);
	b->n += n;
}

static void put_u32(struct wbuf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(struct wbuf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_f64(struct wbuf *b, double v) { put(b, &v, sizeof v); }
static void put_u8(struct wbuf *b, uint8_t v) { put(b, &v, sizeof v); }

static void put_str(struct wbuf *b, const char *s)
{
	if (!s) {
		put_u32(b, NO_STR);
		return;
	}
	size_t n = strnlen(s, FRAME_MAX / 4);
	put_u32(b, (uint32_t)n);
	put(b, s, n);
	put_u8(b, 0);
}

/* ops: the core's copy of p->ops (pb_plugin_ops_copy), never p->ops itself,
 * which may be shorter than the core's struct */
static void put_desc(struct wbuf *b, const struct pb_plugin *p, const union pb_plugin_ops *ops)
{
	uint32_t n_opt = 0;
	for (const struct pb_option *o = p->options; o && o->key; o++)
		n_opt++;
	put_u32(b, p->abi_version);
	put_u32(b, p->struct_size);
	put_u32(b, (uint32_t)p->kind);
	put_str(b, p->name);
	put_str(b, p->version);
	put_str(b, p->summary);
	put_u64(b, p->config_size);
	put_u32(b, HAS(p->available, 0) | HAS(p->init, 1) | HAS(p->fini, 2));
	put_u32(b, n_opt);
	for (uint32_t i = 0; i < n_opt; i++) {
		const struct pb_option *o = &p->options[i];
		put_str(b, o->key);
		put_u32(b, (uint32_t)o->type);
		put_u64(b, o->offset);
		put_str(b, o->def);
		put_f64(b, o->min);
		put_f64(b, o->max);
		put_str(b, o->choices);
		put_str(b, o->help);
	}
	switch (p->kind) {
	case PB_PRUNER: {
		const struct pb_pruner_ops *o = &ops->pruner;
		put_u32(b, HAS(o->apply, 0) | HAS(o->check, 1) | HAS(o->out_format, 2) |
			HAS(o->calib_for, 3));
		put_u32(b, o->calib);
		put_u32(b, o->in_formats);
		put_u32(b, o->archs);
		break;
	}
	case PB_BACKEND: {
		const struct pb_backend_ops *o = &ops->backend;
		put_u32(b, o->formats);
		put_u32(b, HAS(o->weights_load, 0) | HAS(o->buffers_alloc, 1) |
			HAS(o->graph_compute, 2) | HAS(o->buffer_read, 3) |
			HAS(o->buffer_write, 4) | HAS(o->weight_kernel, 5) | HAS(o->device_ms, 6) |
			HAS(o->complete, 7) | HAS(o->describe, 8));
		break;
	}
	case PB_PROBE: {
		const struct pb_probe_ops *o = &ops->probe;
		put_u32(b, HAS(o->channels, 0) | HAS(o->read, 1) | HAS(o->describe, 2));
		put_f64(b, o->min_interval_ms);
		break;
	}
	}
}

/* dlerror() usually starts with the path already; keep one copy of it. */
static const char *strip_path(const char *msg, const char *path)
{
	size_t n = strlen(path);
	if (!strncmp(msg, path, n) && msg[n] == ':')
		return msg + n + (msg[n + 1] == ' ' ? 2 : 1);
	return msg;
}

/* Load and check one file (in the child): 0 with the descriptor, or
 * -EINVAL with why. */
static int load_check(const struct pb_scan_item *it, const struct pb_plugin **out,
		      union pb_plugin_ops *ops,
		      char *why, size_t len)
{
	const struct pb_plugin *p;
	void *h;

	dlerror();
	h = dlopen(it->path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *err = dlerror();
		return pb_errf(why, len, -EINVAL, "%s: cannot load: %s", it->path,
			       err ? strip_path(err, it->path) : "unknown dlopen error");
	}
	dlerror();
	p = dlsym(h, "pb_plugin");
	if (!p)
		return pb_errf(why, len, -EINVAL, "%s: no symbol 'pb_plugin' (a plugin exports "
			       "`const struct pb_plugin pb_plugin` with PB_EXPORT)", it->path);
	if (pb_plugin_check(p, it->path, why, len) < 0)
		return -EINVAL;
	if (p->kind != it->kind)
		return pb_errf(why, len, -EINVAL, "%s: file name says %s but the descriptor says %s; "
			       "rename the file %s-%s.so", it->path, pb_plugin_kind_name(it->kind),
			       pb_plugin_kind_name(p->kind), pb_plugin_kind_name(p->kind), p->name);
	if (strcmp(p->name, it->name))
		return pb_errf(why, len, -EINVAL, "%s: file name says '%s' but the descriptor's "
			       "name is '%s'; rename the file %s-%s.so", it->path, it->name, p->name,
			       pb_plugin_kind_name(it->kind), p->name);
	*out = p;
	return pb_plugin_ops_copy(p, it->path, ops, why, len);
}

static int write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static _Noreturn void child_main(const struct pb_scan_item *items, int from, int n, int fd)
{
	struct wbuf b = { 0 };
	char why[512];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	/* a constructor must not write into the command's output */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	for (int i = from; i < n; i++) {
		const struct pb_plugin *p = NULL;
		union pb_plugin_ops ops;
		b.n = 0;
		put_u32(&b, 0);          /* length, filled below */
		put_u32(&b, (uint32_t)i);
		if (load_check(&items[i], &p, &ops, why, sizeof why) < 0) {
			put_u8(&b, 0);
			put_str(&b, why);
		} else {
			put_u8(&b, 1);
			put_desc(&b, p, &ops);
		}
		if (b.oom || b.n > FRAME_MAX)
			_exit(3);
		uint32_t body = (uint32_t)(b.n - 4);
		memcpy(b.p, &body, 4);
		if (write_all(fd, b.p, b.n) < 0)
			_exit(4);
	}
	_exit(0);
}

/* ---- reading records (parent) ---------------------------------------- */

struct rbuf {
	const unsigned char *p;
	size_t n, off;
	int bad;
};

static void get(struct rbuf *r, void *x, size_t n)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = 1;
		memset(x, 0, n);
		return;
	}
	memcpy(x, r->p + r->off, n);
	r->off += n;
}

static uint32_t get_u32(struct rbuf *r) { uint32_t v; get(r, &v, sizeof v); return v; }
static uint64_t get_u64(struct rbuf *r) { uint64_t v; get(r, &v, sizeof v); return v; }
static double get_f64(struct rbuf *r) { double v; get(r, &v, sizeof v); return v; }

static const char *get_str(struct rbuf *r)
{
	uint32_t n = get_u32(r);
	if (r->bad || n == NO_STR)
		return NULL;
	if (r->n - r->off < (size_t)n + 1 || r->p[r->off + n] != '\0') {
		r->bad = 1;
		return NULL;
	}
	const char *s = (const char *)r->p + r->off;
	r->off += (size_t)n + 1;
	return s;
}

/* Build a copy from an ok record; takes frame.  NULL when it is malformed. */
static struct pb_plugin_copy *parse_desc(unsigned char *frame, size_t n, size_t off)
{
	struct pb_plugin_copy *c = calloc(1, sizeof *c);
	struct rbuf r = { .p = frame, .n = n, .off = off };
	if (!c) {
		free(frame);
		return NULL;
	}
	c->frame = frame;
	struct pb_plugin *d = &c->desc;
	d->abi_version = get_u32(&r);
	d->struct_size = get_u32(&r);
	d->kind = (enum pb_plugin_kind)get_u32(&r);
	d->name = get_str(&r);
	d->version = get_str(&r);
	d->summary = get_str(&r);
	d->config_size = (size_t)get_u64(&r);
	uint32_t hooks = get_u32(&r), n_opt = get_u32(&r);
	d->available = GOT(hooks, 0) ? st_available : NULL;
	d->init = GOT(hooks, 1) ? st_init : NULL;
	d->fini = GOT(hooks, 2) ? st_fini : NULL;
	if (r.bad || !d->name || !d->version || n_opt > 4096)
		goto bad;
	if (n_opt) {
		c->options = calloc((size_t)n_opt + 1, sizeof *c->options);
		if (!c->options)
			goto bad;
		for (uint32_t i = 0; i < n_opt; i++) {
			struct pb_option *o = &c->options[i];
			o->key = get_str(&r);
			o->type = (enum pb_opt_type)get_u32(&r);
			o->offset = (size_t)get_u64(&r);
			o->def = get_str(&r);
			o->min = get_f64(&r);
			o->max = get_f64(&r);
			o->choices = get_str(&r);
			o->help = get_str(&r);
			if (r.bad || !o->key)
				goto bad;
		}
		d->options = c->options;
	}
	switch (d->kind) {
	case PB_PRUNER: {
		struct pb_pruner_ops *o = &c->ops.pruner;
		o->struct_size = sizeof *o;
		hooks = get_u32(&r);
		o->apply = GOT(hooks, 0) ? st_apply : NULL;
		o->check = GOT(hooks, 1) ? st_check : NULL;
		o->out_format = GOT(hooks, 2) ? st_out_format : NULL;
		o->calib_for = GOT(hooks, 3) ? st_calib_for : NULL;
		o->calib = get_u32(&r);
		o->in_formats = get_u32(&r);
		o->archs = get_u32(&r);
		break;
	}
	case PB_BACKEND: {
		struct pb_backend_ops *o = &c->ops.backend;
		o->struct_size = sizeof *o;
		o->formats = get_u32(&r);
		hooks = get_u32(&r);
		o->weights_load = GOT(hooks, 0) ? st_weights_load : NULL;
		o->buffers_alloc = GOT(hooks, 1) ? st_buffers_alloc : NULL;
		o->graph_compute = GOT(hooks, 2) ? st_graph_compute : NULL;
		o->buffer_read = GOT(hooks, 3) ? st_buffer_read : NULL;
		o->buffer_write = GOT(hooks, 4) ? st_buffer_write : NULL;
		o->weight_kernel = GOT(hooks, 5) ? st_weight_kernel : NULL;
		o->device_ms = GOT(hooks, 6) ? st_device_ms : NULL;
		o->complete = GOT(hooks, 7) ? st_complete : NULL;
		o->describe = GOT(hooks, 8) ? st_be_describe : NULL;
		break;
	}
	case PB_PROBE: {
		struct pb_probe_ops *o = &c->ops.probe;
		o->struct_size = sizeof *o;
		hooks = get_u32(&r);
		o->channels = GOT(hooks, 0) ? st_channels : NULL;
		o->read = GOT(hooks, 1) ? st_read : NULL;
		o->describe = GOT(hooks, 2) ? st_describe : NULL;
		o->min_interval_ms = get_f64(&r);
		break;
	}
	default:
		goto bad;
	}
	if (r.bad || r.off != r.n)
		goto bad;
	d->ops = &c->ops;
	return c;
bad:
	pb_plugin_copy_free(c);
	return NULL;
}

/* One complete frame [4-byte length excluded] for items: fill its item. */
static int take_frame(struct pb_scan_item *items, int n, const unsigned char *body, size_t len)
{
	struct rbuf r = { .p = body, .n = len };
	uint32_t idx = get_u32(&r);
	uint8_t ok = 0;
	get(&r, &ok, 1);
	if (r.bad || idx >= (uint32_t)n)
		return -1;
	struct pb_scan_item *it = &items[idx];
	if (it->copy || it->why[0])
		return (int)idx;   /* one record per file: ignore a repeat */
	if (!ok) {
		const char *why = get_str(&r);
		snprintf(it->why, sizeof it->why, "%s", why ? why : "refused (no reason given)");
		return (int)idx;
	}
	unsigned char *frame = malloc(len);
	if (!frame) {
		snprintf(it->why, sizeof it->why, "%s: out of memory reading its descriptor", it->path);
		return (int)idx;
	}
	memcpy(frame, body, len);
	it->copy = parse_desc(frame, len, r.off);
	if (!it->copy)
		snprintf(it->why, sizeof it->why, "%s: its descriptor could not be read back from "
			 "the scanning process", it->path);
	return (int)idx;
}

void pb_signal_describe(int sig, char *out, size_t len)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" }, { SIGABRT, "SIGABRT" },
		{ SIGILL, "SIGILL" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGTERM, "SIGTERM" }, { SIGTRAP, "SIGTRAP" }, { SIGSYS, "SIGSYS" },
		{ SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" }, { SIGPIPE, "SIGPIPE" },
		{ SIGINT, "SIGINT" }, { SIGHUP, "SIGHUP" }, { SIGQUIT, "SIGQUIT" },
		{ SIGALRM, "SIGALRM" }, { SIGUSR1, "SIGUSR1" }, { SIGUSR2, "SIGUSR2" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(names); i++)
		if (names[i].sig == sig) {
			snprintf(out, len, "%s (%s)", names[i].name, strsignal(sig));
			return;
		}
	snprintf(out, len, "signal %d (%s)", sig, strsignal(sig));
}

static void blame(struct pb_scan_item *it, int status, int reaped)
{
	char sig[96];
	if (!reaped) {
		snprintf(it->why, sizeof it->why, "%s: the process that loaded it ended unexpectedly",
			 it->path);
	} else if (WIFSIGNALED(status)) {
		pb_signal_describe(WTERMSIG(status), sig, sizeof sig);
		snprintf(it->why, sizeof it->why, "%s: loading it was killed by %s; its constructor "
			 "or a library it needs crashed", it->path, sig);
	} else if (WIFEXITED(status)) {
		snprintf(it->why, sizeof it->why, "%s: loading it ended the process with exit "
			 "status %d (a constructor that calls exit()?)", it->path, WEXITSTATUS(status));
	} else {
		snprintf(it->why, sizeof it->why, "%s: loading it ended the process abnormally",
			 it->path);
	}
}

/* Run one child over items[from..n); returns the index it stopped at
 * (n when every file got a record), or -errno when none could start. */
static int scan_in_child(struct pb_scan_item *items, int from, int n, double timeout_s)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(items, from, n, fds[1]);
	}
	setpgid(pid, pid);
	close(fds[1]);

	unsigned char *buf = NULL;
	size_t have = 0, cap = 0;
	int next = from, timed_out = 0, status = 0, reaped = 0;
	double deadline = pb_now_ms() + timeout_s * 1e3;
	for (;;) {
		double left = deadline - pb_now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int pr = poll(&p, 1, left > 1e6 ? 1000000 : (int)left + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (pr == 0)
			continue;   /* the deadline decides */
		if (have + 65536 > cap) {
			size_t nc = cap ? cap * 2 : 65536;
			unsigned char *nb = nc <= FRAME_MAX + 65536 ? realloc(buf, nc) : NULL;
			if (!nb)
				break;   /* a frame past FRAME_MAX: blame the file */
			buf = nb;
			cap = nc;
		}
		ssize_t got = read(fds[0], buf + have, cap - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;       /* EOF: the child is done or died */
		have += (size_t)got;
		/* every complete frame */
		size_t off = 0;
		while (have - off >= 4) {
			uint32_t body;
			memcpy(&body, buf + off, 4);
			if (have - off - 4 < body)
				break;
			int idx = take_frame(items, n, buf + off + 4, body);
			off += 4 + body;
			if (idx >= next) {
				next = idx + 1;
				deadline = pb_now_ms() + timeout_s * 1e3;
			}
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	free(buf);
	close(fds[0]);
	if (next < n) {
		/* stuck or dead on items[next]: make sure it is gone */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	reaped = waitpid(pid, &status, 0) == pid;
	if (next < n) {
		if (timed_out)
			snprintf(items[next].why, sizeof items[next].why, "%s: loading it did not finish "
				 "within %g s (a constructor that hangs?); set "
				 "PRUNEBENCH_PLUGIN_TIMEOUT to wait longer", items[next].path, timeout_s);
		else
			blame(&items[next], status, reaped);
		next++;
	}
	return next;
}

int pb_plugin_scan(struct pb_scan_item *items, int n, double timeout_s)
{
	int from = 0;
	while (from < n) {
		int next = scan_in_child(items, from, n, timeout_s);
		if (next < 0) {
			if (from == 0)
				return next;
			for (int i = from; i < n; i++)
				snprintf(items[i].why, sizeof items[i].why, "%s: cannot start a process "
					 "to load it: %s", items[i].path, strerror(-next));
			return 0;
		}
		from = next;
	}
	return 0;
}

/* ---- adopting the real hooks ----------------------------------------- */

void pb_plugin_copy_adopt(struct pb_plugin_copy *c, const struct pb_plugin *real,
			  const union pb_plugin_ops *ops)
{
	c->desc.available = real->available;
	c->desc.init = real->init;
	c->desc.fini = real->fini;
	c->ops = *ops;
}

void pb_plugin_copy_free(struct pb_plugin_copy *c)
{
	if (!c)
		return;
	if (c->handle)
		dlclose(c->handle);
	free(c->options);
	free(c->frame);
	free(c);
}

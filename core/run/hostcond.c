/* core/run/hostcond.c — reading the machine around a cell (others' CPU,
 * load average, CPU frequency) and waiting for it to be quiet (contract
 * in hostcond.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/hostcond.h"
#include "util/util.h"

#define BUF_MAX 65536
#define FREQ_CPUS_MAX 4096

enum { FREQ_NONE, FREQ_CPUFREQ, FREQ_CPUINFO };

struct pb_hostcond {
	char path_stat[4096], path_self[4096], path_load[4096], path_cpuinfo[4096];
	char path_also[4096];     /* pb_hostcond_also_pid's stat, "" none */
	int freq_src;
	char **freq_paths;    /* cpufreq: every CPU's scaling_cur_freq */
	int n_freq;
	char buf[BUF_MAX];
};

static void join(char *out, size_t len, const char *root, const char *rel)
{
	size_t rl = strlen(root);
	snprintf(out, len, "%s%s%s", root, rl && root[rl - 1] == '/' ? "" : "/", rel);
}

/* The file into h->buf, NUL-terminated; its length or -errno. */
static ssize_t slurp(struct pb_hostcond *h, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	if (fd < 0)
		return -errno;
	while (n < BUF_MAX - 1 && (r = read(fd, h->buf + n, (size_t)(BUF_MAX - 1 - n))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			break;
		}
		n += r;
	}
	close(fd);
	if (n >= 0)
		h->buf[n] = '\0';
	return n;
}

static int cpufreq_scan(struct pb_hostcond *h, const char *root)
{
	char dir[4096], path[4096];
	struct dirent *d;
	DIR *dp;

	join(dir, sizeof dir, root, "sys/devices/system/cpu");
	if (!(dp = opendir(dir)))
		return 0;
	while ((d = readdir(dp)) && h->n_freq < FREQ_CPUS_MAX) {
		char *end;
		if (strncmp(d->d_name, "cpu", 3) || !d->d_name[3])
			continue;
		strtol(d->d_name + 3, &end, 10);
		if (*end)
			continue;
		if (snprintf(path, sizeof path, "%s/%s/cpufreq/scaling_cur_freq", dir, d->d_name) >=
		    (int)sizeof path || access(path, R_OK))
			continue;
		char **p = realloc(h->freq_paths, (size_t)(h->n_freq + 1) * sizeof *p);
		if (!p)
			break;
		h->freq_paths = p;
		if (!(p[h->n_freq] = strdup(path)))
			break;
		h->n_freq++;
	}
	closedir(dp);
	return h->n_freq;
}

int pb_hostcond_also_pid;

int pb_hostcond_open(struct pb_hostcond **out, const char *root)
{
	struct pb_hostcond *h = calloc(1, sizeof *h);

	*out = NULL;
	if (!h)
		return -ENOMEM;
	if (!root || !root[0])
		root = "/";
	join(h->path_stat, sizeof h->path_stat, root, "proc/stat");
	join(h->path_self, sizeof h->path_self, root, "proc/self/stat");
	if (pb_hostcond_also_pid > 0) {
		char rel[64];
		snprintf(rel, sizeof rel, "proc/%d/stat", pb_hostcond_also_pid);
		join(h->path_also, sizeof h->path_also, root, rel);
	}
	join(h->path_load, sizeof h->path_load, root, "proc/loadavg");
	join(h->path_cpuinfo, sizeof h->path_cpuinfo, root, "proc/cpuinfo");
	if (cpufreq_scan(h, root) > 0)
		h->freq_src = FREQ_CPUFREQ;
	else if (slurp(h, h->path_cpuinfo) > 0 && strstr(h->buf, "cpu MHz"))
		h->freq_src = FREQ_CPUINFO;
	*out = h;
	return 0;
}

void pb_hostcond_close(struct pb_hostcond *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->n_freq; i++)
		free(h->freq_paths[i]);
	free(h->freq_paths);
	free(h);
}

const char *pb_hostcond_freq_source(const struct pb_hostcond *h)
{
	return h && h->freq_src == FREQ_CPUFREQ ? "cpufreq" :
	       h && h->freq_src == FREQ_CPUINFO ? "cpuinfo" : "unavailable";
}

double pb_hostcond_tck(void)
{
	long t = sysconf(_SC_CLK_TCK);
	return t > 0 ? (double)t : 100.0;
}

/* The "cpu " line: user nice system idle iowait irq softirq steal (guest
 * time is already inside user and nice).  Busy is all but idle and
 * iowait — steal included: a hypervisor running another guest on our
 * CPU is contention too. */
static double stat_busy(const char *buf)
{
	const char *p = buf;
	double f[8], busy = 0;
	int n;

	while (p && strncmp(p, "cpu ", 4)) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return NAN;
	p += 4;
	for (n = 0; n < 8; n++) {
		char *end;
		f[n] = strtod(p, &end);
		if (end == p)
			break;
		p = end;
	}
	if (n < 4)
		return NAN;
	for (int i = 0; i < n; i++)
		if (i != 3 && i != 4)
			busy += f[i];
	return busy;
}

/* utime + stime: fields 14 and 15, counted after the ")" that ends the
 * command name (which may itself hold spaces and parentheses). */
static double self_ticks(const char *buf)
{
	const char *p = strrchr(buf, ')');
	double ut, st;
	char *end;

	if (!p)
		return NAN;
	p++;
	for (int field = 3; field < 14; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return NAN;
		while (*p && *p != ' ')
			p++;
	}
	ut = strtod(p, &end);
	if (end == p)
		return NAN;
	p = end;
	st = strtod(p, &end);
	if (end == p)
		return NAN;
	return ut + st;
}

static double read_freq(struct pb_hostcond *h)
{
	double sum = 0;
	int n = 0;

	if (h->freq_src == FREQ_CPUFREQ) {
		for (int i = 0; i < h->n_freq; i++)
			if (slurp(h, h->freq_paths[i]) > 0) {
				char *end;
				double khz = strtod(h->buf, &end);
				if (end != h->buf && khz > 0) {
					sum += khz / 1e3;
					n++;
				}
			}
	} else if (h->freq_src == FREQ_CPUINFO && slurp(h, h->path_cpuinfo) > 0) {
		for (const char *p = h->buf; (p = strstr(p, "cpu MHz")); p++) {
			const char *c = strchr(p, ':');
			char *end;
			if (!c)
				break;
			double mhz = strtod(c + 1, &end);
			if (end != c + 1 && mhz > 0) {
				sum += mhz;
				n++;
			}
		}
	}
	return n ? sum / n : NAN;
}

void pb_hostcond_read(struct pb_hostcond *h, unsigned flags, struct pb_host_reading *r)
{
	r->busy_ticks = r->self_ticks = r->loadavg_1m = r->cpu_freq_mhz = NAN;
	/* own time first, then the system's: a tick of ours that lands in
	 * between is counted in busy, so others come out high rather than
	 * low by it — never hides a busy machine */
	if (slurp(h, h->path_self) > 0)
		r->self_ticks = self_ticks(h->buf);
	if (h->path_also[0] && !isnan(r->self_ticks) && slurp(h, h->path_also) > 0) {
		double t = self_ticks(h->buf);   /* a served cell's server is ours too */
		r->self_ticks = isnan(t) ? NAN : r->self_ticks + t;
	}
	if (slurp(h, h->path_stat) > 0)
		r->busy_ticks = stat_busy(h->buf);
	if (!(flags & PB_HC_SLOW))
		return;
	if (slurp(h, h->path_load) > 0) {
		char *end;
		double v = strtod(h->buf, &end);
		if (end != h->buf && v >= 0)
			r->loadavg_1m = v;
	}
	r->cpu_freq_mhz = read_freq(h);
}

double pb_host_other_ticks(const struct pb_host_reading *a, const struct pb_host_reading *b)
{
	return (b->busy_ticks - a->busy_ticks) - (b->self_ticks - a->self_ticks);
}

double pb_host_other_pct(const struct pb_host_reading *a, const struct pb_host_reading *b,
			 double dt_ms, double tck)
{
	if (!(dt_ms > 0) || !(tck > 0))
		return NAN;
	return 100.0 * pb_host_other_ticks(a, b) / tck / (dt_ms / 1e3);
}

/* ---- waiting for a quiet machine ------------------------------------------ */

static double wait_quiet_s;   /* --wait-quiet; inherited by the forked cells */

void pb_wait_quiet_set(double max_s)
{
	wait_quiet_s = max_s > 0 ? max_s : 0;
}

double pb_wait_quiet_get(void)
{
	return wait_quiet_s;
}

static void real_sleep(void *ctx, double ms)
{
	(void)ctx;
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int pb_wait_quiet(double threshold_pct, double max_s, const struct pb_quiet_opts *o,
		  struct pb_quiet_result *r)
{
	double window = o && o->window_ms > 0 ? o->window_ms : PB_QUIET_WINDOW_MS;
	void (*sleep_ms)(void *, double) = o && o->sleep_ms ? o->sleep_ms : real_sleep;
	void *ctx = o ? o->ctx : NULL;
	struct pb_hostcond *h;
	struct pb_host_reading a, b;
	double tck = pb_hostcond_tck(), t0 = pb_now_ms(), ta;

	memset(r, 0, sizeof *r);
	r->ran = 1;
	r->max_s = max_s;
	r->other_cpu_pct = NAN;
	if (pb_hostcond_open(&h, o ? o->root : NULL) < 0)
		return 1;
	pb_hostcond_read(h, 0, &a);
	ta = pb_now_ms();
	if (isnan(a.busy_ticks) || isnan(a.self_ticks)) {
		r->timed_out = 1;
		pb_hostcond_close(h);
		return 1;
	}
	for (;;) {
		double left = max_s * 1e3 - (ta - t0);
		if (left <= 0) {
			r->timed_out = 1;
			break;
		}
		sleep_ms(ctx, left < window ? left : window);
		pb_hostcond_read(h, 0, &b);
		double tb = pb_now_ms();
		r->other_cpu_pct = pb_host_other_pct(&a, &b, tb - ta, tck);
		r->windows++;
		r->waited_s = (tb - t0) / 1e3;
		if (r->other_cpu_pct < threshold_pct)
			break;
		if (isnan(r->other_cpu_pct)) {
			r->timed_out = 1;
			break;
		}
		a = b;
		ta = tb;
	}
	pb_hostcond_close(h);
	return r->timed_out;
}

/* plugins/probes/procstat/procstat.c — process and system CPU, memory,
 * faults, context switches, I/O, threads and CPU frequency from /proc and
 * /sys.
 *
 * Reads <root>/proc/self/stat, <root>/proc/self/status, <root>/proc/self/io
 * (optional: missing or unreadable gives NAN), <root>/proc/stat,
 * <root>/proc/meminfo (MemAvailable), <root>/proc/self/task/<tid>/stat (the
 * busiest thread: a generation loop pinned to one thread shows up there
 * even when the process total looks modest) and
 * <root>/sys/devices/system/cpu/cpu<N>/cpufreq/scaling_cur_freq (mean and
 * minimum over the CPUs that have one; the minimum is what the cell's
 * throttle check watches).  `root`
 * exists so that tests can point the probe at fixture trees.  Every field is
 * parsed defensively: a missing or malformed field is NAN for that channel,
 * never an error, because /proc layouts differ between kernels.  Only a
 * missing proc/self/stat makes read() fail.  A host that names a process
 * (pb_host.pid, a served cell's server) moves every proc/self path to
 * proc/<pid>.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <prunebench/plugin.h>

#include "options.h"
#include "sysfs.h"

struct ps_config {
	char root[PB_OPT_STR_MAX];
	double interval_ms;
};

enum {
	CH_CPU_USER, CH_CPU_SYS, CH_CPU_PCT, CH_RSS, CH_RSS_PEAK, CH_SYS_CPU_PCT,
	CH_MINFLT, CH_MAJFLT, CH_CTX_VOL, CH_CTX_INVOL, CH_IO_READ, CH_IO_WRITE,
	CH_MEM_AVAIL, CH_THREADS, CH_MAX_THREAD_CPU, CH_FREQ_MEAN, CH_FREQ_MIN,
	CH_COUNT
};

static const struct pb_channel ps_channels[CH_COUNT] = {
	[CH_CPU_USER] = { .name = "proc_cpu_user_s", .unit = "s", .kind = PB_COUNTER },
	[CH_CPU_SYS] = { .name = "proc_cpu_sys_s", .unit = "s", .kind = PB_COUNTER },
	[CH_CPU_PCT] = { .name = "proc_cpu_pct", .unit = "%", .kind = PB_GAUGE },
	[CH_RSS] = { .name = "rss_bytes", .unit = "bytes", .kind = PB_GAUGE },
	[CH_RSS_PEAK] = { .name = "rss_peak_bytes", .unit = "bytes", .kind = PB_GAUGE },
	[CH_SYS_CPU_PCT] = { .name = "sys_cpu_pct", .unit = "%", .kind = PB_GAUGE },
	[CH_MINFLT] = { .name = "minor_faults", .unit = "count", .kind = PB_COUNTER },
	[CH_MAJFLT] = { .name = "major_faults", .unit = "count", .kind = PB_COUNTER },
	[CH_CTX_VOL] = { .name = "ctx_switches_voluntary", .unit = "count", .kind = PB_COUNTER },
	[CH_CTX_INVOL] = { .name = "ctx_switches_involuntary", .unit = "count", .kind = PB_COUNTER },
	[CH_IO_READ] = { .name = "io_read_bytes", .unit = "bytes", .kind = PB_COUNTER },
	[CH_IO_WRITE] = { .name = "io_write_bytes", .unit = "bytes", .kind = PB_COUNTER },
	[CH_MEM_AVAIL] = { .name = "mem_available_bytes", .unit = "bytes", .kind = PB_GAUGE },
	[CH_THREADS] = { .name = "threads", .unit = "count", .kind = PB_GAUGE },
	/* a GAUGE, not a COUNTER: the busiest thread may be another one at
	 * the next reading, so differences would mean nothing */
	[CH_MAX_THREAD_CPU] = { .name = "max_thread_cpu_s", .unit = "s", .kind = PB_GAUGE },
	[CH_FREQ_MEAN] = { .name = "cpu_freq_mhz_mean", .unit = "MHz", .kind = PB_GAUGE },
	[CH_FREQ_MIN] = { .name = "cpu_freq_mhz_min", .unit = "MHz", .kind = PB_GAUGE },
};

/* CPUs scanned for cpufreq at init; a larger machine is sampled on its
 * first CPUS_MAX (said in the log). */
#define CPUS_MAX 1024

/* status and stat fit easily; a longer file is cut, and what was cut is NAN */
#define BUF_MAX 16384

struct ps_state {
	const struct pb_host *host;
	char path_stat[PATH_MAX], path_status[PATH_MAX], path_io[PATH_MAX], path_sys[PATH_MAX];
	char path_meminfo[PATH_MAX], path_task[PATH_MAX];
	char (*freq_paths)[PATH_MAX];   /* scaling_cur_freq of each CPU that has one */
	int n_freq;
	double tck;               /* clock ticks per second */
	/* previous reading, for the rates; NAN before the first */
	double prev_ticks, prev_wall_ms, prev_sys_busy, prev_sys_total;
	int warned_status;
	char buf[BUF_MAX];
};


/* A non-negative decimal integer at *p (leading blanks skipped); NAN if
 * there is none.  Advances *p past it. */
static double parse_uint(const char **p)
{
	const char *s = *p;
	double v = 0;
	int digits = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		s++;
		digits++;
	}
	*p = s;
	return digits ? v : NAN;
}

/* Value of "key:<blanks>N" at the start of a line, in bytes when the line
 * ends in "kB" (the kernel's kB are KiB); NAN when absent or malformed. */
static double status_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, kl) || l[kl] != ':')
			continue;
		const char *p = l + kl + 1;
		double v = parse_uint(&p);
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "kB", 2))
			v *= 1024;
		else if (*p && *p != '\n')
			return NAN;
		return v;
	}
	return NAN;
}

/* /proc/self/stat: fields after the command name, which may itself hold
 * spaces and ')' — so start after the LAST ')'.  tok[0] is field 3 (state). */
#define STAT_TOKENS 13
static int parse_stat(const char *buf, double tok[STAT_TOKENS])
{
	const char *p = strrchr(buf, ')');

	for (int i = 0; i < STAT_TOKENS; i++)
		tok[i] = NAN;
	if (!p)
		return -EINVAL;
	p++;
	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return -EINVAL;
	while (*p && *p != ' ' && *p != '\n')   /* state: a letter */
		p++;
	for (int i = 1; i < STAT_TOKENS; i++) {
		if (*p != ' ')
			break;
		p++;
		if (*p == '-') {                /* ppid/tty fields may be negative */
			p++;
			tok[i] = -parse_uint(&p);
		} else {
			tok[i] = parse_uint(&p);
		}
		if (*p && *p != ' ' && *p != '\n') {   /* garbage inside a field */
			tok[i] = NAN;
			break;
		}
	}
	return 0;
}

/* "cpu  user nice system idle iowait irq softirq steal guest guest_nice":
 * busy and total jiffies of all CPUs.  guest time is already counted in
 * user/nice, so it is left out of the total. */
static int parse_sys(const char *buf, double *busy, double *total)
{
	double f[8];
	const char *p = buf;
	int n = 0;

	while (p && strncmp(p, "cpu ", 4)) {   /* the aggregate line; first in practice */
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return -EINVAL;
	p += 4;
	for (n = 0; n < 8; n++) {
		f[n] = parse_uint(&p);
		if (isnan(f[n]))
			break;
	}
	if (n < 4)   /* at least user nice system idle */
		return -EINVAL;
	*total = 0;
	for (int i = 0; i < n; i++)
		*total += f[i];
	*busy = *total - f[3] - (n > 4 ? f[4] : 0);
	return 0;
}

/* The busiest thread's CPU time (utime + stime, s) over
 * <task>/<tid>/stat.  A thread that exits between readdir() and open() is
 * skipped.  NAN when no thread could be read. */
static double max_thread_cpu(struct ps_state *s)
{
	char path[PATH_MAX];
	double best = NAN, tok[STAT_TOKENS];
	struct dirent *d;
	DIR *dir = opendir(s->path_task);

	if (!dir)
		return NAN;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		int n = snprintf(path, sizeof path, "%s/%s/stat", s->path_task, d->d_name);
		if (n < 0 || n >= (int)sizeof path || pbs_slurp(path, s->buf, BUF_MAX) < 0)
			continue;
		parse_stat(s->buf, tok);
		double t = (tok[14 - 3] + tok[15 - 3]) / s->tck;
		if (!isnan(t) && (isnan(best) || t > best))
			best = t;
	}
	closedir(dir);
	return best;
}

/* Mean and minimum current frequency (MHz) over the CPUs found at init;
 * a CPU whose file cannot be read or parsed this time is left out. */
static void cpu_freq(struct ps_state *s, double *mean, double *min)
{
	char buf[64];
	double sum = 0;
	int n = 0;

	*mean = *min = NAN;
	for (int i = 0; i < s->n_freq; i++) {
		if (pbs_slurp(s->freq_paths[i], buf, sizeof buf) < 0)
			continue;
		const char *p = buf;
		double khz = parse_uint(&p);
		if (isnan(khz) || (*p && *p != '\n'))
			continue;
		double mhz = khz / 1000.0;
		sum += mhz;
		n++;
		if (isnan(*min) || mhz < *min)
			*min = mhz;
	}
	if (n)
		*mean = sum / n;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ps_read(void *state, double *v)
{
	struct ps_state *s = state;
	char *buf = s->buf;
	double tok[STAT_TOKENS], busy, total, wall = now_ms();
	ssize_t n;

	for (int i = 0; i < CH_COUNT; i++)
		v[i] = NAN;

	n = pbs_slurp(s->path_stat, buf, BUF_MAX);
	if (n < 0)
		return (int)n;
	parse_stat(buf, tok);
	/* fields 10 minflt, 12 majflt, 14 utime, 15 stime */
	v[CH_MINFLT] = tok[10 - 3];
	v[CH_MAJFLT] = tok[12 - 3];
	v[CH_CPU_USER] = tok[14 - 3] / s->tck;
	v[CH_CPU_SYS] = tok[15 - 3] / s->tck;
	double ticks = tok[14 - 3] + tok[15 - 3];
	if (!isnan(ticks) && !isnan(s->prev_ticks) && wall > s->prev_wall_ms) {
		v[CH_CPU_PCT] = 100.0 * (ticks - s->prev_ticks) / s->tck /
				((wall - s->prev_wall_ms) / 1e3);
		/* CPU time comes in clock ticks (10 ms): over a short interval one
		 * tick more or less looks like several CPUs; no process can use
		 * more than the CPUs online */
		double cap = 100.0 * (double)sysconf(_SC_NPROCESSORS_ONLN);
		if (cap > 0 && v[CH_CPU_PCT] > cap)
			v[CH_CPU_PCT] = cap;
	}
	s->prev_ticks = ticks;
	s->prev_wall_ms = wall;

	n = pbs_slurp(s->path_status, buf, BUF_MAX);
	if (n >= 0) {
		v[CH_RSS] = status_field(buf, "VmRSS");
		v[CH_RSS_PEAK] = status_field(buf, "VmHWM");
		v[CH_CTX_VOL] = status_field(buf, "voluntary_ctxt_switches");
		v[CH_CTX_INVOL] = status_field(buf, "nonvoluntary_ctxt_switches");
		v[CH_THREADS] = status_field(buf, "Threads");
	} else if (!s->warned_status) {
		s->warned_status = 1;
		s->host->log(s->host, PB_LOG_WARN, "cannot read %s: %s", s->path_status,
			     strerror((int)-n));
	}

	if (pbs_slurp(s->path_io, buf, BUF_MAX) >= 0) {
		v[CH_IO_READ] = status_field(buf, "read_bytes");
		v[CH_IO_WRITE] = status_field(buf, "write_bytes");
	}

	if (pbs_slurp(s->path_sys, buf, BUF_MAX) >= 0 && !parse_sys(buf, &busy, &total)) {
		if (!isnan(s->prev_sys_total) && total > s->prev_sys_total)
			v[CH_SYS_CPU_PCT] = 100.0 * (busy - s->prev_sys_busy) /
					    (total - s->prev_sys_total);
		s->prev_sys_busy = busy;
		s->prev_sys_total = total;
	}

	if (pbs_slurp(s->path_meminfo, buf, BUF_MAX) >= 0)
		v[CH_MEM_AVAIL] = status_field(buf, "MemAvailable");
	v[CH_MAX_THREAD_CPU] = max_thread_cpu(s);
	cpu_freq(s, &v[CH_FREQ_MEAN], &v[CH_FREQ_MIN]);
	return 0;
}

static int ps_channels_get(void *state, const struct pb_channel **ch, int *n)
{
	(void)state;
	*ch = ps_channels;
	*n = CH_COUNT;
	return 0;
}

/* The CPUs of <root>/sys/devices/system/cpu that have a
 * cpufreq/scaling_cur_freq, in directory order.  None is fine (a VM, a
 * container without /sys): the frequency channels are NAN. */
static int scan_cpufreq(struct ps_state *s, const char *root)
{
	char dir_path[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	if (pbs_path(dir_path, root, "sys/devices/system/cpu"))
		return 0;
	if (!(dir = opendir(dir_path)))
		return 0;
	while ((d = readdir(dir))) {
		const char *p = d->d_name;
		if (strncmp(p, "cpu", 3) || p[3] < '0' || p[3] > '9' ||
		    strspn(p + 3, "0123456789") != strlen(p + 3))
			continue;
		int n = snprintf(path, sizeof path, "%s/%s/cpufreq/scaling_cur_freq", dir_path, p);
		if (n < 0 || n >= (int)sizeof path || access(path, R_OK))
			continue;
		if (s->n_freq == CPUS_MAX) {
			s->host->log(s->host, PB_LOG_WARN, "more than %d CPUs: the frequency "
				     "channels cover the first %d found", CPUS_MAX, CPUS_MAX);
			break;
		}
		void *np = realloc(s->freq_paths, (size_t)(s->n_freq + 1) * sizeof *s->freq_paths);
		if (!np) {
			closedir(dir);
			return -ENOMEM;
		}
		s->freq_paths = np;
		memcpy(s->freq_paths[s->n_freq++], path, (size_t)n + 1);
	}
	closedir(dir);
	return 0;
}

/* 0 when <root>/proc/self/stat can be read, else -errno and why. */
static int check_root(const char *root, char *why, size_t len)
{
	char path[PATH_MAX];
	int rc = pbs_path(path, root, "proc/self/stat");

	if (rc) {
		snprintf(why, len, "root '%s' is too long", root);
		return rc;
	}
	if (access(path, R_OK)) {
		rc = -errno;
		snprintf(why, len, "cannot read %s (%s); is /proc mounted?", path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* The host hook gets no configuration, so it checks the default root; init
 * checks the configured one. */
static int ps_available(const struct pb_host *h, char *why, size_t len)
{
	(void)h;
	return check_root("/", why, len);
}

static int ps_init(const struct pb_host *h, const void *config, void **state)
{
	const struct ps_config *c = config;
	const char *root = c->root[0] ? c->root : "/";
	struct ps_state *s;
	char why[PATH_MAX + 128];
	int rc;

	if (!pbs_opt_ok(c->root, sizeof c->root)) {
		h->log(h, PB_LOG_ERROR, "option root is not terminated");
		return -EINVAL;
	}
	rc = check_root(root, why, sizeof(why));
	if (rc) {
		h->log(h, PB_LOG_ERROR, "%s", why);
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	/* the host may name another process to sample (a served cell's
	 * server, issue 16); the system-wide files stay what they are */
	char proc[32] = "proc/self";
	if (PB_HOST_HAS(h, pid) && h->pid > 0)
		snprintf(proc, sizeof proc, "proc/%d", h->pid);
	if (pbs_path(s->path_stat, root, "%s/stat", proc) ||
	    pbs_path(s->path_status, root, "%s/status", proc) ||
	    pbs_path(s->path_io, root, "%s/io", proc) ||
	    pbs_path(s->path_sys, root, "proc/stat") ||
	    pbs_path(s->path_meminfo, root, "proc/meminfo") ||
	    pbs_path(s->path_task, root, "%s/task", proc)) {
		free(s);
		return -ENAMETOOLONG;
	}
	if ((rc = scan_cpufreq(s, root)) < 0) {
		free(s->freq_paths);
		free(s);
		return rc;
	}
	long tck = sysconf(_SC_CLK_TCK);
	s->tck = tck > 0 ? (double)tck : 100.0;
	s->prev_ticks = s->prev_wall_ms = NAN;
	s->prev_sys_busy = s->prev_sys_total = NAN;
	*state = s;
	return 0;
}

static void ps_fini(void *state)
{
	struct ps_state *s = state;
	if (s)
		free(s->freq_paths);
	free(s);
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option ps_options[] = {
	{ .key = "root", .type = PB_OPT_STRING, .offset = offsetof(struct ps_config, root),
	  .def = "/", .min = 1, .max = 0,
	  .help = "folder holding proc/ (tests point this at fixture trees)" },
	PC_OPT_INTERVAL_MS(struct ps_config),
	PB_OPTIONS_END
};

static const struct pb_probe_ops ps_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = ps_channels_get,
	.read = ps_read,
	.min_interval_ms = 1,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PROBE,
	.name = "procstat",
	.version = "1.1.0",
	.summary = "process CPU time and %, RSS, faults, context switches, I/O, threads; "
		   "system CPU %, available memory, CPU frequency",
	.options = ps_options,
	.config_size = sizeof(struct ps_config),
	.available = ps_available,
	.init = ps_init,
	.fini = ps_fini,
	.ops = &ps_ops,
};

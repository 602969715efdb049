/* core/run/memlimit.c — `memory_limit` per job: a cgroup v2 memory.max
 * where this process may make one, else RLIMIT_AS (see memlimit.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/memlimit.h"
#include "util/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static int write_text(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return err;
}

static int read_text(const char *dir, const char *file, char *out, size_t len)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

/* This process's cgroup v2 folder, when the memory controller is
 * delegated to its children there.  0 or -errno. */
static int delegated_cgroup(char *out, size_t len)
{
	char buf[4096], ctl[512];
	struct stat st;
	if (stat(CGROUP_ROOT "/cgroup.controllers", &st) < 0)
		return -ENOTSUP;   /* not a cgroup v2 (unified) mount */
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	char *line = strstr(buf, "0::");
	if (!line || (line != buf && line[-1] != '\n'))
		return -ENOTSUP;
	line += 3;
	line[strcspn(line, "\n")] = '\0';
	if (snprintf(out, len, "%s%s", CGROUP_ROOT, strcmp(line, "/") ? line : "") >= (int)len)
		return -ENAMETOOLONG;
	if (read_text(out, "cgroup.subtree_control", ctl, sizeof ctl) < 0)
		return -ENOTSUP;
	/* words: "cpu io memory pids" */
	char *save = NULL;
	for (char *w = strtok_r(ctl, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		if (!strcmp(w, "memory"))
			return access(out, W_OK) == 0 ? 0 : -EACCES;
	return -ENOTSUP;
}

const char *pb_memlimit_how_here(void)
{
	char dir[PATH_MAX];
	return delegated_cgroup(dir, sizeof dir) == 0 ? "cgroup v2 memory.max" :
		"RLIMIT_AS (no cgroup v2 memory delegation here)";
}

void pb_memlimit_prepare(struct pb_memlimit *m, uint64_t bytes)
{
	static unsigned seq;
	char base[PATH_MAX], num[32];

	memset(m, 0, sizeof *m);
	m->bytes = bytes;
	if (!bytes)
		return;
	m->how = PB_MEMLIMIT_RLIMIT;
	if (delegated_cgroup(base, sizeof base) < 0)
		return;
	if (snprintf(m->cgroup, sizeof m->cgroup, "%s/prunebench-%ld-%u", base, (long)getpid(),
		     seq++) >= (int)sizeof m->cgroup || mkdir(m->cgroup, 0755) < 0) {
		m->cgroup[0] = '\0';
		return;
	}
	snprintf(num, sizeof num, "%llu", (unsigned long long)bytes);
	if (write_text(m->cgroup, "memory.max", num) < 0) {
		rmdir(m->cgroup);
		m->cgroup[0] = '\0';
		return;
	}
	/* over the limit means killed, not swapped out (absent without swap) */
	write_text(m->cgroup, "memory.swap.max", "0");
	m->how = PB_MEMLIMIT_CGROUP;
}

static void set_rlimit(uint64_t bytes)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)bytes, .rlim_max = (rlim_t)bytes };
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		pb_log(PB_LOG_WARN, "memory_limit: setrlimit(RLIMIT_AS) failed: %s", strerror(errno));
}

static int report_fd = -1;

/* async-signal-safe: open, read, write, close only */
static void report_vmpeak(int fd)
{
	char buf[2048], line[48];
	long long kb = -1;
	int f = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (f < 0 || fd < 0)
		goto out;
	ssize_t n = read(f, buf, sizeof buf - 1);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (char *p = buf; *p; p++) {
		if ((p == buf || p[-1] == '\n') && !strncmp(p, "VmPeak:", 7)) {
			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
			kb = 0;
			while (*p >= '0' && *p <= '9')
				kb = kb * 10 + (*p++ - '0');
			break;
		}
	}
	if (kb >= 0) {
		/* "vmpeak N\n" without stdio */
		char digits[24];
		int nd = 0, k = 0;
		do {
			digits[nd++] = (char)('0' + kb % 10);
			kb /= 10;
		} while (kb);
		memcpy(line, "vmpeak ", 7);
		k = 7;
		while (nd)
			line[k++] = digits[--nd];
		line[k++] = '\n';
		if (write(fd, line, (size_t)k) < 0) {
			/* nothing to do: the parent then reports the plain failure */
		}
	}
out:
	if (f >= 0)
		close(f);
}

static void on_fatal(int sig)
{
	int saved = errno;
	report_vmpeak(report_fd);
	errno = saved;
	/* SA_RESETHAND restored the default: the signal ends us as it would have */
	raise(sig);
}

void pb_memlimit_enter(struct pb_memlimit *m, int status_fd)
{
	char pid[32];
	if (!m->bytes)
		return;
	if (m->how == PB_MEMLIMIT_CGROUP) {
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		if (write_text(m->cgroup, "cgroup.procs", pid) == 0)
			return;
		m->how = PB_MEMLIMIT_RLIMIT;
		if (status_fd >= 0 && write(status_fd, "memlimit rlimit\n", 16) < 0) {
			/* the parent then reads memory.events, which stay empty */
		}
	}
	set_rlimit(m->bytes);
	report_fd = status_fd;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
}

void pb_memlimit_report(int status_fd)
{
	report_vmpeak(status_fd);
}

int pb_memlimit_status_line(struct pb_memlimit *m, const char *line, long long *vmpeak_kb)
{
	if (!strncmp(line, "vmpeak ", 7)) {
		*vmpeak_kb = strtoll(line + 7, NULL, 10);
		return 1;
	}
	if (!strcmp(line, "memlimit rlimit")) {
		m->how = PB_MEMLIMIT_RLIMIT;
		return 1;
	}
	return 0;
}

/* "oom_kill 1" in memory.events */
static long long events_count(const char *events, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = events; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return 0;
}

int pb_memlimit_finish(struct pb_memlimit *m, int failed, long long vmpeak_kb)
{
	char events[1024] = "";
	int over = 0;

	if (!m->bytes)
		return 0;
	if (m->cgroup[0]) {
		if (read_text(m->cgroup, "memory.events", events, sizeof events) == 0 && failed)
			over = events_count(events, "oom_kill") > 0 || events_count(events, "oom") > 0;
		/* the job's process group was killed; its last processes may
		 * still be leaving the cgroup */
		for (int i = 0; i < 50 && rmdir(m->cgroup) < 0 && errno == EBUSY; i++)
			usleep(20 * 1000);
		m->cgroup[0] = '\0';
	}
	if (m->how == PB_MEMLIMIT_RLIMIT && failed && vmpeak_kb > 0) {
		uint64_t peak = (uint64_t)vmpeak_kb * 1024, margin = m->bytes / 8;
		if (margin < (32u << 20))
			margin = 32u << 20;
		over = peak + margin >= m->bytes;
	}
	return over;
}

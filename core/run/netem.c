/* core/run/netem.c — the emulated link of a served cell (contract in
 * netem.h): names, the ip/tc command lines, running them without a shell,
 * and removing what a run made, also after it died. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/netem.h"
#include "util/util.h"

#define NETNS_DIR "/run/netns"
#define NS_PREFIX "pbnet-"

void pb_netns_names(struct pb_netns *n, long tag)
{
	memset(n, 0, sizeof *n);
	n->tag = tag;
	/* 10.213.0.0/16 holds 16384 /30 links; two cells whose tags agree
	 * modulo that would collide, and `ip addr add` then says so */
	long idx = tag % 16384;
	int x = (int)(idx / 64), base = (int)(idx % 64) * 4;
	snprintf(n->ns, sizeof n->ns, NS_PREFIX "%ld", tag);
	char t[24];   /* a pid: at most 7 digits, well inside IFNAMSIZ */
	snprintf(t, sizeof t, "%ld", tag);
	snprintf(n->veth_host, sizeof n->veth_host, "pbh%.12s", t);
	snprintf(n->veth_ns, sizeof n->veth_ns, "pbn%.12s", t);
	snprintf(n->addr_host, sizeof n->addr_host, "10.213.%d.%d", x, base + 1);
	snprintf(n->addr_ns, sizeof n->addr_ns, "10.213.%d.%d", x, base + 2);
}

static void cmd(struct pb_netem_cmd *c, const char *first, ...)
{
	va_list ap;
	c->argc = 0;
	va_start(ap, first);
	for (const char *a = first; a && c->argc < PB_NETEM_ARGS; a = va_arg(ap, const char *))
		snprintf(c->arg[c->argc++], sizeof c->arg[0], "%s", a);
	va_end(ap);
}

static void word(struct pb_netem_cmd *c, const char *w)
{
	if (c->argc < PB_NETEM_ARGS)
		snprintf(c->arg[c->argc++], sizeof c->arg[0], "%s", w);
}

static void push(struct pb_netem_cmd *c, const char *fmt, double v)
{
	if (c->argc < PB_NETEM_ARGS)
		snprintf(c->arg[c->argc++], sizeof c->arg[0], fmt, v);
}

int pb_netem_args(const struct pb_link *l, struct pb_netem_cmd *c)
{
	int before = c->argc;
	word(c, "netem");
	if (l->delay_ms > 0) {
		word(c, "delay");
		push(c, "%.6gms", l->delay_ms);
		if (l->jitter_ms > 0)
			push(c, "%.6gms", l->jitter_ms);
	}
	if (l->loss_pct > 0) {
		word(c, "loss");
		push(c, "%.6g%%", l->loss_pct);
	}
	if (l->rate_mbit > 0) {
		word(c, "rate");
		push(c, "%.6gmbit", l->rate_mbit);
	}
	return c->argc - before;
}

int pb_netem_setup_cmds(const struct pb_netns *n, const struct pb_link *l, struct pb_netem_cmd *cmds,
			int max)
{
	char host[32], ns[32];
	snprintf(host, sizeof host, "%s/30", n->addr_host);
	snprintf(ns, sizeof ns, "%s/30", n->addr_ns);
	struct pb_netem_cmd all[10];
	int k = 0;
	cmd(&all[k++], "ip", "netns", "add", n->ns, NULL);
	cmd(&all[k++], "ip", "link", "add", n->veth_host, "type", "veth", "peer", "name",
	    n->veth_ns, NULL);
	cmd(&all[k++], "ip", "link", "set", n->veth_ns, "netns", n->ns, NULL);
	cmd(&all[k++], "ip", "addr", "add", host, "dev", n->veth_host, NULL);
	cmd(&all[k++], "ip", "link", "set", n->veth_host, "up", NULL);
	cmd(&all[k++], "ip", "-n", n->ns, "addr", "add", ns, "dev", n->veth_ns, NULL);
	cmd(&all[k++], "ip", "-n", n->ns, "link", "set", n->veth_ns, "up", NULL);
	cmd(&all[k++], "ip", "-n", n->ns, "link", "set", "lo", "up", NULL);
	/* each end shapes what it sends: here the requests, there the replies */
	cmd(&all[k], "tc", "qdisc", "add", "dev", n->veth_host, "root", NULL);
	pb_netem_args(l, &all[k++]);
	cmd(&all[k], "tc", "-n", n->ns, "qdisc", "add", "dev", n->veth_ns, "root", NULL);
	pb_netem_args(l, &all[k++]);
	int out = k < max ? k : max;
	memcpy(cmds, all, (size_t)out * sizeof *cmds);
	return out;
}

int pb_netem_teardown_cmds(const struct pb_netns *n, struct pb_netem_cmd *cmds, int max)
{
	if (max < 2)
		return 0;
	cmd(&cmds[0], "ip", "link", "del", n->veth_host, NULL);
	cmd(&cmds[1], "ip", "netns", "del", n->ns, NULL);
	return 2;
}

void pb_netem_cmd_text(const struct pb_netem_cmd *c, char *out, size_t len)
{
	size_t n = 0;
	if (len)
		out[0] = '\0';
	for (int i = 0; i < c->argc && n + 1 < len; i++) {
		int w = snprintf(out + n, len - n, "%s%s", i ? " " : "", c->arg[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* exec argv, trying PATH and then the sbin folders iproute2 installs to
 * (a non-login root shell may lack them in PATH). */
static void exec_tool(char *const argv[])
{
	static const char *const dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/" };
	char path[64];
	execvp(argv[0], argv);
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dirs[i], argv[0]);
		execv(path, argv);
	}
}

int pb_netem_run(const struct pb_netem_cmd *c, char *err, size_t len)
{
	char line[PB_NETEM_ARGS * 48], *argv[PB_NETEM_ARGS + 1];
	int pfd[2], status = 0;
	pb_netem_cmd_text(c, line, sizeof line);
	pb_log(PB_LOG_INFO, "netem: %s", line);
	if (len)
		err[0] = '\0';
	for (int i = 0; i < c->argc; i++)
		argv[i] = (char *)c->arg[i];
	argv[c->argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(err, len, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, 0), dup2(devnull, 1);
		dup2(pfd[1], 2);
		exec_tool(argv);
		dprintf(2, "cannot run %s: %s (is iproute2 installed?)", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	char buf[512];
	size_t got = 0;
	ssize_t r;
	while ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0 ||
	       (r < 0 && errno == EINTR))
		if (r > 0 && (got += (size_t)r) == sizeof buf - 1)
			break;
	buf[got] = '\0';
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	snprintf(err, len, "'%s' failed: %s", line, got ? buf : "no message");
	pb_log(PB_LOG_WARN, "netem: %s", err);
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EPERM;
}

/* CAP_NET_ADMIN (bit 12) in the effective set, from /proc/self/status. */
static int have_net_admin(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long cap = 0;
	int found = 0;
	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &cap) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	return found ? (int)((cap >> 12) & 1) : geteuid() == 0;
}

int pb_netem_setup(struct pb_netns *n, const struct pb_link *l, char *why, size_t len)
{
	struct pb_netem_cmd cmds[12];
	char err[768];
	if (!have_net_admin()) {
		snprintf(why, len, "unavailable: making a network namespace needs root or "
			 "CAP_NET_ADMIN, which this process lacks");
		return -EPERM;
	}
	pb_netem_reap_stale();
	int k = pb_netem_setup_cmds(n, l, cmds, 12);
	for (int i = 0; i < k; i++) {
		int rc = pb_netem_run(&cmds[i], err, sizeof err);
		if (rc < 0) {
			int netem = !strcmp(cmds[i].arg[0], "tc");
			snprintf(why, len, "unavailable: %s%s", netem ?
				 "tc cannot add a netem qdisc (is the kernel's sch_netem module "
				 "there?): " : "", err);
			n->created = 1;   /* whatever was made goes */
			pb_netem_teardown(n);
			return rc;
		}
		n->created = 1;
	}
	return 0;
}

void pb_netem_teardown(struct pb_netns *n)
{
	struct pb_netem_cmd cmds[2];
	char err[768], path[64];
	if (!n || !n->created)
		return;
	n->created = 0;
	int k = pb_netem_teardown_cmds(n, cmds, 2);
	snprintf(path, sizeof path, "/sys/class/net/%s", n->veth_host);
	if (access(path, F_OK) == 0)
		pb_netem_run(&cmds[0], err, sizeof err);
	snprintf(path, sizeof path, NETNS_DIR "/%s", n->ns);
	if (k > 1 && access(path, F_OK) == 0)
		pb_netem_run(&cmds[1], err, sizeof err);
}

int pb_netns_enter(const struct pb_netns *n)
{
	char path[64];
	snprintf(path, sizeof path, NETNS_DIR "/%s", n->ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int pb_netem_reap(long tag)
{
	struct pb_netns n;
	char path[64];
	pb_netns_names(&n, tag);
	snprintf(path, sizeof path, NETNS_DIR "/%s", n.ns);
	int ns = access(path, F_OK) == 0;
	snprintf(path, sizeof path, "/sys/class/net/%s", n.veth_host);
	int veth = access(path, F_OK) == 0;
	if (!ns && !veth)
		return 0;
	pb_log(PB_LOG_WARN, "netem: the link of process %ld was left behind; removing it", tag);
	n.created = 1;
	pb_netem_teardown(&n);
	return 1;
}

int pb_netem_reap_stale(void)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *de;
	int removed = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, NS_PREFIX, strlen(NS_PREFIX)))
			continue;
		long tag = strtol(de->d_name + strlen(NS_PREFIX), &end, 10);
		if (*end || tag <= 0)
			continue;
		if (tag == (long)getpid())
			continue;
		if (kill((pid_t)tag, 0) == 0 || errno == EPERM) {
			pb_log(PB_LOG_WARN, "netem: namespace %s belongs to process %ld, which is "
			       "still running; left as it is", de->d_name, tag);
			continue;
		}
		removed += pb_netem_reap(tag);
	}
	closedir(d);
	return removed;
}

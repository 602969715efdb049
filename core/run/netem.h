/* core/run/netem.h — an emulated network link for a served cell (issue
 * 16, item 5): a network namespace for the server, joined to this one by
 * a veth pair with private /30 addresses (10.213.X.Y), both ends shaped
 * with tc netem (delay, jitter, loss, rate), all made and removed by the
 * run through `ip` and `tc` (iproute2) run by fork/exec, no shell.
 *
 * Names carry a tag (the cell process's pid), so concurrent cells never
 * share one and a leftover can be traced to its (dead) run:
 *   namespace pbnet-<tag>, veth pbh<tag> (here) and pbn<tag> (in it).
 * The command lines are built apart from running them, so they are
 * unit-tested without root.
 */
#ifndef PB_NETEM_H
#define PB_NETEM_H

#include <stddef.h>

#include "experiment/experiment.h"

#define PB_NETEM_ARGS 24

/* One command: argv[0] is the program ("ip" or "tc"). */
struct pb_netem_cmd {
	int argc;
	char arg[PB_NETEM_ARGS][48];
};

struct pb_netns {
	long tag;
	char ns[32];               /* pbnet-<tag> */
	char veth_host[16];        /* pbh<tag>, in this namespace (IFNAMSIZ 16) */
	char veth_ns[16];          /* pbn<tag>, in ns */
	char addr_host[24];        /* 10.213.X.(4k+1) */
	char addr_ns[24];          /* 10.213.X.(4k+2): where the server listens */
	int created;               /* setup made something: teardown has work */
};

/* Names and addresses for tag (> 0). */
void pb_netns_names(struct pb_netns *n, long tag);

/* The commands that build n and shape both ends with l, in order; returns
 * how many were written (at most max).  The netem commands come last. */
int pb_netem_setup_cmds(const struct pb_netns *n, const struct pb_link *l, struct pb_netem_cmd *cmds,
			int max);
/* The netem arguments for l after "... root": "netem delay 50ms 5ms loss
 * 1% rate 12mbit"; returns the count appended to c. */
int pb_netem_args(const struct pb_link *l, struct pb_netem_cmd *c);
/* The commands that remove n (veth first: it takes its peer; then the
 * namespace); returns how many. */
int pb_netem_teardown_cmds(const struct pb_netns *n, struct pb_netem_cmd *cmds, int max);
/* "ip -n pbnet-7 link set lo up": the command as one line (logs, tests). */
void pb_netem_cmd_text(const struct pb_netem_cmd *c, char *out, size_t len);

/* Run one command (fork/exec, no shell; the line is logged first).  0, or
 * -errno with its stderr (or why it could not run) in err. */
int pb_netem_run(const struct pb_netem_cmd *c, char *err, size_t len);

/* Make the link: namespace, veth, addresses, netem on both ends.  On
 * failure everything made so far is removed and why is written as
 * "unavailable: <reason>" (no privilege, no netem in the kernel, …). */
int pb_netem_setup(struct pb_netns *n, const struct pb_link *l, char *why, size_t len);
/* Remove what setup made; safe to call twice or after a failed setup. */
void pb_netem_teardown(struct pb_netns *n);
/* Move the calling process into n's namespace (the server's child, before
 * exec).  0 or -errno. */
int pb_netns_enter(const struct pb_netns *n);

/* Remove the link of tag if it is still there (the runner, after a cell's
 * process ended, whatever way it ended).  1 when something was removed. */
int pb_netem_reap(long tag);
/* Remove the links of runs whose process is gone (a crashed batch);
 * a link of a live process is left and reported.  Returns the number
 * removed. */
int pb_netem_reap_stale(void);

#endif

/* core/run/memlimit.h — the experiment's `memory_limit`, enforced on each
 * forked job (cell, reference, compression) and recognised when the job
 * dies of it.
 *
 * Two ways, chosen per job:
 *  - cgroup v2: when this process's cgroup (/proc/self/cgroup "0::PATH")
 *    delegates the memory controller to its children (memory listed in
 *    cgroup.subtree_control, folder writable), the parent makes
 *    PATH/prunebench-<pid>-<n> with memory.max (and memory.swap.max 0);
 *    the child moves itself in first thing.  The kernel counts what the
 *    process really uses (anonymous memory, page cache it dirties) and
 *    kills it on OOM; memory.events `oom_kill` says so afterwards.
 *  - else RLIMIT_AS in the child: an allocation past the limit fails
 *    (malloc returns NULL, a plugin returns -ENOMEM or crashes).  It
 *    limits address space, not use: thread stacks, malloc arenas and
 *    drivers' reservations count, and sanitizer builds reserve terabytes.
 *    The child reports its VmPeak over the status pipe when it fails
 *    (exit path and fatal-signal handler), and a failed job whose peak
 *    came within max(limit/8, 32 MiB) of the limit is counted as over it.
 */
#ifndef PB_RUN_MEMLIMIT_H
#define PB_RUN_MEMLIMIT_H

#include <limits.h>
#include <stdint.h>

enum pb_memlimit_how { PB_MEMLIMIT_NONE = 0, PB_MEMLIMIT_CGROUP, PB_MEMLIMIT_RLIMIT };

struct pb_memlimit {
	uint64_t bytes;               /* 0: no limit */
	enum pb_memlimit_how how;
	char cgroup[PATH_MAX];        /* the job's cgroup folder (CGROUP) */
};

/* Parent, before fork: choose how (make the job's cgroup when possible). */
void pb_memlimit_prepare(struct pb_memlimit *m, uint64_t bytes);
/* Child, first thing after fork: join the cgroup (falling back to
 * RLIMIT_AS, said on status_fd as "memlimit rlimit") or set RLIMIT_AS, and
 * arm the fatal-signal report. */
void pb_memlimit_enter(struct pb_memlimit *m, int status_fd);
/* Child, on its failure path: write "vmpeak <kB>" to status_fd. */
void pb_memlimit_report(int status_fd);
/* Parent: a status line from the child; 1 when it was one of ours. */
int pb_memlimit_status_line(struct pb_memlimit *m, const char *line, long long *vmpeak_kb);
/* Parent, after the job ended (failed: it did not exit 0): did it exceed
 * the limit?  Then removes the cgroup.  1 or 0. */
int pb_memlimit_finish(struct pb_memlimit *m, int failed, long long vmpeak_kb);
/* How the limit is enforced here, for `validate`: "cgroup v2 memory.max"
 * or "RLIMIT_AS (no cgroup v2 memory delegation here)". */
const char *pb_memlimit_how_here(void);

#endif

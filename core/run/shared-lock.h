/* core/run/shared-lock.h — a lock file for a results folder that several
 * nodes share (NFS, Lustre, BeeGFS), where flock(2) may be unsupported,
 * local to one client, or a silent no-op.
 *
 * The lock is <path>, made by link(2) from a unique file
 * <path>.<host>.<pid> that names its holder: link is atomic on every
 * shared filesystem (O_EXCL is not on NFSv2), and a holder confirms a
 * link whose reply was lost by the unique file's link count (liblockfile's
 * method).  While held, a thread touches the lock every few seconds; a
 * lock is stale when its holder is a dead process on this host, or when
 * it has not been touched for stale_s by the filesystem's own clock (so
 * skewed node clocks do not matter).  A stale lock is renamed away (one
 * breaker wins) and taken.
 *
 * The lock only saves duplicate work: whatever it guards must still be
 * published by rename into place, so that even two holders (a lock broken
 * under a holder that was merely frozen) cannot corrupt it.
 */
#ifndef PB_SHARED_LOCK_H
#define PB_SHARED_LOCK_H

#include <pthread.h>

struct pb_shared_lock {
	char path[4096];
	char unique[4096];
	pthread_t beat;
	int beating;
	double beat_s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

/* Wait until the lock at path is ours, or until ready(arg) says the thing
 * it guards exists (then nothing is held).  Returns 0 held, 1 ready, or
 * -errno with err filled. */
int pb_shared_lock_acquire(struct pb_shared_lock *l, const char *path, double stale_s,
			   int (*ready)(void *arg), void *arg, char *err, size_t len);
void pb_shared_lock_release(struct pb_shared_lock *l);

/* "<host>.<pid>" of this process, for unique temporary names. */
void pb_shared_lock_owner(char *out, size_t len);

/* Is name "<stem>.<host>.<pid>" with <host> this host and <pid> a process
 * that no longer exists?  Then *stem (when non-NULL) is the length of
 * <stem>.  Another host's names are never "dead": their pids mean nothing
 * here. */
int pb_owned_by_dead(const char *name, size_t *stem);

/* Leftovers of lock holders that were killed, in dir: unique files
 * <x><suffix>.<host>.<pid> and <x><suffix>.stale.<host>.<pid> of dead
 * processes on this host, and locks <x><suffix> whose holder is one.
 * Another host's files are left alone, whatever their age.  The number
 * removed, or -errno when dir cannot be read (a missing dir is 0). */
int pb_shared_lock_clean(const char *dir, const char *suffix);

#endif

/* core/run/shared-lock.c — a link(2)-based lock file with a heartbeat, for
 * folders on shared filesystems (see shared-lock.h for the protocol). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run/shared-lock.h"
#include "util/util.h"

void pb_shared_lock_owner(char *out, size_t len)
{
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) < 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	pb_sayf(out, len, "%s.%ld", host, (long)getpid());
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (time_t)(ms / 1e3) * 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *heartbeat(void *arg)
{
	struct pb_shared_lock *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double t = (double)until.tv_nsec / 1e9 + l->beat_s;
		until.tv_sec += (time_t)t;
		until.tv_nsec = (long)((t - (time_t)t) * 1e9);
		pthread_cond_timedwait(&l->cv, &l->mu, &until);
		if (!l->stop)
			utimensat(AT_FDCWD, l->path, NULL, 0);   /* "still here" */
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Is the holder named in the lock gone?  Same host: is its pid alive.
 * Elsewhere: has the lock gone untouched for stale_s, measured against
 * the mtime our own unique file just got from the same filesystem. */
static int is_stale(const struct pb_shared_lock *l, double stale_s)
{
	char *text = NULL, host[256], my[300];
	long pid = 0;
	struct stat ls, us;
	int stale = 0;

	if (pb_read_file(l->path, &text, NULL) < 0)
		return 0;    /* released meanwhile: just try again */
	pb_shared_lock_owner(my, sizeof my);
	*strrchr(my, '.') = '\0';
	if (sscanf(text, "%255s %ld", host, &pid) == 2 && !strcmp(host, my) && pid > 0 &&
	    kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		stale = 1;
	free(text);
	if (stale)
		return 1;
	if (utimensat(AT_FDCWD, l->unique, NULL, 0) < 0 || stat(l->unique, &us) < 0 ||
	    stat(l->path, &ls) < 0)
		return 0;
	double age = (double)(us.st_mtim.tv_sec - ls.st_mtim.tv_sec) +
		     (double)(us.st_mtim.tv_nsec - ls.st_mtim.tv_nsec) / 1e9;
	return age > stale_s;
}

static int write_unique(const char *path)
{
	char host[300], line[400], now[32];
	pb_shared_lock_owner(host, sizeof host);
	*strrchr(host, '.') = '\0';
	pb_iso8601_now(now, sizeof now);
	int n = snprintf(line, sizeof line, "%s %ld %s\n", host, (long)getpid(), now);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = write(fd, line, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* One attempt: 1 taken, 0 held by another, -errno. */
static int try_take(struct pb_shared_lock *l)
{
	struct stat st;
	if (link(l->unique, l->path) == 0)
		return 1;
	int e = errno;
	/* NFS: the link may have happened though its reply was lost */
	if (stat(l->unique, &st) == 0 && st.st_nlink == 2)
		return 1;
	if (e == EEXIST)
		return 0;
	if (e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK) {
		/* no hard links here (some FUSE mounts): O_EXCL, atomic on
		 * local filesystems and NFSv3+ */
		char *text = NULL;
		int fd = open(l->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno == EEXIST ? 0 : -errno;
		int rc = pb_read_file(l->unique, &text, NULL);
		if (rc == 0 && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
			rc = -EIO;
		free(text);
		close(fd);
		return rc < 0 ? rc : 1;
	}
	return -e;
}

int pb_shared_lock_acquire(struct pb_shared_lock *l, const char *path, double stale_s,
			   int (*ready)(void *arg), void *arg, char *err, size_t len)
{
	char owner[300];
	double wait_ms = 50;
	struct pb_rng rng;
	int rc;

	memset(l, 0, sizeof *l);
	pb_shared_lock_owner(owner, sizeof owner);
	if (snprintf(l->path, sizeof l->path, "%s", path) >= (int)sizeof l->path ||
	    snprintf(l->unique, sizeof l->unique, "%s.%s", path, owner) >= (int)sizeof l->unique)
		return pb_errf(err, len, -ENAMETOOLONG, "%s: path too long", path);
	/* each waiter its own jitter, also on nodes started in the same second */
	pb_rng_seed(&rng, pb_fnv1a64(owner, strlen(owner)) ^ (uint64_t)time(NULL));
	if ((rc = write_unique(l->unique)) < 0)
		return pb_errf(err, len, rc, "cannot create %s: %s", l->unique, strerror(-rc));
	for (;;) {
		if (ready && ready(arg)) {
			unlink(l->unique);
			return 1;
		}
		rc = try_take(l);
		if (rc < 0) {
			unlink(l->unique);
			return pb_errf(err, len, rc, "cannot take the lock %s: %s", path, strerror(-rc));
		}
		if (rc == 1)
			break;
		if (is_stale(l, stale_s)) {
			char broken[4200];
			pb_log(PB_LOG_WARN, "%s: breaking a stale lock (its holder died)", path);
			snprintf(broken, sizeof broken, "%s.stale.%s", path, owner);
			/* rename: of several breakers exactly one moves it */
			if (rename(path, broken) == 0)
				unlink(broken);
			continue;
		}
		/* jittered back-off, so waiters on many nodes do not poll in step */
		sleep_ms(wait_ms * (0.75 + 0.5 * pb_rng_uniform(&rng)));
		if (wait_ms < 500)
			wait_ms *= 1.5;
	}
	l->beat_s = stale_s / 4 > 0.05 ? stale_s / 4 : 0.05;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->beating = pthread_create(&l->beat, NULL, heartbeat, l) == 0;
	return 0;
}

void pb_shared_lock_release(struct pb_shared_lock *l)
{
	if (l->beating) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->beat, NULL);
		l->beating = 0;
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	/* Only our own lock: if it was broken as stale meanwhile, the file at
	 * path is another holder's.  The lock goes before the unique file. */
	char *mine = NULL, *now = NULL;
	if (pb_read_file(l->unique, &mine, NULL) == 0 && pb_read_file(l->path, &now, NULL) == 0 &&
	    !strcmp(mine, now))
		unlink(l->path);
	free(mine);
	free(now);
	unlink(l->unique);
}

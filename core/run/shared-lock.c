/* core/run/shared-lock.c — a link(2)-based lock file with a heartbeat, for
 * folders on shared filesystems (see shared-lock.h for the protocol). */
#include <dirent.h>
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

/* The host part of our owner name ("<host>" of "<host>.<pid>"). */
static void own_host(char *out, size_t len)
{
	pb_shared_lock_owner(out, len);
	*strrchr(out, '.') = '\0';
}

/* Gone, or a zombie: killed, but not yet reaped (by an init that may
 * never reap, in some containers); either way it holds nothing. */
static int pid_dead(long pid)
{
	char path[64], *stat = NULL;
	if (pid <= 0 || pid > 0x7fffffff)
		return 0;
	if (kill((pid_t)pid, 0) < 0)
		return errno == ESRCH;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (pb_read_file(path, &stat, NULL) < 0)
		return 0;
	const char *p = strrchr(stat, ')');   /* the name may hold anything */
	int zombie = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return zombie;
}

/* Moves the lock at path away and deletes it, with the unique file of its
 * holder when that was a dead process on this host.  rename: of several
 * breakers exactly one moves it.  only_dead: what was moved must be a dead
 * local holder's lock, else it is put back (another process broke and
 * took the lock between our look and our rename).  The number of files
 * removed. */
static int break_lock(const char *path, const char *owner, int only_dead)
{
	char broken[4200], holder[4400], *text = NULL, host[256], my[300];
	long pid = 0;
	int removed = 1;
	snprintf(broken, sizeof broken, "%s.stale.%s", path, owner);
	if (rename(path, broken) < 0)
		return 0;
	own_host(my, sizeof my);
	int dead = pb_read_file(broken, &text, NULL) == 0 &&
		   sscanf(text, "%255s %ld", host, &pid) == 2 && !strcmp(host, my) && pid_dead(pid);
	free(text);
	if (dead) {
		/* the holder's <path>.<host>.<pid>: nobody else will ever remove it */
		snprintf(holder, sizeof holder, "%s.%s.%ld", path, host, pid);
		removed += unlink(holder) == 0;
	} else if (only_dead) {
		removed = link(broken, path) == 0 ? 0 : 1;   /* fails only if taken again meanwhile */
	}
	unlink(broken);
	return removed;
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
			pb_log(PB_LOG_WARN, "%s: breaking a stale lock (its holder died)", path);
			break_lock(path, owner, 0);
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

int pb_owned_by_dead(const char *name, size_t *stem)
{
	char my[300];
	const char *dot = strrchr(name, '.');
	if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1) ||
	    strlen(dot + 1) > 10)
		return 0;
	own_host(my, sizeof my);
	size_t hl = strlen(my), base = (size_t)(dot - name);
	if (base < hl + 1 || name[base - hl - 1] != '.' || strncmp(name + base - hl, my, hl))
		return 0;
	if (!pid_dead(strtol(dot + 1, NULL, 10)))
		return 0;
	if (stem)
		*stem = base - hl - 1;
	return 1;
}

static int ends_with_n(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && !strncmp(s + n - m, suffix, m);
}

int pb_shared_lock_clean(const char *dir, const char *suffix)
{
	char path[4096], owner[300], my[300], host[256], *text;
	size_t sl = strlen(suffix), stem;
	long pid;
	int removed = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	pb_shared_lock_owner(owner, sizeof owner);
	own_host(my, sizeof my);
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (n[0] == '.' || pb_path_join(path, sizeof path, dir, n) < 0)
			continue;
		if (pb_owned_by_dead(n, &stem)) {
			/* <lock>.<host>.<pid> or <lock>.stale.<host>.<pid> */
			if (ends_with_n(n, stem, ".stale"))
				stem -= 6;
			if (stem > sl && ends_with_n(n, stem, suffix) && unlink(path) == 0)
				removed++;
			continue;
		}
		if (len <= sl || strcmp(n + len - sl, suffix))
			continue;
		/* a lock whose holder named in it is a dead process on this host */
		text = NULL;
		pid = 0;
		if (pb_read_file(path, &text, NULL) == 0 &&
		    sscanf(text, "%255s %ld", host, &pid) == 2 && !strcmp(host, my) && pid_dead(pid)) {
			pb_log(PB_LOG_INFO, "%s: removing the lock of a process that died", path);
			removed += break_lock(path, owner, 1);
		}
		free(text);
	}
	closedir(d);
	return removed;
}

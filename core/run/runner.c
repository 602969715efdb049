/* core/run/runner.c — the batch, in the parent: select cells, skip the done
 * ones, fork one child per cell with a time limit, turn every way a child
 * can end into a done or failed cell folder, report progress, and stop
 * cleanly on SIGINT/SIGTERM.
 *
 * Folder protocol: a child writes cells/<id>.tmp/; only the parent renames
 * it to cells/<id>/, after the child exited 0 (done) or after writing the
 * failure record (failed).  A stale .tmp (a killed batch) is removed before
 * the cell runs again, so nothing half-written is ever taken for done.
 * Many batches may share one results folder (the tasks of a Slurm array,
 * on several nodes): each touches only the folders of its own cells, and
 * a shard never writes the merged summary.csv.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/results.h"
#include "run/cell-record.h"
#include "run/progress.h"
#include "run/run.h"
#include "util/util.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

int pb_run_selected(const struct pb_experiment *e, const struct pb_cell *c,
		    const struct pb_run_opts *o)
{
	/* By position among the cells that exist (after include/exclude),
	 * not by matrix index: excluded cells must not leave shards empty. */
	long k = c - e->cells;
	if (o->cell_id && strcmp(o->cell_id, c->id))
		return 0;
	if (o->cell_list) {
		for (k = 0; k < o->n_cell_list; k++)
			if (!strcmp(o->cell_list[k], c->id))
				break;
		if (k == o->n_cell_list)
			return 0;
	}
	if (o->shard_n > 0 && k % o->shard_n != o->shard_i)
		return 0;
	return 1;
}

void pb_cell_list_free(char **ids, int n)
{
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int pb_cell_list_read(const struct pb_experiment *e, const char *path, char ***ids, int *n,
		      char *err, size_t len)
{
	char *buf = NULL, *save = NULL;
	char **v = NULL;
	int cap = 0, rc, line = 0;

	*ids = NULL;
	*n = 0;
	if ((rc = pb_read_file(path, &buf, NULL)) < 0)
		return pb_errf(err, len, rc, "%s: cannot read: %s", path, strerror(-rc));
	/* strtok_r would skip empty lines and lose the line numbers */
	for (char *s = buf, *nl; s && *s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		line++;
		char *hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		char *id = strtok_r(s, " \t\r", &save);
		if (!id)
			continue;
		if (strtok_r(NULL, " \t\r", &save)) {
			rc = pb_errf(err, len, -EINVAL, "%s:%d: expected one cell id per line", path, line);
			goto fail;
		}
		if (!pb_experiment_cell(e, id)) {
			rc = pb_errf(err, len, -EINVAL, "%s:%d: no cell '%s' in %s", path, line, id, e->file);
			goto fail;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				goto fail;
			}
			v = nv;
		}
		if (!(v[*n] = strdup(id))) {
			rc = -ENOMEM;
			goto fail;
		}
		(*n)++;
	}
	free(buf);
	*ids = v;
	return 0;
fail:
	if (rc == -ENOMEM)
		pb_errf(err, len, rc, "%s: out of memory", path);
	free(buf);
	pb_cell_list_free(v, *n);
	*n = 0;
	return rc;
}

/* The last `lines` lines of a file, malloc'd ("" when unreadable). */
static char *log_tail(const char *path, int lines)
{
	char *buf = NULL;
	size_t len = 0;
	if (pb_read_file(path, &buf, &len) < 0)
		return strdup("");
	size_t end = len;
	while (end > 0 && buf[end - 1] == '\n')
		end--;
	size_t start = end;
	for (int n = 0; start > 0; start--)
		if (buf[start - 1] == '\n' && ++n == lines)
			break;
	char *out = strndup(buf + start, end - start);
	free(buf);
	return out ? out : strdup("");
}

static void child_main(const struct pb_experiment *e, const struct pb_cell *c,
		       const char *tmp, int status_fd, pid_t parent)
{
	char path[4096];
	/* die with the batch: an orphan must never race a rerun of its cell */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(70);
	setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	pb_path_join(path, sizeof path, tmp, "run.log");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(71);
	fflush(stdout);
	fflush(stderr);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	setvbuf(stderr, NULL, _IOLBF, 0);
	int rc = pb_cell_execute(e, c, tmp, status_fd);
	fflush(stdout);
	fflush(stderr);
	_exit(rc == 0 ? 0 : 1);
}

struct child {
	pid_t pid;
	int status_fd;
	char phase[32];
	char partial[128];
	size_t partial_len;
};

/* Read "phase NAME" lines the child writes. */
static void drain_status(struct child *ch)
{
	char buf[256];
	ssize_t n;
	while ((n = read(ch->status_fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ch->partial_len < sizeof ch->partial - 1)
					ch->partial[ch->partial_len++] = buf[i];
				continue;
			}
			ch->partial[ch->partial_len] = '\0';
			if (!strncmp(ch->partial, "phase ", 6))
				snprintf(ch->phase, sizeof ch->phase, "%s", ch->partial + 6);
			ch->partial_len = 0;
		}
	}
}

static void describe_status(int status, const char *phase, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (%s) in phase %s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), phase);
	else if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d in phase %s", WEXITSTATUS(status), phase);
	else
		snprintf(out, len, "ended abnormally in phase %s", phase);
}

/* Run one cell; returns PB_CELL_DONE or PB_CELL_FAILED, or -errno when it
 * could not even start.  *stopped is set when a stop signal arrived. */
static int run_cell(const struct pb_experiment *e, const struct pb_cell *c,
		    const char *cells_dir, struct pb_progress *pg, int *stopped)
{
	char tmp[4096], final[4096], reason[1024] = "", start[32];
	int pipefd[2];
	struct child ch = { .status_fd = -1 };
	int status = 0, timed_out = 0;

	if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", cells_dir, c->id) >= (int)sizeof tmp ||
	    snprintf(final, sizeof final, "%s/%s", cells_dir, c->id) >= (int)sizeof final)
		return -ENAMETOOLONG;
	pb_rm_rf(tmp);
	pb_rm_rf(final);   /* a failed cell being retried, or --force */
	if (pb_mkdir_p(tmp) < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pb_iso8601_now(start, sizeof start);
	snprintf(ch.phase, sizeof ch.phase, "start");

	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	ch.pid = fork();
	if (ch.pid < 0) {
		int err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (ch.pid == 0) {
		close(pipefd[0]);
		child_main(e, c, tmp, pipefd[1], parent);
	}
	setpgid(ch.pid, ch.pid);
	close(pipefd[1]);
	ch.status_fd = pipefd[0];
	fcntl(ch.status_fd, F_SETFL, O_NONBLOCK);

	double t0 = pb_now_ms(), deadline = t0 + e->timeout_s * 1e3;
	for (;;) {
		struct pollfd p = { .fd = ch.status_fd, .events = POLLIN };
		poll(&p, 1, 100);
		drain_status(&ch);
		pid_t w = waitpid(ch.pid, &status, WNOHANG);
		if (w == ch.pid)
			break;
		if (stop_signal && !*stopped) {
			*stopped = 1;
			kill(-ch.pid, SIGTERM);
			deadline = pb_now_ms() + 2000;   /* then SIGKILL */
		}
		if (pb_now_ms() > deadline) {
			if (!*stopped)
				timed_out = 1;
			kill(-ch.pid, SIGKILL);
			waitpid(ch.pid, &status, 0);
			break;
		}
		pb_progress_cell(pg, c->id, ch.phase);
	}
	drain_status(&ch);
	close(ch.status_fd);
	kill(-ch.pid, SIGKILL);   /* anything the cell left behind */
	/* scancel, a Slurm time limit or preemption signal every process of
	 * the job, the cell's child included, and the child may die before
	 * our own SIGTERM is handled: that is an interrupted batch, not a
	 * failed cell, so give our signal a moment to arrive. */
	if (!*stopped && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) {
		for (int i = 0; i < 100 && !stop_signal; i++)
			usleep(10 * 1000);
		if (stop_signal)
			*stopped = 1;
	}

	if (*stopped) {
		/* interrupted: leave the .tmp for the next run to remove */
		return PB_CELL_PENDING;
	}
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		char manifest[4096];
		struct stat st;
		if (pb_path_join(manifest, sizeof manifest, tmp, "manifest.yaml") == 0 &&
		    stat(manifest, &st) == 0) {
			if (rename(tmp, final) < 0)
				return -errno;
			return PB_CELL_DONE;
		}
		snprintf(reason, sizeof reason, "exited 0 without writing its manifest");
	} else if (timed_out) {
		snprintf(reason, sizeof reason, "timeout after %g s in phase %s", e->timeout_s, ch.phase);
	} else {
		describe_status(status, ch.phase, reason, sizeof reason);
	}

	char logpath[4096];
	pb_path_join(logpath, sizeof logpath, tmp, "run.log");
	char *tail = log_tail(logpath, 20);
	pb_progress_failed(pg, c->id, reason, tail);
	int err = pb_cell_write_failed(e, c, tmp, reason, tail, start);
	free(tail);
	if (err < 0)
		return err;
	if (rename(tmp, final) < 0)
		return -errno;
	return PB_CELL_FAILED;
}

static int copy_experiment(const struct pb_experiment *e)
{
	char path[4096], *old = NULL;
	size_t len = 0;
	pb_path_join(path, sizeof path, e->output, "experiment.yaml");
	if (pb_read_file(path, &old, &len) == 0) {
		int same = len == e->yaml_len && !memcmp(old, e->yaml, len);
		free(old);
		if (!same)
			pb_log(PB_LOG_WARN, "%s differs from %s; cells already done keep the configuration "
			       "in their manifests, new cells use the new file", path, e->file);
		if (same)
			return 0;
	}
	/* Shards of one array start together on one shared folder: each
	 * writes its own temporary (pb_write_file's fixed "<path>.tmp" would
	 * be truncated and renamed away under another writer), then renames. */
	char tmp[4096];
	if (pb_path_join(tmp, sizeof tmp, e->output, ".experiment.yaml.XXXXXX") < 0)
		return -ENAMETOOLONG;
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0644);
	int rc = 0;
	for (size_t off = 0; off < e->yaml_len && !rc;) {
		ssize_t w = write(fd, e->yaml + off, e->yaml_len - off);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int pb_run_experiment(const struct pb_experiment *e, const struct pb_run_opts *o,
		      struct pb_run_stats *st)
{
	char cells_dir[4096], err[512];
	struct pb_progress pg;
	struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
	int rc, stopped = 0;

	memset(st, 0, sizeof *st);
	pb_wait_quiet_set(o->wait_quiet_s);   /* read by the forked cells (hostcond.h) */
	pb_path_join(cells_dir, sizeof cells_dir, e->output, "cells");

	const struct pb_cell **todo = calloc((size_t)e->n_cells + 1, sizeof *todo);
	if (!todo)
		return -ENOMEM;
	int n_todo = 0;
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		if (!pb_run_selected(e, c, o))
			continue;
		st->selected++;
		if (!o->force && pb_cell_status_read(cells_dir, c->id, NULL, 0) == PB_CELL_DONE) {
			st->skipped_done++;
			continue;
		}
		todo[n_todo++] = c;
	}

	if (o->dry_run) {
		for (int i = 0; i < n_todo; i++)
			printf("%s\n", todo[i]->id);
		printf("%d cells would run, %d already done\n", n_todo, st->skipped_done);
		free(todo);
		return 0;
	}
	if ((rc = pb_mkdir_p(cells_dir)) < 0 || (rc = copy_experiment(e)) < 0) {
		pb_log(PB_LOG_ERROR, "%s: %s", e->output, strerror(-rc));
		free(todo);
		return rc;
	}

	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	pb_progress_begin(&pg, o->progress, o->color, n_todo, st->skipped_done);
	rc = 0;
	for (int i = 0; i < n_todo && !stopped; i++) {
		if (stop_signal) {
			stopped = 1;
			break;
		}
		pb_progress_start(&pg, todo[i]->id);
		double t0 = pb_now_ms();
		int r = run_cell(e, todo[i], cells_dir, &pg, &stopped);
		double dt = pb_now_ms() - t0;
		if (r == PB_CELL_DONE) {
			st->ran++;
			st->done++;
			pb_progress_end(&pg, todo[i]->id, 1, dt);
		} else if (r == PB_CELL_FAILED) {
			st->ran++;
			st->failed++;
			pb_progress_end(&pg, todo[i]->id, 0, dt);
		} else if (r < 0) {
			pb_log(PB_LOG_ERROR, "cell %s could not run: %s", todo[i]->id, strerror(-r));
			st->failed++;
			rc = r;
			break;
		}
	}
	st->interrupted = stopped;
	pb_progress_finish(&pg, stopped ? "interrupted" : NULL);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	/* A shard (a Slurm array task) writes only its own cell folders: the
	 * shared summary.csv is left to the merge job that runs after every
	 * shard (`prunebench slurm`), so tasks never race on it. */
	if (st->ran > 0 && o->shard_n == 0 && pb_results_merge(e->output, err, sizeof err) < 0)
		pb_log(PB_LOG_ERROR, "merge: %s", err);
	free(todo);
	if (rc < 0)
		return rc;
	return st->failed || stopped ? 1 : 0;
}

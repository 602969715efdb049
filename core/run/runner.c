/* core/run/runner.c — the batch, in the parent: select cells, skip the done
 * ones, fork one child per cell with a time limit, turn every way a child
 * can end into a done or failed cell folder, report progress, and stop
 * cleanly on SIGINT/SIGTERM.
 *
 * Folder protocol: a child writes cells/<id>.tmp/; only the parent renames
 * it to cells/<id>/, after the child exited 0 (done) or after writing the
 * failure record (failed).  A stale .tmp (a killed batch) is removed before
 * the cell runs again, so nothing half-written is ever taken for done; the
 * stale .tmp of a cell that is complete, and the reference locks of killed
 * processes on this host, are removed when a batch starts.
 * A failed cell's reason names how the child ended, its phase and the
 * first error it logged (sent over the status pipe: "error MESSAGE").
 * Many batches may share one results folder (the tasks of a Slurm array,
 * on several nodes): each touches only the folders of its own cells, and
 * a shard never writes the merged summary.csv.  Which cells a batch runs
 * (--cell, --cell-list, --shard) is decided in select.c.
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
#include "run/memlimit.h"
#include "run/netem.h"
#include "run/progress.h"
#include "run/reference.h"
#include "run/rounds.h"
#include "run/run.h"
#include "util/util.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
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

/* The cell's first error, to the parent: one line on the status pipe
 * (again after each pb_log_first_error_rearm). */
static void send_first_error(const char *msg, void *ctx)
{
	char line[1100];
	int fd = *(const int *)ctx;
	int n = snprintf(line, sizeof line - 1, "error %s", msg);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	/* under PIPE_BUF: one atomic write; a parent that is gone is no matter */
	if (write(fd, line, (size_t)n) < 0)
		return;
}

static void child_main(const struct pb_experiment *e, const struct pb_cell *c,
		       const struct pb_cell_job *job, const char *tmp, int status_fd, pid_t parent,
		       struct pb_memlimit *ml)
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
	pb_memlimit_enter(ml, status_fd);
	static int fd_for_errors;
	fd_for_errors = status_fd;
	pb_log_on_first_error(send_first_error, &fd_for_errors);
	int rc = pb_cell_execute(e, c, job, tmp, status_fd);
	if (rc != 0 && ml->bytes)
		pb_memlimit_report(status_fd);   /* was it the limit? the parent decides */
	fflush(stdout);
	fflush(stderr);
	_exit(rc == 0 ? 0 : 1);
}

struct child {
	pid_t pid;
	int status_fd;
	char phase[32];
	char first_error[1024];   /* the child's first (fatal) error message, or "" */
	char partial[1100];
	size_t partial_len;
	struct pb_memlimit *ml;
	long long vmpeak_kb;          /* reported by a failing child under RLIMIT_AS */
};

/* Read "phase NAME" and "error MESSAGE" lines the child writes. */
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
			else if (!strncmp(ch->partial, "error ", 6))
				/* a later one replaces it only after the child said the
				 * earlier ones were not fatal (pb_log_first_error_rearm) */
				pb_sayf(ch->first_error, sizeof ch->first_error, "%s", ch->partial + 6);
			else if (ch->ml)
				pb_memlimit_status_line(ch->ml, ch->partial, &ch->vmpeak_kb);
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

enum { JOB_OK = 0, JOB_FAILED = 1, JOB_STOPPED = 2 };

/* Fork a child for one job of cell c, writing into tmp (created afresh),
 * and wait for it under the cell's time limit.  JOB_OK when it exited 0,
 * JOB_FAILED with reason filled, JOB_STOPPED when a stop signal arrived
 * (*stopped set), or -errno when it could not start. */
static int run_child(const struct pb_experiment *e, const struct pb_cell *c,
		     const struct pb_cell_job *job, const char *tmp, struct pb_progress *pg,
		     const char *label, int *stopped, char *reason, size_t rlen)
{
	int pipefd[2];
	struct pb_memlimit ml;
	struct child ch = { .status_fd = -1, .ml = &ml };
	int status = 0, timed_out = 0;

	pb_rm_rf(tmp);
	if (pb_mkdir_p(tmp) < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	snprintf(ch.phase, sizeof ch.phase, "start");

	pb_memlimit_prepare(&ml, e->memory_limit_bytes);
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	ch.pid = fork();
	if (ch.pid < 0) {
		int err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		pb_memlimit_finish(&ml, 0, 0);
		return err;
	}
	if (ch.pid == 0) {
		close(pipefd[0]);
		child_main(e, c, job, tmp, pipefd[1], parent, &ml);
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
		pb_progress_cell(pg, label, ch.phase);
	}
	drain_status(&ch);
	close(ch.status_fd);
	kill(-ch.pid, SIGKILL);   /* anything the cell left behind */
	if (c->backend->serve)    /* a served cell's link, when it could not remove it */
		pb_netem_reap((long)ch.pid);
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
	int exited_ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	int over = pb_memlimit_finish(&ml, !exited_ok && !timed_out && !*stopped, ch.vmpeak_kb);
	if (*stopped)
		return JOB_STOPPED;   /* leave the .tmp for the next run to remove */
	if (exited_ok)
		return JOB_OK;
	if (timed_out) {
		snprintf(reason, rlen, "timeout after %g s in phase %s", e->timeout_s, ch.phase);
	} else if (over) {
		char size[32], how[96];
		pb_size_format(ml.bytes, size, sizeof size);
		if (WIFSIGNALED(status))
			snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
		else
			snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
		snprintf(reason, rlen, "exceeded memory_limit %s in phase %s (%s, %s)", size,
			 ch.phase, ml.how == PB_MEMLIMIT_CGROUP ? "cgroup memory.max" : "RLIMIT_AS",
			 how);
	} else {
		describe_status(status, ch.phase, reason, rlen);
	}
	/* what went wrong in the child's own words: file, line, offset */
	size_t used = strlen(reason);
	if (ch.first_error[0] && used + 3 < rlen)
		pb_sayf(reason + used, rlen - used, ": %s", ch.first_error);
	return JOB_FAILED;
}

/* Turn tmp (a failed job's folder, run.log inside) into the failed cell
 * folder `final`.  PB_CELL_FAILED, also when the failure record could not
 * be written (a full disk): the cell failed all the same, so it is counted
 * (st->unrecorded, with the cause in st->unrecorded_why) and said; its
 * folder stays <id>.tmp, pending, and runs again next time. */
static int record_failed(const struct pb_experiment *e, const struct pb_cell *c, const char *tmp,
			 const char *final, const char *reason, const char *start,
			 struct pb_progress *pg, struct pb_run_stats *st)
{
	char logpath[4096];
	pb_path_join(logpath, sizeof logpath, tmp, "run.log");
	char *tail = log_tail(logpath, 20);
	pb_progress_failed(pg, c->id, reason, tail);
	int err = pb_cell_write_failed(e, c, tmp, reason, tail, start);
	free(tail);
	if (err == 0) {
		pb_rm_rf(final);
		if (rename(tmp, final) < 0)
			err = -errno;
	}
	if (err < 0) {
		pb_log(PB_LOG_ERROR, "cell %s: its failure record could not be written in %s: %s; "
		       "it stays pending and runs again next time", c->id, tmp, strerror(-err));
		if (!st->unrecorded++)
			pb_sayf(st->unrecorded_why, sizeof st->unrecorded_why, "%s", strerror(-err));
	}
	return PB_CELL_FAILED;
}

/* Where a cell's rounds live while it is measured (rounds.c). */
static int rounds_dir(char *out, size_t len, const char *cells_dir, const struct pb_cell *c)
{
	if (pb_path_join(out, len, cells_dir, c->id) < 0 || strlen(out) + 8 > len)
		return -ENAMETOOLONG;
	strcat(out, ".rounds");
	return 0;
}

static int has_manifest(const char *dir)
{
	char p[4096];
	struct stat st;
	return pb_path_join(p, sizeof p, dir, "manifest.yaml") == 0 && stat(p, &st) == 0;
}

/* The dense reference of c's model × dataset in a process of its own,
 * before any cell of the pair is measured, so that no measured cell's
 * memory or time includes it.  When it fails the cells compute it
 * themselves (and say why they could not). */
static int run_reference(const struct pb_experiment *e, const struct pb_cell *c,
			 const char *cells_dir, struct pb_progress *pg, int *stopped)
{
	char tmp[4400], reason[1024] = "";
	struct pb_cell_job job = { .kind = PB_JOB_REFERENCE, .round = 1, .n_rounds = 1 };
	if (e->score_tokens <= 0)
		return JOB_OK;
	if (snprintf(tmp, sizeof tmp, "%s/%s.reference.tmp", cells_dir, c->id) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int r = run_child(e, c, &job, tmp, pg, c->id, stopped, reason, sizeof reason);
	if (r == JOB_FAILED) {
		char logpath[4096];
		pb_path_join(logpath, sizeof logpath, tmp, "run.log");
		char *tail = log_tail(logpath, 5);
		pb_log(PB_LOG_WARN, "dense reference of %s × %s: %s; the cells will try again\n%s",
		       c->model->name, c->dataset->name, reason, tail ? tail : "");
		free(tail);
	}
	if (r != JOB_STOPPED)
		pb_rm_rf(tmp);
	return r < 0 ? r : (r == JOB_STOPPED ? JOB_STOPPED : JOB_OK);
}

/* One round of a cell.  With one round the cell folder is the round's;
 * with several, round k goes to <id>.rounds/r<k> and the last one pools
 * them into the cell folder.  Returns PB_CELL_DONE (cell complete),
 * PB_CELL_FAILED, PB_CELL_PENDING (more rounds to come, or stopped), or
 * -errno. */
static int run_round(const struct pb_experiment *e, const struct pb_cell *c, int round,
		     int position, const char *cells_dir, struct pb_progress *pg, int *stopped,
		     struct pb_run_stats *stats)
{
	char tmp[4400], final[4096], rdir[4096], reason[1024] = "", start[32], label[4200];
	struct pb_cell_job job = { .kind = PB_JOB_MEASURE, .round = round,
				   .n_rounds = e->rounds, .position = position };
	const int multi = e->rounds > 1;
	int r;

	pb_iso8601_now(start, sizeof start);
	if (snprintf(final, sizeof final, "%s/%s", cells_dir, c->id) >= (int)sizeof final ||
	    rounds_dir(rdir, sizeof rdir, cells_dir, c) < 0)
		return -ENAMETOOLONG;
	snprintf(label, sizeof label, multi ? "%s (round %d/%d)" : "%s", c->id, round, e->rounds);
	if (strlen(final) + 32 > sizeof tmp - 64)
		return -ENAMETOOLONG;
	if (!multi) {
		snprintf(tmp, sizeof tmp, "%s.tmp", final);
		pb_rm_rf(final);   /* a failed cell being retried, or --force */
	} else {
		if (pb_mkdir_p(rdir) < 0)
			return -errno;
		/* compression once for every round, in its own process; the
		 * dense chain too ("compressed" by no step), so that every chain
		 * of a block is measured from a model loaded the same way (a
		 * kept GGUF) and differs only in its weights; a remote cell
		 * (issue 16) has no model here to compress */
		if (!pb_backend_is_remote(c->backend->step.plugin->desc->ops)) {
			struct stat st;
			snprintf(job.compressed, sizeof job.compressed, "%s/compressed.gguf", rdir);
			if (stat(job.compressed, &st) < 0) {
				struct pb_cell_job cj = job;
				cj.kind = PB_JOB_COMPRESS;
				snprintf(tmp, sizeof tmp, "%s/compress.tmp", rdir);
				r = run_child(e, c, &cj, tmp, pg, label, stopped, reason, sizeof reason);
				if (r < 0 || r == JOB_STOPPED)
					return r < 0 ? r : PB_CELL_PENDING;
				if (r == JOB_FAILED) {
					char why[1200];
					snprintf(why, sizeof why, "compression (run once for all rounds): %s", reason);
					return record_failed(e, c, tmp, final, why, start, pg, stats);
				}
				/* its log stays with the rounds (rounds/compress.log) */
				char from[4500], to[4500];
				snprintf(from, sizeof from, "%s/run.log", tmp);
				snprintf(to, sizeof to, "%s/compress.log", rdir);
				rename(from, to);
				pb_rm_rf(tmp);
			}
		}
		if (snprintf(tmp, sizeof tmp, "%s/r%d.tmp", rdir, round) >= (int)sizeof tmp)
			return -ENAMETOOLONG;
	}

	r = run_child(e, c, &job, tmp, pg, label, stopped, reason, sizeof reason);
	if (r < 0)
		return r;
	if (r == JOB_STOPPED)
		return PB_CELL_PENDING;
	if (r == JOB_OK && !has_manifest(tmp)) {
		snprintf(reason, sizeof reason, "exited 0 without writing its manifest");
		r = JOB_FAILED;
	}
	if (r == JOB_FAILED) {
		if (multi) {
			char why[1200];
			snprintf(why, sizeof why, "round %d of %d: %s", round, e->rounds, reason);
			return record_failed(e, c, tmp, final, why, start, pg, stats);
		}
		return record_failed(e, c, tmp, final, reason, start, pg, stats);
	}
	if (!multi)
		return rename(tmp, final) < 0 ? -errno : PB_CELL_DONE;

	char rk[4400];
	snprintf(rk, sizeof rk, "%s/r%d", rdir, round);
	pb_rm_rf(rk);
	if (rename(tmp, rk) < 0)
		return -errno;
	for (int k = 1; k <= e->rounds; k++) {
		snprintf(rk, sizeof rk, "%s/r%d", rdir, k);
		if (!has_manifest(rk))
			return PB_CELL_PENDING;
	}
	/* every round is there: pool them into the cell folder */
	char err[900], inner[4500];
	snprintf(tmp, sizeof tmp, "%s.tmp", final);
	pb_rm_rf(tmp);
	if (pb_rounds_pool(rdir, e->rounds, tmp, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "cell %s: pooling its rounds: %s", c->id, err);
		snprintf(reason, sizeof reason, "pooling the rounds: %s", err);
		return record_failed(e, c, tmp, final, reason, start, pg, stats);
	}
	/* the rounds' folders go with it; the kept model is no longer needed */
	snprintf(rk, sizeof rk, "%s/compressed.gguf", rdir);
	unlink(rk);
	snprintf(rk, sizeof rk, "%s/compressed.gguf.targets", rdir);
	unlink(rk);
	snprintf(inner, sizeof inner, "%s/rounds", tmp);
	if (rename(rdir, inner) < 0 || rename(tmp, final) < 0)
		return -errno;
	return PB_CELL_DONE;
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

/* What killed batches leave behind, before any job of this batch starts,
 * in what this batch owns: the <id>.reference.tmp/ of its selected cells,
 * the <id>.tmp/ of those that are complete (a cell being written is never
 * complete: its folder appears only at the end; a pending cell's .tmp is
 * removed when the cell runs), and in reference/ the lock files and
 * temporary folders of processes on this host that no longer exist. */
static void remove_leftovers(const struct pb_experiment *e, const struct pb_run_opts *o,
			     const char *cells_dir)
{
	static const char *const suffix[] = { ".tmp", ".reference.tmp" };
	char path[4800];
	struct stat sb;
	int n = 0;
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		if (!pb_run_selected(e, c, o))
			continue;
		for (size_t k = 0; k < PB_ARRAY_LEN(suffix); k++) {
			snprintf(path, sizeof path, "%s/%s%s", cells_dir, c->id, suffix[k]);
			if (lstat(path, &sb) < 0 ||
			    (k == 0 && pb_cell_status_read(cells_dir, c->id, NULL, 0) == PB_CELL_PENDING))
				continue;
			if (pb_rm_rf(path) == 0)
				n++;
		}
	}
	int r = pb_reference_clean(e->output);
	if (r > 0)
		n += r;
	else if (r < 0)
		pb_log(PB_LOG_WARN, "%s/reference: %s", e->output, strerror(-r));
	if (n)
		pb_log(PB_LOG_INFO, "removed %d leftover%s of killed batches", n, n == 1 ? "" : "s");
}

int pb_run_experiment(const struct pb_experiment *e, const struct pb_run_opts *o,
		      struct pb_run_stats *st)
{
	char cells_dir[4096], err[2048];
	struct pb_progress pg;
	struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
	char stop_why[1200] = "", finish_why[1600] = "";
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
	remove_leftovers(e, o, cells_dir);

	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	pb_progress_begin(&pg, o->progress, o->color, n_todo * e->rounds, st->skipped_done);
	rc = 0;
	const struct pb_cell **order = calloc((size_t)n_todo + 1, sizeof *order);
	char *ended = calloc((size_t)n_todo + 1, 1);           /* cell done or failed this batch */
	char *ref_done = calloc((size_t)(e->n_models * e->n_datasets) + 1, 1);
	if (!order || !ended || !ref_done) {
		rc = -ENOMEM;
		goto loop_out;
	}
	/* a failed or forced multi-round cell starts again from its first round */
	for (int i = 0; i < n_todo && e->rounds > 1; i++) {
		char rdir[4096], final[4096];
		enum pb_cell_status s = pb_cell_status_read(cells_dir, todo[i]->id, NULL, 0);
		rounds_dir(rdir, sizeof rdir, cells_dir, todo[i]);
		pb_path_join(final, sizeof final, cells_dir, todo[i]->id);
		if (o->force || s == PB_CELL_FAILED) {
			pb_rm_rf(rdir);
			pb_rm_rf(final);
		}
	}
	for (int round = 1; round <= e->rounds && !stopped && rc == 0; round++) {
		if ((rc = pb_schedule_round(e, todo, n_todo, round, order)) < 0)
			break;
		for (int i = 0; o->reverse_order && i < n_todo / 2; i++) {
			const struct pb_cell *t = order[i];
			order[i] = order[n_todo - 1 - i];
			order[n_todo - 1 - i] = t;
		}
		for (int i = 0; i < n_todo && !stopped; i++) {
			const struct pb_cell *c = order[i];
			int ti = 0;
			while (todo[ti] != c)
				ti++;
			if (stop_signal) {
				stopped = 1;
				break;
			}
			if (ended[ti])
				continue;
			if (e->rounds > 1) {
				char rk[4400], rdir[4096];
				rounds_dir(rdir, sizeof rdir, cells_dir, c);
				snprintf(rk, sizeof rk, "%s/r%d", rdir, round);
				if (has_manifest(rk))
					continue;   /* done by an earlier, interrupted batch */
			}
			int pair = (int)(c->model - e->models) * e->n_datasets +
				   (int)(c->dataset - e->datasets);
			/* a remote cell (issue 16) loads no model: no dense reference */
			if (!ref_done[pair] && !pb_backend_is_remote(c->backend->step.plugin->desc->ops)) {
				int r = run_reference(e, c, cells_dir, &pg, &stopped);
				if (r < 0) {
					rc = r;
					break;
				}
				if (r == JOB_STOPPED)
					break;
				ref_done[pair] = 1;
			}
			char label[4200];
			snprintf(label, sizeof label, e->rounds > 1 ? "%s (round %d/%d)" : "%s", c->id,
				 round, e->rounds);
			pb_progress_start(&pg, label);
			double t0 = pb_now_ms();
			int r = run_round(e, c, round, i, cells_dir, &pg, &stopped, st);
			double dt = pb_now_ms() - t0;
			if (r == PB_CELL_DONE) {
				st->ran++;
				st->done++;
				ended[ti] = 1;
				pb_progress_end(&pg, label, 1, dt);
			} else if (r == PB_CELL_FAILED) {
				st->ran++;
				st->failed++;
				ended[ti] = 1;
				pb_progress_end(&pg, label, 0, dt);
			} else if (r == PB_CELL_PENDING && !stopped) {
				pb_progress_end(&pg, label, 1, dt);
			} else if (r < 0) {
				/* the batch cannot go on (no fork, no folder); this
				 * cell still counts, and the end says why we stopped */
				pb_log(PB_LOG_ERROR, "cell %s could not run: %s", c->id, strerror(-r));
				st->ran++;
				st->failed++;
				pb_progress_end(&pg, label, 0, dt);
				snprintf(stop_why, sizeof stop_why, "stopped: cell %s could not run: %s",
					 c->id, strerror(-r));
				rc = r;
				break;
			}
		}
	}
loop_out:
	free(order);
	free(ended);
	free(ref_done);
	st->interrupted = stopped;
	if (stopped)
		snprintf(stop_why, sizeof stop_why, "interrupted");
	if (st->unrecorded)
		snprintf(finish_why, sizeof finish_why, "%s%s%d failure%s could not be recorded: %s",
			 stop_why, stop_why[0] ? "; " : "", st->unrecorded,
			 st->unrecorded == 1 ? "" : "s", st->unrecorded_why);
	else
		snprintf(finish_why, sizeof finish_why, "%s", stop_why);
	pb_progress_finish(&pg, finish_why[0] ? finish_why : NULL);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	/* A shard (a Slurm array task) writes only its own cell folders: the
	 * shared summary.csv is left to the merge job that runs after every
	 * shard (`prunebench slurm`), so tasks never race on it. */
	if (st->ran > 0 && o->shard_n == 0 && pb_results_merge(e->output, err, sizeof err) < 0) {
		/* the summary is stale: the batch did not do its job */
		pb_log(PB_LOG_ERROR, "merge: %s (%s/summary.csv was not updated)", err, e->output);
		st->merge_failed = 1;
	}
	free(todo);
	if (rc < 0)
		return rc;
	return st->failed || stopped || st->merge_failed ? 1 : 0;
}

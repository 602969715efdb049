/* core/run/slurm.c — the texts of Slurm batch runs: the array and merge
 * scripts, the jobs.tsv record, squeue's output; and running sbatch or
 * squeue with their output captured (definitions in slurm.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pb-config.h"
#include "run/slurm.h"
#include "util/util.h"

void pb_shell_quote(FILE *f, const char *s)
{
	const char *p = s;
	for (; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_-./=:,+@%", *p))
			break;
	if (*s && !*p) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (p = s; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else
			fputc(*p, f);
	}
	fputc('\'', f);
}

/* #SBATCH --output=PATH; sbatch splits option lines at blanks unless
 * the value is in double quotes. */
static void sbatch_output(FILE *f, const char *dir, const char *pattern)
{
	const char *q = strpbrk(dir, " \t") ? "\"" : "";
	fprintf(f, "#SBATCH --output=%s%s/logs/%s%s\n", q, dir, pattern, q);
}

/* #SBATCH lines both jobs share: where they may run and who pays. */
static void common_sbatch(FILE *f, const struct pb_slurm_spec *o)
{
	if (o->partition[0])
		fprintf(f, "#SBATCH --partition=%s\n", o->partition);
	if (o->account[0])
		fprintf(f, "#SBATCH --account=%s\n", o->account);
	if (o->qos[0])
		fprintf(f, "#SBATCH --qos=%s\n", o->qos);
}

static int finish(FILE *f, char **buf, char **out)
{
	if (ferror(f)) {
		fclose(f);
		free(*buf);
		return -ENOMEM;
	}
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*out = *buf;
	return 0;
}

int pb_slurm_array_script(const struct pb_slurm_plan *p, char **out)
{
	const struct pb_slurm_spec *o = &p->opt;
	char *buf = NULL, now[32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*out = NULL;
	if (!f)
		return -ENOMEM;
	pb_iso8601_now(now, sizeof now);
	fprintf(f, "#!/bin/bash\n"
		"# Written by `prunebench slurm` (%s, %s) on %s.\n"
		"# %d cell%s of %s in %d array task%s; task i runs shard i/%d of the cells.\n"
		"#   submit: jid=$(sbatch --parsable %s/%s.sbatch) &&\n"
		"#           sbatch --dependency=afterany:$jid %s/%s.merge.sbatch\n",
		PB_VERSION, PB_GIT_REV, now, p->n_cells, p->n_cells == 1 ? "" : "s", p->experiment,
		p->n_tasks, p->n_tasks == 1 ? "" : "s", p->n_tasks, p->slurm_dir, p->tag,
		p->slurm_dir, p->tag);
	fprintf(f, "#SBATCH --job-name=%s\n", p->job_name);
	if (o->max_parallel > 0)
		fprintf(f, "#SBATCH --array=0-%d%%%d\n", p->n_tasks - 1, o->max_parallel);
	else
		fprintf(f, "#SBATCH --array=0-%d\n", p->n_tasks - 1);
	sbatch_output(f, p->slurm_dir, "%A_%a.out");
	fprintf(f, "#SBATCH --cpus-per-task=%d\n", o->cpus_per_task > 0 ? o->cpus_per_task : 1);
	common_sbatch(f, o);
	if (o->time[0])
		fprintf(f, "#SBATCH --time=%s\n", o->time);
	if (o->mem[0])
		fprintf(f, "#SBATCH --mem=%s\n", o->mem);
	for (int i = 0; i < o->n_sbatch_args; i++)
		fprintf(f, "#SBATCH %s\n", o->sbatch_args[i]);
	for (int i = 0; i < p->n_extra; i++)
		fprintf(f, "#SBATCH %s\n", p->extra[i]);
	fprintf(f, "set -u\n");
	for (int i = 0; i < o->n_setup; i++)
		fprintf(f, "%s\n", o->setup[i]);
	if (p->plugin_path && p->plugin_path[0]) {
		fprintf(f, "export PRUNEBENCH_PLUGIN_PATH=");
		pb_shell_quote(f, p->plugin_path);
		fputc('\n', f);
	}
	/* The shard count is the array's size when written, fixed here rather
	 * than read from SLURM_ARRAY_TASK_COUNT: resubmitting single indices
	 * (sbatch --array=4 this-file) must keep each index's cells. */
	fprintf(f, "shards=%d\n"
		"if [ \"${SLURM_ARRAY_TASK_COUNT:-$shards}\" != \"$shards\" ]; then\n"
		"\techo \"prunebench: note: array of ${SLURM_ARRAY_TASK_COUNT} tasks; running "
		"shard $SLURM_ARRAY_TASK_ID of the $shards this script was written for\" >&2\n"
		"fi\n"
		"echo \"prunebench: shard $SLURM_ARRAY_TASK_ID/$shards, job ${SLURM_JOB_ID:-?} "
		"(array ${SLURM_ARRAY_JOB_ID:-?}) on $(hostname), ${SLURM_CPUS_PER_TASK:-?} CPUs, "
		"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n", p->n_tasks);
	fprintf(f, "exec ");
	pb_shell_quote(f, p->exe);
	fprintf(f, " run --progress plain --shard \"$SLURM_ARRAY_TASK_ID/$shards\"");
	if (p->cells_file) {
		fprintf(f, " --cells ");
		pb_shell_quote(f, p->cells_file);
	}
	for (int i = 0; i < p->n_sets; i++) {
		fprintf(f, " --set ");
		pb_shell_quote(f, p->sets[i]);
	}
	fprintf(f, " -o ");
	pb_shell_quote(f, p->output);
	fputc(' ', f);
	pb_shell_quote(f, p->experiment);
	fputc('\n', f);
	return finish(f, &buf, out);
}

int pb_slurm_merge_script(const struct pb_slurm_plan *p, char **out)
{
	const struct pb_slurm_spec *o = &p->opt;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*out = NULL;
	if (!f)
		return -ENOMEM;
	fprintf(f, "#!/bin/bash\n"
		"# Written by `prunebench slurm`: after the array %s.sbatch ends (afterany),\n"
		"# rebuild %s/summary.csv from the cell folders and list the cells' status.\n",
		p->tag, p->output);
	fprintf(f, "#SBATCH --job-name=%s-merge\n", p->job_name);
	sbatch_output(f, p->slurm_dir, "%j-merge.out");
	fprintf(f, "#SBATCH --cpus-per-task=1\n");
	/* merging CSVs takes seconds; a short limit backfills early */
	fprintf(f, "#SBATCH --time=10\n");
	common_sbatch(f, o);
	fprintf(f, "set -u\n");
	for (int i = 0; i < o->n_setup; i++)
		fprintf(f, "%s\n", o->setup[i]);
	if (p->plugin_path && p->plugin_path[0]) {
		fprintf(f, "export PRUNEBENCH_PLUGIN_PATH=");
		pb_shell_quote(f, p->plugin_path);
		fputc('\n', f);
	}
	fprintf(f, "rc=0\n");
	pb_shell_quote(f, p->exe);
	fprintf(f, " merge ");
	pb_shell_quote(f, p->output);
	fprintf(f, " || rc=$?\n");
	pb_shell_quote(f, p->exe);
	fprintf(f, " status --no-squeue");
	for (int i = 0; i < p->n_sets; i++) {
		fprintf(f, " --set ");
		pb_shell_quote(f, p->sets[i]);
	}
	fprintf(f, " -o ");
	pb_shell_quote(f, p->output);
	fputc(' ', f);
	pb_shell_quote(f, p->experiment);
	fprintf(f, " || true\nexit $rc\n");
	return finish(f, &buf, out);
}

int pb_slurm_exec(const char *const *argv, char **out)
{
	int pfd[2], err_pfd[2], status;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* the child reports a failed exec through a second pipe */
	if (pipe2(err_pfd, O_CLOEXEC) < 0) {
		int e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		close(err_pfd[0]);
		close(err_pfd[1]);
		return e;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		int e = errno;
		if (write(err_pfd[1], &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	close(err_pfd[1]);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t n = read(pfd[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	int exec_errno = 0;
	ssize_t got = read(err_pfd[0], &exec_errno, sizeof exec_errno);
	close(err_pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof exec_errno) {
		free(buf);
		return -(exec_errno ? exec_errno : ENOENT);
	}
	if (!buf) {
		return -ENOMEM;
	}
	buf[len] = '\0';
	*out = buf;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

long pb_slurm_parse_jobid(const char *text)
{
	char *end;
	while (*text == ' ' || *text == '\n')
		text++;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || v <= 0 || (*end && *end != ';' && *end != '\n'))
		return -1;
	return v;
}

static int field(char **p, char *out, size_t len)
{
	char *bar = strchr(*p, '|');
	size_t n = bar ? (size_t)(bar - *p) : strlen(*p);
	snprintf(out, len, "%.*s", (int)n, *p);
	*p = bar ? bar + 1 : *p + n;
	return bar != NULL;
}

int pb_slurm_parse_squeue(const char *text, struct pb_slurm_task **out, int *n)
{
	struct pb_slurm_task *v = NULL;
	int cap = 0;
	char *copy = strdup(text ? text : ""), *save = NULL;

	*out = NULL;
	*n = 0;
	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char a[32], k[32], j[32], *end;
		struct pb_slurm_task t = { 0 };
		char *p = line;
		if (!field(&p, a, sizeof a) || !field(&p, k, sizeof k) || !field(&p, j, sizeof j) ||
		    !field(&p, t.state, sizeof t.state) || !field(&p, t.time, sizeof t.time))
			continue;
		field(&p, t.where, sizeof t.where);
		t.array_job = strtol(a, &end, 10);
		if (*end || t.array_job <= 0)
			continue;
		t.job = strtol(j, &end, 10);
		if (*end || t.job <= 0)
			continue;
		t.task = -1;
		if (strcmp(k, "N/A")) {
			long tv = strtol(k, &end, 10);
			if (*end || tv < 0 || tv > 100000000)
				continue;   /* "[2-5%2]": squeue without -r */
			t.task = (int)tv;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct pb_slurm_task *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				free(v);
				free(copy);
				*n = 0;
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = t;
	}
	free(copy);
	*out = v;
	return 0;
}

int pb_slurm_squeue(struct pb_slurm_task **out, int *n, char *why, size_t len)
{
	static const char *const argv[] = {
		"squeue", "--me", "--noheader", "--array", "--format", PB_SQUEUE_FORMAT, NULL,
	};
	char *text = NULL;
	*out = NULL;
	*n = 0;
	int rc = pb_slurm_exec(argv, &text);
	if (rc == -ENOENT)
		return pb_errf(why, len, rc, "squeue is not installed here");
	if (rc < 0)
		return pb_errf(why, len, rc, "cannot run squeue: %s", strerror(-rc));
	if (rc > 0) {
		free(text);
		return pb_errf(why, len, -EIO, "squeue failed (exit status %d)", rc);
	}
	rc = pb_slurm_parse_squeue(text, out, n);
	free(text);
	return rc;
}

int pb_slurm_record_append(const char *slurm_dir, const struct pb_slurm_record *r)
{
	char path[4096], line[4096 + 256];
	if (pb_path_join(path, sizeof path, slurm_dir, "jobs.tsv") < 0)
		return -ENAMETOOLONG;
	int n = snprintf(line, sizeof line, "%ld\t%ld\t%s\t%d\t%s\t%s\n", r->array_job, r->merge_job,
			 r->tag, r->n_tasks, r->cells_file[0] ? r->cells_file : "-", r->submitted);
	if (n < 0 || (size_t)n >= sizeof line)
		return -ENAMETOOLONG;
	/* one write of one line with O_APPEND: submissions never interleave */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = write(fd, line, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

int pb_slurm_records_read(const char *slurm_dir, struct pb_slurm_record **out, int *n)
{
	char path[4096], *buf = NULL, *save = NULL;
	struct pb_slurm_record *v = NULL;
	int cap = 0, rc;

	*out = NULL;
	*n = 0;
	if (pb_path_join(path, sizeof path, slurm_dir, "jobs.tsv") < 0)
		return -ENAMETOOLONG;
	if ((rc = pb_read_file(path, &buf, NULL)) < 0)
		return rc == -ENOENT ? 0 : rc;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct pb_slurm_record r = { 0 };
		char *f[6], *s2 = NULL, *p = line;
		int k = 0;
		for (char *t = strtok_r(p, "\t", &s2); t && k < 6; t = strtok_r(NULL, "\t", &s2))
			f[k++] = t;
		if (k < 5)
			continue;
		r.array_job = strtol(f[0], NULL, 10);
		r.merge_job = strtol(f[1], NULL, 10);
		snprintf(r.tag, sizeof r.tag, "%s", f[2]);
		r.n_tasks = (int)strtol(f[3], NULL, 10);
		snprintf(r.cells_file, sizeof r.cells_file, "%s", strcmp(f[4], "-") ? f[4] : "");
		if (k > 5)
			snprintf(r.submitted, sizeof r.submitted, "%s", f[5]);
		if (r.array_job <= 0 || r.n_tasks <= 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct pb_slurm_record *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				free(v);
				free(buf);
				*n = 0;
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = r;
	}
	free(buf);
	*out = v;
	return 0;
}

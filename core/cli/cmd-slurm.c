/* core/cli/cmd-slurm.c — `slurm` and `status`: an experiment as a Slurm job
 * array (one shard of the cells per task) plus a dependent merge job, and
 * where its cells stand, from the results folder and from squeue.
 *
 * Resubmission (--only-failed) writes the failed and missing cells into a
 * cell list and shards over exactly those; cells that a task still in the
 * queue will run are left out, so nothing runs twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiment/experiment.h"
#include "results/results.h"
#include "run/run.h"
#include "run/slurm.h"
#include "util/util.h"

struct slurm_args {
	const char *file;
	const char *sets[64];
	int n_sets;
	const char *output;
	const char *partition, *account, *qos, *time, *mem;
	int cpus, max_parallel, tasks;
	int only_failed, submit, no_squeue;
	const char *const *extra;     /* after `--` */
	int n_extra;
};

/* What squeue says about the experiment's cells: for each cell (by index
 * in e->cells) the array task that will run it, when one is queued. */
struct queue_view {
	int ok;                       /* squeue answered */
	char why[256];
	struct pb_slurm_task *tasks;
	int n_tasks;
	struct pb_slurm_record *recs;
	int n_recs;
	const struct pb_slurm_task **cell_task;   /* n_cells */
};

static void usage(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "status")) {
		fprintf(f, "usage: prunebench status EXP.yaml [-o DIR] [--set PATH=VALUE] [--no-squeue]\n\n"
			"Done, failed, running and pending cells from the results folder, and the\n"
			"array tasks of `prunebench slurm --submit` still in Slurm's queue (squeue).\n");
		return;
	}
	fprintf(f, "usage: prunebench slurm EXP.yaml [options] [-- extra sbatch options]\n\n"
		"Write <output>/slurm/run.sbatch, a job array with one shard of the cells per\n"
		"task, and run.merge.sbatch, which rebuilds summary.csv after the array ends.\n"
		"Defaults come from the experiment's `slurm:` block; flags override them.\n\n"
		"  --partition P        --account A        --qos Q\n"
		"  --time T             per task: minutes, H:MM:SS or D-HH:MM:SS\n"
		"  --mem M              per task, e.g. 8G\n"
		"  --cpus-per-task N    CPUs per task (default 1); backends' threads follow it\n"
		"  --tasks N            array size (default: one task per cell)\n"
		"  --max-parallel K     at most K tasks at once (--array=0-(n-1)%%K)\n"
		"  --only-failed        only the failed and missing cells (resubmission)\n"
		"  --submit             submit with sbatch and print the job ids\n"
		"  --set PATH=VALUE     override a setting (repeatable; passed on to the tasks)\n"
		"  -o, --output DIR     results folder (default: the experiment's `output`);\n"
		"                       on a cluster, a filesystem every node mounts\n");
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "prunebench: --%s %s: expected an integer between %d and %d\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* 0 ok, 2 usage error, -1 --help given */
static int parse_args(int argc, char **argv, struct slurm_args *a)
{
	static const struct option longopts[] = {
		{ "set", required_argument, 0, 's' },
		{ "output", required_argument, 0, 'o' },
		{ "partition", required_argument, 0, 'P' },
		{ "account", required_argument, 0, 'A' },
		{ "qos", required_argument, 0, 'Q' },
		{ "time", required_argument, 0, 't' },
		{ "mem", required_argument, 0, 'm' },
		{ "cpus-per-task", required_argument, 0, 'c' },
		{ "tasks", required_argument, 0, 'n' },
		{ "max-parallel", required_argument, 0, 'k' },
		{ "only-failed", no_argument, 0, 'F' },
		{ "submit", no_argument, 0, 'S' },
		{ "no-squeue", no_argument, 0, 'N' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int status = !strcmp(argv[0], "status"), opt, nopt = argc;

	memset(a, 0, sizeof *a);
	/* everything after `--` goes to sbatch untouched */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			nopt = i;
			a->extra = (const char *const *)argv + i + 1;
			a->n_extra = argc - i - 1;
			break;
		}
	if (status && a->extra) {
		usage(stderr, argv[0]);
		return 2;
	}
	optind = 1;
	while ((opt = getopt_long(nopt, argv, "o:h", longopts, NULL)) != -1) {
		if (status && !strchr("soNh", opt))
			opt = '?';
		switch (opt) {
		case 's':
			if (a->n_sets == (int)PB_ARRAY_LEN(a->sets) || !strchr(optarg, '=')) {
				fprintf(stderr, "prunebench: --set %s: expected PATH=VALUE\n", optarg);
				return 2;
			}
			a->sets[a->n_sets++] = optarg;
			break;
		case 'o': a->output = optarg; break;
		case 'P': a->partition = optarg; break;
		case 'A': a->account = optarg; break;
		case 'Q': a->qos = optarg; break;
		case 't': a->time = optarg; break;
		case 'm': a->mem = optarg; break;
		case 'c': if (parse_int("cpus-per-task", optarg, 1, 4096, &a->cpus) < 0) return 2; break;
		case 'n': if (parse_int("tasks", optarg, 1, 1000000, &a->tasks) < 0) return 2; break;
		case 'k': if (parse_int("max-parallel", optarg, 1, 1000000, &a->max_parallel) < 0) return 2; break;
		case 'F': a->only_failed = 1; break;
		case 'S': a->submit = 1; break;
		case 'N': a->no_squeue = 1; break;
		case 'h':
			usage(stdout, argv[0]);
			return -1;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != nopt - 1) {
		usage(stderr, argv[0]);
		return 2;
	}
	a->file = argv[optind];
	return 0;
}

static struct pb_experiment *load(const struct slurm_args *a, char *abs_out, size_t len)
{
	struct pb_registry *reg = pb_cli_registry();
	struct pb_experiment *e = NULL;
	char err[2048], cwd[PATH_MAX];
	if (!reg)
		return NULL;
	if (pb_experiment_load(a->file, reg, a->sets, a->n_sets, &e, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	if (a->output)
		snprintf(e->output, sizeof e->output, "%s", a->output);
	/* tasks start in the submit folder, but an absolute path also reads
	 * right in logs and scripts moved elsewhere */
	if (e->output[0] == '/' || !getcwd(cwd, sizeof cwd))
		snprintf(abs_out, len, "%s", e->output);
	else if (pb_path_join(abs_out, len, cwd, e->output) < 0) {
		fprintf(stderr, "prunebench: %s: path too long\n", e->output);
		pb_experiment_free(e);
		return NULL;
	}
	return e;
}

static void queue_free(struct queue_view *q)
{
	free(q->tasks);
	free(q->recs);
	free(q->cell_task);
	memset(q, 0, sizeof *q);
}

static int by_job(const void *a, const void *b)
{
	const struct pb_slurm_task *x = a, *y = b;
	if (x->array_job != y->array_job)
		return x->array_job < y->array_job ? -1 : 1;
	return x->task - y->task;
}

/* Map every queued array task of a recorded submission to its cells. */
static void queue_read(struct queue_view *q, const struct pb_experiment *e, const char *slurm_dir)
{
	memset(q, 0, sizeof *q);
	q->cell_task = calloc((size_t)e->n_cells + 1, sizeof *q->cell_task);
	if (!q->cell_task)
		return;
	if (pb_slurm_squeue(&q->tasks, &q->n_tasks, q->why, sizeof q->why) < 0)
		return;
	q->ok = 1;
	if (q->n_tasks > 1)
		qsort(q->tasks, (size_t)q->n_tasks, sizeof *q->tasks, by_job);
	if (pb_slurm_records_read(slurm_dir, &q->recs, &q->n_recs) < 0)
		return;
	for (int r = 0; r < q->n_recs; r++) {
		const struct pb_slurm_record *rec = &q->recs[r];
		struct pb_run_opts o = { .shard_n = rec->n_tasks };
		char err[512];
		if (rec->cells_file[0] &&
		    pb_cell_list_read(e, rec->cells_file, &o.cell_list, &o.n_cell_list, err, sizeof err) < 0) {
			pb_log(PB_LOG_WARN, "%s", err);
			continue;
		}
		for (int t = 0; t < q->n_tasks; t++) {
			const struct pb_slurm_task *tk = &q->tasks[t];
			if (tk->array_job != rec->array_job || tk->task < 0)
				continue;
			o.shard_i = tk->task % rec->n_tasks;
			for (int i = 0; i < e->n_cells; i++)
				if (pb_run_selected(e, &e->cells[i], &o))
					q->cell_task[i] = tk;
		}
		pb_cell_list_free(o.cell_list, o.n_cell_list);
	}
}

static int is_running(const struct pb_slurm_task *t)
{
	return !strcmp(t->state, "RUNNING") || !strcmp(t->state, "COMPLETING");
}

int pb_cmd_status(int argc, char **argv)
{
	struct slurm_args a;
	struct queue_view q = { 0 };
	char out[PATH_MAX], cells_dir[PATH_MAX + 8], slurm_dir[PATH_MAX + 8], reason[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct pb_experiment *e = load(&a, out, sizeof out);
	if (!e)
		return 1;
	snprintf(cells_dir, sizeof cells_dir, "%s/cells", out);
	snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", out);
	if (!a.no_squeue)
		queue_read(&q, e, slurm_dir);

	int n_done = 0, n_failed = 0, n_running = 0, n_queued = 0, n_pending = 0;
	printf("%s: %d cells in %s\n", e->name, e->n_cells, out);
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		const struct pb_slurm_task *t = q.cell_task ? q.cell_task[i] : NULL;
		enum pb_cell_status s = pb_cell_status_read(cells_dir, c->id, reason, sizeof reason);
		char tmp[PATH_MAX + 640];
		struct stat st;
		if (s == PB_CELL_DONE) {
			n_done++;
			printf("  done     %s\n", c->id);
		} else if (t) {
			/* a failed cell a queued task will retry counts as that task's */
			int run = is_running(t);
			run ? n_running++ : n_queued++;
			printf("  %-8s %s  (array task %ld_%d, %s %s%s%s)\n", run ? "running" : "queued",
			       c->id, t->array_job, t->task, t->state, run ? t->time : "",
			       run ? " on " : "", t->where);
		} else if (s == PB_CELL_FAILED) {
			n_failed++;
			printf("  failed   %s  %s\n", c->id, reason);
		} else {
			n_pending++;
			snprintf(tmp, sizeof tmp, "%s/%s.tmp", cells_dir, c->id);
			printf("  pending  %s%s\n", c->id, stat(tmp, &st) == 0 ?
			       "  (a .tmp folder is left from a run that stopped; it is redone)" : "");
		}
	}
	printf("%d done, %d failed, %d running, %d queued, %d pending\n", n_done, n_failed,
	       n_running, n_queued, n_pending);
	if (!a.no_squeue && !q.ok) {
		printf("slurm: %s; the results folder alone is shown\n", q.why);
	} else if (!a.no_squeue) {
		int shown = 0;
		for (int r = 0; r < q.n_recs; r++)
			for (int t = 0; t < q.n_tasks; t++) {
				const struct pb_slurm_task *tk = &q.tasks[t];
				int merge = tk->job == q.recs[r].merge_job;
				if (tk->array_job != q.recs[r].array_job && !merge)
					continue;
				if (!shown++)
					printf("slurm jobs in the queue:\n");
				if (merge)
					printf("  %ld        merge of %s  %s %s\n", tk->job, q.recs[r].tag,
					       tk->state, tk->where);
				else
					printf("  %ld_%-6d %s shard %d/%d  %s %s %s\n", tk->array_job, tk->task,
					       q.recs[r].tag, tk->task, q.recs[r].n_tasks, tk->state, tk->time,
					       tk->where);
			}
		if (!shown)
			printf("slurm: no job of this experiment's submissions (%s/jobs.tsv) is in the queue\n",
			       slurm_dir);
	}
	queue_free(&q);
	pb_experiment_free(e);
	return 0;
}

/* The flags over the experiment's `slurm:` block; -1 on a bad value. */
static int resolve(const struct slurm_args *a, const struct pb_experiment *e,
		   struct pb_slurm_spec *o)
{
	*o = e->slurm;   /* the lists stay e's */
	struct { const char *flag, *val; char *dst; size_t len; } strs[] = {
		{ "partition", a->partition, o->partition, sizeof o->partition },
		{ "account", a->account, o->account, sizeof o->account },
		{ "qos", a->qos, o->qos, sizeof o->qos },
		{ "time", a->time, o->time, sizeof o->time },
		{ "mem", a->mem, o->mem, sizeof o->mem },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(strs); i++) {
		const char *v = strs[i].val;
		if (!v)
			continue;
		int bad = !v[0] || strlen(v) >= strs[i].len || strpbrk(v, " \t\n'\"\\$`;");
		if (!strcmp(strs[i].flag, "time"))
			bad |= !pb_slurm_time_ok(v);
		if (!strcmp(strs[i].flag, "mem"))
			bad |= !pb_slurm_mem_ok(v);
		if (bad) {
			fprintf(stderr, "prunebench: --%s '%s': not a valid value%s\n", strs[i].flag, v,
				!strcmp(strs[i].flag, "time") ? " (minutes, H:MM:SS or D-HH:MM:SS)" :
				!strcmp(strs[i].flag, "mem") ? " (e.g. 8G, 500M)" : "");
			return -1;
		}
		snprintf(strs[i].dst, strs[i].len, "%s", v);
	}
	if (a->cpus)
		o->cpus_per_task = a->cpus;
	if (!o->cpus_per_task)
		o->cpus_per_task = 1;
	if (a->max_parallel)
		o->max_parallel = a->max_parallel;
	if (a->tasks)
		o->tasks = a->tasks;
	return 0;
}

/* The cells to resubmit: neither done nor in a queued task's shard. */
static int failed_cells(const struct pb_experiment *e, const char *out, FILE *list, int *n)
{
	char cells_dir[PATH_MAX + 8], slurm_dir[PATH_MAX + 8];
	struct queue_view q;
	int busy = 0;
	snprintf(cells_dir, sizeof cells_dir, "%s/cells", out);
	snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", out);
	queue_read(&q, e, slurm_dir);
	if (!q.ok)
		fprintf(stderr, "prunebench: warning: %s: cannot see which cells queued tasks "
			"still hold; a cell such a task runs could run twice\n", q.why);
	*n = 0;
	for (int i = 0; i < e->n_cells; i++) {
		const struct pb_cell *c = &e->cells[i];
		if (pb_cell_status_read(cells_dir, c->id, NULL, 0) == PB_CELL_DONE)
			continue;
		if (q.cell_task && q.cell_task[i]) {
			busy++;
			continue;
		}
		fprintf(list, "%s\n", c->id);
		(*n)++;
	}
	if (busy)
		fprintf(stderr, "prunebench: %d unfinished cell%s left to the array tasks still in the "
			"queue (see 'prunebench status')\n", busy, busy == 1 ? "" : "s");
	queue_free(&q);
	return 0;
}

static int write_script(const char *path, const char *text)
{
	int rc = pb_write_file(path, text, strlen(text));
	if (rc == 0 && chmod(path, 0755) < 0)
		rc = -errno;
	if (rc < 0)
		fprintf(stderr, "prunebench: %s: %s\n", path, strerror(-rc));
	return rc;
}

/* sbatch --parsable [args] script; the job id or -1. */
static long sbatch(const char *dependency, const char *script)
{
	const char *argv[8] = { "sbatch", "--parsable" };
	char dep[64], *text = NULL;
	int k = 2;
	if (dependency) {
		snprintf(dep, sizeof dep, "--dependency=afterany:%s", dependency);
		argv[k++] = dep;
	}
	argv[k++] = script;
	argv[k] = NULL;
	int rc = pb_slurm_exec(argv, &text);
	long id = rc == 0 ? pb_slurm_parse_jobid(text) : -1;
	if (rc == -ENOENT)
		fprintf(stderr, "prunebench: sbatch is not installed here (Slurm's client tools); "
			"submit %s on a login node\n", script);
	else if (rc < 0)
		fprintf(stderr, "prunebench: cannot run sbatch: %s\n", strerror(-rc));
	else if (rc > 0)
		fprintf(stderr, "prunebench: sbatch %s failed (exit status %d)\n", script, rc);
	else if (id < 0)
		fprintf(stderr, "prunebench: sbatch printed no job id: '%s'\n", text ? text : "");
	free(text);
	return id;
}

int pb_cmd_slurm(int argc, char **argv)
{
	struct slurm_args a;
	struct pb_slurm_plan p = { 0 };
	char out[PATH_MAX], dir[PATH_MAX + 8], logs[PATH_MAX + 16], exe[PATH_MAX], xp[PATH_MAX];
	char cells[PATH_MAX + 96], tag[64], script[PATH_MAX + 96], merge[PATH_MAX + 96];
	char *text = NULL, job_name[PB_NAME_MAX + 8];
	int rc = parse_args(argc, argv, &a), n = 0;
	if (rc)
		return rc < 0 ? 0 : rc;
	struct pb_experiment *e = load(&a, out, sizeof out);
	if (!e)
		return 1;
	rc = 1;
	if (resolve(&a, e, &p.opt) < 0)
		goto out;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0 || !realpath(a.file, xp)) {
		fprintf(stderr, "prunebench: cannot resolve the absolute paths of prunebench and %s\n",
			a.file);
		goto out;
	}
	exe[len] = '\0';
	snprintf(dir, sizeof dir, "%s/slurm", out);
	snprintf(logs, sizeof logs, "%s/logs", dir);
	snprintf(cells, sizeof cells, "%s/cells", out);
	int err = pb_mkdir_p(logs) ?: pb_mkdir_p(cells);
	if (err < 0) {
		fprintf(stderr, "prunebench: cannot create %s: %s\n", logs, strerror(-err));
		goto out;
	}

	snprintf(tag, sizeof tag, "run");
	if (a.only_failed) {
		/* a fresh list per resubmission: queued tasks read theirs later */
		FILE *list = NULL;
		for (int i = 1; i < 100000 && !list; i++) {
			snprintf(tag, sizeof tag, "retry-%d", i);
			snprintf(cells, sizeof cells, "%s/%s.cells", dir, tag);
			int fd = open(cells, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0 && errno != EEXIST)
				break;
			if (fd >= 0)
				list = fdopen(fd, "w");
		}
		if (!list) {
			fprintf(stderr, "prunebench: cannot create a cell list in %s: %s\n", dir,
				strerror(errno));
			goto out;
		}
		fprintf(list, "# cells to rerun: failed or missing (prunebench slurm --only-failed)\n");
		failed_cells(e, out, list, &n);
		if (fclose(list) != 0) {
			fprintf(stderr, "prunebench: %s: %s\n", cells, strerror(errno));
			goto out;
		}
		if (!n) {
			unlink(cells);
			printf("nothing to resubmit: every cell of %s is done or held by a queued task\n",
			       e->name);
			rc = 0;
			goto out;
		}
		p.cells_file = cells;
	} else {
		n = e->n_cells;
	}
	/* with rounds a task measures whole blocks (pb_run_selected) */
	int units = p.cells_file ? n : pb_run_shard_units(e);

	snprintf(job_name, sizeof job_name, "pb-%s", e->name);
	p.exe = exe;
	p.experiment = xp;
	p.output = out;
	p.slurm_dir = dir;
	p.sets = a.sets;
	p.n_sets = a.n_sets;
	p.job_name = job_name;
	p.tag = tag;
	p.n_cells = n;
	p.n_tasks = p.opt.tasks > 0 && p.opt.tasks < units ? p.opt.tasks : units;
	p.plugin_path = getenv("PRUNEBENCH_PLUGIN_PATH");
	p.extra = a.extra;
	p.n_extra = a.n_extra;

	snprintf(script, sizeof script, "%s/%s.sbatch", dir, tag);
	snprintf(merge, sizeof merge, "%s/%s.merge.sbatch", dir, tag);
	if (pb_slurm_array_script(&p, &text) < 0 || write_script(script, text) < 0)
		goto out;
	free(text);
	text = NULL;
	if (pb_slurm_merge_script(&p, &text) < 0 || write_script(merge, text) < 0)
		goto out;
	char limit[48] = "";
	if (p.opt.max_parallel)
		snprintf(limit, sizeof limit, ", at most %d at once", p.opt.max_parallel);
	printf("%s: %d cell%s in %d array task%s (%d CPU%s each%s)\n", e->name, n,
	       n == 1 ? "" : "s", p.n_tasks, p.n_tasks == 1 ? "" : "s", p.opt.cpus_per_task,
	       p.opt.cpus_per_task == 1 ? "" : "s", limit);
	printf("  array: %s\n  merge: %s\n", script, merge);
	if (!a.submit) {
		printf("submit:\n  jid=$(sbatch --parsable %s) && sbatch --dependency=afterany:$jid %s\n",
		       script, merge);
		rc = 0;
		goto out;
	}

	long array = sbatch(NULL, script);
	if (array < 0)
		goto out;
	char dep[32];
	snprintf(dep, sizeof dep, "%ld", array);
	long mjob = sbatch(dep, merge);
	printf("array job %ld: %d task%s, logs %s/%ld_<task>.out\n", array, p.n_tasks,
	       p.n_tasks == 1 ? "" : "s", logs, array);
	if (mjob > 0)
		printf("merge job %ld: after the array, writes %s/summary.csv\n", mjob, out);
	struct pb_slurm_record r = { .array_job = array, .merge_job = mjob, .n_tasks = p.n_tasks };
	snprintf(r.tag, sizeof r.tag, "%s", tag);
	snprintf(r.cells_file, sizeof r.cells_file, "%s", p.cells_file ? p.cells_file : "");
	pb_iso8601_now(r.submitted, sizeof r.submitted);
	if ((err = pb_slurm_record_append(dir, &r)) < 0)
		fprintf(stderr, "prunebench: warning: %s/jobs.tsv: %s ('status' will not see these "
			"jobs)\n", dir, strerror(-err));
	printf("watch: prunebench status %s", a.file);
	for (int i = 0; i < a.n_sets; i++)
		printf(" --set %s", a.sets[i]);
	printf("%s%s\n", a.output ? " -o " : "", a.output ? a.output : "");
	rc = mjob > 0 ? 0 : 1;
out:
	free(text);
	pb_experiment_free(e);
	return rc;
}

/* tests/slurm/test-slurm.c — the Slurm room without a cluster: the
 * experiment's `slurm:` block (values and file:line:col errors), the batch
 * scripts (run through bash with a stand-in for prunebench, so quoting is
 * checked by a real shell), squeue and sbatch output, jobs.tsv, cell lists
 * and shards over them, and the shared-filesystem lock. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../experiment/fake.h"
#include "run/run.h"
#include "run/shared-lock.h"
#include "run/slurm.h"
#include "util/util.h"

static const char *base_yaml =
	"name: s\n"
	"models:\n  m: {synth: llama-15m}\n"
	"datasets:\n  p: {path: prompts.txt}\n"
	"pruners:\n  dense: []\n  mag: [{magnitude: {sparsity: {sweep: [0.3, 0.5, 0.7]}}}]\n"
	"backends:\n  ref: {}\n";

static struct pb_experiment *load_with(const char *extra, char *err, size_t len, int *rc)
{
	char yaml[4096];
	struct pb_experiment *e = NULL;
	snprintf(yaml, sizeof yaml, "%s%s", base_yaml, extra);
	*rc = load_text(yaml, NULL, 0, &e, err, len);
	return e;
}

static void assert_contains(const char *s, const char *sub)
{
	ck_assert_msg(s && strstr(s, sub), "expected '%s' in:\n%s", sub, s ? s : "(null)");
}

START_TEST(block_values)
{
	char err[1024];
	int rc;
	struct pb_experiment *e = load_with(
		"slurm:\n"
		"  partition: gpu,cpu\n"
		"  account: proj-42\n"
		"  qos: short\n"
		"  time: 1-02:30:00\n"
		"  mem: 8G\n"
		"  cpus_per_task: 4\n"
		"  max_parallel: 10\n"
		"  tasks: 2\n"
		"  sbatch_args: [--gres=gpu:1, --constraint=avx2]\n"
		"  setup: module load openblas\n", err, sizeof err, &rc);
	ck_assert_msg(rc == 0, "%s", err);
	const struct pb_slurm_spec *s = &e->slurm;
	ck_assert_str_eq(s->partition, "gpu,cpu");
	ck_assert_str_eq(s->account, "proj-42");
	ck_assert_str_eq(s->qos, "short");
	ck_assert_str_eq(s->time, "1-02:30:00");
	ck_assert_str_eq(s->mem, "8G");
	ck_assert_int_eq(s->cpus_per_task, 4);
	ck_assert_int_eq(s->max_parallel, 10);
	ck_assert_int_eq(s->tasks, 2);
	ck_assert_int_eq(s->n_sbatch_args, 2);
	ck_assert_str_eq(s->sbatch_args[1], "--constraint=avx2");
	ck_assert_int_eq(s->n_setup, 1);
	ck_assert_str_eq(s->setup[0], "module load openblas");
	/* batch settings are not part of what a cell measures */
	char id_with[sizeof e->cells[1].id];
	snprintf(id_with, sizeof id_with, "%s", e->cells[1].id);
	pb_experiment_free(e);
	e = load_with("", err, sizeof err, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(e->cells[1].id, id_with);
	ck_assert_int_eq(e->slurm.cpus_per_task, 0);
	ck_assert_str_eq(e->slurm.time, "");
	pb_experiment_free(e);
}
END_TEST

START_TEST(block_errors)
{
	static const struct { const char *block, *msg; } bad[] = {
		{ "slurm: [a]\n", "exp.yaml:11:8: 'slurm': expected a mapping of batch settings" },
		{ "slurm:\n  partiton: gpu\n", "exp.yaml:12:3: slurm: unknown key 'partiton' (did you mean 'partition'?)" },
		{ "slurm:\n  time: 90s\n", "exp.yaml:12:9: slurm: 'time': expected a Slurm time limit" },
		{ "slurm:\n  time: '1:2:3:4'\n", "exp.yaml:12:9: slurm: 'time'" },
		{ "slurm:\n  mem: lots\n", "exp.yaml:12:8: slurm: 'mem': expected a size like '4G'" },
		{ "slurm:\n  cpus_per_task: 0\n", "exp.yaml:12:18: slurm: 'cpus_per_task': expected an integer between 1 and 4096, got '0'" },
		{ "slurm:\n  max_parallel: two\n", "exp.yaml:12:17: slurm: 'max_parallel': expected an integer" },
		{ "slurm:\n  partition: 'gpu; rm -rf /'\n", "exp.yaml:12:14: slurm: 'partition': 'gpu; rm -rf /' may contain only" },
		{ "slurm:\n  sbatch_args: [gres=gpu:1]\n", "exp.yaml:12:17: slurm: 'sbatch_args': 'gres=gpu:1' is not an sbatch option" },
		{ "slurm:\n  sbatch_args: {a: b}\n", "exp.yaml:12:16: slurm: 'sbatch_args': expected a list of strings" },
		{ "slurm:\n  tasks: {sweep: [1, 2]}\n", "'tasks': a sweep is only allowed inside an entry" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(bad); i++) {
		char err[1024] = "";
		int rc;
		struct pb_experiment *e = load_with(bad[i].block, err, sizeof err, &rc);
		ck_assert_msg(rc == -EINVAL && !e, "case %zu loaded", i);
		assert_contains(err, bad[i].msg);
	}
}
END_TEST

START_TEST(time_and_mem)
{
	const char *good_t[] = { "30", "0:30", "1:30:00", "2-0", "2-00:00", "2-00:00:00", "UNLIMITED" };
	const char *bad_t[] = { "", "1h", "-1", "1:2:3:4", "1-", "a", "1::2", "12345678" };
	for (size_t i = 0; i < PB_ARRAY_LEN(good_t); i++)
		ck_assert_msg(pb_slurm_time_ok(good_t[i]), "%s", good_t[i]);
	for (size_t i = 0; i < PB_ARRAY_LEN(bad_t); i++)
		ck_assert_msg(!pb_slurm_time_ok(bad_t[i]), "%s", bad_t[i]);
	ck_assert(pb_slurm_mem_ok("8000") && pb_slurm_mem_ok("4G") && pb_slurm_mem_ok("500m"));
	ck_assert(!pb_slurm_mem_ok("0") && !pb_slurm_mem_ok("4GB") && !pb_slurm_mem_ok("G") &&
		  !pb_slurm_mem_ok("-1G"));
}
END_TEST

static void plan_init(struct pb_slurm_plan *p, struct pb_slurm_spec *o)
{
	static const char *sets[] = { "repeat=2", "output=it's here" };
	static const char *extra[] = { "--gres=gpu:1" };
	memset(p, 0, sizeof *p);
	memset(o, 0, sizeof *o);
	p->exe = "/opt/pb/bin/prunebench";
	p->experiment = "/home/u/my exps/q.yaml";
	p->output = "/shared/results/q";
	p->slurm_dir = "/shared/results/q/slurm";
	p->sets = sets;
	p->n_sets = 2;
	p->job_name = "pb-q";
	p->tag = "run";
	p->n_cells = 7;
	p->n_tasks = 3;
	p->plugin_path = "/opt/plugins:/home/u/my plugins";
	p->extra = extra;
	p->n_extra = 1;
}

/* Run a script with bash; "$1" replaces its exec'd program by printing
 * its arguments one per line.  Returns the output (malloc'd). */
static char *run_script(const char *text, const char *task_id, const char *task_count)
{
	static const char stub[] = "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n";
	char path[512], out[512], cmd[2048], *buf = NULL;
	snprintf(path, sizeof path, "%s/pbstub", tmp_dir());
	ck_assert_int_eq(pb_write_file(path, stub, strlen(stub)), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
	snprintf(path, sizeof path, "%s/script.sh", tmp_dir());
	snprintf(out, sizeof out, "%s/script.out", tmp_dir());
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	snprintf(cmd, sizeof cmd,
		 "cd %s && sed 's#/opt/pb/bin/prunebench#%s/pbstub#g' script.sh > s2.sh && "
		 "env -i PATH=/usr/bin:/bin SLURM_ARRAY_TASK_ID=%s %s%s bash s2.sh > %s 2>&1",
		 tmp_dir(), tmp_dir(), task_id, task_count ? "SLURM_ARRAY_TASK_COUNT=" : "",
		 task_count ? task_count : "", out);
	int rc = system(cmd);
	ck_assert_int_eq(pb_read_file(out, &buf, NULL), 0);
	ck_assert_msg(rc == 0, "script failed (%d): %s\n%s", rc, cmd, buf);
	return buf;
}

START_TEST(array_script)
{
	struct pb_slurm_plan p;
	struct pb_slurm_spec *o = &p.opt;
	char *text = NULL, *out;
	plan_init(&p, o);
	o->max_parallel = 2;
	o->cpus_per_task = 4;
	snprintf(o->partition, sizeof o->partition, "gpu");
	snprintf(o->time, sizeof o->time, "1:00:00");
	snprintf(o->mem, sizeof o->mem, "8G");
	char *setup[] = { "export FROM_SETUP=yes" };
	o->setup = setup;
	o->n_setup = 1;
	p.cells_file = "/shared/results/q/slurm/retry-1.cells";
	ck_assert_int_eq(pb_slurm_array_script(&p, &text), 0);
	ck_assert(!strncmp(text, "#!/bin/bash\n", 12));
	assert_contains(text, "\n#SBATCH --array=0-2%2\n");
	assert_contains(text, "\n#SBATCH --job-name=pb-q\n");
	assert_contains(text, "\n#SBATCH --output=/shared/results/q/slurm/logs/%A_%a.out\n");
	assert_contains(text, "\n#SBATCH --cpus-per-task=4\n");
	assert_contains(text, "\n#SBATCH --partition=gpu\n");
	assert_contains(text, "\n#SBATCH --time=1:00:00\n");
	assert_contains(text, "\n#SBATCH --mem=8G\n");
	assert_contains(text, "\n#SBATCH --gres=gpu:1\n");
	/* every #SBATCH line before the first command, or sbatch ignores it */
	ck_assert(strstr(text, "\nset -u") > strstr(text, "--gres"));
	assert_contains(text, "--shard \"$SLURM_ARRAY_TASK_ID/$shards\"");

	/* a real shell runs it: task 1 of 3, arguments arrive intact */
	out = run_script(text, "1", "3");
	assert_contains(out, "<run>\n<--progress>\n<plain>\n<--shard>\n<1/3>\n"
			"<--cells>\n</shared/results/q/slurm/retry-1.cells>\n"
			"<--set>\n<repeat=2>\n<--set>\n<output=it's here>\n"
			"<-o>\n</shared/results/q>\n</home/u/my exps/q.yaml>\n");
	ck_assert_ptr_null(strstr(out, "note: array"));
	free(out);
	/* resubmitting one index as a smaller array keeps its shard */
	out = run_script(text, "2", "1");
	assert_contains(out, "<--shard>\n<2/3>\n");
	assert_contains(out, "note: array of 1 tasks");
	free(out);
	free(text);

	/* a folder with a blank: sbatch needs the value quoted */
	p.slurm_dir = "/shared/my results/q/slurm";
	ck_assert_int_eq(pb_slurm_array_script(&p, &text), 0);
	assert_contains(text, "\n#SBATCH --output=\"/shared/my results/q/slurm/logs/%A_%a.out\"\n");
	free(text);
	p.slurm_dir = "/shared/results/q/slurm";

	/* no limit: no %K; the merge job */
	o->max_parallel = 0;
	p.cells_file = NULL;
	ck_assert_int_eq(pb_slurm_array_script(&p, &text), 0);
	assert_contains(text, "\n#SBATCH --array=0-2\n");
	ck_assert_ptr_null(strstr(text, "--cells"));
	assert_contains(text, "export PRUNEBENCH_PLUGIN_PATH='/opt/plugins:/home/u/my plugins'\n");
	free(text);
	ck_assert_int_eq(pb_slurm_merge_script(&p, &text), 0);
	assert_contains(text, "\n#SBATCH --job-name=pb-q-merge\n");
	assert_contains(text, "\n#SBATCH --output=/shared/results/q/slurm/logs/%j-merge.out\n");
	assert_contains(text, "\n#SBATCH --partition=gpu\n");
	ck_assert_ptr_null(strstr(text, "--gres"));   /* the merge needs no GPU */
	ck_assert_ptr_null(strstr(text, "--array"));
	out = run_script(text, "0", NULL);
	assert_contains(out, "<merge>\n</shared/results/q>\n<status>\n<--no-squeue>\n");
	free(out);
	free(text);
}
END_TEST

START_TEST(shell_quote)
{
	static const struct { const char *in, *out; } q[] = {
		{ "plain/path-1.yaml", "plain/path-1.yaml" },
		{ "a b", "'a b'" },
		{ "it's", "'it'\\''s'" },
		{ "", "''" },
		{ "$HOME", "'$HOME'" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(q); i++) {
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);
		pb_shell_quote(f, q[i].in);
		fclose(f);
		ck_assert_str_eq(buf, q[i].out);
		free(buf);
	}
}
END_TEST

START_TEST(squeue_and_sbatch_output)
{
	struct pb_slurm_task *t = NULL;
	int n = 0;
	const char *text =
		"12|0|14|RUNNING|0:05|node1\n"
		"12|2|12|PENDING|0:00|(Resources)\n"
		"12|[3-5%2]|12|PENDING|0:00|(JobArrayTaskLimit)\n"
		"13|N/A|13|PENDING|0:00|(Dependency)\n"
		"garbage line\n"
		"x|1|2|RUNNING|0:01|n\n";
	ck_assert_int_eq(pb_slurm_parse_squeue(text, &t, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(t[0].array_job, 12);
	ck_assert_int_eq(t[0].task, 0);
	ck_assert_int_eq(t[0].job, 14);
	ck_assert_str_eq(t[0].state, "RUNNING");
	ck_assert_str_eq(t[0].where, "node1");
	ck_assert_int_eq(t[1].task, 2);
	ck_assert_str_eq(t[1].where, "(Resources)");
	ck_assert_int_eq(t[2].task, -1);
	ck_assert_int_eq(t[2].job, 13);
	free(t);
	ck_assert_int_eq(pb_slurm_parse_squeue("", &t, &n), 0);
	ck_assert_int_eq(n, 0);
	free(t);

	ck_assert_int_eq(pb_slurm_parse_jobid("4242\n"), 4242);
	ck_assert_int_eq(pb_slurm_parse_jobid("4242;cluster\n"), 4242);
	ck_assert_int_eq(pb_slurm_parse_jobid("sbatch: error: x\n"), -1);
	ck_assert_int_eq(pb_slurm_parse_jobid(""), -1);

	char *out = NULL;
	const char *argv[] = { "sh", "-c", "echo hello; exit 3", NULL };
	ck_assert_int_eq(pb_slurm_exec(argv, &out), 3);
	ck_assert_str_eq(out, "hello\n");
	free(out);
	const char *missing[] = { "pb-no-such-program-anywhere", NULL };
	ck_assert_int_eq(pb_slurm_exec(missing, &out), -ENOENT);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(jobs_record)
{
	struct pb_slurm_record r = { .array_job = 7, .merge_job = 8, .n_tasks = 3 }, *v = NULL;
	int n = -1;
	ck_assert_int_eq(pb_slurm_records_read(tmp_dir(), &v, &n), 0);   /* none yet */
	ck_assert_int_eq(n, 0);
	snprintf(r.tag, sizeof r.tag, "run");
	snprintf(r.submitted, sizeof r.submitted, "2026-01-01T00:00:00Z");
	ck_assert_int_eq(pb_slurm_record_append(tmp_dir(), &r), 0);
	r.array_job = 9;
	r.merge_job = -1;
	r.n_tasks = 1;
	snprintf(r.tag, sizeof r.tag, "retry-1");
	snprintf(r.cells_file, sizeof r.cells_file, "/x/retry-1.cells");
	ck_assert_int_eq(pb_slurm_record_append(tmp_dir(), &r), 0);
	ck_assert_int_eq(pb_slurm_records_read(tmp_dir(), &v, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(v[0].array_job, 7);
	ck_assert_int_eq(v[0].merge_job, 8);
	ck_assert_str_eq(v[0].cells_file, "");
	ck_assert_str_eq(v[1].tag, "retry-1");
	ck_assert_str_eq(v[1].cells_file, "/x/retry-1.cells");
	ck_assert_int_eq(v[1].n_tasks, 1);
	free(v);
}
END_TEST

START_TEST(cell_lists_and_shards)
{
	char err[1024], path[512];
	int rc, n = 0;
	char **ids = NULL;
	struct pb_experiment *e = load_with("", err, sizeof err, &rc);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(e->n_cells, 4);
	/* shards partition the cells: each in exactly one */
	for (int i = 0; i < e->n_cells; i++) {
		int owners = 0;
		for (int s = 0; s < 3; s++) {
			struct pb_run_opts o = { .shard_i = s, .shard_n = 3 };
			owners += pb_run_selected(e, &e->cells[i], &o);
		}
		ck_assert_int_eq(owners, 1);
	}
	/* a list: only its cells, sharded by position in the list */
	snprintf(path, sizeof path, "%s/list.cells", tmp_dir());
	char text[2048];
	snprintf(text, sizeof text, "# retry\n%s\n\n  %s  # the last one\n", e->cells[3].id, e->cells[1].id);
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	ck_assert_int_eq(pb_cell_list_read(e, path, &ids, &n, err, sizeof err), 0);
	ck_assert_int_eq(n, 2);
	struct pb_run_opts o = { .cell_list = ids, .n_cell_list = n, .shard_i = 0, .shard_n = 2 };
	ck_assert(pb_run_selected(e, &e->cells[3], &o));
	ck_assert(!pb_run_selected(e, &e->cells[1], &o));
	ck_assert(!pb_run_selected(e, &e->cells[0], &o));
	o.shard_i = 1;
	ck_assert(pb_run_selected(e, &e->cells[1], &o));
	ck_assert(!pb_run_selected(e, &e->cells[3], &o));
	pb_cell_list_free(ids, n);
	/* errors name the file and line */
	snprintf(text, sizeof text, "%s\nno-such-cell\n", e->cells[0].id);
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	ck_assert_int_eq(pb_cell_list_read(e, path, &ids, &n, err, sizeof err), -EINVAL);
	assert_contains(err, "list.cells:2: no cell 'no-such-cell'");
	snprintf(text, sizeof text, "a b\n");
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	ck_assert_int_eq(pb_cell_list_read(e, path, &ids, &n, err, sizeof err), -EINVAL);
	assert_contains(err, "list.cells:1: expected one cell id per line");
	pb_experiment_free(e);
}
END_TEST

static int file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

START_TEST(lock_exclusive_and_stale)
{
	char lock[512], ready[512], counter[512], err[512];
	struct pb_shared_lock l;
	snprintf(lock, sizeof lock, "%s/x.lock", tmp_dir());
	snprintf(ready, sizeof ready, "%s/ready", tmp_dir());
	snprintf(counter, sizeof counter, "%s/inside", tmp_dir());

	/* four processes: never two inside at once */
	pid_t pid[4];
	for (int i = 0; i < 4; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			struct pb_shared_lock m;
			if (pb_shared_lock_acquire(&m, lock, 30, NULL, NULL, err, sizeof err) != 0)
				_exit(1);
			int fd = open(counter, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0)
				_exit(2);   /* someone else is inside */
			close(fd);
			usleep(50 * 1000);
			unlink(counter);
			pb_shared_lock_release(&m);
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %d", i, st);
	}
	ck_assert_int_ne(access(lock, F_OK), 0);   /* released */

	/* a holder that died on this host: its lock is broken at once */
	pid_t dead = fork();
	if (dead == 0) {
		struct pb_shared_lock m;
		_exit(pb_shared_lock_acquire(&m, lock, 30, NULL, NULL, err, sizeof err) == 0 ? 0 : 1);
	}
	int st;
	waitpid(dead, &st, 0);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(access(lock, F_OK), 0);   /* left behind */
	double t0 = pb_now_ms();
	ck_assert_int_eq(pb_shared_lock_acquire(&l, lock, 30, NULL, NULL, err, sizeof err), 0);
	ck_assert_double_lt(pb_now_ms() - t0, 5000);
	pb_shared_lock_release(&l);

	/* another node's holder that stopped touching its lock: stale after stale_s */
	const char *foreign = "some-other-node 1 2026-01-01T00:00:00Z\n";
	ck_assert_int_eq(pb_write_file(lock, foreign, strlen(foreign)), 0);
	struct timespec old[2] = { { time(NULL) - 10, 0 }, { time(NULL) - 10, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, lock, old, 0), 0);
	ck_assert_int_eq(pb_shared_lock_acquire(&l, lock, 5, NULL, NULL, err, sizeof err), 0);
	pb_shared_lock_release(&l);

	/* ... but a fresh one is waited for, until what it guards is ready */
	ck_assert_int_eq(pb_write_file(lock, foreign, strlen(foreign)), 0);
	pid_t maker = fork();
	if (maker == 0) {
		usleep(300 * 1000);
		_exit(pb_write_file(ready, "x", 1) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(pb_shared_lock_acquire(&l, lock, 30, file_exists, ready, err, sizeof err), 1);
	waitpid(maker, &st, 0);
	ck_assert_int_eq(access(lock, F_OK), 0);   /* not ours: untouched */
	unlink(lock);

	/* the holder's heartbeat keeps a long computation from looking stale */
	ck_assert_int_eq(pb_shared_lock_acquire(&l, lock, 0.4, NULL, NULL, err, sizeof err), 0);
	pid_t waiter = fork();
	if (waiter == 0) {
		struct pb_shared_lock m;
		/* must not get in while the parent holds it (1.2 s = 3 × stale_s) */
		int rc = pb_shared_lock_acquire(&m, lock, 0.4, file_exists, ready, err, sizeof err);
		_exit(rc == 1 ? 0 : 3);
	}
	usleep(1200 * 1000);
	ck_assert_int_eq(pb_write_file(ready, "x", 1), 0);
	waitpid(waiter, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter broke a live lock");
	pb_shared_lock_release(&l);
	ck_assert_int_ne(access(lock, F_OK), 0);
}
END_TEST

static int exists(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* A holder of dir/name that takes it and exits without releasing it (a
 * killed one); its pid, reaped. */
static pid_t dead_holder(const char *dir, const char *name)
{
	char lock[512], err[256];
	int st;
	snprintf(lock, sizeof lock, "%s/%s", dir, name);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pb_shared_lock m;
		_exit(pb_shared_lock_acquire(&m, lock, 30, NULL, NULL, err, sizeof err) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return pid;
}

/* Killed holders leave <lock> and <lock>.<host>.<pid> behind (issue 14,
 * item 10).  Breaking such a lock removes both; pb_shared_lock_clean
 * removes those of dead processes on this host even when nobody wants
 * the lock again, and never another host's files or a live holder's. */
START_TEST(lock_leftovers_of_dead_holders)
{
	char host[300], name[600], lock[512], err[512];
	const char *dir = tmp_dir();
	struct pb_shared_lock l;
	pb_shared_lock_owner(host, sizeof host);
	*strrchr(host, '.') = '\0';

	/* taken again: the dead holder's unique file goes with its lock */
	pid_t dead = dead_holder(dir, "a.lock");
	snprintf(name, sizeof name, "a.lock.%s.%ld", host, (long)dead);
	ck_assert(exists(dir, name));
	snprintf(lock, sizeof lock, "%s/a.lock", dir);
	ck_assert_int_eq(pb_shared_lock_acquire(&l, lock, 30, NULL, NULL, err, sizeof err), 0);
	ck_assert_msg(!exists(dir, name), "%s left behind", name);
	pb_shared_lock_release(&l);
	ck_assert(!exists(dir, "a.lock"));

	/* never taken again: the folder is cleaned */
	dead = dead_holder(dir, "a.lock");
	char stale[600];   /* a breaker killed between its rename and unlink */
	snprintf(stale, sizeof stale, "%s/a.lock.stale.%s.%ld", dir, host, (long)dead);
	ck_assert_int_eq(pb_write_file(stale, "x", 1), 0);
	/* another node's lock, however old, and a live holder's stay */
	const char *foreign = "some-other-node 1 2026-01-01T00:00:00Z\n";
	snprintf(lock, sizeof lock, "%s/b.lock", dir);
	ck_assert_int_eq(pb_write_file(lock, foreign, strlen(foreign)), 0);
	snprintf(lock, sizeof lock, "%s/b.lock.some-other-node.1", dir);
	ck_assert_int_eq(pb_write_file(lock, foreign, strlen(foreign)), 0);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t live = fork();
	ck_assert_int_ge(live, 0);
	if (live == 0) {
		struct pb_shared_lock m;
		snprintf(lock, sizeof lock, "%s/c.lock", dir);
		if (pb_shared_lock_acquire(&m, lock, 30, NULL, NULL, err, sizeof err) != 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char x;
	ck_assert_int_eq(read(pfd[0], &x, 1), 1);
	close(pfd[0]);
	close(pfd[1]);

	ck_assert_int_eq(pb_shared_lock_clean(dir, ".lock"), 3);
	ck_assert(!exists(dir, "a.lock"));
	snprintf(name, sizeof name, "a.lock.%s.%ld", host, (long)dead);
	ck_assert(!exists(dir, name));
	ck_assert_int_ne(access(stale, F_OK), 0);
	ck_assert(exists(dir, "b.lock"));
	ck_assert(exists(dir, "b.lock.some-other-node.1"));
	ck_assert(exists(dir, "c.lock"));
	snprintf(name, sizeof name, "c.lock.%s.%ld", host, (long)live);
	ck_assert(exists(dir, name));

	/* once the holder is gone, its files go too */
	kill(live, SIGKILL);
	waitpid(live, NULL, 0);
	ck_assert_int_eq(pb_shared_lock_clean(dir, ".lock"), 2);
	ck_assert(!exists(dir, "c.lock"));
	ck_assert(!exists(dir, name));
	ck_assert_int_eq(pb_shared_lock_clean(dir, ".lock"), 0);
	snprintf(lock, sizeof lock, "%s/none", dir);
	ck_assert_int_eq(pb_shared_lock_clean(lock, ".lock"), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("slurm");
	TCase *tc = tcase_create("slurm");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_cleanup);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, block_values);
	tcase_add_test(tc, block_errors);
	tcase_add_test(tc, time_and_mem);
	tcase_add_test(tc, array_script);
	tcase_add_test(tc, shell_quote);
	tcase_add_test(tc, squeue_and_sbatch_output);
	tcase_add_test(tc, jobs_record);
	tcase_add_test(tc, cell_lists_and_shards);
	tcase_add_test(tc, lock_exclusive_and_stale);
	tcase_add_test(tc, lock_leftovers_of_dead_holders);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tests/metrics/test-reference.c — teacher-forced scoring and the dense
 * reference: text windows and budgets, dense-vs-dense agreement 1 and KL 0,
 * a different model scoring worse, the file format's checks, and the cache
 * with two processes asking for the same reference at once (computed once,
 * both read the same data, no temporary folder left). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ref-rig.h"
#include "model/modelio.h"
#include "run/reference.h"
#include "util/util.h"


static char tmp[256];

static void setup(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/pb-reference.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	pb_rm_rf(tmp);
}

static struct pb_model *tiny(uint64_t seed, int vocab)
{
	struct pb_hparams hp = {
		.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8,
		.ffn_dim = 48, .vocab = vocab, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.rope_layout = PB_ROPE_INTERLEAVED, .bos_id = 1, .eos_id = 2,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("tiny", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

static const char *write_tmp(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	return path;
}

static struct pb_dataset *load(enum pb_dataset_kind kind, const char *path, const char *ref)
{
	struct pb_dataset_opts o = { .path = path, .kind = kind, .reference = ref };
	struct pb_dataset *d = NULL;
	char err[512];
	ck_assert_msg(pb_dataset_load(&o, &d, err, sizeof err) == 0, "%s", err);
	return d;
}

START_TEST(text_windows)
{
	struct pb_model *m = tiny(1, 300);
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	const char *text = "Once upon a time there was a tiny model.\n<|endoftext|>\nIt scored every token once.\n";
	struct pb_dataset *ds = load(PB_DATASET_TEXT, write_tmp("t.raw", text), NULL);
	struct pb_dataset_spec spec = { .format = PB_DATASET_TEXT, .ctx = 16, .stride = 8 };
	struct pb_tf_set set;
	char err[512];
	int N = pb_tokenize(tok, text, 0, NULL, 0);
	ck_assert_int_gt(N, 40);

	/* with BOS every stream token is scored exactly once */
	ck_assert_msg(pb_tf_build(ds, &spec, m, 100000, 4, &set, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(set.n_rows, N);
	ck_assert_int_eq(set.v[0].n, 16);
	ck_assert_int_eq(set.v[0].tok[0], 1);           /* BOS */
	ck_assert_int_eq(set.v[0].score_from, 0);
	/* the second window starts 8 tokens on: its first 7 are context */
	ck_assert_int_eq(set.v[1].score_from, 7);
	ck_assert_int_eq(set.v[1].tok[1], set.v[0].tok[9]);
	long rows = 0;
	for (int i = 0; i < set.n; i++) {
		ck_assert_int_le(set.v[i].n, 16);
		rows += set.v[i].n - 1 - set.v[i].score_from;
	}
	ck_assert_int_eq(rows, N);
	pb_tf_set_free(&set);

	/* no stride: non-overlapping windows of the model's context over BOS +
	 * the stream; a window's first token is never a target (Hugging Face),
	 * so stream tokens 32 and 64 go unscored */
	spec.ctx = spec.stride = 0;
	ck_assert_int_eq(pb_tf_build(ds, &spec, m, 100000, 4, &set, err, sizeof err), 0);
	ck_assert_int_eq(set.v[0].n, 32);
	ck_assert_int_eq(set.v[1].score_from, 0);
	ck_assert_int_eq(set.n_rows, N - ((N + 1 + 31) / 32 - 1));
	pb_tf_set_free(&set);

	/* the budget caps the scored rows */
	ck_assert_int_eq(pb_tf_build(ds, &spec, m, 20, 4, &set, err, sizeof err), 0);
	ck_assert_int_eq(set.n_rows, 20);
	ck_assert_int_eq(set.n, 1);
	pb_tf_set_free(&set);
	pb_dataset_free(ds);
	pb_model_free(m);
}
END_TEST

/* Score a dense reference of model seed 5 with the same model and with
 * another one; vocab > 4096 keeps a top-64 with a tail. */
static void dense_vs(int vocab)
{
	struct rig dense, other;
	struct pb_reference *ref = NULL;
	struct pb_tf_set set;
	struct pb_acc_sums same = { 0 }, diff = { 0 };
	char err[512];
	struct pb_dataset *ds = load(PB_DATASET_JSONL,
		write_tmp("qa.jsonl", "{\"prompt\": \"Q: two and two?\", \"ref\": \"four\"}\n"
				      "{\"prompt\": \"Q: sky colour?\", \"ref\": \"blue, mostly\"}\n"), "ref");
	struct pb_dataset_spec spec = { .format = PB_DATASET_JSONL };

	rig_open(&dense, tiny(5, vocab));
	rig_open(&other, tiny(6, vocab));
	ck_assert_int_eq(pb_tf_build(ds, &spec, dense.m, 1000, 4, &set, err, sizeof err), 0);
	ck_assert_int_eq(set.n, 2);
	/* prompt (with BOS) + reference tokens; every row but the last scored */
	const struct pb_tokenizer *tok = pb_model_tokenizer(dense.m);
	int n0 = pb_tokenize(tok, "Q: two and two?", 1, NULL, 0) + pb_tokenize(tok, "four", 0, NULL, 0);
	int n1 = pb_tokenize(tok, "Q: sky colour?", 1, NULL, 0) +
		 pb_tokenize(tok, "blue, mostly", 0, NULL, 0);
	ck_assert_int_eq(set.v[0].n, n0);
	ck_assert_int_eq(set.v[1].n, n1);
	ck_assert_int_eq(set.v[0].tok[0], 1);
	ck_assert_msg(pb_reference_compute(dense.s, dense.m, &set, 4, &ref, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(ref->k, pb_reference_topk(vocab));
	ck_assert_int_eq(ref->k, vocab > 4096 ? 64 : vocab);
	ck_assert_int_eq(ref->set.n_rows, n0 - 1 + n1 - 1);
	ck_assert_int_eq(pb_tf_score(dense.s, vocab, vocab, &ref->set, ref, &same, err, sizeof err), 0);
	ck_assert_int_eq(same.n_cmp, ref->set.n_rows);
	ck_assert_double_eq(pb_agreement(&same), 1);
	ck_assert_double_eq_tol(pb_kl_mean(&same), 0, 1e-6);
	/* the cell's perplexity equals the reference's own */
	double s = 0;
	for (long i = 0; i < ref->set.n_rows; i++)
		s -= ref->target_logp[i];
	ck_assert_double_eq_tol(pb_perplexity(&same) / exp(s / ref->set.n_rows), 1, 1e-4);

	ck_assert_int_eq(pb_tf_score(other.s, vocab, vocab, &ref->set, ref, &diff, err, sizeof err), 0);
	ck_assert_double_lt(pb_agreement(&diff), 1);
	ck_assert_double_gt(pb_kl_mean(&diff), 1e-3);
	/* a wrong vocabulary is refused */
	ck_assert_int_eq(pb_tf_score(other.s, vocab + 1, vocab + 1, &ref->set, ref, &diff, err, sizeof err), -EINVAL);

	/* round trip through the file */
	char path[600];
	struct pb_reference *back = NULL;
	snprintf(path, sizeof path, "%s/r.bin", tmp);
	ck_assert_int_eq(pb_reference_write(ref, "key", path), 0);
	ck_assert_msg(pb_reference_read(path, "key", &back, err, sizeof err) == 0, "%s", err);
	struct pb_acc_sums again = { 0 };
	ck_assert_int_eq(pb_tf_score(other.s, vocab, vocab, &back->set, back, &again, err, sizeof err), 0);
	ck_assert_double_eq(pb_kl_mean(&again), pb_kl_mean(&diff));
	ck_assert_int_eq(again.agree, diff.agree);
	pb_reference_free(back);
	pb_reference_free(ref);
	rig_close(&dense);
	rig_close(&other);
	pb_dataset_free(ds);
}

START_TEST(dense_small_vocab)
{
	dense_vs(300);
}
END_TEST

START_TEST(dense_topk_tail)
{
	dense_vs(5000);
}
END_TEST

/* A small reference built by hand. */
static struct pb_reference *fake_ref(void)
{
	struct pb_reference *r = calloc(1, sizeof *r);
	r->k = 2;
	r->vocab = 5;
	r->set.v = calloc(2, sizeof *r->set.v);
	r->set.n = 2;
	static const int32_t t0[] = { 1, 2, 3 }, e1[] = { 4, 4 }, t1[] = { 0, 1 };
	r->set.v[0] = (struct pb_tf_seq){ .sample = 0, .n = 3, .tok = malloc(sizeof t0) };
	memcpy(r->set.v[0].tok, t0, sizeof t0);
	r->set.v[1] = (struct pb_tf_seq){ .sample = 1, .n = 2, .n_enc = 2, .tok = malloc(sizeof t1),
					  .enc = malloc(sizeof e1) };
	memcpy(r->set.v[1].tok, t1, sizeof t1);
	memcpy(r->set.v[1].enc, e1, sizeof e1);
	r->set.n_rows = 3;
	r->ids = malloc(6 * 4);
	r->logp = malloc(6 * 4);
	r->tail_logp = malloc(3 * 4);
	r->target_logp = malloc(3 * sizeof *r->target_logp);
	for (int i = 0; i < 6; i++) {
		r->ids[i] = i % 5;
		r->logp[i] = -0.5f * (float)i;
	}
	for (int i = 0; i < 3; i++) {
		r->tail_logp[i] = -2.0f - (float)i;
		r->target_logp[i] = -1.0f;
	}
	return r;
}

static int fake_compute(void *arg, struct pb_reference **out, char *err, size_t len)
{
	(void)err;
	(void)len;
	int fd = open(arg, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return -EIO;
	close(fd);
	usleep(300 * 1000);   /* long enough for the other process to arrive */
	*out = fake_ref();
	return 0;
}

START_TEST(cache_two_processes)
{
	char dir[600], counter[600], name[] = "m.d-0123abcd";
	const char *key = "model: x\ndataset: y\n";
	snprintf(dir, sizeof dir, "%s/out/reference", tmp);
	snprintf(counter, sizeof counter, "%s/computed", tmp);
	pid_t pid[2];
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			struct pb_reference *r = NULL;
			char err[512], path[700];
			if (pb_reference_cached(dir, name, key, fake_compute, counter, &r, err, sizeof err) < 0)
				_exit(1);
			snprintf(path, sizeof path, "%s/child%d.bin", tmp, i);
			if (pb_reference_write(r, key, path) < 0)
				_exit(2);
			int cached = r->cached;
			pb_reference_free(r);
			_exit(10 + cached);
		}
	}
	int codes = 0;
	for (int i = 0; i < 2; i++) {
		int st;
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert(WIFEXITED(st));
		ck_assert_int_ge(WEXITSTATUS(st), 10);
		codes += WEXITSTATUS(st);
	}
	ck_assert_int_eq(codes, 21);   /* one computed (10), one read (11) */

	/* computed once */
	char *buf = NULL, *b2 = NULL;
	size_t n = 0, n2 = 0;
	ck_assert_int_eq(pb_read_file(counter, &buf, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(buf);
	/* both saw the same data */
	char p0[700], p1[700];
	snprintf(p0, sizeof p0, "%s/child0.bin", tmp);
	snprintf(p1, sizeof p1, "%s/child1.bin", tmp);
	ck_assert_int_eq(pb_read_file(p0, &buf, &n), 0);
	ck_assert_int_eq(pb_read_file(p1, &b2, &n2), 0);
	ck_assert_uint_eq(n, n2);
	ck_assert_int_eq(memcmp(buf, b2, n), 0);
	free(buf);
	free(b2);
	/* no temporary folder left; the folder holds both files */
	DIR *d = opendir(dir);
	struct dirent *de;
	int entries = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		entries++;
		ck_assert_msg(!strstr(de->d_name, ".tmp"), "left behind: %s", de->d_name);
	}
	closedir(d);
	ck_assert_int_eq(entries, 1);   /* the folder; the lock file goes on release */
	char path[800];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s/manifest.yaml", dir, name);
	ck_assert_int_eq(stat(path, &st), 0);

	/* a third call reads it, without computing */
	struct pb_reference *r = NULL;
	char err[512];
	ck_assert_int_eq(pb_reference_cached(dir, name, key, fake_compute, counter, &r, err, sizeof err), 0);
	ck_assert_int_eq(r->cached, 1);
	ck_assert_int_eq(r->set.v[1].enc[1], 4);
	ck_assert_double_eq(r->tail_logp[2], -4.0f);
	pb_reference_free(r);
	ck_assert_int_eq(pb_read_file(counter, &buf, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(buf);

	/* other settings under the same name: refused, not silently used */
	ck_assert_int_eq(pb_reference_cached(dir, name, "other", fake_compute, counter, &r, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "its key differs"), "%s", err);
}
END_TEST

START_TEST(file_checks)
{
	char path[600], err[512];
	struct pb_reference *r = fake_ref(), *back = NULL;
	snprintf(path, sizeof path, "%s/f.bin", tmp);
	ck_assert_int_eq(pb_reference_write(r, "k", path), 0);
	pb_reference_free(r);
	char *buf;
	size_t n;
	ck_assert_int_eq(pb_read_file(path, &buf, &n), 0);
	/* truncated anywhere: refused */
	for (size_t cut = 0; cut < n; cut += 7) {
		ck_assert_int_eq(pb_write_file(path, buf, cut), 0);
		ck_assert_int_eq(pb_reference_read(path, "k", &back, err, sizeof err), -EINVAL);
		ck_assert_ptr_null(back);
	}
	/* an id out of the vocabulary */
	buf[n - 3 * 4 * 2 - 6 * 4 * 2] = 9;
	ck_assert_int_eq(pb_write_file(path, buf, n), 0);
	ck_assert_int_eq(pb_reference_read(path, "k", &back, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "corrupt"), "%s", err);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reference");
	TCase *tc = tcase_create("reference");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, text_windows);
	tcase_add_test(tc, dense_small_vocab);
	tcase_add_test(tc, dense_topk_tail);
	tcase_add_test(tc, cache_two_processes);
	tcase_add_test(tc, file_checks);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

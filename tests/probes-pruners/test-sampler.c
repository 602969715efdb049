/* tests/probes-pruners/test-sampler.c — the core's probe sampler with fake
 * probes: a COUNTER that the test drives (and wraps) and a GAUGE, on a
 * clock the test moves, so that phase attribution is checked exactly; and
 * on the real clock, a failing probe that is backed off while another
 * keeps sampling. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results.h"
#include "run/sampler.h"
#include "util/util.h"

/* ---- a fake probe: values set by the test, or failing on demand ---- */

struct fake {
	double energy, temp;     /* raw readings handed out */
	atomic_int reads;
	int fail;                /* read() returns -EIO */
	const struct pb_channel *ch;
	int nch;
};

static const struct pb_channel fake_ch[] = {
	{ .name = "energy_j", .unit = "J", .kind = PB_COUNTER, .wrap = 100 },
	{ .name = "temp_c", .unit = "C", .kind = PB_GAUGE },
};

static int fake_channels(void *state, const struct pb_channel **ch, int *n)
{
	struct fake *f = state;
	*ch = f->ch ? f->ch : fake_ch;
	*n = f->ch ? f->nch : 2;
	return 0;
}

static int fake_read(void *state, double *v)
{
	struct fake *f = state;
	atomic_fetch_add(&f->reads, 1);
	if (f->fail)
		return -EIO;
	v[0] = f->energy;
	v[1] = f->temp;
	return 0;
}

static const struct pb_probe_ops fake_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = fake_channels,
	.read = fake_read,
	.min_interval_ms = 1,
};

/* a counting probe for the real-clock test: one COUNTER of its reads */
static const struct pb_channel count_ch[] = {
	{ .name = "reads", .unit = "count", .kind = PB_COUNTER },
};

static int count_read(void *state, double *v)
{
	struct fake *f = state;
	v[0] = atomic_fetch_add(&f->reads, 1) + 1;
	return 0;
}

static const struct pb_probe_ops count_ops = {
	.struct_size = sizeof(struct pb_probe_ops),
	.channels = fake_channels,
	.read = count_read,
	.min_interval_ms = 1,
};

static _Atomic double fake_now;   /* the sampler thread reads it too */
static double fake_clock(void *ctx)
{
	(void)ctx;
	return 1e6 + fake_now;   /* any origin: the sampler stamps relative to start */
}

static const struct pb_sampler_opts fake_time = { .clock_ms = fake_clock };

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/pb-sampler-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	fake_now = 0;
}

static void teardown(void)
{
	pb_rm_rf(dir);
}

static struct pb_table *read_csv(const char *name)
{
	char path[512], err[256];
	struct pb_table *t = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_msg(pb_csv_read(path, &t, err, sizeof err) == 0, "%s", err);
	return t;
}

/* the row of t whose columns (k1, k2, k3) equal (v1, v2, v3); -1 if none */
static int find_row(const struct pb_table *t, const char *k1, const char *v1,
		    const char *k2, const char *v2, const char *k3, const char *v3)
{
	int c1 = pb_table_col(t, k1), c2 = pb_table_col(t, k2), c3 = pb_table_col(t, k3);
	ck_assert(c1 >= 0 && c2 >= 0 && c3 >= 0);
	for (int r = 0; r < t->nrows; r++)
		if (!strcmp(t->rows[r][c1], v1) && !strcmp(t->rows[r][c2], v2) &&
		    !strcmp(t->rows[r][c3], v3))
			return r;
	return -1;
}

static double cell_d(const struct pb_table *t, int row, const char *col)
{
	int c = pb_table_col(t, col);
	ck_assert_int_ge(row, 0);
	ck_assert_int_ge(c, 0);
	return t->rows[row][c][0] ? strtod(t->rows[row][c], NULL) : NAN;
}

/* load 0..100, prefill 100..150, decode 150..250, prefill 250..260,
 * decode 260..300; the counter wraps at 100 between 150 and 250. */
static struct pb_sampler *scripted_run(struct fake *f)
{
	struct pb_probe_inst in = { .name = "fake", .ops = &fake_ops, .state = f,
				    .interval_ms = 60000 };   /* the thread never fires */
	struct pb_sampler *s;
	static const struct { double t, e, g; int ph; } step[] = {
		{ 100, 30, 50, PB_PHASE_PREFILL },
		{ 150, 95, 60, PB_PHASE_DECODE },
		{ 250, 5, 70, PB_PHASE_PREFILL },     /* wrapped: 105 */
		{ 260, 7, 80, PB_PHASE_DECODE },      /* 107 */
		{ 300, 17, 90, -1 },                  /* stop: 117 */
	};

	f->energy = 10;
	f->temp = 40;
	ck_assert_int_eq(pb_sampler_start_opts(&s, &in, 1, PB_PHASE_LOAD, &fake_time), 0);
	for (size_t i = 0; i < sizeof step / sizeof step[0]; i++) {
		fake_now = step[i].t;
		f->energy = step[i].e;
		f->temp = step[i].g;
		if (step[i].ph < 0)
			pb_sampler_stop(s);
		else
			pb_sampler_phase(s, (enum pb_phase)step[i].ph);
	}
	return s;
}

START_TEST(phases_exact)
{
	struct fake f = { 0 };
	struct pb_sampler *s = scripted_run(&f);
	struct pb_phase_stat st;

	ck_assert_int_eq(atomic_load(&f.reads), 6);
	ck_assert_double_eq(pb_sampler_phase_ms(s, PB_PHASE_LOAD), 100);
	ck_assert_double_eq(pb_sampler_phase_ms(s, PB_PHASE_PREFILL), 60);
	ck_assert_double_eq(pb_sampler_phase_ms(s, PB_PHASE_DECODE), 140);
	ck_assert_double_eq(pb_sampler_phase_ms(s, PB_PHASE_SCORE), 0);
	ck_assert_int_eq(pb_sampler_phase_count(s, PB_PHASE_PREFILL), 2);
	ck_assert_int_eq(pb_sampler_phase_count(s, PB_PHASE_LOAD), 1);

	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_LOAD, &st), 0);
	ck_assert_double_eq(st.delta, 20);
	ck_assert(isnan(st.mean));
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq(st.delta, 65 + 2);
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq(st.delta, 10 + 10);   /* across the wrap */
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_COUNT, &st), 0);
	ck_assert_double_eq(st.delta, 107);
	ck_assert_double_eq(st.duration_ms, 300);
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_SCORE, &st), 0);
	ck_assert(isnan(st.delta));

	ck_assert_int_eq(pb_sampler_stat(s, "temp_c", PB_PHASE_LOAD, &st), 0);
	ck_assert_double_eq(st.mean, 40);
	ck_assert_double_eq(st.max, 40);
	ck_assert(isnan(st.delta));
	ck_assert_int_eq(pb_sampler_stat(s, "temp_c", PB_PHASE_PREFILL, &st), 0);
	ck_assert_double_eq_tol(st.mean, (50 * 50 + 70 * 10) / 60.0, 1e-9);
	ck_assert_double_eq(st.max, 70);
	ck_assert_int_eq(pb_sampler_stat(s, "temp_c", PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq_tol(st.mean, (60 * 100 + 80 * 40) / 140.0, 1e-9);
	ck_assert_double_eq(st.max, 90);   /* the final reading is decode's */
	ck_assert_int_eq(pb_sampler_stat(s, "nope", PB_PHASE_LOAD, &st), -ENOENT);

	/* after stop nothing moves */
	fake_now = 1000;
	pb_sampler_phase(s, PB_PHASE_SCORE);
	ck_assert_int_eq(atomic_load(&f.reads), 6);
	ck_assert_double_eq(pb_sampler_phase_ms(s, PB_PHASE_SCORE), 0);
	pb_sampler_free(s);
}
END_TEST

static int count_rows(const struct pb_table *t, const char *col, const char *val)
{
	int j = pb_table_col(t, col), n = 0;
	for (int i = 0; j >= 0 && i < t->nrows; i++)
		n += !strcmp(t->rows[i][j], val);
	return n;
}

START_TEST(csv_files)
{
	struct fake f = { 0 };
	struct pb_sampler *s = scripted_run(&f);
	char probes[512], phases[512];
	snprintf(probes, sizeof probes, "%s/probes.csv", dir);
	snprintf(phases, sizeof phases, "%s/phases.csv", dir);
	ck_assert_int_eq(pb_sampler_write(s, probes, phases), 0);

	struct pb_table *t = read_csv("probes.csv");
	static const char *const ph[] = { "t_ms", "phase", "probe", "channel", "unit", "value" };
	ck_assert_int_eq(t->ncols, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(t->header[i], ph[i]);
	ck_assert_int_eq(t->nrows, 12);   /* 6 readings × 2 channels */
	ck_assert_str_eq(t->rows[0][0], "0.000");
	ck_assert_str_eq(t->rows[0][1], "load");
	ck_assert_str_eq(t->rows[0][2], "fake");
	ck_assert_str_eq(t->rows[0][3], "energy_j");
	ck_assert_str_eq(t->rows[0][4], "J");
	ck_assert_str_eq(t->rows[0][5], "10");
	int r = find_row(t, "t_ms", "250.000", "channel", "energy_j", "phase", "prefill");
	ck_assert_str_eq(t->rows[r][5], "105");   /* unwrapped */
	r = find_row(t, "t_ms", "300.000", "channel", "temp_c", "phase", "decode");
	ck_assert_str_eq(t->rows[r][5], "90");
	for (int i = 1; i < t->nrows; i++)   /* in time order */
		ck_assert(strtod(t->rows[i][0], NULL) >= strtod(t->rows[i - 1][0], NULL));
	pb_table_free(t);

	t = read_csv("phases.csv");
	static const char *const hh[] = { "phase", "duration_ms", "probe", "channel", "unit",
					  "kind", "delta", "mean", "max", "energy_j", "energy_method" };
	ck_assert_int_eq(t->ncols, 11);
	for (int i = 0; i < 11; i++)
		ck_assert_str_eq(t->header[i], hh[i]);
	/* load, prefill, decode × (2 channels + the 4 host channels) */
	ck_assert_int_eq(t->nrows, 18);
	ck_assert_int_eq(count_rows(t, "probe", "host"), 12);
	r = find_row(t, "phase", "prefill", "channel", "energy_j", "kind", "counter");
	ck_assert_double_eq(cell_d(t, r, "duration_ms"), 60);
	ck_assert_double_eq(cell_d(t, r, "delta"), 67);
	ck_assert_double_eq(cell_d(t, r, "energy_j"), 67);   /* a J counter is an energy source */
	ck_assert_str_eq(t->rows[r][10], "counter");
	ck_assert(isnan(cell_d(t, r, "mean")));
	r = find_row(t, "phase", "decode", "channel", "temp_c", "kind", "gauge");
	ck_assert_double_eq_tol(cell_d(t, r, "mean"), 9200 / 140.0, 1e-9);
	ck_assert_double_eq(cell_d(t, r, "max"), 90);
	ck_assert(isnan(cell_d(t, r, "delta")));
	ck_assert(isnan(cell_d(t, r, "energy_j")));
	ck_assert_str_eq(t->rows[r][10], "");
	r = find_row(t, "phase", "load", "channel", "temp_c", "unit", "C");
	ck_assert_double_eq(cell_d(t, r, "mean"), 40);
	pb_table_free(t);

	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_summary(s, &row);
	ck_assert_str_eq(pb_row_get(&row, "energy_j_total"), "107");
	ck_assert_str_eq(pb_row_get(&row, "energy_j_prefill"), "67");
	ck_assert_str_eq(pb_row_get(&row, "energy_j_decode"), "20");
	ck_assert_str_eq(pb_row_get(&row, "temp_c_mean"), "62");   /* prefill + decode only */
	ck_assert_str_eq(pb_row_get(&row, "temp_c_max"), "90");
	pb_row_free(&row);
	pb_sampler_free(s);
}
END_TEST

START_TEST(summary_without_measured_phases)
{
	struct fake f = { .energy = 1, .temp = 10 };
	struct pb_probe_inst in = { .name = "fake", .ops = &fake_ops, .state = &f,
				    .interval_ms = 60000 };
	struct pb_sampler *s;
	struct pb_row row;

	ck_assert_int_eq(pb_sampler_start_opts(&s, &in, 1, PB_PHASE_LOAD, &fake_time), 0);
	fake_now = 10;
	f.temp = 30;
	f.energy = 4;
	pb_sampler_phase(s, PB_PHASE_SCORE);
	fake_now = 40;
	pb_sampler_stop(s);
	pb_row_init(&row);
	pb_sampler_summary(s, &row);
	/* no prefill/decode: gauges over everything, (10*10 + 30*30) / 40 */
	ck_assert_str_eq(pb_row_get(&row, "temp_c_mean"), "25");
	ck_assert_str_eq(pb_row_get(&row, "temp_c_max"), "30");
	ck_assert_str_eq(pb_row_get(&row, "energy_j_total"), "3");
	ck_assert_str_eq(pb_row_get(&row, "energy_j_prefill"), "");   /* never ran */
	pb_row_free(&row);
	pb_sampler_free(s);
}
END_TEST

START_TEST(failing_probe_skipped_at_boundaries)
{
	struct fake good = { .energy = 1, .temp = 20 }, bad = { .fail = 1 };
	struct pb_probe_inst in[] = {
		{ .name = "bad", .ops = &fake_ops, .state = &bad, .interval_ms = 60000 },
		{ .name = "good", .ops = &fake_ops, .state = &good, .interval_ms = 60000 },
	};
	struct pb_sampler *s;
	struct pb_phase_stat st;

	pb_log_level_set(PB_LOG_ERROR);   /* the expected warning is tested below */
	ck_assert_int_eq(pb_sampler_start_opts(&s, in, 2, PB_PHASE_LOAD, &fake_time), 0);
	pb_log_level_set(PB_LOG_INFO);
	for (int i = 1; i <= 4; i++) {
		fake_now = 10 * i;
		good.energy = 1 + i;
		pb_sampler_phase(s, i % 2 ? PB_PHASE_PREFILL : PB_PHASE_DECODE);
	}
	pb_sampler_stop(s);
	ck_assert_int_eq(atomic_load(&bad.reads), 1);    /* backed off: not re-read */
	ck_assert_int_eq(atomic_load(&good.reads), 6);
	/* the failing probe is the first with these channel names: its stats are empty */
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_COUNT, &st), 0);
	ck_assert(isnan(st.delta));
	ck_assert_int_eq(pb_sampler_write(s, NULL, NULL), 0);
	pb_sampler_free(s);
}
END_TEST

START_TEST(backoff_real_clock)
{
	struct fake good = { .ch = count_ch, .nch = 1 }, bad = { .fail = 1 };
	struct pb_probe_inst in[] = {
		{ .name = "bad", .ops = &fake_ops, .state = &bad, .interval_ms = 5 },
		{ .name = "good", .ops = &count_ops, .state = &good, .interval_ms = 5 },
	};
	struct pb_sampler *s;
	struct pb_phase_stat st;
	char log[512], buf[4096];
	int saved = dup(2), fd;
	ssize_t n;

	/* capture the sampler's warnings */
	snprintf(log, sizeof log, "%s/stderr.txt", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	ck_assert_int_eq(pb_sampler_start(&s, in, 2, PB_PHASE_WARMUP), 0);
	usleep(320 * 1000);
	pb_sampler_phase(s, PB_PHASE_DECODE);
	usleep(20 * 1000);
	pb_sampler_stop(s);
	dup2(saved, 2);
	close(saved);
	close(fd);

	/* reads at ~0, 10, 30, 70, 150, 310 ms (interval doubling) */
	int bad_reads = atomic_load(&bad.reads), good_reads = atomic_load(&good.reads);
	ck_assert_msg(bad_reads >= 3 && bad_reads <= 7, "bad probe read %d times", bad_reads);
	ck_assert_msg(good_reads >= 15, "good probe read only %d times", good_reads);
	/* every read of the good probe is counted in exactly one phase */
	ck_assert_int_eq(pb_sampler_stat(s, "reads", PB_PHASE_COUNT, &st), 0);
	ck_assert_double_eq(st.delta, good_reads - 1);
	double w = 0, d = 0;
	ck_assert_int_eq(pb_sampler_stat(s, "reads", PB_PHASE_WARMUP, &st), 0);
	w = st.delta;
	ck_assert_int_eq(pb_sampler_stat(s, "reads", PB_PHASE_DECODE, &st), 0);
	d = st.delta;
	ck_assert_double_eq(w + d, good_reads - 1);
	ck_assert(w > d && d >= 1);
	ck_assert(pb_sampler_phase_ms(s, PB_PHASE_WARMUP) >= 300);

	int lfd = open(log, O_RDONLY);
	n = read(lfd, buf, sizeof buf - 1);
	close(lfd);
	buf[n > 0 ? n : 0] = '\0';
	char *first = strstr(buf, "probe bad: read failed");
	ck_assert_msg(first, "no warning in: %s", buf);
	ck_assert_ptr_null(strstr(first + 1, "probe bad: read failed"));   /* once */

	char probes[512];
	snprintf(probes, sizeof probes, "%s/probes.csv", dir);
	ck_assert_int_eq(pb_sampler_write(s, probes, NULL), 0);
	struct pb_table *t = read_csv("probes.csv");
	ck_assert_int_eq(t->nrows, good_reads);   /* the bad probe has no rows */
	for (int i = 0; i < t->nrows; i++)
		ck_assert_str_eq(t->rows[i][2], "good");
	pb_table_free(t);
	pb_sampler_free(s);
}
END_TEST

START_TEST(memory_cap_keeps_aggregates)
{
	struct fake f = { .energy = 0, .temp = 1 };
	struct pb_probe_inst in = { .name = "fake", .ops = &fake_ops, .state = &f,
				    .interval_ms = 60000 };
	struct pb_sampler_opts o = { .clock_ms = fake_clock, .max_values = 6 };
	struct pb_sampler *s;
	struct pb_phase_stat st;
	char probes[512];

	int saved = dup(2), fd = open("/dev/null", O_WRONLY);
	dup2(fd, 2);
	ck_assert_int_eq(pb_sampler_start_opts(&s, &in, 1, PB_PHASE_DECODE, &o), 0);
	for (int i = 1; i <= 10; i++) {
		fake_now = i;
		f.energy = i * 10 % 100;   /* wraps at 100, 200, ... */
		pb_sampler_phase(s, PB_PHASE_DECODE);
	}
	pb_sampler_stop(s);
	dup2(saved, 2);
	close(saved);
	close(fd);
	ck_assert_int_eq(pb_sampler_stat(s, "energy_j", PB_PHASE_DECODE, &st), 0);
	ck_assert_double_eq(st.delta, 100);
	ck_assert_int_eq(pb_sampler_phase_count(s, PB_PHASE_DECODE), 11);
	snprintf(probes, sizeof probes, "%s/probes.csv", dir);
	ck_assert_int_eq(pb_sampler_write(s, probes, NULL), 0);
	struct pb_table *t = read_csv("probes.csv");
	ck_assert_int_eq(t->nrows, 6);   /* 3 readings × 2 channels kept */
	pb_table_free(t);
	pb_sampler_free(s);
}
END_TEST

START_TEST(no_probes_records_durations)
{
	struct pb_sampler *s;
	char phases[512];

	ck_assert_int_eq(pb_sampler_start_opts(&s, NULL, 0, PB_PHASE_LOAD, &fake_time), 0);
	fake_now = 12.5;
	pb_sampler_phase(s, PB_PHASE_PREFILL);
	fake_now = 20;
	pb_sampler_stop(s);
	snprintf(phases, sizeof phases, "%s/phases.csv", dir);
	ck_assert_int_eq(pb_sampler_write(s, NULL, phases), 0);
	struct pb_table *t = read_csv("phases.csv");
	/* without probes only the host channels: 2 phases × 4 */
	ck_assert_int_eq(t->nrows, 8);
	ck_assert_int_eq(count_rows(t, "probe", "host"), 8);
	ck_assert_str_eq(t->rows[0][0], "load");
	ck_assert_str_eq(t->rows[0][1], "12.500");
	ck_assert_str_eq(t->rows[4][0], "prefill");
	ck_assert_str_eq(t->rows[4][1], "7.500");
	pb_table_free(t);
	struct pb_row row;
	pb_row_init(&row);
	pb_sampler_summary(s, &row);
	ck_assert_int_eq(row.n, 0);
	pb_row_free(&row);
	pb_sampler_free(s);

	/* no sampler at all: header-only files */
	ck_assert_int_eq(pb_sampler_write(NULL, NULL, phases), 0);
	t = read_csv("phases.csv");
	ck_assert_int_eq(t->nrows, 0);
	ck_assert_int_eq(t->ncols, 11);
	pb_table_free(t);
	ck_assert_str_eq(pb_phase_name(PB_PHASE_DECODE), "decode");
	ck_assert_str_eq(pb_phase_name(PB_PHASE_COUNT), "?");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sampler");
	TCase *tc = tcase_create("sampler");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, phases_exact);
	tcase_add_test(tc, csv_files);
	tcase_add_test(tc, summary_without_measured_phases);
	tcase_add_test(tc, failing_probe_skipped_at_boundaries);
	tcase_add_test(tc, backoff_real_clock);
	tcase_add_test(tc, memory_cap_keeps_aggregates);
	tcase_add_test(tc, no_probes_records_durations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

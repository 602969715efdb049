/* tests/results/test-results.c — the results room: CSV writer and reader
 * (libcsv) round trips and errors, pb_row, host facts, cell status and the
 * merge of cell summaries.  The YAML emitter is in test-results-yaml.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/results.h"
#include "util/util.h"
#include "test-results.h"

char tmpdir[4096];

void tmpdir_setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/pb-results-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

void tmpdir_teardown(void)
{
	pb_rm_rf(tmpdir);
}

const char *tpath(char *out, size_t len, const char *rel)
{
	ck_assert_int_eq(pb_path_join(out, len, tmpdir, rel), 0);
	return out;
}

void put_file(const char *rel, const char *text)
{
	char p[4096], d[4096];
	tpath(p, sizeof p, rel);
	pb_dirname(p, d, sizeof d);
	ck_assert_int_eq(pb_mkdir_p(d), 0);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

char *get_file(const char *rel)
{
	char p[4096], *buf;
	if (pb_read_file(tpath(p, sizeof p, rel), &buf, NULL) < 0)
		return NULL;
	return buf;
}

/* ---- CSV */

static const char *nasty[] = {
	"plain", "a,b", "say \"hi\"", "\"", ",", "line1\nline2", "crlf\r\nnext",
	"cr\ronly", " lead", "trail ", "\ttab", "tab\t", "  both  ", "", "ünïcødé ✓ 漢字",
	"x\"\"y", "'single'", "semi;colon", "#hash",
};

START_TEST(csv_roundtrip)
{
	char p[4096];
	const int nf = PB_ARRAY_LEN(nasty);
	size_t longn = 200000;
	char *lng = malloc(longn + 1);
	for (size_t i = 0; i < longn; i++)
		lng[i] = "ab,\"\n c"[i % 7];
	lng[longn] = '\0';

	const char *header[] = { "id", "value", "other" };
	struct pb_csv *w = pb_csv_create(tpath(p, sizeof p, "t.csv"), header, 3);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < nf; i++) {
		char id[16];
		snprintf(id, sizeof id, "%d", i);
		const char *row[] = { id, nasty[i], nasty[nf - 1 - i] };
		ck_assert_int_eq(pb_csv_row(w, row), 0);
	}
	const char *longrow[] = { "long", lng, NULL };
	ck_assert_int_eq(pb_csv_row(w, longrow), 0);
	ck_assert_int_eq(pb_csv_close(w), 0);

	/* only the fields that need it are quoted */
	char *text = get_file("t.csv");
	ck_assert(!strncmp(text, "id,value,other\n0,plain,#hash\n", 29));
	ck_assert_ptr_nonnull(strstr(text, "\n1,\"a,b\","));
	free(text);

	struct pb_table *t;
	char err[512];
	ck_assert_int_eq(pb_csv_read(p, &t, err, sizeof err), 0);
	ck_assert_int_eq(t->ncols, 3);
	ck_assert_int_eq(t->nrows, nf + 1);
	ck_assert_str_eq(t->header[1], "value");
	for (int i = 0; i < nf; i++) {
		ck_assert_str_eq(t->rows[i][1], nasty[i]);
		ck_assert_str_eq(t->rows[i][2], nasty[nf - 1 - i]);
	}
	ck_assert_str_eq(t->rows[nf][1], lng);
	ck_assert_str_eq(t->rows[nf][2], "");        /* NULL written empty */
	ck_assert_int_eq(pb_table_col(t, "other"), 2);
	ck_assert_int_eq(pb_table_col(t, "nope"), -1);
	pb_table_free(t);
	free(lng);
}
END_TEST

START_TEST(csv_one_column_empty_rows)
{
	/* A one-column row with an empty value must not become a blank line. */
	char p[4096], err[256];
	const char *h[] = { "only" };
	const char *rows[][1] = { { "" }, { "x" }, { NULL } };
	struct pb_csv *w = pb_csv_create(tpath(p, sizeof p, "one.csv"), h, 1);
	for (size_t i = 0; i < PB_ARRAY_LEN(rows); i++)
		ck_assert_int_eq(pb_csv_row(w, rows[i]), 0);
	ck_assert_int_eq(pb_csv_close(w), 0);
	struct pb_table *t;
	ck_assert_int_eq(pb_csv_read(p, &t, err, sizeof err), 0);
	ck_assert_int_eq(t->nrows, 3);
	ck_assert_str_eq(t->rows[0][0], "");
	ck_assert_str_eq(t->rows[1][0], "x");
	ck_assert_str_eq(t->rows[2][0], "");
	pb_table_free(t);
}
END_TEST

START_TEST(csv_write_errors)
{
	const char *h[] = { "a" };
	errno = 0;
	ck_assert_ptr_null(pb_csv_create("/nonexistent-dir/x.csv", h, 1));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(pb_csv_create("/tmp/x.csv", h, 0));
	ck_assert_int_eq(errno, EINVAL);
	/* /dev/full accepts the open and fails the flush: close must say so */
	struct pb_csv *w = pb_csv_create("/dev/full", h, 1);
	if (!w)
		return;   /* no /dev/full here */
	const char *row[] = { "v" };
	pb_csv_row(w, row);
	ck_assert_int_eq(pb_csv_close(w), -ENOSPC);
}
END_TEST

static int read_text(const char *rel, const char *text, struct pb_table **t, char *err, size_t len)
{
	char p[4096];
	put_file(rel, text);
	return pb_csv_read(tpath(p, sizeof p, rel), t, err, len);
}

START_TEST(csv_reader_errors)
{
	struct pb_table *t = (void *)1;
	char err[512], p[4096];

	/* unterminated quote: file, offset at the end, and where the row began */
	ck_assert_int_eq(read_text("u.csv", "a,b\n1,2\n3,\"open\n4,5\n", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(strstr(err, tpath(p, sizeof p, "u.csv")));
	ck_assert_ptr_nonnull(strstr(err, "byte offset 20"));
	ck_assert_ptr_nonnull(strstr(err, "line 3, byte offset 8"));
	ck_assert_ptr_nonnull(strstr(err, "unterminated"));

	/* a quote inside an unquoted field: the offset of that quote */
	ck_assert_int_eq(read_text("q.csv", "a,b\nxy,ab\"c\n", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "q.csv: line 2, byte offset 9"));

	/* text after a closing quote */
	ck_assert_int_eq(read_text("q2.csv", "a,b\n\"x\"y,1\n", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "byte offset 7"));

	/* a row longer than the header names the row */
	ck_assert_int_eq(read_text("l.csv", "a,b\n1,2\n1,2,3\n", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "l.csv: line 3: row 2 has 3 fields, the header has 2"));

	ck_assert_int_eq(read_text("e.csv", "", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "e.csv: empty file"));

	ck_assert_int_eq(pb_csv_read(tpath(p, sizeof p, "missing.csv"), &t, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing.csv"));
}
END_TEST

START_TEST(csv_reader_lenient_shapes)
{
	struct pb_table *t;
	char err[256];
	/* BOM, CRLF, blank lines */
	ck_assert_int_eq(read_text("s.csv", "\xef\xbb\xbf" "a,b,c\r\n1,,\r\n\r\n2,\"x\",\r\n3,4,5\r\n",
				   &t, err, sizeof err), 0);
	ck_assert_str_eq(t->header[0], "a");
	ck_assert_int_eq(t->nrows, 3);
	ck_assert_str_eq(t->rows[0][0], "1");
	ck_assert_str_eq(t->rows[0][1], "");
	ck_assert_str_eq(t->rows[0][2], "");
	ck_assert_str_eq(t->rows[1][1], "x");
	ck_assert_str_eq(t->rows[2][2], "5");
	pb_table_free(t);
	/* header only */
	ck_assert_int_eq(read_text("h.csv", "a,b\n", &t, err, sizeof err), 0);
	ck_assert_int_eq(t->ncols, 2);
	ck_assert_int_eq(t->nrows, 0);
	pb_table_free(t);
}
END_TEST

/* Issue 14 item 8: a row cut mid-row (an interrupted writer, a truncated
 * copy) is refused with file and line, never padded into a sample. */
START_TEST(csv_reader_cut_rows)
{
	struct pb_table *t = (void *)1;
	char err[256];
	/* fewer fields than the header, in the middle of the file */
	ck_assert_int_eq(read_text("c1.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n", &t, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, "c1.csv: line 3: row 2 has 2 fields, the header has 3 (a row cut short?)"),
		      "%s", err);
	/* the last row cut inside its last field: the count is right, the
	 * line end is missing */
	ck_assert_int_eq(read_text("c2.csv", "a,b\n1,2.5\n3,4.2", &t, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "c2.csv: line 3, byte offset 10: the last row has no line end"), "%s", err);
	/* ... and cut after its first field */
	ck_assert_int_eq(read_text("c3.csv", "a,b\n1,2\n3", &t, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "c3.csv: line 3: row 2 has 1 fields, the header has 2"), "%s", err);
}
END_TEST

/* Issue 14 item 9: a full disk is reported as one (ENOSPC), not as EIO. */
START_TEST(write_errors_keep_errno)
{
	char p[4096], tmp[4200];
	struct stat st;
	if (stat("/dev/full", &st) < 0) {
		printf("skip: no /dev/full\n");
		return;
	}
	tpath(p, sizeof p, "full.txt");
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	unlink(tmp);
	ck_assert_int_eq(symlink("/dev/full", tmp), 0);
	ck_assert_int_eq(pb_write_file(p, "abc", 3), -ENOSPC);
	unlink(tmp);
}
END_TEST

/* Issue 14 items 7 and 9: reading refuses a folder or a FIFO with the
 * reason, without blocking on the FIFO. */
START_TEST(read_refuses_non_regular)
{
	char p[4096], *buf = NULL;
	size_t n;
	tpath(p, sizeof p, "a-folder");
	mkdir(p, 0700);
	ck_assert_int_eq(pb_read_file(p, &buf, &n), -EISDIR);
	tpath(p, sizeof p, "a-fifo");
	unlink(p);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	int rc = pb_read_file(p, &buf, &n);
	ck_assert_int_eq(rc, -PB_ENOTREG);
	ck_assert_str_eq(pb_strerror(rc), "not a regular file (a FIFO, socket or device)");
	ck_assert_str_eq(pb_strerror(-ENOSPC), strerror(ENOSPC));
	ck_assert_ptr_null(buf);
}
END_TEST

/* Issue 14 item 1: depth is refused while parsing, at the first level too
 * deep, in time independent of how deep the document goes on. */
START_TEST(yaml_depth_while_parsing)
{
	const int n = 100000;
	char *doc = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(doc);
	int k = sprintf(doc, "x: ");
	memset(doc + k, '[', n);
	memset(doc + k + n, ']', n);
	doc[k + 2 * n] = '\0';
	size_t line = 0, col = 0;
	double t0 = pb_now_ms();
	ck_assert_int_eq(pb_yaml_depth_check(doc, strlen(doc), 128, &line, &col), -E2BIG);
	double dt = pb_now_ms() - t0;
	printf("depth-%d flow YAML refused in %.2f ms\n", n, dt);
	ck_assert_int_eq(line, 1);
	ck_assert_int_eq(col, 4 + 127);    /* the 128th '[' is the 129th level */
	/* at the limit it is accepted */
	sprintf(doc, "x: [[1]]");
	ck_assert_int_eq(pb_yaml_depth_check(doc, strlen(doc), 3, &line, &col), 0);
	ck_assert_int_eq(pb_yaml_depth_check(doc, strlen(doc), 2, &line, &col), -E2BIG);
	/* a syntax error is left to the loader */
	sprintf(doc, "x: [1, 2");
	ck_assert_int_eq(pb_yaml_depth_check(doc, strlen(doc), 3, &line, &col), 0);
	free(doc);
}
END_TEST

/* ---- pb_row */

START_TEST(row_behaviour)
{
	struct pb_row r;
	char p[4096], err[256];
	pb_row_init(&r);
	ck_assert_ptr_null(pb_row_get(&r, "x"));
	pb_row_set(&r, "cell_id", "%s-%d", "c", 7);
	pb_row_setd(&r, "ttft_ms", 1.5);
	pb_row_setd(&r, "big", 1234567.0);
	pb_row_setd(&r, "tiny", 0.000123456789);
	pb_row_setd(&r, "missing", NAN);
	pb_row_setd(&r, "pinf", INFINITY);
	pb_row_setd(&r, "ninf", -INFINITY);
	pb_row_set(&r, "note", "%s", "a, \"quoted\" note");
	ck_assert_str_eq(pb_row_get(&r, "cell_id"), "c-7");
	ck_assert_str_eq(pb_row_get(&r, "ttft_ms"), "1.5");
	/* the shortest text that reads back to the same double */
	ck_assert_str_eq(pb_row_get(&r, "big"), "1234567");
	ck_assert_str_eq(pb_row_get(&r, "tiny"), "0.000123456789");
	{
		struct pb_row r2;
		pb_row_init(&r2);
		pb_row_setd(&r2, "third", 1.0 / 3);
		ck_assert_str_eq(pb_row_get(&r2, "third"), "0.3333333333333333");
		ck_assert(strtod(pb_row_get(&r2, "third"), NULL) == 1.0 / 3);
		pb_row_setd(&r2, "kl", 1.49727e-10 + 1e-20);
		ck_assert(strtod(pb_row_get(&r2, "kl"), NULL) == 1.49727e-10 + 1e-20);
		pb_row_free(&r2);
	}
	ck_assert_str_eq(pb_row_get(&r, "missing"), "");
	ck_assert_str_eq(pb_row_get(&r, "pinf"), "inf");
	ck_assert_str_eq(pb_row_get(&r, "ninf"), "-inf");
	/* replacing keeps the column where it was */
	pb_row_setd(&r, "ttft_ms", 2.25);
	ck_assert_int_eq(r.n, 8);
	ck_assert_str_eq(r.keys[1], "ttft_ms");
	ck_assert_str_eq(r.values[1], "2.25");
	for (int i = 0; i < 100; i++)   /* growth */
		pb_row_set(&r, "k", "%d", i);
	ck_assert_str_eq(pb_row_get(&r, "k"), "99");

	ck_assert_int_eq(pb_row_write_csv(&r, tpath(p, sizeof p, "row.csv")), 0);
	struct pb_table *t;
	ck_assert_int_eq(pb_csv_read(p, &t, err, sizeof err), 0);
	ck_assert_int_eq(t->ncols, r.n);
	ck_assert_int_eq(t->nrows, 1);
	for (int i = 0; i < r.n; i++) {
		ck_assert_str_eq(t->header[i], r.keys[i]);
		ck_assert_str_eq(t->rows[0][i], r.values[i]);
	}
	pb_table_free(t);
	pb_row_free(&r);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(pb_row_write_csv(&r, p), -EINVAL);   /* nothing to write */
}
END_TEST

/* ---- host facts */

START_TEST(host_info)
{
	struct pb_host_info hi;
	memset(&hi, 0x55, sizeof hi);
	pb_host_info_read(&hi);
	ck_assert(hi.cpu_model[0] && memchr(hi.cpu_model, 0, sizeof hi.cpu_model));
	ck_assert_int_ge(hi.cores_online, 1);
	ck_assert_int_ge(hi.cores_allowed, 1);
	ck_assert(hi.governor[0]);
	ck_assert(!strncmp(hi.kernel, "Linux ", 6));
	ck_assert(hi.hostname[0] && memchr(hi.hostname, 0, sizeof hi.hostname));
}
END_TEST

/* ---- cell status */

START_TEST(cell_status)
{
	char cells[4096], reason[256];
	tpath(cells, sizeof cells, "cells");
	put_file("cells/ok/manifest.yaml", "id: ok\nconfig:\n  status: failed\nstatus: done\n");
	put_file("cells/bad/manifest.yaml",
		 "id: bad\nhost: {status: x}\nstatus: failed\nreason: \"child killed: SIGSEGV\"\n");
	put_file("cells/run.tmp/manifest.yaml", "status: done\n");
	put_file("cells/empty/requests.csv", "a\n");
	put_file("cells/broken/manifest.yaml", "status: [done\n");
	put_file("cells/odd/manifest.yaml", "status: running\n");
	put_file("cells/nostatus/manifest.yaml", "- a\n- b\n");

	ck_assert_int_eq(pb_cell_status_read(cells, "ok", reason, sizeof reason), PB_CELL_DONE);
	ck_assert_str_eq(reason, "");
	ck_assert_int_eq(pb_cell_status_read(cells, "bad", reason, sizeof reason), PB_CELL_FAILED);
	ck_assert_str_eq(reason, "child killed: SIGSEGV");
	ck_assert_int_eq(pb_cell_status_read(cells, "bad", NULL, 0), PB_CELL_FAILED);
	ck_assert_int_eq(pb_cell_status_read(cells, "run", reason, sizeof reason), PB_CELL_PENDING);
	ck_assert_int_eq(pb_cell_status_read(cells, "absent", reason, sizeof reason), PB_CELL_PENDING);
	ck_assert_int_eq(pb_cell_status_read(cells, "empty", reason, sizeof reason), PB_CELL_PENDING);
	ck_assert_int_eq(pb_cell_status_read(cells, "broken", reason, sizeof reason), PB_CELL_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "broken/manifest.yaml:"));
	ck_assert_int_eq(pb_cell_status_read(cells, "odd", reason, sizeof reason), PB_CELL_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "unknown status 'running'"));
	ck_assert_int_eq(pb_cell_status_read(cells, "nostatus", reason, sizeof reason), PB_CELL_FAILED);

	ck_assert_str_eq(pb_cell_status_name(PB_CELL_PENDING), "pending");
	ck_assert_str_eq(pb_cell_status_name(PB_CELL_DONE), "done");
	ck_assert_str_eq(pb_cell_status_name(PB_CELL_FAILED), "failed");
}
END_TEST

/* ---- merge */

static void merge_fixture(void)
{
	/* folder order a, b, c, f; "a" calls itself m-cell so sorting must use
	 * the column, not the folder */
	put_file("r/cells/a/summary.csv", "cell_id,model,energy_j\nm-cell,t5,1.5\n");
	put_file("r/cells/b/summary.csv", "cell_id,model,ttft_ms\nb,\"llama, 7b\",12\n");
	put_file("r/cells/c/summary.csv", "cell_id,status,reason,model\nc,failed,\"oom\nkilled\",t5\n");
	put_file("r/cells/c/manifest.yaml", "status: failed\nreason: oom\n");
	put_file("r/cells/d.tmp/summary.csv", "cell_id,half\nd,1\n");
	put_file("r/cells/e/requests.csv", "x\n1\n");
	put_file("r/cells/f/summary.csv", "x\n42\n");
	put_file("r/cells/stray.csv", "not,a,folder\n");
}

static int tmp_leftovers(const char *rel)
{
	char p[4096];
	DIR *d = opendir(tpath(p, sizeof p, rel));
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, ".summary.csv.", 13);
	closedir(d);
	return n;
}

START_TEST(merge_cells)
{
	char dir[4096], err[512], p[4096];
	struct pb_table *t;
	merge_fixture();
	tpath(dir, sizeof dir, "r");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), 4);

	ck_assert_int_eq(pb_csv_read(tpath(p, sizeof p, "r/summary.csv"), &t, err, sizeof err), 0);
	const char *want_h[] = { "cell_id", "model", "energy_j", "ttft_ms", "status", "reason", "x" };
	ck_assert_int_eq(t->ncols, (int)PB_ARRAY_LEN(want_h));
	for (size_t i = 0; i < PB_ARRAY_LEN(want_h); i++)
		ck_assert_str_eq(t->header[i], want_h[i]);
	const char *want[4][7] = {
		{ "b", "llama, 7b", "", "12", "", "", "" },
		{ "c", "t5", "", "", "failed", "oom\nkilled", "" },
		{ "f", "", "", "", "", "", "42" },
		{ "m-cell", "t5", "1.5", "", "", "", "" },
	};
	ck_assert_int_eq(t->nrows, 4);
	for (int r = 0; r < 4; r++)
		for (int c = 0; c < 7; c++)
			ck_assert_str_eq(t->rows[r][c], want[r][c]);
	pb_table_free(t);

	/* idempotent, and no temporary left behind */
	char *first = get_file("r/summary.csv");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), 4);
	char *second = get_file("r/summary.csv");
	ck_assert_str_eq(first, second);
	ck_assert_int_eq(tmp_leftovers("r"), 0);
	free(first);
	free(second);
}
END_TEST

START_TEST(merge_malformed_keeps_old_summary)
{
	char dir[4096], err[512];
	merge_fixture();
	tpath(dir, sizeof dir, "r");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), 4);
	char *before = get_file("r/summary.csv");

	put_file("r/cells/g/summary.csv", "cell_id,model\ng,\"never closed\n");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cells/g/summary.csv: byte offset"));
	char *after = get_file("r/summary.csv");
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(tmp_leftovers("r"), 0);
	free(after);

	/* a row wider than its header is malformed too */
	put_file("r/cells/g/summary.csv", "cell_id\ng,1\n");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cells/g/summary.csv: line 2: row 1"));
	after = get_file("r/summary.csv");
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
}
END_TEST

/* A complete cell (manifest.yaml) must bring its row: one whose
 * summary.csv is missing or empty stops the merge with the cell's name,
 * and the old summary stays (issue 14, item 4: it used to be dropped). */
START_TEST(merge_complete_cell_needs_its_row)
{
	char dir[4096], err[1024];
	merge_fixture();
	tpath(dir, sizeof dir, "r");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), 4);
	char *before = get_file("r/summary.csv");

	put_file("r/cells/g/manifest.yaml", "status: done\n");
	put_file("r/cells/g/requests.csv", "x\n1\n");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cells/g: "));
	ck_assert_ptr_nonnull(strstr(err, "no summary.csv"));
	ck_assert_ptr_nonnull(strstr(err, "--cell g --force"));
	char *after = get_file("r/summary.csv");
	ck_assert_str_eq(before, after);
	free(after);

	put_file("r/cells/g/summary.csv", "cell_id,status\n");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cells/g/summary.csv: no rows"));
	after = get_file("r/summary.csv");
	ck_assert_str_eq(before, after);
	free(after);
	ck_assert_int_eq(tmp_leftovers("r"), 0);

	/* with its row it merges; rounds.csv stays optional for every cell */
	put_file("r/cells/g/summary.csv", "cell_id,status\ng,done\n");
	ck_assert_int_eq(pb_results_merge(dir, err, sizeof err), 5);
	free(before);
}
END_TEST

START_TEST(merge_edges)
{
	char dir[4096], err[512];
	ck_assert_int_eq(pb_results_merge(tpath(dir, sizeof dir, "none"), err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "none/cells"));

	put_file("empty/cells/x.tmp/summary.csv", "cell_id\nx\n");
	ck_assert_int_eq(pb_results_merge(tpath(dir, sizeof dir, "empty"), err, sizeof err), 0);
	char *s = get_file("empty/summary.csv");
	ck_assert_str_eq(s, "cell_id\n");
	free(s);
	ck_assert_int_eq(pb_results_merge(dir, NULL, 0), 0);   /* err is optional */
}
END_TEST

static Suite *results_suite(void)
{
	Suite *s = suite_create("results");
	TCase *tc = tcase_create("csv");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, csv_roundtrip);
	tcase_add_test(tc, csv_one_column_empty_rows);
	tcase_add_test(tc, csv_write_errors);
	tcase_add_test(tc, csv_reader_errors);
	tcase_add_test(tc, csv_reader_lenient_shapes);
	tcase_add_test(tc, csv_reader_cut_rows);
	tcase_add_test(tc, write_errors_keep_errno);
	tcase_add_test(tc, read_refuses_non_regular);
	tcase_add_test(tc, yaml_depth_while_parsing);
	tcase_add_test(tc, row_behaviour);
	suite_add_tcase(s, tc);

	tc = tcase_create("cells");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, host_info);
	tcase_add_test(tc, cell_status);
	tcase_add_test(tc, merge_cells);
	tcase_add_test(tc, merge_malformed_keeps_old_summary);
	tcase_add_test(tc, merge_complete_cell_needs_its_row);
	tcase_add_test(tc, merge_edges);
	suite_add_tcase(s, tc);

	suite_add_tcase(s, yaml_tcase());
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(results_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

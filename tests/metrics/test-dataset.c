/* tests/metrics/test-dataset.c — datasets of every kind: fields, prefix,
 * references, the shuffle's determinism, the calibration split, text
 * segments, CSV quoting, and bad records reported at file:line. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/text.h"
#include "util/util.h"

static char tmp[256];

static void setup(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/pb-dataset.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	pb_rm_rf(tmp);
}

static const char *write_tmp(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	ck_assert_int_eq(pb_write_file(path, text, strlen(text)), 0);
	return path;
}

static struct pb_dataset *load(const struct pb_dataset_opts *o)
{
	struct pb_dataset *d = NULL;
	char err[512];
	ck_assert_msg(pb_dataset_load(o, &d, err, sizeof err) == 0, "%s", err);
	return d;
}

/* The error of a load that must fail, with path:line prefix checked. */
static void load_fails(const struct pb_dataset_opts *o, int line, const char *msg)
{
	struct pb_dataset *d = (struct pb_dataset *)1;
	char err[512], want[600];
	ck_assert_int_eq(pb_dataset_load(o, &d, err, sizeof err), -EINVAL);
	ck_assert_ptr_null(d);
	if (line)
		snprintf(want, sizeof want, "%s:%d", o->path, line);
	else
		snprintf(want, sizeof want, "%s: ", o->path);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "expected '%s...', got: %s", want, err);
	ck_assert_msg(strstr(err, msg), "expected '%s' in: %s", msg, err);
}

START_TEST(kinds_from_path)
{
	ck_assert_int_eq(pb_dataset_kind_of_path("a/b.txt"), PB_DATASET_PROMPTS);
	ck_assert_int_eq(pb_dataset_kind_of_path("a/b.jsonl"), PB_DATASET_JSONL);
	ck_assert_int_eq(pb_dataset_kind_of_path("b.csv"), PB_DATASET_CSV);
	ck_assert_int_eq(pb_dataset_kind_of_path("wiki.raw"), PB_DATASET_TEXT);
	ck_assert_int_eq(pb_dataset_kind_of_path("dir.raw/noext"), PB_DATASET_PROMPTS);
	ck_assert_int_eq(pb_dataset_kind_parse("csv"), PB_DATASET_CSV);
	ck_assert_int_eq(pb_dataset_kind_parse("lines"), 0);
	ck_assert_str_eq(pb_dataset_kind_name(PB_DATASET_TEXT), "text");
}
END_TEST

START_TEST(prompts)
{
	char hex[65];
	struct pb_dataset_opts o = {
		.path = write_tmp("p.txt", "first prompt\r\n\nsecond\n\r\nthird, no newline"),
		.kind = PB_DATASET_PROMPTS, .prefix = "Q: ",
	};
	struct pb_dataset *d = load(&o);
	ck_assert_int_eq(d->n, 3);
	ck_assert_int_eq(d->n_records, 3);
	ck_assert_str_eq(d->samples[0].input, "Q: first prompt");
	ck_assert_str_eq(d->samples[2].input, "Q: third, no newline");
	ck_assert_int_eq(d->samples[1].line, 3);
	ck_assert_int_eq(d->samples[2].line, 5);
	ck_assert_ptr_null(d->samples[0].reference);
	ck_assert_int_eq(d->has_reference, 0);
	ck_assert_int_eq(pb_sha256_file(o.path, hex), 0);
	ck_assert_str_eq(d->sha256, hex);
	pb_dataset_free(d);
	o.max_samples = 2;
	d = load(&o);
	ck_assert_int_eq(d->n, 2);
	pb_dataset_free(d);

	o.path = write_tmp("empty.txt", "\n\r\n\n");
	load_fails(&o, 0, "no records (expected one prompt per non-empty line)");
	o.path = write_tmp("nul.txt", "ok\nbad\0byte\n");
	struct pb_dataset *x = NULL;
	char err[512];
	/* write_tmp stops at the NUL: write the bytes directly */
	ck_assert_int_eq(pb_write_file(o.path, "ok\nbad\0byte\n", 12), 0);
	ck_assert_int_eq(pb_dataset_load(&o, &x, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "nul.txt:2: expected text, found a NUL byte"), "%s", err);
	o.path = "/nonexistent/p.txt";
	ck_assert_int_lt(pb_dataset_load(&o, &x, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/p.txt: cannot read"));
}
END_TEST

START_TEST(jsonl)
{
	struct pb_dataset_opts o = {
		.path = write_tmp("d.jsonl",
				  "{\"article\": \"a \\\"quoted\\\" \\u00e9\", \"highlights\": \"A.\", \"id\": 1}\n"
				  "\n"
				  "{\"article\":\"b\", \"highlights\": \"B\"}\r\n"),
		.kind = PB_DATASET_JSONL, .input = "article", .reference = "highlights",
		.prefix = "summarize: ",
	};
	struct pb_dataset *d = load(&o);
	ck_assert_int_eq(d->n, 2);
	ck_assert_int_eq(d->has_reference, 1);
	ck_assert_str_eq(d->samples[0].input, "summarize: a \"quoted\" \xc3\xa9");
	ck_assert_str_eq(d->samples[0].reference, "A.");
	ck_assert_str_eq(d->samples[1].input, "summarize: b");
	ck_assert_str_eq(d->samples[1].reference, "B");
	ck_assert_int_eq(d->samples[1].line, 3);
	pb_dataset_free(d);

	/* default input field "prompt" */
	o = (struct pb_dataset_opts){ .path = write_tmp("p.jsonl", "{\"prompt\": \"x\"}\n"),
				      .kind = PB_DATASET_JSONL };
	d = load(&o);
	ck_assert_str_eq(d->samples[0].input, "x");
	pb_dataset_free(d);

	/* bad records name their line */
	o.path = write_tmp("bad.jsonl", "{\"prompt\": \"ok\"}\n\n{\"prompt\": 5}\n");
	load_fails(&o, 3, "expected a JSON object with a string field 'prompt'");
	o.path = write_tmp("noref.jsonl", "{\"prompt\": \"ok\", \"ref\": \"r\"}\n{\"prompt\": \"no\"}\n");
	o.reference = "ref";
	load_fails(&o, 2, "expected a JSON object with a string field 'ref'");
	o.reference = NULL;
	o.path = write_tmp("arr.jsonl", "[\"prompt\"]\n");
	load_fails(&o, 1, "expected a JSON object");
	o.path = write_tmp("broken.jsonl", "{\"prompt\": \"ok\"}\n{\"prompt\": \n");
	load_fails(&o, 2, "invalid JSON");
}
END_TEST

START_TEST(csv)
{
	/* quoting: commas, doubled quotes and a newline inside fields */
	struct pb_dataset_opts o = {
		.path = write_tmp("d.csv",
				  "id,question,answer\n"
				  "1,\"Hello, world\",\"say \"\"hi\"\"\"\n"
				  "\n"
				  "2,\"two\nlines\",b\r\n"
				  "3,plain,c"),
		.kind = PB_DATASET_CSV, .input = "question", .reference = "answer", .prefix = "> ",
	};
	struct pb_dataset *d = load(&o);
	ck_assert_int_eq(d->n, 3);
	ck_assert_str_eq(d->samples[0].input, "> Hello, world");
	ck_assert_str_eq(d->samples[0].reference, "say \"hi\"");
	ck_assert_str_eq(d->samples[1].input, "> two\nlines");
	ck_assert_str_eq(d->samples[2].input, "> plain");
	ck_assert_str_eq(d->samples[2].reference, "c");
	ck_assert_int_eq(d->samples[0].line, 2);
	ck_assert_int_eq(d->samples[1].line, 4);   /* starts on 4, ends on 5 */
	ck_assert_int_eq(d->samples[2].line, 6);
	pb_dataset_free(d);

	/* a short row after a multi-line one: its own line number */
	o.path = write_tmp("short.csv", "q,a\n\"x\ny\",1\nonly\n");
	o.input = "q";
	o.reference = "a";
	load_fails(&o, 4, "expected 2 fields as in the header, got 1");
	o.input = "prompt";
	o.reference = NULL;
	load_fails(&o, 1, "no column 'prompt' in the header (columns: 'q', 'a')");
	o.input = "q";
	o.path = write_tmp("quote.csv", "q,a\n\"open,1\n");
	load_fails(&o, 2, "malformed CSV");
	o.path = write_tmp("stray.csv", "q,a\nx\"y\"z,1\n");
	load_fails(&o, 2, "malformed CSV");
	o.path = write_tmp("hdr.csv", "q,a\n");
	load_fails(&o, 0, "no records");
}
END_TEST

START_TEST(text_segments)
{
	/* small text: one segment, separators kept */
	const char *small = "Once upon a time.\n<|endoftext|>\nThe end.\n";
	struct pb_dataset_opts o = { .path = write_tmp("s.raw", small), .kind = PB_DATASET_TEXT };
	struct pb_dataset *d = load(&o);
	ck_assert_int_eq(d->n, 1);
	ck_assert_str_eq(d->samples[0].input, small);
	pb_dataset_free(d);

	/* 300 lines of 30 bytes: segments of whole lines, <= 4096 bytes,
	 * which joined give the file back */
	size_t cap = 300 * 31 + 5000;
	char *big = malloc(cap), *line = big;
	for (int i = 0; i < 300; i++)
		line += sprintf(line, "line %03d: abcdefghijklmnopq\n", i);
	/* and one line longer than a segment, with a 2-byte character */
	memset(line, 'x', 4500);
	memcpy(line + 4095, "\xc3\xa9", 2);
	line[4500] = '\0';
	o.path = write_tmp("big.raw", big);
	d = load(&o);
	ck_assert_int_gt(d->n, 3);
	size_t total = 0;
	for (int i = 0; i < d->n; i++) {
		size_t l = strlen(d->samples[i].input);
		ck_assert_uint_le(l, PB_TEXT_SEGMENT_BYTES);
		ck_assert_msg(!strncmp(d->samples[i].input, big + total, l), "segment %d", i);
		total += l;
		if (i + 2 < d->n)   /* full segments end at a line end */
			ck_assert_int_eq(d->samples[i].input[l - 1], '\n');
	}
	ck_assert_uint_eq(total, strlen(big));
	ck_assert_int_eq(d->samples[0].line, 1);
	ck_assert_int_gt(d->samples[1].line, 100);
	/* the cut inside the long line does not split the é */
	const char *last = d->samples[d->n - 1].input;
	ck_assert((unsigned char)last[0] != 0xa9);
	pb_dataset_free(d);
	free(big);
}
END_TEST

/* Order of the records' first bytes, as a string. */
static void order(const struct pb_dataset *d, char *out)
{
	for (int i = 0; i < d->n; i++)
		out[i] = d->samples[i].input[0];
	out[d->n] = '\0';
}

START_TEST(shuffle_and_calibration)
{
	struct pb_dataset_opts o = {
		.path = write_tmp("ten.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"),
		.kind = PB_DATASET_PROMPTS, .shuffle = 1, .seed = 42,
	};
	char o1[16], o2[16], o3[16], sorted[16];
	struct pb_dataset *d = load(&o);
	order(d, o1);
	pb_dataset_free(d);
	d = load(&o);
	order(d, o2);
	pb_dataset_free(d);
	ck_assert_str_eq(o1, o2);                  /* the seed decides */
	ck_assert_str_ne(o1, "abcdefghij");
	o.seed = 43;
	d = load(&o);
	order(d, o3);
	pb_dataset_free(d);
	ck_assert_str_ne(o1, o3);
	/* a permutation */
	strcpy(sorted, o1);
	for (int i = 0; i < 10; i++)
		for (int j = i + 1; j < 10; j++)
			if (sorted[j] < sorted[i]) {
				char t = sorted[i];
				sorted[i] = sorted[j];
				sorted[j] = t;
			}
	ck_assert_str_eq(sorted, "abcdefghij");

	/* calibration: the last 3 of the shuffled order, disjoint from the
	 * evaluated ones, also with max_samples */
	o.seed = 42;
	o.calib_count = 3;
	o.max_samples = 5;
	d = load(&o);
	ck_assert_int_eq(d->n, 5);
	ck_assert_int_eq(d->n_calib, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(d->calib[i].input[0], o1[7 + i]);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(d->samples[i].input[0], o1[i]);
		for (int j = 0; j < 3; j++)
			ck_assert_str_ne(d->samples[i].input, d->calib[j].input);
	}
	pb_dataset_free(d);
	/* without shuffle: from the end of the file */
	o.shuffle = 0;
	o.max_samples = 0;
	d = load(&o);
	ck_assert_int_eq(d->n, 7);
	ck_assert_str_eq(d->calib[0].input, "h");
	ck_assert_str_eq(d->calib[2].input, "j");
	ck_assert_str_eq(d->samples[6].input, "g");
	pb_dataset_free(d);
	o.calib_count = 10;
	load_fails(&o, 0, "the calibration split needs 10 records");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("dataset");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, kinds_from_path);
	tcase_add_test(tc, prompts);
	tcase_add_test(tc, jsonl);
	tcase_add_test(tc, csv);
	tcase_add_test(tc, text_segments);
	tcase_add_test(tc, shuffle_and_calibration);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tests/experiment/test-options.c — option tables (core/plugin/options.c):
 * parsing every type, bounds and messages, formatting round trips, the
 * table checker and the suggestions. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "fake.h"

struct all_cfg {
	int b;
	int64_t i;
	double d;
	char s[PB_OPT_STR_MAX];
	int e;
};

static const struct pb_option all_opts[] = {
	{ "flag", PB_OPT_BOOL, offsetof(struct all_cfg, b), "yes", 0, 0, NULL, "" },
	{ "count", PB_OPT_INT, offsetof(struct all_cfg, i), "3", -5, 10, NULL, "" },
	{ "ratio", PB_OPT_DOUBLE, offsetof(struct all_cfg, d), "0.25", 0, 1, NULL, "" },
	{ "label", PB_OPT_STRING, offsetof(struct all_cfg, s), "hi", 0, 0, NULL, "" },
	{ "mode", PB_OPT_ENUM, offsetof(struct all_cfg, e), "fast", 0, 0, "slow|fast|exact", "" },
	{ "free", PB_OPT_DOUBLE, offsetof(struct all_cfg, d), NULL, 1, 0, NULL, "unbounded" },
	PB_OPTIONS_END
};

#define OPT(k) pb_option_find(all_opts, k)

START_TEST(test_bool)
{
	struct all_cfg c = { 0 };
	char err[256];
	const char *yes[] = { "true", "yes", "on", "1", "True", "YES" };
	const char *no[] = { "false", "no", "off", "0", "False" };
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		c.b = 0;
		ck_assert_int_eq(pb_option_parse(OPT("flag"), &c, yes[i], err, sizeof err), 0);
		ck_assert_int_eq(c.b, 1);
	}
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		c.b = 1;
		ck_assert_int_eq(pb_option_parse(OPT("flag"), &c, no[i], err, sizeof err), 0);
		ck_assert_int_eq(c.b, 0);
	}
	ck_assert_int_eq(pb_option_parse(OPT("flag"), &c, "maybe", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected true or false, got 'maybe'");
	ck_assert_int_eq(pb_option_parse(OPT("flag"), &c, "2", err, sizeof err), -EINVAL);
}
END_TEST

START_TEST(test_int)
{
	struct all_cfg c = { 0 };
	char err[256];
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "-5", err, sizeof err), 0);
	ck_assert_int_eq(c.i, -5);
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "10", err, sizeof err), 0);
	ck_assert_int_eq(c.i, 10);
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "11", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected an integer between -5 and 10, got '11'");
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "2.5", err, sizeof err), -EINVAL);
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "", err, sizeof err), -EINVAL);
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "4x", err, sizeof err), -EINVAL);
	ck_assert_int_eq(pb_option_parse(OPT("count"), &c, "99999999999999999999", err, sizeof err),
			 -EINVAL);
	ck_assert_int_eq(c.i, 10);   /* untouched by failures */
}
END_TEST

START_TEST(test_double)
{
	struct all_cfg c = { 0 };
	char err[256];
	ck_assert_int_eq(pb_option_parse(OPT("ratio"), &c, "0.3", err, sizeof err), 0);
	ck_assert(c.d == 0.3);
	ck_assert_int_eq(pb_option_parse(OPT("ratio"), &c, "1", err, sizeof err), 0);
	ck_assert_int_eq(pb_option_parse(OPT("ratio"), &c, "1.5", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected a number between 0 and 1, got '1.5'");
	ck_assert_int_eq(pb_option_parse(OPT("ratio"), &c, "0.5abc", err, sizeof err), -EINVAL);
	ck_assert_int_eq(pb_option_parse(OPT("ratio"), &c, "nan", err, sizeof err), -EINVAL);
	ck_assert_int_eq(pb_option_parse(OPT("free"), &c, "-1e300", err, sizeof err), 0);
	ck_assert_int_eq(pb_option_parse(OPT("free"), &c, "inf", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected a finite number, got 'inf'");
}
END_TEST

START_TEST(test_string_enum)
{
	struct all_cfg c = { 0 };
	char err[256], big[PB_OPT_STR_MAX + 1];
	ck_assert_int_eq(pb_option_parse(OPT("label"), &c, "hello world", err, sizeof err), 0);
	ck_assert_str_eq(c.s, "hello world");
	memset(big, 'x', PB_OPT_STR_MAX - 1);
	big[PB_OPT_STR_MAX - 1] = '\0';
	ck_assert_int_eq(pb_option_parse(OPT("label"), &c, big, err, sizeof err), 0);
	big[PB_OPT_STR_MAX - 1] = 'x';
	big[PB_OPT_STR_MAX] = '\0';
	ck_assert_int_eq(pb_option_parse(OPT("label"), &c, big, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at most 255 bytes"));

	ck_assert_int_eq(pb_option_parse(OPT("mode"), &c, "exact", err, sizeof err), 0);
	ck_assert_int_eq(c.e, 2);
	ck_assert_int_eq(pb_option_parse(OPT("mode"), &c, "slow", err, sizeof err), 0);
	ck_assert_int_eq(c.e, 0);
	ck_assert_int_eq(pb_option_parse(OPT("mode"), &c, "fats", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected one of slow|fast|exact, got 'fats' (did you mean 'fast'?)");
	ck_assert_int_eq(pb_option_parse(OPT("mode"), &c, "sl", err, sizeof err), -EINVAL);
	ck_assert_str_eq(err, "expected one of slow|fast|exact, got 'sl'");
	ck_assert_int_eq(pb_option_parse(OPT("mode"), &c, "", err, sizeof err), -EINVAL);
}
END_TEST

START_TEST(test_defaults_format_roundtrip)
{
	struct all_cfg c, d;
	char text[PB_OPT_STR_MAX + 8];
	memset(&c, 0xab, sizeof c);
	ck_assert_int_eq(pb_options_defaults(all_opts, &c, sizeof c), 0);
	ck_assert_int_eq(c.b, 1);
	ck_assert_int_eq(c.i, 3);
	ck_assert(c.d == 0.25);   /* "free" has no default: it did not overwrite */
	ck_assert_str_eq(c.s, "hi");
	ck_assert_int_eq(c.e, 1);

	const char *vals[][2] = {
		{ "flag", "off" }, { "count", "-4" }, { "ratio", "0.1" }, { "label", "a: b \"q\"" },
		{ "mode", "exact" },
	};
	const char *want[] = { "false", "-4", "0.1", "a: b \"q\"", "exact" };
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(pb_option_parse(OPT(vals[i][0]), &c, vals[i][1], NULL, 0), 0);
		ck_assert_int_eq(pb_option_format(OPT(vals[i][0]), &c, text, sizeof text), 0);
		ck_assert_str_eq(text, want[i]);
		memset(&d, 0, sizeof d);
		ck_assert_int_eq(pb_option_parse(OPT(vals[i][0]), &d, text, NULL, 0), 0);
	}
	ck_assert_int_eq(memcmp(&c.e, &d.e, sizeof c.e), 0);
	/* Doubles: shortest text that reads back exactly. */
	c.d = 1.0 / 3.0;
	ck_assert_int_eq(pb_option_format(OPT("ratio"), &c, text, sizeof text), 0);
	ck_assert(strtod(text, NULL) == 1.0 / 3.0);
	c.d = 0.7;
	ck_assert_int_eq(pb_option_format(OPT("ratio"), &c, text, sizeof text), 0);
	ck_assert_str_eq(text, "0.7");
	c.e = 7;   /* corrupt enum index */
	ck_assert_int_lt(pb_option_format(OPT("mode"), &c, text, sizeof text), 0);
	ck_assert_int_eq(pb_option_format(OPT("ratio"), &c, text, 2), -ENOSPC);
}
END_TEST

static int check(const struct pb_option *t, size_t size, char *why)
{
	return pb_options_check_table(t, size, why, 256);
}

START_TEST(test_check_table)
{
	char why[256];
	ck_assert_int_eq(check(all_opts, sizeof(struct all_cfg), why), 0);
	ck_assert_int_eq(check(mag_options, sizeof(struct mag_cfg), why), 0);
	ck_assert_int_eq(check(NULL, 0, why), 0);

	struct pb_option dup[] = { all_opts[0], all_opts[0], PB_OPTIONS_END };
	ck_assert_int_eq(check(dup, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'flag' is declared twice"));

	struct pb_option empty[] = { all_opts[0], PB_OPTIONS_END };
	empty[0].key = "";
	ck_assert_int_eq(check(empty, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "empty key"));

	struct pb_option type[] = { all_opts[1], PB_OPTIONS_END };
	type[0].type = (enum pb_opt_type)99;
	ck_assert_int_eq(check(type, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'count' has an invalid type"));

	/* The string needs PB_OPT_STR_MAX bytes at its offset. */
	ck_assert_int_eq(check(all_opts, offsetof(struct all_cfg, s) + 10, why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'label'"));
	ck_assert_ptr_nonnull(strstr(why, "outside the config"));

	struct pb_option nochoice[] = { all_opts[4], PB_OPTIONS_END };
	nochoice[0].choices = NULL;
	ck_assert_int_eq(check(nochoice, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'mode' is an enum without choices"));

	struct pb_option baddef[] = { all_opts[2], PB_OPTIONS_END };
	baddef[0].def = "2";
	ck_assert_int_eq(check(baddef, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_str_eq(why, "option 'ratio': default '2': expected a number between 0 and 1, got '2'");

	struct pb_option badenum[] = { all_opts[4], PB_OPTIONS_END };
	badenum[0].def = "quick";
	ck_assert_int_eq(check(badenum, sizeof(struct all_cfg), why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "'mode'"));
}
END_TEST

START_TEST(test_find_suggest_distance)
{
	ck_assert_int_eq(pb_edit_distance("", ""), 0);
	ck_assert_int_eq(pb_edit_distance("abc", ""), 3);
	ck_assert_int_eq(pb_edit_distance("kitten", "sitting"), 3);
	ck_assert_int_eq(pb_edit_distance("sparsty", "sparsity"), 1);
	ck_assert_ptr_eq(pb_option_find(all_opts, "ratio"), &all_opts[2]);
	ck_assert_ptr_null(pb_option_find(all_opts, "rati"));
	ck_assert_ptr_null(pb_option_find(NULL, "x"));
	ck_assert_str_eq(pb_option_suggest(all_opts, "rati"), "ratio");
	ck_assert_str_eq(pb_option_suggest(mag_options, "sparsty"), "sparsity");
	ck_assert_str_eq(pb_option_suggest(mag_options, "tensor"), "tensors");
	ck_assert_ptr_null(pb_option_suggest(mag_options, "completely-different"));
	ck_assert_ptr_null(pb_option_suggest(all_opts, "x"));
}
END_TEST

TCase *tcase_options(void)
{
	TCase *tc = tcase_create("options");
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_double);
	tcase_add_test(tc, test_string_enum);
	tcase_add_test(tc, test_defaults_format_roundtrip);
	tcase_add_test(tc, test_check_table);
	tcase_add_test(tc, test_find_suggest_distance);
	return tc;
}

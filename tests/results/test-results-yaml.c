/* tests/results/test-results-yaml.c — the manifest emitter: what it writes
 * must parse back (with libyaml) to the same structure, and strings that a
 * YAML reader would take for numbers, booleans or null stay strings. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "results/results.h"
#include "util/util.h"
#include "test-results.h"

struct doc {
	yaml_parser_t p;
	yaml_document_t d;
};

static void doc_load(struct doc *x, const char *rel)
{
	char p[4096];
	FILE *f = fopen(tpath(p, sizeof p, rel), "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert(yaml_parser_initialize(&x->p));
	yaml_parser_set_input_file(&x->p, f);
	ck_assert_msg(yaml_parser_load(&x->p, &x->d), "%s does not parse: %s", rel,
		      x->p.problem ? x->p.problem : "?");
	fclose(f);
}

static void doc_free(struct doc *x)
{
	yaml_document_delete(&x->d);
	yaml_parser_delete(&x->p);
}

static yaml_node_t *get(struct doc *x, yaml_node_t *map, const char *key)
{
	ck_assert_ptr_nonnull(map);
	ck_assert_int_eq(map->type, YAML_MAPPING_NODE);
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&x->d, pr->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(&x->d, pr->value);
	}
	ck_abort_msg("no key '%s'", key);
	return NULL;
}

static yaml_node_t *item(struct doc *x, yaml_node_t *seq, int i)
{
	ck_assert_int_eq(seq->type, YAML_SEQUENCE_NODE);
	ck_assert_int_lt(i, (int)(seq->data.sequence.items.top - seq->data.sequence.items.start));
	return yaml_document_get_node(&x->d, seq->data.sequence.items.start[i]);
}

static int nitems(yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* A string value: same text, and not plain when plain would change its type. */
static void want_str(yaml_node_t *n, const char *s, int must_quote)
{
	ck_assert_int_eq(n->type, YAML_SCALAR_NODE);
	ck_assert_str_eq((char *)n->data.scalar.value, s);
	if (must_quote)
		ck_assert_int_ne(n->data.scalar.style, YAML_PLAIN_SCALAR_STYLE);
}

static void want_plain(yaml_node_t *n, const char *s)
{
	want_str(n, s, 0);
	ck_assert_int_eq(n->data.scalar.style, YAML_PLAIN_SCALAR_STYLE);
}

static const struct { const char *s; int quote; } tricky[] = {
	{ "yes", 1 }, { "No", 1 }, { "on", 1 }, { "true", 1 }, { "y", 1 }, { "null", 1 },
	{ "~", 1 }, { "", 1 }, { "1.0", 1 }, { "42", 1 }, { "-7", 1 }, { "0x1F", 1 },
	{ "1e3", 1 }, { ".inf", 1 }, { "-.NaN", 1 }, { "12:30", 1 }, { "2026-01-02", 1 },
	{ "<<", 1 }, { "a: b", 0 }, { "#x", 0 }, { "x #y", 0 }, { "multi\nline\n", 0 },
	{ "  leading", 0 }, { "trailing  ", 0 }, { "- dash", 0 }, { "[x]", 0 }, { "{y}", 0 },
	{ "@at", 0 }, { "`tick", 0 }, { "!bang", 0 }, { "&amp", 0 }, { "*star", 0 },
	{ "%pct", 0 }, { "'single'", 0 }, { "\"double\"", 0 }, { "ünïcødé ✓", 0 },
	{ "tab\there", 0 }, { "bell\a", 0 }, { "wanda-50 (2:4)", 0 }, { "plain words", 0 },
	{ "?", 0 }, { ":", 0 }, { "|", 0 }, { ">", 0 },
	{ "  indented\nfirst line", 0 }, { "trailing \nspace", 0 }, { "a\n\n\nb", 0 },
	{ "\nstarts with a newline", 0 }, { "ends with two\n\n", 0 }, { "crlf\r\nline", 0 },
	{ "tab\tin\nlines\t", 0 },
};

START_TEST(yaml_roundtrip)
{
	char p[4096], key[32];
	struct pb_yaml_out *y = pb_yaml_open(tpath(p, sizeof p, "m.yaml"));
	ck_assert_ptr_nonnull(y);
	pb_yaml_kv(y, "status", "done");
	pb_yaml_kv(y, "seed", "%d", 42);
	pb_yaml_kv(y, "ratio", "%.2f", 0.5);
	pb_yaml_kv(y, "big", "%llu", 18446744073709551615ull);
	pb_yaml_kv(y, "pinf", "%g", INFINITY);
	pb_yaml_kv(y, "nan", "%g", NAN);
	pb_yaml_kv_bool(y, "fast", 1);
	pb_yaml_kv(y, "version_str", "%s", "1.0");
	pb_yaml_kv(y, "yes", "%s", "key that looks like a bool");
	pb_yaml_kv(y, "bad_utf8", "%s", "a\xff" "b");
	pb_yaml_map_begin(y, "strings");
	for (size_t i = 0; i < PB_ARRAY_LEN(tricky); i++) {
		snprintf(key, sizeof key, "s%zu", i);
		pb_yaml_kv(y, key, "%s", tricky[i].s);
	}
	pb_yaml_map_end(y);
	pb_yaml_seq_begin(y, "plugins");
	pb_yaml_map_begin(y, NULL);
	pb_yaml_kv(y, "name", "wanda");
	pb_yaml_kv(y, "version", "%s", "0.1");
	pb_yaml_map_end(y);
	pb_yaml_kv(y, NULL, "%s", "scalar item");
	pb_yaml_seq_begin(y, NULL);
	pb_yaml_seq_end(y);
	pb_yaml_seq_end(y);
	pb_yaml_seq_begin(y, "empty");
	pb_yaml_seq_end(y);
	ck_assert_int_eq(pb_yaml_close(y), 0);
	ck_assert_int_ne(access(tpath(p, sizeof p, "m.yaml.tmp"), F_OK), 0);

	struct doc x;
	doc_load(&x, "m.yaml");
	yaml_node_t *root = yaml_document_get_root_node(&x.d);
	want_plain(get(&x, root, "status"), "done");
	want_plain(get(&x, root, "seed"), "42");
	want_plain(get(&x, root, "ratio"), "0.50");
	want_plain(get(&x, root, "big"), "18446744073709551615");
	want_plain(get(&x, root, "pinf"), ".inf");
	want_plain(get(&x, root, "nan"), ".nan");
	want_plain(get(&x, root, "fast"), "true");
	want_str(get(&x, root, "version_str"), "1.0", 1);
	want_str(get(&x, root, "bad_utf8"), "a\xef\xbf\xbd" "b", 0);
	/* the key "yes" must be quoted too */
	char *text = get_file("m.yaml");
	ck_assert_ptr_nonnull(strstr(text, "\n'yes': "));
	ck_assert_ptr_nonnull(strstr(text, "status: done\n"));
	free(text);

	yaml_node_t *strs = get(&x, root, "strings");
	ck_assert_int_eq(nitems(strs), (int)PB_ARRAY_LEN(tricky));
	for (size_t i = 0; i < PB_ARRAY_LEN(tricky); i++) {
		snprintf(key, sizeof key, "s%zu", i);
		want_str(get(&x, strs, key), tricky[i].s, tricky[i].quote);
	}
	yaml_node_t *pl = get(&x, root, "plugins");
	ck_assert_int_eq(nitems(pl), 3);
	want_plain(get(&x, item(&x, pl, 0), "name"), "wanda");
	want_str(get(&x, item(&x, pl, 0), "version"), "0.1", 1);
	want_str(item(&x, pl, 1), "scalar item", 0);
	ck_assert_int_eq(nitems(item(&x, pl, 2)), 0);
	ck_assert_int_eq(nitems(get(&x, root, "empty")), 0);
	doc_free(&x);
}
END_TEST

START_TEST(yaml_explicit_root)
{
	char p[4096];
	struct pb_yaml_out *y = pb_yaml_open(tpath(p, sizeof p, "r.yaml"));
	pb_yaml_map_begin(y, NULL);     /* names the root pb_yaml_open started */
	pb_yaml_kv(y, "a", "b");
	pb_yaml_map_end(y);
	ck_assert_int_eq(pb_yaml_close(y), 0);
	char *t = get_file("r.yaml");
	ck_assert_str_eq(t, "a: b\n");
	free(t);
}
END_TEST

START_TEST(yaml_misuse_drops_file)
{
	char p[4096];
	struct pb_yaml_out *y = pb_yaml_open(tpath(p, sizeof p, "bad.yaml"));
	pb_yaml_seq_begin(y, "list");
	pb_yaml_kv(y, "key-in-seq", "x");
	ck_assert_int_eq(pb_yaml_close(y), -EINVAL);
	ck_assert_ptr_null(get_file("bad.yaml"));
	ck_assert_ptr_null(get_file("bad.yaml.tmp"));

	y = pb_yaml_open(p);
	pb_yaml_map_begin(y, "open");
	ck_assert_int_eq(pb_yaml_close(y), -EINVAL);
	ck_assert_ptr_null(get_file("bad.yaml"));

	y = pb_yaml_open(p);
	pb_yaml_seq_end(y);
	ck_assert_int_eq(pb_yaml_close(y), -EINVAL);

	y = pb_yaml_open(p);
	pb_yaml_kv(y, NULL, "no key in a mapping");
	ck_assert_int_eq(pb_yaml_close(y), -EINVAL);

	errno = 0;
	ck_assert_ptr_null(pb_yaml_open("/nonexistent-dir/m.yaml"));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(yaml_kv_yaml_nesting)
{
	char p[4096];
	const char *cfg =
		"model: t5-small\n"
		"seed: 7\n"
		"quoted: '1.0'\n"
		"chain: [wanda, {quant: {bits: 4, group: 32}}]\n"
		"empty_map: {}\n"
		"anchor: &a {x: 1}\n"
		"alias: *a\n"
		"notes: |\n"
		"  line one\n"
		"  line: two\n";
	struct pb_yaml_out *y = pb_yaml_open(tpath(p, sizeof p, "k.yaml"));
	pb_yaml_kv(y, "id", "cell");
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "config", cfg), 0);
	/* a parse error is refused before anything is written */
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "broken", "a: [1, 2\nb: c"), -EINVAL);
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "scalar", "just text"), 0);
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "nothing", ""), 0);
	pb_yaml_seq_begin(y, "list");
	ck_assert_int_eq(pb_yaml_kv_yaml(y, NULL, "[1, two]"), 0);
	pb_yaml_seq_end(y);
	pb_yaml_kv(y, "after", "%d", 1);
	ck_assert_int_eq(pb_yaml_close(y), 0);

	struct doc x;
	doc_load(&x, "k.yaml");
	yaml_node_t *root = yaml_document_get_root_node(&x.d);
	ck_assert_int_eq(nitems(root), 6);   /* no "broken" */
	yaml_node_t *c = get(&x, root, "config");
	want_plain(get(&x, c, "model"), "t5-small");
	want_plain(get(&x, c, "seed"), "7");
	want_str(get(&x, c, "quoted"), "1.0", 1);
	yaml_node_t *chain = get(&x, c, "chain");
	ck_assert_int_eq(nitems(chain), 2);
	want_plain(item(&x, chain, 0), "wanda");
	yaml_node_t *q = get(&x, item(&x, chain, 1), "quant");
	want_plain(get(&x, q, "bits"), "4");
	want_plain(get(&x, q, "group"), "32");
	ck_assert_int_eq(nitems(get(&x, c, "empty_map")), 0);
	want_plain(get(&x, get(&x, c, "alias"), "x"), "1");
	want_str(get(&x, c, "notes"), "line one\nline: two\n", 1);
	want_plain(get(&x, root, "scalar"), "just text");
	want_plain(get(&x, root, "nothing"), "null");
	yaml_node_t *l = item(&x, get(&x, root, "list"), 0);
	want_plain(item(&x, l, 1), "two");
	want_plain(get(&x, root, "after"), "1");
	doc_free(&x);
	char *t = get_file("k.yaml");
	ck_assert_ptr_null(strstr(t, "&"));   /* aliases are expanded, not re-anchored */
	free(t);
}
END_TEST

START_TEST(yaml_kv_yaml_limits)
{
	char p[4096];
	/* aliases that would expand to 10^9 nodes */
	const char *bomb =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	char deep[512] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	struct pb_yaml_out *y = pb_yaml_open(tpath(p, sizeof p, "b.yaml"));
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "bomb", bomb), -E2BIG);
	ck_assert_int_eq(pb_yaml_kv_yaml(y, "deep", deep), -ELOOP);
	/* a node that contains itself: refused, whether libyaml loads it or not */
	int self = pb_yaml_kv_yaml(y, "self", "&a [x, *a]");
	ck_assert(self == -ELOOP || self == -EINVAL);
	pb_yaml_kv(y, "ok", "yes it is");
	ck_assert_int_eq(pb_yaml_close(y), 0);
	char *t = get_file("b.yaml");
	ck_assert_str_eq(t, "ok: yes it is\n");
	free(t);
}
END_TEST

TCase *yaml_tcase(void)
{
	TCase *tc = tcase_create("yaml");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, yaml_roundtrip);
	tcase_add_test(tc, yaml_explicit_root);
	tcase_add_test(tc, yaml_misuse_drops_file);
	tcase_add_test(tc, yaml_kv_yaml_nesting);
	tcase_add_test(tc, yaml_kv_yaml_limits);
	return tc;
}

/* tests/netem/test-netem.c — emulated links (core/run/netem.c) and the
 * experiment keys of a served cell (core/experiment/network.c, steps.c),
 * without root: the names and addresses of a link, every ip/tc command
 * line it runs, the netem arguments of each preset, the preset table,
 * and what validate accepts and refuses about `serve:` and `network:`. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment/experiment.h"
#include "run/netem.h"
#include "util/util.h"

static void text_of(const struct pb_netem_cmd *c, char *out)
{
	pb_netem_cmd_text(c, out, 1024);
}

START_TEST(names_and_addresses)
{
	struct pb_netns n;
	pb_netns_names(&n, 4321);
	ck_assert_str_eq(n.ns, "pbnet-4321");
	ck_assert_str_eq(n.veth_host, "pbh4321");
	ck_assert_str_eq(n.veth_ns, "pbn4321");
	/* 4321 = 67 × 64 + 33: subnet 10.213.67.132/30 */
	ck_assert_str_eq(n.addr_host, "10.213.67.133");
	ck_assert_str_eq(n.addr_ns, "10.213.67.134");
	/* the largest Linux pid still fits an interface name (15 chars) */
	pb_netns_names(&n, 4194304);
	ck_assert_str_eq(n.veth_host, "pbh4194304");
	ck_assert_int_lt((int)strlen(n.veth_ns), 16);
	ck_assert_str_eq(n.addr_host, "10.213.0.1");
	ck_assert_str_eq(n.addr_ns, "10.213.0.2");
}
END_TEST

START_TEST(setup_commands)
{
	struct pb_netns n;
	struct pb_netem_cmd c[12];
	char t[1024];
	struct pb_link l = { "custom", 50, 5, 1, 12 };
	pb_netns_names(&n, 7);
	int k = pb_netem_setup_cmds(&n, &l, c, 12);
	static const char *const want[] = {
		"ip netns add pbnet-7",
		"ip link add pbh7 type veth peer name pbn7",
		"ip link set pbn7 netns pbnet-7",
		"ip addr add 10.213.0.29/30 dev pbh7",
		"ip link set pbh7 up",
		"ip -n pbnet-7 addr add 10.213.0.30/30 dev pbn7",
		"ip -n pbnet-7 link set pbn7 up",
		"ip -n pbnet-7 link set lo up",
		"tc qdisc add dev pbh7 root netem delay 50ms 5ms loss 1% rate 12mbit",
		"tc -n pbnet-7 qdisc add dev pbn7 root netem delay 50ms 5ms loss 1% rate 12mbit",
	};
	ck_assert_int_eq(k, (int)PB_ARRAY_LEN(want));
	for (int i = 0; i < k; i++) {
		text_of(&c[i], t);
		ck_assert_str_eq(t, want[i]);
	}
	/* a short array gets what fits, in order */
	ck_assert_int_eq(pb_netem_setup_cmds(&n, &l, c, 3), 3);
	text_of(&c[2], t);
	ck_assert_str_eq(t, want[2]);

	ck_assert_int_eq(pb_netem_teardown_cmds(&n, c, 2), 2);
	text_of(&c[0], t);
	ck_assert_str_eq(t, "ip link del pbh7");
	text_of(&c[1], t);
	ck_assert_str_eq(t, "ip netns del pbnet-7");
}
END_TEST

START_TEST(netem_args)
{
	struct pb_netem_cmd c = { 0 };
	char t[1024];
	struct pb_link only_delay = { "x", 50, 0, 0, 0 };
	pb_netem_args(&only_delay, &c);
	text_of(&c, t);
	ck_assert_str_eq(t, "netem delay 50ms");
	memset(&c, 0, sizeof c);
	struct pb_link frac = { "x", 0.5, 0, 0.25, 1.6 };
	pb_netem_args(&frac, &c);
	text_of(&c, t);
	ck_assert_str_eq(t, "netem delay 0.5ms loss 0.25% rate 1.6mbit");
	memset(&c, 0, sizeof c);
	struct pb_link rate = { "x", 0, 0, 0, 30 };
	ck_assert_int_eq(pb_netem_args(&rate, &c), 3);
	text_of(&c, t);
	ck_assert_str_eq(t, "netem rate 30mbit");
}
END_TEST

START_TEST(preset_table)
{
	static const struct { const char *name; double delay, jitter, loss, rate; const char *netem; }
	want[] = {
		{ "loopback", 0, 0, 0, 0, NULL },
		{ "wifi", 1, 0, 0, 30, "netem delay 1ms rate 30mbit" },
		{ "lte", 35, 0, 0, 12, "netem delay 35ms rate 12mbit" },
		{ "3g", 150, 0, 0, 1.6, "netem delay 150ms rate 1.6mbit" },
	};
	int n = 0;
	for (const struct pb_link_preset *p = pb_link_presets; p->name; p++)
		n++;
	ck_assert_int_eq(n, (int)PB_ARRAY_LEN(want));
	for (size_t i = 0; i < PB_ARRAY_LEN(want); i++) {
		const struct pb_link_preset *p = pb_link_preset_find(want[i].name);
		ck_assert_ptr_nonnull(p);
		ck_assert_str_eq(p->link.name, want[i].name);
		ck_assert(p->source && p->source[0]);
		ck_assert_double_eq(p->link.delay_ms, want[i].delay);
		ck_assert_double_eq(p->link.jitter_ms, want[i].jitter);
		ck_assert_double_eq(p->link.loss_pct, want[i].loss);
		ck_assert_double_eq(p->link.rate_mbit, want[i].rate);
		ck_assert_int_eq(pb_link_is_loopback(&p->link), want[i].netem == NULL);
		if (want[i].netem) {
			struct pb_netem_cmd c = { 0 };
			char t[1024];
			pb_netem_args(&p->link, &c);
			text_of(&c, t);
			ck_assert_str_eq(t, want[i].netem);
		}
	}
	ck_assert_ptr_null(pb_link_preset_find("5g"));
}
END_TEST

/* ---- the experiment keys, on a small registry of its own ------------- */

struct threads_cfg { int64_t threads; };
struct oa_cfg { char url[PB_OPT_STR_MAX]; };

static const struct pb_option threads_opts[] = {
	{ "threads", PB_OPT_INT, offsetof(struct threads_cfg, threads), "1", 0, 256, NULL, "" },
	PB_OPTIONS_END
};
static const struct pb_option oa_opts[] = {
	{ "url", PB_OPT_STRING, offsetof(struct oa_cfg, url), "", 0, 0, NULL, "" },
	PB_OPTIONS_END
};
static int fake_complete(void *s, const struct pb_complete_req *q, struct pb_complete_res *r)
{
	(void)s; (void)q; (void)r;
	return -ENOTSUP;
}
static const struct pb_backend_ops local_ops = { .struct_size = sizeof(struct pb_backend_ops), .formats = 1 };
static const struct pb_backend_ops remote_ops = { .struct_size = sizeof(struct pb_backend_ops), .complete = fake_complete };

#define PLUGIN(n, opts, cfg, o) {                                            \
	.abi_version = PB_ABI_VERSION, .struct_size = sizeof(struct pb_plugin), \
	.kind = PB_BACKEND, .name = n, .version = "1.0", .summary = "fake " n,  \
	.options = opts, .config_size = cfg, .ops = o }

static const struct pb_plugin plugins[] = {
	PLUGIN("cpu-blas", threads_opts, sizeof(struct threads_cfg), &local_ops),
	PLUGIN("openai", oa_opts, sizeof(struct oa_cfg), &remote_ops),
};
static struct pb_plugin_entry entries[] = {
	{ .path = "/fake/backend-cpu-blas.so", .desc = &plugins[0] },
	{ .path = "/fake/backend-openai.so", .desc = &plugins[1] },
};
static const struct pb_registry reg_full = { .entries = entries, .n_entries = 2 };
static const struct pb_registry reg_no_client = { .entries = entries, .n_entries = 1 };

static char dir[256];

static int load(const struct pb_registry *reg, const char *backends, struct pb_experiment **e,
		char *err, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/p.txt", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("hello\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/x.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "name: x\nmodels: {m: {synth: llama-15m}}\ndatasets: {d: {path: p.txt}}\n%s",
		backends);
	fclose(f);
	*e = NULL;
	return pb_experiment_load(path, reg, NULL, 0, e, err, len);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/pb-test-netem-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

START_TEST(served_sweep)
{
	struct pb_experiment *e;
	char err[1024];
	int rc = load(&reg_full, "backends:\n  local: {plugin: cpu-blas}\n"
		      "  srv: {plugin: cpu-blas, threads: 2, serve: true,\n"
		      "        network: {sweep: [loopback, wifi, lte]}}\n"
		      "  custom: {plugin: cpu-blas, serve: true, network: {delay_ms: 50, jitter_ms: 5}}\n",
		      &e, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(e->n_backends, 5);
	ck_assert_int_eq(e->backends[0].serve, 0);
	ck_assert_str_eq(e->backends[1].name, "srv-networkloopback");
	ck_assert_str_eq(e->backends[2].name, "srv-networkwifi");
	ck_assert_str_eq(e->backends[3].name, "srv-networklte");
	ck_assert_int_eq(e->backends[1].serve, 1);
	ck_assert(pb_link_is_loopback(&e->backends[1].network));
	ck_assert_str_eq(e->backends[3].network.name, "lte");
	ck_assert_double_eq(e->backends[3].network.delay_ms, 35);
	ck_assert_str_eq(e->backends[4].network.name, "custom");
	ck_assert_double_eq(e->backends[4].network.jitter_ms, 5);
	/* the link is part of a served cell's id; an in-process cell's text
	 * does not mention serving at all */
	ck_assert_ptr_null(strstr(e->cells[0].config_text, "serve"));
	ck_assert_ptr_nonnull(strstr(e->cells[3].config_text, "delay_ms: 35\n"));
	ck_assert_str_ne(e->cells[1].id + strlen(e->cells[1].id) - 8,
			 e->cells[2].id + strlen(e->cells[2].id) - 8);
	pb_experiment_free(e);

	/* the top-level setting is every served entry's default */
	rc = load(&reg_full, "network: 3g\nbackends:\n  srv: {plugin: cpu-blas, serve: true}\n",
		  &e, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(e->backends[0].network.name, "3g");
	pb_experiment_free(e);
}
END_TEST

START_TEST(served_refusals)
{
	static const struct { const char *yaml; const char *want; } bad[] = {
		{ "backends:\n  o: {plugin: openai, url: 'http://x', serve: true}\n",
		  "is remote" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: yes}\n", "expected true or false" },
		{ "backends:\n  s: {plugin: cpu-blas, network: lte}\n", "add 'serve: true'" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: true, network: 5g}\n",
		  "unknown preset '5g'" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: true, network: {delay: 5}}\n",
		  "network: unknown key 'delay'" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: true, network: {loss_pct: 101}}\n",
		  "from 0 to 100" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: true, network: {jitter_ms: 5}}\n",
		  "needs a delay_ms" },
		{ "network: lte\nbackends:\n  s: {plugin: cpu-blas}\n", "no backend entry has" },
		{ "backends:\n  s: {plugin: cpu-blas, serve: true, thread: 2}\n",
		  "unknown option 'thread'" },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(bad); i++) {
		struct pb_experiment *e;
		char err[1024] = "";
		int rc = load(&reg_full, bad[i].yaml, &e, err, sizeof err);
		ck_assert_msg(rc < 0, "accepted: %s", bad[i].yaml);
		ck_assert_msg(strstr(err, bad[i].want), "%s: got '%s'", bad[i].yaml, err);
		ck_assert_msg(strstr(err, "x.yaml:"), "no position: %s", err);
	}
	struct pb_experiment *e;
	char err[1024] = "";
	ck_assert_int_lt(load(&reg_no_client, "backends:\n  s: {plugin: cpu-blas, serve: true}\n",
			      &e, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "'openai' backend, which is not built"), "%s", err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("netem");
	TCase *tc = tcase_create("netem");
	tcase_add_test(tc, names_and_addresses);
	tcase_add_test(tc, setup_commands);
	tcase_add_test(tc, netem_args);
	tcase_add_test(tc, preset_table);
	suite_add_tcase(s, tc);
	TCase *tx = tcase_create("experiment");
	tcase_add_checked_fixture(tx, setup, teardown);
	tcase_add_test(tx, served_sweep);
	tcase_add_test(tx, served_refusals);
	suite_add_tcase(s, tx);
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

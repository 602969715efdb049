/* tests/openai/test-sse.c — the openai backend's reply parser (sse.c):
 * framing edge cases, the same stream fed split at every byte, what each
 * server sends, and malformed input that must give a clear error, never
 * a crash or a read past the input (run it under ASan). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct got {
	char text[4096];
	int pieces;
};

static void on_text(void *ctx, const char *p, size_t n)
{
	struct got *g = ctx;
	size_t l = strlen(g->text);
	ck_assert_uint_lt(l + n, sizeof g->text);
	memcpy(g->text + l, p, n);
	g->text[l + n] = '\0';
	g->pieces++;
}

/* Feed s in pieces of `step` bytes (0: at once); the finish() result. */
static int parse(const char *s, size_t n, size_t step, struct pb_sse *p, struct got *g)
{
	memset(g, 0, sizeof *g);
	pb_sse_init(p, on_text, g);
	if (!step)
		step = n ? n : 1;
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		/* each piece from its own heap block, so ASan sees a read past it */
		char *piece = malloc(k ? k : 1);
		memcpy(piece, s + i, k);
		int rc = pb_sse_feed(p, piece, k);
		free(piece);
		if (rc < 0)
			return rc;
	}
	return pb_sse_finish(p);
}

#define CHUNK(t) "{\"choices\":[{\"index\":0,\"text\":\"" t "\",\"finish_reason\":null}]}"
#define LAST(t) "{\"choices\":[{\"index\":0,\"text\":\"" t "\",\"finish_reason\":\"length\"}]}"
#define USAGE "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}," \
	"\"prunebench\":{\"queue_ms\":2.25}}"

static const char plain[] =
	"data: " CHUNK("Hel") "\n\n"
	"data: " CHUNK("lo") "\n\n"
	"data: " LAST(" you") "\n\n"
	"data: " USAGE "\n\n"
	"data: [DONE]\n\n";

static void expect_plain(const struct pb_sse *p, const struct got *g)
{
	ck_assert_str_eq(g->text, "Hello you");
	ck_assert_int_eq(g->pieces, 3);
	ck_assert_int_eq(p->n_content, 3);
	ck_assert_int_eq(p->done, 1);
	ck_assert_int_eq(p->streamed, 1);
	ck_assert_str_eq(p->finish_reason, "length");
	ck_assert_int_eq(p->usage_prompt, 5);
	ck_assert_int_eq(p->usage_completion, 3);
	ck_assert_double_eq(p->queue_ms, 2.25);
}

START_TEST(plain_stream)
{
	struct pb_sse p;
	struct got g;
	ck_assert_int_eq(parse(plain, strlen(plain), 0, &p, &g), 0);
	expect_plain(&p, &g);
	pb_sse_free(&p);
}
END_TEST

/* Every split point and every piece size gives the same result. */
START_TEST(split_anywhere)
{
	const size_t n = strlen(plain);
	for (size_t step = 1; step <= 17; step++) {
		struct pb_sse p;
		struct got g;
		ck_assert_int_eq(parse(plain, n, step, &p, &g), 0);
		expect_plain(&p, &g);
		pb_sse_free(&p);
	}
	for (size_t cut = 0; cut <= n; cut++) {
		struct pb_sse p;
		struct got g = { 0 };
		pb_sse_init(&p, on_text, &g);
		ck_assert_int_eq(pb_sse_feed(&p, plain, cut), 0);
		ck_assert_int_eq(pb_sse_feed(&p, plain + cut, n - cut), 0);
		ck_assert_int_eq(pb_sse_finish(&p), 0);
		expect_plain(&p, &g);
		pb_sse_free(&p);
	}
}
END_TEST

/* CRLF and CR line ends (a CRLF split between two reads included),
 * comments, event/id/retry fields, no space after the colon, data over
 * several lines, unknown fields, a BOM, blank lines before anything. */
START_TEST(liberal_framing)
{
	static const char crlf[] =
		"\r\n: a comment\r\n\r\n"
		"retry: 1000\r\nid: 1\r\nevent: message\r\n"
		"data:{\"choices\":\r\ndata: [{\"text\":\"Hel\"}]}\r\n\r\n"
		"x-unknown: y\rdata: " CHUNK("lo") "\r\r"
		":ping\n\n"
		"event: ping\ndata: {\"not\": \"ours\"}\n\n"
		"data: " LAST(" you") "\r\n\r\n"
		"data: " USAGE "\r\n\r\n"
		"data:[DONE]\r\n\r\n";
	const size_t n = strlen(crlf);
	for (size_t step = 0; step <= 7; step++) {
		struct pb_sse p;
		struct got g;
		ck_assert_int_eq(parse(crlf, n, step, &p, &g), 0);
		expect_plain(&p, &g);
		pb_sse_free(&p);
	}
	/* a BOM first */
	static const char bom[] = "\xEF\xBB\xBF" "data: " LAST("x") "\n\ndata: [DONE]\n\n";
	struct pb_sse p;
	struct got g;
	ck_assert_int_eq(parse(bom, strlen(bom), 0, &p, &g), 0);
	ck_assert_str_eq(g.text, "x");
	pb_sse_free(&p);
}
END_TEST

/* What servers send besides text: an empty first chunk (vLLM's role
 * chunk in chat), a null text, usage null on every chunk, chat deltas,
 * no [DONE] but a finish_reason (taken), anything after [DONE] ignored,
 * and a last event without its blank line. */
START_TEST(server_variants)
{
	static const char s1[] =
		"data: {\"choices\":[{\"text\":\"\",\"finish_reason\":null}],\"usage\":null}\n\n"
		"data: {\"choices\":[{\"text\":null}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}\n\n"
		"data: {\"choices\":[{\"text\":\"c\",\"finish_reason\":\"stop\"}]}\n\n";
	struct pb_sse p;
	struct got g;
	ck_assert_int_eq(parse(s1, strlen(s1), 0, &p, &g), 0);
	ck_assert_str_eq(g.text, "abc");
	ck_assert_int_eq(p.n_content, 2);
	ck_assert_int_eq(p.done, 0);
	ck_assert_str_eq(p.finish_reason, "stop");
	ck_assert_int_eq(p.usage_prompt, -1);
	ck_assert(isnan(p.queue_ms));
	pb_sse_free(&p);

	static const char s2[] = "data: " LAST("z") "\n\ndata: [DONE]\n\ndata: garbage{\n\n";
	ck_assert_int_eq(parse(s2, strlen(s2), 0, &p, &g), 0);
	ck_assert_str_eq(g.text, "z");
	pb_sse_free(&p);

	static const char s3[] = "data: " LAST("z") "\n\ndata: [DONE]";
	ck_assert_int_eq(parse(s3, strlen(s3), 3, &p, &g), 0);
	ck_assert_int_eq(p.done, 1);
	pb_sse_free(&p);

	/* not streamed: one JSON completion */
	static const char one[] = "  {\"choices\":[{\"text\":\"whole\",\"finish_reason\":\"stop\"}],"
		"\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}";
	ck_assert_int_eq(parse(one, strlen(one), 5, &p, &g), 0);
	ck_assert_str_eq(g.text, "whole");
	ck_assert_int_eq(p.streamed, 0);
	ck_assert_int_eq(p.usage_completion, 1);
	pb_sse_free(&p);
}
END_TEST

static void expect_error(const char *s, size_t n, int rc, const char *needle)
{
	for (size_t step = 0; step <= 3; step++) {
		struct pb_sse p;
		struct got g;
		int got = parse(s, n, step, &p, &g);
		ck_assert_msg(got == rc, "'%.40s…': rc %d, expected %d (%s)", s, got, rc, p.error);
		ck_assert_msg(strstr(p.error, needle), "error '%s' lacks '%s'", p.error, needle);
		/* refused for good */
		ck_assert_int_eq(pb_sse_feed(&p, "data: [DONE]\n\n", 14), rc);
		pb_sse_free(&p);
	}
}

START_TEST(malformed)
{
#define E(s, rc, needle) expect_error(s, sizeof s - 1, rc, needle)
	E("data: {not json\n\n", -EPROTO, "event 1 of the stream: malformed JSON at line 1");
	E("data: " CHUNK("a") "\n\ndata: [1,2]\n\n", -EPROTO, "event 2 of the stream: expected a JSON object, got an array");
	E("data: {\"choices\": 3}\n\n", -EPROTO, "\"choices\" is a number, not an array");
	E("data: {\"choices\": [7]}\n\n", -EPROTO, "choices[0] is a number");
	E("data: {\"choices\": [{\"text\": 5}]}\n\n", -EPROTO, "choices[0].text is a number");
	E("data: {\"usage\": []}\n\n", -EPROTO, "\"usage\" is an array");
	E("data: {\"error\": {\"message\": \"model not loaded\", \"type\": \"server_error\"}}\n\n",
	  -EPROTO, "the server reported an error: model not loaded (server_error)");
	E("data: {\"object\": \"error\", \"message\": \"bad\"}\n\n", -EPROTO, "reported an error: bad");
	E("event: error\ndata: {\"error\": \"busy\"}\n\n", -EPROTO, "the server sent an error event: busy");
	E("data: " CHUNK("a") "\n\n", -EPROTO, "ended before it was complete");
	E("data: " CHUNK("a") "\n\ndata: " CHUNK("b"), -EPROTO, "after 2 events, 2 with text");
	E("", -EPROTO, "the reply was empty");
	E("\r\n\n", -EPROTO, "the reply was empty");
	E("{\"id\": 1}", -EPROTO, "neither an event stream nor a completion");
	E("{\"choices\": [", -EPROTO, "malformed JSON");
	E("data: \"a\0b\"\n\n", -EPROTO, "malformed JSON");
	E("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"\\ud800\"}]}\n\n",
	  -EPROTO, "malformed JSON");
#undef E
}
END_TEST

/* An event, or a line, past the limit: refused before it grows. */
START_TEST(too_long)
{
	size_t n = PB_SSE_EVENT_MAX + 16;
	char *big = malloc(n);
	memcpy(big, "data: ", 6);
	memset(big + 6, 'x', n - 6);
	struct pb_sse p;
	struct got g;
	ck_assert_int_eq(parse(big, n, 65536, &p, &g), -E2BIG);
	ck_assert_ptr_nonnull(strstr(p.error, "longer than"));
	pb_sse_free(&p);
	/* many data lines adding up */
	pb_sse_init(&p, on_text, &g);
	int rc = 0;
	for (int i = 0; i < 5000 && rc == 0; i++) {
		memset(big, 'y', 1024);
		memcpy(big, "data: ", 6);
		big[1023] = '\n';
		rc = pb_sse_feed(&p, big, 1024);
	}
	ck_assert_int_eq(rc, -E2BIG);
	pb_sse_free(&p);
	free(big);
}
END_TEST

START_TEST(error_bodies)
{
	char out[256];
	static const char *const cases[][2] = {
		{ "{\"error\": {\"message\": \"boom\", \"type\": \"server_error\"}}", "boom (server_error)" },
		{ "{\"error\": {\"code\": 500, \"message\": \"llama down\"}}", "llama down" },
		{ "{\"error\": \"ollama says no\"}", "ollama says no" },
		{ "{\"object\": \"error\", \"message\": \"vllm says no\", \"type\": \"BadRequestError\"}",
		  "vllm says no (BadRequestError)" },
		{ "<html>\n<b>502 Bad Gateway</b>", "<html> <b>502 Bad Gateway</b>" },
		{ "", "(no body)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pb_sse_error_body(cases[i][0], strlen(cases[i][0]), out, sizeof out);
		ck_assert_str_eq(out, cases[i][1]);
	}
	pb_sse_error_body(NULL, 0, out, sizeof out);
	ck_assert_str_eq(out, "(no body)");
	/* long text is cut, never overrun */
	char big[1000];
	memset(big, 'q', sizeof big);
	pb_sse_error_body(big, sizeof big, out, 16);
	ck_assert_uint_eq(strlen(out), 15);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("openai-sse");
	TCase *t = tcase_create("sse");
	tcase_add_test(t, plain_stream);
	tcase_add_test(t, split_anywhere);
	tcase_add_test(t, liberal_framing);
	tcase_add_test(t, server_variants);
	tcase_add_test(t, malformed);
	tcase_add_test(t, too_long);
	tcase_add_test(t, error_bodies);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}

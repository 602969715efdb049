/* tests/serve/test-serve.c — the parts of `serve` that need no socket:
 * the text stream (UTF-8 held back, stop strings across tokens), the chat
 * templates (text, and special pieces as single tokens), the request
 * parser's refusals and the response objects' shapes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve/api.h"
#include "serve/chat.h"
#include "serve/stream.h"
#include "text/text.h"

/* Append s to the stream's text and take what may go out. */
static char *feed(struct pb_text_stream *ts, const char *s, int final, int *stopped)
{
	const char *p;
	size_t n;
	size_t len = strlen(ts->text);
	if (len + strlen(s) + 1 > ts->cap) {
		ts->cap = (len + strlen(s) + 1) * 2;
		ts->text = realloc(ts->text, ts->cap);
	}
	strcat(ts->text, s);
	*stopped = pb_text_stream_take(ts, final, &p, &n);
	return strndup(p, n);
}

START_TEST(stream_utf8)
{
	struct pb_text_stream ts;
	int st;
	ck_assert_int_eq(pb_text_stream_init(&ts, NULL, 0), 0);
	char *a = feed(&ts, "caf\xc3", 0, &st);   /* é cut after its first byte */
	ck_assert_str_eq(a, "caf");
	char *b = feed(&ts, "\xa9!", 0, &st);
	ck_assert_str_eq(b, "\xc3\xa9!");
	char *c = feed(&ts, "\xe2\x82", 0, &st);  /* € missing its last byte */
	ck_assert_str_eq(c, "");
	char *d = feed(&ts, "", 1, &st);          /* the end: what is left goes out */
	ck_assert_str_eq(d, "\xe2\x82");
	ck_assert_int_eq(st, 0);
	free(a), free(b), free(c), free(d);
	pb_text_stream_free(&ts);
}
END_TEST

START_TEST(stream_stop)
{
	const char *stop[] = { "END", "o w" };
	struct pb_text_stream ts;
	int st;
	ck_assert_int_eq(pb_text_stream_init(&ts, stop, 2), 0);
	char *a = feed(&ts, "Hello", 0, &st);     /* "o" may start "o w": held */
	ck_assert_str_eq(a, "Hell");
	char *b = feed(&ts, " there", 0, &st);    /* "o t" is no stop: out it goes */
	ck_assert_str_eq(b, "o there");
	char *c = feed(&ts, " EN", 0, &st);
	ck_assert_str_eq(c, " ");
	ck_assert_int_eq(st, 0);
	char *d = feed(&ts, "D and more", 0, &st); /* the stop string across two tokens */
	ck_assert_int_eq(st, 1);
	ck_assert_str_eq(d, "");
	ck_assert_uint_eq(ts.end, strlen("Hello there "));
	free(a), free(b), free(c), free(d);
	pb_text_stream_free(&ts);
}
END_TEST

START_TEST(utf8_sanitize)
{
	size_t n;
	char *s = pb_utf8_sanitize("a\xff" "b\xc3\xa9\xed\xa0\x80", 8, &n);
	/* 0xff and the encoded surrogate's three bytes are not UTF-8 */
	ck_assert_str_eq(s, "a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_uint_eq(n, strlen(s));
	free(s);
}
END_TEST

static const struct pb_chat_msg conv[] = {
	{ "system", "Be brief." }, { "user", " Hi " }, { "assistant", "Hello." }, { "user", "Bye" },
};

static char *render(enum pb_chat_kind k)
{
	struct pb_chat c;
	pb_chat_bind(&c, k, NULL);
	return pb_chat_render(&c, conv, 4);
}

START_TEST(chat_templates)
{
	char *s = render(PB_CHAT_CHATML);
	ck_assert_str_eq(s, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
			 "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
			 "<|im_start|>assistant\n");
	free(s);
	s = render(PB_CHAT_LLAMA3);
	ck_assert_str_eq(s, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
			 "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
			 "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
			 "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
			 "<|start_header_id|>assistant<|end_header_id|>\n\n");
	free(s);
	s = render(PB_CHAT_GEMMA);
	ck_assert_str_eq(s, "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
			 "<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n"
			 "<start_of_turn>model\n");
	free(s);
	s = render(PB_CHAT_PHI3);
	ck_assert_str_eq(s, "<|system|>\nBe brief.<|end|>\n<|user|>\n Hi <|end|>\n<|assistant|>\nHello.<|end|>\n"
			 "<|user|>\nBye<|end|>\n<|assistant|>\n");
	free(s);
	s = render(PB_CHAT_PLAIN);
	ck_assert_str_eq(s, "Be brief.\n Hi \nHello.\nBye");
	free(s);
	ck_assert_int_eq(pb_chat_kind_of_name("chatml"), PB_CHAT_CHATML);
	ck_assert_int_eq(pb_chat_kind_of_name("jinja"), -EINVAL);
}
END_TEST

/* A byte-level vocabulary (<0xNN> pieces) with ChatML's two pieces. */
static struct pb_tokenizer *chatml_vocab(int with_specials)
{
	char *pieces[3 + 256 + 2];
	int n = 0;
	pieces[n++] = strdup("<unk>");
	pieces[n++] = strdup("<s>");
	pieces[n++] = strdup("</s>");
	for (int b = 0; b < 256; b++) {
		pieces[n] = malloc(8);
		snprintf(pieces[n++], 8, "<0x%02X>", b);
	}
	if (with_specials) {
		pieces[n++] = strdup("<|im_start|>");
		pieces[n++] = strdup("<|im_end|>");
	}
	struct pb_tokenizer *t = NULL;
	ck_assert_int_eq(pb_tokenizer_new((const char *const *)pieces, NULL, n, 1, 2, &t), 0);
	for (int i = 0; i < n; i++)
		free(pieces[i]);
	return t;
}

START_TEST(chat_tokens)
{
	struct pb_tokenizer *t = chatml_vocab(1), *plain = chatml_vocab(0);
	ck_assert_int_eq(pb_chat_detect(t), PB_CHAT_CHATML);
	ck_assert_int_eq(pb_chat_detect(plain), PB_CHAT_PLAIN);
	struct pb_chat c;
	pb_chat_bind(&c, PB_CHAT_CHATML, t);
	ck_assert_int_eq(c.end_id, 3 + 256 + 1);
	const struct pb_chat_msg one = { "user", "Hi" };
	int32_t *ids;
	int n;
	ck_assert_int_eq(pb_chat_tokenize(&c, &one, 1, &ids, &n), 0);
	/* BOS <|im_start|> u s e r \n H i <|im_end|> \n <|im_start|> a s s i s t a n t \n */
	const int start = 3 + 256, end = 3 + 256 + 1, b = 3;
	ck_assert_int_eq(n, 1 + 1 + 5 + 2 + 1 + 1 + 1 + 10);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], start);
	ck_assert_int_eq(ids[2], b + 'u');
	ck_assert_int_eq(ids[6], b + '\n');
	ck_assert_int_eq(ids[9], end);
	ck_assert_int_eq(ids[11], start);
	ck_assert_int_eq(ids[n - 1], b + '\n');
	free(ids);
	/* without the pieces, ChatML is written as text, byte by byte */
	pb_chat_bind(&c, PB_CHAT_CHATML, plain);
	ck_assert_int_eq(c.end_id, -1);
	ck_assert_int_eq(pb_chat_tokenize(&c, &one, 1, &ids, &n), 0);
	ck_assert_int_eq(ids[1], b + '<');
	free(ids);
	pb_tokenizer_free(t);
	pb_tokenizer_free(plain);
}
END_TEST

static int parse(enum pb_api_kind k, const char *body, char *err, size_t len)
{
	struct pb_api_req r;
	int rc = pb_api_req_parse(k, body, strlen(body), &r, err, len);
	pb_api_req_free(&r);
	return rc;
}

START_TEST(api_requests)
{
	char err[256];
	struct pb_api_req r;
	const char *ok = "{\"prompt\": [\"Hi\"], \"max_tokens\": 7, \"stop\": [\"a\", \"b\"], \"stream\": true,"
			 "\"stream_options\": {\"include_usage\": true}, \"temperature\": 0, \"top_p\": 0.9}";
	ck_assert_int_eq(pb_api_req_parse(PB_API_COMPLETION, ok, strlen(ok), &r, err, sizeof err), 0);
	ck_assert_str_eq(r.prompt, "Hi");
	ck_assert_int_eq(r.max_tokens, 7);
	ck_assert_int_eq(r.n_stop, 2);
	ck_assert_int_eq(r.stream, 1);
	ck_assert_int_eq(r.include_usage, 1);
	pb_api_req_free(&r);
	const char *chat = "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"},"
			   "{\"type\": \"text\", \"text\": \"b\"}]}], \"max_completion_tokens\": 3}";
	ck_assert_int_eq(pb_api_req_parse(PB_API_CHAT, chat, strlen(chat), &r, err, sizeof err), 0);
	ck_assert_str_eq(r.msgs[0].content, "ab");
	ck_assert_int_eq(r.max_tokens, 3);
	pb_api_req_free(&r);

	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": \"x\",\n \"max_tokens\": }", err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "malformed JSON at line 2, column"));
	ck_assert_int_eq(parse(PB_API_COMPLETION, "[1]", err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": \"x\", \"temperature\": 1}", err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "greedily"));
	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 0}", err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": \"x\", \"n\": 2}", err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": \"x\", \"stop\": [\"1\",\"2\",\"3\",\"4\",\"5\"]}",
			       err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_COMPLETION, "{\"prompt\": 5}", err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_CHAT, "{\"messages\": []}", err, sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_CHAT, "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", err,
			       sizeof err), -EINVAL);
	ck_assert_int_eq(parse(PB_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": null}]}", err,
			       sizeof err), -EINVAL);
}
END_TEST

START_TEST(api_objects)
{
	struct pb_api_meta m = {
		.kind = PB_API_CHAT, .id = "chatcmpl-1", .created = 5, .model = "m", .chat_template = "chatml",
		.prompt_tokens = 3, .completion_tokens = 2, .queue_ms = 1.25, .include_usage = 1,
	};
	size_t n;
	char *s = pb_api_response(&m, "a\xff", 2, "stop");
	json_t *j = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")), "chat.completion");
	json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ch, "message"), "content")),
			 "a\xef\xbf\xbd");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")), 5);
	ck_assert_double_eq(json_real_value(json_object_get(json_object_get(j, "prunebench"), "queue_ms")), 1.25);
	json_decref(j);
	free(s);

	s = pb_api_chunk(&m, 0, "hi", 2, NULL, &n);
	ck_assert_uint_eq(n, strlen(s));
	ck_assert_int_eq(strncmp(s, "data: {", 7), 0);
	ck_assert_str_eq(s + n - 2, "\n\n");
	ck_assert_ptr_null(strchr(s, '\n') == s + n - 2 ? NULL : strchr(s, '\n'));
	s[n - 2] = '\0';
	j = json_loads(s + 6, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")), "chat.completion.chunk");
	ck_assert(json_is_null(json_object_get(j, "usage")));
	ch = json_array_get(json_object_get(j, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ch, "delta"), "content")), "hi");
	ck_assert(json_is_null(json_object_get(ch, "finish_reason")));
	json_decref(j);
	free(s);

	s = pb_api_usage_chunk(&m, &n);
	s[n - 2] = '\0';
	j = json_loads(s + 6, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "choices")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens")), 3);
	json_decref(j);
	free(s);

	s = pb_api_error("bad \"thing\"", "invalid_request_error");
	j = json_loads(s, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "bad \"thing\"");
	json_decref(j);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("serve");
	TCase *tc = tcase_create("serve");
	tcase_add_test(tc, stream_utf8);
	tcase_add_test(tc, stream_stop);
	tcase_add_test(tc, utf8_sanitize);
	tcase_add_test(tc, chat_templates);
	tcase_add_test(tc, chat_tokens);
	tcase_add_test(tc, api_requests);
	tcase_add_test(tc, api_objects);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

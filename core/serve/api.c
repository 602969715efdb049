/* core/serve/api.c — OpenAI's request and response objects (api.h), with
 * jansson. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api.h"
#include "serve/stream.h"

/* ---- requests */

static int bad(char *err, size_t len, const char *fmt, const char *what)
{
	snprintf(err, len, fmt, what);
	return -EINVAL;
}

/* An optional positive integer; 0 when absent or null. */
static int get_count(json_t *o, const char *key, int *v, char *err, size_t len)
{
	json_t *x = json_object_get(o, key);
	*v = 0;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > INT_MAX)
		return bad(err, len, "'%s' must be an integer of at least 1", key);
	*v = (int)json_integer_value(x);
	return 0;
}

static int get_bool(json_t *o, const char *key, int *v, char *err, size_t len)
{
	json_t *x = json_object_get(o, key);
	*v = 0;
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_boolean(x))
		return bad(err, len, "'%s' must be true or false", key);
	*v = json_is_true(x);
	return 0;
}

static int parse_stop(json_t *root, struct pb_api_req *r, char *err, size_t len)
{
	json_t *x = json_object_get(root, "stop"), *e;
	size_t i;
	if (!x || json_is_null(x))
		return 0;
	if (json_is_string(x)) {
		r->stop[r->n_stop++] = json_string_value(x);
		return 0;
	}
	if (!json_is_array(x) || json_array_size(x) > PB_API_MAX_STOP)
		return bad(err, len, "'stop' must be a string or an array of at most %s strings", "4");
	json_array_foreach(x, i, e) {
		if (!json_is_string(e))
			return bad(err, len, "'stop' must be a string or an array of at most %s strings", "4");
		r->stop[r->n_stop++] = json_string_value(e);
	}
	return 0;
}

/* content: a string, or an array of {"type": "text", "text": …} parts
 * (joined into one string, put back in the tree that owns it). */
static int parse_content(json_t *msg, size_t i, const char **out, char *err, size_t len)
{
	json_t *c = json_object_get(msg, "content"), *part;
	size_t k, total = 0;
	if (json_is_string(c)) {
		*out = json_string_value(c);
		return 0;
	}
	if (!json_is_array(c))
		goto bad;
	json_array_foreach(c, k, part) {
		json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
		if (!json_is_string(type) || strcmp(json_string_value(type), "text") || !json_is_string(text)) {
			snprintf(err, len, "messages[%zu].content[%zu]: only text parts are supported", i, k);
			return -EINVAL;
		}
		total += json_string_length(text);
	}
	char *joined = malloc(total + 1), *w = joined;
	if (!joined)
		return -ENOMEM;
	json_array_foreach(c, k, part) {
		json_t *text = json_object_get(part, "text");
		memcpy(w, json_string_value(text), json_string_length(text));
		w += json_string_length(text);
	}
	*w = '\0';
	json_t *s = json_stringn(joined, total);
	free(joined);
	if (!s || json_object_set_new(msg, "content", s) < 0)
		return -ENOMEM;
	*out = json_string_value(json_object_get(msg, "content"));
	return 0;
bad:
	snprintf(err, len, "messages[%zu].content must be a string or an array of text parts", i);
	return -EINVAL;
}

static int parse_messages(json_t *root, struct pb_api_req *r, char *err, size_t len)
{
	json_t *x = json_object_get(root, "messages"), *msg;
	size_t i;
	int rc;
	if (!json_is_array(x) || !json_array_size(x))
		return bad(err, len, "'%s' must be a non-empty array of {role, content} objects", "messages");
	if (!(r->msgs = calloc(json_array_size(x), sizeof *r->msgs)))
		return -ENOMEM;
	json_array_foreach(x, i, msg) {
		json_t *role = json_object_get(msg, "role");
		const char *ro = json_is_string(role) ? json_string_value(role) : NULL;
		if (!ro || (strcmp(ro, "system") && strcmp(ro, "developer") && strcmp(ro, "user") &&
			    strcmp(ro, "assistant"))) {
			snprintf(err, len, "messages[%zu].role must be \"system\", \"developer\", \"user\" or "
				 "\"assistant\"", i);
			return -EINVAL;
		}
		r->msgs[i].role = ro;
		if ((rc = parse_content(msg, i, &r->msgs[i].content, err, len)) < 0)
			return rc;
		r->n_msgs++;
	}
	return 0;
}

int pb_api_req_parse(enum pb_api_kind kind, const char *body, size_t n, struct pb_api_req *r,
		     char *err, size_t len)
{
	json_error_t je;
	json_t *x;
	int rc, tokens;
	memset(r, 0, sizeof *r);
	r->kind = kind;
	if (!(r->root = json_loadb(body, n, 0, &je))) {
		snprintf(err, len, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(r->root))
		return bad(err, len, "the body must be a JSON object%s", "");
	x = json_object_get(r->root, "model");
	if (x && !json_is_null(x) && !json_is_string(x))
		return bad(err, len, "'%s' must be a string", "model");
	r->model = json_string_value(x);
	if (kind == PB_API_COMPLETION) {
		x = json_object_get(r->root, "prompt");
		if (json_is_array(x) && json_array_size(x) == 1)
			x = json_array_get(x, 0);
		if (!json_is_string(x))
			return bad(err, len, "'%s' must be a string (or an array of one string)", "prompt");
		r->prompt = json_string_value(x);
	} else if ((rc = parse_messages(r->root, r, err, len)) < 0) {
		return rc;
	}
	if ((rc = get_count(r->root, "max_tokens", &r->max_tokens, err, len)) < 0 ||
	    (rc = get_count(r->root, "max_completion_tokens", &tokens, err, len)) < 0)
		return rc;
	if (tokens)
		r->max_tokens = tokens;
	x = json_object_get(r->root, "temperature");
	if (x && !json_is_null(x)) {
		if (!json_is_number(x))
			return bad(err, len, "'%s' must be a number", "temperature");
		if (json_number_value(x) != 0) {
			snprintf(err, len, "temperature %g is not supported: prunebench serve decodes greedily "
				 "(give 0, or leave it out)", json_number_value(x));
			return -EINVAL;
		}
	}
	x = json_object_get(r->root, "n");
	if (x && !json_is_null(x) && (!json_is_integer(x) || json_integer_value(x) != 1))
		return bad(err, len, "'%s' must be 1: one choice per request", "n");
	if ((rc = parse_stop(r->root, r, err, len)) < 0 ||
	    (rc = get_bool(r->root, "stream", &r->stream, err, len)) < 0)
		return rc;
	x = json_object_get(r->root, "stream_options");
	if (x && !json_is_null(x)) {
		if (!json_is_object(x))
			return bad(err, len, "'%s' must be an object", "stream_options");
		if ((rc = get_bool(x, "include_usage", &r->include_usage, err, len)) < 0)
			return rc;
	}
	return 0;
}

void pb_api_req_free(struct pb_api_req *r)
{
	if (!r)
		return;
	json_decref(r->root);
	free(r->msgs);
	memset(r, 0, sizeof *r);
}

/* ---- responses */

/* Milliseconds to the microsecond; printed short (JSON_REAL_PRECISION). */
static json_t *ms(double v)
{
	return json_real(isfinite(v) ? round(v * 1e3) / 1e3 : 0.0);
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
	json_decref(o);
	return s;
}

/* The output text as a JSON string (bytes that are no UTF-8 become U+FFFD). */
static json_t *text_value(const char *text, size_t n)
{
	size_t m;
	char *s = pb_utf8_sanitize(text, n, &m);
	json_t *v = s ? json_stringn_nocheck(s, m) : NULL;
	free(s);
	return v;
}

static json_t *head(const struct pb_api_meta *m, const char *object)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "id", m->id, "object", object, "created",
			 (json_int_t)m->created, "model", m->model);
}

static json_t *usage(const struct pb_api_meta *m)
{
	return json_pack("{s:i, s:i, s:i}", "prompt_tokens", m->prompt_tokens, "completion_tokens",
			 m->completion_tokens, "total_tokens", m->prompt_tokens + m->completion_tokens);
}

/* The extension object: queueing apart from compute, as the server saw it. */
static json_t *timing(const struct pb_api_meta *m)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:b}", "queue_ms", ms(m->queue_ms), "prefill_ms",
			      ms(m->prefill_ms), "decode_ms", ms(m->decode_ms), "ttft_ms", ms(m->ttft_ms),
			      "prompt_truncated", m->truncated);
	if (o && m->kind == PB_API_CHAT && m->chat_template)
		json_object_set_new(o, "chat_template", json_string(m->chat_template));
	return o;
}

char *pb_api_response(const struct pb_api_meta *m, const char *text, size_t n, const char *finish)
{
	json_t *choice, *o;
	if (m->kind == PB_API_CHAT) {
		choice = json_pack("{s:i, s:{s:s, s:o*}, s:n, s:s}", "index", 0, "message", "role",
				   "assistant", "content", text_value(text, n), "logprobs", "finish_reason",
				   finish);
		o = head(m, "chat.completion");
	} else {
		choice = json_pack("{s:o*, s:i, s:n, s:s}", "text", text_value(text, n), "index", 0,
				   "logprobs", "finish_reason", finish);
		o = head(m, "text_completion");
	}
	if (!o || !choice || json_object_set_new(o, "choices", json_pack("[o]", choice)) < 0 ||
	    json_object_set_new(o, "usage", usage(m)) < 0 ||
	    json_object_set_new(o, "prunebench", timing(m)) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

static char *event(json_t *o, size_t *outn)
{
	char *s = dump(o);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *e = malloc(n + 9);
	if (e) {
		memcpy(e, "data: ", 6);
		memcpy(e + 6, s, n);
		memcpy(e + 6 + n, "\n\n", 3);
		*outn = n + 8;
	}
	free(s);
	return e;
}

char *pb_api_chunk(const struct pb_api_meta *m, int role, const char *text, size_t n,
		   const char *finish, size_t *outn)
{
	json_t *choice, *o;
	if (m->kind == PB_API_CHAT) {
		json_t *delta = json_object();
		if (delta && role) {
			json_object_set_new(delta, "role", json_string("assistant"));
			json_object_set_new(delta, "content", json_string(""));
		}
		if (delta && text)
			json_object_set_new(delta, "content", text_value(text, n));
		choice = json_pack("{s:i, s:o*, s:n, s:s?}", "index", 0, "delta", delta, "logprobs",
				   "finish_reason", finish);
		o = head(m, "chat.completion.chunk");
	} else {
		choice = json_pack("{s:o*, s:i, s:n, s:s?}", "text", text_value(text ? text : "", n), "index",
				   0, "logprobs", "finish_reason", finish);
		o = head(m, "text_completion");
	}
	if (choice && !json_object_get(choice, "finish_reason"))
		json_object_set_new(choice, "finish_reason", json_null());
	if (!o || !choice || json_object_set_new(o, "choices", json_pack("[o]", choice)) < 0 ||
	    (m->include_usage && json_object_set_new(o, "usage", json_null()) < 0) ||
	    (finish && json_object_set_new(o, "prunebench", timing(m)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return event(o, outn);
}

char *pb_api_usage_chunk(const struct pb_api_meta *m, size_t *outn)
{
	json_t *o = head(m, m->kind == PB_API_CHAT ? "chat.completion.chunk" : "text_completion");
	if (!o || json_object_set_new(o, "choices", json_array()) < 0 ||
	    json_object_set_new(o, "usage", usage(m)) < 0) {
		json_decref(o);
		return NULL;
	}
	return event(o, outn);
}

static json_t *error_object(const char *message, const char *type)
{
	size_t n;
	char *s = pb_utf8_sanitize(message, strlen(message), &n);
	json_t *o = s ? json_pack("{s:{s:s%, s:s, s:n, s:n}}", "error", "message", s, n, "type", type,
				  "param", "code") : NULL;
	free(s);
	return o;
}

char *pb_api_error(const char *message, const char *type)
{
	return dump(error_object(message, type));
}

char *pb_api_error_event(const char *message, const char *type, size_t *outn)
{
	json_t *o = error_object(message, type);
	return o ? event(o, outn) : NULL;
}

char *pb_api_models(const char *model, long long created)
{
	return dump(json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id", model,
			      "object", "model", "created", (json_int_t)created, "owned_by", "prunebench"));
}

char *pb_api_health(void)
{
	return dump(json_pack("{s:s}", "status", "ok"));
}

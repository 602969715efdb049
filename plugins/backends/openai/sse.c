/* plugins/backends/openai/sse.c — Server-Sent Events framing and the
 * OpenAI completion chunks inside them (sse.h).  Framing follows the
 * WHATWG SSE parsing rules; the JSON is read with jansson.  Every limit
 * is checked before a buffer grows. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sse.h"

static __attribute__((format(printf, 3, 4)))
int fail(struct pb_sse *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	s->failed = rc;
	return rc;
}

void pb_sse_init(struct pb_sse *s, void (*on_text)(void *ctx, const char *text, size_t n),
		 void *ctx)
{
	memset(s, 0, sizeof *s);
	s->on_text = on_text;
	s->ctx = ctx;
	s->usage_prompt = s->usage_completion = -1;
	s->queue_ms = NAN;
	s->prefill_ms = s->ttft_ms = s->decode_ms = NAN;
}

void pb_sse_free(struct pb_sse *s)
{
	free(s->line);
	free(s->data);
	s->line = s->data = NULL;
	s->line_len = s->line_cap = s->data_len = s->data_cap = 0;
}

/* Make room for `more` bytes (and a NUL) in *buf, at most PB_SSE_EVENT_MAX. */
static int reserve(struct pb_sse *s, char **buf, size_t *cap, size_t len, size_t more)
{
	if (more > PB_SSE_EVENT_MAX || len + more > PB_SSE_EVENT_MAX)
		return fail(s, -E2BIG, "an event of the stream is longer than %u bytes: not an "
			    "OpenAI completion chunk", PB_SSE_EVENT_MAX);
	if (len + more + 1 <= *cap)
		return 0;
	size_t c = *cap ? *cap : 256;
	while (c < len + more + 1)
		c *= 2;
	char *p = realloc(*buf, c);
	if (!p)
		return fail(s, -ENOMEM, "out of memory reading the stream");
	*buf = p;
	*cap = c;
	return 0;
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* The message of an error value: {"message": …} or a string. */
static void error_message(const json_t *err, char *out, size_t len)
{
	const json_t *m = json_is_object(err) ? json_object_get(err, "message") : err;
	const json_t *t = json_is_object(err) ? json_object_get(err, "type") : NULL;
	if (json_is_string(m) && json_is_string(t))
		snprintf(out, len, "%s (%s)", json_string_value(m), json_string_value(t));
	else if (json_is_string(m))
		snprintf(out, len, "%s", json_string_value(m));
	else
		snprintf(out, len, "no message given");
}

/* An error reply in any of the shapes servers use, or NULL. */
static const json_t *error_of(const json_t *root)
{
	const json_t *e = json_object_get(root, "error");
	if (e && !json_is_null(e))
		return e;
	const json_t *o = json_object_get(root, "object");
	if (json_is_string(o) && !strcmp(json_string_value(o), "error"))
		return root;
	return NULL;
}

static int number(const json_t *j, double *v)
{
	if (!json_is_number(j))
		return 0;
	*v = json_number_value(j);
	return isfinite(*v);
}

/* One completion chunk (or, not streamed, the whole completion). */
static int chunk(struct pb_sse *s, const json_t *root, const char *where)
{
	char msg[400];
	if (!json_is_object(root))
		return fail(s, -EPROTO, "%s: expected a JSON object, got %s", where, json_kind(root));
	const json_t *err = error_of(root);
	if (err) {
		error_message(err, msg, sizeof msg);
		return fail(s, -EPROTO, "%s: the server reported an error: %s", where, msg);
	}
	const json_t *choices = json_object_get(root, "choices");
	if (choices && !json_is_null(choices) && !json_is_array(choices))
		return fail(s, -EPROTO, "%s: \"choices\" is %s, not an array", where, json_kind(choices));
	const json_t *c0 = json_array_get(choices, 0);
	if (c0 && !json_is_object(c0))
		return fail(s, -EPROTO, "%s: choices[0] is %s, not an object", where, json_kind(c0));
	if (json_is_array(choices))
		s->saw_choices = 1;
	if (c0) {
		const json_t *text = json_object_get(c0, "text");
		if (!text) {   /* a chat-style delta */
			const json_t *d = json_object_get(c0, "delta");
			text = json_is_object(d) ? json_object_get(d, "content") : NULL;
		}
		if (text && !json_is_null(text) && !json_is_string(text))
			return fail(s, -EPROTO, "%s: choices[0].text is %s, not a string", where,
				    json_kind(text));
		size_t n = json_string_length(text);
		if (n > 0) {
			s->n_content++;
			if (s->on_text)
				s->on_text(s->ctx, json_string_value(text), n);
		}
		const json_t *fr = json_object_get(c0, "finish_reason");
		if (json_is_string(fr))
			snprintf(s->finish_reason, sizeof s->finish_reason, "%s", json_string_value(fr));
	}
	const json_t *usage = json_object_get(root, "usage");
	if (usage && !json_is_null(usage)) {
		double v;
		if (!json_is_object(usage))
			return fail(s, -EPROTO, "%s: \"usage\" is %s, not an object", where,
				    json_kind(usage));
		if (number(json_object_get(usage, "prompt_tokens"), &v) && v >= 0 && v < 1e15)
			s->usage_prompt = (long)v;
		if (number(json_object_get(usage, "completion_tokens"), &v) && v >= 0 && v < 1e15)
			s->usage_completion = (long)v;
	}
	const json_t *ext = json_object_get(root, "prunebench");
	if (json_is_object(ext)) {
		double v;
		if (number(json_object_get(ext, "queue_ms"), &v) && v >= 0)
			s->queue_ms = v;
		if (number(json_object_get(ext, "prefill_ms"), &v) && v >= 0)
			s->prefill_ms = v;
		if (number(json_object_get(ext, "ttft_ms"), &v) && v >= 0)
			s->ttft_ms = v;
		if (number(json_object_get(ext, "decode_ms"), &v) && v >= 0)
			s->decode_ms = v;
	}
	return 0;
}

static int parse_json(struct pb_sse *s, const char *p, size_t n, const char *where)
{
	json_error_t je;
	json_t *root = json_loadb(p, n, JSON_DECODE_ANY, &je);
	if (!root)
		return fail(s, -EPROTO, "%s: malformed JSON at line %d, column %d: %s", where,
			    je.line, je.column, je.text);
	int rc = chunk(s, root, where);
	json_decref(root);
	return rc;
}

/* A blank line: the event collected so far, if it has data. */
static int dispatch(struct pb_sse *s)
{
	int rc = 0;
	if (!s->has_data)
		goto reset;
	s->n_events++;
	char where[96];
	snprintf(where, sizeof where, "event %ld of the stream", s->n_events);
	s->data[s->data_len] = '\0';
	if (!strcmp(s->event, "error")) {
		char msg[400];
		pb_sse_error_body(s->data, s->data_len, msg, sizeof msg);
		rc = fail(s, -EPROTO, "%s: the server sent an error event: %s", where, msg);
	} else if (s->event[0] && strcmp(s->event, "message")) {
		/* another event type (a keep-alive "ping"): not ours */
	} else {
		/* [DONE], tolerating blanks around it */
		const char *a = s->data, *b = s->data + s->data_len;
		while (a < b && (*a == ' ' || *a == '\t' || *a == '\n'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
			b--;
		if (b - a == 6 && !memcmp(a, "[DONE]", 6))
			s->done = 1;
		else if (!s->done)   /* anything after [DONE] is ignored */
			rc = parse_json(s, s->data, s->data_len, where);
	}
reset:
	s->data_len = 0;
	s->has_data = 0;
	s->event[0] = '\0';
	return rc;
}

/* One complete line of the stream (without its end). */
static int line(struct pb_sse *s)
{
	const char *p = s->line;
	size_t n = s->line_len;
	s->line_len = 0;
	if (!s->seen_line) {   /* a UTF-8 BOM before the first line is dropped */
		s->seen_line = 1;
		if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
			p += 3;
			n -= 3;
		}
	}
	if (n == 0)
		return dispatch(s);
	if (p[0] == ':')
		return 0;   /* a comment (keep-alive) */
	const char *colon = memchr(p, ':', n);
	size_t fl = colon ? (size_t)(colon - p) : n;
	const char *v = colon ? colon + 1 : p + n;
	size_t vl = (size_t)(p + n - v);
	if (vl && *v == ' ') {
		v++;
		vl--;
	}
	if (fl == 4 && !memcmp(p, "data", 4)) {
		int rc = reserve(s, &s->data, &s->data_cap, s->data_len, vl + 1);
		if (rc < 0)
			return rc;
		if (s->has_data)
			s->data[s->data_len++] = '\n';
		memcpy(s->data + s->data_len, v, vl);
		s->data_len += vl;
		s->has_data = 1;
	} else if (fl == 5 && !memcmp(p, "event", 5)) {
		size_t k = vl < sizeof s->event - 1 ? vl : sizeof s->event - 1;
		memcpy(s->event, v, k);
		s->event[k] = '\0';
	}
	/* id, retry and unknown fields are ignored, as the spec says */
	return 0;
}

int pb_sse_feed(struct pb_sse *s, const char *p, size_t n)
{
	if (s->failed)
		return s->failed;
	size_t i = 0;
	if (s->mode == 0) {
		/* the first byte that is not blank says what the body is */
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i == n)
			return 0;
		s->mode = p[i] == '{' ? 2 : 1;
		s->streamed = s->mode == 1;
	}
	if (s->mode == 2) {
		int rc = reserve(s, &s->data, &s->data_cap, s->data_len, n - i);
		if (rc < 0)
			return rc;
		memcpy(s->data + s->data_len, p + i, n - i);
		s->data_len += n - i;
		return 0;
	}
	while (i < n) {
		if (s->after_cr && p[i] == '\n') {
			s->after_cr = 0;
			i++;
			continue;
		}
		s->after_cr = 0;
		/* the rest of this line, at once */
		size_t j = i;
		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		if (j > i) {
			int rc = reserve(s, &s->line, &s->line_cap, s->line_len, j - i);
			if (rc < 0)
				return rc;
			memcpy(s->line + s->line_len, p + i, j - i);
			s->line_len += j - i;
		}
		if (j == n)
			break;
		s->after_cr = p[j] == '\r';
		int rc = line(s);
		if (rc < 0)
			return rc;
		i = j + 1;
	}
	return 0;
}

int pb_sse_finish(struct pb_sse *s)
{
	int rc;
	if (s->failed)
		return s->failed;
	if (s->mode == 0)
		return fail(s, -EPROTO, "the reply was empty");
	if (s->mode == 2) {
		if ((rc = parse_json(s, s->data, s->data_len, "the reply (one JSON object, not a "
				     "stream)")) < 0)
			return rc;
		if (!s->saw_choices)
			return fail(s, -EPROTO, "the reply is one JSON object without choices: "
				    "neither an event stream nor a completion");
		s->done = 1;
		return 0;
	}
	/* a last line or event without its blank line: taken, not lost */
	if (s->line_len && (rc = line(s)) < 0)
		return rc;
	if ((rc = dispatch(s)) < 0)
		return rc;
	if (!s->done && !s->finish_reason[0])
		return fail(s, -EPROTO, "the stream ended before it was complete (no finish_reason, "
			    "no data: [DONE]) after %ld event%s, %ld with text: the server closed "
			    "it mid-stream", s->n_events, s->n_events == 1 ? "" : "s", s->n_content);
	return 0;
}

void pb_sse_error_body(const char *body, size_t n, char *out, size_t len)
{
	json_error_t je;
	json_t *root = n ? json_loadb(body, n, JSON_DECODE_ANY, &je) : NULL;
	const json_t *err = json_is_object(root) ? error_of(root) : NULL;
	if (len == 0)
		goto out;
	if (err) {
		error_message(err, out, len);
	} else if (n == 0) {
		snprintf(out, len, "(no body)");
	} else {
		/* the start of the body as text, on one line */
		size_t k = 0, max = len - 1 < 200 ? len - 1 : 200;
		for (size_t i = 0; i < n && k < max; i++) {
			unsigned char ch = (unsigned char)body[i];
			out[k++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
		}
		out[k] = '\0';
	}
out:
	json_decref(root);
}

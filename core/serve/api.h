/* core/serve/api.h — OpenAI's HTTP API as JSON: a request body into the
 * parameters `serve` supports, and the response objects (whole, and
 * Server-Sent Events chunks) back.  No I/O, no model: http.c and worker.c
 * do those.
 *
 * Requests (POST /v1/completions, /v1/chat/completions): prompt (a string,
 * or an array of one string) or messages; max_tokens or
 * max_completion_tokens (>= 1); temperature absent, null or 0 (greedy: any
 * other value is refused); n absent or 1; stop (a string or an array of at
 * most 4); stream; stream_options.include_usage; model (echoed).  Other
 * fields are ignored, as OpenAI-compatible servers do. */
#ifndef PB_SERVE_API_H
#define PB_SERVE_API_H

#include <stddef.h>

#include <jansson.h>

#include "serve/chat.h"

enum pb_api_kind { PB_API_COMPLETION = 0, PB_API_CHAT = 1 };

#define PB_API_MAX_STOP 4

struct pb_api_req {
	enum pb_api_kind kind;
	json_t *root;                      /* owns every string below */
	const char *prompt;                /* completion */
	struct pb_chat_msg *msgs;          /* chat (malloc'd array) */
	int n_msgs;
	int max_tokens;                    /* 0: not given */
	const char *stop[PB_API_MAX_STOP];
	int n_stop;
	int stream, include_usage;
	const char *model;                 /* NULL: not given */
};

/* Parse a body.  -EINVAL: a bad request, the reason in err (malformed
 * JSON says its line and column); -ENOMEM. */
int pb_api_req_parse(enum pb_api_kind kind, const char *body, size_t n, struct pb_api_req *r,
		     char *err, size_t len);
void pb_api_req_free(struct pb_api_req *r);

/* What one response says besides its text. */
struct pb_api_meta {
	enum pb_api_kind kind;
	const char *id;                    /* "cmpl-…" / "chatcmpl-…" */
	long long created;                 /* Unix seconds */
	const char *model;
	const char *chat_template;         /* chat: the template's name */
	int prompt_tokens, completion_tokens;
	int truncated;                     /* the prompt was cut to fit the context */
	double queue_ms, prefill_ms, decode_ms, ttft_ms;
	int include_usage;                 /* streaming: usage null in every chunk, then a usage chunk */
};

/* The whole response (stream false): a malloc'd JSON text. */
char *pb_api_response(const struct pb_api_meta *m, const char *text, size_t n, const char *finish);

/* One SSE event, "data: {chunk}\n\n", malloc'd (length in *outn):
 *   role: the chat's first chunk (delta {role: assistant, content: ""});
 *   text: a piece of the output (NULL: none);
 *   finish: the last chunk with a choice ("stop" / "length"), which also
 *           carries the `prunebench` timing object. */
char *pb_api_chunk(const struct pb_api_meta *m, int role, const char *text, size_t n,
		   const char *finish, size_t *outn);
/* The usage chunk (choices []) that follows the finish chunk when
 * include_usage; "data: [DONE]\n\n" ends every stream. */
char *pb_api_usage_chunk(const struct pb_api_meta *m, size_t *outn);
#define PB_API_DONE "data: [DONE]\n\n"

/* {"error": {"message", "type", "param": null, "code": null}}, malloc'd. */
char *pb_api_error(const char *message, const char *type);
/* The same as one SSE event (an error after the stream started). */
char *pb_api_error_event(const char *message, const char *type, size_t *outn);

/* GET /v1/models and /health bodies, malloc'd. */
char *pb_api_models(const char *model, long long created);
char *pb_api_health(void);

#endif

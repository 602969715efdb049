/* plugins/backends/openai/sse.h — the client side of an OpenAI-compatible
 * completion reply: Server-Sent Events framing and the JSON of each chunk,
 * fed in pieces exactly as the network delivers them.
 *
 * Liberal in what it accepts, since llama.cpp's llama-server, vLLM, Ollama's
 * /v1 and `prunebench serve` all differ a little: LF, CRLF or CR line ends
 * (a CRLF split across two reads included), `:` comment lines, `event:`,
 * `id:` and `retry:` fields, a data field spread over several `data:` lines
 * (joined with "\n", as the SSE spec says), a space after the colon or
 * not, chunks split anywhere, a final usage chunk with empty `choices`,
 * chat-style `choices[0].delta.content` besides `choices[0].text`, and a
 * server that ignored `stream: true` and answered one JSON object.
 *
 * Errors are values: a malformed event, an error object from the server or
 * a stream that ends before its end give -EPROTO (-ENOMEM, -E2BIG) and one
 * sentence in `error`; the parser never reads past what it was given.
 *
 * Owns: its buffers (pb_sse_free).  Borrows: the callback's ctx.
 */
#ifndef PB_OPENAI_SSE_H
#define PB_OPENAI_SSE_H

#include <stddef.h>

/* The longest event (all its data lines) accepted: a completion chunk is
 * a few hundred bytes; this bounds a broken or hostile server. */
#define PB_SSE_EVENT_MAX (4u << 20)

struct pb_sse {
	/* ---- results, valid at any time */
	int done;                  /* `data: [DONE]` seen */
	int streamed;              /* the body was an event stream (0: one JSON object) */
	long n_events;             /* events dispatched (comments and empty events not counted) */
	long n_content;            /* events that carried output text */
	char finish_reason[32];    /* the last one a chunk gave, "" none */
	long usage_prompt, usage_completion;   /* -1 until a usage object says */
	double queue_ms;           /* the `prunebench` extension's queue_ms; NAN until given */
	double prefill_ms, ttft_ms, decode_ms;   /* the same object's; NAN until given */
	char error[512];           /* why the last call failed, "" none */

	/* ---- called for each piece of output text, in order (may be NULL) */
	void (*on_text)(void *ctx, const char *text, size_t n);
	void *ctx;

	/* ---- private */
	int mode;                  /* 0 undecided, 1 event stream, 2 one JSON body */
	int after_cr;              /* the last byte was CR: a LF next is the same line end */
	int failed;
	int saw_choices;           /* some chunk had a "choices" array */
	int seen_line;             /* the first line was read (its BOM dropped) */
	char *line;                /* the current, unfinished line */
	size_t line_len, line_cap;
	char *data;                /* the current event's data field */
	size_t data_len, data_cap;
	int has_data;
	char event[64];            /* the current event's type, "" = message */
};

/* Ready a parser (zeroes it). */
void pb_sse_init(struct pb_sse *s, void (*on_text)(void *ctx, const char *text, size_t n),
		 void *ctx);
void pb_sse_free(struct pb_sse *s);

/* Feed the next n bytes of the body.  0, or -errno with s->error (the
 * parser then refuses more input with the same error). */
int pb_sse_feed(struct pb_sse *s, const char *p, size_t n);

/* The body ended.  0 when the reply was complete (`[DONE]`, or a
 * finish_reason, or the one JSON object parsed), else -EPROTO with why
 * (a server that closed mid-stream). */
int pb_sse_finish(struct pb_sse *s);

/* The message of an error body such as {"error": {"message": …, "type":
 * …}}, {"error": "…"} or {"object": "error", "message": …} (OpenAI,
 * llama-server, vLLM, Ollama), written into out; else the start of the
 * body as text (an HTML page from a proxy).  Never fails. */
void pb_sse_error_body(const char *body, size_t n, char *out, size_t len);

#endif

/* core/serve/serve.h — `prunebench serve`: one loaded (and compressed)
 * model behind OpenAI's HTTP API (api.h), on libmicrohttpd.
 *
 * Threads: MHD runs a thread per connection; each request is parsed
 * there, queued, and waited on.  One worker thread owns the session and
 * serves the queue in order, one request at a time (no batching), through
 * pb_generate, so the text is exactly `prunebench generate`'s.  Streaming
 * requests get their chunks from the worker as tokens are chosen; a client
 * that goes away is noticed by its connection thread (the socket hangs
 * up) and the worker stops that request at its next token.
 *
 * Every response reports its queue time (enqueued → taken by the worker)
 * beside prefill and decode time: the `prunebench` object of the JSON (of
 * the last chunk with a choice, when streaming) and the X-Queue-Time-Ms
 * header. */
#ifndef PB_SERVE_H
#define PB_SERVE_H

#include <stddef.h>
#include <stdio.h>

struct pb_model;
struct pb_session;

struct pb_serve_opts {
	const char *host;            /* address to bind: NULL is 127.0.0.1 */
	int port;                    /* 0: a free port, chosen by the kernel */
	size_t max_body;             /* larger request bodies get 413 */
	const char *chat_template;   /* a chat.h name, or NULL: from the vocabulary */
	const char *backend;         /* its name, for the log */
	FILE *announce;              /* "listening on http://HOST:PORT" goes here (a line, flushed) */
};

#define PB_SERVE_MAX_BODY_DEFAULT (1u << 20)

/* SIGINT and SIGTERM must be blocked in every thread (block them before
 * starting any: backends start thread pools); pb_serve waits for one
 * with sigwait() and then stops cleanly: queued requests get 503, the
 * running one is cut at its next token, connections are closed.  The
 * session and model are borrowed for the whole call.  0 (stopped by a
 * signal) or -errno, the reason in err. */
int pb_serve(struct pb_session *s, const struct pb_model *m, const struct pb_serve_opts *o,
	     char *err, size_t len);

#endif

/* core/serve/server.c — the HTTP side of `serve` (serve.h): routes,
 * bodies, error replies, waiting on queued jobs and streaming their SSE
 * bytes, on libmicrohttpd with a thread per connection (so a connection
 * may block while its request waits or streams); start and clean stop. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "model/modelio.h"
#include "serve/serve-internal.h"
#include "serve/serve.h"
#include "util/util.h"

/* How often a waiting connection looks whether its client hung up. */
#define POLL_MS 20

enum route { R_HEALTH = 1, R_MODELS, R_COMPLETIONS, R_CHAT };

static const struct {
	const char *path, *method;
	enum route route;
} routes[] = {
	{ "/health", "GET", R_HEALTH },
	{ "/v1/models", "GET", R_MODELS },
	{ "/v1/completions", "POST", R_COMPLETIONS },
	{ "/v1/chat/completions", "POST", R_CHAT },
};

/* One request on a connection (MHD's *con_cls). */
struct conn {
	char *body;
	size_t n, cap;
	int too_big;
	struct job *job;   /* a reference */
};

/* ---- replies */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body,
			     double queue_ms, const char *allow)
{
	static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
				  "\"param\":null,\"code\":null}}";
	char q[32];
	if (!body) {
		status = 500;
		if (!(body = strdup(oom)))
			return MHD_NO;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (queue_ms >= 0) {
		snprintf(q, sizeof q, "%.3f", queue_ms);
		MHD_add_response_header(r, "X-Queue-Time-Ms", q);
	}
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *type,
				   const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *type,
				   const char *allow, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return reply(c, status, pb_api_error(msg, type), -1, allow);
}

/* ---- waiting on a job */

static int client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void wait_a_while(struct pb_server *srv)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += POLL_MS * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&srv->changed, &srv->lock, &t);
}

/* Wait (lock held) until the job reaches state `until`; -ECONNRESET when
 * its client hangs up first (the job is cancelled). */
static int wait_job(struct job *j, enum job_state until)
{
	while (j->state < until) {
		wait_a_while(j->srv);
		if (j->state < until && client_gone(j->fd)) {
			j->cancelled = 1;
			return -ECONNRESET;
		}
	}
	return 0;
}

/* MHD pulls the stream: the worker's SSE bytes as they come. */
static ssize_t read_sse(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct job *j = cls;
	struct pb_server *srv = j->srv;
	ssize_t rc;
	(void)pos;
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		if (j->sse_off < j->sse_len) {
			size_t n = j->sse_len - j->sse_off < max ? j->sse_len - j->sse_off : max;
			memcpy(buf, j->sse + j->sse_off, n);
			j->sse_off += n;
			rc = (ssize_t)n;
			break;
		}
		if (j->state == JOB_DONE) {
			rc = MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if (j->cancelled) {
			rc = MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		wait_a_while(srv);
		if (j->sse_off == j->sse_len && j->state != JOB_DONE && client_gone(j->fd)) {
			j->cancelled = 1;
			rc = MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

static void free_sse(void *cls)
{
	struct job *j = cls;
	struct pb_server *srv = j->srv;
	pthread_mutex_lock(&srv->lock);
	if (j->state != JOB_DONE)
		j->cancelled = 1;
	pb_serve_job_put(j);
	pthread_mutex_unlock(&srv->lock);
}

/* ---- the generating endpoints */

static enum MHD_Result generate(struct pb_server *srv, struct conn *cn, struct MHD_Connection *c,
				enum route route)
{
	char err[512], q[32];
	int rc;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return reply(c, 500, NULL, -1, NULL);
	j->srv = srv;
	j->refs = 1;
	cn->job = j;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	j->fd = ci ? ci->connect_fd : -1;
	rc = pb_api_req_parse(route == R_CHAT ? PB_API_CHAT : PB_API_COMPLETION, cn->body ? cn->body : "",
			      cn->n, &j->req, err, sizeof err);
	if (rc == -EINVAL)
		return reply_error(c, 400, "invalid_request_error", NULL, "%s", err);
	if (rc < 0)
		return reply(c, 500, NULL, -1, NULL);
	if (pb_serve_enqueue(srv, j) < 0)
		return reply_error(c, 503, "server_error", NULL, "the server is stopping");

	pthread_mutex_lock(&srv->lock);
	if (wait_job(j, j->req.stream ? JOB_RUNNING : JOB_DONE) < 0) {
		pthread_mutex_unlock(&srv->lock);
		return MHD_NO;   /* nobody to answer */
	}
	const unsigned status = (unsigned)j->status;
	const double queue_ms = j->queue_ms;
	if (!j->req.stream || status != 200) {
		char *body = j->body;
		j->body = NULL;
		pthread_mutex_unlock(&srv->lock);
		return reply(c, status, body, queue_ms, NULL);
	}
	j->refs++;   /* the stream's */
	pthread_mutex_unlock(&srv->lock);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_sse, j,
								   free_sse);
	if (!r) {
		free_sse(j);
		return MHD_NO;
	}
	snprintf(q, sizeof q, "%.3f", queue_ms);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Queue-Time-Ms", q);
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct pb_server *srv = cls;
	struct conn *cn = *con_cls;
	enum route route = 0;
	(void)version;
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
		if (!strcmp(url, routes[i].path))
			route = routes[i].route;

	if (!cn) {   /* the headers are in; the body, if any, comes next */
		if (!(cn = calloc(1, sizeof *cn)))
			return MHD_NO;
		*con_cls = cn;
		if (!route)
			return reply_error(c, 404, "invalid_request_error", NULL, "no endpoint %s %s (serve has "
					   "POST /v1/completions, POST /v1/chat/completions, GET /v1/models, "
					   "GET /health)", method, url);
		for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
			if (routes[i].route == route && strcmp(method, routes[i].method))
				return reply_error(c, 405, "invalid_request_error", routes[i].method,
						   "%s is not allowed on %s: use %s", method, url,
						   routes[i].method);
		if (route == R_HEALTH)
			return reply(c, 200, pb_api_health(), -1, NULL);
		if (route == R_MODELS)
			return reply(c, 200, pb_api_models(srv->model_id, srv->started), -1, NULL);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > srv->max_body)
			return reply_error(c, 413, "invalid_request_error", NULL, "the body is %s bytes; "
					   "this server takes at most %zu (serve --max-body)", cl, srv->max_body);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (cn->too_big || cn->n + n > srv->max_body) {
			cn->too_big = 1;   /* read and dropped: a chunked body has no length to refuse early */
			return MHD_YES;
		}
		if (cn->n + n + 1 > cn->cap) {
			size_t cap = (cn->n + n + 1) * 2;
			char *p = realloc(cn->body, cap);
			if (!p)
				return MHD_NO;
			cn->body = p;
			cn->cap = cap;
		}
		memcpy(cn->body + cn->n, upload, n);
		cn->n += n;
		cn->body[cn->n] = '\0';
		return MHD_YES;
	}
	if (cn->too_big)
		return reply_error(c, 413, "invalid_request_error", NULL, "the body is larger than this "
				   "server takes: %zu bytes (serve --max-body)", srv->max_body);
	return generate(srv, cn, c, route);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct pb_server *srv = cls;
	struct conn *cn = *con_cls;
	(void)c;
	(void)toe;
	if (!cn)
		return;
	if (cn->job) {
		pthread_mutex_lock(&srv->lock);
		if (cn->job->state != JOB_DONE && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			cn->job->cancelled = 1;
		pb_serve_job_put(cn->job);
		pthread_mutex_unlock(&srv->lock);
	}
	free(cn->body);
	free(cn);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pb_log(PB_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

/* ---- start and stop */

static struct MHD_Daemon *start(struct pb_server *srv, const struct pb_serve_opts *o, char *url,
				size_t url_len, char *err, size_t len)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM },
			*ai = NULL;
	struct sockaddr_storage sa;
	char port[16], numeric[NI_MAXHOST];
	snprintf(port, sizeof port, "%d", o->port);
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		pb_errf(err, len, -EINVAL, "--host %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
	const int v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, srv,
						MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
						MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
						MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
						MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
						MHD_OPTION_CONNECTION_TIMEOUT, 300u,
						MHD_OPTION_END);
	if (!d) {
		pb_errf(err, len, -EADDRNOTAVAIL, "cannot listen on %s port %d (in use, or not an address "
			"of this machine? 'prunebench -v serve' says more)", host, o->port);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (getnameinfo((struct sockaddr *)&sa, v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
			numeric, sizeof numeric, NULL, 0, NI_NUMERICHOST))
		snprintf(numeric, sizeof numeric, "%s", host);
	snprintf(url, url_len, v6 ? "http://[%s]:%u" : "http://%s:%u", numeric,
		 di ? (unsigned)di->port : (unsigned)o->port);
	return d;
}

int pb_serve(struct pb_session *s, const struct pb_model *m, const struct pb_serve_opts *o,
	     char *err, size_t len)
{
	struct pb_server srv = { .s = s, .m = m, .tok = pb_model_tokenizer(m) };
	struct MHD_Daemon *d = NULL;
	pthread_condattr_t ca;
	pthread_t worker;
	sigset_t stop;
	char url[NI_MAXHOST + 32];
	int sig, rc;

	if (!srv.tok)
		return pb_errf(err, len, -EINVAL, "model %s has no tokenizer: nothing to serve text with",
			       m->name);
	int kind = pb_chat_detect(srv.tok);
	const char *how = "by the special tokens in the vocabulary";
	if (o->chat_template) {
		if ((kind = pb_chat_kind_of_name(o->chat_template)) < 0)
			return pb_errf(err, len, -EINVAL, "--chat-template %s: unknown (plain, llama3, chatml, "
				       "gemma, phi3)", o->chat_template);
		how = "as asked";
	}
	pb_chat_bind(&srv.chat, (enum pb_chat_kind)kind, srv.tok);
	snprintf(srv.model_id, sizeof srv.model_id, "%s", m->name);
	srv.started = time(NULL);
	srv.max_body = o->max_body ? o->max_body : PB_SERVE_MAX_BODY_DEFAULT;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* every thread made below inherits it */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv.changed, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&worker, NULL, pb_serve_worker, &srv)) != 0) {
		rc = pb_errf(err, len, -rc, "cannot start the worker thread: %s", strerror(rc));
		goto out;
	}
	if ((d = start(&srv, o, url, sizeof url, err, len))) {
		pb_log(PB_LOG_INFO, "serving %s on backend %s; chat template %s (%s); one request at a "
		       "time; bodies up to %zu bytes", m->name, o->backend ? o->backend : "?",
		       pb_chat_name(srv.chat.kind), how, srv.max_body);
		fprintf(o->announce ? o->announce : stdout, "listening on %s\n", url);
		fflush(o->announce ? o->announce : stdout);
		if (sigwait(&stop, &sig) == 0)
			pb_log(PB_LOG_INFO, "%s: stopping", strsignal(sig));
		rc = 0;
	} else {
		rc = -EADDRNOTAVAIL;
	}
	pthread_mutex_lock(&srv.lock);
	srv.stopping = 1;
	if (srv.running)
		srv.running->cancelled = 1;
	pthread_cond_broadcast(&srv.work);
	pthread_mutex_unlock(&srv.lock);
	pthread_join(worker, NULL);
	/* every job is DONE now: connection threads waiting on one return */
	if (d)
		MHD_stop_daemon(d);
out:
	pthread_cond_destroy(&srv.changed);
	pthread_cond_destroy(&srv.work);
	pthread_mutex_destroy(&srv.lock);
	return rc;
}

/* plugins/backends/openai/openai.c — the `openai` backend: a remote
 * backend (pb_backend_ops.complete, issue 16) that sends each request to
 * an OpenAI-compatible server — `prunebench serve`, llama.cpp's
 * llama-server, vLLM, Ollama's /v1 — as a streaming completion
 * (POST {url}/v1/completions, stream: true, include_usage, temperature 0)
 * through libcurl, and reports what the client saw: the arrival time of
 * every output token, the transfer's connect/TLS/first-byte times, the
 * bytes, the server's usage and queue time.  Parsing is sse.c's.
 *
 * One easy handle per state, kept across requests, so a connection is
 * reused the way a client library reuses it (`fresh_connection: true`
 * opens one per request, to measure connect and TLS each time).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <prunebench/plugin.h>

#include "sse.h"

#define ERROR_BODY_MAX 8192    /* bytes of an error reply kept for its message */

struct oa_config {
	char url[PB_OPT_STR_MAX];
	char model[PB_OPT_STR_MAX];
	char api_key_env[PB_OPT_STR_MAX];
	double timeout_s;
	double connect_timeout_s;
	int fresh_connection;
	int ignore_eos;
};

struct oa_state {
	const struct pb_host *host;
	struct oa_config cfg;
	char endpoint[PB_OPT_STR_MAX + 32];
	char *auth;                /* "Authorization: Bearer …", NULL without a key */
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
	/* the request in flight */
	const struct pb_complete_req *req;
	struct pb_sse sse;
	double t0_ms;
	long status;
	char *text;
	size_t text_len, text_cap;
	double *token_ms;
	int n_tokens, cap_tokens;
	char *err_body;            /* an HTTP error's body (up to ERROR_BODY_MAX) */
	size_t err_len;
	int oom;
};

/* res->error, cut to fit: a long URL or server message must not hide
 * what went wrong, but may lose its tail. */
static __attribute__((format(printf, 2, 3)))
void say(struct pb_complete_res *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof res->error, fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- receiving -------------------------------------------------------- */

/* One piece of output text: stamped when the read that completed its
 * event arrived (every event of one read shares that read's time). */
static void on_text(void *ctx, const char *p, size_t n)
{
	struct oa_state *s = ctx;
	double t = now_ms() - s->t0_ms;
	if (s->n_tokens == s->cap_tokens) {
		int cap = s->cap_tokens ? s->cap_tokens * 2 : 64;
		double *q = realloc(s->token_ms, (size_t)cap * sizeof *q);
		if (!q) {
			s->oom = 1;
			return;
		}
		s->token_ms = q;
		s->cap_tokens = cap;
	}
	if (s->text_len + n + 1 > s->text_cap) {
		size_t cap = s->text_cap ? s->text_cap : 256;
		while (cap < s->text_len + n + 1)
			cap *= 2;
		char *q = realloc(s->text, cap);
		if (!q) {
			s->oom = 1;
			return;
		}
		s->text = q;
		s->text_cap = cap;
	}
	memcpy(s->text + s->text_len, p, n);
	s->text_len += n;
	s->text[s->text_len] = '\0';
	s->token_ms[s->n_tokens++] = t;
	if (s->n_tokens == 1 && s->req->first_token)
		s->req->first_token(s->req->ctx);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct oa_state *s = ctx;
	size_t n = size * nmemb;
	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status >= 300) {   /* an error reply: keep its start for the message */
		size_t k = ERROR_BODY_MAX - s->err_len < n ? ERROR_BODY_MAX - s->err_len : n;
		if (!s->err_body && !(s->err_body = malloc(ERROR_BODY_MAX)))
			return 0;
		memcpy(s->err_body + s->err_len, p, k);
		s->err_len += k;
		return n;
	}
	if (pb_sse_feed(&s->sse, p, n) < 0 || s->oom)
		return 0;   /* abort the transfer: CURLE_WRITE_ERROR */
	return n;
}

/* ---- one request ------------------------------------------------------ */

static char *request_body(const struct oa_state *s, const struct pb_complete_req *req)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (s->cfg.model[0])
		json_object_set_new(o, "model", json_string(s->cfg.model));
	json_object_set_new(o, "prompt", json_string(req->prompt));
	json_object_set_new(o, "max_tokens", json_integer(req->max_tokens));
	json_object_set_new(o, "temperature", json_integer(0));
	json_object_set_new(o, "stream", json_true());
	json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
	if (req->stop && req->stop[0]) {
		json_t *a = json_array();
		for (int i = 0; req->stop[i]; i++)
			json_array_append_new(a, json_string(req->stop[i]));
		json_object_set_new(o, "stop", a);
	}
	if (s->cfg.ignore_eos)
		json_object_set_new(o, "ignore_eos", json_true());
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return body;
}

static double info_ms(CURL *c, CURLINFO what)
{
	curl_off_t us = 0;
	if (curl_easy_getinfo(c, what, &us) != CURLE_OK)
		return NAN;
	return (double)us / 1e3;
}

/* The transfer's own figures, whatever the outcome. */
static void transfer_info(struct oa_state *s, struct pb_complete_res *res)
{
	long req_size = 0, hdr_size = 0, conns = 0;
	curl_off_t down = 0;
	res->connect_ms = info_ms(s->curl, CURLINFO_CONNECT_TIME_T);
	res->tls_ms = !strncmp(s->endpoint, "https:", 6) ?
		info_ms(s->curl, CURLINFO_APPCONNECT_TIME_T) : NAN;
	res->first_byte_ms = info_ms(s->curl, CURLINFO_STARTTRANSFER_TIME_T);
	if (curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
		res->new_connections = (int)conns;
	/* REQUEST_SIZE counts what was sent of the request (headers and the
	 * posted body); HEADER_SIZE the response's headers, SIZE_DOWNLOAD
	 * its body (chunked framing and TLS records not counted) */
	if (curl_easy_getinfo(s->curl, CURLINFO_REQUEST_SIZE, &req_size) == CURLE_OK)
		res->bytes_sent = req_size;
	if (curl_easy_getinfo(s->curl, CURLINFO_HEADER_SIZE, &hdr_size) == CURLE_OK &&
	    curl_easy_getinfo(s->curl, CURLINFO_SIZE_DOWNLOAD_T, &down) == CURLE_OK)
		res->bytes_received = hdr_size + down;
	res->http_status = (int)s->status;
}

/* Why a transfer failed, in words a user can act on. */
static int explain(struct oa_state *s, CURLcode cc, struct pb_complete_res *res)
{
	const char *detail = s->curl_err[0] ? s->curl_err : curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		say(res, "cannot connect to %s: %s (is the server "
			 "running, and is `url` right?)", s->endpoint, detail);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		say(res, "%s: no complete reply within %g s "
			 "(timeout_s) after %d token%s: %s", s->endpoint, s->cfg.timeout_s,
			 s->n_tokens, s->n_tokens == 1 ? "" : "s", detail);
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:   /* we stopped it: the stream was malformed */
		say(res, "%s: %s", s->endpoint,
			 s->oom ? "out of memory" : s->sse.error);
		return s->oom ? -ENOMEM : -EPROTO;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		say(res, "%s: the server closed the connection "
			 "mid-reply after %d token%s: %s", s->endpoint, s->n_tokens,
			 s->n_tokens == 1 ? "" : "s", detail);
		return -ECONNRESET;
	default:
		say(res, "%s: %s", s->endpoint, detail);
		return -EIO;
	}
}

static void reset_request(struct oa_state *s, const struct pb_complete_req *req)
{
	pb_sse_free(&s->sse);
	pb_sse_init(&s->sse, on_text, s);
	s->req = req;
	s->status = 0;
	s->text_len = 0;
	if (s->text)
		s->text[0] = '\0';
	s->n_tokens = 0;
	s->err_len = 0;
	s->oom = 0;
	s->curl_err[0] = '\0';
}

static int oa_complete(void *state, const struct pb_complete_req *req, struct pb_complete_res *res)
{
	struct oa_state *s = state;
	struct curl_slist *hdr = NULL;
	char *body = NULL;
	int rc = 0;

	if (!req || !req->prompt || req->max_tokens < 1) {
		say(res, "a request needs a prompt and max_tokens >= 1");
		return -EINVAL;
	}
	reset_request(s, req);
	if (!(body = request_body(s, req))) {
		say(res, "out of memory building the request");
		return -ENOMEM;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	if (s->auth)
		hdr = curl_slist_append(hdr, s->auth);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));

	s->t0_ms = now_ms();
	CURLcode cc = curl_easy_perform(s->curl);
	res->done_ms = now_ms() - s->t0_ms;
	transfer_info(s, res);
	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	res->http_status = (int)s->status;

	if (cc != CURLE_OK) {
		rc = explain(s, cc, res);
	} else if (s->status >= 300) {
		char msg[400];
		pb_sse_error_body(s->err_body, s->err_len, msg, sizeof msg);
		say(res, "%s: HTTP %ld: %s", s->endpoint, s->status, msg);
		rc = -EIO;
	} else if (pb_sse_finish(&s->sse) < 0) {
		say(res, "%s: %s", s->endpoint, s->sse.error);
		rc = -EPROTO;
	} else if (s->oom) {
		say(res, "out of memory reading the reply");
		rc = -ENOMEM;
	}
	res->text = s->text ? s->text : "";
	res->n_tokens = s->n_tokens;
	res->token_ms = s->token_ms;
	res->streamed = s->sse.streamed;
	res->usage_prompt_tokens = (int)s->sse.usage_prompt;
	res->usage_completion_tokens = (int)s->sse.usage_completion;
	res->server_queue_ms = s->sse.queue_ms;
	if (res->struct_size >= offsetof(struct pb_complete_res, server_decode_ms) +
	    sizeof res->server_decode_ms) {
		res->server_prefill_ms = s->sse.prefill_ms;
		res->server_ttft_ms = s->sse.ttft_ms;
		res->server_decode_ms = s->sse.decode_ms;
	}
	snprintf(res->finish_reason, sizeof res->finish_reason, "%s", s->sse.finish_reason);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdr);
	free(body);
	return rc;
}

/* ---- plugin ----------------------------------------------------------- */

static int oa_available(const struct pb_host *h, char *why, size_t len)
{
	(void)h;
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	snprintf(why, len, "libcurl %s%s", v->version, v->ssl_version ? ", " : "");
	if (v->ssl_version) {
		size_t l = strlen(why);
		snprintf(why + l, len > l ? len - l : 0, "%s", v->ssl_version);
	}
	return 0;
}

static void oa_fini(void *state)
{
	struct oa_state *s = state;
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	pb_sse_free(&s->sse);
	free(s->auth);
	free(s->text);
	free(s->token_ms);
	free(s->err_body);
	free(s);
}

static int oa_init(const struct pb_host *h, const void *config, void **state)
{
	const struct oa_config *cfg = config;
	struct oa_state *s = calloc(1, sizeof *s);
	int rc = -EINVAL;
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *cfg;
	/* the server's root, so "http://h:8000", "…/" and "…/v1" all work */
	char base[PB_OPT_STR_MAX];
	snprintf(base, sizeof base, "%s", cfg->url);
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		base[--n] = '\0';
	if (n >= 3 && !strcmp(base + n - 3, "/v1"))
		base[n -= 3] = '\0';
	if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
		h->log(h, PB_LOG_ERROR, "url '%s': expected http://HOST[:PORT] or https://…", cfg->url);
		goto fail;
	}
	snprintf(s->endpoint, sizeof s->endpoint, "%s/v1/completions", base);
	if (cfg->api_key_env[0]) {
		const char *key = getenv(cfg->api_key_env);
		if (!key || !*key) {
			h->log(h, PB_LOG_ERROR, "api_key_env: the environment variable '%s' is not set "
			       "(or empty); export it before the run, or leave api_key_env out for a "
			       "server without keys", cfg->api_key_env);
			goto fail;
		}
		size_t l = strlen(key) + 32;
		if (!(s->auth = malloc(l))) {
			rc = -ENOMEM;
			goto fail;
		}
		snprintf(s->auth, l, "Authorization: Bearer %s", key);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(s->curl = curl_easy_init())) {
		h->log(h, PB_LOG_ERROR, "libcurl could not be initialised");
		rc = -ENOMEM;
		goto fail;
	}
	CURL *c = s->curl;
	curl_easy_setopt(c, CURLOPT_URL, s->endpoint);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_s * 1e3));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->connect_timeout_s * 1e3));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "prunebench-openai/1.0");
	/* a reply is read as it comes: no content decoding, no proxy from
	 * the environment deciding what is measured (set one in `url`) */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (cfg->fresh_connection) {
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
	pb_sse_init(&s->sse, on_text, s);
	*state = s;
	return 0;
fail:
	oa_fini(s);
	return rc;
}

static const struct pb_backend_ops oa_ops = {
	.struct_size = sizeof(struct pb_backend_ops),
	.formats = 0,
	.complete = oa_complete,
};

static const struct pb_option oa_options[] = {
	{ .key = "url", .type = PB_OPT_STRING, .offset = offsetof(struct oa_config, url),
	  .def = NULL, .help = "the server's root, e.g. http://127.0.0.1:8080 (a trailing /v1 is "
		  "accepted); requests go to {url}/v1/completions" },
	{ .key = "model", .type = PB_OPT_STRING, .offset = offsetof(struct oa_config, model),
	  .def = "", .help = "the `model` field of each request (vLLM and Ollama need the name "
		  "they serve; llama-server and prunebench serve take any); empty: left out" },
	{ .key = "api_key_env", .type = PB_OPT_STRING,
	  .offset = offsetof(struct oa_config, api_key_env), .def = "",
	  .help = "the environment variable holding the API key, sent as 'Authorization: Bearer'; "
		  "the key itself is never written to results; empty: no key" },
	{ .key = "timeout_s", .type = PB_OPT_DOUBLE, .offset = offsetof(struct oa_config, timeout_s),
	  .def = "300", .min = 0.001, .max = 86400,
	  .help = "longest time one request may take, connect to last byte" },
	{ .key = "connect_timeout_s", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct oa_config, connect_timeout_s), .def = "10", .min = 0.001,
	  .max = 3600, .help = "longest time connecting may take" },
	{ .key = "fresh_connection", .type = PB_OPT_BOOL,
	  .offset = offsetof(struct oa_config, fresh_connection), .def = "false",
	  .help = "open a new connection for every request (connect and TLS time in each); "
		  "false: keep one alive, as client libraries do" },
	{ .key = "ignore_eos", .type = PB_OPT_BOOL, .offset = offsetof(struct oa_config, ignore_eos),
	  .def = "false", .help = "send ignore_eos: true (llama-server, vLLM, prunebench serve) so "
		  "that every request generates max_new_tokens, as local cells do; OpenAI itself "
		  "refuses the field" },
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_BACKEND,
	.name = "openai",
	.version = "1.0.0",
	.summary = "remote: each request to an OpenAI-compatible server (/v1/completions, "
		   "streamed), timed as the client sees it (libcurl)",
	.options = oa_options,
	.config_size = sizeof(struct oa_config),
	.available = oa_available,
	.init = oa_init,
	.fini = oa_fini,
	.ops = &oa_ops,
};

/* core/serve/worker.c — the one thread that owns the session: takes jobs
 * from the queue in order and runs each through pb_generate, turning its
 * tokens into text pieces (stream.h) and the pieces into SSE chunks or a
 * whole response (api.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/arch.h"
#include "run/generate.h"
#include "serve/serve-internal.h"
#include "serve/stream.h"
#include "util/util.h"

/* Completions without max_tokens get OpenAI's default; a chat may use the
 * rest of the context. */
#define COMPLETION_MAX_TOKENS_DEFAULT 16

void pb_serve_job_put(struct job *j)
{
	if (--j->refs > 0)
		return;
	pb_api_req_free(&j->req);
	free(j->body);
	free(j->sse);
	free(j);
}

int pb_serve_job_emit(struct job *j, const char *s, size_t n)
{
	if (j->sse_len + n > j->sse_cap) {
		size_t cap = (j->sse_len + n) * 2;
		char *p = realloc(j->sse, cap);
		if (!p)
			return -ENOMEM;
		j->sse = p;
		j->sse_cap = cap;
	}
	memcpy(j->sse + j->sse_len, s, n);
	j->sse_len += n;
	return 0;
}

int pb_serve_enqueue(struct pb_server *srv, struct job *j)
{
	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		return -ESHUTDOWN;
	}
	j->state = JOB_QUEUED;
	j->enqueued_ms = pb_now_ms();
	j->refs++;
	j->next = NULL;
	if (srv->tail)
		srv->tail->next = j;
	else
		srv->head = j;
	srv->tail = j;
	pthread_cond_signal(&srv->work);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

/* One request being generated. */
struct run {
	struct pb_server *srv;
	struct job *j;
	struct pb_text_stream ts;
	struct pb_api_meta meta;
	char id[48];
	int end_of_turn;     /* the chat template's end-of-turn token came */
	int failed;          /* -errno: text or chunk could not be made */
};

/* Hand an SSE event of *n bytes to the client (frees it).  n by pointer:
 * the event's maker sets it in the same call's arguments. */
static void emit(struct run *r, char *ev, const size_t *n)
{
	struct pb_server *srv = r->srv;
	if (!ev) {
		r->failed = -ENOMEM;
		return;
	}
	pthread_mutex_lock(&srv->lock);
	if (!r->j->cancelled && pb_serve_job_emit(r->j, ev, *n) < 0)
		r->failed = -ENOMEM;
	pthread_cond_broadcast(&srv->changed);
	pthread_mutex_unlock(&srv->lock);
	free(ev);
}

static int on_token(void *ctx, int32_t id, int i)
{
	struct run *r = ctx;
	struct pb_server *srv = r->srv;
	const char *piece;
	size_t n, en;
	int rc, cancelled;
	(void)i;
	if ((rc = pb_gen_append_text(srv->m, srv->tok, id, &r->ts.text, &r->ts.cap)) < 0) {
		r->failed = rc;
		return 1;
	}
	if (r->j->req.kind == PB_API_CHAT && id == srv->chat.end_id)
		r->end_of_turn = 1;
	int stopped = pb_text_stream_take(&r->ts, 0, &piece, &n);
	if (r->j->req.stream && n)
		emit(r, pb_api_chunk(&r->meta, 0, piece, n, NULL, &en), &en);
	pthread_mutex_lock(&srv->lock);
	cancelled = r->j->cancelled;
	pthread_mutex_unlock(&srv->lock);
	return cancelled || stopped || r->end_of_turn || r->failed;
}

/* Before the client hears anything: the prompt as ids (chat), the token
 * budget.  0, or the HTTP status of the error in *body. */
static int prepare(struct run *r, struct pb_gen_request *g, int32_t **ids, char **body)
{
	struct pb_server *srv = r->srv;
	const struct pb_api_req *q = &r->j->req;
	const int ctx = srv->m->hp.ctx;
	char why[256];
	int rc, n;
	g->ctx = r;
	g->on_token = on_token;
	g->stop_at_eos = 1;
	g->add_bos = 1;   /* as `generate` does */
	g->max_new_tokens = q->max_tokens;
	if (q->kind == PB_API_COMPLETION) {
		g->prompt = q->prompt;
		if (!g->max_new_tokens)
			g->max_new_tokens = COMPLETION_MAX_TOKENS_DEFAULT;
		return 0;
	}
	if ((rc = pb_chat_tokenize(&srv->chat, q->msgs, q->n_msgs, ids, &n)) < 0) {
		pb_sayf(why, sizeof why, "cannot tokenize the messages: %s", strerror(-rc));
		*body = pb_api_error(why, "invalid_request_error");
		return 400;
	}
	if (n >= ctx) {
		pb_sayf(why, sizeof why, "the messages are %d tokens (template %s); the context holds %d",
			n, pb_chat_name(srv->chat.kind), ctx);
		*body = pb_api_error(why, "invalid_request_error");
		return 400;
	}
	g->prompt_ids = *ids;
	g->n_prompt_ids = n;
	if (!g->max_new_tokens || g->max_new_tokens > ctx - n)
		g->max_new_tokens = ctx - n;
	return 0;
}

static void run_job(struct pb_server *srv, struct job *j)
{
	struct run r = { .srv = srv, .j = j };
	struct pb_gen_request g = { 0 };
	struct pb_gen_result res = { 0 };
	int32_t *ids = NULL;
	char *body = NULL, err[512];
	size_t en;
	int status, rc = -ENOMEM;

	const int chat = j->req.kind == PB_API_CHAT;
	snprintf(r.id, sizeof r.id, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl",
		 (unsigned long long)srv->started, ++srv->n_jobs);
	r.meta = (struct pb_api_meta){
		.kind = j->req.kind, .id = r.id, .created = time(NULL),
		.model = j->req.model ? j->req.model : srv->model_id,
		.chat_template = pb_chat_name(srv->chat.kind), .queue_ms = j->queue_ms,
		.include_usage = j->req.include_usage,
	};
	if (pb_text_stream_init(&r.ts, j->req.stop, j->req.n_stop) < 0) {
		status = 500;
		body = pb_api_error("out of memory", "server_error");
	} else {
		status = prepare(&r, &g, &ids, &body);
	}
	pthread_mutex_lock(&srv->lock);
	j->status = status ? status : 200;
	j->body = body;
	j->state = status ? JOB_DONE : JOB_RUNNING;
	pthread_cond_broadcast(&srv->changed);
	pthread_mutex_unlock(&srv->lock);
	if (status)
		goto out;

	if (j->req.stream && chat)
		emit(&r, pb_api_chunk(&r.meta, 1, NULL, 0, NULL, &en), &en);
	rc = pb_generate(srv->s, srv->m, srv->tok, &g, &res, err, sizeof err);
	if (rc == 0 && r.failed)
		snprintf(err, sizeof err, "generate: %s", strerror(-(rc = r.failed)));

	const char *piece, *finish = "length";
	size_t n = 0;
	if (rc == 0) {
		pb_text_stream_take(&r.ts, 1, &piece, &n);
		if (r.ts.stopped || r.end_of_turn || res.tokens[res.n_out - 1] == srv->m->hp.eos_id)
			finish = "stop";
		r.meta.prompt_tokens = res.n_prompt;
		r.meta.completion_tokens = res.n_out;
		r.meta.truncated = res.truncated;
		r.meta.prefill_ms = res.prefill_ms;
		r.meta.ttft_ms = res.ttft_ms;
		r.meta.decode_ms = res.e2e_ms - res.ttft_ms;
	}
	pthread_mutex_lock(&srv->lock);
	const int cancelled = j->cancelled, stopping = srv->stopping;
	pthread_mutex_unlock(&srv->lock);
	if (cancelled && !stopping) {
		pb_log(PB_LOG_INFO, "%s: the client went away; stopped after %d tokens", r.id, res.n_out);
		goto out;
	}
	if (cancelled || rc < 0) {
		const char *why = cancelled ? "the server is stopping" : err;
		if (!cancelled)
			pb_log(PB_LOG_ERROR, "%s: %s", r.id, err);
		pthread_mutex_lock(&srv->lock);
		if (j->req.stream) {
			char *ev = pb_api_error_event(why, "server_error", &en);
			/* past `cancelled`: written directly */
			if (ev)
				pb_serve_job_emit(j, ev, en);
			free(ev);
		} else {
			j->status = cancelled ? 503 : 500;
			j->body = pb_api_error(why, "server_error");
		}
		pthread_mutex_unlock(&srv->lock);
		goto out;
	}
	if (j->req.stream) {
		if (n)
			emit(&r, pb_api_chunk(&r.meta, 0, piece, n, NULL, &en), &en);
		emit(&r, pb_api_chunk(&r.meta, 0, NULL, 0, finish, &en), &en);
		if (j->req.include_usage)
			emit(&r, pb_api_usage_chunk(&r.meta, &en), &en);
		en = strlen(PB_API_DONE);
		emit(&r, strdup(PB_API_DONE), &en);
	} else {
		body = pb_api_response(&r.meta, r.ts.text, r.ts.end, finish);
		pthread_mutex_lock(&srv->lock);
		j->body = body;
		j->status = body ? 200 : 500;
		if (!body)
			j->body = pb_api_error("out of memory", "server_error");
		pthread_mutex_unlock(&srv->lock);
	}
	pb_log(PB_LOG_INFO, "%s: %d prompt + %d output tokens (%s), queue %.1f ms, TTFT %.1f ms, "
	       "decode %.1f ms", r.id, res.n_prompt, res.n_out, finish, r.meta.queue_ms, res.ttft_ms,
	       r.meta.decode_ms);
out:
	pb_gen_result_free(&res);
	pb_text_stream_free(&r.ts);
	free(ids);
}

void *pb_serve_worker(void *arg)
{
	struct pb_server *srv = arg;
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		while (!srv->head && !srv->stopping)
			pthread_cond_wait(&srv->work, &srv->lock);
		struct job *j = srv->head;
		if (!j)
			break;
		if (!(srv->head = j->next))
			srv->tail = NULL;
		j->next = NULL;
		if (srv->stopping && !j->cancelled) {
			j->cancelled = 1;
			j->status = 503;
			j->body = pb_api_error("the server is stopping", "server_error");
		}
		if (!j->cancelled) {
			j->queue_ms = pb_now_ms() - j->enqueued_ms;
			srv->running = j;
			pthread_mutex_unlock(&srv->lock);
			run_job(srv, j);
			pthread_mutex_lock(&srv->lock);
			srv->running = NULL;
		}
		j->state = JOB_DONE;
		pthread_cond_broadcast(&srv->changed);
		pb_serve_job_put(j);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

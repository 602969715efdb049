/* core/serve/serve-internal.h — what the HTTP side (http.c) and the
 * worker (worker.c) share: the server, its queue and the jobs on it.
 * Private to core/serve.
 *
 * Ownership: a job is counted; the connection that made it holds one
 * reference until MHD is done with the request, the queue/worker one
 * until the job is DONE, a streamed response one until MHD frees it.
 * Every field marked (lock) is read and written under srv->lock. */
#ifndef PB_SERVE_INTERNAL_H
#define PB_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "serve/api.h"
#include "serve/chat.h"

struct pb_model;
struct pb_session;
struct pb_tokenizer;

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	struct pb_server *srv;
	struct pb_api_req req;       /* set before queueing, then the worker's */
	int fd;                      /* the client's socket, to notice it hang up */
	double enqueued_ms;
	struct job *next;            /* (lock) */
	enum job_state state;        /* (lock) */
	int refs;                    /* (lock) */
	int cancelled;               /* (lock) client gone or server stopping */
	/* (lock) once the state leaves QUEUED: the HTTP status (200, or the
	 * error's) and the queue time */
	int status;
	double queue_ms;
	/* (lock) whole responses and errors: the body, handed to MHD */
	char *body;
	/* (lock) streaming: SSE bytes made, and how far they were sent */
	char *sse;
	size_t sse_len, sse_cap, sse_off;
};

struct pb_server {
	pthread_mutex_t lock;
	pthread_cond_t work;         /* the worker: a job was queued, or stop */
	pthread_cond_t changed;      /* connections: some job moved */
	struct job *head, *tail;     /* (lock) the queue */
	struct job *running;         /* (lock) the worker's job, or NULL */
	int stopping;                /* (lock) */
	/* the worker's, fixed while it runs */
	struct pb_session *s;
	const struct pb_model *m;
	const struct pb_tokenizer *tok;
	struct pb_chat chat;
	char model_id[128];
	long long started;           /* Unix seconds */
	unsigned long long n_jobs;   /* ids */
	size_t max_body;
};

/* worker.c */
void *pb_serve_worker(void *srv);
/* Queue a job (a reference taken for the worker); -ESHUTDOWN while
 * stopping.  Caller holds no lock. */
int pb_serve_enqueue(struct pb_server *srv, struct job *j);
/* Drop a reference (lock held); frees at zero. */
void pb_serve_job_put(struct job *j);
/* Append SSE bytes for the job's client (lock held); -ENOMEM. */
int pb_serve_job_emit(struct job *j, const char *s, size_t n);

#endif

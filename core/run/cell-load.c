/* core/run/cell-load.c — a remote cell's measured requests under its load
 * pattern (issue 16 item 4; the arithmetic is run/load.c).
 *
 * Clients are worker threads, each with its own backend state (so its
 * own connection: the openai plugin keeps one easy handle per state) —
 * the plugin ABI's contract for a remote backend is that separate states
 * may run complete() on separate threads at once.  Closed loop: each
 * client takes the next request when its last one ended.  Open loop: this
 * thread releases request k at its scheduled time (clock_nanosleep on an
 * absolute CLOCK_MONOTONIC deadline, so lateness does not accumulate) and
 * an idle client sends it at once; with every client busy it waits, and
 * that wait is its client-side queueing delay (sent − scheduled).
 *
 * The default load (closed, one client) runs on this thread with no
 * worker at all, and marks prefill/decode/idle per request as before; with
 * several requests in flight per-request phases do not exist, so the
 * measured window is one decode phase.  Results are kept per request and
 * recorded after the last one ended, in the order they were taken.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin/host.h"
#include "results/results.h"
#include "run/cell-internal.h"
#include "run/load.h"
#include "util/util.h"

/* One request, written by the client that ran it. */
struct slot {
	long k;
	int repeat, sample, client, rc;
	double scheduled_ms, sent_ms, end_ms;   /* from t0 */
	double ta, tb;                          /* sampler time around it (throttle) */
	struct pb_complete_res res;             /* text and token_ms: our copies */
};

struct load_run {
	struct pb_cell_ctx *x;
	const struct pb_backend_ops *ops;
	const struct pb_dataset *ds;
	const struct pb_experiment *e;
	const struct pb_load_spec *l;
	double t0;                 /* pb_now_ms() at the cell's start of load */
	long n;                    /* requests by count; -1: by duration */
	const double *sched;       /* open loop: n times */
	int inline_phases;         /* one client on this thread: mark phases */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long next;                 /* next request to take */
	long released;             /* open loop: requests whose time came */
	int stop;
	struct slot **slots;
	long n_slots, cap_slots;
	int oom;
	int n_ready;               /* clients warmed up */
	int go;                    /* t0 is set: clients may take requests */
};

struct client {
	struct load_run *lr;
	int id;
	void *state;
	int warm;                  /* send one warm-up request first */
};

static void on_first_token(void *ctx)
{
	pb_cell_set_phase(ctx, PB_PHASE_DECODE);
}

/* Copy what the plugin lent until its next call. */
static void keep(struct slot *s, const struct pb_complete_res *res)
{
	s->res = *res;
	s->res.text = strdup(res->text ? res->text : "");
	s->res.token_ms = NULL;
	if (res->n_tokens > 0) {
		double *t = malloc((size_t)res->n_tokens * sizeof *t);
		if (t)
			memcpy(t, res->token_ms, (size_t)res->n_tokens * sizeof *t);
		else
			s->res.n_tokens = 0;
		s->res.token_ms = t;
	}
}

/* Take the next request, or 0 when there is none (lock held). */
static int take(struct load_run *lr, long *k)
{
	for (;;) {
		if (lr->stop || lr->oom)
			return 0;
		if (!lr->go) {
			pthread_cond_wait(&lr->cv, &lr->mu);
			continue;
		}
		if (lr->l->mode == PB_LOAD_OPEN) {
			if (lr->next >= lr->n)
				return 0;
			if (lr->next < lr->released)
				break;
			pthread_cond_wait(&lr->cv, &lr->mu);
			continue;
		}
		if (lr->n >= 0 ? lr->next >= lr->n :
		    pb_now_ms() - lr->t0 >= lr->l->duration_s * 1e3)
			return 0;
		break;
	}
	*k = lr->next++;
	return 1;
}

static struct slot *new_slot(struct load_run *lr, long k)
{
	if (lr->n_slots == lr->cap_slots) {
		long cap = lr->cap_slots ? lr->cap_slots * 2 : 64;
		struct slot **v = realloc(lr->slots, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		lr->slots = v;
		lr->cap_slots = cap;
	}
	struct slot *s = calloc(1, sizeof *s);
	if (s)
		lr->slots[lr->n_slots++] = s;
	(void)k;
	return s;
}

static void client_loop(struct client *cl)
{
	struct load_run *lr = cl->lr;
	const long n_rec = lr->ds->n;
	struct pb_complete_req req = {
		.struct_size = sizeof req,
		.max_tokens = lr->e->max_new_tokens,
		.first_token = lr->inline_phases ? on_first_token : NULL,
		.ctx = lr->x,
	};
	struct pb_complete_res res;
	long k;

	pthread_mutex_lock(&lr->mu);
	while (take(lr, &k)) {
		struct slot *s = new_slot(lr, k);
		if (!s) {
			lr->oom = 1;
			pthread_cond_broadcast(&lr->cv);
			break;
		}
		pthread_mutex_unlock(&lr->mu);
		s->k = k;
		s->sample = (int)(k % n_rec);
		s->repeat = (int)(k / n_rec);
		s->client = cl->id;
		req.prompt = lr->ds->samples[s->sample].input;
		s->ta = pb_sampler_now(lr->x->sampler);
		if (lr->inline_phases)
			pb_cell_set_phase(lr->x, PB_PHASE_PREFILL);
		s->sent_ms = pb_now_ms() - lr->t0;
		/* closed loop: due when its client became free, i.e. now */
		s->scheduled_ms = lr->sched ? lr->sched[k] : s->sent_ms;
		s->rc = pb_cell_remote_one(lr->ops, cl->state, &req, &res);
		s->end_ms = s->sent_ms + (isnan(res.done_ms) ? pb_now_ms() - lr->t0 - s->sent_ms :
					  res.done_ms);
		if (lr->inline_phases)
			pb_cell_set_phase(lr->x, PB_PHASE_IDLE);
		s->tb = pb_sampler_now(lr->x->sampler);
		keep(s, &res);
		pthread_mutex_lock(&lr->mu);
	}
	pthread_mutex_unlock(&lr->mu);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct load_run *lr = cl->lr;
	if (cl->warm) {
		struct pb_complete_req req = {
			.struct_size = sizeof req,
			.prompt = lr->ds->samples[cl->id % lr->ds->n].input,
			.max_tokens = lr->e->max_new_tokens,
		};
		struct pb_complete_res res;
		pb_cell_remote_one(lr->ops, cl->state, &req, &res);   /* opens its connection */
	}
	pthread_mutex_lock(&lr->mu);
	lr->n_ready++;
	pthread_cond_broadcast(&lr->cv);
	pthread_mutex_unlock(&lr->mu);
	client_loop(cl);
	return NULL;
}

static void sleep_until(double t_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t_ms / 1e3),
		.tv_nsec = (long)(fmod(t_ms, 1e3) * 1e6),
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = *(struct slot *const *)a, *y = *(struct slot *const *)b;
	return (x->k > y->k) - (x->k < y->k);
}

/* Record every request, in the order taken; the first failure's reason
 * into first_error. */
static void record(struct load_run *lr, struct pb_cell_record *rec, char *first_error,
		   size_t len)
{
	qsort(lr->slots, (size_t)lr->n_slots, sizeof *lr->slots, cmp_slot);
	for (long i = 0; i < lr->n_slots; i++) {
		struct slot *s = lr->slots[i];
		const struct pb_sample *smp = &lr->ds->samples[s->sample];
		if (s->rc < 0) {
			pb_log(PB_LOG_WARN, "request %d (repeat %d) failed: %s", s->sample, s->repeat,
			       s->res.error);
			if (!first_error[0])
				snprintf(first_error, len, "request %d (repeat %d): %s", s->sample,
					 s->repeat, s->res.error);
		}
		int before = rec->n_reqs;
		pb_cell_record_remote_request(rec, s->repeat, s->sample, &s->res, s->rc);
		if (rec->n_reqs == before)
			continue;
		struct pb_load_stat *ls = &rec->reqs[rec->n_reqs - 1].load;
		ls->scheduled_ms = s->scheduled_ms;
		ls->sent_ms = s->sent_ms;
		ls->client = s->client;
		pb_cell_record_throttled(rec, pb_throttle_check(&rec->throttle, lr->x->sampler,
								s->ta, s->tb));
		if (s->rc == 0 && smp->reference)
			pb_cell_record_answer(rec, s->res.text, smp->reference);
	}
}

int pb_cell_load_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, const struct pb_plugin *bp,
		     const void *config, const struct pb_host *host, void *bstate,
		     const struct pb_dataset *ds, char *first_error, size_t len)
{
	const struct pb_experiment *e = x->e;
	const struct pb_load_spec *l = &x->c->backend->load;
	struct load_run lr = {
		.x = x, .ops = bp->ops, .ds = ds, .e = e, .l = l, .n = -1,
	};
	double *sched = NULL;
	struct client *cl = NULL;
	pthread_t *th = NULL;
	int n_cl = 0, started = 0, rc = -1;
	const long n_default = (long)ds->n * e->repeat;

	rec->loaded = 1;
	if (l->mode == PB_LOAD_OPEN) {
		int err = pb_load_schedule(l, n_default, &sched, &lr.n);
		if (err < 0) {
			pb_log(PB_LOG_ERROR, "load: cannot schedule the open loop's arrivals: %s",
			       err == -E2BIG ? "more than 10 million requests" : strerror(-err));
			return err;
		}
		lr.sched = sched;
	} else {
		lr.n = pb_load_count(l, n_default);
	}
	/* clients: at most one per request there will be */
	n_cl = l->concurrency;
	if (lr.n >= 0 && lr.n < n_cl)
		n_cl = lr.n > 0 ? (int)lr.n : 1;
	lr.inline_phases = l->mode == PB_LOAD_CLOSED && n_cl == 1;
	pb_log(PB_LOG_INFO, "load: %s loop, %d client%s%s, %s", l->mode == PB_LOAD_OPEN ?
	       "open" : "closed", n_cl, n_cl == 1 ? "" : "s",
	       l->mode == PB_LOAD_OPEN ? (l->arrivals == PB_ARRIVALS_CONSTANT ?
					  ", constant arrivals" : ", Poisson arrivals") : "",
	       lr.n >= 0 ? "by count" : "by duration");
	if (l->mode == PB_LOAD_OPEN)
		pb_log(PB_LOG_INFO, "load: %ld requests at %g/s", lr.n, l->rate_rps);

	cl = calloc((size_t)n_cl, sizeof *cl);
	th = calloc((size_t)n_cl, sizeof *th);
	if (!cl || !th) {
		rc = -ENOMEM;
		goto out;
	}
	cl[0] = (struct client){ .lr = &lr, .id = 0, .state = bstate };
	for (int i = 1; i < n_cl; i++) {
		cl[i] = (struct client){ .lr = &lr, .id = i, .warm = e->warmup > 0 };
		int ierr = bp->init(host, config, &cl[i].state);
		if (ierr < 0) {
			pb_log(PB_LOG_ERROR, "backend '%s': init of client %d failed: %s", bp->name, i,
			       strerror(-ierr));
			cl[i].state = NULL;
			n_cl = i;
			rc = ierr;
			goto out;
		}
	}
	pthread_mutex_init(&lr.mu, NULL);
	pthread_cond_init(&lr.cv, NULL);

	if (lr.inline_phases) {
		lr.t0 = pb_now_ms();
		lr.go = 1;
		client_loop(&cl[0]);
	} else {
		/* every client on its own thread, client 0 too (it was warmed
		 * up by the cell); t0 once all are connected */
		for (; started < n_cl; started++)
			if (pthread_create(&th[started], NULL, client_main, &cl[started]) != 0) {
				pb_log(PB_LOG_ERROR, "load: cannot start client thread %d of %d", started,
				       n_cl);
				break;
			}
		pthread_mutex_lock(&lr.mu);
		while (started == n_cl && lr.n_ready < n_cl)
			pthread_cond_wait(&lr.cv, &lr.mu);
		lr.stop = started < n_cl;
		lr.t0 = pb_now_ms();
		lr.go = 1;
		pthread_cond_broadcast(&lr.cv);
		pthread_mutex_unlock(&lr.mu);
		if (started == n_cl) {
			pb_cell_set_phase(x, PB_PHASE_DECODE);
			for (long k = 0; l->mode == PB_LOAD_OPEN && k < lr.n; k++) {
				sleep_until(lr.t0 + sched[k]);
				pthread_mutex_lock(&lr.mu);
				lr.released = k + 1;
				pthread_cond_signal(&lr.cv);
				pthread_mutex_unlock(&lr.mu);
			}
			/* clients waiting for a release that will not come */
			pthread_mutex_lock(&lr.mu);
			pthread_cond_broadcast(&lr.cv);
			pthread_mutex_unlock(&lr.mu);
		}
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		pb_cell_set_phase(x, PB_PHASE_IDLE);
		if (started < n_cl) {
			rc = -EAGAIN;
			goto out_sync;
		}
	}
	if (lr.oom) {
		pb_log(PB_LOG_ERROR, "load: out of memory keeping the requests' results");
		rc = -ENOMEM;
		goto out_sync;
	}
	record(&lr, rec, first_error, len);
	rc = 0;
out_sync:
	pthread_cond_destroy(&lr.cv);
	pthread_mutex_destroy(&lr.mu);
out:
	for (int i = 1; cl && i < n_cl; i++)
		if (cl[i].state)
			bp->fini(cl[i].state);
	for (long i = 0; i < lr.n_slots; i++) {
		free((char *)lr.slots[i]->res.text);
		free((double *)lr.slots[i]->res.token_ms);
		free(lr.slots[i]);
	}
	free(lr.slots);
	free(cl);
	free(th);
	free(sched);
	return rc;
}

/* The load's columns of summary.csv (README "Load"). */
void pb_cell_load_summary(const struct pb_cell_record *r, struct pb_row *row)
{
	const struct pb_load_spec *l = &r->c->backend->load;
	const struct pb_slo_spec *slo = &r->e->slo;
	struct pb_load_obs *o = malloc((size_t)(r->n_reqs ? r->n_reqs : 1) * sizeof *o);
	double *q = malloc((size_t)(r->n_reqs ? r->n_reqs : 1) * sizeof *q);
	struct pb_load_totals t;

	pb_row_set(row, "load_mode", "%s", l->mode == PB_LOAD_OPEN ? "open" : "closed");
	pb_row_set(row, "load_concurrency", "%d", l->concurrency);
	pb_row_set(row, "load_arrivals", "%s", l->mode != PB_LOAD_OPEN ? "" :
		   l->arrivals == PB_ARRIVALS_CONSTANT ? "constant" : "poisson");
	pb_row_setd(row, "slo_ttft_ms", slo->ttft_ms > 0 ? slo->ttft_ms : NAN);
	pb_row_setd(row, "slo_tpot_ms", slo->tpot_ms > 0 ? slo->tpot_ms : NAN);
	if (!o || !q)
		goto out;
	for (int i = 0; i < r->n_reqs; i++) {
		const struct pb_req_stat *s = &r->reqs[i];
		o[i] = (struct pb_load_obs){
			.ok = !s->net.failed, .n_out = s->n_out,
			.ttft_ms = s->ttft_ms, .tpot_ms = s->tpot_ms,
			.sched_ms = s->load.scheduled_ms, .sent_ms = s->load.sent_ms,
			.end_ms = s->load.sent_ms + (isnan(s->net.done_ms) ? 0 : s->net.done_ms),
		};
		q[i] = s->load.sent_ms - s->load.scheduled_ms;
	}
	pb_load_totals(l, slo, o, r->n_reqs, &t);
	pb_row_setd(row, "offered_rps", t.offered_rps);
	pb_row_setd(row, "offered_rps_actual", t.offered_rps_actual);
	pb_row_setd(row, "achieved_rps", t.achieved_rps);
	pb_row_setd(row, "output_tok_s", t.output_tok_s);
	pb_row_setd(row, "load_window_s", t.window_s);
	pb_row_set(row, "in_flight_max", "%d", t.in_flight_max);
	pb_row_stats(row, "client_queue_ms", q, r->n_reqs);
	pb_row_setd(row, "goodput_share", t.goodput_share);
	pb_row_setd(row, "goodput_rps", t.goodput_rps);
out:
	free(o);
	free(q);
}

/* core/run/cell-remote.c — the cell pipeline for a remote backend (issue
 * 16: pb_backend_ops.complete): every request of the dataset goes to a
 * server as a whole, and the cell records what the client saw — TTFT,
 * every inter-token gap, E2E, the transfer (connect, TLS, first byte,
 * bytes) and what the server reported (usage, queue time).
 *
 * What a server cannot give is said, never invented: no model is loaded
 * here (the model entry names what the server holds), no chain is applied
 * (validate refuses one), and teacher-forced perplexity, agreement and KL
 * need logits, so those columns stay empty with the reason in the
 * manifest.  Answers are scored (EM, F1, ROUGE-L) on the returned text.
 *
 * A request that fails (HTTP error, malformed stream, refused connection,
 * a server closing mid-stream) is recorded with its reason and whatever
 * arrived, and the cell goes on; only a cell whose every measured request
 * failed fails, its requests.csv kept.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/host.h"
#include "results/results.h"
#include "run/cell-internal.h"
#include "run/cell-probes.h"
#include "text/text.h"
#include "util/util.h"

void pb_cell_record_remote_request(struct pb_cell_record *r, int repeat, int sample,
				   const struct pb_complete_res *res, int rc)
{
	const int ok = rc == 0;
	struct pb_gen_result g = {
		.n_prompt = res->usage_prompt_tokens,
		/* a failed request's partial stream is kept as text and a
		 * token count, but gives no latency observation */
		.n_out = ok ? res->n_tokens : 0,
		.token_ms = (double *)res->token_ms,
		.ttft_ms = ok && res->n_tokens > 0 ? res->token_ms[0] : NAN,
		.e2e_ms = ok && res->n_tokens > 0 ? res->token_ms[res->n_tokens - 1] : NAN,
		.gpu_prefill_ms = NAN,
		.gpu_decode_ms = NAN,
		.text = (char *)(res->text ? res->text : ""),
	};
	int before = r->n_reqs;
	pb_cell_record_request(r, repeat, sample, &g);
	if (r->n_reqs == before)
		return;   /* out of memory: said by the caller's write */
	struct pb_req_stat *q = &r->reqs[r->n_reqs - 1];
	struct pb_net_stat *n = &q->net;
	q->n_out = res->n_tokens;
	q->encode_ms = NAN;
	n->failed = !ok;
	if (!ok) {
		n->error = strdup(res->error[0] ? res->error : strerror(rc < 0 ? -rc : EIO));
		r->n_failed++;
	}
	n->connect_ms = res->connect_ms;
	n->tls_ms = res->tls_ms;
	n->first_byte_ms = res->first_byte_ms;
	n->done_ms = res->done_ms;
	n->server_queue_ms = res->server_queue_ms;
	n->server_prefill_ms = res->server_prefill_ms;
	n->server_ttft_ms = res->server_ttft_ms;
	n->server_decode_ms = res->server_decode_ms;
	n->new_connections = res->new_connections;
	n->http_status = res->http_status;
	n->streamed = res->streamed;
	n->usage_prompt = res->usage_prompt_tokens;
	n->usage_completion = res->usage_completion_tokens;
	n->bytes_sent = res->bytes_sent;
	n->bytes_received = res->bytes_received;
	snprintf(n->finish_reason, sizeof n->finish_reason, "%s", res->finish_reason);
}

static double mean_of(const double *x, int n)
{
	double s = 0;
	int k = 0;
	for (int i = 0; i < n; i++)
		if (!isnan(x[i])) {
			s += x[i];
			k++;
		}
	return k ? s / k : NAN;
}

void pb_cell_record_remote_summary(const struct pb_cell_record *r, struct pb_row *row)
{
	int n = r->n_reqs;
	double *x = malloc((size_t)(n ? n : 1) * sizeof *x);
	pb_row_set(row, "remote", "%d", 1);
	pb_row_set(row, "requests_failed", "%d", r->n_failed);
	if (r->c && r->c->backend->serve) {   /* the cell served its own chain */
		const struct pb_link *l = &r->c->backend->network;
		pb_row_set(row, "served", "%d", 1);
		pb_row_set(row, "network", "%s", l->name);
		pb_row_setd(row, "net_delay_ms", l->delay_ms);
		pb_row_setd(row, "net_jitter_ms", l->jitter_ms);
		pb_row_setd(row, "net_loss_pct", l->loss_pct);
		pb_row_setd(row, "net_rate_mbit", l->rate_mbit);
	}
	/* no weights here: the size and sparsity columns cannot be known */
	static const char *const unknown[] = {
		"sparsity_target", "sparsity_achieved", "sparsity_linears", "params_removed_pct",
		"params_total", "params_nonzero", "weight_bytes", "weight_bytes_dense",
		"linear_formats", "bits_per_weight", "synthetic_weights",
	};
	for (size_t k = 0; k < PB_ARRAY_LEN(unknown); k++)
		pb_row_set(row, unknown[k], "%s", "");
	if (!x)
		return;
	/* the transfer, over the requests that succeeded */
#define NET(field, name) do { \
		for (int i = 0; i < n; i++) \
			x[i] = r->reqs[i].net.failed ? NAN : (double)r->reqs[i].net.field; \
		pb_row_stats(row, name, x, n); } while (0)
	NET(connect_ms, "connect_ms");
	NET(first_byte_ms, "first_byte_ms");
	NET(server_queue_ms, "server_queue_ms");
	NET(server_prefill_ms, "server_prefill_ms");
	NET(server_ttft_ms, "server_ttft_ms");
#undef NET
#define MEAN(field, name) do { \
		for (int i = 0; i < n; i++) { \
			const struct pb_net_stat *s = &r->reqs[i].net; \
			x[i] = s->failed || s->field < 0 ? NAN : (double)s->field; \
		} \
		pb_row_setd(row, name, mean_of(x, n)); } while (0)
	MEAN(tls_ms, "tls_ms_mean");
	MEAN(bytes_sent, "bytes_sent_mean");
	MEAN(bytes_received, "bytes_received_mean");
	MEAN(usage_prompt, "usage_prompt_tokens_mean");
	MEAN(usage_completion, "usage_completion_tokens_mean");
#undef MEAN
	free(x);
	if (r->loaded)
		pb_cell_load_summary(r, row);
}

/* One request; its result stays valid until the next call on bstate. */
int pb_cell_remote_one(const struct pb_backend_ops *ops, void *bstate,
		       const struct pb_complete_req *req, struct pb_complete_res *res)
{
	memset(res, 0, sizeof *res);
	res->struct_size = sizeof *res;
	res->done_ms = res->connect_ms = res->tls_ms = res->first_byte_ms = NAN;
	res->server_queue_ms = NAN;
	res->server_prefill_ms = res->server_ttft_ms = res->server_decode_ms = NAN;
	res->new_connections = res->usage_prompt_tokens = res->usage_completion_tokens = -1;
	res->bytes_sent = res->bytes_received = -1;
	int rc = ops->complete(bstate, req, res);
	if (rc > 0)
		rc = 0;
	if (rc < 0 && !res->error[0])
		snprintf(res->error, sizeof res->error, "%s", strerror(-rc));
	res->error[sizeof res->error - 1] = '\0';
	res->finish_reason[sizeof res->finish_reason - 1] = '\0';
	if (res->n_tokens < 0 || (res->n_tokens > 0 && !res->token_ms))
		res->n_tokens = 0;   /* a plugin's mistake: no stamps to read */
	return rc;
}

int pb_cell_remote_run(struct pb_cell_ctx *x, struct pb_cell_record *rec, void **probe_states,
		       const struct pb_cell_job *job)
{
	const struct pb_cell *c = x->c;
	const struct pb_plugin *bp = c->backend->step.plugin->desc;

	rec->remote = 1;
	if (job->kind != PB_JOB_MEASURE) {   /* the runner forks neither for a remote cell */
		pb_log(PB_LOG_INFO, "remote backend '%s': no dense reference, no compression job",
		       bp->name);
		return 0;
	}
	if (c->chain->n_steps > 0) {   /* validate refuses it; a hand-made cell list might not */
		pb_log(PB_LOG_ERROR, "backend '%s' is remote and cannot apply chain '%s': a remote "
		       "cell's chain must be dense ([])", bp->name, c->chain->name);
		return -EINVAL;
	}
	pb_sayf(rec->accuracy_note, sizeof rec->accuracy_note, "perplexity, top-1 agreement and "
		"KL: unavailable: remote backend (teacher forcing needs the model's logits, which "
		"an OpenAI-compatible server does not return); exact match, token F1 and ROUGE-L "
		"score the returned text");
	return pb_cell_remote_requests(x, rec, probe_states, bp, c->backend->step.config);
}

int pb_cell_remote_requests(struct pb_cell_ctx *x, struct pb_cell_record *rec,
			    void **probe_states, const struct pb_plugin *bp, const void *config)
{
	const struct pb_experiment *e = x->e;
	const struct pb_cell *c = x->c;
	const struct pb_backend_ops *ops = bp->ops;
	struct pb_dataset *ds = NULL;
	struct pb_dataset_opts dopts;
	struct pb_host_ctx host;
	void *bstate = NULL;
	char err[1024] = "";
	int rc = -1;

	rec->remote = 1;
	snprintf(rec->model_name, sizeof rec->model_name, "%s", c->model->name);
	pb_input_dataset_opts(e, c->dataset, &dopts);
	if (pb_dataset_load(&dopts, &ds, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "dataset '%s': %s", c->dataset->name, err);
		goto out;
	}
	pb_cell_record_dataset(rec, ds);

	pb_host_init(&host, bp->name, e->seed, pb_default_threads());
	if (bp->available && bp->available(&host.host, err, sizeof err) < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s' is not available: %s", bp->name, err);
		goto out;
	}
	int ierr = bp->init(&host.host, config, &bstate);
	if (ierr < 0) {
		pb_log(PB_LOG_ERROR, "backend '%s': init failed: %s", bp->name, strerror(-ierr));
		bstate = NULL;
		goto out;
	}

	struct pb_complete_req req = {
		.struct_size = sizeof req,
		.max_tokens = e->max_new_tokens,
		.ctx = x,
	};
	struct pb_complete_res res;
	/* warm-up: not recorded; a failure is said, and the measured
	 * requests decide whether the cell fails */
	double tw0 = pb_sampler_now(x->sampler);
	for (int w = 0; w < e->warmup; w++) {
		pb_cell_set_phase(x, PB_PHASE_WARMUP);
		req.prompt = ds->samples[w % ds->n].input;
		if (pb_cell_remote_one(ops, bstate, &req, &res) < 0)
			pb_log(PB_LOG_WARN, "warm-up request %d: %s", w, res.error);
	}
	double tw1 = pb_sampler_now(x->sampler);
	pb_cell_set_phase(x, PB_PHASE_IDLE);
	pb_cell_measure_conditions(x, rec, probe_states, tw0, tw1);

	/* the measured requests, by the cell's load pattern (cell-load.c;
	 * the default: one after another, every record once per repeat) */
	double t_measure = pb_now_ms();
	char first_error[600] = "";
	if (pb_cell_load_run(x, rec, bp, config, &host.host, bstate, ds, first_error,
			     sizeof first_error) < 0)
		goto out;
	rec->measure_ms = pb_now_ms() - t_measure;
	pb_log(PB_LOG_INFO, "%d request%s, %d failed", rec->n_reqs, rec->n_reqs == 1 ? "" : "s",
	       rec->n_failed);
	pb_sampler_stop(x->sampler);
	if (pb_cell_record_write(rec, x->sampler, x->dir) < 0)
		goto out;
	if (rec->n_reqs > 0 && rec->n_failed == rec->n_reqs) {
		/* requests.csv keeps every request's reason; the parent's
		 * failure record replaces the manifest and summary */
		pb_log(PB_LOG_ERROR, "every request failed; the first: %s", first_error);
		goto out;
	}
	rc = 0;
out:
	if (bstate)
		bp->fini(bstate);
	pb_dataset_free(ds);
	return rc;
}

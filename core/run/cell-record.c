/* core/run/cell-record.c — accumulate a cell's measurements and write its
 * files.  Column names carry units (DESIGN.md "Results").  The summary.csv
 * row is computed in cell-summary.c. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "results/results.h"
#include "run/cell-record.h"
#include "run/reference.h"
#include "util/util.h"

static const char *const role_names[PB_ROLE_COUNT] = {
	"other", "tok_embd", "attn_norm", "attn_q", "attn_k", "attn_v", "attn_o",
	"ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "out_norm", "output",
	"attn_rel_bias", "cross_norm", "cross_q", "cross_k", "cross_v", "cross_o",
	"attn_q_bias", "attn_k_bias", "attn_v_bias", "attn_q_norm", "attn_k_norm",
	"attn_post_norm", "ffn_post_norm", "rope_freqs", "rope_factors_short",
	"rope_factors_long", "attn_qkv", "ffn_gate_up",
};

static const char *role_name(enum pb_role r)
{
	return (unsigned)r < PB_ROLE_COUNT ? role_names[r] : "other";
}

void pb_cell_record_init(struct pb_cell_record *r, const struct pb_experiment *e,
			 const struct pb_cell *c)
{
	memset(r, 0, sizeof *r);
	r->e = e;
	r->c = c;
	r->round = r->n_rounds = 1;
	r->perplexity_dense = NAN;
	r->throttle.freq_ref_mhz = r->throttle.freq_limit_mhz = NAN;
	pb_iso8601_now(r->start_time, sizeof r->start_time);
}

void pb_cell_record_free(struct pb_cell_record *r)
{
	for (int i = 0; i < r->n_reqs; i++) {
		free(r->reqs[i].text);
		free(r->reqs[i].net.error);
	}
	free(r->reqs);
	free(r->itl);
	free(r->tensors);
	free(r->probes);
	free(r->energy);
	free(r->backend_details);
	memset(r, 0, sizeof *r);
}

void pb_cell_record_probe(struct pb_cell_record *r, const char *name, const char *why)
{
	struct pb_probe_status *p = realloc(r->probes, (size_t)(r->n_probes + 1) * sizeof *p);
	if (!p)
		return;
	r->probes = p;
	p += r->n_probes++;
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->why, sizeof p->why, "%s", why ? why : "");
	if (why)
		pb_log(PB_LOG_WARN, "probe '%s' unavailable: %s", name, why);
}

void pb_cell_record_model(struct pb_cell_record *r, const struct pb_model *m, double load_ms)
{
	r->load_ms = load_ms;
	r->hp = m->hp;
	snprintf(r->model_name, sizeof r->model_name, "%s", m->name);
	pb_model_hash(m, r->model_sha256);
	r->tensors = calloc((size_t)m->n_tensors, sizeof *r->tensors);
	if (!r->tensors)
		return;
	r->n_tensors = m->n_tensors;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		struct pb_tensor_stat *s = &r->tensors[i];
		snprintf(s->name, sizeof s->name, "%s", t->name);
		s->layer = t->layer;
		s->role = t->role;
		s->fmt_before = s->fmt = t->dtype;
		s->params_before = s->params = pb_tensor_nelements(t);
		s->nonzero_before = s->nonzero = s->params - pb_tensor_count_zeros(t);
		s->bytes_before = s->bytes = (int64_t)t->nbytes;
		s->target = -1;
		s->present = 1;
	}
}

void pb_cell_record_dataset(struct pb_cell_record *r, const struct pb_dataset *d)
{
	snprintf(r->dataset_sha256, sizeof r->dataset_sha256, "%s", d->sha256);
	r->n_prompts = d->n;
	r->n_calib = d->n_calib;
	r->has_reference = d->has_reference;
	r->dataset_kind = d->kind;
}

static struct pb_tensor_stat *stat_by_name(struct pb_cell_record *r, const char *name)
{
	for (int i = 0; i < r->n_tensors; i++)
		if (!strcmp(r->tensors[i].name, name))
			return &r->tensors[i];
	return NULL;
}

void pb_cell_record_targets(struct pb_cell_record *r, const char (*names)[PB_TENSOR_NAME_MAX],
			    int n, const struct pb_prune_target *t)
{
	for (int i = 0; i < n; i++) {
		struct pb_tensor_stat *s = stat_by_name(r, names[i]);
		if (s && t[i].sparsity >= 0)
			s->target = t[i].sparsity;
	}
}

void pb_cell_record_tensors(struct pb_cell_record *r, const struct pb_model *m,
			    const struct pb_backend_ops *ops, void *state)
{
	for (int i = 0; i < r->n_tensors; i++)
		r->tensors[i].present = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		struct pb_tensor_stat *s = stat_by_name(r, t->name);
		if (!s)
			continue;
		s->present = 1;
		s->fmt = t->dtype;
		s->params = pb_tensor_nelements(t);
		s->nonzero = s->params - pb_tensor_count_zeros(t);
		s->bytes = (int64_t)t->nbytes;
		s->kernel[0] = '\0';
		if (ops->weight_kernel && ops->weight_kernel(state, i, s->kernel, sizeof s->kernel) < 0)
			s->kernel[0] = '\0';
		if (!s->kernel[0])
			snprintf(s->kernel, sizeof s->kernel, "%s", pb_dtype_name(t->dtype));
	}
	free(r->backend_details);
	r->backend_details = NULL;
	enum { DETAILS_MAX = 32768 };
	char *text = ops->describe ? malloc(DETAILS_MAX) : NULL;
	if (text && ops->describe(state, text, DETAILS_MAX) == 0 && text[0]) {
		r->backend_details = text;
		text = NULL;
	}
	free(text);
}

static int push_itl(struct pb_cell_record *r, double v)
{
	if (r->n_itl == r->cap_itl) {
		int cap = r->cap_itl ? r->cap_itl * 2 : 256;
		double *p = realloc(r->itl, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->itl = p;
		r->cap_itl = cap;
	}
	r->itl[r->n_itl++] = v;
	return 0;
}

void pb_cell_record_request(struct pb_cell_record *r, int repeat, int sample,
			    const struct pb_gen_result *g)
{
	if (r->n_reqs == r->cap_reqs) {
		int cap = r->cap_reqs ? r->cap_reqs * 2 : 64;
		struct pb_req_stat *p = realloc(r->reqs, (size_t)cap * sizeof *p);
		if (!p)
			return;
		r->reqs = p;
		r->cap_reqs = cap;
	}
	struct pb_req_stat *q = &r->reqs[r->n_reqs++];
	memset(q, 0, sizeof *q);
	q->repeat = repeat;
	q->sample = sample;
	q->n_prompt = g->n_prompt;
	q->n_out = g->n_out;
	q->truncated = g->truncated;
	q->ttft_ms = g->ttft_ms;
	q->e2e_ms = g->e2e_ms;
	q->tpot_ms = g->n_out > 1 ? (g->e2e_ms - g->ttft_ms) / (g->n_out - 1) : NAN;
	q->prefill_tok_s = g->prefill_ms > 0 ? g->n_prompt / (g->prefill_ms / 1e3) : NAN;
	q->decode_tok_s = g->n_out > 1 && g->e2e_ms > g->ttft_ms ?
		(g->n_out - 1) / ((g->e2e_ms - g->ttft_ms) / 1e3) : NAN;
	q->itl_mean_ms = NAN;
	q->itl_max_ms = NAN;
	q->encode_ms = r->hp.n_enc_layers > 0 ? g->encode_ms : NAN;
	q->gpu_prefill_ms = g->gpu_prefill_ms;
	q->gpu_decode_ms = g->gpu_decode_ms;
	q->exact_match = q->token_f1 = q->rouge_l = NAN;
	q->throttled = -1;
	double sum = 0, mx = 0;
	for (int k = 1; k < g->n_out; k++) {
		double gap = g->token_ms[k] - g->token_ms[k - 1];
		sum += gap;
		if (gap > mx)
			mx = gap;
		push_itl(r, gap);
	}
	if (g->n_out > 1) {
		q->itl_mean_ms = sum / (g->n_out - 1);
		q->itl_max_ms = mx;
	}
	q->text = strdup(g->text ? g->text : "");
	q->net.connect_ms = q->net.tls_ms = q->net.first_byte_ms = q->net.done_ms = NAN;
	q->net.server_queue_ms = NAN;
	q->net.server_prefill_ms = q->net.server_ttft_ms = q->net.server_decode_ms = NAN;
	q->net.new_connections = q->net.usage_prompt = q->net.usage_completion = -1;
	q->net.bytes_sent = q->net.bytes_received = -1;
}

void pb_cell_record_throttled(struct pb_cell_record *r, int throttled)
{
	if (r->n_reqs)
		r->reqs[r->n_reqs - 1].throttled = throttled;
}

void pb_cell_record_answer(struct pb_cell_record *r, const char *pred, const char *ref)
{
	if (!r->n_reqs || !ref)
		return;
	struct pb_req_stat *q = &r->reqs[r->n_reqs - 1];
	q->exact_match = pb_exact_match(pred, ref);
	q->token_f1 = pb_token_f1(pred, ref);
	q->rouge_l = pb_rouge_l(pred, ref);
}

static void fmtd(char *buf, size_t len, double v)
{
	if (isnan(v))
		buf[0] = '\0';
	else
		pb_fmt_double(buf, len, v);
}

/* A remote cell's requests.csv columns after `throttled` (README
 * "Remote backends"): what the client saw of the network and the server. */
static const char *const net_hdr[] = {
	"status", "error", "http_status", "finish_reason", "streamed", "connect_ms", "tls_ms",
	"first_byte_ms", "done_ms", "new_connections", "bytes_sent", "bytes_received",
	"usage_prompt_tokens", "usage_completion_tokens", "server_queue_ms",
	"server_prefill_ms", "server_ttft_ms", "server_decode_ms",
};
enum { N_NET = (int)PB_ARRAY_LEN(net_hdr) };

static void net_fields(const struct pb_net_stat *n, char f[N_NET][64], const char *v[N_NET])
{
	snprintf(f[0], 64, "%s", n->failed ? "failed" : "ok");
	v[1] = n->error ? n->error : "";
	snprintf(f[2], 64, "%d", n->http_status);
	snprintf(f[3], 64, "%s", n->finish_reason);
	snprintf(f[4], 64, "%d", n->streamed);
	fmtd(f[5], 64, n->connect_ms);
	fmtd(f[6], 64, n->tls_ms);
	fmtd(f[7], 64, n->first_byte_ms);
	fmtd(f[8], 64, n->done_ms);
	fmtd(f[9], 64, n->new_connections < 0 ? NAN : n->new_connections);
	fmtd(f[10], 64, n->bytes_sent < 0 ? NAN : (double)n->bytes_sent);
	fmtd(f[11], 64, n->bytes_received < 0 ? NAN : (double)n->bytes_received);
	fmtd(f[12], 64, n->usage_prompt < 0 ? NAN : n->usage_prompt);
	fmtd(f[13], 64, n->usage_completion < 0 ? NAN : n->usage_completion);
	fmtd(f[14], 64, n->server_queue_ms);
	fmtd(f[15], 64, n->server_prefill_ms);
	fmtd(f[16], 64, n->server_ttft_ms);
	fmtd(f[17], 64, n->server_decode_ms);
	for (int k = 0; k < N_NET; k++)
		if (k != 1)
			v[k] = f[k];
}

/* A remote cell's schedule columns (README "Load"): when each request was
 * due and sent, from the cell's start, and which client sent it. */
static const char *const load_hdr[] = { "scheduled_ms", "sent_ms", "client_queue_ms", "client" };
enum { N_LOAD = (int)PB_ARRAY_LEN(load_hdr) };

static void load_fields(const struct pb_load_stat *l, char f[N_LOAD][64], const char *v[N_LOAD])
{
	fmtd(f[0], 64, l->scheduled_ms);
	fmtd(f[1], 64, l->sent_ms);
	fmtd(f[2], 64, l->sent_ms - l->scheduled_ms);
	snprintf(f[3], 64, "%d", l->client);
	for (int k = 0; k < N_LOAD; k++)
		v[k] = f[k];
}

static int write_requests(const struct pb_cell_record *r, const char *path)
{
	static const char *const base_hdr[] = {
		"round", "repeat", "sample", "prompt_tokens", "output_tokens", "truncated",
		"ttft_ms", "tpot_ms", "e2e_ms", "prefill_tok_s", "decode_tok_s",
		"itl_ms_mean", "itl_ms_max", "encode_ms", "gpu_prefill_ms", "gpu_decode_ms",
		"exact_match", "token_f1", "rouge_l", "throttled",
	};
	enum { N_BASE = (int)PB_ARRAY_LEN(base_hdr) };
	const char *hdr[N_BASE + N_NET + N_LOAD + 1];
	int nh = 0;
	for (int k = 0; k < N_BASE; k++)
		hdr[nh++] = base_hdr[k];
	for (int k = 0; r->remote && k < N_NET; k++)
		hdr[nh++] = net_hdr[k];
	for (int k = 0; r->loaded && k < N_LOAD; k++)
		hdr[nh++] = load_hdr[k];
	hdr[nh++] = "output_text";
	struct pb_csv *w = pb_csv_create(path, hdr, nh);
	if (!w)
		return -errno;
	for (int i = 0; i < r->n_reqs; i++) {
		const struct pb_req_stat *q = &r->reqs[i];
		char f[20][32], nf[N_NET][64], lf[N_LOAD][64];
		const char *nv[N_NET], *lv[N_LOAD];
		snprintf(f[19], 32, "%d", r->round);
		snprintf(f[0], 32, "%d", q->repeat);
		snprintf(f[1], 32, "%d", q->sample);
		/* a remote server's prompt tokens are its usage, when it says */
		fmtd(f[2], 32, q->n_prompt < 0 ? NAN : q->n_prompt);
		snprintf(f[3], 32, "%d", q->n_out);
		snprintf(f[4], 32, "%d", q->truncated);
		fmtd(f[5], 32, q->ttft_ms);
		fmtd(f[6], 32, q->tpot_ms);
		fmtd(f[7], 32, q->e2e_ms);
		fmtd(f[8], 32, q->prefill_tok_s);
		fmtd(f[9], 32, q->decode_tok_s);
		fmtd(f[10], 32, q->itl_mean_ms);
		fmtd(f[11], 32, q->itl_max_ms);
		fmtd(f[12], 32, q->encode_ms);
		fmtd(f[13], 32, q->gpu_prefill_ms);
		fmtd(f[14], 32, q->gpu_decode_ms);
		fmtd(f[15], 32, q->exact_match);
		fmtd(f[16], 32, q->token_f1);
		fmtd(f[17], 32, q->rouge_l);
		/* empty, not 0, when nothing could tell */
		fmtd(f[18], 32, q->throttled < 0 ? NAN : q->throttled);
		const char *row[N_BASE + N_NET + N_LOAD + 1] = { f[19] };
		for (int k = 0; k < 19; k++)
			row[k + 1] = f[k];
		int nr = N_BASE;
		if (r->remote) {
			net_fields(&q->net, nf, nv);
			for (int k = 0; k < N_NET; k++)
				row[nr++] = nv[k];
		}
		if (r->loaded) {
			load_fields(&q->load, lf, lv);
			for (int k = 0; k < N_LOAD; k++)
				row[nr++] = lv[k];
		}
		row[nr] = q->text;
		int err = pb_csv_row(w, row);
		if (err < 0) {
			pb_csv_close(w);
			return err;
		}
	}
	return pb_csv_close(w);
}

/* Every inter-token gap of the measured requests, so that the rounds of a
 * cell can be pooled (rounds.c) into percentiles over all of them. */
static int write_itl(const struct pb_cell_record *r, const char *path)
{
	static const char *const hdr[] = { "round", "itl_ms" };
	struct pb_csv *w = pb_csv_create(path, hdr, 2);
	if (!w)
		return -errno;
	for (int i = 0; i < r->n_itl; i++) {
		char a[16], b[32];
		snprintf(a, sizeof a, "%d", r->round);
		fmtd(b, sizeof b, r->itl[i]);
		const char *row[2] = { a, b };
		int err = pb_csv_row(w, row);
		if (err < 0) {
			pb_csv_close(w);
			return err;
		}
	}
	return pb_csv_close(w);
}

static int write_tensors(const struct pb_cell_record *r, const char *path)
{
	static const char *const hdr[] = {
		"tensor", "layer", "role", "format_before", "format", "kernel",
		"params_before", "params", "nonzero_before", "nonzero",
		"sparsity_target", "sparsity_achieved", "bytes_before", "bytes",
	};
	struct pb_csv *w = pb_csv_create(path, hdr, (int)PB_ARRAY_LEN(hdr));
	if (!w)
		return -errno;
	for (int i = 0; i < r->n_tensors; i++) {
		const struct pb_tensor_stat *s = &r->tensors[i];
		char f[14][PB_TENSOR_NAME_MAX];
		snprintf(f[0], sizeof f[0], "%s", s->name);
		snprintf(f[1], 64, "%d", s->layer);
		snprintf(f[2], 64, "%s", role_name(s->role));
		snprintf(f[3], 64, "%s", pb_dtype_name(s->fmt_before));
		snprintf(f[4], 64, "%s", s->present ? pb_dtype_name(s->fmt) : "removed");
		snprintf(f[5], 64, "%s", s->present ? s->kernel : "");
		snprintf(f[6], 64, "%lld", (long long)s->params_before);
		snprintf(f[7], 64, "%lld", (long long)(s->present ? s->params : 0));
		snprintf(f[8], 64, "%lld", (long long)s->nonzero_before);
		snprintf(f[9], 64, "%lld", (long long)(s->present ? s->nonzero : 0));
		fmtd(f[10], 64, s->target >= 0 ? s->target : NAN);
		fmtd(f[11], 64, s->params_before ?
		     1.0 - (double)(s->present ? s->nonzero : 0) / (double)s->params_before : NAN);
		snprintf(f[12], 64, "%lld", (long long)s->bytes_before);
		snprintf(f[13], 64, "%lld", (long long)(s->present ? s->bytes : 0));
		const char *row[14];
		for (int k = 0; k < 14; k++)
			row[k] = f[k];
		int err = pb_csv_row(w, row);
		if (err < 0) {
			pb_csv_close(w);
			return err;
		}
	}
	return pb_csv_close(w);
}

int pb_cell_record_write(struct pb_cell_record *r, const struct pb_sampler *s, const char *dir)
{
	char path[4096];
	struct pb_row row;
	int err;

#define PATH(name) (pb_path_join(path, sizeof path, dir, name), path)
	if ((err = write_requests(r, PATH("requests.csv"))) < 0 ||
	    (err = write_tensors(r, PATH("tensors.csv"))) < 0)
		goto fail;
	char probes_csv[4096], phases_csv[4096];
	pb_path_join(probes_csv, sizeof probes_csv, dir, "probes.csv");
	pb_path_join(phases_csv, sizeof phases_csv, dir, "phases.csv");
	if ((err = pb_sampler_write(s, probes_csv, phases_csv)) < 0)
		goto fail;
	int ne = pb_sampler_energy_sources(s, NULL, 0);
	free(r->energy);
	r->energy = ne > 0 ? calloc((size_t)ne, sizeof *r->energy) : NULL;
	r->n_energy = r->energy ? pb_sampler_energy_sources(s, r->energy, ne) : 0;
	r->baseline_ms = pb_sampler_baseline_ms(s);
	if ((err = write_itl(r, PATH("itl.csv"))) < 0)
		goto fail;
	pb_row_init(&row);
	pb_cell_record_summary(r, s, &row);
	pb_cell_record_conditions(r, s, &row);
	pb_row_set(&row, "rounds", "%d", r->n_rounds);
	err = pb_row_write_csv(&row, PATH("summary.csv"));
	if (err == 0) {
		/* this round's row of rounds.csv: the summary behind its place in time */
		struct pb_row rr;
		pb_row_init(&rr);
		pb_row_set(&rr, "round", "%d", r->round);
		pb_row_set(&rr, "round_position", "%d", r->round_position);
		pb_row_set(&rr, "round_started", "%s", r->start_time);
		for (int i = 0; i < row.n; i++)
			if (strcmp(row.keys[i], "rounds"))
				pb_row_set(&rr, row.keys[i], "%s", row.values[i]);
		err = pb_row_write_csv(&rr, PATH("rounds.csv"));
		pb_row_free(&rr);
	}
	pb_row_free(&row);
	if (err < 0)
		goto fail;
	/* the manifest last: its status line is what marks the cell done */
	if ((err = pb_cell_record_manifest(r, PATH("manifest.yaml"))) < 0)
		goto fail;
#undef PATH
	return 0;
fail:
	pb_log(PB_LOG_ERROR, "writing %s: %s", path, strerror(-err));
	return err;
}

int pb_cell_write_failed(const struct pb_experiment *e, const struct pb_cell *c,
			 const char *dir, const char *reason, const char *log_tail,
			 const char *start_time)
{
	char path[4096], now[32];
	struct pb_row row;
	int err;

	pb_row_init(&row);
	pb_cell_row_identity(&row, e, c);
	pb_row_set(&row, "status", "failed");
	pb_row_set(&row, "reason", "%s", reason);
	pb_path_join(path, sizeof path, dir, "summary.csv");
	err = pb_row_write_csv(&row, path);
	pb_row_free(&row);
	if (err < 0)
		return err;

	pb_path_join(path, sizeof path, dir, "manifest.yaml");
	struct pb_yaml_out *y = pb_yaml_open(path);
	if (!y)
		return -errno;
	pb_yaml_kv(y, "status", "failed");
	pb_yaml_kv(y, "reason", "%s", reason);
	pb_manifest_common(y, e, c);
	pb_yaml_kv(y, "log_tail", "%s", log_tail ? log_tail : "");
	pb_yaml_kv(y, "start_time", "%s", start_time);
	pb_iso8601_now(now, sizeof now);
	pb_yaml_kv(y, "end_time", "%s", now);
	return pb_yaml_close(y);
}

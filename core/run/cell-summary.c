/* core/run/cell-summary.c — a cell's summary.csv row, computed from its
 * record: identity, request count and latency statistics, accuracy,
 * sparsity and size, the sampler's power, energy and host columns, and the
 * measurement conditions (README "Metrics" defines each column).  Writing
 * the cell's files, this row among them, is cell-record.c's job. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"
#include "results/results.h"
#include "run/cell-record.h"
#include "run/reference.h"
#include "util/util.h"

void pb_row_stats(struct pb_row *row, const char *name, const double *x, int n)
{
	static const char *const suf[] = { "mean", "std", "cv", "min", "p50", "p90", "p99", "max" };
	struct pb_stats s;
	char key[96];
	/* NAN entries (a TPOT of a one-token request) are not observations */
	double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
	int m = 0;
	for (int i = 0; v && i < n; i++)
		if (!isnan(x[i]))
			v[m++] = x[i];
	pb_stats_compute(v, v ? m : 0, &s);
	free(v);
	const double vals[] = { s.mean, s.std, s.cv, s.min, s.p50, s.p90, s.p99, s.max };
	for (size_t k = 0; k < PB_ARRAY_LEN(suf); k++) {
		snprintf(key, sizeof key, "%s_%s", name, suf[k]);
		pb_row_setd(row, key, vals[k]);
	}
}

static double req_mean(const struct pb_cell_record *r, size_t off)
{
	double sum = 0;
	int n = 0;
	for (int i = 0; i < r->n_reqs; i++) {
		double v;
		memcpy(&v, (const char *)&r->reqs[i] + off, sizeof v);
		if (!isnan(v)) {
			sum += v;
			n++;
		}
	}
	return n ? sum / n : NAN;
}

void pb_cell_row_identity(struct pb_row *row, const struct pb_experiment *e,
			  const struct pb_cell *c)
{
	pb_row_set(row, "cell_id", "%s", c->id);
	pb_row_set(row, "experiment", "%s", e->name);
	pb_row_set(row, "model", "%s", c->model->name);
	pb_row_set(row, "dataset", "%s", c->dataset->name);
	pb_row_set(row, "pruner", "%s", c->chain->name);
	pb_row_set(row, "backend", "%s", c->backend->name);
	pb_row_set(row, "aa_of", "%s", c->chain->aa_of);
}

/* Accuracy columns, always present (empty where they do not apply) so
 * that merged summaries keep one shape. */
static void build_accuracy(const struct pb_cell_record *r, struct pb_row *row)
{
	/* perplexity for every dataset kind, over scored_tokens positions,
	 * by the dataset's protocol (README "Perplexity protocols") */
	pb_row_setd(row, "perplexity", r->scored ? pb_perplexity(&r->acc) : NAN);
	pb_row_setd(row, "perplexity_dense", r->perplexity_dense);
	pb_row_setd(row, "agreement_top1", r->vs_dense ? pb_agreement(&r->acc) : NAN);
	pb_row_setd(row, "kl_mean", r->vs_dense ? pb_kl_mean(&r->acc) : NAN);
	if (r->accuracy_from_round1)   /* empty: pooling takes round 1's */
		pb_row_set(row, "scored_tokens", "%s", "");
	else
		pb_row_set(row, "scored_tokens", "%ld", r->scored ? r->acc.n_nll : 0L);
	pb_row_set(row, "perplexity_protocol", "%s",
		   r->scored ? pb_ppl_protocol_name(r->c->dataset, r->dataset_kind) : "");
	double em = 0, f1 = 0, rl = 0;
	int n = 0;
	for (int i = 0; i < r->n_reqs; i++) {
		const struct pb_req_stat *q = &r->reqs[i];
		if (isnan(q->exact_match))
			continue;
		em += q->exact_match;
		f1 += q->token_f1;
		rl += q->rouge_l;
		n++;
	}
	pb_row_setd(row, "exact_match", n ? em / n : NAN);
	pb_row_setd(row, "token_f1", n ? f1 / n : NAN);
	pb_row_setd(row, "rouge_l", n ? rl / n : NAN);
	pb_row_setd(row, "score_ms", r->scored ? r->score_ms : NAN);
	pb_row_setd(row, "reference_ms", r->vs_dense ? r->reference_ms : NAN);
	pb_row_set(row, "reference_cached", "%s", r->vs_dense ? (r->reference_cached ? "1" : "0") : "");
}

void pb_cell_record_summary(const struct pb_cell_record *r, const struct pb_sampler *s,
			    struct pb_row *row)
{
	int n = r->n_reqs;
	double *x = malloc((size_t)(n ? n : 1) * sizeof *x);

	pb_cell_row_identity(row, r->e, r->c);
	pb_row_set(row, "status", "done");
	pb_row_set(row, "reason", "%s", "");
	pb_row_set(row, "n_requests", "%d", n);
	double pt = 0, ot = 0;
	int npt = 0;
	for (int i = 0; i < n; i++) {
		if (r->reqs[i].n_prompt >= 0) {   /* a remote server may not say */
			pt += r->reqs[i].n_prompt;
			npt++;
		}
		ot += r->reqs[i].n_out;
	}
	pb_row_setd(row, "prompt_tokens_mean", npt ? pt / npt : NAN);
	pb_row_setd(row, "output_tokens_mean", n ? ot / n : NAN);
	if (x) {
#define STATS(field, name) do { \
		for (int i = 0; i < n; i++) x[i] = r->reqs[i].field; \
		pb_row_stats(row, name, x, n); } while (0)
		STATS(ttft_ms, "ttft_ms");
		STATS(tpot_ms, "tpot_ms");
		pb_row_stats(row, "itl_ms", r->itl, r->n_itl);
		STATS(e2e_ms, "e2e_ms");
		STATS(encode_ms, "encode_ms");
		STATS(gpu_prefill_ms, "gpu_prefill_ms");
		STATS(gpu_decode_ms, "gpu_decode_ms");
#undef STATS
	}
	free(x);
	pb_row_setd(row, "prefill_tok_s_mean", req_mean(r, offsetof(struct pb_req_stat, prefill_tok_s)));
	pb_row_setd(row, "decode_tok_s_mean", req_mean(r, offsetof(struct pb_req_stat, decode_tok_s)));
	pb_row_setd(row, "requests_s", r->measure_ms > 0 ? n / (r->measure_ms / 1e3) : NAN);
	build_accuracy(r, row);

	/* Sparsity and size (README "Metrics" defines each column).  The
	 * block linears are the attention, cross-attention and FFN
	 * projections; the output projection (lm_head) and the embeddings
	 * are not among them, as in the pruning literature.  Zeros are those
	 * of the weights as executed: the 2:4-packed format's unstored half
	 * counts, and a quantized weight is a zero when it dequantizes to 0
	 * (pb_tensor_count_zeros). */
	double tgt_w = 0, touched = 0, touched_zero = 0, lin = 0, lin_zero = 0, lin_bytes = 0;
	double lin_before = 0, lin_bytes_before = 0;
	int64_t params = 0, nonzero = 0, bytes = 0, bytes_dense = 0;
	char formats[128] = "";
	for (int i = 0; i < r->n_tensors; i++) {
		const struct pb_tensor_stat *t = &r->tensors[i];
		const int block = pb_role_is_linear(t->role) && t->role != PB_ROLE_OUTPUT;
		bytes_dense += t->bytes_before;
		if (block) {
			lin_before += (double)t->params_before;
			lin_bytes_before += (double)t->bytes_before;
		}
		if (!t->present) {
			/* removed by a structured step (dropped block): all of
			 * it is gone */
			if (t->target >= 0) {
				tgt_w += t->target * (double)t->params_before;
				touched += (double)t->params_before;
				touched_zero += (double)t->params_before;
			}
			continue;
		}
		params += t->params;
		nonzero += t->nonzero;
		bytes += t->bytes;
		if (t->target >= 0) {
			tgt_w += t->target * (double)t->params_before;
			touched += (double)t->params_before;
			touched_zero += (double)(t->params_before - t->nonzero);
		}
		if (block) {
			lin += (double)t->params;
			lin_zero += (double)(t->params - t->nonzero);
			lin_bytes += (double)t->bytes;
			const char *f = pb_dtype_name(t->fmt);
			if (!strstr(formats, f)) {
				size_t l = strlen(formats);
				snprintf(formats + l, sizeof formats - l, "%s%s", l ? "+" : "", f);
			}
		}
	}
	pb_row_setd(row, "sparsity_target", touched > 0 ? tgt_w / touched : 0.0);
	pb_row_setd(row, "sparsity_achieved", touched > 0 ? touched_zero / touched :
		    (lin > 0 ? lin_zero / lin : NAN));
	/* zeros among the block linears that remain: unstructured and 2:4
	 * sparsity, not removed rows or blocks (params_removed_pct) */
	pb_row_setd(row, "sparsity_linears", lin > 0 ? lin_zero / lin : 0.0);
	pb_row_setd(row, "params_removed_pct",
		    lin_before > 0 ? 100.0 * (lin_before - lin) / lin_before : 0.0);
	pb_row_set(row, "params_total", "%lld", (long long)params);
	pb_row_set(row, "params_nonzero", "%lld", (long long)nonzero);
	pb_row_set(row, "weight_bytes", "%lld", (long long)bytes);
	pb_row_set(row, "weight_bytes_dense", "%lld", (long long)bytes_dense);
	pb_row_set(row, "linear_formats", "%s", formats);
	/* storage per block-linear weight, scales and 2:4 indices included
	 * (F32: 32, Q8_0: 8.5, Q4_0: 4.5, NM_2_4: 18); with every block
	 * linear removed, that of the dense model */
	pb_row_setd(row, "bits_per_weight", lin > 0 ? 8.0 * lin_bytes / lin :
		    lin_before > 0 ? 8.0 * lin_bytes_before / lin_before : NAN);
	pb_row_set(row, "synthetic_weights", "%d", r->c->model->source == PB_MODEL_SYNTH);
	pb_row_setd(row, "load_ms", r->load_ms);
	pb_row_setd(row, "compress_ms", r->compress_ms);
	pb_row_setd(row, "weights_load_ms", r->weights_load_ms);
	if (s) {
		long out_tok = 0, dec_tok = 0;
		for (int i = 0; i < n; i++) {
			out_tok += r->reqs[i].n_out;
			dec_tok += r->reqs[i].n_out > 1 ? r->reqs[i].n_out - 1 : 0;
		}
		pb_sampler_summary(s, row);
		pb_sampler_energy_summary(s, row, out_tok, dec_tok);
	}
	int thr = 0, known = 0;
	for (int i = 0; i < n; i++)
		if (r->reqs[i].throttled >= 0) {
			known++;
			thr += r->reqs[i].throttled;
		}
	pb_row_setd(row, "throttled_requests", known ? thr : NAN);
	if (r->remote)
		pb_cell_record_remote_summary(r, row);
}

/* Measurement conditions: others' CPU, contention, --wait-quiet, peak
 * RSS per phase (sampler.h "host channels"). */
void pb_cell_record_conditions(struct pb_cell_record *r, const struct pb_sampler *s,
			       struct pb_row *row)
{
	const struct pb_quiet_result *q = &r->quiet;

	r->contended = pb_sampler_host_summary(s, r->e->contention_threshold_pct, row);
	r->rss_method = pb_sampler_rss_method(s);
	r->freq_source = pb_sampler_freq_source(s);
	pb_row_setd(row, "min_effect_pct", r->e->min_effect_pct);   /* the report's test */
	pb_row_setd(row, "quiet_wait_s", q->ran ? q->waited_s : NAN);
	pb_row_set(row, "quiet_timed_out", "%s", q->ran ? (q->timed_out ? "1" : "0") : "");
	if (r->contended == 1)
		pb_log(PB_LOG_WARN, "contended: other processes used %s %% of a core on average "
		       "during the measured requests (at most %s %%), above contention_threshold "
		       "%g %%; timings of this cell are not trustworthy",
		       pb_row_get(row, "other_cpu_pct_mean"), pb_row_get(row, "other_cpu_pct_max"),
		       r->e->contention_threshold_pct);
}

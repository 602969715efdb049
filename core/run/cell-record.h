/* core/run/cell-record.h — what a cell measured, accumulated during the
 * pipeline and written at the end: requests.csv, tensors.csv, probes.csv,
 * phases.csv, summary.csv and manifest.yaml. */
#ifndef PB_CELL_RECORD_H
#define PB_CELL_RECORD_H

#include <prunebench/plugin.h>

#include "experiment/experiment.h"
#include "metrics/accuracy.h"
#include "run/cell-probes.h"
#include "run/generate.h"
#include "run/sampler.h"
#include "text/text.h"

struct pb_tensor_stat {
	char name[PB_TENSOR_NAME_MAX];
	int layer;
	enum pb_role role;
	enum pb_dtype fmt_before, fmt;
	int64_t params_before, params, nonzero_before, nonzero;
	int64_t bytes_before, bytes;
	double target;             /* < 0: not touched by any step */
	int present;               /* still in the model after compression */
	char kernel[64];
};

struct pb_req_stat {
	int repeat, sample, n_prompt, n_out, truncated;
	double ttft_ms, tpot_ms, e2e_ms, prefill_tok_s, decode_tok_s, itl_mean_ms, itl_max_ms;
	double encode_ms;          /* encoder-decoder only, else NAN */
	double gpu_prefill_ms, gpu_decode_ms;   /* device clock (generate.h); NAN without one */
	double exact_match, token_f1, rouge_l;   /* against the reference; NAN without one */
	int throttled;             /* 1, 0, or -1: nothing to check it against */
	char *text;
	/* a remote backend's request (cell-remote.c), as the client saw it */
	struct pb_net_stat {
		int failed;            /* the request failed: error says why */
		char *error;
		double connect_ms, tls_ms, first_byte_ms, done_ms, server_queue_ms;
		double server_prefill_ms, server_ttft_ms, server_decode_ms;   /* NAN: not said */
		int new_connections, http_status, streamed;
		int usage_prompt, usage_completion;   /* -1: not reported */
		int64_t bytes_sent, bytes_received;   /* -1: unknown */
		char finish_reason[32];
	} net;
	/* under a load pattern (run/cell-load.c): ms from the cell's start
	 * when the request was due, when it was sent (so the client's
	 * queueing delay is sent − scheduled) and which client sent it */
	struct pb_load_stat {
		double scheduled_ms, sent_ms;
		int client;
	} load;
};

struct pb_probe_status {
	char name[64];
	char why[512];             /* empty: running */
};

struct pb_cell_record {
	const struct pb_experiment *e;
	const struct pb_cell *c;
	int round, n_rounds;       /* this run is round `round` (1-based) of n_rounds */
	int round_position;        /* the cell's 0-based place in the round's order */
	char start_time[32];
	char model_sha256[65], dataset_sha256[65];
	char model_name[PB_MODEL_NAME_MAX];
	struct pb_hparams hp;
	int n_prompts, n_calib, has_reference;
	enum pb_dataset_kind dataset_kind;
	struct pb_tensor_stat *tensors;
	int n_tensors;
	struct pb_req_stat *reqs;
	int n_reqs, cap_reqs;
	double *itl;               /* every inter-token gap, ms */
	int n_itl, cap_itl;
	struct pb_probe_status *probes;
	int n_probes;
	double load_ms, compress_ms, weights_load_ms, measure_ms;
	/* accuracy (score phase) */
	struct pb_acc_sums acc;
	int scored;                /* teacher-forced scoring ran */
	int accuracy_from_round1;  /* a later round: scoring is round 1's */
	int vs_dense;              /* agreement and KL against a dense reference */
	double perplexity_dense;   /* the reference's own perplexity; NAN when none */
	int top_k;                 /* K of the reference's top-K */
	int reference_cached;
	double reference_ms, score_ms;
	char reference_dir[4096];
	char accuracy_note[512];   /* why some accuracy metric is absent */
	/* the backend's describe() after weights_load (its choices and why),
	 * YAML; NULL when it has none */
	char *backend_details;
	/* measurement conditions (cell-probes.h) */
	struct pb_cooldown_result cooldown;
	double baseline_s;         /* idle baseline asked for; 0 none */
	int baseline_channels;     /* energy channels that got an idle power */
	struct pb_throttle throttle;
	int throttle_set;          /* throttle reference taken */
	struct pb_energy_source *energy;   /* taken from the sampler when written */
	int n_energy;
	double baseline_ms;        /* the baseline window as measured */
	struct pb_quiet_result quiet;   /* --wait-quiet (hostcond.h); ran 0: not asked */
	int rss_method, contended;      /* PB_RSS_*; 1, 0, -1 unknown (sampler-host.c) */
	const char *freq_source;        /* pb_sampler_freq_source */
	/* remote backend (issue 16): no model was loaded, no weights, no
	 * teacher forcing; requests may fail one by one (net.failed) */
	int remote;
	int n_failed;
	/* the load pattern's requests ran (cell-load.c): requests.csv gets
	 * the schedule columns, summary.csv the throughput and goodput */
	int loaded;
};

void pb_cell_record_init(struct pb_cell_record *r, const struct pb_experiment *e,
			 const struct pb_cell *c);
void pb_cell_record_free(struct pb_cell_record *r);
void pb_cell_record_probe(struct pb_cell_record *r, const char *name, const char *why);
/* Dense model, before compression. */
void pb_cell_record_model(struct pb_cell_record *r, const struct pb_model *m, double load_ms);
void pb_cell_record_dataset(struct pb_cell_record *r, const struct pb_dataset *d);
/* targets[i] belongs to names[i]: the tensor table as it was when apply()
 * started (a structured pruner may remove tensors). */
void pb_cell_record_targets(struct pb_cell_record *r, const char (*names)[PB_TENSOR_NAME_MAX],
			    int n, const struct pb_prune_target *t);
/* After compression and weights_load: formats, zeros, bytes, kernels. */
void pb_cell_record_tensors(struct pb_cell_record *r, const struct pb_model *m,
			    const struct pb_backend_ops *ops, void *state);
void pb_cell_record_request(struct pb_cell_record *r, int repeat, int sample,
			    const struct pb_gen_result *g);
/* A remote backend's request (cell-remote.c): rc is complete()'s return,
 * res what it filled; a failed request is kept with its reason and its
 * partial output, out of the latency statistics. */
struct pb_complete_res;
void pb_cell_record_remote_request(struct pb_cell_record *r, int repeat, int sample,
				   const struct pb_complete_res *res, int rc);
/* The remote columns of summary.csv (cell-remote.c). */
struct pb_row;
void pb_cell_record_remote_summary(const struct pb_cell_record *r, struct pb_row *row);
/* `name`_{mean,std,cv,min,p50,p90,p99,max} of x[0..n), NAN entries left out. */
void pb_row_stats(struct pb_row *row, const char *name, const double *x, int n);
/* The last request's throttle flag (pb_throttle_check). */
void pb_cell_record_throttled(struct pb_cell_record *r, int throttled);
/* The last request's output text (cut at EOS) against its reference. */
void pb_cell_record_answer(struct pb_cell_record *r, const char *pred, const char *ref);
/* summary.csv's row of a done cell (cell-summary.c): identity, latency,
 * accuracy, sparsity and size, then the sampler's columns when s is set. */
void pb_cell_record_summary(const struct pb_cell_record *r, const struct pb_sampler *s,
			    struct pb_row *row);
/* The measurement conditions' columns (others' CPU, contention,
 * --wait-quiet); sets r->contended, rss_method and freq_source for the
 * manifest, and warns of a contended cell (cell-summary.c). */
void pb_cell_record_conditions(struct pb_cell_record *r, const struct pb_sampler *s,
			       struct pb_row *row);
/* The columns naming a cell, first in every summary row, done or failed. */
void pb_cell_row_identity(struct pb_row *row, const struct pb_experiment *e,
			  const struct pb_cell *c);
/* Every file of a complete cell.  0 or -errno. */
int pb_cell_record_write(struct pb_cell_record *r, const struct pb_sampler *s, const char *dir);

/* In the parent, for a cell whose child failed: manifest.yaml (status
 * failed, reason, log tail) and a one-row summary.csv, so that merged
 * summaries and reports list it. */
int pb_cell_write_failed(const struct pb_experiment *e, const struct pb_cell *c,
			 const char *dir, const char *reason, const char *log_tail,
			 const char *start_time);

/* manifest.yaml of a done cell (cell-manifest.c).  0 or -errno. */
int pb_cell_record_manifest(const struct pb_cell_record *r, const char *path);

/* The manifest's `host` section: contention, --wait-quiet, the peak RSS
 * method (cell-probes.c). */
struct pb_yaml_out;
void pb_host_manifest(struct pb_yaml_out *y, const struct pb_cell_record *r);

/* Manifest sections shared by done and failed cells. */
struct pb_yaml_out;
void pb_manifest_common(struct pb_yaml_out *y, const struct pb_experiment *e,
			const struct pb_cell *c);

#endif

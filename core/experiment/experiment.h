/* core/experiment/experiment.h — an experiment file, parsed, validated and
 * expanded into the matrix of cells.
 *
 * The YAML (libyaml; anchors, aliases and << merge keys resolved) is read
 * into a node tree that keeps file:line:col for every node, --set overrides
 * are applied to that tree, and then it is interpreted.  Every error names
 * file:line:col and, where one fits, a did-you-mean suggestion.  Plugin
 * options are parsed through the plugin's own option table, so an
 * experiment that validates has every config struct filled and in range.
 */
#ifndef PB_EXPERIMENT_H
#define PB_EXPERIMENT_H

#include <limits.h>
#include <stdint.h>

#include "plugin/registry.h"
#include "text/text.h"

#define PB_NAME_MAX 128

/* A configured use of a plugin: a pruner step, a backend, a probe. */
struct pb_step {
	const struct pb_plugin_entry *plugin;
	void *config;                 /* plugin->desc->config_size bytes, owned */
	char *label;                  /* readable: "magnitude(sparsity=0.3)" */
};

enum pb_model_source { PB_MODEL_SYNTH = 0, PB_MODEL_FILE = 1 };

struct pb_model_spec {
	char name[PB_NAME_MAX];       /* axis entry name */
	enum pb_model_source source;
	char preset[64];              /* synth: "llama-15m" */
	uint64_t seed;                /* synth: weights seed */
	char path[PATH_MAX];          /* file: resolved against the experiment's folder */
	char tokenizer[PATH_MAX];     /* file: `tokenizer:` (tokenizer.json or llama2.c .bin), "" none */
	char tokenizer_pre[64];       /* file: `tokenizer_pre:` forces a GGUF's tokenizer.ggml.pre, "" none */
	int ctx;                      /* `ctx:` positions a run uses; 0: the default (pb_model_load_pre) */
};

/* A `datasets:` entry (the keys: core/experiment/parse.c). */
/* How perplexity is computed (README "Perplexity protocols"). */
enum pb_ppl_protocol {
	PB_PPL_DEFAULT = 0,   /* text without separator: hf; else records */
	PB_PPL_HF,            /* Hugging Face strided windows over the token stream */
	PB_PPL_LLAMACPP,      /* llama-perplexity: chunks of ctx, second half scored */
	PB_PPL_RECORDS,       /* each record BOS + its tokens, cut to ctx */
};
enum pb_bos_mode { PB_BOS_DEFAULT = 0, PB_BOS_ONCE, PB_BOS_WINDOW };

struct pb_dataset_spec {
	char name[PB_NAME_MAX];
	char path[PATH_MAX];          /* resolved against the experiment's folder */
	enum pb_dataset_kind format;  /* `format:`, default from the file's extension */
	char input[64];               /* jsonl/csv: the input field, default "prompt" */
	char reference[64];           /* jsonl/csv: the reference field; "" none */
	char prefix[256];             /* prepended to each input ("summarize: ") */
	int max_samples;              /* 0: the experiment's max_samples */
	int shuffle;                  /* by the experiment's seed */
	int calib_count, calib_seqlen;/* `calibration: {count, seqlen}`; 0: none */
	int ctx;                      /* text: window, chunk or record cut in tokens; 0: the model's context */
	int stride;                   /* text: 0: the window (no overlap) */
	enum pb_ppl_protocol protocol;/* `protocol:`; 0: the kind's default (pb_ppl_protocol_of) */
	enum pb_bos_mode bos;         /* `bos:` (protocol hf); 0: once */
	char separator[64];           /* text: split into records at this string; "" none */
};

struct pb_chain {
	char name[PB_NAME_MAX];       /* "dense", "mag-sparsity0.3" */
	struct pb_step *steps;        /* in order; n_steps == 0 is the dense baseline */
	int n_steps;
	/* `aa_control: true`: this chain is the A/A twin of the baseline
	 * chain named here (same steps, measured again in every round as a
	 * noise control); "" for every other chain. */
	char aa_of[PB_NAME_MAX];
};

/* An emulated network link between a served cell's client and its server
 * (issue 16, `network:`; core/experiment/network.c holds the presets,
 * core/run/netem.c builds it).  Each figure applies to each direction:
 * a packet is delayed delay_ms (± jitter_ms) on its way to the server and
 * again on its way back, so a round trip gains 2 × delay_ms.  0 means
 * "not shaped"; every figure 0 is the loopback link (no namespace). */
struct pb_link {
	char name[32];                /* the preset's name, or "custom" */
	double delay_ms, jitter_ms;   /* one way */
	double loss_pct;              /* per packet, each direction */
	double rate_mbit;             /* each direction; 0: unlimited */
};

struct pb_link_preset {
	const char *name;
	struct pb_link link;
	const char *source;           /* where the figures come from */
};

/* The named links (loopback, wifi, lte, 3g), NULL-terminated by name. */
extern const struct pb_link_preset pb_link_presets[];
const struct pb_link_preset *pb_link_preset_find(const char *name);
/* 1 when the link shapes nothing (loopback). */
int pb_link_is_loopback(const struct pb_link *l);

/* `load:` (issue 16 item 4): how a remote cell's requests arrive, like
 * vLLM's `bench serve` and MLPerf LoadGen's Server scenario.  Closed loop:
 * `concurrency` clients, each sending its next request when its last one
 * ended.  Open loop: requests are scheduled from the cell's start at
 * `rate_rps` (Poisson or constant gaps, seeded) and sent at their time
 * whether or not earlier ones ended; `concurrency` caps the requests in
 * flight (a request past the cap waits in the client: its queueing delay).
 * The default (given 0) is today's: closed, one client, every record once
 * per repeat.  Parsed by experiment/load.c, run by run/cell-load.c. */
enum pb_load_mode { PB_LOAD_CLOSED = 0, PB_LOAD_OPEN = 1 };
enum pb_arrivals { PB_ARRIVALS_POISSON = 0, PB_ARRIVALS_CONSTANT = 1 };

#define PB_LOAD_MAX_CONCURRENCY 1024
#define PB_LOAD_OPEN_CONCURRENCY 64     /* open loop's default cap on requests in flight */

struct pb_load_spec {
	int given;                    /* a `load:` applies to this entry; 0: the default */
	enum pb_load_mode mode;
	int concurrency;              /* closed: clients; open: most requests in flight */
	double rate_rps;              /* open: mean arrivals per second */
	enum pb_arrivals arrivals;    /* open */
	uint64_t seed;                /* open, poisson: the arrivals' seed (default: the experiment's) */
	long requests;                /* N requests (records cycled); 0: every record × repeat */
	double duration_s;            /* send requests for D seconds; 0: by count */
};

/* `slo:` {ttft_ms, tpot_ms}: a request meets it when it succeeded and its
 * TTFT and TPOT are within both (goodput, as DistServe and vLLM count it);
 * a bound not given (0) does not constrain.  Judges results: not part of
 * a cell's id. */
struct pb_slo_spec {
	double ttft_ms, tpot_ms;
};

struct pb_backend_spec {
	char name[PB_NAME_MAX];
	struct pb_step step;
	/* `serve: true`: the cell serves its own chain with `prunebench
	 * serve` in a child process and measures it through the `openai`
	 * client (core/run/cell-served.c); `network:` then says the link. */
	int serve;
	struct pb_link network;
	/* `load:` of the entry, else the experiment's (given 0: the default) */
	struct pb_load_spec load;
};

struct pb_cell {
	int index;                    /* position in the full matrix */
	char id[PB_NAME_MAX * 4 + 32];/* "<model>.<dataset>.<chain>.<backend>-<hash8>" */
	const struct pb_model_spec *model;
	const struct pb_dataset_spec *dataset;
	const struct pb_chain *chain;
	const struct pb_backend_spec *backend;
	char *config_text;            /* canonical resolved configuration (YAML), hashed into id */
};

/* The `slurm:` block: defaults for `prunebench slurm` (batch settings,
 * never part of a cell's configuration or id).  Empty strings and zeros
 * mean "not given": Slurm's own defaults apply. */
struct pb_slurm_spec {
	char partition[128], account[128], qos[128];
	char time[32];                /* a Slurm time: "30", "1:30:00", "2-00:00:00" */
	char mem[32];                 /* per node: "4G", "500M" */
	int cpus_per_task;
	int max_parallel;             /* the array's %K; 0: no limit */
	int tasks;                    /* array size; 0: one task per cell */
	char **sbatch_args;           /* extra "#SBATCH" options, e.g. "--gres=gpu:1" */
	int n_sbatch_args;
	char **setup;                 /* shell lines run before each task ("module load ...") */
	int n_setup;
};

struct pb_experiment {
	char file[PATH_MAX];          /* as given */
	char dir[PATH_MAX];           /* its folder, for relative paths */
	char *yaml;                   /* the file's bytes, for the results copy */
	size_t yaml_len;

	char name[PB_NAME_MAX];
	uint64_t seed;
	char output[PATH_MAX];        /* default results/<name>, relative to the cwd */
	int repeat;                   /* default 1 */
	int warmup;                   /* warm-up requests, default 1 */
	int max_new_tokens;           /* default 32 */
	int max_samples;              /* 0 = all */
	int score_tokens;             /* teacher-forced positions scored per cell, default 4096; 0: none */
	double timeout_s;             /* per cell, default 600 */
	/* per cell process (run/memlimit.c: a cgroup v2 memory.max where one
	 * can be made, else RLIMIT_AS); 0 = none (the default).  Not part of
	 * the cell id, like timeout. */
	uint64_t memory_limit_bytes;
	/* experimental design (run/schedule.c): every cell is measured in
	 * `rounds` separate runs; each round runs the cells in an order
	 * shuffled from the seed, blocked by model × dataset × backend.
	 * Neither changes a cell's id. */
	int rounds;                   /* default 1 */
	int aa_control;               /* the baseline chain gets an A/A twin */
	/* probes issue: measurement conditions (cell.c) */
	double idle_baseline_s;       /* idle probe sampling before measuring, default 0 */
	int cooldown;                 /* `cooldown:` given */
	double cooldown_max_temp_c;   /* wait until every °C channel is at or below */
	double cooldown_timeout_s;    /* ... or this long, default 300 */
	double throttle_pct;          /* % of the warm-up's highest min CPU frequency; 0 off, default 90 */
	/* contention: a cell whose measured phases saw others use more than
	 * this much CPU (% of one core) is flagged `contended`; default 10.
	 * Not part of the cell id: it judges the measurement, not changes it. */
	double contention_threshold_pct;
	/* the smallest effect of interest, % (key `min_effect`, default 0):
	 * the report calls a change real only when its test rejects
	 * |effect| ≤ this.  Not part of the cell id (it judges results). */
	double min_effect_pct;
	/* issue 16 item 4: the top-level `load:` (each backend entry may
	 * override it) and `slo:` */
	struct pb_load_spec load;
	struct pb_slo_spec slo;

	struct pb_model_spec *models;      int n_models;
	struct pb_dataset_spec *datasets;  int n_datasets;
	struct pb_chain *chains;           int n_chains;
	struct pb_backend_spec *backends;  int n_backends;
	struct pb_step *probes;            int n_probes;

	struct pb_slurm_spec slurm;   /* experiment/slurm.c */

	struct pb_cell *cells;        /* after include/exclude, in matrix order */
	int n_cells;

	/* The registry the experiment was loaded with (borrowed: it must
	 * outlive e); the cell finds the `ref` backend for the dense reference
	 * through it. */
	const struct pb_registry *registry;
};

/* Load, validate and expand.  `sets` are "path.to.key=value" overrides.
 * On error returns -EINVAL (or -errno for I/O) and writes one message,
 * "file:line:col: what was wrong (did you mean 'x'?)", into err. */
int pb_experiment_load(const char *path, const struct pb_registry *reg,
		       const char *const *sets, int n_sets,
		       struct pb_experiment **out, char *err, size_t len);
void pb_experiment_free(struct pb_experiment *e);

/* Does sbatch accept this --time ("30", "1:30:00", "2-00:00:00",
 * "UNLIMITED") / --mem ("4G", "500M", "8000")?  1 yes, 0 no. */
int pb_slurm_time_ok(const char *s);
int pb_slurm_mem_ok(const char *s);

/* Is this today's load (closed loop, one client, every record once per
 * repeat)?  experiment/load.c */
int pb_load_is_default(const struct pb_load_spec *l);

/* The cell with this id, or NULL. */
const struct pb_cell *pb_experiment_cell(const struct pb_experiment *e, const char *id);

#endif

/* prunebench/plugin.h — the plugin ABI: the one header a plugin includes.
 *
 * A plugin is a shared object exporting exactly one data symbol,
 *
 *     const struct pb_plugin pb_plugin = { .abi_version = PB_ABI_VERSION, ... };
 *
 * which the core reads and checks (ABI version, struct size, kind, hooks,
 * option table) before it runs any code of the plugin.  Build with
 * -fvisibility=hidden so that nothing else is exported.
 *
 * Rules every plugin follows:
 *  - return 0 or a negative errno; explain once through host->log;
 *  - never call exit() and never print to stdout;
 *  - the descriptor and the ops structs are static const;
 *  - `state` (set by init) belongs to the plugin until fini;
 *  - anything passed to a hook is borrowed for the duration of that call,
 *    except where a hook's comment says otherwise.
 *
 * The ABI grows only by appending fields; hooks marked optional may be NULL.
 */
#ifndef PRUNEBENCH_PLUGIN_H
#define PRUNEBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ops.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_ABI_VERSION 1

enum pb_plugin_kind {
	PB_PRUNER = 1,
	PB_BACKEND = 2,
	PB_PROBE = 3,
};

/* ---- options ---------------------------------------------------------- */

enum pb_opt_type {
	PB_OPT_BOOL = 1,    /* int */
	PB_OPT_INT,         /* int64_t */
	PB_OPT_DOUBLE,      /* double */
	PB_OPT_STRING,      /* char[PB_OPT_STR_MAX] */
	PB_OPT_ENUM,        /* int: index into `choices` */
};

#define PB_OPT_STR_MAX 256

/* One option: the core parses YAML into the plugin's config struct at
 * `offset`, checks bounds and documents it (`prunebench plugins NAME`).
 * A table ends with an entry whose key is NULL. */
struct pb_option {
	const char *key;
	enum pb_opt_type type;
	size_t offset;
	const char *def;      /* default, as YAML text; NULL = required */
	double min, max;      /* INT/DOUBLE bounds, inclusive; ignored when min > max */
	const char *choices;  /* ENUM: "a|b|c" */
	const char *help;
};

#define PB_OPTIONS_END { 0, (enum pb_opt_type)0, 0, 0, 0, 0, 0, 0 }

/* ---- host services ---------------------------------------------------- */

enum pb_log_level { PB_LOG_ERROR = 0, PB_LOG_WARN, PB_LOG_INFO, PB_LOG_DEBUG };

/* The core's services.  Every plugin instance gets its own host, so that
 * log lines are prefixed with the plugin's name. */
struct pb_host {
	uint32_t abi_version;
	uint32_t struct_size;
	void (*log)(const struct pb_host *h, enum pb_log_level lvl, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	uint64_t seed;          /* the cell's seed; derive plugin randomness from it */
	int n_threads;          /* threads the cell may use (affinity, SLURM_CPUS_PER_TASK) */
	/* Give tensor t a new format/shape and a fresh zeroed buffer of nbytes,
	 * releasing the old data.  ne[] as in pb_tensor.  0 or -errno. */
	int (*tensor_realloc)(const struct pb_host *h, struct pb_tensor *t,
			      enum pb_dtype dtype, const int64_t ne[PB_MAX_DIMS], size_t nbytes);
	void *core;             /* core-private */
	/* Appended (compression issue); check struct_size before use.
	 * Remove tensor idx from m, releasing its data; the tensors after it
	 * move down one place (indices shift).  -EBUSY when another tensor
	 * shares its data (a tied output).  0 or -errno. */
	int (*tensor_remove)(const struct pb_host *h, struct pb_model *m, int idx);
	/* Appended (k-quant issue); check with PB_HOST_HAS.  Quantize n
	 * floats into dst in `dtype`, any dense storage format (F32, F16,
	 * BF16, Q8_0, Q4_0, Q2_K … Q6_K), bit for bit as `prunebench
	 * convert` writes it (llama.cpp's reference quantizers); n must be a
	 * whole number of the format's blocks, dst hold its bytes
	 * (pb_row_bytes).  So a quantizing plugin needs no copy of the block
	 * math.  0 or -EINVAL. */
	int (*quantize_row)(const struct pb_host *h, enum pb_dtype dtype, const float *x,
			    void *dst, int64_t n);
	/* Appended (issue 16); check with PB_HOST_HAS.  The process a probe
	 * of per-process figures (CPU time, RSS, faults, threads) samples,
	 * fixed from init() to fini(): a served cell's server.  0: the
	 * calling process (/proc/self). */
	int pid;
};

/* Does host h have the appended hook `field` (an older core may not)? */
#define PB_HOST_HAS(h, field) \
	((h)->struct_size >= offsetof(struct pb_host, field) + sizeof((h)->field) && (h)->field)

/* ---- pruners ---------------------------------------------------------- */

/* Calibration statistics a pruner may ask for, per linear of one block,
 * gathered on the dataset's calibration split (`calibration: {count,
 * seqlen}`; N sequences of L tokens). */
enum pb_calib_want {
	PB_CALIB_COL_SQ = 1u << 0,  /* per input column j: Σ over tokens of x_j² (Wanda ‖X_j‖₂², activation size) */
	PB_CALIB_XTX = 1u << 1,     /* [n_in × n_in] Σ over tokens of x xᵀ (SparseGPT: H = 2·XᵀX + λI) */
};

struct pb_linear_stats {
	int tensor;                 /* index into pb_model.tensors */
	int64_t n_in;               /* the linear's input width (ne[0]) */
	int64_t n_tokens;           /* calibration tokens seen */
	const double *col_sq;       /* n_in, when PB_CALIB_COL_SQ was asked */
	const double *xtx;          /* n_in × n_in row-major, when PB_CALIB_XTX was asked */
};

/* The calibration handle the core passes to apply() when the pruner's
 * ops.calib asks for one (NULL otherwise).  The core runs the calibration
 * tokens through the model AS IT IS AT THE TIME OF THE CALL, block by
 * block, keeping the hidden states at the input of the next block, so a
 * pruner that walks blocks in order and edits block l before asking for
 * block l + 1 gets inputs that come from the already-pruned earlier blocks
 * (Wanda's and SparseGPT's sequential scheme).  Within one block all
 * statistics come from one pass with the block as it was when asked. */
struct pb_calib {
	uint32_t struct_size;
	int n_sequences, seqlen;    /* what the split holds */
	/* Statistics for every linear of block `layer` of `stack`: *stats
	 * points at *n entries, valid until the next call or the end of
	 * apply().  Layers must be asked in non-decreasing order per stack;
	 * asking for an earlier layer restarts from the embeddings. */
	int (*block_stats)(struct pb_calib *c, enum pb_stack stack, int layer, unsigned want,
			   const struct pb_linear_stats **stats, int *n);
	/* Block Influence of each block of a stack, 1 − mean cos(h_in, h_out)
	 * over the calibration tokens (ShortGPT), on the model as it is now. */
	int (*block_influence)(struct pb_calib *c, enum pb_stack stack, double *bi, int n_layers);
	void *core;
};

/* What a pruner says it did, one entry per model tensor (same index as
 * pb_model.tensors at the START of apply()), filled by apply().  The core
 * itself measures achieved sparsity, parameters and bytes before and after,
 * so the pruner reports only its intent. */
struct pb_prune_target {
	double sparsity;      /* target fraction of zeros or removed weights; < 0 = not touched */
};

struct pb_pruner_ops {
	uint32_t struct_size;     /* sizeof(struct pb_pruner_ops): see "ops sizes" below */
	int (*apply)(void *state, struct pb_model *m, struct pb_calib *calib,
		     struct pb_prune_target *targets);
	/* optional: may this pruner run on this model (its formats, its
	 * architecture)?  0, or -errno with why.  Called by `validate` on the
	 * model as the chain so far leaves it (formats known), and again before
	 * apply(). */
	int (*check)(void *state, const struct pb_model *m, char *why, size_t len);
	unsigned calib;           /* PB_CALIB_* this pruner needs; 0: none (calib is NULL) */
	uint32_t in_formats;      /* PB_FMT() weight formats it can read; 0 = F32|F16|BF16 */
	/* optional: the format it leaves the linears it touches in
	 * (quantizers), given its config; -1 = unchanged.  Lets `validate`
	 * follow a chain's formats without running it. */
	int (*out_format)(const void *config);
	unsigned archs;           /* 1u << PB_ARCH_* it supports; 0 = any */
	/* Appended (structured pruning issue).  optional: the calibration
	 * this config needs (e.g. none for a
	 * weight-ranked importance); when absent, `calib` above applies. */
	unsigned (*calib_for)(const void *config);
};

/* The calibration a configured pruner needs. */
static inline unsigned pb_pruner_calib(const struct pb_pruner_ops *ops, const void *config)
{
	return ops->calib_for ? ops->calib_for(config) : ops->calib;
}

/* ---- backends --------------------------------------------------------- */

/* A remote backend (appended, network issue 16) runs whole requests on a
 * server instead of op lists: its ops have `complete` and leave the graph
 * hooks NULL and `formats` 0.  The core then skips compression (a remote
 * cell's chain is dense), loads no weights and opens no session; it sends
 * every prompt of the dataset through complete() and records what the
 * client saw.  Teacher-forced scores (perplexity, agreement, KL) need
 * logits and are not available from it.
 *
 * Several requests at once (a cell's `load:`, issue 16 item 4): the core
 * then inits one state per client from the same config and calls
 * complete() on each state from its own thread, at the same time; it
 * never calls one state from two threads at once.  So a remote backend
 * keeps whatever a request needs in its state (a connection, buffers) and
 * nothing mutable shared between states; first_token is then NULL. */

/* One request.  Borrowed for the call. */
struct pb_complete_req {
	uint32_t struct_size;     /* sizeof(struct pb_complete_req), set by the core */
	const char *prompt;       /* the dataset sample's input, as text */
	int max_tokens;           /* the experiment's max_new_tokens */
	const char *const *stop;  /* optional: stop strings, NULL-terminated; NULL: none */
	/* optional: call once, when the first output token arrives (the core
	 * marks the decode phase there); may be NULL */
	void (*first_token)(void *ctx);
	void *ctx;
};

/* What one request did, as the client saw it.  The core zeroes it, sets
 * struct_size and the NAN / -1 "unknown" values below before the call;
 * complete() fills what it knows.  Pointers are the plugin's and stay
 * valid until the next complete() on the same state or fini().  Times are
 * ms on CLOCK_MONOTONIC from the request start (just before it is sent). */
struct pb_complete_res {
	uint32_t struct_size;
	const char *text;          /* the output text, every piece joined; NUL-terminated */
	int n_tokens;              /* output tokens as the stream delivered them (content events) */
	const double *token_ms;    /* n_tokens arrival times */
	double done_ms;            /* the response ended (stream end or error) */
	/* the transfer, as the HTTP client measures it from the request
	 * start: connected, TLS done (NAN without TLS), first response byte */
	double connect_ms, tls_ms, first_byte_ms;
	int new_connections;       /* connections opened for this request (0: reused); -1 unknown */
	int64_t bytes_sent, bytes_received;   /* HTTP headers + bodies; -1 unknown */
	int http_status;           /* 0: no response */
	int streamed;              /* the reply came as a stream (0: one JSON body) */
	/* what the server said: usage (-1 when it did not say) and the time
	 * it held the request in its queue (NAN when it did not say) */
	int usage_prompt_tokens, usage_completion_tokens;
	double server_queue_ms;
	char finish_reason[32];
	/* why the request failed, "" when it did not; complete() returns
	 * -errno then, and keeps whatever arrived before the failure.  The
	 * core logs it: the plugin does not. */
	char error[512];
	/* Appended (issue 16, served cells): the server's own account of the
	 * request from `prunebench serve`'s `prunebench` object — prefill,
	 * time to its first token, decode — NAN when it did not say.  Write
	 * them only when struct_size covers them (an older core's is shorter). */
	double server_prefill_ms, server_ttft_ms, server_decode_ms;
};

struct pb_backend_ops {
	uint32_t struct_size;     /* sizeof(struct pb_backend_ops): see "ops sizes" below */
	uint32_t formats;     /* PB_FMT() bits of weight formats run natively; 0 for a remote backend */
	/* Take the model's weights (after compression).  The model outlives
	 * the backend state; the backend may keep pointers into it. */
	int (*weights_load)(void *state, const struct pb_model *m);
	/* (Re)allocate n activation buffers of sizes[i] floats, zeroed. */
	int (*buffers_alloc)(void *state, const int64_t *sizes, int n);
	int (*graph_compute)(void *state, const struct pb_graph *g);
	/* Copy n floats from buffer `buf` at float offset `off`: the only sync. */
	int (*buffer_read)(void *state, int buf, int64_t off, int64_t n, float *dst);
	/* optional: write host floats into a buffer (tests, biases) */
	int (*buffer_write)(void *state, int buf, int64_t off, int64_t n, const float *src);
	/* optional: the format and kernel that tensor `idx` executes with,
	 * e.g. "F32 ref-gemv"; recorded per linear in the cell's results. */
	int (*weight_kernel)(void *state, int idx, char *out, size_t len);
	/* Appended (vulkan issue).  optional: the device-side time of every
	 * graph_compute so far, in ms, by the device's own clock (GPU
	 * timestamps); it may wait for submitted work to finish.  The core
	 * reads it around each step of a request (gpu_prefill_ms,
	 * gpu_decode_ms beside the host's TTFT and TPOT).  0, or -ENOTSUP
	 * when this device cannot time. */
	int (*device_ms)(void *state, double *total_ms);
	/* Appended (network issue 16).  optional: run one whole request on
	 * a server (see pb_complete_req above).  A backend with this hook is
	 * remote: weights_load, buffers_alloc, graph_compute and buffer_read
	 * may then be NULL and formats 0.  0, or -errno with res->error. */
	int (*complete)(void *state, const struct pb_complete_req *req, struct pb_complete_res *res);
	/* Appended (speed issue 17).  optional: after weights_load, the
	 * backend's own account of what it chose and why (a YAML mapping:
	 * kernels picked by measurement, where a calibration came from), up
	 * to len bytes with the NUL; the cell's manifest keeps it under
	 * backend_details.  0, or -errno (nothing recorded). */
	int (*describe)(void *state, char *yaml, size_t len);
};

/* Does this backend run whole requests on a server (a remote backend)? */
static inline int pb_backend_is_remote(const struct pb_backend_ops *ops)
{
	return ops && ops->complete != NULL;
}

/* ---- probes ----------------------------------------------------------- */

enum pb_channel_kind {
	PB_GAUGE = 0,     /* a level: averaged over a phase */
	PB_COUNTER = 1,   /* monotonically increasing: differenced over a phase */
};

struct pb_channel {
	char name[64];        /* e.g. "rss_bytes", "pkg_energy_j" */
	char unit[16];        /* "bytes", "s", "J", "C", "%", "count" */
	enum pb_channel_kind kind;
	double wrap;          /* COUNTER: value at which it wraps to 0; 0 = never */
};

struct pb_probe_ops {
	uint32_t struct_size;     /* sizeof(struct pb_probe_ops): see "ops sizes" below */
	/* After init: the channels this probe reports (may depend on the
	 * machine).  *ch stays valid until fini. */
	int (*channels)(void *state, const struct pb_channel **ch, int *n);
	/* One reading per channel into values[]; NAN where a channel has no
	 * value this time.  Called from the sampler thread. */
	int (*read)(void *state, double *values);
	double min_interval_ms;   /* sampling no faster than this */
	/* Appended (probes issue).  optional: what this instance measures,
	 * for the cell's manifest — a small YAML mapping as text (e.g. the
	 * thermal zones and their trip points, the RAPL zones and their wrap
	 * ranges) written NUL-terminated into yaml[len].  0, -ENOSPC when it
	 * did not fit, or -errno.  Cheap and side-effect free: the core may
	 * call it on an instance that never read().  Strings from the machine
	 * must be quoted; the core re-parses the text and drops it when it is
	 * not valid YAML. */
	int (*describe)(void *state, char *yaml, size_t len);
};

/* ---- ops sizes ---------------------------------------------------------- */

/* Every kind's ops struct starts with its own struct_size, set by the
 * plugin to sizeof() as its headers define the struct, so that the core
 * tells an older plugin's shorter struct (built before a field was
 * appended) from a current one.  The core refuses a struct_size below the
 * kind's ABI-1 minimum (the fields every ABI-1 plugin has) and reads an
 * appended field only when struct_size covers it: a shorter struct's
 * missing hooks count as NULL, its missing values as 0.  A struct_size
 * larger than the core's (a newer plugin) is fine: the core reads what it
 * knows.  The minimums end just before the first appended field: */
#define PB_PRUNER_OPS_MIN_SIZE offsetof(struct pb_pruner_ops, calib_for)
#define PB_BACKEND_OPS_MIN_SIZE offsetof(struct pb_backend_ops, device_ms)
#define PB_PROBE_OPS_MIN_SIZE offsetof(struct pb_probe_ops, describe)

/* ---- the descriptor --------------------------------------------------- */

struct pb_plugin {
	uint32_t abi_version;     /* PB_ABI_VERSION */
	uint32_t struct_size;     /* sizeof(struct pb_plugin) */
	enum pb_plugin_kind kind;
	const char *name;         /* YAML key */
	const char *version;
	const char *summary;
	const struct pb_option *options;   /* optional */
	size_t config_size;                /* bytes of the config struct */
	/* optional: can this plugin work here?  0, or -errno and a reason a
	 * user can act on.  On success it may write what it found (e.g. a
	 * backend's devices), which `prunebench plugins` shows after "ok". */
	int (*available)(const struct pb_host *h, char *why, size_t len);
	int (*init)(const struct pb_host *h, const void *config, void **state);
	void (*fini)(void *state);
	const void *ops;          /* struct pb_{pruner,backend,probe}_ops, struct_size first */
};

#define PB_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
}
#endif
#endif

/* core/run/calib.h — the calibration engine behind struct pb_calib
 * (prunebench/plugin.h is the contract): token windows cut from a
 * dataset, and per-linear input statistics gathered block by block on the
 * `ref` backend, on the model as the pruner has left it so far.
 *
 * Ownership: the engine borrows the model (it must outlive the handle)
 * and copies the tokens; the handle is the caller's until
 * pb_calib_close.  The statistics a block_stats call returns live until
 * the next call or the close.
 */
#ifndef PB_RUN_CALIB_H
#define PB_RUN_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/plugin.h>

struct pb_dataset;
struct pb_sample;
struct pb_tokenizer;

struct pb_calib_opts {
	const struct pb_plugin *backend;   /* the `ref` backend's descriptor */
	const int32_t *tokens;             /* n_seq × seqlen token ids (copied) */
	int n_seq, seqlen;
	int n_threads;                     /* XᵀX accumulation; <= 0: pb_default_threads() */
	uint64_t seed;                     /* the backend instance's host seed */
	/* optional: 1 when a gathering starts, 0 when it ends (the cell
	 * switches to phase `calibrate` and back) */
	void (*on_gather)(void *ctx, int active);
	void *ctx;
};

/* Start a backend instance for m and a handle over the tokens.  For an
 * encoder-decoder model (T5) each window feeds the encoder, and the
 * decoder reads the same window teacher-forced (decoder_start_id, then
 * the window without its last token).  A window longer than the model's
 * context is an error.  0 or -errno with err filled. */
int pb_calib_open(struct pb_model *m, const struct pb_calib_opts *o, struct pb_calib **out,
		  char *err, size_t len);
void pb_calib_close(struct pb_calib *c);
/* Milliseconds spent gathering so far (the part of apply() that is
 * calibration). */
double pb_calib_ms(const struct pb_calib *c);

/* n_seq consecutive windows of seqlen tokens from the records' text,
 * tokenized record by record (BOS/EOS as the tokenizer's defaults) and
 * concatenated: from the first record on, or (from_end) the last
 * n_seq × seqlen tokens of the shortest run of records at the end.
 * *out (malloc'd, n_seq × seqlen) is the caller's.  -ENOSPC with a
 * message when the records hold too few tokens. */
int pb_calib_windows(const struct pb_tokenizer *tok, const struct pb_sample *recs, int n_recs,
		     int from_end, int n_seq, int seqlen, int32_t **out, char *err, size_t len);

/* The windows of a dataset: its calibration split; without one, the END
 * of its evaluated records, with a warning that says so.  `what` names
 * the dataset in messages. */
int pb_calib_dataset_tokens(const struct pb_dataset *ds, const struct pb_tokenizer *tok,
			    const char *what, int n_seq, int seqlen, int32_t **out,
			    char *err, size_t len);

/* How many windows of how many tokens a pruner calibrates on: its own
 * integer options `nsamples` and `seqlen` where it has them (and they are
 * > 0), else def_n / def_len (the dataset's `calibration: {count,
 * seqlen}`), else 32 × 128. */
void pb_calib_sizes(const struct pb_plugin *p, const void *config, int def_n, int def_len,
		    int *n_seq, int *seqlen);

#endif

/* core/run/reference.h — teacher-forced scoring and the dense reference.
 *
 * Teacher forcing feeds known token sequences and reads the logits of every
 * row (pb_session_forward_all).  The sequences of a cell (pb_tf_build), by
 * the dataset's perplexity protocol (README "Perplexity protocols"):
 *   text, hf          the evaluated text tokenized once as one stream, BOS
 *                     once at its start; windows of `ctx` tokens starting
 *                     at 0, S, 2S, ... (S = `stride`); each scores only the
 *                     tokens new to it, never its own first token
 *                     (Hugging Face's strided recipe); `bos: window`: BOS
 *                     in front of every window of ctx - 1 stream tokens;
 *   text, llama.cpp   non-overlapping chunks of ctx stream tokens, the
 *                     first replaced by BOS, rows ctx/2 .. ctx-2 scored;
 *   text, records     (separator) each record BOS + its tokens, cut to ctx;
 *   prompts datasets  BOS + the prompt tokens (+ the reference's, when the
 *                     dataset has references), cut to the model's context, all rows;
 *   encoder-decoder   the encoder gets the input; the decoder is fed
 *                     decoder_start + the reference tokens, or, without
 *                     references, + the dense model's greedy output.  Text
 *                     datasets are not scored on encoder-decoder models.
 * Row r of a sequence predicts token r + 1; rows [score_from, n - 1) are
 * scored.  At most `score_tokens` rows are scored per cell.
 *
 * The dense reference holds, for every scored row, the dense model's top-K
 * ids and log-probabilities, the log of the remaining mass and the log-prob
 * of the next token (K = vocab when vocab <= 4096, else 64; see
 * metrics/accuracy.h for the KL bound).  It is computed once per (model,
 * dataset, settings) on the `ref` backend from the model BEFORE compression,
 * in whichever cell's child gets there first, and stored in
 *   <output>/reference/<model>.<dataset>-<hash8>/{reference.bin,manifest.yaml}
 * hash8 from the sha256 of a key naming everything it depends on.  Writers
 * hold <output>/reference/<name>.lock (run/shared-lock.h: made by link(2),
 * kept fresh by a heartbeat, broken when its holder died; flock is not
 * trusted on shared filesystems), write <name>.tmp.<host>.<pid>/ and rename
 * it into place, never over an existing one.  So concurrent cells (shards,
 * Slurm tasks on several nodes sharing one folder) compute it once and
 * never read a partial one; the lock file is removed on release.
 * reference.bin is in the host's byte order and is checked on reading.
 */
#ifndef PB_REFERENCE_H
#define PB_REFERENCE_H

#include <limits.h>
#include <stdint.h>

#include "arch/arch.h"
#include "experiment/experiment.h"
#include "metrics/accuracy.h"
#include "text/text.h"

#define PB_REF_TOPK_SMALL_VOCAB 4096   /* vocabularies up to this keep every id */
#define PB_REF_TOPK 64

struct pb_tf_seq {
	int sample;            /* dataset sample index; -1 for a text window */
	int32_t *enc;          /* encoder input (encoder-decoder), else NULL */
	int n_enc;
	int32_t *tok;          /* tokens fed (the decoder's, for encoder-decoder) */
	int n;
	int score_from;        /* rows [score_from, n - 1) are scored */
};

struct pb_tf_set {
	struct pb_tf_seq *v;
	int n;
	long n_rows;           /* scored rows over all sequences */
};

/* Build the cell's sequences from the evaluated samples, at most budget
 * scored rows.  Encoder-decoder samples without references get tok NULL
 * (decoder tokens to be filled with the dense greedy output, counted as
 * max_new rows).  0 or -errno (err filled). */
int pb_tf_build(const struct pb_dataset *ds, const struct pb_dataset_spec *spec,
		const struct pb_model *m, int budget, int max_new, struct pb_tf_set *out,
		char *err, size_t len);
void pb_tf_set_free(struct pb_tf_set *s);
/* The protocol a dataset is scored with (its `protocol:`, else hf for text
 * without a separator, records otherwise) and its summary.csv name:
 * "hf-strided", "hf-strided-bos-window", "llama.cpp" or "records". */
enum pb_ppl_protocol pb_ppl_protocol_of(const struct pb_dataset_spec *spec,
				       enum pb_dataset_kind kind);
const char *pb_ppl_protocol_name(const struct pb_dataset_spec *spec, enum pb_dataset_kind kind);

struct pb_reference {
	int k, vocab;
	struct pb_tf_set set;  /* the sequences every cell of the pair scores */
	int32_t *ids;          /* n_rows × k, by log-prob descending */
	float *logp;           /* n_rows × k */
	float *tail_logp;      /* n_rows; -INFINITY when k == vocab */
	double *target_logp;   /* n_rows: dense log-prob of the next token (double: the
				 * dense perplexity sums what a dense cell on `ref` sums) */
	char dir[PATH_MAX];    /* the stored folder */
	int cached;            /* read, not computed, by this process */
	double ms;             /* time to compute or read it */
};
void pb_reference_free(struct pb_reference *r);
int pb_reference_topk(int vocab);

/* Score rows of set on session s: the cell's own NLL of the next token
 * always, and agreement and KL when ref is given (its set must be set).
 * vocab: the logits' width; live: the ids that are real tokens
 * (pb_model_live_vocab), so top-1 agreement never counts a padding id.
 * 0 or -errno. */
int pb_tf_score(struct pb_session *s, int vocab, int live, const struct pb_tf_set *set,
		const struct pb_reference *ref, struct pb_acc_sums *sums,
		char *err, size_t len);

/* Compute a reference over set on the dense session: fills missing
 * encoder-decoder decoder tokens by greedy generation (max_new tokens),
 * then the top-K rows.  Takes ownership of *set. */
int pb_reference_compute(struct pb_session *dense, const struct pb_model *m,
			 struct pb_tf_set *set, int max_new, struct pb_reference **out,
			 char *err, size_t len);

/* The cache: read <dir>/<name>/ when it exists with the same key, else
 * compute it with fn (at most once across processes) and store it. */
typedef int (*pb_reference_fn)(void *arg, struct pb_reference **out, char *err, size_t len);
int pb_reference_cached(const char *dir, const char *name, const char *key,
			pb_reference_fn fn, void *arg, struct pb_reference **out,
			char *err, size_t len);
/* Leftovers in <output>/reference/ of processes on this host that were
 * killed: lock files (shared-lock.h) and <name>.tmp.<host>.<pid>/
 * folders.  Nothing of a live process or of another host is touched.
 * The number removed, or -errno. */
int pb_reference_clean(const char *output);
/* Serialisation, for the cache and its tests. */
int pb_reference_write(const struct pb_reference *r, const char *key, const char *path);
int pb_reference_read(const char *path, const char *key, struct pb_reference **out,
		      char *err, size_t len);

/* Convert, in place, every tensor whose format the backend cannot run
 * into F32 (the one format every backend runs; exact for every block
 * format, whose values are floats), saying in the log how many tensors of
 * which format were converted: e.g. k-quants on a backend without k-quant
 * kernels.  0, -ENOTSUP or -ENOMEM. */
int pb_convert_for_backend(struct pb_model *m, uint32_t formats);

/* The cell's reference: key and name from the cell's model (with the dense
 * weights' content hash), dataset and settings; computed on the `ref`
 * backend found in e->registry from m, which must not be compressed yet.
 * -ENOENT (err says why) when no `ref` backend is registered. */
int pb_reference_get(const struct pb_experiment *e, const struct pb_cell *c,
		     const struct pb_dataset *ds, const struct pb_model *m,
		     const char *model_sha256, struct pb_reference **out,
		     char *err, size_t len);

#endif

/* core/run/score.c — teacher-forced scoring: the sequences a cell scores
 * (text windows, prompts, encoder-decoder pairs), the dense reference's
 * rows, and the cell's rows against them (definitions in reference.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"
#include "run/reference.h"
#include "util/util.h"

/* Rows per forward_all call: bounds the logits buffer (rows × vocab). */
#define TF_CHUNK 256

void pb_tf_set_free(struct pb_tf_set *s)
{
	for (int i = 0; s && i < s->n; i++) {
		free(s->v[i].enc);
		free(s->v[i].tok);
	}
	if (s)
		free(s->v);
	if (s)
		memset(s, 0, sizeof *s);
}

static int tf_push(struct pb_tf_set *s, int *cap, const struct pb_tf_seq *q)
{
	if (s->n == *cap) {
		int nc = *cap ? *cap * 2 : 16;
		struct pb_tf_seq *p = realloc(s->v, (size_t)nc * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->v = p;
		*cap = nc;
	}
	s->v[s->n++] = *q;
	if (q->n > 1)
		s->n_rows += q->n - 1 - q->score_from;
	return 0;
}

/* Tokens of text into a malloc'd array (at least one slot). */
static int tokenize(const struct pb_tokenizer *t, const char *text, int bos,
		    int32_t **out, int *n)
{
	int k = pb_tokenize(t, text, bos, NULL, 0);
	if (k < 0)
		return k;
	*out = malloc((size_t)(k ? k : 1) * sizeof **out);
	if (!*out)
		return -ENOMEM;
	pb_tokenize(t, text, bos, *out, k);
	*n = k;
	return 0;
}

enum pb_ppl_protocol pb_ppl_protocol_of(const struct pb_dataset_spec *spec,
				       enum pb_dataset_kind kind)
{
	if (spec->protocol)
		return spec->protocol;
	return kind == PB_DATASET_TEXT && !spec->separator[0] ? PB_PPL_HF : PB_PPL_RECORDS;
}

const char *pb_ppl_protocol_name(const struct pb_dataset_spec *spec, enum pb_dataset_kind kind)
{
	switch (pb_ppl_protocol_of(spec, kind)) {
	case PB_PPL_HF:       return spec->bos == PB_BOS_WINDOW ? "hf-strided-bos-window" : "hf-strided";
	case PB_PPL_LLAMACPP: return "llama.cpp";
	default:              return "records";
	}
}

/* The evaluated text, tokenized once as one stream (BOS first when bos). */
static int text_stream(const struct pb_dataset *ds, const struct pb_tokenizer *tok, int bos,
		       int32_t **out, int *n)
{
	size_t total = 1;
	for (int i = 0; i < ds->n; i++)
		total += strlen(ds->samples[i].input);
	char *text = malloc(total), *p = text;
	if (!text)
		return -ENOMEM;
	for (int i = 0; i < ds->n; i++) {
		size_t l = strlen(ds->samples[i].input);
		memcpy(p, ds->samples[i].input, l);
		p += l;
	}
	*p = '\0';
	int rc = tokenize(tok, text, bos, out, n);
	free(text);
	return rc;
}

/* One sequence: stream[begin, end), BOS in front when bos_first (replacing
 * nothing) or in place of the first token when bos_replace; rows from
 * score_from scored. */
static int push_window(struct pb_tf_set *out, int *cap, const int32_t *stream, int begin,
		       int end, int32_t bos_first, int32_t bos_replace, int score_from)
{
	const int pre = bos_first >= 0;
	struct pb_tf_seq q = { .sample = -1, .n = end - begin + pre, .score_from = score_from };
	q.tok = malloc((size_t)q.n * sizeof *q.tok);
	if (!q.tok)
		return -ENOMEM;
	if (pre)
		q.tok[0] = bos_first;
	memcpy(q.tok + pre, stream + begin, (size_t)(end - begin) * sizeof *q.tok);
	if (bos_replace >= 0)
		q.tok[0] = bos_replace;
	int rc = tf_push(out, cap, &q);
	if (rc < 0)
		free(q.tok);
	return rc;
}

/* Text datasets, protocols hf (bos once or window) and llama.cpp over the
 * evaluated text's token stream (README "Perplexity protocols"). */
static int build_text(const struct pb_dataset *ds, const struct pb_dataset_spec *spec,
		      const struct pb_model *m, int budget, struct pb_tf_set *out)
{
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	const enum pb_ppl_protocol proto = pb_ppl_protocol_of(spec, ds->kind);
	const int window_bos = proto == PB_PPL_HF && spec->bos == PB_BOS_WINDOW;
	/* BOS once at the stream's start: as the tokenizer adds it (Hugging
	 * Face's tokenizer(text), llama.cpp's common_tokenize(.., true));
	 * bos window: whenever the tokenizer has one, as before */
	const int32_t bos_id = pb_tokenizer_bos(tok);
	const int bos = window_bos ? bos_id >= 0 : pb_tokenizer_add_bos(tok) && bos_id >= 0;
	const int W = spec->ctx > 0 && spec->ctx < m->hp.ctx ? spec->ctx : m->hp.ctx;
	int32_t *stream = NULL;
	int N = 0, cap = 0, rc, left = budget;

	if ((rc = text_stream(ds, tok, bos && !window_bos, &stream, &N)) < 0)
		return rc;
	if (proto == PB_PPL_LLAMACPP) {
		/* non-overlapping chunks of W; rows W/2 .. W-2 predict tokens
		 * W/2+1 .. W-1; a partial last chunk is dropped */
		const int first = W / 2;
		for (int c = 0; (long)(c + 1) * W <= N && left > 0 && rc == 0; c++) {
			int end = (c + 1) * W;
			if (W - 1 - first <= 0)
				break;
			if (W - 1 - first > left)
				end = c * W + first + 1 + left;
			rc = push_window(out, &cap, stream, c * W, end, -1, bos ? bos_id : -1, first);
			left -= end - c * W - 1 - first;
		}
		goto done;
	}
	if (window_bos) {
		/* the old recipe: windows of W - 1 stream tokens, BOS put in
		 * front of each; the stream's first token is never scored */
		const int L = W - bos;
		const int S = spec->stride > 0 && spec->stride < L ? spec->stride : L;
		int prev_end = 0;
		if (L < 2) {
			rc = -EINVAL;
			goto done;
		}
		for (int begin = 0; begin < N && left > 0; begin += S) {
			int end = begin + L < N ? begin + L : N;
			int first = prev_end > begin + !bos ? prev_end : begin + !bos;   /* first target */
			if (first >= end)
				break;
			if (end - first > left)
				end = first + left;
			if ((rc = push_window(out, &cap, stream, begin, end, bos ? bos_id : -1, -1,
					      first - begin + bos - 1)) < 0)
				goto done;
			left -= end - first;
			prev_end = end;
			if (end == N)
				break;
		}
		goto done;
	}
	/* Hugging Face: windows [begin, begin + W) for begin = 0, S, 2S, ...;
	 * trg_len = end - prev_end, the window's first token never a target;
	 * stop once a window reaches the end */
	const int S = spec->stride > 0 && spec->stride < W ? spec->stride : W;
	int prev_end = 0;
	if (W < 2) {
		rc = -EINVAL;
		goto done;
	}
	for (int begin = 0; begin < N && left > 0; begin += S) {
		int end = begin + W < N ? begin + W : N;
		const int full_end = end;
		int first = prev_end > begin + 1 ? prev_end : begin + 1;
		if (first < end) {
			if (end - first > left)
				end = first + left;
			if ((rc = push_window(out, &cap, stream, begin, end, -1, -1, first - begin - 1)) < 0)
				goto done;
			left -= end - first;
		}
		prev_end = full_end;
		if (full_end == N)
			break;
	}
done:
	free(stream);
	return rc;
}

/* Text split at a separator: each record BOS + its tokens, cut to W. */
static int build_text_records(const struct pb_dataset *ds, const struct pb_dataset_spec *spec,
			      const struct pb_model *m, int budget, struct pb_tf_set *out)
{
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	const int W = spec->ctx > 0 && spec->ctx < m->hp.ctx ? spec->ctx : m->hp.ctx;
	int cap = 0, rc = 0, left = budget;
	for (int i = 0; i < ds->n && left > 0; i++) {
		struct pb_tf_seq q = { .sample = i };
		if ((rc = tokenize(tok, ds->samples[i].input, 1, &q.tok, &q.n)) < 0)
			return rc;
		if (q.n > W)
			q.n = W;
		if (q.n > left + 1)
			q.n = left + 1;
		if (q.n < 2) {
			free(q.tok);
			continue;
		}
		left -= q.n - 1;
		if ((rc = tf_push(out, &cap, &q)) < 0) {
			free(q.tok);
			return rc;
		}
	}
	return 0;
}

int pb_tf_build(const struct pb_dataset *ds, const struct pb_dataset_spec *spec,
		const struct pb_model *m, int budget, int max_new, struct pb_tf_set *out,
		char *err, size_t len)
{
	const struct pb_tokenizer *tok = pb_model_tokenizer(m);
	const int seq2seq = m->hp.n_enc_layers > 0, ctx = m->hp.ctx;
	int cap = 0, rc = 0, left = budget;

	memset(out, 0, sizeof *out);
	if (budget <= 0)
		return 0;
	if (ds->kind == PB_DATASET_TEXT) {
		if (seq2seq)
			return 0;     /* no perplexity of an encoder-decoder on raw text */
		if (pb_ppl_protocol_of(spec, ds->kind) == PB_PPL_RECORDS)
			rc = build_text_records(ds, spec, m, budget, out);
		else
			rc = build_text(ds, spec, m, budget, out);
		goto out;
	}
	for (int i = 0; i < ds->n && left > 0; i++) {
		const struct pb_sample *s = &ds->samples[i];
		struct pb_tf_seq q = { .sample = i };
		int32_t *ref = NULL;
		int n_ref = 0;
		if (s->reference && (rc = tokenize(tok, s->reference, 0, &ref, &n_ref)) < 0)
			goto out;
		if (seq2seq) {
			if ((rc = tokenize(tok, s->input, 1, &q.enc, &q.n_enc)) < 0) {
				free(ref);
				goto out;
			}
			if (q.n_enc > ctx)
				q.n_enc = ctx;
			if (s->reference) {
				/* decoder_start + reference */
				q.n = 1 + (n_ref < ctx - 1 ? n_ref : ctx - 1);
				q.tok = malloc((size_t)q.n * sizeof *q.tok);
				if (q.tok) {
					q.tok[0] = m->hp.decoder_start_id;
					memcpy(q.tok + 1, ref, (size_t)(q.n - 1) * sizeof *ref);
				}
			}
			free(ref);
			if ((s->reference && !q.tok) || q.n_enc < 1) {
				free(q.enc);
				free(q.tok);
				if (q.n_enc < 1)
					continue;     /* nothing to encode */
				rc = -ENOMEM;
				goto out;
			}
			/* decoder tokens from the dense greedy output: count max_new rows */
			int rows = q.tok ? q.n - 1 : max_new;
			if (q.tok && rows > left) {
				q.n = left + 1;
				rows = left;
			}
			left -= rows;
		} else {
			int32_t *in;
			int n_in;
			if ((rc = tokenize(tok, s->input, 1, &in, &n_in)) < 0) {
				free(ref);
				goto out;
			}
			q.n = n_in + n_ref < ctx ? n_in + n_ref : ctx;
			if (q.n > left + 1)
				q.n = left + 1;
			q.tok = realloc(in, (size_t)(n_in + n_ref + 1) * sizeof *in);
			if (!q.tok) {
				free(in);
				free(ref);
				rc = -ENOMEM;
				goto out;
			}
			if (n_ref)
				memcpy(q.tok + n_in, ref, (size_t)n_ref * sizeof *ref);
			free(ref);
			if (q.n < 2) {
				free(q.tok);
				continue;     /* one token predicts nothing */
			}
			left -= q.n - 1;
		}
		if ((rc = tf_push(out, &cap, &q)) < 0) {
			free(q.enc);
			free(q.tok);
			goto out;
		}
	}
out:
	if (rc < 0) {
		pb_tf_set_free(out);
		return pb_errf(err, len, rc, "teacher-forced inputs: %s", strerror(-rc));
	}
	return 0;
}

enum tf_mode { TF_SCORE, TF_DENSE };

/* The dense top-1 among real tokens: the first of its top-k ids (by
 * log-probability, descending) below live. */
static int32_t ref_top1(const int32_t *ids, int k, int live)
{
	for (int j = 0; j < k; j++)
		if (ids[j] < live)
			return ids[j];
	return ids[0];
}

/* Feed each sequence and visit its scored rows: score them against ref
 * (TF_SCORE) or fill ref's rows from them (TF_DENSE); live: the ids that
 * are real tokens, for the agreement's argmax. */
static int tf_run(struct pb_session *s, int vocab, int live, const struct pb_tf_set *set,
		  enum tf_mode mode, struct pb_reference *ref, struct pb_acc_sums *sums,
		  char *err, size_t len)
{
	float *logits = malloc((size_t)TF_CHUNK * (size_t)vocab * sizeof *logits);
	unsigned char *mark = calloc((size_t)vocab, 1);
	long row = 0;
	int rc = 0;
	if (!logits || !mark) {
		rc = pb_errf(err, len, -ENOMEM, "scoring: out of memory");
		goto out;
	}
	for (int i = 0; i < set->n; i++) {
		const struct pb_tf_seq *q = &set->v[i];
		if (q->n < 2 || q->score_from >= q->n - 1)
			continue;
		if (q->n_enc && (rc = pb_session_encode(s, q->enc, q->n_enc)) < 0) {
			rc = pb_errf(err, len, rc, "scoring: encoding sequence %d (%d tokens) failed: %s",
				     i, q->n_enc, strerror(-rc));
			goto out;
		}
		/* context rows that are not scored: one plain step fills the KV cache */
		if (q->score_from > 0 && (rc = pb_session_forward(s, q->tok, q->score_from, 0, logits)) < 0) {
			rc = pb_errf(err, len, rc, "scoring: sequence %d: context of %d tokens failed: %s",
				     i, q->score_from, strerror(-rc));
			goto out;
		}
		for (int off = q->score_from; off < q->n - 1; off += TF_CHUNK) {
			int cnt = q->n - 1 - off < TF_CHUNK ? q->n - 1 - off : TF_CHUNK;
			if ((rc = pb_session_forward_all(s, q->tok + off, cnt, off, logits)) < 0) {
				rc = pb_errf(err, len, rc, "scoring: sequence %d: rows %d..%d failed: %s",
					     i, off, off + cnt - 1, strerror(-rc));
				goto out;
			}
			for (int r = 0; r < cnt; r++, row++) {
				const float *x = logits + (size_t)r * (size_t)vocab;
				int32_t target = q->tok[off + r + 1];
				double lse = pb_logsumexp(x, vocab);
				const int k = ref ? ref->k : 0;
				if (row >= set->n_rows || target < 0 || target >= vocab) {
					rc = pb_errf(err, len, -EINVAL, "scoring: sequence %d: bad row or token", i);
					goto out;
				}
				if (mode == TF_DENSE) {
					size_t o = (size_t)row * (size_t)k;
					rc = pb_topk(x, vocab, k, ref->ids + o, ref->logp + o,
						     &ref->tail_logp[row], mark);
					if (rc < 0)
						goto out;
					ref->target_logp[row] = x[target] - lse;
					continue;
				}
				sums->nll += lse - x[target];
				sums->n_nll++;
				if (!ref)
					continue;
				size_t o = (size_t)row * (size_t)k;
				/* top-1 agreement over real tokens (padding ids masked) */
				sums->agree += pb_argmax(x, live) == ref_top1(ref->ids + o, k, live);
				sums->kl += pb_kl_topk(ref->ids + o, ref->logp + o, k, ref->tail_logp[row],
						       x, vocab, lse, mark);
				sums->n_cmp++;
			}
		}
	}
	if (row != set->n_rows)
		rc = pb_errf(err, len, -EINVAL, "scoring: %ld rows scored, %ld expected", row, set->n_rows);
out:
	free(logits);
	free(mark);
	return rc;
}

int pb_tf_score(struct pb_session *s, int vocab, int live, const struct pb_tf_set *set,
		const struct pb_reference *ref, struct pb_acc_sums *sums,
		char *err, size_t len)
{
	if (live < 1 || live > vocab)
		live = vocab;
	if (ref && (ref->vocab != vocab || ref->set.n_rows != set->n_rows))
		return pb_errf(err, len, -EINVAL, "scoring: the reference does not match the cell "
			       "(vocab %d vs %d, rows %ld vs %ld)", ref->vocab, vocab,
			       ref->set.n_rows, set->n_rows);
	return tf_run(s, vocab, live, set, TF_SCORE, (struct pb_reference *)ref, sums, err, len);
}

/* Encoder-decoder without references: decoder_start + the dense greedy
 * output (stopping after EOS), at most max_new tokens. */
static int greedy_fill(struct pb_session *s, const struct pb_model *m, struct pb_tf_seq *q,
		       int max_new, float *logits)
{
	/* greedy over real tokens only (padding ids masked) */
	const int vocab = pb_model_live_vocab(m, NULL), ctx = m->hp.ctx;
	if (max_new > ctx - 1)
		max_new = ctx - 1;
	q->tok = malloc((size_t)(max_new + 1) * sizeof *q->tok);
	if (!q->tok)
		return -ENOMEM;
	q->tok[0] = m->hp.decoder_start_id;
	q->n = 1;
	int rc = pb_session_encode(s, q->enc, q->n_enc);
	while (rc == 0 && q->n <= max_new) {
		if ((rc = pb_session_forward(s, &q->tok[q->n - 1], 1, q->n - 1, logits)) < 0)
			break;
		q->tok[q->n] = pb_argmax(logits, vocab);
		if (q->tok[q->n++] == m->hp.eos_id)
			break;
	}
	return rc;
}

int pb_reference_compute(struct pb_session *dense, const struct pb_model *m,
			 struct pb_tf_set *set, int max_new, struct pb_reference **out,
			 char *err, size_t len)
{
	const int vocab = m->hp.vocab;
	struct pb_reference *r = calloc(1, sizeof *r);
	float *logits = malloc((size_t)vocab * sizeof *logits);
	int rc = 0;

	*out = NULL;
	if (!r || !logits) {
		rc = pb_errf(err, len, -ENOMEM, "reference: out of memory");
		goto fail;
	}
	r->set = *set;
	memset(set, 0, sizeof *set);
	r->vocab = vocab;
	r->k = pb_reference_topk(vocab);
	r->set.n_rows = 0;
	for (int i = 0; i < r->set.n; i++) {
		struct pb_tf_seq *q = &r->set.v[i];
		if (!q->tok && (rc = greedy_fill(dense, m, q, max_new, logits)) < 0) {
			rc = pb_errf(err, len, rc, "reference: greedy output of sample %d failed: %s",
				     q->sample, strerror(-rc));
			goto fail;
		}
		if (q->n > 1 && q->score_from < q->n - 1)
			r->set.n_rows += q->n - 1 - q->score_from;
	}
	size_t rows = (size_t)(r->set.n_rows ? r->set.n_rows : 1);
	r->ids = malloc(rows * (size_t)r->k * sizeof *r->ids);
	r->logp = malloc(rows * (size_t)r->k * sizeof *r->logp);
	r->tail_logp = malloc(rows * sizeof *r->tail_logp);
	r->target_logp = malloc(rows * sizeof *r->target_logp);
	if (!r->ids || !r->logp || !r->tail_logp || !r->target_logp) {
		rc = pb_errf(err, len, -ENOMEM, "reference: out of memory for %ld rows", r->set.n_rows);
		goto fail;
	}
	if ((rc = tf_run(dense, vocab, vocab, &r->set, TF_DENSE, r, NULL, err, len)) < 0)
		goto fail;
	free(logits);
	*out = r;
	return 0;
fail:
	free(logits);
	pb_reference_free(r);
	return rc;
}

/* core/run/generate.c — one request: tokenize, prefill (or, for an
 * encoder-decoder, encode and start the decoder), greedy decode, stamping
 * every output token on CLOCK_MONOTONIC (definitions in DESIGN.md,
 * "Metrics"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/accuracy.h"
#include "model/modelio.h"
#include "run/generate.h"
#include "run/sampler.h"
#include "util/util.h"

static void phase(const struct pb_gen_request *req, int p)
{
	if (req->on_phase)
		req->on_phase(req->ctx, p);
}

/* Append a token's text to the growing result text.  A padding id (past
 * the tokenizer, inside the model's vocab) is no token: nothing. */
int pb_gen_append_text(const struct pb_model *m, const struct pb_tokenizer *tok, int32_t id,
		       char **text, size_t *cap)
{
	if (id >= pb_tokenizer_vocab(tok) && id < m->hp.vocab)
		return 0;
	for (;;) {
		int rc = pb_detokenize(tok, id, *text, *cap);
		if (rc != -ENOSPC)
			return rc < 0 ? rc : 0;
		char *p = realloc(*text, *cap * 2);
		if (!p)
			return -ENOMEM;
		*text = p;
		*cap *= 2;
	}
}

/* Cut the prompt to fit; returns the first token to run, n updated.
 * Decoder-only: keep the newest tokens (and a leading BOS) so that the
 * prompt and the output fit the context.  Encoder-decoder: the source has
 * the whole context to itself and, as Hugging Face tokenizers truncate,
 * keeps its start and the final EOS. */
static int32_t *truncate_prompt(const struct pb_model *m, const struct pb_gen_request *req,
				int seq2seq, int max_new, int32_t *prompt, int *n, int *truncated)
{
	const int ctx = m->hp.ctx;
	if (seq2seq) {
		if (*n > ctx) {
			prompt[ctx - 1] = prompt[*n - 1];
			*n = ctx;
			*truncated = 1;
		}
		return prompt;
	}
	int budget = ctx - max_new > 1 ? ctx - max_new : 1;
	if (*n <= budget)
		return prompt;
	int keep_bos = (req->add_bos || req->prompt_ids) && budget > 1 && prompt[0] == m->hp.bos_id;
	int drop = *n - budget;
	*n = budget;
	*truncated = 1;
	if (!keep_bos)
		return prompt + drop;
	memmove(prompt + 1, prompt + 1 + drop, (size_t)(budget - 1) * sizeof *prompt);
	return prompt;
}

/* The first output token.  Decoder-only: the prefill of the prompt.
 * Encoder-decoder: the encoder over the prompt (encode_ms, which is also
 * its prefill_ms: the phase that reads the prompt), then the decoder's
 * first step from hp.decoder_start_id; TTFT covers both. */
static int first_token(struct pb_session *s, const struct pb_model *m, int seq2seq,
		       const int32_t *p, int n, float *logits, double t0,
		       struct pb_gen_result *out, char *err, size_t len)
{
	int rc;
	if (seq2seq) {
		const int32_t start = m->hp.decoder_start_id;
		if ((rc = pb_session_encode(s, p, n)) < 0)
			return pb_errf(err, len, rc, "generate: encoding %d tokens failed: %s", n,
				    strerror(-rc));
		out->encode_ms = out->prefill_ms = pb_now_ms() - t0;
		if ((rc = pb_session_forward(s, &start, 1, 0, logits)) < 0)
			return pb_errf(err, len, rc, "generate: first decoder step failed: %s",
				    strerror(-rc));
	} else if ((rc = pb_session_forward(s, p, n, 0, logits)) < 0) {
		return pb_errf(err, len, rc, "generate: prefill of %d tokens failed: %s", n,
			    strerror(-rc));
	}
	return 0;
}

int pb_generate(struct pb_session *s, const struct pb_model *m,
		const struct pb_tokenizer *tok, const struct pb_gen_request *req,
		struct pb_gen_result *out, char *err, size_t len)
{
	const int ctx = m->hp.ctx, vocab = m->hp.vocab;
	/* greedy over real tokens only: padding logits are never chosen */
	const int live = pb_model_live_vocab(m, tok);
	const int seq2seq = pb_session_is_seq2seq(s);
	/* T5 has no BOS; its tokenizer appends EOS to every source */
	const int add_bos = seq2seq ? 0 : req->add_bos;
	const int add_eos = seq2seq && m->hp.eos_id >= 0;
	int32_t *prompt = NULL;
	float *logits = NULL;
	size_t cap = 256;
	int rc;

	memset(out, 0, sizeof *out);
	if ((!req->prompt && !req->prompt_ids) || req->max_new_tokens < 1 || vocab < 1 || ctx < 1) {
		snprintf(err, len, "generate: need a prompt and max_new_tokens >= 1");
		return -EINVAL;
	}
	int n = req->prompt_ids ? req->n_prompt_ids : pb_tokenize(tok, req->prompt, add_bos, NULL, 0);
	if (n < 0 || n == INT32_MAX) {
		snprintf(err, len, "generate: cannot tokenize the prompt: %s",
			 strerror(n < 0 ? -n : EOVERFLOW));
		return n < 0 ? n : -EOVERFLOW;
	}
	prompt = malloc((size_t)(n + 1) * sizeof *prompt);
	logits = malloc((size_t)vocab * sizeof *logits);
	out->text = malloc(cap);
	int max_new = req->max_new_tokens < ctx ? req->max_new_tokens : ctx;
	out->tokens = malloc((size_t)max_new * sizeof *out->tokens);
	out->token_ms = malloc((size_t)max_new * sizeof *out->token_ms);
	if (!prompt || !logits || !out->text || !out->tokens || !out->token_ms) {
		rc = -ENOMEM;
		snprintf(err, len, "generate: out of memory");
		goto fail;
	}
	out->text[0] = '\0';
	if (req->prompt_ids) {
		memcpy(prompt, req->prompt_ids, (size_t)n * sizeof *prompt);
	} else {
		pb_tokenize(tok, req->prompt, add_bos, prompt, n);
		if (add_eos)
			prompt[n++] = m->hp.eos_id;
	}
	if (n == 0) {
		rc = -EINVAL;
		snprintf(err, len, "generate: the prompt is empty (and no BOS token was asked for)");
		goto fail;
	}
	int32_t *p = truncate_prompt(m, req, seq2seq, max_new, prompt, &n, &out->truncated);
	out->n_prompt = n;
	/* fed positions: decoder-only n + n_out - 1 <= ctx; encoder-decoder
	 * the start token and n_out - 1 outputs, n_out <= ctx */
	if (!seq2seq && max_new > ctx - n + 1)
		max_new = ctx - n + 1;

	/* device clock, where the backend has one (read after each step's
	 * logits, so it adds no wait) */
	double dev0 = 0, dev1 = 0, dev2 = 0;
	const int timed = pb_session_device_ms(s, &dev0) == 0;
	out->gpu_prefill_ms = out->gpu_decode_ms = NAN;
	/* the phase boundary first: it reads every probe (procstat: a dozen
	 * /proc files), instrument overhead that is no part of the request's
	 * TTFT */
	phase(req, PB_PHASE_PREFILL);
	const double t0 = pb_now_ms();
	if ((rc = first_token(s, m, seq2seq, p, n, logits, t0, out, err, len)) < 0)
		goto fail;
	if (timed && pb_session_device_ms(s, &dev1) == 0)
		out->gpu_prefill_ms = dev1 - dev0;
	int32_t tokv = pb_argmax(logits, live);
	double now = pb_now_ms();
	out->ttft_ms = now - t0;
	if (!seq2seq)
		out->prefill_ms = out->ttft_ms;
	out->tokens[0] = tokv;
	out->token_ms[0] = now - t0;
	out->n_out = 1;
	int stop = req->on_token && req->on_token(req->ctx, tokv, 0);
	phase(req, PB_PHASE_DECODE);
	while (!stop && out->n_out < max_new && !(req->stop_at_eos && tokv == m->hp.eos_id)) {
		int pos = seq2seq ? out->n_out : n + out->n_out - 1;
		rc = pb_session_forward(s, &tokv, 1, pos, logits);
		if (rc < 0) {
			snprintf(err, len, "generate: decode step %d failed: %s", out->n_out, strerror(-rc));
			goto fail;
		}
		tokv = pb_argmax(logits, live);
		out->tokens[out->n_out] = tokv;
		out->token_ms[out->n_out] = pb_now_ms() - t0;
		out->n_out++;
		stop = req->on_token && req->on_token(req->ctx, tokv, out->n_out - 1);
	}
	out->e2e_ms = out->token_ms[out->n_out - 1];
	if (timed && out->n_out > 1 && pb_session_device_ms(s, &dev2) == 0)
		out->gpu_decode_ms = (dev2 - dev1) / (out->n_out - 1);
	for (int i = 0; i < out->n_out; i++)
		if ((rc = pb_gen_append_text(m, tok, out->tokens[i], &out->text, &cap)) < 0) {
			snprintf(err, len, "generate: model '%s': cannot detokenize output token %d, "
				 "id %d (the tokenizer has %d tokens, the model's vocab %d): %s",
				 m->name, i, out->tokens[i], pb_tokenizer_vocab(tok), vocab,
				 strerror(-rc));
			goto fail;
		}
	free(prompt);
	free(logits);
	return 0;
fail:
	free(prompt);
	free(logits);
	pb_gen_result_free(out);
	return rc;
}

void pb_gen_result_free(struct pb_gen_result *r)
{
	if (!r)
		return;
	free(r->tokens);
	free(r->token_ms);
	free(r->text);
	memset(r, 0, sizeof *r);
}

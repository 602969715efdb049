/* core/run/generate.c — one request: tokenize, prefill, greedy decode,
 * stamping every output token on CLOCK_MONOTONIC (definitions in
 * DESIGN.md, "Metrics"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/generate.h"
#include "run/sampler.h"
#include "util/util.h"

/* Greedy choice: the largest logit, the lowest index on ties. */
static int32_t argmax(const float *x, int n)
{
	int32_t best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

static void phase(const struct pb_gen_request *req, int p)
{
	if (req->on_phase)
		req->on_phase(req->ctx, p);
}

/* Append a token's text to the growing result text. */
static int append_text(const struct pb_tokenizer *tok, int32_t id, char **text, size_t *cap)
{
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

int pb_generate(struct pb_session *s, const struct pb_model *m,
		const struct pb_tokenizer *tok, const struct pb_gen_request *req,
		struct pb_gen_result *out, char *err, size_t len)
{
	const int ctx = m->hp.ctx, vocab = m->hp.vocab;
	int32_t *prompt = NULL;
	float *logits = NULL;
	size_t cap = 256;
	int rc;

	memset(out, 0, sizeof *out);
	if (!req->prompt || req->max_new_tokens < 1 || vocab < 1 || ctx < 1) {
		snprintf(err, len, "generate: need a prompt and max_new_tokens >= 1");
		return -EINVAL;
	}
	int n = pb_tokenize(tok, req->prompt, req->add_bos, NULL, 0);
	if (n < 0) {
		snprintf(err, len, "generate: cannot tokenize the prompt: %s", strerror(-n));
		return n;
	}
	prompt = malloc((size_t)(n ? n : 1) * sizeof *prompt);
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
	pb_tokenize(tok, req->prompt, req->add_bos, prompt, n);
	if (n == 0) {
		rc = -EINVAL;
		snprintf(err, len, "generate: the prompt is empty (and no BOS token was asked for)");
		goto fail;
	}
	/* keep the newest tokens (and a leading BOS) so that the prompt and
	 * the output fit the context */
	int budget = ctx - max_new > 1 ? ctx - max_new : 1;
	int32_t *p = prompt;
	if (n > budget) {
		int keep_bos = req->add_bos && budget > 1 && prompt[0] == m->hp.bos_id;
		int drop = n - budget;
		if (keep_bos)
			memmove(prompt + 1, prompt + 1 + drop, (size_t)(budget - 1) * sizeof *prompt);
		else
			p = prompt + drop;
		n = budget;
		out->truncated = 1;
	}
	out->n_prompt = n;
	/* fed positions are n + n_out - 1 <= ctx */
	if (max_new > ctx - n + 1)
		max_new = ctx - n + 1;

	const double t0 = pb_now_ms();
	phase(req, PB_PHASE_PREFILL);
	rc = pb_session_forward(s, p, n, 0, logits);
	if (rc < 0) {
		snprintf(err, len, "generate: prefill of %d tokens failed: %s", n, strerror(-rc));
		goto fail;
	}
	int32_t tokv = argmax(logits, vocab);
	double now = pb_now_ms();
	out->prefill_ms = out->ttft_ms = now - t0;
	out->tokens[0] = tokv;
	out->token_ms[0] = now - t0;
	out->n_out = 1;
	phase(req, PB_PHASE_DECODE);
	while (out->n_out < max_new && !(req->stop_at_eos && tokv == m->hp.eos_id)) {
		rc = pb_session_forward(s, &tokv, 1, n + out->n_out - 1, logits);
		if (rc < 0) {
			snprintf(err, len, "generate: decode step %d failed: %s", out->n_out, strerror(-rc));
			goto fail;
		}
		tokv = argmax(logits, vocab);
		out->tokens[out->n_out] = tokv;
		out->token_ms[out->n_out] = pb_now_ms() - t0;
		out->n_out++;
	}
	out->e2e_ms = out->token_ms[out->n_out - 1];
	for (int i = 0; i < out->n_out; i++)
		if ((rc = append_text(tok, out->tokens[i], &out->text, &cap)) < 0) {
			snprintf(err, len, "generate: cannot detokenize: %s", strerror(-rc));
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

/* core/run/generate.h — one request: tokenize, prefill, greedy decode, with
 * a CLOCK_MONOTONIC stamp for every output token.
 *
 * Encoder-decoder models: the prompt goes through the encoder, the decoder
 * starts from hp.decoder_start_id, and TTFT = encode + first decoder step.
 *
 * Timing definitions (DESIGN.md): the request starts when the prompt
 * tokens are ready (after tokenization); TTFT ends when the first output
 * token is chosen (argmax of the prefill's last logits); each later token
 * adds one inter-token gap.
 */
#ifndef PB_GENERATE_H
#define PB_GENERATE_H

#include <stdint.h>

#include "arch/arch.h"
#include "text/text.h"

struct pb_gen_request {
	const char *prompt;
	int max_new_tokens;
	int stop_at_eos;      /* stop after the model's EOS token (it is counted) */
	int add_bos;
	/* optional: called at the prefill and decode boundaries with
	 * enum pb_phase values (PB_PHASE_PREFILL, PB_PHASE_DECODE) */
	void (*on_phase)(void *ctx, int phase);
	void *ctx;
	/* optional (appended for `serve`): the prompt as token ids, used as
	 * given (BOS/EOS already in place, prompt and add_bos ignored) */
	const int32_t *prompt_ids;
	int n_prompt_ids;
	/* optional: called with each output token once it is chosen and
	 * stamped (i counts from 0); nonzero ends generation after it, as EOS
	 * would (the token is counted).  Runs inside the timed loop: what it
	 * costs shows in the next token's gap. */
	int (*on_token)(void *ctx, int32_t id, int i);
};

struct pb_gen_result {
	int n_prompt;         /* prompt tokens actually run (after truncation) */
	int truncated;        /* prompt was cut to fit the context */
	int n_out;
	int32_t *tokens;      /* n_out output tokens, malloc'd */
	double *token_ms;     /* n_out stamps, ms since request start */
	double ttft_ms, e2e_ms, prefill_ms;
	double encode_ms;     /* encoder-decoder: the encoder pass (part of TTFT); else 0 */
	/* device-side time (the backend's GPU timestamps), NAN when it
	 * cannot time: the steps up to the first token, and the mean of one
	 * decode step (the device's share of TTFT and TPOT) */
	double gpu_prefill_ms, gpu_decode_ms;
	char *text;           /* detokenized output, malloc'd */
};

/* Decoder-only: the prompt is truncated from the left to ctx - max_new_tokens
 * tokens.  Encoder-decoder: it keeps its start and its final EOS (as Hugging
 * Face truncation does) to fit the encoder context. */
int pb_generate(struct pb_session *s, const struct pb_model *m,
		const struct pb_tokenizer *tok, const struct pb_gen_request *req,
		struct pb_gen_result *out, char *err, size_t len);
void pb_gen_result_free(struct pb_gen_result *r);

/* Append the text of output token id to *text (malloc'd, NUL-terminated,
 * *cap bytes; grown as needed), as pb_generate builds its result text:
 * so text appended token by token equals pb_gen_result.text. */
int pb_gen_append_text(const struct pb_model *m, const struct pb_tokenizer *tok, int32_t id,
		       char **text, size_t *cap);

#endif

/* core/arch/arch.h — architectures as op lists, and a session that runs
 * them on a backend.
 *
 * A session owns the activation buffers and KV cache it asked the backend
 * for, sized from the model's tensors (the widest layer) and its context.
 * pb_session_forward runs one step: n tokens at positions pos0.. (a prefill
 * when n > 1, a decode step when n == 1) and reads back the logits of the
 * last token, the only host synchronisation.
 */
#ifndef PB_ARCH_H
#define PB_ARCH_H

#include <prunebench/plugin.h>

struct pb_session;

/* The backend must already hold m's weights (weights_load); the session
 * asks it for buffers (buffers_alloc) and only then runs steps.  A block
 * whose attention (or FFN) tensors are all absent is skipped, as after
 * layer pruning; a block with only some of them is an error. */
int pb_session_open(const struct pb_model *m, const struct pb_backend_ops *ops,
		    void *backend_state, struct pb_session **out, char *err, size_t len);
void pb_session_close(struct pb_session *s);

/* logits: hp.vocab floats.  0 or -errno (bad sizes: -EINVAL).  The KV
 * cache keeps rows 0..pos0-1 from earlier steps: start a new request at
 * pos0 = 0. */
int pb_session_forward(struct pb_session *s, const int32_t *tokens, int n, int pos0,
		       float *logits);

/* Encoder-decoder models (T5): run the encoder over the source tokens
 * (1 <= n <= hp.ctx), compute every decoder layer's cross-attention K/V
 * once, and reset the decoder (its positions restart at 0).  Returns
 * once the encoder has finished on the device (so it can be timed).
 * -ENOTSUP for decoder-only.  pb_session_forward, _forward_all and
 * _graph then run decoder steps against that source; before the first
 * encode they fail with -EINVAL (NULL). */
int pb_session_encode(struct pb_session *s, const int32_t *tokens, int n);
int pb_session_is_seq2seq(const struct pb_session *s);

/* The backend's device-side time of every step so far, in ms (its
 * device_ms hook: GPU timestamps); -ENOTSUP when it cannot time. */
int pb_session_device_ms(const struct pb_session *s, double *total_ms);

/* Like pb_session_forward, but the logits of every row: n × hp.vocab
 * floats (teacher-forced scoring: perplexity, agreement, KL). */
int pb_session_forward_all(struct pb_session *s, const int32_t *tokens, int n, int pos0,
			   float *logits);

/* The op list for one step, for tests and for backends' conformance
 * tests; valid until the next call on s.  For T5 it also writes the
 * step's relative-position bias into its buffer, so computing the
 * returned graph is the step. */
const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0);

/* ---- one block at a time (calibration: core/run/calib.c) ---- */

/* Blocks of a stack (a decoder-only model has only the decoder), or
 * -EINVAL. */
int pb_session_blocks(const struct pb_session *s, enum pb_stack stack);

/* The token embedding of n tokens (1 <= n <= hp.ctx) into x (n × hp.dim
 * floats): the input of block 0 of either stack. */
int pb_session_embed(struct pb_session *s, const int32_t *tokens, int n, float *x);

/* A tap sees the input of a group of linears that read the same rows
 * (q/k/v, gate/up; any other linear alone): their tensor indices and the
 * n × n_in input floats, borrowed for the call.  A negative return stops
 * the block and is returned. */
typedef int (*pb_session_tap)(void *ctx, const int *tensors, int n_tensors, const float *x,
			      int n, int64_t n_in);

/* Run block `layer` of `stack` over n rows of hidden states x (n ×
 * hp.dim, positions 0..n-1) in place, x becoming the block's output, with
 * the weights as they are now (the backend must hold them: weights_load).
 * tap (may be NULL) gets every linear's input, in the block's order.  A
 * T5 decoder block attends to the source of the last pb_session_encode;
 * the cross K/V linears ran there (pb_session_encoder_out gives their
 * input).  Needs the backend's buffer_write (-ENOTSUP).  Overwrites the
 * KV cache of that layer: start requests afresh afterwards. */
int pb_session_block(struct pb_session *s, enum pb_stack stack, int layer, float *x, int n,
		     pb_session_tap tap, void *ctx);

/* T5, right after pb_session_encode (before any other step or block):
 * the normed final encoder states, n_src × hp.dim floats, which every
 * decoder cross-attention K and V linear reads.  n_src, or -EINVAL when
 * nothing was encoded or something ran since; -ENOTSUP for decoder-only. */
int pb_session_encoder_out(struct pb_session *s, float *out);

/* Buffer layout, for tests: buffer PB_SESSION_LOGITS holds the logits
 * (up to 16 rows of hp.vocab; forward_all reads longer inputs in chunks).
 * T5 adds, after the decoder's self-attention caches, each decoder
 * layer's cross-attention K and V (KV0 + 2 n_layers + 2l, + 1; written by
 * pb_session_encode), then one relative-position bias buffer per distinct
 * PB_ROLE_ATTN_REL_BIAS tensor (encoder's first), written with
 * buffer_write before each step (ops.h gives its layout). */
enum {
	PB_SESSION_X = 0, PB_SESSION_XN, PB_SESSION_Q, PB_SESSION_K, PB_SESSION_V,
	PB_SESSION_ATT, PB_SESSION_GATE, PB_SESSION_UP, PB_SESSION_LOGITS,
	PB_SESSION_KV0,   /* then K and V cache of each layer: KV0 + 2l, KV0 + 2l + 1 */
};

/* T5's relative-position bucket of a key at relative position rel = key
 * position - query position, exactly as HF T5Attention's
 * _relative_position_bucket: bidirectional (encoder) gives n_buckets/2 to
 * each direction (keys after the query in the upper half); causal
 * (decoder) buckets only the past.  Distances below max_exact (half of a
 * direction's buckets) get their own bucket; beyond, buckets are
 * log-spaced up to max_distance, where the last bucket takes the rest. */
int pb_t5_bucket(int rel, int bidirectional, int n_buckets, int max_distance);

#endif

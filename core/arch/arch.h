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

/* Encoder-decoder models (T5): run the encoder over the source tokens,
 * compute every decoder layer's cross-attention K/V once, and reset the
 * decoder (its positions restart at 0).  -ENOTSUP for decoder-only. */
int pb_session_encode(struct pb_session *s, const int32_t *tokens, int n);
int pb_session_is_seq2seq(const struct pb_session *s);

/* Like pb_session_forward, but the logits of every row: n × hp.vocab
 * floats (teacher-forced scoring: perplexity, agreement, KL). */
int pb_session_forward_all(struct pb_session *s, const int32_t *tokens, int n, int pos0,
			   float *logits);

/* The op list for one step, for tests and for backends' conformance
 * tests; valid until the next call on s. */
const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0);

/* Buffer layout, for tests: buffer PB_SESSION_LOGITS holds the logits. */
enum {
	PB_SESSION_X = 0, PB_SESSION_XN, PB_SESSION_Q, PB_SESSION_K, PB_SESSION_V,
	PB_SESSION_ATT, PB_SESSION_GATE, PB_SESSION_UP, PB_SESSION_LOGITS,
	PB_SESSION_KV0,   /* then K and V cache of each layer: KV0 + 2l, KV0 + 2l + 1 */
};

#endif

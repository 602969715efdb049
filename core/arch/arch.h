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

int pb_session_open(const struct pb_model *m, const struct pb_backend_ops *ops,
		    void *backend_state, struct pb_session **out, char *err, size_t len);
void pb_session_close(struct pb_session *s);

/* logits: hp.vocab floats.  0 or -errno (bad sizes: -EINVAL). */
int pb_session_forward(struct pb_session *s, const int32_t *tokens, int n, int pos0,
		       float *logits);

/* The op list for one step, for tests and for backends' conformance
 * tests; valid until the next call on s. */
const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0);

#endif

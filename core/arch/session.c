/* core/arch/session.c — the session every architecture shares: it asks
 * the backend for buffers sized from the model's tensors, builds one
 * step's op list through the architecture (llama.c, t5.c), appends the LM
 * head, runs it, and reads logits back.  The op emitters and block checks
 * the architectures share are in blocks.c, so each architecture file holds
 * only what makes its architecture different. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch-internal.h"
#include "util/util.h"

/* Rows of logits one head graph produces: forward_all reads n rows in
 * chunks of this many, so the LOGITS buffer stays small (2 MB at a 32k
 * vocabulary) whatever the context. */
#define LOGIT_ROWS 16

/* ---- the session ---- */

int pb_session_open(const struct pb_model *m, const struct pb_backend_ops *ops,
		    void *backend_state, struct pb_session **out, char *err, size_t len)
{
	const struct pb_hparams *hp = &m->hp;
	int rc;
	if (m->arch != PB_ARCH_LLAMA && m->arch != PB_ARCH_T5 && m->arch != PB_ARCH_QWEN2 &&
	    m->arch != PB_ARCH_QWEN3 && m->arch != PB_ARCH_GEMMA2 && m->arch != PB_ARCH_GEMMA3 &&
	    m->arch != PB_ARCH_PHI3)
		return pb_errf(err, len, -ENOTSUP, "%s: architecture %d is not supported by this build",
			       m->name, (int)m->arch);
	if (hp->dim < 1 || hp->head_dim < 1 || hp->vocab < 1 || hp->ctx < 1 || hp->n_layers < 0 ||
	    hp->n_enc_layers < 0 || hp->ctx > (1 << 20))
		return pb_errf(err, len, -EINVAL, "%s: inconsistent hyper-parameters", m->name);
	struct pb_session *s = calloc(1, sizeof *s);
	if (!s)
		return pb_errf(err, len, -ENOMEM, "%s: out of memory opening a session", m->name);
	if (err && len)
		err[0] = '\0';
	s->m = m;
	s->ops = ops;
	s->bs = backend_state;
	s->dim = hp->dim;
	s->head_dim = hp->head_dim;
	s->vocab = hp->vocab;
	s->ctx = hp->ctx;
	s->n_dec = hp->n_layers;
	s->logit_scale = hp->logit_scale != 0.0f ? hp->logit_scale : 1.0f;
	s->max_q = s->max_kv = s->max_ffn = 1;
	s->rope_freqs = -1;
	s->logit_rows = hp->ctx < LOGIT_ROWS ? hp->ctx : LOGIT_ROWS;
	if ((rc = pb_arch_buffers(s, PB_SESSION_KV0)) < 0)
		goto fail;
	rc = m->arch == PB_ARCH_T5 ? pb_t5_open(s, err, len) : pb_llama_open(s, err, len);
	if (rc < 0)
		goto fail;
	/* the LM head, whatever the architecture */
	if (s->embd < 0 || s->out_norm < 0 || s->output < 0 ||
	    !pb_arch_shaped(s, s->embd, hp->dim, hp->vocab) ||
	    !pb_arch_shaped(s, s->out_norm, hp->dim, 1) ||
	    !pb_arch_shaped(s, s->output, hp->dim, hp->vocab)) {
		rc = pb_errf(err, len, -EINVAL,
			  "%s: token_embd, output_norm and output (or the tied embedding) must be [%d × %d], [%d], [%d × %d]",
			  m->name, hp->dim, hp->vocab, hp->dim, hp->dim, hp->vocab);
		goto fail;
	}
	const int64_t ctx = hp->ctx;
	s->sizes[PB_SESSION_X] = s->sizes[PB_SESSION_XN] = ctx * hp->dim;
	s->sizes[PB_SESSION_Q] = s->sizes[PB_SESSION_ATT] = ctx * s->max_q;
	s->sizes[PB_SESSION_K] = s->sizes[PB_SESSION_V] = ctx * s->max_kv;
	s->sizes[PB_SESSION_GATE] = s->sizes[PB_SESSION_UP] = ctx * s->max_ffn;
	s->sizes[PB_SESSION_LOGITS] = (int64_t)s->logit_rows * hp->vocab;
	s->n_op_max += 4;   /* embed, and the head's norm, linear and soft cap */
	s->op = calloc((size_t)s->n_op_max, sizeof *s->op);
	if (!s->op) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ops->buffers_alloc(backend_state, s->sizes, s->n_buf);
	if (rc < 0) {
		pb_errf(err, len, rc, "%s: the backend cannot allocate activation buffers for %d positions: %s",
			m->name, hp->ctx, strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM && err && len && !err[0])
		pb_sayf(err, len, "%s: out of memory opening a session", m->name);
	pb_session_close(s);
	return rc;
}

void pb_session_close(struct pb_session *s)
{
	if (!s)
		return;
	free(s->dec);
	free(s->enc);
	free(s->sizes);
	free(s->bucket_bi);
	free(s->bucket_causal);
	free(s->bias_host);
	free(s->rel_host);
	free(s->op);
	free(s);
}

int pb_session_is_seq2seq(const struct pb_session *s)
{
	return s && s->seq2seq;
}

int pb_session_device_ms(const struct pb_session *s, double *total_ms)
{
	if (!s || !s->ops->device_ms)
		return -ENOTSUP;
	return s->ops->device_ms(s->bs, total_ms);
}

int pb_session_encode(struct pb_session *s, const int32_t *tokens, int n)
{
	if (!s)
		return -EINVAL;
	if (!s->seq2seq)
		return -ENOTSUP;
	return pb_t5_encode(s, tokens, n);
}

/* Logits of rows row0.. of X: the final norm (scaled, for T5's tied
 * head), the LM head and Gemma 2's soft cap. */
static void head(struct pb_session *s, int row0, int rows)
{
	const int64_t dim = s->dim;
	struct pb_act xn = pb_arch_act(PB_SESSION_XN, 0, dim);
	pb_arch_rmsnorm(s, rows, s->out_norm, xn, pb_arch_act(PB_SESSION_X, row0 * dim, dim));
	if (s->logit_scale != 1.0f)
		s->op[s->g.n_ops - 1].p.rmsnorm.scale = s->logit_scale;
	pb_arch_linear(s, rows, s->output, pb_arch_act(PB_SESSION_LOGITS, 0, s->vocab), xn);
	if (s->final_softcap > 0) {
		const struct pb_act l = pb_arch_act(PB_SESSION_LOGITS, 0, s->vocab);
		struct pb_op *op = pb_arch_emit(s, PB_OP_ACT, rows, -1, l, l, pb_arch_none);
		op->p.act.width = s->vocab;
		op->p.act.fn = PB_ACT_SOFTCAP;
		op->p.act.cap = s->final_softcap;
	}
}

/* The body of one step (embedding and every block; for T5 the decoder,
 * after writing its position bias), without the head; 0 or -errno. */
static int body(struct pb_session *s, const int32_t *tokens, int n, int pos0)
{
	if (!s || !tokens || n < 1 || pos0 < 0 || n > s->ctx || pos0 > s->ctx - n)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return -EINVAL;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	s->n_steps++;
	if (s->seq2seq)
		return pb_t5_body(s, n, pos0);
	pb_llama_body(s, n, pos0);
	return 0;
}

const struct pb_graph *pb_session_graph(struct pb_session *s, const int32_t *tokens,
					int n, int pos0)
{
	if (body(s, tokens, n, pos0) < 0)
		return NULL;
	/* logits of the last position only: that is all greedy decoding needs */
	head(s, n - 1, 1);
	return &s->g;
}

int pb_session_forward(struct pb_session *s, const int32_t *tokens, int n, int pos0,
		       float *logits)
{
	const struct pb_graph *g = pb_session_graph(s, tokens, n, pos0);
	if (!g)
		return -EINVAL;
	int rc = s->ops->graph_compute(s->bs, g);
	if (rc < 0)
		return rc;
	return s->ops->buffer_read(s->bs, PB_SESSION_LOGITS, 0, s->vocab, logits);
}

int pb_session_forward_all(struct pb_session *s, const int32_t *tokens, int n, int pos0,
			   float *logits)
{
	int rc = body(s, tokens, n, pos0);
	if (rc < 0 || !logits)
		return rc < 0 ? rc : -EINVAL;
	/* the first chunk of rows rides on the body's graph; later chunks
	 * are head-only graphs over the hidden states the body left in X */
	for (int r0 = 0; r0 < n; r0 += s->logit_rows) {
		int rows = n - r0 < s->logit_rows ? n - r0 : s->logit_rows;
		if (r0)
			s->g.n_ops = 0;
		head(s, r0, rows);
		if ((rc = s->ops->graph_compute(s->bs, &s->g)) < 0)
			return rc;
		rc = s->ops->buffer_read(s->bs, PB_SESSION_LOGITS, 0, (int64_t)rows * s->vocab,
					 logits + (size_t)r0 * (size_t)s->vocab);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- blocks one at a time (calibration) ---- */

int pb_session_blocks(const struct pb_session *s, enum pb_stack stack)
{
	if (!s)
		return -EINVAL;
	if (stack == PB_STACK_DECODER)
		return s->n_dec;
	return stack == PB_STACK_ENCODER && s->seq2seq ? s->n_enc : -EINVAL;
}

int pb_session_embed(struct pb_session *s, const int32_t *tokens, int n, float *x)
{
	if (!s || !tokens || !x || n < 1 || n > s->ctx)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= s->vocab)
			return -EINVAL;
	s->g = (struct pb_graph){ .ops = s->op, .tokens = tokens, .n_tokens = n };
	s->n_steps++;
	pb_arch_embed(s, n);
	int rc = s->ops->graph_compute(s->bs, &s->g);
	if (rc < 0)
		return rc;
	return s->ops->buffer_read(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x);
}

int pb_session_encoder_out(struct pb_session *s, float *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!s->seq2seq)
		return -ENOTSUP;
	return pb_t5_encoder_out(s, out);
}

static int same_act(const struct pb_act *a, const struct pb_act *b)
{
	return a->buf == b->buf && a->off == b->off && a->stride == b->stride;
}

/* Read n rows of width w addressed by a into dst (rows packed). */
static int read_rows(struct pb_session *s, const struct pb_act *a, int n, int64_t w, float *dst)
{
	if (a->stride == w)
		return s->ops->buffer_read(s->bs, a->buf, a->off, (int64_t)n * w, dst);
	for (int t = 0; t < n; t++) {
		int rc = s->ops->buffer_read(s->bs, a->buf, a->off + t * a->stride, w, dst + t * w);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Compute ops [from, to) of the current graph. */
static int run_ops(struct pb_session *s, int from, int to)
{
	if (to <= from)
		return 0;
	struct pb_graph g = s->g;
	g.ops = s->op + from;
	g.n_ops = to - from;
	return s->ops->graph_compute(s->bs, &g);
}

int pb_session_block(struct pb_session *s, enum pb_stack stack, int layer, float *x, int n,
		     pb_session_tap tap, void *ctx)
{
	int nb = pb_session_blocks(s, stack), rc;
	float *in = NULL;
	if (nb < 0 || layer < 0 || layer >= nb || !x || n < 1 || n > s->ctx)
		return -EINVAL;
	if (!s->ops->buffer_write)
		return -ENOTSUP;
	if (s->seq2seq && stack == PB_STACK_DECODER && !s->n_src)
		return -EINVAL;   /* the cross-attention needs pb_session_encode first */
	if ((rc = s->ops->buffer_write(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x)) < 0)
		return rc;
	/* no embed op: the graph's tokens are never read */
	s->g = (struct pb_graph){ .ops = s->op, .tokens = NULL, .n_tokens = n };
	s->n_steps++;
	if (s->seq2seq)
		rc = pb_t5_block(s, stack, layer, n);
	else
		pb_llama_block(s, layer, n, 0);
	if (rc < 0)
		return rc;
	/* Cut the list before each run of consecutive linears that read one
	 * input (q/k/v, gate/up), read that input back and hand it to the tap:
	 * the buffers are reused within the block, so later is too late. */
	int from = 0;
	for (int i = 0; tap && i < s->g.n_ops;) {
		const struct pb_op *op = &s->op[i];
		if (op->type != PB_OP_LINEAR) {
			i++;
			continue;
		}
		int tensors[8], k = 0, j = i;
		const int64_t n_in = op->p.linear.n_in;
		while (j < s->g.n_ops && k < 8 && s->op[j].type == PB_OP_LINEAR &&
		       same_act(&s->op[j].src[0], &op->src[0]) && s->op[j].p.linear.n_in == n_in)
			tensors[k++] = s->op[j++].weight;
		/* inputs are dim, q or ffn wide: the widest of those */
		int64_t w = s->dim > s->max_q ? s->dim : s->max_q;
		w = w > s->max_ffn ? w : s->max_ffn;
		if (!in && !(in = malloc((size_t)n * (size_t)w * sizeof *in))) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = run_ops(s, from, i)) < 0 || (rc = read_rows(s, &op->src[0], n, n_in, in)) < 0 ||
		    (rc = tap(ctx, tensors, k, in, n, n_in)) < 0)
			goto out;
		from = i;
		i = j;
	}
	if ((rc = run_ops(s, from, s->g.n_ops)) < 0)
		goto out;
	rc = s->ops->buffer_read(s->bs, PB_SESSION_X, 0, (int64_t)n * s->dim, x);
out:
	free(in);
	return rc;
}

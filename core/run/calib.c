/* core/run/calib.c — the calibration handle a pruner gets (struct
 * pb_calib, prunebench/plugin.h): per-linear input statistics of one
 * block, gathered by running the calibration windows through the model
 * block by block on the `ref` backend, and ShortGPT's block influence.
 *
 * The engine keeps, per stack, the hidden states of every window at the
 * input of block `cur`.  Asking for block l >= cur first runs blocks
 * cur..l-1 with the weights as they are NOW, so the blocks a sequential
 * pruner has already edited feed the next one (Wanda's and SparseGPT's
 * scheme); asking for an earlier block starts again from the embeddings.
 * The asked block runs on a copy, so its output is recomputed with the
 * pruned weights when the pruner moves on.
 *
 * Before every gathering the backend is handed the model again (ref keeps
 * pointers into it) and a fresh session is opened on a view of it whose
 * context is the window length: a pruner may have reallocated tensors or
 * shrunk shapes since, and small buffers are cheaper.
 *
 * The forward passes dominate (ref is plain C), so windows run in
 * parallel, one backend instance per worker thread, in batches of as many
 * windows as there are workers.  Each worker records its window's linear
 * inputs; after the batch they are accumulated in window order, so the
 * sums are the same bits whatever the number of threads.  XᵀX (n_in² ×
 * tokens multiply-adds) takes each window's rows transposed to doubles and
 * updates the upper triangle with every thread, split into equal areas;
 * the lower triangle is mirrored once at the end of the gathering.
 * Linears reading the same input (q/k/v, gate/up, cross k/v) share one
 * set of statistics (calib-stats.c).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/modelio.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "run/calib-internal.h"
#include "util/util.h"

struct stack_state {
	float *h;           /* n_seq × seqlen × dim: input of block `cur` */
	int cur;            /* -1: not started */
};

struct engine;

/* One linear input a worker saw: the group's tensors and n × n_in floats
 * at `off` in the worker's data. */
struct rec {
	int tensors[8];
	int k, n;
	int64_t n_in;
	size_t off;
};

/* A backend instance and a session, running one window at a time. */
struct worker {
	struct engine *e;
	void *bstate;
	struct pb_session *sess;
	float *tmp, *prev, *src;       /* one window's rows */
	int seq, rc;                   /* this batch's window, its result */
	double *cos;                   /* block influence: this window's Σ cos per block */
	struct rec *recs;
	int n_recs, cap_recs;
	float *data;
	size_t data_len, data_cap;     /* in floats */
};

struct engine {
	struct pb_calib pub;
	struct pb_model *m;
	struct pb_model view;          /* m with hp.ctx = seqlen, refreshed per gathering */
	const struct pb_plugin *bp;
	const struct pb_backend_ops *bops;
	struct pb_host_ctx host;
	void *config;
	struct worker *w;
	int n_workers;
	int seq2seq, n_seq, seqlen, dim, n_threads;
	int32_t *enc_tok, *dec_tok;    /* windows; dec_tok: T5's decoder inputs */
	struct stack_state st[2];      /* by enum pb_stack */
	/* the job of a batch */
	enum pb_stack stack;
	int layer, n_layers, influence;
	unsigned want;
	struct pb_calib_set set;       /* the statistics of the last block_stats */
	double gather_ms;
	void (*on_gather)(void *ctx, int active);
	void *ctx;
};

static struct engine *engine_of(struct pb_calib *c)
{
	return c ? c->core : NULL;
}

/* A worker's tap: keep a copy of the input, accumulated after the batch. */
static int record(void *ctx, const int *tensors, int k, const float *x, int n, int64_t n_in)
{
	struct worker *w = ctx;
	const size_t need = (size_t)n * (size_t)n_in;
	if (k < 1 || k > 8)
		return -EINVAL;
	if (w->n_recs == w->cap_recs) {
		int cap = w->cap_recs ? 2 * w->cap_recs : 16;
		struct rec *p = realloc(w->recs, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		w->recs = p;
		w->cap_recs = cap;
	}
	if (w->data_len + need > w->data_cap) {
		size_t cap = 2 * (w->data_len + need);
		float *p = realloc(w->data, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		w->data = p;
		w->data_cap = cap;
	}
	struct rec *r = &w->recs[w->n_recs++];
	memcpy(r->tensors, tensors, (size_t)k * sizeof *tensors);
	r->k = k;
	r->n = n;
	r->n_in = n_in;
	r->off = w->data_len;
	memcpy(w->data + w->data_len, x, need * sizeof *x);
	w->data_len += need;
	return 0;
}

/* ---- running blocks --------------------------------------------------- */

static const char *stack_name(enum pb_stack s)
{
	return s == PB_STACK_ENCODER ? "encoder" : "decoder";
}

/* Hand the model as it is now to every backend instance and open their
 * sessions on it. */
static int refresh(struct engine *e)
{
	char err[512] = "";
	int rc;
	e->view = *e->m;
	e->view.hp.ctx = e->seqlen;
	/* Phi-3 rotates with its long factors when the run's context is past
	 * the original one: a shorter view must not switch to the short ones
	 * (its buffers stay no larger than the run's own) */
	const struct pb_arch_params *ap = pb_model_arch_params(e->m);
	if (e->m->arch == PB_ARCH_PHI3 && ap->rope_orig_ctx > 0 && e->m->hp.ctx > ap->rope_orig_ctx &&
	    e->seqlen <= ap->rope_orig_ctx)
		e->view.hp.ctx = ap->rope_orig_ctx + 1;
	for (int i = 0; i < e->n_workers; i++) {
		struct worker *w = &e->w[i];
		pb_session_close(w->sess);
		w->sess = NULL;
		if ((rc = e->bops->weights_load(w->bstate, &e->view)) < 0) {
			pb_log(PB_LOG_ERROR, "calibration: backend '%s' cannot take the model's weights as they are now: %s",
			       e->bp->name, strerror(-rc));
			return rc;
		}
		if ((rc = pb_session_open(&e->view, e->bops, w->bstate, &w->sess, err, sizeof err)) < 0) {
			pb_log(PB_LOG_ERROR, "calibration: %s", err);
			return rc;
		}
	}
	return 0;
}

static int check_stack(struct engine *e, enum pb_stack stack, const char *what)
{
	if (stack == PB_STACK_DECODER || (stack == PB_STACK_ENCODER && e->seq2seq))
		return 0;
	pb_log(PB_LOG_ERROR, "calibration: %s: %s has no %s stack", what, e->m->name,
	       stack == PB_STACK_ENCODER ? "encoder" : "such");
	return -EINVAL;
}

/* T5: encode window i (the decoder's cross-attention reads it); with
 * gather, record the input of the cross K/V linears of decoder block
 * `layer`. */
static int encode(struct worker *w, int i, int gather, int layer)
{
	struct engine *e = w->e;
	int rc = pb_session_encode(w->sess, e->enc_tok + (size_t)i * e->seqlen, e->seqlen);
	if (rc < 0 || !gather)
		return rc;
	const struct pb_tensor *ck = pb_model_find_in(&e->view, PB_STACK_DECODER, layer, PB_ROLE_CROSS_K);
	const struct pb_tensor *cv = pb_model_find_in(&e->view, PB_STACK_DECODER, layer, PB_ROLE_CROSS_V);
	if (!ck || !cv)
		return 0;
	int tensors[2] = { (int)(ck - e->view.tensors), (int)(cv - e->view.tensors) };
	if ((rc = pb_session_encoder_out(w->sess, w->src)) < 0)
		return rc;
	return record(w, tensors, 2, w->src, rc, e->dim);
}

/* The inputs of block 0 of a stack: the embedding of every window. */
static int restart(struct engine *e, enum pb_stack stack)
{
	const size_t L = (size_t)e->seqlen, D = (size_t)e->dim;
	const int32_t *tok = stack == PB_STACK_DECODER && e->seq2seq ? e->dec_tok : e->enc_tok;
	struct stack_state *st = &e->st[stack];
	for (int i = 0; i < e->n_seq; i++) {
		int rc = pb_session_embed(e->w[0].sess, tok + i * L, e->seqlen, st->h + i * L * D);
		if (rc < 0) {
			pb_log(PB_LOG_ERROR, "calibration: embedding window %d failed: %s", i, strerror(-rc));
			return rc;
		}
	}
	st->cur = 0;
	return 0;
}

/* block_stats for one window: advance it to block e->layer with the
 * weights as they are, then run that block on a copy, recording. */
static int stats_window(struct worker *w)
{
	struct engine *e = w->e;
	const size_t L = (size_t)e->seqlen, D = (size_t)e->dim;
	struct stack_state *st = &e->st[e->stack];
	float *x = st->h + (size_t)w->seq * L * D;
	int rc;
	if (e->seq2seq && e->stack == PB_STACK_DECODER &&
	    (rc = encode(w, w->seq, e->want != 0, e->layer)) < 0)
		return rc;
	for (int l = st->cur; l < e->layer; l++)
		if ((rc = pb_session_block(w->sess, e->stack, l, x, e->seqlen, NULL, NULL)) < 0)
			return rc;
	memcpy(w->tmp, x, L * D * sizeof *x);
	return pb_session_block(w->sess, e->stack, e->layer, w->tmp, e->seqlen,
				e->want ? record : NULL, w);
}

static double cosine(const float *a, const float *b, int64_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int64_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	if (aa == 0 || bb == 0)
		return aa == bb ? 1.0 : 0.0;   /* both zero: unchanged */
	return ab / sqrt(aa * bb);
}

/* block_influence for one window: Σ over its tokens of cos(in, out) of
 * each of the first n_layers blocks. */
static int influence_window(struct worker *w)
{
	struct engine *e = w->e;
	const size_t L = (size_t)e->seqlen, D = (size_t)e->dim;
	const int t5_dec = e->seq2seq && e->stack == PB_STACK_DECODER;
	const int32_t *tok = (t5_dec ? e->dec_tok : e->enc_tok) + (size_t)w->seq * L;
	int rc;
	if (t5_dec && (rc = encode(w, w->seq, 0, 0)) < 0)
		return rc;
	if ((rc = pb_session_embed(w->sess, tok, e->seqlen, w->tmp)) < 0)
		return rc;
	for (int l = 0; l < e->n_layers; l++) {
		memcpy(w->prev, w->tmp, L * D * sizeof *w->tmp);
		if ((rc = pb_session_block(w->sess, e->stack, l, w->tmp, e->seqlen, NULL, NULL)) < 0)
			return rc;
		w->cos[l] = 0;
		for (size_t t = 0; t < L; t++)
			w->cos[l] += cosine(w->prev + t * D, w->tmp + t * D, (int64_t)D);
	}
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	w->n_recs = 0;
	w->data_len = 0;
	w->rc = w->e->influence ? influence_window(w) : stats_window(w);
	return NULL;
}

/* Every window through the job, a batch of n_workers at a time; after
 * each batch, in window order, the recorded inputs are accumulated (and
 * the cosines summed into bi).  0, or the first window's -errno. */
static int run_windows(struct engine *e, double *bi)
{
	pthread_t tid[e->n_workers];
	int rc = 0;
	for (int i0 = 0; i0 < e->n_seq && !rc; i0 += e->n_workers) {
		const int nb = e->n_seq - i0 < e->n_workers ? e->n_seq - i0 : e->n_workers;
		int created[nb];
		for (int k = 0; k < nb; k++) {
			e->w[k].seq = i0 + k;
			/* worker 0 runs here, as does one no thread would take */
			created[k] = k > 0 && pthread_create(&tid[k], NULL, work, &e->w[k]) == 0;
		}
		for (int k = 0; k < nb; k++)
			if (!created[k])
				work(&e->w[k]);
		for (int k = 0; k < nb; k++)
			if (created[k])
				pthread_join(tid[k], NULL);
		for (int k = 0; k < nb && !rc; k++) {
			const struct worker *w = &e->w[k];
			if ((rc = w->rc) < 0) {
				pb_log(PB_LOG_ERROR, "calibration: %s, window %d: %s", stack_name(e->stack),
				       w->seq, strerror(-rc));
				break;
			}
			for (int r = 0; r < w->n_recs && !rc; r++)
				if ((rc = pb_calib_set_add(&e->set, w->recs[r].tensors, w->recs[r].k,
							   w->data + w->recs[r].off, w->recs[r].n,
							   w->recs[r].n_in)) < 0)
					pb_log(PB_LOG_ERROR, "calibration: out of memory (or more linears than a block may have)");
			for (int l = 0; bi && l < e->n_layers; l++)
				bi[l] += w->cos[l];
		}
	}
	return rc;
}

static void gather_begin(struct engine *e, double *t0)
{
	if (e->on_gather)
		e->on_gather(e->ctx, 1);
	*t0 = pb_now_ms();
}

static void gather_end(struct engine *e, double t0)
{
	e->gather_ms += pb_now_ms() - t0;
	if (e->on_gather)
		e->on_gather(e->ctx, 0);
}

static int block_stats(struct pb_calib *c, enum pb_stack stack, int layer, unsigned want,
		       const struct pb_linear_stats **stats, int *n)
{
	struct engine *e = engine_of(c);
	double t0;
	int rc, nb;
	if (stats)
		*stats = NULL;
	if (n)
		*n = 0;
	if (!e || !stats || !n || (rc = check_stack(e, stack, "block_stats")) < 0)
		return -EINVAL;
	if (want & ~(unsigned)(PB_CALIB_COL_SQ | PB_CALIB_XTX)) {
		pb_log(PB_LOG_ERROR, "calibration: block_stats: unknown statistics 0x%x asked", want);
		return -EINVAL;
	}
	gather_begin(e, &t0);
	pb_calib_set_reset(&e->set, want, e->n_threads);
	if ((rc = refresh(e)) < 0)
		goto out;
	nb = pb_session_blocks(e->w[0].sess, stack);
	if (layer < 0 || layer >= nb) {
		pb_log(PB_LOG_ERROR, "calibration: block_stats: %s block %d does not exist (%d blocks)",
		       stack_name(stack), layer, nb);
		rc = -EINVAL;
		goto out;
	}
	struct stack_state *st = &e->st[stack];
	if ((st->cur < 0 || layer < st->cur) && (rc = restart(e, stack)) < 0)
		goto out;
	e->stack = stack;
	e->layer = layer;
	e->want = want;
	e->influence = 0;
	if ((rc = run_windows(e, NULL)) < 0) {
		st->cur = -1;   /* the windows may stand between blocks: start again */
		pb_calib_set_reset(&e->set, 0, e->n_threads);
		goto out;
	}
	st->cur = layer;
	*n = pb_calib_set_finish(&e->set, stats);
out:
	gather_end(e, t0);
	return rc;
}

static int block_influence(struct pb_calib *c, enum pb_stack stack, double *bi, int n_layers)
{
	struct engine *e = engine_of(c);
	double t0;
	int rc, nb;
	if (!e || !bi || (rc = check_stack(e, stack, "block_influence")) < 0)
		return -EINVAL;
	gather_begin(e, &t0);
	if ((rc = refresh(e)) < 0)
		goto out;
	nb = pb_session_blocks(e->w[0].sess, stack);
	if (n_layers < 1 || n_layers > nb) {
		pb_log(PB_LOG_ERROR, "calibration: block_influence: asked for %d blocks, the %s has %d",
		       n_layers, stack_name(stack), nb);
		rc = -EINVAL;
		goto out;
	}
	for (int i = 0; i < e->n_workers; i++) {
		free(e->w[i].cos);
		if (!(e->w[i].cos = calloc((size_t)n_layers, sizeof *e->w[i].cos))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	e->stack = stack;
	e->n_layers = n_layers;
	e->influence = 1;
	e->want = 0;
	for (int l = 0; l < n_layers; l++)
		bi[l] = 0;
	if ((rc = run_windows(e, bi)) < 0)
		goto out;
	for (int l = 0; l < n_layers; l++)
		bi[l] = 1.0 - bi[l] / ((double)e->n_seq * (double)e->seqlen);
out:
	gather_end(e, t0);
	return rc;
}

/* ---- the handle --------------------------------------------------------- */

static int workers_start(struct engine *e, int n, char *err, size_t len)
{
	const size_t L = (size_t)e->seqlen, D = (size_t)e->dim;
	int rc;
	if (!(e->w = calloc((size_t)n, sizeof *e->w)))
		return pb_errf(err, len, -ENOMEM, "calibration: out of memory");
	for (int i = 0; i < n; i++) {
		struct worker *w = &e->w[i];
		w->e = e;
		e->n_workers = i + 1;
		w->tmp = malloc(L * D * sizeof *w->tmp);
		w->prev = malloc(L * D * sizeof *w->prev);
		w->src = e->seq2seq ? malloc(L * D * sizeof *w->src) : NULL;
		if (!w->tmp || !w->prev || (e->seq2seq && !w->src))
			return pb_errf(err, len, -ENOMEM, "calibration: out of memory");
		if ((rc = e->bp->init(&e->host.host, e->config, &w->bstate)) < 0) {
			w->bstate = NULL;
			return pb_errf(err, len, rc, "calibration: backend '%s': init failed: %s",
				       e->bp->name, strerror(-rc));
		}
	}
	return 0;
}

int pb_calib_open(struct pb_model *m, const struct pb_calib_opts *o, struct pb_calib **out,
		  char *err, size_t len)
{
	const struct pb_plugin *bp = o ? o->backend : NULL;
	struct engine *e = NULL;
	int rc;
	*out = NULL;
	if (!m || !o || !bp || bp->kind != PB_BACKEND || !o->tokens || o->n_seq < 1 || o->seqlen < 1)
		return pb_errf(err, len, -EINVAL, "calibration: no backend or no windows");
	if (o->seqlen > m->hp.ctx)
		return pb_errf(err, len, -EINVAL, "calibration: windows of %d tokens exceed %s's context of %d",
			       o->seqlen, m->name, m->hp.ctx);
	for (int64_t i = 0; i < (int64_t)o->n_seq * o->seqlen; i++)
		if (o->tokens[i] < 0 || o->tokens[i] >= m->hp.vocab)
			return pb_errf(err, len, -EINVAL, "calibration: token %d at %lld is outside %s's vocabulary of %d",
				       o->tokens[i], (long long)i, m->name, m->hp.vocab);
	if (!(e = calloc(1, sizeof *e)))
		return pb_errf(err, len, -ENOMEM, "calibration: out of memory");
	const size_t L = (size_t)o->seqlen, D = (size_t)m->hp.dim, N = (size_t)o->n_seq;
	e->pub.core = e;
	e->m = m;
	e->bp = bp;
	e->bops = bp->ops;
	e->seq2seq = m->arch == PB_ARCH_T5;
	e->n_seq = o->n_seq;
	e->seqlen = o->seqlen;
	e->dim = m->hp.dim;
	e->n_threads = o->n_threads > 0 ? o->n_threads : pb_default_threads();
	e->on_gather = o->on_gather;
	e->ctx = o->ctx;
	e->st[0].cur = e->st[1].cur = -1;
	e->enc_tok = malloc(N * L * sizeof *e->enc_tok);
	e->st[PB_STACK_DECODER].h = malloc(N * L * D * sizeof(float));
	if (!e->enc_tok || !e->st[PB_STACK_DECODER].h) {
		rc = pb_errf(err, len, -ENOMEM, "calibration: out of memory for %zu windows of %zu × %zu",
			     N, L, D);
		goto fail;
	}
	memcpy(e->enc_tok, o->tokens, N * L * sizeof *e->enc_tok);
	if (e->seq2seq) {
		e->dec_tok = malloc(N * L * sizeof *e->dec_tok);
		e->st[PB_STACK_ENCODER].h = malloc(N * L * D * sizeof(float));
		if (!e->dec_tok || !e->st[PB_STACK_ENCODER].h) {
			rc = pb_errf(err, len, -ENOMEM, "calibration: out of memory");
			goto fail;
		}
		/* teacher-forced: the decoder reads the window shifted right */
		int start = m->hp.decoder_start_id >= 0 && m->hp.decoder_start_id < m->hp.vocab ?
			    m->hp.decoder_start_id : 0;
		for (size_t i = 0; i < N; i++) {
			e->dec_tok[i * L] = start;
			memcpy(e->dec_tok + i * L + 1, e->enc_tok + i * L, (L - 1) * sizeof *e->dec_tok);
		}
	}
	pb_host_init(&e->host, bp->name, o->seed, 1);
	e->config = calloc(1, bp->config_size ? bp->config_size : 1);
	if (!e->config || (bp->options && pb_options_defaults(bp->options, e->config, bp->config_size) < 0)) {
		rc = pb_errf(err, len, -ENOMEM, "calibration: backend '%s': cannot set its options", bp->name);
		goto fail;
	}
	if ((rc = workers_start(e, e->n_threads < o->n_seq ? e->n_threads : o->n_seq, err, len)) < 0)
		goto fail;
	e->pub.struct_size = sizeof e->pub;
	e->pub.n_sequences = o->n_seq;
	e->pub.seqlen = o->seqlen;
	e->pub.block_stats = block_stats;
	e->pub.block_influence = block_influence;
	*out = &e->pub;
	return 0;
fail:
	pb_calib_close(&e->pub);
	return rc;
}

void pb_calib_close(struct pb_calib *c)
{
	struct engine *e = engine_of(c);
	if (!e)
		return;
	pb_calib_set_free(&e->set);
	for (int i = 0; i < e->n_workers; i++) {
		struct worker *w = &e->w[i];
		pb_session_close(w->sess);
		if (w->bstate)
			e->bp->fini(w->bstate);
		free(w->tmp);
		free(w->prev);
		free(w->src);
		free(w->cos);
		free(w->recs);
		free(w->data);
	}
	free(e->w);
	free(e->config);
	free(e->enc_tok);
	free(e->dec_tok);
	free(e->st[0].h);
	free(e->st[1].h);
	free(e);
}

double pb_calib_ms(const struct pb_calib *c)
{
	const struct engine *e = c ? c->core : NULL;
	return e ? e->gather_ms : 0.0;
}

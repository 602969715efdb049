/* plugins/pruners/sparsegpt/sparsegpt.c — SparseGPT: one-shot pruning with
 * weight reconstruction (Frantar & Alistarh, "SparseGPT: Massive Language
 * Models Can Be Accurately Pruned in One-Shot", ICML 2023), following the
 * authors' reference code (IST-DASLab/sparsegpt, sparsegpt.py,
 * SparseGPT.fasterprune) step by step:
 *
 *   H = 2/N · XᵀX over the calibration tokens (the reference divides by
 *       sequences, we by tokens: the result is invariant to H's scale);
 *   dead inputs (H_jj = 0): W[:, j] = 0, H_jj = 1;
 *   H += λI, λ = damp · mean(diag H);
 *   Hinv = upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), by LAPACK
 *       dpotrf/dpotri/dpotrf as cholesky / cholesky_inverse / cholesky(upper);
 *   for each block of `blocksize` columns [i1, i2):
 *       unstructured: score w²/U_jj² over the whole block (every row, every
 *       column of the block at once) and mask the lowest share;
 *       N:M: at the first column of every group of m, mask the m − n lowest
 *       scores of the group in each row, with the weights as updated so far;
 *       column by column: q = masked ? 0 : w, err = (w − q)/U_ii,
 *       W[:, i:i2] −= err · U[i, i:i2];
 *       lazily: W[:, i2:] −= Err · U[i1:i2, i2:] (one GEMM per block).
 *
 * Two deliberate differences, both for exactness: the unstructured mask
 * takes exactly round(s · rows · count) weights per block (the reference's
 * `tmp <= sorted[int(numel·s)]` takes one more, so it prunes even at s = 0),
 * ties going to the lower (row, column); and sparsity 0 (unstructured)
 * returns at once, leaving every weight as it was.  `n` counts weights KEPT
 * per group of m (2:4 keeps 2), where the reference's `prunen` counts the
 * pruned ones: the same for 2:4 and 4:8.
 *
 * Numbers: H, its factors and the working copy of W are double (the
 * reference works in float32); the result is rounded once to the tensor's
 * format.  Rows are independent once a block's mask is chosen, so the
 * column loop runs on host->n_threads threads, and OpenBLAS (the GEMM of
 * the lazy update) is told to use as many, never more.
 *
 * Sequential, as the reference: block l's XᵀX comes from the calibration
 * handle after blocks 0..l−1 are pruned; all linears of block l are pruned
 * from one pass.  The output head is not pruned.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <prunebench/plugin.h>

#include "prune-util.h"

/* LAPACK (Fortran ABI), exported by OpenBLAS; Debian ships no LAPACKE. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

struct sg_config {
	double sparsity;
	int64_t n, m;         /* n:m with n > 0; 0:0 = unstructured */
	int64_t blocksize;
	double damp;          /* fraction of mean(diag H) added to the diagonal */
	int tensors;          /* enum pu_tensors */
	int64_t nsamples, seqlen;
};

struct sg_state {
	const struct pb_host *host;
	struct sg_config cfg;
	struct pb_prune_target *targets;
	int n_pruned;
};

/* One block of one linear: what the row workers share. */
struct sg_block {
	const struct sg_config *cfg;
	double *W;            /* rows × cols, row-major */
	const double *U;      /* cols × cols upper triangular */
	double *Err;          /* rows × count */
	uint8_t *mask;        /* rows × count: 1 = prune */
	int64_t cols, i1, count;
};

struct sg_job {
	const struct sg_block *b;
	int64_t r0, r1;
};

/* ---- the column loop of one block, rows [r0, r1) ----------------------------- */

/* N:M within one row's group of `size` columns starting at block column g:
 * mask the size − min(n, size) lowest w²/U_jj², ties to the lower column. */
static void mask_group(const struct sg_block *b, int64_t r, int64_t g, int64_t size)
{
	const double *w = b->W + r * b->cols + b->i1 + g;
	uint8_t *mask = b->mask + r * b->count + g;
	int64_t n = b->cfg->n, drop = size - (n < size ? n : size);
	double score[256];

	for (int64_t j = 0; j < size; j++) {
		double d = b->U[(b->i1 + g + j) * b->cols + b->i1 + g + j];
		score[j] = w[j] * w[j] / (d * d);
	}
	for (int64_t k = 0; k < drop; k++) {
		int64_t best = -1;
		for (int64_t j = 0; j < size; j++)
			if (!mask[j] && (best < 0 || score[j] < score[best]))
				best = j;
		mask[best] = 1;
	}
}

static void *block_rows(void *arg)
{
	const struct sg_job *job = arg;
	const struct sg_block *b = job->b;
	int64_t cols = b->cols, i1 = b->i1, count = b->count, m = b->cfg->m;

	for (int64_t r = job->r0; r < job->r1; r++) {
		double *w = b->W + r * cols + i1, *err = b->Err + r * count;
		const uint8_t *mask = b->mask + r * count;
		for (int64_t i = 0; i < count; i++) {
			const double *u = b->U + (i1 + i) * cols + i1;
			if (b->cfg->n > 0 && i % m == 0)
				mask_group(b, r, i, count - i < m ? count - i : m);
			double q = mask[i] ? 0.0 : w[i];
			double e = (w[i] - q) / u[i];
			for (int64_t j = i + 1; j < count; j++)
				w[j] -= e * u[j];
			w[i] = q;
			err[i] = e;
		}
	}
	return NULL;
}

static int run_rows(const struct sg_block *b, int64_t rows, int n_threads)
{
	struct sg_job jobs[64];
	pthread_t tid[64];
	int nt = n_threads < 1 ? 1 : n_threads > 64 ? 64 : n_threads, started = 0;

	/* threads pay off only for real work per block */
	if (rows * b->count * b->count < (1 << 18))
		nt = 1;
	if (nt > rows)
		nt = (int)rows;
	for (int t = 0; t < nt; t++) {
		jobs[t].b = b;
		jobs[t].r0 = rows * t / nt;
		jobs[t].r1 = rows * (t + 1) / nt;
	}
	for (int t = 1; t < nt; t++) {
		if (pthread_create(&tid[t], NULL, block_rows, &jobs[t]))
			break;
		started = t;
	}
	/* rows of threads that could not start are done here */
	block_rows(&jobs[0]);
	for (int t = started + 1; t < nt; t++)
		block_rows(&jobs[t]);
	for (int t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	return 0;
}

/* ---- the unstructured mask of a block ------------------------------------------- */

struct dpair { double s; int64_t i; };

static int dpair_cmp(const void *pa, const void *pb)
{
	const struct dpair *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s < b->s ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static void mask_block(const struct sg_block *b, int64_t rows, double sparsity,
		       struct dpair *work)
{
	int64_t count = b->count, total = rows * count, k = pu_count(sparsity, total);

	memset(b->mask, 0, (size_t)total);
	if (k == 0)
		return;
	for (int64_t r = 0; r < rows; r++)
		for (int64_t i = 0; i < count; i++) {
			double w = b->W[r * b->cols + b->i1 + i];
			double d = b->U[(b->i1 + i) * b->cols + b->i1 + i];
			work[r * count + i].s = w * w / (d * d);
			work[r * count + i].i = r * count + i;
		}
	qsort(work, (size_t)total, sizeof(*work), dpair_cmp);
	for (int64_t j = 0; j < k; j++)
		b->mask[work[j].i] = 1;
}

/* ---- H → U ------------------------------------------------------------------------ */

/* H (cols × cols, symmetric) becomes U, upper triangular with H⁻¹ = UᵀU.
 * A row-major symmetric matrix reads the same in LAPACK's column-major
 * order; the 'L' factor in column-major is the upper one in row-major. */
static int hinv_upper(double *H, int n)
{
	int info = 0;

	dpotrf_("L", &n, H, &n, &info);
	if (info)
		return info;
	dpotri_("L", &n, H, &n, &info);
	if (info)
		return info;
	for (int r = 0; r < n; r++)      /* mirror the upper (row-major) half down */
		for (int c = r + 1; c < n; c++)
			H[(size_t)c * n + r] = H[(size_t)r * n + c];
	dpotrf_("L", &n, H, &n, &info);
	if (info)
		return info;
	for (int r = 1; r < n; r++)
		memset(H + (size_t)r * n, 0, (size_t)r * sizeof(*H));
	return 0;
}

/* ---- one linear ------------------------------------------------------------------- */

static int prune_one(void *ctx, struct pb_model *m, struct pb_tensor *t,
		     const struct pb_linear_stats *st)
{
	struct sg_state *s = ctx;
	const struct sg_config *c = &s->cfg;
	int64_t cols = t->ne[0], rows, bs = c->blocksize;
	double *H = NULL, *W = NULL, *Err = NULL, mean = 0, loss = 0;
	float *row = NULL;
	uint8_t *mask = NULL;
	struct dpair *work = NULL;
	int rc = pu_tensor_ok(s->host, t), info;

	if (rc)
		return rc;
	if (st->n_tokens <= 0 || cols > 65536) {
		s->host->log(s->host, PB_LOG_ERROR, "'%s': %s", t->name, st->n_tokens <= 0 ?
			     "no calibration tokens" : "more than 65536 input columns");
		return -EINVAL;
	}
	rows = pu_rows(t);
	bs = bs > cols ? cols : bs;
	H = malloc((size_t)(cols * cols) * sizeof(*H));
	W = malloc((size_t)(rows * cols) * sizeof(*W));
	Err = malloc((size_t)(rows * bs) * sizeof(*Err));
	mask = malloc((size_t)(rows * bs));
	work = c->n ? NULL : malloc((size_t)(rows * bs) * sizeof(*work));
	row = malloc((size_t)cols * sizeof(*row));
	if (!H || !W || !Err || !mask || (!c->n && !work) || !row) {
		rc = -ENOMEM;
		s->host->log(s->host, PB_LOG_ERROR, "'%s': out of memory", t->name);
		goto out;
	}
	for (int64_t i = 0; i < cols * cols; i++)
		H[i] = st->xtx[i] * (2.0 / (double)st->n_tokens);
	for (int64_t r = 0; r < rows; r++) {
		pu_row_get(t, r, row);
		for (int64_t j = 0; j < cols; j++)
			W[r * cols + j] = row[j];
	}
	for (int64_t j = 0; j < cols; j++) {
		if (H[j * cols + j] == 0) {
			H[j * cols + j] = 1;
			for (int64_t r = 0; r < rows; r++)
				W[r * cols + j] = 0;
		}
		mean += H[j * cols + j];
	}
	mean /= (double)cols;
	for (int64_t j = 0; j < cols; j++)
		H[j * cols + j] += c->damp * mean;
	info = hinv_upper(H, (int)cols);
	if (info) {
		s->host->log(s->host, PB_LOG_ERROR, "'%s': the damped Hessian is not positive "
			     "definite (LAPACK info %d); raise `damp` (now %g)", t->name, info, c->damp);
		rc = -EDOM;
		goto out;
	}

	for (int64_t i1 = 0; i1 < cols; i1 += bs) {
		struct sg_block b = {
			.cfg = c, .W = W, .U = H, .Err = Err, .mask = mask,
			.cols = cols, .i1 = i1, .count = cols - i1 < bs ? cols - i1 : bs,
		};
		int64_t i2 = i1 + b.count;
		if (c->n)
			memset(mask, 0, (size_t)(rows * b.count));
		else
			mask_block(&b, rows, c->sparsity, work);
		run_rows(&b, rows, s->host->n_threads);
		for (int64_t i = 0; i < rows * b.count; i++)
			loss += Err[i] * Err[i];
		if (i2 < cols)   /* W[:, i2:] -= Err · U[i1:i2, i2:] */
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    (int)rows, (int)(cols - i2), (int)b.count, -1.0,
				    Err, (int)b.count, H + i1 * cols + i2, (int)cols,
				    1.0, W + i2, (int)cols);
	}

	for (int64_t r = 0; r < rows; r++) {
		for (int64_t j = 0; j < cols; j++)
			row[j] = (float)W[r * cols + j];
		pu_row_put(t, r, row);
	}
	s->targets[t - m->tensors].sparsity = c->n ? 1.0 - (double)c->n / (double)c->m : c->sparsity;
	s->n_pruned++;
	s->host->log(s->host, PB_LOG_DEBUG, "'%s': %lld×%lld, error %.6g", t->name,
		     (long long)rows, (long long)cols, loss / 2);
out:
	free(row);
	free(work);
	free(mask);
	free(Err);
	free(W);
	free(H);
	return rc;
}

/* ---- hooks ------------------------------------------------------------------------- */

static int sg_init(const struct pb_host *h, const void *config, void **state)
{
	const struct sg_config *c = config;
	struct sg_state *s;

	if (!(c->sparsity >= 0.0 && c->sparsity <= 1.0) || !(c->damp >= 0.0 && c->damp <= 1.0)) {
		h->log(h, PB_LOG_ERROR, "sparsity and damp must be between 0 and 1, got %g and %g",
		       c->sparsity, c->damp);
		return -EINVAL;
	}
	if ((c->n || c->m) && !(c->n >= 1 && c->n < c->m && c->m <= 256)) {
		h->log(h, PB_LOG_ERROR, "n:m must satisfy 1 <= n < m <= 256 (or both 0 for "
		       "unstructured), got %lld:%lld", (long long)c->n, (long long)c->m);
		return -EINVAL;
	}
	if (c->blocksize < 1 || (c->n && c->blocksize % c->m)) {
		h->log(h, PB_LOG_ERROR, "blocksize %lld must be positive and, with n:m, a "
		       "multiple of m (%lld) so that no group straddles two blocks",
		       (long long)c->blocksize, (long long)c->m);
		return -EINVAL;
	}
	if (c->tensors < PU_TENSORS_ATTENTION || c->tensors > PU_TENSORS_ALL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg = *c;
	*state = s;
	return 0;
}

static void sg_fini(void *state)
{
	free(state);
}

static int sg_check(void *state, const struct pb_model *m, char *why, size_t len)
{
	struct sg_state *s = state;
	return pu_check_model(m, s->cfg.tensors, why, len);
}

static int sg_apply(void *state, struct pb_model *m, struct pb_calib *calib,
		    struct pb_prune_target *targets)
{
	struct sg_state *s = state;
	int rc;

	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1.0;
	s->targets = targets;
	s->n_pruned = 0;
	if (!s->cfg.n && s->cfg.sparsity == 0.0) {
		for (int i = 0; i < m->n_tensors; i++)
			if (pu_selected(s->cfg.tensors, &m->tensors[i]))
				targets[i].sparsity = 0.0;
		s->host->log(s->host, PB_LOG_INFO, "sparsity 0: weights left as they are");
		return 0;
	}
	openblas_set_num_threads(s->host->n_threads > 0 ? s->host->n_threads : 1);
	rc = pu_calib_walk(s->host, m, calib, PB_CALIB_XTX, s->cfg.tensors, prune_one, s);
	if (!rc)
		s->host->log(s->host, PB_LOG_INFO, "%d linears pruned and reconstructed (%s)",
			     s->n_pruned, s->cfg.n ? "n:m" : "unstructured");
	return rc;
}

/* The option table, the ops and the descriptor are spelled out in every
 * plugin: reading them tells you the plugin (STYLE.md 1), so their likeness
 * to other plugins' is deliberate.  Entries several plugins declare word
 * for word come from plugins/common. */
static const struct pb_option sg_options[] = {
	{ .key = "sparsity", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct sg_config, sparsity), .def = "0.5", .min = 0, .max = 1,
	  .help = "fraction of weights to zero in every block of columns (ignored with n:m)" },
	PU_OPT_NM_OR_UNSTRUCTURED(struct sg_config),
	{ .key = "blocksize", .type = PB_OPT_INT,
	  .offset = offsetof(struct sg_config, blocksize), .def = "128", .min = 1, .max = 65536,
	  .help = "columns per lazy-update block; the unstructured mask is chosen per block" },
	{ .key = "damp", .type = PB_OPT_DOUBLE, .offset = offsetof(struct sg_config, damp),
	  .def = "0.01", .min = 0, .max = 1,
	  .help = "dampening: this fraction of mean(diag H) is added to H's diagonal (0.01 = 1 %)" },
	PU_OPT_TENSORS(struct sg_config, tensors),
	PU_OPT_CALIB(struct sg_config, "; the paper uses 128, 32 keeps cells fast"),
	PB_OPTIONS_END
};

static const struct pb_pruner_ops sg_ops = {
	.struct_size = sizeof(struct pb_pruner_ops),
	.apply = sg_apply,
	.check = sg_check,
	.calib = PB_CALIB_XTX,
	.in_formats = PU_DENSE_FORMATS,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_PRUNER,
	.name = "sparsegpt",
	.version = "1.0.0",
	.summary = "SparseGPT: OBS-style pruning with weight reconstruction (unstructured or N:M)",
	.options = sg_options,
	.config_size = sizeof(struct sg_config),
	.init = sg_init,
	.fini = sg_fini,
	.ops = &sg_ops,
};

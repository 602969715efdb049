/* core/run/calib-stats.c — the statistics of one block (calib-internal.h):
 * Σx² per input column and XᵀX per group of linears that read the same
 * input, accumulated window by window in the order windows are added (so
 * the sums do not depend on how many threads ran the windows).
 *
 * XᵀX is n_in² × tokens multiply-adds: each window's rows are transposed
 * to doubles and the upper triangle is updated by up to n_threads
 * threads, split into equal areas of the triangle (each element is summed
 * by one thread, in token order: the same bits whatever the split); the
 * lower triangle is mirrored once, when the block is finished.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "run/calib-internal.h"

struct xtx_job {
	double *xtx;
	const double *xt;   /* n_in × n */
	int64_t n_in, r0, r1;
	int n;
};

/* Rows r0..r1 of the upper triangle += xt xtᵀ, four columns at a time
 * so that each row of xt is loaded once per four dot products. */
static void *xtx_rows(void *arg)
{
	const struct xtx_job *j = arg;
	const int64_t n_in = j->n_in;
	const int n = j->n;
	for (int64_t r = j->r0; r < j->r1; r++) {
		const double *a = j->xt + r * n;
		double *row = j->xtx + r * n_in;
		int64_t c = r;
		for (; c + 4 <= n_in; c += 4) {
			const double *b0 = j->xt + c * n, *b1 = b0 + n, *b2 = b1 + n, *b3 = b2 + n;
			double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
			for (int t = 0; t < n; t++) {
				const double at = a[t];
				s0 += at * b0[t];
				s1 += at * b1[t];
				s2 += at * b2[t];
				s3 += at * b3[t];
			}
			row[c] += s0;
			row[c + 1] += s1;
			row[c + 2] += s2;
			row[c + 3] += s3;
		}
		for (; c < n_in; c++) {
			const double *b = j->xt + c * n;
			double s = 0;
			for (int t = 0; t < n; t++)
				s += a[t] * b[t];
			row[c] += s;
		}
	}
	return NULL;
}

#define XTX_THREADS_MAX 64

static void xtx_update(double *xtx, const double *xt, int64_t n_in, int n, int n_threads)
{
	struct xtx_job jobs[XTX_THREADS_MAX];
	pthread_t tid[XTX_THREADS_MAX];
	int created[XTX_THREADS_MAX] = { 0 };
	int nt = n_threads < XTX_THREADS_MAX ? n_threads : XTX_THREADS_MAX;
	/* threads only pay off beyond a few million multiply-adds */
	if ((double)n_in * (double)n_in * n < 4e6 || nt < 2)
		nt = 1;
	/* equal areas of the triangle: rows [0, r) cost r·n_in − r(r−1)/2 */
	const double total = (double)n_in * (double)(n_in + 1) / 2;
	int64_t r0 = 0;
	for (int k = 0; k < nt; k++) {
		int64_t r1 = n_in;
		if (k < nt - 1) {
			const double target = total * (k + 1) / nt;
			r1 = r0;
			while (r1 < n_in && (double)r1 * n_in - (double)r1 * (r1 - 1) / 2 < target)
				r1++;
		}
		jobs[k] = (struct xtx_job){ .xtx = xtx, .xt = xt, .n_in = n_in, .r0 = r0, .r1 = r1, .n = n };
		r0 = r1;
		/* the last share runs here, as does one no thread would take */
		if (k < nt - 1 && pthread_create(&tid[k], NULL, xtx_rows, &jobs[k]) == 0)
			created[k] = 1;
		else
			xtx_rows(&jobs[k]);
	}
	for (int k = 0; k < nt; k++)
		if (created[k])
			pthread_join(tid[k], NULL);
}


void pb_calib_set_reset(struct pb_calib_set *s, unsigned want, int n_threads)
{
	for (int g = 0; g < s->n_groups; g++) {
		free(s->groups[g].col_sq);
		free(s->groups[g].xtx);
	}
	memset(s->groups, 0, sizeof s->groups);
	s->n_groups = s->n_stats = 0;
	s->want = want;
	s->n_threads = n_threads;
}

void pb_calib_set_free(struct pb_calib_set *s)
{
	pb_calib_set_reset(s, 0, 1);
	free(s->xt);
	s->xt = NULL;
	s->xt_cap = 0;
}

/* The group of linears `tensors` (created on first sight, with what
 * `want` asks for); NULL on a table overflow or out of memory. */
static struct pb_calib_group *group_for(struct pb_calib_set *s, const int *tensors, int k,
					int64_t n_in)
{
	for (int i = 0; i < s->n_stats; i++)
		if (s->stats[i].tensor == tensors[0])
			return &s->groups[s->group_of[i]];
	if (k < 1 || s->n_stats + k > PB_CALIB_MAX_LINEARS || s->n_groups == PB_CALIB_MAX_LINEARS)
		return NULL;
	/* counted before its arrays, so that a reset frees a half-made one */
	struct pb_calib_group *g = &s->groups[s->n_groups++];
	g->n_in = n_in;
	if ((s->want & PB_CALIB_COL_SQ) && !(g->col_sq = calloc((size_t)n_in, sizeof *g->col_sq)))
		return NULL;
	if ((s->want & PB_CALIB_XTX) &&
	    !(g->xtx = calloc((size_t)n_in * (size_t)n_in, sizeof *g->xtx)))
		return NULL;
	for (int i = 0; i < k; i++) {
		s->group_of[s->n_stats] = s->n_groups - 1;
		s->stats[s->n_stats++] = (struct pb_linear_stats){ .tensor = tensors[i], .n_in = n_in };
	}
	return g;
}

int pb_calib_set_add(struct pb_calib_set *s, const int *tensors, int k, const float *x, int n,
		     int64_t n_in)
{
	struct pb_calib_group *g = group_for(s, tensors, k, n_in);
	if (!g || g->n_in != n_in)
		return -ENOMEM;
	g->n_tokens += n;
	if (g->col_sq)
		for (int t = 0; t < n; t++)
			for (int64_t j = 0; j < n_in; j++)
				g->col_sq[j] += (double)x[t * n_in + j] * x[t * n_in + j];
	if (!g->xtx)
		return 0;
	if (n_in * n > s->xt_cap) {
		double *p = realloc(s->xt, (size_t)(n_in * n) * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->xt = p;
		s->xt_cap = n_in * n;
	}
	for (int t = 0; t < n; t++)
		for (int64_t j = 0; j < n_in; j++)
			s->xt[j * n + t] = x[t * n_in + j];
	xtx_update(g->xtx, s->xt, n_in, n, s->n_threads);
	return 0;
}

int pb_calib_set_finish(struct pb_calib_set *s, const struct pb_linear_stats **stats)
{
	for (int g = 0; g < s->n_groups; g++) {
		double *a = s->groups[g].xtx;
		const int64_t n = s->groups[g].n_in;
		for (int64_t r = 0; a && r < n; r++)
			for (int64_t c = 0; c < r; c++)
				a[r * n + c] = a[c * n + r];
	}
	for (int i = 0; i < s->n_stats; i++) {
		const struct pb_calib_group *g = &s->groups[s->group_of[i]];
		s->stats[i].n_tokens = g->n_tokens;
		s->stats[i].col_sq = g->col_sq;
		s->stats[i].xtx = g->xtx;
	}
	*stats = s->stats;
	return s->n_stats;
}

/* plugins/common/shrink.c — the helpers shrink.h declares: norms
 * over F32/F16/BF16 weights, ranking, and really removing rows or columns
 * (a new buffer of the smaller shape, not zeros). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shrink.h"

static size_t elem_bytes(enum pb_dtype d)
{
	return d == PB_F32 ? 4 : (d == PB_F16 || d == PB_BF16) ? 2 : 0;
}

int shrink_dense(const struct pb_tensor *t)
{
	size_t es = elem_bytes(t->dtype);
	int64_t n = pb_tensor_nelements(t);
	return es && t->data && n >= 0 && t->nbytes >= (size_t)n * es && t->ne[2] == 1 && t->ne[3] == 1;
}

static float get(const struct pb_tensor *t, int64_t i)
{
	uint16_t h;
	switch (t->dtype) {
	case PB_F32:
		return ((const float *)t->data)[i];
	case PB_F16:
		memcpy(&h, (const uint8_t *)t->data + 2 * i, 2);
		return pb_fp16_to_fp32(h);
	default:
		memcpy(&h, (const uint8_t *)t->data + 2 * i, 2);
		return pb_bf16_to_fp32(h);
	}
}

double shrink_sq(const struct pb_tensor *t, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
	double s = 0;
	for (int64_t r = r0; r < r1; r++)
		for (int64_t c = c0; c < c1; c++) {
			double v = get(t, r * t->ne[0] + c);
			s += v * v;
		}
	return s;
}

static int cmp_idx_score(const void *a, const void *b, const double *score)
{
	int i = *(const int *)a, j = *(const int *)b;
	if (score[i] != score[j])
		return score[i] < score[j] ? -1 : 1;
	return (i > j) - (i < j);
}

void shrink_lowest(const double *score, int n, int k, uint8_t *drop)
{
	memset(drop, 0, (size_t)n);
	/* n is a layer's heads or neurons: a selection sort is plenty and
	 * needs no comparator context */
	for (int m = 0; m < k && m < n; m++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (!drop[i] && (best < 0 || cmp_idx_score(&i, &best, score) < 0))
				best = i;
		drop[best] = 1;
	}
}

static int cmp_units(const void *a, const void *b)
{
	const struct shrink_unit *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack - y->stack;
	if (x->layer != y->layer)
		return x->layer - y->layer;
	return x->index - y->index;
}

void shrink_sort_units(struct shrink_unit *u, int n)
{
	qsort(u, (size_t)n, sizeof *u, cmp_units);
}

int shrink_init(const struct pb_host *h, const void *config, void **state)
{
	struct shrink_state *s;

	if (!h->tensor_realloc)
		return -ENOTSUP;
	if (!(s = calloc(1, sizeof *s)))
		return -ENOMEM;
	s->h = h;
	s->cfg = *(const struct shrink_config *)config;
	*state = s;
	return 0;
}

void shrink_fini(void *state)
{
	free(state);
}

unsigned shrink_calib_for(const void *config)
{
	const struct shrink_config *c = config;
	return c->importance == SHRINK_IMP_ACTIVATION ? PB_CALIB_COL_SQ : 0;
}

int shrink_apply_start(const struct shrink_state *s, int check_rc, const char *why,
		       const struct pb_calib *calib)
{
	if (check_rc < 0) {
		s->h->log(s->h, PB_LOG_ERROR, "%s", why);
		return check_rc;
	}
	if (s->cfg.ratio <= 0)
		return 1;
	if (s->cfg.importance == SHRINK_IMP_ACTIVATION && (!calib || !calib->block_stats)) {
		s->h->log(s->h, PB_LOG_ERROR, "importance 'activation' needs calibration data: give "
			  "the dataset a `calibration: {count, seqlen}` split");
		return -EINVAL;
	}
	return 0;
}

int shrink_rank_init(struct shrink_rank *r, int n_slots)
{
	*r = (struct shrink_rank){ .n_slots = n_slots };
	r->left = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *r->left);
	r->drop = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *r->drop);
	return r->left && r->drop ? 0 : -ENOMEM;
}

int shrink_rank_add(struct shrink_rank *r, int slot, int stack, int layer, const double *score,
		    int n)
{
	r->total += n;
	r->left[slot] = n;
	if (!(r->drop[slot] = calloc((size_t)n, 1)))
		return -ENOMEM;
	if (r->n + n > r->cap) {
		int cap = (r->n + n) * 2;
		struct shrink_unit *u = realloc(r->u, (size_t)cap * sizeof *u);
		if (!u)
			return -ENOMEM;
		r->u = u;
		r->cap = cap;
	}
	for (int i = 0; i < n; i++)
		r->u[r->n++] = (struct shrink_unit){ .score = score[i], .layer = layer, .stack = stack,
						     .index = i, .slot = slot };
	return 0;
}

int shrink_rank_pick(struct shrink_rank *r, double ratio)
{
	int k = (int)(ratio * r->total + 0.5);

	shrink_sort_units(r->u, r->n);
	for (int i = 0; i < r->n && k > 0; i++) {
		int slot = r->u[i].slot;
		if (r->left[slot] > 1) {
			r->drop[slot][r->u[i].index] = 1;
			r->left[slot]--;
			k--;
		}
	}
	return k;
}

void shrink_rank_free(struct shrink_rank *r)
{
	for (int i = 0; r->drop && i < r->n_slots; i++)
		free(r->drop[i]);
	free(r->drop);
	free(r->left);
	free(r->u);
	*r = (struct shrink_rank){ 0 };
}

static int replace(const struct pb_host *h, struct pb_tensor *t, uint8_t *buf, int64_t ne0, int64_t ne1)
{
	const int64_t ne[PB_MAX_DIMS] = { ne0, ne1, 1, 1 };
	size_t nbytes = (size_t)(ne0 * ne1) * elem_bytes(t->dtype);
	int n_dims = t->n_dims;
	int rc = h->tensor_realloc(h, t, t->dtype, ne, nbytes);
	if (rc == 0) {
		memcpy(t->data, buf, nbytes);
		t->n_dims = n_dims;    /* a 2-D weight stays 2-D even at one row */
	}
	free(buf);
	return rc;
}

int shrink_rows(const struct pb_host *h, struct pb_tensor *t, const uint8_t *drop)
{
	const size_t rb = (size_t)t->ne[0] * elem_bytes(t->dtype);
	int64_t keep = 0;
	for (int64_t r = 0; r < t->ne[1]; r++)
		keep += !drop[r];
	if (keep == t->ne[1])
		return 0;
	uint8_t *buf = malloc(rb * (size_t)keep + 1), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (int64_t r = 0; r < t->ne[1]; r++)
		if (!drop[r]) {
			memcpy(p, (const uint8_t *)t->data + (size_t)r * rb, rb);
			p += rb;
		}
	return replace(h, t, buf, t->ne[0], keep);
}

int shrink_cols(const struct pb_host *h, struct pb_tensor *t, const uint8_t *drop)
{
	const size_t es = elem_bytes(t->dtype);
	int64_t keep = 0;
	for (int64_t c = 0; c < t->ne[0]; c++)
		keep += !drop[c];
	if (keep == t->ne[0])
		return 0;
	uint8_t *buf = malloc(es * (size_t)(keep * t->ne[1]) + 1), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (int64_t r = 0; r < t->ne[1]; r++) {
		const uint8_t *row = (const uint8_t *)t->data + (size_t)(r * t->ne[0]) * es;
		for (int64_t c = 0; c < t->ne[0]; c++)
			if (!drop[c]) {
				memcpy(p, row + (size_t)c * es, es);
				p += es;
			}
	}
	return replace(h, t, buf, keep, t->ne[1]);
}

int shrink_count(double ratio, int n)
{
	int k = (int)floor(ratio * n + 0.5);
	if (k > n - 1)
		k = n - 1;
	return k < 0 ? 0 : k;
}

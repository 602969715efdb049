/* tests/lib/pair.c — see pair.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "model/quant.h"
#include "pair.h"

static uint64_t rng = 88172645463325252ull;

float pair_frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

void pair_weight(struct pb_tensor *t, const char *name, enum pb_dtype d, int64_t ne0, int64_t ne1,
		 enum pb_role role, double zeros)
{
	free(t->data);
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->dtype = d;
	t->n_dims = 2;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->ne[2] = t->ne[3] = 1;
	t->role = role;
	t->nbytes = pb_row_bytes(t) * (size_t)ne1;
	ck_assert_uint_gt(t->nbytes, 0);
	t->data = malloc(t->nbytes);
	float *row = malloc((size_t)ne0 * sizeof *row);
	for (int64_t r = 0; r < ne1; r++) {
		for (int64_t c = 0; c < ne0; c++)
			row[c] = zeros > 0 && (pair_frand() + 1) / 2 < zeros ? 0.0f : pair_frand();
		ck_assert_int_eq(pb_quantize_row(d, row, (uint8_t *)t->data + r * pb_row_bytes(t), ne0), 0);
	}
	free(row);
}

void pair_run(struct be *a, const struct pb_model *ma, struct be *b, const struct pb_model *mb,
	      const struct pb_graph *g, const int64_t *sizes, int n_buf, float *out[2][8])
{
	struct be *bs[2] = { a, b };
	const struct pb_model *ms[2] = { ma, mb };
	ck_assert_int_le(n_buf, 8);
	for (int k = 0; k < 2; k++) {
		ck_assert_msg(bs[k]->ops->weights_load(bs[k]->st, ms[k]) == 0, "%s", be_last_log);
		ck_assert_int_eq(bs[k]->ops->buffers_alloc(bs[k]->st, sizes, n_buf), 0);
	}
	for (int i = 0; i < n_buf; i++) {
		float *v = malloc((size_t)sizes[i] * sizeof *v);
		for (int64_t j = 0; j < sizes[i]; j++)
			v[j] = pair_frand();
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(bs[k]->ops->buffer_write(bs[k]->st, i, 0, sizes[i], v), 0);
		free(v);
	}
	for (int k = 0; k < 2; k++) {
		int rc = bs[k]->ops->graph_compute(bs[k]->st, g);
		ck_assert_msg(rc == 0, "op %d on %s: %d: %s", g->ops[0].type, bs[k]->p->name, rc,
			      be_last_log);
		for (int i = 0; i < n_buf; i++) {
			out[k][i] = malloc((size_t)sizes[i] * sizeof(float));
			ck_assert_int_eq(bs[k]->ops->buffer_read(bs[k]->st, i, 0, sizes[i], out[k][i]), 0);
		}
	}
}

void pair_free(float *out[2][8], int n_buf)
{
	for (int i = 0; i < n_buf; i++) {
		free(out[0][i]);
		free(out[1][i]);
		out[0][i] = out[1][i] = NULL;
	}
}

void pair_assert_close(const float *ref, const float *got, int64_t n, double tol,
		       const struct pb_op *op, int buf, const char *name)
{
	double mx = 0, diff = 0;
	int64_t at = 0;
	for (int64_t j = 0; j < n; j++) {
		double d = fabs((double)ref[j] - got[j]);
		mx = fmax(mx, fabs(ref[j]));
		if (d > diff || isnan(got[j])) {
			diff = isnan(got[j]) ? INFINITY : d;
			at = j;
		}
	}
	ck_assert_msg(diff <= tol * mx, "op %d (n_tokens %d) buffer %d float %lld: ref %g %s %g "
		      "(max diff %g > %g × max %g)", op->type, op->n_tokens, buf, (long long)at,
		      n ? ref[at] : 0.0, name, n ? got[at] : 0.0, diff, tol, mx);
}

double pair_max_rel(const float *ref, const float *got, int64_t n)
{
	double mx = 0, d = 0;
	for (int64_t i = 0; i < n; i++) {
		mx = fmax(mx, fabs(ref[i]));
		d = fmax(d, isnan(got[i]) ? INFINITY : fabs((double)ref[i] - got[i]));
	}
	return d / (mx > 0 ? mx : 1);
}

int pair_argmax(const float *v, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

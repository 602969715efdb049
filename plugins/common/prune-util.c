/* plugins/common/prune-util.c — selection, rows, masks and the
 * calibration walk shared by the unstructured pruners (prune-util.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune-util.h"

static int role_selected(int tensors, const struct pb_tensor *t)
{
	switch (tensors) {
	case PU_TENSORS_ATTENTION: return pb_role_is_attention(t->role);
	case PU_TENSORS_FFN: return pb_role_is_ffn(t->role);
	default: return pb_role_is_attention(t->role) || pb_role_is_ffn(t->role);
	}
}

int pu_selected(int tensors, const struct pb_tensor *t)
{
	return t->layer >= 0 && role_selected(tensors, t);
}

int pu_selected_roles(int tensors, int include_output, const struct pb_tensor *t)
{
	if (t->role == PB_ROLE_OUTPUT)
		return include_output;
	return role_selected(tensors, t);
}

const char *pu_tensors_name(int tensors)
{
	return tensors == PU_TENSORS_ATTENTION ? "attention" :
	       tensors == PU_TENSORS_FFN ? "ffn" : "all";
}

static int dense(enum pb_dtype d)
{
	return d == PB_F32 || d == PB_F16 || d == PB_BF16;
}

static int shape_fits(const struct pb_tensor *t)
{
	int64_t n = 1;
	for (int d = 0; d < PB_MAX_DIMS; d++) {
		if (t->ne[d] < 1 || n > INT64_MAX / t->ne[d])
			return 0;
		n *= t->ne[d];
	}
	return t->data && (uint64_t)n <= t->nbytes / pb_dtype_block_bytes(t->dtype);
}

int pu_tensor_ok(const struct pb_host *h, const struct pb_tensor *t)
{
	if (!dense(t->dtype)) {
		h->log(h, PB_LOG_ERROR, "tensor '%s' is %s; this pruner needs F32, F16 or BF16 "
		       "(put quantization after it in the chain)", t->name, pb_dtype_name(t->dtype));
		return -ENOTSUP;
	}
	if (!shape_fits(t)) {
		h->log(h, PB_LOG_ERROR, "tensor '%s': shape [%lld %lld %lld %lld] does not fit "
		       "its %zu bytes", t->name, (long long)t->ne[0], (long long)t->ne[1],
		       (long long)t->ne[2], (long long)t->ne[3], t->nbytes);
		return -EINVAL;
	}
	return 0;
}

/* include_output < 0: pu_selected, else pu_selected_roles */
static int check_selected(const struct pb_model *m, int tensors, int include_output, char *why,
			  size_t len)
{
	int n = 0;

	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (include_output < 0 ? !pu_selected(tensors, t)
				       : !pu_selected_roles(tensors, include_output, t))
			continue;
		if (!dense(t->dtype)) {
			snprintf(why, len, "tensor '%s' is %s; this pruner reads dense F32, F16 or "
				 "BF16 weights only (quantize after pruning)", t->name,
				 pb_dtype_name(t->dtype));
			return -ENOTSUP;
		}
		n++;
	}
	if (!n) {
		snprintf(why, len, "the model has no linears matching 'tensors: %s'",
			 pu_tensors_name(tensors));
		return -ENOENT;
	}
	return 0;
}

int pu_check_model(const struct pb_model *m, int tensors, char *why, size_t len)
{
	return check_selected(m, tensors, -1, why, len);
}

int pu_check_roles(const struct pb_model *m, int tensors, int include_output, char *why,
		   size_t len)
{
	return check_selected(m, tensors, include_output ? 1 : 0, why, len);
}

/* ---- magnitude and random: a set of whole tensors ------------------------------ */

int pu_roles_config_ok(const struct pb_host *h, double sparsity, int scope, int n_scopes,
		       int tensors)
{
	if (!(sparsity >= 0.0 && sparsity <= 1.0)) {
		h->log(h, PB_LOG_ERROR, "sparsity must be between 0 and 1, got %g", sparsity);
		return -EINVAL;
	}
	if (scope < 0 || scope >= n_scopes || tensors < PU_TENSORS_ATTENTION ||
	    tensors > PU_TENSORS_ALL) {
		h->log(h, PB_LOG_ERROR, "invalid scope (%d) or tensors (%d)", scope, tensors);
		return -EINVAL;
	}
	return 0;
}

int pu_set_gather(const struct pb_host *h, struct pb_model *m, int tensors, int include_output,
		  struct pb_prune_target *targets, struct pu_set *set)
{
	*set = (struct pu_set){ 0 };
	if (m->n_tensors < 0)
		return -EINVAL;
	for (int i = 0; i < m->n_tensors; i++)
		targets[i].sparsity = -1.0;
	set->t = calloc((size_t)m->n_tensors + 1, sizeof(*set->t));
	if (!set->t)
		return -ENOMEM;
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!pu_selected_roles(tensors, include_output, t))
			continue;
		int rc = pu_tensor_ok(h, t);
		if (rc)
			return rc;
		set->t[set->n++] = t;
		set->total += (uint64_t)pb_tensor_nelements(t);
	}
	if (!set->n)
		h->log(h, PB_LOG_WARN, "no tensor matches the selection; nothing pruned");
	return 0;
}

void pu_set_mark(const struct pu_set *set, const struct pb_model *m,
		 struct pb_prune_target *targets, double sparsity)
{
	for (int j = 0; j < set->n; j++)
		targets[set->t[j] - m->tensors].sparsity = sparsity;
}

void pu_set_free(struct pu_set *set)
{
	free(set->t);
	*set = (struct pu_set){ 0 };
}

/* ---- rows ------------------------------------------------------------------ */

int64_t pu_rows(const struct pb_tensor *t)
{
	return pb_tensor_nelements(t) / t->ne[0];
}

/* bf16 of a float, round to nearest even, NaN kept quiet (as the core's
 * quant.c: plugins cannot link it). */
static uint16_t f32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 64);
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

void pu_row_get(const struct pb_tensor *t, int64_t r, float *out)
{
	int64_t n = t->ne[0];
	const char *p = (const char *)t->data + (size_t)(r * n) * pb_dtype_block_bytes(t->dtype);
	uint16_t h;

	switch (t->dtype) {
	case PB_F32:
		memcpy(out, p, (size_t)n * sizeof(float));
		break;
	case PB_F16:
		for (int64_t j = 0; j < n; j++) {
			memcpy(&h, p + 2 * j, 2);
			out[j] = pb_fp16_to_fp32(h);
		}
		break;
	case PB_BF16:
		for (int64_t j = 0; j < n; j++) {
			memcpy(&h, p + 2 * j, 2);
			out[j] = pb_bf16_to_fp32(h);
		}
		break;
	default:
		memset(out, 0, (size_t)n * sizeof(float));
		break;
	}
}

void pu_row_put(struct pb_tensor *t, int64_t r, const float *in)
{
	int64_t n = t->ne[0];
	char *p = (char *)t->data + (size_t)(r * n) * pb_dtype_block_bytes(t->dtype);
	uint16_t h;

	switch (t->dtype) {
	case PB_F32:
		memcpy(p, in, (size_t)n * sizeof(float));
		break;
	case PB_F16:
		for (int64_t j = 0; j < n; j++) {
			h = pb_fp32_to_fp16(in[j]);
			memcpy(p + 2 * j, &h, 2);
		}
		break;
	case PB_BF16:
		for (int64_t j = 0; j < n; j++) {
			h = f32_to_bf16(in[j]);
			memcpy(p + 2 * j, &h, 2);
		}
		break;
	default:
		break;
	}
}

void pu_row_zero(struct pb_tensor *t, int64_t r, const uint8_t *mask)
{
	int64_t n = t->ne[0];
	size_t sz = pb_dtype_block_bytes(t->dtype);
	char *p = (char *)t->data + (size_t)(r * n) * sz;

	for (int64_t j = 0; j < n; j++)
		if (mask[j])
			memset(p + (size_t)j * sz, 0, sz);
}

/* ---- masks ----------------------------------------------------------------- */

/* NaN sorts above everything, so it is never pruned first. */
static int score_less(float a, int32_t ia, float b, int32_t ib)
{
	int na = isnan(a), nb = isnan(b);
	if (na != nb)
		return nb;
	if (!na && a != b)
		return a < b;
	return ia < ib;
}

static int pair_cmp(const void *pa, const void *pb)
{
	const struct pu_pair *a = pa, *b = pb;
	if (score_less(a->s, a->i, b->s, b->i))
		return -1;
	return score_less(b->s, b->i, a->s, a->i) ? 1 : 0;
}

void pu_mask_lowest(const float *score, int64_t n, int64_t k, uint8_t *mask,
		    struct pu_pair *work)
{
	memset(mask, 0, (size_t)n);
	if (k <= 0)
		return;
	if (k >= n) {
		memset(mask, 1, (size_t)n);
		return;
	}
	for (int64_t j = 0; j < n; j++) {
		work[j].s = score[j];
		work[j].i = (int32_t)j;
	}
	qsort(work, (size_t)n, sizeof(*work), pair_cmp);
	for (int64_t j = 0; j < k; j++)
		mask[work[j].i] = 1;
}

void pu_mask_nm(const float *score, int64_t len, int n, int m, uint8_t *mask)
{
	memset(mask, 0, (size_t)len);
	for (int64_t g = 0; g < len; g += m) {
		int size = len - g < m ? (int)(len - g) : m;
		int drop = size - (n < size ? n : size);
		/* m is small (at most a few dozen): selection by repeated
		 * minimum over the entries not yet masked */
		for (int d = 0; d < drop; d++) {
			int best = -1;
			for (int j = 0; j < size; j++) {
				if (mask[g + j])
					continue;
				if (best < 0 || score_less(score[g + j], j, score[g + best], best))
					best = j;
			}
			mask[g + best] = 1;
		}
	}
}

int64_t pu_count(double sparsity, int64_t n)
{
	long long k = llround(sparsity * (double)n);
	if (k < 0)
		return 0;
	return k > n ? n : k;
}

/* ---- the calibration walk ---------------------------------------------------- */

static int walk_stack(const struct pb_host *h, struct pb_model *m, struct pb_calib *calib,
		      unsigned want, int tensors, enum pb_stack stack, uint8_t *done,
		      pu_linear_fn fn, void *ctx)
{
	int max_layer = -1;

	for (int i = 0; i < m->n_tensors; i++)
		if (m->tensors[i].stack == stack && pu_selected(tensors, &m->tensors[i]) &&
		    m->tensors[i].layer > max_layer)
			max_layer = m->tensors[i].layer;

	for (int l = 0; l <= max_layer; l++) {
		const struct pb_linear_stats *st = NULL;
		int n = 0, any = 0, rc;

		for (int i = 0; i < m->n_tensors && !any; i++)
			any = m->tensors[i].stack == stack && m->tensors[i].layer == l &&
			      pu_selected(tensors, &m->tensors[i]);
		if (!any)
			continue;
		rc = calib->block_stats(calib, stack, l, want, &st, &n);
		if (rc) {
			h->log(h, PB_LOG_ERROR, "calibration of %s block %d failed: %s",
			       stack == PB_STACK_ENCODER ? "encoder" : "decoder", l, strerror(-rc));
			return rc;
		}
		for (int k = 0; k < n; k++) {
			struct pb_tensor *t;
			if (st[k].tensor < 0 || st[k].tensor >= m->n_tensors) {
				h->log(h, PB_LOG_ERROR, "calibration of block %d names tensor %d of %d",
				       l, st[k].tensor, m->n_tensors);
				return -EINVAL;
			}
			t = &m->tensors[st[k].tensor];
			if (!pu_selected(tensors, t) || t->stack != stack || t->layer != l ||
			    done[st[k].tensor])
				continue;
			if (st[k].n_in != t->ne[0] ||
			    ((want & PB_CALIB_COL_SQ) && !st[k].col_sq) ||
			    ((want & PB_CALIB_XTX) && !st[k].xtx)) {
				h->log(h, PB_LOG_ERROR, "calibration statistics of '%s' do not match "
				       "it (n_in %lld for %lld columns, or a statistic missing)",
				       t->name, (long long)st[k].n_in, (long long)t->ne[0]);
				return -EINVAL;
			}
			rc = fn(ctx, m, t, &st[k]);
			if (rc)
				return rc;
			done[st[k].tensor] = 1;
		}
	}
	return 0;
}

int pu_calib_walk(const struct pb_host *h, struct pb_model *m, struct pb_calib *calib,
		  unsigned want, int tensors, pu_linear_fn fn, void *ctx)
{
	uint8_t *done;
	int rc;

	if (!calib || !calib->block_stats) {
		h->log(h, PB_LOG_ERROR, "no calibration data: give the dataset a calibration split");
		return -EINVAL;
	}
	done = calloc((size_t)m->n_tensors + 1, 1);
	if (!done)
		return -ENOMEM;
	rc = walk_stack(h, m, calib, want, tensors, PB_STACK_ENCODER, done, fn, ctx);
	if (!rc)
		rc = walk_stack(h, m, calib, want, tensors, PB_STACK_DECODER, done, fn, ctx);
	for (int i = 0; i < m->n_tensors && !rc; i++)
		if (pu_selected(tensors, &m->tensors[i]) && !done[i]) {
			h->log(h, PB_LOG_ERROR, "the calibration gave no statistics for '%s'",
			       m->tensors[i].name);
			rc = -ENOENT;
		}
	free(done);
	return rc;
}

/* ---- score-and-mask by rows ---------------------------------------------------- */

int pu_prune_rows(struct pb_tensor *t, const double *col_sq, int n, int m, double sparsity)
{
	int64_t cols = t->ne[0], rows = pu_rows(t), k = pu_count(sparsity, cols);
	float *w = malloc((size_t)cols * sizeof(*w));
	float *scale = malloc((size_t)cols * sizeof(*scale));
	uint8_t *mask = malloc((size_t)cols);
	struct pu_pair *work = malloc((size_t)cols * sizeof(*work));
	int rc = 0;

	if (!w || !scale || !mask || !work) {
		rc = -ENOMEM;
		goto out;
	}
	/* the reference computes the metric in float32 from float32 norms */
	for (int64_t j = 0; j < cols; j++)
		scale[j] = col_sq ? (float)sqrt(col_sq[j] > 0 ? col_sq[j] : 0) : 1.0f;
	if (n <= 0 && k == 0)
		goto out;
	for (int64_t r = 0; r < rows; r++) {
		pu_row_get(t, r, w);
		for (int64_t j = 0; j < cols; j++)
			w[j] = fabsf(w[j]) * scale[j];
		if (n > 0)
			pu_mask_nm(w, cols, n, m, mask);
		else
			pu_mask_lowest(w, cols, k, mask, work);
		pu_row_zero(t, r, mask);
	}
out:
	free(work);
	free(mask);
	free(scale);
	free(w);
	return rc;
}

/* plugins/backends/cpu-blas/linear.c — the linear op, y = x·Wᵀ, three ways:
 *  - decode (n_tokens ≤ CB_GEMV_MAX): our GEMV kernels, parallel over
 *    blocks of output rows, each weight byte streamed once per step;
 *  - prefill, per tile of output rows run by our pool: the native packed
 *    GEMM (gemm.h; every format dequantised into its panels), or, with
 *    `gemm: openblas`, OpenBLAS sgemm (OpenBLAS itself is set to one
 *    thread at init, so the two never spin against each other) on tiles
 *    dequantised to F32 in per-thread scratch first.  The tiles' shapes
 *    depend on the tensor's size only, never on the thread count
 *    (prefill_rows, CB_GEMM_TILE), so the same calls with the same shapes
 *    compute every output value whichever thread runs them: logits are
 *    bit-identical for any `threads`;
 *  - CSR: F32 linears whose density is below `sparse_threshold` run from
 *    a compressed copy built at weights_load;
 *  - NM_2_4: 2:4-packed weights (tensor.h) read two values and one index
 *    byte per group of four columns;
 *  - Q8_0 / Q4_0 and k-quant (Q2_K … Q6_K) decode with `int8_act`: the
 *    tokens' activations are quantised once per linear (k.quant_x:
 *    cb_quantize_x or its bit-identical SIMD version, blocks of 32;
 *    quant_k, blocks of 256 for the k-quants) and every row
 *    is an integer dot product (kernels-int.c, kernels-avx2-int.c,
 *    kernels-kquant.c, kernels-avx2-kquant.c).  Each row is computed
 *    whole by one thread, so outputs do not depend on `threads`;
 *  - Q8_0 / Q4_0 repacked at weights_load (repack.c, `repack`): decode
 *    runs groups of 16 rows per kernel call (kernels-repack.c), and
 *    prefill (`int8_gemm`) is an integer GEMM on the same groups: the
 *    prompt's activations quantised once per linear, CB_XQ_TOKENS tokens
 *    at a time, then per group of rows tiles of CB_RTOK tokens, each
 *    weight block loaded once per tile.  A row's value comes from the
 *    same kernel call sequence whatever the threads (tiles depend on the
 *    shape only), so logits stay bit-identical across `threads`. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#ifdef CB_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "cpu-blas.h"

struct lin_job {
	struct cb_state *s;
	const struct pb_tensor *w;
	const struct cb_weight *cw;
	const struct cb_csr *csr;
	const float *x;
	float *y;
	int64_t xs, ys, n_in, n_out, rows_per_task;
	int nt;
	int native;                /* prefill: the native GEMM, else OpenBLAS */
};

/* Row r of a 2:4-packed tensor: its C/2 values and C/4 index bytes. */
static void nm24_row(const struct pb_tensor *w, int64_t r, const float **val, const uint8_t **idx)
{
	const int64_t rows = w->ne[1], cols = w->ne[0];
	*val = (const float *)w->data + r * (cols / 2);
	*idx = (const uint8_t *)w->data + (size_t)(rows * cols / 2) * sizeof(float) + r * (cols / 4);
}

/* Elements [k0, k0 + n) of row r of a 2:4-packed tensor (k0, n multiples
 * of 4). */
static void nm24_deq(const struct pb_tensor *w, int64_t r, int64_t k0, int64_t n, float *y)
{
	const float *v;
	const uint8_t *ix;
	nm24_row(w, r, &v, &ix);
	memset(y, 0, (size_t)n * sizeof *y);
	for (int64_t g = 0; g < n / 4; g++) {
		/* a group with fewer than two non-zeros stores zeros at free
		 * offsets, so writing both values is exact */
		const int64_t gg = k0 / 4 + g;
		y[4 * g + (ix[gg] & 3)] = v[2 * gg];
		y[4 * g + ((ix[gg] >> 2) & 3)] = v[2 * gg + 1];
	}
}

static void gemv_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const size_t rb = pb_row_bytes(j->w);
	const cb_dot_fn dot = j->s->dot[j->w->dtype];
	const int64_t r0 = task * j->rows_per_task;
	const int64_t r1 = r0 + j->rows_per_task < j->n_out ? r0 + j->rows_per_task : j->n_out;
	(void)tid;
	for (int64_t r = r0; r < r1; r++) {
		float out[CB_GEMV_MAX];
		if (j->w->dtype == PB_NM_2_4) {
			const float *v;
			const uint8_t *ix;
			nm24_row(j->w, r, &v, &ix);
			j->s->k.nm24(v, ix, j->n_in, j->x, j->xs, j->nt, out);
		} else {
			dot((const uint8_t *)j->w->data + (size_t)r * rb, j->n_in, j->x, j->xs, j->nt, out);
		}
		for (int t = 0; t < j->nt; t++)
			j->y[t * j->ys + r] = out[t];
	}
}

/* Q8_0 / Q4_0 / k-quant decode from the step's quantised activations
 * (s->xq). */
static void qgemv_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const size_t rb = pb_row_bytes(j->w);
	const cb_qdot_fn qdot = j->s->k.qdot[j->w->dtype];
	const int64_t r0 = task * j->rows_per_task;
	const int64_t r1 = r0 + j->rows_per_task < j->n_out ? r0 + j->rows_per_task : j->n_out;
	(void)tid;
	for (int64_t r = r0; r < r1; r++) {
		float out[CB_GEMV_MAX];
		qdot((const uint8_t *)j->w->data + (size_t)r * rb, j->n_in, &j->s->xq, j->nt, out);
		for (int t = 0; t < j->nt; t++)
			j->y[t * j->ys + r] = out[t];
	}
}

/* Decode on repacked rows: whole groups through the group kernel, the
 * rows after the last group through the row kernel on their stored bytes.
 * rows_per_task is a multiple of CB_RGROUP. */
static void rgemv_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const size_t rb = pb_row_bytes(j->w);
	const int64_t rg = j->cw->rp_groups * CB_RGROUP;
	const int64_t r0 = task * j->rows_per_task;
	const int64_t r1 = r0 + j->rows_per_task < j->n_out ? r0 + j->rows_per_task : j->n_out;
	(void)tid;
	for (int64_t r = r0; r < r1 && r < rg; r += CB_RGROUP)
		j->s->k.rdot[j->w->dtype](j->cw->rp + (size_t)r * rb, j->n_in, &j->s->xq, 0, j->nt,
					  j->y + r, j->ys);
	for (int64_t r = r0 > rg ? r0 : rg; r < r1; r++) {
		float out[CB_GEMV_MAX];
		j->s->k.qdot[j->w->dtype](j->cw->rp + (size_t)r * rb, j->n_in, &j->s->xq, j->nt, out);
		for (int t = 0; t < j->nt; t++)
			j->y[t * j->ys + r] = out[t];
	}
}

/* Int8 prefill: rows [r0, r1) for the j->nt tokens quantised in s->xq,
 * a group of rows against CB_RTOK tokens per call; rows after the last
 * group by the row kernel, CB_GEMV_MAX tokens at a time. */
static void qgemm_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const size_t rb = pb_row_bytes(j->w);
	const int64_t rg = j->cw->rp_groups * CB_RGROUP, nb = j->n_in / 32;
	const int64_t r0 = task * j->rows_per_task;
	const int64_t r1 = r0 + j->rows_per_task < j->n_out ? r0 + j->rows_per_task : j->n_out;
	const struct cb_xq *xq = &j->s->xq;
	(void)tid;
	for (int64_t r = r0; r < r1 && r < rg; r += CB_RGROUP)
		for (int t = 0; t < j->nt; t += CB_RTOK)
			j->s->k.rdot[j->w->dtype](j->cw->rp + (size_t)r * rb, j->n_in, xq, t,
						  j->nt - t < CB_RTOK ? j->nt - t : CB_RTOK,
						  j->y + t * j->ys + r, j->ys);
	for (int t = 0; t < j->nt && r1 > rg; t += CB_GEMV_MAX) {
		/* the row kernels read tokens 0 … from x: a view from token t */
		const struct cb_xq xt = {
			.q = xq->q + t * xq->n, .d = xq->d + t * nb, .dsum = xq->dsum + t * nb,
			.qsum = xq->qsum + t * nb, .n = xq->n, .cap = xq->cap,
		};
		const int m = j->nt - t < CB_GEMV_MAX ? j->nt - t : CB_GEMV_MAX;
		for (int64_t r = r0 > rg ? r0 : rg; r < r1; r++) {
			float out[CB_GEMV_MAX];
			j->s->k.qdot[j->w->dtype](j->cw->rp + (size_t)r * rb, j->n_in, &xt, m, out);
			for (int k = 0; k < m; k++)
				j->y[(t + k) * j->ys + r] = out[k];
		}
	}
}

/* The prompt's activations, one token per task. */
static void quant_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	struct cb_xq *xq = &j->s->xq;
	const int64_t n = j->n_in;
	(void)tid;
	j->s->k.quant_x(j->x + task * j->xs, n, xq->q + task * n, xq->d + task * (n / 32),
		      xq->dsum + task * (n / 32), xq->qsum + task * (n / 32));
}

/* Prefill tiles of the int8 GEMM: about 24 (two threads stay balanced),
 * whole groups, from the shape only. */
static int64_t int8_rows(int64_t n_out)
{
	int64_t r = (n_out + 23) / 24;
	return (r + CB_RGROUP - 1) / CB_RGROUP * CB_RGROUP;
}

/* Does this prefill take the int8 GEMM?  Only repacked tensors do (the
 * repacking holds the conditions: int8_act, whole blocks, rows). */
static int use_int8_gemm(const struct cb_state *s, const struct cb_weight *cw, int64_t n_in)
{
	return s->cfg.int8_gemm && cw->rp && n_in == s->m->tensors[cw - s->w].ne[0] &&
	       n_in <= s->xq.cap;
}

/* Does this decode step take the integer path?  Then quantise its tokens'
 * activations once, here, for every row to share. */
static int use_int8(struct cb_state *s, const struct pb_tensor *w, const float *x, int64_t xs,
		    int64_t n_in, int nt)
{
	const int kq = pb_dtype_is_kquant(w->dtype);
	if (!s->cfg.int8_act || nt > CB_GEMV_MAX || n_in % pb_dtype_block(w->dtype) ||
	    n_in > s->xq.cap || (w->dtype != PB_Q8_0 && w->dtype != PB_Q4_0 && !kq) ||
	    !s->k.qdot[w->dtype])
		return 0;
	s->xq.n = n_in;
	for (int t = 0; t < nt; t++) {
		if (kq)
			s->k.quant_k(x + t * xs, n_in, s->xq.q + t * n_in, s->xq.d + t * (n_in / 256),
				     s->xq.bsum + t * (n_in / 16));
		else
			s->k.quant_x(x + t * xs, n_in, s->xq.q + t * n_in, s->xq.d + t * (n_in / 32),
				      s->xq.dsum + t * (n_in / 32), s->xq.qsum + t * (n_in / 32));
	}
	return 1;
}

static void csr_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const struct cb_csr *c = j->csr;
	const int64_t r0 = task * j->rows_per_task;
	const int64_t r1 = r0 + j->rows_per_task < j->n_out ? r0 + j->rows_per_task : j->n_out;
	(void)tid;
	for (int64_t r = r0; r < r1; r++) {
		const int64_t k0 = c->row_ptr[r], k1 = c->row_ptr[r + 1];
		for (int t = 0; t < j->nt; t++) {
			const float *xr = j->x + t * j->xs;
			float a0 = 0, a1 = 0;
			int64_t k = k0;
			if (c->col16) {
				for (; k + 2 <= k1; k += 2) {
					a0 += c->val[k] * xr[c->col16[k]];
					a1 += c->val[k + 1] * xr[c->col16[k + 1]];
				}
				for (; k < k1; k++)
					a0 += c->val[k] * xr[c->col16[k]];
			} else {
				for (; k < k1; k++)
					a0 += c->val[k] * xr[c->col32[k]];
			}
			j->y[t * j->ys + r] = a0 + a1;
		}
	}
}

/* Row r's elements [k0, k0 + kc) for the native GEMM: F32 in place, the
 * other formats dequantised into buf (k0 and kc are whole blocks:
 * CB_GEMM_KC is a multiple of 256). */
static const float *gemm_row(const void *ctx, int64_t r, int64_t k0, int64_t kc, float *buf)
{
	const struct lin_job *j = ctx;
	const struct pb_tensor *w = j->w;
	const size_t rb = pb_row_bytes(w);
	const int64_t blk = pb_dtype_block(w->dtype);
	if (w->dtype == PB_F32)
		return (const float *)(const void *)((const uint8_t *)w->data + (size_t)r * rb) + k0;
	if (w->dtype == PB_NM_2_4)
		nm24_deq(w, r, k0, kc, buf);
	else
		j->s->deq[w->dtype]((const uint8_t *)w->data + (size_t)r * rb +
					    (size_t)(k0 / blk) * (rb / (size_t)(j->n_in / blk)),
				    kc, buf);
	return buf;
}

/* Prefill: one tile of rows_per_task output rows for every token, on the
 * native GEMM (gemm.h) or OpenBLAS sgemm. */
static void gemm_task(void *ctx, int64_t task, int tid)
{
	const struct lin_job *j = ctx;
	const int64_t r0 = task * j->rows_per_task;
	const int64_t nr = r0 + j->rows_per_task < j->n_out ? j->rows_per_task : j->n_out - r0;
	if (j->native) {
		/* NM_2_4's values and index bytes are two arrays: no prefetch;
		 * the common formats are packed from their bytes (gemm.h) */
		const enum pb_dtype dt = j->w->dtype;
		const struct cb_gemm_w gw = {
			.row = gemm_row, .ctx = j,
			.bytes = dt == PB_NM_2_4 ? NULL : j->w->data,
			.row_bytes = pb_row_bytes(j->w),
			.fmt = dt == PB_F16 ? CB_GEMM_F16 : dt == PB_BF16 ? CB_GEMM_BF16
			     : dt == PB_Q8_0 ? CB_GEMM_Q8_0 : dt == PB_Q4_0 ? CB_GEMM_Q4_0 : CB_GEMM_ROWS,
		};
		cb_gemm_tile(&j->s->gemm, &gw, r0, nr, j->n_in, j->x, j->xs, j->nt, j->y + r0, j->ys,
			     j->s->scratch[tid]);
		return;
	}
#ifdef CB_HAVE_OPENBLAS
	const size_t rb = pb_row_bytes(j->w);
	const uint8_t *wp = (const uint8_t *)j->w->data + (size_t)r0 * rb;
	const float *wt;
	if (j->w->dtype == PB_F32) {
		wt = (const float *)(const void *)wp;
	} else {
		float *sc = j->s->scratch[tid];
		for (int64_t r = 0; r < nr; r++) {
			if (j->w->dtype == PB_NM_2_4)
				nm24_deq(j->w, r0 + r, 0, j->n_in, sc + r * j->n_in);
			else
				j->s->deq[j->w->dtype](wp + (size_t)r * rb, j->n_in, sc + r * j->n_in);
		}
		wt = sc;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->nt, (int)nr, (int)j->n_in, 1.0f,
		    j->x, (int)j->xs, wt, (int)j->n_in, 0.0f, j->y + r0, (int)j->ys);
#endif
}

/* Prefill tiles: about PREFILL_TILES of them, rows a multiple of 8 within
 * [PREFILL_ROWS_MIN, PREFILL_ROWS_MAX] (CB_TILE at most when dequantised
 * into the scratch).  A function of n_out and the format only: a tiling
 * that followed the thread count would change the sgemm shapes, and with
 * them OpenBLAS's blocking and the rounding of the results. */
#define PREFILL_TILES 12
#define PREFILL_ROWS_MIN 32
#define PREFILL_ROWS_MAX 512

static int64_t prefill_rows(int64_t n_out, enum pb_dtype dt)
{
	int64_t r = (n_out + PREFILL_TILES - 1) / PREFILL_TILES;
	r = (r + 7) / 8 * 8;
	if (r < PREFILL_ROWS_MIN)
		r = PREFILL_ROWS_MIN;
	if (r > PREFILL_ROWS_MAX)
		r = PREFILL_ROWS_MAX;
	if (dt != PB_F32 && r > CB_TILE)
		r = CB_TILE;
	return r;
}

int cb_op_linear(struct cb_state *s, const struct pb_op *op)
{
	const int64_t n_in = op->p.linear.n_in, n_out = op->p.linear.n_out;
	const struct pb_tensor *w = NULL;
	if (s->m && op->weight >= 0 && op->weight < s->m->n_tensors &&
	    s->m->tensors[op->weight].dtype == PB_NM_2_4) {
		w = &s->m->tensors[op->weight];   /* sizes checked at weights_load */
		if (w->ne[0] != n_in || w->ne[1] != n_out) {
			CB_LOG(s, PB_LOG_ERROR, "linear: tensor '%s' is NM_2_4 [%lld × %lld], expected [%lld × %lld]",
			       w->name, (long long)w->ne[0], (long long)w->ne[1], (long long)n_in,
			       (long long)n_out);
			return -EINVAL;
		}
	} else {
		w = cb_weight(s, op, n_in, n_out);
	}
	const float *x = cb_at(s, &op->src[0], op->n_tokens, n_in, "src0", op);
	float *y = cb_at(s, &op->dst, op->n_tokens, n_out, "dst", op);
	if (!w || !x || !y)
		return -EINVAL;
	if (op->src[0].buf == op->dst.buf) {
		CB_LOG(s, PB_LOG_ERROR, "linear: src0 and dst share buffer %d", op->dst.buf);
		return -EINVAL;
	}
	if (op->n_tokens == 0 || n_out == 0)
		return 0;
	struct lin_job j = {
		.s = s, .w = w, .cw = &s->w[op->weight], .csr = s->w[op->weight].csr, .x = x, .y = y,
		.xs = op->src[0].stride, .ys = op->dst.stride, .n_in = n_in, .n_out = n_out,
		.nt = op->n_tokens,
	};
	const int64_t nth = s->n_threads;
	if (j.csr || op->n_tokens <= CB_GEMV_MAX) {
		/* about 16 tasks per thread, rows a multiple of 8: fine enough
		 * that the threads end a region within ~1/16 of it of each
		 * other (the pool claims them in shrinking batches, so few
		 * claims) */
		int64_t rpt = (n_out + 16 * nth - 1) / (16 * nth);
		rpt = rpt < 8 ? 8 : (rpt + 7) / 8 * 8;
		if (j.cw->rp)   /* whole groups per task */
			rpt = (rpt + CB_RGROUP - 1) / CB_RGROUP * CB_RGROUP;
		j.rows_per_task = rpt;
		if (j.csr) {
			/* CSR walks all tokens per row; prefill too, one pass over
			 * the non-zeros per GEMV_MAX tokens */
			for (int t0 = 0; t0 < op->n_tokens; t0 += CB_GEMV_MAX) {
				j.x = x + t0 * j.xs;
				j.y = y + t0 * j.ys;
				j.nt = op->n_tokens - t0 < CB_GEMV_MAX ? op->n_tokens - t0 : CB_GEMV_MAX;
				cb_pool_run(s->pool, csr_task, &j, (n_out + rpt - 1) / rpt);
			}
		} else if (use_int8(s, w, x, j.xs, n_in, op->n_tokens)) {
			cb_pool_run(s->pool, j.cw->rp ? rgemv_task : qgemv_task, &j,
				    (n_out + rpt - 1) / rpt);
		} else {
			cb_pool_run(s->pool, gemv_task, &j, (n_out + rpt - 1) / rpt);
		}
		return 0;
	}
	if (use_int8_gemm(s, j.cw, n_in)) {
		j.rows_per_task = int8_rows(n_out);
		s->xq.n = n_in;
		for (int t0 = 0; t0 < op->n_tokens; t0 += CB_XQ_TOKENS) {
			j.x = x + t0 * j.xs;
			j.y = y + t0 * j.ys;
			j.nt = op->n_tokens - t0 < CB_XQ_TOKENS ? op->n_tokens - t0 : CB_XQ_TOKENS;
			cb_pool_run(s->pool, quant_task, &j, j.nt);
			cb_pool_run(s->pool, qgemm_task, &j,
				    (n_out + j.rows_per_task - 1) / j.rows_per_task);
		}
		return 0;
	}
	j.native = j.cw->gemm_native;
	j.rows_per_task = j.native ? CB_GEMM_TILE : prefill_rows(n_out, w->dtype);
	cb_pool_run(s->pool, gemm_task, &j, (n_out + j.rows_per_task - 1) / j.rows_per_task);
	return 0;
}

int cb_linear_float_gemm(const struct cb_state *s, int idx)
{
	const struct pb_tensor *t = &s->m->tensors[idx];
	return pb_role_is_linear(t->role) && !s->w[idx].csr && t->ne[0] > 0 && t->ne[1] > 0 &&
	       !use_int8_gemm(s, &s->w[idx], t->ne[0]);
}

void cb_linear_gemm_rows(struct cb_state *s, int idx, const float *x, int nt, float *y,
			 int64_t rows, int native)
{
	const struct pb_tensor *w = &s->m->tensors[idx];
	struct lin_job j = {
		.s = s, .w = w, .cw = &s->w[idx], .x = x, .y = y, .xs = w->ne[0], .ys = rows,
		.n_in = w->ne[0], .n_out = rows, .nt = nt, .native = native,
		/* the tiles of the whole tensor's prefill */
		.rows_per_task = native ? CB_GEMM_TILE : prefill_rows(w->ne[1], w->dtype),
	};
	for (int64_t task = 0; task * j.rows_per_task < rows; task++)
		gemm_task(&j, task, 0);
}

void cb_csr_free(struct cb_csr *c)
{
	if (!c)
		return;
	free(c->row_ptr);
	free(c->col16);
	free(c->col32);
	free(c->val);
	free(c);
}

/* A CSR copy of F32 tensor t when its density is below threshold; *out
 * stays NULL otherwise. */
int cb_csr_build(const struct pb_tensor *t, double threshold, struct cb_csr **out)
{
	const int64_t rows = t->ne[1], cols = t->ne[0];
	const float *w = t->data;
	int64_t nnz = 0;
	*out = NULL;
	if (t->dtype != PB_F32 || rows < 1 || cols < 1 || threshold <= 0)
		return 0;
	for (int64_t i = 0; i < rows * cols; i++)
		nnz += w[i] != 0.0f;
	if ((double)nnz >= threshold * (double)(rows * cols))
		return 0;
	struct cb_csr *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->rows = rows;
	c->cols = cols;
	c->nnz = nnz;
	c->row_ptr = malloc((size_t)(rows + 1) * sizeof *c->row_ptr);
	c->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *c->val);
	if (cols <= 65536)
		c->col16 = malloc((size_t)(nnz ? nnz : 1) * sizeof *c->col16);
	else
		c->col32 = malloc((size_t)(nnz ? nnz : 1) * sizeof *c->col32);
	if (!c->row_ptr || !c->val || (!c->col16 && !c->col32)) {
		cb_csr_free(c);
		return -ENOMEM;
	}
	int64_t k = 0;
	for (int64_t r = 0; r < rows; r++) {
		c->row_ptr[r] = k;
		for (int64_t i = 0; i < cols; i++) {
			const float v = w[r * cols + i];
			if (v == 0.0f)
				continue;
			c->val[k] = v;
			if (c->col16)
				c->col16[k] = (uint16_t)i;
			else
				c->col32[k] = (uint32_t)i;
			k++;
		}
	}
	c->row_ptr[rows] = k;
	*out = c;
	return 0;
}

/* What runs tensor idx: "<isa>-<decode kernel>+<prefill path>", the isa
 * being the one whose kernel the decode step calls (none: portable C);
 * the prefill path is native-gemm-<isa> or [dequant-]openblas-sgemm,
 * after "auto:" when `gemm: auto` chose it (cb_init says why). */
void cb_linear_kernel(const struct cb_state *s, int idx, char *out, size_t len)
{
	const struct pb_tensor *t = &s->m->tensors[idx];
	const char *fdot = s->avx2 ? "avx2-" : !strcmp(s->k.isa, "neon") ? "neon-" : "";
	const char *qdot = !strcmp(s->k.isa, "avx512vnni") ? "vnni-" : s->avx2 ? "avx2-" : "";
	const int int8 = s->cfg.int8_act && t->ne[0] % pb_dtype_block(t->dtype) == 0 &&
			 s->k.qdot[t->dtype];
	static const char *const kq_name[] = { "q2k", "q3k", "q4k", "q5k", "q6k" };
	char pre[40];
	const int native = s->w[idx].gemm_native;
	snprintf(pre, sizeof pre, "%s%s%s", s->cfg.gemm == CB_GEMM_AUTO ? "auto:" : "",
		 native ? "native-gemm-" : t->dtype == PB_F32 ? "openblas-sgemm"
							    : "dequant-openblas-sgemm",
		 native ? s->gemm.isa : "");
	if (s->w[idx].csr)
		snprintf(out, len, "%s", s->w[idx].csr->col16 ? "csr16" : "csr32");
	else if (!pb_role_is_linear(t->role))
		snprintf(out, len, "cpu");
	else if (t->dtype == PB_NM_2_4)
		snprintf(out, len, "%snm24gemv+%s", s->avx2 ? "avx2-" : "", pre);
	else if ((t->dtype == PB_Q8_0 || t->dtype == PB_Q4_0) && s->w[idx].rp)
		snprintf(out, len, "%s%s-repacked+%s", qdot, t->dtype == PB_Q8_0 ? "q8xq8-gemv" :
			 "q4xq8-gemv", s->cfg.int8_gemm ? "int8-gemm" : pre);
	else if (t->dtype == PB_Q8_0 || t->dtype == PB_Q4_0)
		snprintf(out, len, "%s%s+%s", int8 ? qdot : fdot,
			 int8 ? (t->dtype == PB_Q8_0 ? "q8xq8-gemv" : "q4xq8-gemv")
			      : (t->dtype == PB_Q8_0 ? "q8gemv" : "q4gemv"), pre);
	else if (pb_dtype_is_kquant(t->dtype))   /* no NEON kernels: portable there */
		snprintf(out, len, "%s%s%s+%s", int8 ? qdot : s->avx2 ? "avx2-" : "",
			 kq_name[t->dtype - PB_Q2_K], int8 ? "xq8k-gemv" : "gemv", pre);
	else
		snprintf(out, len, "%sgemv+%s", fdot, pre);
}

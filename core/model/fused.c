/* core/model/fused.c — Phi-3's fused projections, held apart.
 *
 * llama.cpp's phi3 stores q, k and v as one attn_qkv matrix and the FFN's
 * gate and up as one ffn_up matrix (gate rows first).  Each part is a
 * contiguous range of rows, and every weight format keeps rows apart
 * (blocks never straddle a row), so the parts are views of the fused
 * data: no copy.  Held apart, a Phi-3 model is a Llama-family model to
 * everything downstream: the op list, the calibration taps (q/k/v and
 * gate/up stay one group: consecutive linears on one input), `heads`
 * keeping whole GQA groups, `ffn` shrinking gate, up and down together,
 * wanda/sparsegpt row by row, quantization row by row.  The GGUF writer
 * fuses them back (gguf-write.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "model/modelio.h"
#include "util/util.h"

/* Part `i` of a fused tensor f: rows [row0, row0 + rows), role r. */
static int part(struct pb_tensor *dst, const struct pb_tensor *f, enum pb_arch arch, enum pb_role r,
		int64_t row0, int64_t rows)
{
	const size_t rb = pb_row_bytes(f);
	*dst = *f;
	dst->role = r;
	dst->ne[1] = rows;
	dst->n_dims = 2;
	dst->nbytes = rb * (size_t)rows;
	dst->data = (uint8_t *)f->data + rb * (size_t)row0;
	dst->flags &= ~PB_TENSOR_OWNED;
	if (f->flags & PB_TENSOR_OWNED) {
		/* the fused buffer is freed after the split: the parts get copies */
		void *p = malloc(dst->nbytes ? dst->nbytes : 1);
		if (!p)
			return -ENOMEM;
		memcpy(p, dst->data, dst->nbytes);
		dst->data = p;
		dst->flags |= PB_TENSOR_OWNED;
	}
	return pb_tensor_name_arch(arch, dst->stack, dst->layer, r, dst->name, sizeof dst->name) < 0 ? -EINVAL : 0;
}

int pb_model_split_fused(struct pb_model *m, int spare, char *why, size_t len)
{
	const struct pb_hparams *hp = &m->hp;
	int extra = 0;
	for (int i = 0; i < m->n_tensors; i++)
		extra += m->tensors[i].role == PB_ROLE_ATTN_QKV ? 2 : m->tensors[i].role == PB_ROLE_FFN_GATE_UP;
	const size_t cap = (size_t)(m->n_tensors + extra + (spare > 0 ? spare : 0) + 1);
	struct pb_tensor *t = calloc(cap, sizeof *t);
	char *made = calloc(cap, 1);   /* t[k] is a part this call made */
	if (!t || !made) {
		free(t);
		free(made);
		return pb_errf(why, len, -ENOMEM, "out of memory");
	}
	int n = 0, rc = 0;
	for (int i = 0; i < m->n_tensors && rc == 0; i++) {
		const struct pb_tensor *f = &m->tensors[i];
		const int64_t q = (int64_t)hp->n_heads * hp->head_dim, kv = (int64_t)hp->n_kv_heads * hp->head_dim;
		if (f->role != PB_ROLE_ATTN_QKV && f->role != PB_ROLE_FFN_GATE_UP) {
			t[n++] = *f;
			continue;
		}
		if (f->ne[2] != 1 || f->ne[3] != 1 || !pb_row_bytes(f) || f->ne[0] != hp->dim) {
			rc = pb_errf(why, len, -EINVAL, "tensor '%s': %s [%lld, %lld] is not a [%d, rows] matrix of whole rows",
				     f->name, pb_dtype_name(f->dtype), (long long)f->ne[0], (long long)f->ne[1], hp->dim);
			break;
		}
		if (f->role == PB_ROLE_ATTN_QKV) {
			if (f->ne[1] != q + 2 * kv) {
				rc = pb_errf(why, len, -EINVAL,
					     "tensor '%s': %lld rows, expected q + 2 kv = %lld (%d heads, %d kv heads of %d)",
					     f->name, (long long)f->ne[1], (long long)(q + 2 * kv), hp->n_heads,
					     hp->n_kv_heads, hp->head_dim);
				break;
			}
			if ((rc = part(&t[n], f, m->arch, PB_ROLE_ATTN_Q, 0, q)) < 0 ||
			    (rc = part(&t[n + 1], f, m->arch, PB_ROLE_ATTN_K, q, kv)) < 0 ||
			    (rc = part(&t[n + 2], f, m->arch, PB_ROLE_ATTN_V, q + kv, kv)) < 0)
				break;
			made[n] = made[n + 1] = made[n + 2] = 1;
			n += 3;
		} else {
			if (f->ne[1] % 2 || f->ne[1] < 2) {
				rc = pb_errf(why, len, -EINVAL, "tensor '%s': %lld rows, expected gate and up rows (an even count)",
					     f->name, (long long)f->ne[1]);
				break;
			}
			const int64_t half = f->ne[1] / 2;
			if ((rc = part(&t[n], f, m->arch, PB_ROLE_FFN_GATE, 0, half)) < 0 ||
			    (rc = part(&t[n + 1], f, m->arch, PB_ROLE_FFN_UP, half, half)) < 0)
				break;
			made[n] = made[n + 1] = 1;
			n += 2;
		}
	}
	if (rc < 0) {
		/* copies made so far (of an owned fused tensor; a failing part
		 * may hold one past n) belong to t only */
		for (size_t k = 0; k < cap; k++)
			if ((made[k] || k >= (size_t)n) && (t[k].flags & PB_TENSOR_OWNED))
				free(t[k].data);
		free(t);
		free(made);
		if (rc == -ENOMEM)
			pb_sayf(why, len, "out of memory");
		else if (rc == -EINVAL && why && len && !why[0])
			pb_sayf(why, len, "a fused tensor's parts have no name in %s", pb_arch_name(m->arch));
		return rc;
	}
	for (int i = 0; i < m->n_tensors; i++)
		if ((m->tensors[i].role == PB_ROLE_ATTN_QKV || m->tensors[i].role == PB_ROLE_FFN_GATE_UP) &&
		    (m->tensors[i].flags & PB_TENSOR_OWNED))
			free(m->tensors[i].data);
	free(m->tensors);
	free(made);
	m->tensors = t;
	m->n_tensors = n;
	return 0;
}

/* plugins/backends/cpu-blas/mask.c — `mask_mode: runtime`: pruning masks
 * executed the way PyTorch's torch.nn.utils.prune does.  That module keeps
 * a pruned linear as the parameter `weight_orig` and the buffer
 * `weight_mask` (same shape and dtype) and, in a forward pre-hook, sets
 * `weight = weight_orig * weight_mask` on every call of the module: every
 * prefill, every decode step.  Here every F32 linear with at least one
 * zero (a pruned one; a dense weight has none) gets a float mask (1 where
 * the weight is non-zero, else 0) and an executed copy, and before each
 * graph (one forward the core submits) the executed copies of the linears
 * that graph uses are recomputed as weight_orig ⊙ mask on the thread pool;
 * the normal kernels then read them.  weight_orig is the weight as loaded
 * (the backend never sees the values before pruning; the arithmetic and
 * the memory traffic are the same).  The product equals the loaded weight
 * bit for bit, so outputs equal `baked`'s; a masked linear always runs
 * the dense kernels (never CSR), as PyTorch's does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-blas.h"

#define CB_MASK_CHUNK 16384   /* elements per task */

typedef float cb_v4 __attribute__((vector_size(16)));

void cb_masks_free(struct cb_state *s)
{
	struct cb_masks *k = &s->masks;
	for (int i = 0; i < k->n; i++) {
		free(k->m[i].mask);
		free(k->m[i].exec);
	}
	free(k->m);
	free(k->tensors);
	free(k->todo);
	memset(k, 0, sizeof *k);
}

static int64_t chunks(int64_t n)
{
	return (n + CB_MASK_CHUNK - 1) / CB_MASK_CHUNK;
}

/* Called by weights_load after s->w is allocated: sets s->w[i].mask and,
 * when any linear is masked, points s->m at the view. */
int cb_masks_build(struct cb_state *s, const struct pb_model *m)
{
	struct cb_masks *k = &s->masks;
	int n = 0;
	for (int i = 0; i < m->n_tensors; i++)
		s->w[i].mask = -1;
	if (!s->cfg.mask_runtime)
		return 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		n += pb_role_is_linear(t->role) && t->dtype == PB_F32;
	}
	k->m = calloc((size_t)(n ? n : 1), sizeof *k->m);
	k->tensors = malloc((size_t)(m->n_tensors ? m->n_tensors : 1) * sizeof *k->tensors);
	if (!k->m || !k->tensors)
		goto nomem;
	memcpy(k->tensors, m->tensors, (size_t)m->n_tensors * sizeof *k->tensors);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) || t->dtype != PB_F32)
			continue;
		const int64_t ne = pb_tensor_nelements(t);
		const float *w = t->data;
		int64_t zeros = 0;
		if (t->nbytes < (size_t)ne * sizeof(float))
			continue;   /* weights_load's checks reject it later */
		for (int64_t j = 0; j < ne; j++)
			zeros += w[j] == 0.0f;
		if (!zeros)
			continue;
		struct cb_mask *c = &k->m[k->n];
		c->tensor = i;
		c->n = ne;
		c->orig = w;
		if (posix_memalign((void **)&c->mask, 64, (size_t)ne * sizeof(float)) ||
		    posix_memalign((void **)&c->exec, 64, (size_t)ne * sizeof(float))) {
			c->mask = c->exec = NULL;   /* posix_memalign leaves them undefined */
			goto nomem;
		}
		k->n++;
		for (int64_t j = 0; j < ne; j++) {
			c->mask[j] = w[j] != 0.0f ? 1.0f : 0.0f;
			c->exec[j] = w[j] * c->mask[j];
		}
		k->tensors[i].data = c->exec;
		s->w[i].mask = k->n - 1;
		k->n_chunks += chunks(ne);
	}
	if (!k->n) {
		cb_masks_free(s);
		return 0;
	}
	k->todo = malloc((size_t)k->n_chunks * sizeof *k->todo);
	if (!k->todo)
		goto nomem;
	k->view = *m;
	k->view.tensors = k->tensors;
	s->m = &k->view;
	CB_LOG(s, PB_LOG_INFO, "mask_mode runtime: %d pruned F32 linear(s) recompute weight_orig ⊙ "
	       "mask before every step", k->n);
	return 0;
nomem:
	for (int i = 0; i < m->n_tensors; i++)
		s->w[i].mask = -1;
	cb_masks_free(s);
	return -ENOMEM;
}

static void mask_task(void *ctx, int64_t task, int tid)
{
	struct cb_state *s = ctx;
	const int64_t code = s->masks.todo[task];
	const struct cb_mask *c = &s->masks.m[code >> 32];
	const int64_t j0 = (code & 0xffffffff) * CB_MASK_CHUNK;
	const int64_t j1 = j0 + CB_MASK_CHUNK < c->n ? j0 + CB_MASK_CHUNK : c->n;
	const float *restrict o = c->orig, *restrict mk = c->mask;
	float *restrict y = c->exec;
	int64_t j = j0;
	(void)tid;
	/* SIMD (GCC/Clang vector extension: SSE, NEON), as PyTorch's
	 * elementwise mul is; the product is exact either way */
	for (; j + 8 <= j1; j += 8) {
		cb_v4 a0, a1, m0, m1;
		memcpy(&a0, o + j, sizeof a0);
		memcpy(&a1, o + j + 4, sizeof a1);
		memcpy(&m0, mk + j, sizeof m0);
		memcpy(&m1, mk + j + 4, sizeof m1);
		a0 *= m0;
		a1 *= m1;
		memcpy(y + j, &a0, sizeof a0);
		memcpy(y + j + 4, &a1, sizeof a1);
	}
	for (; j < j1; j++)
		y[j] = o[j] * mk[j];
}

/* The step entry: recompute the executed weights of the masked linears
 * graph g runs (each once, however many ops read it). */
void cb_masks_apply(struct cb_state *s, const struct pb_graph *g)
{
	struct cb_masks *k = &s->masks;
	int64_t n = 0;
	if (!k->n)
		return;
	for (int i = 0; i < k->n; i++)
		k->m[i].used = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type != PB_OP_LINEAR || op->weight < 0 || op->weight >= s->m->n_tensors)
			continue;
		const int mi = s->w[op->weight].mask;
		if (mi < 0 || k->m[mi].used)
			continue;
		k->m[mi].used = 1;
		for (int64_t c = 0; c < chunks(k->m[mi].n); c++)
			k->todo[n++] = (int64_t)mi << 32 | c;
	}
	if (n)
		cb_pool_run(s->pool, mask_task, s, n);
}

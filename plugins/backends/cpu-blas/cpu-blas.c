/* plugins/backends/cpu-blas/cpu-blas.c — the `cpu-blas` backend: fast CPU
 * inference with a persistent thread pool, AVX2/FMA/F16C GEMV kernels
 * chosen at run time (portable C otherwise), integer decode kernels for
 * Q8_0, Q4_0 and the k-quants Q2_K … Q6_K (Q8_0 / Q4_0 on rows repacked
 * at weights_load, and their prefill as an int8 GEMM), a native packed
 * GEMM (AVX-512 / AVX2 / NEON) or OpenBLAS sgemm for the other prefills,
 * CSR for sparse F32 linears and a fused one-pass attention.  Every op
 * equals the ref backend's up to float rounding (tests/cpu-blas).  This
 * file: the descriptor, options, state, buffers and op dispatch. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <prunebench/hugemap.h>

#ifdef CB_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "cpu-blas.h"

static int check_finite(struct cb_state *s, const struct pb_op *op, int i)
{
	int64_t w;
	struct pb_act d = op->dst;
	switch (op->type) {
	case PB_OP_EMBED: w = op->p.embed.dim; break;
	case PB_OP_LINEAR: w = op->p.linear.n_out; break;
	case PB_OP_RMSNORM: w = op->p.rmsnorm.dim; break;
	case PB_OP_ROPE: w = (int64_t)op->p.rope.n_heads * op->p.rope.head_dim; break;
	case PB_OP_ATTENTION: w = (int64_t)op->p.attention.n_heads * op->p.attention.head_dim; break;
	case PB_OP_KV_STORE: w = op->p.kv_store.width; d.off += op->p.kv_store.pos0 * d.stride; break;
	default: w = op->p.add.width; break;
	}
	const float *y = s->buf[d.buf].p + d.off;
	for (int64_t t = 0; t < op->n_tokens; t++)
		for (int64_t j = 0; j < w; j++)
			if (!isfinite(y[t * d.stride + j])) {
				CB_LOG(s, PB_LOG_ERROR, "op %d (%s): non-finite value at row %lld, column %lld",
				       i, cb_op_names[op->type], (long long)t, (long long)j);
				return -EDOM;
			}
	return 0;
}

static int cb_graph_compute(void *state, const struct pb_graph *g)
{
	struct cb_state *s = state;
	if (!s->m) {
		CB_LOG(s, PB_LOG_ERROR, "graph_compute before weights_load");
		return -EINVAL;
	}
	/* the step entry: mask_mode runtime recomputes weight = weight_orig ⊙
	 * mask for the linears this step uses, as PyTorch's pre-hook does */
	cb_masks_apply(s, g);
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		int rc;
		if (op->n_tokens < 0 || (unsigned)op->type >= PB_OP_COUNT) {
			CB_LOG(s, PB_LOG_ERROR, "op %d: bad type %d or n_tokens %d", i, op->type,
			       op->n_tokens);
			return -EINVAL;
		}
		switch (op->type) {
		case PB_OP_EMBED: rc = cb_op_embed(s, op, g); break;
		case PB_OP_LINEAR: rc = cb_op_linear(s, op); break;
		case PB_OP_RMSNORM: rc = cb_op_rmsnorm(s, op); break;
		case PB_OP_ROPE: rc = cb_op_rope(s, op); break;
		case PB_OP_ATTENTION: rc = cb_op_attention(s, op); break;
		case PB_OP_KV_STORE: rc = cb_op_kv_store(s, op); break;
		case PB_OP_GLU:
		case PB_OP_ACT:
		case PB_OP_ADD:
		case PB_OP_COPY:
		case PB_OP_ADD_BIAS: rc = cb_op_elementwise(s, op); break;
		default:
			CB_LOG(s, PB_LOG_ERROR, "op %d: type %d is not one this backend runs", i,
			       op->type);
			rc = -ENOTSUP;
			break;
		}
		if (rc == 0 && s->cfg.check_nan)
			rc = check_finite(s, op, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void free_weights(struct cb_state *s)
{
	for (int i = 0; s->w && i < s->n_w; i++) {
		cb_csr_free(s->w[i].csr);
		s->w[i].rp = NULL;
	}
	if (s->rp_arena)
		munmap(s->rp_arena, s->rp_arena_len);
	s->rp_arena = NULL;
	s->rp_arena_len = 0;
	free(s->w);
	s->w = NULL;
	s->n_w = 0;
	free(s->cal);
	s->cal = NULL;
	s->n_cal = 0;
	cb_masks_free(s);
	if (s->scratch)
		for (int i = 0; i < s->n_threads; i++)
			free(s->scratch[i]);
	free(s->scratch);
	s->scratch = NULL;
	free(s->xq.q);
	free(s->xq.d);
	free(s->xq.dsum);
	free(s->xq.qsum);
	free(s->xq.bsum);
	memset(&s->xq, 0, sizeof s->xq);
	s->m = NULL;
}

static int cb_weights_load(void *state, const struct pb_model *m)
{
	struct cb_state *s = state;
	int64_t widest = 1, widest_q = 0;
	int rc, n_csr = 0, n_rp = 0, n_paged = 0;
	size_t rp_bytes = 0;
	free_weights(s);
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (t->role == PB_ROLE_OTHER)
			continue;
		if (t->dtype == PB_NM_2_4) {
			const size_t nb = cb_nm24_bytes(t->ne[0], t->ne[1]);
			if (!pb_role_is_linear(t->role) || !nb || t->nbytes < nb || t->ne[2] != 1 ||
			    t->ne[3] != 1) {
				CB_LOG(s, PB_LOG_ERROR, "tensor '%s': NM_2_4 [%lld × %lld] in %zu bytes; this "
				       "backend runs 2:4-packed linears of whole groups (%zu bytes)", t->name,
				       (long long)t->ne[0], (long long)t->ne[1], t->nbytes, nb);
				return -ENOTSUP;
			}
		} else if (!(PB_FMT(t->dtype) & CB_DENSE_FORMATS) || !pb_row_bytes(t)) {
			CB_LOG(s, PB_LOG_ERROR, "tensor '%s' is %s [%lld × …]; this backend runs "
			       CB_DENSE_NAMES " in rows of whole blocks (32 elements for Q8_0 and Q4_0, "
			       "256 for the k-quants), and NM_2_4 linears", t->name,
			       pb_dtype_name(t->dtype), (long long)t->ne[0]);
			return -ENOTSUP;
		}
		widest = t->ne[0] > widest ? t->ne[0] : widest;
		/* the linears' and a tied output's: the integer decode path */
		if ((t->dtype == PB_Q8_0 || t->dtype == PB_Q4_0 || pb_dtype_is_kquant(t->dtype)) &&
		    (pb_role_is_linear(t->role) || t->role == PB_ROLE_TOK_EMBD))
			widest_q = t->ne[0] > widest_q ? t->ne[0] : widest_q;
	}
	s->m = m;
	s->w = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *s->w);
	s->n_w = s->w ? m->n_tensors : 0;
	s->scratch = calloc((size_t)s->n_threads, sizeof *s->scratch);
	if (!s->w || !s->scratch)
		goto nomem;
	/* per thread: a tile of CB_TILE dequantised rows (OpenBLAS prefill)
	 * or the native GEMM's panels, also the attention accumulator and the
	 * rmsnorm weight row */
	s->scratch_n = CB_TILE * widest;
	if (s->scratch_n < (int64_t)cb_gemm_scratch_floats())
		s->scratch_n = (int64_t)cb_gemm_scratch_floats();
	for (int i = 0; i < s->n_threads; i++)
		if (posix_memalign((void **)&s->scratch[i], 64, (size_t)s->scratch_n * sizeof(float)))
			goto nomem;
	/* the integer path's quantised activations: CB_GEMV_MAX tokens of the
	 * widest quantised linear (CB_XQ_TOKENS for the int8 prefill),
	 * allocated here so decode never allocates */
	if (widest_q >= 32) {
		const int64_t nt = s->cfg.int8_gemm && s->cfg.repack ? CB_XQ_TOKENS : CB_GEMV_MAX;
		const size_t nq = (size_t)(widest_q * nt), nb = nq / 32;
		s->xq.q = malloc(nq);
		s->xq.d = malloc(nb * sizeof *s->xq.d);
		s->xq.dsum = malloc(nb * sizeof *s->xq.dsum);
		s->xq.qsum = malloc(nb * sizeof *s->xq.qsum);
		s->xq.bsum = malloc((size_t)(widest_q * CB_GEMV_MAX) / 16 * sizeof *s->xq.bsum);
		if (!s->xq.q || !s->xq.d || !s->xq.dsum || !s->xq.qsum || !s->xq.bsum)
			goto nomem;
		s->xq.cap = widest_q;
	}
	if ((rc = cb_masks_build(s, m)) < 0)
		goto fail;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) || s->w[i].mask >= 0)
			continue;
		if ((rc = cb_csr_build(t, s->cfg.sparse_threshold, &s->w[i].csr)) < 0)
			goto fail;
		n_csr += s->w[i].csr != NULL;
	}
	if (n_csr)
		CB_LOG(s, PB_LOG_INFO, "%d linear(s) below density %.2f run as CSR", n_csr,
		       s->cfg.sparse_threshold);
	/* Q8_0 / Q4_0 rows interleaved for the group kernels (repack.c): the
	 * linears, and a tied output (the token embedding, whose lookups then
	 * read the repacked rows too: cb_row_bytes_of) */
	int untied = 0;
	for (int i = 0; i < m->n_tensors; i++)
		untied |= m->tensors[i].role == PB_ROLE_OUTPUT;
	/* one mapping for every repacked tensor, on huge pages unless
	 * `hugepages: false` (prunebench/hugemap.h); rp_at: each one's
	 * offset in it, SIZE_MAX for a tensor not repacked */
	size_t *rp_at = malloc((s->n_w > 0 ? (size_t)s->n_w : 1) * sizeof *rp_at);
	if (!rp_at)
		goto nomem;
	for (int i = 0; i < s->n_w; i++)
		rp_at[i] = SIZE_MAX;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) && (t->role != PB_ROLE_TOK_EMBD || untied))
			continue;
		const size_t b = cb_repack_bytes(s, i);
		if (b) {
			rp_at[i] = rp_bytes;
			rp_bytes += (b + 63) / 64 * 64;
			n_rp++;
		}
	}
	if (n_rp && !(s->rp_arena = pb_map_huge(rp_bytes, 0, s->cfg.hugepages, &s->rp_arena_len))) {
		free(rp_at);
		goto nomem;
	}
	for (int i = 0; i < m->n_tensors; i++)
		if (rp_at[i] != SIZE_MAX) {
			cb_repack_into(s, i, s->rp_arena + rp_at[i]);
			n_paged += s->w[i].rp_paged;
		}
	free(rp_at);
	if (n_rp)
		CB_LOG(s, PB_LOG_INFO, "%d Q8_0/Q4_0 tensor(s) repacked (%.1f MB)%s", n_rp,
		       (double)rp_bytes / 1e6, n_paged == n_rp ? "; the model's copies paged out"
		       : "; some of the model's copies stay resident (anonymous memory, or "
			 "int8_gemm off): up to that much more RSS, `repack: auto` avoids it");
	/* gemm auto: native or OpenBLAS per shape, measured once per machine */
	cb_calibrate(s);
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	free_weights(s);
	return rc;
}

/* Alike the ref backend's buffers, kept separate: ref, the ground truth,
 * shares no code with cpu-blas (ops.c, cb_op_embed). */
static void free_buffers(struct cb_state *s)
{
	for (int i = 0; i < s->n_buf; i++) {
		free(s->buf[i].p);
		free(s->buf[i].h);
	}
	free(s->buf);
	s->buf = NULL;
	s->n_buf = 0;
}

static int cb_buffers_alloc(void *state, const int64_t *sizes, int n)
{
	struct cb_state *s = state;
	free_buffers(s);
	if (n < 0)
		return -EINVAL;
	s->buf = calloc((size_t)(n ? n : 1), sizeof *s->buf);
	if (!s->buf)
		return -ENOMEM;
	s->n_buf = n;
	for (int i = 0; i < n; i++) {
		if (sizes[i] < 0)
			return -EINVAL;
		/* 64-byte aligned (a cache line, an AVX-512 vector) */
		size_t nb = (size_t)(sizes[i] ? sizes[i] : 1) * sizeof(float);
		if (posix_memalign((void **)&s->buf[i].p, 64, nb)) {
			s->buf[i].p = NULL;
			CB_LOG(s, PB_LOG_ERROR, "cannot allocate buffer %d of %lld floats", i,
			       (long long)sizes[i]);
			return -ENOMEM;
		}
		memset(s->buf[i].p, 0, nb);
		s->buf[i].n = sizes[i];
	}
	return 0;
}

static int cb_buffer_read(void *state, int buf, int64_t off, int64_t n, float *dst)
{
	struct cb_state *s = state;
	if (buf < 0 || buf >= s->n_buf || off < 0 || n < 0 || off > s->buf[buf].n - n)
		return -EINVAL;
	if (s->buf[buf].h)   /* a kv_f16 cache: its F16 copy is the live one */
		for (int64_t i = 0; i < n; i++)
			dst[i] = pb_fp16_to_fp32(s->buf[buf].h[off + i]);
	else
		memcpy(dst, s->buf[buf].p + off, (size_t)n * sizeof(float));
	return 0;
}

static int cb_buffer_write(void *state, int buf, int64_t off, int64_t n, const float *src)
{
	struct cb_state *s = state;
	if (buf < 0 || buf >= s->n_buf || off < 0 || n < 0 || off > s->buf[buf].n - n)
		return -EINVAL;
	memcpy(s->buf[buf].p + off, src, (size_t)n * sizeof(float));
	if (s->buf[buf].h)
		for (int64_t i = 0; i < n; i++)
			s->buf[buf].h[off + i] = pb_fp32_to_fp16(src[i]);
	return 0;
}

static int cb_weight_kernel(void *state, int idx, char *out, size_t len)
{
	struct cb_state *s = state;
	if (!s->m || idx < 0 || idx >= s->m->n_tensors)
		return -EINVAL;
	char k[64];
	cb_linear_kernel(s, idx, k, sizeof k);
	snprintf(out, len, "%s %s%s", pb_dtype_name(s->m->tensors[idx].dtype), k,
		 s->w[idx].mask >= 0 ? "+runtime-mask" : "");
	return 0;
}

static int cb_init(const struct pb_host *h, const void *config, void **state)
{
	struct cb_state *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return -ENOMEM;
	s->host = h;
	s->cfg.sparse_threshold = 0.35;
	s->cfg.int8_act = 1;
	s->cfg.repack = CB_REPACK_AUTO;
	s->cfg.int8_gemm = 1;
	if (config)
		s->cfg = *(const struct cb_config *)config;
	s->n_threads = (int)(s->cfg.threads > 0 ? s->cfg.threads : h->n_threads);
	if (s->n_threads < 1)
		s->n_threads = 1;
	cb_kernels_scalar(s->dot, s->deq);
	s->avx2 = !s->cfg.portable && cb_kernels_avx2(s->dot, s->deq);
	cb_kernels_scalar_ext(&s->k);
	if (s->avx2)
		cb_kernels_avx2_ext(&s->k);
	if (!s->cfg.portable && !s->avx2 && cb_kernels_neon(s->dot, s->deq))
		s->k.isa = "neon";   /* aarch64: ASIMD is baseline */
	/* attention (kernels-attn.c): the widest SIMD the CPU runs */
	cb_attn_kernels(&s->k, CB_ATTN_PORTABLE);
	if (!s->cfg.portable && !cb_attn_kernels(&s->k, CB_ATTN_AVX512))
		cb_attn_kernels(&s->k, CB_ATTN_AVX2);
	/* Prefill: the native GEMM at the best ISA the CPU runs (portable C
	 * under `portable`).  `auto` takes it where its kernel has been
	 * measured to beat OpenBLAS (AVX-512F, AVX2+FMA) and OpenBLAS
	 * otherwise: portable C loses to OpenBLAS's own kernels, and the NEON
	 * kernel (arm64) has only been checked for results under qemu, never
	 * timed on a board, so there it runs under `gemm: native` (or in a
	 * build without OpenBLAS) until a board's bench/tokens says it wins.
	 * A rule on the CPU's features, not a timing, so that two runs of one
	 * experiment on one machine choose alike, whatever `threads` and the
	 * load of the moment; it rests on bench/tokens' native-vs-OpenBLAS
	 * columns (on Zen 5 the AVX-512 kernel beats OpenBLAS at every
	 * prefill shape it times). */
	cb_gemm_portable(&s->gemm);
	if (!s->cfg.portable && !cb_gemm_avx512(&s->gemm) && !cb_gemm_avx2(&s->gemm))
		cb_gemm_neon(&s->gemm);
	s->gemm_native = s->cfg.gemm == CB_GEMM_NATIVE ||
			 (s->cfg.gemm == CB_GEMM_AUTO &&
			  (!strcmp(s->gemm.isa, "avx512") || !strcmp(s->gemm.isa, "avx2")));
#ifdef CB_HAVE_OPENBLAS
	/* our pool runs the sgemm tiles; OpenBLAS threads would spin against it */
	openblas_set_num_threads(1);
#else
	if (!s->gemm_native)
		CB_LOG(s, PB_LOG_WARN, "gemm: openblas, but this build has no OpenBLAS: the native "
		       "GEMM runs prefill");
	s->gemm_native = 1;
#endif
	if ((rc = cb_pool_create(&s->pool, s->n_threads)) < 0) {
		CB_LOG(s, PB_LOG_ERROR, "cannot start %d threads", s->n_threads);
		free(s);
		return rc;
	}
	CB_LOG(s, PB_LOG_DEBUG, "%d threads, %s kernels, %s attention, prefill on %s%s", s->n_threads,
	       s->k.isa, s->k.attn_isa, s->gemm_native ? "native-gemm-" : "OpenBLAS sgemm",
	       s->gemm_native ? s->gemm.isa : "");
	*state = s;
	return 0;
}

static void cb_fini(void *state)
{
	struct cb_state *s = state;
	if (!s)
		return;
	cb_pool_destroy(s->pool);
	free_buffers(s);
	free_weights(s);
	free(s);
}

static const struct pb_backend_ops cb_ops = {
	.struct_size = sizeof(struct pb_backend_ops),
	.formats = CB_FORMATS,
	.weights_load = cb_weights_load,
	.buffers_alloc = cb_buffers_alloc,
	.graph_compute = cb_graph_compute,
	.buffer_read = cb_buffer_read,
	.buffer_write = cb_buffer_write,
	.weight_kernel = cb_weight_kernel,
	.describe = cb_describe,
};

static const struct pb_option cb_options[] = {
	{ .key = "threads", .type = PB_OPT_INT, .offset = offsetof(struct cb_config, threads),
	  .def = "0", .min = 0, .max = 1024,
	  .help = "worker threads, the caller included; 0 = the cell's thread count "
		  "(CPU affinity, SLURM_CPUS_PER_TASK)" },
	{ .key = "sparse_threshold", .type = PB_OPT_DOUBLE,
	  .offset = offsetof(struct cb_config, sparse_threshold), .def = "0.35", .min = 0, .max = 1,
	  .help = "F32 linears whose density (non-zero fraction) is below this run as CSR; "
		  "0 = never.  The break-even depends on the machine: measure it with bench" },
	{ .key = "check_nan", .type = PB_OPT_BOOL, .offset = offsetof(struct cb_config, check_nan),
	  .def = "false", .help = "fail a step as soon as an op writes NaN or infinity" },
	{ .key = "int8_act", .type = PB_OPT_BOOL, .offset = offsetof(struct cb_config, int8_act),
	  .def = "true", .help = "decode Q8_0/Q4_0 and k-quant (Q2_K..Q6_K) weights against "
		  "activations quantised to 8 bits per block of 32 (256 for the k-quants), with "
		  "integer dot products (llama.cpp's method; ~1e-3 relative difference from ref); "
		  "false: float activations, slower" },
	{ .key = "repack", .type = PB_OPT_ENUM, .offset = offsetof(struct cb_config, repack),
	  .choices = "false|true|auto", .def = "auto",
	  .help = "with int8_act, reorder Q8_0/Q4_0 linears at load into groups of 16 "
		  "interleaved rows (same bytes) for faster integer decode and prefill, the "
		  "model's own copy then paged out; auto: only tensors read from a file mapping "
		  "(whose pages can go), so RSS holds one copy; true: also a model quantized in "
		  "memory, which then keeps both copies resident" },
	{ .key = "int8_gemm", .type = PB_OPT_BOOL, .offset = offsetof(struct cb_config, int8_gemm),
	  .def = "true", .help = "prefill repacked Q8_0/Q4_0 linears as an integer GEMM against "
		  "activations quantised to 8 bits per block of 32 (llama.cpp's method; logits "
		  "differ from dequantise + sgemm by the activations' rounding); false: "
		  "dequantise + sgemm" },
	{ .key = "hugepages", .type = PB_OPT_BOOL, .offset = offsetof(struct cb_config, hugepages),
	  .def = "true", .help = "hold the repacked weights in transparent huge pages "
		  "(madvise MADV_HUGEPAGE on one 2 MB-aligned mapping): decode streams every "
		  "weight once per token, and on 4 KB pages each page costs a TLB miss and "
		  "restarts the hardware prefetcher; false: 4 KB pages, to measure what they "
		  "cost.  Where the kernel has no THP the pages stay 4 KB" },
	{ .key = "kv_cache", .type = PB_OPT_ENUM, .offset = offsetof(struct cb_config, kv_f16),
	  .def = "f32", .choices = "f32|f16",
	  .help = "how the KV cache is held: f32, or f16 (half the bytes attention streams per "
		  "step, values rounded to half precision)" },
	{ .key = "portable", .type = PB_OPT_BOOL, .offset = offsetof(struct cb_config, portable),
	  .def = "false", .help = "use the portable C kernels even where AVX2 is available "
		  "(to measure what the SIMD kernels buy)" },
	{ .key = "mask_mode", .type = PB_OPT_ENUM, .offset = offsetof(struct cb_config, mask_runtime),
	  .def = "baked", .choices = "baked|runtime",
	  .help = "baked: pruned weights run as stored; runtime: PyTorch's torch.nn.utils.prune "
		  "execution: every F32 linear with zeros (a pruned one; dense weights have none) "
		  "keeps weight_orig and a float mask and recomputes weight = weight_orig * mask "
		  "before every forward (prefill, decode step, scoring), threaded, then runs the "
		  "dense kernels (never CSR) on it; outputs equal baked's.  2:4-packed and "
		  "quantized linears are not masked" },
	{ .key = "gemm", .type = PB_OPT_ENUM, .offset = offsetof(struct cb_config, gemm),
	  .def = "auto", .choices = "auto|native|openblas",
	  .help = "prefill and encode (more than 4 tokens): native = packed register-blocked "
		  "GEMM (AVX-512, AVX2+FMA, NEON on arm64 or portable C by the CPU; every format "
		  "dequantised into its panels); openblas = OpenBLAS sgemm on dequantised tiles; "
		  "auto = per linear shape and format, the faster of the two as timed on this "
		  "machine once and kept in gemm_cache; without a cache the rule: native where "
		  "its kernel was measured faster (AVX-512F or AVX2+FMA), openblas otherwise "
		  "(arm64 included: NEON not yet timed on a board).  The kernel column says "
		  "which ran, the manifest's backend_details why.  Results never depend on threads" },
	{ .key = "gemm_cache", .type = PB_OPT_STRING, .offset = offsetof(struct cb_config, gemm_cache),
	  .def = "auto", .help = "gemm auto's calibration: the file that keeps each shape's timing "
		  "so that later runs on this machine choose alike (auto: "
		  "$XDG_CACHE_HOME/prunebench/cpu-blas-gemm.tsv, else ~/.cache/prunebench/…); "
		  "off: no timing, the rule on the CPU's features" },
	PB_OPTIONS_END,
};

PB_EXPORT const struct pb_plugin pb_plugin = {
	.abi_version = PB_ABI_VERSION,
	.struct_size = sizeof(struct pb_plugin),
	.kind = PB_BACKEND,
	.name = "cpu-blas",
	.version = CB_VERSION,
	.summary = "fast CPU backend: thread pool, AVX2 GEMV, integer Q8_0/Q4_0/k-quant decode "
		   "(Q8_0/Q4_0 repacked, int8 prefill GEMM), native packed GEMM (or OpenBLAS) "
		   "prefill, CSR sparse, fused attention",
	.options = cb_options,
	.config_size = sizeof(struct cb_config),
	.init = cb_init,
	.fini = cb_fini,
	.ops = &cb_ops,
};

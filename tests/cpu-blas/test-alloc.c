/* tests/cpu-blas/test-alloc.c — the decode path allocates nothing once
 * warm: after a prefill and two warm-up decode steps, N more steps through
 * pb_session_forward (graph build in the core, graph_compute on cpu-blas
 * and its thread pool, logits read-back) must not call malloc, calloc,
 * realloc, posix_memalign, aligned_alloc or memalign, on dense F32, Q8_0,
 * CSR (70 % magnitude-pruned), packed NM_2_4 weights, and the integer
 * decode path (int8_act) of Q8_0 and of every k-quant.  And the run path's
 * decode loop as a cell runs it: pb_generate's per-token work (forward,
 * greedy argmax over the vocabulary, the token's stamp, the on_token
 * callback) with a probe sampler running and its phase boundaries marked,
 * counting what the generating thread allocates from the decode boundary
 * to the last token (the sampler thread's own allocations are not the
 * decode path's, and its probe allocates on purpose to show they are not
 * counted).
 *
 * The allocator is interposed in this binary: the definitions below win
 * over libc's for every caller in the process (the dlopened plugin and
 * its OpenBLAS included) and forward to glibc's __libc_* entry points
 * (not dlsym(RTLD_NEXT), which itself may calloc).  Under AddressSanitizer
 * the sanitizer owns malloc, so the test skips (exit 77). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_TEST_ASAN 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#define PB_TEST_ASAN 1
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "arch/arch.h"
#include "backends.h"
#include "kquant-ref.h"
#include "model/modelio.h"
#include "model/quant.h"
#include "run/generate.h"
#include "run/sampler.h"

#define N_PROMPT 8
#define N_WARM 2
#define N_STEPS 8

#ifndef PB_TEST_ASAN
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t k, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static int counting;   /* set only around the measured steps */
static long n_allocs;
/* this thread's allocations only (the generate loop's window): the
 * executable's initial-exec TLS, which itself never allocates */
static __thread int counting_here;

static void count(void)
{
	if (__atomic_load_n(&counting, __ATOMIC_RELAXED) || counting_here)
		__atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	count();
	return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	count();
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p && n)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

static int cmp_abs(const void *a, const void *b)
{
	float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
	return (x > y) - (x < y);
}

/* Zero the smallest |w| of every F32 linear (per tensor). */
static void magnitude(struct pb_model *m, double sparsity)
{
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) || t->dtype != PB_F32)
			continue;
		const int64_t n = pb_tensor_nelements(t);
		float *w = t->data, *c = malloc((size_t)n * sizeof *c);
		ck_assert_ptr_nonnull(c);
		memcpy(c, w, (size_t)n * sizeof *c);
		qsort(c, (size_t)n, sizeof *c, cmp_abs);
		const float thr = fabsf(c[(int64_t)(sparsity * (double)(n - 1))]);
		for (int64_t j = 0; j < n; j++)
			if (fabsf(w[j]) <= thr)
				w[j] = 0;
		free(c);
	}
}

/* 2:4 along rows (the two smallest |w| of every 4 zeroed), then packed
 * to NM_2_4 by the core, as a backend declaring the format receives it. */
static void nm24(struct pb_model *m)
{
	char err[512];
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) || t->dtype != PB_F32)
			continue;
		float *w = t->data;
		for (int64_t g = 0; g + 4 <= pb_tensor_nelements(t); g += 4)
			for (int z = 0; z < 2; z++) {
				int lo = -1;
				for (int j = 0; j < 4; j++)
					if (w[g + j] != 0 && (lo < 0 || fabsf(w[g + j]) < fabsf(w[g + lo])))
						lo = j;
				if (lo >= 0)
					w[g + lo] = 0;
			}
		ck_assert_msg(pb_tensor_pack_nm24(t, err, sizeof err) == 0, "%s", err);
	}
}

/* Every F32 linear whose rows are whole super-blocks (llama-15m: the FFN
 * down projections) becomes random k-quant blocks of type d. */
static void kquant(struct pb_model *m, enum pb_dtype d)
{
	for (int i = 0; i < m->n_tensors; i++) {
		struct pb_tensor *t = &m->tensors[i];
		if (!pb_role_is_linear(t->role) || t->dtype != PB_F32 || t->ne[0] % 256)
			continue;
		const int64_t ne[PB_MAX_DIMS] = { t->ne[0], t->ne[1], 1, 1 };
		const size_t rb = (size_t)(t->ne[0] / 256) * pb_dtype_block_bytes(d);
		ck_assert_int_eq(pb_tensor_realloc(t, d, ne, rb * (size_t)t->ne[1]), 0);
		for (int64_t r = 0; r < t->ne[1]; r++)
			kq_fill_row(d, (uint8_t *)t->data + r * rb, t->ne[0], KQ_RANDOM);
	}
}

/* Allocations during N_STEPS warm decode steps of m on cpu-blas with
 * `threads` workers (int8: the integer decode path); kernel: what a
 * linear (the first that runs it) must run with. */
static void check_decode(struct pb_model *m, int threads, int int8, const char *kernel)
{
	struct cb_config cfg = { .threads = threads, .sparse_threshold = 0.35, .check_nan = 1,
				 .int8_act = int8, .repack = int8, .int8_gemm = int8,
				 .hugepages = int8 };
	struct be cb;
	struct pb_session *s = NULL;
	char err[512], k[64] = "";
	float *logits = malloc((size_t)m->hp.vocab * sizeof *logits);
	int32_t tok[N_PROMPT];
	int rc[N_STEPS];
	ck_assert_ptr_nonnull(logits);
	be_open(&cb, "cpu-blas", &cfg);
	ck_assert_msg(cb.ops->weights_load(cb.st, m) == 0, "%s", be_last_log);
	ck_assert_msg(pb_session_open(m, cb.ops, cb.st, &s, err, sizeof err) == 0, "%s", err);
	for (int i = 0; i < m->n_tensors; i++)
		if (pb_role_is_linear(m->tensors[i].role)) {
			cb.ops->weight_kernel(cb.st, i, k, sizeof k);
			if (strstr(k, kernel))
				break;
		}
	ck_assert_msg(strstr(k, kernel), "kernel '%s', expected '%s'", k, kernel);
	for (int i = 0; i < N_PROMPT; i++)
		tok[i] = (int32_t)((i * 37 + 5) % m->hp.vocab);
	ck_assert_int_eq(pb_session_forward(s, tok, N_PROMPT, 0, logits), 0);
	for (int i = 0; i < N_WARM; i++)
		ck_assert_int_eq(pb_session_forward(s, &tok[i], 1, N_PROMPT + i, logits), 0);
	/* nothing that may allocate (ck_assert, printf) inside the window */
	__atomic_store_n(&n_allocs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < N_STEPS; i++)
		rc[i] = pb_session_forward(s, &tok[i % N_PROMPT], 1, N_PROMPT + N_WARM + i, logits);
	__atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
	const long got = __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
	for (int i = 0; i < N_STEPS; i++)
		ck_assert_msg(rc[i] == 0, "decode step %d: %d", i, rc[i]);
	for (int64_t i = 0; i < m->hp.vocab; i++)
		ck_assert_msg(isfinite(logits[i]), "logit %lld is %g", (long long)i, logits[i]);
	ck_assert_msg(got == 0, "%s (%s, %d threads): %ld allocations in %d warm decode steps",
		      m->name, k, threads, got, N_STEPS);
	printf("%s (%s, %d threads): 0 allocations in %d warm decode steps\n", m->name, k, threads,
	       N_STEPS);
	pb_session_close(s);
	be_close(&cb);
	free(logits);
}

static struct pb_model *synth(void)
{
	struct pb_model *m = NULL;
	char err[512];
	ck_assert_msg(pb_model_synth("llama-15m", 7, &m, err, sizeof err) == 0, "%s", err);
	return m;
}

START_TEST(dense)
{
	struct pb_model *m = synth();
	check_decode(m, 1, 0, "F32 ");
	check_decode(m, 3, 0, "F32 ");
	pb_model_free(m);
}
END_TEST

START_TEST(quantized)
{
	struct pb_model *m = synth();
	char err[512];
	ck_assert_msg(pb_model_convert(m, PB_Q8_0, err, sizeof err) == 0, "%s", err);
	check_decode(m, 2, 0, "Q8_0 ");
	check_decode(m, 2, 1, "q8xq8-gemv-repacked");
	pb_model_free(m);
}
END_TEST

START_TEST(sparse)
{
	struct pb_model *m = synth();
	magnitude(m, 0.7);
	check_decode(m, 2, 0, "csr");
	pb_model_free(m);
}
END_TEST

START_TEST(packed_nm24)
{
	struct pb_model *m = synth();
	nm24(m);
	check_decode(m, 2, 0, "nm24");
	pb_model_free(m);
}
END_TEST

START_TEST(kquants)
{
	for (int f = 0; f < 5; f++) {
		struct pb_model *m = synth();
		char want[16];
		kquant(m, kq_types[f]);
		snprintf(want, sizeof want, "q%dkxq8k", 2 + f);   /* the integer path */
		check_decode(m, 2, 1, want);
		pb_model_free(m);
	}
}
END_TEST

/* A probe that allocates on every read, as fopen() in a real probe does:
 * on the sampler thread, so never counted. */
static const struct pb_channel alloc_ch[] = {
	{ .name = "reads", .unit = "count", .kind = PB_COUNTER },
};

static int alloc_channels(void *state, const struct pb_channel **ch, int *n)
{
	(void)state;
	*ch = alloc_ch;
	*n = 1;
	return 0;
}

static int alloc_read(void *state, double *v)
{
	long *reads = state;
	char *p = malloc(256);
	if (!p)
		return -ENOMEM;
	snprintf(p, 256, "%ld", __atomic_add_fetch(reads, 1, __ATOMIC_RELAXED));
	v[0] = (double)strtol(p, NULL, 10);
	free(p);
	return 0;
}

static const struct pb_probe_ops alloc_probe = {
	.channels = alloc_channels,
	.read = alloc_read,
	.min_interval_ms = 1,
};

struct gen_window {
	struct pb_sampler *sampler;
	int last;       /* index of the last output token */
	int decoded;    /* the decode boundary was seen */
};

/* the cell's on_phase: a sampler boundary, then (decode) the window opens */
static void window_phase(void *ctx, int phase)
{
	struct gen_window *w = ctx;
	pb_sampler_phase(w->sampler, (enum pb_phase)phase);
	if (phase == PB_PHASE_DECODE) {
		w->decoded = 1;
		__atomic_store_n(&n_allocs, 0, __ATOMIC_RELAXED);
		counting_here = 1;
	}
}

/* the last token closes it (before the loop ends and the text is built) */
static int window_token(void *ctx, int32_t id, int i)
{
	struct gen_window *w = ctx;
	(void)id;
	if (i == w->last)
		counting_here = 0;
	return 0;
}

/* Allocations by the generating thread in pb_generate's decode loop:
 * n_new tokens after a prompt, cpu-blas on `threads` workers. */
static void check_generate(struct pb_model *m, int threads, int int8, int n_new)
{
	struct cb_config cfg = { .threads = threads, .sparse_threshold = 0.35, .int8_act = int8 };
	struct be cb;
	struct pb_session *s = NULL;
	long reads = 0;
	struct pb_probe_inst probe = { .name = "alloc", .ops = &alloc_probe, .state = &reads,
				       .interval_ms = 1 };
	struct gen_window w = { .last = n_new - 1 };
	struct pb_gen_request req = {
		.prompt = "Once upon a time, in a quiet town by the sea", .max_new_tokens = n_new,
		.stop_at_eos = 0, .add_bos = 1, .on_phase = window_phase, .on_token = window_token,
		.ctx = &w,
	};
	struct pb_gen_result g;
	char err[512];
	be_open(&cb, "cpu-blas", &cfg);
	ck_assert_msg(cb.ops->weights_load(cb.st, m) == 0, "%s", be_last_log);
	ck_assert_msg(pb_session_open(m, cb.ops, cb.st, &s, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(pb_sampler_start(&w.sampler, &probe, 1, PB_PHASE_WARMUP), 0);
	/* a warm-up request first, as a cell runs one */
	ck_assert_msg(pb_generate(s, m, pb_model_tokenizer(m), &req, &g, err, sizeof err) == 0, "%s", err);
	pb_gen_result_free(&g);
	w.decoded = 0;
	ck_assert_msg(pb_generate(s, m, pb_model_tokenizer(m), &req, &g, err, sizeof err) == 0, "%s", err);
	counting_here = 0;
	const long got = __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
	ck_assert_int_eq(g.n_out, n_new);
	ck_assert(w.decoded);
	pb_sampler_stop(w.sampler);
	ck_assert_msg(__atomic_load_n(&reads, __ATOMIC_RELAXED) > 2, "the probe was read %ld times", reads);
	ck_assert_msg(got == 0, "%s (%d threads, int8_act %d): %ld allocations in %d decode steps of "
		      "pb_generate", m->name, threads, int8, got, n_new - 1);
	printf("%s (%d threads, int8_act %d): 0 allocations in pb_generate's %d decode steps, "
	       "sampler running (%ld probe reads)\n", m->name, threads, int8, n_new - 1, reads);
	pb_gen_result_free(&g);
	pb_sampler_free(w.sampler);
	pb_session_close(s);
	be_close(&cb);
}

START_TEST(generate_loop)
{
	struct pb_model *m = synth();
	char err[512];
	check_generate(m, 1, 0, 24);
	check_generate(m, 2, 0, 24);
	ck_assert_msg(pb_model_convert(m, PB_Q4_0, err, sizeof err) == 0, "%s", err);
	check_generate(m, 2, 1, 24);
	pb_model_free(m);
}
END_TEST
#endif /* !PB_TEST_ASAN */

int main(void)
{
#ifdef PB_TEST_ASAN
	printf("skip: built with AddressSanitizer, which owns malloc (cannot interpose it)\n");
	return 77;
#else
	Suite *s = suite_create("cpu-blas-alloc");
	TCase *tc = tcase_create("alloc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dense);
	tcase_add_test(tc, quantized);
	tcase_add_test(tc, sparse);
	tcase_add_test(tc, packed_nm24);
	tcase_add_test(tc, kquants);
	tcase_add_test(tc, generate_loop);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
#endif
}

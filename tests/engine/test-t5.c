/* tests/engine/test-t5.c — the T5 op lists run on the ref backend (ref.c
 * linked in) against an independent naive T5 written here with plain
 * loops over the model's tensors: the encoder, then every decoder step
 * recomputed from scratch (no cache) and compared with the session's
 * cached steps, on tied ReLU, untied gated-GELU and structurally pruned
 * tiny models (the naive T5 is naive-t5.c).  Also the bucket function by hand, forward_all against
 * single steps, the relative-bias buffer layout, session checks, the
 * presets (shapes only for the big ones), and generation. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref-rig.h"
#include "arch/arch.h"
#include "model/modelio.h"
#include "run/generate.h"
#include "text/text.h"
#include "util/util.h"

#include "naive-t5.h"


static float at2(const struct pb_tensor *t, int64_t r, int64_t c)
{
	return ((const float *)t->data)[r * t->ne[0] + c];
}

static void assert_close(const float *a, const float *b, int n, double tol, const char *what)
{
	double mx = 0, worst = 0;
	int at = 0;
	for (int i = 0; i < n; i++)
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	for (int i = 0; i < n; i++)
		if (fabs(a[i] - b[i]) > worst) {
			worst = fabs(a[i] - b[i]);
			at = i;
		}
	ck_assert_msg(mx > 0, "%s: all-zero logits", what);
	ck_assert_msg(worst <= tol * mx, "%s: logit %d: %g vs %g (max |logit| %g)", what, at,
		      a[at], b[at], mx);
}

/* Encode n_src tokens; prefill the decoder with the start token and one
 * more, then decode steps one by one, each against the naive decoder
 * recomputed from scratch. */
static void compare(struct rig *r, int n_src, int n_tgt, int salt)
{
	const struct pb_model *m = r->m;
	const int vocab = m->hp.vocab;
	int32_t src[64], tgt[64];
	char what[64];
	float *got = malloc((size_t)vocab * 4), *want = malloc((size_t)vocab * 4 * 64);
	for (int i = 0; i < n_src; i++)
		src[i] = (int32_t)((i * 37 + 5 + salt) % vocab);
	tgt[0] = m->hp.decoder_start_id;
	for (int i = 1; i < n_tgt; i++)
		tgt[i] = (int32_t)((i * 101 + 7 + salt) % vocab);
	ck_assert_int_eq(pb_session_encode(r->s, src, n_src), 0);
	float *enc = naive_encode(m, src, n_src);
	ck_assert_int_eq(pb_session_forward(r->s, tgt, 2, 0, got), 0);
	naive_decode(m, enc, n_src, tgt, 2, want);
	assert_close(got, want + vocab, vocab, 1e-4, "prefill of 2");
	for (int st = 2; st < n_tgt; st++) {
		ck_assert_int_eq(pb_session_forward(r->s, tgt + st, 1, st, got), 0);
		naive_decode(m, enc, n_src, tgt, st + 1, want);
		snprintf(what, sizeof what, "decode step %d", st);
		assert_close(got, want + (size_t)st * vocab, vocab, 1e-4, what);
	}
	free(enc);
	free(got);
	free(want);
}

static struct pb_model *tiny(uint64_t seed, int gated, int tied, int n_enc, int n_dec)
{
	struct pb_hparams hp = {
		.dim = 32, .n_layers = n_dec, .n_enc_layers = n_enc, .n_heads = 4, .n_kv_heads = 4,
		.head_dim = 8, .ffn_dim = 48, .vocab = 300, .ctx = 32, .norm_eps = 1e-6f,
		.bos_id = -1, .eos_id = 1, .pad_id = 0, .unk_id = 2, .decoder_start_id = 0,
		.rel_buckets = 16, .rel_max_distance = 24,
		.ffn_act = gated ? PB_ACT_GELU : PB_ACT_RELU, .ffn_gated = gated,
		.logit_scale = tied ? 1.0f / sqrtf(32.0f) : 0.0f,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_msg(pb_model_synth_hp("tiny-t5", &hp, seed, &m, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(m->arch, PB_ARCH_T5);
	/* a larger embedding than the presets' so the logits are not tiny */
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), seed, 99, 0.5f);
	return m;
}

START_TEST(bucket_by_hand)
{
	/* T5's 32 buckets up to 128, encoder: 16 per direction, 8 exact, then
	 * thresholds ceil(8 * 16^(k/8)) = 12, 16, 23, 32, 46, 64, 91 */
	static const int bi[][2] = {
		{ 0, 0 }, { -1, 1 }, { 1, 17 }, { -7, 7 }, { 7, 23 }, { -8, 8 }, { -11, 8 },
		{ -12, 9 }, { 16, 26 }, { -22, 10 }, { -23, 11 }, { -63, 13 }, { -64, 14 },
		{ 64, 30 }, { -90, 14 }, { -91, 15 }, { -1000, 15 }, { 1000, 31 },
	};
	/* decoder: only the past, 16 exact, thresholds ceil(16 * 8^(k/16)) */
	static const int causal[][2] = {
		{ 5, 0 }, { 0, 0 }, { -5, 5 }, { -15, 15 }, { -16, 16 }, { -18, 16 }, { -19, 17 },
		{ -31, 21 }, { -32, 21 }, { -64, 26 }, { -127, 31 }, { -128, 31 }, { -5000, 31 },
	};
	for (size_t i = 0; i < sizeof bi / sizeof bi[0]; i++)
		ck_assert_msg(pb_t5_bucket(bi[i][0], 1, 32, 128) == bi[i][1], "bidirectional %d: %d, want %d",
			      bi[i][0], pb_t5_bucket(bi[i][0], 1, 32, 128), bi[i][1]);
	for (size_t i = 0; i < sizeof causal / sizeof causal[0]; i++)
		ck_assert_msg(pb_t5_bucket(causal[i][0], 0, 32, 128) == causal[i][1], "causal %d: %d, want %d",
			      causal[i][0], pb_t5_bucket(causal[i][0], 0, 32, 128), causal[i][1]);
	/* the two formulations agree everywhere, for T5's and the tests' tables */
	for (int rel = -300; rel <= 300; rel++)
		for (int b = 0; b < 2; b++) {
			ck_assert_int_eq(pb_t5_bucket(rel, b, 32, 128), naive_bucket(rel, b, 32, 128));
			ck_assert_int_eq(pb_t5_bucket(rel, b, 16, 24), naive_bucket(rel, b, 16, 24));
		}
}
END_TEST

START_TEST(forward_relu_tied)
{
	struct rig r;
	rig_open(&r, tiny(21, 0, 1, 2, 2));
	ck_assert(pb_session_is_seq2seq(r.s));
	compare(&r, 20, 14, 0);
	compare(&r, 5, 4, 3);   /* a new source resets the decoder */
	rig_close(&r);
}
END_TEST

START_TEST(forward_gated_gelu_untied)
{
	struct rig r;
	struct pb_model *m = tiny(22, 1, 0, 2, 3);
	ck_assert_ptr_nonnull(pb_model_find(m, -1, PB_ROLE_OUTPUT));
	ck_assert_ptr_ne(pb_model_find(m, -1, PB_ROLE_OUTPUT)->data,
			 pb_model_find(m, -1, PB_ROLE_TOK_EMBD)->data);
	rig_open(&r, m);
	compare(&r, 17, 12, 1);
	rig_close(&r);
}
END_TEST

static void reshape(struct pb_model *m, enum pb_stack st, int layer, enum pb_role role,
		    int64_t ne0, int64_t ne1)
{
	struct pb_tensor *t = pb_model_find_in(m, st, layer, role);
	int64_t ne[4] = { ne0, ne1, 1, 1 };
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(pb_tensor_realloc(t, PB_F32, ne, (size_t)(ne0 * ne1) * 4), 0);
	pb_synth_fill(t, 77, (uint64_t)(layer * 32 + role + 7 * st),
		      role == PB_ROLE_ATTN_REL_BIAS ? 1.0f : 1.0f / sqrtf((float)ne0));
}

static struct pb_tensor *drop(struct pb_model *m, enum pb_stack st, int layer, enum pb_role role)
{
	struct pb_tensor *t = pb_model_find_in(m, st, layer, role);
	ck_assert_ptr_nonnull(t);
	t->role = PB_ROLE_OTHER;
	t->layer = -1;
	return t;
}

/* A dropped tensor's slot becomes a block's own relative bias. */
static void own_bias(struct pb_model *m, struct pb_tensor *slot, enum pb_stack st, int layer,
		     int n_heads)
{
	slot->role = PB_ROLE_ATTN_REL_BIAS;
	slot->stack = st;
	slot->layer = layer;
	snprintf(slot->name, sizeof slot->name, "%s.blk.%d.attn_rel_b.weight",
		 st == PB_STACK_ENCODER ? "enc" : "dec", layer);
	reshape(m, st, layer, PB_ROLE_ATTN_REL_BIAS, n_heads, m->hp.rel_buckets);
}

static void heads(struct pb_model *m, enum pb_stack st, int l, int cross, int nh, int nkv)
{
	enum pb_role q = cross ? PB_ROLE_CROSS_Q : PB_ROLE_ATTN_Q;
	reshape(m, st, l, q, 32, nh * 8);
	reshape(m, st, l, q + 1, 32, nkv * 8);
	reshape(m, st, l, q + 2, 32, nkv * 8);
	reshape(m, st, l, q + 3, nh * 8, 32);
}

static void ffn(struct pb_model *m, enum pb_stack st, int l, int f)
{
	reshape(m, st, l, PB_ROLE_FFN_GATE, 32, f);
	reshape(m, st, l, PB_ROLE_FFN_UP, 32, f);
	reshape(m, st, l, PB_ROLE_FFN_DOWN, f, 32);
}

/* structured pruning: heads, kv heads and FFN widths differ per block
 * and per stack, blocks with their own relative bias, sub-blocks removed */
START_TEST(forward_pruned_shapes)
{
	const enum pb_stack E = PB_STACK_ENCODER, D = PB_STACK_DECODER;
	struct pb_model *m = tiny(23, 1, 1, 2, 3);
	/* encoder 0 loses its FFN (its norm's slot becomes encoder 1's bias);
	 * encoder 1: 3 heads, FFN 20 */
	struct pb_tensor *slot = drop(m, E, 0, PB_ROLE_FFN_NORM);
	drop(m, E, 0, PB_ROLE_FFN_GATE);
	drop(m, E, 0, PB_ROLE_FFN_UP);
	drop(m, E, 0, PB_ROLE_FFN_DOWN);
	heads(m, E, 1, 0, 3, 3);
	own_bias(m, slot, E, 1, 3);
	ffn(m, E, 1, 20);
	/* decoder 0: cross 2 heads over 1 kv head, FFN 64 */
	heads(m, D, 0, 1, 2, 1);
	ffn(m, D, 0, 64);
	/* decoder 1: self 2 heads with its own bias, cross 6 heads (wider) */
	heads(m, D, 1, 0, 2, 2);
	heads(m, D, 1, 1, 6, 6);
	/* decoder 2: no self-attention, no FFN, cross only */
	drop(m, D, 2, PB_ROLE_ATTN_Q);
	drop(m, D, 2, PB_ROLE_ATTN_K);
	drop(m, D, 2, PB_ROLE_ATTN_V);
	drop(m, D, 2, PB_ROLE_ATTN_O);
	drop(m, D, 2, PB_ROLE_ATTN_NORM);
	slot = drop(m, D, 2, PB_ROLE_FFN_NORM);
	drop(m, D, 2, PB_ROLE_FFN_GATE);
	drop(m, D, 2, PB_ROLE_FFN_UP);
	drop(m, D, 2, PB_ROLE_FFN_DOWN);
	own_bias(m, slot, D, 1, 2);
	struct rig r;
	rig_open(&r, m);
	compare(&r, 13, 10, 2);
	rig_close(&r);
}
END_TEST

/* forward_all: every row equals the step-by-step logits, for T5 and llama,
 * over more rows than one head graph holds (16) */
static void all_rows_vs_steps(struct rig *r, int n)
{
	const int vocab = r->m->hp.vocab;
	int32_t tok[32], src[6] = { 40, 41, 42, 43, 44, 1 };
	float *all = malloc((size_t)n * vocab * 4), *one = malloc((size_t)vocab * 4);
	char what[64];
	for (int i = 0; i < n; i++)
		tok[i] = (int32_t)((i * 53 + 11) % vocab);
	if (pb_session_is_seq2seq(r->s))
		ck_assert_int_eq(pb_session_encode(r->s, src, 6), 0);
	ck_assert_int_eq(pb_session_forward_all(r->s, tok, n, 0, all), 0);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(pb_session_forward(r->s, tok + i, 1, i, one), 0);
		snprintf(what, sizeof what, "row %d", i);
		assert_close(all + (size_t)i * vocab, one, vocab, 1e-5, what);
	}
	if (pb_session_is_seq2seq(r->s)) {
		float *enc = naive_encode(r->m, src, 6), *want = malloc((size_t)n * vocab * 4);
		naive_decode(r->m, enc, 6, tok, n, want);
		for (int i = 0; i < n; i++)
			assert_close(all + (size_t)i * vocab, want + (size_t)i * vocab, vocab, 1e-4, "naive row");
		free(enc);
		free(want);
	}
	free(all);
	free(one);
}

START_TEST(forward_all_rows)
{
	struct rig r;
	rig_open(&r, tiny(24, 0, 1, 1, 2));
	all_rows_vs_steps(&r, 20);
	rig_close(&r);

	struct pb_hparams hp = {
		.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8,
		.ffn_dim = 48, .vocab = 300, .ctx = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
		.bos_id = 1, .eos_id = 2,
	};
	struct pb_model *m = NULL;
	char err[256];
	ck_assert_int_eq(pb_model_synth_hp("tiny", &hp, 5, &m, err, sizeof err), 0);
	pb_synth_fill(pb_model_find(m, -1, PB_ROLE_TOK_EMBD), 5, 99, 0.5f);
	rig_open(&r, m);
	ck_assert(!pb_session_is_seq2seq(r.s));
	all_rows_vs_steps(&r, 19);
	rig_close(&r);
}
END_TEST

/* The bias buffer holds head h, query t, key j at (h * n + t) * n_kv + j
 * (ops.h), the table value of j - (pos0 + t)'s bucket; and the graph's
 * shape: no scaling, shared bias, cross-attention over the source. */
START_TEST(bias_layout_and_graph)
{
	struct rig r;
	rig_open(&r, tiny(25, 0, 1, 2, 2));
	const struct pb_model *m = r.m;
	int32_t src[9] = { 10, 20, 30, 40, 50, 60, 70, 80, 1 }, tgt[3] = { 0, 5, 6 };
	ck_assert_int_eq(pb_session_encode(r.s, src, 9), 0);
	const int enc_buf = PB_SESSION_KV0 + 4 * 2, dec_buf = enc_buf + 1;
	float got[4 * 9 * 9];
	ck_assert_int_eq(r.ops->buffer_read(r.state, enc_buf, 0, 4 * 81, got), 0);
	const struct pb_tensor *erel = pb_model_find_in(m, PB_STACK_ENCODER, 0, PB_ROLE_ATTN_REL_BIAS);
	for (int h = 0; h < 4; h++)
		for (int t = 0; t < 9; t++)
			for (int j = 0; j < 9; j++)
				ck_assert_float_eq(got[(h * 9 + t) * 9 + j],
						   at2(erel, naive_bucket(j - t, 1, 16, 24), h));
	/* a decoder step of 2 tokens at position 3: keys 0..4 */
	const struct pb_graph *g = pb_session_graph(r.s, tgt + 1, 2, 3);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(r.ops->buffer_read(r.state, dec_buf, 0, 4 * 2 * 5, got), 0);
	const struct pb_tensor *drel = pb_model_find_in(m, PB_STACK_DECODER, 0, PB_ROLE_ATTN_REL_BIAS);
	for (int h = 0; h < 4; h++)
		for (int t = 0; t < 2; t++)
			for (int j = 0; j < 5; j++)
				ck_assert_float_eq(got[(h * 2 + t) * 5 + j],
						   at2(drel, naive_bucket(j - 3 - t, 0, 16, 24), h));
	int self = 0, cross = 0;
	for (int i = 0; i < g->n_ops; i++) {
		const struct pb_op *op = &g->ops[i];
		if (op->type != PB_OP_ATTENTION)
			continue;
		ck_assert_float_eq(op->p.attention.scale, 1.0f);
		if (op->p.attention.bias.buf >= 0) {
			self++;
			ck_assert_int_eq(op->p.attention.bias.buf, dec_buf);
			ck_assert_int_eq(op->p.attention.bias.stride, 5);
			ck_assert_int_eq(op->p.attention.n_kv, 5);
			ck_assert_int_eq(op->p.attention.causal, 1);
		} else {
			cross++;
			ck_assert_int_eq(op->p.attention.n_kv, 9);
			ck_assert_int_eq(op->p.attention.causal, 0);
		}
	}
	ck_assert_int_eq(self, 2);
	ck_assert_int_eq(cross, 2);
	const struct pb_op *nrm = &g->ops[g->n_ops - 2];
	ck_assert_int_eq(nrm->type, PB_OP_RMSNORM);
	ck_assert_float_eq_tol(nrm->p.rmsnorm.scale, 1.0f / sqrtf(32.0f), 1e-7);
	rig_close(&r);
}
END_TEST

START_TEST(session_checks)
{
	struct rig r;
	char err[512];
	float logits[300];
	int32_t t[40] = { 0 };
	rig_open(&r, tiny(26, 0, 1, 1, 1));
	/* no source yet */
	ck_assert_int_eq(pb_session_forward(r.s, t, 1, 0, logits), -EINVAL);
	ck_assert_ptr_null(pb_session_graph(r.s, t, 1, 0));
	ck_assert_int_eq(pb_session_encode(r.s, t, 33), -EINVAL);
	ck_assert_int_eq(pb_session_encode(r.s, t, 0), -EINVAL);
	t[3] = 300;
	ck_assert_int_eq(pb_session_encode(r.s, t, 4), -EINVAL);
	t[3] = 7;
	ck_assert_int_eq(pb_session_encode(r.s, t, 32), 0);
	ck_assert_int_eq(pb_session_forward(r.s, t, 32, 0, logits), 0);
	ck_assert_int_eq(pb_session_forward(r.s, t, 1, 32, logits), -EINVAL);
	/* blocks the session refuses */
	struct pb_session *s2 = NULL;
	struct pb_tensor *ck = drop(r.m, PB_STACK_DECODER, 0, PB_ROLE_CROSS_K);
	ck_assert_int_eq(pb_session_open(r.m, r.ops, r.state, &s2, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "block 0") && strstr(err, "cross"), "%s", err);
	ck->role = PB_ROLE_CROSS_K;
	ck->layer = 0;
	struct pb_tensor *rel = drop(r.m, PB_STACK_ENCODER, 0, PB_ROLE_ATTN_REL_BIAS);
	ck_assert_int_eq(pb_session_open(r.m, r.ops, r.state, &s2, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "relative attention bias"), "%s", err);
	rel->role = PB_ROLE_ATTN_REL_BIAS;
	rel->layer = 0;
	heads(r.m, PB_STACK_ENCODER, 0, 0, 2, 2);   /* 2 heads, the shared table has 4 */
	ck_assert_int_eq(pb_session_open(r.m, r.ops, r.state, &s2, err, sizeof err), -EINVAL);
	ck_assert_msg(strstr(err, "own bias"), "%s", err);
	/* a backend that cannot write buffers cannot run T5 */
	struct pb_backend_ops no_write = *r.ops;
	no_write.buffer_write = NULL;
	heads(r.m, PB_STACK_ENCODER, 0, 0, 4, 4);
	ck_assert_int_eq(pb_session_open(r.m, &no_write, r.state, &s2, err, sizeof err), -ENOTSUP);
	rig_close(&r);
}
END_TEST

/* The presets: T5 shapes, HF's parameter counts, synthesis determinism;
 * llama-1b only from its table (4.4 GB). */
START_TEST(presets)
{
	const struct pb_synth_preset *p = pb_synth_find("llama-1b");
	ck_assert_ptr_nonnull(p);
	const struct pb_hparams *h = &p->hp;
	ck_assert_int_eq(h->dim, 2048);
	ck_assert_int_eq(h->n_layers, 22);
	ck_assert_int_eq(h->n_heads, 32);
	ck_assert_int_eq(h->n_kv_heads, 4);
	ck_assert_int_eq(h->head_dim, 64);
	ck_assert_int_eq(h->ffn_dim, 5632);
	ck_assert_int_eq(h->vocab, 32000);
	ck_assert_int_eq(h->ctx, 2048);
	ck_assert_float_eq(h->rope_theta, 10000.0f);
	ck_assert_int_eq(h->n_enc_layers, 0);
	int64_t kv = (int64_t)h->n_kv_heads * h->head_dim;
	int64_t llama = 2 * (int64_t)h->vocab * h->dim + h->dim +
			h->n_layers * (2 * (int64_t)h->dim * h->dim + 2 * h->dim * kv +
				       3 * (int64_t)h->dim * h->ffn_dim + 2 * h->dim);
	ck_assert_int_eq(llama, 1100048384);   /* TinyLlama-1.1B, untied */

	static const struct { const char *name; int d, enc, dec, heads, ff, act, gated; } t5[] = {
		{ "t5-small", 512, 6, 6, 8, 2048, PB_ACT_RELU, 0 },
		{ "t5-base", 768, 12, 12, 12, 3072, PB_ACT_RELU, 0 },
		{ "flan-t5-small", 512, 8, 8, 6, 1024, PB_ACT_GELU, 1 },
	};
	for (size_t i = 0; i < 3; i++) {
		h = &pb_synth_find(t5[i].name)->hp;
		ck_assert_int_eq(h->dim, t5[i].d);
		ck_assert_int_eq(h->n_enc_layers, t5[i].enc);
		ck_assert_int_eq(h->n_layers, t5[i].dec);
		ck_assert_int_eq(h->n_heads, t5[i].heads);
		ck_assert_int_eq(h->head_dim, 64);
		ck_assert_int_eq(h->ffn_dim, t5[i].ff);
		ck_assert_int_eq(h->ffn_act, t5[i].act);
		ck_assert_int_eq(h->ffn_gated, t5[i].gated);
		ck_assert_int_eq(h->vocab, 32128);
		ck_assert_int_eq(h->ctx, 512);
		ck_assert_int_eq(h->rel_buckets, 32);
		ck_assert_int_eq(h->rel_max_distance, 128);
		ck_assert_int_eq(h->eos_id, 1);
		ck_assert_int_eq(h->pad_id, 0);
		ck_assert_int_eq(h->decoder_start_id, 0);
		ck_assert_int_eq(h->unk_id, 2);
		/* tied heads are scaled by d_model^-0.5, the untied one is not */
		ck_assert_float_eq_tol(h->logit_scale, t5[i].gated ? 0.0f : 1.0f / sqrtf((float)h->dim), 1e-7);
	}

	/* the seed decides the weights (tiny models: cheaper than t5-small) */
	char h1[65], h2[65];
	struct pb_model *x = tiny(3, 1, 0, 1, 1), *y = tiny(4, 1, 0, 1, 1);
	pb_model_hash(x, h1);
	pb_model_hash(y, h2);
	ck_assert_str_ne(h1, h2);
	pb_model_free(x);
	pb_model_free(y);
}
END_TEST

/* t5-small: synthesis is deterministic and has HF's shapes; greedy
 * generation through the encoder and decoder varies and is timed. */
START_TEST(t5_small)
{
	char err[512], h1[65], h2[65];
	struct pb_model *a = NULL, *b = NULL;
	double t0 = pb_now_ms();
	ck_assert_int_eq(pb_model_synth("t5-small", 1, &a, err, sizeof err), 0);
	double ms = pb_now_ms() - t0;
	ck_assert_int_eq(pb_model_synth("t5-small", 1, &b, err, sizeof err), 0);
	pb_model_hash(a, h1);
	pb_model_hash(b, h2);
	ck_assert_str_eq(h1, h2);
	pb_model_free(b);
	fprintf(stderr, "synth t5-small: %.0f ms\n", ms);
	int64_t params = 0;
	pb_model_count(a, 0, &params, NULL, NULL);
	ck_assert_int_eq(params, 60506624);   /* HF t5-small */
	ck_assert_int_eq(a->arch, PB_ARCH_T5);
	ck_assert_ptr_nonnull(pb_model_find_in(a, PB_STACK_ENCODER, 5, PB_ROLE_FFN_DOWN));
	ck_assert_ptr_null(pb_model_find_in(a, PB_STACK_ENCODER, 1, PB_ROLE_ATTN_REL_BIAS));
	ck_assert_str_eq(pb_model_find_in(a, PB_STACK_DECODER, 0, PB_ROLE_ATTN_REL_BIAS)->name,
			 "dec.blk.0.attn_rel_b.weight");
	ck_assert_str_eq(pb_model_find_in(a, PB_STACK_DECODER, 3, PB_ROLE_CROSS_V)->name,
			 "dec.blk.3.cross_attn_v.weight");
	const struct pb_tokenizer *tok = pb_model_tokenizer(a);
	int32_t ids[4];
	ck_assert_int_eq(pb_tokenize(tok, "Hi", 0, ids, 4), 2);
	ck_assert_int_eq(ids[0], 3 + 'H');
	ck_assert_int_eq(pb_tokenizer_eos(tok), 1);
	ck_assert_str_eq(pb_tokenizer_piece(tok, 0), "<pad>");
	ck_assert_str_eq(pb_tokenizer_piece(tok, 2), "<unk>");

	struct pb_model *m = a;
	struct rig r;
	rig_open(&r, m);
	struct pb_gen_request req = { .prompt = "summarize: a cat", .max_new_tokens = 16 };
	struct pb_gen_result res, again;
	ck_assert_msg(pb_generate(r.s, m, pb_model_tokenizer(m), &req, &res, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(res.n_prompt, 17);   /* 16 bytes + EOS */
	ck_assert_int_eq(res.n_out, 16);
	ck_assert(res.encode_ms > 0 && res.encode_ms < res.ttft_ms && res.ttft_ms <= res.e2e_ms);
	ck_assert_double_eq(res.prefill_ms, res.encode_ms);
	ck_assert_double_eq(res.token_ms[0], res.ttft_ms);
	int distinct = 0;
	for (int i = 0; i < res.n_out; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= res.tokens[j] == res.tokens[i];
		distinct += !seen;
	}
	ck_assert_msg(distinct >= 6, "greedy output nearly constant: %d distinct tokens", distinct);
	ck_assert_int_ge((int)strlen(res.text), 8);
	ck_assert_int_eq(pb_generate(r.s, m, pb_model_tokenizer(m), &req, &again, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(res.tokens, again.tokens, 16 * sizeof(int32_t)), 0);
	fprintf(stderr, "t5-small: encode %.1f ms, ttft %.1f ms, %d distinct of 16: \"%s\"\n",
		res.encode_ms, res.ttft_ms, distinct, res.text);
	pb_gen_result_free(&res);
	pb_gen_result_free(&again);
	rig_close(&r);
}
END_TEST

START_TEST(generate_truncation_and_eos)
{
	struct rig r;
	char err[512];
	rig_open(&r, tiny(27, 0, 1, 1, 1));
	/* 40 bytes + EOS into ctx 32: the start and the EOS are kept */
	struct pb_gen_request req = {
		.prompt = "0123456789012345678901234567890123456789", .max_new_tokens = 100,
	};
	struct pb_gen_result res;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_prompt, 32);
	ck_assert_int_eq(res.truncated, 1);
	ck_assert_int_eq(res.n_out, 32);   /* the decoder's own context */
	pb_gen_result_free(&res);
	/* stop at EOS: a zero final norm makes every logit 0, greedy takes
	 * the lowest index, and we call that index EOS */
	struct pb_tensor *on = pb_model_find(r.m, -1, PB_ROLE_OUT_NORM);
	memset(on->data, 0, on->nbytes);
	r.m->hp.eos_id = 0;
	req.prompt = "hi";
	req.max_new_tokens = 8;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_out, 8);
	ck_assert_int_eq(res.n_prompt, 3);
	pb_gen_result_free(&res);
	req.stop_at_eos = 1;
	ck_assert_int_eq(pb_generate(r.s, r.m, pb_model_tokenizer(r.m), &req, &res, err, sizeof err), 0);
	ck_assert_int_eq(res.n_out, 1);
	ck_assert_double_eq(res.e2e_ms, res.ttft_ms);
	pb_gen_result_free(&res);
	rig_close(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("t5");
	TCase *tc = tcase_create("t5");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bucket_by_hand);
	tcase_add_test(tc, forward_relu_tied);
	tcase_add_test(tc, forward_gated_gelu_untied);
	tcase_add_test(tc, forward_pruned_shapes);
	tcase_add_test(tc, forward_all_rows);
	tcase_add_test(tc, bias_layout_and_graph);
	tcase_add_test(tc, session_checks);
	tcase_add_test(tc, presets);
	tcase_add_test(tc, t5_small);
	tcase_add_test(tc, generate_truncation_and_eos);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* core/text/tok-unigram.c — the SentencePiece unigram model (T5): the
 * segmentation of a word that maximises the sum of the pieces' log-prob
 * scores (Viterbi over the lattice of pieces that match at each character).
 * A character no piece starts with alone is <unk>, scored as the lowest
 * normal piece minus 10 (sentencepiece's kUnkPenalty); consecutive unknowns
 * fuse into one <unk> (or become <0xNN> pieces with byte fallback).
 * User-defined pieces score 0, as in llama.cpp. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"

#define UNK_PENALTY 10.0
#define NODE_UNK (-2)

struct node {
	double score;
	int from;    /* start of the best last piece; -1: not reached */
	int id;      /* that piece, NODE_UNK for an unknown character */
};

static int usable(const struct pb_tokenizer *t, int id)
{
	return id >= 0 && (t->types[id] == PB_TOKEN_NORMAL || t->types[id] == PB_TOKEN_USER_DEFINED);
}

static void relax(struct node *nd, int i, int j, double score, int id)
{
	double c = nd[i].score + score;
	if (nd[j].from < 0 || c > nd[j].score) {
		nd[j].score = c;
		nd[j].from = i;
		nd[j].id = id;
	}
}

/* Unknown bytes s[0..n): their <0xNN> pieces with byte fallback (0), else
 * one <unk>, fused with an <unk> just before (1). */
static int emit_unknown(const struct pb_tokenizer *t, const char *s, int n, int prev_unk,
			struct tok_out *o)
{
	int rc = 0;
	if (t->byte_fallback) {
		int all = 1;
		for (int k = 0; k < n; k++)
			all &= t->byte_id[(unsigned char)s[k]] >= 0;
		for (int k = 0; all && rc == 0 && k < n; k++)
			rc = tok_emit(o, t->byte_id[(unsigned char)s[k]]);
		if (all)
			return rc;
	}
	if (!prev_unk && (rc = tok_emit(o, t->unk >= 0 ? t->unk : 0)) < 0)
		return rc;
	return 1;
}

int tok_unigram_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o)
{
	if (n > INT32_MAX / 2)
		return -ENOMEM;
	struct node *nd = malloc((n + 1) * sizeof *nd);
	int *path = malloc((n + 1) * sizeof *path);
	int rc = -ENOMEM;
	if (!nd || !path)
		goto out;
	for (size_t i = 0; i <= n; i++)
		nd[i] = (struct node){ .from = -1, .id = -1 };
	nd[0].from = 0;
	double unk_score = (double)t->min_score - UNK_PENALTY;
	for (size_t i = 0; i < n; i += tok_utf8_len(s + i, n - i)) {
		if (nd[i].from < 0)
			continue;
		size_t mblen = tok_utf8_len(s + i, n - i);
		int single = 0;
		for (size_t j = i + mblen; j <= n && j - i <= t->max_piece;
		     j += j < n ? tok_utf8_len(s + j, n - j) : 1) {
			int id = tok_find(t, s + i, j - i);
			if (!usable(t, id))
				continue;
			double sc = t->types[id] == PB_TOKEN_USER_DEFINED ? 0.0 : t->scores[id];
			relax(nd, (int)i, (int)j, sc, id);
			single |= j - i == mblen;
		}
		if (!single)
			relax(nd, (int)i, (int)(i + mblen), unk_score, NODE_UNK);
	}
	/* back from the end, then forwards */
	int np = 0;
	for (int j = (int)n; j > 0; j = nd[j].from)
		path[np++] = j;
	rc = 0;
	int prev_unk = 0;
	for (int k = np - 1; rc == 0 && k >= 0; k--) {
		int j = path[k], i = nd[j].from;
		if (nd[j].id == NODE_UNK) {
			rc = emit_unknown(t, s + i, j - i, prev_unk, o);
			prev_unk = rc == 1;
			rc = rc < 0 ? rc : 0;
		} else {
			rc = tok_emit(o, nd[j].id);
			prev_unk = 0;
		}
	}
out:
	free(nd);
	free(path);
	return rc;
}

/* core/text/tok-merge.c — the two merging models over one word.
 *
 * SentencePiece-BPE (llama.cpp's llm_tokenizer_spm): start from UTF-8
 * characters, repeatedly merge the adjacent pair whose concatenation is a
 * normal piece with the highest score (ties: leftmost); what is left unknown
 * becomes its <0xNN> byte pieces, or <unk>.
 *
 * Merges BPE (Hugging Face's BPE model): start from the characters' pieces
 * (unknown ones: byte fallback, else <unk>, consecutive ones fused), then
 * repeatedly apply the best-ranked merge among adjacent pairs (ties:
 * leftmost).
 *
 * Both run the same heap of candidate pairs over a linked list of symbols,
 * so a word of n characters costs O(n log n). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"

struct sym {
	int start, n;      /* bytes of the word; n == 0: merged away */
	int prev, next;
	int id;            /* its piece, -1 when none */
};

struct cand {
	double prio;       /* higher first */
	int left, right, size, id;
};

struct heap {
	struct cand *v;
	int n, cap;
};

static int before(const struct cand *a, const struct cand *b)
{
	return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static int heap_push(struct heap *h, struct cand c)
{
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 64;
		struct cand *v = realloc(h->v, (size_t)cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	int i = h->n++;
	while (i > 0 && before(&c, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = c;
	return 0;
}

static struct cand heap_pop(struct heap *h)
{
	struct cand top = h->v[0], last = h->v[--h->n];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

struct word {
	const struct pb_tokenizer *t;
	const char *s;
	struct sym *sy;
	int ns;
	int bpe;
	struct heap h;
};

static int try_pair(struct word *w, int l, int r)
{
	if (l < 0 || r < 0)
		return 0;
	const struct pb_tokenizer *t = w->t;
	const struct sym *a = &w->sy[l], *b = &w->sy[r];
	struct cand c = { .left = l, .right = r, .size = a->n + b->n };
	if (w->bpe) {
		int rank = tok_pair_find(t, a->id, b->id, &c.id);
		if (rank < 0)
			return 0;
		c.prio = -(double)rank;
	} else {
		c.id = tok_find(t, w->s + a->start, (size_t)c.size);
		if (c.id < 0 || (t->types[c.id] != PB_TOKEN_NORMAL &&
				 t->types[c.id] != PB_TOKEN_USER_DEFINED))
			return 0;
		c.prio = t->scores[c.id];
	}
	return heap_push(&w->h, c);
}

static int merge_all(struct word *w)
{
	int rc = 0;
	for (int i = 1; rc == 0 && i < w->ns; i++)
		rc = try_pair(w, i - 1, i);
	while (rc == 0 && w->h.n) {
		struct cand c = heap_pop(&w->h);
		struct sym *l = &w->sy[c.left], *r = &w->sy[c.right];
		/* stale: one side already merged elsewhere */
		if (!l->n || !r->n || l->next != c.right || l->n + r->n != c.size)
			continue;
		l->n += r->n;
		l->id = c.id;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sy[r->next].prev = c.left;
		rc = try_pair(w, l->prev, c.left);
		if (rc == 0)
			rc = try_pair(w, c.left, l->next);
	}
	free(w->h.v);
	return rc;
}

static int add_sym(struct word *w, int start, int n, int id)
{
	struct sym *s = &w->sy[w->ns];
	*s = (struct sym){ .start = start, .n = n, .prev = w->ns - 1, .next = -1, .id = id };
	if (w->ns)
		w->sy[w->ns - 1].next = w->ns;
	w->ns++;
	return 0;
}

static int emit_list(const struct word *w, struct tok_out *o)
{
	int rc = 0;
	for (int i = w->ns ? 0 : -1; rc == 0 && i >= 0; i = w->sy[i].next)
		rc = tok_emit(o, w->sy[i].id);
	return rc;
}

int tok_spm_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o)
{
	struct word w = { .t = t, .s = s };
	if (n > INT32_MAX / 2 || !(w.sy = malloc(n * sizeof *w.sy)))
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t l = tok_utf8_len(s + i, n - i);
		add_sym(&w, (int)i, (int)l, tok_find(t, s + i, l));
		i += l;
	}
	int rc = merge_all(&w);
	for (int i = 0; rc == 0 && i >= 0; i = w.sy[i].next) {
		const struct sym *y = &w.sy[i];
		if (y->id >= 0) {
			rc = tok_emit(o, y->id);
			continue;
		}
		for (int k = 0; rc == 0 && k < y->n; k++) {
			int b = t->byte_id[(unsigned char)s[y->start + k]];
			rc = tok_emit(o, b >= 0 ? b : t->unk >= 0 ? t->unk : 0);
		}
	}
	free(w.sy);
	return rc;
}

/* The <0xNN> pieces of bytes s[0..n), all or none. */
static int all_bytes(const struct pb_tokenizer *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t->byte_id[(unsigned char)s[i]] < 0)
			return 0;
	return 1;
}

int tok_bpe_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o)
{
	if (t->ignore_merges) {
		int id = tok_find(t, s, n);
		if (id >= 0)
			return tok_emit(o, id);
	}
	struct word w = { .t = t, .s = s, .bpe = 1 };
	if (n > INT32_MAX / 2 || !(w.sy = malloc(n * sizeof *w.sy)))
		return -ENOMEM;
	int unk_at = -1;   /* start of pending unknown characters */
	for (size_t i = 0; i <= n;) {
		size_t l = i < n ? tok_utf8_len(s + i, n - i) : 0;
		int id = i < n ? tok_find(t, s + i, l) : -1;
		int fallback = i < n && id < 0 && t->byte_fallback && all_bytes(t, s + i, l);
		int unknown = i < n && id < 0 && !fallback;
		/* pending unknowns end at a known character, the end, or (not
		 * fused) at the next unknown one */
		if (unk_at >= 0 && (!unknown || !t->fuse_unk)) {
			add_sym(&w, unk_at, (int)i - unk_at, t->unk);
			unk_at = -1;
		}
		if (i == n)
			break;
		if (id >= 0)
			add_sym(&w, (int)i, (int)l, id);
		else if (fallback)
			for (size_t k = 0; k < l; k++)
				add_sym(&w, (int)(i + k), 1, t->byte_id[(unsigned char)s[i + k]]);
		else if (t->unk >= 0 && unk_at < 0)
			unk_at = (int)i;
		/* no <unk> at all: the character is dropped, as Hugging Face does */
		i += l;
	}
	int rc = merge_all(&w);
	if (rc == 0)
		rc = emit_list(&w, o);
	free(w.sy);
	return rc;
}

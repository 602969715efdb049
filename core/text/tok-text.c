/* core/text/tok-text.c — the encoding pipeline every real vocabulary runs,
 * in Hugging Face's order: added tokens matched in the raw text, the
 * normalizers, added tokens matched in the normalized text, the
 * pre-tokenizers (Metaspace, ByteLevel, WhitespaceSplit), then the model
 * (SentencePiece-BPE, merges BPE or unigram) over each word. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"

/* Bytes of the UTF-8 character at s; a malformed one (a stray lead or
 * continuation byte) is one byte, as sentencepiece takes it, so it never
 * swallows the character after it. */
size_t tok_utf8_len(const char *s, size_t left)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = u[0] < 0xc0 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : u[0] < 0xf8 ? 4 : 1;
	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* The code point at s (malformed bytes stand for themselves, U+DC80 style
 * escapes are not needed: callers only classify and map). */
uint32_t tok_utf8_decode(const char *s, size_t left, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = tok_utf8_len(s, left);
	*len = n;
	if (n == 1)
		return u[0];
	uint32_t cp = u[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*len = 1;
			return u[0];
		}
		cp = cp << 6 | (u[i] & 0x3f);
	}
	return cp;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One normalizer over s[0..n): a new malloc'd string. */
static char *norm_one(const struct tok_norm *m, const char *s, size_t n, size_t *outn)
{
	switch (m->op) {
	case NORM_REPLACE_RE:
		return tok_regex_replace(m->re, m->b, s, n, outn);
	case NORM_NFC:
	case NORM_NFKC:
	case NORM_NFD:
	case NORM_NFKD:
		return tok_unicode_normalize(m->op, s, n, outn);
	default:
		break;
	}
	size_t na = m->a ? strlen(m->a) : 0, nb = m->b ? strlen(m->b) : 0;
	size_t cap = n + 1 + na;
	if (m->op == NORM_REPLACE && nb > na)
		cap = n / (na ? na : 1) * nb + n + 1;
	char *o = malloc(cap), *w = o;
	if (!o)
		return NULL;
	switch (m->op) {
	case NORM_PREPEND:
		if (n) {
			memcpy(w, m->a, na);
			w += na;
		}
		memcpy(w, s, n);
		w += n;
		break;
	case NORM_REPLACE:
		for (size_t i = 0; i < n;) {
			if (na && i + na <= n && !memcmp(s + i, m->a, na)) {
				memcpy(w, m->b, nb);
				w += nb;
				i += na;
			} else {
				*w++ = s[i++];
			}
		}
		break;
	case NORM_COLLAPSE:
		for (size_t i = 0; i < n; i++)
			if (s[i] != ' ' || i == 0 || s[i - 1] != ' ')
				*w++ = s[i];
		break;
	case NORM_SPM_WS: {
		size_t i = 0, e = n;
		while (i < e && is_ws(s[i]))
			i++;
		while (e > i && is_ws(s[e - 1]))
			e--;
		for (; i < e; i++) {
			if (!is_ws(s[i]))
				*w++ = s[i];
			else if (!is_ws(s[i - 1]))
				*w++ = ' ';
		}
		break;
	}
	case NORM_STRIP: {
		size_t i = 0, e = n;
		while (m->a && i < e && is_ws(s[i]))
			i++;
		while (m->b && e > i && is_ws(s[e - 1]))
			e--;
		memcpy(w, s + i, e - i);
		w += e - i;
		break;
	}
	case NORM_LOWER:
		for (size_t i = 0; i < n; i++)
			*w++ = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
		break;
	default:   /* handled above */
		break;
	}
	*w = '\0';
	*outn = (size_t)(w - o);
	return o;
}

char *tok_normalize(const struct pb_tokenizer *t, const char *s, size_t n, size_t *outn)
{
	char *cur = tok_strdup_n(s, n);
	size_t len = n;
	for (int i = 0; cur && i < t->n_norm; i++) {
		char *next = norm_one(&t->norm[i], cur, len, &len);
		free(cur);
		cur = next;
	}
	*outn = len;
	return cur;
}

/* Leftmost-longest added token in s[from..n) of the given normalized
 * flavour; returns its index or -1, its byte range in *at, *end. */
static int find_added(const struct pb_tokenizer *t, int normalized, const char *s, size_t from,
		      size_t n, size_t *at, size_t *end)
{
	for (size_t i = from; i < n; i++) {
		if (!t->added_first[normalized][(unsigned char)s[i]])
			continue;
		int best = -1;
		size_t blen = 0;
		for (int k = 0; k < t->n_added; k++) {
			const struct tok_added *a = &t->added[k];
			if (a->normalized != normalized || a->content[0] != s[i])
				continue;
			size_t l = strlen(a->content);
			if (l > blen && l <= n - i && !memcmp(s + i, a->content, l)) {
				best = k;
				blen = l;
			}
		}
		if (best >= 0) {
			size_t b = i, e = i + blen;
			if (t->added[best].lstrip)
				while (b > from && is_ws(s[b - 1]))
					b--;
			if (t->added[best].rstrip)
				while (e < n && is_ws(s[e]))
					e++;
			*at = b;
			*end = e;
			return best;
		}
	}
	return -1;
}

static int model_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o)
{
	if (!n)
		return 0;
	switch (t->kind) {
	case PB_TOK_SPM:
		return tok_spm_word(t, s, n, o);
	case PB_TOK_BPE:
		return tok_bpe_word(t, s, n, o);
	case PB_TOK_UNIGRAM:
		return tok_unigram_word(t, s, n, o);
	}
	return -EINVAL;
}

struct pre_ctx {
	const struct pb_tokenizer *t;
	int k;
	struct tok_out *o;
};

static int pre_apply(const struct pb_tokenizer *t, int k, const char *s, size_t n, int first,
		     struct tok_out *o);

static int gpt2_piece(void *ctx, const char *s, size_t n)
{
	struct pre_ctx *c = ctx;
	size_t m;
	char *u = tok_bytes_to_unicode(s, n, &m);
	if (!u)
		return -ENOMEM;
	int rc = pre_apply(c->t, c->k + 1, u, m, 0, c->o);
	free(u);
	return rc;
}

static int pre_bytelevel(const struct pb_tokenizer *t, int k, const char *s, size_t n,
			 struct tok_out *o)
{
	const struct tok_pre *p = &t->pre[k];
	char *buf = NULL;
	if (p->add_prefix_space && n && s[0] != ' ') {
		if (!(buf = malloc(n + 1)))
			return -ENOMEM;
		buf[0] = ' ';
		memcpy(buf + 1, s, n);
		s = buf;
		n++;
	}
	struct pre_ctx c = { t, k, o };
	int rc = p->re ? tok_regex_split(p->re, SPLIT_ISOLATED, 0, s, n, gpt2_piece, &c)
		       : gpt2_piece(&c, s, n);
	free(buf);
	return rc;
}

static int split_piece(void *ctx, const char *s, size_t n)
{
	struct pre_ctx *c = ctx;
	return pre_apply(c->t, c->k + 1, s, n, 0, c->o);
}

static int pre_metaspace(const struct pb_tokenizer *t, int k, const char *s, size_t n, int first,
			 struct tok_out *o)
{
	const struct tok_pre *p = &t->pre[k];
	size_t nr = strlen(p->replacement);
	char *m = malloc(n * (nr > 1 ? nr : 1) + nr + 1), *w = m;
	if (!m)
		return -ENOMEM;
	int prepend = p->scheme == PREPEND_ALWAYS || (p->scheme == PREPEND_FIRST && first);
	if (prepend && n && !(n >= nr && !memcmp(s, p->replacement, nr)) && s[0] != ' ') {
		memcpy(w, p->replacement, nr);
		w += nr;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ') {
			memcpy(w, p->replacement, nr);
			w += nr;
		} else {
			*w++ = s[i];
		}
	}
	size_t len = (size_t)(w - m), start = 0;
	int rc = 0;
	/* split before each replacement, which stays with the word after it */
	for (size_t i = 1; p->split && rc == 0 && nr && i + nr <= len; i++) {
		if (!memcmp(m + i, p->replacement, nr)) {
			rc = pre_apply(t, k + 1, m + start, i - start, 0, o);
			start = i;
		}
	}
	if (rc == 0)
		rc = pre_apply(t, k + 1, m + start, len - start, 0, o);
	free(m);
	return rc;
}

static int pre_apply(const struct pb_tokenizer *t, int k, const char *s, size_t n, int first,
		     struct tok_out *o)
{
	if (k == t->n_pre)
		return model_word(t, s, n, o);
	switch (t->pre[k].op) {
	case PRE_BYTELEVEL:
		return pre_bytelevel(t, k, s, n, o);
	case PRE_METASPACE:
		return pre_metaspace(t, k, s, n, first, o);
	case PRE_SPLIT: {
		struct pre_ctx c = { t, k, o };
		return tok_regex_split(t->pre[k].re, t->pre[k].behavior, t->pre[k].invert, s, n,
				       split_piece, &c);
	}
	case PRE_WSSPLIT:
		for (size_t i = 0; i < n;) {
			while (i < n && is_ws(s[i]))
				i++;
			size_t b = i;
			while (i < n && !is_ws(s[i]))
				i++;
			int rc = i > b ? pre_apply(t, k + 1, s + b, i - b, first && b == 0, o) : 0;
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return -EINVAL;
}

/* A stretch of raw text between added tokens; first: it starts the text. */
static int run_raw(const struct pb_tokenizer *t, const char *s, size_t n, int first,
		   struct tok_out *o)
{
	size_t len;
	char *norm = tok_normalize(t, s, n, &len);
	if (!norm)
		return -ENOMEM;
	int rc = 0;
	for (size_t pos = 0; rc == 0 && pos < len;) {
		size_t at = len, end = len;
		/* a GGUF's special pieces were all cut out of the raw text */
		int k = t->st_partition ? -1 : find_added(t, 1, norm, pos, len, &at, &end);
		if (at > pos)
			rc = pre_apply(t, 0, norm + pos, at - pos, first && pos == 0, o);
		if (rc == 0 && k >= 0)
			rc = tok_emit(o, t->added[k].id);
		pos = end;
	}
	free(norm);
	return rc;
}

/* llama.cpp's tokenizer_st_partition: each special piece, the longest
 * first (t->added is kept in that order), is cut out of every stretch of
 * text still raw; lstrip/rstrip take the ASCII whitespace beside it. */
struct frag {
	size_t at, n;
	int id;   /* -1: raw text */
};

struct frags {
	struct frag *v;
	size_t n, cap;
};

static int frag_add(struct frags *g, size_t at, size_t n, int id)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct frag *v = realloc(g->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = (struct frag){ at, n, id };
	return 0;
}

static int st_partition(const struct pb_tokenizer *t, const char *text, size_t n, struct frags *f)
{
	int rc = frag_add(f, 0, n, -1);
	for (int k = 0; rc == 0 && k < t->n_added; k++) {
		const struct tok_added *a = &t->added[k];
		size_t la = strlen(a->content);
		struct frags g = { 0 };
		for (size_t i = 0; rc == 0 && i < f->n; i++) {
			size_t at = f->v[i].at, len = f->v[i].n;
			if (f->v[i].id >= 0) {
				rc = frag_add(&g, at, len, f->v[i].id);
				continue;
			}
			while (rc == 0 && len) {
				const char *m = memmem(text + at, len, a->content, la);
				if (!m) {
					rc = frag_add(&g, at, len, -1);
					break;
				}
				size_t left = (size_t)(m - (text + at)), r_at = (size_t)(m - text) + la;
				size_t r_n = at + len - r_at;
				if (a->lstrip)
					while (left && is_ws(text[at + left - 1]))
						left--;
				if (a->rstrip)
					while (r_n && is_ws(text[r_at])) {
						r_at++;
						r_n--;
					}
				if (left)
					rc = frag_add(&g, at, left, -1);
				if (rc == 0)
					rc = frag_add(&g, 0, 0, a->id);
				at = r_at;
				len = r_n;
			}
		}
		free(f->v);
		*f = g;
	}
	return rc;
}

int tok_run(const struct pb_tokenizer *t, const char *text, struct tok_out *o)
{
	size_t n = strlen(text);
	int rc = 0;
	if (t->st_partition) {
		struct frags f = { 0 };
		if (n)
			rc = st_partition(t, text, n, &f);
		for (size_t i = 0; rc == 0 && i < f.n; i++)
			rc = f.v[i].id >= 0 ? tok_emit(o, f.v[i].id)
					    : run_raw(t, text + f.v[i].at, f.v[i].n, i == 0, o);
		free(f.v);
		return rc;
	}
	for (size_t pos = 0; rc == 0 && pos < n;) {
		size_t at = n, end = n;
		int k = find_added(t, 0, text, pos, n, &at, &end);
		if (at > pos)
			rc = run_raw(t, text + pos, at - pos, pos == 0, o);
		if (rc == 0 && k >= 0)
			rc = tok_emit(o, t->added[k].id);
		pos = end;
	}
	return rc;
}

/* core/text/tok-split.c — the regex engine under the pre-tokenizers and
 * regex normalizers: PCRE2 over UTF-8 with Unicode properties (\p{L},
 * \p{N}, \s as Unicode whitespace), Hugging Face's Split behaviors, and
 * the Unicode normalization forms through utf8proc.
 *
 * Patterns are compiled once per tokenizer (JIT when PCRE2 has it) and
 * shared read-only; each split allocates its own match data, so one
 * tokenizer may encode from several threads.  Text that is not valid UTF-8
 * still splits (PCRE2_MATCH_INVALID_UTF: invalid bytes match no class). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tok-internal.h"
#include "util/util.h"

int tok_regex_compile(const char *pattern, void **re, char *err, size_t len)
{
	int code;
	PCRE2_SIZE at;
	/* $ is the end of the piece only, as in Rust's and Oniguruma's
	 * single-line mode, never before a final newline */
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
				      PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
	if (!c) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		/* the message first: some patterns are long */
		return pb_errf(err, len, -EINVAL, "regex: %s at byte %zu of \"%.48s%s\"", (const char *)msg,
			       (size_t)at + 1, pattern, strlen(pattern) > 48 ? "..." : "");
	}
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);   /* without JIT it is only slower */
	*re = c;
	return 0;
}

void tok_regex_free(void *re)
{
	pcre2_code_free(re);
}

/* The text as alternating stretches: [start, end) and whether it matched. */
struct seg {
	size_t start, end;
	int match;
};

struct segs {
	struct seg *v;
	size_t n, cap;
};

static int seg_add(struct segs *g, size_t start, size_t end, int match)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 32;
		struct seg *v = realloc(g->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = (struct seg){ start, end, match };
	return 0;
}

/* Every non-empty match of re in s[0..n) and the stretches between. */
static int find_matches(pcre2_code *re, const char *s, size_t n, struct segs *g)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		return -ENOMEM;
	size_t pos = 0, prev = 0;
	int rc = 0;
	while (rc == 0 && pos <= n) {
		int m = pcre2_match(re, (PCRE2_SPTR)s, n, pos, 0, md, NULL);
		if (m == PCRE2_ERROR_NOMATCH)
			break;
		if (m < 0) {
			rc = m == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
			break;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t ms = ov[0], me = ov[1];
		if (me <= ms) {   /* an empty match: try again one character on */
			if (ms >= n)
				break;
			pos = ms + tok_utf8_len(s + ms, n - ms);
			continue;
		}
		if (ms > prev)
			rc = seg_add(g, prev, ms, 0);
		if (rc == 0)
			rc = seg_add(g, ms, me, 1);
		prev = pos = me;
	}
	if (rc == 0 && prev < n)
		rc = seg_add(g, prev, n, 0);
	pcre2_match_data_free(md);
	return rc;
}

/* Hugging Face's SplitDelimiterBehavior over the stretches, in place:
 * afterwards every stretch is a piece, and match 1 marks one to drop. */
static void apply_behavior(struct segs *g, int behavior)
{
	size_t w = 0;
	int prev_match = 0;
	switch (behavior) {
	case SPLIT_ISOLATED:
		for (size_t i = 0; i < g->n; i++)
			g->v[i].match = 0;
		return;
	case SPLIT_REMOVED:
		return;
	case SPLIT_MERGED_PREV:
		for (size_t i = 0; i < g->n; i++) {
			struct seg c = g->v[i];
			if (c.match && !prev_match && w)
				g->v[w - 1].end = c.end;
			else
				g->v[w++] = (struct seg){ c.start, c.end, 0 };
			prev_match = c.match;
		}
		break;
	case SPLIT_MERGED_NEXT:
		/* the same walked backwards: a match joins the piece after it */
		w = g->n;
		for (size_t i = g->n; i-- > 0;) {
			struct seg c = g->v[i];
			if (c.match && !prev_match && w < g->n)
				g->v[w].start = c.start;
			else
				g->v[--w] = (struct seg){ c.start, c.end, 0 };
			prev_match = c.match;
		}
		memmove(g->v, g->v + w, (g->n - w) * sizeof *g->v);
		w = g->n - w;
		break;
	case SPLIT_CONTIGUOUS:
		for (size_t i = 0; i < g->n; i++) {
			struct seg c = g->v[i];
			if (w && c.match == prev_match)
				g->v[w - 1].end = c.end;
			else
				g->v[w++] = (struct seg){ c.start, c.end, 0 };
			prev_match = c.match;
		}
		break;
	}
	g->n = w;
}

int tok_regex_split(void *re, int behavior, int invert, const char *s, size_t n,
		    int (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
	struct segs g = { 0 };
	int rc = find_matches(re, s, n, &g);
	if (rc == 0) {
		for (size_t i = 0; invert && i < g.n; i++)
			g.v[i].match = !g.v[i].match;
		apply_behavior(&g, behavior);
	}
	for (size_t i = 0; rc == 0 && i < g.n; i++)
		if (!g.v[i].match && g.v[i].end > g.v[i].start)
			rc = fn(ctx, s + g.v[i].start, g.v[i].end - g.v[i].start);
	free(g.v);
	return rc;
}

char *tok_regex_replace(void *re, const char *b, const char *s, size_t n, size_t *outn)
{
	struct segs g = { 0 };
	if (find_matches(re, s, n, &g) < 0) {
		free(g.v);
		return NULL;
	}
	size_t nb = strlen(b), cap = n + 1;
	for (size_t i = 0; i < g.n; i++)
		if (g.v[i].match)
			cap += nb;
	char *o = malloc(cap), *w = o;
	for (size_t i = 0; o && i < g.n; i++) {
		const char *from = g.v[i].match ? b : s + g.v[i].start;
		size_t len = g.v[i].match ? nb : g.v[i].end - g.v[i].start;
		memcpy(w, from, len);
		w += len;
	}
	if (o) {
		*w = '\0';
		*outn = (size_t)(w - o);
	}
	free(g.v);
	return o;
}

char *tok_unicode_normalize(int op, const char *s, size_t n, size_t *outn)
{
	utf8proc_option_t opt = UTF8PROC_STABLE;
	switch (op) {
	case NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
	case NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
	case NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
	case NORM_NFKD: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
	}
	utf8proc_uint8_t *o = NULL;
	utf8proc_ssize_t m = n > (size_t)PTRDIFF_MAX ? -1
			     : utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &o, opt);
	if (m < 0) {   /* invalid UTF-8 (or too long): left as it is */
		*outn = n;
		return tok_strdup_n(s, n);
	}
	*outn = (size_t)m;
	return (char *)o;
}

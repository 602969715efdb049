/* core/serve/chat.c — the built-in chat templates (chat.h says each one's
 * text): messages → segments (text, or a special piece) → token ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/chat.h"
#include "text/text.h"

static const char *const names[] = {
	[PB_CHAT_PLAIN] = "plain", [PB_CHAT_LLAMA3] = "llama3", [PB_CHAT_CHATML] = "chatml",
	[PB_CHAT_GEMMA] = "gemma", [PB_CHAT_PHI3] = "phi3",
};

/* Each kind's special pieces; the first `marks` of them must all be in a
 * vocabulary for pb_chat_detect to pick the kind; `end` is the end of a
 * turn. */
static const struct {
	const char *piece[6];
	int marks, end;
} specials[] = {
	[PB_CHAT_PLAIN] = { { NULL }, 0, -1 },
	[PB_CHAT_LLAMA3] = { { "<|start_header_id|>", "<|eot_id|>", "<|end_header_id|>" }, 2, 1 },
	[PB_CHAT_CHATML] = { { "<|im_start|>", "<|im_end|>" }, 2, 1 },
	[PB_CHAT_GEMMA] = { { "<start_of_turn>", "<end_of_turn>" }, 2, 1 },
	[PB_CHAT_PHI3] = { { "<|user|>", "<|assistant|>", "<|end|>", "<|system|>" }, 3, 2 },
};

const char *pb_chat_name(enum pb_chat_kind k)
{
	return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

int pb_chat_kind_of_name(const char *name)
{
	for (size_t k = 0; k < sizeof names / sizeof *names; k++)
		if (!strcmp(name, names[k]))
			return (int)k;
	return -EINVAL;
}

/* A piece's id; the vocabulary is scanned once per template binding, not
 * per request. */
static int32_t find_piece(const struct pb_tokenizer *tok, const char *s)
{
	int n = pb_tokenizer_vocab(tok);
	for (int i = 0; i < n; i++) {
		const char *p = pb_tokenizer_piece(tok, i);
		if (p && p[0] == s[0] && !strcmp(p, s))
			return i;
	}
	return -1;
}

enum pb_chat_kind pb_chat_detect(const struct pb_tokenizer *tok)
{
	for (int k = PB_CHAT_LLAMA3; k <= PB_CHAT_PHI3; k++) {
		int found = 0;
		for (int i = 0; i < specials[k].marks; i++)
			found += find_piece(tok, specials[k].piece[i]) >= 0;
		if (found == specials[k].marks)
			return (enum pb_chat_kind)k;
	}
	return PB_CHAT_PLAIN;
}

void pb_chat_bind(struct pb_chat *c, enum pb_chat_kind k, const struct pb_tokenizer *tok)
{
	memset(c, 0, sizeof *c);
	c->kind = k;
	c->tok = tok;
	c->end_id = -1;
	for (int i = 0; i < 6; i++) {
		const char *p = specials[k].piece[i];
		c->special_id[i] = p && tok ? find_piece(tok, p) : -1;
	}
	if (specials[k].end >= 0)
		c->end_id = c->special_id[specials[k].end];
}

/* ---- segments: runs of text, each special piece apart */

struct seg {
	int32_t id;    /* a special token, or -1: text */
	char *text;
	size_t n, cap;
};

struct segs {
	const struct pb_chat *c;
	struct seg *v;
	int n, cap;
	int err;
};

static struct seg *new_seg(struct segs *g)
{
	if (g->n == g->cap) {
		int cap = g->cap ? g->cap * 2 : 16;
		struct seg *v = realloc(g->v, (size_t)cap * sizeof *v);
		if (!v) {
			g->err = -ENOMEM;
			return NULL;
		}
		g->v = v;
		g->cap = cap;
	}
	struct seg *s = &g->v[g->n++];
	memset(s, 0, sizeof *s);
	s->id = -1;
	return s;
}

static void put_text_n(struct segs *g, const char *t, size_t n)
{
	if (g->err)
		return;
	struct seg *s = g->n && g->v[g->n - 1].id < 0 ? &g->v[g->n - 1] : new_seg(g);
	if (!s)
		return;
	if (s->n + n + 1 > s->cap) {
		size_t cap = (s->n + n + 1) * 2;
		char *p = realloc(s->text, cap);
		if (!p) {
			g->err = -ENOMEM;
			return;
		}
		s->text = p;
		s->cap = cap;
	}
	memcpy(s->text + s->n, t, n);
	s->n += n;
	s->text[s->n] = '\0';
}

static void put_text(struct segs *g, const char *t)
{
	put_text_n(g, t, strlen(t));
}

/* Leading and trailing whitespace dropped (the templates that trim). */
static void put_trimmed(struct segs *g, const char *t)
{
	const char *e = t + strlen(t);
	while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
		t++;
	while (e > t && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	put_text_n(g, t, (size_t)(e - t));
}

/* The kind's special piece (by its text); written as text when the
 * vocabulary lacks it, or for pb_chat_render. */
static void put_special(struct segs *g, const char *piece, int as_text)
{
	const int k = g->c->kind;
	for (int i = 0; i < 6 && specials[k].piece[i]; i++)
		if (!strcmp(specials[k].piece[i], piece) && g->c->special_id[i] >= 0 && !as_text) {
			struct seg *s = g->err ? NULL : new_seg(g);
			if (s)
				s->id = g->c->special_id[i];
			return;
		}
	put_text(g, piece);
}

static const char *role_of(const struct pb_chat_msg *m)
{
	return !strcmp(m->role, "developer") ? "system" : m->role;
}

static void render(struct segs *g, const struct pb_chat_msg *msgs, int n, int as_text)
{
	const char *sys = NULL;   /* gemma: a system message waiting for a user turn */
	char piece[32];
	switch (g->c->kind) {
	case PB_CHAT_PLAIN:
		for (int i = 0; i < n; i++) {
			if (i)
				put_text(g, "\n");
			put_text(g, msgs[i].content);
		}
		break;
	case PB_CHAT_LLAMA3:
		for (int i = 0; i <= n; i++) {
			put_special(g, "<|start_header_id|>", as_text);
			put_text(g, i < n ? role_of(&msgs[i]) : "assistant");
			put_special(g, "<|end_header_id|>", as_text);
			put_text(g, "\n\n");
			if (i == n)
				break;
			put_trimmed(g, msgs[i].content);
			put_special(g, "<|eot_id|>", as_text);
		}
		break;
	case PB_CHAT_CHATML:
		for (int i = 0; i <= n; i++) {
			put_special(g, "<|im_start|>", as_text);
			put_text(g, i < n ? role_of(&msgs[i]) : "assistant");
			put_text(g, "\n");
			if (i == n)
				break;
			put_text(g, msgs[i].content);
			put_special(g, "<|im_end|>", as_text);
			put_text(g, "\n");
		}
		break;
	case PB_CHAT_GEMMA:
		for (int i = 0; i < n; i++) {
			const char *role = role_of(&msgs[i]);
			if (!strcmp(role, "system")) {
				sys = msgs[i].content;
				continue;
			}
			int model = !strcmp(role, "assistant");
			put_special(g, "<start_of_turn>", as_text);
			put_text(g, model ? "model\n" : "user\n");
			if (sys && !model) {
				put_trimmed(g, sys);
				put_text(g, "\n\n");
				sys = NULL;
			}
			put_trimmed(g, msgs[i].content);
			put_special(g, "<end_of_turn>", as_text);
			put_text(g, "\n");
		}
		if (sys) {   /* no user turn followed: the system text is one */
			put_special(g, "<start_of_turn>", as_text);
			put_text(g, "user\n");
			put_trimmed(g, sys);
			put_special(g, "<end_of_turn>", as_text);
			put_text(g, "\n");
		}
		put_special(g, "<start_of_turn>", as_text);
		put_text(g, "model\n");
		break;
	case PB_CHAT_PHI3:
		for (int i = 0; i <= n; i++) {
			snprintf(piece, sizeof piece, "<|%s|>", i < n ? role_of(&msgs[i]) : "assistant");
			put_special(g, piece, as_text);
			put_text(g, "\n");
			if (i == n)
				break;
			put_text(g, msgs[i].content);
			put_special(g, "<|end|>", as_text);
			put_text(g, "\n");
		}
		break;
	}
}

static void segs_free(struct segs *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->v[i].text);
	free(g->v);
}

char *pb_chat_render(const struct pb_chat *c, const struct pb_chat_msg *msgs, int n)
{
	struct segs g = { .c = c };
	render(&g, msgs, n, 1);
	char *text = NULL;
	if (!g.err)
		text = g.n ? g.v[0].text : strdup("");
	if (g.n)
		g.v[0].text = NULL;
	segs_free(&g);
	return text;
}

int pb_chat_tokenize(const struct pb_chat *c, const struct pb_chat_msg *msgs, int n,
		     int32_t **ids, int *n_ids)
{
	struct segs g = { .c = c };
	int32_t *v = NULL;
	size_t cap = 0, len = 0;
	int rc;
	*ids = NULL;
	*n_ids = 0;
	render(&g, msgs, n, 0);
	if ((rc = g.err) < 0)
		goto out;
	/* BOS, then each segment: a special id, or its text on its own */
	for (int i = -1; i < g.n; i++) {
		int need = 1;
		if (i >= 0 && g.v[i].id < 0 && (need = pb_tokenize(c->tok, g.v[i].text, 0, NULL, 0)) < 0) {
			rc = need;
			goto out;
		}
		if (len + (size_t)need > INT32_MAX) {
			rc = -EOVERFLOW;
			goto out;
		}
		if (len + (size_t)need > cap) {
			size_t ncap = (len + (size_t)need) * 2 + 16;
			int32_t *p = realloc(v, ncap * sizeof *p);
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			v = p;
			cap = ncap;
		}
		if (i < 0) {
			if (pb_tokenizer_add_bos(c->tok))
				v[len++] = pb_tokenizer_bos(c->tok);
		} else if (g.v[i].id >= 0) {
			v[len++] = g.v[i].id;
		} else {
			pb_tokenize(c->tok, g.v[i].text, 0, v + len, need);
			len += (size_t)need;
		}
	}
	*ids = v;
	*n_ids = (int)len;
	v = NULL;
	rc = 0;
out:
	free(v);
	segs_free(&g);
	return rc;
}

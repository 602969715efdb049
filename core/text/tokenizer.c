/* core/text/tokenizer.c — the tokenizer's public face: the byte-level
 * constructor that synthetic models use (ids 3 + byte over <0xNN> pieces),
 * accessors, encoding (dispatched to the kind's pipeline) and decoding one
 * token at a time.  Vocabulary kinds are built in tok-vocab.c (GGUF),
 * tok-json.c (tokenizer.json) and tok-llama2c.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"

int pb_tokenizer_new(const char *const *pieces, const float *scores, int n_vocab,
		     int bos_id, int eos_id, struct pb_tokenizer **out)
{
	if (n_vocab <= 0 || !pieces || !out)
		return -EINVAL;
	struct pb_tokenizer *t;
	int rc = tok_alloc(n_vocab, &t);
	if (rc < 0)
		return rc;
	t->kind = TOK_BYTE;
	t->bos = bos_id >= 0 && bos_id < n_vocab ? bos_id : -1;
	t->eos = eos_id >= 0 && eos_id < n_vocab ? eos_id : -1;
	t->add_bos = 1;
	for (int i = 0; i < n_vocab; i++) {
		t->pieces[i] = strdup(pieces[i] ? pieces[i] : "");
		if (!t->pieces[i])
			goto nomem;
		t->scores[i] = scores ? scores[i] : 0.0f;
	}
	if (tok_index(t) < 0)
		goto nomem;
	t->unk = tok_find(t, "<unk>", 5);
	*out = t;
	return 0;
nomem:
	pb_tokenizer_free(t);
	return -ENOMEM;
}

void pb_tokenizer_free(struct pb_tokenizer *t)
{
	if (!t)
		return;
	for (int i = 0; t->pieces && i < t->n; i++)
		free(t->pieces[i]);
	free(t->pieces);
	free(t->scores);
	free(t->types);
	free(t->map.slot);
	free(t->pairs.key);
	free(t->pairs.rank);
	free(t->pairs.id);
	for (int i = 0; i < t->n_merges; i++)
		free(t->merges[i]);
	free(t->merges);
	for (int i = 0; i < t->n_norm; i++) {
		free(t->norm[i].a);
		free(t->norm[i].b);
		if (t->norm[i].re)
			tok_regex_free(t->norm[i].re);
	}
	for (int i = 0; i < t->n_pre; i++) {
		free(t->pre[i].replacement);
		free(t->pre[i].pattern);
		if (t->pre[i].re)
			tok_regex_free(t->pre[i].re);
	}
	for (int i = 0; i < t->n_added; i++)
		free(t->added[i].content);
	free(t->added);
	free(t->model_name);
	free(t->pre_name);
	free(t);
}

int pb_tokenizer_vocab(const struct pb_tokenizer *t)
{
	return t ? t->n : 0;
}

const char *pb_tokenizer_piece(const struct pb_tokenizer *t, int id)
{
	return t && id >= 0 && id < t->n ? t->pieces[id] : NULL;
}

float pb_tokenizer_score(const struct pb_tokenizer *t, int id)
{
	return t && id >= 0 && id < t->n ? t->scores[id] : 0.0f;
}

int pb_tokenizer_type(const struct pb_tokenizer *t, int id)
{
	return t && id >= 0 && id < t->n ? t->types[id] : 0;
}

/* Types decide which pieces may be merged or matched, so the piece index's
 * view (unigram's lowest normal score) is refreshed with them. */
void pb_tokenizer_set_types(struct pb_tokenizer *t, const int32_t *types)
{
	if (!t || !types)
		return;
	for (int i = 0; i < t->n; i++)
		t->types[i] = types[i];
	tok_index(t);   /* only ENOMEM can fail; the old index stays usable */
}

int pb_tokenizer_bos(const struct pb_tokenizer *t)
{
	return t ? t->bos : -1;
}

int pb_tokenizer_eos(const struct pb_tokenizer *t)
{
	return t ? t->eos : -1;
}

int pb_tokenizer_unk(const struct pb_tokenizer *t)
{
	return t ? t->unk : -1;
}

int pb_tokenizer_kind(const struct pb_tokenizer *t)
{
	return t ? t->kind : -1;
}

int pb_tokenizer_add_bos(const struct pb_tokenizer *t)
{
	return t && t->bos >= 0 ? t->add_bos : 0;
}

int pb_tokenizer_add_eos(const struct pb_tokenizer *t)
{
	return t && t->eos >= 0 ? t->add_eos : 0;
}

int pb_tokenizer_set_special(struct pb_tokenizer *t, int bos_id, int eos_id)
{
	if (!t || bos_id >= t->n || eos_id >= t->n)
		return -EINVAL;
	t->bos = bos_id < 0 ? -1 : bos_id;
	t->eos = eos_id < 0 ? -1 : eos_id;
	return 0;
}

int pb_tokenize(const struct pb_tokenizer *t, const char *text, int add_bos,
		int32_t *out, int max)
{
	if (!t || !text || max < 0 || (max > 0 && !out))
		return -EINVAL;
	struct tok_out o = { .out = out, .max = max };
	int rc;
	if (add_bos && t->bos >= 0 && (rc = tok_emit(&o, t->bos)) < 0)
		return rc;
	if (t->kind != TOK_BYTE) {
		rc = tok_run(t, text, &o);
		return rc < 0 ? rc : o.n;
	}
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		int id = t->byte_id[*p];
		if ((rc = tok_emit(&o, id >= 0 ? id : t->unk >= 0 ? t->unk : 0)) < 0)
			return rc;
	}
	return o.n;
}

/* Does this token stand for no text at all? */
static int silent(const struct pb_tokenizer *t, int id)
{
	const char *p = t->pieces[id];
	int type = t->types[id];
	return id == t->bos || id == t->eos || type == PB_TOKEN_CONTROL ||
	       type == PB_TOKEN_UNUSED || !strcmp(p, "<s>") || !strcmp(p, "</s>") ||
	       !strncmp(p, "<extra_", 7);
}

/* The text of piece p into w (room for strlen(p) bytes: decoding never
 * lengthens a piece); returns its length. */
static size_t decode_piece(const struct pb_tokenizer *t, int id, const char *p, char *w)
{
	size_t n = 0, left = strlen(p);
	int b = tok_piece_byte(p);
	if (b >= 0 && (t->kind == TOK_BYTE || (t->dec_bytes && t->types[id] == PB_TOKEN_BYTE))) {
		if (b)   /* a NUL cannot live in a C string */
			w[n++] = (char)b;
		return n;
	}
	while (left) {
		size_t l = tok_utf8_len(p, left);
		if (t->dec_bytelevel) {
			int byte = tok_cp_to_byte(tok_utf8_decode(p, left, &l));
			if (byte > 0) {
				w[n++] = (char)byte;
				p += l;
				left -= l;
				continue;
			}
		}
		if ((t->dec_space || t->kind == TOK_BYTE) && l == 3 && !memcmp(p, SPM_SPACE, 3)) {
			w[n++] = ' ';
		} else {
			memcpy(w + n, p, l);
			n += l;
		}
		p += l;
		left -= l;
	}
	return n;
}

/* Append the text of id; strip: drop the prefix space (the text's first
 * piece). */
static int detok(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len, size_t used,
		 int strip)
{
	const char *p = t->pieces[id];
	char stack[256], *w = stack;
	size_t cap = strlen(p);
	if (cap > sizeof stack && !(w = malloc(cap)))
		return -ENOMEM;
	size_t n = decode_piece(t, id, p, w);
	const char *s = w;
	if (strip && t->dec_strip && n && *s == ' ') {
		s++;
		n--;
	}
	int rc = (int)n;
	if (used + n + 1 > len) {
		rc = -ENOSPC;
	} else {
		memcpy(buf + used, s, n);
		buf[used + n] = '\0';
	}
	if (w != stack)
		free(w);
	return rc;
}

int pb_detokenize(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len)
{
	if (!t || !buf || !len || id < 0 || id >= t->n)
		return -EINVAL;
	size_t used = strnlen(buf, len);
	if (used == len)
		return -EINVAL;   /* not NUL-terminated */
	if (silent(t, id))
		return 0;
	/* an empty buffer stands for the start of the text */
	return detok(t, id, buf, len, used, used == 0);
}

int pb_tokenizer_decode(const struct pb_tokenizer *t, const int32_t *ids, int n, char *buf,
			size_t len)
{
	if (!t || !buf || !len || n < 0 || (n && !ids))
		return -EINVAL;
	size_t used = 0;
	int first = 1;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (ids[i] < 0 || ids[i] >= t->n) {
			buf[0] = '\0';
			return -EINVAL;
		}
		if (silent(t, ids[i]))
			continue;
		int rc = detok(t, ids[i], buf, len, used, first);
		if (rc < 0) {
			buf[0] = '\0';
			return rc;
		}
		used += (size_t)rc;
		first = 0;
	}
	return used > INT32_MAX ? -EOVERFLOW : (int)used;
}

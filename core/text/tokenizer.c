/* core/text/tokenizer.c — the byte-level tokenizer: a llama-style
 * vocabulary whose text is encoded byte by byte through its <0xNN> pieces
 * (what synthetic models carry, and the fallback for any GGUF "llama"
 * vocabulary until SentencePiece merges arrive with the engine issue). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

struct pb_tokenizer {
	int n;
	char **pieces;
	float *scores;
	int32_t *types;
	int bos, eos;
	int byte_id[256];   /* -1 when the vocabulary has no piece for it */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The byte a "<0xNN>" piece stands for, or -1. */
static int piece_byte(const char *p)
{
	if (strlen(p) != 6 || strncmp(p, "<0x", 3) || p[5] != '>')
		return -1;
	int hi = hexval(p[3]), lo = hexval(p[4]);
	return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int default_type(const struct pb_tokenizer *t, int id)
{
	const char *p = t->pieces[id];
	if (piece_byte(p) >= 0)
		return PB_TOKEN_BYTE;
	if (id == t->bos || id == t->eos || !strcmp(p, "<s>") || !strcmp(p, "</s>"))
		return PB_TOKEN_CONTROL;
	if (!strcmp(p, "<unk>"))
		return PB_TOKEN_UNKNOWN;
	return PB_TOKEN_NORMAL;
}

int pb_tokenizer_new(const char *const *pieces, const float *scores, int n_vocab,
		     int bos_id, int eos_id, struct pb_tokenizer **out)
{
	if (n_vocab <= 0 || !pieces)
		return -EINVAL;
	struct pb_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->n = n_vocab;
	t->bos = bos_id >= 0 && bos_id < n_vocab ? bos_id : -1;
	t->eos = eos_id >= 0 && eos_id < n_vocab ? eos_id : -1;
	t->pieces = calloc((size_t)n_vocab, sizeof *t->pieces);
	t->scores = calloc((size_t)n_vocab, sizeof *t->scores);
	t->types = calloc((size_t)n_vocab, sizeof *t->types);
	if (!t->pieces || !t->scores || !t->types)
		goto nomem;
	for (int i = 0; i < 256; i++)
		t->byte_id[i] = -1;
	for (int i = 0; i < n_vocab; i++) {
		t->pieces[i] = strdup(pieces[i] ? pieces[i] : "");
		if (!t->pieces[i])
			goto nomem;
		t->scores[i] = scores ? scores[i] : 0.0f;
		int b = piece_byte(t->pieces[i]);
		if (b >= 0 && t->byte_id[b] < 0)
			t->byte_id[b] = i;
	}
	for (int i = 0; i < n_vocab; i++)
		t->types[i] = default_type(t, i);
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

void pb_tokenizer_set_types(struct pb_tokenizer *t, const int32_t *types)
{
	for (int i = 0; t && types && i < t->n; i++)
		t->types[i] = types[i];
}

int pb_tokenizer_bos(const struct pb_tokenizer *t)
{
	return t ? t->bos : -1;
}

int pb_tokenizer_eos(const struct pb_tokenizer *t)
{
	return t ? t->eos : -1;
}

int pb_tokenize(const struct pb_tokenizer *t, const char *text, int add_bos,
		int32_t *out, int max)
{
	if (!t || !text || max < 0 || (max > 0 && !out))
		return -EINVAL;
	int n = 0;
	if (add_bos && t->bos >= 0) {
		if (n < max)
			out[n] = t->bos;
		n++;
	}
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		int id = t->byte_id[*p];
		if (n < max)
			out[n] = id >= 0 ? id : 0;   /* no byte piece: <unk> is 0 */
		if (n == INT32_MAX)
			return -EOVERFLOW;
		n++;
	}
	return n;
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

int pb_detokenize(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len)
{
	if (!t || !buf || !len || id < 0 || id >= t->n)
		return -EINVAL;
	size_t used = strnlen(buf, len);
	if (used == len)
		return -EINVAL;   /* not NUL-terminated */
	if (silent(t, id))
		return 0;
	const char *p = t->pieces[id];
	int b = piece_byte(p);
	if (b == 0)
		return 0;   /* a NUL cannot live in a C string */
	/* SentencePiece marks word starts with U+2581 (e2 96 81): a space */
	size_t n = 0;
	for (const char *q = p; *q; n++)
		q += b < 0 && !strncmp(q, "\xe2\x96\x81", 3) ? 3 : 1;
	if (b > 0)
		n = 1;
	if (used + n + 1 > len)
		return -ENOSPC;
	char *w = buf + used;
	if (b > 0) {
		*w++ = (char)b;
	} else {
		while (*p) {
			if (!strncmp(p, "\xe2\x96\x81", 3)) {
				*w++ = ' ';
				p += 3;
			} else {
				*w++ = *p++;
			}
		}
	}
	*w = '\0';
	return (int)n;
}

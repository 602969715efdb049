/* core/text/tok-llama2c.c — llama2.c's tokenizer .bin: int32
 * max_token_length, then per token a float score, an int32 length and the
 * piece's bytes.  llama2.c's export wrote SentencePiece pieces with ' ' for
 * U+2581 and BOS/EOS as "\n<s>\n" / "\n</s>\n"; they are put back to
 * SentencePiece form, so the vocabulary is the model's own (and can be
 * written to GGUF as a "llama" vocabulary). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"
#include "util/util.h"

#define MAX_PIECE (1 << 16)

static int32_t rd_i32(const char *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* A llama2.c piece back to SentencePiece form, malloc'd. */
static char *spm_piece(const char *p, size_t n)
{
	if (n == 5 && !memcmp(p, "\n<s>\n", 5))
		return strdup("<s>");
	if (n == 6 && !memcmp(p, "\n</s>\n", 6))
		return strdup("</s>");
	char *o = malloc(n * 3 + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ') {
			memcpy(w, SPM_SPACE, 3);
			w += 3;
		} else {
			*w++ = p[i];
		}
	}
	*w = '\0';
	return o;
}

int pb_tokenizer_load_llama2c(const char *path, int n_vocab, struct pb_tokenizer **out,
			      char *err, size_t len)
{
	char *buf = NULL, **pieces = NULL;
	float *scores = NULL;
	size_t size = 0;
	int n = 0, cap = n_vocab > 0 ? n_vocab : 1024;
	int rc = pb_read_file(path, &buf, &size);
	if (rc < 0)
		return pb_errf(err, len, rc, "%s: cannot read the tokenizer: %s", path, pb_strerror(rc));
	if (size < 4) {
		rc = pb_errf(err, len, -EINVAL, "%s: offset 0: expected an int32 max_token_length, the file has %zu bytes",
			     path, size);
		goto out;
	}
	int32_t maxlen = rd_i32(buf);
	if (maxlen <= 0 || maxlen > MAX_PIECE) {
		rc = pb_errf(err, len, -EINVAL, "%s: offset 0: max_token_length %d is not in 1..%d",
			     path, maxlen, MAX_PIECE);
		goto out;
	}
	pieces = calloc((size_t)cap, sizeof *pieces);
	scores = calloc((size_t)cap, sizeof *scores);
	if (!pieces || !scores)
		goto nomem;
	size_t off = 4;
	while (n_vocab > 0 ? n < n_vocab : off < size) {
		if (size - off < 8) {
			rc = pb_errf(err, len, -EINVAL,
				     "%s: offset %zu: token %d: expected a float score and an int32 length, the file ends%s",
				     path, off, n, n_vocab > 0 ? " (truncated: fewer tokens than the model's vocabulary)" : "");
			goto out;
		}
		int32_t l = rd_i32(buf + off + 4);
		if (l < 0 || l > MAX_PIECE) {
			rc = pb_errf(err, len, -EINVAL, "%s: offset %zu: token %d: length %d is %s",
				     path, off + 4, n, l, l < 0 ? "negative" : "over the 65536-byte limit");
			goto out;
		}
		if ((size_t)l > size - off - 8) {
			rc = pb_errf(err, len, -EINVAL,
				     "%s: offset %zu: token %d: length %d runs past the end of the file (%zu bytes left)",
				     path, off + 4, n, l, size - off - 8);
			goto out;
		}
		if (memchr(buf + off + 8, '\0', (size_t)l)) {
			rc = pb_errf(err, len, -EINVAL, "%s: offset %zu: token %d: the piece holds a NUL byte",
				     path, off + 8, n);
			goto out;
		}
		if (n == cap) {
			cap *= 2;
			char **p = realloc(pieces, (size_t)cap * sizeof *p);
			float *s = p ? realloc(scores, (size_t)cap * sizeof *s) : NULL;
			if (p)
				pieces = p;
			if (!s)
				goto nomem;
			scores = s;
		}
		memcpy(&scores[n], buf + off, 4);
		if (!(pieces[n] = spm_piece(buf + off + 8, (size_t)l)))
			goto nomem;
		n++;
		off += 8 + (size_t)l;
	}
	if (n == 0) {
		rc = pb_errf(err, len, -EINVAL, "%s: offset 4: expected at least one token", path);
		goto out;
	}
	/* llama2.c's ids: <unk> 0, BOS 1, EOS 2 */
	struct pb_vocab_spec v = {
		.model = "llama", .tokens = (const char *const *)pieces, .n_tokens = n,
		.scores = scores, .bos_id = n > 1 ? 1 : -1, .eos_id = n > 2 ? 2 : -1,
		.unk_id = -1, .pad_id = -1, .add_bos = -1, .add_space_prefix = -1,
	};
	char why[256];
	rc = pb_tokenizer_from_vocab(&v, out, why, sizeof why);
	if (rc < 0)
		pb_errf(err, len, rc, "%s: %s", path, why);
	goto out;
nomem:
	rc = pb_errf(err, len, -ENOMEM, "%s: out of memory", path);
out:
	for (int i = 0; pieces && i < n; i++)
		free(pieces[i]);
	free(pieces);
	free(scores);
	free(buf);
	return rc;
}

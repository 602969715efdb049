/* core/run/reference-file.c — the dense reference's file format,
 * reference.bin: a header (magic, K, vocab, counts, key length), the key,
 * the teacher-forced sequences, then the row arrays (top-K ids and
 * log-probabilities, tail mass, target log-prob).  Reading checks every
 * count and id against the file's size and vocabulary, so a truncated or
 * foreign file is refused, never half-used.  The cache folder around it and
 * computing a reference are in reference.c (definitions in reference.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/reference.h"
#include "util/util.h"

#define REF_MAGIC "PBREF02\n"   /* 02: target_logp in double */

struct ref_header {
	char magic[8];
	uint32_t k, vocab, n_seqs, key_len;
	uint64_t n_rows;
};

/* ---- file format: header, key, sequences, then the row arrays */

static int put(FILE *f, const void *p, size_t n)
{
	errno = 0;
	return n == 0 || fwrite(p, 1, n, f) == n ? 0 : pb_io_errno();
}

int pb_reference_write(const struct pb_reference *r, const char *key, const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	struct ref_header h = {
		.k = (uint32_t)r->k, .vocab = (uint32_t)r->vocab, .n_seqs = (uint32_t)r->set.n,
		.key_len = (uint32_t)strlen(key), .n_rows = (uint64_t)r->set.n_rows,
	};
	memcpy(h.magic, REF_MAGIC, 8);
	size_t rows = (size_t)r->set.n_rows, rk = rows * (size_t)r->k;
	int rc = put(f, &h, sizeof h) ?: put(f, key, h.key_len);
	for (int i = 0; rc == 0 && i < r->set.n; i++) {
		const struct pb_tf_seq *q = &r->set.v[i];
		int32_t hd[4] = { q->sample, q->n_enc, q->n, q->score_from };
		rc = put(f, hd, sizeof hd) ?: put(f, q->enc, (size_t)q->n_enc * 4) ?:
		     put(f, q->tok, (size_t)q->n * 4);
	}
	if (rc == 0)
		rc = put(f, r->ids, rk * 4) ?: put(f, r->logp, rk * 4) ?:
		     put(f, r->tail_logp, rows * 4) ?: put(f, r->target_logp, rows * 8);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ?: -errno;
	if (fclose(f) != 0)
		rc = rc ?: -errno;
	return rc;
}

struct cursor {
	const char *p;
	size_t left;
};

static int take(struct cursor *c, void *dst, size_t n)
{
	if (n > c->left)
		return -EINVAL;
	if (n)
		memcpy(dst, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

/* n int32 values into a fresh array (NULL when n == 0). */
static int take_i32(struct cursor *c, int32_t n, int32_t **out)
{
	*out = NULL;
	if (n < 0 || (size_t)n * 4 > c->left)
		return -EINVAL;
	if (!n)
		return 0;
	*out = malloc((size_t)n * 4);
	return *out ? take(c, *out, (size_t)n * 4) : -ENOMEM;
}

int pb_reference_read(const char *path, const char *key, struct pb_reference **out,
		      char *err, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	struct ref_header h;
	struct pb_reference *r = NULL;
	int rc = pb_read_file(path, &buf, &size);
	*out = NULL;
	if (rc < 0)
		return pb_errf(err, len, rc, "%s: cannot read: %s", path, strerror(-rc));
	struct cursor c = { buf, size };
	const char *what = "a truncated or corrupt file";
	rc = -EINVAL;
	if (take(&c, &h, sizeof h) < 0 || memcmp(h.magic, REF_MAGIC, 8))
		goto fail;
	if (h.key_len != strlen(key) || h.key_len > c.left || memcmp(c.p, key, h.key_len)) {
		what = "a reference made for other settings (its key differs)";
		goto fail;
	}
	c.p += h.key_len;
	c.left -= h.key_len;
	if (h.vocab < 1 || h.k < 1 || h.k > h.vocab || h.n_seqs > (1u << 24) ||
	    h.n_rows > (uint64_t)c.left)
		goto fail;
	r = calloc(1, sizeof *r);
	if (!r || !(r->set.v = calloc(h.n_seqs + 1, sizeof *r->set.v))) {
		rc = -ENOMEM;
		goto fail;
	}
	r->k = (int)h.k;
	r->vocab = (int)h.vocab;
	long rows = 0;
	for (uint32_t i = 0; i < h.n_seqs; i++) {
		int32_t hd[4];
		struct pb_tf_seq *q = &r->set.v[i];
		if (take(&c, hd, sizeof hd) < 0)
			goto fail;
		r->set.n++;
		q->sample = hd[0];
		q->n_enc = hd[1];
		q->n = hd[2];
		q->score_from = hd[3];
		if ((rc = take_i32(&c, q->n_enc, &q->enc)) < 0 || (rc = take_i32(&c, q->n, &q->tok)) < 0)
			goto fail;
		rc = -EINVAL;
		if (q->score_from < 0 || (q->n > 1 && q->score_from > q->n - 1))
			goto fail;
		for (int j = 0; j < q->n; j++)
			if (q->tok[j] < 0 || (uint32_t)q->tok[j] >= h.vocab)
				goto fail;
		if (q->n > 1)
			rows += q->n - 1 - q->score_from;
	}
	if ((uint64_t)rows != h.n_rows)
		goto fail;
	r->set.n_rows = rows;
	size_t nr = (size_t)rows, rk = nr * h.k;
	if (c.left != rk * 8 + nr * 4 + nr * 8)
		goto fail;
	r->ids = malloc((rk ? rk : 1) * 4);
	r->logp = malloc((rk ? rk : 1) * 4);
	r->tail_logp = malloc((nr ? nr : 1) * 4);
	r->target_logp = malloc((nr ? nr : 1) * 8);
	if (!r->ids || !r->logp || !r->tail_logp || !r->target_logp) {
		rc = -ENOMEM;
		goto fail;
	}
	take(&c, r->ids, rk * 4);
	take(&c, r->logp, rk * 4);
	take(&c, r->tail_logp, nr * 4);
	take(&c, r->target_logp, nr * 8);
	for (size_t i = 0; i < rk; i++)
		if (r->ids[i] < 0 || (uint32_t)r->ids[i] >= h.vocab)
			goto fail;
	free(buf);
	*out = r;
	return 0;
fail:
	free(buf);
	pb_reference_free(r);
	if (rc == -ENOMEM)
		return pb_errf(err, len, rc, "%s: out of memory", path);
	return pb_errf(err, len, -EINVAL, "%s: %s at byte %zu", path, what, size - c.left);
}


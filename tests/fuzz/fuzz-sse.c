/* tests/fuzz/fuzz-sse.c — the openai backend's reply parser
 * (plugins/backends/openai/sse.c: Server-Sent Events framing and the JSON
 * of each completion chunk), which reads whatever a server sends.
 *
 * One input is one byte, then the body.  The body is parsed twice: at
 * once, and fed in pieces whose sizes follow from the first byte (as the
 * network splits a stream anywhere).  Both must agree — the same text,
 * events, end and error — or the harness check fails: a parser that
 * depends on where reads fall would time tokens by accident. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse.h"

struct text {
	char *p;
	size_t n;
	long pieces;
};

static void on_text(void *ctx, const char *p, size_t n)
{
	struct text *t = ctx;
	char *q = realloc(t->p, t->n + n + 1);
	if (!q)
		abort();
	memcpy(q + t->n, p, n);
	t->p = q;
	t->n += n;
	t->pieces++;
}

static int run(const uint8_t *body, size_t n, unsigned seed, struct pb_sse *s, struct text *t)
{
	memset(t, 0, sizeof *t);
	pb_sse_init(s, on_text, t);
	size_t i = 0;
	unsigned x = seed | 1;
	while (i < n) {
		size_t k = n - i;
		if (seed) {   /* 1..16 bytes, a xorshift's choice */
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t want = 1 + (x & 15);
			k = k < want ? k : want;
		}
		/* each piece from its own block, so a read past it is seen */
		char *piece = malloc(k);
		if (!piece)
			abort();
		memcpy(piece, body + i, k);
		int rc = pb_sse_feed(s, piece, k);
		free(piece);
		if (rc < 0)
			return rc;
		i += k;
	}
	return pb_sse_finish(s);
}

void pb_fuzz_init(void)
{
}

int pb_fuzz_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	struct pb_sse a, b;
	struct text ta, tb;
	int ra = run(data + 1, size - 1, 0, &a, &ta);
	int rb = run(data + 1, size - 1, data[0], &b, &tb);
	int same = ra == rb && ta.n == tb.n && ta.pieces == tb.pieces &&
		(ta.n == 0 || !memcmp(ta.p, tb.p, ta.n)) && a.done == b.done &&
		a.n_events == b.n_events && a.n_content == b.n_content &&
		!strcmp(a.finish_reason, b.finish_reason) && !strcmp(a.error, b.error) &&
		a.usage_prompt == b.usage_prompt && a.usage_completion == b.usage_completion;
	/* an error is always explained */
	if (ra < 0 && !a.error[0])
		same = 0;
	pb_sse_free(&a);
	pb_sse_free(&b);
	free(ta.p);
	free(tb.p);
	return same ? ra : PB_FUZZ_CHECK_FAILED;
}

/* core/serve/stream.c — holding back incomplete UTF-8 and possible stop
 * strings while a request's text grows (stream.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve/stream.h"

int pb_text_stream_init(struct pb_text_stream *ts, const char *const *stop, int n_stop)
{
	memset(ts, 0, sizeof *ts);
	ts->cap = 256;
	if (!(ts->text = malloc(ts->cap)))
		return -ENOMEM;
	ts->text[0] = '\0';
	ts->stop = stop;
	ts->n_stop = n_stop;
	return 0;
}

void pb_text_stream_free(struct pb_text_stream *ts)
{
	free(ts->text);
	memset(ts, 0, sizeof *ts);
}

/* Bytes a character with lead byte c takes; 0: not a lead byte. */
static int utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
}

/* Length of a well-formed character at s (n bytes left), 0 when none,
 * -1 when s holds its well-formed start but is cut short. */
static int utf8_char(const unsigned char *s, size_t n)
{
	int len = utf8_len(s[0]);
	if (!len)
		return 0;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		unsigned char lo = 0x80, hi = 0xbf;
		if (i == 1) {   /* no overlongs, surrogates or code points past U+10FFFF */
			if (s[0] == 0xe0) lo = 0xa0;
			if (s[0] == 0xed) hi = 0x9f;
			if (s[0] == 0xf0) lo = 0x90;
			if (s[0] == 0xf4) hi = 0x8f;
		}
		if (s[i] < lo || s[i] > hi)
			return 0;
	}
	return len;
}

/* How many bytes at the end of s[0..n) are an incomplete character. */
static size_t incomplete_tail(const char *s, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		const unsigned char *p = (const unsigned char *)s + n - k;
		if (utf8_len(*p) > 1)
			return utf8_char(p, k) < 0 ? k : 0;
		if ((*p & 0xc0) != 0x80)
			return 0;
	}
	return 0;
}

int pb_text_stream_take(struct pb_text_stream *ts, int final, const char **piece, size_t *n)
{
	*piece = ts->text + ts->sent;
	*n = 0;
	if (ts->stopped)
		return 1;
	size_t len = strlen(ts->text);
	/* a stop string can only start at or after `sent`: text that could
	 * begin one was held back */
	const char *first = NULL;
	for (int i = 0; i < ts->n_stop; i++) {
		if (!ts->stop[i][0])
			continue;
		const char *hit = memmem(ts->text + ts->sent, len - ts->sent, ts->stop[i], strlen(ts->stop[i]));
		if (hit && (!first || hit < first))
			first = hit;
	}
	if (first) {
		ts->end = (size_t)(first - ts->text);
		ts->stopped = 1;
		*n = ts->end - ts->sent;
		ts->sent = ts->end;
		return 1;
	}
	ts->end = len;
	size_t safe = len;
	if (!final) {
		/* the longest tail that is a proper prefix of a stop string */
		for (int i = 0; i < ts->n_stop; i++) {
			size_t sl = strlen(ts->stop[i]);
			for (size_t k = sl ? sl - 1 : 0; k > 0; k--)
				if (k <= len - ts->sent && len - k < safe &&
				    !memcmp(ts->text + len - k, ts->stop[i], k)) {
					safe = len - k;
					break;
				}
		}
		safe -= incomplete_tail(ts->text + ts->sent, safe - ts->sent);
	}
	*n = safe - ts->sent;
	ts->sent = safe;
	return 0;
}

char *pb_utf8_sanitize(const char *s, size_t n, size_t *outn)
{
	/* each bad byte (1 byte) becomes 3 */
	char *out = malloc(n * 3 + 1), *w = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		int l = utf8_char(p + i, n - i);
		if (l > 0) {
			memcpy(w, p + i, (size_t)l);
			w += l;
			i += (size_t)l;
		} else {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
		}
	}
	*w = '\0';
	*outn = (size_t)(w - out);
	return out;
}

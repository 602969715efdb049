/* core/serve/stream.h — a request's output text as it grows token by
 * token, and which part of it may be handed to the client yet: never the
 * start of an incomplete UTF-8 character, never text that may turn out to
 * be the start of a stop string (those are held back until the next token
 * decides), and nothing from the first stop string on (generation ends
 * there; the stop text is not returned). */
#ifndef PB_SERVE_STREAM_H
#define PB_SERVE_STREAM_H

#include <stddef.h>

struct pb_text_stream {
	char *text;              /* all text so far, NUL-terminated (malloc'd, grows) */
	size_t cap;
	size_t end;              /* where the text ends: strlen(text), or the stop string's start */
	size_t sent;             /* bytes handed out */
	const char *const *stop; /* borrowed */
	int n_stop;
	int stopped;             /* a stop string was found at `end` */
};

/* 0 or -ENOMEM. */
int pb_text_stream_init(struct pb_text_stream *ts, const char *const *stop, int n_stop);
void pb_text_stream_free(struct pb_text_stream *ts);
/* The text has grown (appended to ts->text): look for stop strings
 * and return in *piece and *n what may be handed out now (final: all that is
 * left), marking it sent.  Returns ts->stopped. */
int pb_text_stream_take(struct pb_text_stream *ts, int final, const char **piece, size_t *n);

/* s[0..n) as valid UTF-8, every byte that belongs to no well-formed
 * character replaced by U+FFFD (JSON strings must be UTF-8): malloc'd,
 * NUL-terminated, length in *outn; NULL on ENOMEM. */
char *pb_utf8_sanitize(const char *s, size_t n, size_t *outn);

#endif

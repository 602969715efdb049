/* core/text/tok-bytelevel.c — GPT-2's byte-to-unicode map, which makes
 * every byte a printable character before byte-level BPE merges (the split
 * regex that goes before it is TOK_GPT2_REGEX, run by tok-split.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"

/* GPT-2's bytes_to_unicode(): printable bytes ('!'..'~', '¡'..'¬',
 * '®'..'ÿ') are themselves, the other 68 become U+0100 upwards in order. */
uint32_t tok_byte_to_cp(unsigned char b)
{
	if (b <= 0x20)
		return 256u + b;
	if (b >= 0x7f && b <= 0xa0)
		return 256u + 33 + (b - 0x7fu);
	if (b == 0xad)
		return 256u + 33 + 34;
	return b;
}

int tok_cp_to_byte(uint32_t cp)
{
	if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
		return (int)cp;
	if (cp >= 256 && cp <= 256 + 32)
		return (int)(cp - 256);
	if (cp >= 256 + 33 && cp <= 256 + 33 + 33)
		return (int)(0x7f + cp - (256 + 33));
	if (cp == 256 + 33 + 34)
		return 0xad;
	return -1;
}

static size_t put_utf8(char *w, uint32_t cp)
{
	if (cp < 0x80) {
		w[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		w[0] = (char)(0xc0 | cp >> 6);
		w[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	w[0] = (char)(0xe0 | cp >> 12);
	w[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	w[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

char *tok_bytes_to_unicode(const char *s, size_t n, size_t *outn)
{
	char *o = malloc(n * 2 + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
		w += put_utf8(w, tok_byte_to_cp((unsigned char)s[i]));
	*w = '\0';
	*outn = (size_t)(w - o);
	return o;
}

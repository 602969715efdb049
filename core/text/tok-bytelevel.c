/* core/text/tok-bytelevel.c — GPT-2's byte-level pre-tokenizer: the split
 * regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * written out by hand, and the byte-to-unicode map that makes every byte a
 * printable character.
 *
 * Limits: \p{L}, \p{N} and \s come from a table of Unicode blocks, not the
 * Unicode character database.  ASCII and Latin-1 are exact; the main
 * alphabetic scripts (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic,
 * Indic, Thai, Hangul, kana, CJK) count as letters as whole blocks, so a
 * punctuation or digit code point inside those blocks is taken for a
 * letter; combining marks (\p{M}) count as "other". */
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

enum cls { C_OTHER, C_LETTER, C_NUMBER, C_SPACE };

static const struct { uint32_t lo, hi; } letters[] = {
	{ 0xaa, 0xaa }, { 0xb5, 0xb5 }, { 0xba, 0xba }, { 0xc0, 0xd6 }, { 0xd8, 0xf6 },
	{ 0xf8, 0x2c1 }, { 0x2c6, 0x2d1 }, { 0x2e0, 0x2e4 }, { 0x370, 0x373 }, { 0x376, 0x377 },
	{ 0x37b, 0x37d }, { 0x386, 0x386 }, { 0x388, 0x3ff }, { 0x400, 0x481 }, { 0x48a, 0x52f },
	{ 0x531, 0x556 }, { 0x561, 0x587 }, { 0x5d0, 0x5ea }, { 0x620, 0x64a }, { 0x671, 0x6d3 },
	{ 0x904, 0x939 }, { 0x958, 0x961 }, { 0x985, 0x9b9 }, { 0xa05, 0xa39 }, { 0xa85, 0xab9 },
	{ 0xb05, 0xb39 }, { 0xb85, 0xbb9 }, { 0xc05, 0xc39 }, { 0xc85, 0xcb9 }, { 0xd05, 0xd3a },
	{ 0xe01, 0xe30 }, { 0xe40, 0xe46 }, { 0x10a0, 0x10ff }, { 0x1100, 0x11ff },
	{ 0x1e00, 0x1fbc }, { 0x2c00, 0x2dff }, { 0x3041, 0x3096 }, { 0x309d, 0x309f },
	{ 0x30a1, 0x30fa }, { 0x30fc, 0x30ff }, { 0x3105, 0x312f }, { 0x3131, 0x318e },
	{ 0x3400, 0x4dbf }, { 0x4e00, 0x9fff }, { 0xa000, 0xa48c }, { 0xac00, 0xd7a3 },
	{ 0xf900, 0xfaff }, { 0xff21, 0xff3a }, { 0xff41, 0xff5a }, { 0xff66, 0xffdc },
	{ 0x10000, 0x1fbff }, { 0x20000, 0x3134f },
};

static const struct { uint32_t lo, hi; } numbers[] = {
	{ 0x30, 0x39 }, { 0xb2, 0xb3 }, { 0xb9, 0xb9 }, { 0xbc, 0xbe }, { 0x660, 0x669 },
	{ 0x6f0, 0x6f9 }, { 0x966, 0x96f }, { 0x9e6, 0x9ef }, { 0xe50, 0xe59 }, { 0x2070, 0x2070 },
	{ 0x2074, 0x2079 }, { 0x2080, 0x2089 }, { 0x2150, 0x2189 }, { 0x2460, 0x249b },
	{ 0x24ea, 0x24ff }, { 0x2776, 0x2793 }, { 0x3007, 0x3007 }, { 0x3021, 0x3029 },
	{ 0xff10, 0xff19 },
};

static enum cls classify(uint32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
			return C_LETTER;
		if (cp >= '0' && cp <= '9')
			return C_NUMBER;
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) ? C_SPACE : C_OTHER;
	}
	if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return C_SPACE;
	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
		if (cp >= numbers[i].lo && cp <= numbers[i].hi)
			return C_NUMBER;
	/* emoji and symbols above U+1F000 are not letters */
	if (cp >= 0x1f000 && cp <= 0x1fbff)
		return C_OTHER;
	for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
		if (cp >= letters[i].lo && cp <= letters[i].hi)
			return C_LETTER;
	return C_OTHER;
}

static enum cls cls_at(const char *s, size_t n, size_t i, size_t *len)
{
	return classify(tok_utf8_decode(s + i, n - i, len));
}

/* End of a run of class c starting at i. */
static size_t run_of(const char *s, size_t n, size_t i, enum cls c)
{
	size_t l;
	while (i < n && cls_at(s, n, i, &l) == c)
		i += l;
	return i;
}

/* End of the regex match that starts at i (always > i). */
static size_t match_at(const char *s, size_t n, size_t i)
{
	size_t l;
	if (s[i] == '\'' && i + 1 < n) {
		char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
		if (a == 's' || a == 't' || a == 'm' || a == 'd')
			return i + 2;
		if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
			return i + 3;
	}
	size_t k = s[i] == ' ' && i + 1 < n ? i + 1 : i;
	enum cls c = cls_at(s, n, k, &l);
	if (c != C_SPACE)
		return run_of(s, n, k, c);
	/* whitespace: all of it at the end of the text, else all but the last
	 * character (which then leads the next word), else one */
	size_t e = i, last = i;
	while (e < n && cls_at(s, n, e, &l) == C_SPACE) {
		last = e;
		e += l;
	}
	if (e == n || last == i)
		return e;
	return last;
}

int tok_gpt2_split(const char *s, size_t n, int (*fn)(void *ctx, const char *s, size_t n),
		   void *ctx)
{
	for (size_t i = 0; i < n;) {
		size_t e = match_at(s, n, i);
		int rc = fn(ctx, s + i, e - i);
		if (rc < 0)
			return rc;
		i = e;
	}
	return 0;
}

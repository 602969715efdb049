/* core/report/escape.c — every string that comes from a results folder
 * (ids, reasons, log tails, configuration values) is untrusted: it reaches
 * HTML and Markdown only through these. */
#include <stdio.h>

#include "report/report.h"

void pb_html_puts(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control characters other than tab and newline are not
			 * allowed in HTML text; show them as U+FFFD */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputs("&#xfffd;", f);
			else
				fputc(*s, f);
		}
	}
}

void pb_md_puts(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\n':
		case '\r':
		case '\t':
			fputc(' ', f);
			break;
		case '|': case '\\': case '*': case '_': case '`': case '[': case ']':
		case '#': case '~':
			fputc('\\', f);
			fputc(*s, f);
			break;
		/* raw HTML is live in most Markdown renderers */
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', f);
			else
				fputc(*s, f);
		}
	}
}

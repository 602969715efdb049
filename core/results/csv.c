/* core/results/csv.c — CSV files through libcsv: a streaming writer that
 * quotes only the fields that need it (so the files stay readable and diff
 * well) and a strict reader that loads a whole table and names the file,
 * line and byte offset of anything it cannot accept. */
#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "util/util.h"

struct pb_csv {
	FILE *f;
	int ncols;
	int err;        /* first write error, reported by pb_csv_close */
};

/* libcsv's parser trims unquoted leading and trailing blanks, so a field
 * with them must be quoted as well as the RFC 4180 specials. */
static int needs_quotes(const char *s, size_t n)
{
	if (!n)
		return 0;
	if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return 1;
	return strpbrk(s, ",\"\r\n") != NULL;
}

static int put_field(struct pb_csv *w, const char *s, int only_field)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	/* A line holding one empty field would be a blank line, which every
	 * reader (libcsv included) skips: write it as "". */
	if (needs_quotes(s, n) || (!n && only_field))
		return csv_fwrite(w->f, s, n) == 0 ? 0 : pb_io_errno();
	return fwrite(s, 1, n, w->f) == n ? 0 : pb_io_errno();
}

static int put_row(struct pb_csv *w, const char *const *fields)
{
	for (int i = 0; i < w->ncols; i++) {
		if (i && fputc(',', w->f) == EOF)
			return pb_io_errno();
		int err = put_field(w, fields[i], w->ncols == 1);
		if (err)
			return err;
	}
	return fputc('\n', w->f) == EOF ? pb_io_errno() : 0;
}

struct pb_csv *pb_csv_create(const char *path, const char *const *header, int ncols)
{
	if (ncols < 1 || !header) {
		errno = EINVAL;
		return NULL;
	}
	struct pb_csv *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->ncols = ncols;
	w->f = fopen(path, "w");
	if (!w->f) {
		int e = errno;
		free(w);
		errno = e;
		return NULL;
	}
	errno = 0;
	int err = put_row(w, header);
	if (err < 0) {
		fclose(w->f);
		free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

int pb_csv_row(struct pb_csv *w, const char *const *fields)
{
	if (w->err)
		return w->err;
	errno = 0;
	int err = put_row(w, fields);
	if (err)
		w->err = err;
	return err ? w->err : 0;
}

int pb_csv_close(struct pb_csv *w)
{
	if (!w)
		return -EINVAL;
	int err = w->err;
	errno = 0;
	if (fflush(w->f) != 0 && !err)
		err = pb_io_errno();
	if (ferror(w->f) && !err)
		err = pb_io_errno();
	if (fclose(w->f) != 0 && !err)
		err = -errno;
	free(w);
	return err;
}

/* ---- reader */

struct reader {
	const char *path;
	char *err;
	size_t len;
	int code;            /* first error (-errno); err already holds its text */
	size_t base;         /* bytes skipped before the parsed text (a BOM) */
	int line;            /* line of the chunk being parsed */
	int row_line;        /* line where the current row's first field was seen */
	size_t chunk_end;    /* offset just past the chunk being parsed */
	size_t next_off;     /* where the row after the last complete one may start */
	char **fields;       /* current row */
	int nf, capf;
	struct pb_table *t;
	int capr;
};

static void fail(struct reader *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct reader *r, int code, const char *fmt, ...)
{
	if (r->code)
		return;
	r->code = code;
	if (r->err && r->len) {
		va_list ap;
		int n = snprintf(r->err, r->len, "%s: ", r->path);
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < r->len)
			vsnprintf(r->err + n, r->len - n, fmt, ap);
		va_end(ap);
	}
}

static void on_field(void *s, size_t n, void *data)
{
	struct reader *r = data;
	if (r->code)
		return;
	if (!r->nf)
		r->row_line = r->line;
	if (memchr(s, '\0', n)) {
		fail(r, -EINVAL, "line %d: NUL byte inside a field", r->line);
		return;
	}
	if (r->nf == r->capf) {
		int cap = r->capf ? r->capf * 2 : 16;
		char **nf = realloc(r->fields, cap * sizeof *nf);
		if (!nf) {
			fail(r, -ENOMEM, "out of memory");
			return;
		}
		r->fields = nf;
		r->capf = cap;
	}
	char *v = malloc(n + 1);
	if (!v) {
		fail(r, -ENOMEM, "out of memory");
		return;
	}
	memcpy(v, s, n);
	v[n] = '\0';
	r->fields[r->nf++] = v;
}

static void drop_fields(struct reader *r)
{
	for (int i = 0; i < r->nf; i++)
		free(r->fields[i]);
	r->nf = 0;
}

static void on_row(int c, void *data)
{
	(void)c;
	struct reader *r = data;
	struct pb_table *t = r->t;
	r->next_off = r->chunk_end;
	if (r->code) {
		drop_fields(r);
		return;
	}
	if (!t->header) {
		t->header = r->fields;
		t->ncols = r->nf;
		r->fields = NULL;
		r->nf = r->capf = 0;
		return;
	}
	/* A short row is a row cut mid-way (an interrupted writer, a
	 * truncated copy): padding it would feed a made-up sample to the
	 * statistics. */
	if (r->nf != t->ncols) {
		fail(r, -EINVAL, "line %d: row %d has %d fields, the header has %d%s",
		     r->row_line, t->nrows + 1, r->nf, t->ncols,
		     r->nf < t->ncols ? " (a row cut short?)" : "");
		drop_fields(r);
		return;
	}
	if (t->nrows == r->capr) {
		int cap = r->capr ? r->capr * 2 : 64;
		char ***nr = realloc(t->rows, cap * sizeof *nr);
		if (!nr)
			goto oom;
		t->rows = nr;
		r->capr = cap;
	}
	char **row = malloc(t->ncols * sizeof *row);
	if (!row)
		goto oom;
	memcpy(row, r->fields, t->ncols * sizeof *row);
	r->nf = 0;     /* the strings now belong to row */
	t->rows[t->nrows++] = row;
	return;
oom:
	fail(r, -ENOMEM, "out of memory");
	drop_fields(r);
}

void pb_table_free(struct pb_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->ncols && t->header; i++)
		free(t->header[i]);
	free(t->header);
	for (int r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++)
			free(t->rows[r][i]);
		free(t->rows[r]);
	}
	free(t->rows);
	free(t);
}

int pb_table_col(const struct pb_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (!strcmp(t->header[i], name))
			return i;
	return -1;
}

/* Parses buf in chunks that end at each '\n', so that callbacks know the
 * line they are on and a parse error's byte offset is exact. */
static int parse(struct reader *r, struct csv_parser *p, const char *buf, size_t n)
{
	size_t pos = 0;
	r->line = 1;
	while (pos < n && !r->code) {
		const char *nl = memchr(buf + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - buf) + 1 : n;
		r->chunk_end = end;
		size_t k = csv_parse(p, buf + pos, end - pos, on_field, on_row, r);
		if (k < end - pos && csv_error(p) != CSV_EPARSE) {
			fail(r, -ENOMEM, "out of memory");
			return r->code;
		}
		if (k < end - pos) {
			fail(r, -EINVAL, "line %d, byte offset %zu: %s (a quote inside an "
			     "unquoted field, or text after a closing quote)", r->line, r->base + pos + k,
			     csv_strerror(csv_error(p)));
			return r->code;
		}
		pos = end;
		if (nl)
			r->line++;
	}
	if (r->code)
		return r->code;
	if (csv_fini(p, on_field, on_row, r) != 0) {
		/* The open row starts after the last complete one and any blank lines. */
		size_t at = r->next_off;
		while (at < n && (buf[at] == '\n' || buf[at] == '\r'))
			at++;
		int line = 1;
		for (size_t i = 0; i < at; i++)
			line += buf[i] == '\n';
		fail(r, -EINVAL, "byte offset %zu: unterminated quoted field (the row "
		     "starting on line %d, byte offset %zu, has no closing quote)",
		     r->base + n, line, r->base + at);
		return r->code;
	}
	/* Every row prunebench writes ends in a line end; a last row without
	 * one was cut, possibly mid-field, where the field count cannot tell. */
	if (n && buf[n - 1] != '\n' && buf[n - 1] != '\r') {
		size_t at = n;
		while (at > 0 && buf[at - 1] != '\n')
			at--;
		fail(r, -EINVAL, "line %d, byte offset %zu: the last row has no line end (the "
		     "file was cut short?)", r->line, r->base + at);
		return r->code;
	}
	return r->code;
}

int pb_csv_read(const char *path, struct pb_table **out, char *err, size_t len)
{
	struct reader r = { .path = path, .err = err, .len = len };
	struct csv_parser p;
	char *buf = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (err && len)
		err[0] = '\0';
	rc = pb_read_file(path, &buf, &n);
	if (rc < 0) {
		fail(&r, rc, "%s", pb_strerror(rc));
		return rc;
	}
	r.t = calloc(1, sizeof *r.t);
	if (!r.t || csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
		free(r.t);
		free(buf);
		fail(&r, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	/* A UTF-8 byte order mark (spreadsheets write one) is not data. */
	size_t skip = n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0;
	r.base = skip;
	rc = parse(&r, &p, buf + skip, n - skip);
	csv_free(&p);
	drop_fields(&r);
	free(r.fields);
	free(buf);
	if (!rc && !r.t->header) {
		fail(&r, -EINVAL, "empty file (expected a header row)");
		rc = r.code;
	}
	if (rc) {
		pb_table_free(r.t);
		return rc;
	}
	*out = r.t;
	return 0;
}

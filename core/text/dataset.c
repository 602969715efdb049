/* core/text/dataset.c — datasets: raw text (cut into segments of whole
 * lines), prompt lines, JSON lines (jansson) and CSV with a header row
 * (libcsv); a deterministic shuffle; the calibration split from the end and
 * the evaluated samples from the start.  The sha256 of the file's bytes goes
 * into the manifest and the dense reference's key. */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "text/text.h"
#include "util/util.h"

struct records {
	struct pb_sample *v;
	int n, cap;
};

static int push(struct records *r, char *input, char *reference, int line)
{
	if (r->n == r->cap) {
		int nc = r->cap ? r->cap * 2 : 64;
		struct pb_sample *p = realloc(r->v, (size_t)nc * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->v = p;
		r->cap = nc;
	}
	r->v[r->n++] = (struct pb_sample){ .input = input, .reference = reference, .line = line };
	return 0;
}

static void free_samples(struct pb_sample *s, int n)
{
	for (int i = 0; s && i < n; i++) {
		free(s[i].input);
		free(s[i].reference);
	}
	free(s);
}

/* prefix + s[0..n), NUL-terminated. */
static char *with_prefix(const char *prefix, const char *s, size_t n)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	char *out = malloc(pl + n + 1);
	if (!out)
		return NULL;
	if (pl)
		memcpy(out, prefix, pl);
	memcpy(out + pl, s, n);
	out[pl + n] = '\0';
	return out;
}

/* ---- text: segments of whole lines, at most PB_TEXT_SEGMENT_BYTES each;
 * a longer line is cut at a UTF-8 character boundary.  Separator lines
 * such as <|endoftext|> stay in the text. */
static int load_text(const char *path, const char *buf, size_t size, struct records *r,
		     char *err, size_t len)
{
	size_t seg = 0;          /* start of the current segment */
	int seg_line = 1, line = 1;
	const char *nul = memchr(buf, '\0', size);
	if (nul) {
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		return pb_errf(err, len, -EINVAL, "%s:%d: expected text, found a NUL byte", path, line);
	}
	for (size_t pos = 0; pos < size;) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - buf) + 1 : size;
		if (end - seg > PB_TEXT_SEGMENT_BYTES && pos > seg) {
			/* the segment is full: close it before this line */
			char *s = strndup(buf + seg, pos - seg);
			if (!s || push(r, s, NULL, seg_line) < 0) {
				free(s);
				return -ENOMEM;
			}
			seg = pos;
			seg_line = line;
		}
		while (end - seg > PB_TEXT_SEGMENT_BYTES) {
			/* one line longer than a segment */
			size_t cut = seg + PB_TEXT_SEGMENT_BYTES;
			while (cut > seg + 1 && ((unsigned char)buf[cut] & 0xc0) == 0x80)
				cut--;
			char *s = strndup(buf + seg, cut - seg);
			if (!s || push(r, s, NULL, seg_line) < 0) {
				free(s);
				return -ENOMEM;
			}
			seg = cut;
		}
		pos = end;
		line++;
	}
	if (seg < size) {
		char *s = strndup(buf + seg, size - seg);
		if (!s || push(r, s, NULL, seg_line) < 0) {
			free(s);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- text split at a separator: the pieces between its occurrences,
 * leading and trailing whitespace (space, tab, CR, LF) removed, empty
 * pieces dropped; a record's line is that of its first byte kept. */
static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int load_text_records(const char *sep, const char *buf, size_t size, struct records *r)
{
	const size_t sl = strlen(sep);
	int line = 1;           /* line of buf[pos] */
	size_t pos = 0;
	while (pos <= size) {
		const char *hit = sl <= size - pos ? memmem(buf + pos, size - pos, sep, sl) : NULL;
		size_t end = hit ? (size_t)(hit - buf) : size;
		size_t a = pos, b = end;
		while (a < b && is_ws(buf[a]))
			a++;
		while (b > a && is_ws(buf[b - 1]))
			b--;
		int rline = line;
		for (size_t i = pos; i < a; i++)
			rline += buf[i] == '\n';
		if (b > a) {
			char *s = strndup(buf + a, b - a);
			if (!s || push(r, s, NULL, rline) < 0) {
				free(s);
				return -ENOMEM;
			}
		}
		if (!hit)
			break;
		for (size_t i = pos; i < end + sl; i++)
			line += buf[i] == '\n';
		pos = end + sl;
	}
	return 0;
}

/* ---- prompts: one per non-empty line, trailing \r stripped */
static int load_prompts(const struct pb_dataset_opts *o, const char *buf, size_t size,
			struct records *r, char *err, size_t len)
{
	int lineno = 0;
	for (size_t pos = 0; pos < size;) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - line) : size - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (!n)
			continue;
		if (memchr(line, '\0', n))
			return pb_errf(err, len, -EINVAL, "%s:%d: expected text, found a NUL byte",
				       o->path, lineno);
		char *s = with_prefix(o->prefix, line, n);
		if (!s || push(r, s, NULL, lineno) < 0) {
			free(s);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- JSON lines */
static int json_field(const char *path, int lineno, json_t *root, const char *field,
		      const char *prefix, char **out, char *err, size_t len)
{
	json_t *v = json_is_object(root) ? json_object_get(root, field) : NULL;
	if (!v || !json_is_string(v))
		return pb_errf(err, len, -EINVAL,
			       "%s:%d: expected a JSON object with a string field '%s'",
			       path, lineno, field);
	*out = with_prefix(prefix, json_string_value(v), json_string_length(v));
	return *out ? 0 : -ENOMEM;
}

static int load_jsonl(const struct pb_dataset_opts *o, const char *buf, size_t size,
		      struct records *r, char *err, size_t len)
{
	const char *input = o->input && o->input[0] ? o->input : "prompt";
	int lineno = 0, rc = 0;
	for (size_t pos = 0; pos < size && rc == 0;) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - line) : size - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		json_error_t je;
		json_t *root = json_loadb(line, n, 0, &je);
		if (!root)
			return pb_errf(err, len, -EINVAL, "%s:%d:%d: invalid JSON: %s", o->path,
				       lineno, je.column, je.text);
		char *in = NULL, *ref = NULL;
		rc = json_field(o->path, lineno, root, input, o->prefix, &in, err, len);
		if (rc == 0 && o->reference && o->reference[0])
			rc = json_field(o->path, lineno, root, o->reference, NULL, &ref, err, len);
		json_decref(root);
		if (rc == 0 && (rc = push(r, in, ref, lineno)) == 0)
			continue;
		free(in);
		free(ref);
	}
	return rc;
}

/* ---- CSV: libcsv in strict mode, fed one line at a time so that every
 * row knows the line it starts on (its end line less the newlines inside
 * its quoted fields). */
struct csv_state {
	const struct pb_dataset_opts *o;
	struct records *r;
	char *err;
	size_t len;
	int rc;
	int line;                /* line being fed */
	int row_nl;              /* newlines inside the current row's fields */
	char **fields;           /* current row */
	int n_fields, cap_fields;
	char **header;
	int n_header;
	int col_input, col_ref;
};

static void csv_field(void *s, size_t n, void *data)
{
	struct csv_state *st = data;
	if (st->rc)
		return;
	if (st->n_fields == st->cap_fields) {
		int nc = st->cap_fields ? st->cap_fields * 2 : 16;
		char **p = realloc(st->fields, (size_t)nc * sizeof *p);
		if (!p) {
			st->rc = -ENOMEM;
			return;
		}
		st->fields = p;
		st->cap_fields = nc;
	}
	char *f = strndup(s ? s : "", s ? n : 0);
	if (!f) {
		st->rc = -ENOMEM;
		return;
	}
	if (memchr(s ? s : "", '\0', s ? n : 0)) {
		free(f);
		st->rc = pb_errf(st->err, st->len, -EINVAL, "%s:%d: expected text, found a NUL byte",
				 st->o->path, st->line);
		return;
	}
	for (size_t i = 0; i < n; i++)
		st->row_nl += ((const char *)s)[i] == '\n';
	st->fields[st->n_fields++] = f;
}

static int csv_column(struct csv_state *st, const char *name, int *col)
{
	for (int i = 0; i < st->n_header; i++)
		if (!strcmp(st->header[i], name)) {
			*col = i;
			return 0;
		}
	char cols[512] = "";
	for (int i = 0; i < st->n_header; i++) {
		size_t l = strlen(cols);
		snprintf(cols + l, sizeof cols - l, "%s'%s'", i ? ", " : "", st->header[i]);
	}
	return pb_errf(st->err, st->len, -EINVAL, "%s:1: no column '%s' in the header (columns: %s)",
		       st->o->path, name, cols);
}

static void csv_row(int c, void *data)
{
	struct csv_state *st = data;
	int start = st->line - st->row_nl;
	(void)c;
	if (st->rc)
		goto out;
	if (!st->header) {
		st->header = st->fields;
		st->n_header = st->n_fields;
		st->fields = NULL;
		st->n_fields = st->cap_fields = 0;
		const char *input = st->o->input && st->o->input[0] ? st->o->input : "prompt";
		st->col_ref = -1;
		if ((st->rc = csv_column(st, input, &st->col_input)) == 0 &&
		    st->o->reference && st->o->reference[0])
			st->rc = csv_column(st, st->o->reference, &st->col_ref);
		goto out;
	}
	if (st->n_fields != st->n_header) {
		st->rc = pb_errf(st->err, st->len, -EINVAL,
				 "%s:%d: expected %d fields as in the header, got %d",
				 st->o->path, start, st->n_header, st->n_fields);
		goto out;
	}
	const char *in = st->fields[st->col_input];
	char *input = with_prefix(st->o->prefix, in, strlen(in));
	char *ref = st->col_ref >= 0 ? strdup(st->fields[st->col_ref]) : NULL;
	if (!input || (st->col_ref >= 0 && !ref) || push(st->r, input, ref, start) < 0) {
		free(input);
		free(ref);
		st->rc = -ENOMEM;
	}
out:
	for (int i = 0; i < st->n_fields; i++)
		free(st->fields[i]);
	st->n_fields = 0;
	st->row_nl = 0;
}

static int load_csv(const struct pb_dataset_opts *o, const char *buf, size_t size,
		    struct records *r, char *err, size_t len)
{
	struct csv_parser p;
	struct csv_state st = { .o = o, .r = r, .err = err, .len = len };
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return -ENOMEM;
	for (size_t pos = 0; pos < size && !st.rc;) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) + 1 : size - pos;
		st.line++;
		if (csv_parse(&p, buf + pos, n, csv_field, csv_row, &st) != n && !st.rc)
			st.rc = pb_errf(err, len, -EINVAL, "%s:%d: malformed CSV: %s", o->path,
					st.line, csv_strerror(csv_error(&p)));
		pos += n;
	}
	if (!st.rc && csv_fini(&p, csv_field, csv_row, &st) != 0 && !st.rc)
		st.rc = pb_errf(err, len, -EINVAL, "%s:%d: malformed CSV: %s (an unterminated quote?)",
				o->path, st.line, csv_strerror(csv_error(&p)));
	if (!st.rc && !st.header)
		st.rc = pb_errf(err, len, -EINVAL, "%s: expected a header row", o->path);
	csv_free(&p);
	for (int i = 0; i < st.n_fields; i++)
		free(st.fields[i]);
	free(st.fields);
	for (int i = 0; i < st.n_header; i++)
		free(st.header[i]);
	free(st.header);
	return st.rc;
}

/* ---- the whole load */

static const char *const kind_names[] = { NULL, "text", "prompts", "jsonl", "csv" };

const char *pb_dataset_kind_name(enum pb_dataset_kind k)
{
	return k >= PB_DATASET_TEXT && k <= PB_DATASET_CSV ? kind_names[k] : "unknown";
}

enum pb_dataset_kind pb_dataset_kind_parse(const char *name)
{
	for (int k = PB_DATASET_TEXT; k <= PB_DATASET_CSV; k++)
		if (name && !strcmp(name, kind_names[k]))
			return (enum pb_dataset_kind)k;
	return 0;
}

enum pb_dataset_kind pb_dataset_kind_of_path(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return PB_DATASET_PROMPTS;
	if (!strcmp(dot, ".jsonl"))
		return PB_DATASET_JSONL;
	if (!strcmp(dot, ".csv"))
		return PB_DATASET_CSV;
	if (!strcmp(dot, ".raw"))
		return PB_DATASET_TEXT;
	return PB_DATASET_PROMPTS;
}

/* Fisher-Yates: a permutation that depends only on the seed. */
static void shuffle(struct pb_sample *v, int n, uint64_t seed)
{
	struct pb_rng rng;
	pb_rng_seed(&rng, seed);
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(pb_rng_next(&rng) % (uint64_t)(i + 1));
		struct pb_sample t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static const char *kind_expect(enum pb_dataset_kind k)
{
	switch (k) {
	case PB_DATASET_TEXT:    return "some text";
	case PB_DATASET_PROMPTS: return "one prompt per non-empty line";
	case PB_DATASET_JSONL:   return "one JSON object per line";
	case PB_DATASET_CSV:     return "a header row and at least one row";
	}
	return "records";
}

int pb_dataset_load(const struct pb_dataset_opts *o, struct pb_dataset **out,
		    char *err, size_t len)
{
	struct records r = { 0 };
	struct pb_dataset *d = NULL;
	char *buf = NULL;
	size_t size = 0;
	int rc;

	*out = NULL;
	if (!o || !o->path || o->kind < PB_DATASET_TEXT || o->kind > PB_DATASET_CSV ||
	    o->calib_count < 0)
		return pb_errf(err, len, -EINVAL, "dataset: invalid options");
	rc = pb_read_file(o->path, &buf, &size);
	if (rc < 0)
		return pb_errf(err, len, rc, "%s: cannot read: %s", o->path, pb_strerror(rc));
	d = calloc(1, sizeof *d);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	d->kind = o->kind;
	d->has_reference = (o->kind == PB_DATASET_JSONL || o->kind == PB_DATASET_CSV) &&
			   o->reference && o->reference[0];
	pb_sha256_buf(buf, size, d->sha256);
	switch (o->kind) {
	case PB_DATASET_TEXT:
		rc = load_text(o->path, buf, size, &r, err, len);
		if (rc == 0 && o->separator && o->separator[0]) {
			free_samples(r.v, r.n);
			memset(&r, 0, sizeof r);
			rc = load_text_records(o->separator, buf, size, &r);
		}
		break;
	case PB_DATASET_PROMPTS: rc = load_prompts(o, buf, size, &r, err, len); break;
	case PB_DATASET_JSONL:   rc = load_jsonl(o, buf, size, &r, err, len); break;
	case PB_DATASET_CSV:     rc = load_csv(o, buf, size, &r, err, len); break;
	}
	if (rc < 0)
		goto out;
	if (!r.n) {
		rc = pb_errf(err, len, -EINVAL, "%s: no records (expected %s)", o->path,
			     kind_expect(o->kind));
		goto out;
	}
	if (o->calib_count >= r.n) {
		rc = pb_errf(err, len, -EINVAL,
			     "%s: the calibration split needs %d records and at least one must be "
			     "left to evaluate, but the file has %d", o->path, o->calib_count, r.n);
		goto out;
	}
	d->n_records = r.n;
	if (o->shuffle)
		shuffle(r.v, r.n, o->seed);
	/* calibration from the end, evaluation from the start */
	int n_eval = r.n - o->calib_count;
	if (o->max_samples > 0 && o->max_samples < n_eval)
		n_eval = o->max_samples;
	d->calib = malloc((size_t)(o->calib_count ? o->calib_count : 1) * sizeof *d->calib);
	d->samples = malloc((size_t)n_eval * sizeof *d->samples);
	if (!d->calib || !d->samples) {
		rc = -ENOMEM;
		goto out;
	}
	d->n_calib = o->calib_count;
	memcpy(d->calib, r.v + r.n - d->n_calib, (size_t)d->n_calib * sizeof *d->calib);
	memcpy(d->samples, r.v, (size_t)n_eval * sizeof *d->samples);
	d->n = n_eval;
	/* records in neither split */
	for (int i = n_eval; i < r.n - d->n_calib; i++) {
		free(r.v[i].input);
		free(r.v[i].reference);
	}
	free(r.v);
	r.v = NULL;
	r.n = 0;
	*out = d;
	d = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM)
		pb_errf(err, len, rc, "%s: out of memory", o->path);
	free_samples(r.v, r.n);
	pb_dataset_free(d);
	free(buf);
	return rc;
}

void pb_dataset_free(struct pb_dataset *d)
{
	if (!d)
		return;
	free_samples(d->samples, d->n);
	free_samples(d->calib, d->n_calib);
	free(d);
}

/* core/results/row.c — pb_row: an ordered list of named values that several
 * rooms fill (latency stats, accuracy, energy) and that is written once as
 * a cell's one-row summary.csv.  Insertion order is column order. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "util/util.h"

void pb_row_init(struct pb_row *r)
{
	memset(r, 0, sizeof *r);
}

void pb_row_free(struct pb_row *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->keys[i]);
		free(r->values[i]);
	}
	free(r->keys);
	free(r->values);
	pb_row_init(r);
}

static int find(const struct pb_row *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->keys[i], key))
			return i;
	return -1;
}

/* Takes value (malloc'd).  The setters return nothing, so running out of
 * memory drops the value with a log line rather than failing the cell. */
static void set_owned(struct pb_row *r, const char *key, char *value)
{
	if (!value)
		goto oom;
	int i = find(r, key);
	if (i >= 0) {
		free(r->values[i]);
		r->values[i] = value;
		return;
	}
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 32;
		char **k = realloc(r->keys, cap * sizeof *k);
		if (!k)
			goto oom;
		r->keys = k;
		char **v = realloc(r->values, cap * sizeof *v);
		if (!v)
			goto oom;
		r->values = v;
		r->cap = cap;
	}
	char *k = strdup(key);
	if (!k)
		goto oom;
	r->keys[r->n] = k;
	r->values[r->n++] = value;
	return;
oom:
	free(value);
	pb_log(PB_LOG_ERROR, "summary row: out of memory setting '%s'", key);
}

void pb_row_set(struct pb_row *r, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v = NULL;
	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		v = NULL;
	va_end(ap);
	set_owned(r, key, v);
}

void pb_row_setd(struct pb_row *r, const char *key, double v)
{
	if (isnan(v))
		pb_row_set(r, key, "%s", "");
	else if (isinf(v))
		pb_row_set(r, key, "%s", v > 0 ? "inf" : "-inf");
	else {
		char buf[32];
		pb_fmt_double(buf, sizeof buf, v);
		pb_row_set(r, key, "%s", buf);
	}
}

/* The shortest of %.15g, %.16g, %.17g that strtod reads back to v
 * exactly, so two CSVs compare bit for bit. */
void pb_fmt_double(char *buf, size_t len, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

const char *pb_row_get(const struct pb_row *r, const char *key)
{
	int i = find(r, key);
	return i < 0 ? NULL : r->values[i];
}

int pb_row_write_csv(const struct pb_row *r, const char *path)
{
	if (r->n < 1)
		return -EINVAL;
	struct pb_csv *w = pb_csv_create(path, (const char *const *)r->keys, r->n);
	if (!w)
		return -errno;
	int err = pb_csv_row(w, (const char *const *)r->values);
	int cerr = pb_csv_close(w);
	return err ? err : cerr;
}

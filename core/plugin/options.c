/* core/plugin/options.c — plugin option tables: checking a table, parsing
 * YAML scalar text into a config struct, formatting values back, and the
 * edit distance behind every did-you-mean.
 *
 * A plugin's table is data the core trusts only after
 * pb_options_check_table: every default is parsed here once, so a table
 * whose default is out of its own bounds is caught at load, not mid-run.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry.h"

/* Optimal string alignment distance: Levenshtein plus adjacent
 * transpositions, since "fats" for "fast" is one slip of the fingers. */
int pb_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	/* Names are short; beyond this a suggestion would be useless anyway. */
	if (la > 255 || lb > 255)
		return (int)(la > lb ? la : lb);
	int rows[3][256];
	int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		int *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const struct pb_option *pb_option_find(const struct pb_option *opts, const char *key)
{
	if (!opts || !key)
		return NULL;
	for (const struct pb_option *o = opts; o->key; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

const char *pb_option_suggest(const struct pb_option *opts, const char *key)
{
	if (!opts || !key)
		return NULL;
	/* "Near" = at most a third of the word wrong (and at least 1, at most
	 * 3 edits), so short keys do not suggest arbitrary other short keys. */
	int limit = (int)strlen(key) / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	const char *best = NULL;
	int best_d = limit + 1;
	for (const struct pb_option *o = opts; o->key; o++) {
		int d = pb_edit_distance(key, o->key);
		if (d < best_d) {
			best_d = d;
			best = o->key;
		}
	}
	return best;
}

static int bounded(const struct pb_option *o)
{
	return o->min <= o->max;
}

/* Shortest %g text that reads back to the same double. */
static void format_double(double v, char *out, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, len, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static int bad(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
	if (err && len)
		snprintf(err, len, fmt, a, b);
	return -EINVAL;
}

static int range_error(const struct pb_option *o, const char *what, const char *text,
		       char *err, size_t len)
{
	char lo[32], hi[32];
	if (o->type == PB_OPT_INT) {
		snprintf(lo, sizeof lo, "%.0f", o->min);
		snprintf(hi, sizeof hi, "%.0f", o->max);
	} else {
		format_double(o->min, lo, sizeof lo);
		format_double(o->max, hi, sizeof hi);
	}
	if (err && len)
		snprintf(err, len, "expected %s between %s and %s, got '%s'", what, lo, hi, text);
	return -EINVAL;
}

/* Index of `text` among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *text)
{
	int i = 0;
	size_t tl = strlen(text);
	for (const char *p = choices; ; i++) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == tl && strncmp(p, text, n) == 0)
			return i;
		if (!bar)
			return -1;
		p = bar + 1;
	}
}

/* Copy the i-th choice into out; 0 or -EINVAL when there is no such choice. */
static int choice_at(const char *choices, int idx, char *out, size_t len)
{
	const char *p = choices;
	for (int i = 0; i < idx; i++) {
		p = strchr(p, '|');
		if (!p)
			return -EINVAL;
		p++;
	}
	const char *bar = strchr(p, '|');
	size_t n = bar ? (size_t)(bar - p) : strlen(p);
	if (idx < 0 || n + 1 > len)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int enum_error(const struct pb_option *o, const char *text, char *err, size_t len)
{
	char best[PB_OPT_STR_MAX] = "";
	int best_d = 4;
	int limit = (int)strlen(text) / 3 < 1 ? 1 : (int)strlen(text) / 3;
	char c[PB_OPT_STR_MAX];
	for (int i = 0; choice_at(o->choices, i, c, sizeof c) == 0; i++) {
		int d = pb_edit_distance(text, c);
		if (d <= limit && d < best_d) {
			best_d = d;
			snprintf(best, sizeof best, "%s", c);
		}
	}
	if (!err || !len)
		return -EINVAL;
	int n = snprintf(err, len, "expected one of %s, got '%s'", o->choices, text);
	if (best[0] && n >= 0 && (size_t)n < len)
		snprintf(err + n, len - n, " (did you mean '%s'?)", best);
	return -EINVAL;
}

int pb_option_parse(const struct pb_option *o, void *config, const char *text,
		    char *err, size_t len)
{
	char *slot = (char *)config + o->offset;
	char *end;

	if (!text)
		text = "";
	switch (o->type) {
	case PB_OPT_BOOL: {
		static const char *const yes[] = { "true", "yes", "on", "1" };
		static const char *const no[] = { "false", "no", "off", "0" };
		for (size_t i = 0; i < 4; i++) {
			if (strcasecmp(text, yes[i]) == 0) {
				*(int *)slot = 1;
				return 0;
			}
			if (strcasecmp(text, no[i]) == 0) {
				*(int *)slot = 0;
				return 0;
			}
		}
		return bad(err, len, "expected true or false, got '%s'%s", text, "");
	}
	case PB_OPT_INT: {
		errno = 0;
		long long v = strtoll(text, &end, 10);
		if (!*text || *end || end == text || errno == ERANGE) {
			if (bounded(o))
				return range_error(o, "an integer", text, err, len);
			return bad(err, len, "expected an integer, got '%s'%s", text, "");
		}
		if (bounded(o) && ((double)v < o->min || (double)v > o->max))
			return range_error(o, "an integer", text, err, len);
		*(int64_t *)slot = v;
		return 0;
	}
	case PB_OPT_DOUBLE: {
		errno = 0;
		double v = strtod(text, &end);
		if (!*text || *end || end == text || !isfinite(v)) {
			if (bounded(o))
				return range_error(o, "a number", text, err, len);
			return bad(err, len, "expected a finite number, got '%s'%s", text, "");
		}
		if (bounded(o) && (v < o->min || v > o->max))
			return range_error(o, "a number", text, err, len);
		*(double *)slot = v;
		return 0;
	}
	case PB_OPT_STRING: {
		size_t n = strlen(text);
		if (n >= PB_OPT_STR_MAX) {
			if (err && len)
				snprintf(err, len, "expected a string of at most %d bytes, got %zu bytes",
					 PB_OPT_STR_MAX - 1, n);
			return -EINVAL;
		}
		memcpy(slot, text, n + 1);
		return 0;
	}
	case PB_OPT_ENUM: {
		if (!o->choices)
			return bad(err, len, "option '%s' has no choices%s", o->key, "");
		int i = choice_index(o->choices, text);
		if (i < 0)
			return enum_error(o, text, err, len);
		*(int *)slot = i;
		return 0;
	}
	}
	return bad(err, len, "option '%s' has an unknown type%s", o->key, "");
}

int pb_option_format(const struct pb_option *o, const void *config, char *out, size_t len)
{
	const char *slot = (const char *)config + o->offset;
	int n;

	switch (o->type) {
	case PB_OPT_BOOL:
		n = snprintf(out, len, "%s", *(const int *)slot ? "true" : "false");
		break;
	case PB_OPT_INT:
		n = snprintf(out, len, "%lld", (long long)*(const int64_t *)slot);
		break;
	case PB_OPT_DOUBLE: {
		char tmp[40];
		format_double(*(const double *)slot, tmp, sizeof tmp);
		n = snprintf(out, len, "%s", tmp);
		break;
	}
	case PB_OPT_STRING:
		/* The slot is plugin memory: never read past its end. */
		n = snprintf(out, len, "%.*s", (int)strnlen(slot, PB_OPT_STR_MAX - 1), slot);
		break;
	case PB_OPT_ENUM:
		if (!o->choices || choice_at(o->choices, *(const int *)slot, out, len) < 0)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

static size_t type_size(enum pb_opt_type t)
{
	switch (t) {
	case PB_OPT_BOOL:   return sizeof(int);
	case PB_OPT_INT:    return sizeof(int64_t);
	case PB_OPT_DOUBLE: return sizeof(double);
	case PB_OPT_STRING: return PB_OPT_STR_MAX;
	case PB_OPT_ENUM:   return sizeof(int);
	}
	return 0;
}

int pb_options_check_table(const struct pb_option *opts, size_t config_size,
			   char *why, size_t len)
{
	if (!opts)
		return 0;
	/* A config the size of a few pages is plenty; this also bounds the
	 * scratch buffer used to try the defaults. */
	if (config_size > (1u << 20)) {
		snprintf(why, len, "config_size %zu is too large", config_size);
		return -EINVAL;
	}
	char *scratch = calloc(1, config_size ? config_size : 1);
	if (!scratch)
		return -ENOMEM;
	int ret = -EINVAL;
	for (const struct pb_option *o = opts; o->key; o++) {
		size_t sz = type_size(o->type);
		if (!o->key[0]) {
			snprintf(why, len, "option #%d has an empty key", (int)(o - opts));
			goto out;
		}
		for (const struct pb_option *p = opts; p < o; p++)
			if (strcmp(p->key, o->key) == 0) {
				snprintf(why, len, "option '%s' is declared twice", o->key);
				goto out;
			}
		if (!sz) {
			snprintf(why, len, "option '%s' has an invalid type %d", o->key, (int)o->type);
			goto out;
		}
		if (o->offset > config_size || sz > config_size - o->offset) {
			snprintf(why, len, "option '%s' (offset %zu, %zu bytes) lies outside the config (%zu bytes)",
				 o->key, o->offset, sz, config_size);
			goto out;
		}
		if (o->type == PB_OPT_ENUM && (!o->choices || !o->choices[0])) {
			snprintf(why, len, "option '%s' is an enum without choices", o->key);
			goto out;
		}
		if (o->def) {
			char e[256];
			if (pb_option_parse(o, scratch, o->def, e, sizeof e) < 0) {
				snprintf(why, len, "option '%s': default '%s': %s", o->key, o->def, e);
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(scratch);
	return ret;
}

int pb_options_defaults(const struct pb_option *opts, void *config, size_t config_size)
{
	memset(config, 0, config_size);
	if (!opts)
		return 0;
	for (const struct pb_option *o = opts; o->key; o++) {
		if (!o->def)
			continue;
		if (o->offset > config_size || type_size(o->type) > config_size - o->offset)
			return -EINVAL;
		if (pb_option_parse(o, config, o->def, NULL, 0) < 0)
			return -EINVAL;
	}
	return 0;
}

/* core/results/yaml-out.c — pb_yaml_out: the small block-style YAML writer
 * for manifest.yaml, over libyaml's emitter.  libyaml does the quoting and
 * escaping; this file decides which strings must not be written plain
 * because a YAML reader would resolve them to a number, boolean or null.
 * Errors are latched and reported once, by pb_yaml_close, which renames the
 * finished file into place (a manifest is never half-written). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "results.h"
#include "util/util.h"

#define PB_YAML_DEPTH 64          /* nesting of pb_yaml_*_begin and of kv_yaml */
#define PB_YAML_MAX_NODES 1000000 /* kv_yaml output budget: aliases can expand */

struct pb_yaml_out {
	yaml_emitter_t em;
	FILE *f;
	char *path, *tmp;
	int err;                  /* first error, -errno */
	int depth;                /* open containers; [0] is the root mapping */
	char kind[PB_YAML_DEPTH]; /* 'm' mapping, 's' sequence, 'r' explicit root */
	int root_used;            /* something was written into the root */
};

static void latch(struct pb_yaml_out *y, int err, const char *what)
{
	if (y->err)
		return;
	y->err = err;
	pb_log(PB_LOG_ERROR, "%s: %s", y->path, what);
}

static void emit(struct pb_yaml_out *y, yaml_event_t *ev)
{
	/* The emitter frees the event even when it fails. */
	if (y->err) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&y->em, ev))
		latch(y, y->em.error == YAML_WRITER_ERROR ? -EIO : -EINVAL,
		      y->em.problem ? y->em.problem : "YAML emitter error");
}

/* Strings that a YAML 1.1 or 1.2 reader resolves to something other than a
 * string when plain: null, booleans, numbers in any base, sexagesimals,
 * timestamps, .inf/.nan, and the merge/value keys.  Over-quoting is
 * harmless, so the number test is a loose character-class check. */
static int resolves_as_non_string(const char *s)
{
	static const char *const words[] = {
		"~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
		"FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off",
		"Off", "OFF", "y", "Y", "n", "N", "<<", "=",
	};
	if (!s[0])
		return 1;
	for (size_t i = 0; i < PB_ARRAY_LEN(words); i++)
		if (!strcmp(s, words[i]))
			return 1;
	const char *p = s + (s[0] == '-' || s[0] == '+');
	if (!strcasecmp(p, ".inf") || !strcasecmp(p, ".nan"))
		return 1;
	if (!((*p >= '0' && *p <= '9') || *p == '.'))
		return 0;
	return p[strspn(p, "0123456789abcdefABCDEFxXoO._:+-tTzZ ")] == '\0';
}

/* libyaml refuses invalid UTF-8; a reason string or a CPU model may hold
 * stray bytes, so they become U+FFFD instead of failing the manifest. */
static char *utf8_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;
	if (!out)
		return NULL;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			  (*p & 0xf8) == 0xf0 ? 4 : 0;
		int ok = len > 0;
		for (int i = 1; ok && i < len; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && len > 1) {
			unsigned cp = *p & (0x7f >> len);
			for (int i = 1; i < len; i++)
				cp = cp << 6 | (p[i] & 0x3f);
			static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
			ok = cp >= min[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
		}
		if (!ok) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(o, p, len);
		o += len;
		p += len;
	}
	*o = '\0';
	return out;
}

/* plain: the value is typed (a number the caller formatted) and may be
 * written plain even if it resolves as a number. */
static void scalar(struct pb_yaml_out *y, const char *s, int typed, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	char *clean = utf8_clean(s);
	if (!clean) {
		latch(y, -ENOMEM, "out of memory");
		return;
	}
	int plain = typed || !resolves_as_non_string(clean);
	/* Multi-line text (a log tail, a reason) reads best as a literal
	 * block; libyaml falls back to double quotes where one cannot be. */
	if (style == YAML_ANY_SCALAR_STYLE && strchr(clean, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)clean,
					  (int)strlen(clean), plain, 1, style))
		latch(y, -ENOMEM, "cannot build a YAML scalar");
	else
		emit(y, &ev);
	free(clean);
}

/* Emits key when the current container is a mapping; checks the caller
 * used key and container consistently. */
static int key_for(struct pb_yaml_out *y, const char *key)
{
	if (y->err)
		return -1;
	char k = y->kind[y->depth - 1];
	if (k == 's' && key) {
		latch(y, -EINVAL, "a key inside a sequence");
		return -1;
	}
	if (k != 's' && !key) {
		latch(y, -EINVAL, "a mapping entry without a key");
		return -1;
	}
	if (key)
		scalar(y, key, 0, YAML_ANY_SCALAR_STYLE);
	y->root_used = 1;
	return y->err ? -1 : 0;
}

struct pb_yaml_out *pb_yaml_open(const char *path)
{
	struct pb_yaml_out *y = calloc(1, sizeof *y);
	yaml_event_t ev;
	int e = ENOMEM;
	if (!y)
		return NULL;
	if (asprintf(&y->tmp, "%s.tmp", path) < 0 || !(y->path = strdup(path)))
		goto fail_mem;
	y->f = fopen(y->tmp, "w");
	if (!y->f) {
		e = errno;
		goto fail_mem;
	}
	if (!yaml_emitter_initialize(&y->em))
		goto fail_file;
	yaml_emitter_set_output_file(&y->em, y->f);
	yaml_emitter_set_encoding(&y->em, YAML_UTF8_ENCODING);
	yaml_emitter_set_unicode(&y->em, 1);
	yaml_emitter_set_indent(&y->em, 2);
	yaml_emitter_set_width(&y->em, -1);     /* long values stay on one line */
	yaml_emitter_set_break(&y->em, YAML_LN_BREAK);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
		emit(y, &ev);
	if (yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
		emit(y, &ev);
	if (yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		emit(y, &ev);
	y->kind[0] = 'm';
	y->depth = 1;
	if (y->err) {
		yaml_emitter_delete(&y->em);
		e = -y->err;
		goto fail_file;
	}
	return y;
fail_file:
	fclose(y->f);
	unlink(y->tmp);
fail_mem:
	free(y->tmp);
	free(y->path);
	free(y);
	errno = e;
	return NULL;
}

static void begin(struct pb_yaml_out *y, const char *key, char kind)
{
	yaml_event_t ev;
	int ok;
	/* pb_yaml_map_begin(y, NULL) first thing at the top names the root
	 * mapping pb_yaml_open already started. */
	if (kind == 'm' && !key && y->depth == 1 && y->kind[0] == 'm' && !y->root_used) {
		y->kind[0] = 'r';
		y->root_used = 1;
		return;
	}
	if (y->depth >= PB_YAML_DEPTH) {
		latch(y, -EINVAL, "YAML nesting too deep");
		return;
	}
	if (key_for(y, key) < 0)
		return;
	if (kind == 'm')
		ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	else
		ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	if (!ok) {
		latch(y, -ENOMEM, "out of memory");
		return;
	}
	emit(y, &ev);
	y->kind[y->depth++] = kind;
}

static void end(struct pb_yaml_out *y, char kind)
{
	yaml_event_t ev;
	if (y->depth == 1 && y->kind[0] == 'r' && kind == 'm') {
		y->kind[0] = 'm';   /* closed by pb_yaml_close */
		return;
	}
	if (y->depth <= 1 || y->kind[y->depth - 1] != kind) {
		latch(y, -EINVAL, kind == 'm' ? "pb_yaml_map_end without a matching begin"
			   : "pb_yaml_seq_end without a matching begin");
		return;
	}
	y->depth--;
	if (kind == 'm')
		yaml_mapping_end_event_initialize(&ev);
	else
		yaml_sequence_end_event_initialize(&ev);
	emit(y, &ev);
}

void pb_yaml_map_begin(struct pb_yaml_out *y, const char *key) { begin(y, key, 'm'); }
void pb_yaml_map_end(struct pb_yaml_out *y) { end(y, 'm'); }
void pb_yaml_seq_begin(struct pb_yaml_out *y, const char *key) { begin(y, key, 's'); }
void pb_yaml_seq_end(struct pb_yaml_out *y) { end(y, 's'); }

/* Does fmt format a number (and nothing that is text)?  Then its output is
 * a typed YAML number, written plain. */
static int fmt_is_numeric(const char *fmt)
{
	int numeric = 0;
	for (const char *p = fmt; (p = strchr(p, '%')); ) {
		p++;
		if (*p == '%') {
			p++;
			continue;
		}
		p += strspn(p, "-+ #0'123456789.*hlLqjzt");
		if (!*p)
			break;
		if (strchr("diouxXeEfFgGaA", *p))
			numeric = 1;
		else
			return 0;
		p++;
	}
	return numeric;
}

static void kv_value(struct pb_yaml_out *y, const char *key, const char *v, int typed)
{
	if (key_for(y, key) < 0)
		return;
	if (typed) {
		/* printf's inf and nan are YAML strings; YAML spells them .inf, .nan */
		const char *p = v + (v[0] == '-' || v[0] == '+');
		if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity"))
			v = v[0] == '-' ? "-.inf" : ".inf";
		else if (!strcasecmp(p, "nan"))
			v = ".nan";
	}
	scalar(y, v, typed, YAML_ANY_SCALAR_STYLE);
}

void pb_yaml_kv(struct pb_yaml_out *y, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v = NULL;
	if (y->err)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0) {
		latch(y, -ENOMEM, "out of memory");
		return;
	}
	kv_value(y, key, v, fmt_is_numeric(fmt));
	free(v);
}

void pb_yaml_kv_bool(struct pb_yaml_out *y, const char *key, int v)
{
	if (key_for(y, key) < 0)
		return;
	scalar(y, v ? "true" : "false", 1, YAML_PLAIN_SCALAR_STYLE);
}

/* ---- re-emitting a parsed document */

/* Counts what node would emit; fails on depth or size before anything is
 * written, so a refused block leaves the manifest consistent. */
static int count_nodes(yaml_document_t *d, yaml_node_t *n, int depth, long *budget)
{
	if (!n)
		return -EINVAL;
	if (depth > PB_YAML_DEPTH)
		return -ELOOP;
	if (--*budget < 0)
		return -E2BIG;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			int err = count_nodes(d, yaml_document_get_node(d, *it), depth + 1, budget);
			if (err)
				return err;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top; pr++) {
			int err = count_nodes(d, yaml_document_get_node(d, pr->key), depth + 1, budget);
			if (!err)
				err = count_nodes(d, yaml_document_get_node(d, pr->value), depth + 1, budget);
			if (err)
				return err;
		}
	}
	return 0;
}

static void emit_node(struct pb_yaml_out *y, yaml_document_t *d, yaml_node_t *n)
{
	yaml_event_t ev;
	int ok = 1;
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		yaml_scalar_style_t st = n->data.scalar.style;
		int plain = st == YAML_PLAIN_SCALAR_STYLE || st == YAML_ANY_SCALAR_STYLE;
		/* The text was parsed, so it is valid UTF-8: the original style
		 * (and so the original type of a plain scalar) carries over. */
		ok = yaml_scalar_event_initialize(&ev, NULL, NULL, n->data.scalar.value,
						  (int)n->data.scalar.length, plain, 1, st);
		if (ok)
			emit(y, &ev);
		break;
	}
	case YAML_SEQUENCE_NODE:
		ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!ok)
			break;
		emit(y, &ev);
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++)
			emit_node(y, d, yaml_document_get_node(d, *it));
		ok = yaml_sequence_end_event_initialize(&ev);
		if (ok)
			emit(y, &ev);
		break;
	case YAML_MAPPING_NODE:
		ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!ok)
			break;
		emit(y, &ev);
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top; pr++) {
			emit_node(y, d, yaml_document_get_node(d, pr->key));
			emit_node(y, d, yaml_document_get_node(d, pr->value));
		}
		ok = yaml_mapping_end_event_initialize(&ev);
		if (ok)
			emit(y, &ev);
		break;
	default:
		ok = 0;
	}
	if (!ok)
		latch(y, -ENOMEM, "cannot build a YAML event");
}

int pb_yaml_kv_yaml(struct pb_yaml_out *y, const char *key, const char *yaml_text)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	long budget = PB_YAML_MAX_NODES;
	int err = 0;

	size_t dl, dc, tl = strlen(yaml_text);
	if (y->err)
		return y->err;
	/* root is depth 1 in count_nodes as in the check */
	if ((err = pb_yaml_depth_check(yaml_text, tl, PB_YAML_DEPTH, &dl, &dc)) < 0) {
		if (err == -E2BIG)
			pb_log(PB_LOG_ERROR, "%s: '%s': YAML block nests too deep (line %zu, column %zu)",
			       y->path, key ? key : "-", dl, dc);
		return err == -E2BIG ? -ELOOP : err;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_text, tl);
	if (!yaml_parser_load(&parser, &doc)) {
		pb_log(PB_LOG_ERROR, "%s: '%s': YAML block does not parse: line %zu, column %zu: %s",
		       y->path, key ? key : "-", parser.problem_mark.line + 1,
		       parser.problem_mark.column + 1, parser.problem ? parser.problem : "error");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root)
		err = count_nodes(&doc, root, 1, &budget);
	if (err) {
		pb_log(PB_LOG_ERROR, "%s: '%s': YAML block %s", y->path, key ? key : "-",
		       err == -E2BIG ? "expands to too many nodes" : "nests too deep");
		goto out;
	}
	if (key_for(y, key) < 0) {
		err = y->err;
		goto out;
	}
	if (root)
		emit_node(y, &doc, root);
	else
		scalar(y, "null", 1, YAML_PLAIN_SCALAR_STYLE);   /* an empty block */
	err = y->err;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return err;
}

int pb_yaml_close(struct pb_yaml_out *y)
{
	yaml_event_t ev;
	if (!y)
		return -EINVAL;
	/* An unbalanced begin/end is a bug in the caller: drop the file. */
	if (y->depth > 1)
		latch(y, -EINVAL, "a mapping or sequence was left open");
	yaml_mapping_end_event_initialize(&ev);
	emit(y, &ev);
	yaml_document_end_event_initialize(&ev, 1);
	emit(y, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(y, &ev);
	if (!y->err && !yaml_emitter_flush(&y->em))
		latch(y, -EIO, "cannot write");
	yaml_emitter_delete(&y->em);
	if (fflush(y->f) != 0 || ferror(y->f))
		latch(y, errno ? -errno : -EIO, "cannot write");
	if (fclose(y->f) != 0)
		latch(y, -errno, "cannot write");
	if (!y->err && rename(y->tmp, y->path) < 0)
		latch(y, -errno, "cannot rename into place");
	if (y->err)
		unlink(y->tmp);
	int err = y->err;
	free(y->tmp);
	free(y->path);
	free(y);
	return err;
}

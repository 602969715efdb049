/* core/text/tok-json.c — Hugging Face tokenizer.json: a "BPE" model (merges
 * as "a b" strings or [a, b] arrays; unk_token, byte_fallback, fuse_unk,
 * ignore_merges) or a "Unigram" model ([piece, score] pairs, unk_id), with
 * the normalizers, pre-tokenizers, decoders and post-processor that Llama,
 * GPT-2 and T5 style files use, and added tokens.  A tokenizer_config.json
 * beside the file names BOS/EOS and whether to add them.
 *
 * Supported: normalizers Sequence, Prepend, Replace (String or Regex
 * patterns), Strip, Lowercase (ASCII), NFC/NFKC/NFD/NFKD (utf8proc),
 * Precompiled taken as the identity (exact for text already in that form);
 * pre-tokenizers Sequence, ByteLevel (its regex through PCRE2), Split
 * (String or Regex, every behavior, invert), Digits, Metaspace,
 * WhitespaceSplit, Whitespace; decoders ByteLevel,
 * Metaspace, Replace("▁", " "), ByteFallback, Fuse, Strip.  Anything else
 * is refused by name, so a tokenizer is exact or not loaded.  Added tokens
 * honour lstrip/rstrip; single_word is not checked. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"
#include "util/util.h"

struct jctx {
	const char *path;
	char *err;
	size_t len;
};

#define JFAIL(c, rc, ...) pb_errf((c)->err, (c)->len, (rc), __VA_ARGS__)

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int jbool(const json_t *o, const char *key, int dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int add_norm(struct jctx *c, struct pb_tokenizer *t, enum norm_op op, const char *a, const char *b)
{
	if (t->n_norm == TOK_MAX_NORM)
		return JFAIL(c, -E2BIG, "%s: normalizer: more than %d steps", c->path, TOK_MAX_NORM);
	struct tok_norm *m = &t->norm[t->n_norm];
	m->op = op;
	m->a = a ? strdup(a) : NULL;
	m->b = b ? strdup(b) : NULL;
	t->n_norm++;
	if ((a && !m->a) || (b && !m->b))
		return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	return 0;
}

static int parse_norm(struct jctx *c, struct pb_tokenizer *t, const json_t *n)
{
	if (json_is_null(n) || !n)
		return 0;
	const char *type = jstr(n, "type");
	if (!type)
		return JFAIL(c, -EINVAL, "%s: normalizer: expected an object with a \"type\"", c->path);
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(n, "normalizers"), i, v) {
			int rc = parse_norm(c, t, v);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!strcmp(type, "Prepend") && jstr(n, "prepend"))
		return add_norm(c, t, NORM_PREPEND, jstr(n, "prepend"), NULL);
	if (!strcmp(type, "Replace")) {
		json_t *pat = json_object_get(n, "pattern");
		const char *s = jstr(pat, "String"), *re = jstr(pat, "Regex"), *to = jstr(n, "content");
		if (s && *s && to)
			return add_norm(c, t, NORM_REPLACE, s, to);
		if (re && !strcmp(re, " {2,}") && to && !strcmp(to, " "))
			return add_norm(c, t, NORM_COLLAPSE, NULL, NULL);
		if (re && to) {
			char why[256];
			int rc = add_norm(c, t, NORM_REPLACE_RE, NULL, to);
			if (rc == 0 && (rc = tok_regex_compile(re, &t->norm[t->n_norm - 1].re, why, sizeof why)) < 0)
				return JFAIL(c, rc, "%s: normalizer Replace: %s", c->path, why);
			return rc;
		}
		return JFAIL(c, -EINVAL, "%s: normalizer Replace: expected a String or Regex pattern and a content",
			     c->path);
	}
	if (!strcmp(type, "Strip"))
		return add_norm(c, t, NORM_STRIP, jbool(n, "strip_left", 1) ? "l" : NULL,
				jbool(n, "strip_right", 1) ? "r" : NULL);
	if (!strcmp(type, "Lowercase"))
		return add_norm(c, t, NORM_LOWER, NULL, NULL);
	static const struct { const char *name; enum norm_op op; } forms[] = {
		{ "NFC", NORM_NFC }, { "NFKC", NORM_NFKC }, { "NFD", NORM_NFD }, { "NFKD", NORM_NFKD },
	};
	for (size_t i = 0; i < PB_ARRAY_LEN(forms); i++)
		if (!strcmp(type, forms[i].name))
			return add_norm(c, t, forms[i].op, NULL, NULL);
	if (!strcmp(type, "Precompiled")) {
		/* sentencepiece's own normalization table (T5's nmt_nfkc) */
		pb_log(PB_LOG_DEBUG, "%s: normalizer %s is taken as the identity", c->path, type);
		return 0;
	}
	return JFAIL(c, -ENOTSUP, "%s: normalizer \"%s\" is not supported", c->path, type);
}

/* A regex that matches the string s literally. */
static char *quote_regex(const char *s)
{
	char *o = malloc(strlen(s) * 2 + 1), *w = o;
	for (; o && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x80 && !(ch >= '0' && ch <= '9') && !(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z'))
			*w++ = '\\';
		*w++ = *s;
	}
	if (o)
		*w = '\0';
	return o;
}

/* Split {pattern: {String|Regex}, behavior, invert}, and Digits as the
 * Split it is (\p{N}, each digit apart when individual_digits). */
static int parse_split(struct jctx *c, struct tok_pre *q, const json_t *p, const char *type)
{
	static const char *const behaviors[] = {
		[SPLIT_ISOLATED] = "Isolated", [SPLIT_REMOVED] = "Removed",
		[SPLIT_MERGED_PREV] = "MergedWithPrevious", [SPLIT_MERGED_NEXT] = "MergedWithNext",
		[SPLIT_CONTIGUOUS] = "Contiguous",
	};
	char *pattern;
	*q = (struct tok_pre){ .op = PRE_SPLIT };
	if (!strcmp(type, "Digits")) {
		q->behavior = jbool(p, "individual_digits", 0) ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS;
		pattern = strdup("\\p{N}");
	} else {
		json_t *pat = json_object_get(p, "pattern");
		const char *str = jstr(pat, "String"), *re = jstr(pat, "Regex"), *b = jstr(p, "behavior");
		if (!str && !re)
			return JFAIL(c, -EINVAL, "%s: pre_tokenizer Split: expected a pattern {\"String\"} or {\"Regex\"}",
				     c->path);
		q->behavior = -1;
		for (size_t i = 0; b && i < PB_ARRAY_LEN(behaviors); i++)
			if (!strcmp(b, behaviors[i]))
				q->behavior = (int)i;
		if (q->behavior < 0)
			return JFAIL(c, -EINVAL, "%s: pre_tokenizer Split: behavior \"%s\" is not one of Isolated, Removed, "
				     "MergedWithPrevious, MergedWithNext, Contiguous", c->path, b ? b : "(none)");
		q->invert = jbool(p, "invert", 0);
		pattern = re ? strdup(re) : quote_regex(str);
	}
	if (!pattern)
		return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	char why[256];
	int rc = tok_regex_compile(pattern, &q->re, why, sizeof why);
	if (rc < 0) {
		/* the step is not counted, so the tokenizer would not free it */
		free(pattern);
		return JFAIL(c, rc, "%s: pre_tokenizer %s: %s", c->path, type, why);
	}
	q->pattern = pattern;   /* freed with the tokenizer */
	return 0;
}

static int parse_pre(struct jctx *c, struct pb_tokenizer *t, const json_t *p)
{
	if (json_is_null(p) || !p)
		return 0;
	const char *type = jstr(p, "type");
	if (!type)
		return JFAIL(c, -EINVAL, "%s: pre_tokenizer: expected an object with a \"type\"", c->path);
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(p, "pretokenizers"), i, v) {
			int rc = parse_pre(c, t, v);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (t->n_pre == TOK_MAX_PRE)
		return JFAIL(c, -E2BIG, "%s: pre_tokenizer: more than %d steps", c->path, TOK_MAX_PRE);
	struct tok_pre *q = &t->pre[t->n_pre];
	if (!strcmp(type, "ByteLevel")) {
		*q = (struct tok_pre){ .op = PRE_BYTELEVEL, .add_prefix_space = jbool(p, "add_prefix_space", 1),
				       .use_regex = jbool(p, "use_regex", 1) };
		t->byte_level = 1;
		if (q->use_regex && tok_regex_compile(TOK_GPT2_REGEX, &q->re, c->err, c->len) < 0)
			return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	} else if (!strcmp(type, "Split") || !strcmp(type, "Digits")) {
		int rc = parse_split(c, q, p, type);
		if (rc < 0)
			return rc;
	} else if (!strcmp(type, "Metaspace")) {
		const char *r = jstr(p, "replacement"), *scheme = jstr(p, "prepend_scheme");
		*q = (struct tok_pre){ .op = PRE_METASPACE, .split = jbool(p, "split", 1),
				       .scheme = jbool(p, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER };
		if (scheme && !strcmp(scheme, "first"))
			q->scheme = PREPEND_FIRST;
		else if (scheme && !strcmp(scheme, "never"))
			q->scheme = PREPEND_NEVER;
		else if (scheme && strcmp(scheme, "always"))
			return JFAIL(c, -EINVAL, "%s: pre_tokenizer Metaspace: prepend_scheme \"%s\" is not first, always or never",
				     c->path, scheme);
		if (!(q->replacement = strdup(r && *r ? r : SPM_SPACE)))
			return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
		t->add_space_prefix = q->scheme != PREPEND_NEVER;
	} else if (!strcmp(type, "WhitespaceSplit")) {
		*q = (struct tok_pre){ .op = PRE_WSSPLIT };
	} else if (!strcmp(type, "Whitespace")) {
		/* \w+|[^\w\s]+ pieces; the whitespace between them dropped */
		*q = (struct tok_pre){ .op = PRE_SPLIT, .behavior = SPLIT_REMOVED, .invert = 1 };
		if (tok_regex_compile("\\w+|[^\\w\\s]+", &q->re, c->err, c->len) < 0)
			return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	} else {
		return JFAIL(c, -ENOTSUP, "%s: pre_tokenizer \"%s\" is not supported", c->path, type);
	}
	t->n_pre++;
	return 0;
}

/* Decoders only choose how pieces become text; unknown ones are skipped. */
static void parse_dec(struct pb_tokenizer *t, const json_t *d)
{
	const char *type = jstr(d, "type");
	if (!type)
		return;
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(d, "decoders"), i, v)
			parse_dec(t, v);
	} else if (!strcmp(type, "ByteLevel")) {
		t->dec_bytelevel = 1;
	} else if (!strcmp(type, "Metaspace")) {
		const char *scheme = jstr(d, "prepend_scheme");
		t->dec_space = 1;
		t->dec_strip = scheme ? strcmp(scheme, "never") != 0 : jbool(d, "add_prefix_space", 1);
	} else if (!strcmp(type, "Replace")) {
		const char *s = jstr(json_object_get(d, "pattern"), "String"), *to = jstr(d, "content");
		if (s && to && !strcmp(s, SPM_SPACE) && !strcmp(to, " "))
			t->dec_space = 1;
	} else if (!strcmp(type, "ByteFallback")) {
		t->dec_bytes = 1;
	} else if (!strcmp(type, "Strip")) {
		const char *content = jstr(d, "content");
		t->dec_strip = content && !strcmp(content, " ") && json_integer_value(json_object_get(d, "start")) > 0;
	}
}

static int special_id(const struct pb_tokenizer *t, const json_t *elem)
{
	const char *name = jstr(json_object_get(elem, "SpecialToken"), "id");
	return name ? tok_find(t, name, strlen(name)) : -1;
}

/* TemplateProcessing: a special token first is BOS, one last is EOS. */
static void parse_post(struct pb_tokenizer *t, const json_t *p)
{
	const char *type = jstr(p, "type");
	if (!type)
		return;
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(p, "processors"), i, v)
			parse_post(t, v);
		return;
	}
	if (strcmp(type, "TemplateProcessing"))
		return;
	json_t *single = json_object_get(p, "single");
	size_t n = json_array_size(single);
	int first = n ? special_id(t, json_array_get(single, 0)) : -1;
	int last = n > 1 ? special_id(t, json_array_get(single, n - 1)) : -1;
	if (first >= 0) {
		t->bos = first;
		t->add_bos = 1;
	}
	if (last >= 0) {
		t->eos = last;
		t->add_eos = 1;
	}
}

static int config_token(const struct pb_tokenizer *t, const json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	const char *s = json_is_string(v) ? json_string_value(v) : jstr(v, "content");
	return s ? tok_find(t, s, strlen(s)) : -1;
}

/* tokenizer_config.json beside the file, when there is one. */
static void read_config(struct pb_tokenizer *t, const char *path)
{
	char dir[4096], cpath[4096];
	pb_dirname(path, dir, sizeof dir);
	if (pb_path_join(cpath, sizeof cpath, dir, "tokenizer_config.json") < 0)
		return;
	/* JSON_DECODE_INT_AS_REAL: model_max_length is often 1e30 */
	json_t *cfg = pb_json_load_file(cpath, JSON_DECODE_INT_AS_REAL, NULL);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return;
	}
	int id;
	if ((id = config_token(t, cfg, "bos_token")) >= 0)
		t->bos = id;
	if ((id = config_token(t, cfg, "eos_token")) >= 0)
		t->eos = id;
	if ((id = config_token(t, cfg, "unk_token")) >= 0)
		t->unk = id;
	if ((id = config_token(t, cfg, "pad_token")) >= 0)
		t->pad = id;
	t->add_bos = jbool(cfg, "add_bos_token", t->add_bos);
	t->add_eos = jbool(cfg, "add_eos_token", t->add_eos);
	json_decref(cfg);
}

#define MAX_ID (1 << 24)

static int vocab_ids(struct jctx *c, const json_t *vocab, const json_t *added, int unigram, int *maxid)
{
	const char *key;
	json_t *v;
	size_t i;
	*maxid = -1;
	if (unigram) {
		if (!json_is_array(vocab))
			return JFAIL(c, -EINVAL, "%s: model.vocab: expected an array of [piece, score] pairs", c->path);
		if (json_array_size(vocab) > MAX_ID)
			return JFAIL(c, -E2BIG, "%s: model.vocab: more than %d pieces", c->path, MAX_ID);
		*maxid = (int)json_array_size(vocab) - 1;
	} else {
		if (!json_is_object(vocab))
			return JFAIL(c, -EINVAL, "%s: model.vocab: expected an object of piece: id", c->path);
		json_object_foreach((json_t *)vocab, key, v) {
			json_int_t id = json_integer_value(v);
			if (!json_is_integer(v) || id < 0 || id >= MAX_ID)
				return JFAIL(c, -EINVAL, "%s: model.vocab[\"%s\"]: expected an id in 0..%d", c->path, key,
					     MAX_ID - 1);
			if (id > *maxid)
				*maxid = (int)id;
		}
	}
	if (added && !json_is_array(added))
		return JFAIL(c, -EINVAL, "%s: added_tokens: expected an array", c->path);
	json_array_foreach(added, i, v) {
		json_t *id = json_object_get(v, "id");
		if (!jstr(v, "content") || !json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) >= MAX_ID)
			return JFAIL(c, -EINVAL, "%s: added_tokens[%zu]: expected {\"id\": 0..%d, \"content\": string}",
				     c->path, i, MAX_ID - 1);
		if (json_integer_value(id) > *maxid)
			*maxid = (int)json_integer_value(id);
	}
	if (*maxid < 0)
		return JFAIL(c, -EINVAL, "%s: model.vocab: no pieces", c->path);
	return 0;
}

/* Pieces by id from model.vocab and added_tokens; every id must have one. */
static int tok_json_vocab(struct jctx *c, const json_t *model, const json_t *added, int unigram,
			  struct pb_tokenizer **out)
{
	json_t *vocab = json_object_get(model, "vocab"), *v;
	const char *key;
	size_t i;
	int maxid, rc = vocab_ids(c, vocab, added, unigram, &maxid);
	if (rc < 0)
		return rc;
	struct pb_tokenizer *t;
	if ((rc = tok_alloc(maxid + 1, &t)) < 0)
		return JFAIL(c, rc, "%s: out of memory", c->path);
	*out = t;
	if (unigram) {
		json_array_foreach(vocab, i, v) {
			const char *p = json_string_value(json_array_get(v, 0));
			json_t *sc = json_array_get(v, 1);
			if (json_array_size(v) != 2 || !p || !json_is_number(sc))
				return JFAIL(c, -EINVAL, "%s: model.vocab[%zu]: expected [piece, score]", c->path, i);
			t->scores[i] = (float)json_number_value(sc);
			if (!(t->pieces[i] = strdup(p)))
				return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
		}
	} else {
		json_object_foreach(vocab, key, v) {
			int id = (int)json_integer_value(v);
			if (t->pieces[id])
				return JFAIL(c, -EINVAL, "%s: model.vocab[\"%s\"]: id %d is also \"%s\"", c->path, key,
					     id, t->pieces[id]);
			if (!(t->pieces[id] = strdup(key)))
				return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
		}
	}
	json_array_foreach(added, i, v) {
		int id = (int)json_integer_value(json_object_get(v, "id"));
		const char *content = jstr(v, "content");
		if (!t->pieces[id] && !(t->pieces[id] = strdup(content)))
			return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
		if (strcmp(t->pieces[id], content))
			return JFAIL(c, -EINVAL, "%s: added_tokens[%zu]: id %d is \"%s\" in model.vocab, not \"%s\"",
				     c->path, i, id, t->pieces[id], content);
		t->types[id] = jbool(v, "special", 0) ? PB_TOKEN_CONTROL : PB_TOKEN_USER_DEFINED;
	}
	for (int id = 0; id < t->n; id++)
		if (!t->pieces[id])
			return JFAIL(c, -EINVAL, "%s: id %d has no piece in model.vocab or added_tokens", c->path, id);
	if (tok_index(t) < 0)
		return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	return 0;
}

/* Merges in rank order; a merged piece without a score gets -rank, so an
 * exported "llama" vocabulary ranks them the same way. */
static int tok_json_merges(struct jctx *c, struct pb_tokenizer *t, const json_t *merges)
{
	json_t *m;
	size_t i;
	if (!json_is_array(merges))
		return JFAIL(c, -EINVAL, "%s: model.merges: expected an array", c->path);
	json_array_foreach(merges, i, m) {
		const char *a, *b, *s = json_string_value(m), *sp = s && *s ? strchr(s + 1, ' ') : NULL;
		size_t na, nb;
		if (sp) {
			a = s;
			na = (size_t)(sp - s);
			b = sp + 1;
			nb = strlen(b);
		} else if (json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
			   json_is_string(json_array_get(m, 1))) {
			a = json_string_value(json_array_get(m, 0));
			b = json_string_value(json_array_get(m, 1));
			na = strlen(a);
			nb = strlen(b);
		} else {
			return JFAIL(c, -EINVAL, "%s: model.merges[%zu]: expected \"a b\" or [a, b]", c->path, i);
		}
		int rc = tok_add_merge(t, a, na, b, nb);
		if (rc == -ENOENT)
			return JFAIL(c, -EINVAL, "%s: model.merges[%zu] (%.*s + %.*s): a piece or the merged piece is not in model.vocab",
				     c->path, i, (int)na, a, (int)nb, b);
		if (rc < 0)
			return JFAIL(c, rc, "%s: out of memory", c->path);
		int id;
		tok_pair_find(t, tok_find(t, a, na), tok_find(t, b, nb), &id);
		if (t->scores[id] == 0.0f)
			t->scores[id] = -(float)(i + 1);
	}
	return 0;
}

/* Added tokens go before the model in the text; the normalized ones are
 * matched in their normalized form. */
static int added_list(struct jctx *c, struct pb_tokenizer *t, const json_t *added)
{
	size_t n = json_array_size(added), i;
	json_t *a;
	if (!n)
		return 0;
	if (!(t->added = calloc(n, sizeof *t->added)))
		return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
	json_array_foreach(added, i, a) {
		const char *content = jstr(a, "content");
		struct tok_added *d = &t->added[t->n_added];
		d->id = (int)json_integer_value(json_object_get(a, "id"));
		d->normalized = jbool(a, "normalized", !jbool(a, "special", 0));
		d->lstrip = jbool(a, "lstrip", 0);
		d->rstrip = jbool(a, "rstrip", 0);
		size_t len;
		d->content = d->normalized ? tok_normalize(t, content, strlen(content), &len) : strdup(content);
		if (!d->content)
			return JFAIL(c, -ENOMEM, "%s: out of memory", c->path);
		if (!*d->content) {   /* nothing to match */
			free(d->content);
			continue;
		}
		t->added_first[!!d->normalized][(unsigned char)d->content[0]] = 1;
		t->n_added++;
	}
	return 0;
}

int pb_tokenizer_load_json(const char *path, struct pb_tokenizer **out, char *err, size_t len)
{
	struct jctx c = { path, err, len };
	json_error_t je;
	json_t *root = pb_json_load_file(path, 0, &je);
	struct pb_tokenizer *t = NULL;
	int rc;
	if (!root && je.line < 1)
		return JFAIL(&c, -EINVAL, "%s: %s", path, je.text);
	if (!root)
		return JFAIL(&c, -EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	json_t *model = json_object_get(root, "model");
	if (!json_is_object(model)) {
		rc = JFAIL(&c, -EINVAL, "%s: expected a \"model\" object at the top level", path);
		goto fail;
	}
	const char *type = jstr(model, "type");
	if (!type)   /* older files: the model's fields tell */
		type = json_object_get(model, "merges") ? "BPE" : json_is_array(json_object_get(model, "vocab")) ? "Unigram" : "";
	int unigram = !strcmp(type, "Unigram");
	if (!unigram && strcmp(type, "BPE")) {
		rc = JFAIL(&c, -ENOTSUP, "%s: model.type \"%s\" is not supported (BPE, Unigram)", path, type);
		goto fail;
	}
	json_t *added = json_object_get(root, "added_tokens");
	if ((rc = tok_json_vocab(&c, model, added, unigram, &t)) < 0)
		goto fail;
	if ((rc = parse_norm(&c, t, json_object_get(root, "normalizer"))) < 0 ||
	    (rc = parse_pre(&c, t, json_object_get(root, "pre_tokenizer"))) < 0 ||
	    (rc = added_list(&c, t, added)) < 0)
		goto fail;
	parse_dec(t, json_object_get(root, "decoder"));
	parse_post(t, json_object_get(root, "post_processor"));
	for (int i = 0; i < t->n_norm; i++)
		if (t->norm[i].op == NORM_PREPEND)
			t->add_space_prefix = 1;
	if (!unigram) {
		const char *unk = jstr(model, "unk_token");
		json_t *sfx = json_object_get(model, "continuing_subword_prefix"),
		       *eow = json_object_get(model, "end_of_word_suffix");
		if ((json_is_string(sfx) && *json_string_value(sfx)) || (json_is_string(eow) && *json_string_value(eow))) {
			rc = JFAIL(&c, -ENOTSUP, "%s: model: continuing_subword_prefix / end_of_word_suffix are not supported",
				   path);
			goto fail;
		}
		t->unk = unk ? tok_find(t, unk, strlen(unk)) : -1;
		t->byte_fallback = jbool(model, "byte_fallback", 0);
		t->fuse_unk = jbool(model, "fuse_unk", 0);
		t->ignore_merges = jbool(model, "ignore_merges", 0);
		if ((rc = tok_json_merges(&c, t, json_object_get(model, "merges"))) < 0)
			goto fail;
	} else {
		json_t *u = json_object_get(model, "unk_id");
		t->unk = json_is_integer(u) && json_integer_value(u) >= 0 && json_integer_value(u) < t->n
			 ? (int)json_integer_value(u) : -1;
		t->byte_fallback = jbool(model, "byte_fallback", 0);
	}
	if (t->unk >= 0 && t->types[t->unk] == PB_TOKEN_NORMAL)
		t->types[t->unk] = PB_TOKEN_UNKNOWN;
	read_config(t, path);
	if (t->eos < 0) {
		static const char *const eos[] = { "</s>", "<|endoftext|>", "<eos>", "<|end_of_text|>" };
		for (size_t i = 0; i < PB_ARRAY_LEN(eos) && t->eos < 0; i++)
			t->eos = tok_find(t, eos[i], strlen(eos[i]));
	}
	t->kind = unigram ? PB_TOK_UNIGRAM : PB_TOK_BPE;
	t->model_name = strdup(unigram ? "t5" : t->byte_level ? "gpt2" : "llama");
	/* exported to GGUF, the pipeline goes by llama.cpp's name for it */
	const char *pre_name = t->byte_level ? tok_pre_gguf_name_of(t) : NULL;
	if (pre_name && !(t->pre_name = strdup(pre_name)))
		t->model_name = (free(t->model_name), NULL);
	if (!t->model_name || tok_index(t) < 0) {   /* types changed: refresh */
		rc = JFAIL(&c, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	json_decref(root);
	*out = t;
	return 0;
fail:
	pb_tokenizer_free(t);
	json_decref(root);
	return rc;
}

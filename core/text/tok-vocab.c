/* core/text/tok-vocab.c — a tokenizer's vocabulary: allocation, the piece
 * and merge indexes, and the constructor from a model file's vocabulary
 * description (GGUF tokenizer.ggml.* keys: "llama", "gpt2", "t5"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok-internal.h"
#include "util/util.h"

char *tok_strdup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int tok_alloc(int n, struct pb_tokenizer **out)
{
	struct pb_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->n = n;
	t->bos = t->eos = t->unk = t->pad = -1;
	t->pieces = calloc((size_t)n, sizeof *t->pieces);
	t->scores = calloc((size_t)n, sizeof *t->scores);
	t->types = calloc((size_t)n, sizeof *t->types);
	if (!t->pieces || !t->scores || !t->types) {
		pb_tokenizer_free(t);
		return -ENOMEM;
	}
	for (int i = 0; i < 256; i++)
		t->byte_id[i] = -1;
	*out = t;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The byte a "<0xNN>" piece stands for, or -1. */
int tok_piece_byte(const char *p)
{
	if (strlen(p) != 6 || strncmp(p, "<0x", 3) || p[5] != '>')
		return -1;
	int hi = hexval(p[3]), lo = hexval(p[4]);
	return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

int tok_default_type(const struct pb_tokenizer *t, int id)
{
	const char *p = t->pieces[id];
	if (tok_piece_byte(p) >= 0)
		return PB_TOKEN_BYTE;
	if (id == t->bos || id == t->eos || !strcmp(p, "<s>") || !strcmp(p, "</s>"))
		return PB_TOKEN_CONTROL;
	if (id == t->unk || !strcmp(p, "<unk>"))
		return PB_TOKEN_UNKNOWN;
	if (!strncmp(p, "<extra_", 7))   /* synthetic vocabularies' fillers */
		return PB_TOKEN_UNUSED;
	return PB_TOKEN_NORMAL;
}

static size_t hash_str(const char *s, size_t n)
{
	return (size_t)pb_fnv1a64(s, n);
}

int tok_find(const struct pb_tokenizer *t, const char *s, size_t n)
{
	if (!t->map.cap || n > t->max_piece)
		return -1;
	size_t mask = t->map.cap - 1;
	for (size_t h = hash_str(s, n) & mask;; h = (h + 1) & mask) {
		int id = t->map.slot[h];
		if (id < 0)
			return -1;
		const char *p = t->pieces[id];
		if (!strncmp(p, s, n) && p[n] == '\0')
			return id;
	}
}

/* The first id of a piece wins, as in a Hugging Face vocabulary where an
 * added token repeats a model piece. */
int tok_index(struct pb_tokenizer *t)
{
	size_t cap = 16;
	while (cap < (size_t)t->n * 2)
		cap *= 2;
	free(t->map.slot);
	t->map.slot = malloc(cap * sizeof *t->map.slot);
	if (!t->map.slot)
		return -ENOMEM;
	t->map.cap = cap;
	memset(t->map.slot, 0xff, cap * sizeof *t->map.slot);
	t->max_piece = 0;
	t->min_score = 0.0f;
	int have_min = 0;
	for (int i = 0; i < t->n; i++) {
		const char *p = t->pieces[i];
		size_t n = strlen(p);
		if (n > t->max_piece)
			t->max_piece = n;
		int b = tok_piece_byte(p);
		if (b >= 0 && t->byte_id[b] < 0)
			t->byte_id[b] = i;
		if (t->types[i] < PB_TOKEN_NORMAL || t->types[i] > PB_TOKEN_BYTE)
			t->types[i] = tok_default_type(t, i);
		if (t->types[i] == PB_TOKEN_NORMAL && (!have_min || t->scores[i] < t->min_score)) {
			t->min_score = t->scores[i];
			have_min = 1;
		}
		size_t h = hash_str(p, n) & (cap - 1);
		while (t->map.slot[h] >= 0 && strcmp(t->pieces[t->map.slot[h]], p))
			h = (h + 1) & (cap - 1);
		if (t->map.slot[h] < 0)
			t->map.slot[h] = i;
	}
	return 0;
}

static size_t hash_pair(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static int pairs_grow(struct tok_pairs *p)
{
	size_t cap = p->cap ? p->cap * 2 : 1024;
	struct tok_pairs q = {
		.key = malloc(cap * sizeof *q.key), .rank = malloc(cap * sizeof *q.rank),
		.id = malloc(cap * sizeof *q.id), .cap = cap,
	};
	if (!q.key || !q.rank || !q.id) {
		free(q.key);
		free(q.rank);
		free(q.id);
		return -ENOMEM;
	}
	memset(q.id, 0xff, cap * sizeof *q.id);
	for (size_t i = 0; i < p->cap; i++) {
		if (p->id[i] < 0)
			continue;
		size_t h = hash_pair(p->key[i]) & (cap - 1);
		while (q.id[h] >= 0)
			h = (h + 1) & (cap - 1);
		q.key[h] = p->key[i];
		q.rank[h] = p->rank[i];
		q.id[h] = p->id[i];
	}
	free(p->key);
	free(p->rank);
	free(p->id);
	*p = q;
	return 0;
}

int tok_pair_find(const struct pb_tokenizer *t, int a, int b, int *id)
{
	const struct tok_pairs *p = &t->pairs;
	if (!p->cap || a < 0 || b < 0)
		return -1;
	uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
	for (size_t h = hash_pair(k) & (p->cap - 1);; h = (h + 1) & (p->cap - 1)) {
		if (p->id[h] < 0)
			return -1;
		if (p->key[h] == k) {
			*id = p->id[h];
			return p->rank[h];
		}
	}
}

int tok_add_merge(struct pb_tokenizer *t, const char *a, size_t na, const char *b, size_t nb)
{
	int ia = tok_find(t, a, na), ib = tok_find(t, b, nb);
	char *m = malloc(na + nb + 2);
	if (!m)
		return -ENOMEM;
	memcpy(m, a, na);   /* a+b for the lookup first, then "a b" */
	memcpy(m + na, b, nb);
	m[na + nb] = '\0';
	int id = tok_find(t, m, na + nb);
	if (ia < 0 || ib < 0 || id < 0) {
		free(m);
		return -ENOENT;
	}
	m[na] = ' ';
	memcpy(m + na + 1, b, nb);
	m[na + nb + 1] = '\0';
	if (t->n_merges % 1024 == 0) {
		char **g = realloc(t->merges, ((size_t)t->n_merges + 1024) * sizeof *g);
		if (!g) {
			free(m);
			return -ENOMEM;
		}
		t->merges = g;
	}
	struct tok_pairs *p = &t->pairs;
	if (((size_t)t->n_merges + 1) * 2 > p->cap && pairs_grow(p) < 0) {
		free(m);
		return -ENOMEM;
	}
	uint64_t k = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
	size_t h = hash_pair(k) & (p->cap - 1);
	while (p->id[h] >= 0 && p->key[h] != k)
		h = (h + 1) & (p->cap - 1);
	if (p->id[h] < 0) {   /* a repeated merge keeps its first (better) rank */
		p->key[h] = k;
		p->rank[h] = t->n_merges;
		p->id[h] = id;
	}
	t->merges[t->n_merges++] = m;
	return 0;
}

/* Merges as GGUF and older tokenizer.json files write them: "a b", split
 * at the first space after the first byte (a piece may start with one). */
static int add_merge_str(struct pb_tokenizer *t, const char *s)
{
	const char *sp = *s ? strchr(s + 1, ' ') : NULL;
	if (!sp)
		return -EINVAL;
	return tok_add_merge(t, s, (size_t)(sp - s), sp + 1, strlen(sp + 1));
}

/* Configure the pipeline for the SentencePiece style: ' ' is U+2581, one
 * more in front when add_space_prefix. */
static int spm_pipeline(struct pb_tokenizer *t)
{
	if (t->add_space_prefix) {
		t->norm[t->n_norm].op = NORM_PREPEND;
		if (!(t->norm[t->n_norm++].a = strdup(SPM_SPACE)))
			return -ENOMEM;
	}
	t->norm[t->n_norm].op = NORM_REPLACE;
	t->norm[t->n_norm].a = strdup(" ");
	t->norm[t->n_norm].b = strdup(SPM_SPACE);
	if (!t->norm[t->n_norm].a || !t->norm[t->n_norm++].b)
		return -ENOMEM;
	t->dec_space = t->dec_bytes = 1;
	t->dec_strip = t->add_space_prefix;
	return 0;
}

static int has_normal_piece(const struct pb_tokenizer *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->types[i] == PB_TOKEN_NORMAL || t->types[i] == PB_TOKEN_USER_DEFINED)
			return 1;
	return 0;
}

static int id_or_none(int id, int n)
{
	return id >= 0 && id < n ? id : -1;
}

static int longer_first(const void *a, const void *b)
{
	const struct tok_added *x = a, *y = b;
	size_t nx = strlen(x->content), ny = strlen(y->content);
	return nx != ny ? (nx < ny ? 1 : -1) : (x->id > y->id) - (x->id < y->id);
}

/* The pieces llama.cpp cuts out of the text before the model sees it
 * (tokenize with parse_special off): user-defined ones, the longest
 * first.  Control and unknown pieces written in the text stay text.
 * Phi-3 files (rstrip_special) eat the whitespace after them, as
 * llama.cpp does for a model named phi3. */
static int gguf_specials(struct pb_tokenizer *t, const struct pb_vocab_spec *v)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		n += t->types[i] == PB_TOKEN_USER_DEFINED && t->pieces[i][0];
	t->st_partition = 1;
	if (!n)
		return 0;
	if (!(t->added = calloc((size_t)n, sizeof *t->added)))
		return -ENOMEM;
	for (int i = 0; i < t->n; i++) {
		if (t->types[i] != PB_TOKEN_USER_DEFINED || !t->pieces[i][0])
			continue;
		struct tok_added *a = &t->added[t->n_added];
		a->id = i;
		a->rstrip = v->rstrip_special && strcmp(t->pieces[i], "<unk>") && strcmp(t->pieces[i], "<s>") &&
			    strcmp(t->pieces[i], "<|endoftext|>");
		if (!(a->content = strdup(t->pieces[i])))
			return -ENOMEM;
		t->n_added++;
	}
	qsort(t->added, (size_t)t->n_added, sizeof *t->added, longer_first);
	return 0;
}

int pb_tokenizer_from_vocab(const struct pb_vocab_spec *v, struct pb_tokenizer **out,
			    char *err, size_t len)
{
	if (!v || !out || !v->tokens || v->n_tokens <= 0)
		return pb_errf(err, len, -EINVAL, "vocabulary: no tokens");
	const char *model = v->model ? v->model : "llama";
	int kind;
	if (!strcmp(model, "llama"))
		kind = v->n_merges > 0 ? PB_TOK_BPE : PB_TOK_SPM;
	else if (!strcmp(model, "gpt2"))
		kind = PB_TOK_BPE;
	else if (!strcmp(model, "t5"))
		kind = PB_TOK_UNIGRAM;
	else
		return pb_errf(err, len, -ENOTSUP,
			       "vocabulary: tokenizer model '%s' is not supported (llama, gpt2, t5)", model);
	if (kind == PB_TOK_BPE && (v->n_merges <= 0 || !v->merges))
		return pb_errf(err, len, -EINVAL, "vocabulary: a '%s' BPE vocabulary needs merges", model);
	struct pb_tokenizer *t;
	int rc = tok_alloc(v->n_tokens, &t);
	if (rc < 0)
		return pb_errf(err, len, rc, "vocabulary: out of memory");
	t->kind = kind;
	t->bos = id_or_none(v->bos_id, t->n);
	t->eos = id_or_none(v->eos_id, t->n);
	t->unk = id_or_none(v->unk_id, t->n);
	t->pad = id_or_none(v->pad_id, t->n);
	for (int i = 0; i < t->n; i++) {
		if (!v->tokens[i]) {
			pb_tokenizer_free(t);
			return pb_errf(err, len, -EINVAL, "vocabulary: token %d has no text", i);
		}
		if (!(t->pieces[i] = strdup(v->tokens[i])))
			goto nomem;
		t->scores[i] = v->scores ? v->scores[i] : 0.0f;
		t->types[i] = v->types ? v->types[i] : 0;
	}
	if (tok_index(t) < 0)
		goto nomem;
	if (t->unk < 0)
		t->unk = tok_find(t, "<unk>", 5);
	if (!(t->model_name = strdup(model)) || (v->pre && !(t->pre_name = strdup(v->pre))))
		goto nomem;
	int space = kind == PB_TOK_BPE && v->byte_level ? 0 : 1;
	t->add_space_prefix = v->add_space_prefix >= 0 ? !!v->add_space_prefix : space;
	t->add_bos = v->add_bos >= 0 ? !!v->add_bos : kind == PB_TOK_SPM || (kind == PB_TOK_BPE && !v->byte_level);
	if (kind == PB_TOK_SPM && !has_normal_piece(t)) {
		/* only byte and control pieces: the synthetic byte vocabulary */
		t->kind = TOK_BYTE;
	} else if (kind == PB_TOK_BPE && v->byte_level) {
		/* llama.cpp's split regexes by tokenizer.ggml.pre, then bytes */
		t->byte_level = 1;
		t->dec_bytelevel = 1;
		rc = tok_pre_gguf(t, v->pre, err, len);
		if (rc < 0) {
			pb_tokenizer_free(t);
			return rc;
		}
		if (v->add_bos >= 0)
			t->add_bos = !!v->add_bos;
	} else if (kind == PB_TOK_UNIGRAM) {
		t->norm[t->n_norm++].op = NORM_SPM_WS;
		t->add_eos = 1;
		if (spm_pipeline(t) < 0)
			goto nomem;
	} else if (spm_pipeline(t) < 0) {
		goto nomem;
	}
	if (kind == PB_TOK_BPE && !v->byte_level)
		t->byte_fallback = t->fuse_unk = 1;
	for (int i = 0; kind == PB_TOK_BPE && i < v->n_merges; i++) {
		rc = v->merges[i] ? add_merge_str(t, v->merges[i]) : -EINVAL;
		if (rc == -ENOMEM)
			goto nomem;
		if (rc < 0) {
			pb_errf(err, len, rc, "vocabulary: merge %d '%s': %s", i,
				v->merges[i] ? v->merges[i] : "(null)",
				rc == -ENOENT ? "a piece or the merged piece is not in the vocabulary"
					      : "expected two pieces separated by a space");
			pb_tokenizer_free(t);
			return -EINVAL;
		}
	}
	if (t->kind != TOK_BYTE && gguf_specials(t, v) < 0)
		goto nomem;
	*out = t;
	return 0;
nomem:
	pb_tokenizer_free(t);
	return pb_errf(err, len, -ENOMEM, "vocabulary: out of memory");
}

int pb_tokenizer_export(const struct pb_tokenizer *t, struct pb_vocab_spec *v)
{
	if (!t || !v)
		return -EINVAL;
	memset(v, 0, sizeof *v);
	v->model = t->model_name ? t->model_name : "llama";
	v->pre = t->pre_name;
	v->tokens = (const char *const *)t->pieces;
	v->n_tokens = t->n;
	v->scores = t->scores;
	v->types = t->types;
	v->merges = (const char *const *)t->merges;
	v->n_merges = t->n_merges;
	v->bos_id = t->bos;
	v->eos_id = t->eos;
	v->unk_id = t->unk;
	v->pad_id = t->pad;
	v->add_bos = t->add_bos;
	v->add_space_prefix = t->add_space_prefix;
	v->byte_level = t->byte_level;
	return 0;
}

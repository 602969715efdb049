/* core/text/tok-internal.h — what the tokenizer files share: the tokenizer
 * itself, its text pipeline (added tokens → normalizers → pre-tokenizers →
 * model), and the helpers each model file needs.  Private to core/text. */
#ifndef PB_TOK_INTERNAL_H
#define PB_TOK_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "text/text.h"

#define TOK_BYTE 0   /* the synthetic byte-level kind: each byte its <0xNN> piece */
#define TOK_MAX_NORM 8
#define TOK_MAX_PRE 8

#define SPM_SPACE "\xe2\x96\x81"   /* U+2581, SentencePiece's visible space */

enum norm_op {
	NORM_PREPEND = 1,   /* a before any non-empty text (HF Prepend) */
	NORM_REPLACE,       /* every a by b (HF Replace with a String pattern) */
	NORM_COLLAPSE,      /* runs of spaces to one (HF Replace " {2,}") */
	NORM_SPM_WS,        /* sentencepiece remove_extra_whitespaces: trim, collapse */
	NORM_STRIP,         /* strip whitespace left (a != NULL) / right (b != NULL) */
	NORM_LOWER,
	NORM_REPLACE_RE,    /* every match of the regex re by b (HF Replace with a Regex) */
	NORM_NFC,           /* Unicode normalization forms (utf8proc) */
	NORM_NFKC,
	NORM_NFD,
	NORM_NFKD,
};

struct tok_norm {
	enum norm_op op;
	char *a, *b;
	void *re;           /* NORM_REPLACE_RE: a compiled tok_regex */
};

enum pre_op {
	PRE_BYTELEVEL = 1,  /* GPT-2 split regex (optional) then byte-to-unicode */
	PRE_METASPACE,      /* ' ' → replacement, prepend, optionally split before it */
	PRE_WSSPLIT,        /* split on whitespace, dropping it */
	PRE_SPLIT,          /* HF Split: a regex and what happens to its matches */
};

/* HF SplitDelimiterBehavior: what a Split does with the matched pieces. */
enum split_behavior {
	SPLIT_ISOLATED = 0,     /* matches and the text between them, each a piece */
	SPLIT_REMOVED,          /* matches dropped */
	SPLIT_MERGED_PREV,      /* a match ends the piece before it */
	SPLIT_MERGED_NEXT,      /* a match starts the piece after it */
	SPLIT_CONTIGUOUS,       /* consecutive matches one piece */
};

enum prepend_scheme { PREPEND_NEVER = 0, PREPEND_FIRST, PREPEND_ALWAYS };

struct tok_pre {
	enum pre_op op;
	int add_prefix_space;   /* BYTELEVEL */
	int use_regex;          /* BYTELEVEL */
	int scheme;             /* METASPACE: enum prepend_scheme */
	int split;              /* METASPACE */
	char *replacement;      /* METASPACE */
	void *re;               /* SPLIT, BYTELEVEL with use_regex: a compiled tok_regex */
	char *pattern;          /* SPLIT: re's source, to name the pre-tokenizer on export */
	int behavior;           /* SPLIT: enum split_behavior */
	int invert;             /* SPLIT: the text between matches is what is split off */
};

/* An added token (tokenizer.json): matched verbatim in the text before the
 * model sees it.  normalized: matched in the normalized text, against its own
 * normalized form (what Hugging Face does). */
struct tok_added {
	int id;
	char *content;   /* normalized form when normalized */
	int normalized, lstrip, rstrip;
};

/* piece → id, open addressing over the tokenizer's pieces */
struct tok_map {
	int32_t *slot;   /* id, or -1 */
	size_t cap;      /* a power of two */
};

/* (left id, right id) → merge rank and merged id */
struct tok_pairs {
	uint64_t *key;
	int32_t *rank, *id;
	size_t cap;
};

struct pb_tokenizer {
	int kind;                     /* TOK_BYTE or enum pb_tok_kind */
	int n;
	char **pieces;
	float *scores;
	int32_t *types;
	int bos, eos, unk, pad;
	int add_bos, add_eos, add_space_prefix;
	int byte_id[256];             /* -1 when the vocabulary has no <0xNN> piece */
	struct tok_map map;
	size_t max_piece;             /* bytes, for unigram lattice bounds */
	float min_score;              /* unigram: lowest normal score */
	/* BPE */
	int byte_level, byte_fallback, fuse_unk, ignore_merges;
	char **merges;                /* "a b", rank order */
	int n_merges;
	struct tok_pairs pairs;
	/* pipeline */
	struct tok_norm norm[TOK_MAX_NORM];
	int n_norm;
	struct tok_pre pre[TOK_MAX_PRE];
	int n_pre;
	struct tok_added *added;
	int n_added;
	uint8_t added_first[2][256];  /* [normalized][byte]: some added token starts with it */
	/* decoding */
	int dec_bytelevel;            /* pieces are GPT-2 byte-to-unicode text */
	int dec_space;                /* U+2581 → ' ' */
	int dec_bytes;                /* <0xNN> → that byte */
	int dec_strip;                /* leading spaces removed at the start of a text */
	char *model_name, *pre_name;  /* for export */
	/* GGUF vocabularies: special pieces are cut out of the text first, the
	 * longest first over the whole text, as llama.cpp's
	 * tokenizer_st_partition does (tokenizer.json added tokens are matched
	 * leftmost-longest instead, as Hugging Face does) */
	int st_partition;
};

/* ---- tok-vocab.c */
int tok_alloc(int n, struct pb_tokenizer **out);
/* Index pieces, byte pieces, default types; after pieces are set. */
int tok_index(struct pb_tokenizer *t);
int tok_find(const struct pb_tokenizer *t, const char *s, size_t n);
int tok_default_type(const struct pb_tokenizer *t, int id);
int tok_piece_byte(const char *p);
/* Add merge "a b" (or a, b apart when b != NULL); -ENOENT when a piece is
 * missing from the vocabulary. */
int tok_add_merge(struct pb_tokenizer *t, const char *a, size_t na, const char *b, size_t nb);
int tok_pair_find(const struct pb_tokenizer *t, int a, int b, int *id);
char *tok_strdup_n(const char *s, size_t n);

/* ---- tok-text.c: growable buffers and the pipeline */
struct tok_out {
	int32_t *out;
	int max;
	int n;
};

static inline int tok_emit(struct tok_out *o, int id)
{
	if (o->n == INT32_MAX)
		return -EOVERFLOW;
	if (o->n < o->max)
		o->out[o->n] = id;
	o->n++;
	return 0;
}

size_t tok_utf8_len(const char *s, size_t left);
uint32_t tok_utf8_decode(const char *s, size_t left, size_t *len);
int tok_run(const struct pb_tokenizer *t, const char *text, struct tok_out *o);
/* Apply the normalizers to s[0..n): a malloc'd string, NULL on ENOMEM. */
char *tok_normalize(const struct pb_tokenizer *t, const char *s, size_t n, size_t *outn);

/* ---- model encoders, over one pre-tokenized word */
int tok_spm_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o);
int tok_bpe_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o);
int tok_unigram_word(const struct pb_tokenizer *t, const char *s, size_t n, struct tok_out *o);

/* ---- tok-bytelevel.c */
/* GPT-2 byte → code point, and back (-1 when none). */
uint32_t tok_byte_to_cp(unsigned char b);
int tok_cp_to_byte(uint32_t cp);
/* Bytes → byte-level text, a malloc'd string. */
char *tok_bytes_to_unicode(const char *s, size_t n, size_t *outn);


/* ---- tok-split.c: regexes (PCRE2, UTF-8 with Unicode properties) */
#define TOK_GPT2_REGEX \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
/* Compile pattern; the error names the pattern and the column. */
int tok_regex_compile(const char *pattern, void **re, char *err, size_t len);
void tok_regex_free(void *re);
/* Split s[0..n) at the matches of re with a behavior (enum
 * split_behavior); calls fn per non-empty piece, in order. */
int tok_regex_split(void *re, int behavior, int invert, const char *s, size_t n,
		    int (*fn)(void *ctx, const char *s, size_t n), void *ctx);
/* Replace every match of re in s[0..n) by b: a malloc'd string. */
char *tok_regex_replace(void *re, const char *b, const char *s, size_t n, size_t *outn);
/* Unicode normalization (NORM_NFC...) of s[0..n): a malloc'd string; text
 * that is not valid UTF-8 comes back unchanged. */
char *tok_unicode_normalize(int op, const char *s, size_t n, size_t *outn);

/* ---- tok-pre.c: llama.cpp's pre-tokenizers by tokenizer.ggml.pre */
/* Set up t's pipeline for a GGUF "gpt2" vocabulary with pre-tokenizer pre
 * (NULL or "": llama.cpp's "default", with a warning): the split regexes,
 * then the byte-level mapping.  -ENOTSUP with the name when unknown. */
int tok_pre_gguf(struct pb_tokenizer *t, const char *pre, char *err, size_t len);
/* The tokenizer.ggml.pre name for a tokenizer.json pipeline of Splits
 * (Isolated) and a final ByteLevel, when it is one of llama.cpp's; else
 * NULL. */
const char *tok_pre_gguf_name_of(const struct pb_tokenizer *t);
/* Names tok_pre_gguf knows, for messages: "llama-bpe, qwen2, ...". */
const char *tok_pre_gguf_names(void);

#endif

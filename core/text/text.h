/* core/text/text.h — tokenizers and datasets.
 *
 * This slice has the byte-level tokenizer that synthetic models carry
 * (ids 3 + byte over a llama-style vocabulary with <0xNN> pieces, BOS 1,
 * EOS 2) and the same byte fallback for any GGUF "llama" vocabulary; the
 * engine issue adds SentencePiece-BPE, tokenizer.json BPE and T5 unigram.
 */
#ifndef PB_TEXT_H
#define PB_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct pb_tokenizer;

/* Build from a vocabulary (copied).  bos/eos -1 when absent. */
int pb_tokenizer_new(const char *const *pieces, const float *scores, int n_vocab,
		     int bos_id, int eos_id, struct pb_tokenizer **out);
void pb_tokenizer_free(struct pb_tokenizer *t);
int pb_tokenizer_vocab(const struct pb_tokenizer *t);
const char *pb_tokenizer_piece(const struct pb_tokenizer *t, int id);

/* Scores and GGUF token types (1 normal, 2 unknown, 3 control,
 * 4 user-defined, 5 unused, 6 byte) as the model file carries them; types
 * default from the pieces when the file has none. */
float pb_tokenizer_score(const struct pb_tokenizer *t, int id);
int pb_tokenizer_type(const struct pb_tokenizer *t, int id);
void pb_tokenizer_set_types(struct pb_tokenizer *t, const int32_t *types);
int pb_tokenizer_bos(const struct pb_tokenizer *t);
int pb_tokenizer_eos(const struct pb_tokenizer *t);

enum pb_token_type {
	PB_TOKEN_NORMAL = 1, PB_TOKEN_UNKNOWN = 2, PB_TOKEN_CONTROL = 3,
	PB_TOKEN_USER_DEFINED = 4, PB_TOKEN_UNUSED = 5, PB_TOKEN_BYTE = 6,
};

/* ---- real vocabularies (engine issue) ---- */

enum pb_tok_kind {
	PB_TOK_SPM = 1,      /* SentencePiece BPE over scores, byte fallback (GGUF "llama", llama2.c) */
	PB_TOK_BPE = 2,      /* merges-ranked BPE (GGUF "gpt2", tokenizer.json "BPE") */
	PB_TOK_UNIGRAM = 3,  /* SentencePiece unigram, Viterbi over scores (GGUF "t5", tokenizer.json "Unigram") */
};

/* A vocabulary as a model file describes it; all pointers borrowed (the
 * constructor copies). */
struct pb_vocab_spec {
	const char *model;            /* GGUF tokenizer.ggml.model: "llama", "gpt2", "t5", ... */
	const char *pre;              /* tokenizer.ggml.pre, or NULL */
	const char *const *tokens;
	int n_tokens;
	const float *scores;          /* NULL: none */
	const int32_t *types;         /* NULL: inferred from the pieces */
	const char *const *merges;    /* "a b", BPE only */
	int n_merges;
	int bos_id, eos_id, unk_id, pad_id;   /* -1 when absent */
	int add_bos;                  /* -1: the kind's default */
	int add_space_prefix;         /* -1: the kind's default */
	int byte_level;               /* BPE: GPT-2 byte-to-unicode pre-tokenizer (1) or Metaspace (0) */
};

int pb_tokenizer_from_vocab(const struct pb_vocab_spec *v, struct pb_tokenizer **out,
			    char *err, size_t len);
/* Hugging Face tokenizer.json (BPE with ByteLevel or Metaspace; Unigram). */
int pb_tokenizer_load_json(const char *path, struct pb_tokenizer **out, char *err, size_t len);
/* llama2.c tokenizer .bin for a model of n_vocab tokens. */
int pb_tokenizer_load_llama2c(const char *path, int n_vocab, struct pb_tokenizer **out,
			      char *err, size_t len);
/* The vocabulary back, for writing GGUF; pointers valid while t lives. */
int pb_tokenizer_export(const struct pb_tokenizer *t, struct pb_vocab_spec *v);
/* Whether this vocabulary wants BOS prepended to a prompt by default. */
int pb_tokenizer_add_bos(const struct pb_tokenizer *t);

/* Encode text; returns the number of tokens (may exceed max: only max are
 * written), or -errno. */
int pb_tokenize(const struct pb_tokenizer *t, const char *text, int add_bos,
		int32_t *out, int max);
/* Append the text of one token to buf (NUL-terminated); returns bytes
 * appended, or -ENOSPC (buf unchanged) when it does not fit.  Byte tokens
 * <0xNN> become that byte, U+2581 a space; BOS, EOS, control pieces and
 * <extra_N> become nothing. */
int pb_detokenize(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len);

struct pb_dataset {
	char **prompts;
	int n;
	char sha256[65];        /* of the file's bytes */
};

/* Lines file (one prompt per non-empty line, trailing \r stripped) or JSON
 * lines, each an object with a string `field` (NULL: "prompt").
 * max_samples <= 0: all.  Errors name file:line and what was expected. */
int pb_dataset_load(const char *path, int jsonl, const char *field, int max_samples,
		    struct pb_dataset **out, char *err, size_t len);
void pb_dataset_free(struct pb_dataset *d);

#endif

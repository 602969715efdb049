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
	int rstrip_special;           /* user-defined pieces eat the whitespace after them (llama.cpp's Phi-3) */
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
/* Whether it wants EOS appended (T5 inputs, a tokenizer.json template);
 * pb_tokenize never appends it: the caller does, with pb_tokenizer_eos(). */
int pb_tokenizer_add_eos(const struct pb_tokenizer *t);
int pb_tokenizer_unk(const struct pb_tokenizer *t);
/* enum pb_tok_kind, or 0 for the byte-level kind of pb_tokenizer_new. */
int pb_tokenizer_kind(const struct pb_tokenizer *t);
/* Override BOS/EOS (-1: none), e.g. from a model's config.json. */
int pb_tokenizer_set_special(struct pb_tokenizer *t, int bos_id, int eos_id);

/* The pre-tokenizer names a GGUF "gpt2" vocabulary may carry in
 * tokenizer.ggml.pre (llama.cpp's), for messages and --help. */
const char *pb_tokenizer_pre_names(void);
/* Whether name is one of them. */
int pb_tokenizer_pre_known(const char *name);

/* Kinds and their text pipelines:
 *  - byte-level (pb_tokenizer_new, and a "llama" vocabulary with no normal
 *    pieces, as synthetic models carry): one <0xNN> piece per byte.
 *  - PB_TOK_SPM ("llama", llama2.c .bin): llama.cpp's llm_tokenizer_spm.
 *    ' ' becomes U+2581, one more in front when add_space_prefix; merges
 *    by score; unknowns as <0xNN> pieces, else <unk>.  From GGUF,
 *    user-defined pieces are cut out first (each stretch of text after one
 *    gets its own U+2581 prefix, as llama.cpp does); control pieces written
 *    in the text are NOT recognised (encoded as text).
 *  - PB_TOK_BPE: Hugging Face BPE.  GGUF "gpt2" (byte_level = 1): the
 *    split regexes llama.cpp uses for tokenizer.ggml.pre (tok-pre.c; an
 *    unknown name is an error), then GPT-2 byte-to-unicode.  User-defined
 *    pieces of a GGUF vocabulary are cut out of the text first, longest
 *    first, as llama.cpp does; control pieces stay text.  A "llama" vocabulary that carries
 *    merges, or byte_level = 0, uses the SentencePiece-style text pipeline
 *    with ranked merges, byte fallback and fused <unk>.  tokenizer.json
 *    added tokens are matched in the text first, as Hugging Face does.
 *  - PB_TOK_UNIGRAM ("t5", tokenizer.json "Unigram"): Viterbi over the
 *    scores; whitespace trimmed and collapsed, no NFKC.
 * Decoding turns U+2581 into ' ' and drops the one leading space that the
 *  prefix added when the token is decoded into an empty buffer (as
 *  sentencepiece does for the text's first piece); byte pieces become raw
 *  bytes, so consecutive ones assemble UTF-8 in the buffer.
 * Export: a JSON BPE vocabulary with Metaspace is exported as model "llama"
 *  with its merges (and -rank scores); with ByteLevel as "gpt2". */

/* Encode text; returns the number of tokens (may exceed max: only max are
 * written), or -errno. */
int pb_tokenize(const struct pb_tokenizer *t, const char *text, int add_bos,
		int32_t *out, int max);
/* Append the text of one token to buf (NUL-terminated); returns bytes
 * appended, or -ENOSPC (buf unchanged) when it does not fit.  Byte tokens
 * <0xNN> become that byte, U+2581 a space; BOS, EOS, control pieces and
 * <extra_N> become nothing.  Decoded into an empty buffer, a piece loses
 * the one leading space a SentencePiece-style prefix added (the buffer
 * stands for the text's start; see pb_tokenizer_decode). */
int pb_detokenize(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len);

/* ---- datasets (owned by the DATA engineer: core/text/dataset.c) ----
 *
 * A dataset is a list of records read from one file: text segments, prompt
 * lines, JSON lines or CSV rows.  Records may be shuffled (Fisher-Yates over
 * pb_rng, so the order depends only on the seed); the calibration split is
 * taken from the END of the (shuffled) records and the evaluated samples
 * from the start, so the two never share a record. */

enum pb_dataset_kind {
	PB_DATASET_TEXT = 1,   /* raw text for perplexity; records are segments of whole lines
				* (or the pieces between separators) */
	PB_DATASET_PROMPTS,    /* one prompt per non-empty line */
	PB_DATASET_JSONL,      /* one JSON object per line */
	PB_DATASET_CSV,        /* CSV with a header row (RFC 4180, libcsv) */
};

/* A text record holds at most this many bytes (whole lines where they fit);
 * the evaluated segments, concatenated, give back the evaluated text
 * exactly (scoring tokenizes it as one stream). */
#define PB_TEXT_SEGMENT_BYTES 4096

struct pb_dataset_opts {
	const char *path;
	enum pb_dataset_kind kind;
	const char *input;          /* jsonl/csv: the input field; NULL: "prompt" */
	const char *reference;      /* jsonl/csv: the reference field; NULL or "": none */
	const char *prefix;         /* prepended to every input (not text); NULL: none */
	int max_samples;            /* evaluated records; <= 0: all that remain */
	int shuffle;
	uint64_t seed;              /* the shuffle's seed */
	int calib_count;            /* records held out for calibration; 0: none */
	const char *separator;      /* text: records are the pieces between occurrences of
				     * this string, whitespace-trimmed, empty ones dropped;
				     * NULL or "": segments of whole lines */
};

struct pb_sample {
	char *input;                /* prefix + input (text: the segment) */
	char *reference;            /* NULL when the dataset has no references */
	int line;                   /* where the record starts in the file, 1-based */
};

/* Decode a whole sequence into buf (NUL-terminated, replaced): like
 * pb_detokenize per token, but the prefix space is dropped from the first
 * piece that has text, so leading whitespace pieces survive.  Returns the
 * length, -ENOSPC (buf emptied) when it does not fit, -EINVAL for a bad id. */
int pb_tokenizer_decode(const struct pb_tokenizer *t, const int32_t *ids, int n, char *buf,
			size_t len);

struct pb_dataset {
	enum pb_dataset_kind kind;
	struct pb_sample *samples;  /* evaluated, in (shuffled) order */
	int n;
	struct pb_sample *calib;    /* calibration split, disjoint from samples */
	int n_calib;
	int n_records;              /* records in the file */
	int has_reference;
	char sha256[65];            /* of the file's bytes */
};

/* Errors name file:line and what was expected (a JSON line without the
 * input field, a CSV row with the wrong number of fields, a NUL byte...). */
int pb_dataset_load(const struct pb_dataset_opts *o, struct pb_dataset **out,
		    char *err, size_t len);
void pb_dataset_free(struct pb_dataset *d);
/* The kind a file name implies: .jsonl, .csv, .raw (text); else prompts. */
enum pb_dataset_kind pb_dataset_kind_of_path(const char *path);
const char *pb_dataset_kind_name(enum pb_dataset_kind k);   /* "text", "prompts", ... */
/* "text" etc. back to the kind; 0 when unknown. */
enum pb_dataset_kind pb_dataset_kind_parse(const char *name);

#endif

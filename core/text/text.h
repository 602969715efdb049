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

/* Encode text; returns the number of tokens (may exceed max: only max are
 * written), or -errno. */
int pb_tokenize(const struct pb_tokenizer *t, const char *text, int add_bos,
		int32_t *out, int max);
/* Append the text of one token to buf (NUL-terminated); returns bytes
 * appended.  Byte tokens <0xNN> become that byte. */
int pb_detokenize(const struct pb_tokenizer *t, int32_t id, char *buf, size_t len);

struct pb_dataset {
	char **prompts;
	int n;
	char sha256[65];        /* of the file's bytes */
};

/* Lines file (one prompt per non-empty line) or JSON lines with a string
 * field.  Errors name file:line and what was expected. */
int pb_dataset_load(const char *path, int jsonl, const char *field, int max_samples,
		    struct pb_dataset **out, char *err, size_t len);
void pb_dataset_free(struct pb_dataset *d);

#endif

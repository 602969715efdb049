/* core/model/gguf-reader.h — the GGUF container reader's state, shared by
 * gguf-read.c (header, metadata, tensor infos, data ranges) and
 * gguf-llama.c (what the llama and t5 architectures read from them). */
#ifndef PB_GGUF_READER_H
#define PB_GGUF_READER_H

#include <stddef.h>
#include <stdint.h>

#include <prunebench/model.h>

struct pb_tokenizer;

/* One metadata pair; offsets into the mapped file, checked in bounds. */
struct gguf_kv {
	char *key;
	size_t at;            /* offset of the pair, for messages */
	uint32_t type;
	size_t val;           /* offset of the value (strings: their length field;
	                       * arrays: the first element) */
	uint32_t arr_type;
	uint64_t arr_n;
};

struct gguf_reader {
	const char *path;
	const uint8_t *p;
	size_t len, pos;
	char *err;
	size_t errlen;
	uint32_t version;     /* 1, 2 or 3 */
	size_t lenw;          /* bytes of a count or string length: 4 (v1) or 8 */
	struct gguf_kv *kv;
	uint64_t n_kv;
	uint32_t align;
	char arch[16];        /* general.architecture: "llama" or "t5" */
	const char *tok_pre;  /* forces tokenizer.ggml.pre (NULL: the file's) */
};

/* Where each tensor's fields were, for messages after the infos are read. */
struct gguf_tinfo {
	size_t at, dims_at, off_at;
	uint64_t offset;
};

/* "<file>: offset <off>: <message>" into r->err; returns -EINVAL. */
int gguf_fail(struct gguf_reader *r, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const struct gguf_kv *gguf_find_kv(const struct gguf_reader *r, const char *key);
/* The same for "<arch>.<suffix>". */
const struct gguf_kv *gguf_find_arch_kv(const struct gguf_reader *r, const char *suffix);
/* An integer key in [lo, hi] (a per-layer array: its largest element);
 * absent: def, or an error when required.  A key starting with '.' is
 * "<arch><key>". */
int gguf_key_int(struct gguf_reader *r, const char *key, int required, int64_t def,
		 int64_t lo, int64_t hi, int *out);
int gguf_key_float(struct gguf_reader *r, const char *key, double def, double lo, double hi,
		   float *out);
/* A boolean key (bool or integer); absent: def. */
int gguf_key_bool(struct gguf_reader *r, const char *key, int def, int *out);
/* A string key's bytes (not NUL-terminated) and length, or NULL. */
const char *gguf_key_str(const struct gguf_reader *r, const char *key, uint64_t *n);
/* A string at `off` (its length field): bytes and length; *off moves past
 * it.  Only for strings the container parse already checked. */
const char *gguf_str_at(const struct gguf_reader *r, size_t *off, uint64_t *n);

/* Hyper-parameters, tokenizer, tensor roles and shapes of a llama or t5
 * model whose container has been read.  tok_path: a tokenizer file that
 * replaces the file's own vocabulary (NULL: the file's). */
int gguf_arch_load(struct gguf_reader *r, struct pb_model *m, const struct gguf_tinfo *ti,
		   const char *tok_path);
/* The tokenizer the tokenizer.ggml.* keys describe (r->tok_pre forcing
 * the pre-tokenizer); ids[] gets bos, eos, unk, pad (-1 when absent). */
int gguf_vocab_read(struct gguf_reader *r, struct pb_tokenizer **out, int ids[4]);

#endif

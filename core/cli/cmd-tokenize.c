/* core/cli/cmd-tokenize.c — `prunebench tokenize MODEL (--text T | --file F)
 * [--bos] [--ids-only] [--tokenizer FILE] [--tokenizer-pre NAME]`: the ids a
 * model's tokenizer gives for a text, one "id -> 'piece'" per line as
 * llama.cpp's llama-tokenize prints them, or only the list of ids, so
 * tokenization can be checked against other tools.
 *
 * MODEL may be a GGUF file (vocabulary-only ones too: only the
 * tokenizer.ggml.* keys are read), a Hugging Face folder or tokenizer.json,
 * or a llama2.c checkpoint with its tokenizer.  Special pieces written in
 * the text are tokenized as text (llama-tokenize --no-parse-special). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/modelio.h"
#include "text/text.h"
#include "util/util.h"

#define GGUF_MAGIC_LE 0x46554747u   /* "GGUF" */

static void tokenize_usage(FILE *f)
{
	fprintf(f, "usage: prunebench tokenize MODEL (--text T | --file F) [--bos] [--ids-only]\n"
		"                           [--tokenizer FILE] [--tokenizer-pre NAME]\n"
		"\n"
		"  MODEL               a GGUF file (vocabulary-only too), a Hugging Face folder or its\n"
		"                      tokenizer.json, a llama2.c .bin, or synth:PRESET\n"
		"  --text T            the text to tokenize\n"
		"  --file F            tokenize the contents of F instead\n"
		"  --bos               prepend the vocabulary's BOS token\n"
		"  --ids-only          print only the ids, as [1, 2, 3]\n"
		"  --tokenizer FILE    use this tokenizer.json or llama2.c tokenizer .bin instead\n"
		"  --tokenizer-pre N   force a GGUF vocabulary's pre-tokenizer (tokenizer.ggml.pre):\n"
		"                      %s\n", pb_tokenizer_pre_names());
}

static int is_gguf(const char *path)
{
	uint32_t magic = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t got = fread(&magic, 1, 4, f);
	fclose(f);
	return got == 4 && magic == GGUF_MAGIC_LE;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* The tokenizer MODEL names; *m holds the model it came with, if any. */
static int load_tokenizer(const char *model, const char *tok_path, const char *pre,
			  struct pb_model **m, struct pb_tokenizer **own,
			  const struct pb_tokenizer **t, char *err, size_t len)
{
	int rc;
	if (!tok_path && is_gguf(model)) {
		rc = pb_gguf_tokenizer_load(model, pre, own, err, len);
		*t = *own;
	} else if (!tok_path && ends_with(model, ".json") && !ends_with(model, "config.json") &&
		   !ends_with(model, ".index.json")) {
		rc = pb_tokenizer_load_json(model, own, err, len);
		*t = *own;
	} else {
		if (!strncmp(model, "synth:", 6))
			rc = pb_model_synth(model + 6, 0, m, err, len);
		else
			rc = pb_model_load_pre(model, tok_path, pre, m, err, len);
		*t = rc < 0 ? NULL : pb_model_tokenizer(*m);
	}
	return rc;
}

/* The piece's text as llama-tokenize shows it: special pieces as written,
 * others decoded (a byte of a longer UTF-8 character as \xNN). */
static void print_piece(const struct pb_tokenizer *t, int32_t id)
{
	int type = pb_tokenizer_type(t, id);
	char buf[1024] = "x";   /* not the text's start: keep a prefix space */
	const char *s = buf + 1;
	if (type == PB_TOKEN_CONTROL || type == PB_TOKEN_USER_DEFINED || type == PB_TOKEN_UNKNOWN ||
	    type == PB_TOKEN_UNUSED)
		s = pb_tokenizer_piece(t, id);
	else if (pb_detokenize(t, id, buf, sizeof buf) < 0)
		s = pb_tokenizer_piece(t, id);
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t l = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
		int ok = l && i + l <= n;
		for (size_t k = 1; ok && k < l; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (!ok) {
			printf("\\x%02x", c);
			i++;
		} else {
			fwrite(s + i, 1, l, stdout);
			i += l;
		}
	}
}

int pb_cmd_tokenize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "text", required_argument, NULL, 't' },
		{ "file", required_argument, NULL, 'f' },
		{ "bos", no_argument, NULL, 'b' },
		{ "ids-only", no_argument, NULL, 'i' },
		{ "tokenizer", required_argument, NULL, 'T' },
		{ "tokenizer-pre", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *text = NULL, *file = NULL, *tok_path = NULL, *pre = NULL;
	int bos = 0, ids_only = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': text = optarg; break;
		case 'f': file = optarg; break;
		case 'b': bos = 1; break;
		case 'i': ids_only = 1; break;
		case 'T': tok_path = optarg; break;
		case 'P': pre = optarg; break;
		case 'h': tokenize_usage(stdout); return 0;
		default: tokenize_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !text == !file) {
		fprintf(stderr, "prunebench tokenize: expected one MODEL and one of --text or --file\n");
		tokenize_usage(stderr);
		return 2;
	}
	char err[1024], *owned_text = NULL;
	size_t text_len = 0;
	if (file) {
		int rc = pb_read_file(file, &owned_text, &text_len);
		if (rc < 0) {
			fprintf(stderr, "prunebench tokenize: %s: %s\n", file, strerror(-rc));
			return 1;
		}
		if (memchr(owned_text, '\0', text_len)) {
			fprintf(stderr, "prunebench tokenize: %s: holds a NUL byte, which a text cannot\n", file);
			free(owned_text);
			return 1;
		}
		text = owned_text;
	}
	struct pb_model *m = NULL;
	struct pb_tokenizer *own = NULL;
	const struct pb_tokenizer *t = NULL;
	int32_t *ids = NULL;
	int status = 1;
	if (load_tokenizer(argv[optind], tok_path, pre, &m, &own, &t, err, sizeof err) < 0) {
		fprintf(stderr, "prunebench tokenize: %s\n", err);
		goto out;
	}
	int n = pb_tokenize(t, text, bos, NULL, 0);
	if (n < 0 || !(ids = malloc(((size_t)n + 1) * sizeof *ids)) || pb_tokenize(t, text, bos, ids, n) != n) {
		fprintf(stderr, "prunebench tokenize: %s\n", strerror(n < 0 ? -n : ENOMEM));
		goto out;
	}
	if (ids_only) {
		putchar('[');
		for (int i = 0; i < n; i++)
			printf("%s%d", i ? ", " : "", ids[i]);
		printf("]\n");
	} else {
		for (int i = 0; i < n; i++) {
			printf("%6d -> '", ids[i]);
			print_piece(t, ids[i]);
			printf("'\n");
		}
	}
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	free(ids);
	pb_tokenizer_free(own);
	pb_model_free(m);
	free(owned_text);
	return status;
}

/* core/text/tok-pre.c — llama.cpp's pre-tokenizers for GGUF "gpt2"
 * vocabularies, chosen by tokenizer.ggml.pre: each is a list of split
 * regexes applied one after the other, every one splitting the pieces of
 * the one before and keeping both its matches and the text between them
 * (Hugging Face's Split with "Isolated"), then the GPT-2 byte-to-unicode
 * mapping before the merges.
 *
 * The regexes are llama.cpp's (src/llama-vocab.cpp, llm_tokenizer_bpe), in
 * the form the model's tokenizer.json writes them where llama.cpp rewrote
 * one for std::regex (Llama 3's and Qwen2's case-insensitive contractions,
 * Tekken's \p{Lu}/\p{Ll} classes): PCRE2 reads the originals.  Code
 * points past ASCII are written \x{...}, so no editor's or tool's Unicode
 * normalization can change a class (DeepSeek's holds U+1F7D, U+2126 and
 * U+212A, which NFC turns into other letters).  An unknown
 * name is an error, never a fallback: the caller may force one by name. */
#include <errno.h>
#include <string.h>

#include "text/tok-internal.h"
#include "util/util.h"

#define GPT2 TOK_GPT2_REGEX
/* GPT-2's without its final "|\s+": a whitespace run the other branches
 * leave is a piece of its own all the same, so the two split alike */
#define GPT2_NOWS "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"

struct pre_kind {
	const char *name;           /* the one written on export */
	const char *names;          /* the tokenizer.ggml.pre values, '|'-separated */
	const char *regex[6];
	int ignore_merges;          /* a word that is a piece is not merged (Llama 3, Tekken) */
	int add_bos;                /* BOS by default when the file does not say (llama.cpp) */
};

static const struct pre_kind kinds[] = {
	{ .name = "default", .names = "default",
	  .regex = { "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_NOWS, "\\p{N}+", "[0-9][0-9][0-9]" } },
	{ .name = "llama-bpe", .names = "llama-bpe|llama3|llama-v3|falcon3",
	  .regex = { LLAMA3 },
	  .ignore_merges = 1, .add_bos = 1 },
	{ .name = "dbrx", .names = "dbrx|smaug-bpe|chatglm-bpe", .regex = { LLAMA3 } },
	{ .name = "qwen2", .names = "qwen2|stablelm2|megrez", .regex = { QWEN2 } },
	{ .name = "gpt-2", .names = "gpt-2|gpt2|mpt|olmo|jais|phi-2|roberta-bpe|gigachat|jina-es|jina-de|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code",
	  .regex = { GPT2_NOWS } },
	{ .name = "starcoder", .names = "starcoder|refact|smollm|command-r|codeshell|exaone|minerva-7b",
	  .regex = { "\\p{N}", GPT2_NOWS } },
	{ .name = "falcon", .names = "falcon",
	  .regex = { "[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_NOWS, "[0-9][0-9][0-9]" } },
	{ .name = "deepseek-llm", .names = "deepseek-llm",
	  .regex = { "[\r\n]",
	    "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}"
	    "\\x{1c4}-\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}"
	    "\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-"
	    "\\x{481}\\x{48a}-\\x{52f}\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}"
	    "\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-"
	    "\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}"
	    "\\x{1f48}-\\x{1f4d}\\x{1f50}-\\x{1f57}\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}"
	    "\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-\\x{1fc4}\\x{1fc6}-\\x{1fcc}"
	    "\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-\\x{1ff4}\\x{1ff6}-"
	    "\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}"
	    "\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}"
	    "\\x{2145}-\\x{2149}\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}"
	    "\\x{2ceb}-\\x{2cee}\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-"
	    "\\x{a76f}\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}"
	    "\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}\\x{104b0}"
	    "-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-"
	    "\\x{118df}\\x{1e900}-\\x{1e943}]+",
	    "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
	    "\\s+$",
	    "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+",
	    "\\p{N}+" } },
	{ .name = "deepseek-coder", .names = "deepseek-coder",
	  .regex = { "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+", "\\p{N}" } },
	{ .name = "deepseek-v3", .names = "deepseek-v3",
	  .regex = { "\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
	    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+" } },
	{ .name = "poro-chat", .names = "poro-chat|bloom|gpt3-finnish", .regex = { PORO } },
	{ .name = "viking", .names = "viking", .regex = { PORO, "\\p{N}" } },
	{ .name = "tekken", .names = "tekken",
	  .regex = { "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
	    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
	    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
	  .ignore_merges = 1, .add_bos = 1 },
};

static int name_in(const char *names, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = names; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !memcmp(p, name, n))
			return 1;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

const char *tok_pre_gguf_name_of(const struct pb_tokenizer *t)
{
	int n = t->n_pre - 1;
	if (n < 0 || t->pre[n].op != PRE_BYTELEVEL || t->pre[n].add_prefix_space)
		return NULL;
	const char *pat[8];
	for (int i = 0; i < n; i++) {
		const struct tok_pre *p = &t->pre[i];
		if (p->op != PRE_SPLIT || p->behavior != SPLIT_ISOLATED || p->invert || !p->pattern)
			return NULL;
		pat[i] = p->pattern;
	}
	if (t->pre[n].use_regex) {   /* GPT-2's regex inside the ByteLevel */
		if (n == 0)
			return "gpt-2";
		return n == 1 && !strcmp(pat[0], "\\p{N}") ? "smollm" : NULL;
	}
	for (size_t i = 0; i < PB_ARRAY_LEN(kinds); i++) {
		int same = 1, m = 0;
		for (; m < 6 && kinds[i].regex[m]; m++)
			same = same && m < n && !strcmp(kinds[i].regex[m], pat[m]);
		if (same && m == n)
			return kinds[i].name;
	}
	return NULL;
}

const char *tok_pre_gguf_names(void)
{
	return "llama-bpe (llama3, llama-v3, falcon3), qwen2 (stablelm2, megrez), smollm, gpt-2 (mpt, olmo, "
	       "jais, phi-2, roberta-bpe, gigachat, jina-*), starcoder (refact, command-r, codeshell, exaone, "
	       "minerva-7b), falcon, deepseek-llm, deepseek-coder, deepseek-v3, dbrx, smaug-bpe, chatglm-bpe, "
	       "poro-chat, bloom, gpt3-finnish, viking, tekken, default";
}

int tok_pre_gguf(struct pb_tokenizer *t, const char *pre, char *err, size_t len)
{
	const struct pre_kind *k = NULL;
	if (!pre || !*pre) {
		pb_log(PB_LOG_WARN, "vocabulary: no tokenizer.ggml.pre: using llama.cpp's 'default' "
		       "pre-tokenizer, as llama.cpp does (ids may differ from the model's own tokenizer)");
		pre = "default";
	}
	for (size_t i = 0; i < PB_ARRAY_LEN(kinds) && !k; i++)
		if (name_in(kinds[i].names, pre))
			k = &kinds[i];
	if (!k)
		return pb_errf(err, len, -ENOTSUP,
			       "pre-tokenizer '%s' is not known (known: %s); to force one, set the model's "
			       "tokenizer_pre (or --tokenizer-pre) to one of them", pre, tok_pre_gguf_names());
	t->n_pre = 0;
	for (int i = 0; i < 6 && k->regex[i]; i++) {
		struct tok_pre *p = &t->pre[t->n_pre];
		*p = (struct tok_pre){ .op = PRE_SPLIT, .behavior = SPLIT_ISOLATED };
		int rc = tok_regex_compile(k->regex[i], &p->re, err, len);
		if (rc < 0)
			return rc;
		t->n_pre++;
		if (!(p->pattern = strdup(k->regex[i])))
			return pb_errf(err, len, -ENOMEM, "out of memory");
	}
	t->pre[t->n_pre++] = (struct tok_pre){ .op = PRE_BYTELEVEL };
	t->ignore_merges = k->ignore_merges;
	t->add_bos |= k->add_bos;   /* the file's add_bos_token key decides after this */
	return 0;
}

const char *pb_tokenizer_pre_names(void)
{
	return tok_pre_gguf_names();
}

int pb_tokenizer_pre_known(const char *name)
{
	for (size_t i = 0; name && i < PB_ARRAY_LEN(kinds); i++)
		if (name_in(kinds[i].names, name))
			return 1;
	return 0;
}

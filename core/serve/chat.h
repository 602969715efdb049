/* core/serve/chat.h — chat messages → prompt token ids, through a built-in
 * template per model family.  The GGUF tokenizer.chat_template (Jinja) is
 * never executed: the family is recognised by the special pieces its
 * vocabulary holds, or named (`serve --chat-template`).
 *
 *   llama3  <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|> ...
 *           <|start_header_id|>assistant<|end_header_id|>\n\n   (content trimmed)
 *   chatml  <|im_start|>ROLE\nCONTENT<|im_end|>\n ... <|im_start|>assistant\n
 *           (Qwen, SmolLM2; no default system message is added)
 *   gemma   <start_of_turn>ROLE\nCONTENT<end_of_turn>\n ... <start_of_turn>model\n
 *           (assistant is "model"; a system message is put before the
 *           first user message's text, with a blank line; content trimmed)
 *   phi3    <|ROLE|>\nCONTENT<|end|>\n ... <|assistant|>\n
 *   plain   the contents joined by "\n", roles dropped (llama2.c, synthetic
 *           models): one user message is exactly a completion of its text
 *
 * The pieces written <|...|> / <..._of_turn> above are single special
 * tokens (looked up in the vocabulary; text when absent); the text between
 * them is tokenized apart, each stretch on its own, as llama.cpp does with
 * parse_special.  BOS goes first when the vocabulary asks for it
 * (pb_tokenizer_add_bos).  Generation ends at the template's end-of-turn
 * token as at EOS. */
#ifndef PB_SERVE_CHAT_H
#define PB_SERVE_CHAT_H

#include <stddef.h>
#include <stdint.h>

struct pb_tokenizer;

enum pb_chat_kind {
	PB_CHAT_PLAIN = 0,
	PB_CHAT_LLAMA3,
	PB_CHAT_CHATML,
	PB_CHAT_GEMMA,
	PB_CHAT_PHI3,
};

/* roles: "system" (or "developer"), "user", "assistant"; borrowed */
struct pb_chat_msg {
	const char *role;
	const char *content;
};

const char *pb_chat_name(enum pb_chat_kind k);
/* -EINVAL for an unknown name. */
int pb_chat_kind_of_name(const char *name);
/* The family whose special pieces tok holds (PB_CHAT_PLAIN when none). */
enum pb_chat_kind pb_chat_detect(const struct pb_tokenizer *tok);

/* A template bound to a vocabulary: its special pieces looked up once.
 * tok is borrowed and must outlive it. */
struct pb_chat {
	enum pb_chat_kind kind;
	const struct pb_tokenizer *tok;
	int32_t special_id[6];   /* the kind's special pieces in tok, -1: written as text */
	int32_t end_id;          /* the end-of-turn token, or -1 */
};

void pb_chat_bind(struct pb_chat *c, enum pb_chat_kind k, const struct pb_tokenizer *tok);

/* The prompt as text (special tokens written out): malloc'd, NULL on
 * ENOMEM. */
char *pb_chat_render(const struct pb_chat *c, const struct pb_chat_msg *msgs, int n);
/* The prompt as token ids (*ids malloc'd); 0 or -errno. */
int pb_chat_tokenize(const struct pb_chat *c, const struct pb_chat_msg *msgs, int n,
		     int32_t **ids, int *n_ids);

#endif

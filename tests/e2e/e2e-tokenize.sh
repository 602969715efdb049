#!/usr/bin/env bash
# End to end: `prunebench tokenize` prints a model's token ids and pieces
# as llama-tokenize does (a llama2.c checkpoint, a synthetic GGUF and, with
# ../shared, llama.cpp's vocabulary-only GGUF files); an unknown
# pre-tokenizer is refused by name, in the CLI and in an experiment.
. "$(dirname "$0")/lib.sh"
need_s260k
L2C="$S260K"

out=$("$PB" tokenize "$L2C" --text "Once upon a time" 2>&1); rc=$?
expect_eq "llama2.c: exit 0" 0 "$rc"
expect_eq "llama2.c: id -> 'piece' lines" "$(printf "   403 -> ' Once'\n   407 -> ' upon'\n   261 -> ' a'\n   378 -> ' time'")" "$out"
out=$("$PB" tokenize "$L2C" --text "Once upon a time" --bos --ids-only 2>&1)
expect_eq "llama2.c: --bos --ids-only" "[1, 403, 407, 261, 378]" "$out"
printf 'Once upon a time' > "$T/text.txt"
out=$("$PB" tokenize "$L2C" --file "$T/text.txt" --ids-only 2>&1)
expect_eq "--file: the same ids" "[403, 407, 261, 378]" "$out"

"$PB" -q synth --preset llama-15m -o "$T/m.gguf" > /dev/null 2>&1 || fail "synth for the GGUF case"
out=$("$PB" tokenize "$T/m.gguf" --text "Hi" --bos 2>&1)
expect_eq "synthetic GGUF: BOS and byte pieces" "$(printf "     1 -> '<s>'\n    75 -> 'H'\n   108 -> 'i'")" "$out"

out=$("$PB" generate "$T/m.gguf" --tokenizer-pre gpt-3 -n 1 2>&1); rc=$?
expect_eq "generate --tokenizer-pre unknown: exit 1" 1 "$rc"
expect_contains "generate --tokenizer-pre unknown: named" "$out" "forced pre-tokenizer 'gpt-3' is not known"
out=$("$PB" convert "$T/m.gguf" "$T/m2.gguf" --tokenizer-pre gpt-3 2>&1); rc=$?
expect_eq "convert --tokenizer-pre unknown: exit 1" 1 "$rc"

out=$("$PB" tokenize "$L2C" 2>&1); rc=$?
expect_eq "no text: usage error" 2 "$rc"
out=$("$PB" tokenize "$L2C" --text a --file "$T/text.txt" 2>&1); rc=$?
expect_eq "both --text and --file: usage error" 2 "$rc"
out=$("$PB" tokenize "$T/none.gguf" --text a 2>&1); rc=$?
expect_eq "missing model: exit 1" 1 "$rc"
expect_contains "missing model: named" "$out" "none.gguf"

# an experiment's tokenizer_pre is checked by name, at its position
cat > "$T/pre.yaml" <<YAML
name: p
output: $T/out
models:
  m: {path: m.gguf, tokenizer_pre: gpt-3}
datasets:
  p: {path: text.txt}
backends:
  ref: {}
YAML
out=$("$PB" validate "$T/pre.yaml" 2>&1); rc=$?
expect_eq "unknown tokenizer_pre: validate refuses" 1 "$rc"
expect_contains "unknown tokenizer_pre: position and name" "$out" "pre.yaml:4:36: model 'm': tokenizer_pre: unknown pre-tokenizer 'gpt-3'"
sed -i 's/tokenizer_pre: gpt-3/tokenizer_pre: gpt-2/' "$T/pre.yaml"
out=$("$PB" validate "$T/pre.yaml" 2>&1); rc=$?
expect_eq "known tokenizer_pre: validate accepts" 0 "$rc"

V="${PB_SHARED:-$SRC/../shared}/tokenizers/llama.cpp-vocab"
if [ -r "$V/ggml-vocab-gpt-2.gguf" ]; then
	out=$("$PB" tokenize "$V/ggml-vocab-gpt-2.gguf" --text " Hello world" --ids-only 2>&1)
	expect_eq "vocabulary-only GGUF (gpt-2)" "[18435, 995]" "$out"
	out=$("$PB" tokenize "$V/ggml-vocab-llama-spm.gguf" --text " Hello world" 2>&1)
	expect_eq "vocabulary-only GGUF (llama-spm): the prefix space apart" "$(printf " 29871 -> ' '\n 15043 -> ' Hello'\n  3186 -> ' world'")" "$out"
	out=$("$PB" tokenize "$V/ggml-vocab-gpt-2.gguf" --text x --tokenizer-pre gpt-3 2>&1); rc=$?
	expect_eq "unknown --tokenizer-pre: exit 1" 1 "$rc"
	expect_contains "unknown --tokenizer-pre: named" "$out" "pre-tokenizer 'gpt-3' is not known"
else
	echo "skip: no $V (llama.cpp vocabularies)"
fi
finish

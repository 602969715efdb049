#!/usr/bin/env bash
# End to end: the dataset options `protocol`, `bos` and `separator` are
# refused with file:line:col when their value is unknown or they do not
# fit the dataset (a protocol for another kind, bos or stride outside
# protocol hf, records on text without a separator); valid combinations
# pass `validate`.
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"
write_prompts
printf 'one story\n<|endoftext|>\nanother\n' > "$T/data/t.raw"
printf '{"prompt": "a"}\n' > "$T/data/q.jsonl"
exp() { # dataset line
cat <<YAML
name: v
output: $T/out
models:
  m: {synth: llama-15m}
datasets:
  d: $1
backends:
  ref: {}
YAML
}
bad() { # what dataset-flow-map expected-position expected-text
	exp "$2" > "$T/e.yaml"
	out=$("$PB" validate "$T/e.yaml" 2>&1); rc=$?
	expect_eq "$1: refused" 1 "$rc"
	expect_contains "$1: position" "$out" "e.yaml:$3"
	expect_contains "$1: message" "$out" "$4"
}
good() {
	exp "$2" > "$T/e.yaml"
	out=$("$PB" validate "$T/e.yaml" 2>&1); rc=$?
	expect_eq "$1: accepted ($out)" 0 "$rc"
}
# column of the value in "  d: {path: data/t.raw, protocol: X}"
bad "unknown protocol" "{path: data/t.raw, protocol: llamacpp}" "6:35" "did you mean 'llama.cpp'"
bad "unknown bos" "{path: data/t.raw, bos: twice}" "6:30" "'bos' is once or window"
bad "hf on jsonl" "{path: data/q.jsonl, protocol: hf}" "6:37" "applies only to text datasets"
bad "records without separator" "{path: data/t.raw, protocol: records}" "6:35" "needs 'separator'"
bad "separator with hf" "{path: data/t.raw, protocol: hf, separator: x}" "6:50" "only 'protocol: records'"
bad "bos with llama.cpp" "{path: data/t.raw, protocol: llama.cpp, bos: once}" "6:46" "'bos' applies only to protocol hf"
bad "bos with a separator" "{path: data/t.raw, separator: '<|endoftext|>', bos: window}" "6:" "'bos' applies only to protocol hf"
bad "stride with llama.cpp" "{path: data/t.raw, protocol: llama.cpp, stride: 4}" "6:46" "'stride' applies only to protocol hf"
bad "separator on jsonl" "{path: data/q.jsonl, separator: x}" "6:27" "applies only to text datasets"
bad "empty separator" "{path: data/t.raw, separator: ''}" "6:" "must not be empty"
good "hf bos window" "{path: data/t.raw, ctx: 32, stride: 16, bos: window}"
good "llama.cpp" "{path: data/t.raw, ctx: 32, protocol: llama.cpp}"
good "records by separator" "{path: data/t.raw, separator: '<|endoftext|>'}"
good "records on jsonl" "{path: data/q.jsonl, protocol: records}"
bad "ctx on jsonl" "{path: data/q.jsonl, ctx: 16}" "6:27" "'ctx' applies only to text datasets"
finish

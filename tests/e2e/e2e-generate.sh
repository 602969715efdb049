#!/usr/bin/env bash
# End to end: `prunebench generate` as a timing tool (issue 17): the text
# does not depend on threads, warm-up or repeats; --repeat prints one
# summary line with prefill and decode tok/s (median, min-max); backend
# options by -o and --threads, refused by name when the backend lacks
# them; --ctx bounded by the model's positions; --prompt-tokens and
# --ignore-eos give fixed prompt and output lengths (bench/vs-llama.sh).
. "$(dirname "$0")/lib.sh"
need_s260k
L2C="$S260K"

one=$("$PB" -q generate "$L2C" --backend cpu-blas -n 24 2> "$T/one.err"); rc=$?
expect_eq "cpu-blas: exit 0" 0 "$rc"
rep=$("$PB" -q generate "$L2C" --backend cpu-blas -n 24 --threads 2 --warmup 1 --repeat 3 2> "$T/rep.err"); rc=$?
expect_eq "--threads 2 --warmup 1 --repeat 3: exit 0" 0 "$rc"
expect_eq "the text is printed once, the same" "$one" "$rep"
sum=$(grep '^summary:' "$T/rep.err")
expect_contains "a summary line" "$sum" "summary: cpu-blas on stories260K, 3 runs after 1 warm-up: prefill "
echo "$sum" | grep -Eq 'prefill [0-9.]+ tok/s \([0-9.]+-[0-9.]+, [0-9]+ %\), decode [0-9.]+ tok/s \([0-9.]+-[0-9.]+, [0-9]+ %\)$' \
	&& ok "summary: median (min-max, spread) for prefill and decode" || fail "summary format: $sum"
grep -q '^summary:' "$T/one.err" && fail "a single run prints no summary" || ok "a single run prints no summary"
opt=$("$PB" -q generate "$L2C" --backend cpu-blas -n 24 -o threads=2 -o int8_act=false 2>/dev/null)
expect_eq "-o options: the same text" "$one" "$opt"

fixed=$("$PB" -q generate "$L2C" --backend cpu-blas --prompt-tokens 40 -n 30 --ignore-eos 2>&1 >/dev/null); rc=$?
expect_eq "--prompt-tokens 40 -n 30 --ignore-eos: exit 0" 0 "$rc"
expect_contains "a prompt of exactly 40 token ids" "$fixed" "prompt tokens   40"
expect_contains "all 30 tokens, EOS or not" "$fixed" "output tokens   30"
out=$("$PB" -q generate "$L2C" --backend ref --threads 2 2>&1); rc=$?
expect_eq "ref has no threads option: exit 2" 2 "$rc"
expect_contains "it says so" "$out" "backend 'ref' has no option 'threads'"
out=$("$PB" -q generate "$L2C" --backend cpu-blas -o thread=2 2>&1); rc=$?
expect_eq "a misspelt option: exit 2" 2 "$rc"
expect_contains "with a suggestion" "$out" "has no option 'thread' (did you mean 'threads'?)"
out=$("$PB" -q generate "$L2C" --repeat 0 2>&1); rc=$?
expect_eq "--repeat 0: exit 2" 2 "$rc"
out=$("$PB" -q generate "$L2C" --ctx 100000 2>&1); rc=$?
expect_eq "--ctx past the trained context: exit 2" 2 "$rc"
expect_contains "it names the bound" "$out" "expected 1 to the 512 positions the model was trained for"
finish

#!/usr/bin/env bash
# End to end: experiments/edge-models.yaml (tiny Llama 3 / Qwen2 / Qwen3 /
# Gemma 2 / Gemma 3 / Phi-3 × dense and Wanda 50 % on cpu-blas) validates, runs every cell to done in
# well under a minute, and the wanda cells report half their linears zero;
# chains that cannot apply to a family (heads on T5, layers on Gemma) say
# why at validate.
. "$(dirname "$0")/lib.sh"
EXP="$SRC/experiments/edge-models.yaml"

out=$("$PB" validate "$EXP" 2>&1); rc=$?
expect_eq "validate exits 0" 0 "$rc"
expect_contains "validate lists 12 cells" "$out" "12 cells"

start=$(date +%s)
(cd "$SRC/experiments" && "$PB" run --progress plain "$EXP" -o "$T/out") > "$T/run.out" 2> "$T/run.err"; rc=$?
secs=$(( $(date +%s) - start ))
expect_eq "run exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || { cat "$T/run.err"; tail -n 20 "$T"/out/cells/*/run.log 2>/dev/null; }
expect_eq "summary has 12 rows" 12 "$("$CSV" "$T/out/summary.csv" rows)"
for m in tiny-llama3 tiny-qwen2 tiny-qwen3 tiny-gemma2 tiny-gemma3 tiny-phi3; do
	n=$(grep -l "status: done" "$T"/out/cells/"$m".*/manifest.yaml 2>/dev/null | wc -l)
	expect_eq "$m: two cells done" 2 "$n"
done
expect_eq "every cell done" "done" "$("$CSV" "$T/out/summary.csv" column status | sort -u | tr -d '\n')"
expect_eq "dense and wanda cells: sparsity 0 and 0.5" "0 0.5 " \
	"$("$CSV" "$T/out/summary.csv" column sparsity_target | sort -u | tr '\n' ' ')"
if [ "$secs" -le 60 ]; then ok "ran in ${secs}s"; else fail "took ${secs}s (expected under a minute)"; fi

# heads pruning on T5 and on a qwen2 are told apart at validate
cat > "$T/bad.yaml" <<YAML
name: bad
output: $T/bad
models:
  t5: {synth: t5-small}
  q: {synth: tiny-qwen2}
datasets:
  p: {path: $SRC/experiments/data/prompts.txt}
pruners:
  heads: [{heads: {ratio: 0.25}}]
backends:
  ref: {}
YAML
out=$("$PB" validate "$T/bad.yaml" 2>&1); rc=$?
expect_eq "validate refuses heads on t5" 1 "$rc"
expect_contains "it names the architectures heads supports" "$out" "does not support t5 models like 't5' (it supports llama, qwen2, qwen3, gemma2, gemma3, phi3)"

# dropping blocks of a Gemma is refused at validate: its windows follow the index
cat > "$T/gemma.yaml" <<YAML
name: g
output: $T/g
models:
  g: {synth: tiny-gemma2}
datasets:
  p: {path: $SRC/experiments/data/prompts.txt}
pruners:
  layers: [{layers: {indices: "1"}}]
backends:
  ref: {}
YAML
out=$("$PB" validate "$T/gemma.yaml" 2>&1); rc=$?
expect_eq "validate refuses layers on gemma2" 1 "$rc"
expect_contains "it says which it supports" "$out" "does not support gemma2 models like 'g' (it supports llama, qwen2, qwen3, phi3)"
finish

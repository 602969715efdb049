#!/usr/bin/env bash
# End to end: experiments/edge-models.yaml (tiny Llama 3 / Qwen2 / Qwen3 /
# Gemma 2 / Gemma 3 / Phi-3 × dense, Wanda 50 % and q4_k_m on cpu-blas) validates,
# runs every cell to done in well under a minute, the wanda cells report
# half their linears zero and the q4_k_m cells ran Q4_K and Q6_K linears
# (whole super-blocks, not llama-quantize's fallbacks);
# chains that cannot apply to a family (heads on T5, layers on Gemma) say
# why at validate.
. "$(dirname "$0")/lib.sh"
EXP="$SRC/experiments/edge-models.yaml"

out=$("$PB" validate "$EXP" 2>&1); rc=$?
expect_eq "validate exits 0" 0 "$rc"
expect_contains "validate lists 18 cells" "$out" "18 cells"

start=$(date +%s)
(cd "$SRC/experiments" && "$PB" run --progress plain "$EXP" -o "$T/out") > "$T/run.out" 2> "$T/run.err"; rc=$?
secs=$(( $(date +%s) - start ))
expect_eq "run exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || { cat "$T/run.err"; tail -n 20 "$T"/out/cells/*/run.log 2>/dev/null; }
expect_eq "summary has 18 rows" 18 "$("$CSV" "$T/out/summary.csv" rows)"
for m in tiny-llama3 tiny-qwen2 tiny-qwen3 tiny-gemma2 tiny-gemma3 tiny-phi3; do
	n=$(grep -l "status: done" "$T"/out/cells/"$m".*/manifest.yaml 2>/dev/null | wc -l)
	expect_eq "$m: three cells done" 3 "$n"
done
expect_eq "every cell done" "done" "$("$CSV" "$T/out/summary.csv" column status | sort -u | tr -d '\n')"
expect_eq "dense and wanda cells: sparsity 0 and 0.5" "0 0.5 " \
	"$("$CSV" "$T/out/summary.csv" column sparsity_target | sort -u | tr '\n' ' ')"
expect_eq "linear formats: F32 (dense, wanda), Q4_K+Q6_K (q4_k_m; phi3: q/k/v Q5_K, attn_qkv's rule)" "F32 Q4_K+Q6_K Q5_K+Q4_K+Q6_K " \
	"$("$CSV" "$T/out/summary.csv" column linear_formats | sort -u | tr '\n' ' ')"
for f in "$T"/out/cells/*.q4_k_m.*/tensors.csv; do
	# llama-quantize's use_more_bits: the last block's ffn_down (i ≥ 7n/8) Q6_K, block 0's Q4_K
	last=$(grep -c "ffn_down.weight" "$f")
	grep -q "^blk.$((last - 1)).ffn_down.weight,.*,Q6_K,Q6_K " "$f" || fail "$f: the last ffn_down is not Q6_K"
	grep -q "^blk.0.ffn_down.weight,.*,Q4_K,Q4_K " "$f" || fail "$f: blk.0.ffn_down is not Q4_K"
done
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

#!/usr/bin/env bash
# The size and sparsity columns of summary.csv (README "Metrics"), end to
# end on cpu-blas with the repository's trained stories260K:
#  - nm 2:4 runs packed (NM_2_4) and still counts its zeros:
#    sparsity_linears 0.5, sparsity_achieved 0.5, params_nonzero =
#    params_total − half the block linears;
#  - heads and ffn pruning shrink shapes: params_removed_pct > 0,
#    sparsity_linears 0;
#  - q8_0: bits_per_weight 8.5 on llama-15m (dense: 32);
#  - synthetic_weights and the manifest's model.synthetic: 1/true for a
#    synth: model, 0/false for a file;
#  - cpu-blas mask_mode runtime on 50 % magnitude: kernels say
#    +runtime-mask, text and accuracy as baked.
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
need_s260k
write_prompts
cat > "$T/x.yaml" <<YAML
name: columns
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 32
models:
  s260: {path: $S260K}
  synth: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  nm24: [{nm: {n: 2, m: 4}}]
  heads: [{heads: {ratio: 0.5}}]
  ffn: [{ffn: {ratio: 0.25}}]
  q8: [{quant: {type: q8_0}}]
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  cpu-blas: {threads: 1}
  rt: {plugin: cpu-blas, threads: 1, mask_mode: runtime}
exclude:
  - {model: synth, pruner: "mag"}
  - {backend: rt, pruner: "[dnhfq]*"}
  - {model: synth, pruner: "nm24"}
  - {model: synth, pruner: "heads"}
  - {model: synth, pruner: "ffn"}
YAML
"$PB" run --progress plain "$T/x.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -20 "$T/run.err"
S=$T/out/summary.csv
expect_eq "nine cells" 9 "$("$CSV" "$S" rows)"

row() { # model pruner [backend] -> row index
	local n; n=$("$CSV" "$S" rows)
	for ((r = 0; r < n; r++)); do
		if [ "$("$CSV" "$S" get $r model)" = "$1" ] && [ "$("$CSV" "$S" get $r pruner)" = "$2" ] &&
		   [ "$("$CSV" "$S" get $r backend)" = "${3:-cpu-blas}" ]; then
			echo $r; return; fi
	done
	echo -1
}
get() { "$CSV" "$S" get "$(row "$1" "$2")" "$3"; }
near() { # what value want tol
	awk -v v="$2" -v w="$3" -v t="$4" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= t) }' &&
		ok "$1 = $2" || fail "$1: '$2', want $3 ± $4"
}
cell() { ls -d "$T"/out/cells/"$1".p."$2".${3:-cpu-blas}-*; }
# the block linears' weights, from the dense cell's tensors.csv
lin=$(awk -F, 'NR > 1 && $3 ~ /^(attn_[qkvo]|ffn_(gate|up|down))$/ { s += $7 } END { print s }' \
	"$(cell s260 dense)/tensors.csv")

[ "${lin:-0}" -gt 0 ] && ok "stories260K block linears: $lin weights" || fail "no block linears in tensors.csv"

near "dense sparsity_linears" "$(get s260 dense sparsity_linears)" 0 1e-9
near "dense params_removed_pct" "$(get s260 dense params_removed_pct)" 0 1e-9
near "dense bits_per_weight" "$(get s260 dense bits_per_weight)" 32 1e-9

near "2:4 sparsity_linears" "$(get s260 nm24 sparsity_linears)" 0.5 1e-3
near "2:4 sparsity_achieved" "$(get s260 nm24 sparsity_achieved)" 0.5 1e-3
near "2:4 params_removed_pct" "$(get s260 nm24 params_removed_pct)" 0 1e-9
tot=$(get s260 nm24 params_total) nz=$(get s260 nm24 params_nonzero)
near "2:4 params_nonzero vs params_total − linears/2" "$nz" "$((tot - lin / 2))" "$((lin / 1000))"
grep -q ',NM_2_4,.*nm24' "$(cell s260 nm24)/tensors.csv" && ok "2:4 linears ran packed" ||
	fail "no NM_2_4 linear in tensors.csv"
awk -F, 'NR > 1 && $5 == "NM_2_4" && $10 * 2 > $8 { bad++ } END { exit bad > 0 }' \
	"$(cell s260 nm24)/tensors.csv" && ok "tensors.csv: NM_2_4 nonzero <= params/2" ||
	fail "tensors.csv counts a packed tensor's zeros wrong"

for p in heads ffn; do
	pr=$(get s260 $p params_removed_pct)
	awk -v v="$pr" 'BEGIN { exit !(v > 1 && v < 60) }' && ok "$p: params_removed_pct $pr" ||
		fail "$p: params_removed_pct '$pr', want > 1"
	near "$p sparsity_linears" "$(get s260 $p sparsity_linears)" 0 1e-3
done
# llama-15m's rows are whole Q8_0 blocks; stories260K's 172-wide FFN rows
# are not, so they stay F16 and its figure is between 8.5 and 16
near "q8_0 bits_per_weight" "$(get synth q8 bits_per_weight)" 8.5 1e-9
b=$(get s260 q8 bits_per_weight)
awk -v b="$b" 'BEGIN { exit !(b > 8.5 && b < 16) }' && ok "stories260K q8_0: $b bits (Q8_0 + F16)" ||
	fail "stories260K q8_0 bits_per_weight '$b'"

expect_eq "synth: synthetic_weights" 1 "$(get synth dense synthetic_weights)"
expect_eq "file: synthetic_weights" 0 "$(get s260 dense synthetic_weights)"
expect_contains "synth manifest" "$(cat "$(cell synth dense)/manifest.yaml")" "synthetic: true"
expect_contains "file manifest" "$(cat "$(cell s260 dense)/manifest.yaml")" "synthetic: false"

# mask_mode runtime through the CLI: the masked linears say so, and the
# cell's greedy text and accuracy equal baked's
n=$(grep -c '+runtime-mask' "$(cell s260 mag rt)/tensors.csv")
expect_eq "runtime: the 35 pruned linears ran masked" 35 "$n"
expect_eq "baked: none masked" 0 "$(grep -c '+runtime-mask' "$(cell s260 mag)/tensors.csv")"
"$CSV" "$(cell s260 mag)/requests.csv" column output_text > "$T/baked.txt"
"$CSV" "$(cell s260 mag rt)/requests.csv" column output_text > "$T/rt.txt"
cmp -s "$T/baked.txt" "$T/rt.txt" && ok "runtime: the same greedy text as baked" ||
	fail "runtime's text differs: $(diff "$T/baked.txt" "$T/rt.txt" | head -4)"
for c in kl_mean agreement_top1 sparsity_linears; do
	expect_eq "runtime: $c as baked" "$(get s260 mag $c)" "$("$CSV" "$S" get "$(row s260 mag rt)" $c)"
done
finish

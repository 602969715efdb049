#!/usr/bin/env bash
# End to end: accuracy columns are bit-identical whatever the thread count
# and however the cells are split.  stories260K (../shared) on the head of
# TinyStories, dense and magnitude 50 %, on cpu-blas with threads 1, 2 and
# 3: perplexity, perplexity_dense, agreement_top1, kl_mean, scored_tokens
# and perplexity_protocol are the same strings for every thread count; a
# 3-way --shard run + `prunebench merge`, and the cells run one by one
# with --cell in reverse order, give a summary.csv equal to one run's in
# every column but timings and host readings (tests/slurm/summary-diff).
# Skips (77) when ../shared is absent.
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"
DIFF=${PB_SUMMARY_DIFF:?}
SH=${PB_SHARED:?}
M=$SH/models/stories260K
D=$SH/data/tinystories-valid-head.txt
for f in "$M/stories260K.bin" "$M/tok512.bin" "$D"; do
	[ -r "$f" ] || { echo "SKIP: $f absent (shared test data)"; exit 77; }
done
cat > "$T/exp.yaml" <<YAML
name: acc-ident
seed: 5
output: $T/one
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 1024
models:
  s260: {path: $M/stories260K.bin, tokenizer: $M/tok512.bin}
datasets:
  ts: {path: $D, format: text, ctx: 128, stride: 64, max_samples: 3}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  cpu-blas: {threads: {sweep: [1, 2, 3]}}
YAML

"$PB" -q run "$T/exp.yaml" > "$T/one.out" 2>&1 || { tail -30 "$T/one.out"; fail "one run"; finish; }
S=$T/one/summary.csv
expect_eq "6 cells" 6 "$("$CSV" "$S" rows)"
cols="perplexity perplexity_dense agreement_top1 kl_mean scored_tokens perplexity_protocol"
for pr in dense mag; do
	first=""
	for r in 0 1 2 3 4 5; do
		[ "$("$CSV" "$S" get $r pruner)" = "$pr" ] || continue
		v=""
		for c in $cols; do v="$v $c=$("$CSV" "$S" get $r "$c")"; done
		if [ -z "$first" ]; then
			first=$v
			echo "$pr:$v"
		else
			expect_eq "$pr: accuracy columns equal for $("$CSV" "$S" get $r backend)" "$first" "$v"
		fi
	done
	case $first in
	*"perplexity= "*|*"kl_mean= "*) fail "$pr: empty accuracy column:$first" ;;
	*"perplexity_protocol=hf-strided"*) ok "$pr: protocol hf-strided" ;;
	*) fail "$pr: protocol not hf-strided:$first" ;;
	esac
done

for i in 0 1 2; do
	"$PB" -q run --shard $i/3 "$T/exp.yaml" -o "$T/shard" > "$T/shard$i.out" 2>&1 ||
		{ tail -20 "$T/shard$i.out"; fail "shard $i/3"; }
done
"$PB" merge "$T/shard" > /dev/null 2>&1 || fail "merge"
d=$("$DIFF" "$S" "$T/shard/summary.csv"); rc=$?
expect_eq "3 shards + merge equal one run ($d)" 0 "$rc"

"$PB" cells "$T/exp.yaml" > "$T/ids" 2>/dev/null || fail "cells"
ids=$(awk 'NF == 2 { print $2 }' "$T/ids" | tac)
expect_eq "6 cell ids listed" 6 "$(printf '%s\n' $ids | wc -l)"
for id in $ids; do
	"$PB" -q run --cell "$id" "$T/exp.yaml" -o "$T/rev" > /dev/null 2>&1 || fail "--cell $id"
done
"$PB" merge "$T/rev" > /dev/null 2>&1 || fail "merge (reverse --cell)"
d=$("$DIFF" "$S" "$T/rev/summary.csv"); rc=$?
expect_eq "cells one by one in reverse order equal one run ($d)" 0 "$rc"
finish

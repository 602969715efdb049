#!/usr/bin/env bash
# End to end: accuracy across OpenBLAS core types stays within the bound
# the README states ("Bit-identical accuracy"; tests/slurm/summary-diff
# --cross-env): stories260K dense and magnitude 50 % on cpu-blas, run with
# the environment's own OPENBLAS_CORETYPE (left as it is) and with it set
# to Haswell, SkylakeX, Sandybridge and Prescott (the kernels this CPU and
# OpenBLAS build can run; a core type OpenBLAS does not know falls back to
# its own choice).  Within one core type the columns are equal byte for
# byte (two runs, threads 1 and 2).  Skips (77) when ../shared is absent.
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"
DIFF=${PB_SUMMARY_DIFF:?}
SH=${PB_SHARED:?}
M=$SH/models/stories260K
D=$SH/data/tinystories-valid-head.txt
for f in "$M/stories260K.bin" "$M/tok512.bin" "$D"; do
	[ -r "$f" ] || { echo "SKIP: $f absent (shared test data)"; exit 77; }
done
write_exp() { # output threads
cat <<YAML
name: acc-core
seed: 5
output: $1
repeat: 1
warmup: 0
max_new_tokens: 1
score_tokens: 1024
models:
  s260: {path: $M/stories260K.bin, tokenizer: $M/tok512.bin}
datasets:
  ts: {path: $D, format: text, ctx: 128, stride: 64, max_samples: 3}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  cpu-blas: {threads: $2}
YAML
}
write_exp "$T/env" 1 > "$T/env.yaml"
"$PB" -q run "$T/env.yaml" > "$T/env.out" 2>&1 || { tail -20 "$T/env.out"; fail "run (environment's core type)"; finish; }
echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}"
"$CSV" "$T/env/summary.csv" get 0 kl_mean > /dev/null || fail "no kl_mean"
for ct in Haswell SkylakeX Sandybridge Prescott; do
	for th in 1 2; do
		write_exp "$T/$ct$th" $th > "$T/$ct$th.yaml"
		OPENBLAS_CORETYPE=$ct "$PB" -q run "$T/$ct$th.yaml" > "$T/$ct$th.out" 2>&1 ||
			{ tail -20 "$T/$ct$th.out"; fail "run with OPENBLAS_CORETYPE=$ct"; continue; }
	done
	# the same core type, threads 1 vs 2: byte for byte (the cell ids differ
	# by the thread count, so compare the columns row by row)
	same=1
	for r in 0 1; do
		for c in perplexity kl_mean agreement_top1 scored_tokens; do
			a=$("$CSV" "$T/${ct}1/summary.csv" get $r $c); b=$("$CSV" "$T/${ct}2/summary.csv" get $r $c)
			[ "$a" = "$b" ] || { same=0; fail "$ct: $c '$a' (threads 1) vs '$b' (threads 2)"; }
		done
	done
	[ $same = 1 ] && ok "$ct: threads 1 and 2 byte for byte"
	for r in 0 1; do
		echo "$ct $("$CSV" "$T/${ct}1/summary.csv" get $r pruner): perplexity $("$CSV" "$T/${ct}1/summary.csv" get $r perplexity) kl_mean $("$CSV" "$T/${ct}1/summary.csv" get $r kl_mean) agreement $("$CSV" "$T/${ct}1/summary.csv" get $r agreement_top1)"
	done
	d=$("$DIFF" --cross-env "$T/env/summary.csv" "$T/${ct}1/summary.csv"); rc=$?
	expect_eq "$ct vs the environment's core type within the bound ($d)" 0 "$rc"
done
finish

#!/usr/bin/env bash
# bench/bench-probes.sh — what sampling costs: the same cell (synthetic
# llama-15m on the ref backend) with every probe at 10 ms (those not
# available here are left out by the cell, as always) and with no probes,
# RUNS runs each, interleaved so that drift hits both alike; prints the
# median decode tokens/s of each and their ratio.  A benchmark, not a
# test: it prints what this run measured and asserts nothing.
#   bench/bench-probes.sh [RUNS] [MAX_NEW_TOKENS] [THREADS]
# defaults: 5 64 1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
ntok=${2:-64}
threads=${3:-1}
pb=${PB:-build/prunebench}
csv=${CSV:-$(dirname "$pb")/tests/e2e/csvtool}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1 SLURM_CPUS_PER_TASK=$threads
printf 'Once upon a time there was a little robot\nThe sun rose over the quiet town and\n' \
	> "$out/prompts.txt"

experiment() { # name probes-yaml
	cat <<YAML
name: $1
seed: 1
output: $out/$1
repeat: 4
warmup: 1
max_new_tokens: $ntok
score_tokens: 0
models:
  m: {synth: llama-15m}
datasets:
  p: {path: prompts.txt}
pruners:
  dense: []
backends:
  ref: {}
probes: $2
YAML
}
experiment none "[]" > "$out/none.yaml"
experiment all "[{procstat: {interval_ms: 10}}, {rapl: {interval_ms: 10}},
  {thermal: {interval_ms: 10}}, {hwmon: {interval_ms: 10}}, {nvml: {interval_ms: 10}}]" \
	> "$out/all.yaml"

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: > "$out/none.txt"
: > "$out/all.txt"
for i in $(seq 1 "$runs"); do
	for kind in none all; do
		rm -rf "${out:?}/$kind"
		"$pb" -q run "$out/$kind.yaml" > /dev/null 2> "$out/$kind.err" ||
			{ cat "$out/$kind.err"; exit 1; }
		v=$("$csv" "$out/$kind/summary.csv" get 0 decode_tok_s_mean)
		echo "$v" >> "$out/$kind.txt"
		printf 'run %d %-4s decode %8.1f tok/s\n' "$i" "$kind" "$v"
	done
done
cell=$(ls "$out/all/cells" | head -1)
echo "probes running in the 'all' cell:"
awk '/^probes:/ { on = 1; next } on && /^[a-z]/ { exit } on && /name:|status:/' \
	"$out/all/cells/$cell/manifest.yaml" | paste - - | sed 's/^/  /'
n=$(median < "$out/none.txt")
a=$(median < "$out/all.txt")
awk -v n="$n" -v a="$a" -v r="$runs" -v k="$ntok" 'BEGIN {
	printf "median decode tok/s over %d runs (%d new tokens): no probes %.1f, all probes at 10 ms %.1f, ratio %.4f (%.2f %% slower)\n",
		r, k, n, a, a / n, 100 * (1 - a / n) }'

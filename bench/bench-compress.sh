#!/usr/bin/env bash
# bench/bench-compress.sh — time to compress a synthetic model at 50 % with
# each method (a benchmark, not a test: it prints figures and ratios
# measured in this run and asserts nothing).
#   bench/bench-compress.sh [PRESET] [NSAMPLES] [SEQLEN] [THREADS]
# defaults: llama-110m 32 128 2 (the compression issue's setting).
# Calibration text: ../shared/data/tinystories-valid-head.txt when present,
# else this repository's README (byte-level synthetic tokenizer: any text).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-llama-110m}
ns=${2:-32}
sl=${3:-128}
threads=${4:-2}
pb=${PB:-build/prunebench}
data=../shared/data/tinystories-valid-head.txt
[ -f "$data" ] || data=README.md
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1 SLURM_CPUS_PER_TASK=$threads

methods=(
	"magnitude sparsity=0.5"
	"random sparsity=0.5"
	"wanda sparsity=0.5"
	"sparsegpt sparsity=0.5"
	"nm n=2 m=4"
	"ffn ratio=0.5"
	"quant type=q8_0"
)
printf 'preset %s, calibration %s x %s tokens, %s threads, data %s\n' "$preset" "$ns" "$sl" "$threads" "$data"
printf '%-28s %12s %14s\n' method step_ms calibration_ms
declare -A ms
for m in "${methods[@]}"; do
	line=$("$pb" -q prune "synth:$preset" -p "$m" --data "$data" --nsamples "$ns" --seqlen "$sl" \
		-o "$out/m.gguf" 2>/dev/null | grep '^step 1')
	t=$(sed -E 's/.* ([0-9.]+) ms.*/\1/' <<<"${line%% (calibration*}")
	c=$(grep -oE 'calibration [0-9.]+' <<<"$line" | cut -d' ' -f2 || true)
	ms[${m%% *}]=$t
	printf '%-28s %12s %14s\n' "$m" "$t" "${c:--}"
done
awk -v s="${ms[sparsegpt]}" -v w="${ms[wanda]}" -v m="${ms[magnitude]}" 'BEGIN {
	printf "sparsegpt / wanda time: %.2f (target <= 10)\n", s / w
	printf "magnitude: %.0f ms (target < 1000)\n", m }'

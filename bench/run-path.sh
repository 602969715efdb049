#!/usr/bin/env bash
# bench/run-path.sh — is the run path as fast as the benchmark?  On the
# same GGUF files (a synthetic Llama, default llama-110m, written by
# `prunebench convert` in each format) it times, interleaved:
#   bench    build/bench/session on synth:PRESET converted in memory: the
#            model and loop of bench/tokens (one session, a warm-up prefill,
#            then a prefill of P tokens and D decode steps timed); Q8_0 and
#            Q4_0 with repack=true, as the cell's file-mapped linears are
#            repacked under the default `repack: auto`;
#   cell     a `prunebench run` cell on cpu-blas — what users see — with the
#            default probes on (procstat, thermal, rapl at their default
#            interval; those not available here are left out, as always);
#            one prompt of P tokens (BOS + P-1 bytes of the synthetic
#            byte vocabulary, the ids bench/tokens feeds), max_new_tokens
#            D+1, so D decode steps, warm-up 1;
#   bare     the same cell with `probes: []` (what the probes cost);
#   file     bench/session's loop on the GGUF file, loaded as the cell
#            loads it, backend option defaults (what the file costs);
#   generate `prunebench generate --warmup 1 --repeat RUNS` on the same
#            prompt and lengths, no probes (the run path minus the cell).
# The bench side's model is the GGUF's bytes but held as bench/tokens holds
# them (synthesised in memory); the paths read the file, as users do.
# Each invocation takes the median of RUNS (3) requests; ROUNDS (5) rounds,
# the order of the (format, threads, path) runs rotated per round; per
# (format, threads) the median over rounds, the spread (min–max) and the
# ratio path / bench for prefill and decode tok/s (decode excludes the
# first token everywhere: D steps after the prefill's token); "paired"
# is the median (and range) over rounds of each round's path / bench, the
# steadier figure on a host whose memory bandwidth drifts between rounds.
# A benchmark: prints, asserts nothing.
#   bench/run-path.sh [ROUNDS] [FORMATS] [THREADS...]
# defaults: 5 f32,q4_0 1 2.  Environment: PRESET (llama-110m), P (128),
# D (64), RUNS (3), PATHS (bench,cell,generate; also bare, file), PB (build/prunebench),
# SESSION (build/bench/session), KEEP=DIR keeps the models and results;
# REF (bench): the path the ratios divide by;
# PB0=OTHER/prunebench adds the path `cell0`, the same cell run by another
# build (before a change), in the same interleaved rounds.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$0")/.."
rounds=${1:-5}
formats=${2:-f32,q4_0}
shift $(($# > 2 ? 2 : $#))
threads=${*:-1 2}
preset=${PRESET:-llama-110m}
P=${P:-128}
D=${D:-64}
runs=${RUNS:-3}
paths=${PATHS:-bench,cell,generate${PB0:+,cell0}}
ref=${REF:-bench}
pb=${PB:-build/prunebench}
session=${SESSION:-$(dirname "$pb")/bench/session}
csv=${CSV:-$(dirname "$pb")/tests/e2e/csvtool}
pb=$(realpath "$pb")
if [ -n "${KEEP:-}" ]; then
	out=$KEEP
	mkdir -p "$out"
else
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
# 1-thread runs on one CPU (PIN=): bench/pin.sh
. "$bench_dir/pin.sh"

# no OPENBLAS_NUM_THREADS: timed as users run it (cpu-blas sets
# OpenBLAS to one thread itself)

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread3() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.2f-%.2f", lo, hi }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f-%.1f", lo, hi }'; }

# the prompt: P-1 bytes 'a'..'z' (the byte vocabulary's ids 100..125, as
# bench_run feeds) after the BOS the cell adds
awk -v n=$((P - 1)) 'BEGIN { s = ""; while (length(s) < n) s = s "abcdefghijklmnopqrstuvwxyz"; print substr(s, 1, n) }' \
	> "$out/prompt.txt"
IFS=, read -r -a fmts <<< "$formats"
for f in "${fmts[@]}"; do
	[ -s "$out/$preset-$f.gguf" ] ||
		"$pb" -q convert "synth:$preset" "$out/$preset-$f.gguf" --type "$f" --seed 1 > /dev/null
done

experiment() { # format threads probes
	cat <<YAML
name: run-path
seed: 1
output: $out/cell
repeat: $runs
warmup: 1
max_new_tokens: $((D + 1))
score_tokens: 0
models:
  m: {path: $out/$preset-$1.gguf}
datasets:
  p: {path: $out/prompt.txt}
pruners:
  dense: []
backends:
  cpu-blas: {threads: $2}
probes: [$3]
YAML
}

# one measurement: appends "prefill decode" to $out/res/PATH-FMT-THREADS
measure() { # path format threads
	local path=$1 f=$2 t=$3 model="$out/$preset-$2.gguf" line pre dec
	case $path in
	bench)
		# Q8_0/Q4_0: the cell repacks the file's linears (`repack: auto`
		# takes file-mapped tensors), the in-memory model only with
		# repack=true: the same kernels on both sides
		local opts=()
		case $f in q8_0 | q4_0) opts=(-o repack=true) ;; esac
		line=$(pinned "$t" "$session" "synth:$preset" -f "$f" -t "$t" -r "$runs" -p "$P" -d "$D" "${opts[@]}")
		pre=$(awk '{ print $3 }' <<< "$line")
		dec=$(awk '{ print $7 }' <<< "$line")
		;;
	file)
		# bench/session's loop on the GGUF file itself, loaded as the
		# cell loads it, with the backend's option defaults (repack:
		# auto repacks the file's Q8_0/Q4_0 linears)
		line=$(pinned "$t" "$session" "$model" -t "$t" -r "$runs" -p "$P" -d "$D")
		pre=$(awk '{ print $3 }' <<< "$line")
		dec=$(awk '{ print $7 }' <<< "$line")
		;;
	generate)
		line=$(pinned "$t" "$pb" -q generate "$model" --backend cpu-blas --threads "$t" --seed 1 \
			--prompt "$(cat "$out/prompt.txt")" -n $((D + 1)) --ignore-eos \
			--warmup 1 --repeat "$runs" 2>&1 >/dev/null | grep '^summary:')
		pre=$(sed 's/.*prefill \([0-9.]*\) tok.*/\1/' <<< "$line")
		dec=$(sed 's/.*decode \([0-9.]*\) tok.*/\1/' <<< "$line")
		;;
	cell | cell0 | bare)
		local bin=$pb probes="procstat, thermal, rapl"
		[ "$path" = cell0 ] && bin=$PB0
		[ "$path" = bare ] && probes=""
		experiment "$f" "$t" "$probes" > "$out/cell.yaml"
		rm -rf "${out:?}/cell"
		pinned "$t" "$bin" -q run "$out/cell.yaml" > /dev/null 2> "$out/cell.err" ||
			{ cat "$out/cell.err" >&2; exit 1; }
		local dir
		dir=$(ls -d "$out"/cell/cells/*/)
		pre=$("$csv" "$dir/requests.csv" column prefill_tok_s | median)
		dec=$("$csv" "$dir/requests.csv" column decode_tok_s | median)
		;;
	esac
	echo "$pre $dec" >> "$out/res/$path-$f-$t"
}

rm -rf "${out:?}/res"
mkdir -p "$out/res"
IFS=, read -r -a pths <<< "$paths"
jobs=()
for f in "${fmts[@]}"; do
	for t in $threads; do
		for p in "${pths[@]}"; do
			jobs+=("$p $f $t")
		done
	done
done
echo "$preset, prefill $P tokens, $D decode steps, median of $runs requests per run, $rounds rounds"
for r in $(seq 1 "$rounds"); do
	# rotate the order each round, so no path always runs first (or
	# right after a given other one)
	n=${#jobs[@]}
	for i in $(seq 0 $((n - 1))); do
		j=${jobs[$(((i + r - 1) % n))]}
		# shellcheck disable=SC2086
		measure $j
		printf 'round %d %-8s %-5s %s threads: prefill %8.1f decode %7.1f tok/s\n' "$r" $j \
			$(tail -1 "$out/res/${j// /-}")
	done
done

echo
printf '| format | threads | path | prefill tok/s | spread | × %s | paired × %s | decode tok/s | spread | × %s | paired × %s |\n' "$ref" "$ref" "$ref" "$ref"
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for f in "${fmts[@]}"; do
	for t in $threads; do
		bp=""
		bd=""
		if [ -s "$out/res/$ref-$f-$t" ]; then
			bp=$(awk '{ print $1 }' "$out/res/$ref-$f-$t" | median)
			bd=$(awk '{ print $2 }' "$out/res/$ref-$f-$t" | median)
		fi
		for p in "${pths[@]}"; do
			file="$out/res/$p-$f-$t"
			mp=$(awk '{ print $1 }' "$file" | median)
			md=$(awk '{ print $2 }' "$file" | median)
			sp=$(awk '{ print $1 }' "$file" | spread)
			sd=$(awk '{ print $2 }' "$file" | spread)
			# paired: round r's path over round r's bench (the same
			# minutes of the host's bandwidth), median and range over
			# rounds — steadier than the ratio of medians where the
			# host's speed drifts between rounds
			pp=""
			pd=""
			if [ -n "$bp" ]; then
				rp_=$(paste -d' ' "$out/res/$ref-$f-$t" "$file" | awk '{ print $3 / $1 }')
				rd_=$(paste -d' ' "$out/res/$ref-$f-$t" "$file" | awk '{ print $4 / $2 }')
				pp="$(printf %.3f "$(median <<< "$rp_")") ($(spread3 <<< "$rp_"))"
				pd="$(printf %.3f "$(median <<< "$rd_")") ($(spread3 <<< "$rd_"))"
			fi
			awk -v f="$f" -v t="$t" -v p="$p" -v mp="$mp" -v md="$md" -v sp="$sp" -v sd="$sd" \
				-v bp="$bp" -v bd="$bd" -v pp="$pp" -v pd="$pd" 'BEGIN {
				rp = bp > 0 ? sprintf("%.3f", mp / bp) : ""
				rd = bd > 0 ? sprintf("%.3f", md / bd) : ""
				printf "| %s | %s | %s | %.1f | %s | %s | %s | %.1f | %s | %s | %s |\n", toupper(f), t, p, mp, sp, rp, pp, md, sd, rd, pd }'
		done
	done
done

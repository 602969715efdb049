#!/usr/bin/env bash
# bench/aa-study.sh — the A/A study (experiments/aa-study.yaml): the
# quickstart's dense cell against its own twin over R rounds, run twice:
#   quiet   as the machine is (run it when nothing else runs)
#   loaded  the same, with two CPU-burning processes started once half of the
#           rounds are done and stopped when the run ends
# For each run: the comparisons the report tested and how many it called
# real (Benjamini–Hochberg, q = 0.05; target: none), and how many rounds
# were flagged contended.  Prints, asserts nothing.
#   bench/aa-study.sh [OUT_DIR] [ROUNDS]      (PB=build-x/prunebench picks the build)
set -u
cd "$(dirname "$0")/.."
PB=${PB:-build/prunebench}
OUT=${1:-results/aa-study-bench}
R=${2:-10}
rm -rf "$OUT"
mkdir -p "$OUT"

run() { # name burn
	local out=$OUT/$1 burners=()
	"$PB" run experiments/aa-study.yaml -o "$out" --set rounds="$R" --progress plain \
		> "$out.log" 2>&1 &
	local pid=$!
	if [ "$2" = 1 ]; then
		# half the rounds: R/2 round folders of both cells
		# (no subprocess per check: the polling itself must not show up
		# as other load in the cells it watches)
		shopt -s nullglob
		while kill -0 $pid 2>/dev/null; do
			f=("$out"/cells/*.rounds/r[0-9] "$out"/cells/*.rounds/r[0-9][0-9])
			n=${#f[@]}
			[ "$n" -ge "$R" ] && break
			sleep 1
		done
		shopt -u nullglob
		for i in 1 2; do
			timeout 900 sh -c 'while :; do :; done' &
			burners+=($!)
		done
		echo "$1: burners started after $n of $((2 * R)) round runs"
	fi
	wait $pid
	local rc=$?
	for b in "${burners[@]}"; do kill "$b" 2>/dev/null; wait "$b" 2>/dev/null; done
	"$PB" report "$out" > /dev/null || { echo "$1: report failed"; return 1; }
	local eff=$out/report/effects.csv
	local tested real contended
	tested=$(awk -F, 'NR > 1 && $14 != "no test"' "$eff" | wc -l)
	real=$(awk -F, 'NR > 1 && $14 == "real"' "$eff" | wc -l)
	contended=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "contended") c = i; next }
		$c == 1' "$out/rounds.csv" | wc -l)
	printf '%-7s exit %d: %d comparisons tested, %d called real; %d of %d round runs contended\n' \
		"$1" "$rc" "$tested" "$real" "$contended" "$((2 * R))"
	awk -F, 'NR > 1 { printf "    %-20s %+8.2f %% [%+.2f, %+.2f]  p %.3g  BH p %.3g  %s%s\n",
		$6, $9, $10, $11, $12, $13, $14, $15 == 1 ? "  (contended)" : "" }' "$eff"
}
run quiet 0
run loaded 1

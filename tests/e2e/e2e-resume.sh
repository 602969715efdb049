#!/usr/bin/env bash
# End to end: SIGKILL the batch mid-run, run again: every cell is done
# exactly once and every CSV parses.  SIGINT stops a batch cleanly (130)
# and leaves nothing that looks done.
. "$(dirname "$0")/lib.sh"
write_prompts
cat > "$T/exp.yaml" <<YAML
name: resume
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 3
models:
  m: {synth: llama-15m, seed: {sweep: [1, 2, 3]}}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  ref: {}
YAML
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err1.txt" &
pid=$!
# wait until at least one cell is done, then kill the batch hard
for i in $(seq 1 600); do
	n=$(ls -d "$T"/out/cells/*/ 2>/dev/null | grep -vc '\.tmp/$')
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
kill -KILL $pid; wait $pid 2>/dev/null
done1=$(ls -d "$T"/out/cells/*/ 2>/dev/null | grep -vc '\.tmp/$')
[ "$done1" -ge 1 ] && [ "$done1" -lt 6 ] && ok "killed mid-run with $done1 cells done" || fail "killed with $done1 cells done"
sleep 0.5   # the orphaned child dies with its parent (PR_SET_PDEATHSIG)

"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err2.txt"; rc=$?
expect_eq "resumed run exits 0" 0 "$rc"
expect_contains "resumed run skipped the done cells" "$(cat "$T/err2.txt")" "$((6 - done1)) cells to run, $done1 already done"
expect_eq "six cells" 6 "$(ls "$T/out/cells" | wc -l)"
expect_eq "no .tmp left" 0 "$(ls -d "$T"/out/cells/*.tmp 2>/dev/null | wc -l)"
for d in "$T"/out/cells/*/; do
	for f in requests.csv tensors.csv probes.csv phases.csv summary.csv; do
		"$CSV" "$d/$f" rows > /dev/null || fail "$d/$f does not parse"
	done
	expect_eq "$(basename "$d") ran once" 1 "$(grep -c '^status: done' "$d/manifest.yaml")"
done
expect_eq "summary has six rows" 6 "$("$CSV" "$T/out/summary.csv" rows)"
ids=$("$CSV" "$T/out/summary.csv" column cell_id | sort | uniq -d)
expect_eq "no cell twice in the summary" "" "$ids"

# SIGINT: clean stop, status 130, nothing half-written taken for done
rm -rf "$T/out"
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err3.txt" &
pid=$!
for i in $(seq 1 600); do
	ls -d "$T"/out/cells/*.tmp >/dev/null 2>&1 && break
	sleep 0.05
done
sleep 0.3
kill -INT $pid; wait $pid; rc=$?
expect_eq "SIGINT exits 130" 130 "$rc"
expect_contains "SIGINT reported" "$(cat "$T/err3.txt")" "interrupted"
for d in "$T"/out/cells/*/; do
	case $d in *.tmp/) continue ;; esac
	grep -q '^status: done' "$d/manifest.yaml" || fail "$d is not a complete cell"
done
out=$("$PB" cells "$T/exp.yaml")
expect_contains "interrupted cells are pending" "$out" "pending"
finish

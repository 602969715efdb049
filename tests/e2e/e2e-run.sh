#!/usr/bin/env bash
# End to end: run an experiment, rerun (nothing reruns), cells, merge,
# --dry-run, --shard, --cell; the summary has one filled row per cell.
. "$(dirname "$0")/lib.sh"
write_prompts
cat > "$T/exp.yaml" <<YAML
name: e2e
seed: 7
output: $T/out
repeat: 2
warmup: 1
max_new_tokens: 4
timeout: 5m
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag:
    - magnitude: {sparsity: {sweep: [0.3, 0.6]}}
backends:
  ref: {}
probes:
  - procstat: {interval_ms: 20}
YAML

out=$("$PB" validate "$T/exp.yaml" 2>&1); rc=$?
expect_eq "validate exits 0" 0 "$rc"
expect_contains "validate lists 3 cells" "$out" "3 cells"

"$PB" run --progress plain "$T/exp.yaml" > "$T/run1.out" 2> "$T/run1.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
n=$(ls -d "$T"/out/cells/*/ | grep -vc '\.tmp/$')
expect_eq "three cell folders" 3 "$n"
expect_eq "no .tmp left" 0 "$(ls -d "$T"/out/cells/*.tmp 2>/dev/null | wc -l)"
cmp -s "$T/exp.yaml" "$T/out/experiment.yaml" && ok "experiment.yaml copied byte for byte" || fail "experiment.yaml differs"
expect_eq "summary has 3 rows" 3 "$("$CSV" "$T/out/summary.csv" rows)"
expect_contains "summary table printed" "$(cat "$T/run1.out")" "ttft_p50_ms"

# every latency column filled, sparsity as requested
for r in 0 1 2; do
	for col in ttft_ms_mean ttft_ms_p99 tpot_ms_p50 itl_ms_max e2e_ms_p90 decode_tok_s_mean rss_bytes_max proc_cpu_user_s_total; do
		v=$("$CSV" "$T/out/summary.csv" get $r $col)
		[ -n "$v" ] || fail "row $r: $col is empty"
	done
done
ok "latency and probe columns filled"
for r in 0 1 2; do
	p=$("$CSV" "$T/out/summary.csv" get $r pruner)
	s=$("$CSV" "$T/out/summary.csv" get $r sparsity_achieved)
	case $p in
	dense) expect_eq "dense sparsity" 0 "$s" ;;
	mag-sparsity0.3) expect_eq "magnitude 30% achieved" 0.3 "$(printf '%.3f' "$s" | sed 's/0*$//')" ;;
	mag-sparsity0.6) expect_eq "magnitude 60% achieved" 0.6 "$(printf '%.3f' "$s" | sed 's/0*$//')" ;;
	*) fail "unexpected pruner '$p'" ;;
	esac
done
cell=$(ls "$T/out/cells" | head -1)
expect_eq "requests.csv has repeat × prompts rows" 4 "$("$CSV" "$T/out/cells/$cell/requests.csv" rows)"
for f in manifest.yaml requests.csv tensors.csv probes.csv phases.csv summary.csv run.log; do
	[ -f "$T/out/cells/$cell/$f" ] || fail "$cell/$f missing"
done
m=$(cat "$T/out/cells/$cell/manifest.yaml")
for k in "status: done" "sha256" "content_sha256" "git_revision" "cpu_model" "kernel" "start_time" "end_time" "seed: 7"; do
	expect_contains "manifest has $k" "$m" "$k"
done

# rerun: nothing runs, nothing is rewritten
stamp=$(stat -c %Y.%N "$T"/out/cells/*/manifest.yaml | md5sum)
"$PB" run --progress plain "$T/exp.yaml" > "$T/run2.out" 2> "$T/run2.err"; rc=$?
expect_eq "rerun exits 0" 0 "$rc"
expect_contains "rerun skips every cell" "$(cat "$T/run2.err")" "0 cells to run, 3 already done"
expect_eq "rerun rewrote nothing" "$stamp" "$(stat -c %Y.%N "$T"/out/cells/*/manifest.yaml | md5sum)"

out=$("$PB" cells "$T/exp.yaml")
expect_contains "cells: all done" "$out" "3 done, 0 failed, 0 pending"

rm "$T/out/summary.csv"
out=$("$PB" merge "$T/out"); rc=$?
expect_eq "merge exits 0" 0 "$rc"
expect_eq "merged summary rebuilt" 3 "$("$CSV" "$T/out/summary.csv" rows)"

out=$("$PB" run --dry-run --force "$T/exp.yaml")
expect_contains "dry run lists cells" "$out" "3 cells would run"
out=$("$PB" run --dry-run --force --shard 1/2 "$T/exp.yaml")
expect_contains "shard 1/2 has one cell" "$out" "1 cells would run"
out=$("$PB" run --dry-run --force --shard 0/2 "$T/exp.yaml")
expect_contains "shard 0/2 has two cells" "$out" "2 cells would run"
"$PB" run --shard 2/2 "$T/exp.yaml" >/dev/null 2>&1
expect_eq "bad shard is a usage error" 2 "$?"

# --cell with --force reruns just that one cell
before=$(stat -c %Y.%N "$T"/out/cells/*/manifest.yaml | md5sum)
"$PB" -q run --force --cell "$cell" "$T/exp.yaml"; rc=$?
expect_eq "--cell --force exits 0" 0 "$rc"
expect_eq "still three cells" 3 "$(ls "$T/out/cells" | wc -l)"
"$PB" -q run --cell nonexistent "$T/exp.yaml" 2>/dev/null
expect_eq "unknown --cell fails" 1 "$?"

# --set changes ids of affected cells only
a=$("$PB" validate "$T/exp.yaml" | grep -c 'mag-sparsity0.3')
out=$("$PB" validate --set 'pruners.mag.0.magnitude.sparsity.sweep=[0.5]' "$T/exp.yaml")
expect_contains "--set rewrites the sweep" "$out" "mag-sparsity0.5"
finish

#!/usr/bin/env bash
# End to end: failures that must not pass quietly (issue 14).
#  - merge and the end-of-run merge stop at a complete cell without its
#    summary.csv, naming it, instead of leaving its row out (item 4);
#  - run exits non-zero when its final merge failed (item 5);
#  - leftovers of killed batches (a done cell's .tmp, reference locks and
#    temporaries of dead processes on this host) go at the next run, and
#    another host's or a live process's files stay (item 10);
#  - a full disk (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG): a cell whose
#    failure record cannot be written is still counted, with the cause
#    (item 11);
#  - a failed cell's reason carries the child's first error line, with
#    the file and byte offset (item 12).
. "$(dirname "$0")/lib.sh"
need_s260k
write_prompts
cat > "$T/exp.yaml" <<YAML
name: failures
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  ref: {}
YAML
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/run1.err"; rc=$?
expect_eq "first run exits 0" 0 "$rc"
dense=$(basename "$(ls -d "$T"/out/cells/m.p.dense.*)")
mag=$(basename "$(ls -d "$T"/out/cells/m.p.mag*)")

# ---- item 4: a complete cell without summary.csv
rm "$T/out/cells/$dense/summary.csv"
out=$("$PB" merge "$T/out" 2>&1); rc=$?
expect_eq "merge with a complete cell missing its summary exits 1" 1 "$rc"
expect_contains "merge names the cell" "$out" "cells/$dense: the cell is complete"
expect_contains "merge says how to fix it" "$out" "--cell $dense --force"
expect_eq "the old summary.csv is kept" 2 "$("$CSV" "$T/out/summary.csv" rows)"

# ---- items 4 + 5: the end-of-run merge fails the same way, and run says so
"$PB" run --progress plain --force --cell "$mag" "$T/exp.yaml" > /dev/null 2> "$T/run2.err"; rc=$?
expect_eq "run whose final merge failed exits 1" 1 "$rc"
expect_contains "run names the merge failure" "$(cat "$T/run2.err")" "merge: $T/out/cells/$dense: the cell is complete"
"$PB" run --progress plain --force --cell "$dense" "$T/exp.yaml" > /dev/null 2> "$T/run3.err"; rc=$?
expect_eq "rerunning the cell repairs it" 0 "$rc"
expect_eq "two rows again" 2 "$("$CSV" "$T/out/summary.csv" rows)"

# ---- item 5 alone: summary.csv cannot be replaced (a folder in its way)
rm "$T/out/summary.csv"
mkdir -p "$T/out/summary.csv/x"
"$PB" run --progress plain --force --cell "$dense" "$T/exp.yaml" > /dev/null 2> "$T/run4.err"; rc=$?
expect_eq "run exits 1 when summary.csv cannot be written" 1 "$rc"
expect_contains "the merge error is printed" "$(cat "$T/run4.err")" "summary.csv was not updated"
rm -rf "$T/out/summary.csv"

# ---- item 10: leftovers of killed batches
host=$(uname -n | tr '/ ' '__')
sh -c 'exit 0' & dead=$!
wait $dead
ref=$T/out/reference
mkdir -p "$ref" "$T/out/cells/$dense.tmp" "$T/out/cells/$mag.reference.tmp" "$ref/x.tmp.$host.$dead"
echo half > "$T/out/cells/$dense.tmp/run.log"
printf '%s %s 2026-01-01T00:00:00Z\n' "$host" "$dead" > "$ref/x.lock"
ln "$ref/x.lock" "$ref/x.lock.$host.$dead"                # a killed holder: lock + its unique file
printf '%s %s t\n' "$host" "$dead" > "$ref/y.lock.$host.$dead"   # the unique file of a broken lock
printf 'other-node 1 t\n' > "$ref/f.lock"                  # another host's: never touched
ln "$ref/f.lock" "$ref/f.lock.other-node.1"
mkdir "$ref/f.tmp.other-node.1"
printf '%s %s t\n' "$host" "$$" > "$ref/l.lock"             # a live process's: kept
ln "$ref/l.lock" "$ref/l.lock.$host.$$"
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/run5.err"; rc=$?
expect_eq "run over leftovers exits 0" 0 "$rc"
expect_contains "leftovers reported" "$(cat "$T/run5.err")" "removed 6 leftovers of killed batches"
left=$(cd "$T/out" && ls -d cells/*.tmp reference/x.* reference/y.* 2>/dev/null | tr '\n' ' ')
expect_eq "a done cell's .tmp, dead holders' locks and temporaries removed" "" "$left"
kept=$(cd "$ref" && ls -d f.lock f.lock.other-node.1 f.tmp.other-node.1 l.lock "l.lock.$host.$$" 2>/dev/null | wc -l)
expect_eq "another host's and a live process's files kept" 5 "$kept"

# ---- item 12: the first error line, with file and offset, in the reason
mkdir -p "$T/trunc"
head -c 4000 "$S260K" > "$T/trunc/t.bin"
cp "$S260K_DIR/tok512.bin" "$T/trunc/"
cat > "$T/trunc.yaml" <<YAML
name: trunc
output: $T/out-trunc
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0
models:
  t: {path: trunc/t.bin}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
backends:
  ref: {}
YAML
"$PB" run --progress plain "$T/trunc.yaml" > /dev/null 2> "$T/trunc.err"; rc=$?
expect_eq "a truncated model fails the run" 1 "$rc"
if ls -d "$T"/out-trunc/cells/t.* > /dev/null 2>&1; then
	r=$(grep -h '^reason:' "$T"/out-trunc/cells/t.*/manifest.yaml)
	expect_contains "reason keeps the phase" "$r" "in phase load"
	expect_contains "reason carries the reader's error with its offset" "$r" "t.bin: offset"
	expect_contains "summary.csv's reason too" "$("$CSV" "$T/out-trunc/summary.csv" column reason)" "t.bin: offset"
	expect_contains "the FAILED line too" "$(grep FAILED "$T/trunc.err")" "t.bin: offset"
else   # refused before any cell ran: the message must still carry it
	expect_contains "refusal names the offset" "$(cat "$T/trunc.err")" "t.bin: offset"
fi

# ---- item 11: a full disk; every cell is counted and the cause is said.
# RLIMIT_FSIZE with SIGXFSZ ignored makes writes past the limit fail with
# EFBIG, for the run and its cells: 1 KiB lets experiment.yaml and a failed
# cell's summary.csv through, not its manifest.yaml nor a cell's results.
# The output goes through a pipe (cat is not limited).
cat > "$T/full.yaml" <<YAML
name: full
output: $T/out-full
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: {sweep: [0.3, 0.6]}}}]
backends:
  ref: {}
YAML
(trap '' XFSZ; ulimit -f "${PB_FULL_KB:-1}"; exec "$PB" run --progress plain "$T/full.yaml") 2>&1 |
	cat > "$T/full.err"
rc=${PIPESTATUS[0]}
err=$(cat "$T/full.err")
grep -E 'could not|done, ' "$T/full.err"
expect_eq "a full disk fails the run" 1 "$rc"
expect_contains "all three cells counted" "$err" "0 done, 3 failed"
# (the cause as the writer reports it: EFBIG, or EIO where an emitter loses errno)
expect_contains "failures that could not be recorded are said, with the cause" "$err" \
	"could not be recorded: "
expect_contains "the unrecorded cell is named" "$err" "its failure record could not be written"
out=$("$PB" cells "$T/full.yaml")
expect_contains "cells whose failure was not recorded stay pending" "$out" "pending"
finish

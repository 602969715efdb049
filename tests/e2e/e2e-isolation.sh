#!/usr/bin/env bash
# End to end: cells whose plugins crash, abort, fail or hang become failed
# cells with their reason and log tail; the other cells complete; the batch
# exits 1; a rerun retries only the failed cells.
. "$(dirname "$0")/lib.sh"
export PRUNEBENCH_PLUGIN_PATH=${FAKE_PLUGINS_GOOD:?}
# under ASan a SIGSEGV is caught and turned into exit 1; we test the signal path
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
# and UBSan would stop at the NULL store before the fault
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=0"
write_prompts
cat > "$T/exp.yaml" <<YAML
name: iso
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0      # no score phase: the 6 s limit must fit a dense cell under ASan on a busy machine
timeout: 6s
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  crashinit: [crashinit]
  crashrun: [crashrun]
  hang: [hang]
  fail: [fail]
backends:
  ref: {}
YAML
"$PB" run --progress plain "$T/exp.yaml" > "$T/out.txt" 2> "$T/err.txt"; rc=$?
expect_eq "batch with failed cells exits 1" 1 "$rc"
err=$(cat "$T/err.txt")
expect_contains "summary line" "$err" "1 done, 4 failed"
out=$("$PB" cells "$T/exp.yaml")
expect_contains "cells: counts" "$out" "1 done, 4 failed, 0 pending"

reason() { grep -h '^reason:' "$T"/out/cells/m.p.$1.ref-*/manifest.yaml; }
expect_contains "segfault in init" "$(reason crashinit)" "signal 11"
expect_contains "abort in apply" "$(reason crashrun)" "signal 6"
expect_contains "abort phase named" "$(reason crashrun)" "compress"
expect_contains "hang times out" "$(reason hang)" "timeout after 6 s"
expect_contains "error exit" "$(reason fail)" "exited with status 1"
# the child's first error line, not only the phase (issue 14, item 12)
expect_contains "the plugin's first error in the reason" "$(reason fail)" \
	"in phase compress: fail: fake failure: cannot prune (tests)"
expect_contains "... and in the FAILED line" "$(grep FAILED "$T/err.txt")" "fake failure: cannot prune"
expect_contains "log tail kept" "$(cat "$T"/out/cells/m.p.fail.ref-*/manifest.yaml)" "log_tail"
expect_contains "the plugin's own message is in the log tail" "$(cat "$T"/out/cells/m.p.fail.ref-*/manifest.yaml)" "fail"
expect_contains "failure printed with the log tail" "$err" "last lines of its run.log"
[ -d "$T"/out/cells/m.p.dense.ref-* ] && ok "dense cell done" || fail "dense cell missing"
expect_eq "summary lists all 5 cells" 5 "$("$CSV" "$T/out/summary.csv" rows)"
expect_eq "no .tmp left" 0 "$(ls -d "$T"/out/cells/*.tmp 2>/dev/null | wc -l)"

# rerun: only the four failed cells run again
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err2.txt"
expect_contains "rerun retries failed cells only" "$(cat "$T/err2.txt")" "4 cells to run, 1 already done"
finish

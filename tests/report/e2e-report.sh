#!/usr/bin/env bash
# tests/report/e2e-report.sh — the `report` command line (exit codes,
# options, errors) on the fixture results folder, and `run --report`
# making the page at the end of a small real batch.
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
FIX=$SRC/tests/report/fixtures/results

out=$("$PB" report "$FIX" -o "$T/r1" 2> "$T/err"); rc=$?
expect_eq "report exits 0" 0 "$rc"
expect_contains "says where the page is" "$out" "$T/r1/report/index.html"
[ -s "$T/r1/report/index.html" ] && [ -s "$T/r1/report/tables.md" ] && ok "both files written" || fail "files missing"
ls "$T/r1/report" | grep -q '\.tmp$' && fail "a .tmp file left behind" || ok "no temporary files left"
cmp -s "$T/r1/report/tables.md" "$SRC/tests/report/golden/tables.md" && ok "tables.md is the golden one" \
	|| fail "tables.md differs from tests/report/golden/tables.md"

"$PB" report > /dev/null 2>&1; expect_eq "no folder: usage error" 2 "$?"
"$PB" report --help | grep -q -- "--baseline NAME" && ok "--help lists --baseline" || fail "--help"
err=$("$PB" report "$T/none" 2>&1); rc=$?
expect_eq "missing folder fails" 1 "$rc"
expect_contains "missing folder named" "$err" "$T/none/cells"

"$PB" report "$FIX" -o "$T/r2" --cell stories260K.valid.dense.ref-d02be22a --baseline magnitude-sparsity0.6 > /dev/null
expect_eq "--cell and --baseline" 0 "$?"
expect_contains "chosen cell plotted" "$(cat "$T/r2/report/index.html")" \
	"Probe readings over time — stories260K.valid.dense.ref-d02be22a"
expect_contains "chosen baseline" "$(cat "$T/r2/report/tables.md")" "| magnitude-sparsity0.6 (baseline) |"
err=$("$PB" report "$FIX" -o "$T/r3" --cell nope 2>&1); rc=$?
expect_eq "unknown --cell fails" 1 "$rc"
expect_contains "unknown --cell named" "$err" "--cell nope"

# bad input: exit 1 and the file with its line
mkdir -p "$T/bad" && cp -r "$FIX/cells" "$T/bad/"
sed -i '2s/,done,,6,500,12,/,done,,6,500,twelve,/' "$T/bad/cells/stories260K.valid.dense.ref-d02be22a/summary.csv"
err=$("$PB" report "$T/bad" 2>&1); rc=$?
expect_eq "bad CSV fails" 1 "$rc"
expect_contains "bad CSV: file and line" "$err" \
	"stories260K.valid.dense.ref-d02be22a/summary.csv:2: column 'output_tokens_mean': expected a number, got 'twelve'"
[ -e "$T/bad/report/index.html" ] && fail "a page written from bad input" || ok "no page from bad input"

# run --report: a two-chain batch makes its own page
write_prompts
cat > "$T/exp.yaml" <<YAML
name: rep
seed: 1
output: $T/out
repeat: 2
warmup: 0
max_new_tokens: 4
score_tokens: 64
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  ref: {}
probes:
  - procstat: {interval_ms: 20}
YAML
out=$("$PB" run --progress plain --report "$T/exp.yaml" 2> "$T/run.err"); rc=$?
expect_eq "run --report exits 0" 0 "$rc"
expect_contains "run prints the page" "$out" "$T/out/report/index.html"
md=$(cat "$T/out/report/tables.md" 2>/dev/null)
expect_contains "baseline row" "$md" "| dense (baseline) |"
expect_contains "compressed row" "$md" "| mag |"
expect_contains "sparsity shown" "$md" "50.0 %"
finish

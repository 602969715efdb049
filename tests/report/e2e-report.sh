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

# the old fixture has no rounds: it loads as one round per cell, no verdict
expect_contains "one round: no test" "$(cat "$T/r1/report/tables.md")" "No change was tested"

# a results folder with rounds (written here, as run writes it): 5 rounds,
# the baseline drifting between rounds, a chain 30 % slower in each, an
# A/A twin, and one contended round
calc() { awk "BEGIN { printf \"%.10g\", $1 }"; }
mkcell() { # pruner chain aa_of factor... (one per round)
	local p=$1 chain=$2 aa=$3 d=$T/rounds/cells/m.d.$1.ref-0
	shift 3
	mkdir -p "$d"
	printf 'status: done\ncell: m.d.%s.ref-0\nexperiment: rounds\naxes: {model: m, dataset: d, pruner: %s, backend: ref}\nconfig:\n  chain: %s\n' \
		"$p" "$p" "$chain" > "$d/manifest.yaml"
	echo "round,round_position,round_started,ttft_ms_mean,e2e_ms_mean,contended,other_cpu_pct_mean" > "$d/rounds.csv"
	echo "round,ttft_ms,e2e_ms,output_tokens" > "$d/requests.csv"
	local r=0 drift sum=0 f
	for f in "$@"; do
		r=$((r + 1))
		drift=$(calc "100 + 10 * ($r % 3)")
		v=$(calc "$drift * $f")
		c=0; [ "$p" = dense-aa ] && [ $r = 2 ] && c=1
		echo "$r,$(( (r + ${#p}) % 3 )),2026-12-07T00:0$r:00Z,$v,$(calc "$v + 5"),$c,$([ $c = 1 ] && echo 60 || echo 2)" >> "$d/rounds.csv"
		echo "$r,$v,$(calc "$v + 5"),8" >> "$d/requests.csv"
		sum=$(calc "$sum + $v")
	done
	m=$(calc "$sum / $r")
	printf 'cell_id,model,dataset,pruner,backend,status,rounds,aa_of,contended,ttft_ms_mean,e2e_ms_mean,ttft_ms_p50,ttft_ms_p90,ttft_ms_p99\n' > "$d/summary.csv"
	printf 'm.d.%s.ref-0,m,d,%s,ref,done,%d,%s,%d,%s,%s,%s,%s,%s\n' "$p" "$p" "$r" "$aa" \
		"$([ "$p" = dense-aa ] && echo 1 || echo 0)" "$m" "$(calc "$m + 5")" "$m" "$m" "$m" >> "$d/summary.csv"
}
mkcell dense "[]" "" 1 1 1 1 1
mkcell dense-aa "[]" dense 1.004 0.995 1.002 0.998 1.003
mkcell slow "[{magnitude: {sparsity: 0.5}}]" "" 1.301 1.298 1.302 1.299 1.300
out=$("$PB" report "$T/rounds" 2> "$T/err"); rc=$?
expect_eq "report of a rounds folder exits 0" 0 "$rc"
md=$(cat "$T/rounds/report/tables.md" 2>/dev/null)
expect_contains "the +30 % chain is real" "$md" "| slow | TTFT mean (ms) | 5 | +30.0 % \\[+29.8, +30.2\\] |"
expect_contains "the tally" "$md" "4 comparisons tested, 2 called real"
# the twin's contended round 2 is left out of its test (4 clean remain)
expect_contains "the A/A floor beside the effect" "$md" "| real | +0.2 ± 0.4 % |"
expect_contains "the contended round left out" "$md" "| TTFT mean (ms) | 4 of 5 | +0.2 % "
expect_contains "the note says so" "$md" "A/A: dense-aa against dense; 1 contended round left out |"
eff=$(cat "$T/rounds/report/effects.csv")
expect_contains "effects.csv: the +30 % chain, real" "$eff" ",slow,dense,ttft_ms_mean,0,5,29.9999,29.8037,30.1964,"
expect_eq "effects.csv: one row per comparison" 4 "$(tail -n +2 "$T/rounds/report/effects.csv" | wc -l)"
expect_eq "effects.csv: the A/A twin not real" 0 "$(grep -c ',1,4,.*,real,' "$T/rounds/report/effects.csv")"
expect_eq "effects.csv: the twin's test used 4 rounds, 1 left out, none contended" 2 \
	"$(grep -c ',dense-aa,dense,.*,1,4,.*,0,1,0$' "$T/rounds/report/effects.csv")"
expect_contains "contention banner" "$md" "m.d.dense-aa.ref-0: round 2, others' CPU 60.0 % of a core (mean)"
expect_contains "per-round means" "$md" "### Per-round means: TTFT (ms)"
grep -q "A/A CONTROL CALLED REAL" "$T/rounds/report/tables.md" && fail "the A/A twin called real" || ok "the A/A twin not called real"

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
expect_contains "baseline row" "$md" "| dense (baseline)"
expect_contains "compressed row" "$md" "| mag "
expect_contains "sparsity shown" "$md" "50.0 %"
finish

#!/bin/sh
# tests/hostcond/e2e-contention.sh — a real run while two CPU-burning
# processes run is flagged `contended`, and --wait-quiet gives up within
# its bound; a run without them has the columns (this machine is shared,
# so only their form is asserted there); contention_threshold is checked
# like the other settings and does not change cell ids.
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"

write_prompts
printf 'Once upon a time there was a little\nThe cat sat on the\nIn the morning the sun\nShe looked at the\n' \
	> "$T/data/p.txt"
cat > "$T/exp.yaml" <<EOF
name: contention
seed: 3
output: $T/out
repeat: 1
warmup: 1
max_new_tokens: 16
score_tokens: 0
contention_threshold: 5
models:
  llama-15m: {synth: llama-15m}
datasets:
  prompts: {path: $T/data/p.txt}
pruners:
  dense: []
backends:
  ref: {}
EOF

col() { # summary.csv column of the only cell
	"$CSV" "$(ls -d "$T"/out/cells/*/)summary.csv" get 0 "$1"
}

# ---- the threshold: validated, and outside the cell id ------------------
ids0=$("$PB" cells "$T/exp.yaml" | awk '{ print $2 }')
sed 's/^contention_threshold: 5$/contention_threshold: 50/' "$T/exp.yaml" > "$T/exp50.yaml"
ids1=$("$PB" cells "$T/exp50.yaml" | awk '{ print $2 }')
expect_eq "contention_threshold does not change cell ids" "$ids0" "$ids1"
sed 's/^contention_threshold: 5$/contention_threshold: -1/' "$T/exp.yaml" > "$T/bad.yaml"
out=$("$PB" validate "$T/bad.yaml" 2>&1) && fail "contention_threshold -1 accepted"
expect_contains "a bad threshold names file:line:col" "$out" "bad.yaml:8:"
expect_contains "... and the key" "$out" "'contention_threshold'"
out=$("$PB" run "$T/exp.yaml" --wait-quiet=abc 2>&1) && fail "--wait-quiet=abc accepted"
expect_contains "--wait-quiet needs seconds" "$out" "--wait-quiet=abc"

# ---- two burners: contended, and --wait-quiet times out in its bound ----
# each one a bounded busy loop (timeout), killed at the end in any case
burn() { timeout 280 sh -c 'while :; do :; done' & }
burn; b1=$!
burn; b2=$!
trap 'kill $b1 $b2 2>/dev/null; rm -rf "$T"' EXIT
sleep 1
t0=$(date +%s)
"$PB" run "$T/exp.yaml" --wait-quiet=2 -q > "$T/burn.log" 2>&1 || fail "run with burners failed: $(cat "$T/burn.log")"
t1=$(date +%s)
kill $b1 $b2 2>/dev/null
wait $b1 $b2 2>/dev/null
expect_eq "burners: contended" "1" "$(col contended)"
expect_eq "burners: threshold column" "5" "$(col contention_threshold_pct)"
awk -v v="$(col other_cpu_pct_mean)" 'BEGIN { exit !(v > 5) }' \
	&& ok "burners: others' CPU above 5 % ($(col other_cpu_pct_mean))" \
	|| fail "burners: other_cpu_pct_mean '$(col other_cpu_pct_mean)' not above 5"
expect_eq "burners: --wait-quiet timed out" "1" "$(col quiet_timed_out)"
w=$(col quiet_wait_s)
awk -v w="$w" 'BEGIN { exit !(w >= 1.9 && w <= 3) }' \
	&& ok "burners: waited its bound ($w s)" || fail "burners: quiet_wait_s '$w' not about 2"
[ $((t1 - t0)) -lt 200 ] && ok "burners: run bounded ($((t1 - t0)) s)" || fail "run took $((t1 - t0)) s"
log=$(cat "$(ls -d "$T"/out/cells/*/)run.log")
expect_contains "run.log warns contended" "$log" "contended: other processes used"
expect_contains "run.log says the wait timed out" "$log" "timed out, measuring anyway"
man=$(cat "$(ls -d "$T"/out/cells/*/)manifest.yaml")
expect_contains "manifest: contended" "$man" "contended: 'true'"
expect_contains "manifest: wait timed out" "$man" "timed_out: true"
m=$(col rss_peak_method)
case $m in clear_refs|sampled) ok "rss_peak_method $m" ;; *) fail "rss_peak_method '$m'" ;; esac
expect_contains "manifest: rss method" "$man" "rss_peak_method: $m"
for c in load compress measure score; do
	v=$(col rss_peak_bytes_$c)
	case $v in [1-9]*[0-9]) ok "rss_peak_bytes_$c = $v" ;; *) fail "rss_peak_bytes_$c '$v'" ;; esac
done
phases="$(ls -d "$T"/out/cells/*/)phases.csv"
for ch in other_cpu_pct loadavg_1m cpu_freq_mhz rss_peak_bytes; do
	grep -q "^decode,[0-9.]*,host,$ch," "$phases" && ok "phases.csv: decode $ch" \
		|| fail "phases.csv: no decode row for $ch"
done

# ---- without burners: the columns, in form --------------------------------
"$PB" run "$T/exp.yaml" --force --wait-quiet=1 -q > "$T/quiet.log" 2>&1 || fail "quiet run failed"
c=$(col contended)
case $c in 0|1) ok "quiet run: contended is $c" ;; *) fail "quiet run: contended '$c'" ;; esac
q=$(col quiet_timed_out)
case $q in 0|1) ok "quiet run: quiet_timed_out is $q" ;; *) fail "quiet run: quiet_timed_out '$q'" ;; esac
w=$(col quiet_wait_s)
awk -v w="$w" 'BEGIN { exit !(w >= 0.9 && w <= 2) }' \
	&& ok "quiet run: waited at most its bound ($w s)" || fail "quiet run: quiet_wait_s '$w'"
"$PB" run "$T/exp.yaml" --force -q > "$T/nowait.log" 2>&1 || fail "run without --wait-quiet failed"
expect_eq "no --wait-quiet: empty quiet_wait_s" "" "$(col quiet_wait_s)"
expect_eq "no --wait-quiet: empty quiet_timed_out" "" "$(col quiet_timed_out)"
finish

#!/usr/bin/env bash
# End to end: a cell with the nvml probe on the fake libnvidia-ml (found
# through LD_LIBRARY_PATH, as the real one would be), a probe that fails
# after three reads, an unavailable probe, an idle baseline and a cooldown
# wait.  The cell completes; energy columns, methods, baseline, cooldown
# and throttle fields are where the README says; an unavailable probe
# leaves no columns (so merged summaries show them empty, never 0).
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
write_prompts
export PRUNEBENCH_PLUGIN_PATH=${FAKE_PLUGINS_GOOD:?}
export LD_LIBRARY_PATH=${FAKE_NVML_DIR:?}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# 85 C cooling 0.2 C a reading (about 20 C/s at 10 ms); 0.5 J a reading; 150 W
export FAKE_NVML="temp_c=85,temp_step=-0.2,temp_min=40,energy_step_mj=500,power_mw=150000"

experiment() { # output nvml-library
	cat <<YAML
name: probes
seed: 1
output: $1
repeat: 2
warmup: 1
max_new_tokens: 6
score_tokens: 0
idle_baseline: 0.3
cooldown: {max_temp_c: 60, timeout_s: 20}
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
backends:
  ref: {}
probes:
  - procstat: {interval_ms: 10}
  - flaky: {fail_after: 3, interval_ms: 5}
  - unavail: {device: /dev/null}
  - nvml: {library: $2, interval_ms: 10}
YAML
}

experiment "$T/out" libnvidia-ml.so.1 > "$T/exp.yaml"
"$PB" run --progress plain "$T/exp.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0 with a failing probe" 0 "$rc"
cell=$(ls "$T/out/cells" | head -1)
C="$T/out/cells/$cell"
m=$(cat "$C/manifest.yaml" 2>/dev/null)
expect_contains "cell done" "$m" "status: done"
expect_contains "failing probe backed off" "$(cat "$C/run.log")" "probe flaky: read failed"
expect_contains "unavailable probe in the manifest" "$m" "unavailable: no fake sensor on this machine"
expect_contains "nvml described" "$m" 'name: "Fake GPU 80GB"'
expect_contains "counter method" "$m" "channel: gpu0_energy_j
    probe: nvml
    method: counter"
expect_contains "integrated power method" "$m" "channel: gpu0_power_w
    probe: nvml
    method: integrated power
    idle_power_w: 150"
expect_contains "idle baseline recorded" "$m" "seconds: 0.3"
expect_contains "cooldown recorded" "$m" "max_temp_c: 60"
expect_contains "cooldown did not time out" "$m" "timed_out: false"
end=$(printf '%s\n' "$m" | awk '/temp_c_end:/ { print $2 }')
waited=$(printf '%s\n' "$m" | awk '/waited_s:/ { print $2 }')
# how long it waited depends on how many reads the (load-dependent) warm-up
# took; the wait itself is unit-tested in test-energy
awk -v e="$end" -v w="$waited" 'BEGIN { exit !(e != "" && e <= 60 && w >= 0) }' \
	&& ok "cooldown waited ${waited} s down to ${end} C" || fail "cooldown: waited '$waited' s, ended at '$end' C"
expect_contains "throttle settings" "$m" "throttle_pct: 90"

S="$T/out/summary.csv"
get() { "$CSV" "$S" get 0 "$1"; }
for col in gpu0_energy_j_decode gpu0_energy_j_measured gpu0_energy_j_per_token \
	   gpu0_power_w_energy_j_decode gpu0_power_w_energy_j_per_token_decode \
	   gpu0_energy_j_idle_power_w gpu0_energy_j_decode_net gpu0_power_w_mean gpu0_temp_c_max \
	   gpu0_energy_j_power_w_mean rss_bytes_max threads_max mem_available_bytes_mean \
	   flaky_reads_total; do
	v=$(get $col)
	[ -n "$v" ] || fail "summary $col is empty"
done
ok "energy, power and probe columns filled"
# integrated 150 W over the decode time, to the summary's 6 digits
dec_ms=$(awk -F, 'NR > 1 && $1 == "decode" { print $2; exit }' "$C/phases.csv")
want=$(awk -v ms="$dec_ms" 'BEGIN { printf "%.4g", 150 * ms / 1000 }')
expect_eq "decode energy = 150 W × decode time" "$want" "$(awk -v v="$(get gpu0_power_w_energy_j_decode)" 'BEGIN { printf "%.4g", v }')"
expect_eq "net = energy − idle power × time" "$(awk -v v="$(get gpu0_power_w_energy_j_decode)" 'BEGIN { printf "%.4g", 0 }')" \
	"$(awk -v v="$(get gpu0_power_w_energy_j_decode_net)" 'BEGIN { printf "%.4g", (v < 1e-9 && v > -1e-9) ? 0 : v }')"
thr=$(get throttled_requests)
case $thr in ''|0|1|2) ok "throttled_requests is a count or empty ($thr)" ;; *) fail "throttled_requests '$thr'" ;; esac
head -1 "$C/requests.csv" | grep -q ',throttled,output_text$' && ok "requests.csv has throttled" || fail "requests.csv header"
head -1 "$C/phases.csv" | grep -q ',energy_j,energy_method$' && ok "phases.csv has energy columns" || fail "phases.csv header"
grep -q ',decode,.*gpu0_power_w,W,gauge,.*,integrated power$' "$C/phases.csv" || grep -q '^decode,.*,nvml,gpu0_power_w,W,gauge,.*,integrated power$' "$C/phases.csv" \
	&& ok "phases.csv integrated power row" || fail "no integrated power row in phases.csv"
head -1 "$S" | tr ',' '\n' | grep -q unavail && fail "unavailable probe has columns" || ok "unavailable probe has no columns"

# nvml unavailable (library missing): no gpu0 columns at all, the reason
# in the manifest; nothing is written as 0
experiment "$T/out2" /nonexistent/libnvidia-ml.so.1 > "$T/exp2.yaml"
"$PB" -q run "$T/exp2.yaml" > /dev/null 2>&1; rc=$?
expect_eq "run without NVML exits 0" 0 "$rc"
cell=$(ls "$T/out2/cells" | head -1)
expect_contains "nvml unavailable, with why" "$(cat "$T/out2/cells/$cell/manifest.yaml")" "unavailable: init failed"
n=$(head -1 "$T/out2/summary.csv" | tr ',' '\n' | grep -c '^gpu0_')
expect_eq "no gpu0 columns" 0 "$n"
finish

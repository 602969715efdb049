#!/usr/bin/env bash
# tests/report/make-fixture.sh — how tests/report/fixtures/results was made
# (run by hand, never by the tests: the golden tables need fixed numbers).
# A real run of stories260K (from ../shared) on a text dataset: dense, two
# magnitude and two random sparsities, Q8_0, and a chain whose pruner fails,
# with procstat and the fake NVML (energy counter, power, temperature), on
# ref and (three chains) cpu-blas.  To keep the fixture small it drops
# run.log, keeps probes.csv only in the dense cells (the report reads it
# for one cell, and must cope without it) and only the channels plotted.
#   tests/report/make-fixture.sh BUILD_DIR
set -euo pipefail
B=$(realpath "${1:?usage: make-fixture.sh BUILD_DIR}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$SRC/tests/report/fixtures/results
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PRUNEBENCH_PLUGIN_PATH=$B/tests/fake-plugins/good
export LD_LIBRARY_PATH=$B/tests/probes-b
export FAKE_NVML="temp_c=55,temp_step=0.05,temp_min=40,energy_step_mj=400,power_mw=40000"
head -c 6000 "$SRC/../shared/data/tinystories-valid-head.txt" > "$T/valid.txt"
cat > "$T/fixture.yaml" <<YAML
name: fixture
seed: 7
output: $T/out
repeat: 3
warmup: 1
max_new_tokens: 12
score_tokens: 512
models:
  stories260K: {path: $SRC/../shared/models/stories260K/stories260K.bin}
datasets:
  valid: {path: $T/valid.txt, format: text, max_samples: 4}
pruners:
  dense: []
  magnitude: [{magnitude: {sparsity: {sweep: [0.3, 0.6]}}}]
  random: [{random: {sparsity: {sweep: [0.3, 0.6]}}}]
  q8_0: [{quant: {type: q8_0}}]
  broken: [{fail: {}}]
backends:
  ref: {}
  cpu-blas: {threads: 1}
exclude:
  - {backend: cpu-blas, pruner: "random-*"}
  - {backend: cpu-blas, pruner: broken}
probes:
  - procstat: {interval_ms: 20}
  - nvml: {library: libnvidia-ml.so.1, interval_ms: 20}
YAML
"$B/prunebench" run --progress plain "$T/fixture.yaml" || true
rm -rf "$OUT"
mkdir -p "$OUT/cells"
cp "$T/out/summary.csv" "$OUT/"
for c in "$T/out/cells"/*; do
	id=$(basename "$c")
	mkdir -p "$OUT/cells/$id"
	for f in manifest.yaml summary.csv requests.csv phases.csv tensors.csv; do
		[ -f "$c/$f" ] && cp "$c/$f" "$OUT/cells/$id/"
	done
	# only the channels the report plots (the fake GPU's clocks and the
	# process counters would only make the fixture bigger)
	case $id in *.dense.*) ;; *) continue ;; esac
	[ -f "$c/probes.csv" ] && grep -E '^t_ms|,(gpu0_energy_j|gpu0_power_w|gpu0_temp_c|proc_cpu_pct|rss_bytes),' \
		"$c/probes.csv" > "$OUT/cells/$id/probes.csv"
done
sed -i "s#$T#/tmp/fixture#g; s#$SRC#/src#g; s#$B#/build#g; s#$SRC/../shared#/shared#g" \
	"$OUT"/cells/*/manifest.yaml
# results are untrusted input: one hostile reason tests the escaping
# (HTML and Markdown) end to end
f=$(ls -d "$OUT"/cells/*broken*)
sed -i 's#^reason: .*#reason: "exited with status 1 in phase compress <script>alert(1)</script> | *x* \&amp;"#' "$f/manifest.yaml"
du -sh "$OUT"

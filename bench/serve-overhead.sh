#!/usr/bin/env bash
# bench/serve-overhead.sh — what `prunebench serve` adds per request and
# per token on loopback (issue 16): one experiment, two cells on the same
# model (stories260K from models/, or MODEL: a path or synth:PRESET), both greedy and dense on
# cpu-blas with one thread:
#   local  in process: the cell's own session, pb_generate — what
#          `prunebench generate` runs;
#   api    the openai backend (libcurl, streaming) against `prunebench
#          serve` of the same model on 127.0.0.1 (ignore_eos: the same
#          token count).
# ROUNDS rounds, the two cells in a shuffled order each round (the
# experiment's own design: interleaved, so drift hits both alike); per
# round the median TTFT, TPOT and ITL of each cell's requests, then the
# median over rounds.  Prints both and the difference: the target is
# ≤ 1 ms added per token (TPOT / ITL) at p50.  A benchmark: it asserts
# nothing.
#   bench/serve-overhead.sh [ROUNDS] [MAX_NEW_TOKENS] [REPEAT] [MODEL]
# defaults: 5 64 4 ../shared/models/stories260K/stories260K.bin
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
ntok=${2:-64}
repeat=${3:-4}
model=${4:-${PB_SHARED:-../shared}/models/stories260K/stories260K.bin}
case $model in
synth:*) model_yaml="{synth: ${model#synth:}}" ;;
*) model=$(realpath "$model"); model_yaml="{path: $model}" ;;
esac
pb=$(realpath "${PB:-build/prunebench}")
out=$(mktemp -d)
export OPENBLAS_NUM_THREADS=1 SLURM_CPUS_PER_TASK=1

"$pb" serve "$model" --backend cpu-blas --port 0 > "$out/serve.out" 2> "$out/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 200); do grep -q listening "$out/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out/serve.out" | head -n 1)
[ -n "$url" ] || { cat "$out/serve.err"; echo "serve did not start" >&2; exit 1; }

printf 'Once upon a time there was a little robot\nThe sun rose over the quiet town and\n' \
	> "$out/prompts.txt"
cat > "$out/x.yaml" <<YAML
name: serve-overhead
seed: 1
output: $out/res
rounds: $rounds
repeat: $repeat
warmup: 2
max_new_tokens: $ntok
models:
  m: $model_yaml
datasets:
  p: {path: prompts.txt}
pruners:
  dense: []
backends:
  local: {plugin: cpu-blas}
  api: {plugin: openai, url: "$url", ignore_eos: true}
YAML
"$pb" run --progress plain "$out/x.yaml" > "$out/run.out" 2> "$out/run.err" ||
	{ tail -20 "$out/run.err"; exit 1; }

python3 - "$out/res" "$rounds" "$ntok" "$repeat" "$(basename "$model")" <<'PY'
import csv, glob, statistics as st, sys
res, rounds, ntok, repeat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def cell(name):
    d = glob.glob(f"{res}/cells/m.p.dense.{name}-*")[0]
    req = list(csv.DictReader(open(d + "/requests.csv")))
    itl = list(csv.DictReader(open(d + "/itl.csv")))
    out = {}
    for col, rows, key in (("ttft_ms", req, "ttft_ms"), ("tpot_ms", req, "tpot_ms"), ("itl_ms", itl, "itl_ms")):
        per = {}
        for r in rows:
            if r.get(key):
                per.setdefault(r["round"], []).append(float(r[key]))
        meds = [st.median(v) for v in per.values()]
        out[col] = (st.median(meds), min(meds), max(meds))
    return out
local, api = cell("local"), cell("api")
print(f"serve overhead: {sys.argv[5]}, cpu-blas 1 thread, {ntok} tokens, {rounds} rounds x {repeat} repeats x 2 prompts (interleaved)")
print(f"{'':10} {'in-process p50':>22} {'serve+openai p50':>22} {'added':>10}")
for k, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("itl_ms", "ITL")):
    a, b = local[k], api[k]
    print(f"{label + ' (ms)':10} {a[0]:9.3f} [{a[1]:.3f}-{a[2]:.3f}] {b[0]:9.3f} [{b[1]:.3f}-{b[2]:.3f}] {b[0] - a[0]:+10.3f}")
added = api["tpot_ms"][0] - local["tpot_ms"][0]
print(f"added per token at p50: {added:+.3f} ms (target <= 1 ms): {'met' if added <= 1 else 'NOT met'}")
print("[min-max] of the per-round medians")
PY

#!/usr/bin/env bash
# End to end: load patterns (issue 16 item 4) on the `openai` backend
# against the fake OpenAI-compatible server (fake-openai.py: each "ok"
# request streams 4 tokens, TTFT 150 ms then one every 50 ms, so lasts
# about 300 ms; "http500" fails).  Checks:
#  - closed loop, concurrency 2, requests: 6: six rows, two clients, both
#    in flight at once (in_flight_max 2, overlapping send→end intervals),
#    scheduled = sent (no client queue), records cycled;
#  - open loop, constant 10/s, requests: 6: scheduled_ms exactly 0, 100,
#    …, 500; each sent within a few ms of its time; requests overlap
#    (a request lasts 300 ms, one is due every 100 ms); offered_rps 10;
#  - open loop, Poisson, duration: scheduled times ascending and < D, the
#    same schedule on a rerun (seeded);
#  - summary: achieved_rps and output_tok_s over the window, goodput
#    share and rate under the slo (the failed request never counts);
#  - report on the run: the serving tables (latency per load, throughput
#    vs offered load, goodput) and its chart.
# Skips (77) without python3 or without the plugin (no libcurl).
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
command -v python3 > /dev/null || { echo "SKIP: python3 is needed for the fake server"; exit 77; }
[ -e "$PB_BUILD_ROOT/plugins/backends/openai/backend-openai.so" ] ||
	{ echo "SKIP: the openai backend was not built (libcurl not found)"; exit 77; }
HERE=$PB_SOURCE_ROOT/tests/openai

python3 "$HERE/fake-openai.py" "$T/port" "$T/server.log" --ttft-ms 150 --itl-ms 50 \
	> "$T/server.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/server.out"; echo "FAIL: the fake server did not start"; exit 1; }
PORT=$(cat "$T/port")

mkdir -p "$T/data"
cat > "$T/data/q.jsonl" <<'EOF'
{"prompt": "ok one", "answer": "the answer is 42"}
{"prompt": "ok two", "answer": "the answer is 42"}
{"prompt": "http500 three", "answer": "x"}
EOF
cat > "$T/load.yaml" <<YAML
name: load
output: $T/out
warmup: 1
max_new_tokens: 4
slo: {ttft_ms: 2000, tpot_ms: 1000}   # every ok request meets it here
models:
  served: {synth: llama-15m}
datasets:
  q: {path: data/q.jsonl, reference: answer}
x-api: &api {plugin: openai, url: "http://127.0.0.1:$PORT"}
backends:
  c2: {<<: *api, load: {mode: closed, concurrency: 2, requests: 6}}
  open: {<<: *api, load: {mode: open, rate: 10, arrivals: constant, requests: 6}}
  poi: {<<: *api, load: {mode: open, rate: 8, seed: 5, duration: 1.5}}
YAML

"$PB" validate "$T/load.yaml" > "$T/val.out" 2>&1; rc=$?
expect_eq "validate passes" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/val.out"
"$PB" run --progress plain "$T/load.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -30 "$T/run.err"

check() { # cell-glob python-body: r (requests rows), s (summary row) in scope
	local cell
	cell=$(ls -d "$T"/out/cells/served.q.dense.$1-* 2>/dev/null | head -n 1)
	[ -n "$cell" ] || { fail "$1: no cell folder"; return; }
	python3 - "$cell" "$2" <<'PY'
import csv, math, sys
cell, body = sys.argv[1], sys.argv[2]
r = list(csv.DictReader(open(cell + "/requests.csv")))
s = next(csv.DictReader(open(cell + "/summary.csv")))
f = lambda x: float(x) if x != "" else math.nan
fails = 0
def check(what, cond, detail=""):
    global fails
    print(("ok: " if cond else "FAIL: ") + what + ("" if cond else " (" + str(detail) + ")"))
    fails += 0 if cond else 1
exec(body)
sys.exit(1 if fails else 0)
PY
	[ $? = 0 ] || fails=$((fails + 1))
}

# the overlap of two send→end intervals, shared by the checks below
OVERLAP='
def spans(): return [(f(x["sent_ms"]), f(x["sent_ms"]) + f(x["done_ms"])) for x in r]
def overlaps():
    sp = sorted(spans()); return sum(1 for a, b in zip(sp, sp[1:]) if b[0] < a[1])
'

check c2 "$OVERLAP"'
check("closed: six requests", len(r) == 6, len(r))
check("closed: records cycled", [x["sample"] for x in r] == ["0", "1", "2", "0", "1", "2"], [x["sample"] for x in r])
check("closed: two clients", sorted(set(x["client"] for x in r)) == ["0", "1"], set(x["client"] for x in r))
check("closed: sent when due (no client queue)", all(f(x["client_queue_ms"]) == 0 for x in r))
check("closed: requests overlap in flight", overlaps() >= 2, overlaps())
check("closed: in_flight_max 2", s["in_flight_max"] == "2", s["in_flight_max"])
check("closed: mode and concurrency", (s["load_mode"], s["load_concurrency"]) == ("closed", "2"))
check("closed: no offered rate", s["offered_rps"] == "")
ok = [x for x in r if x["status"] == "ok"]
check("closed: four ok, two failed", len(ok) == 4 and s["requests_failed"] == "2", len(ok))
w = max(f(x["sent_ms"]) + f(x["done_ms"]) for x in r) / 1e3
check("closed: window = the last end", abs(f(s["load_window_s"]) - w) < 1e-6, (s["load_window_s"], w))
check("closed: achieved_rps = ok / window", abs(f(s["achieved_rps"]) - 4 / w) < 1e-6 * 4 / w, s["achieved_rps"])
tok = sum(int(x["output_tokens"]) for x in ok)
check("closed: output_tok_s = tokens of ok / window", abs(f(s["output_tok_s"]) - tok / w) < 1e-6 * tok / w, s["output_tok_s"])
check("closed: 3 requests in ~1 s of two clients", 0.5 < w < 3, w)
check("closed: goodput share 4/6", abs(f(s["goodput_share"]) - 4 / 6) < 1e-9, s["goodput_share"])
check("closed: goodput rate", abs(f(s["goodput_rps"]) - 4 / w) < 1e-6, s["goodput_rps"])
check("closed: slo recorded", (s["slo_ttft_ms"], s["slo_tpot_ms"]) == ("2000", "1000"))
'

check open "$OVERLAP"'
check("open: six requests", len(r) == 6, len(r))
check("open: scheduled every 100 ms from 0", [f(x["scheduled_ms"]) for x in r] == [0, 100, 200, 300, 400, 500], [x["scheduled_ms"] for x in r])
q = [f(x["client_queue_ms"]) for x in r]
check("open: each sent at its time (queue < 50 ms)", all(0 <= v < 50 for v in q), q)
check("open: sent in schedule order", [f(x["sent_ms"]) for x in r] == sorted(f(x["sent_ms"]) for x in r))
check("open: requests overlap in flight", overlaps() >= 3, overlaps())
check("open: in_flight_max ≥ 2", int(s["in_flight_max"]) >= 2, s["in_flight_max"])
check("open: offered 10/s, as scheduled", (f(s["offered_rps"]), f(s["offered_rps_actual"])) == (10, 10), (s["offered_rps"], s["offered_rps_actual"]))
check("open: arrivals constant", s["load_arrivals"] == "constant")
check("open: a failed request does not stop the others", sum(x["status"] == "ok" for x in r) == 4)
check("open: TTFT still ≈ 150 ms under overlap", all(150 <= f(x["ttft_ms"]) < 900 for x in r if x["status"] == "ok"), [x["ttft_ms"] for x in r])
'

check poi '
t = [f(x["scheduled_ms"]) for x in r]
check("poisson: at least one request", len(r) >= 1, len(r))
check("poisson: first at 0, ascending, all before 1.5 s", t[0] == 0 and t == sorted(t) and t[-1] < 1500, t)
open(sys.argv[1] + "/../../sched-1", "w").write(",".join(x["scheduled_ms"] for x in r))
check("poisson: arrivals poisson", s["load_arrivals"] == "poisson")
'

# the same seed gives the same schedule: rerun the cell
"$PB" run --progress plain --force --cell "$(basename "$(ls -d "$T"/out/cells/served.q.dense.poi-*)")" \
	"$T/load.yaml" > /dev/null 2> "$T/rerun.err" || { tail "$T/rerun.err"; fail "rerun"; }
check poi '
check("poisson: same seed, same schedule", ",".join(x["scheduled_ms"] for x in r) == open(sys.argv[1] + "/../../sched-1").read())
'

# ---- report: the serving tables
"$PB" report "$T/out" > "$T/report.out" 2>&1; rc=$?
expect_eq "report exits 0" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/report.out"
md=$(cat "$T/out/report/tables.md" 2>/dev/null)
expect_contains "report: serving section" "$md" "## Serving: end to end"
expect_contains "report: latency per load" "$md" "TTFT and ITL by load"
expect_contains "report: throughput vs offered load" "$md" "Throughput vs offered load"
expect_contains "report: goodput under the SLO" "$md" "goodput (SLO TTFT ≤ 2000 ms, TPOT ≤ 1000 ms)"
expect_contains "report: a load's row" "$md" "| c2 | closed C=2 |"
html=$(cat "$T/out/report/index.html" 2>/dev/null)
expect_contains "report: the throughput chart" "$html" "Achieved vs offered load"
finish

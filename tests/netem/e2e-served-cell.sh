#!/usr/bin/env bash
# A cell that serves its own chain (issue 16, item 3), on loopback: for
# the dense chain and a magnitude-pruned one, the served cell's text equals
# the in-process cell's (the server loads the cell's own compressed model,
# written as a GGUF), every request row has the client's TTFT and the
# server's queue/prefill/TTFT/decode, the probes sample the server, the
# GGUF and the server are gone afterwards; and a served cell that times out
# leaves no server behind.
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
need_s260k
[ -e "$PB_BUILD_ROOT/plugins/backends/openai/backend-openai.so" ] ||
	{ echo "SKIP: the openai backend was not built (libcurl not found)"; exit 77; }

MODEL=$S260K
mkdir -p "$T/data"
printf 'Once upon a time\nThe little dog\n' > "$T/data/p.txt"
cat > "$T/x.yaml" <<YAML
name: served
output: $T/out
repeat: 1
warmup: 1
max_new_tokens: 10
score_tokens: 0
models:
  s260: {path: $MODEL}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  ref: {}
  srv: {plugin: ref, serve: true}
probes: [procstat]
YAML
"$PB" validate "$T/x.yaml" > "$T/val.out" 2>&1; expect_eq "validate" 0 "$?"
"$PB" run --progress plain "$T/x.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || { tail -30 "$T/run.err"; tail -40 "$T"/out/cells/*srv*/run.log; }
for chain in dense mag; do
	IN=$(ls -d "$T"/out/cells/s260.p.$chain.ref-*)
	SV=$(ls -d "$T"/out/cells/s260.p.$chain.srv-*)
	for i in 0 1; do
		expect_eq "$chain request $i: served text = in-process text" \
			"$("$CSV" "$IN/requests.csv" get $i output_text)" "$("$CSV" "$SV/requests.csv" get $i output_text)"
		expect_eq "$chain request $i: ok" ok "$("$CSV" "$SV/requests.csv" get $i status)"
		for col in ttft_ms server_queue_ms server_prefill_ms server_ttft_ms server_decode_ms; do
			[ -n "$("$CSV" "$SV/requests.csv" get $i $col)" ] && ok "$chain request $i: $col" ||
				fail "$chain request $i: $col empty"
		done
	done
	expect_eq "$chain: summary says served" 1 "$("$CSV" "$SV/summary.csv" get 0 served)"
	expect_eq "$chain: network loopback" loopback "$("$CSV" "$SV/summary.csv" get 0 network)"
	log=$(cat "$SV/run.log")
	expect_contains "$chain: server argv logged" "$log" " serve $SV.tmp/served.gguf --backend ref"
	expect_contains "$chain: server ready" "$log" "ready at http://127.0.0.1:"
	expect_contains "$chain: server stopped by SIGTERM" "$log" "server: stopped, status 0"
	[ -e "$SV/served.gguf" ] && fail "$chain: served.gguf left in the cell" || ok "$chain: served.gguf removed"
	[ "$("$CSV" "$SV/probes.csv" rows)" -gt 0 ] && ok "$chain: probes sampled" || fail "$chain: no probe rows"
done
expect_eq "no server left" "" "$(pgrep -f "$T/out" || true)"
san=$(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T"/out/cells/*/run.log || true)
expect_eq "no sanitizer report in the cells' or servers' logs" "" "$san"

# a served cell that times out: the runner kills the cell's process group,
# the server (in it, and PR_SET_PDEATHSIG) goes too
cat > "$T/slow.yaml" <<YAML
name: slow
output: $T/slow
repeat: 50
warmup: 0
max_new_tokens: 200
timeout: 4s
score_tokens: 0
models:
  l15: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
backends:
  srv: {plugin: ref, serve: true}
YAML
"$PB" run --progress plain "$T/slow.yaml" > "$T/slow.out" 2> "$T/slow.err"
expect_contains "the slow cell timed out" "$(cat "$T/slow.out" "$T/slow.err" "$T"/slow/cells/*/manifest.yaml 2>/dev/null)" "timeout after"
sleep 0.5
expect_eq "no server left after the timeout" "" "$(pgrep -f "$T/slow" || true)"
finish

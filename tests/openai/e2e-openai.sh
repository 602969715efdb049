#!/usr/bin/env bash
# End to end: a cell on the `openai` backend (issue 16 item 2) against a
# fake OpenAI-compatible server (fake-openai.py) that streams canned
# events at known times.  Checks:
#  - each request as the server received it (stream, include_usage,
#    max_tokens, temperature 0, model, the key from api_key_env);
#  - TTFT, every inter-token gap (itl.csv), E2E, TPOT, token counts, the
#    server's usage and queue_ms, bytes and curl's times in requests.csv;
#  - the text lands in output_text and is scored against the reference;
#  - teacher-forced columns are empty, with "unavailable: remote backend";
#  - CRLF/comment/event/multi-line/split framing reads like the plain one;
#  - HTTP 500, a malformed stream, an error event and a server closing
#    mid-stream give failed requests with their reasons, the cell goes on;
#  - connection refused: every request fails, the cell fails with the
#    reason, and requests.csv stays;
#  - validate refuses a chain on a remote backend and says why; an unset
#    api_key_env is said.
# Skips (77) without python3 or without the plugin (no libcurl).
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
command -v python3 > /dev/null || { echo "SKIP: python3 is needed for the fake server"; exit 77; }
[ -e "$PB_BUILD_ROOT/plugins/backends/openai/backend-openai.so" ] ||
	{ echo "SKIP: the openai backend was not built (libcurl not found)"; exit 77; }
HERE=$PB_SOURCE_ROOT/tests/openai

TTFT=150 ITL=50
python3 "$HERE/fake-openai.py" "$T/port" "$T/server.log" --ttft-ms $TTFT --itl-ms $ITL \
	> "$T/server.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/server.out"; echo "FAIL: the fake server did not start"; exit 1; }
PORT=$(cat "$T/port")

mkdir -p "$T/data"
cat > "$T/data/q.jsonl" <<'EOF'
{"prompt": "ok what is the answer?", "answer": "the answer is 42"}
{"prompt": "weird framing, same answer", "answer": "the answer is 42"}
{"prompt": "oneshot reply", "answer": "the answer is 42"}
{"prompt": "http500 please", "answer": "x"}
{"prompt": "malformed please", "answer": "x"}
{"prompt": "close please", "answer": "x"}
{"prompt": "errevent please", "answer": "x"}
EOF
write_exp() { # file url extra-pruner-line
	cat > "$1" <<YAML
name: remote
output: $T/out-$(basename "$1" .yaml)
repeat: 1
warmup: 0
max_new_tokens: 8
models:
  served: {synth: llama-15m}   # a label here: the server holds the model
datasets:
  q: {path: data/q.jsonl, reference: answer}
pruners:
  dense: []
${3:-}
backends:
  api: {plugin: openai, url: "$2", model: fake-model, api_key_env: PB_TEST_OPENAI_KEY}
YAML
}
write_exp "$T/ok.yaml" "http://127.0.0.1:$PORT/v1/"
export PB_TEST_OPENAI_KEY=sk-test-123

"$PB" validate "$T/ok.yaml" > "$T/val.out" 2>&1; rc=$?
expect_eq "validate passes" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/val.out"

"$PB" run --progress plain "$T/ok.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0 (some requests succeed)" 0 "$rc"
[ "$rc" = 0 ] || tail -30 "$T/run.err"
cell=$(ls -d "$T"/out-ok/cells/served.q.dense.api-*)
R=$cell/requests.csv
S=$cell/summary.csv

# ---- what the server received
log=$T/server.log
expect_eq "seven requests reached the server" 7 "$(wc -l < "$log")"
req=$(head -n 1 "$log")
py() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$req"; }
expect_eq "stream: true" True "$(py x "d['body']['stream']")"
expect_eq "stream_options.include_usage" True "$(py x "d['body']['stream_options']['include_usage']")"
expect_eq "max_tokens = max_new_tokens" 8 "$(py x "d['body']['max_tokens']")"
expect_eq "temperature 0" 0 "$(py x "d['body']['temperature']")"
expect_eq "model" fake-model "$(py x "d['body']['model']")"
expect_eq "prompt sent as is" "ok what is the answer?" "$(py x "d['body']['prompt']")"
expect_eq "the key from api_key_env" "Bearer sk-test-123" "$(py x "d['authorization']")"
if grep -q "sk-test-123" -r "$cell"; then fail "the API key must never be written to results"; else ok "the key is not in the results"; fi

# ---- the requests
expect_eq "seven rows" 7 "$("$CSV" "$R" rows)"
col() { "$CSV" "$R" get "$1" "$2"; }
ge() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$1" "$2"; }
lt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
for r in 0 1; do
	expect_eq "request $r: ok" ok "$(col $r status)"
	expect_eq "request $r: 4 output tokens from the stream" 4 "$(col $r output_tokens)"
	expect_eq "request $r: text" "the answer is 42" "$(col $r output_text)"
	expect_eq "request $r: exact match scored" 1 "$(col $r exact_match)"
	expect_eq "request $r: usage prompt tokens" 7 "$(col $r usage_prompt_tokens)"
	expect_eq "request $r: prompt_tokens from usage" 7 "$(col $r prompt_tokens)"
	expect_eq "request $r: usage completion tokens" 4 "$(col $r usage_completion_tokens)"
	expect_eq "request $r: server queue_ms" 12.5 "$(col $r server_queue_ms)"
	expect_eq "request $r: finish_reason" stop "$(col $r finish_reason)"
	expect_eq "request $r: streamed" 1 "$(col $r streamed)"
	expect_eq "request $r: HTTP 200" 200 "$(col $r http_status)"
	ttft=$(col $r ttft_ms) e2e=$(col $r e2e_ms) tpot=$(col $r tpot_ms)
	# the server waits TTFT ms for the first token, ITL ms between the
	# next ones; the client cannot see them earlier, and on a busy
	# machine may see them later (bounded generously above)
	if ge "$ttft" $TTFT && lt "$ttft" $((TTFT + 500)); then ok "request $r: TTFT $ttft ms ≈ $TTFT"; else fail "request $r: TTFT $ttft ms, expected ≥ $TTFT and < $((TTFT + 500))"; fi
	if ge "$e2e" $((TTFT + 3 * ITL - 5)) && lt "$e2e" $((TTFT + 3 * ITL + 800)); then ok "request $r: E2E $e2e ms"; else fail "request $r: E2E $e2e ms, expected ≈ $((TTFT + 3 * ITL))"; fi
	want=$(python3 -c "print(($e2e - $ttft) / 3)")
	if python3 -c "import sys; sys.exit(0 if abs($tpot - $want) < 1e-6 else 1)"; then ok "request $r: TPOT = (E2E − TTFT)/(tokens − 1)"; else fail "request $r: TPOT $tpot, expected $want"; fi
	if ge "$(col $r first_byte_ms)" 0 && ge "$ttft" "$(col $r first_byte_ms)"; then ok "request $r: first byte before the first token"; else fail "request $r: first_byte_ms $(col $r first_byte_ms) vs TTFT $ttft"; fi
	ge "$(col $r connect_ms)" 0 && ok "request $r: connect_ms recorded" || fail "request $r: connect_ms '$(col $r connect_ms)'"
	expect_eq "request $r: no TLS on http" "" "$(col $r tls_ms)"
	sent=$(python3 -c "import json; print([json.loads(l) for l in open('$log')][$r]['body_bytes_sent'])")
	reqb=$(python3 -c "import json; print([json.loads(l) for l in open('$log')][$r]['request_bytes'])")
	if ge "$(col $r bytes_received)" "$sent"; then ok "request $r: bytes_received ≥ the $sent body bytes sent"; else fail "request $r: bytes_received $(col $r bytes_received) < $sent"; fi
	if ge "$(col $r bytes_sent)" "$reqb"; then ok "request $r: bytes_sent ≥ the $reqb body bytes"; else fail "request $r: bytes_sent $(col $r bytes_sent) < $reqb"; fi
done
expect_eq "request 0 opened the connection" 1 "$(col 0 new_connections)"
expect_eq "request 1 reused it (keep-alive)" 0 "$(col 1 new_connections)"
expect_eq "oneshot: ok" ok "$(col 2 status)"
expect_eq "oneshot: not streamed" 0 "$(col 2 streamed)"
expect_eq "oneshot: the text" "the answer is 42" "$(col 2 output_text)"
expect_eq "oneshot: one piece" 1 "$(col 2 output_tokens)"

expect_eq "HTTP 500: failed" failed "$(col 3 status)"
expect_contains "HTTP 500: reason" "$(col 3 error)" "HTTP 500: boom (server_error)"
expect_eq "HTTP 500: status recorded" 500 "$(col 3 http_status)"
expect_eq "malformed: failed" failed "$(col 4 status)"
expect_contains "malformed: reason" "$(col 4 error)" "event 2 of the stream: malformed JSON"
expect_eq "malformed: the token before it is kept" "the" "$(col 4 output_text)"
expect_eq "malformed: no TTFT for a failed request" "" "$(col 4 ttft_ms)"
expect_eq "close: failed" failed "$(col 5 status)"
expect_contains "close: reason" "$(col 5 error)" "mid-"
expect_eq "close: the two tokens that came are kept" 2 "$(col 5 output_tokens)"
expect_eq "errevent: failed" failed "$(col 6 status)"
expect_contains "errevent: reason" "$(col 6 error)" "error event: out of memory (server_error)"
expect_eq "failed requests are not scored" "" "$(col 3 exact_match)"

# ---- the gaps: 3 per ok stream (the one-shot reply has none)
I=$cell/itl.csv
expect_eq "itl.csv: every gap of the ok requests" 6 "$("$CSV" "$I" rows)"
bad=0
for g in $("$CSV" "$I" column itl_ms); do
	if ! ge "$g" $((ITL - 5)) || ! lt "$g" $((ITL + 500)); then bad=1; echo "gap $g"; fi
done
expect_eq "every gap ≈ $ITL ms" 0 "$bad"

# ---- summary and manifest
expect_eq "requests_failed" 4 "$("$CSV" "$S" get 0 requests_failed)"
expect_eq "remote" 1 "$("$CSV" "$S" get 0 remote)"
expect_eq "perplexity unavailable: empty" "" "$("$CSV" "$S" get 0 perplexity)"
expect_eq "agreement unavailable: empty" "" "$("$CSV" "$S" get 0 agreement_top1)"
expect_eq "KL unavailable: empty" "" "$("$CSV" "$S" get 0 kl_mean)"
expect_eq "params unknown: empty" "" "$("$CSV" "$S" get 0 params_total)"
expect_eq "exact match over the scored ok requests" 1 "$("$CSV" "$S" get 0 exact_match)"
expect_eq "server_queue_ms_p50" 12.5 "$("$CSV" "$S" get 0 server_queue_ms_p50)"
expect_eq "usage completion tokens mean" 4 "$("$CSV" "$S" get 0 usage_completion_tokens_mean)"
expect_contains "manifest: the reason" "$(cat "$cell/manifest.yaml")" "unavailable: remote backend"
expect_contains "manifest: model not loaded" "$(cat "$cell/manifest.yaml")" "no: remote backend"
expect_contains "run.log names the failures" "$(cat "$cell/run.log")" "request 3 (repeat 0) failed"

"$PB" report "$T/out-ok" > "$T/report.out" 2>&1; rc=$?
expect_eq "report reads a remote cell" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/report.out"

# ---- connection refused: a port nobody listens on
python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" > "$T/dead"
write_exp "$T/dead.yaml" "http://127.0.0.1:$(cat "$T/dead")"
"$PB" run --progress plain "$T/dead.yaml" > /dev/null 2> "$T/dead.err"; rc=$?
expect_eq "refused: run exits 1" 1 "$rc"
dcell=$(ls -d "$T"/out-dead/cells/served.q.dense.api-*)
expect_eq "refused: the cell failed" failed "$("$CSV" "$dcell/summary.csv" get 0 status)"
expect_contains "refused: the reason" "$("$CSV" "$dcell/summary.csv" get 0 reason)" "cannot connect to http://127.0.0.1:$(cat "$T/dead")/v1/completions"
expect_eq "refused: requests.csv kept, every request" 7 "$("$CSV" "$dcell/requests.csv" rows)"

# ---- validate: a chain on a remote backend; an unset key
write_exp "$T/chain.yaml" "http://127.0.0.1:$PORT" "  mag: [{magnitude: {sparsity: 0.5}}]"
out=$("$PB" validate "$T/chain.yaml" 2>&1); rc=$?
expect_eq "validate refuses a chain on a remote backend" 1 "$((rc != 0))"
expect_contains "and says why" "$out" "backend 'api' (openai) is remote"
expect_contains "and how to fix it" "$out" "a remote cell's chain must be dense ([])"
unset PB_TEST_OPENAI_KEY
"$PB" run --progress plain "$T/ok.yaml" --force > /dev/null 2> "$T/nokey.err"; rc=$?
expect_eq "unset api_key_env: the cell fails" 1 "$rc"
expect_contains "unset api_key_env: said" "$(cat "$T/nokey.err")" "PB_TEST_OPENAI_KEY' is not set"
finish

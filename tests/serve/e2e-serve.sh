#!/usr/bin/env bash
# End to end: `prunebench serve` on loopback, through curl.  stories260K
# (shipped) for text: /health, /v1/models, a completion whose text is
# `prunebench generate`'s, the same streamed (SSE framing, [DONE] last,
# usage chunk, deltas joined = the whole text), chat with its template
# named, stop strings, 400/404/405/413 error objects.  The synthetic
# llama-15m (slower) for timing: a client that hangs up mid-stream frees
# the worker, and two requests at once are both served, one queued.
# SIGTERM stops the server with status 0.
. "$(dirname "$0")/../e2e/lib.sh"
need_s260k
command -v curl > /dev/null || { echo "SKIP: the curl command is not installed"; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: python3 (to read the JSON) is not installed"; exit 77; }
MODEL="$S260K"
[ -r "$MODEL" ] || { echo "SKIP: $MODEL is missing"; exit 77; }

# start_server NAME ARGS...: sets URL and PID_NAME; the log in $T/NAME.err
start_server() {
	local name=$1
	shift
	"$PB" serve "$@" --port 0 > "$T/$name.out" 2> "$T/$name.err" &
	eval "PID_$name=$!"
	for _ in $(seq 200); do
		URL=$(sed -n 's/^listening on //p' "$T/$name.out")
		[ -n "$URL" ] && return 0
		sleep 0.05
	done
	fail "$name: no 'listening on' line"; cat "$T/$name.err"; finish
}
stop_server() { # NAME: SIGTERM, exit status 0
	local pid
	eval "pid=\$PID_$1"
	kill -TERM "$pid"
	wait "$pid"
	expect_eq "$1: SIGTERM stops it with status 0" 0 "$?"
	if grep -q "runtime error\|Sanitizer" "$T/$1.err"; then
		fail "$1: a sanitizer spoke"; cat "$T/$1.err"
	fi
}
trap 'kill $PID_a $PID_b 2>/dev/null; rm -rf "$T"' EXIT
post() { # PATH JSON [curl args]: body on stdout
	local p=$1 d=$2
	shift 2
	curl -s "$@" -H 'Content-Type: application/json' -d "$d" "$URL$p"
}
jget() { # JSON-FILE-or-text python-expression-on-j
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

start_server a "$MODEL"
expect_contains "stdout: one line, the address" "$(cat "$T/a.out")" "listening on http://127.0.0.1:"
expect_eq "GET /health" '{"status":"ok"}' "$(curl -s "$URL/health")"
out=$(curl -s "$URL/v1/models")
expect_eq "GET /v1/models: the one model" "list stories260K model" "$(jget "$out" 'j["object"], j["data"][0]["id"], j["data"][0]["object"]' | tr -d "(),'")"

# the text is generate's, token for token
want=$("$PB" generate "$MODEL" --prompt "Once upon a time" -n 40 2> /dev/null)
out=$(post /v1/completions '{"model":"x","prompt":"Once upon a time","max_tokens":40}' -D "$T/h")
expect_eq "completion: generate's text" "$want" "$(jget "$out" 'j["choices"][0]["text"]')"
expect_eq "completion: object, model echoed, finish, usage" "text_completion x length 5 40 45" \
	"$(jget "$out" 'j["object"], j["model"], j["choices"][0]["finish_reason"], j["usage"]["prompt_tokens"], j["usage"]["completion_tokens"], j["usage"]["total_tokens"]' | tr -d "(),'")"
expect_eq "completion: prunebench timings" "True" "$(jget "$out" 'all(k in j["prunebench"] for k in ("queue_ms","prefill_ms","decode_ms","ttft_ms"))')"
expect_contains "completion: X-Queue-Time-Ms header" "$(cat "$T/h")" "X-Queue-Time-Ms: "

# streamed: the SSE framing checked strictly, the deltas joined
post /v1/completions '{"prompt":"Once upon a time","max_tokens":40,"stream":true,"stream_options":{"include_usage":true}}' -N -D "$T/h" > "$T/sse"
expect_contains "stream: text/event-stream" "$(cat "$T/h")" "Content-Type: text/event-stream"
check=$(python3 - "$T/sse" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
events = raw.split("\n\n")
assert events[-1] == "", "the stream ends with a blank line"
events = events[:-1]
assert all(e.startswith("data: ") and "\n" not in e for e in events), "each event is one data: line"
assert events[-1] == "data: [DONE]", "[DONE] last"
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert all(c["object"] == "text_completion" for c in chunks)
usage = chunks[-1]
assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 40, "usage chunk last"
fin = chunks[-2]["choices"][0]
assert fin["finish_reason"] == "length" and "queue_ms" in chunks[-2]["prunebench"]
assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
print("".join(c["choices"][0]["text"] for c in chunks[:-1]), end="")
PY
)
expect_eq "stream: framing ok, deltas joined = generate's text" "$want" "$check"

# chat: the plain template for a llama2.c model; one user message is a completion of its text
out=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":40}')
expect_eq "chat: plain template, generate's text" "chat.completion assistant plain" \
	"$(jget "$out" 'j["object"], j["choices"][0]["message"]["role"], j["prunebench"]["chat_template"]' | tr -d "(),'")"
expect_eq "chat: the text" "$want" "$(jget "$out" 'j["choices"][0]["message"]["content"]')"
expect_contains "startup log names the template" "$(cat "$T/a.err")" "chat template plain"
post /v1/chat/completions '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":5,"stream":true}' -N > "$T/csse"
check=$(python3 - "$T/csse" <<'PY'
import json, sys
ev = open(sys.argv[1]).read().split("\n\n")[:-1]
assert ev[-1] == "data: [DONE]"
ch = [json.loads(e[6:]) for e in ev[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in ch)
assert ch[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
assert ch[-1]["choices"][0]["finish_reason"] in ("stop", "length")
assert ch[-1]["prunebench"]["chat_template"] == "plain"
print("ok")
PY
)
expect_eq "chat stream: role first, chunks, finish with the template" ok "$check"

# stop strings: generation ends before the stop text, which is not returned
stop_at=$(printf '%s' "$want" | cut -c1-30 | awk '{print $NF}')
out=$(post /v1/completions "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"stop\":[\"zzz\",\"$stop_at\"]}")
text=$(jget "$out" 'j["choices"][0]["text"]')
expect_eq "stop: finish_reason stop" stop "$(jget "$out" 'j["choices"][0]["finish_reason"]')"
expect_eq "stop: the text up to the stop string" "${want%%"$stop_at"*}" "$text"
post /v1/completions "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"stream\":true,\"stop\":\"$stop_at\"}" -N > "$T/ssse"
joined=$(python3 -c 'import json,sys; ev=open(sys.argv[1]).read().split("\n\n")[:-2]; print("".join(json.loads(e[6:])["choices"][0]["text"] for e in ev), end="")' "$T/ssse")
expect_eq "stop, streamed: the same text" "$text" "$joined"

# errors: OpenAI's error object, the right status
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
etype() { jget "$(cat "$T/body")" 'j["error"]["type"]'; }
expect_eq "malformed JSON: 400" 400 "$(code -d '{"prompt": "x",' "$URL/v1/completions")"
expect_contains "malformed JSON: line and column" "$(cat "$T/body")" "malformed JSON at line 1, column"
expect_eq "malformed JSON: invalid_request_error" invalid_request_error "$(etype)"
expect_eq "temperature 0.8: 400" 400 "$(code -d '{"prompt": "x", "temperature": 0.8}' "$URL/v1/completions")"
expect_contains "temperature: says greedy only" "$(cat "$T/body")" "decodes greedily"
expect_eq "temperature 0: 200" 200 "$(code -d '{"prompt": "x", "temperature": 0, "max_tokens": 2}' "$URL/v1/completions")"
expect_eq "no prompt: 400" 400 "$(code -d '{"max_tokens": 2}' "$URL/v1/completions")"
expect_eq "bad role: 400" 400 "$(code -d '{"messages": [{"role": "tool", "content": "x"}]}' "$URL/v1/chat/completions")"
expect_eq "unknown path: 404" 404 "$(code "$URL/v1/embeddings")"
expect_eq "404: error object" invalid_request_error "$(etype)"
expect_eq "GET on a POST endpoint: 405" 405 "$(code "$URL/v1/completions")"
expect_eq "POST on /health: 405" 405 "$(code -d '{}' "$URL/health")"
head -c 2000000 /dev/zero | tr '\0' ' ' > "$T/big"
expect_eq "oversized body: 413" 413 "$(code --data-binary @"$T/big" "$URL/v1/completions")"
expect_contains "413: says the limit" "$(cat "$T/body")" "at most 1048576"
expect_eq "oversized chunked body: 413" 413 "$(code -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$URL/v1/completions")"
expect_eq "still serving after the errors" '{"status":"ok"}' "$(curl -s "$URL/health")"
stop_server a

# timing cases on a slower model: ~7 ms a token on ref
start_server b synth:llama-15m
# a client that hangs up mid-stream: the worker stops at its next token
post /v1/completions '{"prompt":"a","max_tokens":240,"stream":true}' -N --max-time 0.4 > /dev/null
t0=$(date +%s%N)
out=$(post /v1/completions '{"prompt":"b","max_tokens":2}')
t1=$(date +%s%N)
expect_eq "after a hang-up: the next request is served" 2 "$(jget "$out" 'j["usage"]["completion_tokens"]')"
sleep 0.1
if grep -q "the client went away; stopped after" "$T/b.err"; then
	n=$(sed -n 's/.*the client went away; stopped after \([0-9]*\) tokens.*/\1/p' "$T/b.err")
	if [ "$n" -lt 240 ]; then ok "hang-up: generation stopped early ($n of 240 tokens)"; else fail "hang-up: ran all $n tokens"; fi
else
	fail "hang-up: the server did not notice"; cat "$T/b.err"
fi
# two at once: both served, the second queued behind the first
post /v1/completions '{"prompt":"a","max_tokens":150}' > "$T/r1" &
c1=$!
sleep 0.3
post /v1/completions '{"prompt":"b","max_tokens":3}' -D "$T/h2" > "$T/r2"
wait $c1
expect_eq "concurrent: first served" 150 "$(jget "$(cat "$T/r1")" 'j["usage"]["completion_tokens"]')"
expect_eq "concurrent: second served" 3 "$(jget "$(cat "$T/r2")" 'j["usage"]["completion_tokens"]')"
q=$(jget "$(cat "$T/r2")" 'j["prunebench"]["queue_ms"]')
expect_eq "concurrent: the second waited in the queue (queue_ms $q > 0)" True "$(jget "$q" 'j > 0')"
expect_eq "concurrent: header agrees" True "$(jget "$(sed -n 's/^X-Queue-Time-Ms: \([0-9.]*\).*/\1/p' "$T/h2")" 'j > 0')"
stop_server b

# a chain: serve -p equals generate on prune's output
"$PB" -q prune "$MODEL" -p 'magnitude sparsity=0.5' -o "$T/pruned.gguf" > /dev/null 2>&1 || fail "prune for the chain case"
want=$("$PB" generate "$T/pruned.gguf" --prompt "Once upon a time" -n 24 2> /dev/null)
start_server a "$MODEL" -p 'magnitude sparsity=0.5'
expect_contains "chain: the step's report on stderr" "$(cat "$T/a.err")" "step 1  magnitude sparsity=0.5"
expect_eq "chain: stdout is only the address" 1 "$(wc -l < "$T/a.out")"
out=$(post /v1/completions '{"prompt":"Once upon a time","max_tokens":24}')
expect_eq "chain: the text is generate's on the pruned model" "$want" "$(jget "$out" 'j["choices"][0]["text"]')"
stop_server a

out=$("$PB" serve "$MODEL" --port 0 --chat-template nope 2>&1); rc=$?
expect_eq "unknown --chat-template: exit 1" 1 "$rc"
expect_contains "unknown --chat-template: named" "$out" "--chat-template nope: unknown"
finish

#!/usr/bin/env python3
"""tests/openai/fake-openai.py — a tiny OpenAI-compatible server for the
openai backend's tests: POST /v1/completions answers with canned
Server-Sent Events at known times, so a test knows what the client must
record.

    fake-openai.py PORT_FILE LOG_FILE [--ttft-ms 150] [--itl-ms 50]

Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and appends
one JSON line per request to LOG_FILE: the request body, its
Authorization header, the scenario and the bytes of the response body it
sent.  The scenario is the first word of the prompt:

  ok        4 tokens "the", " answer", " is", " 42" (TTFT --ttft-ms, then one
            every --itl-ms), finish_reason "stop", a final usage chunk
            (prompt_tokens 7, completion_tokens 4) with the prunebench
            extension {"queue_ms": 12.5}, data: [DONE]; LF line ends
  weird     the same tokens framed the hard way: CRLF line ends, ":" comments,
            "event: message" and "id:" fields, a data field over two lines,
            no space after "data:", every write split at odd places
  oneshot   stream ignored: one JSON completion body (not SSE)
  http500   HTTP 500 {"error": {"message": "boom", "type": "server_error"}}
  malformed one good token, then "data: {not json"
  close     two tokens, then the connection is dropped (no [DONE], no
            final chunk of the chunked encoding)
  errevent  one token, then an "event: error" with a message
Anything else is "ok".  HTTP/1.1 with chunked encoding and keep-alive, as
llama-server and vLLM answer.
"""
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = ["the", " answer", " is", " 42"]
TTFT_MS = 150.0
ITL_MS = 50.0
LOG = None


def chunk(i, text, finish=None):
    return {"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}


USAGE = {"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": "fake",
         "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
         "prunebench": {"queue_ms": 12.5}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # each event leaves when written, as real servers send them: with
        # Nagle on, a small write waits for the client's delayed ACK
        # (~40 ms) and events arrive in bunches
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_chunk(self, data):
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        self.sent += len(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def reply_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.sent += len(body)

    def do_GET(self):
        self.sent = 0
        if self.path == "/health":
            self.reply_json(200, {"status": "ok"})
        else:
            self.reply_json(404, {"error": {"message": "no such path", "type": "not_found"}})

    def do_POST(self):
        self.sent = 0
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            self.reply_json(400, {"error": {"message": "malformed JSON", "type": "invalid_request_error"}})
            return
        if self.path != "/v1/completions":
            self.reply_json(404, {"error": {"message": "no such path", "type": "not_found"}})
            return
        prompt = str(body.get("prompt", ""))
        words = prompt.split()
        scenario = words[0] if words and words[0] in (
            "ok", "weird", "oneshot", "http500", "malformed", "close", "errevent") else "ok"
        t0 = time.monotonic()
        getattr(self, "s_" + scenario)()
        with open(LOG, "a") as f:
            f.write(json.dumps({"scenario": scenario, "body": body,
                                "authorization": self.headers.get("Authorization"),
                                "request_bytes": n, "body_bytes_sent": self.sent,
                                "ms": (time.monotonic() - t0) * 1e3}) + "\n")
        if scenario == "close":
            self.close_connection = True

    def wait_until(self, t0, ms):
        d = t0 + ms / 1e3 - time.monotonic()
        if d > 0:
            time.sleep(d)

    def s_ok(self):
        t0 = time.monotonic()
        self.start_stream()
        for i, tok in enumerate(TOKENS):
            self.wait_until(t0, TTFT_MS + i * ITL_MS)
            fin = "stop" if i == len(TOKENS) - 1 else None
            self.send_chunk(b"data: " + json.dumps(chunk(i, tok, fin)).encode() + b"\n\n")
        self.send_chunk(b"data: " + json.dumps(USAGE).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def s_weird(self):
        t0 = time.monotonic()
        self.start_stream()
        self.send_chunk(b": keep-alive comment\r\n\r\n")
        for i, tok in enumerate(TOKENS):
            self.wait_until(t0, TTFT_MS + i * ITL_MS)
            fin = "stop" if i == len(TOKENS) - 1 else None
            js = json.dumps(chunk(i, tok, fin))
            # the JSON over two data lines, cut between two members (the
            # "\n" that joins them is whitespace to JSON)
            half = js.index(', "choices"') + 1
            ev = ("event: message\r\nid: %d\r\ndata:%s\r\ndata: %s\r\n\r\n"
                  % (i, js[:half], js[half:])).encode()
            # split inside the CRLF and mid-field: separate writes
            cut = [0, 3, len(ev) // 2, len(ev) - 1, len(ev)]
            for a, b in zip(cut, cut[1:]):
                self.send_chunk(ev[a:b])
        self.send_chunk(b"data: " + json.dumps(USAGE).encode() + b"\r\n\r\n")
        self.send_chunk(b"data: [DONE]\r\n\r\n")
        self.end_stream()

    def s_oneshot(self):
        time.sleep(TTFT_MS / 1e3)
        obj = chunk(0, "".join(TOKENS), "stop")
        obj["usage"] = USAGE["usage"]
        self.reply_json(200, obj)

    def s_http500(self):
        self.reply_json(500, {"error": {"message": "boom", "type": "server_error"}})

    def s_malformed(self):
        self.start_stream()
        self.send_chunk(b"data: " + json.dumps(chunk(0, "the")).encode() + b"\n\n")
        self.send_chunk(b"data: {not json\n\n")
        self.end_stream()

    def s_close(self):
        self.start_stream()
        for i, tok in enumerate(TOKENS[:2]):
            self.send_chunk(b"data: " + json.dumps(chunk(i, tok)).encode() + b"\n\n")
            time.sleep(0.01)
        # drop the connection: no [DONE], no last chunk
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def s_errevent(self):
        self.start_stream()
        self.send_chunk(b"data: " + json.dumps(chunk(0, "the")).encode() + b"\n\n")
        self.send_chunk(b"event: error\ndata: {\"error\": {\"message\": \"out of memory\", "
                        b"\"type\": \"server_error\"}}\n\n")
        self.end_stream()


def main():
    global TTFT_MS, ITL_MS, LOG
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    port_file, LOG = args[0], args[1]
    rest = args[2:]
    while rest:
        k, v = rest[0], float(rest[1])
        rest = rest[2:]
        if k == "--ttft-ms":
            TTFT_MS = v
        elif k == "--itl-ms":
            ITL_MS = v
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()

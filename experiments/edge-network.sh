#!/usr/bin/env bash
# experiments/edge-network.sh — runs experiments/edge-network.yaml on this
# machine: starts `prunebench serve` of stories260K (dense, cpu-blas) on
# 127.0.0.1:8090 for the remote cells, runs the experiment with --report,
# stops the server.  Extra arguments go to `prunebench run` (e.g. --force).
# Once `serve: true` is merged the experiment starts its own servers and
# this wrapper is no longer needed (see the YAML's header).
set -euo pipefail
cd "$(dirname "$0")/.."
pb=${PB:-build/prunebench}
port=8090
log=$(mktemp)
"$pb" serve models/stories260K/stories260K.bin --backend cpu-blas --port $port > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 200); do
	curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
	kill -0 $server 2>/dev/null || { cat "$log"; echo "serve did not start (port $port taken?)" >&2; exit 1; }
	sleep 0.05
done
"$pb" run experiments/edge-network.yaml --report "$@"

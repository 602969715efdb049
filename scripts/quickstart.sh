#!/usr/bin/env bash
# scripts/quickstart.sh — README command 1: install what is missing, build,
# run experiments/quickstart.yaml (a synthetic llama-15m and the trained
# stories260K from ../shared beside the clone; nothing is downloaded), print its summary
# table and write its report
# (results/quickstart/report/index.html; the last line says where).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
m=../shared/models/stories260K/stories260K.bin
[ -r "$m" ] || { echo "quickstart: $m not found: the quickstart reads the trained stories260K from ../shared beside this repository" >&2; exit 1; }
build/prunebench validate experiments/quickstart.yaml
build/prunebench run experiments/quickstart.yaml --report "$@"

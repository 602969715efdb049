#!/usr/bin/env bash
# scripts/quickstart.sh — README command 1: install what is missing, build,
# run experiments/quickstart.yaml (a synthetic llama-15m and the shipped,
# trained models/stories260K; nothing is downloaded), print its summary
# table and write its report
# (results/quickstart/report/index.html; the last line says where).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/prunebench validate experiments/quickstart.yaml
build/prunebench run experiments/quickstart.yaml --report "$@"

#!/usr/bin/env bash
# scripts/quickstart.sh — README command 1: install what is missing, build,
# run experiments/quickstart.yaml (a synthetic llama-15m, nothing is
# downloaded) and print its summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/prunebench validate experiments/quickstart.yaml
build/prunebench run experiments/quickstart.yaml "$@"

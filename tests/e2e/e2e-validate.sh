#!/usr/bin/env bash
# End to end: `validate` and `run` refuse bad experiments before any cell
# runs, with file:line:col; a plugin that fails to load is named with its
# cause; `plugins` documents options.
. "$(dirname "$0")/lib.sh"
write_prompts
base() {
cat <<YAML
name: v
output: $T/out
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
backends:
  ref: {}
YAML
}

{ base; printf 'pruners:\n  x:\n    - magnitud: {sparsity: 0.5}\n'; } > "$T/typo.yaml"
out=$("$PB" validate "$T/typo.yaml" 2>&1); rc=$?
expect_eq "unknown plugin: exit 1" 1 "$rc"
expect_contains "unknown plugin: position" "$out" "typo.yaml:11:7"
expect_contains "unknown plugin: suggestion" "$out" "did you mean 'magnitude'"

{ base; printf 'pruners:\n  x:\n    - magnitude: {sparsity: 1.5}\n'; } > "$T/range.yaml"
out=$("$PB" run "$T/range.yaml" 2>&1); rc=$?
expect_eq "out of range: run refuses" 1 "$rc"
expect_contains "out of range: position and bounds" "$out" "range.yaml:11:29"
[ -e "$T/out" ] && fail "a refused run created its output folder" || ok "nothing written for a refused run"

{ base; printf 'pruners:\n  x: [wrongabi]\n'; } > "$T/badplug.yaml"
out=$(PRUNEBENCH_PLUGIN_PATH=${FAKE_PLUGINS_BAD:?} "$PB" validate "$T/badplug.yaml" 2>&1); rc=$?
expect_eq "broken plugin: exit 1" 1 "$rc"
expect_contains "broken plugin: file named" "$out" "pruner-wrongabi.so"
expect_contains "broken plugin: cause named" "$out" "ABI"

out=$(PRUNEBENCH_PLUGIN_PATH=$FAKE_PLUGINS_BAD "$PB" plugins 2>&1)
expect_contains "plugins lists load failures" "$out" "pruner-nosym.so"
out=$("$PB" plugins magnitude 2>&1); rc=$?
expect_eq "plugins NAME exits 0" 0 "$rc"
expect_contains "plugins documents options" "$out" "sparsity"
out=$("$PB" plugins magnitud 2>&1)
expect_contains "plugins suggests" "$out" "magnitude"
finish

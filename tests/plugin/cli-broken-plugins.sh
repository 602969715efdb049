#!/bin/sh
# tests/plugin/cli-broken-plugins.sh — a truncated plugin file and plugins
# whose constructor crashes or hangs, on the search path of `plugins`,
# `validate` and `run` (issue 14, items 2 and 3): each costs one warning
# line naming the file and the cause, and the command goes on with the
# other plugins.  Before the scan ran in a child, the truncated file killed
# every such command with SIGBUS and the crashing constructor with SIGSEGV.
# Usage: cli-broken-plugins.sh GOOD_DIR CTOR_DIR
set -eu

build=${PB_BUILD_ROOT:?PB_BUILD_ROOT not set (run through meson test)}
exe=$build/prunebench
good=${1:?GOOD_DIR}
ctor=${2:?CTOR_DIR}

fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$exe" ] || { echo "SKIP: $exe is not built"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-cli-broken-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/t"
size=$(wc -c < "$good/pruner-good.so")
head -c $((size / 2)) "$good/pruner-good.so" > "$tmp/t/pruner-trunc.so"
export PRUNEBENCH_PLUGIN_PATH="$tmp/t:$ctor:$good"
export PRUNEBENCH_PLUGIN_TIMEOUT=1
# the crashing constructor must end in a signal, not in ASan's report
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"

has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' missing from $1"; }; }
# count FILE TEXT: lines of FILE holding TEXT
count() { grep -cF -- "$2" "$1" || true; }
run() {
	want=$1
	shift
	rc=0
	"$exe" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "'prunebench $*' exited $rc, expected $want"; }
}
# one warning line per broken file, naming it and the cause
warned() {
	has "$tmp/err" "$tmp/t/pruner-trunc.so: truncated ELF"
	has "$tmp/err" "$ctor/pruner-ctorcrash.so: loading it was killed by SIGSEGV"
	has "$tmp/err" "$ctor/pruner-ctorhang.so: loading it did not finish within 1 s"
	[ "$(count "$tmp/err" "pruner-ctorcrash.so")" -eq 1 ] || { cat "$tmp/err" >&2; fail "ctorcrash warned more than once"; }
}

run 0 plugins
warned
grep -Eq "^pruner +good +1\.2\.3 .* +ok\$" "$tmp/out" || { cat "$tmp/out"; fail "no row for pruner good"; }
grep -Eq "^pruner +ctormark " "$tmp/out" || { cat "$tmp/out"; fail "no row for pruner ctormark"; }
has "$tmp/out" "failed to load (3):"

run 0 plugins good
has "$tmp/out" "name:      good"

cat > "$tmp/p.txt" <<'TXT'
Hello there
TXT
cat > "$tmp/exp.yaml" <<YAML
name: broken-plugins
output: $tmp/out-run
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0
models:
  m: {synth: llama-15m}
datasets:
  p: {path: $tmp/p.txt}
pruners:
  g: [good]
backends:
  ref: {}
YAML
run 0 validate "$tmp/exp.yaml"
warned
run 0 run --progress plain "$tmp/exp.yaml"
warned
ls "$tmp"/out-run/cells/m.p.g.ref-*/manifest.yaml > /dev/null || fail "the cell did not run"

# an experiment that names a broken plugin is refused, with the cause
sed 's/g: \[good\]/g: [ctorcrash]/' "$tmp/exp.yaml" > "$tmp/bad.yaml"
run 1 validate "$tmp/bad.yaml"
has "$tmp/err" "pruner 'ctorcrash' failed to load"
has "$tmp/err" "killed by SIGSEGV"
echo "ok"

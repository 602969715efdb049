#!/bin/sh
# tests/plugin/cli-plugins.sh — `prunebench plugins` over the fake plugin
# folders: the table, availability, load failures, describing one plugin,
# did-you-mean for an unknown name, and exit statuses.
# Usage: cli-plugins.sh GOOD_DIR BAD_DIR
set -eu

build=${PB_BUILD_ROOT:?PB_BUILD_ROOT not set (run through meson test)}
exe=$build/prunebench
good=${1:?GOOD_DIR}
bad=${2:?BAD_DIR}

fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$exe" ] || { echo "SKIP: $exe is not built (the CLI links only once every room exists)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-cli-plugins-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export PRUNEBENCH_PLUGIN_PATH="$good:$bad"

# has FILE TEXT: FILE contains TEXT (fixed string)
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' missing"; }; }
# run STATUS ARGS...: run the CLI, expect exit STATUS
run() {
	want=$1
	shift
	rc=0
	"$exe" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "'prunebench $*' exited $rc, expected $want"; }
}

run 0 plugins --help
has "$tmp/out" "usage: prunebench plugins [NAME]"

run 0 plugins
grep -Eq "^pruner +good +1\.2\.3 +fake pruner that changes nothing \(tests\) +$good/pruner-good\.so +ok\$" "$tmp/out" ||
	{ cat "$tmp/out"; fail "no row for pruner good"; }
grep -Eq "^probe +unavail .* unavailable: no fake sensor on this machine \(tests\)\$" "$tmp/out" ||
	{ cat "$tmp/out"; fail "no row for probe unavail"; }
has "$tmp/out" "failed to load ("
has "$tmp/out" "  $bad/pruner-wrongabi.so: plugin ABI 999, this prunebench has ABI 1"
has "$tmp/out" "  $bad/pruner-notso.so: cannot load"
if grep -q "gadget-ignored" "$tmp/out"; then fail "gadget-ignored.so was not ignored"; fi

run 0 plugins good
has "$tmp/out" "name:      good"
has "$tmp/out" "sha256:    "
has "$tmp/out" "  mode (enum, default row, one of row|column|global)"

run 0 plugins probe-unavail
has "$tmp/out" "available: unavailable: no fake sensor"
has "$tmp/out" "  device (string, required)"

run 1 plugins goood
has "$tmp/err" "no plugin named 'goood' (did you mean 'good'?)"
[ ! -s "$tmp/out" ] || fail "an error printed to stdout"

run 1 plugins wrongabi
has "$tmp/err" "plugin 'wrongabi' failed to load"
has "$tmp/err" "ABI 999"

run 1 plugins zzzzzzzzzz
has "$tmp/err" "no plugin named 'zzzzzzzzzz'"
if grep -q "did you mean" "$tmp/err"; then fail "suggested a far-off name"; fi

run 2 plugins good extra
run 2 plugins --bogus
echo "ok"

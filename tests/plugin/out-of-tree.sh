#!/bin/sh
# tests/plugin/out-of-tree.sh — build a plugin the way a user outside this
# tree would: install prunebench's headers and pkg-config file into a
# scratch DESTDIR, compile tests/plugin/oot/pruner-oot.c against them with
# `pkg-config --cflags prunebench` only, and ask the built CLI to describe
# it through PRUNEBENCH_PLUGIN_PATH.
set -eu

build=${PB_BUILD_ROOT:?PB_BUILD_ROOT not set (run through meson test)}
src=${PB_SOURCE_ROOT:?PB_SOURCE_ROOT not set (run through meson test)}
exe=$build/prunebench

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -x "$exe" ] || skip "$exe is not built (the CLI links only once every room exists)"
command -v meson >/dev/null 2>&1 || skip "meson not on PATH"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not on PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-oot-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Headers and prunebench.pc carry the 'devel' install tag; installing only
# them keeps this test independent of every other installed target.
meson install -C "$build" --no-rebuild --destdir "$tmp/root" --tags devel \
	>"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "meson install failed"; }

pc=$(find "$tmp/root" -name prunebench.pc | head -n 1)
[ -n "$pc" ] || fail "meson install put no prunebench.pc under $tmp/root"
pcdir=$(dirname "$pc")
[ -f "$(find "$tmp/root" -path '*/prunebench/plugin.h' | head -n 1)" ] ||
	fail "prunebench/plugin.h was not installed"

# The .pc file names the real prefix; the sysroot maps it into DESTDIR.
# PKG_CONFIG_LIBDIR (not _PATH) so that no system prunebench.pc can answer.
cflags=$(PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$tmp/root pkg-config --cflags prunebench) ||
	fail "pkg-config --cflags prunebench failed"
case "$cflags" in
*"$tmp/root"*) ;;
*) fail "pkg-config cflags '$cflags' do not point into the install ($tmp/root)" ;;
esac
plugindir=$(PKG_CONFIG_LIBDIR=$pcdir pkg-config --variable=plugindir prunebench)
case "$plugindir" in
*/prunebench/plugins) ;;
*) fail "prunebench.pc plugindir is '$plugindir'" ;;
esac

mkdir "$tmp/plugins"
# -I of the source tree is deliberately absent: only the install may serve.
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden $cflags \
	"$src/tests/plugin/oot/pruner-oot.c" -o "$tmp/plugins/pruner-oot.so" ||
	fail "the out-of-tree plugin does not compile against the installed headers"

if command -v nm >/dev/null 2>&1; then
	syms=$(nm -D --defined-only "$tmp/plugins/pruner-oot.so" | awk '{ print $3 }' | tr '\n' ' ')
	[ "$syms" = "pb_plugin " ] || fail "plugin exports '$syms', expected only pb_plugin"
fi

out=$(PRUNEBENCH_PLUGIN_PATH=$tmp/plugins "$exe" plugins oot) ||
	fail "prunebench plugins oot exited $?"
echo "$out"
for want in "name:      oot" "kind:      pruner" "version:   0.0.1" \
	"path:      $tmp/plugins/pruner-oot.so" "available: ok" \
	"threshold (double, default 0.25, range [0, 1])" \
	"weights below this magnitude are zeroed"; do
	case "$out" in
	*"$want"*) ;;
	*) fail "output lacks '$want'" ;;
	esac
done

list=$(PRUNEBENCH_PLUGIN_PATH=$tmp/plugins "$exe" plugins) || fail "prunebench plugins exited $?"
echo "$list" | grep -q "^pruner  *oot  *0\.0\.1 .*$tmp/plugins/pruner-oot\.so  *ok\$" ||
	fail "listing lacks the oot row: $list"
echo "ok: out-of-tree plugin built against the installed headers and described"

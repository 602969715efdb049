#!/usr/bin/env bash
# tests/cpu-blas-neon/cpu-blas-neon.sh — proves the cpu-blas backend builds
# and its NEON kernels compute right on arm64, from an x86 build machine:
#  1. every source of plugins/backends/cpu-blas compiled for baseline
#     armv8-a with the aarch64 cross compiler (-Wall -Wextra -Werror, no
#     OpenBLAS), linked into a plugin .so with no unresolved symbol, and
#     exporting nothing but pb_plugin;
#  2. neon-conformance.c + kernels-neon.c + kernels-scalar.c (+ the
#     k-quants' kernels-kquant.c, and the native GEMM: gemm.c +
#     gemm-neon.c) cross-built statically and run under qemu-aarch64
#     (user mode).
# Not through meson's native build: that one targets the build machine.
# Exits 77 (skip) with the reason when the cross compiler or qemu is
# missing (scripts/setup.sh installs both with PB_TEST_DEPS=1).
set -u
src=${PB_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cc=${PB_CROSS_CC:-aarch64-linux-gnu-gcc}
nm=${PB_CROSS_NM:-${cc%gcc}nm}
plugin=$src/plugins/backends/cpu-blas

if ! command -v "$cc" > /dev/null; then
	echo "skip: no aarch64 cross compiler ($cc; Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
	exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-neon.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

flags=(-std=gnu11 -O2 -march=armv8-a -Wall -Wextra -Werror -D_GNU_SOURCE
       -I"$src/core/include" -I"$plugin")
fails=0

# 1. the whole plugin, as meson would build it, for arm64
objs=()
for f in "$plugin"/*.c; do
	o=$T/$(basename "${f%.c}").o
	if ! "$cc" "${flags[@]}" -fPIC -fvisibility=hidden -c "$f" -o "$o"; then
		echo "FAIL: $(basename "$f") does not compile for aarch64"
		fails=$((fails + 1))
	fi
	objs+=("$o")
done
if [ "$fails" -eq 0 ]; then
	if "$cc" -shared -Wl,-z,defs -o "$T/backend-cpu-blas.so" "${objs[@]}" -lm -lpthread; then
		echo "ok: backend-cpu-blas.so links for aarch64 (${#objs[@]} sources, no OpenBLAS)"
		if command -v "$nm" > /dev/null; then
			exported=$("$nm" -D --defined-only "$T/backend-cpu-blas.so" | awk '{print $3}' |
				   grep -v '^_' | tr '\n' ' ')
			if [ "$exported" != "pb_plugin " ]; then
				echo "FAIL: the arm64 plugin exports '$exported', want only pb_plugin"
				fails=$((fails + 1))
			fi
		fi
	else
		echo "FAIL: the cpu-blas objects do not link into an aarch64 plugin"
		fails=$((fails + 1))
	fi
fi

# 2. the NEON kernels against the portable ones, run under qemu
if ! "$cc" "${flags[@]}" -static -o "$T/neon-conformance" "$src/tests/cpu-blas-neon/neon-conformance.c" \
	"$plugin/kernels-neon.c" "$plugin/kernels-scalar.c" "$plugin/kernels-kquant.c" \
	"$plugin/gemm.c" "$plugin/gemm-neon.c" -lm; then
	echo "FAIL: neon-conformance does not build"
	exit 1
fi
qemu=""
for q in ${PB_QEMU_AARCH64:-} qemu-aarch64 qemu-aarch64-static; do
	if command -v "$q" > /dev/null; then
		qemu=$q
		break
	fi
done
if [ -z "$qemu" ]; then
	[ "$fails" -eq 0 ] || exit 1
	echo "skip: arm64 build ok, but no qemu-aarch64 to run the NEON kernels (Debian: qemu-user)"
	exit 77
fi
if ! "$qemu" -L /usr/aarch64-linux-gnu "$T/neon-conformance"; then
	echo "FAIL: NEON kernels disagree with the portable ones (see above)"
	fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] || exit 1
echo "ok: NEON kernels match the portable ones under $qemu"

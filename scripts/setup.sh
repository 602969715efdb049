#!/usr/bin/env bash
# scripts/setup.sh — install the Debian packages prunebench needs (only the
# missing ones; apt-get, through sudo when not root), then configure and
# build into build/ (or $PB_BUILD_DIR).  Idempotent: a second run installs
# nothing and only rebuilds what changed.
#   scripts/setup.sh [--no-build] [extra meson setup args...]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	gcc libc6-dev pkg-config meson ninja-build git
	libyaml-dev libcsv-dev libjansson-dev libssl-dev libopenblas-dev
	libpcre2-dev libutf8proc-dev
	libmicrohttpd-dev libcurl4-openssl-dev iproute2
	check libsubunit-dev
	libvulkan-dev glslc
)
# What the test suites need beyond the build (scripts/test.sh sets
# PB_TEST_DEPS=1): lavapipe (a CPU Vulkan device), a local Slurm
# (munge, slurmctld, slurmd), Chromium for the report's browser test, and
# an aarch64 cross compiler + qemu-user for the cpu-blas NEON test, and
# clang with its runtimes (libFuzzer, sanitizers) for scripts/fuzz.sh,
# curl and python3 for the serving tests (a client, a fake OpenAI server).
if [ "${PB_TEST_DEPS:-0}" = 1 ]; then
	packages+=(mesa-vulkan-drivers slurm-wlm munge chromium curl python3)
	packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
	packages+=(clang libclang-rt-dev)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--no-build" ]; then
	exit 0
fi
build=${PB_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$@"
fi
ninja -C "$build"

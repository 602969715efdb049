#!/usr/bin/env bash
# scripts/test.sh — README command 2: install what is missing, build, and
# run every test suite twice: a normal build (build/) and one under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/); then run
# every fuzz harness of tests/fuzz for a short fixed budget under clang's
# libFuzzer + ASan + UBSan (scripts/fuzz.sh, build-fuzz/), so a parser
# regression is caught at once.
#   scripts/test.sh [meson test args...]     e.g. --suite core
#   PB_FUZZ_SECONDS=N: seconds per harness (default 10; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
# how long each phase took, so a slow CI run says where its time went
phase() { echo "test.sh: $1 done at $SECONDS s"; }
PB_TEST_DEPS=1 scripts/setup.sh
phase "setup + build"
meson test -C build --print-errorlogs "$@"
phase "suite (build/)"

# no benchmarks under the sanitizers: no test runs them (-Dbench=false;
# a folder set up before the option existed gets it too)
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
elif ! meson introspect --buildoptions build-asan |
	python3 -c 'import json, sys; sys.exit(not any(o["name"] == "bench" and o["value"] is False for o in json.load(sys.stdin)))'; then
	meson configure build-asan -Dbench=false
fi
ninja -C build-asan
phase "build-asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --print-errorlogs "$@"
phase "suite (build-asan/)"

fuzz_secs=${PB_FUZZ_SECONDS:-10}
if [ "$fuzz_secs" != 0 ]; then
	scripts/fuzz.sh "$fuzz_secs"
	phase "fuzz"
fi

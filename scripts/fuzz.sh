#!/usr/bin/env bash
# scripts/fuzz.sh — build the libFuzzer harnesses of tests/fuzz with clang
# (ASan + UBSan, build-fuzz/) and run each for SECONDS (default 10).
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 600
# Prints the executions per harness; exits 1 on any finding (crash,
# sanitizer report, leak, timeout of one input, out of memory), keeping the
# input that caused it under build-fuzz/tests/fuzz/artifacts/<harness>/ —
# copy it to tests/fuzz/regress/<harness>/ with the fix, so the normal
# suite replays it.  Each harness's corpus grows in
# build-fuzz/tests/fuzz/corpus/<harness>/ and is reused by the next run;
# the seeds (build-fuzz/tests/fuzz/seeds/) and tests/fuzz/regress/ are read
# too.  Harnesses run side by side, one per core (a libFuzzer process is
# single-threaded, so each still gets its SECONDS of a whole core).
# Environment: PB_FUZZ_BUILD_DIR (build-fuzz), PB_FUZZ_JOBS (ninja jobs;
# default ninja's), PB_FUZZ_PARALLEL (harnesses at once; default the
# cores), PB_FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
[ $# -gt 0 ] && shift
harnesses=(gguf safetensors hf llama2c experiment dataset results csv sse)
[ $# -gt 0 ] && harnesses=("$@")
build=${PB_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is needed (apt-get install clang libclang-rt-dev; PB_TEST_DEPS=1 scripts/setup.sh installs both)" >&2
	exit 1
fi
t0=$(date +%s)
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=enabled -Dtests=false -Dvulkan=disabled \
		-Db_lundef=false --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" ${PB_FUZZ_JOBS:+-j "$PB_FUZZ_JOBS"} >/dev/null
t1=$(date +%s)
echo "fuzz: build $build: $((t1 - t0)) s"

dir=$build/tests/fuzz
# the harnesses write their input as files each execution: memory, not disk
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp
# one harness: its log, and a line with its result in $dir/logs/$h.result
# (first word the exit status) for the summary below
fuzz_one() {
	local h=$1 log=$dir/logs/$1.log rc=0 execs cov units
	# shellcheck disable=SC2086
	"$dir/fuzz-$h" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -close_fd_mask=3 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/$h/" ${PB_FUZZ_ARGS:-} \
		"$dir/corpus/$h" "$dir/seeds/$h" "tests/fuzz/regress/$h" >"$log" 2>&1 || rc=$?
	execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	units=$(find "$dir/corpus/$h" -type f | wc -l)
	echo "$rc ${execs:-?} ${cov:-?} $units" > "$dir/logs/$h.result"
}
par=${PB_FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}
running=0
for h in "${harnesses[@]}"; do
	mkdir -p "$dir/corpus/$h" "$dir/artifacts/$h" "$dir/logs"
	rm -f "$dir/logs/$h.result"
	if [ "$running" -ge "$par" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	fuzz_one "$h" &
	running=$((running + 1))
done
wait || true
failed=()
total=0
for h in "${harnesses[@]}"; do
	log=$dir/logs/$h.log
	rc="?" execs="?" cov="?" units="?"
	[ -f "$dir/logs/$h.result" ] && read -r rc execs cov units < "$dir/logs/$h.result"
	if [ "$execs" != "?" ]; then total=$((total + execs)); fi
	if [ "$rc" != 0 ]; then
		failed+=("$h")
		printf 'fuzz: %-12s FINDING (exit %s) after %s executions; log %s\n' "$h" "$rc" "$execs" "$log"
		{ grep -E 'ERROR: |runtime error:|SUMMARY: |Test unit written to' "$log" || true; } |
			head -n 8 | sed 's/^/      /'
	else
		printf 'fuzz: %-12s %10s executions in %s s, coverage %s, corpus %s inputs\n' "$h" \
			"$execs" "$secs" "$cov" "$units"
	fi
done
echo "fuzz: $total executions in all, $(( $(date +%s) - t1 )) s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: findings in: ${failed[*]} (inputs in $dir/artifacts/)" >&2
	exit 1
fi

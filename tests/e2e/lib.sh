# tests/e2e/lib.sh — shared by the end-to-end scripts: paths, a scratch
# folder, and assertions that say what they expected.
set -u
PB=${PB_BUILD_ROOT:?}/prunebench
CSV=${PB_BUILD_ROOT}/tests/e2e/csvtool
SRC=${PB_SOURCE_ROOT:?}
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
export NO_COLOR=1
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
expect_eq() { # what expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
expect_contains() { # what file-or-text needle
	if printf '%s' "$2" | grep -qF -- "$3"; then ok "$1"; else fail "$1: expected to find '$3' in: $2"; fi
}
# stories260K (Karpathy's trained TinyStories Llama) as ../shared holds it;
# a test that needs it calls need_s260k first: exit 77 with the reason
# when ../shared is absent.
S260K_DIR=${PB_SHARED:-$SRC/../shared}/models/stories260K
S260K=$S260K_DIR/stories260K.bin
need_s260k() {
	[ -r "$S260K" ] && [ -r "$S260K_DIR/tok512.bin" ] ||
		{ echo "SKIP: $S260K absent (../shared test data)"; exit 77; }
}

finish() {
	if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
	exit 0
}

# A small experiment: the synthetic llama-15m, 2 prompts, 4 new tokens.
write_prompts() {
	mkdir -p "$T/data"
	printf 'Hello, world: "quoted", and, commas\nThe second prompt\n' > "$T/data/p.txt"
}

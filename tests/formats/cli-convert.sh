#!/bin/sh
# tests/formats/cli-convert.sh — `prunebench convert`: every type from a
# llama2.c checkpoint, from a synthetic preset, usage errors (exit 2) and
# unreadable input (exit 1, the file named).  The converted files are
# checked by reading them back with `prunebench convert` itself (GGUF in).
set -u
PB="$PB_BUILD_ROOT/prunebench"
SHARED="${PB_SHARED:-../shared}"
TMP=$(mktemp -d /tmp/pb-convert-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

"$PB" -q convert synth:llama-15m "$TMP/s.gguf" --type q4_0 --seed 3
check "synth q4_0 writes" '[ $? -eq 0 ] && [ -s "$TMP/s.gguf" ]'
"$PB" -q convert "$TMP/s.gguf" "$TMP/s2.gguf" --type q8_0
check "GGUF in, q8_0 out" '[ $? -eq 0 ] && [ -s "$TMP/s2.gguf" ]'
check "q4_0 is smaller than q8_0" '[ $(wc -c < "$TMP/s.gguf") -lt $(wc -c < "$TMP/s2.gguf") ]'
# llama-15m is 288 wide: its 288-column rows fall back to Q8_0, ffn_down
# (768 columns) takes Q4_K or, in llama.cpp's chosen layers, Q6_K
"$PB" -q convert synth:llama-15m "$TMP/k.gguf" --type q4_k_m --seed 3
check "synth q4_k_m writes" '[ $? -eq 0 ] && [ -s "$TMP/k.gguf" ]'
"$PB" -q convert "$TMP/k.gguf" "$TMP/k2.gguf"
check "q4_k_m reads back, byte-identical" '[ $? -eq 0 ] && cmp -s "$TMP/k.gguf" "$TMP/k2.gguf"'
check "q4_k_m is smaller than q8_0" '[ $(wc -c < "$TMP/k.gguf") -lt $(wc -c < "$TMP/s2.gguf") ]'

"$PB" convert in.gguf "$TMP/x.gguf" --type q5_1 2> "$TMP/err"
check "unknown type is a usage error listing the types" \
	'[ $? -eq 2 ] && grep -q "unknown type .q5_1. (f32, f16, bf16, q8_0, q4_0, q2_k, q3_k, q4_k, q5_k, q6_k, q4_k_m, q5_k_m)" "$TMP/err"'
"$PB" convert only-one-arg 2> "$TMP/err"
check "missing OUT is a usage error" '[ $? -eq 2 ] && grep -q "expected IN and OUT.gguf" "$TMP/err"'
printf 'GGUF\003\000\000\000' > "$TMP/bad.gguf"
"$PB" convert "$TMP/bad.gguf" "$TMP/x.gguf" 2> "$TMP/err"
check "a malformed input fails naming the file and offset" \
	'[ $? -eq 1 ] && grep -q "bad.gguf: offset 8: truncated" "$TMP/err" && [ ! -e "$TMP/x.gguf" ]'

BIN="$SHARED/models/stories260K/stories260K.bin"
if [ -r "$BIN" ]; then
	# (64 wide: the k-quant types fall back to Q4_0 / Q8_0 everywhere)
	for t in f32 f16 bf16 q8_0 q4_0 q2_k q4_k q6_k q4_k_m; do
		"$PB" -q convert "$BIN" "$TMP/st-$t.gguf" --type $t
		check "stories260K to $t" '[ $? -eq 0 ] && [ -s "$TMP/st-$t.gguf" ]'
		"$PB" -q convert "$TMP/st-$t.gguf" "$TMP/back-$t.gguf"
		check "stories260K $t reads back" '[ $? -eq 0 ]'
	done
	check "f32 copy of a f32 file is the same size" \
		'[ $(wc -c < "$TMP/st-f32.gguf") -eq $(wc -c < "$TMP/back-f32.gguf") ]'
	check "f32 round trip is byte-identical" 'cmp -s "$TMP/st-f32.gguf" "$TMP/back-f32.gguf"'
	"$PB" -q convert "$SHARED/models/tinystories-656k" "$TMP/t.gguf" --type f16
	check "tinystories-656k folder to f16" '[ $? -eq 0 ] && [ -s "$TMP/t.gguf" ]'
else
	echo "note: $BIN not found; real-model conversions skipped"
fi
exit $fail

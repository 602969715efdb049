#!/bin/sh
# tests/calib/cli-prune.sh — `prunebench prune`: a magnitude step on a
# synthetic preset written as GGUF that `generate` loads, the sparsity it
# reports; bad -p steps and missing arguments (exit 2, the -p text named);
# a calibrating pruner with too little text (exit 1, why); when
# ../shared is there, Wanda calibrated on real text then quantized; and
# the calibrated pruners through tiny-qwen2/qwen3/llama3/gemma2/gemma3/phi3 blocks
# (phi3: written fused again, as llama.cpp's phi3 reads it).
set -u
PB="$PB_BUILD_ROOT/prunebench"
SHARED="${PB_SHARED:-../shared}"
TMP=$(mktemp -d /tmp/pb-prune-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; cat "$TMP/out" "$TMP/err" 2>/dev/null; fail=1; fi; }

"$PB" -q prune synth:llama-15m -p 'magnitude sparsity=0.5' -o "$TMP/x.gguf" > "$TMP/out" 2> "$TMP/err"
check "magnitude step writes a model" '[ $? -eq 0 ] && [ -s "$TMP/x.gguf" ]'
check "sparsity reported" 'grep -q "target 50.00%, achieved 50.00%" "$TMP/out" && grep -q "wrote .*x.gguf: linear sparsity" "$TMP/out"'
"$PB" -q generate "$TMP/x.gguf" -n 4 > "$TMP/out" 2> "$TMP/err"
check "generate loads the pruned model" '[ $? -eq 0 ] && grep -q "output tokens   4" "$TMP/err"'

"$PB" prune synth:llama-15m -p 'magnitude sparsty=0.5' -o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
check "unknown option: usage error naming -p and a suggestion" \
	'[ $? -eq 2 ] && grep -q "\-p '\''magnitude sparsty=0.5'\'': pruner '\''magnitude'\'': unknown option '\''sparsty'\'' (did you mean '\''sparsity'\''?)" "$TMP/err" && [ ! -e "$TMP/y.gguf" ]'
"$PB" prune synth:llama-15m -p 'magnitude sparsity=1.5' -o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
check "out-of-range value" '[ $? -eq 2 ] && grep -q "option '\''sparsity'\'': expected a number between 0 and 1" "$TMP/err"'
"$PB" prune synth:llama-15m -p 'nosuch a=1' -o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
check "unknown pruner" '[ $? -eq 2 ] && grep -q "no pruner '\''nosuch'\''" "$TMP/err"'
"$PB" prune synth:llama-15m -p 'magnitude sparsity' -o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
check "option without a value" '[ $? -eq 2 ] && grep -q "'\''sparsity'\'': expected key=value" "$TMP/err"'
"$PB" prune synth:llama-15m -p 'magnitude' > "$TMP/out" 2> "$TMP/err"
check "missing -o" '[ $? -eq 2 ] && grep -q "expected one MODEL, at least one -p STEP and -o OUT.gguf" "$TMP/err"'

if "$PB" plugins wanda > /dev/null 2>&1; then
	"$PB" prune synth:llama-15m -p 'wanda sparsity=0.5' -o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
	check "a calibrating pruner without --data" '[ $? -eq 2 ] && grep -q "calibrates on text: give --data FILE" "$TMP/err"'
	printf 'Once upon a time.\nThe end.\n' > "$TMP/few.txt"
	"$PB" prune synth:llama-15m -p 'wanda sparsity=0.5' --data "$TMP/few.txt" --nsamples 4 --seqlen 64 \
		-o "$TMP/y.gguf" > "$TMP/out" 2> "$TMP/err"
	check "too little calibration text" \
		'[ $? -eq 1 ] && grep -q "calibration needs 4 × 64 = 256 tokens but its 2 records hold only" "$TMP/err" && [ ! -e "$TMP/y.gguf" ]'
	TXT="$SHARED/data/tinystories-valid-head.txt"
	BIN="$SHARED/models/stories260K/stories260K.bin"
	if [ -r "$TXT" ] && [ -r "$BIN" ]; then
		"$PB" -q prune "$BIN" -p 'wanda sparsity=0.5' -p 'quant type=q8_0' --data "$TXT" \
			--nsamples 4 --seqlen 32 -o "$TMP/w.gguf" > "$TMP/out" 2> "$TMP/err"
		check "wanda (calibrated) then q8_0 on stories260K" \
			'[ $? -eq 0 ] && grep -q "step 1  wanda sparsity=0.5 .*(calibration" "$TMP/out" && grep -q "achieved 50.00%" "$TMP/out" && grep -q "step 2  quant" "$TMP/out"'
		"$PB" -q generate "$TMP/w.gguf" -n 4 > "$TMP/out" 2> "$TMP/err"
		check "generate loads it" '[ $? -eq 0 ]'
	else
		echo "note: $TXT or $BIN not found; calibration on real text skipped"
	fi
	# the Llama-family members whose blocks carry biases and q/k norms:
	# calibrated pruners through them, the result written and generated from
	i=0
	while [ $i -lt 40 ]; do
		echo "The little fox ran over the hill and found a red ball near the old tree $i."
		i=$((i + 1))
	done > "$TMP/calib.txt"
	for preset in tiny-qwen2 tiny-qwen3 tiny-llama3 tiny-gemma2 tiny-gemma3 tiny-phi3; do
		for step in 'wanda sparsity=0.5' 'sparsegpt sparsity=0.5' 'heads ratio=0.5 importance=activation' \
			'ffn ratio=0.25 importance=activation'; do
			name=${step%% *}
			"$PB" plugins "$name" > /dev/null 2>&1 || continue
			"$PB" -q prune "synth:$preset" -p "$step" --data "$TMP/calib.txt" --nsamples 2 --seqlen 32 \
				-o "$TMP/$preset-$name.gguf" > "$TMP/out" 2> "$TMP/err"
			check "$name (calibrated) on $preset" '[ $? -eq 0 ] && grep -q "(calibration" "$TMP/out"'
			"$PB" -q generate "$TMP/$preset-$name.gguf" -n 4 > "$TMP/out" 2> "$TMP/err"
			check "generate loads $preset pruned by $name" '[ $? -eq 0 ] && grep -q "output tokens   4" "$TMP/err"'
		done
	done
else
	echo "note: no wanda plugin built; calibrated steps skipped"
fi
exit $fail

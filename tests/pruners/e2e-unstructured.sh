#!/usr/bin/env bash
# End to end: unstructured pruning at 50 % on two trained TinyStories
# Llamas (tinystories-50.yaml beside this script), perplexity on the
# TinyStories validation head.  The order must be
#   dense <= sparsegpt <= wanda <= magnitude < random
# per model, where sparsegpt may exceed wanda by up to 2 % (a tie), and
# every pruned cell must report 50 % achieved sparsity of its linears.
# Needs ../shared (PB_SHARED); exits 77 without it.
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"
SHARED=${PB_SHARED:-$SRC/../shared}
for f in models/stories260K/stories260K.bin models/tinystories-656k/model.safetensors \
	 data/tinystories-valid-head.txt; do
	if [ ! -f "$SHARED/$f" ]; then
		echo "skip: $SHARED/$f not found (set PB_SHARED to the shared folder)"
		exit 77
	fi
done
SHARED=$(cd "$SHARED" && pwd)
# the experiment's paths are relative to its folder; point them at SHARED
sed "s|\.\./\.\./\.\./shared|$SHARED|g" "$SRC/tests/pruners/tinystories-50.yaml" > "$T/exp.yaml"

"$PB" run --progress plain -o "$T/out" "$T/exp.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -30 "$T/run.err"
S="$T/out/summary.csv"
expect_eq "summary has 10 rows" 10 "$("$CSV" "$S" rows)"

num_le() { awk -v a="$1" -v b="$2" -v f="${3:-1}" 'BEGIN { exit !(a + 0 <= (b + 0) * f) }'; }
num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
rows=$("$CSV" "$S" rows)
for model in stories260K tinystories-656k; do
	unset ppl; declare -A ppl
	for ((r = 0; r < rows; r++)); do
		[ "$("$CSV" "$S" get $r model)" = "$model" ] || continue
		pr=$("$CSV" "$S" get $r pruner)
		ppl[$pr]=$("$CSV" "$S" get $r perplexity)
		if [ "$pr" != dense ]; then
			sp=$("$CSV" "$S" get $r sparsity_linears)
			awk -v s="$sp" 'BEGIN { exit !(s > 0.499 && s < 0.501) }' &&
				ok "$model/$pr: linears at sparsity $sp" ||
				fail "$model/$pr: linears at sparsity '$sp', want 0.5"
		fi
	done
	echo "$model: dense ${ppl[dense]} sparsegpt ${ppl[sparsegpt-50]} wanda ${ppl[wanda-50]}" \
	     "magnitude ${ppl[magnitude-50]} random ${ppl[random-50]}"
	for p in dense sparsegpt-50 wanda-50 magnitude-50 random-50; do
		[ -n "${ppl[$p]:-}" ] || fail "$model/$p: no perplexity"
	done
	num_le "${ppl[dense]}" "${ppl[sparsegpt-50]}" && ok "$model: dense <= sparsegpt" ||
		fail "$model: dense ${ppl[dense]} > sparsegpt ${ppl[sparsegpt-50]}"
	num_le "${ppl[sparsegpt-50]}" "${ppl[wanda-50]}" 1.02 && ok "$model: sparsegpt <= wanda (+2 %)" ||
		fail "$model: sparsegpt ${ppl[sparsegpt-50]} > wanda ${ppl[wanda-50]} + 2 %"
	num_le "${ppl[wanda-50]}" "${ppl[magnitude-50]}" && ok "$model: wanda <= magnitude" ||
		fail "$model: wanda ${ppl[wanda-50]} > magnitude ${ppl[magnitude-50]}"
	num_lt "${ppl[magnitude-50]}" "${ppl[random-50]}" && ok "$model: magnitude < random" ||
		fail "$model: magnitude ${ppl[magnitude-50]} >= random ${ppl[random-50]}"
done
finish

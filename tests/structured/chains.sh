#!/usr/bin/env bash
# Chain validation: `validate` and `run` refuse a chain whose step cannot
# read the formats the earlier steps leave (or the model's), or does not
# support the model's architecture, naming the chain, the step and the
# fix, before any cell runs; a valid chain passes.  llama-1b is named but
# must not be built (validate stays fast).
. "${PB_SOURCE_ROOT:?}/tests/e2e/lib.sh"
write_prompts
base() {
cat <<YAML
name: c
output: $T/out
models:
  small: {synth: llama-15m}
  big: {synth: llama-1b}
datasets:
  p: {path: data/p.txt}
backends:
  ref: {}
YAML
}

{ base; cat <<'YAML'
pruners:
  ok: [{magnitude: {sparsity: 0.5}}, {heads: {ratio: 0.25}}, {layers: {indices: "1"}}, {quant: {type: q8_0}}]
  late: [{quant: {type: q8_0}}, {ffn: {ratio: 0.5}}]
  qq: [{quant: {type: q8_0}}, {quant: {type: q4_0}}]
  qlayers: [{quant: {type: q4_0}}, {layers: {indices: "0"}}]
  klayers: [{quant: {type: q4_k_m}}, {layers: {indices: "0"}}]
  klate: [{quant: {type: q5_k}}, {magnitude: {sparsity: 0.5}}]
YAML
} > "$T/late.yaml"
start=$(date +%s)
out=$("$PB" validate "$T/late.yaml" 2>&1); rc=$?
expect_eq "quantize then prune: exit 1" 1 "$rc"
expect_contains "step named with the fix" "$out" \
	"late.yaml: chain 'late' step 2 'ffn': cannot read Q8_0 weights (it reads F32, F16, BF16); put quantization last"
expect_contains "a quantizer reads floats only" "$out" "chain 'qq' step 2 'quant': cannot read Q8_0 weights"
expect_contains "k-quants followed too" "$out" "chain 'klate' step 2 'magnitude': cannot read Q5_K weights"
n=$(printf '%s\n' "$out" | grep -c "chain 'late' step 2")
expect_eq "said once, not once per model" 1 "$n"
if printf '%s' "$out" | grep -q "chain 'ok'\|chain 'qlayers'\|chain 'klayers'"; then
	fail "a valid chain was refused: $out"
else
	ok "float steps then quantization, and layer dropping after it, pass"
fi
[ $(( $(date +%s) - start )) -lt 20 ] && ok "llama-1b not built" || fail "validate took too long"

out=$("$PB" run "$T/late.yaml" 2>&1); rc=$?
expect_eq "run refuses too" 1 "$rc"
[ -e "$T/out" ] && fail "a refused run created its output folder" || ok "no cell ran"

{ base | sed 's/big: {synth: llama-1b}/t5: {synth: t5-small}/'; cat <<'YAML'
pruners:
  heads: [{heads: {ratio: 0.25}}]
  ffn: [{ffn: {ratio: 0.25}}]
YAML
} > "$T/t5.yaml"
out=$("$PB" validate "$T/t5.yaml" 2>&1); rc=$?
expect_eq "heads on T5: exit 1" 1 "$rc"
expect_contains "arch refused with what it supports" "$out" \
	"chain 'heads' step 1 'heads': does not support t5 models like 't5' (it supports llama, qwen2, qwen3, gemma2, gemma3, phi3)"
if printf '%s' "$out" | grep -q "chain 'ffn'"; then fail "ffn refused on T5: $out"; else ok "ffn runs on T5"; fi

{ base | sed '/big:/d'; printf 'pruners:\n  dense: []\n  q: [{quant: {type: q4_0}}, {layers: {indices: "2"}}]\n'; } > "$T/good.yaml"
out=$("$PB" validate "$T/good.yaml" 2>&1); rc=$?
expect_eq "valid chains: exit 0" 0 "$rc"

# a model file: its own formats and the first step's check()
model=${PB_SOURCE_ROOT}/../shared/models/stories260K/stories260K.bin
if [ -r "$model" ]; then
	cat > "$T/file.yaml" <<YAML
name: f
output: $T/out
models:
  stories: {path: $model}
datasets:
  p: {path: data/p.txt}
pruners:
  far: [{layers: {indices: "7"}}]
backends:
  ref: {}
YAML
	out=$("$PB" validate "$T/file.yaml" 2>&1); rc=$?
	expect_eq "out-of-range block: exit 1" 1 "$rc"
	expect_contains "check() of the first step" "$out" \
		"chain 'far' step 1 'layers' cannot run on model 'stories': block 7 does not exist (the model has 5"
	"$PB" convert "$model" "$T/q8.gguf" --type q8_0 >/dev/null 2>&1 || fail "convert to q8_0"
	sed -e "s#path: $model#path: $T/q8.gguf#" -e 's/far: .*/wanda-like: [{magnitude: {sparsity: 0.5}}]/' \
		"$T/file.yaml" > "$T/q8.yaml"
	out=$("$PB" validate "$T/q8.yaml" 2>&1); rc=$?
	expect_eq "pruning a Q8_0 file: exit 1" 1 "$rc"
	expect_contains "the model's own format named" "$out" \
		"step 1 'magnitude': cannot read Q8_0 weights of model 'stories' (it reads F32, F16, BF16)"
else
	echo "skip: $model absent (shared models)"
fi
finish

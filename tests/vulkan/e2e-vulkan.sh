#!/usr/bin/env bash
# The vulkan backend through the CLI (suite hw): `prunebench plugins`
# lists the devices; `validate` refuses an experiment naming the backend
# where Vulkan has no device; and experiments/quickstart.yaml run on ref
# and vulkan side by side (2 prompts, 8 tokens, so that it takes seconds
# on lavapipe) chooses the same greedy tokens on both, for every pruner,
# with the GPU timestamps filled for vulkan only; a q4_k_m chain runs on
# vulkan through the core's dequantization to F32, as ref runs it.  Exit
# 77 without a Vulkan device.
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
need_s260k   # experiments/quickstart.yaml names it

avail=$("$PB" plugins vulkan 2>&1) || { echo "skip: the vulkan backend was not built: $avail"; exit 77; }
case $avail in
*"available: ok"*) ;;
*) echo "skip: $(printf '%s\n' "$avail" | grep '^available:')"; exit 77 ;;
esac
expect_contains "plugins vulkan lists the devices" "$avail" "available: ok: 1 device"
expect_contains "devices have an index" "$avail" "[0] "
expect_contains "options documented" "$avail" "device (string"

# no device: the loader finds no driver (a missing ICD file), or no loader
out=$(VK_ICD_FILENAMES=$T/none.json "$PB" validate "$SRC/experiments/quickstart.yaml" \
	--set 'backends={vulkan: {}}' 2>&1); rc=$?
expect_eq "validate fails without a device" 1 "$rc"
expect_contains "validate says why" "$out" "backend 'vulkan' is not available here: no Vulkan"
out=$(PB_VULKAN_LOADER=$T/libvulkan.so.1 "$PB" validate "$SRC/experiments/quickstart.yaml" \
	--set 'backends={vulkan: {}}' 2>&1); rc=$?
expect_eq "validate fails without a loader" 1 "$rc"
expect_contains "validate names the loader" "$out" "no Vulkan loader"
out=$(PB_VULKAN_LOADER=$T/libvulkan.so.1 "$PB" plugins 2>&1)
expect_contains "plugins lists it unavailable" "$out" "unavailable: no Vulkan loader"

# the quickstart's llama-15m cells on both backends; the pipeline cache
# in a scratch home
cd "$SRC" || exit 1
XDG_CACHE_HOME=$T/cache "$PB" run experiments/quickstart.yaml -o "$T/out" --progress plain \
	--set 'backends={ref: {}, vulkan: {}}' --set 'include=[{model: llama-15m}]' \
	--set repeat=1 --set warmup=0 \
	--set max_new_tokens=8 --set max_samples=2 --set score_tokens=64 \
	> "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "quickstart on ref and vulkan exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || tail -20 "$T/run.err"
expect_eq "six cells" 6 "$("$CSV" "$T/out/summary.csv" rows)"
for p in dense magnitude-sparsity0.3 magnitude-sparsity0.6; do
	a=$(ls -d "$T"/out/cells/*."$p".ref-*) b=$(ls -d "$T"/out/cells/*."$p".vulkan-*)
	"$CSV" "$a/requests.csv" column output_text > "$T/ref.txt"
	"$CSV" "$b/requests.csv" column output_text > "$T/vk.txt"
	expect_eq "$p: two requests" 2 "$("$CSV" "$b/requests.csv" rows)"
	cmp -s "$T/ref.txt" "$T/vk.txt" && ok "$p: vulkan's greedy output equals ref's" ||
		fail "$p: greedy outputs differ: $(diff "$T/ref.txt" "$T/vk.txt" | head -4)"
	[ -n "$("$CSV" "$b/requests.csv" get 0 gpu_decode_ms)" ] && ok "$p: gpu_decode_ms filled" ||
		fail "$p: gpu_decode_ms empty on vulkan"
	[ -z "$("$CSV" "$a/requests.csv" get 0 gpu_prefill_ms)" ] && ok "$p: no GPU time on ref" ||
		fail "$p: gpu_prefill_ms on ref"
	k=$(grep -c 'vk-gemv' "$b/tensors.csv" 2>/dev/null)
	[ "${k:-0}" -gt 0 ] && ok "$p: tensors.csv names the vulkan kernels" || fail "$p: no vk kernel in tensors.csv"
done
# the score phase too: agreement with the dense model as on ref
for r in 0 1 2 3 4 5; do
	[ "$("$CSV" "$T/out/summary.csv" get $r backend)" = vulkan ] || continue
	v=$("$CSV" "$T/out/summary.csv" get $r gpu_prefill_ms_mean)
	[ -n "$v" ] && ok "row $r: gpu_prefill_ms_mean $v" || fail "row $r: gpu_prefill_ms_mean empty"
	p=$("$CSV" "$T/out/summary.csv" get $r pruner)
	for q in 0 1 2 3 4 5; do
		[ "$("$CSV" "$T/out/summary.csv" get $q backend)" = ref ] &&
		[ "$("$CSV" "$T/out/summary.csv" get $q pruner)" = "$p" ] || continue
		expect_eq "$p: top-1 agreement with the dense model as on ref" \
			"$("$CSV" "$T/out/summary.csv" get $q agreement_top1)" \
			"$("$CSV" "$T/out/summary.csv" get $r agreement_top1)"
	done
done
ls "$T"/cache/prunebench/vulkan-*.pipelines > /dev/null 2>&1 && ok "pipeline cache written" ||
	fail "no pipeline cache in $T/cache/prunebench"

# k-quants: vulkan runs none, so the core dequantizes those tensors to F32
# before weights_load and says so in the cell's log; ref runs them itself.
# The values are the same floats, so the greedy tokens are too.  (On
# llama-15m, q4_k_m leaves ffn_down, 768 wide, in Q4_K and Q6_K; the
# 288-wide rows fall back to Q8_0.)
XDG_CACHE_HOME=$T/cache "$PB" run experiments/quickstart.yaml -o "$T/kq" --progress plain \
	--set 'backends={ref: {}, vulkan: {}}' --set 'include=[{model: llama-15m, dataset: prompts}]' \
	--set 'exclude=[]' --set 'pruners={q4km: [{quant: {type: q4_k_m}}]}' --set repeat=1 --set warmup=0 \
	--set max_new_tokens=8 --set max_samples=2 --set score_tokens=64 \
	> "$T/kq.out" 2> "$T/kq.err"; rc=$?
expect_eq "q4_k_m on ref and vulkan exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || tail -20 "$T/kq.err"
a=$(ls -d "$T"/kq/cells/*.q4km.ref-*) b=$(ls -d "$T"/kq/cells/*.q4km.vulkan-*)
expect_contains "vulkan's log says the k-quants went to F32" "$(cat "$b/run.log")" \
	"4 tensors in Q4_K dequantized to F32: the backend runs only F32, F16, BF16, Q8_0, Q4_0"
grep -q "Q4_K ref-dequant" "$a/tensors.csv" && ok "ref ran Q4_K itself" || fail "no Q4_K kernel in ref's tensors.csv"
"$CSV" "$a/requests.csv" column output_text > "$T/ref.txt"
"$CSV" "$b/requests.csv" column output_text > "$T/vk.txt"
[ -s "$T/ref.txt" ] && cmp -s "$T/ref.txt" "$T/vk.txt" && ok "q4_k_m: vulkan's greedy output equals ref's" ||
	fail "q4_k_m: greedy outputs differ: $(diff "$T/ref.txt" "$T/vk.txt" | head -4)"
finish

#!/usr/bin/env bash
# End to end: bench/vs-llama.sh (issue 17) with a fake `llama-bench` on
# PATH that checks the flags it is given (-m, -p 128, -n 64, -t, -r, -o
# json) and prints llama-bench's real JSON shape (and, asked to, its CSV
# shape): the table has one row per thread count with llama.cpp's
# numbers, prunebench's, and ratios prunebench / llama.cpp that match
# them; without llama-bench it prints prunebench's side and says what is
# missing.  stories260K converted to GGUF keeps it fast.
. "$(dirname "$0")/lib.sh"
need_s260k
GG=$T/s260k.gguf
"$PB" -q convert "$S260K" "$GG" > /dev/null 2>&1 || { fail "convert stories260K to GGUF"; finish; }
mkdir -p "$T/bin"
# fake llama-bench: pp = 1000 × threads tok/s, tg = 100 × threads
cat > "$T/bin/llama-bench" <<'FAKE'
#!/usr/bin/env bash
m= p= n= t= r= o=
while [ $# -gt 0 ]; do
	case $1 in
	-m) m=$2; shift 2 ;; -p) p=$2; shift 2 ;; -n) n=$2; shift 2 ;; -t) t=$2; shift 2 ;;
	-r) r=$2; shift 2 ;; -o) o=$2; shift 2 ;; *) echo "fake llama-bench: unknown flag $1" >&2; exit 1 ;;
	esac
done
echo "$m $p $n $t $r $o" >> "$FAKE_LOG"
[ -r "$m" ] && [ "$o" = json ] || { echo "fake llama-bench: bad -m '$m' or -o '$o'" >&2; exit 1; }
pp=$((1000 * t)) tg=$((100 * t))
if [ "${FAKE_FORMAT:-json}" = csv ]; then
	echo 'build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,split_mode,main_gpu,no_kv_offload,flash_attn,tensor_split,use_mmap,embeddings,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts'
	for row in "$p,0,$pp" "0,$n,$tg"; do
		IFS=, read -r np ng ts <<< "$row"
		echo "\"8cf427ff\",\"5163\",\"AMD EPYC\",\"\",\"CPU\",\"$m\",\"llama ?B F32\",\"1\",\"1\",\"2048\",\"512\",\"$t\",\"0x0\",\"0\",\"50\",\"f16\",\"f16\",\"0\",\"layer\",\"0\",\"0\",\"0\",\"0.00\",\"1\",\"0\",\"$np\",\"$ng\",\"0\",\"2025-04-24T11:57:09Z\",\"1000\",\"10\",\"$ts.000000\",\"1.5\""
	done
	exit 0
fi
printf '[\n'
for row in "$p 0 $pp" "0 $n $tg"; do
	read -r np ng ts <<< "$row"
	[ "$np" = 0 ] && printf ',\n'
	cat <<JSON
  {
    "build_commit": "8cf427ff", "build_number": 5163, "cpu_info": "AMD EPYC", "gpu_info": "",
    "backends": "CPU", "model_filename": "$m", "model_type": "llama ?B F32", "model_size": 1,
    "model_n_params": 1, "n_batch": 2048, "n_ubatch": 512, "n_threads": $t, "cpu_mask": "0x0",
    "cpu_strict": false, "poll": 50, "type_k": "f16", "type_v": "f16", "n_gpu_layers": 0,
    "split_mode": "layer", "main_gpu": 0, "no_kv_offload": false, "flash_attn": false,
    "tensor_split": "0.00", "use_mmap": true, "embeddings": false, "n_prompt": $np, "n_gen": $ng,
    "n_depth": 0, "test_time": "2025-04-24T11:58:50Z", "avg_ns": 1000, "stddev_ns": 10,
    "avg_ts": $ts.000000, "stddev_ts": 1.5,
    "samples_ns": [ 1000 ], "samples_ts": [ $ts ]
  }
JSON
done
printf ']\n'
FAKE
chmod +x "$T/bin/llama-bench"
export FAKE_LOG=$T/fake.log ROUNDS=2 REPEAT=1 PB
VS=$SRC/bench/vs-llama.sh

near() { # what ours theirs ratio: ratio = ours / theirs to rounding
	awk -v a="$2" -v b="$3" -v r="$4" 'BEGIN { d = a / b - r; exit !(d < 0.011 && d > -0.011) }' &&
		ok "$1" || fail "$1: $2 / $3 is not $4"
}

# a row's ratios must be prunebench / llama.cpp of the row's own numbers
check_rows() { # label table
	for t in 1 2; do
		row=$(printf '%s\n' "$2" | grep "^| F32 | $t |")
		[ -n "$row" ] || { fail "$1: no row for $t thread(s) in: $2"; continue; }
		IFS='|' read -r _ f th lp op rp ld od rd _ <<< "$row"
		expect_eq "$1, $t thread(s): llama.cpp prefill" "$((1000 * t)).0" "$(echo $lp)"
		expect_eq "$1, $t thread(s): llama.cpp decode" "$((100 * t)).0" "$(echo $ld)"
		# (the table's tok/s are rounded to 0.1, its ratios computed before)
		near "$1, $t thread(s): prefill ratio = prunebench / llama.cpp" "$op" "$lp" "$rp"
		near "$1, $t thread(s): decode ratio" "$od" "$ld" "$rd"
		awk -v x="$op" -v y="$od" 'BEGIN { exit !(x > 0 && y > 0) }' &&
			ok "$1, $t thread(s): prunebench measured" || fail "$1: prunebench columns '$op' '$od'"
	done
}

tab=$(PATH=$T/bin:$PATH "$VS" "$GG" 2> "$T/err"); rc=$?
expect_eq "with llama-bench: exit 0" 0 "$rc"
expect_contains "header" "$tab" "| format | threads | llama.cpp prefill tok/s | prunebench prefill | ratio | llama.cpp decode tok/s | prunebench decode | ratio |"
check_rows "json" "$tab"
expect_eq "llama-bench ran once per round and thread count" 4 "$(wc -l < "$FAKE_LOG")"
expect_eq "with the same file and lengths" "$GG 128 64 1 1 json" "$(head -1 "$FAKE_LOG")"
grep -q " 2 1 json$" "$FAKE_LOG" && ok "and -t 2" || fail "no -t 2 run: $(cat "$FAKE_LOG")"

tab=$(FAKE_FORMAT=csv PATH=$T/bin:$PATH "$VS" "$GG" 1 2 2> "$T/err"); rc=$?
expect_eq "llama-bench's CSV shape: exit 0" 0 "$rc"
check_rows "csv" "$tab"

tab=$(LLAMA_BENCH=$T/none/llama-bench "$VS" "$GG" 1 2>&1); rc=$?
expect_eq "without llama-bench: exit 0" 0 "$rc"
expect_contains "it says what is missing" "$tab" "llama.cpp: no '$T/none/llama-bench' on PATH"
row=$(printf '%s\n' "$tab" | grep '^| F32 | 1 |')
IFS='|' read -r _ f th lp op rp ld od rd _ <<< "$row"
expect_eq "no llama.cpp numbers" "– – – –" "$(echo $lp $rp $ld $rd)"
awk -v x="$op" -v y="$od" 'BEGIN { exit !(x > 0 && y > 0) }' && ok "prunebench's side is printed" ||
	fail "prunebench columns '$op' '$od' in: $tab"
printf '%s\n' "$tab" | grep -q '^| F32 | 2 |' && fail "only the thread count asked for" || ok "only -t 1 asked: one row"
finish

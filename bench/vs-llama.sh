#!/usr/bin/env bash
# bench/vs-llama.sh — prunebench beside llama.cpp on the same GGUF file:
# llama-bench (on PATH, or LLAMA_BENCH=path) and `prunebench generate` on
# cpu-blas, the same prompt length (P, 128) and decode length (D, 64), the
# same thread counts (default 1 2), ROUNDS (5) interleaved rounds — each
# round runs both tools once per thread count, the order alternating —
# then per thread count the median over rounds and a markdown table:
# format, threads, llama.cpp prefill tok/s, prunebench prefill, ratio,
# llama.cpp decode tok/s, prunebench decode, ratio (ratio =
# prunebench / llama.cpp).  Without llama-bench it prints prunebench's
# side and says what is missing.  A benchmark: prints, asserts nothing.
#
#   bench/vs-llama.sh MODEL.gguf [THREADS...]
#
# Environment: ROUNDS (5), REPEAT (3: llama-bench -r and generate
# --repeat inside each round), P (128), D (64), PB (build/prunebench),
# LLAMA_BENCH (llama-bench), LLAMA_BENCH_ARGS (extra llama-bench flags,
# e.g. "-d 128" where your llama-bench has it: decode after a 128-token
# context, as prunebench's decode is), PB_ARGS (extra generate flags,
# e.g. "-o kv_cache=f16").
#
# What each side times: llama-bench runs `-p P -n 0` and `-p 0 -n D` as
# separate tests (pp: one batch of P tokens; tg: D tokens from an empty
# context) and reports avg_ts over its -r repetitions; prunebench
# generate runs a prompt of P token ids (--prompt-tokens: BOS and a fixed
# pseudo-random sequence, as llama-bench's prompt) then D+1 output tokens
# (--ignore-eos), prefill = P / time to the first token, decode = D /
# the rest, the median of its --repeat runs after one warm-up.
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit $(($# < 1 ? 2 : 0))
fi
model=$1
shift
threads=${*:-1 2}
rounds=${ROUNDS:-5}
repeat=${REPEAT:-3}
P=${P:-128}
D=${D:-64}
pb=${PB:-$(dirname "$0")/../build/prunebench}
lb=${LLAMA_BENCH:-llama-bench}
[ -r "$model" ] || { echo "vs-llama: $model: no such file" >&2; exit 2; }
[ -x "$pb" ] || { echo "vs-llama: $pb: not built (ninja -C build), or set PB" >&2; exit 2; }
have_lb=1
lb_path=$(command -v "$lb" 2>/dev/null) || have_lb=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# 1-thread runs on one CPU (PIN=): bench/pin.sh
. "$bench_dir/pin.sh"

for r in $(seq 1 "$rounds"); do
	for t in $threads; do
		sides="pb lb"
		[ $((r % 2)) -eq 0 ] && sides="lb pb"
		for side in $sides; do
			if [ "$side" = lb ]; then
				[ "$have_lb" = 1 ] || continue
				# shellcheck disable=SC2086
				pinned "$t" "$lb_path" -m "$model" -p "$P" -n "$D" -t "$t" -r "$repeat" -o json \
					${LLAMA_BENCH_ARGS:-} > "$out/lb-$t-$r.json" 2> "$out/lb.err" ||
					{ echo "vs-llama: llama-bench failed:" >&2; cat "$out/lb.err" >&2; exit 1; }
			else
				# shellcheck disable=SC2086
				pinned "$t" "$pb" -q generate "$model" --backend cpu-blas --threads "$t" \
					--prompt-tokens "$P" -n $((D + 1)) --ignore-eos --warmup 1 \
					--repeat "$repeat" ${PB_ARGS:-} 2>&1 > /dev/null |
					grep '^summary:' > "$out/pb-$t-$r.txt" ||
					{ echo "vs-llama: prunebench generate failed" >&2; exit 1; }
			fi
		done
	done
done

python3 - "$out" "$model" "$have_lb" "$lb" "$rounds" "$P" "$D" $threads <<'PY'
import json, os, re, statistics, struct, sys

out, model, have_lb, lb, rounds, P, D = sys.argv[1:8]
threads = sys.argv[8:]
rounds = int(rounds)

def file_type(path):
    """general.file_type of a GGUF file, as llama.cpp names it."""
    names = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
             10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
             16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}
    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                return None
            f.read(4 + 8)
            (n_kv,) = struct.unpack("<Q", f.read(8))
            def skip(t):
                if t in size:
                    f.read(size[t])
                elif t == 8:
                    (n,) = struct.unpack("<Q", f.read(8))
                    f.read(n)
                elif t == 9:
                    et, n = struct.unpack("<IQ", f.read(12))
                    for _ in range(n):
                        skip(et)
            for _ in range(n_kv):
                (n,) = struct.unpack("<Q", f.read(8))
                key = f.read(n).decode("utf-8", "replace")
                (t,) = struct.unpack("<I", f.read(4))
                if key == "general.file_type" and t in (4, 5):
                    (v,) = struct.unpack("<I", f.read(4))
                    return names.get(v, "type %d" % v)
                skip(t)
    except (OSError, struct.error):
        pass
    return None

def llama_bench(path):
    """(prefill tok/s, decode tok/s) of one llama-bench -o json (or csv) run."""
    text = open(path).read()
    rows = []
    try:
        rows = json.loads(text)
        if isinstance(rows, dict):
            rows = [rows]
    except ValueError:
        import csv, io
        rows = list(csv.DictReader(io.StringIO(text)))
    pp = tg = None
    for row in rows:
        n_p, n_g, ts = int(row["n_prompt"]), int(row["n_gen"]), float(row["avg_ts"])
        if n_p > 0 and n_g == 0:
            pp = ts
        elif n_g > 0 and n_p == 0:
            tg = ts
    return pp, tg

def generate(path):
    line = open(path).read()
    p = re.search(r"prefill ([0-9.]+) tok/s", line)
    d = re.search(r"decode ([0-9.]+) tok/s", line)
    return float(p.group(1)), float(d.group(1))

def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None

def cell(x):
    return "%.1f" % x if x is not None else "–"

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "–"

fmt = file_type(model) or os.path.basename(model)
print("%s: prefill %s tokens, decode %s tokens, median of %d interleaved rounds" % (
    os.path.basename(model), P, D, rounds))
print()
print("| format | threads | llama.cpp prefill tok/s | prunebench prefill | ratio "
      "| llama.cpp decode tok/s | prunebench decode | ratio |")
print("|---|---|---|---|---|---|---|---|")
for t in threads:
    ours = [generate(os.path.join(out, "pb-%s-%d.txt" % (t, r))) for r in range(1, rounds + 1)]
    theirs = [llama_bench(os.path.join(out, "lb-%s-%d.json" % (t, r)))
              for r in range(1, rounds + 1)] if have_lb == "1" else []
    lp, ld = med([x[0] for x in theirs]), med([x[1] for x in theirs])
    op, od = med([x[0] for x in ours]), med([x[1] for x in ours])
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        fmt, t, cell(lp), cell(op), ratio(op, lp), cell(ld), cell(od), ratio(od, ld)))
if have_lb != "1":
    print()
    print("llama.cpp: no '%s' on PATH — build llama.cpp (its llama-bench tool) and put it on "
          "PATH or set LLAMA_BENCH=/path/to/llama-bench for the llama.cpp columns and ratios" % lb)
PY

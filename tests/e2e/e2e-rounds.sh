#!/usr/bin/env bash
# End to end: the experimental design.  `rounds: 3` measures every cell in
# three separate processes, the order shuffled per round in blocks of
# model × dataset × backend; compression runs once per cell and its result
# serves every round; the dense reference is computed in its own process
# before any cell of its pair; `aa_control` adds the baseline's twin.  The
# pooled cell folders read like one-round ones, a killed batch resumes
# round by round, and accuracy equals a one-round run's bit for bit.
. "$(dirname "$0")/lib.sh"
S=${PB_SHARED:-$SRC/../shared}/models/stories260K
if [ ! -f "$S/stories260K.bin" ] || [ ! -f "$S/stories260K-ggufv1-f32.gguf" ]; then
	echo "skip: $S (the shared stories260K model) is absent"
	exit 77
fi
write_prompts
exp() { # rounds output
	cat <<YAML
name: rounds
seed: 11
output: $2
repeat: 2
warmup: 1
max_new_tokens: 4
score_tokens: 64
rounds: $1
aa_control: true
models:
  a: {path: $S/stories260K.bin}
  b: {path: $S/stories260K-ggufv1-f32.gguf}
datasets:
  p: {path: $T/data/p.txt}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.5}}]
backends:
  cpu-blas: {threads: 1}
YAML
}
exp 3 "$T/out" > "$T/exp.yaml"
exp 1 "$T/one" > "$T/one.yaml"

"$PB" validate "$T/exp.yaml" > "$T/cells.txt"; rc=$?
expect_eq "validate accepts rounds and aa_control" 0 "$rc"
expect_contains "the A/A twin is a cell" "$(cat "$T/cells.txt")" "a.p.dense-aa.cpu-blas"

"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err.txt"; rc=$?
expect_eq "run exits 0" 0 "$rc"
expect_eq "six cells" 6 "$(ls -d "$T"/out/cells/*/ | grep -vc '\.tmp/$')"
expect_eq "no rounds folder left outside a cell" 0 "$(ls -d "$T"/out/cells/*.rounds 2>/dev/null | wc -l)"
for d in "$T"/out/cells/*/; do
	id=$(basename "$d")
	expect_eq "$id: 3 rows in rounds.csv" 3 "$("$CSV" "$d/rounds.csv" rows)"
	expect_eq "$id: rounds 1..3" "1 2 3" "$("$CSV" "$d/rounds.csv" column round | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "$id: requests of every round (3 × 2 repeats × 2 prompts)" 12 "$("$CSV" "$d/requests.csv" rows)"
	expect_eq "$id: summary says 3 rounds" 3 "$("$CSV" "$d/summary.csv" column rounds)"
	expect_eq "$id: pooled n_requests" 12 "$("$CSV" "$d/summary.csv" column n_requests)"
	expect_eq "$id: manifest done" 1 "$(grep -c '^status: done' "$d/manifest.yaml")"
	expect_eq "$id: the round folders are kept" 3 "$(ls -d "$d"/rounds/r[0-9]* | wc -l)"
	# the reference was computed before, in its own process: every round read it
	expect_eq "$id: no round computed the dense reference" 0 "$(grep -c 'dense reference computed' "$d/run.log")"
	# accuracy is bit-identical in every process: scored in round 1 only
	expect_eq "$id: scored in round 1 only" 1 "$(grep -c '^prunebench: info: score:' "$d/run.log")"
	n1=$("$CSV" "$d/rounds.csv" column scored_tokens | head -1)
	expect_eq "$id: round 1 scored positions" 1 "$([ "${n1:-0}" -gt 0 ] && echo 1 || echo 0)"
	expect_eq "$id: rounds.csv scored_tokens: round 1's, then empty" "$n1  " \
		"$("$CSV" "$d/rounds.csv" column scored_tokens | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "$id: pooled scored_tokens is round 1's" "$n1" "$("$CSV" "$d/summary.csv" column scored_tokens)"
	case $id in
	*.mag.*)
		expect_eq "$id: compressed once" 1 "$(ls "$d"/rounds/compress.log | wc -l)"
		expect_eq "$id: every round took the kept model" 3 "$(grep -c 'compressed model taken from' "$d/run.log")"
		expect_eq "$id: the kept model is removed once pooled" 0 "$(ls "$d"/rounds/compressed.gguf* 2>/dev/null | wc -l)";;
	*.dense-aa.*)
		expect_eq "$id: aa_of names the baseline" dense "$("$CSV" "$d/summary.csv" column aa_of)";;
	esac
done
expect_eq "merged rounds.csv: a row per cell and round" 18 "$("$CSV" "$T/out/rounds.csv" rows)"

# the order: blocks stay together, and it is shuffled across rounds
python3 - "$T/out/rounds.csv" <<'PY' > "$T/order.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
orders = {}
for r in rows:
    orders.setdefault(int(r["round"]), []).append((int(r["round_position"]), r["model"], r["pruner"]))
for k in sorted(orders):
    o = sorted(orders[k])
    assert [p for p, _, _ in o] == list(range(6)), o
    models = [m for _, m, _ in o]
    blocks = [m for i, m in enumerate(models) if i == 0 or m != models[i - 1]]
    print("round", k, "blocks", len(blocks), "order", " ".join(m + ":" + p for _, m, p in o))
PY
expect_eq "each round: positions 0..5, two contiguous blocks" 3 "$(grep -c 'blocks 2 ' "$T/order.txt")"
expect_eq "the order differs between rounds" 1 "$([ "$(cut -d' ' -f5- "$T/order.txt" | sort -u | wc -l)" -gt 1 ] && echo 1 || echo 0)"

# the same experiment in one round: accuracy identical, bit for bit
"$PB" run --progress plain "$T/one.yaml" > /dev/null 2>&1
for col in kl_mean agreement_top1 perplexity sparsity_linears params_nonzero; do
	a=$("$CSV" "$T/out/summary.csv" column "$col" | tr '\n' ' ')
	b=$("$CSV" "$T/one/summary.csv" column "$col" | tr '\n' ' ')
	expect_eq "$col: rounds 3 and rounds 1 agree" "$b" "$a"
done

# the schedule is a function of the seed: --force reproduces the order
cp "$T/out/rounds.csv" "$T/rounds-1.csv"
"$PB" run --force --progress plain "$T/exp.yaml" > /dev/null 2>&1
a=$("$CSV" "$T/rounds-1.csv" column round_position | tr '\n' ' ')
b=$("$CSV" "$T/out/rounds.csv" column round_position | tr '\n' ' ')
expect_eq "--force reruns in the same order" "$a" "$b"

# resume: SIGKILL once some rounds are done; the rerun finishes each round once
rm -rf "$T/out"
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 600); do
	n=$(ls -d "$T"/out/cells/*.rounds/r[0-9] 2>/dev/null | wc -l)
	[ "$n" -ge 4 ] && break
	sleep 0.05
done
kill -KILL $pid; wait $pid 2>/dev/null
sleep 0.5
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/err2.txt"; rc=$?
expect_eq "resumed run exits 0" 0 "$rc"
for d in "$T"/out/cells/*/; do
	expect_eq "$(basename "$d"): each round once after resume" "1 2 3" \
		"$("$CSV" "$d/rounds.csv" column round | tr '\n' ' ' | sed 's/ $//')"
done

# shards deal out whole blocks: each of 2 shards measures one model's three
# chains in every round; merged, the same cells as one batch
rm -rf "$T/out"
for i in 0 1; do
	"$PB" run --shard $i/2 --progress plain "$T/exp.yaml" > /dev/null 2>&1
	expect_eq "shard $i ran one whole block (3 cells)" $((3 * (i + 1))) "$(ls -d "$T"/out/cells/*/ | grep -vc '\.tmp/$')"
done
expect_eq "shard 0 took model a's block, shard 1 model b's" "3 3" \
	"$(ls "$T"/out/cells | grep -c '^a\.') $(ls "$T"/out/cells | grep -c '^b\.')"
"$PB" merge "$T/out" > /dev/null 2>&1
expect_eq "merged shards: 18 cell × round rows" 18 "$("$CSV" "$T/out/rounds.csv" rows)"
for col in kl_mean agreement_top1 perplexity; do
	a=$("$CSV" "$T/out/summary.csv" column "$col" | tr '\n' ' ')
	b=$("$CSV" "$T/one/summary.csv" column "$col" | tr '\n' ' ')
	expect_eq "$col: sharded rounds and one round agree" "$b" "$a"
done

# --reverse-order runs each round's schedule backwards
"$PB" run --force --reverse-order --progress plain "$T/exp.yaml" > /dev/null 2>&1
python3 - "$T/rounds-1.csv" "$T/out/rounds.csv" <<'PY' > "$T/rev.txt"
import csv, sys
def order(f):
    o = {}
    for r in csv.DictReader(open(f)):
        o.setdefault(r["round"], []).append((int(r["round_position"]), r["cell_id"]))
    return {k: [c for _, c in sorted(v)] for k, v in o.items()}
a, b = order(sys.argv[1]), order(sys.argv[2])
print(all(a[k] == b[k][::-1] for k in a))
PY
expect_eq "--reverse-order: every round backwards" True "$(cat "$T/rev.txt")"

# aa_control needs a baseline
sed -e 's/^  dense: \[\]$//' "$T/exp.yaml" > "$T/bad.yaml"
out=$("$PB" validate "$T/bad.yaml" 2>&1); rc=$?
expect_eq "aa_control without a baseline fails validate" 1 "$rc"
expect_contains "the error names the setting" "$out" "bad.yaml:9:13: 'aa_control': needs a baseline chain"
finish

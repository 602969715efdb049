#!/usr/bin/env bash
# End to end: accuracy columns.  The synthetic llama-15m on a JSON-lines
# dataset with references and on raw text: perplexity, agreement and KL
# columns exist (perplexity for every dataset kind, with its protocol);
# the dense cell agrees with its own reference (agreement 1,
# KL 0); a 60 % magnitude cell does not; the dense reference is computed
# once per (model, dataset) and left with no temporary folder.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/data"
cat > "$T/data/qa.jsonl" <<'JSON'
{"question": "Q: What is two and two?", "answer": "four"}
{"question": "Q: What colour is the sky?", "answer": "blue, mostly"}
{"question": "Q: Name a fruit.", "answer": "an apple"}
JSON
printf 'Once upon a time there was a little model.\n<|endoftext|>\nIt liked to count tokens.\n' > "$T/data/story.raw"
cat > "$T/exp.yaml" <<YAML
name: e2e-acc
seed: 3
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 3
score_tokens: 64
models:
  m: {synth: llama-15m}
datasets:
  qa: {path: data/qa.jsonl, input: question, reference: answer, prefix: "Answer. "}
  story: {path: data/story.raw, ctx: 32, stride: 16}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: 0.6}}]
backends:
  ref: {}
YAML

"$PB" run --progress plain "$T/exp.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/run.err" "$T"/out/cells/*/run.log 2>/dev/null | tail -30
S="$T/out/summary.csv"
expect_eq "summary has 4 rows" 4 "$("$CSV" "$S" rows)"
for col in perplexity perplexity_dense agreement_top1 kl_mean exact_match token_f1 rouge_l scored_tokens score_ms encode_ms_mean; do
	"$CSV" "$S" get 0 "$col" > /dev/null 2>&1 || fail "summary has no column $col"
done
ok "accuracy columns present"

num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
for r in 0 1 2 3; do
	ds=$("$CSV" "$S" get $r dataset)
	pr=$("$CSV" "$S" get $r pruner)
	agr=$("$CSV" "$S" get $r agreement_top1)
	kl=$("$CSV" "$S" get $r kl_mean)
	ppl=$("$CSV" "$S" get $r perplexity)
	n=$("$CSV" "$S" get $r scored_tokens)
	[ -n "$agr" ] && [ -n "$kl" ] || fail "$ds/$pr: agreement or KL empty"
	expect_eq "$ds/$pr: encode_ms empty for a decoder-only model" "" "$("$CSV" "$S" get $r encode_ms_mean)"
	case $pr in
	dense)
		expect_eq "$ds/dense: agreement 1" 1 "$agr"
		num_lt "$kl" 1e-6 && ok "$ds/dense: KL ~ 0 ($kl)" || fail "$ds/dense: KL $kl not ~ 0" ;;
	mag)
		num_lt "$agr" 1 && ok "$ds/mag: agreement < 1 ($agr)" || fail "$ds/mag: agreement $agr"
		num_lt 0 "$kl" && ok "$ds/mag: KL > 0 ($kl)" || fail "$ds/mag: KL $kl" ;;
	esac
	case $ds in
	story)
		[ -n "$ppl" ] && ok "story/$pr: perplexity $ppl" || fail "story/$pr: perplexity empty"
		expect_eq "story/$pr: protocol hf-strided" hf-strided "$("$CSV" "$S" get $r perplexity_protocol)"
		expect_eq "story/$pr: no references, no exact match" "" "$("$CSV" "$S" get $r exact_match)" ;;
	qa)
		[ -n "$ppl" ] && ok "qa/$pr: per-record perplexity $ppl" || fail "qa/$pr: perplexity empty"
		expect_eq "qa/$pr: protocol records" records "$("$CSV" "$S" get $r perplexity_protocol)"
		expect_eq "qa/$pr: scored positions within score_tokens" 64 "$n"
		[ -n "$("$CSV" "$S" get $r rouge_l)" ] && ok "qa/$pr: rouge_l filled" || fail "qa/$pr: rouge_l empty" ;;
	esac
done
dense_ppl=$(for r in 0 1 2 3; do [ "$("$CSV" "$S" get $r dataset)/$("$CSV" "$S" get $r pruner)" = story/dense ] && "$CSV" "$S" get $r perplexity; done)
dense_ref=$(for r in 0 1 2 3; do [ "$("$CSV" "$S" get $r dataset)/$("$CSV" "$S" get $r pruner)" = story/dense ] && "$CSV" "$S" get $r perplexity_dense; done)
expect_eq "dense perplexity equals the reference's" "$dense_ppl" "$dense_ref"

# per request: the reference metrics in requests.csv
cell=$(ls "$T/out/cells" | grep '^m\.qa\.dense')
R="$T/out/cells/$cell/requests.csv"
expect_eq "requests.csv: 3 requests" 3 "$("$CSV" "$R" rows)"
[ -n "$("$CSV" "$R" get 0 token_f1)" ] && ok "requests.csv has token_f1" || fail "requests.csv token_f1 empty"
expect_contains "manifest names the reference" "$(cat "$T/out/cells/$cell/manifest.yaml")" "dense_reference:"

# one reference per (model, dataset), reused by the pruned cell
expect_eq "two reference folders" 2 "$(ls -d "$T"/out/reference/*/ | wc -l)"
expect_eq "no temporary folder left" 0 "$(ls -d "$T"/out/reference/*.tmp.* 2>/dev/null | wc -l)"
n_computed=$(grep -h "dense reference computed" "$T"/out/cells/*/run.log | wc -l)
n_read=$(grep -h "dense reference read" "$T"/out/cells/*/run.log | wc -l)
# computed before the cells, in a process of its own: no measured cell
# computes it (its time and memory would land in that cell's figures)
expect_eq "no cell computed a reference" 0 "$n_computed"
expect_eq "every cell read its pair's reference" 4 "$n_read"

# encoder-decoder: encode_ms filled; teacher forcing over the reference
# (qa) or over the dense greedy output (open, no references)
cat > "$T/t5.yaml" <<YAML
name: e2e-t5
seed: 3
output: $T/t5out
warmup: 0
max_new_tokens: 3
score_tokens: 64
models:
  t5: {synth: t5-small}
datasets:
  qa: {path: data/qa.jsonl, input: question, reference: answer}
  open: {path: data/qa.jsonl, input: question}
backends:
  ref: {}
YAML
"$PB" run --progress plain "$T/t5.yaml" > "$T/t5.out" 2> "$T/t5.err"; rc=$?
expect_eq "t5 run exits 0" 0 "$rc"
S="$T/t5out/summary.csv"
for r in 0 1; do
	ds=$("$CSV" "$S" get $r dataset)
	[ -n "$("$CSV" "$S" get $r encode_ms_mean)" ] && ok "t5/$ds: encode_ms filled" || fail "t5/$ds: encode_ms empty"
	expect_eq "t5/$ds: dense agreement 1" 1 "$("$CSV" "$S" get $r agreement_top1)"
	n=$("$CSV" "$S" get $r scored_tokens)
	[ "${n:-0}" -gt 0 ] && ok "t5/$ds: $n decoder positions scored" || fail "t5/$ds: nothing scored"
	[ -n "$("$CSV" "$S" get $r perplexity)" ] && ok "t5/$ds: decoder perplexity" || fail "t5/$ds: perplexity empty"
done
cell=$(ls "$T/t5out/cells" | grep '^t5\.qa\.')
[ -n "$("$CSV" "$T/t5out/cells/$cell/requests.csv" get 0 encode_ms)" ] && ok "t5 requests.csv has encode_ms" || fail "t5 requests.csv encode_ms empty"
finish

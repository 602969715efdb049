#!/usr/bin/env bash
# End to end (issue 14, item 13): `memory_limit` ends a cell whose plugin
# allocates without bound, and the cell's manifest and summary say
# "exceeded memory_limit 1 GiB in phase compress"; a dense cell under the
# same limit completes; a bad size is refused by validate with its position.
. "$(dirname "$0")/lib.sh"
export PRUNEBENCH_PLUGIN_PATH=${FAKE_PLUGINS_GOOD:?}
write_prompts
cat > "$T/exp.yaml" <<YAML
name: mem
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 2
score_tokens: 0
timeout: 120s
memory_limit: 1GiB
models:
  m: {synth: llama-15m}
datasets:
  p: {path: data/p.txt}
pruners:
  dense: []
  leak: [leak]
backends:
  ref: {}
YAML
out=$("$PB" validate "$T/exp.yaml" 2>&1); rc=$?
expect_eq "validate accepts memory_limit" 0 "$rc"
expect_contains "validate shows the limit" "$out" "memory_limit 1 GiB per cell, enforced by"
# RLIMIT_AS limits address space: a sanitizer build reserves terabytes of it
# at start, so there nothing but a cgroup can give the cells 1 GiB.
if printf '%s' "$out" | grep -q "enforced by RLIMIT_AS" &&
   ldd "$PB" 2>/dev/null | grep -Eq 'lib(a|ub|t)san'; then
	echo "SKIP: RLIMIT_AS (no cgroup v2 delegation here) cannot limit a sanitizer build"
	exit 77
fi

t0=$(date +%s)
"$PB" run --progress plain "$T/exp.yaml" > "$T/out.txt" 2> "$T/err.txt"; rc=$?
t1=$(date +%s)
expect_eq "a cell over its memory limit fails the batch" 1 "$rc"
expect_contains "summary line" "$(cat "$T/err.txt")" "1 done, 1 failed"
reason=$(grep -h '^reason:' "$T"/out/cells/m.p.leak.ref-*/manifest.yaml)
expect_contains "manifest: the limit and the phase" "$reason" "exceeded memory_limit 1 GiB in phase compress"
expect_contains "summary.csv: the reason" "$(cat "$T/out/summary.csv")" "exceeded memory_limit 1 GiB in phase compress"
if grep -q "nothing stopped it" "$T"/out/cells/m.p.leak.ref-*/run.log; then
	fail "the leak ran past 3 GiB: the limit did not hold"
else
	ok "the limit stopped the leak"
fi
[ -d "$T"/out/cells/m.p.dense.ref-* ] && ok "dense cell done under the limit" || fail "dense cell missing"
[ $((t1 - t0)) -lt 100 ] && ok "ended long before the timeout" || fail "took $((t1 - t0)) s"

# the id does not depend on the limit (like timeout)
id1=$("$PB" validate "$T/exp.yaml" | grep -o 'm\.p\.dense\.ref-[0-9a-f]*')
sed 's/^memory_limit: 1GiB$/memory_limit: 2GiB/' "$T/exp.yaml" > "$T/exp2.yaml"
id2=$("$PB" validate "$T/exp2.yaml" | grep -o 'm\.p\.dense\.ref-[0-9a-f]*')
expect_eq "memory_limit leaves the cell id alone" "$id1" "$id2"

sed 's/^memory_limit: 1GiB$/memory_limit: 2 lots/' "$T/exp.yaml" > "$T/bad.yaml"
out=$("$PB" validate "$T/bad.yaml" 2>&1); rc=$?
expect_eq "a bad size is refused" 1 "$rc"
expect_contains "bad size: position" "$out" "bad.yaml:8:15"
expect_contains "bad size: what is expected" "$out" "'memory_limit': expected a size"
finish

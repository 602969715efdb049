#!/usr/bin/env bash
# End to end, chaos: kill -9 a multi-cell run at seeded random moments and
# resume it with `prunebench run` on the same output (issue 14).  The kills:
# the whole job (the batch and its cell children at once) while the dense
# reference's lock is held, the batch process alone (its children die with
# it, PR_SET_PDEATHSIG), and the whole job again.  After the last resume:
# every cell is done exactly once (a cell done before a kill is never
# rewritten), every CSV parses with the project's own reader (csvtool:
# pb_csv_read), and nothing is left over: no .tmp folders, no lock files.
# stories260K (tiny, trained) on a text dataset: fast cells, and a dense
# reference to compute under the lock.  PB_CHAOS_SEED picks other moments.
. "$(dirname "$0")/lib.sh"
need_s260k
RANDOM=${PB_CHAOS_SEED:-14}
mkdir -p "$T/data"
cp "$SRC/experiments/data/stories.txt" "$T/data/s.txt"
cat > "$T/exp.yaml" <<YAML
name: chaos
output: $T/out
repeat: 1
warmup: 0
max_new_tokens: 2
max_samples: 2
score_tokens: 1024
models:
  m: {path: $S260K}
datasets:
  s: {path: data/s.txt, format: text}
pruners:
  dense: []
  mag: [{magnitude: {sparsity: {sweep: [0.3, 0.6]}}}]
  q8: [{quant: {type: q8_0}}]
backends:
  ref: {}
YAML
N=4
out=$T/out

# Every descendant of a pid (the cells' children are in process groups of
# their own, so a group kill would miss them).
descendants() {
	local p c f s
	for p in "$@"; do
		c=""
		if [ -r "/proc/$p/task/$p/children" ]; then
			read -r c < "/proc/$p/task/$p/children"
		else   # kernels without CONFIG_PROC_CHILDREN: scan every process
			for f in /proc/[0-9]*/stat; do
				read -r s < "$f" 2> /dev/null || continue
				s=${s##*) }
				set -- $s
				f=${f#/proc/}
				[ "$2" = "$p" ] && c="$c ${f%/stat}"
			done
		fi
		for f in $c; do
			echo "$f"
			descendants "$f"
		done
	done
}

start() { # log
	"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$1" &
	pid=$!
}

# kill -9 the batch (alone: parent; all: parent and every descendant at
# once), then wait until every process of it is gone: the children of a
# parent killed alone die by PR_SET_PDEATHSIG, a moment later
kill_batch() { # parent|all
	local kids k i st
	kids=$(descendants "$pid")
	if [ "$1" = all ]; then kill -KILL "$pid" $kids 2> /dev/null; else kill -KILL "$pid"; fi
	wait "$pid" 2> /dev/null
	for k in $kids; do
		for i in $(seq 1 500); do
			read -r st < "/proc/$k/stat" 2> /dev/null || break
			st=${st##*) }
			case $st in Z*|X*) break ;; esac
			sleep 0.01
		done
	done
}

# seeded (in this shell: a $(...) subshell would reseed RANDOM): 0.30 .. 4.00 s,
# a run of the four cells takes 3-10 s here
random_delay() {
	local cs=$((30 + RANDOM % 371))
	delay=$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))
}

done_cells() { ls -d "$out"/cells/*/ 2> /dev/null | grep -v '\.tmp/$' | wc -l; }

# The manifests of the cells done so far, with a checksum: they must not
# change again.
snapshot() {
	for d in "$out"/cells/*/; do
		case $d in *.tmp/) continue ;; esac
		[ -f "$d/manifest.yaml" ] && cksum "$d/manifest.yaml"
	done >> "$T/snap.txt"
}

t0=$(date +%s)
: > "$T/snap.txt"

# 1. the whole job, while the reference lock is held
start "$T/run1.err"
seen=0
for i in $(seq 1 3000); do
	if ls "$out"/reference/*.lock > /dev/null 2>&1; then
		seen=1
		break
	fi
	kill -0 "$pid" 2> /dev/null || break
	sleep 0.01
done
kill_batch all
expect_eq "killed while the reference lock was held" 1 "$seen"
n=$(ls "$out"/reference/ 2> /dev/null | grep -c '\.lock')
if [ "$n" -ge 1 ]; then
	ok "the killed holder left $n lock file(s) behind"
else   # released between our look and the kill: rare, and no harm
	ok "the lock was released before the kill landed"
fi
snapshot

# 2. the batch alone, at a random moment; 3. the whole job, at another
for what in parent all; do
	start "$T/run-$what.err"
	random_delay
	sleep "$delay"
	kill_batch "$what"
	ok "killed the $what at $delay s, $(done_cells) of $N cells done"
	snapshot
done

# 4. resume to the end
"$PB" run --progress plain "$T/exp.yaml" > /dev/null 2> "$T/last.err"; rc=$?
expect_eq "the last resume exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/last.err"

# every cell done, exactly once
expect_eq "$N cell folders" "$N" "$(done_cells)"
for d in "$out"/cells/*/; do
	expect_eq "$(basename "$d") done once" 1 "$(grep -c '^status: done' "$d/manifest.yaml")"
done
expect_eq "summary has $N rows" "$N" "$("$CSV" "$out/summary.csv" rows)"
expect_eq "no cell twice in the summary" "" "$("$CSV" "$out/summary.csv" column cell_id | sort | uniq -d)"
sort -u "$T/snap.txt" | while read -r sum size path; do
	[ "$(cksum "$path" 2> /dev/null)" = "$sum $size $path" ] || echo "$path"
done > "$T/changed.txt"
expect_eq "cells done before a kill were not rewritten" "" "$(cat "$T/changed.txt")"

# every CSV parses with the project's reader
bad=0
ncsv=0
while read -r f; do
	ncsv=$((ncsv + 1))
	"$CSV" "$f" rows > /dev/null || { fail "$f does not parse"; bad=1; }
done < <(find "$out" -name '*.csv')
[ "$bad" -eq 0 ] && ok "all $ncsv CSV files parse"

# nothing left over
left=$(cd "$out" && find . -name '*.tmp' -o -name '*.tmp.*' -o -name '*.lock' -o -name '*.lock.*' \
	-o -name '*.rounds' | sort | tr '\n' ' ')
expect_eq "no .tmp folders or lock files left" "" "$left"
echo "chaos: $(($(date +%s) - t0)) s"
finish

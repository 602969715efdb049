#!/usr/bin/env bash
# End to end on a real Slurm: bring up a one-node cluster
# (scripts/slurm-local.sh), submit the quickstart (small settings) as an
# array of 3 tasks plus the merge job, and check: every cell done exactly
# once, by its own array task, and the merged summary equals a local run's
# in every column but timings and host readings (accuracy byte for byte in
# one environment, within the stated bound across OpenBLAS core types).
# Then cancel one array task mid-run (scancel), resubmit with
# --only-failed, and check that just the cancelled cell ran again.  The cluster always comes down (trap).
# Skips (77) when not root or when slurm-wlm/munge are not installed.
set -u
PB=${PB_BUILD_ROOT:?}/prunebench
SRC=${PB_SOURCE_ROOT:?}
DIFF=${PB_SUMMARY_DIFF:?}
LOCAL=$SRC/scripts/slurm-local.sh
export NO_COLOR=1

[ "$EUID" = 0 ] || { echo "SKIP: needs root to run slurmd (CI runs as root)"; exit 77; }
s260k=${PB_SHARED:-$SRC/../shared}/models/stories260K/stories260K.bin
[ -r "$s260k" ] || { echo "SKIP: $s260k absent (experiments/quickstart.yaml names it)"; exit 77; }
for b in munged slurmctld slurmd sbatch squeue scancel sinfo; do
	command -v "$b" > /dev/null ||
		{ echo "SKIP: '$b' not installed (apt-get install slurm-wlm munge; scripts/setup.sh with PB_TEST_DEPS=1)"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pb-slurm.XXXXXX")
chmod 755 "$T"
export PB_SLURM_DIR=$T/cluster
# a port of our own: a developer's cluster may hold the default one
export PB_SLURM_PORT=$((17000 + (RANDOM % 1000) * 2))
cleanup() {
	"$LOCAL" down > /dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi; }
expect_contains() { if printf '%s' "$2" | grep -qF -- "$3"; then ok "$1"; else fail "$1: expected '$3' in: $2"; fi; }
t_start=$(date +%s)

if ! "$LOCAL" up > "$T/up.txt" 2>&1; then
	cat "$T/up.txt"; tail -n 20 "$PB_SLURM_DIR"/log/* 2>/dev/null
	echo "FAIL: the local Slurm did not come up"; exit 1
fi
export SLURM_CONF=$PB_SLURM_DIR/slurm.conf
ok "local Slurm up in $(( $(date +%s) - t_start )) s: $(sinfo -h -o '%n %c CPUs %t')"

# wait_gone JOBID... : until none is in the queue (bounded)
wait_gone() {
	local limit=$1; shift
	for _ in $(seq 1 $((limit * 4))); do
		local left
		left=$(squeue -h -r -o '%F %i' 2>/dev/null | awk -v ids=" $* " 'index(ids, " " $1 " ") || index(ids, " " $2 " ")' | wc -l)
		[ "$left" = 0 ] && return 0
		sleep 0.25
	done
	echo "jobs $* still queued after $limit s:"; squeue -r
	return 1
}

# The quickstart with small settings (3 cells: dense, magnitude 30 %, 60 %).
mkdir -p "$T/exp/data"
cp "$SRC/experiments/data/prompts.txt" "$SRC/experiments/data/stories.txt" "$T/exp/data/"
# (its llama-15m cells only: `include`; the ../shared model's path made
# absolute, since validate checks every model named)
sed -e "s#^output:.*#output: $T/out#" -e 's#^repeat:.*#repeat: 1#' -e 's#^warmup:.*#warmup: 0#' \
    -e 's#^max_new_tokens:.*#max_new_tokens: 4\nmax_samples: 2\nscore_tokens: 64#' \
    -e "s#\.\./\.\./shared/#${PB_SHARED:-$SRC/../shared}/#" \
    "$SRC/experiments/quickstart.yaml" > "$T/exp/q.yaml"
cat >> "$T/exp/q.yaml" <<'YAML'
include:
  - {model: llama-15m}
slurm:
  time: '10'
  cpus_per_task: 1
YAML
grep -q '^max_samples: 2' "$T/exp/q.yaml" || { echo "FAIL: could not shrink the quickstart"; exit 1; }

"$PB" -q run "$T/exp/q.yaml" -o "$T/local" > /dev/null 2> "$T/local.err" || { cat "$T/local.err"; fail "local run"; }

# a shard never writes the merged summary
"$PB" -q run --shard 0/3 "$T/exp/q.yaml" -o "$T/shard" > /dev/null 2>&1
expect_eq "a shard writes its cells" 1 "$(ls "$T/shard/cells" | wc -l)"
[ ! -e "$T/shard/summary.csv" ] && ok "a shard writes no summary.csv" || fail "a shard wrote summary.csv"

# --- 1. the array and the merge
out=$("$PB" slurm "$T/exp/q.yaml" --max-parallel 3 --submit 2>&1); rc=$?
echo "$out"
expect_eq "slurm --submit exits 0" 0 "$rc"
array=$(printf '%s\n' "$out" | awk '/^array job/ { sub(":", "", $3); print $3 }')
merge=$(printf '%s\n' "$out" | awk '/^merge job/ { sub(":", "", $3); print $3 }')
[ -n "$array" ] && [ -n "$merge" ] || { echo "FAIL: no job ids"; exit 1; }
script="$T/out/slurm/run.sbatch"
expect_contains "array of 3, at most 3 at once" "$(cat "$script")" "#SBATCH --array=0-2%3"
expect_contains "slurm: block's time" "$(cat "$script")" "#SBATCH --time=10"
st=$("$PB" status "$T/exp/q.yaml")
expect_contains "status sees the array in the queue" "$st" "slurm jobs in the queue:"
wait_gone 120 "$array" "$merge" || fail "the array and merge did not finish in 120 s"
expect_eq "merge job log" "merged 3 cells into $T/out/summary.csv" "$(head -n 1 "$T/out/slurm/logs/$merge-merge.out")"

n=0
for d in "$T"/out/cells/*/; do
	n=$((n + 1))
	m="$d/manifest.yaml"
	expect_eq "$(basename "$d") done" 1 "$(grep -c '^status: done' "$m")"
	grep -Eq "SLURM_ARRAY_JOB_ID: ['\"]?$array['\"]?\$" "$m" || fail "$(basename "$d"): no SLURM_ARRAY_JOB_ID $array in its manifest"
	grep -q "SLURMD_NODENAME:" "$m" && grep -q "SLURM_JOB_ID:" "$m" || fail "$(basename "$d"): no node name or job id in its manifest"
	task=$(sed -En "s/^ *SLURM_ARRAY_TASK_ID: ['\"]?([0-9]+)['\"]?\$/\1/p" "$m")
	# the cell ran in exactly one task, and that task's log shows it
	starts=$(cat "$T"/out/slurm/logs/"${array}"_*.out | grep -c "start $(basename "$d")\$")
	expect_eq "$(basename "$d") started once" 1 "$starts"
	grep -q "start $(basename "$d")\$" "$T/out/slurm/logs/${array}_$task.out" ||
		fail "$(basename "$d") not in the log of task $task"
done
expect_eq "three cell folders" 3 "$n"
tasks=$(cat "$T"/out/cells/*/manifest.yaml | sed -En "s/^ *SLURM_ARRAY_TASK_ID: ['\"]?([0-9]+)['\"]?\$/\1/p" | sort | tr '\n' ' ')
expect_eq "one cell per array task" "0 1 2 " "$tasks"
expect_eq "one dense reference, no leftovers" 1 "$(ls "$T/out/reference" | wc -l)"
# One environment (the jobs see this shell's OPENBLAS_CORETYPE: sbatch
# exports the submitter's environment): accuracy columns byte for byte,
# whatever the threads per task.  Another one: the cross-environment
# bound (README "Bit-identical accuracy"; summary-diff --cross-env).
sbatch -Q --wait -t 1 -o "$T/env.out" --wrap 'printf "%s\n" "${OPENBLAS_CORETYPE-<unset>}"' > /dev/null 2>&1
job_ct=$(cat "$T/env.out" 2>/dev/null)
if [ -n "$job_ct" ] && [ "$job_ct" = "${OPENBLAS_CORETYPE-<unset>}" ]; then
	mode=(); ok "jobs run with this shell's OPENBLAS_CORETYPE ($job_ct): exact comparison"
else
	mode=(--cross-env); ok "jobs' OPENBLAS_CORETYPE '${job_ct:-?}' differs from '${OPENBLAS_CORETYPE-<unset>}': accuracy within the cross-environment bound"
fi
d=$("$DIFF" "${mode[@]}" "$T/local/summary.csv" "$T/out/summary.csv"); rc=$?
echo "$d"
expect_eq "merged summary equals the local run (but timings and host readings)" 0 "$rc"
cols=$(printf '%s' "$d" | awk '/columns compared/ { print $1 }')
[ "${cols:-0}" -ge 20 ] && ok "$cols columns compared" || fail "only ${cols:-0} columns compared"
st=$("$PB" status "$T/exp/q.yaml")
expect_contains "status: all done" "$st" "3 done, 0 failed, 0 running, 0 queued, 0 pending"
t1=$(date +%s)
ok "array + merge round trip in $((t1 - t_start)) s"

# --- 2. scancel one task mid-run, resubmit the failed and missing cells.
# Slower cells (more tokens) so the cancel lands while task 1 measures.
set2=(--set max_new_tokens=48 --set repeat=2)
out=$("$PB" slurm "$T/exp/q.yaml" "${set2[@]}" -o "$T/out2" --max-parallel 2 --submit 2>&1) || fail "second submit: $out"
array2=$(printf '%s\n' "$out" | awk '/^array job/ { sub(":", "", $3); print $3 }')
merge2=$(printf '%s\n' "$out" | awk '/^merge job/ { sub(":", "", $3); print $3 }')
victim=""
for _ in $(seq 1 400); do
	if squeue -h -r -o '%i %T' | grep -q "^${array2}_1 RUNNING" && ls -d "$T"/out2/cells/*.tmp > /dev/null 2>&1; then
		# the .tmp of task 1's cell: task 1 is in the middle of it
		victim=$(grep -l "start " "$T/out2/slurm/logs/${array2}_1.out" > /dev/null 2>&1 &&
			 sed -n 's/.* start \(.*\)$/\1/p' "$T/out2/slurm/logs/${array2}_1.out" | head -n 1)
		[ -n "$victim" ] && [ -d "$T/out2/cells/$victim.tmp" ] && break
	fi
	sleep 0.05
done
[ -n "$victim" ] || { echo "FAIL: task 1 never started a cell"; squeue -r; exit 1; }
scancel "${array2}_1"
ok "cancelled task ${array2}_1 while it ran $victim"
wait_gone 30 "${array2}_1" || fail "the cancelled task did not leave the queue"
st=$("$PB" status "$T/exp/q.yaml" "${set2[@]}" -o "$T/out2")
echo "$st"
expect_contains "status: the cancelled cell is not done" "$st" "pending  $victim"
out=$("$PB" slurm "$T/exp/q.yaml" "${set2[@]}" -o "$T/out2" --only-failed --submit 2>&1) || fail "resubmit: $out"
echo "$out"
expect_contains "only the cancelled cell is resubmitted" "$out" "1 cell in 1 array task"
expect_eq "the retry's cell list" "$victim" "$(grep -v '^#' "$T/out2/slurm/retry-1.cells")"
array3=$(printf '%s\n' "$out" | awk '/^array job/ { sub(":", "", $3); print $3 }')
merge3=$(printf '%s\n' "$out" | awk '/^merge job/ { sub(":", "", $3); print $3 }')
wait_gone 150 "$array2" "$merge2" "$array3" "$merge3" || fail "the retry did not finish in 150 s"
st=$("$PB" status "$T/exp/q.yaml" "${set2[@]}" -o "$T/out2")
expect_contains "status after the retry: all done" "$st" "3 done, 0 failed, 0 running, 0 queued, 0 pending"
grep -Eq "SLURM_ARRAY_JOB_ID: ['\"]?$array3['\"]?\$" "$T/out2/cells/$victim/manifest.yaml" &&
	ok "the cancelled cell was run by the retry array" || fail "$victim was not run by array $array3"
expect_eq "no .tmp left" 0 "$(ls -d "$T"/out2/cells/*.tmp 2>/dev/null | wc -l)"
rows=$("$PB_BUILD_ROOT/tests/e2e/csvtool" "$T/out2/summary.csv" rows 2>/dev/null ||
       echo "$(( $(wc -l < "$T/out2/summary.csv") - 1 ))")
expect_eq "the merged summary has every cell" 3 "$rows"
out=$("$PB" slurm "$T/exp/q.yaml" "${set2[@]}" -o "$T/out2" --only-failed 2>&1)
expect_contains "nothing left to resubmit" "$out" "nothing to resubmit"
ok "cancel + resubmit in $(( $(date +%s) - t1 )) s; whole test $(( $(date +%s) - t_start )) s"

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed; daemon logs:"
	tail -n 15 "$PB_SLURM_DIR"/log/slurmctld.log "$PB_SLURM_DIR"/log/slurmd.log
	exit 1
fi
exit 0

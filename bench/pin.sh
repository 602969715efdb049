# bench/pin.sh — sourced by run-path.sh and vs-llama.sh: `pinned T CMD…`
# runs CMD on one CPU when T (its thread count) is 1, the same CPU for every
# path and round: PIN, default the first CPU the script may use; PIN=
# leaves them unpinned.  Why: a VM's CPUs need not be equal — on a 2-vCPU
# host one ran prefill 30 % and decode 40 % slower than the other for
# minutes, and which one moved — and an unpinned 1-thread run lands on
# either, so its figures jump between two levels and a comparison of two
# paths measures where each landed.  Runs on more threads are left to the
# scheduler.  Without taskset nothing is pinned.
# shellcheck shell=bash
pin_cpu=${PIN-auto}
[ "$pin_cpu" = auto ] &&
	pin_cpu=$(awk '/^Cpus_allowed_list/ { split($2, a, /[,-]/); print a[1] }' /proc/self/status)
command -v taskset > /dev/null || pin_cpu=""
pinned() { # threads command...: the command, on pin_cpu when threads is 1
	local t=$1
	shift
	if [ "$t" = 1 ] && [ -n "$pin_cpu" ]; then
		taskset -c "$pin_cpu" "$@"
	else
		"$@"
	fi
}

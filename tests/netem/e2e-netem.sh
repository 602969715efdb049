#!/usr/bin/env bash
# An emulated link end to end (issue 16, "Done when"): the same served
# cell (stories260K on the ref backend, `serve: true`) on loopback and
# through a netem link of delay_ms: 50.  The delay is applied on both veth
# ends (each direction), so a request's TTFT, which needs the request to
# reach the server and the first token to come back, should grow by one
# round trip: 100 ms, accepted within ±30 % (70..130 ms, medians of 8
# requests each).  The server's own TTFT (`prunebench.ttft_ms`, measured
# inside the server: in-process) must not grow (within 15 ms).  Afterwards
# no pbnet-* namespace and no pbh*/pbn* veth may be left, and a leftover
# of a dead run (a namespace named for a pid that is not running) is
# removed by the next served cell with a link.
#
# Skips (77) with the reason when not root, when namespaces cannot be made,
# or when the kernel has no netem.
. "$PB_SOURCE_ROOT/tests/e2e/lib.sh"
need_s260k
[ -e "$PB_BUILD_ROOT/plugins/backends/openai/backend-openai.so" ] ||
	{ echo "SKIP: the openai backend was not built (libcurl not found)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, tc netem)"; exit 77; }
command -v ip > /dev/null && command -v tc > /dev/null ||
	{ echo "SKIP: ip and tc (iproute2) are needed"; exit 77; }
probe=pbnet-probe$$
if ! ip netns add "$probe" 2> "$T/probe.err"; then
	echo "SKIP: cannot create a network namespace: $(cat "$T/probe.err")"; exit 77
fi
netem=1
if ! ip -n "$probe" link add pbpa$$ type veth peer name pbpb$$ 2> "$T/probe.err" ||
   ! tc -n "$probe" qdisc add dev pbpa$$ root netem delay 1ms 2> "$T/probe.err"; then
	netem=0
fi
ip netns del "$probe"

# a leftover of a dead run: pid 4194303 is at the kernel's limit, not running
dead=4194303
kill -0 $dead 2> /dev/null && { echo "SKIP: pid $dead is alive"; exit 77; }
ip netns add pbnet-$dead

MODEL=$S260K
mkdir -p "$T/data"
printf 'Once upon a time\nThe little dog\n' > "$T/data/p.txt"
left_nothing() { # what
	expect_eq "$1: no namespace left" "" "$(ip netns list | grep -E '^pbnet-' || true)"
	expect_eq "$1: no veth left" "" "$(ip -o link | grep -E ': pb[hn][0-9]+[@:]' || true)"
	expect_eq "$1: no server left" "" "$(pgrep -f "$T/out" || true)"
}

if [ "$netem" = 0 ]; then
	# no netem here: a shaped cell must say so and fail, and still remove
	# the namespace and veth it made (and the dead run's leftover)
	reason=$(cat "$T/probe.err")
	cat > "$T/u.yaml" <<YAML
name: unavailable
output: $T/out
max_new_tokens: 4
score_tokens: 0
models: {s260: {path: $MODEL}}
datasets: {p: {path: data/p.txt}}
backends: {srv: {plugin: ref, serve: true, network: lte}}
YAML
	"$PB" run --progress plain "$T/u.yaml" > "$T/u.out" 2> "$T/u.err"
	log=$(cat "$T"/out/cells/*/run.log "$T"/out/cells/*/manifest.yaml 2> /dev/null)
	expect_contains "the cell says netem is unavailable" "$log" "network 'lte': unavailable: tc cannot add a netem qdisc"
	expect_contains "run.log: the namespace was made" "$log" "netem: ip netns add pbnet-"
	expect_contains "the dead run's namespace was removed" "$log" "link of process $dead"
	left_nothing "netem unavailable"
	[ "$fails" = 0 ] || finish
	echo "SKIP: the kernel has no netem (tc qdisc add ... netem: $reason); the unavailable path passed"
	exit 77
fi
cat > "$T/x.yaml" <<YAML
name: netem
output: $T/out
repeat: 4
warmup: 2
max_new_tokens: 8
score_tokens: 0
models:
  s260: {path: $MODEL}
datasets:
  p: {path: data/p.txt}
backends:
  lo: {plugin: ref, serve: true}
  d50: {plugin: ref, serve: true, network: {delay_ms: 50}}
probes: [procstat]
YAML
"$PB" run --progress plain "$T/x.yaml" > "$T/run.out" 2> "$T/run.err"; rc=$?
expect_eq "run exits 0" 0 "$rc"
[ "$rc" = 0 ] || { tail -40 "$T/run.err"; cat "$T"/out/cells/*/run.log 2>/dev/null | tail -60; }

median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
LO=$(ls -d "$T"/out/cells/s260.p.dense.lo-* 2>/dev/null)
D50=$(ls -d "$T"/out/cells/s260.p.dense.d50-* 2>/dev/null)
[ -n "$LO" ] && [ -n "$D50" ] || { fail "cell folders missing"; finish; }
ttft_lo=$("$CSV" "$LO/requests.csv" column ttft_ms | median)
ttft_d50=$("$CSV" "$D50/requests.csv" column ttft_ms | median)
srv_lo=$("$CSV" "$LO/requests.csv" column server_ttft_ms | median)
srv_d50=$("$CSV" "$D50/requests.csv" column server_ttft_ms | median)
echo "TTFT median (client): loopback $ttft_lo ms, netem delay 50 ms each way $ttft_d50 ms"
echo "TTFT median (server, in-process): loopback $srv_lo ms, netem $srv_d50 ms"
grow=$(awk -v a="$ttft_lo" -v b="$ttft_d50" 'BEGIN {print b - a}')
awk -v g="$grow" 'BEGIN {exit !(g >= 70 && g <= 130)}' &&
	ok "client TTFT grew by $grow ms, one round trip (100 ms ± 30 %)" ||
	fail "client TTFT grew by $grow ms; expected 100 ms ± 30 % (delay on both veth ends)"
awk -v a="$srv_lo" -v b="$srv_d50" 'BEGIN {d = b - a; if (d < 0) d = -d; exit !(d <= 15)}' &&
	ok "server TTFT unchanged ($srv_lo vs $srv_d50 ms)" ||
	fail "server TTFT changed: $srv_lo vs $srv_d50 ms (more than 15 ms)"
expect_eq "summary: network of the shaped cell" custom "$("$CSV" "$D50/summary.csv" get 0 network)"
expect_eq "summary: network of the loopback cell" loopback "$("$CSV" "$LO/summary.csv" get 0 network)"
expect_contains "run.log: the tc command" "$(cat "$D50/run.log")" "root netem delay 50ms"
expect_contains "run.log: the namespace command" "$(cat "$D50/run.log")" "netem: ip netns add pbnet-"
expect_contains "run.log: the server listened inside" "$(cat "$D50/run.log")" "ready at http://10.213."
expect_contains "the dead run's namespace was reported" "$(cat "$D50/run.log" "$LO/run.log")" "link of process $dead"
left_nothing "after the cells"
finish

#!/bin/sh
# tests/probes/test-probe-cli.sh — `prunebench probe`: the list, the exit
# status with and without NAMES, and sampling fixture trees with --root.
# usage: test-probe-cli.sh PRUNEBENCH FIXTURES
set -u
PB=$1
FIX=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$out"; exit 1; }

# procstat works wherever /proc does
"$PB" probe procstat --duration 0.2 >"$out" 2>&1 || fail "probe procstat exited $?"
grep -q '^procstat  *ok$' "$out" || fail "procstat not ok"
grep -Eq '^  rss_bytes +bytes +gauge +[0-9]' "$out" || fail "no rss_bytes reading"
grep -Eq '^  proc_cpu_user_s +s +counter +[0-9.]+ +[0-9.e+-]+ s/s$' "$out" || fail "no counter rate"
for p in rapl thermal hwmon; do
	grep -Eq "^$p +(ok|unavailable: .+)$" "$out" || fail "$p not listed with a status"
done

# rapl: unavailable with a reason on a machine without RAPL
"$PB" probe rapl --duration 0 >"$out" 2>&1
rc=$?
if [ -e /sys/class/powercap/intel-rapl:0 ] || [ -e /sys/bus/event_source/devices/power/type ]; then
	if grep -q '^rapl  *ok$' "$out"; then
		[ $rc -eq 0 ] || fail "rapl ok but exit $rc"
	else
		[ $rc -eq 1 ] || fail "rapl unavailable but exit $rc"
		grep -Eq '^rapl +unavailable: .{20,}' "$out" || fail "rapl: no reason"
	fi
else
	[ $rc -eq 1 ] || fail "probe rapl exited $rc, want 1"
	grep -q '^rapl  *unavailable: no RAPL here: /sys/class/powercap' "$out" || fail "rapl: no reason"
fi

# without NAMES the list is the answer: exit 0 whatever is unavailable
"$PB" probe --duration 0 >"$out" 2>&1 || fail "probe without names exited $?"

# unknown names and bad options
"$PB" probe nosuchprobe --duration 0 >"$out" 2>&1
[ $? -eq 1 ] || fail "unknown probe: want exit 1"
grep -q "no probe named 'nosuchprobe'" "$out" || fail "unknown probe not named"
"$PB" probe --duration -1 >"$out" 2>&1
[ $? -eq 2 ] || fail "bad duration: want exit 2"

# fixture trees through --root
"$PB" probe --root "$FIX/rapl-2pkg" rapl --duration 0.2 >"$out" 2>&1 || fail "rapl on fixture exited $?"
grep -Eq '^  package_0_energy_j +J +counter +123\.456789 +0 W$' "$out" || fail "package_0 line"
for c in dram_0 package_1 dram_1 psys; do
	grep -Eq "^  ${c}_energy_j +J +counter " "$out" || fail "$c missing"
done
"$PB" probe --root "$FIX/thermal" thermal --duration 0.1 >"$out" 2>&1 || fail "thermal on fixture exited $?"
grep -Eq '^  x86_pkg_temp_0_temp_c +C +gauge +45 +max 45$' "$out" || fail "thermal zone0 line"
grep -Eq '^  acpitz_1_temp_c +C +gauge +n/a +max n/a$' "$out" || fail "thermal zone1 line"
"$PB" probe --root "$FIX/hwmon" hwmon --duration 0.1 --interval 20 >"$out" 2>&1 || fail "hwmon on fixture exited $?"
grep -Eq '^  bat0_power_w +W +gauge +6 +max 6$' "$out" || fail "bat0 line"
grep -Eq '^  ina3221_vdd_cpu_gpu_cv_current_a +A +gauge +0\.452 ' "$out" || fail "ina3221 line"
# --root for a probe whose root lacks its files: unavailable, the reason from init
"$PB" probe --root "$FIX/thermal" rapl --duration 0 >"$out" 2>&1
[ $? -eq 1 ] || fail "rapl on the thermal tree: want exit 1"
grep -q "^rapl  *unavailable: no RAPL here: $FIX/thermal/sys/class/powercap does not exist" "$out" ||
	fail "rapl on the thermal tree: reason"
echo ok

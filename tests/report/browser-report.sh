#!/usr/bin/env bash
# tests/report/browser-report.sh — the report as a reader sees it: the
# fixture's index.html rendered by headless Chromium (Debian's
# `chromium`).  A wrapper page loads it in an iframe and writes every
# chart's geometry (getBBox) into its own DOM, which --dump-dom prints;
# then the page itself is rendered alone with console logging on (it
# must log nothing: no errors, no CSP refusals) and a screenshot is kept
# at <build>/tests/report/browser/report.png.  Skips (77) without chromium.
set -u
PB=${PB_BUILD_ROOT:?}/prunebench
SRC=${PB_SOURCE_ROOT:?}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "SKIP: no Chromium at $CHROMIUM (apt-get install chromium, or PB_TEST_DEPS=1 scripts/setup.sh)"
	exit 77
fi
OUT=$PB_BUILD_ROOT/tests/report/browser
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-browser.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

rm -rf "$OUT"
mkdir -p "$OUT"
"$PB" report "$SRC/tests/report/fixtures/results" -o "$OUT" > /dev/null || { echo "FAIL: prunebench report"; exit 1; }
want=$(grep -o '<svg class="chart"' "$OUT/report/index.html" | wc -l)

chromium() { # url extra-args...
	local url=$1
	shift
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T/profile" --hide-scrollbars --disable-extensions \
		--run-all-compositor-stages-before-draw --virtual-time-budget=10000 "$@" "$url"
}

cat > "$OUT/check.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>report geometry check</title></head>
<body>
<pre id="result">pending</pre>
<iframe id="page" src="report/index.html" width="1280" height="1600"></iframe>
<script>
document.getElementById('page').addEventListener('load', function () {
  var res = document.getElementById('result');
  try {
    var charts = this.contentDocument.querySelectorAll('svg.chart'), good = 0, bad = [];
    charts.forEach(function (svg, i) {
      var b = svg.getBBox(), drawn = 0;
      svg.querySelectorAll('rect,path,circle,line,text').forEach(function (e) {
        var r = e.getBBox();
        if (r.width > 0 || r.height > 0) drawn++;
      });
      var w = svg.getBoundingClientRect();
      if (b.width > 0 && b.height > 0 && w.width > 0 && w.height > 0 && drawn >= 8) good++;
      else bad.push(i + ' "' + (svg.querySelector('title') || {}).textContent + '" bbox ' +
                    b.width + 'x' + b.height + ', ' + drawn + ' drawn');
    });
    res.textContent = 'charts=' + charts.length + ' good=' + good + (bad.length ? ' bad: ' + bad.join('; ') : '');
  } catch (e) {
    res.textContent = 'error: ' + e;
  }
});
</script>
</body></html>
HTML

chromium "file://$OUT/check.html" --allow-file-access-from-files --dump-dom > "$T/dom.html" 2> "$T/check.err"
result=$(sed -n 's/.*<pre id="result">\([^<]*\)<\/pre>.*/\1/p' "$T/dom.html")
if [ "$result" = "charts=$want good=$want" ] && [ "$want" -gt 0 ]; then
	ok "all $want charts drawn with non-empty geometry"
else
	fail "geometry: expected charts=$want good=$want, got '${result:-nothing}'"
	tail -5 "$T/check.err"
fi

chromium "file://$OUT/report/index.html" --enable-logging=stderr --v=0 --window-size=1280,2400 \
	--screenshot="$OUT/report.png" > "$T/page.out" 2> "$T/page.err"
size=$(stat -c %s "$OUT/report.png" 2>/dev/null || echo 0)
if [ "$size" -gt 20000 ]; then ok "screenshot $OUT/report.png ($size bytes)"; else fail "screenshot missing or blank ($size bytes)"; fi
# the page runs no script: any console message (an error, a refused
# fetch under its Content-Security-Policy) is a defect
console=$(grep -E 'CONSOLE|Refused to|Uncaught|Failed to load resource' "$T/page.err")
if [ -z "$console" ]; then ok "no console messages"; else fail "console: $console"; fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
exit 0

#!/usr/bin/env bash
# End to end: what a user or an attacker feeds prunebench is refused with
# the file, the position and the real reason, quickly, and exits non-zero
# (issue 14: deep YAML, FIFO/folder paths, errno kept end to end, cut CSV
# rows, validate opening every model and dataset).
. "$(dirname "$0")/lib.sh"
need_s260k
write_prompts
ms() { date +%s%N | cut -c1-13; }

base() {
cat <<YAML
name: u
output: $T/out
max_new_tokens: 2
models:
  m: {path: $S260K}
datasets:
  p: {path: data/p.txt}
backends:
  ref: {}
YAML
}

# --- 1: depth-100,000 flow YAML is refused while parsing, not after
deep() { # N: a key nested N levels deep in flow style
	head -c "$1" /dev/zero | tr '\0' '['
	head -c "$1" /dev/zero | tr '\0' ']'
}
{ base; printf 'x-deep: '; deep 100000; echo; } > "$T/deep.yaml"
t0=$(ms); out=$("$PB" validate "$T/deep.yaml" 2>&1); rc=$?; t1=$(ms)
echo "depth-100000 flow YAML rejected in $((t1 - t0)) ms (the whole validate process)"
expect_eq "deep YAML: exit 1" 1 "$rc"
expect_contains "deep YAML: file, line and column of the first level too deep" "$out" \
	"deep.yaml:10:137: nesting deeper than 128 levels"
base > "$T/ok.yaml"
out=$("$PB" validate "$T/ok.yaml" --set "x-deeper=$(deep 50000)" 2>&1); rc=$?
expect_eq "deep --set value: exit 1" 1 "$rc"
expect_contains "deep --set value: the reason" "$out" "nesting deeper than 128 levels"

# --- 7: a FIFO or a folder as the experiment: refused at once, with why
mkfifo "$T/fifo.yaml"
out=$(timeout 20 "$PB" validate "$T/fifo.yaml" 2>&1); rc=$?
expect_eq "FIFO experiment: exit 1 (not blocked: 124 would be the timeout)" 1 "$rc"
expect_contains "FIFO experiment: the reason" "$out" "fifo.yaml: cannot read: not a regular file"
mkdir "$T/dir.yaml"
out=$("$PB" validate "$T/dir.yaml" 2>&1); rc=$?
expect_eq "folder experiment: exit 1" 1 "$rc"
expect_contains "folder experiment: the reason" "$out" "dir.yaml: cannot read: Is a directory"

# --- 12: validate opens every model and dataset (headers, not weights)
head -c 5000 "$S260K" > "$T/cut.bin"
cp "$S260K_DIR/tok512.bin" "$T/tok512.bin"
printf '{"prompt": "fine"}\n{"prompt": "cut\n' > "$T/data/bad.jsonl"
cat > "$T/inputs.yaml" <<YAML
name: u
output: $T/out-inputs
models:
  cut: {path: cut.bin}
datasets:
  bad: {path: data/bad.jsonl}
backends:
  ref: {}
YAML
out=$("$PB" validate "$T/inputs.yaml" 2>&1); rc=$?
expect_eq "truncated model and bad dataset: validate exits 1" 1 "$rc"
expect_contains "truncated model: named with the file" "$out" "model 'cut': $T/cut.bin"
expect_contains "bad dataset: named with file and line" "$out" "dataset 'bad': $T/data/bad.jsonl:2"
[ -e "$T/out-inputs" ] && fail "validate wrote an output folder" || ok "validate wrote nothing"

# --- 9: a folder where a file is expected keeps its errno
if [ -f "$SRC/../shared/models/tinystories-656k/config.json" ]; then
	mkdir -p "$T/hf/model.safetensors"
	cp "$SRC/../shared/models/tinystories-656k/"*.json "$T/hf/"
	{ base | sed "s|m: {path: .*|m: {path: $T/hf}|"; } > "$T/hf.yaml"
	out=$("$PB" validate "$T/hf.yaml" 2>&1); rc=$?
	expect_eq "model.safetensors a folder: exit 1" 1 "$rc"
	expect_contains "model.safetensors a folder: not 'missing'" "$out" \
		"$T/hf/model.safetensors: cannot open: Is a directory"
else
	echo "skip: model.safetensors-folder check (../shared/models/tinystories-656k absent)"
fi

# --- results folders: a real run, then damage it
"$PB" run "$T/ok.yaml" -q > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "the small run failed"; finish; }
cell=$(ls "$T/out/cells" | head -1)
cp -r "$T/out" "$T/keep"

# 8: a requests.csv row cut mid-row is refused with file and line
req="$T/out/cells/$cell/requests.csv"
n=$(wc -l < "$req")
head -c $(( $(wc -c < "$req") - 7 )) "$req" > "$T/cut.csv"; mv "$T/cut.csv" "$req"
out=$("$PB" report "$T/out" 2>&1); rc=$?
expect_eq "cut CSV row: report exits non-zero" 1 "$([ "$rc" -ne 0 ] && echo 1 || echo 0)"
expect_contains "cut CSV row: file and line" "$out" "requests.csv: line $n"

# 1 in results: a deep manifest.yaml costs nothing and is named
rm -rf "$T/out"; cp -r "$T/keep" "$T/out"
{ echo "status: done"; printf 'x: '; deep 100000; echo; } > "$T/out/cells/$cell/manifest.yaml"
t0=$(ms); out=$("$PB" cells "$T/ok.yaml" 2>&1); t1=$(ms)
echo "cells with a depth-100000 manifest: $((t1 - t0)) ms"
expect_contains "deep manifest: cells names the cell and the depth" "$out" "nesting deeper than"
out=$("$PB" report "$T/out" 2>&1); rc=$?
expect_contains "deep manifest: report names the position" "$out" "manifest.yaml:2:"

# 9: a manifest.yaml that is a folder
rm -rf "$T/out"; cp -r "$T/keep" "$T/out"
rm "$T/out/cells/$cell/manifest.yaml"; mkdir "$T/out/cells/$cell/manifest.yaml"
out=$("$PB" report "$T/out" 2>&1); rc=$?
expect_contains "manifest.yaml a folder: the reason, not 'input error'" "$out" \
	"manifest.yaml: Is a directory"
finish

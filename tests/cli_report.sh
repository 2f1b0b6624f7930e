#!/usr/bin/env bash
# `edgeinf eval report` through the CLI on three hand-written run files (made-up numbers, for this test
# only): table cells, a partial run marked, SVG charts written and well-formed. The report's own
# details are tested in test_report; this checks the command line end to end.
set -u
BUILD=${BUILD:-build}
bin=$BUILD/edgeinf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! $bin eval report --help > /dev/null 2>&1; then
  echo "skip eval report CLI: 'edgeinf eval report --help' fails (the report of tools/eval/report.c is not dispatched yet)"
  exit 0
fi
mkdir -p "$tmp/runs"
head='"tool": "edgeinf eval", "model": {"name": "M", "sha256": "feedfacecafe0000"}, "threads": 1, "wall_s": 30, "command": "made up"'
cat > "$tmp/runs/longbench-full.json" <<EOF
{$head, "bench": "longbench", "method": {"name": "full"}, "complete": true,
 "scores": {"groups": {"trec": {"n": 4, "mean": 0.5}, "samsum": {"n": 2, "mean": 0.125}}}}
EOF
cat > "$tmp/runs/passkey-streaming.json" <<EOF
{$head, "bench": "passkey", "method": {"name": "streaming"}, "complete": false, "requested": 8, "done": 3,
 "scores": {"groups": {"1024/0": {"n": 2, "mean": 1}, "1024/100": {"n": 1, "mean": 0}}}}
EOF
cat > "$tmp/runs/ppl-const0.3.json" <<EOF
{$head, "bench": "ppl", "method": {"name": "const0.3"}, "complete": true,
 "samples": [{"key": "essays", "bands": [{"from": 0, "to": 8192, "tokens": 8191, "ppl": 21.5}]}]}
EOF
echo '{"bench": ' > "$tmp/runs/truncated.json"

if $bin eval report --runs "$tmp/runs" --out "$tmp/r.md" --plots "$tmp/plots" 2> "$tmp/err"; then
  echo "ok eval report CLI: exit status 0"
else echo "FAIL eval report CLI: exit status"; cat "$tmp/err"; fi

expect_line() { # name, exact line of the report
  if grep -qxF -- "$2" "$tmp/r.md"; then echo "ok $1"; else echo "FAIL $1: no line '$2'"; fi
}
expect_line "eval report CLI: LongBench cell" "| trec | 50.0 (4) |"
expect_line "eval report CLI: LongBench average" "| **Average** | **31.2** (2 of 16 tasks) |"
expect_line "eval report CLI: partial run marked" "| tokens | streaming (partial: 3 of 8) |"
expect_line "eval report CLI: passkey by length" "| 1K | 66.7 (3) |"
expect_line "eval report CLI: perplexity band" "| 0–8K | 21.50 (8191) |"
if grep -q "truncated.json" "$tmp/err"; then echo "ok eval report CLI: malformed file named in a warning"
else echo "FAIL eval report CLI: no warning for truncated.json"; cat "$tmp/err"; fi
svgs=("$tmp/plots/passkey-streaming.svg" "$tmp/plots/passkey-by-length.svg" "$tmp/plots/ppl-essays.svg")
if ls "${svgs[@]}" > /dev/null 2>&1 &&
   python3 -c "import sys, xml.dom.minidom as x; [x.parse(f) for f in sys.argv[1:]]" "${svgs[@]}"; then
  echo "ok eval report CLI: SVG charts written and well-formed"
else echo "FAIL eval report CLI: SVG charts"; ls "$tmp/plots"; fi

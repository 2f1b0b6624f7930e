#!/usr/bin/env bash
# The demo: a real generation on a long input with SmolLM2-135M-Instruct — summarise a long essay.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
essays=../shared/data/pg_essays
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -d "$essays" ]; then
  { echo "Summarize the following essay in three sentences."; echo; head -c 12000 "$essays/worked.txt"; } > "$tmp/prompt.txt"
else
  echo "(../shared/data is absent: using a short built-in prompt)"
  echo "Explain in three sentences why the sky is blue." > "$tmp/prompt.txt"
fi
echo "== $build/edgeinf info"
"$build/edgeinf" info -m models/SmolLM2-135M-Instruct.Q4_1.gguf | head -16
echo
echo "== $build/edgeinf run --chat -f prompt.txt -n 160 --temp 0 -t 2"
"$build/edgeinf" run -m models/SmolLM2-135M-Instruct.Q4_1.gguf -f "$tmp/prompt.txt" --chat -n 160 --temp 0 -t 2

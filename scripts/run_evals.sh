#!/usr/bin/env bash
# The long-context evaluation of docs/RESULTS.md §4, one benchmark after another, cheapest first.
# Every run file is resumable: stopping this script and starting it again loses at most one sample,
# and raising a limit later (LB_LIMIT=12, KEYS=5, ...) only runs what is missing.
#
#   bash scripts/run_evals.sh               # the reduced first pass (about 2 h on 2 cores)
#   LB_LIMIT=100 KEYS=5 LENGTHS=1K,2K,4K,8K,16K,32K,64K,128K DEPTHS=0,25,50,75,100 bash scripts/run_evals.sh
#                                           # the full grids of evaluation.md (many hours)
#
# Run it on a quiet machine: the engine's threads wait for each other, and another busy process on
# the same two cores slows every run down (the wall times go into the run files).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
METHODS=${METHODS:-full,streaming,const0.3,const0.5}
THREADS=${THREADS:-2}
PPL_TOKENS=${PPL_TOKENS:-32768}
LB_LIMIT=${LB_LIMIT:-2}
QMSUM_LIMIT=${QMSUM_LIMIT:-3}
LENGTHS=${LENGTHS:-1K,4K,16K}
DEPTHS=${DEPTHS:-0,25,50,75,100}
KEYS=${KEYS:-1}
OUT=${OUT:-bench/out/eval}
EI=${EI:-build/edgeinf}

[ -f "$MODEL" ] || { echo "run_evals.sh: $MODEL is missing (make model)" >&2; exit 1; }
[ -x "$EI" ] || make -j2 all
run() { echo "== $(date -u +%H:%M:%S) $*" >&2; "$EI" eval "$@" -m "$MODEL" --method "$METHODS" -t "$THREADS" --out-dir "$OUT"; }

run ppl --corpus both --max-tokens "$PPL_TOKENS"
run longbench --limit "$LB_LIMIT"
run passkey --lengths "$LENGTHS" --depths "$DEPTHS" --keys "$KEYS"
run qmsum --limit "$QMSUM_LIMIT"
run needle --lengths "$LENGTHS" --depths "$DEPTHS" --keys "$KEYS"
"$EI" eval report --runs "$OUT" --out "$OUT/report.md" --plots docs/eval

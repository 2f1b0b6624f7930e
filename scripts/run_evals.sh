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
#
# LANES=2 runs the methods in two processes side by side, one thread each (methods alternate between
# the lanes, each lane runs every benchmark in order). Scores do not depend on the thread count; on
# two cores this wastes no time in threads waiting for each other, but the wall time of each run is
# then that of a one-thread run sharing the machine.
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
BENCHES=${BENCHES:-ppl passkey needle qmsum longbench} # in this order
OUT=${OUT:-bench/out/eval}
EI=${EI:-build/edgeinf}

[ -f "$MODEL" ] || { echo "run_evals.sh: $MODEL is missing (make model)" >&2; exit 1; }
[ -x "$EI" ] || make -j2 all
mkdir -p "$OUT"
# runs archived in the repository (docs/eval/runs, without the datasets' text) are resumed, so the
# grids grow from session to session; after a run: python3 scripts/archive_runs.py save, and commit
if [ "${RESTORE:-1}" = 1 ] && [ -z "${EI_EVAL_LANE:-}" ]; then python3 scripts/archive_runs.py restore --runs "$OUT"; fi
LANES=${LANES:-1}
if [ "$LANES" -gt 1 ]; then
  pids=""
  for k in $(seq 0 $((LANES - 1))); do
    ms=$(echo "$METHODS" | tr ',' '\n' | awk -v k="$k" -v n="$LANES" '(NR - 1) % n == k' | paste -sd, -)
    [ -n "$ms" ] || continue
    EI_EVAL_LANE=$k LANES=1 METHODS="$ms" THREADS=1 bash "$0" > "$OUT.lane$k.log" 2>&1 &
    pids="$pids $!"
    echo "== lane $k: $ms (log $OUT.lane$k.log)" >&2
  done
  rc=0
  for p in $pids; do wait "$p" || rc=1; done
  exit $rc
fi
run() { echo "== $(date -u +%H:%M:%S) $*" >&2; "$EI" eval "$@" -m "$MODEL" --method "$METHODS" -t "$THREADS" --out-dir "$OUT"; }

# the report is refreshed after every benchmark, so a stopped sequence still has its tables
report() { "$EI" eval report --runs "$OUT" --out "$OUT/report.md" --plots docs/eval; }
for bench in $BENCHES; do
  case $bench in
  ppl) run ppl --corpus both --max-tokens "$PPL_TOKENS" ;;
  passkey | needle) run "$bench" --lengths "$LENGTHS" --depths "$DEPTHS" --keys "$KEYS" ;;
  qmsum) run qmsum --limit "$QMSUM_LIMIT" ;;
  longbench) run longbench --limit "$LB_LIMIT" ;;
  *) echo "run_evals.sh: unknown benchmark '$bench' in BENCHES" >&2; exit 1 ;;
  esac
  report
done

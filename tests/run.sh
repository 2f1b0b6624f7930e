#!/usr/bin/env bash
# Runs every test binary in BUILD_DIR and every tests/*.sh check, counts "ok"/"FAIL"/"skip" lines,
# and ends with "N passed, N failed, N skipped". Exit status 1 when anything failed.
#
# Tests run JOBS at a time (default: the number of cores; the tests share nothing on disk, each
# makes its own temporary directory). Logs are printed in a fixed order, each with its wall time.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc 2> /dev/null || echo 1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tests=()
for t in "$build"/test_*; do [ -x "$t" ] && tests+=("$t"); done
for t in tests/cli_*.sh; do [ -f "$t" ] && tests+=("$t"); done

# run_one I T: log in $work/I.log, exit status in $work/I.rc, seconds in $work/I.s
run_one() {
  local start=$SECONDS rc
  case $2 in
  *.sh) BUILD="$build" timeout 1800 bash "$2" > "$work/$1.log" 2>&1; rc=$? ;;
  *) timeout 1800 "$2" > "$work/$1.log" 2>&1; rc=$? ;;
  esac
  echo "$rc" > "$work/$1.rc"
  echo $((SECONDS - start)) > "$work/$1.s"
}

# the slowest tests start first so that the cores stay busy to the end; logs keep the name order
slow_first="test_parity test_plan test_infinite"
order=()
for name in $slow_first; do
  for i in "${!tests[@]}"; do [ "${tests[$i]##*/}" = "$name" ] && order+=("$i"); done
done
for i in "${!tests[@]}"; do
  case " $slow_first " in *" ${tests[$i]##*/} "*) ;; *) order+=("$i") ;; esac
done

running=0
for i in "${order[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  run_one "$i" "${tests[$i]}" &
  running=$((running + 1))
done
wait

pass=0; fail=0; skip=0
for i in "${!tests[@]}"; do
  t=${tests[$i]} log="$work/$i.log"
  echo "== $t ($(cat "$work/$i.s" 2> /dev/null || echo '?') s)"
  cat "$log"
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^skip ' "$log")
  rc=$(cat "$work/$i.rc" 2> /dev/null || echo 1)
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then echo "FAIL $t exited $rc"; f=1; fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# Runs every test binary in BUILD_DIR and every tests/*.sh check, counts "ok"/"FAIL"/"skip" lines,
# and ends with "N passed, N failed, N skipped". Exit status 1 when anything failed.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
pass=0; fail=0; skip=0
log=$(mktemp)
for t in "$build"/test_*; do
  [ -x "$t" ] || continue
  echo "== $t"
  if ! timeout 900 "$t" > "$log" 2>&1; then crashed=1; else crashed=0; fi
  cat "$log"
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^skip ' "$log")
  if [ "$crashed" = 1 ] && [ "$f" = 0 ]; then echo "FAIL $t exited non-zero"; f=1; fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
for t in tests/cli_*.sh; do
  [ -f "$t" ] || continue
  echo "== $t"
  BUILD="$build" bash "$t" > "$log" 2>&1; rc=$?
  cat "$log"
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^skip ' "$log")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then echo "FAIL $t exited $rc"; f=1; fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
rm -f "$log"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]

#!/bin/bash
# Run cmocka test binaries; print one summary line; exit non-zero on any failure.
# A test that skips prints "SKIP-REASON: <why>" before calling skip(); those
# reasons are collected into the summary.
set -uo pipefail
B=${B:-build}
log_dir=$B/test-logs
mkdir -p "$log_dir"
pass=0 fail=0 skip=0 crashed=()
failed_names=() skip_reasons=()
for t in "$@"; do
  name=$(basename "$t")
  log=$log_dir/$name.log
  # Each binary gets a generous bound so a hang fails instead of stalling CI.
  timeout --kill-after=10 600 "$t" >"$log" 2>&1
  rc=$?
  p=$(grep -cE '^\[       OK \]' "$log")
  f=$(grep -E '^\[  FAILED  \] ' "$log" | grep -vcE 'test\(s\)')
  s=$(grep -cE '^\[  SKIPPED \] ' "$log")
  s=$(( s - $(grep -cE '^\[  SKIPPED \] [0-9]+ test\(s\)' "$log") ))
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  while IFS= read -r line; do skip_reasons+=("$name: ${line#*SKIP-REASON: }"); done \
    < <(grep -E 'SKIP-REASON: ' "$log" || true)
  while IFS= read -r line; do failed_names+=("$name: $line"); done \
    < <(grep -E '^\[  FAILED  \] ' "$log" | grep -vE 'test\(s\)' || true)
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    crashed+=("$name (exit $rc)")
    fail=$((fail + 1))
  fi
  status=ok; [ $rc -ne 0 ] && status=FAIL
  printf '  %-34s %3d passed %3d failed %3d skipped  %s\n' "$name" "$p" "$f" "$s" "$status"
  if [ $rc -ne 0 ]; then sed 's/^/    | /' "$log" | tail -40; fi
done
# A test that starts a process stops it: anything still running from this
# build folder is a leak. Name it, count it as a failure, and stop it.
leaked=()
build_abs=$(cd "$B" && pwd)
while IFS= read -r line; do
  [ -n "$line" ] && leaked+=("$line")
done < <(pgrep -af -- "$build_abs/" | grep -v -e "run-tests.sh" || true)
for l in "${leaked[@]+"${leaked[@]}"}"; do
  kill "${l%% *}" 2>/dev/null
  fail=$((fail + 1))
done
echo
for r in "${leaked[@]+"${leaked[@]}"}"; do echo "  left running (killed): $r"; done
for r in "${skip_reasons[@]+"${skip_reasons[@]}"}"; do echo "  skipped: $r"; done
for r in "${failed_names[@]+"${failed_names[@]}"}"; do echo "  failed: $r"; done
for r in "${crashed[@]+"${crashed[@]}"}"; do echo "  crashed: $r"; done
echo "SUMMARY: $pass passed, $fail failed, $skip skipped ($# test programs)"
[ $fail -eq 0 ]

#!/bin/bash
# fuzz/run.sh HARNESS SECONDS - one AFL++ campaign on build-afl/fuzz/HARNESS
# (built by `make fuzz`), seeded from fuzz/corpus/HARNESS, output in
# build/fuzz/afl-HARNESS/ (a later run resumes it). AFL's status screen on a
# terminal, plain progress lines otherwise. Ends with one summary line.
set -euo pipefail
h=$1
secs=$2
bin=build-afl/fuzz/$h
out=build/fuzz/afl-$h
mkdir -p "$out"
in=fuzz/corpus/$h
[ -d "$in" ] || { echo "fuzz: no seed corpus $in" >&2; exit 2; }
# A corpus README is documentation, not a seed.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
find "$in" -maxdepth 1 -type f ! -name README.md -exec cp {} "$seeds/" \;
if [ -f "$out/default/fuzzer_stats" ]; then seeds=-; fi   # resume
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_SKIP_BIN_CHECK=0 AFL_AUTORESUME=1
[ -t 1 ] || export AFL_NO_UI=1
# afl-fuzz stops itself after -V seconds; timeout is the backstop.
timeout -k 10 $((secs + 120)) afl-fuzz -i "$seeds" -o "$out" -V "$secs" -t 2000 -m none -- "$bin" \
  || echo "fuzz: afl-fuzz exited with $?"
st=$out/default/fuzzer_stats
if [ -f "$st" ]; then
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$st"; }
  echo "fuzz $h: $(get run_time)s, $(get execs_done) execs, $(get execs_per_sec) exec/s," \
       "corpus $(get corpus_count) paths, edges $(get bitmap_cvg)," \
       "crashes $(get saved_crashes), hangs $(get saved_hangs)"
fi

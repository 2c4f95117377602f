#!/bin/bash
# coverage/run.sh - `make coverage`: build with --coverage into build-cov/,
# run the whole suite there (tests, corpus and regression replays), write an
# lcov HTML report to coverage/html/ and print line and function coverage per
# folder. The figure is tracked, not gamed: tests/ and fuzz/ themselves are
# left out, nothing else is.
set -uo pipefail
B=build-cov
# -O0 for exact line counts; gcc warns differently at -O0 (format-truncation),
# and this build measures, it does not lint: the normal builds keep -Werror.
flags="--coverage -O0 -Wno-error"
make --no-print-directory B=$B EXTRA_CFLAGS="$flags" LDFLAGS="-pthread --coverage" all || exit 1
find $B -name '*.gcda' -delete
B=$B scripts/fetch-kernel.sh >/dev/null 2>&1 || true
# A failing test still leaves coverage worth reporting; its name is shown.
B=$B scripts/run-tests.sh $B/tests/test_* | grep -E 'FAIL|failed:|crashed:|SUMMARY'
info=$B/lcov.info
lcov --quiet --capture --directory $B/obj --output-file $info.all --rc lcov_branch_coverage=0 || exit 1
lcov --quiet --remove $info.all '/usr/*' "$PWD/tests/*" "$PWD/fuzz/*" --output-file $info || exit 1
rm -rf coverage/html
genhtml --quiet --output-directory coverage/html --title "vmm coverage" $info || exit 1
echo "coverage: report in coverage/html/index.html"
printf '  %-16s %-23s %s\n' folder lines functions
# Per folder: sum LF/LH (lines) and FNF/FNH (functions) over its files.
awk -v root="$PWD/" '
  /^SF:/ { f = substr($0, 4); sub(root, "", f); n = split(f, p, "/"); d = p[1];
           if (n > 2 && p[1] == "vmm" && p[2] == "hv") d = "vmm/hv" }
  /^LF:/ { lf[d] += substr($0, 4) } /^LH:/ { lh[d] += substr($0, 4) }
  /^FNF:/ { ff[d] += substr($0, 5) } /^FNH:/ { fh[d] += substr($0, 5) }
  END {
    for (d in lf) {
      printf "  %-16s %7.1f%% %6d/%-7d %7.1f%% %5d/%-6d\n", d, lf[d] ? 100 * lh[d] / lf[d] : 0,
             lh[d], lf[d], ff[d] ? 100 * fh[d] / ff[d] : 0, fh[d], ff[d]
      tl += lf[d]; th += lh[d]; tf += ff[d]; tfh += fh[d]
    }
    printf "  ~total           %7.1f%% %6d/%-7d %7.1f%% %5d/%-6d\n", 100 * th / tl, th, tl, 100 * tfh / tf, tfh, tf
  }' $info | sort | sed 's/~total /total  /'

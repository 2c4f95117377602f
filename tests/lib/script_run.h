/* tests/lib/script_run.h - running a harness script (tests/uml/run.sh,
 * tests/nested/run.sh) from a cmocka test and reading its verdict lines.
 *
 * Owns: capturing the script's output and echoing it into the test's log,
 * and the "CHECK <name> PASS" line format those harnesses print.
 */
#ifndef TESTS_LIB_SCRIPT_RUN_H
#define TESTS_LIB_SCRIPT_RUN_H

#include <stdbool.h>
#include <stddef.h>

/* Run cmd with the shell; its output (stdout, and stderr where cmd says
 * 2>&1) goes into out, NUL-terminated, at most cap - 1 bytes, and is then
 * printed on stdout. Returns the wait status, or -1 when cmd could not be
 * started. */
int script_run(const char *cmd, char *out, size_t cap);

/* Does out hold "CHECK <check> PASS"? When not, says "missing: ..." on
 * stdout (the caller fails the test: a missing check is a failure, so that
 * silence never looks like success). */
bool script_check_passed(const char *out, const char *check);

#endif

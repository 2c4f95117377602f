/* fuzz/harness.h - the one entry point every harness fills.
 *
 * Each fuzz/<name>.c defines fuzz_one(); fuzz/driver.c turns it into either
 * an AFL++ persistent-mode target (built with afl-clang-fast) or a plain
 * program replaying files and folders (any compiler, sanitizers welcome).
 * A harness aborts when its oracle fails, so AFL records a crash and the
 * plain driver exits non-zero. */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Called once before the first input (open fds, quiet logs). */
void fuzz_init(void);
/* One input. Must leave no state behind that changes the next run. */
void fuzz_one(const uint8_t *data, size_t len);

/* Fail the oracle: print why, then abort (a crash to AFL). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Largest input a harness is given (the rest is cut). */
#define FUZZ_MAX_INPUT (1u << 20)

#endif

/* tests/testutil.h - helpers shared by the cmocka tests. */
#ifndef TESTS_TESTUTIL_H
#define TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

/* Skip the current test, saying why (collected by scripts/run-tests.sh). */
#define SKIP_BECAUSE(...)                                                   \
	do {                                                                \
		printf("SKIP-REASON: " __VA_ARGS__);                        \
		printf("\n");                                               \
		fflush(stdout);                                             \
		skip();                                                     \
	} while (0)

#endif

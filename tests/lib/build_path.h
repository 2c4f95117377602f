/* tests/lib/build_path.h - where the build being tested put its artefacts. */
#ifndef TESTS_LIB_BUILD_PATH_H
#define TESTS_LIB_BUILD_PATH_H

#include <stddef.h>

/* <build>/<rel>, where the running test is <build>/tests/<name>: right for
 * every build folder (gcc, clang, sanitizers). */
void build_path(char *out, size_t len, const char *rel);

#endif

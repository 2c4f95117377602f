/* tests/lib/fds.h - what a test needs to prove that no fd leaked: how many
 * this process has open, and whether one number is open. */
#ifndef TESTS_LIB_FDS_H
#define TESTS_LIB_FDS_H

#include <stdbool.h>

/* The entries of /proc/self/fd (a test compares two counts, so the
 * directory's own fd and "." and ".." cancel out). Aborts (the test fails)
 * when the directory cannot be read. */
int fds_open_count(void);
/* Is fd an open descriptor? false for a negative fd. */
bool fds_is_open(int fd);

#endif

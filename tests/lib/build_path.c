/* tests/lib/build_path.c - see build_path.h. */
#include "build_path.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

void build_path(char *out, size_t len, const char *rel)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(out, len, "build/%s", rel);
		return;
	}
	exe[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(dirname(exe)), rel);
}

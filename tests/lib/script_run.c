/* tests/lib/script_run.c - see script_run.h. */
#include "script_run.h"

#include <stdio.h>
#include <string.h>

int script_run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	fputs(out, stdout);
	fflush(stdout);
	return st;
}

bool script_check_passed(const char *out, const char *check)
{
	char want[192];
	snprintf(want, sizeof(want), "CHECK %s PASS", check);
	if (strstr(out, want))
		return true;
	printf("missing: %s\n", want);
	return false;
}

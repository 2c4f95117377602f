/* vmm-device/usage.c - a bad command line, said on stderr (usage.h). */
#include <stdarg.h>
#include <stdio.h>

#include "base/cli_args.h"
#include "kinds.h"
#include "usage.h"

_Static_assert(EXIT_USAGE == 2, "cli_usage_error returns 2");

int usage_error(const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cli_usage_error("vmm_device", "%s", what);
}

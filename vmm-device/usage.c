/* vmm-device/usage.c - a bad command line, said on stderr (usage.h). */
#include <stdarg.h>
#include <stdio.h>

#include "kinds.h"
#include "usage.h"

int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vmm_device: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'vmm_device --help'.\n");
	va_end(ap);
	return EXIT_USAGE;
}

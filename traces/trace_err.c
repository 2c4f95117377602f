/* traces/trace_err.c - trace_errf; see trace.h.
 *
 * Owns: the traces/ and replay/ way of failing with a precise message and a
 * status in one statement (base/err.h formats; this returns rc too).
 */
#include "traces/trace.h"

#include <stdarg.h>

#include "base/err.h"

int trace_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* traces/trace_err.c - trace_errf (trace.h) and trace_verrf_at
 * (trace_internal.h).
 *
 * Owns: the traces/ and replay/ way of failing with a precise message and a
 * status in one statement (base/err.h formats; these return rc too), and the
 * one "where: what" form in which the reader and the script parser say which
 * file (and line) a refusal is about.
 */
#include "traces/trace.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/err.h"
#include "traces/trace_internal.h"

int trace_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int trace_verrf_at(char *err, size_t errlen, int rc, const char *where, const char *fmt,
                   va_list ap)
{
	if (!err || !errlen)
		return rc;
	int n = snprintf(err, errlen, "%s: ", where);
	/* A prefix that does not fit leaves it truncated, without the message. */
	if (n >= 0 && (size_t)n < errlen)
		verrf(err + n, errlen - (size_t)n, fmt, ap);
	return rc;
}

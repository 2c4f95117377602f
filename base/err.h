/* base/err.h - the one way a function explains a failure to its caller.
 *
 * Owns: formatting a message into a caller's (err, errlen) buffer. Every layer
 * reports a refusal as a status it returns plus a precise sentence written
 * here; err may be NULL or errlen 0 (the caller wants only the status).
 */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#include <stdarg.h>
#include <stddef.h>

void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void verrf(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif

/* base/log.c - see log.h. One write per line so lines from threads don't mix. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum log_level level = LOG_WARN;
static const char *prefix = "vmm";

void log_set_level(enum log_level l) { level = l; }
void log_set_prefix(const char *p) { prefix = p; }

void vlog(enum log_level l, const char *fmt, ...)
{
	if (l > level)
		return;
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s: %s: ", prefix, tag[l]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, len);
	(void)w;
}

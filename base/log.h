/* base/log.h - one-line diagnostics on stderr, prefixed with the program name. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level l);
void log_set_prefix(const char *prefix);
void vlog(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) vlog(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) vlog(LOG_WARN, __VA_ARGS__)
#define log_info(...) vlog(LOG_INFO, __VA_ARGS__)
#define log_debug(...) vlog(LOG_DEBUG, __VA_ARGS__)

#endif

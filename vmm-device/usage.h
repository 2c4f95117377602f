/* vmm-device/usage.h - how the vmm-device program reports a bad command line.
 *
 * Owns: the one form of a usage error, "vmm_device: WHAT" and a pointer to
 * --help on stderr, and its exit status, so every check in the program and
 * its kinds says it the same way.
 */
#ifndef VMM_DEVICE_USAGE_H
#define VMM_DEVICE_USAGE_H

/* Print the error; returns EXIT_USAGE (kinds.h) for `return usage_error(...)`. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* tests/guest/console.h - line output on the 8250 UART at port 0x3f8.
 *
 * Owns: printing. A line is printed under a spin lock so lines from different
 * vCPUs never interleave.
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdint.h>

void con_lock(void);
void con_unlock(void);
void con_puts(const char *s);
void con_putn(const char *s, unsigned max); /* at most max bytes, stops at NUL */
void con_dec(uint64_t v);
void con_hex(uint64_t v);
/* One whole line "<s>\r\n", taking the lock. */
void con_line(const char *s);

#endif

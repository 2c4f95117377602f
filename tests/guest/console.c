/* tests/guest/console.c - see console.h. */
#include "console.h"

#include "hw.h"

#define COM1 0x3f8
#define LSR (COM1 + 5)
#define LSR_THRE 0x20
/* A UART that never reports an empty transmitter must not hang the guest. */
#define THRE_POLLS 1000

static volatile int lock;

void con_lock(void)
{
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

void con_unlock(void)
{
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static void putc_raw(char c)
{
	for (int i = 0; i < THRE_POLLS; i++)
		if (inb(LSR) & LSR_THRE)
			break;
	outb(COM1, (uint8_t)c);
}

void con_putn(const char *s, unsigned max)
{
	for (unsigned i = 0; i < max && s[i]; i++) {
		if (s[i] == '\n')
			putc_raw('\r');
		putc_raw(s[i]);
	}
}

void con_puts(const char *s)
{
	con_putn(s, ~0u);
}

void con_dec(uint64_t v)
{
	char b[21];
	int i = 20;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	con_puts(b + i);
}

void con_hex(uint64_t v)
{
	char b[19];
	int i = 18;
	b[i] = 0;
	do {
		b[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	b[--i] = 'x';
	b[--i] = '0';
	con_puts(b + i);
}

void con_line(const char *s)
{
	con_lock();
	con_puts(s);
	con_puts("\n");
	con_unlock();
}

/* devices/uart8250.c - the 16550A register model; see uart8250.h.
 *
 * The transmitter is instantaneous: a byte written to THR reaches the host (or,
 * in loopback, the receive FIFO) during the write, so THR and the transmit
 * shift register are empty again when the write returns. There is no clock:
 * the receive "character timeout" of a real 16550A is reported as soon as the
 * FIFO holds fewer bytes than the trigger level, because in a replayable VMM
 * no more bytes arrive until the next host-input event anyway.
 */
#include "uart8250.h"
#include "devices/mutant.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets. */
enum {
	REG_RBR_THR = 0, /* DLL when LCR.DLAB */
	REG_IER = 1,     /* DLM when LCR.DLAB */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* the 16550A has no upper IER bits */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER_SHIFT 6

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f /* bits 5-7 read as 0 on the 16550A */

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI_FE_PE 0x1c
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
/* The host end is a socket that is always there: carrier, ready, clear. */
#define MSR_HOST_LINES (MSR_DCD | MSR_DSR | MSR_CTS)

struct uart8250 {
	struct uart_host host;
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_ipending; /* the THR-empty interrupt is latched */
	uint8_t rx[UART8250_RX_FIFO];
	unsigned rx_head, rx_count;
	int irq_level; /* last level reported to host->set_irq */
};

static const uint8_t trigger_levels[4] = { 1, 4, 8, 14 };

static bool fifo_on(const struct uart8250 *u)
{
	return u->fcr & FCR_ENABLE;
}

/* Bytes the receiver holds before it overruns: the 16450 mode holds one. */
static unsigned rx_capacity(const struct uart8250 *u)
{
	return fifo_on(u) ? UART8250_RX_FIFO : 1;
}

/* The IIR identification for the highest-priority pending interrupt. */
static uint8_t pending_id(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & (LSR_OE | LSR_BI_FE_PE)))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if (!fifo_on(u) || u->rx_count >= trigger_levels[u->fcr >> FCR_TRIGGER_SHIFT])
			return IIR_RDI;
		return IIR_TIMEOUT;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Recomputed after every access; the host hears only changes so that the
 * event stream (and a recording of it) holds one irq event per edge. */
static void update_irq(struct uart8250 *u)
{
	int level = pending_id(u) != IIR_NO_INT;
	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->host.set_irq)
		u->host.set_irq(u->host.ctx, level);
}

static void rx_clear(struct uart8250 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	u->lsr &= ~LSR_DR;
}

/* One byte arriving at the receiver. When full, the byte in the shift
 * register is lost and OE is latched (16550A datasheet behaviour). */
static bool rx_push(struct uart8250 *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr |= LSR_OE;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % UART8250_RX_FIFO] = byte;
	u->rx_count++;
	u->lsr |= LSR_DR;
	return true;
}

static uint8_t rx_pop(struct uart8250 *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t b = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_RX_FIFO;
	if (--u->rx_count == 0)
		u->lsr &= ~LSR_DR;
	return b;
}

/* Modem inputs: in loopback they are wired to the MCR outputs. */
static uint8_t modem_lines(const struct uart8250 *u)
{
	if (!(u->mcr & MCR_LOOP))
		return MSR_HOST_LINES;
	uint8_t m = 0;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

/* Set the MSR line bits and latch the delta bits for what changed. */
static void update_msr(struct uart8250 *u)
{
	uint8_t now = modem_lines(u), was = u->msr & ~MSR_DELTAS;
	uint8_t changed = now ^ was;
	uint8_t delta = u->msr & MSR_DELTAS;
	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	/* TERI flags only the trailing edge of RI. */
	if ((was & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI;
	u->msr = now | delta;
}

static void transmit(struct uart8250 *u, uint8_t byte)
{
	/* Writing THR clears a latched THR-empty interrupt... */
	u->thr_ipending = false;
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte); /* loopback: never reaches the host */
	else if (u->host.tx)
		u->host.tx(u->host.ctx, byte);
	/* ...and the instantaneous transmitter empties THR again, which is the
	 * event that latches it anew, so a driver refilling from its interrupt
	 * handler keeps getting interrupts. */
	u->thr_ipending = true;
}

struct uart8250 *uart8250_create(const struct uart_host *host)
{
	struct uart8250 *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	if (host)
		u->host = *host;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_HOST_LINES;
	/* Reset leaves THR empty; the interrupt still waits for ETBEI. */
	u->thr_ipending = true;
	/* 115200 baud: what firmware usually leaves behind. */
	u->dll = 1;
	return u;
}

void uart8250_destroy(struct uart8250 *u)
{
	free(u);
}

size_t uart8250_rx(struct uart8250 *u, const uint8_t *data, size_t len)
{
	size_t n = 0;
	if (!u || !data)
		return 0;
	/* The caller keeps what does not fit: host input never overruns. */
	while (n < len && u->rx_count < rx_capacity(u))
		rx_push(u, data[n++]);
	update_irq(u);
	return n;
}

static uint8_t read_reg(struct uart8250 *u, unsigned reg)
{
	uint8_t v;
	switch (reg) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_pop(u);
	case REG_IER:
		if (u->lcr & LCR_DLAB)
			return u->dlm;
		return u->ier;
	case REG_IIR_FCR:
		v = pending_id(u);
		/* Reading IIR acknowledges THR empty only when it is what IIR says. */
		if (v == IIR_THRI)
			u->thr_ipending = false;
		return v | (fifo_on(u) ? IIR_FIFO_ON : 0);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = u->lsr;
		/* Error bits clear on read. */
		u->lsr &= ~(LSR_OE | LSR_BI_FE_PE);
		return v ^ (MUTANT(MUTANT_UART_TEMT_FLIPPED) ? LSR_TEMT : 0);
	case REG_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTAS;
		return v;
	case REG_SCR:
		return u->scr;
	}
	return 0xff; /* not a register: an open bus */
}

static void write_fcr(struct uart8250 *u, uint8_t v)
{
	/* Turning the FIFOs on or off empties them. */
	if ((v ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);
	if (v & FCR_CLEAR_RX)
		rx_clear(u);
	/* The transmit FIFO is always empty here, so FCR_CLEAR_TX has nothing
	 * to drop. Only enable and trigger level are kept: the clear bits self-
	 * clear and DMA mode has no meaning without a DMA controller. */
	u->fcr = v & (FCR_ENABLE | (3u << FCR_TRIGGER_SHIFT));
	if (!(u->fcr & FCR_ENABLE))
		u->fcr = 0;
}

static void write_reg(struct uart8250 *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			transmit(u, v);
		return;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		/* Enabling ETBEI while THR is empty raises the interrupt even if
		 * an IIR read acknowledged it before (what Linux relies on to
		 * start transmission). */
		if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI) && (u->lsr & LSR_THRE))
			u->thr_ipending = true;
		u->ier = v & IER_MASK;
		return;
	case REG_IIR_FCR:
		write_fcr(u, v);
		return;
	case REG_LCR:
		u->lcr = v;
		return;
	case REG_MCR:
		u->mcr = v & MCR_MASK;
		update_msr(u);
		return;
	case REG_LSR:
	case REG_MSR:
		return; /* read-only: factory test registers on real parts */
	case REG_SCR:
		u->scr = v;
		return;
	}
}

/* Byte i of an access at off is a register (written so off + i cannot wrap). */
static bool in_range(uint64_t off, unsigned i)
{
	return off < UART8250_PORTS && i < UART8250_PORTS - off;
}

/* Registers are 8 bits wide. A wider access is split into byte accesses
 * at consecutive offsets, as an 8-bit ISA device sees a 16- or 32-bit
 * port access; bytes past the last register read as open bus. */
static uint64_t uart_read(void *ctx, uint64_t off, unsigned size)
{
	struct uart8250 *u = ctx;
	uint64_t v = 0;
	if (size == 0 || size > 8)
		return 0;
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = in_range(off, i) ? read_reg(u, (unsigned)(off + i)) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	update_irq(u);
	return v;
}

static void uart_write(void *ctx, uint64_t off, unsigned size, uint64_t value)
{
	struct uart8250 *u = ctx;
	if (size == 0 || size > 8)
		return;
	for (unsigned i = 0; i < size; i++) {
		if (in_range(off, i))
			write_reg(u, (unsigned)(off + i), (uint8_t)(value >> (8 * i)));
	}
	update_irq(u);
}

/* Names by direction (offset 0 is RBR to a read, THR to a write). With
 * LCR.DLAB set, offsets 0 and 1 are the divisor latch instead; the names
 * here describe the usual case, since they may not depend on state. */
static bool uart_describe_reg(void *ctx, uint64_t off, bool write, char *buf, size_t len)
{
	static const char *const rd[UART8250_PORTS] = {
		[REG_RBR_THR] = "RBR", [REG_IER] = "IER", [REG_IIR_FCR] = "IIR", [REG_LCR] = "LCR",
		[REG_MCR] = "MCR", [REG_LSR] = "LSR", [REG_MSR] = "MSR", [REG_SCR] = "SCR",
	};
	static const char *const wr[UART8250_PORTS] = {
		[REG_RBR_THR] = "THR", [REG_IER] = "IER", [REG_IIR_FCR] = "FCR", [REG_LCR] = "LCR",
		[REG_MCR] = "MCR", [REG_LSR] = "LSR", [REG_MSR] = "MSR", [REG_SCR] = "SCR",
	};
	if (off >= UART8250_PORTS)
		return false;
	snprintf(buf, len, "register %s", (write ? wr : rd)[off]);
	return true;
}

const struct bus_device_ops uart8250_bus_ops = {
	.read = uart_read,
	.write = uart_write,
	.describe_reg = uart_describe_reg,
};

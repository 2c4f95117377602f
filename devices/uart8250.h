/* devices/uart8250.h - the 16550A-compatible serial port (COM1 at 0x3f8, IRQ 4).
 *
 * Owns: the UART register model (THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR,
 * SCR, the divisor latch), the receive FIFO, and interrupt line computation.
 * Knows nothing of the bus it sits on or of the host: bytes the guest
 * transmits go to host->tx, the interrupt line to host->set_irq. Not
 * thread-safe: the caller serialises register access and rx (the vm's event
 * lock does).
 */
#ifndef DEVICES_UART8250_H
#define DEVICES_UART8250_H

#include <stddef.h>
#include <stdint.h>

#include "base/bus_device.h"

#define UART8250_PORTS 8
#define UART8250_RX_FIFO 16

struct uart_host {
	void *ctx;
	void (*tx)(void *ctx, uint8_t byte);
	void (*set_irq)(void *ctx, int level);
};

struct uart8250;

struct uart8250 *uart8250_create(const struct uart_host *host);
void uart8250_destroy(struct uart8250 *u);
/* Bus handlers; the bus ctx is the struct uart8250 *. */
extern const struct bus_device_ops uart8250_bus_ops;
/* Host input: queues up to the FIFO's free space; returns bytes accepted. */
size_t uart8250_rx(struct uart8250 *u, const uint8_t *data, size_t len);

#endif

/* devices/console.h - virtio-console (ID 3) with one port.
 *
 * Owns: the byte stream between the guest's hvc console and the host, in both
 * directions, over receiveq (0, host -> guest) and transmitq (1, guest -> host),
 * and the console size in config space (VIRTIO_CONSOLE_F_SIZE; 80x25 unless
 * the host changes it). MULTIPORT and EMERG_WRITE are not offered, so there
 * is no control queue and config space is {le16 cols; le16 rows; le32
 * max_nr_ports} with max_nr_ports fixed at 1.
 *
 * Guest -> host: every readable byte of a transmitq chain goes to host->write
 * in order, at most CONSOLE_MAX_TX_CHAIN bytes of one chain (the rest is
 * counted in tx_truncated and dropped: it bounds the work one notify can cause;
 * Linux never writes chains anywhere near that big). The chain completes when
 * host->write has been called: buffering towards a slow socket is the vmm's.
 *
 * Host -> guest: the vmm calls virtio_console_host_input(); it fills as many
 * receiveq buffers as are available and returns the bytes it placed. The vmm
 * keeps the rest and retries when host->rx_space says the driver added
 * buffers. The host may call virtio_console_host_input from inside rx_space.
 *
 * Nothing here reads a clock, a file or a socket: the vmm feeds every input.
 */
#ifndef DEVICES_CONSOLE_H
#define DEVICES_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

#define CONSOLE_RXQ 0
#define CONSOLE_TXQ 1
#define CONSOLE_QUEUE_SIZE 256
#define CONSOLE_MAX_TX_CHAIN (64u << 10)

struct console_host {
	void *ctx;
	/* Bytes the guest wrote, in order. */
	void (*write)(void *ctx, const void *buf, size_t len);
	/* Optional: the driver added receive buffers; input held back may fit now. */
	void (*rx_space)(void *ctx);
};

struct virtio_console {
	struct virtio_device dev;
	struct console_host host;
	uint16_t cols, rows;
	uint64_t tx_bytes, rx_bytes, tx_truncated, rx_bad_chains;
	struct vq_chain chain; /* scratch for the chain being served */
};

void virtio_console_init(struct virtio_console *c, const struct console_host *host);
/* Place up to len bytes into the guest's receive buffers; returns how many. */
size_t virtio_console_host_input(struct virtio_console *c, const void *buf, size_t len);
/* Change the console size and tell the driver (a config change interrupt). */
void virtio_console_set_size(struct virtio_console *c, uint16_t cols, uint16_t rows);
extern const struct virtio_device_ops virtio_console_ops;

#endif

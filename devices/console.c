/* devices/console.c - see console.h. */
#include "console.h"

#include <string.h>

/* Copy unit for guest -> host bytes: one stack buffer, any chain length. */
#define TX_CHUNK 4096

static void console_tx(struct virtio_console *c)
{
	struct virtqueue *vq = &c->dev.vq[CONSOLE_TXQ];
	struct vq_chain *ch = &c->chain;
	uint8_t buf[TX_CHUNK];
	while (vq_pop(vq, ch) == 1) {
		uint64_t len = ch->readable_len;
		if (len > CONSOLE_MAX_TX_CHAIN) {
			c->tx_truncated += len - CONSOLE_MAX_TX_CHAIN;
			len = CONSOLE_MAX_TX_CHAIN;
		}
		for (uint64_t off = 0; off < len;) {
			size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
			size_t got = vq_chain_read(vq, ch, off, buf, n);
			if (got == 0)
				break;
			if (c->host.write)
				c->host.write(c->host.ctx, buf, got);
			c->tx_bytes += got;
			off += got;
		}
		/* transmitq buffers are read-only for the device: nothing written. */
		if (vq_push(vq, ch, 0) < 0)
			break;
	}
	virtio_queue_done(&c->dev, CONSOLE_TXQ);
}

size_t virtio_console_host_input(struct virtio_console *c, const void *buf, size_t len)
{
	struct virtqueue *vq = &c->dev.vq[CONSOLE_RXQ];
	struct vq_chain *ch = &c->chain;
	const uint8_t *p = buf;
	size_t placed = 0;
	bool pushed = false;
	if (!c->dev.active)
		return 0;
	while (placed < len && vq_pop(vq, ch) == 1) {
		size_t room = ch->writable_len < len - placed ? (size_t)ch->writable_len : len - placed;
		size_t n = room ? vq_chain_write(vq, ch, 0, p + placed, room) : 0;
		if (n == 0)
			c->rx_bad_chains++; /* a receive buffer the device cannot write */
		placed += n;
		pushed = true;
		if (vq_push(vq, ch, (uint32_t)n) < 0)
			break;
	}
	c->rx_bytes += placed;
	if (pushed || vq->broken)
		virtio_queue_done(&c->dev, CONSOLE_RXQ);
	return placed;
}

static void console_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_console *c = d->priv;
	if (q == CONSOLE_TXQ)
		console_tx(c);
	else if (q == CONSOLE_RXQ && c->host.rx_space)
		c->host.rx_space(c->host.ctx);
}

struct console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
} __attribute__((packed));

static void console_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_console *c = d->priv;
	struct console_config cfg = { .cols = c->cols, .rows = c->rows, .max_nr_ports = 1 };
	uint8_t raw[sizeof(cfg)];
	memcpy(raw, &cfg, sizeof(cfg));
	memcpy(buf, raw + off, len);
}

const struct virtio_device_ops virtio_console_ops = {
	.name = "console", .device_id = VIRTIO_ID_CONSOLE, .num_queues = 2,
	.queue_max = CONSOLE_QUEUE_SIZE, .features = 1ull << VIRTIO_CONSOLE_F_SIZE,
	.config_size = sizeof(struct console_config), .config_read = console_config_read,
	.queue_notify = console_notify,
};

void virtio_console_init(struct virtio_console *c, const struct console_host *host)
{
	memset(c, 0, sizeof(*c));
	if (host)
		c->host = *host;
	c->cols = 80;
	c->rows = 25;
	c->dev.ops = &virtio_console_ops;
	c->dev.priv = c;
}

void virtio_console_set_size(struct virtio_console *c, uint16_t cols, uint16_t rows)
{
	c->cols = cols;
	c->rows = rows;
	if (c->dev.active && c->dev.signal_config)
		c->dev.signal_config(&c->dev);
}

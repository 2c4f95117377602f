/* devices/net.c - see net.h. Header layout from the virtio 1.x spec, "Network
 * Device": {u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16
 * csum_start; le16 csum_offset; le16 num_buffers}. */
#include "net.h"

#include <errno.h>
#include <string.h>

static void net_tx(struct virtio_net *n)
{
	struct virtqueue *vq = &n->dev.vq[NET_TXQ];
	struct vq_chain *c = &n->tx_chain;
	while (vq_pop(vq, c) == 1) {
		if (c->readable_len < VIRTIO_NET_HDR_LEN + NET_ETH_HLEN) {
			n->tx_errors++;
		} else if (c->readable_len - VIRTIO_NET_HDR_LEN > NET_MAX_FRAME) {
			n->tx_dropped_oversize++;
		} else {
			size_t len = (size_t)(c->readable_len - VIRTIO_NET_HDR_LEN);
			if (vq_chain_read(vq, c, VIRTIO_NET_HDR_LEN, n->frame, len) == len) {
				if (n->host.send_frame)
					n->host.send_frame(n->host.ctx, n->frame, len);
				n->tx_frames++;
				n->tx_bytes += len;
			} else {
				n->tx_errors++;
			}
		}
		if (vq_push(vq, c, 0) < 0)
			break;
	}
	virtio_queue_done(&n->dev, NET_TXQ);
}

int virtio_net_host_frame(struct virtio_net *n, const void *frame, size_t len)
{
	struct virtqueue *vq = &n->dev.vq[NET_RXQ];
	struct vq_chain *c = &n->rx_chain;
	if (len == 0)
		return -EINVAL;
	if (len > NET_MAX_FRAME) {
		n->rx_dropped_too_big++;
		return -EMSGSIZE;
	}
	if (!n->dev.active || !n->link_up)
		return -ENETDOWN;
	int r = 0;
	bool pushed = false;
	for (;;) {
		if (!n->rx_held) {
			int p = vq_pop(vq, c);
			if (p == 0) {
				r = -EAGAIN;
				break;
			}
			if (p < 0) {
				r = -EIO;
				break;
			}
			n->rx_held = true;
		}
		if (c->writable_len < VIRTIO_NET_HDR_LEN + NET_ETH_HLEN) {
			/* Useless for any frame: give it back rather than sit on it. */
			n->rx_bad_chains++;
			n->rx_held = false;
			pushed = true;
			if (vq_push(vq, c, 0) < 0) {
				r = -EIO;
				break;
			}
			continue;
		}
		if (c->writable_len < VIRTIO_NET_HDR_LEN + len) {
			n->rx_dropped_too_big++; /* the chain stays held for the next frame */
			r = -EMSGSIZE;
			break;
		}
		uint8_t hdr[VIRTIO_NET_HDR_LEN] = { 0 };
		hdr[10] = 1; /* num_buffers, le16 */
		vq_chain_write(vq, c, 0, hdr, sizeof(hdr));
		vq_chain_write(vq, c, VIRTIO_NET_HDR_LEN, frame, len);
		n->rx_held = false;
		pushed = true;
		if (vq_push(vq, c, (uint32_t)(VIRTIO_NET_HDR_LEN + len)) < 0) {
			r = -EIO;
			break;
		}
		n->rx_frames++;
		n->rx_bytes += len;
		break;
	}
	/* Interrupt only for buffers returned (or to report a broken queue). */
	if (pushed || vq->broken)
		virtio_queue_done(&n->dev, NET_RXQ);
	return r;
}

static void net_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_net *n = d->priv;
	if (q == NET_TXQ)
		net_tx(n);
	else if (q == NET_RXQ && n->host.rx_space)
		n->host.rx_space(n->host.ctx);
}

static void net_reset(struct virtio_device *d)
{
	struct virtio_net *n = d->priv;
	n->rx_held = false; /* the ring it came from is gone */
}

struct net_config {
	uint8_t mac[6];
	uint16_t status;
} __attribute__((packed));

static void net_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = d->priv;
	struct net_config cfg;
	memcpy(cfg.mac, n->mac, 6);
	cfg.status = n->link_up ? VIRTIO_NET_S_LINK_UP : 0;
	uint8_t raw[sizeof(cfg)];
	memcpy(raw, &cfg, sizeof(cfg));
	memcpy(buf, raw + off, len);
}

const struct virtio_device_ops virtio_net_ops = {
	.name = "net", .device_id = VIRTIO_ID_NET, .num_queues = 2, .queue_max = NET_QUEUE_SIZE,
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS),
	.config_size = sizeof(struct net_config), .config_read = net_config_read,
	.queue_notify = net_notify, .reset = net_reset,
};

void virtio_net_init(struct virtio_net *n, const uint8_t mac[6], const struct net_host *host)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->mac, mac, 6);
	if (host)
		n->host = *host;
	n->link_up = true;
	n->dev.ops = &virtio_net_ops;
	n->dev.priv = n;
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
	if (n->link_up == up)
		return;
	n->link_up = up;
	if (n->dev.active && n->dev.signal_config)
		n->dev.signal_config(&n->dev);
}

/* devices/net.h - virtio-net (ID 1): one receiveq/transmitq pair, no control
 * queue.
 *
 * Owns: moving Ethernet frames between the guest and the host, the MAC address
 * and the link status in config space ({u8 mac[6]; le16 status}). Offered:
 * VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS (link up unless the host says
 * otherwise); the transport adds VERSION_1, so every frame carries the 12-byte
 * struct virtio_net_hdr_v1 in front. No checksum or segmentation offload is
 * offered, so the guest sends complete frames and the header's offload fields
 * are ignored on TX and zero on RX. VIRTIO_NET_F_MRG_RXBUF is not offered
 * (each received frame goes into one chain; num_buffers is 1, as the spec
 * requires without MRG_RXBUF).
 *
 * TX (guest -> host): the header is stripped and the frame handed to
 * host->send_frame. A chain shorter than the header, a frame shorter than an
 * Ethernet header or longer than NET_MAX_FRAME is dropped and counted.
 *
 * RX (host -> guest): virtio_net_host_frame() prepends a zeroed header and
 * places the frame into one receive chain. With no chain available it returns
 * -EAGAIN: the vmm keeps the frame and retries when host->rx_space says the
 * driver added buffers (the host may call virtio_net_host_frame from inside
 * rx_space). A frame larger than the chain offered for it is DROPPED, not
 * truncated: counted in rx_dropped_too_big, -EMSGSIZE returned, and the chain
 * is kept for the next frame (so the driver loses no buffer to it). A chain
 * that cannot hold even a header and an Ethernet header is returned empty and
 * counted in rx_bad_chains.
 *
 * Nothing here touches a file or socket: the TAP plumbing (net_tap.h) belongs
 * to the vmm, which connects it to these two calls.
 */
#ifndef DEVICES_NET_H
#define DEVICES_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_SIZE 256
#define VIRTIO_NET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define NET_ETH_HLEN 14
/* Largest frame either way: a 64 KiB IP packet plus Ethernet and VLAN headers. */
#define NET_MAX_FRAME 65554

struct net_host {
	void *ctx;
	/* One complete Ethernet frame from the guest (no virtio header). */
	void (*send_frame)(void *ctx, const void *frame, size_t len);
	/* Optional: the driver added receive buffers; held-back frames may fit. */
	void (*rx_space)(void *ctx);
};

struct virtio_net {
	struct virtio_device dev;
	struct net_host host;
	uint8_t mac[6];
	bool link_up;
	uint64_t tx_frames, tx_bytes, tx_errors, tx_dropped_oversize;
	uint64_t rx_frames, rx_bytes, rx_dropped_too_big, rx_bad_chains;
	bool rx_held;           /* rx_chain was popped but not used: next frame's */
	struct vq_chain rx_chain;
	struct vq_chain tx_chain;
	uint8_t frame[NET_MAX_FRAME]; /* TX bounce buffer */
};

void virtio_net_init(struct virtio_net *n, const uint8_t mac[6], const struct net_host *host);
/* 0 when the frame is in the guest's receive queue; -EAGAIN no buffer (keep
 * it, retry on rx_space); -EMSGSIZE dropped (larger than NET_MAX_FRAME or
 * than the buffer); -EINVAL empty frame; -ENETDOWN the driver is not running
 * or the link is down (drop it); -EIO the queue is broken (needs reset). */
int virtio_net_host_frame(struct virtio_net *n, const void *frame, size_t len);
/* Set the link status the guest sees and tell it (a config change). */
void virtio_net_set_link(struct virtio_net *n, bool up);
extern const struct virtio_device_ops virtio_net_ops;

#endif
